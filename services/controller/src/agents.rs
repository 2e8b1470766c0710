//! Pod commands to agents: NATS request/reply on `everynode.agent.<node>.pods`
//! (`PodCommand` → `PodCommandReply`).
//!
//! Every command is idempotent by pod uid (the agent answers `ALREADY_EXISTS` / `NOT_FOUND` to
//! a repeat), so a command that timed out or found no responder (an agent restarting) is
//! simply sent again, up to `attempts` times with a short doubling pause. What the agent
//! answered is returned as is; the caller decides what an outcome means.

use std::time::Duration;

use bytes::Bytes;
use everynode_api::v1;
use everynode_bus::NodeKey;
use everynode_bus::async_nats::{self, RequestErrorKind};
use everynode_bus::names::agent_pods_subject;
use everynode_core::model::{OwnerReference, Pod};
use prost::Message;

/// Pause before the second attempt; doubles for each further one.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A command could not be delivered or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("invalid node name {node:?}: {reason}")]
    InvalidNode {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The request could not be sent, or the reply could not be read.
    #[error("pod command to node {node:?} failed: {reason}")]
    Failed {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
}

/// The outcome of a command, as the agent answered.
pub type Outcome = v1::PodCommandOutcome;

/// Sends pod commands to agents.
#[derive(Debug, Clone)]
pub struct Agents {
    client: async_nats::Client,
    timeout: Duration,
    attempts: u32,
}

impl Agents {
    /// Commands over `client`; each attempt waits `timeout`, at most `attempts` attempts.
    pub fn new(client: async_nats::Client, timeout: Duration, attempts: u32) -> Self {
        Self {
            client,
            timeout,
            attempts: attempts.max(1),
        }
    }

    /// Asks the agent of `node` to start `pod` (with uid, `nodeName` and owner set).
    pub async fn create(&self, node: &str, pod: Pod) -> Result<v1::PodCommandReply, CommandError> {
        let command = v1::pod_command::Command::Create(v1::PodCreate {
            pod: Some(pod.into()),
        });
        self.send(node, command).await
    }

    /// Asks the agent of `node` to stop and remove the pod `namespace`/`name` with `uid`.
    pub async fn delete(
        &self,
        node: &str,
        namespace: &str,
        name: &str,
        uid: &str,
        grace_period_seconds: Option<i64>,
    ) -> Result<v1::PodCommandReply, CommandError> {
        let command = v1::pod_command::Command::Delete(v1::PodDelete {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: uid.to_string(),
            grace_period_seconds,
        });
        self.send(node, command).await
    }

    /// Asks the agent of `node` to replace the owner references of a pod (adopt, release).
    pub async fn set_owner(
        &self,
        node: &str,
        namespace: &str,
        name: &str,
        uid: &str,
        owners: Vec<OwnerReference>,
    ) -> Result<v1::PodCommandReply, CommandError> {
        let command = v1::pod_command::Command::SetOwner(v1::PodSetOwner {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: uid.to_string(),
            owner_references: owners.into_iter().map(Into::into).collect(),
        });
        self.send(node, command).await
    }

    async fn send(
        &self,
        node: &str,
        command: v1::pod_command::Command,
    ) -> Result<v1::PodCommandReply, CommandError> {
        let key = NodeKey::new(node).map_err(|e| CommandError::InvalidNode {
            node: node.to_string(),
            reason: e.to_string(),
        })?;
        let subject = agent_pods_subject(&key);
        let payload = v1::PodCommand {
            node_name: node.to_string(),
            command: Some(command),
        }
        .encode_to_vec();
        let payload = Bytes::from(payload);
        let mut pause = FIRST_RETRY_PAUSE;
        let mut last = CommandError::NoAgent {
            node: node.to_string(),
        };
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
            let request = self.client.request(subject.clone(), payload.clone());
            match tokio::time::timeout(self.timeout, request).await {
                Ok(Ok(message)) => {
                    return v1::PodCommandReply::decode(message.payload.as_ref()).map_err(|e| {
                        CommandError::Failed {
                            node: node.to_string(),
                            reason: format!("cannot decode the reply: {e}"),
                        }
                    });
                }
                Ok(Err(e)) => match e.kind() {
                    RequestErrorKind::NoResponders => {
                        last = CommandError::NoAgent {
                            node: node.to_string(),
                        };
                    }
                    RequestErrorKind::TimedOut => {
                        last = CommandError::Timeout {
                            node: node.to_string(),
                            timeout: self.timeout,
                            attempts: attempt,
                        };
                    }
                    _ => {
                        last = CommandError::Failed {
                            node: node.to_string(),
                            reason: e.to_string(),
                        };
                    }
                },
                Err(_) => {
                    last = CommandError::Timeout {
                        node: node.to_string(),
                        timeout: self.timeout,
                        attempts: attempt,
                    };
                }
            }
            tracing::debug!(node, attempt, error = %last, "pod command attempt failed");
        }
        Err(last)
    }
}

/// The outcome of a reply.
pub fn outcome(reply: &v1::PodCommandReply) -> Outcome {
    Outcome::try_from(reply.outcome).unwrap_or(Outcome::Unspecified)
}
