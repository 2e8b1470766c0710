//! Validation of what clients send the registry, with Kubernetes' rules and wording.
//!
//! This module owns the checks of a registering node (Kubernetes' `ValidateNode`: the name is a
//! DNS-1123 subdomain, labels and annotations follow the label rules, taints are unique by key
//! and effect, quantities parse) and of the `Update` request (the `kubectl label` / `kubectl
//! taint` argument rules). Every check runs and every violation is returned, each with the
//! field path it is about: object paths in Kubernetes' JSON notation for a registered node
//! (`metadata.labels`, `spec.taints[0].effect`), request field names for an update
//! (`set_labels`, `add_taints[1].key`).
//!
//! The rules for names, labels, annotations and taints are `everynode_core::validation`'s
//! (`validate_object_name`, `validate_labels`, `validate_annotations`, `validate_node_taints`,
//! `validate_taint_effect`), the ones admission applies to DaemonSets; this module adds what
//! only nodes and updates have (podCIDR, addresses, capacity, the update argument rules).
//! Errors use the same vocabulary ([`FieldError`], printed like Kubernetes' `field.Error`), so
//! admission and the registry word their errors alike.
//!
//! Invariant: a `Vec<FieldError>` that comes back empty means the input is valid; nothing here
//! changes its input.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use everynode_core::model::{Node, Taint};
use everynode_core::quantity::Quantity;
pub use everynode_core::validation::{FieldError, go_quote};
use everynode_core::validation::{
    Path, validate_annotations, validate_label_name, validate_labels, validate_node_taints,
    validate_object_name, validate_taint_effect,
};

/// `Invalid value` of a string, quoted as Kubernetes prints it.
pub fn invalid(path: impl Into<String>, value: &str, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(path, go_quote(value), detail)
}

/// The errors of a node name given as a request field `path` (`name`), for Get, Delete and
/// Heartbeat (Kubernetes' `ValidateNodeName`: a DNS-1123 subdomain).
pub fn name_errors(name: &str, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_object_name(name, &Path::new(path), &mut errors);
    errors
}

/// A CIDR (`10.244.0.0/24`, `fd00::/64`).
fn is_cidr(value: &str) -> bool {
    let Some((address, prefix)) = value.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    prefix.parse::<u8>().is_ok_and(|p| p <= max) && !prefix.starts_with('+')
}

/// Resource names are qualified names and quantities parse and are not negative (Kubernetes'
/// `validateResourceName` and `ValidateResourceQuantityValue`).
fn validate_resources(
    resources: &BTreeMap<String, String>,
    path: &Path,
    errors: &mut Vec<FieldError>,
) {
    for (name, value) in resources {
        let at = path.key(name);
        validate_label_name(name, &at, errors);
        match Quantity::parse(value) {
            Ok(quantity) if quantity.is_negative() => {
                errors.push(invalid(&at, value, "must be greater than or equal to 0"));
            }
            Ok(_) => {}
            Err(e) => errors.push(invalid(&at, value, e.to_string())),
        }
    }
}

/// Every violation of a node an agent registers (Kubernetes' `ValidateNode`, for the fields an
/// agent sets). Server-owned fields (uid, resourceVersion, timestamps, the `Ready` condition)
/// are not checked: registration overwrites them.
pub fn validate_registration(node: &Node) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let meta = node.metadata.clone().unwrap_or_default();
    let metadata = Path::new("metadata");
    validate_object_name(&meta.name, &metadata.child("name"), &mut errors);
    validate_labels(&meta.labels, &metadata.child("labels"), &mut errors);
    validate_annotations(
        &meta.annotations,
        &metadata.child("annotations"),
        &mut errors,
    );
    if let Some(spec) = &node.spec {
        validate_node_taints(&spec.taints, &Path::new("spec.taints"), &mut errors);
        if !spec.pod_cidr.is_empty() && !is_cidr(&spec.pod_cidr) {
            errors.push(invalid(
                "spec.podCIDR",
                &spec.pod_cidr,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    if let Some(status) = &node.status {
        let at = Path::new("status");
        validate_resources(&status.capacity, &at.child("capacity"), &mut errors);
        validate_resources(&status.allocatable, &at.child("allocatable"), &mut errors);
        for (i, address) in status.addresses.iter().enumerate() {
            if address.type_.is_empty() {
                errors.push(FieldError::required(
                    format!("status.addresses[{i}].type"),
                    "",
                ));
            }
            if address.address.is_empty() {
                errors.push(FieldError::required(
                    format!("status.addresses[{i}].address"),
                    "",
                ));
            }
        }
    }
    errors
}

/// A taint to remove: every taint with `key`, or only the one with `effect` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaintKey {
    /// Taint key.
    pub key: String,
    /// Effect; `None` removes the key with any effect.
    pub effect: Option<String>,
}

impl TaintKey {
    /// Whether `taint` is one this key removes.
    pub fn matches(&self, taint: &Taint) -> bool {
        taint.key == self.key && self.effect.as_ref().is_none_or(|e| *e == taint.effect)
    }
}

impl fmt::Display for TaintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.effect {
            Some(effect) => write!(f, "{}:{effect}", self.key),
            None => f.write_str(&self.key),
        }
    }
}

/// The arguments of an `Update` (like `kubectl label`, `kubectl taint` and `kubectl cordon`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edit {
    /// Labels to set.
    pub set_labels: BTreeMap<String, String>,
    /// Label keys to remove (absent keys are ignored).
    pub remove_labels: Vec<String>,
    /// Allow replacing existing label values and taints.
    pub overwrite: bool,
    /// Taints to add.
    pub add_taints: Vec<Taint>,
    /// Taints to remove (absent ones are ignored).
    pub remove_taints: Vec<TaintKey>,
    /// Cordon (`Some(true)`) or uncordon (`Some(false)`).
    pub unschedulable: Option<bool>,
}

/// Every violation of an update's arguments: label keys and values, taints as for a node,
/// removal keys, and a key both set and removed (which `kubectl` refuses too).
pub fn validate_edit(edit: &Edit) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_labels(&edit.set_labels, &Path::new("set_labels"), &mut errors);
    for (i, key) in edit.remove_labels.iter().enumerate() {
        let at = Path::new("remove_labels").index(i);
        validate_label_name(key, &at, &mut errors);
        if edit.set_labels.contains_key(key) {
            errors.push(invalid(
                &at,
                key,
                "can not both modify and remove a label in the same command",
            ));
        }
    }
    validate_node_taints(&edit.add_taints, &Path::new("add_taints"), &mut errors);
    for (i, remove) in edit.remove_taints.iter().enumerate() {
        let at = Path::new("remove_taints").index(i);
        validate_label_name(&remove.key, &at.child("key"), &mut errors);
        if let Some(effect) = &remove.effect {
            validate_taint_effect(effect, true, &at.child("effect"), &mut errors);
        }
        if edit.add_taints.iter().any(|t| remove.matches(t)) {
            errors.push(invalid(
                &at,
                &remove.to_string(),
                "can not both modify and remove the following taint(s) in the same command",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{NodeAddress, NodeSpec, NodeStatus, ObjectMeta};

    use super::*;

    fn node(name: &str) -> Node {
        Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn paths(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn a_plain_registration_is_valid() {
        let mut n = node("ip-10-0-0-1.ec2.internal");
        let meta = n.metadata.get_or_insert_with(Default::default);
        meta.labels
            .insert("kubernetes.io/os".into(), "linux".into());
        n.spec = Some(NodeSpec {
            taints: vec![taint("dedicated", "infra", "NoSchedule")],
            pod_cidr: "10.244.1.0/24".into(),
            ..Default::default()
        });
        n.status = Some(NodeStatus {
            capacity: [
                ("cpu".to_string(), "4".to_string()),
                ("memory".into(), "8Gi".into()),
            ]
            .into(),
            addresses: vec![NodeAddress {
                type_: "InternalIP".into(),
                address: "10.0.0.1".into(),
            }],
            ..Default::default()
        });
        assert_eq!(validate_registration(&n), vec![]);
    }

    #[test]
    fn a_missing_or_uppercase_name_is_rejected_at_metadata_name() {
        let errors = validate_registration(&node(""));
        assert_eq!(
            errors[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let errors = validate_registration(&node("Node_1"));
        assert_eq!(paths(&errors), ["metadata.name"]);
        assert!(
            errors[0].to_string().starts_with(
                "metadata.name: Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain"
            ),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn bad_label_keys_and_values_are_reported_at_the_labels_path() {
        let mut n = node("n1");
        let meta = n.metadata.get_or_insert_with(Default::default);
        meta.labels.insert("bad key".into(), "ok".into());
        meta.labels.insert("ok".into(), "-bad-".into());
        let errors = validate_registration(&n);
        assert_eq!(paths(&errors), ["metadata.labels", "metadata.labels"]);
        assert!(
            errors[0]
                .to_string()
                .contains("\"bad key\": name part must consist of")
        );
        assert!(
            errors[1]
                .to_string()
                .contains("\"-bad-\": a valid label must be")
        );
    }

    #[test]
    fn taints_need_a_key_a_supported_effect_and_uniqueness_by_key_and_effect() {
        let mut n = node("n1");
        n.spec = Some(NodeSpec {
            taints: vec![
                taint("", "v", "NoSchedule"),
                taint("k", "v", ""),
                taint("k", "v", "Sometimes"),
                taint("k", "x", "NoExecute"),
                taint("k", "y", "NoExecute"),
                taint("k2", "bad value", "NoSchedule"),
            ],
            ..Default::default()
        });
        let errors = validate_registration(&n);
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            messages.contains(&"spec.taints[1].effect: Required value".to_string()),
            "{messages:#?}"
        );
        assert!(messages.contains(
            &"spec.taints[2].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"".to_string()
        ), "{messages:#?}");
        assert!(
            messages.iter().any(|m| m.starts_with(
                "spec.taints[0].key: Invalid value: \"\": name part must be non-empty"
            )),
            "{messages:#?}"
        );
        assert!(
            messages.iter().any(|m| m
                .starts_with("spec.taints[4]: Duplicate value: core.Taint{Key:\"k\"")
                && m.ends_with("taints must be unique by key and effect pair")),
            "{messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("spec.taints[5].value: Invalid value: \"bad value\"")),
            "{messages:#?}"
        );
    }

    #[test]
    fn quantities_and_cidrs_are_checked() {
        let mut n = node("n1");
        n.spec = Some(NodeSpec {
            pod_cidr: "10.0.0.0/33".into(),
            ..Default::default()
        });
        n.status = Some(NodeStatus {
            capacity: [
                ("cpu".to_string(), "lots".to_string()),
                ("memory".into(), "-1Gi".into()),
            ]
            .into(),
            ..Default::default()
        });
        let errors = validate_registration(&n);
        assert_eq!(
            paths(&errors),
            [
                "spec.podCIDR",
                "status.capacity[cpu]",
                "status.capacity[memory]"
            ]
        );
        assert!(is_cidr("fd00::/64") && is_cidr("10.1.0.0/16") && !is_cidr("10.1.0.0"));
    }

    #[test]
    fn an_edit_reports_every_bad_argument_with_its_request_path() {
        let edit = Edit {
            set_labels: [("a".to_string(), "x y".to_string())].into(),
            remove_labels: vec!["a".into(), "/bad".into()],
            add_taints: vec![taint("t", "", "Never")],
            remove_taints: vec![
                TaintKey {
                    key: "t".into(),
                    effect: None,
                },
                TaintKey {
                    key: "u".into(),
                    effect: Some("Soon".into()),
                },
            ],
            ..Default::default()
        };
        let errors = validate_edit(&edit);
        assert_eq!(
            paths(&errors),
            [
                "set_labels",
                "remove_labels[0]",
                "remove_labels[1]",
                "add_taints[0].effect",
                "remove_taints[0]",
                "remove_taints[1].effect",
            ]
        );
        assert!(
            errors[1]
                .to_string()
                .ends_with("can not both modify and remove a label in the same command")
        );
    }

    #[test]
    fn a_clean_edit_is_valid() {
        let edit = Edit {
            set_labels: [("zone".to_string(), "a".to_string())].into(),
            remove_labels: vec!["old".into()],
            add_taints: vec![taint("dedicated", "infra", "NoExecute")],
            remove_taints: vec![TaintKey {
                key: "dedicated".into(),
                effect: Some("NoSchedule".into()),
            }],
            unschedulable: Some(true),
            overwrite: false,
        };
        assert_eq!(validate_edit(&edit), vec![]);
    }
}
