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
const ENSURE_ATTEMPTS: u32 = 4;

/// The JetStream topology everynode runs on.
#[derive(Debug, Clone, Copy)]
pub struct Bus;

impl Bus {
    /// Creates (or updates) the events stream and all buckets with `replicas` replicas (1 for a
    /// single server, 3 on a three-node NATS cluster).
    pub async fn ensure(js: &jetstream::Context, replicas: usize) -> Result<(), Error> {
        let config = events_stream_config(replicas);
        retry_races(|| js.create_or_update_stream(config.clone()))
            .await
            .map_err(|err| Error::nats(format!("creating stream {EVENTS_STREAM}"), err))?;
        for bucket in Bucket::ALL {
            let config = bucket_config(bucket, replicas);
            retry_races(|| js.create_or_update_key_value(config.clone()))
                .await
                .map_err(|err| Error::nats(format!("creating KV bucket {bucket}"), err))?;
        }
        tracing::debug!(replicas, "JetStream stream and buckets ensured");
        Ok(())
    }
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

/// Runs `op` again when it failed because another process created the same stream at the same
/// time: between our "update" (not found) and our "create", with a config the server does not
/// consider identical; or, on a NATS cluster, a create that timed out because a concurrent
/// create of the same stream won (the server answers only the winner; the stream exists).
async fn retry_races<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: StdError + 'static,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(err) if attempt < ENSURE_ATTEMPTS && lost_creation_race(&err) => attempt += 1,
            result => return result,
        }
    }
}

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
        // Longer than the longest token lifetime the registry grants (7 days).
        assert!(TOKENS_MAX_AGE > Duration::from_secs(7 * 24 * 60 * 60));
    }
}
