//! The [`Runtime`] trait: what runs a pod's containers, and its two implementations.
//!
//! - [`process`]: each container's `command` + `args` as a real process group on this machine,
//!   with restarts, probes, log files and pid records for re-attaching after an agent restart;
//! - [`fake`]: no processes at all; pods go Pending → Running → Ready on timers, with a
//!   configurable failure rate. One timer task serves every pod of every simulated node.
//!
//! A runtime reports each pod's status through the pod's [`PodSink`]; it never writes to NATS
//! itself. Runtimes spawn their tasks on the agent's [`Shutdown`](everynode_service::Shutdown)
//! and, on shutdown, stop supervising and leave every pod running (the next agent re-attaches).

pub mod fake;
pub mod process;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use everynode_api::v1;
use everynode_core::model::Pod;

use crate::pods::PodSink;
use crate::status::PodFacts;

/// How a pod reaches the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// A new pod from a create command.
    Create,
    /// A pod recovered from KV after an agent restart: re-attach to what still runs, start
    /// what does not.
    Resume,
    /// A pod recovered from KV while it was being deleted: re-attach to what still runs and
    /// start nothing (a [`Runtime::stop`] follows).
    ResumeForDeletion,
}

/// A pod handed to a runtime.
#[derive(Debug, Clone)]
pub struct PodRun {
    /// The pod; its `status` is the last one recorded (for [`StartMode::Resume`]).
    pub pod: Pod,
    /// Addresses and start time.
    pub facts: PodFacts,
    /// How it arrives.
    pub mode: StartMode,
    /// Where its status goes.
    pub sink: PodSink,
}

/// Runs pods.
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's name, as in the node's `containerRuntimeVersion` (`process`, `fake`).
    fn name(&self) -> &'static str;

    /// Starts running (or re-attaches to) a pod; returns at once.
    fn start(&self, run: PodRun);

    /// Stops pod `uid`: SIGTERM, up to `grace`, SIGKILL for the process runtime. Resolves once
    /// nothing of the pod runs any more (at once for an unknown uid).
    fn stop(&self, uid: &str, grace: Duration) -> impl Future<Output = ()> + Send;

    /// After recovery: the pods this runtime still has (running, or their copies kept) that
    /// are not in `known` — pods whose record is gone or unreadable — as the runtime recorded
    /// them when they started, to be resumed and recorded again. Nothing is stopped.
    fn unrecorded(&self, known: &HashSet<String>) -> impl Future<Output = Vec<v1::Pod>> + Send;
}
