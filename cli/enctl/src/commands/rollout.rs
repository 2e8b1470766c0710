//! `enctl rollout status|restart|history|undo ds/NAME`.
//!
//! `status` reads the DaemonSet, then follows its Watch, printing kubectl's progress messages
//! (each once) until every desired node runs an updated, available pod of the latest observed
//! generation, or `--timeout` passes. `restart` stamps the template's
//! `kubectl.kubernetes.io/restartedAt` annotation, as kubectl does, so every pod is replaced.
//! `history` and `undo` need ControllerRevisions, which no everynode API serves yet.

use std::time::Duration;

use everynode_api::v1;
use everynode_core::model;
use everynode_core::retry::Backoff;
use tonic::Code;

use super::Ctx;
use super::objects::get_daemon_set;
use crate::cli::{RolloutCommand, RolloutStatusArgs, RolloutTarget};
use crate::config::Service;
use crate::error::CliError;
use crate::print::names::Kind;

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Pauses before watching again when a watch ended (a service restart): the project's retry
/// policy from 250 ms doubling to 5 s, with jitter.
const REWATCH: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));

/// Runs `enctl rollout …`.
pub async fn run(ctx: &Ctx, command: RolloutCommand) -> Result<(), CliError> {
    match command {
        RolloutCommand::Status(args) => status(ctx, args).await,
        RolloutCommand::Restart(target) => restart(ctx, &target).await,
        RolloutCommand::History(target) => unsupported("history", &target),
        RolloutCommand::Undo(target) => unsupported("undo", &target),
    }
}

fn unsupported(what: &str, target: &RolloutTarget) -> Result<(), CliError> {
    crate::args::single_target(&target.targets, Kind::DaemonSet)?;
    Err(CliError::Failed(format!(
        "rollout {what} is not supported yet: it needs the DaemonSet's ControllerRevisions, and no everynode API serves them yet"
    )))
}

/// kubectl's DaemonSet rollout status: the message to print and whether the rollout is done;
/// an error for a strategy that has no rollout.
pub fn rollout_status(ds: &model::DaemonSet) -> Result<(String, bool), String> {
    let name = ds.name();
    let strategy = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .map(|s| s.type_.as_str())
        .unwrap_or_default();
    if strategy != "RollingUpdate" {
        return Err("rollout status is only available for RollingUpdate strategy type".into());
    }
    let generation = ds.metadata.as_ref().map_or(0, |m| m.generation);
    let status = ds.status.clone().unwrap_or_default();
    if generation > status.observed_generation {
        return Ok((
            "Waiting for daemon set spec update to be observed...".into(),
            false,
        ));
    }
    if status.updated_number_scheduled < status.desired_number_scheduled {
        return Ok((
            format!(
                "Waiting for daemon set {name:?} rollout to finish: {} out of {} new pods have been updated...",
                status.updated_number_scheduled, status.desired_number_scheduled
            ),
            false,
        ));
    }
    if status.number_available < status.desired_number_scheduled {
        return Ok((
            format!(
                "Waiting for daemon set {name:?} rollout to finish: {} of {} updated pods are available...",
                status.number_available, status.desired_number_scheduled
            ),
            false,
        ));
    }
    Ok((format!("daemon set {name:?} successfully rolled out"), true))
}

/// Prints the status of `ds` unless it repeats the last message; returns whether it is done.
fn report(ctx: &Ctx, ds: &v1::DaemonSet, last: &mut Option<String>) -> Result<bool, CliError> {
    let (message, done) =
        rollout_status(&model::DaemonSet::from(ds.clone())).map_err(CliError::Failed)?;
    if last.as_deref() != Some(message.as_str()) {
        ctx.console.line(&message)?;
        *last = Some(message);
    }
    Ok(done)
}

async fn status(ctx: &Ctx, args: RolloutStatusArgs) -> Result<(), CliError> {
    let name = crate::args::single_target(&args.targets, Kind::DaemonSet)?;
    let namespace = ctx.namespace();
    let follow = follow(ctx, &namespace, &name, args.watch);
    if args.timeout.is_zero() {
        return follow.await;
    }
    match tokio::time::timeout(args.timeout, follow).await {
        Ok(result) => result,
        Err(_) => Err(CliError::Failed(
            "timed out waiting for the condition".into(),
        )),
    }
}

async fn follow(ctx: &Ctx, namespace: &str, name: &str, watch: bool) -> Result<(), CliError> {
    let ds = get_daemon_set(ctx, namespace, name).await?;
    let mut last = None;
    if report(ctx, &ds, &mut last)? || !watch {
        return Ok(());
    }
    let c = &ctx.clients;
    let deleted = v1::WatchEventType::Deleted as i32;
    let mut retries = REWATCH.start();
    loop {
        let mut api = c.daemon_sets().await?;
        // Without a resourceVersion the watch starts with the current object (ADDED).
        let mut stream = c
            .call_within(
                Service::Admission,
                None,
                api.watch(v1::DaemonSetsWatchRequest {
                    namespace: namespace.to_string(),
                    label_selector: String::new(),
                    resource_version: String::new(),
                }),
            )
            .await?;
        retries.reset();
        while let Some(event) = stream
            .message()
            .await
            .map_err(|s| c.status_error(Service::Admission, s))?
        {
            let Some(object) = event.object else {
                continue;
            };
            if object.metadata.as_ref().map(|m| m.name.as_str()) != Some(name) {
                continue;
            }
            if event.r#type == deleted {
                return Err(CliError::Failed(format!(
                    "daemon set {name:?} was deleted while waiting for its rollout"
                )));
            }
            if report(ctx, &object, &mut last)? {
                return Ok(());
            }
        }
        tokio::time::sleep(retries.next_delay().unwrap_or(REWATCH.max)).await;
    }
}

/// Sets the restart annotation on the template of `ds`.
pub fn stamp_restart(ds: &mut v1::DaemonSet, at: &str) {
    let template = ds
        .spec
        .get_or_insert_with(v1::DaemonSetSpec::default)
        .template
        .get_or_insert_with(v1::PodTemplateSpec::default);
    template
        .metadata
        .get_or_insert_with(v1::ObjectMeta::default)
        .annotations
        .insert(RESTARTED_AT.to_string(), at.to_string());
}

async fn restart(ctx: &Ctx, target: &RolloutTarget) -> Result<(), CliError> {
    let name = crate::args::single_target(&target.targets, Kind::DaemonSet)?;
    let namespace = ctx.namespace();
    let at = everynode_core::model::Timestamp::now().to_rfc3339();
    let c = &ctx.clients;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut ds = get_daemon_set(ctx, &namespace, &name).await?;
        stamp_restart(&mut ds, &at);
        let mut api = c.daemon_sets().await?;
        let updated = c
            .call(
                Service::Admission,
                api.update(v1::DaemonSetsUpdateRequest {
                    daemon_set: Some(ds),
                    dry_run: false,
                }),
            )
            .await;
        match updated {
            Ok(_) => {
                return ctx
                    .console
                    .line(&format!("{} restarted", Kind::DaemonSet.slash_name(&name)));
            }
            Err(e) if e.code() == Some(Code::Aborted) && attempt < 5 => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{
        DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, ObjectMeta,
    };

    use super::*;

    fn ds(strategy: &str, generation: i64, status: DaemonSetStatus) -> model::DaemonSet {
        model::DaemonSet {
            metadata: Some(ObjectMeta {
                name: "agent".into(),
                generation,
                ..ObjectMeta::default()
            }),
            spec: Some(DaemonSetSpec {
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: strategy.into(),
                    ..DaemonSetUpdateStrategy::default()
                }),
                ..DaemonSetSpec::default()
            }),
            status: Some(status),
            ..model::DaemonSet::default()
        }
    }

    fn counts(observed: i64, desired: i32, updated: i32, available: i32) -> DaemonSetStatus {
        DaemonSetStatus {
            observed_generation: observed,
            desired_number_scheduled: desired,
            updated_number_scheduled: updated,
            number_available: available,
            ..DaemonSetStatus::default()
        }
    }

    #[test]
    fn rollout_messages_read_like_kubectl() {
        assert_eq!(
            rollout_status(&ds("RollingUpdate", 2, counts(1, 3, 3, 3))).unwrap(),
            (
                "Waiting for daemon set spec update to be observed...".to_string(),
                false
            )
        );
        assert_eq!(
            rollout_status(&ds("RollingUpdate", 2, counts(2, 3, 1, 3))).unwrap(),
            (
                "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated..."
                    .to_string(),
                false
            )
        );
        assert_eq!(
            rollout_status(&ds("RollingUpdate", 2, counts(2, 3, 3, 2))).unwrap(),
            (
                "Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available..."
                    .to_string(),
                false
            )
        );
        assert_eq!(
            rollout_status(&ds("RollingUpdate", 2, counts(3, 3, 3, 3))).unwrap(),
            (
                "daemon set \"agent\" successfully rolled out".to_string(),
                true
            )
        );
    }

    #[test]
    fn on_delete_has_no_rollout_status() {
        assert_eq!(
            rollout_status(&ds("OnDelete", 1, counts(1, 1, 1, 1))).unwrap_err(),
            "rollout status is only available for RollingUpdate strategy type"
        );
    }

    #[test]
    fn restart_stamps_the_template() {
        let mut d = v1::DaemonSet::default();
        stamp_restart(&mut d, "2026-01-01T00:00:00Z");
        let annotations = d
            .spec
            .and_then(|s| s.template)
            .and_then(|t| t.metadata)
            .map(|m| m.annotations)
            .unwrap_or_default();
        assert_eq!(annotations[RESTARTED_AT], "2026-01-01T00:00:00Z");
    }
}
