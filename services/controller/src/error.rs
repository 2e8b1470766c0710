//! The controller's errors, and the one place they become `tonic::Status`.
//!
//! [`Error`] is what a reconcile can fail with (it is logged and the key retried with back-off;
//! it never reaches a client). [`ApiError`] is what the `Pods` and `Endpoints` services answer,
//! worded as the Kubernetes API server words it (`pods "x" not found`).

use tonic::Status;

use crate::agents::CommandError;
use crate::informer::TooOld;

/// Why a reconcile failed (it is retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A KV read or write failed.
    #[error(transparent)]
    Bus(#[from] everynode_bus::Error),
    /// A name cannot be a KV key.
    #[error(transparent)]
    Name(#[from] everynode_bus::NameError),
    /// A pod command could not be delivered.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// Pod commands were delivered but did not succeed.
    #[error("{failed} pod command(s) failed; first: {first}")]
    Commands {
        /// How many failed.
        failed: usize,
        /// The first failure.
        first: String,
    },
    /// The admission service refused or failed a status or finalizer update.
    #[error("admission {call} failed: {status}")]
    Admission {
        /// The RPC.
        call: &'static str,
        /// What it answered.
        #[source]
        status: Status,
    },
}

impl Error {
    /// Whether the failure says "not now" — NATS or a service unavailable or timed out — so
    /// the same reconcile may succeed as soon as it is back.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Bus(err) => err.is_transient(),
            Error::Admission { status, .. } => matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::DeadlineExceeded
            ),
            Error::Name(_) | Error::Command(_) | Error::Commands { .. } => false,
        }
    }
}

/// Why a `Pods` or `Endpoints` call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caches have not finished their first list yet.
    #[error("the controller's caches are not ready yet; retry shortly")]
    NotReady,
    /// A malformed request (bad selector, bad resourceVersion).
    #[error("{0}")]
    BadRequest(String),
    /// No such object.
    #[error("{resource} {name:?} not found")]
    NotFound {
        /// `pods` or `daemonsets.apps`.
        resource: &'static str,
        /// `namespace/name`.
        name: String,
    },
    /// A watch asked to resume from a revision that is no longer kept.
    #[error("{0}; list again and watch from the list's resourceVersion")]
    Gone(#[from] TooOld),
    /// A watch fell too far behind the changes.
    #[error("the watch fell behind by {0} changes; list again")]
    Lagged(u64),
    /// The pod's agent could not be reached.
    #[error(transparent)]
    Agent(#[from] CommandError),
    /// The pod's agent refused the command.
    #[error("the agent refused: {0}")]
    Refused(String),
}

impl From<ApiError> for Status {
    /// What the client is told. Failures inside the controller (a NATS error, an unreadable
    /// reply) are logged with their cause and answered with a plain message: their text is
    /// not the client's business.
    fn from(error: ApiError) -> Self {
        let message = error.to_string();
        match error {
            ApiError::NotReady => Status::unavailable(message),
            ApiError::BadRequest(_) => Status::invalid_argument(message),
            ApiError::NotFound { .. } => Status::not_found(message),
            ApiError::Gone(_) => Status::out_of_range(message),
            ApiError::Lagged(_) => Status::aborted(message),
            ApiError::Agent(CommandError::Timeout { .. }) => Status::deadline_exceeded(message),
            ApiError::Agent(CommandError::NoAgent { .. }) => Status::unavailable(message),
            ApiError::Agent(error @ CommandError::InvalidNode { .. }) => {
                tracing::error!(error = %error, "pod command not sent");
                Status::internal(
                    "the pod's node name cannot be addressed; see the controller's log",
                )
            }
            ApiError::Agent(CommandError::Failed { node, source }) => {
                tracing::warn!(node = %node, error = %source, "pod command failed");
                Status::unavailable(format!(
                    "the agent of node {node:?} could not be reached; retry shortly"
                ))
            }
            ApiError::Refused(_) => Status::failed_precondition(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic::Code;

    use super::*;

    #[test]
    fn api_errors_map_to_kubernetes_like_codes() {
        let cases = [
            (ApiError::NotReady, Code::Unavailable),
            (ApiError::BadRequest("x".into()), Code::InvalidArgument),
            (
                ApiError::NotFound {
                    resource: "pods",
                    name: "default/x".into(),
                },
                Code::NotFound,
            ),
            (
                ApiError::Gone(TooOld {
                    requested: 1,
                    oldest: 5,
                }),
                Code::OutOfRange,
            ),
            (ApiError::Lagged(3), Code::Aborted),
            (
                ApiError::Agent(CommandError::Timeout {
                    node: "n".into(),
                    timeout: Duration::from_secs(1),
                    attempts: 1,
                }),
                Code::DeadlineExceeded,
            ),
            (
                ApiError::Agent(CommandError::NoAgent { node: "n".into() }),
                Code::Unavailable,
            ),
            (ApiError::Refused("no".into()), Code::FailedPrecondition),
        ];
        for (error, code) in cases {
            let text = error.to_string();
            let status = Status::from(error);
            assert_eq!(status.code(), code, "{text}");
            assert_eq!(status.message(), text);
        }
    }

    #[test]
    fn internal_failures_do_not_leak_their_cause() {
        let cause = std::io::Error::other("nats: connection reset by peer at 10.0.0.7:4222");
        let status = Status::from(ApiError::Agent(CommandError::Failed {
            node: "n1".into(),
            source: std::sync::Arc::new(cause),
        }));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("\"n1\""), "{}", status.message());
        assert!(
            !status.message().contains("10.0.0.7"),
            "{}",
            status.message()
        );
        assert!(!status.message().contains("nats"), "{}", status.message());

        let bad = everynode_bus::NodeKey::new("").unwrap_err();
        let status = Status::from(ApiError::Agent(CommandError::InvalidNode {
            node: String::new(),
            source: bad,
        }));
        assert_eq!(status.code(), Code::Internal);
    }

    #[test]
    fn not_found_reads_like_the_api_server() {
        let e = ApiError::NotFound {
            resource: "pods",
            name: "default/x".into(),
        };
        assert_eq!(e.to_string(), "pods \"default/x\" not found");
    }
}
