//! What an answer says about Jira's rate limits: the headers of Atlassian's "Rate
//! limiting" page (developer.atlassian.com/cloud/jira/platform/rate-limiting/).
//!
//! - `RateLimit-Reason`: which limit the numbers (or the 429) belong to:
//!   `jira-burst-based` (per second, per tenant, endpoint and method),
//!   `jira-per-issue-on-write` (one issue), `jira-quota-global-based` /
//!   `jira-quota-tenant-based` (points per hour, the whole tenant).
//! - `X-RateLimit-Limit`: the most requests the window allows.
//! - `X-RateLimit-Remaining`: how many are left in it.
//! - `X-RateLimit-Reset`: when the window resets, in ISO 8601 (the page shows
//!   `yyyy-MM-ddTHH:mmZ`; seconds and fractions are read too).
//! - `X-RateLimit-NearLimit: true`: less than a fifth of the budget is left.
//! - `Retry-After` (on a 429): seconds to wait; read in `retry.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::retry::days_from_civil;
use crate::transport::HttpResponse;

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `RateLimit-Reason`, lower-cased.
    pub reason: Option<String>,
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`.
    pub reset: Option<SystemTime>,
    /// `X-RateLimit-NearLimit: true`.
    pub near_limit: bool,
}

impl Limits {
    /// The headers of an answer; absent or unreadable ones are `None`.
    pub(crate) fn of(resp: &HttpResponse) -> Limits {
        let number = |name| resp.header(name).and_then(|v| v.trim().parse::<u64>().ok());
        Limits {
            reason: resp
                .header("ratelimit-reason")
                .or_else(|| resp.header("x-ratelimit-reason"))
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| !r.is_empty()),
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            reset: resp.header("x-ratelimit-reset").and_then(parse_reset),
            near_limit: resp
                .header("x-ratelimit-nearlimit")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }

    /// Whether the answer says anything about a budget to pace by.
    pub(crate) fn any(&self) -> bool {
        self.remaining.is_some() || self.near_limit
    }

    /// How long until the reset, measured from `now`; zero for a reset in the past.
    pub(crate) fn reset_after(&self, now: SystemTime) -> Option<Duration> {
        self.reset
            .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// An ISO 8601 date and time: `2026-03-26T16:00Z`, `2026-03-26T16:00:05Z`,
/// `2026-03-26T16:00:05.123+01:00`; `None` if it is anything else.
pub(crate) fn parse_reset(value: &str) -> Option<SystemTime> {
    let v = value.trim();
    let (date, rest) = v.split_once(['T', 't'])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = digits(d.next()?, 4)?.try_into().ok()?;
    let month = u32::try_from(digits(d.next()?, 2)?).ok()?;
    let day = u32::try_from(digits(d.next()?, 2)?).ok()?;
    // The offset: `Z`, or `+hh:mm` / `-hh:mm` / `+hhmm`.
    let (time, offset_secs) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0i64)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = off[1..].replace(':', "");
        if off.len() != 4 || !off.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let h = digits(&off[..2], 2)?;
        let m = digits(&off[2..], 2)?;
        if h > 23 || m > 59 {
            return None;
        }
        (t, sign * i64::try_from(h * 3600 + m * 60).ok()?)
    };
    let mut t = time.splitn(3, ':');
    let hour = digits(t.next()?, 2)?;
    let minute = digits(t.next()?, 2)?;
    let (second, nanos) = match t.next() {
        None => (0, 0),
        Some(s) => {
            let (whole, frac) = match s.split_once(['.', ',']) {
                Some((w, f)) => (w, Some(f)),
                None => (s, None),
            };
            let nanos = match frac {
                None => 0,
                Some(f)
                    if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    format!("{f:0<9}").parse::<u32>().ok()?
                }
                Some(_) => return None,
            };
            (digits(whole, 2)?, nanos)
        }
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs =
        days * 86_400 + i64::try_from(hour * 3600 + minute * 60 + second).ok()? - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Exactly `len` ASCII digits.
fn digits(s: &str, len: usize) -> Option<u64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn reads_the_documented_format_and_finer_ones() {
        // 2026-03-26T16:00:00Z is 1774540800 s after the epoch.
        assert_eq!(parse_reset("2026-03-26T16:00Z"), Some(at(1_774_540_800, 0)));
        assert_eq!(
            parse_reset("2026-03-26T16:00:05Z"),
            Some(at(1_774_540_805, 0))
        );
        assert_eq!(
            parse_reset("2026-03-26T16:00:05.25Z"),
            Some(at(1_774_540_805, 250_000_000))
        );
        assert_eq!(
            parse_reset("2026-03-26T17:00:05+01:00"),
            Some(at(1_774_540_805, 0))
        );
        assert_eq!(
            parse_reset("2026-03-26T15:30:05-0030"),
            Some(at(1_774_540_805, 0))
        );
        for bad in [
            "",
            "2026-03-26",
            "2026-13-26T16:00Z",
            "2026-03-26T16:00",
            "2026-03-26T16:00:05.Z",
            "2026-03-26T16:00:05.1234567890Z",
            "1711843260",
            "2026-03-26T16:00+1:00",
            "26-03-26T16:00Z",
            "2026-03-26T16:00+aé1",
            "2026-03-26T16:00-é",
        ] {
            assert_eq!(parse_reset(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_the_headers_of_an_answer() {
        let resp = HttpResponse::json(429, "{}")
            .with_header("RateLimit-Reason", "jira-burst-based")
            .with_header("X-RateLimit-Limit", "100")
            .with_header("X-RateLimit-Remaining", "0")
            .with_header("X-RateLimit-Reset", "2026-03-26T16:00:05Z")
            .with_header("X-RateLimit-NearLimit", "true");
        let l = Limits::of(&resp);
        assert_eq!(l.reason.as_deref(), Some("jira-burst-based"));
        assert_eq!((l.limit, l.remaining), (Some(100), Some(0)));
        assert!(l.near_limit && l.any());
        let before = at(1_774_540_800, 0);
        assert_eq!(l.reset_after(before), Some(Duration::from_secs(5)));
        assert!(!Limits::of(&HttpResponse::json(200, "{}")).any());
    }
}
