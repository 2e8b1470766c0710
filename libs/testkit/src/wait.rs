//! Waiting on conditions instead of sleeping.
//!
//! A check is a closure returning `Ok(value)` once the condition holds, or `Err(observation)`
//! describing what it saw instead ("2 of 3 pods running: n3 is Pending"). [`Wait`] runs the check
//! until it passes or the deadline is reached; on timeout, [`TimedOut`] names what was expected
//! and carries the *last* observation, which is what a failing test needs to be diagnosed.
//!
//! The check always runs at least once, runs once more at the deadline, and an attempt that is
//! still running at the deadline is abandoned (async variant), so a hung request cannot make a
//! test hang.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// Default time a condition gets to become true.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default pause between two checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(20);

/// A condition wait: what is expected, how long it may take, how often to look.
#[derive(Debug, Clone)]
pub struct Wait {
    what: String,
    timeout: Duration,
    interval: Duration,
}

/// A condition did not hold before its deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what} ({attempts} checks); last observed: {last}")]
pub struct TimedOut {
    /// What was expected, as given to [`Wait::new`].
    pub what: String,
    /// How long the wait lasted.
    pub waited: Duration,
    /// How many times the check ran.
    pub attempts: u32,
    /// The last observation the check reported.
    pub last: String,
}

impl Wait {
    /// A wait for `what` (phrased as the expectation: "3 pods running") with the default timeout
    /// and interval.
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            timeout: DEFAULT_TIMEOUT,
            interval: DEFAULT_INTERVAL,
        }
    }

    /// How long the condition gets to become true.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The pause between two checks.
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Runs the async `check` until it returns `Ok`, or fails with the last observation once the
    /// timeout has passed.
    pub async fn until<T, E, F, Fut>(&self, mut check: F) -> Result<T, TimedOut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Display,
    {
        let start = tokio::time::Instant::now();
        let deadline = start + self.timeout;
        let mut attempts = 0u32;
        let mut last = String::from("nothing (the check never completed)");
        loop {
            attempts = attempts.saturating_add(1);
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            // The last attempt (at the deadline) still gets one interval to answer.
            match tokio::time::timeout(remaining.max(self.interval), check()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(observation)) => last = observation.to_string(),
                Err(_) => {
                    last =
                        format!("the check was still running at the deadline; before that: {last}")
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(self.timed_out(now - start, attempts, last));
            }
            tokio::time::sleep(self.interval.min(deadline - now)).await;
        }
    }

    /// Runs the blocking `check` until it returns `Ok`, or fails with the last observation once
    /// the timeout has passed. For checks that need no runtime (files, processes).
    pub fn until_blocking<T, E, F>(&self, mut check: F) -> Result<T, TimedOut>
    where
        F: FnMut() -> Result<T, E>,
        E: Display,
    {
        let start = std::time::Instant::now();
        let deadline = start + self.timeout;
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            let last = match check() {
                Ok(value) => return Ok(value),
                Err(observation) => observation.to_string(),
            };
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(self.timed_out(now - start, attempts, last));
            }
            std::thread::sleep(self.interval.min(deadline - now));
        }
    }

    fn timed_out(&self, waited: Duration, attempts: u32, last: String) -> TimedOut {
        TimedOut {
            what: self.what.clone(),
            waited,
            attempts,
            last,
        }
    }
}

/// Waits until the async `check` passes and returns its value; panics with what was expected and
/// the last observation if it does not pass within `timeout`. The shorthand for tests:
///
/// ```ignore
/// let pods = eventually("3 pods running", Duration::from_secs(5), || async {
///     let pods = list_pods().await.map_err(|e| e.to_string())?;
///     if pods.len() == 3 { Ok(pods) } else { Err(format!("{} pods: {pods:?}", pods.len())) }
/// })
/// .await;
/// ```
pub async fn eventually<T, E, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    match Wait::new(what).timeout(timeout).until(check).await {
        Ok(value) => value,
        Err(timed_out) => panic!("{timed_out}"),
    }
}

/// [`eventually`] for a blocking check.
pub fn eventually_blocking<T, E, F>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Result<T, E>,
    E: Display,
{
    match Wait::new(what).timeout(timeout).until_blocking(check) {
        Ok(value) => value,
        Err(timed_out) => panic!("{timed_out}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_once_the_condition_holds_after_a_few_checks() {
        let mut checks = 0;
        let value = Wait::new("three checks")
            .interval(Duration::from_millis(1))
            .until(|| {
                checks += 1;
                let seen = checks;
                async move {
                    if seen >= 3 {
                        Ok(seen)
                    } else {
                        Err(format!("{seen} checks"))
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn timeout_names_the_expectation_and_the_last_observation() {
        let mut checks = 0u32;
        let err = Wait::new("the counter to reach 1000")
            .timeout(Duration::from_millis(100))
            .interval(Duration::from_millis(5))
            .until(|| {
                checks += 1;
                let seen = checks;
                async move { Err::<(), _>(format!("counter at {seen}")) }
            })
            .await
            .unwrap_err();
        assert_eq!(err.attempts, checks);
        assert_eq!(err.last, format!("counter at {checks}"));
        assert!(err.waited >= Duration::from_millis(100), "{err}");
        let message = err.to_string();
        assert!(message.contains("the counter to reach 1000"), "{message}");
        assert!(
            message.contains(&format!("counter at {checks}")),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_hung_check_cannot_outlive_the_deadline() {
        let mut checks = 0u32;
        let err = Wait::new("a hung check to answer")
            .timeout(Duration::from_millis(50))
            .interval(Duration::from_millis(5))
            .until(|| {
                checks += 1;
                let first = checks == 1;
                async move {
                    if first {
                        Err::<(), String>("first answer".into())
                    } else {
                        std::future::pending().await
                    }
                }
            })
            .await
            .unwrap_err();
        assert!(err.last.contains("still running"), "{err}");
        assert!(err.last.contains("first answer"), "{err}");
    }

    #[tokio::test]
    #[should_panic(expected = "last observed: still 0")]
    async fn eventually_panics_with_the_last_observation() {
        eventually("never", Duration::from_millis(20), || async {
            Err::<(), _>("still 0")
        })
        .await;
    }

    #[test]
    fn blocking_wait_passes_and_times_out() {
        let mut checks = 0;
        let value = eventually_blocking("two checks", Duration::from_secs(5), || {
            checks += 1;
            if checks == 2 {
                Ok(checks)
            } else {
                Err("one check")
            }
        });
        assert_eq!(value, 2);

        let err = Wait::new("the impossible")
            .timeout(Duration::from_millis(20))
            .interval(Duration::from_millis(2))
            .until_blocking(|| Err::<(), _>("nope"))
            .unwrap_err();
        assert_eq!(err.last, "nope");
        assert!(err.attempts >= 2, "{err}");
    }
}
