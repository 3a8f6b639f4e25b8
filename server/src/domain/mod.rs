//! The hub's own model of incidents, independent of gRPC and SQL: the types, their enums (with
//! the stable names used on the wire and in storage), and validation that names every bad field.

mod advisory;
mod audit;
mod incident;
mod query;
pub mod validate;

pub use advisory::{AdvisoryContent, StoredAdvisory};
pub use audit::AuditEntry;
pub use incident::*;
pub use query::{AreaLevel, Granularity, PictureGroup, PictureQuery, VictimDetail};
pub use query::{IncidentFilter, VisibilityScope};
/// ISO 3166-1 codes: part of the API contract, shared with the SDK.
pub use slt_proto::countries;
pub use validate::{FieldViolation, Violations};
