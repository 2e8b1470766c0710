//! The DaemonSets watch: a list, then the KV bucket's changes from the list's revision, turned
//! into ADDED / MODIFIED / DELETED events for the objects a client selected.
//!
//! A watch filtered by namespace or labels sees an object leave its view as DELETED and enter
//! it as ADDED, as in Kubernetes. A watch resumed from a resourceVersion knows which objects
//! existed unchanged at that version; an object that existed then but changed since is
//! reported as ADDED, which clients treat as an upsert (as Kubernetes informers do); an object
//! deleted since that version is reported as DELETED with its namespace, name and the revision
//! of its removal (its last state is gone from the store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use everynode_api::v1;
use everynode_bus::Change;
use everynode_bus::names::DaemonSetKey;
use everynode_core::labels::Selector;
use everynode_core::model::{DaemonSet, ObjectMeta};
use futures::{Stream, StreamExt, stream};
use tonic::Status;

use crate::error::Error;
use crate::store::Store;

/// What a watcher reads when the store's change feed breaks; the cause goes to the log.
const WATCH_INTERRUPTED: &str =
    "watch interrupted: the store is unavailable; watch again from the last resourceVersion";

type Event = Result<v1::DaemonSetsWatchResponse, Status>;

/// What a watch selects.
struct View {
    namespace: String,
    selector: Selector,
}

impl View {
    fn shows(&self, ds: &DaemonSet) -> bool {
        (self.namespace.is_empty() || ds.namespace() == self.namespace)
            && self.selector.matches(
                &ds.metadata
                    .as_ref()
                    .map(|m| m.labels.clone())
                    .unwrap_or_default(),
            )
    }
}

fn event(kind: v1::WatchEventType, ds: DaemonSet) -> Event {
    Ok(v1::DaemonSetsWatchResponse {
        r#type: kind.into(),
        object: Some(ds.into()),
    })
}

/// Starts a watch: from `from` (exclusive) when given, else from now with an ADDED event for
/// every selected object first.
pub async fn start(
    store: Store,
    namespace: String,
    selector: Selector,
    from: Option<u64>,
) -> Result<impl Stream<Item = Event> + Send + 'static, Error> {
    let view = View {
        namespace,
        selector,
    };
    let (items, listed) = store.list().await?;
    let start = from.unwrap_or(listed);
    let mut seen: HashMap<(String, String), DaemonSet> = HashMap::new();
    let mut initial = Vec::new();
    for item in items {
        if item.revision > start || !view.shows(&item.object) {
            continue;
        }
        let id = (
            item.object.namespace().to_string(),
            item.object.name().to_string(),
        );
        if from.is_none() {
            initial.push(event(v1::WatchEventType::Added, item.object.clone()));
        }
        seen.insert(id, item.object);
    }
    let changes = store.changes(start + 1).await?;
    let resumed = from.is_some();
    let state = Arc::new(Mutex::new(seen));
    let updates = changes.filter_map(move |change| {
        let out = match change {
            Ok(change) => translate(&view, &state, resumed, change),
            Err(e) => Some(Err(everynode_service::status::unavailable(
                WATCH_INTERRUPTED,
                &e,
            ))),
        };
        async move { out }
    });
    Ok(stream::iter(initial).chain(updates))
}

fn translate(
    view: &View,
    state: &Mutex<HashMap<(String, String), DaemonSet>>,
    resumed: bool,
    change: Change<DaemonSetKey, v1::DaemonSet>,
) -> Option<Event> {
    let mut seen = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match change {
        Change::Put {
            key,
            value,
            revision,
        } => {
            let mut ds = DaemonSet::from(value);
            ds.metadata
                .get_or_insert_with(Default::default)
                .resource_version = revision.to_string();
            let id = (key.namespace().to_string(), key.name().to_string());
            match (view.shows(&ds), seen.contains_key(&id)) {
                (true, true) => {
                    seen.insert(id, ds.clone());
                    Some(event(v1::WatchEventType::Modified, ds))
                }
                (true, false) => {
                    seen.insert(id, ds.clone());
                    Some(event(v1::WatchEventType::Added, ds))
                }
                (false, true) => {
                    seen.remove(&id);
                    Some(event(v1::WatchEventType::Deleted, ds))
                }
                (false, false) => None,
            }
        }
        Change::Deleted { key, revision } => {
            let id = (key.namespace().to_string(), key.name().to_string());
            let last = seen.remove(&id).or_else(|| {
                // Resumed from a version: the object may have existed then and been removed
                // before this watch listed the store.
                let in_view = view.namespace.is_empty() || view.namespace == id.0;
                (resumed && in_view).then(|| DaemonSet {
                    metadata: Some(ObjectMeta {
                        namespace: id.0.clone(),
                        name: id.1.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            });
            last.map(|mut ds| {
                ds.metadata
                    .get_or_insert_with(Default::default)
                    .resource_version = revision.to_string();
                event(v1::WatchEventType::Deleted, ds)
            })
        }
    }
}
