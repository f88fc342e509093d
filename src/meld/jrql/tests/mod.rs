//! json-rql tests on real (temporary) sled datasets: every read form
//! checked against the JSON a JS clone returns for the same data, writes
//! resolved and applied, and the rejections.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use serde::Deserialize;

use super::*;
use crate::meld::clock::TreeClock;
use crate::meld::dataset::{Dataset, JournalAppend, JournalState};
use crate::meld::jsonld::{Context, json_to_triples};
use crate::meld::term::{Term, TidPatch, TidSet, Triple};
use crate::meld::value::Value;

mod lists;
mod parse;
mod query;
mod update;

const DOMAIN: &str = "test.example.org";

/// A test dataset with the domain context, and the tick of its last apply.
struct Fixture {
    _db: sled::Db,
    ds: Dataset,
    ctx: Context,
    tick: u64,
}

fn json(v: serde_json::Value) -> Value {
    Value::deserialize(v).unwrap()
}

impl Fixture {
    /// A dataset holding the subjects of `data` (all with `@id`s).
    fn new(data: serde_json::Value) -> Self {
        let mut f = Fixture::empty(DOMAIN);
        let triples = json_to_triples(&f.ctx, &json(data)).unwrap();
        f.apply(&[], &triples);
        f
    }

    /// An empty dataset with the context of `domain`.
    fn empty(domain: &str) -> Self {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let ds = Dataset::open(&db, "t").unwrap();
        Fixture { _db: db, ds, ctx: Context::domain(domain), tick: 0 }
    }

    /// Applies deletes (every TID) and inserts as one operation, with its
    /// list index entailments as a clone applies them.
    fn apply(&mut self, deletes: &[Triple], inserts: &[Triple]) {
        self.tick += 1;
        let tid = format!("t{}", self.tick);
        let del = deletes
            .iter()
            .map(|t| {
                let tids: TidSet = self.ds.get(t).unwrap().map(|s| s.tids).unwrap_or_default();
                (t.clone(), tids)
            })
            .collect();
        let ins = inserts.iter().map(|t| (t.clone(), TidSet::from([tid.clone()]))).collect();
        let mut new_state = JournalState::genesis();
        new_state.time = TreeClock::genesis().ticked_to(self.tick);
        let append = JournalAppend {
            local_tick: self.tick,
            prev: (self.tick - 1, format!("prev-{tid}")),
            tid: tid.clone(),
            op_bytes: tid.into_bytes(),
            attribution: None,
            new_state,
        };
        let patch = TidPatch { deletes: del, inserts: ins };
        let effects = crate::meld::list::effects(&self.ds, &patch).unwrap();
        self.ds.apply(&patch, &effects.entailments, &append).unwrap();
    }

    fn read(&self, query: serde_json::Value) -> Vec<serde_json::Value> {
        let q = parse_read(&self.ctx, &json(query)).unwrap();
        read(&self.ds, &self.ctx, &q).unwrap().iter().map(to_json).collect()
    }

    fn read_err(&self, query: serde_json::Value) -> JrqlError {
        match parse_read(&self.ctx, &json(query)) {
            Err(err) => err,
            Ok(q) => read(&self.ds, &self.ctx, &q).expect_err("query should fail"),
        }
    }

    /// Resolves a write with predictable skolems (`genid/s1`, `s2`, …).
    fn resolve(&self, write: serde_json::Value) -> Resolved {
        let mut n = 0;
        let ctx = self.ctx.clone();
        let mut genid = move || {
            n += 1;
            ctx.expand_id(&format!("/.well-known/genid/s{n}"))
        };
        let w = parse_write_with(&self.ctx, &json(write), &mut genid).unwrap();
        resolve_write(&self.ds, &w).unwrap()
    }

    /// Resolves and applies a write.
    fn write(&mut self, write: serde_json::Value) -> Resolved {
        let resolved = self.resolve(write);
        self.apply(&resolved.deletes, &resolved.inserts);
        resolved
    }

    fn describe_all(&self) -> Vec<serde_json::Value> {
        sorted(self.read(serde_json::json!({"@describe": "?id", "@where": {"@id": "?id"}})))
    }

    fn iri(&self, id: &str) -> Term {
        self.ctx.expand_id(id)
    }
}

/// A result as serde JSON, for `assert_eq!` against `json!` literals.
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null | Value::Undefined => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => (*n as i64).into(),
        Value::Number(n) => (*n).into(),
        Value::Str(s) => s.as_str().into(),
        Value::Bin(b) => b.iter().map(|x| serde_json::Value::from(*x)).collect(),
        Value::Array(items) => items.iter().map(to_json).collect(),
        Value::Map(o) => o.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect::<serde_json::Map<_, _>>().into(),
    }
}

/// Results in a canonical order, for comparisons that ignore order.
fn sorted(mut v: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

/// The acceptance suite's data (shared/interop clone-api-read-write).
fn flintstones() -> serde_json::Value {
    serde_json::json!([
        { "@id": "fred", "@type": "Person", "name": "Fred Flintstone", "age": 40 },
        { "@id": "wilma", "@type": "Person", "name": "Wilma Flintstone", "spouse": { "@id": "fred" } },
        { "@id": "pebbles", "@type": "Person", "name": "Pebbles", "nick": ["Pebs", "Pebbly"] }
    ])
}
