//! The clone state machine against a scripted remote process: operations are
//! built with a clock forked by the clone's own snapshot answer, as a JS
//! clone's would be.

use std::time::{Duration, Instant};

use super::*;
use crate::meld::clock::TreeClock;
use crate::meld::control::{ACK, Control, Notification, SnapshotDatum};
use crate::meld::op::{MeldOperation, OperationMessage};
use crate::meld::term::{Term, TidSet, Triple, XS_STRING};
use crate::meld::{Literal, TidPatch};

const DOMAIN: &str = "sd.acc.ex.org";

fn db() -> sled::Db {
    sled::Config::new().temporary(true).open().unwrap()
}

fn open(db: &sled::Db, genesis: bool) -> MeldClone {
    let dataset = Dataset::open(db, "t").unwrap();
    MeldClone::open(dataset, CloneConfig { id: "gw".into(), domain: DOMAIN.into(), genesis }).unwrap()
}

fn triple(s: &str, p: &str, o: &str) -> Triple {
    Triple::new(
        Term::iri(format!("http://{DOMAIN}/{s}")),
        format!("http://{DOMAIN}/#{p}"),
        Term::Literal(Literal::new(o, XS_STRING)),
    )
}

fn params(from: &str, to: &str, message: &str) -> Params {
    Params { from_id: from.into(), to_id: to.into(), message_id: Some(message.into()), ..Params::default() }
}

fn all_triples(clone: &MeldClone) -> Vec<Triple> {
    clone.dataset().triples().map(|t| t.unwrap().triple).collect()
}

/// A remote process with its own clock, writing unfused operations.
struct Remote {
    time: TreeClock,
    last_public: u64,
}

impl Remote {
    fn write(&mut self, inserts: &[Triple], deletes: Vec<(Triple, TidSet)>) -> (Vec<u8>, String) {
        let time = self.time.ticked();
        let tid = time.hash();
        let patch =
            TidPatch { deletes, inserts: inserts.iter().map(|t| (t.clone(), TidSet::from([tid.clone()]))).collect() };
        let ticks = time.ticks().unwrap();
        let op = MeldOperation::new(&Context::operation(DOMAIN), ticks, time.clone(), patch, None, None, None).unwrap();
        let msg = OperationMessage { prev: self.last_public, enc: op.enc().to_vec(), attr: None };
        self.time = time;
        self.last_public = ticks;
        (msg.encode().unwrap(), tid)
    }
}

/// A live genesis clone and a remote process forked from it by a snapshot.
fn live_with_remote(db: &sled::Db) -> (MeldClone, Remote, Instant) {
    let now = Instant::now();
    let mut clone = open(db, true);
    let out = clone.handle(Input::Presence(vec![]), now).unwrap();
    assert_eq!(out, vec![Output::Present(true)], "alone, the clone is the silo");
    let request = Control::SnapshotRequest { new_clock: true }.encode().unwrap();
    let out = clone.handle(Input::Send(params("r", "gw", "m1"), request), now).unwrap();
    let [Output::Reply(reply, payload)] = &out[..] else { panic!("{out:?}") };
    assert_eq!(reply.sent_message_id.as_deref(), Some("m1"));
    let (Control::SnapshotResponse { clock: Some(theirs), .. }, _) = Control::decode(payload).unwrap() else {
        panic!("not a snapshot response")
    };
    let ack = Params { sent_message_id: reply.message_id.clone(), ..params("r", "gw", "m2") };
    clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap();
    (clone, Remote { time: theirs, last_public: 0 }, now)
}

#[test]
fn applies_remote_operations_once_and_in_causal_order() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    let (op1, _) = remote.write(&[triple("fred", "name", "Fred")], vec![]);
    let (op2, _) = remote.write(&[triple("wilma", "name", "Wilma")], vec![]);
    clone.handle(Input::Operation(op1.clone()), now).unwrap();
    assert_eq!(all_triples(&clone).len(), 1);
    let entries = clone.dataset().entries_after(0).count();
    // Re-delivery changes nothing
    clone.handle(Input::Operation(op1), now).unwrap();
    assert_eq!(clone.dataset().entries_after(0).count(), entries);
    clone.handle(Input::Operation(op2), now).unwrap();
    assert_eq!(all_triples(&clone).len(), 2);
    // A delete names the TIDs it removes
    let fred = clone.dataset().get(&triple("fred", "name", "Fred")).unwrap().unwrap();
    let (op3, _) = remote.write(&[], vec![(fred.triple, fred.tids)]);
    clone.handle(Input::Operation(op3), now).unwrap();
    assert_eq!(all_triples(&clone), vec![triple("wilma", "name", "Wilma")]);
}

#[test]
fn a_gap_in_a_process_triggers_a_revup() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    clone.handle(Input::Presence(vec!["gw".into(), "r".into()]), now).unwrap();
    let _lost = remote.write(&[triple("a", "p", "1")], vec![]);
    let (op2, _) = remote.write(&[triple("b", "p", "2")], vec![]);
    let out = clone.handle(Input::Operation(op2), now).unwrap();
    assert!(all_triples(&clone).is_empty(), "nothing applied past a gap");
    let [Output::Send(to, payload)] = &out[..] else { panic!("{out:?}") };
    assert_eq!(to.to_id, "r");
    assert!(matches!(Control::decode(payload).unwrap().0, Control::RevupRequest { .. }));
}

#[test]
fn snapshot_answers_stream_every_triple_and_each_process_past() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    let written: Vec<Triple> = (0..25).map(|i| triple(&format!("s{i}"), "n", &i.to_string())).collect();
    for chunk in written.chunks(5) {
        let (op, _) = remote.write(chunk, vec![]);
        clone.handle(Input::Operation(op), now).unwrap();
    }
    let request = Control::SnapshotRequest { new_clock: true }.encode().unwrap();
    let out = clone.handle(Input::Send(params("n", "gw", "q"), request), now).unwrap();
    let [Output::Reply(reply, payload)] = &out[..] else { panic!("{out:?}") };
    let (Control::SnapshotResponse { clock: Some(theirs), data_address, updates_address, .. }, _) =
        Control::decode(payload).unwrap()
    else {
        panic!("not a snapshot response")
    };
    // The new clone's clock is a fork: same TID as our last public time
    assert_ne!(theirs, clone.state().time);
    // An operation arriving before the ACK is held, then forwarded and applied
    let (late, _) = remote.write(&[triple("late", "n", "x")], vec![]);
    assert!(clone.handle(Input::Operation(late.clone()), now).unwrap().is_empty());
    assert_eq!(all_triples(&clone).len(), 25);
    let ack = Params { sent_message_id: reply.message_id.clone(), ..params("n", "gw", "a") };
    let out = clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap();
    let ctx = Context::operation(DOMAIN);
    let (mut triples, mut pasts, mut updates, mut completes) = (Vec::new(), 0, Vec::new(), 0);
    for o in out {
        let Output::Notify(p, payload) = o else { panic!("{o:?}") };
        assert_eq!(p.to_id, "n");
        match Notification::decode(&payload).unwrap() {
            Notification::Next(item) if p.channel_id.as_ref() == Some(&data_address) => {
                match SnapshotDatum::decode(&item).unwrap() {
                    datum @ SnapshotDatum::Inserts { .. } => triples.extend(datum.triples(&ctx).unwrap()),
                    datum @ SnapshotDatum::Operation(_) => {
                        let op = datum.to_operation(&ctx).unwrap();
                        assert_eq!((op.from(), op.is_fused()), (1, true), "the remote's 5 writes, fused");
                        pasts += 1;
                    }
                }
            }
            Notification::Next(item) => {
                assert_eq!(p.channel_id.as_ref(), Some(&updates_address));
                updates.push(item);
            }
            Notification::Complete => completes += 1,
            Notification::Error(e) => panic!("{e:?}"),
        }
    }
    let mut sent: Vec<Triple> = triples.into_iter().map(|(t, _)| t).collect();
    sent.sort();
    let mut expected = written.clone();
    expected.sort();
    assert_eq!(sent, expected, "exactly the data as of the response");
    assert_eq!((pasts, completes), (1, 2));
    assert_eq!(updates, vec![late]);
    assert_eq!(all_triples(&clone).len(), 26, "the held operation is applied after the ACK");
}

#[test]
fn revup_answers_send_what_the_requester_has_not_seen() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    let (op1, _) = remote.write(&[triple("a", "p", "1")], vec![]);
    clone.handle(Input::Operation(op1), now).unwrap();
    let remote_time = remote.time.clone();
    // Our own write, which the remote has not seen
    let (out, changed) = clone.write(&[], &[triple("b", "p", "2")], now).unwrap();
    assert!(changed && matches!(&out[..], [Output::Operation(_)]));
    let request = Control::RevupRequest { time: remote_time }.encode().unwrap();
    let out = clone.handle(Input::Send(params("r", "gw", "q"), request), now).unwrap();
    let [Output::Reply(reply, payload)] = &out[..] else { panic!("{out:?}") };
    let (Control::RevupResponse { gwc: Some(_), updates_address }, _) = Control::decode(payload).unwrap() else {
        panic!("revup refused")
    };
    let ack = Params { sent_message_id: reply.message_id.clone(), ..params("r", "gw", "a") };
    let out = clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap();
    let ctx = Context::operation(DOMAIN);
    let mut ops = Vec::new();
    for o in &out {
        let Output::Notify(p, payload) = o else { panic!("{o:?}") };
        assert_eq!(p.channel_id.as_ref(), Some(&updates_address));
        if let Notification::Next(item) = Notification::decode(payload).unwrap() {
            let msg = OperationMessage::decode(&item).unwrap();
            ops.push(MeldOperation::decode(&ctx, &msg.enc).unwrap());
        }
    }
    assert_eq!(ops.len(), 1, "the remote's own operation is known to it");
    assert_eq!(ops[0].patch().inserts[0].0, triple("b", "p", "2"));
    // Our journal starts at genesis, so even a requester that has seen
    // nothing of us can be revved up (from the start)
    let stranger = TreeClock::genesis().forked().unwrap().1;
    let request = Control::RevupRequest { time: stranger }.encode().unwrap();
    let out = clone.handle(Input::Send(params("x", "gw", "q2"), request), now).unwrap();
    let [Output::Reply(_, payload)] = &out[..] else { panic!("{out:?}") };
    assert!(matches!(Control::decode(payload).unwrap().0, Control::RevupResponse { gwc: Some(_), .. }));
}

#[test]
fn recovers_by_revup_when_others_are_present_at_start() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    let (op1, _) = remote.write(&[triple("a", "p", "1")], vec![]);
    let (op2, _) = remote.write(&[triple("b", "p", "2")], vec![]);
    clone.handle(Input::Operation(op1), now).unwrap();
    drop(clone);
    // Restarted: the journal is there; someone else is present
    let mut clone = open(&db, true);
    assert_eq!(all_triples(&clone).len(), 1);
    let out = clone.handle(Input::Presence(vec!["gw".into(), "r".into()]), now).unwrap();
    let [Output::Send(request, _)] = &out[..] else { panic!("{out:?}") };
    // Broadcasts during recovery wait
    let (op3, _) = remote.write(&[triple("c", "p", "3")], vec![]);
    clone.handle(Input::Operation(op3), now).unwrap();
    let response = Control::RevupResponse { gwc: Some(clone.state().gwc.clone()), updates_address: "u".into() };
    let reply = Params { sent_message_id: request.message_id.clone(), ..params("r", "gw", "resp") };
    let out = clone.handle(Input::Reply(reply, response.encode().unwrap()), now).unwrap();
    assert!(matches!(&out[..], [Output::Reply(ack, payload)] if payload == &ACK && ack.to_id == "r"));
    let notify = Params { from_id: "r".into(), to_id: "gw".into(), channel_id: Some("u".into()), ..Params::default() };
    clone.handle(Input::Notify(notify.clone(), Notification::Next(op2).encode().unwrap()), now).unwrap();
    assert_eq!(all_triples(&clone).len(), 2);
    let out = clone.handle(Input::Notify(notify, Notification::Complete.encode().unwrap()), now).unwrap();
    assert_eq!(out, vec![Output::Present(true)]);
    assert_eq!(clone.liveness(), Liveness::Live);
    assert_eq!(all_triples(&clone).len(), 3, "the broadcast held during recovery is applied");
}

#[test]
fn a_silent_collaborator_is_passed_over_and_we_go_live() {
    let db = db();
    let now = Instant::now();
    let mut clone = open(&db, true);
    let out = clone.handle(Input::Presence(vec!["x".into(), "gw".into(), "y".into()]), now).unwrap();
    assert!(matches!(&out[..], [Output::Send(p, _)] if p.to_id == "x"));
    let later = clone.next_deadline().unwrap() + Duration::from_millis(1);
    let out = clone.handle(Input::Tick, later).unwrap();
    assert!(matches!(&out[..], [Output::Send(p, _)] if p.to_id == "y"));
    let later = clone.next_deadline().unwrap() + Duration::from_millis(1);
    let out = clone.handle(Input::Tick, later).unwrap();
    assert_eq!(out, vec![Output::Present(true)]);
}

#[test]
fn garbage_never_reaches_the_store() {
    let db = db();
    let (mut clone, _remote, now) = live_with_remote(&db);
    let state = clone.state().clone();
    for junk in [vec![], vec![0xc1], b"\x83\xa4prev\x00\xa3enc\xc4\x01\x00\xa4attr\xc0".to_vec(), vec![0x90; 40]] {
        clone.handle(Input::Operation(junk.clone()), now).unwrap();
        clone.handle(Input::Send(params("r", "gw", "m"), junk.clone()), now).unwrap();
        clone.handle(Input::Notify(params("r", "gw", "m"), junk), now).unwrap();
    }
    assert_eq!(clone.state(), &state);
    assert!(all_triples(&clone).is_empty());
}

#[test]
fn records_the_visible_update_of_remote_and_local_operations() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    clone.handle(Input::Operation(remote.write(&[triple("fred", "name", "Fred")], vec![]).0), now).unwrap();
    assert!(clone.take_updates().is_empty(), "nothing recorded until asked");
    clone.record_updates(true);
    let (op, _) = remote.write(&[triple("wilma", "name", "Wilma")], vec![]);
    clone.handle(Input::Operation(op.clone()), now).unwrap();
    let updates = clone.take_updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].inserts, vec![triple("wilma", "name", "Wilma")]);
    assert_eq!(Some(updates[0].ticks), clone.state().time.ticks(), "@ticks is the clock after the apply");
    // A duplicate applies nothing, so updates nothing
    clone.handle(Input::Operation(op), now).unwrap();
    assert!(clone.take_updates().is_empty());
    // A local write that deletes Fred and re-inserts Wilma: only Fred shows
    let (_, changed) =
        clone.write(&[triple("fred", "name", "Fred")], &[triple("wilma", "name", "Wilma")], now).unwrap();
    assert!(changed);
    let updates = clone.take_updates();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        (updates[0].deletes.clone(), updates[0].inserts.clone()),
        (vec![triple("fred", "name", "Fred")], vec![])
    );
}

#[test]
fn held_operations_apply_only_on_release() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    clone.hold_operations();
    let (op1, _) = remote.write(&[triple("a", "p", "1")], vec![]);
    let (op2, _) = remote.write(&[triple("b", "p", "2")], vec![]);
    clone.handle(Input::Operation(op1.clone()), now).unwrap();
    clone.handle(Input::Operation(op2.clone()), now).unwrap();
    assert!(all_triples(&clone).is_empty(), "held, not applied");
    assert_eq!(clone.held_operations(), Some(op1.len() + op2.len()));
    // Local writes still apply while holding
    clone.write(&[], &[triple("c", "p", "3")], now).unwrap();
    assert_eq!(all_triples(&clone).len(), 1);
    clone.release_operations(now).unwrap();
    assert_eq!(clone.held_operations(), None);
    assert_eq!(all_triples(&clone).len(), 3, "released in order");
}

#[test]
fn a_fusion_spanning_absurdly_many_ticks_is_refused_not_cut() {
    let db = db();
    let (mut clone, remote, now) = live_with_remote(&db);
    let time = remote.time.ticked_to(50_000_000);
    let patch = TidPatch { deletes: vec![], inserts: vec![(triple("x", "p", "1"), TidSet::from(["kQE=".to_owned()]))] };
    let op = MeldOperation::new(&Context::operation(DOMAIN), 1, time, patch, None, None, None).unwrap();
    let msg = OperationMessage { prev: 0, enc: op.enc().to_vec(), attr: None }.encode().unwrap();
    let started = Instant::now();
    clone.handle(Input::Operation(msg), now).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "no tick-by-tick work on the span");
    assert!(all_triples(&clone).is_empty());
}

/// The `@index` values stored for a slot.
fn slot_index(clone: &MeldClone, slot: &Term) -> Vec<String> {
    clone
        .dataset()
        .matching(Some(slot), Some(crate::meld::jsonld::JRQL_INDEX), None)
        .map(|t| match t.unwrap().triple.object {
            Term::Literal(l) => l.lexical,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn list_indexes_are_entailed_and_a_duplicate_slot_is_resolved_by_an_operation() {
    use crate::meld::list::POS_ID_PREFIX;
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    let list = Term::iri(format!("http://{DOMAIN}/shopping"));
    let slot = |s: &str| Term::iri(format!("http://{DOMAIN}/.well-known/genid/{s}"));
    let position = |pos: &str, s: &str| Triple::new(list.clone(), format!("{POS_ID_PREFIX}{pos}"), slot(s));
    let (op, tid1) = remote.write(&[position("3r", "a"), position("7r", "b")], vec![]);
    let out = clone.handle(Input::Operation(op), now).unwrap();
    assert!(out.is_empty(), "nothing to resolve: {out:?}");
    assert_eq!((slot_index(&clone, &slot("a")), slot_index(&clone, &slot("b"))), (vec!["0".into()], vec!["1".into()]));
    // The remote puts slot b at a second, lower position
    let (op, _) = remote.write(&[position("1r", "b")], vec![]);
    let before = clone.state().time.ticks().unwrap();
    let out = clone.handle(Input::Operation(op), now).unwrap();
    let [Output::Operation(bytes)] = &out[..] else { panic!("one resolution: {out:?}") };
    let msg = OperationMessage::decode(bytes).unwrap();
    let resolution = MeldOperation::decode(&Context::operation(DOMAIN), &msg.enc).unwrap();
    assert_eq!(resolution.patch().deletes, vec![(position("7r", "b"), TidSet::from([tid1]))]);
    assert!(resolution.patch().inserts.is_empty());
    // At the tick reserved when the operation applied: the second of two
    assert_eq!(resolution.time().ticks(), Some(before + 2));
    assert_eq!(clone.state().time.ticks(), Some(before + 2));
    assert_eq!((slot_index(&clone, &slot("b")), slot_index(&clone, &slot("a"))), (vec!["0".into()], vec!["1".into()]));
    assert!(clone.dataset().get(&position("7r", "b")).unwrap().is_none());
    // Its journal entry is there for revups
    assert_eq!(clone.dataset().last_entry().unwrap().unwrap().tid, resolution.tid());
}

#[test]
fn opening_entails_the_indexes_of_lists_stored_without_them() {
    use crate::meld::dataset::{Entailments, JournalAppend};
    use crate::meld::list::POS_ID_PREFIX;
    let db = db();
    let slot = Term::iri(format!("http://{DOMAIN}/.well-known/genid/a"));
    let position = Triple::new(Term::iri(format!("http://{DOMAIN}/l")), format!("{POS_ID_PREFIX}3x"), slot.clone());
    {
        let clone = open(&db, true);
        assert!(clone.dataset().lists_indexed().unwrap(), "a new clone maintains them from the start");
    }
    {
        // As an engine without list support left it
        let ds = Dataset::open(&db, "u").unwrap();
        ds.save_state(&JournalState::genesis()).unwrap();
        let append = JournalAppend {
            local_tick: 1,
            prev: (0, "kA==".into()),
            tid: "t1".into(),
            op_bytes: Vec::new(),
            attribution: None,
            new_state: JournalState::genesis(),
        };
        let patch = TidPatch { deletes: vec![], inserts: vec![(position, TidSet::from(["t1".to_owned()]))] };
        ds.apply(&patch, &Entailments::default(), &append).unwrap();
        assert!(!ds.lists_indexed().unwrap());
    }
    let dataset = Dataset::open(&db, "u").unwrap();
    let clone =
        MeldClone::open(dataset, CloneConfig { id: "gw".into(), domain: DOMAIN.into(), genesis: true }).unwrap();
    assert_eq!(slot_index(&clone, &slot), vec!["0".to_owned()]);
    assert!(clone.dataset().lists_indexed().unwrap());
}

/// The reply to a request sent to the clone.
fn request(clone: &mut MeldClone, control: Control, now: Instant) -> Control {
    let out = clone.handle(Input::Send(params("r", "gw", "q1"), control.encode().unwrap()), now).unwrap();
    let [Output::Reply(_, payload)] = &out[..] else { panic!("{out:?}") };
    Control::decode(payload).unwrap().0
}

#[test]
fn domains_using_what_the_engine_cannot_apply_get_no_snapshots_from_it() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    assert_eq!(clone.unsupported(), None);
    // A shared datatype operation (update[2], as a TSeq splice makes)
    let time = remote.time.ticked();
    let updates = crate::meld::vectors::revive(
        serde_json::from_str::<crate::meld::Value>(
            r##"{"@id":"_:u","s":"tale","p":"#story","o":{"@value":"x","@type":"http://ext.m-ld.org/tseq/TSeq"},
                "op":{"@value":[1,["a"]],"@type":"@json","@id":"\u0000"}}"##,
        )
        .unwrap(),
    );
    let ticks = time.ticks().unwrap();
    let op = MeldOperation::new(
        &Context::operation(DOMAIN),
        ticks,
        time.clone(),
        TidPatch::default(),
        Some(updates),
        None,
        None,
    )
    .unwrap();
    let msg = OperationMessage { prev: remote.last_public, enc: op.enc().to_vec(), attr: None };
    (remote.time, remote.last_public) = (time, ticks);
    clone.handle(Input::Operation(msg.encode().unwrap()), now).unwrap();
    assert_eq!(clone.unsupported(), Some(Unsupported::SharedDatatypes));
    let snapshot = request(&mut clone, Control::SnapshotRequest { new_clock: true }, now);
    assert_eq!(snapshot, Control::Rejected { status: 5003 });
    // Its journal holds the operations whole, so revups are still right
    let revup = request(&mut clone, Control::RevupRequest { time: remote.time.clone() }, now);
    assert!(matches!(revup, Control::RevupResponse { gwc: Some(_), .. }), "{revup:?}");
    clone.handle(Input::Tick, now + NETWORK_TIMEOUT * 2).unwrap();

    // An encrypted operation: neither applied nor journaled, so no revups
    let time = remote.time.ticked();
    let array = crate::meld::Value::Array(vec![
        5u64.into(),
        time.ticks().unwrap().into(),
        time.to_json(),
        crate::meld::Value::Bin(vec![1, 2, 3]),
        crate::meld::Value::Array(vec![1u64.into(), 3u64.into()]),
        crate::meld::Value::Null,
        crate::meld::Value::Null,
    ]);
    let enc = crate::meld::msgpack::encode(&array).unwrap();
    let msg = OperationMessage { prev: remote.last_public, enc, attr: None };
    clone.handle(Input::Operation(msg.encode().unwrap()), now).unwrap();
    assert_eq!(clone.unsupported(), Some(Unsupported::Encryption));
    let revup = request(&mut clone, Control::RevupRequest { time: remote.time.clone() }, now);
    assert_eq!(revup, Control::Rejected { status: 5003 });

    // The mark outlives the clone
    drop(clone);
    let clone = open(&db, false);
    assert_eq!(clone.unsupported(), Some(Unsupported::Encryption));
}

#[test]
fn an_agreement_concurrent_with_applied_operations_is_flagged_not_voided() {
    let db = db();
    let (mut clone, mut remote, now) = live_with_remote(&db);
    // An agreement that follows everything we applied is fine
    let agreed = |remote: &mut Remote| {
        let time = remote.time.ticked();
        let ticks = time.ticks().unwrap();
        let tid = time.hash();
        let patch = TidPatch {
            deletes: vec![],
            inserts: vec![(triple("rules", "v", &ticks.to_string()), TidSet::from([tid]))],
        };
        let agreed = crate::meld::Agreed { tick: ticks, proof: true.into() };
        let op = MeldOperation::new(&Context::operation(DOMAIN), ticks, time.clone(), patch, None, None, Some(agreed))
            .unwrap();
        let msg = OperationMessage { prev: remote.last_public, enc: op.enc().to_vec(), attr: None };
        (remote.time, remote.last_public) = (time, ticks);
        msg.encode().unwrap()
    };
    let op = agreed(&mut remote);
    clone.handle(Input::Operation(op), now).unwrap();
    assert_eq!(clone.unsupported(), None);
    // Our write, which the remote has not seen when it agrees
    clone.write(&[], &[triple("fred", "name", "Fred")], now).unwrap();
    let op = agreed(&mut remote);
    clone.handle(Input::Operation(op), now).unwrap();
    assert_eq!(clone.unsupported(), Some(Unsupported::AgreementVoiding));
}

#[test]
fn local_writes_to_lists_cascade_to_slots_and_never_write_indexes() {
    use crate::meld::jsonld::{JRQL_INDEX, JRQL_ITEM, XS_INTEGER};
    use crate::meld::list::POS_ID_PREFIX;
    let db = db();
    let (mut clone, _remote, now) = live_with_remote(&db);
    let list = Term::iri(format!("http://{DOMAIN}/shopping"));
    let slot = |s: &str| Term::iri(format!("http://{DOMAIN}/.well-known/genid/{s}"));
    let position = |pos: &str, s: &str| Triple::new(list.clone(), format!("{POS_ID_PREFIX}{pos}"), slot(s));
    let item = |s: &str| Triple::new(slot(s), JRQL_ITEM, Term::Literal(Literal::new(s, XS_STRING)));
    let forged = Triple::new(slot("a"), JRQL_INDEX, Term::Literal(Literal::new("7", XS_INTEGER)));
    let (out, _) =
        clone.write(&[], &[position("3g", "a"), item("a"), position("7g", "b"), item("b"), forged], now).unwrap();
    assert_eq!(out.len(), 1, "one operation: {out:?}");
    assert_eq!(slot_index(&clone, &slot("a")), vec!["0".to_owned()], "the written @index is dropped");
    // A move keeps the slot
    clone.write(&[position("3g", "a")], &[position("8g", "a")], now).unwrap();
    assert_eq!((slot_index(&clone, &slot("b")), slot_index(&clone, &slot("a"))), (vec!["0".into()], vec!["1".into()]));
    assert!(clone.dataset().get(&item("a")).unwrap().is_some());
    // Deleting a position deletes its slot
    let (out, _) = clone.write(&[position("7g", "b")], &[], now).unwrap();
    assert_eq!(out.len(), 1);
    assert!(clone.dataset().get(&item("b")).unwrap().is_none());
    assert!(slot_index(&clone, &slot("b")).is_empty());
    assert_eq!(slot_index(&clone, &slot("a")), vec!["0".to_owned()]);
}
