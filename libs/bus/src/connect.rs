//! Connecting to NATS, the same way in every service.
//!
//! - `url` may list several servers separated by commas (`nats://a:4222,nats://b:4222`); the
//!   client learns the rest of a cluster from the servers themselves.
//! - The *first* connection is retried with the project's back-off policy for a bounded time
//!   ([`DEFAULT_INITIAL_WAIT`], or the `initial_wait` given), so services may start before NATS
//!   (docker compose, a rebooting node) but a wrong URL still fails start-up with a clear error
//!   instead of hanging. async-nats's own `retry_on_initial_connect` is not used: it returns a
//!   client that is not connected yet, and the first requests would fail or stall instead.
//! - Once connected, the client reconnects forever (capped backoff), keeps its subscriptions,
//!   and logs every connection event; pings every 10 s notice a dead server quickly.

use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event};
use everynode_core::retry::Backoff;
use tokio::time::Instant;

use crate::error::Error;

/// How a client proves who it is to NATS.
#[derive(Clone, Default)]
pub enum NatsAuth {
    /// No credentials (`--insecure`, or a test's open server).
    #[default]
    Open,
    /// A user JWT and seed (the text of a `.creds` file) and the inbox prefix the user's
    /// permissions allow (replies to this client arrive below it, and only it may read them).
    Credentials {
        /// The `.creds` file's text.
        creds: String,
        /// The client's inbox prefix (`_INBOX.<role>` or `_INBOX.node.<node token>`).
        inbox_prefix: String,
    },
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the seed.
        match self {
            Self::Open => f.write_str("Open"),
            Self::Credentials { inbox_prefix, .. } => f
                .debug_struct("Credentials")
                .field("inbox_prefix", inbox_prefix)
                .finish_non_exhaustive(),
        }
    }
}

/// How long [`connect`] keeps retrying the first connection.
pub const DEFAULT_INITIAL_WAIT: Duration = Duration::from_secs(30);
/// Pauses between connection attempts: the project's retry policy from 50 ms doubling to 2 s,
/// with jitter, so that a fleet of agents does not reconnect in lock-step after a NATS restart.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));

/// How long a JetStream request (a KV read or write, a consumer's creation, stream
/// information) waits for its answer: a request to a stream that has no leader — a NATS member
/// was killed and its streams are electing new ones, 4–9 s — gets no answer at all, and every
/// caller retries transient errors; with the client's default of 5 s, a request sent just
/// before the new leader came kept its caller waiting seconds longer. Normal answers take
/// milliseconds.
pub const JETSTREAM_REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The JetStream context of `client`, with [`JETSTREAM_REQUEST_TIMEOUT`]: what every service
/// and agent uses.
pub fn jetstream(client: &Client) -> async_nats::jetstream::Context {
    let mut js = async_nats::jetstream::new(client.clone());
    js.set_timeout(JETSTREAM_REQUEST_TIMEOUT);
    js
}

/// Connects as client `name` (shown in the server's connection list), retrying the first
/// connection for up to [`DEFAULT_INITIAL_WAIT`].
pub async fn connect(url: &str, name: &str) -> Result<Client, Error> {
    connect_with(url, name, DEFAULT_INITIAL_WAIT).await
}

/// [`connect`] with credentials (`auth`): what every service and agent uses.
pub async fn connect_auth(url: &str, name: &str, auth: &NatsAuth) -> Result<Client, Error> {
    connect_full(url, name, auth, DEFAULT_INITIAL_WAIT).await
}

/// [`connect`] with a chosen time budget for the first connection (zero: one attempt).
pub async fn connect_with(url: &str, name: &str, initial_wait: Duration) -> Result<Client, Error> {
    connect_full(url, name, &NatsAuth::Open, initial_wait).await
}

/// [`connect_auth`] with a chosen time budget for the first connection (zero: one attempt).
/// Unusable credentials fail at once; a refused authentication is not retried.
pub async fn connect_full(
    url: &str,
    name: &str,
    auth: &NatsAuth,
    initial_wait: Duration,
) -> Result<Client, Error> {
    let servers: Vec<String> = url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let deadline = Instant::now() + initial_wait;
    let mut attempt = 0u32;
    loop {
        attempt = attempt.saturating_add(1);
        let err = match options(name, auth)?.connect(servers.clone()).await {
            Ok(client) => {
                tracing::info!(url, name, attempt, "connected to NATS");
                return Ok(client);
            }
            Err(err) => err,
        };
        let retryable = matches!(
            err.kind(),
            ConnectErrorKind::Io
                | ConnectErrorKind::TimedOut
                | ConnectErrorKind::Dns
                | ConnectErrorKind::MaxReconnects
        );
        let now = Instant::now();
        if !retryable || now >= deadline {
            return Err(Error::nats(
                format!("connecting to {url} ({attempt} attempts)"),
                err,
            ));
        }
        tracing::warn!(url, attempt, error = %err, "NATS not reachable yet; retrying");
        tokio::time::sleep(backoff(attempt).min(deadline - now)).await;
    }
}

fn options(name: &str, auth: &NatsAuth) -> Result<ConnectOptions, Error> {
    let client_name = name.to_owned();
    let options = match auth {
        NatsAuth::Open => ConnectOptions::new(),
        NatsAuth::Credentials {
            creds,
            inbox_prefix,
        } => ConnectOptions::new()
            .credentials(creds)
            .map_err(|err| Error::nats("reading the NATS credentials (.creds)", err))?
            .custom_inbox_prefix(inbox_prefix),
    };
    Ok(options
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .ping_interval(Duration::from_secs(10))
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| backoff(u32::try_from(attempts).unwrap_or(u32::MAX)))
        .event_callback(move |event| {
            let name = client_name.clone();
            async move {
                match event {
                    Event::Connected => tracing::info!(client = %name, "NATS (re)connected"),
                    Event::Disconnected => tracing::warn!(client = %name, "NATS disconnected"),
                    Event::ServerError(err) => {
                        tracing::warn!(client = %name, error = %err, "NATS server error");
                    }
                    Event::ClientError(err) => {
                        tracing::warn!(client = %name, error = %err, "NATS client error");
                    }
                    other => tracing::info!(client = %name, event = %other, "NATS event"),
                }
            }
        }))
}

/// The pause before connection attempt `attempt` (1-based): none before the first attempt
/// of a reconnect, then [`RECONNECT`]'s delays.
fn backoff(attempt: u32) -> Duration {
    if attempt <= 1 {
        return Duration::ZERO;
    }
    RECONNECT.delay(attempt - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::ZERO);
        let within = |attempt: u32, ceiling_ms: u64| {
            let d = backoff(attempt);
            let ceiling = Duration::from_millis(ceiling_ms);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        };
        within(2, 50);
        within(3, 100);
        within(10, 2000);
        within(u32::MAX, 2000);
    }
}
