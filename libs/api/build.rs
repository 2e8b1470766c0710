//! Generates the `everynode.v1` Rust code and file descriptor set from `proto/` with `protox`,
//! a pure-Rust protobuf compiler, so no system `protoc` is needed. The descriptor set (with
//! comments and the well-known imports) is embedded for gRPC server reflection and for the
//! manifest codec, which maps Kubernetes JSON names onto fields through it.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "everynode/v1/meta.proto",
        "everynode/v1/pod.proto",
        "everynode/v1/node.proto",
        "everynode/v1/daemonset.proto",
        "everynode/v1/daemonsets.proto",
        "everynode/v1/nodes.proto",
        "everynode/v1/pods.proto",
        "everynode/v1/events.proto",
        "everynode/v1/agent.proto",
        "everynode/v1/lease.proto",
        "everynode/v1/auth.proto",
        "everynode/v1/bootstrap.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let fds = protox::Compiler::new([&root])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(files)?
        .file_descriptor_set();

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("everynode_v1_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .btree_map(".")
        .compile_fds(fds)?;
    Ok(())
}
