//! Control-channel decoding: `send`/`reply` payloads (`Control`), `notify`
//! payloads (`Notification`) and the snapshot data items they carry
//! (`SnapshotDatum`, or operation messages on an updates channel). Decoders
//! must refuse bad input, never panic; whatever decodes must re-encode to
//! bytes that decode to the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meld_gateway::meld::control::{Control, Notification, SnapshotDatum, is_ack};
use meld_gateway::meld::{Context, OperationMessage};

fuzz_target!(|data: &[u8]| {
    let ctx = Context::operation("fuzz.example.org");
    let _ = is_ack(data);
    if let Ok((control, _attr)) = Control::decode(data) {
        let bytes = control.encode().expect("a decoded control message re-encodes");
        let (again, _) = Control::decode(&bytes).expect("the engine's own encoding decodes");
        assert_eq!(again.encode().ok(), Some(bytes));
    }
    if let Ok(notification) = Notification::decode(data) {
        let bytes = notification.encode().expect("a decoded notification re-encodes");
        let again = Notification::decode(&bytes).expect("the engine's own encoding decodes");
        assert_eq!(again.encode().ok(), Some(bytes));
        if let Notification::Next(item) = &notification {
            datum(&ctx, item);
            let _ = OperationMessage::decode(item);
        }
    }
    datum(&ctx, data);
});

fn datum(ctx: &Context, bytes: &[u8]) {
    let Ok(datum) = SnapshotDatum::decode(bytes) else { return };
    let _ = datum.triples(ctx);
    let _ = datum.to_operation(ctx);
    let encoded = datum.encode().expect("a decoded datum re-encodes");
    let again = SnapshotDatum::decode(&encoded).expect("the engine's own encoding decodes");
    assert_eq!(again.encode().ok(), Some(encoded));
}
