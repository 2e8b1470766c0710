//! The Nodes watch: a list, then the `nodes` bucket's changes from the list's revision, turned
//! into ADDED / MODIFIED / DELETED for the nodes a label selector picks.
//!
//! [`View`] is the translation, a pure state machine over the bus's KV changes (nothing in it is
//! specific to nodes but the label accessor; it could move to a library and serve the
//! DaemonSets watch too):
//! - a node entering the selection (created, or relabeled to match) is ADDED; one changing
//!   inside it is MODIFIED; one leaving it (relabeled away, or removed) is DELETED with its
//!   last state, as in Kubernetes;
//! - resumed from a client's resourceVersion, the view knows the nodes that existed unchanged
//!   at that version (from the listing) and reports a node changed since as ADDED, which
//!   clients treat as an upsert (as Kubernetes informers do). A node removed after that version
//!   whose last state is no longer known (the bucket keeps one value per key) is still reported
//!   as DELETED, with just its name and the revision of the removal, so a resumed client never
//!   misses a removal.
//!
//! Changes arrive in revision order, so a watch sees later changes in order.

use std::collections::HashMap;

use everynode_api::v1;
use everynode_bus::Change;
use everynode_bus::names::NodeKey;
use everynode_core::labels::Selector;
use everynode_core::model::{Node, ObjectMeta};
use futures::{Stream, StreamExt, stream};
use tonic::Status;

use crate::error::Error;
use crate::node;
use crate::store::{NodeStore, with_version};

/// What a watcher reads when the store's change feed breaks; the cause goes to the log.
const WATCH_INTERRUPTED: &str =
    "watch interrupted: the store is unavailable; watch again from the last resourceVersion";

/// One item of a watch stream.
pub type Event = Result<v1::NodesWatchResponse, Status>;

/// What a watch shows, and what it has shown: the ADDED/MODIFIED/DELETED translation.
#[derive(Debug)]
pub struct View {
    selector: Selector,
    /// Selected nodes the client knows, by name.
    seen: HashMap<String, Node>,
    /// Deletions at or below this revision may concern nodes the client knew from before the
    /// listing; they are reported even without a known last state.
    listed: u64,
}

impl View {
    /// A view of the nodes `selector` picks; deletions at or below `listed` of nodes it never
    /// saw are still reported (see the module docs).
    pub fn new(selector: Selector, listed: u64) -> Self {
        Self {
            selector,
            seen: HashMap::new(),
            listed,
        }
    }

    fn selects(&self, node: &Node) -> bool {
        self.selector.matches(&node::labels(node))
    }

    /// Records a node the client already knows; returns whether the view selects it.
    pub fn seed(&mut self, node: Node) -> bool {
        if !self.selects(&node) {
            return false;
        }
        self.seen.insert(node.name().to_owned(), node);
        true
    }

    /// The watch event for one change of the bucket, if the view shows it.
    pub fn apply(
        &mut self,
        change: Change<NodeKey, v1::Node>,
    ) -> Option<(v1::WatchEventType, Node)> {
        match change {
            Change::Put {
                key,
                value,
                revision,
            } => {
                let node = with_version(value, revision);
                let name = key.name().to_owned();
                match (self.selects(&node), self.seen.contains_key(&name)) {
                    (true, known) => {
                        self.seen.insert(name, node.clone());
                        let kind = if known {
                            v1::WatchEventType::Modified
                        } else {
                            v1::WatchEventType::Added
                        };
                        Some((kind, node))
                    }
                    (false, true) => {
                        self.seen.remove(&name);
                        Some((v1::WatchEventType::Deleted, node))
                    }
                    (false, false) => None,
                }
            }
            Change::Deleted { key, revision } => {
                let last = match self.seen.remove(key.name()) {
                    Some(node) => node,
                    None if revision <= self.listed => Node {
                        metadata: Some(ObjectMeta {
                            name: key.name().to_owned(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    None => return None,
                };
                let mut last = last;
                last.metadata
                    .get_or_insert_with(Default::default)
                    .resource_version = revision.to_string();
                Some((v1::WatchEventType::Deleted, last))
            }
        }
    }
}

fn event(kind: v1::WatchEventType, node: Node) -> Event {
    Ok(v1::NodesWatchResponse {
        r#type: kind.into(),
        object: Some(node.into()),
    })
}

/// Starts a watch: changes after `from` when given, else an ADDED for every selected node and
/// then the changes after the listing.
pub async fn start(
    store: &NodeStore,
    selector: Selector,
    from: Option<u64>,
) -> Result<impl Stream<Item = Event> + Send + 'static, Error> {
    let (nodes, listed) = store.list().await?;
    let start = from.unwrap_or(listed);
    let mut view = View::new(selector, listed);
    let mut initial = Vec::new();
    for stored in nodes {
        if stored.revision > start {
            // Changed after the client's version: the watch delivers it.
            continue;
        }
        let node = stored.node;
        if view.seed(node.clone()) && from.is_none() {
            initial.push(event(v1::WatchEventType::Added, node));
        }
    }
    let changes = store.changes(start + 1).await?;
    let updates = changes
        .scan(view, |view, change| {
            let out = match change {
                Ok(change) => Some(view.apply(change).map(|(kind, node)| event(kind, node))),
                Err(e) => Some(Some(Err(everynode_service::status::unavailable(
                    WATCH_INTERRUPTED,
                    &e,
                )))),
            };
            std::future::ready(out)
        })
        .filter_map(std::future::ready);
    Ok(stream::iter(initial).chain(updates))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn node(name: &str, labels: &[(&str, &str)]) -> v1::Node {
        v1::Node {
            metadata: Some(v1::ObjectMeta {
                name: name.into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn put(name: &str, labels: &[(&str, &str)], revision: u64) -> Change<NodeKey, v1::Node> {
        Change::Put {
            key: NodeKey::new(name).unwrap(),
            value: node(name, labels),
            revision,
        }
    }

    fn deleted(name: &str, revision: u64) -> Change<NodeKey, v1::Node> {
        Change::Deleted {
            key: NodeKey::new(name).unwrap(),
            revision,
        }
    }

    fn kind(out: Option<(v1::WatchEventType, Node)>) -> Option<(v1::WatchEventType, String)> {
        out.map(|(k, n)| {
            let version = n.metadata.map(|m| m.resource_version).unwrap_or_default();
            (k, version)
        })
    }

    #[test]
    fn nodes_entering_and_leaving_the_selection_are_added_and_deleted() {
        use v1::WatchEventType::{Added, Deleted, Modified};
        let mut view = View::new(Selector::parse("zone=a").unwrap(), 10);
        assert_eq!(kind(view.apply(put("n1", &[("zone", "b")], 11))), None);
        assert_eq!(
            kind(view.apply(put("n1", &[("zone", "a")], 12))),
            Some((Added, "12".into()))
        );
        assert_eq!(
            kind(view.apply(put("n1", &[("zone", "a"), ("x", "y")], 13))),
            Some((Modified, "13".into()))
        );
        assert_eq!(
            kind(view.apply(put("n1", &[("zone", "b")], 14))),
            Some((Deleted, "14".into()))
        );
        assert_eq!(kind(view.apply(deleted("n1", 15))), None, "no longer shown");
    }

    #[test]
    fn a_removed_node_is_deleted_with_its_last_state() {
        let mut view = View::new(Selector::everything(), 10);
        assert!(view.seed(with_version(node("n1", &[("zone", "a")]), 5)));
        let (kind, last) = view.apply(deleted("n1", 11)).unwrap();
        assert_eq!(kind, v1::WatchEventType::Deleted);
        assert_eq!(node::labels(&last)["zone"], "a");
        assert_eq!(last.metadata.unwrap().resource_version, "11");
    }

    #[test]
    fn a_resumed_watch_still_reports_removals_it_has_no_state_for() {
        let mut view = View::new(Selector::everything(), 20);
        let (kind, last) = view.apply(deleted("gone", 15)).unwrap();
        assert_eq!(kind, v1::WatchEventType::Deleted);
        assert_eq!(last.name(), "gone");
        assert_eq!(view.apply(deleted("never-seen", 21)), None);
    }
}
