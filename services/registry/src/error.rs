//! The registry's errors and the one place they become `tonic::Status`.
//!
//! Messages follow the Kubernetes API server (`nodes "x" not found`, `Node "x" is invalid: …`,
//! `Operation cannot be fulfilled on nodes "x": …`) and `kubectl` (`'zone' already has a value
//! (a), and --overwrite is false`). Validation errors also travel as `google.rpc.BadRequest`
//! field violations, overwrite refusals as `google.rpc.PreconditionFailure` violations, so
//! clients can point at each field.
//!
//! | error | code |
//! |---|---|
//! | invalid name, labels, taints, selector, resourceVersion | `INVALID_ARGUMENT` + `BadRequest` |
//! | a label or taint would be replaced without `overwrite` | `FAILED_PRECONDITION` + `PreconditionFailure` |
//! | unknown node | `NOT_FOUND` |
//! | the node is held by another live agent (other boot id) | `ALREADY_EXISTS` |
//! | bootstrap token unknown, malformed, wrong or expired (one message for all) | `UNAUTHENTICATED` |
//! | bootstrap token already used for the node name | `PERMISSION_DENIED` |
//! | bootstrap joins off (no `--ca-key`) | `FAILED_PRECONDITION` |
//! | stale resourceVersion, or too many concurrent writers (on a node or a token) | `ABORTED` |
//! | NATS / JetStream unreachable or timing out | `UNAVAILABLE` |
//! | anything else | `INTERNAL` |
//!
//! `UNAVAILABLE` and `INTERNAL` keep their cause as a `#[source]`; the status says only what the
//! caller can do, and the cause's whole chain goes to the log
//! ([`everynode_service::status::unavailable`]), never NATS' own words to the client.

use everynode_bus::ErrorKind;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, PreconditionViolation, StatusExt};

use crate::node::OverwriteConflict;
use crate::validation::FieldError;

/// The `type` of the precondition violations of an update that needs `overwrite`.
pub const OVERWRITE_PRECONDITION: &str = "OVERWRITE";

/// What can go wrong serving a Nodes request or running the node lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node or the request breaks the rules; every violation is listed.
    #[error("{}", invalid_message(.name, .errors))]
    Invalid {
        /// The node's name as given (empty for a request about no node, e.g. List).
        name: String,
        /// The violations.
        errors: Vec<FieldError>,
    },
    /// The update would replace existing labels or taints without `overwrite`.
    #[error("{}", .conflicts.iter().map(|c| c.message.as_str()).collect::<Vec<_>>().join("; "))]
    Overwrite {
        /// Every refused replacement.
        conflicts: Vec<OverwriteConflict>,
    },
    /// No such node.
    #[error("nodes {0:?} not found")]
    NotFound(String),
    /// The given resourceVersion is not the stored one (or the write lost too many races).
    #[error(
        "Operation cannot be fulfilled on nodes {0:?}: the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict(String),
    /// The store or the bus cannot be reached, or did not answer in time.
    #[error("storage unavailable")]
    Unavailable(#[source] everynode_bus::Error),
    /// Anything else (a stored value that does not decode, …).
    #[error("internal error")]
    Internal(#[source] everynode_bus::Error),
    /// Another agent holds the node: it registered with another boot id and is alive
    /// (its lease is fresh). Two agents must never act for one node.
    #[error(
        "node {name:?} is held by a live agent with boot id {holder:?}; refusing the agent with boot id {claimant:?} (two agents may not share a node name; another agent can take the node over once the holder has been silent for {free_after:?})"
    )]
    Claimed {
        /// The node.
        name: String,
        /// The boot id of the agent holding it.
        holder: String,
        /// The boot id of the refused agent.
        claimant: String,
        /// How long the holder must be silent before the node is free (`--not-ready-after`).
        free_after: std::time::Duration,
    },
    /// Bootstrap joins are off: the registry was started without a CA key.
    #[error("this registry has no CA key (--ca-key); bootstrap joins are off")]
    BootstrapOff,
    /// The bootstrap token is unknown, malformed, its secret is wrong or it expired: one
    /// message for all, so a caller cannot tell which (no oracle).
    #[error("{TOKEN_REFUSED_MESSAGE}")]
    TokenRefused,
    /// The bootstrap token was already used for this node name.
    #[error("bootstrap token {id:?} was already used for node {node:?}")]
    TokenUsed {
        /// The token's id.
        id: String,
        /// The node name.
        node: String,
    },
    /// Too many concurrent uses of one token (or ids drawn that all existed).
    #[error("the bootstrap token is being used by too many joins at once; try again")]
    TokenBusy,
    /// Generating a token or signing a certificate failed (not the caller's doing).
    #[error("internal error")]
    Crypto(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// What a client reads when its bootstrap token is refused.
pub const TOKEN_REFUSED_MESSAGE: &str =
    "invalid bootstrap token: unknown, expired or wrong secret; ask an administrator for a new one";

/// What a client reads when the store cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str = "the node store is unavailable; try again later";

/// What a client reads on an internal failure.
pub const INTERNAL_MESSAGE: &str = "internal error in the registry; its log has the details";

/// Kubernetes' message for an invalid object, `Node "x" is invalid: <aggregate>`, where the
/// aggregate is one error alone or several in brackets; `invalid request: …` without a name.
fn invalid_message(name: &str, errors: &[FieldError]) -> String {
    let aggregate = everynode_core::validation::ValidationErrors(errors.to_vec());
    if name.is_empty() {
        format!("invalid request: {aggregate}")
    } else {
        format!("Node {name:?} is invalid: {aggregate}")
    }
}

impl Error {
    /// Maps a bus error about the node `name`.
    pub fn from_bus(name: &str, error: everynode_bus::Error) -> Self {
        match error.kind() {
            ErrorKind::NotFound => Error::NotFound(name.to_owned()),
            ErrorKind::AlreadyExists | ErrorKind::Conflict => Error::Conflict(name.to_owned()),
            ErrorKind::Unavailable | ErrorKind::Timeout => Error::Unavailable(error),
            ErrorKind::Decode | ErrorKind::InvalidName | ErrorKind::Other => Error::Internal(error),
        }
    }

    /// Maps a bus error of the `tokens` bucket (its races are handled where they happen).
    pub fn from_token_bus(error: everynode_bus::Error) -> Self {
        match error.kind() {
            ErrorKind::Unavailable | ErrorKind::Timeout => Error::Unavailable(error),
            _ => Error::Internal(error),
        }
    }

    /// An invalid request about `name` with a single violation.
    pub fn invalid(name: &str, error: FieldError) -> Self {
        Error::Invalid {
            name: name.to_owned(),
            errors: vec![error],
        }
    }

    /// `Ok` when `errors` is empty, else the invalid request about `name`.
    pub fn check(name: &str, errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid {
                name: name.to_owned(),
                errors,
            })
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::Invalid { errors, .. } => {
                everynode_service::status::invalid_argument(message, &errors)
            }
            Error::Overwrite { conflicts } => {
                let violations: Vec<PreconditionViolation> = conflicts
                    .into_iter()
                    .map(|c| PreconditionViolation::new(OVERWRITE_PRECONDITION, c.field, c.message))
                    .collect();
                Status::with_error_details(
                    Code::FailedPrecondition,
                    message,
                    ErrorDetails::with_precondition_failure(violations),
                )
            }
            Error::NotFound(_) => Status::not_found(message),
            Error::Claimed { .. } => Status::already_exists(message),
            Error::Conflict(_) => Status::aborted(message),
            Error::Unavailable(_) => {
                everynode_service::status::unavailable(UNAVAILABLE_MESSAGE, &error)
            }
            Error::Internal(_) | Error::Crypto(_) => {
                everynode_service::status::internal(INTERNAL_MESSAGE, &error)
            }
            Error::BootstrapOff => Status::failed_precondition(message),
            Error::TokenRefused => Status::unauthenticated(message),
            Error::TokenUsed { .. } => Status::permission_denied(message),
            Error::TokenBusy => Status::aborted(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_carry_every_field_path() {
        let status = Status::from(Error::Invalid {
            name: "n1".into(),
            errors: vec![
                FieldError::required("metadata.name", ""),
                crate::validation::invalid("spec.taints[0].key", "", "name part must be non-empty"),
            ],
        });
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "Node \"n1\" is invalid: [metadata.name: Required value, spec.taints[0].key: Invalid value: \"\": name part must be non-empty]"
        );
        let fields: Vec<String> = status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["metadata.name", "spec.taints[0].key"]);
    }

    #[test]
    fn a_single_violation_is_printed_without_brackets() {
        let error = Error::invalid("x", FieldError::required("name", ""));
        assert_eq!(
            error.to_string(),
            "Node \"x\" is invalid: name: Required value"
        );
    }

    #[test]
    fn overwrite_refusals_are_failed_preconditions_naming_the_field() {
        let status = Status::from(Error::Overwrite {
            conflicts: vec![OverwriteConflict {
                field: "set_labels[zone]".into(),
                message: "'zone' already has a value (a), and --overwrite is false".into(),
            }],
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status.message(),
            "'zone' already has a value (a), and --overwrite is false"
        );
        let violation = status
            .get_details_precondition_failure()
            .map(|p| p.violations[0].subject.clone());
        assert_eq!(violation.as_deref(), Some("set_labels[zone]"));
    }

    #[test]
    fn store_errors_map_to_codes() {
        assert_eq!(
            Status::from(Error::NotFound("n".into())).message(),
            "nodes \"n\" not found"
        );
        assert_eq!(
            Status::from(Error::Conflict("n".into())).code(),
            Code::Aborted
        );
    }

    #[test]
    fn bootstrap_refusals_map_to_codes_and_say_nothing_of_which_check_failed() {
        let refused = Status::from(Error::TokenRefused);
        assert_eq!(refused.code(), Code::Unauthenticated);
        assert_eq!(refused.message(), TOKEN_REFUSED_MESSAGE);
        let used = Status::from(Error::TokenUsed {
            id: "abcdef".into(),
            node: "n1".into(),
        });
        assert_eq!(used.code(), Code::PermissionDenied);
        assert_eq!(
            used.message(),
            "bootstrap token \"abcdef\" was already used for node \"n1\""
        );
        let off = Status::from(Error::BootstrapOff);
        assert_eq!(off.code(), Code::FailedPrecondition);
        assert!(off.message().contains("--ca-key"), "{off:?}");
        let crypto = Status::from(Error::Crypto("ring: unspecified".into()));
        assert_eq!(crypto.code(), Code::Internal);
        assert!(!crypto.message().contains("ring"), "{crypto:?}");
    }

    /// A bus error whose text is NATS' own, as the client library words it.
    fn nats_error(kind: std::io::ErrorKind) -> everynode_bus::Error {
        everynode_bus::Error::nats(
            "reading nodes key n1",
            std::io::Error::new(kind, "nats: no responders available for request"),
        )
    }

    #[test]
    fn bus_failures_do_not_leak_their_text_into_the_status() {
        use std::io::ErrorKind as Io;
        for kind in [Io::ConnectionRefused, Io::TimedOut, Io::Other] {
            let status = Status::from(Error::from_bus("n1", nats_error(kind)));
            assert!(
                matches!(status.code(), Code::Unavailable | Code::Internal),
                "{status:?}"
            );
            for leak in ["nats", "no responders", "nodes key"] {
                assert!(!status.message().contains(leak), "{leak} in {status:?}");
            }
        }
        let error = Error::from_bus("n1", nats_error(Io::ConnectionRefused));
        assert!(everynode_service::status::error_chain(&error).contains("no responders"));
        let status = Status::from(error);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), UNAVAILABLE_MESSAGE);
    }
}
