//! Property tests of the m-ld engine through its public API.
//!
//! SU-Set convergence: several processes, forked from a backup clone's
//! snapshot answer as JS clones would be, write concurrently (inserts, and
//! deletes of what they have seen, by TID) and exchange operations among
//! themselves. The whole set of operations is then delivered to fresh clones
//! in different orders — causal orders, and per-sender FIFO interleavings
//! that leave the clone's ordering buffer to restore causality — with some
//! re-deliveries. Every clone must end with the same triples and TIDs: all
//! inserted (triple, TID) pairs less all deleted ones.
//!
//! List index entailment: the same, with processes inserting and deleting
//! list positions and slot items; every clone must also end with the same
//! entailed slot indexes, each slot's being the rank of its position.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use meld_gateway::meld::control::{ACK, Control};
use meld_gateway::meld::list::POS_ID_PREFIX;
use meld_gateway::meld::{
    CloneConfig, Context, Dataset, Input, Literal, MeldClone, MeldOperation, OperationMessage, Output, Params, Term,
    TidPatch, TidSet, TreeClock, Triple,
};
use proptest::prelude::*;

const DOMAIN: &str = "props.example.org";
const XS_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";

/// The triple `<s{s}> <#p{p}> "o{o}"` of a small universe, so that
/// processes often touch the same triples.
fn triple(s: u8, p: u8, o: u8) -> Triple {
    Triple::new(
        Term::iri(format!("http://{DOMAIN}/s{}", s % 4)),
        format!("http://{DOMAIN}/#p{}", p % 2),
        Term::Literal(Literal::new(format!("o{}", o % 3), XS_STRING)),
    )
}

/// What happens next in the simulated domain; indices are taken modulo
/// the number of processes (or of triples a process sees).
#[derive(Debug, Clone)]
enum Step {
    /// A process writes: deletes some triples it sees (with all the TIDs
    /// it sees them with) and inserts some triples.
    Write { process: usize, deletes: Vec<usize>, inserts: Vec<(u8, u8, u8)> },
    /// A process receives every operation another has seen.
    Sync { to: usize, from: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any::<usize>(), prop::collection::vec(any::<usize>(), 0..3), prop::collection::vec(any::<(u8, u8, u8)>(), 0..4))
            .prop_map(|(process, deletes, inserts)| Step::Write { process, deletes, inserts }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(to, from)| Step::Sync { to, from }),
    ]
}

/// A process's view: its clock, last public tick, the operations it has
/// seen and the SU-Set they make.
struct Process {
    time: TreeClock,
    last_public: u64,
    seen: BTreeSet<usize>,
    state: BTreeMap<Triple, TidSet>,
}

/// An operation as broadcast, with what it does and the operations its
/// writer had seen (its causal past).
struct Op {
    process: usize,
    message: Vec<u8>,
    time: TreeClock,
    patch: TidPatch,
    past: BTreeSet<usize>,
}

fn apply(state: &mut BTreeMap<Triple, TidSet>, patch: &TidPatch) {
    for (triple, tids) in &patch.deletes {
        if let Some(ours) = state.get_mut(triple) {
            ours.retain(|t| !tids.contains(t));
            if ours.is_empty() {
                state.remove(triple);
            }
        }
    }
    for (triple, tids) in &patch.inserts {
        state.entry(triple.clone()).or_default().extend(tids.iter().cloned());
    }
}

/// Makes the triples of one insert: (operation index, process, insert
/// index, random parts).
type Make = dyn Fn(usize, usize, usize, (u8, u8, u8)) -> Vec<Triple>;

/// The SU-Set workload's inserts: one triple of the small universe.
fn plain(_: usize, _: usize, _: usize, (s, p, o): (u8, u8, u8)) -> Vec<Triple> {
    vec![triple(s, p, o)]
}

const LIST: &str = "http://props.example.org/list";
const ITEM: &str = "http://json-rql.org/#item";
const INDEX: &str = "http://json-rql.org/#index";

/// The list workload's inserts: a position (posIds collide across
/// processes only in their first character, so concurrent inserts
/// interleave) to a fresh slot, and the slot's item.
fn list_item(op: usize, process: usize, j: usize, (pos, _, o): (u8, u8, u8)) -> Vec<Triple> {
    let slot = Term::iri(format!("http://{DOMAIN}/.well-known/genid/s{op}-{j}"));
    vec![
        Triple::new(Term::iri(LIST), format!("{POS_ID_PREFIX}{}p{process}", pos % 8), slot.clone()),
        Triple::new(slot, ITEM, Term::Literal(Literal::new(format!("o{}", o % 3), XS_STRING))),
    ]
}

/// Each slot's index in a state: the rank of its position's posId.
fn ranks(state: &BTreeMap<Triple, TidSet>) -> BTreeMap<Term, String> {
    let mut positions: Vec<(&str, &Term)> =
        state.keys().filter_map(|t| Some((t.predicate.strip_prefix(POS_ID_PREFIX)?, &t.object))).collect();
    positions.sort();
    positions.into_iter().enumerate().map(|(rank, (_, slot))| (slot.clone(), rank.to_string())).collect()
}

/// Plays the steps with `processes` processes forked from `remote` (the
/// clock a clone's snapshot answer gave); returns the operations in the
/// order they were written.
fn play(remote: &TreeClock, processes: usize, steps: &[Step], make: &Make) -> Vec<Op> {
    let ctx = Context::operation(DOMAIN);
    let mut clocks = vec![remote.clone()];
    while clocks.len() < processes {
        let last = clocks.pop().unwrap();
        let (ours, theirs) = last.forked().unwrap();
        clocks.extend([ours, theirs]);
    }
    let mut ps: Vec<Process> = clocks
        .into_iter()
        .map(|time| Process { time, last_public: 0, seen: BTreeSet::new(), state: BTreeMap::new() })
        .collect();
    let mut ops: Vec<Op> = Vec::new();
    for step in steps {
        match step {
            Step::Write { process, deletes, inserts } => {
                let i = process % ps.len();
                let p = &mut ps[i];
                let time = p.time.ticked();
                let tid = time.hash();
                let visible: Vec<(&Triple, &TidSet)> = p.state.iter().collect();
                let mut deleted = BTreeMap::new();
                for d in deletes {
                    if !visible.is_empty() {
                        let (t, tids) = visible[d % visible.len()];
                        deleted.insert(t.clone(), tids.clone());
                    }
                }
                let inserted: BTreeSet<Triple> =
                    inserts.iter().enumerate().flat_map(|(j, &spo)| make(ops.len(), i, j, spo)).collect();
                if deleted.is_empty() && inserted.is_empty() {
                    continue;
                }
                let patch = TidPatch {
                    deletes: deleted.into_iter().collect(),
                    inserts: inserted.into_iter().map(|t| (t, TidSet::from([tid.clone()]))).collect(),
                };
                let ticks = time.ticks().unwrap();
                let op = MeldOperation::new(&ctx, ticks, time.clone(), patch.clone(), None, None, None).unwrap();
                let message = OperationMessage { prev: p.last_public, enc: op.enc().to_vec(), attr: None };
                apply(&mut p.state, &patch);
                let past = p.seen.clone();
                p.seen.insert(ops.len());
                p.time = time.clone();
                p.last_public = ticks;
                ops.push(Op { process: i, message: message.encode().unwrap(), time, patch, past });
            }
            Step::Sync { to, from } => {
                let (to, from) = (to % ps.len(), from % ps.len());
                // In writing order, which is causal, so `to` stays closed
                // under causal pasts.
                for (k, op) in ops.iter().enumerate() {
                    if ps[from].seen.contains(&k) && !ps[to].seen.contains(&k) {
                        let p = &mut ps[to];
                        p.time = p.time.update(&op.time).unwrap();
                        apply(&mut p.state, &op.patch);
                        p.seen.insert(k);
                    }
                }
            }
        }
    }
    ops
}

/// A small deterministic generator for delivery orders.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A random causal order: each next operation has its whole past delivered.
fn causal_order(ops: &[Op], rng: &mut Rng) -> Vec<usize> {
    let mut done = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < ops.len() {
        let ready: Vec<usize> = (0..ops.len()).filter(|k| !done.contains(k) && ops[*k].past.is_subset(&done)).collect();
        let k = ready[rng.below(ready.len())];
        done.insert(k);
        order.push(k);
    }
    order
}

/// A random interleaving of the processes' operations, each process's in
/// its own order (as the relay delivers them) but not necessarily causal.
fn fifo_order(ops: &[Op], processes: usize, rng: &mut Rng) -> Vec<usize> {
    let mut queues: Vec<Vec<usize>> = vec![Vec::new(); processes];
    for (k, op) in ops.iter().enumerate().rev() {
        queues[op.process].push(k);
    }
    let mut order = Vec::new();
    while order.len() < ops.len() {
        let nonempty: Vec<usize> = (0..processes).filter(|&p| !queues[p].is_empty()).collect();
        let p = nonempty[rng.below(nonempty.len())];
        order.extend(queues[p].pop());
    }
    order
}

fn params(from: &str, message: &str) -> Params {
    Params { from_id: from.into(), to_id: "gw".into(), message_id: Some(message.into()), ..Params::default() }
}

/// A live genesis backup clone that has answered one snapshot request,
/// with the clock it issued.
fn clone_with_remote() -> (sled::Db, MeldClone, TreeClock) {
    let now = Instant::now();
    let db = sled::Config::new().temporary(true).open().unwrap();
    let dataset = Dataset::open(&db, "p").unwrap();
    let config = CloneConfig { id: "gw".into(), domain: DOMAIN.into(), genesis: true };
    let mut clone = MeldClone::open(dataset, config).unwrap();
    clone.handle(Input::Presence(vec![]), now).unwrap();
    let request = Control::SnapshotRequest { new_clock: true }.encode().unwrap();
    let out = clone.handle(Input::Send(params("r", "m1"), request), now).unwrap();
    let [Output::Reply(reply, payload)] = &out[..] else { panic!("{out:?}") };
    let (Control::SnapshotResponse { clock: Some(theirs), .. }, _) = Control::decode(payload).unwrap() else {
        panic!("not a snapshot response")
    };
    let ack = Params { sent_message_id: reply.message_id.clone(), ..params("r", "m2") };
    clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap();
    (db, clone, theirs)
}

/// A clone's state: its triples with their TIDs, and its entailed slot
/// indexes.
type State = (BTreeMap<Triple, TidSet>, BTreeMap<Term, String>);

/// Delivers the operations in `order` to a fresh clone (re-delivering an
/// earlier one now and then) and returns its state.
fn deliver(ops: &[Op], order: &[usize], remote: &TreeClock, rng: &mut Rng) -> State {
    let (_db, mut clone, theirs) = clone_with_remote();
    assert_eq!(&theirs, remote, "snapshot forks are deterministic");
    let now = Instant::now();
    for (n, &k) in order.iter().enumerate() {
        let out = clone.handle(Input::Operation(ops[k].message.clone()), now).unwrap();
        assert!(out.is_empty(), "{out:?}");
        if rng.below(4) == 0 {
            let again = order[rng.below(n + 1)];
            clone.handle(Input::Operation(ops[again].message.clone()), now).unwrap();
        }
    }
    assert_eq!(clone.dataset().entries_after(0).count(), ops.len(), "every operation applied exactly once");
    let (mut triples, mut indexes) = (BTreeMap::new(), BTreeMap::new());
    for t in clone.dataset().triples() {
        let t = t.unwrap();
        if t.entailed {
            assert_eq!((t.triple.predicate.as_str(), t.tids.len()), (INDEX, 0), "only indexes are entailed");
            let Term::Literal(index) = t.triple.object else { panic!("index {t:?}") };
            assert!(indexes.insert(t.triple.subject, index.lexical).is_none(), "one index per slot");
        } else {
            triples.insert(t.triple, t.tids);
        }
    }
    (triples, indexes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn concurrent_operations_converge_in_any_causal_order(
        processes in 2usize..=4,
        steps in prop::collection::vec(step(), 4..24),
        seeds in prop::collection::vec(1u64..u64::MAX, 2..=3),
    ) {
        let (_db, _clone, remote) = clone_with_remote();
        let ops = play(&remote, processes, &steps, &plain);
        let mut expected = BTreeMap::new();
        for op in &ops {
            apply(&mut expected, &op.patch);
        }
        // Set-theoretically: every insert not deleted by a later operation.
        let deleted: BTreeSet<(&Triple, &String)> =
            ops.iter().flat_map(|o| o.patch.deletes.iter().flat_map(|(t, ids)| ids.iter().map(move |i| (t, i)))).collect();
        let survivors: usize = ops
            .iter()
            .flat_map(|o| o.patch.inserts.iter().flat_map(|(t, ids)| ids.iter().map(move |i| (t, i))))
            .filter(|pair| !deleted.contains(pair))
            .count();
        prop_assert_eq!(expected.values().map(BTreeSet::len).sum::<usize>(), survivors);

        let mut orders = vec![(0..ops.len()).collect::<Vec<_>>()];
        for (n, seed) in seeds.iter().enumerate() {
            let mut rng = Rng(*seed);
            orders.push(if n % 2 == 0 { causal_order(&ops, &mut rng) } else { fifo_order(&ops, processes, &mut rng) });
        }
        for (n, order) in orders.iter().enumerate() {
            let got = deliver(&ops, order, &remote, &mut Rng((seeds[0] ^ n as u64 ^ 0x5eed) | 1));
            prop_assert_eq!(&got, &(expected.clone(), BTreeMap::new()), "order {:?}", order);
        }
    }

    #[test]
    fn list_indexes_converge_to_position_ranks_in_any_order(
        processes in 2usize..=4,
        steps in prop::collection::vec(step(), 4..24),
        seeds in prop::collection::vec(1u64..u64::MAX, 2..=3),
    ) {
        let (_db, _clone, remote) = clone_with_remote();
        let ops = play(&remote, processes, &steps, &list_item);
        let mut expected = BTreeMap::new();
        for op in &ops {
            apply(&mut expected, &op.patch);
        }
        let want = (expected.clone(), ranks(&expected));
        let mut orders = vec![(0..ops.len()).collect::<Vec<_>>()];
        for (n, seed) in seeds.iter().enumerate() {
            let mut rng = Rng(*seed);
            orders.push(if n % 2 == 0 { causal_order(&ops, &mut rng) } else { fifo_order(&ops, processes, &mut rng) });
        }
        for (n, order) in orders.iter().enumerate() {
            let got = deliver(&ops, order, &remote, &mut Rng((seeds[0] ^ n as u64 ^ 0x11575) | 1));
            prop_assert_eq!(&got, &want, "order {:?}", order);
        }
    }
}
