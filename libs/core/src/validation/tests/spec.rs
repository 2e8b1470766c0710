//! Table tests of the DaemonSet spec (Kubernetes: the template, update strategy and scheduling
//! cases of `TestValidateDaemonSet` in `pkg/apis/apps/validation/validation_test.go`): the
//! template's restart policy and other DaemonSet-specific template rules, the update strategy
//! and rolling update parameters, non-negative scalars, node affinity and tolerations.

use super::*;

// ---------------------------------------------------------------------------------------------
// The template (Kubernetes: `ValidateDaemonSetSpec`'s template rules: restartPolicy Always,
// no activeDeadlineSeconds, no ephemeral containers)
// ---------------------------------------------------------------------------------------------

#[test]
fn restart_policy_other_than_always_is_not_supported() {
    run_api(
        &[
            Row {
                name: "OnFailure",
                change: |ds| pod(ds).restart_policy = "OnFailure".into(),
                want: &[(RESTART, NotSupported)],
            },
            Row {
                name: "Never",
                change: |ds| pod(ds).restart_policy = "Never".into(),
                want: &[(RESTART, NotSupported)],
            },
            Row {
                name: "omitted is defaulted",
                change: |_| {},
                want: &[],
            },
            Row {
                name: "an unknown policy fails the pod rule and the DaemonSet rule",
                change: |ds| pod(ds).restart_policy = "Sometimes".into(),
                want: &[(RESTART, NotSupported), (RESTART, NotSupported)],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| pod(ds).restart_policy = "Never".into()),
        "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
    );
}

#[test]
fn template_rules_of_daemonsets() {
    run_api(
        &[
            Row {
                name: "activeDeadlineSeconds",
                change: |ds| pod(ds).active_deadline_seconds = Some(10),
                want: &[("spec.template.spec.activeDeadlineSeconds", Forbidden)],
            },
            Row {
                name: "activeDeadlineSeconds out of range is also invalid",
                change: |ds| pod(ds).active_deadline_seconds = Some(0),
                want: &[
                    ("spec.template.spec.activeDeadlineSeconds", Forbidden),
                    ("spec.template.spec.activeDeadlineSeconds", Invalid),
                ],
            },
            Row {
                name: "no containers",
                change: |ds| pod(ds).containers.clear(),
                want: &[(CONTAINERS, Required)],
            },
            Row {
                name: "template omitted (API path: the template is defaulted)",
                change: |ds| spec(ds).template = None,
                want: &[(TEMPLATE_LABELS, Invalid), (CONTAINERS, Required)],
            },
            Row {
                name: "ephemeral containers",
                change: |ds| pod(ds).ephemeral_containers = vec![container("debugger")],
                want: &[("spec.template.spec.ephemeralContainers", Forbidden)],
            },
        ],
        ApiVersion::AppsV1,
    );
    run_raw(&[Row {
        name: "template omitted (internal, undefaulted type)",
        change: |ds| spec(ds).template = None,
        want: &[
            (TEMPLATE_LABELS, Invalid),
            ("spec.template.spec.terminationGracePeriodSeconds", Required),
            (CONTAINERS, Required),
            (RESTART, Required),
            ("spec.template.spec.dnsPolicy", Required),
            (RESTART, NotSupported),
        ],
    }]);
    assert_eq!(
        only_message(|ds| pod(ds).active_deadline_seconds = Some(10)),
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"
    );
}

// ---------------------------------------------------------------------------------------------
// The update strategy and scalars (Kubernetes: `ValidateDaemonSetUpdateStrategy`,
// `ValidateRollingUpdateDaemonSet`, non-negative `minReadySeconds` and `revisionHistoryLimit`)
// ---------------------------------------------------------------------------------------------

#[test]
fn update_strategy_type_must_be_rolling_update_or_on_delete() {
    run_api(
        &[
            Row {
                name: "Random",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "Random".into(),
                        ..Default::default()
                    })
                },
                want: &[(STRATEGY, NotSupported)],
            },
            Row {
                name: "OnDelete",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "OnDelete".into(),
                        ..Default::default()
                    })
                },
                want: &[],
            },
            Row {
                name: "OnDelete ignores rollingUpdate",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "OnDelete".into(),
                        rolling_update: Some(RollingUpdateDaemonSet {
                            max_unavailable: int(0),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                },
                want: &[],
            },
            Row {
                name: "empty strategy is defaulted",
                change: |ds| spec(ds).update_strategy = Some(DaemonSetUpdateStrategy::default()),
                want: &[],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(
            |ds| spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                type_: "Random".into(),
                ..Default::default()
            })
        ),
        "spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Random\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\""
    );
}

#[test]
fn rolling_update_needs_exactly_one_of_max_unavailable_and_max_surge() {
    run_raw(&[
        Row {
            name: "rollingUpdate {} on the internal type",
            change: |ds| rolling(ds, None, None),
            want: &[(MAX_UNAVAILABLE, Required)],
        },
        Row {
            name: "RollingUpdate without rollingUpdate on the internal type",
            change: |ds| {
                spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                    type_: "RollingUpdate".into(),
                    ..Default::default()
                })
            },
            want: &[("spec.updateStrategy.rollingUpdate", Required)],
        },
    ]);
    run_api(
        &[
            Row {
                name: "maxUnavailable 0, maxSurge defaulted 0",
                change: |ds| rolling(ds, int(0), None),
                want: &[(MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "maxUnavailable 0%",
                change: |ds| rolling(ds, text("0%"), None),
                want: &[(MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "maxUnavailable 0, maxSurge 0%",
                change: |ds| rolling(ds, int(0), text("0%")),
                want: &[(MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "maxUnavailable 1",
                change: |ds| rolling(ds, int(1), None),
                want: &[],
            },
            Row {
                name: "maxUnavailable 1%",
                change: |ds| rolling(ds, text("1%"), None),
                want: &[],
            },
            Row {
                name: "maxUnavailable 100%",
                change: |ds| rolling(ds, text("100%"), None),
                want: &[],
            },
            Row {
                name: "maxUnavailable 101%",
                change: |ds| rolling(ds, text("101%"), None),
                want: &[(MAX_UNAVAILABLE, Invalid)],
            },
            Row {
                name: "both 1%",
                change: |ds| rolling(ds, text("1%"), text("1%")),
                want: &[(MAX_SURGE, Invalid)],
            },
            Row {
                name: "both 1",
                change: |ds| rolling(ds, int(1), int(1)),
                want: &[(MAX_SURGE, Invalid)],
            },
            Row {
                name: "surge 1",
                change: |ds| rolling(ds, int(0), int(1)),
                want: &[],
            },
            Row {
                name: "surge 1%",
                change: |ds| rolling(ds, int(0), text("1%")),
                want: &[],
            },
            Row {
                name: "surge 100%",
                change: |ds| rolling(ds, int(0), text("100%")),
                want: &[],
            },
            Row {
                name: "surge 101%",
                change: |ds| rolling(ds, int(0), text("101%")),
                want: &[(MAX_SURGE, Invalid)],
            },
            Row {
                name: "maxUnavailable -1",
                change: |ds| rolling(ds, int(-1), None),
                want: &[(MAX_UNAVAILABLE, Invalid)],
            },
            Row {
                name: "maxUnavailable abc counts as 0",
                change: |ds| rolling(ds, text("abc"), None),
                want: &[(MAX_UNAVAILABLE, Invalid), (MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "maxUnavailable \"5\" without %",
                change: |ds| rolling(ds, text("5"), None),
                want: &[(MAX_UNAVAILABLE, Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| rolling(ds, int(0), None)),
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
    );
    assert_eq!(
        only_message(|ds| rolling(ds, text("101%"), None)),
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 101%: must not be greater than 100%"
    );
    assert_eq!(
        only_message(|ds| rolling(ds, int(1), int(1))),
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"
    );
    assert_eq!(
        only_message(|ds| rolling(ds, int(-1), None)),
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"
    );
    assert_eq!(
        only_message(|ds| rolling(ds, text("5"), None)),
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 5: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
    );
}

#[test]
fn negative_scalars_are_invalid() {
    run_api(
        &[
            Row {
                name: "minReadySeconds -1",
                change: |ds| spec(ds).min_ready_seconds = -1,
                want: &[("spec.minReadySeconds", Invalid)],
            },
            Row {
                name: "revisionHistoryLimit -1",
                change: |ds| spec(ds).revision_history_limit = Some(-1),
                want: &[("spec.revisionHistoryLimit", Invalid)],
            },
            Row {
                name: "revisionHistoryLimit 0",
                change: |ds| spec(ds).revision_history_limit = Some(0),
                want: &[],
            },
            Row {
                name: "templateGeneration -1",
                change: |ds| spec(ds).template_generation = Some(-1),
                want: &[("spec.templateGeneration", Invalid)],
            },
            Row {
                name: "template generation annotation must be an integer",
                change: |ds| {
                    meta(ds).annotations = labels(&[(TEMPLATE_GENERATION_ANNOTATION, "x")])
                },
                want: &[(
                    "metadata.annotations[deprecated.daemonset.template.generation]",
                    Invalid,
                )],
            },
            Row {
                name: "negative generation",
                change: |ds| meta(ds).generation = -1,
                want: &[("metadata.generation", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| spec(ds).min_ready_seconds = -1),
        "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"
    );
}

// ---------------------------------------------------------------------------------------------
// Scheduling (Kubernetes: `ValidateNodeSelector` and `ValidateNodeSelectorRequirement` for
// `spec.affinity`, `ValidateTolerations`)
// ---------------------------------------------------------------------------------------------

#[test]
fn node_affinity_terms_follow_node_selector_rules() {
    run_api(
        &[
            Row {
                name: "nodeSelector",
                change: |ds| pod(ds).node_selector = labels(&[("disktype", "ssd")]),
                want: &[],
            },
            Row {
                name: "nodeSelector with an invalid key",
                change: |ds| pod(ds).node_selector = labels(&[("bad key", "ssd")]),
                want: &[("spec.template.spec.nodeSelector", Invalid)],
            },
            Row {
                name: "no terms",
                change: |ds| node_affinity(ds, vec![]),
                want: &[(REQUIRED_TERMS, Required)],
            },
            Row {
                name: "Gt with two values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Gt", &["1", "2"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                    Required,
                )],
            },
            Row {
                name: "Gt 5",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Gt", &["5"])])),
                want: &[],
            },
            Row {
                name: "Lt 5",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Lt", &["5"])])),
                want: &[],
            },
            Row {
                name: "In with no values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "In", &[])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                    Required,
                )],
            },
            Row {
                name: "Exists with values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Exists", &["v"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                    Forbidden,
                )],
            },
            Row {
                name: "operator Foo",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Foo", &["v"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
                    Invalid,
                )],
            },
            Row {
                name: "matchFields with two names",
                change: |ds| {
                    node_affinity(ds, fields(vec![req("metadata.name", "In", &["n1", "n2"])]))
                },
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values",
                    Required,
                )],
            },
            Row {
                name: "matchFields on metadata.labels",
                change: |ds| node_affinity(ds, fields(vec![req("metadata.labels", "In", &["n1"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key",
                    Invalid,
                )],
            },
            Row {
                name: "matchFields on metadata.name In one node",
                change: |ds| node_affinity(ds, fields(vec![req("metadata.name", "In", &["n1"])])),
                want: &[],
            },
            Row {
                name: "an empty term is allowed today (it matches nothing)",
                change: |ds| node_affinity(ds, vec![NodeSelectorTerm::default()]),
                want: &[],
            },
            Row {
                name: "expression values must be label values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "In", &["a b"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]",
                    Invalid,
                )],
            },
        ],
        ApiVersion::AppsV1,
    );
}

fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
    Toleration {
        key: key.into(),
        operator: operator.into(),
        value: value.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

#[test]
fn tolerations_follow_kubernetes_rules() {
    run_api(
        &[
            Row {
                name: "empty key with Equal",
                change: |ds| pod(ds).tolerations = vec![toleration("", "Equal", "", "")],
                want: &[("spec.template.spec.tolerations[0].operator", Invalid)],
            },
            Row {
                name: "empty key with Exists tolerates everything",
                change: |ds| pod(ds).tolerations = vec![toleration("", "Exists", "", "")],
                want: &[],
            },
            Row {
                name: "Exists with a value",
                change: |ds| {
                    pod(ds).tolerations = vec![toleration("k", "Exists", "v", "NoSchedule")]
                },
                want: &[("spec.template.spec.tolerations[0].operator", Invalid)],
            },
            Row {
                name: "Equal value must be a label value",
                change: |ds| pod(ds).tolerations = vec![toleration("k", "", "a b", "")],
                want: &[("spec.template.spec.tolerations[0].operator", Invalid)],
            },
            Row {
                name: "unknown operator",
                change: |ds| pod(ds).tolerations = vec![toleration("k", "Like", "", "")],
                want: &[("spec.template.spec.tolerations[0].operator", NotSupported)],
            },
            Row {
                name: "unknown effect",
                change: |ds| pod(ds).tolerations = vec![toleration("k", "Exists", "", "Never")],
                want: &[("spec.template.spec.tolerations[0].effect", NotSupported)],
            },
            Row {
                name: "tolerationSeconds without NoExecute",
                change: |ds| {
                    let mut t = toleration("k", "Exists", "", "NoSchedule");
                    t.toleration_seconds = Some(5);
                    pod(ds).tolerations = vec![t];
                },
                want: &[("spec.template.spec.tolerations[0].effect", Invalid)],
            },
            Row {
                name: "tolerationSeconds with NoExecute",
                change: |ds| {
                    let mut t = toleration("k", "Equal", "v", "NoExecute");
                    t.toleration_seconds = Some(5);
                    pod(ds).tolerations = vec![t];
                },
                want: &[],
            },
            Row {
                name: "invalid key",
                change: |ds| pod(ds).tolerations = vec![toleration("a b", "Exists", "", "")],
                want: &[("spec.template.spec.tolerations[0].key", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
}
