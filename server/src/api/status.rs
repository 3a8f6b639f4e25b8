//! Mapping errors to gRPC statuses with `google.rpc` details. Messages say what was wrong with
//! the request, never what else exists on the hub, and never carry incident content.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation as RpcFieldViolation, StatusExt};

use crate::domain::FieldViolation;
use crate::identity::AuthError;
use crate::store::StoreError;

/// The `domain` of our `google.rpc.ErrorInfo` details.
pub const ERROR_DOMAIN: &str = "slt.hub";

/// INVALID_ARGUMENT with a BadRequest naming every bad field.
pub fn invalid_argument(violations: Vec<FieldViolation>) -> Status {
    let summary = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    let message = format!(
        "{} invalid field{}: {summary}",
        violations.len(),
        if violations.len() == 1 { "" } else { "s" }
    );
    let details = ErrorDetails::with_bad_request(
        violations
            .into_iter()
            .map(|v| RpcFieldViolation::new(v.field, v.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// One bad field.
pub fn invalid_field(field: &str, description: &str) -> Status {
    invalid_argument(vec![FieldViolation {
        field: field.to_string(),
        description: description.to_string(),
    }])
}

/// A refused identity.
pub fn auth_status(error: &AuthError) -> Status {
    let code = match error {
        AuthError::RoleNotAllowed(_) => Code::PermissionDenied,
        _ => Code::Unauthenticated,
    };
    Status::new(code, error.to_string())
}

/// The status a call gets when its audit record cannot be written.
pub fn audit_unavailable() -> Status {
    Status::unavailable("the access log cannot be written, so the call was refused; try later")
}

/// A store failure. Internal errors are logged here and reported without detail.
pub fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::NotFound => Status::not_found("incident not found"),
        StoreError::VersionMismatch { current } => {
            let metadata = HashMap::from([("current_version".to_string(), current.to_string())]);
            Status::with_error_details(
                Code::Aborted,
                format!("expected_version is stale: the incident is at version {current}"),
                ErrorDetails::with_error_info("VERSION_MISMATCH", ERROR_DOMAIN, metadata),
            )
        }
        StoreError::Audit(detail) => {
            tracing::error!(%detail, "audit record not written; call refused");
            audit_unavailable()
        }
        other => {
            tracing::error!(error = %other, "store failure");
            Status::internal("internal error; the hub operator has the details in its log")
        }
    }
}
