//! proto <-> domain. Decoding from proto names every bad field (path and reason) and never stops
//! at the first; encoding to proto accepts only a `RedactedIncident`, so nothing can be sent
//! that has not passed `policy::redact`.

use prost_types::Timestamp;
use slt_proto::google::r#type::Date as ProtoDate;
use slt_proto::v1 as pb;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{self, IncidentContent, IncidentDraft, IncidentFilter, Violations, validate};
use crate::policy::{RedactedAdvisory, RedactedIncident, RedactionAction, Tier};

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

fn date_from_proto(violations: &mut Violations, field: &str, date: &ProtoDate) -> Option<Date> {
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

/// Decodes and validates one incident of a request. `prefix` is its path (`incidents[2]`,
/// `incident`). Returns `None` when anything is wrong; every problem is in `violations`.
pub fn draft_from_proto(
    violations: &mut Violations,
    prefix: &str,
    incident: &pb::Incident,
    now: OffsetDateTime,
) -> Option<IncidentDraft> {
    let before = violations.len();
    let path = |field: &str| format!("{prefix}.{field}");

    let id = incident_id(violations, &path("id"), &incident.id);
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
    let area = |area: &Option<pb::AdminArea>| {
        area.as_ref()
            .filter(|area| !(area.name.trim().is_empty() && area.pcode.trim().is_empty()))
            .map(|area| domain::AdminArea {
                name: area.name.trim().to_string(),
                pcode: non_empty(&area.pcode),
            })
    };
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
    let mut victims = Vec::new();
    for (index, victim) in incident.victims.iter().enumerate() {
        let at = |field: &str| path(&format!("victims[{index}].{field}"));
        let outcome = required_enum(violations, at("outcome"), victim.outcome);
        let staff = optional_enum(violations, at("staff"), victim.staff)
            .unwrap_or(domain::StaffCategory::Unknown);
        let sex = optional_enum(violations, at("sex"), victim.sex).unwrap_or(domain::Sex::Unknown);
        if let Some(outcome) = outcome {
            victims.push(domain::VictimCount {
                outcome,
                staff,
                sex,
                count: victim.count,
                estimated: victim.estimated,
            });
        }
    }
    let refs = incident.external_refs.clone().unwrap_or_default();
    let private = incident.private.as_ref().map(|annex| domain::PrivateAnnex {
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
    });

    let content = IncidentContent {
        // A placeholder keeps the whole-record checks running so every problem is reported.
        occurred_on: occurred_on.unwrap_or(now.date()),
        date_precision,
        country: country.clone().unwrap_or_default(),
        admin1: area(&incident.admin1),
        admin2: area(&incident.admin2),
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
    };
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

/// Why a record from a peer hub is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignRefusal {
    /// It does not decode or validate (field paths and reasons, never values).
    Invalid(Vec<String>),
    /// It should never have crossed: a T3 tier, a distribution or TLP that never federates.
    NotFederable(&'static str),
}

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
    let (Some(mut draft), Some(org_type)) = (draft, org_type) else {
        return Err(ForeignRefusal::Invalid(
            violations
                .into_vec()
                .into_iter()
                .map(|violation| format!("{}: {}", violation.field, violation.description))
                .collect(),
        ));
    };
    if !violations.is_empty() {
        return Err(ForeignRefusal::Invalid(
            violations
                .into_vec()
                .into_iter()
                .map(|violation| format!("{}: {}", violation.field, violation.description))
                .collect(),
        ));
    }
    match draft.content.distribution {
        Distribution::Community | Distribution::Federation => {}
        _ => return Err(ForeignRefusal::NotFederable("distribution")),
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
        }),
    })
}

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

/// Most characters of an advisory summary.
pub const MAX_SUMMARY_CHARS: usize = 4_000;

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
        distribution: content.distribution.to_wire(),
        sharing_group: content.sharing_group.unwrap_or_default(),
        tlp: content.tlp.to_wire(),
        issued_at,
        redacted_fields,
        viewer_tier,
    }
}

/// Encodes an incident that has passed the policy engine. Every field the engine marked
/// `Removed` is cleared from the message, whatever the domain value still holds.
pub fn incident_to_proto(redacted: RedactedIncident) -> pb::Incident {
    let redacted_fields = redacted.redacted_fields();
    let redactions: Vec<pb::Redaction> = redacted
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
        .collect();
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
        victims: content
            .victims
            .iter()
            .map(|victim| pb::VictimCount {
                outcome: victim.outcome.to_wire(),
                staff: victim.staff.to_wire(),
                sex: victim.sex.to_wire(),
                count: victim.count,
                estimated: victim.estimated,
            })
            .collect(),
        ops_impact: wire(content.ops_impact.map(WireEnum::to_wire)),
        source_type: wire(content.source_type.map(WireEnum::to_wire)),
        verification: content.verification.to_wire(),
        narrative: content.narrative.unwrap_or_default(),
        private: incident.private.map(|annex| pb::PrivateAnnex {
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
        }),
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
    };
    for field in removed {
        clear_field(&mut message, field);
    }
    message
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
    fn every_policy_field_can_be_cleared_from_the_message() {
        let mut message = pb::Incident::default();
        for field in crate::policy::rules::INCIDENT_FIELDS {
            assert!(
                clear_field(&mut message, field),
                "{field} cannot be cleared"
            );
        }
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
