//! Who may do what in an everynode deployment.
//!
//! - [`pki`]: the deployment's CA and identities on disk (`enctl pki init|node`), and the
//!   signing of node certificates for bootstrap joins.
//! - [`identity`]: the user and groups a client certificate names, as Kubernetes reads them.
//! - [`authz`]: the authorizer, one pure function of (identity, RPC, object).
//! - [`tls`]: mutual TLS 1.3 configurations from a credentials folder, reloaded on change.
//! - [`net`]: TLS on the wire for tonic servers (accepted connections carry their peer's
//!   identity) and clients (a connector).
//! - [`token`]: bootstrap tokens (`<id>.<secret>`): generated from a CSPRNG, stored as the
//!   hash of their secret, checked in constant time.
//! - [`layer`]: the tower layer every server applies: authentication, authorization, and the
//!   caller handed to the handlers.

pub mod authz;
pub mod identity;
pub mod layer;
pub mod nats;
pub mod nats_cluster;
pub mod net;
pub mod pki;
pub mod tls;
pub mod token;

pub use authz::{Object, Rpc};
pub use identity::Identity;
pub use layer::{AuthLayer, Caller, authorize_object, caller};
pub use net::{ClientTls, Connector, PeerInfo};
pub use tls::{Tls, TlsError};
pub use token::{BootstrapToken, TokenError};
