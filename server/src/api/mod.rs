//! The gRPC surface: service implementations (converting with `crate::wire`), the guard that
//! authenticates and authorises every call, and the mapping of errors to statuses.

pub mod admin;
pub mod audit;
pub mod capabilities;
mod egress;
mod feed_messages;
pub mod guard;
pub mod incidents;
mod page_token;
pub mod status;
pub mod sync;
pub mod threat;

/// The proto <-> domain conversions now live in their own layer (`crate::wire`), below both
/// `api` and `federation`; this name stays for callers outside the crate.
pub use crate::wire as convert;
