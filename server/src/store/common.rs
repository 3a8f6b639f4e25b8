//! Column encodings both backends share: how ids, timestamps, versions, counts, enums and JSON
//! are stored and read back.

use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreError;
use crate::domain::IncidentContent;

/// The normalised admin1 name the picture groups by.
pub(super) fn admin1_key(content: &IncidentContent) -> Option<String> {
    content
        .admin1
        .as_ref()
        .map(|area| area.name.trim().to_lowercase())
}

pub(super) fn encode_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Reads back a JSON column; `what` names it in the error.
pub(super) fn decode_json<T: serde::de::DeserializeOwned>(
    json: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|error| StoreError::Corrupt(format!("{what}: {error}")))
}

pub(super) fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt("incident id is not a UUID".into()))
}

/// Reads back an enum stored by its name; `what` names the column in the error.
pub(super) fn parse_enum<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Option<T>,
    what: &str,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("{what} '{text}'")))
}

/// RFC 3339 text for a timestamp (storage form).
pub(super) fn timestamp_text(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(|error| StoreError::Corrupt(format!("timestamp: {error}")))
}

pub(super) fn parse_timestamp(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|error| StoreError::Corrupt(format!("timestamp: {error}")))
}

/// Now, in storage form.
pub(super) fn now_text() -> Result<String, StoreError> {
    timestamp_text(OffsetDateTime::now_utc())
}

/// Versions and counts are u64 on the wire and i64 in SQL; they never come near the limit.
pub(super) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
