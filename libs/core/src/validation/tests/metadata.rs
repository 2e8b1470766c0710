//! Table tests of object metadata and of the selector (Kubernetes: the metadata, selector,
//! label and annotation cases of `TestValidateDaemonSet` in
//! `pkg/apis/apps/validation/validation_test.go`, and `ValidateObjectMeta`'s owner references
//! and finalizers): names, namespaces, the selector matching the template labels, selector
//! operators, label keys and values, annotations.

use super::*;

#[test]
fn baseline_and_valid_names_are_accepted() {
    run_api(
        &[
            Row {
                name: "baseline",
                change: |_| {},
                want: &[],
            },
            Row {
                name: "name abc-123",
                change: |ds| meta(ds).name = "abc-123".into(),
                want: &[],
            },
            Row {
                name: "hostNetwork with container port 12345",
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
                name: "name a.b-c",
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
            name: "zero-length name",
            change: |ds| meta(ds).name.clear(),
            want: &[(NAME, Required)],
        }],
        ApiVersion::AppsV1,
    );
    // The namespace is defaulted on the API path; Kubernetes' test runs on the internal type.
    run_raw(&[Row {
        name: "missing namespace",
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
                name: "Abc",
                change: |ds| meta(ds).name = "Abc".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "a_b",
                change: |ds| meta(ds).name = "a_b".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "-abc",
                change: |ds| meta(ds).name = "-abc".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "abc-",
                change: |ds| meta(ds).name = "abc-".into(),
                want: &[(NAME, Invalid)],
            },
            Row {
                name: "254 characters",
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
// The selector, labels and annotations (Kubernetes: `ValidateLabelSelector`, `ValidateLabels`,
// `ValidateAnnotations`, and `ValidateDaemonSetSpec`'s selector-matches-template rule)
// ---------------------------------------------------------------------------------------------

#[test]
fn selector_that_does_not_match_template_labels_is_rejected() {
    run_api(
        &[
            Row {
                name: "selector omitted (nil selector matches nothing)",
                change: |ds| spec(ds).selector = None,
                want: &[(TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "selector {foo: bar}",
                change: |ds| set_selector(ds, &[("foo", "bar")], &[]),
                want: &[(TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "selector subset of template labels",
                change: |ds| template_meta(ds).labels = labels(&[("a", "b"), ("x", "y")]),
                want: &[],
            },
            Row {
                name: "matchExpressions In",
                change: |ds| set_selector(ds, &[], &[("a", "In", &["b", "c"])]),
                want: &[],
            },
            Row {
                name: "DoesNotExist with matchLabels",
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
            name: "selector {}",
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
                name: "In with no values",
                change: |ds| set_selector(ds, &[], &[("a", "In", &[])]),
                want: &[("spec.selector.matchExpressions[0].values", Required)],
            },
            Row {
                name: "Exists with values",
                change: |ds| set_selector(ds, &[("a", "b")], &[("x", "Exists", &["y"])]),
                want: &[("spec.selector.matchExpressions[0].values", Forbidden)],
            },
            Row {
                name: "Gt is not a label selector operator",
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
                name: "invalid matchLabels key (1 error)",
                change: |ds| {
                    set_selector(ds, &[("NoUppercaseOrSpecialCharsLike=Equals", "b")], &[])
                },
                want: &[("spec.selector.matchLabels", Invalid)],
            },
            Row {
                name: "invalid DaemonSet label",
                change: |ds| {
                    meta(ds).labels = labels(&[("NoUppercaseOrSpecialCharsLike=Equals", "bar")])
                },
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "invalid label and no selector",
                change: |ds| {
                    meta(ds).labels = labels(&[("NoUppercaseOrSpecialCharsLike=Equals", "bar")]);
                    spec(ds).selector = None;
                },
                want: &[("metadata.labels", Invalid), (TEMPLATE_LABELS, Invalid)],
            },
            Row {
                name: "invalid template label key",
                change: |ds| template_meta(ds).labels = labels(&[("bad=key", "x")]),
                want: &[
                    ("spec.template.labels", Invalid),
                    (TEMPLATE_LABELS, Invalid),
                ],
            },
            Row {
                name: "invalid annotation key",
                change: |ds| {
                    meta(ds).annotations =
                        labels(&[("NoUppercaseOrSpecialCharsLike=Equals", "bar")])
                },
                want: &[("metadata.annotations", Invalid)],
            },
            Row {
                name: "prefixed key",
                change: |ds| set_labels_everywhere(ds, &[("example.com/app", "web")]),
                want: &[],
            },
            Row {
                name: "name part of 64 characters",
                change: |ds| meta(ds).labels = [("k".repeat(64), "v".to_string())].into(),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "a/b/c",
                change: |ds| meta(ds).labels = labels(&[("a/b/c", "v")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "/a",
                change: |ds| meta(ds).labels = labels(&[("/a", "v")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "Example.com/a",
                change: |ds| meta(ds).labels = labels(&[("Example.com/a", "v")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "A_b.c-D",
                change: |ds| set_labels_everywhere(ds, &[("A_b.c-D", "v")]),
                want: &[],
            },
            Row {
                name: "empty label value",
                change: |ds| set_labels_everywhere(ds, &[("a", "")]),
                want: &[],
            },
            Row {
                name: "value of 64 characters",
                change: |ds| meta(ds).labels = [("a".to_string(), "v".repeat(64))].into(),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "value -x",
                change: |ds| meta(ds).labels = labels(&[("a", "-x")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "value x-",
                change: |ds| meta(ds).labels = labels(&[("a", "x-")]),
                want: &[("metadata.labels", Invalid)],
            },
            Row {
                name: "value with a space",
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
