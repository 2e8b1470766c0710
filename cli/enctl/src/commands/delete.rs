//! `enctl delete ds|pod|node NAME...` and `enctl delete -f FILE` (the DaemonSets of the files).
//! DaemonSets take `--cascade=background|foreground|orphan` (the API's PropagationPolicy);
//! pods take `--grace-period`. Each deletion prints kubectl's `daemonset.apps "x" deleted`; a
//! failed one is reported and the others still run (exit status 1).

use everynode_api::manifest::Object;
use everynode_api::v1;

use super::Ctx;
use super::apply::{decode_sources, read_sources, set_namespace};
use crate::cli::{Cascade, DeleteArgs};
use crate::config::Service;
use crate::error::CliError;
use crate::print::names::Kind;

/// The API's propagation policy for `--cascade`.
pub fn propagation(cascade: Cascade) -> v1::PropagationPolicy {
    match cascade {
        Cascade::Background | Cascade::True => v1::PropagationPolicy::Background,
        Cascade::Foreground => v1::PropagationPolicy::Foreground,
        Cascade::Orphan | Cascade::False => v1::PropagationPolicy::Orphan,
    }
}

/// Runs `enctl delete`.
pub async fn run(ctx: &Ctx, args: DeleteArgs) -> Result<(), CliError> {
    let targets: Vec<(Kind, String, String)> = if args.files.is_empty() {
        let (kind, names) = crate::args::targets(&args.targets)?;
        if names.is_empty() {
            return Err(CliError::Usage(format!(
                "resource(s) were provided, but no name was specified (e.g. enctl delete {} NAME)",
                kind.short()
            )));
        }
        let namespace = ctx.namespace();
        names
            .into_iter()
            .map(|n| (kind, namespace.clone(), n))
            .collect()
    } else {
        if !args.targets.is_empty() {
            return Err(CliError::Usage(
                "give either -f FILE or TYPE NAME..., not both".into(),
            ));
        }
        let documents = decode_sources(&read_sources(&args.files, args.recursive)?)?;
        let mut targets = Vec::new();
        for (_, document) in documents {
            match document.object {
                Object::DaemonSet(mut ds) => {
                    set_namespace(&mut ds, ctx.global.namespace.as_deref(), &ctx.namespace())?;
                    let meta = ds.metadata.unwrap_or_default();
                    targets.push((Kind::DaemonSet, meta.namespace, meta.name));
                }
                Object::Node(_) | Object::Pod(_) | Object::Other { .. } => {}
            }
        }
        targets
    };

    let mut failed = false;
    for (kind, namespace, name) in targets {
        match delete_one(ctx, kind, &namespace, &name, &args).await {
            Ok(()) => ctx
                .console
                .line(&format!("{} deleted", kind.quoted_name(&name)))?,
            Err(e) if e.is_not_found() && args.ignore_not_found => {}
            Err(e) if e.is_unreachable() => return Err(e),
            Err(e) => {
                failed = true;
                ctx.console.warn(&e.render());
            }
        }
    }
    if failed {
        Err(CliError::Reported)
    } else {
        Ok(())
    }
}

async fn delete_one(
    ctx: &Ctx,
    kind: Kind,
    namespace: &str,
    name: &str,
    args: &DeleteArgs,
) -> Result<(), CliError> {
    let c = &ctx.clients;
    match kind {
        Kind::DaemonSet => {
            let mut api = c.daemon_sets().await?;
            let policy = propagation(args.cascade);
            // A foreground delete returns when the pods are gone; the server bounds that wait.
            let timeout =
                (policy != v1::PropagationPolicy::Foreground).then_some(ctx.global.request_timeout);
            c.call_within(
                Service::Admission,
                timeout,
                api.delete(v1::DaemonSetsDeleteRequest {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    propagation_policy: policy as i32,
                    uid: String::new(),
                    resource_version: String::new(),
                }),
            )
            .await?;
        }
        Kind::Pod => {
            let mut api = c.pods().await?;
            c.call(
                Service::Controller,
                api.delete(v1::PodsDeleteRequest {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    grace_period_seconds: args.grace_period.filter(|g| *g >= 0),
                }),
            )
            .await?;
        }
        Kind::Node => {
            let mut api = c.nodes().await?;
            c.call(
                Service::Registry,
                api.delete(v1::NodesDeleteRequest {
                    name: name.to_string(),
                }),
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cascade_maps_to_the_propagation_policy() {
        assert_eq!(
            propagation(Cascade::Background),
            v1::PropagationPolicy::Background
        );
        assert_eq!(
            propagation(Cascade::True),
            v1::PropagationPolicy::Background
        );
        assert_eq!(
            propagation(Cascade::Foreground),
            v1::PropagationPolicy::Foreground
        );
        assert_eq!(propagation(Cascade::Orphan), v1::PropagationPolicy::Orphan);
        assert_eq!(propagation(Cascade::False), v1::PropagationPolicy::Orphan);
    }
}
