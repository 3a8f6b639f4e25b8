//! The hub's own model of incidents, independent of gRPC and SQL: the types, their enums (with
//! the stable names used on the wire and in storage), and validation that names every bad field.

pub mod countries;
mod incident;
mod query;
pub mod validate;

pub use incident::*;
pub use query::{IncidentFilter, VisibilityScope};
pub use validate::{FieldViolation, Violations};
