//! Control payloads of `frames.jsonl`: decoded, compared with the JS
//! decoding, and re-encoded byte for byte.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::meld::jsonld::tests::{DOMAIN, nt, parse_nt};
use crate::meld::vectors::{field, rows};

fn payloads(kind: &str) -> Vec<(u64, Vec<u8>, Value)> {
    rows("frames.jsonl")
        .into_iter()
        .filter_map(|row| {
            let decoded = row.as_object()?.get("decoded")?.clone();
            if decoded.as_object()?.get("type")?.as_str()? != kind {
                return None;
            }
            let bytes = STANDARD.decode(field(&row, "payload").as_str()?).ok()?;
            Some((field(&row, "seq").as_u64()?, bytes, decoded))
        })
        .collect()
}

#[test]
fn every_control_message() {
    let rows = payloads("ControlMessage");
    assert!(rows.len() >= 10, "{}", rows.len());
    let mut kinds = std::collections::BTreeSet::new();
    for (seq, bytes, decoded) in &rows {
        let (control, attr) = Control::decode(bytes).unwrap_or_else(|e| panic!("{seq}: {e}"));
        assert_eq!(attr, None);
        assert_eq!(&control.encode().expect("encode"), bytes, "{seq}: byte-exact");
        let body = field(decoded, "body");
        assert_eq!(&control.to_json(), body, "{seq}");
        kinds.insert(field(body, "@type").as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    let rejected = Control::Rejected { status: 5004 };
    let (back, _) = Control::decode(&rejected.encode().unwrap()).unwrap();
    assert_eq!(back, rejected);
}

#[test]
fn acks() {
    let rows = payloads("ACK");
    assert!(!rows.is_empty());
    for (_, bytes, _) in rows {
        assert!(is_ack(&bytes));
    }
}

#[test]
fn every_notification_and_snapshot_datum() {
    let ctx = Context::operation(DOMAIN);
    let (mut inserts, mut operations, mut completes) = (0, 0, 0);
    for (seq, bytes, decoded) in payloads("Notification") {
        let n = Notification::decode(&bytes).unwrap_or_else(|e| panic!("{seq}: {e}"));
        assert_eq!(n.encode().expect("encode"), bytes, "{seq}: byte-exact");
        let Notification::Next(item) = n else {
            assert_eq!(n, Notification::Complete);
            completes += 1;
            continue;
        };
        let next = field(&decoded, "decodedNext");
        match field(next, "type").as_str() {
            Some("Snapshot.Inserts") => {
                let datum = SnapshotDatum::decode(&item).expect("datum");
                assert_eq!(datum.encode().expect("encode"), item, "{seq}");
                let mut got: Vec<String> = datum
                    .triples(&ctx)
                    .expect("triples")
                    .iter()
                    .map(|(t, tids)| format!("{} {tids:?}", nt(t)))
                    .collect();
                let mut want: Vec<String> = field(field(next, "derived"), "triples")
                    .as_array()
                    .expect("triples")
                    .iter()
                    .map(|e| {
                        let t = parse_nt(field(e, "triple").as_str().expect("triple"));
                        let tids: TidSet = field(e, "tids")
                            .as_array()
                            .expect("tids")
                            .iter()
                            .map(|t| t.as_str().expect("tid").to_owned())
                            .collect();
                        format!("{} {tids:?}", nt(&t))
                    })
                    .collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{seq}");
                // Our own batch of the same triples reads back the same.
                let triples = datum.triples(&ctx).expect("triples");
                let ours = SnapshotDatum::inserts_batch(&ctx, triples.iter().map(|(t, s)| (t, s))).expect("batch");
                assert_eq!(ours.triples(&ctx).expect("ours"), triples, "{seq}");
                inserts += 1;
            }
            Some("Snapshot.Operation") => {
                let datum = SnapshotDatum::decode(&item).expect("datum");
                assert_eq!(datum.encode().expect("encode"), item, "{seq}");
                let op = datum.to_operation(&ctx).expect("operation");
                let js = field(next, "operation");
                assert_eq!(Some(op.from()), field(js, "from").as_u64(), "{seq}");
                assert_eq!(Some(op.tid()), field(field(js, "derived"), "tid").as_str(), "{seq}");
                assert_eq!(SnapshotDatum::operation(&op).expect("datum"), datum);
                operations += 1;
            }
            _ => {}
        }
    }
    assert!(inserts >= 5 && operations >= 3 && completes >= 1, "{inserts} {operations} {completes}");
}

#[test]
fn mutated_control_payloads_never_panic() {
    for kind in ["ControlMessage", "Notification"] {
        for (_, bytes, _) in payloads(kind).into_iter().take(8) {
            for i in 0..bytes.len().min(300) {
                let _ = Control::decode(&bytes[..i]);
                let _ = Notification::decode(&bytes[..i]);
                let _ = SnapshotDatum::decode(&bytes[..i]);
                let mut m = bytes.clone();
                m[i] ^= 0x5a;
                let _ = Control::decode(&m);
                if let Ok(Notification::Next(item)) = Notification::decode(&m) {
                    let _ = SnapshotDatum::decode(&item).map(|d| d.triples(&Context::operation(DOMAIN)));
                }
            }
        }
    }
}
