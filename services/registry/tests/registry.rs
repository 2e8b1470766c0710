#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The registry against a real nats-server, over a real socket with a tonic client: the node
//! lifecycle and its exact event sequence, re-registration, validation with field paths,
//! optimistic concurrency, watch from a resourceVersion, restarts with a lease grace period,
//! and two replicas sharing heartbeats.
//!
//! Lease durations are short (`--not-ready-after 1s`, `--remove-after 3s`) and every wait is on
//! a condition: the next event on the stream, or a state read back. The only sleeps arrange a
//! scenario (a registry outage, a stretch of heartbeats) whose effects are then checked on the
//! exact event sequence.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use everynode_api::v1::{self, NodeEventType as E, nodes_client::NodesClient};
use everynode_bus::async_nats::jetstream::{self, consumer};
use everynode_bus::names::{EVENTS_STREAM, NODE_EVENTS_ALL};
use everynode_registry::Config;
use everynode_testkit::pki::TestPki;
use everynode_testkit::{NatsServer, Served};
use futures::StreamExt;
use futures::stream::BoxStream;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// Bound for anything that should happen promptly.
const WAIT: Duration = Duration::from_secs(15);
const NOT_READY_AFTER: Duration = Duration::from_secs(1);
const REMOVE_AFTER: Duration = Duration::from_secs(3);
/// How often the test agents heartbeat (well within `NOT_READY_AFTER`).
const BEAT: Duration = Duration::from_millis(150);

/// One registry on a free port with its own PKI, stopped on drop.
struct Registry(Served<anyhow::Error>, TestPki);

fn config(nats: &NatsServer, remove_after: Duration) -> Config {
    let mut config = Config::for_nats(&nats.url());
    config.not_ready_after = NOT_READY_AFTER;
    config.remove_after = remove_after;
    config
}

impl Registry {
    async fn start(nats: &NatsServer) -> Self {
        Self::start_with(nats, config(nats, REMOVE_AFTER)).await
    }

    async fn start_with(nats: &NatsServer, mut config: Config) -> Self {
        let pki = TestPki::new();
        config.common.security = pki.credentials("registry");
        let client = everynode_bus::connect(&nats.url(), "registry-test")
            .await
            .unwrap();
        Self(
            Served::start("the registry", |listener, shutdown| {
                everynode_registry::run(config, listener, client, shutdown)
            })
            .await,
            pki,
        )
    }

    async fn client(&self) -> NodesClient<Channel> {
        NodesClient::new(self.0.channel(&self.1, "admin").await)
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

/// The node events on the stream, from the beginning, in order.
struct Events {
    messages: BoxStream<'static, Result<v1::NodeEvent, String>>,
}

impl Events {
    async fn start(nats: &NatsServer) -> Self {
        let js = jetstream::new(everynode_bus::connect(&nats.url(), "events").await.unwrap());
        everynode_bus::Bus::ensure(&js, 1).await.unwrap();
        let stream = js.get_stream(EVENTS_STREAM).await.unwrap();
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: NODE_EVENTS_ALL.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap();
        let messages = consumer
            .messages()
            .await
            .unwrap()
            .map(|m| {
                let m = m.map_err(|e| e.to_string())?;
                v1::NodeEvent::decode(m.payload.as_ref()).map_err(|e| e.to_string())
            })
            .boxed();
        Self { messages }
    }

    async fn next(&mut self) -> v1::NodeEvent {
        tokio::time::timeout(WAIT, self.messages.next())
            .await
            .expect("a node event within the wait")
            .expect("the event stream is open")
            .expect("a decodable node event")
    }

    /// Reads the next events and checks they are exactly `expected` (type and node), in order.
    async fn expect(&mut self, expected: &[(E, &str)]) -> Vec<v1::NodeEvent> {
        let mut seen = Vec::new();
        for (i, (kind, name)) in expected.iter().enumerate() {
            let event = self.next().await;
            let got = (event.r#type(), node_name(event.node.as_ref().unwrap()));
            assert_eq!(
                (got.0, got.1.as_str()),
                (*kind, *name),
                "event #{i}: expected {expected:?}, got so far {:?} then {got:?}",
                summary(&seen)
            );
            seen.push(event);
        }
        seen
    }

    /// Proves no other event was published before this point: registers a marker node and
    /// expects its ADDED to be the very next event.
    async fn expect_nothing_more(&mut self, client: &mut NodesClient<Channel>) {
        let marker = format!("marker-{}", uuid::Uuid::new_v4().simple());
        register(client, node(&marker, &[])).await;
        self.expect(&[(E::Added, &marker)]).await;
    }
}

fn summary(events: &[v1::NodeEvent]) -> Vec<(E, String)> {
    events
        .iter()
        .map(|e| (e.r#type(), node_name(e.node.as_ref().unwrap())))
        .collect()
}

fn node_name(node: &v1::Node) -> String {
    node.metadata.as_ref().unwrap().name.clone()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A node as an agent announces it.
fn node(name: &str, node_labels: &[(&str, &str)]) -> v1::Node {
    v1::Node {
        metadata: Some(v1::ObjectMeta {
            name: name.into(),
            labels: labels(node_labels),
            ..Default::default()
        }),
        status: Some(v1::NodeStatus {
            capacity: labels(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]),
            addresses: vec![v1::NodeAddress {
                r#type: "InternalIP".into(),
                address: "10.0.0.1".into(),
            }],
            node_info: Some(v1::NodeSystemInfo {
                boot_id: "boot-1".into(),
                operating_system: "linux".into(),
                architecture: "amd64".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn register(client: &mut NodesClient<Channel>, node: v1::Node) -> v1::NodesRegisterResponse {
    client
        .register(v1::NodesRegisterRequest { node: Some(node) })
        .await
        .unwrap()
        .into_inner()
}

async fn heartbeat(client: &mut NodesClient<Channel>, name: &str) -> Result<(), tonic::Status> {
    client
        .heartbeat(v1::NodesHeartbeatRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .map(|_| ())
}

async fn get(client: &mut NodesClient<Channel>, name: &str) -> Result<v1::Node, tonic::Status> {
    client
        .get(v1::NodesGetRequest { name: name.into() })
        .await
        .map(|r| r.into_inner().node.unwrap())
}

async fn update(
    client: &mut NodesClient<Channel>,
    request: v1::NodesUpdateRequest,
) -> Result<v1::Node, tonic::Status> {
    client
        .update(request)
        .await
        .map(|r| r.into_inner().node.unwrap())
}

fn taint(key: &str, value: &str, effect: &str) -> v1::Taint {
    v1::Taint {
        key: key.into(),
        value: value.into(),
        effect: effect.into(),
        time_added: None,
    }
}

fn ready(node: &v1::Node) -> (String, String) {
    let condition = node
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.r#type == "Ready")
        .expect("a Ready condition");
    (condition.status.clone(), condition.reason.clone())
}

fn taint_keys(node: &v1::Node) -> Vec<(String, String)> {
    node.spec
        .as_ref()
        .map(|s| {
            s.taints
                .iter()
                .map(|t| (t.key.clone(), t.effect.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn resource_version(node: &v1::Node) -> String {
    node.metadata.as_ref().unwrap().resource_version.clone()
}

/// Heartbeats `name` every [`BEAT`] until dropped.
struct Heartbeater(tokio::task::JoinHandle<()>);

impl Heartbeater {
    fn start(client: &NodesClient<Channel>, name: &str) -> Self {
        let mut client = client.clone();
        let name = name.to_owned();
        Self(tokio::spawn(async move {
            loop {
                heartbeat(&mut client, &name).await.unwrap();
                tokio::time::sleep(BEAT).await;
            }
        }))
    }
}

impl Drop for Heartbeater {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

#[tokio::test]
async fn a_node_lives_its_whole_lifecycle_with_exactly_one_event_per_change() {
    let nats = NatsServer::start().await.unwrap();
    let mut events = Events::start(&nats).await;
    let registry = Registry::start(&nats).await;
    let mut client = registry.client().await;

    let registered = register(&mut client, node("n1", &[("kubernetes.io/os", "linux")])).await;
    assert_eq!(
        registered.heartbeat_interval,
        Some(prost_types::Duration {
            seconds: 0,
            nanos: 333_333_333
        }),
        "a third of --not-ready-after"
    );
    assert_eq!(ready(registered.node.as_ref().unwrap()).0, "True");
    let beats = Heartbeater::start(&client, "n1");

    update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            set_labels: labels(&[("zone", "a")]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            add_taints: vec![taint("dedicated", "infra", "NoSchedule")],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            unschedulable: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let seen = events
        .expect(&[
            (E::Added, "n1"),
            (E::Relabeled, "n1"),
            (E::Tainted, "n1"),
            (E::Cordoned, "n1"),
        ])
        .await;
    assert_eq!(seen[1].old_labels, labels(&[("kubernetes.io/os", "linux")]));
    assert_eq!(
        seen[1].new_labels,
        labels(&[("kubernetes.io/os", "linux"), ("zone", "a")])
    );
    assert!(seen[2].old_taints.is_empty());
    assert_eq!(
        seen[2].new_taints,
        vec![taint("dedicated", "infra", "NoSchedule")]
    );

    // The agent goes quiet: NotReady, with the unreachable taints.
    drop(beats);
    let lost = events
        .expect(&[(E::NotReady, "n1"), (E::Tainted, "n1")])
        .await;
    assert_eq!(
        lost[0].revision, lost[1].revision,
        "one write, two kinds of change"
    );
    let stored = get(&mut client, "n1").await.unwrap();
    assert_eq!(
        ready(&stored),
        ("Unknown".into(), "NodeStatusUnknown".into())
    );
    assert_eq!(
        taint_keys(&stored),
        [
            ("dedicated".into(), "NoSchedule".into()),
            (UNREACHABLE.into(), "NoSchedule".into()),
            (UNREACHABLE.into(), "NoExecute".into()),
        ]
    );
    let no_execute = &stored.spec.as_ref().unwrap().taints[2];
    assert!(
        no_execute.time_added.is_some(),
        "NoExecute taints carry timeAdded"
    );
    assert_eq!(lost[1].new_taints, stored.spec.as_ref().unwrap().taints);

    // One heartbeat: Ready again, the unreachable taints gone, the operator's taint kept.
    heartbeat(&mut client, "n1").await.unwrap();
    let last_beat = Instant::now();
    events.expect(&[(E::Ready, "n1"), (E::Tainted, "n1")]).await;
    let stored = get(&mut client, "n1").await.unwrap();
    assert_eq!(ready(&stored), ("True".into(), "AgentReady".into()));
    assert_eq!(
        taint_keys(&stored),
        [("dedicated".into(), "NoSchedule".into())]
    );

    // Quiet again, now past --remove-after: NotReady, then removed.
    events
        .expect(&[(E::NotReady, "n1"), (E::Tainted, "n1"), (E::Removed, "n1")])
        .await;
    assert!(
        last_beat.elapsed() >= REMOVE_AFTER - Duration::from_millis(100),
        "removed {:?} after the last heartbeat",
        last_beat.elapsed()
    );
    assert_eq!(
        get(&mut client, "n1").await.unwrap_err().code(),
        Code::NotFound
    );
    let status = heartbeat(&mut client, "n1").await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::NotFound,
        "a removed node must register again"
    );
    events.expect_nothing_more(&mut client).await;
    registry.stop().await;
}

#[tokio::test]
async fn re_registering_publishes_only_real_changes_and_keeps_operator_changes() {
    let nats = NatsServer::start().await.unwrap();
    let mut events = Events::start(&nats).await;
    let registry = Registry::start_with(&nats, config(&nats, Duration::ZERO)).await;
    let mut client = registry.client().await;
    let agent = node("n1", &[("kubernetes.io/os", "linux"), ("tier", "a")]);

    let first = register(&mut client, agent.clone()).await.node.unwrap();
    let edited = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            set_labels: labels(&[("team", "infra")]),
            add_taints: vec![taint("dedicated", "infra", "NoExecute")],
            unschedulable: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    events
        .expect(&[
            (E::Added, "n1"),
            (E::Relabeled, "n1"),
            (E::Tainted, "n1"),
            (E::Cordoned, "n1"),
        ])
        .await;

    // The agent restarts and announces the same node: no write, no event.
    let again = register(&mut client, agent.clone()).await.node.unwrap();
    assert_eq!(resource_version(&again), resource_version(&edited));
    assert_eq!(again, edited, "operator labels, taints and cordon kept");
    assert_eq!(
        again.metadata.as_ref().unwrap().uid,
        first.metadata.as_ref().unwrap().uid
    );

    // The agent reports another label value: only RELABELED.
    let changed = node("n1", &[("kubernetes.io/os", "linux"), ("tier", "b")]);
    let relabeled = register(&mut client, changed).await.node.unwrap();
    let event = events.expect(&[(E::Relabeled, "n1")]).await;
    assert_eq!(
        relabeled.metadata.as_ref().unwrap().labels,
        labels(&[
            ("kubernetes.io/os", "linux"),
            ("team", "infra"),
            ("tier", "b")
        ])
    );
    assert_eq!(event[0].old_labels["tier"], "a");
    assert_eq!(event[0].new_labels["tier"], "b");
    events.expect_nothing_more(&mut client).await;
    registry.stop().await;
}

#[tokio::test]
async fn bad_input_is_rejected_with_field_paths() {
    let nats = NatsServer::start().await.unwrap();
    let registry = Registry::start(&nats).await;
    let mut client = registry.client().await;

    let mut bad = node("Bad_Name", &[("bad key", "v"), ("ok", "-no-")]);
    bad.spec = Some(v1::NodeSpec {
        taints: vec![taint("k", "v", "Sometimes")],
        ..Default::default()
    });
    let status = client
        .register(v1::NodesRegisterRequest { node: Some(bad) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("Node \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{}",
        status.message()
    );
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "metadata.name",
            "metadata.labels",
            "metadata.labels",
            "spec.taints[0].effect"
        ]
    );

    register(&mut client, node("n1", &[("zone", "a")])).await;
    let status = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            set_labels: labels(&[("example.com/", "x")]),
            remove_labels: vec!["-bad".into()],
            add_taints: vec![taint("", "", "")],
            remove_taints: vec![v1::TaintKey {
                key: "k".into(),
                effect: "Never".into(),
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "set_labels",
            "set_labels",
            "remove_labels[0]",
            "add_taints[0].key",
            "add_taints[0].key",
            "add_taints[0].effect",
            "remove_taints[0].effect"
        ]
    );

    // kubectl's rule: a different value for an existing key needs overwrite.
    let status = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            set_labels: labels(&[("zone", "b")]),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "'zone' already has a value (a), and --overwrite is false"
    );
    let violation = status
        .get_details_precondition_failure()
        .unwrap()
        .violations;
    assert_eq!(violation[0].subject, "set_labels[zone]");
    let overwritten = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            set_labels: labels(&[("zone", "b")]),
            overwrite: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(overwritten.metadata.unwrap().labels["zone"], "b");

    let status = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "ghost".into(),
            unschedulable: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "nodes \"ghost\" not found");
    assert_eq!(
        heartbeat(&mut client, "ghost").await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        heartbeat(&mut client, "").await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let status = client
        .list(v1::NodesListRequest {
            label_selector: "zone in (".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "label_selector"
    );
    registry.stop().await;
}

#[tokio::test]
async fn a_stale_resource_version_is_aborted() {
    let nats = NatsServer::start().await.unwrap();
    let registry = Registry::start(&nats).await;
    let mut client = registry.client().await;
    let registered = register(&mut client, node("n1", &[])).await.node.unwrap();
    let version = resource_version(&registered);

    let updated = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            resource_version: version.clone(),
            set_labels: labels(&[("zone", "a")]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_ne!(resource_version(&updated), version);

    let status = update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            resource_version: version,
            set_labels: labels(&[("zone", "b")]),
            overwrite: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert!(status.message().contains("the object has been modified"));
    let stored = get(&mut client, "n1").await.unwrap();
    assert_eq!(stored, updated, "nothing written");
    registry.stop().await;
}

#[tokio::test]
async fn list_filters_by_label_and_watch_from_a_version_sees_later_changes_in_order() {
    let nats = NatsServer::start().await.unwrap();
    let registry = Registry::start_with(&nats, config(&nats, Duration::ZERO)).await;
    let mut client = registry.client().await;
    register(&mut client, node("n1", &[("zone", "a")])).await;
    register(&mut client, node("n2", &[("zone", "b")])).await;

    let listed = client
        .list(v1::NodesListRequest {
            label_selector: "zone=a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.items.iter().map(node_name).collect::<Vec<_>>(),
        ["n1"]
    );
    let version = listed.resource_version;

    let mut all = client
        .watch(v1::NodesWatchRequest {
            label_selector: String::new(),
            resource_version: version.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut zone_a = client
        .watch(v1::NodesWatchRequest {
            label_selector: "zone=a".into(),
            resource_version: version,
        })
        .await
        .unwrap()
        .into_inner();

    update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n2".into(),
            set_labels: labels(&[("zone", "a")]),
            overwrite: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    register(&mut client, node("n3", &[("zone", "a")])).await;
    update(
        &mut client,
        v1::NodesUpdateRequest {
            name: "n1".into(),
            set_labels: labels(&[("zone", "c")]),
            overwrite: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    client
        .delete(v1::NodesDeleteRequest { name: "n2".into() })
        .await
        .unwrap();

    use v1::WatchEventType as W;
    let next = async |stream: &mut tonic::Streaming<v1::NodesWatchResponse>| {
        let event = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("a watch event within the wait")
            .unwrap()
            .unwrap();
        (event.r#type(), node_name(event.object.as_ref().unwrap()))
    };
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&mut all).await);
    }
    assert_eq!(
        seen,
        [
            (W::Modified, "n2".to_string()),
            (W::Added, "n3".to_string()),
            (W::Modified, "n1".to_string()),
            (W::Deleted, "n2".to_string()),
        ]
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&mut zone_a).await);
    }
    assert_eq!(
        seen,
        [
            (W::Added, "n2".to_string()),
            (W::Added, "n3".to_string()),
            (W::Deleted, "n1".to_string()),
            (W::Deleted, "n2".to_string()),
        ],
        "entering the selection is ADDED, leaving it DELETED"
    );

    // Without a version: the current nodes first.
    let mut fresh = client
        .watch(v1::NodesWatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut initial = vec![next(&mut fresh).await, next(&mut fresh).await];
    initial.sort();
    assert_eq!(
        initial,
        [(W::Added, "n1".to_string()), (W::Added, "n3".to_string())]
    );

    // Shutdown ends open watches with UNAVAILABLE instead of waiting the grace out.
    registry.stop().await;
    let end = tokio::time::timeout(WAIT, all.next()).await.unwrap();
    assert!(
        matches!(&end, None | Some(Err(_))),
        "the watch ended: {end:?}"
    );
}

/// The node as the agent on the machine booted as `boot_id` announces it.
fn node_booted(name: &str, boot_id: &str) -> v1::Node {
    let mut node = node(name, &[]);
    if let Some(info) = node.status.as_mut().and_then(|s| s.node_info.as_mut()) {
        info.boot_id = boot_id.into();
    }
    node
}

async fn heartbeat_as(
    client: &mut NodesClient<Channel>,
    name: &str,
    boot_id: &str,
) -> Result<(), tonic::Status> {
    client
        .heartbeat(v1::NodesHeartbeatRequest {
            name: name.into(),
            boot_id: boot_id.into(),
        })
        .await
        .map(|_| ())
}

/// Two agents may not share a node name: while the holder (boot id A) is alive, another
/// machine's agent (boot id B) is refused with ALREADY_EXISTS on register and heartbeat, and
/// the holder keeps working; once A has been silent for --not-ready-after, B takes the node
/// over and A, coming back, is the one refused.
#[tokio::test]
async fn a_second_agent_cannot_take_a_live_node_name() {
    let nats = NatsServer::start().await.unwrap();
    let registry = Registry::start(&nats).await;
    let mut client = registry.client().await;
    register(&mut client, node_booted("shared", "boot-a")).await;
    heartbeat_as(&mut client, "shared", "boot-a").await.unwrap();

    let refused = client
        .register(v1::NodesRegisterRequest {
            node: Some(node_booted("shared", "boot-b")),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    for words in ["\"shared\"", "\"boot-a\"", "\"boot-b\"", "live agent"] {
        assert!(refused.message().contains(words), "{words} in {refused:?}");
    }
    let refused = heartbeat_as(&mut client, "shared", "boot-b")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    // The holder is untouched: still registered as A, still heartbeating, still Ready.
    heartbeat_as(&mut client, "shared", "boot-a").await.unwrap();
    let stored = get(&mut client, "shared").await.unwrap();
    let holder = |node: &v1::Node| {
        node.status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.boot_id.clone())
            .unwrap_or_default()
    };
    assert_eq!(holder(&stored), "boot-a");
    // A re-registration by the holder itself (an agent restart on the same boot) is fine.
    register(&mut client, node_booted("shared", "boot-a")).await;

    // A goes silent; after --not-ready-after B may take the node over.
    let taken = everynode_testkit::eventually("the node to be free for boot-b", WAIT, || {
        let mut client = client.clone();
        async move {
            client
                .register(v1::NodesRegisterRequest {
                    node: Some(node_booted("shared", "boot-b")),
                })
                .await
                .map(|r| r.into_inner())
                .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
        }
    })
    .await;
    assert_eq!(holder(taken.node.as_ref().unwrap()), "boot-b");
    heartbeat_as(&mut client, "shared", "boot-b").await.unwrap();
    let late = heartbeat_as(&mut client, "shared", "boot-a")
        .await
        .unwrap_err();
    assert_eq!(
        late.code(),
        Code::AlreadyExists,
        "the old holder is refused now: {late:?}"
    );
    // Heartbeats without a boot id (older agents) are not checked.
    heartbeat(&mut client, "shared").await.unwrap();
    registry.stop().await;
}

#[tokio::test]
async fn a_restarted_registry_keeps_its_nodes_and_grants_every_lease_a_grace_period() {
    let nats = NatsServer::start().await.unwrap();
    let mut events = Events::start(&nats).await;
    let registry = Registry::start_with(&nats, config(&nats, Duration::from_secs(60))).await;
    let mut client = registry.client().await;
    let a = register(&mut client, node("a", &[])).await.node.unwrap();
    register(&mut client, node("b", &[])).await;
    heartbeat(&mut client, "a").await.unwrap();
    heartbeat(&mut client, "b").await.unwrap();
    events.expect(&[(E::Added, "a"), (E::Added, "b")]).await;
    registry.stop().await;

    // The registry stays down longer than --not-ready-after: no agent can heartbeat meanwhile.
    tokio::time::sleep(NOT_READY_AFTER + Duration::from_millis(500)).await;

    let registry = Registry::start_with(&nats, config(&nats, Duration::from_secs(60))).await;
    let mut client = registry.client().await;
    let restarted = Instant::now();
    let _beats = Heartbeater::start(&client, "a");
    let stored = get(&mut client, "a").await.unwrap();
    assert_eq!(
        ready(&stored).0,
        "True",
        "no NotReady right after a restart"
    );
    assert_eq!(stored.metadata.unwrap().uid, a.metadata.unwrap().uid);

    // b stays quiet, so it becomes NotReady one lease after the restart; a never does.
    events
        .expect(&[(E::NotReady, "b"), (E::Tainted, "b")])
        .await;
    assert!(
        restarted.elapsed() >= NOT_READY_AFTER - Duration::from_millis(100),
        "b kept its grace period: NotReady {:?} after the restart",
        restarted.elapsed()
    );
    assert_eq!(ready(&get(&mut client, "a").await.unwrap()).0, "True");
    events.expect_nothing_more(&mut client).await;
    registry.stop().await;
}

#[tokio::test]
async fn two_replicas_share_heartbeats_and_write_each_transition_once() {
    let nats = NatsServer::start().await.unwrap();
    let mut events = Events::start(&nats).await;
    let first = Registry::start_with(&nats, config(&nats, Duration::ZERO)).await;
    let second = Registry::start_with(&nats, config(&nats, Duration::ZERO)).await;
    let mut one = first.client().await;
    let mut two = second.client().await;

    register(&mut one, node("n1", &[])).await;
    events.expect(&[(E::Added, "n1")]).await;
    {
        // Heartbeats reach only the first replica; the second hears them relayed and must not
        // declare the node NotReady over several lease periods.
        // (A spurious NotReady meanwhile would show up in the exact sequence below.)
        let _beats = Heartbeater::start(&one, "n1");
        tokio::time::sleep(3 * NOT_READY_AFTER).await;
    }
    // Both replicas see the lease expire; exactly one write and one pair of events.
    events
        .expect(&[(E::NotReady, "n1"), (E::Tainted, "n1")])
        .await;
    heartbeat(&mut two, "n1").await.unwrap();
    events.expect(&[(E::Ready, "n1"), (E::Tainted, "n1")]).await;
    assert_eq!(ready(&get(&mut one, "n1").await.unwrap()).0, "True");
    events.expect_nothing_more(&mut two).await;
    first.stop().await;
    second.stop().await;
}

/// Registers `count` nodes concurrently, returns how long it took.
async fn register_many(client: &NodesClient<Channel>, prefix: &str, count: usize) -> Duration {
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let mut client = client.clone();
            let name = format!("{prefix}-{i}");
            async move { register(&mut client, node(&name, &[("zone", "a")])).await }
        })
        .buffer_unordered(256)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

#[tokio::test]
async fn a_thousand_nodes_register_at_once() {
    let nats = NatsServer::start().await.unwrap();
    let registry = Registry::start_with(&nats, config(&nats, Duration::ZERO)).await;
    let client = registry.client().await;
    let took = register_many(&client, "bulk", 1000).await;
    let listed = client
        .clone()
        .list(v1::NodesListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1000);
    eprintln!("registered 1000 nodes in {took:?}");
    // The target is < 1 s in a release build; a debug build on a shared machine gets slack.
    assert!(took < Duration::from_secs(10), "{took:?}");
    registry.stop().await;
}
