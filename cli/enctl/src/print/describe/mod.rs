//! `enctl describe`: kubectl's key/value blocks (`pkg/describe/describe.go`) for DaemonSets,
//! nodes and pods. Each function writes tab-separated text and aligns it with kubectl's describe
//! tab-writer, so consecutive `Key:\tvalue` lines line up block by block as kubectl's do.
//!
//! Related objects the caller may or may not have been able to read (a DaemonSet's pods, a
//! node's pods) come in as a `Result`: an `Err` is a short reason printed in their place, so a
//! description is still printed when the controller is down.
//!
//! This module owns the document writer and the three descriptions; the pod template part they
//! share (containers, volumes, tolerations) is in `template`.

use std::collections::BTreeMap;

use everynode_core::model::{DaemonSet, Node, Pod, PodSpec, Timestamp};

use super::table::{format_labels, format_selector, node_roles};
use super::tabwriter::DESCRIBE;
use super::time::{age, rfc1123z, rfc1123z_or_unset};

mod template;
#[cfg(test)]
mod tests;

use template::{containers, pod_template, volumes};
pub use template::{probe_string, taint_string, toleration_string};

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
