//! Tests of `enctl describe`: each block against kubectl's output for the same object.

use everynode_core::model::{
    Container, ContainerPort, ContainerState, ContainerStateRunning, ContainerStatus,
    DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, EnvVar, EnvVarSource,
    HostPathVolumeSource, HttpGetAction, IntOrString, LabelSelector, NodeAddress, NodeCondition,
    NodeSpec, NodeStatus, ObjectFieldSelector, ObjectMeta, OwnerReference, PodCondition, PodStatus,
    PodTemplateSpec, Probe, RollingUpdateDaemonSet, Taint, Toleration, Volume, VolumeMount,
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
                        host_path: Some(HostPathVolumeSource {
                            path: "/proc".into(),
                            ..HostPathVolumeSource::default()
                        }),
                        ..Volume::default()
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
