//! The one place that decides access: HTTP credentials → [`Principal`], a
//! principal's rights over an account, and Socket.io handshakes on domains.

use super::{AuthError, AuthKey, Credentials, HandshakeAuth};
use crate::accounts::{Account, AccountStore, SubdomainId, naming};

/// Who is acting, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The gateway's root account (holder of the root key).
    Root,
    /// An account, by name.
    Account(String),
    /// Nobody in particular (anonymous relay use).
    Anonymous,
}

impl Principal {
    /// Name for logs.
    pub fn describe(&self) -> &str {
        match self {
            Principal::Root => "root",
            Principal::Account(name) => name,
            Principal::Anonymous => "anonymous",
        }
    }
}

/// Checks credentials and decides access.
#[derive(Clone)]
pub struct Authority {
    accounts: AccountStore,
    root_key: AuthKey,
    gateway_domain: String,
}

impl Authority {
    /// An authority for a gateway with this root key and domain name.
    pub fn new(accounts: AccountStore, root_key: AuthKey, gateway_domain: String) -> Self {
        Authority { accounts, root_key, gateway_domain }
    }

    /// The root account name (the `app` part of the root key).
    pub fn root_name(&self) -> &str {
        &self.root_key.app
    }

    /// The account store this authority reads.
    pub fn accounts(&self) -> &AccountStore {
        &self.accounts
    }

    /// Authenticates an HTTP `Authorization` header value.
    pub fn authenticate_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        match Credentials::from_header(header.ok_or(AuthError::Missing)?)? {
            Credentials::Basic { user, key } => self.verify_key(&user, &key),
            // JWT bearer auth arrives with the accounts issue; until then a
            // bearer token authenticates nobody.
            Credentials::Bearer(_) => Err(AuthError::Unrecognised),
        }
    }

    /// Checks that `key` is a valid, unrevoked key of account `user` (which
    /// may be given as the account's absolute IRI `http://<gateway>/<name>`).
    pub fn verify_key(&self, user: &str, key: &str) -> Result<Principal, AuthError> {
        let user = self.account_name_of(user).ok_or(AuthError::BadCredentials)?;
        let key = AuthKey::parse(key).map_err(|_| AuthError::BadCredentials)?;
        if user == self.root_key.app {
            return if key.matches(&self.root_key) { Ok(Principal::Root) } else { Err(AuthError::BadCredentials) };
        }
        if key.app != self.root_key.app {
            return Err(AuthError::BadCredentials);
        }
        let record = self.accounts.key(&key.keyid)?.ok_or(AuthError::BadCredentials)?;
        // Evaluate every condition before deciding, so that timing says
        // nothing about which one failed
        let owner_ok = record.account == user;
        let secret_ok = key.matches_hash(&record.hash);
        if owner_ok & secret_ok & !record.revoked {
            Ok(Principal::Account(user.to_owned()))
        } else {
            Err(AuthError::BadCredentials)
        }
    }

    fn account_name_of<'a>(&self, user: &'a str) -> Option<&'a str> {
        let name = ["http://", "https://"]
            .iter()
            .find_map(|scheme| user.strip_prefix(scheme)?.strip_prefix(self.gateway_domain.as_str())?.strip_prefix('/'))
            .unwrap_or(user);
        naming::is_component(name).then_some(name)
    }

    /// Whether the principal may manage `account` (root may manage all).
    pub fn authorise_account(&self, who: &Principal, account: &str) -> Result<(), AuthError> {
        match who {
            Principal::Root => Ok(()),
            Principal::Account(name) if name == account => Ok(()),
            _ => Err(AuthError::Forbidden("not permitted for this account")),
        }
    }

    /// Decides a Socket.io handshake for the m-ld domain `domain`.
    pub fn authorise_handshake(
        &self,
        domain: &str,
        auth: &HandshakeAuth,
    ) -> Result<(Principal, SubdomainId), AuthError> {
        let sd = SubdomainId::from_domain(domain, &self.gateway_domain)
            .ok_or(AuthError::Forbidden("domain is not a subdomain of this gateway"))?;
        let account = self.accounts.get(&sd.account)?;
        let who = match auth {
            HandshakeAuth::Anonymous => {
                if !sd.is_uuid() {
                    return Err(AuthError::Forbidden("anonymous messaging needs a UUID subdomain"));
                }
                if !account.as_ref().is_some_and(Account::allows_anon_remotes) {
                    return Err(AuthError::Forbidden("anonymous messaging unavailable"));
                }
                Principal::Anonymous
            }
            HandshakeAuth::Key { user, key } => {
                let who = self.verify_key(user, key)?;
                self.authorise_account(&who, &sd.account)?;
                let account = account.as_ref().ok_or(AuthError::Forbidden("unknown account"))?;
                if !account.allows_key_remotes() {
                    return Err(AuthError::Forbidden("key-authenticated messaging unavailable"));
                }
                if !sd.is_uuid() && !account.subdomains.contains(&sd.name) {
                    return Err(AuthError::Forbidden("unknown subdomain"));
                }
                who
            }
            HandshakeAuth::Jwt(_) => {
                return Err(AuthError::Forbidden("JWT-authenticated messaging unavailable"));
            }
        };
        Ok((who, sd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountPatch;
    use crate::store::Store;
    use serde_json::json;

    struct Fixture {
        auth: Authority,
        root: AuthKey,
        a_key: String,
        b_key: String,
    }

    fn fixture() -> Fixture {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        let root = AuthKey::generate("rootacc").unwrap();
        let a_key = accounts.mint_key("rootacc", "acca", true).unwrap().unwrap().reveal();
        let b_key = accounts.mint_key("rootacc", "accb", true).unwrap().unwrap().reveal();
        let patch =
            AccountPatch::from_json("acca", &json!({"@insert": {"naming": "uuid", "remotesAuth": ["anon", "key"]}}))
                .unwrap();
        accounts.patch("acca", &patch).unwrap();
        Fixture { auth: Authority::new(accounts, root.clone(), "ex.org".into()), root, a_key, b_key }
    }

    const UUID_A: &str = "cabcdefghijklmnopqrstuvwx.acca.ex.org";

    fn key(user: &str, key: &str) -> HandshakeAuth {
        HandshakeAuth::Key { user: user.into(), key: key.into() }
    }

    #[test]
    fn keys_authenticate_their_own_account_only() {
        let f = fixture();
        assert_eq!(f.auth.verify_key("acca", &f.a_key).unwrap(), Principal::Account("acca".into()));
        assert_eq!(f.auth.verify_key("http://ex.org/acca", &f.a_key).unwrap(), Principal::Account("acca".into()));
        assert_eq!(f.auth.verify_key("rootacc", &f.root.reveal()).unwrap(), Principal::Root);
        assert!(f.auth.verify_key("acca", &f.b_key).is_err());
        assert!(f.auth.verify_key("rootacc", &f.a_key).is_err());
        assert!(f.auth.verify_key("acca", &f.root.reveal()).is_err());
        let (name, _) = f.a_key.split_once(':').unwrap();
        assert!(f.auth.verify_key("acca", &format!("{name}:{}", "x".repeat(74))).is_err());
        assert!(f.auth.verify_key("http://evil.org/acca", &f.a_key).is_err());
        assert!(f.auth.verify_key("nobody", &f.a_key).is_err());
    }

    #[test]
    fn account_rights() {
        let f = fixture();
        assert!(f.auth.authorise_account(&Principal::Root, "acca").is_ok());
        assert!(f.auth.authorise_account(&Principal::Account("acca".into()), "acca").is_ok());
        assert!(f.auth.authorise_account(&Principal::Account("accb".into()), "acca").is_err());
        assert!(f.auth.authorise_account(&Principal::Anonymous, "acca").is_err());
    }

    #[test]
    fn handshake_decisions() {
        let f = fixture();
        let ok = |domain: &str, auth: HandshakeAuth| f.auth.authorise_handshake(domain, &auth).map(|(p, _)| p);
        assert_eq!(ok(UUID_A, HandshakeAuth::Anonymous).unwrap(), Principal::Anonymous);
        assert_eq!(ok(UUID_A, key("acca", &f.a_key)).unwrap(), Principal::Account("acca".into()));
        assert_eq!(ok(UUID_A, key("rootacc", &f.root.reveal())).unwrap(), Principal::Root);
        // Refusals
        assert!(ok(UUID_A, key("acca", &f.b_key)).is_err(), "other account's key as owner");
        assert!(ok(UUID_A, key("accb", &f.b_key)).is_err(), "other account as itself");
        assert!(ok(UUID_A, HandshakeAuth::Jwt("x.y.z".into())).is_err());
        assert!(ok("named.acca.ex.org", HandshakeAuth::Anonymous).is_err(), "anon on a named subdomain");
        assert!(ok("named.acca.ex.org", key("acca", &f.a_key)).is_err(), "unregistered named subdomain");
        assert!(ok("cabcdefghijklmnopqrstuvwx.accb.ex.org", HandshakeAuth::Anonymous).is_err(), "accb disallows anon");
        assert!(ok("cabcdefghijklmnopqrstuvwx.nobody.ex.org", HandshakeAuth::Anonymous).is_err());
        assert!(ok("cabcdefghijklmnopqrstuvwx.acca.evil.org", HandshakeAuth::Anonymous).is_err());
        assert!(ok("x.cabcdefghijklmnopqrstuvwx.acca.ex.org", HandshakeAuth::Anonymous).is_err());
    }

    #[test]
    fn key_auth_can_be_switched_off() {
        let f = fixture();
        let patch = AccountPatch::from_json("acca", &json!({"@delete": {"remotesAuth": "key"}})).unwrap();
        f.auth.accounts().patch("acca", &patch).unwrap();
        assert!(f.auth.authorise_handshake(UUID_A, &key("acca", &f.a_key)).is_err());
        assert!(f.auth.authorise_handshake(UUID_A, &HandshakeAuth::Anonymous).is_ok());
    }
}
