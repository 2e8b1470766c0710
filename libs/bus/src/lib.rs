//! everynode's use of NATS and JetStream, in one place.
//!
//! - [`names`]: every stream, subject, bucket and key format, with the reversible escaping of
//!   names into subject tokens. No other crate spells a subject.
//! - [`connect()`]: a client with the project's reconnect policy.
//! - [`Bus::ensure`]: creates the events stream and the KV buckets, idempotently.
//! - [`Store`]: typed KV access (protobuf values, compare-and-set, list-then-watch).
//! - [`publish_event`] / [`decode_event`]: events with W3C trace context in NATS headers.
//! - [`Error`]: one error type whose [`ErrorKind`] callers branch on.

mod connect;
mod error;
mod events;
mod kv;
pub mod names;
mod setup;

pub use connect::{
    DEFAULT_INITIAL_WAIT, JETSTREAM_REQUEST_TIMEOUT, NatsAuth, connect, connect_auth, connect_full,
    connect_with, jetstream,
};
pub use error::{BoxError, Error, ErrorKind};
pub use events::{
    PUBLISH_RETRY, ReceivedEvent, TRACEPARENT, decode_event, extract_context, inject_context,
    publish_event, publish_event_retrying, publish_event_with_context,
};
pub use kv::{Change, Changes, Entry, Listing, Store, Undecodable, Versioned, undecodable_seen};
pub use names::{
    Bucket, DaemonSetKey, EventSubject, Key, KeyFilter, LeaseKey, NameError, NodeKey, PodKey,
    RevisionKey, TokenKey,
};
pub use setup::{
    Bus, EVENTS_MAX_AGE, EVENTS_MAX_MESSAGES, MAX_VALUE_SIZE, TOKENS_MAX_AGE, bucket_config,
    events_stream_config,
};

/// Re-exported so services name the client types through the bus.
pub use async_nats;

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: every bus future can be spawned on a multi-threaded runtime.
    #[allow(dead_code)]
    fn bus_futures_are_send(
        js: async_nats::jetstream::Context,
        store: Store<NodeKey, ()>,
        key: NodeKey,
        subject: EventSubject,
    ) {
        fn send<T: Send>(_: T) {}
        send(connect("nats://127.0.0.1:4222", "x"));
        send(Bus::ensure(&js, 1));
        send(Store::<NodeKey, ()>::open(&js));
        send(store.get(&key));
        send(store.get_required(&key));
        send(store.create(&key, &()));
        send(store.update(&key, &(), 1));
        send(store.put(&key, &()));
        send(store.delete(&key, Some(1)));
        send(store.list());
        send(store.list_filtered(&KeyFilter::all()));
        send(store.watch(&KeyFilter::all(), 1));
        send(publish_event(&js, &subject, &()));
    }
}
