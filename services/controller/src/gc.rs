//! Pod garbage collection: the pods of nodes the registry removed.
//!
//! A node can be removed while its agent still runs (an operator deleted it, or its heartbeats
//! were lost for longer than `--remove-after`). So the pods of a removed node are first deleted
//! through its agent, which stops them and removes their keys — otherwise the agent would keep
//! running a pod the store no longer has, and refuse the replacement of the same name when the
//! node registers again. Only when no agent answers for the node does the controller delete the
//! keys from KV `pods` itself (Kubernetes' pod GC deletes the pods of deleted nodes the same
//! way; an agent that comes back later stops the processes of pods no longer in KV). These are
//! the only pod keys the controller ever writes, and only with compare-and-set on the revision
//! it saw, so a pod rewritten meanwhile (the node came back) is left alone.
//!
//! A node counts as removed only when the node cache does not have it *and* KV `nodes` confirms
//! it is absent: the pod and node caches are separate watches, and a freshly registered node
//! may reach the pod cache first.

use everynode_bus::{ErrorKind, NodeKey};

use crate::controller::Deps;
use crate::error::Error;

/// Deletes the pod keys of removed nodes; returns how many were deleted.
pub async fn collect_pods_of_removed_nodes(deps: &Deps) -> Result<usize, Error> {
    let candidates: Vec<String> = deps
        .world
        .pods
        .read(|pods| pods.nodes())
        .into_iter()
        .filter(|node| !deps.world.nodes.read(|nodes| nodes.contains(node)))
        .collect();
    let mut deleted = 0;
    for node in candidates {
        let Ok(key) = NodeKey::new(node.clone()) else {
            continue;
        };
        if deps.stores.nodes.get(&key).await?.is_some() {
            continue;
        }
        let pods = deps.world.pods.read(|pods| {
            pods.on_node(&node)
                .into_iter()
                .map(|(key, revision)| {
                    let uid = pods
                        .pod(&key)
                        .and_then(|p| p.metadata.as_ref())
                        .map(|m| m.uid.clone());
                    (key, revision, uid.unwrap_or_default())
                })
                .collect::<Vec<_>>()
        });
        for (pod, revision, uid) in pods {
            match deps
                .agents
                .delete(&node, pod.namespace(), pod.name(), &uid, None)
                .await
            {
                Ok(reply) => {
                    tracing::info!(
                        node = %node,
                        pod = %format!("{}/{}", pod.namespace(), pod.name()),
                        outcome = ?crate::agents::outcome(&reply),
                        "asked the agent of a removed node to delete its pod"
                    );
                    deleted += 1;
                    continue;
                }
                Err(
                    crate::agents::CommandError::NoAgent { .. }
                    | crate::agents::CommandError::Timeout { .. },
                ) => {}
                Err(e) => {
                    tracing::debug!(error = %e, node = %node, "pod delete command failed");
                }
            }
            match deps.stores.pods.delete(&pod, Some(revision)).await {
                Ok(()) => {
                    deleted += 1;
                    tracing::info!(
                        node = %node,
                        pod = %format!("{}/{}", pod.namespace(), pod.name()),
                        "deleted the pod of a removed node"
                    );
                }
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tracing::debug!(error = %e, "pod changed since it was seen; next pass");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(deleted)
}
