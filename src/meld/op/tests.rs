//! Operations against the JS engine's vectors: `op-encoding.jsonl` (encoding,
//! fusion, cutting), `ops.jsonl` and every operation in `frames.jsonl`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::meld::jsonld::tests::{DOMAIN, nt, parse_nt};
use crate::meld::term::Term;
use crate::meld::vectors::{field, rows};

fn ctx() -> Context {
    Context::operation(DOMAIN)
}

/// A patch side as sorted "triple | tids" strings.
fn canon(entries: &[(Triple, TidSet)]) -> Vec<String> {
    let mut out: Vec<String> = entries
        .iter()
        .map(|(t, tids)| format!("{} | {}", nt(t), tids.iter().cloned().collect::<Vec<_>>().join(",")))
        .collect();
    out.sort();
    out
}

/// The vectors' `[{triple, tids, data?}]` lists.
fn expected(list: &Value) -> Vec<(Triple, TidSet)> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|e| {
            let mut triple = parse_nt(field(e, "triple").as_str().expect("triple"));
            if let (Term::Literal(l), Some(d)) = (&mut triple.object, e.as_object().and_then(|o| o.get("data"))) {
                l.data = Some(d.clone());
            }
            let tids = field(e, "tids").as_array().expect("tids");
            (triple, tids.iter().map(|t| t.as_str().expect("tid").to_owned()).collect())
        })
        .collect()
}

fn data_of(entries: &[(Triple, TidSet)]) -> Vec<Option<Value>> {
    let mut out: Vec<(String, Option<Value>)> = entries
        .iter()
        .map(|(t, _)| {
            let data = match &t.object {
                Term::Literal(l) => l.data.clone(),
                _ => None,
            };
            (nt(t), data)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, d)| d).collect()
}

/// Blank labels in an update's JSON replaced by their order of appearance.
fn unlabel(v: &Value, seen: &mut Vec<String>) -> Value {
    match v {
        Value::Str(s) if s.starts_with("_:") => {
            let i = seen.iter().position(|x| x == s).unwrap_or_else(|| {
                seen.push(s.clone());
                seen.len() - 1
            });
            Value::Str(format!("_:#{i}"))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| unlabel(x, seen)).collect()),
        Value::Map(o) => Value::Map(o.iter().map(|(k, x)| (k.to_owned(), unlabel(x, seen))).collect()),
        other => other.clone(),
    }
}

fn update_json(op: &MeldOperation) -> Value {
    let array = msgpack::decode(op.enc()).expect("enc");
    let items = array.as_array().expect("array");
    let encoding = encoding_of(&items[4]).expect("encoding");
    json_from_buffer(items[3].as_bin().expect("bin"), &encoding).expect("update")
}

/// Operations of `op-encoding.jsonl`, by note prefix.
fn spec_ops() -> Vec<(String, Value, Option<MeldOperation>)> {
    rows("op-encoding.jsonl")
        .into_iter()
        .map(|row| {
            let note = field(&row, "note").as_str().expect("note").to_owned();
            let op = row.as_object().and_then(|o| o.get("encodedMsgpackHex")).map(|h| {
                let bytes = hex::decode(h.as_str().expect("hex")).expect("hex");
                MeldOperation::decode(&ctx(), &bytes).expect("decode JS op")
            });
            (note, row, op)
        })
        .collect()
}

#[test]
fn every_op_encoding_row() {
    let ctx = ctx();
    let ops = spec_ops();
    let by_note = |prefix: &str| {
        ops.iter().find(|(n, _, _)| n.starts_with(prefix)).and_then(|(_, _, op)| op.clone()).expect(prefix)
    };
    let mut byte_exact = 0;
    let mut checked = 0;
    for (note, row, js_op) in &ops {
        let Some(js_op) = js_op else {
            // The round-trip row: the decoded fusion 1..3.
            let rt = field(row, "roundTrip");
            let op = by_note("fusion of ops 1..3");
            assert_eq!(canon(&op.patch().inserts), canon(&expected(field(rt, "inserts"))));
            assert_eq!(canon(&op.patch().deletes), canon(&expected(field(rt, "deletes"))));
            assert_eq!(op.agreed().map(|a| a.tick), Some(3));
            assert_eq!(op.principal_id(), None);
            checked += 1;
            continue;
        };
        let spec = field(row, "spec");
        let time = TreeClock::from_json(field(spec, "time")).expect("time");
        assert_eq!(js_op.from(), field(spec, "from").as_u64().expect("from"), "{note}");
        assert_eq!(js_op.time(), &time, "{note}");
        assert_eq!(Some(js_op.tid()), field(spec, "timeHash").as_str(), "{note}");
        let deletes = expected(field(spec, "deletes"));
        let inserts = expected(field(spec, "inserts"));
        assert_eq!(canon(&js_op.patch().deletes), canon(&deletes), "{note}");
        assert_eq!(canon(&js_op.patch().inserts), canon(&inserts), "{note}");
        // Re-encoding the decoded JS operation reproduces its bytes.
        assert_eq!(js_op.enc(), &hex::decode(field(row, "encodedMsgpackHex").as_str().unwrap()).unwrap()[..]);
        // Building it ourselves: the same update JSON up to blank labels.
        let ours = MeldOperation::new(
            &ctx,
            js_op.from(),
            time,
            TidPatch { deletes, inserts },
            None,
            js_op.principal_id().map(str::to_owned),
            js_op.agreed().cloned(),
        )
        .expect("encode");
        let js_json = field(row, "updateJson");
        assert_eq!(unlabel(&update_json(&ours), &mut vec![]), unlabel(js_json, &mut vec![]), "{note}");
        let back = MeldOperation::decode(&ctx, ours.enc()).expect("decode ours");
        assert_eq!(canon(&back.patch().deletes), canon(&js_op.patch().deletes), "{note}");
        assert_eq!(canon(&back.patch().inserts), canon(&js_op.patch().inserts), "{note}");
        if ours.enc() == js_op.enc() {
            byte_exact += 1;
        }
        checked += 1;
    }
    assert_eq!(checked, 9);
    // Rows without reification ids (JS's labels are its own) are byte-exact.
    assert_eq!(byte_exact, 1);
}

/// Fusions and cuts of ops 1..3 give exactly JS's results.
#[test]
fn fusion_and_cutting_match_js() {
    let ctx = ctx();
    let ops = spec_ops();
    let op = |prefix: &str| {
        ops.iter().find(|(n, _, _)| n.starts_with(prefix)).and_then(|(_, _, op)| op.clone()).expect(prefix)
    };
    let (op1, op2, op3) = (op("unfused op at tick 1"), op("unfused op at tick 2"), op("unfused op at tick 3"));
    let same = |got: &MeldOperation, want: &MeldOperation| {
        assert_eq!(got.from(), want.from());
        assert_eq!(got.time(), want.time());
        assert_eq!(canon(&got.patch().deletes), canon(&want.patch().deletes));
        assert_eq!(canon(&got.patch().inserts), canon(&want.patch().inserts));
        assert_eq!(got.agreed(), want.agreed());
        assert_eq!(got.principal_id(), want.principal_id());
        let mut a = vec![];
        let mut b = vec![];
        assert_eq!(unlabel(&update_json(got), &mut a), unlabel(&update_json(want), &mut b));
    };
    let f12 = fuse(&ctx, &[op1.clone(), op2.clone()]).expect("fuse 1..2");
    same(&f12, &op("fusion of ops 1..2"));
    let f123 = fuse(&ctx, &[op1.clone(), op2.clone(), op3.clone()]).expect("fuse 1..3");
    same(&f123, &op("fusion of ops 1..3"));
    // Fusing a fusion with the next op is the same as fusing all three.
    same(&fuse(&ctx, &[f12.clone(), op3.clone()]).expect("fuse"), &f123);
    let js123 = op("fusion of ops 1..3");
    same(
        &cut(&ctx, &js123, std::slice::from_ref(&op1)).expect("cut 1"),
        &op("cut of fusion 1..3 by already-seen op 1"),
    );
    same(&cut(&ctx, &js123, &[f12]).expect("cut 1..2"), &op("cut of fusion 1..3 by already-seen fusion"));
    same(&cut(&ctx, &js123, &[op1.clone(), op2.clone()]).expect("cut 1, 2"), &op("cut of fusion 1..3 by op1 then op2"));
    // Not contiguous, or cutting everything, is refused.
    assert!(fuse(&ctx, &[op1.clone(), op3.clone()]).is_err());
    assert!(fuse(&ctx, &[]).is_err());
    assert!(cut(&ctx, &js123, &[op2.clone(), op1]).is_err());
    assert!(cut(&ctx, &js123, &[op3]).is_err());
}

/// Checks a decoded operation against a vector's `derived` form.
fn check_derived(op: &MeldOperation, derived: &Value, what: &str) {
    assert_eq!(Some(op.tid()), field(derived, "tid").as_str(), "{what}");
    assert_eq!(field(derived, "fused"), &Value::Bool(op.is_fused()), "{what}");
    let deletes = expected(field(derived, "deletes"));
    let inserts = expected(field(derived, "inserts"));
    assert_eq!(canon(&op.patch().deletes), canon(&deletes), "{what}");
    assert_eq!(canon(&op.patch().inserts), canon(&inserts), "{what}");
    assert_eq!(data_of(&op.patch().inserts), data_of(&inserts), "{what}");
    let updates = field(derived, "updates").as_array().map_or(0, <[Value]>::len);
    assert_eq!(op.updates().is_some(), updates > 0, "{what}");
}

#[test]
fn every_op_of_ops_jsonl() {
    let ctx = ctx();
    let mut checked = 0;
    for row in rows("ops.jsonl") {
        let o = row.as_object().expect("row");
        let array = Value::Array(
            ["version", "from", "time", "update", "encoding", "principalId", "agreed"]
                .iter()
                .map(|k| o.get(k).cloned().unwrap_or(Value::Null))
                .collect(),
        );
        let enc = msgpack::encode(&array).expect("enc");
        let op = MeldOperation::decode(&ctx, &enc).expect("decode");
        check_derived(&op, field(&row, "derived"), field(&row, "step").as_str().unwrap_or_default());
        // Our own encoding of the decoded operation decodes the same.
        let again = MeldOperation::new(
            &ctx,
            op.from(),
            op.time().clone(),
            op.patch().clone(),
            op.updates().cloned(),
            op.principal_id().map(str::to_owned),
            op.agreed().cloned(),
        )
        .expect("re-encode");
        let back = MeldOperation::decode(&ctx, again.enc()).expect("decode ours");
        assert_eq!(canon(&back.patch().deletes), canon(&op.patch().deletes));
        assert_eq!(canon(&back.patch().inserts), canon(&op.patch().inserts));
        assert_eq!(data_of(&back.patch().inserts), data_of(&op.patch().inserts));
        assert_eq!(back.updates(), op.updates());
        checked += 1;
    }
    assert_eq!(checked, 24);
}

/// Every `operation` event and every OperationMessage in a `notify` item.
pub(crate) fn frame_operations() -> Vec<(u64, Vec<u8>, Value)> {
    let mut out = Vec::new();
    for row in rows("frames.jsonl") {
        let Some(decoded) = row.as_object().and_then(|o| o.get("decoded")) else { continue };
        let seq = field(&row, "seq").as_u64().expect("seq");
        let payload = || STANDARD.decode(field(&row, "payload").as_str().expect("payload")).expect("b64");
        match decoded.as_object().and_then(|o| o.get("type")).and_then(Value::as_str) {
            Some("OperationMessage") => out.push((seq, payload(), decoded.clone())),
            Some("Notification") => {
                if let Some(next) = decoded.as_object().and_then(|o| o.get("decodedNext"))
                    && field(next, "type").as_str() == Some("OperationMessage")
                {
                    let bytes = field(decoded, "next").as_bin().expect("next").to_vec();
                    out.push((seq, bytes, next.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_operation_in_frames() {
    let ctx = ctx();
    let ops = frame_operations();
    for (seq, bytes, decoded) in &ops {
        let msg = OperationMessage::decode(bytes).unwrap_or_else(|e| panic!("{seq}: {e}"));
        assert_eq!(&msg.encode().expect("encode"), bytes, "{seq}");
        assert_eq!(Some(msg.prev), field(decoded, "prev").as_u64(), "{seq}");
        assert_eq!(msg.attr, None);
        assert_eq!(Some(&msg.enc[..]), field(decoded, "enc").as_bin(), "{seq}");
        let op = MeldOperation::decode(&ctx, &msg.enc).unwrap_or_else(|e| panic!("{seq}: {e}"));
        let js = field(decoded, "op");
        assert_eq!(Some(op.from()), field(js, "from").as_u64(), "{seq}");
        check_derived(&op, field(js, "derived"), &format!("seq {seq}"));
        assert_eq!(op.enc(), &msg.enc[..]);
    }
    assert!(ops.len() >= 20, "{}", ops.len());
}

/// Truncations and byte flips of every vector operation: errors, no panics.
#[test]
fn mutated_operations_never_panic() {
    let ctx = ctx();
    for (_, bytes, _) in frame_operations().iter().take(12) {
        let msg = OperationMessage::decode(bytes).expect("message");
        for cut_at in 0..bytes.len() {
            assert!(OperationMessage::decode(&bytes[..cut_at]).is_err());
        }
        let enc = &msg.enc;
        for i in 0..enc.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut m = enc.clone();
                m[i] ^= flip;
                let _ = MeldOperation::decode(&ctx, &m);
            }
            let _ = MeldOperation::decode(&ctx, &enc[..i]);
        }
    }
    // A gzip bomb is refused by size, not by memory.
    let big = Value::Array(vec![Value::Map(Object::new()), Value::Str("x".repeat(MAX_UPDATE_BYTES + 10))]);
    let (zipped, encoding) = buffer_from_json(&big).expect("gzip");
    assert_eq!(encoding, vec![1, 2]);
    assert_eq!(json_from_buffer(&zipped, &encoding), Err(Error::UpdateTooLarge(MAX_UPDATE_BYTES)));
    assert_eq!(json_from_buffer(b"[{},{}]", &[3]), Err(Error::UnsupportedEncoding(3)));
    assert!(json_from_buffer(b"[{},{}]", &[0]).is_ok());
    assert!(json_from_buffer(b"[{},{}]", &[]).is_err());
}

/// JSON.stringify with sorted keys, as the capture canonicalises reads.
fn canon_json(v: &Value) -> String {
    match v {
        Value::Null | Value::Undefined => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => crate::meld::value::js_number_to_string(*n),
        Value::Str(s) => serde_json::to_string(s).expect("string"),
        Value::Bin(b) => format!("{b:?}"),
        Value::Array(a) => format!("[{}]", a.iter().map(canon_json).collect::<Vec<_>>().join(",")),
        Value::Map(o) => {
            let mut entries: Vec<(&str, &Value)> = o.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).expect("key"), canon_json(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
    }
}

/// Applying every captured operation (SU-Set semantics) and describing the
/// subjects gives the JS clones' converged state, for subjects that are not
/// lists, list slots (entailed indexes) or shared datatypes.
#[test]
fn described_state_matches_the_converged_scenario() {
    let ctx = ctx();
    let scenario: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/protocol/vectors/scenario.json"))
            .expect("scenario"),
    )
    .expect("json");
    let steps: Vec<&Value> = scenario.as_array().expect("steps").iter().collect();
    let step_no = |name: &str| steps.iter().position(|s| field(s, "step").as_str() == Some(name));
    let ops: Vec<(usize, MeldOperation)> = rows("ops.jsonl")
        .into_iter()
        // Snapshot data carry the same operations again.
        .filter(|row| row.as_object().and_then(|o| o.get("source")).is_none())
        .map(|row| {
            let o = row.as_object().expect("row");
            let array = Value::Array(
                ["version", "from", "time", "update", "encoding", "principalId", "agreed"]
                    .iter()
                    .map(|k| o.get(k).cloned().unwrap_or(Value::Null))
                    .collect(),
            );
            let op = MeldOperation::decode(&ctx, &msgpack::encode(&array).expect("enc")).expect("op");
            (step_no(field(&row, "step").as_str().expect("step")).expect("known step"), op)
        })
        .collect();
    let read_ctx = Context::domain(DOMAIN);
    let mut compared = 0;
    for (n, step) in steps.iter().enumerate() {
        let Some(result) = field(step, "result").as_array() else { continue };
        let mut state: HashMap<Triple, TidSet> = HashMap::new();
        for (_, op) in ops.iter().filter(|(at, _)| *at <= n) {
            for (t, tids) in &op.patch().deletes {
                if let Some(set) = state.get_mut(t) {
                    set.retain(|x| !tids.contains(x));
                }
            }
            for (t, tids) in &op.patch().inserts {
                state.entry(t.clone()).or_default().extend(tids.iter().cloned());
            }
        }
        let triples: Vec<Triple> = state.into_iter().filter(|(_, s)| !s.is_empty()).map(|(t, _)| t).collect();
        for subject in result {
            let s = subject.as_object().expect("subject");
            let id: String =
                serde_json::from_str(field(subject, "@id").as_array().unwrap()[0].as_str().unwrap()).unwrap();
            if s.get("@list").is_some() || s.get("@index").is_some() || id == "tale" {
                continue;
            }
            let term = read_ctx.expand_id(&id);
            let described = crate::meld::jsonld::describe(&read_ctx, &term, &triples);
            let mut got = Object::new();
            for (k, v) in described.as_object().expect("object").iter() {
                let mut values: Vec<String> = match v {
                    Value::Array(a) => a.iter().map(canon_json).collect(),
                    one => vec![canon_json(one)],
                };
                values.sort();
                got.insert(k, Value::Array(values.into_iter().map(Value::Str).collect()));
            }
            assert_eq!(canon_json(&Value::Map(got)), canon_json(subject), "{} {id}", n);
            compared += 1;
        }
    }
    assert!(compared >= 60, "{compared}");
}
