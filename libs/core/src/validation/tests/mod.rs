//! Table tests of DaemonSet validation, as Kubernetes' `TestValidateDaemonSet`,
//! `TestValidateDaemonSetUpdate` and `TestValidateDaemonSetStatusUpdate`
//! (`pkg/apis/apps/validation/validation_test.go`) and the pod-spec tests of
//! `pkg/apis/core/validation/validation_test.go` run them: each row mutates one baseline
//! DaemonSet and names the errors it expects.
//!
//! Most rows go through the API server's path: mutate the baseline, default, validate ("api"
//! mode). Rows that Kubernetes' own tests run on the internal, undefaulted type mutate the
//! defaulted baseline and validate without defaulting again ("raw" mode).
//!
//! This module owns the builders, the assertions, error printing and whole-object behaviour;
//! the rows are split by rule family: `metadata` (names, selector, labels, annotations, owner
//! references), `spec` (template, update strategy, scalars, scheduling), `pod_spec` (containers,
//! ports, volumes, pod-level fields and annotations), `container_fields` (resources, env,
//! probes), `extensions_v1beta1` (the 1.3-era API) and `updates` (updates and status).

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::defaults::default_daemon_set;
use crate::model::{
    Affinity, Capabilities, Container, ContainerPort, DaemonSet, DaemonSetSpec, DaemonSetStatus,
    DaemonSetUpdateStrategy, EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction,
    HostPathVolumeSource, HttpGetAction, IntOrString, KeySelector, LabelSelector,
    LabelSelectorRequirement, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, ObjectFieldSelector, ObjectMeta, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceFieldSelector, ResourceRequirements, RollingUpdateDaemonSet,
    SecurityContext, TcpSocketAction, Timestamp, Toleration, Volume, VolumeMount,
};

mod container_fields;
mod extensions_v1beta1;
mod metadata;
mod node;
mod pod_spec;
mod security;
mod spec;
mod updates;

use ErrorKind::{Duplicate, Forbidden, Invalid, NotFound, NotSupported, Required, TooLong};

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The baseline every row changes (before defaulting), shaped like `TestValidateDaemonSet`'s
/// `validSelector` and `validPodTemplate`: `metadata {name: abc, namespace: default}`,
/// `selector.matchLabels {a: b}`, template labels `{a: b}`, one container `{name: c, image: img}`.
fn baseline() -> DaemonSet {
    DaemonSet {
        api_version: "apps/v1".into(),
        kind: "DaemonSet".into(),
        metadata: Some(ObjectMeta {
            name: "abc".into(),
            namespace: "default".into(),
            ..Default::default()
        }),
        spec: Some(DaemonSetSpec {
            selector: Some(LabelSelector {
                match_labels: labels(&[("a", "b")]),
                ..Default::default()
            }),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: labels(&[("a", "b")]),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container("c")],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: "img".into(),
        ..Default::default()
    }
}

fn meta(ds: &mut DaemonSet) -> &mut ObjectMeta {
    ds.metadata.get_or_insert_with(Default::default)
}

fn spec(ds: &mut DaemonSet) -> &mut DaemonSetSpec {
    ds.spec.get_or_insert_with(Default::default)
}

fn template_meta(ds: &mut DaemonSet) -> &mut ObjectMeta {
    spec(ds)
        .template
        .get_or_insert_with(Default::default)
        .metadata
        .get_or_insert_with(Default::default)
}

fn pod(ds: &mut DaemonSet) -> &mut PodSpec {
    spec(ds)
        .template
        .get_or_insert_with(Default::default)
        .spec
        .get_or_insert_with(Default::default)
}

fn c0(ds: &mut DaemonSet) -> &mut Container {
    &mut pod(ds).containers[0]
}

/// A probe with an exec handler (used by the probe rows and the sidecar rows).
fn exec_probe() -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: vec!["true".into()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn set_selector(
    ds: &mut DaemonSet,
    match_labels: &[(&str, &str)],
    exprs: &[(&str, &str, &[&str])],
) {
    spec(ds).selector = Some(LabelSelector {
        match_labels: labels(match_labels),
        match_expressions: exprs
            .iter()
            .map(|(k, op, vs)| LabelSelectorRequirement {
                key: k.to_string(),
                operator: op.to_string(),
                values: vs.iter().map(|v| v.to_string()).collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
}

fn set_labels_everywhere(ds: &mut DaemonSet, pairs: &[(&str, &str)]) {
    set_selector(ds, pairs, &[]);
    template_meta(ds).labels = labels(pairs);
}

fn rolling(
    ds: &mut DaemonSet,
    max_unavailable: Option<IntOrString>,
    max_surge: Option<IntOrString>,
) {
    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
        type_: "RollingUpdate".into(),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable,
            max_surge,
            ..Default::default()
        }),
        ..Default::default()
    });
}

fn int(n: i32) -> Option<IntOrString> {
    Some(IntOrString::Int(n))
}

fn text(s: &str) -> Option<IntOrString> {
    Some(IntOrString::from(s))
}

fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    }
}

fn node_affinity(ds: &mut DaemonSet, terms: Vec<NodeSelectorTerm>) {
    pod(ds).affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
}

fn expressions(reqs: Vec<NodeSelectorRequirement>) -> Vec<NodeSelectorTerm> {
    vec![NodeSelectorTerm {
        match_expressions: reqs,
        ..Default::default()
    }]
}

fn fields(reqs: Vec<NodeSelectorRequirement>) -> Vec<NodeSelectorTerm> {
    vec![NodeSelectorTerm {
        match_fields: reqs,
        ..Default::default()
    }]
}

fn defaulted(mut ds: DaemonSet, api: ApiVersion) -> DaemonSet {
    default_daemon_set(&mut ds, api);
    ds
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

fn render(errs: &[FieldError]) -> String {
    errs.iter()
        .map(|e| format!("  {:?} {e}", e.kind))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The errors, as (path, kind), must be exactly `want` (in any order).
fn assert_errors(case: &str, errs: &[FieldError], want: &[(&str, ErrorKind)]) {
    let mut got: Vec<(String, ErrorKind)> = errs.iter().map(|e| (e.path.clone(), e.kind)).collect();
    let mut want: Vec<(String, ErrorKind)> =
        want.iter().map(|(p, k)| (p.to_string(), *k)).collect();
    let key = |x: &(String, ErrorKind)| format!("{}{:?}", x.0, x.1);
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want, "{case}: got\n{}", render(errs));
}

/// One table row: a name saying what it tries, how the baseline changes, the expected
/// (path, kind) list.
struct Row {
    name: &'static str,
    change: fn(&mut DaemonSet),
    want: &'static [(&'static str, ErrorKind)],
}

/// API path: change the baseline, default for `api`, validate.
fn run_api(rows: &[Row], api: ApiVersion) {
    for row in rows {
        let mut ds = baseline();
        (row.change)(&mut ds);
        let ds = defaulted(ds, api);
        assert_errors(row.name, &validate_daemon_set(&ds, api), row.want);
    }
}

/// Internal-type path: default the baseline, change it, validate without defaulting again.
fn run_raw(rows: &[Row]) {
    for row in rows {
        let mut ds = defaulted(baseline(), ApiVersion::AppsV1);
        (row.change)(&mut ds);
        assert_errors(
            row.name,
            &validate_daemon_set(&ds, ApiVersion::AppsV1),
            row.want,
        );
    }
}

fn errors_of(change: fn(&mut DaemonSet)) -> Vec<FieldError> {
    let mut ds = baseline();
    change(&mut ds);
    validate_daemon_set(&defaulted(ds, ApiVersion::AppsV1), ApiVersion::AppsV1)
}

/// The single error of `change`, printed as Kubernetes prints it.
fn only_message(change: fn(&mut DaemonSet)) -> String {
    let errs = errors_of(change);
    assert_eq!(errs.len(), 1, "expected one error, got\n{}", render(&errs));
    errs[0].to_string()
}

const NAME: &str = "metadata.name";
const SELECTOR: &str = "spec.selector";
const TEMPLATE_LABELS: &str = "spec.template.metadata.labels";
const RESTART: &str = "spec.template.spec.restartPolicy";
const CONTAINERS: &str = "spec.template.spec.containers";
const STRATEGY: &str = "spec.updateStrategy";
const MAX_UNAVAILABLE: &str = "spec.updateStrategy.rollingUpdate.maxUnavailable";
const MAX_SURGE: &str = "spec.updateStrategy.rollingUpdate.maxSurge";
const REQUIRED_TERMS: &str = "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";

// ---------------------------------------------------------------------------------------------
// Error printing
// ---------------------------------------------------------------------------------------------

#[test]
fn field_errors_print_like_kubernetes_field_errors() {
    assert_eq!(
        FieldError::not_supported(RESTART, go_quote("Never"), &["Always"]).to_string(),
        "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
    );
    assert_eq!(
        FieldError::required(NAME, "name or generateName is required").to_string(),
        "metadata.name: Required value: name or generateName is required"
    );
    assert_eq!(
        FieldError::required("spec.x", "").to_string(),
        "spec.x: Required value"
    );
    assert_eq!(
        FieldError::forbidden("spec.x", "nope").to_string(),
        "spec.x: Forbidden: nope"
    );
    assert_eq!(
        FieldError::too_long("metadata.annotations", 262_144).to_string(),
        "metadata.annotations: Too long: must have at most 262144 bytes"
    );
    assert_eq!(
        FieldError::duplicate("spec.x[1].name", go_quote("c")).to_string(),
        "spec.x[1].name: Duplicate value: \"c\""
    );
    assert_eq!(
        FieldError::not_found("spec.x[0].name", go_quote("v")).to_string(),
        "spec.x[0].name: Not found: \"v\""
    );
    assert_eq!(
        FieldError::too_many("spec.x", 4, 3).to_string(),
        "spec.x: Too many: 4: must have at most 3 items"
    );
    assert_eq!(ErrorKind::NotSupported.reason(), "FieldValueNotSupported");
}

#[test]
fn empty_selector_error_prints_the_selector_like_kubernetes() {
    assert_eq!(
        only_message(|ds| set_selector(ds, &[], &[])),
        "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{},}: empty selector is invalid for daemonset"
    );
}

#[test]
fn aggregate_prints_one_error_alone_and_several_in_brackets() {
    let one = ValidationErrors(vec![FieldError::required("a", "")]);
    assert_eq!(one.to_string(), "a: Required value");
    let two = ValidationErrors(vec![
        FieldError::required("a", ""),
        FieldError::required("a", ""),
        FieldError::forbidden("b", "x"),
    ]);
    assert_eq!(two.to_string(), "[a: Required value, b: Forbidden: x]");
    assert!(ValidationErrors::check(Vec::new()).is_ok());
    assert_eq!(
        ValidationErrors::check(vec![FieldError::required("a", "")]).map_err(|e| e.errors().len()),
        Err(1)
    );
}

#[test]
fn go_quote_escapes_like_strconv_quote() {
    assert_eq!(go_quote("a\"b\\c\n\t\u{1}é"), "\"a\\\"b\\\\c\\n\\t\\x01é\"");
}

#[test]
fn go_time_prints_utc_like_time_string() {
    assert_eq!(
        go_time(Some(Timestamp::from_seconds(0))),
        "1970-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(
        go_time(Some(Timestamp {
            seconds: 1_714_557_600,
            nanos: 500_000_000
        })),
        "2024-05-01 10:00:00.5 +0000 UTC"
    );
    assert_eq!(go_time(None), "0001-01-01 00:00:00 +0000 UTC");
}

#[test]
fn api_versions_parse_from_api_version_strings() {
    assert_eq!("apps/v1".parse::<ApiVersion>(), Ok(ApiVersion::AppsV1));
    assert_eq!(
        "apps/v1beta2".parse::<ApiVersion>(),
        Ok(ApiVersion::AppsV1beta2)
    );
    assert_eq!(
        "extensions/v1beta1".parse::<ApiVersion>(),
        Ok(ApiVersion::ExtensionsV1beta1)
    );
    assert!("v1".parse::<ApiVersion>().is_err());
    assert_eq!(ApiVersion::AppsV1.to_string(), "apps/v1");
    assert!(!ApiVersion::ExtensionsV1beta1.selector_is_immutable());
}

#[test]
fn all_errors_are_reported_at_once() {
    let mut ds = baseline();
    meta(&mut ds).name = "Bad".into();
    spec(&mut ds).selector = None;
    pod(&mut ds).restart_policy = "Never".into();
    c0(&mut ds).image.clear();
    spec(&mut ds).min_ready_seconds = -5;
    let errs = validate_daemon_set(&defaulted(ds, ApiVersion::AppsV1), ApiVersion::AppsV1);
    assert_errors(
        "many",
        &errs,
        &[
            (NAME, Invalid),
            (TEMPLATE_LABELS, Invalid),
            ("spec.template.spec.containers[0].image", Required),
            (RESTART, NotSupported),
            ("spec.minReadySeconds", Invalid),
        ],
    );
}

#[test]
fn undefaulted_objects_are_validated_like_the_internal_type() {
    let ds = DaemonSet::default();
    let errs = validate_daemon_set(&ds, ApiVersion::AppsV1);
    assert_errors(
        "empty object",
        &errs,
        &[
            (NAME, Required),
            ("metadata.namespace", Required),
            (TEMPLATE_LABELS, Invalid),
            ("spec.template.spec.terminationGracePeriodSeconds", Required),
            (CONTAINERS, Required),
            (RESTART, Required),
            ("spec.template.spec.dnsPolicy", Required),
            (RESTART, NotSupported),
            (STRATEGY, NotSupported),
        ],
    );
}
