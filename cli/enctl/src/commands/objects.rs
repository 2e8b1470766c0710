//! Objects of any of the three kinds, read from the service that owns them: List and Get by
//! kind, one [`Item`] type that prints as a table row or a Kubernetes-shaped document, and the
//! label-selector check done before anything is sent.

use everynode_api::{manifest, v1};
use everynode_core::labels::Selector;
use everynode_core::model;

use super::Ctx;
use crate::config::Service;
use crate::error::CliError;
use crate::print::names::Kind;
use crate::print::table::{self, Layout};

/// One object of any kind, as the API returned it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A DaemonSet.
    DaemonSet(Box<v1::DaemonSet>),
    /// A node.
    Node(Box<v1::Node>),
    /// A pod.
    Pod(Box<v1::Pod>),
}

fn meta_name(meta: Option<&v1::ObjectMeta>) -> &str {
    meta.map_or("", |m| m.name.as_str())
}

fn meta_namespace(meta: Option<&v1::ObjectMeta>) -> &str {
    meta.map_or("", |m| m.namespace.as_str())
}

impl Item {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Item::DaemonSet(_) => Kind::DaemonSet,
            Item::Node(_) => Kind::Node,
            Item::Pod(_) => Kind::Pod,
        }
    }

    fn meta(&self) -> Option<&v1::ObjectMeta> {
        match self {
            Item::DaemonSet(d) => d.metadata.as_ref(),
            Item::Node(n) => n.metadata.as_ref(),
            Item::Pod(p) => p.metadata.as_ref(),
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        meta_name(self.meta())
    }

    /// `metadata.namespace` (empty for nodes).
    pub fn namespace(&self) -> &str {
        meta_namespace(self.meta())
    }

    /// The object's table row.
    pub fn row(&self, layout: Layout, now: model::Timestamp) -> Vec<String> {
        match self {
            Item::DaemonSet(d) => {
                table::daemon_set_row(&model::DaemonSet::from((**d).clone()), layout, now)
            }
            Item::Node(n) => table::node_row(&model::Node::from((**n).clone()), layout, now),
            Item::Pod(p) => table::pod_row(&model::Pod::from((**p).clone()), layout, now),
        }
    }

    /// The object in Kubernetes' shape.
    pub fn value(&self) -> serde_json::Value {
        match self {
            Item::DaemonSet(d) => manifest::to_value(&**d),
            Item::Node(n) => manifest::to_value(&**n),
            Item::Pod(p) => manifest::to_value(&**p),
        }
    }
}

/// The table titles of `kind`.
pub fn header(kind: Kind, layout: Layout) -> Vec<String> {
    match kind {
        Kind::DaemonSet => table::daemon_set_header(layout),
        Kind::Node => table::node_header(layout),
        Kind::Pod => table::pod_header(layout),
    }
}

/// The service that serves `kind`.
pub fn service_of(kind: Kind) -> Service {
    match kind {
        Kind::DaemonSet => Service::Admission,
        Kind::Node => Service::Registry,
        Kind::Pod => Service::Controller,
    }
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Namespace; empty for every namespace (ignored for nodes).
    pub namespace: String,
    /// Label selector, checked by [`check_selector`].
    pub selector: String,
    /// Node of the pods; empty for every node (pods only).
    pub node: String,
}

/// Checks a label selector locally, so a typo is reported before anything is sent.
pub fn check_selector(selector: &str) -> Result<(), CliError> {
    Selector::parse(selector)
        .map(|_| ())
        .map_err(|e| CliError::Usage(format!("unable to parse label selector {selector:?}: {e}")))
}

/// Lists objects of `kind`; returns them and the snapshot's resource version (for a watch).
pub async fn list(ctx: &Ctx, kind: Kind, q: &Query) -> Result<(Vec<Item>, String), CliError> {
    let c = &ctx.clients;
    let service = service_of(kind);
    match kind {
        Kind::DaemonSet => {
            let mut api = c.daemon_sets().await?;
            let r = c
                .call(
                    service,
                    api.list(v1::DaemonSetsListRequest {
                        namespace: q.namespace.clone(),
                        label_selector: q.selector.clone(),
                    }),
                )
                .await?;
            let items = r
                .items
                .into_iter()
                .map(|d| Item::DaemonSet(Box::new(d)))
                .collect();
            Ok((items, r.resource_version))
        }
        Kind::Node => {
            let mut api = c.nodes().await?;
            let r = c
                .call(
                    service,
                    api.list(v1::NodesListRequest {
                        label_selector: q.selector.clone(),
                    }),
                )
                .await?;
            let items = r
                .items
                .into_iter()
                .map(|n| Item::Node(Box::new(n)))
                .collect();
            Ok((items, r.resource_version))
        }
        Kind::Pod => {
            let mut api = c.pods().await?;
            let r = c
                .call(
                    service,
                    api.list(v1::PodsListRequest {
                        namespace: q.namespace.clone(),
                        label_selector: q.selector.clone(),
                        node_name: q.node.clone(),
                    }),
                )
                .await?;
            let items = r
                .items
                .into_iter()
                .map(|p| Item::Pod(Box::new(p)))
                .collect();
            Ok((items, r.resource_version))
        }
    }
}

/// Reads one object of `kind` (`namespace` is ignored for nodes).
pub async fn get(ctx: &Ctx, kind: Kind, namespace: &str, name: &str) -> Result<Item, CliError> {
    let c = &ctx.clients;
    let service = service_of(kind);
    let missing = || {
        CliError::Failed(format!(
            "{} answered without the object",
            c.url(service_of(kind))
        ))
    };
    match kind {
        Kind::DaemonSet => {
            let mut api = c.daemon_sets().await?;
            let r = c
                .call(
                    service,
                    api.get(v1::DaemonSetsGetRequest {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    }),
                )
                .await?;
            r.daemon_set
                .map(|d| Item::DaemonSet(Box::new(d)))
                .ok_or_else(missing)
        }
        Kind::Node => {
            let mut api = c.nodes().await?;
            let r = c
                .call(
                    service,
                    api.get(v1::NodesGetRequest {
                        name: name.to_string(),
                    }),
                )
                .await?;
            r.node.map(|n| Item::Node(Box::new(n))).ok_or_else(missing)
        }
        Kind::Pod => {
            let mut api = c.pods().await?;
            let r = c
                .call(
                    service,
                    api.get(v1::PodsGetRequest {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    }),
                )
                .await?;
            r.pod.map(|p| Item::Pod(Box::new(p))).ok_or_else(missing)
        }
    }
}

/// Reads a DaemonSet.
pub async fn get_daemon_set(
    ctx: &Ctx,
    namespace: &str,
    name: &str,
) -> Result<v1::DaemonSet, CliError> {
    match get(ctx, Kind::DaemonSet, namespace, name).await? {
        Item::DaemonSet(d) => Ok(*d),
        other => Err(CliError::Failed(format!(
            "expected a DaemonSet, got a {}",
            other.kind()
        ))),
    }
}

/// Reads a node.
pub async fn get_node(ctx: &Ctx, name: &str) -> Result<v1::Node, CliError> {
    match get(ctx, Kind::Node, "", name).await? {
        Item::Node(n) => Ok(*n),
        other => Err(CliError::Failed(format!(
            "expected a node, got a {}",
            other.kind()
        ))),
    }
}

/// The pods a DaemonSet controls: pods of its namespace matching its selector whose
/// controller reference is the DaemonSet (or that have no owner reference at all).
pub async fn pods_of(ctx: &Ctx, ds: &v1::DaemonSet) -> Result<Vec<v1::Pod>, CliError> {
    let model = model::DaemonSet::from(ds.clone());
    let selector =
        Selector::from_label_selector(model.spec.as_ref().and_then(|s| s.selector.as_ref()))
            .map_err(|e| CliError::Failed(format!("the DaemonSet's selector is invalid: {e}")))?;
    if matches!(selector, Selector::Nothing) {
        return Ok(Vec::new());
    }
    let (items, _) = list(
        ctx,
        Kind::Pod,
        &Query {
            namespace: model.namespace().to_string(),
            selector: selector.to_string(),
            node: String::new(),
        },
    )
    .await?;
    let uid = model
        .metadata
        .as_ref()
        .map(|m| m.uid.clone())
        .unwrap_or_default();
    Ok(items
        .into_iter()
        .filter_map(|i| match i {
            Item::Pod(p) => Some(*p),
            _ => None,
        })
        .filter(|p| {
            let refs = p
                .metadata
                .as_ref()
                .map(|m| m.owner_references.as_slice())
                .unwrap_or_default();
            refs.is_empty()
                || refs
                    .iter()
                    .any(|r| r.controller == Some(true) && (uid.is_empty() || r.uid == uid))
        })
        .collect())
}
