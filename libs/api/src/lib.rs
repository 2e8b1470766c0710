//! The everynode.v1 contract as Rust: the code generated from `proto/everynode/v1` (messages,
//! gRPC clients and servers), the encoded file descriptor set (for server reflection and the
//! manifest codec), conversions between the generated types and `everynode_core`'s domain
//! model, and the Kubernetes manifest codec.

/// Generated messages and services of the `everynode.v1` package.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/everynode.v1.rs"));
}

/// The encoded `FileDescriptorSet` of `everynode.v1` and its imports, with source comments.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/everynode_v1_descriptor.bin"));

pub mod convert;
pub mod limits;
pub mod manifest;
