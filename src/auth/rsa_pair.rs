//! RSA key pairs in the Node gateway's encoding: the public key as base64 of
//! SPKI DER, the private key as base64 of PKCS#8 DER encrypted (PBES2,
//! PBKDF2-SHA256, AES-256-CBC) with a passphrase — the secret of the account
//! key it belongs to — so that existing clients and deployments read them
//! unchanged. Used for the root key pair and for `?type=rsa` keys.
//!
//! Only generation and public-key handling happen here: the gateway never
//! signs or decrypts with these private keys, so the `rsa` crate's
//! non-constant-time private operations (RUSTSEC-2023-0071) are not reached.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pkcs8::der::Decode;
use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::{OsRng, RngCore};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};

use super::AuthError;

/// Modulus size, as the Node gateway.
pub const RSA_BITS: usize = 2048;
/// PBKDF2 rounds for the encrypted private key (OpenSSL's default).
const PBKDF2_ROUNDS: u32 = 2048;

/// A key pair as configuration and API responses carry it.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct RsaKeyConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub public: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<String>,
}

impl std::fmt::Debug for RsaKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeyConfig").field("public", &self.public).finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> AuthError {
    AuthError::Crypto(e.to_string())
}

/// Generates a pair, the private half encrypted with `passphrase`. Slow
/// (prime search, tens to hundreds of ms): call it off the async workers.
pub fn generate(passphrase: &str) -> Result<RsaKeyConfig, AuthError> {
    let private = RsaPrivateKey::new(&mut OsRng, RSA_BITS).map_err(crypto)?;
    let public = RsaPublicKey::from(&private).to_public_key_der().map_err(crypto)?;
    let der = private.to_pkcs8_der().map_err(crypto)?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    OsRng.try_fill_bytes(&mut salt).map_err(crypto)?;
    OsRng.try_fill_bytes(&mut iv).map_err(crypto)?;
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ROUNDS, &salt, &iv).map_err(crypto)?;
    let info = pkcs8::PrivateKeyInfo::from_der(der.as_bytes()).map_err(crypto)?;
    let encrypted = info.encrypt_with_params(params, passphrase.as_bytes()).map_err(crypto)?;
    Ok(RsaKeyConfig {
        kind: "rsa".into(),
        public: STANDARD.encode(public.as_bytes()),
        private: Some(STANDARD.encode(encrypted.as_bytes())),
    })
}

/// Parses a base64 SPKI DER RSA public key, as the API and configuration
/// accept it (the same reading signed updates use).
pub fn parse_public(base64: &str) -> Result<RsaPublicKey, AuthError> {
    super::signature::PublicKey::from_base64_spki(base64.trim())
        .map(|k| k.rsa().clone())
        .map_err(|e| AuthError::Crypto(e.to_string()))
}

/// The public key as PEM (`-----BEGIN PUBLIC KEY-----`).
pub fn public_pem(base64: &str) -> Result<String, AuthError> {
    parse_public(base64)?.to_public_key_pem(LineEnding::LF).map_err(crypto)
}

/// Checks that an encrypted private key opens with `passphrase` and belongs
/// to `public` (a configured pair that does not fit is refused at start).
pub fn check_pair(config: &RsaKeyConfig, passphrase: &str) -> Result<(), AuthError> {
    use pkcs8::DecodePrivateKey;
    let public = parse_public(&config.public)?;
    let Some(private) = &config.private else { return Ok(()) };
    let der = STANDARD.decode(private.trim()).map_err(|_| AuthError::Crypto("private key is not base64".into()))?;
    let private = RsaPrivateKey::from_pkcs8_encrypted_der(&der, passphrase.as_bytes())
        .map_err(|_| AuthError::Crypto("private key does not open with the root key's secret".into()))?;
    if RsaPublicKey::from(&private) == public {
        Ok(())
    } else {
        Err(AuthError::Crypto("private and public keys are not a pair".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pairs_open_with_their_passphrase_only() {
        let pair = generate("topsecret").unwrap();
        assert_eq!(pair.kind, "rsa");
        check_pair(&pair, "topsecret").unwrap();
        assert!(check_pair(&pair, "wrong").is_err());
        let pem = public_pem(&pair.public).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        assert!(!format!("{pair:?}").contains(pair.private.as_deref().unwrap()));
        let other = generate("topsecret").unwrap();
        let mixed = RsaKeyConfig { private: other.private, ..pair };
        assert!(check_pair(&mixed, "topsecret").is_err());
    }

    #[test]
    fn public_keys_are_validated() {
        for bad in ["", "!!", "AAAA", &STANDARD.encode(b"not der")] {
            assert!(parse_public(bad).is_err(), "{bad:?}");
        }
    }
}
