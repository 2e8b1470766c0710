//! The agent's configuration: clap flags, each also read from `EVERYNODE_<FLAG>`, parsed and
//! validated at start-up. Tests build [`Config`] with [`Config::new`] and adjust fields.
//!
//! Tuning knobs that only tests and benchmarks need (crash back-off, retry caps, concurrency
//! limits) are hidden flags, gathered in [`Tuning`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use everynode_auth::BootstrapToken;
use everynode_core::duration::{parse_duration, parse_positive_duration};
use everynode_core::labels::{is_dns1123_subdomain, is_label_value, is_qualified_name};
use everynode_core::model::Taint;
use everynode_service::{CommonArgs, defaults};

use crate::backoff::BackoffPolicy;
use crate::logs::LogLimits;

/// Where the agent keeps pod directories (logs, pid records) by default when run as root.
pub const ROOT_DATA_DIR: &str = "/var/lib/everynode";

/// `PATH` of containers by default (the usual one of container images).
pub const DEFAULT_CONTAINER_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Which runtime runs the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RuntimeKind {
    /// Each container's `command` + `args` as a real process group on this machine.
    #[default]
    Process,
    /// No processes: pods go Pending → Running → Ready on timers (tests, benchmarks).
    Fake,
}

/// Configuration of `everynode-agent`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "everynode-agent",
    version,
    about = "everynode's kubelet: joins the registry and runs the pods it is told to run"
)]
pub struct Config {
    /// Flags every everynode binary has.
    #[command(flatten)]
    pub common: CommonArgs,

    /// The node's name (a DNS-1123 subdomain). Default: the host name, lowercased. With
    /// `--simulate N` the nodes are `<node-name>-0` … `<node-name>-<N-1>`.
    #[arg(long, env = "EVERYNODE_NODE_NAME", value_name = "NAME", value_parser = parse_node_name)]
    pub node_name: Option<String>,

    /// Labels of the node, `k=v,k2=v2`; `kubernetes.io/hostname`, `kubernetes.io/os` and
    /// `kubernetes.io/arch` are added.
    #[arg(long, env = "EVERYNODE_LABELS", value_name = "K=V,…", default_value = "", value_parser = parse_labels)]
    pub labels: Labels,

    /// Taints of the node, `k=v:Effect,k2:Effect` (NoSchedule, PreferNoSchedule, NoExecute).
    #[arg(long, env = "EVERYNODE_TAINTS", value_name = "K=V:EFFECT,…", default_value = "", value_parser = parse_taints)]
    pub taints: Taints,

    /// The registry (`everynode.v1.Nodes`) to register with and heartbeat to.
    #[arg(long, env = "EVERYNODE_REGISTRY", value_name = "URL", default_value = defaults::REGISTRY_ENDPOINT)]
    pub registry: String,

    /// The runtime that runs the pods.
    #[arg(long, env = "EVERYNODE_RUNTIME", value_enum, default_value_t = RuntimeKind::Process)]
    pub runtime: RuntimeKind,

    /// Where pods live: `pods/<uid>/` (each pod's working directory, the pod's own) and
    /// `state/<uid>/` (the agent's: `<container>.log`, `<container>.pid`). Default: `/var/lib/everynode` as root, else
    /// `$XDG_STATE_HOME/everynode` (`~/.local/state/everynode`).
    #[arg(long, env = "EVERYNODE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The node's InternalIP (also each pod's hostIP and podIP). Default: the first non-loopback
    /// IPv4 address of an interface that is up, else 127.0.0.1.
    #[arg(long, env = "EVERYNODE_NODE_IP", value_name = "IP")]
    pub node_ip: Option<IpAddr>,

    /// Simulate N nodes in this process (requires `--runtime fake`).
    #[arg(long, env = "EVERYNODE_SIMULATE", value_name = "N")]
    pub simulate: Option<NonZeroUsize>,

    /// `PATH` of every container of the process runtime (containers do not inherit the
    /// agent's environment).
    #[arg(long, env = "EVERYNODE_CONTAINER_PATH", value_name = "PATH", hide = true, default_value = DEFAULT_CONTAINER_PATH)]
    pub container_path: String,

    /// Join with this bootstrap token (`<id>.<secret>`, made by an administrator with
    /// Bootstrap/CreateToken) instead of a credentials folder: the registry signs the node's
    /// certificate, kept in `<data-dir>/pki` and used from then on as `--credentials`. Needs
    /// `--ca-cert`. Never logged.
    #[arg(
        long,
        env = "EVERYNODE_BOOTSTRAP_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        value_parser = TokenParser,
        conflicts_with_all = ["credentials", "insecure"],
        requires = "ca_cert"
    )]
    pub bootstrap_token: Option<BootstrapToken>,

    /// The deployment's CA certificate (`ca.crt` of `enctl pki init`): with
    /// `--bootstrap-token`, the registry must present a certificate of this CA.
    #[arg(long, env = "EVERYNODE_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Confinement and logs of the process runtime.
    #[command(flatten)]
    pub process: ProcessArgs,

    /// Knobs of the fake runtime.
    #[command(flatten)]
    pub fake: FakeArgs,

    /// Knobs for tests and benchmarks.
    #[command(flatten)]
    pub tuning: Tuning,
}

/// Confinement and logs of the process runtime.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ProcessArgs {
    /// Run privileged containers, `hostPath` volumes and pods asking for host namespaces
    /// (`hostNetwork`, `hostPID`, `hostIPC`); without it they are refused with reason
    /// `CreateContainerConfigError` (the kubelet's `--allow-privileged`).
    #[arg(long, env = "EVERYNODE_ALLOW_PRIVILEGED")]
    pub allow_privileged: bool,
    /// The cgroup under which every pod gets its own (`<parent>/pod-<uid>/<container>`), in
    /// each hierarchy used (cgroup v2, else v1 memory, cpu, freezer, pids).
    #[arg(long, env = "EVERYNODE_CGROUP_PARENT", value_name = "NAME", default_value = DEFAULT_CGROUP_PARENT, value_parser = parse_cgroup_parent)]
    pub cgroup_parent: String,
    /// Largest size of a container's log file before it is rotated (a quantity, e.g. `10Mi`;
    /// the kubelet's `containerLogMaxSize`).
    #[arg(long, env = "EVERYNODE_CONTAINER_LOG_MAX_SIZE", value_name = "QUANTITY", default_value = "10Mi", value_parser = parse_log_size)]
    pub container_log_max_size: u64,
    /// Most log files kept per container, the current one included, at least 2 (the
    /// kubelet's `containerLogMaxFiles`).
    #[arg(long, env = "EVERYNODE_CONTAINER_LOG_MAX_FILES", value_name = "N", default_value = "5", value_parser = clap::value_parser!(u32).range(2..))]
    pub container_log_max_files: u32,
}

/// The default `--cgroup-parent`.
pub const DEFAULT_CGROUP_PARENT: &str = "everynode";

impl Default for ProcessArgs {
    fn default() -> Self {
        let logs = LogLimits::default();
        Self {
            allow_privileged: false,
            cgroup_parent: DEFAULT_CGROUP_PARENT.to_owned(),
            container_log_max_size: logs.max_size,
            container_log_max_files: u32::try_from(logs.max_files).unwrap_or(5),
        }
    }
}

impl ProcessArgs {
    /// The log bounds.
    pub fn log_limits(&self) -> LogLimits {
        LogLimits {
            max_size: self.container_log_max_size,
            max_files: usize::try_from(self.container_log_max_files).unwrap_or(usize::MAX),
        }
    }
}

/// A cgroup path relative to each hierarchy's root: `/`-separated components of
/// `[A-Za-z0-9._-]`, none `.` or `..`.
fn parse_cgroup_parent(value: &str) -> Result<String, String> {
    let trimmed = value.trim_matches('/');
    let ok = !trimmed.is_empty()
        && trimmed.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(
            "must be a relative cgroup path of [A-Za-z0-9._-] components, without . or .."
                .to_owned(),
        )
    }
}

/// A log size: a positive quantity of bytes.
fn parse_log_size(value: &str) -> Result<u64, String> {
    let quantity = everynode_core::quantity::Quantity::parse(value).map_err(|e| e.to_string())?;
    let bytes = u64::try_from(quantity.milli_value().div_euclid(1000)).unwrap_or(0);
    if bytes == 0 {
        return Err("must be at least one byte".to_owned());
    }
    Ok(bytes)
}

/// Knobs of the fake runtime.
#[derive(Debug, Clone, Copy, PartialEq, Args)]
pub struct FakeArgs {
    /// Fake runtime: time from accepting a pod to its containers running.
    #[arg(long = "fake-start-latency", env = "EVERYNODE_FAKE_START_LATENCY", value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub start_latency: Duration,
    /// Fake runtime: time from running to ready.
    #[arg(long = "fake-ready-delay", env = "EVERYNODE_FAKE_READY_DELAY", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub ready_delay: Duration,
    /// Fake runtime: fraction (0 to 1) of container starts that fail (the container crash
    /// loops with back-off until a start succeeds).
    #[arg(long = "fake-failure-rate", env = "EVERYNODE_FAKE_FAILURE_RATE", value_name = "RATE", default_value = "0", value_parser = parse_rate)]
    pub failure_rate: f64,
}

impl Default for FakeArgs {
    fn default() -> Self {
        Self {
            start_latency: Duration::from_millis(200),
            ready_delay: Duration::ZERO,
            failure_rate: 0.0,
        }
    }
}

/// Knobs that only tests and benchmarks change (hidden flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Tuning {
    /// First delay before restarting a failed container.
    #[arg(long, env = "EVERYNODE_CRASH_BACKOFF_BASE", hide = true, default_value = "10s", value_parser = parse_positive_duration)]
    pub crash_backoff_base: Duration,
    /// Longest delay before restarting a failed container.
    #[arg(long, env = "EVERYNODE_CRASH_BACKOFF_MAX", hide = true, default_value = "5m", value_parser = parse_positive_duration)]
    pub crash_backoff_max: Duration,
    /// A container that ran this long before exiting restarts after the base delay again.
    #[arg(long, env = "EVERYNODE_CRASH_BACKOFF_RESET", hide = true, default_value = "10m", value_parser = parse_positive_duration)]
    pub crash_backoff_reset: Duration,
    /// Longest pause between two attempts to reach the registry or to write to NATS.
    #[arg(long, env = "EVERYNODE_RETRY_MAX", hide = true, default_value = "30s", value_parser = parse_positive_duration)]
    pub retry_max: Duration,
    /// Shortest SIGTERM-to-SIGKILL grace (the kubelet's minimum is 2 s).
    #[arg(long, env = "EVERYNODE_MIN_GRACE", hide = true, default_value = "2s", value_parser = parse_duration)]
    pub min_grace: Duration,
    /// Register/heartbeat calls in flight at once (matters with `--simulate`).
    #[arg(
        long,
        env = "EVERYNODE_JOIN_CONCURRENCY",
        hide = true,
        default_value = "64"
    )]
    pub join_concurrency: NonZeroUsize,
    /// Pod commands handled at once.
    #[arg(
        long,
        env = "EVERYNODE_COMMAND_CONCURRENCY",
        hide = true,
        default_value = "256"
    )]
    pub command_concurrency: NonZeroUsize,
    /// Pod status writes to KV in flight at once.
    #[arg(
        long,
        env = "EVERYNODE_WRITE_CONCURRENCY",
        hide = true,
        default_value = "64"
    )]
    pub write_concurrency: NonZeroUsize,
}

impl Default for Tuning {
    fn default() -> Self {
        let policy = BackoffPolicy::default();
        Self {
            crash_backoff_base: policy.base,
            crash_backoff_max: policy.max,
            crash_backoff_reset: policy.reset_after,
            retry_max: Duration::from_secs(30),
            min_grace: Duration::from_secs(2),
            join_concurrency: NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN),
            command_concurrency: NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
            write_concurrency: NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

impl Tuning {
    /// The crash back-off policy.
    pub fn backoff(&self) -> BackoffPolicy {
        BackoffPolicy {
            base: self.crash_backoff_base,
            max: self.crash_backoff_max.max(self.crash_backoff_base),
            reset_after: self.crash_backoff_reset,
        }
    }
}

impl Config {
    /// A configuration for tests and embedding: the given NATS and registry, node name and
    /// data dir, defaults for everything else.
    pub fn new(nats: &str, registry: &str, node_name: &str, data_dir: PathBuf) -> Self {
        Self {
            common: CommonArgs {
                nats: nats.to_owned(),
                ..CommonArgs::default()
            },
            node_name: Some(node_name.to_owned()),
            labels: Labels::default(),
            taints: Taints::default(),
            registry: registry.to_owned(),
            runtime: RuntimeKind::Process,
            data_dir: Some(data_dir),
            node_ip: None,
            simulate: None,
            container_path: DEFAULT_CONTAINER_PATH.to_owned(),
            bootstrap_token: None,
            ca_cert: None,
            process: ProcessArgs::default(),
            fake: FakeArgs::default(),
            tuning: Tuning::default(),
        }
    }

    /// Checks what clap cannot check flag by flag.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.simulate.is_some() && self.runtime != RuntimeKind::Fake {
            return Err(ConfigError::SimulateNeedsFake);
        }
        if self.bootstrap_token.is_some() {
            let security = &self.common.security;
            if security.credentials.is_some() || security.insecure {
                return Err(ConfigError::BootstrapWithCredentials);
            }
            if self.ca_cert.is_none() {
                return Err(ConfigError::BootstrapNeedsCaCert);
            }
            if self.simulate.is_some() {
                return Err(ConfigError::BootstrapWithSimulate);
            }
        }
        Ok(())
    }
}

/// A combination of flags that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--simulate` with the process runtime.
    #[error("--simulate needs --runtime fake")]
    SimulateNeedsFake,
    /// `--bootstrap-token` with `--credentials` or `--insecure`.
    #[error(
        "--bootstrap-token cannot be used with --credentials or --insecure: the agent keeps the \
         credentials it joins with in <data-dir>/pki"
    )]
    BootstrapWithCredentials,
    /// `--bootstrap-token` without `--ca-cert`.
    #[error(
        "--bootstrap-token needs --ca-cert FILE: the deployment's CA certificate, to know the \
         registry is the real one before the token is sent"
    )]
    BootstrapNeedsCaCert,
    /// `--bootstrap-token` with `--simulate`.
    #[error("--bootstrap-token is not supported with --simulate: a token joins one real node")]
    BootstrapWithSimulate,
}

/// Reads `--bootstrap-token`; a malformed token is refused without repeating it (it may be a
/// real token with a typo), where clap's own message would quote the value.
#[derive(Debug, Clone, Copy)]
struct TokenParser;

impl clap::builder::TypedValueParser for TokenParser {
    type Value = BootstrapToken;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<BootstrapToken, clap::Error> {
        value
            .to_str()
            .and_then(|text| BootstrapToken::parse(text).ok())
            .ok_or_else(|| {
                clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!(
                        "--bootstrap-token: {}\n",
                        everynode_auth::TokenError::Malformed
                    ),
                )
            })
    }
}

/// Node labels given with `--labels`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(pub BTreeMap<String, String>);

/// Node taints given with `--taints`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taints(pub Vec<Taint>);

fn parse_node_name(value: &str) -> Result<String, String> {
    let errors = is_dns1123_subdomain(value);
    if errors.is_empty() {
        Ok(value.to_owned())
    } else {
        Err(errors.join("; "))
    }
}

/// Parses `k=v,k2=v2` (empty: no labels), with Kubernetes' rules for keys and values.
pub fn parse_labels(value: &str) -> Result<Labels, String> {
    let mut labels = BTreeMap::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value"))?;
        check_key_value(key, value)?;
        labels.insert(key.to_owned(), value.to_owned());
    }
    Ok(Labels(labels))
}

/// Parses `k=v:Effect,k2:Effect` (empty: no taints), as `kubectl taint` spells taints.
pub fn parse_taints(value: &str) -> Result<Taints, String> {
    let mut taints = Vec::new();
    for spec in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key_value, effect) = spec
            .rsplit_once(':')
            .ok_or_else(|| format!("{spec:?} is not key=value:Effect or key:Effect"))?;
        if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            return Err(format!(
                "{spec:?}: effect {effect:?} is not NoSchedule, PreferNoSchedule or NoExecute"
            ));
        }
        let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
        check_key_value(key, value)?;
        taints.push(Taint {
            key: key.to_owned(),
            value: value.to_owned(),
            effect: effect.to_owned(),
            time_added: None,
        });
    }
    Ok(Taints(taints))
}

fn check_key_value(key: &str, value: &str) -> Result<(), String> {
    let key_errors = is_qualified_name(key);
    if !key_errors.is_empty() {
        return Err(format!("key {key:?}: {}", key_errors.join("; ")));
    }
    let value_errors = is_label_value(value);
    if !value_errors.is_empty() {
        return Err(format!("value {value:?}: {}", value_errors.join("; ")));
    }
    Ok(())
}

fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("must be between 0 and 1".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_suit_a_single_dev_machine() {
        let config = Config::try_parse_from(["everynode-agent"]).unwrap();
        assert_eq!(config.registry, "https://127.0.0.1:7402");
        assert_eq!(config.runtime, RuntimeKind::Process);
        assert_eq!(config.node_name, None);
        assert_eq!(config.simulate, None);
        assert!(config.labels.0.is_empty() && config.taints.0.is_empty());
        assert_eq!(config.tuning, Tuning::default());
        assert_eq!(config.fake, FakeArgs::default());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn process_runtime_flags_parse_with_kubelet_defaults() {
        let defaults = Config::try_parse_from(["everynode-agent"]).unwrap().process;
        assert_eq!(defaults, ProcessArgs::default());
        assert!(!defaults.allow_privileged);
        assert_eq!(defaults.cgroup_parent, "everynode");
        assert_eq!(defaults.log_limits(), LogLimits::default());
        assert_eq!(defaults.container_log_max_size, 10 * 1024 * 1024);
        assert_eq!(defaults.container_log_max_files, 5);

        let set = Config::try_parse_from([
            "everynode-agent",
            "--allow-privileged",
            "--cgroup-parent",
            "/system.slice/everynode/",
            "--container-log-max-size",
            "64Ki",
            "--container-log-max-files",
            "2",
        ])
        .unwrap()
        .process;
        assert!(set.allow_privileged);
        assert_eq!(set.cgroup_parent, "system.slice/everynode");
        assert_eq!(
            set.log_limits(),
            LogLimits {
                max_size: 65_536,
                max_files: 2
            }
        );
        for bad in [
            &["--cgroup-parent", "../escape"][..],
            &["--cgroup-parent", "a/./b"],
            &["--cgroup-parent", "/"],
            &["--cgroup-parent", "sp ace"],
            &["--container-log-max-size", "0"],
            &["--container-log-max-size", "lots"],
            &["--container-log-max-files", "1"],
        ] {
            let args = std::iter::once("everynode-agent").chain(bad.iter().copied());
            assert!(Config::try_parse_from(args).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn every_flag_parses() {
        let config = Config::try_parse_from([
            "everynode-agent",
            "--node-name",
            "worker-1.example",
            "--labels",
            "zone=a, example.com/role=edge",
            "--taints",
            "dedicated=infra:NoSchedule,gpu:NoExecute",
            "--registry",
            "http://10.0.0.5:7402",
            "--runtime",
            "fake",
            "--data-dir",
            "/tmp/en",
            "--node-ip",
            "10.0.0.7",
            "--simulate",
            "100",
            "--fake-start-latency",
            "1s",
            "--fake-ready-delay",
            "2s",
            "--fake-failure-rate",
            "0.25",
            "--crash-backoff-base",
            "100ms",
        ])
        .unwrap();
        assert_eq!(config.node_name.as_deref(), Some("worker-1.example"));
        assert_eq!(config.labels.0.get("zone").map(String::as_str), Some("a"));
        assert_eq!(
            config.labels.0.get("example.com/role").map(String::as_str),
            Some("edge")
        );
        assert_eq!(config.taints.0.len(), 2);
        assert_eq!(config.taints.0[0].key, "dedicated");
        assert_eq!(config.taints.0[0].value, "infra");
        assert_eq!(config.taints.0[0].effect, "NoSchedule");
        assert_eq!(config.taints.0[1].key, "gpu");
        assert_eq!(config.taints.0[1].value, "");
        assert_eq!(config.taints.0[1].effect, "NoExecute");
        assert_eq!(config.runtime, RuntimeKind::Fake);
        assert_eq!(config.simulate.map(NonZeroUsize::get), Some(100));
        assert_eq!(config.fake.failure_rate, 0.25);
        assert_eq!(config.fake.ready_delay, Duration::from_secs(2));
        assert_eq!(config.tuning.crash_backoff_base, Duration::from_millis(100));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_values_are_rejected_up_front() {
        for args in [
            &["--labels", "novalue"][..],
            &["--labels", "bad key=v"],
            &["--labels", "k=bad value"],
            &["--taints", "k=v"],
            &["--taints", "k=v:Sometimes"],
            &["--node-name", "Upper_Case"],
            &["--fake-failure-rate", "1.5"],
            &["--crash-backoff-base", "0s"],
            &["--runtime", "docker"],
        ] {
            let argv = std::iter::once("everynode-agent").chain(args.iter().copied());
            assert!(Config::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn duration_flags_keep_the_values_they_took() {
        let config = Config::try_parse_from([
            "everynode-agent",
            "--fake-start-latency",
            "0",
            "--fake-ready-delay",
            "0s",
            "--min-grace",
            "0s",
        ])
        .unwrap();
        assert_eq!(config.fake.start_latency, Duration::ZERO);
        assert_eq!(config.fake.ready_delay, Duration::ZERO);
        assert_eq!(config.tuning.min_grace, Duration::ZERO);
        for flag in [
            "--crash-backoff-base",
            "--crash-backoff-max",
            "--crash-backoff-reset",
            "--retry-max",
        ] {
            let error = Config::try_parse_from(["everynode-agent", flag, "0s"])
                .unwrap_err()
                .to_string();
            assert!(error.contains("must be longer than zero"), "{error}");
        }
        let error = Config::try_parse_from(["everynode-agent", "--min-grace", "2"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a duration"), "{error}");
    }

    const TOKEN: &str = "abcdef.0123456789abcdef";

    #[test]
    fn a_bootstrap_token_needs_a_ca_and_no_credentials() {
        let config = Config::try_parse_from([
            "everynode-agent",
            "--bootstrap-token",
            TOKEN,
            "--ca-cert",
            "/etc/everynode/ca.crt",
        ])
        .unwrap();
        assert_eq!(
            config.bootstrap_token.as_ref().map(|t| t.id()),
            Some("abcdef")
        );
        assert_eq!(config.ca_cert, Some(PathBuf::from("/etc/everynode/ca.crt")));
        assert!(config.validate().is_ok());
        // Neither the token nor its secret shows in the configuration's debug output.
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");

        for extra in [&["--credentials", "/pki/node-a"][..], &["--insecure"]] {
            let argv = [
                "everynode-agent",
                "--bootstrap-token",
                TOKEN,
                "--ca-cert",
                "/ca.crt",
            ]
            .into_iter()
            .chain(extra.iter().copied());
            let error = Config::try_parse_from(argv).unwrap_err().to_string();
            assert!(error.contains("cannot be used with"), "{error}");
        }
        let error = Config::try_parse_from(["everynode-agent", "--bootstrap-token", TOKEN])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--ca-cert"), "{error}");
        let error = Config::try_parse_from([
            "everynode-agent",
            "--bootstrap-token",
            "abcdef.0123456789abcdeX",
            "--ca-cert",
            "/ca.crt",
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("<6 characters>.<16 characters>"), "{error}");
        assert!(!error.contains("0123456789abcdeX"), "{error}");

        // The same rules for a configuration built in code.
        let mut config = Config::new("nats://n", "https://r", "n1", PathBuf::from("/d"));
        config.bootstrap_token = Some(TOKEN.parse().unwrap());
        assert_eq!(config.validate(), Err(ConfigError::BootstrapNeedsCaCert));
        config.ca_cert = Some(PathBuf::from("/ca.crt"));
        assert!(config.validate().is_ok());
        config.common.security.insecure = true;
        assert_eq!(
            config.validate(),
            Err(ConfigError::BootstrapWithCredentials)
        );
        config.common.security.insecure = false;
        config.runtime = RuntimeKind::Fake;
        config.simulate = NonZeroUsize::new(3);
        assert_eq!(config.validate(), Err(ConfigError::BootstrapWithSimulate));
        let error = Config::try_parse_from([
            "everynode-agent",
            "--bootstrap-token",
            TOKEN,
            "--ca-cert",
            "/ca.crt",
            "--runtime",
            "fake",
            "--simulate",
            "2",
        ])
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
        assert!(error.contains("--simulate"), "{error}");
    }

    #[test]
    fn simulate_needs_the_fake_runtime() {
        let config = Config::try_parse_from(["everynode-agent", "--simulate", "3"]).unwrap();
        assert_eq!(config.validate(), Err(ConfigError::SimulateNeedsFake));
    }
}
