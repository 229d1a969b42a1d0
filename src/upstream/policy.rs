//! Per-vendor upstream policy: a timeout per call, bounded retries with jittered exponential
//! backoff for idempotent reads (within a retry budget), and a circuit breaker.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How one vendor's calls are timed, retried and cut off.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Whole-call timeout.
    pub timeout: Duration,
    /// Retries of an idempotent read after the first try.
    pub max_retries: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for.
    pub max_retry_after: Duration,
    /// Each first try earns this fraction of a retry; retries spend one each.
    pub retry_budget_ratio: f64,
    /// Consecutive failures that open the breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker fails fast before letting one probe through.
    pub breaker_open_for: Duration,
    /// Largest response body read; past it the call fails, having buffered no more.
    pub max_body_bytes: usize,
    /// Calls one credential may make, if limited.
    pub rate_limit: Option<RateLimit>,
}

/// A token bucket per credential: `per_min` calls a minute, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_min: u32,
    pub burst: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(10),
            max_retries: 2,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(2),
            retry_budget_ratio: 0.2,
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(10),
            max_body_bytes: 8 << 20,
            rate_limit: None,
        }
    }
}

impl Policy {
    /// Full-jitter exponential backoff before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_backoff.saturating_mul(1 << attempt.min(16));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(jitter())
    }
}

/// A number in `[0, 1)` that differs from call to call.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Caps retries at a fraction of first tries, so an outage cannot multiply the load.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    tokens: Mutex<f64>,
}

const BUDGET_CAP: f64 = 10.0;

impl RetryBudget {
    pub fn new(ratio: f64) -> Self {
        RetryBudget {
            ratio,
            tokens: Mutex::new(BUDGET_CAP),
        }
    }

    pub fn deposit(&self) {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        *t = (*t + self.ratio).min(BUDGET_CAP);
    }

    /// Spends one retry, if the budget has one.
    pub fn withdraw(&self) -> bool {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if *t >= 1.0 {
            *t -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// Opens after repeated failures, fails fast while open, then lets one probe through.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<BreakerState>,
}

impl Breaker {
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::default(),
        }
    }

    /// Whether a call may go out now.
    pub fn admit(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if s.probing => false,
            Some(_) => {
                s.probing = true;
                true
            }
        }
    }

    pub fn record(&self, healthy: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if healthy {
            *s = BreakerState::default();
            return;
        }
        s.failures += 1;
        if s.probing || s.failures >= self.threshold {
            s.open_until = Some(Instant::now() + self.open_for);
            s.probing = false;
        }
    }

    /// Whether the breaker is open (or half-open, probing).
    pub fn is_open(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open_until
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_fails_fast_and_closes_after_a_good_probe() {
        let b = Breaker::new(2, Duration::from_millis(0));
        b.record(false);
        assert!(b.admit());
        b.record(false);
        assert!(b.is_open());
        assert!(b.admit(), "open_for elapsed: one probe");
        assert!(!b.admit(), "only one probe at a time");
        b.record(true);
        assert!(!b.is_open() && b.admit());
        let held = Breaker::new(1, Duration::from_secs(60));
        held.record(false);
        assert!(!held.admit());
    }

    #[test]
    fn budget_caps_retries() {
        let budget = RetryBudget::new(0.5);
        let spent = (0..20).filter(|_| budget.withdraw()).count();
        assert_eq!(spent, 10);
        budget.deposit();
        budget.deposit();
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
    }

    #[test]
    fn backoff_stays_under_the_cap() {
        let p = Policy::default();
        for attempt in 1..10 {
            assert!(p.backoff(attempt) <= p.max_backoff);
        }
    }
}
