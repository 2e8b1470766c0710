//! One reconcile at a time against caches filled directly and a recording fake of the effects
//! (Kubernetes' `syncAndValidateDaemonSets`): after one sync, exactly these creates, deletes,
//! owner changes, revision writes and status writes — for every rule of the reconcile.

use everynode_core::model::DaemonSetStatus;
use everynode_core::planner::controller_ref;

use super::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use crate::agents::{CommandError, Outcome, PodCommand};
use crate::effects::RevisionWrite;
use crate::testing::*;

fn three_nodes() -> Vec<everynode_core::model::Node> {
    vec![
        node("n1", &[("disk", "ssd")]),
        node("n2", &[]),
        node("n3", &[("disk", "ssd")]),
    ]
}

fn key_of(ds: &everynode_core::model::DaemonSet) -> everynode_bus::DaemonSetKey {
    everynode_bus::DaemonSetKey::new(ds.namespace(), ds.name()).unwrap()
}

// -- manage: creates and deletes ------------------------------------------------------------

#[tokio::test]
async fn a_new_daemonset_gets_one_pod_on_every_node() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds);

    bed.sync(&ds).await.unwrap();

    assert_eq!(bed.fake.created_on(), ["n1", "n2", "n3"]);
    assert!(bed.fake.deleted().is_empty());
    let created = bed.fake.created();
    let mut uids: Vec<&str> = created
        .iter()
        .map(|p| p.metadata.as_ref().unwrap().uid.as_str())
        .collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 3, "each pod gets its own uid: {uids:?}");
    for pod in &created {
        let meta = pod.metadata.as_ref().unwrap();
        assert!(meta.creation_timestamp.is_some(), "{}", meta.name);
        assert_eq!(meta.controller_ref().unwrap().uid, "uid-logs");
        assert!(meta.name.starts_with("logs-"), "{}", meta.name);
    }
    assert_eq!(
        bed.term.expectations.pending(&key_of(&ds)),
        (3, 0),
        "creates are expected before they are observed"
    );
}

#[tokio::test]
async fn nodes_that_do_not_match_the_node_selector_get_no_pod() {
    let ds = with_node_selector(daemon_set("ssd"), &[("disk", "ssd")]);
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds);

    bed.sync(&ds).await.unwrap();

    assert_eq!(bed.fake.created_on(), ["n1", "n3"]);
}

#[tokio::test]
async fn a_pod_on_a_node_that_no_longer_matches_is_deleted() {
    let ds = with_node_selector(daemon_set("ssd"), &[("disk", "ssd")]);
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds).pods([
        pod_of(&ds, "n1"),
        pod_of(&ds, "n2"),
        pod_of(&ds, "n3"),
    ]);

    bed.sync(&ds).await.unwrap();

    assert!(bed.fake.created_on().is_empty());
    assert_eq!(bed.fake.deleted(), ["ssd-n2@n2"]);
    assert_eq!(bed.term.expectations.pending(&key_of(&ds)), (0, 1));
}

#[tokio::test]
async fn every_command_carries_the_lease_term_of_its_term() {
    let ds = with_node_selector(daemon_set("ssd"), &[("disk", "ssd")]);
    let mut bed = Bed::new();
    bed.nodes(three_nodes())
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n2")]);

    bed.sync(&ds).await.unwrap();

    let fences = bed.fake.fences();
    assert_eq!(fences.len(), 3, "two creates and a delete");
    assert!(
        fences.iter().all(|f| *f == crate::testing::TEST_FENCE),
        "{fences:?}"
    );
}

fn commands(calls: Vec<Call>) -> Vec<Call> {
    calls
        .into_iter()
        .filter(|c| matches!(c, Call::Command(_)))
        .collect()
}

#[tokio::test]
async fn no_second_pod_is_created_before_the_first_is_observed() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds);

    bed.sync(&ds).await.unwrap();
    let first = commands(bed.fake.take());
    assert_eq!(first.len(), 3);
    // The agents have not reported the pods yet: the expectations hold the DaemonSet back.
    bed.sync(&ds).await.unwrap();
    let early = commands(bed.fake.take());
    assert!(early.is_empty(), "{early:?}");

    // The pods show up in KV `pods`: the expectations are met and nothing more is needed.
    bed.apply(&first);
    assert_eq!(bed.term.expectations.pending(&key_of(&ds)), (0, 0));
    bed.sync(&ds).await.unwrap();
    assert!(
        commands(bed.fake.calls()).is_empty(),
        "{:?}",
        bed.fake.calls()
    );
    let status = bed.fake.statuses().pop().unwrap();
    assert_eq!(status.current_number_scheduled, 3, "{status:?}");
}

#[tokio::test]
async fn extra_pods_on_one_node_are_deleted_and_the_oldest_is_kept() {
    let ds = daemon_set("logs");
    let old = pod_of(&ds, "n1");
    let mut young = named(pod_of(&ds, "n1"), "logs-young");
    young.metadata.as_mut().unwrap().creation_timestamp = Some(
        everynode_core::model::Timestamp::from_seconds(1_700_000_500),
    );
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([old, young]);

    bed.sync(&ds).await.unwrap();

    assert!(bed.fake.created_on().is_empty());
    assert_eq!(bed.fake.deleted(), ["logs-young@n1"]);
}

#[tokio::test]
async fn a_failed_pod_is_deleted_and_its_node_backs_off() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([in_phase(pod_of(&ds, "n1"), "Failed")]);

    bed.sync(&ds).await.unwrap();

    assert_eq!(bed.fake.deleted(), ["logs-n1@n1"]);
    assert!(bed.fake.created_on().is_empty(), "replaced in a later pass");
    let backoff = bed.term.backoff_of("uid-logs");
    assert_eq!(backoff.len(), 1, "{backoff:?}");
}

#[tokio::test]
async fn a_replacement_that_fails_again_waits_for_the_back_off_of_its_node() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([in_phase(pod_of(&ds, "n1"), "Failed")]);
    // Pass 1 deletes the failed pod and starts the node's back-off; pass 2 replaces it.
    bed.sync(&ds).await.unwrap();
    let deleted = bed.fake.take();
    bed.apply(&deleted);
    bed.sync(&ds).await.unwrap();
    let created = bed.fake.take();
    assert_eq!(commands(created.clone()).len(), 1, "{created:?}");
    bed.apply(&created);
    let replacement = bed.created_name(&created);
    // The replacement crashes too.
    let failed = in_phase(bed.pod(&replacement), "Failed");
    bed.pods([failed]);

    let requeue = bed.sync(&ds).await.unwrap();

    assert!(
        bed.fake.deleted().is_empty(),
        "the failed pod stays while n1 backs off: {:?}",
        bed.fake.calls()
    );
    let after = requeue.expect("a re-queue when the back-off ends");
    assert!(after > std::time::Duration::ZERO && after <= std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn a_terminating_pod_is_not_deleted_again() {
    let ds = with_node_selector(daemon_set("ssd"), &[("disk", "ssd")]);
    let mut bed = Bed::new();
    bed.nodes(three_nodes())
        .daemon_set(&ds)
        .pods([terminating(pod_of(&ds, "n2"))]);

    bed.sync(&ds).await.unwrap();

    assert!(bed.fake.deleted().is_empty());
    assert_eq!(bed.fake.created_on(), ["n1", "n3"]);
}

// -- manage: command failures ----------------------------------------------------------------

#[tokio::test]
async fn a_refused_create_stops_the_slow_start_and_releases_the_expectations() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    let nodes: Vec<_> = (0..10).map(|i| node(&format!("n{i:02}"), &[])).collect();
    bed.nodes(nodes).daemon_set(&ds);
    for i in 0..10 {
        bed.fake.answer(&format!("n{i:02}"), Outcome::Rejected);
    }

    let error = bed.sync(&ds).await.unwrap_err();

    assert_eq!(
        bed.fake.created_on().len(),
        1,
        "the first batch has one pod; the failure skips the rest"
    );
    assert!(error.to_string().contains("create of pod"), "{error}");
    assert_eq!(
        bed.term.expectations.pending(&key_of(&ds)),
        (0, 0),
        "failed and skipped creates are not waited for"
    );
}

#[tokio::test]
async fn a_create_refused_because_the_name_is_taken_has_the_pods_read_again() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), node("n2", &[])])
        .daemon_set(&ds);
    bed.fake.answer("n1", Outcome::Rejected);

    let error = bed.sync(&ds).await.unwrap_err();
    assert!(error.to_string().contains("REJECTED"), "{error}");
    assert_eq!(
        bed.deps.world.pods.relists_asked(),
        0,
        "a plain refusal says nothing about the cache"
    );

    bed.fake.answer("n1", Outcome::NameTaken);
    let error = bed.sync(&ds).await.unwrap_err();
    assert!(error.to_string().contains("NAME_TAKEN"), "{error}");
    assert_eq!(
        bed.deps.world.pods.relists_asked(),
        1,
        "the node runs a pod the cache lacks: the pods are listed again"
    );
}

#[tokio::test]
async fn a_node_without_an_agent_does_not_hold_the_others_back() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds);
    bed.fake.unreachable(
        "n1",
        CommandError::NoAgent {
            node: "n1".to_string(),
        },
    );

    let error = bed.sync(&ds).await.unwrap_err();

    assert_eq!(bed.fake.created_on(), ["n1", "n2", "n3"]);
    assert!(error.to_string().contains("n1"), "{error}");
    assert_eq!(
        bed.term.expectations.pending(&key_of(&ds)),
        (2, 0),
        "only the delivered creates are waited for"
    );
}

#[tokio::test]
async fn a_delete_of_a_pod_already_gone_is_not_waited_for() {
    let ds = with_node_selector(daemon_set("ssd"), &[("disk", "ssd")]);
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds).pods([
        pod_of(&ds, "n1"),
        pod_of(&ds, "n2"),
        pod_of(&ds, "n3"),
    ]);
    bed.fake.answer("n2", Outcome::NotFound);

    bed.sync(&ds).await.unwrap();

    assert_eq!(bed.fake.deleted(), ["ssd-n2@n2"]);
    assert_eq!(bed.term.expectations.pending(&key_of(&ds)), (0, 0));
}

#[tokio::test]
async fn a_failed_delete_fails_the_sync_for_a_retry() {
    let ds = with_node_selector(daemon_set("ssd"), &[("disk", "ssd")]);
    let mut bed = Bed::new();
    bed.nodes(three_nodes())
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n2")]);
    bed.fake.unreachable(
        "n2",
        CommandError::NoAgent {
            node: "n2".to_string(),
        },
    );

    let error = bed.sync(&ds).await.unwrap_err();

    assert!(error.to_string().contains("delete of pod"), "{error}");
    assert_eq!(bed.term.expectations.pending(&key_of(&ds)).1, 0);
}

// -- manage: adoption and release -------------------------------------------------------------

#[tokio::test]
async fn a_matching_orphan_is_adopted_instead_of_a_new_pod() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), node("n2", &[])])
        .daemon_set(&ds)
        .pods([orphaned(pod_of(&ds, "n1"))]);

    bed.sync(&ds).await.unwrap();

    assert_eq!(
        bed.fake.owner_changes(),
        [("logs-n1".to_string(), vec!["uid-logs".to_string()])]
    );
    assert_eq!(bed.fake.created_on(), ["n2"], "n1 has its adopted pod");
    let first = bed.fake.calls().into_iter().next();
    assert!(
        matches!(first, Some(Call::Command(PodCommand::SetOwners { .. }))),
        "adoption comes first: {first:?}"
    );
}

#[tokio::test]
async fn a_failed_adoption_aborts_the_pass() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), node("n2", &[])])
        .daemon_set(&ds)
        .pods([orphaned(pod_of(&ds, "n1"))]);
    bed.fake.unreachable(
        "n1",
        CommandError::NoAgent {
            node: "n1".to_string(),
        },
    );

    let error = bed.sync(&ds).await.unwrap_err();

    assert!(error.to_string().contains("owner change"), "{error}");
    assert!(bed.fake.created_on().is_empty(), "nothing else happens");
    assert!(bed.fake.statuses().is_empty());
}

#[tokio::test]
async fn an_owned_pod_whose_labels_no_longer_match_is_released() {
    let ds = daemon_set("logs");
    let mut stray = pod_of(&ds, "n1");
    stray
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .insert("app".into(), "other".into());
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])]).daemon_set(&ds).pods([stray]);

    bed.sync(&ds).await.unwrap();

    assert_eq!(
        bed.fake.owner_changes(),
        [("logs-n1".to_string(), Vec::<String>::new())]
    );
}

// -- manage: revisions and status -------------------------------------------------------------

#[tokio::test]
async fn the_first_sync_records_the_current_revision() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])]).daemon_set(&ds);

    bed.sync(&ds).await.unwrap();

    let writes = bed.fake.revision_writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (key, RevisionWrite::Create(revision)) = &writes[0] else {
        panic!("expected a create: {writes:?}");
    };
    let meta = revision.metadata.as_ref().unwrap();
    assert_eq!(key, &format!("default/{}", meta.name));
    assert!(!meta.uid.is_empty());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.controller_ref().unwrap().uid, "uid-logs");
    assert_eq!(revision.revision, 1);
}

#[tokio::test]
async fn a_revision_created_by_an_earlier_pass_is_not_an_error() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1")]);
    bed.sync(&ds).await.unwrap();
    let (key, _) = bed.fake.revision_writes().remove(0);
    bed.fake.take();
    // The write of the first pass is not in the cache yet: the second pass creates it again
    // and finds the key taken.
    bed.fake.revision_conflict(&key);

    bed.sync(&ds).await.unwrap();

    assert!(matches!(
        bed.fake.revision_writes().as_slice(),
        [(k, RevisionWrite::Create(_))] if *k == key
    ));
}

#[tokio::test]
async fn an_orphan_revision_of_the_daemonset_is_adopted() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1")]);
    // Record the current revision the way the first sync writes it, then orphan it.
    bed.sync(&ds).await.unwrap();
    let (_, RevisionWrite::Create(mut current)) = bed.fake.revision_writes().remove(0) else {
        panic!("no revision created");
    };
    bed.fake.take();
    current.metadata.as_mut().unwrap().owner_references.clear();
    let name = current.metadata.as_ref().unwrap().name.clone();
    bed.revisions([current]);

    bed.sync(&ds).await.unwrap();

    let writes = bed.fake.revision_writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let (key, RevisionWrite::Update(adopted, at)) = &writes[0] else {
        panic!("expected an update: {writes:?}");
    };
    assert_eq!(key, &format!("default/{name}"));
    assert_ne!(*at, 0, "compare-and-set on the cached revision");
    let owner = adopted.metadata.as_ref().unwrap().controller_ref().unwrap();
    assert_eq!(owner.uid, "uid-logs");

    // Changed meanwhile: the write loses and the pass is retried on the fresh state.
    bed.fake.take();
    bed.fake.revision_conflict(key);
    let error = bed.sync(&ds).await.unwrap_err();
    assert!(error.to_string().contains("modified"), "{error}");
}

#[tokio::test]
async fn the_status_is_written_when_it_changed_and_only_then() {
    let mut ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes(three_nodes()).daemon_set(&ds).pods([
        pod_of(&ds, "n1"),
        pod_of(&ds, "n2"),
        pod_of(&ds, "n3"),
    ]);

    bed.sync(&ds).await.unwrap();
    let statuses = bed.fake.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    let status = statuses[0].clone();
    assert_eq!(status.desired_number_scheduled, 3);
    assert_eq!(status.current_number_scheduled, 3);
    assert_eq!(status.number_ready, 3);
    assert_eq!(status.observed_generation, 1);

    // Stored: the next pass writes nothing.
    ds.status = Some(status);
    bed.daemon_set(&ds);
    bed.fake.take();
    bed.sync(&ds).await.unwrap();
    let statuses = bed.fake.statuses();
    assert!(statuses.is_empty(), "{statuses:?}");
}

#[tokio::test]
async fn a_refused_status_write_fails_the_sync() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1")]);
    bed.fake.status_fails();

    let error = bed.sync(&ds).await.unwrap_err();

    assert!(error.to_string().contains("UpdateStatus"), "{error}");
}

#[tokio::test]
async fn pods_on_a_node_that_is_not_ready_count_as_unavailable() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), not_ready(node("n2", &[]))])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1"), pod_of(&ds, "n2")]);

    bed.sync(&ds).await.unwrap();

    let status: DaemonSetStatus = bed.fake.statuses().remove(0);
    assert_eq!(status.desired_number_scheduled, 2);
    assert_eq!(status.number_ready, 1, "{status:?}");
    assert_eq!(status.number_unavailable, 1, "{status:?}");
    assert!(bed.fake.deleted().is_empty(), "the pod keeps running");
}

// -- dependents of a gone DaemonSet ---------------------------------------------------------

#[tokio::test]
async fn the_pods_and_revisions_of_a_deleted_daemonset_are_deleted() {
    let ds = daemon_set("logs");
    let owner = controller_ref(&ds);
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), node("n2", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1"), pod_of(&ds, "n2")])
        .revisions([revision("logs-abc", Some(&owner), 1)]);
    bed.remove_daemon_set(&ds);

    bed.sync(&ds).await.unwrap();

    assert_eq!(bed.fake.deleted(), ["logs-n1@n1", "logs-n2@n2"]);
    let writes = bed.fake.revision_writes();
    assert!(
        matches!(writes.as_slice(), [(key, RevisionWrite::Delete(_))] if key == "default/logs-abc"),
        "{writes:?}"
    );
    assert!(bed.fake.created_on().is_empty());
    assert!(bed.fake.statuses().is_empty());
}

#[tokio::test]
async fn a_deleted_daemonset_leaves_no_expectations_behind() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])]).daemon_set(&ds);
    bed.sync(&ds).await.unwrap();
    assert_eq!(bed.term.expectations.pending(&key_of(&ds)), (1, 0));
    bed.remove_daemon_set(&ds);

    bed.sync(&ds).await.unwrap();

    assert_eq!(bed.term.expectations.pending(&key_of(&ds)), (0, 0));
}

#[tokio::test]
async fn a_recreated_daemonset_deletes_the_pods_of_its_previous_incarnation_only() {
    let old = daemon_set("logs");
    let mut new = daemon_set("logs");
    new.metadata.as_mut().unwrap().uid = "uid-logs-2".into();
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), node("n2", &[])])
        .daemon_set(&new)
        .pods([
            named(pod_of(&old, "n1"), "logs-old"),
            named(pod_of(&new, "n2"), "logs-new"),
        ]);

    bed.sync(&new).await.unwrap();

    assert_eq!(bed.fake.deleted(), ["logs-old@n1"]);
    // n1 is free once the old pod is gone; n2 keeps its pod.
    assert_eq!(bed.fake.created_on(), ["n1"]);
}

#[tokio::test]
async fn nothing_is_deleted_while_the_store_still_holds_the_owner() {
    let ds = daemon_set("logs");
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1")]);
    bed.remove_daemon_set(&ds);
    // The DaemonSet cache lags behind KV: it is still stored with this uid.
    bed.fake.store_daemon_set("default/logs", "uid-logs");

    bed.sync(&ds).await.unwrap();

    assert!(bed.fake.calls().is_empty(), "{:?}", bed.fake.calls());
}

// -- deletion finalizers ------------------------------------------------------------------------

#[tokio::test]
async fn orphan_deletion_releases_pods_and_revisions_then_removes_its_finalizer() {
    let ds = being_deleted(daemon_set("logs"), ORPHAN_FINALIZER);
    let owner = controller_ref(&ds);
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1")])
        .revisions([revision("logs-abc", Some(&owner), 1)]);

    let requeue = bed.sync(&ds).await.unwrap();

    assert_eq!(
        bed.fake.owner_changes(),
        [("logs-n1".to_string(), Vec::<String>::new())]
    );
    let writes = bed.fake.revision_writes();
    let [(_, RevisionWrite::Update(released, _))] = writes.as_slice() else {
        panic!("expected one revision update: {writes:?}");
    };
    assert!(
        released
            .metadata
            .as_ref()
            .unwrap()
            .owner_references
            .is_empty()
    );
    assert!(bed.fake.deleted().is_empty(), "orphaned pods keep running");
    assert!(
        requeue.is_some(),
        "looks again until the dependents are released"
    );
    assert!(
        !bed.fake
            .calls()
            .iter()
            .any(|c| matches!(c, Call::RemoveFinalizer(..)))
    );

    // Released: nothing depends on the DaemonSet any more.
    bed.fake.take();
    bed.pods([orphaned(pod_of(&ds, "n1"))])
        .revisions([revision("logs-abc", None, 1)]);
    assert_eq!(bed.sync(&ds).await.unwrap(), None);
    assert_eq!(
        bed.fake.calls(),
        [Call::RemoveFinalizer(
            "default/logs".into(),
            ORPHAN_FINALIZER.into()
        )]
    );
}

#[tokio::test]
async fn foreground_deletion_deletes_the_dependents_then_removes_its_finalizer() {
    let ds = being_deleted(daemon_set("logs"), FOREGROUND_FINALIZER);
    let owner = controller_ref(&ds);
    let mut bed = Bed::new();
    bed.nodes([node("n1", &[]), node("n2", &[])])
        .daemon_set(&ds)
        .pods([pod_of(&ds, "n1"), terminating(pod_of(&ds, "n2"))])
        .revisions([revision("logs-abc", Some(&owner), 1)]);

    assert!(bed.sync(&ds).await.unwrap().is_some());
    assert_eq!(
        bed.fake.deleted(),
        ["logs-n1@n1"],
        "a pod already terminating is not deleted again"
    );
    assert!(matches!(
        bed.fake.revision_writes().as_slice(),
        [(_, RevisionWrite::Delete(_))]
    ));

    bed.fake.take();
    bed.remove_pod("logs-n1")
        .remove_pod("logs-n2")
        .remove_revision("default/logs-abc");
    assert_eq!(bed.sync(&ds).await.unwrap(), None);
    assert_eq!(
        bed.fake.calls(),
        [Call::RemoveFinalizer(
            "default/logs".into(),
            FOREGROUND_FINALIZER.into()
        )]
    );
}
