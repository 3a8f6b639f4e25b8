//! SLT Hub API v1 as Rust types: prost messages, tonic client and server stubs, and the encoded
//! file descriptor set (for server reflection and the canonical proto3 JSON mapping).
//!
//! The `.proto` files under `proto/slt/v1/` are the contract; this crate only compiles them.
//! Modules mirror the protobuf packages because generated code refers to other packages by
//! relative path (`super::super::google::r#type::Date`).

#![forbid(unsafe_code)]

/// Protobuf package `slt`.
pub mod slt {
    /// `slt.v1`: incidents and the services over them.
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
        tonic::include_proto!("slt.v1");
    }
}

/// Protobuf package `google`.
pub mod google {
    /// `google.type`: the calendar `Date` used by `slt.v1`.
    pub mod r#type {
        tonic::include_proto!("google.r#type");
    }
}

pub mod audit_chain;
pub mod audit_note;
pub mod audit_tree;
pub mod audit_verify;
pub mod countries;

pub use slt::v1;

/// The encoded `FileDescriptorSet` of every `.proto` file in this crate (and its imports).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/slt_descriptor.bin"));
