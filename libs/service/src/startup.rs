//! Start-up against a NATS that may not be ready yet: a cluster still electing stream leaders,
//! a server restarting, a slow machine. A service does not exit then; it waits and retries, as
//! the agents do, so the order in which a fleet's processes come up does not matter.

use std::future::Future;
use std::time::Duration;

use everynode_core::retry::Backoff;

use crate::Shutdown;

/// The back-off between start-up attempts.
const STARTUP_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// Runs `attempt` until it succeeds, retrying (with back-off) while it fails with a transient
/// bus error — NATS unreachable or not answering in time. Any other error is returned at once;
/// `Ok(None)` when `shutdown` came first. `what` names what is being set up, for the log: the
/// first failure is a warning, later ones are debug lines, and success after failures says
/// how many attempts it took.
pub async fn until_available<T, F, Fut>(
    what: &str,
    shutdown: &Shutdown,
    mut attempt: F,
) -> Result<Option<T>, everynode_bus::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, everynode_bus::Error>>,
{
    let mut retries = STARTUP_BACKOFF.start();
    let mut failures = 0u32;
    loop {
        if shutdown.is_triggered() {
            return Ok(None);
        }
        match attempt().await {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(what, attempts = failures + 1, "NATS ready; set up");
                }
                return Ok(Some(value));
            }
            Err(err) if err.is_transient() => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(what, error = %err, "NATS not ready; retrying with back-off");
                } else {
                    tracing::debug!(what, failures, error = %err, "NATS still not ready");
                }
            }
            Err(err) => return Err(err),
        }
        let delay = retries.next_delay().unwrap_or(STARTUP_BACKOFF.max);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.signal() => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> everynode_bus::Error {
        everynode_bus::Error::Timeout {
            context: "opening KV bucket pods".to_owned(),
            source: "deadline has elapsed".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let got = until_available("buckets", &shutdown, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 4 {
                Err(transient())
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
        assert_eq!(got, Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_is_returned_at_once() {
        let calls = AtomicU32::new(0);
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let got: Result<Option<()>, _> = until_available("buckets", &shutdown, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(everynode_bus::Error::Other {
                context: "creating KV bucket pods".to_owned(),
                source: "insufficient resources".into(),
            })
        })
        .await;
        assert!(got.is_err(), "{got:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            trigger.trigger();
        });
        let got: Result<Option<()>, _> =
            until_available("buckets", &shutdown, || async { Err(transient()) }).await;
        assert_eq!(got.unwrap(), None);
    }
}
