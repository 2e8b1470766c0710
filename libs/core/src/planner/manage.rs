//! The per-node pass (Kubernetes: `manage` / `podsShouldBeOnNode` and
//! `getUnscheduledPodsWithoutNode`): which nodes need a daemon pod and which pods must go.
//!
//! For every node, with its [`ShouldRun`] and the DaemonSet's pods meant for it (pods that are
//! terminal *and* being deleted are already left out):
//! - eligible and no pod → create one;
//! - else, if a pod may continue running there: pods being deleted are skipped; a `Failed` pod
//!   is deleted unless the node is in back-off (then the pass waits for it); a `Succeeded` pod
//!   is deleted; of the remaining pods
//!   - without surge: the oldest is kept, every other one deleted; a node whose only pod is
//!     terminating gets nothing new until it is gone;
//!   - with surge: no pod and eligible → create (even while an old pod terminates); more than
//!     one → keep the oldest pod of the current revision and the oldest old one, delete the
//!     rest, and of that pair delete the old one if it is not ready or the new one is available;
//! - else every pod on the node that is not already being deleted is deleted.
//!
//! Finally, pods that are not bound (`spec.nodeName` empty) and aim at a node that no longer
//! exists are deleted; bound pods of vanished nodes are left to pod garbage collection.

use std::collections::BTreeMap;

use super::backoff::{self, BackoffState};
use super::pods::{PodInfo, oldest_first};
use super::{BackoffUpdate, BackoffWait, ByNode, Ctx, DeleteReason, EventType, FastSet, PlanEvent};
use super::{REASON_FAILED_DAEMON_POD, REASON_SUCCEEDED_DAEMON_POD};
use crate::model::Node;
use crate::scheduling::ShouldRun;

/// One pod `manage` deletes, with what goes with the deletion.
#[derive(Debug, Clone)]
pub(super) struct Deletion {
    pub pod: PodInfo,
    pub reason: DeleteReason,
    /// The back-off entry to store once a failed pod is deleted.
    pub backoff: Option<BackoffUpdate>,
    /// The event announcing the deletion of a failed or succeeded pod.
    pub event: Option<PlanEvent>,
}

#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Nodes that need a new daemon pod, in node order.
    pub create: Vec<String>,
    pub delete: Vec<Deletion>,
    /// Failed pods left alone because their node is in back-off.
    pub waits: Vec<BackoffWait>,
}

pub(super) fn manage(
    ctx: &Ctx<'_>,
    nodes: &[(&Node, ShouldRun)],
    by_node: &ByNode<'_>,
    backoff_state: &BackoffState,
) -> Outcome {
    let mut out = Outcome::default();
    // Entries bumped during this pass: a second failed pod on the same node waits for them.
    let mut bumped: BTreeMap<String, backoff::BackoffEntry> = BTreeMap::new();
    for (node, should_run) in nodes {
        let name = node.name();
        let pods = by_node.get(name);
        match pods {
            None if should_run.should_run => out.create.push(name.to_string()),
            None => {}
            Some(pods) if should_run.should_continue_running => {
                node_with_pods(
                    ctx,
                    name,
                    *should_run,
                    pods,
                    backoff_state,
                    &mut bumped,
                    &mut out,
                );
            }
            Some(pods) => {
                for pod in pods.iter().filter(|p| !p.deleting) {
                    out.delete.push(plain(pod, DeleteReason::NodeShouldNotRun));
                }
            }
        }
    }
    // Unbound pods aiming at a node that does not exist can never be placed: delete them.
    let existing: FastSet<&str> = nodes.iter().map(|(n, _)| n.name()).collect();
    let mut missing: Vec<(&str, &Vec<PodInfo>)> = by_node
        .iter()
        .filter(|(node, _)| !existing.contains(*node))
        .map(|(node, pods)| (*node, pods))
        .collect();
    missing.sort_unstable_by_key(|(node, _)| *node);
    for (_, pods) in missing {
        for pod in pods.iter().filter(|p| !p.scheduled && !p.deleting) {
            out.delete
                .push(plain(pod, DeleteReason::UnscheduledForMissingNode));
        }
    }
    out
}

fn plain(pod: &PodInfo, reason: DeleteReason) -> Deletion {
    Deletion {
        pod: pod.clone(),
        reason,
        backoff: None,
        event: None,
    }
}

fn node_with_pods(
    ctx: &Ctx<'_>,
    node: &str,
    should_run: ShouldRun,
    pods: &[PodInfo],
    backoff_state: &BackoffState,
    bumped: &mut BTreeMap<String, backoff::BackoffEntry>,
    out: &mut Outcome,
) {
    let mut running: Vec<&PodInfo> = Vec::new();
    for pod in pods.iter().filter(|p| !p.deleting) {
        if pod.is_failed() {
            let key = backoff::backoff_key(ctx.ds, node);
            let entry = bumped.get(&key).or_else(|| backoff_state.get(&key));
            if let Some(entry) = entry.filter(|e| backoff::in_backoff(e, ctx.now)) {
                out.waits.push(BackoffWait {
                    key,
                    node: node.to_string(),
                    pod: pod.name.clone(),
                    remaining: backoff::remaining(entry, ctx.now),
                });
                continue;
            }
            let next = backoff::next(entry, ctx.now);
            bumped.insert(key.clone(), next);
            out.delete.push(Deletion {
                pod: pod.clone(),
                reason: DeleteReason::Failed,
                backoff: Some(BackoffUpdate {
                    key,
                    node: node.to_string(),
                    entry: next,
                }),
                event: Some(PlanEvent {
                    type_: EventType::Warning,
                    reason: REASON_FAILED_DAEMON_POD,
                    message: format!(
                        "Found failed daemon pod {}/{} on node {node}, will try to kill it",
                        pod.namespace, pod.name
                    ),
                }),
            });
        } else if pod.is_succeeded() {
            out.delete.push(Deletion {
                pod: pod.clone(),
                reason: DeleteReason::Succeeded,
                backoff: None,
                event: Some(PlanEvent {
                    type_: EventType::Normal,
                    reason: REASON_SUCCEEDED_DAEMON_POD,
                    message: format!(
                        "Found succeeded daemon pod {}/{} on node {node}, will try to delete it",
                        pod.namespace, pod.name
                    ),
                }),
            });
        } else {
            running.push(pod);
        }
    }
    running.sort_by(|a, b| oldest_first(a, b));

    if !ctx.surge {
        for extra in running.iter().skip(1) {
            out.delete.push(plain(extra, DeleteReason::ExcessDuplicate));
        }
        return;
    }

    if running.is_empty() {
        if should_run.should_run {
            out.create.push(node.to_string());
        }
        return;
    }
    if running.len() == 1 {
        return;
    }
    let mut oldest_new: Option<&PodInfo> = None;
    let mut oldest_old: Option<&PodInfo> = None;
    for pod in running {
        let slot = if pod.is_updated(&ctx.hash, ctx.generation) {
            &mut oldest_new
        } else {
            &mut oldest_old
        };
        if slot.is_none() {
            *slot = Some(pod);
        } else {
            out.delete.push(plain(pod, DeleteReason::ExcessDuplicate));
        }
    }
    if let (Some(new), Some(old)) = (oldest_new, oldest_old)
        && (!old.ready || new.is_available(ctx.min_ready_seconds, ctx.now))
    {
        out.delete.push(plain(old, DeleteReason::RollingUpdate));
    }
}
