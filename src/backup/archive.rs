//! The backup file format (version 1): newline-delimited JSON, written and
//! read as a stream.
//!
//! ```text
//! {"format":"meld-gateway-backup","version":1,"domain":…,"account":…,"name":…,
//!  "cloneId":…,"useSignatures":…,"signers":[…],"exported":<ms>}
//! {"tree":"spo","key":"<base64>","value":"<base64>"}
//! …one line per record of the backup clone's dataset…
//! {"end":true,"records":<n>,"sha256":"<hex>"}
//! ```
//!
//! The trailer's `sha256` is over every byte before the trailer line
//! (header and records, newlines included), and nothing may follow it, so
//! a cut, a flipped byte or an appended line is always noticed. Sans-IO:
//! [`Writer`] returns bytes, [`Reader`] takes chunks as they come. Knows
//! nothing of sled or HTTP.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::SignerKey;

/// The `format` of every backup header.
pub const FORMAT: &str = "meld-gateway-backup";
/// The version this gateway writes and reads.
pub const VERSION: u64 = 1;
/// The media type of a backup.
pub const CONTENT_TYPE: &str = "application/vnd.meld-gateway.backup";

/// What a backup says about the subdomain it came from: enough to recreate
/// it (its settings and its backup clone's identity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] for what this gateway writes.
    pub version: u64,
    /// The m-ld domain name (`<name>.<account>.<gateway>`).
    pub domain: String,
    /// The owning account.
    pub account: String,
    /// The subdomain name.
    pub name: String,
    /// The backup clone's `@id`, kept by a restore.
    pub clone_id: String,
    /// Whether operations must be signed.
    pub use_signatures: bool,
    /// Who may sign (public keys only).
    #[serde(default)]
    pub signers: Vec<SignerKey>,
    /// Export time, ms since the epoch.
    pub exported: u64,
}

/// One record of the dataset: a tree of its generation, key and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The tree's name within the dataset's generation (e.g. `spo`).
    pub tree: String,
    /// Key bytes.
    pub key: Vec<u8>,
    /// Value bytes.
    pub value: Vec<u8>,
}

#[derive(Serialize)]
struct RecordOut<'a> {
    tree: &'a str,
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn {
    tree: String,
    key: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    end: bool,
    records: u64,
    sha256: String,
}

/// Why a backup cannot be read. Messages are public (a 400's body).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ArchiveError {
    /// The first line is not a backup header.
    #[error("not a meld-gateway backup: {0}")]
    BadHeader(String),
    /// A backup of another version.
    #[error("unsupported backup version {0} (this gateway reads version 1)")]
    Version(String),
    /// A line that is neither a record nor the trailer.
    #[error("malformed backup at line {line}: {detail}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        detail: String,
    },
    /// A line longer than the reader accepts.
    #[error("malformed backup at line {0}: line too long")]
    LineTooLong(u64),
    /// The trailer's checksum is not the content's.
    #[error("backup checksum mismatch: the backup is damaged")]
    Checksum,
    /// The trailer's record count is not the content's.
    #[error("backup record count mismatch: the backup is damaged")]
    Count,
    /// The stream ended before the trailer.
    #[error("backup truncated: no trailer")]
    Truncated,
    /// Bytes after the trailer.
    #[error("backup has data after its trailer")]
    TrailingData,
}

/// Writes a backup: the header, records, then the trailer.
pub struct Writer {
    hash: Sha256,
    records: u64,
}

impl Writer {
    /// Starts a backup, returning the writer and the header line.
    pub fn start(header: &Header) -> (Writer, Vec<u8>) {
        let mut writer = Writer { hash: Sha256::new(), records: 0 };
        let line = json_line(header);
        writer.hash.update(&line);
        (writer, line)
    }

    /// Appends one record's line to `out`.
    pub fn record(&mut self, tree: &str, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let line = json_line(&RecordOut { tree, key: STANDARD.encode(key), value: STANDARD.encode(value) });
        self.hash.update(&line);
        self.records += 1;
        out.extend_from_slice(&line);
    }

    /// The trailer line; ends the backup.
    pub fn finish(self) -> Vec<u8> {
        json_line(&Trailer { end: true, records: self.records, sha256: hex::encode(self.hash.finalize()) })
    }
}

fn json_line<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own structs of strings and numbers cannot fail
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// What a [`Reader`] found in a chunk.
#[derive(Debug, PartialEq)]
pub enum Item {
    /// The header (always first).
    Header(Header),
    /// A record.
    Record(Record),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    Header,
    Records,
    Done,
}

/// Reads a backup from chunks of any size. Items are only provisional until
/// [`Reader::finish`] says the whole backup checks out.
pub struct Reader {
    buf: Vec<u8>,
    /// Where to continue looking for a newline in `buf`.
    scanned: usize,
    hash: Sha256,
    at: At,
    line: u64,
    records: u64,
    max_line: usize,
}

impl Reader {
    /// A reader refusing lines over `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Reader { buf: Vec::new(), scanned: 0, hash: Sha256::new(), at: At::Header, line: 0, records: 0, max_line }
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Takes the next chunk, appending the complete items in it to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Item>) -> Result<(), ArchiveError> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(nl) = self.buf.get(self.scanned..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) {
            let end = self.scanned + nl + 1;
            // Checked here too, so the verdict does not depend on chunking
            if end - start > self.max_line {
                return Err(ArchiveError::LineTooLong(self.line + 1));
            }
            let line = self.buf.get(start..end).unwrap_or_default().to_vec();
            self.scanned = end;
            start = end;
            if let Some(item) = self.line(&line)? {
                out.push(item);
            }
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_line {
            return Err(ArchiveError::LineTooLong(self.line + 1));
        }
        Ok(())
    }

    /// The stream ended: whether it ended right after a good trailer.
    pub fn finish(self) -> Result<u64, ArchiveError> {
        if !self.buf.is_empty() && self.at == At::Done {
            return Err(ArchiveError::TrailingData);
        }
        match self.at {
            At::Done => Ok(self.records),
            At::Header if self.line == 0 && self.buf.is_empty() => Err(ArchiveError::BadHeader("empty body".into())),
            _ => Err(ArchiveError::Truncated),
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<Item>, ArchiveError> {
        self.line += 1;
        let number = self.line;
        let malformed = |detail: String| ArchiveError::Malformed { line: number, detail };
        match self.at {
            At::Header => {
                let header = parse_header(line)?;
                self.hash.update(line);
                self.at = At::Records;
                Ok(Some(Item::Header(header)))
            }
            At::Records => {
                let value: serde_json::Value =
                    serde_json::from_slice(line).map_err(|_| malformed("not a JSON line".into()))?;
                if value.get("end").is_some() {
                    let trailer: Trailer =
                        serde_json::from_value(value).map_err(|e| malformed(format!("bad trailer: {e}")))?;
                    let digest = hex::encode(std::mem::take(&mut self.hash).finalize());
                    if !trailer.end {
                        return Err(malformed("bad trailer: end must be true".into()));
                    }
                    if trailer.sha256 != digest {
                        return Err(ArchiveError::Checksum);
                    }
                    if trailer.records != self.records {
                        return Err(ArchiveError::Count);
                    }
                    self.at = At::Done;
                    return Ok(None);
                }
                self.hash.update(line);
                let record: RecordIn =
                    serde_json::from_value(value).map_err(|e| malformed(format!("bad record: {e}")))?;
                let key = STANDARD.decode(&record.key).map_err(|_| malformed("key is not base64".into()))?;
                let value = STANDARD.decode(&record.value).map_err(|_| malformed("value is not base64".into()))?;
                self.records += 1;
                Ok(Some(Item::Record(Record { tree: record.tree, key, value })))
            }
            At::Done => Err(ArchiveError::TrailingData),
        }
    }
}

/// The header line: format and version first, so that another version is
/// named as such rather than as a field it lacks.
fn parse_header(line: &[u8]) -> Result<Header, ArchiveError> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|_| ArchiveError::BadHeader("first line is not JSON".into()))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(ArchiveError::BadHeader(format!("format is not {FORMAT}")));
    }
    match value.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => return Err(ArchiveError::Version(v.to_string().chars().take(20).collect())),
        None => return Err(ArchiveError::BadHeader("no version".into())),
    }
    serde_json::from_value(value).map_err(|e| ArchiveError::BadHeader(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    pub(crate) fn header() -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            domain: "notes.acc.ex.org".into(),
            account: "acc".into(),
            name: "notes".into(),
            clone_id: "gw-c123".into(),
            use_signatures: false,
            signers: Vec::new(),
            exported: 1,
        }
    }

    fn sample(records: usize) -> Vec<u8> {
        let (mut w, mut out) = Writer::start(&header());
        for i in 0..records {
            w.record("spo", format!("k{i}").as_bytes(), &[i as u8, 0, 255], &mut out);
        }
        out.extend(w.finish());
        out
    }

    fn read(bytes: &[u8], chunk: usize) -> Result<(Vec<Item>, u64), ArchiveError> {
        let mut r = Reader::new(1024);
        let mut items = Vec::new();
        for c in bytes.chunks(chunk.max(1)) {
            r.feed(c, &mut items)?;
        }
        Ok((items, r.finish()?))
    }

    #[test]
    fn round_trip_in_any_chunking() {
        let bytes = sample(5);
        for chunk in [1, 2, 7, 64, bytes.len()] {
            let (items, n) = read(&bytes, chunk).unwrap();
            assert_eq!(n, 5);
            assert_eq!(items[0], Item::Header(header()));
            assert_eq!(
                items[3],
                Item::Record(Record { tree: "spo".into(), key: b"k2".to_vec(), value: vec![2, 0, 255] })
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let bytes = sample(3);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(read(&bad, 16).is_err(), "flipped byte {i} accepted");
        }
    }

    #[test]
    fn truncations_are_refused() {
        let bytes = sample(3);
        for len in 0..bytes.len() {
            assert!(read(&bytes[..len], 16).is_err(), "cut at {len} accepted");
        }
    }

    fn verdict(bytes: &[u8], chunk: usize) -> (Vec<Item>, Result<u64, ArchiveError>) {
        // Above the header's length (172), below two lines' together
        let mut r = Reader::new(200);
        let mut items = Vec::new();
        for c in bytes.chunks(chunk.max(1)) {
            if let Err(e) = r.feed(c, &mut items) {
                return (items, Err(e));
            }
        }
        (items, r.finish())
    }

    proptest::proptest! {
        /// However the bytes are cut into chunks, the reader sees the same
        /// items and gives the same verdict (what the fuzz target checks).
        #[test]
        fn chunking_never_changes_the_outcome(
            edits in proptest::collection::vec((0usize..4000, proptest::num::u8::ANY), 0..3),
            cut in 0usize..4000,
            chunk in 1usize..300,
        ) {
            let mut bytes = sample(4);
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            bytes.truncate(bytes.len() - cut % 8 * (cut % 2));
            proptest::prop_assert_eq!(verdict(&bytes, bytes.len()), verdict(&bytes, chunk));
        }
    }

    #[test]
    fn refusals_name_the_cause() {
        let bytes = sample(2);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let v2 = text.replacen("\"version\":1", "\"version\":2", 1);
        assert_eq!(read(v2.as_bytes(), 50).unwrap_err(), ArchiveError::Version("2".into()));
        let other = text.replacen(FORMAT, "something-else", 1);
        assert!(matches!(read(other.as_bytes(), 50).unwrap_err(), ArchiveError::BadHeader(_)));
        assert!(matches!(read(b"", 50).unwrap_err(), ArchiveError::BadHeader(_)));
        let mut extra = bytes.clone();
        extra.extend_from_slice(b"{}\n");
        assert_eq!(read(&extra, 50).unwrap_err(), ArchiveError::TrailingData);
        let mut unterminated = bytes.clone();
        unterminated.extend_from_slice(b"x");
        assert_eq!(read(&unterminated, 50).unwrap_err(), ArchiveError::TrailingData);
        let cut = &bytes[..bytes.len() - 1]; // the trailer's newline
        assert_eq!(read(cut, 50).unwrap_err(), ArchiveError::Truncated);
        // A record dropped (the checksum over the rest is recomputed)
        let lines: Vec<&str> = text.lines().collect();
        let (mut w, mut out) = Writer::start(&header());
        w.record("spo", b"k0", &[0, 0, 255], &mut out);
        let mut forged = String::from_utf8(out).unwrap();
        let trailer: serde_json::Value = serde_json::from_slice(&w.finish()).unwrap();
        let digest = trailer["sha256"].as_str().unwrap();
        forged.push_str(&format!("{{\"end\":true,\"records\":2,\"sha256\":\"{digest}\"}}\n"));
        assert_eq!(read(forged.as_bytes(), 50).unwrap_err(), ArchiveError::Count);
        assert_eq!(lines.len(), 4);
        let mut long = vec![b'a'; 2000];
        assert_eq!(read(&long, 50).unwrap_err(), ArchiveError::LineTooLong(1));
        long.push(b'\n');
        assert_eq!(read(&long, long.len()).unwrap_err(), ArchiveError::LineTooLong(1), "whole, in one chunk");
    }
}
