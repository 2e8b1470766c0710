#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Joining with bootstrap tokens (`everynode.v1.Bootstrap`), end to end with credentials on:
//! a real nats-server, the real registry (with `--ca-key`) on a real socket, real agents, the
//! test's clients over mutual TLS as the stack's admin, viewer or a node, and over anonymous
//! TLS as a joining agent.
//!
//! Every wait is on a condition with a deadline; nothing sleeps.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use everynode_api::v1::bootstrap_client::BootstrapClient;
use everynode_api::v1::nodes_client::NodesClient;
use everynode_api::v1::{self, BootstrapCreateTokenRequest, BootstrapSignNodeRequest};
use everynode_auth::pki::{self, IdentitySpec};
use everynode_auth::{BootstrapToken, ClientTls, Identity, Tls, tls};
use everynode_bus::{Store, TokenKey};
use everynode_service::{SecurityArgs, Shutdown};
use everynode_testkit::{Service, Stack};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Bound for anything that should happen promptly.
const WAIT: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(10);

/// A stack whose registry signs with the stack's CA key (no controller: nothing here runs pods).
async fn stack() -> Stack {
    let builder = Stack::builder().controllers(0);
    let ca_key = builder.pki().dir().join(pki::CA_KEY);
    builder
        .configure_registry(move |c| c.ca_key = Some(ca_key.clone()))
        .start()
        .await
}

/// The Bootstrap API as the stack's identity `name` (`admin`, `viewer`, `node-n1`, …).
fn bootstrap_as(stack: &Stack, name: &str) -> BootstrapClient<Channel> {
    BootstrapClient::new(stack.pki().channel(name, &stack.url(Service::Registry)))
}

/// The Bootstrap API as a joining agent: TLS that verifies the registry, no certificate.
fn anonymous(stack: &Stack) -> BootstrapClient<Channel> {
    let ca = stack.pki().dir().join(pki::CA_CERT);
    let config = tls::anonymous_client(&std::fs::read(&ca).unwrap(), &ca).unwrap();
    let channel = everynode_service::security::channel(
        &stack.url(Service::Registry),
        ClientTls::Anonymous(config),
        TIMEOUT,
        Some(TIMEOUT),
    )
    .unwrap();
    BootstrapClient::new(channel)
}

/// A channel to the registry with the credentials folder `dir`.
fn channel_with(stack: &Stack, dir: &Path) -> Channel {
    everynode_service::security::channel(
        &stack.url(Service::Registry),
        ClientTls::Credentials(Tls::load(dir).unwrap()),
        TIMEOUT,
        Some(TIMEOUT),
    )
    .unwrap()
}

async fn create_token(
    client: &mut BootstrapClient<Channel>,
    ttl: Option<Duration>,
    description: &str,
) -> Result<v1::BootstrapCreateTokenResponse, Status> {
    client
        .create_token(BootstrapCreateTokenRequest {
            ttl: ttl.map(|t| prost_types::Duration::try_from(t).unwrap()),
            description: description.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn token(stack: &Stack) -> String {
    create_token(&mut bootstrap_as(stack, "admin"), None, "a test")
        .await
        .unwrap()
        .token
}

async fn sign(
    client: &mut BootstrapClient<Channel>,
    token: &str,
    node: &str,
    csr_pem: &str,
) -> Result<v1::BootstrapSignNodeResponse, Status> {
    client
        .sign_node(BootstrapSignNodeRequest {
            token: token.to_string(),
            node_name: node.to_string(),
            csr_pem: csr_pem.to_string(),
            nats_public_key: everynode_auth::nats::NodeUserKey::generate().public_key(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A node's CSR, as a joining agent makes it.
fn csr(node: &str) -> String {
    pki::node_key_and_csr(node).unwrap().1
}

fn identity_of(cert_pem: &str) -> Identity {
    let der: rustls_pki_types::CertificateDer<'static> =
        rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes()).unwrap();
    Identity::from_certificate(&der).unwrap()
}

fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

async fn record(stack: &Stack, id: &str) -> v1::BootstrapToken {
    let store: Store<TokenKey, v1::BootstrapToken> = stack.store().await;
    store
        .get(&TokenKey::new(id).unwrap())
        .await
        .unwrap()
        .expect("the token's record")
        .value
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// An agent configuration that joins with `token` instead of a credentials folder.
fn joining(config: &mut everynode_agent::Config, token: &str, ca_cert: PathBuf) {
    config.common.security = SecurityArgs::default();
    config.bootstrap_token = Some(token.parse().unwrap());
    config.ca_cert = Some(ca_cert);
}

#[tokio::test]
async fn an_agent_joins_with_a_token_and_restarts_on_its_stored_credentials() {
    let mut stack = stack().await;
    let token = token(&stack).await;
    let id = BootstrapToken::parse(&token).unwrap().id().to_string();
    let ca_cert = stack.pki().dir().join(pki::CA_CERT);

    // The registry is down when the agent starts: in its place, a listener that drops the
    // agent's first connection. The join is retried until the registry is back.
    stack.stop_service(Service::Registry).await;
    let impostor = tokio::net::TcpListener::bind(stack.addr(Service::Registry))
        .await
        .unwrap();
    let mut config = stack.agent_config("joiner");
    joining(&mut config, &token, ca_cert.clone());
    stack.start_agent("joiner", config).await;
    let (first_try, _) = tokio::time::timeout(WAIT, impostor.accept())
        .await
        .expect("the agent tries to join")
        .unwrap();
    drop((first_try, impostor));
    stack.start_service(Service::Registry).await;
    stack.wait_nodes(&["joiner".to_string()]).await;

    // Its credentials: the node's identity, the deployment's CA, its NATS credentials (its
    // own key, a JWT from the registry's node signer: the agent reached the authenticated
    // NATS with them to answer commands), private files.
    let dir = stack.dir().join("joiner").join("pki");
    assert_eq!(mode(&dir), 0o700);
    for file in [pki::CA_CERT, pki::TLS_CERT, pki::TLS_KEY, "nats.creds"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    let cert = std::fs::read_to_string(dir.join(pki::TLS_CERT)).unwrap();
    assert_eq!(identity_of(&cert), Identity::node("joiner"));
    assert_eq!(
        std::fs::read(dir.join(pki::CA_CERT)).unwrap(),
        std::fs::read(&ca_cert).unwrap()
    );

    // The record: the secret only as its hash, the node name, the creator.
    let stored = record(&stack, &id).await;
    assert_eq!(stored.used_by, ["joiner"]);
    assert_eq!(stored.created_by, "admin");
    assert_eq!(stored.description, "a test");
    let secret = token.split_once('.').unwrap().1;
    assert_eq!(stored.secret_sha256.len(), 32);
    assert!(
        !String::from_utf8_lossy(&prost::Message::encode_to_vec(&stored)).contains(secret),
        "the secret is stored"
    );

    // Node restriction: the joined identity heartbeats its own node, no other.
    let mut as_node = NodesClient::new(channel_with(&stack, &dir));
    as_node
        .heartbeat(v1::NodesHeartbeatRequest {
            name: "joiner".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let denied = as_node
        .heartbeat(v1::NodesHeartbeatRequest {
            name: "someone-else".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(
        denied.message().contains("system:node:joiner"),
        "{}",
        denied.message()
    );

    // A restart uses the stored credentials and never asks again: with the token gone (as an
    // expired one is), a second SignNode would be refused and the agent would stop.
    stack.stop_agent("joiner").await;
    let store: Store<TokenKey, v1::BootstrapToken> = stack.store().await;
    store
        .delete(&TokenKey::new(&id).unwrap(), None)
        .await
        .unwrap();
    stack
        .nodes()
        .delete(v1::NodesDeleteRequest {
            name: "joiner".into(),
        })
        .await
        .unwrap();
    stack.restart_agent("joiner").await;
    assert_eq!(
        std::fs::read_to_string(dir.join(pki::TLS_CERT)).unwrap(),
        cert
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_token_serves_each_node_name_once_and_refuses_alike_what_is_not_valid() {
    let stack = stack().await;
    let mut client = anonymous(&stack);
    let token = token(&stack).await;
    let parsed = BootstrapToken::parse(&token).unwrap();
    let ca_pem = std::fs::read_to_string(stack.pki().dir().join(pki::CA_CERT)).unwrap();

    let signed = sign(&mut client, &token, "n1", &csr("n1")).await.unwrap();
    assert_eq!(identity_of(&signed.certificate_pem), Identity::node("n1"));
    assert_eq!(signed.ca_pem, ca_pem);

    let again = sign(&mut client, &token, "n1", &csr("n1"))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::PermissionDenied, "{again:?}");
    assert_eq!(
        again.message(),
        format!(
            "bootstrap token {:?} was already used for node \"n1\"",
            parsed.id()
        )
    );
    sign(&mut client, &token, "n2", &csr("n2")).await.unwrap();

    // Joins racing for one name: one certificate. For different names: one each.
    let racing = futures::future::join_all((0..6).map(|_| {
        let mut client = client.clone();
        let token = token.clone();
        async move { sign(&mut client, &token, "n3", &csr("n3")).await }
    }))
    .await;
    let codes: Vec<Code> = racing
        .iter()
        .map(|r| r.as_ref().err().map_or(Code::Ok, Status::code))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Code::Ok).count(),
        1,
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Ok | Code::PermissionDenied)),
        "{codes:?}"
    );
    let names: Vec<String> = (4..9).map(|i| format!("n{i}")).collect();
    let each = futures::future::join_all(names.iter().map(|name| {
        let mut client = client.clone();
        let token = token.clone();
        async move { sign(&mut client, &token, name, &csr(name)).await }
    }))
    .await;
    for (name, result) in names.iter().zip(&each) {
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    let used: Vec<String> = record(&stack, parsed.id()).await.used_by;
    let unique: BTreeSet<&String> = used.iter().collect();
    assert_eq!(used.len(), 8, "{used:?}");
    assert_eq!(unique.len(), 8, "{used:?}");

    // Unknown, wrong, malformed and expired tokens: UNAUTHENTICATED, one message for all.
    let secret = token.split_once('.').unwrap().1;
    let wrong_secret = format!("{}.{}", parsed.id(), "0000000000000000");
    let unknown_id = loop {
        let other = BootstrapToken::generate().unwrap();
        if other.id() != parsed.id() {
            break format!("{}.{secret}", other.id());
        }
    };
    let expired = BootstrapToken::parse("expird.0123456789abcdef").unwrap();
    let store: Store<TokenKey, v1::BootstrapToken> = stack.store().await;
    store
        .create(
            &TokenKey::new(expired.id()).unwrap(),
            &v1::BootstrapToken {
                id: expired.id().into(),
                secret_sha256: expired.secret_sha256(),
                expires: Some((SystemTime::now() - Duration::from_secs(1)).into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let tiny = create_token(
        &mut bootstrap_as(&stack, "admin"),
        Some(Duration::from_nanos(1)),
        "",
    )
    .await
    .unwrap()
    .token;
    let mut messages = BTreeSet::new();
    for bad in [
        wrong_secret.as_str(),
        &unknown_id,
        "not-a-token",
        &expired.expose(),
        &tiny,
    ] {
        let refused = sign(&mut client, bad, "n9", &csr("n9")).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{bad}: {refused:?}");
        assert!(!refused.message().contains(secret), "{refused:?}");
        messages.insert(refused.message().to_string());
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    // Refused attempts used nothing up: the right token still serves n9.
    sign(&mut client, &token, "n9", &csr("n9")).await.unwrap();
    stack.shutdown().await;
}

#[tokio::test]
async fn requests_are_checked_and_only_admins_create_tokens() {
    let stack = stack().await;
    let mut client = anonymous(&stack);
    let mut admin = bootstrap_as(&stack, "admin");

    // A CSR asking for the admin identity still yields the node's.
    let token = token(&stack).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "admin");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "everynode:admins");
    let greedy = params.serialize_request(&key).unwrap().pem().unwrap();
    let signed = sign(&mut client, &token, "n1", &greedy).await.unwrap();
    assert_eq!(identity_of(&signed.certificate_pem), Identity::node("n1"));

    // A bad CSR or node name is INVALID_ARGUMENT naming the field, and uses nothing up.
    let bad = sign(&mut client, &token, "n2", "not a csr")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert_eq!(bad_fields(&bad), ["csr_pem"]);
    sign(&mut client, &token, "n2", &csr("n2")).await.unwrap();
    let bad = sign(&mut client, &token, "Bad_Name", &csr("n3"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert_eq!(bad_fields(&bad), ["node_name"]);
    assert!(bad.message().contains("node_name"), "{bad:?}");

    // TTLs: one hour by default, at most seven days.
    let made = create_token(&mut admin, None, "").await.unwrap();
    let expires = SystemTime::try_from(made.expires.unwrap()).unwrap();
    let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
    let off = in_an_hour
        .duration_since(expires)
        .unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(60), "expires {expires:?}");
    let week = Duration::from_secs(7 * 24 * 3600);
    create_token(&mut admin, Some(week), "").await.unwrap();
    let too_long = create_token(&mut admin, Some(week + Duration::from_secs(1)), "")
        .await
        .unwrap_err();
    assert_eq!(too_long.code(), Code::InvalidArgument, "{too_long:?}");
    assert_eq!(bad_fields(&too_long), ["ttl"]);

    // Only administrators create tokens.
    stack.pki().node("n1");
    for identity in ["viewer", "node-n1"] {
        let denied = create_token(&mut bootstrap_as(&stack, identity), None, "")
            .await
            .unwrap_err();
        assert_eq!(
            denied.code(),
            Code::PermissionDenied,
            "{identity}: {denied:?}"
        );
    }
    let simulator = stack.pki().add("sim", &IdentitySpec::simulator());
    let denied = create_token(
        &mut BootstrapClient::new(channel_with(&stack, &simulator)),
        None,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let anonymous = create_token(&mut client, None, "").await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    stack.shutdown().await;
}

#[tokio::test]
async fn without_a_ca_key_joins_are_off_and_a_refused_agent_stops_with_the_reason() {
    let stack = Stack::builder().controllers(0).start().await;
    let off = create_token(&mut bootstrap_as(&stack, "admin"), None, "")
        .await
        .unwrap_err();
    assert_eq!(off.code(), Code::FailedPrecondition, "{off:?}");
    assert_eq!(
        off.message(),
        "this registry has no CA key (--ca-key); bootstrap joins are off"
    );
    let token = "abcdef.0123456789abcdef";
    let off = sign(&mut anonymous(&stack), token, "n1", &csr("n1"))
        .await
        .unwrap_err();
    assert_eq!(off.code(), Code::FailedPrecondition, "{off:?}");

    // An agent whose join is refused ends with the registry's reason, and stores nothing.
    let mut config = stack.agent_config("refused");
    joining(&mut config, token, stack.pki().dir().join(pki::CA_CERT));
    let data_dir = config.data_dir.clone().unwrap();
    let nats = everynode_bus::connect_auth(
        &stack.nats_url(),
        "agent refused",
        &stack.pki().node_nats_auth("refused"),
    )
    .await
    .unwrap();
    let ended = tokio::time::timeout(
        WAIT,
        everynode_agent::run(config, nats, Shutdown::new(Duration::from_secs(5))),
    )
    .await
    .expect("the agent stops by itself")
    .unwrap_err();
    let message = format!("{ended:#}");
    assert!(message.contains("refused"), "{message}");
    assert!(message.contains("--ca-key"), "{message}");
    assert!(!message.contains("0123456789abcdef"), "{message}");
    assert!(!data_dir.join("pki").exists());
    stack.shutdown().await;
}
