//! Tests of the proto <-> domain conversions: fixtures with every proto field set (checked
//! against the descriptor pool), round trips, and the documented choices for `extra_fields`,
//! container states, int-or-string, timestamps and Struct/Value <-> JSON.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage};
use serde_json::json;

use super::pod_status::container_state_from_proto;
use super::*;
use crate::v1;

// -- fixtures: proto objects with every field set -----------------------------------------

/// An `extra_fields` struct with nested objects, arrays, integers, floats, bools and null.
fn extra(tag: &str) -> Option<prost_types::Struct> {
    let serde_json::Value::Object(map) = json!({
        format!("x-{tag}"): {
            "nested": [1, 2.5, -3, "s", true, null, {"k": "v"}, []],
            "empty": {},
        },
        "count": 7,
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    Some(json_to_struct(map))
}

fn ts(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds,
        nanos: 500,
    })
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn number(n: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::NumberValue(n)),
    }
}

fn string(s: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StringValue(s.to_owned())),
    }
}

fn meta(name: &str) -> v1::ObjectMeta {
    v1::ObjectMeta {
        name: name.into(),
        generate_name: format!("{name}-"),
        namespace: "kube-system".into(),
        uid: format!("uid-{name}"),
        resource_version: "42".into(),
        generation: 3,
        creation_timestamp: ts(1_700_000_000),
        deletion_timestamp: ts(1_700_000_100),
        deletion_grace_period_seconds: Some(30),
        labels: map(&[("app", name), ("tier", "node")]),
        annotations: map(&[("deprecated.daemonset.template.generation", "3")]),
        owner_references: vec![v1::OwnerReference {
            kind: "DaemonSet".into(),
            name: "owner".into(),
            uid: "uid-owner".into(),
            api_version: "apps/v1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
            extra_fields: extra("owner"),
        }],
        finalizers: strings(&["foregroundDeletion"]),
        extra_fields: extra("meta"),
    }
}

fn probe(port: prost_types::Value) -> v1::Probe {
    v1::Probe {
        exec: Some(v1::ExecAction {
            command: strings(&["cat", "/tmp/healthy"]),
            extra_fields: extra("exec"),
        }),
        http_get: Some(v1::HttpGetAction {
            path: "/healthz".into(),
            port: Some(port.clone()),
            host: "127.0.0.1".into(),
            scheme: "HTTPS".into(),
            extra_fields: extra("httpGet"),
        }),
        tcp_socket: Some(v1::TcpSocketAction {
            port: Some(port),
            host: "localhost".into(),
            extra_fields: extra("tcpSocket"),
        }),
        grpc: Some(v1::GrpcAction {
            port: 9090,
            service: Some("health".into()),
            extra_fields: extra("grpc"),
        }),
        initial_delay_seconds: 1,
        timeout_seconds: 2,
        period_seconds: 3,
        success_threshold: 4,
        failure_threshold: 5,
        termination_grace_period_seconds: Some(6),
        extra_fields: extra("probe"),
    }
}

fn key_selector(name: &str) -> v1::KeySelector {
    v1::KeySelector {
        name: name.into(),
        key: "key".into(),
        optional: Some(true),
        extra_fields: extra("keySelector"),
    }
}

fn container(name: &str) -> v1::Container {
    v1::Container {
        name: name.into(),
        image: "registry.example/agent:1.2.3".into(),
        command: strings(&["/bin/agent"]),
        args: strings(&["--verbose", "--port=8080"]),
        working_dir: "/work".into(),
        ports: vec![v1::ContainerPort {
            name: "http".into(),
            host_port: 18080,
            container_port: 8080,
            protocol: "TCP".into(),
            host_ip: "0.0.0.0".into(),
            extra_fields: extra("port"),
        }],
        env: vec![v1::EnvVar {
            name: "NODE_NAME".into(),
            value: "fallback".into(),
            value_from: Some(v1::EnvVarSource {
                field_ref: Some(v1::ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: "spec.nodeName".into(),
                    extra_fields: extra("fieldRef"),
                }),
                resource_field_ref: Some(v1::ResourceFieldSelector {
                    container_name: name.into(),
                    resource: "limits.memory".into(),
                    divisor: "1Mi".into(),
                    extra_fields: extra("resourceFieldRef"),
                }),
                config_map_key_ref: Some(key_selector("config")),
                secret_key_ref: Some(key_selector("secret")),
                extra_fields: extra("valueFrom"),
            }),
            extra_fields: extra("env"),
        }],
        resources: Some(v1::ResourceRequirements {
            limits: map(&[("cpu", "500m"), ("memory", "128Mi")]),
            requests: map(&[("cpu", "100m")]),
            extra_fields: extra("resources"),
        }),
        volume_mounts: vec![v1::VolumeMount {
            name: "data".into(),
            read_only: true,
            mount_path: "/data".into(),
            sub_path: "sub".into(),
            mount_propagation: Some("HostToContainer".into()),
            extra_fields: extra("volumeMount"),
        }],
        liveness_probe: Some(probe(number(8080.0))),
        readiness_probe: Some(probe(string("http"))),
        startup_probe: Some(probe(number(8081.0))),
        termination_message_path: "/dev/termination-log".into(),
        termination_message_policy: "FallbackToLogsOnError".into(),
        image_pull_policy: "IfNotPresent".into(),
        restart_policy: Some("Always".into()),
        security_context: Some(v1::SecurityContext {
            capabilities: Some(v1::Capabilities {
                add: strings(&["NET_ADMIN"]),
                drop: strings(&["ALL"]),
                extra_fields: extra("capabilities"),
            }),
            privileged: Some(false),
            run_as_user: Some(65534),
            run_as_group: Some(65534),
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            proc_mount: Some("Default".into()),
            extra_fields: extra("securityContext"),
        }),
        extra_fields: extra("container"),
    }
}

fn node_selector_requirement(key: &str) -> v1::NodeSelectorRequirement {
    v1::NodeSelectorRequirement {
        key: key.into(),
        operator: "In".into(),
        values: strings(&["a", "b"]),
        extra_fields: extra("nodeSelectorRequirement"),
    }
}

fn pod_spec() -> v1::PodSpec {
    v1::PodSpec {
        volumes: vec![
            v1::Volume {
                name: "data".into(),
                host_path: None,
                empty_dir: None,
                extra_fields: extra("volume"),
            },
            v1::Volume {
                name: "host".into(),
                host_path: Some(v1::HostPathVolumeSource {
                    path: "/var/log".into(),
                    r#type: Some(String::new()),
                    extra_fields: extra("hostPath"),
                }),
                empty_dir: None,
                extra_fields: None,
            },
            v1::Volume {
                name: "scratch".into(),
                host_path: None,
                empty_dir: Some(v1::EmptyDirVolumeSource {
                    medium: Some("Memory".into()),
                    size_limit: Some("64Mi".into()),
                    extra_fields: extra("emptyDir"),
                }),
                extra_fields: None,
            },
        ],
        security_context: Some(v1::PodSecurityContext {
            run_as_user: Some(1000),
            run_as_group: Some(0),
            run_as_non_root: Some(false),
            supplemental_groups: vec![5, 6],
            fs_group: Some(2000),
            fs_group_change_policy: Some("OnRootMismatch".into()),
            supplemental_groups_policy: Some("Merge".into()),
            extra_fields: extra("podSecurityContext"),
        }),
        init_containers: vec![container("init")],
        containers: vec![container("main"), container("sidecar")],
        ephemeral_containers: vec![container("debug")],
        restart_policy: "Always".into(),
        termination_grace_period_seconds: Some(30),
        active_deadline_seconds: Some(600),
        dns_policy: "ClusterFirstWithHostNet".into(),
        node_selector: map(&[("kubernetes.io/os", "linux")]),
        service_account_name: "agent".into(),
        service_account: "agent".into(),
        node_name: "n1".into(),
        host_network: true,
        host_pid: true,
        host_ipc: true,
        affinity: Some(v1::Affinity {
            node_affinity: Some(v1::NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(v1::NodeSelector {
                    node_selector_terms: vec![v1::NodeSelectorTerm {
                        match_expressions: vec![node_selector_requirement("zone")],
                        match_fields: vec![node_selector_requirement("metadata.name")],
                        extra_fields: extra("term"),
                    }],
                    extra_fields: extra("nodeSelector"),
                }),
                extra_fields: extra("nodeAffinity"),
            }),
            extra_fields: extra("affinity"),
        }),
        scheduler_name: "default-scheduler".into(),
        tolerations: vec![v1::Toleration {
            key: "node.kubernetes.io/not-ready".into(),
            operator: "Exists".into(),
            value: "v".into(),
            effect: "NoExecute".into(),
            toleration_seconds: Some(300),
            extra_fields: extra("toleration"),
        }],
        priority_class_name: "system-node-critical".into(),
        priority: Some(2_000_001_000),
        extra_fields: extra("podSpec"),
    }
}

fn terminated() -> v1::ContainerStateTerminated {
    v1::ContainerStateTerminated {
        exit_code: 137,
        signal: 9,
        reason: "OOMKilled".into(),
        message: "out of memory".into(),
        started_at: ts(1_700_000_010),
        finished_at: ts(1_700_000_020),
        container_id: "process://41".into(),
    }
}

fn container_status(
    name: &str,
    state: v1::ContainerState,
    last_state: v1::ContainerState,
) -> v1::ContainerStatus {
    v1::ContainerStatus {
        name: name.into(),
        state: Some(state),
        last_state: Some(last_state),
        ready: true,
        restart_count: 2,
        image: "registry.example/agent:1.2.3".into(),
        image_id: "sha256:abc".into(),
        container_id: "process://42".into(),
        started: Some(true),
    }
}

fn pod() -> v1::Pod {
    let waiting = v1::ContainerState {
        waiting: Some(v1::ContainerStateWaiting {
            reason: "CrashLoopBackOff".into(),
            message: "back-off 10s".into(),
        }),
        ..Default::default()
    };
    let running = v1::ContainerState {
        running: Some(v1::ContainerStateRunning {
            started_at: ts(1_700_000_030),
        }),
        ..Default::default()
    };
    let terminated = v1::ContainerState {
        terminated: Some(terminated()),
        ..Default::default()
    };
    v1::Pod {
        api_version: "v1".into(),
        kind: "Pod".into(),
        metadata: Some(meta("agent-abcde")),
        spec: Some(pod_spec()),
        status: Some(v1::PodStatus {
            phase: "Running".into(),
            conditions: vec![v1::PodCondition {
                r#type: "Ready".into(),
                status: "True".into(),
                last_probe_time: ts(1_700_000_040),
                last_transition_time: ts(1_700_000_050),
                reason: "ContainersReady".into(),
                message: "all containers ready".into(),
            }],
            message: "running".into(),
            reason: "Started".into(),
            host_ip: "10.0.0.1".into(),
            pod_ip: "10.0.0.1".into(),
            start_time: ts(1_700_000_005),
            init_container_statuses: vec![container_status("init", waiting, terminated.clone())],
            container_statuses: vec![container_status("main", running, terminated)],
            extra_fields: extra("podStatus"),
        }),
        extra_fields: extra("pod"),
    }
}

fn node() -> v1::Node {
    v1::Node {
        api_version: "v1".into(),
        kind: "Node".into(),
        metadata: Some(meta("n1")),
        spec: Some(v1::NodeSpec {
            pod_cidr: "10.244.0.0/24".into(),
            provider_id: "example://n1".into(),
            unschedulable: true,
            taints: vec![v1::Taint {
                key: "dedicated".into(),
                value: "infra".into(),
                effect: "NoExecute".into(),
                time_added: ts(1_700_000_060),
            }],
            extra_fields: extra("nodeSpec"),
        }),
        status: Some(v1::NodeStatus {
            capacity: map(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]),
            allocatable: map(&[("cpu", "3800m")]),
            conditions: vec![v1::NodeCondition {
                r#type: "Ready".into(),
                status: "True".into(),
                last_heartbeat_time: ts(1_700_000_070),
                last_transition_time: ts(1_700_000_080),
                reason: "AgentReady".into(),
                message: "agent is posting ready status".into(),
            }],
            addresses: vec![v1::NodeAddress {
                r#type: "InternalIP".into(),
                address: "10.0.0.1".into(),
            }],
            node_info: Some(v1::NodeSystemInfo {
                machine_id: "m".into(),
                system_uuid: "s".into(),
                boot_id: "b".into(),
                kernel_version: "6.1.0".into(),
                os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                container_runtime_version: "process://0.1.0".into(),
                kubelet_version: "0.1.0".into(),
                kube_proxy_version: "v0.0.0".into(),
                operating_system: "linux".into(),
                architecture: "amd64".into(),
            }),
            extra_fields: extra("nodeStatus"),
        }),
        extra_fields: extra("node"),
    }
}

fn daemon_set() -> v1::DaemonSet {
    v1::DaemonSet {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        metadata: Some(meta("agent")),
        spec: Some(v1::DaemonSetSpec {
            selector: Some(v1::LabelSelector {
                match_labels: map(&[("app", "agent")]),
                match_expressions: vec![v1::LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: strings(&["node"]),
                    extra_fields: extra("labelSelectorRequirement"),
                }],
                extra_fields: extra("selector"),
            }),
            template: Some(v1::PodTemplateSpec {
                metadata: Some(meta("")),
                spec: Some(pod_spec()),
                extra_fields: extra("template"),
            }),
            update_strategy: Some(v1::DaemonSetUpdateStrategy {
                r#type: "RollingUpdate".into(),
                rolling_update: Some(v1::RollingUpdateDaemonSet {
                    max_unavailable: Some(number(1.0)),
                    max_surge: Some(string("10%")),
                    extra_fields: extra("rollingUpdate"),
                }),
                extra_fields: extra("updateStrategy"),
            }),
            min_ready_seconds: 10,
            template_generation: Some(3),
            revision_history_limit: Some(10),
            extra_fields: extra("spec"),
        }),
        status: Some(v1::DaemonSetStatus {
            current_number_scheduled: 1,
            number_misscheduled: 2,
            desired_number_scheduled: 3,
            number_ready: 4,
            observed_generation: 5,
            updated_number_scheduled: 6,
            number_available: 7,
            number_unavailable: 8,
            collision_count: Some(9),
            conditions: vec![v1::DaemonSetCondition {
                r#type: "Custom".into(),
                status: "True".into(),
                last_transition_time: ts(1_700_000_090),
                reason: "Because".into(),
                message: "a client said so".into(),
            }],
            extra_fields: extra("status"),
        }),
        extra_fields: extra("daemonSet"),
    }
}

fn controller_revision() -> v1::ControllerRevision {
    let serde_json::Value::Object(data) = json!({
        "spec": {"template": {"spec": {"containers": [{"name": "main"}]}, "$patch": "replace"}}
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    v1::ControllerRevision {
        api_version: "apps/v1".into(),
        kind: "ControllerRevision".into(),
        metadata: Some(meta("agent-6d4b8f7c9")),
        data: Some(json_to_struct(data)),
        revision: 4,
        extra_fields: extra("revision"),
    }
}

/// proto → model → proto.
fn round_trip<P, M>(proto: P) -> P
where
    P: Clone + From<M>,
    M: From<P>,
{
    P::from(M::from(proto))
}

// -- the fixtures really set every field ------------------------------------------------

/// Adds the full name of every field set in `message` (recursively, within `everynode.v1`).
fn collect_set_fields(message: &DynamicMessage, seen: &mut BTreeSet<String>) {
    for (field, value) in message.fields() {
        seen.insert(field.full_name().to_owned());
        collect_set_fields_in_value(value, seen);
    }
}

fn collect_set_fields_in_value(value: &prost_reflect::Value, seen: &mut BTreeSet<String>) {
    match value {
        prost_reflect::Value::Message(m) if m.descriptor().package_name() == "everynode.v1" => {
            collect_set_fields(m, seen);
        }
        prost_reflect::Value::List(items) => {
            for item in items {
                collect_set_fields_in_value(item, seen);
            }
        }
        prost_reflect::Value::Map(entries) => {
            for item in entries.values() {
                collect_set_fields_in_value(item, seen);
            }
        }
        _ => {}
    }
}

#[test]
fn fixtures_set_every_field_of_every_model_message() {
    let pool = DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
    let mut seen = BTreeSet::new();
    let fixtures: [(&str, Vec<u8>); 4] = [
        ("everynode.v1.DaemonSet", daemon_set().encode_to_vec()),
        ("everynode.v1.Pod", pod().encode_to_vec()),
        ("everynode.v1.Node", node().encode_to_vec()),
        (
            "everynode.v1.ControllerRevision",
            controller_revision().encode_to_vec(),
        ),
    ];
    for (name, bytes) in fixtures {
        let descriptor = pool.get_message_by_name(name).unwrap();
        let message = DynamicMessage::decode(descriptor, bytes.as_slice()).unwrap();
        collect_set_fields(&message, &mut seen);
    }

    let files = [
        "everynode/v1/meta.proto",
        "everynode/v1/pod.proto",
        "everynode/v1/node.proto",
        "everynode/v1/daemonset.proto",
    ];
    let unset: Vec<String> = files
        .iter()
        .flat_map(|file| {
            pool.get_file_by_name(file)
                .unwrap()
                .messages()
                .collect::<Vec<_>>()
        })
        .flat_map(|message| message.fields().collect::<Vec<_>>())
        .map(|field| field.full_name().to_owned())
        .filter(|name| !seen.contains(name))
        .collect();
    assert!(
        unset.is_empty(),
        "the fixtures leave these fields unset, so the round trips do not cover them: {unset:?}"
    );
}

// -- round trips ---------------------------------------------------------------------------

#[test]
fn fully_populated_daemon_set_round_trips_unchanged() {
    let proto = daemon_set();
    assert_eq!(round_trip::<_, model::DaemonSet>(proto.clone()), proto);
}

#[test]
fn pod_with_status_round_trips_unchanged() {
    let proto = pod();
    assert_eq!(round_trip::<_, model::Pod>(proto.clone()), proto);
}

#[test]
fn node_round_trips_unchanged() {
    let proto = node();
    assert_eq!(round_trip::<_, model::Node>(proto.clone()), proto);
}

#[test]
fn controller_revision_round_trips_unchanged() {
    let proto = controller_revision();
    assert_eq!(
        round_trip::<_, model::ControllerRevision>(proto.clone()),
        proto
    );
}

#[test]
fn empty_objects_round_trip_unchanged() {
    assert_eq!(
        round_trip::<_, model::DaemonSet>(v1::DaemonSet::default()),
        v1::DaemonSet::default()
    );
    assert_eq!(
        round_trip::<_, model::Pod>(v1::Pod::default()),
        v1::Pod::default()
    );
    assert_eq!(
        round_trip::<_, model::Node>(v1::Node::default()),
        v1::Node::default()
    );
    assert_eq!(
        round_trip::<_, model::ControllerRevision>(v1::ControllerRevision::default()),
        v1::ControllerRevision::default()
    );
}

#[test]
fn daemon_set_converts_to_the_expected_model_values() {
    let ds = model::DaemonSet::from(daemon_set());
    let spec = ds.spec.unwrap();
    let rolling = spec.update_strategy.unwrap().rolling_update.unwrap();
    assert_eq!(rolling.max_unavailable, Some(model::IntOrString::Int(1)));
    assert_eq!(rolling.max_surge, Some(model::IntOrString::from("10%")));
    assert_eq!(spec.min_ready_seconds, 10);
    let meta = ds.metadata.unwrap();
    assert_eq!(
        meta.creation_timestamp,
        Some(model::Timestamp {
            seconds: 1_700_000_000,
            nanos: 500
        })
    );
    assert_eq!(
        meta.controller_ref().map(|r| r.uid.as_str()),
        Some("uid-owner")
    );
    assert_eq!(meta.extra_fields["count"], json!(7));
    assert_eq!(
        meta.extra_fields["x-meta"]["nested"],
        json!([1, 2.5, -3, "s", true, null, {"k": "v"}, []])
    );
}

#[test]
fn pod_status_converts_container_states_to_the_enum() {
    let pod = model::Pod::from(pod());
    assert!(pod.is_ready());
    let status = pod.status.unwrap();
    assert!(matches!(
        status.container_statuses[0].state,
        Some(model::ContainerState::Running(_))
    ));
    assert!(matches!(
        status.init_container_statuses[0].state,
        Some(model::ContainerState::Waiting(_))
    ));
    assert!(matches!(
        status.container_statuses[0].last_state,
        Some(model::ContainerState::Terminated(
            model::ContainerStateTerminated { exit_code: 137, .. }
        ))
    ));
}

#[test]
fn core_template_json_is_what_the_manifest_encoder_writes_for_every_field() {
    // The planner writes revision data and hashes templates with its own encoder (core has no
    // protobuf); with every field of a template set, it must write what the manifest encoder
    // writes, so that a field added to the model but not to the planner's encoder (and so
    // invisible to the template hash) fails here.
    let mut ds = daemon_set();
    let template = ds.spec.as_mut().unwrap().template.as_mut().unwrap();
    // The one difference: the planner writes whole seconds, as `metav1.Time` does.
    let meta = template.metadata.as_mut().unwrap();
    for t in [&mut meta.creation_timestamp, &mut meta.deletion_timestamp] {
        t.as_mut().unwrap().nanos = 0;
    }
    let encoded = crate::manifest::to_value(&ds)["spec"]["template"].clone();
    let model = model::DaemonSet::from(ds);
    let core = everynode_core::planner::template_to_json(
        model.spec.as_ref().unwrap().template.as_ref().unwrap(),
    );
    assert_eq!(core, encoded);
}

// -- extra_fields presence ---------------------------------------------------------------

#[test]
fn empty_extra_fields_struct_becomes_absent() {
    let proto = v1::Volume {
        name: "data".into(),
        host_path: None,
        empty_dir: None,
        extra_fields: Some(prost_types::Struct::default()),
    };
    let volume = model::Volume::from(proto);
    assert!(volume.extra_fields.is_empty());
    assert_eq!(v1::Volume::from(volume).extra_fields, None);
}

#[test]
fn empty_extra_becomes_absent_struct_and_absent_struct_becomes_empty_extra() {
    assert_eq!(extra_to_struct(model::Extra::new()), None);
    assert_eq!(extra_from_struct(None), model::Extra::new());
}

// -- container state ---------------------------------------------------------------------

#[test]
fn container_state_with_several_set_keeps_terminated_over_running_over_waiting() {
    let waiting = Some(v1::ContainerStateWaiting {
        reason: "ContainerCreating".into(),
        message: String::new(),
    });
    let running = Some(v1::ContainerStateRunning { started_at: ts(1) });
    let all = v1::ContainerState {
        waiting: waiting.clone(),
        running,
        terminated: Some(terminated()),
    };
    assert!(matches!(
        container_state_from_proto(all),
        Some(model::ContainerState::Terminated(_))
    ));
    let running_and_waiting = v1::ContainerState {
        waiting,
        running,
        terminated: None,
    };
    assert!(matches!(
        container_state_from_proto(running_and_waiting),
        Some(model::ContainerState::Running(_))
    ));
}

#[test]
fn container_state_with_none_set_is_absent() {
    assert_eq!(
        container_state_from_proto(v1::ContainerState::default()),
        None
    );
}

// -- int-or-string -----------------------------------------------------------------------

#[test]
fn integral_numbers_in_i32_range_are_ints() {
    use model::IntOrString::Int;
    assert_eq!(int_or_string_from_value(number(1.0)), Some(Int(1)));
    assert_eq!(int_or_string_from_value(number(0.0)), Some(Int(0)));
    assert_eq!(int_or_string_from_value(number(-1.0)), Some(Int(-1)));
    assert_eq!(
        int_or_string_from_value(number(f64::from(i32::MAX))),
        Some(Int(i32::MAX))
    );
    assert_eq!(
        int_or_string_from_value(number(f64::from(i32::MIN))),
        Some(Int(i32::MIN))
    );
}

#[test]
fn fractional_or_out_of_range_numbers_are_kept_as_strings() {
    use model::IntOrString::Str;
    assert_eq!(
        int_or_string_from_value(number(1.5)),
        Some(Str("1.5".into()))
    );
    assert_eq!(
        int_or_string_from_value(number(3_000_000_000.0)),
        Some(Str("3000000000".into()))
    );
    assert_eq!(
        int_or_string_from_value(number(f64::from(i32::MIN) - 1.0)),
        Some(Str("-2147483649".into()))
    );
    assert_eq!(
        int_or_string_from_value(number(f64::NAN)),
        Some(Str("NaN".into()))
    );
}

#[test]
fn strings_are_kept_as_given() {
    use model::IntOrString::Str;
    assert_eq!(
        int_or_string_from_value(string("10%")),
        Some(Str("10%".into()))
    );
    assert_eq!(int_or_string_from_value(string("1")), Some(Str("1".into())));
    assert_eq!(
        int_or_string_from_value(string("")),
        Some(Str(String::new()))
    );
}

#[test]
fn null_bool_list_struct_and_kindless_values_are_absent() {
    let values = [
        prost_types::Value { kind: None },
        json_to_value(json!(null)),
        json_to_value(json!(true)),
        json_to_value(json!([1])),
        json_to_value(json!({"a": 1})),
    ];
    for value in values {
        assert_eq!(int_or_string_from_value(value.clone()), None, "{value:?}");
    }
}

#[test]
fn int_or_string_is_written_as_number_or_string() {
    assert_eq!(
        int_or_string_to_value(model::IntOrString::Int(25)),
        number(25.0)
    );
    assert_eq!(
        int_or_string_to_value(model::IntOrString::from("25%")),
        string("25%")
    );
}

// -- timestamps ----------------------------------------------------------------------------

#[test]
fn timestamps_are_normalized_on_the_way_in() {
    let t = prost_types::Timestamp {
        seconds: 10,
        nanos: -1,
    };
    assert_eq!(
        timestamp_from_proto(t),
        model::Timestamp {
            seconds: 9,
            nanos: 999_999_999
        }
    );
}

// -- Struct / Value ↔ JSON ----------------------------------------------------------------

#[test]
fn nested_json_round_trips_through_struct() {
    let serde_json::Value::Object(object) = json!({
        "a": {"b": {"c": [1, [2, [3]], {"d": null}]}},
        "list": ["x", 1.25, false, null],
        "empty_object": {},
        "empty_list": [],
        "int": -42,
        "float": 0.5,
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    assert_eq!(struct_to_json(json_to_struct(object.clone())), object);
}

#[test]
fn integral_numbers_within_2_pow_53_come_back_as_json_integers() {
    assert!(value_to_json(number(3.0)).is_i64());
    assert_eq!(value_to_json(number(3.0)), json!(3));
    assert_eq!(value_to_json(number(-0.0)), json!(0));
    assert_eq!(
        value_to_json(number(9_007_199_254_740_992.0)),
        json!(9_007_199_254_740_992_i64)
    );
    assert_eq!(
        value_to_json(number(-9_007_199_254_740_992.0)),
        json!(-9_007_199_254_740_992_i64)
    );
}

#[test]
fn other_numbers_come_back_as_json_floats() {
    assert!(value_to_json(number(2.5)).is_f64());
    assert_eq!(value_to_json(number(2.5)), json!(2.5));
    let big = value_to_json(number(18_014_398_509_481_984.0)); // 2^54
    assert!(big.is_f64(), "{big}");
    assert_eq!(big.as_f64(), Some(18_014_398_509_481_984.0));
}

#[test]
fn non_finite_numbers_and_kindless_values_become_null() {
    assert_eq!(value_to_json(number(f64::NAN)), serde_json::Value::Null);
    assert_eq!(
        value_to_json(number(f64::INFINITY)),
        serde_json::Value::Null
    );
    assert_eq!(
        value_to_json(prost_types::Value { kind: None }),
        serde_json::Value::Null
    );
}

#[test]
fn json_scalars_map_to_their_proto_kinds() {
    assert_eq!(
        json_to_value(json!(null)).kind,
        Some(Kind::NullValue(prost_types::NullValue::NullValue.into()))
    );
    assert_eq!(json_to_value(json!(true)).kind, Some(Kind::BoolValue(true)));
    assert_eq!(json_to_value(json!(7)).kind, Some(Kind::NumberValue(7.0)));
    assert_eq!(
        json_to_value(json!(0.25)).kind,
        Some(Kind::NumberValue(0.25))
    );
    assert_eq!(
        json_to_value(json!(u64::MAX)).kind,
        Some(Kind::NumberValue(u64::MAX as f64))
    );
    assert_eq!(
        json_to_value(json!("s")).kind,
        Some(Kind::StringValue("s".into()))
    );
}
