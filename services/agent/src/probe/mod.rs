//! Container probes as the kubelet runs them (`pkg/kubelet/prober`).
//!
//! - [`ProbeSpec`]: a probe with Kubernetes' defaults applied (timeout 1 s, period 10 s,
//!   success threshold 1, failure threshold 3) and its target resolved (named ports looked up
//!   in the container's ports, the host defaulting to the pod IP, `httpGet` headers
//!   validated); a probe that cannot run is [`Handler::Invalid`] and fails every attempt;
//! - [`Tally`]: the pure threshold logic — a probe's reported result flips only after
//!   `successThreshold` consecutive successes or `failureThreshold` consecutive failures;
//! - [`probe_once`]: one attempt, bounded by `timeoutSeconds`: `exec` runs the command (no
//!   shell) with the container's environment and working directory in its own process group
//!   (killed on timeout); `tcpSocket` connects; `httpGet` is [`http`]'s GET over HTTP/1.1 or
//!   HTTPS and wants a 2xx/3xx status; `grpc` calls `grpc.health.v1.Health/Check` and wants
//!   SERVING. A failed attempt is a [`ProbeError`], worded for a pod status.
//!
//! Scheduling (initial delay, period) is the caller's: the process runtime runs the first
//! attempt `initialDelaySeconds` after the container started, then one per `periodSeconds`.

mod http;
mod tls;

use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use everynode_core::model::{Container, IntOrString, Probe};
use tokio::net::TcpStream;

pub use self::http::{HttpError, HttpGet, Scheme};
use crate::process_group::signal_group;

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// Run a command; exit code 0 is success.
    Exec(Vec<String>),
    /// Connect to `host:port`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// GET a URL; a 2xx or 3xx status is success.
    Http(HttpGet),
    /// gRPC health check of `service` on `host:port`.
    Grpc {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Service name in the request.
        service: String,
    },
    /// A probe that cannot run here; every attempt fails with this reason.
    Invalid(InvalidProbe),
}

/// Why a probe cannot run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidProbe {
    /// `exec` without a command.
    #[error("exec probe without a command")]
    NoCommand,
    /// No port given.
    #[error("the probe has no port")]
    NoPort,
    /// A port name the container does not declare.
    #[error("no container port named {0:?}")]
    UnknownPortName(String),
    /// A port out of 1..=65535.
    #[error("invalid probe port {0}")]
    Port(i32),
    /// A gRPC port out of 1..=65535.
    #[error("invalid gRPC probe port {0}")]
    GrpcPort(i32),
    /// An `httpGet` scheme other than HTTP or HTTPS.
    #[error("unsupported httpGet scheme {0:?}: use HTTP or HTTPS")]
    Scheme(String),
    /// An `httpHeaders` name that is not an HTTP header name.
    #[error("httpGet header name {0:?} is not a valid HTTP header name")]
    HeaderName(String),
    /// An `httpHeaders` value with bytes HTTP does not allow (CR, LF, other controls).
    #[error(
        "the value of httpGet header {0:?} may hold only visible ASCII characters, spaces and tabs (no CR or LF)"
    )]
    HeaderValue(String),
    /// None of exec, tcpSocket, httpGet, grpc.
    #[error("the probe has no handler")]
    NoHandler,
}

/// Why one probe attempt failed. The text is what a pod status may show: the target and the
/// cause, never internal state.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The probe cannot run.
    #[error(transparent)]
    Invalid(InvalidProbe),
    /// The attempt did not finish within `timeoutSeconds`.
    #[error("{what}: timed out after {}", humantime::format_duration(*after))]
    Timeout {
        /// What was attempted (`dial tcp host:port`, `GET url`, …).
        what: String,
        /// The probe's timeout.
        after: Duration,
    },
    /// The `exec` command could not be started.
    #[error("exec {program:?}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Waiting for the `exec` command failed.
    #[error("waiting for {program:?}: {source}")]
    Wait {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The `exec` command exited unsuccessfully.
    #[error("command {program:?} exited with {status}")]
    Exit {
        /// The program.
        program: String,
        /// How it exited.
        status: ExitStatus,
    },
    /// The TCP connection could not be opened.
    #[error("dial tcp {target}: {source}")]
    Dial {
        /// `host:port`.
        target: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The HTTP exchange failed.
    #[error("GET {url}: {source}")]
    Http {
        /// The probed URL.
        url: String,
        /// Why.
        #[source]
        source: HttpError,
    },
    /// The HTTP status is not in 200..400.
    #[error("GET {url}: HTTP probe failed with statuscode: {code}")]
    Status {
        /// The probed URL.
        url: String,
        /// The status code.
        code: u16,
    },
    /// The gRPC channel could not be opened.
    #[error("gRPC connect to {target}: {source}")]
    GrpcConnect {
        /// `host:port`.
        target: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The health check call failed.
    #[error("gRPC health check of {target}: {}", source.message())]
    GrpcCall {
        /// `host:port`.
        target: String,
        /// The call's status.
        #[source]
        source: tonic::Status,
    },
    /// The service answered, but not SERVING.
    #[error("service {service:?} of {target} is not serving")]
    NotServing {
        /// The service name asked for.
        service: String,
        /// `host:port`.
        target: String,
    },
}

/// `host:port`, with an IPv6 address in brackets (Go's `net.JoinHostPort`).
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A probe with defaults applied and its target resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// What to check.
    pub handler: Handler,
    /// Delay after the container started before the first attempt.
    pub initial_delay: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
    /// Time between attempts.
    pub period: Duration,
    /// Consecutive successes that count as success.
    pub success_threshold: u32,
    /// Consecutive failures that count as failure.
    pub failure_threshold: u32,
    /// Grace of the kill after a failed liveness or startup probe, overriding the pod's.
    pub termination_grace_period_seconds: Option<i64>,
}

fn seconds_or(value: i32, default: u64) -> Duration {
    Duration::from_secs(
        u64::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .unwrap_or(default),
    )
}

fn count_or(value: i32, default: u32) -> u32 {
    u32::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

impl ProbeSpec {
    /// The probe `probe` of `container`, with `pod_ip` as the default host.
    pub fn new(probe: &Probe, container: &Container, pod_ip: &str) -> Self {
        Self {
            handler: handler(probe, container, pod_ip).unwrap_or_else(Handler::Invalid),
            initial_delay: Duration::from_secs(
                u64::try_from(probe.initial_delay_seconds).unwrap_or(0),
            ),
            timeout: seconds_or(probe.timeout_seconds, 1),
            period: seconds_or(probe.period_seconds, 10),
            success_threshold: count_or(probe.success_threshold, 1),
            failure_threshold: count_or(probe.failure_threshold, 3),
            termination_grace_period_seconds: probe.termination_grace_period_seconds,
        }
    }
}

fn host_or(host: &str, pod_ip: &str) -> String {
    if host.is_empty() {
        pod_ip.to_owned()
    } else {
        host.to_owned()
    }
}

fn handler(probe: &Probe, container: &Container, pod_ip: &str) -> Result<Handler, InvalidProbe> {
    if let Some(exec) = &probe.exec {
        if exec.command.is_empty() {
            return Err(InvalidProbe::NoCommand);
        }
        return Ok(Handler::Exec(exec.command.clone()));
    }
    if let Some(tcp) = &probe.tcp_socket {
        return Ok(Handler::Tcp {
            host: host_or(&tcp.host, pod_ip),
            port: resolve_port(tcp.port.as_ref(), container)?,
        });
    }
    if let Some(get) = &probe.http_get {
        let scheme = Scheme::parse(&get.scheme)?;
        let port = resolve_port(get.port.as_ref(), container)?;
        let headers = http_headers(&get.extra_fields);
        return HttpGet::new(
            scheme,
            host_or(&get.host, pod_ip),
            port,
            &get.path,
            &headers,
        )
        .map(Handler::Http);
    }
    if let Some(grpc) = &probe.grpc {
        let port = u16::try_from(grpc.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or(InvalidProbe::GrpcPort(grpc.port))?;
        return Ok(Handler::Grpc {
            host: pod_ip.to_owned(),
            port,
            service: grpc.service.clone().unwrap_or_default(),
        });
    }
    Err(InvalidProbe::NoHandler)
}

/// `httpHeaders: [{name, value}]`, kept in the action's extra fields.
fn http_headers(extra: &everynode_core::model::Extra) -> Vec<(String, String)> {
    let Some(serde_json::Value::Array(headers)) = extra.get("httpHeaders") else {
        return Vec::new();
    };
    headers
        .iter()
        .filter_map(|h| {
            Some((
                h.get("name")?.as_str()?.to_owned(),
                h.get("value")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// A probe's port: a number, or the name of one of the container's ports.
pub fn resolve_port(
    port: Option<&IntOrString>,
    container: &Container,
) -> Result<u16, InvalidProbe> {
    let number = match port {
        Some(IntOrString::Int(number)) => *number,
        Some(IntOrString::Str(name)) => match name.parse::<i32>() {
            Ok(number) => number,
            Err(_) => container
                .ports
                .iter()
                .find(|p| p.name == *name)
                .map(|p| p.container_port)
                .ok_or_else(|| InvalidProbe::UnknownPortName(name.clone()))?,
        },
        None => return Err(InvalidProbe::NoPort),
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or(InvalidProbe::Port(number))
}

/// The kubelet's threshold logic for one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The reported result.
    result: bool,
    /// The last attempt's result.
    last: bool,
    /// How many attempts in a row had `last`.
    run: u32,
}

impl Tally {
    /// A tally reporting `initial` until the thresholds say otherwise (readiness and startup
    /// start failed, liveness starts successful).
    pub fn new(initial: bool) -> Self {
        Self {
            result: initial,
            last: initial,
            run: 0,
        }
    }

    /// The reported result.
    pub fn result(&self) -> bool {
        self.result
    }

    /// Records one attempt; returns whether the reported result changed.
    pub fn observe(&mut self, success: bool, spec: &ProbeSpec) -> bool {
        if success == self.last {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = success;
            self.run = 1;
        }
        let threshold = if success {
            spec.success_threshold
        } else {
            spec.failure_threshold
        };
        if self.run < threshold || self.result == success {
            return false;
        }
        self.result = success;
        true
    }
}

/// Where an `exec` probe runs: the container's environment and working directory.
#[derive(Debug, Clone, Default)]
pub struct ExecContext {
    /// The full environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// The container's cgroups and credentials, which the command runs with too.
    pub confinement: crate::confine::Confinement,
}

/// Runs one attempt of `handler` within `timeout`.
pub async fn probe_once(
    handler: &Handler,
    timeout: Duration,
    exec: &ExecContext,
) -> Result<(), ProbeError> {
    match handler {
        Handler::Exec(command) => exec_probe(command, timeout, exec).await,
        Handler::Tcp { host, port } => {
            let target = join_host_port(host, *port);
            let connect = async {
                TcpStream::connect((host.as_str(), *port))
                    .await
                    .map(drop)
                    .map_err(|source| ProbeError::Dial {
                        target: target.clone(),
                        source,
                    })
            };
            within(timeout, || format!("dial tcp {target}"), connect).await
        }
        Handler::Http(get) => {
            within(timeout, || format!("GET {}", get.url()), http::probe(get)).await
        }
        Handler::Grpc {
            host,
            port,
            service,
        } => {
            let target = join_host_port(host, *port);
            within(
                timeout,
                || format!("gRPC health check of {target}"),
                grpc_probe(&target, service),
            )
            .await
        }
        Handler::Invalid(reason) => Err(ProbeError::Invalid(reason.clone())),
    }
}

/// `attempt`, failed with a timeout naming `what` when it takes longer than `timeout`.
async fn within(
    timeout: Duration,
    what: impl FnOnce() -> String,
    attempt: impl Future<Output = Result<(), ProbeError>>,
) -> Result<(), ProbeError> {
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ProbeError::Timeout {
                what: what(),
                after: timeout,
            })
        })
}

async fn exec_probe(
    command: &[String],
    timeout: Duration,
    context: &ExecContext,
) -> Result<(), ProbeError> {
    let Some((program, args)) = command.split_first() else {
        return Err(ProbeError::Invalid(InvalidProbe::NoCommand));
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(context.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = context
        .confinement
        .apply(&mut command, &context.cwd)
        .and_then(|()| command.spawn())
        .map_err(|source| ProbeError::Spawn {
            program: program.clone(),
            source,
        })?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(ProbeError::Exit {
            program: program.clone(),
            status,
        }),
        Ok(Err(source)) => Err(ProbeError::Wait {
            program: program.clone(),
            source,
        }),
        Err(_) => {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Err(ProbeError::Timeout {
                what: format!("command {program:?}"),
                after: timeout,
            })
        }
    }
}

async fn grpc_probe(target: &str, service: &str) -> Result<(), ProbeError> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let connect_error = |source| ProbeError::GrpcConnect {
        target: target.to_owned(),
        source,
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{target}"))
        .map_err(connect_error)?
        .connect()
        .await
        .map_err(connect_error)?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|source| ProbeError::GrpcCall {
            target: target.to_owned(),
            source,
        })?;
    if response.into_inner().status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(ProbeError::NotServing {
            service: service.to_owned(),
            target: target.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{ContainerPort, ExecAction, TcpSocketAction};

    use super::*;

    fn container() -> Container {
        Container {
            name: "c".to_owned(),
            ports: vec![ContainerPort {
                name: "http".to_owned(),
                container_port: 8080,
                ..ContainerPort::default()
            }],
            ..Container::default()
        }
    }

    fn tcp(port: IntOrString) -> Probe {
        Probe {
            tcp_socket: Some(TcpSocketAction {
                port: Some(port),
                ..TcpSocketAction::default()
            }),
            ..Probe::default()
        }
    }

    #[test]
    fn defaults_are_kubernetes_defaults() {
        let probe = Probe {
            exec: Some(ExecAction {
                command: vec!["true".to_owned()],
                ..ExecAction::default()
            }),
            ..Probe::default()
        };
        let spec = ProbeSpec::new(&probe, &container(), "10.0.0.1");
        assert_eq!(spec.initial_delay, Duration::ZERO);
        assert_eq!(spec.timeout, Duration::from_secs(1));
        assert_eq!(spec.period, Duration::from_secs(10));
        assert_eq!((spec.success_threshold, spec.failure_threshold), (1, 3));
        assert_eq!(spec.handler, Handler::Exec(vec!["true".to_owned()]));
    }

    #[test]
    fn named_ports_resolve_through_the_container_ports() {
        let spec = ProbeSpec::new(&tcp("http".into()), &container(), "10.0.0.1");
        assert_eq!(
            spec.handler,
            Handler::Tcp {
                host: "10.0.0.1".to_owned(),
                port: 8080
            }
        );
        let spec = ProbeSpec::new(&tcp(9090.into()), &container(), "10.0.0.1");
        assert!(matches!(spec.handler, Handler::Tcp { port: 9090, .. }));
        let spec = ProbeSpec::new(&tcp("metrics".into()), &container(), "10.0.0.1");
        assert_eq!(
            spec.handler,
            Handler::Invalid(InvalidProbe::UnknownPortName("metrics".to_owned()))
        );
    }

    #[test]
    fn results_flip_only_after_the_thresholds() {
        let spec = ProbeSpec {
            success_threshold: 2,
            failure_threshold: 3,
            ..ProbeSpec::new(&tcp(1.into()), &container(), "h")
        };
        let mut readiness = Tally::new(false);
        assert!(!readiness.observe(true, &spec), "one success is not enough");
        assert!(readiness.observe(true, &spec), "two successes flip it");
        assert!(readiness.result());
        assert!(!readiness.observe(false, &spec));
        assert!(!readiness.observe(false, &spec));
        assert!(
            !readiness.observe(true, &spec),
            "a success resets the failures"
        );
        assert!(!readiness.observe(false, &spec));
        assert!(!readiness.observe(false, &spec));
        assert!(
            readiness.observe(false, &spec),
            "three failures in a row flip it"
        );
        assert!(!readiness.result());
    }

    #[tokio::test]
    async fn exec_probes_succeed_on_exit_zero_and_time_out() {
        let context = ExecContext {
            env: vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())],
            cwd: std::env::temp_dir(),
            ..ExecContext::default()
        };
        let run = |argv: &[&str]| Handler::Exec(argv.iter().map(|s| (*s).to_owned()).collect());
        assert!(
            probe_once(&run(&["true"]), Duration::from_secs(5), &context)
                .await
                .is_ok()
        );
        assert!(
            probe_once(&run(&["false"]), Duration::from_secs(5), &context)
                .await
                .is_err()
        );
        let slow = probe_once(&run(&["sleep", "5"]), Duration::from_millis(100), &context).await;
        let slow = slow.unwrap_err().to_string();
        assert!(slow.contains("timed out after 100ms"), "{slow}");
    }

    #[tokio::test]
    async fn tcp_probes_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let context = ExecContext::default();
        let open = Handler::Tcp {
            host: "127.0.0.1".to_owned(),
            port,
        };
        let timeout = Duration::from_secs(5);
        probe_once(&open, timeout, &context).await.unwrap();
        drop(listener);
        let closed = probe_once(&open, timeout, &context).await.unwrap_err();
        assert!(
            closed
                .to_string()
                .starts_with(&format!("dial tcp 127.0.0.1:{port}: ")),
            "{closed}"
        );
    }

    #[test]
    fn http_probes_take_scheme_host_path_and_headers_from_the_spec() {
        let probe = |scheme: &str, headers: serde_json::Value| Probe {
            http_get: Some(everynode_core::model::HttpGetAction {
                port: Some("http".into()),
                scheme: scheme.to_owned(),
                extra_fields: [("httpHeaders".to_owned(), headers)].into(),
                ..Default::default()
            }),
            ..Probe::default()
        };
        let spec = ProbeSpec::new(
            &probe("HTTPS", serde_json::json!([])),
            &container(),
            "10.0.0.1",
        );
        let Handler::Http(get) = &spec.handler else {
            panic!("{:?}", spec.handler)
        };
        assert_eq!(get.scheme(), Scheme::Https);
        assert_eq!(get.url(), "https://10.0.0.1:8080/");
        let spec = ProbeSpec::new(&probe("", serde_json::json!([])), &container(), "fd00::1");
        let Handler::Http(get) = &spec.handler else {
            panic!("{:?}", spec.handler)
        };
        assert_eq!(get.url(), "http://[fd00::1]:8080/");
        let spec = ProbeSpec::new(&probe("FTP", serde_json::json!([])), &container(), "h");
        assert_eq!(
            spec.handler,
            Handler::Invalid(InvalidProbe::Scheme("FTP".to_owned()))
        );
        let injected = serde_json::json!([{"name": "X-A", "value": "ok\r\nX-Injected: yes"}]);
        let spec = ProbeSpec::new(&probe("HTTP", injected), &container(), "h");
        assert_eq!(
            spec.handler,
            Handler::Invalid(InvalidProbe::HeaderValue("X-A".to_owned()))
        );
        let bad_name = serde_json::json!([{"name": "X-A\r\nX-Injected", "value": "yes"}]);
        let spec = ProbeSpec::new(&probe("HTTP", bad_name), &container(), "h");
        assert_eq!(
            spec.handler,
            Handler::Invalid(InvalidProbe::HeaderName("X-A\r\nX-Injected".to_owned()))
        );
    }

    #[tokio::test]
    async fn an_invalid_probe_fails_every_attempt_with_its_reason() {
        let invalid = Handler::Invalid(InvalidProbe::HeaderValue("X-A".to_owned()));
        let error = probe_once(&invalid, Duration::from_secs(1), &ExecContext::default())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the value of httpGet header \"X-A\" may hold only visible ASCII characters, spaces and tabs (no CR or LF)"
        );
    }
}
