//! The wall clock the notifier stamps an issue's life with (when it failed, when it was
//! last commented), and formats and reads Jira's dates.
//!
//! A clock of its own rather than `SystemTime::now()` so that a host's tests (and this
//! crate's) can move time: an hour between two repeat comments should not take an hour.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the notifier reads the time of day. The default is [`SystemClock`].
///
/// Replicas compare the times they store (the start of a comment interval), so every
/// replica sharing a store should read the same clock, to within seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Milliseconds since the Unix epoch (0 before it), as stored.
pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `ms` milliseconds after the Unix epoch (the epoch itself for a value past
/// what the platform's clock holds, so a corrupt stored value cannot panic).
pub(crate) fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

/// `2026-11-30 04:12 UTC`: how issue texts show a time.
pub(crate) fn display(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil(i64::try_from(secs / 86_400).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Reads a date as Jira writes it (`2026-11-30T04:12:33.123+0000`, also with `Z`,
/// `+01:00` or without fraction); `None` for anything else.
pub(crate) fn parse_jira(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = s.get(start..i.min(start + 3))?;
        if frac.is_empty() {
            return None;
        }
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_secs = match s.get(i..)? {
        "Z" | "" => 0,
        tz => {
            let sign = match tz.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = tz[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = digits[..2].parse().ok()?;
            let om: i64 = digits[2..].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(y, mo, d);
    let total_ms = ((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_secs) * 1000 + millis;
    u64::try_from(total_ms).ok().map(from_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Durations kept as whole seconds, so stored settings read plainly.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jira_dates_in_every_offset_form() {
        // 2026-11-30T04:12:33.123Z = 1796011953123 ms.
        let want = from_ms(1_796_011_953_123);
        for s in [
            "2026-11-30T04:12:33.123+0000",
            "2026-11-30T04:12:33.123Z",
            "2026-11-30T05:12:33.123+01:00",
            "2026-11-29T23:12:33.123-0500",
        ] {
            assert_eq!(parse_jira(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_jira("2026-11-30T04:12:33+0000"),
            Some(from_ms(1_796_011_953_000))
        );
        for bad in [
            "",
            "2026-11-30",
            "2026-13-30T04:12:33Z",
            "2026-11-30T04:12:33.x+0000",
            "2026-11-30T04:12:33+00",
        ] {
            assert_eq!(parse_jira(bad), None, "{bad}");
        }
    }

    #[test]
    fn displays_minutes_in_utc_and_round_trips_days() {
        assert_eq!(display(from_ms(1_796_011_953_123)), "2026-11-30 04:12 UTC");
        assert_eq!(display(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        for days in [-1000, 0, 59, 60, 365, 11_016, 20_422, 100_000] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
