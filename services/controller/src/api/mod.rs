//! The controller's gRPC services, served from the informer caches by every replica (active
//! or standby): `everynode.v1.Pods` ([`pods`]) and `everynode.v1.Endpoints` ([`endpoints`]).

pub mod endpoints;
pub mod pods;

use everynode_core::labels::Selector;

use crate::error::ApiError;

/// The namespace of a request: `default` when empty.
fn namespace_or_default(namespace: &str) -> &str {
    if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

/// Parses a label selector string (empty selects everything).
fn parse_selector(text: &str) -> Result<Selector, ApiError> {
    Selector::parse(text).map_err(|e| ApiError::BadRequest(format!("label_selector: {e}")))
}

/// Parses a client-given resourceVersion.
fn parse_version(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "resource_version: {text:?} is not a resourceVersion returned by the server"
        ))
    })
}
