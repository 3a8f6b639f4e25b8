//! The gRPC surface: service implementations (converting with `crate::wire`), the guard that
//! authenticates and authorises every call, and the mapping of errors to statuses; and the
//! metrics endpoint, the one plain-HTTP edge.

pub mod admin;
pub mod audit;
pub mod capabilities;
mod egress;
mod feed_messages;
pub mod guard;
pub mod incidents;
pub mod metrics_endpoint;
mod page_token;
pub mod status;
pub mod sync;
pub mod threat;

/// The proto <-> domain conversions now live in their own layer (`crate::wire`), below both
/// `api` and `federation`; this name stays for callers outside the crate.
pub use crate::wire as convert;

/// Largest gRPC message accepted or sent (security.md: 4 MiB; batches stream).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
