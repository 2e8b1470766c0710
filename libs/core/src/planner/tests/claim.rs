//! Ownership: which pods a DaemonSet counts, adopts and releases (Kubernetes'
//! `TestGetNodesToDaemonPods`, `TestDealsWithExistingPods`, orphan adoption).

use super::*;

#[test]
fn matching_owned_and_orphan_pods_count_others_do_not() {
    let ds = daemon("foo");
    let ds2 = daemon("foo2");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 2, &[]));
    // Counted.
    w.add_pod(
        pod("matching-owned-0")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds),
    );
    w.add_pod(pod("matching-orphan-1").on("node-1").labels(SIMPLE));
    // Not counted.
    w.add_pod(
        pod("non-matching-owned-0")
            .on("node-0")
            .labels(SIMPLE2)
            .owned_by(&ds),
    );
    w.add_pod(pod("non-matching-orphan-1").on("node-1").labels(SIMPLE2));
    w.add_pod(
        pod("matching-owned-by-other-0")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds2),
    );
    w.add_pod(
        pod("matching-orphan-being-deleted-1")
            .on("node-1")
            .labels(SIMPLE)
            .deleting(),
    );
    let mut other_ns = pod("matching-orphan-other-namespace")
        .on("node-1")
        .labels(SIMPLE)
        .build();
    other_ns.metadata.as_mut().unwrap().namespace = "kube-system".into();
    w.add_pod(other_ns);

    let p = w.plan();
    assert_plan(&p, &[], &[]);
    let adopted: Vec<&str> = p.adopt.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(adopted, ["matching-orphan-1"]);
    let released: Vec<&str> = p.release.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(released, ["non-matching-owned-0"]);
    assert_eq!(p.release[0].node, "node-0");
    let s = p.status.unwrap();
    assert_eq!(
        (s.desired_number_scheduled, s.current_number_scheduled),
        (2, 2)
    );
}

#[test]
fn adopted_orphan_is_the_nodes_daemon_pod_from_then_on() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 1, &[]));
    w.add_pod(pod("by-hand").on("node-0").labels(SIMPLE).ready());
    let p = w.sync();
    assert_eq!(p.adopt.len(), 1);
    assert_plan(&p, &[], &[]);
    let owner = w.pods[0]
        .metadata
        .as_ref()
        .unwrap()
        .controller_ref()
        .cloned();
    assert_eq!(owner.map(|o| o.uid), Some("uid-foo".to_string()));
    let p = w.plan();
    assert!(p.adopt.is_empty());
    assert_plan(&p, &[], &[]);
}

#[test]
fn relabelled_pod_is_released_and_its_node_gets_a_new_pod() {
    let ds = daemon("foo");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    w.add_pod(pod("relabelled").on("node-0").labels(SIMPLE2).owned_by(&ds));
    let p = w.sync();
    assert_eq!(p.release.len(), 1);
    assert_plan(&p, &["node-0"], &[]);
    assert!(
        w.pods.iter().any(|p| p.name() == "relabelled"),
        "released, not deleted"
    );
}

#[test]
fn overlapping_daemon_sets_do_not_fight_over_owned_pods() {
    let ds = daemon("foo");
    let ds2 = daemon("foo2");
    let mut w = World::new(ds).with_nodes(nodes(0, 1, &[]));
    w.add_pod(pod("theirs").on("node-0").labels(SIMPLE).owned_by(&ds2));
    let p = w.plan();
    assert!(p.adopt.is_empty() && p.release.is_empty());
    assert_plan(&p, &["node-0"], &[]);
}

#[test]
fn adopted_pods_of_another_template_stay_under_on_delete() {
    let mut ds = daemon("foo");
    on_delete(&mut ds);
    let mut w = World::new(ds).with_nodes(nodes(0, 2, &[]));
    w.add_pod(
        pod("old-0")
            .on("node-0")
            .labels(SIMPLE)
            .hash("someoldhash")
            .ready(),
    );
    w.add_pod(
        pod("old-1")
            .on("node-1")
            .labels(SIMPLE)
            .hash("someoldhash")
            .ready(),
    );
    let p = w.sync();
    assert_eq!(p.adopt.len(), 2);
    assert_plan(&p, &[], &[]);
    assert_plan(&w.sync(), &[], &[]);
    assert_eq!(w.status().updated_number_scheduled, 0);
}

#[test]
fn adopted_pods_of_another_template_are_rolled_under_rolling_update() {
    let mut ds = daemon("foo");
    rolling(&mut ds, 1);
    let mut w = World::new(ds).with_nodes(nodes(0, 2, &[]));
    w.add_pod(
        pod("old-0")
            .on("node-0")
            .labels(SIMPLE)
            .hash("someoldhash")
            .ready(),
    );
    w.add_pod(
        pod("old-1")
            .on("node-1")
            .labels(SIMPLE)
            .hash("someoldhash")
            .ready(),
    );
    let p = w.sync();
    assert_eq!(p.adopt.len(), 2);
    assert_counts(&p, 0, 1);
    assert_eq!(p.delete[0].reason, DeleteReason::RollingUpdate);
}

#[test]
fn adopted_pods_of_the_same_template_are_not_restarted() {
    let mut ds = daemon("foo");
    rolling(&mut ds, 1);
    let hash = current_hash(&ds);
    let mut w = World::new(ds).with_nodes(nodes(0, 2, &[]));
    w.add_pod(
        pod("kept-0")
            .on("node-0")
            .labels(SIMPLE)
            .hash(&hash)
            .ready(),
    );
    w.add_pod(
        pod("kept-1")
            .on("node-1")
            .labels(SIMPLE)
            .hash(&hash)
            .ready(),
    );
    let p = w.sync();
    assert_eq!(p.adopt.len(), 2);
    assert_plan(&p, &[], &[]);
    assert_eq!(w.status().updated_number_scheduled, 2);
}
