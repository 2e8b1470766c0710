//! The active controller: one *term* per period of leadership ([`crate::term`]).
//!
//! A term starts with an empty queue, expectations and back-off, waits until the caches are
//! ready, queues every DaemonSet, runs `workers` reconcile loops, re-queues everything every `resync` (the backstop
//! for anything lost) and runs the pod garbage collector. When leadership ends, the term's
//! token is cancelled: in-flight reconciles are dropped (commands are idempotent), the queue
//! shuts down, and the workers are awaited.

use std::sync::Arc;

use everynode_bus::DaemonSetKey;
use everynode_core::planner::backoff;
use everynode_service::Shutdown;
use tokio_util::sync::CancellationToken;

use crate::effects::Effects;
use crate::router::Router;
use crate::term::{Deps, Term};
use crate::{gc, reconcile};

/// Runs one term until `token` is cancelled (see the module docs).
pub async fn run_term<E: Effects>(
    deps: Arc<Deps<E>>,
    router: Arc<Router>,
    token: CancellationToken,
    fence: u64,
    shutdown: Shutdown,
) {
    let term = Arc::new(Term::new(token.clone(), &deps.settings, fence));
    tokio::select! {
        () = token.cancelled() => return,
        () = deps.world.wait_ready() => {}
    }
    // Before any command: every agent that hears this refuses older terms' commands.
    let mut retries = deps.settings.retry.start();
    loop {
        let announced = tokio::select! {
            () = token.cancelled() => return,
            announced = deps.effects.announce_term(fence) => announced,
        };
        match announced {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, fence, "could not announce the term to the agents; retrying");
                let pause = retries.next_delay().unwrap_or(deps.settings.retry.max);
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    router.set_active(Some(Arc::clone(&term)));
    enqueue_all(&deps, &term);
    tracing::info!(
        workers = deps.settings.workers,
        daemonsets = deps.world.daemonsets.read(|c| c.len()),
        nodes = deps.world.nodes.read(|c| c.len()),
        pods = deps.world.pods.read(|c| c.len()),
        "active term started"
    );
    let workers: Vec<_> = (0..deps.settings.workers.max(1))
        .map(|_| shutdown.spawn(worker(Arc::clone(&deps), Arc::clone(&term))))
        .collect();
    let mut resync = tokio::time::interval(deps.settings.resync);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff_gc = tokio::time::interval(backoff::GC_INTERVAL);
    backoff_gc.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let collect = tokio::select! {
            () = token.cancelled() => break,
            _ = resync.tick() => {
                enqueue_all(&deps, &term);
                true
            }
            () = term.gc.notified() => true,
            _ = backoff_gc.tick() => {
                term.gc_backoff();
                false
            }
        };
        if collect {
            tokio::select! {
                () = token.cancelled() => break,
                result = gc::collect_pods_of_removed_nodes(&deps, term.fence) => match result {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, "pod GC deleted pods of removed nodes"),
                    Err(error) => tracing::warn!(%error, "pod GC failed; retrying at the next resync"),
                },
            }
        }
    }
    router.set_active(None);
    term.queue.shut_down();
    for handle in workers {
        if let Err(error) = handle.await {
            tracing::error!(%error, "a reconcile worker ended abnormally");
        }
    }
    tracing::info!("active term ended");
}

/// Queues every DaemonSet, and the keys of deleted DaemonSets that still own pods or
/// revisions (their reconcile deletes them).
fn enqueue_all<E>(deps: &Deps<E>, term: &Term) {
    let mut keys = deps.world.daemonsets.read(|c| c.all_keys());
    let mut owners = deps.world.pods.read(|c| c.daemon_set_owners());
    owners.extend(deps.world.revisions.read(|c| c.daemon_set_owners()));
    for (uid, namespace, name) in owners {
        if deps.world.daemonsets.read(|c| c.has_uid(&uid)) {
            continue;
        }
        if let Ok(key) = DaemonSetKey::new(namespace, name) {
            keys.push(key);
        }
    }
    for key in keys {
        term.queue.add(key);
    }
}

/// The longest wait before retrying a reconcile that failed because NATS or a service was
/// unavailable: a dependency restarting for a couple of seconds must not leave a DaemonSet
/// waiting out a back-off grown to tens of seconds by the failures meanwhile.
const UNAVAILABLE_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// One reconcile loop: take a key, reconcile it, retry it with back-off on failure.
async fn worker<E: Effects>(deps: Arc<Deps<E>>, term: Arc<Term>) {
    while let Some(key) = term.queue.get().await {
        let started = tokio::time::Instant::now();
        let result = tokio::select! {
            () = term.token.cancelled() => {
                term.queue.done(&key);
                break;
            }
            result = reconcile::sync(&deps, &term, &key) => result,
        };
        let elapsed = started.elapsed();
        let name = format!("{}/{}", key.namespace(), key.name());
        match result {
            Ok(requeue) => {
                term.queue.forget(&key);
                if let Some(after) = requeue {
                    term.queue.add_after(key.clone(), after);
                }
                tracing::debug!(daemonset = %name, ?elapsed, ?requeue, "reconciled");
            }
            Err(error) => {
                let failures = term.queue.failures(&key) + 1;
                if failures <= 3 {
                    tracing::info!(daemonset = %name, %error, failures, "reconcile failed; retrying");
                } else {
                    tracing::warn!(daemonset = %name, %error, failures, "reconcile failed; retrying");
                }
                if error.is_unavailable() {
                    term.queue
                        .add_rate_limited_at_most(key.clone(), UNAVAILABLE_RETRY_MAX);
                } else {
                    term.queue.add_rate_limited(key.clone());
                }
            }
        }
        term.queue.done(&key);
    }
}
