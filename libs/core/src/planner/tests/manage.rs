//! Placement and the per-node pass: `daemon_controller_test.go` rows about creating and
//! deleting pods, failed pods and back-off, taints, termination, status, surge pruning.

use std::time::Duration;

use super::*;
use crate::scheduling::{
    EFFECT_NO_EXECUTE, EFFECT_NO_SCHEDULE, TAINT_NODE_DISK_PRESSURE, TAINT_NODE_MEMORY_PRESSURE,
    TAINT_NODE_NOT_READY, TAINT_NODE_PID_PRESSURE, TAINT_NODE_UNREACHABLE,
};

// -- launching -----------------------------------------------------------------------------------

#[test]
fn simple_daemon_set_launches_a_pod_on_every_node() {
    for_each_strategy(|_, ds| {
        let w = World::new(ds).with_nodes(nodes(0, 5, &[]));
        assert_plan(
            &w.plan(),
            &["node-0", "node-1", "node-2", "node-3", "node-4"],
            &[],
        );
    });
}

#[test]
fn no_nodes_does_nothing() {
    for_each_strategy(|_, ds| {
        let p = World::new(ds).plan();
        assert_plan(&p, &[], &[]);
        assert!(p.events.is_empty());
    });
}

#[test]
fn one_node_launches_one_pod() {
    for_each_strategy(|_, ds| {
        let w = World::new(ds).with_nodes(vec![node("only-node").build()]);
        assert_plan(&w.plan(), &["only-node"], &[]);
    });
}

#[test]
fn not_ready_node_still_gets_a_pod() {
    for_each_strategy(|_, ds| {
        let w =
            World::new(ds).with_nodes(vec![node("not-ready").condition("Ready", "False").build()]);
        assert_plan(&w.plan(), &["not-ready"], &[]);
    });
}

#[test]
fn network_unavailable_node_still_gets_a_pod() {
    for_each_strategy(|_, ds| {
        let w = World::new(ds).with_nodes(vec![
            node("network-unavailable")
                .condition("NetworkUnavailable", "True")
                .build(),
        ]);
        assert_plan(&w.plan(), &["network-unavailable"], &[]);
    });
}

#[test]
fn created_pods_are_complete_daemon_pods() {
    let mut ds = daemon("foo");
    ds.metadata
        .as_mut()
        .unwrap()
        .annotations
        .insert(TEMPLATE_GENERATION_ANNOTATION.into(), "3".into());
    let w = World::new(ds.clone()).with_nodes(vec![node("n1").build()]);
    let p = w.plan();
    assert_eq!(p.create.len(), 1);
    let pod = &p.create[0].pod;
    let meta = pod.metadata.as_ref().unwrap();
    assert!(
        meta.name.starts_with("foo-") && meta.name.len() == "foo-".len() + 5,
        "{}",
        meta.name
    );
    assert_eq!(meta.generate_name, "foo-");
    assert_eq!(meta.namespace, "default");
    assert_eq!(meta.labels["name"], "simple-daemon");
    assert_eq!(
        meta.labels[CONTROLLER_REVISION_HASH_LABEL],
        current_hash(&ds)
    );
    assert_eq!(meta.labels[POD_TEMPLATE_GENERATION_LABEL], "3");
    assert_eq!(meta.owner_references, vec![controller_ref(&ds)]);
    let owner = &meta.owner_references[0];
    assert_eq!(
        (owner.name.as_str(), owner.uid.as_str()),
        ("foo", "uid-foo")
    );
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.node_name, "n1");
    assert_eq!(spec.containers[0].image, "foo/bar");
    assert!(
        spec.tolerations
            .iter()
            .any(|t| t.key == TAINT_NODE_NOT_READY)
    );
    assert_eq!(p.revision.as_ref().unwrap().hash, current_hash(&ds));
}

#[test]
fn pod_names_are_stable_across_passes_and_unique_in_a_plan() {
    let w = World::new(daemon("foo")).with_nodes(nodes(0, 50, &[]));
    let a: Vec<String> = w
        .plan()
        .create
        .iter()
        .map(|c| c.pod.name().to_string())
        .collect();
    let b: Vec<String> = w
        .plan()
        .create
        .iter()
        .map(|c| c.pod.name().to_string())
        .collect();
    assert_eq!(a, b);
    let unique: std::collections::BTreeSet<&String> = a.iter().collect();
    assert_eq!(unique.len(), a.len());
}

#[test]
fn an_unobserved_create_gets_the_same_name_again() {
    // The executor created a pod but the store does not show it yet: the retry names it the
    // same, so the store rejects the duplicate instead of a second pod landing on the node.
    let mut w = World::new(daemon("foo")).with_nodes(vec![node("n1").build()]);
    let first = w.plan();
    let again = w.plan();
    assert_eq!(first.create[0].pod.name(), again.create[0].pod.name());
    // Once a pod of that name exists (e.g. terminating), a replacement gets another name.
    w.add_pod(
        pod(first.create[0].pod.name())
            .on("n1")
            .labels(SIMPLE)
            .owned_by(&w.ds)
            .deleting()
            .failed(),
    );
    let replacement = w.plan();
    assert_eq!(replacement.create.len(), 1);
    assert_ne!(replacement.create[0].pod.name(), first.create[0].pod.name());
}

#[test]
fn creates_and_deletes_are_capped_per_pass() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, BURST_REPLICAS + 50, &[]));
    let p = w.sync();
    assert_eq!(p.create.len(), BURST_REPLICAS);
    assert_eq!(p.deferred_creates, 50);
    let p = w.sync();
    assert_eq!((p.create.len(), p.deferred_creates), (50, 0));
    assert_counts(&w.plan(), 0, 0);
}

// -- existing pods ---------------------------------------------------------------------------------

#[test]
fn deals_with_existing_pods_keeping_one_per_node() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds).with_nodes(nodes(0, 5, &[]));
        w.add_pods("node-1", SIMPLE, 1);
        w.add_pods("node-2", SIMPLE, 2);
        w.add_pods("node-3", SIMPLE, 5);
        w.add_pods("node-4", SIMPLE2, 2);
        let p = w.plan();
        // node-4's pods no longer match the selector: released, not counted, so node-4 gets one.
        assert_counts(&p, 2, 5);
        let mut creates: Vec<&str> = p.create.iter().map(|c| c.node.as_str()).collect();
        creates.sort_unstable();
        assert_eq!(creates, ["node-0", "node-4"]);
        let released: Vec<&str> = p.release.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(released, ["node-4", "node-4"]);
        assert!(
            p.delete
                .iter()
                .all(|d| d.reason == DeleteReason::ExcessDuplicate)
        );
        let kept_on_3 = w.pods_on("node-3");
        assert_eq!(
            p.delete.iter().filter(|d| d.pod.node == "node-3").count(),
            4
        );
        // The oldest (all created at the same time here: the first by name) is kept.
        let mut names: Vec<&str> = kept_on_3.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        assert!(!p.delete.iter().any(|d| d.pod.name == names[0]));
    });
}

#[test]
fn the_oldest_pod_stays_and_bound_pods_count_as_older() {
    let ds = daemon("foo");
    let mut w = World::new(ds.clone()).with_nodes(vec![node("n1").build()]);
    w.add_pod(
        pod("young")
            .on("n1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(20),
    );
    w.add_pod(
        pod("old")
            .on("n1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(10),
    );
    w.add_pod(
        pod("older-unbound")
            .aimed_at("n1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(5),
    );
    assert_plan(&w.plan(), &[], &["young", "older-unbound"]);
}

#[test]
fn node_selector_places_pods_only_on_matching_nodes() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_selector = labels(NODE_LABELS);
        let w = World::new(ds)
            .with_nodes(nodes(0, 4, &[]))
            .with_nodes(nodes(4, 3, NODE_LABELS));
        assert_plan(&w.plan(), &["node-4", "node-5", "node-6"], &[]);
    });
}

#[test]
fn node_selector_deletes_pods_on_unselected_nodes() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_selector = labels(NODE_LABELS);
        let mut w = World::new(ds)
            .with_nodes(nodes(0, 5, &[]))
            .with_nodes(nodes(5, 5, NODE_LABELS));
        w.add_pods("node-0", SIMPLE2, 2);
        w.add_pods("node-1", SIMPLE, 3);
        w.add_pods("node-1", SIMPLE2, 1);
        w.add_pods("node-4", SIMPLE, 1);
        let p = w.plan();
        assert_counts(&p, 5, 4);
        assert!(
            p.delete
                .iter()
                .all(|d| d.reason == DeleteReason::NodeShouldNotRun)
        );
    });
}

#[test]
fn node_selector_deals_with_existing_pods() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_selector = labels(NODE_LABELS);
        let mut w = World::new(ds)
            .with_nodes(nodes(0, 5, &[]))
            .with_nodes(nodes(5, 5, NODE_LABELS));
        w.add_pods("node-0", SIMPLE, 1);
        w.add_pods("node-1", SIMPLE, 3);
        w.add_pods("node-1", SIMPLE2, 2);
        w.add_pods("node-2", SIMPLE, 4);
        w.add_pods("node-6", SIMPLE, 13);
        w.add_pods("node-7", SIMPLE2, 4);
        w.add_pods("node-9", SIMPLE, 1);
        w.add_pods("node-9", SIMPLE2, 1);
        let p = w.plan();
        assert_counts(&p, 3, 20);
        let mut creates: Vec<&str> = p.create.iter().map(|c| c.node.as_str()).collect();
        creates.sort_unstable();
        assert_eq!(creates, ["node-5", "node-7", "node-8"]);
    });
}

#[test]
fn node_selector_matching_no_node_does_nothing() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_selector = labels(&[("color", "red"), ("speed", "fast")]);
        let w = World::new(ds)
            .with_nodes(nodes(0, 4, &[]))
            .with_nodes(nodes(4, 3, NODE_LABELS));
        assert_plan(&w.plan(), &[], &[]);
    });
}

#[test]
fn template_node_name_places_one_pod() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_name = "node-0".into();
        let w = World::new(ds).with_nodes(nodes(0, 5, &[]));
        assert_plan(&w.plan(), &["node-0"], &[]);
    });
}

#[test]
fn template_node_name_of_a_missing_node_does_nothing() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_name = "node-10".into();
        let w = World::new(ds).with_nodes(nodes(0, 5, &[]));
        assert_plan(&w.plan(), &[], &[]);
    });
}

#[test]
fn template_node_name_and_node_selector_must_both_match() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).node_selector = labels(NODE_LABELS);
        pod_spec_mut(&mut ds).node_name = "node-6".into();
        let w = World::new(ds.clone())
            .with_nodes(nodes(0, 4, &[]))
            .with_nodes(nodes(4, 3, NODE_LABELS));
        assert_plan(&w.plan(), &["node-6"], &[]);
        pod_spec_mut(&mut ds).node_name = "node-0".into();
        let w = World::new(ds)
            .with_nodes(nodes(0, 4, &[]))
            .with_nodes(nodes(4, 3, NODE_LABELS));
        assert_plan(&w.plan(), &[], &[]);
    });
}

#[test]
fn required_node_affinity_places_pods_on_matching_nodes() {
    use crate::model::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    };
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: vec![NodeSelectorRequirement {
                            key: "color".into(),
                            operator: "In".into(),
                            values: vec!["blue".into()],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let w = World::new(ds)
            .with_nodes(nodes(0, 4, &[]))
            .with_nodes(nodes(4, 3, NODE_LABELS));
        assert_plan(&w.plan(), &["node-4", "node-5", "node-6"], &[]);
    });
}

#[test]
fn affinity_annotation_places_pods_like_the_1_3_controller() {
    let mut ds = daemon("foo");
    ds.spec.as_mut().unwrap().template.as_mut().unwrap().metadata.as_mut().unwrap().annotations.insert(
        crate::scheduling::AFFINITY_ANNOTATION.into(),
        r#"{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"color","operator":"In","values":["blue"]}]}]}}}"#.into(),
    );
    let w = World::new(ds)
        .with_nodes(nodes(0, 2, &[]))
        .with_nodes(nodes(2, 1, NODE_LABELS));
    assert_plan(&w.plan(), &["node-2"], &[]);
}

#[test]
fn node_losing_its_label_loses_its_pod_and_a_new_match_gains_one() {
    let mut ds = daemon("foo");
    pod_spec_mut(&mut ds).node_selector = labels(&[("color", "blue")]);
    let mut w = World::new(ds).with_nodes(vec![
        node("a").label("color", "blue").build(),
        node("b").build(),
    ]);
    assert_plan(&w.sync(), &["a"], &[]);
    w.nodes[0].metadata.as_mut().unwrap().labels.clear();
    w.nodes[1]
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .insert("color".into(), "blue".into());
    let p = w.plan();
    assert_eq!(
        p.create.iter().map(|c| c.node.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(p.delete.len(), 1);
    assert_eq!(
        (p.delete[0].pod.node.as_str(), p.delete[0].reason),
        ("a", DeleteReason::NodeShouldNotRun)
    );
}

// -- status ------------------------------------------------------------------------------------------

#[test]
fn number_ready_counts_nodes_whose_pod_is_ready() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds).with_nodes(nodes(0, 2, NODE_LABELS));
        w.add_pods("node-0", SIMPLE, 1);
        w.add_pods("node-1", SIMPLE, 1);
        let p = w.sync();
        assert_counts(&p, 0, 0);
        assert_eq!(w.status().number_ready, 0);
        w.mark_ready();
        w.sync();
        let s = w.status();
        assert_eq!(
            (s.number_ready, s.number_available, s.number_unavailable),
            (2, 2, 0)
        );
        assert_eq!(
            (s.desired_number_scheduled, s.current_number_scheduled),
            (2, 2)
        );
        assert_eq!(s.updated_number_scheduled, 2);
    });
}

#[test]
fn observed_generation_follows_generation() {
    for_each_strategy(|_, mut ds| {
        ds.metadata.as_mut().unwrap().generation = 7;
        let mut w = World::new(ds).with_nodes(nodes(0, 1, NODE_LABELS));
        w.add_pods("node-0", SIMPLE, 1);
        assert_eq!(w.plan().status.unwrap().observed_generation, 7);
    });
}

#[test]
fn status_counts_misscheduled_pods_and_keeps_conditions() {
    use crate::model::DaemonSetCondition;
    let mut ds = daemon("foo");
    ds.status = Some(DaemonSetStatus {
        conditions: vec![DaemonSetCondition {
            type_: "StatusUpdate".into(),
            status: "True".into(),
            ..Default::default()
        }],
        collision_count: Some(0),
        ..Default::default()
    });
    let mut w = World::new(ds).with_nodes(vec![
        node("ok").build(),
        node("tainted")
            .taint("dedicated", "x", EFFECT_NO_SCHEDULE)
            .build(),
    ]);
    w.add_pods("ok", SIMPLE, 1);
    w.add_pods("tainted", SIMPLE, 1);
    let p = w.plan();
    assert_counts(&p, 0, 0);
    let s = p.status.unwrap();
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_misscheduled
        ),
        (1, 1, 1)
    );
    assert_eq!(s.conditions.len(), 1);
    assert_eq!(s.collision_count, Some(0));
}

#[test]
fn status_uses_the_observed_pods_not_the_planned_ones() {
    let w = World::new(daemon("foo")).with_nodes(nodes(0, 3, &[]));
    let s = w.plan().status.unwrap();
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_unavailable
        ),
        (3, 0, 3)
    );
}

#[test]
fn unsatisfied_expectations_plan_status_only() {
    let mut ds = daemon("foo");
    ds.metadata.as_mut().unwrap().generation = 4;
    ds.status.as_mut().unwrap().observed_generation = 3;
    let mut w = World::new(ds).with_nodes(nodes(0, 2, &[]));
    w.add_pods("node-0", SIMPLE, 2);
    w.expectations_satisfied = false;
    let p = w.plan();
    assert_plan(&p, &[], &[]);
    let s = p.status.unwrap();
    assert_eq!(s.observed_generation, 3, "not processed, so not observed");
    assert_eq!(s.current_number_scheduled, 1);
    assert!(
        p.revision.unwrap().create.is_some(),
        "history is still constructed"
    );
}

#[test]
fn min_ready_seconds_requeues_when_a_pod_becomes_available() {
    let mut ds = daemon("foo");
    ds.spec.as_mut().unwrap().min_ready_seconds = 30;
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    w.add_pod(
        pod("p")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds)
            .ready_since(990),
    );
    let p = w.plan();
    let s = p.status.as_ref().unwrap();
    assert_eq!((s.number_ready, s.number_available), (1, 0));
    // Ready at 990, available after 1020; now is 1000: 20 s, plus one second of slack.
    assert_eq!(p.requeue_after, Some(Duration::from_secs(21)));
}

// -- failed and succeeded pods -------------------------------------------------------------------

#[test]
fn failed_pods_are_killed_and_at_most_one_pod_per_node_remains() {
    // (failed, normal) → (creates, deletes, events), Kubernetes' TestDaemonKillFailedPods.
    let cases = [
        ((0, 1), (0, 0, 0), "normal: do nothing"),
        ((0, 0), (1, 0, 0), "no pods: create one"),
        (
            (1, 0),
            (0, 1, 1),
            "one failed pod: kill it, create next pass",
        ),
        (
            (1, 3),
            (0, 3, 1),
            "one failed and three normal: kill the failed and two extra",
        ),
    ];
    for ((failed, normal), (creates, deletes, events), name) in cases {
        for_each_strategy(|strategy, ds| {
            let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
            for i in 0..failed {
                w.add_pod(
                    pod(&format!("failed-{i}"))
                        .on("node-0")
                        .labels(SIMPLE)
                        .owned_by(&ds)
                        .failed(),
                );
            }
            w.add_pods("node-0", SIMPLE, normal);
            let p = w.plan();
            assert_eq!(
                (p.create.len(), p.delete.len(), p.events.len()),
                (creates, deletes, events),
                "{name} ({strategy})"
            );
        });
    }
}

#[test]
fn failed_pod_deletion_backs_off_per_node() {
    for_each_strategy(|strategy, ds| {
        let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
        w.add_pod(
            pod("failed")
                .on("node-0")
                .labels(SIMPLE)
                .owned_by(&ds)
                .failed(),
        );
        let key = backoff_key(&ds, "node-0");

        // The first pass deletes the pod and starts the back-off.
        let p = w.plan();
        assert_plan(&p, &[], &["failed"]);
        assert_eq!(p.events[0].reason, REASON_FAILED_DAEMON_POD);
        assert_eq!(p.backoff.len(), 1);
        assert_eq!(p.backoff[0].key, key);
        let initial = p.backoff[0].entry;
        assert_eq!(initial.delay, backoff::INITIAL_DELAY);
        // Pretend the deletion failed: the pod is still there.
        w.backoff.insert(key.clone(), initial);

        // An immediate pass waits, without raising the delay.
        let p = w.plan();
        assert_plan(&p, &[], &[]);
        assert!(
            p.backoff.is_empty(),
            "{strategy}: delay not raised while waiting"
        );
        assert_eq!(p.backoff_waits.len(), 1);
        assert_eq!(p.requeue_after, Some(initial.delay));

        // Still waiting one nanosecond before the end.
        w.now = Timestamp {
            seconds: w.now.seconds,
            nanos: 999_999_999,
        };
        assert_plan(&w.plan(), &[], &[]);
        assert_eq!(w.plan().requeue_after, Some(Duration::from_nanos(1)));

        // At the end of the delay the pod is deleted again, with a doubled delay.
        w.now = Timestamp::from_seconds(w.now.seconds + 1);
        let p = w.plan();
        assert_plan(&p, &[], &["failed"]);
        assert_eq!(p.backoff[0].entry.delay, 2 * backoff::INITIAL_DELAY);
    });
}

#[test]
fn failed_pod_is_replaced_once_its_deletion_is_observed() {
    let ds = daemon("foo");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    w.add_pod(
        pod("failed")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds)
            .failed(),
    );
    assert_plan(&w.sync(), &[], &["failed"]);
    assert_plan(&w.sync(), &["node-0"], &[]);
    assert!(w.backoff.contains_key(&backoff_key(&ds, "node-0")));
}

#[test]
fn second_failed_pod_on_a_node_waits_for_the_first_ones_back_off() {
    let ds = daemon("foo");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    w.add_pod(pod("f1").on("node-0").labels(SIMPLE).owned_by(&ds).failed());
    w.add_pod(pod("f2").on("node-0").labels(SIMPLE).owned_by(&ds).failed());
    let p = w.plan();
    assert_plan(&p, &[], &["f1"]);
    assert_eq!(p.backoff_waits.len(), 1);
}

#[test]
fn succeeded_pod_is_deleted_and_replaced_later() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
        w.add_pod(
            pod("done")
                .on("node-0")
                .labels(SIMPLE)
                .owned_by(&ds)
                .succeeded(),
        );
        let p = w.sync();
        assert_plan(&p, &[], &["done"]);
        assert_eq!(p.delete[0].reason, DeleteReason::Succeeded);
        assert_eq!(
            (p.events[0].type_, p.events[0].reason),
            (EventType::Normal, REASON_SUCCEEDED_DAEMON_POD)
        );
        assert_plan(&w.sync(), &["node-0"], &[]);
    });
}

#[test]
fn terminal_pods_being_deleted_are_ignored() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
        w.add_pod(
            pod("gone")
                .on("node-0")
                .labels(SIMPLE)
                .owned_by(&ds)
                .succeeded()
                .deleting(),
        );
        let p = w.plan();
        // Not counted: the node has no daemon pod and gets one at once.
        assert_plan(&p, &["node-0"], &[]);
        assert_eq!(p.status.unwrap().current_number_scheduled, 0);
    });
}

// -- taints ------------------------------------------------------------------------------------------------

#[test]
fn no_schedule_taint_keeps_a_running_intolerant_pod() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds.clone()).with_nodes(vec![
            node("tainted")
                .taint("dedicated", "user1", EFFECT_NO_SCHEDULE)
                .build(),
        ]);
        w.add_pod(
            pod("keep-running-me")
                .on("tainted")
                .labels(SIMPLE)
                .owned_by(&ds),
        );
        assert_plan(&w.plan(), &[], &[]);
    });
}

#[test]
fn no_execute_taint_evicts_a_running_intolerant_pod() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds.clone()).with_nodes(vec![
            node("tainted")
                .taint("dedicated", "user1", EFFECT_NO_EXECUTE)
                .build(),
        ]);
        w.add_pod(
            pod("stop-running-me")
                .on("tainted")
                .labels(SIMPLE)
                .owned_by(&ds),
        );
        assert_plan(&w.plan(), &[], &["stop-running-me"]);
    });
}

#[test]
fn tainted_node_gets_no_intolerant_pod() {
    for_each_strategy(|_, ds| {
        let w = World::new(ds).with_nodes(vec![
            node("tainted")
                .taint("dedicated", "user1", EFFECT_NO_SCHEDULE)
                .build(),
        ]);
        assert_plan(&w.plan(), &[], &[]);
    });
}

#[test]
fn tainted_node_gets_a_tolerating_pod() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).tolerations =
            vec![toleration("dedicated", "user1", EFFECT_NO_SCHEDULE)];
        let w = World::new(ds).with_nodes(vec![
            node("tainted")
                .taint("dedicated", "user1", EFFECT_NO_SCHEDULE)
                .build(),
        ]);
        assert_plan(&w.plan(), &["tainted"], &[]);
    });
}

#[test]
fn untainted_node_gets_a_pod_with_tolerations() {
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).tolerations =
            vec![toleration("dedicated", "user1", EFFECT_NO_SCHEDULE)];
        let w = World::new(ds).with_nodes(nodes(0, 1, &[]));
        assert_plan(&w.plan(), &["node-0"], &[]);
    });
}

#[test]
fn not_ready_and_unreachable_nodes_get_a_pod() {
    for (key, ready) in [
        (TAINT_NODE_NOT_READY, "False"),
        (TAINT_NODE_UNREACHABLE, "Unknown"),
    ] {
        for_each_strategy(|_, ds| {
            let w = World::new(ds).with_nodes(vec![
                node("tainted")
                    .taint(key, "", EFFECT_NO_EXECUTE)
                    .condition("Ready", ready)
                    .build(),
            ]);
            assert_plan(&w.plan(), &["tainted"], &[]);
        });
    }
}

#[test]
fn pressure_tainted_node_gets_a_pod() {
    for_each_strategy(|_, ds| {
        let w = World::new(ds).with_nodes(vec![
            node("resources-pressure")
                .taint(TAINT_NODE_DISK_PRESSURE, "", EFFECT_NO_SCHEDULE)
                .taint(TAINT_NODE_MEMORY_PRESSURE, "", EFFECT_NO_SCHEDULE)
                .taint(TAINT_NODE_PID_PRESSURE, "", EFFECT_NO_SCHEDULE)
                .build(),
        ]);
        assert_plan(&w.plan(), &["resources-pressure"], &[]);
    });
}

// -- termination, missing nodes, selectors, deletion -----------------------------------------------

#[test]
fn node_whose_only_pod_is_terminating_gets_no_new_pod() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, NODE_LABELS));
        w.add_pod(
            pod("terminating")
                .on("node-0")
                .labels(SIMPLE)
                .owned_by(&ds)
                .deleting(),
        );
        assert_plan(&w.plan(), &[], &[]);
    });
}

#[test]
fn unbound_pod_for_a_missing_node_is_deleted_but_bound_ones_are_left_to_gc() {
    for_each_strategy(|_, ds| {
        let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
        w.add_pods("node-0", SIMPLE, 1);
        w.add_pods("node-1", SIMPLE, 1);
        w.add_pod(
            pod("pod1-node-3")
                .aimed_at("node-2")
                .labels(SIMPLE)
                .owned_by(&ds),
        );
        let p = w.plan();
        assert_plan(&p, &[], &["pod1-node-3"]);
        assert_eq!(p.delete[0].reason, DeleteReason::UnscheduledForMissingNode);
    });
}

#[test]
fn empty_selector_selects_all_pods_and_does_nothing_else() {
    for_each_strategy(|_, mut ds| {
        ds.spec.as_mut().unwrap().selector = Some(LabelSelector::default());
        pod_spec_mut(&mut ds).node_selector = labels(&[("foo", "bar")]);
        let mut w = World::new(ds).with_nodes(vec![node("node1").build()]);
        w.add_pod(pod("unrelated").on("node1").labels(&[("bang", "boom")]));
        let p = w.plan();
        assert_plan(&p, &[], &[]);
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.events[0].reason, REASON_SELECTING_ALL);
        assert_eq!(p.status, None);
        assert!(p.adopt.is_empty() && p.revision.is_none());
    });
}

#[test]
fn daemon_set_being_deleted_does_nothing() {
    for_each_strategy(|_, mut ds| {
        ds.metadata.as_mut().unwrap().deletion_timestamp = Some(Timestamp::from_seconds(5));
        let mut w = World::new(ds).with_nodes(nodes(0, 5, &[]));
        // Not even a matching orphan is adopted.
        w.add_pod(pod("pod1").on("node-0").labels(SIMPLE));
        let p = w.plan();
        assert_eq!(p, Plan::default());
    });
}

#[test]
fn missing_or_foreign_selector_plans_no_pod_actions() {
    let mut ds = daemon("foo");
    ds.spec.as_mut().unwrap().selector = None;
    let p = World::new(ds).with_nodes(nodes(0, 2, &[])).plan();
    assert_plan(&p, &[], &[]);
    assert_eq!(p.events[0].reason, REASON_INVALID_SELECTOR);

    let mut ds = daemon("foo");
    ds.spec.as_mut().unwrap().selector = Some(LabelSelector {
        match_labels: labels(&[("app", "other")]),
        ..Default::default()
    });
    let p = World::new(ds).with_nodes(nodes(0, 2, &[])).plan();
    assert_plan(&p, &[], &[]);
    assert_eq!(p.events[0].reason, REASON_INVALID_SELECTOR);
    assert_eq!(p.status, None);
}

#[test]
fn own_pod_with_a_host_port_is_not_deleted() {
    use crate::model::ContainerPort;
    for_each_strategy(|_, mut ds| {
        pod_spec_mut(&mut ds).containers[0].ports = vec![ContainerPort {
            host_port: 666,
            ..Default::default()
        }];
        let mut w = World::new(ds).with_nodes(vec![node("port-conflict").build()]);
        w.add_pods("port-conflict", SIMPLE, 1);
        assert_plan(&w.plan(), &[], &[]);
    });
}

// -- surge pruning in the per-node pass ----------------------------------------------------------

fn surge_world(max_surge: i32) -> World {
    let mut ds = daemon("foo");
    surge(&mut ds, max_surge);
    World::new(ds).with_nodes(nodes(0, 5, &[]))
}

#[test]
fn surge_deals_with_existing_pods() {
    let mut w = surge_world(1);
    w.add_pods("node-1", SIMPLE, 1);
    w.add_pods("node-2", SIMPLE, 2);
    w.add_pods("node-3", SIMPLE, 5);
    w.add_pods("node-4", SIMPLE2, 2);
    assert_counts(&w.plan(), 2, 5);
}

#[test]
fn surge_keeps_the_oldest_ready_old_pod_next_to_an_unready_new_one() {
    let mut w = surge_world(1);
    let ds = w.ds.clone();
    w.add_pod(
        pod("node-1-new")
            .on("node-1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(100),
    );
    w.add_pod(
        pod("node-1-old")
            .on("node-1")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(50)
            .ready(),
    );
    w.add_pod(
        pod("node-1-delete")
            .on("node-1")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(60)
            .ready(),
    );
    w.add_pods("node-2", SIMPLE, 1);
    assert_plan(
        &w.plan(),
        &["node-0", "node-3", "node-4"],
        &["node-1-delete"],
    );
}

#[test]
fn surge_deletes_an_unready_old_pod() {
    let mut w = surge_world(1);
    let ds = w.ds.clone();
    w.add_pod(
        pod("node-1-new")
            .on("node-1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(100),
    );
    w.add_pod(
        pod("node-1-old-unready")
            .on("node-1")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(50)
            .unready(),
    );
    w.add_pod(
        pod("node-1-delete")
            .on("node-1")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(60)
            .ready(),
    );
    w.add_pods("node-2", SIMPLE, 1);
    assert_plan(
        &w.plan(),
        &["node-0", "node-3", "node-4"],
        &["node-1-delete", "node-1-old-unready"],
    );
}

fn surge_min_ready_world(now: i64) -> World {
    let mut w = surge_world(1);
    w.ds.spec.as_mut().unwrap().min_ready_seconds = 15;
    w.now = Timestamp::from_seconds(now);
    let ds = w.ds.clone();
    w.add_pod(
        pod("node-1-new")
            .on("node-1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(100)
            .ready_since(50),
    );
    w.add_pod(
        pod("node-1-old-ready")
            .on("node-1")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(50)
            .ready(),
    );
    w.add_pod(
        pod("node-1-delete")
            .on("node-1")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(60)
            .ready(),
    );
    w.add_pods("node-2", SIMPLE, 1);
    w
}

#[test]
fn surge_keeps_the_old_ready_pod_until_the_new_one_is_available() {
    let w = surge_min_ready_world(50 + 10);
    assert_plan(
        &w.plan(),
        &["node-0", "node-3", "node-4"],
        &["node-1-delete"],
    );
}

#[test]
fn surge_deletes_the_old_ready_pod_once_the_new_one_is_available() {
    let w = surge_min_ready_world(50 + 20);
    assert_plan(
        &w.plan(),
        &["node-0", "node-3", "node-4"],
        &["node-1-delete", "node-1-old-ready"],
    );
}

#[test]
fn surge_creates_a_pod_next_to_a_terminating_one_even_at_max_surge() {
    let mut w = surge_world(1);
    let ds = w.ds.clone();
    w.add_pod(
        pod("node-0-new")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds)
            .created_at(100)
            .unready(),
    );
    w.add_pod(
        pod("node-0-old-ready")
            .on("node-0")
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(50)
            .ready(),
    );
    for i in 1..5 {
        let mut b = pod(&format!("node-{i}-preserve"))
            .on(&format!("node-{i}"))
            .labels(SIMPLE)
            .old_of(&ds)
            .created_at(1)
            .ready();
        if i == 4 {
            b = b.deleting();
        }
        w.add_pod(b);
    }
    assert_plan(&w.plan(), &["node-4"], &[]);
}
