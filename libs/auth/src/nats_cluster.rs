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
/// The cluster's name in the file `enctl pki init --nats-cluster` writes.
pub const CLUSTER_NAME: &str = "everynode";
/// Where every member listens for routes in that file (each member on its own host).
pub const CLUSTER_LISTEN: &str = "0.0.0.0:6222";
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

/// Checks one member's route address: `host:port`, the host a DNS name, an IPv4 address or
/// a bracketed IPv6 address, the port 1–65535. The address is written into the configuration
/// inside quotes, so nothing else (spaces, quotes, `@`, `/`) may appear in it.
pub fn check_member(member: &str) -> Result<(), String> {
    let Some((host, port)) = member.rsplit_once(':') else {
        return Err("not host:port (no port)".to_owned());
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => return Err(format!("port {port:?} is not a number from 1 to 65535")),
    }
    if let Some(ip) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return ip
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("{host} is not an IPv6 address"));
    }
    if host.is_empty() {
        return Err("no host".to_owned());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(format!(
            "host {host:?} is not a DNS name or IP address (letters, digits, '-' and '.'; an \
             IPv6 address in brackets)"
        ));
    }
    Ok(())
}

/// Checks a whole member list: at least one member, each valid ([`check_member`]), none twice.
pub fn check_members(members: &[String]) -> Result<(), (String, String)> {
    if members.is_empty() {
        return Err((String::new(), "no members".to_owned()));
    }
    for (i, member) in members.iter().enumerate() {
        check_member(member).map_err(|reason| (member.clone(), reason))?;
        if members[..i].contains(member) {
            return Err((member.clone(), "listed twice".to_owned()));
        }
    }
    Ok(())
}

/// The members' route addresses a configuration made by [`ClusterConf::render`] lists, in its
/// order (the password is not returned).
pub fn members_of(conf: &str) -> Vec<String> {
    let prefix = format!("\"nats-route://{ROUTE_USER}:");
    conf.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix(&prefix)?.strip_suffix('"')?;
            Some(rest.rsplit_once('@')?.1.to_owned())
        })
        .collect()
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
    fn members_are_host_and_port_and_read_back() {
        for good in [
            "nats-0:6222",
            "nats-1.nats-headless.everynode.svc:6222",
            "10.0.0.7:16222",
            "[fd00::7]:6222",
        ] {
            assert_eq!(check_member(good), Ok(()), "{good}");
        }
        for bad in [
            "nats-0",
            "nats-0:",
            ":6222",
            "nats-0:0",
            "nats-0:65536",
            "nats-0:+1",
            "nats 0:6222",
            "a\"b:6222",
            "user:pw@nats-0:6222",
            "nats-0/x:6222",
            "-nats:6222",
            "a..b:6222",
            "[nats-0]:6222",
        ] {
            assert!(check_member(bad).is_err(), "{bad} was accepted");
        }
        let twice = ["a:1".to_owned(), "b:1".to_owned(), "a:1".to_owned()];
        assert_eq!(
            check_members(&twice),
            Err(("a:1".to_owned(), "listed twice".to_owned()))
        );
        assert!(check_members(&[]).is_err());

        let members = ["nats-0:6222", "nats-1:6222", "[fd00::2]:6222"].map(String::from);
        let conf = ClusterConf {
            name: CLUSTER_NAME,
            listen: CLUSTER_LISTEN,
            members: &members,
            secret: &ClusterSecret::generate().unwrap(),
        }
        .render();
        assert_eq!(members_of(&conf), members);
        assert!(members_of("cluster {}\n").is_empty());
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
