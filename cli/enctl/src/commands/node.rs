//! Node commands, each one `Nodes.Update` as kubectl does them: `label node NAME k=v k-`
//! (set_labels / remove_labels / overwrite), `cordon` / `uncordon` (unschedulable), `taint node
//! NAME k=v:Effect k:Effect- k-` (add_taints / remove_taints / overwrite). The node is read
//! first so that the printed outcome says what changed (`labeled`, `not labeled`, `already
//! cordoned`, `tainted`, `untainted`, `modified`) and a taint to remove must exist.

use everynode_api::v1;

use super::Ctx;
use super::objects::get_node;
use crate::args::{TaintChanges, label_changes, node_name, taint_changes, target_then};
use crate::cli::{LabelArgs, TaintArgs};
use crate::config::Service;
use crate::error::CliError;
use crate::print::names::Kind;

async fn update(ctx: &Ctx, request: v1::NodesUpdateRequest) -> Result<v1::Node, CliError> {
    let c = &ctx.clients;
    let mut api = c.nodes().await?;
    c.call(Service::Registry, api.update(request))
        .await
        .map(|r| r.node.unwrap_or_default())
}

fn labels_of(node: &v1::Node) -> std::collections::BTreeMap<String, String> {
    node.metadata
        .as_ref()
        .map(|m| m.labels.clone())
        .unwrap_or_default()
}

/// kubectl's word for a label change: `labeled`, `unlabeled` (only fewer labels, without
/// `--overwrite`) or `not labeled`.
pub fn label_outcome(before: usize, after: usize, changed: bool, overwrite: bool) -> &'static str {
    if !changed {
        "not labeled"
    } else if !overwrite && after < before {
        "unlabeled"
    } else {
        "labeled"
    }
}

/// Runs `enctl label`.
pub async fn label(ctx: &Ctx, args: LabelArgs) -> Result<(), CliError> {
    let (name, rest) = target_then(&args.args, Kind::Node)?;
    let changes = label_changes(&rest)?;
    let before = labels_of(&get_node(ctx, &name).await?);
    let after = labels_of(
        &update(
            ctx,
            v1::NodesUpdateRequest {
                name: name.clone(),
                set_labels: changes.set.into_iter().collect(),
                remove_labels: changes.remove,
                overwrite: args.overwrite,
                ..v1::NodesUpdateRequest::default()
            },
        )
        .await?,
    );
    let word = label_outcome(before.len(), after.len(), before != after, args.overwrite);
    ctx.console
        .line(&format!("{} {word}", Kind::Node.slash_name(&name)))
}

/// Runs `enctl cordon` (`on`) or `enctl uncordon`.
pub async fn cordon(ctx: &Ctx, node: &str, on: bool) -> Result<(), CliError> {
    let name = node_name(node)?;
    let current = get_node(ctx, &name).await?;
    let cordoned = current.spec.as_ref().is_some_and(|s| s.unschedulable);
    let word = if on { "cordoned" } else { "uncordoned" };
    if cordoned == on {
        return ctx
            .console
            .line(&format!("{} already {word}", Kind::Node.slash_name(&name)));
    }
    update(
        ctx,
        v1::NodesUpdateRequest {
            name: name.clone(),
            unschedulable: Some(on),
            ..v1::NodesUpdateRequest::default()
        },
    )
    .await?;
    ctx.console
        .line(&format!("{} {word}", Kind::Node.slash_name(&name)))
}

/// kubectl's word for a taint change.
pub fn taint_outcome(changes: &TaintChanges, overwrite: bool) -> &'static str {
    match (changes.add.is_empty(), changes.remove.is_empty()) {
        _ if overwrite => "modified",
        (false, false) => "modified",
        (false, true) => "tainted",
        (true, _) => "untainted",
    }
}

/// The removals that match no taint of the node, as kubectl reports them.
pub fn missing_taints(changes: &TaintChanges, taints: &[v1::Taint]) -> Vec<String> {
    changes
        .remove
        .iter()
        .filter(|r| {
            !taints
                .iter()
                .any(|t| t.key == r.key && (r.effect.is_empty() || t.effect == r.effect))
        })
        .map(|r| {
            if r.effect.is_empty() {
                format!("taint {:?} not found", r.key)
            } else {
                format!("taint \"{}:{}\" not found", r.key, r.effect)
            }
        })
        .collect()
}

/// Runs `enctl taint`.
pub async fn taint(ctx: &Ctx, args: TaintArgs) -> Result<(), CliError> {
    let (name, rest) = target_then(&args.args, Kind::Node)?;
    let changes = taint_changes(&rest)?;
    let current = get_node(ctx, &name).await?;
    let taints = current
        .spec
        .as_ref()
        .map(|s| s.taints.clone())
        .unwrap_or_default();
    let missing = missing_taints(&changes, &taints);
    if !missing.is_empty() {
        return Err(CliError::Failed(missing.join("\n")));
    }
    let word = taint_outcome(&changes, args.overwrite);
    update(
        ctx,
        v1::NodesUpdateRequest {
            name: name.clone(),
            overwrite: args.overwrite,
            add_taints: changes
                .add
                .iter()
                .map(|t| v1::Taint {
                    key: t.key.clone(),
                    value: t.value.clone(),
                    effect: t.effect.clone(),
                    time_added: None,
                })
                .collect(),
            remove_taints: changes
                .remove
                .iter()
                .map(|r| v1::TaintKey {
                    key: r.key.clone(),
                    effect: r.effect.clone(),
                })
                .collect(),
            ..v1::NodesUpdateRequest::default()
        },
    )
    .await?;
    ctx.console
        .line(&format!("{} {word}", Kind::Node.slash_name(&name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{TaintRemoval, TaintSpec};

    #[test]
    fn label_outcomes_read_like_kubectl() {
        assert_eq!(label_outcome(2, 3, true, false), "labeled");
        assert_eq!(label_outcome(3, 2, true, false), "unlabeled");
        assert_eq!(label_outcome(3, 2, true, true), "labeled");
        assert_eq!(label_outcome(3, 3, false, false), "not labeled");
    }

    fn add() -> TaintSpec {
        TaintSpec {
            key: "k".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        }
    }

    fn remove(effect: &str) -> TaintRemoval {
        TaintRemoval {
            key: "k".into(),
            effect: effect.into(),
        }
    }

    #[test]
    fn taint_outcomes_read_like_kubectl() {
        let only_add = TaintChanges {
            add: vec![add()],
            remove: vec![],
        };
        let only_remove = TaintChanges {
            add: vec![],
            remove: vec![remove("")],
        };
        let both = TaintChanges {
            add: vec![add()],
            remove: vec![remove("NoExecute")],
        };
        assert_eq!(taint_outcome(&only_add, false), "tainted");
        assert_eq!(taint_outcome(&only_remove, false), "untainted");
        assert_eq!(taint_outcome(&both, false), "modified");
        assert_eq!(taint_outcome(&only_add, true), "modified");
    }

    #[test]
    fn removing_an_absent_taint_is_an_error() {
        let taints = [v1::Taint {
            key: "k".into(),
            effect: "NoSchedule".into(),
            ..v1::Taint::default()
        }];
        let changes = TaintChanges {
            add: vec![],
            remove: vec![remove("NoSchedule"), remove(""), remove("NoExecute")],
        };
        assert_eq!(
            missing_taints(&changes, &taints),
            ["taint \"k:NoExecute\" not found"]
        );
    }
}
