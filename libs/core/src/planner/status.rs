//! The DaemonSet's status counters (Kubernetes: `updateDaemonSetStatus`), computed over the
//! observed state of this pass (claimed pods, without terminal pods that are being deleted).
//!
//! For each node: eligible (`should_run`) → desired; eligible with at least one pod → current,
//! and its *oldest* pod decides ready / available (ready for more than `minReadySeconds`) /
//! updated (current revision); not eligible but with a pod → misscheduled (so a pod kept on a
//! node with an untolerated `NoSchedule` taint counts as misscheduled). `numberUnavailable` is
//! `desired − available`.

use super::pods::oldest_first;
use super::{ByNode, Ctx};
use crate::model::{DaemonSetStatus, Node};
use crate::scheduling::ShouldRun;

/// The counters of [`DaemonSetStatus`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub desired: i32,
    pub current: i32,
    pub misscheduled: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
}

pub(super) fn count(ctx: &Ctx<'_>, nodes: &[(&Node, ShouldRun)], by_node: &ByNode<'_>) -> Counts {
    let mut c = Counts::default();
    for (node, should_run) in nodes {
        let oldest = by_node
            .get(node.name())
            .and_then(|pods| pods.iter().min_by(|a, b| oldest_first(a, b)));
        if should_run.should_run {
            c.desired += 1;
            let Some(pod) = oldest else {
                continue;
            };
            c.current += 1;
            if pod.ready {
                c.ready += 1;
                if pod.is_available(ctx.min_ready_seconds, ctx.now) {
                    c.available += 1;
                }
            }
            if pod.is_updated(&ctx.hash, ctx.generation) {
                c.updated += 1;
            }
        } else if oldest.is_some() {
            c.misscheduled += 1;
        }
    }
    c
}

/// The status to store: the counters, `observed_generation`, `collision_count`, and the current
/// status's conditions and unknown fields kept as they are.
pub(super) fn build(
    current: Option<&DaemonSetStatus>,
    counts: Counts,
    observed_generation: i64,
    collision_count: Option<i32>,
) -> DaemonSetStatus {
    let current = current.cloned().unwrap_or_default();
    DaemonSetStatus {
        current_number_scheduled: counts.current,
        number_misscheduled: counts.misscheduled,
        desired_number_scheduled: counts.desired,
        number_ready: counts.ready,
        observed_generation,
        updated_number_scheduled: counts.updated,
        number_available: counts.available,
        number_unavailable: counts.desired - counts.available,
        collision_count,
        conditions: current.conditions,
        extra_fields: current.extra_fields,
    }
}
