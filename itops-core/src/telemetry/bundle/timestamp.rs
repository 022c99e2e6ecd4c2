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
    if let Some(nanos) = canonical_rfc3339_nanos(text) {
        return Ok(nanos);
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

/// The common exact form `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, read without chrono's
/// general parser (a third of the cost of loading a metrics row). `None` for anything
/// else, which then takes the general path.
fn canonical_rfc3339_nanos(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |from: usize, count: usize| -> Option<i64> {
        let mut value = 0_i64;
        for &d in b.get(from..from + count)? {
            if !d.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(d - b'0');
        }
        Some(value)
    };
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut fraction = 0_i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let count = at - start;
        if count == 0 || count > 9 {
            return None;
        }
        fraction = digits(start, count)? * 10_i64.pow(9 - count as u32);
    }
    let offset_seconds = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(fraction)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
    fn the_fast_path_agrees_with_chrono() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..20_000 {
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{}",
                rng.i64(1600..2300),
                rng.i64(0..14),
                rng.i64(0..33),
                rng.i64(0..25),
                rng.i64(0..61),
                rng.i64(0..61),
                [
                    String::new(),
                    format!(".{}", rng.u32(..1_000_000)),
                    format!(".{:09}", rng.u32(..1_000_000_000))
                ][rng.usize(..3)],
                [
                    "Z".to_owned(),
                    format!("+{:02}:{:02}", rng.i64(0..25), rng.i64(0..61)),
                    "-05:30".to_owned()
                ][rng.usize(..3)],
            );
            let fast = canonical_rfc3339_nanos(&text);
            let chrono = DateTime::parse_from_rfc3339(&text)
                .ok()
                .and_then(|at| at.timestamp_nanos_opt());
            if fast.is_some() {
                assert_eq!(fast, chrono, "{text}");
            }
            assert_eq!(parse_timestamp(&text).ok(), chrono, "{text}");
        }
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
