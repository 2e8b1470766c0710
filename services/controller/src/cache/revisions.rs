//! The ControllerRevision cache: revisions by key and by namespace. There are few of them
//! (at most `revisionHistoryLimit + 1` per DaemonSet), so readers copy what they need.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use everynode_api::v1;
use everynode_bus::RevisionKey;
use everynode_core::model::ControllerRevision;

use super::stamp;
use crate::informer::Cache;

/// Every ControllerRevision, by key and by namespace.
#[derive(Default)]
pub struct RevisionCache {
    items: HashMap<RevisionKey, (Arc<ControllerRevision>, u64)>,
    by_namespace: HashMap<String, BTreeSet<RevisionKey>>,
}

fn controller_uid(revision: &ControllerRevision) -> Option<&str> {
    revision
        .metadata
        .as_ref()
        .and_then(|m| m.controller_ref())
        .map(|r| r.uid.as_str())
}

impl RevisionCache {
    /// Copies of the revisions of `namespace` that the DaemonSet with `uid` controls or that
    /// have no controller (it may adopt them): what the planner needs.
    pub fn for_daemon_set(&self, namespace: &str, uid: &str) -> Vec<ControllerRevision> {
        self.in_namespace(namespace)
            .filter(|(_, r)| controller_uid(r).is_none_or(|owner| owner == uid))
            .map(|(_, r)| ControllerRevision::clone(r))
            .collect()
    }

    /// The revisions controlled by `uid`, with their keys and store revisions.
    pub fn owned_by(
        &self,
        namespace: &str,
        uid: &str,
    ) -> Vec<(RevisionKey, Arc<ControllerRevision>, u64)> {
        self.in_namespace(namespace)
            .filter(|(_, r)| controller_uid(r) == Some(uid))
            .filter_map(|(k, r)| {
                self.items
                    .get(k)
                    .map(|(_, revision)| (k.clone(), Arc::clone(r), *revision))
            })
            .collect()
    }

    /// The uids of the DaemonSets named `namespace`/`name` that control revisions.
    pub fn owner_uids(&self, namespace: &str, name: &str) -> Vec<String> {
        let mut uids: Vec<String> = self
            .in_namespace(namespace)
            .filter_map(|(_, r)| r.metadata.as_ref().and_then(|m| m.controller_ref()))
            .filter(|o| o.kind == super::DAEMON_SET_KIND && o.name == name)
            .map(|o| o.uid.clone())
            .collect();
        uids.sort();
        uids.dedup();
        uids
    }

    /// Every DaemonSet that controls revisions: `(uid, namespace, name)`.
    pub fn daemon_set_owners(&self) -> Vec<(String, String, String)> {
        let mut owners: Vec<(String, String, String)> = self
            .items
            .values()
            .filter_map(|(r, _)| {
                let meta = r.metadata.as_ref()?;
                let owner = meta.controller_ref()?;
                (owner.kind == super::DAEMON_SET_KIND).then(|| {
                    (
                        owner.uid.clone(),
                        meta.namespace.clone(),
                        owner.name.clone(),
                    )
                })
            })
            .collect();
        owners.sort();
        owners.dedup();
        owners
    }

    /// The revision at `key` and its store revision.
    pub fn get(&self, key: &RevisionKey) -> Option<(Arc<ControllerRevision>, u64)> {
        self.items.get(key).map(|(r, v)| (Arc::clone(r), *v))
    }

    /// The number of revisions.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn in_namespace<'a>(
        &'a self,
        namespace: &str,
    ) -> impl Iterator<Item = (&'a RevisionKey, &'a Arc<ControllerRevision>)> + 'a {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .filter_map(|k| self.items.get(k).map(|(r, _)| (k, r)))
    }
}

impl Cache for RevisionCache {
    type Key = RevisionKey;
    type Proto = v1::ControllerRevision;
    type Object = ControllerRevision;

    fn decode(
        key: &RevisionKey,
        value: v1::ControllerRevision,
        revision: u64,
    ) -> ControllerRevision {
        let mut object = ControllerRevision::from(value);
        stamp(&mut object.metadata, revision, key.name());
        if let Some(meta) = object.metadata.as_mut()
            && meta.namespace.is_empty()
        {
            meta.namespace = key.namespace().to_string();
        }
        object
    }

    fn put(
        &mut self,
        key: &RevisionKey,
        object: &Arc<ControllerRevision>,
        revision: u64,
    ) -> Option<Arc<ControllerRevision>> {
        self.by_namespace
            .entry(key.namespace().to_string())
            .or_default()
            .insert(key.clone());
        self.items
            .insert(key.clone(), (Arc::clone(object), revision))
            .map(|(old, _)| old)
    }

    fn remove(&mut self, key: &RevisionKey) -> Option<Arc<ControllerRevision>> {
        if let Some(keys) = self.by_namespace.get_mut(key.namespace()) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_namespace.remove(key.namespace());
            }
        }
        self.items.remove(key).map(|(old, _)| old)
    }

    fn revision(&self, key: &RevisionKey) -> Option<u64> {
        self.items.get(key).map(|(_, r)| *r)
    }

    fn keys(&self) -> Vec<RevisionKey> {
        self.items.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{ObjectMeta, OwnerReference};

    use super::*;

    fn revision(name: &str, owner: Option<&str>) -> Arc<ControllerRevision> {
        Arc::new(ControllerRevision {
            metadata: Some(ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                owner_references: owner
                    .map(|uid| OwnerReference {
                        kind: "DaemonSet".into(),
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

    #[test]
    fn a_daemonset_sees_its_own_revisions_and_orphans_only() {
        let mut cache = RevisionCache::default();
        let key = |n: &str| RevisionKey::new("default", n).unwrap();
        cache.put(&key("a-1"), &revision("a-1", Some("ua")), 1);
        cache.put(&key("b-1"), &revision("b-1", Some("ub")), 2);
        cache.put(&key("o-1"), &revision("o-1", None), 3);
        let mut names: Vec<String> = cache
            .for_daemon_set("default", "ua")
            .iter()
            .map(|r| r.name().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["a-1", "o-1"]);
        assert_eq!(cache.owned_by("default", "ub").len(), 1);
        cache.remove(&key("b-1"));
        assert!(cache.owned_by("default", "ub").is_empty());
    }
}
