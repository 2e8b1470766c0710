//! The message size limits of every everynode gRPC server and client, set explicitly rather
//! than left to tonic's defaults (4 MiB received, unbounded sent).
//!
//! `XServer::new(api).bounded()` and `XClient::new(channel).bounded()` apply them; a request
//! over [`MAX_REQUEST_BYTES`] is refused with `OUT_OF_RANGE` naming the limit before any of
//! it is decoded, so nothing of it is applied.

use tonic::transport::Channel;

use crate::v1::{
    auth_client::AuthClient,
    auth_server::{Auth, AuthServer},
    bootstrap_client::BootstrapClient,
    bootstrap_server::{Bootstrap, BootstrapServer},
    daemon_sets_client::DaemonSetsClient,
    daemon_sets_server::{DaemonSets, DaemonSetsServer},
    endpoints_client::EndpointsClient,
    endpoints_server::{Endpoints, EndpointsServer},
    nodes_client::NodesClient,
    nodes_server::{Nodes, NodesServer},
    pods_client::PodsClient,
    pods_server::{Pods, PodsServer},
};

/// The largest request a server decodes (and a client sends): 3 MiB, the limit Kubernetes'
/// API server puts on a request body. A DaemonSet manifest is a few KiB: the largest of the
/// forty real-world manifests in `tests/fixtures/manifests/valid` has 13 KiB.
pub const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

/// The largest response a server sends (and a client decodes): 256 MiB. Lists are answered in
/// one message (about 1 KiB per node: 10,000 nodes pass tonic's 4 MiB default), so this bounds
/// what one answer may cost a client rather than what a fleet may hold.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Applies the limits to a generated server or client.
pub trait Bounded {
    /// The server or client with [`MAX_REQUEST_BYTES`] and [`MAX_RESPONSE_BYTES`] set.
    #[must_use]
    fn bounded(self) -> Self;
}

macro_rules! bounded {
    ($($server:ident<$api:ident>, $client:ident;)*) => {$(
        impl<T: $api> Bounded for $server<T> {
            fn bounded(self) -> Self {
                self.max_decoding_message_size(MAX_REQUEST_BYTES)
                    .max_encoding_message_size(MAX_RESPONSE_BYTES)
            }
        }

        impl Bounded for $client<Channel> {
            fn bounded(self) -> Self {
                self.max_decoding_message_size(MAX_RESPONSE_BYTES)
                    .max_encoding_message_size(MAX_REQUEST_BYTES)
            }
        }
    )*};
}

bounded! {
    AuthServer<Auth>, AuthClient;
    BootstrapServer<Bootstrap>, BootstrapClient;
    DaemonSetsServer<DaemonSets>, DaemonSetsClient;
    EndpointsServer<Endpoints>, EndpointsClient;
    NodesServer<Nodes>, NodesClient;
    PodsServer<Pods>, PodsClient;
}
