//! Tests of daemon pod placement (Kubernetes: `TestNodeShouldRunDaemonPod` and its neighbours in
//! `pkg/controller/daemon/daemon_controller_test.go`): node selectors, node names, node affinity
//! and the 1.3-era affinity annotation, taints against tolerations, and the daemon pod spec.

use super::*;
use crate::model::{Affinity, DaemonSetSpec, LabelSelector, NodeAffinity, NodeSpec, ObjectMeta};

// -- builders ------------------------------------------------------------------------------

struct NodeBuilder(Node);

fn node(name: &str) -> NodeBuilder {
    NodeBuilder(Node {
        metadata: Some(ObjectMeta {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(NodeSpec::default()),
        ..Default::default()
    })
}

impl NodeBuilder {
    fn label(mut self, k: &str, v: &str) -> Self {
        if let Some(m) = self.0.metadata.as_mut() {
            m.labels.insert(k.into(), v.into());
        }
        self
    }
    fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        if let Some(s) = self.0.spec.as_mut() {
            s.taints.push(Taint {
                key: key.into(),
                value: value.into(),
                effect: effect.into(),
                time_added: None,
            });
        }
        self
    }
    fn unschedulable(mut self) -> Self {
        if let Some(s) = self.0.spec.as_mut() {
            s.unschedulable = true;
        }
        self
    }
    fn build(self) -> Node {
        self.0
    }
}

struct DsBuilder(DaemonSet);

fn ds() -> DsBuilder {
    let labels: BTreeMap<String, String> = [("name".to_string(), "simple-daemon".to_string())]
        .into_iter()
        .collect();
    DsBuilder(DaemonSet {
        metadata: Some(ObjectMeta {
            name: "foo".into(),
            namespace: "default".into(),
            uid: "uid-foo".into(),
            ..Default::default()
        }),
        spec: Some(DaemonSetSpec {
            selector: Some(LabelSelector {
                match_labels: labels.clone(),
                ..Default::default()
            }),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels,
                    ..Default::default()
                }),
                spec: Some(PodSpec::default()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

impl DsBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .template
            .get_or_insert_with(Default::default)
            .spec
            .get_or_insert_with(Default::default)
    }
    fn node_name(mut self, n: &str) -> Self {
        self.spec().node_name = n.into();
        self
    }
    fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec().node_selector.insert(k.into(), v.into());
        self
    }
    fn host_network(mut self) -> Self {
        self.spec().host_network = true;
        self
    }
    fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        self.spec().tolerations.push(Toleration {
            key: key.into(),
            operator: op.into(),
            value: value.into(),
            effect: effect.into(),
            ..Default::default()
        });
        self
    }
    fn required(mut self, terms: Vec<NodeSelectorTerm>) -> Self {
        self.spec().affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }
    fn annotation(mut self, k: &str, v: &str) -> Self {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .template
            .get_or_insert_with(Default::default)
            .metadata
            .get_or_insert_with(Default::default)
            .annotations
            .insert(k.into(), v.into());
        self
    }
    fn build(self) -> DaemonSet {
        self.0
    }
}

fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    }
}

fn exprs(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: reqs,
        ..Default::default()
    }
}

fn fields(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_fields: reqs,
        ..Default::default()
    }
}

const RUN: ShouldRun = ShouldRun::RUN;
const KEEP: ShouldRun = ShouldRun::KEEP;
const EVICT: ShouldRun = ShouldRun::EVICT;

fn check(cases: Vec<(&str, Node, DaemonSet, ShouldRun)>) {
    for (name, node, ds, want) in cases {
        assert_eq!(node_should_run(&node, &ds), want, "case {name:?}");
    }
}

// -- TestNodeShouldRunDaemonPod ------------------------------------------------------------

#[test]
fn node_should_run_daemon_pod_table() {
    let labelled = || {
        node("test-node")
            .label("name", "simple-daemon")
            .label("type", "production")
    };
    check(vec![
        (
            "plain template runs everywhere",
            labelled().build(),
            ds().build(),
            RUN,
        ),
        (
            "template nodeName naming another node",
            labelled().build(),
            ds().node_name("other-node").build(),
            EVICT,
        ),
        (
            "template nodeName naming this node",
            labelled().build(),
            ds().node_name("test-node").build(),
            RUN,
        ),
        (
            "nodeSelector not matching",
            labelled().build(),
            ds().node_selector("type", "test").build(),
            EVICT,
        ),
        (
            "nodeSelector matching",
            labelled().build(),
            ds().node_selector("type", "production").build(),
            RUN,
        ),
        (
            "node affinity In not matching",
            labelled().build(),
            ds().required(vec![exprs(vec![req("type", "In", &["test"])])])
                .build(),
            EVICT,
        ),
        (
            "node affinity In matching",
            labelled().build(),
            ds().required(vec![exprs(vec![req("type", "In", &["production"])])])
                .build(),
            RUN,
        ),
        (
            "unschedulable node is ignored",
            labelled().unschedulable().build(),
            ds().build(),
            RUN,
        ),
    ]);
}

#[test]
fn not_ready_and_network_unavailable_conditions_do_not_matter() {
    // Conditions are not read at all: a node is only its labels, name and taints here.
    let mut n = node("n1").build();
    n.status = Some(crate::model::NodeStatus {
        conditions: vec![crate::model::NodeCondition {
            type_: "Ready".into(),
            status: "False".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert_eq!(node_should_run(&n, &ds().build()), RUN);
}

// -- node names, node selectors and node affinity (Kubernetes: `TestNameDaemonSetLaunchesPods`,
// `TestSelectorDaemonLaunchesPods`, `TestNodeAffinityDaemonLaunchesPods` in
// `pkg/controller/daemon/daemon_controller_test.go`) -------------------------------------------

#[test]
fn node_name_and_node_selector_must_both_hold() {
    let blue = node("node-6").label("color", "blue").build();
    let plain = node("node-0").build();
    let d = ds()
        .node_selector("color", "blue")
        .node_name("node-6")
        .build();
    assert_eq!(node_should_run(&blue, &d), RUN);
    assert_eq!(node_should_run(&plain, &d), EVICT);
    let inconsistent = ds()
        .node_selector("color", "blue")
        .node_name("node-0")
        .build();
    assert_eq!(node_should_run(&blue, &inconsistent), EVICT);
    assert_eq!(node_should_run(&plain, &inconsistent), EVICT);
}

#[test]
fn affinity_terms_are_ored_and_expressions_anded() {
    let d = ds()
        .required(vec![
            exprs(vec![req("zone", "In", &["a"]), req("disk", "Exists", &[])]),
            exprs(vec![req("gpu", "In", &["yes"])]),
        ])
        .build();
    check(vec![
        (
            "first term, both expressions",
            node("n").label("zone", "a").label("disk", "ssd").build(),
            d.clone(),
            RUN,
        ),
        (
            "first term, one expression only",
            node("n").label("zone", "a").build(),
            d.clone(),
            EVICT,
        ),
        (
            "second term",
            node("n").label("gpu", "yes").build(),
            d.clone(),
            RUN,
        ),
        ("no term", node("n").label("zone", "b").build(), d, EVICT),
    ]);
}

#[test]
fn affinity_operators_match_like_kubernetes() {
    let with = |r: NodeSelectorRequirement| ds().required(vec![exprs(vec![r])]).build();
    let n = || node("n").label("k", "v").label("num", "5");
    check(vec![
        (
            "NotIn with other value",
            n().build(),
            with(req("k", "NotIn", &["x"])),
            RUN,
        ),
        (
            "NotIn with same value",
            n().build(),
            with(req("k", "NotIn", &["v"])),
            EVICT,
        ),
        (
            "NotIn with absent key",
            n().build(),
            with(req("absent", "NotIn", &["v"])),
            RUN,
        ),
        ("Exists", n().build(), with(req("k", "Exists", &[])), RUN),
        (
            "Exists absent",
            n().build(),
            with(req("absent", "Exists", &[])),
            EVICT,
        ),
        (
            "DoesNotExist absent",
            n().build(),
            with(req("absent", "DoesNotExist", &[])),
            RUN,
        ),
        (
            "DoesNotExist present",
            n().build(),
            with(req("k", "DoesNotExist", &[])),
            EVICT,
        ),
    ]);
}

#[test]
fn gt_and_lt_compare_as_int64_and_fail_closed() {
    let with = |r: NodeSelectorRequirement| ds().required(vec![exprs(vec![r])]).build();
    let n = |v: &str| node("n").label("num", v).build();
    check(vec![
        (
            "Gt strictly greater",
            n("6"),
            with(req("num", "Gt", &["5"])),
            RUN,
        ),
        ("Gt equal", n("5"), with(req("num", "Gt", &["5"])), EVICT),
        (
            "Lt strictly smaller",
            n("4"),
            with(req("num", "Lt", &["5"])),
            RUN,
        ),
        ("Lt equal", n("5"), with(req("num", "Lt", &["5"])), EVICT),
        (
            "Gt large values",
            n("9000000000"),
            with(req("num", "Gt", &["8999999999"])),
            RUN,
        ),
        (
            "Gt node value not an integer",
            n("five"),
            with(req("num", "Gt", &["1"])),
            EVICT,
        ),
        (
            "Gt absent key",
            node("n").build(),
            with(req("num", "Gt", &["1"])),
            EVICT,
        ),
        (
            "Gt requirement not an integer",
            n("6"),
            with(req("num", "Gt", &["x"])),
            EVICT,
        ),
        (
            "Gt with two values",
            n("6"),
            with(req("num", "Gt", &["1", "2"])),
            EVICT,
        ),
    ]);
}

#[test]
fn match_fields_select_by_node_name() {
    let with = |r: NodeSelectorRequirement| ds().required(vec![fields(vec![r])]).build();
    check(vec![
        (
            "In own name",
            node("node-1").build(),
            with(req("metadata.name", "In", &["node-1"])),
            RUN,
        ),
        (
            "In other name",
            node("node-2").build(),
            with(req("metadata.name", "In", &["node-1"])),
            EVICT,
        ),
        (
            "NotIn own name",
            node("node-1").build(),
            with(req("metadata.name", "NotIn", &["node-1"])),
            EVICT,
        ),
        (
            "NotIn other name",
            node("node-2").build(),
            with(req("metadata.name", "NotIn", &["node-1"])),
            RUN,
        ),
        (
            "In with two values is invalid",
            node("node-1").build(),
            with(req("metadata.name", "In", &["node-1", "node-2"])),
            EVICT,
        ),
        (
            "Exists is not a field operator",
            node("node-1").build(),
            with(req("metadata.name", "Exists", &[])),
            EVICT,
        ),
    ]);
}

#[test]
fn zone_or_node_name_terms_select_three_of_six_nodes() {
    // Integration TestDaemonSetWithNodeSelectorLaunchesPods: zone In [test] OR name node-1.
    let d = ds()
        .required(vec![
            exprs(vec![req("zone", "In", &["test"])]),
            fields(vec![req("metadata.name", "In", &["node-1"])]),
        ])
        .build();
    let nodes = [
        node("node-0").build(),
        node("node-1").build(),
        node("node-2").label("zone", "test").build(),
        node("node-3").label("zone", "test").build(),
        node("node-4").label("zone", "other").build(),
        node("node-5").build(),
    ];
    let eligible: Vec<&str> = nodes
        .iter()
        .filter(|n| node_should_run(n, &d).should_run)
        .map(Node::name)
        .collect();
    assert_eq!(eligible, ["node-1", "node-2", "node-3"]);
}

#[test]
fn empty_terms_and_zero_terms_match_nothing() {
    let n = node("n").label("k", "v").build();
    assert_eq!(node_should_run(&n, &ds().required(vec![]).build()), EVICT);
    assert_eq!(
        node_should_run(
            &n,
            &ds().required(vec![NodeSelectorTerm::default()]).build()
        ),
        EVICT
    );
    // An empty term next to a matching one does not hurt.
    let d = ds()
        .required(vec![
            NodeSelectorTerm::default(),
            exprs(vec![req("k", "In", &["v"])]),
        ])
        .build();
    assert_eq!(node_should_run(&n, &d), RUN);
}

#[test]
fn terms_with_invalid_requirements_are_skipped_not_fatal() {
    let n = node("n").label("k", "v").build();
    let d = ds()
        .required(vec![
            exprs(vec![req("k", "Foo", &["v"])]),
            exprs(vec![req("k", "In", &[])]),
            exprs(vec![req("k", "Exists", &["v"])]),
            exprs(vec![req("k", "In", &["v"])]),
        ])
        .build();
    assert_eq!(node_should_run(&n, &d), RUN);
    let only_invalid = ds()
        .required(vec![exprs(vec![req("k", "Foo", &["v"])])])
        .build();
    assert_eq!(node_should_run(&n, &only_invalid), EVICT);
}

// -- the 1.3 affinity annotation ---------------------------------------------------------------

const ANNOTATION_COLOR_BLUE: &str = r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"color","operator":"In","values":["blue"]}]}]}}}"#;

#[test]
fn affinity_annotation_places_like_the_field() {
    let d = ds()
        .annotation(AFFINITY_ANNOTATION, ANNOTATION_COLOR_BLUE)
        .build();
    assert_eq!(
        node_should_run(&node("a").label("color", "blue").build(), &d),
        RUN
    );
    assert_eq!(
        node_should_run(&node("b").label("color", "red").build(), &d),
        EVICT
    );
}

#[test]
fn affinity_annotation_and_field_must_both_match() {
    let d = ds()
        .annotation(AFFINITY_ANNOTATION, ANNOTATION_COLOR_BLUE)
        .required(vec![exprs(vec![req("zone", "In", &["a"])])])
        .build();
    let both = node("n").label("color", "blue").label("zone", "a").build();
    let field_only = node("n").label("color", "red").label("zone", "a").build();
    let annotation_only = node("n").label("color", "blue").label("zone", "b").build();
    assert_eq!(node_should_run(&both, &d), RUN);
    assert_eq!(node_should_run(&field_only, &d), EVICT);
    assert_eq!(node_should_run(&annotation_only, &d), EVICT);
}

#[test]
fn affinity_annotation_without_required_selector_does_not_constrain() {
    let d = ds()
        .annotation(AFFINITY_ANNOTATION, r#"{"podAntiAffinity":{}}"#)
        .build();
    assert_eq!(node_should_run(&node("n").build(), &d), RUN);
    let d = ds()
        .annotation(
            AFFINITY_ANNOTATION,
            r#"{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[]}}"#,
        )
        .build();
    assert_eq!(node_should_run(&node("n").build(), &d), RUN);
}

#[test]
fn unreadable_affinity_annotation_matches_no_node() {
    for raw in [
        "not json",
        "[]",
        r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":"x"}}}"#,
    ] {
        let d = ds().annotation(AFFINITY_ANNOTATION, raw).build();
        assert_eq!(
            node_should_run(&node("n").build(), &d),
            EVICT,
            "annotation {raw:?}"
        );
    }
}

#[test]
fn affinity_annotation_with_zero_terms_matches_nothing() {
    let d = ds()
            .annotation(
                AFFINITY_ANNOTATION,
                r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[]}}}"#,
            )
            .build();
    assert_eq!(node_should_run(&node("n").build(), &d), EVICT);
}

// -- taints and tolerations (Kubernetes: `TestTaintedNodeDaemonDoesNotLaunchIntolerantPod`,
// `TestNoExecuteTaintedDoesEvicitRunningIntolerantPod`, `TestNotReadyNodeDaemonLaunchesPod`,
// `TestTaintPressureNodeDaemonLaunchesPod` in `daemon_controller_test.go`) --------------------

#[test]
fn untolerated_no_schedule_taint_keeps_running_pods_but_places_none() {
    let n = node("tainted")
        .taint("dedicated", "user1", EFFECT_NO_SCHEDULE)
        .build();
    assert_eq!(node_should_run(&n, &ds().build()), KEEP);
}

#[test]
fn untolerated_no_execute_taint_evicts() {
    let n = node("tainted")
        .taint("dedicated", "user1", EFFECT_NO_EXECUTE)
        .build();
    assert_eq!(node_should_run(&n, &ds().build()), EVICT);
}

#[test]
fn no_execute_wins_over_no_schedule() {
    let n = node("tainted")
        .taint("a", "", EFFECT_NO_SCHEDULE)
        .taint("b", "", EFFECT_NO_EXECUTE)
        .build();
    assert_eq!(node_should_run(&n, &ds().build()), EVICT);
}

#[test]
fn tolerated_taint_places_pod() {
    let n = node("tainted")
        .taint("dedicated", "user1", EFFECT_NO_SCHEDULE)
        .build();
    let d = ds()
        .toleration("dedicated", "", "user1", EFFECT_NO_SCHEDULE)
        .build();
    assert_eq!(node_should_run(&n, &d), RUN);
}

#[test]
fn tolerations_on_untainted_node_are_harmless() {
    let d = ds()
        .toleration("dedicated", "", "user1", EFFECT_NO_SCHEDULE)
        .build();
    assert_eq!(node_should_run(&node("n").build(), &d), RUN);
}

#[test]
fn prefer_no_schedule_taint_is_ignored() {
    let n = node("n")
        .taint("soft", "", EFFECT_PREFER_NO_SCHEDULE)
        .build();
    assert_eq!(node_should_run(&n, &ds().build()), RUN);
}

#[test]
fn not_ready_and_unreachable_taints_are_tolerated_automatically() {
    for key in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
        let n = node("n").taint(key, "", EFFECT_NO_EXECUTE).build();
        assert_eq!(node_should_run(&n, &ds().build()), RUN, "taint {key}");
    }
}

#[test]
fn pressure_and_unschedulable_taints_are_tolerated_automatically() {
    let n = node("n")
        .taint(TAINT_NODE_DISK_PRESSURE, "", EFFECT_NO_SCHEDULE)
        .taint(TAINT_NODE_MEMORY_PRESSURE, "", EFFECT_NO_SCHEDULE)
        .taint(TAINT_NODE_PID_PRESSURE, "", EFFECT_NO_SCHEDULE)
        .taint(TAINT_NODE_UNSCHEDULABLE, "", EFFECT_NO_SCHEDULE)
        .build();
    assert_eq!(node_should_run(&n, &ds().build()), RUN);
}

#[test]
fn network_unavailable_taint_is_tolerated_only_by_host_network_pods() {
    let n = node("n")
        .taint(TAINT_NODE_NETWORK_UNAVAILABLE, "", EFFECT_NO_SCHEDULE)
        .build();
    assert_eq!(node_should_run(&n, &ds().build()), KEEP);
    assert_eq!(node_should_run(&n, &ds().host_network().build()), RUN);
}

#[test]
fn toleration_matching_rules() {
    let taint = |key: &str, value: &str, effect: &str| Taint {
        key: key.into(),
        value: value.into(),
        effect: effect.into(),
        time_added: None,
    };
    let tol = |key: &str, op: &str, value: &str, effect: &str| Toleration {
        key: key.into(),
        operator: op.into(),
        value: value.into(),
        effect: effect.into(),
        ..Default::default()
    };
    let t = taint("k", "v", EFFECT_NO_SCHEDULE);
    let cases = [
        (
            "equal key value effect",
            tol("k", "Equal", "v", EFFECT_NO_SCHEDULE),
            true,
        ),
        (
            "empty operator means Equal",
            tol("k", "", "v", EFFECT_NO_SCHEDULE),
            true,
        ),
        (
            "Equal with other value",
            tol("k", "Equal", "w", EFFECT_NO_SCHEDULE),
            false,
        ),
        (
            "Exists ignores value",
            tol("k", "Exists", "", EFFECT_NO_SCHEDULE),
            true,
        ),
        (
            "empty effect matches all effects",
            tol("k", "Exists", "", ""),
            true,
        ),
        (
            "other effect",
            tol("k", "Exists", "", EFFECT_NO_EXECUTE),
            false,
        ),
        (
            "empty key with Exists matches every key",
            tol("", "Exists", "", ""),
            true,
        ),
        ("other key", tol("j", "Exists", "", ""), false),
        ("unknown operator", tol("k", "Gte", "v", ""), false),
    ];
    for (name, toleration, want) in cases {
        assert_eq!(tolerates(&toleration, &t), want, "case {name:?}");
    }
}

// -- daemon tolerations and the pod spec ---------------------------------------------------------

#[test]
fn daemon_tolerations_add_network_unavailable_only_for_host_network() {
    let keys = |spec: &PodSpec| -> Vec<String> {
        daemon_tolerations(spec)
            .into_iter()
            .map(|t| t.key)
            .collect()
    };
    let plain = keys(&PodSpec::default());
    assert_eq!(plain.len(), 6);
    assert!(!plain.iter().any(|k| k == TAINT_NODE_NETWORK_UNAVAILABLE));
    let host = keys(&PodSpec {
        host_network: true,
        ..Default::default()
    });
    assert_eq!(host.len(), 7);
    assert!(host.iter().any(|k| k == TAINT_NODE_NETWORK_UNAVAILABLE));
    assert!(
        daemon_tolerations(&PodSpec::default())
            .iter()
            .all(|t| t.operator == "Exists" && t.toleration_seconds.is_none())
    );
}

#[test]
fn daemon_pod_spec_sets_node_name_and_tolerations() {
    let d = ds()
        .toleration("dedicated", "", "user1", EFFECT_NO_SCHEDULE)
        .build();
    let template = d.spec.as_ref().and_then(|s| s.template.as_ref()).unwrap();
    let spec = daemon_pod_spec(template, "node-3");
    assert_eq!(spec.node_name, "node-3");
    assert_eq!(spec.tolerations.len(), 7);
    assert_eq!(spec.tolerations[0].key, "dedicated");
}

#[test]
fn daemon_pod_spec_replaces_a_matching_toleration_with_seconds() {
    let mut d = ds().build();
    let seconds = Toleration {
        key: TAINT_NODE_NOT_READY.into(),
        operator: "Exists".into(),
        effect: EFFECT_NO_EXECUTE.into(),
        toleration_seconds: Some(300),
        ..Default::default()
    };
    d.spec
        .as_mut()
        .unwrap()
        .template
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap()
        .tolerations = vec![seconds];
    let template = d.spec.as_ref().and_then(|s| s.template.as_ref()).unwrap();
    let spec = daemon_pod_spec(template, "n");
    let not_ready: Vec<_> = spec
        .tolerations
        .iter()
        .filter(|t| t.key == TAINT_NODE_NOT_READY)
        .collect();
    assert_eq!(not_ready.len(), 1);
    assert_eq!(not_ready[0].toleration_seconds, None, "tolerated forever");
    assert_eq!(
        spec.tolerations[0].key, TAINT_NODE_NOT_READY,
        "replaced in place"
    );
}

#[test]
fn add_or_update_toleration_keeps_identical_entries() {
    let t = Toleration {
        key: "k".into(),
        operator: "Exists".into(),
        ..Default::default()
    };
    let mut list = vec![t.clone()];
    add_or_update_toleration(&mut list, t.clone());
    assert_eq!(list, vec![t]);
}

#[test]
fn target_node_is_node_name_else_the_match_fields_name() {
    let mut pod = Pod {
        spec: Some(PodSpec {
            node_name: "n1".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(target_node_name(&pod), Some("n1"));
    let d = ds()
        .required(vec![fields(vec![req(NODE_NAME_FIELD, "In", &["node-2"])])])
        .build();
    pod.spec = d.spec.unwrap().template.unwrap().spec;
    assert_eq!(target_node_name(&pod), Some("node-2"));
    pod.spec = Some(PodSpec::default());
    assert_eq!(target_node_name(&pod), None);
}
