//! The four caches the controller keeps, one per bucket it reads, each with the indexes its
//! readers need (see each module). [`World`] bundles their informers.
//!
//! Every cached object carries its KV revision as `metadata.resourceVersion`, as the APIs
//! return it.

mod daemonsets;
mod nodes;
mod pods;
mod revisions;

pub use daemonsets::DaemonSetCache;
pub use nodes::{NodeCache, node_is_ready};
pub use pods::{DAEMON_SET_KIND, PodCache};
pub use revisions::RevisionCache;

use everynode_core::model::Timestamp;
use everynode_core::model::{ObjectMeta, Pod, PodCondition};

use crate::informer::Informer;

/// The informers of the four buckets the controller reads.
#[derive(Debug, Clone)]
pub struct World {
    /// KV `daemonsets` (written by admission).
    pub daemonsets: Informer<DaemonSetCache>,
    /// KV `nodes` (written by the registry).
    pub nodes: Informer<NodeCache>,
    /// KV `pods` (written by the agents).
    pub pods: Informer<PodCache>,
    /// KV `revisions` (written by the active controller).
    pub revisions: Informer<RevisionCache>,
}

impl World {
    /// Empty, not yet started informers; the pod informer keeps `pod_history` deltas for
    /// resumed `Pods.Watch` calls.
    pub fn new(pod_history: usize) -> Self {
        Self {
            daemonsets: Informer::new("daemonsets", 0),
            nodes: Informer::new("nodes", 0),
            pods: Informer::new("pods", pod_history),
            revisions: Informer::new("revisions", 0),
        }
    }

    /// True once every informer has applied its first list.
    pub fn is_ready(&self) -> bool {
        self.daemonsets.is_ready()
            && self.nodes.is_ready()
            && self.pods.is_ready()
            && self.revisions.is_ready()
    }

    /// Resolves once every informer has applied its first list.
    pub async fn wait_ready(&self) {
        self.daemonsets.wait_ready().await;
        self.nodes.wait_ready().await;
        self.pods.wait_ready().await;
        self.revisions.wait_ready().await;
    }
}

/// Marks `pod` not ready because its node is not ready: its `Ready` condition becomes `False`
/// with reason `NodeNotReady`, as Kubernetes' node lifecycle controller marks the pods of an
/// unreachable node (`MarkPodsNotReady`). The agent that would report the pod cannot, so the
/// controller counts such pods this way (status, endpoints); the stored pod is not changed.
pub fn mark_node_not_ready(pod: &mut Pod) {
    let status = pod.status.get_or_insert_with(Default::default);
    match status.conditions.iter_mut().find(|c| c.type_ == "Ready") {
        Some(ready) => {
            if ready.status == "True" {
                ready.status = "False".to_string();
                ready.reason = "NodeNotReady".to_string();
                ready.last_transition_time = Some(Timestamp::now());
            }
        }
        None => status.conditions.push(PodCondition {
            type_: "Ready".to_string(),
            status: "False".to_string(),
            reason: "NodeNotReady".to_string(),
            last_transition_time: Some(Timestamp::now()),
            ..Default::default()
        }),
    }
}

/// Sets `metadata.resourceVersion` (creating the metadata if needed) and, when the object
/// has no name, the name from its key.
fn stamp(meta: &mut Option<ObjectMeta>, revision: u64, name: &str) {
    let meta = meta.get_or_insert_with(ObjectMeta::default);
    meta.resource_version = revision.to_string();
    if meta.name.is_empty() {
        meta.name = name.to_string();
    }
}
