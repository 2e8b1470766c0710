//! A service under test: its `run` function started on a free loopback port, a gRPC channel to
//! it once it accepts connections, and a graceful stop (shutdown is triggered on drop too).

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use everynode_service::Shutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::eventually;

/// How long a service gets to accept its first connection.
const CONNECT_WAIT: Duration = Duration::from_secs(15);

/// A service running in this process on `127.0.0.1:<free port>`.
pub struct Served<E> {
    name: String,
    addr: SocketAddr,
    shutdown: Shutdown,
    task: Option<JoinHandle<Result<(), E>>>,
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
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local address of {name}: {e}"));
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let task = tokio::spawn(run(listener, shutdown.clone()));
        Self {
            name: name.to_string(),
            addr,
            shutdown,
            task: Some(task),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A channel to it, once it accepts connections.
    pub async fn channel(&self) -> Channel {
        let url = format!("http://{}", self.addr);
        eventually(
            &format!("{} accepts connections", self.name),
            CONNECT_WAIT,
            || {
                let url = url.clone();
                async move {
                    Channel::from_shared(url)
                        .map_err(|e| e.to_string())?
                        .connect()
                        .await
                        .map_err(|e| e.to_string())
                }
            },
        )
        .await
    }

    /// Triggers shutdown and waits for the service to finish; panics if it failed.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("{} failed: {e}", self.name),
                Err(e) => panic!("{} panicked: {e}", self.name),
            }
        }
    }
}

impl<E> Drop for Served<E> {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}
