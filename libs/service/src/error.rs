//! The one error type of this crate. Each variant names the start-up or serving step that
//! failed; binaries wrap it in `anyhow` in `main`, libraries match on it.

use std::time::Duration;

/// What can go wrong while setting up telemetry, installing signal handlers, building the gRPC
/// server or waiting for a graceful shutdown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--log-level` value is not a valid `tracing_subscriber::EnvFilter` directive.
    #[error("invalid log filter {filter:?}: {source}")]
    LogFilter {
        /// The rejected filter.
        filter: String,
        /// Why it was rejected.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// An OTLP endpoint was given but `telemetry::init` was called outside a tokio runtime
    /// (the tonic exporter needs one).
    #[error("the OTLP exporter must be created inside a tokio runtime")]
    NoRuntime,
    /// The OTLP span exporter could not be built.
    #[error("building the OTLP span exporter for {endpoint}: {source}")]
    OtlpExporter {
        /// The configured endpoint.
        endpoint: String,
        /// Why it failed.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// A SIGINT/SIGTERM handler could not be installed.
    #[error("installing the shutdown signal handlers: {0}")]
    Signal(#[source] std::io::Error),
    /// The reflection service could not be built from the file descriptor sets.
    #[error("building the gRPC reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server failed while serving.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// Tracked tasks were still running when the shutdown grace ran out.
    #[error("{remaining} tracked task(s) still running after the {grace:?} shutdown grace")]
    GraceExceeded {
        /// How many tasks had not finished.
        remaining: usize,
        /// The grace they were given.
        grace: Duration,
    },
}
