//! How a binary secures its gRPC traffic, decided once at start-up from `--credentials DIR` or
//! `--insecure`: every server then speaks mutual TLS 1.3 and authorizes each call
//! ([`everynode_auth::AuthLayer`]), and every client presents the same identity. Without
//! either flag a binary refuses to start; with `--insecure` it runs in plaintext and says so
//! with a warning at every start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use everynode_auth::{AuthLayer, ClientTls, Connector, Tls, TlsError};
use tonic::transport::{Channel, Endpoint};

use crate::Shutdown;

/// `--credentials` and `--insecure`, flattened into every binary's configuration.
#[derive(Debug, Clone, Default, Args)]
pub struct SecurityArgs {
    /// Identity folder (`ca.crt`, `tls.crt`, `tls.key`, as `enctl pki init` writes them):
    /// serve and call gRPC over mutual TLS with this identity.
    #[arg(
        long,
        env = "EVERYNODE_CREDENTIALS",
        value_name = "DIR",
        conflicts_with = "insecure"
    )]
    pub credentials: Option<PathBuf>,

    /// NATS credentials (`.creds`: user JWT and seed, as `enctl pki init` writes them). Default
    /// with --credentials: `<credentials>/nats.creds`; with --insecure: none.
    #[arg(long, env = "EVERYNODE_NATS_CREDS", value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,

    /// Run without TLS or authentication: anyone who reaches a port may do anything. For a
    /// throw-away machine only; a warning says so at every start.
    #[arg(long, env = "EVERYNODE_INSECURE")]
    pub insecure: bool,
}

impl SecurityArgs {
    /// Credentials from `dir`.
    pub fn credentials(dir: impl Into<PathBuf>) -> Self {
        Self {
            credentials: Some(dir.into()),
            nats_creds: None,
            insecure: false,
        }
    }

    /// `--insecure`.
    pub fn insecure() -> Self {
        Self {
            credentials: None,
            nats_creds: None,
            insecure: true,
        }
    }

    /// The NATS credentials: `--nats-creds`, else `<credentials>/nats.creds`, else none (only
    /// with `--insecure`). A missing or unusable file fails start-up with its path.
    pub fn nats_auth(&self) -> Result<everynode_bus::NatsAuth, SecurityError> {
        let path = match (&self.nats_creds, &self.credentials) {
            (Some(file), _) => file.clone(),
            (None, Some(dir)) => dir.join(everynode_auth::nats::CREDS_FILE),
            (None, None) => return Ok(everynode_bus::NatsAuth::Open),
        };
        let failed = |reason: String| SecurityError::NatsCredentials {
            path: path.clone(),
            reason,
        };
        let creds = std::fs::read_to_string(&path).map_err(|err| failed(err.to_string()))?;
        let inbox_prefix = everynode_auth::nats::inbox_prefix_of_creds(&creds)
            .map_err(|err| failed(err.to_string()))?;
        Ok(everynode_bus::NatsAuth::Credentials {
            creds,
            inbox_prefix,
        })
    }

    /// Fails when neither flag is given: called by `main` before anything binds or connects,
    /// so a binary started without credentials says so at once.
    pub fn check(&self) -> Result<(), SecurityError> {
        if self.credentials.is_none() && !self.insecure {
            return Err(SecurityError::Unconfigured);
        }
        Ok(())
    }
}

/// Why a binary cannot start with its security flags.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// Neither flag was given.
    #[error(
        "no credentials: give --credentials DIR (or EVERYNODE_CREDENTIALS; make a PKI with \
         `enctl pki init DIR`), or --insecure to run without TLS or authentication"
    )]
    Unconfigured,
    /// The NATS credentials file is missing or unusable.
    #[error(
        "NATS credentials {}: {reason} (make them with `enctl pki init DIR`, or give \
         --nats-creds FILE)",
        path.display()
    )]
    NatsCredentials {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The credentials folder is not usable.
    #[error("--credentials: {0}")]
    Credentials(#[from] TlsError),
    /// A client endpoint does not suit the mode.
    #[error("{url}: {reason}")]
    Endpoint {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The security of a running binary.
#[derive(Debug, Clone)]
pub enum Security {
    /// `--insecure`: plaintext, nobody identified, everything allowed.
    Insecure,
    /// Mutual TLS with the identity of a credentials folder.
    Tls(Arc<Tls>),
}

impl Security {
    /// Decides from the flags; loads and checks the credentials. Logs the warning of
    /// `--insecure`.
    pub fn from_args(args: &SecurityArgs) -> Result<Self, SecurityError> {
        match (&args.credentials, args.insecure) {
            (Some(dir), _) => {
                let tls = Tls::load(dir)?;
                tracing::info!(credentials = %dir.display(), identity = %tls.identity(), "mutual TLS on");
                Ok(Self::Tls(tls))
            }
            (None, true) => {
                tracing::warn!(
                    "--insecure: gRPC is plaintext and unauthenticated; anyone who reaches a \
                     port can do anything. Use --credentials DIR (enctl pki init DIR)."
                );
                Ok(Self::Insecure)
            }
            (None, false) => Err(SecurityError::Unconfigured),
        }
    }

    /// The authentication layer of a server.
    pub fn layer(&self) -> AuthLayer {
        match self {
            Security::Insecure => AuthLayer::insecure(),
            Security::Tls(_) => AuthLayer::enforcing(),
        }
    }

    /// How clients connect.
    pub fn client(&self) -> ClientTls {
        match self {
            Security::Insecure => ClientTls::Plain,
            Security::Tls(tls) => ClientTls::Credentials(Arc::clone(tls)),
        }
    }

    /// The URL scheme of this mode (`http` or `https`).
    pub fn scheme(&self) -> &'static str {
        self.client().scheme()
    }

    /// Keeps the credentials current (SIGHUP, changed files) until `shutdown`.
    pub fn watch(&self, shutdown: &Shutdown) {
        if let Security::Tls(tls) = self {
            let stop = shutdown.clone();
            shutdown.spawn(Arc::clone(tls).watch(async move { stop.signal().await }));
        }
    }
}

/// A lazily connected channel to `url` in mode `tls`; the URL's scheme must be the mode's
/// (`https://` with credentials, `http://` with `--insecure`).
pub fn channel(
    url: &str,
    tls: ClientTls,
    connect_timeout: Duration,
    timeout: Option<Duration>,
) -> Result<Channel, SecurityError> {
    let bad = |reason: String| SecurityError::Endpoint {
        url: url.to_string(),
        reason,
    };
    let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| bad(e.to_string()))?;
    let scheme = endpoint.uri().scheme_str().unwrap_or_default().to_string();
    if scheme != tls.scheme() {
        return Err(bad(match tls {
            ClientTls::Plain => "with --insecure, the URL must be http://".to_string(),
            _ => "with credentials, the URL must be https://".to_string(),
        }));
    }
    let endpoint = endpoint.connect_timeout(connect_timeout);
    let endpoint = match timeout {
        Some(timeout) => endpoint.timeout(timeout),
        None => endpoint,
    };
    Ok(endpoint.connect_with_connector_lazy(Connector::new(tls)))
}
