//! json-rql parsing (reads and writes, from JSON text) and, for what
//! parses, evaluation against a small dataset: refuse or answer, never
//! panic.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use meld_gateway::meld::jrql::{parse_read_json, parse_write_json, read, resolve_write};
use meld_gateway::meld::{CloneConfig, Context, Dataset, MeldClone};

const DOMAIN: &str = "fuzz.example.org";

const DATA: &str = r#"[
  {"@id": "fred", "@type": "Person", "name": "Fred", "age": 40, "height": 1.8, "married": true,
   "spouse": {"@id": "wilma"}, "interests": ["bowling", "golf"]},
  {"@id": "wilma", "@type": "Person", "name": {"@value": "Wilma", "@language": "en"}, "age": 38},
  {"@id": "barney", "name": "Barney", "friend": [{"@id": "fred"}, {"@id": "wilma"}], "score": -1.5e3}
]"#;

thread_local! {
    /// A clone holding `DATA`; kept for the whole run (reads change nothing).
    static FIXTURE: (sled::Db, MeldClone) = fixture();
}

fn fixture() -> (sled::Db, MeldClone) {
    let db = sled::Config::new().temporary(true).open().expect("temporary sled");
    let config = CloneConfig { id: "fuzz".into(), domain: DOMAIN.into(), genesis: true };
    let mut clone = MeldClone::open(Dataset::open(&db, "f").expect("dataset"), config).expect("clone");
    let write = parse_write_json(&Context::domain(DOMAIN), DATA).expect("DATA is a write");
    let resolved = resolve_write(clone.dataset(), &write).expect("DATA resolves");
    clone.write(&resolved.deletes, &resolved.inserts, Instant::now()).expect("write");
    assert!(!clone.dataset().is_empty().expect("readable"), "DATA written");
    (db, clone)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ctx = Context::domain(DOMAIN);
    let parsed_read = parse_read_json(&ctx, text);
    let parsed_write = parse_write_json(&ctx, text);
    FIXTURE.with(|fixture| {
        let (_, clone) = fixture;
        if let Ok(query) = &parsed_read {
            let _ = read(clone.dataset(), &ctx, query);
        }
        if let Ok(write) = &parsed_write {
            let _ = resolve_write(clone.dataset(), write);
        }
    });
});
