//! Account records and the `PATCH /api/v1/user/:account` update language.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::SecretHash;

/// How an account's subdomains may be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Naming {
    /// Any name (named subdomains).
    Any,
    /// Generated UUID names (`POST /api/v1/domain/:account`).
    Uuid,
}

/// How clones may authenticate to the relay for an account's subdomains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemotesAuth {
    /// No credentials (UUID subdomains only).
    Anon,
    /// Account name and key.
    Key,
    /// A JWT signed with an account key.
    Jwt,
}

/// A stored account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Account name, a name component.
    pub name: String,
    /// Registered email addresses.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Allowed subdomain naming; empty means named subdomains only.
    #[serde(default)]
    pub naming: Vec<Naming>,
    /// Allowed relay authentication; empty means key authentication.
    #[serde(default, rename = "remotesAuth")]
    pub remotes_auth: Vec<RemotesAuth>,
    /// Ids of this account's keys.
    #[serde(default)]
    pub keyids: Vec<String>,
    /// Names of the account's named subdomains.
    #[serde(default)]
    pub subdomains: Vec<String>,
}

impl Account {
    /// A new account with no keys or settings.
    pub fn new(name: &str) -> Self {
        Account { name: name.to_owned(), ..Default::default() }
    }

    /// Whether UUID subdomains may be generated for this account.
    pub fn allows_uuid(&self) -> bool {
        self.naming.contains(&Naming::Uuid)
    }

    /// Whether clones may connect with account keys (the default).
    pub fn allows_key_remotes(&self) -> bool {
        self.remotes_auth.is_empty() || self.remotes_auth.contains(&RemotesAuth::Key)
    }

    /// Whether clones may connect anonymously (UUID subdomains only).
    pub fn allows_anon_remotes(&self) -> bool {
        self.remotes_auth.contains(&RemotesAuth::Anon)
    }

    /// Applies a validated patch: deletes first, then inserts (json-rql order).
    pub fn apply(&mut self, patch: &AccountPatch) {
        fn remove<T: PartialEq>(set: &mut Vec<T>, gone: &[T]) {
            set.retain(|v| !gone.contains(v));
        }
        fn add<T: PartialEq + Clone>(set: &mut Vec<T>, new: &[T]) {
            for v in new {
                if !set.contains(v) {
                    set.push(v.clone());
                }
            }
        }
        remove(&mut self.emails, &patch.delete.emails);
        remove(&mut self.naming, &patch.delete.naming);
        remove(&mut self.remotes_auth, &patch.delete.remotes_auth);
        add(&mut self.emails, &patch.insert.emails);
        add(&mut self.naming, &patch.insert.naming);
        add(&mut self.remotes_auth, &patch.insert.remotes_auth);
    }
}

/// A stored key: whose it is and the digest of its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Owning account.
    pub account: String,
    /// SHA-256 of the secret.
    pub hash: SecretHash,
    /// Revoked keys are refused.
    #[serde(default)]
    pub revoked: bool,
    /// When the key was minted, ms since the epoch (0 for keys from before
    /// this field existed).
    #[serde(default)]
    pub created: u64,
    /// A rotated key stays valid until this time (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// The RSA public key (base64 of SPKI DER) minted with `?type=rsa`; it
    /// verifies the signatures of an account that signs as itself.
    #[serde(default, rename = "rsaPublic", skip_serializing_if = "Option::is_none")]
    pub rsa_public: Option<String>,
    /// The Ed25519 public key (base64) that verifies JWTs minted for this key.
    #[serde(default, rename = "jwtPublic", skip_serializing_if = "Option::is_none")]
    pub jwt_public: Option<String>,
}

/// A named subdomain, as registered by `PUT /api/v1/domain/:account/:name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubdomainRecord {
    /// Whether the backup clone requires every operation to be signed by
    /// one of `signers`. Fixed at creation.
    #[serde(default, rename = "useSignatures")]
    pub use_signatures: bool,
    /// The keys whose signatures the backup clone accepts, one per key id
    /// (a user may have several). Only grows: each PUT may add one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<SignerKey>,
    /// Creation time, ms since the epoch.
    pub created: u64,
    /// The `@id` of the gateway's backup clone of this subdomain.
    #[serde(rename = "cloneId")]
    pub clone_id: String,
}

/// A user's RSA public key on a `useSignatures` subdomain: operations whose
/// `attr` names `user` as principal and carry a signature with `keyid` are
/// verified with `public`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerKey {
    /// The user's absolute IRI (the `pid` of operations they sign).
    #[serde(rename = "@id")]
    pub user: String,
    /// The key id that prefixes the user's signatures.
    pub keyid: String,
    /// The RSA public key, base64 of SPKI DER (validated before stored).
    pub public: String,
}

/// Why a signer cannot be added to a subdomain's signers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyidTaken;

impl SubdomainRecord {
    /// Adds `signer` unless its key id is there already. The same key id for
    /// the same user and key changes nothing; for another user or another
    /// key it is refused, so that no PUT can take over or swap a key.
    /// Returns whether the record changed.
    pub fn add_signer(&mut self, signer: SignerKey) -> Result<bool, KeyidTaken> {
        match self.signers.iter().find(|s| s.keyid == signer.keyid) {
            Some(existing) if *existing == signer => Ok(false),
            Some(_) => Err(KeyidTaken),
            None => {
                self.signers.push(signer);
                Ok(true)
            }
        }
    }
}

/// Values of one side (`@insert` or `@delete`) of an account patch.
#[derive(Debug, Default, PartialEq)]
pub struct PatchSide {
    /// Email addresses.
    pub emails: Vec<String>,
    /// Naming values.
    pub naming: Vec<Naming>,
    /// Remotes auth values.
    pub remotes_auth: Vec<RemotesAuth>,
}

/// A validated `{"@delete": {...}, "@insert": {...}}` account update.
#[derive(Debug, Default, PartialEq)]
pub struct AccountPatch {
    /// Values to remove.
    pub delete: PatchSide,
    /// Values to add.
    pub insert: PatchSide,
}

/// Why a patch was refused; the text is safe to show to the client.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PatchError {
    /// Not an object with `@insert` and/or `@delete`.
    #[error("expected an object with @insert and/or @delete")]
    Shape,
    /// A property we do not know or may not change.
    #[error("unknown property {0}")]
    UnknownProperty(String),
    /// `@id` names another account.
    #[error("@id does not match the account")]
    WrongId,
    /// A value of the wrong type or outside the allowed set.
    #[error("invalid value for {0}")]
    BadValue(&'static str),
}

impl AccountPatch {
    /// Validates a patch body for the given account.
    pub fn from_json(account: &str, body: &Value) -> Result<Self, PatchError> {
        let obj = body.as_object().ok_or(PatchError::Shape)?;
        if obj.is_empty() {
            return Err(PatchError::Shape);
        }
        let mut patch = AccountPatch::default();
        for (k, v) in obj {
            let side = match k.as_str() {
                "@insert" => &mut patch.insert,
                "@delete" => &mut patch.delete,
                other => return Err(PatchError::UnknownProperty(other.to_owned())),
            };
            *side = parse_side(account, v)?;
        }
        Ok(patch)
    }
}

fn parse_side(account: &str, v: &Value) -> Result<PatchSide, PatchError> {
    let obj = v.as_object().ok_or(PatchError::Shape)?;
    let mut side = PatchSide::default();
    let mut any = false;
    for (k, v) in obj {
        match k.as_str() {
            "@id" => {
                if v.as_str() != Some(account) {
                    return Err(PatchError::WrongId);
                }
            }
            "email" => {
                side.emails = strings(v, "email")?;
                if !side.emails.iter().all(|e| looks_like_email(e)) {
                    return Err(PatchError::BadValue("email"));
                }
                any = true;
            }
            "naming" => {
                side.naming = enum_values(v, "naming")?;
                any = true;
            }
            "remotesAuth" => {
                side.remotes_auth = enum_values(v, "remotesAuth")?;
                any = true;
            }
            other => return Err(PatchError::UnknownProperty(other.to_owned())),
        }
    }
    if any { Ok(side) } else { Err(PatchError::Shape) }
}

/// A string or an array of strings.
fn strings(v: &Value, what: &'static str) -> Result<Vec<String>, PatchError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|i| i.as_str().map(str::to_owned).ok_or(PatchError::BadValue(what))).collect()
        }
        _ => Err(PatchError::BadValue(what)),
    }
}

fn enum_values<T: serde::de::DeserializeOwned>(v: &Value, what: &'static str) -> Result<Vec<T>, PatchError> {
    strings(v, what)?
        .into_iter()
        .map(|s| serde_json::from_value(Value::String(s)).map_err(|_| PatchError::BadValue(what)))
        .collect()
}

/// A deliberately loose check (one `@`, something either side, a dot in the
/// domain): the activation email is the real proof of an address.
/// A plausible email address (the SMTP server has the last word).
pub fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
                && s.len() <= 254
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_insert_and_delete() {
        let mut acc = Account::new("acc");
        let p = AccountPatch::from_json("acc", &json!({"@insert": {"naming": "uuid", "remotesAuth": ["anon", "key"]}}))
            .unwrap();
        acc.apply(&p);
        assert!(acc.allows_uuid() && acc.allows_anon_remotes() && acc.allows_key_remotes());
        let p = AccountPatch::from_json(
            "acc",
            &json!({"@delete": {"@id": "acc", "remotesAuth": "key"}, "@insert": {"remotesAuth": "jwt"}}),
        )
        .unwrap();
        acc.apply(&p);
        assert_eq!(acc.remotes_auth, vec![RemotesAuth::Anon, RemotesAuth::Jwt]);
        assert!(!acc.allows_key_remotes());
        let p = AccountPatch::from_json("acc", &json!({"@insert": {"email": "a@b.org"}})).unwrap();
        acc.apply(&p);
        acc.apply(&p); // idempotent
        assert_eq!(acc.emails, vec!["a@b.org"]);
    }

    #[test]
    fn patch_rejections() {
        let cases = [
            (json!([]), PatchError::Shape),
            (json!({}), PatchError::Shape),
            (json!({"@insert": {}}), PatchError::Shape),
            (json!({"@insert": "uuid"}), PatchError::Shape),
            (json!({"@update": {"naming": "uuid"}}), PatchError::UnknownProperty("@update".into())),
            (json!({"@insert": {"keys": "x"}}), PatchError::UnknownProperty("keys".into())),
            (json!({"@insert": {"@id": "other", "naming": "uuid"}}), PatchError::WrongId),
            (json!({"@insert": {"naming": "uuids"}}), PatchError::BadValue("naming")),
            (json!({"@insert": {"naming": 1}}), PatchError::BadValue("naming")),
            (json!({"@insert": {"remotesAuth": []}}), PatchError::BadValue("remotesAuth")),
            (json!({"@insert": {"email": "not-an-email"}}), PatchError::BadValue("email")),
        ];
        for (body, err) in cases {
            assert_eq!(AccountPatch::from_json("acc", &body), Err(err), "{body}");
        }
    }

    #[test]
    fn defaults() {
        let acc = Account::new("a");
        assert!(!acc.allows_uuid());
        assert!(acc.allows_key_remotes());
        assert!(!acc.allows_anon_remotes());
    }
}
