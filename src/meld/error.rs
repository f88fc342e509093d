//! The engine's one error type. Decoders return it instead of panicking, so a
//! malformed message from a peer can be refused without harming the process.
//! Messages for the clock cases follow the JS engine's wording where it has one,
//! which keeps logs comparable with JS clones.

/// Everything that can go wrong inside the `meld` engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The msgpack input ended before a complete value was read.
    #[error("msgpack input ends early: {needed} more bytes needed at offset {offset}")]
    Incomplete {
        /// Where the unfinished item starts.
        offset: usize,
        /// How many more bytes (at least) it would need.
        needed: usize,
    },
    /// A complete value was read but bytes remain (JS rejects this too).
    #[error("msgpack has {0} trailing bytes")]
    TrailingBytes(usize),
    /// A type byte that msgpack does not define (only `0xc1`).
    #[error("unknown msgpack type 0x{byte:02x} at offset {offset}")]
    UnknownType {
        /// The type byte.
        byte: u8,
        /// Where it was found.
        offset: usize,
    },
    /// Arrays and maps nested deeper than the decoder allows.
    #[error("msgpack nesting deeper than {0}")]
    TooDeep(usize),
    /// A map key that has no sensible JS property-key form (bin, array, map).
    #[error("unsupported msgpack map key at offset {0}")]
    UnsupportedMapKey(usize),
    /// A string, buffer, array or map too long for msgpack's 32-bit lengths.
    #[error("value too long for msgpack: {0}")]
    TooLong(usize),
    /// Clock JSON that is not a `TreeClockJson`.
    #[error("Bad clock JSON: {0}")]
    BadClockJson(&'static str),
    /// Clock JSON that is not a `GlobalClockJson`.
    #[error("Bad global clock JSON: {0}")]
    BadGlobalClockJson(&'static str),
    /// `update` met a fork where our own ID leaf is.
    #[error("Trying to update from overlapping forked clock")]
    OverlappingFork,
    /// `ticked(clock)` asked to add ticks to a position we have forked.
    #[error("Ambiguous target for ticks")]
    AmbiguousTicks,
    /// The operation needs an ID leaf and the clock has none.
    #[error("clock has no ID")]
    NoId,
    /// `GlobalClock::set` with a time forked at different local ticks.
    #[error("time is from a different process group")]
    DifferentProcessGroup,
    /// `GlobalClock::tid` found no TID at the time's ID position.
    #[error("Global clock is in the future")]
    GlobalClockInFuture,
    /// Operation JSON-LD that cannot be read as triples.
    #[error("bad JSON-LD: {0}")]
    BadJsonLd(&'static str),
    /// A reification object without exactly one `s`, `p` and `o`.
    #[error("bad reification: {0}")]
    BadReification(&'static str),
    /// An `OperationMessage` or `EncodedOperation` of the wrong shape (JS:
    /// "Bad update").
    #[error("Bad update: {0}")]
    BadOperation(&'static str),
    /// A `BufferEncoding` code this engine cannot undo (3 = transport
    /// security, or unknown).
    #[error("unsupported buffer encoding {0}")]
    UnsupportedEncoding(u64),
    /// A gzip stream that does not decompress.
    #[error("bad gzip stream: {0:?}")]
    Gzip(std::io::ErrorKind),
    /// A decompressed or encoded update beyond [`MAX_UPDATE_BYTES`](super::op::MAX_UPDATE_BYTES).
    #[error("update larger than {0} bytes")]
    UpdateTooLarge(usize),
    /// UTF-8 JSON text (encoding 0) that does not parse.
    #[error("bad JSON text in update")]
    BadJsonText,
    /// Operations that are not contiguous ticks of one process and principal.
    #[error("operations cannot be fused: {0}")]
    NotContiguous(&'static str),
    /// A cut whose previous operation does not overlap the start of the cut.
    #[error("bad cut: {0}")]
    BadCut(&'static str),
    /// Fusing or cutting shared-datatype updates needs the datatype itself.
    #[error("cannot fuse or cut shared-datatype updates")]
    SharedDatatypeUpdates,
    /// A control message, notification or snapshot datum of the wrong shape
    /// (JS: "Bad control JSON").
    #[error("Bad control JSON: {0}")]
    BadControl(&'static str),
}
