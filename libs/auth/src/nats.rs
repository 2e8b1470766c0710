//! NATS credentials: nats-server in *operator mode*, with JWTs signed by keys kept in the PKI
//! directory, and the one table of what each identity may publish and subscribe to.
//!
//! # Trust chain
//!
//! - An **operator** key signs the operator JWT (naming the system account) and the two account
//!   JWTs. nats-server trusts only that operator (`operator:` in the generated config).
//! - The **system** account (`SYS`) is nats-server's own; nobody of ours uses it.
//! - The **application** account (`EVERYNODE`) holds everything: JetStream on with unlimited
//!   limits, and one *scoped signing key* with role `node` whose permission template uses
//!   `{{name()}}` (the user JWT's `name`). Node users are signed by that key, their JWT name is
//!   the node's escaped subject token, so nats-server itself narrows every node to its own
//!   subjects and keys. Adding a node is signing one user JWT: the server config never changes.
//! - Service users (admission, registry, controller, admin, viewer, simulator) are signed by
//!   the account key with explicit permissions from [`permissions`].
//!
//! Both accounts are preloaded in the config (`resolver: MEMORY`), so a single nats-server needs
//! no account server. A `.creds` file is the user JWT plus its nkey seed (the format of `nsc`).
//!
//! # Inboxes
//!
//! Every client gets its own inbox prefix ([`inbox_prefix`]) and may subscribe only below it, so
//! nobody needs `_INBOX.>` and nobody can read another client's replies.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use everynode_bus::names::{AGENT_PODS_ALL, Bucket, CONTROLLER_TERM, escape_token};
use nkeys::KeyPair;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The name of the application account.
pub const ACCOUNT_NAME: &str = "EVERYNODE";
/// The name of the system account.
pub const SYSTEM_ACCOUNT_NAME: &str = "SYS";
/// The role of the account's scoped signing key for nodes.
pub const NODE_ROLE: &str = "node";
/// The placeholder nats-server replaces with the user JWT's name in a scoped key's template.
pub const NAME_TEMPLATE: &str = "{{name()}}";
/// The file name of a user's credentials in its identity folder.
pub const CREDS_FILE: &str = "nats.creds";

/// A NATS key or JWT could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum NatsAuthError {
    /// A seed is malformed or of the wrong kind.
    #[error("{what}: {reason}")]
    Key {
        /// Which key.
        what: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A name cannot be used (e.g. an empty node name).
    #[error("{0}")]
    Name(String),
}

fn key_error(what: &str) -> impl FnOnce(nkeys::error::Error) -> NatsAuthError + '_ {
    move |err| NatsAuthError::Key {
        what: what.to_owned(),
        reason: err.to_string(),
    }
}

/// Who connects to NATS: the roles of the PKI's identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The admission service.
    Admission,
    /// The registry service.
    Registry,
    /// The controller.
    Controller,
    /// An operator's `enctl` (full access, like the gRPC `admin`).
    Admin,
    /// Read-only observer.
    Viewer,
    /// An agent simulating many nodes (benchmarks and tests).
    Simulator,
    /// One node's agent (permissions from the scoped key's template).
    Node,
}

impl Role {
    /// The role of identity folder `folder` (`node-<name>` is a node).
    pub fn of_folder(folder: &str) -> Option<Self> {
        Some(match folder {
            "admission" => Self::Admission,
            "registry" => Self::Registry,
            "controller" => Self::Controller,
            "admin" => Self::Admin,
            "viewer" => Self::Viewer,
            "simulator" => Self::Simulator,
            f if f.starts_with("node-") => Self::Node,
            _ => return None,
        })
    }

    /// A short, subject-safe label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Admission => "admission",
            Self::Registry => "registry",
            Self::Controller => "controller",
            Self::Admin => "admin",
            Self::Viewer => "viewer",
            Self::Simulator => "simulator",
            Self::Node => "node",
        }
    }
}

/// The inbox prefix of a client: `_INBOX.<role>` for services, `_INBOX.node.<node token>` for
/// a node (`node_token` is the escaped node name, or [`NAME_TEMPLATE`] in the template).
pub fn inbox_prefix(role: Role, node_token: Option<&str>) -> String {
    match (role, node_token) {
        (Role::Node, Some(token)) => format!("_INBOX.node.{token}"),
        (role, _) => format!("_INBOX.{}", role.label()),
    }
}

/// The inbox prefix the user of a `.creds` file may subscribe to: node users (signed by the
/// scoped node signer, so carrying `issuer_account`) get `_INBOX.node.<name>`, service users
/// `_INBOX.<role>`.
pub fn inbox_prefix_of_creds(creds: &str) -> Result<String, NatsAuthError> {
    let bad = |reason: &str| NatsAuthError::Key {
        what: "NATS credentials".into(),
        reason: reason.into(),
    };
    let jwt = creds
        .lines()
        .skip_while(|line| !line.contains("BEGIN NATS USER JWT"))
        .nth(1)
        .map(str::trim)
        .ok_or_else(|| bad("no user JWT (not a .creds file)"))?;
    let claims = jwt
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or_else(|| bad("the user JWT does not decode"))?;
    let name = claims["name"].as_str().unwrap_or_default();
    if claims["nats"]["issuer_account"].as_str().is_some() {
        return Ok(inbox_prefix(Role::Node, Some(name)));
    }
    let role = Role::of_folder(name)
        .filter(|role| *role != Role::Node)
        .ok_or_else(|| bad(&format!("unknown user {name:?}")))?;
    Ok(inbox_prefix(role, None))
}

/// One allowed subject and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The subject (may contain wildcards, and [`NAME_TEMPLATE`] for nodes).
    pub subject: String,
    /// Why the role needs it.
    pub why: &'static str,
}

fn rule(subject: impl Into<String>, why: &'static str) -> Rule {
    Rule {
        subject: subject.into(),
        why,
    }
}

/// What a role may do on NATS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permissions {
    /// Subjects it may publish to.
    pub publish: Vec<Rule>,
    /// Subjects it must not publish to even if `publish` matches (deny wins).
    pub publish_deny: Vec<Rule>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<Rule>,
    /// Whether it may answer requests sent to it (one reply each, to the request's reply
    /// subject only) without any publish permission on inboxes.
    pub responses: bool,
}

/// The permission table: what each role may do, in one place. Node subjects contain
/// [`NAME_TEMPLATE`], which nats-server replaces with the node's token.
pub fn permissions(role: Role) -> Permissions {
    let pods = Bucket::Pods.name();
    let pods_stream = Bucket::Pods.stream_name();
    let inbox = |token: Option<&str>| format!("{}.>", inbox_prefix(role, token));
    match role {
        Role::Node => {
            let node = NAME_TEMPLATE;
            Permissions {
                subscribe: vec![
                    rule(
                        // Built like names::agent_pods_subject, with the template as the token.
                        AGENT_PODS_ALL.replacen('*', node, 1),
                        "receive this node's pod commands, and no other node's",
                    ),
                    rule(
                        CONTROLLER_TERM,
                        "learn a new controller term at once (fencing older leaders)",
                    ),
                    rule(
                        inbox(Some(node)),
                        "replies to its own requests (KV get/put acks, consumer deliveries)",
                    ),
                ],
                publish: vec![
                    rule(
                        format!("$KV.{pods}.{node}.>"),
                        "put and delete its own pods' keys (`<node>.<namespace>.<name>`)",
                    ),
                    rule(
                        format!("$JS.API.STREAM.INFO.{pods_stream}"),
                        "open the existing bucket (read its configuration, never change it)",
                    ),
                    rule(
                        format!("$JS.API.DIRECT.GET.{pods_stream}.$KV.{pods}.{node}.>"),
                        "read its own keys (direct get by subject)",
                    ),
                    rule(
                        format!("$JS.API.CONSUMER.CREATE.{pods_stream}.*.$KV.{pods}.{node}.>"),
                        "list its own keys at start-up (recovery): a named ordered consumer, \
                         the filter in the subject so it can only cover this node's keys",
                    ),
                    rule(
                        format!("$JS.FC.{pods_stream}.>"),
                        "flow-control answers of that consumer",
                    ),
                ],
                publish_deny: Vec::new(),
                responses: true,
            }
        }
        Role::Simulator => Permissions {
            subscribe: vec![
                rule(
                    AGENT_PODS_ALL,
                    "serves the pod commands of every simulated node",
                ),
                rule(CONTROLLER_TERM, "learn a new controller term at once"),
                rule(inbox(None), "replies to its own requests"),
            ],
            publish: vec![
                rule(
                    format!("$KV.{pods}.>"),
                    "writes the keys of every simulated node",
                ),
                rule(
                    format!("$JS.API.STREAM.INFO.{pods_stream}"),
                    "open the existing bucket",
                ),
                rule(
                    format!("$JS.API.DIRECT.GET.{pods_stream}.>"),
                    "read keys of the simulated nodes",
                ),
                rule(
                    format!("$JS.API.CONSUMER.CREATE.{pods_stream}"),
                    "list every simulated node's keys (an unnamed ordered consumer)",
                ),
                rule(
                    format!("$JS.API.CONSUMER.CREATE.{pods_stream}.*.>"),
                    "list some simulated nodes' keys with named ordered consumers",
                ),
                rule(format!("$JS.FC.{pods_stream}.>"), "flow control"),
            ],
            publish_deny: Vec::new(),
            responses: true,
        },
        Role::Viewer => Permissions {
            subscribe: vec![rule(inbox(None), "replies to its own requests")],
            publish: vec![
                rule("$JS.API.INFO", "read JetStream account information"),
                rule(
                    "$JS.API.STREAM.INFO.*",
                    "read stream and bucket configurations",
                ),
                rule("$JS.API.STREAM.NAMES", "list streams"),
                rule("$JS.API.STREAM.LIST", "list streams"),
                rule("$JS.API.DIRECT.GET.>", "read any key or message"),
            ],
            publish_deny: Vec::new(),
            responses: false,
        },
        Role::Admin => Permissions {
            subscribe: vec![rule(">", "the operator's identity may inspect anything")],
            publish: vec![rule(
                ">",
                "the operator's identity may repair anything (streams, buckets, commands)",
            )],
            publish_deny: Vec::new(),
            responses: true,
        },
        Role::Admission | Role::Registry | Role::Controller => {
            let mut publish_deny = Vec::new();
            if role != Role::Controller {
                publish_deny.push(rule(
                    "everynode.agent.>",
                    "only the controller (and an operator) may send commands to agents",
                ));
            }
            Permissions {
                subscribe: vec![
                    rule("everynode.>", "events and heartbeats of the system"),
                    rule(inbox(None), "replies and consumer deliveries to itself"),
                ],
                publish: vec![
                    rule(
                        "everynode.>",
                        "events, heartbeats and (controller) agent commands",
                    ),
                    rule("$KV.>", "writes the buckets it owns"),
                    rule(
                        "$JS.API.>",
                        "creates and uses the streams and buckets it owns",
                    ),
                    rule("$JS.ACK.>", "acknowledges consumed events"),
                    rule("$JS.FC.>", "flow control of its consumers"),
                ],
                publish_deny,
                responses: false,
            }
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs `claims` (without `jti`, `iat`, `iss`) with `signer`, filling those in.
fn encode_jwt(signer: &KeyPair, mut claims: Value) -> Result<String, NatsAuthError> {
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    claims["iat"] = json!(now_secs());
    claims["iss"] = json!(signer.public_key());
    claims["jti"] = json!("");
    let unhashed = serde_json::to_vec(&claims).unwrap_or_default();
    let jti = data_encoding::BASE32_NOPAD.encode(&Sha256::digest(&unhashed));
    claims["jti"] = json!(jti);
    let head = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let signing_input = format!("{head}.{body}");
    let sig = signer
        .sign(signing_input.as_bytes())
        .map_err(key_error("signing a JWT"))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

fn subject_list(rules: &[Rule]) -> Value {
    json!(rules.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>())
}

/// The JSON permission fields of a user (or a scoped key's template).
fn permission_fields(perms: &Permissions) -> serde_json::Map<String, Value> {
    let mut publish = serde_json::Map::new();
    publish.insert("allow".into(), subject_list(&perms.publish));
    if !perms.publish_deny.is_empty() {
        publish.insert("deny".into(), subject_list(&perms.publish_deny));
    }
    let mut fields = serde_json::Map::new();
    fields.insert("pub".into(), Value::Object(publish));
    fields.insert(
        "sub".into(),
        json!({"allow": subject_list(&perms.subscribe)}),
    );
    if perms.responses {
        fields.insert("resp".into(), json!({"max": 1, "ttl": 0}));
    }
    for limit in ["subs", "data", "payload"] {
        fields.insert(limit.into(), json!(-1));
    }
    fields
}

fn load_seed(what: &str, seed: &str) -> Result<KeyPair, NatsAuthError> {
    KeyPair::from_seed(seed.trim()).map_err(key_error(what))
}

fn seed_of(what: &str, key: &KeyPair) -> Result<String, NatsAuthError> {
    key.seed().map_err(key_error(what))
}

/// The keys of a deployment's NATS trust chain (kept as seeds under `<pki dir>/nats/`).
pub struct NatsKeys {
    /// Signs the operator and account JWTs.
    pub operator: KeyPair,
    /// The system account (its identity key).
    pub system: KeyPair,
    /// The application account (its identity key; signs service users).
    pub account: KeyPair,
    /// The account's scoped signing key for nodes (signs node users).
    pub node_signer: KeyPair,
}

/// Seeds of [`NatsKeys`], by file name under `<pki dir>/nats/`.
pub const SEED_FILES: [&str; 4] = [
    "operator.nk",
    "system-account.nk",
    "account.nk",
    "node-signer.nk",
];

impl NatsKeys {
    /// New random keys.
    pub fn generate() -> Self {
        Self {
            operator: KeyPair::new_operator(),
            system: KeyPair::new_account(),
            account: KeyPair::new_account(),
            node_signer: KeyPair::new_account(),
        }
    }

    /// The seeds, in the order of [`SEED_FILES`].
    pub fn seeds(&self) -> Result<[String; 4], NatsAuthError> {
        Ok([
            seed_of("operator", &self.operator)?,
            seed_of("system account", &self.system)?,
            seed_of("account", &self.account)?,
            seed_of("node signer", &self.node_signer)?,
        ])
    }

    /// Keys from seeds in the order of [`SEED_FILES`].
    pub fn from_seeds(seeds: [&str; 4]) -> Result<Self, NatsAuthError> {
        let keys = Self {
            operator: load_seed(SEED_FILES[0], seeds[0])?,
            system: load_seed(SEED_FILES[1], seeds[1])?,
            account: load_seed(SEED_FILES[2], seeds[2])?,
            node_signer: load_seed(SEED_FILES[3], seeds[3])?,
        };
        let kinds = [
            (&keys.operator, "O", SEED_FILES[0]),
            (&keys.system, "A", SEED_FILES[1]),
            (&keys.account, "A", SEED_FILES[2]),
            (&keys.node_signer, "A", SEED_FILES[3]),
        ];
        for (key, prefix, what) in kinds {
            if !key.public_key().starts_with(prefix) {
                return Err(NatsAuthError::Key {
                    what: what.to_owned(),
                    reason: format!("not an {prefix}-key seed"),
                });
            }
        }
        Ok(keys)
    }

    fn operator_jwt(&self) -> Result<String, NatsAuthError> {
        let op = self.operator.public_key();
        encode_jwt(
            &self.operator,
            json!({
                "sub": op,
                "name": "everynode",
                "nats": {
                    "system_account": self.system.public_key(),
                    "type": "operator",
                    "version": 2,
                },
            }),
        )
    }

    fn system_account_jwt(&self) -> Result<String, NatsAuthError> {
        encode_jwt(
            &self.operator,
            json!({
                "sub": self.system.public_key(),
                "name": SYSTEM_ACCOUNT_NAME,
                "nats": {
                    "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1,
                               "exports": -1, "wildcards": true, "conn": -1, "leaf": -1},
                    "type": "account",
                    "version": 2,
                },
            }),
        )
    }

    fn account_jwt(&self) -> Result<String, NatsAuthError> {
        let template = Value::Object(permission_fields(&permissions(Role::Node)));
        encode_jwt(
            &self.operator,
            json!({
                "sub": self.account.public_key(),
                "name": ACCOUNT_NAME,
                "nats": {
                    "limits": {
                        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                        "wildcards": true, "conn": -1, "leaf": -1,
                        // Any non-zero storage limit turns JetStream on; -1 is unlimited.
                        "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
                        "max_ack_pending": -1, "mem_max_stream_bytes": -1,
                        "disk_max_stream_bytes": -1, "max_bytes_required": false,
                    },
                    "signing_keys": [{
                        "kind": "user_scope",
                        "key": self.node_signer.public_key(),
                        "role": NODE_ROLE,
                        "template": template,
                        "description": "signs node users; permissions from this template",
                    }],
                    "type": "account",
                    "version": 2,
                },
            }),
        )
    }

    /// The nats-server configuration: trust in the operator and both accounts preloaded. The
    /// caller adds listen port, JetStream and store (`nats-server -c FILE -p PORT -js -sd DIR`).
    pub fn server_config(&self) -> Result<String, NatsAuthError> {
        let mut preload = BTreeMap::new();
        preload.insert(self.system.public_key(), self.system_account_jwt()?);
        preload.insert(self.account.public_key(), self.account_jwt()?);
        let mut conf = String::from(
            "# everynode: NATS operator-mode authentication (made by `enctl pki init`).\n\
             # Add port, JetStream and store on the command line:\n\
             #   nats-server -c nats-server.conf -p 4222 -js -sd /var/lib/nats\n\
             # Adding a node never changes this file: nodes are signed by the account's\n\
             # scoped signing key.\n",
        );
        conf.push_str(&format!("operator: \"{}\"\n", self.operator_jwt()?));
        conf.push_str(&format!(
            "system_account: \"{}\"\n",
            self.system.public_key()
        ));
        conf.push_str("resolver: MEMORY\nresolver_preload: {\n");
        for (key, jwt) in preload {
            conf.push_str(&format!("  {key}: \"{jwt}\"\n"));
        }
        conf.push_str("}\n");
        Ok(conf)
    }

    /// The credentials of a service identity (not a node: see [`node_creds`]).
    pub fn service_creds(&self, role: Role) -> Result<String, NatsAuthError> {
        if role == Role::Node {
            return Err(NatsAuthError::Name(
                "node credentials are signed by the node signer".into(),
            ));
        }
        let user = KeyPair::new_user();
        let mut nats = permission_fields(&permissions(role));
        nats.insert("type".into(), json!("user"));
        nats.insert("version".into(), json!(2));
        let jwt = encode_jwt(
            &self.account,
            json!({"sub": user.public_key(), "name": role.label(), "nats": nats}),
        )?;
        creds(&jwt, &seed_of("user", &user)?)
    }
}

/// The credentials of node `node`, signed by the account's scoped node signer (`signer`, whose
/// account is `account`, a public `A…` key). The JWT's name is the node's escaped subject
/// token, which the scoped key's template puts into every permission.
pub fn node_creds(signer: &KeyPair, account: &str, node: &str) -> Result<String, NatsAuthError> {
    let user = NodeUserKey::generate();
    let jwt = node_user_jwt(signer, account, node, &user.public_key())?;
    user.creds(&jwt)
}

/// The user JWT of node `node` for the user key `user_public` (a public `U…` nkey whose seed
/// stays with the node), signed by the node signer: what a registry issues to an agent joining
/// with a bootstrap token.
pub fn node_user_jwt(
    signer: &KeyPair,
    account: &str,
    node: &str,
    user_public: &str,
) -> Result<String, NatsAuthError> {
    check_user_public_key(user_public)?;
    let token = escape_token(node).map_err(|err| NatsAuthError::Name(err.to_string()))?;
    encode_jwt(
        signer,
        json!({
            "sub": user_public,
            "name": token,
            "nats": {"issuer_account": account, "type": "user", "version": 2},
        }),
    )
}

/// Checks that `key` is a public user nkey (`U…`).
pub fn check_user_public_key(key: &str) -> Result<(), NatsAuthError> {
    if key.starts_with('U') && KeyPair::from_public_key(key).is_ok() {
        Ok(())
    } else {
        Err(NatsAuthError::Key {
            what: "NATS user public key".into(),
            reason: "not a public user nkey (U…)".into(),
        })
    }
}

/// The node signer as a registry holds it (from a [`node_signer_file`]): it signs the user JWTs
/// of agents joining with a bootstrap token.
pub struct NodeSigner {
    signer: KeyPair,
    account: String,
}

impl std::fmt::Debug for NodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSigner")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl NodeSigner {
    /// Reads a [`node_signer_file`]'s content.
    pub fn parse(content: &str) -> Result<Self, NatsAuthError> {
        let (signer, account) = parse_node_signer_file(content)?;
        Ok(Self { signer, account })
    }

    /// The user JWT of node `node` for its public key `user_public` ([`node_user_jwt`]).
    pub fn user_jwt(&self, node: &str, user_public: &str) -> Result<String, NatsAuthError> {
        node_user_jwt(&self.signer, &self.account, node, user_public)
    }
}

/// A node's own NATS user key: made by the node, only its public half is sent to be signed.
pub struct NodeUserKey(KeyPair);

impl NodeUserKey {
    /// A fresh key.
    pub fn generate() -> Self {
        Self(KeyPair::new_user())
    }

    /// The public key (`U…`) to send.
    pub fn public_key(&self) -> String {
        self.0.public_key()
    }

    /// The `.creds` file of this key with its signed `jwt`.
    pub fn creds(&self, jwt: &str) -> Result<String, NatsAuthError> {
        creds(jwt, &seed_of("user", &self.0)?)
    }
}

/// A `.creds` file: the user JWT and its seed, in the format nats clients read.
fn creds(jwt: &str, seed: &str) -> Result<String, NatsAuthError> {
    Ok(format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    ))
}

/// The node signer's seed file content: the signer seed and its account's public key on the
/// next line (a registry needs both to issue node credentials).
pub fn node_signer_file(keys: &NatsKeys) -> Result<String, NatsAuthError> {
    Ok(format!(
        "{}\n{}\n",
        seed_of("node signer", &keys.node_signer)?,
        keys.account.public_key()
    ))
}

/// Reads a [`node_signer_file`]: the signer and its account's public key.
pub fn parse_node_signer_file(content: &str) -> Result<(KeyPair, String), NatsAuthError> {
    let mut lines = content.lines().map(str::trim).filter(|l| !l.is_empty());
    let seed = lines.next().unwrap_or_default();
    let signer = load_seed("node signer", seed)?;
    let account = lines.next().unwrap_or_default().to_owned();
    if !account.starts_with('A') || KeyPair::from_public_key(&account).is_err() {
        return Err(NatsAuthError::Key {
            what: "node signer file".into(),
            reason: "the second line must be the account's public key (A…)".into(),
        });
    }
    Ok((signer, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn jwts_are_signed_by_their_issuer() {
        let keys = NatsKeys::generate();
        let jwt = keys.account_jwt().unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        keys.operator.verify(input.as_bytes(), &sig).unwrap();
        let claims = decode(&jwt);
        assert_eq!(claims["iss"], json!(keys.operator.public_key()));
        assert_eq!(claims["sub"], json!(keys.account.public_key()));
        assert_eq!(
            claims["nats"]["signing_keys"][0]["kind"],
            json!("user_scope")
        );
        assert_eq!(claims["jti"].as_str().unwrap().len(), 52);
    }

    #[test]
    fn node_users_carry_their_token_and_account() {
        let keys = NatsKeys::generate();
        let creds = node_creds(&keys.node_signer, &keys.account.public_key(), "ip-10.ec2").unwrap();
        let jwt = creds.lines().nth(1).unwrap();
        let claims = decode(jwt);
        assert_eq!(claims["name"], json!("ip-10_2Eec2"));
        assert_eq!(
            claims["nats"]["issuer_account"],
            json!(keys.account.public_key())
        );
        assert_eq!(claims["iss"], json!(keys.node_signer.public_key()));
        assert!(node_creds(&keys.node_signer, "A", "").is_err());
    }

    #[test]
    fn the_inbox_prefix_follows_from_the_credentials() {
        let keys = NatsKeys::generate();
        let node = node_creds(&keys.node_signer, &keys.account.public_key(), "a.b").unwrap();
        assert_eq!(inbox_prefix_of_creds(&node).unwrap(), "_INBOX.node.a_2Eb");
        let controller = keys.service_creds(Role::Controller).unwrap();
        assert_eq!(
            inbox_prefix_of_creds(&controller).unwrap(),
            "_INBOX.controller"
        );
        assert!(inbox_prefix_of_creds("not creds").is_err());
    }

    #[test]
    fn seeds_round_trip_and_kinds_are_checked() {
        let keys = NatsKeys::generate();
        let seeds = keys.seeds().unwrap();
        let back = NatsKeys::from_seeds([&seeds[0], &seeds[1], &seeds[2], &seeds[3]]).unwrap();
        assert_eq!(back.account.public_key(), keys.account.public_key());
        let swapped = NatsKeys::from_seeds([&seeds[2], &seeds[1], &seeds[2], &seeds[3]]);
        assert!(swapped.is_err());
        let file = node_signer_file(&keys).unwrap();
        let (signer, account) = parse_node_signer_file(&file).unwrap();
        assert_eq!(signer.public_key(), keys.node_signer.public_key());
        assert_eq!(account, keys.account.public_key());
        assert!(parse_node_signer_file(&seeds[3]).is_err());
    }

    #[test]
    fn only_the_controller_and_admin_may_command_agents() {
        for role in [Role::Admission, Role::Registry] {
            let perms = permissions(role);
            assert!(
                perms
                    .publish_deny
                    .iter()
                    .any(|r| r.subject == "everynode.agent.>"),
                "{role:?}"
            );
        }
        assert!(permissions(Role::Controller).publish_deny.is_empty());
        let node = permissions(Role::Node);
        assert!(
            node.publish
                .iter()
                .all(|r| r.subject.contains(NAME_TEMPLATE)
                    || r.subject.contains("STREAM.INFO")
                    || r.subject.starts_with("$JS.FC."))
        );
    }
}
