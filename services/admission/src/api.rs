//! The `everynode.v1.DaemonSets` gRPC service: requests in, [`strategy`] decides, [`Store`]
//! writes with compare-and-set and publishes the event.
//!
//! Every write is read-modify-compare-and-set: when the client gave a `resourceVersion`, a
//! stale one is `ABORTED`; when it did not, a concurrent write is retried on the fresh object,
//! so two writers never lose each other's update.

use std::pin::Pin;
use std::time::Duration;

use everynode_api::v1;
use everynode_api::v1::daemon_sets_server::DaemonSets;
use everynode_core::labels::Selector;
use everynode_core::model::{DaemonSet, Timestamp};
use everynode_service::Shutdown;
use futures::Stream;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::store::{Key, Store, Versioned};
use crate::strategy::{self, Updated};
use crate::watch;

/// How many times a write without a client-given resourceVersion is retried on conflict.
const CAS_RETRIES: usize = 16;

/// The finalizer that keeps a DaemonSet until its pods are gone (foreground deletion).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer that keeps a DaemonSet until its pods are released (orphan deletion).
pub const ORPHAN_FINALIZER: &str = "orphan";

/// The DaemonSets service.
#[derive(Clone)]
pub struct DaemonSetsApi {
    store: Store,
    shutdown: Shutdown,
    foreground_wait: Duration,
}

impl DaemonSetsApi {
    /// A service over `store`; foreground deletes wait at most `foreground_wait`.
    pub fn new(store: Store, shutdown: Shutdown, foreground_wait: Duration) -> Self {
        Self {
            store,
            shutdown,
            foreground_wait,
        }
    }
}

fn required(ds: Option<v1::DaemonSet>) -> Result<DaemonSet, Error> {
    ds.map(DaemonSet::from)
        .ok_or_else(|| Error::BadRequest("daemon_set: Required value".into()))
}

fn invalid(ds: &DaemonSet, errors: Vec<everynode_core::validation::FieldError>) -> Error {
    Error::Invalid {
        name: ds.name().to_string(),
        errors,
    }
}

fn parse_selector(selector: &str) -> Result<Selector, Error> {
    Selector::parse(selector).map_err(Error::InvalidSelector)
}

/// Parses a client-given resourceVersion; empty means "none given".
fn parse_version(ds_name: &str, version: &str) -> Result<Option<u64>, Error> {
    if version.is_empty() {
        return Ok(None);
    }
    version.parse().map(Some).map_err(|_| Error::Invalid {
        name: ds_name.to_string(),
        errors: vec![everynode_core::validation::FieldError::invalid(
            "metadata.resourceVersion",
            version,
            "must be a resourceVersion returned by the server",
        )],
    })
}

fn namespace_or_default(namespace: &str) -> &str {
    if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

impl DaemonSetsApi {
    /// Reads, applies `change` and writes with compare-and-set, retrying on a concurrent write
    /// unless the caller pinned a version. `change` returns what to do with the current object.
    async fn read_modify_write<F>(
        &self,
        key: &Key,
        pinned: Option<u64>,
        mut change: F,
    ) -> Result<Versioned, Error>
    where
        F: FnMut(&Versioned) -> Result<Write, Error>,
    {
        for _ in 0..CAS_RETRIES {
            let current = self
                .store
                .get(key)
                .await?
                .ok_or_else(|| Error::NotFound(key.name.clone()))?;
            if pinned.is_some_and(|v| v != current.revision) {
                return Err(Error::Conflict(key.name.clone()));
            }
            let result = match change(&current)? {
                Write::Nothing => return Ok(current),
                Write::Store(ds) => self.store.update(key, &ds, current.revision).await,
                Write::Remove(ds) => self.store.remove(key, &ds, current.revision).await,
            };
            match result {
                Ok(stored) => return Ok(stored),
                Err(Error::Conflict(_)) if pinned.is_none() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(key.name.clone()))
    }
}

/// What a read-modify-write does.
enum Write {
    /// Leave the object as it is.
    Nothing,
    /// Store this object.
    Store(DaemonSet),
    /// Remove the object; this is its last state.
    Remove(DaemonSet),
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::DaemonSetsWatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DaemonSets for DaemonSetsApi {
    async fn create(
        &self,
        request: Request<v1::DaemonSetsCreateRequest>,
    ) -> Result<Response<v1::DaemonSetsCreateResponse>, Status> {
        let v1::DaemonSetsCreateRequest {
            daemon_set,
            dry_run,
        } = request.into_inner();
        let ds = required(daemon_set)?;
        let uid = uuid::Uuid::new_v4().to_string();
        let prepared = strategy::prepare_create(ds.clone(), Timestamp::now(), uid)
            .map_err(|e| invalid(&ds, e))?;
        let key = Key::of(&prepared);
        let stored = if dry_run {
            // A dry run answers what the real create would: ALREADY_EXISTS for a taken name.
            if self.store.get(&key).await?.is_some() {
                return Err(Error::AlreadyExists(key.name).into());
            }
            prepared
        } else {
            self.store.create(&key, &prepared).await?.object
        };
        Ok(Response::new(v1::DaemonSetsCreateResponse {
            daemon_set: Some(stored.into()),
        }))
    }

    async fn get(
        &self,
        request: Request<v1::DaemonSetsGetRequest>,
    ) -> Result<Response<v1::DaemonSetsGetResponse>, Status> {
        let v1::DaemonSetsGetRequest { namespace, name } = request.into_inner();
        let key = Key::new(namespace_or_default(&namespace), &name);
        let found = self
            .store
            .get(&key)
            .await?
            .ok_or_else(|| Error::NotFound(name.clone()))?;
        Ok(Response::new(v1::DaemonSetsGetResponse {
            daemon_set: Some(found.object.into()),
        }))
    }

    async fn list(
        &self,
        request: Request<v1::DaemonSetsListRequest>,
    ) -> Result<Response<v1::DaemonSetsListResponse>, Status> {
        let v1::DaemonSetsListRequest {
            namespace,
            label_selector,
        } = request.into_inner();
        let selector = parse_selector(&label_selector)?;
        let (items, revision) = self.store.list().await?;
        let items = items
            .into_iter()
            .map(|v| v.object)
            .filter(|ds| namespace.is_empty() || ds.namespace() == namespace)
            .filter(|ds| {
                selector.matches(
                    &ds.metadata
                        .as_ref()
                        .map(|m| m.labels.clone())
                        .unwrap_or_default(),
                )
            })
            .map(v1::DaemonSet::from)
            .collect();
        Ok(Response::new(v1::DaemonSetsListResponse {
            items,
            resource_version: revision.to_string(),
        }))
    }

    async fn update(
        &self,
        request: Request<v1::DaemonSetsUpdateRequest>,
    ) -> Result<Response<v1::DaemonSetsUpdateResponse>, Status> {
        let v1::DaemonSetsUpdateRequest {
            daemon_set,
            dry_run,
        } = request.into_inner();
        let new = required(daemon_set)?;
        let key = Key::of_request(&new);
        let version = new
            .metadata
            .as_ref()
            .map(|m| m.resource_version.clone())
            .unwrap_or_default();
        let pinned = parse_version(&key.name, &version)?;
        if dry_run {
            let current = self
                .store
                .get(&key)
                .await?
                .ok_or_else(|| Error::NotFound(key.name.clone()))?;
            if pinned.is_some_and(|v| v != current.revision) {
                return Err(Error::Conflict(key.name).into());
            }
            let out = match strategy::prepare_update(new.clone(), &current.object)
                .map_err(|e| invalid(&new, e))?
            {
                Updated::Store(ds) | Updated::Remove(ds) => ds,
            };
            return Ok(Response::new(v1::DaemonSetsUpdateResponse {
                daemon_set: Some(out.into()),
            }));
        }
        let stored = self
            .read_modify_write(&key, pinned, |current| {
                match strategy::prepare_update(new.clone(), &current.object)
                    .map_err(|e| invalid(&new, e))?
                {
                    Updated::Store(ds) if ds == current.object => Ok(Write::Nothing),
                    Updated::Store(ds) => Ok(Write::Store(ds)),
                    Updated::Remove(ds) => Ok(Write::Remove(ds)),
                }
            })
            .await?;
        Ok(Response::new(v1::DaemonSetsUpdateResponse {
            daemon_set: Some(stored.object.into()),
        }))
    }

    async fn update_status(
        &self,
        request: Request<v1::DaemonSetsUpdateStatusRequest>,
    ) -> Result<Response<v1::DaemonSetsUpdateStatusResponse>, Status> {
        let v1::DaemonSetsUpdateStatusRequest { daemon_set } = request.into_inner();
        let new = required(daemon_set)?;
        let key = Key::of_request(&new);
        let version = new
            .metadata
            .as_ref()
            .map(|m| m.resource_version.clone())
            .unwrap_or_default();
        let pinned = parse_version(&key.name, &version)?;
        let stored = self
            .read_modify_write(&key, pinned, |current| {
                let ds = strategy::prepare_status_update(&new, &current.object)
                    .map_err(|e| invalid(&new, e))?;
                Ok(if ds == current.object {
                    Write::Nothing
                } else {
                    Write::Store(ds)
                })
            })
            .await?;
        Ok(Response::new(v1::DaemonSetsUpdateStatusResponse {
            daemon_set: Some(stored.object.into()),
        }))
    }

    async fn delete(
        &self,
        request: Request<v1::DaemonSetsDeleteRequest>,
    ) -> Result<Response<v1::DaemonSetsDeleteResponse>, Status> {
        let v1::DaemonSetsDeleteRequest {
            namespace,
            name,
            propagation_policy,
            uid,
            resource_version,
        } = request.into_inner();
        let key = Key::new(namespace_or_default(&namespace), &name);
        let policy = v1::PropagationPolicy::try_from(propagation_policy).map_err(|_| {
            Error::BadRequest(format!(
                "propagation_policy: unknown value {propagation_policy}"
            ))
        })?;
        let finalizer = match policy {
            v1::PropagationPolicy::Unspecified | v1::PropagationPolicy::Background => None,
            v1::PropagationPolicy::Foreground => Some(FOREGROUND_FINALIZER),
            v1::PropagationPolicy::Orphan => Some(ORPHAN_FINALIZER),
        };
        let pinned = parse_version(&name, &resource_version)?;
        let stamp = Timestamp::now();
        let stored = self
            .read_modify_write(&key, pinned, |current| {
                let meta = current.object.metadata.clone().unwrap_or_default();
                if !uid.is_empty() && uid != meta.uid {
                    return Err(Error::Conflict(key.name.clone()));
                }
                let mut ds = current.object.clone();
                let m = ds.metadata.get_or_insert_with(Default::default);
                if let Some(f) = finalizer.filter(|f| !m.finalizers.iter().any(|x| x == f)) {
                    m.finalizers.push(f.to_string());
                }
                if m.finalizers.is_empty() {
                    return Ok(Write::Remove(ds));
                }
                if m.deletion_timestamp.is_none() {
                    m.deletion_timestamp = Some(stamp);
                    m.deletion_grace_period_seconds = Some(0);
                }
                Ok(if ds == current.object {
                    Write::Nothing
                } else {
                    Write::Store(ds)
                })
            })
            .await?;
        let last = if policy == v1::PropagationPolicy::Foreground && !stored.removed {
            self.store
                .wait_removed(&key, stored.revision, self.foreground_wait, &self.shutdown)
                .await?
                .unwrap_or(stored.object)
        } else {
            stored.object
        };
        Ok(Response::new(v1::DaemonSetsDeleteResponse {
            daemon_set: Some(last.into()),
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::DaemonSetsWatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let v1::DaemonSetsWatchRequest {
            namespace,
            label_selector,
            resource_version,
        } = request.into_inner();
        let selector = parse_selector(&label_selector)?;
        let from = parse_version("", &resource_version)?;
        let stream = watch::start(self.store.clone(), namespace, selector, from).await?;
        Ok(Response::new(Box::pin(self.shutdown.guard_stream(stream))))
    }
}
