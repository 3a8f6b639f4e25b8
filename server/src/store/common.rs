//! Backend-independent pieces both store backends share: column encodings and SQL text that
//! is the same on SQLite and PostgreSQL.

use uuid::Uuid;

use super::StoreError;
use crate::domain::{IncidentContent, PictureQuery, VictimDetail};

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

pub(super) fn parse_uuid(text: String) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&text).map_err(|_| StoreError::Corrupt("incident id is not a UUID".into()))
}

/// The joins of the victims query: the victims rows, and (where the viewer gets the small-cell
/// rule) `sm`, the (incident, outcome) pairs with a staff category of 1 to `small_cell - 1`.
pub(super) fn victim_joins(query: &PictureQuery<'_>) -> String {
    let mut joins = " JOIN incident_victims v ON v.incident_row = i.row_id".to_string();
    let small_cell = [query.own_victims, query.others_victims]
        .into_iter()
        .find_map(|detail| match detail {
            VictimDetail::MergeSmall(small_cell) => Some(small_cell),
            _ => None,
        });
    if let Some(small_cell) = small_cell {
        joins.push_str(&format!(
            " LEFT JOIN (SELECT w.incident_row AS incident_row, w.outcome AS outcome \
             FROM (SELECT incident_row, outcome, staff, sum(count) AS staff_victims \
             FROM incident_victims GROUP BY incident_row, outcome, staff) w \
             WHERE w.staff_victims > 0 AND w.staff_victims < {small_cell} \
             GROUP BY w.incident_row, w.outcome) sm \
             ON sm.incident_row = i.row_id AND sm.outcome = v.outcome"
        ));
    }
    joins
}
