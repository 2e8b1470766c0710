//! Executing commands with bounded concurrency: slow-start batches for creates, and bounded
//! parallelism for everything else.
//!
//! Slow start (Kubernetes: `slowStartBatch`): the first batch has `initial` items, each later
//! batch twice as many (capped at what is left); the items of a batch run concurrently (at most
//! `concurrency` at a time); if an item of a batch fails in a way that would likely repeat for
//! the others ([`Attempt::Failed`]: an agent refusing the template, a timeout), the remaining
//! batches are not attempted and are returned as *skipped*, so a template that cannot start
//! costs one command instead of hundreds. A failure that concerns only its own item
//! ([`Attempt::FailedAlone`]: that node's agent is not there) does not stop the series, so one
//! dead agent does not hold a whole fleet back.

use std::future::Future;

use futures::StreamExt;

/// The outcome of one operation of a slow-start run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// It worked.
    Done,
    /// It failed, and the rest would likely fail the same way: stop after this batch.
    Failed,
    /// It failed for reasons of its own: go on.
    FailedAlone,
}

/// The outcome of a slow-start run.
#[derive(Debug, PartialEq, Eq)]
pub struct SlowStart<T> {
    /// Items whose operation succeeded.
    pub succeeded: Vec<T>,
    /// Items whose operation failed.
    pub failed: Vec<T>,
    /// Items not attempted because an earlier batch had a failure.
    pub skipped: Vec<T>,
}

/// Runs `op` over `items` in slow-start batches of `initial`, `2·initial`, … items (see the
/// module docs). `op` gets a clone of the item and says how it went.
pub async fn slow_start<T, F, Fut>(
    items: Vec<T>,
    initial: usize,
    concurrency: usize,
    op: F,
) -> SlowStart<T>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut out = SlowStart {
        succeeded: Vec::new(),
        failed: Vec::new(),
        skipped: Vec::new(),
    };
    let mut rest = items.into_iter();
    let mut batch_size = initial.max(1);
    loop {
        let batch: Vec<T> = rest.by_ref().take(batch_size).collect();
        if batch.is_empty() {
            break;
        }
        let results: Vec<(T, Attempt)> = futures::stream::iter(batch)
            .map(|item| {
                let run = op(item.clone());
                async move { (item, run.await) }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut stop = false;
        for (item, attempt) in results {
            match attempt {
                Attempt::Done => out.succeeded.push(item),
                Attempt::Failed => {
                    stop = true;
                    out.failed.push(item);
                }
                Attempt::FailedAlone => out.failed.push(item),
            }
        }
        if stop {
            out.skipped.extend(rest);
            break;
        }
        batch_size = batch_size.saturating_mul(2);
    }
    out
}

/// Runs `op` over every item, at most `concurrency` at a time; returns each item's result in
/// completion order.
pub async fn all<T, R, F, Fut>(items: Vec<T>, concurrency: usize, op: F) -> Vec<(T, R)>
where
    T: Clone,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures::stream::iter(items)
        .map(|item| {
            let run = op(item.clone());
            async move { (item, run.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn batches_double_until_everything_is_done() {
        // Every operation notes how many had completed when it started: all of one batch
        // start together, after the previous batch completed.
        let completed = Mutex::new(0usize);
        let seen = Mutex::new(std::collections::BTreeMap::<usize, usize>::new());
        let out = slow_start((0..20).collect::<Vec<u32>>(), 1, 64, |_| async {
            let done_before = *completed.lock().unwrap();
            *seen.lock().unwrap().entry(done_before).or_default() += 1;
            tokio::task::yield_now().await;
            *completed.lock().unwrap() += 1;
            Attempt::Done
        })
        .await;
        assert_eq!(out.succeeded.len(), 20);
        assert!(out.failed.is_empty() && out.skipped.is_empty());
        let batches: Vec<(usize, usize)> = seen.into_inner().unwrap().into_iter().collect();
        assert_eq!(batches, [(0, 1), (1, 2), (3, 4), (7, 8), (15, 5)]);
    }

    #[tokio::test]
    async fn a_failure_stops_the_series_after_its_batch() {
        // Kubernetes' TestSimpleDaemonSetPodCreateErrors: with a create limit, calls stay
        // within 1 + 2 + 4 + 8.
        let calls = Mutex::new(0usize);
        let out = slow_start((0..100).collect::<Vec<u32>>(), 1, 64, |_| async {
            let mut calls = calls.lock().unwrap();
            *calls += 1;
            if *calls <= 10 {
                Attempt::Done
            } else {
                Attempt::Failed
            }
        })
        .await;
        let calls = *calls.lock().unwrap();
        assert!(calls <= 1 + 2 + 4 + 8, "{calls} calls");
        assert_eq!(out.succeeded.len(), 10);
        assert_eq!(out.failed.len(), calls - 10);
        assert_eq!(out.skipped.len(), 100 - calls);
    }

    #[tokio::test]
    async fn the_first_failure_skips_everything_else() {
        let out = slow_start(vec!["a", "b", "c"], 1, 4, |_| async { Attempt::Failed }).await;
        assert_eq!(out.failed, ["a"]);
        assert_eq!(out.skipped, ["b", "c"]);
    }

    #[tokio::test]
    async fn a_failure_of_its_own_does_not_stop_the_series() {
        let out = slow_start(vec!["dead", "b", "c", "d"], 1, 4, |item| async move {
            if item == "dead" {
                Attempt::FailedAlone
            } else {
                Attempt::Done
            }
        })
        .await;
        assert_eq!(out.failed, ["dead"]);
        assert_eq!(out.succeeded.len(), 3);
        assert!(out.skipped.is_empty());
    }

    #[tokio::test]
    async fn all_runs_every_item() {
        let mut out = all(vec![1, 2, 3], 2, |x| async move { x * 10 }).await;
        out.sort();
        assert_eq!(out, [(1, 10), (2, 20), (3, 30)]);
    }
}
