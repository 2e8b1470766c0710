//! Rolling updates: ports of `update_test.go`, with [`World`] playing the executor between
//! passes (Kubernetes' `clearExpectations` + fake pod control).

use super::*;
use crate::scheduling::EFFECT_NO_SCHEDULE;

/// A DaemonSet running and ready on `count` nodes, then updated to a new image.
fn rolled_out(count: usize, configure: impl FnOnce(&mut DaemonSet)) -> World {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, count, &[]));
    assert_counts(&w.sync(), count, 0);
    w.mark_ready();
    set_image(&mut w.ds, "foo2/bar2");
    configure(&mut w.ds);
    w
}

/// Runs passes and checks each `(creates, deletes)`; `ready` marks pods ready after a pass.
#[track_caller]
fn expect_passes(w: &mut World, passes: &[(usize, usize, bool)]) {
    for (i, (creates, deletes, ready)) in passes.iter().enumerate() {
        let p = w.sync();
        assert_eq!(
            (p.create.len(), p.delete.len()),
            (*creates, *deletes),
            "pass {i}: creates on {:?}, deletes {:?}",
            p.create.iter().map(|c| &c.node).collect::<Vec<_>>(),
            p.delete
                .iter()
                .map(|d| (&d.pod.name, d.reason))
                .collect::<Vec<_>>()
        );
        if *ready {
            w.mark_ready();
        }
    }
}

fn all_updated(w: &World) -> bool {
    let hash = current_hash(&w.ds);
    w.pods
        .iter()
        .all(|p| p.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL] == hash)
}

#[test]
fn rolling_update_replaces_max_unavailable_pods_per_step() {
    let mut w = rolled_out(5, |ds| rolling(ds, 2));
    expect_passes(
        &mut w,
        &[
            (0, 2, false),
            (2, 0, true),
            (0, 2, false),
            (2, 0, true),
            (0, 1, false),
            (1, 0, true),
            (0, 0, false),
        ],
    );
    assert!(all_updated(&w));
    let s = w.status();
    assert_eq!((s.updated_number_scheduled, s.number_available), (5, 5));
}

#[test]
fn rolling_update_deletes_are_tagged_as_rolling_update() {
    let mut w = rolled_out(3, |ds| rolling(ds, 1));
    let p = w.sync();
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.delete[0].reason, DeleteReason::RollingUpdate);
}

#[test]
fn rolling_update_with_max_surge_creates_before_deleting() {
    let mut w = rolled_out(5, |ds| surge(ds, 2));
    expect_passes(
        &mut w,
        &[
            (2, 0, false),
            (0, 0, true),
            (2, 2, false),
            (0, 0, true),
            (1, 2, false),
            (0, 0, true),
            (0, 1, false),
            (0, 0, false),
        ],
    );
    assert!(all_updated(&w));
    assert_eq!(w.pods.len(), 5);
}

#[test]
fn surge_moves_pods_off_nodes_no_longer_tolerated_without_losing_availability() {
    let mut ds = daemon("foo");
    surge(&mut ds, 1);
    pod_spec_mut(&mut ds).tolerations = vec![Toleration {
        key: "node-role.kubernetes.io/control-plane".into(),
        operator: "Exists".into(),
        ..Default::default()
    }];
    let mut w = World::new(ds).with_nodes(vec![
        node("node-0")
            .taint(
                "node-role.kubernetes.io/control-plane",
                "",
                EFFECT_NO_SCHEDULE,
            )
            .build(),
    ]);
    w.nodes.extend(nodes(1, 4, &[]));
    assert_counts(&w.sync(), 5, 0);
    w.mark_ready();

    pod_spec_mut(&mut w.ds).tolerations.clear();
    w.ds.metadata.as_mut().unwrap().generation += 1;
    expect_passes(
        &mut w,
        &[
            (1, 1, false),
            (0, 0, true),
            (1, 1, false),
            (0, 0, true),
            (1, 1, false),
            (0, 0, true),
            (1, 1, false),
            (0, 0, true),
            (0, 1, false),
            (0, 0, false),
        ],
    );
    assert!(w.pods_on("node-0").is_empty());
    assert!(all_updated(&w));
    assert_eq!(w.pods.len(), 4);
}

#[test]
fn unready_new_pods_hold_the_rollout() {
    let mut w = rolled_out(5, |ds| rolling(ds, 3));
    expect_passes(&mut w, &[(0, 3, false), (3, 0, false), (0, 0, false)]);
}

#[test]
fn unavailable_old_pods_are_all_replaced_at_once() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 5, &[]));
    assert_counts(&w.sync(), 5, 0);
    set_image(&mut w.ds, "foo2/bar2");
    rolling(&mut w.ds, 3);
    expect_passes(&mut w, &[(0, 5, false), (5, 0, false), (0, 0, false)]);
}

#[test]
fn unavailable_old_pods_are_all_surged_at_once_then_replaced() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 5, &[]));
    assert_counts(&w.sync(), 5, 0);
    set_image(&mut w.ds, "foo2/bar2");
    surge(&mut w.ds, 3);

    // All old pods are unavailable: a new pod next to each, beyond maxSurge.
    w.now = Timestamp::from_seconds(100);
    expect_passes(&mut w, &[(5, 0, false)]);
    // Old pods are not ready: `manage` drops them next to their new pods.
    w.now = Timestamp::from_seconds(200);
    expect_passes(&mut w, &[(0, 5, false)]);

    w.set_readiness(true, 5, |_| true);
    w.ds.spec.as_mut().unwrap().min_ready_seconds = 15;
    set_image(&mut w.ds, "foo3/bar3");

    w.now = Timestamp::from_seconds(300);
    expect_passes(&mut w, &[(3, 0, false)]);

    let hash = current_hash(&w.ds);
    let surged: Vec<String> = w
        .pods
        .iter()
        .filter(|p| p.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL] == hash)
        .map(|p| p.spec.as_ref().unwrap().node_name.clone())
        .collect();
    // Two of the new pods go ready at 300; an old pod on a node without a new one goes unready.
    w.set_readiness(true, 2, |p| {
        p.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL] == hash
    });
    w.set_readiness(false, 1, |p| {
        p.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL] != hash
            && !surged.contains(&p.spec.as_ref().unwrap().node_name)
    });

    // New pods are not available yet (15 s): only the unready old pod gets a replacement.
    w.now = Timestamp::from_seconds(310);
    expect_passes(&mut w, &[(1, 0, false)]);
    // Two new pods are available: their old pods go, the unready old one goes, and the freed
    // surge budget starts the last node.
    w.now = Timestamp::from_seconds(320);
    expect_passes(&mut w, &[(1, 3, false)]);

    w.set_readiness(true, 3, |p| {
        p.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL] == hash
    });
    w.now = Timestamp::from_seconds(340);
    expect_passes(&mut w, &[(0, 2, false)]);
    w.now = Timestamp::from_seconds(350);
    expect_passes(&mut w, &[(0, 0, false)]);
    assert!(all_updated(&w));
}

#[test]
fn some_unready_old_pods_are_replaced_and_healthy_ones_kept() {
    let mut w = rolled_out(5, |ds| rolling(ds, 2));
    expect_passes(&mut w, &[(0, 2, false), (2, 0, false), (0, 0, false)]);
    // Another update while the two new pods are still unready: only those two are replaced.
    set_image(&mut w.ds, "foo2/bar3");
    expect_passes(&mut w, &[(0, 2, false), (2, 0, false), (0, 0, false)]);
    let ready = w.pods.iter().filter(|p| p.is_ready()).count();
    assert_eq!(ready, 3);
}

#[test]
fn repeated_updates_only_touch_the_unavailable_pods() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 20, &[]));
    assert_counts(&w.sync(), 20, 0);
    w.mark_ready();
    set_image(&mut w.ds, "foo2/bar2");
    rolling(&mut w.ds, 10);
    expect_passes(&mut w, &[(0, 10, false), (10, 0, false), (0, 0, false)]);
    let old_ready: Vec<String> = w
        .pods
        .iter()
        .filter(|p| p.is_ready())
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(old_ready.len(), 10);

    // Kubernetes draws maxUnavailable at random in 0..10; any of them only touches the 10
    // unavailable pods.
    for (i, max_unavailable) in [0, 3, 9, 1, 7, 5, 2, 8, 4, 6].into_iter().enumerate() {
        rolling(&mut w.ds, max_unavailable);
        set_image(&mut w.ds, &format!("foo2/bar3-{i}"));
        expect_passes(&mut w, &[(0, 10, false), (10, 0, false), (0, 0, false)]);
        for name in &old_ready {
            assert!(
                w.pods.iter().any(|p| p.name() == name),
                "iteration {i}: {name} was touched"
            );
        }
    }

    rolling(&mut w.ds, 11);
    set_image(&mut w.ds, "foo2/bar4");
    expect_passes(&mut w, &[(0, 11, false), (11, 0, false), (0, 0, false)]);
    assert_eq!(w.pods.iter().filter(|p| p.is_ready()).count(), 9);
}

#[test]
fn strategy_change_without_template_change_moves_no_pod() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 5, &[]));
    assert_counts(&w.sync(), 5, 0);
    rolling(&mut w.ds, 3);
    w.ds.metadata.as_mut().unwrap().generation += 1;
    assert_counts(&w.sync(), 0, 0);
}

#[test]
fn on_delete_never_replaces_pods_for_a_template_change() {
    let mut w = rolled_out(5, on_delete);
    assert_counts(&w.sync(), 0, 0);
    assert_eq!(w.status().updated_number_scheduled, 0);
    assert_eq!(
        w.revisions.len(),
        2,
        "the new revision is recorded all the same"
    );
    // A pod deleted by hand comes back with the new template.
    let gone = w.pods.remove(0);
    let p = w.sync();
    assert_eq!(p.create.len(), 1);
    assert_eq!(p.create[0].node, gone.spec.unwrap().node_name);
    assert_eq!(
        p.create[0].pod.spec.as_ref().unwrap().containers[0].image,
        "foo2/bar2"
    );
}

#[test]
fn expectations_unsatisfied_hold_the_rolling_update() {
    let mut w = rolled_out(5, |ds| rolling(ds, 2));
    w.expectations_satisfied = false;
    assert_counts(&w.plan(), 0, 0);
}

#[test]
fn rollout_limits_follow_kubernetes() {
    // (strategy, desired) → (maxSurge, maxUnavailable), Kubernetes' TestGetUnavailableNumbers.
    let unavailable = |v: IntOrString| {
        let mut ds = daemon("x");
        rolling(&mut ds, v);
        ds
    };
    let surging = |v: IntOrString| {
        let mut ds = daemon("x");
        surge(&mut ds, v);
        ds
    };
    let cases = [
        ("no nodes", unavailable(0.into()), 0, (0, 0)),
        (
            "two nodes, maxUnavailable 1",
            unavailable(1.into()),
            2,
            (0, 1),
        ),
        (
            "two nodes, maxUnavailable 0 becomes 1",
            unavailable(0.into()),
            2,
            (0, 1),
        ),
        (
            "two nodes, surge 0 becomes unavailable 1",
            surging(0.into()),
            2,
            (0, 1),
        ),
        ("50% of 2", unavailable("50%".into()), 2, (0, 1)),
        ("surge 50% of 2", surging("50%".into()), 2, (1, 0)),
        ("surge 100% of 2", surging("100%".into()), 2, (2, 0)),
        ("50% of 3 rounds up", unavailable("50%".into()), 3, (0, 2)),
        ("on delete", daemon("x"), 3, (0, 1)),
    ];
    for (name, ds, desired, (max_surge, max_unavailable)) in cases {
        let limits = rollout_limits(&ds, desired).unwrap();
        assert_eq!(
            (limits.max_surge, limits.max_unavailable),
            (max_surge, max_unavailable),
            "{name}"
        );
    }
    let bad = unavailable("ten".into());
    assert!(rollout_limits(&bad, 3).is_err());
    assert!(allows_surge(&surging("1%".into())));
    assert!(!allows_surge(&unavailable(1.into())));
}

#[test]
fn invalid_max_unavailable_skips_the_rolling_update_with_a_warning() {
    let mut w = rolled_out(3, |ds| rolling(ds, "ten"));
    let p = w.sync();
    assert_counts(&p, 0, 0);
    assert_eq!(p.events[0].reason, REASON_INVALID_ROLLING_UPDATE);
}

#[test]
fn terminating_pods_count_as_unavailable_nodes() {
    // Three nodes, 50% → 2 allowed; a terminating pod makes its node unavailable.
    let mut ds = daemon("foo");
    rolling(&mut ds, "50%");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 3, &[]));
    w.add_pod(
        pod("p0")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds)
            .hash("old")
            .ready(),
    );
    w.add_pod(
        pod("p1")
            .on("node-1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .hash("old")
            .ready()
            .deleting(),
    );
    w.add_pod(
        pod("p2")
            .on("node-2")
            .labels(SIMPLE)
            .owned_by(&ds)
            .hash("old")
            .ready(),
    );
    let p = w.plan();
    assert_counts(&p, 0, 1);
}
