//! How long to wait before trying again: the one backoff formula of the project (a provider's
//! retries, sync rounds while offline, a workflow node's next attempt).

use std::time::Duration;

/// The wait before retry number `retry` (0 for the first): `base * 2^retry`, at most `max`,
/// with "equal jitter": half of it fixed and up to as much again at random (`jitter`, uniform
/// in `[0, 1]`), so clients that failed together do not come back together. A caller that
/// must be deterministic (the workflow state machine) passes `1.0` and gets the full doubling.
pub fn backoff(base: Duration, max: Duration, retry: u32, jitter: f64) -> Duration {
    let full = base.saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX)).min(max);
    full / 2 + (full / 2).mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_cap_and_jitters_in_the_upper_half() {
        assert_eq!([0, 1, 2, 3, 4, 40].map(|r| backoff(100 * MS, 1000 * MS, r, 1.0)), [100, 200, 400, 800, 1000, 1000].map(|n| n * MS));
        assert_eq!(backoff(100 * MS, 1000 * MS, 2, 0.0), 200 * MS);
        for jitter in [0.0, 0.25, 0.5, 0.99, 1.0, 7.0, -1.0] {
            let wait = backoff(100 * MS, 1000 * MS, 3, jitter);
            assert!(wait >= 400 * MS && wait <= 800 * MS, "{jitter}: {wait:?}");
        }
    }
}
