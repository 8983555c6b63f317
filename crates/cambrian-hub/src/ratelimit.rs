//! Rate-limit headers and backoff.
//!
//! * `RateLimit` as the Hub sends it (IETF draft
//!   `draft-ietf-httpapi-ratelimit-headers`, structured-field list):
//!   `"api";r=0;t=12` — policy name, `r` remaining quota units, `t` seconds
//!   until the quota resets. Several items may be comma-separated; the wait
//!   is the largest `t` among exhausted items (`r=0`), or among all items
//!   when no item says `r`. The older dictionary form
//!   `limit=500, remaining=0, reset=12` is accepted too.
//! * `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
//! * Backoff: "full jitter" — uniform in `[0, min(cap, base · 2^attempt)]`.

use rand::Rng;
use std::time::{Duration, SystemTime};

/// Seconds until reset announced by a `RateLimit` header value, if any.
pub fn parse_ratelimit(value: &str) -> Option<Duration> {
    let mut exhausted: Option<u64> = None;
    let mut any_t: Option<u64> = None;
    let mut saw_r = false;
    // Older dictionary form: limit=…, remaining=…, reset=…
    let mut legacy_remaining: Option<u64> = None;
    let mut legacy_reset: Option<u64> = None;
    for item in value.split(',') {
        let mut r: Option<u64> = None;
        let mut t: Option<u64> = None;
        for part in item.split(';') {
            let part = part.trim();
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            let num = v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(|x| x.ceil() as u64);
            match k.trim().to_ascii_lowercase().as_str() {
                "r" => r = num,
                "t" => t = num,
                "remaining" => legacy_remaining = num,
                "reset" => legacy_reset = num,
                _ => {}
            }
        }
        if r.is_some() {
            saw_r = true;
        }
        if let Some(t) = t {
            any_t = Some(any_t.map_or(t, |a| a.max(t)));
            if r == Some(0) {
                exhausted = Some(exhausted.map_or(t, |a| a.max(t)));
            }
        }
    }
    if let Some(e) = exhausted {
        return Some(Duration::from_secs(e));
    }
    if !saw_r && let Some(t) = any_t {
        return Some(Duration::from_secs(t));
    }
    match (legacy_remaining, legacy_reset) {
        (Some(0) | None, Some(reset)) => Some(Duration::from_secs(reset)),
        _ => None,
    }
}

/// Delay announced by a `Retry-After` value (seconds or HTTP-date), relative
/// to `now`. A date in the past yields zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `attempt` (0-based), full jitter.
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration, rng: &mut impl Rng) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
    let ceiling = exp.min(cap);
    let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rng.random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn hub_ratelimit_header() {
        assert_eq!(
            parse_ratelimit(r#""api";r=0;t=12"#),
            Some(Duration::from_secs(12))
        );
        assert_eq!(parse_ratelimit(r#""api";r=499;t=12"#), None);
        assert_eq!(
            parse_ratelimit(r#""api";r=3;t=5, "burst";r=0;t=2"#),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse_ratelimit(r#""api";t=7"#),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_ratelimit("limit=500, remaining=0, reset=30"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_ratelimit("garbage"), None);
        assert_eq!(parse_ratelimit(r#""api";r=0;t=-3"#), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..40 {
            let d = backoff_delay(attempt, base, cap, &mut rng);
            let ceiling = (base * 2u32.saturating_pow(attempt.min(20))).min(cap);
            assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
        }
        // Jitter: not all equal.
        let v: Vec<_> = (0..20)
            .map(|_| backoff_delay(5, base, cap, &mut rng))
            .collect();
        assert!(v.iter().any(|d| *d != v[0]));
    }
}
