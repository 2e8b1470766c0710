//! The pod template part of `enctl describe` (kubectl's `DescribePodTemplate`,
//! `describeContainers` and `describeVolumes`): containers with their ports, environment, probes,
//! mounts and states, volumes, node selectors and tolerations, and the one-line forms of taints,
//! tolerations and probes.

use std::fmt::Write as _;

use everynode_core::model::{
    Container, ContainerState, ContainerStatus, EnvVar, PodTemplateSpec, Probe, Taint, Toleration,
    Volume,
};

use super::{Doc, or_none};
use crate::print::time::rfc1123z_or_unset;

/// `key=value:Effect` or `key:Effect`.
pub fn taint_string(t: &Taint) -> String {
    if t.value.is_empty() {
        format!("{}:{}", t.key, t.effect)
    } else {
        format!("{}={}:{}", t.key, t.value, t.effect)
    }
}

/// A toleration as kubectl prints it: `key=value:Effect`, `key:Effect op=Exists`, `op=Exists`,
/// with ` for 300s` when bounded.
pub fn toleration_string(t: &Toleration) -> String {
    let mut s = t.key.clone();
    if !t.value.is_empty() {
        s.push('=');
        s.push_str(&t.value);
    }
    if !t.effect.is_empty() {
        s.push(':');
        s.push_str(&t.effect);
    }
    if t.operator == "Exists" && t.value.is_empty() {
        if t.key.is_empty() && t.effect.is_empty() {
            s.push_str("op=Exists");
        } else {
            s.push_str(" op=Exists");
        }
    }
    if let Some(secs) = t.toleration_seconds {
        let _ = write!(s, " for {secs}s");
    }
    s
}

/// A probe as kubectl prints it: `http-get http://:8080/healthz delay=0s timeout=1s …`.
pub fn probe_string(p: &Probe) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds,
        p.timeout_seconds,
        p.period_seconds,
        p.success_threshold,
        p.failure_threshold
    );
    if let Some(exec) = &p.exec {
        return format!("exec [{}] {attrs}", exec.command.join(" "));
    }
    if let Some(http) = &p.http_get {
        let scheme = if http.scheme.is_empty() {
            "http".to_string()
        } else {
            http.scheme.to_ascii_lowercase()
        };
        let host = match &http.port {
            Some(port) if http.host.contains(':') => format!("[{}]:{port}", http.host),
            Some(port) => format!("{}:{port}", http.host),
            None => http.host.clone(),
        };
        return format!("http-get {scheme}://{host}{} {attrs}", http.path);
    }
    if let Some(tcp) = &p.tcp_socket {
        let port = tcp
            .port
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        return format!("tcp-socket {}:{port} {attrs}", tcp.host);
    }
    if let Some(grpc) = &p.grpc {
        return format!(
            "grpc <pod>:{} {} {attrs}",
            grpc.port,
            grpc.service.as_deref().unwrap_or_default()
        );
    }
    format!("unknown {attrs}")
}

fn ports(c: &Container, host: bool) -> String {
    c.ports
        .iter()
        .map(|p| {
            let protocol = if p.protocol.is_empty() {
                "TCP"
            } else {
                &p.protocol
            };
            let port = if host { p.host_port } else { p.container_port };
            format!("{port}/{protocol}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn env_line(e: &EnvVar) -> Vec<String> {
    let Some(from) = &e.value_from else {
        let mut lines = Vec::new();
        for (i, part) in e.value.split('\n').enumerate() {
            if i == 0 {
                lines.push(format!("{}:\t{part}", e.name));
            } else {
                lines.push(format!("\t{part}"));
            }
        }
        return lines;
    };
    let line = if let Some(f) = &from.field_ref {
        let api = if f.api_version.is_empty() {
            "v1"
        } else {
            &f.api_version
        };
        format!("{}:\t ({api}:{})", e.name, f.field_path)
    } else if let Some(r) = &from.resource_field_ref {
        let container = if r.container_name.is_empty() {
            "<this container>"
        } else {
            &r.container_name
        };
        format!("{}:\t{} ({})", e.name, container, r.resource)
    } else if let Some(s) = &from.secret_key_ref {
        format!(
            "{}:\t<set to the key '{}' in secret '{}'>\tOptional: {}",
            e.name,
            s.key,
            s.name,
            s.optional.unwrap_or(false)
        )
    } else if let Some(c) = &from.config_map_key_ref {
        format!(
            "{}:\t<set to the key '{}' of config map '{}'>\tOptional: {}",
            e.name,
            c.key,
            c.name,
            c.optional.unwrap_or(false)
        )
    } else {
        format!(
            "{}:\t<set from a source everynode does not interpret>",
            e.name
        )
    };
    vec![line]
}

fn container_state(doc: &mut Doc, title: &str, state: Option<&ContainerState>) {
    match state {
        Some(ContainerState::Running(r)) => {
            doc.kv(2, title, "Running");
            doc.kv(3, "Started", rfc1123z_or_unset(r.started_at));
        }
        Some(ContainerState::Terminated(t)) => {
            doc.kv(2, title, "Terminated");
            if !t.reason.is_empty() {
                doc.kv(3, "Reason", &t.reason);
            }
            if !t.message.is_empty() {
                doc.kv(3, "Message", &t.message);
            }
            doc.kv(3, "Exit Code", t.exit_code);
            if t.signal > 0 {
                doc.kv(3, "Signal", t.signal);
            }
            doc.kv(3, "Started", rfc1123z_or_unset(t.started_at));
            doc.kv(3, "Finished", rfc1123z_or_unset(t.finished_at));
        }
        Some(ContainerState::Waiting(w)) => {
            doc.kv(2, title, "Waiting");
            if !w.reason.is_empty() {
                doc.kv(3, "Reason", &w.reason);
            }
        }
        None => doc.kv(2, title, "Waiting"),
    }
}

/// The `Containers:` block. `template` indents as a pod template (inside `Pod Template:`);
/// `statuses` adds each container's runtime state (a pod).
pub(super) fn containers(
    doc: &mut Doc,
    title: &str,
    list: &[Container],
    statuses: Option<&[ContainerStatus]>,
    template: bool,
) {
    if template {
        doc.line(1, &format!("{title}:"));
    } else {
        doc.line(0, &format!("{title}:"));
    }
    for c in list {
        if template {
            doc.line(1, &format!(" {}:", c.name));
        } else {
            doc.line(1, &format!("{}:", c.name));
        }
        let status = statuses.and_then(|s| s.iter().find(|s| s.name == c.name));
        if let Some(s) = status {
            doc.kv(2, "Container ID", or_none(&s.container_id));
        }
        doc.kv(2, "Image", &c.image);
        if let Some(s) = status {
            doc.kv(2, "Image ID", or_none(&s.image_id));
        }
        let (p, hp) = (ports(c, false), ports(c, true));
        doc.kv(
            2,
            if p.contains(',') { "Ports" } else { "Port" },
            if p.is_empty() { "<none>" } else { &p },
        );
        doc.kv(
            2,
            if hp.contains(',') {
                "Host Ports"
            } else {
                "Host Port"
            },
            if hp.is_empty() { "<none>" } else { &hp },
        );
        for (name, items) in [("Command", &c.command), ("Args", &c.args)] {
            if !items.is_empty() {
                doc.line(2, &format!("{name}:"));
                for item in items {
                    for part in item.split('\n') {
                        doc.line(3, part);
                    }
                }
            }
        }
        if let Some(s) = status {
            container_state(doc, "State", s.state.as_ref());
            if let Some(last @ ContainerState::Terminated(_)) = &s.last_state {
                container_state(doc, "Last State", Some(last));
            }
            doc.kv(2, "Ready", if s.ready { "True" } else { "False" });
            doc.kv(2, "Restart Count", s.restart_count);
        }
        if let Some(r) = &c.resources {
            for (name, amounts) in [("Limits", &r.limits), ("Requests", &r.requests)] {
                if !amounts.is_empty() {
                    doc.line(2, &format!("{name}:"));
                    for (k, v) in amounts {
                        doc.kv(3, k, v);
                    }
                }
            }
        }
        for (name, probe) in [
            ("Liveness", &c.liveness_probe),
            ("Readiness", &c.readiness_probe),
            ("Startup", &c.startup_probe),
        ] {
            if let Some(p) = probe {
                doc.kv(2, name, probe_string(p));
            }
        }
        if c.env.is_empty() {
            doc.kv(2, "Environment", "<none>");
        } else {
            doc.line(2, "Environment:");
            for e in &c.env {
                for line in env_line(e) {
                    doc.line(3, &line);
                }
            }
        }
        if c.volume_mounts.is_empty() {
            doc.kv(2, "Mounts", "<none>");
        } else {
            doc.line(2, "Mounts:");
            for m in &c.volume_mounts {
                let mode = if m.read_only { "ro" } else { "rw" };
                if m.sub_path.is_empty() {
                    doc.line(3, &format!("{} from {} ({mode})", m.mount_path, m.name));
                } else {
                    doc.line(
                        3,
                        &format!(
                            "{} from {} ({mode},path={:?})",
                            m.mount_path, m.name, m.sub_path
                        ),
                    );
                }
            }
        }
    }
}

fn json_str(v: Option<&serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn volume(doc: &mut Doc, v: &Volume, template: bool) {
    let (name_level, name) = if template {
        (1, format!(" {}:", v.name))
    } else {
        (1, format!("{}:", v.name))
    };
    doc.line(name_level, &name);
    if let Some(host_path) = &v.host_path {
        doc.kv(2, "Type", "HostPath (bare host directory volume)");
        doc.kv(2, "Path", &host_path.path);
        doc.kv(2, "HostPathType", host_path.type_.as_deref().unwrap_or(""));
        return;
    }
    if let Some(empty_dir) = &v.empty_dir {
        doc.kv(
            2,
            "Type",
            "EmptyDir (a temporary directory that shares a pod's lifetime)",
        );
        doc.kv(2, "Medium", empty_dir.medium.as_deref().unwrap_or(""));
        doc.kv(
            2,
            "SizeLimit",
            empty_dir.size_limit.as_deref().unwrap_or("<unset>"),
        );
        return;
    }
    let Some((kind, source)) = v.extra_fields.iter().next() else {
        doc.kv(2, "Type", "<unknown>");
        return;
    };
    let field = |key: &str| json_str(source.get(key));
    match kind.as_str() {
        "configMap" => {
            doc.kv(2, "Type", "ConfigMap (a volume populated by a ConfigMap)");
            doc.kv(2, "Name", field("name"));
            doc.kv(2, "Optional", or_false(&field("optional")));
        }
        "secret" => {
            doc.kv(2, "Type", "Secret (a volume populated by a Secret)");
            doc.kv(2, "SecretName", field("secretName"));
            doc.kv(2, "Optional", or_false(&field("optional")));
        }
        "projected" => doc.kv(
            2,
            "Type",
            "Projected (a volume that contains injected data from multiple sources)",
        ),
        other => {
            doc.kv(2, "Type", other);
            doc.kv(2, "Source", source.to_string());
        }
    }
}

fn or_false(s: &str) -> &str {
    if s.is_empty() { "false" } else { s }
}

pub(super) fn volumes(doc: &mut Doc, list: &[Volume], template: bool) {
    let level = usize::from(template);
    if list.is_empty() {
        doc.kv(level, "Volumes", "<none>");
        return;
    }
    doc.line(level, "Volumes:");
    for v in list {
        volume(doc, v, template);
    }
}

pub(super) fn pod_template(doc: &mut Doc, template: Option<&PodTemplateSpec>) {
    doc.line(0, "Pod Template:");
    let Some(template) = template else {
        doc.line(1, "<unset>");
        return;
    };
    let meta = template.metadata.clone().unwrap_or_default();
    let spec = template.spec.clone().unwrap_or_default();
    doc.labels(1, "Labels", &meta.labels);
    if !meta.annotations.is_empty() {
        doc.annotations(1, "Annotations", &meta.annotations);
    }
    let account = if spec.service_account_name.is_empty() {
        &spec.service_account
    } else {
        &spec.service_account_name
    };
    if !account.is_empty() {
        doc.kv(1, "Service Account", account);
    }
    if !spec.init_containers.is_empty() {
        containers(doc, "Init Containers", &spec.init_containers, None, true);
    }
    containers(doc, "Containers", &spec.containers, None, true);
    volumes(doc, &spec.volumes, true);
    if !spec.priority_class_name.is_empty() {
        doc.kv(1, "Priority Class Name", &spec.priority_class_name);
    }
    doc.labels(1, "Node-Selectors", &spec.node_selector);
    let tolerations: Vec<String> = spec.tolerations.iter().map(toleration_string).collect();
    doc.list(1, "Tolerations", &tolerations);
}
