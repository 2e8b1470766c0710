//! `enctl describe ds|node|pod [NAME...]`: kubectl's detail blocks. A DaemonSet's description
//! counts its pods by phase and a node's lists its pods, both read from the controller; when
//! the controller cannot be reached the description is still printed and says so.

use everynode_api::v1;
use everynode_core::model;

use super::Ctx;
use super::objects::{self, Item, Query, check_selector, pods_of};
use crate::cli::DescribeArgs;
use crate::error::CliError;
use crate::print::describe;
use crate::print::names::Kind;

/// Runs `enctl describe`.
pub async fn run(ctx: &Ctx, args: DescribeArgs) -> Result<(), CliError> {
    let (kind, names) = crate::args::targets(&args.targets)?;
    let selector = args.selector.clone().unwrap_or_default();
    check_selector(&selector)?;
    let namespace = ctx.namespace();
    let mut failures = Vec::new();
    let items = if names.is_empty() {
        let query = Query {
            namespace: if args.all_namespaces {
                String::new()
            } else {
                namespace.clone()
            },
            selector,
            node: String::new(),
        };
        let (items, _) = objects::list(ctx, kind, &query).await?;
        if items.is_empty() {
            ctx.console
                .warn(&super::get::no_resources(kind, &query.namespace));
        }
        items
    } else {
        if !selector.is_empty() {
            return Err(CliError::Usage(
                "name cannot be provided when a selector is specified".into(),
            ));
        }
        let mut items = Vec::new();
        for name in &names {
            match objects::get(ctx, kind, &namespace, name).await {
                Ok(item) => items.push(item),
                Err(e) if e.is_not_found() => failures.push(e.render()),
                Err(e) => return Err(e),
            }
        }
        items
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            ctx.console.line("")?;
        }
        let text = match item {
            Item::DaemonSet(ds) => describe_daemon_set(ctx, ds).await,
            Item::Node(node) => describe_node(ctx, node).await,
            Item::Pod(pod) => describe::pod(&model::Pod::from((**pod).clone())),
        };
        ctx.console.print(&text)?;
    }
    for failure in &failures {
        ctx.console.warn(failure);
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Reported)
    }
}

fn pods_model(pods: Result<Vec<v1::Pod>, CliError>) -> Result<Vec<model::Pod>, String> {
    pods.map(|p| p.into_iter().map(model::Pod::from).collect())
        .map_err(|e| e.render().trim_start_matches("error: ").to_string())
}

async fn describe_daemon_set(ctx: &Ctx, ds: &v1::DaemonSet) -> String {
    let pods = pods_model(pods_of(ctx, ds).await);
    describe::daemon_set(
        &model::DaemonSet::from(ds.clone()),
        pods.as_deref().map_err(Clone::clone),
    )
}

async fn describe_node(ctx: &Ctx, node: &v1::Node) -> String {
    let name = node
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let listed = objects::list(
        ctx,
        Kind::Pod,
        &Query {
            namespace: String::new(),
            selector: String::new(),
            node: name,
        },
    )
    .await
    .map(|(items, _)| {
        items
            .into_iter()
            .filter_map(|i| match i {
                Item::Pod(p) => Some(*p),
                _ => None,
            })
            .collect()
    });
    let pods = pods_model(listed);
    describe::node(
        &model::Node::from(node.clone()),
        pods.as_deref().map_err(Clone::clone),
        model::Timestamp::now(),
    )
}
