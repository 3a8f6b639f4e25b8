//! Incidents: a submitted incident decoded into a draft, a redacted incident encoded.

use slt_proto::v1 as pb;
use time::OffsetDateTime;

use super::{
    WireEnum, date_from_proto, date_to_proto, incident_id, non_empty, optional_enum, required_enum,
    timestamp_to_proto,
};
use crate::domain::{self, IncidentContent, IncidentDraft, Violations, validate};
use crate::ingest::Submitted;
use crate::policy::{RedactedIncident, RedactionAction, Tier};

/// Decodes and validates one incident of a request. `prefix` is its path (`incidents[2]`,
/// `incident`). Returns `None` when anything is wrong; every problem is in `violations`.
pub fn draft_from_proto(
    violations: &mut Violations,
    prefix: &str,
    incident: &pb::Incident,
    now: OffsetDateTime,
) -> Option<IncidentDraft> {
    let before = violations.len();
    let id = incident_id(violations, &format!("{prefix}.id"), &incident.id);
    let content = content_from_proto(violations, prefix, incident, now);
    let private = incident.private.as_ref().map(private_from_proto);
    validate::check_content(violations, prefix, &content, private.as_ref(), now);

    if violations.len() > before {
        return None;
    }
    Some(IncidentDraft {
        id: id?,
        content,
        private: private.filter(|annex| !annex.is_empty()),
    })
}

// Long by design: one line per field of `IncidentContent`.
/// The shared content of an incident, every field decoded (placeholders where a required
/// one is bad, so that the whole-record checks still run and every problem is reported).
fn content_from_proto(
    violations: &mut Violations,
    prefix: &str,
    incident: &pb::Incident,
    now: OffsetDateTime,
) -> IncidentContent {
    let path = |field: &str| format!("{prefix}.{field}");
    let occurred_on = match &incident.occurred_on {
        Some(date) => date_from_proto(violations, &path("occurred_on"), date),
        None => {
            violations.add(path("occurred_on"), "required");
            None
        }
    };
    let date_precision = optional_enum(violations, path("date_precision"), incident.date_precision)
        .unwrap_or(domain::DatePrecision::Day);
    let country = validate::country(violations, &path("country"), &incident.country);
    let location = incident.location.as_ref().and_then(|location| {
        let precision = required_enum(violations, path("location.precision"), location.precision)?;
        Some(domain::Location {
            latitude: location.latitude,
            longitude: location.longitude,
            precision,
        })
    });
    let threat_category = required_enum(
        violations,
        path("threat_category"),
        incident.threat_category,
    );
    let mut incident_types = Vec::new();
    for (index, value) in incident.incident_types.iter().enumerate() {
        if let Some(kind) = required_enum(
            violations,
            path(&format!("incident_types[{index}]")),
            *value,
        ) {
            incident_types.push(kind);
        }
    }
    let orgs = incident.affected_org_types.unwrap_or_default();
    let victims = victims_from_proto(violations, prefix, &incident.victims);
    let refs = incident.external_refs.clone().unwrap_or_default();

    IncidentContent {
        // A placeholder keeps the whole-record checks running so every problem is reported.
        occurred_on: occurred_on.unwrap_or(now.date()),
        date_precision,
        country: country.clone().unwrap_or_default(),
        admin1: area_from_proto(&incident.admin1),
        admin2: area_from_proto(&incident.admin2),
        locality: non_empty(&incident.locality),
        location,
        threat_category: threat_category.unwrap_or(domain::ThreatCategory::ArmedConflict),
        incident_types,
        means_of_attack: optional_enum(
            violations,
            path("means_of_attack"),
            incident.means_of_attack,
        ),
        attack_context: optional_enum(violations, path("attack_context"), incident.attack_context),
        location_type: optional_enum(violations, path("location_type"), incident.location_type),
        motive: optional_enum(violations, path("motive"), incident.motive),
        perpetrator_type: optional_enum(
            violations,
            path("perpetrator_type"),
            incident.perpetrator_type,
        ),
        perpetrator_name: non_empty(&incident.perpetrator_name),
        affected_org_types: domain::AffectedOrgTypes {
            un: orgs.un,
            ingo: orgs.ingo,
            nngo: orgs.nngo,
            icrc: orgs.icrc,
            ifrc_nrcs: orgs.ifrc_nrcs,
            other: orgs.other,
        },
        victims,
        ops_impact: optional_enum(violations, path("ops_impact"), incident.ops_impact),
        source_type: optional_enum(violations, path("source_type"), incident.source_type),
        verification: optional_enum(violations, path("verification"), incident.verification)
            .unwrap_or(domain::Verification::Unverified),
        narrative: non_empty(&incident.narrative),
        external_refs: domain::ExternalRefs {
            awsd: non_empty(&refs.awsd),
            sind: non_empty(&refs.sind),
            acled: non_empty(&refs.acled),
        },
        distribution: optional_enum(violations, path("distribution"), incident.distribution)
            .unwrap_or(domain::Distribution::Community),
        sharing_group: non_empty(&incident.sharing_group),
        tlp: optional_enum(violations, path("tlp"), incident.tlp).unwrap_or(domain::Tlp::Amber),
    }
}

/// An admin area; both name and pcode blank is no area.
fn area_from_proto(area: &Option<pb::AdminArea>) -> Option<domain::AdminArea> {
    area.as_ref()
        .filter(|area| !(area.name.trim().is_empty() && area.pcode.trim().is_empty()))
        .map(|area| domain::AdminArea {
            name: area.name.trim().to_string(),
            pcode: non_empty(&area.pcode),
        })
}

/// Victim counts; one without an outcome is left out (its violation recorded).
fn victims_from_proto(
    violations: &mut Violations,
    prefix: &str,
    victims: &[pb::VictimCount],
) -> Vec<domain::VictimCount> {
    let mut decoded = Vec::new();
    for (index, victim) in victims.iter().enumerate() {
        let at = |field: &str| format!("{prefix}.victims[{index}].{field}");
        let outcome = required_enum(violations, at("outcome"), victim.outcome);
        let staff = optional_enum(violations, at("staff"), victim.staff)
            .unwrap_or(domain::StaffCategory::Unknown);
        let sex = optional_enum(violations, at("sex"), victim.sex).unwrap_or(domain::Sex::Unknown);
        if let Some(outcome) = outcome {
            decoded.push(domain::VictimCount {
                outcome,
                staff,
                sex,
                count: victim.count,
                estimated: victim.estimated,
            });
        }
    }
    decoded
}

fn private_from_proto(annex: &pb::PrivateAnnex) -> domain::PrivateAnnex {
    domain::PrivateAnnex {
        victim_identities: annex
            .victim_identities
            .iter()
            .map(|victim| domain::VictimIdentity {
                name: victim.name.clone(),
                role: victim.role.clone(),
                contact: victim.contact.clone(),
                // The hub derives it; a client-sent key is ignored.
                victim_key: None,
            })
            .collect(),
        reporter_contact: annex.reporter_contact.clone(),
        internal_narrative: annex.internal_narrative.clone(),
        external_case_refs: annex.external_case_refs.clone(),
    }
}

// Long by design: one line per field of `pb::Incident`.
/// Encodes an incident that has passed the policy engine. Every field the engine marked
/// `Removed` is cleared from the message, whatever the domain value still holds.
pub fn incident_to_proto(redacted: RedactedIncident) -> pb::Incident {
    let redacted_fields = redacted.redacted_fields();
    let redactions = redactions_to_proto(&redacted);
    let removed: Vec<&'static str> = redacted
        .redactions
        .iter()
        .filter(|redaction| redaction.action == RedactionAction::Removed)
        .map(|redaction| redaction.field)
        .collect();
    let viewer_tier = match redacted.tier {
        Tier::T0 => pb::AccessTier::T0,
        Tier::T1 => pb::AccessTier::T1,
        Tier::T2 => pb::AccessTier::T2,
        Tier::T3 => pb::AccessTier::T3,
    } as i32;
    let incident = redacted.incident;
    let content = incident.content;
    let area = |area: Option<domain::AdminArea>| {
        area.map(|area| pb::AdminArea {
            name: area.name,
            pcode: area.pcode.unwrap_or_default(),
        })
    };
    let wire = |value: Option<i32>| value.unwrap_or(0);
    let mut message = pb::Incident {
        id: incident.id.to_string(),
        version: incident.version,
        origin_org: incident.origin_org,
        origin_hub: incident.origin_hub,
        origin_org_type: incident.origin_org_type.to_wire(),
        occurred_on: Some(date_to_proto(content.occurred_on)),
        date_precision: content.date_precision.to_wire(),
        reported_at: Some(timestamp_to_proto(incident.reported_at)),
        country: content.country,
        admin1: area(content.admin1),
        admin2: area(content.admin2),
        locality: content.locality.unwrap_or_default(),
        location: content.location.map(|location| pb::Location {
            latitude: location.latitude,
            longitude: location.longitude,
            precision: location.precision.to_wire(),
        }),
        threat_category: content.threat_category.to_wire(),
        incident_types: content
            .incident_types
            .iter()
            .map(|kind| kind.to_wire())
            .collect(),
        means_of_attack: wire(content.means_of_attack.map(WireEnum::to_wire)),
        attack_context: wire(content.attack_context.map(WireEnum::to_wire)),
        location_type: wire(content.location_type.map(WireEnum::to_wire)),
        motive: wire(content.motive.map(WireEnum::to_wire)),
        perpetrator_type: wire(content.perpetrator_type.map(WireEnum::to_wire)),
        perpetrator_name: content.perpetrator_name.unwrap_or_default(),
        affected_org_types: Some(pb::AffectedOrgTypes {
            un: content.affected_org_types.un,
            ingo: content.affected_org_types.ingo,
            nngo: content.affected_org_types.nngo,
            icrc: content.affected_org_types.icrc,
            ifrc_nrcs: content.affected_org_types.ifrc_nrcs,
            other: content.affected_org_types.other,
        }),
        victims: content.victims.iter().map(victim_to_proto).collect(),
        ops_impact: wire(content.ops_impact.map(WireEnum::to_wire)),
        source_type: wire(content.source_type.map(WireEnum::to_wire)),
        verification: content.verification.to_wire(),
        narrative: content.narrative.unwrap_or_default(),
        private: incident.private.map(private_to_proto),
        external_refs: Some(pb::ExternalRefs {
            awsd: content.external_refs.awsd.unwrap_or_default(),
            sind: content.external_refs.sind.unwrap_or_default(),
            acled: content.external_refs.acled.unwrap_or_default(),
        }),
        distribution: content.distribution.to_wire(),
        sharing_group: content.sharing_group.unwrap_or_default(),
        tlp: content.tlp.to_wire(),
        retraction_reason: incident.retraction_reason.unwrap_or_default(),
        updated_at: Some(timestamp_to_proto(incident.updated_at)),
        redacted_fields,
        redactions,
        viewer_tier,
        // Only peer hubs get one (`origin_seal::incident_for_peer`).
        origin_signature: Vec::new(),
    };
    for field in removed {
        clear_field(&mut message, field);
    }
    message
}

fn redactions_to_proto(redacted: &RedactedIncident) -> Vec<pb::Redaction> {
    redacted
        .redactions
        .iter()
        .map(|redaction| pb::Redaction {
            field: redaction.field.to_string(),
            action: match redaction.action {
                RedactionAction::Removed => pb::RedactionAction::Removed as i32,
                RedactionAction::Generalised => pb::RedactionAction::Generalised as i32,
            },
            detail: redaction.detail.clone(),
        })
        .collect()
}

fn victim_to_proto(victim: &domain::VictimCount) -> pb::VictimCount {
    pb::VictimCount {
        outcome: victim.outcome.to_wire(),
        staff: victim.staff.to_wire(),
        sex: victim.sex.to_wire(),
        count: victim.count,
        estimated: victim.estimated,
    }
}

fn private_to_proto(annex: domain::PrivateAnnex) -> pb::PrivateAnnex {
    pb::PrivateAnnex {
        victim_identities: annex
            .victim_identities
            .into_iter()
            .map(|victim| pb::VictimIdentity {
                name: victim.name,
                role: victim.role,
                contact: victim.contact,
                victim_key: victim.victim_key.unwrap_or_default(),
            })
            .collect(),
        reporter_contact: annex.reporter_contact,
        internal_narrative: annex.internal_narrative,
        external_case_refs: annex.external_case_refs,
    }
}

/// Clears one top-level field of an Incident message; `false` for a name it does not know.
fn clear_field(message: &mut pb::Incident, field: &str) -> bool {
    match field {
        "id" => message.id.clear(),
        "version" => message.version = 0,
        "origin_org" => message.origin_org.clear(),
        "origin_hub" => message.origin_hub.clear(),
        "origin_org_type" => message.origin_org_type = 0,
        "occurred_on" => message.occurred_on = None,
        "date_precision" => message.date_precision = 0,
        "reported_at" => message.reported_at = None,
        "country" => message.country.clear(),
        "admin1" => message.admin1 = None,
        "admin2" => message.admin2 = None,
        "locality" => message.locality.clear(),
        "location" => message.location = None,
        "threat_category" => message.threat_category = 0,
        "incident_types" => message.incident_types.clear(),
        "means_of_attack" => message.means_of_attack = 0,
        "attack_context" => message.attack_context = 0,
        "location_type" => message.location_type = 0,
        "motive" => message.motive = 0,
        "perpetrator_type" => message.perpetrator_type = 0,
        "perpetrator_name" => message.perpetrator_name.clear(),
        "affected_org_types" => message.affected_org_types = None,
        "victims" => message.victims.clear(),
        "ops_impact" => message.ops_impact = 0,
        "source_type" => message.source_type = 0,
        "verification" => message.verification = 0,
        "narrative" => message.narrative.clear(),
        "private" => message.private = None,
        "external_refs" => message.external_refs = None,
        "distribution" => message.distribution = 0,
        "sharing_group" => message.sharing_group.clear(),
        "tlp" => message.tlp = 0,
        "retraction_reason" => message.retraction_reason.clear(),
        "updated_at" => message.updated_at = None,
        _ => return false,
    }
    true
}

/// The anonymiser's report as proto counts, in report order, kinds with no finding left out.
pub fn scrub_counts(report: &crate::anonymise::ScrubReport) -> Vec<pb::ScrubCount> {
    crate::anonymise::PiiKind::ALL
        .iter()
        .filter(|kind| report.count(**kind) > 0)
        .map(|kind| pb::ScrubCount {
            kind: kind.as_str().to_string(),
            count: report.count(*kind),
        })
        .collect()
}

/// One incident's result of a SubmitIncidents call.
pub fn submit_result(id: uuid::Uuid, submitted_id: &str, submitted: Submitted) -> pb::SubmitResult {
    let (outcome, version, scrubbed) = match submitted {
        Submitted::Created { scrubbed } => (pb::SubmitOutcome::Created, 1, scrub_counts(&scrubbed)),
        Submitted::Unchanged { version } => (pb::SubmitOutcome::Unchanged, version, Vec::new()),
        Submitted::Conflict { version } => (pb::SubmitOutcome::Conflict, version, Vec::new()),
    };
    pb::SubmitResult {
        id: id.to_string(),
        outcome: outcome as i32,
        version,
        scrubbed,
        submitted_id: submitted_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_field_can_be_cleared_from_the_message() {
        let mut message = pb::Incident::default();
        for field in crate::policy::rules::INCIDENT_FIELDS {
            assert!(
                clear_field(&mut message, field),
                "{field} cannot be cleared"
            );
        }
    }
}
