//! enctl's errors and how they read on stderr: kubectl's `Error from server (Reason): message`
//! for answers of a service (with every `BadRequest` field violation on its own line; a denied
//! call is `(Forbidden)`, a call without an accepted identity `(Unauthorized)`), `error: cannot
//! reach admission at URL: …` when a service cannot be reached (refused, TLS handshake
//! failed), `error: …` for everything else (missing or unusable credentials included). This is
//! the one place where gRPC codes become kubectl's reasons. Every error exits with status 1.

use std::error::Error as _;

use everynode_api::manifest::ManifestError;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use everynode_auth::TlsError;
use everynode_auth::pki::PkiError;
use everynode_service::SecurityError;

use crate::args::UsageError;
use crate::config::{ConfigError, Service, Source};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong in a way clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Nothing says how to secure the calls.
    #[error("{}", crate::config::NO_SECURITY)]
    NoSecurity,
    /// The credentials folder cannot be used.
    #[error("cannot use the credentials {dir} (from {from}): {source}")]
    Credentials {
        /// The folder.
        dir: String,
        /// Where it was named.
        from: Source,
        /// Why.
        #[source]
        source: Box<TlsError>,
    },
    /// A service's URL does not suit the security (or is not a URL).
    #[error("{service} URL {source}")]
    Endpoint {
        /// Which service.
        service: Service,
        /// What is wrong.
        #[source]
        source: SecurityError,
    },
    /// Making or extending a PKI failed.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A service answered with an error.
    #[error("{}", render_status(.service, .url, .status, .context.as_deref()))]
    Server {
        /// Which service.
        service: Service,
        /// Its URL.
        url: String,
        /// The answer.
        status: Box<Status>,
        /// What enctl was doing, e.g. `error when creating "ds.yaml"`.
        context: Option<String>,
    },
    /// A manifest cannot be read or decoded.
    #[error("error parsing {source_name}: {error}")]
    Manifest {
        /// The file (or `STDIN`).
        source_name: String,
        /// Every error, with field paths and lines.
        error: ManifestError,
    },
    /// A file, a directory or stdin cannot be read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// What: `STDIN`, a quoted path, `directory "…"`.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `-f` path does not exist.
    #[error("the path {0:?} does not exist")]
    NoSuchPath(String),
    /// Writing to stdout failed (a closed pipe ends the command quietly).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// Anything else, as a complete message.
    #[error("{0}")]
    Failed(String),
    /// The errors were already printed (apply goes on after a failed object).
    #[error("")]
    Reported,
}

impl From<UsageError> for CliError {
    fn from(e: UsageError) -> Self {
        CliError::Usage(e.0)
    }
}

impl CliError {
    /// An answer of `service`.
    pub fn server(service: Service, url: &str, status: Status) -> Self {
        CliError::Server {
            service,
            url: url.to_string(),
            status: Box::new(status),
            context: None,
        }
    }

    /// The same error, said to have happened while doing `context` (server answers only).
    #[must_use]
    pub fn context(self, what: String) -> Self {
        match self {
            CliError::Server {
                service,
                url,
                status,
                ..
            } => CliError::Server {
                service,
                url,
                status,
                context: Some(what),
            },
            other => other,
        }
    }

    /// The gRPC code of a server answer.
    pub fn code(&self) -> Option<Code> {
        match self {
            CliError::Server { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    /// True when the object was not found.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(Code::NotFound)
    }

    /// True when a service could not be reached (not an answer of the service).
    pub fn is_unreachable(&self) -> bool {
        match self {
            CliError::Server { status, .. } => {
                status.source().is_some() || transport_message(status)
            }
            _ => false,
        }
    }

    /// True when writing stdout failed because the reader went away (`enctl get … | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The text for stderr: kubectl's `Error from server (…)` for server answers, `error: …`
    /// otherwise; empty for [`CliError::Reported`].
    pub fn render(&self) -> String {
        match self {
            CliError::Reported => String::new(),
            CliError::Server { .. } => self.to_string(),
            other => format!("error: {other}"),
        }
    }
}

/// kubectl's reason for a gRPC code.
pub fn reason(code: Code, has_violations: bool) -> &'static str {
    match code {
        Code::InvalidArgument if has_violations => "Invalid",
        Code::InvalidArgument | Code::OutOfRange => "BadRequest",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::Aborted | Code::FailedPrecondition => "Conflict",
        Code::Unavailable => "ServiceUnavailable",
        Code::DeadlineExceeded => "Timeout",
        Code::PermissionDenied => "Forbidden",
        Code::Unauthenticated => "Unauthorized",
        Code::ResourceExhausted => "TooManyRequests",
        Code::Unimplemented => "MethodNotAllowed",
        Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
            "InternalError"
        }
    }
}

/// The stderr text of a server answer.
pub fn render_status(
    service: &Service,
    url: &str,
    status: &Status,
    context: Option<&str>,
) -> String {
    // A status made by the client's transport (connection refused, reset, timeout) is not an
    // answer of the service: say that the service cannot be reached.
    if status.source().is_some() || transport_message(status) {
        return format!(
            "error: cannot reach {service} at {url}: {}",
            status.message()
        );
    }
    let violations = status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.clone())
        .unwrap_or_default();
    let message = status.message();
    let mut out = match status.code() {
        // Refusals to overwrite a label or taint read as kubectl's own client-side errors.
        Code::FailedPrecondition => format!("error: {message}"),
        Code::Cancelled => {
            format!("error: the request to {service} at {url} was cancelled: {message}")
        }
        Code::Unimplemented => format!(
            "error: {service} at {url} does not serve this call (is it an everynode {service}?): {message}"
        ),
        code => {
            let reason = reason(code, !violations.is_empty());
            match context {
                Some(context) => format!("Error from server ({reason}): {context}: {message}"),
                None => format!("Error from server ({reason}): {message}"),
            }
        }
    };
    for v in violations {
        out.push_str(&format!("\n* {}: {}", v.field, v.description));
    }
    out
}

fn transport_message(status: &Status) -> bool {
    status.code() == Code::Unavailable
        && [
            "tcp connect error",
            "transport error",
            "error trying to connect",
            "connection refused",
        ]
        .iter()
        .any(|m| status.message().contains(m))
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    fn render(status: Status) -> String {
        CliError::server(Service::Admission, "http://127.0.0.1:7401", status).render()
    }

    #[test]
    fn not_found_reads_like_kubectl() {
        assert_eq!(
            render(Status::not_found("daemonsets.apps \"x\" not found")),
            "Error from server (NotFound): daemonsets.apps \"x\" not found"
        );
        assert_eq!(
            render(Status::already_exists(
                "daemonsets.apps \"x\" already exists"
            )),
            "Error from server (AlreadyExists): daemonsets.apps \"x\" already exists"
        );
        assert_eq!(
            render(Status::aborted("Operation cannot be fulfilled")),
            "Error from server (Conflict): Operation cannot be fulfilled"
        );
    }

    #[test]
    fn denied_and_unauthenticated_calls_read_like_kubectl() {
        assert_eq!(
            render(Status::permission_denied(
                "user \"viewer\" (groups: everynode:viewers) may not call everynode.v1.DaemonSets/Delete"
            )),
            "Error from server (Forbidden): user \"viewer\" (groups: everynode:viewers) may not call everynode.v1.DaemonSets/Delete"
        );
        assert_eq!(
            render(Status::unauthenticated("no client certificate")),
            "Error from server (Unauthorized): no client certificate"
        );
    }

    #[test]
    fn invalid_lists_every_field_violation() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "DaemonSet.apps \"x\" is invalid: [spec.template.spec.restartPolicy: Unsupported value: \"Never\", spec.selector: Required value]",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new(
                    "spec.template.spec.restartPolicy",
                    "Unsupported value: \"Never\"",
                ),
                FieldViolation::new("spec.selector", "Required value"),
            ]),
        );
        let err = CliError::server(Service::Admission, "http://a", status)
            .context("error when creating \"ds.yaml\"".to_string());
        assert_eq!(
            err.render(),
            "Error from server (Invalid): error when creating \"ds.yaml\": DaemonSet.apps \"x\" is invalid: [spec.template.spec.restartPolicy: Unsupported value: \"Never\", spec.selector: Required value]\n\
* spec.template.spec.restartPolicy: Unsupported value: \"Never\"\n\
* spec.selector: Required value"
        );
    }

    #[test]
    fn invalid_argument_without_violations_is_a_bad_request() {
        assert_eq!(
            render(Status::invalid_argument("daemon_set is required")),
            "Error from server (BadRequest): daemon_set is required"
        );
    }

    #[test]
    fn overwrite_refusals_read_as_kubectl_errors() {
        let status =
            Status::failed_precondition("'zone' already has a value (a), and --overwrite is false");
        assert_eq!(
            CliError::server(Service::Registry, "http://r", status).render(),
            "error: 'zone' already has a value (a), and --overwrite is false"
        );
    }

    #[test]
    fn transport_failures_say_which_service_cannot_be_reached() {
        let status = Status::unavailable("tcp connect error");
        assert_eq!(
            CliError::server(Service::Controller, "http://127.0.0.1:7403", status).render(),
            "error: cannot reach controller at http://127.0.0.1:7403: tcp connect error"
        );
        // A service that is up but whose storage is down is an answer.
        assert_eq!(
            render(Status::unavailable("storage unavailable: no responders")),
            "Error from server (ServiceUnavailable): storage unavailable: no responders"
        );
    }

    #[test]
    fn other_errors_start_with_error() {
        assert_eq!(
            CliError::Usage("name cannot be provided when a selector is specified".into()).render(),
            "error: name cannot be provided when a selector is specified"
        );
        assert_eq!(CliError::Reported.render(), "");
    }
}
