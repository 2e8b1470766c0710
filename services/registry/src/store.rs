//! Nodes in the KV bucket `nodes` (key `<name>`), and their events on
//! `everynode.events.node.<name>`.
//!
//! The stored value is the `everynode.v1.Node` without its `resourceVersion`: the version of a
//! node is the KV revision of its key, filled in on every read. Every write is a
//! compare-and-set (create-if-absent, or update/delete at the revision that was read), done by
//! [`NodeStore::modify`], a read-decide-write loop that retries on a lost race unless the caller
//! pinned a version. After a successful write, the events [`crate::node::changes`] names are
//! published in order, each carrying the write's revision. The KV bucket is the truth and events
//! are hints: a failed publish is retried a few times and logged, but does not undo the write.

use everynode_api::v1;
use everynode_bus::async_nats::jetstream;
use everynode_bus::names::{EventSubject, KeyFilter, NodeKey};
use everynode_bus::{Changes, publish_event_retrying};
use everynode_core::model::Node;

use crate::error::Error;
use crate::node::{self, Change};

/// How often a write is retried after losing a compare-and-set race.
const CAS_ATTEMPTS: usize = 16;

/// A node as stored, with the revision it was read or written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The node, with `metadata.resourceVersion` set to `revision`.
    pub node: Node,
    /// The KV revision of the node's key.
    pub revision: u64,
}

/// What a read-modify-write does with the node it read.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Nothing: the node stays as it is (no write, no event).
    Keep,
    /// Store this node (events for every kind of change).
    Put(Box<Node>),
    /// Remove the node (a REMOVED event).
    Remove,
}

/// What a read-modify-write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing was written; the node as read.
    Unchanged(Stored),
    /// The node was written; as stored.
    Updated(Stored),
    /// The node was removed; its last state.
    Removed(Stored),
}

impl Outcome {
    /// The node the outcome is about.
    pub fn stored(&self) -> &Stored {
        match self {
            Outcome::Unchanged(s) | Outcome::Updated(s) | Outcome::Removed(s) => s,
        }
    }
}

/// The `nodes` bucket and the events stream.
#[derive(Clone)]
pub struct NodeStore {
    kv: everynode_bus::Store<NodeKey, v1::Node>,
    js: jetstream::Context,
}

impl std::fmt::Debug for NodeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeStore").finish_non_exhaustive()
    }
}

/// The bus key of a node; the name was validated before, so an empty one is a bad request
/// (said in Kubernetes' words, not the bus's).
pub fn key(name: &str) -> Result<NodeKey, Error> {
    NodeKey::new(name).map_err(|_| {
        Error::invalid(
            name,
            crate::validation::FieldError::required("name", "name or generateName is required"),
        )
    })
}

/// A stored value as a node at `revision`.
pub fn with_version(value: v1::Node, revision: u64) -> Node {
    let mut node = Node::from(value);
    node.metadata
        .get_or_insert_with(Default::default)
        .resource_version = revision.to_string();
    node
}

fn for_storage(node: &Node) -> v1::Node {
    let mut node = node.clone();
    if let Some(meta) = node.metadata.as_mut() {
        meta.resource_version.clear();
    }
    node.into()
}

impl NodeStore {
    /// Opens the bucket (created at start-up by `Bus::ensure`).
    pub async fn open(js: jetstream::Context) -> Result<Self, everynode_bus::Error> {
        let kv = everynode_bus::Store::open(&js).await?;
        Ok(Self { kv, js })
    }

    /// The node called `name`, if any.
    pub async fn get(&self, name: &str) -> Result<Option<Stored>, Error> {
        let found = self
            .kv
            .get(&key(name)?)
            .await
            .map_err(|e| Error::from_bus(name, e))?;
        Ok(found.map(|v| Stored {
            node: with_version(v.value, v.revision),
            revision: v.revision,
        }))
    }

    /// Every node, sorted by name, and the revision the listing is complete up to.
    pub async fn list(&self) -> Result<(Vec<Stored>, u64), Error> {
        let listing = self.kv.list().await.map_err(|e| Error::from_bus("", e))?;
        let mut nodes: Vec<Stored> = listing
            .entries
            .into_iter()
            .map(|e| Stored {
                node: with_version(e.value, e.revision),
                revision: e.revision,
            })
            .collect();
        nodes.sort_by(|a, b| a.node.name().cmp(b.node.name()));
        Ok((nodes, listing.revision))
    }

    /// Every change of the bucket from `from_revision` on (inclusive).
    pub async fn changes(&self, from_revision: u64) -> Result<Changes<NodeKey, v1::Node>, Error> {
        self.kv
            .watch(&KeyFilter::all(), from_revision)
            .await
            .map_err(|e| Error::from_bus("", e))
    }

    /// Stores a node that must not exist yet and publishes ADDED; [`Error::Conflict`] if it
    /// does.
    pub async fn create(&self, node: &Node) -> Result<Stored, Error> {
        let name = node.name();
        let revision = self
            .kv
            .create(&key(name)?, &for_storage(node))
            .await
            .map_err(|e| Error::from_bus(name, e))?;
        let stored = Stored {
            node: with_version(for_storage(node), revision),
            revision,
        };
        self.publish(name, added_event(&stored)).await;
        Ok(stored)
    }

    /// Reads `name`, asks `decide` what to do, and writes with compare-and-set. A lost race is
    /// retried on the fresh node unless `pinned` (the client's resourceVersion) is given, in
    /// which case it is [`Error::Conflict`], as is a `pinned` version that is not the stored
    /// one. A missing node is [`Error::NotFound`] (`decide` is not called).
    pub async fn modify<F>(
        &self,
        name: &str,
        pinned: Option<u64>,
        mut decide: F,
    ) -> Result<Outcome, Error>
    where
        F: FnMut(&Stored) -> Result<Write, Error>,
    {
        let bus_key = key(name)?;
        for _ in 0..CAS_ATTEMPTS {
            let current = self
                .get(name)
                .await?
                .ok_or_else(|| Error::NotFound(name.to_owned()))?;
            if pinned.is_some_and(|v| v != current.revision) {
                return Err(Error::Conflict(name.to_owned()));
            }
            let result = match decide(&current)? {
                Write::Keep => return Ok(Outcome::Unchanged(current)),
                // A write that changes nothing is skipped: no new revision, no event.
                Write::Put(node) if *node == current.node => {
                    return Ok(Outcome::Unchanged(current));
                }
                Write::Put(node) => self.write(&bus_key, &current, &node).await,
                Write::Remove => self.remove(&bus_key, &current).await,
            };
            match result {
                Ok(outcome) => return Ok(outcome),
                Err(Error::Conflict(_)) if pinned.is_none() => {
                    tracing::debug!(node = name, "lost a compare-and-set race; re-reading");
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(name.to_owned()))
    }

    async fn write(&self, bus_key: &NodeKey, old: &Stored, new: &Node) -> Result<Outcome, Error> {
        let name = bus_key.name();
        let revision = self
            .kv
            .update(bus_key, &for_storage(new), old.revision)
            .await
            .map_err(|e| Error::from_bus(name, e))?;
        let stored = Stored {
            node: with_version(for_storage(new), revision),
            revision,
        };
        for change in node::changes(&old.node, &stored.node) {
            self.publish(name, change_event(change, &stored)).await;
        }
        Ok(Outcome::Updated(stored))
    }

    async fn remove(&self, bus_key: &NodeKey, last: &Stored) -> Result<Outcome, Error> {
        let name = bus_key.name();
        self.kv
            .delete(bus_key, Some(last.revision))
            .await
            .map_err(|e| Error::from_bus(name, e))?;
        self.publish(name, removed_event(last)).await;
        Ok(Outcome::Removed(last.clone()))
    }

    async fn publish(&self, name: &str, event: v1::NodeEvent) {
        let Ok(node_key) = NodeKey::new(name) else {
            return;
        };
        let subject = EventSubject::Node(node_key);
        if let Err(e) = publish_event_retrying(&self.js, &subject, &event).await {
            tracing::error!(
                error = %e,
                subject = %subject,
                "node event not published; watchers of the KV bucket still see the change"
            );
        }
    }
}

fn event(kind: v1::NodeEventType, stored: &Stored) -> v1::NodeEvent {
    v1::NodeEvent {
        r#type: kind.into(),
        node: Some(stored.node.clone().into()),
        revision: stored.revision,
        ..Default::default()
    }
}

fn added_event(stored: &Stored) -> v1::NodeEvent {
    event(v1::NodeEventType::Added, stored)
}

fn removed_event(last: &Stored) -> v1::NodeEvent {
    event(v1::NodeEventType::Removed, last)
}

/// The event of one kind of change, carrying the node after the write.
fn change_event(change: Change, stored: &Stored) -> v1::NodeEvent {
    match change {
        Change::Ready => event(v1::NodeEventType::Ready, stored),
        Change::NotReady => event(v1::NodeEventType::NotReady, stored),
        Change::Cordoned => event(v1::NodeEventType::Cordoned, stored),
        Change::Uncordoned => event(v1::NodeEventType::Uncordoned, stored),
        Change::Relabeled { old, new } => v1::NodeEvent {
            old_labels: old,
            new_labels: new,
            ..event(v1::NodeEventType::Relabeled, stored)
        },
        Change::Tainted { old, new } => v1::NodeEvent {
            old_taints: old.into_iter().map(v1::Taint::from).collect(),
            new_taints: new.into_iter().map(v1::Taint::from).collect(),
            ..event(v1::NodeEventType::Tainted, stored)
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use everynode_core::model::{ObjectMeta, Taint};

    use super::*;

    fn stored() -> Stored {
        Stored {
            node: Node {
                metadata: Some(ObjectMeta {
                    name: "n1".into(),
                    resource_version: "7".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            revision: 7,
        }
    }

    #[test]
    fn relabel_and_taint_events_carry_old_and_new() {
        let old = BTreeMap::from([("a".to_string(), "1".to_string())]);
        let new = BTreeMap::from([("a".to_string(), "2".to_string())]);
        let e = change_event(
            Change::Relabeled {
                old: old.clone(),
                new: new.clone(),
            },
            &stored(),
        );
        assert_eq!(e.r#type(), v1::NodeEventType::Relabeled);
        assert_eq!((e.old_labels, e.new_labels, e.revision), (old, new, 7));

        let taint = Taint {
            key: "k".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let e = change_event(
            Change::Tainted {
                old: vec![],
                new: vec![taint],
            },
            &stored(),
        );
        assert_eq!(e.r#type(), v1::NodeEventType::Tainted);
        assert!(e.old_taints.is_empty());
        assert_eq!(e.new_taints[0].key, "k");
        assert!(e.old_labels.is_empty() && e.new_labels.is_empty());
    }

    #[test]
    fn stored_values_have_no_resource_version_and_reads_get_the_revision() {
        let value = for_storage(&stored().node);
        assert_eq!(
            value.metadata.as_ref().map(|m| m.resource_version.as_str()),
            Some("")
        );
        assert_eq!(
            with_version(value, 9).metadata.map(|m| m.resource_version),
            Some("9".into())
        );
    }
}
