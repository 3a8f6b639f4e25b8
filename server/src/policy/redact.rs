//! Reduction of one incident to a tier, driven entirely by the policy rules.
//!
//! Every field above the viewer's tier is listed whether or not it holds a value, so that the
//! list itself does not reveal which fields an incident has (a private annex, a narrative).

use super::rules::{INCIDENT_FIELDS, PolicyRules};
use super::{RedactedIncident, Redaction, RedactionAction, Tier};
use crate::domain::{
    DatePrecision, ExternalRefs, GeoPrecision, Location, Sex, StaffCategory, StoredIncident,
    VictimCount,
};

/// Fields with a generalisation rule; every other field is kept or removed whole.
const GENERALISED_FIELDS: [&str; 4] = ["occurred_on", "location", "victims", "perpetrator_type"];

pub(super) fn to_tier(
    rules: &PolicyRules,
    incident: StoredIncident,
    tier: Tier,
) -> RedactedIncident {
    let mut incident = incident;
    let mut redactions = Vec::new();

    for field in INCIDENT_FIELDS {
        if GENERALISED_FIELDS.contains(field) {
            continue;
        }
        let needed = rules.field_tier(field);
        if tier < needed {
            clear(&mut incident, field);
            redactions.push(Redaction {
                field,
                action: RedactionAction::Removed,
                detail: format!("withheld: needs access tier {needed:?}, yours is {tier:?}"),
            });
        }
    }
    if let Some(redaction) = generalise_date(rules, &mut incident, tier) {
        redactions.push(redaction);
    }
    if let Some(redaction) = generalise_location(rules, &mut incident, tier) {
        redactions.push(redaction);
    }
    if let Some(redaction) = generalise_victims(rules, &mut incident, tier) {
        redactions.push(redaction);
    }
    if let Some(redaction) = restrict_perpetrator_type(rules, &mut incident, tier) {
        redactions.push(redaction);
    }
    RedactedIncident {
        incident,
        tier,
        redactions,
        record_level: 0,
        made_by_policy: super::MadeByPolicy,
    }
}

/// Clears what the domain type can hold as absent. Fields it cannot (id, timestamps, enums that
/// are always set) are dropped by the encoder, which never encodes a field marked `Removed`.
fn clear(incident: &mut StoredIncident, field: &str) {
    let content = &mut incident.content;
    match field {
        "origin_org" => incident.origin_org.clear(),
        "origin_hub" => incident.origin_hub.clear(),
        "retraction_reason" => incident.retraction_reason = None,
        "private" => incident.private = None,
        "admin1" => content.admin1 = None,
        "admin2" => content.admin2 = None,
        "locality" => content.locality = None,
        "means_of_attack" => content.means_of_attack = None,
        "attack_context" => content.attack_context = None,
        "location_type" => content.location_type = None,
        "motive" => content.motive = None,
        "perpetrator_name" => content.perpetrator_name = None,
        "affected_org_types" => content.affected_org_types = Default::default(),
        "ops_impact" => content.ops_impact = None,
        "source_type" => content.source_type = None,
        "narrative" => content.narrative = None,
        "external_refs" => content.external_refs = ExternalRefs::default(),
        "sharing_group" => content.sharing_group = None,
        _ => {}
    }
}

fn generalise_date(
    rules: &PolicyRules,
    incident: &mut StoredIncident,
    tier: Tier,
) -> Option<Redaction> {
    let needed = rules.field_tier("occurred_on");
    if tier >= needed {
        return None;
    }
    let content = &mut incident.content;
    let Some(target) = rules.date_generalisation.get(&tier).copied() else {
        // No rule for this tier: the date is withheld (the encoder drops it).
        return Some(Redaction {
            field: "occurred_on",
            action: RedactionAction::Removed,
            detail: format!("withheld: needs access tier {needed:?}, yours is {tier:?}"),
        });
    };
    if target > content.date_precision {
        content.occurred_on = content.date_at(target);
        content.date_precision = target;
    }
    let unit = match target {
        DatePrecision::Day => "day",
        DatePrecision::Week => "ISO week",
        DatePrecision::Month => "month",
        DatePrecision::Year => "year",
    };
    Some(Redaction {
        field: "occurred_on",
        action: RedactionAction::Generalised,
        detail: format!("generalised to the start of its {unit} for your access tier ({tier:?})"),
    })
}

fn generalise_location(
    rules: &PolicyRules,
    incident: &mut StoredIncident,
    tier: Tier,
) -> Option<Redaction> {
    if tier == Tier::T3 {
        return None;
    }
    let content = &mut incident.content;
    let needed = rules.field_tier("location");
    let sensitive = content
        .location_type
        .is_some_and(|kind| rules.sensitive_location_types.contains(&kind));
    // Say why only to a viewer who is shown the location type anyway.
    let may_explain = tier >= rules.field_tier("location_type");
    let rounding = rules.round_degrees.get(&tier).copied();
    match rounding {
        Some(degrees) if !(sensitive && tier < needed) => {
            content.location = content.location.map(|location| round(location, degrees));
            Some(Redaction {
                field: "location",
                action: RedactionAction::Generalised,
                detail: format!("rounded to {degrees} degree for your access tier ({tier:?})"),
            })
        }
        _ => {
            content.location = None;
            let detail = if sensitive && tier < needed && may_explain {
                format!(
                    "withheld for this location type below access tier {needed:?}; only the \
                     administrative area is given"
                )
            } else {
                format!("withheld: needs access tier {needed:?}, yours is {tier:?}")
            };
            Some(Redaction {
                field: "location",
                action: RedactionAction::Removed,
                detail,
            })
        }
    }
}

/// Rounds a point; its precision becomes the coarser of the stored one and the rounding's.
fn round(location: Location, degrees: f64) -> Location {
    let snap = |value: f64| {
        let rounded = (value / degrees).round() * degrees;
        // Avoid 0.30000000000000004-style tails: keep the digits the step has.
        let digits = (-degrees.log10()).ceil().max(0.0);
        let scale = 10f64.powf(digits);
        (rounded * scale).round() / scale
    };
    let rounding_precision = if degrees <= 0.01 {
        GeoPrecision::Km1
    } else if degrees <= 0.25 {
        GeoPrecision::Km25
    } else {
        GeoPrecision::Admin1
    };
    Location {
        latitude: snap(location.latitude).clamp(-90.0, 90.0),
        longitude: snap(location.longitude).clamp(-180.0, 180.0),
        precision: location.precision.max(rounding_precision),
    }
}

fn generalise_victims(
    rules: &PolicyRules,
    incident: &mut StoredIncident,
    tier: Tier,
) -> Option<Redaction> {
    let needed = rules.field_tier("victims");
    if tier >= needed {
        return None;
    }
    let victims = &mut incident.content.victims;
    let detail = if tier >= rules.victim_totals_tier {
        *victims = outcome_by_staff(victims, rules.victim_small_cell);
        format!(
            "sex breakdown merged; outcomes with a cell under {} merged into one total",
            rules.victim_small_cell
        )
    } else {
        *victims = merge(victims, |_| StaffCategory::Unknown);
        "totals per outcome only".to_string()
    };
    Some(Redaction {
        field: "victims",
        action: RedactionAction::Generalised,
        detail,
    })
}

/// Cells per (outcome, staff) with sex UNKNOWN; an outcome with any non-empty cell under
/// `small_cell` becomes a single total with staff UNKNOWN.
fn outcome_by_staff(victims: &[VictimCount], small_cell: u32) -> Vec<VictimCount> {
    let by_staff = merge(victims, |cell| cell.staff);
    let small_outcomes: Vec<_> = by_staff
        .iter()
        .filter(|cell| cell.count > 0 && cell.count < small_cell)
        .map(|cell| cell.outcome)
        .collect();
    merge(&by_staff, |cell| {
        if small_outcomes.contains(&cell.outcome) {
            StaffCategory::Unknown
        } else {
            cell.staff
        }
    })
}

/// Sums cells by (outcome, staff as chosen), sex UNKNOWN, in first-seen order.
pub(super) fn merge(
    victims: &[VictimCount],
    staff_of: impl Fn(&VictimCount) -> StaffCategory,
) -> Vec<VictimCount> {
    let mut merged: Vec<VictimCount> = Vec::new();
    for cell in victims {
        let staff = staff_of(cell);
        match merged
            .iter_mut()
            .find(|m| m.outcome == cell.outcome && m.staff == staff)
        {
            Some(existing) => {
                existing.count = existing.count.saturating_add(cell.count);
                existing.estimated |= cell.estimated;
            }
            None => merged.push(VictimCount {
                outcome: cell.outcome,
                staff,
                sex: Sex::Unknown,
                count: cell.count,
                estimated: cell.estimated,
            }),
        }
    }
    merged
}

fn restrict_perpetrator_type(
    rules: &PolicyRules,
    incident: &mut StoredIncident,
    tier: Tier,
) -> Option<Redaction> {
    let needed = rules.field_tier("perpetrator_type");
    let content = &mut incident.content;
    if tier < needed {
        content.perpetrator_type = None;
        return Some(Redaction {
            field: "perpetrator_type",
            action: RedactionAction::Removed,
            detail: format!("withheld: needs access tier {needed:?}, yours is {tier:?}"),
        });
    }
    if tier >= rules.sensitive_perpetrator_tier {
        return None;
    }
    // Noted on every incident at this tier, not only where a value was withheld: otherwise an
    // absent value would reveal that the perpetrator was an aid recipient or a colleague.
    if content
        .perpetrator_type
        .is_some_and(|kind| rules.sensitive_perpetrators.contains(&kind))
    {
        content.perpetrator_type = None;
    }
    let names: Vec<&str> = rules
        .sensitive_perpetrators
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    Some(Redaction {
        field: "perpetrator_type",
        action: RedactionAction::Generalised,
        detail: format!(
            "the values {} are withheld below access tier {:?}",
            names.join(", "),
            rules.sensitive_perpetrator_tier
        ),
    })
}
