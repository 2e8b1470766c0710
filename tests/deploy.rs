//! Checks of `deploy/`: what can be verified without a container engine.
//!
//! - `deploy/docker/Dockerfile` builds with `cargo build --release --locked --bins` and copies
//!   every binary the workspace builds into `/usr/local/bin`, runs as a non-root user and
//!   exposes the services' default ports;
//! - `deploy/docker-compose.yml` parses, starts every service with a binary of the workspace,
//!   uses only flags and `EVERYNODE_*` variables that binary accepts, listens and publishes on
//!   the binaries' default ports, points clients at services that exist, and waits on
//!   healthchecks;
//! - every manifest under `deploy/k8s/` decodes with everynode's own manifest codec, with the
//!   same port, flag and env checks, and the agent DaemonSet passes everynode's DaemonSet
//!   defaulting and validation (`apps/v1`).
//!
//! Flags and env names are read from the binaries' sources (`env = "EVERYNODE_…"` in their clap
//! definitions, plus the shared ones of `libs/service/src/config.rs`), since the binaries of
//! other packages cannot be run from here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use everynode_api::manifest::{self, Object, yaml};
use everynode_core::defaults::default_daemon_set;
use everynode_core::model;
use everynode_core::validation::{ApiVersion, validate_daemon_set};
use everynode_service::defaults;
use serde_json::Value;

// ---- the workspace -------------------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The quoted strings of a TOML array `key = [ … ]` (spanning lines), the way the root
/// Cargo.toml spells `members`.
fn toml_string_array(text: &str, key: &str) -> Vec<String> {
    let start = text
        .find(&format!("\n{key} = ["))
        .unwrap_or_else(|| panic!("no `{key} = [` in the TOML"));
    let rest = &text[start..];
    let body = &rest[rest.find('[').expect("[")..rest.find(']').expect("]")];
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

/// `name = "…"` of a TOML section starting at `section`.
fn toml_name(section: &str) -> Option<String> {
    section
        .lines()
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
        })
}

/// Every binary the workspace builds, with its crate directory.
fn workspace_bins() -> BTreeMap<String, PathBuf> {
    let mut bins = BTreeMap::new();
    for member in toml_string_array(&read("Cargo.toml"), "members") {
        let dir = root().join(&member);
        let manifest = read(&format!("{member}/Cargo.toml"));
        let explicit: Vec<String> = manifest
            .match_indices("[[bin]]")
            .filter_map(|(i, _)| toml_name(&manifest[i..]))
            .collect();
        if explicit.is_empty() {
            if dir.join("src/main.rs").exists() {
                let package =
                    toml_name(&manifest[manifest.find("[package]").expect("[package]")..])
                        .expect("package name");
                bins.insert(package, dir.clone());
            }
        } else {
            for name in explicit {
                bins.insert(name, dir.clone());
            }
        }
    }
    bins
}

fn rust_sources(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).expect("readable source"));
        }
    }
}

/// The `EVERYNODE_*` names of every `env = "…"` in `text`.
fn env_names(text: &str) -> BTreeSet<String> {
    text.match_indices("env = \"")
        .filter_map(|(i, m)| {
            let rest = &text[i + m.len()..];
            let name = &rest[..rest.find('"')?];
            name.starts_with("EVERYNODE_").then(|| name.to_string())
        })
        .collect()
}

/// The env vars (each one a flag, `--foo-bar` ⇔ `EVERYNODE_FOO_BAR`) a binary accepts: its
/// crate's own clap arguments, the shared ones of every binary (`CommonArgs`) and, for a gRPC
/// server, the server ones (`ServerArgs`).
fn accepted_env(bins: &BTreeMap<String, PathBuf>, bin: &str) -> BTreeSet<String> {
    let dir = bins
        .get(bin)
        .unwrap_or_else(|| panic!("{bin} is not a binary of the workspace"));
    let mut sources = Vec::new();
    rust_sources(&dir.join("src"), &mut sources);
    let own = sources.join("\n");
    let shared = read("libs/service/src/config.rs");
    let split = shared
        .find("pub struct ServerArgs")
        .expect("libs/service defines ServerArgs");
    let mut names = env_names(&own);
    names.extend(env_names(&shared[..split]));
    // `--credentials` and `--insecure`, flattened into `CommonArgs`.
    names.extend(env_names(&read("libs/service/src/security.rs")));
    if own.contains("ServerArgs") {
        names.extend(env_names(&shared[split..]));
    }
    names
}

fn flag_env(flag: &str) -> String {
    let name = flag.trim_start_matches("--");
    let name = name.split_once('=').map_or(name, |(n, _)| n);
    format!("EVERYNODE_{}", name.to_uppercase().replace('-', "_"))
}

/// The services with a gRPC port: binary, the host name they go by here, default port.
fn servers() -> [(&'static str, &'static str, u16); 3] {
    let port = |listen: &str| -> u16 {
        listen
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .expect("a host:port default")
    };
    [
        (
            "everynode-admission",
            "admission",
            port(defaults::ADMISSION_LISTEN),
        ),
        (
            "everynode-registry",
            "registry",
            port(defaults::REGISTRY_LISTEN),
        ),
        (
            "everynode-controller",
            "controller",
            port(defaults::CONTROLLER_LISTEN),
        ),
    ]
}

fn default_port(bin: &str) -> u16 {
    servers()
        .iter()
        .find(|(b, _, _)| *b == bin)
        .map(|s| s.2)
        .unwrap_or_else(|| panic!("{bin} serves no gRPC"))
}

/// `scheme://host:port` → (host, port).
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url} has no port"));
    (host.to_string(), port.parse().expect("a numeric port"))
}

// ---- YAML ------------------------------------------------------------------------------------

fn yaml_documents(relative: &str) -> Vec<Value> {
    yaml::parse_documents(&read(relative))
        .unwrap_or_else(|e| panic!("{relative} does not parse: {e:?}"))
        .into_iter()
        .flatten()
        .map(|node| node.to_json().expect("JSON-representable YAML"))
        .collect()
}

fn str_of<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is not a list"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

// ---- Dockerfile ------------------------------------------------------------------------------

#[test]
fn the_workspace_builds_the_binaries_deploy_relies_on() {
    let bins = workspace_bins();
    for bin in [
        "everynode-admission",
        "everynode-registry",
        "everynode-controller",
        "everynode-agent",
        "enctl",
    ] {
        assert!(bins.contains_key(bin), "{bin} missing from {bins:?}");
    }
    let agent = accepted_env(&bins, "everynode-agent");
    assert!(agent.contains("EVERYNODE_NODE_NAME") && agent.contains("EVERYNODE_NATS"));
    assert!(
        !agent.contains("EVERYNODE_LISTEN"),
        "the agent serves no gRPC"
    );
    assert!(accepted_env(&bins, "everynode-controller").contains("EVERYNODE_LISTEN"));
}

#[test]
fn the_dockerfile_builds_and_installs_every_binary() {
    let dockerfile = read("deploy/docker/Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        froms,
        ["FROM rust:1-bookworm AS build", "FROM debian:bookworm-slim"],
        "a build stage and a runtime stage"
    );
    assert!(dockerfile.contains("cargo build --release --locked --bins"));
    assert!(dockerfile.contains("ca-certificates"));
    for bin in workspace_bins().keys() {
        assert!(
            dockerfile.contains(&format!("target/release/{bin} ")),
            "the build stage does not copy out {bin}"
        );
        assert!(
            dockerfile
                .lines()
                .any(|l| l == format!("COPY --from=build /out/{bin} /usr/local/bin/{bin}")),
            "the image lacks /usr/local/bin/{bin}"
        );
    }
    let expose = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("an EXPOSE line");
    let exposed: BTreeSet<u16> = expose
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    let ports: BTreeSet<u16> = servers().iter().map(|s| s.2).collect();
    assert_eq!(exposed, ports);
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    let uid = user.split(':').next().expect("a user");
    assert!(uid != "0" && uid != "root", "the image runs as root");

    let ignore = read("deploy/docker/Dockerfile.dockerignore");
    let ignored: BTreeSet<&str> = ignore
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    for path in ["target", ".tools", ".git"] {
        assert!(ignored.contains(path), "{path} is not ignored");
    }
    for kept in [
        "Cargo.toml",
        "Cargo.lock",
        "proto",
        "libs",
        "services",
        "cli",
    ] {
        assert!(!ignored.contains(kept), "{kept} is needed to build");
    }
}

// ---- docker compose --------------------------------------------------------------------------

fn compose() -> Value {
    let mut docs = yaml_documents("deploy/docker-compose.yml");
    assert_eq!(docs.len(), 1, "one compose document");
    docs.remove(0)
}

/// Environment of a compose service (map form).
fn compose_env(service: &Value) -> BTreeMap<String, String> {
    service
        .get("environment")
        .and_then(Value::as_object)
        .map(|env| {
            env.iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("a string value").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The value after `flag` in a command line.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[test]
fn compose_runs_workspace_binaries_with_flags_they_accept() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "nats-0",
        "nats-1",
        "nats-2",
        "admission",
        "registry",
        "controller",
        "agent-1",
        "agent-2",
        "agent-3",
    ]
    .into();
    assert_eq!(names, expected);
    let bins = workspace_bins();
    let volumes = compose["volumes"].as_object().expect("top-level volumes");

    let members = compose_nats_members(&compose);
    let mut images = BTreeSet::new();
    for (name, service) in services.iter().filter(|(n, _)| !members.contains(*n)) {
        images.insert(str_of(service, "/image").to_string());
        assert_eq!(str_of(service, "/build/context"), "..", "{name}");
        let dockerfile = str_of(service, "/build/dockerfile");
        assert_eq!(dockerfile, "deploy/docker/Dockerfile", "{name}");
        assert!(root().join(dockerfile).is_file());

        let command = strings(&service["command"]);
        let bin = command[0].as_str();
        assert!(
            bins.contains_key(bin) && bin != "enctl",
            "{name} runs {bin}, not a service of the workspace"
        );
        let accepted = accepted_env(&bins, bin);
        for flag in command.iter().filter(|a| a.starts_with("--")) {
            assert!(
                accepted.contains(&flag_env(flag)),
                "{name}: {bin} has no {flag}"
            );
        }
        let env = compose_env(service);
        for key in env.keys() {
            assert!(key.starts_with("EVERYNODE_"), "{name}: stray env {key}");
            assert!(accepted.contains(key), "{name}: {bin} does not read {key}");
        }
        assert_eq!(
            nats_hosts(&env["EVERYNODE_NATS"]),
            members,
            "{name} must list every NATS member"
        );

        for dependency in service["depends_on"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} depends on nothing"))
        {
            assert_eq!(
                str_of(dependency.1, "/condition"),
                "service_healthy",
                "{name} → {}",
                dependency.0
            );
            assert!(
                services[dependency.0].get("healthcheck").is_some(),
                "{name} waits on {}, which has no healthcheck",
                dependency.0
            );
        }
        for member in &members {
            assert!(
                service["depends_on"].get(member).is_some(),
                "{name} must wait for NATS member {member}"
            );
        }
        for mount in service
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mount = mount.as_str().expect("short syntax");
            let volume = mount.split(':').next().expect("a volume");
            if let Some(host) = volume.strip_prefix("./pki/") {
                // Identities: only what this container needs, read-only; the CA key only for
                // the registry, which signs node certificates.
                assert!(mount.ends_with(":ro"), "{name}: {mount} must be read-only");
                assert!(!host.is_empty() && host != "admin", "{name}: {mount}");
                if host == "ca.key" {
                    assert_eq!(name, "registry", "only the registry gets the CA key");
                }
                continue;
            }
            assert!(volumes.contains_key(volume), "{name}");
        }
    }
    assert_eq!(images.len(), 1, "one image for every service: {images:?}");

    for member in &members {
        let nats = &services[member];
        assert!(str_of(nats, "/image").starts_with("nats:2.10"), "{member}");
        let args = strings(&nats["command"]);
        assert!(args.contains(&"-js".to_string()), "{member}");
        // Authenticated: deploy/nats/server.conf includes the operator-mode configuration and
        // the cluster's routes `enctl pki init` writes, mounted beside it, and binds monitoring
        // to loopback.
        assert_eq!(flag_value(&args, "-c"), Some("/etc/nats/server.conf"));
        let volumes = strings(&nats["volumes"]);
        for mount in [
            "./nats/server.conf:/etc/nats/server.conf:ro",
            "./pki/nats-server.conf:/etc/nats/nats-server.conf:ro",
            "./pki/nats-cluster.conf:/etc/nats/nats-cluster.conf:ro",
        ] {
            assert!(
                volumes.iter().any(|v| v == mount),
                "{member}: {mount} in {volumes:?}"
            );
        }
        assert_eq!(flag_value(&args, "-sd"), Some("/data"), "{member}");
        assert_eq!(
            flag_value(&args, "-m"),
            None,
            "{member}: no monitoring port on every interface"
        );
        assert!(
            !strings(&nats["ports"]).iter().any(|p| p.contains("8222")),
            "{member}: monitoring is not published"
        );
        let check = strings(&nats["healthcheck"]["test"]).join(" ");
        assert!(check.contains("http://localhost:8222/healthz"), "{check}");
    }
    assert_monitoring_on_loopback();
}

/// The compose services that run nats-server, by name.
fn compose_nats_members(compose: &Value) -> BTreeSet<String> {
    compose["services"]
        .as_object()
        .expect("services")
        .iter()
        .filter(|(_, service)| {
            service["image"]
                .as_str()
                .is_some_and(|image| image.starts_with("nats:"))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The hosts of a comma-separated NATS URL list, each on the client port 4222.
fn nats_hosts(urls: &str) -> BTreeSet<String> {
    let hosts: Vec<String> = urls
        .split(',')
        .map(|url| {
            assert!(url.starts_with("nats://"), "{url} in {urls}");
            let (host, port) = host_port(url);
            assert_eq!(port, 4222, "{url}");
            host
        })
        .collect();
    let unique: BTreeSet<String> = hosts.iter().cloned().collect();
    assert_eq!(unique.len(), hosts.len(), "a member twice in {urls}");
    unique
}

/// deploy/nats/server.conf includes the PKI's configuration and binds monitoring to loopback.
fn assert_monitoring_on_loopback() {
    let conf = std::fs::read_to_string(root().join("deploy/nats/server.conf"))
        .expect("deploy/nats/server.conf");
    let lines: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        lines,
        [
            "include ./nats-server.conf",
            "include ./nats-cluster.conf",
            "http: \"127.0.0.1:8222\""
        ],
        "{conf}"
    );
}

#[test]
fn compose_services_listen_on_the_default_ports_and_find_each_other() {
    let compose = compose();
    let services = &compose["services"];
    let bins = workspace_bins();
    for (bin, name, port) in servers() {
        let service = &services[name];
        assert_eq!(strings(&service["command"])[0], bin);
        let env = compose_env(service);
        assert_eq!(env["EVERYNODE_LISTEN"], format!("0.0.0.0:{port}"), "{name}");
        assert_eq!(
            strings(&service["ports"]),
            [format!("127.0.0.1:{port}:{port}")],
            "{name}"
        );
        // Mutual TLS with this service's own identity, mounted read-only.
        assert_eq!(
            compose_env(service)
                .get("EVERYNODE_CREDENTIALS")
                .map(String::as_str),
            Some("/credentials"),
            "{name}"
        );
        assert!(
            strings(&service["volumes"]).contains(&format!("./pki/{name}:/credentials:ro")),
            "{name} mounts its own identity folder"
        );
        // The healthcheck: `enctl … version` with every URL on this container's own server.
        let test = strings(&service["healthcheck"]["test"]);
        assert_eq!(test[0], "CMD");
        assert!(
            bins.contains_key(&test[1]) && test[1] == "enctl",
            "{test:?}"
        );
        assert_eq!(test.last().map(String::as_str), Some("version"));
        for flag in ["--admission", "--registry", "--controller"] {
            assert_eq!(
                flag_value(&test, flag),
                Some(format!("https://127.0.0.1:{port}").as_str()),
                "{name}'s healthcheck {flag}"
            );
        }
    }

    // Clients point at the service of that name, on its default port.
    let controller = compose_env(&services["controller"]);
    for (key, target) in [
        ("EVERYNODE_ADMISSION", "everynode-admission"),
        ("EVERYNODE_REGISTRY", "everynode-registry"),
    ] {
        let (host, port) = host_port(&controller[key]);
        assert_eq!(strings(&services[&host]["command"])[0], target, "{key}");
        assert_eq!(port, default_port(target), "{key}");
    }
    let deps: BTreeSet<&String> = services["controller"]["depends_on"]
        .as_object()
        .expect("depends_on")
        .keys()
        .collect();
    let mut expected: BTreeSet<String> = compose_nats_members(&compose);
    expected.extend(["admission".to_string(), "registry".to_string()]);
    assert_eq!(deps, expected.iter().collect());
}

#[test]
fn compose_runs_three_distinct_process_agents() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let mut nodes = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let mut volumes = BTreeSet::new();
    for name in ["agent-1", "agent-2", "agent-3"] {
        let agent = &services[name];
        let command = strings(&agent["command"]);
        assert_eq!(command[0], "everynode-agent");
        assert_eq!(flag_value(&command, "--runtime"), Some("process"), "{name}");
        labels.insert(
            flag_value(&command, "--labels")
                .expect("--labels")
                .to_string(),
        );
        let env = compose_env(agent);
        nodes.insert(env["EVERYNODE_NODE_NAME"].clone());
        let (host, port) = host_port(&env["EVERYNODE_REGISTRY"]);
        assert_eq!(
            strings(&services[&host]["command"])[0],
            "everynode-registry"
        );
        assert_eq!(port, default_port("everynode-registry"));
        let data_dir = &env["EVERYNODE_DATA_DIR"];
        let mounts = strings(&agent["volumes"]);
        assert_eq!(mounts.len(), 2, "{name}: data and credentials");
        assert_eq!(
            mounts[1],
            format!(
                "./pki/node-{}:{}:ro",
                env["EVERYNODE_NODE_NAME"], env["EVERYNODE_CREDENTIALS"]
            ),
            "{name} presents its own node identity"
        );
        let (volume, target) = mounts[0].split_once(':').expect("volume:path");
        assert_eq!(target, data_dir, "{name}'s data dir is not on its volume");
        volumes.insert(volume.to_string());
        assert!(agent["depends_on"].get("registry").is_some(), "{name}");
        let check = strings(&agent["healthcheck"]["test"]).join(" ");
        assert!(check.contains("enctl get node"), "{check}");
    }
    assert_eq!(nodes.len(), 3, "node names: {nodes:?}");
    assert_eq!(labels.len(), 3, "labels: {labels:?}");
    assert_eq!(volumes.len(), 3, "each agent has its own data dir");
}

// ---- Kubernetes ------------------------------------------------------------------------------

const K8S: [&str; 6] = [
    "namespace.yaml",
    "nats.yaml",
    "admission.yaml",
    "registry.yaml",
    "controller.yaml",
    "agent.yaml",
];

#[test]
fn every_kubernetes_manifest_decodes_with_real_api_versions() {
    let dir = root().join("deploy/k8s");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("deploy/k8s")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    assert_eq!(on_disk, K8S.iter().map(|s| s.to_string()).collect());

    let mut kinds = BTreeSet::new();
    for file in K8S {
        let relative = format!("deploy/k8s/{file}");
        let decoded = manifest::decode(&read(&relative))
            .unwrap_or_else(|e| panic!("{relative} does not decode: {e}"));
        assert!(!decoded.is_empty(), "{relative} is empty");
        for doc in yaml_documents(&relative) {
            let (api_version, kind) = (str_of(&doc, "/apiVersion"), str_of(&doc, "/kind"));
            let expected = match kind {
                "Namespace" | "Service" => "v1",
                "Deployment" | "StatefulSet" | "DaemonSet" => "apps/v1",
                "PodDisruptionBudget" => "policy/v1",
                other => panic!("{relative}: unexpected kind {other}"),
            };
            assert_eq!(api_version, expected, "{relative}: {kind}");
            if kind == "Namespace" {
                assert_eq!(str_of(&doc, "/metadata/name"), "everynode");
            } else {
                assert_eq!(
                    str_of(&doc, "/metadata/namespace"),
                    "everynode",
                    "{relative}"
                );
            }
            kinds.insert(format!("{kind}/{}", str_of(&doc, "/metadata/name")));
        }
        for doc in decoded {
            match doc.object {
                Object::DaemonSet(ds) => assert_eq!(file, "agent.yaml", "{ds:?}"),
                Object::Other { kind, .. } => assert_ne!(kind, "DaemonSet"),
                Object::Node(_) | Object::Pod(_) => panic!("{relative}: a Node or Pod"),
            }
        }
    }
    for expected in [
        "Namespace/everynode",
        "Service/nats",
        "Service/nats-headless",
        "StatefulSet/nats",
        "PodDisruptionBudget/nats",
        "Service/admission",
        "Deployment/everynode-admission",
        "Service/registry",
        "Deployment/everynode-registry",
        "Service/controller",
        "Deployment/everynode-controller",
        "DaemonSet/everynode-agent",
    ] {
        assert!(kinds.contains(expected), "{expected} missing: {kinds:?}");
    }
}

/// The env of a container, `valueFrom` entries as `None`.
fn container_env(container: &Value) -> BTreeMap<String, Option<String>> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                str_of(e, "/name").to_string(),
                e.get("value").and_then(Value::as_str).map(String::from),
            )
        })
        .collect()
}

/// The document of `kind` named `name`.
fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn document<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn kubernetes_services_listen_probe_and_publish_the_default_ports() {
    let bins = workspace_bins();
    let nats = yaml_documents("deploy/k8s/nats.yaml");
    let nats_service = named(&nats, "Service", "nats");
    assert!(
        nats_service["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["port"] == 4222)
    );
    let nats_args = strings(
        &document(&nats, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]["args"],
    );
    assert!(nats_args.contains(&"-js".to_string()), "{nats_args:?}");
    assert_eq!(
        flag_value(&nats_args, "-c"),
        Some("/etc/nats/server.conf"),
        "NATS runs with deploy/nats/server.conf, which includes the generated configuration"
    );
    assert_eq!(flag_value(&nats_args, "-m"), None);
    assert_monitoring_on_loopback();
    assert!(
        !nats_service["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["port"] == 8222),
        "the Service does not publish monitoring"
    );
    let container = &document(&nats, "StatefulSet")["spec"]["template"]["spec"]["containers"][0];
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let command = strings(&container[probe]["exec"]["command"]).join(" ");
        assert!(
            command.contains("http://127.0.0.1:8222/healthz"),
            "{probe}: {command}"
        );
    }

    let mut images = BTreeSet::new();
    for (bin, name, port) in servers() {
        let docs = yaml_documents(&format!("deploy/k8s/{name}.yaml"));
        let service = document(&docs, "Service");
        let deployment = document(&docs, "Deployment");
        assert_eq!(str_of(service, "/metadata/name"), name);
        assert_eq!(service["spec"]["ports"][0]["port"], port, "{name}");
        let labels = &deployment["spec"]["template"]["metadata"]["labels"];
        for (k, v) in service["spec"]["selector"].as_object().expect("selector") {
            assert_eq!(&labels[k], v, "{name}: the Service selects no pod");
        }
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        images.insert(str_of(container, "/image").to_string());
        assert_eq!(strings(&container["args"]), [bin], "{name}");
        assert_eq!(container["ports"][0]["containerPort"], port, "{name}");
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            // enctl version against this server over TLS (kubelet grpc probes are plaintext).
            let command = strings(&container[probe]["exec"]["command"]);
            assert_eq!(
                command.first().map(String::as_str),
                Some("enctl"),
                "{name} {probe}"
            );
            assert_eq!(
                command.last().map(String::as_str),
                Some("version"),
                "{name} {probe}"
            );
            assert_eq!(flag_value(&command, "--credentials"), Some("/credentials"));
            for flag in ["--admission", "--registry", "--controller"] {
                assert_eq!(
                    flag_value(&command, flag),
                    Some(format!("https://127.0.0.1:{port}").as_str()),
                    "{name} {probe} {flag}"
                );
            }
        }
        let accepted = accepted_env(&bins, bin);
        let env = container_env(container);
        for key in env.keys() {
            assert!(accepted.contains(key), "{name}: {bin} does not read {key}");
        }
        assert_eq!(
            env["EVERYNODE_LISTEN"].as_deref(),
            Some(format!("0.0.0.0:{port}").as_str())
        );
        assert_eq!(
            nats_hosts(env["EVERYNODE_NATS"].as_deref().expect("NATS")),
            k8s_nats_members(),
            "{name} must list every NATS member"
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        if name == "controller" {
            assert_eq!(deployment["spec"]["replicas"], 2, "a warm standby");
            for (key, target) in [
                ("EVERYNODE_ADMISSION", "admission"),
                ("EVERYNODE_REGISTRY", "registry"),
            ] {
                let (host, port) = host_port(env[key].as_deref().expect("a URL"));
                assert_eq!(host, target);
                let target_bin = format!("everynode-{target}");
                assert_eq!(port, default_port(&target_bin), "{key}");
            }
        }
    }
    let compose = compose();
    let compose_image = str_of(&compose, "/services/admission/image");
    let default_image = compose_image
        .strip_prefix("${EVERYNODE_IMAGE:-")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(compose_image);
    images.insert(default_image.to_string());
    assert_eq!(images.len(), 1, "compose and k8s use one image: {images:?}");
}

#[test]
fn the_agent_daemon_set_is_a_valid_daemon_set() {
    let text = read("deploy/k8s/agent.yaml");
    let daemon_sets = manifest::decode_daemon_sets(&text).expect("only a DaemonSet");
    assert_eq!(daemon_sets.len(), 1);
    let mut ds = model::DaemonSet::from(daemon_sets[0].clone());
    default_daemon_set(&mut ds, ApiVersion::AppsV1);
    let errors = validate_daemon_set(&ds, ApiVersion::AppsV1);
    assert!(errors.is_empty(), "everynode rejects the agent: {errors:?}");

    let doc = &yaml_documents("deploy/k8s/agent.yaml")[0];
    let pod = &doc["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    let tolerations = pod["tolerations"].as_array().expect("tolerations");
    assert!(
        tolerations
            .iter()
            .any(|t| t["operator"] == "Exists" && t.get("key").is_none()),
        "the agent must tolerate every taint"
    );
    let container = &pod["containers"][0];
    assert_eq!(strings(&container["args"]), ["everynode-agent"]);
    let accepted = accepted_env(&workspace_bins(), "everynode-agent");
    let env = container_env(container);
    for key in env.keys() {
        assert!(accepted.contains(key), "the agent does not read {key}");
    }
    let node_name = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "EVERYNODE_NODE_NAME")
        .expect("EVERYNODE_NODE_NAME");
    assert_eq!(
        str_of(node_name, "/valueFrom/fieldRef/fieldPath"),
        "spec.nodeName"
    );
    assert_eq!(env["EVERYNODE_RUNTIME"].as_deref(), Some("process"));
    let (host, port) = host_port(env["EVERYNODE_REGISTRY"].as_deref().expect("registry"));
    assert!(host.starts_with("registry."), "{host}");
    assert_eq!(port, default_port("everynode-registry"));

    let data_dir = env["EVERYNODE_DATA_DIR"].as_deref().expect("a data dir");
    let mount = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == data_dir)
        .expect("the data dir is mounted");
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert!(volume.get("hostPath").is_some(), "{volume}");

    // Capabilities: all dropped, exactly the ones confinement needs added, each explained.
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert!(security.get("privileged").is_none_or(|p| p == false));
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    let added: BTreeSet<String> = strings(&security["capabilities"]["add"])
        .into_iter()
        .collect();
    let needed: BTreeSet<String> = [
        "SETUID",
        "SETGID",
        "KILL",
        "CHOWN",
        "FOWNER",
        "DAC_OVERRIDE",
        "SETPCAP",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(added, needed, "the agent's capabilities");
    for capability in &needed {
        assert!(
            text.lines()
                .any(|l| l.starts_with("#     ") && l.contains(capability.as_str())),
            "{capability} is not explained in the manifest's comment"
        );
        assert!(
            read("README.md").contains(&format!("`{capability}`")),
            "{capability} is not explained in README.md"
        );
    }
    assert!(
        pod.get("hostPID").is_none_or(|p| p == false),
        "no host PID namespace"
    );
    assert!(
        pod.get("hostIPC").is_none_or(|p| p == false),
        "no host IPC namespace"
    );
    // The host's cgroups, read-write, for a cgroup per pod.
    let cgroup_mount = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == "/sys/fs/cgroup")
        .expect("/sys/fs/cgroup is mounted");
    assert!(cgroup_mount.get("readOnly").is_none_or(|r| r == false));
    let cgroup_volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == cgroup_mount["name"])
        .expect("the cgroup volume");
    assert_eq!(str_of(cgroup_volume, "/hostPath/path"), "/sys/fs/cgroup");
    // The agent's own pod template is admissible with the typed security fields.
    let template = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .expect("template");
    let agent = &template.spec.as_ref().expect("pod spec").containers[0];
    let typed = agent
        .security_context
        .as_ref()
        .expect("typed securityContext");
    assert_eq!(typed.allow_privilege_escalation, Some(false));
    assert_eq!(
        typed.capabilities.as_ref().map(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
}

#[test]
fn kubernetes_runs_everything_with_credentials() {
    for (_, name, _) in servers() {
        let docs = yaml_documents(&format!("deploy/k8s/{name}.yaml"));
        let pod = &document(&docs, "Deployment")["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let env = container_env(container);
        assert_eq!(
            env.get("EVERYNODE_CREDENTIALS"),
            Some(&Some("/credentials".to_string())),
            "{name}"
        );
        assert!(!env.contains_key("EVERYNODE_INSECURE"), "{name}");
        for value in env.values().flatten() {
            assert!(
                !value.starts_with("http://"),
                "{name}: {value} is plaintext"
            );
        }
        let mount = container["volumeMounts"]
            .as_array()
            .expect("volumeMounts")
            .iter()
            .find(|m| m["mountPath"] == "/credentials")
            .unwrap_or_else(|| panic!("{name}: no /credentials mount"));
        assert_eq!(mount["readOnly"], true, "{name}");
        let volume = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the credentials volume");
        assert_eq!(
            str_of(volume, "/secret/secretName"),
            format!("everynode-{name}-credentials")
        );
    }
    let agent = yaml_documents("deploy/k8s/agent.yaml");
    let container = &document(&agent, "DaemonSet")["spec"]["template"]["spec"]["containers"][0];
    let env = container_env(container);
    assert!(
        env.get("EVERYNODE_REGISTRY")
            .and_then(Option::as_deref)
            .is_some_and(|url| url.starts_with("https://")),
        "{env:?}"
    );
    assert!(env.contains_key("EVERYNODE_BOOTSTRAP_TOKEN"), "{env:?}");
    assert_eq!(
        env.get("EVERYNODE_CA_CERT"),
        Some(&Some("/bootstrap/ca.crt".to_string()))
    );
}

// ---- the NATS cluster ------------------------------------------------------------------------

/// Members of the NATS cluster: three, so that every stream and bucket (three replicas) keeps
/// a majority with one member lost.
const NATS_MEMBERS: usize = 3;
/// The route port of every member (nats-server's default, `DEFAULT_ROUTE_PORT`).
const ROUTE_PORT: u16 = everynode_auth::nats_cluster::DEFAULT_ROUTE_PORT;

/// The shell commands of `text` (comment marks dropped, continuation lines joined), as words.
fn shell_commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches('#').trim();
        let (part, continues) = match line.strip_suffix('\\') {
            Some(part) => (part, true),
            None => (line, false),
        };
        current.push(' ');
        current.push_str(part);
        if !continues {
            commands.push(current.split_whitespace().map(String::from).collect());
            current.clear();
        }
    }
    commands
}

/// The cluster settings come from `nats-cluster.conf` only: nats-server's `--cluster` and
/// `--cluster_listen` flags override the file's `cluster {}` block and, given without a user and
/// password, drop its route authorization (anyone reaching the port could join); `--routes`
/// and `--cluster_name` would replace the generated routes and name.
fn assert_no_cluster_flags(member: &str, args: &[String]) {
    for arg in args {
        let flag = arg.split('=').next().unwrap_or(arg);
        assert!(
            !flag.starts_with("--cluster")
                && !flag.starts_with("-cluster")
                && flag != "--routes"
                && flag != "-routes",
            "{member}: {arg} overrides nats-cluster.conf"
        );
    }
}

/// Every `enctl pki init DIR …` command in `text`, as words from `enctl` on.
fn pki_init_commands(text: &str, dir: &str) -> Vec<Vec<String>> {
    shell_commands(text)
        .into_iter()
        .filter_map(|words| {
            let i = words
                .windows(4)
                .position(|w| w[0] == "enctl" && w[1] == "pki" && w[2] == "init" && w[3] == dir)?;
            Some(words[i..].to_vec())
        })
        .collect()
}

/// The `--nats-cluster` members of a command (repeatable, comma-separated).
fn cluster_flag(command: &[String]) -> Vec<String> {
    command
        .iter()
        .enumerate()
        .filter(|(_, word)| *word == "--nats-cluster")
        .filter_map(|(i, _)| command.get(i + 1))
        .flat_map(|list| list.split(',').map(String::from))
        .collect()
}

/// The part of README.md under `## Deployment`.
fn readme_deployment() -> String {
    let readme = read("README.md");
    let start = readme
        .find("\n## Deployment\n")
        .expect("a Deployment section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

/// Checks that every `enctl pki init DIR` of the `(file, text)`s passes `--nats-cluster` with
/// exactly `routes`, and that a PKI made with those members has a route to each of them.
fn assert_pki_made_with_routes(docs: &[(&str, String)], dir: &str, routes: &BTreeSet<String>) {
    for (file, text) in docs {
        let commands = pki_init_commands(text, dir);
        assert!(!commands.is_empty(), "{file}: no `enctl pki init {dir}`");
        for command in commands {
            let members = cluster_flag(&command);
            let unique: BTreeSet<String> = members.iter().cloned().collect();
            assert_eq!(unique.len(), members.len(), "{file}: {command:?}");
            assert_eq!(&unique, routes, "{file}: {}", command.join(" "));
            // The routes the file made from these members lists: one per member.
            let pki = tempfile::tempdir().expect("a temp dir");
            everynode_auth::pki::init(
                pki.path(),
                &everynode_auth::pki::InitOptions {
                    nats_cluster: members.clone(),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("{file}: {}: {e}", command.join(" ")));
            let conf = std::fs::read_to_string(
                pki.path()
                    .join(everynode_auth::nats_cluster::CLUSTER_CONF_FILE),
            )
            .expect("nats-cluster.conf");
            assert_eq!(
                everynode_auth::nats_cluster::members_of(&conf),
                members,
                "{conf}"
            );
        }
    }
}

/// The replicas a service creates streams and buckets with: `--replicas N` on its command
/// line, else `EVERYNODE_REPLICAS`.
fn replicas_setting(command: &[String], env: &BTreeMap<String, Option<String>>) -> Option<String> {
    flag_value(command, "--replicas")
        .map(String::from)
        .or_else(|| env.get("EVERYNODE_REPLICAS").cloned().flatten())
}

#[test]
fn compose_runs_a_three_member_nats_cluster() {
    let compose = compose();
    let services = &compose["services"];
    let members = compose_nats_members(&compose);
    assert_eq!(members.len(), NATS_MEMBERS, "{members:?}");

    let mut server_names = BTreeSet::new();
    let mut stores = BTreeSet::new();
    for member in &members {
        let nats = &services[member];
        let args = strings(&nats["command"]);
        assert_no_cluster_flags(member, &args);
        let name = flag_value(&args, "--server_name")
            .unwrap_or_else(|| panic!("{member} has no --server_name"));
        assert!(server_names.insert(name.to_string()), "{name} twice");
        let store = strings(&nats["volumes"])
            .into_iter()
            .find(|v| v.ends_with(":/data"))
            .unwrap_or_else(|| panic!("{member}: no store volume"));
        let volume = store.split(':').next().expect("a volume").to_string();
        assert!(
            compose["volumes"].get(&volume).is_some(),
            "{member}: {volume} is not a named volume"
        );
        assert!(stores.insert(volume), "{member} shares its store");
    }
    assert_eq!(server_names.len(), NATS_MEMBERS, "{server_names:?}");

    // The route port is never published.
    for (name, service) in services.as_object().expect("services") {
        for port in service.get("ports").map(strings).into_iter().flatten() {
            assert!(
                !port.contains(&ROUTE_PORT.to_string()),
                "{name} publishes {port}"
            );
        }
    }

    // The PKI for compose, as the compose file and README make it: a route to every member.
    let routes: BTreeSet<String> = members
        .iter()
        .map(|m| format!("{m}:{ROUTE_PORT}"))
        .collect();
    assert_pki_made_with_routes(
        &[
            (
                "deploy/docker-compose.yml",
                read("deploy/docker-compose.yml"),
            ),
            ("README.md", readme_deployment()),
        ],
        "deploy/pki",
        &routes,
    );

    // Every client lists every member; every service creates three replicas.
    for (name, service) in services.as_object().expect("services") {
        if members.contains(name) {
            continue;
        }
        let env: BTreeMap<String, Option<String>> = compose_env(service)
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        let urls = env["EVERYNODE_NATS"].as_deref().expect("EVERYNODE_NATS");
        assert_eq!(nats_hosts(urls), members, "{name}");
        let command = strings(&service["command"]);
        let replicas = replicas_setting(&command, &env);
        if servers().iter().any(|(_, server, _)| server == name) {
            assert_eq!(replicas.as_deref(), Some("3"), "{name}: --replicas");
        } else {
            assert_eq!(replicas, None, "{name} creates no stream or bucket");
        }
    }
}

/// The NATS members of `deploy/k8s/nats.yaml`: `<pod>.<headless service>.<namespace>.svc`.
fn k8s_nats_members() -> BTreeSet<String> {
    let docs = yaml_documents("deploy/k8s/nats.yaml");
    let set = named(&docs, "StatefulSet", "nats");
    let replicas = set["spec"]["replicas"].as_u64().expect("spec.replicas");
    let service = str_of(set, "/spec/serviceName");
    let namespace = str_of(set, "/metadata/namespace");
    (0..replicas)
        .map(|i| format!("nats-{i}.{service}.{namespace}.svc"))
        .collect()
}

#[test]
fn kubernetes_runs_a_three_member_nats_cluster() {
    let docs = yaml_documents("deploy/k8s/nats.yaml");
    let set = named(&docs, "StatefulSet", "nats");
    let spec = &set["spec"];
    assert_eq!(spec["replicas"], NATS_MEMBERS, "members");
    assert_eq!(
        spec["podManagementPolicy"], "Parallel",
        "members start together (none is healthy alone)"
    );
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let selects_members = |selector: &Value| {
        selector
            .as_object()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &pod_labels[k] == v))
    };

    // The headless Service governs the pods' DNS names, published before they are ready, and
    // carries the routes; the client Service carries 4222 only.
    let headless = named(&docs, "Service", str_of(set, "/spec/serviceName"));
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(
        headless["spec"]["publishNotReadyAddresses"], true,
        "members must resolve each other before they are ready"
    );
    assert!(selects_members(&headless["spec"]["selector"]));
    let ports = |service: &Value| -> BTreeSet<u64> {
        service["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| p["port"].as_u64().expect("a port"))
            .collect()
    };
    assert!(ports(headless).contains(&u64::from(ROUTE_PORT)));
    let client = named(&docs, "Service", "nats");
    assert_ne!(client["spec"]["clusterIP"], "None", "a client Service");
    assert!(selects_members(&client["spec"]["selector"]));
    assert_eq!(ports(client), [4222].into());
    for doc in docs.iter().filter(|d| d["kind"] == "Service") {
        let kind = doc["spec"]["type"].as_str().unwrap_or("ClusterIP");
        assert_eq!(kind, "ClusterIP", "the route port stays inside the cluster");
    }

    // Each member: its pod's name as server_name, its own claim for the store.
    let pod = &spec["template"]["spec"];
    let container = &pod["containers"][0];
    let args = strings(&container["args"]);
    assert_no_cluster_flags("StatefulSet nats", &args);
    let server_name = flag_value(&args, "--server_name").expect("--server_name");
    let variable = server_name
        .strip_prefix("$(")
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or_else(|| panic!("server_name {server_name} is the same on every member"));
    let from = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == variable)
        .unwrap_or_else(|| panic!("no env {variable}"));
    assert_eq!(
        str_of(from, "/valueFrom/fieldRef/fieldPath"),
        "metadata.name",
        "server_name from the pod's name"
    );
    let store = flag_value(&args, "-sd").expect("-sd");
    let claims: Vec<&str> = spec["volumeClaimTemplates"]
        .as_array()
        .expect("volumeClaimTemplates")
        .iter()
        .map(|c| str_of(c, "/metadata/name"))
        .collect();
    let mounts = container["volumeMounts"].as_array().expect("volumeMounts");
    let store_mount = mounts
        .iter()
        .find(|m| m["mountPath"] == store)
        .expect("the store is mounted");
    assert!(
        claims.contains(&str_of(store_mount, "/name")),
        "the store {store} is on no volumeClaimTemplate ({claims:?})"
    );
    assert!(
        container["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["containerPort"] == ROUTE_PORT),
        "the route port"
    );
    // The generated files, from the nats-auth Secret, beside deploy/nats/server.conf.
    for file in ["nats-server.conf", "nats-cluster.conf"] {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == format!("/etc/nats/{file}"))
            .unwrap_or_else(|| panic!("{file} is not mounted"));
        assert_eq!(mount["subPath"], file);
        let volume = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the mounted volume");
        assert_eq!(str_of(volume, "/secret/secretName"), "nats-auth", "{file}");
    }
    let budget = named(&docs, "PodDisruptionBudget", "nats");
    assert_eq!(
        budget["spec"]["maxUnavailable"], 1,
        "two of three keep the majority"
    );
    assert!(selects_members(&budget["spec"]["selector"]["matchLabels"]));

    // The PKI and the Secret as README and the manifest make them: a route to every member.
    let members = k8s_nats_members();
    assert_eq!(members.len(), NATS_MEMBERS);
    let routes: BTreeSet<String> = members
        .iter()
        .map(|m| format!("{m}:{ROUTE_PORT}"))
        .collect();
    let docs_text = [
        ("README.md", readme_deployment()),
        ("deploy/k8s/nats.yaml", read("deploy/k8s/nats.yaml")),
    ];
    assert_pki_made_with_routes(&docs_text, "pki", &routes);
    for (file, text) in &docs_text {
        let secret = shell_commands(text)
            .into_iter()
            .find(|words| words.join(" ").contains("create secret generic nats-auth"))
            .unwrap_or_else(|| panic!("{file} makes no nats-auth Secret"));
        for conf in ["pki/nats-server.conf", "pki/nats-cluster.conf"] {
            assert!(
                secret.contains(&format!("--from-file={conf}")),
                "{file}: {secret:?} lacks {conf}"
            );
        }
    }

    // Every client lists every member; every service creates three replicas.
    for (bin, name, _) in servers() {
        let docs = yaml_documents(&format!("deploy/k8s/{name}.yaml"));
        let container = &document(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
        let env = container_env(container);
        let urls = env["EVERYNODE_NATS"].as_deref().expect("EVERYNODE_NATS");
        assert_eq!(nats_hosts(urls), members, "{name}");
        assert_eq!(
            replicas_setting(&strings(&container["args"]), &env).as_deref(),
            Some("3"),
            "{bin}: --replicas"
        );
    }
    let agent = yaml_documents("deploy/k8s/agent.yaml");
    let container = &document(&agent, "DaemonSet")["spec"]["template"]["spec"]["containers"][0];
    let env = container_env(container);
    assert_eq!(
        nats_hosts(env["EVERYNODE_NATS"].as_deref().expect("EVERYNODE_NATS")),
        members
    );
}
