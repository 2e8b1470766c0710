//! A service under test: its `run` function started on a free loopback port, a gRPC channel to
//! it once it accepts connections, and a graceful stop (shutdown is triggered on drop too).
//!
//! [`Task`] is the part without a port (a task with a [`Shutdown`]), which the stack also uses
//! for agents.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use everynode_service::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::eventually;
use crate::pki::TestPki;

/// How long a service gets to accept its first connection.
const CONNECT_WAIT: Duration = Duration::from_secs(15);
/// How long a stopped service gets to finish its in-flight work.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A task running in this process until its [`Shutdown`] is triggered.
pub(crate) struct Task<E> {
    name: String,
    shutdown: Shutdown,
    handle: Option<JoinHandle<Result<(), E>>>,
}

impl<E: Display + Send + 'static> Task<E> {
    /// Spawns `run(shutdown)`.
    pub(crate) fn spawn<F, Fut>(name: &str, run: F) -> Self
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let shutdown = Shutdown::new(SHUTDOWN_GRACE);
        let handle = tokio::spawn(run(shutdown.clone()));
        Self {
            name: name.to_string(),
            shutdown,
            handle: Some(handle),
        }
    }

    /// Triggers shutdown and waits for the task to finish; panics if it failed.
    pub(crate) async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(handle) = self.handle.take() {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("{} failed: {e}", self.name),
                Err(e) => panic!("{} panicked: {e}", self.name),
            }
        }
    }

    /// Waits until the task ends on its own (nobody asked it to) and says how it ended; never
    /// returns for a task that keeps running. For racing against a readiness wait.
    pub(crate) async fn exited(&mut self) -> String {
        let Some(handle) = self.handle.as_mut() else {
            return std::future::pending().await;
        };
        let outcome = match handle.await {
            Ok(Ok(())) => format!("{} returned before it was ready", self.name),
            Ok(Err(e)) => format!("{} failed: {e}", self.name),
            Err(e) => format!("{} panicked: {e}", self.name),
        };
        self.handle = None;
        outcome
    }

    /// Triggers shutdown and cancels the task without waiting for it.
    pub(crate) fn abort(&mut self) {
        self.shutdown.trigger();
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl<E> Drop for Task<E> {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// A service running in this process on `127.0.0.1:<free port>`.
pub struct Served<E> {
    task: Task<E>,
    addr: SocketAddr,
}

impl<E: Display + Send + 'static> Served<E> {
    /// Binds a free port and spawns `run(listener, shutdown)` — a service crate's `run` with its
    /// configuration and NATS client already applied.
    pub async fn start<F, Fut>(name: &str, run: F) -> Self
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding a port for {name}: {e}"));
        Self::on(name, listener, run)
    }

    /// Spawns `run(listener, shutdown)` on a listener the caller bound.
    pub(crate) fn on<F, Fut>(name: &str, listener: TcpListener, run: F) -> Self
    where
        F: FnOnce(TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local address of {name}: {e}"));
        Self {
            task: Task::spawn(name, |shutdown| run(listener, shutdown)),
            addr,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its URL (`https://127.0.0.1:<port>`).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A channel to it as the identity `name` of `pki`, once it accepts connections.
    pub async fn channel(&self, pki: &TestPki, name: &str) -> Channel {
        let url = self.url();
        eventually(
            &format!("{} accepts connections", self.task.name),
            CONNECT_WAIT,
            || pki.connect(name, &url),
        )
        .await
    }

    /// Triggers shutdown and waits for the service to finish; panics if it failed.
    pub async fn stop(self) {
        self.task.stop().await;
    }

    /// See [`Task::exited`].
    pub(crate) async fn exited(&mut self) -> String {
        self.task.exited().await
    }

    /// See [`Task::abort`].
    pub(crate) fn abort(&mut self) {
        self.task.abort();
    }
}
