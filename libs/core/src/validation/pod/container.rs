//! Containers of a pod spec (Kubernetes: `validateContainers`, `validateInitContainers`,
//! `validateEphemeralContainers` and their helpers in `pkg/apis/core/validation/validation.go`):
//! names, images, ports and host-port conflicts, environment and its sources, volumes and
//! volume mounts, probes.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::labels::{
    is_config_map_key, is_dns1123_label, is_env_var_name, is_http_header_name, is_qualified_name,
    is_valid_port_name, is_valid_port_num, name_is_dns_subdomain,
};
use crate::model::{
    Container, EnvVar, EnvVarSource, IntOrString, KeySelector, ObjectFieldSelector, PodSpec, Probe,
    ResourceFieldSelector, Volume, VolumeMount,
};
use crate::quantity::Quantity;
use crate::validation::meta::validate_nonnegative;
use crate::validation::{FieldError, Path, go_quote};

use super::resources::validate_resources;
use super::security::{validate_security_context, validate_volume_source};

/// Volume names: required, DNS-1123 labels, unique. Returns the names of the valid volumes
/// (a mount naming an invalid volume is `Not found`, as in Kubernetes).
pub(super) fn validate_volumes(
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
        validate_volume_source(v, &path.index(i), errs);
    }
    names
}

pub(super) fn validate_containers(
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

pub(super) fn validate_init_containers(
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

pub(super) fn validate_ephemeral_containers(
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
    if let Some(sc) = &c.security_context {
        validate_security_context(sc, &path.child("securityContext"), errs);
    }
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
pub(super) fn validate_local_descending_path(
    target: &str,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
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
    c.security_context
        .as_ref()
        .and_then(|sc| sc.privileged)
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
