#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The controller end to end: real nats-server, real admission, registry and controller(s),
//! fake-runtime agents (and one process-runtime agent), all on 127.0.0.1:0. Every test waits on
//! conditions with a deadline and reports what it last saw.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use everynode_api::v1;
use everynode_testkit::Service;
use futures::StreamExt;
use support::{Cluster, Counts, WAIT, daemonset, deleting, ds_uid, label, owner_uid, uid};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simple_daemon_runs_once_on_every_node_with_exact_status() {
    let mut c = Cluster::start().await;
    c.agents("n", 3, &[]).await;
    let ds = c.create(&daemonset("simple", "")).await;

    let pods = c.wait_one_per_node("simple", &["n-0", "n-1", "n-2"]).await;
    for pod in pods.values() {
        assert_eq!(owner_uid(pod), Some(ds_uid(&ds)), "owned by the DaemonSet");
        assert!(label(pod, "controller-revision-hash").is_some());
        assert_eq!(label(pod, "pod-template-generation"), Some("1"));
        let name = &support::meta(pod).name;
        assert!(name.starts_with("simple-"), "{name}");
    }
    c.wait_status("simple", Counts::all(3)).await;

    // The Pods API serves the same pods from the cache.
    let mut api = c.pods(0);
    let listed = api
        .list(v1::PodsListRequest {
            namespace: "default".into(),
            label_selector: "app=simple".into(),
            node_name: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 3);
    let on_n1 = api
        .list(v1::PodsListRequest {
            node_name: "n-1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(on_n1.items.len(), 1);
    let one = &listed.items[0];
    let got = api
        .get(v1::PodsGetRequest {
            namespace: String::new(),
            name: one.metadata.as_ref().unwrap().name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .pod
        .unwrap();
    assert_eq!(uid(&got), uid(one));
    let missing = api
        .get(v1::PodsGetRequest {
            namespace: String::new(),
            name: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // Endpoints: one per pod, with the node's address, all ready.
    let endpoints = c
        .endpoints(0)
        .list(v1::EndpointsListRequest {
            namespace: String::new(),
            name: "simple".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .endpoints;
    let nodes: Vec<&str> = endpoints.iter().map(|e| e.node_name.as_str()).collect();
    assert_eq!(nodes, ["n-0", "n-1", "n-2"]);
    assert!(endpoints.iter().all(|e| e.ready && !e.addresses.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_added_gets_a_pod_and_a_removed_nodes_pods_are_collected() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("fleet", "")).await;
    c.wait_one_per_node("fleet", &["n-0", "n-1"]).await;
    c.wait_status("fleet", Counts::all(2)).await;

    c.agent("extra").await;
    c.wait_one_per_node("fleet", &["extra", "n-0", "n-1"]).await;
    c.wait_status("fleet", Counts::all(3)).await;

    // The machine goes away (its agent stops, its pod stays in KV), then an operator removes
    // the node: pod GC deletes the pod's key, and the node no longer counts.
    c.stop_agent("extra").await;
    c.nodes()
        .delete(v1::NodesDeleteRequest {
            name: "extra".into(),
        })
        .await
        .unwrap();
    c.wait_pods(
        "fleet",
        "the pod of the removed node to be collected",
        |pods| match pods.iter().find(|(k, _)| k.node() == "extra") {
            Some(_) => Err("still there".into()),
            None => Ok(()),
        },
    )
    .await;
    c.wait_one_per_node("fleet", &["n-0", "n-1"]).await;
    c.wait_status("fleet", Counts::all(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_removed_while_its_agent_runs_gets_a_fresh_pod_when_it_registers_again() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("fleet", "")).await;
    let before = c.wait_one_per_node("fleet", &["n-0", "n-1"]).await;
    let old_uid = before["n-1"].metadata.as_ref().unwrap().uid.clone();

    // An operator removes the node while its agent keeps running: pod GC deletes the pod
    // through the agent; the agent's next heartbeat is NOT_FOUND, it registers again, and the
    // node gets a new pod (the agent must not be left holding the old one).
    c.nodes()
        .delete(v1::NodesDeleteRequest { name: "n-1".into() })
        .await
        .unwrap();
    c.wait_pods(
        "fleet",
        "a new running pod on n-1 after it registered again",
        |pods| {
            let on_node: Vec<_> = pods.iter().filter(|(k, _)| k.node() == "n-1").collect();
            match on_node.as_slice() {
                [(_, pod)] if pod.metadata.as_ref().unwrap().uid != old_uid && !deleting(pod) => {
                    Ok(())
                }
                other => Err(format!("{} pods on n-1", other.len())),
            }
        },
    )
    .await;
    c.wait_one_per_node("fleet", &["n-0", "n-1"]).await;
    c.wait_status("fleet", Counts::all(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_stops_heartbeating_keeps_its_pod_but_stops_counting_it() {
    let mut c = Cluster::start_with_registry(|registry| {
        registry.not_ready_after = Duration::from_secs(1);
        registry.remove_after = Duration::ZERO;
    })
    .await;
    c.agents("n", 2, &[]).await;
    c.agent("flaky").await;
    c.create(&daemonset("steady", "")).await;
    let before = c
        .wait_one_per_node("steady", &["flaky", "n-0", "n-1"])
        .await;
    c.wait_status("steady", Counts::all(3)).await;

    // The agent dies: the node becomes NotReady and gets the unreachable taints. Daemon pods
    // tolerate `unreachable:NoExecute`, so the pod stays; they do not tolerate
    // `unreachable:NoSchedule`, so (as in Kubernetes) the node no longer counts as desired and
    // its pod counts as misscheduled, neither ready nor available. Its endpoint is not ready.
    c.stop_agent("flaky").await;
    c.wait_status(
        "steady",
        Counts {
            misscheduled: 1,
            ..Counts::all(2)
        },
    )
    .await;
    let endpoints = c
        .endpoints(0)
        .list(v1::EndpointsListRequest {
            namespace: String::new(),
            name: "steady".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .endpoints;
    let flaky = endpoints.iter().find(|e| e.node_name == "flaky").unwrap();
    assert!(!flaky.ready, "{flaky:?}");
    let kept = c
        .wait_one_per_node("steady", &["flaky", "n-0", "n-1"])
        .await;
    assert_eq!(uid(&kept["flaky"]), uid(&before["flaky"]));

    // It comes back and recovers its pod: ready again, same pod.
    c.agent("flaky").await;
    c.wait_status("steady", Counts::all(3)).await;
    let after = c
        .wait_one_per_node("steady", &["flaky", "n-0", "n-1"])
        .await;
    assert_eq!(uid(&after["flaky"]), uid(&before["flaky"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_selector_and_relabelling_move_pods_in_and_out() {
    let mut c = Cluster::start().await;
    c.agents("n", 3, &[]).await;
    c.label("n-0", "disk", "ssd").await;
    c.create(&daemonset("ssd", "      nodeSelector: {disk: ssd}"))
        .await;
    c.wait_one_per_node("ssd", &["n-0"]).await;
    c.wait_status("ssd", Counts::all(1)).await;

    c.label("n-1", "disk", "ssd").await;
    c.wait_one_per_node("ssd", &["n-0", "n-1"]).await;
    c.wait_status("ssd", Counts::all(2)).await;

    c.unlabel("n-0", "disk").await;
    c.wait_one_per_node("ssd", &["n-1"]).await;
    c.wait_status("ssd", Counts::all(1)).await;

    c.label("n-1", "disk", "hdd").await;
    c.wait_pods("ssd", "no pod left", |pods| {
        if pods.is_empty() {
            Ok(())
        } else {
            Err("pods left".into())
        }
    })
    .await;
    c.wait_status("ssd", Counts::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_affinity_and_the_1_3_affinity_annotation_pick_the_nodes() {
    let mut c = Cluster::start().await;
    c.agents("n", 3, &[]).await;
    for (node, zone) in [("n-0", "a"), ("n-1", "b"), ("n-2", "c")] {
        c.label(node, "zone", zone).await;
    }
    c.create(&daemonset(
        "affine",
        r#"      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: zone, operator: In, values: [a, b]}"#,
    ))
    .await;
    c.create(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: legacy
spec:
  selector:
    matchLabels: {app: legacy}
  template:
    metadata:
      labels: {app: legacy}
      annotations:
        scheduler.alpha.kubernetes.io/affinity: >
          {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms": [{"matchExpressions":
          [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: main
        image: example/legacy:1
"#,
    )
    .await;
    c.wait_one_per_node("affine", &["n-0", "n-1"]).await;
    c.wait_one_per_node("legacy", &["n-1", "n-2"]).await;
    c.wait_status("affine", Counts::all(2)).await;
    c.wait_status("legacy", Counts::all(2)).await;

    // Relabelled out of the affinity: the pod goes (affinity is required).
    c.label("n-1", "zone", "c").await;
    c.wait_one_per_node("affine", &["n-0"]).await;
    c.wait_status("affine", Counts::all(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cordoned_node_still_gets_a_daemon_pod() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.update_node(v1::NodesUpdateRequest {
        name: "n-1".into(),
        unschedulable: Some(true),
        ..Default::default()
    })
    .await;
    c.create(&daemonset("cordon", "")).await;
    c.wait_one_per_node("cordon", &["n-0", "n-1"]).await;
    c.wait_status("cordon", Counts::all(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_schedule_keeps_pods_no_execute_evicts_them_and_tolerations_allow_both() {
    let mut c = Cluster::start().await;
    c.agents("n", 3, &[]).await;
    c.create(&daemonset("plain", "")).await;
    c.wait_one_per_node("plain", &["n-0", "n-1", "n-2"]).await;

    // NoSchedule: the running pod stays (counted misscheduled), the node no longer counts.
    c.taint("n-0", "dedicated", "NoSchedule").await;
    c.wait_status(
        "plain",
        Counts {
            misscheduled: 1,
            ..Counts::all(2)
        },
    )
    .await;
    c.wait_one_per_node("plain", &["n-0", "n-1", "n-2"]).await;

    // NoExecute: the pod is evicted.
    c.taint("n-1", "evict", "NoExecute").await;
    c.wait_one_per_node("plain", &["n-0", "n-2"]).await;
    c.wait_status(
        "plain",
        Counts {
            misscheduled: 1,
            ..Counts::all(1)
        },
    )
    .await;

    // A DaemonSet that tolerates everything runs everywhere; a new pod of the plain one is not
    // placed on the NoSchedule node.
    c.create(&daemonset(
        "tolerant",
        "      tolerations: [{operator: Exists}]",
    ))
    .await;
    c.wait_one_per_node("tolerant", &["n-0", "n-1", "n-2"])
        .await;
    c.wait_status("tolerant", Counts::all(3)).await;

    // Untainted: the plain DaemonSet comes back to n-1.
    c.untaint("n-1", "evict").await;
    c.wait_one_per_node("plain", &["n-0", "n-1", "n-2"]).await;
    c.wait_status(
        "plain",
        Counts {
            misscheduled: 1,
            ..Counts::all(2)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_pod_is_replaced() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("replace", "")).await;
    let before = c.wait_one_per_node("replace", &["n-0", "n-1"]).await;
    let victim = before["n-0"].clone();

    let deleted = c
        .pods(0)
        .delete(v1::PodsDeleteRequest {
            namespace: "default".into(),
            name: support::meta(&victim).name.clone(),
            grace_period_seconds: Some(0),
        })
        .await
        .unwrap()
        .into_inner()
        .pod
        .unwrap();
    assert_eq!(uid(&deleted), uid(&victim));

    let after = c.wait_one_per_node("replace", &["n-0", "n-1"]).await;
    assert_ne!(uid(&after["n-0"]), uid(&victim), "a new pod on n-0");
    assert_eq!(uid(&after["n-1"]), uid(&before["n-1"]), "n-1 untouched");
    c.wait_status("replace", Counts::all(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_pod_is_replaced_with_back_off() {
    let mut c = Cluster::start().await;
    c.agents("n", 1, &[]).await;
    c.create(&daemonset("crash", "")).await;
    let mut deleted_at = Vec::new();
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        let pods = c.wait_one_per_node("crash", &["n-0"]).await;
        let pod = pods["n-0"].clone();
        // The pod fails (as an eviction would report it).
        let mut failed = pod.clone();
        let status = failed.status.get_or_insert_with(Default::default);
        status.phase = "Failed".into();
        status.reason = "Evicted".into();
        for condition in &mut status.conditions {
            condition.status = "False".into();
        }
        let key = everynode_bus::PodKey::new("n-0", "default", &support::meta(&pod).name).unwrap();
        c.pods_kv.put(&key, &failed).await.unwrap();
        let old = uid(&pod);
        c.wait_pods("crash", "the failed pod to be deleted", |pods| {
            if pods.iter().any(|(_, p)| uid(p) == old) {
                Err("still there".into())
            } else {
                Ok(())
            }
        })
        .await;
        deleted_at.push(start.elapsed());
    }
    c.wait_one_per_node("crash", &["n-0"]).await;
    c.wait_status("crash", Counts::all(1)).await;
    // 1 s, then 2 s between deletions on the node (Kubernetes' failed-pod back-off).
    let gaps: Vec<Duration> = deleted_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(900) && gaps[1] >= Duration::from_millis(1900),
        "deletions at {deleted_at:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_pod_is_pruned_and_the_oldest_kept() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("dup", "")).await;
    let before = c.wait_one_per_node("dup", &["n-0", "n-1"]).await;
    let original = before["n-0"].clone();

    // Someone starts a second pod of the DaemonSet on n-0, directly through its agent.
    let mut extra = original.clone();
    let meta = extra.metadata.as_mut().unwrap();
    meta.name = "dup-extra".into();
    meta.uid = "extra-uid".into();
    meta.resource_version.clear();
    let created = meta.creation_timestamp.unwrap_or_default();
    meta.creation_timestamp = Some(prost_types::Timestamp {
        seconds: created.seconds + 5,
        nanos: 0,
    });
    extra.status = None;
    let reply = support::agent_command(
        c.client(),
        "n-0",
        v1::pod_command::Command::Create(v1::PodCreate { pod: Some(extra) }),
    )
    .await;
    assert_eq!(
        reply.outcome,
        v1::PodCommandOutcome::Created as i32,
        "{reply:?}"
    );
    c.wait_pods("dup", "the duplicate to be deleted", |pods| {
        if pods.iter().any(|(_, p)| uid(p) == "extra-uid") {
            Err("the duplicate is still there".into())
        } else {
            Ok(())
        }
    })
    .await;
    let after = c.wait_one_per_node("dup", &["n-0", "n-1"]).await;
    assert_eq!(uid(&after["n-0"]), uid(&original), "the oldest pod stays");
    c.wait_status("dup", Counts::all(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_and_foreground_deletes_cascade_to_pods_and_revisions() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("bg", "")).await;
    c.create(&daemonset("fg", "")).await;
    c.wait_one_per_node("bg", &["n-0", "n-1"]).await;
    c.wait_one_per_node("fg", &["n-0", "n-1"]).await;
    let revisions = revision_store(&c).await;
    assert_eq!(revisions_of(&revisions, "bg").await, 1);

    c.delete("bg", v1::PropagationPolicy::Background).await;
    assert!(
        c.get("bg").await.is_none(),
        "background: the DaemonSet goes at once"
    );
    c.wait_pods("bg", "the pods of bg to be deleted", |pods| {
        if pods.is_empty() {
            Ok(())
        } else {
            Err("pods left".into())
        }
    })
    .await;
    everynode_testkit::eventually("the revisions of bg to be deleted", WAIT, || async {
        match revisions_of(&revisions, "bg").await {
            0 => Ok(()),
            n => Err(format!("{n} left")),
        }
    })
    .await;

    // Foreground: the Delete call returns once the pods are gone, and the object with them.
    let last = c.delete("fg", v1::PropagationPolicy::Foreground).await;
    assert!(last.metadata.unwrap().deletion_timestamp.is_some());
    assert!(
        c.get("fg").await.is_none(),
        "foreground: gone when Delete returns"
    );
    let left = c.pods_of("fg").await.unwrap();
    assert!(left.is_empty(), "pods left: {}", support::describe(&left));
    assert_eq!(revisions_of(&revisions, "fg").await, 0);
}

async fn revision_store(
    c: &Cluster,
) -> everynode_bus::Store<everynode_bus::RevisionKey, v1::ControllerRevision> {
    c.store().await
}

async fn revisions_of(
    store: &everynode_bus::Store<everynode_bus::RevisionKey, v1::ControllerRevision>,
    ds: &str,
) -> usize {
    store
        .list()
        .await
        .unwrap()
        .entries
        .iter()
        .filter(|e| {
            e.value.metadata.as_ref().is_some_and(|m| {
                m.owner_references
                    .iter()
                    .any(|o| o.name == ds && o.controller == Some(true))
            })
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orphan_delete_keeps_the_pods_and_a_new_daemonset_adopts_them_without_restarts() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("keep", "")).await;
    let before = c.wait_one_per_node("keep", &["n-0", "n-1"]).await;
    c.wait_status("keep", Counts::all(2)).await;

    c.delete("keep", v1::PropagationPolicy::Orphan).await;
    everynode_testkit::eventually("keep to be removed", WAIT, || async {
        match c.get("keep").await {
            None => Ok(()),
            Some(ds) => Err(format!("finalizers {:?}", ds.metadata.unwrap().finalizers)),
        }
    })
    .await;
    let orphans = c.wait_one_per_node("keep", &["n-0", "n-1"]).await;
    for (node, pod) in &orphans {
        assert_eq!(uid(pod), uid(&before[node]), "same pod on {node}");
        assert_eq!(owner_uid(pod), None, "released on {node}");
    }

    // A new DaemonSet with the same selector and template adopts them: same pods, no restart.
    let manifest = daemonset("keep", "").replace("name: keep\n", "name: keeper\n");
    let keeper = c.create(&manifest).await;
    c.wait_pods("keep", "the orphans to be adopted by keeper", |pods| {
        let adopted = pods
            .iter()
            .filter(|(_, p)| owner_uid(p) == Some(ds_uid(&keeper)))
            .count();
        if adopted == 2 && pods.len() == 2 {
            Ok(())
        } else {
            Err(format!("{adopted} adopted"))
        }
    })
    .await;
    let adopted = c.wait_one_per_node("keep", &["n-0", "n-1"]).await;
    for (node, pod) in &adopted {
        assert_eq!(uid(pod), uid(&before[node]), "not restarted on {node}");
    }
    c.wait_status("keeper", Counts::all(2)).await;
}

/// A cluster without controller and twelve fake-runtime nodes `n-0` … `n-11` (pods ready
/// 150 ms after they start, so a rollout takes a few seconds); the nodes' names.
async fn twelve_nodes_without_controller() -> (Cluster, Vec<String>) {
    let mut c = Cluster::without_controller().await;
    c.agents_with("n", 12, &[], |config| {
        config.fake.ready_delay = Duration::from_millis(150);
    })
    .await;
    (c, (0..12).map(|i| format!("n-{i}")).collect())
}

/// Fencing: the active controller is frozen (SIGSTOP) mid-rollout for longer than its lease;
/// the standby takes over with a new, larger term and announces it; the frozen one is thawed
/// with its in-flight work. Whatever it still sends carries the old term and is refused: no
/// node ever has two pods of the DaemonSet, the rollout completes under the new term, and the
/// thawed controller stands by.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_controller_paused_past_its_lease_cannot_act_after_its_successor() {
    let (mut c, nodes) = twelve_nodes_without_controller().await;
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let first = c.spawn_controller_process(env!("CARGO_BIN_EXE_everynode-controller"), "first");
    let signal = |signal| {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(first.id()).unwrap());
        nix::sys::signal::kill(pid, signal).unwrap();
    };
    c.wait_holder("first").await;
    let first_term = c.lease_term().await;
    assert!(first_term > 0);
    c.start_controller().await;
    let monitor = support::Monitor::start(&c, "fenced", &[]);
    c.create(&daemonset("fenced", "")).await;
    c.wait_one_per_node("fenced", &names).await;
    c.update("fenced", |ds| {
        let template = ds.spec.as_mut().unwrap().template.as_mut().unwrap();
        template.spec.as_mut().unwrap().containers[0].image = "example/fenced:2".into();
    })
    .await;
    c.wait_updated("fenced", "example/fenced:2", 2).await;
    signal(nix::sys::signal::Signal::SIGSTOP);
    c.wait_taken_over_from("first").await;
    let second_term = c.lease_term().await;
    assert!(second_term > first_term, "{second_term} > {first_term}");
    // Thaw the old leader while the new one is rolling out.
    signal(nix::sys::signal::Signal::SIGCONT);
    c.wait_rolled_out("fenced", "example/fenced:2", 12).await;
    c.wait_status("fenced", Counts::all(12)).await;
    let seen = monitor.finish().await;
    assert!(seen.polls > 10, "{seen:?}");
    assert_eq!(
        seen.max_per_node, 1,
        "never two pods on a node: {}",
        seen.worst
    );
    assert_ne!(c.lease_holder().await, "first", "the thawed one stands by");
    assert_eq!(c.lease_term().await, second_term);
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_controller_killed_mid_rollout_is_replaced_by_the_standby_without_duplicates() {
    let (mut c, nodes) = twelve_nodes_without_controller().await;
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let mut first = c.spawn_controller_process(env!("CARGO_BIN_EXE_everynode-controller"), "first");
    c.wait_holder("first").await;
    let standby = c.start_controller().await;
    let monitor = support::Monitor::start(&c, "ha", &[]);
    c.create(&daemonset("ha", "")).await;
    c.wait_one_per_node("ha", &names).await;
    c.wait_status("ha", Counts::all(12)).await;

    // A rolling update (maxUnavailable 1) that takes a few seconds; the active controller is
    // killed (SIGKILL: no lease release) in the middle of it.
    let availability = support::Monitor::start(&c, "ha", &names);
    c.update("ha", |ds| {
        let template = ds.spec.as_mut().unwrap().template.as_mut().unwrap();
        template.spec.as_mut().unwrap().containers[0].image = "example/ha:2".into();
    })
    .await;
    c.wait_updated("ha", "example/ha:2", 2).await;
    first.kill();
    let killed_at = tokio::time::Instant::now();
    let updated_at_kill = c
        .pods_of("ha")
        .await
        .unwrap()
        .iter()
        .filter(|(_, p)| p.spec.as_ref().unwrap().containers[0].image == "example/ha:2")
        .count();

    // The standby serves the read API all along, and takes over within a few seconds.
    let listed = c
        .pods(standby)
        .list(v1::PodsListRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!listed.items.is_empty());
    c.wait_taken_over_from("first").await;
    let takeover = killed_at.elapsed();
    c.wait_rolled_out("ha", "example/ha:2", 12).await;
    c.wait_status("ha", Counts::all(12)).await;
    let availability = availability.finish().await;

    // The killed one comes back, as a standby: nothing changes.
    let mut again =
        c.spawn_controller_process(env!("CARGO_BIN_EXE_everynode-controller"), "first-again");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = monitor.finish().await;
    c.wait_one_per_node("ha", &names).await;
    again.kill();
    assert!(
        updated_at_kill < 12,
        "the kill was mid-rollout ({updated_at_kill} updated)"
    );
    assert!(seen.polls > 10, "{seen:?}");
    assert_eq!(
        seen.max_per_node, 1,
        "never two pods on a node: {}",
        seen.worst
    );
    assert_eq!(
        availability.max_unavailable, 1,
        "maxUnavailable held across the takeover: {}",
        availability.worst
    );
    assert!(
        takeover < Duration::from_secs(5),
        "takeover took {takeover:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_update_keeps_at_most_max_unavailable_nodes_unavailable() {
    let mut c = Cluster::start().await;
    c.agents_with("n", 4, &[], |config| {
        config.fake.ready_delay = Duration::from_millis(200);
    })
    .await;
    c.create(&daemonset("roll", "")).await;
    c.wait_one_per_node("roll", &["n-0", "n-1", "n-2", "n-3"])
        .await;
    c.wait_status("roll", Counts::all(4)).await;

    let monitor = support::Monitor::start(&c, "roll", &["n-0", "n-1", "n-2", "n-3"]);
    c.update("roll", |ds| {
        let template = ds.spec.as_mut().unwrap().template.as_mut().unwrap();
        template.spec.as_mut().unwrap().containers[0].image = "example/roll:2".into();
    })
    .await;
    c.wait_pods("roll", "every pod on the new image and ready", |pods| {
        let live: Vec<_> = pods.iter().filter(|(_, p)| !deleting(p)).collect();
        let new = live
            .iter()
            .filter(|(_, p)| {
                p.spec.as_ref().unwrap().containers[0].image == "example/roll:2"
                    && support::ready(p)
            })
            .count();
        if new == 4 && live.len() == 4 {
            Ok(())
        } else {
            Err(format!("{new} of 4 updated"))
        }
    })
    .await;
    c.wait_status("roll", Counts::all(4)).await;
    let seen = monitor.finish().await;
    assert!(seen.polls > 10, "{seen:?}");
    assert_eq!(seen.max_unavailable, 1, "maxUnavailable 1: {seen:?}");
    assert_eq!(seen.max_per_node, 1, "no surge: {}", seen.worst);

    // Two revisions are kept.
    let revisions = revision_store(&c).await;
    assert_eq!(revisions_of(&revisions, "roll").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_process_runtime_really_runs_the_daemon() {
    let mut c = Cluster::start().await;
    c.agent_with("host", |config| {
        config.runtime = everynode_agent::RuntimeKind::Process;
    })
    .await;
    c.create(
        &daemonset("sleeper", "").replace("[\"sleep\", \"infinity\"]", "[\"sleep\", \"3600\"]"),
    )
    .await;
    let pods = c.wait_one_per_node("sleeper", &["host"]).await;
    c.wait_status("sleeper", Counts::all(1)).await;
    let pod = &pods["host"];
    let container = &pod.status.as_ref().unwrap().container_statuses[0];
    let pid: u32 = container
        .container_id
        .rsplit("://")
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("container id {:?}", container.container_id));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("sleep"),
        "{cmdline:?}"
    );

    c.delete("sleeper", v1::PropagationPolicy::Background).await;
    c.wait_pods("sleeper", "the pod to be gone", |pods| {
        if pods.is_empty() {
            Ok(())
        } else {
            Err("still there".into())
        }
    })
    .await;
    everynode_testkit::eventually("the process to exit", WAIT, || async {
        match std::fs::read(format!("/proc/{pid}/cmdline")) {
            Ok(cmd) if String::from_utf8_lossy(&cmd).contains("sleep") => Err("still running"),
            _ => Ok(()),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pods_and_endpoints_watches_follow_changes_on_every_replica() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("watched", "")).await;
    let before = c.wait_one_per_node("watched", &["n-0", "n-1"]).await;
    c.wait_status("watched", Counts::all(2)).await;
    let standby = c.start_controller().await;

    // A list on the standby, and watches: one resumed from the list's version, one fresh.
    let mut api = c.pods(standby);
    let listed = everynode_testkit::eventually("the standby to list the pods", WAIT, || {
        let mut api = api.clone();
        async move {
            let listed = api
                .list(v1::PodsListRequest {
                    label_selector: "app=watched".into(),
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            if listed.items.len() == 2 {
                Ok(listed)
            } else {
                Err(format!("{} pods", listed.items.len()))
            }
        }
    })
    .await;
    let mut resumed = api
        .watch(v1::PodsWatchRequest {
            label_selector: "app=watched".into(),
            resource_version: listed.resource_version.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut fresh = api
        .watch(v1::PodsWatchRequest {
            label_selector: "app=watched".into(),
            node_name: "n-0".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = tokio::time::timeout(WAIT, fresh.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.r#type, v1::WatchEventType::Added as i32);
    // Every cache of the standby is ready once its Endpoints API answers.
    let endpoints_api = c.endpoints(standby);
    everynode_testkit::eventually("the standby's endpoints", WAIT, || {
        let mut api = endpoints_api.clone();
        async move {
            let list = api
                .list(v1::EndpointsListRequest {
                    namespace: String::new(),
                    name: "watched".into(),
                })
                .await
                .map_err(|e| e.to_string())?
                .into_inner();
            match list.endpoints.len() {
                2 => Ok(()),
                n => Err(format!("{n} endpoints")),
            }
        }
    })
    .await;
    let mut endpoints = endpoints_api
        .clone()
        .watch(v1::EndpointsWatchRequest {
            namespace: String::new(),
            name: "watched".into(),
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..2 {
        let e = tokio::time::timeout(WAIT, endpoints.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(e.r#type, v1::WatchEventType::Added as i32);
    }

    // Delete the pod on n-0: both watches see it go and its replacement come.
    let victim = uid(&before["n-0"]);
    api.delete(v1::PodsDeleteRequest {
        namespace: String::new(),
        name: support::meta(&before["n-0"]).name.clone(),
        grace_period_seconds: Some(0),
    })
    .await
    .unwrap();
    for (name, stream) in [("resumed", &mut resumed), ("fresh", &mut fresh)] {
        let mut seen: Vec<(i32, String)> = Vec::new();
        let outcome = tokio::time::timeout(WAIT, async {
            while let Some(event) = stream.next().await {
                let event = event.unwrap();
                let pod = event.object.unwrap();
                seen.push((event.r#type, uid(&pod)));
                let gone = seen
                    .iter()
                    .any(|(t, u)| *t == v1::WatchEventType::Deleted as i32 && *u == victim);
                let replaced = seen
                    .iter()
                    .any(|(t, u)| *t == v1::WatchEventType::Added as i32 && *u != victim);
                if gone && replaced {
                    return;
                }
            }
        })
        .await;
        assert!(outcome.is_ok(), "{name} watch saw only {seen:?}");
    }
    let mut changes: BTreeMap<i32, usize> = BTreeMap::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(e)) = endpoints.next().await {
            *changes.entry(e.r#type).or_default() += 1;
            if changes.contains_key(&(v1::WatchEventType::Added as i32)) {
                return;
            }
        }
    })
    .await;
    assert!(
        !changes.is_empty(),
        "the endpoints watch saw the replacement"
    );

    // Resuming from a version older than the kept history is refused.
    let status = api
        .watch(v1::PodsWatchRequest {
            resource_version: "1".into(),
            ..Default::default()
        })
        .await
        .expect_err("a watch from revision 1 is too old for the standby's history");
    assert_eq!(status.code(), tonic::Code::OutOfRange);

    // The active controller stops gracefully: it releases the lease, and the standby takes
    // over at its next attempt instead of after a lease duration.
    let stopped_at = tokio::time::Instant::now();
    c.stop_service(Service::Controller(0)).await;
    everynode_testkit::eventually("the standby to take over", WAIT, || async {
        let holder = c.lease_holder().await;
        if holder.is_empty() {
            Err("released, not taken yet")
        } else {
            Ok(())
        }
    })
    .await;
    let took = stopped_at.elapsed();
    assert!(took < Duration::from_millis(1400), "handover took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_controller_reconverges_after_nats_restarts() {
    let mut c = Cluster::start().await;
    c.agents("n", 2, &[]).await;
    c.create(&daemonset("before", "")).await;
    c.wait_one_per_node("before", &["n-0", "n-1"]).await;

    // NATS crashes and comes back (same port, same store).
    c.nats().kill();
    c.nats().restart().await.unwrap();

    // Changes after the restart reach the controller through its re-established watches.
    let manifest: v1::DaemonSet =
        everynode_api::manifest::decode_one(&daemonset("after", "")).unwrap();
    let client = c.daemonsets();
    everynode_testkit::eventually("admission to take a create again", WAIT, || {
        let mut client = client.clone();
        let ds = manifest.clone();
        async move {
            client
                .create(v1::DaemonSetsCreateRequest {
                    daemon_set: Some(ds),
                    dry_run: false,
                })
                .await
                .map(|_| ())
                .map_err(|s| s.to_string())
        }
    })
    .await;
    c.wait_one_per_node("after", &["n-0", "n-1"]).await;
    c.wait_status("after", Counts::all(2)).await;
    c.label("n-1", "disk", "ssd").await;
    c.create(&daemonset("ssd", "      nodeSelector: {disk: ssd}"))
        .await;
    c.wait_one_per_node("ssd", &["n-1"]).await;
    c.wait_one_per_node("before", &["n-0", "n-1"]).await;
    c.wait_status("before", Counts::all(2)).await;
}

/// The member of the NATS cluster that leads the stream of KV bucket `bucket` (`nats-<i>`).
async fn stream_leader(c: &Cluster, bucket: everynode_bus::names::Bucket) -> usize {
    let js = everynode_bus::async_nats::jetstream::new(c.client().clone());
    let stream = bucket.stream_name();
    everynode_testkit::eventually(&format!("a leader of {stream}"), WAIT, || {
        let js = js.clone();
        let stream = stream.clone();
        async move {
            let mut info = js.get_stream(&stream).await.map_err(|e| e.to_string())?;
            let info = info.info().await.map_err(|e| e.to_string())?;
            let leader = info
                .cluster
                .as_ref()
                .and_then(|cluster| cluster.leader.clone())
                .ok_or_else(|| format!("{stream} has no leader: {:?}", info.cluster))?;
            let replicas = info.config.num_replicas;
            if replicas != 3 {
                return Err(format!("{stream} has {replicas} replicas"));
            }
            leader
                .strip_prefix("nats-")
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| format!("unexpected server name {leader}"))
        }
    })
    .await
}

/// Replicated NATS: three nats-servers as one cluster, every bucket and stream at three
/// replicas. Mid-rollout the member leading the pods bucket is killed (SIGKILL) while
/// DaemonSets keep being created: the rollout completes on the two others, the services ride
/// it out on their existing connections (no restart), and every create that was acknowledged
/// is still there — also after the killed member is back and another member is killed, so the
/// data must have reached the restarted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_member_killed_mid_rollout_loses_no_acknowledged_write() {
    use everynode_bus::names::Bucket;
    let mut c = Cluster::with(everynode_testkit::Stack::builder().nats_members(3)).await;
    c.agents_with("n", 12, &[], |config| {
        config.fake.ready_delay = Duration::from_millis(150);
    })
    .await;
    let nodes: Vec<String> = (0..12).map(|i| format!("n-{i}")).collect();
    let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
    c.create(&daemonset("replicated", "")).await;
    c.wait_one_per_node("replicated", &names).await;
    c.wait_status("replicated", Counts::all(12)).await;

    // Writes acknowledged all along: DaemonSets that select no node.
    let writer = {
        let client = c.daemonsets();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut failed = 0u32;
            for i in 0..400 {
                let name = format!("acked-{i}");
                let yaml = daemonset(&name, "      nodeSelector: {nowhere: \"true\"}");
                let ds: v1::DaemonSet = everynode_api::manifest::decode_one(&yaml).unwrap();
                let mut client = client.clone();
                let created = client
                    .create(v1::DaemonSetsCreateRequest {
                        daemon_set: Some(ds),
                        dry_run: false,
                    })
                    .await;
                match created {
                    Ok(_) => acknowledged.push(name),
                    Err(_) => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            (acknowledged, failed)
        })
    };

    let monitor = support::Monitor::start(&c, "replicated", &[]);
    c.update("replicated", |ds| {
        let template = ds.spec.as_mut().unwrap().template.as_mut().unwrap();
        template.spec.as_mut().unwrap().containers[0].image = "example/replicated:2".into();
    })
    .await;
    c.wait_updated("replicated", "example/replicated:2", 2)
        .await;
    let updated_at_kill = c
        .pods_of("replicated")
        .await
        .unwrap()
        .iter()
        .filter(|(_, p)| p.spec.as_ref().unwrap().containers[0].image == "example/replicated:2")
        .count();
    let victim = stream_leader(&c, Bucket::Pods).await;
    c.nats_cluster().member(victim).kill();
    c.wait_rolled_out("replicated", "example/replicated:2", 12)
        .await;
    c.wait_status("replicated", Counts::all(12)).await;

    // The killed member comes back and catches up; then another member dies, so the quorum
    // must include the restarted one.
    c.nats_cluster().member(victim).restart().await.unwrap();
    let (acknowledged, failed) = writer.await.unwrap();
    let second = (victim + 1) % 3;
    c.nats_cluster().member(second).kill();
    let mut missing = Vec::new();
    for name in &acknowledged {
        let found = everynode_testkit::eventually(&format!("reading {name}"), WAIT, || async {
            let mut client = c.daemonsets();
            match client
                .get(v1::DaemonSetsGetRequest {
                    namespace: "default".into(),
                    name: name.clone(),
                })
                .await
            {
                Ok(_) => Ok(true),
                Err(s) if s.code() == tonic::Code::NotFound => Ok(false),
                Err(s) => Err(s.to_string()),
            }
        })
        .await;
        if !found {
            missing.push(name.clone());
        }
    }
    c.nats_cluster().member(second).restart().await.unwrap();

    // The same service instances still serve (none was restarted), and converge. Until the
    // streams have their leaders again, the services answer UNAVAILABLE: ask again.
    everynode_testkit::eventually("the registry to take a label again", WAIT, || async {
        c.nodes()
            .update(v1::NodesUpdateRequest {
                name: "n-3".into(),
                set_labels: [("after".to_string(), "failover".to_string())].into(),
                overwrite: true,
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|s| s.to_string())
    })
    .await;
    let after: v1::DaemonSet = everynode_api::manifest::decode_one(&daemonset(
        "after",
        "      nodeSelector: {after: failover}",
    ))
    .unwrap();
    everynode_testkit::eventually("admission to take a create again", WAIT, || {
        let mut client = c.daemonsets();
        let ds = after.clone();
        async move {
            match client
                .create(v1::DaemonSetsCreateRequest {
                    daemon_set: Some(ds),
                    dry_run: false,
                })
                .await
            {
                // An earlier attempt may have been stored with its answer lost.
                Ok(_) => Ok(()),
                Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
                Err(s) => Err(s.to_string()),
            }
        }
    })
    .await;
    c.wait_one_per_node("after", &["n-3"]).await;
    let seen = monitor.finish().await;
    assert!(
        updated_at_kill < 12,
        "the kill was mid-rollout ({updated_at_kill} updated)"
    );
    assert!(
        acknowledged.len() > 50,
        "{} creates acknowledged, {failed} failed",
        acknowledged.len()
    );
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged creates lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    assert_eq!(
        seen.max_per_node, 1,
        "never two pods on a node: {}",
        seen.worst
    );
}
