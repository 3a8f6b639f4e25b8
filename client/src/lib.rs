//! The SLT Hub client SDK: connect to a hub with a profile (mutual TLS + bearer token) and call
//! its API with typed methods and typed errors. The `slt` CLI is a thin shell over this crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), slt_client::ClientError> {
//! let profile = slt_client::Profile::load("slt-data/profiles/ngo-alpha.reporter.toml")?;
//! let mut hub = slt_client::HubClient::connect(&profile).await?;
//! let page = hub.list(Default::default(), 50, String::new()).await?;
//! println!("{} incidents", page.incidents.len());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

#[cfg(feature = "awsd")]
pub mod awsd;
mod client;
mod error;
#[cfg(feature = "awsd")]
pub mod import;
pub mod json;
#[cfg(feature = "mirror")]
pub mod mirror;
pub mod private_files;
mod profile;
pub mod report;

pub use client::{Credentials, HubClient};
pub use error::{ClientError, FieldViolation};
#[cfg(feature = "mirror")]
pub use mirror::{Mirror, MirrorError, SyncOptions, SyncProgress, SyncStats};
pub use profile::Profile;
pub use slt_proto::v1 as proto;
