//! Account auth keys: `<app>.<keyid>:<secret>`, as the Node gateway mints them.
//!
//! The key material is 40 bytes from the OS CSPRNG written as 80 characters of
//! the alphabet `a`–`p` (4 bits each, hex with digits shifted to letters, which
//! is the Node gateway's format). The first 6 characters are the key id and the
//! remaining 74 the secret: 296 random bits, above the 272 the design requires.
//! Only a SHA-256 digest of the secret is ever stored; with that much entropy a
//! slow password hash buys nothing, and a digest keeps authentication cheap.

use std::fmt;

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;

/// Random bytes behind one key.
const MATERIAL_BYTES: usize = 40;
/// Characters of the encoded material that form the key id.
pub const KEYID_LEN: usize = 6;

/// A parsed auth key. `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// Application (root account) name.
    pub app: String,
    /// Key identity, unique in the gateway.
    pub keyid: String,
    secret: String,
}

/// Digest of a key secret, the only form in which secrets are stored.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretHash(#[serde(with = "hex_bytes")] pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(≪redacted≫)")
    }
}

impl AuthKey {
    /// Mints a fresh key for the given application (root account) name.
    pub fn generate(app: &str) -> Result<Self, AuthError> {
        let mut material = [0u8; MATERIAL_BYTES];
        OsRng.try_fill_bytes(&mut material).map_err(|e| AuthError::Random(e.to_string()))?;
        let encoded: String =
            material.iter().flat_map(|b| [b >> 4, b & 0xf]).map(|nibble| char::from(b'a' + nibble)).collect();
        let (keyid, secret) = encoded.split_at(KEYID_LEN);
        Ok(AuthKey { app: app.to_owned(), keyid: keyid.to_owned(), secret: secret.to_owned() })
    }

    /// Parses `app.keyid:secret`. Any component of `[a-z0-9_-]` is accepted
    /// (keys minted elsewhere, e.g. by the Node gateway, stay usable).
    /// Draws a new key id for this key, keeping its secret (a minted key id
    /// that collides with a stored one).
    pub fn redraw_keyid(&mut self) -> Result<(), AuthError> {
        let mut material = [0u8; KEYID_LEN / 2];
        OsRng.try_fill_bytes(&mut material).map_err(|e| AuthError::Random(e.to_string()))?;
        self.keyid = material.iter().flat_map(|b| [b >> 4, b & 0xf]).map(|nibble| char::from(b'a' + nibble)).collect();
        Ok(())
    }

    pub fn parse(s: &str) -> Result<Self, AuthError> {
        let (name, secret) = s.split_once(':').ok_or(AuthError::MalformedKey)?;
        let (app, keyid) = name.split_once('.').ok_or(AuthError::MalformedKey)?;
        let ok = |part: &str| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        if !ok(app) || !ok(keyid) || !ok(secret) {
            return Err(AuthError::MalformedKey);
        }
        Ok(AuthKey { app: app.to_owned(), keyid: keyid.to_owned(), secret: secret.to_owned() })
    }

    /// The full key string, secret included: only for handing to its owner.
    /// The secret part alone, for deriving keys from it; never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn reveal(&self) -> String {
        format!("{}.{}:{}", self.app, self.keyid, self.secret)
    }

    /// The digest to store for this key's secret.
    pub fn secret_hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.secret.as_bytes()).into())
    }

    /// Constant-time check of this key's secret against a stored digest.
    pub fn matches_hash(&self, stored: &SecretHash) -> bool {
        self.secret_hash().0.ct_eq(&stored.0).into()
    }

    /// Constant-time comparison with another full key (for the root key,
    /// which lives in configuration rather than in the store).
    pub fn matches(&self, other: &AuthKey) -> bool {
        let same_name = self.app == other.app && self.keyid == other.keyid;
        // Compare digests so that differing lengths take the same time
        let same_secret: bool = self.secret_hash().0.ct_eq(&other.secret_hash().0).into();
        same_name & same_secret
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey({}.{}:≪redacted≫)", self.app, self.keyid)
    }
}

impl fmt::Display for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_key_has_node_gateway_shape_and_enough_entropy() {
        let key = AuthKey::generate("root").unwrap();
        let s = key.reveal();
        let (name, secret) = s.split_once(':').unwrap();
        assert_eq!(name, format!("root.{}", key.keyid));
        assert_eq!(key.keyid.len(), KEYID_LEN);
        // 4 bits per character of a 16-letter alphabet
        assert!(secret.bytes().all(|b| (b'a'..=b'p').contains(&b)));
        assert!(secret.len() * 4 >= 272, "secret carries {} bits", secret.len() * 4);
        assert_eq!(AuthKey::parse(&s).unwrap(), key);
    }

    #[test]
    fn generated_keys_use_the_whole_alphabet_and_differ() {
        let keys: Vec<_> = (0..200).map(|_| AuthKey::generate("a").unwrap().reveal()).collect();
        let distinct: HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        let letters: HashSet<u8> = keys.iter().flat_map(|k| k.bytes().skip(2)).collect();
        for c in b'a'..=b'p' {
            assert!(letters.contains(&c), "letter {} never drawn", c as char);
        }
    }

    #[test]
    fn parse_rejects_malformed_keys() {
        for bad in [
            "",
            "root",
            "root.abc",
            "root:abc",
            ".abc:def",
            "root.:x",
            "root.abc:",
            "Root.abc:def",
            "root.abc:dé",
            "root.a b:c",
        ] {
            assert!(AuthKey::parse(bad).is_err(), "{bad:?} accepted");
        }
        let k = AuthKey::parse("rootacc.keyid:secret").unwrap();
        assert_eq!((k.app.as_str(), k.keyid.as_str()), ("rootacc", "keyid"));
    }

    #[test]
    fn secrets_never_print() {
        let key = AuthKey::parse("root.keyid:topsecret").unwrap();
        assert!(!format!("{key:?} {key}").contains("topsecret"));
    }

    #[test]
    fn hash_and_key_matching() {
        let key = AuthKey::parse("root.keyid:topsecret").unwrap();
        let other = AuthKey::parse("root.keyid:topsecrex").unwrap();
        assert!(key.matches_hash(&key.secret_hash()));
        assert!(!other.matches_hash(&key.secret_hash()));
        assert!(key.matches(&key.clone()));
        assert!(!key.matches(&other));
        assert!(!key.matches(&AuthKey::parse("root.keyie:topsecret").unwrap()));
    }
}
