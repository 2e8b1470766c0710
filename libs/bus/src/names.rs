//! Every NATS name everynode uses: the events stream, the event and command subjects, the KV
//! buckets and their key formats. No subject, stream, bucket or key is spelled anywhere else.
//!
//! | what | name |
//! |---|---|
//! | events stream | `EVERYNODE_EVENTS` over `everynode.events.>` |
//! | DaemonSet events | `everynode.events.daemonset.<namespace>.<name>` |
//! | Node events | `everynode.events.node.<node>` |
//! | pod commands (request/reply) | `everynode.agent.<node>.pods` |
//! | node heartbeats (core NATS, in no stream) | `everynode.heartbeat.node.<node>` |
//! | KV `daemonsets` | `<namespace>.<name>` |
//! | KV `nodes` | `<node>` |
//! | KV `pods` | `<node>.<namespace>.<name>` |
//! | KV `revisions` | `<namespace>.<name>` |
//! | KV `leases` | `<name>` |
//! | KV `tokens` | `<token id>` |
//!
//! # Token escaping
//!
//! A `.` separates subject tokens (and KV keys are subjects), `*` and `>` are wildcards, and KV
//! keys only allow `[-/_=.a-zA-Z0-9]`; Kubernetes names may contain dots (`kube-proxy.v2`, a
//! node `ip-10-0-0-1.ec2.internal`). So every name is *escaped* into one token:
//!
//! - ASCII letters, digits and `-` stand for themselves;
//! - every other byte of the name's UTF-8 encoding, `_` included, becomes `_XX` with `XX` its
//!   value in two UPPERCASE hex digits: `.` → `_2E`, `_` → `_5F`, `/` → `_2F`, `é` → `_C3_A9`.
//!
//! `kube-proxy.v2` in `kube-system` is the key `kube-system.kube-proxy_2Ev2`. An escaped token
//! never contains `.`, so splitting a key on `.` always yields the original parts: parsing is
//! unambiguous. Unescaping is strict (uppercase hex only, no escape of a character that needs
//! none, valid UTF-8), so every name has exactly one token and every valid token exactly one name.
//! Names must not be empty.

use std::fmt;
use std::marker::PhantomData;

/// The JetStream stream holding all events.
pub const EVENTS_STREAM: &str = "EVERYNODE_EVENTS";
/// Every event subject (the stream's subject filter).
pub const EVENTS_ALL: &str = "everynode.events.>";
/// Every DaemonSet event subject.
pub const DAEMONSET_EVENTS_ALL: &str = "everynode.events.daemonset.>";
/// Every Node event subject.
pub const NODE_EVENTS_ALL: &str = "everynode.events.node.*";
/// Every agent's pod command subject (for a process simulating many nodes).
pub const AGENT_PODS_ALL: &str = "everynode.agent.*.pods";
/// Where a controller that has just become the leader announces its lease term to every
/// agent (core NATS, `everynode.v1.TermAnnouncement`): the fencing of older terms' commands.
pub const CONTROLLER_TERM: &str = "everynode.controller.term";
/// Every node heartbeat subject: core NATS messages between registry replicas, outside the
/// events stream (heartbeats are never stored).
pub const NODE_HEARTBEATS_ALL: &str = "everynode.heartbeat.node.*";

const DAEMONSET_EVENTS_PREFIX: &str = "everynode.events.daemonset.";
const NODE_EVENTS_PREFIX: &str = "everynode.events.node.";
const AGENT_PREFIX: &str = "everynode.agent.";
const AGENT_PODS_SUFFIX: &str = ".pods";
const NODE_HEARTBEAT_PREFIX: &str = "everynode.heartbeat.node.";

/// Byte that starts an escape in a token.
const ESCAPE: u8 = b'_';
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A name, token, key or subject that does not have the required form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {expected} {input:?}: {reason}")]
pub struct NameError {
    /// What was being built or parsed ("pods key", "DaemonSet name", ...).
    pub expected: &'static str,
    /// The offending input.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
}

impl NameError {
    fn new(expected: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            expected,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

/// Escapes a non-empty name into a single subject token / key part (see the module docs).
pub fn escape_token(name: &str) -> Result<String, NameError> {
    if name.is_empty() {
        return Err(NameError::new("name", name, "must not be empty"));
    }
    Ok(escape(name))
}

fn escape(name: &str) -> String {
    let mut token = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        if is_plain(byte) {
            token.push(char::from(byte));
        } else {
            token.push(char::from(ESCAPE));
            token.push(char::from(HEX[usize::from(byte >> 4)]));
            token.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    token
}

/// Reverses [`escape_token`]; rejects anything [`escape_token`] cannot have produced.
pub fn unescape_token(token: &str) -> Result<String, NameError> {
    let invalid = |reason: String| NameError::new("escaped token", token, reason);
    if token.is_empty() {
        return Err(invalid("must not be empty".into()));
    }
    let hex_digit = |byte: u8| HEX.iter().position(|&h| h == byte);
    let mut bytes = token.bytes();
    let mut name = Vec::with_capacity(token.len());
    while let Some(byte) = bytes.next() {
        if is_plain(byte) {
            name.push(byte);
        } else if byte == ESCAPE {
            let (Some(high), Some(low)) = (
                bytes.next().and_then(hex_digit),
                bytes.next().and_then(hex_digit),
            ) else {
                return Err(invalid(
                    "`_` must be followed by two uppercase hex digits".into(),
                ));
            };
            // Both positions are < 16, so this fits a byte.
            let value = u8::try_from(high * 16 + low).unwrap_or(0);
            if is_plain(value) {
                return Err(invalid(format!(
                    "`{}` must not be escaped",
                    char::from(value)
                )));
            }
            name.push(value);
        } else {
            let shown = char::from(byte);
            return Err(invalid(format!(
                "character {shown:?} is not allowed (only letters, digits, `-` and `_XX` escapes)"
            )));
        }
    }
    String::from_utf8(name).map_err(|_| invalid("the escapes do not decode to UTF-8".into()))
}

/// Splits `input` on `.` into exactly `N` escaped tokens and unescapes them.
fn split_tokens<const N: usize>(
    input: &str,
    expected: &'static str,
) -> Result<[String; N], NameError> {
    let parts: Vec<&str> = input.split('.').collect();
    if parts.len() != N {
        return Err(NameError::new(
            expected,
            input,
            format!("expected {N} `.`-separated parts, found {}", parts.len()),
        ));
    }
    let mut names = Vec::with_capacity(N);
    for part in parts {
        names.push(
            unescape_token(part).map_err(|err| NameError::new(expected, input, err.to_string()))?,
        );
    }
    names
        .try_into()
        .map_err(|_| NameError::new(expected, input, "wrong number of parts"))
}

fn non_empty(what: &'static str, value: String) -> Result<String, NameError> {
    if value.is_empty() {
        Err(NameError::new(what, &value, "must not be empty"))
    } else {
        Ok(value)
    }
}

/// The KV buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// DaemonSet spec and status, written by admission; key `<namespace>.<name>`.
    DaemonSets,
    /// Nodes, written by the registry; key `<node>`.
    Nodes,
    /// Pods, each written by the agent of its node; key `<node>.<namespace>.<name>`.
    Pods,
    /// ControllerRevisions (rollout history), written by the controller; key `<namespace>.<name>`.
    Revisions,
    /// Leader leases; key `<name>`.
    Leases,
    /// Bootstrap tokens (their hashes), written by the registry; key `<token id>`.
    Tokens,
}

impl Bucket {
    /// All buckets, in the order they are created.
    pub const ALL: [Bucket; 6] = [
        Bucket::DaemonSets,
        Bucket::Nodes,
        Bucket::Pods,
        Bucket::Revisions,
        Bucket::Leases,
        Bucket::Tokens,
    ];

    /// The JetStream stream that holds the bucket (`KV_<name>`, as NATS names it).
    pub fn stream_name(self) -> String {
        format!("KV_{}", self.name())
    }

    /// The bucket's name in NATS.
    pub const fn name(self) -> &'static str {
        match self {
            Bucket::DaemonSets => "daemonsets",
            Bucket::Nodes => "nodes",
            Bucket::Pods => "pods",
            Bucket::Revisions => "revisions",
            Bucket::Leases => "leases",
            Bucket::Tokens => "tokens",
        }
    }

    /// A one-line description stored with the bucket.
    pub const fn description(self) -> &'static str {
        match self {
            Bucket::DaemonSets => "everynode DaemonSets (spec + status), key <namespace>.<name>",
            Bucket::Nodes => "everynode Nodes, key <node>",
            Bucket::Pods => "everynode Pods, key <node>.<namespace>.<name>",
            Bucket::Revisions => "everynode ControllerRevisions, key <namespace>.<name>",
            Bucket::Leases => "everynode leader leases, key <name>",
            Bucket::Tokens => "everynode bootstrap tokens (hashed), key <token id>",
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed key of one bucket: built from names, encoded into a KV key, parsed back.
pub trait Key: Sized + Clone + fmt::Debug + Send + Sync + 'static {
    /// The bucket the key belongs to.
    const BUCKET: Bucket;
    /// The KV key.
    fn encode(&self) -> String;
    /// Parses a KV key of [`Self::BUCKET`].
    fn decode(key: &str) -> Result<Self, NameError>;
}

/// Key of a namespaced object: `<namespace>.<name>`.
macro_rules! namespaced_key {
    ($(#[$doc:meta])* $ty:ident, $bucket:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty {
            namespace: String,
            name: String,
        }

        impl $ty {
            /// A key for `namespace`/`name`; both must be non-empty.
            pub fn new(
                namespace: impl Into<String>,
                name: impl Into<String>,
            ) -> Result<Self, NameError> {
                Ok(Self {
                    namespace: non_empty("namespace", namespace.into())?,
                    name: non_empty(concat!($what, " name"), name.into())?,
                })
            }

            /// The namespace.
            pub fn namespace(&self) -> &str {
                &self.namespace
            }

            /// The name.
            pub fn name(&self) -> &str {
                &self.name
            }
        }

        impl Key for $ty {
            const BUCKET: Bucket = $bucket;

            fn encode(&self) -> String {
                format!("{}.{}", escape(&self.namespace), escape(&self.name))
            }

            fn decode(key: &str) -> Result<Self, NameError> {
                let [namespace, name] = split_tokens::<2>(key, concat!($what, " key"))?;
                Ok(Self { namespace, name })
            }
        }

        impl KeyFilter<$ty> {
            /// The keys of one namespace.
            pub fn namespace(namespace: &str) -> Result<Self, NameError> {
                Ok(Self::new(format!("{}.*", escape_token(namespace)?)))
            }
        }
    };
}

namespaced_key!(
    /// Key of a DaemonSet in bucket `daemonsets`.
    DaemonSetKey,
    Bucket::DaemonSets,
    "DaemonSet"
);
namespaced_key!(
    /// Key of a ControllerRevision in bucket `revisions`.
    RevisionKey,
    Bucket::Revisions,
    "ControllerRevision"
);

/// Key of a cluster-scoped object: `<name>`.
macro_rules! cluster_key {
    ($(#[$doc:meta])* $ty:ident, $bucket:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty {
            name: String,
        }

        impl $ty {
            /// A key for `name`, which must be non-empty.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                Ok(Self {
                    name: non_empty(concat!($what, " name"), name.into())?,
                })
            }

            /// The name.
            pub fn name(&self) -> &str {
                &self.name
            }
        }

        impl Key for $ty {
            const BUCKET: Bucket = $bucket;

            fn encode(&self) -> String {
                escape(&self.name)
            }

            fn decode(key: &str) -> Result<Self, NameError> {
                let [name] = split_tokens::<1>(key, concat!($what, " key"))?;
                Ok(Self { name })
            }
        }
    };
}

cluster_key!(
    /// Key of a Node in bucket `nodes`; also names the node in subjects.
    NodeKey,
    Bucket::Nodes,
    "Node"
);
cluster_key!(
    /// Key of a leader lease in bucket `leases`.
    LeaseKey,
    Bucket::Leases,
    "lease"
);
cluster_key!(
    /// Key of a bootstrap token in bucket `tokens`: the token's public id.
    TokenKey,
    Bucket::Tokens,
    "bootstrap token"
);

/// Key of a Pod in bucket `pods`: `<node>.<namespace>.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    node: String,
    namespace: String,
    name: String,
}

impl PodKey {
    /// A key for pod `namespace`/`name` on `node`; all must be non-empty.
    pub fn new(
        node: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Result<Self, NameError> {
        Ok(Self {
            node: non_empty("node name", node.into())?,
            namespace: non_empty("namespace", namespace.into())?,
            name: non_empty("Pod name", name.into())?,
        })
    }

    /// The node the pod is bound to.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Key for PodKey {
    const BUCKET: Bucket = Bucket::Pods;

    fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            escape(&self.node),
            escape(&self.namespace),
            escape(&self.name)
        )
    }

    fn decode(key: &str) -> Result<Self, NameError> {
        let [node, namespace, name] = split_tokens::<3>(key, "pods key")?;
        Ok(Self {
            node,
            namespace,
            name,
        })
    }
}

impl KeyFilter<PodKey> {
    /// The pods bound to `node`.
    pub fn node(node: &NodeKey) -> Self {
        Self::new(format!("{}.>", node.encode()))
    }
}

/// A subject filter over the keys of one bucket, for listing and watching part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFilter<K> {
    pattern: String,
    key: PhantomData<fn() -> K>,
}

impl<K: Key> KeyFilter<K> {
    /// Every key of the bucket.
    pub fn all() -> Self {
        Self::new(">".to_owned())
    }

    fn new(pattern: String) -> Self {
        Self {
            pattern,
            key: PhantomData,
        }
    }

    /// The filter as a key pattern (with `*` / `>` wildcards).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// The subject of an event in the `EVERYNODE_EVENTS` stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventSubject {
    /// `everynode.events.daemonset.<namespace>.<name>`
    DaemonSet(DaemonSetKey),
    /// `everynode.events.node.<node>`
    Node(NodeKey),
}

impl EventSubject {
    /// The subject string.
    pub fn render(&self) -> String {
        match self {
            EventSubject::DaemonSet(key) => format!("{DAEMONSET_EVENTS_PREFIX}{}", key.encode()),
            EventSubject::Node(key) => format!("{NODE_EVENTS_PREFIX}{}", key.encode()),
        }
    }

    /// Parses an event subject.
    pub fn parse(subject: &str) -> Result<Self, NameError> {
        let wrap = |err: NameError| NameError::new("event subject", subject, err.to_string());
        if let Some(rest) = subject.strip_prefix(DAEMONSET_EVENTS_PREFIX) {
            DaemonSetKey::decode(rest)
                .map(EventSubject::DaemonSet)
                .map_err(wrap)
        } else if let Some(rest) = subject.strip_prefix(NODE_EVENTS_PREFIX) {
            NodeKey::decode(rest).map(EventSubject::Node).map_err(wrap)
        } else {
            Err(NameError::new(
                "event subject",
                subject,
                format!("must start with {DAEMONSET_EVENTS_PREFIX} or {NODE_EVENTS_PREFIX}"),
            ))
        }
    }
}

impl fmt::Display for EventSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// The request/reply subject on which the agent of `node` takes pod commands.
pub fn agent_pods_subject(node: &NodeKey) -> String {
    let mut subject = String::from(AGENT_PREFIX);
    subject.push_str(&node.encode());
    subject.push_str(AGENT_PODS_SUFFIX);
    subject
}

/// The node whose agent a pod command subject addresses.
pub fn parse_agent_pods_subject(subject: &str) -> Result<NodeKey, NameError> {
    let node = subject
        .strip_prefix(AGENT_PREFIX)
        .and_then(|rest| rest.strip_suffix(AGENT_PODS_SUFFIX))
        .ok_or_else(|| {
            NameError::new(
                "pod command subject",
                subject,
                format!("must look like {AGENT_PREFIX}<node>{AGENT_PODS_SUFFIX}"),
            )
        })?;
    NodeKey::decode(node)
        .map_err(|err| NameError::new("pod command subject", subject, err.to_string()))
}

/// Queue group prefix of agents on their pod command subjects.
const AGENT_QUEUE_PREFIX: &str = "everynode-agent.";
/// Queue group prefix of agent processes simulating many nodes on [`AGENT_PODS_ALL`].
const AGENT_SIMULATOR_QUEUE_PREFIX: &str = "everynode-agent-simulator.";

/// The queue group in which the agent of `node` subscribes to its pod command subject: when two
/// agent processes of one node overlap (a restart), only one of them answers each command.
pub fn agent_queue_group(node: &NodeKey) -> String {
    let mut group = String::from(AGENT_QUEUE_PREFIX);
    group.push_str(&node.encode());
    group
}

/// The queue group of an agent process simulating the nodes `<prefix>-0`, `<prefix>-1`, … on
/// [`AGENT_PODS_ALL`]: one group per prefix, so simulators of other prefixes (which ignore
/// commands for nodes they do not simulate) still get their own copy of every command.
pub fn agent_simulator_queue_group(prefix: &str) -> Result<String, NameError> {
    Ok(format!(
        "{AGENT_SIMULATOR_QUEUE_PREFIX}{}",
        escape_token(prefix)?
    ))
}

/// The core-NATS subject on which registry replicas tell each other that `node` heartbeated.
pub fn node_heartbeat_subject(node: &NodeKey) -> String {
    let mut subject = String::from(NODE_HEARTBEAT_PREFIX);
    subject.push_str(&node.encode());
    subject
}

/// The node a heartbeat subject names.
pub fn parse_node_heartbeat_subject(subject: &str) -> Result<NodeKey, NameError> {
    let node = subject.strip_prefix(NODE_HEARTBEAT_PREFIX).ok_or_else(|| {
        NameError::new(
            "node heartbeat subject",
            subject,
            format!("must look like {NODE_HEARTBEAT_PREFIX}<node>"),
        )
    })?;
    NodeKey::decode(node)
        .map_err(|err| NameError::new("node heartbeat subject", subject, err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_their_own_tokens() {
        assert_eq!(escape_token("kube-proxy").unwrap(), "kube-proxy");
        assert_eq!(escape_token("Node-01").unwrap(), "Node-01");
    }

    #[test]
    fn dots_and_reserved_characters_are_escaped() {
        assert_eq!(escape_token("kube-proxy.v2").unwrap(), "kube-proxy_2Ev2");
        assert_eq!(escape_token("a_b").unwrap(), "a_5Fb");
        assert_eq!(escape_token("*").unwrap(), "_2A");
        assert_eq!(escape_token(">").unwrap(), "_3E");
        assert_eq!(escape_token("a b\t").unwrap(), "a_20b_09");
        assert_eq!(escape_token("x/y=z").unwrap(), "x_2Fy_3Dz");
        assert_eq!(escape_token("é").unwrap(), "_C3_A9");
    }

    #[test]
    fn escaping_round_trips() {
        for name in [
            "a",
            "kube-proxy.v2",
            "ip-10-0-0-1.ec2.internal",
            "_2E",
            "__",
            "a.b.c.d",
            "*.>",
            " spaced out ",
            "ünï.cödé",
            "-",
        ] {
            let token = escape_token(name).unwrap();
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(unescape_token(&token).unwrap(), name, "via {token}");
        }
    }

    #[test]
    fn empty_names_are_rejected() {
        assert!(escape_token("").is_err());
        assert!(DaemonSetKey::new("", "x").is_err());
        assert!(DaemonSetKey::new("ns", "").is_err());
        assert!(NodeKey::new("").is_err());
        assert!(PodKey::new("n", "", "p").is_err());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for token in [
            "", "a.b", "a*", ">", "a b", "a\tb", "_", "_2", "_2e", "_ZZ", "_61", "_2D", "_C3", "é",
            "a/b", "a=b",
        ] {
            assert!(
                unescape_token(token).is_err(),
                "{token:?} should be rejected"
            );
        }
    }

    #[test]
    fn daemonset_keys_with_dotted_names_round_trip() {
        let key = DaemonSetKey::new("kube-system", "kube-proxy.v2").unwrap();
        assert_eq!(key.encode(), "kube-system.kube-proxy_2Ev2");
        assert_eq!(DaemonSetKey::decode(&key.encode()).unwrap(), key);
        let revision = RevisionKey::new("kube-system", "kube-proxy.v2-5d8f").unwrap();
        assert_eq!(RevisionKey::decode(&revision.encode()).unwrap(), revision);
    }

    #[test]
    fn pod_keys_parse_back_into_node_namespace_and_name() {
        let key = PodKey::new("ip-10-0-0-1.ec2.internal", "default", "agent.x-abc12").unwrap();
        assert_eq!(
            key.encode(),
            "ip-10-0-0-1_2Eec2_2Einternal.default.agent_2Ex-abc12"
        );
        let parsed = PodKey::decode(&key.encode()).unwrap();
        assert_eq!(parsed.node(), "ip-10-0-0-1.ec2.internal");
        assert_eq!(parsed.namespace(), "default");
        assert_eq!(parsed.name(), "agent.x-abc12");
    }

    #[test]
    fn keys_with_the_wrong_shape_are_rejected() {
        assert!(DaemonSetKey::decode("default").is_err());
        assert!(DaemonSetKey::decode("default.a.b").is_err());
        assert!(DaemonSetKey::decode("default.").is_err());
        assert!(DaemonSetKey::decode(".x").is_err());
        assert!(PodKey::decode("n.ns").is_err());
        assert!(PodKey::decode("n.ns.p.q").is_err());
        assert!(NodeKey::decode("a.b").is_err());
        assert!(NodeKey::decode("a*").is_err());
        let err = PodKey::decode("n.ns.bad name").unwrap_err();
        assert_eq!(err.expected, "pods key");
    }

    #[test]
    fn cluster_scoped_keys_round_trip() {
        let node = NodeKey::new("worker.1").unwrap();
        assert_eq!(node.encode(), "worker_2E1");
        assert_eq!(NodeKey::decode("worker_2E1").unwrap(), node);
        let lease = LeaseKey::new("controller").unwrap();
        assert_eq!(LeaseKey::decode(&lease.encode()).unwrap(), lease);
    }

    #[test]
    fn keys_are_valid_kv_keys() {
        let keys = [
            PodKey::new("a.b", "c_d", "e f").unwrap().encode(),
            DaemonSetKey::new("ns", ".hidden.").unwrap().encode(),
        ];
        for key in keys {
            assert!(!key.starts_with('.') && !key.ends_with('.'), "{key}");
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b)),
                "{key}"
            );
        }
    }

    #[test]
    fn event_subjects_round_trip() {
        let ds = EventSubject::DaemonSet(DaemonSetKey::new("kube-system", "proxy.v2").unwrap());
        assert_eq!(
            ds.render(),
            "everynode.events.daemonset.kube-system.proxy_2Ev2"
        );
        assert_eq!(EventSubject::parse(&ds.render()).unwrap(), ds);

        let node = EventSubject::Node(NodeKey::new("n1.example").unwrap());
        assert_eq!(node.render(), "everynode.events.node.n1_2Eexample");
        assert_eq!(EventSubject::parse(&node.to_string()).unwrap(), node);

        assert!(EventSubject::parse("everynode.events.pod.x").is_err());
        assert!(EventSubject::parse("everynode.events.node.a.b").is_err());
        assert!(EventSubject::parse("everynode.events.daemonset.ns").is_err());
    }

    #[test]
    fn event_subjects_are_covered_by_the_stream_and_their_filters() {
        let ds = EventSubject::DaemonSet(DaemonSetKey::new("ns", "a.b").unwrap()).render();
        let node = EventSubject::Node(NodeKey::new("n.1").unwrap()).render();
        let stream_prefix = EVENTS_ALL.trim_end_matches('>');
        assert!(ds.starts_with(stream_prefix) && node.starts_with(stream_prefix));
        assert!(ds.starts_with(DAEMONSET_EVENTS_ALL.trim_end_matches('>')));
        let node_prefix = NODE_EVENTS_ALL.trim_end_matches('*');
        assert!(node.starts_with(node_prefix) && !node[node_prefix.len()..].contains('.'));
    }

    #[test]
    fn agent_subjects_round_trip() {
        let node = NodeKey::new("ip-10-0-0-1.ec2.internal").unwrap();
        let subject = agent_pods_subject(&node);
        assert_eq!(subject, "everynode.agent.ip-10-0-0-1_2Eec2_2Einternal.pods");
        assert_eq!(parse_agent_pods_subject(&subject).unwrap(), node);
        assert!(parse_agent_pods_subject("everynode.agent.a.b.pods").is_err());
        assert!(parse_agent_pods_subject("everynode.agent.n1.cmds").is_err());
    }

    #[test]
    fn filters_select_part_of_a_bucket() {
        assert_eq!(KeyFilter::<PodKey>::all().pattern(), ">");
        let node = NodeKey::new("n.1").unwrap();
        assert_eq!(KeyFilter::<PodKey>::node(&node).pattern(), "n_2E1.>");
        assert_eq!(
            KeyFilter::<DaemonSetKey>::namespace("kube-system")
                .unwrap()
                .pattern(),
            "kube-system.*"
        );
        assert!(KeyFilter::<RevisionKey>::namespace("").is_err());
    }

    #[test]
    fn bucket_names_are_valid_and_distinct() {
        let names: std::collections::BTreeSet<_> = Bucket::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names.len(), Bucket::ALL.len());
        for name in names {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
        }
    }

    #[test]
    fn node_heartbeat_subjects_round_trip() {
        let node = NodeKey::new("ip-10-0-0-1.ec2.internal").unwrap();
        let subject = node_heartbeat_subject(&node);
        assert_eq!(
            subject,
            "everynode.heartbeat.node.ip-10-0-0-1_2Eec2_2Einternal"
        );
        assert_eq!(parse_node_heartbeat_subject(&subject).unwrap(), node);
        assert!(parse_node_heartbeat_subject("everynode.heartbeat.node.a.b").is_err());
        assert!(parse_node_heartbeat_subject("everynode.heartbeat.node.").is_err());
        assert!(parse_node_heartbeat_subject("everynode.events.node.n1").is_err());
    }

    #[test]
    fn node_heartbeats_are_matched_by_their_filter_and_never_stored() {
        let subject = node_heartbeat_subject(&NodeKey::new("n.1").unwrap());
        let prefix = NODE_HEARTBEATS_ALL.trim_end_matches('*');
        assert!(subject.starts_with(prefix) && !subject[prefix.len()..].contains('.'));
        assert!(!subject.starts_with(EVENTS_ALL.trim_end_matches('>')));
    }

    #[test]
    fn agent_queue_groups_are_per_node_and_per_simulator_prefix() {
        let node = NodeKey::new("worker.1").unwrap();
        assert_eq!(agent_queue_group(&node), "everynode-agent.worker_2E1");
        assert_ne!(
            agent_queue_group(&node),
            agent_queue_group(&NodeKey::new("worker-1").unwrap())
        );
        assert_eq!(
            agent_simulator_queue_group("sim.a").unwrap(),
            "everynode-agent-simulator.sim_2Ea"
        );
        assert!(agent_simulator_queue_group("").is_err());
        for group in [
            agent_queue_group(&node),
            agent_simulator_queue_group("sim").unwrap(),
        ] {
            assert!(!group.contains(['*', '>', ' ']), "{group}");
        }
    }
}
