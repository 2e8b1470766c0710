//! The machine's own ceiling for the work everynode does, measured in the same run: raw NATS
//! request/reply round trips and raw KV compare-and-set writes, with the payload size and
//! in-flight depth everynode uses. Every other scenario prints its throughput as a ratio to
//! these.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use futures::StreamExt;

/// Raw rates of one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request/reply round trips per second.
    pub request_reply_per_s: f64,
    /// KV create-if-absent writes per second (what a DaemonSet create costs the store).
    pub kv_create_per_s: f64,
    /// KV compare-and-set updates per second.
    pub kv_cas_per_s: f64,
}

impl Limits {
    /// As JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "request_reply_per_s": self.request_reply_per_s.round(),
            "kv_create_per_s": self.kv_create_per_s.round(),
            "kv_cas_per_s": self.kv_cas_per_s.round(),
        })
    }
}

/// Measures the limits against `url` for `duration` each, with `payload` bytes and `depth`
/// operations in flight, connecting with `auth` (an identity that may create buckets).
pub async fn measure(
    url: &str,
    auth: &everynode_bus::NatsAuth,
    payload: usize,
    depth: usize,
    duration: Duration,
) -> anyhow::Result<Limits> {
    let client = everynode_bus::connect_auth(url, "bench-limit", auth).await?;
    let request_reply_per_s = request_reply(&client, payload, depth, duration).await?;
    let js = jetstream::new(client.clone());
    let kv = js
        .create_key_value(jetstream::kv::Config {
            bucket: "bench_limit".into(),
            history: 1,
            ..Default::default()
        })
        .await?;
    let (kv_create_per_s, kv_cas_per_s) = kv_writes(&kv, payload, depth, duration).await?;
    js.delete_key_value("bench_limit").await?;
    Ok(Limits {
        request_reply_per_s,
        kv_create_per_s,
        kv_cas_per_s,
    })
}

async fn request_reply(
    client: &async_nats::Client,
    payload: usize,
    depth: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let mut sub = client.subscribe("bench.limit.echo").await?;
    let responder = client.clone();
    let echo = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = responder.publish(reply, msg.payload).await;
            }
        }
    });
    client.flush().await?;
    let body = Bytes::from(vec![b'x'; payload]);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..depth {
        let (client, body, done) = (client.clone(), body.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if client
                    .request("bench.limit.echo", body.clone())
                    .await
                    .is_ok()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    echo.abort();
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

async fn kv_writes(
    kv: &jetstream::kv::Store,
    payload: usize,
    depth: usize,
    duration: Duration,
) -> anyhow::Result<(f64, f64)> {
    let body = Bytes::from(vec![b'x'; payload]);
    // Creates of distinct keys.
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..depth {
        let (kv, body, done) = (kv.clone(), body.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                if kv.create(format!("c{w}_{i}"), body.clone()).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let creates = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    // Compare-and-set updates, each writer on its own key (no conflicts: the raw cost).
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..depth {
        let (kv, body, done) = (kv.clone(), body.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let key = format!("u{w}");
            let Ok(mut revision) = kv.put(&key, body.clone()).await else {
                return;
            };
            while Instant::now() < deadline {
                match kv.update(&key, body.clone(), revision).await {
                    Ok(r) => {
                        revision = r;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let cas = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    Ok((creates, cas))
}
