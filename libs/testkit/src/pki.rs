//! A throw-away PKI for a test, made exactly as `enctl pki init` makes one (the same library
//! call), so every test runs with credentials on: the services, the agents and the test's own
//! clients each present an identity of the deployment's CA.

use std::path::{Path, PathBuf};
use std::time::Duration;

use everynode_auth::pki::{self, IdentitySpec, InitOptions, Validity};
use everynode_auth::{ClientTls, Connector, Tls};
use everynode_service::{SecurityArgs, security};
use tonic::transport::{Channel, Endpoint};

/// How long a test's channel waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PKI in a temporary folder, removed on drop.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// A new CA with the `admission`, `registry`, `controller`, `admin` and `viewer`
    /// identities, and `simulator` (the node RPCs for any node: agents simulating many nodes).
    ///
    /// # Panics
    /// When the PKI cannot be written.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a folder for the PKI: {e}"));
        pki::init(dir.path(), &InitOptions::default())
            .unwrap_or_else(|e| panic!("enctl pki init: {e}"));
        let pki = Self { dir };
        pki.add("simulator", &IdentitySpec::simulator());
        pki
    }

    /// The PKI's folder (`ca.crt`, `ca.key`, one folder per identity).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The identity folder `name` (`admission`, `admin`, `node-n1`, …).
    pub fn folder(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `--credentials` of the identity folder `name`.
    pub fn credentials(&self, name: &str) -> SecurityArgs {
        SecurityArgs::credentials(self.folder(name))
    }

    /// The identity folder of node `name`'s agent, made on first use.
    pub fn node(&self, name: &str) -> PathBuf {
        pki::add_node(self.dir.path(), name, None)
            .unwrap_or_else(|e| panic!("enctl pki node {name}: {e}"));
        self.folder(&pki::node_folder(name))
    }

    /// Adds the identity folder `folder` for `spec` (valid for a year), unless it exists.
    pub fn add(&self, folder: &str, spec: &IdentitySpec) -> PathBuf {
        self.add_valid(folder, spec, Validity::starting_now(pki::DEFAULT_VALIDITY))
    }

    /// Adds the identity folder `folder` for `spec`, valid for `validity` (an expired one for
    /// a test, say), unless it exists.
    pub fn add_valid(&self, folder: &str, spec: &IdentitySpec, validity: Validity) -> PathBuf {
        pki::add_identity(self.dir.path(), folder, spec, validity)
            .unwrap_or_else(|e| panic!("identity {folder}: {e}"));
        self.folder(folder)
    }

    /// The NATS credentials of the identity folder `name` (its `nats.creds`).
    ///
    /// # Panics
    /// When the folder has no usable `nats.creds`.
    pub fn nats_auth(&self, name: &str) -> everynode_bus::NatsAuth {
        self.credentials(name)
            .nats_auth()
            .unwrap_or_else(|e| panic!("NATS credentials of {name}: {e}"))
    }

    /// The node signer file (`nats/node-signer.creds`), as a registry's `--nats-node-signer`.
    pub fn node_signer_file(&self) -> std::path::PathBuf {
        self.dir
            .path()
            .join(pki::NATS_DIR)
            .join(pki::NODE_SIGNER_FILE)
    }

    /// NATS credentials for node `node` signed with the PKI's node signer (what a registry with
    /// `--nats-node-signer` issues), without making an identity folder.
    ///
    /// # Panics
    /// When the node signer cannot be read.
    pub fn node_nats_auth(&self, node: &str) -> everynode_bus::NatsAuth {
        use everynode_auth::nats;
        let path = self
            .dir
            .path()
            .join(pki::NATS_DIR)
            .join(pki::NODE_SIGNER_FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (signer, account) =
            nats::parse_node_signer_file(&text).unwrap_or_else(|e| panic!("{e}"));
        let creds = nats::node_creds(&signer, &account, node).unwrap_or_else(|e| panic!("{e}"));
        let inbox_prefix = nats::inbox_prefix_of_creds(&creds).unwrap_or_else(|e| panic!("{e}"));
        everynode_bus::NatsAuth::Credentials {
            creds,
            inbox_prefix,
        }
    }

    /// The client TLS of the identity `name`.
    pub fn client(&self, name: &str) -> ClientTls {
        let tls =
            Tls::load(&self.folder(name)).unwrap_or_else(|e| panic!("credentials of {name}: {e}"));
        ClientTls::Credentials(tls)
    }

    /// A lazily connected channel to `url` (`https://…`) as the identity `name`.
    pub fn channel(&self, name: &str, url: &str) -> Channel {
        security::channel(url, self.client(name), CONNECT_TIMEOUT, None)
            .unwrap_or_else(|e| panic!("a channel to {url}: {e}"))
    }

    /// A channel to `url` as the identity `name`, connected now (or the connection error).
    pub async fn connect(&self, name: &str, url: &str) -> Result<Channel, String> {
        Endpoint::from_shared(url.to_string())
            .map_err(|e| e.to_string())?
            .connect_timeout(CONNECT_TIMEOUT)
            .connect_with_connector(Connector::new(self.client(name)))
            .await
            .map_err(|e| everynode_core::errors::chain(&e))
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}
