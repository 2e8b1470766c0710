//! DaemonSets in the KV bucket `daemonsets`, and their events.
//!
//! The stored value is the `everynode.v1.DaemonSet` without its `resourceVersion`: the version
//! of an object is the KV revision of its key, filled in on every read. Every write is a
//! compare-and-set (create-if-absent, or update/delete at an expected revision) and is followed
//! by a `DaemonSetEvent` on `everynode.events.daemonset.<ns>.<name>`. The KV bucket is the
//! truth; the event is a hint for fast reaction, so a failure to publish it is logged and
//! retried a few times but does not undo the write.

use std::time::Duration;

use everynode_api::v1;
use everynode_bus::async_nats::jetstream;
use everynode_bus::names::{DaemonSetKey, EventSubject, KeyFilter};
use everynode_bus::{Change, Changes, publish_event_retrying};
use everynode_core::model::DaemonSet;
use everynode_service::Shutdown;
use futures::StreamExt;

use crate::error::Error;

/// Namespace and name of a DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl Key {
    /// The key of `namespace`/`name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The key of a stored (defaulted) object.
    pub fn of(ds: &DaemonSet) -> Self {
        Self::new(ds.namespace(), ds.name())
    }

    /// The key a request names: its namespace defaults to `default`.
    pub fn of_request(ds: &DaemonSet) -> Self {
        let namespace = ds.namespace();
        Self::new(
            if namespace.is_empty() {
                "default"
            } else {
                namespace
            },
            ds.name(),
        )
    }

    fn bus(&self) -> Result<DaemonSetKey, Error> {
        DaemonSetKey::new(&self.namespace, &self.name).map_err(Error::EmptyName)
    }
}

/// An object and its revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// The object, with `metadata.resourceVersion` set to `revision`.
    pub object: DaemonSet,
    /// The KV revision of the object (for a removed object: its last one).
    pub revision: u64,
    /// True when the write removed the object.
    pub removed: bool,
}

/// The `daemonsets` bucket and the events stream.
#[derive(Clone)]
pub struct Store {
    kv: everynode_bus::Store<DaemonSetKey, v1::DaemonSet>,
    js: jetstream::Context,
}

fn with_version(value: v1::DaemonSet, revision: u64) -> DaemonSet {
    let mut ds = DaemonSet::from(value);
    ds.metadata
        .get_or_insert_with(Default::default)
        .resource_version = revision.to_string();
    ds
}

fn for_storage(ds: &DaemonSet) -> v1::DaemonSet {
    let mut ds = ds.clone();
    if let Some(meta) = ds.metadata.as_mut() {
        meta.resource_version.clear();
    }
    ds.into()
}

impl Store {
    /// Opens the bucket (created at start-up by `Bus::ensure`).
    pub async fn open(js: jetstream::Context) -> Result<Self, everynode_bus::Error> {
        let kv = everynode_bus::Store::open(&js).await?;
        Ok(Self { kv, js })
    }

    /// The object at `key`, if any.
    pub async fn get(&self, key: &Key) -> Result<Option<Versioned>, Error> {
        let found = self
            .kv
            .get(&key.bus()?)
            .await
            .map_err(|e| Error::from_bus(&key.name, e))?;
        Ok(found.map(|v| Versioned {
            object: with_version(v.value, v.revision),
            revision: v.revision,
            removed: false,
        }))
    }

    /// Every object, and the revision the listing is complete up to.
    pub async fn list(&self) -> Result<(Vec<Versioned>, u64), Error> {
        let listing = self.kv.list().await.map_err(|e| Error::from_bus("", e))?;
        let mut items: Vec<Versioned> = listing
            .entries
            .into_iter()
            .map(|e| Versioned {
                object: with_version(e.value, e.revision),
                revision: e.revision,
                removed: false,
            })
            .collect();
        items.sort_by(|a, b| {
            (a.object.namespace(), a.object.name()).cmp(&(b.object.namespace(), b.object.name()))
        });
        Ok((items, listing.revision))
    }

    /// Stores a new object; `ALREADY_EXISTS` when the key is taken.
    pub async fn create(&self, key: &Key, ds: &DaemonSet) -> Result<Versioned, Error> {
        let revision = self
            .kv
            .create(&key.bus()?, &for_storage(ds))
            .await
            .map_err(|e| Error::from_bus(&key.name, e))?;
        let stored = Versioned {
            object: with_version(for_storage(ds), revision),
            revision,
            removed: false,
        };
        self.publish(v1::DaemonSetEventType::Added, &stored).await;
        Ok(stored)
    }

    /// Replaces the object if its key is still at `revision`.
    pub async fn update(
        &self,
        key: &Key,
        ds: &DaemonSet,
        revision: u64,
    ) -> Result<Versioned, Error> {
        let revision = self
            .kv
            .update(&key.bus()?, &for_storage(ds), revision)
            .await
            .map_err(|e| Error::from_bus(&key.name, e))?;
        let stored = Versioned {
            object: with_version(for_storage(ds), revision),
            revision,
            removed: false,
        };
        self.publish(v1::DaemonSetEventType::Modified, &stored)
            .await;
        Ok(stored)
    }

    /// Removes the object if its key is still at `revision`; `last` is its final state.
    pub async fn remove(
        &self,
        key: &Key,
        last: &DaemonSet,
        revision: u64,
    ) -> Result<Versioned, Error> {
        self.kv
            .delete(&key.bus()?, Some(revision))
            .await
            .map_err(|e| Error::from_bus(&key.name, e))?;
        let removed = Versioned {
            object: with_version(for_storage(last), revision),
            revision,
            removed: true,
        };
        self.publish(v1::DaemonSetEventType::Deleted, &removed)
            .await;
        Ok(removed)
    }

    /// Every change after `revision`.
    pub async fn changes(
        &self,
        from_revision: u64,
    ) -> Result<Changes<DaemonSetKey, v1::DaemonSet>, Error> {
        self.kv
            .watch(&KeyFilter::all(), from_revision)
            .await
            .map_err(|e| Error::from_bus("", e))
    }

    /// Waits until `key` is removed (after `revision`), at most `timeout` or until shutdown.
    /// Returns the object's last state when it was removed in time.
    pub async fn wait_removed(
        &self,
        key: &Key,
        revision: u64,
        timeout: Duration,
        shutdown: &Shutdown,
    ) -> Result<Option<DaemonSet>, Error> {
        let bus_key = key.bus()?;
        let mut changes = self
            .kv
            .watch(
                &KeyFilter::<DaemonSetKey>::namespace(&key.namespace).map_err(Error::EmptyName)?,
                revision + 1,
            )
            .await
            .map_err(|e| Error::from_bus(&key.name, e))?;
        let mut last = None;
        let wait = async {
            while let Some(change) = changes.next().await {
                match change.map_err(|e| Error::from_bus(&key.name, e))? {
                    Change::Put {
                        key: k,
                        value,
                        revision,
                    } if k == bus_key => {
                        last = Some(with_version(value, revision));
                    }
                    Change::Deleted { key: k, .. } if k == bus_key => return Ok(true),
                    _ => {}
                }
            }
            Ok::<bool, Error>(false)
        };
        let removed = tokio::select! {
            removed = tokio::time::timeout(timeout, wait) => removed.unwrap_or(Ok(false))?,
            () = shutdown.signal() => false,
        };
        if !removed {
            return Ok(None);
        }
        match last {
            Some(ds) => Ok(Some(ds)),
            None => Ok(self.get(key).await?.map(|v| v.object)),
        }
    }

    async fn publish(&self, kind: v1::DaemonSetEventType, stored: &Versioned) {
        let Ok(key) = DaemonSetKey::new(stored.object.namespace(), stored.object.name()) else {
            return;
        };
        let subject = EventSubject::DaemonSet(key);
        let event = v1::DaemonSetEvent {
            r#type: kind.into(),
            object: Some(stored.object.clone().into()),
            revision: stored.revision,
        };
        if let Err(e) = publish_event_retrying(&self.js, &subject, &event).await {
            tracing::error!(error = %e, subject = %subject.render(), "DaemonSet event not published; watchers of the KV bucket still see the change");
        }
    }
}
