//! The gRPC server builder every service uses, so each one gets the same extras and the same
//! drain behaviour:
//!
//! - server reflection, both `grpc.reflection.v1` and `v1alpha` (grpcurl 1.8 speaks only
//!   v1alpha), over `everynode_api::FILE_DESCRIPTOR_SET` plus the health protocol. `ListServices`
//!   names what is actually mounted; every `everynode.v1` symbol can still be resolved;
//! - `grpc.health.v1.Health`, with the [`HealthReporter`] handed to the service. Mounted
//!   services whose status the service did not set before `serve` start SERVING, as does the
//!   overall status `""`;
//! - security ([`Security`]): with credentials, connections are mutual TLS 1.3 and every call
//!   passes the authentication layer ([`everynode_auth::AuthLayer`]); `everynode.v1.Auth`
//!   (`WhoAmI`) is mounted on every server;
//! - the tower layers, defined once: a per-call span (with the caller's W3C trace context as
//!   parent), a completion log line, authentication and authorization, a global concurrency
//!   limit and tonic's request timeout (which also honours a shorter `grpc-timeout` from the
//!   client);
//! - graceful shutdown: on the [`Shutdown`] signal, every mounted service and `""` report
//!   NOT_SERVING, the listener is closed, open health watches end (service streams end through
//!   [`Shutdown::guard_stream`]), and in-flight calls get until the shared grace deadline.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use everynode_api::limits::{Bounded, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use everynode_api::v1::auth_server::{Auth, AuthServer};
use everynode_api::v1::{AuthWhoAmIRequest, AuthWhoAmIResponse};
use everynode_auth::Caller;
use tokio::net::TcpListener;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{Layer, Service, ServiceBuilder};

use crate::config::{
    DEFAULT_CONCURRENCY_LIMIT, DEFAULT_REQUEST_TIMEOUT, ListenDefault, ServerArgs,
};
use crate::security::Security;
use crate::shutdown::{Shutdown, UntilShutdown};
use crate::{Error, telemetry};

/// The message size limits of `everynode_api::limits` on a server generated outside this
/// workspace (health, reflection), which `Bounded` cannot be implemented for here.
macro_rules! bounded {
    ($server:expr) => {
        $server
            .max_decoding_message_size(MAX_REQUEST_BYTES)
            .max_encoding_message_size(MAX_RESPONSE_BYTES)
    };
}

/// Pings idle connections so a dead peer of a long watch is noticed.
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// A gRPC server on a bound listener: `GrpcServer::new(listener).add_service(svc).serve(shutdown)`.
pub struct GrpcServer {
    listener: TcpListener,
    security: Security,
    routes: RoutesBuilder,
    services: Vec<&'static str>,
    health: HealthReporter,
    request_timeout: Duration,
    concurrency_limit: NonZeroUsize,
}

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcServer")
            .field("listener", &self.listener)
            .field("security", &self.security)
            .field("services", &self.services)
            .field("request_timeout", &self.request_timeout)
            .field("concurrency_limit", &self.concurrency_limit)
            .finish_non_exhaustive()
    }
}

impl GrpcServer {
    /// A server on `listener`, secured as `security` says, with no services of its own yet and
    /// the default limits. Bind the listener first (tests bind `127.0.0.1:0` and read
    /// [`local_addr`](Self::local_addr)).
    pub fn new(listener: TcpListener, security: Security) -> Self {
        Self {
            listener,
            security,
            routes: RoutesBuilder::default(),
            services: Vec::new(),
            health: HealthReporter::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
        }
    }

    /// Takes the request timeout and concurrency limit from the binary's flags.
    pub fn with_args<D: ListenDefault>(self, args: &ServerArgs<D>) -> Self {
        self.request_timeout(args.request_timeout)
            .concurrency_limit(args.concurrency_limit)
    }

    /// Deadline for a unary call or for a stream to start.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Most calls in progress at once, across all connections.
    pub fn concurrency_limit(mut self, limit: NonZeroUsize) -> Self {
        self.concurrency_limit = limit;
        self
    }

    /// Mounts a generated tonic server (`DaemonSetsServer::new(svc).bounded()`, with the
    /// message size limits of `everynode_api::limits`; possibly wrapped in an
    /// `InterceptedService`). It is listed by reflection and reported by health.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.services.push(S::NAME);
        self
    }

    /// The health reporter: set `S` (or `""`, the whole server) SERVING or NOT_SERVING, e.g.
    /// NOT_SERVING until the service's caches are ready. Statuses set before
    /// [`serve`](Self::serve) are kept.
    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is triggered, then drains (see the module docs) and returns.
    /// Returns early, after triggering `shutdown` for the rest of the process, if the server
    /// fails.
    pub async fn serve(self, shutdown: Shutdown) -> Result<(), Error> {
        let Self {
            listener,
            security,
            mut routes,
            mut services,
            health,
            request_timeout,
            concurrency_limit,
        } = self;
        let addr = listener.local_addr().ok();

        let streams_end = CancellationToken::new();
        let health_server = HealthServer::new(DrainingHealth {
            inner: HealthService::from_health_reporter(health.clone()),
            streams_end: streams_end.clone(),
        });
        let health_server = bounded!(health_server);
        let health_name = name_of(&health_server);
        let auth_server = AuthServer::new(AuthApi).bounded();
        services.push(name_of(&auth_server));
        routes.add_service(auth_server);
        for name in &services {
            serve_unless_set(&health, name).await;
        }

        let reflection_v1 = bounded!(reflection_builder(&services, health_name).build_v1()?);
        let reflection_v1alpha =
            bounded!(reflection_builder(&services, health_name).build_v1alpha()?);
        routes
            .add_service(health_server)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        let layers = ServiceBuilder::new()
            .layer(RpcLogLayer)
            .layer(security.layer())
            .layer(GlobalConcurrencyLimitLayer::new(concurrency_limit.get()))
            .into_inner();
        let router = tonic::transport::Server::builder()
            .timeout(request_timeout)
            .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
            .trace_fn(request_span)
            .layer(layers)
            .add_routes(routes.routes());

        security.watch(&shutdown);
        let drain = {
            let shutdown = shutdown.clone();
            let health = health.clone();
            let services = services.clone();
            async move {
                shutdown.signal().await;
                health
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
                for name in &services {
                    health
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
                // After NOT_SERVING is set, so health watchers see it before their stream ends.
                streams_end.cancel();
                tracing::info!("gRPC server draining");
            }
        };

        tracing::info!(
            ?addr,
            ?services,
            tls = matches!(security, Security::Tls(_)),
            "gRPC server listening"
        );
        let served = async move {
            match &security {
                Security::Tls(tls) => {
                    let incoming = everynode_auth::net::incoming(listener, Arc::clone(tls));
                    router.serve_with_incoming_shutdown(incoming, drain).await
                }
                Security::Insecure => {
                    let incoming = TcpListenerStream::new(listener).map(|conn| {
                        conn.inspect(|stream| {
                            // Small gRPC frames should not wait for Nagle.
                            let _ = stream.set_nodelay(true);
                        })
                    });
                    router.serve_with_incoming_shutdown(incoming, drain).await
                }
            }
        };
        tokio::select! {
            result = served => {
                if let Err(e) = result {
                    shutdown.trigger();
                    return Err(e.into());
                }
                tracing::info!("gRPC server stopped");
            }
            () = shutdown.grace_elapsed() => {
                tracing::warn!(
                    grace = ?shutdown.grace(),
                    "gRPC calls still in flight after the shutdown grace; stopped waiting"
                );
            }
        }
        Ok(())
    }
}

/// `everynode.v1.Auth`: tells a caller how the server sees it.
#[derive(Debug, Clone, Copy)]
struct AuthApi;

#[tonic::async_trait]
impl Auth for AuthApi {
    async fn who_am_i(
        &self,
        request: tonic::Request<AuthWhoAmIRequest>,
    ) -> Result<tonic::Response<AuthWhoAmIResponse>, tonic::Status> {
        let response = match everynode_auth::caller(&request) {
            Some(Caller::Known(identity)) => AuthWhoAmIResponse {
                user: identity.user.clone(),
                groups: identity.groups.clone(),
                insecure: false,
            },
            Some(Caller::Insecure) => AuthWhoAmIResponse {
                user: "system:anonymous".to_string(),
                groups: vec!["system:unauthenticated".to_string()],
                insecure: true,
            },
            Some(Caller::Anonymous) | None => {
                return Err(tonic::Status::unauthenticated("no client certificate"));
            }
        };
        Ok(tonic::Response::new(response))
    }
}

/// Sets `name` SERVING unless the service already reported a status for it.
async fn serve_unless_set(health: &HealthReporter, name: &str) {
    let probe = HealthService::from_health_reporter(health.clone());
    let request = tonic::Request::new(HealthCheckRequest {
        service: name.to_owned(),
    });
    if probe.check(request).await.is_err() {
        health
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
}

/// Reflection over the everynode contract and the health protocol, listing what is mounted.
fn reflection_builder(
    services: &[&'static str],
    health: &'static str,
) -> tonic_reflection::server::Builder<'static> {
    use tonic_reflection::pb::{v1, v1alpha};
    let builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(everynode_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // Each version registers its own descriptors; add both so either endpoint can
        // describe both reflection services it lists.
        .register_encoded_file_descriptor_set(v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(v1alpha::FILE_DESCRIPTOR_SET)
        .with_service_name(health)
        .with_service_name(REFLECTION_V1)
        .with_service_name(REFLECTION_V1ALPHA);
    services
        .iter()
        .fold(builder, |builder, name| builder.with_service_name(*name))
}

const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

fn name_of<S: NamedService>(_: &S) -> &'static str {
    S::NAME
}

/// tonic-health's service, except that `Watch` streams end once the server drains (after the
/// final NOT_SERVING is sent) instead of holding the connection open for the whole grace.
struct DrainingHealth {
    inner: HealthService,
    streams_end: CancellationToken,
}

#[tonic::async_trait]
impl Health for DrainingHealth {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        self.inner.check(request).await
    }

    type WatchStream = UntilShutdown<tonic_health::server::WatchStream>;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        let response = self.inner.watch(request).await?;
        let streams_end = self.streams_end.clone();
        Ok(response.map(|stream| UntilShutdown::new(stream, streams_end)))
    }
}

/// The span of one call: `rpc.service` / `rpc.method` from the path, the caller's trace
/// context as parent. Health probes get a debug-level span so they stay out of exported traces
/// at the default level.
fn request_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = if service == HEALTH_SERVICE {
        tracing::debug_span!(
            "grpc",
            otel.name = path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
        )
    } else {
        tracing::info_span!(
            "grpc",
            otel.name = path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
        )
    };
    telemetry::set_remote_parent(&span, request.headers());
    span
}

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Logs each call's outcome inside its span: the gRPC code when the server answered with an
/// error (a trailers-only response carries it in the headers), and the latency up to the
/// response headers.
#[derive(Debug, Clone, Copy)]
struct RpcLogLayer;

impl<S> Layer<S> for RpcLogLayer {
    type Service = RpcLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcLog { inner }
    }
}

#[derive(Debug, Clone)]
struct RpcLog<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RpcLog<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display + 'static,
    ResBody: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = CallLog {
            start: Instant::now(),
            span: tracing::Span::none(),
            done: false,
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut call = call;
            // tonic enters the call's span while polling, not in `call` nor when dropping.
            call.span = tracing::Span::current();
            let response = response.await;
            call.done = true;
            let elapsed = call.start.elapsed();
            match &response {
                Ok(response) => log_response(response.headers(), elapsed),
                Err(e) => tracing::warn!(error = %e, ?elapsed, "gRPC call failed"),
            }
            response
        })
    }
}

/// Notices calls dropped before they answered (the client went away, or the request timeout
/// cut them off).
struct CallLog {
    start: Instant,
    span: tracing::Span,
    done: bool,
}

impl Drop for CallLog {
    fn drop(&mut self) {
        if !self.done {
            let _span = self.span.enter();
            tracing::info!(
                elapsed = ?self.start.elapsed(),
                "gRPC call abandoned before it answered (cancelled or timed out)"
            );
        }
    }
}

fn log_response(headers: &http::HeaderMap, elapsed: Duration) {
    let code = headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map(tonic::Code::from_i32);
    let message = headers
        .get("grpc-message")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    match code {
        // The status follows in the trailers: the call succeeded or a stream started.
        None | Some(tonic::Code::Ok) => tracing::debug!(?elapsed, "gRPC call answered"),
        Some(
            code @ (tonic::Code::Unknown
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
            | tonic::Code::DeadlineExceeded),
        ) => tracing::warn!(?code, message, ?elapsed, "gRPC call failed"),
        Some(code) => tracing::info!(?code, message, ?elapsed, "gRPC call rejected"),
    }
}
