//! `enctl describe`: kubectl's key/value blocks (`pkg/describe/describe.go`) for DaemonSets,
//! nodes and pods. Each function writes tab-separated text and aligns it with kubectl's describe
//! tab-writer, so consecutive `Key:\tvalue` lines line up block by block as kubectl's do.
//!
//! Related objects the caller may or may not have been able to read (a DaemonSet's pods, a
//! node's pods) come in as a `Result`: an `Err` is a short reason printed in their place, so a
//! description is still printed when the controller is down.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use everynode_core::model::{
    Container, ContainerState, ContainerStatus, DaemonSet, EnvVar, Node, Pod, PodSpec,
    PodTemplateSpec, Probe, Taint, Timestamp, Toleration, Volume,
};

use super::table::{format_labels, format_selector, node_roles};
use super::tabwriter::DESCRIBE;
use super::time::{age, rfc1123z, rfc1123z_or_unset};

/// Longest annotation line before kubectl folds it.
const MAX_ANNOTATION_LEN: usize = 140;

/// A describe document being written: lines at indentation levels of two spaces.
#[derive(Debug, Default)]
struct Doc {
    text: String,
}

impl Doc {
    fn line(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.text.push_str("  ");
        }
        self.text.push_str(text);
        self.text.push('\n');
    }

    fn kv(&mut self, level: usize, key: &str, value: impl std::fmt::Display) {
        self.line(level, &format!("{key}:\t{value}"));
    }

    /// `Labels:\tk=v` with further labels on continuation lines, or `<none>`.
    fn labels(&mut self, level: usize, title: &str, labels: &BTreeMap<String, String>) {
        if labels.is_empty() {
            self.kv(level, title, "<none>");
            return;
        }
        for (i, (k, v)) in labels.iter().enumerate() {
            if i == 0 {
                self.kv(level, title, format!("{k}={v}"));
            } else {
                self.line(level, &format!("\t{k}={v}"));
            }
        }
    }

    /// `Annotations:\tk: v`, long or multi-line values folded as kubectl folds them.
    fn annotations(&mut self, level: usize, title: &str, annotations: &BTreeMap<String, String>) {
        if annotations.is_empty() {
            self.kv(level, title, "<none>");
            return;
        }
        for (i, (k, v)) in annotations.iter().enumerate() {
            let lead = if i == 0 {
                format!("{title}:\t")
            } else {
                "\t".to_string()
            };
            let value = v.trim_end_matches('\n');
            if value.len() + k.len() + 2 > MAX_ANNOTATION_LEN || value.contains('\n') {
                self.line(level, &format!("{lead}{k}:"));
                for part in value.split('\n') {
                    self.line(
                        level,
                        &format!("\t  {}", shorten(part, MAX_ANNOTATION_LEN - 2)),
                    );
                }
            } else {
                self.line(level, &format!("{lead}{k}: {value}"));
            }
        }
    }

    /// A list under a title: the first item on the title's line, the rest below it.
    fn list(&mut self, level: usize, title: &str, items: &[String]) {
        match items.split_first() {
            None => self.kv(level, title, "<none>"),
            Some((first, rest)) => {
                self.kv(level, title, first);
                for item in rest {
                    self.line(level, &format!("\t{item}"));
                }
            }
        }
    }

    fn finish(self) -> String {
        DESCRIBE.format(&self.text)
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    } else {
        s.to_string()
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

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
fn containers(
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
    let Some((kind, source)) = v.extra_fields.iter().next() else {
        doc.kv(2, "Type", "<unknown>");
        return;
    };
    let field = |key: &str| json_str(source.get(key));
    match kind.as_str() {
        "hostPath" => {
            doc.kv(2, "Type", "HostPath (bare host directory volume)");
            doc.kv(2, "Path", field("path"));
            doc.kv(2, "HostPathType", field("type"));
        }
        "emptyDir" => {
            doc.kv(
                2,
                "Type",
                "EmptyDir (a temporary directory that shares a pod's lifetime)",
            );
            doc.kv(2, "Medium", field("medium"));
            let limit = field("sizeLimit");
            doc.kv(
                2,
                "SizeLimit",
                if limit.is_empty() { "<unset>" } else { &limit },
            );
        }
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

fn volumes(doc: &mut Doc, list: &[Volume], template: bool) {
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

fn pod_template(doc: &mut Doc, template: Option<&PodTemplateSpec>) {
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

/// Pod phase counts for `Pods Status:`.
fn phase_counts(pods: &[Pod]) -> String {
    let count = |phase: &str| {
        pods.iter()
            .filter(|p| p.status.as_ref().is_some_and(|s| s.phase == phase))
            .count()
    };
    format!(
        "{} Running / {} Waiting / {} Succeeded / {} Failed",
        count("Running"),
        count("Pending"),
        count("Succeeded"),
        count("Failed")
    )
}

fn update_strategy(ds: &DaemonSet) -> String {
    let Some(s) = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()) else {
        return "<unset>".to_string();
    };
    match (&s.type_[..], &s.rolling_update) {
        ("RollingUpdate", Some(r)) => {
            let show = |v: &Option<everynode_core::model::IntOrString>| {
                v.as_ref()
                    .map_or_else(|| "<unset>".to_string(), ToString::to_string)
            };
            format!(
                "RollingUpdate (max unavailable: {}, max surge: {})",
                show(&r.max_unavailable),
                show(&r.max_surge)
            )
        }
        (t, _) => or_none(t).to_string(),
    }
}

/// `enctl describe ds NAME`. `pods` are the DaemonSet's pods, or why they could not be read.
pub fn daemon_set(ds: &DaemonSet, pods: Result<&[Pod], String>) -> String {
    let mut doc = Doc::default();
    let meta = ds.metadata.clone().unwrap_or_default();
    let spec = ds.spec.clone().unwrap_or_default();
    let status = ds.status.clone().unwrap_or_default();
    let pod_spec = spec
        .template
        .as_ref()
        .and_then(|t| t.spec.clone())
        .unwrap_or_default();
    doc.kv(0, "Name", &meta.name);
    doc.kv(0, "Namespace", &meta.namespace);
    doc.kv(0, "Selector", format_selector(spec.selector.as_ref()));
    doc.kv(0, "Node-Selector", format_labels(&pod_spec.node_selector));
    doc.labels(0, "Labels", &meta.labels);
    doc.annotations(0, "Annotations", &meta.annotations);
    if let Some(deleted) = meta.deletion_timestamp {
        let finalizers = if meta.finalizers.is_empty() {
            String::new()
        } else {
            format!(" (finalizers: {})", meta.finalizers.join(", "))
        };
        doc.kv(
            0,
            "Terminating",
            format!("since {}{finalizers}", rfc1123z(deleted)),
        );
    }
    doc.line(
        0,
        &format!(
            "Desired Number of Nodes Scheduled: {}",
            status.desired_number_scheduled
        ),
    );
    doc.line(
        0,
        &format!(
            "Current Number of Nodes Scheduled: {}",
            status.current_number_scheduled
        ),
    );
    doc.line(
        0,
        &format!(
            "Number of Nodes Scheduled with Ready Pods: {}",
            status.number_ready
        ),
    );
    doc.line(
        0,
        &format!(
            "Number of Nodes Scheduled with Up-to-date Pods: {}",
            status.updated_number_scheduled
        ),
    );
    doc.line(
        0,
        &format!(
            "Number of Nodes Scheduled with Available Pods: {}",
            status.number_available
        ),
    );
    doc.line(
        0,
        &format!(
            "Number of Nodes Misscheduled: {}",
            status.number_misscheduled
        ),
    );
    match pods {
        Ok(pods) => doc.kv(0, "Pods Status", phase_counts(pods)),
        Err(why) => doc.kv(0, "Pods Status", format!("<unknown: {why}>")),
    }
    doc.kv(0, "Update Strategy", update_strategy(ds));
    doc.kv(
        0,
        "Generation",
        format!(
            "{} (observed: {})",
            meta.generation, status.observed_generation
        ),
    );
    pod_template(&mut doc, spec.template.as_ref());
    if !status.conditions.is_empty() {
        doc.line(0, "Conditions:");
        doc.line(1, "Type\tStatus\tReason\tMessage");
        doc.line(1, "----\t------\t------\t-------");
        for c in &status.conditions {
            doc.line(
                1,
                &format!("{}\t{}\t{}\t{}", c.type_, c.status, c.reason, c.message),
            );
        }
    }
    doc.finish()
}

/// `enctl describe node NAME`. `pods` are the pods bound to the node, or why they could not
/// be read.
pub fn node(node: &Node, pods: Result<&[Pod], String>, now: Timestamp) -> String {
    let mut doc = Doc::default();
    let meta = node.metadata.clone().unwrap_or_default();
    let spec = node.spec.clone().unwrap_or_default();
    let status = node.status.clone().unwrap_or_default();
    doc.kv(0, "Name", &meta.name);
    doc.kv(0, "Roles", node_roles(&meta.labels));
    doc.labels(0, "Labels", &meta.labels);
    doc.annotations(0, "Annotations", &meta.annotations);
    doc.kv(
        0,
        "CreationTimestamp",
        rfc1123z_or_unset(meta.creation_timestamp),
    );
    let taints: Vec<String> = spec.taints.iter().map(taint_string).collect();
    doc.list(0, "Taints", &taints);
    doc.kv(0, "Unschedulable", spec.unschedulable);
    if status.conditions.is_empty() {
        doc.kv(0, "Conditions", "<none>");
    } else {
        doc.line(0, "Conditions:");
        doc.line(
            1,
            "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage",
        );
        doc.line(
            1,
            "----\t------\t-----------------\t------------------\t------\t-------",
        );
        for c in &status.conditions {
            doc.line(
                1,
                &format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    c.type_,
                    c.status,
                    rfc1123z_or_unset(c.last_heartbeat_time),
                    rfc1123z_or_unset(c.last_transition_time),
                    c.reason,
                    c.message
                ),
            );
        }
    }
    if status.addresses.is_empty() {
        doc.kv(0, "Addresses", "<none>");
    } else {
        doc.line(0, "Addresses:");
        for a in &status.addresses {
            doc.kv(1, &a.type_, &a.address);
        }
    }
    for (title, amounts) in [
        ("Capacity", &status.capacity),
        ("Allocatable", &status.allocatable),
    ] {
        if !amounts.is_empty() {
            doc.line(0, &format!("{title}:"));
            for (k, v) in amounts {
                doc.kv(1, k, v);
            }
        }
    }
    let info = status.node_info.clone().unwrap_or_default();
    doc.line(0, "System Info:");
    for (k, v) in [
        ("Machine ID", &info.machine_id),
        ("System UUID", &info.system_uuid),
        ("Boot ID", &info.boot_id),
        ("Kernel Version", &info.kernel_version),
        ("OS Image", &info.os_image),
        ("Operating System", &info.operating_system),
        ("Architecture", &info.architecture),
        ("Container Runtime Version", &info.container_runtime_version),
        ("Kubelet Version", &info.kubelet_version),
    ] {
        doc.kv(1, k, v);
    }
    if !spec.pod_cidr.is_empty() {
        doc.kv(0, "PodCIDR", &spec.pod_cidr);
    }
    if !spec.provider_id.is_empty() {
        doc.kv(0, "ProviderID", &spec.provider_id);
    }
    match pods {
        Err(why) => doc.kv(0, "Non-terminated Pods", format!("<unknown: {why}>")),
        Ok(pods) => {
            let running: Vec<&Pod> = pods
                .iter()
                .filter(|p| {
                    p.status
                        .as_ref()
                        .is_none_or(|s| s.phase != "Succeeded" && s.phase != "Failed")
                })
                .collect();
            doc.kv(
                0,
                "Non-terminated Pods",
                format!("({} in total)", running.len()),
            );
            if !running.is_empty() {
                doc.line(1, "Namespace\tName\tAge");
                doc.line(1, "---------\t----\t---");
                for p in running {
                    let m = p.metadata.clone().unwrap_or_default();
                    doc.line(
                        1,
                        &format!(
                            "{}\t{}\t{}",
                            m.namespace,
                            m.name,
                            age(m.creation_timestamp, now)
                        ),
                    );
                }
            }
        }
    }
    doc.finish()
}

fn pod_status_word(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    if pod
        .metadata
        .as_ref()
        .is_some_and(|m| m.deletion_timestamp.is_some())
    {
        "Terminating".to_string()
    } else {
        or_none(&status.phase).to_string()
    }
}

/// `enctl describe pod NAME`.
pub fn pod(pod: &Pod) -> String {
    let mut doc = Doc::default();
    let meta = pod.metadata.clone().unwrap_or_default();
    let spec: PodSpec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    doc.kv(0, "Name", &meta.name);
    doc.kv(0, "Namespace", &meta.namespace);
    doc.kv(0, "Priority", spec.priority.unwrap_or(0));
    if !spec.priority_class_name.is_empty() {
        doc.kv(0, "Priority Class Name", &spec.priority_class_name);
    }
    let account = if spec.service_account_name.is_empty() {
        &spec.service_account
    } else {
        &spec.service_account_name
    };
    doc.kv(0, "Service Account", or_none(account));
    let node = if spec.node_name.is_empty() {
        "<none>".to_string()
    } else if status.host_ip.is_empty() {
        spec.node_name.clone()
    } else {
        format!("{}/{}", spec.node_name, status.host_ip)
    };
    doc.kv(0, "Node", node);
    if let Some(start) = status.start_time {
        doc.kv(0, "Start Time", rfc1123z(start));
    }
    doc.labels(0, "Labels", &meta.labels);
    doc.annotations(0, "Annotations", &meta.annotations);
    doc.kv(0, "Status", pod_status_word(pod));
    if !status.reason.is_empty() {
        doc.kv(0, "Reason", &status.reason);
    }
    if !status.message.is_empty() {
        doc.kv(0, "Message", &status.message);
    }
    doc.kv(0, "IP", or_none(&status.pod_ip));
    if let Some(owner) = meta.controller_ref() {
        doc.kv(0, "Controlled By", format!("{}/{}", owner.kind, owner.name));
    }
    if !spec.init_containers.is_empty() {
        containers(
            &mut doc,
            "Init Containers",
            &spec.init_containers,
            Some(&status.init_container_statuses),
            false,
        );
    }
    containers(
        &mut doc,
        "Containers",
        &spec.containers,
        Some(&status.container_statuses),
        false,
    );
    if status.conditions.is_empty() {
        doc.kv(0, "Conditions", "<none>");
    } else {
        doc.line(0, "Conditions:");
        doc.line(1, "Type\tStatus");
        for c in &status.conditions {
            doc.line(1, &format!("{}\t{}", c.type_, c.status));
        }
    }
    volumes(&mut doc, &spec.volumes, false);
    doc.labels(0, "Node-Selectors", &spec.node_selector);
    let tolerations: Vec<String> = spec.tolerations.iter().map(toleration_string).collect();
    doc.list(0, "Tolerations", &tolerations);
    doc.finish()
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{
        ContainerPort, ContainerStateRunning, DaemonSetSpec, DaemonSetStatus,
        DaemonSetUpdateStrategy, EnvVarSource, HttpGetAction, IntOrString, LabelSelector,
        NodeAddress, NodeCondition, NodeSpec, NodeStatus, ObjectFieldSelector, ObjectMeta,
        OwnerReference, PodCondition, PodStatus, RollingUpdateDaemonSet, VolumeMount,
    };

    use super::*;

    fn container() -> Container {
        Container {
            name: "exporter".into(),
            image: "prom/node-exporter:v1.8.1".into(),
            ports: vec![ContainerPort {
                container_port: 9100,
                host_port: 9100,
                protocol: "TCP".into(),
                ..ContainerPort::default()
            }],
            env: vec![
                EnvVar {
                    name: "NODE".into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "spec.nodeName".into(),
                            ..ObjectFieldSelector::default()
                        }),
                        ..EnvVarSource::default()
                    }),
                    ..EnvVar::default()
                },
                EnvVar {
                    name: "LEVEL".into(),
                    value: "info".into(),
                    ..EnvVar::default()
                },
            ],
            volume_mounts: vec![VolumeMount {
                name: "proc".into(),
                mount_path: "/host/proc".into(),
                read_only: true,
                ..VolumeMount::default()
            }],
            liveness_probe: Some(Probe {
                http_get: Some(HttpGetAction {
                    path: "/metrics".into(),
                    port: Some(IntOrString::Int(9100)),
                    ..HttpGetAction::default()
                }),
                timeout_seconds: 1,
                period_seconds: 10,
                success_threshold: 1,
                failure_threshold: 3,
                ..Probe::default()
            }),
            ..Container::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn daemon_set_description_reads_like_kubectl() {
        let ds = DaemonSet {
            metadata: Some(ObjectMeta {
                name: "node-exporter".into(),
                namespace: "monitoring".into(),
                generation: 2,
                labels: labels(&[("app", "node-exporter"), ("team", "infra")]),
                annotations: labels(&[("deprecated.daemonset.template.generation", "2")]),
                ..ObjectMeta::default()
            }),
            spec: Some(DaemonSetSpec {
                selector: Some(LabelSelector {
                    match_labels: labels(&[("app", "node-exporter")]),
                    ..LabelSelector::default()
                }),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: labels(&[("app", "node-exporter")]),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![container()],
                        node_selector: labels(&[("kubernetes.io/os", "linux")]),
                        volumes: vec![Volume {
                            name: "proc".into(),
                            extra_fields: [(
                                "hostPath".to_string(),
                                serde_json::json!({"path": "/proc"}),
                            )]
                            .into(),
                        }],
                        tolerations: vec![Toleration {
                            operator: "Exists".into(),
                            effect: "NoSchedule".into(),
                            ..Toleration::default()
                        }],
                        ..PodSpec::default()
                    }),
                    ..PodTemplateSpec::default()
                }),
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: "RollingUpdate".into(),
                    rolling_update: Some(RollingUpdateDaemonSet {
                        max_unavailable: Some(IntOrString::Int(1)),
                        max_surge: Some(IntOrString::Int(0)),
                        ..RollingUpdateDaemonSet::default()
                    }),
                    ..DaemonSetUpdateStrategy::default()
                }),
                ..DaemonSetSpec::default()
            }),
            status: Some(DaemonSetStatus {
                desired_number_scheduled: 3,
                current_number_scheduled: 3,
                number_ready: 2,
                updated_number_scheduled: 3,
                number_available: 2,
                observed_generation: 2,
                ..DaemonSetStatus::default()
            }),
            ..DaemonSet::default()
        };
        let running = Pod {
            status: Some(PodStatus {
                phase: "Running".into(),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        let pending = Pod {
            status: Some(PodStatus {
                phase: "Pending".into(),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        let out = daemon_set(&ds, Ok(&[running.clone(), running, pending]));
        let expected = "\
Name:           node-exporter
Namespace:      monitoring
Selector:       app=node-exporter
Node-Selector:  kubernetes.io/os=linux
Labels:         app=node-exporter
                team=infra
Annotations:    deprecated.daemonset.template.generation: 2
Desired Number of Nodes Scheduled: 3
Current Number of Nodes Scheduled: 3
Number of Nodes Scheduled with Ready Pods: 2
Number of Nodes Scheduled with Up-to-date Pods: 3
Number of Nodes Scheduled with Available Pods: 2
Number of Nodes Misscheduled: 0
Pods Status:      2 Running / 1 Waiting / 0 Succeeded / 0 Failed
Update Strategy:  RollingUpdate (max unavailable: 1, max surge: 0)
Generation:       2 (observed: 2)
Pod Template:
  Labels:  app=node-exporter
  Containers:
   exporter:
    Image:      prom/node-exporter:v1.8.1
    Port:       9100/TCP
    Host Port:  9100/TCP
    Liveness:   http-get http://:9100/metrics delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:
      NODE:    (v1:spec.nodeName)
      LEVEL:  info
    Mounts:
      /host/proc from proc (ro)
  Volumes:
   proc:
    Type:          HostPath (bare host directory volume)
    Path:          /proc
    HostPathType:  
  Node-Selectors:  kubernetes.io/os=linux
  Tolerations:     :NoSchedule op=Exists
";
        assert_eq!(out, expected);
    }

    #[test]
    fn pods_status_says_why_it_is_unknown() {
        let out = daemon_set(&DaemonSet::default(), Err("cannot reach controller".into()));
        assert!(
            out.contains("Pods Status:      <unknown: cannot reach controller>"),
            "{out}"
        );
    }

    #[test]
    fn node_description_has_taints_conditions_addresses_and_pods() {
        let n = Node {
            metadata: Some(ObjectMeta {
                name: "n1".into(),
                labels: labels(&[("kubernetes.io/hostname", "n1")]),
                creation_timestamp: Some(Timestamp::from_seconds(0)),
                ..ObjectMeta::default()
            }),
            spec: Some(NodeSpec {
                unschedulable: true,
                taints: vec![
                    Taint {
                        key: "dedicated".into(),
                        value: "gpu".into(),
                        effect: "NoSchedule".into(),
                        ..Taint::default()
                    },
                    Taint {
                        key: "maintenance".into(),
                        effect: "NoExecute".into(),
                        ..Taint::default()
                    },
                ],
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                capacity: labels(&[("cpu", "2"), ("memory", "4Gi")]),
                conditions: vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    reason: "AgentReady".into(),
                    message: "agent is posting ready status".into(),
                    last_heartbeat_time: Some(Timestamp::from_seconds(60)),
                    last_transition_time: Some(Timestamp::from_seconds(0)),
                }],
                addresses: vec![NodeAddress {
                    type_: "InternalIP".into(),
                    address: "10.0.0.7".into(),
                }],
                ..NodeStatus::default()
            }),
            ..Node::default()
        };
        let pod = Pod {
            metadata: Some(ObjectMeta {
                name: "exporter-abcde".into(),
                namespace: "default".into(),
                creation_timestamp: Some(Timestamp::from_seconds(0)),
                ..ObjectMeta::default()
            }),
            ..Pod::default()
        };
        let out = node(&n, Ok(&[pod]), Timestamp::from_seconds(300));
        for want in [
            "Name:               n1\n",
            "Roles:              <none>\n",
            "Taints:             dedicated=gpu:NoSchedule\n                    maintenance:NoExecute\n",
            "Unschedulable:      true\n",
            "  Ready  True    Thu, 01 Jan 1970 00:01:00 +0000  Thu, 01 Jan 1970 00:00:00 +0000  AgentReady  agent is posting ready status\n",
            "Addresses:\n  InternalIP:  10.0.0.7\n",
            "Capacity:\n  cpu:     2\n  memory:  4Gi\n",
            // Like kubectl's, these lines share their column with the System Info block.
            "  Kubelet Version:            \nNon-terminated Pods:          (1 in total)\n",
            "  default                     exporter-abcde  5m\n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
    }

    #[test]
    fn pod_description_has_state_owner_and_conditions() {
        let p = Pod {
            metadata: Some(ObjectMeta {
                name: "exporter-abcde".into(),
                namespace: "default".into(),
                owner_references: vec![OwnerReference {
                    kind: "DaemonSet".into(),
                    name: "exporter".into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }],
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                node_name: "n1".into(),
                containers: vec![container()],
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: "Running".into(),
                host_ip: "10.0.0.7".into(),
                pod_ip: "10.0.0.7".into(),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..PodCondition::default()
                }],
                container_statuses: vec![ContainerStatus {
                    name: "exporter".into(),
                    ready: true,
                    state: Some(ContainerState::Running(ContainerStateRunning {
                        started_at: Some(Timestamp::from_seconds(0)),
                    })),
                    container_id: "process://4242".into(),
                    ..ContainerStatus::default()
                }],
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        let out = pod(&p);
        for want in [
            "Node:             n1/10.0.0.7\n",
            "Status:           Running\n",
            "Controlled By:    DaemonSet/exporter\n",
            "Containers:\n  exporter:\n    Container ID:   process://4242\n",
            "    State:          Running\n      Started:      Thu, 01 Jan 1970 00:00:00 +0000\n",
            "    Ready:          True\n    Restart Count:  0\n",
            // Like kubectl's, the condition rows share their column with the lines below.
            "Conditions:\n  Type           Status\n  Ready          True\nVolumes:         <none>\n",
        ] {
            assert!(out.contains(want), "missing {want:?} in\n{out}");
        }
    }

    #[test]
    fn tolerations_and_taints_read_like_kubectl() {
        let t = |key: &str, op: &str, value: &str, effect: &str, secs: Option<i64>| Toleration {
            key: key.into(),
            operator: op.into(),
            value: value.into(),
            effect: effect.into(),
            toleration_seconds: secs,
            ..Toleration::default()
        };
        assert_eq!(
            toleration_string(&t("", "Exists", "", "", None)),
            "op=Exists"
        );
        assert_eq!(
            toleration_string(&t(
                "node.kubernetes.io/unreachable",
                "Exists",
                "",
                "NoExecute",
                Some(300)
            )),
            "node.kubernetes.io/unreachable:NoExecute op=Exists for 300s"
        );
        assert_eq!(
            toleration_string(&t("dedicated", "Equal", "gpu", "NoSchedule", None)),
            "dedicated=gpu:NoSchedule"
        );
    }
}
