//! The `everynode.v1.Nodes` gRPC service: requests in, [`validation`]
//! checks them, [`node`] decides, [`NodeStore`] writes with compare-and-set and
//! publishes the events, [`Lifecycle`] keeps the leases.
//!
//! Every handler maps its errors through [`Error`]; nothing here builds a `tonic::Status` by
//! hand.

use std::pin::Pin;

use everynode_api::v1;
use everynode_api::v1::nodes_server::{Nodes, NodesServer};
use everynode_auth::{Object, Rpc};
use everynode_core::labels::Selector;
use everynode_core::model::{Node, Timestamp};
use everynode_service::Shutdown;
use futures::Stream;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::lifecycle::Lifecycle;
use crate::node;
use crate::store::{NodeStore, Outcome, Stored, Write};
use crate::validation::{self, Edit, FieldError, TaintKey};
use crate::watch;

/// How often a registration retries when a concurrent registration of the same name created
/// the node between its read and its create.
const REGISTER_ATTEMPTS: usize = 4;

/// The Nodes service.
#[derive(Clone, Debug)]
pub struct NodesApi {
    store: NodeStore,
    lifecycle: Lifecycle,
    shutdown: Shutdown,
}

impl NodesApi {
    /// The service over `lifecycle`'s store and leases; watches end on `shutdown`.
    pub fn new(lifecycle: Lifecycle, shutdown: Shutdown) -> Self {
        Self {
            store: lifecycle.store().clone(),
            lifecycle,
            shutdown,
        }
    }

    /// How often agents should heartbeat: a third of `--not-ready-after`, so two heartbeats
    /// can be lost before a node is declared NotReady.
    fn heartbeat_interval(&self) -> Option<prost_types::Duration> {
        prost_types::Duration::try_from(self.lifecycle.timing().not_ready_after / 3).ok()
    }

    /// Stores a registration: a new node, or the merge of a re-registration.
    async fn register_node(&self, request: &Node) -> Result<Stored, Error> {
        let name = request.name();
        // Before the lease is renewed for this registration: is the node held by another
        // agent that is still alive?
        let mut stored = self.store.get(name).await?;
        if let Some(stored) = &stored {
            self.lifecycle.check_holder(
                name,
                Some(node::boot_id(&stored.node)),
                node::boot_id(request),
            )?;
        }
        self.lifecycle.registering(name).await;
        for attempt in 0..REGISTER_ATTEMPTS {
            if attempt > 0 {
                stored = self.store.get(name).await?;
            }
            if stored.is_none() {
                let uid = uuid::Uuid::new_v4().to_string();
                match self
                    .store
                    .create(&node::new_node(request, uid, Timestamp::now()))
                    .await
                {
                    Ok(stored) => {
                        self.lifecycle.written(&Outcome::Updated(stored.clone()));
                        return Ok(stored);
                    }
                    // Registered concurrently (another replica, a retrying agent): merge.
                    Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            let outcome = self
                .store
                .modify(name, None, |current| {
                    Ok(Write::Put(Box::new(node::reregister(
                        &current.node,
                        request,
                        Timestamp::now(),
                    ))))
                })
                .await;
            match outcome {
                Ok(outcome) => {
                    self.lifecycle.written(&outcome);
                    return Ok(outcome.stored().clone());
                }
                // Removed between the read and the write: register it anew.
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(name.to_owned()))
    }
}

/// Checks a node name given as the request field `name`.
fn check_name(name: &str) -> Result<(), Error> {
    Error::check(name, validation::name_errors(name, "name"))
}

/// Parses a label selector given as the request field `label_selector`.
fn parse_selector(selector: &str) -> Result<Selector, Error> {
    Selector::parse(selector).map_err(|e| {
        Error::invalid(
            "",
            validation::invalid("label_selector", selector, e.to_string()),
        )
    })
}

/// Parses a client-given resourceVersion (request field `resource_version`); empty is none.
fn parse_version(name: &str, version: &str) -> Result<Option<u64>, Error> {
    if version.is_empty() {
        return Ok(None);
    }
    version.parse().map(Some).map_err(|_| {
        Error::invalid(
            name,
            validation::invalid(
                "resource_version",
                version,
                "must be a resourceVersion returned by the server",
            ),
        )
    })
}

/// The edit an Update request asks for.
fn edit_of(request: &v1::NodesUpdateRequest) -> Edit {
    Edit {
        set_labels: request.set_labels.clone(),
        remove_labels: request.remove_labels.clone(),
        overwrite: request.overwrite,
        add_taints: request
            .add_taints
            .iter()
            .cloned()
            .map(everynode_core::model::Taint::from)
            .collect(),
        remove_taints: request
            .remove_taints
            .iter()
            .map(|t| TaintKey {
                key: t.key.clone(),
                effect: (!t.effect.is_empty()).then(|| t.effect.clone()),
            })
            .collect(),
        unschedulable: request.unschedulable,
    }
}

/// Node restriction (Kubernetes' NodeRestriction admission): a node's agent may `method` only
/// its own node; other callers were already authorized by the server's auth layer.
fn own_node<T>(request: &Request<T>, method: &str, node: &str) -> Result<(), Status> {
    everynode_auth::authorize_object(
        request,
        Rpc::new(NodesServer::<NodesApi>::NAME, method),
        Object::Node(node),
    )
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::NodesWatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Nodes for NodesApi {
    async fn register(
        &self,
        request: Request<v1::NodesRegisterRequest>,
    ) -> Result<Response<v1::NodesRegisterResponse>, Status> {
        let node_name = request
            .get_ref()
            .node
            .as_ref()
            .and_then(|n| n.metadata.as_ref())
            .map(|m| m.name.clone())
            .unwrap_or_default();
        own_node(&request, "Register", &node_name)?;
        let v1::NodesRegisterRequest { node } = request.into_inner();
        let node =
            Node::from(node.ok_or_else(|| Error::invalid("", FieldError::required("node", "")))?);
        Error::check(node.name(), validation::validate_registration(&node))?;
        let stored = self.register_node(&node).await?;
        Ok(Response::new(v1::NodesRegisterResponse {
            node: Some(stored.node.into()),
            heartbeat_interval: self.heartbeat_interval(),
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<v1::NodesHeartbeatRequest>,
    ) -> Result<Response<v1::NodesHeartbeatResponse>, Status> {
        own_node(&request, "Heartbeat", &request.get_ref().name)?;
        let v1::NodesHeartbeatRequest { name, boot_id } = request.into_inner();
        check_name(&name)?;
        self.lifecycle.heartbeat(&name, &boot_id).await?;
        Ok(Response::new(v1::NodesHeartbeatResponse {
            heartbeat_interval: self.heartbeat_interval(),
        }))
    }

    async fn get(
        &self,
        request: Request<v1::NodesGetRequest>,
    ) -> Result<Response<v1::NodesGetResponse>, Status> {
        own_node(&request, "Get", &request.get_ref().name)?;
        let v1::NodesGetRequest { name } = request.into_inner();
        check_name(&name)?;
        let found = self
            .store
            .get(&name)
            .await?
            .ok_or_else(|| Error::NotFound(name.clone()))?;
        Ok(Response::new(v1::NodesGetResponse {
            node: Some(found.node.into()),
        }))
    }

    async fn list(
        &self,
        request: Request<v1::NodesListRequest>,
    ) -> Result<Response<v1::NodesListResponse>, Status> {
        let v1::NodesListRequest { label_selector } = request.into_inner();
        let selector = parse_selector(&label_selector)?;
        let (nodes, revision) = self.store.list().await?;
        let items = nodes
            .into_iter()
            .map(|stored| stored.node)
            .filter(|n| selector.matches(&node::labels(n)))
            .map(v1::Node::from)
            .collect();
        Ok(Response::new(v1::NodesListResponse {
            items,
            resource_version: revision.to_string(),
        }))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::NodesWatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let v1::NodesWatchRequest {
            label_selector,
            resource_version,
        } = request.into_inner();
        let selector = parse_selector(&label_selector)?;
        let from = parse_version("", &resource_version)?;
        let stream = watch::start(&self.store, selector, from).await?;
        Ok(Response::new(Box::pin(self.shutdown.guard_stream(stream))))
    }

    async fn update(
        &self,
        request: Request<v1::NodesUpdateRequest>,
    ) -> Result<Response<v1::NodesUpdateResponse>, Status> {
        own_node(&request, "Update", &request.get_ref().name)?;
        let request = request.into_inner();
        let name = request.name.clone();
        let mut errors = validation::name_errors(&name, "name");
        let pinned = match parse_version(&name, &request.resource_version) {
            Ok(pinned) => pinned,
            Err(Error::Invalid { errors: e, .. }) => {
                errors.extend(e);
                None
            }
            Err(e) => return Err(e.into()),
        };
        let edit = edit_of(&request);
        errors.extend(validation::validate_edit(&edit));
        Error::check(&name, errors)?;
        let outcome = self
            .store
            .modify(&name, pinned, |current| {
                node::apply_edit(&current.node, &edit, Timestamp::now())
                    .map(|node| Write::Put(Box::new(node)))
                    .map_err(|conflicts| Error::Overwrite { conflicts })
            })
            .await?;
        self.lifecycle.written(&outcome);
        Ok(Response::new(v1::NodesUpdateResponse {
            node: Some(outcome.stored().node.clone().into()),
        }))
    }

    async fn delete(
        &self,
        request: Request<v1::NodesDeleteRequest>,
    ) -> Result<Response<v1::NodesDeleteResponse>, Status> {
        let v1::NodesDeleteRequest { name } = request.into_inner();
        check_name(&name)?;
        let outcome = self
            .store
            .modify(&name, None, |_| Ok(Write::Remove))
            .await?;
        self.lifecycle.written(&outcome);
        Ok(Response::new(v1::NodesDeleteResponse {
            node: Some(outcome.stored().node.clone().into()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_requests_become_edits() {
        let request = v1::NodesUpdateRequest {
            name: "n1".into(),
            remove_taints: vec![
                v1::TaintKey {
                    key: "a".into(),
                    effect: String::new(),
                },
                v1::TaintKey {
                    key: "b".into(),
                    effect: "NoSchedule".into(),
                },
            ],
            unschedulable: Some(true),
            ..Default::default()
        };
        let edit = edit_of(&request);
        assert_eq!(edit.remove_taints[0].effect, None);
        assert_eq!(edit.remove_taints[1].effect.as_deref(), Some("NoSchedule"));
        assert_eq!(edit.unschedulable, Some(true));
    }

    #[test]
    fn bad_selectors_and_versions_are_invalid_arguments_naming_the_field() {
        let status = Status::from(parse_selector("a in (").unwrap_err());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("label_selector"),
            "{}",
            status.message()
        );
        let status = Status::from(parse_version("n1", "abc").unwrap_err());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("resource_version"),
            "{}",
            status.message()
        );
        assert_eq!(parse_version("n1", "").unwrap(), None);
        assert_eq!(parse_version("n1", "42").unwrap(), Some(42));
    }
}
