//! Admission validation of DaemonSets, as the Kubernetes API server does it
//! (`pkg/apis/apps/validation`, `pkg/apis/core/validation`, `apimachinery/pkg/api/validation`).
//!
//! This module owns the error vocabulary ([`FieldError`], [`ErrorKind`], [`ValidationErrors`],
//! printed exactly like Kubernetes' `field.Error`) and the three entry points:
//! [`validate_daemon_set`] (create), [`validate_daemon_set_update`] and
//! [`validate_daemon_set_status_update`]. Submodules: `meta` (object metadata, labels,
//! annotations, label selectors), `pod` (pod template and pod spec), `daemonset` (the spec, the
//! update strategy, updates and status), `node` (node taints and taint effects).
//!
//! The checks other services share are public and take a [`Path`]: [`validate_labels`],
//! [`validate_annotations`], [`validate_label_name`], [`validate_object_name`],
//! [`validate_node_taints`] and [`validate_taint_effect`]; the registry validates nodes with
//! them, so admission and the registry enforce one set of rules with one wording.
//!
//! Invariants:
//! - every check runs and every error is returned (no first-fail), in Kubernetes' order;
//! - validation reads, never changes, its input; call [`crate::defaults`] first, as the API
//!   server does (an undefaulted object is validated like Kubernetes' internal type: an empty
//!   `restartPolicy` is `Required`, …);
//! - fields kept verbatim in `extra_fields` are not validated, except the few read here on
//!   purpose (volume sources for the `extensions/v1beta1` GCE PD rule, `lifecycle` presence,
//!   `dnsConfig` with `dnsPolicy: None`, `httpHeaders` names); the typed security contexts and
//!   `hostPath`/`emptyDir` sources are validated as Kubernetes validates them (`pod::security`).

mod daemonset;
mod meta;
mod node;
mod pod;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::model::{LabelSelector, Timestamp};

pub use daemonset::{
    TEMPLATE_GENERATION_ANNOTATION, validate_daemon_set, validate_daemon_set_status_update,
    validate_daemon_set_update,
};
pub use meta::{
    TOTAL_ANNOTATION_SIZE_LIMIT_BYTES, validate_annotations, validate_label_name, validate_labels,
    validate_object_name,
};
pub use node::{TAINT_EFFECTS, validate_node_taints, validate_taint_effect};
pub use pod::{
    AFFINITY_ANNOTATION_KEY, AffinityAnnotationError, AnnotationJsonError,
    node_affinity_from_annotation,
};

/// The kind of a field error (Kubernetes: `field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A referenced value does not exist (e.g. a volume mount naming no volume).
    NotFound,
    /// A required value is missing.
    Required,
    /// A value that must be unique is repeated.
    Duplicate,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of an enumeration.
    NotSupported,
    /// A value is well formed but not allowed here.
    Forbidden,
    /// A value is too long.
    TooLong,
    /// A list has too many items.
    TooMany,
}

impl ErrorKind {
    /// The text Kubernetes prints for the kind (`Required value`, `Invalid value`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "Not found",
            ErrorKind::Required => "Required value",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::Invalid => "Invalid value",
            ErrorKind::NotSupported => "Unsupported value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
        }
    }

    /// The machine-readable reason of a Kubernetes status cause (`FieldValueRequired`, …).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "FieldValueNotFound",
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Duplicate => "FieldValueDuplicate",
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::NotSupported => "FieldValueNotSupported",
            ErrorKind::Forbidden => "FieldValueForbidden",
            ErrorKind::TooLong => "FieldValueTooLong",
            ErrorKind::TooMany => "FieldValueTooMany",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validation error: where, what kind, the offending value, and why (Kubernetes:
/// `field.Error`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldError {
    /// Field path in Kubernetes' notation, e.g. `spec.template.spec.containers[0].image`.
    pub path: String,
    /// What kind of error.
    pub kind: ErrorKind,
    /// The offending value as Kubernetes prints it (strings quoted, numbers bare, Go structs in
    /// Go syntax); `None` when Kubernetes prints no value.
    pub value: Option<String>,
    /// Why, in Kubernetes' words; may be empty.
    pub detail: String,
}

impl FieldError {
    fn new(
        path: impl Into<String>,
        kind: ErrorKind,
        value: Option<String>,
        detail: String,
    ) -> Self {
        Self {
            path: path.into(),
            kind,
            value,
            detail,
        }
    }

    /// `Required value` (Kubernetes: `field.Required`).
    pub fn required(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(path, ErrorKind::Required, None, detail.into())
    }

    /// `Forbidden` (Kubernetes: `field.Forbidden`).
    pub fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(path, ErrorKind::Forbidden, None, detail.into())
    }

    /// `Invalid value` with a value already printed (see [`go_quote`]).
    pub fn invalid(
        path: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(path, ErrorKind::Invalid, Some(value.into()), detail.into())
    }

    /// `Unsupported value` listing the supported values (Kubernetes: `field.NotSupported`).
    pub fn not_supported(
        path: impl Into<String>,
        value: impl Into<String>,
        supported: &[&str],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(path, ErrorKind::NotSupported, Some(value.into()), detail)
    }

    /// `Duplicate value` (Kubernetes: `field.Duplicate`).
    pub fn duplicate(path: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(
            path,
            ErrorKind::Duplicate,
            Some(value.into()),
            String::new(),
        )
    }

    /// `Not found` (Kubernetes: `field.NotFound`).
    pub fn not_found(path: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(path, ErrorKind::NotFound, Some(value.into()), String::new())
    }

    /// `Too long: must have at most N bytes` (Kubernetes: `field.TooLong`).
    pub fn too_long(path: impl Into<String>, max_bytes: usize) -> Self {
        Self::new(
            path,
            ErrorKind::TooLong,
            None,
            format!("must have at most {max_bytes} bytes"),
        )
    }

    /// `Too many: N: must have at most M items` (Kubernetes: `field.TooMany`).
    pub fn too_many(path: impl Into<String>, actual: usize, max: usize) -> Self {
        Self::new(
            path,
            ErrorKind::TooMany,
            Some(actual.to_string()),
            format!("must have at most {max} items"),
        )
    }

    /// The message without the field path (Kubernetes: `ErrorBody`).
    pub fn body(&self) -> String {
        let mut s = self.kind.as_str().to_string();
        let prints_value = !matches!(
            self.kind,
            ErrorKind::Required | ErrorKind::Forbidden | ErrorKind::TooLong
        );
        if let (true, Some(value)) = (prints_value, &self.value) {
            s.push_str(": ");
            s.push_str(value);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    /// `path: body`, e.g. `metadata.name: Required value: name or generateName is required`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.body())
    }
}

/// Every error of one validation, as one error value (Kubernetes prints an aggregate: the
/// error itself when there is one, `[e1, e2]` otherwise, identical messages once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// `Ok(())` for no errors, the errors otherwise.
    pub fn check(errors: Vec<FieldError>) -> Result<(), ValidationErrors> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(errors))
        }
    }

    /// The errors.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen = std::collections::HashSet::new();
        let messages: Vec<String> = self
            .0
            .iter()
            .map(ToString::to_string)
            .filter(|m| seen.insert(m.clone()))
            .collect();
        match messages.as_slice() {
            [] => Ok(()),
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl std::error::Error for ValidationErrors {}

impl From<Vec<FieldError>> for ValidationErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        ValidationErrors(errors)
    }
}

/// The API version a DaemonSet arrives under; it decides defaults and a few rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `apps/v1`: no selector defaulting, selector immutable, RollingUpdate by default.
    AppsV1,
    /// `apps/v1beta2`: as `apps/v1`.
    AppsV1beta2,
    /// `extensions/v1beta1` (the 1.3 era): selector defaulted from template labels and
    /// mutable, OnDelete by default.
    ExtensionsV1beta1,
}

/// An `apiVersion` that is not a DaemonSet API version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported DaemonSet apiVersion {0:?}: expected \"apps/v1\", \"apps/v1beta2\" or \"extensions/v1beta1\""
)]
pub struct UnknownApiVersion(pub String);

impl ApiVersion {
    /// The `apiVersion` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::AppsV1 => "apps/v1",
            ApiVersion::AppsV1beta2 => "apps/v1beta2",
            ApiVersion::ExtensionsV1beta1 => "extensions/v1beta1",
        }
    }

    /// True when an update may not change `spec.selector` (all but `extensions/v1beta1`).
    pub fn selector_is_immutable(self) -> bool {
        self != ApiVersion::ExtensionsV1beta1
    }
}

impl FromStr for ApiVersion {
    type Err = UnknownApiVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "apps/v1" => Ok(ApiVersion::AppsV1),
            "apps/v1beta2" => Ok(ApiVersion::AppsV1beta2),
            "extensions/v1beta1" => Ok(ApiVersion::ExtensionsV1beta1),
            other => Err(UnknownApiVersion(other.to_string())),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Field paths (Kubernetes: `field.Path`)
// ---------------------------------------------------------------------------------------------

/// A field path (Kubernetes: `field.Path`): children joined by `.`, list indexes and map keys
/// in brackets, e.g. `spec.taints[0].effect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// A path starting at `root` (`metadata`, `spec.taints`, or a request field such as
    /// `set_labels`); an empty root makes the first child the start.
    pub fn new(root: &str) -> Self {
        Path(root.to_string())
    }

    /// `self.name`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// `self[i]`.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }

    /// `self[key]`.
    pub fn key(&self, key: &str) -> Self {
        Path(format!("{}[{key}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> Self {
        p.0.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Printing values as Go's fmt does in field.Error
// ---------------------------------------------------------------------------------------------

/// A string as Go's `%q` prints it (`strconv.Quote`): in double quotes, with `"`, `\` and
/// non-printable characters escaped.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c == ' ' || !(c.is_control() || c.is_whitespace()) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A `map[string]string` as Go's `%#v` prints it; an empty map prints as a nil one.
pub(crate) fn go_string_map(m: &BTreeMap<String, String>) -> String {
    if m.is_empty() {
        return "map[string]string(nil)".to_string();
    }
    let entries: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
        .collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}

/// A `*metav1.LabelSelector` as its generated `String()` prints it (`null` when absent).
pub(crate) fn go_label_selector(selector: Option<&LabelSelector>) -> String {
    let Some(sel) = selector else {
        return "null".to_string();
    };
    let labels: String = sel
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let exprs: String = sel
        .match_expressions
        .iter()
        .map(|e| {
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                e.key,
                e.operator,
                e.values.join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

/// A `metav1.Time` as Go's `time.Time.String()` prints it in UTC
/// (`2024-05-01 10:00:00 +0000 UTC`); the zero time when absent.
pub(crate) fn go_time(ts: Option<Timestamp>) -> String {
    let Some(ts) = ts else {
        return "0001-01-01 00:00:00 +0000 UTC".to_string();
    };
    let t = ts.to_civil();
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    );
    if ts.nanos != 0 {
        let frac = format!("{:09}", ts.nanos);
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}
