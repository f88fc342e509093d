//! msgpack exactly as `@ably/msgpack-js` 0.4 (used by `@m-ld/m-ld` 0.10)
//! writes and reads it (wire doc §2.1). Byte-exactness matters for the clock
//! hash (the TID), and producing the JS bytes everywhere is the simplest way
//! to stay safe. Decoding never panics: every read is bounds-checked, nesting
//! is limited and claimed lengths are checked against the remaining input
//! before anything is allocated (see `decode`).

use super::error::Error;
use super::value::Value;

mod decode;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use decode::decode;

/// Deepest array/map nesting the decoder accepts. Clock trees deepen by one
/// level per fork, so this is generous for real domains while keeping the
/// recursion far below a 2 MiB thread stack.
pub const MAX_DEPTH: usize = 1000;

/// Encodes `value` as the JS engine would.
///
/// Fails only for a string, buffer, array or object longer than msgpack's
/// 32-bit length fields allow.
pub fn encode(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
    match value {
        Value::Null => out.push(0xc0),
        Value::Undefined => out.extend_from_slice(&[0xd4, 0x00, 0x00]),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => write_number(out, *n),
        Value::Str(s) => {
            let len = length(s.len())?;
            // str8 (d9) is used; there is no "raw" compatibility mode here.
            write_header(out, len, 0xa0, 0x20, Some(0xd9), 0xda, 0xdb);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            let len = length(b.len())?;
            write_header(out, len, 0xc4, 0, Some(0xc4), 0xc5, 0xc6);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            write_array_len(out, length(items.len())?);
            for item in items {
                encode_into(item, out)?;
            }
        }
        Value::Map(object) => {
            write_header(out, length(object.len())?, 0x80, 0x10, None, 0xde, 0xdf);
            // Object keeps JS Object.keys order, so iteration order is right.
            for (k, v) in object.iter() {
                let len = length(k.len())?;
                write_header(out, len, 0xa0, 0x20, Some(0xd9), 0xda, 0xdb);
                out.extend_from_slice(k.as_bytes());
                encode_into(v, out)?;
            }
        }
    }
    Ok(())
}

fn length(len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::TooLong(len))
}

/// Writes a length-prefixed header: a fix form when `len < fix_limit`, then
/// the 8-bit form (if the type has one), 16-bit and 32-bit forms.
fn write_header(out: &mut Vec<u8>, len: u32, fix_base: u8, fix_limit: u32, m8: Option<u8>, m16: u8, m32: u8) {
    if len < fix_limit {
        // len < fix_limit <= 0x20, so it fits the low bits of the fix byte.
        out.push(fix_base | len as u8);
    } else if let (Some(m8), Ok(l)) = (m8, u8::try_from(len)) {
        out.extend_from_slice(&[m8, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(m16);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Writes an array header (fixarray, array16, array32).
pub fn write_array_len(out: &mut Vec<u8>, len: u32) {
    write_header(out, len, 0x90, 0x10, None, 0xdc, 0xdd);
}

/// Writes a JS number: integral values (including -0 and the infinities'
/// range checks) as the smallest int form, everything else as float64.
pub fn write_number(out: &mut Vec<u8>, n: f64) {
    // `floor(n) != n` is JS's test; it is also true for NaN.
    if n.floor() != n {
        return write_f64(out, n);
    }
    if n >= 0.0 {
        if n < 18_446_744_073_709_551_616.0 {
            // Integral and below 2^64: the cast is exact.
            write_uint(out, n as u64);
        } else {
            write_f64(out, n);
        }
    } else if n >= -32.0 {
        out.push(n as i8 as u8);
    } else if n >= -128.0 {
        out.push(0xd0);
        out.push(n as i8 as u8);
    } else if n >= -32768.0 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648.0 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else if n >= -9_223_372_036_854_775_808.0 {
        out.push(0xd3);
        out.extend_from_slice(&(n as i64).to_be_bytes());
    } else {
        write_f64(out, n);
    }
}

/// Writes a non-negative integer in its smallest form.
pub fn write_uint(out: &mut Vec<u8>, n: u64) {
    if let Ok(b) = u8::try_from(n) {
        if b < 0x80 {
            out.push(b);
        } else {
            out.extend_from_slice(&[0xcc, b]);
        }
    } else if let Ok(s) = u16::try_from(n) {
        out.push(0xcd);
        out.extend_from_slice(&s.to_be_bytes());
    } else if let Ok(w) = u32::try_from(n) {
        out.push(0xce);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn write_f64(out: &mut Vec<u8>, n: f64) {
    out.push(0xcb);
    out.extend_from_slice(&n.to_be_bytes());
}
