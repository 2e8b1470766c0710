//! Admission's errors and the one place they become `tonic::Status`.
//!
//! Messages follow the Kubernetes API server's wording (`daemonsets.apps "x" not found`,
//! `DaemonSet.apps "x" is invalid: [...]`); validation errors also travel as
//! `google.rpc.BadRequest` field violations so that clients can point at each field.

use everynode_bus::ErrorKind;
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
    /// The store or the bus cannot be reached.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Maps a store error for the object `name`.
    pub fn from_bus(name: &str, error: everynode_bus::Error) -> Self {
        match error.kind() {
            ErrorKind::NotFound => Error::NotFound(name.to_string()),
            ErrorKind::AlreadyExists => Error::AlreadyExists(name.to_string()),
            ErrorKind::Conflict => Error::Conflict(name.to_string()),
            ErrorKind::Unavailable | ErrorKind::Timeout => Error::Unavailable(error.to_string()),
            ErrorKind::Decode | ErrorKind::InvalidName | ErrorKind::Other => {
                Error::Internal(error.to_string())
            }
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
            Error::BadRequest(_) => Status::invalid_argument(message),
            Error::NotFound(_) => Status::not_found(message),
            Error::AlreadyExists(_) => Status::already_exists(message),
            Error::Conflict(_) => Status::aborted(message),
            Error::Unavailable(_) => Status::unavailable(message),
            Error::Internal(_) => Status::internal(message),
        }
    }
}
