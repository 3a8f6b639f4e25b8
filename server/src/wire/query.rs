//! Query filters: ListIncidents' and the sync feed's.

use slt_proto::v1 as pb;

use super::{WireEnum, date_from_proto, required_enum};
use crate::domain::{IncidentFilter, Violations, validate};

/// Decodes a ListIncidents filter.
pub fn filter_from_proto(
    violations: &mut Violations,
    filter: &pb::IncidentFilter,
) -> IncidentFilter {
    let mut countries = Vec::new();
    for (index, code) in filter.countries.iter().enumerate() {
        if let Some(code) =
            validate::country(violations, &format!("filter.countries[{index}]"), code)
        {
            countries.push(code);
        }
    }
    for (field, values) in [
        ("admin1", &filter.admin1),
        ("origin_orgs", &filter.origin_orgs),
    ] {
        for (index, value) in values.iter().enumerate() {
            violations.check_no_nul(format!("filter.{field}[{index}]"), value);
        }
    }
    IncidentFilter {
        countries,
        admin1: filter
            .admin1
            .iter()
            .map(|name| name.trim().to_lowercase())
            .collect(),
        occurred_from: filter
            .occurred_from
            .as_ref()
            .and_then(|date| date_from_proto(violations, "filter.occurred_from", date)),
        occurred_to: filter
            .occurred_to
            .as_ref()
            .and_then(|date| date_from_proto(violations, "filter.occurred_to", date)),
        incident_types: enums(violations, "incident_types", &filter.incident_types),
        threat_categories: enums(violations, "threat_categories", &filter.threat_categories),
        verifications: enums(violations, "verifications", &filter.verifications),
        origin_orgs: filter
            .origin_orgs
            .iter()
            .map(|org| org.trim().to_string())
            .collect(),
    }
}

/// Decodes a SyncService filter.
pub fn sync_filter_from_proto(
    violations: &mut Violations,
    filter: &pb::SyncFilter,
) -> crate::feed::FeedFilter {
    let mut countries = Vec::new();
    for (index, code) in filter.countries.iter().enumerate() {
        if let Some(code) =
            validate::country(violations, &format!("filter.countries[{index}]"), code)
        {
            countries.push(code);
        }
    }
    crate::feed::FeedFilter {
        countries,
        incident_types: enums(violations, "incident_types", &filter.incident_types),
    }
}

fn enums<E: WireEnum>(violations: &mut Violations, field: &str, values: &[i32]) -> Vec<E> {
    values
        .iter()
        .enumerate()
        .filter_map(|(index, value)| {
            required_enum(violations, format!("filter.{field}[{index}]"), *value)
        })
        .collect()
}
