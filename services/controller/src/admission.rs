//! The controller's writes to DaemonSets, through admission (the only writer of KV
//! `daemonsets`): `UpdateStatus` for the status, `Update` to remove a deletion finalizer once
//! its work is done.
//!
//! The channel connects lazily, so the controller starts (and serves its read APIs) before
//! admission is up; calls then fail and the reconcile is retried.

use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1;
use everynode_api::v1::daemon_sets_client::DaemonSetsClient;
use everynode_auth::ClientTls;
use everynode_core::model::{DaemonSet, DaemonSetStatus, ObjectMeta};
use everynode_service::SecurityError;
use tonic::transport::Channel;

use crate::error::Error;

/// Deadline of one call.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for establishing the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of admission's `DaemonSets` service.
#[derive(Debug, Clone)]
pub struct Admission {
    client: DaemonSetsClient<Channel>,
}

impl Admission {
    /// A client of admission at `url` (connected lazily), secured by `tls`.
    pub fn new(url: &str, tls: ClientTls) -> Result<Self, SecurityError> {
        let channel =
            everynode_service::security::channel(url, tls, CONNECT_TIMEOUT, Some(CALL_TIMEOUT))?;
        Ok(Self {
            client: DaemonSetsClient::new(channel).bounded(),
        })
    }

    /// Replaces the status of `ds` (namespace and name from it) with `status`, compare-and-set on
    /// the cached resourceVersion (a status computed from a stale object is not written; the
    /// reconcile runs again on the fresh one).
    pub async fn update_status(
        &self,
        ds: &DaemonSet,
        status: DaemonSetStatus,
    ) -> Result<(), Error> {
        let meta = ds.metadata.as_ref();
        let request = v1::DaemonSetsUpdateStatusRequest {
            daemon_set: Some(
                DaemonSet {
                    metadata: Some(ObjectMeta {
                        namespace: ds.namespace().to_string(),
                        name: ds.name().to_string(),
                        uid: meta.map_or_else(String::new, |m| m.uid.clone()),
                        resource_version: meta
                            .map_or_else(String::new, |m| m.resource_version.clone()),
                        ..Default::default()
                    }),
                    status: Some(status),
                    ..Default::default()
                }
                .into(),
            ),
        };
        self.client
            .clone()
            .update_status(request)
            .await
            .map(|_| ())
            .map_err(|status| Error::Admission {
                call: "UpdateStatus",
                status,
            })
    }

    /// Removes `finalizer` from `ds`, compare-and-set on the cached resourceVersion (admission
    /// removes the object once its last finalizer is gone). A stale version fails with
    /// `ABORTED` and the reconcile runs again on the fresh object.
    pub async fn remove_finalizer(&self, ds: &DaemonSet, finalizer: &str) -> Result<(), Error> {
        let mut updated = ds.clone();
        if let Some(meta) = updated.metadata.as_mut() {
            meta.finalizers.retain(|f| f != finalizer);
        }
        updated.status = None;
        let request = v1::DaemonSetsUpdateRequest {
            daemon_set: Some(updated.into()),
            dry_run: false,
        };
        self.client
            .clone()
            .update(request)
            .await
            .map(|_| ())
            .map_err(|status| Error::Admission {
                call: "Update",
                status,
            })
    }
}
