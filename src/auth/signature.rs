//! Signed updates (`useSignatures`): the RSA public keys of a subdomain's
//! signing users, and checking the signatures apps put on m-ld operations.
//!
//! The format is the Node m-ld Gateway's (`UserKey.splitSignature`,
//! `GatewayApp.verify`): a signature is the UTF-8 key id, a colon, and an
//! RSASSA-PKCS1-v1_5 SHA-256 signature (RFC 3447) of the signed bytes. The
//! key id is what precedes the first colon, and only counts when it is at
//! least five bytes long; so key ids registered here are at least five word
//! characters. Public keys travel as base64 of SPKI DER.
//!
//! Knows nothing of m-ld messages or HTTP: callers hand it the signed bytes,
//! the claimed principal and the signature. Nothing here panics on input.

use std::collections::HashMap;

use base64::Engine;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;

/// Shortest key id the signature format can carry (`splitSignature` ignores
/// a colon before index 5).
pub const MIN_KEYID_LEN: usize = 5;
/// Longest key id we register (a bound for logs and records).
pub const MAX_KEYID_LEN: usize = 128;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (the `rsa` crate's bound: it keeps
/// the cost of one verification small).
pub const MAX_RSA_BITS: usize = 4096;

/// Why a key was refused or a signature did not verify. The text is safe to
/// show to a client and to log: it never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A key id that is not 5 to 128 word characters.
    #[error("keyid must be 5 to 128 letters, digits or _")]
    BadKeyid,
    /// A public key that is not standard base64.
    #[error("public key must be base64")]
    NotBase64,
    /// Base64 of something other than an RSA public key in SPKI DER.
    #[error("public key must be an RSA public key in SPKI DER")]
    NotRsa,
    /// An RSA key outside 2048..=4096 bits.
    #[error("RSA public key must have 2048 to 4096 bits")]
    KeySize,
    /// The operation carries no attribution at all.
    #[error("unsigned")]
    Unsigned,
    /// The signature does not start with a key id and a colon.
    #[error("signature has no keyid")]
    NoKeyid,
    /// No signing user has that key id.
    #[error("unknown keyid")]
    UnknownKey,
    /// The key id belongs to another principal than the one claimed.
    #[error("keyid does not belong to the principal")]
    WrongPrincipal,
    /// The signature does not verify with the key.
    #[error("signature not valid")]
    Invalid,
}

/// Whether `keyid` may be registered: 5 to 128 ASCII word characters (`\w`
/// as JavaScript reads it), so that the signature format can carry it.
pub fn valid_keyid(keyid: &str) -> bool {
    (MIN_KEYID_LEN..=MAX_KEYID_LEN).contains(&keyid.len())
        && keyid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits `<keyid>:<signature>` as the Node gateway does: the key id is what
/// precedes the first colon, if that is at least five bytes in (and UTF-8).
pub fn split_signature(sig: &[u8]) -> Option<(&str, &[u8])> {
    let colon = sig.iter().position(|&b| b == b':')?;
    if colon < MIN_KEYID_LEN {
        return None;
    }
    let keyid = std::str::from_utf8(sig.get(..colon)?).ok()?;
    Some((keyid, sig.get(colon + 1..)?))
}

/// An RSA public key that verifies signatures.
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey<Sha256>,
    bits: usize,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(RSA {} bits)", self.bits)
    }
}

impl PublicKey {
    /// Reads base64 of an SPKI DER RSA public key (the `public` of a PUT
    /// body, `KeyRecord::rsa_public`).
    pub fn from_base64_spki(b64: &str) -> Result<Self, SignatureError> {
        let der = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| SignatureError::NotBase64)?;
        Self::from_spki_der(&der)
    }

    /// Reads an SPKI DER RSA public key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SignatureError> {
        let key = RsaPublicKey::from_public_key_der(der).map_err(|_| SignatureError::NotRsa)?;
        let bits = key.n().bits();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(SignatureError::KeySize);
        }
        Ok(PublicKey { key: VerifyingKey::new(key), bits })
    }

    /// The RSA key itself.
    pub fn rsa(&self) -> &RsaPublicKey {
        self.key.as_ref()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature (without key id) of
    /// `data`.
    pub fn verify(&self, data: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        let sig = Signature::try_from(sig).map_err(|_| SignatureError::Invalid)?;
        self.key.verify(data, &sig).map_err(|_| SignatureError::Invalid)
    }
}

/// The signing users of one subdomain: key id → (principal IRI, key).
#[derive(Debug, Clone, Default)]
pub struct SignerKeys {
    by_keyid: HashMap<String, (String, PublicKey)>,
}

impl SignerKeys {
    /// No signers.
    pub fn new() -> Self {
        SignerKeys::default()
    }

    /// Adds (or replaces) the key `keyid` of principal `pid`.
    pub fn insert(&mut self, keyid: &str, pid: &str, key: PublicKey) {
        self.by_keyid.insert(keyid.to_owned(), (pid.to_owned(), key));
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_keyid.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.by_keyid.is_empty()
    }

    /// Checks that `sig` (`<keyid>:<signature>`) is principal `pid`'s
    /// signature of `data` (the Node gateway's `GatewayApp.verify`). Returns
    /// the key id on success.
    pub fn verify<'s>(&self, data: &[u8], pid: &str, sig: &'s [u8]) -> Result<&'s str, SignatureError> {
        let (keyid, sig) = split_signature(sig).ok_or(SignatureError::NoKeyid)?;
        let (owner, key) = self.by_keyid.get(keyid).ok_or(SignatureError::UnknownKey)?;
        if owner != pid {
            return Err(SignatureError::WrongPrincipal);
        }
        key.verify(data, sig)?;
        Ok(keyid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::RsaPrivateKey;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use serde_json::Value;

    const NODE: &str = include_str!("../../tests/fixtures/signatures/node-signature.json");

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// A fresh key pair: the signing key and the public key as base64 SPKI.
    fn pair(bits: usize) -> (SigningKey<Sha256>, String) {
        let private = RsaPrivateKey::new(&mut rand_core::OsRng, bits).unwrap();
        let der = private.to_public_key().to_public_key_der().unwrap();
        (SigningKey::new(private), base64::engine::general_purpose::STANDARD.encode(der.as_bytes()))
    }

    fn signed(keyid: &str, key: &SigningKey<Sha256>, data: &[u8]) -> Vec<u8> {
        let mut sig = format!("{keyid}:").into_bytes();
        sig.extend(key.sign(data).to_vec());
        sig
    }

    #[test]
    fn a_signature_made_by_node_verifies() {
        let node: Value = serde_json::from_str(NODE).unwrap();
        let keyid = node["keyid"].as_str().unwrap();
        let key = PublicKey::from_base64_spki(node["public"].as_str().unwrap()).unwrap();
        assert_eq!(key.bits(), 2048);
        let data = b64(node["data"].as_str().unwrap());
        let sig = b64(node["sig"].as_str().unwrap());
        let mut signers = SignerKeys::new();
        signers.insert(keyid, "http://ex.org/alice", key);
        assert_eq!(signers.verify(&data, "http://ex.org/alice", &sig), Ok(keyid));
        // One flipped bit of the data, or of the signature, and it fails
        let mut tampered = data.clone();
        tampered[3] ^= 1;
        assert_eq!(signers.verify(&tampered, "http://ex.org/alice", &sig), Err(SignatureError::Invalid));
        let mut bad_sig = sig.clone();
        *bad_sig.last_mut().unwrap() ^= 1;
        assert_eq!(signers.verify(&data, "http://ex.org/alice", &bad_sig), Err(SignatureError::Invalid));
        assert_eq!(signers.verify(&data, "http://ex.org/bob", &sig), Err(SignatureError::WrongPrincipal));
    }

    #[test]
    fn keys_generated_here_sign_and_verify() {
        let (alice, alice_pub) = pair(2048);
        let (bob, bob_pub) = pair(2048);
        let mut signers = SignerKeys::new();
        signers.insert("alice1", "http://ex.org/alice", PublicKey::from_base64_spki(&alice_pub).unwrap());
        signers.insert("bob_01", "http://ex.org/bob", PublicKey::from_base64_spki(&bob_pub).unwrap());
        assert_eq!(signers.len(), 2);
        let data = b"\x83\xa4prev\x00\xa3enc";
        assert_eq!(signers.verify(data, "http://ex.org/alice", &signed("alice1", &alice, data)), Ok("alice1"));
        assert_eq!(signers.verify(data, "http://ex.org/bob", &signed("bob_01", &bob, data)), Ok("bob_01"));
        // Bob's signature under Alice's key id, Alice's key id claimed by Bob
        assert_eq!(
            signers.verify(data, "http://ex.org/alice", &signed("alice1", &bob, data)),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signers.verify(data, "http://ex.org/bob", &signed("alice1", &alice, data)),
            Err(SignatureError::WrongPrincipal)
        );
        assert_eq!(
            signers.verify(data, "http://ex.org/carol", &signed("carol1", &alice, data)),
            Err(SignatureError::UnknownKey)
        );
    }

    #[test]
    fn split_follows_node() {
        assert_eq!(split_signature(b"abcde:xyz"), Some(("abcde", &b"xyz"[..])));
        assert_eq!(split_signature(b"abcde::"), Some(("abcde", &b":"[..])));
        assert_eq!(split_signature(b"abcde:"), Some(("abcde", &b""[..])));
        assert_eq!(split_signature(b"abcd:xyz"), None, "colon before index 5");
        assert_eq!(split_signature(b"ab:cdefgh:xyz"), None, "the first colon decides");
        assert_eq!(split_signature(b"abcdefgh"), None);
        assert_eq!(split_signature(b""), None);
        assert_eq!(split_signature(b"\xff\xfe\xfd\xfc\xfb:sig"), None, "not UTF-8");
    }

    #[test]
    fn keyids() {
        for ok in ["abcde", "ABC_123", "a".repeat(128).as_str(), "nodekey1"] {
            assert!(valid_keyid(ok), "{ok}");
        }
        for bad in ["", "abcd", "abc-de", "abc:de", "abc de", "ábcde", &"a".repeat(129)] {
            assert!(!valid_keyid(bad), "{bad}");
        }
    }

    #[test]
    fn bad_keys_are_refused_without_panic() {
        assert_eq!(PublicKey::from_base64_spki("not base64!").unwrap_err(), SignatureError::NotBase64);
        assert_eq!(PublicKey::from_base64_spki("").unwrap_err(), SignatureError::NotRsa);
        assert_eq!(PublicKey::from_base64_spki("aGVsbG8=").unwrap_err(), SignatureError::NotRsa);
        // An Ed25519 SPKI key is not RSA
        let ed25519 = "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";
        assert_eq!(PublicKey::from_base64_spki(ed25519).unwrap_err(), SignatureError::NotRsa);
        let (_, small) = pair(1024);
        assert_eq!(PublicKey::from_base64_spki(&small).unwrap_err(), SignatureError::KeySize);
        // Truncated DER
        let node: Value = serde_json::from_str(NODE).unwrap();
        let der = b64(node["public"].as_str().unwrap());
        for cut in [1, 10, der.len() / 2, der.len() - 1] {
            assert!(PublicKey::from_spki_der(&der[..cut]).is_err());
        }
    }

    #[test]
    fn garbage_signatures_fail_cleanly() {
        let node: Value = serde_json::from_str(NODE).unwrap();
        let key = PublicKey::from_base64_spki(node["public"].as_str().unwrap()).unwrap();
        for sig in [&b""[..], b"x", &[0u8; 256], &[0xffu8; 256], &[0u8; 4096]] {
            assert_eq!(key.verify(b"data", sig), Err(SignatureError::Invalid));
        }
        let signers = SignerKeys::new();
        assert_eq!(signers.verify(b"data", "p", b"no keyid"), Err(SignatureError::NoKeyid));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(der in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
                                     sig in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = PublicKey::from_spki_der(&der);
            let _ = split_signature(&sig);
            let node: Value = serde_json::from_str(NODE).unwrap();
            let mut signers = SignerKeys::new();
            signers.insert("nodekey1", "p", PublicKey::from_base64_spki(node["public"].as_str().unwrap()).unwrap());
            let _ = signers.verify(&der, "p", &sig);
        }
    }
}
