//! TLS on the wire for tonic: the server's stream of accepted, handshaken connections (each
//! carrying its peer's [`Identity`] to the request extensions), and the client connector every
//! channel uses. Both take their configuration from a [`Tls`] at each new connection, so
//! rotated certificates apply without a restart.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tonic::codegen::http::Uri;
use tonic::transport::server::Connected;

use crate::identity::Identity;
use crate::tls::Tls;

/// How long a client gets to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most handshakes in progress at once; further connections wait in the listen backlog.
const MAX_HANDSHAKES: usize = 1024;

/// What a server knows of a connection's peer.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's address.
    pub remote: Option<SocketAddr>,
    /// The identity its client certificate names (`None`: it sent none).
    pub identity: Option<Arc<Identity>>,
}

/// A server connection after its TLS handshake.
#[derive(Debug)]
pub struct TlsConnection {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for TlsConnection {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
) -> io::Result<TlsConnection> {
    let _ = tcp.set_nodelay(true);
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| match Identity::from_certificate(cert) {
            Ok(identity) => Some(Arc::new(identity)),
            Err(error) => {
                tracing::debug!(%remote, %error, "client certificate names no identity");
                None
            }
        });
    Ok(TlsConnection {
        stream,
        info: PeerInfo {
            remote: Some(remote),
            identity,
        },
    })
}

struct Accepting {
    listener: TcpListener,
    tls: Arc<Tls>,
    handshakes: JoinSet<io::Result<TlsConnection>>,
}

/// The connections accepted on `listener`, each after a TLS handshake with `tls`'s current
/// server configuration. Handshakes run concurrently (a slow client holds up nobody) and are
/// owned by the stream: dropping it cancels them.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<Tls>,
) -> impl Stream<Item = io::Result<TlsConnection>> + Send + 'static {
    let state = Accepting {
        listener,
        tls,
        handshakes: JoinSet::new(),
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            let room = state.handshakes.len() < MAX_HANDSHAKES;
            tokio::select! {
                accepted = state.listener.accept(), if room => match accepted {
                    Ok((tcp, remote)) => {
                        let acceptor = TlsAcceptor::from(state.tls.server_config());
                        state.handshakes.spawn(handshake(acceptor, tcp, remote));
                    }
                    // tonic logs an accept error and goes on.
                    Err(error) => return Some((Err(error), state)),
                },
                Some(done) = state.handshakes.join_next(), if !state.handshakes.is_empty() => {
                    match done {
                        Ok(Ok(connection)) => return Some((Ok(connection), state)),
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(error) => tracing::warn!(%error, "TLS handshake task failed"),
                    }
                }
            }
        }
    })
}

/// How a client channel reaches its server: plain TCP, or TLS with a client configuration.
#[derive(Clone)]
pub enum ClientTls {
    /// Plaintext (only with `--insecure`).
    Plain,
    /// Mutual TLS with the credentials of a folder, current at each connection.
    Credentials(Arc<Tls>),
    /// TLS that verifies the server but presents no certificate (a joining agent).
    Anonymous(Arc<ClientConfig>),
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientTls::Plain => f.write_str("Plain"),
            ClientTls::Credentials(tls) => f.debug_tuple("Credentials").field(tls).finish(),
            ClientTls::Anonymous(_) => f.write_str("Anonymous"),
        }
    }
}

impl ClientTls {
    /// The URL scheme this mode speaks (`http` or `https`).
    pub fn scheme(&self) -> &'static str {
        match self {
            ClientTls::Plain => "http",
            _ => "https",
        }
    }
}

/// The connector of a tonic channel: TCP, then TLS unless [`ClientTls::Plain`].
#[derive(Debug, Clone)]
pub struct Connector {
    tls: ClientTls,
}

impl Connector {
    /// A connector of mode `tls`.
    pub fn new(tls: ClientTls) -> Self {
        Self { tls }
    }
}

/// A client connection: plain or TLS.
pub type ClientIo = TokioIo<Box<dyn AsyncReadWrite>>;

/// What a client connection is.
pub trait AsyncReadWrite: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncReadWrite for T {}

impl tower::Service<Uri> for Connector {
    type Response = ClientIo;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<ClientIo>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL without a host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let default_port = if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            };
            let port = uri.port_u16().unwrap_or(default_port);
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            let config = match &tls {
                ClientTls::Plain => {
                    return Ok(TokioIo::new(Box::new(tcp) as Box<dyn AsyncReadWrite>));
                }
                ClientTls::Credentials(tls) => tls.client_config(),
                ClientTls::Anonymous(config) => Arc::clone(config),
            };
            let name = ServerName::try_from(host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = TlsConnector::from(config).connect(name, tcp).await?;
            Ok(TokioIo::new(Box::new(stream) as Box<dyn AsyncReadWrite>))
        })
    }
}
