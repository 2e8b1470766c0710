//! Restart back-off of a failing container (pure): the kubelet's crash-loop back-off, with
//! base and cap configurable so tests can run it fast.
//!
//! The first restart waits `base` (10 s), each further one twice as long, capped at `max`
//! (5 min). A container that ran for at least `reset_after` (10 min) before it exited starts
//! over at `base`. (The kubelet restarts the very first crash at once and backs off from the
//! second; everynode waits from the first, so that a crash-looping pod can never hot-loop.)

use std::time::Duration;

/// The back-off settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// First delay.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
    /// A run at least this long resets the delay to `base`.
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    /// Kubernetes' values: 10 s doubling to 5 min, reset after 10 min of running.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(10),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
        }
    }
}

/// The back-off state of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backoff {
    /// The delay given last; zero before the first.
    last: Duration,
}

impl Backoff {
    /// The delay before the next start of a container that exited after running for `ran`.
    pub fn next(&mut self, policy: &BackoffPolicy, ran: Duration) -> Duration {
        let delay = if self.last.is_zero() || ran >= policy.reset_after {
            policy.base
        } else {
            self.last.saturating_mul(2)
        };
        self.last = delay.min(policy.max);
        self.last
    }
}

/// Whether a container that exited with `exit_code` is started again under `restart_policy`
/// (`Always`, the default; `OnFailure`; `Never`).
pub fn should_restart(restart_policy: &str, exit_code: i32) -> bool {
    match restart_policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_secs(1);

    #[test]
    fn delays_double_from_ten_seconds_up_to_five_minutes() {
        let policy = BackoffPolicy::default();
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next(&policy, SHORT).as_secs())
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn ten_minutes_of_running_resets_the_delay() {
        let policy = BackoffPolicy::default();
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next(&policy, SHORT);
        }
        assert_eq!(
            backoff.next(&policy, Duration::from_secs(600)),
            Duration::from_secs(10)
        );
        assert_eq!(backoff.next(&policy, SHORT), Duration::from_secs(20));
    }

    #[test]
    fn configurable_base_makes_tests_fast() {
        let policy = BackoffPolicy {
            base: Duration::from_millis(50),
            max: Duration::from_millis(120),
            reset_after: Duration::from_secs(1),
        };
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..4)
            .map(|_| backoff.next(&policy, Duration::ZERO).as_millis())
            .collect();
        assert_eq!(delays, [50, 100, 120, 120]);
    }

    #[test]
    fn restart_policy_decides_whether_an_exit_restarts() {
        assert!(should_restart("Always", 0));
        assert!(should_restart("", 0));
        assert!(should_restart("OnFailure", 1));
        assert!(!should_restart("OnFailure", 0));
        assert!(!should_restart("Never", 1));
    }
}
