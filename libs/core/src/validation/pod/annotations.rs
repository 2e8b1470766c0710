//! Annotations of a pod template with a meaning of their own (Kubernetes:
//! `ValidatePodSpecificAnnotations`: mirror pod, tolerations, deletion cost, seccomp, AppArmor),
//! and the 1.3-era JSON annotations `scheduler.alpha.kubernetes.io/tolerations` and
//! `scheduler.alpha.kubernetes.io/affinity` (validated with the 1.5 rules), read as Go's
//! `encoding/json` would.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Toleration,
};
use crate::validation::{FieldError, Path, go_quote};

use super::affinity::validate_node_selector_requirement;
use super::container::validate_local_descending_path;
use super::validate_tolerations;

/// The 1.3-era template annotation holding an `Affinity` as JSON.
pub const AFFINITY_ANNOTATION_KEY: &str = "scheduler.alpha.kubernetes.io/affinity";
const TOLERATIONS_ANNOTATION_KEY: &str = "scheduler.alpha.kubernetes.io/tolerations";
const MIRROR_POD_ANNOTATION_KEY: &str = "kubernetes.io/config.mirror";
const POD_DELETION_COST_ANNOTATION_KEY: &str = "controller.kubernetes.io/pod-deletion-cost";
const SECCOMP_POD_ANNOTATION_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER_ANNOTATION_PREFIX: &str =
    "container.apparmor.security.beta.kubernetes.io/";

fn pod_has_container(spec: &PodSpec, name: &str) -> bool {
    spec.containers
        .iter()
        .chain(&spec.init_containers)
        .chain(&spec.ephemeral_containers)
        .any(|c| c.name == name)
}

fn validate_seccomp_profile(profile: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if matches!(profile, "runtime/default" | "docker/default" | "unconfined") {
        return;
    }
    if let Some(local) = profile.strip_prefix("localhost/") {
        validate_local_descending_path(local, path, errs);
        return;
    }
    errs.push(FieldError::invalid(
        path,
        go_quote(profile),
        "must be a valid seccomp profile",
    ));
}

/// Kubernetes' `ValidatePodSpecificAnnotations`: mirror pod, tolerations, deletion cost,
/// seccomp and AppArmor annotations.
pub(super) fn validate_pod_specific_annotations(
    annotations: &BTreeMap<String, String>,
    spec: &PodSpec,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if let Some(v) = annotations.get(MIRROR_POD_ANNOTATION_KEY)
        && spec.node_name.is_empty()
    {
        errs.push(FieldError::invalid(
            &path.key(MIRROR_POD_ANNOTATION_KEY),
            go_quote(v),
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(text) = annotations.get(TOLERATIONS_ANNOTATION_KEY)
        && !text.is_empty()
    {
        match tolerations_from_json(text) {
            Ok(tolerations) => {
                if !tolerations.is_empty() {
                    validate_tolerations(
                        &tolerations,
                        &path.child(TOLERATIONS_ANNOTATION_KEY),
                        errs,
                    );
                }
            }
            Err(e) => errs.push(FieldError::invalid(
                path,
                go_quote(TOLERATIONS_ANNOTATION_KEY),
                e.to_string(),
            )),
        }
    }
    if let Some(v) = annotations.get(POD_DELETION_COST_ANNOTATION_KEY) {
        let first_ok = match v.as_bytes().first() {
            Some(b'-') | Some(b'1'..=b'9') => true,
            Some(b'0') => v == "0",
            _ => false,
        };
        if !first_ok || v.parse::<i32>().is_err() {
            errs.push(FieldError::invalid(
                &path.key(POD_DELETION_COST_ANNOTATION_KEY),
                go_quote(v),
                "must be a 32bit integer",
            ));
        }
    }
    if let Some(p) = annotations.get(SECCOMP_POD_ANNOTATION_KEY) {
        validate_seccomp_profile(p, &path.child(SECCOMP_POD_ANNOTATION_KEY), errs);
    }
    for (k, p) in annotations {
        if k.starts_with(SECCOMP_CONTAINER_ANNOTATION_PREFIX) {
            validate_seccomp_profile(p, &path.child(k), errs);
        }
    }
    for (k, p) in annotations {
        let Some(container) = k.strip_prefix(APPARMOR_CONTAINER_ANNOTATION_PREFIX) else {
            continue;
        };
        if !pod_has_container(spec, container) {
            errs.push(FieldError::invalid(
                &path.key(k),
                go_quote(container),
                "container not found",
            ));
        }
        let format_ok = matches!(p.as_str(), "" | "runtime/default" | "unconfined")
            || p.starts_with("localhost/");
        if !format_ok {
            errs.push(FieldError::invalid(
                &path.key(k),
                go_quote(p),
                format!("invalid AppArmor profile name: {}", go_quote(p)),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON in annotations (tolerations, affinity), read as Go's encoding/json would
// ---------------------------------------------------------------------------------------------

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn unmarshal_error(v: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field {field} of type {go_type}",
        json_type(v)
    )
}

fn json_string(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    owner: &str,
) -> Result<String, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(unmarshal_error(other, &format!("{owner}.{key}"), "string")),
    }
}

fn json_array<'a>(
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
    owner: &str,
    go_type: &str,
) -> Result<&'a [Value], String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(unmarshal_error(other, &format!("{owner}.{key}"), go_type)),
    }
}

fn json_object<'a>(
    v: &'a Value,
    field: &str,
    go_type: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Object(o) => Ok(Some(o)),
        other => Err(unmarshal_error(other, field, go_type)),
    }
}

fn tolerations_from_json(text: &str) -> Result<Vec<Toleration>, AnnotationJsonError> {
    let v: Value = serde_json::from_str(text)?;
    let items = match &v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []core.Toleration",
                json_type(other)
            )
            .into());
        }
    };
    let mut out = Vec::new();
    for item in items {
        let Some(obj) = json_object(item, "Toleration", "core.Toleration")? else {
            out.push(Toleration::default());
            continue;
        };
        let toleration_seconds = match obj.get("tolerationSeconds") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                return Err(unmarshal_error(other, "Toleration.tolerationSeconds", "int64").into());
            }
        };
        out.push(Toleration {
            key: json_string(obj, "key", "Toleration")?,
            operator: json_string(obj, "operator", "Toleration")?,
            value: json_string(obj, "value", "Toleration")?,
            effect: json_string(obj, "effect", "Toleration")?,
            toleration_seconds,
            ..Default::default()
        });
    }
    Ok(out)
}

/// A JSON annotation (`scheduler.alpha.kubernetes.io/affinity` or `.../tolerations`) that Go's
/// `encoding/json` would not read into its type. Printed as the validation error's detail.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationJsonError {
    /// The text is not JSON.
    #[error("{0}")]
    Syntax(#[from] serde_json::Error),
    /// JSON of another shape than the type's, in Go's words (`json: cannot unmarshal …`).
    #[error("{0}")]
    Shape(String),
}

impl From<String> for AnnotationJsonError {
    fn from(message: String) -> Self {
        AnnotationJsonError::Shape(message)
    }
}

/// The `scheduler.alpha.kubernetes.io/affinity` annotation is not a valid `Affinity` JSON.
pub type AffinityAnnotationError = AnnotationJsonError;

struct AnnotationAffinity {
    required: Option<NodeSelector>,
    preferred: Vec<(Value, NodeSelectorTerm)>,
}

fn requirement_from_json(v: &Value) -> Result<NodeSelectorRequirement, String> {
    let Some(obj) = json_object(
        v,
        "NodeSelectorTerm.matchExpressions",
        "api.NodeSelectorRequirement",
    )?
    else {
        return Ok(NodeSelectorRequirement::default());
    };
    let mut values = Vec::new();
    for item in json_array(obj, "values", "NodeSelectorRequirement", "[]string")? {
        match item {
            Value::String(s) => values.push(s.clone()),
            Value::Null => values.push(String::new()),
            other => {
                return Err(unmarshal_error(
                    other,
                    "NodeSelectorRequirement.values",
                    "string",
                ));
            }
        }
    }
    Ok(NodeSelectorRequirement {
        key: json_string(obj, "key", "NodeSelectorRequirement")?,
        operator: json_string(obj, "operator", "NodeSelectorRequirement")?,
        values,
        ..Default::default()
    })
}

/// A term as the 1.5 API knew it: `matchExpressions` only (`matchFields` came later and was an
/// unknown field then).
fn term_from_json(v: &Value, field: &str) -> Result<NodeSelectorTerm, String> {
    let Some(obj) = json_object(v, field, "api.NodeSelectorTerm")? else {
        return Ok(NodeSelectorTerm::default());
    };
    let match_expressions = json_array(
        obj,
        "matchExpressions",
        "NodeSelectorTerm",
        "[]api.NodeSelectorRequirement",
    )?
    .iter()
    .map(requirement_from_json)
    .collect::<Result<_, _>>()?;
    Ok(NodeSelectorTerm {
        match_expressions,
        ..Default::default()
    })
}

fn parse_affinity_annotation(text: &str) -> Result<AnnotationAffinity, AnnotationJsonError> {
    let v: Value = serde_json::from_str(text)?;
    let mut out = AnnotationAffinity {
        required: None,
        preferred: Vec::new(),
    };
    let obj = match &v {
        Value::Null => return Ok(out),
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type api.Affinity",
                json_type(other)
            )
            .into());
        }
    };
    let Some(na) = obj.get("nodeAffinity") else {
        return Ok(out);
    };
    let Some(na) = json_object(na, "Affinity.nodeAffinity", "api.NodeAffinity")? else {
        return Ok(out);
    };
    if let Some(req) = na.get("requiredDuringSchedulingIgnoredDuringExecution")
        && let Some(req) = json_object(
            req,
            "NodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            "api.NodeSelector",
        )?
    {
        let terms = json_array(
            req,
            "nodeSelectorTerms",
            "NodeSelector",
            "[]api.NodeSelectorTerm",
        )?
        .iter()
        .map(|t| term_from_json(t, "NodeSelector.nodeSelectorTerms"))
        .collect::<Result<_, _>>()?;
        out.required = Some(NodeSelector {
            node_selector_terms: terms,
            ..Default::default()
        });
    }
    for item in json_array(
        na,
        "preferredDuringSchedulingIgnoredDuringExecution",
        "NodeAffinity",
        "[]api.PreferredSchedulingTerm",
    )? {
        let Some(obj) = json_object(
            item,
            "PreferredSchedulingTerm",
            "api.PreferredSchedulingTerm",
        )?
        else {
            out.preferred
                .push((Value::from(0), NodeSelectorTerm::default()));
            continue;
        };
        let weight = match obj.get("weight") {
            None | Some(Value::Null) => Value::from(0),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|w| i32::try_from(w).is_ok()) => {
                Value::Number(n.clone())
            }
            Some(other) => {
                return Err(
                    unmarshal_error(other, "PreferredSchedulingTerm.weight", "int32").into(),
                );
            }
        };
        let preference = match obj.get("preference") {
            Some(p) => term_from_json(p, "PreferredSchedulingTerm.preference")?,
            None => NodeSelectorTerm::default(),
        };
        out.preferred.push((weight, preference));
    }
    Ok(out)
}

/// Reads the node affinity of a pod template's `scheduler.alpha.kubernetes.io/affinity`
/// annotation (Kubernetes 1.3–1.5: `GetAffinityFromPodAnnotations`): `Ok(None)` when the
/// annotation is absent, empty, `null` or has no `nodeAffinity`. The required terms are typed
/// (with `matchExpressions` only, as in 1.5); the preferred terms are kept verbatim in the
/// result's `extra_fields`.
pub fn node_affinity_from_annotation(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<NodeAffinity>, AffinityAnnotationError> {
    let Some(text) = annotations.get(AFFINITY_ANNOTATION_KEY) else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    let parsed = parse_affinity_annotation(text)?;
    let value: Value = serde_json::from_str(text)?;
    let node_affinity = value.get("nodeAffinity").filter(|v| !v.is_null());
    let Some(node_affinity) = node_affinity else {
        return Ok(None);
    };
    let mut extra = crate::model::Extra::new();
    if let Some(p) = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") {
        extra.insert(
            "preferredDuringSchedulingIgnoredDuringExecution".to_string(),
            p.clone(),
        );
    }
    Ok(Some(NodeAffinity {
        required_during_scheduling_ignored_during_execution: parsed.required,
        extra_fields: extra,
    }))
}

/// A node selector term with the 1.5 rule: at least one `matchExpressions` requirement.
fn validate_term_1_5(term: &NodeSelectorTerm, path: &Path, errs: &mut Vec<FieldError>) {
    if term.match_expressions.is_empty() {
        errs.push(FieldError::required(
            &path.child("matchExpressions"),
            "must have at least one node selector requirement",
        ));
        return;
    }
    for (j, req) in term.match_expressions.iter().enumerate() {
        validate_node_selector_requirement(
            req,
            false,
            &path.child("matchExpressions").index(j),
            errs,
        );
    }
}

/// The affinity annotation with the 1.5 rules (errors under
/// `….annotations.scheduler.alpha.kubernetes.io/affinity.…`).
pub(super) fn validate_affinity_annotation(
    annotations: &BTreeMap<String, String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let Some(text) = annotations.get(AFFINITY_ANNOTATION_KEY) else {
        return;
    };
    if text.is_empty() {
        return;
    }
    let parsed = match parse_affinity_annotation(text) {
        Ok(p) => p,
        Err(e) => {
            errs.push(FieldError::invalid(
                path,
                go_quote(AFFINITY_ANNOTATION_KEY),
                e.to_string(),
            ));
            return;
        }
    };
    let na_path = path.child(AFFINITY_ANNOTATION_KEY).child("nodeAffinity");
    if let Some(required) = &parsed.required {
        let terms_path = na_path
            .child("requiredDuringSchedulingIgnoredDuringExecution")
            .child("nodeSelectorTerms");
        if required.node_selector_terms.is_empty() {
            errs.push(FieldError::required(
                &terms_path,
                "must have at least one node selector term",
            ));
        }
        for (i, term) in required.node_selector_terms.iter().enumerate() {
            validate_term_1_5(term, &terms_path.index(i), errs);
        }
    }
    let preferred_path = na_path.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (i, (weight, term)) in parsed.preferred.iter().enumerate() {
        let w = weight.as_i64().unwrap_or(0);
        if !(1..=100).contains(&w) {
            errs.push(FieldError::invalid(
                &preferred_path.index(i).child("weight"),
                w.to_string(),
                "must be in the range 1-100",
            ));
        }
        validate_term_1_5(term, &preferred_path.index(i).child("preference"), errs);
    }
}
