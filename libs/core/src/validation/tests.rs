//! Table tests of DaemonSet validation: every create and update row of the reference's §2.2
//! table (1–61, U1–U10, X1–X9), built from the baseline B, plus the pod-spec rules.
//!
//! Most rows go through the API server's path: mutate B, default, validate ("api" mode).
//! Rows that Kubernetes' own tests run on the internal, undefaulted type mutate the defaulted B
//! and validate without defaulting again ("raw" mode).

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::defaults::default_daemon_set;
use crate::model::{
    Affinity, Container, ContainerPort, DaemonSet, DaemonSetSpec, DaemonSetStatus,
    DaemonSetUpdateStrategy, EnvVar, EnvVarSource, ExecAction, HttpGetAction, IntOrString,
    KeySelector, LabelSelector, LabelSelectorRequirement, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, ObjectMeta, PodSpec,
    PodTemplateSpec, Probe, ResourceFieldSelector, ResourceRequirements, RollingUpdateDaemonSet,
    TcpSocketAction, Timestamp, Toleration, Volume, VolumeMount,
};

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

/// Baseline B of §2.2 (before defaulting): `metadata {name: abc, namespace: default}`,
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

/// One table row: a name (the reference row), how B changes, the expected (path, kind) list.
struct Row {
    name: &'static str,
    change: fn(&mut DaemonSet),
    want: &'static [(&'static str, ErrorKind)],
}

/// API path: change B, default for `api`, validate.
fn run_api(rows: &[Row], api: ApiVersion) {
    for row in rows {
        let mut ds = baseline();
        (row.change)(&mut ds);
        let ds = defaulted(ds, api);
        assert_errors(row.name, &validate_daemon_set(&ds, api), row.want);
    }
}

/// Internal-type path: default B, change it, validate without defaulting again.
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

// ---------------------------------------------------------------------------------------------
// §2.2 rows 1–9: baseline and metadata
// ---------------------------------------------------------------------------------------------

#[test]
fn baseline_and_valid_names_are_accepted() {
    run_api(
        &[
            Row {
                name: "1 baseline",
                change: |_| {},
                want: &[],
            },
            Row {
                name: "2 name abc-123",
                change: |ds| meta(ds).name = "abc-123".into(),
                want: &[],
            },
            Row {
                name: "3 hostNetwork with container port 12345",
                change: |ds| {
                    pod(ds).host_network = true;
                    c0(ds).ports = vec![ContainerPort {
                        container_port: 12345,
                        ..Default::default()
                    }];
                },
                want: &[],
            },
            Row {
                name: "8 name a.b-c",
                change: |ds| meta(ds).name = "a.b-c".into(),
                want: &[],
            },
        ],
        ApiVersion::AppsV1,
    );
}

#[test]
fn missing_name_or_namespace_is_required() {
    run_api(
        &[Row {
            name: "4 zero-length name",
            change: |ds| meta(ds).name.clear(),
            want: &[(NAME, Required)],
        }],
        ApiVersion::AppsV1,
    );
    // The namespace is defaulted on the API path; Kubernetes' test runs on the internal type.
    run_raw(&[Row {
        name: "5 missing namespace",
        change: |ds| meta(ds).namespace.clear(),
        want: &[("metadata.namespace", Required)],
    }]);
    assert_eq!(
        only_message(|ds| meta(ds).name.clear()),
        "metadata.name: Required value: name or generateName is required"
    );
}

#[test]
fn names_that_are_not_dns_subdomains_are_invalid() {
    run_api(
        &[
            Row {
                name: "6 Abc",
                change: |ds| meta(ds).name = "Abc".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "7 a_b",
                change: |ds| meta(ds).name = "a_b".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "7 -abc",
                change: |ds| meta(ds).name = "-abc".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "7 abc-",
                change: |ds| meta(ds).name = "abc-".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "9 254 characters",
                change: |ds| meta(ds).name = "a".repeat(254),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "namespace not a DNS label",
                change: |ds| meta(ds).namespace = "a.b".into(),
                want: &[("metadata.namespace", Invalid)],
            },
            Row {
                name: "generateName with trailing dash is fine, uppercase is not",
                change: |ds| meta(ds).generate_name = "Abc-".into(),
                want: &[("metadata.generateName", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| meta(ds).name = "Abc".into()),
        "metadata.name: Invalid value: \"Abc\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    assert!(
        only_message(|ds| meta(ds).name = "a".repeat(254))
            .ends_with(": must be no more than 253 characters")
    );
}

// ---------------------------------------------------------------------------------------------
// §2.2 rows 10–29: selector, labels, annotations
// ---------------------------------------------------------------------------------------------

#[test]
fn selector_that_does_not_match_template_labels_is_rejected() {
    run_api(
        &[
            Row {
                name: "10 selector omitted (nil selector matches nothing)",
                change: |ds| spec(ds).selector = None,
                want: &[(TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "12 selector {foo: bar}",
                change: |ds| set_selector(ds, &[("foo", "bar")], &[]),
                want: &[(TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "13 selector subset of template labels",
                change: |ds| template_meta(ds).labels = labels(&[("a", "b"), ("x", "y")]),
                want: &[],
            },
            Row {
                name: "14 matchExpressions In",
                change: |ds| set_selector(ds, &[], &[("a", "In", &["b", "c"])]),
                want: &[],
            },
            Row {
                name: "17 DoesNotExist with matchLabels",
                change: |ds| set_selector(ds, &[("a", "b")], &[("x", "DoesNotExist", &[])]),
                want: &[],
            },
            Row {
                name: "NotIn on a missing key matches",
                change: |ds| set_selector(ds, &[], &[("x", "NotIn", &["y"])]),
                want: &[],
            },
        ],
        ApiVersion::AppsV1,
    );
    assert_eq!(
        only_message(|ds| set_selector(ds, &[("foo", "bar")], &[])),
        "spec.template.metadata.labels: Invalid value: map[string]string{\"a\":\"b\"}: `selector` does not match template `labels`"
    );
}

#[test]
fn empty_selector_is_invalid_for_daemonset() {
    run_api(
        &[Row {
            name: "11 selector {}",
            change: |ds| set_selector(ds, &[], &[]),
            want: &[(SELECTOR, Invalid)],
        }],
        ApiVersion::AppsV1,
    );
}

#[test]
fn selector_expressions_follow_operator_rules() {
    run_api(
        &[
            Row {
                name: "15 In with no values",
                change: |ds| set_selector(ds, &[], &[("a", "In", &[])]),
                want: &[("spec.selector.matchExpressions[0].values", Required)],
            },
            Row {
                name: "16 Exists with values",
                change: |ds| set_selector(ds, &[("a", "b")], &[("x", "Exists", &["y"])]),
                want: &[("spec.selector.matchExpressions[0].values", Forbidden)],
            },
            Row {
                name: "18 Gt is not a label selector operator",
                change: |ds| set_selector(ds, &[], &[("a", "Gt", &["1"])]),
                want: &[("spec.selector.matchExpressions[0].operator", Invalid)],
            },
            Row {
                name: "lower-case in is not an operator",
                change: |ds| set_selector(ds, &[], &[("a", "in", &["b"])]),
                want: &[("spec.selector.matchExpressions[0].operator", Invalid)],
            },
            Row {
                name: "expression key must be a qualified name",
                change: |ds| set_selector(ds, &[("a", "b")], &[("-x", "Exists", &[])]),
                want: &[("spec.selector.matchExpressions[0].key", Invalid)],
            },
            Row {
                name: "expression values must be label values",
                change: |ds| set_selector(ds, &[], &[("a", "In", &["b", "-c"])]),
                want: &[("spec.selector.matchExpressions[0].values[1]", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
}

#[test]
fn invalid_label_keys_and_values_are_rejected_where_they_are() {
    run_api(
        &[
            Row {
                name: "19 invalid matchLabels key (1 error)",
                change: |ds| {
                    set_selector(ds, &[("NoUppercaseOrSpecialCharsLike=Equals", "b")], &[])
                },
                want: &[("spec.selector.matchLabels", Invalid)],
            },
            Row {
                name: "20 invalid DaemonSet label",
                change: |ds| {
                    meta(ds).labels = labels(&[("NoUppercaseOrSpecialCharsLike=Equals", "bar")])
                },
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "21 invalid label and no selector",
                change: |ds| {
                    meta(ds).labels = labels(&[("NoUppercaseOrSpecialCharsLike=Equals", "bar")]);
                    spec(ds).selector = None;
                },
                want: &[("metadata.labels", Invalid), (TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "21b invalid template label key",
                change: |ds| template_meta(ds).labels = labels(&[("bad=key", "x")]),
                want: &[
                    ("spec.template.labels", Invalid),
                    (TEMPLATE_LABELS, Invalid),
                ],
            },
            Row {
                name: "22 invalid annotation key",
                change: |ds| {
                    meta(ds).annotations =
                        labels(&[("NoUppercaseOrSpecialCharsLike=Equals", "bar")])
                },
                want: &[("metadata.annotations", Invalid)],
            },
            Row {
                name: "23 prefixed key",
                change: |ds| set_labels_everywhere(ds, &[("example.com/app", "web")]),
                want: &[],
            },
            Row {
                name: "24 name part of 64 characters",
                change: |ds| meta(ds).labels = [("k".repeat(64), "v".to_string())].into(),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "25 a/b/c",
                change: |ds| meta(ds).labels = labels(&[("a/b/c", "v")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "25 /a",
                change: |ds| meta(ds).labels = labels(&[("/a", "v")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "25 Example.com/a",
                change: |ds| meta(ds).labels = labels(&[("Example.com/a", "v")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "26 A_b.c-D",
                change: |ds| set_labels_everywhere(ds, &[("A_b.c-D", "v")]),
                want: &[],
            },
            Row {
                name: "27 empty label value",
                change: |ds| set_labels_everywhere(ds, &[("a", "")]),
                want: &[],
            },
            Row {
                name: "28 value of 64 characters",
                change: |ds| meta(ds).labels = [("a".to_string(), "v".repeat(64))].into(),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "29 value -x",
                change: |ds| meta(ds).labels = labels(&[("a", "-x")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "29 value x-",
                change: |ds| meta(ds).labels = labels(&[("a", "x-")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "29 value with a space",
                change: |ds| meta(ds).labels = labels(&[("a", "x y")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "invalid template annotation",
                change: |ds| template_meta(ds).annotations = labels(&[("a b", "x")]),
                want: &[("spec.template.annotations", Invalid)],
            },
            Row {
                name: "annotation keys are checked case-insensitively",
                change: |ds| meta(ds).annotations = labels(&[("Example.COM/Key", "x")]),
                want: &[],
            },
            Row {
                name: "annotations larger than 256 KiB",
                change: |ds| {
                    meta(ds).annotations = [("a".to_string(), "x".repeat(256 * 1024))].into()
                },
                want: &[("metadata.annotations", TooLong)],
            },
        ],
        ApiVersion::AppsV1,
    );
    let msg = only_message(|ds| meta(ds).labels = [("k".repeat(64), "v".to_string())].into());
    assert!(
        msg.ends_with("name part must be no more than 63 characters"),
        "{msg}"
    );
    let msg = only_message(|ds| meta(ds).labels = labels(&[("/a", "v")]));
    assert!(msg.ends_with("prefix part must be non-empty"), "{msg}");
    let msg = only_message(|ds| meta(ds).labels = [("a".to_string(), "v".repeat(64))].into());
    assert!(
        msg.ends_with(": must be no more than 63 characters"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// §2.2 rows 30–36: template
// ---------------------------------------------------------------------------------------------

#[test]
fn restart_policy_other_than_always_is_not_supported() {
    run_api(
        &[
            Row {
                name: "30 OnFailure",
                change: |ds| pod(ds).restart_policy = "OnFailure".into(),
                want: &[(RESTART, NotSupported)],
            },
            Row {
                name: "31 Never",
                change: |ds| pod(ds).restart_policy = "Never".into(),
                want: &[(RESTART, NotSupported)],
            },
            Row {
                name: "32 omitted is defaulted",
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
                name: "33 activeDeadlineSeconds",
                change: |ds| pod(ds).active_deadline_seconds = Some(10),
                want: &[("spec.template.spec.activeDeadlineSeconds", Forbidden)],
            },
            Row {
                name: "33 activeDeadlineSeconds out of range is also invalid",
                change: |ds| pod(ds).active_deadline_seconds = Some(0),
                want: &[
                    ("spec.template.spec.activeDeadlineSeconds", Forbidden),
                    ("spec.template.spec.activeDeadlineSeconds", Invalid),
                ],
            },
            Row {
                name: "34 no containers",
                change: |ds| pod(ds).containers.clear(),
                want: &[(CONTAINERS, Required)],
            },
            Row {
                name: "35 template omitted (API path: the template is defaulted)",
                change: |ds| spec(ds).template = None,
                want: &[(TEMPLATE_LABELS, Invalid), (CONTAINERS, Required)],
            },
            Row {
                name: "36 ephemeral containers",
                change: |ds| pod(ds).ephemeral_containers = vec![container("debugger")],
                want: &[("spec.template.spec.ephemeralContainers", Forbidden)],
            },
        ],
        ApiVersion::AppsV1,
    );
    run_raw(&[Row {
        name: "35 template omitted (internal, undefaulted type)",
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
// §2.2 rows 37–54: strategy and scalars
// ---------------------------------------------------------------------------------------------

#[test]
fn update_strategy_type_must_be_rolling_update_or_on_delete() {
    run_api(
        &[
            Row {
                name: "37 Random",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "Random".into(),
                        ..Default::default()
                    })
                },
                want: &[(STRATEGY, NotSupported)],
            },
            Row {
                name: "38 OnDelete",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "OnDelete".into(),
                        ..Default::default()
                    })
                },
                want: &[],
            },
            Row {
                name: "39 OnDelete ignores rollingUpdate",
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
                name: "40 empty strategy is defaulted",
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
            name: "41 rollingUpdate {} on the internal type",
            change: |ds| rolling(ds, None, None),
            want: &[(MAX_UNAVAILABLE, Required)],
        },
        Row {
            name: "20 RollingUpdate without rollingUpdate on the internal type",
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
                name: "41 maxUnavailable 0, maxSurge defaulted 0",
                change: |ds| rolling(ds, int(0), None),
                want: &[(MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "42 maxUnavailable 0%",
                change: |ds| rolling(ds, text("0%"), None),
                want: &[(MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "43 maxUnavailable 0, maxSurge 0%",
                change: |ds| rolling(ds, int(0), text("0%")),
                want: &[(MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "44 maxUnavailable 1",
                change: |ds| rolling(ds, int(1), None),
                want: &[],
            },
            Row {
                name: "44 maxUnavailable 1%",
                change: |ds| rolling(ds, text("1%"), None),
                want: &[],
            },
            Row {
                name: "44 maxUnavailable 100%",
                change: |ds| rolling(ds, text("100%"), None),
                want: &[],
            },
            Row {
                name: "45 maxUnavailable 101%",
                change: |ds| rolling(ds, text("101%"), None),
                want: &[(MAX_UNAVAILABLE, Invalid)],
            },
            Row {
                name: "46 both 1%",
                change: |ds| rolling(ds, text("1%"), text("1%")),
                want: &[(MAX_SURGE, Invalid)],
            },
            Row {
                name: "47 both 1",
                change: |ds| rolling(ds, int(1), int(1)),
                want: &[(MAX_SURGE, Invalid)],
            },
            Row {
                name: "48 surge 1",
                change: |ds| rolling(ds, int(0), int(1)),
                want: &[],
            },
            Row {
                name: "48 surge 1%",
                change: |ds| rolling(ds, int(0), text("1%")),
                want: &[],
            },
            Row {
                name: "48 surge 100%",
                change: |ds| rolling(ds, int(0), text("100%")),
                want: &[],
            },
            Row {
                name: "49 surge 101%",
                change: |ds| rolling(ds, int(0), text("101%")),
                want: &[(MAX_SURGE, Invalid)],
            },
            Row {
                name: "50 maxUnavailable -1",
                change: |ds| rolling(ds, int(-1), None),
                want: &[(MAX_UNAVAILABLE, Invalid)],
            },
            Row {
                name: "51 maxUnavailable abc counts as 0",
                change: |ds| rolling(ds, text("abc"), None),
                want: &[(MAX_UNAVAILABLE, Invalid), (MAX_UNAVAILABLE, Required)],
            },
            Row {
                name: "52 maxUnavailable \"5\" without %",
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
                name: "53 minReadySeconds -1",
                change: |ds| spec(ds).min_ready_seconds = -1,
                want: &[("spec.minReadySeconds", Invalid)],
            },
            Row {
                name: "54 revisionHistoryLimit -1",
                change: |ds| spec(ds).revision_history_limit = Some(-1),
                want: &[("spec.revisionHistoryLimit", Invalid)],
            },
            Row {
                name: "54 revisionHistoryLimit 0",
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
// §2.2 rows 55–61: scheduling
// ---------------------------------------------------------------------------------------------

#[test]
fn node_affinity_terms_follow_node_selector_rules() {
    run_api(
        &[
            Row {
                name: "55 nodeSelector",
                change: |ds| pod(ds).node_selector = labels(&[("disktype", "ssd")]),
                want: &[],
            },
            Row {
                name: "nodeSelector with an invalid key",
                change: |ds| pod(ds).node_selector = labels(&[("bad key", "ssd")]),
                want: &[("spec.template.spec.nodeSelector", Invalid)],
            },
            Row {
                name: "56 no terms",
                change: |ds| node_affinity(ds, vec![]),
                want: &[(REQUIRED_TERMS, Required)],
            },
            Row {
                name: "57 Gt with two values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Gt", &["1", "2"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                    Required,
                )],
            },
            Row {
                name: "58 Gt 5",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Gt", &["5"])])),
                want: &[],
            },
            Row {
                name: "58 Lt 5",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Lt", &["5"])])),
                want: &[],
            },
            Row {
                name: "59 In with no values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "In", &[])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                    Required,
                )],
            },
            Row {
                name: "59 Exists with values",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Exists", &["v"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                    Forbidden,
                )],
            },
            Row {
                name: "59 operator Foo",
                change: |ds| node_affinity(ds, expressions(vec![req("k", "Foo", &["v"])])),
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
                    Invalid,
                )],
            },
            Row {
                name: "60 matchFields with two names",
                change: |ds| {
                    node_affinity(ds, fields(vec![req("metadata.name", "In", &["n1", "n2"])]))
                },
                want: &[(
                    "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values",
                    Required,
                )],
            },
            Row {
                name: "60 matchFields on metadata.labels",
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
                name: "61 empty key with Equal",
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

// ---------------------------------------------------------------------------------------------
// Rule 15: the pod spec in depth
// ---------------------------------------------------------------------------------------------

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
        extra_fields: [("emptyDir".to_string(), json!({}))].into(),
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
                    c0(ds)
                        .extra_fields
                        .insert("securityContext".into(), json!({"privileged": true}));
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

fn exec_probe() -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: vec!["true".into()],
            ..Default::default()
        }),
        ..Default::default()
    }
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

// ---------------------------------------------------------------------------------------------
// §2.2 X1–X9: the 1.3 (extensions/v1beta1) differences
// ---------------------------------------------------------------------------------------------

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
        "X1",
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
                name: "X2 selector omitted and no template labels",
                change: |ds| {
                    spec(ds).selector = None;
                    template_meta(ds).labels.clear();
                },
                want: &[(TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "X4 read-write GCE PD",
                change: |ds| {
                    pod(ds).volumes = vec![Volume {
                        name: "pd".into(),
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
                name: "X4 read-only GCE PD",
                change: |ds| {
                    pod(ds).volumes = vec![Volume {
                        name: "pd".into(),
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
                name: "X8 restartPolicy Never",
                change: |ds| pod(ds).restart_policy = "Never".into(),
                want: &[(RESTART, NotSupported)],
            },
            Row {
                name: "X9 empty selector",
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
            name: "18 current versions accept read-write PDs",
            change: |ds| {
                pod(ds).volumes = vec![Volume {
                    name: "pd".into(),
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
                    name: "X5 not JSON",
                    change: |ds| affinity_annotation(ds, "{nodeAffinity"),
                    want: &[("spec.template.annotations", Invalid)],
                },
                Row {
                    name: "X5 wrong JSON type",
                    change: |ds| affinity_annotation(ds, r#"{"nodeAffinity": 5}"#),
                    want: &[("spec.template.annotations", Invalid)],
                },
                Row {
                    name: "X6 no terms",
                    change: |ds| {
                        affinity_annotation(
                            ds,
                            r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[]}}}"#,
                        )
                    },
                    want: &[(AFFINITY_PATH, Required)],
                },
                Row {
                    name: "X7 term without matchExpressions",
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

// ---------------------------------------------------------------------------------------------
// §2.2 U1–U10: updates and status
// ---------------------------------------------------------------------------------------------

/// A stored DaemonSet: B defaulted, with uid, resourceVersion, generation and template
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
                name: "U1 no change",
                change: |_| {},
                want: &[],
            },
            UpdateRow {
                name: "U2 image changed with template generation bumped",
                change: |ds| {
                    c0(ds).image = "img:2".into();
                    bump_template_generation(ds);
                },
                want: &[],
            },
            UpdateRow {
                name: "U3 OnDelete to RollingUpdate",
                change: |ds| rolling(ds, int(1), None),
                want: &[],
            },
            UpdateRow {
                name: "U4 nil vs empty imagePullSecrets is no template change",
                change: |ds| {
                    pod(ds)
                        .extra_fields
                        .insert("imagePullSecrets".into(), json!([]));
                },
                want: &[],
            },
            UpdateRow {
                name: "U5 selector changed",
                change: |ds| {
                    set_labels_everywhere(ds, &[("c", "d")]);
                    bump_template_generation(ds);
                },
                want: &[(SELECTOR, Invalid)],
            },
            UpdateRow {
                name: "U6 read-write GCE PD added",
                change: |ds| {
                    pod(ds).volumes = vec![Volume {
                        name: "pd".into(),
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
                name: "U7 template without containers",
                change: |ds| {
                    pod(ds).containers.clear();
                    bump_template_generation(ds);
                },
                want: &[(CONTAINERS, Required)],
            },
            UpdateRow {
                name: "U8 strategy Random",
                change: |ds| {
                    spec(ds).update_strategy = Some(DaemonSetUpdateStrategy {
                        type_: "Random".into(),
                        ..Default::default()
                    })
                },
                want: &[(STRATEGY, NotSupported)],
            },
            UpdateRow {
                name: "24 name changed",
                change: |ds| meta(ds).name = "other".into(),
                want: &[(NAME, Invalid)],
            },
            UpdateRow {
                name: "24 namespace changed",
                change: |ds| meta(ds).namespace = "other".into(),
                want: &[("metadata.namespace", Invalid)],
            },
            UpdateRow {
                name: "24 uid changed",
                change: |ds| meta(ds).uid = "uid-2".into(),
                want: &[("metadata.uid", Invalid)],
            },
            UpdateRow {
                name: "24 creationTimestamp changed",
                change: |ds| meta(ds).creation_timestamp = Some(Timestamp::from_seconds(1)),
                want: &[("metadata.creationTimestamp", Invalid)],
            },
            UpdateRow {
                name: "24 resourceVersion missing",
                change: |ds| meta(ds).resource_version.clear(),
                want: &[("metadata.resourceVersion", Invalid)],
            },
            UpdateRow {
                name: "24 generation decremented",
                change: |ds| meta(ds).generation = 0,
                want: &[("metadata.generation", Invalid)],
            },
            UpdateRow {
                name: "27 template changed without a template generation bump",
                change: |ds| c0(ds).image = "img:2".into(),
                want: &[("spec.templateGeneration", Invalid)],
            },
            UpdateRow {
                name: "27 template generation bumped without a template change",
                change: bump_template_generation,
                want: &[("spec.templateGeneration", Invalid)],
            },
            UpdateRow {
                name: "27 template generation decremented",
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
            name: "U5 apps/v1beta2",
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
            name: "X3 extensions/v1beta1 selector change",
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
            &format!("U9 {field}"),
            &validate_daemon_set_status_update(Some(&status), Some(&old)),
            &[(path.as_str(), Invalid)],
        );
    }
    let errs = validate_daemon_set_status_update(Some(&all), Some(&old));
    assert_eq!(errs.len(), 8, "U9 all: {}", render(&errs));
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
    assert_errors("U10", &errs, &[("status.collisionCount", Invalid)]);
    assert_eq!(
        errs[0].to_string(),
        "status.collisionCount: Invalid value: 1: cannot be decremented"
    );
    let unset = DaemonSetStatus::default();
    assert_errors(
        "U10 unset",
        &validate_daemon_set_status_update(Some(&unset), Some(&old)),
        &[("status.collisionCount", Invalid)],
    );
    let higher = DaemonSetStatus {
        collision_count: Some(3),
        ..Default::default()
    };
    assert_errors(
        "U10 up",
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

#[test]
fn owner_references_and_finalizers_are_checked() {
    run_api(
        &[
            Row {
                name: "owner reference without uid",
                change: |ds| {
                    meta(ds).owner_references = vec![crate::model::OwnerReference {
                        kind: "Thing".into(),
                        name: "t".into(),
                        api_version: "example.com/v1".into(),
                        ..Default::default()
                    }]
                },
                want: &[("metadata.ownerReferences.uid", Invalid)],
            },
            Row {
                name: "standard finalizer",
                change: |ds| {
                    meta(ds).finalizers =
                        vec!["foregroundDeletion".into(), "example.com/cleanup".into()]
                },
                want: &[],
            },
            Row {
                name: "non-standard bare finalizer",
                change: |ds| meta(ds).finalizers = vec!["cleanup".into()],
                want: &[("metadata.finalizers[0]", Invalid)],
            },
        ],
        ApiVersion::AppsV1,
    );
}
