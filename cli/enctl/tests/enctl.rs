//! The real `enctl` binary against real services: testkit's `Stack` per test (a nats-server,
//! admission, registry and controller in this process on free ports, and fake-runtime agents
//! where nodes and pods are needed). Every wait has a deadline and says what it last saw.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use everynode_api::v1;
use everynode_testkit::{Service, Stack, eventually};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const WAIT: Duration = Duration::from_secs(20);

/// What one run of `enctl` did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "enctl failed: {self:#?}");
        &self.stdout
    }

    #[track_caller]
    fn failed(&self) -> &str {
        assert_eq!(self.code, 1, "enctl should have failed with 1: {self:#?}");
        &self.stderr
    }
}

/// The whole system ([`Stack`]: NATS, admission, registry, a controller; agents on demand) and
/// the `enctl` binary pointed at it.
struct Cluster {
    stack: Stack,
}

impl Cluster {
    async fn start() -> Self {
        Self {
            stack: Stack::start().await,
        }
    }

    /// A cluster whose registry signs node certificates (bootstrap joins on).
    async fn start_signing() -> Self {
        let builder = Stack::builder();
        let ca_key = builder.pki().dir().join("ca.key");
        Self {
            stack: builder
                .configure_registry(move |c| c.ca_key = Some(ca_key.clone()))
                .start()
                .await,
        }
    }

    /// Starts a fake-runtime agent simulating `count` nodes `<prefix>-0…`, and waits for them.
    async fn agents(&mut self, prefix: &str, count: usize) {
        self.stack.agents(prefix, count, &[]).await;
    }

    /// `HOME` of every `enctl` run, and where tests write files.
    fn dir(&self) -> &Path {
        self.stack.dir()
    }

    /// The base command: the cluster's URLs and the `admin` identity, no stray environment or
    /// config file.
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.command_as("admin", args)
    }

    /// The base command as the PKI's identity `identity` (`admin`, `viewer`, …).
    fn command_as(&self, identity: &str, args: &[&str]) -> tokio::process::Command {
        let mut cmd = bare_command(self.dir(), &[]);
        cmd.args([
            "--admission",
            &self.stack.url(Service::Admission),
            "--registry",
            &self.stack.url(Service::Registry),
            "--controller",
            &self.stack.url(Service::Controller(0)),
            "--credentials",
            path(&self.credentials(identity)),
        ])
        .args(args);
        cmd
    }

    /// The identity folder `identity` of the stack's PKI.
    fn credentials(&self, identity: &str) -> PathBuf {
        self.stack.pki().folder(identity)
    }

    /// `enctl ARGS` with no URL or credential flags, `HOME` as the test's directory, and `env`
    /// set.
    async fn enctl_bare(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(bare_command(self.dir(), env).args(args)).await
    }

    /// Runs `enctl ARGS` as the identity `identity`.
    async fn enctl_as(&self, identity: &str, args: &[&str]) -> Run {
        run(&mut self.command_as(identity, args)).await
    }

    /// Runs `enctl ARGS` to completion.
    async fn enctl(&self, args: &[&str]) -> Run {
        self.enctl_stdin(args, "").await
    }

    /// Runs `enctl ARGS` with `stdin`.
    async fn enctl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run_stdin(&mut self.command(args), stdin).await
    }

    /// Writes `text` to `name` under the test's directory (folders made as needed).
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// `enctl` with `HOME` as `home`, in `/` (so relative paths cannot resolve by chance), with no
/// everynode variable of the environment but `env`.
fn bare_command(home: &Path, env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_enctl"));
    cmd.current_dir("/").env("HOME", home);
    for name in [
        "EVERYNODE_ADMISSION",
        "EVERYNODE_REGISTRY",
        "EVERYNODE_CONTROLLER",
        "EVERYNODE_CREDENTIALS",
        "EVERYNODE_INSECURE",
        "EVERYNODE_CONFIG",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied()).kill_on_drop(true);
    cmd
}

/// Runs `cmd` to completion, with an empty stdin.
async fn run(cmd: &mut tokio::process::Command) -> Run {
    run_stdin(cmd, "").await
}

/// Runs `cmd` to completion with `stdin`.
async fn run_stdin(cmd: &mut tokio::process::Command, stdin: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("enctl finished in time")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn daemon_set(name: &str, image: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
  labels: {{team: infra}}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: main
        image: {image}
        command: ["sleep", "infinity"]
        ports:
        - containerPort: 9100
          hostPort: 9100
"#
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn two_daemon_sets_and_a_config_map(b_image: &str) -> String {
    format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {{a: b}}\n---\n{}",
        daemon_set("a", "busybox:1.36"),
        daemon_set("b", b_image)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apply_creates_then_leaves_unchanged_then_configures() {
    let cluster = Cluster::start().await;
    let file = cluster.write(
        "two.yaml",
        &two_daemon_sets_and_a_config_map("busybox:1.36"),
    );

    let first = cluster.enctl(&["apply", "-f", path(&file)]).await;
    assert_eq!(
        first.ok(),
        "daemonset.apps/a created\ndaemonset.apps/b created\n"
    );
    assert_eq!(
        first.stderr,
        "skipping ConfigMap/settings: everynode stores DaemonSets only\n"
    );

    let again = cluster.enctl(&["apply", "-f", path(&file)]).await;
    assert_eq!(
        again.ok(),
        "daemonset.apps/a unchanged\ndaemonset.apps/b unchanged\n"
    );

    cluster.write(
        "two.yaml",
        &two_daemon_sets_and_a_config_map("busybox:1.37"),
    );
    let edited = cluster.enctl(&["apply", "-f", path(&file)]).await;
    assert_eq!(
        edited.ok(),
        "daemonset.apps/a unchanged\ndaemonset.apps/b configured\n"
    );
    let b = cluster.enctl(&["get", "ds", "b", "-o", "json"]).await;
    let b: serde_json::Value = serde_json::from_str(b.ok()).unwrap();
    assert_eq!(
        b["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.37"
    );
    assert_eq!(b["metadata"]["generation"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apply_reads_lists_from_stdin_and_directories() {
    let cluster = Cluster::start().await;
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {}",
        daemon_set("from-list", "busybox")
            .trim_end()
            .replace('\n', "\n  ")
    );
    let run = cluster.enctl_stdin(&["apply", "-f", "-"], &list).await;
    assert_eq!(run.ok(), "daemonset.apps/from-list created\n");

    let dir = cluster.dir().join("manifests");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("x.yaml"), daemon_set("x", "busybox")).unwrap();
    std::fs::write(dir.join("README.md"), "not a manifest").unwrap();
    let run = cluster.enctl(&["apply", "-f", path(&dir)]).await;
    assert_eq!(run.ok(), "daemonset.apps/x created\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dry_run_server_stores_nothing() {
    let cluster = Cluster::start().await;
    let file = cluster.write("a.yaml", &daemon_set("a", "busybox:1.36"));

    let dry = cluster
        .enctl(&["apply", "-f", path(&file), "--dry-run=server"])
        .await;
    assert_eq!(dry.ok(), "daemonset.apps/a created (server dry run)\n");
    let get = cluster.enctl(&["get", "ds"]).await;
    assert_eq!(get.ok(), "");
    assert_eq!(get.stderr, "No resources found in default namespace.\n");

    // The defaulted object the server would store.
    let yaml = cluster
        .enctl(&["apply", "-f", path(&file), "--dry-run=server", "-o", "yaml"])
        .await;
    assert!(yaml.ok().contains("type: RollingUpdate"), "{}", yaml.stdout);

    cluster.enctl(&["apply", "-f", path(&file)]).await.ok();
    let same = cluster
        .enctl(&["apply", "-f", path(&file), "--dry-run=server"])
        .await;
    assert_eq!(same.ok(), "daemonset.apps/a unchanged (server dry run)\n");
    cluster.write("a.yaml", &daemon_set("a", "busybox:1.37"));
    let changed = cluster
        .enctl(&["apply", "-f", path(&file), "--dry-run=server"])
        .await;
    assert_eq!(
        changed.ok(),
        "daemonset.apps/a configured (server dry run)\n"
    );
    let stored = cluster.enctl(&["get", "ds", "a", "-o", "yaml"]).await;
    assert!(stored.ok().contains("busybox:1.36"), "{}", stored.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_prints_json_yaml_name_and_tables() {
    let cluster = Cluster::start().await;
    let file = cluster.write("two.yaml", &two_daemon_sets_and_a_config_map("busybox"));
    cluster.enctl(&["apply", "-f", path(&file)]).await.ok();

    let names = cluster.enctl(&["get", "ds", "-o", "name"]).await;
    assert_eq!(names.ok(), "daemonset.apps/a\ndaemonset.apps/b\n");

    let one = cluster
        .enctl(&["get", "daemonset", "a", "-o", "json"])
        .await;
    let one: serde_json::Value = serde_json::from_str(one.ok()).unwrap();
    assert_eq!(one["kind"], "DaemonSet");
    assert_eq!(one["apiVersion"], "apps/v1");
    assert_eq!(one["metadata"]["name"], "a");
    assert_eq!(one["metadata"]["namespace"], "default");

    let all = cluster.enctl(&["get", "ds", "-o", "json"]).await;
    let all: serde_json::Value = serde_json::from_str(all.ok()).unwrap();
    assert_eq!(all["kind"], "List");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));

    let yaml = cluster.enctl(&["get", "ds/b", "-o", "yaml"]).await;
    assert!(
        yaml.ok().starts_with("apiVersion: apps/v1\n"),
        "{}",
        yaml.stdout
    );
    assert!(yaml.stdout.contains("\n  name: b\n"), "{}", yaml.stdout);

    let table = cluster.enctl(&["get", "ds"]).await;
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    assert!(
        lines[0].starts_with(
            "NAME   DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE"
        ),
        "{}",
        table.stdout
    );
    assert!(lines[1].starts_with("a      "), "{}", table.stdout);

    let everywhere = cluster
        .enctl(&["get", "ds", "-A", "-l", "team=infra,app!=x"])
        .await;
    let lines: Vec<&str> = everywhere.ok().lines().collect();
    assert!(
        lines[0].starts_with("NAMESPACE   NAME   DESIRED"),
        "{}",
        everywhere.stdout
    );
    assert!(
        lines[1].starts_with("default     a      "),
        "{}",
        everywhere.stdout
    );
    assert_eq!(lines.len(), 3);
    let none = cluster.enctl(&["get", "ds", "-l", "team=other"]).await;
    assert_eq!(none.ok(), "");
    assert_eq!(none.stderr, "No resources found in default namespace.\n");

    let missing = cluster.enctl(&["get", "ds", "a", "nope"]).await;
    assert!(missing.stdout.starts_with("NAME "), "{missing:?}");
    assert_eq!(
        missing.failed(),
        "Error from server (NotFound): daemonsets.apps \"nope\" not found\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_manifests_exit_1_and_name_the_field() {
    let cluster = Cluster::start().await;
    let bad = daemon_set("bad", "busybox").replace(
        "      containers:",
        "      restartPolicy: Never\n      containers:",
    );
    let file = cluster.write("bad.yaml", &bad);
    let run = cluster.enctl(&["apply", "-f", path(&file)]).await;
    let err = run.failed();
    assert!(
        err.starts_with(&format!(
            "Error from server (Invalid): error when creating {:?}: DaemonSet.apps \"bad\" is invalid",
            path(&file)
        )),
        "{err}"
    );
    assert!(
        err.contains("\n* spec.template.spec.restartPolicy: Unsupported value: \"Never\""),
        "{err}"
    );
    assert_eq!(run.stdout, "");

    let undecodable =
        daemon_set("worse", "busybox").replace("containerPort: 9100", "containerPort: http");
    let file = cluster.write("worse.yaml", &undecodable);
    let err = cluster.enctl(&["apply", "-f", path(&file)]).await;
    let err = err.failed();
    assert!(
        err.starts_with(&format!(
            "error: error parsing {}: spec.template.spec.containers[0].ports[0].containerPort",
            path(&file)
        )),
        "{err}"
    );

    let nothing = cluster.enctl(&["get", "ds"]).await;
    assert_eq!(nothing.ok(), "", "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_removes_and_reports_what_is_missing() {
    let cluster = Cluster::start().await;
    let file = cluster.write("two.yaml", &two_daemon_sets_and_a_config_map("busybox"));
    cluster.enctl(&["apply", "-f", path(&file)]).await.ok();

    let run = cluster
        .enctl(&["delete", "ds", "a", "--cascade=orphan"])
        .await;
    assert_eq!(run.ok(), "daemonset.apps \"a\" deleted\n");
    let gone = eventually("a to be gone", WAIT, || async {
        let run = cluster.enctl(&["get", "ds", "a"]).await;
        if run.code == 1 {
            Ok(run)
        } else {
            Err(format!("{run:?}"))
        }
    })
    .await;
    assert_eq!(
        gone.stderr,
        "Error from server (NotFound): daemonsets.apps \"a\" not found\n"
    );
    let again = cluster.enctl(&["delete", "ds", "a"]).await;
    assert_eq!(
        again.failed(),
        "Error from server (NotFound): daemonsets.apps \"a\" not found\n"
    );
    let ignored = cluster
        .enctl(&["delete", "ds", "a", "--ignore-not-found"])
        .await;
    assert_eq!(ignored.ok(), "");

    let by_file = cluster
        .enctl(&["delete", "-f", path(&file), "--ignore-not-found"])
        .await;
    assert_eq!(by_file.ok(), "daemonset.apps \"b\" deleted\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_service_is_named() {
    let cluster = Cluster::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let url = format!("https://{closed}");
    let run = cluster.enctl(&["get", "nodes", "--registry", &url]).await;
    let err = run.failed();
    assert!(
        err.starts_with(&format!("error: cannot reach registry at {url}: ")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_watch_streams_changes() {
    let cluster = Cluster::start().await;
    let file = cluster.write("a.yaml", &daemon_set("a", "busybox"));
    cluster.enctl(&["apply", "-f", path(&file)]).await.ok();

    let mut child = cluster
        .command(&["get", "ds", "-w", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("enctl still running")
    };
    assert_eq!(next().await, "daemonset.apps/a");
    let mut api = cluster.stack.daemonsets();
    let b: v1::DaemonSet =
        everynode_api::manifest::decode_one(&daemon_set("b", "busybox")).unwrap();
    api.create(v1::DaemonSetsCreateRequest {
        daemon_set: Some(b),
        dry_run: false,
    })
    .await
    .unwrap();
    assert_eq!(next().await, "daemonset.apps/b");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_pods_endpoints_and_rollouts_against_the_whole_system() {
    let mut cluster = Cluster::start().await;
    cluster.agents("n", 2).await;

    // Nodes.
    let nodes = cluster.enctl(&["get", "nodes"]).await;
    let lines: Vec<&str> = nodes.ok().lines().collect();
    assert!(lines[0].starts_with("NAME  "), "{}", nodes.stdout);
    assert!(
        lines[0].contains("STATUS   ROLES    AGE"),
        "{}",
        nodes.stdout
    );
    assert!(lines[1].starts_with("n-0    Ready "), "{}", nodes.stdout);

    assert_eq!(
        cluster
            .enctl(&["label", "node", "n-0", "zone=a"])
            .await
            .ok(),
        "node/n-0 labeled\n"
    );
    let refused = cluster.enctl(&["label", "node", "n-0", "zone=b"]).await;
    assert!(refused.failed().starts_with("error: "), "{refused:?}");
    assert_eq!(
        cluster
            .enctl(&["label", "node/n-0", "zone=b", "--overwrite"])
            .await
            .ok(),
        "node/n-0 labeled\n"
    );
    let zoned = cluster
        .enctl(&["get", "no", "-l", "zone=b", "-o", "name"])
        .await;
    assert_eq!(zoned.ok(), "node/n-0\n");
    assert_eq!(
        cluster.enctl(&["label", "node", "n-0", "zone-"]).await.ok(),
        "node/n-0 unlabeled\n"
    );

    assert_eq!(
        cluster.enctl(&["cordon", "n-1"]).await.ok(),
        "node/n-1 cordoned\n"
    );
    assert_eq!(
        cluster.enctl(&["cordon", "n-1"]).await.ok(),
        "node/n-1 already cordoned\n"
    );
    let cordoned = cluster.enctl(&["get", "node", "n-1"]).await;
    assert!(
        cordoned.ok().contains("Ready,SchedulingDisabled"),
        "{}",
        cordoned.stdout
    );
    assert_eq!(
        cluster.enctl(&["uncordon", "node/n-1"]).await.ok(),
        "node/n-1 uncordoned\n"
    );

    assert_eq!(
        cluster
            .enctl(&["taint", "node", "n-1", "dedicated=gpu:NoSchedule"])
            .await
            .ok(),
        "node/n-1 tainted\n"
    );
    let described = cluster.enctl(&["describe", "node", "n-1"]).await;
    assert!(
        described
            .ok()
            .contains("Taints:             dedicated=gpu:NoSchedule\n"),
        "{}",
        described.stdout
    );
    let absent = cluster.enctl(&["taint", "node", "n-1", "other-"]).await;
    assert_eq!(absent.failed(), "error: taint \"other\" not found\n");
    assert_eq!(
        cluster
            .enctl(&["taint", "node", "n-1", "dedicated:NoSchedule-"])
            .await
            .ok(),
        "node/n-1 untainted\n"
    );

    // A DaemonSet runs on both nodes; its rollout finishes; its pods and endpoints show.
    let file = cluster.write("a.yaml", &daemon_set("a", "busybox:1.36"));
    cluster.enctl(&["apply", "-f", path(&file)]).await.ok();
    let rollout = cluster
        .enctl(&["rollout", "status", "ds/a", "--timeout", "20s"])
        .await;
    assert!(
        rollout
            .ok()
            .ends_with("daemon set \"a\" successfully rolled out\n"),
        "{}",
        rollout.stdout
    );

    let pods = cluster.enctl(&["get", "pods", "-o", "wide"]).await;
    let lines: Vec<&str> = pods.ok().lines().collect();
    assert_eq!(lines.len(), 3, "{}", pods.stdout);
    assert!(lines[0].starts_with("NAME "), "{}", pods.stdout);
    assert!(
        lines[0].contains("READY   STATUS    RESTARTS   AGE"),
        "{}",
        pods.stdout
    );
    assert!(lines[0].ends_with("NODE"), "{}", pods.stdout);
    assert!(
        lines[1].contains(" 1/1     Running   0  "),
        "{}",
        pods.stdout
    );

    let on_n0 = cluster
        .enctl(&["get", "po", "--node", "n-0", "-o", "name"])
        .await;
    let names: Vec<&str> = on_n0.ok().lines().collect();
    assert_eq!(names.len(), 1, "{}", on_n0.stdout);
    let pod = names[0].trim_start_matches("pod/").to_string();

    let described = cluster.enctl(&["describe", "pod", &pod]).await;
    assert!(
        described.ok().contains("Controlled By:    DaemonSet/a\n"),
        "{}",
        described.stdout
    );
    let described = cluster.enctl(&["describe", "ds", "a"]).await;
    let text = described.ok();
    assert!(
        text.contains("Desired Number of Nodes Scheduled: 2\n"),
        "{text}"
    );
    assert!(
        text.contains("Pods Status:      2 Running / 0 Waiting / 0 Succeeded / 0 Failed\n"),
        "{text}"
    );
    assert!(text.contains("    Image:      busybox:1.36\n"), "{text}");

    let endpoints = cluster.enctl(&["endpoints", "ds", "a"]).await;
    assert_eq!(
        endpoints.ok(),
        "NODE   ADDRESS     PORTS      READY\nn-0    127.0.0.1   9100/TCP   true\nn-1    127.0.0.1   9100/TCP   true\n"
    );

    // A new image rolls out.
    cluster.write("a.yaml", &daemon_set("a", "busybox:1.37"));
    assert_eq!(
        cluster.enctl(&["apply", "-f", path(&file)]).await.ok(),
        "daemonset.apps/a configured\n"
    );
    let rollout = cluster
        .enctl(&["rollout", "status", "daemonset", "a", "--timeout", "20s"])
        .await;
    assert!(
        rollout
            .ok()
            .ends_with("daemon set \"a\" successfully rolled out\n"),
        "{}",
        rollout.stdout
    );

    let history = cluster.enctl(&["rollout", "history", "ds/a"]).await;
    assert!(
        history.failed().contains("not supported yet"),
        "{history:?}"
    );

    // Deleting a pod (one of the rolled-out ones).
    let on_n0 = cluster
        .enctl(&["get", "po", "--node", "n-0", "-o", "name"])
        .await;
    let pod = on_n0.ok().trim().trim_start_matches("pod/").to_string();
    assert_eq!(
        cluster.enctl(&["delete", "pod", &pod]).await.ok(),
        format!("pod \"{pod}\" deleted\n")
    );
    assert_eq!(
        cluster.enctl(&["delete", "ds", "a"]).await.ok(),
        "daemonset.apps \"a\" deleted\n"
    );
}

/// A URL where nothing listens.
fn closed_url() -> String {
    format!(
        "https://{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn urls_come_from_flags_then_env_then_the_config_file() {
    let cluster = Cluster::start().await;
    let closed = closed_url();
    // The older flat form: the settings of one context at the top level.
    cluster.write(
        ".config/everynode/config.yaml",
        &format!(
            "# the default config file\nadmission: {}\nregistry: {closed}\ncredentials: {}\n",
            cluster.stack.url(Service::Admission),
            path(&cluster.credentials("admin"))
        ),
    );

    // The default file gives admission and the credentials.
    assert_eq!(cluster.enctl_bare(&["get", "ds"], &[]).await.ok(), "");
    // Its registry is wrong; the environment wins over it.
    let err = cluster.enctl_bare(&["get", "nodes"], &[]).await;
    assert!(
        err.failed()
            .starts_with(&format!("error: cannot reach registry at {closed}")),
        "{err:?}"
    );
    let registry = cluster.stack.url(Service::Registry);
    let env = [("EVERYNODE_REGISTRY", registry.as_str())];
    cluster.enctl_bare(&["get", "nodes"], &env).await.ok();
    // A flag wins over the environment.
    let err = cluster
        .enctl_bare(&["get", "nodes", "--registry", &closed], &env)
        .await;
    assert!(
        err.failed()
            .starts_with(&format!("error: cannot reach registry at {closed}")),
        "{err:?}"
    );
    // --config names another file, which must exist.
    let other = cluster.write(
        "other-config.yaml",
        &format!(
            "admission: {closed}\ncredentials: {}\n",
            path(&cluster.credentials("admin"))
        ),
    );
    let err = cluster
        .enctl_bare(&["get", "ds", "--config", path(&other)], &[])
        .await;
    assert!(
        err.failed()
            .starts_with(&format!("error: cannot reach admission at {closed}")),
        "{err:?}"
    );
    let err = cluster
        .enctl_bare(&["get", "ds", "--config", "/no/such/config"], &[])
        .await;
    assert!(
        err.failed()
            .starts_with("error: cannot read config file /no/such/config"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_config_file_s_contexts_select_endpoints_and_credentials() {
    let cluster = Cluster::start().await;
    let closed = closed_url();
    // The viewer's identity next to the config file, named by a relative path.
    let viewer = cluster.dir().join(".config/everynode/pki/viewer");
    std::fs::create_dir_all(&viewer).unwrap();
    for file in ["ca.crt", "tls.crt", "tls.key"] {
        std::fs::copy(cluster.credentials("viewer").join(file), viewer.join(file)).unwrap();
    }
    let config = cluster.write(
        ".config/everynode/config.yaml",
        &format!(
            "\
current-context: ops
contexts:
- name: ops
  admission: {admission}
  registry: {registry}
  controller: {controller}
  credentials: {admin}
- name: audit
  admission: {admission}
  registry: {closed}
  credentials: pki/viewer
",
            admission = cluster.stack.url(Service::Admission),
            registry = cluster.stack.url(Service::Registry),
            controller = cluster.stack.url(Service::Controller(0)),
            admin = path(&cluster.credentials("admin")),
        ),
    );

    // current-context: ops, the admin.
    let who = cluster.enctl_bare(&["auth", "whoami"], &[]).await;
    assert_eq!(
        who.ok(),
        "ATTRIBUTE   VALUE\nUsername    admin\nGroups      [everynode:admins]\n"
    );
    cluster.enctl_bare(&["get", "nodes"], &[]).await.ok();

    // --context audit: the viewer (a path relative to the file's folder) and its registry.
    let who = cluster
        .enctl_bare(&["auth", "whoami", "--context", "audit"], &[])
        .await;
    assert!(who.ok().contains("Username    viewer\n"), "{who:?}");
    let err = cluster
        .enctl_bare(&["get", "nodes", "--context", "audit"], &[])
        .await;
    assert!(
        err.failed()
            .starts_with(&format!("error: cannot reach registry at {closed}")),
        "{err:?}"
    );
    // The environment and flags still win over the context, setting by setting.
    let registry = cluster.stack.url(Service::Registry);
    let admin = cluster.credentials("admin");
    let env = [
        ("EVERYNODE_REGISTRY", registry.as_str()),
        ("EVERYNODE_CREDENTIALS", path(&admin)),
    ];
    let who = cluster
        .enctl_bare(
            &[
                "auth",
                "whoami",
                "--service",
                "registry",
                "--context",
                "audit",
            ],
            &env,
        )
        .await;
    assert!(who.ok().contains("Username    admin\n"), "{who:?}");
    let viewer = viewer.to_str().unwrap();
    let who = cluster
        .enctl_bare(
            &[
                "auth",
                "whoami",
                "--context",
                "audit",
                "--credentials",
                viewer,
            ],
            &env,
        )
        .await;
    assert!(who.ok().contains("Username    viewer\n"), "{who:?}");

    // `config view` says where each setting came from.
    let view = cluster
        .enctl_bare(&["config", "view", "--context", "audit"], &env)
        .await;
    let text = view.ok();
    assert!(
        text.contains(&format!("\nconfig        {}   default\n", path(&config))),
        "{text}"
    );
    assert!(text.contains("\ncontext       audit "), "{text}");
    assert!(text.contains(" --context\n"), "{text}");
    assert!(text.contains(" config file, context audit\n"), "{text}");
    assert!(text.contains(" EVERYNODE_REGISTRY\n"), "{text}");
    assert!(
        text.contains(&format!("\ncredentials   {} ", path(&admin))),
        "{text}"
    );

    let err = cluster
        .enctl_bare(&["get", "ds", "--context", "nope"], &[])
        .await;
    assert_eq!(
        err.failed(),
        format!(
            "error: context \"nope\" not found in config file {} (it has ops, audit)\n",
            path(&config)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_credentials_or_insecure_enctl_says_what_to_do() {
    let cluster = Cluster::start().await;
    let admission = cluster.stack.url(Service::Admission);
    let run = cluster
        .enctl_bare(&["get", "ds", "--admission", &admission], &[])
        .await;
    let err = run.failed();
    assert!(err.starts_with("error: no credentials: "), "{err}");
    assert!(err.contains("--credentials DIR"), "{err}");
    assert!(err.contains("`enctl pki init PKI`"), "{err}");
    assert!(err.contains("--insecure"), "{err}");
    assert_eq!(run.stdout, "");

    // A credentials folder that is not one is named, with where it came from.
    let missing = cluster.dir().join("no-such-identity");
    let run = cluster
        .enctl_bare(
            &["get", "ds", "--admission", &admission],
            &[("EVERYNODE_CREDENTIALS", path(&missing))],
        )
        .await;
    assert!(
        run.failed().starts_with(&format!(
            "error: cannot use the credentials {} (from EVERYNODE_CREDENTIALS): ",
            path(&missing)
        )),
        "{run:?}"
    );
    // Plain http with credentials is refused before anything is sent.
    let plain = admission.replace("https://", "http://");
    let run = cluster.enctl(&["get", "ds", "--admission", &plain]).await;
    assert_eq!(
        run.failed(),
        format!("error: admission URL {plain}: with credentials, the URL must be https://\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auth_whoami_names_the_admin_and_the_viewer() {
    let cluster = Cluster::start().await;
    let admin = cluster.enctl(&["auth", "whoami"]).await;
    assert_eq!(
        admin.ok(),
        "ATTRIBUTE   VALUE\nUsername    admin\nGroups      [everynode:admins]\n"
    );
    assert_eq!(admin.stderr, "");
    for service in ["admission", "registry", "controller"] {
        let viewer = cluster
            .enctl_as(
                "viewer",
                &["auth", "whoami", "--service", service, "-o", "json"],
            )
            .await;
        let review: serde_json::Value = serde_json::from_str(viewer.ok()).unwrap();
        assert_eq!(review["kind"], "SelfSubjectReview", "{service}");
        assert_eq!(
            review["status"]["userInfo"],
            serde_json::json!({"username": "viewer", "groups": ["everynode:viewers"]}),
            "{service}"
        );
    }
    let yaml = cluster
        .enctl_as("viewer", &["auth", "whoami", "-o", "yaml"])
        .await;
    assert!(
        yaml.ok().contains("    username: viewer\n"),
        "{}",
        yaml.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_viewer_reads_but_may_not_delete() {
    let cluster = Cluster::start().await;
    let file = cluster.write("a.yaml", &daemon_set("a", "busybox"));
    cluster.enctl(&["apply", "-f", path(&file)]).await.ok();

    let names = cluster
        .enctl_as("viewer", &["get", "ds", "-o", "name"])
        .await;
    assert_eq!(names.ok(), "daemonset.apps/a\n");
    let denied = cluster.enctl_as("viewer", &["delete", "ds", "a"]).await;
    assert_eq!(
        denied.failed(),
        "Error from server (Forbidden): user \"viewer\" (groups: everynode:viewers) may not call everynode.v1.DaemonSets/Delete\n"
    );
    assert_eq!(denied.stdout, "");
    let denied = cluster
        .enctl_as("viewer", &["apply", "-f", path(&file)])
        .await;
    assert!(
        denied
            .failed()
            .starts_with("Error from server (Forbidden): "),
        "{denied:?}"
    );
    // Nothing was deleted.
    let still = cluster.enctl(&["get", "ds", "a", "-o", "name"]).await;
    assert_eq!(still.ok(), "daemonset.apps/a\n");
}

/// `enctl pki …` in a fresh folder (no services needed).
async fn pki(home: &Path, args: &[&str]) -> Run {
    run(bare_command(home, &[]).args(["pki"]).args(args)).await
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pki_init_writes_private_files_once() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("pki");
    let d = path(&dir);

    let first = pki(
        home.path(),
        &["init", d, "--san", "everynode.example", "--nodes", "n1,n2"],
    )
    .await;
    let out = first.ok();
    assert!(
        out.starts_with(&format!("created a PKI in {d}:\n")),
        "{out}"
    );
    for folder in [
        "admission",
        "registry",
        "controller",
        "admin",
        "viewer",
        "node-n1",
        "node-n2",
    ] {
        assert!(
            out.contains(&format!(
                "  {d}/{folder}/ (ca.crt, tls.crt, tls.key, nats.creds)\n"
            )),
            "{out}"
        );
        assert_eq!(mode(&dir.join(folder)), 0o700, "{folder}");
        for file in ["ca.crt", "tls.crt", "tls.key", "nats.creds"] {
            assert_eq!(mode(&dir.join(folder).join(file)), 0o600, "{folder}/{file}");
        }
    }
    assert_eq!(mode(&dir.join("nats")), 0o700);
    assert_eq!(mode(&dir.join("nats-server.conf")), 0o600);
    assert!(out.contains(&format!(
        "Run NATS with: nats-server -c {d}/nats-server.conf -p 4222 -js -sd STORE\n"
    )));
    assert_eq!(mode(&dir.join("ca.key")), 0o600);
    assert_eq!(mode(&dir.join("ca.crt")), 0o600);

    // Again: nothing changes, and it says so.
    let key = std::fs::read(dir.join("ca.key")).unwrap();
    let admin = std::fs::read(dir.join("admin/tls.crt")).unwrap();
    let again = pki(home.path(), &["init", d, "--nodes", "n3"]).await;
    assert_eq!(
        again.ok(),
        format!("{d} already holds a PKI: nothing was changed\n")
    );
    assert_eq!(
        again.stderr,
        format!("to add nodes to it: enctl pki node NAME {d}\n")
    );
    assert_eq!(std::fs::read(dir.join("ca.key")).unwrap(), key);
    assert_eq!(std::fs::read(dir.join("admin/tls.crt")).unwrap(), admin);
    assert!(!dir.join("node-n3").exists());

    // Wrong node names write nothing.
    let other = home.path().join("other");
    let bad = pki(home.path(), &["init", path(&other), "--nodes", "ok,Not_OK"]).await;
    assert!(
        bad.failed()
            .starts_with("error: invalid node name \"Not_OK\": "),
        "{bad:?}"
    );
    assert!(!other.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pki_init_writes_the_nats_cluster_routes_once() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("pki");
    let d = path(&dir);
    let conf_path = dir.join("nats-cluster.conf");
    let members = ["nats-0:6222", "nats-1:6222", "nats-2:6222"];

    let first = pki(
        home.path(),
        &[
            "init",
            d,
            "--nats-cluster",
            "nats-0:6222,nats-1:6222",
            "--nats-cluster",
            "nats-2:6222",
        ],
    )
    .await;
    let out = first.ok();
    assert!(
        out.contains(&format!(
            "  {d}/nats-cluster.conf (the NATS cluster's routes and route password: keep it secret)\n"
        )),
        "{out}"
    );
    assert_eq!(mode(&conf_path), 0o600);
    let conf = std::fs::read_to_string(&conf_path).unwrap();
    let password = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: \""))
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no route password in\n{conf}"));
    assert!(password.len() >= 32, "{password}");
    assert!(!out.contains(password), "the password is printed:\n{out}");
    for member in members {
        let route = format!("\"nats-route://route:{password}@{member}\"");
        assert!(conf.contains(&route), "{route} missing from\n{conf}");
    }
    assert_eq!(
        conf.matches("nats-route://").count(),
        members.len(),
        "{conf}"
    );

    // Again, with the same members (in any order) or others: the file stays as it is, and it
    // says so when the members differ.
    let again = pki(
        home.path(),
        &[
            "init",
            d,
            "--nats-cluster",
            "nats-2:6222,nats-0:6222,nats-1:6222",
        ],
    )
    .await;
    assert_eq!(
        again.ok(),
        format!("{d} already holds a PKI: nothing was changed\n")
    );
    assert_eq!(again.stderr, "");
    let other = pki(home.path(), &["init", d, "--nats-cluster", "nats-9:6222"]).await;
    assert_eq!(
        other.ok(),
        format!("{d} already holds a PKI: nothing was changed\n")
    );
    assert!(
        other.stderr.contains(&format!(
            "{d}/nats-cluster.conf was left as it is; it lists the members {}",
            members.join(",")
        )),
        "{other:?}"
    );
    assert_eq!(std::fs::read_to_string(&conf_path).unwrap(), conf);

    // A PKI made without a cluster gets the file added, with its own password.
    let plain = home.path().join("plain");
    let p = path(&plain);
    pki(home.path(), &["init", p]).await.ok();
    assert!(!plain.join("nats-cluster.conf").exists());
    let added = pki(home.path(), &["init", p, "--nats-cluster", "a:6222,b:6222"]).await;
    assert!(
        added.ok().starts_with(&format!(
            "{p} already holds a PKI; added the missing NATS files:\n  {p}/nats-cluster.conf\n"
        )),
        "{added:?}"
    );
    assert!(
        !std::fs::read_to_string(plain.join("nats-cluster.conf"))
            .unwrap()
            .contains(password)
    );

    // Bad members are named and write nothing: a malformed one is a usage error (exit 2, as
    // every flag's), one listed twice an error of the PKI (exit 1).
    let bad_dir = home.path().join("bad");
    for (bad, code, says) in [
        (
            "nats-0:6222,nats-1",
            2,
            "invalid value 'nats-1' for '--nats-cluster <HOST:PORT,...>': not host:port",
        ),
        (
            "nats-0:6222,nats 1:6222",
            2,
            "invalid value 'nats 1:6222' for '--nats-cluster",
        ),
        (
            "a:1,a:1",
            1,
            "error: invalid NATS cluster member \"a:1\": listed twice",
        ),
    ] {
        let run = pki(
            home.path(),
            &["init", path(&bad_dir), "--nats-cluster", bad],
        )
        .await;
        assert_eq!(run.code, code, "{bad}: {run:?}");
        assert!(run.stderr.contains(says), "{bad}: {run:?}");
        assert!(!bad_dir.exists(), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pki_node_adds_one_identity() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("pki");
    let d = path(&dir);
    let missing = pki(home.path(), &["node", "n1", d]).await;
    assert_eq!(
        missing.failed(),
        format!("error: {d} holds no PKI; create one with `enctl pki init {d}`\n")
    );
    pki(home.path(), &["init", d]).await.ok();

    let added = pki(home.path(), &["node", "n1", d, "--validity", "30d"]).await;
    assert_eq!(
        added.ok(),
        format!(
            "created node n1's identity:\n  {d}/node-n1/ (ca.crt, tls.crt, tls.key, nats.creds)\nStart its agent with --credentials {d}/node-n1.\n"
        )
    );
    for file in ["ca.crt", "tls.crt", "tls.key"] {
        assert_eq!(mode(&dir.join("node-n1").join(file)), 0o600, "{file}");
    }
    let cert = std::fs::read(dir.join("node-n1/tls.crt")).unwrap();
    let again = pki(home.path(), &["node", "n1", d]).await;
    assert_eq!(
        again.ok(),
        format!("{d}/node-n1 already exists: nothing was changed\n")
    );
    assert_eq!(std::fs::read(dir.join("node-n1/tls.crt")).unwrap(), cert);

    for bad in ["N1", "a_b", "x-", "a..b"] {
        let run = pki(home.path(), &["node", bad, d]).await;
        assert!(
            run.failed()
                .starts_with(&format!("error: invalid node name {bad:?}: ")),
            "{run:?}"
        );
    }
}

#[tokio::test]
async fn token_create_prints_a_token_an_agent_joins_with() {
    let mut cluster = Cluster::start_signing().await;
    let out = cluster
        .enctl(&["token", "create", "--ttl", "10m", "--description", "rack 4"])
        .await;
    let token = out.ok().trim().to_string();
    let (id, secret) = token.split_once('.').expect("<id>.<secret>");
    assert_eq!((id.len(), secret.len()), (6, 16), "{token}");
    assert!(
        token
            .chars()
            .all(|c| c == '.' || c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{token}"
    );
    // A viewer may not make tokens.
    let denied = cluster.enctl_as("viewer", &["token", "create"]).await;
    assert!(denied.failed().contains("Forbidden"), "{denied:?}");

    // An agent with only the token and the CA certificate joins.
    let ca_cert = cluster.stack.pki().dir().join("ca.crt");
    let mut config = cluster.stack.agent_config("joiner");
    config.common.security = everynode_service::SecurityArgs::default();
    config.bootstrap_token = Some(token.parse().unwrap());
    config.ca_cert = Some(ca_cert);
    cluster.stack.start_agent("joiner", config).await;
    cluster.stack.wait_nodes(&["joiner".to_string()]).await;
    let nodes = cluster.enctl(&["get", "nodes", "-o", "name"]).await;
    assert!(nodes.ok().contains("node/joiner"), "{nodes:?}");
}
