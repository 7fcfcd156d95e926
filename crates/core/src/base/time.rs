//! Dates as Better Auth stores them (sessions, API keys): ISO-8601 UTC text or integer
//! milliseconds.
//!
//! ```
//! use warden_core::base::time::{format_iso8601_ms, parse_iso8601_ms};
//!
//! let ms = parse_iso8601_ms("2026-11-29T14:43:49.629Z").unwrap();
//! assert_eq!(ms, 1_795_963_429_629);
//! assert_eq!(format_iso8601_ms(ms), "2026-11-29T14:43:49.629Z");
//! // SQLite's own datetime() text, and an explicit offset, are read too.
//! assert_eq!(parse_iso8601_ms("2026-11-29 14:43:49"), Some(1_795_963_429_000));
//! assert_eq!(parse_iso8601_ms("2026-11-29T15:43:49.629+01:00"), Some(ms));
//! ```
//!
//! Better Auth with Kysely writes `2026-11-29T14:43:49.629Z`; Drizzle setups
//! write integer milliseconds. Anything else (seconds, a bare date, text
//! around the timestamp) is refused rather than guessed: a guessed expiry
//! would be a security decision made by accident.

/// Milliseconds since 1970-01-01T00:00:00Z for an ISO-8601 / RFC 3339
/// timestamp: `YYYY-MM-DD`, `T` or a space, `HH:MM:SS`, an optional fraction
/// of 1–9 digits, then `Z`, `±HH:MM`, `±HHMM` or nothing (read as UTC).
pub fn parse_iso8601_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || !b.is_ascii() {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        // Milliseconds: the first three digits, padded; finer digits truncate.
        for i in 0..3 {
            millis = millis * 10
                + tail
                    .get(i)
                    .filter(|_| i < n)
                    .map_or(0, |d| i64::from(d - b'0'));
        }
        rest = &tail[n..];
    }
    let offset_minutes = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as JavaScript's `Date.prototype.toISOString`
/// writes years 0–9999 (and so as `JSON.stringify` writes a `Date`).
pub fn format_iso8601_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn better_auth_text() {
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_iso8601_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso8601_ms("2026-11-29T14:43:49.629Z"),
            Some(1_795_963_429_629)
        );
        // Leap day, end of day, finer fractions truncate to milliseconds.
        assert_eq!(
            parse_iso8601_ms("2024-02-29T23:59:59.999999999Z"),
            Some(1_709_251_199_999)
        );
        assert_eq!(
            parse_iso8601_ms("2024-02-29T23:59:59.5Z"),
            Some(1_709_251_199_500)
        );
        assert_eq!(
            parse_iso8601_ms("2024-02-29t23:59:59z"),
            Some(1_709_251_199_000)
        );
    }

    #[test]
    fn offsets_and_sqlite_text() {
        let utc = parse_iso8601_ms("2026-01-01T00:00:00Z");
        assert_eq!(parse_iso8601_ms("2026-01-01 00:00:00"), utc);
        assert_eq!(parse_iso8601_ms("2026-01-01T02:00:00+02:00"), utc);
        assert_eq!(parse_iso8601_ms("2025-12-31T19:30:00-0430"), utc);
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "2026-11-29",
            "2026-11-29T14:43",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T00:00:00+25:00",
            "2026-01-01T00:00:00 UTC",
            "2026-01-01T00:00:00Zjunk",
            "+2026-01-01T00:00:00Z",
            "2026/01/01T00:00:00Z",
            "1764427429629",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601_ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        for ms in [
            0,
            1,
            999,
            1_795_963_429_629,
            1_709_251_199_999,
            253_402_300_799_999,
        ] {
            let text = format_iso8601_ms(ms);
            assert_eq!(parse_iso8601_ms(&text), Some(ms), "{text}");
        }
        assert_eq!(format_iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso8601_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}
