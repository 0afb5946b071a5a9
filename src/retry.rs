//! The retry policy: which answers are worth another try, and how long to wait.
//!
//! Follows Atlassian's advice for Jira Cloud: honour `Retry-After`; otherwise back off
//! exponentially from a couple of seconds, capped, with jitter, a handful of times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How the notifier retries requests that failed for a passing reason.
///
/// Plain data with a [`Default`]; change it with the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    jitter: bool,
    write_lookback: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            jitter: true,
            write_lookback: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (every failure goes straight back to the host).
    pub const fn never() -> Self {
        RetryPolicy {
            max_retries: 0,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            max_retry_after: Duration::ZERO,
            jitter: false,
            write_lookback: Duration::ZERO,
        }
    }

    /// How many times a request is sent again after the first try (default 4).
    pub const fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The first backoff delay; each next one doubles (default 2 s).
    pub const fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The largest backoff delay (default 30 s).
    pub const fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// The longest `Retry-After` the notifier waits out itself (default 60 s). A longer one
    /// is returned to the host as a retryable error carrying the delay.
    pub const fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Whether delays are spread by ×0.7–1.3 so that many clients do not retry in step
    /// (default on).
    pub const fn with_jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// How long a report keeps looking, in place, for an issue whose create got no clear
    /// answer (a timeout, a 5xx) (default 10 s, which covers Jira's usual search lag). Not
    /// found by then, the report answers [`Error::CreateUnconfirmed`](crate::Error) unless
    /// a search made [`search_lag_bound`](crate::JiraNotifierBuilder::search_lag_bound)
    /// after the create already found nothing; only then is it sent again, once.
    pub const fn with_write_lookback(mut self, d: Duration) -> Self {
        self.write_lookback = d;
        self
    }

    /// How many retries are allowed.
    pub const fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The longest `Retry-After` waited out in place.
    pub const fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// How long an unclear create is looked for.
    pub const fn write_lookback(&self) -> Duration {
        self.write_lookback
    }

    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        let base = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        if self.jitter {
            base.mul_f64(0.7 + fastrand::f64() * 0.6)
        } else {
            base
        }
    }
}

/// What an answer means for the request that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// 2xx.
    Success,
    /// 429, or 503: the server asks the caller to slow down.
    Throttled,
    /// 408 or another 5xx: may pass.
    Transient,
    /// Any other status: the same request will fail again.
    Fatal,
}

pub(crate) fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        429 | 503 => Verdict::Throttled,
        408 | 500..=599 => Verdict::Transient,
        _ => Verdict::Fatal,
    }
}

/// Parses a `Retry-After` value: delta-seconds, or an HTTP date (IMF-fixdate) measured
/// from `now`. A date in the past means "now"; anything unreadable is `None`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Values too large for u64 are still a request to wait a very long time.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`, the one form RFC 9110 requires senders to use.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let rest = s.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let sec: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || !(1970..=9999).contains(&year) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + sec;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(201), Verdict::Success);
        assert_eq!(classify(429), Verdict::Throttled);
        assert_eq!(classify(503), Verdict::Throttled);
        assert_eq!(classify(502), Verdict::Transient);
        assert_eq!(classify(408), Verdict::Transient);
        assert_eq!(classify(400), Verdict::Fatal);
        assert_eq!(classify(410), Verdict::Fatal);
        assert_eq!(classify(302), Verdict::Fatal);
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        // 1994-11-06T08:49:37Z is 784111777 seconds after the epoch.
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(at));
        let now = at - Duration::from_secs(30);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(30))
        );
        // In the past: go now.
        let later = at + Duration::from_secs(30);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_164_800))
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 32 Nov 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default().with_jitter(false);
        assert_eq!(p.backoff(0), Duration::from_secs(2));
        assert_eq!(p.backoff(1), Duration::from_secs(4));
        assert_eq!(p.backoff(3), Duration::from_secs(16));
        assert_eq!(p.backoff(4), Duration::from_secs(30));
        assert_eq!(p.backoff(400), Duration::from_secs(30));
        let j = RetryPolicy::default();
        for _ in 0..100 {
            let d = j.backoff(1);
            assert!(d >= Duration::from_millis(2800) && d <= Duration::from_millis(5200));
        }
    }
}
