//! The `admission` scenario: DaemonSet creates through the real admission service — latency at
//! a fixed offered rate (open loop: each request is timed from the moment it was due, so a
//! slow server cannot hide its queueing) and throughput at saturation (closed loop). The count
//! of stored objects is read back with List and must equal the creates that succeeded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use everynode_admission::Config;
use everynode_api::manifest;
use everynode_api::v1::{self, daemon_sets_client::DaemonSetsClient};
use everynode_testkit::Served;
use everynode_testkit::pki::TestPki;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::stats::Latencies;

/// The example every create sends, renamed per request.
const EXAMPLE: &str = include_str!("../../examples/log-shipper.yaml");

/// Results of the scenario.
pub struct AdmissionResult {
    /// Offered rate (creates/s) of the open-loop phase.
    pub offered_rate: f64,
    /// Latencies at the offered rate.
    pub at_rate: Latencies,
    /// Creates/s achieved at the offered rate.
    pub achieved_rate: f64,
    /// Creates/s at saturation.
    pub saturation_rate: f64,
    /// Latencies at saturation.
    pub at_saturation: Latencies,
    /// Size of one encoded DaemonSet.
    pub payload_bytes: usize,
    /// Objects listed at the end, and creates that succeeded.
    pub stored: usize,
    /// Creates that succeeded.
    pub succeeded: usize,
}

/// A running admission service, with credentials on (its own PKI, the client as admin).
pub struct Running {
    served: Served<anyhow::Error>,
    _pki: TestPki,
    /// Its gRPC client.
    pub client: DaemonSetsClient<Channel>,
}

/// Starts admission on a free port against `nats_url`.
pub async fn start(nats_url: &str) -> anyhow::Result<Running> {
    let pki = TestPki::new();
    let mut config = Config::for_nats(nats_url);
    config.common.security = pki.credentials("admission");
    let nats = everynode_bus::connect(nats_url, "bench-admission").await?;
    let served = Served::start("admission", |listener, shutdown| {
        everynode_admission::run(config, listener, nats, shutdown)
    })
    .await;
    // Listing every object back can exceed tonic's 4 MiB default.
    let client = DaemonSetsClient::new(served.channel(&pki, "admin").await)
        .max_decoding_message_size(1 << 30);
    Ok(Running {
        served,
        _pki: pki,
        client,
    })
}

impl Running {
    /// Stops the service and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.served.stop().await;
        Ok(())
    }
}

fn request(template: &v1::DaemonSet, name: String) -> v1::DaemonSetsCreateRequest {
    let mut ds = template.clone();
    if let Some(meta) = ds.metadata.as_mut() {
        meta.name = name;
    }
    v1::DaemonSetsCreateRequest {
        daemon_set: Some(ds),
        dry_run: false,
    }
}

/// Runs the scenario: `rate` creates/s for `duration`, then `depth` closed-loop clients for
/// `duration`.
pub async fn run(
    nats_url: &str,
    rate: f64,
    depth: usize,
    duration: Duration,
) -> anyhow::Result<AdmissionResult> {
    let running = start(nats_url).await?;
    let template: v1::DaemonSet = manifest::decode_one(EXAMPLE)?;
    let payload_bytes = prost::Message::encoded_len(&template);

    // Warm up connections and caches.
    for i in 0..20 {
        running
            .client
            .clone()
            .create(request(&template, format!("warm-{i}")))
            .await?;
    }
    let mut succeeded = 20;

    // Open loop at the offered rate.
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let at_rate = Arc::new(Mutex::new(Latencies::default()));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (mut client, req, lat) = (
            running.client.clone(),
            request(&template, format!("rate-{i}")),
            at_rate.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let ok = client.create(req).await.is_ok();
            lat.lock().await.record(due.elapsed());
            ok
        }));
    }
    for t in tasks {
        succeeded += usize::from(t.await?);
    }
    let achieved_rate = total as f64 / start.elapsed().as_secs_f64();

    // Closed loop at saturation.
    let at_saturation = Arc::new(Mutex::new(Latencies::default()));
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..depth {
        let (mut client, template, lat) = (
            running.client.clone(),
            template.clone(),
            at_saturation.clone(),
        );
        workers.push(tokio::spawn(async move {
            let (mut ok, mut local, mut i) = (0usize, Latencies::default(), 0usize);
            while Instant::now() < deadline {
                let began = Instant::now();
                if client
                    .create(request(&template, format!("sat-{w}-{i}")))
                    .await
                    .is_ok()
                {
                    ok += 1;
                }
                local.record(began.elapsed());
                i += 1;
            }
            lat.lock().await.merge(local);
            ok
        }));
    }
    let mut saturated = 0;
    for w in workers {
        saturated += w.await?;
    }
    let saturation_rate = saturated as f64 / start.elapsed().as_secs_f64();
    succeeded += saturated;

    let stored = running
        .client
        .clone()
        .list(v1::DaemonSetsListRequest::default())
        .await?
        .into_inner()
        .items
        .len();
    running.stop().await?;
    let at_rate = std::mem::take(&mut *at_rate.lock().await);
    let at_saturation = std::mem::take(&mut *at_saturation.lock().await);
    Ok(AdmissionResult {
        offered_rate: rate,
        at_rate,
        achieved_rate,
        saturation_rate,
        at_saturation,
        payload_bytes,
        stored,
        succeeded,
    })
}
