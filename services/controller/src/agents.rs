//! Pod commands to agents: NATS request/reply on `everynode.agent.<node>.pods`
//! (`PodCommand` → `PodCommandReply`).
//!
//! Every command is idempotent by pod uid (the agent answers `ALREADY_EXISTS` / `NOT_FOUND` to
//! a repeat), so a command that timed out or found no responder (an agent restarting) is
//! simply sent again, up to `attempts` times with a short doubling pause. What the agent
//! answered is returned as is; the caller decides what an outcome means.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use everynode_api::v1;
use everynode_bus::NodeKey;
use everynode_bus::async_nats::{self, RequestErrorKind};
use everynode_bus::names::{CONTROLLER_TERM, agent_pods_subject};
use everynode_core::model::{OwnerReference, Pod};
use everynode_core::planner::PodRef;
use everynode_core::retry::Backoff;
use prost::Message;

/// Pause before the second attempt (the project's retry policy doubles it for each further
/// one, with jitter).
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Longest pause between attempts.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// A cause kept with its error (shared, so the error stays cheap to clone).
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A command could not be delivered or answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    /// No agent listens for the node (it is down or restarting).
    #[error("no agent answers for node {node:?}")]
    NoAgent {
        /// The node.
        node: String,
    },
    /// The agent did not answer in time.
    #[error("the agent of node {node:?} did not answer within {timeout:?} ({attempts} attempts)")]
    Timeout {
        /// The node.
        node: String,
        /// The timeout of one attempt.
        timeout: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The node name cannot be a subject token.
    #[error("invalid node name {node:?}")]
    InvalidNode {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: everynode_bus::NameError,
    },
    /// The request could not be sent, or the reply could not be read.
    #[error("pod command to node {node:?} failed: {source}")]
    Failed {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: Cause,
    },
}

/// The pod a command is for: its node, namespace, name and uid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodTarget {
    /// The node whose agent runs the pod.
    pub node: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's uid (the agent refuses a command for another incarnation of the name).
    pub uid: String,
}

impl PodTarget {
    /// The target of `pod` (`None`: it has no metadata or no node).
    pub fn of_pod(pod: &Pod) -> Option<Self> {
        let meta = pod.metadata.as_ref()?;
        let node = everynode_core::scheduling::target_node_name(pod)?;
        Some(Self {
            node: node.to_string(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
            uid: meta.uid.clone(),
        })
    }

    /// The target of a pod the planner refers to.
    pub fn of_ref(pod: &PodRef) -> Self {
        Self {
            node: pod.node.clone(),
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            uid: pod.uid.clone(),
        }
    }
}

impl std::fmt::Display for PodTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} on {}", self.namespace, self.name, self.node)
    }
}

/// A command to the agent of one node.
#[derive(Debug, Clone, PartialEq)]
pub enum PodCommand {
    /// Start this pod (uid, `nodeName` and owner set) on `node`.
    Create {
        /// The node.
        node: String,
        /// The pod.
        pod: Box<Pod>,
    },
    /// Stop and remove the pod.
    Delete {
        /// The pod.
        pod: PodTarget,
        /// Overrides the pod's termination grace period.
        grace_period_seconds: Option<i64>,
    },
    /// Replace the pod's owner references (adopt, release).
    SetOwners {
        /// The pod.
        pod: PodTarget,
        /// Its new owner references.
        owners: Vec<OwnerReference>,
    },
}

impl PodCommand {
    /// The node whose agent the command is for.
    pub fn node(&self) -> &str {
        match self {
            PodCommand::Create { node, .. } => node,
            PodCommand::Delete { pod, .. } | PodCommand::SetOwners { pod, .. } => &pod.node,
        }
    }

    fn into_proto(self) -> v1::pod_command::Command {
        use v1::pod_command::Command;
        match self {
            PodCommand::Create { pod, .. } => Command::Create(v1::PodCreate {
                pod: Some((*pod).into()),
            }),
            PodCommand::Delete {
                pod,
                grace_period_seconds,
            } => Command::Delete(v1::PodDelete {
                namespace: pod.namespace,
                name: pod.name,
                uid: pod.uid,
                grace_period_seconds,
            }),
            PodCommand::SetOwners { pod, owners } => Command::SetOwner(v1::PodSetOwner {
                namespace: pod.namespace,
                name: pod.name,
                uid: pod.uid,
                owner_references: owners.into_iter().map(Into::into).collect(),
            }),
        }
    }
}

/// The outcome of a command, as the agent answered.
pub type Outcome = v1::PodCommandOutcome;

/// What an agent answered to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The outcome.
    pub outcome: Outcome,
    /// The agent's message (why it refused).
    pub message: String,
}

impl Reply {
    /// A reply with `outcome` and no message.
    pub fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            message: String::new(),
        }
    }
}

impl From<v1::PodCommandReply> for Reply {
    fn from(reply: v1::PodCommandReply) -> Self {
        Self {
            outcome: Outcome::try_from(reply.outcome).unwrap_or(Outcome::Unspecified),
            message: reply.message,
        }
    }
}

/// Sends pod commands to agents.
#[derive(Debug, Clone)]
pub struct Agents {
    client: async_nats::Client,
    identity: String,
    timeout: Duration,
    retry: Backoff,
}

impl Agents {
    /// Commands over `client` from the controller `identity`; each attempt waits `timeout`, at
    /// most `attempts` attempts.
    pub fn new(
        client: async_nats::Client,
        identity: String,
        timeout: Duration,
        attempts: u32,
    ) -> Self {
        Self {
            client,
            identity,
            timeout,
            retry: Backoff::new(FIRST_RETRY_PAUSE, MAX_RETRY_PAUSE).attempts(attempts.max(1)),
        }
    }

    /// Sends `command`, stamped with the lease term `fence`, to the agent of its node and
    /// returns what it answered.
    pub async fn send(&self, fence: u64, command: PodCommand) -> Result<Reply, CommandError> {
        let node = command.node().to_string();
        self.send_proto(&node, fence, command.into_proto())
            .await
            .map(Reply::from)
    }

    /// Publishes the start of the lease term `fence` to every agent, and waits until the server
    /// has it.
    pub async fn announce_term(&self, fence: u64) -> Result<(), everynode_bus::Error> {
        let announcement = v1::TermAnnouncement {
            term: fence,
            holder_identity: self.identity.clone(),
        };
        self.client
            .publish(CONTROLLER_TERM, announcement.encode_to_vec().into())
            .await
            .map_err(|e| everynode_bus::Error::nats("announcing the controller term", e))?;
        self.client
            .flush()
            .await
            .map_err(|e| everynode_bus::Error::nats("announcing the controller term", e))
    }

    async fn send_proto(
        &self,
        node: &str,
        fence: u64,
        command: v1::pod_command::Command,
    ) -> Result<v1::PodCommandReply, CommandError> {
        let key = NodeKey::new(node).map_err(|source| CommandError::InvalidNode {
            node: node.to_string(),
            source,
        })?;
        let subject = agent_pods_subject(&key);
        let payload = v1::PodCommand {
            node_name: node.to_string(),
            command: Some(command),
            term: fence,
        }
        .encode_to_vec();
        let payload = Bytes::from(payload);
        let mut retries = self.retry.start();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.client.request(subject.clone(), payload.clone());
            let last = match tokio::time::timeout(self.timeout, request).await {
                Ok(Ok(message)) => {
                    return v1::PodCommandReply::decode(message.payload.as_ref()).map_err(|e| {
                        CommandError::Failed {
                            node: node.to_string(),
                            source: Arc::new(e),
                        }
                    });
                }
                Ok(Err(e)) => match e.kind() {
                    RequestErrorKind::NoResponders => CommandError::NoAgent {
                        node: node.to_string(),
                    },
                    RequestErrorKind::TimedOut => CommandError::Timeout {
                        node: node.to_string(),
                        timeout: self.timeout,
                        attempts: attempt,
                    },
                    _ => CommandError::Failed {
                        node: node.to_string(),
                        source: Arc::new(e),
                    },
                },
                Err(_) => CommandError::Timeout {
                    node: node.to_string(),
                    timeout: self.timeout,
                    attempts: attempt,
                },
            };
            tracing::debug!(node, attempt, error = %last, "pod command attempt failed");
            match retries.next_delay() {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(last),
            }
        }
    }
}
