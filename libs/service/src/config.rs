//! Command-line configuration shared by every binary, as `#[command(flatten)]`-able clap
//! structs. Each flag also reads an `EVERYNODE_<FLAG>` environment variable — through clap, in
//! the binary; nothing in the libraries reads the environment. Values are parsed and validated
//! here, at start-up, so a bad flag fails before anything binds or connects. Tests build these
//! structs directly or with `try_parse_from`.
//!
//! The per-binary `--listen` default is a type parameter: `ServerArgs<defaults::Admission>`
//! defaults to `127.0.0.1:7401`, and the same constants give clients (`enctl`, the controller)
//! their default endpoints, so the two sides cannot drift apart.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::{Args, ValueEnum};
use everynode_core::duration::{parse_duration, parse_positive_duration};
use tonic::codegen::http::Uri;

use crate::security::SecurityArgs;

/// Default listen addresses and client endpoints of the everynode services, and the marker
/// types that select a binary's `--listen` default in [`ServerArgs`].
pub mod defaults {
    use super::ListenDefault;

    /// `everynode-admission` (`everynode.v1.DaemonSets`) listens here by default.
    pub const ADMISSION_LISTEN: &str = "127.0.0.1:7401";
    /// `everynode-registry` (`everynode.v1.Nodes`) listens here by default.
    pub const REGISTRY_LISTEN: &str = "127.0.0.1:7402";
    /// `everynode-controller` (`everynode.v1.Pods`, `everynode.v1.Endpoints`) listens here by
    /// default.
    pub const CONTROLLER_LISTEN: &str = "127.0.0.1:7403";
    /// Where clients reach the admission service by default.
    pub const ADMISSION_ENDPOINT: &str = "https://127.0.0.1:7401";
    /// Where clients reach the registry by default.
    pub const REGISTRY_ENDPOINT: &str = "https://127.0.0.1:7402";
    /// Where clients reach the controller by default.
    pub const CONTROLLER_ENDPOINT: &str = "https://127.0.0.1:7403";
    /// The default NATS server.
    pub const NATS_URL: &str = "nats://127.0.0.1:4222";

    /// `--listen` defaults of `everynode-admission`.
    #[derive(Debug, Clone, Copy)]
    pub enum Admission {}
    impl ListenDefault for Admission {
        const LISTEN: &'static str = ADMISSION_LISTEN;
    }

    /// `--listen` defaults of `everynode-registry`.
    #[derive(Debug, Clone, Copy)]
    pub enum Registry {}
    impl ListenDefault for Registry {
        const LISTEN: &'static str = REGISTRY_LISTEN;
    }

    /// `--listen` defaults of `everynode-controller`.
    #[derive(Debug, Clone, Copy)]
    pub enum Controller {}
    impl ListenDefault for Controller {
        const LISTEN: &'static str = CONTROLLER_LISTEN;
    }
}

/// Selects the `--listen` default of a binary's [`ServerArgs`]. Implemented by the marker
/// types in [`defaults`]; a new binary adds its own.
pub trait ListenDefault {
    /// The default listen address, as the user would type it.
    const LISTEN: &'static str;
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags every everynode binary takes: NATS, logging, tracing export and shutdown grace.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// NATS server URL(s), comma-separated for a cluster.
    #[arg(
        long,
        env = "EVERYNODE_NATS",
        value_name = "URL",
        default_value = defaults::NATS_URL,
        value_parser = parse_nats_urls,
    )]
    pub nats: String,

    /// Log filter: a level (`info`) or `tracing` directives (`info,everynode_bus=debug`).
    #[arg(
        long,
        env = "EVERYNODE_LOG_LEVEL",
        value_name = "FILTER",
        default_value = "info",
        value_parser = parse_log_filter,
    )]
    pub log_level: String,

    /// Log line format.
    #[arg(
        long,
        env = "EVERYNODE_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
    )]
    pub log_format: LogFormat,

    /// OTLP/gRPC collector endpoint for traces (e.g. `http://127.0.0.1:4317`); unset, no
    /// traces are exported.
    #[arg(
        long,
        env = "EVERYNODE_OTLP_ENDPOINT",
        value_name = "URL",
        value_parser = parse_http_endpoint,
    )]
    pub otlp_endpoint: Option<String>,

    /// How long in-flight calls, streams and background tasks get to finish after a shutdown
    /// signal (humantime: `10s`, `1m30s`).
    #[arg(
        long,
        env = "EVERYNODE_SHUTDOWN_GRACE",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_duration,
    )]
    pub shutdown_grace: Duration,

    /// `--credentials DIR` or `--insecure`: how gRPC is secured.
    #[command(flatten)]
    pub security: SecurityArgs,
}

impl Default for CommonArgs {
    /// The same values as the flag defaults, for tests and embedding.
    fn default() -> Self {
        Self {
            nats: defaults::NATS_URL.to_owned(),
            log_level: "info".to_owned(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            security: SecurityArgs::default(),
        }
    }
}

/// The default `--shutdown-grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The default `--request-timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default `--concurrency-limit`.
pub const DEFAULT_CONCURRENCY_LIMIT: NonZeroUsize = match NonZeroUsize::new(1024) {
    Some(limit) => limit,
    None => NonZeroUsize::MIN,
};

/// Flags of a binary that serves gRPC. `D` picks the `--listen` default, e.g.
/// `ServerArgs<defaults::Admission>`.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs<D: ListenDefault> {
    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "EVERYNODE_LISTEN",
        value_name = "ADDR",
        default_value = D::LISTEN,
    )]
    pub listen: SocketAddr,

    /// Deadline for a unary call (and for a stream to start); a shorter `grpc-timeout` from
    /// the client wins.
    #[arg(
        long,
        env = "EVERYNODE_REQUEST_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_positive_duration,
    )]
    pub request_timeout: Duration,

    /// Most calls handled at once across all connections; further calls wait (within their
    /// timeout) for a slot.
    #[arg(
        long,
        env = "EVERYNODE_CONCURRENCY_LIMIT",
        value_name = "N",
        default_value = "1024"
    )]
    pub concurrency_limit: NonZeroUsize,

    #[arg(skip)]
    _default: PhantomData<fn() -> D>,
}

impl<D: ListenDefault> ServerArgs<D> {
    /// Server settings with the given listen address and default limits, for tests
    /// (`"127.0.0.1:0".parse()?`) and embedding.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            _default: PhantomData,
        }
    }
}

/// Accepts anything `tracing_subscriber::EnvFilter` accepts, so `telemetry::init` cannot fail
/// on it later.
fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| format!("not a log filter ({e}); try info or info,everynode_bus=debug"))
}

/// Accepts an absolute `http://` or `https://` URL.
fn parse_http_endpoint(value: &str) -> Result<String, String> {
    let uri: Uri = value.parse().map_err(|e| format!("not a URL ({e})"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(value.to_owned()),
        _ => Err("expected an http:// or https:// URL with a host".to_owned()),
    }
}

/// Accepts a comma-separated list of NATS server URLs (`nats://`, `tls://`, `ws://`, `wss://`)
/// or bare `host:port` addresses, as async-nats does.
fn parse_nats_urls(value: &str) -> Result<String, String> {
    for part in value.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty server address in the list".to_owned());
        }
        let uri: Uri = if part.contains("://") {
            part.parse()
        } else {
            format!("nats://{part}").parse()
        }
        .map_err(|e| format!("{part:?} is not a NATS URL ({e})"))?;
        match uri.scheme_str() {
            Some("nats" | "tls" | "ws" | "wss") if uri.host().is_some() => {}
            _ => {
                return Err(format!(
                    "{part:?} is not a NATS URL; expected nats://host:port"
                ));
            }
        }
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Admission {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        server: ServerArgs<defaults::Admission>,
    }

    #[derive(Debug, Parser)]
    struct Controller {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        server: ServerArgs<defaults::Controller>,
    }

    #[test]
    fn defaults_suit_a_single_dev_machine() {
        let config = Admission::try_parse_from(["everynode-admission"]).unwrap();
        assert_eq!(config.common.nats, "nats://127.0.0.1:4222");
        assert_eq!(config.common.log_level, "info");
        assert_eq!(config.common.log_format, LogFormat::Text);
        assert_eq!(config.common.otlp_endpoint, None);
        assert_eq!(config.common.shutdown_grace, Duration::from_secs(10));
        assert_eq!(config.server.listen, "127.0.0.1:7401".parse().unwrap());
        assert_eq!(config.server.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(config.server.concurrency_limit, DEFAULT_CONCURRENCY_LIMIT);
    }

    #[test]
    fn each_binary_has_its_own_listen_default() {
        let admission = Admission::try_parse_from(["a"]).unwrap();
        let controller = Controller::try_parse_from(["c"]).unwrap();
        assert_eq!(admission.server.listen.port(), 7401);
        assert_eq!(controller.server.listen.port(), 7403);
    }

    #[test]
    fn every_flag_parses_from_explicit_args() {
        let config = Admission::try_parse_from([
            "everynode-admission",
            "--nats",
            "nats://10.0.0.1:4222,nats://10.0.0.2:4222",
            "--log-level",
            "debug,hyper=warn",
            "--log-format",
            "json",
            "--otlp-endpoint",
            "http://127.0.0.1:4317",
            "--shutdown-grace",
            "1m30s",
            "--listen",
            "0.0.0.0:9000",
            "--request-timeout",
            "250ms",
            "--concurrency-limit",
            "8",
        ])
        .unwrap();
        assert_eq!(
            config.common.nats,
            "nats://10.0.0.1:4222,nats://10.0.0.2:4222"
        );
        assert_eq!(config.common.log_level, "debug,hyper=warn");
        assert_eq!(config.common.log_format, LogFormat::Json);
        assert_eq!(
            config.common.otlp_endpoint.as_deref(),
            Some("http://127.0.0.1:4317")
        );
        assert_eq!(config.common.shutdown_grace, Duration::from_secs(90));
        assert_eq!(config.server.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.server.request_timeout, Duration::from_millis(250));
        assert_eq!(config.server.concurrency_limit.get(), 8);
    }

    #[test]
    fn invalid_values_are_rejected_up_front() {
        let bad: &[&[&str]] = &[
            &["--listen", "localhost"],
            &["--listen", "127.0.0.1"],
            &["--request-timeout", "0s"],
            &["--request-timeout", "soon"],
            &["--shutdown-grace", "10"],
            &["--concurrency-limit", "0"],
            &["--log-format", "xml"],
            &["--log-level", "info,[{"],
            &["--otlp-endpoint", "127.0.0.1:4317"],
            &["--nats", "http://127.0.0.1:4222"],
            &["--nats", "nats://a:4222,"],
        ];
        for args in bad {
            let argv = std::iter::once("everynode-admission").chain(args.iter().copied());
            assert!(
                Admission::try_parse_from(argv).is_err(),
                "expected {args:?} to be rejected"
            );
        }
    }

    #[test]
    fn bare_nats_host_port_is_accepted() {
        let config =
            Admission::try_parse_from(["a", "--nats", "127.0.0.1:4222, tls://nats.example:4222"])
                .unwrap();
        assert_eq!(
            config.common.nats,
            "127.0.0.1:4222, tls://nats.example:4222"
        );
    }

    #[test]
    fn zero_shutdown_grace_is_allowed() {
        let config = Admission::try_parse_from(["a", "--shutdown-grace", "0s"]).unwrap();
        assert_eq!(config.common.shutdown_grace, Duration::ZERO);
    }

    #[test]
    fn default_common_args_match_the_flag_defaults() {
        let parsed = Admission::try_parse_from(["a"]).unwrap().common;
        let built = CommonArgs::default();
        assert_eq!(parsed.nats, built.nats);
        assert_eq!(parsed.log_level, built.log_level);
        assert_eq!(parsed.log_format, built.log_format);
        assert_eq!(parsed.otlp_endpoint, built.otlp_endpoint);
        assert_eq!(parsed.shutdown_grace, built.shutdown_grace);
    }
}
