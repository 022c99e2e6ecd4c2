//! Bundle timestamps: RFC 3339 text, or a Unix time as a number (in text or JSON).
//!
//! The rules are documented on [`super::load_bundle`].

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

use super::reader::fields::quote;

/// RFC 3339 in UTC with nanoseconds, the form bundles are written in.
pub(crate) fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Unix nanoseconds of a timestamp given as RFC 3339 or as a Unix time number.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty; expected an RFC 3339 timestamp or Unix seconds".into());
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    let nanos = if numeric && !looks_like_date(text) {
        unix_nanos(text)
    } else {
        rfc3339_nanos(text)
    };
    nanos.ok_or_else(|| {
        format!(
            "{} is not a timestamp; expected RFC 3339 (2024-03-01T12:00:00Z) or Unix seconds \
             (1709294400 or 1709294400.25), between the years 1677 and 2262",
            quote(text)
        )
    })
}

/// `2024-03-01` is all digits and dashes, but a date.
fn looks_like_date(text: &str) -> bool {
    text.len() >= 5 && text.as_bytes().get(4) == Some(&b'-') && !text.starts_with('-')
}

fn rfc3339_nanos(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return at.timestamp_nanos_opt();
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|at| at.and_utc().timestamp_nanos_opt())
}

/// Nanoseconds per unit, chosen by the size of the integer part.
fn unit_nanos(integer_part: u128) -> u128 {
    match integer_part {
        0..100_000_000_000 => 1_000_000_000,
        100_000_000_000..100_000_000_000_000 => 1_000_000,
        100_000_000_000_000..100_000_000_000_000_000 => 1_000,
        _ => 1,
    }
}

fn unix_nanos(text: &str) -> Option<i64> {
    if text.contains(['e', 'E']) {
        return float_unix_nanos(text.parse().ok()?);
    }
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if integer.is_empty() && fraction.is_empty() {
        return None;
    }
    let integer_part = parse_digits(integer)?;
    let unit = unit_nanos(integer_part);
    // The fraction's digits down to one nanosecond: `unit` has 9, 6, 3 or 0 zeros.
    let places = unit.ilog10() as usize;
    let mut fraction_nanos: u128 = 0;
    for position in 0..places {
        let digit = match fraction.as_bytes().get(position) {
            Some(b) if b.is_ascii_digit() => u128::from(b - b'0'),
            Some(_) => return None,
            None => 0,
        };
        fraction_nanos = fraction_nanos * 10 + digit;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = integer_part
        .checked_mul(unit)?
        .checked_add(fraction_nanos)?;
    let magnitude = i128::try_from(magnitude).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// A number in exponent notation (`1.7092944e9`) is as exact as the float it is.
fn float_unix_nanos(value: f64) -> Option<i64> {
    if !value.is_finite() {
        return None;
    }
    let unit = unit_nanos(value.abs() as u128) as f64;
    let nanos = (value * unit).round();
    (nanos >= i64::MIN as f64 && nanos < i64::MAX as f64).then_some(nanos as i64)
}

/// Digits as a number; `None` for anything else or for more than 30 digits.
fn parse_digits(digits: &str) -> Option<u128> {
    if digits.len() > 30 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;
    const AT: i64 = 1_709_294_400;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_timestamp("2024-03-01T12:00:00Z"), Ok(AT * SECOND));
        assert_eq!(
            parse_timestamp("2024-03-01T13:00:00+01:00"),
            Ok(AT * SECOND)
        );
        assert_eq!(parse_timestamp("2024-03-01 12:00:00Z"), Ok(AT * SECOND));
        assert_eq!(parse_timestamp("2024-03-01T12:00:00"), Ok(AT * SECOND));
        assert_eq!(
            parse_timestamp("2024-03-01T12:00:00.000000007Z"),
            Ok(AT * SECOND + 7)
        );
    }

    #[test]
    fn unix_numbers_by_magnitude() {
        assert_eq!(parse_timestamp("1709294400"), Ok(AT * SECOND));
        assert_eq!(
            parse_timestamp(" 1709294400.25 "),
            Ok(AT * SECOND + SECOND / 4)
        );
        assert_eq!(
            parse_timestamp("1709294400.123456789999"),
            Ok(AT * SECOND + 123_456_789)
        );
        assert_eq!(
            parse_timestamp("1709294400250"),
            Ok(AT * SECOND + SECOND / 4)
        );
        assert_eq!(
            parse_timestamp("1709294400250000"),
            Ok(AT * SECOND + SECOND / 4)
        );
        assert_eq!(
            parse_timestamp("1709294400250000000"),
            Ok(AT * SECOND + SECOND / 4)
        );
        assert_eq!(parse_timestamp("1.7092944e9"), Ok(AT * SECOND));
        assert_eq!(parse_timestamp("-1.5"), Ok(-SECOND - SECOND / 2));
        assert_eq!(parse_timestamp("0"), Ok(0));
        assert_eq!(parse_timestamp(".5"), Ok(SECOND / 2));
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "abc",
            "12:00",
            "1.2.3",
            "-",
            "+",
            ".",
            "1e999",
            "2024-13-01T00:00:00Z",
            "99999999999999999999999999999999",
            "1709294400.x",
            "--5",
            "2024-03-01",
            "3000-01-01T00:00:00Z",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
