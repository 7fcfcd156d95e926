//! The policy document as a [`toml::Table`], built from `toml`'s parse tree.
//!
//! `toml::from_str::<Table>` would do the same through serde's deserializer
//! machinery, which costs the component tens of kilobytes (serde's error
//! formatting alone pulls in float printing). This walks the parse tree
//! directly and reproduces what the serde path does, including its errors:
//! the same messages at the same spans, and the first error in the same
//! (sorted-key) order. A syntax error comes from `toml`'s parser either way.

use toml::de::{DeInteger, DeTable, DeValue};
use toml::value::Datetime;
use toml::{Spanned, Table, Value};

/// Why a document is not a TOML table: the message and where, as
/// `toml::de::Error`'s `message()` and `span()` give them.
#[derive(Debug)]
pub(crate) struct TomlError {
    pub(crate) message: String,
    pub(crate) span: Option<core::ops::Range<usize>>,
}

/// The key that `toml`'s serde support reserves for datetimes: a table whose
/// first key it is reads as the datetime in its string value.
const DATETIME_FIELD: &str = "$__toml_private_datetime";

/// `toml::from_str::<toml::Table>(doc)`, without serde.
pub(crate) fn parse(doc: &str) -> Result<Table, TomlError> {
    let root = DeTable::parse(doc).map_err(|e| TomlError {
        message: e.message().to_owned(),
        span: e.span(),
    })?;
    // The root is read as a map, never as a datetime.
    let mut table = Table::new();
    for (key, value) in root.into_inner() {
        table.insert(key.into_inner().into_owned(), value_of(value)?);
    }
    Ok(table)
}

fn error(message: String, span: core::ops::Range<usize>) -> TomlError {
    TomlError {
        message,
        span: Some(span),
    }
}

/// An integer the way serde's visitors receive it: `i64`, else `u64`, else
/// `i128`, else `u128`.
enum Int {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
}

fn int(n: &DeInteger<'_>) -> Option<Int> {
    let (s, radix) = (n.as_str(), n.radix());
    if let Ok(v) = i64::from_str_radix(s, radix) {
        Some(Int::I64(v))
    } else if let Ok(v) = u64::from_str_radix(s, radix) {
        Some(Int::U64(v))
    } else if let Ok(v) = i128::from_str_radix(s, radix) {
        Some(Int::I128(v))
    } else {
        u128::from_str_radix(s, radix).ok().map(Int::U128)
    }
}

/// `toml`'s float conversion: an overflow to infinity is an error unless
/// the document wrote `inf`.
fn float(text: &str) -> Option<f64> {
    let f: f64 = text.parse().ok()?;
    if f.is_infinite() && !text.contains("inf") {
        None
    } else {
        Some(f)
    }
}

const INTEGER_OVERFLOW: &str = "integer number overflowed";
const FLOAT_OVERFLOW: &str = "floating-point number overflowed";

fn value_of(value: Spanned<DeValue<'_>>) -> Result<Value, TomlError> {
    let span = value.span();
    Ok(match value.into_inner() {
        DeValue::String(s) => Value::String(s.into_owned()),
        DeValue::Integer(n) => match int(&n) {
            Some(Int::I64(v)) => Value::Integer(v),
            Some(Int::U64(_)) => return Err(error("u64 value was too large".into(), span)),
            Some(Int::I128(v)) => return Err(error(any_value(&format!("{v}` as i128")), span)),
            Some(Int::U128(v)) => return Err(error(any_value(&format!("{v}` as u128")), span)),
            None => return Err(error(INTEGER_OVERFLOW.into(), span)),
        },
        DeValue::Float(f) => match float(f.as_str()) {
            Some(v) => Value::Float(v),
            None => return Err(error(FLOAT_OVERFLOW.into(), span)),
        },
        DeValue::Boolean(b) => Value::Boolean(b),
        DeValue::Datetime(d) => Value::Datetime(d),
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.push(value_of(item)?);
            }
            Value::Array(out)
        }
        DeValue::Table(entries) => {
            let mut entries = entries.into_iter().peekable();
            if let Some((key, _)) = entries.peek()
                && key.get_ref() == DATETIME_FIELD
            {
                let (_, value) = entries.next().expect("peeked");
                return datetime_from_field(value).map(Value::Datetime);
            }
            let mut table = Table::new();
            for (key, value) in entries {
                table.insert(key.into_inner().into_owned(), value_of(value)?);
            }
            Value::Table(table)
        }
    })
}

/// serde's "invalid type" message for an integer too wide for a TOML value.
fn any_value(integer: &str) -> String {
    format!("invalid type: integer `{integer}, expected any valid TOML value")
}

/// The value of a table's reserved datetime key: a string that must parse
/// as a datetime (the table's other keys are ignored, as with serde).
fn datetime_from_field(value: Spanned<DeValue<'_>>) -> Result<Datetime, TomlError> {
    let span = value.span();
    let unexpected = match value.into_inner() {
        DeValue::String(s) => {
            return s
                .parse::<Datetime>()
                .map_err(|e| error(e.to_string(), span));
        }
        DeValue::Integer(n) => match int(&n) {
            Some(Int::I64(v)) => format!("integer `{v}`"),
            Some(Int::U64(v)) => format!("integer `{v}`"),
            Some(Int::I128(v)) => format!("integer `{v}` as i128"),
            Some(Int::U128(v)) => format!("integer `{v}` as u128"),
            None => return Err(error(INTEGER_OVERFLOW.into(), span)),
        },
        DeValue::Float(f) => match float(f.as_str()) {
            Some(v) => format!("floating point `{}`", float_with_point(v)),
            None => return Err(error(FLOAT_OVERFLOW.into(), span)),
        },
        DeValue::Boolean(b) => format!("boolean `{b}`"),
        DeValue::Array(_) => "sequence".to_owned(),
        DeValue::Datetime(_) | DeValue::Table(_) => "map".to_owned(),
    };
    Err(error(
        format!("invalid type: {unexpected}, expected string containing a datetime"),
        span,
    ))
}

/// `f64`'s `Display` with a `.0` added when it has no decimal point (serde's
/// `WithDecimalPoint`), without linking `core`'s float printing: the
/// shortest round-trip digits come from `serde_json`, laid out the way
/// `Display` does (never an exponent).
fn float_with_point(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let json = serde_json::to_string(&v).unwrap_or_default();
    let (negative, json) = match json.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, json.as_str()),
    };
    let (mantissa, exponent) = match json.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (json, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    // Where the decimal point falls in `digits`.
    let mut point = int_part.len() as i64 + exponent;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    point -= leading as i64;
    // Of two shortest spellings exactly as near, `serde_json` keeps the even
    // one and `Display` the greater one.
    if is_midpoint_above(v.abs(), &digits, point) {
        round_up(&mut digits, &mut point);
    }

    let mut out = String::new();
    if negative {
        out.push('-');
    }
    let digits = String::from_utf8(digits).unwrap_or_default();
    if digits.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    if !out.contains('.') {
        out.push_str(".0");
    }
    out
}

/// Whether `|v|` is exactly halfway between the decimal `0.digits × 10^point`
/// and the next number with as many digits.
fn is_midpoint_above(v: f64, digits: &[u8], point: i64) -> bool {
    if digits.is_empty() || digits.len() > 20 {
        return false;
    }
    // v = m × 2^e with m odd.
    let bits = v.to_bits();
    let (exp, frac) = ((bits >> 52) & 0x7ff, bits & ((1 << 52) - 1));
    let (mut m, mut e) = if exp == 0 {
        (frac, -1074i64)
    } else {
        (frac | (1 << 52), exp as i64 - 1075)
    };
    if m == 0 {
        return false;
    }
    while m % 2 == 0 {
        m /= 2;
        e += 1;
    }
    // The midpoint is n × 10^q, n = 10 × digits + 5 (odd, not a multiple of
    // 10); equal to m × 2^e only if q = e and the odd parts agree.
    let n = digits
        .iter()
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'))
        * 10
        + 5;
    let q = point - digits.len() as i64 - 1;
    if q != e {
        return false;
    }
    let five = 5u128.checked_pow(e.unsigned_abs().try_into().unwrap_or(u32::MAX));
    match five {
        Some(five) if e >= 0 => n.checked_mul(five) == Some(u128::from(m)),
        Some(five) => u128::from(m).checked_mul(five) == Some(n),
        None => false,
    }
}

/// Adds one in the last place of `0.digits × 10^point`.
fn round_up(digits: &mut Vec<u8>, point: &mut i64) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            while digits.last() == Some(&b'0') {
                digits.pop();
            }
            return;
        }
    }
    // All nines: 0.99… → 1.
    digits.clear();
    digits.push(b'1');
    *point += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `toml::from_str` gives: the table, or the error's message and span.
    /// (`Debug`, so that NaNs compare equal.)
    fn serde(doc: &str) -> Result<String, (String, Option<core::ops::Range<usize>>)> {
        toml::from_str::<Table>(doc)
            .map(|t| format!("{t:?}"))
            .map_err(|e| (e.message().to_owned(), e.span()))
    }

    fn direct(doc: &str) -> Result<String, (String, Option<core::ops::Range<usize>>)> {
        parse(doc)
            .map(|t| format!("{t:?}"))
            .map_err(|e| (e.message, e.span))
    }

    #[test]
    fn matches_the_serde_path() {
        let docs = [
            "",
            "a = 1\nb = 'x'\nc = [1, 2.5, true, 1979-05-27T07:32:00Z]\n[t]\nz = { y = 1 }\n",
            "[[routes]]\nname = 'a'\n[[routes]]\nname = 'b'\nx.y.z = -0.0\n",
            "a = nan\nb = -inf\nc = +inf\nd = 1e400\n",
            "a = 1e400",
            "a = [1, 9223372036854775808]",
            "a = 18446744073709551616",
            "a = -9223372036854775809",
            "a = 340282366920938463463374607431768211456",
            "a = 0xffffffffffffffff",
            "a = 0x7fffffffffffffff",
            "b = 1\na = 99999999999999999999\nc = 1e999",
            "[t]\n\"$__toml_private_datetime\" = '1979-05-27'\nother = 1",
            "[t]\n\"$__toml_private_datetime\" = 'nope'",
            "[t]\n\"$__toml_private_datetime\" = 5",
            "[t]\n\"$__toml_private_datetime\" = 18446744073709551615",
            "[t]\n\"$__toml_private_datetime\" = -170141183460469231731687303715884105728",
            "[t]\n\"$__toml_private_datetime\" = 1.5e300",
            "[t]\n\"$__toml_private_datetime\" = 1e-7",
            "[t]\n\"$__toml_private_datetime\" = -0.0",
            "[t]\n\"$__toml_private_datetime\" = nan",
            "[t]\n\"$__toml_private_datetime\" = -inf",
            "[t]\n\"$__toml_private_datetime\" = true",
            "[t]\n\"$__toml_private_datetime\" = [1]",
            "[t]\n\"$__toml_private_datetime\" = {}",
            "[t]\n\"$__toml_private_datetime\" = 1979-05-27",
            "[t]\n\"!\" = 1\n\"$__toml_private_datetime\" = 5",
            "\"$__toml_private_datetime\" = 5",
            "a = [{ \"$__toml_private_datetime\" = '07:32:00' }]",
            "a = 1979-05-27T00:32:00.999999-07:00\nb = 07:32:00.5\nc = 1979-05-27T07:32:00.123456789",
            "a = ",
            "a = 1\na = 2",
            "[x\n",
        ];
        for doc in docs {
            assert_eq!(direct(doc), serde(doc), "{doc:?}");
        }
    }

    #[test]
    fn floats_print_as_display_does() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            0.1,
            1e15,
            1e16,
            1e21,
            1e-7,
            123_456.789,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            // Exact binary fractions and large integers: where two shortest
            // spellings tie.
            let k = (x >> 12) as f64;
            values.extend([
                k + 0.25,
                -(k / 4.0 + 0.125),
                k * 1e7,
                (x % 1000) as f64 / 8.0,
            ]);
        }
        let mut bad = Vec::new();
        for v in values {
            let expected = if v.is_finite() {
                let s = v.to_string();
                if s.contains('.') { s } else { s + ".0" }
            } else {
                v.to_string()
            };
            if float_with_point(v) != expected {
                bad.push((float_with_point(v), expected));
            }
        }
        assert!(
            bad.is_empty(),
            "{} {:?}",
            bad.len(),
            &bad[..bad.len().min(20)]
        );
    }
}
