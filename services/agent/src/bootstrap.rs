//! Joining the deployment with a bootstrap token (`--bootstrap-token`, `--ca-cert`): the agent
//! gets its node certificate from the registry instead of a hand-copied credentials folder.
//!
//! - If `<data-dir>/pki/tls.crt` exists, the agent joined before: that folder is its
//!   credentials folder, and the registry is not asked again (the token may well have expired
//!   by then).
//! - Otherwise the agent makes a key and a certificate signing request for its node
//!   ([`pki::node_key_and_csr`]) and calls `everynode.v1.Bootstrap/SignNode` over TLS that
//!   verifies the registry with `--ca-cert` and presents no certificate. The key never leaves
//!   the machine. The answer is written with the CA certificate of `--ca-cert` as `ca.crt`,
//!   `tls.crt` and `tls.key` (each `0600`) into a staging folder (`0700`) that is then renamed
//!   to `<data-dir>/pki`, so an interrupted join never leaves half a credentials folder behind.
//! - From then on the folder is used exactly as `--credentials <data-dir>/pki` (reloaded when
//!   its files change). Its certificate must name this node (`system:node:<name>`).
//!
//! A registry that cannot be reached, or answers UNAVAILABLE, DEADLINE_EXCEEDED,
//! RESOURCE_EXHAUSTED or ABORTED, is asked again with back-off for as long as it takes; any
//! other answer (a refused, used or expired token, joins switched off, a bad request) ends the
//! agent with the registry's message. The token is never logged.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use everynode_api::limits::Bounded;
use everynode_api::v1::bootstrap_client::BootstrapClient;
use everynode_api::v1::{BootstrapSignNodeRequest, BootstrapSignNodeResponse};
use everynode_auth::nats::NodeUserKey;
use everynode_auth::pki::{self, Issued, PkiError};
use everynode_auth::{BootstrapToken, ClientTls, Identity, Tls, TlsError, tls};
use everynode_core::retry::Backoff;
use everynode_service::Shutdown;
use tonic::Code;
use tonic::transport::Channel;

use crate::join::{CALL_TIMEOUT, CONNECT_TIMEOUT};

/// The credentials folder of a joined agent, in its data dir.
pub const PKI_DIR: &str = "pki";
/// Where a join writes before the folder is complete.
const STAGING_DIR: &str = "pki.joining";
/// First retry delay of a join that could not reach the registry.
const RETRY_BASE: Duration = Duration::from_millis(250);

/// Why the agent could not join with its bootstrap token.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The NATS credentials could not be assembled from the registry's answer.
    #[error("the NATS credentials from the registry: {0}")]
    NatsCreds(String),
    /// `--ca-cert` cannot be read.
    #[error("--ca-cert {}: {source}", path.display())]
    ReadCaCert {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--ca-cert` holds no usable CA certificate.
    #[error("--ca-cert: {0}")]
    CaCert(#[source] TlsError),
    /// The registry URL is not usable.
    #[error(transparent)]
    Endpoint(#[from] everynode_service::SecurityError),
    /// The node's key or signing request could not be made.
    #[error("making node {node:?}'s key: {source}")]
    Key {
        /// The node.
        node: String,
        /// Why.
        #[source]
        source: PkiError,
    },
    /// The registry refused to sign (token refused, used or expired, joins off, bad request).
    #[error(
        "joining with --bootstrap-token: the registry refused to sign node {node:?}'s certificate ({code:?}): {message}"
    )]
    Refused {
        /// The node.
        node: String,
        /// The status code.
        code: Code,
        /// The registry's message.
        message: String,
    },
    /// The credentials could not be written.
    #[error("storing the node's credentials in {}: {source}", dir.display())]
    Store {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: PkiError,
    },
    /// The staging folder could not be moved into place.
    #[error("storing the node's credentials in {}: {source}", dir.display())]
    Move {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The stored credentials cannot be used.
    #[error("the node's credentials in {}: {source}", dir.display())]
    Credentials {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: TlsError,
    },
    /// The stored credentials are another identity's (the node was renamed?).
    #[error(
        "{} holds the credentials of {found}, not of node {node:?}; remove the folder to join \
         again with a bootstrap token", dir.display()
    )]
    OtherIdentity {
        /// The folder.
        dir: PathBuf,
        /// The identity its certificate names.
        found: Identity,
        /// This agent's node.
        node: String,
    },
}

/// What a join needs.
#[derive(Debug, Clone)]
pub struct JoinWith<'a> {
    /// The token.
    pub token: &'a BootstrapToken,
    /// `--ca-cert`.
    pub ca_cert: &'a Path,
    /// The registry's URL.
    pub registry: &'a str,
    /// The node's name.
    pub node: &'a str,
    /// The agent's data dir (the folder is `<data_dir>/pki`).
    pub data_dir: &'a Path,
    /// Longest pause between two attempts.
    pub retry_max: Duration,
}

/// The credentials folder to use as `--credentials`: `<data-dir>/pki`, after joining if it
/// holds no certificate yet. `None` when shutdown came during the join.
pub async fn credentials(
    join: &JoinWith<'_>,
    shutdown: &Shutdown,
) -> Result<Option<PathBuf>, BootstrapError> {
    let dir = join.data_dir.join(PKI_DIR);
    if dir.join(pki::TLS_CERT).exists() {
        tracing::info!(credentials = %dir.display(), "joined before: using the stored node credentials");
    } else {
        let ca_pem = fs::read(join.ca_cert).map_err(|source| BootstrapError::ReadCaCert {
            path: join.ca_cert.to_path_buf(),
            source,
        })?;
        let client =
            tls::anonymous_client(&ca_pem, join.ca_cert).map_err(BootstrapError::CaCert)?;
        let channel = everynode_service::security::channel(
            join.registry,
            ClientTls::Anonymous(client),
            CONNECT_TIMEOUT,
            Some(CALL_TIMEOUT),
        )?;
        let (key_pem, csr_pem) =
            pki::node_key_and_csr(join.node).map_err(|source| BootstrapError::Key {
                node: join.node.to_string(),
                source,
            })?;
        tracing::info!(
            node = join.node,
            registry = join.registry,
            "joining with a bootstrap token"
        );
        // The node's NATS key is made here; only its public half goes to the registry.
        let nats_key = NodeUserKey::generate();
        let Some(signed) = sign(channel, join, csr_pem, nats_key.public_key(), shutdown).await?
        else {
            return Ok(None);
        };
        let nats_creds = if signed.nats_jwt.is_empty() {
            tracing::warn!(
                node = join.node,
                "the registry issued no NATS credentials (it has no --nats-node-signer): this agent can only reach a NATS that lets it in without"
            );
            None
        } else {
            Some(
                nats_key
                    .creds(&signed.nats_jwt)
                    .map_err(|e| BootstrapError::NatsCreds(e.to_string()))?,
            )
        };
        let ca_pem = String::from_utf8_lossy(&ca_pem);
        let issued = Issued {
            cert_pem: signed.certificate_pem,
            key_pem,
        };
        store(join.data_dir, &ca_pem, &issued, nats_creds.as_deref())?;
        tracing::info!(node = join.node, credentials = %dir.display(), nats = nats_creds.is_some(), "joined: node credentials stored");
    }
    check_identity(&dir, join.node)?;
    Ok(Some(dir))
}

/// Whether a failed SignNode is worth asking again.
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    )
}

/// Asks the registry to sign `csr_pem` (and the NATS key `nats_public_key`) until it answers,
/// refuses, or shutdown comes (`None`).
async fn sign(
    channel: Channel,
    join: &JoinWith<'_>,
    csr_pem: String,
    nats_public_key: String,
    shutdown: &Shutdown,
) -> Result<Option<BootstrapSignNodeResponse>, BootstrapError> {
    let mut client = BootstrapClient::new(channel).bounded();
    let mut retries = Backoff::new(RETRY_BASE, join.retry_max).start();
    loop {
        let call = client.sign_node(BootstrapSignNodeRequest {
            token: join.token.expose(),
            node_name: join.node.to_string(),
            csr_pem: csr_pem.clone(),
            nats_public_key: nats_public_key.clone(),
        });
        let answer = tokio::select! {
            answer = call => answer,
            () = shutdown.signal() => return Ok(None),
        };
        let status = match answer {
            Ok(response) => return Ok(Some(response.into_inner())),
            Err(status) if transient(status.code()) => status,
            Err(status) => {
                return Err(BootstrapError::Refused {
                    node: join.node.to_string(),
                    code: status.code(),
                    message: status.message().to_string(),
                });
            }
        };
        let delay = retries.next_delay().unwrap_or(join.retry_max);
        tracing::warn!(
            registry = join.registry,
            code = ?status.code(),
            error = %everynode_core::errors::chain(&status),
            retry_in = ?delay,
            "cannot join yet; asking the registry again"
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.signal() => return Ok(None),
        }
    }
}

/// Writes the credentials into a staging folder and moves it to `<data_dir>/pki`.
fn store(
    data_dir: &Path,
    ca_pem: &str,
    issued: &Issued,
    nats_creds: Option<&str>,
) -> Result<(), BootstrapError> {
    let dir = data_dir.join(PKI_DIR);
    let moving = |source| BootstrapError::Move {
        dir: dir.clone(),
        source,
    };
    fs::create_dir_all(data_dir).map_err(moving)?;
    let staging = data_dir.join(STAGING_DIR);
    // Left over from a join that was interrupted before its folder was complete.
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(moving)?;
    }
    pki::write_folder(&staging, ca_pem, issued)
        .and_then(|()| match nats_creds {
            Some(creds) => pki::write_nats_creds(&staging, creds),
            None => Ok(()),
        })
        .map_err(|source| BootstrapError::Store {
            dir: dir.clone(),
            source,
        })?;
    // Replaces an empty `pki` folder too; a non-empty one is refused (ENOTEMPTY).
    fs::rename(&staging, &dir).map_err(moving)?;
    fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(moving)?;
    Ok(())
}

/// Checks that the certificate in `dir` is node `node`'s.
fn check_identity(dir: &Path, node: &str) -> Result<(), BootstrapError> {
    let tls = Tls::load(dir).map_err(|source| BootstrapError::Credentials {
        dir: dir.to_path_buf(),
        source,
    })?;
    let found = tls.identity();
    if found.node_name() == Some(node) {
        Ok(())
    } else {
        Err(BootstrapError::OtherIdentity {
            dir: dir.to_path_buf(),
            found,
            node: node.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use everynode_auth::pki::{Authority, Validity};

    use super::*;

    fn issued(ca: &Authority, node: &str) -> Issued {
        let (key_pem, csr_pem) = pki::node_key_and_csr(node).unwrap();
        let cert_pem = ca
            .sign_node_csr(
                &csr_pem,
                node,
                Validity::starting_now(pki::DEFAULT_VALIDITY),
            )
            .unwrap();
        Issued { cert_pem, key_pem }
    }

    #[test]
    fn only_unreachable_or_busy_registries_are_asked_again() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Aborted,
        ] {
            assert!(transient(code), "{code:?}");
        }
        for code in [
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::InvalidArgument,
            Code::Unimplemented,
            Code::Internal,
        ] {
            assert!(!transient(code), "{code:?}");
        }
    }

    #[test]
    fn stored_credentials_are_private_complete_and_this_node_s() {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let ca = Authority::generate().unwrap();
        // An interrupted earlier join left a staging folder behind.
        fs::create_dir_all(data_dir.join(STAGING_DIR)).unwrap();
        fs::write(data_dir.join(STAGING_DIR).join(pki::TLS_KEY), "half").unwrap();
        store(&data_dir, ca.cert_pem(), &issued(&ca, "n1"), Some("creds")).unwrap();
        let dir = data_dir.join(PKI_DIR);
        assert!(!data_dir.join(STAGING_DIR).exists());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for file in [pki::CA_CERT, pki::TLS_CERT, pki::TLS_KEY, "nats.creds"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        assert_eq!(fs::read_to_string(dir.join("nats.creds")).unwrap(), "creds");
        check_identity(&dir, "n1").unwrap();
        let error = check_identity(&dir, "n2").unwrap_err().to_string();
        assert!(
            error.contains("system:node:n1") && error.contains("\"n2\""),
            "{error}"
        );
        // A second store never overwrites a complete folder.
        assert!(store(&data_dir, ca.cert_pem(), &issued(&ca, "n1"), None).is_err());
    }
}
