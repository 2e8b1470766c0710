//! Kubernetes-shaped JSON for pod templates, as stored in ControllerRevisions, and the canonical
//! byte form the template hash is computed over.
//!
//! [`template_to_json`] writes a [`PodTemplateSpec`] under Kubernetes' JSON field names
//! (`spec.containers[].imagePullPolicy`, `hostPID`, …) so that a revision's `data` can be read
//! back as a template by anything that reads manifests (e.g. `rollout undo`). Rules:
//! - unset values are left out (empty strings, `false`, `0` for plain scalars, empty lists and
//!   maps, `None`); an `Option` that is `Some` is always written;
//! - each `extra_fields` entry is written inline; a typed field wins over an extra of the same
//!   name;
//! - timestamps are RFC 3339 strings in UTC with whole seconds (like `metav1.Time`).
//!
//! Why the planner has its own encoder next to `everynode_api::manifest`'s (which writes every
//! object through the protobuf descriptor pool, for `enctl get -o yaml|json`):
//! - core is pure and has no protobuf: `everynode_api` depends on core, not the other way
//!   round, and the planner (which the controller calls with model types) must produce revision
//!   data and the template hash itself;
//! - the other way round, writing every kind (DaemonSet, Node, Pod, statuses) by hand here
//!   would repeat the proto schema that the descriptor pool already holds.
//!
//! The two are held to the same output: `everynode_api`'s tests compare this encoder with the
//! manifest encoder on a template with every field set and on the 40 real-world manifests
//! (given and defaulted), and pin those templates' hashes. They differ only where this one
//! follows Kubernetes more closely for revision data: timestamps are written in whole seconds
//! (`metav1.Time`; the manifest encoder writes proto3 JSON with nanoseconds), and
//! `nodeSelectorTerms` is written even when empty (the API requires the field).
//!
//! [`canonical_bytes`] is compact JSON with object keys sorted at every level, independent of
//! `serde_json`'s map ordering feature, so the hash is stable across builds. [`json_equal`]
//! compares two JSON values as values (key order ignored, `80` equal to `80.0`), because revision
//! data that went through `google.protobuf.Struct` comes back with floating-point numbers.

use serde_json::{Map, Number, Value};

use crate::model::{
    Affinity, Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ExecAction, Extra, GrpcAction, HostPathVolumeSource, HttpGetAction, IntOrString, KeySelector,
    NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector,
    ObjectMeta, OwnerReference, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceFieldSelector, ResourceRequirements, SecurityContext, TcpSocketAction, Timestamp,
    Toleration, Volume, VolumeMount,
};

/// A pod template as Kubernetes-shaped JSON (see the module documentation for the rules).
pub fn template_to_json(template: &PodTemplateSpec) -> Value {
    let mut o = Obj::default();
    o.opt("metadata", template.metadata.as_ref().map(meta));
    o.opt("spec", template.spec.as_ref().map(pod_spec));
    o.finish(&template.extra_fields)
}

/// An object under construction: fields in insertion order, unset ones skipped.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn put(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_string(), value);
    }
    fn str(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.put(key, Value::String(value.to_string()));
        }
    }
    fn opt_str(&mut self, key: &str, value: Option<&String>) {
        if let Some(v) = value {
            self.put(key, Value::String(v.clone()));
        }
    }
    fn flag(&mut self, key: &str, value: bool) {
        if value {
            self.put(key, Value::Bool(true));
        }
    }
    fn opt_flag(&mut self, key: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.put(key, Value::Bool(v));
        }
    }
    fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.put(key, Value::Number(Number::from(value)));
        }
    }
    fn opt_int(&mut self, key: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.put(key, Value::Number(Number::from(v)));
        }
    }
    fn opt(&mut self, key: &str, value: Option<Value>) {
        if let Some(v) = value {
            self.put(key, v);
        }
    }
    fn strings(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            let list = values.iter().cloned().map(Value::String).collect();
            self.put(key, Value::Array(list));
        }
    }
    fn map(&mut self, key: &str, values: &std::collections::BTreeMap<String, String>) {
        if !values.is_empty() {
            let map = values
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.put(key, Value::Object(map));
        }
    }
    fn list<T>(&mut self, key: &str, values: &[T], f: impl Fn(&T) -> Value) {
        if !values.is_empty() {
            self.put(key, Value::Array(values.iter().map(f).collect()));
        }
    }
    fn time(&mut self, key: &str, value: Option<Timestamp>) {
        if let Some(t) = value {
            self.put(key, Value::String(t.to_rfc3339()));
        }
    }
    fn int_or_string(&mut self, key: &str, value: Option<&IntOrString>) {
        match value {
            Some(IntOrString::Int(n)) => self.put(key, Value::Number(Number::from(*n))),
            Some(IntOrString::Str(s)) => self.put(key, Value::String(s.clone())),
            None => {}
        }
    }
    fn finish(mut self, extra: &Extra) -> Value {
        for (k, v) in extra {
            self.0.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(self.0)
    }
}

fn meta(m: &ObjectMeta) -> Value {
    let mut o = Obj::default();
    o.str("name", &m.name);
    o.str("generateName", &m.generate_name);
    o.str("namespace", &m.namespace);
    o.str("uid", &m.uid);
    o.str("resourceVersion", &m.resource_version);
    o.int("generation", m.generation);
    o.time("creationTimestamp", m.creation_timestamp);
    o.time("deletionTimestamp", m.deletion_timestamp);
    o.opt_int(
        "deletionGracePeriodSeconds",
        m.deletion_grace_period_seconds,
    );
    o.map("labels", &m.labels);
    o.map("annotations", &m.annotations);
    o.list("ownerReferences", &m.owner_references, owner_reference);
    o.strings("finalizers", &m.finalizers);
    o.finish(&m.extra_fields)
}

fn owner_reference(r: &OwnerReference) -> Value {
    let mut o = Obj::default();
    o.str("apiVersion", &r.api_version);
    o.str("kind", &r.kind);
    o.str("name", &r.name);
    o.str("uid", &r.uid);
    o.opt_flag("controller", r.controller);
    o.opt_flag("blockOwnerDeletion", r.block_owner_deletion);
    o.finish(&r.extra_fields)
}

fn pod_spec(s: &PodSpec) -> Value {
    let mut o = Obj::default();
    o.list("volumes", &s.volumes, volume);
    o.list("initContainers", &s.init_containers, container);
    o.list("containers", &s.containers, container);
    o.list("ephemeralContainers", &s.ephemeral_containers, container);
    o.str("restartPolicy", &s.restart_policy);
    o.opt_int(
        "terminationGracePeriodSeconds",
        s.termination_grace_period_seconds,
    );
    o.opt_int("activeDeadlineSeconds", s.active_deadline_seconds);
    o.str("dnsPolicy", &s.dns_policy);
    o.map("nodeSelector", &s.node_selector);
    o.str("serviceAccountName", &s.service_account_name);
    o.str("serviceAccount", &s.service_account);
    o.str("nodeName", &s.node_name);
    o.flag("hostNetwork", s.host_network);
    o.flag("hostPID", s.host_pid);
    o.flag("hostIPC", s.host_ipc);
    o.opt("affinity", s.affinity.as_ref().map(affinity));
    o.str("schedulerName", &s.scheduler_name);
    o.list("tolerations", &s.tolerations, toleration);
    o.str("priorityClassName", &s.priority_class_name);
    o.opt_int("priority", s.priority.map(i64::from));
    o.opt(
        "securityContext",
        s.security_context.as_ref().map(pod_security_context),
    );
    o.finish(&s.extra_fields)
}

fn pod_security_context(c: &PodSecurityContext) -> Value {
    let mut o = Obj::default();
    o.opt_int("runAsUser", c.run_as_user);
    o.opt_int("runAsGroup", c.run_as_group);
    o.opt_flag("runAsNonRoot", c.run_as_non_root);
    o.list("supplementalGroups", &c.supplemental_groups, |g| {
        Value::Number(Number::from(*g))
    });
    o.opt_int("fsGroup", c.fs_group);
    o.opt_str("fsGroupChangePolicy", c.fs_group_change_policy.as_ref());
    o.opt_str(
        "supplementalGroupsPolicy",
        c.supplemental_groups_policy.as_ref(),
    );
    o.finish(&c.extra_fields)
}

fn security_context(c: &SecurityContext) -> Value {
    let mut o = Obj::default();
    o.opt("capabilities", c.capabilities.as_ref().map(capabilities));
    o.opt_flag("privileged", c.privileged);
    o.opt_int("runAsUser", c.run_as_user);
    o.opt_int("runAsGroup", c.run_as_group);
    o.opt_flag("runAsNonRoot", c.run_as_non_root);
    o.opt_flag("readOnlyRootFilesystem", c.read_only_root_filesystem);
    o.opt_flag("allowPrivilegeEscalation", c.allow_privilege_escalation);
    o.opt_str("procMount", c.proc_mount.as_ref());
    o.finish(&c.extra_fields)
}

fn capabilities(c: &Capabilities) -> Value {
    let mut o = Obj::default();
    o.strings("add", &c.add);
    o.strings("drop", &c.drop);
    o.finish(&c.extra_fields)
}

fn volume(v: &Volume) -> Value {
    let mut o = Obj::default();
    o.str("name", &v.name);
    o.opt("hostPath", v.host_path.as_ref().map(host_path));
    o.opt("emptyDir", v.empty_dir.as_ref().map(empty_dir));
    o.finish(&v.extra_fields)
}

fn host_path(h: &HostPathVolumeSource) -> Value {
    let mut o = Obj::default();
    o.str("path", &h.path);
    o.opt_str("type", h.type_.as_ref());
    o.finish(&h.extra_fields)
}

fn empty_dir(e: &EmptyDirVolumeSource) -> Value {
    let mut o = Obj::default();
    o.opt_str("medium", e.medium.as_ref());
    o.opt_str("sizeLimit", e.size_limit.as_ref());
    o.finish(&e.extra_fields)
}

fn container(c: &Container) -> Value {
    let mut o = Obj::default();
    o.str("name", &c.name);
    o.str("image", &c.image);
    o.strings("command", &c.command);
    o.strings("args", &c.args);
    o.str("workingDir", &c.working_dir);
    o.list("ports", &c.ports, container_port);
    o.list("env", &c.env, env_var);
    o.opt("resources", c.resources.as_ref().map(resources));
    o.list("volumeMounts", &c.volume_mounts, volume_mount);
    o.opt("livenessProbe", c.liveness_probe.as_ref().map(probe));
    o.opt("readinessProbe", c.readiness_probe.as_ref().map(probe));
    o.opt("startupProbe", c.startup_probe.as_ref().map(probe));
    o.str("terminationMessagePath", &c.termination_message_path);
    o.str("terminationMessagePolicy", &c.termination_message_policy);
    o.str("imagePullPolicy", &c.image_pull_policy);
    o.opt_str("restartPolicy", c.restart_policy.as_ref());
    o.opt(
        "securityContext",
        c.security_context.as_ref().map(security_context),
    );
    o.finish(&c.extra_fields)
}

fn container_port(p: &ContainerPort) -> Value {
    let mut o = Obj::default();
    o.str("name", &p.name);
    o.int("hostPort", p.host_port.into());
    o.int("containerPort", p.container_port.into());
    o.str("protocol", &p.protocol);
    o.str("hostIP", &p.host_ip);
    o.finish(&p.extra_fields)
}

fn env_var(e: &EnvVar) -> Value {
    let mut o = Obj::default();
    o.str("name", &e.name);
    o.str("value", &e.value);
    o.opt("valueFrom", e.value_from.as_ref().map(env_var_source));
    o.finish(&e.extra_fields)
}

fn env_var_source(s: &EnvVarSource) -> Value {
    let mut o = Obj::default();
    o.opt("fieldRef", s.field_ref.as_ref().map(object_field_selector));
    o.opt(
        "resourceFieldRef",
        s.resource_field_ref.as_ref().map(resource_field_selector),
    );
    o.opt(
        "configMapKeyRef",
        s.config_map_key_ref.as_ref().map(key_selector),
    );
    o.opt("secretKeyRef", s.secret_key_ref.as_ref().map(key_selector));
    o.finish(&s.extra_fields)
}

fn object_field_selector(s: &ObjectFieldSelector) -> Value {
    let mut o = Obj::default();
    o.str("apiVersion", &s.api_version);
    o.str("fieldPath", &s.field_path);
    o.finish(&s.extra_fields)
}

fn resource_field_selector(s: &ResourceFieldSelector) -> Value {
    let mut o = Obj::default();
    o.str("containerName", &s.container_name);
    o.str("resource", &s.resource);
    o.str("divisor", &s.divisor);
    o.finish(&s.extra_fields)
}

fn key_selector(s: &KeySelector) -> Value {
    let mut o = Obj::default();
    o.str("name", &s.name);
    o.str("key", &s.key);
    o.opt_flag("optional", s.optional);
    o.finish(&s.extra_fields)
}

fn resources(r: &ResourceRequirements) -> Value {
    let mut o = Obj::default();
    o.map("limits", &r.limits);
    o.map("requests", &r.requests);
    o.finish(&r.extra_fields)
}

fn volume_mount(m: &VolumeMount) -> Value {
    let mut o = Obj::default();
    o.str("name", &m.name);
    o.flag("readOnly", m.read_only);
    o.str("mountPath", &m.mount_path);
    o.str("subPath", &m.sub_path);
    o.opt_str("mountPropagation", m.mount_propagation.as_ref());
    o.finish(&m.extra_fields)
}

fn probe(p: &Probe) -> Value {
    let mut o = Obj::default();
    o.opt("exec", p.exec.as_ref().map(exec_action));
    o.opt("httpGet", p.http_get.as_ref().map(http_get_action));
    o.opt("tcpSocket", p.tcp_socket.as_ref().map(tcp_socket_action));
    o.opt("grpc", p.grpc.as_ref().map(grpc_action));
    o.int("initialDelaySeconds", p.initial_delay_seconds.into());
    o.int("timeoutSeconds", p.timeout_seconds.into());
    o.int("periodSeconds", p.period_seconds.into());
    o.int("successThreshold", p.success_threshold.into());
    o.int("failureThreshold", p.failure_threshold.into());
    o.opt_int(
        "terminationGracePeriodSeconds",
        p.termination_grace_period_seconds,
    );
    o.finish(&p.extra_fields)
}

fn exec_action(a: &ExecAction) -> Value {
    let mut o = Obj::default();
    o.strings("command", &a.command);
    o.finish(&a.extra_fields)
}

fn http_get_action(a: &HttpGetAction) -> Value {
    let mut o = Obj::default();
    o.str("path", &a.path);
    o.int_or_string("port", a.port.as_ref());
    o.str("host", &a.host);
    o.str("scheme", &a.scheme);
    o.finish(&a.extra_fields)
}

fn tcp_socket_action(a: &TcpSocketAction) -> Value {
    let mut o = Obj::default();
    o.int_or_string("port", a.port.as_ref());
    o.str("host", &a.host);
    o.finish(&a.extra_fields)
}

fn grpc_action(a: &GrpcAction) -> Value {
    let mut o = Obj::default();
    o.int("port", a.port.into());
    o.opt_str("service", a.service.as_ref());
    o.finish(&a.extra_fields)
}

fn affinity(a: &Affinity) -> Value {
    let mut o = Obj::default();
    o.opt("nodeAffinity", a.node_affinity.as_ref().map(node_affinity));
    o.finish(&a.extra_fields)
}

fn node_affinity(a: &NodeAffinity) -> Value {
    let mut o = Obj::default();
    o.opt(
        "requiredDuringSchedulingIgnoredDuringExecution",
        a.required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(node_selector),
    );
    o.finish(&a.extra_fields)
}

fn node_selector(s: &NodeSelector) -> Value {
    let mut o = Obj::default();
    // Required by the API even when empty.
    o.put(
        "nodeSelectorTerms",
        Value::Array(
            s.node_selector_terms
                .iter()
                .map(node_selector_term)
                .collect(),
        ),
    );
    o.finish(&s.extra_fields)
}

fn node_selector_term(t: &NodeSelectorTerm) -> Value {
    let mut o = Obj::default();
    o.list(
        "matchExpressions",
        &t.match_expressions,
        node_selector_requirement,
    );
    o.list("matchFields", &t.match_fields, node_selector_requirement);
    o.finish(&t.extra_fields)
}

fn node_selector_requirement(r: &NodeSelectorRequirement) -> Value {
    let mut o = Obj::default();
    o.str("key", &r.key);
    o.str("operator", &r.operator);
    o.strings("values", &r.values);
    o.finish(&r.extra_fields)
}

fn toleration(t: &Toleration) -> Value {
    let mut o = Obj::default();
    o.str("key", &t.key);
    o.str("operator", &t.operator);
    o.str("value", &t.value);
    o.str("effect", &t.effect);
    o.opt_int("tolerationSeconds", t.toleration_seconds);
    o.finish(&t.extra_fields)
}

/// Compact JSON with the keys of every object sorted, appended to `out`.
pub fn canonical_bytes(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => quoted(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_bytes(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                quoted(k, out);
                out.push(b':');
                canonical_bytes(v, out);
            }
            out.push(b'}');
        }
    }
}

fn quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// True when two JSON values are equal as values: object key order is ignored and numbers are
/// compared by value (`80` equals `80.0`).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, PodSpec};

    #[test]
    fn template_json_uses_kubernetes_names_and_skips_unset_fields() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: [("app".to_string(), "x".to_string())].into_iter().collect(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: "img".into(),
                    ports: vec![ContainerPort {
                        container_port: 80,
                        host_port: 8080,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                host_pid: true,
                termination_grace_period_seconds: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = template_to_json(&template);
        let expected = serde_json::json!({
            "metadata": {"labels": {"app": "x"}},
            "spec": {
                "containers": [{"name": "c", "image": "img", "ports": [{"hostPort": 8080, "containerPort": 80}]}],
                "terminationGracePeriodSeconds": 0,
                "hostPID": true
            }
        });
        assert!(json_equal(&json, &expected), "{json}");
    }

    #[test]
    fn extra_fields_are_written_inline_and_typed_fields_win() {
        let mut spec = PodSpec {
            dns_policy: "ClusterFirst".into(),
            ..Default::default()
        };
        spec.extra_fields.insert(
            "securityContext".into(),
            serde_json::json!({"runAsUser": 0}),
        );
        spec.extra_fields
            .insert("dnsPolicy".into(), serde_json::json!("Default"));
        let template = PodTemplateSpec {
            spec: Some(spec),
            ..Default::default()
        };
        let json = template_to_json(&template);
        assert_eq!(json["spec"]["securityContext"]["runAsUser"], 0);
        assert_eq!(json["spec"]["dnsPolicy"], "ClusterFirst");
    }

    #[test]
    fn canonical_bytes_sort_keys_and_escape() {
        let v = serde_json::json!({"b": [1, "x\"y\n"], "a": {"d": null, "c": true}});
        let mut out = Vec::new();
        canonical_bytes(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":{"c":true,"d":null},"b":[1,"x\"y\n"]}"#
        );
    }

    #[test]
    fn json_equal_ignores_key_order_and_float_integers() {
        let a = serde_json::json!({"port": 80, "name": "x"});
        let b = serde_json::json!({"name": "x", "port": 80.0});
        assert!(json_equal(&a, &b));
        assert!(!json_equal(
            &a,
            &serde_json::json!({"name": "x", "port": 81})
        ));
        assert!(!json_equal(&a, &serde_json::json!({"name": "x"})));
    }
}
