//! The pod command subscription: request/reply on `everynode.agent.<node>.pods` (one node) or
//! on the wildcard of every agent subject (simulated nodes), in a queue group so one
//! subscriber per node answers. Each message is handled in a tracked task, at most
//! `concurrency` at once; the answer is a `PodCommandReply` (see [`Agent::handle`]).

use std::sync::Arc;

use everynode_api::v1::TermAnnouncement;
use everynode_bus::async_nats::{self, Subscriber};
use everynode_bus::names::{
    AGENT_PODS_ALL, CONTROLLER_TERM, agent_pods_subject, agent_queue_group,
    agent_simulator_queue_group,
};
use everynode_bus::{NameError, NodeKey};
use everynode_service::Shutdown;
use futures::StreamExt;
use prost::Message;
use tokio::sync::Semaphore;

use crate::agent::{Agent, NodeSet};
use crate::fence::Fence;
use crate::runtime::Runtime;

/// Why the pod command subscription could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The node name cannot be put in a subject.
    #[error("the node name cannot be used in a subject: {0}")]
    Name(#[from] NameError),
    /// The server refused or the connection failed.
    #[error("subscribing to pod commands: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    /// The subscription could not be confirmed with the server.
    #[error("flushing the pod command subscription: {0}")]
    Flush(#[from] async_nats::client::FlushError),
}

/// Subscribes to the pod commands of `nodes` (and makes sure the server has the interest
/// before returning, so that a registration that follows cannot race it).
pub async fn subscribe(
    nats: &async_nats::Client,
    nodes: &NodeSet,
) -> Result<Subscriber, SubscribeError> {
    let subscriber = if nodes.is_simulated() {
        let group = agent_simulator_queue_group(nodes.name())?;
        nats.queue_subscribe(AGENT_PODS_ALL, group).await?
    } else {
        let node = NodeKey::new(nodes.name())?;
        nats.queue_subscribe(agent_pods_subject(&node), agent_queue_group(&node))
            .await?
    };
    nats.flush().await?;
    Ok(subscriber)
}

/// Subscribes to the controllers' term announcements (see [`crate::fence`]).
pub async fn subscribe_terms(nats: &async_nats::Client) -> Result<Subscriber, SubscribeError> {
    let subscriber = nats.subscribe(CONTROLLER_TERM).await?;
    nats.flush().await?;
    Ok(subscriber)
}

/// Raises `fence` with every term announcement until shutdown.
pub async fn follow_terms(fence: Arc<Fence>, mut announcements: Subscriber, shutdown: Shutdown) {
    loop {
        let message = tokio::select! {
            message = announcements.next() => message,
            () = shutdown.signal() => break,
        };
        let Some(message) = message else {
            break;
        };
        match TermAnnouncement::decode(message.payload.as_ref()) {
            Ok(announcement) => {
                if fence.raise(announcement.term) {
                    tracing::info!(
                        term = announcement.term,
                        holder = %announcement.holder_identity,
                        "a new controller term: older terms' commands are refused from now on"
                    );
                }
            }
            Err(err) => tracing::debug!(error = %err, "ignoring a malformed term announcement"),
        }
    }
    if let Err(err) = announcements.unsubscribe().await {
        tracing::debug!(error = %err, "unsubscribing from term announcements");
    }
}

/// Answers commands until shutdown, then unsubscribes.
pub async fn serve<R: Runtime>(
    agent: Arc<Agent<R>>,
    nats: async_nats::Client,
    mut subscriber: Subscriber,
    concurrency: usize,
    shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    loop {
        let message = tokio::select! {
            message = subscriber.next() => message,
            () = shutdown.signal() => break,
        };
        let Some(message) = message else {
            break;
        };
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit,
            () = shutdown.signal() => break,
        };
        let Ok(permit) = permit else {
            break;
        };
        let agent = Arc::clone(&agent);
        let nats = nats.clone();
        shutdown.spawn(async move {
            let _permit = permit;
            let Some(reply) = agent.handle(&message.subject, &message.payload).await else {
                return;
            };
            let Some(reply_to) = message.reply else {
                tracing::debug!(subject = %message.subject, "pod command without a reply subject");
                return;
            };
            if let Err(err) = nats.publish(reply_to, reply.encode_to_vec().into()).await {
                tracing::warn!(error = %err, "could not answer a pod command");
            }
        });
    }
    if let Err(err) = subscriber.unsubscribe().await {
        tracing::debug!(error = %err, "unsubscribing from pod commands");
    }
}
