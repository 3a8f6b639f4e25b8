//! Typed errors. Each variant says what the partner can do about it.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// One bad field reported by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("profile {path}: {message}")]
    Profile { path: String, message: String },
    #[error("cannot connect to the hub at {endpoint}: {detail}")]
    Connect { endpoint: String, detail: String },
    #[error("the hub did not accept our credentials: {0}")]
    Unauthenticated(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the request was invalid: {message}")]
    InvalidArgument {
        message: String,
        violations: Vec<FieldViolation>,
    },
    /// The hub cannot continue from this cursor: start over with an empty mirror.
    #[error("resync required: {0}")]
    ResyncRequired(String),
    #[error("version conflict: {message}")]
    VersionConflict {
        message: String,
        current_version: Option<u64>,
    },
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("the hub answered {code:?}: {message}")]
    Rpc { code: Code, message: String },
    #[error("JSON: {0}")]
    Json(String),
}

impl ClientError {
    /// Whether retrying the same call later may succeed (the hub or the link was down).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect { .. } => true,
            ClientError::Rpc { code, .. } => matches!(
                code,
                Code::Unavailable
                    | Code::Unknown
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Internal
                    | Code::Cancelled
            ),
            _ => false,
        }
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        let message = status.message().to_string();
        match status.code() {
            Code::Unauthenticated => ClientError::Unauthenticated(message),
            Code::PermissionDenied => ClientError::PermissionDenied(message),
            Code::NotFound => ClientError::NotFound(message),
            Code::InvalidArgument => ClientError::InvalidArgument {
                violations: status
                    .get_details_bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .into_iter()
                            .map(|v| FieldViolation {
                                field: v.field,
                                description: v.description,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                message,
            },
            Code::Aborted => ClientError::VersionConflict {
                current_version: status
                    .get_details_error_info()
                    .and_then(|info| info.metadata.get("current_version").cloned())
                    .and_then(|version| version.parse().ok()),
                message,
            },
            Code::FailedPrecondition
                if status
                    .get_details_error_info()
                    .is_some_and(|info| info.reason == "RESYNC_REQUIRED") =>
            {
                ClientError::ResyncRequired(message)
            }
            Code::FailedPrecondition => ClientError::FailedPrecondition(message),
            code => ClientError::Rpc { code, message },
        }
    }
}
