//! The command line, as clap parses it. Only flags: the environment variables and the config
//! file are layered in [`crate::config`], so that precedence is testable without touching the
//! process environment.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use everynode_core::duration::{parse_duration, parse_positive_duration};

use crate::config::Service;

/// everynode's command-line client, with kubectl's habits.
#[derive(Debug, Parser)]
#[command(
    name = "enctl",
    version,
    about = "everynode's command-line client: DaemonSets, nodes and pods, with kubectl's habits",
    after_help = "Settings: flags, else EVERYNODE_ADMISSION / EVERYNODE_REGISTRY / \
EVERYNODE_CONTROLLER / EVERYNODE_CREDENTIALS / EVERYNODE_INSECURE, else the context of the \
config file (--config, EVERYNODE_CONFIG, or ~/.config/everynode/config.yaml; --context selects \
one, else current-context), else https://127.0.0.1:7401 / :7402 / :7403. Every call to a service \
needs --credentials DIR (an identity folder of `enctl pki init`) or --insecure. \
`enctl config view` shows what is in effect."
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// URL of the admission service (DaemonSets) [env: EVERYNODE_ADMISSION].
    #[arg(long, global = true, value_name = "URL")]
    pub admission: Option<String>,
    /// URL of the registry (nodes) [env: EVERYNODE_REGISTRY].
    #[arg(long, global = true, value_name = "URL")]
    pub registry: Option<String>,
    /// URL of the controller (pods, endpoints) [env: EVERYNODE_CONTROLLER].
    #[arg(long, global = true, value_name = "URL")]
    pub controller: Option<String>,
    /// Identity folder to present (`ca.crt`, `tls.crt`, `tls.key`, e.g. PKI/admin of
    /// `enctl pki init PKI`): mutual TLS with that identity [env: EVERYNODE_CREDENTIALS].
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "insecure")]
    pub credentials: Option<PathBuf>,
    /// Talk plaintext, unauthenticated, to services started with --insecure
    /// [env: EVERYNODE_INSECURE].
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Config file [env: EVERYNODE_CONFIG] [default: ~/.config/everynode/config.yaml].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The config file's context to use [default: its current-context].
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace of namespaced objects (DaemonSets, pods) [default: default].
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Longest wait for one request (watches excepted), e.g. 30s, 2m.
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

/// The flags the config module layers over the environment and the config file.
impl From<&GlobalArgs> for crate::config::Flags {
    fn from(args: &GlobalArgs) -> Self {
        Self {
            layer: crate::config::Layer {
                admission: args.admission.clone(),
                registry: args.registry.clone(),
                controller: args.controller.clone(),
                credentials: args.credentials.clone(),
                insecure: args.insecure,
            },
            config: args.config.clone(),
            context: args.context.clone(),
        }
    }
}

impl GlobalArgs {
    /// The namespace to use: `-n`, else `default`.
    pub fn namespace(&self) -> String {
        self.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string())
    }
}

/// enctl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update DaemonSets from files, directories or stdin (`-f -`).
    Apply(ApplyArgs),
    /// List or show objects: ds|daemonsets, nodes|no, pods|po.
    Get(GetArgs),
    /// Show an object in detail: ds, node or pod.
    Describe(DescribeArgs),
    /// Delete DaemonSets, pods or nodes.
    Delete(DeleteArgs),
    /// Set (`k=v`) or remove (`k-`) labels of a node.
    Label(LabelArgs),
    /// Mark a node unschedulable (daemon pods ignore it, as in Kubernetes).
    Cordon(NodeArg),
    /// Mark a node schedulable again.
    Uncordon(NodeArg),
    /// Add (`k=v:Effect`, `k:Effect`) or remove (`k:Effect-`, `k-`) taints of a node.
    Taint(TaintArgs),
    /// Where a DaemonSet's ready pods can be reached: node addresses and host ports.
    Endpoints(EndpointsArgs),
    /// Follow and manage DaemonSet rollouts.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Client version, and whether each service is reachable and serving.
    Version(VersionArgs),
    /// Make the deployment's certificate authority and identities.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Ask the services how they see you.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Bootstrap tokens for joining nodes.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show enctl's settings.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `--dry-run` strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Store the objects.
    None,
    /// Validate and default on the server; store nothing.
    Server,
    /// Not supported: everynode's defaults live on the server.
    Client,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// Aligned columns with more of them.
    Wide,
    /// Kubernetes-shaped JSON (a `List` for several objects).
    Json,
    /// Kubernetes-shaped YAML (a `List` for several objects).
    Yaml,
    /// `kind/name` per object.
    Name,
}

/// Output formats of commands that print the objects they changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectOutput {
    /// Kubernetes-shaped JSON.
    Json,
    /// Kubernetes-shaped YAML.
    Yaml,
    /// `kind/name`.
    Name,
}

/// `enctl apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A YAML or JSON file (one or more documents, or a `kind: List`), a directory of them
    /// (`.yaml`, `.yml`, `.json`), or `-` for stdin. Repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        required = true
    )]
    pub files: Vec<String>,
    /// Read directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// `server`: validate and default on the server, store nothing.
    #[arg(long, value_enum, value_name = "STRATEGY", default_value = "none")]
    pub dry_run: DryRun,
    /// Print the applied objects instead of `created`/`configured` lines.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<ObjectOutput>,
}

/// `enctl get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// `TYPE [NAME...]` or `TYPE/NAME...`; TYPE is ds|daemonset(s), node(s)|no, pod(s)|po.
    #[arg(required = true, value_name = "TYPE [NAME...]")]
    pub targets: Vec<String>,
    /// Label selector, e.g. `app=agent,tier in (a,b),!legacy`.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Only pods bound to this node.
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
    /// After listing, print changes as they happen.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Leave out the header row of tables.
    #[arg(long)]
    pub no_headers: bool,
}

/// `enctl describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// `TYPE [NAME...]` or `TYPE/NAME...`; without a name, every object (of the namespace).
    #[arg(required = true, value_name = "TYPE [NAME...]")]
    pub targets: Vec<String>,
    /// Label selector, when no name is given.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Every namespace, when no name is given.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

/// What happens to a DaemonSet's pods when it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cascade {
    /// Delete the DaemonSet now; the controller deletes its pods afterwards.
    Background,
    /// Delete the pods first; the DaemonSet goes when they are gone.
    Foreground,
    /// Delete the DaemonSet only; its pods keep running.
    Orphan,
    /// kubectl's old spelling of `background`.
    #[value(name = "true", hide = true)]
    True,
    /// kubectl's old spelling of `orphan`.
    #[value(name = "false", hide = true)]
    False,
}

/// `enctl delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// `TYPE NAME...` or `TYPE/NAME...`.
    #[arg(value_name = "TYPE NAME...")]
    pub targets: Vec<String>,
    /// Delete the DaemonSets of these files (as `apply -f` reads them).
    #[arg(short = 'f', long = "filename", value_name = "FILE|DIR|-")]
    pub files: Vec<String>,
    /// Read directories recursively.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// DaemonSets: what happens to their pods.
    #[arg(long, value_enum, default_value = "background", value_name = "POLICY")]
    pub cascade: Cascade,
    /// Pods: seconds between SIGTERM and SIGKILL (default: the pod's own).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub grace_period: Option<i64>,
    /// Do not fail when an object does not exist.
    #[arg(long)]
    pub ignore_not_found: bool,
}

/// `enctl label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// `node NAME KEY=VALUE... KEY-...` or `node/NAME ...`.
    #[arg(required = true, value_name = "node NAME KEY=VAL|KEY-")]
    pub args: Vec<String>,
    /// Allow replacing existing values.
    #[arg(long)]
    pub overwrite: bool,
}

/// `enctl taint`.
#[derive(Debug, Args)]
pub struct TaintArgs {
    /// `node NAME KEY[=VALUE]:EFFECT... KEY[:EFFECT]-...` or `node/NAME ...`.
    #[arg(
        required = true,
        value_name = "node NAME KEY[=VAL]:EFFECT|KEY[:EFFECT]-"
    )]
    pub args: Vec<String>,
    /// Allow replacing a taint with the same key and effect.
    #[arg(long)]
    pub overwrite: bool,
}

/// A node name (`NAME` or `node/NAME`).
#[derive(Debug, Args)]
pub struct NodeArg {
    /// The node.
    #[arg(value_name = "NODE")]
    pub node: String,
}

/// `enctl endpoints`.
#[derive(Debug, Args)]
pub struct EndpointsArgs {
    /// `ds NAME` or `ds/NAME`.
    #[arg(required = true, value_name = "ds NAME")]
    pub targets: Vec<String>,
    /// `table` or `wide` (adds the pod).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Output,
    /// Leave out the header row.
    #[arg(long)]
    pub no_headers: bool,
}

/// `enctl rollout`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Wait until a DaemonSet's rollout is done, printing its progress.
    Status(RolloutStatusArgs),
    /// A DaemonSet's revisions (needs a ControllerRevisions API: not supported yet).
    History(RolloutTarget),
    /// Roll back to an earlier revision (needs a ControllerRevisions API: not supported yet).
    Undo(RolloutTarget),
    /// Replace every pod of a DaemonSet by changing its template's `restartedAt` annotation.
    Restart(RolloutTarget),
}

/// `enctl rollout status`.
#[derive(Debug, Args)]
pub struct RolloutStatusArgs {
    /// `ds/NAME` or `ds NAME`.
    #[arg(required = true, value_name = "ds/NAME")]
    pub targets: Vec<String>,
    /// Give up after this long (`0`: never), e.g. `2m`.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Keep watching until done; `--watch=false` prints the status once.
    #[arg(short = 'w', long, default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub watch: bool,
}

/// A DaemonSet named for a rollout command.
#[derive(Debug, Args)]
pub struct RolloutTarget {
    /// `ds/NAME` or `ds NAME`.
    #[arg(required = true, value_name = "ds/NAME")]
    pub targets: Vec<String>,
}

/// `enctl version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Only the client version; contact no service.
    #[arg(long)]
    pub client: bool,
}

/// `enctl pki`.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make a new PKI in DIR: the CA (`ca.crt`, `ca.key`) and one folder per identity
    /// (admission, registry, controller, admin, viewer, node-NAME). An existing PKI is left as
    /// it is.
    Init(PkiInitArgs),
    /// Add the identity folder `node-NAME` of node NAME's agent to the PKI in DIR.
    Node(PkiNodeArgs),
}

/// `enctl pki init`.
#[derive(Debug, Args)]
pub struct PkiInitArgs {
    /// The folder to write (made if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Another name the service certificates are valid for (besides localhost and 127.0.0.1).
    /// Repeatable.
    #[arg(long = "san", value_name = "NAME")]
    pub sans: Vec<String>,
    /// Nodes to make agent identities for, e.g. `node-a,node-b`.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// How long the identities' certificates are valid, e.g. 90d [default: 1 year].
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub validity: Option<Duration>,
    /// Route address of every member of a NATS cluster, e.g.
    /// `nats-0:6222,nats-1:6222,nats-2:6222` (repeatable): also write `nats-cluster.conf`, the
    /// routes with a generated route password, unless the PKI has one already.
    #[arg(
        long = "nats-cluster",
        value_name = "HOST:PORT,...",
        value_delimiter = ',',
        value_parser = parse_cluster_member
    )]
    pub nats_cluster: Vec<String>,
}

/// One `--nats-cluster` member, checked as the configuration needs it.
fn parse_cluster_member(value: &str) -> Result<String, String> {
    everynode_auth::nats_cluster::check_member(value)?;
    Ok(value.to_owned())
}

/// `enctl pki node`.
#[derive(Debug, Args)]
pub struct PkiNodeArgs {
    /// The node's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The PKI's folder (as `enctl pki init` wrote it).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// How long the certificate is valid, e.g. 90d [default: 1 year].
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub validity: Option<Duration>,
}

/// `enctl auth`.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Who a service takes you for: your user and groups (`everynode.v1.Auth/WhoAmI`).
    Whoami(WhoamiArgs),
}

/// Output formats of `auth whoami`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewOutput {
    /// ATTRIBUTE and VALUE columns.
    Table,
    /// A Kubernetes-shaped `SelfSubjectReview`, JSON.
    Json,
    /// A Kubernetes-shaped `SelfSubjectReview`, YAML.
    Yaml,
}

/// `enctl auth whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// The service to ask.
    #[arg(long, value_enum, default_value = "admission", value_name = "SERVICE")]
    pub service: Service,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: ReviewOutput,
}

/// `enctl token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bootstrap token on the registry and print it (administrators only).
    Create(TokenCreateArgs),
}

/// `enctl token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// How long the token is valid, e.g. 30m, 2h [default: the registry's, 1h; at most 7d].
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub ttl: Option<Duration>,
    /// What the token is for, kept with it.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub description: String,
}

/// `enctl config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// The settings in effect (URLs, credentials, config file, context) and where each came
    /// from.
    View,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("enctl").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&[
            "get",
            "ds",
            "-n",
            "kube-system",
            "--admission",
            "http://a:1",
        ]);
        assert_eq!(cli.global.namespace(), "kube-system");
        assert_eq!(cli.global.admission.as_deref(), Some("http://a:1"));
        assert_eq!(cli.global.request_timeout, Duration::from_secs(30));
        assert_eq!(parse(&["get", "ds"]).global.namespace(), "default");
    }

    #[test]
    fn get_flags() {
        let Command::Get(get) = parse(&[
            "get", "po", "-l", "app=x", "--node", "n1", "-A", "-o", "wide", "-w",
        ])
        .command
        else {
            panic!("not get");
        };
        assert_eq!(get.targets, ["po"]);
        assert_eq!(get.selector.as_deref(), Some("app=x"));
        assert_eq!(get.node.as_deref(), Some("n1"));
        assert!(get.all_namespaces && get.watch);
        assert_eq!(get.output, Output::Wide);
    }

    #[test]
    fn apply_takes_several_files_and_dry_run_server() {
        let Command::Apply(apply) =
            parse(&["apply", "-f", "a.yaml", "-f", "-", "--dry-run=server"]).command
        else {
            panic!("not apply");
        };
        assert_eq!(apply.files, ["a.yaml", "-"]);
        assert_eq!(apply.dry_run, DryRun::Server);
        assert!(Cli::try_parse_from(["enctl", "apply"]).is_err());
    }

    #[test]
    fn label_and_taint_take_removals_and_flags_anywhere() {
        let Command::Label(label) =
            parse(&["label", "node", "n1", "a=b", "--overwrite", "c-"]).command
        else {
            panic!("not label");
        };
        assert_eq!(label.args, ["node", "n1", "a=b", "c-"]);
        assert!(label.overwrite);
        let Command::Taint(taint) = parse(&["taint", "node", "n1", "k:NoSchedule-"]).command else {
            panic!("not taint");
        };
        assert_eq!(taint.args, ["node", "n1", "k:NoSchedule-"]);
    }

    #[test]
    fn delete_cascade_and_rollout_timeout() {
        let Command::Delete(delete) = parse(&["delete", "ds", "x", "--cascade=orphan"]).command
        else {
            panic!("not delete");
        };
        assert_eq!(delete.cascade, Cascade::Orphan);
        let Command::Delete(delete) = parse(&["delete", "ds", "x", "--cascade=false"]).command
        else {
            panic!("not delete");
        };
        assert_eq!(delete.cascade, Cascade::False);
        let Command::Rollout(RolloutCommand::Status(status)) = parse(&[
            "rollout",
            "status",
            "ds/x",
            "--timeout",
            "2m",
            "--watch=false",
        ])
        .command
        else {
            panic!("not rollout status");
        };
        assert_eq!(status.timeout, Duration::from_secs(120));
        assert!(!status.watch);
        assert!(
            Cli::try_parse_from(["enctl", "rollout", "status", "ds/x", "--timeout", "soon"])
                .is_err()
        );
        // `0` (never) and `0s` as before, with or without surrounding spaces.
        for zero in ["0", " 0 ", "0s"] {
            let Command::Rollout(RolloutCommand::Status(status)) =
                parse(&["rollout", "status", "ds/x", "--timeout", zero]).command
            else {
                panic!("not rollout status");
            };
            assert_eq!(status.timeout, Duration::ZERO, "{zero:?}");
        }
    }

    #[test]
    fn credentials_insecure_and_context_go_anywhere() {
        let cli = parse(&[
            "get",
            "ds",
            "--credentials",
            "pki/admin",
            "--context",
            "lab",
        ]);
        assert_eq!(
            cli.global.credentials.as_deref(),
            Some(std::path::Path::new("pki/admin"))
        );
        assert_eq!(cli.global.context.as_deref(), Some("lab"));
        assert!(parse(&["--insecure", "get", "ds"]).global.insecure);
        let err = Cli::try_parse_from(["enctl", "get", "ds", "--insecure", "--credentials", "x"])
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn pki_init_takes_sans_nodes_and_validity() {
        let Command::Pki(PkiCommand::Init(init)) = parse(&[
            "pki",
            "init",
            "/tmp/pki",
            "--san",
            "a.example",
            "--san",
            "10.0.0.1",
            "--nodes",
            "n1,n2",
            "--nodes",
            "n3",
            "--validity",
            "90d",
            "--nats-cluster",
            "nats-0:6222,nats-1:6222",
            "--nats-cluster",
            "nats-2:6222",
        ])
        .command
        else {
            panic!("not pki init");
        };
        assert_eq!(init.dir, std::path::Path::new("/tmp/pki"));
        assert_eq!(init.sans, ["a.example", "10.0.0.1"]);
        assert_eq!(init.nodes, ["n1", "n2", "n3"]);
        assert_eq!(init.validity, Some(Duration::from_secs(90 * 24 * 3600)));
        assert_eq!(
            init.nats_cluster,
            ["nats-0:6222", "nats-1:6222", "nats-2:6222"]
        );
        let err = Cli::try_parse_from(["enctl", "pki", "init", "d", "--nats-cluster", "a:1,b"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid value 'b' for '--nats-cluster <HOST:PORT,...>'"),
            "{err}"
        );
        assert!(Cli::try_parse_from(["enctl", "pki", "init", "d", "--validity", "0s"]).is_err());
        let Command::Pki(PkiCommand::Node(node)) =
            parse(&["pki", "node", "n4", "/tmp/pki"]).command
        else {
            panic!("not pki node");
        };
        assert_eq!(node.name, "n4");
        assert_eq!(node.validity, None);
    }

    #[test]
    fn whoami_asks_admission_by_default() {
        let Command::Auth(AuthCommand::Whoami(who)) = parse(&["auth", "whoami"]).command else {
            panic!("not auth whoami");
        };
        assert_eq!(who.service, Service::Admission);
        assert_eq!(who.output, ReviewOutput::Table);
        let Command::Auth(AuthCommand::Whoami(who)) =
            parse(&["auth", "whoami", "--service", "registry", "-o", "yaml"]).command
        else {
            panic!("not auth whoami");
        };
        assert_eq!(who.service, Service::Registry);
        assert_eq!(who.output, ReviewOutput::Yaml);
    }

    #[test]
    fn token_create_takes_ttl_and_description() {
        let Command::Token(TokenCommand::Create(create)) =
            parse(&["token", "create", "--ttl", "2h", "--description", "rack 4"]).command
        else {
            panic!("not token create");
        };
        assert_eq!(create.ttl, Some(Duration::from_secs(7200)));
        assert_eq!(create.description, "rack 4");
        let Command::Token(TokenCommand::Create(create)) = parse(&["token", "create"]).command
        else {
            panic!("not token create");
        };
        assert_eq!((create.ttl, create.description.as_str()), (None, ""));
        assert!(Cli::try_parse_from(["enctl", "token", "create", "--ttl", "soon"]).is_err());
        assert!(Cli::try_parse_from(["enctl", "token", "create", "--ttl", "0s"]).is_err());
    }
}
