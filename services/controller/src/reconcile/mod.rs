//! One reconcile of one DaemonSet key: gather → plan → execute → status.
//!
//! 1. **Dependents of a gone DaemonSet** (background deletion): pods and revisions whose
//!    controller reference names this key with a uid that is not live (the DaemonSet was
//!    deleted, or deleted and recreated) are deleted. KV `daemonsets` is read to confirm the
//!    uid is really gone before anything is deleted.
//! 2. **A DaemonSet being deleted** does nothing but its finalizer's work: `orphan` strips its
//!    controller reference from its pods and revisions (the pods keep running), then removes
//!    the finalizer; `foregroundDeletion` deletes its pods and revisions, waits until they are
//!    gone, then removes the finalizer. Admission removes the object with its last finalizer.
//! 3. Otherwise: **gather** the DaemonSet, the nodes, its pods and the orphans it may adopt,
//!    its revisions, its back-off and whether its expectations are satisfied — from the caches,
//!    without copying nodes or owned pods; **plan** with the pure planner; **execute**:
//!    adoptions and releases (a failure aborts the pass), revision writes, creates in slow-start
//!    batches and deletes (expectations recorded first), back-off entries; **status** through
//!    admission, only when it differs from the stored one. The plan's `requeue_after` becomes
//!    a delayed re-queue.

use everynode_core::model::Timestamp;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everynode_bus::{DaemonSetKey, ErrorKind, RevisionKey};
use everynode_core::labels::Selector;
use everynode_core::model::{ControllerRevision, DaemonSet, OwnerReference, Pod};
use everynode_core::planner::{
    EventType, Plan, PlanInput, PodRef, PodToCreate, PodToDelete, RevisionPlan,
    SLOW_START_INITIAL_BATCH, controller_ref, plan,
};
use tokio::time::Instant;

use crate::agents::{CommandError, Outcome, PodCommand, PodTarget};
use crate::effects::{Effects, RevisionWrite};
use crate::error::Error;
use crate::executor::{self, Attempt, slow_start};
use crate::term::{Deps, Term};

/// Finalizer of a foreground deletion (Kubernetes' garbage collector).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer of an orphan deletion.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// How soon a DaemonSet waiting for its finalizer's work is looked at again (pod events
/// usually come first).
const FINALIZER_RECHECK: Duration = Duration::from_secs(1);

/// Reconciles `key`; returns when to look again without news.
pub async fn sync<E: Effects>(
    deps: &Deps<E>,
    term: &Term,
    key: &DaemonSetKey,
) -> Result<Option<Duration>, Error> {
    let ds = deps.world.daemonsets.read(|c| c.get(key));
    let live_uid = ds.as_deref().map(uid_of).map(str::to_string);
    delete_dependents_of_gone(deps, term.fence, key, live_uid.as_deref()).await?;
    let Some(ds) = ds else {
        term.expectations.forget(key);
        return Ok(None);
    };
    if ds.metadata.as_ref().is_some_and(|m| m.is_being_deleted()) {
        return finalize(deps, term.fence, &ds).await;
    }
    manage(deps, term, key, &ds).await
}

fn uid_of(ds: &DaemonSet) -> &str {
    ds.metadata.as_ref().map_or("", |m| m.uid.as_str())
}

fn name_of(key: &DaemonSetKey) -> String {
    format!("{}/{}", key.namespace(), key.name())
}

/// Sends the deletes; returns the failures (a pod already gone is not one). `on_settled` is
/// called for every pod whose delete leaves nothing to wait for (failed, or not found).
async fn send_deletes<E: Effects>(
    deps: &Deps<E>,
    fence: u64,
    targets: Vec<PodTarget>,
    on_settled: impl Fn(&PodTarget) + Sync,
) -> Vec<String> {
    let results = executor::all(targets, deps.settings.command_concurrency, |d| async move {
        deps.effects
            .command(
                fence,
                PodCommand::Delete {
                    pod: d,
                    grace_period_seconds: None,
                },
            )
            .await
    })
    .await;
    let mut failures = Vec::new();
    for (d, result) in results {
        match result {
            Ok(reply) => match reply.outcome {
                Outcome::Deleted => {}
                Outcome::NotFound => on_settled(&d),
                _ => {
                    on_settled(&d);
                    failures.push(format!("delete of pod {d}: {}", reply.message));
                }
            },
            Err(e) => {
                on_settled(&d);
                failures.push(format!("delete of pod {d}: {e}"));
            }
        }
    }
    failures
}

fn failures_to_result(failures: Vec<String>) -> Result<(), Error> {
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(Error::Commands {
            failed: failures.len(),
            first: first.clone(),
        }),
    }
}

/// Step 1: deletes the pods and revisions of earlier incarnations of `key`.
async fn delete_dependents_of_gone<E: Effects>(
    deps: &Deps<E>,
    fence: u64,
    key: &DaemonSetKey,
    live_uid: Option<&str>,
) -> Result<(), Error> {
    let (namespace, name) = (key.namespace(), key.name());
    let mut gone = deps.world.pods.read(|c| c.owner_uids(namespace, name));
    gone.extend(deps.world.revisions.read(|c| c.owner_uids(namespace, name)));
    gone.sort();
    gone.dedup();
    gone.retain(|uid| Some(uid.as_str()) != live_uid);
    gone.retain(|uid| !deps.world.daemonsets.read(|c| c.has_uid(uid)));
    if gone.is_empty() {
        return Ok(());
    }
    // The cache may lag: only what KV confirms is gone is garbage.
    if let Some(stored_uid) = deps.effects.stored_daemon_set_uid(key).await? {
        gone.retain(|uid| *uid != stored_uid);
    }
    let mut failures = Vec::new();
    for uid in gone {
        let deletions: Vec<PodTarget> = deps
            .world
            .pods
            .read(|c| c.owned(&uid))
            .map(|pods| {
                pods.iter()
                    .filter(|p| !p.metadata.as_ref().is_some_and(|m| m.is_being_deleted()))
                    .filter_map(PodTarget::of_pod)
                    .collect()
            })
            .unwrap_or_default();
        if !deletions.is_empty() {
            tracing::info!(
                daemonset = %name_of(key),
                uid = %uid,
                pods = deletions.len(),
                "deleting the pods of a deleted DaemonSet"
            );
        }
        failures.extend(send_deletes(deps, fence, deletions, |_| {}).await);
        let revisions = deps.world.revisions.read(|c| c.owned_by(namespace, &uid));
        for (revision_key, _, revision) in revisions {
            delete_revision(deps, &revision_key, revision).await?;
        }
    }
    failures_to_result(failures)
}

async fn delete_revision<E: Effects>(
    deps: &Deps<E>,
    key: &RevisionKey,
    revision: u64,
) -> Result<(), Error> {
    match deps
        .effects
        .write_revision(key, RevisionWrite::Delete(revision))
        .await
    {
        Ok(()) => Ok(()),
        // Changed meanwhile: the next pass sees the new version.
        Err(e) if e.kind() == ErrorKind::Conflict => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Step 2: the work of a deletion finalizer.
async fn finalize<E: Effects>(
    deps: &Deps<E>,
    fence: u64,
    ds: &DaemonSet,
) -> Result<Option<Duration>, Error> {
    let Some(meta) = ds.metadata.as_ref() else {
        return Ok(None);
    };
    let has = |f: &str| meta.finalizers.iter().any(|x| x == f);
    let finalizer = if has(ORPHAN_FINALIZER) {
        ORPHAN_FINALIZER
    } else if has(FOREGROUND_FINALIZER) {
        FOREGROUND_FINALIZER
    } else {
        return Ok(None);
    };
    let uid = meta.uid.as_str();
    let namespace = meta.namespace.as_str();
    let pods: Arc<Vec<Pod>> = deps.world.pods.read(|c| c.owned(uid)).unwrap_or_default();
    let revisions = deps.world.revisions.read(|c| c.owned_by(namespace, uid));
    if pods.is_empty() && revisions.is_empty() {
        deps.effects.remove_finalizer(ds, finalizer).await?;
        tracing::info!(daemonset = %format!("{namespace}/{}", meta.name), finalizer, "dependents done; finalizer removed");
        return Ok(None);
    }
    let mut failures = Vec::new();
    if finalizer == ORPHAN_FINALIZER {
        let releases: Vec<(PodTarget, Vec<OwnerReference>)> = pods
            .iter()
            .filter_map(|pod| {
                let target = PodTarget::of_pod(pod)?;
                Some((target, without_owner(pod, uid)))
            })
            .collect();
        failures.extend(set_owners(deps, fence, releases).await);
        for (key, revision, at) in revisions {
            let mut released = ControllerRevision::clone(&revision);
            if let Some(m) = released.metadata.as_mut() {
                m.owner_references.retain(|r| r.uid != uid);
            }
            write_revision(deps, &key, &released, Some(at)).await?;
        }
    } else {
        let deletions: Vec<PodTarget> = pods
            .iter()
            .filter(|p| !p.metadata.as_ref().is_some_and(|m| m.is_being_deleted()))
            .filter_map(PodTarget::of_pod)
            .collect();
        failures.extend(send_deletes(deps, fence, deletions, |_| {}).await);
        for (key, _, at) in revisions {
            delete_revision(deps, &key, at).await?;
        }
    }
    failures_to_result(failures)?;
    Ok(Some(FINALIZER_RECHECK))
}

/// The owner references of `pod` without those naming `uid`.
fn without_owner(pod: &Pod, uid: &str) -> Vec<OwnerReference> {
    pod.metadata
        .as_ref()
        .map(|m| {
            m.owner_references
                .iter()
                .filter(|r| r.uid != uid)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `set_owner` commands; returns the failures.
async fn set_owners<E: Effects>(
    deps: &Deps<E>,
    fence: u64,
    changes: Vec<(PodTarget, Vec<OwnerReference>)>,
) -> Vec<String> {
    let results = executor::all(
        changes,
        deps.settings.command_concurrency,
        |(pod, owners)| async move {
            deps.effects
                .command(fence, PodCommand::SetOwners { pod, owners })
                .await
        },
    )
    .await;
    let mut failures = Vec::new();
    for ((pod, _), result) in results {
        match result {
            Ok(reply) => match reply.outcome {
                Outcome::Updated | Outcome::AlreadyExists => {}
                other => failures.push(format!(
                    "owner change of pod {pod}: {} {}",
                    other.as_str_name(),
                    reply.message
                )),
            },
            Err(e) => failures.push(format!("owner change of pod {pod}: {e}")),
        }
    }
    failures
}

/// The pods the planner sees: the owned group as shared, or (while orphans wait to be adopted)
/// a copy with the orphans added.
enum Pods {
    Shared(Arc<Vec<Pod>>),
    Copied(Vec<Pod>),
}

impl Pods {
    fn as_slice(&self) -> &[Pod] {
        match self {
            Pods::Shared(pods) => pods,
            Pods::Copied(pods) => pods,
        }
    }
}

/// Step 3: gather, plan, execute, status.
async fn manage<E: Effects>(
    deps: &Deps<E>,
    term: &Term,
    key: &DaemonSetKey,
    ds: &Arc<DaemonSet>,
) -> Result<Option<Duration>, Error> {
    let uid = uid_of(ds).to_string();
    let namespace = ds.namespace().to_string();
    let satisfied = term
        .expectations
        .satisfied(key, &uid, std::time::Instant::now());
    let selector =
        Selector::from_label_selector(ds.spec.as_ref().and_then(|s| s.selector.as_ref()))
            .ok()
            .filter(|s| !s.is_everything());
    let nodes = deps.world.nodes.read(|c| c.snapshot());
    let (owned, orphans) = deps.world.pods.read(|c| {
        let orphans = selector
            .as_ref()
            .map(|s| c.orphans_matching(&namespace, s))
            .unwrap_or_default();
        (c.owned(&uid), orphans)
    });
    let pods = match (owned, orphans.is_empty()) {
        (Some(owned), true) => Pods::Shared(owned),
        (None, true) => Pods::Copied(Vec::new()),
        (owned, false) => {
            let mut all = owned.map(|p| p.to_vec()).unwrap_or_default();
            all.extend(orphans);
            Pods::Copied(all)
        }
    };
    let pods = with_unready_nodes(deps, pods);
    let revisions = deps
        .world
        .revisions
        .read(|c| c.for_daemon_set(&namespace, &uid));
    let backoff = term.backoff_of(&uid);
    let started = Instant::now();
    let plan = plan(&PlanInput {
        ds,
        nodes: &nodes,
        pods: pods.as_slice(),
        revisions: &revisions,
        now: Timestamp::now(),
        backoff: &backoff,
        expectations_satisfied: satisfied,
    });
    tracing::debug!(
        daemonset = %name_of(key),
        nodes = nodes.len(),
        pods = pods.as_slice().len(),
        planned_in = ?started.elapsed(),
        creates = plan.create.len(),
        deletes = plan.delete.len(),
        adopt = plan.adopt.len(),
        release = plan.release.len(),
        satisfied,
        "planned"
    );
    execute(deps, term, key, ds, pods.as_slice(), plan).await
}

/// The pods with those on not-ready nodes marked not ready (see
/// [`crate::cache::mark_node_not_ready`]); copies the pods only when one is affected.
fn with_unready_nodes<E: Effects>(deps: &Deps<E>, pods: Pods) -> Pods {
    let not_ready = deps.world.nodes.read(|c| c.not_ready().clone());
    if not_ready.is_empty() {
        return pods;
    }
    let affected = |pod: &Pod| {
        pod.is_ready()
            && everynode_core::scheduling::target_node_name(pod)
                .is_some_and(|n| not_ready.contains(n))
    };
    if !pods.as_slice().iter().any(affected) {
        return pods;
    }
    let mut copy = pods.as_slice().to_vec();
    for pod in copy.iter_mut().filter(|p| affected(p)) {
        crate::cache::mark_node_not_ready(pod);
    }
    Pods::Copied(copy)
}

fn log_events(key: &DaemonSetKey, plan: &Plan) {
    for event in &plan.events {
        match event.type_ {
            EventType::Normal => {
                tracing::info!(daemonset = %name_of(key), reason = event.reason, "{}", event.message);
            }
            EventType::Warning => {
                tracing::warn!(daemonset = %name_of(key), reason = event.reason, "{}", event.message);
            }
        }
    }
}

async fn execute<E: Effects>(
    deps: &Deps<E>,
    term: &Term,
    key: &DaemonSetKey,
    ds: &DaemonSet,
    pods: &[Pod],
    plan: Plan,
) -> Result<Option<Duration>, Error> {
    log_events(key, &plan);
    let uid = uid_of(ds).to_string();
    let Plan {
        create,
        delete,
        adopt,
        release,
        backoff,
        status,
        revision,
        requeue_after,
        ..
    } = plan;

    // Adoption and release first; a failure aborts the pass (Kubernetes: ClaimPods errors).
    if !adopt.is_empty() || !release.is_empty() {
        let owner = controller_ref(ds);
        let find = |r: &PodRef| pods.iter().find(|p| p.name() == r.name);
        let mut changes = Vec::new();
        for r in &adopt {
            let mut owners: Vec<OwnerReference> = find(r)
                .and_then(|p| p.metadata.as_ref())
                .map(|m| {
                    m.owner_references
                        .iter()
                        .filter(|o| !o.is_controller())
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            owners.push(owner.clone());
            changes.push((PodTarget::of_ref(r), owners));
        }
        for r in &release {
            let owners = find(r).map(|p| without_owner(p, &uid)).unwrap_or_default();
            changes.push((PodTarget::of_ref(r), owners));
        }
        tracing::info!(daemonset = %name_of(key), adopt = adopt.len(), release = release.len(), "claiming pods");
        failures_to_result(set_owners(deps, term.fence, changes).await)?;
    }

    if let Some(revision) = &revision {
        apply_revisions(deps, ds, revision).await?;
    }

    let mut failures = Vec::new();
    if !create.is_empty() || !delete.is_empty() {
        failures.extend(create_and_delete(deps, term, key, &uid, create, delete).await);
    }
    term.store_backoff(&uid, backoff);

    if let Some(status) = status
        && Some(&status) != ds.status.as_ref()
    {
        deps.effects.update_status(ds, status).await?;
    }
    failures_to_result(failures)?;
    Ok(requeue_after)
}

/// Creates (slow start) then deletes, with expectations recorded before anything is sent.
async fn create_and_delete<E: Effects>(
    deps: &Deps<E>,
    term: &Term,
    key: &DaemonSetKey,
    ds_uid: &str,
    create: Vec<PodToCreate>,
    delete: Vec<PodToDelete>,
) -> Vec<String> {
    let now = Timestamp::now();
    let creates: Vec<(String, PodToCreate)> = create
        .into_iter()
        .map(|mut c| {
            let uid = uuid::Uuid::new_v4().to_string();
            let meta = c.pod.metadata.get_or_insert_with(Default::default);
            meta.uid = uid.clone();
            if meta.creation_timestamp.is_none() {
                meta.creation_timestamp = Some(now);
            }
            (uid, c)
        })
        .collect();
    let deletions: Vec<PodTarget> = delete.iter().map(|d| PodTarget::of_ref(&d.pod)).collect();
    term.expectations.expect(
        key,
        ds_uid,
        creates.iter().map(|(uid, c)| (uid.clone(), c.node.clone())),
        deletions
            .iter()
            .map(|d| d.uid.clone())
            .filter(|u| !u.is_empty()),
        std::time::Instant::now(),
    );
    for d in &delete {
        tracing::info!(
            daemonset = %name_of(key),
            pod = %d.pod.name,
            node = %d.pod.node,
            reason = ?d.reason,
            "deleting pod"
        );
    }

    let failures = Mutex::new(Vec::new());
    let count = creates.len();
    let outcome_of_creates = slow_start(
        creates,
        SLOW_START_INITIAL_BATCH,
        deps.settings.command_concurrency,
        |(_, c)| {
            let failures = &failures;
            async move {
                let name = c.pod.name().to_string();
                let node = c.node.clone();
                match deps
                    .effects
                    .command(
                        term.fence,
                        PodCommand::Create {
                            node: node.clone(),
                            pod: Box::new(c.pod),
                        },
                    )
                    .await
                {
                    Ok(reply) => match reply.outcome {
                        Outcome::Created | Outcome::AlreadyExists => Attempt::Done,
                        other => {
                            if other == Outcome::NameTaken {
                                // The node runs a pod the cache does not know: read the pods
                                // again rather than retry the create against a stale view.
                                deps.world.pods.relist();
                            }
                            push(
                                failures,
                                format!(
                                    "create of pod {name} on {node}: {} {}",
                                    other.as_str_name(),
                                    reply.message
                                ),
                            );
                            Attempt::Failed
                        }
                    },
                    Err(e) => {
                        push(failures, format!("create of pod {name}: {e}"));
                        // A node without an agent says nothing about the other nodes.
                        if matches!(e, CommandError::NoAgent { .. }) {
                            Attempt::FailedAlone
                        } else {
                            Attempt::Failed
                        }
                    }
                }
            }
        },
    )
    .await;
    if count > 0 {
        tracing::info!(
            daemonset = %name_of(key),
            created = outcome_of_creates.succeeded.len(),
            failed = outcome_of_creates.failed.len(),
            skipped = outcome_of_creates.skipped.len(),
            "created pods"
        );
    }
    for (uid, _) in outcome_of_creates
        .failed
        .iter()
        .chain(outcome_of_creates.skipped.iter())
    {
        term.expectations.lower_create(uid);
    }
    let mut failures = failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    failures.extend(
        send_deletes(deps, term.fence, deletions, |d| {
            term.expectations.lower_delete(&d.uid)
        })
        .await,
    );
    failures
}

fn push(failures: &Mutex<Vec<String>>, failure: String) {
    failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(failure);
}

/// Writes the revision history changes of a plan to KV `revisions`.
async fn apply_revisions<E: Effects>(
    deps: &Deps<E>,
    ds: &DaemonSet,
    plan: &RevisionPlan,
) -> Result<(), Error> {
    let namespace = ds.namespace();
    if let Some(create) = &plan.create {
        let mut revision = create.clone();
        let meta = revision.metadata.get_or_insert_with(Default::default);
        if meta.uid.is_empty() {
            meta.uid = uuid::Uuid::new_v4().to_string();
        }
        if meta.creation_timestamp.is_none() {
            meta.creation_timestamp = Some(Timestamp::now());
        }
        if meta.namespace.is_empty() {
            meta.namespace = namespace.to_string();
        }
        let key = RevisionKey::new(namespace, revision.name())?;
        match deps
            .effects
            .write_revision(&key, RevisionWrite::Create(revision.clone()))
            .await
        {
            Ok(_) => tracing::info!(
                daemonset = %format!("{namespace}/{}", ds.name()),
                revision = %revision.name(),
                number = revision.revision,
                "created ControllerRevision"
            ),
            // Created by an earlier pass we have not observed yet, or a collision the planner
            // resolves in the next pass.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    for revision in &plan.update {
        let key = RevisionKey::new(namespace, revision.name())?;
        let at = deps.world.revisions.read(|c| c.get(&key)).map(|(_, at)| at);
        write_revision(deps, &key, revision, at).await?;
    }
    for r in &plan.delete {
        let key = RevisionKey::new(r.namespace.clone(), r.name.clone())?;
        if let Some((_, at)) = deps.world.revisions.read(|c| c.get(&key)) {
            delete_revision(deps, &key, at).await?;
        }
    }
    let owner = controller_ref(ds);
    for r in &plan.adopt {
        let key = RevisionKey::new(r.namespace.clone(), r.name.clone())?;
        if let Some((current, at)) = deps.world.revisions.read(|c| c.get(&key)) {
            let mut adopted = ControllerRevision::clone(&current);
            let meta = adopted.metadata.get_or_insert_with(Default::default);
            meta.owner_references.retain(|o| !o.is_controller());
            meta.owner_references.push(owner.clone());
            write_revision(deps, &key, &adopted, Some(at)).await?;
        }
    }
    for r in &plan.release {
        let key = RevisionKey::new(r.namespace.clone(), r.name.clone())?;
        if let Some((current, at)) = deps.world.revisions.read(|c| c.get(&key)) {
            let mut released = ControllerRevision::clone(&current);
            if let Some(meta) = released.metadata.as_mut() {
                meta.owner_references.retain(|o| o.uid != owner.uid);
            }
            write_revision(deps, &key, &released, Some(at)).await?;
        }
    }
    if !plan.relabel_pods.is_empty() {
        // Relabelling needs a pod update command agents do not have (only set_owner).
        tracing::debug!(
            pods = plan.relabel_pods.len(),
            "pods carry the hash of a duplicate revision; relabelling is not supported"
        );
    }
    Ok(())
}

/// Writes `revision` at `key`, compare-and-set on `at` (`None`: only if absent). A conflict
/// means an earlier pass changed it: the retry works on the fresh version.
async fn write_revision<E: Effects>(
    deps: &Deps<E>,
    key: &RevisionKey,
    revision: &ControllerRevision,
    at: Option<u64>,
) -> Result<(), Error> {
    let write = match at {
        Some(at) => RevisionWrite::Update(revision.clone(), at),
        None => RevisionWrite::Create(revision.clone()),
    };
    Ok(deps.effects.write_revision(key, write).await?)
}

#[cfg(test)]
mod tests;
