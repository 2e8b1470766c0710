//! The controller's outside world, as one narrow trait: everything a reconcile or the pod
//! garbage collector *does* (pod commands to agents, DaemonSet status and finalizer writes
//! through admission, ControllerRevision writes, pod-record deletes of removed nodes) and the
//! two authoritative reads that confirm what a cache says is gone.
//!
//! [`Live`] is the real implementation (NATS request/reply to agents, gRPC to admission, KV
//! compare-and-set). Unit tests use a fake that records every call and answers as scripted
//! (`crate::testing`), in the style of Kubernetes' `FakePodControl`: one sync, then assert
//! exactly which pods were created and deleted on which nodes.
//!
//! Reads of the *current* state come from the informer caches ([`crate::cache::World`]), which
//! tests fill directly; only these confirmations go to the stores.

use std::future::Future;

use everynode_api::v1;
use everynode_bus::{DaemonSetKey, NodeKey, PodKey, RevisionKey, Store};
use everynode_core::model::{ControllerRevision, DaemonSet, DaemonSetStatus};

use crate::admission::Admission;
use crate::agents::{Agents, CommandError, PodCommand, Reply};
use crate::error::Error;

/// A write to KV `revisions`, compare-and-set.
#[derive(Debug, Clone, PartialEq)]
pub enum RevisionWrite {
    /// Create it; fails with `AlreadyExists` when the key is taken.
    Create(ControllerRevision),
    /// Replace it, if it is still at the revision `at`.
    Update(ControllerRevision, u64),
    /// Delete it, if it is still at the revision `at`.
    Delete(u64),
}

/// Everything the active controller does to the outside world (see the module docs).
pub trait Effects: Send + Sync + 'static {
    /// Sends `command` to the agent of its node, stamped with the lease term `fence` of the
    /// term sending it (agents refuse older terms' commands).
    fn command(
        &self,
        fence: u64,
        command: PodCommand,
    ) -> impl Future<Output = Result<Reply, CommandError>> + Send;

    /// Tells every agent that the lease term `fence` has begun (before its first command).
    fn announce_term(
        &self,
        fence: u64,
    ) -> impl Future<Output = Result<(), everynode_bus::Error>> + Send;

    /// Replaces the status of `ds`, compare-and-set on its resourceVersion.
    fn update_status(
        &self,
        ds: &DaemonSet,
        status: DaemonSetStatus,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Removes `finalizer` from `ds`, compare-and-set on its resourceVersion.
    fn remove_finalizer(
        &self,
        ds: &DaemonSet,
        finalizer: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Writes the ControllerRevision at `key`.
    fn write_revision(
        &self,
        key: &RevisionKey,
        write: RevisionWrite,
    ) -> impl Future<Output = Result<(), everynode_bus::Error>> + Send;

    /// The uid of the DaemonSet stored at `key`, read from KV `daemonsets` (not the cache).
    fn stored_daemon_set_uid(
        &self,
        key: &DaemonSetKey,
    ) -> impl Future<Output = Result<Option<String>, everynode_bus::Error>> + Send;

    /// Whether KV `nodes` holds `key` (not the cache).
    fn node_is_stored(
        &self,
        key: &NodeKey,
    ) -> impl Future<Output = Result<bool, everynode_bus::Error>> + Send;

    /// Deletes the pod record `key` of a removed node, if it is still at the revision `at`.
    fn delete_pod_record(
        &self,
        key: &PodKey,
        at: u64,
    ) -> impl Future<Output = Result<(), everynode_bus::Error>> + Send;
}

/// The real effects: agents over NATS, admission over gRPC, the KV stores.
#[derive(Debug, Clone)]
pub struct Live {
    /// Pod commands.
    pub agents: Agents,
    /// Status and finalizer writes.
    pub admission: Admission,
    /// KV `daemonsets` (read: is a DaemonSet really gone).
    pub daemonsets: Store<DaemonSetKey, v1::DaemonSet>,
    /// KV `nodes` (read: is a node really gone).
    pub nodes: Store<NodeKey, v1::Node>,
    /// KV `pods` (pod GC of removed nodes).
    pub pods: Store<PodKey, v1::Pod>,
    /// KV `revisions` (owned by the controller).
    pub revisions: Store<RevisionKey, v1::ControllerRevision>,
}

impl Effects for Live {
    async fn command(&self, fence: u64, command: PodCommand) -> Result<Reply, CommandError> {
        self.agents.send(fence, command).await
    }

    async fn announce_term(&self, fence: u64) -> Result<(), everynode_bus::Error> {
        self.agents.announce_term(fence).await
    }

    async fn update_status(&self, ds: &DaemonSet, status: DaemonSetStatus) -> Result<(), Error> {
        self.admission.update_status(ds, status).await
    }

    async fn remove_finalizer(&self, ds: &DaemonSet, finalizer: &str) -> Result<(), Error> {
        self.admission.remove_finalizer(ds, finalizer).await
    }

    async fn write_revision(
        &self,
        key: &RevisionKey,
        write: RevisionWrite,
    ) -> Result<(), everynode_bus::Error> {
        match write {
            RevisionWrite::Create(revision) => self
                .revisions
                .create(key, &for_storage(revision))
                .await
                .map(|_| ()),
            RevisionWrite::Update(revision, at) => self
                .revisions
                .update(key, &for_storage(revision), at)
                .await
                .map(|_| ()),
            RevisionWrite::Delete(at) => self.revisions.delete(key, Some(at)).await,
        }
    }

    async fn stored_daemon_set_uid(
        &self,
        key: &DaemonSetKey,
    ) -> Result<Option<String>, everynode_bus::Error> {
        Ok(self
            .daemonsets
            .get(key)
            .await?
            .map(|stored| stored.value.metadata.map(|m| m.uid).unwrap_or_default()))
    }

    async fn node_is_stored(&self, key: &NodeKey) -> Result<bool, everynode_bus::Error> {
        Ok(self.nodes.get(key).await?.is_some())
    }

    async fn delete_pod_record(&self, key: &PodKey, at: u64) -> Result<(), everynode_bus::Error> {
        self.pods.delete(key, Some(at)).await
    }
}

/// The stored form of a revision: the resourceVersion is the KV revision, not part of the value.
fn for_storage(mut revision: ControllerRevision) -> v1::ControllerRevision {
    if let Some(meta) = revision.metadata.as_mut() {
        meta.resource_version.clear();
    }
    revision.into()
}
