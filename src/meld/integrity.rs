//! Replaying a stored clone's journal against its dataset and clocks, as
//! far as the journal goes (offline verification; the dataset's own checks
//! are `Dataset::verify`). The journal holds every operation applied since
//! the last snapshot, so replaying it must agree with what is stored:
//!
//! - every journalled operation decodes, and its TID is its time's hash;
//! - every (triple, TID) it inserted is present, unless a later journalled
//!   operation deleted it (a delete names TIDs, so only later ones can);
//! - the clone's clock and its GWC have seen each operation's time.
//!
//! Triples from before the journal (a snapshot's) cannot be replayed and are
//! not checked here. A dataset marked unsupported is known to differ from
//! its operations, so its replay is skipped.

use std::collections::HashSet;

use super::clock::TickTree;
use super::dataset::{Dataset, DatasetError};
use super::jsonld::Context;
use super::op::MeldOperation;

/// Problems reported before the rest are summarised.
const MAX_PROBLEMS: usize = 20;

/// What replaying a journal found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replay {
    /// One line per inconsistency (capped).
    pub problems: Vec<String>,
    /// Why the replay said nothing, if it could not judge (e.g. the
    /// operations do not resolve against this domain name at all).
    pub inconclusive: Option<String>,
}

/// Replays `dataset`'s journal, its operations read as the domain `domain`'s.
pub fn replay_journal(dataset: &Dataset, domain: &str) -> Result<Replay, DatasetError> {
    let mut replay = Replay::default();
    if let Some(why) = dataset.unsupported()? {
        replay.inconclusive = Some(format!("not replayed: the dataset is marked unsupported ({why})"));
        return Ok(replay);
    }
    let ctx = Context::operation(domain);
    let state = dataset.state()?;
    let mut more = 0usize;
    let mut problem = |line: String, replay: &mut Replay| {
        if replay.problems.len() < MAX_PROBLEMS {
            replay.problems.push(line);
        } else {
            more += 1;
        }
    };
    // (SPO identity of the triple, TID) inserted and not deleted since
    let mut live: Vec<(super::term::Triple, String, u64)> = Vec::new();
    let mut deleted: HashSet<(Vec<u8>, String)> = HashSet::new();
    for entry in dataset.entries_after(0) {
        let entry = entry?;
        let Some(bytes) = dataset.operation(&entry.tid)? else { continue }; // reported by Dataset::verify
        let op = match MeldOperation::decode(&ctx, &bytes) {
            Ok(op) => op,
            Err(e) => {
                problem(format!("journal: operation at tick {} does not decode: {e}", entry.tick), &mut replay);
                continue;
            }
        };
        if op.tid() != entry.tid {
            problem(format!("journal: operation at tick {} has another TID than its entry", entry.tick), &mut replay);
        }
        if let Some(state) = &state {
            let seen = |ticks: Result<u64, super::Error>| ticks.is_ok_and(|t| t >= op.ticks());
            if !seen(state.time.get_ticks(op.time())) {
                problem(format!("clock: has not seen the operation at tick {}", entry.tick), &mut replay);
            }
            if !seen(state.gwc.get_ticks(op.time())) {
                problem(format!("GWC: has not seen the operation at tick {}", entry.tick), &mut replay);
            }
        }
        for (triple, tids) in &op.patch().deletes {
            for tid in tids {
                deleted.insert((identity(triple), tid.clone()));
            }
        }
        for (triple, tids) in &op.patch().inserts {
            for tid in tids {
                // A delete of the same (triple, TID) journalled earlier
                // cannot exist causally; only later ones count
                deleted.remove(&(identity(triple), tid.clone()));
                live.push((triple.clone(), tid.clone(), entry.tick));
            }
        }
    }
    let mut expected = 0usize;
    let mut found = 0usize;
    for (triple, tid, tick) in live {
        if deleted.contains(&(identity(&triple), tid.clone())) {
            continue;
        }
        expected += 1;
        match dataset.get(&triple)? {
            Some(stored) if stored.tids.contains(&tid) => found += 1,
            _ => problem(format!("journal: a triple inserted at tick {tick} is missing from the dataset"), &mut replay),
        }
    }
    if expected > 0 && found == 0 && !has_base(dataset, ctx.base())? {
        // Nothing at all resolves and no stored subject is under this
        // domain's base: the operations were read as another domain's than
        // the one they were written in (verify run with another gateway
        // name), which says nothing of the data
        replay.problems.clear();
        more = 0;
        replay.inconclusive =
            Some(format!("not replayed: no journalled triple resolves as domain {domain}; is the gateway name right?"));
    }
    if more > 0 {
        replay.problems.push(format!("… and {more} more problems"));
    }
    Ok(replay)
}

/// Whether any of the first stored triples has a subject under `base`.
fn has_base(dataset: &Dataset, base: &str) -> Result<bool, DatasetError> {
    for stored in dataset.triples().take(10_000) {
        if let super::term::Term::Iri(iri) = &stored?.triple.subject
            && iri.starts_with(base)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A triple's identity in the dataset (its SPO key; literal data aside).
fn identity(triple: &super::term::Triple) -> Vec<u8> {
    let mut out = super::dataset::encode_term(&triple.subject);
    out.extend(super::dataset::encode_term(&super::term::Term::iri(&triple.predicate)));
    out.extend(super::dataset::encode_term(&triple.object));
    out
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::meld::term::{Literal, Term, Triple, XS_STRING};
    use crate::meld::{CloneConfig, MeldClone};

    const DOMAIN: &str = "sd.acc.ex.org";

    fn triple(s: &str, o: &str) -> Triple {
        Triple::new(
            Term::iri(format!("http://{DOMAIN}/{s}")),
            format!("http://{DOMAIN}/#p"),
            Term::Literal(Literal::new(o, XS_STRING)),
        )
    }

    /// A genesis clone that wrote three triples and deleted one.
    fn written(db: &sled::Db) -> MeldClone {
        let dataset = Dataset::open(db, "t").unwrap();
        let config = CloneConfig { id: "gw".into(), domain: DOMAIN.into(), genesis: true };
        let mut clone = MeldClone::open(dataset, config).unwrap();
        let now = Instant::now();
        clone.write(&[], &[triple("a", "1"), triple("b", "2")], now).unwrap();
        clone.write(&[], &[triple("c", "3")], now).unwrap();
        clone.write(&[triple("a", "1")], &[], now).unwrap();
        clone
    }

    #[test]
    fn a_written_journal_replays_cleanly() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let clone = written(&db);
        assert_eq!(replay_journal(clone.dataset(), DOMAIN).unwrap(), Replay::default());
        // Read as another domain's, nothing resolves: inconclusive, not corrupt
        let other = replay_journal(clone.dataset(), "sd.acc.elsewhere.org").unwrap();
        assert!(other.problems.is_empty(), "{other:?}");
        assert!(other.inconclusive.unwrap().contains("gateway name"));
    }

    #[test]
    fn a_triple_lost_behind_the_journal_is_found() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let clone = written(&db);
        // Remove c's triple from spo directly, as a damaged store would
        let spo = db.open_tree("t/g0/spo").unwrap();
        let c = crate::meld::dataset::encode_term(&triple("c", "3").subject);
        let (key, _) = spo.scan_prefix(&c).next().unwrap().unwrap();
        spo.remove(key).unwrap();
        let replay = replay_journal(clone.dataset(), DOMAIN).unwrap();
        assert_eq!(replay.problems.len(), 1, "{replay:?}");
        assert!(replay.problems[0].contains("missing from the dataset"), "{replay:?}");
    }

    #[test]
    fn clocks_behind_the_journal_are_found() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let clone = written(&db);
        clone.dataset().save_state(&crate::meld::dataset::JournalState::genesis()).unwrap();
        let problems = replay_journal(clone.dataset(), DOMAIN).unwrap().problems.join("\n");
        assert!(problems.contains("clock: has not seen"), "{problems}");
        assert!(problems.contains("GWC: has not seen"), "{problems}");
    }
}
