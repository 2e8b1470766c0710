//! Who may do what, black-box, on the whole system with credentials on (testkit's `Stack`, its
//! PKI made as `enctl pki init` makes one): every call goes over mutual TLS to the real
//! services, as the identity the test picks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use everynode_api::manifest;
use everynode_api::v1::{
    self, daemon_sets_client::DaemonSetsClient, nodes_client::NodesClient, pods_client::PodsClient,
};
use everynode_testkit::{Service, Stack};
use tonic::Code;
use tonic::transport::Channel;

fn channel(stack: &Stack, identity: &str, service: Service) -> Channel {
    stack.pki().channel(identity, &stack.url(service))
}

fn node(name: &str) -> v1::Node {
    v1::Node {
        metadata: Some(v1::ObjectMeta {
            name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn daemon_set(name: &str) -> v1::DaemonSet {
    manifest::decode_one(&format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: {name}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: img}}]}}\n"
    ))
    .unwrap()
}

#[track_caller]
fn denied<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, words: &[&str]) {
    let status = result.expect_err("the call should be refused");
    assert_eq!(status.code(), code, "{status:?}");
    for word in words {
        assert!(
            status.message().contains(word),
            "{word:?} not in {status:?}"
        );
    }
}

#[tokio::test]
async fn a_node_s_agent_may_act_only_on_its_own_node() {
    let stack = Stack::builder().controllers(0).start().await;
    stack.pki().node("node-a");
    let mut as_a = NodesClient::new(channel(&stack, "node-node-a", Service::Registry));

    as_a.register(v1::NodesRegisterRequest {
        node: Some(node("node-a")),
    })
    .await
    .unwrap();
    as_a.heartbeat(v1::NodesHeartbeatRequest {
        name: "node-a".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    as_a.get(v1::NodesGetRequest {
        name: "node-a".into(),
    })
    .await
    .unwrap();

    // node-b exists (the admin registered it); node-a's identity can touch none of it.
    let mut admin = stack.nodes();
    admin
        .register(v1::NodesRegisterRequest {
            node: Some(node("node-b")),
        })
        .await
        .unwrap();
    let words = ["system:node:node-a", "node \"node-b\""];
    denied(
        as_a.register(v1::NodesRegisterRequest {
            node: Some(node("node-b")),
        })
        .await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/Register", words[0], words[1]],
    );
    denied(
        as_a.heartbeat(v1::NodesHeartbeatRequest {
            name: "node-b".into(),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/Heartbeat", words[0], words[1]],
    );
    denied(
        as_a.update(v1::NodesUpdateRequest {
            name: "node-b".into(),
            unschedulable: Some(true),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/Update", words[0], words[1]],
    );
    denied(
        as_a.get(v1::NodesGetRequest {
            name: "node-b".into(),
        })
        .await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/Get"],
    );
    denied(
        as_a.list(v1::NodesListRequest::default()).await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/List"],
    );
    denied(
        as_a.delete(v1::NodesDeleteRequest {
            name: "node-a".into(),
        })
        .await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/Delete"],
    );
    // Nothing changed on node-b.
    let b = admin
        .get(v1::NodesGetRequest {
            name: "node-b".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .node
        .unwrap();
    assert!(!b.spec.unwrap_or_default().unschedulable);
    // Nor may a node read DaemonSets.
    denied(
        DaemonSetsClient::new(channel(&stack, "node-node-a", Service::Admission))
            .list(v1::DaemonSetsListRequest::default())
            .await,
        Code::PermissionDenied,
        &["everynode.v1.DaemonSets/List"],
    );
}

#[tokio::test]
async fn a_viewer_reads_and_changes_nothing() {
    let stack = Stack::start().await;
    stack
        .daemonsets()
        .create(v1::DaemonSetsCreateRequest {
            daemon_set: Some(daemon_set("logs")),
            dry_run: false,
        })
        .await
        .unwrap();
    let mut viewer = DaemonSetsClient::new(channel(&stack, "viewer", Service::Admission));
    let listed = viewer
        .list(v1::DaemonSetsListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    denied(
        viewer
            .delete(v1::DaemonSetsDeleteRequest {
                namespace: "default".into(),
                name: "logs".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        &["user \"viewer\"", "everynode.v1.DaemonSets/Delete"],
    );
    denied(
        viewer
            .create(v1::DaemonSetsCreateRequest {
                daemon_set: Some(daemon_set("other")),
                dry_run: true,
            })
            .await,
        Code::PermissionDenied,
        &["everynode.v1.DaemonSets/Create"],
    );
    denied(
        PodsClient::new(channel(&stack, "viewer", Service::Controller(0)))
            .delete(v1::PodsDeleteRequest {
                namespace: "default".into(),
                name: "logs-x".into(),
                grace_period_seconds: None,
            })
            .await,
        Code::PermissionDenied,
        &["everynode.v1.Pods/Delete"],
    );
    // The DaemonSet is still there, untouched.
    let still = stack
        .daemonsets()
        .list(v1::DaemonSetsListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.items.len(), 1);
}

#[tokio::test]
async fn the_controller_s_identity_writes_status_but_deletes_nothing() {
    let stack = Stack::builder().controllers(0).start().await;
    let mut controller = DaemonSetsClient::new(channel(&stack, "controller", Service::Admission));
    controller
        .list(v1::DaemonSetsListRequest::default())
        .await
        .unwrap();
    denied(
        controller
            .delete(v1::DaemonSetsDeleteRequest {
                namespace: "default".into(),
                name: "logs".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        &["everynode:controller", "everynode.v1.DaemonSets/Delete"],
    );
    denied(
        NodesClient::new(channel(&stack, "controller", Service::Registry))
            .delete(v1::NodesDeleteRequest { name: "n1".into() })
            .await,
        Code::PermissionDenied,
        &["everynode.v1.Nodes/Delete"],
    );
}

#[tokio::test]
async fn every_service_refuses_a_caller_without_a_certificate() {
    let stack = Stack::start().await;
    let ca = std::fs::read(stack.pki().dir().join("ca.crt")).unwrap();
    for service in stack.services() {
        let config = everynode_auth::tls::anonymous_client(&ca, stack.pki().dir()).unwrap();
        let channel = everynode_service::security::channel(
            &stack.url(service),
            everynode_auth::ClientTls::Anonymous(config),
            std::time::Duration::from_secs(5),
            None,
        )
        .unwrap();
        let status = everynode_api::v1::auth_client::AuthClient::new(channel.clone())
            .who_am_i(v1::AuthWhoAmIRequest {})
            .await
            .expect_err("no certificate, no answer");
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{service:?}: {status:?}"
        );
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{service:?}: health stays open: {e:?}"));
    }
}
