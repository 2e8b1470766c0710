//! The domain model: plain Rust mirrors of the object messages of `everynode.v1` (`meta.proto`,
//! `pod.proto`, `node.proto`, `daemonset.proto`), which in turn mirror Kubernetes' types. Every
//! other part of everynode's logic works on these types; protobuf stays at the edge
//! (`everynode_api::convert` is the only place that maps between the two).
//!
//! Shape rules, so that a proto → model → proto round trip is lossless:
//! - a proto message field is an `Option` here: an absent selector is not an empty one;
//! - a proto3 `optional` scalar is an `Option`; a plain proto3 scalar is the plain value, with the
//!   proto default (`""`, `0`, `false`) meaning "not set", as in the proto;
//! - maps are `BTreeMap<String, String>`, repeated fields are `Vec`s, in proto order;
//! - every `extra_fields` (the parts of a Kubernetes manifest everynode keeps but does not
//!   interpret) is an [`Extra`] map; empty means absent;
//! - Kubernetes enumerations (restart policy, operators, effects, phases, …) stay `String`s so
//!   that validation can report a bad value exactly as it was given;
//! - the proto's `type` fields are named `type_`.
//!
//! The one lossy spot is [`ContainerState`], which is an enum here while the proto allows several
//! of its states at once; see its documentation for the rule.

use std::collections::BTreeMap;
use std::fmt;

/// Fields of an object that everynode keeps verbatim but does not interpret (a manifest's
/// `securityContext`, a volume's source, …), keyed by their Kubernetes JSON name. Empty when the
/// object had none.
pub type Extra = BTreeMap<String, serde_json::Value>;

/// A point in time as seconds and nanoseconds since the Unix epoch (Kubernetes: `metav1.Time`;
/// proto: `google.protobuf.Timestamp`). `nanos` is in `0..1_000_000_000`, so the derived order
/// (seconds, then nanos) is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: i32,
}

impl Timestamp {
    /// The timestamp `seconds` after the epoch, with no fractional part.
    pub const fn from_seconds(seconds: i64) -> Self {
        Self { seconds, nanos: 0 }
    }

    /// The UTC calendar date and time of day (proleptic Gregorian calendar); `nanos` is left out.
    /// The one place that turns a timestamp into a date: RFC 3339 here, Go's `time.Time.String()`
    /// in validation errors and RFC 1123 in `enctl describe` all start from it.
    pub fn to_civil(self) -> CivilTime {
        let days = self.seconds.div_euclid(86_400);
        let secs = self.seconds.rem_euclid(86_400);
        // Howard Hinnant's `civil_from_days`.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        // Every value below is in range by construction (month 1–12, day 1–31, …).
        let small = |v: i64| u8::try_from(v).unwrap_or_default();
        CivilTime {
            year,
            month: small(month),
            day: small(day),
            hour: small(secs / 3600),
            minute: small(secs % 3600 / 60),
            second: small(secs % 60),
            // 1970-01-01 was a Thursday.
            weekday: small((days + 4).rem_euclid(7)),
        }
    }

    /// RFC 3339 in UTC to the second, as Kubernetes writes a `metav1.Time`:
    /// `2006-01-02T15:04:05Z`.
    pub fn to_rfc3339(self) -> String {
        let t = self.to_civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }
}

/// A timestamp's UTC calendar date and time of day ([`Timestamp::to_civil`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Year (proleptic Gregorian; may be before 1 or after 9999).
    pub year: i64,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Day of the week, 0 (Sunday) – 6 (Saturday), as Go's `time.Weekday`.
    pub weekday: u8,
}

/// An integer or a string, e.g. a rolling update's `maxUnavailable` (`1` or `"10%"`) or a probe's
/// port (`8080` or `"http"`) (Kubernetes: `intstr.IntOrString`). `Display` prints `1` / `10%`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// An integer, e.g. `1` or `8080`.
    Int(i32),
    /// A string, e.g. `"10%"` or `"http"`, as given.
    Str(String),
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::Str(s) => f.write_str(s),
        }
    }
}

impl From<i32> for IntOrString {
    fn from(n: i32) -> Self {
        IntOrString::Int(n)
    }
}

impl From<&str> for IntOrString {
    fn from(s: &str) -> Self {
        IntOrString::Str(s.to_owned())
    }
}

impl From<String> for IntOrString {
    fn from(s: String) -> Self {
        IntOrString::Str(s)
    }
}

// ---------------------------------------------------------------------------------------------
// meta.proto
// ---------------------------------------------------------------------------------------------

/// The metadata every stored object carries (Kubernetes: `metav1.ObjectMeta`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectMeta {
    /// Name, unique within the namespace (cluster-wide for nodes).
    pub name: String,
    /// Prefix completed with a random suffix when `name` is empty.
    pub generate_name: String,
    /// Namespace of a namespaced object; empty for nodes.
    pub namespace: String,
    /// Unique id assigned by the server on create.
    pub uid: String,
    /// Opaque store revision, for compare-and-set.
    pub resource_version: String,
    /// Sequence number of the desired state.
    pub generation: i64,
    /// When the object was created.
    pub creation_timestamp: Option<Timestamp>,
    /// When graceful deletion was requested; set means the object is being deleted.
    pub deletion_timestamp: Option<Timestamp>,
    /// Seconds allowed for graceful termination once deletion was requested.
    pub deletion_grace_period_seconds: Option<i64>,
    /// Labels; selectors match them.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Objects this one depends on; at most one is the controller.
    pub owner_references: Vec<OwnerReference>,
    /// Finalizers that keep the object until cleared.
    pub finalizers: Vec<String>,
    /// Metadata fields kept verbatim (`managedFields`, `selfLink`, …).
    pub extra_fields: Extra,
}

impl ObjectMeta {
    /// The owner reference with `controller: true`, if any (Kubernetes: `metav1.GetControllerOf`).
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|r| r.is_controller())
    }

    /// True while a deletion is pending (`deletion_timestamp` is set).
    pub fn is_being_deleted(&self) -> bool {
        self.deletion_timestamp.is_some()
    }
}

/// A reference to an object that owns this one (Kubernetes: `metav1.OwnerReference`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerReference {
    /// Kind of the owner, e.g. `DaemonSet`.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// UID of the owner.
    pub uid: String,
    /// API version of the owner, e.g. `apps/v1`.
    pub api_version: String,
    /// True when the owner is the managing controller.
    pub controller: Option<bool>,
    /// True when foreground deletion of the owner waits for this object.
    pub block_owner_deletion: Option<bool>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

impl OwnerReference {
    /// True when this reference names the managing controller (`controller: true`).
    pub fn is_controller(&self) -> bool {
        self.controller == Some(true)
    }
}

/// A label selector, `match_labels` and `match_expressions` ANDed (Kubernetes:
/// `metav1.LabelSelector`). An empty selector matches everything; an absent one (`None` where it
/// is used) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// Each entry requires the label `key` to equal `value`.
    pub match_labels: BTreeMap<String, String>,
    /// Each requirement must hold.
    pub match_expressions: Vec<LabelSelectorRequirement>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// One set-based requirement of a label selector (Kubernetes:
/// `metav1.LabelSelectorRequirement`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`, as given.
    pub operator: String,
    /// Values for `In`/`NotIn`.
    pub values: Vec<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

// ---------------------------------------------------------------------------------------------
// pod.proto
// ---------------------------------------------------------------------------------------------

/// One instance of a daemon on one node (Kubernetes: `core/v1.Pod`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pod {
    /// `v1`.
    pub api_version: String,
    /// `Pod`.
    pub kind: String,
    /// Name, namespace, labels, owner references.
    pub metadata: Option<ObjectMeta>,
    /// The desired state; `node_name` names the node that runs it.
    pub spec: Option<PodSpec>,
    /// The observed state, reported by the agent.
    pub status: Option<PodStatus>,
    /// Top-level fields kept verbatim.
    pub extra_fields: Extra,
}

impl Pod {
    /// The pod's name, or `""` without metadata.
    pub fn name(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.name.as_str())
    }

    /// The pod's namespace, or `""` without metadata.
    pub fn namespace(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.namespace.as_str())
    }

    /// The pod's `Ready` condition, if reported (Kubernetes: `podutil.GetPodReadyCondition`).
    pub fn ready_condition(&self) -> Option<&PodCondition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
    }

    /// True when the pod's `Ready` condition is `True` (Kubernetes: `podutil.IsPodReady`).
    pub fn is_ready(&self) -> bool {
        self.ready_condition().is_some_and(|c| c.status == "True")
    }
}

/// The pods a DaemonSet creates (Kubernetes: `core/v1.PodTemplateSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodTemplateSpec {
    /// Labels and annotations given to every pod.
    pub metadata: Option<ObjectMeta>,
    /// The pod spec given to every pod.
    pub spec: Option<PodSpec>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// The desired state of a pod (Kubernetes: `core/v1.PodSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSpec {
    /// Volumes the containers may mount.
    pub volumes: Vec<Volume>,
    /// Containers run to completion, in order, before `containers` start.
    pub init_containers: Vec<Container>,
    /// The pod's containers.
    pub containers: Vec<Container>,
    /// Ephemeral debugging containers.
    pub ephemeral_containers: Vec<Container>,
    /// `Always`, `OnFailure` or `Never`, as given.
    pub restart_policy: String,
    /// Seconds between SIGTERM and SIGKILL.
    pub termination_grace_period_seconds: Option<i64>,
    /// Time limit of the pod.
    pub active_deadline_seconds: Option<i64>,
    /// `ClusterFirst`, `ClusterFirstWithHostNet`, `Default` or `None`, as given.
    pub dns_policy: String,
    /// Labels a node must have to run the pod.
    pub node_selector: BTreeMap<String, String>,
    /// Service account the pod runs as.
    pub service_account_name: String,
    /// Deprecated alias of `service_account_name`.
    pub service_account: String,
    /// Node the pod is bound to.
    pub node_name: String,
    /// Use the node's network namespace.
    pub host_network: bool,
    /// Use the node's PID namespace.
    pub host_pid: bool,
    /// Use the node's IPC namespace.
    pub host_ipc: bool,
    /// Scheduling constraints.
    pub affinity: Option<Affinity>,
    /// Scheduler name.
    pub scheduler_name: String,
    /// Taints the pod tolerates.
    pub tolerations: Vec<Toleration>,
    /// Priority class name.
    pub priority_class_name: String,
    /// Resolved priority value.
    pub priority: Option<i32>,
    /// Pod-level security attributes.
    pub security_context: Option<PodSecurityContext>,
    /// Fields kept verbatim (`imagePullSecrets`, `dnsConfig`, …).
    pub extra_fields: Extra,
}

/// One process of a pod (Kubernetes: `core/v1.Container`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Container {
    /// Name, unique within the pod.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Entrypoint argv.
    pub command: Vec<String>,
    /// Arguments appended to `command`.
    pub args: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// Ports the container exposes.
    pub ports: Vec<ContainerPort>,
    /// Environment variables, in order.
    pub env: Vec<EnvVar>,
    /// Compute resources.
    pub resources: Option<ResourceRequirements>,
    /// Volumes mounted into the container.
    pub volume_mounts: Vec<VolumeMount>,
    /// Restarts the container when it fails.
    pub liveness_probe: Option<Probe>,
    /// Marks the container ready when it succeeds.
    pub readiness_probe: Option<Probe>,
    /// Holds the other probes back until it succeeds once.
    pub startup_probe: Option<Probe>,
    /// Path of the termination message file.
    pub termination_message_path: String,
    /// `File` or `FallbackToLogsOnError`, as given.
    pub termination_message_policy: String,
    /// `Always`, `IfNotPresent` or `Never`, as given.
    pub image_pull_policy: String,
    /// Init containers only: `Always` makes it a sidecar.
    pub restart_policy: Option<String>,
    /// Container-level security attributes; set fields override the pod's.
    pub security_context: Option<SecurityContext>,
    /// Fields kept verbatim (`lifecycle`, `envFrom`, …).
    pub extra_fields: Extra,
}

/// A port a container listens on (Kubernetes: `core/v1.ContainerPort`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerPort {
    /// Port name, unique in the pod.
    pub name: String,
    /// Port published on the node; 0 for none.
    pub host_port: i32,
    /// Port the container listens on.
    pub container_port: i32,
    /// `TCP`, `UDP` or `SCTP`, as given.
    pub protocol: String,
    /// Node address to bind the host port to.
    pub host_ip: String,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// One environment variable (Kubernetes: `core/v1.EnvVar`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value.
    pub value: String,
    /// Where to take the value from instead of `value`.
    pub value_from: Option<EnvVarSource>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// The source of an environment variable's value (Kubernetes: `core/v1.EnvVarSource`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvVarSource {
    /// A field of the pod.
    pub field_ref: Option<ObjectFieldSelector>,
    /// A resource of a container.
    pub resource_field_ref: Option<ResourceFieldSelector>,
    /// A key of a ConfigMap.
    pub config_map_key_ref: Option<KeySelector>,
    /// A key of a Secret.
    pub secret_key_ref: Option<KeySelector>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A field of the pod (Kubernetes: `core/v1.ObjectFieldSelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectFieldSelector {
    /// Schema version of `field_path`.
    pub api_version: String,
    /// Path of the field, e.g. `spec.nodeName`.
    pub field_path: String,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A container resource (Kubernetes: `core/v1.ResourceFieldSelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceFieldSelector {
    /// Container name.
    pub container_name: String,
    /// Resource, e.g. `limits.memory`.
    pub resource: String,
    /// Quantity the value is divided by.
    pub divisor: String,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A key of a ConfigMap or Secret (Kubernetes: `ConfigMapKeySelector`, `SecretKeySelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySelector {
    /// Name of the ConfigMap or Secret.
    pub name: String,
    /// The key.
    pub key: String,
    /// True when a missing object or key is not an error.
    pub optional: Option<bool>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A container's compute resources as Kubernetes quantities (Kubernetes:
/// `core/v1.ResourceRequirements`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceRequirements {
    /// Maximum amounts by resource name.
    pub limits: BTreeMap<String, String>,
    /// Guaranteed amounts by resource name.
    pub requests: BTreeMap<String, String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A volume mounted into a container (Kubernetes: `core/v1.VolumeMount`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeMount {
    /// Name of a volume of the pod.
    pub name: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Path inside the container.
    pub mount_path: String,
    /// Sub-path of the volume to mount.
    pub sub_path: String,
    /// `None`, `HostToContainer` or `Bidirectional`, as given.
    pub mount_propagation: Option<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A named volume of a pod (Kubernetes: `core/v1.Volume`); sources other than `hostPath` and
/// `emptyDir` are in `extra_fields`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Volume {
    /// Name, unique within the pod.
    pub name: String,
    /// A file or directory of the node.
    pub host_path: Option<HostPathVolumeSource>,
    /// A directory that lives as long as the pod.
    pub empty_dir: Option<EmptyDirVolumeSource>,
    /// The other volume sources (`configMap`, `secret`, …) and any other fields, verbatim.
    pub extra_fields: Extra,
}

/// A file or directory of the node (Kubernetes: `core/v1.HostPathVolumeSource`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPathVolumeSource {
    /// Path on the node.
    pub path: String,
    /// `""`, `DirectoryOrCreate`, `Directory`, `FileOrCreate`, `File`, `Socket`, `CharDevice`
    /// or `BlockDevice`, as given.
    pub type_: Option<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A directory that lives as long as the pod (Kubernetes: `core/v1.EmptyDirVolumeSource`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmptyDirVolumeSource {
    /// `""` or `Memory`, as given.
    pub medium: Option<String>,
    /// Largest size, a quantity as given.
    pub size_limit: Option<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Pod-level security attributes (Kubernetes: `core/v1.PodSecurityContext`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSecurityContext {
    /// UID of the containers' processes, unless a container sets its own.
    pub run_as_user: Option<i64>,
    /// GID of the containers' processes, unless a container sets its own.
    pub run_as_group: Option<i64>,
    /// Refuse to run a container as UID 0.
    pub run_as_non_root: Option<bool>,
    /// Further groups of every container's first process.
    pub supplemental_groups: Vec<i64>,
    /// Group that owns the pod's volumes, added to every container's groups.
    pub fs_group: Option<i64>,
    /// `OnRootMismatch` or `Always`, as given.
    pub fs_group_change_policy: Option<String>,
    /// `Merge` or `Strict`, as given.
    pub supplemental_groups_policy: Option<String>,
    /// Fields kept verbatim (`seLinuxOptions`, `seccompProfile`, `sysctls`, …).
    pub extra_fields: Extra,
}

/// Container-level security attributes (Kubernetes: `core/v1.SecurityContext`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityContext {
    /// Capabilities added and dropped.
    pub capabilities: Option<Capabilities>,
    /// Every privilege of the host.
    pub privileged: Option<bool>,
    /// UID of the process.
    pub run_as_user: Option<i64>,
    /// GID of the process.
    pub run_as_group: Option<i64>,
    /// Refuse to run as UID 0.
    pub run_as_non_root: Option<bool>,
    /// Read-only root filesystem.
    pub read_only_root_filesystem: Option<bool>,
    /// Whether the process may gain privileges (`no_new_privs` when false).
    pub allow_privilege_escalation: Option<bool>,
    /// `Default` or `Unmasked`, as given.
    pub proc_mount: Option<String>,
    /// Fields kept verbatim (`seLinuxOptions`, `seccompProfile`, …).
    pub extra_fields: Extra,
}

/// POSIX capabilities added to and dropped from a container (Kubernetes:
/// `core/v1.Capabilities`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Capabilities to add, as given.
    pub add: Vec<String>,
    /// Capabilities to drop, as given.
    pub drop: Vec<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A periodic check of a container (Kubernetes: `core/v1.Probe`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probe {
    /// Run a command in the container.
    pub exec: Option<ExecAction>,
    /// HTTP GET.
    pub http_get: Option<HttpGetAction>,
    /// Open a TCP connection.
    pub tcp_socket: Option<TcpSocketAction>,
    /// gRPC health check.
    pub grpc: Option<GrpcAction>,
    /// Seconds after start before the first probe.
    pub initial_delay_seconds: i32,
    /// Seconds before a probe times out.
    pub timeout_seconds: i32,
    /// Seconds between probes.
    pub period_seconds: i32,
    /// Consecutive successes to count as success.
    pub success_threshold: i32,
    /// Consecutive failures to count as failure.
    pub failure_threshold: i32,
    /// Grace period used when a liveness probe fails.
    pub termination_grace_period_seconds: Option<i64>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Runs a command (Kubernetes: `core/v1.ExecAction`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecAction {
    /// Command argv, run without a shell.
    pub command: Vec<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Performs an HTTP GET (Kubernetes: `core/v1.HTTPGetAction`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpGetAction {
    /// Request path.
    pub path: String,
    /// Port number or container port name.
    pub port: Option<IntOrString>,
    /// Host to connect to.
    pub host: String,
    /// `HTTP` or `HTTPS`, as given.
    pub scheme: String,
    /// Fields kept verbatim (`httpHeaders`).
    pub extra_fields: Extra,
}

/// Opens a TCP connection (Kubernetes: `core/v1.TCPSocketAction`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpSocketAction {
    /// Port number or container port name.
    pub port: Option<IntOrString>,
    /// Host to connect to.
    pub host: String,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Calls the gRPC health service (Kubernetes: `core/v1.GRPCAction`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrpcAction {
    /// Port number.
    pub port: i32,
    /// Service name sent in the health check request.
    pub service: Option<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Scheduling constraints (Kubernetes: `core/v1.Affinity`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Affinity {
    /// Constraints on the node.
    pub node_affinity: Option<NodeAffinity>,
    /// Fields kept verbatim (`podAffinity`, `podAntiAffinity`).
    pub extra_fields: Extra,
}

/// Constraints on the nodes a pod may run on (Kubernetes: `core/v1.NodeAffinity`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeAffinity {
    /// The node must match.
    pub required_during_scheduling_ignored_during_execution: Option<NodeSelector>,
    /// Fields kept verbatim (`preferredDuringSchedulingIgnoredDuringExecution`).
    pub extra_fields: Extra,
}

/// Node selector terms, ORed (Kubernetes: `core/v1.NodeSelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSelector {
    /// A node matches if any term matches.
    pub node_selector_terms: Vec<NodeSelectorTerm>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A conjunction of node requirements; an empty term matches no node (Kubernetes:
/// `core/v1.NodeSelectorTerm`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields (`metadata.name`).
    pub match_fields: Vec<NodeSelectorRequirement>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// One requirement on a node label or field (Kubernetes: `core/v1.NodeSelectorRequirement`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSelectorRequirement {
    /// Label key, or the field `metadata.name`.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`, as given.
    pub operator: String,
    /// Values of the requirement.
    pub values: Vec<String>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Lets a pod run on a node with a matching taint (Kubernetes: `core/v1.Toleration`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Toleration {
    /// Taint key to match; empty with `Exists` matches every taint.
    pub key: String,
    /// `Equal` or `Exists`, as given; empty means `Equal`.
    pub operator: String,
    /// Taint value to match with `Equal`.
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`, or empty for all effects.
    pub effect: String,
    /// With `NoExecute`: how long the pod stays after the taint appears; `None` is forever.
    pub toleration_seconds: Option<i64>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// The observed state of a pod, written by its agent (Kubernetes: `core/v1.PodStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`, as given.
    pub phase: String,
    /// Pod conditions.
    pub conditions: Vec<PodCondition>,
    /// Human-readable detail of the phase.
    pub message: String,
    /// Machine-readable reason of the phase.
    pub reason: String,
    /// Primary address of the node running the pod.
    pub host_ip: String,
    /// Address of the pod.
    pub pod_ip: String,
    /// When the agent accepted the pod.
    pub start_time: Option<Timestamp>,
    /// Status of each init container, in order.
    pub init_container_statuses: Vec<ContainerStatus>,
    /// Status of each container, in order.
    pub container_statuses: Vec<ContainerStatus>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// One condition of a pod (Kubernetes: `core/v1.PodCondition`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodCondition {
    /// `Ready`, `ContainersReady`, `Initialized`, `PodScheduled`, as given.
    pub type_: String,
    /// `True`, `False` or `Unknown`, as given.
    pub status: String,
    /// Last time the condition was probed.
    pub last_probe_time: Option<Timestamp>,
    /// Last time `status` changed.
    pub last_transition_time: Option<Timestamp>,
    /// Machine-readable reason of the last transition.
    pub reason: String,
    /// Human-readable detail of the last transition.
    pub message: String,
}

/// The observed state of one container (Kubernetes: `core/v1.ContainerStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// Current state; `None` when none was reported.
    pub state: Option<ContainerState>,
    /// State of the previous run; `None` when the container has not restarted.
    pub last_state: Option<ContainerState>,
    /// True when the readiness probe (if any) passes.
    pub ready: bool,
    /// Number of restarts.
    pub restart_count: i32,
    /// Image reference.
    pub image: String,
    /// Resolved image id.
    pub image_id: String,
    /// Runtime id of the container.
    pub container_id: String,
    /// True once the startup probe (if any) passed and the container runs.
    pub started: Option<bool>,
}

/// The state of a container: exactly one of waiting, running or terminated (Kubernetes:
/// `core/v1.ContainerState`).
///
/// The proto message can carry several states at once; converting it keeps the one furthest
/// along a container's life: **terminated over running over waiting**. A proto state with none
/// set becomes an absent state (`None` in [`ContainerStatus`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Not running yet, or waiting to be restarted.
    Waiting(ContainerStateWaiting),
    /// Running.
    Running(ContainerStateRunning),
    /// Exited.
    Terminated(ContainerStateTerminated),
}

/// A container that is not running (Kubernetes: `core/v1.ContainerStateWaiting`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerStateWaiting {
    /// E.g. `ContainerCreating`, `CrashLoopBackOff`.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
}

/// A running container (Kubernetes: `core/v1.ContainerStateRunning`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerStateRunning {
    /// When it (re)started.
    pub started_at: Option<Timestamp>,
}

/// A container that exited (Kubernetes: `core/v1.ContainerStateTerminated`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerStateTerminated {
    /// Exit code of the process.
    pub exit_code: i32,
    /// Signal that ended the process; 0 for none.
    pub signal: i32,
    /// E.g. `Completed`, `Error`, `OOMKilled`.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
    /// When the run started.
    pub started_at: Option<Timestamp>,
    /// When the run ended.
    pub finished_at: Option<Timestamp>,
    /// Runtime id of the run.
    pub container_id: String,
}

// ---------------------------------------------------------------------------------------------
// node.proto
// ---------------------------------------------------------------------------------------------

/// A machine that runs an agent (Kubernetes: `core/v1.Node`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// `v1`.
    pub api_version: String,
    /// `Node`.
    pub kind: String,
    /// Name, labels and annotations; no namespace.
    pub metadata: Option<ObjectMeta>,
    /// Taints and the cordon flag.
    pub spec: Option<NodeSpec>,
    /// Addresses, capacity, conditions, system info.
    pub status: Option<NodeStatus>,
    /// Top-level fields kept verbatim.
    pub extra_fields: Extra,
}

impl Node {
    /// The node's name, or `""` without metadata.
    pub fn name(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.name.as_str())
    }
}

/// The desired state of a node (Kubernetes: `core/v1.NodeSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSpec {
    /// Pod address range of the node.
    pub pod_cidr: String,
    /// Provider-specific id of the node.
    pub provider_id: String,
    /// Cordoned; daemon pods ignore it.
    pub unschedulable: bool,
    /// Taints repel pods that do not tolerate them.
    pub taints: Vec<Taint>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// A mark on a node that only tolerating pods accept (Kubernetes: `core/v1.Taint`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value; may be empty.
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`, as given.
    pub effect: String,
    /// When a `NoExecute` taint was added.
    pub time_added: Option<Timestamp>,
}

/// The observed state of a node (Kubernetes: `core/v1.NodeStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeStatus {
    /// Total resources, as quantities.
    pub capacity: BTreeMap<String, String>,
    /// Resources available to pods, as quantities.
    pub allocatable: BTreeMap<String, String>,
    /// Conditions; `Ready` is maintained by the registry.
    pub conditions: Vec<NodeCondition>,
    /// Addresses of the node.
    pub addresses: Vec<NodeAddress>,
    /// Versions and identities reported by the agent.
    pub node_info: Option<NodeSystemInfo>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// One condition of a node (Kubernetes: `core/v1.NodeCondition`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeCondition {
    /// `Ready`, `MemoryPressure`, …, as given.
    pub type_: String,
    /// `True`, `False` or `Unknown`, as given.
    pub status: String,
    /// Last heartbeat that confirmed the condition.
    pub last_heartbeat_time: Option<Timestamp>,
    /// Last time `status` changed.
    pub last_transition_time: Option<Timestamp>,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
}

/// One address of a node (Kubernetes: `core/v1.NodeAddress`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`, …, as given.
    pub type_: String,
    /// The address.
    pub address: String,
}

/// The node's software (Kubernetes: `core/v1.NodeSystemInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSystemInfo {
    /// Machine id.
    pub machine_id: String,
    /// System UUID.
    pub system_uuid: String,
    /// Boot id; a change means the node rebooted.
    pub boot_id: String,
    /// Kernel release.
    pub kernel_version: String,
    /// Operating system image.
    pub os_image: String,
    /// Runtime name and version.
    pub container_runtime_version: String,
    /// Agent version.
    pub kubelet_version: String,
    /// Unused; kept for Kubernetes compatibility.
    pub kube_proxy_version: String,
    /// `linux`, …
    pub operating_system: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
}

// ---------------------------------------------------------------------------------------------
// daemonset.proto
// ---------------------------------------------------------------------------------------------

/// Runs one copy of a pod on every matching node (Kubernetes: `apps/v1.DaemonSet`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonSet {
    /// `apps/v1` when stored; a request may carry `extensions/v1beta1` or `apps/v1beta2`.
    pub api_version: String,
    /// `DaemonSet`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    pub metadata: Option<ObjectMeta>,
    /// The desired state.
    pub spec: Option<DaemonSetSpec>,
    /// The observed state, written by the controller.
    pub status: Option<DaemonSetStatus>,
    /// Top-level fields kept verbatim.
    pub extra_fields: Extra,
}

impl DaemonSet {
    /// The DaemonSet's name, or `""` without metadata.
    pub fn name(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.name.as_str())
    }

    /// The DaemonSet's namespace, or `""` without metadata.
    pub fn namespace(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.namespace.as_str())
    }
}

/// The desired state of a DaemonSet (Kubernetes: `apps/v1.DaemonSetSpec`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonSetSpec {
    /// Selects the DaemonSet's pods; `None` (absent) differs from an empty selector.
    pub selector: Option<LabelSelector>,
    /// The pods to run.
    pub template: Option<PodTemplateSpec>,
    /// How pods are replaced when the template changes.
    pub update_strategy: Option<DaemonSetUpdateStrategy>,
    /// Seconds a new pod must be ready to count as available.
    pub min_ready_seconds: i32,
    /// `extensions/v1beta1` only: template generation.
    pub template_generation: Option<i64>,
    /// Number of old ControllerRevisions kept for rollback.
    pub revision_history_limit: Option<i32>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// How a template change reaches running pods (Kubernetes: `apps/v1.DaemonSetUpdateStrategy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonSetUpdateStrategy {
    /// `RollingUpdate` or `OnDelete`, as given.
    pub type_: String,
    /// Parameters of `RollingUpdate`.
    pub rolling_update: Option<RollingUpdateDaemonSet>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// Bounds of a rolling update (Kubernetes: `apps/v1.RollingUpdateDaemonSet`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RollingUpdateDaemonSet {
    /// Most nodes whose daemon pod may be unavailable: `1` or `"10%"`.
    pub max_unavailable: Option<IntOrString>,
    /// Most nodes that may run an extra, new pod: `0` or `"10%"`.
    pub max_surge: Option<IntOrString>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// The observed state of a DaemonSet (Kubernetes: `apps/v1.DaemonSetStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonSetStatus {
    /// Nodes that should run the daemon pod and run at least one.
    pub current_number_scheduled: i32,
    /// Nodes that run a daemon pod but should not.
    pub number_misscheduled: i32,
    /// Nodes that should run the daemon pod.
    pub desired_number_scheduled: i32,
    /// Nodes that should run the daemon pod and whose oldest daemon pod is ready.
    pub number_ready: i32,
    /// The generation the controller last fully processed.
    pub observed_generation: i64,
    /// Nodes that should run the daemon pod and run the current template revision.
    pub updated_number_scheduled: i32,
    /// Nodes whose daemon pod has been ready for at least `minReadySeconds`.
    pub number_available: i32,
    /// `desired_number_scheduled - number_available`.
    pub number_unavailable: i32,
    /// Hash-collision counter used to name ControllerRevisions.
    pub collision_count: Option<i32>,
    /// Conditions written by clients.
    pub conditions: Vec<DaemonSetCondition>,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

/// One condition of a DaemonSet (Kubernetes: `apps/v1.DaemonSetCondition`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonSetCondition {
    /// Condition type.
    pub type_: String,
    /// `True`, `False` or `Unknown`, as given.
    pub status: String,
    /// Last time `status` changed.
    pub last_transition_time: Option<Timestamp>,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
}

/// An immutable snapshot of a DaemonSet's template (Kubernetes: `apps/v1.ControllerRevision`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControllerRevision {
    /// `apps/v1`.
    pub api_version: String,
    /// `ControllerRevision`.
    pub kind: String,
    /// Name `<daemonset>-<hash>`, namespace, labels, the owning DaemonSet's controller reference.
    pub metadata: Option<ObjectMeta>,
    /// The snapshot, `{"spec":{"template":{…,"$patch":"replace"}}}`; `None` when absent.
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
    /// Revision number, increasing per DaemonSet.
    pub revision: i64,
    /// Fields kept verbatim.
    pub extra_fields: Extra,
}

impl ControllerRevision {
    /// The revision's name, or `""` without metadata.
    pub fn name(&self) -> &str {
        self.metadata.as_ref().map_or("", |m| m.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str, controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            kind: "DaemonSet".into(),
            name: "ds".into(),
            uid: uid.into(),
            api_version: "apps/v1".into(),
            controller,
            ..Default::default()
        }
    }

    fn pod_with_ready(status: &str) -> Pod {
        Pod {
            status: Some(PodStatus {
                conditions: vec![
                    PodCondition {
                        type_: "Initialized".into(),
                        status: "True".into(),
                        ..Default::default()
                    },
                    PodCondition {
                        type_: "Ready".into(),
                        status: status.into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn controller_ref_is_the_reference_with_controller_true() {
        let meta = ObjectMeta {
            owner_references: vec![
                owner("a", None),
                owner("b", Some(false)),
                owner("c", Some(true)),
            ],
            ..Default::default()
        };
        assert_eq!(meta.controller_ref().map(|r| r.uid.as_str()), Some("c"));
    }

    #[test]
    fn no_controller_ref_without_controller_true() {
        let meta = ObjectMeta {
            owner_references: vec![owner("a", None), owner("b", Some(false))],
            ..Default::default()
        };
        assert_eq!(meta.controller_ref(), None);
    }

    #[test]
    fn pod_is_ready_only_with_ready_condition_true() {
        assert!(pod_with_ready("True").is_ready());
        assert!(!pod_with_ready("False").is_ready());
        assert!(!pod_with_ready("Unknown").is_ready());
        assert!(!Pod::default().is_ready());
    }

    #[test]
    fn int_or_string_displays_as_kubernetes_writes_it() {
        assert_eq!(IntOrString::Int(1).to_string(), "1");
        assert_eq!(IntOrString::from("10%").to_string(), "10%");
    }

    #[test]
    fn timestamps_order_chronologically() {
        let a = Timestamp {
            seconds: 10,
            nanos: 999_999_999,
        };
        let b = Timestamp {
            seconds: 11,
            nanos: 0,
        };
        assert!(a < b);
        assert!(Timestamp::from_seconds(11) == b);
    }

    #[test]
    fn rfc3339_formats_utc_seconds() {
        assert_eq!(
            Timestamp::from_seconds(0).to_rfc3339(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_seconds(1_700_000_000).to_rfc3339(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            Timestamp::from_seconds(951_825_600).to_rfc3339(),
            "2000-02-29T12:00:00Z"
        );
        // Before the epoch, and the nanoseconds are left out.
        let before = Timestamp {
            seconds: -1,
            nanos: 500,
        };
        assert_eq!(before.to_rfc3339(), "1969-12-31T23:59:59Z");
        assert_eq!(before.to_civil().weekday, 3);
    }
}
