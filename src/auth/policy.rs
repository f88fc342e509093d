//! The one place that decides access: HTTP credentials → [`Principal`], a
//! principal's rights over an account, and Socket.io handshakes on domains.

use super::lockout::{LockoutPolicy, Lockouts};
use super::{AuthError, AuthKey, Credentials, HandshakeAuth, jwt};
use crate::accounts::{Account, AccountStore, KeyRecord, RemotesAuth, SubdomainId, naming};

/// Who is acting, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The gateway's root account.
    Root,
    /// An account, by one of its keys.
    Account(String),
    /// A bearer of a token minted by the account: it may use the account's
    /// subdomains (config, Clone API, relay) but not manage the account.
    Delegate {
        account: String,
        /// The end user the token names, if any.
        user: Option<String>,
    },
    /// Nobody in particular (UUID subdomains with `anon` remotes).
    Anonymous,
}

impl Principal {
    pub fn describe(&self) -> &str {
        match self {
            Principal::Root => "root",
            Principal::Account(name) | Principal::Delegate { account: name, .. } => name,
            Principal::Anonymous => "anonymous",
        }
    }
}

/// An authenticated caller, with the key it presented (if it presented one),
/// which can mint tokens on its account's behalf.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub key: Option<AuthKey>,
}

#[derive(Clone)]
pub struct Authority {
    accounts: AccountStore,
    root_key: AuthKey,
    gateway_domain: String,
    lockouts: std::sync::Arc<Lockouts>,
    trusted_proxies: std::sync::Arc<[std::net::IpAddr]>,
}

impl Authority {
    pub fn new(accounts: AccountStore, root_key: AuthKey, gateway_domain: String) -> Self {
        Authority {
            accounts,
            root_key,
            gateway_domain,
            lockouts: std::sync::Arc::new(Lockouts::new(LockoutPolicy::default())),
            trusted_proxies: std::sync::Arc::from(Vec::new()),
        }
    }

    /// With this lockout policy and these trusted proxies (whose
    /// `X-Forwarded-For` names the client).
    pub fn with_guards(mut self, policy: LockoutPolicy, trusted_proxies: Vec<std::net::IpAddr>) -> Self {
        self.lockouts = std::sync::Arc::new(Lockouts::new(policy));
        self.trusted_proxies = trusted_proxies.into();
        self
    }

    /// Failed-authentication counting per (client IP, account).
    pub fn lockouts(&self) -> &Lockouts {
        &self.lockouts
    }

    /// The client's address: the peer, or the last address a trusted proxy
    /// put in `X-Forwarded-For` (a client can write the header too, so
    /// only the hop our proxy appended counts).
    pub fn client_ip(
        &self,
        peer: Option<std::net::SocketAddr>,
        headers: &axum::http::HeaderMap,
    ) -> Option<std::net::IpAddr> {
        let peer = peer?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .next_back();
        Some(forwarded.unwrap_or(peer))
    }

    /// The account a credential claims, for lockout counting: the Basic
    /// user (its last path segment, if an IRI), else `fallback`.
    pub fn claimed_account(&self, header: Option<&str>, fallback: &str) -> String {
        match header.map(Credentials::from_header) {
            Some(Ok(Credentials::Basic { user, .. })) => super::lockout::claimed_name(&user),
            _ => fallback.to_owned(),
        }
    }

    pub fn root_name(&self) -> &str {
        &self.root_key.app
    }

    pub fn accounts(&self) -> &AccountStore {
        &self.accounts
    }

    /// The absolute IRI of an account, as tokens name their issuer.
    pub fn account_iri(&self, account: &str) -> String {
        format!("http://{}/{account}", self.gateway_domain)
    }

    /// Authenticates an HTTP `Authorization` header: Basic with an account
    /// key, or Bearer with a token minted by one.
    pub fn authenticate_header(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        match Credentials::from_header(header.ok_or(AuthError::Missing)?)? {
            Credentials::Basic { user, key } => {
                let who = self.verify_key(&user, &key)?;
                Ok(Caller { who, key: AuthKey::parse(&key).ok() })
            }
            Credentials::Bearer(token) => Ok(Caller { who: self.verify_token(&token)?, key: None }),
        }
    }

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
        let owner_ok = record.account == user;
        let secret_ok = key.matches_hash(&record.hash);
        if !(owner_ok & secret_ok) {
            return Err(AuthError::BadCredentials);
        }
        Self::usable(&record)?;
        Ok(Principal::Account(user.to_owned()))
    }

    /// A revoked key, or a rotated one past its grace period, is refused.
    fn usable(record: &KeyRecord) -> Result<(), AuthError> {
        if record.revoked {
            Err(AuthError::Revoked)
        } else if record.expires.is_some_and(|e| crate::now_ms() >= e) {
            Err(AuthError::Expired)
        } else {
            Ok(())
        }
    }

    /// Mints a token for the caller's account, naming `user` as its subject.
    pub fn mint_token(&self, key: &AuthKey, account: &str, user: Option<&str>) -> Result<String, AuthError> {
        jwt::mint(key, &self.account_iri(account), user)
    }

    /// Verifies a token: signed by a usable key of the account it names as
    /// issuer, and not expired.
    pub fn verify_token(&self, token: &str) -> Result<Principal, AuthError> {
        let keyid = jwt::key_id(token)?;
        let (account, public) = if keyid == self.root_key.keyid {
            (self.root_key.app.clone(), jwt::public_key(&self.root_key))
        } else {
            let record = self.accounts.key(&keyid)?.ok_or(AuthError::BadToken("token key unknown"))?;
            Self::usable(&record)?;
            let public = record.jwt_public.clone().ok_or(AuthError::BadToken("key cannot sign tokens"))?;
            (record.account, public)
        };
        let claims = jwt::verify(token, &public)?;
        if self.account_name_of(&claims.issuer) != Some(account.as_str()) {
            return Err(AuthError::BadToken("token issuer does not own its key"));
        }
        Ok(Principal::Delegate { account, user: claims.subject })
    }

    fn account_name_of<'a>(&self, user: &'a str) -> Option<&'a str> {
        let name = ["http://", "https://"]
            .iter()
            .find_map(|scheme| user.strip_prefix(scheme)?.strip_prefix(self.gateway_domain.as_str())?.strip_prefix('/'))
            .unwrap_or(user);
        naming::is_component(name).then_some(name)
    }

    /// May `who` use the account's subdomains?
    pub fn authorise_account(&self, who: &Principal, account: &str) -> Result<(), AuthError> {
        match who {
            Principal::Root => Ok(()),
            Principal::Account(name) | Principal::Delegate { account: name, .. } if name == account => Ok(()),
            _ => Err(AuthError::Forbidden("not permitted for this account")),
        }
    }

    /// May `who` manage the account (keys, details, removal)? Tokens may not.
    pub fn authorise_owner(&self, who: &Principal, account: &str) -> Result<(), AuthError> {
        match who {
            Principal::Delegate { .. } => Err(AuthError::Forbidden("a token cannot manage the account")),
            _ => self.authorise_account(who, account),
        }
    }

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
                // A named subdomain whose name merely looks like a UUID one
                // is still named: never anonymous
                if account.as_ref().is_some_and(|a| a.subdomains.contains(&sd.name)) {
                    return Err(AuthError::Forbidden("anonymous messaging needs a UUID subdomain"));
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
            HandshakeAuth::Jwt(token) => {
                let who = self.verify_token(token)?;
                self.authorise_account(&who, &sd.account)?;
                let account = account.as_ref().ok_or(AuthError::Forbidden("unknown account"))?;
                if !account.remotes_auth.contains(&RemotesAuth::Jwt) {
                    return Err(AuthError::Forbidden("token-authenticated messaging unavailable"));
                }
                if !sd.is_uuid() && !account.subdomains.contains(&sd.name) {
                    return Err(AuthError::Forbidden("unknown subdomain"));
                }
                who
            }
        };
        Ok((who, sd))
    }
}

/// What a socket was admitted with, kept so that its admission can be
/// checked again while it stays connected. Holds key ids, never secrets.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// The root key: admitted everywhere for as long as it is configured.
    Root,
    /// No credentials, on a UUID subdomain of an account that allows it.
    Anonymous,
    /// An account key (`{user, key}`).
    Key { keyid: String },
    /// A token (`{jwt}`), by the id of the key that signed it.
    Token { keyid: String },
}

impl Admission {
    /// The admission of `who`, who presented `auth`.
    pub fn of(auth: &HandshakeAuth, who: &Principal) -> Admission {
        match (who, auth) {
            (Principal::Root, _) => Admission::Root,
            (_, HandshakeAuth::Anonymous) => Admission::Anonymous,
            (_, HandshakeAuth::Key { key, .. }) => {
                Admission::Key { keyid: AuthKey::parse(key).map(|k| k.keyid).unwrap_or_default() }
            }
            (_, HandshakeAuth::Jwt(token)) => Admission::Token { keyid: jwt::key_id(token).unwrap_or_default() },
        }
    }

    /// The admission of an HTTP caller, authenticated from `header`.
    pub fn of_http(caller: &Caller, header: Option<&str>) -> Admission {
        match (&caller.who, &caller.key) {
            (Principal::Root, _) => Admission::Root,
            (Principal::Anonymous, _) => Admission::Anonymous,
            (_, Some(key)) => Admission::Key { keyid: key.keyid.clone() },
            (_, None) => {
                let token = header.and_then(|h| h.trim().split_once(' ')).map(|(_, token)| token.trim());
                Admission::Token { keyid: token.and_then(|t| jwt::key_id(t).ok()).unwrap_or_default() }
            }
        }
    }
}

impl Authority {
    /// Would a socket admitted to `domain` with `admission` still be
    /// admitted? Not if its key was revoked or rotated out (tokens: the key
    /// that signed them), its account no longer allows that kind of remote
    /// authentication, or the account or subdomain is gone. A token's own
    /// expiry is not checked again: it bounds when a socket may be admitted.
    pub fn still_admits(&self, domain: &str, admission: &Admission) -> Result<(), AuthError> {
        if *admission == Admission::Root {
            return Ok(());
        }
        let sd = SubdomainId::from_domain(domain, &self.gateway_domain)
            .ok_or(AuthError::Forbidden("domain is not a subdomain of this gateway"))?;
        let account = self.accounts.get(&sd.account)?.ok_or(AuthError::Forbidden("unknown account"))?;
        let named = account.subdomains.contains(&sd.name);
        let key_usable = |keyid: &str| self.key_still_usable(keyid);
        match admission {
            Admission::Root => Ok(()),
            Admission::Anonymous if !account.allows_anon_remotes() || named => {
                Err(AuthError::Forbidden("anonymous messaging unavailable"))
            }
            Admission::Anonymous => Ok(()),
            Admission::Key { keyid } => {
                key_usable(keyid)?;
                if !account.allows_key_remotes() {
                    return Err(AuthError::Forbidden("key-authenticated messaging unavailable"));
                }
                if !sd.is_uuid() && !named {
                    return Err(AuthError::Forbidden("unknown subdomain"));
                }
                Ok(())
            }
            Admission::Token { keyid } => {
                key_usable(keyid)?;
                if !account.remotes_auth.contains(&RemotesAuth::Jwt) {
                    return Err(AuthError::Forbidden("token-authenticated messaging unavailable"));
                }
                if !sd.is_uuid() && !named {
                    return Err(AuthError::Forbidden("unknown subdomain"));
                }
                Ok(())
            }
        }
    }

    /// Would an HTTP caller admitted with `admission` still be allowed the
    /// account's things (a long request: an update stream)? Not once its
    /// key, or the key that signed its token, is revoked or rotated out, nor
    /// once the account is gone.
    pub fn still_authorised(&self, account: &str, admission: &Admission) -> Result<(), AuthError> {
        match admission {
            Admission::Root => Ok(()),
            Admission::Anonymous => Err(AuthError::Missing),
            Admission::Key { keyid } | Admission::Token { keyid } => {
                self.key_still_usable(keyid)?;
                self.accounts.get(account)?.ok_or(AuthError::Forbidden("unknown account"))?;
                Ok(())
            }
        }
    }

    /// A key (by id) that is neither revoked, rotated out nor gone; the
    /// root key always is.
    fn key_still_usable(&self, keyid: &str) -> Result<(), AuthError> {
        if keyid == self.root_key.keyid {
            return Ok(());
        }
        Self::usable(&self.accounts.key(keyid)?.ok_or(AuthError::Revoked)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountPatch, MintOptions};
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
        let create = MintOptions { create: true, ..Default::default() };
        let a_key = accounts.mint_key("rootacc", "acca", &create).unwrap().unwrap().key.reveal();
        let b_key = accounts.mint_key("rootacc", "accb", &create).unwrap().unwrap().key.reveal();
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
    fn admissions_lapse_with_their_key_or_the_accounts_settings() {
        let f = fixture();
        let admitted = |auth: &HandshakeAuth| {
            let (who, _) = f.auth.authorise_handshake(UUID_A, auth).unwrap();
            Admission::of(auth, &who)
        };
        let by_key = admitted(&key("acca", &f.a_key));
        let anon = admitted(&HandshakeAuth::Anonymous);
        let by_root = admitted(&key("rootacc", &f.root.reveal()));
        assert!(!f.a_key.contains(&format!("{by_key:?}")[5..]), "no secret kept: {by_key:?}");
        for admission in [&by_key, &anon, &by_root] {
            f.auth.still_admits(UUID_A, admission).unwrap();
        }
        // Only tokens allowed now: the anonymous and key sockets lapse
        let patch = AccountPatch::from_json(
            "acca",
            &json!({"@delete": {"remotesAuth": ["anon", "key"]}, "@insert": {"remotesAuth": ["jwt"]}}),
        )
        .unwrap();
        f.auth.accounts.patch("acca", &patch).unwrap();
        assert!(f.auth.still_admits(UUID_A, &anon).is_err());
        assert!(f.auth.still_admits(UUID_A, &by_key).is_err());
        f.auth.still_admits(UUID_A, &by_root).unwrap();
        // Key messaging back, then the key revoked
        let patch = AccountPatch::from_json("acca", &json!({"@insert": {"remotesAuth": ["key"]}})).unwrap();
        f.auth.accounts.patch("acca", &patch).unwrap();
        f.auth.still_admits(UUID_A, &by_key).unwrap();
        let Admission::Key { keyid } = &by_key else { panic!("{by_key:?}") };
        assert!(f.auth.accounts.revoke_key("acca", keyid).unwrap());
        assert!(matches!(f.auth.still_admits(UUID_A, &by_key), Err(AuthError::Revoked)));
        // Another account's domain never admits
        assert!(f.auth.still_admits("cabcdefghijklmnopqrstuvwx.accb.ex.org", &anon).is_err());
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
        // A named subdomain with a UUID-shaped name is not open to anonymous clones
        let record = crate::accounts::SubdomainRecord {
            use_signatures: false,
            signers: Vec::new(),
            created: 1,
            clone_id: "gw-x".into(),
        };
        let put =
            crate::accounts::SubdomainPut { new: record, use_signatures: None, signer: None, max_subdomains: 1000 };
        f.auth.accounts().put_subdomain("acca", "cnamedbutuuidshapedxxxxxx", &put).unwrap();
        assert!(ok("cnamedbutuuidshapedxxxxxx.acca.ex.org", HandshakeAuth::Anonymous).is_err());
        assert!(ok("cnamedbutuuidshapedxxxxxx.acca.ex.org", key("acca", &f.a_key)).is_ok());
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
