//! proto <-> domain, one file per entity. Decoding from proto names every bad field (path and
//! reason) and never stops at the first; encoding to proto accepts only policy-redacted values
//! (`RedactedIncident`, `RedactedAdvisory`, a computed `Picture`), so nothing can be sent that
//! has not passed the policy engine.
//!
//! Its own layer, below both `api` (the gRPC services) and `federation` (the pull worker
//! decodes what peer hubs send with the same checks), so that neither imports the other.

pub mod advisory;
pub mod federation;
pub mod forecast;
pub mod incident;
pub mod origin_seal;
pub mod picture;
pub mod query;

use prost_types::Timestamp;
use slt_proto::google::r#type::Date as ProtoDate;
use slt_proto::v1 as pb;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{self, Tier, Violations, validate};

pub use advisory::{MAX_SUMMARY_CHARS, advisory_from_proto, advisory_to_proto};
pub use federation::{ForeignRefusal, foreign_from_proto};
pub use incident::{draft_from_proto, incident_to_proto, scrub_counts, submit_result};
pub use query::{filter_from_proto, sync_filter_from_proto};

/// A domain enum that has a proto twin named `<PREFIX><NAME>`.
pub trait WireEnum: Sized + Copy {
    /// `None` for UNSPECIFIED and for numbers the proto does not define.
    fn from_wire(value: i32) -> Option<Self>;
    fn to_wire(self) -> i32;
}

macro_rules! wire_enum {
    ($domain:ty, $proto:ty, $prefix:literal) => {
        impl WireEnum for $domain {
            fn from_wire(value: i32) -> Option<Self> {
                let proto = <$proto>::try_from(value).ok()?;
                <$domain>::parse(proto.as_str_name().strip_prefix($prefix)?)
            }

            fn to_wire(self) -> i32 {
                <$proto>::from_str_name(&format!("{}{}", $prefix, self.as_str()))
                    .map_or(0, |proto| proto as i32)
            }
        }
    };
}

wire_enum!(domain::DatePrecision, pb::DatePrecision, "DATE_PRECISION_");
wire_enum!(domain::GeoPrecision, pb::GeoPrecision, "GEO_PRECISION_");
wire_enum!(
    domain::ThreatCategory,
    pb::ThreatCategory,
    "THREAT_CATEGORY_"
);
wire_enum!(domain::IncidentType, pb::IncidentType, "INCIDENT_TYPE_");
wire_enum!(domain::MeansOfAttack, pb::MeansOfAttack, "MEANS_OF_ATTACK_");
wire_enum!(domain::AttackContext, pb::AttackContext, "ATTACK_CONTEXT_");
wire_enum!(domain::LocationType, pb::LocationType, "LOCATION_TYPE_");
wire_enum!(domain::Motive, pb::Motive, "MOTIVE_");
wire_enum!(
    domain::PerpetratorType,
    pb::PerpetratorType,
    "PERPETRATOR_TYPE_"
);
wire_enum!(domain::OrgType, pb::OrgType, "ORG_TYPE_");
wire_enum!(domain::VictimOutcome, pb::VictimOutcome, "VICTIM_OUTCOME_");
wire_enum!(domain::StaffCategory, pb::StaffCategory, "STAFF_CATEGORY_");
wire_enum!(domain::Sex, pb::Sex, "SEX_");
wire_enum!(domain::OpsImpact, pb::OpsImpact, "OPS_IMPACT_");
wire_enum!(domain::SourceType, pb::SourceType, "SOURCE_TYPE_");
wire_enum!(domain::Verification, pb::Verification, "VERIFICATION_");
wire_enum!(domain::Distribution, pb::Distribution, "DISTRIBUTION_");
wire_enum!(domain::Tlp, pb::Tlp, "TLP_");
wire_enum!(domain::SecurityLevel, pb::SecurityLevel, "SECURITY_LEVEL_");

/// Decodes an optional enum: UNSPECIFIED is `None`, an undefined number a violation.
fn optional_enum<E: WireEnum>(violations: &mut Violations, field: String, value: i32) -> Option<E> {
    if value == 0 {
        return None;
    }
    let decoded = E::from_wire(value);
    if decoded.is_none() {
        violations.add(field, format!("{value} is not a defined value"));
    }
    decoded
}

/// Decodes a required enum: UNSPECIFIED and undefined numbers are violations.
fn required_enum<E: WireEnum>(violations: &mut Violations, field: String, value: i32) -> Option<E> {
    if value == 0 {
        violations.add(field, "required");
        return None;
    }
    optional_enum(violations, field, value)
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Parses an incident id (a UUID).
pub fn incident_id(violations: &mut Violations, field: &str, text: &str) -> Option<Uuid> {
    if text.trim().is_empty() {
        violations.add(field, "required: a UUID chosen by the submitting client");
        return None;
    }
    match Uuid::parse_str(text.trim()) {
        Ok(id) if !id.is_nil() => Some(id),
        _ => {
            violations.add(field, "not a UUID");
            None
        }
    }
}

pub(crate) fn date_from_proto(
    violations: &mut Violations,
    field: &str,
    date: &ProtoDate,
) -> Option<Date> {
    validate::calendar_date(violations, field, date.year, date.month, date.day)
}

fn date_to_proto(date: Date) -> ProtoDate {
    ProtoDate {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

fn timestamp_to_proto(at: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: at.unix_timestamp(),
        nanos: i32::try_from(at.nanosecond()).unwrap_or(0),
    }
}

/// A proto date as `YYYY-MM-DD` text (for request summaries in the access log).
pub fn date_text(date: &Option<ProtoDate>) -> Option<String> {
    date.as_ref()
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
}

/// The proto form of a tier.
pub fn tier_to_proto(tier: Tier) -> i32 {
    let tier = match tier {
        Tier::T0 => pb::AccessTier::T0,
        Tier::T1 => pb::AccessTier::T1,
        Tier::T2 => pb::AccessTier::T2,
        Tier::T3 => pb::AccessTier::T3,
    };
    tier as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<E: WireEnum + PartialEq + std::fmt::Debug>(all: &[E]) {
        for value in all {
            let wire = value.to_wire();
            assert_ne!(wire, 0, "{value:?} has no proto twin");
            assert_eq!(E::from_wire(wire), Some(*value));
        }
        assert_eq!(E::from_wire(0), None);
        assert_eq!(E::from_wire(9_999), None);
    }

    #[test]
    fn every_domain_enum_value_has_a_proto_twin() {
        round_trips(domain::DatePrecision::ALL);
        round_trips(domain::GeoPrecision::ALL);
        round_trips(domain::ThreatCategory::ALL);
        round_trips(domain::IncidentType::ALL);
        round_trips(domain::MeansOfAttack::ALL);
        round_trips(domain::AttackContext::ALL);
        round_trips(domain::LocationType::ALL);
        round_trips(domain::Motive::ALL);
        round_trips(domain::PerpetratorType::ALL);
        round_trips(domain::OrgType::ALL);
        round_trips(domain::VictimOutcome::ALL);
        round_trips(domain::StaffCategory::ALL);
        round_trips(domain::Sex::ALL);
        round_trips(domain::OpsImpact::ALL);
        round_trips(domain::SourceType::ALL);
        round_trips(domain::Verification::ALL);
        round_trips(domain::Distribution::ALL);
        round_trips(domain::Tlp::ALL);
        round_trips(domain::SecurityLevel::ALL);
    }
}
