//! The gRPC surface: service implementations, proto <-> domain conversion, the guard that
//! authenticates and authorises every call, and the mapping of errors to statuses.

pub mod admin;
pub mod audit;
pub mod capabilities;
pub mod convert;
pub mod guard;
pub mod incidents;
pub mod status;
pub mod sync;
pub mod threat;
