//! The pod cache, indexed for the reconcile and the APIs.
//!
//! Pods are kept in *groups*: the pods controlled by one owner uid, and the orphans (no
//! controller reference) of one namespace. Each group is a shared, copy-on-write vector, so a
//! reconcile hands the planner the `&[Pod]` of its DaemonSet's group without copying a pod
//! (see [`crate::cache::NodeCache`] for the same trick); only orphans that match the
//! DaemonSet's selector are copied, and only while they wait to be adopted. A pod moves
//! between groups when its controller reference changes (adoption, release).
//!
//! Further indexes: by namespace and name (Pods API `Get`, `Delete`), by node (pod GC, the
//! `node_name` filter), and the DaemonSet owners by namespace and name (finding the pods of a
//! DaemonSet that was deleted, or deleted and recreated with a new uid).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use everynode_api::v1;
use everynode_bus::PodKey;
use everynode_core::labels::Selector;
use everynode_core::model::Pod;

use super::stamp;
use crate::informer::Cache;

/// Kind of the owners whose pods the controller manages.
pub const DAEMON_SET_KIND: &str = "DaemonSet";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupId {
    /// Pods whose controller reference has this uid.
    Owner(String),
    /// Pods of this namespace without a controller reference.
    Orphans(String),
}

/// A DaemonSet named by a controller reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OwnerName {
    namespace: String,
    name: String,
}

#[derive(Default)]
struct Group {
    pods: Arc<Vec<Pod>>,
    keys: Vec<PodKey>,
    /// Set for groups of a DaemonSet owner.
    owner: Option<OwnerName>,
}

struct Slot {
    group: GroupId,
    index: usize,
    revision: u64,
}

/// Every pod, grouped by controller and indexed by name and node.
#[derive(Default)]
pub struct PodCache {
    slots: HashMap<PodKey, Slot>,
    groups: HashMap<GroupId, Group>,
    by_name: HashMap<(String, String), Vec<PodKey>>,
    by_node: HashMap<String, HashSet<PodKey>>,
    owners: HashMap<OwnerName, HashSet<String>>,
}

fn group_of(pod: &Pod) -> (GroupId, Option<OwnerName>) {
    let meta = pod.metadata.as_ref();
    match meta.and_then(|m| m.controller_ref()) {
        Some(owner) => {
            let name = (owner.kind == DAEMON_SET_KIND).then(|| OwnerName {
                namespace: pod.namespace().to_string(),
                name: owner.name.clone(),
            });
            (GroupId::Owner(owner.uid.clone()), name)
        }
        None => (GroupId::Orphans(pod.namespace().to_string()), None),
    }
}

impl PodCache {
    /// The pods controlled by the owner with `uid`, without copying them.
    pub fn owned(&self, uid: &str) -> Option<Arc<Vec<Pod>>> {
        self.groups
            .get(&GroupId::Owner(uid.to_string()))
            .map(|g| Arc::clone(&g.pods))
    }

    /// How many pods the owner with `uid` controls.
    pub fn owned_count(&self, uid: &str) -> usize {
        self.groups
            .get(&GroupId::Owner(uid.to_string()))
            .map_or(0, |g| g.pods.len())
    }

    /// Copies of the orphans of `namespace` that `selector` matches and that are not being
    /// deleted (the ones a DaemonSet may adopt).
    pub fn orphans_matching(&self, namespace: &str, selector: &Selector) -> Vec<Pod> {
        static EMPTY: std::collections::BTreeMap<String, String> =
            std::collections::BTreeMap::new();
        let Some(group) = self.groups.get(&GroupId::Orphans(namespace.to_string())) else {
            return Vec::new();
        };
        group
            .pods
            .iter()
            .filter(|p| {
                let meta = p.metadata.as_ref();
                !meta.is_some_and(|m| m.is_being_deleted())
                    && selector.matches(meta.map_or(&EMPTY, |m| &m.labels))
            })
            .cloned()
            .collect()
    }

    /// The uids of the DaemonSets named `namespace`/`name` by pods' controller references
    /// (normally the live one; others are earlier incarnations whose pods are garbage).
    pub fn owner_uids(&self, namespace: &str, name: &str) -> Vec<String> {
        let owner = OwnerName {
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        self.owners
            .get(&owner)
            .map(|uids| uids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every DaemonSet that controls pods: `(uid, namespace, name)`.
    pub fn daemon_set_owners(&self) -> Vec<(String, String, String)> {
        self.owners
            .iter()
            .flat_map(|(owner, uids)| {
                uids.iter()
                    .map(|uid| (uid.clone(), owner.namespace.clone(), owner.name.clone()))
            })
            .collect()
    }

    /// The pod `namespace`/`name` (the first one, should two nodes report the same name).
    pub fn get(&self, namespace: &str, name: &str) -> Option<(&PodKey, &Pod)> {
        let keys = self
            .by_name
            .get(&(namespace.to_string(), name.to_string()))?;
        keys.iter()
            .find_map(|key| self.pod(key).map(|pod| (key, pod)))
    }

    /// The pod at `key`.
    pub fn pod(&self, key: &PodKey) -> Option<&Pod> {
        let slot = self.slots.get(key)?;
        self.groups.get(&slot.group)?.pods.get(slot.index)
    }

    /// Every pod with its key.
    pub fn iter(&self) -> impl Iterator<Item = (&PodKey, &Pod)> {
        self.groups
            .values()
            .flat_map(|g| g.keys.iter().zip(g.pods.iter()))
    }

    /// The nodes that have pods.
    pub fn nodes(&self) -> Vec<String> {
        self.by_node.keys().cloned().collect()
    }

    /// The pods bound to `node`, with their revisions.
    pub fn on_node(&self, node: &str) -> Vec<(PodKey, u64)> {
        self.by_node
            .get(node)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.slots.get(k).map(|s| (k.clone(), s.revision)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The number of pods.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Removes `key` from its group (not from the name and node indexes).
    fn detach(&mut self, key: &PodKey) -> Option<Pod> {
        let slot = self.slots.remove(key)?;
        let group = self.groups.get_mut(&slot.group)?;
        let pods = Arc::make_mut(&mut group.pods);
        let old = pods.swap_remove(slot.index);
        group.keys.swap_remove(slot.index);
        if let Some(moved) = group.keys.get(slot.index)
            && let Some(moved_slot) = self.slots.get_mut(moved)
        {
            moved_slot.index = slot.index;
        }
        if group.keys.is_empty() {
            let owner = group.owner.take();
            self.groups.remove(&slot.group);
            if let (Some(owner), GroupId::Owner(uid)) = (owner, &slot.group)
                && let Some(uids) = self.owners.get_mut(&owner)
            {
                uids.remove(uid);
                if uids.is_empty() {
                    self.owners.remove(&owner);
                }
            }
        }
        Some(old)
    }

    /// Adds `pod` to its group (not to the name and node indexes).
    fn attach(&mut self, key: &PodKey, pod: Pod, revision: u64) {
        let (id, owner) = group_of(&pod);
        let group = self.groups.entry(id.clone()).or_default();
        if group.owner.is_none()
            && let (Some(owner), GroupId::Owner(uid)) = (owner, &id)
        {
            self.owners
                .entry(owner.clone())
                .or_default()
                .insert(uid.clone());
            group.owner = Some(owner);
        }
        let index = group.keys.len();
        Arc::make_mut(&mut group.pods).push(pod);
        group.keys.push(key.clone());
        self.slots.insert(
            key.clone(),
            Slot {
                group: id,
                index,
                revision,
            },
        );
    }
}

impl Cache for PodCache {
    type Key = PodKey;
    type Proto = v1::Pod;
    type Object = Pod;

    fn decode(key: &PodKey, value: v1::Pod, revision: u64) -> Pod {
        let mut pod = Pod::from(value);
        stamp(&mut pod.metadata, revision, key.name());
        if let Some(meta) = pod.metadata.as_mut()
            && meta.namespace.is_empty()
        {
            meta.namespace = key.namespace().to_string();
        }
        pod
    }

    fn put(&mut self, key: &PodKey, object: &Arc<Pod>, revision: u64) -> Option<Arc<Pod>> {
        let (id, _) = group_of(object);
        if let Some(slot) = self.slots.get_mut(key)
            && slot.group == id
        {
            slot.revision = revision;
            let index = slot.index;
            let group = self.groups.get_mut(&id)?;
            let pods = Arc::make_mut(&mut group.pods);
            let old = std::mem::replace(pods.get_mut(index)?, Pod::clone(object));
            return Some(Arc::new(old));
        }
        let old = self.detach(key);
        self.attach(key, Pod::clone(object), revision);
        if old.is_none() {
            self.by_name
                .entry((key.namespace().to_string(), key.name().to_string()))
                .or_default()
                .push(key.clone());
            self.by_node
                .entry(key.node().to_string())
                .or_default()
                .insert(key.clone());
        }
        old.map(Arc::new)
    }

    fn remove(&mut self, key: &PodKey) -> Option<Arc<Pod>> {
        let old = self.detach(key)?;
        let name = (key.namespace().to_string(), key.name().to_string());
        if let Some(keys) = self.by_name.get_mut(&name) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_name.remove(&name);
            }
        }
        if let Some(keys) = self.by_node.get_mut(key.node()) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_node.remove(key.node());
            }
        }
        Some(Arc::new(old))
    }

    fn revision(&self, key: &PodKey) -> Option<u64> {
        self.slots.get(key).map(|s| s.revision)
    }

    fn keys(&self) -> Vec<PodKey> {
        self.slots.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{LabelSelector, ObjectMeta, OwnerReference};

    use super::*;

    fn pod(name: &str, owner: Option<(&str, &str)>, app: &str) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: Some(ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                uid: format!("uid-{name}"),
                labels: [("app".to_string(), app.to_string())].into(),
                owner_references: owner
                    .map(|(ds, uid)| OwnerReference {
                        kind: DAEMON_SET_KIND.into(),
                        name: ds.into(),
                        uid: uid.into(),
                        controller: Some(true),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn key(node: &str, name: &str) -> PodKey {
        PodKey::new(node, "default", name).unwrap()
    }

    fn names(pods: &[Pod]) -> Vec<String> {
        let mut names: Vec<String> = pods.iter().map(|p| p.name().to_string()).collect();
        names.sort();
        names
    }

    fn selector(app: &str) -> Selector {
        Selector::from_label_selector(Some(&LabelSelector {
            match_labels: [("app".to_string(), app.to_string())].into(),
            ..Default::default()
        }))
        .unwrap()
    }

    #[test]
    fn pods_are_grouped_by_controller_and_move_on_adoption() {
        let mut cache = PodCache::default();
        cache.put(&key("n1", "a-1"), &pod("a-1", Some(("a", "ua")), "a"), 1);
        cache.put(&key("n2", "a-2"), &pod("a-2", Some(("a", "ua")), "a"), 2);
        cache.put(&key("n3", "x"), &pod("x", None, "a"), 3);
        cache.put(&key("n3", "y"), &pod("y", None, "b"), 4);
        assert_eq!(names(&cache.owned("ua").unwrap()), ["a-1", "a-2"]);
        assert_eq!(
            names(&cache.orphans_matching("default", &selector("a"))),
            ["x"]
        );

        // Adoption: the agent rewrites x with a controller reference.
        let old = cache.put(&key("n3", "x"), &pod("x", Some(("a", "ua")), "a"), 5);
        assert!(old.is_some());
        assert_eq!(names(&cache.owned("ua").unwrap()), ["a-1", "a-2", "x"]);
        assert!(cache.orphans_matching("default", &selector("a")).is_empty());
        assert_eq!(cache.owned_count("ua"), 3);
        assert_eq!(cache.len(), 4);
    }

    #[test]
    fn removal_keeps_every_index_consistent() {
        let mut cache = PodCache::default();
        for (i, name) in ["p1", "p2", "p3"].iter().enumerate() {
            cache.put(
                &key("n1", name),
                &pod(name, Some(("a", "ua")), "a"),
                i as u64 + 1,
            );
        }
        cache.remove(&key("n1", "p1"));
        assert_eq!(names(&cache.owned("ua").unwrap()), ["p2", "p3"]);
        for name in ["p2", "p3"] {
            assert_eq!(
                cache.get("default", name).map(|(_, p)| p.name()),
                Some(name)
            );
        }
        assert!(cache.get("default", "p1").is_none());
        assert_eq!(cache.on_node("n1").len(), 2);
        cache.remove(&key("n1", "p2"));
        cache.remove(&key("n1", "p3"));
        assert!(cache.owned("ua").is_none());
        assert!(cache.owner_uids("default", "a").is_empty());
        assert!(cache.nodes().is_empty());
        assert!(cache.is_empty());
    }

    #[test]
    fn owners_of_a_name_include_earlier_incarnations() {
        let mut cache = PodCache::default();
        cache.put(&key("n1", "old"), &pod("old", Some(("a", "u-old")), "a"), 1);
        cache.put(&key("n1", "new"), &pod("new", Some(("a", "u-new")), "a"), 2);
        let mut uids = cache.owner_uids("default", "a");
        uids.sort();
        assert_eq!(uids, ["u-new", "u-old"]);
        assert_eq!(cache.daemon_set_owners().len(), 2);
    }

    #[test]
    fn a_snapshot_of_a_group_survives_writes() {
        let mut cache = PodCache::default();
        cache.put(&key("n1", "p"), &pod("p", Some(("a", "ua")), "a"), 1);
        let snapshot = cache.owned("ua").unwrap();
        cache.remove(&key("n1", "p"));
        assert_eq!(names(&snapshot), ["p"]);
    }
}
