//! A deployment's PKI on disk, as `enctl pki` makes and extends it, and the signing of node
//! certificates for bootstrap joins.
//!
//! ```text
//! DIR/ca.crt, DIR/ca.key            the deployment's certificate authority (10 years)
//! DIR/<identity>/ca.crt             the CA certificate again, so a folder is self-sufficient
//! DIR/<identity>/tls.crt, tls.key   the identity's certificate and key (1 year by default)
//! ```
//!
//! Identities: `admission`, `registry`, `controller` (server certificates valid for
//! `localhost`, `127.0.0.1` and the extra names given, usable as clients too), `admin`,
//! `viewer`, and `node-<name>` per node (client certificates). Subjects follow Kubernetes (see
//! [`crate::identity`]). Keys are ECDSA P-256; every file is written `0600` and every folder
//! `0700`, and an existing file is never overwritten.
//!
//! NATS: `DIR/nats/` (seeds), `DIR/nats-server.conf` (operator-mode authentication) and a
//! `nats.creds` per identity folder; with cluster members ([`InitOptions::nats_cluster`]) also
//! `DIR/nats-cluster.conf`, the route block with a generated route password
//! ([`crate::nats_cluster`]).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;

use crate::identity::{
    ADMIN_USER, ADMINS_GROUP, ADMISSION_USER, CONTROLLER_USER, Identity, REGISTRY_USER,
    SERVICES_GROUP, SIMULATOR_USER, SIMULATORS_GROUP, VIEWER_USER, VIEWERS_GROUP,
};

/// The CA certificate's file name (in `DIR` and in every identity folder).
pub const CA_CERT: &str = "ca.crt";
/// The CA key's file name (in `DIR` only).
pub const CA_KEY: &str = "ca.key";
/// An identity's certificate.
pub const TLS_CERT: &str = "tls.crt";
/// An identity's key.
pub const TLS_KEY: &str = "tls.key";

/// How long the CA is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long an identity's certificate is valid unless told otherwise.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Names every server certificate is valid for.
pub const LOCAL_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// The identity folders `init` makes, besides the nodes.
pub const BASE_IDENTITIES: [&str; 5] = ["admission", "registry", "controller", "admin", "viewer"];

/// A PKI operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Generating, parsing or signing failed.
    #[error("{what}: {source}")]
    Crypto {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: rcgen::Error,
    },
    /// The folder holds no PKI (no `ca.crt` and `ca.key`).
    #[error("{} holds no PKI; create one with `enctl pki init {}`", .0.display(), .0.display())]
    NoCa(PathBuf),
    /// A name cannot be a node's name.
    #[error("invalid node name {name:?}: {reason}")]
    InvalidNode {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A certificate signing request is not acceptable.
    #[error("certificate signing request: {0}")]
    BadRequest(String),
    /// The CA key is not the key of the CA certificate.
    #[error("the CA key does not belong to the CA certificate")]
    KeyMismatch,
    /// A NATS key or JWT could not be made or read.
    #[error("NATS credentials in {}: {source}", path.display())]
    Nats {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::nats::NatsAuthError,
    },
    /// A NATS cluster member's route address is not acceptable.
    #[error("invalid NATS cluster member {member:?}: {reason}")]
    InvalidClusterMember {
        /// The address as given.
        member: String,
        /// Why.
        reason: String,
    },
    /// The route password could not be generated.
    #[error("NATS cluster route password: {0}")]
    ClusterSecret(#[from] crate::token::TokenError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn crypto(what: &str) -> impl FnOnce(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Crypto {
        what: what.to_string(),
        source,
    }
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Not before.
    pub not_before: OffsetDateTime,
    /// Not after.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From a minute ago (clock skew) for `duration`.
    pub fn starting_now(duration: Duration) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - time::Duration::minutes(1),
            not_after: now + duration,
        }
    }
}

/// What kind of certificate an identity gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A server (and client) certificate valid for these names.
    Server,
    /// A client certificate.
    Client,
}

/// One identity to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySpec {
    /// Its subject.
    pub identity: Identity,
    /// Server or client.
    pub usage: Usage,
    /// Extra names (besides [`LOCAL_NAMES`]) a server certificate is valid for.
    pub sans: Vec<String>,
}

impl IdentitySpec {
    /// The identity of a base folder (`admission`, …, `viewer`), or `None` for another name.
    pub fn base(folder: &str, sans: &[String]) -> Option<Self> {
        let (user, group, usage) = match folder {
            "admission" => (ADMISSION_USER, SERVICES_GROUP, Usage::Server),
            "registry" => (REGISTRY_USER, SERVICES_GROUP, Usage::Server),
            "controller" => (CONTROLLER_USER, SERVICES_GROUP, Usage::Server),
            "admin" => (ADMIN_USER, ADMINS_GROUP, Usage::Client),
            "viewer" => (VIEWER_USER, VIEWERS_GROUP, Usage::Client),
            _ => return None,
        };
        Some(Self {
            identity: Identity::new(user, &[group]),
            usage,
            sans: if usage == Usage::Server {
                sans.to_vec()
            } else {
                Vec::new()
            },
        })
    }

    /// The identity of node `name`'s agent.
    pub fn node(name: &str) -> Self {
        Self {
            identity: Identity::node(name),
            usage: Usage::Client,
            sans: Vec::new(),
        }
    }

    /// The identity of an agent simulating many nodes (tests and benchmarks).
    pub fn simulator() -> Self {
        Self {
            identity: Identity::new(SIMULATOR_USER, &[SIMULATORS_GROUP]),
            usage: Usage::Client,
            sans: Vec::new(),
        }
    }

    fn subject(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, self.identity.user.as_str());
        for group in &self.identity.groups {
            dn.push(DnType::OrganizationName, group.as_str());
        }
        dn
    }

    /// The parameters of a signing request: the subject only (the signer decides the rest).
    fn request_params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.subject();
        params
    }

    fn params(&self, validity: Validity) -> Result<CertificateParams, PkiError> {
        let mut params = match self.usage {
            Usage::Server => {
                let names: Vec<String> = LOCAL_NAMES
                    .iter()
                    .map(|n| (*n).to_string())
                    .chain(self.sans.iter().cloned())
                    .collect();
                CertificateParams::new(names).map_err(crypto("subject alternative names"))?
            }
            Usage::Client => CertificateParams::default(),
        };
        params.distinguished_name = self.subject();
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match self.usage {
            Usage::Server => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        };
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

/// A certificate and its key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

/// The deployment's CA: its certificate and key.
pub struct Authority {
    cert_pem: String,
    key: KeyPair,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

impl Authority {
    /// A new self-signed CA.
    pub fn generate() -> Result<Self, PkiError> {
        let key = KeyPair::generate().map_err(crypto("generating the CA key"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "everynode-ca");
        dn.push(DnType::OrganizationName, "everynode");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let validity = Validity::starting_now(CA_VALIDITY);
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params
            .self_signed(&key)
            .map_err(crypto("self-signing the CA"))?;
        Ok(Self {
            cert_pem: cert.pem(),
            key,
        })
    }

    /// The CA of PEM texts. The key must be the certificate's: a mismatched pair would sign
    /// certificates that nobody can verify.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem).map_err(crypto("reading the CA key"))?;
        // Checks the certificate parses as a CA certificate.
        Issuer::from_ca_cert_pem(cert_pem, &key).map_err(crypto("reading the CA certificate"))?;
        let unreadable =
            || crypto("reading the CA certificate")(rcgen::Error::CouldNotParseCertificate);
        let der: rustls_pki_types::CertificateDer<'static> =
            rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
                .map_err(|_| unreadable())?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|_| unreadable())?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::KeyMismatch);
        }
        Ok(Self {
            cert_pem: cert_pem.to_string(),
            key,
        })
    }

    /// The CA of `DIR/ca.crt` and `DIR/ca.key`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let (cert, key) = (dir.join(CA_CERT), dir.join(CA_KEY));
        if !cert.exists() || !key.exists() {
            return Err(PkiError::NoCa(dir.to_path_buf()));
        }
        Self::load_files(&cert, &key)
    }

    /// The CA of a certificate file and a key file.
    pub fn load_files(cert: &Path, key: &Path) -> Result<Self, PkiError> {
        let cert_pem = fs::read_to_string(cert).map_err(io(cert))?;
        let key_pem = fs::read_to_string(key).map_err(io(key))?;
        Self::from_pem(&cert_pem, &key_pem)
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn issuer(&self) -> Result<Issuer<'_, &KeyPair>, PkiError> {
        Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)
            .map_err(crypto("reading the CA certificate"))
    }

    /// Issues a new key and certificate for `spec`.
    pub fn issue(&self, spec: &IdentitySpec, validity: Validity) -> Result<Issued, PkiError> {
        let key = KeyPair::generate().map_err(crypto("generating a key"))?;
        let cert = spec
            .params(validity)?
            .signed_by(&key, &self.issuer()?)
            .map_err(crypto("signing a certificate"))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Signs the certificate signing request `csr_pem` of node `node`'s agent. Only the CSR's
    /// public key is used: the subject is always `system:node:<node>` in `system:nodes`,
    /// whatever the request asks for, so a bootstrap join can only yield a node identity.
    pub fn sign_node_csr(
        &self,
        csr_pem: &str,
        node: &str,
        validity: Validity,
    ) -> Result<String, PkiError> {
        check_node_name(node)?;
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::BadRequest(e.to_string()))?;
        let params = IdentitySpec::node(node).params(validity)?;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer()?)
            .map_err(crypto("signing a node certificate"))?;
        Ok(cert.pem())
    }
}

/// A new key and a certificate signing request for node `node` (what a joining agent sends).
pub fn node_key_and_csr(node: &str) -> Result<(String, String), PkiError> {
    check_node_name(node)?;
    let key = KeyPair::generate().map_err(crypto("generating a key"))?;
    let csr = IdentitySpec::node(node)
        .request_params()
        .serialize_request(&key)
        .map_err(crypto("writing a certificate signing request"))?;
    let pem = csr
        .pem()
        .map_err(crypto("writing a certificate signing request"))?;
    Ok((key.serialize_pem(), pem))
}

/// Node names are DNS subdomains (RFC 1123): lowercase letters, digits, `-` and `.`.
pub fn check_node_name(name: &str) -> Result<(), PkiError> {
    let bad = |reason: &str| {
        Err(PkiError::InvalidNode {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() || name.len() > 253 {
        return bad("must be 1 to 253 characters");
    }
    for label in name.split('.') {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_ends = !label.starts_with('-') && !label.ends_with('-');
        if label.is_empty() || label.len() > 63 || !ok_chars || !ok_ends {
            return bad(
                "must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and \
                 ending with a letter or digit",
            );
        }
    }
    Ok(())
}

/// Options of [`init`].
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Extra names the server certificates are valid for.
    pub sans: Vec<String>,
    /// Nodes to make identities for.
    pub nodes: Vec<String>,
    /// How long identities are valid ([`DEFAULT_VALIDITY`] when `None`).
    pub validity: Option<Duration>,
    /// Route addresses (`host:port`) of every member of a NATS cluster; with any,
    /// `nats-cluster.conf` is written too (if the PKI has none yet).
    pub nats_cluster: Vec<String>,
}

/// What [`init`] or [`add_node`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// These identity folders were written.
    Created(Vec<String>),
    /// Nothing was written: it was all there.
    Unchanged,
    /// The PKI existed but lacked NATS files (made before NATS authentication, or without
    /// `nats-cluster.conf` when cluster members were given); these were added.
    NatsAdded(Vec<String>),
}

/// Makes a new PKI in `dir` (see the module docs). A `dir` that already holds a CA is left
/// exactly as it is ([`Report::Unchanged`]).
pub fn init(dir: &Path, options: &InitOptions) -> Result<Report, PkiError> {
    for node in &options.nodes {
        check_node_name(node)?;
    }
    if !options.nats_cluster.is_empty() {
        crate::nats_cluster::check_members(&options.nats_cluster)
            .map_err(|(member, reason)| PkiError::InvalidClusterMember { member, reason })?;
    }
    if dir.join(CA_CERT).exists() || dir.join(CA_KEY).exists() {
        let mut added = ensure_nats(dir)?;
        added.extend(ensure_nats_cluster(dir, &options.nats_cluster)?);
        return Ok(if added.is_empty() {
            Report::Unchanged
        } else {
            Report::NatsAdded(added)
        });
    }
    make_dir(dir)?;
    let ca = Authority::generate()?;
    write_new(&dir.join(CA_KEY), &ca.key.serialize_pem())?;
    write_new(&dir.join(CA_CERT), &ca.cert_pem)?;
    let validity = Validity::starting_now(options.validity.unwrap_or(DEFAULT_VALIDITY));
    let mut created = Vec::new();
    for folder in BASE_IDENTITIES {
        if let Some(spec) = IdentitySpec::base(folder, &options.sans) {
            write_identity(dir, folder, &ca, &spec, validity)?;
            created.push(folder.to_string());
        }
    }
    for node in &options.nodes {
        let folder = node_folder(node);
        write_identity(dir, &folder, &ca, &IdentitySpec::node(node), validity)?;
        created.push(folder);
    }
    ensure_nats(dir)?;
    ensure_nats_cluster(dir, &options.nats_cluster)?;
    Ok(Report::Created(created))
}

/// Writes `nats-cluster.conf` for `members` (checked by the caller) unless the PKI in `dir`
/// already has one, which is never changed: every member of a running cluster holds its route
/// password. Returns the file's name if it was written.
fn ensure_nats_cluster(dir: &Path, members: &[String]) -> Result<Option<String>, PkiError> {
    use crate::nats_cluster::{
        CLUSTER_CONF_FILE, CLUSTER_LISTEN, CLUSTER_NAME, ClusterConf, ClusterSecret,
    };
    let path = dir.join(CLUSTER_CONF_FILE);
    if members.is_empty() || path.exists() {
        return Ok(None);
    }
    let secret = ClusterSecret::generate()?;
    let conf = ClusterConf {
        name: CLUSTER_NAME,
        listen: CLUSTER_LISTEN,
        members,
        secret: &secret,
    };
    write_new(&path, &conf.render())?;
    Ok(Some(CLUSTER_CONF_FILE.to_owned()))
}

/// The folder of node `name`'s identity.
pub fn node_folder(name: &str) -> String {
    format!("node-{name}")
}

/// Adds `dir/node-<name>/` to an existing PKI; an existing folder is left as it is.
pub fn add_node(dir: &Path, name: &str, validity: Option<Duration>) -> Result<Report, PkiError> {
    check_node_name(name)?;
    add_identity(
        dir,
        &node_folder(name),
        &IdentitySpec::node(name),
        Validity::starting_now(validity.unwrap_or(DEFAULT_VALIDITY)),
    )
}

/// Adds the identity folder `folder` for `spec` to the PKI in `dir`, valid for `validity`; an
/// existing folder is left as it is. (Tests use it for expired or unusual identities.)
pub fn add_identity(
    dir: &Path,
    folder: &str,
    spec: &IdentitySpec,
    validity: Validity,
) -> Result<Report, PkiError> {
    if folder.is_empty() || folder.contains('/') || folder.starts_with('.') {
        return Err(PkiError::InvalidNode {
            name: folder.to_string(),
            reason: "not a folder name".to_string(),
        });
    }
    let ca = Authority::load(dir)?;
    if dir.join(folder).join(TLS_CERT).exists() {
        let added = ensure_nats(dir)?;
        return Ok(if added.is_empty() {
            Report::Unchanged
        } else {
            Report::NatsAdded(added)
        });
    }
    write_identity(dir, folder, &ca, spec, validity)?;
    ensure_nats(dir)?;
    Ok(Report::Created(vec![folder.to_string()]))
}

fn write_identity(
    dir: &Path,
    folder: &str,
    ca: &Authority,
    spec: &IdentitySpec,
    validity: Validity,
) -> Result<(), PkiError> {
    let issued = ca.issue(spec, validity)?;
    write_folder(&dir.join(folder), ca.cert_pem(), &issued)
}

/// The folder of the NATS seeds (`0700`, seeds `0600`).
pub const NATS_DIR: &str = "nats";
/// The generated nats-server configuration.
pub const NATS_SERVER_CONF: &str = "nats-server.conf";

/// Loads the NATS keys of the PKI in `dir`, making them if none exist yet.
fn nats_keys(dir: &Path, added: &mut Vec<String>) -> Result<crate::nats::NatsKeys, PkiError> {
    use crate::nats::{NatsKeys, SEED_FILES};
    let nats_dir = dir.join(NATS_DIR);
    let paths = SEED_FILES.map(|file| nats_dir.join(file));
    let nats_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PkiError::Nats { path, source }
    };
    if paths.iter().all(|p| !p.exists()) {
        let keys = NatsKeys::generate();
        make_dir(&nats_dir)?;
        let seeds = keys.seeds().map_err(nats_err(&nats_dir))?;
        for (path, seed) in paths.iter().zip(&seeds) {
            write_new(path, &format!("{seed}\n"))?;
        }
        let signer = nats_dir.join(NODE_SIGNER_FILE);
        write_new(
            &signer,
            &crate::nats::node_signer_file(&keys).map_err(nats_err(&signer))?,
        )?;
        added.push(format!("{NATS_DIR}/"));
        return Ok(keys);
    }
    let mut seeds = Vec::with_capacity(paths.len());
    for path in &paths {
        seeds.push(fs::read_to_string(path).map_err(io(path))?);
    }
    NatsKeys::from_seeds([&seeds[0], &seeds[1], &seeds[2], &seeds[3]]).map_err(nats_err(&nats_dir))
}

/// The file a registry reads (`--nats-node-signer`) to issue node credentials: the scoped
/// signing key's seed and the account's public key.
pub const NODE_SIGNER_FILE: &str = "node-signer.creds";

/// Adds whatever NATS file the PKI in `dir` lacks: the keys, `nats-server.conf`, and a
/// `nats.creds` in every identity folder. Returns what was added (nothing on a complete PKI).
pub fn ensure_nats(dir: &Path) -> Result<Vec<String>, PkiError> {
    use crate::nats::{CREDS_FILE, Role, node_creds};
    let mut added = Vec::new();
    let keys = nats_keys(dir, &mut added)?;
    let conf = dir.join(NATS_SERVER_CONF);
    if !conf.exists() {
        let text = keys.server_config().map_err(|source| PkiError::Nats {
            path: conf.clone(),
            source,
        })?;
        write_new(&conf, &text)?;
        added.push(NATS_SERVER_CONF.to_string());
    }
    let mut folders: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().join(TLS_CERT).is_file() {
            folders.push(name);
        }
    }
    folders.sort();
    for folder in folders {
        let path = dir.join(&folder).join(CREDS_FILE);
        if path.exists() {
            continue;
        }
        let Some(role) = Role::of_folder(&folder) else {
            continue;
        };
        let creds = match role {
            Role::Node => node_creds(
                &keys.node_signer,
                &keys.account.public_key(),
                folder.strip_prefix("node-").unwrap_or(&folder),
            ),
            role => keys.service_creds(role),
        }
        .map_err(|source| PkiError::Nats {
            path: path.clone(),
            source,
        })?;
        write_new(&path, &creds)?;
        added.push(format!("{folder}/{CREDS_FILE}"));
    }
    Ok(added)
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` into `folder` (created `0700`), each `0600`.
pub fn write_folder(folder: &Path, ca_pem: &str, issued: &Issued) -> Result<(), PkiError> {
    make_dir(folder)?;
    write_new(&folder.join(TLS_KEY), &issued.key_pem)?;
    write_new(&folder.join(TLS_CERT), &issued.cert_pem)?;
    write_new(&folder.join(CA_CERT), ca_pem)?;
    Ok(())
}

/// Writes `creds` as the folder's NATS credentials (`nats.creds`, mode `0600`, never
/// overwriting one).
pub fn write_nats_creds(folder: &Path, creds: &str) -> Result<(), PkiError> {
    write_new(&folder.join(crate::nats::CREDS_FILE), creds)
}

fn make_dir(dir: &Path) -> Result<(), PkiError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))
}

/// Writes a new file with mode `0600`; an existing file is an error, never overwritten.
fn write_new(path: &Path, text: &str) -> Result<(), PkiError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn identity_of(path: &Path) -> Identity {
        let pem = fs::read_to_string(path).unwrap();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c)
            .unwrap();
        Identity::from_certificate(&der).unwrap()
    }

    #[test]
    fn init_writes_the_ca_and_every_identity_with_kubernetes_subjects() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let report = init(
            &dir,
            &InitOptions {
                sans: vec!["everynode.example".into()],
                nodes: vec!["node-a".into(), "node-b".into()],
                validity: None,
                nats_cluster: Vec::new(),
            },
        )
        .unwrap();
        assert_eq!(
            report,
            Report::Created(
                [
                    "admission",
                    "registry",
                    "controller",
                    "admin",
                    "viewer",
                    "node-node-a",
                    "node-node-b"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        for file in [CA_CERT, CA_KEY] {
            let mode = fs::metadata(dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        for folder in ["admission", "admin", "node-node-a"] {
            for file in [CA_CERT, TLS_CERT, TLS_KEY] {
                let path = dir.join(folder).join(file);
                let mode = fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", path.display());
            }
        }
        assert_eq!(
            identity_of(&dir.join("node-node-a/tls.crt")),
            Identity::node("node-a")
        );
        assert_eq!(
            identity_of(&dir.join("admin/tls.crt")),
            Identity::new("admin", &[ADMINS_GROUP])
        );
        assert_eq!(
            identity_of(&dir.join("controller/tls.crt")),
            Identity::new(CONTROLLER_USER, &[SERVICES_GROUP])
        );
    }

    #[test]
    fn init_on_an_existing_pki_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path(), &InitOptions::default()).unwrap();
        let before = fs::read(tmp.path().join(CA_KEY)).unwrap();
        let again = init(
            tmp.path(),
            &InitOptions {
                nodes: vec!["node-z".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(again, Report::Unchanged);
        assert_eq!(fs::read(tmp.path().join(CA_KEY)).unwrap(), before);
        assert!(!tmp.path().join("node-node-z").exists());
    }

    #[test]
    fn nats_files_are_made_once_and_added_to_an_older_pki() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        init(&dir, &InitOptions::default()).unwrap();
        add_node(&dir, "n1", None).unwrap();
        let conf = fs::read_to_string(dir.join(NATS_SERVER_CONF)).unwrap();
        assert!(conf.contains("resolver: MEMORY"), "{conf}");
        for file in [
            "admin/nats.creds",
            "node-n1/nats.creds",
            "nats/node-signer.nk",
        ] {
            let mode = fs::metadata(dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let mode = fs::metadata(dir.join(NATS_DIR))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // Adding a node never touches the server config.
        add_node(&dir, "n2", None).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join(NATS_SERVER_CONF)).unwrap(),
            conf
        );
        assert_eq!(
            init(&dir, &InitOptions::default()).unwrap(),
            Report::Unchanged
        );

        // A PKI made before NATS authentication: the NATS files are added, nothing else.
        fs::remove_dir_all(dir.join(NATS_DIR)).unwrap();
        fs::remove_file(dir.join(NATS_SERVER_CONF)).unwrap();
        for folder in ["admin", "viewer", "node-n1", "node-n2"] {
            fs::remove_file(dir.join(folder).join("nats.creds")).unwrap();
        }
        let cert = fs::read_to_string(dir.join("admin").join(TLS_CERT)).unwrap();
        let Report::NatsAdded(added) = init(&dir, &InitOptions::default()).unwrap() else {
            panic!("the NATS files should have been added");
        };
        assert!(added.contains(&"nats-server.conf".to_string()), "{added:?}");
        assert!(
            added.contains(&"node-n2/nats.creds".to_string()),
            "{added:?}"
        );
        assert!(dir.join("viewer/nats.creds").is_file());
        assert_eq!(
            fs::read_to_string(dir.join("admin").join(TLS_CERT)).unwrap(),
            cert
        );
        assert_eq!(
            init(&dir, &InitOptions::default()).unwrap(),
            Report::Unchanged
        );
    }

    #[test]
    fn the_cluster_file_is_written_once_and_added_to_an_existing_pki() {
        use crate::nats_cluster::{CLUSTER_CONF_FILE, members_of};
        let tmp = tempfile::tempdir().unwrap();
        let members: Vec<String> = ["nats-0:6222", "nats-1:6222", "nats-2:6222"]
            .map(String::from)
            .to_vec();
        let with_cluster = InitOptions {
            nats_cluster: members.clone(),
            ..Default::default()
        };

        // A new PKI with members: the file is there, private, with every member's route.
        let dir = tmp.path().join("new");
        assert!(matches!(
            init(&dir, &with_cluster).unwrap(),
            Report::Created(_)
        ));
        let path = dir.join(CLUSTER_CONF_FILE);
        let conf = fs::read_to_string(&path).unwrap();
        assert_eq!(members_of(&conf), members);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Again, even with other members: left as it is.
        let other = InitOptions {
            nats_cluster: vec!["elsewhere:6222".into()],
            ..Default::default()
        };
        assert_eq!(init(&dir, &other).unwrap(), Report::Unchanged);
        assert_eq!(fs::read_to_string(&path).unwrap(), conf);

        // Without members, no file; an existing PKI gets it when members are given.
        let dir = tmp.path().join("old");
        init(&dir, &InitOptions::default()).unwrap();
        assert!(!dir.join(CLUSTER_CONF_FILE).exists());
        assert_eq!(
            init(&dir, &with_cluster).unwrap(),
            Report::NatsAdded(vec![CLUSTER_CONF_FILE.to_owned()])
        );
        assert_ne!(
            fs::read_to_string(dir.join(CLUSTER_CONF_FILE)).unwrap(),
            conf,
            "each cluster gets its own route password"
        );

        // A bad member writes nothing at all.
        let bad = tmp.path().join("bad");
        let err = init(
            &bad,
            &InitOptions {
                nats_cluster: vec!["nats-0:6222".into(), "nats-1".into()],
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(&err, PkiError::InvalidClusterMember { member, .. } if member == "nats-1"),
            "{err}"
        );
        assert!(!bad.exists());
    }

    #[test]
    fn nodes_are_added_once_and_names_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            add_node(tmp.path(), "n1", None),
            Err(PkiError::NoCa(_))
        ));
        init(tmp.path(), &InitOptions::default()).unwrap();
        assert_eq!(
            add_node(tmp.path(), "n1", None).unwrap(),
            Report::Created(vec!["node-n1".into()])
        );
        assert_eq!(add_node(tmp.path(), "n1", None).unwrap(), Report::Unchanged);
        for bad in ["", "../x", "UPPER", "a/b", "-a", "a..b"] {
            assert!(
                matches!(
                    add_node(tmp.path(), bad, None),
                    Err(PkiError::InvalidNode { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_node_csr_yields_only_that_node_s_identity() {
        let ca = Authority::generate().unwrap();
        // The joining agent asks for an admin identity: the subject is not taken from it.
        let key = KeyPair::generate().unwrap();
        let greedy = IdentitySpec::base("admin", &[])
            .unwrap()
            .request_params()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let cert = ca
            .sign_node_csr(&greedy, "node-a", Validity::starting_now(DEFAULT_VALIDITY))
            .unwrap();
        let der: rustls_pki_types::CertificateDer<'static> =
            rustls_pki_types::pem::PemObject::from_pem_slice(cert.as_bytes()).unwrap();
        assert_eq!(
            Identity::from_certificate(&der).unwrap(),
            Identity::node("node-a")
        );
        assert!(
            ca.sign_node_csr(
                "not a csr",
                "node-a",
                Validity::starting_now(DEFAULT_VALIDITY)
            )
            .is_err()
        );
        let (_, csr) = node_key_and_csr("node-b").unwrap();
        assert!(
            ca.sign_node_csr(&csr, "Node_B", Validity::starting_now(DEFAULT_VALIDITY))
                .is_err()
        );
    }

    #[test]
    fn a_ca_key_must_belong_to_its_certificate() {
        let ca = Authority::generate().unwrap();
        let key_pem = ca.key.serialize_pem();
        assert!(Authority::from_pem(ca.cert_pem(), &key_pem).is_ok());
        let other = Authority::generate().unwrap();
        assert!(matches!(
            Authority::from_pem(ca.cert_pem(), &other.key.serialize_pem()),
            Err(PkiError::KeyMismatch)
        ));
    }
}
