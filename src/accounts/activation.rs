//! Email activation: a six-digit code sent to an address, redeemed with the
//! token (`jwe` in the API, for the Node gateway's shape) that the request
//! for it answered.
//!
//! Unlike the Node gateway, whose token is a JWT encrypted under a key
//! derived from the code alone (so whoever holds the token can search the
//! 900 000 codes offline), the token here is a random 256-bit handle on a
//! record the gateway keeps: the code is checked only by the gateway, a
//! wrong guess counts against the activation (it is void after
//! [`MAX_ATTEMPTS`]), and a redeemed activation is gone, so a code works
//! once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::AuthError;
use crate::store::{ACTIVATIONS_TREE, Store, StoreError};

/// How long a code is valid, as the Node gateway.
pub const ACTIVATION_TTL_MS: u64 = 10 * 60 * 1000;
/// Wrong codes (or wrong account names) after which an activation is void.
pub const MAX_ATTEMPTS: u32 = 5;
const TOKEN_BYTES: usize = 32;
/// At most this many stale records are swept per new activation.
const SWEEP_LIMIT: usize = 256;

/// A pending activation, as stored (keyed by the token's SHA-256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    pub account: String,
    pub email: String,
    #[serde(rename = "codeHash", with = "hex::serde")]
    code_hash: [u8; 32],
    pub expires: u64,
    #[serde(default)]
    pub attempts: u32,
}

/// Why a redemption failed. Each is a refusal (401) to the client.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("activation unknown, used or expired")]
    Unknown,
    #[error("activation expired")]
    Expired,
    #[error("activation code incorrect")]
    WrongCode,
    #[error("activation is for another account")]
    WrongAccount,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

/// The store of pending activations.
#[derive(Clone)]
pub struct Activations {
    tree: sled::Tree,
}

fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn code_hash(token: &str, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    h.update(b"\0");
    h.update(code.as_bytes());
    h.finalize().into()
}

fn random<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A uniformly drawn code from 100000 to 999999 (no leading zero to lose).
fn new_code() -> Result<String, AuthError> {
    loop {
        // Rejection sampling keeps the draw uniform
        let n = u32::from_le_bytes(random::<4>()?);
        let limit = u32::MAX - u32::MAX % 900_000;
        if n < limit {
            return Ok((100_000 + n % 900_000).to_string());
        }
    }
}

impl Activations {
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(Activations { tree: store.tree(ACTIVATIONS_TREE)? })
    }

    /// Starts an activation of `account` for `email`: returns the token for
    /// the client and the code for the email. The caller has checked that
    /// an existing account has that email registered.
    pub fn start(&self, account: &str, email: &str, now_ms: u64) -> Result<(String, String), ActivationError> {
        self.sweep(now_ms)?;
        let token = URL_SAFE_NO_PAD.encode(random::<TOKEN_BYTES>()?);
        let code = new_code()?;
        let record = Activation {
            account: account.to_owned(),
            email: email.to_owned(),
            code_hash: code_hash(&token, &code),
            expires: now_ms + ACTIVATION_TTL_MS,
            attempts: 0,
        };
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| StoreError::Corruption { tree: ACTIVATIONS_TREE, detail: e.to_string() })?;
        self.tree.insert(token_key(&token), bytes).map_err(StoreError::from)?;
        Ok((token, code))
    }

    /// Withdraws an activation whose email could not be sent.
    pub fn cancel(&self, token: &str) -> Result<(), StoreError> {
        self.tree.remove(token_key(token))?;
        Ok(())
    }

    /// Redeems the activation: right token, code and account, in time. A
    /// success consumes it; a failure counts as an attempt.
    pub fn redeem(&self, token: &str, code: &str, account: &str, now_ms: u64) -> Result<Activation, ActivationError> {
        if token.len() > 128 {
            return Err(ActivationError::Unknown);
        }
        let key = token_key(token);
        let given = code_hash(token, code.trim());
        let outcome =
            self.tree.transaction(|tree| -> sled::transaction::ConflictableTransactionResult<_, StoreError> {
                let Some(bytes) = tree.get(key)? else { return Ok(Err(ActivationError::Unknown)) };
                let Ok(mut record) = serde_json::from_slice::<Activation>(&bytes) else {
                    tree.remove(&key)?;
                    return Ok(Err(ActivationError::Unknown));
                };
                if now_ms >= record.expires {
                    tree.remove(&key)?;
                    return Ok(Err(ActivationError::Expired));
                }
                let code_ok: bool = record.code_hash.ct_eq(&given).into();
                let account_ok = record.account == account;
                if code_ok && account_ok {
                    tree.remove(&key)?;
                    return Ok(Ok(record));
                }
                record.attempts += 1;
                if record.attempts >= MAX_ATTEMPTS {
                    tree.remove(&key)?;
                } else if let Ok(bytes) = serde_json::to_vec(&record) {
                    tree.insert(&key, bytes)?;
                }
                Ok(Err(if code_ok { ActivationError::WrongAccount } else { ActivationError::WrongCode }))
            });
        outcome.map_err(StoreError::from)?
    }

    /// Drops expired records (a bounded number per call).
    fn sweep(&self, now_ms: u64) -> Result<(), StoreError> {
        let mut stale = Vec::new();
        for entry in self.tree.iter().take(SWEEP_LIMIT * 4) {
            let (k, v) = entry?;
            let expired = serde_json::from_slice::<Activation>(&v).map_or(true, |a| now_ms >= a.expires);
            if expired {
                stale.push(k);
                if stale.len() >= SWEEP_LIMIT {
                    break;
                }
            }
        }
        for k in stale {
            self.tree.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activations() -> Activations {
        Activations::new(&Store::temporary().unwrap()).unwrap()
    }

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200).map(|_| new_code().unwrap()).collect();
        assert!(codes.len() > 190);
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()) && !c.starts_with('0')));
    }

    #[test]
    fn redeems_once_with_the_right_code_and_account() {
        let a = activations();
        let (token, code) = a.start("acc", "a@ex.org", 1000).unwrap();
        assert!(token.len() >= 43);
        assert!(!token.contains(&code));
        let got = a.redeem(&token, &code, "acc", 2000).unwrap();
        assert_eq!((got.account.as_str(), got.email.as_str()), ("acc", "a@ex.org"));
        assert!(matches!(a.redeem(&token, &code, "acc", 2000), Err(ActivationError::Unknown)), "reused");
    }

    #[test]
    fn wrong_codes_count_and_void_the_activation() {
        let a = activations();
        let (token, code) = a.start("acc", "a@ex.org", 0).unwrap();
        let wrong = if code == "123456" { "654321" } else { "123456" };
        for _ in 0..MAX_ATTEMPTS - 2 {
            assert!(matches!(a.redeem(&token, wrong, "acc", 1), Err(ActivationError::WrongCode)));
        }
        assert!(matches!(a.redeem(&token, &code, "other", 1), Err(ActivationError::WrongAccount)));
        assert!(matches!(a.redeem(&token, wrong, "acc", 1), Err(ActivationError::WrongCode)));
        // Five failures: even the right code is now refused
        assert!(matches!(a.redeem(&token, &code, "acc", 1), Err(ActivationError::Unknown)));
    }

    #[test]
    fn expired_and_unknown_tokens_are_refused() {
        let a = activations();
        let (token, code) = a.start("acc", "a@ex.org", 0).unwrap();
        assert!(matches!(a.redeem(&token, &code, "acc", ACTIVATION_TTL_MS), Err(ActivationError::Expired)));
        assert!(matches!(a.redeem(&token, &code, "acc", 1), Err(ActivationError::Unknown)));
        for junk in ["", "garbage", &"x".repeat(5000)] {
            assert!(matches!(a.redeem(junk, &code, "acc", 1), Err(ActivationError::Unknown)));
        }
        // Starting another activation sweeps stale records
        a.start("acc", "a@ex.org", 0).unwrap();
        a.start("acc", "a@ex.org", ACTIVATION_TTL_MS * 2).unwrap();
        assert_eq!(a.tree.len(), 1);
    }
}
