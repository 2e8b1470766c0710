//! Table tests of what differs for `extensions/v1beta1` manifests (the Kubernetes 1.3 API): the
//! selector defaulted from the template labels, the 1.3-era rules, read-write GCE PD volumes,
//! and the `scheduler.alpha.kubernetes.io/affinity` annotation validated with the 1.5 rules.

use super::*;

const AFFINITY_PATH: &str = "spec.template.annotations.scheduler.alpha.kubernetes.io/affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

fn affinity_annotation(ds: &mut DaemonSet, json: &str) {
    template_meta(ds)
        .annotations
        .insert(AFFINITY_ANNOTATION_KEY.into(), json.into());
}

#[test]
fn extensions_v1beta1_defaults_the_selector_from_template_labels() {
    let mut ds = baseline();
    spec(&mut ds).selector = None;
    let ds = defaulted(ds, ApiVersion::ExtensionsV1beta1);
    assert_errors(
        "selector defaulted from the template labels",
        &validate_daemon_set(&ds, ApiVersion::ExtensionsV1beta1),
        &[],
    );
    let spec = ds.spec.as_ref().expect("spec");
    assert_eq!(
        spec.selector.as_ref().map(|s| s.match_labels.clone()),
        Some(labels(&[("a", "b")]))
    );
    assert_eq!(
        ds.metadata.as_ref().map(|m| m.labels.clone()),
        Some(labels(&[("a", "b")]))
    );
}

#[test]
fn extensions_v1beta1_rows_of_the_1_3_era() {
    run_api(
        &[
            Row {
                name: "selector omitted and no template labels",
                change: |ds| {
                    spec(ds).selector = None;
                    template_meta(ds).labels.clear();
                },
                want: &[(TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "read-write GCE PD",
                change: |ds| {
                    pod(ds).volumes = vec![Volume {
                        name: "pd".into(),
                        host_path: None,
                        empty_dir: None,
                        extra_fields: [(
                            "gcePersistentDisk".to_string(),
                            json!({"pdName": "disk", "readOnly": false}),
                        )]
                        .into(),
                    }]
                },
                want: &[(
                    "spec.template.spec.volumes[0].gcePersistentDisk.readOnly",
                    Invalid,
                )],
            },
            Row {
                name: "read-only GCE PD",
                change: |ds| {
                    pod(ds).volumes = vec![Volume {
                        name: "pd".into(),
                        host_path: None,
                        empty_dir: None,
                        extra_fields: [(
                            "gcePersistentDisk".to_string(),
                            json!({"pdName": "disk", "readOnly": true}),
                        )]
                        .into(),
                    }]
                },
                want: &[],
            },
            Row {
                name: "restartPolicy Never",
                change: |ds| pod(ds).restart_policy = "Never".into(),
                want: &[(RESTART, NotSupported)],
            },
            Row {
                name: "empty selector",
                change: |ds| set_selector(ds, &[], &[]),
                want: &[(SELECTOR, Invalid)],
            },
            Row {
                name: "OnDelete is the default strategy",
                change: |ds| spec(ds).update_strategy = None,
                want: &[],
            },
        ],
        ApiVersion::ExtensionsV1beta1,
    );
    let mut ds = baseline();
    set_selector(&mut ds, &[], &[]);
    let errs = validate_daemon_set(
        &defaulted(ds, ApiVersion::ExtensionsV1beta1),
        ApiVersion::ExtensionsV1beta1,
    );
    assert_eq!(errs.len(), 1, "{}", render(&errs));
    assert_eq!(errs[0].detail, "empty selector is not valid for daemonset.");
}

#[test]
fn read_write_gce_pd_is_allowed_in_apps_v1() {
    run_api(
        &[Row {
            name: "current versions accept read-write PDs",
            change: |ds| {
                pod(ds).volumes = vec![Volume {
                    name: "pd".into(),
                    host_path: None,
                    empty_dir: None,
                    extra_fields: [("gcePersistentDisk".to_string(), json!({"pdName": "disk"}))]
                        .into(),
                }]
            },
            want: &[],
        }],
        ApiVersion::AppsV1,
    );
}

#[test]
fn affinity_annotation_is_validated_with_the_1_5_rules() {
    for api in [ApiVersion::ExtensionsV1beta1, ApiVersion::AppsV1] {
        run_api(
            &[
                Row {
                    name: "not JSON",
                    change: |ds| affinity_annotation(ds, "{nodeAffinity"),
                    want: &[("spec.template.annotations", Invalid)],
                },
                Row {
                    name: "wrong JSON type",
                    change: |ds| affinity_annotation(ds, r#"{"nodeAffinity": 5}"#),
                    want: &[("spec.template.annotations", Invalid)],
                },
                Row {
                    name: "no terms",
                    change: |ds| {
                        affinity_annotation(
                            ds,
                            r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[]}}}"#,
                        )
                    },
                    want: &[(AFFINITY_PATH, Required)],
                },
                Row {
                    name: "term without matchExpressions",
                    change: |ds| {
                        affinity_annotation(
                            ds,
                            r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{}]}}}"#,
                        )
                    },
                    want: &[(
                        "spec.template.annotations.scheduler.alpha.kubernetes.io/affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions",
                        Required,
                    )],
                },
                Row {
                    name: "valid affinity annotation",
                    change: |ds| {
                        affinity_annotation(
                            ds,
                            r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"In","values":["v"]}]}]}}}"#,
                        )
                    },
                    want: &[],
                },
                Row {
                    name: "bad operator in the annotation",
                    change: |ds| {
                        affinity_annotation(
                            ds,
                            r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"Near"}]}]}}}"#,
                        )
                    },
                    want: &[(
                        "spec.template.annotations.scheduler.alpha.kubernetes.io/affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
                        Invalid,
                    )],
                },
                Row {
                    name: "preferred term weight out of range",
                    change: |ds| {
                        affinity_annotation(
                            ds,
                            r#"{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":0,"preference":{"matchExpressions":[{"key":"k","operator":"Exists"}]}}]}}"#,
                        )
                    },
                    want: &[(
                        "spec.template.annotations.scheduler.alpha.kubernetes.io/affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
                        Invalid,
                    )],
                },
                Row {
                    name: "empty annotation is ignored",
                    change: |ds| affinity_annotation(ds, ""),
                    want: &[],
                },
            ],
            api,
        );
    }
    let errs = errors_of(|ds| {
        affinity_annotation(
            ds,
            r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{}]}}}"#,
        )
    });
    assert_eq!(
        errs[0].detail,
        "must have at least one node selector requirement"
    );
    let errs = errors_of(|ds| affinity_annotation(ds, "{nodeAffinity"));
    assert_eq!(
        errs[0].value.as_deref(),
        Some("\"scheduler.alpha.kubernetes.io/affinity\"")
    );
}

#[test]
fn affinity_annotation_parses_into_a_node_affinity() {
    let annotations = labels(&[(
        AFFINITY_ANNOTATION_KEY,
        r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"In","values":["v"]}]}]},"preferredDuringSchedulingIgnoredDuringExecution":[]}}"#,
    )]);
    let na = node_affinity_from_annotation(&annotations)
        .expect("parses")
        .expect("has node affinity");
    let terms = na
        .required_during_scheduling_ignored_during_execution
        .expect("required")
        .node_selector_terms;
    assert_eq!(terms.len(), 1);
    assert_eq!(terms[0].match_expressions, vec![req("k", "In", &["v"])]);
    assert!(
        node_affinity_from_annotation(&BTreeMap::new())
            .expect("ok")
            .is_none()
    );
    assert!(
        node_affinity_from_annotation(&labels(&[(AFFINITY_ANNOTATION_KEY, "{}")]))
            .expect("ok")
            .is_none()
    );
    assert!(node_affinity_from_annotation(&labels(&[(AFFINITY_ANNOTATION_KEY, "[")])).is_err());
}
