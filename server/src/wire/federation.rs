//! Incidents from peer hubs: what a pull brought, decoded into the foreign copy we keep.

use prost_types::Timestamp;
use slt_proto::v1 as pb;
use time::OffsetDateTime;

use super::{WireEnum, draft_from_proto, non_empty};
use crate::domain::{self, Violations};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignRefusal {
    /// It does not decode or validate (field paths and reasons, never values).
    Invalid(Vec<String>),
    /// It should never have crossed: a T3 tier, a distribution or TLP that never federates.
    NotFederable(&'static str),
}

// Long by design: the ordered checks on a peer's record (tier, fields, federability), each a few
// lines.
/// Decodes an incident a peer hub sent us into the copy we keep: its origin hub, origin org
/// (empty when withheld from us), id and version kept; the tier it was sent at recorded; a
/// private annex never kept. `transitive` is our side of the agreement: without it,
/// FEDERATION arrives as COMMUNITY.
pub fn foreign_from_proto(
    incident: &pb::Incident,
    peer: &str,
    transitive: bool,
    now: OffsetDateTime,
) -> Result<domain::StoredIncident, ForeignRefusal> {
    use domain::{Distribution, Tier, Tlp, Verification};
    let tier = match pb::AccessTier::try_from(incident.viewer_tier) {
        Ok(pb::AccessTier::T0) => Tier::T0,
        Ok(pb::AccessTier::T1) => Tier::T1,
        Ok(pb::AccessTier::T2) => Tier::T2,
        _ => {
            return Err(ForeignRefusal::NotFederable(
                "viewer_tier is not T0, T1 or T2",
            ));
        }
    };
    let mut shared = incident.clone();
    shared.private = None;
    let retracted = Verification::from_wire(incident.verification) == Some(Verification::Retracted);
    if retracted {
        shared.verification = 0;
    }
    let mut violations = Violations::new();
    let draft = draft_from_proto(&mut violations, "incident", &shared, now);
    if !crate::identity::peer::is_valid_id(&incident.origin_hub) {
        violations.add("incident.origin_hub", "must be a hub id");
    }
    if incident.version == 0 {
        violations.add("incident.version", "must be at least 1");
    }
    // Fields only a peer sets are bounded like a partner's: a copy we store is a copy we serve.
    violations.check_text(
        "incident.origin_org".into(),
        &incident.origin_org,
        domain::validate::MAX_NAME_CHARS,
    );
    violations.check_bytes(
        "incident.retraction_reason".into(),
        &incident.retraction_reason,
        domain::validate::MAX_REASON_BYTES,
    );
    let org_type = domain::OrgType::from_wire(incident.origin_org_type);
    if org_type.is_none() {
        violations.add("incident.origin_org_type", "required");
    }
    let timestamp = |stamp: &Option<Timestamp>| {
        stamp
            .as_ref()
            .and_then(|stamp| OffsetDateTime::from_unix_timestamp(stamp.seconds).ok())
            .unwrap_or(now)
    };
    let invalid = |violations: Violations| {
        ForeignRefusal::Invalid(
            violations
                .into_vec()
                .into_iter()
                .map(|violation| format!("{}: {}", violation.field, violation.description))
                .collect(),
        )
    };
    let (Some(mut draft), Some(org_type)) = (draft, org_type) else {
        return Err(invalid(violations));
    };
    if !violations.is_empty() {
        return Err(invalid(violations));
    }
    match draft.content.distribution {
        Distribution::Community | Distribution::Federation => {}
        _ => return Err(ForeignRefusal::NotFederable("distribution")),
    }
    // COMMUNITY (signed by the origin) is one hop: only the origin itself may hand it to us.
    if draft.content.distribution == Distribution::Community && incident.origin_hub != peer {
        return Err(ForeignRefusal::NotFederable(
            "distribution: a one-hop (COMMUNITY) record relayed by a hub that is not its origin",
        ));
    }
    if matches!(draft.content.tlp, Tlp::Red | Tlp::AmberStrict) {
        return Err(ForeignRefusal::NotFederable("tlp"));
    }
    if !transitive && draft.content.distribution == Distribution::Federation {
        draft.content.distribution = Distribution::Community;
    }
    if retracted {
        draft.content.verification = Verification::Retracted;
    }
    Ok(domain::StoredIncident {
        id: draft.id,
        version: incident.version,
        origin_org: incident.origin_org.clone(),
        origin_hub: incident.origin_hub.clone(),
        origin_org_type: org_type,
        reported_at: timestamp(&incident.reported_at),
        updated_at: timestamp(&incident.updated_at),
        retraction_reason: non_empty(&incident.retraction_reason),
        content: draft.content,
        private: None,
        received: Some(domain::Received {
            from_hub: peer.to_string(),
            tier,
            // The worker attaches the verified seal once it has scrubbed the copy.
            seal: None,
        }),
    })
}
