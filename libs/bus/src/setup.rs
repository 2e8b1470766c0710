//! Creating the JetStream topology at start-up: the events stream and the five KV buckets.
//!
//! Every service calls [`Bus::ensure`] before it uses the bus. It is idempotent: it creates what
//! is missing and brings what exists to the configuration below (e.g. a new replica count), so
//! running it twice, or from several processes at once, succeeds.
//!
//! Buckets keep one value per key (history 1); only `tokens` expires its entries. That is all the watchers need: a watch resumed
//! from a revision sees the latest value of every key changed since, and a deleted key keeps its
//! delete marker as its last entry, so deletions are seen too. Events are hints (state is in the
//! buckets), so the events stream keeps a bounded window.

use std::error::Error as StdError;
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};

use crate::error::Error;
use crate::names::{Bucket, EVENTS_ALL, EVENTS_STREAM};

/// How long events stay in the stream.
pub const EVENTS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// How many events the stream keeps at most (oldest dropped first).
pub const EVENTS_MAX_MESSAGES: i64 = 1_000_000;
/// Largest value a bucket accepts (a DaemonSet with a big pod template stays far below).
pub const MAX_VALUE_SIZE: i32 = 1024 * 1024;
/// How long a bootstrap token's record stays in bucket `tokens` after its last write: longer
/// than the longest token lifetime (7 days), so a token expires by its own `expires` first and
/// the bucket then forgets it without anyone cleaning up.
pub const TOKENS_MAX_AGE: Duration = Duration::from_secs(8 * 24 * 60 * 60);
/// How often a create/update that lost a race with another process is tried.
const ENSURE_ATTEMPTS: u32 = 10;
/// The JetStream request timeout while ensuring: a create that lost a race on a cluster gets no
/// answer at all, so it costs this much before the stream is found to exist.
const ENSURE_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The JetStream topology everynode runs on.
#[derive(Debug, Clone, Copy)]
pub struct Bus;

impl Bus {
    /// Creates (or updates) the events stream and all buckets with `replicas` replicas (1 for a
    /// single server, 3 on a three-node NATS cluster), all at once. What already exists as
    /// configured is left alone without a write, so services starting together on a cluster
    /// race only on the very first creation.
    pub async fn ensure(js: &jetstream::Context, replicas: usize) -> Result<(), Error> {
        let mut js = js.clone();
        js.set_timeout(ENSURE_REQUEST_TIMEOUT);
        let js = &js;
        let events = async {
            let config = events_stream_config(replicas);
            ensure_one(
                js,
                EVENTS_STREAM,
                |have| same_stream(have, &config),
                || async { js.create_or_update_stream(config.clone()).await.map(drop) },
            )
            .await
            .map_err(|err| Error::nats(format!("creating stream {EVENTS_STREAM}"), err))
        };
        let buckets = Bucket::ALL.map(|bucket| async move {
            let config = bucket_config(bucket, replicas);
            ensure_one(
                js,
                &bucket.stream_name(),
                |have| same_bucket(have, &config),
                || async {
                    js.create_or_update_key_value(config.clone())
                        .await
                        .map(drop)
                },
            )
            .await
            .map_err(|err| Error::nats(format!("creating KV bucket {bucket}"), err))
        });
        let (events, buckets) = futures::join!(events, futures::future::join_all(buckets));
        events?;
        buckets.into_iter().collect::<Result<Vec<()>, Error>>()?;
        tracing::debug!(replicas, "JetStream stream and buckets ensured");
        Ok(())
    }
}

/// Brings stream `name` to its configuration: nothing when `same` says it already is, else
/// `apply` (create or update), retried when it lost a race (see [`lost_creation_race`]).
async fn ensure_one<F, Fut, E>(
    js: &jetstream::Context,
    name: &str,
    same: impl Fn(&stream::Config) -> bool,
    apply: F,
) -> Result<(), E>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: StdError + 'static,
{
    let mut attempt = 1;
    loop {
        if let Ok(stream) = js.get_stream(name).await
            && same(&stream.cached_info().config)
        {
            return Ok(());
        }
        match apply().await {
            Err(err) if attempt < ENSURE_ATTEMPTS && lost_creation_race(&err) => attempt += 1,
            result => return result,
        }
    }
}

/// Whether an existing stream has everything [`events_stream_config`] sets.
fn same_stream(have: &stream::Config, want: &stream::Config) -> bool {
    have.num_replicas == want.num_replicas
        && have.subjects == want.subjects
        && have.max_age == want.max_age
        && have.max_messages == want.max_messages
        && have.storage == want.storage
        && have.description == want.description
}

/// Whether a bucket's existing stream has everything [`bucket_config`] sets.
fn same_bucket(have: &stream::Config, want: &kv::Config) -> bool {
    have.num_replicas == want.num_replicas
        && have.max_age == want.max_age
        && have.max_messages_per_subject == want.history
        && have.max_message_size == want.max_value_size
        && have.storage == want.storage
        && have.description.as_deref().unwrap_or_default() == want.description
}

/// The configuration of the `EVERYNODE_EVENTS` stream.
pub fn events_stream_config(replicas: usize) -> stream::Config {
    stream::Config {
        name: EVENTS_STREAM.to_owned(),
        description: Some("everynode events (hints; state lives in the KV buckets)".to_owned()),
        subjects: vec![EVENTS_ALL.to_owned()],
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: EVENTS_MAX_AGE,
        max_messages: EVENTS_MAX_MESSAGES,
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        ..Default::default()
    }
}

/// The configuration of one KV bucket. Only `tokens` expires its entries (after
/// [`TOKENS_MAX_AGE`]); every other bucket keeps them until they are deleted.
pub fn bucket_config(bucket: Bucket, replicas: usize) -> kv::Config {
    kv::Config {
        bucket: bucket.name().to_owned(),
        description: bucket.description().to_owned(),
        history: 1,
        max_value_size: MAX_VALUE_SIZE,
        max_age: match bucket {
            Bucket::Tokens => TOKENS_MAX_AGE,
            _ => Duration::ZERO,
        },
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        ..Default::default()
    }
}

/// Whether a create failed because another process created the same stream at the same time:
/// between our "update" (not found) and our "create", with a config the server does not
/// consider identical; or, on a NATS cluster, a create that timed out because a concurrent
/// create of the same stream won (the server answers only the winner; the stream exists).
fn lost_creation_race(err: &(dyn StdError + 'static)) -> bool {
    use async_nats::jetstream::context::{CreateStreamError, CreateStreamErrorKind};
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(err) = err.downcast_ref::<CreateStreamError>() {
            match err.kind() {
                CreateStreamErrorKind::JetStream(api)
                    if api.error_code() == jetstream::ErrorCode::STREAM_NAME_EXIST =>
                {
                    return true;
                }
                CreateStreamErrorKind::TimedOut => return true,
                _ => {}
            }
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tokens_bucket_expires_its_entries() {
        for bucket in Bucket::ALL {
            let config = bucket_config(bucket, 3);
            assert_eq!(config.history, 1, "{bucket}");
            assert_eq!(config.num_replicas, 3, "{bucket}");
            let expected = if bucket == Bucket::Tokens {
                TOKENS_MAX_AGE
            } else {
                Duration::ZERO
            };
            assert_eq!(config.max_age, expected, "{bucket}");
        }
        // A changed replica count is not "the same": ensure updates it.
        let events = events_stream_config(3);
        assert!(same_stream(&events, &events));
        assert!(!same_stream(&events_stream_config(1), &events));
        // Longer than the longest token lifetime the registry grants (7 days).
        assert!(TOKENS_MAX_AGE > Duration::from_secs(7 * 24 * 60 * 60));
    }
}
