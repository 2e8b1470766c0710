//! Mutual TLS 1.3 for every gRPC server and client, from one credentials folder (`ca.crt`,
//! `tls.crt`, `tls.key`, as `enctl pki` writes them), re-read when the files change.
//!
//! - [`Tls::load`] reads a folder and builds both a server and a client configuration
//!   (rustls with the ring provider, TLS 1.3 only, ALPN `h2` as gRPC clients require).
//! - Servers ask for a client certificate but do not require one at the handshake, so health
//!   checks stay open; a certificate that does not chain to the CA, or has expired, fails the
//!   handshake. What a call without a certificate may do is the authentication layer's
//!   decision ([`crate::layer`]).
//! - [`Tls::watch`] re-reads the folder on `SIGHUP` and whenever its files' bytes change
//!   (checked every few seconds, which also catches Kubernetes' symlink swap of a mounted
//!   Secret). New connections use the new certificates; a broken update is logged and the
//!   previous certificates stay in use.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::identity::{Identity, IdentityError};
use crate::pki::{CA_CERT, TLS_CERT, TLS_KEY};

/// How often the credentials folder is checked for changed files.
pub const RELOAD_CHECK: Duration = Duration::from_secs(5);
/// The one protocol spoken over TLS.
const ALPN_H2: &[u8] = b"h2";

/// Credentials could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The certificate names no identity.
    #[error("{path}: {source}")]
    Identity {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: IdentityError,
    },
    /// rustls refused the material.
    #[error("TLS configuration from {dir}: {source}")]
    Rustls {
        /// The credentials folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// The CA certificates could not be used to verify clients.
    #[error("client verifier from {dir}: {source}")]
    Verifier {
        /// The credentials folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
}

/// The crypto provider of every TLS configuration (ring: the one already in the dependency tree).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The files of one credentials folder, parsed.
struct Material {
    dir: PathBuf,
    bytes: Vec<u8>,
    roots: RootCertStore,
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    identity: Identity,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(bytes).collect();
    let certs = certs.map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            reason: "no certificate".into(),
        });
    }
    Ok(certs)
}

impl Material {
    fn load(dir: &Path) -> Result<Self, TlsError> {
        let (ca_path, cert_path, key_path) =
            (dir.join(CA_CERT), dir.join(TLS_CERT), dir.join(TLS_KEY));
        let (ca_bytes, cert_bytes, key_bytes) =
            (read(&ca_path)?, read(&cert_path)?, read(&key_path)?);
        let ca = certificates(&ca_path, &ca_bytes)?;
        let chain = certificates(&cert_path, &cert_bytes)?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| TlsError::Pem {
            path: key_path.clone(),
            reason: e.to_string(),
        })?;
        let identity =
            Identity::from_certificate(&chain[0]).map_err(|source| TlsError::Identity {
                path: cert_path.clone(),
                source,
            })?;
        let mut roots = RootCertStore::empty();
        for cert in &ca {
            roots.add(cert.clone()).map_err(|source| TlsError::Rustls {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let bytes = [ca_bytes, cert_bytes, key_bytes].concat();
        Ok(Self {
            dir: dir.to_path_buf(),
            bytes,
            roots,
            ca,
            chain,
            key,
            identity,
        })
    }

    fn rustls(&self, source: rustls::Error) -> TlsError {
        TlsError::Rustls {
            dir: self.dir.clone(),
            source,
        }
    }

    fn server(&self) -> Result<ServerConfig, TlsError> {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots.clone()), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|source| TlsError::Verifier {
                    dir: self.dir.clone(),
                    source,
                })?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| self.rustls(e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| self.rustls(e))?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(config)
    }

    fn client(&self) -> Result<ClientConfig, TlsError> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| self.rustls(e))?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| self.rustls(e))?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(config)
    }
}

/// A client configuration that trusts `ca_pem` and presents no certificate (a joining agent
/// before it has one).
pub fn anonymous_client(ca_pem: &[u8], origin: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let ca = certificates(origin, ca_pem)?;
    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots.add(cert).map_err(|source| TlsError::Rustls {
            dir: origin.to_path_buf(),
            source,
        })?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| TlsError::Rustls {
            dir: origin.to_path_buf(),
            source,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// What is in use now.
struct Current {
    bytes: Vec<u8>,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    identity: Identity,
    ca: Vec<CertificateDer<'static>>,
}

/// The TLS configurations of one credentials folder, kept up to date (see the module docs).
pub struct Tls {
    dir: PathBuf,
    current: RwLock<Arc<Current>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("dir", &self.dir)
            .field("identity", &self.identity())
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the credentials folder `dir`.
    pub fn load(dir: &Path) -> Result<Arc<Self>, TlsError> {
        let current = Self::build(&Material::load(dir)?)?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            current: RwLock::new(Arc::new(current)),
        }))
    }

    fn build(material: &Material) -> Result<Current, TlsError> {
        Ok(Current {
            bytes: material.bytes.clone(),
            server: Arc::new(material.server()?),
            client: Arc::new(material.client()?),
            identity: material.identity.clone(),
            ca: material.ca.clone(),
        })
    }

    fn now(&self) -> Arc<Current> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The credentials folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The identity the folder's certificate names.
    pub fn identity(&self) -> Identity {
        self.now().identity.clone()
    }

    /// The CA certificates (DER) clients are verified against.
    pub fn ca(&self) -> Vec<CertificateDer<'static>> {
        self.now().ca.clone()
    }

    /// The server configuration for new connections.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.now().server)
    }

    /// The client configuration for new connections.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.now().client)
    }

    /// Re-reads the folder; returns whether the certificates changed. On an error the
    /// certificates in use stay.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let material = Material::load(&self.dir)?;
        if material.bytes == self.now().bytes {
            return Ok(false);
        }
        let next = Self::build(&material)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        Ok(true)
    }

    /// Reloads on `SIGHUP` and on changed files until `stop` resolves.
    pub async fn watch(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; credentials are re-read only when their files change");
                None
            }
        };
        let mut check = tokio::time::interval(RELOAD_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            let why = tokio::select! {
                () = &mut stop => return,
                _ = check.tick() => "files checked",
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(signal) => signal.recv().await,
                        None => std::future::pending().await,
                    }
                } => "SIGHUP",
            };
            match self.reload() {
                Ok(true) => {
                    tracing::info!(dir = %self.dir.display(), identity = %self.identity(), why, "credentials reloaded")
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, why, "credentials not reloaded; the previous ones stay in use")
                }
            }
        }
    }
}
