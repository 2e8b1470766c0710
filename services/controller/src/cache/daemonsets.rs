//! The DaemonSet cache: every DaemonSet by key, by uid, with its selector parsed once (the
//! pod event router matches orphans against every selector of a namespace).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use everynode_api::v1;
use everynode_bus::DaemonSetKey;
use everynode_core::labels::Selector;
use everynode_core::model::DaemonSet;

use super::stamp;
use crate::informer::Cache;

struct Item {
    ds: Arc<DaemonSet>,
    /// The selector, when it is usable for adoption: valid and neither empty nor absent.
    selector: Option<Selector>,
    revision: u64,
}

/// DaemonSets by key and by uid.
#[derive(Default)]
pub struct DaemonSetCache {
    items: HashMap<DaemonSetKey, Item>,
    by_uid: HashMap<String, DaemonSetKey>,
}

fn uid(ds: &DaemonSet) -> &str {
    ds.metadata.as_ref().map_or("", |m| m.uid.as_str())
}

fn usable_selector(ds: &DaemonSet) -> Option<Selector> {
    let given = ds.spec.as_ref().and_then(|s| s.selector.as_ref());
    match Selector::from_label_selector(given) {
        Ok(selector @ Selector::Requirements(_)) if !selector.is_everything() => Some(selector),
        _ => None,
    }
}

impl DaemonSetCache {
    /// The DaemonSet at `key`.
    pub fn get(&self, key: &DaemonSetKey) -> Option<Arc<DaemonSet>> {
        self.items.get(key).map(|i| Arc::clone(&i.ds))
    }

    /// The key of the live DaemonSet with `uid`.
    pub fn key_of_uid(&self, uid: &str) -> Option<&DaemonSetKey> {
        self.by_uid.get(uid)
    }

    /// True when a DaemonSet with `uid` is cached.
    pub fn has_uid(&self, uid: &str) -> bool {
        self.by_uid.contains_key(uid)
    }

    /// Every key.
    pub fn all_keys(&self) -> Vec<DaemonSetKey> {
        self.items.keys().cloned().collect()
    }

    /// Every DaemonSet that is not being deleted (the ones node changes can concern).
    pub fn live(&self) -> Vec<(DaemonSetKey, Arc<DaemonSet>)> {
        self.items
            .iter()
            .filter(|(_, i)| !i.ds.metadata.as_ref().is_some_and(|m| m.is_being_deleted()))
            .map(|(k, i)| (k.clone(), Arc::clone(&i.ds)))
            .collect()
    }

    /// The DaemonSets of `namespace`, not being deleted, whose selector matches `labels` (the
    /// candidates to adopt an orphan with these labels).
    pub fn matching(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<DaemonSetKey> {
        self.items
            .iter()
            .filter(|(k, _)| k.namespace() == namespace)
            .filter(|(_, i)| !i.ds.metadata.as_ref().is_some_and(|m| m.is_being_deleted()))
            .filter(|(_, i)| i.selector.as_ref().is_some_and(|s| s.matches(labels)))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The number of DaemonSets.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Cache for DaemonSetCache {
    type Key = DaemonSetKey;
    type Proto = v1::DaemonSet;
    type Object = DaemonSet;

    fn decode(key: &DaemonSetKey, value: v1::DaemonSet, revision: u64) -> DaemonSet {
        let mut ds = DaemonSet::from(value);
        stamp(&mut ds.metadata, revision, key.name());
        if let Some(meta) = ds.metadata.as_mut()
            && meta.namespace.is_empty()
        {
            meta.namespace = key.namespace().to_string();
        }
        ds
    }

    fn put(
        &mut self,
        key: &DaemonSetKey,
        object: &Arc<DaemonSet>,
        revision: u64,
    ) -> Option<Arc<DaemonSet>> {
        let item = Item {
            ds: Arc::clone(object),
            selector: usable_selector(object),
            revision,
        };
        let old = self.items.insert(key.clone(), item).map(|i| i.ds);
        if let Some(old) = &old
            && uid(old) != uid(object)
        {
            self.by_uid.remove(uid(old));
        }
        if !uid(object).is_empty() {
            self.by_uid.insert(uid(object).to_string(), key.clone());
        }
        old
    }

    fn remove(&mut self, key: &DaemonSetKey) -> Option<Arc<DaemonSet>> {
        let old = self.items.remove(key)?.ds;
        if self.by_uid.get(uid(&old)) == Some(key) {
            self.by_uid.remove(uid(&old));
        }
        Some(old)
    }

    fn revision(&self, key: &DaemonSetKey) -> Option<u64> {
        self.items.get(key).map(|i| i.revision)
    }

    fn keys(&self) -> Vec<DaemonSetKey> {
        self.all_keys()
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{DaemonSetSpec, LabelSelector, ObjectMeta};

    use super::*;

    fn ds(name: &str, uid: &str, selector: Option<&[(&str, &str)]>) -> Arc<DaemonSet> {
        Arc::new(DaemonSet {
            metadata: Some(ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                uid: uid.into(),
                ..Default::default()
            }),
            spec: Some(DaemonSetSpec {
                selector: selector.map(|s| LabelSelector {
                    match_labels: s
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    fn key(name: &str) -> DaemonSetKey {
        DaemonSetKey::new("default", name).unwrap()
    }

    #[test]
    fn a_recreated_daemonset_replaces_the_old_uid() {
        let mut cache = DaemonSetCache::default();
        cache.put(&key("a"), &ds("a", "u1", Some(&[("app", "a")])), 1);
        cache.put(&key("a"), &ds("a", "u2", Some(&[("app", "a")])), 2);
        assert!(!cache.has_uid("u1"));
        assert_eq!(cache.key_of_uid("u2"), Some(&key("a")));
        cache.remove(&key("a"));
        assert!(!cache.has_uid("u2"));
    }

    #[test]
    fn orphans_match_only_usable_selectors_of_their_namespace() {
        let mut cache = DaemonSetCache::default();
        cache.put(&key("a"), &ds("a", "u1", Some(&[("app", "a")])), 1);
        cache.put(&key("all"), &ds("all", "u2", Some(&[])), 2);
        cache.put(&key("none"), &ds("none", "u3", None), 3);
        let labels = BTreeMap::from([("app".to_string(), "a".to_string())]);
        assert_eq!(cache.matching("default", &labels), vec![key("a")]);
        assert!(cache.matching("other", &labels).is_empty());
    }
}
