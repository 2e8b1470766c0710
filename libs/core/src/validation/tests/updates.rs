//! Table tests of updates and status updates (Kubernetes: `TestValidateDaemonSetUpdate` and
//! `TestValidateDaemonSetStatusUpdate` in `pkg/apis/apps/validation/validation_test.go`):
//! identity and selector kept, template generation, status counters, collision count.

use super::*;

/// A stored DaemonSet: the baseline defaulted, with uid, resourceVersion, generation and template
/// generation 1.
fn stored(api: ApiVersion) -> DaemonSet {
    let mut ds = defaulted(baseline(), api);
    let m = meta(&mut ds);
    m.uid = "uid-1".into();
    m.resource_version = "1".into();
    m.generation = 1;
    m.creation_timestamp = Some(Timestamp::from_seconds(1_700_000_000));
    m.annotations
        .insert(TEMPLATE_GENERATION_ANNOTATION.into(), "1".into());
    ds
}

fn bump_template_generation(ds: &mut DaemonSet) {
    meta(ds)
        .annotations
        .insert(TEMPLATE_GENERATION_ANNOTATION.into(), "2".into());
}

struct UpdateRow {
    name: &'static str,
    change: fn(&mut DaemonSet),
    want: &'static [(&'static str, ErrorKind)],
}

fn run_updates(rows: &[UpdateRow], api: ApiVersion) {
    for row in rows {
        let old = stored(api);
        let mut new = old.clone();
        (row.change)(&mut new);
        default_daemon_set(&mut new, api);
        assert_errors(
            row.name,
            &validate_daemon_set_update(&new, &old, api),
            row.want,
        );
    }
}

#[test]
fn updates_revalidate_and_keep_identity_and_selector() {
    run_updates(
        &[
            UpdateRow {
                name: "no change",
                change: |_| {},
                want: &[],
            },
            UpdateRow {
                name: "image changed with template generation bumped",
                change: |ds| {
                    c0(ds).image = "img:2".into();
                    bump_template_generation(ds);
                },
                want: &[],
            },
            UpdateRow {
                name: "OnDelete to RollingUpdate",
                change: |ds| rolling(ds, int(1), None),
                want: &[],
            },
            UpdateRow {
                name: "nil vs empty imagePullSecrets is no template change",
                change: |ds| {
                    pod(ds)
                        .extra_fields
                        .insert("imagePullSecrets".into(), json!([]));
                },
                want: &[],
            },
            UpdateRow {
                name: "selector changed",
                change: |ds| {
                    set_labels_everywhere(ds, &[("c", "d")]);
                    bump_template_generation(ds);
                },
                want: &[(SELECTOR, Invalid)],
            },
            UpdateRow {
                name: "read-write GCE PD added",
                change: |ds| {
                    pod(ds).volumes = vec![Volume {
                        name: "pd".into(),
                        host_path: None,
                        empty_dir: None,
                        extra_fields: [(
                            "gcePersistentDisk".to_string(),
                            json!({"pdName": "disk"}),
                        )]
                        .into(),
                    }];
                    bump_template_generation(ds);
                },
                want: &[],
            },
            UpdateRow {
                name: "template without containers",
                change: |ds| {
                    pod(ds).containers.clear();
                    bump_template_generation(ds);
                },
                want: &[(CONTAINERS, Required)],
            },
            UpdateRow {
                name: "strategy Random",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "Random".into(),
                        ..Default::default()
                    })
                },
                want: &[(STRATEGY, NotSupported)],
            },
            UpdateRow {
                name: "name changed",
                change: |ds| meta(ds).name = "other".into(),
                want: &[(NAME, Invalid)],
            },
            UpdateRow {
                name: "namespace changed",
                change: |ds| meta(ds).namespace = "other".into(),
                want: &[("metadata.namespace", Invalid)],
            },
            UpdateRow {
                name: "uid changed",
                change: |ds| meta(ds).uid = "uid-2".into(),
                want: &[("metadata.uid", Invalid)],
            },
            UpdateRow {
                name: "creationTimestamp changed",
                change: |ds| meta(ds).creation_timestamp = Some(Timestamp::from_seconds(1)),
                want: &[("metadata.creationTimestamp", Invalid)],
            },
            UpdateRow {
                name: "resourceVersion missing",
                change: |ds| meta(ds).resource_version.clear(),
                want: &[("metadata.resourceVersion", Invalid)],
            },
            UpdateRow {
                name: "generation decremented",
                change: |ds| meta(ds).generation = 0,
                want: &[("metadata.generation", Invalid)],
            },
            UpdateRow {
                name: "template changed without a template generation bump",
                change: |ds| c0(ds).image = "img:2".into(),
                want: &[("spec.templateGeneration", Invalid)],
            },
            UpdateRow {
                name: "template generation bumped without a template change",
                change: bump_template_generation,
                want: &[("spec.templateGeneration", Invalid)],
            },
            UpdateRow {
                name: "template generation decremented",
                change: |ds| {
                    meta(ds)
                        .annotations
                        .insert(TEMPLATE_GENERATION_ANNOTATION.into(), "0".into());
                    c0(ds).image = "img:2".into();
                },
                want: &[("spec.templateGeneration", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
    let old = stored(ApiVersion::AppsV1);
    let mut new = old.clone();
    set_labels_everywhere(&mut new, &[("c", "d")]);
    bump_template_generation(&mut new);
    let errs = validate_daemon_set_update(&new, &old, ApiVersion::AppsV1);
    assert_eq!(
        errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{c: d,},MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable".to_string()]
    );
}

#[test]
fn updates_without_any_template_generation_skip_the_generation_rule() {
    let mut old = stored(ApiVersion::AppsV1);
    meta(&mut old).annotations.clear();
    let mut new = old.clone();
    c0(&mut new).image = "img:2".into();
    assert_errors(
        "no generation",
        &validate_daemon_set_update(&new, &old, ApiVersion::AppsV1),
        &[],
    );
}

#[test]
fn selector_is_immutable_in_apps_v1beta2_but_not_in_extensions_v1beta1() {
    run_updates(
        &[UpdateRow {
            name: "apps/v1beta2",
            change: |ds| {
                set_labels_everywhere(ds, &[("c", "d")]);
                bump_template_generation(ds);
            },
            want: &[(SELECTOR, Invalid)],
        }],
        ApiVersion::AppsV1beta2,
    );
    run_updates(
        &[UpdateRow {
            name: "extensions/v1beta1 selector change",
            change: |ds| {
                set_labels_everywhere(ds, &[("c", "d")]);
                bump_template_generation(ds);
            },
            want: &[],
        }],
        ApiVersion::ExtensionsV1beta1,
    );
}

#[test]
fn invalid_selector_values_already_stored_stay_allowed_on_update() {
    let mut old = stored(ApiVersion::AppsV1);
    set_selector(&mut old, &[], &[("a", "In", &["b", "-bad"])]);
    let new = old.clone();
    assert_errors(
        "ratchet",
        &validate_daemon_set_update(&new, &old, ApiVersion::AppsV1),
        &[],
    );
    assert_errors(
        "create",
        &validate_daemon_set(&new, ApiVersion::AppsV1),
        &[("spec.selector.matchExpressions[0].values[1]", Invalid)],
    );
}

#[test]
fn status_counters_must_not_be_negative() {
    type Set = fn(&mut DaemonSetStatus);
    let cases: [(&str, Set); 8] = [
        ("currentNumberScheduled", |s| {
            s.current_number_scheduled = -1
        }),
        ("numberMisscheduled", |s| s.number_misscheduled = -1),
        ("desiredNumberScheduled", |s| {
            s.desired_number_scheduled = -1
        }),
        ("numberReady", |s| s.number_ready = -1),
        ("observedGeneration", |s| s.observed_generation = -1),
        ("updatedNumberScheduled", |s| {
            s.updated_number_scheduled = -1
        }),
        ("numberAvailable", |s| s.number_available = -1),
        ("numberUnavailable", |s| s.number_unavailable = -1),
    ];
    let old = DaemonSetStatus::default();
    let mut all = DaemonSetStatus::default();
    for (field, set) in cases {
        let mut status = DaemonSetStatus::default();
        set(&mut status);
        set(&mut all);
        let path = format!("status.{field}");
        assert_errors(
            &format!("negative {field}"),
            &validate_daemon_set_status_update(Some(&status), Some(&old)),
            &[(path.as_str(), Invalid)],
        );
    }
    let errs = validate_daemon_set_status_update(Some(&all), Some(&old));
    assert_eq!(errs.len(), 8, "all negative: {}", render(&errs));
    assert_eq!(
        errs[0].to_string(),
        "status.currentNumberScheduled: Invalid value: -1: must be greater than or equal to 0"
    );
    assert!(validate_daemon_set_status_update(None, None).is_empty());
}

#[test]
fn collision_count_cannot_be_decremented() {
    let old = DaemonSetStatus {
        collision_count: Some(2),
        ..Default::default()
    };
    let lower = DaemonSetStatus {
        collision_count: Some(1),
        ..Default::default()
    };
    let errs = validate_daemon_set_status_update(Some(&lower), Some(&old));
    assert_errors("decremented", &errs, &[("status.collisionCount", Invalid)]);
    assert_eq!(
        errs[0].to_string(),
        "status.collisionCount: Invalid value: 1: cannot be decremented"
    );
    let unset = DaemonSetStatus::default();
    assert_errors(
        "unset",
        &validate_daemon_set_status_update(Some(&unset), Some(&old)),
        &[("status.collisionCount", Invalid)],
    );
    let higher = DaemonSetStatus {
        collision_count: Some(3),
        ..Default::default()
    };
    assert_errors(
        "incremented",
        &validate_daemon_set_status_update(Some(&higher), Some(&old)),
        &[],
    );
    let negative = DaemonSetStatus {
        collision_count: Some(-1),
        ..Default::default()
    };
    assert_errors(
        "negative",
        &validate_daemon_set_status_update(Some(&negative), None),
        &[("status.collisionCount", Invalid)],
    );
}
