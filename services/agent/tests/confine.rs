#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Confinement of the process runtime, with the real agent, real processes, real cgroups and a
//! real nats-server: bad uids and container names are refused before they touch the disk,
//! `runAsUser` is honoured, `runAsNonRoot` with root is refused, a memory hog ends
//! `OOMKilled`, a delete leaves no process behind (double-forked and `setsid` ones included),
//! logs rotate, privileged pods need `--allow-privileged`.
//!
//! These tests need root and cgroups (memory, cpu and freezer on v1, or v2 with memory, cpu
//! and pids); without them they fail and say what is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use everynode_agent::Config;
use everynode_agent::cgroup::{Detection, Hierarchy, detect_host};
use everynode_agent::procfs;
use everynode_api::v1::{
    self, Container, HostPathVolumeSource, ObjectMeta, Pod, PodCommand, PodCommandOutcome,
    PodCommandReply, PodCreate, PodDelete, PodSecurityContext, PodSpec, ResourceRequirements,
    SecurityContext, Volume, pod_command,
};
use everynode_bus::async_nats;
use everynode_bus::names::agent_pods_subject;
use everynode_bus::{Bus, NodeKey, PodKey, Store};
use everynode_service::{SecurityArgs, Shutdown};
use everynode_testkit::pki::TestPki;
use everynode_testkit::{NatsServer, TestCgroups, eventually};
use prost::Message;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);

struct Bed {
    pki: TestPki,
    _nats: NatsServer,
    nats_url: String,
    client: async_nats::Client,
    pods: Store<PodKey, v1::Pod>,
    dir: tempfile::TempDir,
    cgroups: TestCgroups,
}

async fn bed() -> Bed {
    let cgroups = TestCgroups::require();
    let nats = NatsServer::start().await.expect("nats-server");
    let client = everynode_bus::connect(&nats.url(), "test").await.unwrap();
    let js = async_nats::jetstream::new(client.clone());
    Bus::ensure(&js, 1).await.unwrap();
    let pods = Store::open(&js).await.unwrap();
    Bed {
        pki: TestPki::new(),
        nats_url: nats.url(),
        _nats: nats,
        client,
        pods,
        dir: tempfile::tempdir().unwrap(),
        cgroups,
    }
}

struct Agent {
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Agent {
    async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap().unwrap();
    }
}

impl Bed {
    fn data_dir(&self, node: &str) -> PathBuf {
        self.dir.path().join(node)
    }

    fn config(&self, node: &str) -> Config {
        let mut config = Config::new(
            &self.nats_url,
            "https://127.0.0.1:1",
            node,
            self.data_dir(node),
        );
        config.common.security = SecurityArgs::credentials(self.pki.node(node));
        config.node_ip = Some("127.0.0.1".parse().unwrap());
        config.tuning.min_grace = Duration::ZERO;
        config.tuning.retry_max = Duration::from_secs(1);
        config.tuning.crash_backoff_base = Duration::from_millis(200);
        config.tuning.crash_backoff_max = Duration::from_millis(800);
        config.common.shutdown_grace = Duration::from_secs(5);
        config.process.cgroup_parent = self.cgroups.parent().to_owned();
        config
    }

    async fn start(&self, config: Config) -> Agent {
        let client = everynode_bus::connect(&self.nats_url, "agent")
            .await
            .unwrap();
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let node = config.node_name.clone().unwrap();
        let task = tokio::spawn(everynode_agent::run(config, client, shutdown.clone()));
        eventually("the agent to answer commands", WAIT, || async {
            request(&self.client, &node, delete("nothing", ""))
                .await
                .map(drop)
                .ok_or("no answer")
        })
        .await;
        Agent { shutdown, task }
    }

    async fn command(&self, node: &str, command: pod_command::Command) -> PodCommandReply {
        request(&self.client, node, command)
            .await
            .expect("the agent answers")
    }

    async fn create(&self, node: &str, pod: Pod) {
        let reply = self.command(node, create(pod)).await;
        assert_eq!(outcome(&reply), PodCommandOutcome::Created, "{reply:?}");
    }

    /// Waits until the pod `name` of `node` satisfies `check`.
    async fn wait_pod<T>(
        &self,
        node: &str,
        name: &str,
        what: &str,
        check: impl Fn(&v1::Pod) -> Result<T, String>,
    ) -> T {
        let key = PodKey::new(node, "default", name).unwrap();
        eventually(what, WAIT, || async {
            match self.pods.get(&key).await.unwrap() {
                Some(entry) => check(&entry.value),
                None => Err("no such key".to_owned()),
            }
        })
        .await
    }

    async fn delete_and_wait_gone(&self, node: &str, name: &str, uid: &str) {
        let reply = self.command(node, delete(name, uid)).await;
        assert_eq!(outcome(&reply), PodCommandOutcome::Deleted, "{reply:?}");
        let key = PodKey::new(node, "default", name).unwrap();
        eventually("the pod gone from KV", WAIT, || async {
            match self.pods.get(&key).await.unwrap() {
                None => Ok(()),
                Some(entry) => Err(format!("still there: {:?}", entry.value.status)),
            }
        })
        .await;
    }
}

async fn request(
    client: &async_nats::Client,
    node: &str,
    command: pod_command::Command,
) -> Option<PodCommandReply> {
    let payload = PodCommand {
        node_name: node.to_owned(),
        command: Some(command),
        // No controller lease term: the agent has seen none either.
        term: 0,
    }
    .encode_to_vec();
    let subject = agent_pods_subject(&NodeKey::new(node).unwrap());
    let answer = tokio::time::timeout(
        Duration::from_secs(3),
        client.request(subject, payload.into()),
    )
    .await
    .ok()?
    .ok()?;
    Some(PodCommandReply::decode(answer.payload).unwrap())
}

fn outcome(reply: &PodCommandReply) -> PodCommandOutcome {
    PodCommandOutcome::try_from(reply.outcome).unwrap()
}

fn create(pod: Pod) -> pod_command::Command {
    pod_command::Command::Create(PodCreate { pod: Some(pod) })
}

fn delete(name: &str, uid: &str) -> pod_command::Command {
    pod_command::Command::Delete(PodDelete {
        namespace: "default".to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        grace_period_seconds: Some(1),
    })
}

fn container(name: &str, script: &str) -> Container {
    Container {
        name: name.to_owned(),
        image: "busybox:1.36".to_owned(),
        command: vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()],
        ..Container::default()
    }
}

fn pod(name: &str, uid: &str, node: &str, containers: Vec<Container>) -> Pod {
    Pod {
        api_version: "v1".to_owned(),
        kind: "Pod".to_owned(),
        metadata: Some(ObjectMeta {
            name: name.to_owned(),
            namespace: "default".to_owned(),
            uid: uid.to_owned(),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            node_name: node.to_owned(),
            containers,
            restart_policy: "Always".to_owned(),
            termination_grace_period_seconds: Some(1),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn status(pod: &v1::Pod) -> Result<v1::ContainerStatus, String> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.first().cloned())
        .ok_or_else(|| format!("no container status: {pod:?}"))
}

fn running_pid(pod: &v1::Pod) -> Result<i32, String> {
    let status = status(pod)?;
    if status
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .is_none()
    {
        return Err(format!("not running: {status:?}"));
    }
    status
        .container_id
        .strip_prefix("process://")
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| format!("no process id in {:?}", status.container_id))
}

fn waiting(pod: &v1::Pod) -> Result<v1::ContainerStateWaiting, String> {
    let status = status(pod)?;
    status
        .state
        .as_ref()
        .and_then(|s| s.waiting.clone())
        .filter(|w| w.reason != "ContainerCreating")
        .ok_or_else(|| format!("not waiting: {status:?}"))
}

fn alive(pid: i32) -> bool {
    procfs::read_stat(pid).is_some_and(|s| s.is_live())
}

/// Every path under `dir`, recursively.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut all = BTreeSet::new();
    for entry in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            all.extend(tree(&path));
        }
        all.insert(path);
    }
    all
}

/// `(real, effective, saved)` uid or gid from `/proc/<pid>/status`.
fn ids(pid: i32, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap()
        .split_whitespace()
        .map(|id| id.parse().unwrap())
        .collect()
}

#[test]
fn cgroup_detection_picks_v1_on_this_machine() {
    let _cgroups = TestCgroups::require();
    match detect_host() {
        Detection::Usable(Hierarchy::V1 {
            memory,
            cpu,
            freezer,
            pids,
        }) => {
            assert_eq!(memory, Path::new("/sys/fs/cgroup/memory"));
            assert!(cpu.starts_with("/sys/fs/cgroup/"), "{}", cpu.display());
            assert_eq!(freezer, Path::new("/sys/fs/cgroup/freezer"));
            assert_eq!(pids.as_deref(), Some(Path::new("/sys/fs/cgroup/pids")));
        }
        other => panic!(
            "this machine mounts cgroup v1 (the cgroup2 mount has no memory controller), so v1 \
             is expected; got {other:?}"
        ),
    }
}

#[tokio::test]
async fn bad_uids_and_container_names_are_rejected_before_touching_the_disk() {
    let bed = bed().await;
    let agent = bed.start(bed.config("node-n")).await;
    let before = tree(bed.dir.path());
    for (uid, name) in [
        ("../../x", "app"),
        ("/etc", "app"),
        ("a/b", "app"),
        ("..", "app"),
        ("uid-ok", "a/b"),
        ("uid-ok", "../x"),
        ("uid-ok", "UPPER"),
    ] {
        let reply = bed
            .command(
                "node-n",
                create(pod(
                    "bad",
                    uid,
                    "node-n",
                    vec![container(name, "sleep 1000")],
                )),
            )
            .await;
        assert_eq!(
            outcome(&reply),
            PodCommandOutcome::Rejected,
            "uid {uid:?}, container {name:?}: {reply:?}"
        );
        let expected = if uid == "uid-ok" {
            "container name"
        } else {
            "metadata.uid"
        };
        assert!(reply.message.contains(expected), "{}", reply.message);
    }
    assert!(
        !bed.dir.path().join("x").exists() && !bed.dir.path().parent().unwrap().join("x").exists()
    );
    assert_eq!(tree(bed.dir.path()), before, "nothing changed on disk");
    assert!(
        bed.pods
            .get(&PodKey::new("node-n", "default", "bad").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    agent.stop().await;
}

#[tokio::test]
async fn run_as_user_limits_and_bookkeeping_out_of_the_pods_reach() {
    let bed = bed().await;
    let agent = bed.start(bed.config("node-u")).await;
    let mut app = container(
        "app",
        "id -u > ids.txt; id -g >> ids.txt; id -G >> ids.txt; touch mine; exec sleep 1000",
    );
    app.security_context = Some(SecurityContext {
        run_as_user: Some(65534),
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        ..SecurityContext::default()
    });
    app.resources = Some(ResourceRequirements {
        limits: [
            ("memory".to_owned(), "128Mi".to_owned()),
            ("cpu".to_owned(), "500m".to_owned()),
        ]
        .into(),
        ..ResourceRequirements::default()
    });
    let mut nobody = pod("nobody", "uid-nobody", "node-u", vec![app]);
    nobody.spec.as_mut().unwrap().security_context = Some(PodSecurityContext {
        run_as_group: Some(65534),
        supplemental_groups: vec![4242],
        fs_group: Some(2000),
        ..PodSecurityContext::default()
    });
    bed.create("node-u", nobody).await;
    let pid = bed
        .wait_pod("node-u", "nobody", "the pod running", running_pid)
        .await;
    assert_eq!(
        ids(pid, "Uid:"),
        vec![65534; 4],
        "real, effective, saved, fs"
    );
    assert_eq!(ids(pid, "Gid:"), vec![65534; 4]);
    assert_eq!(ids(pid, "Groups:"), vec![2000, 4242]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");

    let pod_dir = bed.data_dir("node-u").join("pods").join("uid-nobody");
    let ids_file = pod_dir.join("ids.txt");
    let written = eventually("the program's own id output", WAIT, || async {
        match std::fs::read_to_string(&ids_file) {
            Ok(text) if text.lines().count() == 3 => Ok(text),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(written, "65534\n65534\n65534 2000 4242\n");

    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&pod_dir).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (65534, 2000),
        "the pod's dir is the pod's"
    );
    assert_eq!(meta.mode() & 0o7777, 0o2770);
    let state = bed.data_dir("node-u").join("state").join("uid-nobody");
    let meta = std::fs::metadata(&state).unwrap();
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (0, 0o700),
        "bookkeeping is root's"
    );
    assert!(state.join("app.pid").is_file() && state.join("app.log").is_file());
    assert!(!pod_dir.join("app.pid").exists());

    // In its cgroup, with its limits.
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let suffix = format!("{}/pod-uid-nobody/app", bed.cgroups.parent());
    for controller in ["memory", "freezer", "pids"] {
        assert!(
            cgroup
                .lines()
                .any(|l| l.contains(&format!(":{controller}:")) && l.ends_with(&suffix)),
            "{controller} not {suffix}:\n{cgroup}"
        );
    }
    let dirs = bed.cgroups.dirs();
    let memory = dirs[0].join("pod-uid-nobody/app/memory.limit_in_bytes");
    assert_eq!(std::fs::read_to_string(memory).unwrap().trim(), "134217728");
    let cpu = dirs[1].join("pod-uid-nobody/app/cpu.cfs_quota_us");
    assert_eq!(std::fs::read_to_string(cpu).unwrap().trim(), "50000");

    bed.delete_and_wait_gone("node-u", "nobody", "uid-nobody")
        .await;
    assert!(!alive(pid));
    assert!(!pod_dir.exists() && !state.exists());
    for dir in &dirs {
        assert!(!dir.join("pod-uid-nobody").exists(), "{}", dir.display());
    }
    agent.stop().await;
}

#[tokio::test]
async fn run_as_non_root_with_user_zero_is_refused() {
    let bed = bed().await;
    let agent = bed.start(bed.config("node-r")).await;
    let mut app = container("app", "exec sleep 1000");
    app.security_context = Some(SecurityContext {
        run_as_non_root: Some(true),
        ..SecurityContext::default()
    });
    bed.create("node-r", pod("rooty", "uid-rooty", "node-r", vec![app]))
        .await;
    let waiting = bed
        .wait_pod("node-r", "rooty", "the container refused", waiting)
        .await;
    assert_eq!(waiting.reason, "CreateContainerConfigError");
    assert_eq!(
        waiting.message,
        "container has runAsNonRoot and image will run as root (pod: \"rooty_default(uid-rooty)\", container: app)"
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_memory_hog_over_its_limit_ends_oom_killed() {
    let bed = bed().await;
    let agent = bed.start(bed.config("node-m")).await;
    let mut hog = container("hog", "head -c 400000000 /dev/zero | tail");
    hog.resources = Some(ResourceRequirements {
        limits: [("memory".to_owned(), "64Mi".to_owned())].into(),
        ..ResourceRequirements::default()
    });
    let mut spec = pod("hog", "uid-hog", "node-m", vec![hog]);
    spec.spec.as_mut().unwrap().restart_policy = "Never".to_owned();
    bed.create("node-m", spec).await;
    let terminated = bed
        .wait_pod("node-m", "hog", "the hog terminated", |pod| {
            status(pod)?
                .state
                .and_then(|s| s.terminated)
                .ok_or_else(|| format!("not terminated: {:?}", pod.status))
        })
        .await;
    assert_eq!(terminated.reason, "OOMKilled", "{terminated:?}");
    assert_eq!(terminated.exit_code, 137);
    bed.delete_and_wait_gone("node-m", "hog", "uid-hog").await;
    agent.stop().await;
}

#[tokio::test]
async fn deleting_a_pod_leaves_no_process_behind_not_even_setsid_or_double_forked_ones() {
    let bed = bed().await;
    let agent = bed.start(bed.config("node-d")).await;
    let marker = format!("escapee-{}", uuid::Uuid::new_v4().simple());
    // A `setsid` child in a new session and process group, and a double fork re-parented to
    // init; both ignore SIGTERM.
    let script = "trap '' TERM; \
         setsid sh -c \"trap '' TERM; sleep 1001; : $0\" & \
         echo $! > setsid.pid; \
         ( sh -c \"trap '' TERM; sleep 1002; : $0\" & echo $! > forked.pid ) ; \
         exec sleep 1000";
    let mut app = container("app", script);
    app.command.push(marker.clone());
    bed.create("node-d", pod("forky", "uid-forky", "node-d", vec![app]))
        .await;
    let main = bed
        .wait_pod("node-d", "forky", "the pod running", running_pid)
        .await;
    let pod_dir = bed.data_dir("node-d").join("pods").join("uid-forky");
    let escapees: Vec<i32> = eventually("both escapees started", WAIT, || async {
        let read = |f: &str| -> Result<i32, String> {
            std::fs::read_to_string(pod_dir.join(f))
                .map_err(|e| e.to_string())?
                .trim()
                .parse()
                .map_err(|e| format!("{f}: {e}"))
        };
        let pids = vec![read("setsid.pid")?, read("forked.pid")?];
        let own_group = procfs::read_stat(pids[0]).is_some_and(|s| s.pgrp == pids[0]);
        if pids.iter().all(|p| alive(*p)) && own_group {
            Ok(pids)
        } else {
            Err(format!("not alive yet: {pids:?}"))
        }
    })
    .await;
    let pod_cgroup = format!("{}/pod-uid-forky/app", bed.cgroups.parent());
    for pid in &escapees {
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(
            cgroup
                .lines()
                .any(|l| l.contains(":freezer:") && l.ends_with(&pod_cgroup)),
            "{pid} is not in {pod_cgroup}:\n{cgroup}"
        );
    }
    let setsid = procfs::read_stat(escapees[0]).unwrap();
    assert_ne!(setsid.pgrp, main, "the setsid child left the process group");
    let forked = procfs::read_stat(escapees[1]).unwrap();
    assert_ne!(forked.ppid, main, "the double-forked child was re-parented");
    let with_marker = || -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| alive(*pid))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
            })
            .collect()
    };
    // (A process in the middle of `exec` can show an empty command line for an instant.)
    eventually("both escapees seen by their command line", WAIT, || async {
        let seen = with_marker();
        if seen.len() >= 2 {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;

    bed.delete_and_wait_gone("node-d", "forky", "uid-forky")
        .await;
    eventually("no process of the pod left", WAIT, || async {
        let left = with_marker();
        if left.is_empty() && !escapees.iter().any(|p| alive(*p)) {
            Ok(())
        } else {
            Err(format!("still running: {left:?}"))
        }
    })
    .await;
    for dir in bed.cgroups.dirs() {
        assert!(!dir.join("pod-uid-forky").exists(), "{}", dir.display());
    }
    agent.stop().await;
}

#[tokio::test]
async fn container_logs_rotate_into_at_most_max_files() {
    let bed = bed().await;
    let mut config = bed.config("node-l");
    config.process.container_log_max_size = 16 * 1024;
    config.process.container_log_max_files = 3;
    let agent = bed.start(config).await;
    // About 50 KB/s: 1001-byte lines every 20 ms.
    let app = container(
        "app",
        "i=0; while :; do i=$((i+1)); printf '%01000d\\n' $i; sleep 0.02; done",
    );
    bed.create("node-l", pod("chatty", "uid-chatty", "node-l", vec![app]))
        .await;
    let state = bed.data_dir("node-l").join("state").join("uid-chatty");
    let log = state.join("app.log");
    let rotated = |n: usize| state.join(format!("app.log.{n}"));
    eventually("the log rotated twice", WAIT, || async {
        if rotated(2).exists() {
            Ok(())
        } else {
            Err(format!("files: {:?}", tree(&state)))
        }
    })
    .await;
    // Watch it for a while: never more than 3 files, none much over the limit (the runtime
    // looks every 100 ms; at 50 KB/s a file overshoots by about 5 KB).
    let slack = 32 * 1024;
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut last_first = String::new();
    while std::time::Instant::now() < deadline {
        let logs: Vec<PathBuf> = tree(&state)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("app.log"))
            .collect();
        assert!(logs.len() <= 3, "{logs:?}");
        assert!(!rotated(3).exists());
        for file in &logs {
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            assert!(size <= 16 * 1024 + slack, "{}: {size}", file.display());
        }
        if let Ok(text) = std::fs::read_to_string(rotated(1)) {
            last_first = text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The current file keeps its name and keeps growing from where the rotated one ended.
    let current = std::fs::read_to_string(&log).unwrap();
    let number = |line: &str| line.trim_start_matches('0').parse::<u64>().unwrap_or(0);
    let last_rotated = last_first.lines().last().map(number).unwrap_or(0);
    let first_current = current.lines().next().map(number).unwrap_or(u64::MAX);
    assert!(
        last_rotated > 0 && first_current > last_rotated,
        "rotated ends at {last_rotated}, current starts at {first_current}"
    );
    bed.delete_and_wait_gone("node-l", "chatty", "uid-chatty")
        .await;
    agent.stop().await;
}

fn privileged_pods(node: &str) -> Vec<(&'static str, Pod)> {
    let mut privileged = container("app", "exec sleep 1000");
    privileged.security_context = Some(SecurityContext {
        privileged: Some(true),
        ..SecurityContext::default()
    });
    let privileged = pod("privileged", "uid-privileged", node, vec![privileged]);

    let mut host_path = pod(
        "host-path",
        "uid-host-path",
        node,
        vec![container("app", "exec sleep 1000")],
    );
    host_path.spec.as_mut().unwrap().volumes = vec![Volume {
        name: "logs".to_owned(),
        host_path: Some(HostPathVolumeSource {
            path: "/var/log".to_owned(),
            ..HostPathVolumeSource::default()
        }),
        ..Volume::default()
    }];

    let mut host_network = pod(
        "host-network",
        "uid-host-network",
        node,
        vec![container("app", "exec sleep 1000")],
    );
    host_network.spec.as_mut().unwrap().host_network = true;
    vec![
        ("privileged", privileged),
        ("host-path", host_path),
        ("host-network", host_network),
    ]
}

#[tokio::test]
async fn privileged_host_path_and_host_network_pods_need_allow_privileged() {
    let bed = bed().await;
    let strict = bed.start(bed.config("node-s")).await;
    let mut config = bed.config("node-p");
    config.process.allow_privileged = true;
    let permissive = bed.start(config).await;

    for (name, pod) in privileged_pods("node-s") {
        bed.create("node-s", pod).await;
        let waiting = bed
            .wait_pod("node-s", name, "the pod refused", waiting)
            .await;
        assert_eq!(waiting.reason, "CreateContainerConfigError", "{name}");
        assert!(
            waiting.message.contains("--allow-privileged"),
            "{name}: {}",
            waiting.message
        );
    }
    assert!(
        !bed.data_dir("node-s")
            .join("pods")
            .join("uid-privileged")
            .exists(),
        "nothing prepared for a refused pod"
    );
    for (name, pod) in privileged_pods("node-p") {
        bed.create("node-p", pod).await;
        let pid = bed
            .wait_pod("node-p", name, "the pod running", running_pid)
            .await;
        assert!(alive(pid), "{name}");
    }
    for (name, pod) in privileged_pods("node-p") {
        let uid = pod.metadata.unwrap().uid;
        bed.delete_and_wait_gone("node-p", name, &uid).await;
    }
    strict.stop().await;
    permissive.stop().await;
}

#[tokio::test]
async fn a_working_dir_is_reached_with_the_containers_rights_not_the_agents() {
    use std::os::unix::fs::PermissionsExt;
    let bed = bed().await;
    let agent = bed.start(bed.config("node-w")).await;
    let secret = bed.dir.path().join("root-only");
    std::fs::create_dir(&secret).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut snoop = container("snoop", "ls > listing.txt");
    snoop.working_dir = secret.display().to_string();
    snoop.security_context = Some(SecurityContext {
        run_as_user: Some(65534),
        ..SecurityContext::default()
    });
    let mut spec = pod("snoop", "uid-snoop", "node-w", vec![snoop]);
    spec.spec.as_mut().unwrap().restart_policy = "Never".to_owned();
    bed.create("node-w", spec).await;
    let terminated = bed
        .wait_pod("node-w", "snoop", "the start refused", |pod| {
            status(pod)?
                .state
                .and_then(|s| s.terminated)
                .ok_or_else(|| format!("not terminated: {:?}", pod.status))
        })
        .await;
    assert_eq!(terminated.reason, "StartError", "{terminated:?}");
    assert!(
        terminated.message.contains("Permission denied"),
        "{}",
        terminated.message
    );
    assert!(!secret.join("listing.txt").exists());
    bed.delete_and_wait_gone("node-w", "snoop", "uid-snoop")
        .await;
    agent.stop().await;
}

#[tokio::test]
async fn a_restarted_agent_reattaches_within_the_cgroups_and_still_kills_everything() {
    let bed = bed().await;
    let first = bed.start(bed.config("node-a")).await;
    let mut app = container(
        "app",
        "trap '' TERM; setsid sh -c \"trap '' TERM; sleep 1001\" & echo $! > setsid.pid; exec sleep 1000",
    );
    app.resources = Some(ResourceRequirements {
        limits: [("memory".to_owned(), "96Mi".to_owned())].into(),
        ..ResourceRequirements::default()
    });
    bed.create("node-a", pod("kept", "uid-kept", "node-a", vec![app]))
        .await;
    let pid = bed
        .wait_pod("node-a", "kept", "the pod running", running_pid)
        .await;
    let setsid_file = bed.data_dir("node-a").join("pods/uid-kept/setsid.pid");
    let setsid: i32 = eventually("the setsid child started", WAIT, || async {
        let pid: i32 = std::fs::read_to_string(&setsid_file)
            .map_err(|e| e.to_string())?
            .trim()
            .parse()
            .map_err(|e| format!("{e}"))?;
        match procfs::read_stat(pid) {
            Some(stat) if stat.pgrp == pid => Ok(pid),
            other => Err(format!("not in its own session yet: {other:?}")),
        }
    })
    .await;
    // The agent goes away (its pods keep running) and another takes over the data dir.
    first.stop().await;
    assert!(alive(pid) && alive(setsid), "pods outlive their agent");
    let second = bed.start(bed.config("node-a")).await;
    let reattached = bed
        .wait_pod("node-a", "kept", "the pod re-attached", |pod| {
            let status = status(pod)?;
            if status.restart_count != 0 {
                return Err(format!("restarted instead: {status:?}"));
            }
            running_pid(pod)
        })
        .await;
    assert_eq!(reattached, pid, "the same process, not a second one");
    let limit = bed.cgroups.dirs()[0].join("pod-uid-kept/app/memory.limit_in_bytes");
    assert_eq!(std::fs::read_to_string(limit).unwrap().trim(), "100663296");

    bed.delete_and_wait_gone("node-a", "kept", "uid-kept").await;
    eventually("every process of the pod gone", WAIT, || async {
        if alive(pid) || alive(setsid) {
            Err(format!(
                "alive: main {} setsid {}",
                alive(pid),
                alive(setsid)
            ))
        } else {
            Ok(())
        }
    })
    .await;
    for dir in bed.cgroups.dirs() {
        assert!(!dir.join("pod-uid-kept").exists(), "{}", dir.display());
    }
    second.stop().await;
}

#[tokio::test]
async fn dropped_capabilities_are_gone_from_a_root_container() {
    let bed = bed().await;
    let agent = bed.start(bed.config("node-c")).await;
    let mut app = container("app", "exec sleep 1000");
    app.security_context = Some(SecurityContext {
        capabilities: Some(v1::Capabilities {
            drop: vec!["ALL".to_owned()],
            add: vec!["NET_BIND_SERVICE".to_owned()],
            ..v1::Capabilities::default()
        }),
        ..SecurityContext::default()
    });
    let mut odd = container("odd", "exec sleep 1000");
    odd.security_context = Some(SecurityContext {
        capabilities: Some(v1::Capabilities {
            drop: vec!["NET_FLY".to_owned()],
            ..v1::Capabilities::default()
        }),
        ..SecurityContext::default()
    });
    bed.create("node-c", pod("caps", "uid-caps", "node-c", vec![app, odd]))
        .await;
    let pid = bed
        .wait_pod("node-c", "caps", "the first container running", running_pid)
        .await;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |key: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(ids(pid, "Uid:"), vec![0; 4], "it runs as root");
    assert_eq!(
        field("CapBnd:"),
        "0000000000000400",
        "only NET_BIND_SERVICE"
    );
    assert_eq!(field("CapEff:"), "0000000000000400");
    let odd = bed
        .wait_pod("node-c", "caps", "the second container refused", |pod| {
            pod.status
                .as_ref()
                .and_then(|s| s.container_statuses.get(1))
                .and_then(|s| s.state.as_ref())
                .and_then(|s| s.waiting.clone())
                .filter(|w| w.reason == "CreateContainerConfigError")
                .ok_or_else(|| format!("{:?}", pod.status))
        })
        .await;
    assert_eq!(
        odd.message,
        "unknown capability \"NET_FLY\" in securityContext.capabilities.drop"
    );
    bed.delete_and_wait_gone("node-c", "caps", "uid-caps").await;
    agent.stop().await;
}
