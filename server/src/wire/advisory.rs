//! Advisories: an issued advisory decoded, a redacted advisory encoded.

use slt_proto::google::r#type::Date as ProtoDate;
use slt_proto::v1 as pb;
use uuid::Uuid;

use super::{
    WireEnum, date_from_proto, date_to_proto, incident_id, non_empty, optional_enum, required_enum,
    tier_to_proto, timestamp_to_proto,
};
use crate::domain::{self, Violations, validate};
use crate::policy::RedactedAdvisory;

/// Most characters of an advisory summary.
pub const MAX_SUMMARY_CHARS: usize = 4_000;

// Long by design: one decode or check per advisory field.
/// Decodes and validates an advisory of an IssueAdvisory request (hub-set fields ignored).
pub fn advisory_from_proto(
    violations: &mut Violations,
    advisory: &pb::Advisory,
) -> Option<(Uuid, domain::AdvisoryContent)> {
    let id = incident_id(violations, "advisory.id", &advisory.id);
    let country = validate::country(violations, "advisory.country", &advisory.country);
    let area = |violations: &mut Violations, field: &str, area: &Option<pb::AdminArea>| {
        let area = area.as_ref()?;
        let name = non_empty(&area.name)?;
        violations.check_text(format!("{field}.name"), &name, 200);
        violations.check_text(format!("{field}.pcode"), &area.pcode, 32);
        Some(domain::AdminArea {
            name,
            pcode: non_empty(&area.pcode),
        })
    };
    let admin1 = area(violations, "advisory.admin1", &advisory.admin1);
    let admin2 = area(violations, "advisory.admin2", &advisory.admin2);
    let security_level = required_enum::<domain::SecurityLevel>(
        violations,
        "advisory.security_level".into(),
        advisory.security_level,
    );
    let threat_category = required_enum::<domain::ThreatCategory>(
        violations,
        "advisory.threat_category".into(),
        advisory.threat_category,
    );
    let date = |violations: &mut Violations, field: &str, date: &Option<ProtoDate>| match date {
        Some(date) => date_from_proto(violations, field, date),
        None => {
            violations.add(field, "required");
            None
        }
    };
    let valid_from = date(violations, "advisory.valid_from", &advisory.valid_from);
    let valid_until = date(violations, "advisory.valid_until", &advisory.valid_until);
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until < from
    {
        violations.add("advisory.valid_until", "must not be before valid_from");
    }
    violations.check_text(
        "advisory.summary".into(),
        &advisory.summary,
        MAX_SUMMARY_CHARS,
    );
    let distribution = optional_enum::<domain::Distribution>(
        violations,
        "advisory.distribution".into(),
        advisory.distribution,
    )
    .unwrap_or(domain::Distribution::Community);
    let sharing_group = non_empty(&advisory.sharing_group);
    match (distribution, &sharing_group) {
        (domain::Distribution::SharingGroup, None) => {
            violations.add("advisory.sharing_group", "required for SHARING_GROUP")
        }
        (domain::Distribution::SharingGroup, Some(_)) | (_, None) => {}
        (_, Some(_)) => violations.add(
            "advisory.sharing_group",
            "only allowed with distribution SHARING_GROUP",
        ),
    }
    let tlp = optional_enum::<domain::Tlp>(violations, "advisory.tlp".into(), advisory.tlp)
        .unwrap_or(domain::Tlp::Amber);
    Some((
        id?,
        domain::AdvisoryContent {
            country: country?,
            admin1,
            admin2,
            security_level: security_level?,
            threat_category: threat_category?,
            valid_from: valid_from?,
            valid_until: valid_until?,
            summary: non_empty(&advisory.summary),
            distribution,
            sharing_group,
            tlp,
        },
    ))
}

/// Encodes an advisory that has passed the policy engine; removed fields are left out.
pub fn advisory_to_proto(redacted: RedactedAdvisory) -> pb::Advisory {
    let redacted_fields = redacted.redacted_fields();
    let issued_at = (!redacted.is_removed("issued_at"))
        .then(|| timestamp_to_proto(redacted.advisory.issued_at));
    let viewer_tier = tier_to_proto(redacted.tier);
    let advisory = redacted.advisory;
    let content = advisory.content;
    let area = |area: Option<domain::AdminArea>| {
        area.map(|area| pb::AdminArea {
            name: area.name,
            pcode: area.pcode.unwrap_or_default(),
        })
    };
    pb::Advisory {
        id: advisory.id.to_string(),
        version: advisory.version,
        country: content.country,
        admin1: area(content.admin1),
        admin2: area(content.admin2),
        security_level: content.security_level.to_wire(),
        threat_category: content.threat_category.to_wire(),
        valid_from: Some(date_to_proto(content.valid_from)),
        valid_until: Some(date_to_proto(content.valid_until)),
        summary: content.summary.unwrap_or_default(),
        issuing_org: advisory.issuing_org,
        origin_hub: advisory.origin_hub,
        distribution: content.distribution.to_wire(),
        sharing_group: content.sharing_group.unwrap_or_default(),
        tlp: content.tlp.to_wire(),
        issued_at,
        redacted_fields,
        viewer_tier,
        // Only peer hubs get one (`origin_seal::advisory_for_peer`).
        origin_signature: Vec::new(),
    }
}
