//! `everynode.v1.Endpoints`: where a DaemonSet's pods can be reached — each pod's node, the
//! node's addresses, the ports published on the node, and whether the pod is ready (the
//! headless-service pattern without a service mesh).
//!
//! An endpoint is listed for every pod the DaemonSet controls that is bound to a node, not
//! terminal and not terminating; clients that only want ready ones filter on `ready` (false
//! too while the pod's node is not ready). A `hostNetwork` pod publishes its container ports on
//! the node even without `hostPort`.
//!
//! A watch sends ADDED for every endpoint, then recomputes the DaemonSet's endpoints whenever
//! its DaemonSet, one of its pods or any node changed, and sends the differences (ADDED,
//! MODIFIED, DELETED). Because it recomputes from the caches, a watch that falls behind the
//! change stream loses nothing: it just recomputes.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use everynode_api::v1;
use everynode_api::v1::endpoints_server::Endpoints;
use everynode_bus::DaemonSetKey;
use everynode_core::model::{Node, Pod};
use everynode_core::scheduling::target_node_name;
use everynode_service::Shutdown;
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tonic::{Request, Response, Status};

use super::namespace_or_default;
use crate::cache::{DaemonSetCache, NodeCache, PodCache, World};
use crate::error::ApiError;
use crate::informer::DeltaOf;

/// The Endpoints service.
#[derive(Debug, Clone)]
pub struct EndpointsApi {
    world: World,
    shutdown: Shutdown,
}

impl EndpointsApi {
    /// A service over the caches of `world`.
    pub fn new(world: World, shutdown: Shutdown) -> Self {
        Self { world, shutdown }
    }

    fn ready(&self) -> Result<(), ApiError> {
        if self.world.daemonsets.is_ready()
            && self.world.pods.is_ready()
            && self.world.nodes.is_ready()
        {
            Ok(())
        } else {
            Err(ApiError::NotReady)
        }
    }
}

/// Endpoints by pod name.
type Set = BTreeMap<String, v1::DaemonEndpoint>;

/// The endpoints of the DaemonSet `key` and its uid; `None` when there is no such DaemonSet.
fn compute(world: &World, key: &DaemonSetKey) -> Option<(String, Set)> {
    let ds = world.daemonsets.read(|c| c.get(key))?;
    let uid = ds
        .metadata
        .as_ref()
        .map_or_else(String::new, |m| m.uid.clone());
    let pods = world.pods.read(|c| c.owned(&uid));
    let set = match pods {
        None => Set::new(),
        Some(pods) => world.nodes.read(|nodes| {
            pods.iter()
                .filter_map(|pod| endpoint(pod, nodes))
                .map(|e| (e.pod_name.clone(), e))
                .collect()
        }),
    };
    Some((uid, set))
}

fn endpoint(pod: &Pod, nodes: &NodeCache) -> Option<v1::DaemonEndpoint> {
    let meta = pod.metadata.as_ref()?;
    if meta.is_being_deleted() {
        return None;
    }
    let phase = pod.status.as_ref().map_or("", |s| s.phase.as_str());
    if matches!(phase, "Succeeded" | "Failed") {
        return None;
    }
    let node_name = target_node_name(pod)?.to_string();
    let addresses = nodes
        .get(&node_name)
        .and_then(|n: &Node| n.status.as_ref())
        .map(|s| s.addresses.iter().cloned().map(Into::into).collect())
        .unwrap_or_default();
    let spec = pod.spec.as_ref();
    let host_network = spec.is_some_and(|s| s.host_network);
    let ports = spec
        .map(|s| {
            s.containers
                .iter()
                .flat_map(|c| c.ports.iter().map(move |p| (c, p)))
                .filter_map(|(c, p)| {
                    let host_port = if p.host_port == 0 && host_network {
                        p.container_port
                    } else {
                        p.host_port
                    };
                    (host_port > 0).then(|| v1::EndpointPort {
                        name: p.name.clone(),
                        protocol: if p.protocol.is_empty() {
                            "TCP".to_string()
                        } else {
                            p.protocol.clone()
                        },
                        host_port,
                        container_port: p.container_port,
                        container: c.name.clone(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let ready = pod.is_ready() && !nodes.not_ready().contains(&node_name);
    Some(v1::DaemonEndpoint {
        pod_name: meta.name.clone(),
        node_name,
        addresses,
        ports,
        ready,
    })
}

fn sorted(set: Set) -> Vec<v1::DaemonEndpoint> {
    let mut list: Vec<v1::DaemonEndpoint> = set.into_values().collect();
    list.sort_by(|a, b| (&a.node_name, &a.pod_name).cmp(&(&b.node_name, &b.pod_name)));
    list
}

fn event(kind: v1::WatchEventType, endpoint: v1::DaemonEndpoint) -> Event {
    Ok(v1::EndpointsWatchResponse {
        r#type: kind.into(),
        endpoint: Some(endpoint),
    })
}

/// The events that turn `before` into `after`.
fn diff(before: &Set, after: &Set) -> Vec<Event> {
    let mut events = Vec::new();
    for (name, old) in before {
        if !after.contains_key(name) {
            events.push(event(v1::WatchEventType::Deleted, old.clone()));
        }
    }
    for (name, new) in after {
        match before.get(name) {
            None => events.push(event(v1::WatchEventType::Added, new.clone())),
            Some(old) if old != new => {
                events.push(event(v1::WatchEventType::Modified, new.clone()))
            }
            Some(_) => {}
        }
    }
    events
}

type Event = Result<v1::EndpointsWatchResponse, Status>;
type WatchStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// The state of one endpoints watch.
struct Watch {
    world: World,
    key: DaemonSetKey,
    uid: String,
    last: Set,
    pending: std::collections::VecDeque<Event>,
    daemonsets: broadcast::Receiver<Arc<DeltaOf<DaemonSetCache>>>,
    pods: broadcast::Receiver<Arc<DeltaOf<PodCache>>>,
    nodes: broadcast::Receiver<Arc<DeltaOf<NodeCache>>>,
}

/// Whether something received concerns the watched DaemonSet.
enum Seen {
    Relevant,
    Irrelevant,
    Closed,
}

fn pod_is_ours(uid: &str, delta: &DeltaOf<PodCache>) -> bool {
    [delta.old.as_deref(), delta.new.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(|p| p.metadata.as_ref())
        .filter_map(|m| m.controller_ref())
        .any(|r| r.uid == uid)
}

impl Watch {
    fn seen<T>(result: Result<T, RecvError>, relevant: impl FnOnce(T) -> bool) -> Seen {
        match result {
            Ok(item) => {
                if relevant(item) {
                    Seen::Relevant
                } else {
                    Seen::Irrelevant
                }
            }
            // Fell behind: recomputing from the caches catches up.
            Err(RecvError::Lagged(_)) => Seen::Relevant,
            Err(RecvError::Closed) => Seen::Closed,
        }
    }

    /// Waits until something relevant happened (then drains whatever else is queued).
    async fn wait(&mut self) -> bool {
        loop {
            let key = self.key.clone();
            let uid = self.uid.clone();
            let seen = tokio::select! {
                r = self.daemonsets.recv() => Self::seen(r, |d| d.key == key),
                r = self.pods.recv() => Self::seen(r, |d| pod_is_ours(&uid, &d)),
                r = self.nodes.recv() => Self::seen(r, |_| true),
            };
            match seen {
                Seen::Relevant => break,
                Seen::Irrelevant => continue,
                Seen::Closed => return false,
            }
        }
        // Drain the backlog: one recomputation covers it all.
        while !matches!(
            self.daemonsets.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Closed)
        ) {}
        while !matches!(
            self.pods.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Closed)
        ) {}
        while !matches!(
            self.nodes.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Closed)
        ) {}
        true
    }

    fn recompute(&mut self) {
        let (uid, set) = compute(&self.world, &self.key).unwrap_or_default();
        self.uid = uid;
        self.pending.extend(diff(&self.last, &set));
        self.last = set;
    }
}

fn updates(watch: Watch) -> impl Stream<Item = Event> + Send {
    stream::unfold(watch, |mut watch| async move {
        loop {
            if let Some(event) = watch.pending.pop_front() {
                return Some((event, watch));
            }
            if !watch.wait().await {
                return None;
            }
            watch.recompute();
        }
    })
}

#[tonic::async_trait]
impl Endpoints for EndpointsApi {
    async fn list(
        &self,
        request: Request<v1::EndpointsListRequest>,
    ) -> Result<Response<v1::EndpointsListResponse>, Status> {
        let v1::EndpointsListRequest { namespace, name } = request.into_inner();
        self.ready()?;
        let key = DaemonSetKey::new(namespace_or_default(&namespace), name.clone())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        let (_, set) = compute(&self.world, &key).ok_or(ApiError::NotFound {
            resource: "daemonsets.apps",
            name,
        })?;
        Ok(Response::new(v1::EndpointsListResponse {
            endpoints: sorted(set),
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::EndpointsWatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let v1::EndpointsWatchRequest { namespace, name } = request.into_inner();
        self.ready()?;
        let key = DaemonSetKey::new(namespace_or_default(&namespace), name.clone())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        // Subscribe first, then compute: a change in between is seen twice at worst (and the
        // diff makes the second time a no-op), never missed.
        let (_, _, daemonsets) = self.world.daemonsets.snapshot_and_subscribe(|_| ());
        let (_, _, pods) = self.world.pods.snapshot_and_subscribe(|_| ());
        let (_, _, nodes) = self.world.nodes.snapshot_and_subscribe(|_| ());
        let (uid, set) = compute(&self.world, &key).ok_or(ApiError::NotFound {
            resource: "daemonsets.apps",
            name,
        })?;
        let initial: Vec<Event> = sorted(set.clone())
            .into_iter()
            .map(|e| event(v1::WatchEventType::Added, e))
            .collect();
        let watch = Watch {
            world: self.world.clone(),
            key,
            uid,
            last: set,
            pending: Default::default(),
            daemonsets,
            pods,
            nodes,
        };
        let stream = stream::iter(initial).chain(updates(watch));
        Ok(Response::new(Box::pin(self.shutdown.guard_stream(stream))))
    }
}

#[cfg(test)]
mod tests {
    use everynode_bus::NodeKey;
    use everynode_core::model::{
        Container, ContainerPort, NodeAddress, NodeStatus, ObjectMeta, PodCondition, PodSpec,
        PodStatus,
    };

    use super::*;
    use crate::informer::Cache;

    fn pod(name: &str, node: &str, ready: bool, host_network: bool) -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                node_name: node.into(),
                host_network,
                containers: vec![Container {
                    name: "main".into(),
                    ports: vec![
                        ContainerPort {
                            name: "metrics".into(),
                            container_port: 9100,
                            host_port: if host_network { 0 } else { 9100 },
                            ..Default::default()
                        },
                        ContainerPort {
                            name: "internal".into(),
                            container_port: 8080,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: "Running".into(),
                conditions: vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn nodes() -> NodeCache {
        let mut cache = NodeCache::default();
        let node = Node {
            metadata: Some(ObjectMeta {
                name: "n1".into(),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                addresses: vec![NodeAddress {
                    type_: "InternalIP".into(),
                    address: "10.0.0.1".into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        cache.put(&NodeKey::new("n1").unwrap(), &Arc::new(node), 1);
        cache
    }

    #[test]
    fn an_endpoint_has_the_node_addresses_and_published_ports() {
        let e = endpoint(&pod("p", "n1", true, false), &nodes()).unwrap();
        assert_eq!(e.node_name, "n1");
        assert_eq!(e.addresses[0].address, "10.0.0.1");
        assert_eq!(e.ports.len(), 1, "only the port published on the node");
        assert_eq!(e.ports[0].host_port, 9100);
        assert_eq!(e.ports[0].protocol, "TCP");
        assert_eq!(e.ports[0].container, "main");
        assert!(e.ready);
    }

    #[test]
    fn host_network_pods_publish_every_container_port() {
        let e = endpoint(&pod("p", "n1", false, true), &nodes()).unwrap();
        let ports: Vec<i32> = e.ports.iter().map(|p| p.host_port).collect();
        assert_eq!(ports, [9100, 8080]);
        assert!(!e.ready);
    }

    #[test]
    fn terminal_pods_have_no_endpoint() {
        let mut failed = pod("p", "n1", false, false);
        if let Some(s) = failed.status.as_mut() {
            s.phase = "Failed".into();
        }
        assert!(endpoint(&failed, &nodes()).is_none());
    }

    #[test]
    fn the_diff_names_every_change() {
        let a = endpoint(&pod("a", "n1", true, false), &nodes()).unwrap();
        let b = endpoint(&pod("b", "n1", true, false), &nodes()).unwrap();
        let b_unready = endpoint(&pod("b", "n1", false, false), &nodes()).unwrap();
        let c = endpoint(&pod("c", "n1", true, false), &nodes()).unwrap();
        let before: Set = [("a".into(), a), ("b".into(), b)].into();
        let after: Set = [("b".into(), b_unready), ("c".into(), c)].into();
        let kinds: Vec<(i32, String)> = diff(&before, &after)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                (e.r#type, e.endpoint.unwrap().pod_name)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (v1::WatchEventType::Deleted as i32, "a".to_string()),
                (v1::WatchEventType::Modified as i32, "b".to_string()),
                (v1::WatchEventType::Added as i32, "c".to_string()),
            ]
        );
    }
}
