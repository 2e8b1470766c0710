//! The stack itself: its settings reach every service, services and agents stop and start
//! again where they were, and a part that fails says why at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use everynode_api::v1;
use everynode_testkit::{Service, Stack, Timing};

fn names(nodes: &[v1::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| n.metadata.as_ref().map(|m| m.name.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn services_and_agents_stop_and_start_again_where_they_were() {
    let mut stack = Stack::start().await;
    stack.agent("solo").await;
    stack.agents("sim", 2, &[("pool", "a")]).await;

    // The registry comes back on its address; the node records are in KV.
    let registry = stack.addr(Service::Registry);
    stack.restart_service(Service::Registry).await;
    assert_eq!(stack.addr(Service::Registry), registry);
    let nodes = stack
        .nodes()
        .list(v1::NodesListRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(names(&nodes), ["sim-0", "sim-1", "solo"]);

    // A stopped controller does not answer; started again, it does.
    stack.stop_service(Service::Controller(0)).await;
    let refused = stack
        .pods(0)
        .list(v1::PodsListRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused}");
    stack.start_service(Service::Controller(0)).await;
    stack
        .pods(0)
        .list(v1::PodsListRequest::default())
        .await
        .unwrap();

    // Agents restart with their configuration (the simulated nodes keep their labels).
    stack.stop_agent("sim").await;
    stack.restart_agent("sim").await;
    let sim = stack
        .nodes()
        .list(v1::NodesListRequest {
            label_selector: "pool=a".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(names(&sim), ["sim-0", "sim-1"]);

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_builder_settings_reach_every_configuration() {
    let stack = Stack::builder()
        .controllers(2)
        .configure_registry(|c| c.remove_after = std::time::Duration::ZERO)
        .configure_controllers(|c| c.lease_name = "other".into())
        .configure_agents(|c| {
            c.labels.0.insert("team".into(), "infra".into());
        })
        .start()
        .await;
    let controller = stack.controller_config();
    assert_eq!(controller.lease_name, "other");
    assert_eq!(controller.admission, stack.url(Service::Admission));
    assert_eq!(controller.registry, stack.url(Service::Registry));
    assert_eq!(
        controller.resync,
        std::time::Duration::from_secs(2),
        "fast timing"
    );
    let agent = stack.agent_config("x");
    assert_eq!(agent.labels.0["team"], "infra");
    assert_eq!(agent.runtime, everynode_agent::RuntimeKind::Fake);
    assert_eq!(
        agent.data_dir.as_deref(),
        Some(stack.dir().join("x").as_path())
    );
    for index in 0..2 {
        stack
            .pods(index)
            .list(v1::PodsListRequest::default())
            .await
            .unwrap();
    }

    let defaults = Stack::builder()
        .timing(Timing::Defaults)
        .controllers(0)
        .start()
        .await;
    let controller = defaults.controller_config();
    assert_eq!(controller.resync, std::time::Duration::from_secs(30));
    assert_eq!(
        defaults.agent_config("x").fake,
        everynode_agent::config::FakeArgs::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[should_panic(expected = "agent bad failed: --simulate needs --runtime fake")]
async fn an_agent_that_fails_fails_its_wait_at_once_with_its_error() {
    let mut stack = Stack::builder().controllers(0).start().await;
    stack
        .agents_with("bad", 2, &[], |c| {
            c.runtime = everynode_agent::RuntimeKind::Process;
        })
        .await;
}
