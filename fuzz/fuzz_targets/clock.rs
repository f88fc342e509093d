//! Clock parsing: msgpack → `TreeClock::from_json` / `GlobalClock::from_json`,
//! then every clock operation on what parsed (alone, and pairwise when the
//! input is a pair of clocks). Nothing may panic, however odd the trees;
//! whatever parses must print back to the same clock.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meld_gateway::meld::msgpack;
use meld_gateway::meld::{GlobalClock, TickTree, TreeClock};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = msgpack::decode(data) else { return };
    let clock = TreeClock::from_json(&json).ok();
    if let Some(c) = &clock {
        assert_eq!(TreeClock::from_json(&c.to_json()).as_ref(), Ok(c));
        one(c);
    }
    let gwc = GlobalClock::from_json(&json).ok();
    if let Some(g) = &gwc {
        assert_eq!(GlobalClock::from_json(&g.to_json()).as_ref(), Ok(g));
        let _ = g.tids();
        let _ = g.deep_ticks();
        let _ = TreeClock::genesis().update(g);
    }
    // A pair: two clocks, or a clock and a GWC.
    if let Some([a, b]) = json.as_array() {
        let (ca, cb) = (TreeClock::from_json(a), TreeClock::from_json(b));
        if let (Ok(a), Ok(b)) = (&ca, &cb) {
            two(a, b);
            two(b, a);
        }
        if let (Ok(a), Ok(g)) = (&ca, GlobalClock::from_json(b)) {
            let _ = a.update(&g);
            let _ = g.any_lt(a);
            let _ = a.any_lt(&g);
            let _ = g.get_ticks(a);
            let _ = g.tid(a);
            if let Ok(set) = g.set(a) {
                let _ = set.tid(a);
                let _ = set.get_ticks(a);
            }
            let _ = g.set_tid(a, "x");
        }
    }
});

fn one(c: &TreeClock) {
    let _ = c.hash();
    let _ = c.to_string();
    let _ = c.hash_form();
    let _ = (c.ticks(), c.non_id_ticks(), c.is_zero_id(), c.has_id(), c.deep_ticks());
    let next = c.ticked();
    let _ = c.ticked_to(c.ticks().unwrap_or(0) / 2);
    let _ = c.forked();
    let _ = c.snapshot_fork(c.ticks().unwrap_or(0) / 2);
    let _ = GlobalClock::genesis().set(c);
    let _ = GlobalClock::genesis().tid(c);
    two(c, &next);
    two(&next, c);
}

fn two(a: &TreeClock, b: &TreeClock) {
    let _ = a.update(b);
    let _ = a.any_lt(b);
    let _ = a.any_non_id_lt(b);
    let _ = a.get_ticks(b);
    let _ = a.ticked_by(b);
}
