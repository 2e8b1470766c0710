//! Joining the fleet: register every node with the registry and heartbeat at the interval the
//! registry returns.
//!
//! One loop on one ticker serves every node of the process (one node, or all simulated ones),
//! with at most `concurrency` calls in flight over one lazily connected gRPC channel. Each pass
//! registers the nodes that are not registered yet and heartbeats the others; a heartbeat
//! answered NOT_FOUND (the node was removed) registers the node again at once. While the
//! registry cannot be reached the loop keeps trying with capped exponential back-off and
//! carries on where it left off. On shutdown the loop simply stops: no more heartbeats, and the
//! registry marks the node NotReady in its own time.
//!
//! Heartbeats carry the machine's boot id. When the registry answers ALREADY_EXISTS — another
//! live agent holds the node name — the [`Claim`] becomes `Refused`: an agent of one node then
//! stops (its caller exits with the registry's message); a simulator stops heartbeating that
//! one node and carries on with the others.

use std::sync::Arc;
use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::nodes_client::NodesClient;
use everynode_api::v1::{NodesHeartbeatRequest, NodesRegisterRequest};
use everynode_core::retry::Backoff;
use everynode_service::Shutdown;
use futures::StreamExt;
use tonic::transport::Channel;

use crate::agent::NodeSet;
use crate::host::NodeTemplate;

/// Heartbeat interval until the registry says otherwise.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Shortest and longest interval accepted from the registry.
const INTERVAL_BOUNDS: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(300));
/// First retry delay after a failed pass.
const RETRY_BASE: Duration = Duration::from_millis(250);
/// Time limit of one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Time limit of connecting to the registry.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the join loop.
#[derive(Debug, Clone)]
pub struct JoinConfig {
    /// The registry's URL (for the log).
    pub registry: String,
    /// The channel to the registry.
    pub channel: Channel,
    /// Calls in flight at once.
    pub concurrency: usize,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// Whether this agent may act for its node, as far as the registry has said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No answer yet.
    Pending,
    /// The first registration pass is over and nobody else holds the node (or the registry
    /// could not be asked: an agent keeps serving its pods while the registry is away).
    Held,
    /// Another live agent holds the node; the registry's message says which.
    Refused(String),
}

/// What one call for one node achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    /// Registered or heartbeated; the registry wants the next heartbeat after this long.
    Ok(Duration),
    /// The registry cannot be reached or failed; try again later.
    Failed,
    /// Another live agent holds the node (ALREADY_EXISTS).
    Refused(String),
}

fn interval_from(duration: Option<prost_types::Duration>) -> Duration {
    let Some(duration) = duration else {
        return DEFAULT_HEARTBEAT_INTERVAL;
    };
    let seconds = u64::try_from(duration.seconds).unwrap_or(0);
    let nanos = u32::try_from(duration.nanos).unwrap_or(0);
    Duration::new(seconds, nanos).clamp(INTERVAL_BOUNDS.0, INTERVAL_BOUNDS.1)
}

async fn register(client: &mut NodesClient<Channel>, template: &NodeTemplate, name: &str) -> Call {
    let request = NodesRegisterRequest {
        node: Some(template.node(name)),
    };
    match client.register(request).await {
        Ok(response) => Call::Ok(interval_from(response.into_inner().heartbeat_interval)),
        Err(status) if status.code() == tonic::Code::AlreadyExists => {
            Call::Refused(status.message().to_owned())
        }
        Err(status) => {
            tracing::debug!(node = name, code = ?status.code(), message = status.message(), "registering failed");
            Call::Failed
        }
    }
}

async fn heartbeat(
    client: &mut NodesClient<Channel>,
    template: &NodeTemplate,
    name: &str,
) -> (Call, bool) {
    let request = NodesHeartbeatRequest {
        name: name.to_owned(),
        boot_id: template.facts.node_info.boot_id.clone(),
    };
    match client.heartbeat(request).await {
        Ok(response) => (
            Call::Ok(interval_from(response.into_inner().heartbeat_interval)),
            true,
        ),
        Err(status) if status.code() == tonic::Code::NotFound => {
            tracing::info!(
                node = name,
                "the registry does not know the node (removed?); registering again"
            );
            let call = register(client, template, name).await;
            let known = call != Call::Failed;
            (call, known)
        }
        Err(status) if status.code() == tonic::Code::AlreadyExists => {
            (Call::Refused(status.message().to_owned()), false)
        }
        Err(status) => {
            tracing::debug!(node = name, code = ?status.code(), message = status.message(), "heartbeat failed");
            (Call::Failed, true)
        }
    }
}

/// Registers and heartbeats every node of `nodes` until shutdown (or, for an agent of one
/// node, until another agent is found holding it), reporting to `claim`.
pub async fn run(
    config: JoinConfig,
    nodes: NodeSet,
    template: Arc<NodeTemplate>,
    claim: tokio::sync::watch::Sender<Claim>,
    shutdown: Shutdown,
) {
    let client = NodesClient::new(config.channel.clone()).bounded();
    // One bit per node: registered or not.
    let mut registered = vec![false; nodes.len()];
    // One bit per node: held by another agent (simulators only; a single node stops).
    let mut refused = vec![false; nodes.len()];
    if nodes.is_simulated() {
        // A simulator does not hold back its commands for the registry: its nodes are
        // refused one by one, and the first pass over thousands of them would delay every
        // command.
        claim.send_replace(Claim::Held);
    }
    let mut retries = Backoff::new(RETRY_BASE, config.retry_max).start();
    let mut interval = DEFAULT_HEARTBEAT_INTERVAL;
    let mut was_failing = false;
    loop {
        let pass = futures::stream::iter(0..nodes.len())
            .filter(|index| std::future::ready(!refused[*index]))
            .map(|index| {
                let mut client = client.clone();
                let template = Arc::clone(&template);
                let name = nodes.node(index);
                let known = registered[index];
                async move {
                    if known {
                        let (call, still_known) = heartbeat(&mut client, &template, &name).await;
                        (index, call, still_known)
                    } else {
                        let call = register(&mut client, &template, &name).await;
                        let known = matches!(call, Call::Ok(_));
                        (index, call, known)
                    }
                }
            })
            .buffer_unordered(config.concurrency.max(1))
            .collect::<Vec<_>>();
        let results = tokio::select! {
            results = pass => results,
            () = shutdown.signal() => return,
        };
        let mut failures = 0usize;
        let mut newly_registered = 0usize;
        for (index, call, known) in results {
            if let Some(slot) = registered.get_mut(index) {
                if known && !*slot {
                    newly_registered += 1;
                }
                *slot = known;
            }
            match call {
                Call::Ok(next) => interval = next,
                Call::Failed => failures += 1,
                Call::Refused(message) => {
                    if !nodes.is_simulated() {
                        tracing::error!(node = nodes.name(), registry = %config.registry, %message, "another agent holds this node; stopping");
                        claim.send_replace(Claim::Refused(message));
                        return;
                    }
                    tracing::error!(node = nodes.node(index), %message, "another agent holds this simulated node; no longer heartbeating it");
                    if let Some(slot) = refused.get_mut(index) {
                        *slot = true;
                    }
                }
            }
        }
        if *claim.borrow() == Claim::Pending {
            claim.send_replace(Claim::Held);
        }
        if newly_registered > 0 {
            tracing::info!(nodes = newly_registered, registry = %config.registry, ?interval, "registered");
        }
        let wait = if failures > 0 {
            if !was_failing {
                tracing::warn!(failures, registry = %config.registry, "cannot reach the registry; retrying with back-off");
            }
            was_failing = true;
            retries
                .next_delay()
                .unwrap_or(config.retry_max)
                .min(interval)
        } else {
            if was_failing {
                tracing::info!(registry = %config.registry, "the registry answers again");
            }
            was_failing = false;
            retries.reset();
            interval
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.signal() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_from_the_registry_are_bounded() {
        assert_eq!(interval_from(None), DEFAULT_HEARTBEAT_INTERVAL);
        let d = |seconds, nanos| Some(prost_types::Duration { seconds, nanos });
        assert_eq!(interval_from(d(5, 0)), Duration::from_secs(5));
        assert_eq!(interval_from(d(0, 1)), Duration::from_millis(100));
        assert_eq!(interval_from(d(-3, 0)), Duration::from_millis(100));
        assert_eq!(interval_from(d(100_000, 0)), Duration::from_secs(300));
    }
}
