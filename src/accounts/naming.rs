//! Names: account and subdomain name components, UUID subdomain names, and
//! m-ld domain names `<name>.<account>.<gateway-domain>`.

use rand::TryRngCore;
use rand::rngs::OsRng;

/// Whether `s` is a valid account or subdomain name component: non-empty
/// lowercase letters, digits, `-` and `_` (the Node gateway's rule).
pub fn is_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether a subdomain name is a generated "UUID" name: `c` and 24 lowercase
/// letters or digits (the form of m-ld's `uuid()`, a cuid).
pub fn is_uuid_name(s: &str) -> bool {
    s.len() == 25 && s.starts_with('c') && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A fresh UUID subdomain name: `c` then 24 characters of `[a-z0-9]` from
/// the OS CSPRNG (124 bits), so names cannot be guessed.
pub fn new_uuid_name() -> Result<String, rand::rand_core::OsError> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut name = String::with_capacity(25);
    name.push('c');
    while name.len() < 25 {
        let mut byte = [0u8; 1];
        OsRng.try_fill_bytes(&mut byte)?;
        // Rejection sampling keeps the distribution uniform (252 = 7 × 36)
        if byte[0] < 252 {
            name.push(char::from(ALPHABET[usize::from(byte[0] % 36)]));
        }
    }
    Ok(name)
}

/// A subdomain of an account: the m-ld domain `<name>.<account>.<gateway>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubdomainId {
    /// Owning account name.
    pub account: String,
    /// Subdomain name within the account.
    pub name: String,
}

impl SubdomainId {
    /// Parses a m-ld domain name, which must be exactly
    /// `<name>.<account>.<gateway_domain>` with valid components: a domain
    /// that merely ends with the gateway's name is refused.
    pub fn from_domain(domain: &str, gateway_domain: &str) -> Option<SubdomainId> {
        let prefix = domain.strip_suffix(gateway_domain)?.strip_suffix('.')?;
        let (name, account) = prefix.split_once('.')?;
        (is_component(name) && is_component(account))
            .then(|| SubdomainId { account: account.to_owned(), name: name.to_owned() })
    }

    /// The m-ld domain name under the given gateway domain.
    pub fn to_domain(&self, gateway_domain: &str) -> String {
        format!("{}.{}.{}", self.name, self.account, gateway_domain)
    }

    /// Whether this is a UUID (generated-name) subdomain.
    pub fn is_uuid(&self) -> bool {
        is_uuid_name(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        for ok in ["a", "abc-def_1", "0"] {
            assert!(is_component(ok), "{ok}");
        }
        for bad in ["", "A", "a.b", "a b", "é", "a/b", &"x".repeat(64)] {
            assert!(!is_component(bad), "{bad}");
        }
    }

    #[test]
    fn uuid_names() {
        for _ in 0..100 {
            let n = new_uuid_name().unwrap();
            assert!(is_uuid_name(&n), "{n}");
        }
        assert_ne!(new_uuid_name().unwrap(), new_uuid_name().unwrap());
        assert!(!is_uuid_name("c123"));
        assert!(!is_uuid_name("d23456789012345678901234a"));
        assert!(!is_uuid_name("cABCDEFGHIJKLMNOPQRSTUVWX"));
        assert!(is_uuid_name("cmwrshpvg0009tx7d5kbjfajt"));
    }

    #[test]
    fn domain_names_must_be_exact() {
        let gw = "ex.org";
        assert_eq!(
            SubdomainId::from_domain("sd.acc.ex.org", gw),
            Some(SubdomainId { account: "acc".into(), name: "sd".into() })
        );
        assert_eq!(SubdomainId::from_domain("sd.acc.ex.org", gw).unwrap().to_domain(gw), "sd.acc.ex.org");
        for bad in [
            "acc.ex.org",         // no subdomain name
            "a.sd.acc.ex.org",    // extra label
            "sd.accex.org",       // suffix trick without the dot
            "sd.acc.ex.org.evil", // gateway name not at the end
            "sd.acc.evil.org",    // another gateway
            "SD.acc.ex.org",      // uppercase
            ".acc.ex.org",        // empty name
            "sd..ex.org",         // empty account
            "",
            "ex.org",
        ] {
            assert_eq!(SubdomainId::from_domain(bad, gw), None, "{bad}");
        }
    }
}
