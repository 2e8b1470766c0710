//! Pod templates and pod specs (Kubernetes: `ValidatePodTemplateSpec`, `ValidatePodSpec` and
//! their helpers in `pkg/apis/core/validation/validation.go`), and the 1.3-era node affinity
//! annotation `scheduler.alpha.kubernetes.io/affinity` (validated with the 1.5 rules).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::meta::{
    validate_annotations, validate_label_name, validate_labels, validate_nonnegative,
};
use super::{FieldError, Path, go_quote};
use crate::labels::{
    inclusive_range_error, is_config_map_key, is_dns1123_label, is_env_var_name,
    is_http_header_name, is_label_value, is_qualified_name, is_valid_port_name, is_valid_port_num,
    name_is_dns_subdomain,
};
use crate::model::{
    Container, EnvVar, EnvVarSource, IntOrString, KeySelector, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, ObjectMeta, PodSpec,
    PodTemplateSpec, Probe, ResourceFieldSelector, ResourceRequirements, Toleration, Volume,
    VolumeMount,
};
use crate::quantity::Quantity;

/// The 1.3-era template annotation holding an `Affinity` as JSON.
pub const AFFINITY_ANNOTATION_KEY: &str = "scheduler.alpha.kubernetes.io/affinity";
const TOLERATIONS_ANNOTATION_KEY: &str = "scheduler.alpha.kubernetes.io/tolerations";
const MIRROR_POD_ANNOTATION_KEY: &str = "kubernetes.io/config.mirror";
const POD_DELETION_COST_ANNOTATION_KEY: &str = "controller.kubernetes.io/pod-deletion-cost";
const SECCOMP_POD_ANNOTATION_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER_ANNOTATION_PREFIX: &str =
    "container.apparmor.security.beta.kubernetes.io/";

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

/// Volume names: required, DNS-1123 labels, unique. Returns the names of the valid volumes
/// (a mount naming an invalid volume is `Not found`, as in Kubernetes).
fn validate_volumes(
    volumes: &[Volume],
    path: &Path,
    errs: &mut Vec<FieldError>,
) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let name_path = path.index(i).child("name");
        let mut el = Vec::new();
        if v.name.is_empty() {
            el.push(FieldError::required(&name_path, ""));
        } else {
            for msg in is_dns1123_label(&v.name) {
                el.push(FieldError::invalid(&name_path, go_quote(&v.name), msg));
            }
        }
        if names.contains(&v.name) {
            el.push(FieldError::duplicate(&name_path, go_quote(&v.name)));
        }
        if el.is_empty() {
            names.insert(v.name.clone());
        } else {
            errs.extend(el);
        }
    }
    names
}

fn validate_containers(
    containers: &[Container],
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if containers.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(c, volumes, &p, errs);
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), go_quote(&c.name)));
        }
        validate_probes(c, &p, errs);
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    check_host_port_conflicts(containers.iter().enumerate(), path, errs);
}

fn validate_probes(c: &Container, p: &Path, errs: &mut Vec<FieldError>) {
    if let Some(probe) = &c.liveness_probe {
        let pp = p.child("livenessProbe");
        validate_probe(probe, &pp, errs);
        if probe.success_threshold != 1 {
            errs.push(FieldError::invalid(
                &pp.child("successThreshold"),
                probe.success_threshold.to_string(),
                "must be 1",
            ));
        }
    }
    if let Some(probe) = &c.readiness_probe {
        let pp = p.child("readinessProbe");
        validate_probe(probe, &pp, errs);
        if let Some(g) = probe.termination_grace_period_seconds {
            errs.push(FieldError::invalid(
                &pp.child("terminationGracePeriodSeconds"),
                g.to_string(),
                "must not be set for readinessProbes",
            ));
        }
    }
    if let Some(probe) = &c.startup_probe {
        let pp = p.child("startupProbe");
        validate_probe(probe, &pp, errs);
        if probe.success_threshold != 1 {
            errs.push(FieldError::invalid(
                &pp.child("successThreshold"),
                probe.success_threshold.to_string(),
                "must be 1",
            ));
        }
    }
}

fn validate_init_containers(
    init: &[Container],
    regular: &[Container],
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in init.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(c, volumes, &p, errs);
        let mut restart_always = false;
        if let Some(policy) = &c.restart_policy {
            if policy != "Always" {
                errs.push(FieldError::not_supported(
                    &p.child("restartPolicy"),
                    go_quote(policy),
                    &["Always"],
                ));
            }
            restart_always = policy == "Always";
        }
        if names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), go_quote(&c.name)));
        } else if !c.name.is_empty() {
            names.insert(&c.name);
        }
        // Kubernetes checks each init container on its own, as a list of one.
        check_host_port_conflicts(std::iter::once((0, c)), path, errs);
        if restart_always {
            validate_probes(c, &p, errs);
        } else {
            let forbidden = [
                ("lifecycle", c.extra_fields.contains_key("lifecycle")),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ];
            for (field, set) in forbidden {
                if set {
                    errs.push(FieldError::forbidden(
                        &p.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

fn validate_ephemeral_containers(
    spec: &PodSpec,
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut names: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(&spec.init_containers)
        .map(|c| c.name.as_str())
        .collect();
    for (i, c) in spec.ephemeral_containers.iter().enumerate() {
        let p = path.index(i);
        validate_container_common(c, volumes, &p, errs);
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), go_quote(&c.name)));
        }
        let resources_set = c.resources.as_ref().is_some_and(|r| {
            !r.limits.is_empty() || !r.requests.is_empty() || !r.extra_fields.is_empty()
        });
        let disallowed = [
            ("ports", !c.ports.is_empty()),
            ("resources", resources_set),
            ("restartPolicy", c.restart_policy.is_some()),
            ("livenessProbe", c.liveness_probe.is_some()),
            ("readinessProbe", c.readiness_probe.is_some()),
            ("startupProbe", c.startup_probe.is_some()),
            ("lifecycle", c.extra_fields.contains_key("lifecycle")),
        ];
        for (field, set) in disallowed {
            if set {
                errs.push(FieldError::forbidden(
                    &p.child(field),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (j, m) in c.volume_mounts.iter().enumerate() {
            if !m.sub_path.is_empty() {
                errs.push(FieldError::forbidden(
                    &p.child("volumeMounts").index(j).child("subPath"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
}

/// Kubernetes' `checkHostPortConflicts`: a `protocol/hostIP/hostPort` may be used once.
fn check_host_port_conflicts<'a>(
    containers: impl Iterator<Item = (usize, &'a Container)>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers {
        for (pi, port) in c.ports.iter().enumerate() {
            if port.host_port == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", port.protocol, port.host_ip, port.host_port);
            if seen.contains(&key) {
                errs.push(FieldError::duplicate(
                    &path.index(ci).child("ports").index(pi).child("hostPort"),
                    go_quote(&key),
                ));
            } else {
                seen.insert(key);
            }
        }
    }
}

/// Kubernetes' `validateContainerCommon`.
fn validate_container_common(
    c: &Container,
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        for msg in is_dns1123_label(&c.name) {
            errs.push(FieldError::invalid(&name_path, go_quote(&c.name), msg));
        }
    }
    if c.image.is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    match c.termination_message_policy.as_str() {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &path.child("terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            &path.child("terminationMessagePolicy"),
            go_quote(other),
            &["File", "FallbackToLogsOnError"],
        )),
    }
    validate_container_ports(c, &path.child("ports"), errs);
    validate_env(&c.env, &path.child("env"), errs);
    validate_volume_mounts(c, volumes, &path.child("volumeMounts"), errs);
    match c.image_pull_policy.as_str() {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(&path.child("imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &path.child("imagePullPolicy"),
            go_quote(other),
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = &c.resources {
        validate_resources(r, &path.child("resources"), errs);
    }
}

fn validate_container_ports(c: &Container, path: &Path, errs: &mut Vec<FieldError>) {
    let mut names = BTreeSet::new();
    for (i, port) in c.ports.iter().enumerate() {
        let p = path.index(i);
        if !port.name.is_empty() {
            let msgs = is_valid_port_name(&port.name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(
                        &p.child("name"),
                        go_quote(&port.name),
                        msg,
                    ));
                }
            } else if !names.insert(port.name.as_str()) {
                errs.push(FieldError::duplicate(
                    &p.child("name"),
                    go_quote(&port.name),
                ));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            for msg in is_valid_port_num(i64::from(port.container_port)) {
                errs.push(FieldError::invalid(
                    &p.child("containerPort"),
                    port.container_port.to_string(),
                    msg,
                ));
            }
        }
        if port.host_port != 0 {
            for msg in is_valid_port_num(i64::from(port.host_port)) {
                errs.push(FieldError::invalid(
                    &p.child("hostPort"),
                    port.host_port.to_string(),
                    msg,
                ));
            }
        }
        match port.protocol.as_str() {
            "TCP" | "UDP" | "SCTP" => {}
            "" => errs.push(FieldError::required(&p.child("protocol"), "")),
            other => errs.push(FieldError::not_supported(
                &p.child("protocol"),
                go_quote(other),
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
}

/// The pod fields an environment variable may reference (`fieldRef.fieldPath`), sorted.
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// The container resources an environment variable may reference, sorted.
const ENV_RESOURCE_FIELDS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

fn validate_env(env: &[EnvVar], path: &Path, errs: &mut Vec<FieldError>) {
    for (i, ev) in env.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            for msg in is_env_var_name(&ev.name) {
                errs.push(FieldError::invalid(
                    &p.child("name"),
                    go_quote(&ev.name),
                    msg,
                ));
            }
        }
        if let Some(from) = &ev.value_from {
            validate_env_var_source(from, &ev.value, &p.child("valueFrom"), errs);
        }
    }
}

fn validate_env_var_source(
    from: &EnvVarSource,
    value: &str,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut sources = 0;
    if let Some(f) = &from.field_ref {
        sources += 1;
        validate_object_field_selector(f, &path.child("fieldRef"), errs);
    }
    if let Some(r) = &from.resource_field_ref {
        sources += 1;
        validate_resource_field_selector(r, &path.child("resourceFieldRef"), errs);
    }
    if let Some(k) = &from.config_map_key_ref {
        sources += 1;
        validate_key_selector(k, &path.child("configMapKeyRef"), errs);
    }
    if let Some(k) = &from.secret_key_ref {
        sources += 1;
        validate_key_selector(k, &path.child("secretKeyRef"), errs);
    }
    if sources == 0 {
        errs.push(FieldError::invalid(
            path,
            go_quote(""),
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !value.is_empty() {
        errs.push(FieldError::invalid(
            path,
            go_quote(""),
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        errs.push(FieldError::invalid(
            path,
            go_quote(""),
            "may not have more than one field specified at a time",
        ));
    }
}

/// Kubernetes' `fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['k']` → (path, k).
fn split_subscripted(field_path: &str) -> Option<(&str, &str)> {
    let s = field_path.strip_suffix("']")?;
    let (path, subscript) = s.split_once("['")?;
    (!path.is_empty()).then_some((path, subscript))
}

/// Kubernetes' `ConvertDownwardAPIFieldLabel` for `v1`: the internal field path, or the error.
fn convert_downward_api_field(api_version: &str, field_path: &str) -> Result<String, String> {
    if api_version != "v1" {
        return Err(format!("unsupported pod version: {api_version}"));
    }
    if let Some((path, _)) = split_subscripted(field_path) {
        return match path {
            "metadata.annotations" | "metadata.labels" => Ok(field_path.to_string()),
            _ => Err(format!(
                "field label does not support subscript: {field_path}"
            )),
        };
    }
    match field_path {
        "metadata.annotations"
        | "metadata.labels"
        | "metadata.name"
        | "metadata.namespace"
        | "metadata.uid"
        | "spec.nodeName"
        | "spec.restartPolicy"
        | "spec.serviceAccountName"
        | "spec.schedulerName"
        | "status.phase"
        | "status.hostIP"
        | "status.hostIPs"
        | "status.podIP"
        | "status.podIPs" => Ok(field_path.to_string()),
        "spec.host" => Ok("spec.nodeName".to_string()),
        other => Err(format!("field label not supported: {other}")),
    }
}

fn validate_object_field_selector(
    f: &ObjectFieldSelector,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if f.api_version.is_empty() {
        errs.push(FieldError::required(&path.child("apiVersion"), ""));
        return;
    }
    if f.field_path.is_empty() {
        errs.push(FieldError::required(&path.child("fieldPath"), ""));
        return;
    }
    let internal = match convert_downward_api_field(&f.api_version, &f.field_path) {
        Ok(p) => p,
        Err(e) => {
            errs.push(FieldError::invalid(
                &path.child("fieldPath"),
                go_quote(&f.field_path),
                format!("error converting fieldPath: {e}"),
            ));
            return;
        }
    };
    if let Some((field, subscript)) = split_subscripted(&internal) {
        let key = if field == "metadata.annotations" {
            subscript.to_lowercase()
        } else {
            subscript.to_string()
        };
        for msg in is_qualified_name(&key) {
            errs.push(FieldError::invalid(path, go_quote(&key), msg));
        }
    } else if !ENV_FIELD_PATHS.contains(&internal.as_str()) {
        errs.push(FieldError::not_supported(
            &path.child("fieldPath"),
            go_quote(&internal),
            &ENV_FIELD_PATHS,
        ));
    }
}

fn validate_resource_field_selector(
    r: &ResourceFieldSelector,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    if r.resource.is_empty() {
        errs.push(FieldError::required(&path.child("resource"), ""));
    } else if !ENV_RESOURCE_FIELDS.contains(&r.resource.as_str())
        && !r.resource.starts_with("requests.hugepages-")
        && !r.resource.starts_with("limits.hugepages-")
    {
        errs.push(FieldError::not_supported(
            &path.child("resource"),
            go_quote(&r.resource),
            &ENV_RESOURCE_FIELDS,
        ));
    }
    if r.divisor.is_empty() {
        return;
    }
    let divisor = match Quantity::parse(&r.divisor) {
        Ok(q) => q,
        Err(e) => {
            errs.push(FieldError::invalid(
                &path.child("divisor"),
                go_quote(&r.divisor),
                e.to_string(),
            ));
            return;
        }
    };
    if divisor.is_zero() {
        return;
    }
    let canonical = divisor.canonical();
    const BYTE_DIVISORS: [&str; 13] = [
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let (allowed, what): (&[&str], &str) = match r.resource.as_str() {
        "limits.cpu" | "requests.cpu" => (&["1m", "1"], "cpu"),
        "limits.memory" | "requests.memory" => (&BYTE_DIVISORS, "memory"),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => {
            (&BYTE_DIVISORS, "local ephemeral storage")
        }
        res if res.starts_with("requests.hugepages-") || res.starts_with("limits.hugepages-") => {
            (&BYTE_DIVISORS, "hugepages")
        }
        _ => return,
    };
    if !allowed.contains(&canonical.as_str()) {
        let detail = if what == "cpu" {
            "only divisor's values 1m and 1 are supported with the cpu resource".to_string()
        } else {
            format!(
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the {what} resource"
            )
        };
        errs.push(FieldError::invalid(
            &path.child("divisor"),
            go_quote(&r.resource),
            detail,
        ));
    }
}

fn validate_key_selector(k: &KeySelector, path: &Path, errs: &mut Vec<FieldError>) {
    for msg in name_is_dns_subdomain(&k.name, false) {
        errs.push(FieldError::invalid(
            &path.child("name"),
            go_quote(&k.name),
            msg,
        ));
    }
    if k.key.is_empty() {
        errs.push(FieldError::required(&path.child("key"), ""));
    } else {
        for msg in is_config_map_key(&k.key) {
            errs.push(FieldError::invalid(
                &path.child("key"),
                go_quote(&k.key),
                msg,
            ));
        }
    }
}

/// Kubernetes' `validateLocalDescendingPath`: relative, without `..` elements.
fn validate_local_descending_path(target: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if target.starts_with('/') {
        errs.push(FieldError::invalid(
            path,
            go_quote(target),
            "must be a relative path",
        ));
    }
    if target.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(
            path,
            go_quote(target),
            "must not contain '..'",
        ));
    }
}

fn is_privileged(c: &Container) -> bool {
    c.extra_fields
        .get("securityContext")
        .and_then(|sc| sc.get("privileged"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn validate_volume_mounts(
    c: &Container,
    volumes: &BTreeSet<String>,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let mut mount_points = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().enumerate() {
        let p = path.index(i);
        validate_volume_mount(m, c, volumes, path, &p, &mut mount_points, errs);
    }
}

fn validate_volume_mount<'a>(
    m: &'a VolumeMount,
    c: &Container,
    volumes: &BTreeSet<String>,
    list_path: &Path,
    p: &Path,
    mount_points: &mut BTreeSet<&'a str>,
    errs: &mut Vec<FieldError>,
) {
    if m.name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    }
    if !volumes.contains(&m.name) {
        errs.push(FieldError::not_found(&p.child("name"), go_quote(&m.name)));
    }
    if m.mount_path.is_empty() {
        errs.push(FieldError::required(&p.child("mountPath"), ""));
    }
    if !mount_points.insert(m.mount_path.as_str()) {
        errs.push(FieldError::invalid(
            &p.child("mountPath"),
            go_quote(&m.mount_path),
            "must be unique",
        ));
    }
    // Kubernetes reports these two at the list path, without the index.
    if !m.sub_path.is_empty() {
        validate_local_descending_path(&m.sub_path, &list_path.child("subPath"), errs);
    }
    if let Some(propagation) = &m.mount_propagation {
        let at = list_path.child("mountPropagation");
        if !matches!(
            propagation.as_str(),
            "Bidirectional" | "HostToContainer" | "None"
        ) {
            errs.push(FieldError::not_supported(
                &at,
                go_quote(propagation),
                &["Bidirectional", "HostToContainer", "None"],
            ));
        }
        if propagation == "Bidirectional" && !is_privileged(c) {
            errs.push(FieldError::forbidden(
                &at,
                "Bidirectional mount propagation is available only to privileged containers",
            ));
        }
    }
}

fn validate_port_num_or_name(port: Option<&IntOrString>, path: &Path, errs: &mut Vec<FieldError>) {
    match port.unwrap_or(&IntOrString::Int(0)) {
        IntOrString::Int(n) => {
            for msg in is_valid_port_num(i64::from(*n)) {
                errs.push(FieldError::invalid(path, n.to_string(), msg));
            }
        }
        IntOrString::Str(s) => {
            for msg in is_valid_port_name(s) {
                errs.push(FieldError::invalid(path, go_quote(s), msg));
            }
        }
    }
}

/// Kubernetes' `validateProbe`: exactly one handler, non-negative timings.
fn validate_probe(probe: &Probe, path: &Path, errs: &mut Vec<FieldError>) {
    let mut handlers = 0;
    let mut handler = |name: &str, set: bool, errs: &mut Vec<FieldError>| -> bool {
        if !set {
            return false;
        }
        if handlers > 0 {
            errs.push(FieldError::forbidden(
                &path.child(name),
                "may not specify more than 1 handler type",
            ));
            return false;
        }
        handlers += 1;
        true
    };
    if handler("exec", probe.exec.is_some(), errs)
        && let Some(exec) = &probe.exec
        && exec.command.is_empty()
    {
        errs.push(FieldError::required(
            &path.child("exec").child("command"),
            "",
        ));
    }
    if handler("httpGet", probe.http_get.is_some(), errs)
        && let Some(http) = &probe.http_get
    {
        let hp = path.child("httpGet");
        if http.path.is_empty() {
            errs.push(FieldError::required(&hp.child("path"), ""));
        }
        validate_port_num_or_name(http.port.as_ref(), &hp.child("port"), errs);
        if !matches!(http.scheme.as_str(), "HTTP" | "HTTPS") {
            errs.push(FieldError::not_supported(
                &hp.child("scheme"),
                go_quote(&http.scheme),
                &["HTTP", "HTTPS"],
            ));
        }
        if let Some(Value::Array(headers)) = http.extra_fields.get("httpHeaders") {
            for name in headers
                .iter()
                .map(|h| h.get("name").and_then(Value::as_str).unwrap_or(""))
            {
                for msg in is_http_header_name(name) {
                    errs.push(FieldError::invalid(
                        &hp.child("httpHeaders"),
                        go_quote(name),
                        msg,
                    ));
                }
            }
        }
    }
    if handler("tcpSocket", probe.tcp_socket.is_some(), errs)
        && let Some(tcp) = &probe.tcp_socket
    {
        validate_port_num_or_name(
            tcp.port.as_ref(),
            &path.child("tcpSocket").child("port"),
            errs,
        );
    }
    if handler("grpc", probe.grpc.is_some(), errs)
        && let Some(grpc) = &probe.grpc
    {
        validate_port_num_or_name(
            Some(&IntOrString::Int(grpc.port)),
            &path.child("grpc").child("port"),
            errs,
        );
    }
    if handlers == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    let timings = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, value) in timings {
        validate_nonnegative(i64::from(value), &path.child(field), errs);
    }
    if let Some(g) = probe.termination_grace_period_seconds
        && g <= 0
    {
        errs.push(FieldError::invalid(
            &path.child("terminationGracePeriodSeconds"),
            g.to_string(),
            "must be greater than 0",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_huge_page(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_huge_page(name)
}

/// Kubernetes' `validateContainerResourceName` (values print unquoted: `ResourceName` is a
/// `fmt.Stringer`).
fn validate_container_resource_name(name: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let msgs = is_qualified_name(name);
    if !msgs.is_empty() {
        for msg in msgs {
            errs.push(FieldError::invalid(path, name, msg));
        }
    } else if !name.contains('/')
        && !STANDARD_RESOURCES.contains(&name)
        && !is_huge_page(name)
        && !name.starts_with("requests.hugepages-")
    {
        errs.push(FieldError::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_huge_page(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

fn validate_quantity_value(name: &str, q: &Quantity, path: &Path, errs: &mut Vec<FieldError>) {
    if q.is_negative() {
        errs.push(FieldError::invalid(
            path,
            go_quote(&q.canonical()),
            "must be greater than or equal to 0",
        ));
    }
    if is_extended_resource(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path,
            q.canonical(),
            "must be an integer",
        ));
    }
}

/// Kubernetes' `ValidateContainerResourceRequirements`: names, quantities, requests ≤ limits.
fn validate_resources(r: &ResourceRequirements, path: &Path, errs: &mut Vec<FieldError>) {
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let (mut lim_cpu_mem, mut req_cpu_mem, mut huge) = (false, false, false);
    for (name, raw) in &r.limits {
        let p = lim_path.key(name);
        validate_container_resource_name(name, &p, errs);
        match Quantity::parse(raw) {
            Ok(q) => {
                validate_quantity_value(name, &q, &p, errs);
                limits.insert(name, q);
            }
            Err(e) => errs.push(FieldError::invalid(&p, go_quote(raw), e.to_string())),
        }
        huge |= is_huge_page(name);
        lim_cpu_mem |= matches!(name.as_str(), "cpu" | "memory");
    }
    for (name, raw) in &r.requests {
        let p = req_path.key(name);
        validate_container_resource_name(name, &p, errs);
        let q = match Quantity::parse(raw) {
            Ok(q) => q,
            Err(e) => {
                errs.push(FieldError::invalid(&p, go_quote(raw), e.to_string()));
                continue;
            }
        };
        validate_quantity_value(name, &q, &p, errs);
        if let Some(limit) = limits.get(name.as_str()) {
            if q != *limit && !is_overcommit_allowed(name) {
                errs.push(FieldError::invalid(
                    &req_path,
                    go_quote(&q.canonical()),
                    format!("must be equal to {name} limit of {limit}"),
                ));
            } else if q > *limit {
                errs.push(FieldError::invalid(
                    &req_path,
                    go_quote(&q.canonical()),
                    format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
        } else if !r.limits.contains_key(name) && !is_overcommit_allowed(name) {
            errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            ));
        }
        huge |= is_huge_page(name);
        req_cpu_mem |= matches!(name.as_str(), "cpu" | "memory");
    }
    if huge && !lim_cpu_mem && !req_cpu_mem {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Pod-level fields
// ---------------------------------------------------------------------------------------------

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
        if !t.effect.is_empty()
            && !matches!(
                t.effect.as_str(),
                "NoSchedule" | "PreferNoSchedule" | "NoExecute"
            )
        {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                go_quote(&t.effect),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Node selectors (current rules, for `spec.affinity`)
// ---------------------------------------------------------------------------------------------

fn validate_node_selector(selector: &NodeSelector, path: &Path, errs: &mut Vec<FieldError>) {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        errs.push(FieldError::required(
            &terms_path,
            "must have at least one node selector term",
        ));
        return;
    }
    for (i, term) in selector.node_selector_terms.iter().enumerate() {
        let tp = terms_path.index(i);
        for (j, req) in term.match_expressions.iter().enumerate() {
            validate_node_selector_requirement(
                req,
                true,
                &tp.child("matchExpressions").index(j),
                errs,
            );
        }
        for (j, req) in term.match_fields.iter().enumerate() {
            validate_node_field_selector_requirement(req, &tp.child("matchFields").index(j), errs);
        }
    }
}

/// Kubernetes' `ValidateNodeSelectorRequirement`; `check_values` adds the current rule that
/// each value is a label value (the 1.5 rules for the annotation did not have it).
fn validate_node_selector_requirement(
    req: &NodeSelectorRequirement,
    check_values: bool,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if req.values.is_empty() {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !req.values.is_empty() {
                errs.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if req.values.len() != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            go_quote(other),
            "not a valid selector operator",
        )),
    }
    validate_label_name(&req.key, &path.child("key"), errs);
    if check_values {
        for (i, v) in req.values.iter().enumerate() {
            for msg in is_label_value(v) {
                errs.push(FieldError::invalid(
                    &path.child("values").index(i),
                    go_quote(v),
                    msg,
                ));
            }
        }
    }
}

fn validate_node_field_selector_requirement(
    req: &NodeSelectorRequirement,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if req.values.len() != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            go_quote(other),
            "not a valid selector operator",
        )),
    }
    if req.key == "metadata.name" {
        for (i, v) in req.values.iter().enumerate() {
            for msg in name_is_dns_subdomain(v, false) {
                errs.push(FieldError::invalid(
                    &path.child("values").index(i),
                    go_quote(v),
                    msg,
                ));
            }
        }
    } else {
        errs.push(FieldError::invalid(
            &path.child("key"),
            go_quote(&req.key),
            "not a valid field selector key",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Pod-specific annotations
// ---------------------------------------------------------------------------------------------

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
fn validate_pod_specific_annotations(
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
                e,
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

fn tolerations_from_json(text: &str) -> Result<Vec<Toleration>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let items = match &v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []core.Toleration",
                json_type(other)
            ));
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
                return Err(unmarshal_error(
                    other,
                    "Toleration.tolerationSeconds",
                    "int64",
                ));
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

/// The `scheduler.alpha.kubernetes.io/affinity` annotation is not a valid `Affinity` JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AffinityAnnotationError(pub String);

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

fn parse_affinity_annotation(text: &str) -> Result<AnnotationAffinity, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
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
            ));
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
                return Err(unmarshal_error(
                    other,
                    "PreferredSchedulingTerm.weight",
                    "int32",
                ));
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
    let parsed = parse_affinity_annotation(text).map_err(AffinityAnnotationError)?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| AffinityAnnotationError(e.to_string()))?;
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
fn validate_affinity_annotation(
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
                e,
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
