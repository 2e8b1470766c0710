//! What the controller's end-to-end tests share: the whole system from
//! [`everynode_testkit::Stack`] (real nats-server, admission, registry, controller(s) and
//! fake-runtime agents, each in this process on 127.0.0.1:0; a controller can also run as its own
//! process, to be killed with SIGKILL), with the DaemonSet, node and pod operations and waits
//! the tests are written in. Every wait has a deadline and reports what it last saw.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use everynode_api::manifest;
use everynode_api::v1;
use everynode_bus::async_nats;
use everynode_bus::{LeaseKey, PodKey, Store};
use everynode_controller::leader::LeaseRecord;
use everynode_testkit::{Stack, eventually};
use tokio::task::JoinHandle;

/// How long a condition gets.
pub const WAIT: Duration = Duration::from_secs(20);

/// The whole system on one nats-server, and the KV stores the tests read.
pub struct Cluster {
    stack: Stack,
    pub pods_kv: Store<PodKey, v1::Pod>,
    pub leases: Store<LeaseKey, LeaseRecord>,
}

impl Deref for Cluster {
    type Target = Stack;

    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }
}

impl Cluster {
    /// NATS, admission, registry and one controller.
    pub async fn start() -> Self {
        Self::on(Stack::start().await).await
    }

    /// NATS, admission, a registry configured by `adjust`, and one controller.
    pub async fn start_with_registry(
        adjust: impl Fn(&mut everynode_registry::Config) + Send + Sync + 'static,
    ) -> Self {
        Self::on(Stack::builder().configure_registry(adjust).start().await).await
    }

    /// NATS, admission and registry; no controller yet.
    pub async fn without_controller() -> Self {
        Self::on(Stack::builder().controllers(0).start().await).await
    }

    /// The stack `builder` describes.
    pub async fn with(builder: everynode_testkit::StackBuilder) -> Self {
        Self::on(builder.start().await).await
    }

    async fn on(stack: Stack) -> Self {
        Self {
            pods_kv: stack.store().await,
            leases: stack.store().await,
            stack,
        }
    }

    /// Creates the DaemonSet of `yaml` through admission.
    pub async fn create(&self, yaml: &str) -> v1::DaemonSet {
        let ds: v1::DaemonSet = manifest::decode_one(yaml).unwrap();
        self.daemonsets()
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

    /// The DaemonSet `name` of namespace `default`, if it exists.
    pub async fn get(&self, name: &str) -> Option<v1::DaemonSet> {
        match self
            .daemonsets()
            .get(v1::DaemonSetsGetRequest {
                namespace: "default".into(),
                name: name.into(),
            })
            .await
        {
            Ok(r) => r.into_inner().daemon_set,
            Err(s) if s.code() == tonic::Code::NotFound => None,
            Err(s) => panic!("get {name}: {s}"),
        }
    }

    /// Replaces the spec of `name` with `change` applied (retrying on a conflict).
    pub async fn update(&self, name: &str, change: impl Fn(&mut v1::DaemonSet)) -> v1::DaemonSet {
        let mut client = self.daemonsets();
        loop {
            let mut ds = self.get(name).await.unwrap();
            change(&mut ds);
            match client
                .update(v1::DaemonSetsUpdateRequest {
                    daemon_set: Some(ds),
                    dry_run: false,
                })
                .await
            {
                Ok(r) => return r.into_inner().daemon_set.unwrap(),
                Err(s) if s.code() == tonic::Code::Aborted => continue,
                Err(s) => panic!("update {name}: {s}"),
            }
        }
    }

    /// Deletes `name` with `policy`.
    pub async fn delete(&self, name: &str, policy: v1::PropagationPolicy) -> v1::DaemonSet {
        self.daemonsets()
            .delete(v1::DaemonSetsDeleteRequest {
                namespace: "default".into(),
                name: name.into(),
                propagation_policy: policy.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .daemon_set
            .unwrap()
    }

    /// Every pod in KV `pods`, with its key.
    pub async fn all_pods(&self) -> Result<Vec<(PodKey, v1::Pod)>, String> {
        let listing = self.pods_kv.list().await.map_err(|e| e.to_string())?;
        Ok(listing
            .entries
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect())
    }

    /// The pods labelled `app=<app>`, as `Pod`s.
    pub async fn pods_of(&self, app: &str) -> Result<Vec<(PodKey, v1::Pod)>, String> {
        Ok(self
            .all_pods()
            .await?
            .into_iter()
            .filter(|(_, p)| label(p, "app") == Some(app))
            .collect())
    }

    /// Waits until `check` accepts the pods labelled `app=<app>`.
    pub async fn wait_pods<T>(
        &self,
        app: &str,
        what: &str,
        check: impl Fn(&[(PodKey, v1::Pod)]) -> Result<T, String>,
    ) -> T {
        eventually(what, WAIT, || async {
            let pods = self.pods_of(app).await?;
            check(&pods).map_err(|e| format!("{e}; pods: {}", describe(&pods)))
        })
        .await
    }

    /// Waits until every node in `nodes` (and no other) runs exactly one live, running pod of
    /// `app`; returns the pods by node.
    pub async fn wait_one_per_node(&self, app: &str, nodes: &[&str]) -> BTreeMap<String, v1::Pod> {
        let mut want: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        want.sort();
        self.wait_pods(
            app,
            &format!("one running {app} pod on each of {want:?}"),
            |pods| {
                let live: Vec<&(PodKey, v1::Pod)> =
                    pods.iter().filter(|(_, p)| !deleting(p)).collect();
                let mut by_node: BTreeMap<String, v1::Pod> = BTreeMap::new();
                for (key, pod) in &live {
                    if by_node
                        .insert(key.node().to_string(), pod.clone())
                        .is_some()
                    {
                        return Err(format!("two pods on {}", key.node()));
                    }
                }
                let have: Vec<String> = by_node.keys().cloned().collect();
                if have != want {
                    return Err(format!("pods on {have:?}"));
                }
                if let Some((node, _)) = by_node.iter().find(|(_, p)| !running(p)) {
                    return Err(format!("the pod on {node} is not running yet"));
                }
                Ok(by_node)
            },
        )
        .await
    }

    /// Waits until the status of `name` has these counters (and observedGeneration is the
    /// generation).
    pub async fn wait_status(&self, name: &str, want: Counts) -> v1::DaemonSet {
        eventually(
            &format!("status of {name} to be {want:?}"),
            WAIT,
            || async {
                let ds = self.get(name).await.ok_or("no such DaemonSet")?;
                let status = ds.status.clone().unwrap_or_default();
                let generation = ds.metadata.as_ref().map_or(0, |m| m.generation);
                let seen = Counts::of(&status);
                if seen == want && status.observed_generation == generation {
                    Ok(ds)
                } else {
                    Err(format!(
                        "{seen:?}, observedGeneration {} of generation {generation}",
                        status.observed_generation
                    ))
                }
            },
        )
        .await
    }

    /// Label, taint, cordon through the registry.
    pub async fn update_node(&self, request: v1::NodesUpdateRequest) {
        self.nodes().update(request).await.unwrap();
    }

    pub async fn label(&self, node: &str, key: &str, value: &str) {
        self.update_node(v1::NodesUpdateRequest {
            name: node.into(),
            set_labels: [(key.to_string(), value.to_string())].into(),
            overwrite: true,
            ..Default::default()
        })
        .await;
    }

    pub async fn unlabel(&self, node: &str, key: &str) {
        self.update_node(v1::NodesUpdateRequest {
            name: node.into(),
            remove_labels: vec![key.to_string()],
            ..Default::default()
        })
        .await;
    }

    pub async fn taint(&self, node: &str, key: &str, effect: &str) {
        self.update_node(v1::NodesUpdateRequest {
            name: node.into(),
            add_taints: vec![v1::Taint {
                key: key.into(),
                value: String::new(),
                effect: effect.into(),
                time_added: None,
            }],
            overwrite: true,
            ..Default::default()
        })
        .await;
    }

    pub async fn untaint(&self, node: &str, key: &str) {
        self.update_node(v1::NodesUpdateRequest {
            name: node.into(),
            remove_taints: vec![v1::TaintKey {
                key: key.into(),
                effect: String::new(),
            }],
            ..Default::default()
        })
        .await;
    }

    /// The holder of the controller lease ("" when released or absent).
    /// Waits until at least `count` pods of `app` run `image` (a rollout under way).
    pub async fn wait_updated(&self, app: &str, image: &str, count: usize) {
        self.wait_pods(app, "the rollout to be under way", |pods| {
            let updated = pods
                .iter()
                .filter(|(_, p)| p.spec.as_ref().unwrap().containers[0].image == image)
                .count();
            if updated >= count {
                Ok(())
            } else {
                Err(format!("{updated} updated"))
            }
        })
        .await;
    }

    /// Waits until exactly `count` live pods of `app` run `image`, all ready (a rollout done).
    pub async fn wait_rolled_out(&self, app: &str, image: &str, count: usize) {
        self.wait_pods(app, "the rollout to finish", |pods| {
            let live: Vec<_> = pods.iter().filter(|(_, p)| !deleting(p)).collect();
            let done = live
                .iter()
                .filter(|(_, p)| p.spec.as_ref().unwrap().containers[0].image == image && ready(p))
                .count();
            if done == count && live.len() == count {
                Ok(())
            } else {
                Err(format!("{done} of {count}"))
            }
        })
        .await;
    }

    /// Waits until `holder` holds the lease.
    pub async fn wait_holder(&self, holder: &str) {
        eventually(&format!("{holder} to lead"), WAIT, || async {
            match self.lease_holder().await.as_str() {
                current if current == holder => Ok(()),
                other => Err(format!("holder {other:?}")),
            }
        })
        .await;
    }

    /// Waits until the lease is held by someone other than `former` (and not released).
    pub async fn wait_taken_over_from(&self, former: &str) {
        eventually("the standby to take the lease", WAIT, || async {
            match self.lease_holder().await.as_str() {
                "" => Err("released".to_string()),
                holder if holder == former => Err(format!("still {holder}")),
                _ => Ok(()),
            }
        })
        .await;
    }

    pub async fn lease_term(&self) -> u64 {
        self.leases
            .get(&LeaseKey::new("controller").unwrap())
            .await
            .unwrap()
            .map_or(0, |v| v.value.term)
    }

    pub async fn lease_holder(&self) -> String {
        self.leases
            .get(&LeaseKey::new("controller").unwrap())
            .await
            .unwrap()
            .map(|v| v.value.holder_identity)
            .unwrap_or_default()
    }
}

/// The status counters the tests check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub desired: i32,
    pub current: i32,
    pub ready: i32,
    pub available: i32,
    pub updated: i32,
    pub misscheduled: i32,
}

impl Counts {
    /// Everything `n` (all pods ready and up to date), nothing misscheduled.
    pub fn all(n: i32) -> Self {
        Self {
            desired: n,
            current: n,
            ready: n,
            available: n,
            updated: n,
            misscheduled: 0,
        }
    }

    pub fn of(status: &v1::DaemonSetStatus) -> Self {
        Self {
            desired: status.desired_number_scheduled,
            current: status.current_number_scheduled,
            ready: status.number_ready,
            available: status.number_available,
            updated: status.updated_number_scheduled,
            misscheduled: status.number_misscheduled,
        }
    }
}

pub fn meta(pod: &v1::Pod) -> &v1::ObjectMeta {
    pod.metadata.as_ref().unwrap()
}

pub fn uid(pod: &v1::Pod) -> String {
    meta(pod).uid.clone()
}

pub fn label<'a>(pod: &'a v1::Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .as_ref()
        .and_then(|m| m.labels.get(key))
        .map(String::as_str)
}

pub fn deleting(pod: &v1::Pod) -> bool {
    pod.metadata
        .as_ref()
        .is_some_and(|m| m.deletion_timestamp.is_some())
}

pub fn ready(pod: &v1::Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.r#type == "Ready" && c.status == "True")
    })
}

pub fn running(pod: &v1::Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| s.phase == "Running")
}

pub fn owner_uid(pod: &v1::Pod) -> Option<String> {
    pod.metadata
        .as_ref()
        .and_then(|m| {
            m.owner_references
                .iter()
                .find(|o| o.controller == Some(true))
        })
        .map(|o| o.uid.clone())
}

pub fn ds_uid(ds: &v1::DaemonSet) -> String {
    ds.metadata.as_ref().unwrap().uid.clone()
}

/// A short description of pods for failure messages.
pub fn describe(pods: &[(PodKey, v1::Pod)]) -> String {
    let parts: Vec<String> = pods
        .iter()
        .map(|(k, p)| {
            format!(
                "{}@{}[{}{}{}]",
                k.name(),
                k.node(),
                p.status.as_ref().map_or("?", |s| s.phase.as_str()),
                if ready(p) { ",ready" } else { "" },
                if deleting(p) { ",deleting" } else { "" },
            )
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

/// A DaemonSet manifest: `app=<name>` selector and template, one container, `extra` appended
/// to the pod spec (indented as pod spec fields), `strategy` as the update strategy block.
pub fn daemonset(name: &str, extra_spec: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: main
        image: example/{name}:1
        command: ["sleep", "infinity"]
{extra_spec}
"#
    )
}

/// Sends `command` to the agent of `node` and returns its reply.
pub async fn agent_command(
    client: &async_nats::Client,
    node: &str,
    command: v1::pod_command::Command,
) -> v1::PodCommandReply {
    use prost::Message;
    let subject =
        everynode_bus::names::agent_pods_subject(&everynode_bus::NodeKey::new(node).unwrap());
    // As the current leader would send it: with the lease's term (agents refuse older ones).
    let leases = everynode_bus::Store::<everynode_bus::LeaseKey, v1::Lease>::open(
        &everynode_bus::async_nats::jetstream::new(client.clone()),
    )
    .await
    .unwrap();
    let term = leases
        .list()
        .await
        .unwrap()
        .entries
        .iter()
        .map(|entry| entry.value.term)
        .max()
        .unwrap_or(0);
    let payload = v1::PodCommand {
        node_name: node.to_string(),
        command: Some(command),
        term,
    }
    .encode_to_vec();
    let answer = tokio::time::timeout(WAIT, client.request(subject, payload.into()))
        .await
        .unwrap()
        .unwrap();
    v1::PodCommandReply::decode(answer.payload).unwrap()
}

/// What a [`Monitor`] saw: the most live pods of the app on one node, and the most nodes
/// (of the ones it was told) without a ready live pod, at any poll.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub max_per_node: usize,
    pub max_unavailable: usize,
    pub polls: usize,
    pub worst: String,
}

/// Polls KV `pods` in the background (every 10 ms) and records [`Seen`] for an app.
pub struct Monitor {
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<Seen>,
}

impl Monitor {
    /// Starts watching the pods labelled `app=<app>` on `nodes`.
    pub fn start(cluster: &Cluster, app: &str, nodes: &[&str]) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let store = cluster.pods_kv.clone();
        let app = app.to_string();
        let nodes: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        let task = tokio::spawn(async move {
            let mut seen = Seen::default();
            loop {
                if *stopped.borrow() {
                    return seen;
                }
                if let Ok(listing) = store.list().await {
                    let pods: Vec<(PodKey, v1::Pod)> = listing
                        .entries
                        .into_iter()
                        .filter(|e| label(&e.value, "app") == Some(app.as_str()))
                        .map(|e| (e.key, e.value))
                        .collect();
                    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
                    let mut available: BTreeMap<&str, bool> = BTreeMap::new();
                    for (key, pod) in &pods {
                        if deleting(pod) {
                            continue;
                        }
                        *per_node.entry(key.node()).or_default() += 1;
                        if ready(pod) {
                            available.insert(key.node(), true);
                        }
                    }
                    let most = per_node.values().copied().max().unwrap_or(0);
                    let unavailable = nodes
                        .iter()
                        .filter(|n| !available.contains_key(n.as_str()))
                        .count();
                    if most > seen.max_per_node || unavailable > seen.max_unavailable {
                        seen.worst = describe(&pods);
                    }
                    seen.max_per_node = seen.max_per_node.max(most);
                    seen.max_unavailable = seen.max_unavailable.max(unavailable);
                    seen.polls += 1;
                }
                tokio::select! {
                    _ = stopped.changed() => {}
                    () = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
            }
        });
        Self { stop, task }
    }

    /// Stops polling and returns what was seen.
    pub async fn finish(self) -> Seen {
        let _ = self.stop.send(true);
        self.task.await.unwrap()
    }
}
