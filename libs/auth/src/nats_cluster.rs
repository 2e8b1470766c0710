//! A nats-server cluster: the `cluster {}` block every member's configuration includes.
//!
//! Members talk over *routes*. A route port that accepts anyone would let any host that reaches
//! it join the cluster and read every message, so routes authenticate with a user and a random
//! password that only the members' configuration holds ([`ClusterSecret`]); every member lists
//! every member's route URL with those credentials (a member skips its own URL).
//!
//! JetStream in a cluster needs a unique `server_name` per member; it is given on the command
//! line (`nats-server -c FILE --server_name nats-0 ...`), so one file serves every member.

use std::fmt;

use crate::token::{TokenError, random_secret};

/// The user the members' routes authenticate as.
pub const ROUTE_USER: &str = "route";
/// The route port of a member, as nats-server's documentation uses it.
pub const DEFAULT_ROUTE_PORT: u16 = 6222;
/// The file `enctl pki init --nats-cluster` writes beside `nats-server.conf`.
pub const CLUSTER_CONF_FILE: &str = "nats-cluster.conf";
/// Length of a generated route password (36-letter alphabet: ~186 bits).
const SECRET_LEN: usize = 36;

/// The route password shared by the members of one cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(String);

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

impl ClusterSecret {
    /// A new random password from the system's CSPRNG.
    pub fn generate() -> Result<Self, TokenError> {
        random_secret(SECRET_LEN).map(Self)
    }
}

/// One cluster's layout.
#[derive(Debug, Clone)]
pub struct ClusterConf<'a> {
    /// The cluster's name (the same on every member).
    pub name: &'a str,
    /// Where each member listens for routes, e.g. `0.0.0.0:6222`.
    pub listen: &'a str,
    /// Every member's route address, `host:port` (its own included).
    pub members: &'a [String],
    /// The route password.
    pub secret: &'a ClusterSecret,
}

impl ClusterConf<'_> {
    /// The `cluster { ... }` block.
    pub fn render(&self) -> String {
        let password = &self.secret.0;
        let mut conf = String::from(
            "# everynode: the NATS cluster's routes (made by `enctl pki init --nats-cluster`).\n\
             # Every member includes this file and sets its own --server_name.\n",
        );
        conf.push_str("cluster {\n");
        conf.push_str(&format!("  name: \"{}\"\n", self.name));
        conf.push_str(&format!("  listen: \"{}\"\n", self.listen));
        conf.push_str(&format!(
            "  authorization {{\n    user: \"{ROUTE_USER}\"\n    password: \"{password}\"\n  }}\n"
        ));
        conf.push_str("  routes: [\n");
        for member in self.members {
            conf.push_str(&format!(
                "    \"nats-route://{ROUTE_USER}:{password}@{member}\"\n"
            ));
        }
        conf.push_str("  ]\n}\n");
        conf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_is_a_route_with_the_credentials() {
        let secret = ClusterSecret::generate().unwrap();
        let members = vec!["nats-0:6222".to_owned(), "nats-1:6222".to_owned()];
        let conf = ClusterConf {
            name: "everynode",
            listen: "0.0.0.0:6222",
            members: &members,
            secret: &secret,
        }
        .render();
        assert!(conf.contains("name: \"everynode\""), "{conf}");
        assert!(conf.contains("listen: \"0.0.0.0:6222\""), "{conf}");
        assert!(
            conf.contains(&format!("password: \"{}\"", secret.0)),
            "{conf}"
        );
        for member in &members {
            let route = format!("\"nats-route://route:{}@{member}\"", secret.0);
            assert!(conf.contains(&route), "{route} missing from\n{conf}");
        }
    }

    #[test]
    fn secrets_are_random_and_never_printed() {
        let (a, b) = (
            ClusterSecret::generate().unwrap(),
            ClusterSecret::generate().unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(a.0.len(), SECRET_LEN);
        assert!(!format!("{a:?}").contains(&a.0));
    }
}
