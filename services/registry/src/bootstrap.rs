//! `everynode.v1.Bootstrap`: joining a node without hand-copied keys, as Kubernetes' bootstrap
//! tokens and node CSR signing do.
//!
//! - **CreateToken** (administrators only; the auth layer enforces it) makes a token
//!   `<id>.<secret>` ([`everynode_auth::token`]) valid for `ttl` (default 1 hour, at most 7
//!   days) and stores it in the KV bucket `tokens` under its id: only the SHA-256 of the secret,
//!   the expiry, the description, who created it, and the node names it served (`used_by`).
//!   The bucket forgets a record on its own some time after it expired
//!   ([`everynode_bus::TOKENS_MAX_AGE`]).
//! - **SignNode** (open: the token authenticates) checks the node name, looks the token up and
//!   compares the secret's hash in constant time. An unknown, malformed, wrong or expired
//!   token is UNAUTHENTICATED with one message that does not say which; a token already used
//!   for that node name is PERMISSION_DENIED. The node name is added to `used_by` with
//!   compare-and-set (a lost race is retried on the fresh record, so two joins racing for one
//!   name get one certificate), then the CSR is signed by the deployment's CA: whatever the
//!   CSR asks for, the certificate names `system:node:<name>` in `system:nodes`, valid for a
//!   year. A token serves any number of node names, each once.
//! - Without a CA key (`--ca-key`), both RPCs are FAILED_PRECONDITION.
//!
//! Neither the secret nor the whole token is ever logged; the token's id (public) is, for
//! audit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use everynode_api::v1;
use everynode_api::v1::bootstrap_server::Bootstrap;
use everynode_auth::nats::NodeSigner;
use everynode_auth::pki::{self, Authority, PkiError, Validity};
use everynode_auth::{BootstrapToken, Caller};
use everynode_bus::async_nats::jetstream;
use everynode_bus::{ErrorKind, Store, TokenKey};
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::validation::{self, FieldError};

/// How long a token is valid when the request says nothing.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);
/// The longest a token may be valid.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a signed node certificate is valid.
pub const NODE_CERT_VALIDITY: Duration = pki::DEFAULT_VALIDITY;
/// The longest description kept with a token.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// How often CreateToken draws a new id when the drawn one exists already.
const CREATE_ATTEMPTS: usize = 4;
/// How often SignNode retries after losing a compare-and-set race on the token's record.
const CAS_ATTEMPTS: usize = 16;

/// Why the registry cannot sign with the CA it was given.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// `--ca-key` without any CA certificate.
    #[error(
        "--ca-key needs the CA certificate: give --ca-cert FILE, or --credentials DIR (its ca.crt)"
    )]
    NoCertificate,
    /// The files cannot be read, or do not make a CA.
    #[error("CA key {} with certificate {}: {source}", key.display(), cert.display())]
    Load {
        /// `--ca-key`.
        key: PathBuf,
        /// The CA certificate.
        cert: PathBuf,
        /// Why.
        #[source]
        source: PkiError,
    },
}

/// The CA the registry signs node certificates with: `--ca-key` with `--ca-cert`, or with
/// `ca.crt` of the `--credentials` folder; `None` without `--ca-key` (bootstrap joins off).
pub fn load_authority(
    ca_key: Option<&Path>,
    ca_cert: Option<&Path>,
    credentials: Option<&Path>,
) -> Result<Option<Authority>, CaError> {
    let Some(key) = ca_key else {
        return Ok(None);
    };
    let cert = ca_cert
        .map(Path::to_path_buf)
        .or_else(|| credentials.map(|dir| dir.join(pki::CA_CERT)))
        .ok_or(CaError::NoCertificate)?;
    Authority::load_files(&cert, key)
        .map(Some)
        .map_err(|source| CaError::Load {
            key: key.to_path_buf(),
            cert,
            source,
        })
}

/// Why `--nats-node-signer` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("NATS node signer {}: {reason}", path.display())]
pub struct NatsSignerError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Reads `--nats-node-signer` (`None` without it: joins get no NATS credentials).
pub fn load_nats_signer(path: Option<&Path>) -> Result<Option<NodeSigner>, NatsSignerError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let failed = |reason: String| NatsSignerError {
        path: path.to_path_buf(),
        reason,
    };
    let content = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    NodeSigner::parse(&content)
        .map(Some)
        .map_err(|e| failed(e.to_string()))
}

/// The token's lifetime a request asks for, checked (field `ttl`).
pub fn ttl_of(ttl: Option<prost_types::Duration>) -> Result<Duration, FieldError> {
    let Some(ttl) = ttl else {
        return Ok(DEFAULT_TTL);
    };
    let shown = format!(
        "{}s",
        ttl.seconds as f64 + f64::from(ttl.nanos) / 1_000_000_000.0
    );
    match Duration::try_from(ttl) {
        Ok(ttl) if !ttl.is_zero() && ttl <= MAX_TTL => Ok(ttl),
        _ => Err(validation::invalid(
            "ttl",
            &shown,
            "must be longer than 0s and at most 168h (7 days)",
        )),
    }
}

/// The `tokens` bucket.
#[derive(Clone)]
pub struct TokenStore {
    kv: Store<TokenKey, v1::BootstrapToken>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore").finish_non_exhaustive()
    }
}

fn key(token: &BootstrapToken) -> Result<TokenKey, Error> {
    // An id is 6 characters of [a-z0-9] (checked when parsed or generated): never empty.
    TokenKey::new(token.id()).map_err(|_| Error::TokenRefused)
}

impl TokenStore {
    /// Opens the bucket (created at start-up by `Bus::ensure`).
    pub async fn open(js: &jetstream::Context) -> Result<Self, everynode_bus::Error> {
        Ok(Self {
            kv: Store::open(js).await?,
        })
    }

    /// Stores a new token made by `make` (called again with a new token if the id is taken).
    async fn create(
        &self,
        mut make: impl FnMut(&BootstrapToken) -> v1::BootstrapToken,
    ) -> Result<(BootstrapToken, v1::BootstrapToken), Error> {
        for _ in 0..CREATE_ATTEMPTS {
            let token = BootstrapToken::generate().map_err(|e| Error::Crypto(Box::new(e)))?;
            let record = make(&token);
            match self.kv.create(&key(&token)?, &record).await {
                Ok(_) => return Ok((token, record)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    tracing::debug!(token_id = token.id(), "token id taken; drawing another");
                }
                Err(e) => return Err(Error::from_token_bus(e)),
            }
        }
        Err(Error::TokenBusy)
    }

    /// The record of `token` and its revision, if the token is known, its secret right and it
    /// has not expired at `now`; [`Error::TokenRefused`] otherwise, whichever it is.
    async fn valid(
        &self,
        token: &BootstrapToken,
        now: SystemTime,
    ) -> Result<(v1::BootstrapToken, u64), Error> {
        let found = self
            .kv
            .get(&key(token)?)
            .await
            .map_err(Error::from_token_bus)?;
        let Some(found) = found else {
            return Err(Error::TokenRefused);
        };
        let record = found.value;
        let unexpired = record
            .expires
            .and_then(|t| SystemTime::try_from(t).ok())
            .is_some_and(|expires| now < expires);
        // Both checks run whatever the first says, so a wrong secret and an expired token take
        // the same path.
        let secret_ok = token.secret_matches(&record.secret_sha256);
        if secret_ok && unexpired {
            Ok((record, found.revision))
        } else {
            Err(Error::TokenRefused)
        }
    }

    /// Records that `token` served `node` and returns what `sign` made for it. The record is
    /// read, checked ([`TokenStore::valid`], not yet used for `node`) and written back with
    /// `node` added at the revision read; a lost race starts over on the fresh record, so a
    /// node name is recorded, and `sign`'s result returned, once. `sign` runs once, after the
    /// first check.
    async fn record_use<T>(
        &self,
        token: &BootstrapToken,
        node: &str,
        sign: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut sign = Some(sign);
        let mut signed = None;
        for _ in 0..CAS_ATTEMPTS {
            let (mut record, revision) = self.valid(token, SystemTime::now()).await?;
            if record.used_by.iter().any(|used| used == node) {
                return Err(Error::TokenUsed {
                    id: token.id().to_string(),
                    node: node.to_string(),
                });
            }
            let made = match (signed.take(), sign.take()) {
                (Some(made), _) => made,
                (None, Some(sign)) => sign()?,
                (None, None) => return Err(Error::TokenBusy),
            };
            record.used_by.push(node.to_string());
            match self.kv.update(&key(token)?, &record, revision).await {
                Ok(_) => return Ok(made),
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    tracing::debug!(token_id = token.id(), "lost a race on a token; re-reading");
                    signed = Some(made);
                }
                Err(e) => return Err(Error::from_token_bus(e)),
            }
        }
        Err(Error::TokenBusy)
    }
}

/// The Bootstrap service.
#[derive(Clone, Debug)]
pub struct BootstrapApi {
    tokens: TokenStore,
    authority: Option<Arc<Authority>>,
    nats: Option<Arc<NodeSigner>>,
}

impl BootstrapApi {
    /// The service over the `tokens` bucket, signing certificates with `authority` (`None`:
    /// joins are off) and NATS user JWTs with `nats` (`None`: joins get no NATS credentials).
    pub fn new(
        tokens: TokenStore,
        authority: Option<Arc<Authority>>,
        nats: Option<Arc<NodeSigner>>,
    ) -> Self {
        Self {
            tokens,
            authority,
            nats,
        }
    }

    fn authority(&self) -> Result<&Authority, Error> {
        self.authority.as_deref().ok_or(Error::BootstrapOff)
    }
}

fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

/// The user who calls, as recorded in `created_by` (empty with `--insecure`).
fn caller_user<T>(request: &Request<T>) -> String {
    match everynode_auth::caller(request) {
        Some(Caller::Known(identity)) => identity.user.clone(),
        _ => String::new(),
    }
}

/// Checks a SignNode request's fields before the token is looked at.
fn check_sign_request(request: &v1::BootstrapSignNodeRequest) -> Result<(), Error> {
    let mut errors = Vec::new();
    if request.token.is_empty() {
        errors.push(FieldError::required("token", ""));
    }
    if let Err(e) = pki::check_node_name(&request.node_name) {
        let reason = match e {
            PkiError::InvalidNode { reason, .. } => reason,
            other => other.to_string(),
        };
        errors.push(validation::invalid("node_name", &request.node_name, reason));
    }
    if !request.nats_public_key.is_empty()
        && everynode_auth::nats::check_user_public_key(&request.nats_public_key).is_err()
    {
        errors.push(FieldError::invalid(
            "nats_public_key",
            &request.nats_public_key,
            "must be a public NATS user nkey (U…)",
        ));
    }
    if request.csr_pem.trim().is_empty() {
        errors.push(FieldError::required("csr_pem", ""));
    }
    Error::check("", errors)
}

/// The violation of a CSR that cannot be read or whose signature is wrong; its value is shown
/// shortened.
fn bad_csr(csr_pem: &str) -> FieldError {
    const SHOWN: usize = 40;
    let shown: String = csr_pem.trim().chars().take(SHOWN).collect();
    let shown = if csr_pem.trim().chars().count() > SHOWN {
        format!("{shown}…")
    } else {
        shown
    };
    validation::invalid(
        "csr_pem",
        &shown,
        "must be a PEM certificate signing request (CERTIFICATE REQUEST) signed by its key",
    )
}

#[tonic::async_trait]
impl Bootstrap for BootstrapApi {
    async fn create_token(
        &self,
        request: Request<v1::BootstrapCreateTokenRequest>,
    ) -> Result<Response<v1::BootstrapCreateTokenResponse>, Status> {
        self.authority()?;
        let created_by = caller_user(&request);
        let v1::BootstrapCreateTokenRequest { ttl, description } = request.into_inner();
        let mut errors = Vec::new();
        let ttl = ttl_of(ttl).map_err(|e| errors.push(e)).ok();
        if description.len() > MAX_DESCRIPTION_BYTES {
            errors.push(FieldError::too_long("description", MAX_DESCRIPTION_BYTES));
        }
        Error::check("", errors)?;
        let ttl = ttl.unwrap_or(DEFAULT_TTL);
        let now = SystemTime::now();
        let expires = timestamp(now + ttl);
        let (token, record) = self
            .tokens
            .create(|token| v1::BootstrapToken {
                id: token.id().to_string(),
                secret_sha256: token.secret_sha256(),
                expires: Some(expires),
                description: description.clone(),
                used_by: Vec::new(),
                created_by: created_by.clone(),
                created: Some(timestamp(now)),
            })
            .await?;
        tracing::info!(
            token_id = token.id(),
            created_by = %record.created_by,
            ?ttl,
            "bootstrap token created"
        );
        Ok(Response::new(v1::BootstrapCreateTokenResponse {
            token: token.expose(),
            expires: record.expires,
        }))
    }

    async fn sign_node(
        &self,
        request: Request<v1::BootstrapSignNodeRequest>,
    ) -> Result<Response<v1::BootstrapSignNodeResponse>, Status> {
        let authority = self.authority()?;
        let request = request.into_inner();
        check_sign_request(&request)?;
        let token = BootstrapToken::parse(&request.token).map_err(|_| Error::TokenRefused)?;
        let node = request.node_name.as_str();
        let certificate_pem = self
            .tokens
            .record_use(&token, node, || {
                authority
                    .sign_node_csr(
                        &request.csr_pem,
                        node,
                        Validity::starting_now(NODE_CERT_VALIDITY),
                    )
                    .map_err(|e| match e {
                        PkiError::BadRequest(reason) => {
                            tracing::debug!(node, %reason, "refused a certificate signing request");
                            Error::invalid("", bad_csr(&request.csr_pem))
                        }
                        other => Error::Crypto(Box::new(other)),
                    })
            })
            .await?;
        tracing::info!(
            node,
            token_id = token.id(),
            "signed the certificate of a node joining with a bootstrap token"
        );
        let nats_jwt = match (&self.nats, request.nats_public_key.is_empty()) {
            (Some(nats), false) => nats
                .user_jwt(node, &request.nats_public_key)
                .map_err(|e| Error::Crypto(Box::new(e)))?,
            _ => String::new(),
        };
        Ok(Response::new(v1::BootstrapSignNodeResponse {
            certificate_pem,
            ca_pem: authority.cert_pem().to_string(),
            nats_jwt,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seconds: i64, nanos: i32) -> Option<prost_types::Duration> {
        Some(prost_types::Duration { seconds, nanos })
    }

    #[test]
    fn ttls_default_to_an_hour_and_stay_within_a_week() {
        assert_eq!(ttl_of(None), Ok(DEFAULT_TTL));
        assert_eq!(ttl_of(d(60, 0)), Ok(Duration::from_secs(60)));
        assert_eq!(ttl_of(d(0, 1)), Ok(Duration::from_nanos(1)));
        assert_eq!(ttl_of(d(7 * 24 * 3600, 0)), Ok(MAX_TTL));
        for bad in [d(7 * 24 * 3600, 1), d(0, 0), d(-5, 0), d(8 * 24 * 3600, 0)] {
            let error = ttl_of(bad).unwrap_err();
            assert_eq!(error.path, "ttl", "{bad:?}");
        }
        assert_eq!(
            ttl_of(d(691_200, 0)).unwrap_err().to_string(),
            "ttl: Invalid value: \"691200s\": must be longer than 0s and at most 168h (7 days)"
        );
        // The bucket keeps records longer than any token lives.
        assert!(everynode_bus::TOKENS_MAX_AGE > MAX_TTL);
    }

    #[test]
    fn sign_requests_name_every_bad_field() {
        let status = Status::from(
            check_sign_request(&v1::BootstrapSignNodeRequest {
                token: String::new(),
                node_name: "Bad_Name".into(),
                csr_pem: " ".into(),
                nats_public_key: "not-a-key".into(),
            })
            .unwrap_err(),
        );
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        for field in ["token", "node_name", "csr_pem", "nats_public_key"] {
            assert!(status.message().contains(field), "{}", status.message());
        }
        assert!(
            check_sign_request(&v1::BootstrapSignNodeRequest {
                token: "x".into(),
                node_name: "n1".into(),
                csr_pem: "csr".into(),
                nats_public_key: String::new(),
            })
            .is_ok()
        );
    }

    #[test]
    fn without_a_ca_key_joins_are_off_and_a_key_needs_a_certificate() {
        assert!(load_authority(None, None, None).unwrap().is_none());
        let key = Path::new("/nonexistent/ca.key");
        assert!(matches!(
            load_authority(Some(key), None, None),
            Err(CaError::NoCertificate)
        ));
        let error = load_authority(Some(key), None, Some(Path::new("/nonexistent")))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/ca.crt"), "{error}");
    }
}
