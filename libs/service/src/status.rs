//! The pieces of a gRPC status every service builds the same way (each service still maps its
//! own error type to `tonic::Status` in its one `error.rs`):
//! - validation errors: `INVALID_ARGUMENT` with the Kubernetes-style message and one
//!   `google.rpc.BadRequest` field violation per error ([`invalid_argument`]);
//! - failures that are not the caller's: `UNAVAILABLE` or `INTERNAL` with a plain message that
//!   says what the caller can do, while the cause (NATS and JetStream errors, decoding errors,
//!   with their whole chain) goes to the log and never into the status ([`unavailable`],
//!   [`internal`]).

use std::error::Error;

use everynode_core::validation::FieldError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// `INVALID_ARGUMENT` carrying `message` and every error as a field violation.
pub fn invalid_argument(message: impl Into<String>, errors: &[FieldError]) -> Status {
    let violations: Vec<FieldViolation> = errors
        .iter()
        .map(|e| FieldViolation::new(e.path.clone(), e.body()))
        .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(violations),
    )
}

/// `UNAVAILABLE` with `message`, for a failure the caller may retry (the store or the bus cannot
/// be reached, or timed out); `cause` and its sources are logged as a warning, not sent.
pub fn unavailable(message: impl Into<String>, cause: &(dyn Error + 'static)) -> Status {
    let message = message.into();
    tracing::warn!(error = %error_chain(cause), "{message}");
    Status::unavailable(message)
}

/// `INTERNAL` with `message`, for a failure that is neither the caller's nor transient;
/// `cause` and its sources are logged as an error, not sent.
pub fn internal(message: impl Into<String>, cause: &(dyn Error + 'static)) -> Status {
    let message = message.into();
    tracing::error!(error = %error_chain(cause), "{message}");
    Status::internal(message)
}

pub use everynode_core::errors::chain as error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("storage unavailable")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("nats: no responders available for request")]
    struct Inner;

    #[test]
    fn unavailable_and_internal_keep_the_cause_out_of_the_status() {
        let cause = Outer(Inner);
        assert_eq!(
            error_chain(&cause),
            "storage unavailable: nats: no responders available for request"
        );
        for status in [
            unavailable("try again later", &cause),
            internal("see the log", &cause),
        ] {
            assert!(!status.message().contains("nats"), "{status:?}");
        }
        assert_eq!(
            unavailable("try again later", &cause).code(),
            Code::Unavailable
        );
        assert_eq!(internal("see the log", &cause).code(), Code::Internal);
    }

    #[test]
    fn every_error_becomes_a_field_violation() {
        let errors = vec![
            FieldError::required("spec.template", "template is required"),
            FieldError::invalid("metadata.name", "Bad", "must be lower case"),
        ];
        let status = invalid_argument("DaemonSet.apps \"Bad\" is invalid", &errors);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, vec!["spec.template", "metadata.name"]);
    }
}
