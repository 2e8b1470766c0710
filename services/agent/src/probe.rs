//! Container probes as the kubelet runs them (`pkg/kubelet/prober`).
//!
//! - [`ProbeSpec`]: a probe with Kubernetes' defaults applied (timeout 1 s, period 10 s,
//!   success threshold 1, failure threshold 3) and its target resolved (named ports looked up
//!   in the container's ports, the host defaulting to the pod IP);
//! - [`Tally`]: the pure threshold logic — a probe's reported result flips only after
//!   `successThreshold` consecutive successes or `failureThreshold` consecutive failures;
//! - [`probe_once`]: one attempt, bounded by `timeoutSeconds`: `exec` runs the command (no
//!   shell) with the container's environment and working directory in its own process group
//!   (killed on timeout); `tcpSocket` connects; `httpGet` sends a plain HTTP/1.1 GET and wants
//!   a 2xx/3xx status (HTTPS is not supported and fails); `grpc` calls
//!   `grpc.health.v1.Health/Check` and wants SERVING.
//!
//! Scheduling (initial delay, period) is the caller's: the process runtime runs the first
//! attempt `initialDelaySeconds` after the container started, then one per `periodSeconds`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use everynode_core::model::{Container, IntOrString, Probe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// GET `path` from `host:port`; a 2xx or 3xx status is success.
    Http {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Request path (with query).
        path: String,
        /// Extra request headers.
        headers: Vec<(String, String)>,
    },
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
    Invalid(String),
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
            handler: handler(probe, container, pod_ip),
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

fn handler(probe: &Probe, container: &Container, pod_ip: &str) -> Handler {
    if let Some(exec) = &probe.exec {
        return if exec.command.is_empty() {
            Handler::Invalid("exec probe without a command".to_owned())
        } else {
            Handler::Exec(exec.command.clone())
        };
    }
    if let Some(tcp) = &probe.tcp_socket {
        return match resolve_port(tcp.port.as_ref(), container) {
            Ok(port) => Handler::Tcp {
                host: host_or(&tcp.host, pod_ip),
                port,
            },
            Err(reason) => Handler::Invalid(reason),
        };
    }
    if let Some(http) = &probe.http_get {
        if http.scheme.eq_ignore_ascii_case("HTTPS") {
            return Handler::Invalid("HTTPS probes are not supported by everynode".to_owned());
        }
        return match resolve_port(http.port.as_ref(), container) {
            Ok(port) => Handler::Http {
                host: host_or(&http.host, pod_ip),
                port,
                path: if http.path.is_empty() {
                    "/".to_owned()
                } else {
                    http.path.clone()
                },
                headers: http_headers(&http.extra_fields),
            },
            Err(reason) => Handler::Invalid(reason),
        };
    }
    if let Some(grpc) = &probe.grpc {
        return match u16::try_from(grpc.port).ok().filter(|p| *p > 0) {
            Some(port) => Handler::Grpc {
                host: pod_ip.to_owned(),
                port,
                service: grpc.service.clone().unwrap_or_default(),
            },
            None => Handler::Invalid(format!("invalid gRPC probe port {}", grpc.port)),
        };
    }
    Handler::Invalid("the probe has no handler".to_owned())
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
pub fn resolve_port(port: Option<&IntOrString>, container: &Container) -> Result<u16, String> {
    let number = match port {
        Some(IntOrString::Int(number)) => *number,
        Some(IntOrString::Str(name)) => match name.parse::<i32>() {
            Ok(number) => number,
            Err(_) => container
                .ports
                .iter()
                .find(|p| p.name == *name)
                .map(|p| p.container_port)
                .ok_or_else(|| format!("no container port named {name:?}"))?,
        },
        None => return Err("the probe has no port".to_owned()),
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid probe port {number}"))
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
}

/// Runs one attempt of `handler`; `Ok` on success, `Err(why)` on failure.
pub async fn probe_once(
    handler: &Handler,
    timeout: Duration,
    exec: &ExecContext,
) -> Result<(), String> {
    match handler {
        Handler::Exec(command) => exec_probe(command, timeout, exec).await,
        Handler::Tcp { host, port } => {
            tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), *port)))
                .await
                .map_err(|_| format!("dial tcp {host}:{port}: timeout"))?
                .map(drop)
                .map_err(|e| format!("dial tcp {host}:{port}: {e}"))
        }
        Handler::Http {
            host,
            port,
            path,
            headers,
        } => tokio::time::timeout(timeout, http_probe(host, *port, path, headers))
            .await
            .map_err(|_| format!("GET http://{host}:{port}{path}: timeout"))?,
        Handler::Grpc {
            host,
            port,
            service,
        } => tokio::time::timeout(timeout, grpc_probe(host, *port, service))
            .await
            .map_err(|_| format!("gRPC health check of {host}:{port}: timeout"))?,
        Handler::Invalid(reason) => Err(reason.clone()),
    }
}

async fn exec_probe(
    command: &[String],
    timeout: Duration,
    context: &ExecContext,
) -> Result<(), String> {
    let Some((program, args)) = command.split_first() else {
        return Err("exec probe without a command".to_owned());
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(context.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&context.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("exec {program:?}: {e}"))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("command {program:?} exited with {status}")),
        Ok(Err(e)) => Err(format!("waiting for {program:?}: {e}")),
        Err(_) => {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                crate::runtime::process::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Err(format!("command {program:?} timed out after {timeout:?}"))
        }
    }
}

async fn http_probe(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<(), String> {
    let url = format!("http://{host}:{port}{path}");
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let authority = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: kube-probe/everynode\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() && !head[..read].contains(&b'\n') {
        let n = stream
            .read(&mut head[read..])
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&head[..read]);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("GET {url}: not an HTTP response"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!(
            "GET {url}: HTTP probe failed with statuscode: {code}"
        ))
    }
}

async fn grpc_probe(host: &str, port: u16, service: &str) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let authority = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|e| e.to_string())?;
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("gRPC connect to {authority}: {e}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|e| format!("gRPC health check of {authority}: {}", e.message()))?;
    if response.into_inner().status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(format!("service {service:?} of {authority} is not serving"))
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
        assert!(matches!(spec.handler, Handler::Invalid(reason) if reason.contains("metrics")));
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
        assert!(slow.unwrap_err().contains("timed out"));
    }

    #[tokio::test]
    async fn tcp_and_http_probes_reach_a_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await.unwrap();
                let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                socket.write_all(response.as_bytes()).await.unwrap();
            }
        });
        let context = ExecContext::default();
        let http = Handler::Http {
            host: "127.0.0.1".to_owned(),
            port,
            path: "/healthz".to_owned(),
            headers: vec![],
        };
        let timeout = Duration::from_secs(5);
        assert_eq!(probe_once(&http, timeout, &context).await, Ok(()));
        let failed = probe_once(&http, timeout, &context).await.unwrap_err();
        assert!(failed.contains("503"), "{failed}");
        server.await.unwrap();
        let closed = Handler::Tcp {
            host: "127.0.0.1".to_owned(),
            port,
        };
        assert!(probe_once(&closed, timeout, &context).await.is_err());
    }
}
