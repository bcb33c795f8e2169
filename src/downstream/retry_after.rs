//! `Retry-After` (RFC 9110 §10.2.3) both ways: the delay a downstream asks for, as seconds or
//! an HTTP date, and the whole seconds the gateway asks its own clients to wait.

use std::time::{Duration, SystemTime};

/// How long a SCIM client is asked to wait after a failure a later retry may fix, when nothing
/// better is known (no pause asked for, no open breaker).
pub const RETRY_LATER: Duration = Duration::from_secs(5);

/// The longest pause a downstream's `Retry-After` can impose; a larger value (or a date far
/// ahead) is taken as this, so a bad header cannot stop a tenant for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The delay a `Retry-After` value asks for, measured from `now`: `None` when the value is
/// neither whole seconds nor an HTTP date; zero for a date already past.
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than u64 holds is still "very long".
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A delay as `Retry-After` seconds: rounded up, at least 1.
pub fn whole_seconds(delay: Duration) -> u64 {
    let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let secs = Duration::from_secs;
        assert_eq!(parse("7", now), Some(secs(7)));
        assert_eq!(parse(" 0 ", now), Some(secs(0)));
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(secs(10)));
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:27 GMT", now), Some(secs(0)));
        assert_eq!(parse("99999999999999999999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse("Sun, 07 Nov 2094 08:49:37 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in ["", "-1", "1.5", "soon", "Sun, 06 Nov 1994"] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn whole_seconds_round_up_to_at_least_one() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
    }
}
