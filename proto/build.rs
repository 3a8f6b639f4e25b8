//! Compiles `slt/v1/*.proto` with protox (pure Rust: no protoc on any machine) and generates the
//! prost messages and tonic stubs. The encoded descriptor set is written to OUT_DIR as well,
//! because server reflection and the CLI's JSON mapping need it and `compile_fds` does not write
//! `file_descriptor_set_path` itself.

use std::path::PathBuf;

use prost::Message;

const PROTO_FILES: &[&str] = &[
    "slt/v1/incident.proto",
    "slt/v1/incident_service.proto",
    "slt/v1/sync_service.proto",
    "slt/v1/audit_service.proto",
    "slt/v1/threat_service.proto",
    "slt/v1/admin_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    for dir in ["slt", "google"] {
        println!(
            "cargo:rerun-if-changed={}",
            manifest_dir.join(dir).display()
        );
    }

    let descriptors = protox::compile(PROTO_FILES, [&manifest_dir])?;
    std::fs::write(
        out_dir.join("slt_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
