//! Revision history: creation, reuse, rollback, cleanup, duplicates, collisions, adoption.

use super::*;

fn revision(
    name: &str,
    revision_number: i64,
    hash: Option<&str>,
    data_of: &PodTemplateSpec,
) -> ControllerRevision {
    let mut labels = labels(SIMPLE);
    if let Some(h) = hash {
        labels.insert(CONTROLLER_REVISION_HASH_LABEL.into(), h.into());
    }
    ControllerRevision {
        api_version: "apps/v1".into(),
        kind: "ControllerRevision".into(),
        metadata: Some(ObjectMeta {
            name: name.into(),
            namespace: "default".into(),
            uid: format!("uid-{name}"),
            labels,
            ..Default::default()
        }),
        data: Some(revision_data(data_of)),
        revision: revision_number,
        ..Default::default()
    }
}

fn owned(mut r: ControllerRevision, ds: &DaemonSet) -> ControllerRevision {
    r.metadata.as_mut().unwrap().owner_references = vec![controller_ref(ds)];
    r
}

fn template_with_image(ds: &DaemonSet, image: &str) -> PodTemplateSpec {
    let mut t = template_of(ds).clone();
    t.spec.as_mut().unwrap().containers[0].image = image.into();
    t
}

#[test]
fn first_pass_creates_revision_one_for_the_template() {
    let mut ds = daemon("foo");
    ds.metadata
        .as_mut()
        .unwrap()
        .annotations
        .insert("note".into(), "x".into());
    let w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    let p = w.plan();
    let rev = p.revision.unwrap();
    let created = rev.create.expect("a revision is created");
    let hash = current_hash(&ds);
    assert_eq!(rev.hash, hash);
    assert_eq!(created.name(), format!("foo-{hash}"));
    assert_eq!(rev.current, created.name());
    assert_eq!(created.revision, 1);
    let meta = created.metadata.as_ref().unwrap();
    assert_eq!(meta.labels[CONTROLLER_REVISION_HASH_LABEL], hash);
    assert_eq!(meta.labels["name"], "simple-daemon");
    assert_eq!(meta.annotations["note"], "x");
    assert_eq!(meta.owner_references, vec![controller_ref(&ds)]);
    assert_eq!(created.data, Some(revision_data(template_of(&ds))));
    assert_eq!(
        p.create[0].pod.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL],
        hash
    );
}

#[test]
fn matching_revision_is_reused() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 1, &[]));
    let first = w.sync().revision.unwrap();
    let second = w.plan().revision.unwrap();
    assert!(second.create.is_none() && second.update.is_empty() && second.delete.is_empty());
    assert_eq!(second.current, first.current);
    assert_eq!(second.hash, first.hash);
}

#[test]
fn revision_data_through_a_float_store_still_matches() {
    // Data read back from a protobuf Struct has floating-point numbers.
    let mut ds = daemon("foo");
    pod_spec_mut(&mut ds).termination_grace_period_seconds = Some(30);
    let mut w = World::new(ds).with_nodes(nodes(0, 1, &[]));
    w.sync();
    let data = w.revisions[0].data.as_mut().unwrap();
    data["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = serde_json::json!(30.0);
    assert!(w.plan().revision.unwrap().create.is_none());
}

#[test]
fn template_change_creates_the_next_revision() {
    let mut w = World::new(daemon("foo")).with_nodes(nodes(0, 1, &[]));
    let first = w.sync().revision.unwrap();
    set_image(&mut w.ds, "foo2/bar2");
    let rev = w.plan().revision.unwrap();
    let created = rev.create.unwrap();
    assert_eq!(created.revision, 2);
    assert_ne!(rev.hash, first.hash);
    assert_eq!(rev.hash, current_hash(&w.ds));
}

#[test]
fn rollback_reuses_the_old_revision_and_does_not_restart_its_pods() {
    let mut ds = daemon("foo");
    rolling(&mut ds, 1);
    let mut w = World::new(ds).with_nodes(nodes(0, 3, &[]));
    w.sync();
    w.mark_ready();
    let uid = |p: &Pod| p.metadata.as_ref().unwrap().uid.clone();
    let original: Vec<String> = w.pods.iter().map(uid).collect();
    let original_hash = current_hash(&w.ds);

    // Update: one old pod is replaced; its replacement never gets ready.
    set_image(&mut w.ds, "foo:non-existent");
    assert_counts(&w.sync(), 0, 1);
    assert_counts(&w.sync(), 1, 0);
    assert_counts(&w.sync(), 0, 0);
    assert_eq!(w.revisions.len(), 2);

    // Roll back: the first revision becomes current again, renumbered, no new revision.
    set_image(&mut w.ds, "foo/bar");
    let p = w.plan();
    let rev = p.revision.as_ref().unwrap();
    assert!(rev.create.is_none());
    assert_eq!(rev.hash, original_hash);
    assert_eq!(rev.update.len(), 1);
    assert_eq!(rev.update[0].revision, 3);
    // Only the pod of the abandoned revision is replaced.
    assert_counts(&p, 0, 1);
    w.apply(&p);
    assert_counts(&w.sync(), 1, 0);
    w.mark_ready();
    assert_counts(&w.sync(), 0, 0);
    let survivors = original
        .iter()
        .filter(|u| w.pods.iter().any(|p| uid(p) == **u))
        .count();
    assert_eq!(
        survivors, 2,
        "the pods that kept the original template were not restarted"
    );
    assert_eq!(w.status().updated_number_scheduled, 3);
}

#[test]
fn cleanup_keeps_the_history_limit_and_revisions_pods_still_use() {
    let ds = daemon("foo"); // revisionHistoryLimit 2
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    for (i, image) in ["a", "b", "c", "d"].iter().enumerate() {
        let t = template_with_image(&ds, image);
        let n = i64::try_from(i).unwrap() + 1;
        w.revisions.push(owned(
            revision(&format!("foo-r{n}"), n, Some(&format!("h{n}")), &t),
            &ds,
        ));
    }
    // A pod still runs revision 1.
    w.add_pod(
        pod("p")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds)
            .hash("h1")
            .ready(),
    );
    let rev = w.plan().revision.unwrap();
    let created = rev.create.as_ref().unwrap();
    assert_eq!(created.revision, 5);
    let mut deleted: Vec<&str> = rev.delete.iter().map(|r| r.name.as_str()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["foo-r2", "foo-r3"]);
}

#[test]
fn cleanup_waits_for_expectations() {
    let ds = daemon("foo");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    for n in 1..=4 {
        let t = template_with_image(&ds, &format!("img{n}"));
        w.revisions.push(owned(
            revision(&format!("foo-r{n}"), n, Some(&format!("h{n}")), &t),
            &ds,
        ));
    }
    w.expectations_satisfied = false;
    assert!(w.plan().revision.unwrap().delete.is_empty());
}

#[test]
fn duplicate_current_revisions_keep_the_highest_and_relabel_pods() {
    let mut ds = daemon("foo");
    rolling(&mut ds, 1);
    let t = template_of(&ds).clone();
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 2, &[]));
    w.revisions
        .push(owned(revision("foo-low", 1, Some("low"), &t), &ds));
    w.revisions
        .push(owned(revision("foo-high", 3, Some("high"), &t), &ds));
    w.revisions.push(owned(
        revision(
            "foo-other",
            2,
            Some("other"),
            &template_with_image(&ds, "x"),
        ),
        &ds,
    ));
    w.add_pod(
        pod("a")
            .on("node-0")
            .labels(SIMPLE)
            .owned_by(&ds)
            .hash("low")
            .ready(),
    );
    w.add_pod(
        pod("b")
            .on("node-1")
            .labels(SIMPLE)
            .owned_by(&ds)
            .hash("other")
            .ready(),
    );
    let p = w.plan();
    let rev = p.revision.as_ref().unwrap();
    assert_eq!(
        (rev.current.as_str(), rev.hash.as_str()),
        ("foo-high", "high")
    );
    assert!(rev.create.is_none());
    assert_eq!(
        rev.delete
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["foo-low"]
    );
    assert_eq!(
        rev.relabel_pods
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
    // Pod "a" already counts as up to date; only "b" (another template) is rolled.
    assert_plan(&p, &[], &["b"]);
    assert_eq!(p.status.as_ref().unwrap().updated_number_scheduled, 1);
}

#[test]
fn hash_collision_bumps_the_collision_count() {
    let ds = daemon("foo");
    let taken_name = format!("foo-{}", current_hash(&ds));
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    // Same name, other data, not ours (other labels, no owner).
    let mut squatter = revision(
        &taken_name,
        1,
        Some("x"),
        &template_with_image(&ds, "other"),
    );
    squatter.metadata.as_mut().unwrap().labels = labels(&[("app", "else")]);
    w.revisions.push(squatter);
    let p = w.sync();
    let rev = p.revision.as_ref().unwrap();
    let expected = template_hash(template_of(&ds), Some(1));
    assert_eq!(rev.hash, expected);
    assert_eq!(
        rev.create.as_ref().unwrap().name(),
        format!("foo-{expected}")
    );
    assert_eq!(p.status.as_ref().unwrap().collision_count, Some(1));
    assert_eq!(
        p.create[0].pod.metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL],
        expected
    );
    // The next pass finds its revision and keeps the count.
    let next = w.plan();
    assert!(next.revision.unwrap().create.is_none());
    assert_eq!(next.status.unwrap().collision_count, Some(1));
}

#[test]
fn orphan_revisions_of_the_namespace_are_adopted_others_ignored() {
    let ds = daemon("ds1");
    let t = template_with_image(&ds, "older");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    w.revisions
        .push(owned(revision("ds1-x1", 1, Some("x1"), &t), &ds));
    w.revisions.push(revision("ds1-x2", 2, Some("x2"), &t));
    let mut elsewhere = revision("ds1-x3", 3, Some("x3"), &t);
    elsewhere.metadata.as_mut().unwrap().namespace = "default-other".into();
    w.revisions.push(elsewhere);
    let rev = w.plan().revision.unwrap();
    assert_eq!(
        rev.adopt
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["ds1-x2"]
    );
    // Two old revisions of this namespace count: the new one is revision 3.
    assert_eq!(rev.create.unwrap().revision, 3);
}

#[test]
fn owned_revision_that_no_longer_matches_is_released() {
    let ds = daemon("foo");
    let mut r = owned(
        revision("foo-x", 1, Some("x"), &template_with_image(&ds, "old")),
        &ds,
    );
    r.metadata.as_mut().unwrap().labels = labels(&[("app", "else")]);
    let mut w = World::new(ds).with_nodes(nodes(0, 1, &[]));
    w.revisions.push(r);
    let rev = w.plan().revision.unwrap();
    assert_eq!(
        rev.release
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["foo-x"]
    );
    assert_eq!(rev.create.unwrap().revision, 1);
}

#[test]
fn revision_without_a_hash_label_gets_its_name_as_hash() {
    let ds = daemon("foo");
    let mut w = World::new(ds.clone()).with_nodes(nodes(0, 1, &[]));
    w.revisions.push(owned(
        revision("foo-legacy", 1, None, &template_of(&ds).clone()),
        &ds,
    ));
    let rev = w.plan().revision.unwrap();
    assert!(rev.create.is_none());
    assert_eq!(rev.hash, "foo-legacy");
    assert_eq!(rev.update.len(), 1);
    assert_eq!(
        rev.update[0].metadata.as_ref().unwrap().labels[CONTROLLER_REVISION_HASH_LABEL],
        "foo-legacy"
    );
}

#[test]
fn template_hashes_do_not_change() {
    // Pods carry their template's hash; a different hash for the same template makes every pod
    // of every DaemonSet out of date after an upgrade, and they are all restarted. These values
    // were computed by earlier versions and must stay (libs/api/tests/template_json.rs pins the
    // hashes of the 40 real-world manifests too).
    let ds = daemon("foo");
    assert_eq!(template_hash(template_of(&ds), None), "5b64bb76d9");
    assert_eq!(template_hash(template_of(&ds), Some(1)), "f45cd97fb");
}
