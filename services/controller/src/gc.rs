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

use crate::agents::{CommandError, PodCommand, PodTarget};
use crate::effects::Effects;
use crate::error::Error;
use crate::term::Deps;

/// Deletes the pod keys of removed nodes; returns how many were deleted.
pub async fn collect_pods_of_removed_nodes<E: Effects>(
    deps: &Deps<E>,
    fence: u64,
) -> Result<usize, Error> {
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
        if deps.effects.node_is_stored(&key).await? {
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
            let target = PodTarget {
                node: node.clone(),
                namespace: pod.namespace().to_string(),
                name: pod.name().to_string(),
                uid,
            };
            match deps
                .effects
                .command(
                    fence,
                    PodCommand::Delete {
                        pod: target,
                        grace_period_seconds: None,
                    },
                )
                .await
            {
                Ok(reply) => {
                    tracing::info!(
                        node = %node,
                        pod = %format!("{}/{}", pod.namespace(), pod.name()),
                        outcome = ?reply.outcome,
                        "asked the agent of a removed node to delete its pod"
                    );
                    deleted += 1;
                    continue;
                }
                Err(CommandError::NoAgent { .. } | CommandError::Timeout { .. }) => {}
                Err(e) => {
                    tracing::debug!(error = %e, node = %node, "pod delete command failed");
                }
            }
            match deps.effects.delete_pod_record(&pod, revision).await {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::*;

    fn bed_with_pods_on(nodes: &[&str], removed: &str) -> Bed {
        let ds = daemon_set("logs");
        let mut bed = Bed::new();
        bed.nodes(nodes.iter().map(|n| node(n, &[])))
            .daemon_set(&ds)
            .pods(nodes.iter().map(|n| pod_of(&ds, n)));
        bed.remove_node(removed);
        bed.fake.take();
        bed
    }

    #[tokio::test]
    async fn the_pods_of_a_removed_node_are_deleted_through_its_agent() {
        let bed = bed_with_pods_on(&["n1", "n2"], "n2");

        assert_eq!(bed.collect().await.unwrap(), 1);

        assert_eq!(bed.fake.deleted(), ["logs-n2@n2"]);
        let calls = bed.fake.calls();
        assert!(
            !calls.iter().any(|c| matches!(c, Call::DeletePodRecord(..))),
            "the agent removes the record itself: {calls:?}"
        );
    }

    #[tokio::test]
    async fn without_an_agent_the_records_are_deleted_compare_and_set() {
        for error in [
            CommandError::NoAgent { node: "n2".into() },
            CommandError::Timeout {
                node: "n2".into(),
                timeout: Duration::from_secs(1),
                attempts: 3,
            },
        ] {
            let bed = bed_with_pods_on(&["n1", "n2"], "n2");
            bed.fake.unreachable("n2", error.clone());
            let at = bed.pod_revision("logs-n2");

            assert_eq!(bed.collect().await.unwrap(), 1, "{error}");

            assert_eq!(
                bed.fake.calls().last(),
                Some(&Call::DeletePodRecord("n2/default/logs-n2".into(), at)),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn a_record_rewritten_meanwhile_is_left_alone() {
        let bed = bed_with_pods_on(&["n1", "n2"], "n2");
        bed.fake
            .unreachable("n2", CommandError::NoAgent { node: "n2".into() });
        bed.fake.record_conflict("n2/default/logs-n2");

        assert_eq!(bed.collect().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_node_the_cache_lacks_but_the_store_holds_is_not_collected() {
        let bed = bed_with_pods_on(&["n1", "n2"], "n2");
        // The node watch lags behind the pod watch: KV `nodes` has the node again.
        bed.fake.store_node("n2");

        assert_eq!(bed.collect().await.unwrap(), 0);
        assert!(bed.fake.calls().is_empty(), "{:?}", bed.fake.calls());
    }

    #[tokio::test]
    async fn pods_of_live_nodes_are_never_collected() {
        let ds = daemon_set("logs");
        let mut bed = Bed::new();
        bed.nodes([node("n1", &[])])
            .daemon_set(&ds)
            .pods([pod_of(&ds, "n1")]);
        bed.fake.take();

        assert_eq!(bed.collect().await.unwrap(), 0);
        assert!(bed.fake.calls().is_empty());
    }
}
