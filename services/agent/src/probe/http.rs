//! The `httpGet` probe as the kubelet runs it (`pkg/probe/http/http.go`, `request.go`), over
//! hyper's HTTP/1.1 client on a fresh connection per request (the kubelet disables
//! keep-alives):
//!
//! - `GET scheme://host:port/path`, the host defaulting to the pod IP; `scheme: HTTPS` is TLS
//!   without certificate verification ([`super::tls`]);
//! - headers: `User-Agent: kube-probe/<major>.<minor>` and `Accept: */*` unless given (an
//!   `Accept` given empty is left out), the `httpHeaders` as given, `Connection: close`; a
//!   `Host` header sets the request's host. Names and values are validated when the probe is
//!   built ([`HttpGet::new`]): a CR, LF or other byte HTTP does not allow makes the probe
//!   invalid, so nothing is ever sent for it;
//! - redirects (301, 302, 303, 307, 308) are followed to the same host name only, at most
//!   10 requests in all (more fails with "stopped after 10 redirects"); a redirect to another
//!   host is not followed and counts as success, with a warning, as the kubelet's
//!   `probe.Warning` does;
//! - success is a final status in 200..400; at most 10 KiB of the body is read (more is
//!   dropped, not an error), as the kubelet reads it;
//! - the time limit (`timeoutSeconds`) covers every request, redirect and body read: it is
//!   the caller's ([`super::probe_once`]).

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{
    ACCEPT, CONNECTION, HOST, HeaderMap, HeaderName, HeaderValue, LOCATION, USER_AGENT,
};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::{Host, Position, Url};

use super::{InvalidProbe, ProbeError, join_host_port, tls};

/// The default `User-Agent` (the kubelet's is `kube-probe/<major>.<minor>`).
const DEFAULT_USER_AGENT: &str = concat!(
    "kube-probe/",
    env!("CARGO_PKG_VERSION_MAJOR"),
    ".",
    env!("CARGO_PKG_VERSION_MINOR")
);
/// Requests of one attempt, the first included (Go's HTTP client stops after 10).
pub const MAX_REQUESTS: usize = 10;
/// Bytes of a response body read at most.
pub const MAX_BODY: usize = 10 * 1024;

/// `HTTP` or `HTTPS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS, the certificate not verified.
    Https,
}

impl Scheme {
    /// The probe's `scheme` field: empty is HTTP; case does not matter.
    pub fn parse(scheme: &str) -> Result<Self, InvalidProbe> {
        if scheme.is_empty() || scheme.eq_ignore_ascii_case("HTTP") {
            Ok(Self::Http)
        } else if scheme.eq_ignore_ascii_case("HTTPS") {
            Ok(Self::Https)
        } else {
            Err(InvalidProbe::Scheme(scheme.to_owned()))
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// A validated `httpGet` probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGet {
    scheme: Scheme,
    host: String,
    port: u16,
    path: String,
    headers: HeaderMap,
}

impl HttpGet {
    /// The probe of `scheme://host:port/path` with the extra request `headers` (`httpHeaders`,
    /// in order; a name may repeat). A header whose name or value HTTP does not allow makes
    /// the probe invalid.
    pub fn new(
        scheme: Scheme,
        host: String,
        port: u16,
        path: &str,
        headers: &[(String, String)],
    ) -> Result<Self, InvalidProbe> {
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| InvalidProbe::HeaderName(name.clone()))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| InvalidProbe::HeaderValue(name.clone()))?;
            map.append(header, value);
        }
        Ok(Self {
            scheme,
            host,
            port,
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            },
            headers: map,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The probed URL as the messages name it.
    pub fn url(&self) -> String {
        let slash = if self.path.starts_with('/') { "" } else { "/" };
        format!(
            "{}://{}{slash}{}",
            self.scheme.as_str(),
            join_host_port(&self.host, self.port),
            self.path
        )
    }

    /// The first URL: `path` parsed as the kubelet's `formatURL` does (its query kept, its
    /// fragment dropped, characters a URL cannot hold escaped).
    fn start(&self) -> Result<Url, HttpError> {
        let mut url = Url::parse(&format!(
            "{}://{}",
            self.scheme.as_str(),
            join_host_port(&self.host, self.port)
        ))?;
        let path = self.path.split('#').next().unwrap_or_default();
        match path.split_once('?') {
            Some((path, query)) => {
                url.set_path(path);
                url.set_query(Some(query));
            }
            None => url.set_path(path),
        }
        Ok(url)
    }
}

/// Why an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The host and port do not make a URL.
    #[error("invalid URL: {0}")]
    Url(#[from] url::ParseError),
    /// The path does not make a request target.
    #[error("invalid request path: {0}")]
    Target(#[from] http::uri::InvalidUri),
    /// The host cannot be used as a `Host` header.
    #[error("invalid Host header: {0}")]
    Host(#[from] http::header::InvalidHeaderValue),
    /// No TCP connection.
    #[error("dial tcp: {0}")]
    Connect(#[source] std::io::Error),
    /// The host name cannot be a TLS server name.
    #[error("invalid TLS server name {name:?}: {source}")]
    ServerName {
        /// The host.
        name: String,
        /// Why.
        #[source]
        source: rustls::pki_types::InvalidDnsNameError,
    },
    /// The TLS client could not be set up.
    #[error("TLS setup: {0}")]
    TlsSetup(#[from] rustls::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Handshake(#[source] std::io::Error),
    /// The HTTP exchange failed (connection closed, malformed response, …).
    #[error("{0}")]
    Protocol(#[from] hyper::Error),
    /// A redirect's `Location` is not a URL.
    #[error("invalid redirect location {0:?}")]
    Location(String),
    /// A redirect to a scheme other than http or https.
    #[error("redirect to unsupported scheme {0:?}")]
    RedirectScheme(String),
    /// Redirected once too often.
    #[error("stopped after {MAX_REQUESTS} redirects")]
    TooManyRedirects,
}

/// What one request brought back.
struct Reply {
    status: StatusCode,
    location: Option<HeaderValue>,
    body: Vec<u8>,
}

/// One probe attempt: the request, the redirects it is allowed to follow, the verdict.
pub(super) async fn probe(get: &HttpGet) -> Result<(), ProbeError> {
    let failed = |source| ProbeError::Http {
        url: get.url(),
        source,
    };
    let mut url = get.start().map_err(failed)?;
    let origin = url.host_str().map(str::to_owned);
    // The `Host` header given, if any (the kubelet sets `req.Host` from it).
    let host_override = get
        .headers
        .get(HOST)
        .filter(|value| !value.is_empty())
        .cloned();
    let mut host = match &host_override {
        Some(host) => host.clone(),
        None => HeaderValue::from_str(&join_host_port(&get.host, get.port))
            .map_err(|e| failed(e.into()))?,
    };
    let mut requests = 0;
    loop {
        requests += 1;
        let reply = exchange(&url, host.clone(), &get.headers)
            .await
            .map_err(failed)?;
        let location = match (&reply.location, reply.status.as_u16()) {
            (Some(location), 301 | 302 | 303 | 307 | 308) => location,
            _ => return verdict(get, &url, &reply),
        };
        let location = location.to_str().map_err(|_| {
            failed(HttpError::Location(
                String::from_utf8_lossy(location.as_bytes()).into_owned(),
            ))
        })?;
        let next = url
            .join(location)
            .map_err(|_| failed(HttpError::Location(location.to_owned())))?;
        if next.host_str().map(str::to_owned) != origin {
            // Not followed: the kubelet's `http.ErrUseLastResponse` for another host.
            return verdict(get, &url, &reply);
        }
        if requests >= MAX_REQUESTS {
            return Err(failed(HttpError::TooManyRedirects));
        }
        if !matches!(next.scheme(), "http" | "https") {
            return Err(failed(HttpError::RedirectScheme(next.scheme().to_owned())));
        }
        // A relative location keeps the `Host` given (Go's client does the same); an absolute
        // one names its own.
        let relative = Url::parse(location).is_err();
        host = match (&host_override, relative) {
            (Some(given), true) => given.clone(),
            _ => HeaderValue::from_str(&authority(&next)).map_err(|e| failed(e.into()))?,
        };
        url = next;
    }
}

/// Success for a status in 200..400 (a 3xx not followed counts, with a warning).
fn verdict(get: &HttpGet, url: &Url, reply: &Reply) -> Result<(), ProbeError> {
    let code = reply.status.as_u16();
    if (200..400).contains(&code) {
        if code >= 300 {
            let location = reply
                .location
                .as_ref()
                .map(|l| String::from_utf8_lossy(l.as_bytes()));
            tracing::warn!(url = %url, code, location = ?location, "probe terminated redirects; counted as success");
        }
        return Ok(());
    }
    tracing::debug!(
        url = %url,
        code,
        body = %String::from_utf8_lossy(&reply.body),
        "HTTP probe failed"
    );
    Err(ProbeError::Status {
        url: get.url(),
        code,
    })
}

/// `host[:port]` of `url`, the port left out when it is the scheme's default.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// One GET of `url` on a new connection.
async fn exchange(url: &Url, host: HeaderValue, given: &HeaderMap) -> Result<Reply, HttpError> {
    let target: Uri = url[Position::BeforePath..Position::AfterQuery].parse()?;
    let mut headers = given.clone();
    headers.remove(HOST);
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
    }
    match headers.get(ACCEPT) {
        None => {
            headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        Some(accept) if accept.is_empty() => {
            headers.remove(ACCEPT);
        }
        Some(_) => {}
    }
    if !headers.contains_key(CONNECTION) {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    headers.insert(HOST, host);
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.uri_mut() = target;
    *request.headers_mut() = headers;

    let port = url.port_or_known_default().unwrap_or(80);
    let (tcp, name) = match url.host() {
        Some(Host::Domain(domain)) => (
            TcpStream::connect((domain, port)).await,
            ServerName::try_from(domain.to_owned()).map_err(|source| HttpError::ServerName {
                name: domain.to_owned(),
                source,
            }),
        ),
        Some(Host::Ipv4(ip)) => (
            TcpStream::connect((ip, port)).await,
            Ok(ServerName::IpAddress(IpAddr::V4(ip).into())),
        ),
        Some(Host::Ipv6(ip)) => (
            TcpStream::connect((ip, port)).await,
            Ok(ServerName::IpAddress(IpAddr::V6(ip).into())),
        ),
        None => return Err(HttpError::Url(url::ParseError::EmptyHost)),
    };
    let tcp = tcp.map_err(HttpError::Connect)?;
    if url.scheme() == "https" {
        let connector = tokio_rustls::TlsConnector::from(tls::client_config()?);
        let stream = connector
            .connect(name?, tcp)
            .await
            .map_err(HttpError::Handshake)?;
        send(stream, request).await
    } else {
        send(tcp, request).await
    }
}

/// Sends `request` over `io` and reads the response, at most [`MAX_BODY`] bytes of its body.
/// The connection is driven alongside, in this task, and closed on return.
async fn send<IO>(io: IO, request: Request<Empty<Bytes>>) -> Result<Reply, HttpError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(io))
        .await?;
    let exchange = async move {
        let response = sender.send_request(request).await?;
        let (parts, mut body) = response.into_parts();
        let mut data = Vec::new();
        while data.len() < MAX_BODY {
            let Some(frame) = body.frame().await else {
                break;
            };
            if let Ok(chunk) = frame?.into_data() {
                let take = chunk.len().min(MAX_BODY - data.len());
                data.extend_from_slice(&chunk[..take]);
            }
        }
        Ok::<_, hyper::Error>(Reply {
            status: parts.status,
            location: parts.headers.get(LOCATION).cloned(),
            body: data,
        })
    };
    let mut connection = std::pin::pin!(connection);
    let mut exchange = std::pin::pin!(exchange);
    tokio::select! {
        reply = &mut exchange => Ok(reply?),
        Err(err) = &mut connection => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::probe::{ExecContext, Handler, probe_once};

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// A raw HTTP/1.1 server on 127.0.0.1: each connection's request head is recorded (what
    /// really reached the server, byte for byte), answered by `respond(path, port)`, closed.
    struct Server {
        port: u16,
        heads: mpsc::UnboundedReceiver<String>,
        task: JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Server {
        async fn start(
            tls: Option<TlsAcceptor>,
            respond: impl Fn(&str, u16) -> Vec<u8> + Send + Sync + 'static,
        ) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let (record, heads) = mpsc::unbounded_channel();
            let task = tokio::spawn(async move {
                loop {
                    let (socket, _) = listener.accept().await.unwrap();
                    match &tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                answer(stream, &record, &respond, port).await;
                            }
                        }
                        None => answer(socket, &record, &respond, port).await,
                    }
                }
            });
            Self { port, heads, task }
        }

        /// The request heads received so far.
        fn received(&mut self) -> Vec<String> {
            std::iter::from_fn(|| self.heads.try_recv().ok()).collect()
        }

        fn get(&self, path: &str, headers: &[(&str, &str)]) -> Handler {
            self.get_with(Scheme::Http, path, headers)
        }

        fn get_with(&self, scheme: Scheme, path: &str, headers: &[(&str, &str)]) -> Handler {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            Handler::Http(
                HttpGet::new(scheme, "127.0.0.1".to_owned(), self.port, path, &headers).unwrap(),
            )
        }
    }

    async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
        record: &mpsc::UnboundedSender<String>,
        respond: &(impl Fn(&str, u16) -> Vec<u8> + Send + Sync),
        port: u16,
    ) {
        let mut head = Vec::new();
        let mut buffer = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
        record.send(head).unwrap();
        let _ = stream.write_all(&respond(&path, port)).await;
        let _ = stream.shutdown().await;
    }

    fn response(status: u16, headers: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// `/status/<code>` answers `<code>`; `/to/<location>` redirects there with a 302.
    fn routes(path: &str, port: u16) -> Vec<u8> {
        if let Some(code) = path.strip_prefix("/status/") {
            return response(code.parse().unwrap(), "", "body");
        }
        if let Some(location) = path.strip_prefix("/to/") {
            let location = location
                .replace("%2F", "/")
                .replace("PORT", &port.to_string());
            return response(302, &format!("Location: {location}\r\n"), "");
        }
        match path {
            "/loop" => response(302, "Location: /loop\r\n", ""),
            "/permanent" => response(
                301,
                &format!("Location: http://127.0.0.1:{port}/status/200\r\n"),
                "",
            ),
            _ => response(200, "", "ok"),
        }
    }

    async fn probe(handler: &Handler) -> Result<(), ProbeError> {
        probe_once(handler, TIMEOUT, &ExecContext::default()).await
    }

    fn header_lines(head: &str, name: &str) -> Vec<String> {
        head.split("\r\n")
            .filter(|line| {
                line.split_once(':')
                    .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn a_get_carries_the_kubelets_headers_and_wants_2xx_or_3xx() {
        let mut server = Server::start(None, routes).await;
        probe(&server.get("/healthz?verbose=1", &[])).await.unwrap();
        let [head] = server.received().try_into().unwrap();
        let port = server.port;
        assert!(
            head.starts_with("GET /healthz?verbose=1 HTTP/1.1\r\n"),
            "{head}"
        );
        assert_eq!(
            header_lines(&head, "host"),
            [format!("Host: 127.0.0.1:{port}")]
        );
        assert_eq!(
            header_lines(&head, "user-agent"),
            ["User-Agent: kube-probe/0.1"]
        );
        assert_eq!(header_lines(&head, "accept"), ["Accept: */*"]);
        assert_eq!(header_lines(&head, "connection"), ["Connection: close"]);

        for code in [200, 204, 304, 399] {
            probe(&server.get(&format!("/status/{code}"), &[]))
                .await
                .unwrap_or_else(|e| panic!("{code}: {e}"));
        }
        for code in [400, 404, 500, 503] {
            let error = probe(&server.get(&format!("/status/{code}"), &[]))
                .await
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "GET http://127.0.0.1:{port}/status/{code}: HTTP probe failed with statuscode: {code}"
                )
            );
        }
    }

    #[tokio::test]
    async fn given_headers_replace_the_defaults_and_host_sets_the_request_host() {
        let mut server = Server::start(None, routes).await;
        let given = [
            ("Host", "example.test"),
            ("User-Agent", "custom/1"),
            ("Accept", ""),
            ("X-Multi", "a"),
            ("x-multi", "b"),
        ];
        probe(&server.get("/", &given)).await.unwrap();
        let [head] = server.received().try_into().unwrap();
        assert_eq!(header_lines(&head, "host"), ["Host: example.test"]);
        assert_eq!(header_lines(&head, "user-agent"), ["User-Agent: custom/1"]);
        assert!(header_lines(&head, "accept").is_empty(), "{head}");
        assert_eq!(header_lines(&head, "x-multi"), ["X-Multi: a", "X-Multi: b"]);
    }

    #[tokio::test]
    async fn redirects_are_followed_on_the_same_host_up_to_ten_requests() {
        let mut server = Server::start(None, routes).await;
        let port = server.port;
        // Relative, then absolute on the same host; the given headers go along.
        probe(&server.get("/to/%2Fpermanent", &[("X-Token", "t")]))
            .await
            .unwrap();
        let heads = server.received();
        let paths: Vec<&str> = heads.iter().map(|h| h.split(' ').nth(1).unwrap()).collect();
        assert_eq!(paths, ["/to/%2Fpermanent", "/permanent", "/status/200"]);
        assert!(
            heads.iter().all(|h| h.contains("X-Token: t\r\n")),
            "{heads:?}"
        );

        // A relative redirect keeps the Host given; an absolute one names its own.
        probe(&server.get("/to/%2Fpermanent", &[("Host", "example.test")]))
            .await
            .unwrap();
        let hosts: Vec<Vec<String>> = server
            .received()
            .iter()
            .map(|h| header_lines(h, "host"))
            .collect();
        assert_eq!(
            hosts,
            [
                vec!["Host: example.test".to_owned()],
                vec!["Host: example.test".to_owned()],
                vec![format!("Host: 127.0.0.1:{port}")],
            ]
        );

        // Where the redirects lead decides.
        let error = probe(&server.get("/to/%2Fstatus%2F500", &[]))
            .await
            .unwrap_err();
        assert!(error.to_string().ends_with("statuscode: 500"), "{error}");
        assert_eq!(server.received().len(), 2);

        let error = probe(&server.get("/loop", &[])).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("GET http://127.0.0.1:{port}/loop: stopped after 10 redirects")
        );
        assert_eq!(server.received().len(), MAX_REQUESTS);
    }

    #[tokio::test]
    async fn a_redirect_to_another_host_is_not_followed_and_counts_as_success() {
        let mut server = Server::start(None, routes).await;
        // localhost is another host name than 127.0.0.1, though the same server.
        probe(&server.get("/to/http:%2F%2Flocalhost:PORT%2Fstatus%2F500", &[]))
            .await
            .unwrap();
        probe(&server.get("/marker", &[])).await.unwrap();
        let paths: Vec<String> = server
            .received()
            .iter()
            .map(|h| h.split(' ').nth(1).unwrap().to_owned())
            .collect();
        assert_eq!(
            paths,
            ["/to/http:%2F%2Flocalhost:PORT%2Fstatus%2F500", "/marker"]
        );
    }

    #[tokio::test]
    async fn silent_and_stalling_servers_time_out_and_closed_ports_fail() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and holds every connection; the first one never gets an answer, the second
        // gets its headers and part of the body.
        let task = tokio::spawn(async move {
            let (silent, _) = listener.accept().await.unwrap();
            let (mut stalling, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = stalling.read(&mut buffer).await.unwrap();
            stalling
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                .await
                .unwrap();
            std::future::pending::<()>().await;
            drop((silent, stalling));
        });
        let get = Handler::Http(
            HttpGet::new(Scheme::Http, "127.0.0.1".to_owned(), port, "/", &[]).unwrap(),
        );
        let short = Duration::from_millis(300);
        for _ in 0..2 {
            let error = probe_once(&get, short, &ExecContext::default())
                .await
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("GET http://127.0.0.1:{port}/: timed out after 300ms")
            );
        }
        task.abort();
        let _ = task.await;
        let error = probe(&get).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("GET http://127.0.0.1:{port}/: dial tcp: ")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_endless_body_is_read_only_up_to_the_cap() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sent_tx, mut sent_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await
                .unwrap();
            let chunk = format!("{:x}\r\n{}\r\n", 4096, "x".repeat(4096));
            let mut sent = 0usize;
            // Bounded: 64 MiB at most, far beyond what socket buffers hold.
            while sent < 64 << 20 {
                if socket.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += 4096;
            }
            sent_tx.send(sent).unwrap();
        });
        let get = Handler::Http(
            HttpGet::new(Scheme::Http, "127.0.0.1".to_owned(), port, "/", &[]).unwrap(),
        );
        probe(&get).await.unwrap();
        let sent = sent_rx.recv().await.unwrap();
        assert!(
            sent < 64 << 20,
            "the probe read the whole body ({sent} bytes)"
        );
        task.await.unwrap();
    }

    fn self_signed_acceptor() -> TlsAcceptor {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let certificate = key.cert.der().clone();
        let private = rustls::pki_types::PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], private.into())
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    #[tokio::test]
    async fn https_probes_accept_a_self_signed_certificate() {
        let mut server = Server::start(Some(self_signed_acceptor()), routes).await;
        let port = server.port;
        // The certificate is for localhost, self-signed, and the probe goes to 127.0.0.1.
        probe(&server.get_with(Scheme::Https, "/healthz", &[]))
            .await
            .unwrap();
        let [head] = server.received().try_into().unwrap();
        assert!(head.starts_with("GET /healthz HTTP/1.1\r\n"), "{head}");
        let error = probe(&server.get_with(Scheme::Https, "/status/500", &[]))
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "GET https://127.0.0.1:{port}/status/500: HTTP probe failed with statuscode: 500"
            )
        );

        // HTTPS to a server that does not speak TLS fails in the handshake.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 1024];
            let _ = socket.read(&mut buffer).await.unwrap();
            let _ = socket.write_all(&response(400, "", "not TLS")).await;
        });
        let get = Handler::Http(
            HttpGet::new(Scheme::Https, "127.0.0.1".to_owned(), plain, "/", &[]).unwrap(),
        );
        let error = probe(&get).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("GET https://127.0.0.1:{plain}/: TLS handshake: ")),
            "{error}"
        );
        task.await.unwrap();
    }

    #[tokio::test]
    async fn nothing_injected_reaches_the_server() {
        let mut server = Server::start(None, routes).await;
        // A header value with CR LF: the probe is invalid, and fails without sending anything.
        let injected = [(
            "X-A".to_owned(),
            "ok\r\nX-Injected: yes\r\n\r\nGET /smuggled HTTP/1.1".to_owned(),
        )];
        let invalid = HttpGet::new(
            Scheme::Http,
            "127.0.0.1".to_owned(),
            server.port,
            "/",
            &injected,
        )
        .unwrap_err();
        assert_eq!(invalid, InvalidProbe::HeaderValue("X-A".to_owned()));
        let error = probe(&Handler::Invalid(invalid)).await.unwrap_err();
        assert!(error.to_string().contains("no CR or LF"), "{error}");
        // CR LF in the path is dropped from the URL, as a URL parser drops it.
        probe(&server.get("/a\r\nX-Injected: yes", &[]))
            .await
            .unwrap();
        let heads = server.received();
        assert_eq!(heads.len(), 1, "{heads:?}");
        assert!(
            heads[0].starts_with("GET /aX-Injected:%20yes HTTP/1.1\r\n"),
            "{heads:?}"
        );
        assert!(!heads[0].contains("\r\nX-Injected"), "{heads:?}");
    }
}
