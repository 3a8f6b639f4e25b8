//! Properties of the policy engine over random incidents and random principals.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use time::macros::datetime;
use time::{Date, Duration};
use uuid::Uuid;

use super::rules::INCIDENT_FIELDS;
use super::*;
use crate::domain::*;
use crate::identity::agreement::PeerTerms;
use crate::identity::{PeerKind, Principal, Role};

const ORGS: [&str; 4] = ["ngo-alpha", "ngo-beta", "unhcr", "undss"];

fn engine() -> PolicyEngine {
    PolicyEngine::new(
        PolicyRules::builtin().expect("policy"),
        SharingGroups::new([SharingGroup {
            id: "forum".into(),
            name: "Forum".into(),
            owner: "ngo-alpha".into(),
            members: vec!["ngo-beta".into()],
        }]),
    )
}

fn pick<T: Clone + std::fmt::Debug + 'static>(values: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(values)
}

fn optional<T: Clone + std::fmt::Debug + 'static>(
    values: &'static [T],
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(pick(values))
}

prop_compose! {
    fn victims()(cells in proptest::collection::vec(
        (pick(VictimOutcome::ALL), pick(StaffCategory::ALL), pick(Sex::ALL), 0u32..8, any::<bool>()),
        0..6,
    )) -> Vec<VictimCount> {
        cells.into_iter().map(|(outcome, staff, sex, count, estimated)| VictimCount {
            outcome, staff, sex, count, estimated,
        }).collect()
    }
}

prop_compose! {
    fn content()(
        day in 0i64..12_000,
        date_precision in pick(DatePrecision::ALL),
        location in proptest::option::of((-89.9f64..89.9, -179.9f64..179.9, pick(GeoPrecision::ALL))),
        location_type in optional(LocationType::ALL),
        perpetrator_type in optional(PerpetratorType::ALL),
        means_of_attack in optional(MeansOfAttack::ALL),
        victims in victims(),
        distribution in pick(Distribution::ALL),
        tlp in pick(Tlp::ALL),
        group in proptest::option::of(pick(&["forum", "elsewhere"][..])),
    ) -> IncidentContent {
        let occurred_on = Date::from_calendar_date(1995, time::Month::January, 1).expect("date")
            + Duration::days(day);
        IncidentContent {
            occurred_on,
            date_precision,
            country: "SSD".into(),
            admin1: Some(AdminArea { name: "Jonglei".into(), pcode: None }),
            admin2: Some(AdminArea { name: "Bor South".into(), pcode: None }),
            locality: Some("Bor".into()),
            location: location.map(|(latitude, longitude, precision)| Location { latitude, longitude, precision }),
            threat_category: ThreatCategory::Crime,
            incident_types: vec![IncidentType::Robbery],
            means_of_attack,
            attack_context: Some(AttackContext::Ambush),
            location_type,
            motive: Some(Motive::Economic),
            perpetrator_type,
            perpetrator_name: Some("a named group".into()),
            affected_org_types: AffectedOrgTypes { ingo: 1, ..Default::default() },
            victims,
            ops_impact: Some(OpsImpact::Delayed),
            source_type: Some(SourceType::Media),
            verification: Verification::Verified,
            narrative: Some("what happened".into()),
            external_refs: ExternalRefs { awsd: Some("1".into()), ..Default::default() },
            sharing_group: (distribution == Distribution::SharingGroup)
                .then(|| group.unwrap_or("forum").to_string()),
            distribution,
            tlp,
        }
    }
}

prop_compose! {
    fn incident()(content in content(), origin in pick(&ORGS[..]), private in any::<bool>()) -> StoredIncident {
        StoredIncident {
            id: Uuid::nil(),
            version: 1,
            origin_org: origin.to_string(),
            origin_hub: "hub-a".into(),
            origin_org_type: OrgType::Ingo,
            reported_at: datetime!(2026-01-01 0:00 UTC),
            updated_at: datetime!(2026-01-01 0:00 UTC),
            retraction_reason: None,
            content,
            private: private.then(|| PrivateAnnex {
                reporter_contact: "secret".into(),
                ..Default::default()
            }),
            received: None,
        }
    }
}

prop_compose! {
    fn principal()(
        org in pick(&ORGS[..]),
        roles in proptest::sample::subsequence(Role::ALL.to_vec(), 1..3),
        hub in any::<bool>(),
    ) -> Principal {
        Principal {
            org: if hub { "hub-b".to_string() } else { org.to_string() },
            kind: if hub { PeerKind::Hub } else { PeerKind::Org },
            subject: "someone".into(),
            roles: if hub { BTreeSet::from([Role::PeerHub]) } else { roles.into_iter().collect() },
            cert_sha256: String::new(),
            expires_at: u64::MAX,
            federation: hub.then(|| std::sync::Arc::new(PeerTerms {
                hub_id: "hub-b".into(),
                tier: Tier::T1,
                countries: Vec::new(),
                categories: Vec::new(),
                transitive: false,
            })),
        }
    }
}

fn peer(tier: Tier, transitive: bool, countries: &[&str]) -> Principal {
    Principal {
        org: "hub-b".into(),
        kind: PeerKind::Hub,
        subject: "hub:hub-b".into(),
        roles: BTreeSet::from([Role::PeerHub]),
        cert_sha256: String::new(),
        expires_at: u64::MAX,
        federation: Some(std::sync::Arc::new(PeerTerms {
            hub_id: "hub-b".into(),
            tier,
            countries: countries.iter().map(|c| c.to_string()).collect(),
            categories: Vec::new(),
            transitive,
        })),
    }
}

/// The visibility rule written out again, independently of the engine.
fn oracle_visible(principal: &Principal, incident: &StoredIncident) -> bool {
    let content = &incident.content;
    if principal.kind == PeerKind::Hub {
        return content.distribution == Distribution::Federation
            && matches!(content.tlp, Tlp::Amber | Tlp::Green | Tlp::Clear)
            && incident.origin_hub != principal.org;
    }
    let reads = principal
        .roles
        .iter()
        .any(|r| matches!(r, Role::Reporter | Role::Analyst | Role::FocalPoint));
    if !reads {
        return false;
    }
    if incident.origin_org == principal.org {
        return true;
    }
    match content.distribution {
        Distribution::OrgOnly => false,
        Distribution::SharingGroup => {
            content.sharing_group.as_deref() == Some("forum")
                && matches!(principal.org.as_str(), "ngo-alpha" | "ngo-beta")
        }
        Distribution::Community | Distribution::Federation => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn visibility_follows_distribution_exactly(incident in incident(), principal in principal()) {
        let engine = engine();
        prop_assert_eq!(
            engine.tier_for(&principal, &incident).is_some(),
            oracle_visible(&principal, &incident)
        );
        prop_assert_eq!(engine.redact(incident.clone(), &principal).is_some(), oracle_visible(&principal, &incident));
    }

    #[test]
    fn no_field_above_the_viewers_tier_survives(incident in incident(), tier in pick(&[Tier::T0, Tier::T1, Tier::T2, Tier::T3][..])) {
        let engine = engine();
        let rules = engine.rules();
        let original = incident.clone();
        let redacted = engine.redact_to_tier(incident, tier);
        let out = &redacted.incident;
        let listed: BTreeSet<&str> = redacted.redactions.iter().map(|r| r.field).collect();

        // Every field above the tier is listed, whatever its value.
        for field in INCIDENT_FIELDS {
            if tier < rules.field_tier(field) {
                prop_assert!(listed.contains(field), "{} not listed at {:?}", field, tier);
            }
        }
        if tier < Tier::T3 {
            prop_assert!(out.private.is_none());
        }
        if tier < Tier::T2 {
            prop_assert!(out.origin_org.is_empty() && out.origin_hub.is_empty());
            prop_assert!(out.content.narrative.is_none());
            prop_assert!(out.content.perpetrator_name.is_none());
            prop_assert!(out.content.admin2.is_none() && out.content.locality.is_none());
            prop_assert!(!matches!(out.content.perpetrator_type, Some(PerpetratorType::AidRecipient | PerpetratorType::StaffMember)));
            prop_assert!(out.content.victims.iter().all(|v| v.sex == Sex::Unknown));
            prop_assert!(out.content.victims.iter().all(|v| v.staff == StaffCategory::Unknown || v.count == 0 || v.count >= rules.victim_small_cell));
            prop_assert!(out.content.date_precision >= DatePrecision::Week);
            let sensitive = original.content.location_type.is_some_and(|t| rules.sensitive_location_types.contains(&t));
            if sensitive {
                prop_assert!(out.content.location.is_none());
            }
            // The victim totals per outcome are kept.
            for outcome in VictimOutcome::ALL {
                let total = |cells: &[VictimCount]| cells.iter().filter(|v| v.outcome == *outcome).map(|v| v.count).sum::<u32>();
                prop_assert_eq!(total(&out.content.victims), total(&original.content.victims));
            }
        }
        if tier < Tier::T1 {
            prop_assert!(out.content.means_of_attack.is_none());
            prop_assert!(out.content.perpetrator_type.is_none());
            prop_assert!(out.content.location.is_none());
            prop_assert!(out.content.date_precision >= DatePrecision::Month);
            prop_assert!(redacted.is_removed("reported_at") && redacted.is_removed("affected_org_types"));
        }
        if tier == Tier::T3 {
            prop_assert_eq!(&redacted.incident, &original);
            prop_assert!(redacted.redactions.is_empty());
        }
    }

    #[test]
    fn generalisation_never_adds_precision(incident in incident(), tier in pick(&[Tier::T0, Tier::T1, Tier::T2][..])) {
        let engine = engine();
        let original = incident.clone();
        let out = engine.redact_to_tier(incident, tier).incident;
        prop_assert!(out.content.date_precision >= original.content.date_precision);
        prop_assert!(out.content.occurred_on <= original.content.occurred_on);
        prop_assert!(original.content.occurred_on - out.content.occurred_on < Duration::days(366));
        if let (Some(before), Some(after)) = (original.content.location, out.content.location) {
            prop_assert!(after.precision >= before.precision);
            let step = engine.rules().round_degrees[&tier];
            prop_assert!((after.latitude - before.latitude).abs() <= step / 2.0 + 1e-9);
            prop_assert!((after.longitude - before.longitude).abs() <= step / 2.0 + 1e-9);
            // The returned coordinate sits on the rounding grid.
            let on_grid = |value: f64| ((value / step) - (value / step).round()).abs() < 1e-6;
            prop_assert!(on_grid(after.latitude) && on_grid(after.longitude));
        }
    }
}

#[test]
fn tlp_red_and_amber_strict_never_leave_the_hub() {
    for distribution in Distribution::ALL {
        for egress in [Egress::Federation, Egress::PublicExport] {
            assert!(!egress_allowed(Tlp::Red, *distribution, egress));
            assert!(!egress_allowed(Tlp::AmberStrict, *distribution, egress));
        }
        assert!(!egress_allowed(
            Tlp::Amber,
            *distribution,
            Egress::PublicExport
        ));
        assert!(!egress_allowed(
            Tlp::Green,
            *distribution,
            Egress::PublicExport
        ));
    }
    assert!(egress_allowed(
        Tlp::Amber,
        Distribution::Federation,
        Egress::Federation
    ));
    assert!(!egress_allowed(
        Tlp::Amber,
        Distribution::Community,
        Egress::Federation
    ));
    assert!(egress_allowed(
        Tlp::Clear,
        Distribution::Community,
        Egress::PublicExport
    ));
    assert!(!egress_allowed(
        Tlp::Clear,
        Distribution::OrgOnly,
        Egress::PublicExport
    ));
}

#[test]
fn sharing_groups_admit_members_only() {
    let engine = engine();
    let content_for = |group: Option<&str>| IncidentContent {
        distribution: Distribution::SharingGroup,
        sharing_group: group.map(str::to_string),
        ..sample_content()
    };
    assert!(
        engine
            .check_distribution("ngo-beta", &content_for(Some("forum")))
            .is_ok()
    );
    assert!(
        engine
            .check_distribution("unhcr", &content_for(Some("forum")))
            .is_err()
    );
    assert!(
        engine
            .check_distribution("ngo-beta", &content_for(Some("nope")))
            .is_err()
    );
    assert!(
        engine
            .check_distribution("ngo-beta", &content_for(None))
            .is_err()
    );
}

fn sample_content() -> IncidentContent {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    content().new_tree(&mut runner).expect("tree").current()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// To a peer hub: its agreement's tier (never above T2), the origin hub always, FEDERATION
    /// downgraded to COMMUNITY unless transitive, nothing outside its filters, nothing of its own.
    #[test]
    fn peers_get_their_agreement_and_one_hop(incident in incident(), t2 in any::<bool>(), transitive in any::<bool>()) {
        let engine = engine();
        let tier = if t2 { Tier::T2 } else { Tier::T1 };
        let principal = peer(tier, transitive, &[]);
        let visible = oracle_visible(&principal, &incident);
        let redacted = engine.redact(incident.clone(), &principal);
        prop_assert_eq!(redacted.is_some(), visible);
        if let Some(redacted) = redacted {
            prop_assert_eq!(redacted.tier, tier);
            prop_assert!(redacted.incident.private.is_none());
            prop_assert_eq!(&redacted.incident.origin_hub, &incident.origin_hub);
            let expected = if transitive { Distribution::Federation } else { Distribution::Community };
            prop_assert_eq!(redacted.incident.content.distribution, expected);
            if tier < Tier::T2 {
                prop_assert!(redacted.incident.origin_org.is_empty());
                prop_assert!(redacted.incident.content.narrative.is_none());
            }
        }
        let mut own = incident.clone();
        own.origin_hub = "hub-b".into();
        prop_assert!(engine.redact(own, &principal).is_none());
        let filtered = peer(tier, transitive, &["ZWE"]);
        prop_assert_eq!(
            engine.redact(incident.clone(), &filtered).is_some(),
            visible && incident.content.country == "ZWE"
        );
    }

    /// A foreign incident: read-only, never "own", never above the tier it was received at.
    #[test]
    fn foreign_incidents_are_capped_at_the_received_tier(incident in incident(), principal in principal(), t2 in any::<bool>()) {
        let engine = engine();
        let received = if t2 { Tier::T2 } else { Tier::T1 };
        let mut foreign = incident;
        foreign.private = None;
        foreign.received = Some(crate::domain::Received { from_hub: "hub-c".into(), tier: received, seal: None });
        if let Some(tier) = engine.tier_for(&principal, &foreign) {
            prop_assert!(tier <= received);
        }
        prop_assert!(!engine.may_modify(&principal, &foreign));
    }
}

/// What `push_scope` in the stores admits, written out in Rust (the SQL's twin).
fn scope_admits(scope: &VisibilityScope, incident: &StoredIncident) -> bool {
    let sharing = scope.own_org.as_deref() == Some(incident.origin_org.as_str())
        || scope
            .shared_distributions
            .contains(&incident.content.distribution)
        || (incident.content.distribution == Distribution::SharingGroup
            && incident
                .content
                .sharing_group
                .as_ref()
                .is_some_and(|group| scope.sharing_groups.contains(group)));
    sharing
        && scope
            .allowed_tlps
            .as_ref()
            .is_none_or(|tlps| tlps.contains(&incident.content.tlp))
        && scope
            .excluded_origin_hub
            .as_ref()
            .is_none_or(|hub| *hub != incident.origin_hub)
}

/// The threat picture counts every incident the SQL scope admits, at `picture_tier`: so, under
/// any policy file, the scope may admit only incidents `tier_for` lets the caller see, and the
/// picture's tier may be no higher than the caller's tier over any of them. A policy may leave a
/// role out of `role_tiers.other` (or `.origin`): that role then sees none of those incidents.
#[test]
fn the_picture_scope_admits_only_what_the_caller_sees_and_its_tier_is_the_lowest() {
    let builtin = include_str!("../../policy/default.toml");
    let other_line = "other = { focal_point = \"T2\", analyst = \"T1\", reporter = \"T1\" }";
    let origin_line = "origin = { reporter = \"T3\", focal_point = \"T3\", analyst = \"T2\" }";
    assert!(builtin.contains(other_line) && builtin.contains(origin_line));
    let policies = [
        builtin.to_string(),
        builtin.replace(
            other_line,
            "other = { focal_point = \"T2\", analyst = \"T1\" }",
        ),
        builtin.replace(
            origin_line,
            "origin = { reporter = \"T3\", focal_point = \"T3\" }",
        ),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for text in &policies {
        let engine = PolicyEngine::new(
            PolicyRules::parse(text, "test policy").expect("policy"),
            SharingGroups::new([SharingGroup {
                id: "forum".into(),
                name: "Forum".into(),
                owner: "ngo-alpha".into(),
                members: vec!["ngo-beta".into()],
            }]),
        );
        for _ in 0..2_000 {
            let incident = incident().new_tree(&mut runner).expect("tree").current();
            let principal = principal().new_tree(&mut runner).expect("tree").current();
            let (Some(scope), Some(picture_tier)) = (
                engine.visibility_scope(&principal),
                engine.picture_tier(&principal),
            ) else {
                continue;
            };
            if !scope_admits(&scope, &incident) {
                continue;
            }
            let tier = engine.tier_for(&principal, &incident);
            assert!(
                tier.is_some_and(|tier| picture_tier <= tier),
                "{principal:?} gets the picture at {picture_tier:?} and it counts an incident of \
                 {} ({:?}) it sees at {tier:?}",
                incident.origin_org,
                incident.content.distribution,
            );
        }
    }
}
