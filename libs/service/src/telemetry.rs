//! Logging and tracing set-up, and W3C trace-context propagation over gRPC.
//!
//! [`init`] installs a `tracing` subscriber (an `EnvFilter` from `--log-level`, text or JSON
//! lines on stderr) and, when `--otlp-endpoint` is set, an OTLP/gRPC span exporter behind a
//! `tracing-opentelemetry` layer. The W3C TraceContext propagator is installed globally either
//! way, so the server builder (incoming `traceparent` headers), [`propagate_trace_context`]
//! (outgoing gRPC calls) and `everynode-bus` (NATS headers) all agree on one format.
//!
//! [`init`] may be called more than once in a process (tests do): only the first subscriber is
//! installed, later calls leave it in place.

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http::HeaderMap;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::Error;
use crate::config::{CommonArgs, LogFormat};

/// How long flushing spans may take at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps the span exporter alive; flushes and shuts it down on [`shutdown`](Self::shutdown) or
/// drop. Hold it in `main` until the service has returned.
#[must_use = "dropping the guard shuts the span exporter down"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported (an OTLP endpoint was configured).
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes buffered spans and shuts the exporter down without blocking the runtime.
    /// Prefer this at the end of `main`; dropping the guard does the same, blocking.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let flushed = tokio::task::spawn_blocking(move || shutdown_provider(&provider)).await;
            if let Err(e) = flushed {
                tracing::warn!(error = %e, "span exporter shutdown task failed");
            }
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        // The batch processor's shutdown blocks until its export finishes, and the tonic
        // exporter needs the runtime to make progress meanwhile.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| shutdown_provider(&provider));
            }
            // A current-thread runtime cannot run the export while this thread blocks: shut
            // down off-thread, best effort (use `TelemetryGuard::shutdown` there instead).
            Ok(_) => {
                std::thread::spawn(move || shutdown_provider(&provider));
            }
            Err(_) => shutdown_provider(&provider),
        }
    }
}

fn shutdown_provider(provider: &SdkTracerProvider) {
    if let Err(e) = provider.shutdown_with_timeout(FLUSH_TIMEOUT) {
        tracing::warn!(error = %e, "span exporter did not shut down cleanly");
    }
}

/// Sets up logging and, when configured, trace export for `service_name` (the OTLP
/// `service.name`, e.g. `everynode-admission`). Call it once, early in `main`, inside the tokio
/// runtime; keep the guard until the service has returned.
pub fn init(service_name: &str, args: &CommonArgs) -> Result<TelemetryGuard, Error> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let filter = EnvFilter::builder()
        .parse(with_quiet_defaults(&args.log_level))
        .map_err(|source| Error::LogFilter {
            filter: args.log_level.clone(),
            source,
        })?;

    let provider = args
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| span_provider(service_name, endpoint))
        .transpose()?;

    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match args.log_format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name.to_owned()))
    });

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();

    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    if installed {
        tracing::debug!(
            service = service_name,
            exporting = provider.is_some(),
            "telemetry initialised"
        );
    } else {
        tracing::debug!(
            service = service_name,
            "a tracing subscriber was already set; kept it"
        );
    }
    Ok(TelemetryGuard { provider })
}

/// Crates whose own debug output drowns ours, and whose spans would otherwise feed the span
/// exporter's own traffic back into itself. Kept at `warn` unless the filter names them.
const QUIET_TARGETS: [&str; 4] = ["h2", "hyper", "tower", "opentelemetry"];

/// Prefixes `filter` with `<target>=warn` for each quiet target it does not mention; a
/// target directive beats the bare level, so `debug` still means debug for everything else.
fn with_quiet_defaults(filter: &str) -> String {
    let mut directives: Vec<String> = QUIET_TARGETS
        .iter()
        .filter(|target| !filter.contains(*target))
        .map(|target| format!("{target}=warn"))
        .collect();
    if !filter.trim().is_empty() {
        directives.push(filter.to_owned());
    }
    directives.join(",")
}

fn span_provider(service_name: &str, endpoint: &str) -> Result<SdkTracerProvider, Error> {
    // The tonic exporter spawns its connection worker on the current runtime.
    tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| Error::OtlpExporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// A tonic client interceptor that writes the current span's trace context into the request
/// metadata (`traceparent`, `tracestate`), so the server's span becomes its child:
/// `DaemonSetsClient::with_interceptor(channel, propagate_trace_context)`.
pub fn propagate_trace_context(
    mut request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut MetadataInjector(request.metadata_mut()));
    });
    Ok(request)
}

/// Makes `span` a child of the trace context carried in incoming HTTP/2 headers, if any.
pub(crate) fn set_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    let parent =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    // Fails only when no OpenTelemetry layer is installed; then there is nothing to link.
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|key| key.as_str()).collect()
    }
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn init_twice_does_not_panic() {
        let args = CommonArgs::default();
        let first = init("test-service", &args).unwrap();
        let second = init("test-service", &args).unwrap();
        assert!(!first.exporting());
        assert!(!second.exporting());
    }

    #[tokio::test]
    async fn init_with_otlp_endpoint_builds_an_exporter_and_shuts_down() {
        let args = CommonArgs {
            log_format: LogFormat::Json,
            // Nothing listens here; the exporter connects lazily and export failures are
            // only logged.
            otlp_endpoint: Some("http://127.0.0.1:9".to_owned()),
            ..CommonArgs::default()
        };
        let guard = init("test-service", &args).unwrap();
        assert!(guard.exporting());
        guard.shutdown().await;
    }

    #[test]
    fn quiet_defaults_yield_to_explicit_directives() {
        assert_eq!(
            with_quiet_defaults("debug"),
            "h2=warn,hyper=warn,tower=warn,opentelemetry=warn,debug"
        );
        assert_eq!(
            with_quiet_defaults("info,h2=trace,opentelemetry_sdk=debug"),
            "hyper=warn,tower=warn,info,h2=trace,opentelemetry_sdk=debug"
        );
        assert_eq!(
            with_quiet_defaults(""),
            "h2=warn,hyper=warn,tower=warn,opentelemetry=warn"
        );
    }

    #[test]
    fn otlp_endpoint_needs_a_runtime() {
        let args = CommonArgs {
            otlp_endpoint: Some("http://127.0.0.1:9".to_owned()),
            ..CommonArgs::default()
        };
        assert!(matches!(init("test-service", &args), Err(Error::NoRuntime)));
    }

    #[test]
    fn trace_context_round_trips_through_metadata_and_headers() {
        use opentelemetry::trace::{
            SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
        };
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let span_context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let cx = opentelemetry::Context::new().with_remote_span_context(span_context);
        let mut metadata = MetadataMap::new();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut MetadataInjector(&mut metadata))
        });
        assert_eq!(
            metadata.get("traceparent").unwrap().to_str().unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        let headers = metadata.into_headers();
        let extracted = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(&headers))
        });
        assert_eq!(
            extracted.span().span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
    }
}
