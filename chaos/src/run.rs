//! The run: a fleet, two DaemonSets over every node (one rolled out again and again, one left
//! alone), and per iteration a rolling update, one fault in the middle of it, the heal, and
//! the time until everything has converged again. The watchdog samples the agents' running
//! pods all along.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, bail};
use everynode_api::v1;
use tokio::time::Instant;

use crate::checker::{Reader, Watchdog};
use crate::faults::{self, Fault, Kind, Schedule};
use crate::fleet::{Fleet, Shape};
use crate::rng::Rng;

/// The DaemonSet rolled out in every iteration.
const ROLLED: &str = "chaos";
/// The DaemonSet never changed: it must keep exactly one pod per node throughout.
const STEADY: &str = "steady";
/// How often the watchdog samples the agents' pods.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long a convergence is waited for before the run gives up on it.
const GIVE_UP: Duration = Duration::from_secs(120);
/// How long a service that answers `UNAVAILABLE` is asked again before the run gives up.
const ASK_AGAIN: Duration = Duration::from_secs(30);

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The fleet.
    pub shape: Shape,
    /// Iterations (one fault each).
    pub iterations: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// The longest acceptable time from a fault's heal to convergence.
    pub max_convergence: Duration,
}

/// One iteration's outcome.
#[derive(Debug, Clone)]
pub struct Iteration {
    /// The fault injected.
    pub fault: Fault,
    /// How many nodes ran the new revision when the fault was injected.
    pub updated_at_fault: usize,
    /// From the heal to convergence.
    pub convergence: Duration,
}

/// The run's outcome.
#[derive(Debug, Default)]
pub struct Report {
    /// Every iteration.
    pub iterations: Vec<Iteration>,
    /// Samples of the agents' running pods.
    pub samples: u64,
    /// Confirmed duplicate pods (two of one DaemonSet on one node at once).
    pub duplicates: u64,
    /// DaemonSets or nodes lost, with what was missing.
    pub lost: Vec<String>,
    /// Processes that exited by themselves.
    pub crashed: Vec<String>,
    /// Failures (anything that makes the run fail).
    pub failures: Vec<String>,
}

impl Report {
    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn manifest(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
  namespace: default
spec:
  selector:
    matchLabels: {{app: {name}}}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {{maxUnavailable: 20%}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: main
        image: {image}
"
    )
}

/// The DaemonSets of the run, as created.
struct Workload {
    rolled_uid: String,
    steady_uid: String,
    nodes: Vec<String>,
}

async fn create(fleet: &Fleet, name: &str, image: &str) -> anyhow::Result<String> {
    let ds: v1::DaemonSet = everynode_api::manifest::decode_one(&manifest(name, image))
        .context("the chaos manifest")?;
    let created = fleet
        .daemonsets()
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(ds),
            dry_run: false,
        })
        .await
        .with_context(|| format!("creating DaemonSet {name}"))?
        .into_inner();
    Ok(created
        .daemon_set
        .and_then(|d| d.metadata)
        .map(|m| m.uid)
        .unwrap_or_default())
}

async fn get(fleet: &Fleet, name: &str) -> Result<v1::DaemonSet, tonic::Status> {
    fleet
        .daemonsets()
        .get(v1::DaemonSetsGetRequest {
            namespace: "default".into(),
            name: name.into(),
        })
        .await
        .map(|r| r.into_inner().daemon_set.unwrap_or_default())
}

/// Sets the rolled DaemonSet's image (read, change, compare-and-set; retried).
async fn roll(fleet: &Fleet, image: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attempt = async {
            let mut ds = get(fleet, ROLLED).await?;
            let template = ds
                .spec
                .as_mut()
                .and_then(|s| s.template.as_mut())
                .and_then(|t| t.spec.as_mut())
                .ok_or_else(|| tonic::Status::internal("no pod template"))?;
            template.containers[0].image = image.to_owned();
            fleet
                .daemonsets()
                .update(v1::DaemonSetsUpdateRequest {
                    daemon_set: Some(ds),
                    dry_run: false,
                })
                .await
                .map(|_| ())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(status) if Instant::now() < deadline => {
                eprintln!("chaos: update of {ROLLED} to {image}: {status:?}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => bail!("updating {ROLLED} to {image}: {status}"),
        }
    }
}

/// The time of day in UTC (`HH:MM:SS.mmmZ`), as the services' logs print it: an iteration's
/// line says when its fault was injected, to find it in the logs.
fn utc_clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    )
}

/// Whether everything has converged on `image`: every node runs exactly one pod of each
/// DaemonSet (by the agents' own files), the rolled one's on `image`, and both DaemonSets'
/// status says so. The error says what is not there yet.
async fn converged(
    fleet: &Fleet,
    reader: &mut Reader,
    work: &Workload,
    image: &str,
) -> Result<(), String> {
    let sample = tokio::task::block_in_place(|| reader.sample());
    let (mut updated, mut steady, mut wrong) = (0usize, 0usize, Vec::new());
    for node in &work.nodes {
        let rolled = sample.on(node, &work.rolled_uid);
        if rolled.len() == 1 && rolled[0].image == image {
            updated += 1;
        } else if wrong.len() < 3 {
            let images: Vec<&str> = rolled.iter().map(|p| p.image.as_str()).collect();
            wrong.push(format!("{node}: {images:?}"));
        }
        if sample.on(node, &work.steady_uid).len() == 1 {
            steady += 1;
        }
    }
    let n = work.nodes.len();
    if updated < n || steady < n {
        return Err(format!(
            "running pods: {updated}/{n} nodes on {image}, {steady}/{n} steady; e.g. {wrong:?}"
        ));
    }
    let want = i32::try_from(n).unwrap_or(i32::MAX);
    for (name, check_updated) in [(ROLLED, true), (STEADY, false)] {
        let ds = get(fleet, name)
            .await
            .map_err(|s| format!("{name}: {}", s.message()))?;
        let generation = ds.metadata.as_ref().map_or(0, |m| m.generation);
        let status = ds.status.unwrap_or_default();
        let ok = status.observed_generation >= generation
            && status.desired_number_scheduled == want
            && status.number_available == want
            && (!check_updated || status.updated_number_scheduled == want);
        if !ok {
            return Err(format!(
                "{name} status: observed {}/{generation}, desired {}, available {}, updated {}",
                status.observed_generation,
                status.desired_number_scheduled,
                status.number_available,
                status.updated_number_scheduled
            ));
        }
    }
    Ok(())
}

/// Waits for [`converged`]; how long it took.
async fn wait_converged(
    fleet: &Fleet,
    reader: &mut Reader,
    work: &Workload,
    image: &str,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < GIVE_UP {
        match converged(fleet, reader, work, image).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(seen) => last = seen,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("not converged on {image} after {GIVE_UP:?}; last seen: {last}")
}

/// What of the DaemonSets and nodes is gone. A service answering `UNAVAILABLE` (say, while it
/// re-lists after a NATS member came back) is asked again until [`ASK_AGAIN`] has passed; only
/// an answer counts: `NOT_FOUND`, another uid, or nodes missing from a complete list.
async fn lost(fleet: &Fleet, work: &Workload) -> Vec<String> {
    let deadline = Instant::now() + ASK_AGAIN;
    loop {
        match lost_once(fleet, work).await {
            Ok(lost) => return lost,
            Err(unanswered) if Instant::now() >= deadline => {
                return vec![format!("no answer for {ASK_AGAIN:?}: {unanswered}")];
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn lost_once(fleet: &Fleet, work: &Workload) -> Result<Vec<String>, String> {
    let mut lost = Vec::new();
    for (name, uid) in [(ROLLED, &work.rolled_uid), (STEADY, &work.steady_uid)] {
        match get(fleet, name).await {
            Ok(ds) if ds.metadata.as_ref().is_some_and(|m| &m.uid == uid) => {}
            Ok(_) => lost.push(format!("DaemonSet {name} was replaced (uid changed)")),
            Err(status) if status.code() == tonic::Code::NotFound => {
                lost.push(format!("DaemonSet {name}: {}", status.message()));
            }
            Err(status) => return Err(format!("getting {name}: {}", status.message())),
        }
    }
    let listed: BTreeSet<String> = fleet.list_nodes().await?.into_iter().collect();
    let missing: Vec<&String> = work.nodes.iter().filter(|n| !listed.contains(*n)).collect();
    if !missing.is_empty() {
        lost.push(format!(
            "{} nodes missing, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    Ok(lost)
}

/// Waits until `target` nodes run the new image (by their files), so that the fault lands in
/// the middle of the rollout; how many did when it stopped waiting (all of them if the rollout
/// was quicker).
async fn wait_partly_rolled(
    reader: &mut Reader,
    work: &Workload,
    image: &str,
    target: usize,
) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sample = tokio::task::block_in_place(|| reader.sample());
        let updated = work
            .nodes
            .iter()
            .filter(|n| {
                sample
                    .on(n, &work.rolled_uid)
                    .iter()
                    .any(|p| p.image == image)
            })
            .count();
        if updated >= target || Instant::now() >= deadline {
            return updated;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the plan.
pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let started = Instant::now();
    let shape = &plan.shape;
    eprintln!(
        "chaos: seed {}, {} iterations, {} nodes in {} agent processes, {} controllers, {} NATS members",
        plan.seed,
        plan.iterations,
        shape.nodes,
        shape.agents,
        shape.controllers,
        shape.nats_members
    );
    let mut fleet = Fleet::start(shape).await?;
    eprintln!("chaos: fleet up in {:.1?}", started.elapsed());
    let mut reader = Reader::new(&fleet.data_dirs());
    let work = Workload {
        rolled_uid: create(&fleet, ROLLED, "example/chaos:0").await?,
        steady_uid: create(&fleet, STEADY, "example/steady:1").await?,
        nodes: fleet.nodes(),
    };
    let first = wait_converged(&fleet, &mut reader, &work, "example/chaos:0").await?;
    eprintln!(
        "chaos: {} nodes run both DaemonSets after {first:.1?}",
        work.nodes.len()
    );

    let watchdog = Watchdog::start(&fleet.data_dirs(), SAMPLE_EVERY);
    let mut rng = Rng::new(plan.seed);
    let mut schedule = Schedule::new();
    let mut report = Report::default();
    for iteration in 1..=plan.iterations {
        let image = format!("example/chaos:{iteration}");
        let kind = schedule.next(&mut rng);
        roll(&fleet, &image).await?;
        // The fault lands somewhere in the rollout: after 5 to 80 % of the nodes were updated.
        let n = work.nodes.len();
        let target = n * 5 / 100 + rng.below(n * 75 / 100 + 1);
        let updated_at_fault = wait_partly_rolled(&mut reader, &work, &image, target).await;
        let at = utc_clock();
        let fault = faults::inject(&mut fleet, kind, &mut rng, shape.lease).await?;
        let convergence = match wait_converged(&fleet, &mut reader, &work, &image).await {
            Ok(took) => took,
            Err(err) => {
                report
                    .failures
                    .push(format!("iteration {iteration} ({kind}): {err:#}"));
                GIVE_UP
            }
        };
        let lost = lost(&fleet, &work).await;
        let crashed = fleet.exited();
        let findings = watchdog.findings();
        eprintln!(
            "chaos: {iteration:>3}/{} {at} {:<14} {:<13} at {updated_at_fault:>4}/{n} updated  held {:>5.1?}  converged {:>6.2?} after the heal  duplicates {}{}",
            plan.iterations,
            fault.kind.to_string(),
            fault.target,
            fault.held,
            convergence,
            findings.duplicate_count,
            if lost.is_empty() {
                String::new()
            } else {
                format!("  LOST {lost:?}")
            },
        );
        if convergence > plan.max_convergence {
            report.failures.push(format!(
                "iteration {iteration} ({kind} {}): converged {convergence:.2?} after the heal (limit {:?})",
                fault.target, plan.max_convergence
            ));
        }
        for item in &lost {
            report
                .failures
                .push(format!("iteration {iteration}: lost {item}"));
        }
        report.lost.extend(lost);
        if !crashed.is_empty() {
            report.failures.push(format!(
                "iteration {iteration}: exited by itself: {crashed:?}"
            ));
            report.crashed.extend(crashed);
            break;
        }
        report.iterations.push(Iteration {
            fault,
            updated_at_fault,
            convergence,
        });
    }
    let findings = watchdog.finish();
    report.samples = findings.samples;
    report.duplicates = findings.duplicate_count;
    if findings.duplicate_count > 0 {
        report.failures.push(format!(
            "{} duplicate pods seen, e.g. {:?}",
            findings.duplicate_count,
            findings.duplicates.first()
        ));
    }
    eprintln!("chaos: done in {:.1?}", started.elapsed());
    Ok(report)
}

/// The report as the README shows it.
pub fn summary(plan: &Plan, report: &Report) -> String {
    let mut faults: BTreeMap<Kind, usize> = BTreeMap::new();
    for iteration in &report.iterations {
        *faults.entry(iteration.fault.kind).or_default() += 1;
    }
    let mut times: Vec<Duration> = report.iterations.iter().map(|i| i.convergence).collect();
    times.sort_unstable();
    let pick = |q: f64| {
        if times.is_empty() {
            Duration::ZERO
        } else {
            let index = ((times.len() - 1) as f64 * q).round() as usize;
            times[index.min(times.len() - 1)]
        }
    };
    let worst = report
        .iterations
        .iter()
        .max_by_key(|i| i.convergence)
        .map(|i| format!(" ({} {})", i.fault.kind, i.fault.target))
        .unwrap_or_default();
    let faults: Vec<String> = faults.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mid_rollout = report
        .iterations
        .iter()
        .filter(|i| i.updated_at_fault < plan.shape.nodes)
        .count();
    let mut text = format!(
        "seed {seed}, {done}/{planned} iterations, {nodes} nodes, {members} NATS members\n\
         faults injected: {total} ({faults}); {mid_rollout} of them mid-rollout\n\
         running-pod samples: {samples}; duplicates: {dups}; objects lost: {lost}; crashed: {crashed}\n\
         convergence after the heal: median {median:.2?}, p90 {p90:.2?}, worst {worst_time:.2?}{worst}\n",
        seed = plan.seed,
        done = report.iterations.len(),
        planned = plan.iterations,
        nodes = plan.shape.nodes,
        members = plan.shape.nats_members,
        total = report.iterations.len(),
        faults = faults.join(", "),
        samples = report.samples,
        dups = report.duplicates,
        lost = report.lost.len(),
        crashed = report.crashed.len(),
        median = pick(0.5),
        p90 = pick(0.9),
        worst_time = pick(1.0),
    );
    if report.passed() {
        text.push_str("PASS\n");
    } else {
        text.push_str("FAIL\n");
        for failure in &report.failures {
            text.push_str(&format!("  - {failure}\n"));
        }
    }
    text
}
