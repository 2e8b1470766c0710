//! The `RollingUpdate` strategy (Kubernetes: `rollingUpdate` and `updatedDesiredNodeCounts` of
//! `pkg/controller/daemon/update.go`): which old pods to replace in this pass.
//!
//! It runs on the state as it will be right after `manage`'s actions (pods `manage` deletes are
//! gone, pods it creates are there, unready), per node in name order, looking at pods not being
//! deleted; a node with more than one current or more than one old pod is left to `manage`.
//! - `maxSurge == 0`: nodes with no pod, with an old and a new pod, or with an unavailable new
//!   pod count as unavailable; an unavailable old pod is always replaced (deleted; `manage`
//!   creates the new one in a later pass); available old pods are deleted while fewer than
//!   `maxUnavailable` nodes are unavailable.
//! - `maxSurge > 0`: an unavailable old pod gets a new pod next to it at once (or is deleted if
//!   the node no longer takes new pods); an available old pod gets a new one while fewer than
//!   `maxSurge` surged pods are waiting to become available; once the new pod is available the
//!   old one is deleted. Old pods on nodes that no longer take new pods are deleted only while
//!   more pods are available than desired, so availability never drops (Kubernetes 1.26+).

use super::pods::PodInfo;
use super::{ByNode, Ctx, DeleteReason, FastMap, FastSet};
use crate::model::{DaemonSet, IntOrString, Node};
use crate::scheduling::ShouldRun;

/// The rollout bounds of a DaemonSet for a number of eligible nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutLimits {
    /// Nodes that may run an extra, new pod at once.
    pub max_surge: usize,
    /// Nodes whose daemon pod may be unavailable at once.
    pub max_unavailable: usize,
}

/// A `maxSurge`/`maxUnavailable` value that is neither an integer nor `"<n>%"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {field}: {value:?} is not an integer or a percentage")]
pub struct InvalidIntOrPercent {
    /// `maxSurge` or `maxUnavailable`.
    pub field: &'static str,
    /// The value as given.
    pub value: String,
}

/// `maxSurge` and `maxUnavailable` of `ds` for `desired` eligible nodes (Kubernetes:
/// `util.SurgeCount`, `util.UnavailableCount`, `updatedDesiredNodeCounts`): percentages of
/// `desired`, rounded up; both 0 for a strategy other than `RollingUpdate`; an unset value counts
/// as 0; and when both are 0 with at least one eligible node, `maxUnavailable` is 1.
pub fn rollout_limits(
    ds: &DaemonSet,
    desired: usize,
) -> Result<RolloutLimits, InvalidIntOrPercent> {
    let rolling = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .filter(|s| s.type_ == "RollingUpdate")
        .and_then(|s| s.rolling_update.as_ref());
    let (surge, unavailable) = match rolling {
        Some(r) => (
            scaled(r.max_surge.as_ref(), desired, "maxSurge")?,
            scaled(r.max_unavailable.as_ref(), desired, "maxUnavailable")?,
        ),
        None => (0, 0),
    };
    let mut limits = RolloutLimits {
        max_surge: surge,
        max_unavailable: unavailable,
    };
    if desired > 0 && limits.max_surge == 0 && limits.max_unavailable == 0 {
        limits.max_unavailable = 1;
    }
    Ok(limits)
}

/// True when `ds` may run a second, new pod on a node during an update (Kubernetes:
/// `util.AllowsSurge`): a `RollingUpdate` whose `maxSurge` is more than 0 of one node.
pub fn allows_surge(ds: &DaemonSet) -> bool {
    let surge = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .filter(|s| s.type_ == "RollingUpdate")
        .and_then(|s| s.rolling_update.as_ref())
        .map(|r| scaled(r.max_surge.as_ref(), 1, "maxSurge"));
    matches!(surge, Some(Ok(n)) if n > 0)
}

/// Kubernetes' `GetScaledValueFromIntOrPercent(v, total, roundUp=true)`, with negative results
/// clamped to 0.
fn scaled(
    value: Option<&IntOrString>,
    total: usize,
    field: &'static str,
) -> Result<usize, InvalidIntOrPercent> {
    let invalid = || InvalidIntOrPercent {
        field,
        value: value.map(ToString::to_string).unwrap_or_default(),
    };
    let n: i64 = match value {
        None => 0,
        Some(IntOrString::Int(n)) => i64::from(*n),
        Some(IntOrString::Str(s)) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i32>().ok())
                .map(i64::from)
                .ok_or_else(invalid)?;
            let total = i64::try_from(total).map_err(|_| invalid())?;
            let product = percent.saturating_mul(total);
            product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
        }
    };
    Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
}

/// What the rolling update adds to the plan.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Nodes that get a new pod now (surge only).
    pub create: Vec<String>,
    pub delete: Vec<(PodInfo, DeleteReason)>,
}

/// The current and old pod of a node, or `None` when it has several of either (Kubernetes:
/// `findUpdatedPodsOnNode`).
fn split_pods<'p>(
    ctx: &Ctx<'_>,
    pods: impl Iterator<Item = &'p PodInfo>,
) -> Option<(Option<&'p PodInfo>, Option<&'p PodInfo>)> {
    let mut new = None;
    let mut old = None;
    for pod in pods.filter(|p| !p.deleting) {
        let slot = if pod.is_updated(&ctx.hash, ctx.generation) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// The state right after `manage`'s actions: the observed pods per node without the pods
/// `manage` deletes, plus the pods it creates (after the observed ones).
pub(super) struct After<'p> {
    /// Every node that exists, with its answer (a pod's node that is missing counts as not
    /// eligible; for a name given twice the last answer counts).
    pub nodes: &'p [(&'p Node, ShouldRun)],
    pub by_node: &'p ByNode<'p>,
    /// Names of deleted pods per node.
    pub deleted: &'p FastMap<String, Vec<String>>,
    /// Planned pods per node.
    pub planned: &'p FastMap<String, Vec<PodInfo>>,
}

impl<'p> After<'p> {
    /// The node's pods after `manage`, observed first.
    fn pods(&self, node: &str) -> impl Iterator<Item = &'p PodInfo> + use<'p> {
        let deleted = self.deleted.get(node).map_or(&[][..], Vec::as_slice);
        let observed = self.by_node.get(node).map_or(&[][..], Vec::as_slice);
        let planned = self.planned.get(node).map_or(&[][..], Vec::as_slice);
        observed
            .iter()
            .filter(move |p| !deleted.contains(&p.name))
            .chain(planned.iter())
    }

    /// True when the node has any pod after `manage`.
    fn has_pods(&self, node: &str) -> bool {
        self.pods(node).next().is_some()
    }
}

/// Plans one rolling-update step over the post-`manage` view `after`.
pub(super) fn rolling_update(
    ctx: &Ctx<'_>,
    after: &After<'_>,
) -> Result<Outcome, InvalidIntOrPercent> {
    let should_run: FastMap<&str, ShouldRun> =
        after.nodes.iter().map(|(n, s)| (n.name(), *s)).collect();
    let desired = should_run.values().filter(|s| s.should_run).count();
    let limits = rollout_limits(ctx.ds, desired)?;
    let eligible = |node: &str| should_run.get(node).is_some_and(|s| s.should_run);
    // Every eligible node takes part, with or without pods, and every node with pods; in name
    // order.
    let mut seen: FastSet<&str> = FastSet::default();
    let mut names: Vec<&str> = Vec::with_capacity(after.nodes.len());
    for (node, _) in after.nodes {
        let name = node.name();
        if eligible(name) && seen.insert(name) {
            names.push(name);
        }
    }
    let with_pods = after
        .by_node
        .keys()
        .copied()
        .chain(after.planned.keys().map(String::as_str));
    for name in with_pods {
        if !eligible(name) && after.has_pods(name) && seen.insert(name) {
            names.push(name);
        }
    }
    names.sort();
    let available = |p: &PodInfo| p.is_available(ctx.min_ready_seconds, ctx.now);
    let mut out = Outcome::default();

    if limits.max_surge == 0 {
        let mut unavailable = 0usize;
        let mut candidates: Vec<&PodInfo> = Vec::new();
        for node in &names {
            let Some((new, old)) = split_pods(ctx, after.pods(node)) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(new), None) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        out.delete.push((old.clone(), DeleteReason::RollingUpdate));
                        unavailable += 1;
                    } else if unavailable < limits.max_unavailable {
                        candidates.push(old);
                    }
                }
            }
        }
        let room = limits.max_unavailable.saturating_sub(unavailable);
        for old in candidates.into_iter().take(room) {
            out.delete.push((old.clone(), DeleteReason::RollingUpdate));
        }
        return Ok(out);
    }

    let mut surging = 0usize;
    let mut available_nodes = 0usize;
    let mut candidates: Vec<&str> = Vec::new();
    let mut sunset: Vec<&PodInfo> = Vec::new();
    for node in &names {
        let Some((new, old)) = split_pods(ctx, after.pods(node)) else {
            surging += 1;
            continue;
        };
        if let Some(p) = old.or(new)
            && available(p)
        {
            available_nodes += 1;
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(old) {
                    if eligible(node) {
                        out.create.push((*node).to_string());
                    } else {
                        out.delete
                            .push((old.clone(), DeleteReason::NodeShouldNotRun));
                    }
                } else if !eligible(node) {
                    sunset.push(old);
                } else if surging < limits.max_surge {
                    candidates.push(node);
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    out.delete.push((old.clone(), DeleteReason::RollingUpdate));
                } else {
                    surging += 1;
                }
            }
        }
    }
    // Keep availability: only delete pods on nodes that stopped taking new pods while more
    // nodes are available than desired.
    let deletable = available_nodes.saturating_sub(desired).min(sunset.len());
    for old in sunset.into_iter().take(deletable) {
        out.delete
            .push((old.clone(), DeleteReason::NodeShouldNotRun));
    }
    let room = limits.max_surge.saturating_sub(surging);
    out.create
        .extend(candidates.into_iter().take(room).map(str::to_string));
    Ok(out)
}
