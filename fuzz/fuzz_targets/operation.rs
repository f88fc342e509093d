//! Operation decoding: an `OperationMessage` (`{prev, enc, attr}`) and the
//! `EncodedOperation` inside it, or the input itself as an
//! `EncodedOperation`. Decoders must refuse bad input, never panic; whatever
//! decodes must re-encode, and what the engine encodes must decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meld_gateway::meld::{Context, MeldOperation, OperationMessage};

fuzz_target!(|data: &[u8]| {
    let ctx = Context::operation("fuzz.example.org");
    if let Ok(msg) = OperationMessage::decode(data) {
        let again = msg.encode().expect("a decoded message re-encodes");
        assert_eq!(OperationMessage::decode(&again).as_ref(), Ok(&msg));
        operation(&ctx, &msg.enc);
    }
    operation(&ctx, data);
});

fn operation(ctx: &Context, enc: &[u8]) {
    let Ok(op) = MeldOperation::decode(ctx, enc) else { return };
    let _ = op.to_value();
    // Rebuilding it from its parts (as fusion and cutting do) may refuse,
    // but what it builds must decode to the same effect.
    let rebuilt = MeldOperation::new(
        ctx,
        op.from(),
        op.time().clone(),
        op.patch().clone(),
        op.updates().cloned(),
        op.principal_id().map(str::to_owned),
        op.agreed().cloned(),
    );
    if let Ok(rebuilt) = rebuilt {
        let decoded = MeldOperation::decode(ctx, rebuilt.enc()).expect("the engine's own encoding decodes");
        assert_eq!(decoded.tid(), op.tid());
        assert_eq!(decoded.patch().deletes.len(), op.patch().deletes.len());
        assert_eq!(decoded.patch().inserts.len(), op.patch().inserts.len());
    }
}
