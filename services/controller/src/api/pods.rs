//! `everynode.v1.Pods`: Get, List, Watch from the pod cache; Delete as a command to the pod's
//! agent (the active controller then replaces a daemon pod, as Kubernetes does).
//!
//! A watch without a resourceVersion starts with an ADDED event per selected pod and continues
//! with every later change, atomically (no change is lost or repeated in between); with a
//! resourceVersion (from a List) it continues from there, from the cache's bounded history —
//! too old a version is `OUT_OF_RANGE` (Kubernetes: 410 Gone) and the client lists again. A pod
//! leaving a filtered view is DELETED, entering it ADDED. A watch that falls too far behind is
//! ended with `ABORTED`.

use std::pin::Pin;
use std::sync::Arc;

use everynode_api::v1;
use everynode_api::v1::pods_server::Pods;
use everynode_bus::PodKey;
use everynode_core::labels::Selector;
use everynode_core::model::Pod;
use everynode_service::Shutdown;
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast;
use tonic::{Request, Response, Status};

use super::{namespace_or_default, parse_selector, parse_version};
use crate::agents::{Agents, Outcome, PodCommand, PodTarget};
use crate::cache::{PodCache, World};
use crate::error::ApiError;
use crate::informer::DeltaOf;
use crate::leader::TermCell;

/// The Pods service.
#[derive(Debug, Clone)]
pub struct PodsApi {
    world: World,
    agents: Agents,
    terms: TermCell,
    shutdown: Shutdown,
}

impl PodsApi {
    /// A service over the caches of `world`, deleting through `agents`.
    pub fn new(world: World, agents: Agents, terms: TermCell, shutdown: Shutdown) -> Self {
        Self {
            world,
            agents,
            terms,
            shutdown,
        }
    }

    fn ready(&self) -> Result<(), ApiError> {
        if self.world.pods.is_ready() {
            Ok(())
        } else {
            Err(ApiError::NotReady)
        }
    }

    fn find(&self, namespace: &str, name: &str) -> Result<(PodKey, Pod), ApiError> {
        self.ready()?;
        let namespace = namespace_or_default(namespace);
        self.world
            .pods
            .read(|c| c.get(namespace, name).map(|(k, p)| (k.clone(), p.clone())))
            .ok_or_else(|| ApiError::NotFound {
                resource: "pods",
                name: name.to_string(),
            })
    }
}

/// What a list or watch selects.
struct View {
    namespace: String,
    selector: Selector,
    node: String,
}

impl View {
    fn shows(&self, key: &PodKey, pod: &Pod) -> bool {
        static EMPTY: std::collections::BTreeMap<String, String> =
            std::collections::BTreeMap::new();
        (self.namespace.is_empty() || key.namespace() == self.namespace)
            && (self.node.is_empty() || key.node() == self.node)
            && self
                .selector
                .matches(pod.metadata.as_ref().map_or(&EMPTY, |m| &m.labels))
    }

    fn select(&self, cache: &PodCache) -> Vec<Pod> {
        let mut pods: Vec<Pod> = cache
            .iter()
            .filter(|(k, p)| self.shows(k, p))
            .map(|(_, p)| p.clone())
            .collect();
        pods.sort_by(|a, b| (a.namespace(), a.name()).cmp(&(b.namespace(), b.name())));
        pods
    }

    /// The watch event a delta is for this view, if any.
    fn event(&self, delta: &DeltaOf<PodCache>) -> Option<v1::PodsWatchResponse> {
        let before = delta
            .old
            .as_deref()
            .is_some_and(|p| self.shows(&delta.key, p));
        let after = delta
            .new
            .as_deref()
            .is_some_and(|p| self.shows(&delta.key, p));
        let (kind, object) = match (before, after) {
            (false, true) => (v1::WatchEventType::Added, delta.new.as_deref()),
            (true, true) => (v1::WatchEventType::Modified, delta.new.as_deref()),
            (true, false) => (
                v1::WatchEventType::Deleted,
                delta.new.as_deref().or(delta.old.as_deref()),
            ),
            (false, false) => return None,
        };
        Some(v1::PodsWatchResponse {
            r#type: kind.into(),
            object: object.cloned().map(Into::into),
        })
    }
}

type Event = Result<v1::PodsWatchResponse, Status>;
type WatchStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// The changes after the initial events: deltas translated for the view; a lagging receiver
/// ends the stream with `ABORTED`.
fn changes(
    view: View,
    receiver: broadcast::Receiver<Arc<DeltaOf<PodCache>>>,
) -> impl Stream<Item = Event> + Send {
    stream::unfold((view, Some(receiver)), |(view, receiver)| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await {
                Ok(delta) => {
                    if let Some(event) = view.event(&delta) {
                        return Some((Ok(event), (view, Some(receiver))));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    return Some((Err(ApiError::Lagged(n).into()), (view, None)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

#[tonic::async_trait]
impl Pods for PodsApi {
    async fn get(
        &self,
        request: Request<v1::PodsGetRequest>,
    ) -> Result<Response<v1::PodsGetResponse>, Status> {
        let v1::PodsGetRequest { namespace, name } = request.into_inner();
        let (_, pod) = self.find(&namespace, &name)?;
        Ok(Response::new(v1::PodsGetResponse {
            pod: Some(pod.into()),
        }))
    }

    async fn list(
        &self,
        request: Request<v1::PodsListRequest>,
    ) -> Result<Response<v1::PodsListResponse>, Status> {
        let v1::PodsListRequest {
            namespace,
            label_selector,
            node_name,
        } = request.into_inner();
        self.ready()?;
        let view = View {
            namespace,
            selector: parse_selector(&label_selector)?,
            node: node_name,
        };
        let (items, revision) = self
            .world
            .pods
            .read_at(|cache, revision| (view.select(cache), revision));
        Ok(Response::new(v1::PodsListResponse {
            items: items.into_iter().map(Into::into).collect(),
            resource_version: revision.to_string(),
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::PodsWatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let v1::PodsWatchRequest {
            namespace,
            label_selector,
            node_name,
            resource_version,
        } = request.into_inner();
        self.ready()?;
        let view = View {
            namespace,
            selector: parse_selector(&label_selector)?,
            node: node_name,
        };
        let (initial, receiver): (Vec<Event>, _) = if resource_version.is_empty() {
            let (pods, _, receiver) = self.world.pods.snapshot_and_subscribe(|c| view.select(c));
            let initial = pods
                .into_iter()
                .map(|pod| {
                    Ok(v1::PodsWatchResponse {
                        r#type: v1::WatchEventType::Added.into(),
                        object: Some(pod.into()),
                    })
                })
                .collect();
            (initial, receiver)
        } else {
            let from = parse_version(&resource_version)?;
            let (past, receiver) = self
                .world
                .pods
                .subscribe_from(from)
                .map_err(ApiError::from)?;
            let initial = past.iter().filter_map(|d| view.event(d)).map(Ok).collect();
            (initial, receiver)
        };
        let stream = stream::iter(initial).chain(changes(view, receiver));
        Ok(Response::new(Box::pin(self.shutdown.guard_stream(stream))))
    }

    async fn delete(
        &self,
        request: Request<v1::PodsDeleteRequest>,
    ) -> Result<Response<v1::PodsDeleteResponse>, Status> {
        let v1::PodsDeleteRequest {
            namespace,
            name,
            grace_period_seconds,
        } = request.into_inner();
        let (key, pod) = self.find(&namespace, &name)?;
        let uid = pod
            .metadata
            .as_ref()
            .map_or_else(String::new, |m| m.uid.clone());
        let target = PodTarget {
            node: key.node().to_string(),
            namespace: key.namespace().to_string(),
            name: key.name().to_string(),
            uid,
        };
        let reply = self
            .agents
            .send(
                self.terms.get(),
                PodCommand::Delete {
                    pod: target,
                    grace_period_seconds,
                },
            )
            .await
            .map_err(ApiError::from)?;
        match reply.outcome {
            Outcome::Deleted | Outcome::NotFound => {}
            other => {
                let message = if reply.message.is_empty() {
                    other.as_str_name().to_string()
                } else {
                    reply.message
                };
                return Err(ApiError::Refused(message).into());
            }
        }
        tracing::info!(pod = %format!("{}/{}", key.namespace(), key.name()), node = %key.node(), "pod deleted on request");
        Ok(Response::new(v1::PodsDeleteResponse {
            pod: Some(pod.into()),
        }))
    }
}
