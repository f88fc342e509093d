//! Engine benchmarks (criterion), through the clone's sans-IO interface on
//! sled databases in temporary directories:
//!
//! - `operations/decode`: `OperationMessage` + `MeldOperation` decoding of
//!   unfused operations from a remote process (each one subject of three
//!   properties);
//! - `operations/decode+apply`: the same operations delivered to a live
//!   backup clone with `MeldClone::handle(Input::Operation(..))` — decode,
//!   causal checks, the SU-Set patch and the journal entry, one sled
//!   transaction each;
//! - `lists/append` and `lists/insert at head`: operations each adding one
//!   item to a 1 000-item list, delivered to a backup clone; at the head
//!   every slot's entailed index moves, at the end none does;
//! - `snapshot/<n> subjects`: a clone holding `n` subjects answering a
//!   snapshot request, timed from the request to the last `Notify` output
//!   (the response, then after the ACK every data batch and both channels'
//!   completions).
//!
//!     cargo bench --bench engine
//!
//! Measurement times are kept short so the whole run takes about a minute.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use meld_gateway::meld::control::{ACK, Control};
use meld_gateway::meld::{
    CloneConfig, Context, Dataset, Input, Literal, MeldClone, MeldOperation, OperationMessage, Output, Params, Term,
    TidPatch, TidSet, TreeClock, Triple,
};

const DOMAIN: &str = "bench.example.org";
const XS_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";

/// Operations per measured batch of the apply benchmark.
const OPS: usize = 500;

/// A backup clone on a sled database in a temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    _db: sled::Db,
    clone: MeldClone,
    /// Counter for message ids.
    messages: u64,
}

impl Fixture {
    /// A live genesis clone that has answered a new clone's snapshot
    /// request; returns it with the clock it issued to the new clone.
    fn new() -> (Self, TreeClock) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let config = CloneConfig { id: "gw".into(), domain: DOMAIN.into(), genesis: true };
        let clone = MeldClone::open(Dataset::open(&db, "b").unwrap(), config).unwrap();
        let mut fixture = Fixture { _dir: dir, _db: db, clone, messages: 0 };
        fixture.clone.handle(Input::Presence(vec![]), Instant::now()).unwrap();
        let out = fixture.snapshot(true);
        let remote = out
            .iter()
            .find_map(|o| match o {
                Output::Reply(_, payload) => match Control::decode(payload) {
                    Ok((Control::SnapshotResponse { clock: Some(clock), .. }, _)) => Some(clock),
                    _ => None,
                },
                _ => None,
            })
            .expect("a snapshot response with a clock");
        (fixture, remote)
    }

    fn params(&mut self) -> Params {
        self.messages += 1;
        Params {
            from_id: "requester".into(),
            to_id: "gw".into(),
            message_id: Some(format!("m{}", self.messages)),
            ..Params::default()
        }
    }

    /// A snapshot request and its ACK: every output, the response first.
    fn snapshot(&mut self, new_clock: bool) -> Vec<Output> {
        let now = Instant::now();
        let request = Control::SnapshotRequest { new_clock }.encode().unwrap();
        let params = self.params();
        let mut out = self.clone.handle(Input::Send(params, request), now).unwrap();
        let Some(Output::Reply(reply, _)) = out.first() else { panic!("no response: {out:?}") };
        let ack = Params { sent_message_id: reply.message_id.clone(), ..self.params() };
        out.extend(self.clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap());
        out
    }

    fn deliver(&mut self, ops: &[Vec<u8>]) {
        let now = Instant::now();
        for op in ops {
            self.clone.handle(Input::Operation(op.clone()), now).unwrap();
        }
    }
}

/// `count` unfused operations from the remote process forked at `remote`,
/// each inserting `subjects` new subjects of three properties.
fn operations(remote: &TreeClock, count: usize, subjects: usize) -> Vec<Vec<u8>> {
    let ctx = Context::operation(DOMAIN);
    let literal = |s: String| Term::Literal(Literal::new(s, XS_STRING));
    let mut time = remote.clone();
    let mut prev = 0;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        time = time.ticked();
        let tid = time.hash();
        let mut inserts = Vec::new();
        for j in 0..subjects {
            let subject = Term::iri(format!("http://{DOMAIN}/s{i}-{j}"));
            for (p, o) in [("name", format!("Subject {i}-{j}")), ("kind", "thing".to_owned()), ("n", j.to_string())] {
                let triple = Triple::new(subject.clone(), format!("http://{DOMAIN}/#{p}"), literal(o));
                inserts.push((triple, TidSet::from([tid.clone()])));
            }
        }
        let patch = TidPatch { deletes: vec![], inserts };
        let ticks = time.ticks().unwrap();
        let op = MeldOperation::new(&ctx, ticks, time.clone(), patch, None, None, None).unwrap();
        out.push(OperationMessage { prev, enc: op.enc().to_vec(), attr: None }.encode().unwrap());
        prev = ticks;
    }
    out
}

fn bench_operations(c: &mut Criterion) {
    let (_, remote) = Fixture::new();
    let ops = operations(&remote, OPS, 1);
    let ctx = Context::operation(DOMAIN);
    let mut group = c.benchmark_group("operations");
    group.throughput(Throughput::Elements(OPS as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.bench_function("decode", |b| {
        b.iter(|| {
            for bytes in &ops {
                let msg = OperationMessage::decode(bytes).unwrap();
                black_box(MeldOperation::decode(&ctx, &msg.enc).unwrap());
            }
        })
    });
    group.sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(8));
    group.bench_function("decode+apply", |b| {
        b.iter_batched(
            || {
                let (fixture, theirs) = Fixture::new();
                assert_eq!(theirs, remote, "snapshot forks are deterministic");
                fixture
            },
            |mut fixture| {
                fixture.deliver(&ops);
                fixture
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Items in the list of the list benchmarks, and items added per batch.
const LIST_ITEMS: usize = 1_000;
const LIST_OPS: usize = 50;

/// Unfused operations from the remote, the first creating a list of
/// `LIST_ITEMS` items, then `LIST_OPS` each adding one item at the posId
/// `pos(k)`.
fn list_operations(remote: &TreeClock, pos: impl Fn(usize) -> String) -> Vec<Vec<u8>> {
    let ctx = Context::operation(DOMAIN);
    let list = Term::iri(format!("http://{DOMAIN}/list"));
    let item = |slot: &Term, k: usize| {
        Triple::new(
            slot.clone(),
            "http://json-rql.org/#item",
            Term::Literal(Literal::new(format!("item {k}"), XS_STRING)),
        )
    };
    let mut time = remote.clone();
    let mut prev = 0;
    let mut out = Vec::new();
    let mut batches = vec![(0..LIST_ITEMS).map(|k| (format!("m{k:05}"), k)).collect::<Vec<_>>()];
    batches.extend((0..LIST_OPS).map(|k| vec![(pos(k), LIST_ITEMS + k)]));
    for batch in batches {
        time = time.ticked();
        let tid = time.hash();
        let mut inserts = Vec::new();
        for (pos_id, k) in batch {
            let slot = Term::iri(format!("http://{DOMAIN}/.well-known/genid/s{k}"));
            let position = Triple::new(list.clone(), format!("http://m-ld.org/RdfLseq/?={pos_id}"), slot.clone());
            inserts.push((position, TidSet::from([tid.clone()])));
            inserts.push((item(&slot, k), TidSet::from([tid.clone()])));
        }
        let ticks = time.ticks().unwrap();
        let patch = TidPatch { deletes: vec![], inserts };
        let op = MeldOperation::new(&ctx, ticks, time.clone(), patch, None, None, None).unwrap();
        out.push(OperationMessage { prev, enc: op.enc().to_vec(), attr: None }.encode().unwrap());
        prev = ticks;
    }
    out
}

/// The posId of the k-th added item.
type PosIdOf = fn(usize) -> String;

fn bench_lists(c: &mut Criterion) {
    let (_, remote) = Fixture::new();
    let mut group = c.benchmark_group("lists");
    group.throughput(Throughput::Elements(LIST_OPS as u64));
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    let cases: [(&str, PosIdOf); 2] =
        [("append", |k| format!("z{k:05}")), ("insert at head", |k| format!("a{:05}", 99_999 - k))];
    for (name, pos) in cases {
        let ops = list_operations(&remote, pos);
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let (mut fixture, _) = Fixture::new();
                    fixture.deliver(&ops[..1]);
                    fixture
                },
                |mut fixture| {
                    fixture.deliver(&ops[1..]);
                    fixture
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn bench_snapshots(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1));
    for subjects in [1_000, 10_000] {
        let (mut fixture, remote) = Fixture::new();
        // 100 subjects per operation.
        fixture.deliver(&operations(&remote, subjects / 100, 100));
        assert_eq!(fixture.clone.dataset().len().unwrap(), 3 * subjects as u64);
        let notifications = fixture.snapshot(false).iter().filter(|o| matches!(o, Output::Notify(..))).count();
        // Data batches, the remote's fused past and two completions.
        assert!(notifications > 3, "{notifications} notifications");
        eprintln!("snapshot of {subjects} subjects: {notifications} notifications");
        group.throughput(Throughput::Elements(subjects as u64));
        group.measurement_time(Duration::from_secs(if subjects > 1_000 { 8 } else { 3 }));
        group.bench_function(format!("{subjects} subjects"), |b| {
            b.iter(|| {
                let out = fixture.snapshot(false);
                assert!(matches!(out.last(), Some(Output::Notify(..))));
                out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_operations, bench_lists, bench_snapshots);
criterion_main!(benches);
