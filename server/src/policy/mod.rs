//! Who may see what. This module decides; it never touches SQL or gRPC.
//!
//! - [`visibility_scope`] turns a principal into data (`VisibilityScope`) that the store turns
//!   into a SQL condition, so list queries never load invisible rows;
//! - [`redact`] is the one function through which an incident leaves the hub: it returns `None`
//!   for an incident the principal may not see, and otherwise a copy stripped to the principal's
//!   tier, with every removed or generalised field path listed;
//! - [`may_modify`] says whether a principal may amend or retract an incident.
//!
//! Walking-skeleton scope (the redaction issue completes it with a versioned policy file):
//! distribution ORG_ONLY / COMMUNITY / FEDERATION; SHARING_GROUP incidents stay with their origin
//! org until sharing groups exist (fail closed); the T3 annex reaches the origin org only; below
//! T2 the T2 fields are removed and date and location generalised.

pub mod aggregate;

use time::{Date, Duration};

use crate::domain::{
    DatePrecision, Distribution, Location, LocationType, PerpetratorType, Sex, StoredIncident,
    VictimCount, VisibilityScope,
};
use crate::identity::{Principal, Role};

/// The running policy's version, reported in responses (and, later, audit records).
pub const POLICY_VERSION: &str = "builtin-skeleton-1";

/// Sensitivity tiers, lowest first (data-model.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    T0,
    T1,
    T2,
    T3,
}

/// The roles that read incident content at all. Auditors, admins and peer hubs (until
/// federation lands) get none.
const READER_ROLES: [Role; 3] = [Role::Reporter, Role::Analyst, Role::FocalPoint];

fn is_reader(principal: &Principal) -> bool {
    READER_ROLES.iter().any(|role| principal.has_role(*role))
}

/// The incidents `principal` may see, or `None` when it may see none at all.
pub fn visibility_scope(principal: &Principal) -> Option<VisibilityScope> {
    is_reader(principal).then(|| VisibilityScope {
        own_org: principal.org.clone(),
        shared_distributions: vec![Distribution::Community, Distribution::Federation],
    })
}

/// The tier `principal` gets for `incident`, or `None` when it may not see it.
pub fn tier_for(principal: &Principal, incident: &StoredIncident) -> Option<Tier> {
    let scope = visibility_scope(principal)?;
    let own = incident.origin_org == scope.own_org;
    if !own
        && !scope
            .shared_distributions
            .contains(&incident.content.distribution)
    {
        return None;
    }
    let tier_of_role = |role: &Role| match (role, own) {
        (Role::Reporter | Role::FocalPoint, true) => Some(Tier::T3),
        (Role::Analyst, true) | (Role::FocalPoint, false) => Some(Tier::T2),
        (Role::Analyst | Role::Reporter, false) => Some(Tier::T1),
        _ => None,
    };
    principal.roles.iter().filter_map(tier_of_role).max()
}

/// An incident as one principal may receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactedIncident {
    pub incident: StoredIncident,
    pub tier: Tier,
    /// Paths of the fields removed or generalised for this principal.
    pub redacted_fields: Vec<String>,
}

/// The egress chokepoint: `None` when `principal` may not see `incident`, otherwise the
/// incident reduced to the principal's tier.
pub fn redact(incident: StoredIncident, principal: &Principal) -> Option<RedactedIncident> {
    let tier = tier_for(principal, &incident)?;
    let mut incident = incident;
    let mut redacted = Vec::new();
    let mut note = |field: &str| redacted.push(field.to_string());

    if tier < Tier::T3 && incident.private.take().is_some() {
        note("private");
    }
    if tier < Tier::T2 {
        let content = &mut incident.content;
        if !incident.origin_org.is_empty() {
            incident.origin_org.clear();
            note("origin_org");
        }
        if !incident.origin_hub.is_empty() {
            incident.origin_hub.clear();
            note("origin_hub");
        }
        if content.admin2.take().is_some() {
            note("admin2");
        }
        if content.locality.take().is_some() {
            note("locality");
        }
        if content.narrative.take().is_some() {
            note("narrative");
        }
        if content.perpetrator_name.take().is_some() {
            note("perpetrator_name");
        }
        if matches!(
            content.perpetrator_type,
            Some(PerpetratorType::AidRecipient | PerpetratorType::StaffMember)
        ) {
            content.perpetrator_type = Some(PerpetratorType::Unknown);
            note("perpetrator_type");
        }
        let week_start = monday_of(content.occurred_on);
        if week_start != content.occurred_on {
            content.occurred_on = week_start;
            note("occurred_on");
        }
        if content.date_precision == DatePrecision::Day {
            content.date_precision = DatePrecision::Week;
        }
        if let Some(location) = content.location {
            let sensitive = matches!(
                content.location_type,
                Some(
                    LocationType::Home
                        | LocationType::OfficeCompound
                        | LocationType::Custody
                        | LocationType::HealthFacility
                )
            );
            content.location = if sensitive {
                None
            } else {
                Some(round_location(location, 0.1))
            };
            if content.location != Some(location) {
                note("location");
            }
        }
        let merged = merge_sex(&content.victims);
        if merged != content.victims {
            content.victims = merged;
            note("victims");
        }
    }
    Some(RedactedIncident {
        incident,
        tier,
        redacted_fields: redacted,
    })
}

/// Whether `principal` may amend or retract `incident`: its own org's incidents, as a reporter
/// or focal point. The capability table has already checked the role in general.
pub fn may_modify(principal: &Principal, incident: &StoredIncident) -> bool {
    incident.origin_org == principal.org
        && (principal.has_role(Role::Reporter) || principal.has_role(Role::FocalPoint))
}

fn monday_of(date: Date) -> Date {
    date - Duration::days(i64::from(date.weekday().number_days_from_monday()))
}

fn round_location(location: Location, step: f64) -> Location {
    let round = |value: f64| (value / step).round() * step;
    Location {
        latitude: round(location.latitude),
        longitude: round(location.longitude),
        precision: location.precision,
    }
}

/// Folds the sex dimension away: one cell per (outcome, staff) with sex UNKNOWN.
fn merge_sex(victims: &[VictimCount]) -> Vec<VictimCount> {
    let mut merged: Vec<VictimCount> = Vec::new();
    for cell in victims {
        match merged
            .iter_mut()
            .find(|m| m.outcome == cell.outcome && m.staff == cell.staff)
        {
            Some(existing) => {
                existing.count = existing.count.saturating_add(cell.count);
                existing.estimated |= cell.estimated;
            }
            None => merged.push(VictimCount {
                sex: Sex::Unknown,
                ..*cell
            }),
        }
    }
    merged
}
