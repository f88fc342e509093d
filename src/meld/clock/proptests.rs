//! Property tests of the clock laws on generated *valid* clock families:
//! every clock is one process's current time in a domain grown from genesis
//! by ticks, forks and receipts (joins), as real clones grow it. Arbitrary
//! trees are not valid inputs for the laws (JS would refuse or misjudge
//! them too), so the generator only ever does what processes do.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;

use super::*;
use crate::meld::gwc::GlobalClock;
use crate::meld::value::Value;

/// Most processes in a generated domain.
const MAX_PROCESSES: usize = 6;

/// What one process does next; indices are taken modulo the processes
/// that exist at that point.
#[derive(Debug, Clone)]
enum Action {
    /// The process writes: one public tick.
    Tick(usize),
    /// The process forks off a new process (a new clone's snapshot).
    Fork(usize),
    /// The first process receives the second's current time.
    Receive(usize, usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => any::<usize>().prop_map(Action::Tick),
        1 => any::<usize>().prop_map(Action::Fork),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Action::Receive(a, b)),
    ]
}

/// A domain after some actions: every process's time, and the GWC that
/// records every tick (all ticks here are public).
#[derive(Debug)]
struct Domain {
    processes: Vec<TreeClock>,
    gwc: GlobalClock,
}

fn play(actions: &[Action]) -> Domain {
    let mut processes = vec![TreeClock::genesis()];
    let mut gwc = GlobalClock::genesis();
    for action in actions {
        let n = processes.len();
        match *action {
            Action::Tick(i) => {
                let time = processes[i % n].ticked();
                gwc = gwc.set(&time).unwrap_or_else(|e| panic!("gwc.set({time}): {e}"));
                processes[i % n] = time;
            }
            Action::Fork(i) if n < MAX_PROCESSES => {
                let (ours, theirs) = processes[i % n].forked().expect("every process has an ID");
                processes[i % n] = ours;
                processes.push(theirs);
            }
            Action::Fork(_) => {}
            Action::Receive(to, from) => {
                let (to, from) = (to % n, &processes[from % n]);
                let joined = processes[to].update(from).unwrap_or_else(|e| panic!("{} ⊔ {from}: {e}", processes[to]));
                processes[to] = joined;
            }
        }
    }
    Domain { processes, gwc }
}

fn domain() -> impl Strategy<Value = Domain> {
    prop::collection::vec(action(), 0..40).prop_map(|actions| play(&actions))
}

/// The tick structure of a clock without its ID: leaves as numbers, forks
/// as `[local, left, right]`. Joins keep the left operand's ID, so
/// commutativity holds of this form.
fn ticks_only(json: &Value) -> Value {
    match json.as_array() {
        None => json.clone(),
        Some([]) => Value::from(0u32),
        Some([t]) => t.clone(),
        Some([l, r]) => Value::Array(vec![Value::from(0u32), ticks_only(l), ticks_only(r)]),
        Some([t, l, r]) => Value::Array(vec![t.clone(), ticks_only(l), ticks_only(r)]),
        Some(_) => panic!("not a clock: {json:?}"),
    }
}

fn join(a: &TreeClock, b: &TreeClock) -> TreeClock {
    a.update(b).unwrap_or_else(|e| panic!("{a} ⊔ {b}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn join_is_commutative_associative_idempotent_and_an_upper_bound(d in domain()) {
        let ps = &d.processes;
        for a in ps {
            prop_assert_eq!(&join(a, a), a);
            for b in ps {
                let ab = join(a, b);
                prop_assert_eq!(ticks_only(&ab.to_json()), ticks_only(&join(b, a).to_json()), "{} {}", a, b);
                // The ID stays ours, and joining what we hold changes nothing.
                prop_assert_eq!(ab.ticks(), a.ticks());
                prop_assert_eq!(&join(&ab, b), &ab);
                prop_assert!(!ab.any_lt(a) && !ab.any_lt(b), "{} is not above {} and {}", ab, a, b);
                for c in ps {
                    prop_assert_eq!(join(&ab, c), join(a, &join(b, c)), "{} {} {}", a, b, c);
                }
            }
        }
    }

    #[test]
    fn ticking_advances_only_the_local_process(d in domain()) {
        for (i, c) in d.processes.iter().enumerate() {
            let t = c.ticks().expect("an ID");
            let next = c.ticked();
            prop_assert_eq!(next.ticks(), Some(t + 1));
            prop_assert_eq!(next.non_id_ticks(), c.non_id_ticks());
            prop_assert!(c.any_lt(&next) && !next.any_lt(c));
            for (j, other) in d.processes.iter().enumerate() {
                if i != j {
                    prop_assert_eq!(next.get_ticks(other), c.get_ticks(other), "{} of {}", c, other);
                }
            }
        }
    }

    #[test]
    fn forked_halves_are_concurrent(d in domain(), left_ticks in 1u64..4, right_ticks in 1u64..4) {
        for c in &d.processes {
            let (l, r) = c.forked().expect("an ID");
            // A fork is no event: same ticks, same TID, same knowledge.
            prop_assert_eq!(l.ticks(), c.ticks());
            prop_assert_eq!(r.ticks(), c.ticks());
            prop_assert_eq!(l.hash(), c.hash());
            prop_assert_eq!(r.hash(), c.hash());
            prop_assert!(!l.any_lt(&r) && !r.any_lt(&l));
            let (mut l2, mut r2) = (l.clone(), r.clone());
            for _ in 0..left_ticks {
                l2 = l2.ticked();
            }
            for _ in 0..right_ticks {
                r2 = r2.ticked();
            }
            // Neither half has seen the other's ticks: neither dominates.
            prop_assert!(l2.any_lt(&r2) && r2.any_lt(&l2), "{} vs {}", l2, r2);
            prop_assert_ne!(l2.hash(), r2.hash());
            prop_assert_eq!(l2.get_ticks(&r2), Ok(c.ticks().unwrap_or(0)));
            // Each half learns the other's ticks by joining.
            prop_assert_eq!(join(&l2, &r2).get_ticks(&r2), r2.ticks().ok_or(Error::NoId));
        }
    }

    #[test]
    fn json_and_hash_survive_round_trips(d in domain()) {
        for c in &d.processes {
            let json = c.to_json();
            let back = TreeClock::from_json(&json).expect("own JSON parses");
            prop_assert_eq!(&back, c);
            prop_assert_eq!(back.hash(), c.hash());
            // Through msgpack, as clocks travel in messages.
            let bytes = msgpack::encode(&json).expect("encodable");
            let decoded = TreeClock::from_json(&msgpack::decode(&bytes).expect("decodable")).expect("parses");
            prop_assert_eq!(decoded.hash(), c.hash());
            // Through JSON text (the Display form is JS's toString).
            let text: Value = serde_json::from_str(&c.to_string()).expect("JSON text");
            prop_assert_eq!(&TreeClock::from_json(&text).expect("parses"), c);
            // The direct hash-form writer agrees with the general encoder.
            prop_assert_eq!(msgpack::encode(&c.hash_form()).ok(), Some(c.hash_form_bytes()));
            prop_assert!(d.gwc.tid(c).is_ok(), "no TID for {}", c);
        }
        let gwc_json = d.gwc.to_json();
        prop_assert_eq!(&GlobalClock::from_json(&gwc_json).expect("own JSON parses"), &d.gwc);
        let bytes = msgpack::encode(&gwc_json).expect("encodable");
        prop_assert_eq!(&GlobalClock::from_json(&msgpack::decode(&bytes).expect("decodable")).expect("parses"), &d.gwc);
    }
}
