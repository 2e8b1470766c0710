//! Table tests of security contexts and the typed volume sources (Kubernetes:
//! `TestValidatePodSecurityContext`, `TestValidateSecurityContext`, `TestValidateVolumes`'
//! hostPath and emptyDir rows in `pkg/apis/core/validation/validation_test.go`).

use super::*;

const SC: &str = "spec.template.spec.securityContext";
const C0_SC: &str = "spec.template.spec.containers[0].securityContext";

fn pod_sc(ds: &mut DaemonSet) -> &mut PodSecurityContext {
    pod(ds)
        .security_context
        .get_or_insert_with(Default::default)
}

fn c0_sc(ds: &mut DaemonSet) -> &mut SecurityContext {
    c0(ds).security_context.get_or_insert_with(Default::default)
}

fn set_volume(ds: &mut DaemonSet, volume: Volume) {
    pod(ds).volumes = vec![volume];
}

#[test]
fn pod_security_context_ids_and_policies() {
    run_api(
        &[
            Row {
                name: "valid ids",
                change: |ds| {
                    let sc = pod_sc(ds);
                    sc.run_as_user = Some(0);
                    sc.run_as_group = Some(2_147_483_647);
                    sc.run_as_non_root = Some(true);
                    sc.fs_group = Some(2000);
                    sc.supplemental_groups = vec![1, 65534];
                    sc.fs_group_change_policy = Some("OnRootMismatch".into());
                    sc.supplemental_groups_policy = Some("Strict".into());
                },
                want: &[],
            },
            Row {
                name: "negative runAsUser",
                change: |ds| pod_sc(ds).run_as_user = Some(-1),
                want: &[("spec.template.spec.securityContext.runAsUser", Invalid)],
            },
            Row {
                name: "runAsGroup too large",
                change: |ds| pod_sc(ds).run_as_group = Some(2_147_483_648),
                want: &[("spec.template.spec.securityContext.runAsGroup", Invalid)],
            },
            Row {
                name: "negative fsGroup and supplemental group",
                change: |ds| {
                    pod_sc(ds).fs_group = Some(-5);
                    pod_sc(ds).supplemental_groups = vec![10, -1];
                },
                want: &[
                    ("spec.template.spec.securityContext.fsGroup", Invalid),
                    (
                        "spec.template.spec.securityContext.supplementalGroups[1]",
                        Invalid,
                    ),
                ],
            },
            Row {
                name: "unknown fsGroupChangePolicy",
                change: |ds| pod_sc(ds).fs_group_change_policy = Some("Sometimes".into()),
                want: &[(
                    "spec.template.spec.securityContext.fsGroupChangePolicy",
                    NotSupported,
                )],
            },
            Row {
                name: "unknown supplementalGroupsPolicy",
                change: |ds| pod_sc(ds).supplemental_groups_policy = Some("Mix".into()),
                want: &[(
                    "spec.template.spec.securityContext.supplementalGroupsPolicy",
                    NotSupported,
                )],
            },
        ],
        ApiVersion::AppsV1,
    );
}

#[test]
fn container_security_context_rules() {
    run_api(
        &[
            Row {
                name: "everything valid",
                change: |ds| {
                    let sc = c0_sc(ds);
                    sc.run_as_user = Some(65534);
                    sc.run_as_group = Some(65534);
                    sc.run_as_non_root = Some(true);
                    sc.read_only_root_filesystem = Some(true);
                    sc.allow_privilege_escalation = Some(false);
                    sc.proc_mount = Some("Default".into());
                    sc.capabilities = Some(Capabilities {
                        add: vec!["NET_ADMIN".into()],
                        drop: vec!["ALL".into()],
                        ..Default::default()
                    });
                },
                want: &[],
            },
            Row {
                name: "privileged with escalation allowed",
                change: |ds| {
                    c0_sc(ds).privileged = Some(true);
                    c0_sc(ds).allow_privilege_escalation = Some(true);
                },
                want: &[],
            },
            Row {
                name: "negative runAsUser",
                change: |ds| c0_sc(ds).run_as_user = Some(-1),
                want: &[(
                    "spec.template.spec.containers[0].securityContext.runAsUser",
                    Invalid,
                )],
            },
            Row {
                name: "runAsGroup too large",
                change: |ds| c0_sc(ds).run_as_group = Some(i64::MAX),
                want: &[(
                    "spec.template.spec.containers[0].securityContext.runAsGroup",
                    Invalid,
                )],
            },
            Row {
                name: "privileged without privilege escalation",
                change: |ds| {
                    c0_sc(ds).privileged = Some(true);
                    c0_sc(ds).allow_privilege_escalation = Some(false);
                },
                want: &[("spec.template.spec.containers[0].securityContext", Invalid)],
            },
            Row {
                name: "CAP_SYS_ADMIN without privilege escalation",
                change: |ds| {
                    c0_sc(ds).allow_privilege_escalation = Some(false);
                    c0_sc(ds).capabilities = Some(Capabilities {
                        add: vec!["CAP_SYS_ADMIN".into()],
                        ..Default::default()
                    });
                },
                want: &[("spec.template.spec.containers[0].securityContext", Invalid)],
            },
            Row {
                name: "unknown procMount",
                change: |ds| c0_sc(ds).proc_mount = Some("Masked".into()),
                want: &[(
                    "spec.template.spec.containers[0].securityContext.procMount",
                    NotSupported,
                )],
            },
        ],
        ApiVersion::AppsV1,
    );
}

#[test]
fn security_context_messages_read_like_kubernetes() {
    assert_eq!(
        only_message(|ds| c0_sc(ds).run_as_user = Some(-1)),
        format!(
            "{C0_SC}.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive"
        )
    );
    assert_eq!(
        only_message(|ds| pod_sc(ds).run_as_group = Some(-2)),
        format!("{SC}.runAsGroup: Invalid value: -2: must be between 0 and 2147483647, inclusive")
    );
    assert!(
        only_message(|ds| {
            c0_sc(ds).privileged = Some(true);
            c0_sc(ds).allow_privilege_escalation = Some(false);
        })
        .ends_with("cannot set `allowPrivilegeEscalation` to false and `privileged` to true"),
    );
}

#[test]
fn host_path_and_empty_dir_sources() {
    run_api(
        &[
            Row {
                name: "valid hostPath and emptyDir",
                change: |ds| {
                    pod(ds).volumes = vec![
                        Volume {
                            name: "h".into(),
                            host_path: Some(HostPathVolumeSource {
                                path: "/var/log".into(),
                                type_: Some("Directory".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "e".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                medium: Some("Memory".into()),
                                size_limit: Some("64Mi".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    ];
                },
                want: &[],
            },
            Row {
                name: "hostPath without a path",
                change: |ds| {
                    set_volume(
                        ds,
                        Volume {
                            name: "h".into(),
                            host_path: Some(HostPathVolumeSource::default()),
                            ..Default::default()
                        },
                    )
                },
                want: &[("spec.template.spec.volumes[0].hostPath.path", Required)],
            },
            Row {
                name: "hostPath with backsteps",
                change: |ds| {
                    set_volume(
                        ds,
                        Volume {
                            name: "h".into(),
                            host_path: Some(HostPathVolumeSource {
                                path: "/var/../etc".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )
                },
                want: &[("spec.template.spec.volumes[0].hostPath.path", Invalid)],
            },
            Row {
                name: "unknown hostPath type",
                change: |ds| {
                    set_volume(
                        ds,
                        Volume {
                            name: "h".into(),
                            host_path: Some(HostPathVolumeSource {
                                path: "/x".into(),
                                type_: Some("Folder".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )
                },
                want: &[("spec.template.spec.volumes[0].hostPath.type", NotSupported)],
            },
            Row {
                name: "emptyDir sizeLimit not a quantity",
                change: |ds| {
                    set_volume(
                        ds,
                        Volume {
                            name: "e".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                size_limit: Some("lots".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )
                },
                want: &[("spec.template.spec.volumes[0].emptyDir.sizeLimit", Invalid)],
            },
            Row {
                name: "negative emptyDir sizeLimit",
                change: |ds| {
                    set_volume(
                        ds,
                        Volume {
                            name: "e".into(),
                            empty_dir: Some(EmptyDirVolumeSource {
                                size_limit: Some("-1Gi".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    )
                },
                want: &[(
                    "spec.template.spec.volumes[0].emptyDir.sizeLimit",
                    Forbidden,
                )],
            },
            Row {
                name: "two sources",
                change: |ds| {
                    set_volume(
                        ds,
                        Volume {
                            name: "two".into(),
                            host_path: Some(HostPathVolumeSource {
                                path: "/x".into(),
                                ..Default::default()
                            }),
                            empty_dir: Some(EmptyDirVolumeSource::default()),
                            ..Default::default()
                        },
                    )
                },
                want: &[("spec.template.spec.volumes[0].emptyDir", Forbidden)],
            },
        ],
        ApiVersion::AppsV1,
    );
}
