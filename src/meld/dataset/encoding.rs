//! How terms, TID sets and small records become bytes, and back. Knows
//! nothing of trees or keys (see `keys`) nor of sled.
//!
//! A term is a tag byte followed by length-prefixed UTF-8 strings:
//!
//! | tag  | term                  | fields                      |
//! |------|-----------------------|-----------------------------|
//! | 0x01 | IRI                   | iri                         |
//! | 0x02 | blank node            | label (without `_:`)        |
//! | 0x03 | `xs:string` literal   | lexical                     |
//! | 0x04 | other literal         | datatype, lexical           |
//!
//! Lengths are unsigned LEB128 varints (one byte below 128). The encoding is
//! **prefix-free**: no term's bytes are a prefix of another's, so a key made
//! of concatenated terms can be scanned by any leading run of whole terms
//! (e.g. "all triples of subject S") without false matches. It is not
//! lexicographically order-preserving (the length comes first); nothing needs
//! that. A literal's indirected data is not part of its encoding, exactly as
//! it is not part of its identity (see `term`). `xs:string` gets its own tag
//! because it is by far the most common datatype and its IRI would otherwise
//! be repeated in every key.

use crate::meld::term::{Literal, Term, TidSet, XS_STRING};

use super::error::DatasetError;

const TAG_IRI: u8 = 0x01;
const TAG_BLANK: u8 = 0x02;
const TAG_STRING: u8 = 0x03;
const TAG_LITERAL: u8 = 0x04;

/// Flag bit in a TID-set value: the triple is entailed (present even with no TIDs).
const FLAG_ENTAILED: u8 = 0x01;

/// The bytes of a term, for keys. Indirected literal data is left out.
pub fn encode_term(term: &Term) -> Vec<u8> {
    let mut out = Vec::new();
    write_term(&mut out, term);
    out
}

/// Reads back exactly one term; trailing bytes are corruption.
pub fn decode_term(bytes: &[u8]) -> Result<Term, DatasetError> {
    let mut reader = Reader::new(bytes);
    let term = reader.term()?;
    reader.finish()?;
    Ok(term)
}

/// Appends a term's encoding.
pub(super) fn write_term(out: &mut Vec<u8>, term: &Term) {
    match term {
        Term::Iri(iri) => {
            out.push(TAG_IRI);
            write_str(out, iri);
        }
        Term::Blank(label) => {
            out.push(TAG_BLANK);
            write_str(out, label);
        }
        Term::Literal(literal) => write_literal(out, literal),
    }
}

/// The bytes of a literal term, the key of its indirected data.
pub(super) fn encode_literal(literal: &Literal) -> Vec<u8> {
    let mut out = Vec::new();
    write_literal(&mut out, literal);
    out
}

fn write_literal(out: &mut Vec<u8>, literal: &Literal) {
    if literal.datatype == XS_STRING {
        out.push(TAG_STRING);
        write_str(out, &literal.lexical);
    } else {
        out.push(TAG_LITERAL);
        write_str(out, &literal.datatype);
        write_str(out, &literal.lexical);
    }
}

/// Appends an IRI as a term (predicates are stored as IRI terms so every key
/// part decodes the same way).
pub(super) fn write_iri(out: &mut Vec<u8>, iri: &str) {
    out.push(TAG_IRI);
    write_str(out, iri);
}

/// Appends an unsigned LEB128 varint.
pub(super) fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // Truncation intended: the low seven bits, with the continuation bit.
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends length-prefixed bytes.
pub(super) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a length-prefixed UTF-8 string.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    write_bytes(out, s.as_bytes());
}

/// The value of a triple in the SPO tree: a flags byte, then the TIDs.
pub(super) fn encode_tids(entailed: bool, tids: &TidSet) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + tids.len() * 29);
    out.push(if entailed { FLAG_ENTAILED } else { 0 });
    write_varint(&mut out, tids.len() as u64);
    for tid in tids {
        write_str(&mut out, tid);
    }
    out
}

/// Reads an SPO value: (entailed, TIDs).
pub(super) fn decode_tids(bytes: &[u8]) -> Result<(bool, TidSet), DatasetError> {
    let mut reader = Reader::new(bytes);
    let flags = reader.u8()?;
    if flags & !FLAG_ENTAILED != 0 {
        return Err(DatasetError::corrupt(format!("unknown triple flags 0x{flags:02x}")));
    }
    let count = reader.varint()?;
    let mut tids = TidSet::new();
    for _ in 0..count {
        tids.insert(reader.string()?);
    }
    reader.finish()?;
    Ok((flags & FLAG_ENTAILED != 0, tids))
}

/// A bounds-checked cursor over stored bytes; every failure is corruption.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// How many bytes have been read.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// Whether all bytes have been read.
    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Succeeds only if all bytes have been read.
    pub(super) fn finish(&self) -> Result<(), DatasetError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DatasetError::corrupt(format!("{} trailing bytes", self.bytes.len() - self.pos)))
        }
    }

    pub(super) fn u8(&mut self) -> Result<u8, DatasetError> {
        let byte = *self.bytes.get(self.pos).ok_or_else(|| DatasetError::corrupt("bytes end early"))?;
        self.pos += 1;
        Ok(byte)
    }

    pub(super) fn varint(&mut self) -> Result<u64, DatasetError> {
        let mut n: u64 = 0;
        // Ten 7-bit groups cover 64 bits; the tenth may only hold the top bit.
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(DatasetError::corrupt("varint overflows 64 bits"));
            }
            n |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(DatasetError::corrupt("varint too long"))
    }

    /// Length-prefixed bytes.
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], DatasetError> {
        let len = self.varint()?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.pos.checked_add(len))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| DatasetError::corrupt("length runs past the end"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// A length-prefixed UTF-8 string.
    pub(super) fn string(&mut self) -> Result<String, DatasetError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DatasetError::corrupt("string is not UTF-8"))
    }

    /// A u64 written big-endian in eight bytes (not length-prefixed).
    pub(super) fn u64_be(&mut self) -> Result<u64, DatasetError> {
        let end = self.pos.saturating_add(8);
        let slice = self.bytes.get(self.pos..end).ok_or_else(|| DatasetError::corrupt("bytes end early"))?;
        self.pos = end;
        let mut buf = [0; 8];
        buf.copy_from_slice(slice);
        Ok(u64::from_be_bytes(buf))
    }

    /// One term.
    pub(super) fn term(&mut self) -> Result<Term, DatasetError> {
        match self.u8()? {
            TAG_IRI => Ok(Term::Iri(self.string()?)),
            TAG_BLANK => Ok(Term::Blank(self.string()?)),
            TAG_STRING => Ok(Term::Literal(Literal::new(self.string()?, XS_STRING))),
            TAG_LITERAL => {
                let datatype = self.string()?;
                Ok(Term::Literal(Literal::new(self.string()?, datatype)))
            }
            tag => Err(DatasetError::corrupt(format!("unknown term tag 0x{tag:02x}"))),
        }
    }

    /// One term that must be an IRI (a predicate).
    pub(super) fn iri(&mut self) -> Result<String, DatasetError> {
        match self.term()? {
            Term::Iri(iri) => Ok(iri),
            _ => Err(DatasetError::corrupt("predicate is not an IRI")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::meld::term::{RDF_JSON, XS_BASE64};
    use crate::meld::value::Value;

    fn round_trip(term: Term) {
        let bytes = encode_term(&term);
        assert_eq!(decode_term(&bytes).unwrap(), term, "{bytes:?}");
    }

    #[test]
    fn terms_round_trip() {
        round_trip(Term::iri("http://example.org/fred"));
        round_trip(Term::iri(""));
        round_trip(Term::Blank("b0".into()));
        round_trip(Term::Blank(String::new()));
        round_trip(Term::Literal(Literal::new("", XS_STRING)));
        round_trip(Term::Literal(Literal::new("Fred", XS_STRING)));
        round_trip(Term::Literal(Literal::new("", "")));
        round_trip(Term::Literal(Literal::new("42", "http://www.w3.org/2001/XMLSchema#integer")));
        round_trip(Term::Literal(Literal::new("ünïcødé ☃ 𝄞 \u{0}", XS_STRING)));
        round_trip(Term::iri("http://例え.テスト/☃"));
        // Long enough for a multi-byte length.
        round_trip(Term::Literal(Literal::new("x".repeat(100_000), RDF_JSON)));
    }

    #[test]
    fn literal_data_is_not_encoded() {
        let with = Literal { data: Some(Value::Bin(vec![0, 1, 2, 0xfe, 0xff])), ..Literal::new("id", XS_BASE64) };
        let bytes = encode_term(&Term::Literal(with.clone()));
        assert_eq!(bytes, encode_term(&Term::Literal(Literal::new("id", XS_BASE64))));
        // Decodes to the identity; the dataset keeps data in its own tree.
        assert_eq!(decode_term(&bytes).unwrap(), Term::Literal(with));
    }

    #[test]
    fn encoding_is_prefix_free() {
        let terms = [
            Term::iri("a"),
            Term::iri("ab"),
            Term::Blank("a".into()),
            Term::Literal(Literal::new("a", XS_STRING)),
            Term::Literal(Literal::new("a", "a")),
            Term::Literal(Literal::new("", "a")),
            Term::iri(""),
        ];
        for a in &terms {
            for b in &terms {
                if a != b {
                    assert!(!encode_term(b).starts_with(&encode_term(a)), "{a:?} prefixes {b:?}");
                }
            }
        }
    }

    #[test]
    fn bad_bytes_are_corruption() {
        let bad: [&[u8]; 7] = [
            &[],
            &[0x09, 0x00],
            &[TAG_IRI, 0x05, b'a'],
            &[TAG_IRI, 0x01, 0xff],
            &[TAG_IRI, 0x00, 0x00],
            &[TAG_LITERAL, 0x01, b'a'],
            &[TAG_IRI, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ];
        for bytes in bad {
            assert!(matches!(decode_term(bytes), Err(DatasetError::Corruption(_))), "{bytes:?}");
        }
    }

    #[test]
    fn varints_round_trip() {
        for n in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, n);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.varint().unwrap(), n);
            reader.finish().unwrap();
        }
    }

    #[test]
    fn tid_values_round_trip() {
        let tids: TidSet = ["B+8=", "ZcL4NvoFJ2tQ9LoXi4Oe6xoofb4="].iter().map(|s| s.to_string()).collect();
        for entailed in [false, true] {
            assert_eq!(decode_tids(&encode_tids(entailed, &tids)).unwrap(), (entailed, tids.clone()));
        }
        assert_eq!(decode_tids(&encode_tids(true, &TidSet::new())).unwrap(), (true, TidSet::new()));
        assert!(matches!(decode_tids(&[0x02, 0x00]), Err(DatasetError::Corruption(_))));
        assert!(matches!(decode_tids(&[0x00, 0x01]), Err(DatasetError::Corruption(_))));
    }
}
