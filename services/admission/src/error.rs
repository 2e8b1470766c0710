//! Admission's errors and the one place they become `tonic::Status`.
//!
//! Messages follow the Kubernetes API server's wording (`daemonsets.apps "x" not found`,
//! `DaemonSet.apps "x" is invalid: [...]`); validation errors also travel as
//! `google.rpc.BadRequest` field violations so that clients can point at each field.
//!
//! Failures that are not the caller's keep their cause as a `#[source]`; the status says only
//! what the caller can do (`UNAVAILABLE`: try again; `INTERNAL`: see admission's log), and the
//! cause's whole chain goes to the log ([`everynode_service::status::unavailable`]).

use everynode_bus::{ErrorKind, NameError};
use everynode_core::labels::SelectorParseError;
use everynode_core::validation::{FieldError, ValidationErrors};
use tonic::Status;

/// What can go wrong serving a DaemonSets request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object breaks the DaemonSet rules; every violation is listed.
    #[error("DaemonSet.apps {name:?} is invalid: {}", ValidationErrors(.errors.clone()))]
    Invalid {
        /// `namespace/name` or name of the object.
        name: String,
        /// The violations.
        errors: Vec<FieldError>,
    },
    /// The request itself is malformed (a required request field is missing).
    #[error("{0}")]
    BadRequest(String),
    /// The `label_selector` of a List or Watch does not parse.
    #[error("label_selector: {0}")]
    InvalidSelector(#[source] SelectorParseError),
    /// The name or namespace cannot name a stored object (it is empty).
    #[error("resource name may not be empty")]
    EmptyName(#[source] NameError),
    /// No such DaemonSet.
    #[error("daemonsets.apps {0:?} not found")]
    NotFound(String),
    /// A DaemonSet of that name exists.
    #[error("daemonsets.apps {0:?} already exists")]
    AlreadyExists(String),
    /// The given resourceVersion (or uid) is not the stored one.
    #[error(
        "Operation cannot be fulfilled on daemonsets.apps {0:?}: the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict(String),
    /// The store or the bus cannot be reached, or did not answer in time.
    #[error("storage unavailable")]
    Unavailable(#[source] everynode_bus::Error),
    /// Anything else (a stored value that does not decode, …).
    #[error("internal error")]
    Internal(#[source] everynode_bus::Error),
}

/// What a client reads when the store cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str = "the DaemonSet store is unavailable; try again later";

/// What a client reads on an internal failure.
pub const INTERNAL_MESSAGE: &str =
    "internal error in the admission service; its log has the details";

impl Error {
    /// Maps a store error for the object `name`.
    pub fn from_bus(name: &str, error: everynode_bus::Error) -> Self {
        match error.kind() {
            ErrorKind::NotFound => Error::NotFound(name.to_string()),
            ErrorKind::AlreadyExists => Error::AlreadyExists(name.to_string()),
            ErrorKind::Conflict => Error::Conflict(name.to_string()),
            ErrorKind::Unavailable | ErrorKind::Timeout => Error::Unavailable(error),
            ErrorKind::Decode | ErrorKind::InvalidName | ErrorKind::Other => Error::Internal(error),
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
            Error::BadRequest(_) | Error::InvalidSelector(_) | Error::EmptyName(_) => {
                Status::invalid_argument(message)
            }
            Error::NotFound(_) => Status::not_found(message),
            Error::AlreadyExists(_) => Status::already_exists(message),
            Error::Conflict(_) => Status::aborted(message),
            Error::Unavailable(_) => {
                everynode_service::status::unavailable(UNAVAILABLE_MESSAGE, &error)
            }
            Error::Internal(_) => everynode_service::status::internal(INTERNAL_MESSAGE, &error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use everynode_bus::Bucket;
    use tonic::Code;

    use super::*;

    /// A bus error whose text is NATS' own, as the client library words it.
    fn nats_error(kind: io::ErrorKind) -> everynode_bus::Error {
        everynode_bus::Error::nats(
            "reading daemonsets key default.x",
            io::Error::new(kind, "nats: no responders available for request"),
        )
    }

    #[test]
    fn bus_failures_do_not_leak_their_text_into_the_status() {
        for kind in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::TimedOut,
            io::ErrorKind::Other,
        ] {
            let status = Status::from(Error::from_bus("x", nats_error(kind)));
            assert!(
                matches!(status.code(), Code::Unavailable | Code::Internal),
                "{status:?}"
            );
            for leak in ["nats", "no responders", "daemonsets key", "default.x"] {
                assert!(!status.message().contains(leak), "{leak} in {status:?}");
            }
        }
        let decode = everynode_bus::Error::Decode {
            what: format!("{} key default.x", Bucket::DaemonSets),
            source: <everynode_api::v1::DaemonSet as prost::Message>::decode(&b"\xff"[..])
                .expect_err("not a message"),
        };
        let status = Status::from(Error::from_bus("x", decode));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), INTERNAL_MESSAGE);
    }

    #[test]
    fn an_unavailable_store_says_to_try_again_and_keeps_the_cause() {
        let error = Error::from_bus("x", nats_error(io::ErrorKind::ConnectionRefused));
        let chain = everynode_service::status::error_chain(&error);
        assert!(chain.contains("no responders"), "{chain}");
        let status = Status::from(error);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), UNAVAILABLE_MESSAGE);
    }
}
