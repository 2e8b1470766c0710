//! What a pod's security settings mean for the process runtime (pure):
//! - [`identity`]: the user, group and supplementary groups a container's processes get —
//!   `runAsUser`/`runAsGroup` of the container, else of the pod; supplementary groups are the
//!   pod's `supplementalGroups` plus `fsGroup` (as the kubelet adds it). A user without a group
//!   gets the host's primary group of that user (`/etc/passwd`), else group 0, as a container
//!   runtime gives a numeric user its image's group or 0;
//! - [`check_non_root`]: `runAsNonRoot` with an effective user 0 is refused (the kubelet's
//!   `CreateContainerConfigError`);
//! - [`privilege_refusal`]: privileged containers, `hostPath` volumes and host namespaces
//!   (`hostNetwork`, `hostPID`, `hostIPC`) are refused unless the agent runs with
//!   `--allow-privileged`;
//! - [`dropped_capabilities`]: `capabilities.drop` (`ALL` or names) less `capabilities.add`,
//!   dropped from the process's bounding set: a container running as root has the agent's
//!   capabilities less these after `exec`, and no setuid binary can give them back. `add`
//!   cannot give more than the agent has.

use everynode_core::model::{Container, PodSpec};

/// The credentials a container's processes run with; `None` fields keep the agent's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// User id.
    pub uid: Option<u32>,
    /// Primary group id.
    pub gid: Option<u32>,
    /// Supplementary groups (set whenever anything is: an empty list then drops the agent's).
    pub groups: Vec<u32>,
}

impl Identity {
    /// Whether it changes anything (supplementary groups alone replace the agent's too).
    pub fn changes_credentials(&self) -> bool {
        self.uid.is_some() || self.gid.is_some() || !self.groups.is_empty()
    }
}

fn id(value: i64) -> Option<u32> {
    u32::try_from(value)
        .ok()
        .filter(|v| i64::from(*v) <= 2_147_483_647)
}

/// The credentials of `container` in a pod of `spec`; `primary_group` gives a user's primary
/// group when no `runAsGroup` is set. Ids out of range (admission refuses them) are an error.
pub fn identity(
    spec: &PodSpec,
    container: &Container,
    primary_group: impl Fn(u32) -> Option<u32>,
) -> Result<Identity, String> {
    let pod = spec.security_context.clone().unwrap_or_default();
    let own = container.security_context.clone().unwrap_or_default();
    let checked = |value: Option<i64>, what: &str| -> Result<Option<u32>, String> {
        value
            .map(|v| id(v).ok_or_else(|| format!("{what} {v} is not a valid id")))
            .transpose()
    };
    let uid = checked(own.run_as_user.or(pod.run_as_user), "runAsUser")?;
    let gid = checked(own.run_as_group.or(pod.run_as_group), "runAsGroup")?;
    let mut groups = Vec::new();
    for group in pod.supplemental_groups.iter().copied().chain(pod.fs_group) {
        let group = checked(Some(group), "supplemental group")?.unwrap_or_default();
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    let gid = match (uid, gid) {
        (Some(uid), None) => Some(primary_group(uid).unwrap_or(0)),
        (_, gid) => gid,
    };
    Ok(Identity { uid, gid, groups })
}

/// Refuses `runAsNonRoot` (container's, else pod's) when the process would run as user 0;
/// `agent_uid` is who the process runs as when no `runAsUser` is set.
pub fn check_non_root(
    spec: &PodSpec,
    container: &Container,
    pod_label: &str,
    identity: &Identity,
    agent_uid: u32,
) -> Result<(), String> {
    let non_root = container
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root)
        .or_else(|| {
            spec.security_context
                .as_ref()
                .and_then(|s| s.run_as_non_root)
        })
        .unwrap_or(false);
    if non_root && identity.uid.unwrap_or(agent_uid) == 0 {
        return Err(format!(
            "container has runAsNonRoot and image will run as root (pod: {pod_label:?}, container: {})",
            container.name
        ));
    }
    Ok(())
}

/// Why the pod cannot run on an agent without `--allow-privileged`, or `None`.
pub fn privilege_refusal(spec: &PodSpec, allow_privileged: bool) -> Option<String> {
    if allow_privileged {
        return None;
    }
    let mut asks = Vec::new();
    for container in spec.init_containers.iter().chain(&spec.containers) {
        if container
            .security_context
            .as_ref()
            .and_then(|s| s.privileged)
            .unwrap_or(false)
        {
            asks.push(format!("container {} is privileged", container.name));
        }
    }
    for volume in &spec.volumes {
        if let Some(host_path) = &volume.host_path {
            asks.push(format!(
                "volume {} is a hostPath ({})",
                volume.name, host_path.path
            ));
        }
    }
    for (wanted, what) in [
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
        (spec.host_ipc, "hostIPC"),
    ] {
        if wanted {
            asks.push(format!("the pod asks for {what}"));
        }
    }
    if asks.is_empty() {
        None
    } else {
        Some(format!(
            "{}; this node's agent does not run privileged pods (start it with --allow-privileged to allow them)",
            asks.join(", ")
        ))
    }
}

/// Linux capabilities by number (`linux/capability.h`), without the `CAP_` prefix.
const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The number of capability `name` (`NET_ADMIN` or `CAP_NET_ADMIN`, any case).
pub fn capability_number(name: &str) -> Option<u8> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    CAPABILITIES
        .iter()
        .position(|c| *c == bare)
        .and_then(|n| u8::try_from(n).ok())
}

/// The capabilities to drop from `container`'s bounding set, up to `last_cap` (the kernel's
/// `cap_last_cap`); unknown names are an error.
pub fn dropped_capabilities(container: &Container, last_cap: u8) -> Result<Vec<u8>, String> {
    let Some(caps) = container
        .security_context
        .as_ref()
        .and_then(|s| s.capabilities.as_ref())
    else {
        return Ok(Vec::new());
    };
    let numbers = |names: &[String], what: &str| -> Result<(bool, Vec<u8>), String> {
        let mut all = false;
        let mut numbers = Vec::new();
        for name in names {
            if name.eq_ignore_ascii_case("ALL") {
                all = true;
            } else {
                numbers.push(capability_number(name).ok_or_else(|| {
                    format!("unknown capability {name:?} in securityContext.capabilities.{what}")
                })?);
            }
        }
        Ok((all, numbers))
    };
    let (drop_all, drop) = numbers(&caps.drop, "drop")?;
    let (add_all, add) = numbers(&caps.add, "add")?;
    if add_all {
        return Ok(Vec::new());
    }
    let candidates: Vec<u8> = if drop_all {
        (0..=last_cap).collect()
    } else {
        drop.into_iter().filter(|c| *c <= last_cap).collect()
    };
    let mut dropped: Vec<u8> = candidates
        .into_iter()
        .filter(|c| !add.contains(c))
        .collect();
    dropped.sort_unstable();
    dropped.dedup();
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use everynode_core::model::{
        Capabilities, HostPathVolumeSource, PodSecurityContext, SecurityContext, Volume,
    };

    use super::*;

    fn spec(pod: Option<PodSecurityContext>, own: Option<SecurityContext>) -> PodSpec {
        PodSpec {
            security_context: pod,
            containers: vec![Container {
                name: "app".into(),
                security_context: own,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn of(spec: &PodSpec) -> Result<Identity, String> {
        identity(spec, &spec.containers[0], |uid| {
            (uid == 65534).then_some(65533)
        })
    }

    #[test]
    fn the_container_overrides_the_pod_and_groups_are_merged() {
        let pod = PodSecurityContext {
            run_as_user: Some(1000),
            run_as_group: Some(1000),
            supplemental_groups: vec![5, 6],
            fs_group: Some(2000),
            ..Default::default()
        };
        let own = SecurityContext {
            run_as_user: Some(65534),
            ..Default::default()
        };
        assert_eq!(
            of(&spec(Some(pod.clone()), Some(own))),
            Ok(Identity {
                uid: Some(65534),
                gid: Some(1000),
                groups: vec![5, 6, 2000]
            })
        );
        assert_eq!(
            of(&spec(Some(pod), None)).unwrap().uid,
            Some(1000),
            "the pod's user"
        );
    }

    #[test]
    fn a_user_without_a_group_gets_its_primary_group_or_zero() {
        let user = |uid| SecurityContext {
            run_as_user: Some(uid),
            ..Default::default()
        };
        assert_eq!(of(&spec(None, Some(user(65534)))).unwrap().gid, Some(65533));
        assert_eq!(of(&spec(None, Some(user(4242)))).unwrap().gid, Some(0));
        let none = of(&spec(None, None)).unwrap();
        assert!(!none.changes_credentials(), "{none:?}");
        assert!(of(&spec(None, Some(user(-1)))).is_err());
    }

    #[test]
    fn run_as_non_root_refuses_user_zero() {
        let non_root = |uid: Option<i64>| SecurityContext {
            run_as_user: uid,
            run_as_non_root: Some(true),
            ..Default::default()
        };
        let check = |s: &PodSpec, agent_uid| {
            check_non_root(
                s,
                &s.containers[0],
                "default/web",
                &of(s).unwrap(),
                agent_uid,
            )
        };
        let refused = check(&spec(None, Some(non_root(None))), 0).unwrap_err();
        assert_eq!(
            refused,
            "container has runAsNonRoot and image will run as root (pod: \"default/web\", container: app)"
        );
        assert!(check(&spec(None, Some(non_root(Some(0)))), 1000).is_err());
        assert!(check(&spec(None, Some(non_root(Some(65534)))), 0).is_ok());
        assert!(check(&spec(None, Some(non_root(None))), 1000).is_ok());
        let pod_level = PodSecurityContext {
            run_as_non_root: Some(true),
            ..Default::default()
        };
        assert!(check(&spec(Some(pod_level), None), 0).is_err());
    }

    #[test]
    fn privileges_are_refused_unless_allowed() {
        let mut s = spec(None, None);
        assert_eq!(privilege_refusal(&s, false), None);
        s.containers[0].security_context = Some(SecurityContext {
            privileged: Some(true),
            ..Default::default()
        });
        s.volumes.push(Volume {
            name: "logs".into(),
            host_path: Some(HostPathVolumeSource {
                path: "/var/log".into(),
                ..Default::default()
            }),
            ..Default::default()
        });
        s.host_network = true;
        let refusal = privilege_refusal(&s, false).unwrap();
        for part in [
            "container app is privileged",
            "volume logs is a hostPath (/var/log)",
            "hostNetwork",
            "--allow-privileged",
        ] {
            assert!(refusal.contains(part), "{part}: {refusal}");
        }
        assert_eq!(privilege_refusal(&s, true), None);
    }

    #[test]
    fn capabilities_drop_less_add_up_to_the_last_one() {
        assert_eq!(capability_number("NET_ADMIN"), Some(12));
        assert_eq!(capability_number("cap_net_raw"), Some(13));
        assert_eq!(capability_number("CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(capability_number("FLY"), None);
        let with = |add: &[&str], drop: &[&str]| {
            let container = Container {
                security_context: Some(SecurityContext {
                    capabilities: Some(Capabilities {
                        add: add.iter().map(|s| (*s).to_owned()).collect(),
                        drop: drop.iter().map(|s| (*s).to_owned()).collect(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            dropped_capabilities(&container, 40)
        };
        assert_eq!(with(&[], &[]), Ok(vec![]));
        assert_eq!(with(&[], &["NET_RAW", "CAP_MKNOD"]), Ok(vec![13, 27]));
        let all_but = with(&["NET_BIND_SERVICE"], &["ALL"]).unwrap();
        assert_eq!(all_but.len(), 40);
        assert!(!all_but.contains(&10));
        assert_eq!(with(&["ALL"], &["ALL"]), Ok(vec![]));
        assert_eq!(
            with(&[], &["NET_FLY"]),
            Err("unknown capability \"NET_FLY\" in securityContext.capabilities.drop".to_owned())
        );
        assert!(with(&["X"], &[]).is_err());
        assert_eq!(dropped_capabilities(&Container::default(), 40), Ok(vec![]));
        // A kernel that knows fewer capabilities: those beyond it are left out.
        let container = Container {
            security_context: Some(SecurityContext {
                capabilities: Some(Capabilities {
                    drop: vec!["ALL".to_owned(), "BPF".to_owned()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(dropped_capabilities(&container, 37).unwrap().len(), 38);
    }
}
