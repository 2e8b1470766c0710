//! The authentication and authorization layer every gRPC server applies (one tower layer, in
//! front of every service): it takes the caller's identity from the TLS connection (put there
//! by [`crate::net::incoming`]), refuses a call without one (`UNAUTHENTICATED`) or one the
//! authorizer does not allow (`PERMISSION_DENIED`, naming the identity and the RPC), and hands
//! the [`Caller`] to the handlers in the request extensions. Handlers never parse certificates;
//! when the object of a call is in its body, they ask [`authorize_object`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http;

use crate::authz::{Access, Object, Rpc, access, authorize};
use crate::identity::Identity;
use crate::net::PeerInfo;

/// Who is calling, as the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The server runs with `--insecure`: nobody is identified and everything is allowed.
    Insecure,
    /// A caller without a certificate, on an RPC open to anyone.
    Anonymous,
    /// The identity of the caller's certificate.
    Known(Arc<Identity>),
}

impl Caller {
    /// The identity, when there is one.
    pub fn identity(&self) -> Option<&Identity> {
        match self {
            Caller::Known(identity) => Some(identity),
            _ => None,
        }
    }
}

/// The caller of `request`, as the layer found it.
pub fn caller<T>(request: &tonic::Request<T>) -> Option<&Caller> {
    request.extensions().get::<Caller>()
}

/// Checks that the caller of `request` may call `rpc` on `object` (e.g. a node's agent
/// heartbeating its own node). A request that did not pass the layer is refused.
pub fn authorize_object<T>(
    request: &tonic::Request<T>,
    rpc: Rpc<'_>,
    object: Object<'_>,
) -> Result<(), Status> {
    match caller(request) {
        Some(Caller::Insecure) => Ok(()),
        Some(Caller::Known(identity)) => authorize(identity, rpc, Some(object))
            .map_err(|denied| Status::permission_denied(denied.to_string())),
        Some(Caller::Anonymous) | None => Err(Status::unauthenticated(format!(
            "{rpc} needs a client certificate signed by the deployment's CA"
        ))),
    }
}

/// The layer; `enforce: false` is `--insecure` (every call allowed, nobody identified).
#[derive(Debug, Clone, Copy)]
pub struct AuthLayer {
    enforce: bool,
}

impl AuthLayer {
    /// Identities required and calls authorized.
    pub fn enforcing() -> Self {
        Self { enforce: true }
    }

    /// `--insecure`: every call allowed.
    pub fn insecure() -> Self {
        Self { enforce: false }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            enforce: self.enforce,
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    enforce: bool,
}

impl<S> Auth<S> {
    /// The caller of a request, or the status refusing it.
    fn decide<B>(&self, request: &http::Request<B>) -> Result<Caller, Status> {
        if !self.enforce {
            return Ok(Caller::Insecure);
        }
        let identity = request
            .extensions()
            .get::<PeerInfo>()
            .and_then(|peer| peer.identity.clone());
        let Some(rpc) = Rpc::from_path(request.uri().path()) else {
            return Err(Status::unimplemented("not a gRPC method path"));
        };
        match (access(rpc), identity) {
            (Access::Open, None) => Ok(Caller::Anonymous),
            (Access::Open, Some(identity)) => Ok(Caller::Known(identity)),
            (Access::Authenticated, None) => Err(Status::unauthenticated(format!(
                "{rpc} needs a client certificate signed by the deployment's CA"
            ))),
            (Access::Authenticated, Some(identity)) => match authorize(&identity, rpc, None) {
                Ok(()) => Ok(Caller::Known(identity)),
                Err(denied) => {
                    tracing::info!(%denied, "call refused");
                    Err(Status::permission_denied(denied.to_string()))
                }
            },
        }
    }
}

impl<S, B> tower::Service<http::Request<B>> for Auth<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.decide(&request) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(status) => {
                let response = status.into_http::<Body>();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}
