//! The one back-off policy of every retry loop in everynode: exponential with a cap, and jitter
//! so that many clients that failed together (a NATS restart, a registry restart with 10,000
//! agents) do not retry together.
//!
//! Retry `n` (1-based) waits `first · 2^(n-1)`, capped at `max`, then *jittered*: a uniformly
//! random duration in `[d/2, d]` ("equal jitter"), so delays still grow but never line up. A
//! policy can limit the number of retries ([`Backoff::attempts`]).
//!
//! The policy only computes delays; each caller sleeps as suits it (usually in a `select!` with
//! its shutdown signal). Two back-offs in everynode are *not* retry loops and keep Kubernetes'
//! exact numbers instead: the kubelet's crash-loop back-off of a container (10 s doubling to
//! 5 min) and the controller's failed-pod back-off of a node (1 s doubling to 15 min).

use std::time::Duration;

/// An exponential back-off with a cap and equal jitter; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry (before jitter).
    pub first: Duration,
    /// The longest delay (before jitter).
    pub max: Duration,
    /// The most retries, `None` for no limit.
    pub retries: Option<u32>,
}

impl Backoff {
    /// Unlimited retries, starting at `first`, doubling up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            retries: None,
        }
    }

    /// The same policy with at most `attempts` attempts in all (`attempts - 1` retries).
    pub const fn attempts(self, attempts: u32) -> Self {
        Self {
            retries: Some(attempts.saturating_sub(1)),
            ..self
        }
    }

    /// The delay before retry `retry` (1-based), before jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max.max(self.first))
    }

    /// The delay before retry `retry` (1-based), jittered: uniformly in
    /// `[ceiling/2, ceiling]`.
    pub fn delay(&self, retry: u32) -> Duration {
        jitter(self.ceiling(retry))
    }

    /// A fresh series of delays under this policy.
    pub fn start(&self) -> Retries {
        Retries {
            policy: *self,
            done: 0,
        }
    }
}

/// The delays of one series of retries (see [`Backoff::start`]).
#[derive(Debug, Clone)]
pub struct Retries {
    policy: Backoff,
    done: u32,
}

impl Retries {
    /// The delay before the next retry, or `None` when the policy allows no more.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.policy.retries.is_some_and(|limit| self.done >= limit) {
            return None;
        }
        self.done = self.done.saturating_add(1);
        Some(self.policy.delay(self.done))
    }

    /// Retries made so far in this series.
    pub fn retries(&self) -> u32 {
        self.done
    }

    /// Starts over (after a success).
    pub fn reset(&mut self) {
        self.done = 0;
    }
}

impl Iterator for Retries {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.next_delay()
    }
}

/// A uniformly random duration in `[d/2, d]`.
fn jitter(d: Duration) -> Duration {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let half = nanos / 2;
    Duration::from_nanos(half + fastrand::u64(0..=nanos - half))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = Backoff::new(100 * MS, 1000 * MS);
        let ceilings: Vec<u128> = (1..=6).map(|n| policy.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling(u32::MAX), 1000 * MS);
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_delay_and_varies() {
        let policy = Backoff::new(100 * MS, 1000 * MS);
        let delays: Vec<Duration> = (0..200).map(|_| policy.delay(3)).collect();
        for d in &delays {
            assert!(*d >= 200 * MS && *d <= 400 * MS, "{d:?}");
        }
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 100,
            "jitter spreads retries: {}",
            distinct.len()
        );
    }

    #[test]
    fn a_limited_series_ends_and_starts_over_after_reset() {
        let policy = Backoff::new(10 * MS, 100 * MS).attempts(3);
        let mut series = policy.start();
        assert!(series.next_delay().is_some());
        assert!(series.next_delay().is_some());
        assert_eq!(series.next_delay(), None, "3 attempts = 2 retries");
        assert_eq!(series.retries(), 2);
        series.reset();
        let first = series.next_delay().unwrap();
        assert!(first >= 5 * MS && first <= 10 * MS, "{first:?}");
    }

    #[test]
    fn an_unlimited_series_never_ends() {
        let policy = Backoff::new(MS, 2 * MS);
        assert_eq!(policy.start().take(1000).count(), 1000);
    }

    #[test]
    fn a_cap_below_the_first_delay_keeps_the_first() {
        let policy = Backoff::new(50 * MS, 10 * MS);
        assert_eq!(policy.ceiling(1), 50 * MS);
        assert_eq!(policy.ceiling(5), 50 * MS);
    }
}
