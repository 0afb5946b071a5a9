//! Wall-clock timestamps in the formats Atlassian answers use, and the simulated wall clock.
//!
//! Search lag and token lifetimes run on tokio's clock (so tests can pause it). The dates
//! the simulator tells about issues (created, status category changes, resolutions,
//! comments) run on [`WallClock`], which follows tokio's clock too: a test that advances
//! paused time by a day sees those dates move by a day. Dates that only decorate answers
//! (gateway error timestamps, rate-limit resets) keep using the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// A wall clock anchored when the simulator was made: the system time then, plus however
/// far tokio's clock has moved since. With tokio's clock running normally this is the
/// system time; with it paused, dates stand still until the test advances them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    wall: SystemTime,
    at: Instant,
}

impl WallClock {
    pub(crate) fn start() -> WallClock {
        WallClock {
            wall: SystemTime::now(),
            at: Instant::now(),
        }
    }

    /// The wall time at a tokio instant (instants before the anchor give the anchor).
    pub(crate) fn at(&self, now: Instant) -> SystemTime {
        self.wall + now.saturating_duration_since(self.at)
    }
}

struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    nanos: u32,
}

fn utc(t: SystemTime) -> Utc {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let in_day = secs % 86_400;
    Utc {
        year,
        month,
        day,
        hour: in_day / 3600,
        minute: in_day % 3600 / 60,
        second: in_day % 60,
        nanos: since.subsec_nanos(),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras that
/// start on March 1st so that the leap day falls at the end of a year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The gateway's error timestamp: `2026-10-08T07:13:36.234600367Z`.
pub(crate) fn gateway_timestamp(t: SystemTime) -> String {
    let u = utc(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        u.year, u.month, u.day, u.hour, u.minute, u.second, u.nanos
    )
}

/// Jira's date-time field format: `2026-10-08T07:13:36.234+0000`.
pub(crate) fn jira_datetime(t: SystemTime) -> String {
    let u = utc(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.nanos / 1_000_000
    )
}

/// ISO 8601 to the millisecond, rounded up, for `X-RateLimit-Reset`:
/// `2026-10-08T07:13:36.235Z`. Rounded up so that a client waiting for it is never early.
pub(crate) fn iso_millis_ceil(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let ceil = since
        .checked_add(std::time::Duration::from_nanos(u64::from(
            (1_000_000 - since.subsec_nanos() % 1_000_000) % 1_000_000,
        )))
        .unwrap_or(since);
    let u = utc(UNIX_EPOCH + ceil);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.nanos / 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            gateway_timestamp(at(0, 0)),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            jira_datetime(at(1_700_000_000, 123_456_789)),
            "2023-11-14T22:13:20.123+0000"
        );
        // A leap day and the day after, where March-based eras are easy to get wrong.
        assert_eq!(
            jira_datetime(at(951_782_400, 0)),
            "2000-02-29T00:00:00.000+0000"
        );
        assert_eq!(
            jira_datetime(at(951_868_800, 0)),
            "2000-03-01T00:00:00.000+0000"
        );
        assert_eq!(
            gateway_timestamp(at(1_791_443_616, 234_600_367)),
            "2026-10-08T07:13:36.234600367Z"
        );
        assert_eq!(
            iso_millis_ceil(at(1_791_443_616, 234_600_367)),
            "2026-10-08T07:13:36.235Z"
        );
        assert_eq!(
            iso_millis_ceil(at(1_791_443_616, 999_000_001)),
            "2026-10-08T07:13:37.000Z"
        );
        assert_eq!(iso_millis_ceil(at(0, 0)), "1970-01-01T00:00:00.000Z");
    }
}
