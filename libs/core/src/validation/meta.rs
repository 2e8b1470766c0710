//! Object metadata, labels, annotations and label selectors (Kubernetes:
//! `apimachinery/pkg/api/validation/objectmeta.go`, `apis/meta/v1/validation`).

use std::collections::{BTreeMap, BTreeSet};

use super::{FieldError, Path, go_label_selector, go_quote, go_time};
use crate::labels::{is_label_value, is_qualified_name, name_is_dns_label, name_is_dns_subdomain};
use crate::model::{LabelSelector, ObjectMeta};

/// Most bytes of all annotation keys and values together (Kubernetes:
/// `TotalAnnotationSizeLimitB`).
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
pub(crate) const FIELD_IMMUTABLE_ERROR_MSG: &str = "field is immutable";

/// Kubernetes' `ValidateNonnegativeField`.
pub(crate) fn validate_nonnegative(value: i64, path: &Path, errs: &mut Vec<FieldError>) {
    if value < 0 {
        errs.push(FieldError::invalid(
            path,
            value.to_string(),
            IS_NEGATIVE_ERROR_MSG,
        ));
    }
}

/// Kubernetes' `ValidateLabelName`: a qualified name.
pub fn validate_label_name(key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    for msg in is_qualified_name(key) {
        errs.push(FieldError::invalid(path, go_quote(key), msg));
    }
}

/// Kubernetes' `ValidateLabels`: keys are qualified names, values label values; errors are
/// reported at the map's path.
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &Path, errs: &mut Vec<FieldError>) {
    for (k, v) in labels {
        validate_label_name(k, path, errs);
        for msg in is_label_value(v) {
            errs.push(FieldError::invalid(path, go_quote(v), msg));
        }
    }
}

/// Kubernetes' `ValidateAnnotations`: keys are qualified names (case-insensitively), and keys
/// and values together are at most 256 KiB.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    for k in annotations.keys() {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, go_quote(k), msg));
        }
    }
    let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push(FieldError::too_long(
            path,
            TOTAL_ANNOTATION_SIZE_LIMIT_BYTES,
        ));
    }
}

/// True when a selector holds a value that is not a label value (such selectors stay valid on
/// update: Kubernetes' `LabelSelectorHasInvalidLabelValue` ratcheting).
pub(crate) fn label_selector_has_invalid_label_value(selector: Option<&LabelSelector>) -> bool {
    selector.is_some_and(|s| {
        s.match_expressions
            .iter()
            .flat_map(|e| &e.values)
            .any(|v| !is_label_value(v).is_empty())
    })
}

/// Kubernetes' `ValidateLabelSelector`.
pub(crate) fn validate_label_selector(
    selector: Option<&LabelSelector>,
    allow_invalid_label_values: bool,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let Some(selector) = selector else {
        return;
    };
    validate_labels(&selector.match_labels, &path.child("matchLabels"), errs);
    for (i, expr) in selector.match_expressions.iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        match expr.operator.as_str() {
            "In" | "NotIn" => {
                if expr.values.is_empty() {
                    errs.push(FieldError::required(
                        &p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !expr.values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                &p.child("operator"),
                go_quote(other),
                "not a valid selector operator",
            )),
        }
        validate_label_name(&expr.key, &p.child("key"), errs);
        if !allow_invalid_label_values {
            for (j, v) in expr.values.iter().enumerate() {
                for msg in is_label_value(v) {
                    errs.push(FieldError::invalid(
                        &p.child("values").index(j),
                        go_quote(v),
                        msg,
                    ));
                }
            }
        }
    }
}

/// The name of an object named by a DNS-1123 subdomain (DaemonSets, nodes), as
/// `ValidateObjectMeta` checks it with `NameIsDNSSubdomain`: required, then a subdomain.
pub fn validate_object_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if name.is_empty() {
        errs.push(FieldError::required(
            path,
            "name or generateName is required",
        ));
        return;
    }
    for msg in name_is_dns_subdomain(name, false) {
        errs.push(FieldError::invalid(path, go_quote(name), msg));
    }
}

const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// Kubernetes' `ValidateObjectMeta` for a namespaced object named by a DNS-1123 subdomain
/// (plus the core finalizer-name rule).
pub(crate) fn validate_object_meta(meta: &ObjectMeta, path: &Path, errs: &mut Vec<FieldError>) {
    if !meta.generate_name.is_empty() {
        for msg in name_is_dns_subdomain(&meta.generate_name, true) {
            errs.push(FieldError::invalid(
                &path.child("generateName"),
                go_quote(&meta.generate_name),
                msg,
            ));
        }
    }
    validate_object_name(&meta.name, &path.child("name"), errs);
    if meta.namespace.is_empty() {
        errs.push(FieldError::required(&path.child("namespace"), ""));
    } else {
        for msg in name_is_dns_label(&meta.namespace, false) {
            errs.push(FieldError::invalid(
                &path.child("namespace"),
                go_quote(&meta.namespace),
                msg,
            ));
        }
    }
    validate_nonnegative(meta.generation, &path.child("generation"), errs);
    validate_labels(&meta.labels, &path.child("labels"), errs);
    validate_annotations(&meta.annotations, &path.child("annotations"), errs);
    validate_owner_references(meta, &path.child("ownerReferences"), errs);
    validate_finalizers(&meta.finalizers, &path.child("finalizers"), errs);
}

fn validate_owner_references(meta: &ObjectMeta, path: &Path, errs: &mut Vec<FieldError>) {
    let mut first_controller: Option<String> = None;
    for r in &meta.owner_references {
        let version = r.api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                go_quote(&r.api_version),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("kind"),
                go_quote(&r.kind),
                "must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("name"),
                go_quote(&r.name),
                "must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("uid"),
                go_quote(&r.uid),
                "must not be empty",
            ));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                format!("{r:?}"),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.is_controller() {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    format!("{:?}", meta.owner_references),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
}

/// Kubernetes' `ValidateFinalizers` (at the list path), then the core rule of
/// `validateKubeFinalizerName` (at each index): qualified names, and a name without a `/` must
/// be a standard finalizer.
fn validate_finalizers(finalizers: &[String], path: &Path, errs: &mut Vec<FieldError>) {
    for f in finalizers {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, go_quote(f), msg));
        }
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        let list: Vec<String> = finalizers.iter().map(|f| go_quote(f)).collect();
        errs.push(FieldError::invalid(
            path,
            format!("[]string{{{}}}", list.join(", ")),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, f) in finalizers.iter().enumerate() {
        let p = path.index(i);
        let msgs = is_qualified_name(f);
        if msgs.is_empty() {
            if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
                errs.push(FieldError::invalid(
                    &p,
                    go_quote(f),
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        } else {
            for msg in msgs {
                errs.push(FieldError::invalid(&p, go_quote(f), msg));
            }
        }
    }
}

fn go_optional_i64(v: Option<i64>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// Kubernetes' `ValidateObjectMetaUpdate`: name, namespace, uid, creation and deletion times are
/// immutable; resourceVersion is required; generation may not go down.
pub(crate) fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if old.deletion_timestamp.is_some() {
        let old_set: BTreeSet<&String> = old.finalizers.iter().collect();
        let extra: BTreeSet<&String> = new
            .finalizers
            .iter()
            .filter(|f| !old_set.contains(f))
            .collect();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    if new.resource_version.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("resourceVersion"),
            go_quote(&new.resource_version),
            "must be specified for an update",
        ));
    }
    if new.generation < old.generation {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            new.generation.to_string(),
            "must not be decremented",
        ));
    }
    let immutable = |field: &str, changed: bool, value: String, errs: &mut Vec<FieldError>| {
        if changed {
            errs.push(FieldError::invalid(
                &path.child(field),
                value,
                FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
    };
    immutable("name", new.name != old.name, go_quote(&new.name), errs);
    immutable(
        "namespace",
        new.namespace != old.namespace,
        go_quote(&new.namespace),
        errs,
    );
    immutable("uid", new.uid != old.uid, go_quote(&new.uid), errs);
    immutable(
        "creationTimestamp",
        new.creation_timestamp != old.creation_timestamp,
        go_time(new.creation_timestamp),
        errs,
    );
    immutable(
        "deletionTimestamp",
        new.deletion_timestamp != old.deletion_timestamp,
        new.deletion_timestamp
            .map_or_else(|| "null".to_string(), |t| go_time(Some(t))),
        errs,
    );
    immutable(
        "deletionGracePeriodSeconds",
        new.deletion_grace_period_seconds != old.deletion_grace_period_seconds,
        go_optional_i64(new.deletion_grace_period_seconds),
        errs,
    );
    validate_labels(&new.labels, &path.child("labels"), errs);
    validate_annotations(&new.annotations, &path.child("annotations"), errs);
    validate_owner_references(new, &path.child("ownerReferences"), errs);
}

/// Value of a `spec.selector` for the immutability error.
pub(crate) fn selector_value(selector: Option<&LabelSelector>) -> String {
    go_label_selector(selector)
}
