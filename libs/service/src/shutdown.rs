//! The one graceful-shutdown pattern of every everynode service.
//!
//! A [`Shutdown`] is a cloneable handle holding three things: a cancellation signal
//! ([`Shutdown::signal`], fired by [`Shutdown::trigger`] or, with [`Shutdown::on_signals`], by
//! SIGINT/SIGTERM), a task tracker ([`Shutdown::spawn`] — no fire-and-forget `tokio::spawn`),
//! and a grace deadline that starts when shutdown is triggered and that every waiter shares, so
//! the gRPC drain and the background tasks together never take longer than one grace.
//!
//! The order, for a service's `run`:
//! 1. `GrpcServer::serve(shutdown)` sees the signal, reports NOT_SERVING, stops accepting,
//!    ends open streams (see [`Shutdown::guard_stream`]) and waits for in-flight calls until the
//!    deadline;
//! 2. the service drains its NATS connection;
//! 3. [`Shutdown::wait_tasks`] waits for the tracked tasks until the same deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use crate::Error;

/// Cloneable shutdown handle: the signal, the tracked tasks and the grace deadline.
#[derive(Clone, Debug)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    token: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
    /// Set once, when shutdown is triggered: trigger time + grace.
    deadline: OnceLock<Instant>,
}

impl Shutdown {
    /// A handle that shuts down only when [`trigger`](Self::trigger) is called (tests, embedding).
    pub fn new(grace: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                token: CancellationToken::new(),
                tracker: TaskTracker::new(),
                grace,
                deadline: OnceLock::new(),
            }),
        }
    }

    /// A handle that also triggers on SIGINT or SIGTERM (Ctrl-C elsewhere than Unix). Must be
    /// called inside a tokio runtime; the listener is a tracked task that ends with shutdown.
    pub fn on_signals(grace: Duration) -> Result<Self, Error> {
        let shutdown = Self::new(grace);
        let signals = Signals::install()?;
        let handle = shutdown.clone();
        shutdown.spawn(async move {
            tokio::select! {
                name = signals.recv() => {
                    tracing::info!(signal = name, grace = ?handle.grace(), "shutting down");
                    handle.trigger();
                }
                () = handle.signal() => {}
            }
        });
        Ok(shutdown)
    }

    /// Requests shutdown and starts the grace period. Idempotent: later calls keep the first
    /// deadline.
    pub fn trigger(&self) {
        self.inner
            .deadline
            .get_or_init(|| Instant::now() + self.inner.grace);
        self.inner.token.cancel();
    }

    /// Whether shutdown has been requested.
    pub fn is_triggered(&self) -> bool {
        self.inner.token.is_cancelled()
    }

    /// A future that resolves once shutdown has been requested. It owns what it needs, so it
    /// can be moved into a task or a `select!`.
    pub fn signal(&self) -> WaitForCancellationFutureOwned {
        self.inner.token.clone().cancelled_owned()
    }

    /// A token cancelled on shutdown, for libraries that take a `CancellationToken`.
    /// Cancelling it does not shut anything else down.
    pub fn token(&self) -> CancellationToken {
        self.inner.token.child_token()
    }

    /// The grace period given after shutdown is requested.
    pub fn grace(&self) -> Duration {
        self.inner.grace
    }

    /// When the grace runs out, once shutdown has been requested.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline.get().copied()
    }

    /// Resolves when shutdown has been requested and the grace has run out.
    pub async fn grace_elapsed(&self) {
        self.signal().await;
        // `trigger` sets the deadline before it cancels, so it is always set here.
        let deadline = self
            .deadline()
            .unwrap_or_else(|| Instant::now() + self.inner.grace);
        tokio::time::sleep_until(deadline).await;
    }

    /// Spawns a task that [`wait_tasks`](Self::wait_tasks) waits for. The task should watch
    /// [`signal`](Self::signal) and return when it fires.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.tracker.spawn(task)
    }

    /// Waits for every task spawned with [`spawn`](Self::spawn) to finish, but no longer than
    /// the grace deadline after shutdown was requested. Spawning after this is called still
    /// works and is still waited for.
    pub async fn wait_tasks(&self) -> Result<(), Error> {
        let tracker = &self.inner.tracker;
        tracker.close();
        tokio::select! {
            () = tracker.wait() => Ok(()),
            () = self.grace_elapsed() => Err(Error::GraceExceeded {
                remaining: tracker.len(),
                grace: self.inner.grace,
            }),
        }
    }

    /// Wraps a server-streaming response so that it ends when shutdown is requested: items
    /// already produced are still sent, then the stream yields one `UNAVAILABLE` ("server is
    /// shutting down"; clients retry, possibly on another replica) and ends. Every `Watch`
    /// implementation returns its stream through this, or graceful shutdown would wait the
    /// whole grace for it.
    pub fn guard_stream<S, T>(&self, stream: S) -> UntilShutdown<S>
    where
        S: Stream<Item = Result<T, tonic::Status>>,
    {
        UntilShutdown::new(stream, self.inner.token.clone())
    }
}

/// A stream that ends with `UNAVAILABLE` once its token is cancelled; see
/// [`Shutdown::guard_stream`].
#[must_use = "streams do nothing unless polled"]
pub struct UntilShutdown<S> {
    inner: Option<Pin<Box<S>>>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<S> std::fmt::Debug for UntilShutdown<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UntilShutdown")
            .field("ended", &self.inner.is_none())
            .finish()
    }
}

impl<S> UntilShutdown<S> {
    pub(crate) fn new(stream: S, token: CancellationToken) -> Self {
        Self {
            inner: Some(Box::pin(stream)),
            cancelled: Box::pin(token.cancelled_owned()),
        }
    }
}

impl<S, T> Stream for UntilShutdown<S>
where
    S: Stream<Item = Result<T, tonic::Status>>,
{
    type Item = Result<T, tonic::Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        // The inner stream first, so whatever it already has (a final NOT_SERVING, say) is
        // still delivered before the stream is cut.
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Ready(None) => {
                this.inner = None;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        match this.cancelled.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.inner = None;
                Poll::Ready(Some(Err(tonic::Status::unavailable(
                    "server is shutting down",
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The OS signals that request shutdown.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> Result<Self, Error> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(Error::Signal)?,
            terminate: signal(SignalKind::terminate()).map_err(Error::Signal)?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self, Error> {
        Ok(Self {})
    }

    /// Waits for the first signal and returns its name.
    #[cfg(unix)]
    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    #[cfg(not(unix))]
    async fn recv(self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "ctrl-c",
            // Without a handler nothing can arrive; wait for a programmatic trigger instead.
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn trigger_resolves_every_clone_signal() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let clone = shutdown.clone();
        let waiter = tokio::spawn(clone.signal());
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        waiter.await.unwrap();
        assert!(shutdown.is_triggered());
        assert!(shutdown.token().is_cancelled());
        assert!(shutdown.deadline().is_some());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sigterm_triggers_shutdown_and_ends_the_listener_task() {
        let shutdown = Shutdown::on_signals(Duration::from_secs(5)).unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(10), shutdown.signal())
            .await
            .expect("SIGTERM should trigger shutdown");
        shutdown.wait_tasks().await.unwrap();
    }

    #[tokio::test]
    async fn child_token_cancel_does_not_trigger_shutdown() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        shutdown.token().cancel();
        assert!(!shutdown.is_triggered());
    }

    #[tokio::test]
    async fn wait_tasks_returns_once_tracked_tasks_finish() {
        let shutdown = Shutdown::new(Duration::from_secs(30));
        let task = shutdown.clone();
        shutdown.spawn(async move { task.signal().await });
        shutdown.trigger();
        shutdown.wait_tasks().await.unwrap();
    }

    #[tokio::test]
    async fn wait_tasks_gives_up_after_the_grace() {
        let shutdown = Shutdown::new(Duration::from_millis(50));
        shutdown.spawn(std::future::pending::<()>());
        shutdown.trigger();
        let err = shutdown.wait_tasks().await.unwrap_err();
        assert!(
            matches!(err, Error::GraceExceeded { remaining: 1, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn second_trigger_keeps_the_first_deadline() {
        let shutdown = Shutdown::new(Duration::from_secs(5));
        shutdown.trigger();
        let first = shutdown.deadline();
        tokio::time::sleep(Duration::from_millis(5)).await;
        shutdown.trigger();
        assert_eq!(shutdown.deadline(), first);
    }

    #[tokio::test]
    async fn guarded_stream_delivers_ready_items_then_ends_unavailable() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<u32, tonic::Status>>(4);
        let mut stream = shutdown.guard_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
        tx.send(Ok(1)).await.unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        tx.send(Ok(2)).await.unwrap();
        shutdown.trigger();
        assert_eq!(stream.next().await.unwrap().unwrap(), 2);
        let status = stream.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn guarded_stream_that_ends_by_itself_ends_cleanly() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let mut stream = shutdown.guard_stream(tokio_stream::iter([Ok::<_, tonic::Status>(7)]));
        assert_eq!(stream.next().await.unwrap().unwrap(), 7);
        assert!(stream.next().await.is_none());
    }
}
