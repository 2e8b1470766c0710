//! Pod templates and pod specs (Kubernetes: `ValidatePodTemplateSpec`, `ValidatePodSpec` and
//! their helpers in `pkg/apis/core/validation/validation.go`), and the 1.3-era node affinity
//! annotation `scheduler.alpha.kubernetes.io/affinity` (validated with the 1.5 rules).
//!
//! This module owns the template and the pod-level fields (host network, restart and DNS
//! policies, DNS config, tolerations); submodules own `container` (containers, ports, env,
//! volumes and mounts, probes), `resources` (resource requirements), `affinity` (node selectors
//! of `spec.affinity`) and `annotations` (pod-specific annotations and the 1.3-era tolerations
//! and affinity annotations).

use serde_json::Value;

use super::meta::{validate_annotations, validate_label_name, validate_labels};
use super::node::validate_taint_effect;
use super::{FieldError, Path, go_quote};

mod affinity;
mod annotations;
mod container;
mod resources;
mod security;

use crate::labels::{inclusive_range_error, is_label_value, name_is_dns_subdomain};
use crate::model::{ObjectMeta, PodSpec, PodTemplateSpec, Toleration};
use affinity::validate_node_selector;
pub use annotations::{
    AFFINITY_ANNOTATION_KEY, AffinityAnnotationError, AnnotationJsonError,
    node_affinity_from_annotation,
};
use annotations::{validate_affinity_annotation, validate_pod_specific_annotations};
use container::{
    validate_containers, validate_ephemeral_containers, validate_init_containers, validate_volumes,
};

/// Validates a pod template at `path` (Kubernetes: `ValidatePodTemplateSpec`); an absent
/// template or spec is validated as an empty one, as Kubernetes' internal type would be.
pub(crate) fn validate_pod_template(
    template: Option<&PodTemplateSpec>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let empty_meta = ObjectMeta::default();
    let empty_spec = PodSpec::default();
    let meta = template
        .and_then(|t| t.metadata.as_ref())
        .unwrap_or(&empty_meta);
    let spec = template
        .and_then(|t| t.spec.as_ref())
        .unwrap_or(&empty_spec);
    validate_labels(&meta.labels, &path.child("labels"), errs);
    let annotations_path = path.child("annotations");
    validate_annotations(&meta.annotations, &annotations_path, errs);
    validate_pod_specific_annotations(&meta.annotations, spec, &annotations_path, errs);
    validate_affinity_annotation(&meta.annotations, &annotations_path, errs);
    validate_pod_spec(spec, &path.child("spec"), errs);
    if !spec.ephemeral_containers.is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// Kubernetes' `ValidatePodSpec` (for a spec embedded in a template).
pub(crate) fn validate_pod_spec(spec: &PodSpec, path: &Path, errs: &mut Vec<FieldError>) {
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(
            &path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let volumes = validate_volumes(&spec.volumes, &path.child("volumes"), errs);
    validate_containers(&spec.containers, &volumes, &path.child("containers"), errs);
    validate_init_containers(
        &spec.init_containers,
        &spec.containers,
        &volumes,
        &path.child("initContainers"),
        errs,
    );
    validate_ephemeral_containers(spec, &volumes, &path.child("ephemeralContainers"), errs);
    validate_host_network_deps(spec, path, errs);
    if let Some(sc) = &spec.security_context {
        security::validate_pod_security_context(sc, &path.child("securityContext"), errs);
    }
    validate_restart_policy(&spec.restart_policy, &path.child("restartPolicy"), errs);
    validate_dns_policy(&spec.dns_policy, &path.child("dnsPolicy"), errs);
    validate_labels(&spec.node_selector, &path.child("nodeSelector"), errs);
    if let Some(required) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        validate_node_selector(
            required,
            &path
                .child("affinity")
                .child("nodeAffinity")
                .child("requiredDuringSchedulingIgnoredDuringExecution"),
            errs,
        );
    }
    validate_dns_config(spec, path, errs);
    let named = [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
    ];
    for (field, value) in named {
        if !value.is_empty() {
            for msg in name_is_dns_subdomain(value, false) {
                errs.push(FieldError::invalid(
                    &path.child(field),
                    go_quote(value),
                    msg,
                ));
            }
        }
    }
    if let Some(v) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&v)
    {
        errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            v.to_string(),
            inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    if !spec.tolerations.is_empty() {
        validate_tolerations(&spec.tolerations, &path.child("tolerations"), errs);
    }
    if !spec.priority_class_name.is_empty() {
        for msg in name_is_dns_subdomain(&spec.priority_class_name, false) {
            errs.push(FieldError::invalid(
                &path.child("priorityClassName"),
                go_quote(&spec.priority_class_name),
                msg,
            ));
        }
    }
}

fn validate_host_network_deps(spec: &PodSpec, path: &Path, errs: &mut Vec<FieldError>) {
    if !spec.host_network {
        return;
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().enumerate() {
            if port.host_port != 0 && port.host_port != port.container_port {
                errs.push(FieldError::invalid(
                    &path
                        .child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    port.host_port.to_string(),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

fn validate_restart_policy(policy: &str, path: &Path, errs: &mut Vec<FieldError>) {
    match policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(path, "")),
        other => errs.push(FieldError::not_supported(
            path,
            go_quote(other),
            &["Always", "OnFailure", "Never"],
        )),
    }
}

fn validate_dns_policy(policy: &str, path: &Path, errs: &mut Vec<FieldError>) {
    match policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(path, "")),
        other => errs.push(FieldError::not_supported(
            path,
            go_quote(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
}

fn validate_dns_config(spec: &PodSpec, path: &Path, errs: &mut Vec<FieldError>) {
    if spec.dns_policy != "None" {
        return;
    }
    let at = path.child("dnsConfig");
    match spec.extra_fields.get("dnsConfig") {
        None | Some(Value::Null) => errs.push(FieldError::required(
            &at,
            "must provide `dnsConfig` when `dnsPolicy` is None",
        )),
        Some(config) => {
            let has_nameserver = config
                .get("nameservers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if !has_nameserver {
                errs.push(FieldError::required(
                    &at.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
            }
        }
    }
}

/// Kubernetes' `ValidateTolerations`.
pub(crate) fn validate_tolerations(
    tolerations: &[Toleration],
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        if !t.key.is_empty() {
            validate_label_name(&t.key, &p.child("key"), errs);
        }
        if t.key.is_empty() && t.operator != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                go_quote(&t.operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && t.effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                go_quote(&t.effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match t.operator.as_str() {
            "Equal" | "" => {
                let msgs = is_label_value(&t.value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        go_quote(&t.value),
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !t.value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        go_quote(&t.value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &p.child("operator"),
                go_quote(other),
                &["Equal", "Exists"],
            )),
        }
        // An empty effect matches every taint effect.
        validate_taint_effect(&t.effect, true, &p.child("effect"), errs);
    }
}
