//! Backup files: `archive::Reader` over any bytes, fed in chunks whose sizes
//! the input's first byte picks. Nothing may panic; the outcome (items and
//! the final verdict) must not depend on how the bytes were chunked; and a
//! backup the reader accepts re-encodes, through `Writer`, to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meld_gateway::backup::archive::{Item, Reader, Writer};

fn read(data: &[u8], chunk: usize) -> (Vec<Item>, Result<u64, String>) {
    let mut reader = Reader::new(1 << 16);
    let mut items = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        if let Err(e) = reader.feed(c, &mut items) {
            return (items, Err(e.to_string()));
        }
    }
    (items, reader.finish().map_err(|e| e.to_string()))
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else { return };
    let (items, verdict) = read(data, data.len());
    let (chunked, chunked_verdict) = read(data, usize::from(first % 17) + 1);
    assert_eq!(verdict, chunked_verdict);
    assert_eq!(items, chunked);
    if verdict.is_ok() {
        let Some(Item::Header(header)) = items.first() else { panic!("accepted without a header") };
        let (mut writer, mut out) = Writer::start(header);
        for item in &items[1..] {
            let Item::Record(r) = item else { panic!("a second header") };
            writer.record(&r.tree, &r.key, &r.value, &mut out);
        }
        out.extend(writer.finish());
        // Equal as items (key order and whitespace in the JSON may differ)
        assert_eq!(read(&out, out.len()).0, items);
    }
});
