//! Accounts and keys in sled: typed reads and atomic updates. All calls are
//! short point reads or single-record transactions, cheap enough for async
//! workers.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{Account, AccountPatch, KeyRecord, SignerKey, SubdomainRecord};
use crate::auth::rsa_pair::{self, RsaKeyConfig};
use crate::auth::{AuthError, AuthKey, jwt};
use crate::store::{ACCOUNTS_TREE, KEYS_TREE, SUBDOMAINS_TREE, Store, StoreError, TOMBSTONES_TREE};

/// Typed access to the `accounts` and `keys` trees.
#[derive(Clone)]
pub struct AccountStore {
    accounts: sled::Tree,
    keys: sled::Tree,
    subdomains: sled::Tree,
    tombstones: sled::Tree,
}

/// Outcome of registering a named subdomain.
#[derive(Debug, Clone, PartialEq)]
pub enum Registered {
    /// Newly created with this record.
    Created(SubdomainRecord),
    /// Already there (PUT is idempotent).
    Existing(SubdomainRecord),
    /// The name was used before and removed: it cannot come back.
    Tombstoned,
    /// No such account.
    NoAccount,
    /// The subdomain exists with the other `useSignatures` setting.
    SignaturesDiffer,
    /// The subdomain uses signatures and no signing key was given.
    SignerRequired,
    /// The signer's key id is bound to another user or key on the subdomain.
    KeyidTaken,
    /// The account already has `max_subdomains` named subdomains.
    LimitReached,
}

/// What a `PUT` of a named subdomain asks for.
#[derive(Debug, Clone)]
pub struct SubdomainPut {
    /// The record to create if the subdomain does not exist (its
    /// `use_signatures` and `signers` are set from the fields below).
    pub new: SubdomainRecord,
    /// `useSignatures` as given, if given: on an existing subdomain it must
    /// match; a new one takes it (default false).
    pub use_signatures: Option<bool>,
    /// Most named subdomains the account may have: a new one past it is
    /// refused.
    pub max_subdomains: usize,
    /// The key to add if the subdomain uses signatures (required then).
    pub signer: Option<SignerKey>,
}

fn subdomain_key(account: &str, name: &str) -> Vec<u8> {
    format!("{account}/{name}").into_bytes()
}

fn decode<T: serde::de::DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corruption { tree, detail: e.to_string() })
}

fn encode<T: serde::Serialize>(tree: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corruption { tree, detail: e.to_string() })
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn tx_get<T: serde::de::DeserializeOwned>(
    tree: &TransactionalTree,
    name: &'static str,
    key: &[u8],
) -> TxResult<Option<T>> {
    match tree.get(key)? {
        Some(bytes) => Ok(Some(decode(name, &bytes).map_err(ConflictableTransactionError::Abort)?)),
        None => Ok(None),
    }
}

fn tx_put<T: serde::Serialize>(tree: &TransactionalTree, name: &'static str, key: &[u8], value: &T) -> TxResult<()> {
    tree.insert(key, encode(name, value).map_err(ConflictableTransactionError::Abort)?)?;
    Ok(())
}

impl AccountStore {
    /// Opens the account trees of the store.
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(AccountStore {
            accounts: store.tree(ACCOUNTS_TREE)?,
            keys: store.tree(KEYS_TREE)?,
            subdomains: store.tree(SUBDOMAINS_TREE)?,
            tombstones: store.tree(TOMBSTONES_TREE)?,
        })
    }

    /// The account of that name, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<Account>, StoreError> {
        self.accounts.get(name)?.map(|b| decode(ACCOUNTS_TREE, &b)).transpose()
    }

    /// Creates the account if it does not exist (the root account, whose key
    /// lives in configuration, needs a record to own subdomains).
    pub fn ensure_account(&self, name: &str) -> Result<(), StoreError> {
        let record = encode(ACCOUNTS_TREE, &Account::new(name))?;
        // Only if absent: an existing record is left as it is
        let _ = self.accounts.compare_and_swap(name, None as Option<&[u8]>, Some(record))?;
        Ok(())
    }

    /// The record of a key id, if it exists.
    pub fn key(&self, keyid: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.keys.get(keyid)?.map(|b| decode(KEYS_TREE, &b)).transpose()
    }

    /// Mints a new key for the account as `opts` say; `Ok(None)` if the
    /// account does not exist and may not be created. The account record and
    /// the key record (and a rotated key's expiry) change in one transaction.
    pub fn mint_key(&self, app: &str, account: &str, opts: &MintOptions) -> Result<Option<Minted>, AuthError> {
        let mut key = AuthKey::generate(app)?;
        // Generated before the transaction: slow, and its private half is
        // encrypted with the new key's secret
        let rsa = if opts.rsa { Some(rsa_pair::generate(key.secret())?) } else { None };
        loop {
            let record = KeyRecord {
                account: account.to_owned(),
                hash: key.secret_hash(),
                revoked: false,
                created: opts.now_ms,
                expires: None,
                rsa_public: rsa.as_ref().map(|r| r.public.clone()),
                jwt_public: Some(jwt::public_key(&key)),
            };
            let outcome = (&self.accounts, &self.keys).transaction(|(accounts, keys)| {
                if keys.get(key.keyid.as_bytes())?.is_some() {
                    return Ok(MintOutcome::KeyidTaken);
                }
                let mut acc = match tx_get::<Account>(accounts, ACCOUNTS_TREE, account.as_bytes())? {
                    Some(acc) => {
                        if let Some(email) = &opts.email
                            && !acc.emails.contains(email)
                        {
                            return Ok(MintOutcome::EmailNotRegistered);
                        }
                        acc
                    }
                    None if opts.create => {
                        let mut acc = Account::new(account);
                        acc.emails.extend(opts.email.clone());
                        acc
                    }
                    None => return Ok(MintOutcome::NoAccount),
                };
                if let Some((old, until)) = &opts.rotate {
                    let mut rec = match tx_get::<KeyRecord>(keys, KEYS_TREE, old.as_bytes())? {
                        Some(rec) if rec.account == account && !rec.revoked => rec,
                        _ => return Ok(MintOutcome::NoSuchKey),
                    };
                    rec.expires = Some(rec.expires.map_or(*until, |e| e.min(*until)));
                    tx_put(keys, KEYS_TREE, old.as_bytes(), &rec)?;
                }
                acc.keyids.push(key.keyid.clone());
                tx_put(accounts, ACCOUNTS_TREE, account.as_bytes(), &acc)?;
                tx_put(keys, KEYS_TREE, key.keyid.as_bytes(), &record)?;
                Ok(MintOutcome::Done)
            });
            match outcome.map_err(StoreError::from)? {
                MintOutcome::Done => return Ok(Some(Minted { key, rsa })),
                MintOutcome::NoAccount => return Ok(None),
                MintOutcome::EmailNotRegistered => {
                    return Err(AuthError::Forbidden("email not registered to the account"));
                }
                MintOutcome::NoSuchKey => return Err(AuthError::Forbidden("no such key")),
                // 24-bit key ids can collide; draw another (the secret stays)
                MintOutcome::KeyidTaken => key.redraw_keyid()?,
            }
        }
    }

    /// The account's keys with their records, in minting order.
    pub fn keys_of(&self, account: &str) -> Result<Option<Vec<(String, KeyRecord)>>, StoreError> {
        let Some(acc) = self.get(account)? else { return Ok(None) };
        let mut out = Vec::with_capacity(acc.keyids.len());
        for keyid in acc.keyids {
            if let Some(rec) = self.key(&keyid)?.filter(|r| r.account == account) {
                out.push((keyid, rec));
            }
        }
        Ok(Some(out))
    }

    /// Revokes one of the account's keys; false if it has no such key.
    pub fn revoke_key(&self, account: &str, keyid: &str) -> Result<bool, StoreError> {
        let done = self.keys.transaction(|keys| {
            let mut rec = match tx_get::<KeyRecord>(keys, KEYS_TREE, keyid.as_bytes())? {
                Some(rec) if rec.account == account => rec,
                _ => return Ok(false),
            };
            rec.revoked = true;
            tx_put(keys, KEYS_TREE, keyid.as_bytes(), &rec)?;
            Ok(true)
        });
        Ok(done?)
    }

    /// Deletes the account, its keys and its named subdomains' registrations
    /// (tombstoned, so their names stay unusable). Returns the removed
    /// subdomain names, or `None` if there was no such account. The backup
    /// data of those subdomains is the caller's to remove.
    pub fn delete_account(&self, account: &str, now_ms: u64) -> Result<Option<Vec<String>>, StoreError> {
        let removed = (&self.accounts, &self.keys, &self.subdomains, &self.tombstones).transaction(
            |(accounts, keys, subdomains, tombstones)| {
                let Some(acc) = tx_get::<Account>(accounts, ACCOUNTS_TREE, account.as_bytes())? else {
                    return Ok(None);
                };
                for keyid in &acc.keyids {
                    keys.remove(keyid.as_bytes())?;
                }
                for name in &acc.subdomains {
                    let key = subdomain_key(account, name);
                    subdomains.remove(key.as_slice())?;
                    tombstones.insert(key.as_slice(), &now_ms.to_be_bytes())?;
                }
                accounts.remove(account.as_bytes())?;
                Ok(Some(acc.subdomains.clone()))
            },
        );
        Ok(removed?)
    }

    /// Applies a validated patch to an existing account; `None` if it does
    /// not exist.
    pub fn patch(&self, account: &str, patch: &AccountPatch) -> Result<Option<Account>, StoreError> {
        let updated = self.accounts.transaction(|accounts| {
            let Some(mut acc) = tx_get::<Account>(accounts, ACCOUNTS_TREE, account.as_bytes())? else {
                return Ok(None);
            };
            acc.apply(patch);
            tx_put(accounts, ACCOUNTS_TREE, account.as_bytes(), &acc)?;
            Ok(Some(acc))
        });
        Ok(updated?)
    }
}

impl AccountStore {
    /// The record of a named subdomain, if registered.
    pub fn subdomain(&self, account: &str, name: &str) -> Result<Option<SubdomainRecord>, StoreError> {
        self.subdomains.get(subdomain_key(account, name))?.map(|b| decode(SUBDOMAINS_TREE, &b)).transpose()
    }

    /// Creates a named subdomain or updates an existing one's signers, all
    /// checks and the write in one transaction, so that a refused `PUT`
    /// stores nothing. `Existing` and `Created` carry the record as stored.
    pub fn put_subdomain(&self, account: &str, name: &str, put: &SubdomainPut) -> Result<Registered, StoreError> {
        let key = subdomain_key(account, name);
        let outcome =
            (&self.accounts, &self.subdomains, &self.tombstones).transaction(|(accounts, subdomains, tombstones)| {
                if tombstones.get(&key)?.is_some() {
                    return Ok(Registered::Tombstoned);
                }
                let existing = tx_get::<SubdomainRecord>(subdomains, SUBDOMAINS_TREE, &key)?;
                let created = existing.is_none();
                let mut record = match existing {
                    Some(existing) => {
                        if put.use_signatures.is_some_and(|u| u != existing.use_signatures) {
                            return Ok(Registered::SignaturesDiffer);
                        }
                        existing
                    }
                    None => SubdomainRecord {
                        use_signatures: put.use_signatures.unwrap_or(false),
                        signers: Vec::new(),
                        ..put.new.clone()
                    },
                };
                let mut changed = created;
                if record.use_signatures {
                    let Some(signer) = &put.signer else { return Ok(Registered::SignerRequired) };
                    match record.add_signer(signer.clone()) {
                        Ok(added) => changed |= added,
                        Err(_) => return Ok(Registered::KeyidTaken),
                    }
                }
                if created {
                    let Some(mut acc) = tx_get::<Account>(accounts, ACCOUNTS_TREE, account.as_bytes())? else {
                        return Ok(Registered::NoAccount);
                    };
                    if acc.subdomains.len() >= put.max_subdomains {
                        return Ok(Registered::LimitReached);
                    }
                    acc.subdomains.push(name.to_owned());
                    tx_put(accounts, ACCOUNTS_TREE, account.as_bytes(), &acc)?;
                }
                if changed {
                    tx_put(subdomains, SUBDOMAINS_TREE, &key, &record)?;
                }
                Ok(if created { Registered::Created(record) } else { Registered::Existing(record) })
            });
        Ok(outcome?)
    }

    /// Whether a subdomain of that name was removed (and cannot come back).
    pub fn tombstoned(&self, account: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.tombstones.contains_key(subdomain_key(account, name))?)
    }

    /// Creates a named subdomain with exactly `record` (a restored backup),
    /// writing `with` — a key and value in another tree, the restored
    /// dataset's root — in the same transaction, so that the subdomain and
    /// its data appear together or not at all. Only `Created`, `Existing`
    /// (nothing written), `Tombstoned` and `NoAccount` are answered.
    pub fn create_subdomain(
        &self,
        account: &str,
        name: &str,
        record: &SubdomainRecord,
        with: (&sled::Tree, &[u8], &[u8]),
    ) -> Result<Registered, StoreError> {
        let key = subdomain_key(account, name);
        let (other, other_key, other_value) = with;
        let outcome = (&self.accounts, &self.subdomains, &self.tombstones, other).transaction(
            |(accounts, subdomains, tombstones, other)| {
                if tombstones.get(&key)?.is_some() {
                    return Ok(Registered::Tombstoned);
                }
                if let Some(existing) = tx_get::<SubdomainRecord>(subdomains, SUBDOMAINS_TREE, &key)? {
                    return Ok(Registered::Existing(existing));
                }
                let Some(mut acc) = tx_get::<Account>(accounts, ACCOUNTS_TREE, account.as_bytes())? else {
                    return Ok(Registered::NoAccount);
                };
                acc.subdomains.push(name.to_owned());
                tx_put(accounts, ACCOUNTS_TREE, account.as_bytes(), &acc)?;
                tx_put(subdomains, SUBDOMAINS_TREE, &key, record)?;
                other.insert(other_key, other_value)?;
                Ok(Registered::Created(record.clone()))
            },
        );
        Ok(outcome?)
    }

    /// Removes a named subdomain's registration and leaves a tombstone so the
    /// name cannot be registered again. Returns the removed record, if any.
    pub fn remove_subdomain(
        &self,
        account: &str,
        name: &str,
        now_ms: u64,
    ) -> Result<Option<SubdomainRecord>, StoreError> {
        let key = subdomain_key(account, name);
        let removed =
            (&self.accounts, &self.subdomains, &self.tombstones).transaction(|(accounts, subdomains, tombstones)| {
                let Some(record) = tx_get::<SubdomainRecord>(subdomains, SUBDOMAINS_TREE, &key)? else {
                    return Ok(None);
                };
                subdomains.remove(key.as_slice())?;
                tombstones.insert(key.as_slice(), &now_ms.to_be_bytes())?;
                if let Some(mut acc) = tx_get::<Account>(accounts, ACCOUNTS_TREE, account.as_bytes())? {
                    acc.subdomains.retain(|n| n != name);
                    tx_put(accounts, ACCOUNTS_TREE, account.as_bytes(), &acc)?;
                }
                Ok(Some(record))
            });
        Ok(removed?)
    }
}

/// How to mint a key.
#[derive(Debug, Default, Clone)]
pub struct MintOptions {
    /// Create the account if it does not exist.
    pub create: bool,
    /// Also make an RSA key pair for signing (`?type=rsa`).
    pub rsa: bool,
    /// Minted by email activation: an existing account must have this email
    /// registered; a new one is created with it.
    pub email: Option<String>,
    /// Rotation: this key of the account stays valid until the given time
    /// (ms since the epoch), then is refused.
    pub rotate: Option<(String, u64)>,
    /// Creation time to record, ms since the epoch.
    pub now_ms: u64,
}

/// A freshly minted key: shown to its owner once, never stored in clear.
pub struct Minted {
    pub key: AuthKey,
    pub rsa: Option<RsaKeyConfig>,
}

enum MintOutcome {
    Done,
    NoAccount,
    EmailNotRegistered,
    NoSuchKey,
    KeyidTaken,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create() -> MintOptions {
        MintOptions { create: true, ..Default::default() }
    }

    #[test]
    fn mint_creates_account_and_stores_only_a_digest() {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        assert!(accounts.mint_key("root", "acc", &MintOptions::default()).unwrap().is_none());
        assert!(accounts.get("acc").unwrap().is_none());
        let key = accounts.mint_key("root", "acc", &create()).unwrap().unwrap().key;
        let acc = accounts.get("acc").unwrap().unwrap();
        assert_eq!(acc.keyids, vec![key.keyid.clone()]);
        let rec = accounts.key(&key.keyid).unwrap().unwrap();
        assert_eq!(rec.account, "acc");
        assert!(key.matches_hash(&rec.hash));
        // The secret itself is nowhere in the tree
        let secret = key.reveal().split_once(':').unwrap().1.to_owned();
        for kv in accounts.keys.iter().chain(accounts.accounts.iter()) {
            let (_, v) = kv.unwrap();
            assert!(!String::from_utf8_lossy(&v).contains(&secret));
        }
        let second = accounts.mint_key("root", "acc", &MintOptions::default()).unwrap().unwrap().key;
        assert_ne!(second.keyid, key.keyid);
        assert_eq!(accounts.get("acc").unwrap().unwrap().keyids.len(), 2);
    }

    fn record(id: &str) -> SubdomainRecord {
        SubdomainRecord { use_signatures: false, signers: Vec::new(), created: 1, clone_id: id.into() }
    }

    fn plain(id: &str) -> SubdomainPut {
        SubdomainPut { new: record(id), use_signatures: None, signer: None, max_subdomains: 1000 }
    }

    #[test]
    fn named_subdomains_per_account_are_bounded() {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        accounts.mint_key("root", "acc", &create()).unwrap();
        let two = |id: &str| SubdomainPut { max_subdomains: 2, ..plain(id) };
        assert!(matches!(accounts.put_subdomain("acc", "s1", &two("a")).unwrap(), Registered::Created(_)));
        assert!(matches!(accounts.put_subdomain("acc", "s2", &two("b")).unwrap(), Registered::Created(_)));
        assert_eq!(accounts.put_subdomain("acc", "s3", &two("c")).unwrap(), Registered::LimitReached);
        // Nothing stored for the refused one; existing ones still answer
        assert_eq!(accounts.subdomain("acc", "s3").unwrap(), None);
        assert_eq!(accounts.get("acc").unwrap().unwrap().subdomains, vec!["s1", "s2"]);
        assert!(matches!(accounts.put_subdomain("acc", "s1", &two("d")).unwrap(), Registered::Existing(_)));
        // Removing one makes room
        accounts.remove_subdomain("acc", "s1", 1).unwrap();
        assert!(matches!(accounts.put_subdomain("acc", "s3", &two("c")).unwrap(), Registered::Created(_)));
    }

    #[test]
    fn subdomains_register_once_and_tombstones_are_final() {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        assert_eq!(accounts.put_subdomain("acc", "sd", &plain("a")).unwrap(), Registered::NoAccount);
        accounts.mint_key("root", "acc", &create()).unwrap();
        assert_eq!(accounts.put_subdomain("acc", "sd", &plain("a")).unwrap(), Registered::Created(record("a")));
        assert_eq!(accounts.put_subdomain("acc", "sd", &plain("b")).unwrap(), Registered::Existing(record("a")));
        assert_eq!(accounts.get("acc").unwrap().unwrap().subdomains, vec!["sd"]);
        assert_eq!(accounts.subdomain("acc", "sd").unwrap(), Some(record("a")));
        assert_eq!(accounts.remove_subdomain("acc", "sd", 5).unwrap(), Some(record("a")));
        assert_eq!(accounts.remove_subdomain("acc", "sd", 6).unwrap(), None);
        assert!(accounts.get("acc").unwrap().unwrap().subdomains.is_empty());
        assert_eq!(accounts.subdomain("acc", "sd").unwrap(), None);
        assert_eq!(accounts.put_subdomain("acc", "sd", &plain("c")).unwrap(), Registered::Tombstoned);
    }

    fn signer(user: &str, keyid: &str, public: &str) -> SignerKey {
        SignerKey { user: user.into(), keyid: keyid.into(), public: public.into() }
    }

    fn put(use_signatures: Option<bool>, signer: Option<SignerKey>) -> SubdomainPut {
        SubdomainPut { new: record("a"), use_signatures, signer, max_subdomains: 1000 }
    }

    #[test]
    fn puts_check_signatures_and_store_nothing_when_refused() {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        accounts.mint_key("root", "acc", &create()).unwrap();
        let alice = signer("http://ex.org/alice", "alice1", "A");
        // Signatures without a signer: refused, nothing stored
        assert_eq!(accounts.put_subdomain("acc", "sd", &put(Some(true), None)).unwrap(), Registered::SignerRequired);
        assert_eq!(accounts.subdomain("acc", "sd").unwrap(), None);
        assert!(accounts.get("acc").unwrap().unwrap().subdomains.is_empty());
        let Registered::Created(created) =
            accounts.put_subdomain("acc", "sd", &put(Some(true), Some(alice.clone()))).unwrap()
        else {
            panic!("not created")
        };
        assert!(created.use_signatures);
        assert_eq!(created.signers, vec![alice.clone()]);
        // The flag cannot change; absent means as it is
        assert_eq!(accounts.put_subdomain("acc", "sd", &put(Some(false), None)).unwrap(), Registered::SignaturesDiffer);
        assert_eq!(accounts.put_subdomain("acc", "sd", &put(None, None)).unwrap(), Registered::SignerRequired);
        // Same signer again: no change; a second user and a second key of Alice's are added
        assert_eq!(
            accounts.put_subdomain("acc", "sd", &put(None, Some(alice.clone()))).unwrap(),
            Registered::Existing(created.clone())
        );
        let bob = signer("http://ex.org/bob", "bob_01", "B");
        let alice2 = signer("http://ex.org/alice", "alice2", "A2");
        accounts.put_subdomain("acc", "sd", &put(Some(true), Some(bob.clone()))).unwrap();
        accounts.put_subdomain("acc", "sd", &put(None, Some(alice2.clone()))).unwrap();
        // A key id bound elsewhere: to another user, or to another key
        let before = accounts.subdomain("acc", "sd").unwrap().unwrap();
        for taken in [signer("http://ex.org/eve", "alice1", "A"), signer("http://ex.org/alice", "alice1", "E")] {
            assert_eq!(accounts.put_subdomain("acc", "sd", &put(None, Some(taken))).unwrap(), Registered::KeyidTaken);
        }
        assert_eq!(accounts.subdomain("acc", "sd").unwrap().unwrap(), before);
        assert_eq!(before.signers, vec![alice, bob, alice2]);
        assert_eq!(accounts.get("acc").unwrap().unwrap().subdomains, vec!["sd"]);
        // Without signatures a user is not recorded
        let Registered::Created(plain) =
            accounts.put_subdomain("acc", "plain", &put(None, Some(signer("u:x", "xkey1", "X")))).unwrap()
        else {
            panic!("not created")
        };
        assert!(!plain.use_signatures && plain.signers.is_empty());
        assert_eq!(
            accounts.put_subdomain("acc", "plain", &put(Some(true), None)).unwrap(),
            Registered::SignaturesDiffer
        );
        // Removed names stay removed; unknown accounts are not found
        accounts.remove_subdomain("acc", "plain", 1).unwrap();
        assert_eq!(accounts.put_subdomain("acc", "plain", &put(None, None)).unwrap(), Registered::Tombstoned);
        assert_eq!(accounts.put_subdomain("nobody", "sd", &put(None, None)).unwrap(), Registered::NoAccount);
    }

    #[test]
    fn patch_existing_only() {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        let patch = AccountPatch::from_json("acc", &json!({"@insert": {"naming": "uuid"}})).unwrap();
        assert!(accounts.patch("acc", &patch).unwrap().is_none());
        accounts.mint_key("root", "acc", &create()).unwrap();
        assert!(accounts.patch("acc", &patch).unwrap().unwrap().allows_uuid());
        assert!(accounts.get("acc").unwrap().unwrap().allows_uuid());
    }
}
