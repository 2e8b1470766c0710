//! NATS authentication and least privilege, enforced by a real nats-server started with the
//! `nats-server.conf` that `enctl pki init` writes (operator mode, JWTs).
//!
//! A permission violation is a silent drop on the server plus a `-ERR 'Permissions Violation
//! …'` that the client sees as a server error event: every refusal below asserts both the
//! error and the absence of the effect (an authorised observer never sees it).

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_nats::{Client, ConnectOptions, Event};
use everynode_auth::nats::{CREDS_FILE, Role, inbox_prefix, node_creds, parse_node_signer_file};
use everynode_auth::pki::{NATS_DIR, NODE_SIGNER_FILE};
use everynode_bus::names::Bucket;
use everynode_testkit::NatsServer;
use everynode_testkit::pki::TestPki;
use futures::StreamExt;
use tokio::sync::mpsc;

/// How long a refused request may take to fail, and how long we watch for an effect.
const SHORT: Duration = Duration::from_secs(1);
/// How long an expected error or message may take.
const DEADLINE: Duration = Duration::from_secs(10);

struct Conn {
    client: Client,
    errors: mpsc::UnboundedReceiver<String>,
}

impl Conn {
    /// Waits for a server error containing "Permissions Violation" that mentions `subject`.
    async fn expect_violation(&mut self, subject: &str) {
        let wait = async {
            while let Some(err) = self.errors.recv().await {
                if err.contains("Permissions Violation") && err.contains(subject) {
                    return Ok(());
                }
                eprintln!("other server error: {err}");
            }
            Err("error channel closed")
        };
        match tokio::time::timeout(DEADLINE, wait).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => panic!("no permissions violation for {subject}: {why}"),
            Err(_) => panic!("no permissions violation for {subject} within {DEADLINE:?}"),
        }
    }
}

async fn options(creds: &Path, inbox: String) -> (ConnectOptions, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let options = ConnectOptions::with_credentials_file(creds)
        .await
        .unwrap_or_else(|e| panic!("reading {}: {e}", creds.display()))
        .custom_inbox_prefix(inbox)
        .request_timeout(Some(SHORT))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let Event::ServerError(err) = event {
                    let _ = tx.send(err.to_string());
                }
            }
        });
    (options, rx)
}

async fn connect_creds(server: &NatsServer, creds: &Path, inbox: String) -> Conn {
    let (options, errors) = options(creds, inbox).await;
    let client = options
        .connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("connecting with {}: {e}", creds.display()));
    Conn { client, errors }
}

async fn service(server: &NatsServer, pki: &TestPki, role: Role) -> Conn {
    connect_creds(
        server,
        &pki.folder(role.label()).join(CREDS_FILE),
        inbox_prefix(role, None),
    )
    .await
}

async fn node(server: &NatsServer, pki: &TestPki, name: &str) -> Conn {
    let folder = pki.node(name);
    connect_creds(
        server,
        &folder.join(CREDS_FILE),
        inbox_prefix(Role::Node, Some(name)),
    )
    .await
}

async fn start(pki: &TestPki) -> NatsServer {
    NatsServer::start_with_auth(
        pki.dir(),
        &pki.folder("admin").join(CREDS_FILE),
        &inbox_prefix(Role::Admin, None),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Makes sure `subscriber` (on `subject`) is live: `publisher` publishes until it receives.
async fn live(publisher: &Conn, subject: &str, subscriber: &mut async_nats::Subscriber) {
    let wait = async {
        loop {
            publisher
                .client
                .publish(subject.to_owned(), "probe".into())
                .await
                .expect("publishing a probe");
            publisher.client.flush().await.expect("flushing a probe");
            if let Ok(Some(_)) =
                tokio::time::timeout(Duration::from_millis(100), subscriber.next()).await
            {
                return;
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{subject}: the observer never received a probe"));
    // Drain probes still in flight.
    while let Ok(Some(_)) =
        tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await
    {}
}

/// Asserts `subscriber` receives nothing within [`SHORT`].
async fn assert_silent(subscriber: &mut async_nats::Subscriber, what: &str) {
    if let Ok(Some(msg)) = tokio::time::timeout(SHORT, subscriber.next()).await {
        panic!(
            "{what}: an observer received {:?} on {}",
            msg.payload, msg.subject
        );
    }
}

async fn pods_bucket(controller: &Conn) -> kv::Store {
    jetstream::new(controller.client.clone())
        .create_key_value(kv::Config {
            bucket: Bucket::Pods.name().to_owned(),
            history: 1,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("controller creates KV pods: {e}"))
}

#[tokio::test]
async fn connections_without_valid_credentials_are_refused() {
    let pki = TestPki::new();
    let server = start(&pki).await;
    let open = ConnectOptions::new()
        .connection_timeout(SHORT)
        .connect(server.url())
        .await;
    assert!(
        open.is_err(),
        "a connection without credentials was accepted"
    );

    // Credentials of another deployment: another operator and account.
    let foreign = TestPki::new();
    let (options, _) = options(&foreign.folder("admin").join(CREDS_FILE), "_INBOX.x".into()).await;
    let result = options
        .connection_timeout(SHORT)
        .connect(server.url())
        .await;
    assert!(result.is_err(), "foreign credentials were accepted");

    // And the deployment's own credentials work.
    let admin = service(&server, &pki, Role::Admin).await;
    admin.client.flush().await.unwrap();
}

#[tokio::test]
async fn a_node_receives_and_answers_only_its_own_commands() {
    let pki = TestPki::new();
    let server = start(&pki).await;
    let controller = service(&server, &pki, Role::Controller).await;
    let mut n1 = node(&server, &pki, "n1").await;
    let mut n2 = node(&server, &pki, "n2").await;

    // Its own commands: received and answered (one reply, via `resp`).
    let mut own = n1
        .client
        .subscribe("everynode.agent.n1.pods")
        .await
        .unwrap();
    n1.client.flush().await.unwrap();
    let responder = tokio::spawn({
        let client = n1.client.clone();
        async move {
            let request = own.next().await.expect("a command");
            client
                .publish(request.reply.expect("a reply subject"), "done".into())
                .await
                .unwrap();
            client.flush().await.unwrap();
        }
    });
    // `flush` does not wait for the server to have the subscription: retry "no responders".
    let ask = async {
        loop {
            match controller
                .client
                .request("everynode.agent.n1.pods", "start".into())
                .await
            {
                Err(err) if err.kind() == async_nats::RequestErrorKind::NoResponders => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    };
    let reply = tokio::time::timeout(DEADLINE, ask)
        .await
        .expect("reply in time")
        .expect("the node answers its own command");
    assert_eq!(&reply.payload[..], b"done");
    responder.await.unwrap();

    // Another node's commands: subscribing is refused, and it receives nothing.
    let mut stolen = n1
        .client
        .subscribe("everynode.agent.n2.pods")
        .await
        .unwrap();
    n1.expect_violation("everynode.agent.n2.pods").await;
    let mut n2_own = n2
        .client
        .subscribe("everynode.agent.n2.pods")
        .await
        .unwrap();
    live(&controller, "everynode.agent.n2.pods", &mut n2_own).await;
    assert_silent(&mut stolen, "n1 subscribed to n2's commands").await;

    // Publishing to another node's commands: refused, n2 never sees it.
    n1.client
        .publish("everynode.agent.n2.pods", "forged".into())
        .await
        .unwrap();
    n1.client.flush().await.unwrap();
    n1.expect_violation("everynode.agent.n2.pods").await;
    assert_silent(&mut n2_own, "n1 published to n2's commands").await;

    // Nobody may read another client's inbox.
    let mut sniff = n1.client.subscribe("_INBOX.controller.>").await.unwrap();
    n1.expect_violation("_INBOX.controller.>").await;
    assert_silent(&mut sniff, "n1 subscribed to the controller's inbox").await;

    // The controller's term announcements reach every node (fencing); no node can forge one.
    let term = everynode_bus::names::CONTROLLER_TERM;
    let mut terms = n1.client.subscribe(term).await.unwrap();
    live(&controller, term, &mut terms).await;
    n2.client.publish(term, "forged".into()).await.unwrap();
    n2.client.flush().await.unwrap();
    n2.expect_violation(term).await;
    assert_silent(&mut terms, "n2 announced a controller term").await;
}

#[tokio::test]
async fn admission_cannot_command_agents() {
    let pki = TestPki::new();
    let server = start(&pki).await;
    let mut admission = service(&server, &pki, Role::Admission).await;
    let n1 = node(&server, &pki, "n1").await;
    let mut commands = n1
        .client
        .subscribe("everynode.agent.n1.pods")
        .await
        .unwrap();
    let controller = service(&server, &pki, Role::Controller).await;
    live(&controller, "everynode.agent.n1.pods", &mut commands).await;
    admission
        .client
        .publish("everynode.agent.n1.pods", "forged".into())
        .await
        .unwrap();
    admission.client.flush().await.unwrap();
    admission.expect_violation("everynode.agent.n1.pods").await;
    assert_silent(&mut commands, "admission published an agent command").await;
}

#[tokio::test]
async fn a_node_reads_and_writes_only_its_own_pod_keys() {
    let pki = TestPki::new();
    let server = start(&pki).await;
    let controller = service(&server, &pki, Role::Controller).await;
    let observer = pods_bucket(&controller).await;
    observer.put("n2.ns.b", "n2's".into()).await.unwrap();
    let mut n1 = node(&server, &pki, "n1").await;
    let store = jetstream::new(n1.client.clone())
        .get_key_value(Bucket::Pods.name())
        .await
        .unwrap_or_else(|e| panic!("a node opens the existing bucket: {e}"));

    // An empty value is a valid (empty) Pod message, so the bus's Store can list it.
    store.put("n1.ns.a", "".into()).await.unwrap();
    let mine = store.get("n1.ns.a").await.unwrap();
    assert_eq!(mine.as_deref(), Some(&b""[..]));
    // Listing its own keys (what an agent does at start-up) works through the bus's Store.
    let pods: everynode_bus::Store<everynode_bus::PodKey, everynode_api::v1::Pod> =
        everynode_bus::Store::open(&jetstream::new(n1.client.clone()))
            .await
            .unwrap();
    let own = pods
        .list_filtered(&everynode_bus::KeyFilter::node(
            &everynode_bus::NodeKey::new("n1").unwrap(),
        ))
        .await
        .unwrap_or_else(|e| panic!("a node lists its own keys: {e}"));
    assert_eq!(own.entries.len(), 1, "only its own key");
    // Listing every node's keys is refused.
    let all = pods.list().await;
    assert!(all.is_err(), "a node listed every key");
    n1.expect_violation("$JS.API.CONSUMER.CREATE.KV_pods").await;
    store.delete("n1.ns.a").await.unwrap();
    assert_eq!(observer.get("n1.ns.a").await.unwrap(), None);

    // Another node's key: put refused, never stored.
    let put = store.put("n2.ns.x", "forged".into()).await;
    assert!(put.is_err(), "n1 wrote n2's key: {put:?}");
    n1.expect_violation("$KV.pods.n2.ns.x").await;
    assert_eq!(observer.get("n2.ns.x").await.unwrap(), None);

    // Another node's key: get refused.
    let got = store.get("n2.ns.b").await;
    assert!(!matches!(got, Ok(Some(_))), "n1 read n2's key: {got:?}");
    n1.expect_violation("n2.ns.b").await;
}

#[tokio::test]
async fn a_node_cannot_change_streams_buckets_or_consumers() {
    let pki = TestPki::new();
    let server = start(&pki).await;
    let controller = service(&server, &pki, Role::Controller).await;
    let observer = pods_bucket(&controller).await;
    observer.put("n1.ns.a", "kept".into()).await.unwrap();
    let cjs = jetstream::new(controller.client.clone());
    let durable = cjs
        .get_stream("KV_pods")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("keep".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    drop(durable);

    let mut n1 = node(&server, &pki, "n1").await;
    let js = jetstream::new(n1.client.clone());

    let created = js
        .create_stream(stream::Config {
            name: "EVIL".into(),
            subjects: vec!["evil.>".into()],
            ..Default::default()
        })
        .await;
    assert!(created.is_err(), "stream create: {created:?}");
    n1.expect_violation("$JS.API.STREAM.CREATE.EVIL").await;

    let updated = js
        .update_stream(stream::Config {
            name: "KV_pods".into(),
            subjects: vec!["$KV.pods.>".into()],
            max_messages: 1,
            ..Default::default()
        })
        .await;
    assert!(updated.is_err(), "stream update: {updated:?}");
    n1.expect_violation("$JS.API.STREAM.UPDATE.KV_pods").await;

    let purged = n1
        .client
        .request("$JS.API.STREAM.PURGE.KV_pods", "".into())
        .await;
    assert!(purged.is_err(), "stream purge: {purged:?}");
    n1.expect_violation("$JS.API.STREAM.PURGE.KV_pods").await;

    let deleted = js.delete_stream("KV_pods").await;
    assert!(deleted.is_err(), "stream delete was accepted");
    n1.expect_violation("$JS.API.STREAM.DELETE.KV_pods").await;

    let bucket = js
        .create_key_value(kv::Config {
            bucket: "evil".into(),
            ..Default::default()
        })
        .await;
    assert!(bucket.is_err(), "bucket create: {:?}", bucket.err());
    // async-nats asks for the account info first: refused already there.
    n1.expect_violation("$JS.API.").await;

    let bucket_deleted = js.delete_key_value("pods").await;
    assert!(bucket_deleted.is_err(), "bucket delete was accepted");
    n1.expect_violation("$JS.API.STREAM.DELETE.KV_pods").await;

    let consumer_deleted = n1
        .client
        .request("$JS.API.CONSUMER.DELETE.KV_pods.keep", "".into())
        .await;
    assert!(
        consumer_deleted.is_err(),
        "consumer delete: {consumer_deleted:?}"
    );
    n1.expect_violation("$JS.API.CONSUMER.DELETE.KV_pods.keep")
        .await;

    // No effect: bucket, data and durable consumer are all still there; no stream EVIL.
    assert_eq!(
        observer.get("n1.ns.a").await.unwrap().as_deref(),
        Some(&b"kept"[..])
    );
    let mut pods = cjs.get_stream("KV_pods").await.unwrap();
    assert_eq!(pods.info().await.unwrap().state.messages, 1);
    pods.consumer_info("keep").await.unwrap();
    assert!(cjs.get_stream("EVIL").await.is_err());
    assert!(cjs.get_stream("KV_evil").await.is_err());
}

#[tokio::test]
async fn credentials_from_the_node_signer_are_scoped_to_their_node() {
    // What a registry does for a bootstrap join: sign with the node-signer file only.
    let pki = TestPki::new();
    let server = start(&pki).await;
    let signer_file =
        std::fs::read_to_string(pki.dir().join(NATS_DIR).join(NODE_SIGNER_FILE)).unwrap();
    let (signer, account) = parse_node_signer_file(&signer_file).unwrap();
    let creds = node_creds(&signer, &account, "joined.example").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CREDS_FILE);
    std::fs::write(&path, creds).unwrap();
    let token = "joined_2Eexample";
    let mut joined = connect_creds(&server, &path, inbox_prefix(Role::Node, Some(token))).await;

    let controller = service(&server, &pki, Role::Controller).await;
    let mut own = joined
        .client
        .subscribe(format!("everynode.agent.{token}.pods"))
        .await
        .unwrap();
    // The joined node gets its commands.
    live(
        &controller,
        &format!("everynode.agent.{token}.pods"),
        &mut own,
    )
    .await;

    let mut other = joined
        .client
        .subscribe("everynode.agent.n1.pods")
        .await
        .unwrap();
    joined.expect_violation("everynode.agent.n1.pods").await;
    assert_silent(&mut other, "the joined node subscribed to n1").await;
}
