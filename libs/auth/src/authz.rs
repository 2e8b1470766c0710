//! The authorizer: may this identity call this RPC (on this object)? One pure function, used by
//! the authentication layer of every server for the call, and by a handler for the object
//! when the object is in the request body (a node's agent may touch only its own node).
//!
//! | who | may call |
//! |---|---|
//! | anyone, even without a certificate | `grpc.health.v1.Health/*`; server reflection (the contract is public, and grpcurl needs it to call even the health check); `everynode.v1.Bootstrap/SignNode` (the bootstrap token in the request authenticates) |
//! | any identity | `everynode.v1.Auth/WhoAmI` |
//! | `everynode:admins` | everything |
//! | `everynode:viewers` | `Get`, `List` and `Watch` of every everynode service |
//! | `everynode:controller` (in `everynode:services`) | `DaemonSets` `Get`, `List`, `Watch`, `Update` (finalizers), `UpdateStatus`; `Nodes` `Get`, `List`, `Watch` |
//! | `everynode:admission`, `everynode:registry` | nothing more (they call no one) |
//! | `system:node:<name>` (in `system:nodes`) | `Nodes` `Register`, `Heartbeat`, `Update`, `Get` — of node `<name>` only |
//! | `everynode:simulators` | `Nodes` `Register`, `Heartbeat`, `Update`, `Get` of any node (tests and benchmarks) |

use std::fmt;

use crate::identity::{
    ADMINS_GROUP, CONTROLLER_USER, Identity, NODES_GROUP, SERVICES_GROUP, SIMULATORS_GROUP,
    VIEWERS_GROUP,
};

/// The package of everynode's services.
const PACKAGE: &str = "everynode.v1.";
/// Methods that only read.
const READ: &[&str] = &["Get", "List", "Watch"];
/// The node RPCs an agent makes for its own node.
const NODE_SELF: &[&str] = &["Register", "Heartbeat", "Update", "Get"];

/// One RPC: the fully qualified service and the method (`everynode.v1.Nodes`, `Heartbeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rpc<'a> {
    /// The fully qualified service name.
    pub service: &'a str,
    /// The method.
    pub method: &'a str,
}

impl<'a> Rpc<'a> {
    /// The RPC of a gRPC request path (`/everynode.v1.Nodes/Heartbeat`).
    pub fn from_path(path: &'a str) -> Option<Self> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if service.is_empty() || method.is_empty() || method.contains('/') {
            return None;
        }
        Some(Self { service, method })
    }

    /// The RPC `method` of the fully qualified `service`.
    pub fn new(service: &'a str, method: &'a str) -> Self {
        Self { service, method }
    }

    fn is(&self, service: &str, methods: &[&str]) -> bool {
        self.service.strip_prefix(PACKAGE) == Some(service) && methods.contains(&self.method)
    }

    fn is_everynode(&self) -> bool {
        self.service.starts_with(PACKAGE)
    }
}

impl fmt::Display for Rpc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.method)
    }
}

/// What an RPC acts on, when that matters to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object<'a> {
    /// The node of this name.
    Node(&'a str),
}

impl fmt::Display for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Node(name) => write!(f, "node {name:?}"),
        }
    }
}

/// Who may call an RPC at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, even without a client certificate.
    Open,
    /// Only a caller with a certificate of the deployment's CA, as [`authorize`] decides.
    Authenticated,
}

/// Whether `rpc` needs an identity at all.
pub fn access(rpc: Rpc<'_>) -> Access {
    if rpc.service == "grpc.health.v1.Health"
        || rpc.service.starts_with("grpc.reflection.")
        || rpc.is("Bootstrap", &["SignNode"])
    {
        Access::Open
    } else {
        Access::Authenticated
    }
}

/// A refused call, worded for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{identity} may not call {rpc}{}", object.as_ref().map(|o| format!(" on {o}")).unwrap_or_default())]
pub struct Denied {
    /// Who asked.
    pub identity: Identity,
    /// The RPC.
    pub rpc: String,
    /// What it acted on, when the object decided.
    pub object: Option<String>,
}

/// How far a grant reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Any object.
    Any,
    /// Only the caller's own node.
    OwnNode,
}

/// Decides whether `identity` may call `rpc`, on `object` when given (see the module table).
/// Without an object, a grant limited to the caller's own node counts as allowed: the handler
/// then checks the object it finds in the request.
pub fn authorize(
    identity: &Identity,
    rpc: Rpc<'_>,
    object: Option<Object<'_>>,
) -> Result<(), Denied> {
    let allowed = match grant(identity, rpc) {
        None => false,
        Some(Scope::Any) => true,
        Some(Scope::OwnNode) => match object {
            None => true,
            Some(Object::Node(name)) => identity.node_name() == Some(name),
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied {
            identity: identity.clone(),
            rpc: rpc.to_string(),
            object: object.map(|o| o.to_string()),
        })
    }
}

fn grant(identity: &Identity, rpc: Rpc<'_>) -> Option<Scope> {
    if access(rpc) == Access::Open || rpc.is("Auth", &["WhoAmI"]) || identity.in_group(ADMINS_GROUP)
    {
        return Some(Scope::Any);
    }
    if identity.in_group(VIEWERS_GROUP) && rpc.is_everynode() && READ.contains(&rpc.method) {
        return Some(Scope::Any);
    }
    if identity.in_group(SERVICES_GROUP)
        && identity.user == CONTROLLER_USER
        && (rpc.is(
            "DaemonSets",
            &["Get", "List", "Watch", "Update", "UpdateStatus"],
        ) || rpc.is("Nodes", READ))
    {
        return Some(Scope::Any);
    }
    if identity.in_group(SIMULATORS_GROUP) && rpc.is("Nodes", NODE_SELF) {
        return Some(Scope::Any);
    }
    if identity.in_group(NODES_GROUP)
        && identity.node_name().is_some()
        && rpc.is("Nodes", NODE_SELF)
    {
        return Some(Scope::OwnNode);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{ADMISSION_USER, REGISTRY_USER};

    fn rpc(path: &str) -> Rpc<'_> {
        Rpc::from_path(path).unwrap()
    }

    fn admin() -> Identity {
        Identity::new("admin", &[ADMINS_GROUP])
    }
    fn viewer() -> Identity {
        Identity::new("viewer", &[VIEWERS_GROUP])
    }
    fn controller() -> Identity {
        Identity::new(CONTROLLER_USER, &[SERVICES_GROUP])
    }
    fn admission() -> Identity {
        Identity::new(ADMISSION_USER, &[SERVICES_GROUP])
    }
    fn registry() -> Identity {
        Identity::new(REGISTRY_USER, &[SERVICES_GROUP])
    }
    fn node_a() -> Identity {
        Identity::node("node-a")
    }
    fn simulator() -> Identity {
        Identity::new("everynode:simulator", &[SIMULATORS_GROUP])
    }

    /// Every RPC of every service, and who may call it (without an object).
    #[test]
    fn who_may_call_what() {
        let everyone = [
            ("admin", admin()),
            ("viewer", viewer()),
            ("controller", controller()),
            ("admission", admission()),
            ("registry", registry()),
            ("node", node_a()),
            ("simulator", simulator()),
            ("stranger", Identity::new("mallory", &["example:group"])),
        ];
        let table: &[(&str, &[&str])] = &[
            (
                "/grpc.health.v1.Health/Check",
                &[
                    "admin",
                    "viewer",
                    "controller",
                    "admission",
                    "registry",
                    "node",
                    "simulator",
                    "stranger",
                ],
            ),
            (
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                &[
                    "admin",
                    "viewer",
                    "controller",
                    "admission",
                    "registry",
                    "node",
                    "simulator",
                    "stranger",
                ],
            ),
            (
                "/everynode.v1.Auth/WhoAmI",
                &[
                    "admin",
                    "viewer",
                    "controller",
                    "admission",
                    "registry",
                    "node",
                    "simulator",
                    "stranger",
                ],
            ),
            ("/everynode.v1.DaemonSets/Create", &["admin"]),
            (
                "/everynode.v1.DaemonSets/Get",
                &["admin", "viewer", "controller"],
            ),
            (
                "/everynode.v1.DaemonSets/List",
                &["admin", "viewer", "controller"],
            ),
            (
                "/everynode.v1.DaemonSets/Watch",
                &["admin", "viewer", "controller"],
            ),
            ("/everynode.v1.DaemonSets/Update", &["admin", "controller"]),
            (
                "/everynode.v1.DaemonSets/UpdateStatus",
                &["admin", "controller"],
            ),
            ("/everynode.v1.DaemonSets/Delete", &["admin"]),
            (
                "/everynode.v1.Nodes/Register",
                &["admin", "node", "simulator"],
            ),
            (
                "/everynode.v1.Nodes/Heartbeat",
                &["admin", "node", "simulator"],
            ),
            (
                "/everynode.v1.Nodes/Get",
                &["admin", "viewer", "controller", "node", "simulator"],
            ),
            (
                "/everynode.v1.Nodes/List",
                &["admin", "viewer", "controller"],
            ),
            (
                "/everynode.v1.Nodes/Watch",
                &["admin", "viewer", "controller"],
            ),
            (
                "/everynode.v1.Nodes/Update",
                &["admin", "node", "simulator"],
            ),
            ("/everynode.v1.Nodes/Delete", &["admin"]),
            ("/everynode.v1.Pods/Get", &["admin", "viewer"]),
            ("/everynode.v1.Pods/List", &["admin", "viewer"]),
            ("/everynode.v1.Pods/Watch", &["admin", "viewer"]),
            ("/everynode.v1.Pods/Delete", &["admin"]),
            ("/everynode.v1.Endpoints/List", &["admin", "viewer"]),
            ("/everynode.v1.Endpoints/Watch", &["admin", "viewer"]),
            ("/everynode.v1.Bootstrap/CreateToken", &["admin"]),
            (
                "/everynode.v1.Bootstrap/SignNode",
                &[
                    "admin",
                    "viewer",
                    "controller",
                    "admission",
                    "registry",
                    "node",
                    "simulator",
                    "stranger",
                ],
            ),
        ];
        let mut wrong = Vec::new();
        for (path, allowed) in table {
            for (name, identity) in &everyone {
                let got = authorize(identity, rpc(path), None).is_ok();
                if got != allowed.contains(name) {
                    wrong.push(format!("{name} {path}: allowed={got}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_node_acts_only_on_its_own_node() {
        for method in ["Register", "Heartbeat", "Update", "Get"] {
            let call = Rpc::new("everynode.v1.Nodes", method);
            assert!(authorize(&node_a(), call, Some(Object::Node("node-a"))).is_ok());
            let denied = authorize(&node_a(), call, Some(Object::Node("node-b"))).unwrap_err();
            assert_eq!(
                denied.to_string(),
                format!(
                    "user \"system:node:node-a\" (groups: system:nodes) may not call \
                     everynode.v1.Nodes/{method} on node \"node-b\""
                )
            );
        }
        assert!(
            authorize(
                &simulator(),
                Rpc::new("everynode.v1.Nodes", "Heartbeat"),
                Some(Object::Node("any"))
            )
            .is_ok()
        );
        assert!(
            authorize(
                &admin(),
                Rpc::new("everynode.v1.Nodes", "Update"),
                Some(Object::Node("any"))
            )
            .is_ok()
        );
    }

    #[test]
    fn a_denial_names_the_identity_and_the_rpc() {
        let denied =
            authorize(&viewer(), rpc("/everynode.v1.DaemonSets/Delete"), None).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "user \"viewer\" (groups: everynode:viewers) may not call everynode.v1.DaemonSets/Delete"
        );
    }

    #[test]
    fn only_health_reflection_and_bootstrap_need_no_identity() {
        assert_eq!(access(rpc("/grpc.health.v1.Health/Watch")), Access::Open);
        assert_eq!(
            access(rpc("/everynode.v1.Bootstrap/SignNode")),
            Access::Open
        );
        assert_eq!(
            access(rpc("/everynode.v1.Bootstrap/CreateToken")),
            Access::Authenticated
        );
        assert_eq!(
            access(rpc("/everynode.v1.Nodes/Get")),
            Access::Authenticated
        );
        assert_eq!(
            access(rpc(
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
            )),
            Access::Open
        );
        assert_eq!(
            access(rpc("/everynode.v1.Auth/WhoAmI")),
            Access::Authenticated
        );
    }

    #[test]
    fn malformed_paths_are_not_rpcs() {
        for path in ["", "/", "//", "/a", "/a/", "a/b", "/a/b/c"] {
            assert_eq!(Rpc::from_path(path), None, "{path:?}");
        }
    }

    #[test]
    fn look_alike_services_get_nothing() {
        let viewer = viewer();
        assert!(authorize(&viewer, rpc("/other.v1.DaemonSets/Get"), None).is_err());
        assert!(authorize(&controller(), rpc("/everynode.v1.NodesX/Get"), None).is_err());
        let services_member = Identity::new("someone", &[SERVICES_GROUP]);
        assert!(
            authorize(
                &services_member,
                rpc("/everynode.v1.DaemonSets/UpdateStatus"),
                None
            )
            .is_err()
        );
    }
}
