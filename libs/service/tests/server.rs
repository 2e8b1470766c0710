//! Black-box tests of the shared gRPC server: health, reflection (v1 and v1alpha), the tower
//! layers (timeout, concurrency limit), graceful shutdown, and mutual TLS (who gets in, who is
//! refused, rotated certificates), over real TCP on port 0 with a real PKI.

// Test helpers too: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use everynode_service::{GrpcServer, HealthReporter, Security, ServingStatus, Shutdown};
use everynode_testkit::pki::TestPki;
use prost::Message as _;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus as Wire;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_prost::ProstCodec;

/// Generous bound for anything that should happen promptly; tests fail, not hang.
const PROMPTLY: Duration = Duration::from_secs(10);

struct Running {
    addr: SocketAddr,
    pki: TestPki,
    shutdown: Shutdown,
    health: HealthReporter,
    served: JoinHandle<Result<(), everynode_service::Error>>,
}

impl Running {
    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A connected channel as the admin.
    async fn channel(&self) -> Channel {
        self.channel_as("admin").await.unwrap()
    }

    /// A connected channel as the identity folder `name` of the server's PKI.
    async fn channel_as(&self, name: &str) -> Result<Channel, String> {
        self.pki.connect(name, &self.url()).await
    }

    /// Triggers shutdown and waits for `serve` to return.
    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(PROMPTLY, self.served)
            .await
            .expect("serve should return promptly after shutdown")
            .unwrap()
            .unwrap();
    }
}

async fn start(
    grace: Duration,
    build: impl FnOnce(GrpcServer) -> GrpcServer,
    before_serve: impl AsyncFnOnce(&HealthReporter),
) -> Running {
    let pki = TestPki::new();
    let security = Security::from_args(&pki.credentials("admission")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = build(GrpcServer::new(listener, security));
    let addr = server.local_addr().unwrap();
    let health = server.health();
    before_serve(&health).await;
    let shutdown = Shutdown::new(grace);
    let served = tokio::spawn(server.serve(shutdown.clone()));
    Running {
        addr,
        pki,
        shutdown,
        health,
        served,
    }
}

async fn start_bare() -> Running {
    start(Duration::from_secs(5), |server| server, async |_| {}).await
}

async fn check(channel: Channel, service: &str) -> Result<Wire, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// The server-side view of a status, readable after the server has stopped.
async fn reported(health: &HealthReporter, service: &str) -> Option<Wire> {
    use tonic_health::pb::health_server::Health as _;
    let probe = tonic_health::server::HealthService::from_health_reporter(health.clone());
    let request = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    probe
        .check(request)
        .await
        .ok()
        .map(|response| response.into_inner().status())
}

#[tokio::test]
async fn health_reports_serving_for_the_whole_server() {
    let server = start_bare().await;
    assert_eq!(
        check(server.channel().await, "").await.unwrap(),
        Wire::Serving
    );
    let unknown = check(server.channel().await, "everynode.v1.Nothing").await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_reports_not_serving_ends_health_watches_and_returns() {
    let server = start_bare().await;
    let mut watch = HealthClient::new(server.channel().await)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), Wire::Serving);

    server.shutdown.trigger();

    let next = tokio::time::timeout(PROMPTLY, watch.message())
        .await
        .expect("the watch should see NOT_SERVING promptly")
        .unwrap()
        .map(|m: HealthCheckResponse| m.status());
    assert_eq!(next, Some(Wire::NotServing), "watchers learn of the drain");
    let end = tokio::time::timeout(PROMPTLY, watch.message())
        .await
        .expect("the watch should end promptly");
    assert_eq!(
        end.unwrap_err().code(),
        tonic::Code::Unavailable,
        "the watch ends with UNAVAILABLE so clients retry elsewhere"
    );

    tokio::time::timeout(PROMPTLY, server.served)
        .await
        .expect("serve should return without waiting the whole grace")
        .unwrap()
        .unwrap();
    assert_eq!(reported(&server.health, "").await, Some(Wire::NotServing));
    assert!(
        tokio::net::TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed after serve returns"
    );
}

#[tokio::test]
async fn mounted_services_start_serving_unless_the_service_said_otherwise() {
    let server = start(
        Duration::from_secs(5),
        |server| {
            server
                .add_service(Slow::<0>::new())
                .add_service(Slow::<1>::new())
        },
        async |health| {
            health
                .set_service_status(Slow::<1>::NAME, ServingStatus::NotServing)
                .await;
        },
    )
    .await;
    let channel = server.channel().await;
    assert_eq!(
        check(channel.clone(), Slow::<0>::NAME).await.unwrap(),
        Wire::Serving
    );
    assert_eq!(
        check(channel.clone(), Slow::<1>::NAME).await.unwrap(),
        Wire::NotServing
    );
    server
        .health
        .set_service_status(Slow::<1>::NAME, ServingStatus::Serving)
        .await;
    assert_eq!(
        check(channel, Slow::<1>::NAME).await.unwrap(),
        Wire::Serving
    );
    let health = server.health.clone();
    server.stop().await;
    assert_eq!(
        reported(&health, Slow::<0>::NAME).await,
        Some(Wire::NotServing)
    );
    assert_eq!(
        reported(&health, Slow::<1>::NAME).await,
        Some(Wire::NotServing)
    );
}

mod reflection {
    //! Both protocol versions, with the same questions.

    use super::*;

    macro_rules! reflection_tests {
        ($version:ident) => {
            mod $version {
                use super::*;
                use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
                use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
                use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
                use tonic_reflection::pb::$version::ServerReflectionRequest;

                async fn ask(channel: Channel, request: MessageRequest) -> MessageResponse {
                    let request = ServerReflectionRequest {
                        host: String::new(),
                        message_request: Some(request),
                    };
                    let mut responses = ServerReflectionClient::new(channel)
                        .server_reflection_info(tokio_stream::iter([request]))
                        .await
                        .unwrap()
                        .into_inner();
                    responses
                        .message()
                        .await
                        .unwrap()
                        .unwrap()
                        .message_response
                        .unwrap()
                }

                async fn list(channel: Channel) -> Vec<String> {
                    match ask(channel, MessageRequest::ListServices(String::new())).await {
                        MessageResponse::ListServicesResponse(list) => {
                            list.service.into_iter().map(|s| s.name).collect()
                        }
                        other => panic!("expected a service list, got {other:?}"),
                    }
                }

                #[tokio::test]
                async fn lists_health_and_reflection_but_only_mounted_services() {
                    let server = start_bare().await;
                    let services = list(server.channel().await).await;
                    for expected in [
                        "grpc.health.v1.Health",
                        "grpc.reflection.v1.ServerReflection",
                        "grpc.reflection.v1alpha.ServerReflection",
                        "everynode.v1.Auth",
                    ] {
                        assert!(
                            services.iter().any(|s| s == expected),
                            "expected {expected} in {services:?}"
                        );
                    }
                    assert!(
                        !services
                            .iter()
                            .any(|s| s.starts_with("everynode.v1.") && s != "everynode.v1.Auth"),
                        "nothing of everynode.v1 but Auth is mounted, yet listed: {services:?}"
                    );
                    server.stop().await;
                }

                #[tokio::test]
                async fn lists_mounted_services() {
                    let server =
                        start(Duration::from_secs(5), |s| s.add_service(Slow::<0>::new()), async |_| {})
                            .await;
                    let services = list(server.channel().await).await;
                    assert!(
                        services.iter().any(|s| s == Slow::<0>::NAME),
                        "expected {} in {services:?}",
                        Slow::<0>::NAME
                    );
                    server.stop().await;
                }

                #[tokio::test]
                async fn resolves_everynode_symbols_even_when_not_mounted() {
                    let server = start_bare().await;
                    let request =
                        MessageRequest::FileContainingSymbol("everynode.v1.DaemonSets".to_owned());
                    let files = match ask(server.channel().await, request).await {
                        MessageResponse::FileDescriptorResponse(files) => files.file_descriptor_proto,
                        other => panic!("expected a file descriptor, got {other:?}"),
                    };
                    let file = prost_types::FileDescriptorProto::decode(files[0].as_slice()).unwrap();
                    assert_eq!(file.package(), "everynode.v1");
                    assert!(
                        file.service.iter().any(|s| s.name() == "DaemonSets"),
                        "{} should define DaemonSets",
                        file.name()
                    );
                    server.stop().await;
                }

                #[tokio::test]
                async fn resolves_the_health_service() {
                    let server = start_bare().await;
                    let request =
                        MessageRequest::FileContainingSymbol("grpc.health.v1.Health".to_owned());
                    match ask(server.channel().await, request).await {
                        MessageResponse::FileDescriptorResponse(files) => {
                            assert!(!files.file_descriptor_proto.is_empty())
                        }
                        other => panic!("expected a file descriptor, got {other:?}"),
                    }
                    server.stop().await;
                }
            }
        };
    }

    reflection_tests!(v1);
    reflection_tests!(v1alpha);
}

#[tokio::test]
async fn in_flight_calls_finish_within_the_grace() {
    let slow = Slow::<0>::new().delay(Duration::from_millis(300));
    let started = slow.started.clone();
    let server = start(
        Duration::from_secs(5),
        |server| server.add_service(slow),
        async |_| {},
    )
    .await;
    let call = tokio::spawn(call_slow::<0>(server.channel().await));
    started.notified().await;
    server.shutdown.trigger();
    let answered = tokio::time::timeout(PROMPTLY, call).await.unwrap().unwrap();
    assert!(answered.is_ok(), "in-flight call was cut: {answered:?}");
    tokio::time::timeout(PROMPTLY, server.served)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn serve_stops_waiting_when_the_grace_runs_out() {
    let slow = Slow::<0>::new().delay(Duration::from_secs(60));
    let started = slow.started.clone();
    let server = start(
        Duration::from_millis(200),
        |server| server.add_service(slow),
        async |_| {},
    )
    .await;
    let _call = tokio::spawn(call_slow::<0>(server.channel().await));
    started.notified().await;
    let begun = tokio::time::Instant::now();
    server.stop().await;
    assert!(
        begun.elapsed() >= Duration::from_millis(200),
        "serve returned before the grace although a call was in flight"
    );
}

#[tokio::test]
async fn request_timeout_cuts_slow_calls() {
    let server = start(
        Duration::from_secs(5),
        |server| {
            server
                .add_service(Slow::<0>::new().delay(Duration::from_secs(60)))
                .request_timeout(Duration::from_millis(100))
        },
        async |_| {},
    )
    .await;
    let status = tokio::time::timeout(PROMPTLY, call_slow::<0>(server.channel().await))
        .await
        .expect("the server should time the call out")
        .unwrap_err();
    // tonic's server-side timeout answers CANCELLED ("Timeout expired").
    assert_eq!(status.code(), tonic::Code::Cancelled, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn concurrency_limit_queues_calls_beyond_the_limit() {
    let delay = Duration::from_millis(200);
    let server = start(
        Duration::from_secs(5),
        |server| {
            server
                .add_service(Slow::<0>::new().delay(delay))
                .concurrency_limit(NonZeroUsize::MIN)
        },
        async |_| {},
    )
    .await;
    let channel = server.channel().await;
    let begun = tokio::time::Instant::now();
    let (a, b) = tokio::join!(call_slow::<0>(channel.clone()), call_slow::<0>(channel));
    a.unwrap();
    b.unwrap();
    assert!(
        begun.elapsed() >= delay * 2,
        "two calls ran at once despite a limit of one ({:?})",
        begun.elapsed()
    );
    server.stop().await;
}

/// A unary test service, `everynode.test.Slow<N>/Call`, answering `Empty` after a delay.
#[derive(Clone)]
struct Slow<const N: u8> {
    delay: Duration,
    started: Arc<Notify>,
}

impl<const N: u8> Slow<N> {
    fn new() -> Self {
        Self {
            delay: Duration::ZERO,
            started: Arc::new(Notify::new()),
        }
    }

    fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl<const N: u8> NamedService for Slow<N> {
    const NAME: &'static str = match N {
        0 => "everynode.test.Slow0",
        _ => "everynode.test.Slow1",
    };
}

impl<const N: u8> tower::Service<http::Request<Body>> for Slow<N> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let handler = tower::service_fn(move |_: tonic::Request<()>| {
                let this = this.clone();
                async move {
                    this.started.notify_one();
                    tokio::time::sleep(this.delay).await;
                    Ok::<_, tonic::Status>(tonic::Response::new(()))
                }
            });
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<(), ()>::default());
            Ok(grpc.unary(handler, request).await)
        })
    }
}

async fn call_slow<const N: u8>(channel: Channel) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = format!("/{}/Call", Slow::<N>::NAME);
    let path = http::uri::PathAndQuery::try_from(path).unwrap();
    grpc.unary(
        tonic::Request::new(()),
        path,
        ProstCodec::<(), ()>::default(),
    )
    .await
    .map(|response| response.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS: who gets in, who is refused.

mod tls {
    use everynode_auth::pki::{IdentitySpec, Validity};
    use everynode_auth::{ClientTls, Connector, Identity};
    use tonic::transport::Endpoint;

    use super::*;

    /// A channel to `url` that verifies the server with `ca` but presents no certificate.
    async fn anonymous(url: &str, ca: &std::path::Path) -> Channel {
        let pem = std::fs::read(ca).unwrap();
        let config = everynode_auth::tls::anonymous_client(&pem, ca).unwrap();
        Endpoint::from_shared(url.to_string())
            .unwrap()
            .connect_with_connector(Connector::new(ClientTls::Anonymous(config)))
            .await
            .unwrap()
    }

    async fn whoami(channel: Channel) -> Result<(String, Vec<String>), tonic::Status> {
        let response = everynode_api::v1::auth_client::AuthClient::new(channel)
            .who_am_i(everynode_api::v1::AuthWhoAmIRequest {})
            .await?
            .into_inner();
        Ok((response.user, response.groups))
    }

    #[tokio::test]
    async fn without_a_certificate_only_health_answers() {
        let server = start(
            Duration::from_secs(5),
            |s| s.add_service(Slow::<0>::new()),
            async |_| {},
        )
        .await;
        let channel = anonymous(&server.url(), &server.pki.folder("admin").join("ca.crt")).await;
        assert_eq!(check(channel.clone(), "").await.unwrap(), Wire::Serving);
        let refused = call_slow::<0>(channel.clone()).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
        assert!(
            refused.message().contains("everynode.test.Slow0/Call"),
            "{refused:?}"
        );
        let refused = whoami(channel).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        server.stop().await;
    }

    #[tokio::test]
    async fn the_server_sees_the_identity_of_the_certificate() {
        let server = start_bare().await;
        let seen = whoami(server.channel().await).await.unwrap();
        assert_eq!(
            seen,
            ("admin".to_string(), vec!["everynode:admins".to_string()])
        );
        let node = server.pki.node("node-a");
        assert!(node.ends_with("node-node-a"));
        let seen = whoami(server.channel_as("node-node-a").await.unwrap())
            .await
            .unwrap();
        assert_eq!(
            seen,
            (
                "system:node:node-a".to_string(),
                vec!["system:nodes".to_string()]
            )
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn a_denied_call_names_the_identity_and_the_rpc() {
        let server = start(
            Duration::from_secs(5),
            |s| s.add_service(Slow::<0>::new()),
            async |_| {},
        )
        .await;
        let denied = call_slow::<0>(server.channel_as("viewer").await.unwrap())
            .await
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            denied.message(),
            "user \"viewer\" (groups: everynode:viewers) may not call everynode.test.Slow0/Call"
        );
        call_slow::<0>(server.channel().await).await.unwrap();
        server.stop().await;
    }

    #[tokio::test]
    async fn a_certificate_of_another_ca_fails_the_handshake() {
        let server = start_bare().await;
        let stranger = TestPki::new();
        let error = stranger.connect("admin", &server.url()).await.unwrap_err();
        assert!(!error.is_empty());
        // And a client that trusts another CA does not trust the server either.
        let error = stranger.connect("viewer", &server.url()).await.unwrap_err();
        assert!(!error.is_empty());
        server.stop().await;
    }

    #[tokio::test]
    async fn an_expired_certificate_fails_the_handshake() {
        let server = start_bare().await;
        let past = time::OffsetDateTime::now_utc() - time::Duration::days(30);
        server.pki.add_valid(
            "expired-admin",
            &IdentitySpec {
                identity: Identity::new("admin", &["everynode:admins"]),
                usage: everynode_auth::pki::Usage::Client,
                sans: Vec::new(),
            },
            Validity {
                not_before: past - time::Duration::days(1),
                not_after: past,
            },
        );
        let result = match server.channel_as("expired-admin").await {
            Err(error) => Err(error),
            // TLS 1.3 clients finish before the server checks their certificate: the first
            // call fails instead.
            Ok(channel) => whoami(channel).await.map_err(|s| s.to_string()),
        };
        assert!(
            result.is_err(),
            "an expired certificate was accepted: {result:?}"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn rotated_credentials_apply_to_new_connections_after_sighup() {
        let server = start_bare().await;
        assert_eq!(whoami(server.channel().await).await.unwrap().0, "admin");
        // The deployment moves to a new CA: the server's folder gets the new files.
        let next = TestPki::new();
        for file in ["ca.crt", "tls.crt", "tls.key"] {
            std::fs::copy(
                next.folder("admission").join(file),
                server.pki.folder("admission").join(file),
            )
            .unwrap();
        }
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
        let url = server.url();
        let seen = everynode_testkit::eventually(
            "the server takes the new CA's clients",
            PROMPTLY,
            || async {
                let channel = next.connect("viewer", &url).await?;
                whoami(channel).await.map_err(|e| e.to_string())
            },
        )
        .await;
        assert_eq!(seen.0, "viewer");
        let old = match server.channel_as("admin").await {
            Err(error) => Err(error),
            Ok(channel) => whoami(channel).await.map_err(|s| s.to_string()),
        };
        assert!(
            old.is_err(),
            "a client of the old CA still gets in: {old:?}"
        );
        server.stop().await;
    }
}
