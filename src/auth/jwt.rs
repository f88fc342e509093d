//! Short-lived tokens for clones in environments that must not hold an account
//! key (`remotesAuth: jwt`).
//!
//! A token is an EdDSA JWT whose `kid` is the key id of the account key that
//! minted it, `iss` the account (as an absolute IRI under the gateway, as the
//! Node gateway writes it) and `sub` the optional end user. The signing key is
//! derived from the account key's secret, which the gateway never stores, so
//! only a caller holding the key can mint; the key record keeps the matching
//! public key, so anyone can be checked. A stolen data volume therefore
//! yields no way to forge tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AuthError, AuthKey};

/// How long a minted token is valid, as the Node gateway.
pub const TOKEN_LIFETIME_SECS: u64 = 600;
/// Tolerated clock difference when checking expiry.
const LEEWAY_SECS: u64 = 5;
/// Separates this derivation from any other use of a key's secret.
const DERIVATION_LABEL: &[u8] = b"meld-gateway/jwt-signing-key/v1\0";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    exp: u64,
    iat: u64,
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims {
    /// The issuing account's IRI, as in the token.
    pub issuer: String,
    /// The end user, if the token names one.
    pub subject: Option<String>,
}

fn signing_key(key: &AuthKey) -> SigningKey {
    let mut hasher = Sha256::new();
    hasher.update(DERIVATION_LABEL);
    hasher.update(key.secret().as_bytes());
    SigningKey::from_bytes(&hasher.finalize().into())
}

/// The public half of the key's token-signing pair, as stored in its key
/// record (base64url of the 32 raw bytes).
pub fn public_key(key: &AuthKey) -> String {
    URL_SAFE_NO_PAD.encode(signing_key(key).verifying_key().as_bytes())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Mints a token for `key`'s account, issued as `issuer`, valid for
/// [`TOKEN_LIFETIME_SECS`].
pub fn mint(key: &AuthKey, issuer: &str, subject: Option<&str>) -> Result<String, AuthError> {
    mint_at(key, issuer, subject, now_secs())
}

fn mint_at(key: &AuthKey, issuer: &str, subject: Option<&str>, now: u64) -> Result<String, AuthError> {
    let der = signing_key(key).to_pkcs8_der().map_err(|e| AuthError::Crypto(e.to_string()))?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.keyid.clone());
    let claims =
        Claims { iss: issuer.to_owned(), sub: subject.map(str::to_owned), exp: now + TOKEN_LIFETIME_SECS, iat: now };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der.as_bytes()))
        .map_err(|e| AuthError::Crypto(e.to_string()))
}

/// The key id a token claims to be signed with, read without trusting it.
/// Only EdDSA tokens are considered, so no other algorithm can be slipped in.
pub fn key_id(token: &str) -> Result<String, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::BadToken("malformed token"))?;
    if header.alg != Algorithm::EdDSA {
        return Err(AuthError::BadToken("unexpected token algorithm"));
    }
    header.kid.filter(|k| !k.is_empty() && k.len() <= 64).ok_or(AuthError::BadToken("token has no key id"))
}

/// Verifies the token's signature with the stored public key and its expiry.
pub fn verify(token: &str, public: &str) -> Result<TokenClaims, AuthError> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.validate_aud = false;
    let key = DecodingKey::from_ed_components(public).map_err(|e| AuthError::Crypto(e.to_string()))?;
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::BadToken("token expired"),
            ErrorKind::InvalidSignature => AuthError::BadToken("token signature invalid"),
            _ => AuthError::BadToken("token invalid"),
        }
    })?;
    Ok(TokenClaims { issuer: data.claims.iss, subject: data.claims.sub })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuthKey {
        AuthKey::generate("root").unwrap()
    }

    #[test]
    fn round_trip_names_key_issuer_and_subject() {
        let k = key();
        let token = mint(&k, "http://ex.org/acc", Some("http://app.org/alice")).unwrap();
        assert_eq!(key_id(&token).unwrap(), k.keyid);
        let claims = verify(&token, &public_key(&k)).unwrap();
        assert_eq!(claims.issuer, "http://ex.org/acc");
        assert_eq!(claims.subject.as_deref(), Some("http://app.org/alice"));
        // The secret appears nowhere in the token or the public key
        let secret = k.reveal().split_once(':').unwrap().1.to_owned();
        assert!(!token.contains(&secret) && !public_key(&k).contains(&secret));
    }

    #[test]
    fn another_keys_public_half_does_not_verify() {
        let token = mint(&key(), "http://ex.org/acc", None).unwrap();
        assert!(matches!(verify(&token, &public_key(&key())), Err(AuthError::BadToken(_))));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let k = key();
        let old = mint_at(&k, "acc", None, now_secs() - TOKEN_LIFETIME_SECS - LEEWAY_SECS - 1).unwrap();
        assert!(matches!(verify(&old, &public_key(&k)), Err(AuthError::BadToken("token expired"))));
        let fresh = mint_at(&k, "acc", None, now_secs() - TOKEN_LIFETIME_SECS + 30).unwrap();
        assert!(verify(&fresh, &public_key(&k)).is_ok());
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let k = key();
        let token = mint(&k, "http://ex.org/acc", None).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = URL_SAFE_NO_PAD.encode(format!(r#"{{"iss":"http://ex.org/other","exp":{}}}"#, now_secs() + 60));
        parts[1] = forged;
        assert!(verify(&parts.join("."), &public_key(&k)).is_err());
        // An HS256 token "signed" with the public key must not pass (algorithm confusion)
        let hs = jsonwebtoken::encode(
            &Header { kid: Some(k.keyid.clone()), ..Header::new(Algorithm::HS256) },
            &Claims { iss: "acc".into(), sub: None, exp: now_secs() + 60, iat: now_secs() },
            &EncodingKey::from_secret(public_key(&k).as_bytes()),
        )
        .unwrap();
        assert!(key_id(&hs).is_err());
        assert!(verify(&hs, &public_key(&k)).is_err());
        for junk in ["", "a.b.c", "...", "eyJhbGciOiJFZERTQSJ9.e30.", &token[..token.len() - 3]] {
            assert!(verify(junk, &public_key(&k)).is_err(), "{junk:?}");
        }
    }
}
