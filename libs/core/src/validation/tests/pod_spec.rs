//! Table tests of the pod spec in depth (Kubernetes: `TestValidateContainers`,
//! `TestValidateInitContainers`, `TestValidatePorts`, `TestValidateVolumes`,
//! `TestValidateVolumeMounts` and `TestValidatePodSpec` in
//! `pkg/apis/core/validation/validation_test.go`): container names and images, init and sidecar
//! containers, container ports, volumes and mounts, pod-level fields and pod-specific
//! annotations.

use super::*;

#[test]
fn containers_need_unique_dns_label_names_and_an_image() {
    run_api(
        &[
            Row {
                name: "duplicate container names",
                change: |ds| pod(ds).containers.push(container("c")),
                want: &[("spec.template.spec.containers[1].name", Duplicate)],
            },
            Row {
                name: "init container named like a container",
                change: |ds| pod(ds).init_containers = vec![container("c")],
                want: &[("spec.template.spec.initContainers[0].name", Duplicate)],
            },
            Row {
                name: "duplicate init container names",
                change: |ds| pod(ds).init_containers = vec![container("i"), container("i")],
                want: &[("spec.template.spec.initContainers[1].name", Duplicate)],
            },
            Row {
                name: "name not a DNS label",
                change: |ds| c0(ds).name = "C_1".into(),
                want: &[("spec.template.spec.containers[0].name", Invalid)],
            },
            Row {
                name: "name missing",
                change: |ds| c0(ds).name.clear(),
                want: &[("spec.template.spec.containers[0].name", Required)],
            },
            Row {
                name: "image missing",
                change: |ds| c0(ds).image.clear(),
                want: &[("spec.template.spec.containers[0].image", Required)],
            },
            Row {
                name: "bad imagePullPolicy",
                change: |ds| c0(ds).image_pull_policy = "Sometimes".into(),
                want: &[(
                    "spec.template.spec.containers[0].imagePullPolicy",
                    NotSupported,
                )],
            },
            Row {
                name: "bad terminationMessagePolicy",
                change: |ds| c0(ds).termination_message_policy = "Log".into(),
                want: &[(
                    "spec.template.spec.containers[0].terminationMessagePolicy",
                    NotSupported,
                )],
            },
            Row {
                name: "restartPolicy on a regular container",
                change: |ds| c0(ds).restart_policy = Some("Always".into()),
                want: &[("spec.template.spec.containers[0].restartPolicy", Forbidden)],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| pod(ds).containers.push(container("c"))),
        "spec.template.spec.containers[1].name: Duplicate value: \"c\""
    );
}

#[test]
fn init_containers_may_only_be_sidecars_with_restart_policy_always() {
    run_api(
        &[
            Row {
                name: "sidecar (restartPolicy Always) with probes",
                change: |ds| {
                    let mut sidecar = container("side");
                    sidecar.restart_policy = Some("Always".into());
                    sidecar.readiness_probe = Some(exec_probe());
                    pod(ds).init_containers = vec![sidecar];
                },
                want: &[],
            },
            Row {
                name: "restartPolicy Never",
                change: |ds| {
                    let mut init = container("init");
                    init.restart_policy = Some("Never".into());
                    pod(ds).init_containers = vec![init];
                },
                want: &[(
                    "spec.template.spec.initContainers[0].restartPolicy",
                    NotSupported,
                )],
            },
            Row {
                name: "probe on a plain init container",
                change: |ds| {
                    let mut init = container("init");
                    init.liveness_probe = Some(exec_probe());
                    pod(ds).init_containers = vec![init];
                },
                want: &[(
                    "spec.template.spec.initContainers[0].livenessProbe",
                    Forbidden,
                )],
            },
            Row {
                name: "lifecycle on a plain init container",
                change: |ds| {
                    let mut init = container("init");
                    init.extra_fields.insert(
                        "lifecycle".into(),
                        json!({"preStop": {"exec": {"command": ["x"]}}}),
                    );
                    pod(ds).init_containers = vec![init];
                },
                want: &[("spec.template.spec.initContainers[0].lifecycle", Forbidden)],
            },
        ],
        ApiVersion::AppsV1,
    );
}

fn port(container_port: i32, host_port: i32, name: &str, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: name.into(),
        container_port,
        host_port,
        protocol: protocol.into(),
        ..Default::default()
    }
}

#[test]
fn container_ports_are_in_range_with_unique_iana_names() {
    run_api(
        &[
            Row {
                name: "containerPort missing",
                change: |ds| c0(ds).ports = vec![port(0, 0, "", "")],
                want: &[(
                    "spec.template.spec.containers[0].ports[0].containerPort",
                    Required,
                )],
            },
            Row {
                name: "containerPort too big",
                change: |ds| c0(ds).ports = vec![port(70000, 0, "", "")],
                want: &[(
                    "spec.template.spec.containers[0].ports[0].containerPort",
                    Invalid,
                )],
            },
            Row {
                name: "hostPort too big",
                change: |ds| c0(ds).ports = vec![port(80, 70000, "", "")],
                want: &[(
                    "spec.template.spec.containers[0].ports[0].hostPort",
                    Invalid,
                )],
            },
            Row {
                name: "protocol HTTP",
                change: |ds| c0(ds).ports = vec![port(80, 0, "", "HTTP")],
                want: &[(
                    "spec.template.spec.containers[0].ports[0].protocol",
                    NotSupported,
                )],
            },
            Row {
                name: "UDP and SCTP",
                change: |ds| {
                    c0(ds).ports = vec![port(53, 0, "dns", "UDP"), port(53, 0, "dns-sctp", "SCTP")]
                },
                want: &[],
            },
            Row {
                name: "bad port name",
                change: |ds| c0(ds).ports = vec![port(80, 0, "Http", "TCP")],
                want: &[("spec.template.spec.containers[0].ports[0].name", Invalid)],
            },
            Row {
                name: "duplicate port names",
                change: |ds| {
                    c0(ds).ports = vec![port(80, 0, "web", "TCP"), port(81, 0, "web", "TCP")]
                },
                want: &[("spec.template.spec.containers[0].ports[1].name", Duplicate)],
            },
            Row {
                name: "host port used twice across containers",
                change: |ds| {
                    c0(ds).ports = vec![port(80, 8080, "", "TCP")];
                    let mut other = container("d");
                    other.ports = vec![port(81, 8080, "", "TCP")];
                    pod(ds).containers.push(other);
                },
                want: &[(
                    "spec.template.spec.containers[1].ports[0].hostPort",
                    Duplicate,
                )],
            },
            Row {
                name: "hostNetwork with a hostPort other than the containerPort",
                change: |ds| {
                    pod(ds).host_network = true;
                    c0(ds).ports = vec![port(80, 81, "", "TCP")];
                },
                want: &[(
                    "spec.template.spec.containers[0].ports[0].hostPort",
                    Invalid,
                )],
            },
            Row {
                name: "hostNetwork with hostPort equal to containerPort",
                change: |ds| {
                    pod(ds).host_network = true;
                    c0(ds).ports = vec![port(9100, 9100, "metrics", "TCP")];
                },
                want: &[],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| c0(ds).ports = vec![port(70000, 0, "", "")]),
        "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
    );
}

fn volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

#[test]
fn volumes_are_uniquely_named_and_mounts_name_a_volume() {
    run_api(
        &[
            Row {
                name: "mount of a defined volume",
                change: |ds| {
                    pod(ds).volumes = vec![volume("data")];
                    c0(ds).volume_mounts = vec![mount("data", "/data")];
                },
                want: &[],
            },
            Row {
                name: "duplicate volume names",
                change: |ds| pod(ds).volumes = vec![volume("data"), volume("data")],
                want: &[("spec.template.spec.volumes[1].name", Duplicate)],
            },
            Row {
                name: "volume name not a DNS label",
                change: |ds| pod(ds).volumes = vec![volume("Data")],
                want: &[("spec.template.spec.volumes[0].name", Invalid)],
            },
            Row {
                name: "volume name missing",
                change: |ds| pod(ds).volumes = vec![volume("")],
                want: &[("spec.template.spec.volumes[0].name", Required)],
            },
            Row {
                name: "mount of an undefined volume",
                change: |ds| c0(ds).volume_mounts = vec![mount("nope", "/x")],
                want: &[(
                    "spec.template.spec.containers[0].volumeMounts[0].name",
                    NotFound,
                )],
            },
            Row {
                name: "mount of an invalid volume is not found",
                change: |ds| {
                    pod(ds).volumes = vec![volume("Data")];
                    c0(ds).volume_mounts = vec![mount("Data", "/x")];
                },
                want: &[
                    ("spec.template.spec.volumes[0].name", Invalid),
                    (
                        "spec.template.spec.containers[0].volumeMounts[0].name",
                        NotFound,
                    ),
                ],
            },
            Row {
                name: "mountPath missing",
                change: |ds| {
                    pod(ds).volumes = vec![volume("data")];
                    c0(ds).volume_mounts = vec![mount("data", "")];
                },
                want: &[(
                    "spec.template.spec.containers[0].volumeMounts[0].mountPath",
                    Required,
                )],
            },
            Row {
                name: "mountPath used twice",
                change: |ds| {
                    pod(ds).volumes = vec![volume("a"), volume("b")];
                    c0(ds).volume_mounts = vec![mount("a", "/x"), mount("b", "/x")];
                },
                want: &[(
                    "spec.template.spec.containers[0].volumeMounts[1].mountPath",
                    Invalid,
                )],
            },
            Row {
                name: "subPath escaping the volume",
                change: |ds| {
                    pod(ds).volumes = vec![volume("a")];
                    let mut m = mount("a", "/x");
                    m.sub_path = "../etc".into();
                    c0(ds).volume_mounts = vec![m];
                },
                want: &[(
                    "spec.template.spec.containers[0].volumeMounts.subPath",
                    Invalid,
                )],
            },
            Row {
                name: "Bidirectional propagation needs a privileged container",
                change: |ds| {
                    pod(ds).volumes = vec![volume("a")];
                    let mut m = mount("a", "/x");
                    m.mount_propagation = Some("Bidirectional".into());
                    c0(ds).volume_mounts = vec![m];
                },
                want: &[(
                    "spec.template.spec.containers[0].volumeMounts.mountPropagation",
                    Forbidden,
                )],
            },
            Row {
                name: "Bidirectional propagation in a privileged container",
                change: |ds| {
                    pod(ds).volumes = vec![volume("a")];
                    let mut m = mount("a", "/x");
                    m.mount_propagation = Some("Bidirectional".into());
                    c0(ds).volume_mounts = vec![m];
                    c0(ds).security_context = Some(SecurityContext {
                        privileged: Some(true),
                        ..Default::default()
                    });
                },
                want: &[],
            },
            Row {
                name: "unknown propagation",
                change: |ds| {
                    pod(ds).volumes = vec![volume("a")];
                    let mut m = mount("a", "/x");
                    m.mount_propagation = Some("Sideways".into());
                    c0(ds).volume_mounts = vec![m];
                },
                want: &[(
                    "spec.template.spec.containers[0].volumeMounts.mountPropagation",
                    NotSupported,
                )],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| c0(ds).volume_mounts = vec![mount("nope", "/x")]),
        "spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"nope\""
    );
}

#[test]
fn pod_level_fields_follow_kubernetes_rules() {
    run_api(
        &[
            Row {
                name: "dnsPolicy unknown",
                change: |ds| pod(ds).dns_policy = "Google".into(),
                want: &[("spec.template.spec.dnsPolicy", NotSupported)],
            },
            Row {
                name: "dnsPolicy None needs dnsConfig",
                change: |ds| pod(ds).dns_policy = "None".into(),
                want: &[("spec.template.spec.dnsConfig", Required)],
            },
            Row {
                name: "dnsPolicy None with nameservers",
                change: |ds| {
                    pod(ds).dns_policy = "None".into();
                    pod(ds)
                        .extra_fields
                        .insert("dnsConfig".into(), json!({"nameservers": ["1.1.1.1"]}));
                },
                want: &[],
            },
            Row {
                name: "serviceAccountName not a subdomain",
                change: |ds| pod(ds).service_account_name = "Bad_SA".into(),
                want: &[("spec.template.spec.serviceAccountName", Invalid)],
            },
            Row {
                name: "priorityClassName not a subdomain",
                change: |ds| pod(ds).priority_class_name = "Critical!".into(),
                want: &[("spec.template.spec.priorityClassName", Invalid)],
            },
            Row {
                name: "nodeName not a subdomain",
                change: |ds| pod(ds).node_name = "Node_1".into(),
                want: &[("spec.template.spec.nodeName", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
}

#[test]
fn pod_specific_annotations_are_checked() {
    run_api(
        &[
            Row {
                name: "seccomp docker/default",
                change: |ds| {
                    template_meta(ds).annotations =
                        labels(&[("seccomp.security.alpha.kubernetes.io/pod", "docker/default")])
                },
                want: &[],
            },
            Row {
                name: "seccomp unknown profile",
                change: |ds| {
                    template_meta(ds).annotations =
                        labels(&[("seccomp.security.alpha.kubernetes.io/pod", "strict")])
                },
                want: &[(
                    "spec.template.annotations.seccomp.security.alpha.kubernetes.io/pod",
                    Invalid,
                )],
            },
            Row {
                name: "AppArmor annotation for a missing container",
                change: |ds| {
                    template_meta(ds).annotations = labels(&[(
                        "container.apparmor.security.beta.kubernetes.io/x",
                        "runtime/default",
                    )])
                },
                want: &[(
                    "spec.template.annotations[container.apparmor.security.beta.kubernetes.io/x]",
                    Invalid,
                )],
            },
            Row {
                name: "pod deletion cost must be an int32",
                change: |ds| {
                    template_meta(ds).annotations =
                        labels(&[("controller.kubernetes.io/pod-deletion-cost", "+1")])
                },
                want: &[(
                    "spec.template.annotations[controller.kubernetes.io/pod-deletion-cost]",
                    Invalid,
                )],
            },
            Row {
                name: "tolerations annotation is validated like tolerations",
                change: |ds| {
                    template_meta(ds).annotations = labels(&[(
                        "scheduler.alpha.kubernetes.io/tolerations",
                        r#"[{"key":"","operator":"Equal"}]"#,
                    )])
                },
                want: &[(
                    "spec.template.annotations.scheduler.alpha.kubernetes.io/tolerations[0].operator",
                    Invalid,
                )],
            },
            Row {
                name: "critical-pod annotation is just an annotation",
                change: |ds| {
                    template_meta(ds).annotations =
                        labels(&[("scheduler.alpha.kubernetes.io/critical-pod", "")])
                },
                want: &[],
            },
        ],
        ApiVersion::AppsV1,
    );
}
