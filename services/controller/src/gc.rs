//! Pod garbage collection: the pods of nodes the registry removed.
//!
//! A removed node has no agent left to stop its pods or remove their keys, so the controller
//! deletes those keys from KV `pods` itself (Kubernetes' pod GC deletes the pods of deleted
//! nodes the same way). These are the only pod keys the controller ever writes, and only with
//! compare-and-set on the revision it saw, so a pod rewritten meanwhile (the node came back) is
//! left alone.
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
        let pods = deps.world.pods.read(|pods| pods.on_node(&node));
        for (pod, revision) in pods {
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
