//! The bus's one error type, and the mapping of async-nats's many error kinds onto it.
//!
//! Callers branch on [`Error::kind`]: `NotFound`, `AlreadyExists` and `Conflict` are answers about
//! the data (a gRPC layer maps them to NOT_FOUND, ALREADY_EXISTS, ABORTED); `Unavailable` (no
//! responders, no connection, JetStream down) and `Timeout` are worth retrying; `Decode` means a
//! stored value is not the expected message; `InvalidName` is a caller bug.

use std::error::Error as StdError;

use async_nats::jetstream;

use crate::names::{Bucket, NameError};

/// A boxed source error.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is, for matching and mapping to status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The key does not exist (or was deleted).
    NotFound,
    /// The key exists already.
    AlreadyExists,
    /// A compare-and-set lost: the key's revision is not the expected one.
    Conflict,
    /// NATS or JetStream cannot be reached (no connection, no responders, JetStream down).
    Unavailable,
    /// NATS did not answer in time.
    Timeout,
    /// A stored value or message could not be decoded.
    Decode,
    /// A name, key or subject does not have the required form.
    InvalidName,
    /// Anything else.
    Other,
}

/// A bus operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key does not exist (or was deleted).
    #[error("{bucket} key {key:?} not found")]
    NotFound {
        /// The bucket.
        bucket: Bucket,
        /// The KV key.
        key: String,
    },
    /// The key exists already.
    #[error("{bucket} key {key:?} already exists")]
    AlreadyExists {
        /// The bucket.
        bucket: Bucket,
        /// The KV key.
        key: String,
    },
    /// A compare-and-set lost.
    #[error(
        "{bucket} key {key:?} was modified: expected revision {expected}, it is at {}",
        actual.map_or_else(|| "another revision".to_owned(), |a| format!("revision {a}"))
    )]
    Conflict {
        /// The bucket.
        bucket: Bucket,
        /// The KV key.
        key: String,
        /// The revision the caller based its write on (0: "must not exist").
        expected: u64,
        /// The key's current revision, when the server said.
        actual: Option<u64>,
    },
    /// NATS or JetStream cannot be reached.
    #[error("NATS unavailable while {context}: {source}")]
    Unavailable {
        /// What the bus was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// NATS did not answer in time.
    #[error("timed out while {context}: {source}")]
    Timeout {
        /// What the bus was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A stored value or message is not the expected protobuf message.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// What was being decoded (bucket and key, or subject).
        what: String,
        /// The protobuf error.
        #[source]
        source: prost::DecodeError,
    },
    /// A name, key or subject does not have the required form.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// Anything else.
    #[error("{context}: {source}")]
    Other {
        /// What the bus was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::InvalidName(_) => ErrorKind::InvalidName,
            Error::Other { .. } => ErrorKind::Other,
        }
    }

    /// Whether the same request may succeed later without any change (unavailable, timed out).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable | ErrorKind::Timeout)
    }

    /// Wraps an async-nats (or I/O) error, classified as unavailable, timeout or other by
    /// looking through its chain of sources.
    pub fn nats<E>(context: impl Into<String>, err: E) -> Self
    where
        E: StdError + Send + Sync + 'static,
    {
        let context = context.into();
        let class = classify(&err);
        let source: BoxError = Box::new(err);
        match class {
            Class::Unavailable => Error::Unavailable { context, source },
            Class::Timeout => Error::Timeout { context, source },
            Class::Other => Error::Other { context, source },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unavailable,
    Timeout,
    Other,
}

/// The first decisive classification along the source chain of `err`.
fn classify(err: &(dyn StdError + 'static)) -> Class {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(class) = classify_one(err) {
            return class;
        }
        current = err.source();
    }
    Class::Other
}

fn from_jetstream_api(err: &jetstream::Error) -> Option<Class> {
    use jetstream::ErrorCode;
    let unavailable = [
        ErrorCode::CLUSTER_NOT_AVAILABLE,
        ErrorCode::CLUSTER_NOT_ACTIVE,
        ErrorCode::CLUSTER_NOT_LEADER,
        ErrorCode::CLUSTER_NO_PEERS,
        ErrorCode::JETSTREAM_NOT_ENABLED,
        ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT,
    ];
    (err.code() == 503 || unavailable.contains(&err.error_code())).then_some(Class::Unavailable)
}

fn classify_one(err: &(dyn StdError + 'static)) -> Option<Class> {
    use async_nats::jetstream::context::{
        AccountError, AccountErrorKind, CreateKeyValueError, CreateKeyValueErrorKind,
        CreateStreamError, CreateStreamErrorKind, PublishError, PublishErrorKind,
        RequestError as JsRequestError, RequestErrorKind as JsRequestErrorKind,
    };
    use async_nats::jetstream::kv::{
        EntryError, EntryErrorKind, UpdateError, UpdateErrorKind, WatchError, WatchErrorKind,
    };
    use async_nats::jetstream::stream::{ConsumerError, ConsumerErrorKind};
    use async_nats::{ConnectError, ConnectErrorKind, RequestError, RequestErrorKind};

    if let Some(err) = err.downcast_ref::<PublishError>() {
        return match err.kind() {
            PublishErrorKind::TimedOut => Some(Class::Timeout),
            // No responders on a stream subject: the stream (or JetStream) is not there.
            PublishErrorKind::StreamNotFound | PublishErrorKind::BrokenPipe => {
                Some(Class::Unavailable)
            }
            _ => None,
        };
    }
    if let Some(err) = err.downcast_ref::<JsRequestError>() {
        return match err.kind() {
            JsRequestErrorKind::NoResponders => Some(Class::Unavailable),
            JsRequestErrorKind::TimedOut => Some(Class::Timeout),
            _ => None,
        };
    }
    if let Some(err) = err.downcast_ref::<RequestError>() {
        return match err.kind() {
            RequestErrorKind::NoResponders => Some(Class::Unavailable),
            RequestErrorKind::TimedOut => Some(Class::Timeout),
            _ => None,
        };
    }
    if let Some(err) = err.downcast_ref::<ConnectError>() {
        return match err.kind() {
            ConnectErrorKind::TimedOut => Some(Class::Timeout),
            ConnectErrorKind::Io | ConnectErrorKind::Dns | ConnectErrorKind::MaxReconnects => {
                Some(Class::Unavailable)
            }
            _ => Some(Class::Other),
        };
    }
    if let Some(err) = err.downcast_ref::<async_nats::PublishError>() {
        return match err.kind() {
            async_nats::PublishErrorKind::Send => Some(Class::Unavailable),
            _ => None,
        };
    }
    if let Some(err) = err.downcast_ref::<EntryError>() {
        return (err.kind() == EntryErrorKind::TimedOut).then_some(Class::Timeout);
    }
    if let Some(err) = err.downcast_ref::<UpdateError>() {
        return (err.kind() == UpdateErrorKind::TimedOut).then_some(Class::Timeout);
    }
    if let Some(err) = err.downcast_ref::<WatchError>() {
        return (err.kind() == WatchErrorKind::TimedOut).then_some(Class::Timeout);
    }
    if let Some(err) = err.downcast_ref::<CreateKeyValueError>() {
        return (err.kind() == CreateKeyValueErrorKind::TimedOut).then_some(Class::Timeout);
    }
    if let Some(err) = err.downcast_ref::<CreateStreamError>() {
        return match err.kind() {
            CreateStreamErrorKind::TimedOut => Some(Class::Timeout),
            CreateStreamErrorKind::JetStreamUnavailable => Some(Class::Unavailable),
            CreateStreamErrorKind::JetStream(api) => from_jetstream_api(&api),
            _ => None,
        };
    }
    if let Some(err) = err.downcast_ref::<ConsumerError>() {
        return match err.kind() {
            ConsumerErrorKind::TimedOut => Some(Class::Timeout),
            ConsumerErrorKind::JetStream(api) => from_jetstream_api(&api),
            _ => None,
        };
    }
    if let Some(err) = err.downcast_ref::<AccountError>() {
        return match err.kind() {
            AccountErrorKind::TimedOut => Some(Class::Timeout),
            AccountErrorKind::JetStreamUnavailable => Some(Class::Unavailable),
            AccountErrorKind::JetStream(api) => from_jetstream_api(&api),
            AccountErrorKind::Other => None,
        };
    }
    if let Some(err) = err.downcast_ref::<jetstream::Error>() {
        return from_jetstream_api(err);
    }
    if err.is::<tokio::time::error::Elapsed>() {
        return Some(Class::Timeout);
    }
    if err.is::<std::io::Error>() {
        return Some(Class::Unavailable);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};
    use async_nats::jetstream::kv::{CreateError, CreateErrorKind, UpdateError, UpdateErrorKind};

    #[test]
    fn publish_failures_are_classified() {
        let timed_out = Error::nats("x", PublishError::new(PublishErrorKind::TimedOut));
        assert_eq!(timed_out.kind(), ErrorKind::Timeout);
        let no_stream = Error::nats("x", PublishError::new(PublishErrorKind::StreamNotFound));
        assert_eq!(no_stream.kind(), ErrorKind::Unavailable);
        assert!(no_stream.is_transient());
    }

    #[test]
    fn the_source_chain_is_searched() {
        // kv::create wraps the update error that wraps nothing but a timeout kind.
        let inner = UpdateError::new(UpdateErrorKind::TimedOut);
        let outer = CreateError::with_source(CreateErrorKind::Publish, inner);
        assert_eq!(Error::nats("creating", outer).kind(), ErrorKind::Timeout);
    }

    #[test]
    fn unknown_errors_are_other() {
        let err = Error::nats("x", std::fmt::Error);
        assert_eq!(err.kind(), ErrorKind::Other);
        assert!(!err.is_transient());
        assert!(err.to_string().starts_with("x: "), "{err}");
    }
}
