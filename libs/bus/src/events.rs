//! Events: protobuf messages published to the `EVERYNODE_EVENTS` stream with the W3C trace
//! context of the publishing span in NATS headers (`traceparent`, `tracestate`), and the way
//! back: decoding a received event and the parent context it carries.
//!
//! The W3C propagator is used directly rather than the global one, so the header format is
//! part of this crate's contract whatever the process's telemetry set-up is. A span with no
//! OpenTelemetry context (telemetry off) simply adds no headers.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use everynode_core::retry::Backoff;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use prost::Message;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error::Error;
use crate::names::EventSubject;

/// The W3C trace context header carrying the parent span.
pub const TRACEPARENT: &str = "traceparent";

/// How [`publish_event_retrying`] retries: 3 attempts, 50 ms doubling, with jitter.
pub const PUBLISH_RETRY: Backoff =
    Backoff::new(Duration::from_millis(50), Duration::from_secs(1)).attempts(3);

/// [`publish_event`], retried under [`PUBLISH_RETRY`]; returns the last error when every attempt
/// failed. Events follow a KV write that already happened, so a caller logs that error and goes
/// on: watchers of the bucket still see the change, and events are only hints.
pub async fn publish_event_retrying<M: Message>(
    js: &jetstream::Context,
    subject: &EventSubject,
    event: &M,
) -> Result<u64, Error> {
    let mut retries = PUBLISH_RETRY.start();
    loop {
        match publish_event(js, subject, event).await {
            Ok(sequence) => return Ok(sequence),
            Err(e) => match retries.next_delay() {
                Some(pause) => {
                    tracing::warn!(error = %e, subject = %subject, "publishing an event failed; retrying");
                    tokio::time::sleep(pause).await;
                }
                None => return Err(e),
            },
        }
    }
}

/// Publishes `event` on `subject` with the current span's trace context, and waits for the
/// stream to acknowledge it; returns the event's stream sequence.
pub async fn publish_event<M: Message>(
    js: &jetstream::Context,
    subject: &EventSubject,
    event: &M,
) -> Result<u64, Error> {
    let cx = tracing::Span::current().context();
    publish_event_with_context(js, subject, event, &cx).await
}

/// [`publish_event`] with an explicit trace context.
pub async fn publish_event_with_context<M: Message>(
    js: &jetstream::Context,
    subject: &EventSubject,
    event: &M,
    cx: &opentelemetry::Context,
) -> Result<u64, Error> {
    let mut headers = HeaderMap::new();
    inject_context(cx, &mut headers);
    let subject = subject.render();
    let context = || format!("publishing event on {subject}");
    let ack = js
        .publish_with_headers(subject.clone(), headers, Bytes::from(event.encode_to_vec()))
        .await
        .map_err(|err| Error::nats(context(), err))?
        .await
        .map_err(|err| Error::nats(context(), err))?;
    Ok(ack.sequence)
}

/// Writes the trace context of `cx` into `headers` (nothing if `cx` has no valid span).
pub fn inject_context(cx: &opentelemetry::Context, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

/// The trace context carried by `headers` (an empty context if there is none): use it as the
/// parent of the span handling the message, e.g. `span.set_parent(extract_context(headers))`.
pub fn extract_context(headers: Option<&HeaderMap>) -> opentelemetry::Context {
    match headers {
        Some(headers) => TraceContextPropagator::new().extract(&HeaderExtractor(headers)),
        None => opentelemetry::Context::new(),
    }
}

/// An event as received: where it was published, the decoded message, and its trace parent.
#[derive(Debug)]
pub struct ReceivedEvent<M> {
    /// The parsed subject (which object the event is about).
    pub subject: EventSubject,
    /// The decoded event.
    pub event: M,
    /// The publisher's trace context.
    pub parent: opentelemetry::Context,
}

/// Decodes an event message received from the stream (or a subscription).
pub fn decode_event<M: Message + Default>(
    message: &async_nats::Message,
) -> Result<ReceivedEvent<M>, Error> {
    let subject = EventSubject::parse(message.subject.as_str())?;
    let event = M::decode(message.payload.as_ref()).map_err(|source| Error::Decode {
        what: format!("event on {}", message.subject),
        source,
    })?;
    Ok(ReceivedEvent {
        subject,
        event,
        parent: extract_context(message.headers.as_ref()),
    })
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // async-nats panics on invalid names when given a &str; parse instead and skip.
        if let (Ok(name), Ok(value)) = (key.parse::<HeaderName>(), value.parse::<HeaderValue>()) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let name = key.parse::<HeaderName>().ok()?;
        self.0.get(name).map(HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };

    fn remote_context() -> opentelemetry::Context {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(span)
    }

    #[test]
    fn trace_context_round_trips_through_nats_headers() {
        let mut headers = HeaderMap::new();
        inject_context(&remote_context(), &mut headers);
        assert_eq!(
            headers.get(TRACEPARENT).map(HeaderValue::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        let extracted = extract_context(Some(&headers));
        let span = extracted.span();
        assert_eq!(
            span.span_context().trace_id(),
            remote_context().span().span_context().trace_id()
        );
        assert!(span.span_context().is_remote());
    }

    #[test]
    fn no_span_means_no_headers_and_no_parent() {
        let mut headers = HeaderMap::new();
        inject_context(&opentelemetry::Context::new(), &mut headers);
        assert!(headers.is_empty());
        assert!(
            !extract_context(Some(&headers))
                .span()
                .span_context()
                .is_valid()
        );
        assert!(!extract_context(None).span().span_context().is_valid());
    }
}
