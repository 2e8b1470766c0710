//! Who a caller is: the user and groups named by its client certificate, as Kubernetes reads
//! them (`CN` is the user, every `O` a group).
//!
//! | identity | user (`CN`) | groups (`O`) |
//! |---|---|---|
//! | a node's agent | `system:node:<name>` | `system:nodes` |
//! | the admin | `admin` | `everynode:admins` |
//! | a viewer | `viewer` | `everynode:viewers` |
//! | a service | `everynode:admission`, `everynode:registry`, `everynode:controller` | `everynode:services` |
//! | a simulating agent (tests, benchmark) | `everynode:simulator` | `everynode:simulators` |

use std::fmt;

use x509_parser::prelude::{FromDer, X509Certificate};

/// The group of every node identity.
pub const NODES_GROUP: &str = "system:nodes";
/// The user of a node identity is this prefix and the node's name.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// Administrators: every RPC.
pub const ADMINS_GROUP: &str = "everynode:admins";
/// Viewers: Get, List and Watch.
pub const VIEWERS_GROUP: &str = "everynode:viewers";
/// The everynode services, each limited to what its role needs.
pub const SERVICES_GROUP: &str = "everynode:services";
/// Agents that simulate many nodes in one process (the fake runtime's `--simulate`): the node
/// RPCs for any node name. For tests and benchmarks, never for a real fleet.
pub const SIMULATORS_GROUP: &str = "everynode:simulators";

/// The user of the admission service.
pub const ADMISSION_USER: &str = "everynode:admission";
/// The user of the registry.
pub const REGISTRY_USER: &str = "everynode:registry";
/// The user of the controller.
pub const CONTROLLER_USER: &str = "everynode:controller";
/// The user of the admin identity.
pub const ADMIN_USER: &str = "admin";
/// The user of the viewer identity.
pub const VIEWER_USER: &str = "viewer";
/// The user of the simulator identity.
pub const SIMULATOR_USER: &str = "everynode:simulator";

/// A caller: user and groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The user (the certificate's common name).
    pub user: String,
    /// The groups (the certificate's organizations).
    pub groups: Vec<String>,
}

/// A certificate that does not name an identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Not a parsable X.509 certificate.
    #[error("not an X.509 certificate")]
    Parse(#[source] x509_parser::nom::Err<x509_parser::error::X509Error>),
    /// The subject has no common name.
    #[error("the certificate's subject has no common name")]
    NoCommonName,
}

impl Identity {
    /// An identity of `user` in `groups`.
    pub fn new(user: impl Into<String>, groups: &[&str]) -> Self {
        Self {
            user: user.into(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
        }
    }

    /// The identity of the agent of node `name`.
    pub fn node(name: &str) -> Self {
        Self::new(format!("{NODE_USER_PREFIX}{name}"), &[NODES_GROUP])
    }

    /// The identity a DER certificate names.
    pub fn from_certificate(der: &[u8]) -> Result<Self, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(IdentityError::Parse)?;
        let subject = cert.subject();
        let user = subject
            .iter_common_name()
            .find_map(|cn| cn.as_str().ok())
            .ok_or(IdentityError::NoCommonName)?
            .to_string();
        let groups = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok())
            .map(str::to_string)
            .collect();
        Ok(Self { user, groups })
    }

    /// Whether the identity is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The node this identity is the agent of, if it is a node identity.
    pub fn node_name(&self) -> Option<&str> {
        if !self.in_group(NODES_GROUP) {
            return None;
        }
        self.user
            .strip_prefix(NODE_USER_PREFIX)
            .filter(|name| !name.is_empty())
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user {:?}", self.user)?;
        if !self.groups.is_empty() {
            write!(f, " (groups: {})", self.groups.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_identity_names_its_node() {
        let node = Identity::node("node-a");
        assert_eq!(node.user, "system:node:node-a");
        assert_eq!(node.node_name(), Some("node-a"));
        assert_eq!(
            node.to_string(),
            "user \"system:node:node-a\" (groups: system:nodes)"
        );
    }

    #[test]
    fn only_members_of_system_nodes_are_nodes() {
        let pretender = Identity::new("system:node:node-a", &[VIEWERS_GROUP]);
        assert_eq!(pretender.node_name(), None);
        let empty = Identity::new("system:node:", &[NODES_GROUP]);
        assert_eq!(empty.node_name(), None);
    }
}
