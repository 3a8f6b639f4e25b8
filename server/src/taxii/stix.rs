//! STIX 2.1 for one incident as one viewer may see it: an `incident` (with this hub's
//! property extension, schema in `docs/stix/`), a `location` (ISO alpha-2 country; coordinates
//! only as the viewer receives them) and one `identity` per affected organisation type (a class
//! of organisation, never a person). Built from the incident exactly as the gRPC API encodes it
//! for this viewer (`wire::incident_to_proto` of a `policy` redaction), so TAXII shows nothing
//! gRPC would not. The private annex never appears, whatever the viewer's tier.
//!
//! Ids are UUIDv5 of the hub's incident id, so every version of an incident has the same STIX
//! id and versions line up by `modified`.

use serde_json::{Map, Value, json};
use slt_proto::v1 as pb;
use time::OffsetDateTime;
use uuid::Uuid;

/// This hub's property extension on `incident` (docs/stix/slt-incident-extension.json).
pub const EXTENSION_ID: &str = "extension-definition--c0f5e3a2-6b1d-4e8f-9a27-5d4b3c2e1f60";

/// The TLP 2.0 marking definitions (FIRST TLP 2.0 in STIX 2.1, as OASIS publishes them).
pub const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
pub const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
pub const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
pub const TLP_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
pub const TLP_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// One STIX object, with what TAXII filters and lists it by.
#[derive(Debug, Clone)]
pub struct StixObject {
    pub id: String,
    pub kind: &'static str,
    /// The version (`modified`).
    pub modified: String,
    /// The hub's incident it renders (for the access log).
    pub incident_id: String,
    pub json: Value,
}

/// The namespace of this hub's STIX ids (UUIDv5 of a fixed URN).
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:slt-hub:stix:2.1")
}

fn stix_id(kind: &str, incident_id: &str, part: &str) -> String {
    let name = format!("{kind}/{incident_id}/{part}");
    format!("{kind}--{}", Uuid::new_v5(&namespace(), name.as_bytes()))
}

/// A STIX timestamp (UTC, millisecond precision).
pub fn stix_time(time: OffsetDateTime) -> String {
    let time = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.millisecond()
    )
}

/// Unix seconds as a STIX timestamp.
pub fn unix_time(seconds: i64) -> String {
    stix_time(OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

fn from_timestamp(timestamp: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(timestamp.seconds) * 1_000_000_000 + i128::from(timestamp.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

fn from_date(date: &slt_proto::google::r#type::Date) -> Option<OffsetDateTime> {
    let month = time::Month::try_from(u8::try_from(date.month).ok()?).ok()?;
    let day =
        time::Date::from_calendar_date(date.year, month, u8::try_from(date.day).ok()?).ok()?;
    Some(day.midnight().assume_utc())
}

/// An enum value's name without its type prefix, lower case; `None` for the unspecified 0.
fn named(full: &str, prefix: &str) -> Option<String> {
    if full.ends_with("_UNSPECIFIED") || full.is_empty() {
        return None;
    }
    Some(
        full.strip_prefix(prefix)
            .unwrap_or(full)
            .to_ascii_lowercase(),
    )
}

macro_rules! enum_name {
    ($ty:ty, $value:expr, $prefix:expr) => {
        <$ty>::try_from($value)
            .ok()
            .and_then(|value| named(value.as_str_name(), $prefix))
    };
}

fn tlp_marking(tlp: i32) -> &'static str {
    match pb::Tlp::try_from(tlp) {
        Ok(pb::Tlp::Clear) => TLP_CLEAR,
        Ok(pb::Tlp::Green) => TLP_GREEN,
        Ok(pb::Tlp::Amber) => TLP_AMBER,
        Ok(pb::Tlp::AmberStrict) => TLP_AMBER_STRICT,
        // RED, and anything unknown, is marked at the most restrictive level.
        _ => TLP_RED,
    }
}

/// The ISO 3166-1 alpha-2 code of an alpha-3 code; none for "unknown" (XXX) or anything else.
fn alpha2(alpha3: &str) -> Option<&'static str> {
    slt_proto::countries::COUNTRIES
        .binary_search_by(|(code, _)| (*code).cmp(alpha3))
        .ok()
        .and_then(|index| slt_proto::countries::COUNTRIES.get(index))
        .map(|(_, alpha2)| *alpha2)
        .filter(|code| *code != "XX")
}

/// The affected organisation types with a count, as (name, count).
fn org_types(types: &pb::AffectedOrgTypes) -> Vec<(&'static str, u32)> {
    [
        ("un", types.un),
        ("ingo", types.ingo),
        ("nngo", types.nngo),
        ("icrc", types.icrc),
        ("ifrc_nrcs", types.ifrc_nrcs),
        ("other", types.other),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .collect()
}

fn org_type_label(name: &str) -> &'static str {
    match name {
        "un" => "United Nations agency",
        "ingo" => "International NGO",
        "nngo" => "National NGO",
        "icrc" => "ICRC",
        "ifrc_nrcs" => "IFRC or National Red Cross / Red Crescent Society",
        _ => "Other organisation",
    }
}

/// The STIX objects of one incident as its viewer receives it; `date_added` (unix seconds)
/// stands in for the timestamps the viewer may not see.
pub fn incident_objects(incident: &pb::Incident, date_added: i64) -> Vec<StixObject> {
    let incident_id = incident.id.clone();
    let added =
        OffsetDateTime::from_unix_timestamp(date_added).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Created: the report time when the viewer may see it, else the occurrence date as shown.
    let created = incident
        .reported_at
        .as_ref()
        .and_then(from_timestamp)
        .or_else(|| incident.occurred_on.as_ref().and_then(from_date))
        .unwrap_or(added);
    // Modified: the last change when the viewer may see it, else the batch it was released in.
    let modified = incident
        .updated_at
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(added)
        .max(created);
    let (created, modified) = (stix_time(created), stix_time(modified));
    let marking = tlp_marking(incident.tlp);
    let revoked = incident.verification == pb::Verification::Retracted as i32;
    let common = |kind: &'static str, id: String| {
        let mut object = Map::new();
        object.insert("type".into(), json!(kind));
        object.insert("spec_version".into(), json!("2.1"));
        object.insert("id".into(), json!(id));
        object.insert("created".into(), json!(created));
        object.insert("modified".into(), json!(modified));
        object.insert("object_marking_refs".into(), json!([marking]));
        if revoked {
            object.insert("revoked".into(), json!(true));
        }
        object
    };
    let mut objects = Vec::new();

    let location_id = alpha2(&incident.country).map(|country| {
        let id = stix_id("location", &incident_id, "place");
        let mut location = common("location", id.clone());
        location.insert("country".into(), json!(country));
        if let Some(admin1) = incident.admin1.as_ref().filter(|a| !a.name.is_empty()) {
            location.insert("administrative_area".into(), json!(admin1.name));
        }
        if let Some(point) = &incident.location {
            // Already at the viewer's precision (rounded or withheld by the policy).
            location.insert("latitude".into(), json!(point.latitude));
            location.insert("longitude".into(), json!(point.longitude));
        }
        objects.push(StixObject {
            id: id.clone(),
            kind: "location",
            modified: modified.clone(),
            incident_id: incident_id.clone(),
            json: Value::Object(location),
        });
        id
    });

    let mut identity_ids = Vec::new();
    let mut org_counts = Map::new();
    if let Some(types) = &incident.affected_org_types {
        for (name, count) in org_types(types) {
            let id = stix_id("identity", &incident_id, name);
            let mut identity = common("identity", id.clone());
            identity.insert("name".into(), json!(org_type_label(name)));
            identity.insert("identity_class".into(), json!("class"));
            identity.insert(
                "description".into(),
                json!("A class of affected organisation, never a named one."),
            );
            objects.push(StixObject {
                id: id.clone(),
                kind: "identity",
                modified: modified.clone(),
                incident_id: incident_id.clone(),
                json: Value::Object(identity),
            });
            org_counts.insert(name.into(), json!(count));
            identity_ids.push(id);
        }
    }

    let id = stix_id("incident", &incident_id, "incident");
    let mut stix = common("incident", id.clone());
    let types: Vec<String> = incident
        .incident_types
        .iter()
        .filter_map(|kind| enum_name!(pb::IncidentType, *kind, "INCIDENT_TYPE_"))
        .collect();
    let category = enum_name!(
        pb::ThreatCategory,
        incident.threat_category,
        "THREAT_CATEGORY_"
    );
    stix.insert(
        "name".into(),
        json!(format!(
            "Aid-worker security incident: {}{}",
            if types.is_empty() {
                "unspecified".to_string()
            } else {
                types.join(", ").replace('_', " ")
            },
            alpha2(&incident.country)
                .map(|country| format!(" ({country})"))
                .unwrap_or_default()
        )),
    );
    if !incident.narrative.is_empty() {
        stix.insert("description".into(), json!(incident.narrative));
    }
    stix.insert(
        "extensions".into(),
        json!({ EXTENSION_ID: extension(incident, types, category, location_id, identity_ids, org_counts) }),
    );
    objects.push(StixObject {
        id,
        kind: "incident",
        modified,
        incident_id,
        json: Value::Object(stix),
    });
    objects
}

/// This hub's extension: what the incident says that core STIX has no property for, as the
/// viewer may see it (absent values were withheld from it).
fn extension(
    incident: &pb::Incident,
    types: Vec<String>,
    category: Option<String>,
    location_ref: Option<String>,
    identity_refs: Vec<String>,
    org_counts: Map<String, Value>,
) -> Value {
    let mut ext = Map::new();
    ext.insert("extension_type".into(), json!("property-extension"));
    ext.insert("hub_incident_id".into(), json!(incident.id));
    ext.insert("hub_version".into(), json!(incident.version));
    if let Some(tier) = enum_name!(pb::AccessTier, incident.viewer_tier, "ACCESS_TIER_") {
        ext.insert("viewer_tier".into(), json!(tier.to_ascii_uppercase()));
    }
    if let Some(date) = &incident.occurred_on {
        ext.insert(
            "occurred_on".into(),
            json!(format!(
                "{:04}-{:02}-{:02}",
                date.year, date.month, date.day
            )),
        );
    }
    if let Some(precision) = enum_name!(
        pb::DatePrecision,
        incident.date_precision,
        "DATE_PRECISION_"
    ) {
        ext.insert("date_precision".into(), json!(precision));
    }
    if !incident.country.is_empty() {
        ext.insert("country_alpha3".into(), json!(incident.country));
    }
    if let Some(category) = category {
        ext.insert("threat_category".into(), json!(category));
    }
    if !types.is_empty() {
        ext.insert("incident_types".into(), json!(types));
    }
    let optional = [
        (
            "means_of_attack",
            enum_name!(
                pb::MeansOfAttack,
                incident.means_of_attack,
                "MEANS_OF_ATTACK_"
            ),
        ),
        (
            "attack_context",
            enum_name!(
                pb::AttackContext,
                incident.attack_context,
                "ATTACK_CONTEXT_"
            ),
        ),
        (
            "location_type",
            enum_name!(pb::LocationType, incident.location_type, "LOCATION_TYPE_"),
        ),
        ("motive", enum_name!(pb::Motive, incident.motive, "MOTIVE_")),
        (
            "perpetrator_type",
            enum_name!(
                pb::PerpetratorType,
                incident.perpetrator_type,
                "PERPETRATOR_TYPE_"
            ),
        ),
        (
            "ops_impact",
            enum_name!(pb::OpsImpact, incident.ops_impact, "OPS_IMPACT_"),
        ),
        (
            "source_type",
            enum_name!(pb::SourceType, incident.source_type, "SOURCE_TYPE_"),
        ),
        (
            "verification",
            enum_name!(pb::Verification, incident.verification, "VERIFICATION_"),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            ext.insert(name.into(), json!(value));
        }
    }
    if !incident.victims.is_empty() {
        let victims: Vec<Value> = incident
            .victims
            .iter()
            .map(|victim| {
                let mut entry = Map::new();
                let fields = [
                    (
                        "outcome",
                        enum_name!(pb::VictimOutcome, victim.outcome, "VICTIM_OUTCOME_"),
                    ),
                    (
                        "staff_category",
                        enum_name!(pb::StaffCategory, victim.staff, "STAFF_CATEGORY_"),
                    ),
                    ("sex", enum_name!(pb::Sex, victim.sex, "SEX_")),
                ];
                for (name, value) in fields {
                    if let Some(value) = value {
                        entry.insert(name.into(), json!(value));
                    }
                }
                entry.insert("count".into(), json!(victim.count));
                if victim.estimated {
                    entry.insert("estimated".into(), json!(true));
                }
                Value::Object(entry)
            })
            .collect();
        ext.insert("victims".into(), json!(victims));
    }
    if !org_counts.is_empty() {
        ext.insert("affected_org_types".into(), Value::Object(org_counts));
    }
    if let Some(location_ref) = location_ref {
        ext.insert("location_ref".into(), json!(location_ref));
    }
    if !identity_refs.is_empty() {
        ext.insert("affected_org_type_refs".into(), json!(identity_refs));
    }
    if !incident.retraction_reason.is_empty() {
        ext.insert(
            "retraction_reason".into(),
            json!(incident.retraction_reason),
        );
    }
    if !incident.redacted_fields.is_empty() {
        ext.insert("redacted_fields".into(), json!(incident.redacted_fields));
    }
    Value::Object(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = stix_id("incident", "0000-a", "incident");
        assert_eq!(a, stix_id("incident", "0000-a", "incident"));
        assert_ne!(a, stix_id("incident", "0000-b", "incident"));
        assert!(a.starts_with("incident--"));
    }

    #[test]
    fn countries_map_to_alpha2() {
        assert_eq!(alpha2("AFG"), Some("AF"));
        assert_eq!(alpha2("XXX"), None);
        assert_eq!(alpha2("nope"), None);
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(unix_time(0), "1970-01-01T00:00:00.000Z");
    }
}
