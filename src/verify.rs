//! Offline checks of a whole store, for `meld-gateway verify`: the account
//! trees (every record decodes; keys, subdomains and account lists refer to
//! each other consistently) and every backup clone's dataset (its integrity
//! digest and structure, `meld::Dataset::verify`, and its journal replayed,
//! `meld::integrity`). Reports problems as
//! lines; the command line decides how to show them.

use std::collections::HashSet;

use crate::accounts::{Account, AccountStore, Activation, KeyRecord, SubdomainId, SubdomainRecord};
use crate::meld::integrity::replay_journal;
use crate::meld::{Dataset, DatasetError};
use crate::store::{
    ACCOUNTS_TREE, ACTIVATIONS_TREE, KEYS_TREE, SUBDOMAINS_TREE, Store, StoreError, TOMBSTONES_TREE, clone_tree_prefix,
};

/// A backup clone's data found in the store: `(account, name)`.
pub type DomainRef = (String, String);

/// Every backup clone with data in the store, sorted, found by the names of
/// their root trees (`clone/<account>/<name>/root`).
pub fn stored_domains(store: &Store) -> Vec<DomainRef> {
    let mut found: Vec<DomainRef> = store
        .db()
        .tree_names()
        .iter()
        .filter_map(|name| {
            let name = std::str::from_utf8(name).ok()?;
            let rest = name.strip_prefix("clone/")?.strip_suffix("/root")?;
            let (account, name) = rest.split_once('/')?;
            (!name.contains('/')).then(|| (account.to_owned(), name.to_owned()))
        })
        .collect();
    found.sort();
    found
}

/// What checking one store (the accounts, or a domain) found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoreReport {
    /// Corruption: one line per problem.
    pub problems: Vec<String>,
    /// What could not be judged (not corruption), e.g. a journal that does
    /// not resolve under the configured gateway name.
    pub notes: Vec<String>,
}

/// Checks one backup clone's dataset, writing nothing: the dataset's own
/// checks, then its journal replayed against it and its clocks (read as the
/// domain `<name>.<account>.<gateway_domain>`).
pub fn check_domain(
    store: &Store,
    gateway_domain: &str,
    account: &str,
    name: &str,
) -> Result<StoreReport, DatasetError> {
    let dataset = match Dataset::inspect(store.db(), &clone_tree_prefix(account, name)) {
        Ok(Some(dataset)) => dataset,
        Ok(None) => return Ok(StoreReport::default()),
        // An interrupted removal leaves a root pointing at no data; the next
        // open finishes it. Only a registered subdomain's is corruption.
        Err(DatasetError::Corruption(detail)) => {
            let registered = AccountStore::new(store)
                .and_then(|a| a.subdomain(account, name))
                .map_err(|e| DatasetError::Corruption(format!("accounts: {e}")))?
                .is_some();
            return Ok(if registered {
                StoreReport { problems: vec![detail], notes: Vec::new() }
            } else {
                StoreReport { problems: Vec::new(), notes: vec![format!("leftovers of a removed subdomain: {detail}")] }
            });
        }
        Err(e) => return Err(e),
    };
    let mut report = StoreReport { problems: dataset.verify()?, notes: Vec::new() };
    let domain = SubdomainId { account: account.to_owned(), name: name.to_owned() }.to_domain(gateway_domain);
    let replay = replay_journal(&dataset, &domain)?;
    report.problems.extend(replay.problems);
    report.notes.extend(replay.inconclusive);
    Ok(report)
}

/// Checks the account trees; one line per problem.
pub fn check_accounts(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut accounts = Vec::new();
    for record in store.tree(ACCOUNTS_TREE)?.iter() {
        let (key, value) = record?;
        let key = String::from_utf8_lossy(&key).into_owned();
        match serde_json::from_slice::<Account>(&value) {
            Ok(account) if account.name != key => {
                problems.push(format!("accounts/{key}: record names account {:?}", account.name))
            }
            Ok(account) => accounts.push(account),
            Err(e) => problems.push(format!("accounts/{key}: does not decode: {e}")),
        }
    }
    let names: HashSet<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    let keys = store.tree(KEYS_TREE)?;
    for record in keys.iter() {
        let (key, value) = record?;
        let key = String::from_utf8_lossy(&key);
        match serde_json::from_slice::<KeyRecord>(&value) {
            Ok(rec) if !names.contains(rec.account.as_str()) => {
                problems.push(format!("keys/{key}: belongs to missing account {:?}", rec.account))
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("keys/{key}: does not decode: {e}")),
        }
    }
    let subdomains = store.tree(SUBDOMAINS_TREE)?;
    for record in subdomains.iter() {
        let (key, value) = record?;
        let key = String::from_utf8_lossy(&key).into_owned();
        let Some((account, name)) = key.split_once('/') else {
            problems.push(format!("subdomains/{key}: key is not <account>/<name>"));
            continue;
        };
        if let Err(e) = serde_json::from_slice::<SubdomainRecord>(&value) {
            problems.push(format!("subdomains/{key}: does not decode: {e}"));
        }
        match accounts.iter().find(|a| a.name == account) {
            None => problems.push(format!("subdomains/{key}: belongs to missing account {account:?}")),
            Some(acc) if !acc.subdomains.iter().any(|n| n == name) => {
                problems.push(format!("subdomains/{key}: not listed by its account"))
            }
            Some(_) => {}
        }
    }
    for account in &accounts {
        for keyid in &account.keyids {
            match keys.get(keyid)?.map(|v| serde_json::from_slice::<KeyRecord>(&v)) {
                None => problems.push(format!("accounts/{}: lists missing key {keyid:?}", account.name)),
                Some(Ok(rec)) if rec.account != account.name => problems
                    .push(format!("accounts/{}: lists key {keyid:?} of account {:?}", account.name, rec.account)),
                Some(_) => {}
            }
        }
        for name in &account.subdomains {
            if !subdomains.contains_key(format!("{}/{name}", account.name))? {
                problems.push(format!("accounts/{}: lists missing subdomain {name:?}", account.name));
            }
        }
    }
    for record in store.tree(TOMBSTONES_TREE)?.iter() {
        let (key, value) = record?;
        if value.len() != 8 || !key.contains(&b'/') {
            problems.push(format!("tombstones/{}: malformed", String::from_utf8_lossy(&key)));
        }
    }
    for record in store.tree(ACTIVATIONS_TREE)?.iter() {
        let (key, value) = record?;
        if key.len() != 32 || serde_json::from_slice::<Activation>(&value).is_err() {
            problems.push(format!("activations/{}: malformed", hex::encode(&key)));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountStore;

    #[test]
    fn accounts_checks_find_dangling_and_undecodable_records() {
        let store = Store::temporary().unwrap();
        let accounts = AccountStore::new(&store).unwrap();
        accounts.ensure_account("acc").unwrap();
        assert_eq!(check_accounts(&store).unwrap(), Vec::<String>::new());
        store.tree(KEYS_TREE).unwrap().insert("k1", br#"{"account":"ghost"}"#.as_slice()).unwrap();
        store.tree(SUBDOMAINS_TREE).unwrap().insert("ghost/sd", b"{".as_slice()).unwrap();
        let mut acc = Account::new("acc");
        acc.subdomains.push("gone".into());
        store.tree(ACCOUNTS_TREE).unwrap().insert("acc", serde_json::to_vec(&acc).unwrap()).unwrap();
        store.tree(ACCOUNTS_TREE).unwrap().insert("bad", b"\x00".as_slice()).unwrap();
        let problems = check_accounts(&store).unwrap().join("\n");
        for expected in [
            "keys/k1: does not decode",
            "subdomains/ghost/sd: does not decode",
            "subdomains/ghost/sd: belongs to missing account",
            "accounts/acc: lists missing subdomain \"gone\"",
            "accounts/bad: does not decode",
        ] {
            assert!(problems.contains(expected), "{expected:?} not in:\n{problems}");
        }
    }

    #[test]
    fn stored_domains_are_found_by_their_root_trees() {
        let store = Store::temporary().unwrap();
        Dataset::open(store.db(), &clone_tree_prefix("acc", "b")).unwrap();
        Dataset::open(store.db(), &clone_tree_prefix("acc", "a")).unwrap();
        assert_eq!(stored_domains(&store), [("acc".into(), "a".into()), ("acc".into(), "b".into())]);
        assert_eq!(check_domain(&store, "ex.org", "acc", "a").unwrap(), StoreReport::default());
        assert_eq!(check_domain(&store, "ex.org", "acc", "none").unwrap(), StoreReport::default());
    }

    #[test]
    fn an_interrupted_removal_is_a_note_not_corruption() {
        let store = Store::temporary().unwrap();
        let prefix = clone_tree_prefix("acc", "gone");
        Dataset::open(store.db(), &prefix).unwrap();
        // As delete_all leaves it after a crash: the root at an empty generation
        store.db().open_tree(format!("{prefix}/root")).unwrap().insert(b"gen", &9u64.to_be_bytes()).unwrap();
        let report = check_domain(&store, "ex.org", "acc", "gone").unwrap();
        assert!(report.problems.is_empty(), "{report:?}");
        assert!(report.notes[0].contains("leftovers of a removed subdomain"), "{report:?}");
    }
}
