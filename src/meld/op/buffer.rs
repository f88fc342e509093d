//! `BufferEncoding` (wire doc §2.2–2.3): JSON ⇄ bytes as msgpack, gzipped
//! above 1 KiB, as JS's `MeldEncoder` does. Decompression is bounded so a
//! small hostile stream cannot inflate into memory exhaustion.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::MAX_UPDATE_BYTES;
use crate::meld::error::Error;
use crate::meld::msgpack;
use crate::meld::value::Value;

/// `BufferEncoding.JSON`: UTF-8 JSON text.
pub const JSON: u8 = 0;
/// `BufferEncoding.MSGPACK`.
pub const MSGPACK: u8 = 1;
/// `BufferEncoding.GZIP`.
pub const GZIP: u8 = 2;

/// Above this many msgpack bytes JS gzips (`MeldEncoder.bufferFromJson`).
const GZIP_THRESHOLD: usize = 1024;

/// JSON → bytes and the encodings applied (`[1]` or `[1, 2]`).
pub fn buffer_from_json(json: &Value) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let packed = msgpack::encode(json)?;
    if packed.len() <= GZIP_THRESHOLD {
        return Ok((packed, vec![MSGPACK]));
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&packed).map_err(|e| Error::Gzip(e.kind()))?;
    let zipped = gz.finish().map_err(|e| Error::Gzip(e.kind()))?;
    Ok((zipped, vec![MSGPACK, GZIP]))
}

/// Bytes → JSON, undoing `encoding` from last to first.
pub fn json_from_buffer(bytes: &[u8], encoding: &[u8]) -> Result<Value, Error> {
    let mut buf: std::borrow::Cow<[u8]> = std::borrow::Cow::Borrowed(bytes);
    let mut json: Option<Value> = None;
    for code in encoding.iter().rev() {
        if json.is_some() {
            // Only the first stage (in application order) yields JSON.
            return Err(Error::BadOperation("encoding stage after JSON"));
        }
        match *code {
            GZIP => buf = std::borrow::Cow::Owned(gunzip(&buf)?),
            MSGPACK => json = Some(msgpack::decode(&buf)?),
            JSON => json = Some(serde_json::from_slice(&buf).map_err(|_| Error::BadJsonText)?),
            other => return Err(Error::UnsupportedEncoding(u64::from(other))),
        }
    }
    json.ok_or(Error::BadOperation("encoding yields no JSON"))
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    // Read one byte past the limit to tell "exactly at" from "beyond".
    let limit = (MAX_UPDATE_BYTES + 1) as u64;
    GzDecoder::new(bytes).take(limit).read_to_end(&mut out).map_err(|e| Error::Gzip(e.kind()))?;
    if out.len() > MAX_UPDATE_BYTES {
        return Err(Error::UpdateTooLarge(MAX_UPDATE_BYTES));
    }
    Ok(out)
}

/// Reads an `encoding` array (`[1]`, `[1, 2]`…) of small codes.
pub fn encoding_of(v: &Value) -> Result<Vec<u8>, Error> {
    let items = v.as_array().ok_or(Error::BadOperation("encoding is not an array"))?;
    items
        .iter()
        .map(|c| match c.as_u64() {
            Some(n) => u8::try_from(n).map_err(|_| Error::UnsupportedEncoding(n)),
            None => Err(Error::BadOperation("encoding code is not an integer")),
        })
        .collect()
}

/// An `encoding` array as a JS value.
pub fn encoding_value(encoding: &[u8]) -> Value {
    Value::Array(encoding.iter().map(|c| Value::from(u32::from(*c))).collect())
}
