//! The wire contract of `everynode.v1`, black-box: every RPC of every service called through
//! grpcurl (the real binary, through server reflection, with proto3 JSON), against the real
//! services running in this process on a real nats-server.
//!
//! What is checked is what a client sees: the services reflection lists, the exact RPC names
//! of each service, the proto3 JSON names of responses (`metadata.resourceVersion`,
//! `spec.template.spec.nodeSelector`, `status.numberReady`, `daemonSet`, `items`, …) and the
//! gRPC status codes of errors (`Code: NotFound`, `InvalidArgument`, `AlreadyExists`,
//! `Aborted`, …, with a non-zero exit). Server-streaming RPCs are read from a background
//! grpcurl until the expected events arrived, then grpcurl is killed.
//!
//! Credentials are on, as in production: grpcurl presents the admin identity of the test's
//! PKI (`-cacert`, `-cert`, `-key`) to every address of the test's stack ([`credentials_for`]).
//!
//! grpcurl is taken from `.tools/venv/bin` (installed by `scripts/test`) or the `PATH`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use everynode_testkit::{Service, Stack, eventually};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// How long a condition (or a watch event) gets.
const WAIT: Duration = Duration::from_secs(20);

/// The RPCs of each service, exactly: a renamed, added or removed RPC fails the test.
const SERVICES: &[(&str, &[&str])] = &[
    (
        "everynode.v1.DaemonSets",
        &[
            "Create",
            "Get",
            "List",
            "Update",
            "UpdateStatus",
            "Delete",
            "Watch",
        ],
    ),
    (
        "everynode.v1.Nodes",
        &[
            "Register",
            "Heartbeat",
            "Get",
            "List",
            "Watch",
            "Update",
            "Delete",
        ],
    ),
    ("everynode.v1.Pods", &["Get", "List", "Watch", "Delete"]),
    ("everynode.v1.Endpoints", &["List", "Watch"]),
    ("everynode.v1.Auth", &["WhoAmI"]),
    ("everynode.v1.Bootstrap", &["CreateToken", "SignNode"]),
];

// ---------------------------------------------------------------------------------------------
// grpcurl

fn grpcurl_binary() -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/grpcurl");
    if local.exists() {
        return local;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("grpcurl"))
                .find(|p| p.exists())
        })
        .expect("grpcurl not found: run scripts/test, which installs it into .tools/venv")
}

/// The identity folder grpcurl presents to each address (every test's stack has its own ports
/// and its own PKI).
static CREDENTIALS: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// grpcurl will present the admin identity of `stack`'s PKI to every service of `stack`.
fn credentials_for(stack: &Stack) {
    let admin = stack.pki().folder("admin");
    let mut all = CREDENTIALS.lock().unwrap_or_else(PoisonError::into_inner);
    let all = all.get_or_insert_with(HashMap::new);
    for service in stack.services() {
        all.insert(stack.addr(service).to_string(), admin.clone());
    }
}

/// `args` with the TLS flags for the address among them.
fn with_tls(args: &[&str]) -> Vec<String> {
    let all = CREDENTIALS.lock().unwrap_or_else(PoisonError::into_inner);
    let folder = args
        .iter()
        .find_map(|a| all.as_ref().and_then(|all| all.get(*a)))
        .unwrap_or_else(|| {
            panic!("no credentials for any address of {args:?}: call credentials_for(&stack)")
        });
    let file = |name: &str| folder.join(name).display().to_string();
    let mut out = vec![
        "-cacert".to_string(),
        file("ca.crt"),
        "-cert".to_string(),
        file("tls.crt"),
        "-key".to_string(),
        file("tls.key"),
    ];
    out.extend(args.iter().map(|a| (*a).to_string()));
    out
}

#[derive(Debug)]
struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn grpcurl(args: &[&str]) -> Output {
    let output = tokio::process::Command::new(grpcurl_binary())
        .args(["-max-time", "10"])
        .args(with_tls(args))
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A unary call that must succeed; its JSON response.
async fn call(addr: &str, method: &str, body: Value) -> Value {
    let body = body.to_string();
    let out = grpcurl(&["-d", &body, addr, &format!("everynode.v1.{method}")]).await;
    assert!(
        out.success,
        "{method} {body} failed:\n{}{}",
        out.stdout, out.stderr
    );
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{method}: not JSON ({e}): {}", out.stdout))
}

/// A unary call that must fail with `code` (grpcurl's spelling, e.g. `NotFound`); its message.
async fn fails(addr: &str, method: &str, body: Value, code: &str) -> String {
    let body = body.to_string();
    let out = grpcurl(&["-d", &body, addr, &format!("everynode.v1.{method}")]).await;
    assert!(
        !out.success,
        "{method} {body} should fail with {code}, got:\n{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(&format!("Code: {code}\n")),
        "{method} {body} should fail with {code}, got:\n{}",
        out.stderr
    );
    out.stderr
}

/// A server-streaming call, read in the background until `done` accepts the messages so far
/// (or [`WAIT`] passes, which fails); grpcurl is then killed. Returns the messages.
async fn watch(
    addr: &str,
    method: &str,
    body: Value,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let mut child = tokio::process::Command::new(grpcurl_binary())
        .args(with_tls(&[
            "-d",
            &body.to_string(),
            addr,
            &format!("everynode.v1.{method}"),
        ]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + WAIT;
    let messages = loop {
        let messages = parse_stream(&text);
        if done(&messages) {
            break messages;
        }
        match tokio::time::timeout_at(deadline, stdout.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(_) => {
                let mut stderr = String::new();
                let _ = child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .await;
                panic!("{method}: the stream ended early: {stderr}\nsaw:\n{text}");
            }
            Err(_) => panic!("{method}: no expected events within {WAIT:?}; saw:\n{text}"),
        }
    };
    child.kill().await.unwrap();
    messages
}

/// The complete JSON documents grpcurl printed so far (a partial one at the end is left out).
fn parse_stream(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .collect()
}

/// Whether `messages` hold an event of `kind` (`ADDED`, …; in proto3 JSON the enum value's
/// full name, `WATCH_EVENT_TYPE_ADDED`) for the object (or endpoint's pod) named `name`.
fn has_event(messages: &[Value], kind: &str, name: &str) -> bool {
    let kind = format!("WATCH_EVENT_TYPE_{kind}");
    messages.iter().any(|m| {
        m["type"] == kind.as_str()
            && (m["object"]["metadata"]["name"] == name || m["endpoint"]["podName"] == name)
    })
}

fn daemon_set(name: &str, node_selector: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default", "labels": {"team": "infra"}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": node_selector,
                    "containers": [{
                        "name": "main",
                        "image": "busybox",
                        "command": ["sleep", "infinity"],
                        "ports": [{"containerPort": 9100, "hostPort": 9100}]
                    }]
                }
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The tests

/// Reflection lists every service with exactly its RPCs, and every server answers health.
#[tokio::test]
async fn reflection_lists_every_service_with_exactly_its_rpcs_and_health_serves() {
    let stack = Stack::start().await;
    credentials_for(&stack);
    let servers = [
        (
            stack.addr(Service::Admission).to_string(),
            &["everynode.v1.DaemonSets", "everynode.v1.Auth"][..],
        ),
        (
            stack.addr(Service::Registry).to_string(),
            &[
                "everynode.v1.Nodes",
                "everynode.v1.Auth",
                "everynode.v1.Bootstrap",
            ][..],
        ),
        (
            stack.addr(Service::Controller(0)).to_string(),
            &[
                "everynode.v1.Pods",
                "everynode.v1.Endpoints",
                "everynode.v1.Auth",
            ][..],
        ),
    ];
    for (addr, services) in servers {
        let addr = addr.as_str();
        let out = grpcurl(&[addr, "list"]).await;
        assert!(out.success, "list {addr}: {}", out.stderr);
        let listed: Vec<&str> = out.stdout.lines().map(str::trim).collect();
        for service in services {
            assert!(listed.contains(service), "{addr} lists {listed:?}");
        }
        assert!(listed.contains(&"grpc.health.v1.Health"), "{listed:?}");
        assert!(
            listed.contains(&"grpc.reflection.v1.ServerReflection")
                || listed.contains(&"grpc.reflection.v1alpha.ServerReflection"),
            "{listed:?}"
        );

        for service in services {
            let want = SERVICES.iter().find(|(s, _)| s == service).unwrap().1;
            let out = grpcurl(&[addr, "describe", service]).await;
            assert!(out.success, "describe {service}: {}", out.stderr);
            let mut rpcs: Vec<&str> = out
                .stdout
                .lines()
                .filter_map(|l| l.trim().strip_prefix("rpc "))
                .map(|l| l.split('(').next().unwrap().trim())
                .collect();
            let mut want = want.to_vec();
            rpcs.sort_unstable();
            want.sort_unstable();
            assert_eq!(rpcs, want, "RPCs of {service}:\n{}", out.stdout);
            // Each RPC through `list <service>` too, fully qualified.
            let out = grpcurl(&[addr, "list", service]).await;
            let mut listed: Vec<&str> = out.stdout.lines().map(str::trim).collect();
            listed.sort_unstable();
            let qualified: Vec<String> = want.iter().map(|r| format!("{service}.{r}")).collect();
            assert_eq!(listed, qualified);
        }

        let health = grpcurl(&[addr, "grpc.health.v1.Health/Check"]).await;
        assert!(health.success, "health of {addr}: {}", health.stderr);
        let health: Value = serde_json::from_str(&health.stdout).unwrap();
        assert_eq!(health["status"], "SERVING", "{addr}");
        for service in services {
            let body = json!({ "service": service }).to_string();
            let out = grpcurl(&["-d", &body, addr, "grpc.health.v1.Health/Check"]).await;
            assert!(out.success, "health of {service}: {}", out.stderr);
            let health: Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(health["status"], "SERVING", "{service}");
        }
    }
}

/// everynode.v1.DaemonSets: Create, Get, List, Update, UpdateStatus, Delete, Watch.
#[tokio::test]
async fn daemon_sets_speak_proto3_json_and_grpc_codes() {
    let stack = Stack::builder().controllers(0).start().await;
    credentials_for(&stack);
    let addr = &stack.addr(Service::Admission).to_string();

    // Create: the response is `daemonSet`, defaulted, with proto3 JSON names.
    let created = call(
        addr,
        "DaemonSets/Create",
        json!({"daemonSet": daemon_set("shipper", json!({"disk": "ssd"}))}),
    )
    .await;
    let ds = &created["daemonSet"];
    assert_eq!(ds["metadata"]["name"], "shipper");
    assert!(ds["metadata"]["resourceVersion"].is_string(), "{ds}");
    assert!(ds["metadata"]["uid"].is_string(), "{ds}");
    assert!(ds["metadata"]["creationTimestamp"].is_string(), "{ds}");
    assert_eq!(
        ds["metadata"]["generation"], "1",
        "int64 is a JSON string: {ds}"
    );
    assert_eq!(
        ds["spec"]["template"]["spec"]["nodeSelector"]["disk"],
        "ssd"
    );
    assert_eq!(ds["spec"]["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(ds["spec"]["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(
        ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        1
    );
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        9100
    );
    assert!(ds.get("daemon_set").is_none() && created.get("daemon_set").is_none());

    // Create again: AlreadyExists.
    fails(
        addr,
        "DaemonSets/Create",
        json!({"daemonSet": daemon_set("shipper", json!({}))}),
        "AlreadyExists",
    )
    .await;

    // Create invalid: InvalidArgument naming the field path.
    let mut bad = daemon_set("broken", json!({}));
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
    bad["spec"]["template"]["metadata"]["labels"]["app"] = json!("other");
    let message = fails(
        addr,
        "DaemonSets/Create",
        json!({ "daemonSet": bad }),
        "InvalidArgument",
    )
    .await;
    assert!(
        message.contains("spec.template.spec.containers[0].image"),
        "{message}"
    );
    assert!(
        message.contains("spec.template.metadata.labels"),
        "{message}"
    );

    // Create with dryRun: validated and defaulted, not stored.
    let dry = call(
        addr,
        "DaemonSets/Create",
        json!({"daemonSet": daemon_set("dry", json!({})), "dryRun": true}),
    )
    .await;
    assert_eq!(dry["daemonSet"]["metadata"]["name"], "dry");
    fails(
        addr,
        "DaemonSets/Get",
        json!({"namespace": "default", "name": "dry"}),
        "NotFound",
    )
    .await;

    // Get.
    let got = call(
        addr,
        "DaemonSets/Get",
        json!({"namespace": "default", "name": "shipper"}),
    )
    .await;
    assert_eq!(got["daemonSet"]["metadata"]["uid"], ds["metadata"]["uid"]);
    let message = fails(
        addr,
        "DaemonSets/Get",
        json!({"namespace": "default", "name": "nope"}),
        "NotFound",
    )
    .await;
    assert!(message.contains("nope"), "{message}");

    // List, with a label selector; `items` and `resourceVersion`.
    call(
        addr,
        "DaemonSets/Create",
        json!({"daemonSet": {
            "metadata": {"name": "exporter", "namespace": "default", "labels": {"team": "obs"}},
            "spec": {
                "selector": {"matchLabels": {"app": "exporter"}},
                "template": {
                    "metadata": {"labels": {"app": "exporter"}},
                    "spec": {"containers": [{"name": "main", "image": "exporter"}]}
                }
            }
        }}),
    )
    .await;
    let all = call(addr, "DaemonSets/List", json!({})).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    assert!(all["resourceVersion"].is_string(), "{all}");
    let infra = call(
        addr,
        "DaemonSets/List",
        json!({"labelSelector": "team=infra"}),
    )
    .await;
    let names: Vec<&Value> = infra["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["metadata"]["name"])
        .collect();
    assert_eq!(names, [&json!("shipper")]);
    let none = call(
        addr,
        "DaemonSets/List",
        json!({"labelSelector": "team=none"}),
    )
    .await;
    assert!(
        none.get("items")
            .is_none_or(|i| i.as_array().unwrap().is_empty()),
        "{none}"
    );
    fails(
        addr,
        "DaemonSets/List",
        json!({"labelSelector": "team in ("}),
        "InvalidArgument",
    )
    .await;

    // Watch from the start: ADDED for both.
    let events = watch(addr, "DaemonSets/Watch", json!({}), |m| {
        has_event(m, "ADDED", "shipper") && has_event(m, "ADDED", "exporter")
    })
    .await;
    assert!(events.iter().all(|e| e["object"]["metadata"].is_object()));

    // Update with the current resourceVersion: a new generation.
    let mut changed = got["daemonSet"].clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:2");
    let updated = call(addr, "DaemonSets/Update", json!({ "daemonSet": changed })).await;
    assert_eq!(updated["daemonSet"]["metadata"]["generation"], "2");
    assert_ne!(
        updated["daemonSet"]["metadata"]["resourceVersion"],
        got["daemonSet"]["metadata"]["resourceVersion"]
    );
    // Update with the stale resourceVersion: Aborted.
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:3");
    fails(
        addr,
        "DaemonSets/Update",
        json!({ "daemonSet": changed }),
        "Aborted",
    )
    .await;
    // Update of something absent: NotFound.
    let mut absent = updated["daemonSet"].clone();
    absent["metadata"]["name"] = json!("absent");
    fails(
        addr,
        "DaemonSets/Update",
        json!({ "daemonSet": absent }),
        "NotFound",
    )
    .await;

    // UpdateStatus: the status is written under proto3 JSON names, the spec is not touched.
    let mut with_status = updated["daemonSet"].clone();
    with_status["status"] = json!({
        "observedGeneration": "2",
        "desiredNumberScheduled": 3,
        "currentNumberScheduled": 3,
        "numberReady": 2,
        "numberAvailable": 2,
        "updatedNumberScheduled": 3,
    });
    with_status["spec"]["template"]["spec"]["containers"][0]["image"] = json!("ignored");
    let status = call(
        addr,
        "DaemonSets/UpdateStatus",
        json!({ "daemonSet": with_status }),
    )
    .await;
    assert_eq!(status["daemonSet"]["status"]["numberReady"], 2, "{status}");
    assert_eq!(status["daemonSet"]["status"]["desiredNumberScheduled"], 3);
    let after = call(
        addr,
        "DaemonSets/Get",
        json!({"namespace": "default", "name": "shipper"}),
    )
    .await;
    assert_eq!(after["daemonSet"]["status"]["numberReady"], 2);
    assert_eq!(
        after["daemonSet"]["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:2"
    );
    // The stale version again: Aborted.
    fails(
        addr,
        "DaemonSets/UpdateStatus",
        json!({ "daemonSet": with_status }),
        "Aborted",
    )
    .await;

    // Watch from a resourceVersion: the deletion comes as DELETED.
    let version = call(addr, "DaemonSets/List", json!({})).await["resourceVersion"].clone();
    let deleted = call(
        addr,
        "DaemonSets/Delete",
        json!({"namespace": "default", "name": "exporter", "propagationPolicy": "PROPAGATION_POLICY_BACKGROUND"}),
    )
    .await;
    assert_eq!(deleted["daemonSet"]["metadata"]["name"], "exporter");
    let events = watch(
        addr,
        "DaemonSets/Watch",
        json!({ "resourceVersion": version }),
        |m| has_event(m, "DELETED", "exporter"),
    )
    .await;
    assert!(!has_event(&events, "ADDED", "shipper"), "{events:?}");

    // Delete: NotFound for what is gone; a precondition on a wrong uid fails.
    fails(
        addr,
        "DaemonSets/Delete",
        json!({"namespace": "default", "name": "exporter"}),
        "NotFound",
    )
    .await;
    let out = grpcurl(&[
        "-d",
        &json!({"namespace": "default", "name": "shipper", "uid": "wrong"}).to_string(),
        addr,
        "everynode.v1.DaemonSets/Delete",
    ])
    .await;
    assert!(!out.success, "{}", out.stdout);
    assert!(
        [
            "Code: Aborted",
            "Code: FailedPrecondition",
            "Code: NotFound"
        ]
        .iter()
        .any(|c| out.stderr.contains(c)),
        "{}",
        out.stderr
    );
    call(
        addr,
        "DaemonSets/Delete",
        json!({"namespace": "default", "name": "shipper"}),
    )
    .await;
}

/// everynode.v1.Nodes: Register, Heartbeat, Get, List, Update, Watch, Delete.
#[tokio::test]
async fn nodes_speak_proto3_json_and_grpc_codes() {
    let stack = Stack::builder().controllers(0).start().await;
    credentials_for(&stack);
    let addr = &stack.addr(Service::Registry).to_string();

    let registered = call(
        addr,
        "Nodes/Register",
        json!({"node": {
            "metadata": {"name": "n1", "labels": {"zone": "a"}},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "192.0.2.1"}],
                "capacity": {"cpu": "4", "memory": "8Gi"}
            }
        }}),
    )
    .await;
    assert_eq!(registered["node"]["metadata"]["name"], "n1");
    assert!(registered["node"]["metadata"]["resourceVersion"].is_string());
    assert!(
        registered["heartbeatInterval"]
            .as_str()
            .is_some_and(|d| d.ends_with('s')),
        "a Duration is a JSON string like \"5s\": {registered}"
    );
    call(
        addr,
        "Nodes/Register",
        json!({"node": {"metadata": {"name": "n2", "labels": {"zone": "b"}}}}),
    )
    .await;
    fails(
        addr,
        "Nodes/Register",
        json!({"node": {"metadata": {"name": "Not A Name"}}}),
        "InvalidArgument",
    )
    .await;

    // Heartbeat.
    let beat = call(addr, "Nodes/Heartbeat", json!({"name": "n1"})).await;
    assert!(beat["heartbeatInterval"].is_string(), "{beat}");
    fails(
        addr,
        "Nodes/Heartbeat",
        json!({"name": "ghost"}),
        "NotFound",
    )
    .await;

    // Get.
    let got = call(addr, "Nodes/Get", json!({"name": "n1"})).await;
    assert_eq!(got["node"]["metadata"]["labels"]["zone"], "a");
    assert_eq!(
        got["node"]["status"]["addresses"][0]["address"],
        "192.0.2.1"
    );
    fails(addr, "Nodes/Get", json!({"name": "ghost"}), "NotFound").await;

    // List with a label selector.
    let all = call(addr, "Nodes/List", json!({})).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all}");
    assert!(all["resourceVersion"].is_string(), "{all}");
    let zone_b = call(addr, "Nodes/List", json!({"labelSelector": "zone=b"})).await;
    let names: Vec<&Value> = zone_b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["metadata"]["name"])
        .collect();
    assert_eq!(names, [&json!("n2")]);
    fails(
        addr,
        "Nodes/List",
        json!({"labelSelector": "zone in ("}),
        "InvalidArgument",
    )
    .await;

    // Watch: ADDED for both registered nodes.
    let events = watch(addr, "Nodes/Watch", json!({}), |m| {
        has_event(m, "ADDED", "n1") && has_event(m, "ADDED", "n2")
    })
    .await;
    assert!(!events.is_empty());

    // Update: a label, a taint, cordon.
    let updated = call(
        addr,
        "Nodes/Update",
        json!({
            "name": "n1",
            "setLabels": {"disk": "ssd"},
            "addTaints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
            "unschedulable": true
        }),
    )
    .await;
    let node = &updated["node"];
    assert_eq!(node["metadata"]["labels"]["disk"], "ssd", "{node}");
    assert_eq!(node["spec"]["unschedulable"], true, "{node}");
    let taints = node["spec"]["taints"].as_array().unwrap();
    assert!(
        taints
            .iter()
            .any(|t| t["key"] == "dedicated" && t["value"] == "db" && t["effect"] == "NoSchedule"),
        "{node}"
    );
    // Changing an existing label without overwrite: refused (kubectl label's rule).
    fails(
        addr,
        "Nodes/Update",
        json!({"name": "n1", "setLabels": {"zone": "z"}}),
        "FailedPrecondition",
    )
    .await;
    fails(
        addr,
        "Nodes/Update",
        json!({"name": "n1", "addTaints": [{"key": "k", "effect": "Sometimes"}]}),
        "InvalidArgument",
    )
    .await;
    fails(
        addr,
        "Nodes/Update",
        json!({"name": "ghost", "setLabels": {"a": "b"}}),
        "NotFound",
    )
    .await;
    // A stale resourceVersion: Aborted.
    fails(
        addr,
        "Nodes/Update",
        json!({
            "name": "n1",
            "resourceVersion": got["node"]["metadata"]["resourceVersion"],
            "removeLabels": ["disk"]
        }),
        "Aborted",
    )
    .await;
    // Undo: remove label and taint, uncordon.
    let undone = call(
        addr,
        "Nodes/Update",
        json!({
            "name": "n1",
            "removeLabels": ["disk"],
            "removeTaints": [{"key": "dedicated"}],
            "unschedulable": false
        }),
    )
    .await;
    let node = &undone["node"];
    assert!(node["metadata"]["labels"].get("disk").is_none(), "{node}");
    assert!(
        node["spec"]["unschedulable"].is_null() || node["spec"]["unschedulable"] == false,
        "{node}"
    );

    // Delete, seen by a watch from a resourceVersion.
    let version = call(addr, "Nodes/List", json!({})).await["resourceVersion"].clone();
    let deleted = call(addr, "Nodes/Delete", json!({"name": "n2"})).await;
    assert_eq!(deleted["node"]["metadata"]["name"], "n2");
    watch(
        addr,
        "Nodes/Watch",
        json!({ "resourceVersion": version }),
        |m| has_event(m, "DELETED", "n2"),
    )
    .await;
    fails(addr, "Nodes/Delete", json!({"name": "n2"}), "NotFound").await;
    fails(addr, "Nodes/Get", json!({"name": "n2"}), "NotFound").await;
}

/// everynode.v1.Pods and everynode.v1.Endpoints, with a fake-agent node running a DaemonSet's
/// pod.
#[tokio::test]
async fn pods_and_endpoints_speak_proto3_json_and_grpc_codes() {
    let mut stack = Stack::start().await;
    credentials_for(&stack);
    stack
        .agent_with("worker", |config| {
            config.labels.0 = [("disk".to_string(), "ssd".to_string())].into();
        })
        .await;
    let admission = stack.addr(Service::Admission).to_string();
    let controller = stack.addr(Service::Controller(0)).to_string();
    let addr = controller.as_str();

    call(
        &admission,
        "DaemonSets/Create",
        json!({"daemonSet": daemon_set("exporter", json!({"disk": "ssd"}))}),
    )
    .await;

    // Pods.List by label selector: one running pod, on the node, with proto3 JSON names.
    let pod = eventually("a running, ready exporter pod", WAIT, || {
        let addr = addr.to_string();
        async move {
            let list = call(&addr, "Pods/List", json!({"labelSelector": "app=exporter"})).await;
            let pod = list["items"]
                .as_array()
                .and_then(|items| items.first())
                .cloned()
                .ok_or(format!("no pod yet: {list}"))?;
            let ready = pod["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            if pod["status"]["phase"] == "Running" && ready {
                Ok((pod, list))
            } else {
                Err(format!("not running and ready: {pod}"))
            }
        }
    })
    .await;
    let (pod, list) = pod;
    assert!(list["resourceVersion"].is_string(), "{list}");
    assert_eq!(pod["spec"]["nodeName"], "worker", "{pod}");
    assert_eq!(pod["metadata"]["namespace"], "default");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
    assert!(pod["metadata"]["resourceVersion"].is_string(), "{pod}");
    assert!(pod["status"]["podIP"].is_string(), "{pod}");
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();

    let by_node = call(addr, "Pods/List", json!({"nodeName": "worker"})).await;
    assert_eq!(by_node["items"].as_array().unwrap().len(), 1, "{by_node}");
    let elsewhere = call(addr, "Pods/List", json!({"nodeName": "nowhere"})).await;
    assert!(
        elsewhere
            .get("items")
            .is_none_or(|i| i.as_array().unwrap().is_empty()),
        "{elsewhere}"
    );
    fails(
        addr,
        "Pods/List",
        json!({"labelSelector": "app in ("}),
        "InvalidArgument",
    )
    .await;

    // Pods.Get.
    let got = call(
        addr,
        "Pods/Get",
        json!({"namespace": "default", "name": name}),
    )
    .await;
    assert_eq!(got["pod"]["metadata"]["uid"], pod["metadata"]["uid"]);
    fails(
        addr,
        "Pods/Get",
        json!({"namespace": "default", "name": "exporter-nope"}),
        "NotFound",
    )
    .await;

    // The DaemonSet's status, as the controller wrote it, in proto3 JSON.
    eventually("status.numberReady = 1", WAIT, || {
        let admission = admission.clone();
        async move {
            let ds = call(
                &admission,
                "DaemonSets/Get",
                json!({"namespace": "default", "name": "exporter"}),
            )
            .await;
            let status = &ds["daemonSet"]["status"];
            if status["numberReady"] == 1 && status["desiredNumberScheduled"] == 1 {
                Ok(())
            } else {
                Err(format!("status {status}"))
            }
        }
    })
    .await;

    // Endpoints.List: the ready pod, its node, addresses and ports.
    let endpoints = eventually("an endpoint for the pod", WAIT, || {
        let addr = addr.to_string();
        async move {
            let list = call(
                &addr,
                "Endpoints/List",
                json!({"namespace": "default", "name": "exporter"}),
            )
            .await;
            if list["endpoints"][0]["ready"] == true {
                Ok(list)
            } else {
                Err(format!("{list}"))
            }
        }
    })
    .await;
    let endpoint = &endpoints["endpoints"][0];
    assert_eq!(endpoint["podName"], name.as_str(), "{endpoint}");
    assert_eq!(endpoint["nodeName"], "worker");
    assert!(
        endpoint["addresses"][0]["address"].is_string(),
        "{endpoint}"
    );
    assert_eq!(endpoint["ports"][0]["hostPort"], 9100, "{endpoint}");
    assert_eq!(endpoint["ports"][0]["containerPort"], 9100, "{endpoint}");
    assert_eq!(endpoint["ports"][0]["container"], "main");
    fails(
        addr,
        "Endpoints/List",
        json!({"namespace": "default", "name": "nope"}),
        "NotFound",
    )
    .await;

    // Watches: ADDED for the pod and its endpoint.
    let events = watch(
        addr,
        "Pods/Watch",
        json!({"labelSelector": "app=exporter"}),
        |m| has_event(m, "ADDED", &name),
    )
    .await;
    assert!(
        events
            .iter()
            .all(|e| e["object"]["metadata"]["name"].is_string())
    );
    watch(
        addr,
        "Endpoints/Watch",
        json!({"namespace": "default", "name": "exporter"}),
        |m| has_event(m, "ADDED", &name),
    )
    .await;

    // Pods.Delete: the pod is deleted (and replaced by the controller); gone means NotFound.
    let deleted = call(
        addr,
        "Pods/Delete",
        json!({"namespace": "default", "name": name, "gracePeriodSeconds": "0"}),
    )
    .await;
    assert_eq!(deleted["pod"]["metadata"]["name"], name.as_str());
    let uid = pod["metadata"]["uid"].clone();
    eventually("the deleted pod to be gone", WAIT, || {
        let addr = addr.to_string();
        let uid = uid.clone();
        async move {
            let list = call(&addr, "Pods/List", json!({"labelSelector": "app=exporter"})).await;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.iter().any(|p| p["metadata"]["uid"] == uid) {
                Err(format!("{list}"))
            } else {
                Ok(())
            }
        }
    })
    .await;
    // The name may be reused by the replacement, the uid is not.
    let out = grpcurl(&[
        "-d",
        &json!({"namespace": "default", "name": name}).to_string(),
        addr,
        "everynode.v1.Pods/Get",
    ])
    .await;
    if out.success {
        let again: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_ne!(again["pod"]["metadata"]["uid"], uid, "{again}");
    } else {
        assert!(out.stderr.contains("Code: NotFound\n"), "{}", out.stderr);
    }
    fails(
        addr,
        "Pods/Delete",
        json!({"namespace": "default", "name": "exporter-nope"}),
        "NotFound",
    )
    .await;
}
