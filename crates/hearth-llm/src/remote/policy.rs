//! When to try a provider again: retries with exponential backoff and jitter, and a circuit
//! breaker per provider. Both are plain values over instants the caller passes in, so tests
//! drive them with a clock of their own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Retries of one request, before any of its reply has streamed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` worth waiting for; a provider asking for more is failed over
    /// (to the next model in a fallback chain) rather than waited on.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (0 for the first), or `None` to give up.
    /// `retry_after` is what the provider asked for; `jitter` is uniform in `[0, 1)`.
    ///
    /// The backoff is the project's one formula (`hearth_types::backoff`: doubling, with equal
    /// jitter). A `Retry-After` is honoured as a floor.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let backoff = hearth_types::backoff(self.base, self.max_delay, retry, jitter);
        match retry_after {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(asked.max(backoff)),
            None => Some(backoff),
        }
    }
}

/// What a breaker allows now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Healthy: go ahead.
    Yes,
    /// Open until the cool-down passes; this call is the one probe that tests the provider.
    Probe,
    /// Held back: try again in this long.
    No(Duration),
}

/// A circuit breaker: after `threshold` outages in a row the provider is skipped for
/// `cool_down`; then one probe goes through, and its outcome closes or reopens the circuit.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is out; everyone else waits for its outcome.
    Probing {
        since: Instant,
    },
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new(5, Duration::from_secs(30))
    }
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self { threshold: threshold.max(1), cool_down, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    pub fn admit(&self, now: Instant) -> Admit {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            State::Closed { .. } => Admit::Yes,
            State::Open { until } if now < until => Admit::No(until - now),
            State::Open { .. } => {
                *state = State::Probing { since: now };
                Admit::Probe
            }
            // A probe that never reported (its caller vanished) does not block forever.
            State::Probing { since } if now >= since + self.cool_down => {
                *state = State::Probing { since: now };
                Admit::Probe
            }
            State::Probing { since } => Admit::No(since + self.cool_down - now),
        }
    }

    pub fn success(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::Closed { failures: 0 };
    }

    /// Reports an outage (see `RemoteFailure::is_outage`).
    pub fn failure(&self, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed { failures: failures + 1 },
            _ => State::Open { until: now + self.cool_down },
        };
    }

    /// Whether calls are being held back now (for status displays).
    pub fn is_open(&self, now: Instant) -> bool {
        match *self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Closed { .. } => false,
            State::Open { until } => now < until,
            State::Probing { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_with_jitter_caps_and_gives_up() {
        let p = RetryPolicy { max_retries: 5, base: 100 * MS, max_delay: 1000 * MS, max_retry_after: 10_000 * MS };
        // Without jitter, half the backoff; with full jitter, all of it.
        assert_eq!(p.delay(0, None, 0.0), Some(50 * MS));
        assert_eq!(p.delay(0, None, 0.999_999).map(|d| d.as_millis()), Some(99));
        assert_eq!(p.delay(1, None, 0.0), Some(100 * MS));
        assert_eq!(p.delay(2, None, 0.5), Some(300 * MS));
        assert_eq!(p.delay(3, None, 0.0), Some(400 * MS));
        assert_eq!(p.delay(4, None, 1.0), Some(1000 * MS), "capped at max_delay");
        assert_eq!(p.delay(5, None, 0.0), None, "no sixth retry");
        // Huge retry counts neither overflow nor exceed the cap.
        let many = RetryPolicy { max_retries: u32::MAX, ..p };
        assert_eq!(many.delay(40, None, 1.0), Some(1000 * MS));
    }

    #[test]
    fn retry_after_is_a_floor_and_too_long_a_wait_gives_up() {
        let p = RetryPolicy { max_retries: 3, base: 100 * MS, max_delay: 1000 * MS, max_retry_after: 5000 * MS };
        assert_eq!(p.delay(0, Some(2000 * MS), 0.0), Some(2000 * MS));
        assert_eq!(p.delay(2, Some(10 * MS), 1.0), Some(400 * MS), "the backoff when it is longer");
        assert_eq!(p.delay(0, Some(6000 * MS), 0.0), None, "longer than max_retry_after: fail over instead");
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_and_one_probe_decides() {
        let t0 = Instant::now();
        let b = Breaker::new(3, Duration::from_secs(30));
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.admit(t0), Admit::Yes, "two failures are under the threshold");
        b.success();
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.admit(t0), Admit::Yes, "a success reset the count");
        b.failure(t0);
        assert!(b.is_open(t0));
        assert_eq!(b.admit(t0 + Duration::from_secs(10)), Admit::No(Duration::from_secs(20)));
        // After the cool-down, exactly one probe; others wait for it.
        let later = t0 + Duration::from_secs(30);
        assert_eq!(b.admit(later), Admit::Probe);
        assert!(matches!(b.admit(later + Duration::from_secs(1)), Admit::No(_)));
        // The probe failed: open again for a full cool-down.
        b.failure(later + Duration::from_secs(2));
        assert_eq!(b.admit(later + Duration::from_secs(3)), Admit::No(Duration::from_secs(29)));
        // The next probe succeeds: closed.
        let again = later + Duration::from_secs(32);
        assert_eq!(b.admit(again), Admit::Probe);
        b.success();
        assert_eq!(b.admit(again), Admit::Yes);
        assert!(!b.is_open(again));
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced_after_a_cool_down() {
        let t0 = Instant::now();
        let b = Breaker::new(1, Duration::from_secs(5));
        b.failure(t0);
        assert_eq!(b.admit(t0 + Duration::from_secs(5)), Admit::Probe);
        assert!(matches!(b.admit(t0 + Duration::from_secs(6)), Admit::No(_)));
        assert_eq!(b.admit(t0 + Duration::from_secs(10)), Admit::Probe);
    }
}
