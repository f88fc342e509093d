//! msgpack decoding: refuse or decode, never panic; whatever decodes
//! re-encodes to bytes that are a fixed point of decode-then-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meld_gateway::meld::msgpack;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = msgpack::decode(data) else { return };
    let bytes = msgpack::encode(&value).expect("a decoded value re-encodes");
    let again = msgpack::decode(&bytes).expect("the engine's own encoding decodes");
    assert_eq!(msgpack::encode(&again).ok(), Some(bytes));
});
