//! The msgpack decoder, reading what `@ably/msgpack-js` reads. Built for
//! hostile input: every read is bounds-checked, a claimed array/map length
//! is checked against the bytes left before anything is allocated, and
//! containers are tracked on an explicit stack rather than by recursion, so
//! nesting costs heap (bounded by [`MAX_DEPTH`]) instead of thread stack.

use super::MAX_DEPTH;
use crate::meld::error::Error;
use crate::meld::value::{Object, Value, js_number_to_string};

/// Decodes one value that must fill `bytes` exactly (JS rejects trailing
/// bytes too).
pub fn decode(bytes: &[u8]) -> Result<Value, Error> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let item_at = reader.pos;
        let mut value = match reader.item()? {
            Item::Value(v) => v,
            // Empty containers count towards the depth too.
            Item::Array(_) | Item::Map(_) if stack.len() >= MAX_DEPTH => {
                return Err(Error::TooDeep(MAX_DEPTH));
            }
            Item::Array(0) => Value::Array(Vec::new()),
            Item::Map(0) => Value::Map(Object::new()),
            Item::Array(len) => {
                reader.check_items(item_at, len, 1)?;
                stack.push(Frame::Array(Vec::with_capacity(len), len));
                continue;
            }
            Item::Map(len) => {
                reader.check_items(item_at, len, 2)?;
                let map = Frame::Map { entries: Vec::with_capacity(len), len, key: None, key_at: reader.pos };
                stack.push(map);
                continue;
            }
        };
        // Hand the finished value to its container, closing every container
        // it completes.
        loop {
            let Some(top) = stack.last_mut() else {
                return match bytes.len() - reader.pos {
                    0 => Ok(value),
                    trailing => Err(Error::TrailingBytes(trailing)),
                };
            };
            let complete = match top {
                Frame::Array(items, len) => {
                    items.push(value);
                    items.len() == *len
                }
                Frame::Map { key: key @ None, key_at, .. } => {
                    *key = Some(property_key(value, *key_at)?);
                    false
                }
                Frame::Map { entries, len, key, key_at } => {
                    if let Some(k) = key.take() {
                        entries.push((k, value));
                    }
                    // The next key, if any, starts here.
                    *key_at = reader.pos;
                    entries.len() == *len
                }
            };
            if !complete {
                break;
            }
            value = match stack.pop() {
                Some(Frame::Array(items, _)) => Value::Array(items),
                // JS assigns the pairs into a plain object: duplicate keys
                // collapse and index-like keys move to the front.
                Some(Frame::Map { entries, .. }) => Value::Map(Object::from_entries(entries)),
                None => break,
            };
        }
    }
}

/// A container being filled: its items so far and its announced length.
enum Frame {
    Array(Vec<Value>, usize),
    Map {
        entries: Vec<(String, Value)>,
        len: usize,
        /// The key read ahead of its value.
        key: Option<String>,
        /// Where the current key starts, for error reports.
        key_at: usize,
    },
}

/// One decoded token: a complete value or the header of a container.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

/// `2^32`, the scale of the high word when JS assembles 64-bit ints.
const TWO_POW_32: f64 = 4_294_967_296.0;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let bytes: &'a [u8] = self.bytes;
        match bytes.get(self.pos..self.pos.saturating_add(n)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(Error::Incomplete { offset: self.pos, needed: n - self.remaining() }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<usize, Error> {
        Ok(usize::from(self.array::<1>()?[0]))
    }

    fn u16(&mut self) -> Result<usize, Error> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, Error> {
        let n = u32::from_be_bytes(self.array()?);
        usize::try_from(n).map_err(|_| Error::TooLong(usize::MAX))
    }

    /// Checks that `count` items of at least `min_size` bytes each can still
    /// follow, so hostile lengths never drive allocation or long loops.
    fn check_items(&self, start: usize, count: usize, min_size: usize) -> Result<(), Error> {
        let needed = count.saturating_mul(min_size);
        if needed > self.remaining() {
            return Err(Error::Incomplete { offset: start, needed: needed - self.remaining() });
        }
        Ok(())
    }

    fn item(&mut self) -> Result<Item, Error> {
        let start = self.pos;
        let [byte] = self.array()?;
        let n = |n: f64| Ok(Item::Value(Value::Number(n)));
        match byte {
            0x00..=0x7f => n(f64::from(byte)),
            0x80..=0x8f => Ok(Item::Map(usize::from(byte & 0x0f))),
            0x90..=0x9f => Ok(Item::Array(usize::from(byte & 0x0f))),
            0xa0..=0xbf => self.str(usize::from(byte & 0x1f)),
            0xc0 => Ok(Item::Value(Value::Null)),
            0xc1 => Err(Error::UnknownType { byte, offset: start }),
            0xc2 => Ok(Item::Value(Value::Bool(false))),
            0xc3 => Ok(Item::Value(Value::Bool(true))),
            0xc4 => {
                let len = self.u8()?;
                self.bin(len)
            }
            0xc5 => {
                let len = self.u16()?;
                self.bin(len)
            }
            0xc6 => {
                let len = self.u32()?;
                self.bin(len)
            }
            0xc7 => {
                let len = self.u8()?;
                self.ext(len)
            }
            0xc8 => {
                let len = self.u16()?;
                self.ext(len)
            }
            0xc9 => {
                let len = self.u32()?;
                self.ext(len)
            }
            0xca => n(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => n(f64::from_be_bytes(self.array()?)),
            0xcc => n(f64::from(u8::from_be_bytes(self.array()?))),
            0xcd => n(f64::from(u16::from_be_bytes(self.array()?))),
            0xce => n(f64::from(u32::from_be_bytes(self.array()?))),
            // JS assembles 64-bit ints in float arithmetic (hi * 2^32 + lo);
            // the same IEEE operations give the same rounding here.
            0xcf => {
                let hi = f64::from(u32::from_be_bytes(self.array()?));
                let lo = f64::from(u32::from_be_bytes(self.array()?));
                n(hi * TWO_POW_32 + lo)
            }
            0xd0 => n(f64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => n(f64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => n(f64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => {
                let hi = f64::from(i32::from_be_bytes(self.array()?));
                let lo = f64::from(u32::from_be_bytes(self.array()?));
                n(hi * TWO_POW_32 + lo)
            }
            0xd4 => {
                let [ext_type, data] = self.array()?;
                Ok(Item::Value(if ext_type == 0 && data == 0 {
                    Value::Undefined
                } else {
                    // JS yields [type, byte] for any other fixext 1.
                    Value::Array(vec![Value::from(u32::from(ext_type)), Value::from(u32::from(data))])
                }))
            }
            0xd5 => self.ext(2),
            0xd6 => self.ext(4),
            0xd7 => self.ext(8),
            0xd8 => self.ext(16),
            0xd9 => {
                let len = self.u8()?;
                self.str(len)
            }
            0xda => {
                let len = self.u16()?;
                self.str(len)
            }
            0xdb => {
                let len = self.u32()?;
                self.str(len)
            }
            0xdc => Ok(Item::Array(self.u16()?)),
            0xdd => Ok(Item::Array(self.u32()?)),
            0xde => Ok(Item::Map(self.u16()?)),
            0xdf => Ok(Item::Map(self.u32()?)),
            0xe0..=0xff => n(f64::from(i8::from_be_bytes([byte]))),
        }
    }

    fn str(&mut self, len: usize) -> Result<Item, Error> {
        // Node's Buffer#toString('utf-8') replaces invalid sequences.
        let text = String::from_utf8_lossy(self.take(len)?).into_owned();
        Ok(Item::Value(Value::Str(text)))
    }

    fn bin(&mut self, len: usize) -> Result<Item, Error> {
        Ok(Item::Value(Value::Bin(self.take(len)?.to_vec())))
    }

    /// Extension types decode, as in JS, to `[type, Buffer]`; m-ld never
    /// produces them.
    fn ext(&mut self, len: usize) -> Result<Item, Error> {
        let [ext_type] = self.array()?;
        let data = Value::Bin(self.take(len)?.to_vec());
        Ok(Item::Value(Value::Array(vec![Value::from(u32::from(ext_type)), data])))
    }
}

/// The property key JS derives from a decoded map key (`String(key)`), for
/// the key types with a well-defined form.
fn property_key(key: Value, offset: usize) -> Result<String, Error> {
    match key {
        Value::Str(s) => Ok(s),
        Value::Number(n) => Ok(js_number_to_string(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok("null".to_owned()),
        Value::Undefined => Ok("undefined".to_owned()),
        Value::Bin(_) | Value::Array(_) | Value::Map(_) => Err(Error::UnsupportedMapKey(offset)),
    }
}
