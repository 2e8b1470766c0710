//! Validation errors as a gRPC status, the same way in every service: `INVALID_ARGUMENT` with the
//! Kubernetes-style message and one `google.rpc.BadRequest` field violation per error. (Each
//! service still maps its own error type to `tonic::Status` in its one `error.rs`; this is the
//! piece they share.)

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

#[cfg(test)]
mod tests {
    use super::*;

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
