//! Facts about the machine the agent runs on (read once at start-up) and the `Node` the agent
//! registers: labels (with `kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch`),
//! taints, addresses, capacity and node info.
//!
//! Everything is read from `/proc`, `/etc` and the network interfaces; what cannot be read is
//! left empty rather than failing start-up. Simulated nodes share the host's facts and differ
//! in their name (and so their hostname label and `Hostname` address).

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};

use everynode_api::v1;
use everynode_core::model::{
    Node, NodeAddress, NodeSpec, NodeStatus, NodeSystemInfo, ObjectMeta, Taint,
};

/// everynode's version, reported as the node's kubelet version (`v0.1.0`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Pods a node accepts, as the kubelet's default `--max-pods`.
const MAX_PODS: &str = "110";

/// Label with the node's host name.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// Label with the node's operating system.
pub const LABEL_OS: &str = "kubernetes.io/os";
/// Label with the node's architecture.
pub const LABEL_ARCH: &str = "kubernetes.io/arch";

/// What the agent knows about its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// The node's InternalIP.
    pub ip: IpAddr,
    /// Resources: `cpu`, `memory`, `pods` as quantities.
    pub capacity: BTreeMap<String, String>,
    /// Versions and identities.
    pub node_info: NodeSystemInfo,
}

impl HostFacts {
    /// Reads the machine's facts; `node_ip` overrides the detected address, `runtime` names
    /// the runtime (`process`, `fake`).
    pub fn gather(node_ip: Option<IpAddr>, runtime: &str) -> Self {
        let mut capacity = BTreeMap::new();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        capacity.insert("cpu".to_owned(), cpus.to_string());
        if let Some(memory) = memory_total() {
            capacity.insert("memory".to_owned(), memory);
        }
        capacity.insert("pods".to_owned(), MAX_PODS.to_owned());
        Self {
            ip: node_ip.unwrap_or_else(detect_ip),
            capacity,
            node_info: NodeSystemInfo {
                machine_id: read_trimmed("/etc/machine-id"),
                system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid"),
                boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
                kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
                os_image: os_image(),
                container_runtime_version: format!("{runtime}://{VERSION}"),
                kubelet_version: format!("v{VERSION}"),
                kube_proxy_version: String::new(),
                operating_system: std::env::consts::OS.to_owned(),
                architecture: go_arch(std::env::consts::ARCH).to_owned(),
            },
        }
    }
}

/// The host name, lowercased (the default node name), or `None` if it cannot be read.
pub fn hostname() -> Option<String> {
    let name = nix::unistd::gethostname().ok()?;
    let name = name.to_str()?.trim().to_lowercase();
    (!name.is_empty()).then_some(name)
}

/// The node an agent registers: the same for every registration of one node.
#[derive(Debug, Clone)]
pub struct NodeTemplate {
    /// Labels given with `--labels`.
    pub labels: BTreeMap<String, String>,
    /// Taints given with `--taints`.
    pub taints: Vec<Taint>,
    /// The machine.
    pub facts: HostFacts,
}

impl NodeTemplate {
    /// The node named `name`, as sent to `Nodes.Register`.
    pub fn node(&self, name: &str) -> v1::Node {
        let mut labels = self.labels.clone();
        labels.insert(LABEL_HOSTNAME.to_owned(), name.to_owned());
        labels.insert(
            LABEL_OS.to_owned(),
            self.facts.node_info.operating_system.clone(),
        );
        labels.insert(
            LABEL_ARCH.to_owned(),
            self.facts.node_info.architecture.clone(),
        );
        let node = Node {
            api_version: "v1".to_owned(),
            kind: "Node".to_owned(),
            metadata: Some(ObjectMeta {
                name: name.to_owned(),
                labels,
                ..ObjectMeta::default()
            }),
            spec: Some(NodeSpec {
                taints: self.taints.clone(),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                capacity: self.facts.capacity.clone(),
                allocatable: self.facts.capacity.clone(),
                conditions: Vec::new(),
                addresses: vec![
                    NodeAddress {
                        type_: "InternalIP".to_owned(),
                        address: self.facts.ip.to_string(),
                    },
                    NodeAddress {
                        type_: "Hostname".to_owned(),
                        address: name.to_owned(),
                    },
                ],
                node_info: Some(self.facts.node_info.clone()),
                ..NodeStatus::default()
            }),
            ..Node::default()
        };
        node.into()
    }
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}

/// `MemTotal` of `/proc/meminfo` as a quantity in Ki, as the kubelet reports it.
fn memory_total() -> Option<String> {
    let meminfo = fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&meminfo)
}

fn parse_mem_total(meminfo: &str) -> Option<String> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{kib}Ki"))
}

/// `PRETTY_NAME` of `/etc/os-release`, as the kubelet reports `osImage`.
fn os_image() -> String {
    let text = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    parse_pretty_name(&text).unwrap_or_else(|| "Unknown".to_owned())
}

fn parse_pretty_name(os_release: &str) -> Option<String> {
    let value = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?;
    Some(value.trim().trim_matches('"').to_owned())
}

/// Go's spelling of an architecture, which Kubernetes labels use.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The first non-loopback IPv4 address of an interface that is up and running, else
/// 127.0.0.1.
fn detect_ip() -> IpAddr {
    use nix::net::if_::InterfaceFlags;
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    addresses
        .filter(|a| {
            a.flags.contains(InterfaceFlags::IFF_UP)
                && a.flags.contains(InterfaceFlags::IFF_RUNNING)
                && !a.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        })
        .find_map(|a| {
            let ip = a.address?.as_sockaddr_in()?.ip();
            (!ip.is_loopback() && !ip.is_unspecified()).then_some(IpAddr::V4(ip))
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> NodeTemplate {
        NodeTemplate {
            labels: [("zone".to_owned(), "a".to_owned())].into(),
            taints: vec![Taint {
                key: "dedicated".to_owned(),
                value: "infra".to_owned(),
                effect: "NoSchedule".to_owned(),
                time_added: None,
            }],
            facts: HostFacts::gather(Some("10.9.8.7".parse().unwrap()), "process"),
        }
    }

    #[test]
    fn a_registered_node_carries_well_known_labels_addresses_and_info() {
        let node = template().node("worker-1");
        let meta = node.metadata.unwrap();
        assert_eq!(meta.name, "worker-1");
        assert_eq!(meta.labels["zone"], "a");
        assert_eq!(meta.labels[LABEL_HOSTNAME], "worker-1");
        assert_eq!(meta.labels[LABEL_OS], "linux");
        assert!(!meta.labels[LABEL_ARCH].is_empty());
        assert_eq!(node.spec.unwrap().taints[0].key, "dedicated");
        let status = node.status.unwrap();
        let addresses: Vec<(String, String)> = status
            .addresses
            .into_iter()
            .map(|a| (a.r#type, a.address))
            .collect();
        assert_eq!(
            addresses,
            vec![
                ("InternalIP".to_owned(), "10.9.8.7".to_owned()),
                ("Hostname".to_owned(), "worker-1".to_owned())
            ]
        );
        assert!(status.capacity.contains_key("cpu"));
        assert!(status.capacity["memory"].ends_with("Ki"));
        assert_eq!(status.capacity["pods"], "110");
        let info = status.node_info.unwrap();
        assert_eq!(info.kubelet_version, format!("v{VERSION}"));
        assert_eq!(
            info.container_runtime_version,
            format!("process://{VERSION}")
        );
        assert_eq!(info.operating_system, "linux");
        assert!(!info.kernel_version.is_empty());
    }

    #[test]
    fn os_release_and_meminfo_are_parsed() {
        assert_eq!(
            parse_pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            Some("Debian GNU/Linux 12 (bookworm)".to_owned())
        );
        assert_eq!(
            parse_mem_total("MemTotal:       24681234 kB\nMemFree: 1 kB\n"),
            Some("24681234Ki".to_owned())
        );
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }
}
