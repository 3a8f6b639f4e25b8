//! Per-organisation rate limits: one token bucket per org, refilled continuously. The guard
//! takes one token per call (a stream counts once, when it starts); an empty bucket refuses
//! the call with RESOURCE_EXHAUSTED and the time until the next token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A token bucket's shape: `per_second` calls on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    /// 100 calls per second with bursts of 200: far above what a partner's staff and mirrors
    /// need, low enough that one runaway client cannot starve the others.
    fn default() -> Self {
        RateLimit {
            per_second: 100.0,
            burst: 200,
        }
    }
}

impl RateLimit {
    /// Why this limit is unusable, naming the field.
    pub fn problem(&self) -> Option<String> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Some(format!(
                "rate_limit.per_second must be a positive number, not {}",
                self.per_second
            ));
        }
        if self.burst == 0 {
            return Some("rate_limit.burst must be at least 1".into());
        }
        None
    }
}

/// A refused call: how long until the bucket holds a token again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exhausted {
    pub retry_after: Duration,
    pub limit: RateLimit,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every org that has called. The limits come from the live registry at each
/// call, so a reloaded limit applies at once; a bucket keeps its level across reloads.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one token from `org`'s bucket, or says how long to wait.
    pub fn check(&self, org: &str, limit: RateLimit) -> Result<(), Exhausted> {
        self.check_at(org, limit, Instant::now())
    }

    fn check_at(&self, org: &str, limit: RateLimit, now: Instant) -> Result<(), Exhausted> {
        let burst = f64::from(limit.burst.max(1));
        let rate = if limit.per_second.is_finite() && limit.per_second > 0.0 {
            limit.per_second
        } else {
            // An unusable limit is refused at load; should one get here, fail closed slowly.
            f64::MIN_POSITIVE
        };
        // A poisoned lock only means another call panicked mid-update; the map is still sound.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(org.to_string()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).min(86_400.0);
            Err(Exhausted {
                retry_after: Duration::from_secs_f64(wait),
                limit,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let limiter = RateLimiter::new();
        let limit = RateLimit {
            per_second: 2.0,
            burst: 3,
        };
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("a", limit, start).is_ok());
        }
        let refused = limiter.check_at("a", limit, start).expect_err("empty");
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_millis(500));
        // Another org has its own bucket.
        assert!(limiter.check_at("b", limit, start).is_ok());
        // Half a second later one token is back, and only one.
        let later = start + Duration::from_millis(500);
        assert!(limiter.check_at("a", limit, later).is_ok());
        assert!(limiter.check_at("a", limit, later).is_err());
    }

    #[test]
    fn unusable_limits_are_named() {
        let zero = RateLimit {
            per_second: 0.0,
            burst: 1,
        };
        assert!(zero.problem().is_some_and(|p| p.contains("per_second")));
        let no_burst = RateLimit {
            per_second: 1.0,
            burst: 0,
        };
        assert!(no_burst.problem().is_some_and(|p| p.contains("burst")));
        assert_eq!(RateLimit::default().problem(), None);
    }
}
