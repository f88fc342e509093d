//! JSON numbers ⇄ literals (wire doc §6.6), where lexical identity matters
//! most: a triple whose lexical form differs from the JS engine's is a
//! different triple, and deletes stop matching. Knows nothing of IRIs.

use crate::meld::value::js_number_to_string;

/// `xs:integer`.
pub const XS_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#integer";
/// `xs:double`.
pub const XS_DOUBLE: &str = "http://www.w3.org/2001/XMLSchema#double";

/// Significant digits of `canonicalDouble` (JS `toExponential(15)`).
const DOUBLE_DIGITS: usize = 16;

/// The literal (lexical form, datatype IRI) JS makes of a JSON number.
///
/// JS calls a number a double when `String(v)` has a `.` or `|v| >= 1e21`;
/// anything else is `v.toFixed(0)` as `xs:integer`. Hence the quirk that
/// `1e-7` (printed without a `.`) becomes the integer `"0"`, and `-1e-7`
/// becomes `"-0"`.
pub fn number_literal(n: f64) -> (String, &'static str) {
    if js_number_to_string(n).contains('.') || n.abs() >= 1e21 {
        return (canonical_double(n), XS_DOUBLE);
    }
    (js_to_fixed_0(n), XS_INTEGER)
}

/// JS `v.toFixed(0)` for `|v| < 1e21`: the nearest integer (ties away from
/// zero), with the sign of `v` kept even when that integer is 0.
fn js_to_fixed_0(n: f64) -> String {
    if !n.is_finite() {
        return js_number_to_string(n);
    }
    let rounded = n.abs().round();
    // `{:.0}` prints an integral f64 exactly.
    let digits = format!("{rounded:.0}");
    if n < 0.0 { format!("-{digits}") } else { digits }
}

/// m-ld's `canonicalDouble`: JS `toExponential(15)` (16 significant digits,
/// ties rounded up in magnitude, as JS does on the exact binary value) with
/// the mantissa's trailing zeros removed down to one decimal, and `E` for
/// `e+`. E.g. `1.85` → `1.85E0`, `0.1 + 0.2` → `3.0E-1`.
pub fn canonical_double(n: f64) -> String {
    if !n.is_finite() {
        // toExponential gives "NaN"/"Infinity"; nothing better to do.
        return js_number_to_string(n);
    }
    let sign = if n < 0.0 { "-" } else { "" };
    let (mut digits, mut exp) = exact_digits(n.abs());
    // Round half up at the 16th significant digit (JS picks the larger of
    // two equally near candidates; Rust's formatter would pick the even one).
    let round_up = digits.get(DOUBLE_DIGITS).is_some_and(|&d| d >= b'5');
    digits.truncate(DOUBLE_DIGITS);
    digits.resize(DOUBLE_DIGITS, b'0');
    if round_up {
        let mut i = DOUBLE_DIGITS;
        loop {
            if i == 0 {
                // 9.99…9 carried over: becomes 1.00…0 with exponent + 1.
                digits.insert(0, b'1');
                digits.truncate(DOUBLE_DIGITS);
                exp += 1;
                break;
            }
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                if *d == b'9' {
                    *d = b'0';
                } else {
                    *d += 1;
                    break;
                }
            }
        }
    }
    while digits.len() > 2 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() { "0".as_bytes() } else { rest };
    format!("{sign}{}.{}E{exp}", String::from_utf8_lossy(first), String::from_utf8_lossy(rest))
}

/// JS `parseFloat`: the longest numeric prefix after leading whitespace
/// (`"1.5abc"` → 1.5), `Infinity` with an optional sign, else NaN. Used for
/// `xs:double` value objects whose `@value` is a string.
pub fn js_parse_float(text: &str) -> f64 {
    let s = text.trim_start();
    let bytes = s.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    if s[end..].starts_with("Infinity") {
        return if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let digits = |from: usize| from + bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_end = digits(end);
    let mut frac_end = int_end;
    if bytes.get(int_end) == Some(&b'.') {
        frac_end = digits(int_end + 1);
    }
    // A mantissa needs at least one digit ("." and "-." are not numbers).
    if frac_end - end - usize::from(frac_end > int_end) == 0 {
        return f64::NAN;
    }
    end = frac_end;
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp = end + 1;
        if matches!(bytes.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        let exp_end = digits(exp);
        // An exponent without digits is not part of the number.
        if exp_end > exp {
            end = exp_end;
        }
    }
    s[..end].parse().unwrap_or(f64::NAN)
}

/// All significant decimal digits of a finite non-negative `f64`, exactly,
/// with the decimal exponent of the first one. (Rust prints exact digits
/// when asked for more precision than the value has; 1100 covers the
/// longest expansion, of the smallest subnormal.)
fn exact_digits(n: f64) -> (Vec<u8>, i32) {
    if n == 0.0 {
        return (vec![b'0'], 0);
    }
    let text = format!("{n:.1100e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exp.parse().unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::meld::vectors::{field, rows};

    #[test]
    fn every_canonical_double_vector() {
        let rows = rows("canonical-double.jsonl");
        assert_eq!(rows.len(), 19);
        for row in &rows {
            let n = field(row, "number").as_f64().expect("number");
            assert_eq!(Some(js_number_to_string(n).as_str()), field(row, "repr").as_str());
            assert_eq!(Some(canonical_double(n).as_str()), field(row, "canonical").as_str(), "{n}");
        }
    }

    /// Rows of `jsonld.jsonl` that map one JSON number to one literal.
    #[test]
    fn every_number_row_of_the_jsonld_vectors() {
        let mut checked = 0;
        for row in rows("jsonld.jsonl") {
            let Some(json) = field(&row, "json").as_object() else {
                continue;
            };
            let values: Vec<f64> = json.iter().filter_map(|(_, v)| v.as_f64()).collect();
            let triples = field(&row, "triples").as_array().expect("triples");
            let [n] = values.as_slice() else { continue };
            let [triple] = triples else { continue };
            let text = field(triple, "triple").as_str().expect("triple");
            let Some(literal) = text.split_once(" \"").map(|(_, l)| l) else {
                continue;
            };
            let (lexical, datatype) = number_literal(*n);
            assert_eq!(literal, format!("{lexical}\"^^<{datatype}>"), "{n}");
            checked += 1;
        }
        assert_eq!(checked, 15);
    }

    #[test]
    fn parse_float_reads_a_prefix_as_js_does() {
        assert_eq!(js_parse_float(" 1.5abc"), 1.5);
        assert_eq!(js_parse_float("-.5e3x"), -500.0);
        assert_eq!(js_parse_float("2e"), 2.0);
        assert_eq!(js_parse_float("-Infinity"), f64::NEG_INFINITY);
        assert!(js_parse_float(".").is_nan());
        assert!(js_parse_float("abc").is_nan());
        assert!(js_parse_float("").is_nan());
        assert_eq!(js_parse_float("7."), 7.0);
    }

    #[test]
    fn ties_round_up_as_js_does() {
        // 1 + 2^-16 = 1.0000152587890625 exactly: a tie at 16 digits.
        assert_eq!(canonical_double(1.0 + 2f64.powi(-16)), "1.000015258789063E0");
        assert_eq!(canonical_double(-(1.0 + 2f64.powi(-16))), "-1.000015258789063E0");
        assert_eq!(canonical_double(0.0), "0.0E0");
        assert_eq!(number_literal(-0.0), ("0".to_owned(), XS_INTEGER));
        assert_eq!(number_literal(-1e-7), ("-0".to_owned(), XS_INTEGER));
        assert_eq!(number_literal(12345678901234567000.0), ("12345678901234567168".to_owned(), XS_INTEGER));
    }
}
