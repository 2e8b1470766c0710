//! Table tests of a container's resources, environment and probes (Kubernetes:
//! `TestValidateResourceRequirements`, `TestValidateEnv` and `TestValidateProbe` in
//! `pkg/apis/core/validation/validation_test.go`).

use super::*;

fn resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Option<ResourceRequirements> {
    Some(ResourceRequirements {
        limits: labels(limits),
        requests: labels(requests),
        ..Default::default()
    })
}

#[test]
fn resource_quantities_parse_and_requests_do_not_exceed_limits() {
    run_api(
        &[
            Row {
                name: "valid quantities",
                change: |ds| {
                    c0(ds).resources = resources(
                        &[("cpu", "0.5"), ("memory", "1Gi")],
                        &[("cpu", "500m"), ("memory", "100Mi")],
                    )
                },
                want: &[],
            },
            Row {
                name: "unparsable limit",
                change: |ds| c0(ds).resources = resources(&[("cpu", "lots")], &[]),
                want: &[(
                    "spec.template.spec.containers[0].resources.limits[cpu]",
                    Invalid,
                )],
            },
            Row {
                name: "unparsable request",
                change: |ds| c0(ds).resources = resources(&[], &[("memory", "1GB")]),
                want: &[(
                    "spec.template.spec.containers[0].resources.requests[memory]",
                    Invalid,
                )],
            },
            Row {
                name: "request above limit",
                change: |ds| c0(ds).resources = resources(&[("cpu", "500m")], &[("cpu", "1")]),
                want: &[(
                    "spec.template.spec.containers[0].resources.requests",
                    Invalid,
                )],
            },
            Row {
                name: "negative quantity",
                change: |ds| c0(ds).resources = resources(&[("memory", "-1")], &[]),
                want: &[(
                    "spec.template.spec.containers[0].resources.limits[memory]",
                    Invalid,
                )],
            },
            Row {
                name: "non-container resource name",
                change: |ds| c0(ds).resources = resources(&[("pods", "1")], &[]),
                want: &[(
                    "spec.template.spec.containers[0].resources.limits[pods]",
                    Invalid,
                )],
            },
            Row {
                name: "unknown bare resource name",
                change: |ds| c0(ds).resources = resources(&[("gpu", "1")], &[]),
                want: &[
                    (
                        "spec.template.spec.containers[0].resources.limits[gpu]",
                        Invalid,
                    ),
                    (
                        "spec.template.spec.containers[0].resources.limits[gpu]",
                        Invalid,
                    ),
                ],
            },
            Row {
                name: "extended resource must be whole and equal in request and limit",
                change: |ds| {
                    c0(ds).resources =
                        resources(&[("nvidia.com/gpu", "1")], &[("nvidia.com/gpu", "500m")])
                },
                want: &[
                    (
                        "spec.template.spec.containers[0].resources.requests[nvidia.com/gpu]",
                        Invalid,
                    ),
                    (
                        "spec.template.spec.containers[0].resources.requests",
                        Invalid,
                    ),
                ],
            },
            Row {
                name: "extended resource request without limit",
                change: |ds| c0(ds).resources = resources(&[], &[("example.com/dongle", "1")]),
                want: &[(
                    "spec.template.spec.containers[0].resources.limits",
                    Required,
                )],
            },
            Row {
                name: "hugepages need cpu or memory",
                change: |ds| {
                    c0(ds).resources =
                        resources(&[("hugepages-2Mi", "2Mi")], &[("hugepages-2Mi", "2Mi")])
                },
                want: &[("spec.template.spec.containers[0].resources", Forbidden)],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| c0(ds).resources = resources(&[("cpu", "0.5")], &[("cpu", "2")])),
        "spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 500m"
    );
    assert_eq!(
        only_message(|ds| c0(ds).resources = resources(&[("cpu", "lots")], &[])),
        "spec.template.spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

fn env(name: &str, value: &str, from: Option<EnvVarSource>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: value.into(),
        value_from: from,
        ..Default::default()
    }
}

fn field_ref(path: &str) -> Option<EnvVarSource> {
    Some(EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.into(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[test]
fn env_vars_have_valid_names_and_exactly_one_source() {
    run_api(
        &[
            Row {
                name: "classic names",
                change: |ds| {
                    c0(ds).env = vec![env("MY_VAR", "1", None), env("my.env-name", "", None)]
                },
                want: &[],
            },
            Row {
                name: "name missing",
                change: |ds| c0(ds).env = vec![env("", "1", None)],
                want: &[("spec.template.spec.containers[0].env[0].name", Required)],
            },
            Row {
                name: "name starting with a digit",
                change: |ds| c0(ds).env = vec![env("1X", "1", None)],
                want: &[("spec.template.spec.containers[0].env[0].name", Invalid)],
            },
            Row {
                name: "name with =",
                change: |ds| c0(ds).env = vec![env("A=B", "1", None)],
                want: &[("spec.template.spec.containers[0].env[0].name", Invalid)],
            },
            Row {
                name: "valueFrom with no source",
                change: |ds| c0(ds).env = vec![env("A", "", Some(EnvVarSource::default()))],
                want: &[("spec.template.spec.containers[0].env[0].valueFrom", Invalid)],
            },
            Row {
                name: "valueFrom together with value",
                change: |ds| c0(ds).env = vec![env("A", "x", field_ref("spec.nodeName"))],
                want: &[("spec.template.spec.containers[0].env[0].valueFrom", Invalid)],
            },
            Row {
                name: "valueFrom with two sources",
                change: |ds| {
                    let mut from = field_ref("spec.nodeName");
                    if let Some(f) = from.as_mut() {
                        f.secret_key_ref = Some(KeySelector {
                            name: "s".into(),
                            key: "k".into(),
                            ..Default::default()
                        });
                    }
                    c0(ds).env = vec![env("A", "", from)];
                },
                want: &[("spec.template.spec.containers[0].env[0].valueFrom", Invalid)],
            },
            Row {
                name: "every supported fieldRef path",
                change: |ds| {
                    c0(ds).env = [
                        "metadata.name",
                        "metadata.namespace",
                        "metadata.uid",
                        "metadata.labels['app']",
                        "metadata.annotations['Example.com/x']",
                        "spec.nodeName",
                        "spec.serviceAccountName",
                        "status.hostIP",
                        "status.hostIPs",
                        "status.podIP",
                        "status.podIPs",
                    ]
                    .iter()
                    .enumerate()
                    .map(|(i, p)| env(&format!("V{i}"), "", field_ref(p)))
                    .collect();
                },
                want: &[],
            },
            Row {
                name: "fieldRef spec.restartPolicy is not for env",
                change: |ds| c0(ds).env = vec![env("A", "", field_ref("spec.restartPolicy"))],
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
                    NotSupported,
                )],
            },
            Row {
                name: "fieldRef unknown path",
                change: |ds| c0(ds).env = vec![env("A", "", field_ref("spec.nope"))],
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
                    Invalid,
                )],
            },
            Row {
                name: "fieldRef label subscript must be a qualified name",
                change: |ds| c0(ds).env = vec![env("A", "", field_ref("metadata.labels['a b']"))],
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.fieldRef",
                    Invalid,
                )],
            },
            Row {
                name: "fieldRef subscript on another field",
                change: |ds| c0(ds).env = vec![env("A", "", field_ref("spec.nodeName['x']"))],
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
                    Invalid,
                )],
            },
            Row {
                name: "secretKeyRef without key",
                change: |ds| {
                    c0(ds).env = vec![env(
                        "A",
                        "",
                        Some(EnvVarSource {
                            secret_key_ref: Some(KeySelector {
                                name: "s".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    )]
                },
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key",
                    Required,
                )],
            },
            Row {
                name: "resourceFieldRef on an unknown resource",
                change: |ds| {
                    c0(ds).env = vec![env(
                        "A",
                        "",
                        Some(EnvVarSource {
                            resource_field_ref: Some(ResourceFieldSelector {
                                resource: "limits.gpu".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    )]
                },
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.resourceFieldRef.resource",
                    NotSupported,
                )],
            },
            Row {
                name: "resourceFieldRef cpu divisor 1m",
                change: |ds| {
                    c0(ds).env = vec![env(
                        "A",
                        "",
                        Some(EnvVarSource {
                            resource_field_ref: Some(ResourceFieldSelector {
                                resource: "limits.cpu".into(),
                                divisor: "1m".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    )]
                },
                want: &[],
            },
            Row {
                name: "resourceFieldRef cpu divisor 1Mi",
                change: |ds| {
                    c0(ds).env = vec![env(
                        "A",
                        "",
                        Some(EnvVarSource {
                            resource_field_ref: Some(ResourceFieldSelector {
                                resource: "limits.cpu".into(),
                                divisor: "1Mi".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                    )]
                },
                want: &[(
                    "spec.template.spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor",
                    Invalid,
                )],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| c0(ds).env = vec![env("A", "", field_ref("spec.restartPolicy"))]),
        "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.restartPolicy\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\""
    );
    assert_eq!(
        only_message(|ds| c0(ds).env = vec![env("A", "", Some(EnvVarSource::default()))]),
        "spec.template.spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
    );
}

#[test]
fn probes_have_one_handler_and_sane_thresholds() {
    run_api(
        &[
            Row {
                name: "exec liveness probe",
                change: |ds| c0(ds).liveness_probe = Some(exec_probe()),
                want: &[],
            },
            Row {
                name: "no handler",
                change: |ds| c0(ds).readiness_probe = Some(Probe::default()),
                want: &[("spec.template.spec.containers[0].readinessProbe", Required)],
            },
            Row {
                name: "two handlers",
                change: |ds| {
                    let mut p = exec_probe();
                    p.tcp_socket = Some(TcpSocketAction {
                        port: Some(IntOrString::Int(80)),
                        ..Default::default()
                    });
                    c0(ds).readiness_probe = Some(p);
                },
                want: &[(
                    "spec.template.spec.containers[0].readinessProbe.tcpSocket",
                    Forbidden,
                )],
            },
            Row {
                name: "exec without command",
                change: |ds| {
                    c0(ds).liveness_probe = Some(Probe {
                        exec: Some(ExecAction::default()),
                        ..Default::default()
                    })
                },
                want: &[(
                    "spec.template.spec.containers[0].livenessProbe.exec.command",
                    Required,
                )],
            },
            Row {
                name: "liveness successThreshold must be 1",
                change: |ds| {
                    let mut p = exec_probe();
                    p.success_threshold = 2;
                    c0(ds).liveness_probe = Some(p);
                },
                want: &[(
                    "spec.template.spec.containers[0].livenessProbe.successThreshold",
                    Invalid,
                )],
            },
            Row {
                name: "startup successThreshold must be 1",
                change: |ds| {
                    let mut p = exec_probe();
                    p.success_threshold = 3;
                    c0(ds).startup_probe = Some(p);
                },
                want: &[(
                    "spec.template.spec.containers[0].startupProbe.successThreshold",
                    Invalid,
                )],
            },
            Row {
                name: "readiness successThreshold may be above 1",
                change: |ds| {
                    let mut p = exec_probe();
                    p.success_threshold = 3;
                    c0(ds).readiness_probe = Some(p);
                },
                want: &[],
            },
            Row {
                name: "negative timings",
                change: |ds| {
                    let mut p = exec_probe();
                    p.initial_delay_seconds = -1;
                    p.failure_threshold = -1;
                    c0(ds).readiness_probe = Some(p);
                },
                want: &[
                    (
                        "spec.template.spec.containers[0].readinessProbe.initialDelaySeconds",
                        Invalid,
                    ),
                    (
                        "spec.template.spec.containers[0].readinessProbe.failureThreshold",
                        Invalid,
                    ),
                ],
            },
            Row {
                name: "httpGet on a named port with HTTPS",
                change: |ds| {
                    c0(ds).liveness_probe = Some(Probe {
                        http_get: Some(HttpGetAction {
                            port: Some(IntOrString::from("api")),
                            scheme: "HTTPS".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                },
                want: &[],
            },
            Row {
                name: "httpGet with bad port and scheme",
                change: |ds| {
                    c0(ds).liveness_probe = Some(Probe {
                        http_get: Some(HttpGetAction {
                            port: Some(IntOrString::Int(0)),
                            scheme: "FTP".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                },
                want: &[
                    (
                        "spec.template.spec.containers[0].livenessProbe.httpGet.port",
                        Invalid,
                    ),
                    (
                        "spec.template.spec.containers[0].livenessProbe.httpGet.scheme",
                        NotSupported,
                    ),
                ],
            },
            Row {
                name: "terminationGracePeriodSeconds on a readiness probe",
                change: |ds| {
                    let mut p = exec_probe();
                    p.termination_grace_period_seconds = Some(5);
                    c0(ds).readiness_probe = Some(p);
                },
                want: &[(
                    "spec.template.spec.containers[0].readinessProbe.terminationGracePeriodSeconds",
                    Invalid,
                )],
            },
        ],
        ApiVersion::AppsV1,
    );
}
