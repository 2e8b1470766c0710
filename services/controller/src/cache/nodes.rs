//! The node cache: every node in one shared, copy-on-write vector.
//!
//! The planner takes `&[Node]`; a reconcile takes an `Arc` of the vector ([`NodeCache::snapshot`])
//! instead of cloning 10,000 nodes. A write replaces the node in place when no snapshot is out,
//! and copies the vector once otherwise (the informer applies a whole batch of changes under
//! one lock, so a burst of node changes costs one copy per batch, not per node). Removal is a
//! `swap_remove`, so the order of the vector is arbitrary (the planner does not depend on it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use everynode_api::v1;
use everynode_bus::NodeKey;
use everynode_core::model::Node;

use super::stamp;
use crate::informer::Cache;

struct Slot {
    index: usize,
    revision: u64,
}

/// Every node, in one shared vector, with an index by name and the set of nodes that are not
/// ready.
#[derive(Default)]
pub struct NodeCache {
    nodes: Arc<Vec<Node>>,
    keys: Vec<NodeKey>,
    slots: HashMap<String, Slot>,
    not_ready: HashSet<String>,
}

/// True unless the node's `Ready` condition says `False` or `Unknown` (a node that reports no
/// condition yet counts as ready: nothing says otherwise).
pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .is_none_or(|c| c.status == "True")
}

impl NodeCache {
    /// Every node, without copying them.
    pub fn snapshot(&self) -> Arc<Vec<Node>> {
        Arc::clone(&self.nodes)
    }

    /// The node named `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.slots.get(name).and_then(|s| self.nodes.get(s.index))
    }

    /// The nodes whose `Ready` condition is not `True` (their agents stopped reporting).
    pub fn not_ready(&self) -> &HashSet<String> {
        &self.not_ready
    }

    /// True when a node named `name` is cached.
    pub fn contains(&self, name: &str) -> bool {
        self.slots.contains_key(name)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl Cache for NodeCache {
    type Key = NodeKey;
    type Proto = v1::Node;
    type Object = Node;

    fn decode(key: &NodeKey, value: v1::Node, revision: u64) -> Node {
        let mut node = Node::from(value);
        stamp(&mut node.metadata, revision, key.name());
        node
    }

    fn put(&mut self, key: &NodeKey, object: &Arc<Node>, revision: u64) -> Option<Arc<Node>> {
        if node_is_ready(object) {
            self.not_ready.remove(key.name());
        } else {
            self.not_ready.insert(key.name().to_string());
        }
        let nodes = Arc::make_mut(&mut self.nodes);
        match self.slots.get_mut(key.name()) {
            Some(slot) => {
                slot.revision = revision;
                let old = std::mem::replace(&mut nodes[slot.index], Node::clone(object));
                Some(Arc::new(old))
            }
            None => {
                self.slots.insert(
                    key.name().to_string(),
                    Slot {
                        index: nodes.len(),
                        revision,
                    },
                );
                nodes.push(Node::clone(object));
                self.keys.push(key.clone());
                None
            }
        }
    }

    fn remove(&mut self, key: &NodeKey) -> Option<Arc<Node>> {
        self.not_ready.remove(key.name());
        let slot = self.slots.remove(key.name())?;
        let nodes = Arc::make_mut(&mut self.nodes);
        let old = nodes.swap_remove(slot.index);
        self.keys.swap_remove(slot.index);
        if let Some(moved) = self.keys.get(slot.index)
            && let Some(moved_slot) = self.slots.get_mut(moved.name())
        {
            moved_slot.index = slot.index;
        }
        Some(Arc::new(old))
    }

    fn revision(&self, key: &NodeKey) -> Option<u64> {
        self.slots.get(key.name()).map(|s| s.revision)
    }

    fn keys(&self) -> Vec<NodeKey> {
        self.keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::ObjectMeta;

    use super::*;

    fn node(name: &str, zone: &str) -> Arc<Node> {
        Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                labels: [("zone".to_string(), zone.to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn key(name: &str) -> NodeKey {
        NodeKey::new(name).unwrap()
    }

    fn zone(cache: &NodeCache, name: &str) -> Option<String> {
        cache
            .get(name)
            .and_then(|n| n.metadata.as_ref())
            .and_then(|m| m.labels.get("zone").cloned())
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut cache = NodeCache::default();
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            cache.put(&key(name), &node(name, "z"), i as u64);
        }
        cache.remove(&key("a"));
        cache.remove(&key("c"));
        assert_eq!(cache.len(), 2);
        for name in ["b", "d"] {
            assert_eq!(cache.get(name).map(Node::name), Some(name));
        }
        assert!(cache.get("a").is_none());
        let mut keys: Vec<String> = cache.keys().iter().map(|k| k.name().to_string()).collect();
        keys.sort();
        assert_eq!(keys, ["b", "d"]);
    }

    #[test]
    fn nodes_whose_ready_condition_is_not_true_are_tracked() {
        use everynode_core::model::{NodeCondition, NodeStatus};
        let with_ready = |status: &str| {
            let mut n = Node::clone(&node("a", "z"));
            n.status = Some(NodeStatus {
                conditions: vec![NodeCondition {
                    type_: "Ready".into(),
                    status: status.into(),
                    ..Default::default()
                }],
                ..Default::default()
            });
            Arc::new(n)
        };
        let mut cache = NodeCache::default();
        cache.put(&key("a"), &node("a", "z"), 1);
        assert!(cache.not_ready().is_empty(), "no condition yet: ready");
        cache.put(&key("a"), &with_ready("Unknown"), 2);
        assert!(cache.not_ready().contains("a"));
        cache.put(&key("a"), &with_ready("True"), 3);
        assert!(cache.not_ready().is_empty());
        cache.put(&key("a"), &with_ready("False"), 4);
        cache.remove(&key("a"));
        assert!(cache.not_ready().is_empty());
    }

    #[test]
    fn a_snapshot_is_not_changed_by_later_writes() {
        let mut cache = NodeCache::default();
        cache.put(&key("a"), &node("a", "z1"), 1);
        let snapshot = cache.snapshot();
        let old = cache.put(&key("a"), &node("a", "z2"), 2);
        assert_eq!(
            old.and_then(|n| n.metadata.clone())
                .and_then(|m| m.labels.get("zone").cloned())
                .as_deref(),
            Some("z1")
        );
        assert_eq!(zone(&cache, "a").as_deref(), Some("z2"));
        let seen = snapshot[0]
            .metadata
            .as_ref()
            .and_then(|m| m.labels.get("zone"));
        assert_eq!(seen.map(String::as_str), Some("z1"));
        assert_eq!(cache.revision(&key("a")), Some(2));
    }
}
