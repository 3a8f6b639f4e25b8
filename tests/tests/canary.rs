//! The canary test: an incident whose every T1, T2 and T3 value is a unique marker is read by
//! every role x relationship through every read path; the bytes each viewer receives hold no
//! marker above its tier, every marker at or below its tier does arrive (so the check can see
//! them), and `redacted_fields` names every field withheld. Add each new read path here.

use prost::Message;
use slt_client::{ClientError, HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id};

/// (tier, field, marker) for every string-valued field above T0.
const MARKERS: &[(u8, &str, &str)] = &[
    (3, "private", "CANARY-T3-VICTIM-NAME"),
    (3, "private", "CANARY-T3-VICTIM-ROLE"),
    (3, "private", "CANARY-T3-NEXT-OF-KIN"),
    (3, "private", "CANARY-T3-REPORTER-CONTACT"),
    (3, "private", "CANARY-T3-INTERNAL-NARRATIVE"),
    (3, "private", "CANARY-T3-CASE-REF"),
    (2, "admin2", "CANARY-T2-ADMIN2"),
    (2, "admin2", "CANARY-T2-ADMIN2-PCODE"),
    (2, "locality", "CANARY-T2-LOCALITY"),
    (2, "perpetrator_name", "CANARY-T2-PERPETRATOR"),
    (2, "narrative", "kestrel marker for the second tier"),
    (2, "external_refs", "CANARY-T1-AWSD"),
    (2, "external_refs", "CANARY-T1-SIND"),
    (2, "external_refs", "CANARY-T1-ACLED"),
];

/// Every field above T1 in the policy, which a T1 viewer must find in `redacted_fields`.
const T2_FIELDS: &[&str] = &[
    "reported_at",
    "updated_at",
    "origin_org",
    "origin_hub",
    "occurred_on",
    "admin2",
    "locality",
    "location",
    "perpetrator_name",
    "victims",
    "narrative",
    "private",
    "external_refs",
];

fn canary_incident(distribution: pb::Distribution, group: &str) -> pb::Incident {
    use pb::*;
    Incident {
        id: new_id().to_string(),
        occurred_on: Some(slt_proto::google::r#type::Date {
            year: 2023,
            month: 8,
            day: 17, // a Thursday: T1 gets Monday 14th
        }),
        date_precision: DatePrecision::Day as i32,
        country: "SSD".into(),
        admin1: Some(AdminArea {
            name: "Upper Nile".into(),
            pcode: "SS02".into(),
        }),
        admin2: Some(AdminArea {
            name: "CANARY-T2-ADMIN2".into(),
            pcode: "CANARY-T2-ADMIN2-PCODE".into(),
        }),
        locality: "CANARY-T2-LOCALITY".into(),
        location: Some(Location {
            latitude: 9.537_431,
            longitude: 31.656_217,
            precision: GeoPrecision::Exact as i32,
        }),
        threat_category: ThreatCategory::ArmedConflict as i32,
        incident_types: vec![IncidentType::Killing as i32],
        means_of_attack: MeansOfAttack::Shooting as i32,
        attack_context: AttackContext::Raid as i32,
        location_type: LocationType::Road as i32,
        motive: Motive::Political as i32,
        perpetrator_type: PerpetratorType::StaffMember as i32,
        perpetrator_name: "CANARY-T2-PERPETRATOR".into(),
        affected_org_types: Some(AffectedOrgTypes {
            un: 71,
            ingo: 72,
            ..Default::default()
        }),
        victims: vec![
            VictimCount {
                outcome: VictimOutcome::Killed as i32,
                staff: StaffCategory::National as i32,
                sex: Sex::Female as i32,
                count: 4,
                estimated: false,
            },
            VictimCount {
                outcome: VictimOutcome::Killed as i32,
                staff: StaffCategory::National as i32,
                sex: Sex::Male as i32,
                count: 5,
                estimated: false,
            },
            VictimCount {
                outcome: VictimOutcome::Injured as i32,
                staff: StaffCategory::International as i32,
                sex: Sex::Male as i32,
                count: 1,
                estimated: false,
            },
        ],
        ops_impact: OpsImpact::Suspended as i32,
        source_type: SourceType::FocalPoint as i32,
        verification: Verification::Verified as i32,
        narrative: "kestrel marker for the second tier".into(),
        private: Some(PrivateAnnex {
            victim_identities: vec![VictimIdentity {
                name: "CANARY-T3-VICTIM-NAME".into(),
                role: "CANARY-T3-VICTIM-ROLE".into(),
                contact: "CANARY-T3-NEXT-OF-KIN".into(),
                ..Default::default()
            }],
            reporter_contact: "CANARY-T3-REPORTER-CONTACT".into(),
            internal_narrative: "CANARY-T3-INTERNAL-NARRATIVE".into(),
            external_case_refs: vec!["CANARY-T3-CASE-REF".into()],
        }),
        external_refs: Some(ExternalRefs {
            awsd: "CANARY-T1-AWSD".into(),
            sind: "CANARY-T1-SIND".into(),
            acled: "CANARY-T1-ACLED".into(),
        }),
        distribution: distribution as i32,
        sharing_group: group.into(),
        tlp: Tlp::Amber as i32,
        ..Default::default()
    }
}

/// The tier a viewer should get for each test incident (None: invisible).
type ExpectedTiers = [Option<u8>; 3];

/// What one viewer received for the incident through each read path (None: not visible).
async fn read_paths(client: &mut HubClient, id: &str) -> Vec<(&'static str, Option<pb::Incident>)> {
    let get = match client.get(id).await {
        Ok(incident) => Some(incident),
        Err(ClientError::NotFound(_)) => None,
        Err(other) => panic!("get: {other}"),
    };
    let listed = client
        .list_all(Default::default())
        .await
        .expect("list")
        .into_iter()
        .find(|incident| incident.id == id);
    let mut pulled = None;
    let mut stream = client
        .pull("", Default::default(), 100)
        .await
        .expect("pull");
    while let Some(page) = stream.message().await.expect("page") {
        for change in page.changes {
            if change.incident_id == id {
                assert_ne!(
                    change.r#type,
                    pb::ChangeType::Revoke as i32,
                    "never held, never revoked"
                );
                pulled = change.incident;
            }
        }
    }
    vec![
        ("GetIncident", get),
        ("ListIncidents", listed),
        ("SyncService.Pull", pulled),
    ]
}

/// Checks one response against the viewer's tier.
fn check(viewer: &str, path: &str, incident: &pb::Incident, tier: u8) {
    let bytes = incident.encode_to_vec();
    let text = String::from_utf8_lossy(&bytes);
    for (marker_tier, field, marker) in MARKERS {
        if *marker_tier > tier {
            assert!(
                !text.contains(marker),
                "{viewer} via {path}: {marker} leaked"
            );
            assert!(
                incident.redacted_fields.iter().any(|f| f == field),
                "{viewer} via {path}: {field} withheld but not listed"
            );
        } else {
            assert!(
                text.contains(marker),
                "{viewer} via {path}: {marker} missing at T{tier}"
            );
        }
    }
    assert_eq!(
        incident.viewer_tier,
        i32::from(tier) + 1,
        "{viewer} via {path}"
    );
    let location = incident.location.expect("some location");
    let sexes: Vec<i32> = incident.victims.iter().map(|v| v.sex).collect();
    match tier {
        3 => {
            assert!(
                incident.redacted_fields.is_empty(),
                "{viewer}: {:?}",
                incident.redacted_fields
            );
            assert_eq!(location.latitude, 9.537_431);
            assert_eq!(
                incident.perpetrator_type,
                pb::PerpetratorType::StaffMember as i32
            );
        }
        2 => {
            assert_eq!(
                (location.latitude, location.longitude),
                (9.54, 31.66),
                "{viewer}"
            );
            assert_eq!(incident.occurred_on.expect("date").day, 17);
            assert_eq!(
                incident.perpetrator_type,
                pb::PerpetratorType::StaffMember as i32
            );
            assert!(
                sexes.contains(&(pb::Sex::Female as i32)),
                "{viewer}: T2 keeps the sex breakdown"
            );
        }
        1 => {
            assert_eq!(
                (location.latitude, location.longitude),
                (9.5, 31.7),
                "{viewer}"
            );
            assert_eq!(
                incident.occurred_on.expect("date").day,
                14,
                "{viewer}: ISO week start"
            );
            assert_eq!(incident.perpetrator_type, 0, "{viewer}: STAFF_MEMBER is T2");
            assert!(
                sexes.iter().all(|s| *s == pb::Sex::Unknown as i32),
                "{viewer}: {sexes:?}"
            );
            // The lone international injured (a cell of 1) is merged into the outcome total.
            let injured: Vec<_> = incident
                .victims
                .iter()
                .filter(|v| v.outcome == pb::VictimOutcome::Injured as i32)
                .collect();
            assert_eq!(injured.len(), 1);
            assert_eq!(injured[0].staff, pb::StaffCategory::Unknown as i32);
            assert!(incident.origin_org.is_empty() && incident.origin_hub.is_empty());
            assert!(incident.reported_at.is_none() && incident.updated_at.is_none());
            for field in T2_FIELDS {
                assert!(
                    incident.redacted_fields.iter().any(|f| f == field),
                    "{viewer}: {field}"
                );
            }
        }
        _ => unreachable!("no role reads below T1"),
    }
    // T1 numbers arrive at T1 and above.
    let orgs = incident.affected_org_types.expect("affected org types");
    assert_eq!((orgs.un, orgs.ingo), (71, 72));
}

#[tokio::test]
async fn no_viewer_receives_anything_above_its_tier_on_any_read_path() {
    let hub = TestHub::start().await;
    let mut origin = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut community = canary_incident(pb::Distribution::Community, "");
    let mut group = canary_incident(pb::Distribution::SharingGroup, "ssd-ngo-forum");
    let mut org_only = canary_incident(pb::Distribution::OrgOnly, "");
    // Two twins each of the shared ones (the same values under other ids), so that the record
    // rule releases them to other orgs' analysts as they are (a class of three at T1).
    let twins: Vec<pb::Incident> = (0..2)
        .flat_map(|_| {
            [
                canary_incident(pb::Distribution::Community, ""),
                canary_incident(pb::Distribution::SharingGroup, "ssd-ngo-forum"),
            ]
        })
        .collect();
    let mut batch = vec![community.clone(), group.clone(), org_only.clone()];
    batch.extend(twins);
    let results = origin.submit(batch).await.expect("submit");
    // Every reader names them by the hub's ids.
    for (incident, result) in [&mut community, &mut group, &mut org_only]
        .into_iter()
        .zip(&results)
    {
        incident.id = result.id.clone();
    }

    // (viewer, org, role, [tier for COMMUNITY, for the sharing-group incident, for ORG_ONLY])
    let viewers: &[(&str, &str, Role, ExpectedTiers)] = &[
        (
            "origin reporter",
            "ngo-alpha",
            Role::Reporter,
            [Some(3), Some(3), Some(3)],
        ),
        (
            "origin focal point",
            "ngo-alpha",
            Role::FocalPoint,
            [Some(3), Some(3), Some(3)],
        ),
        (
            "origin analyst",
            "ngo-alpha",
            Role::Analyst,
            [Some(2), Some(2), Some(2)],
        ),
        (
            "other focal point",
            "undss",
            Role::FocalPoint,
            [Some(2), None, None],
        ),
        (
            "other analyst, group member",
            "ngo-beta",
            Role::Analyst,
            [Some(1), Some(1), None],
        ),
        (
            "other reporter, group member",
            "ngo-beta",
            Role::Reporter,
            [Some(1), Some(1), None],
        ),
        (
            "other analyst, not a member",
            "unhcr",
            Role::Analyst,
            [Some(1), None, None],
        ),
        (
            "other reporter, not a member",
            "unhcr",
            Role::Reporter,
            [Some(1), None, None],
        ),
    ];
    for (viewer, org, role, [community_tier, group_tier, org_only_tier]) in viewers {
        let mut client = hub.client(org, &[*role]).await;
        for (incident, expected) in [
            (&community, community_tier),
            (&group, group_tier),
            (&org_only, org_only_tier),
        ] {
            for (path, received) in read_paths(&mut client, &incident.id).await {
                match (expected, received) {
                    (Some(tier), Some(received)) => check(viewer, path, &received, *tier),
                    (None, None) => {}
                    (None, Some(_)) => panic!(
                        "{viewer} via {path}: must not see {:?}",
                        incident.distribution
                    ),
                    (Some(_), None) => panic!(
                        "{viewer} via {path}: should see {:?}",
                        incident.distribution
                    ),
                }
            }
        }
    }

    // The access log holds none of it either (ids, filters and counts only).
    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let mut stream = auditor.export_audit(1).await.expect("export");
    let mut exported = Vec::new();
    while let Some(page) = stream.message().await.expect("page") {
        for record in &page.records {
            exported.extend(record.encode_to_vec());
        }
    }
    let exported = String::from_utf8_lossy(&exported);
    assert!(
        exported.contains(&community.id),
        "the log names the incidents read"
    );
    for (_, _, marker) in MARKERS {
        assert!(!exported.contains(marker), "{marker} reached the audit log");
    }

    // Auditors and admins receive no incident content on any path.
    for (org, role) in [("audit-office", Role::Auditor), ("hub-admin", Role::Admin)] {
        let mut client = hub.client(org, &[role]).await;
        assert!(matches!(
            client.get(&community.id).await,
            Err(ClientError::PermissionDenied(_))
        ));
        assert!(matches!(
            client.list(Default::default(), 10, String::new()).await,
            Err(ClientError::PermissionDenied(_))
        ));
    }
}

/// (tier, field, marker) for every advisory field above T0 (the tiers of the incident fields
/// they resemble: summary as narrative, admin2 as admin2).
const ADVISORY_MARKERS: &[(u8, &str, &str)] = &[
    (2, "summary", "CANARY-T2-ADVISORY-SUMMARY"),
    (2, "admin2", "CANARY-T2-ADVISORY-ADMIN2"),
    (2, "admin2", "CANARY-T2-ADVISORY-PCODE"),
];

fn canary_advisory(distribution: pb::Distribution, group: &str) -> pb::Advisory {
    pb::Advisory {
        id: new_id().to_string(),
        country: "SSD".into(),
        admin1: Some(pb::AdminArea {
            name: "Upper Nile".into(),
            pcode: "SS02".into(),
        }),
        admin2: Some(pb::AdminArea {
            name: "CANARY-T2-ADVISORY-ADMIN2".into(),
            pcode: "CANARY-T2-ADVISORY-PCODE".into(),
        }),
        security_level: pb::SecurityLevel::Substantial as i32,
        threat_category: pb::ThreatCategory::ArmedConflict as i32,
        valid_from: Some(slt_proto::google::r#type::Date {
            year: 2020,
            month: 1,
            day: 1,
        }),
        valid_until: Some(slt_proto::google::r#type::Date {
            year: 2099,
            month: 12,
            day: 31,
        }),
        summary: "CANARY-T2-ADVISORY-SUMMARY".into(),
        distribution: distribution as i32,
        sharing_group: group.into(),
        tlp: pb::Tlp::Amber as i32,
        ..Default::default()
    }
}

/// What one viewer received of an advisory through each read path.
async fn advisory_read_paths(
    client: &mut HubClient,
    id: &str,
) -> Vec<(&'static str, Option<pb::Advisory>)> {
    let listed = client
        .list_advisories(Default::default())
        .await
        .expect("list advisories")
        .into_iter()
        .find(|advisory| advisory.id == id);
    let mut pulled = None;
    let mut stream = client
        .pull("", Default::default(), 100)
        .await
        .expect("pull");
    while let Some(page) = stream.message().await.expect("page") {
        for change in page.changes {
            if change.advisory_id == id {
                assert_ne!(
                    change.r#type,
                    pb::ChangeType::Revoke as i32,
                    "never held, never revoked"
                );
                pulled = change.advisory;
            }
        }
    }
    vec![("ListAdvisories", listed), ("SyncService.Pull", pulled)]
}

#[tokio::test]
async fn no_viewer_receives_an_advisory_field_above_its_tier_on_any_read_path() {
    let hub = TestHub::start().await;
    let mut issuer = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let mut issued = Vec::new();
    for (distribution, group) in [
        (pb::Distribution::Community, ""),
        (pb::Distribution::SharingGroup, "ssd-ngo-forum"),
        (pb::Distribution::OrgOnly, ""),
    ] {
        issued.push(
            issuer
                .issue_advisory(canary_advisory(distribution, group), 0)
                .await
                .expect("issue"),
        );
    }
    let viewers: &[(&str, &str, Role, ExpectedTiers)] = &[
        (
            "origin reporter",
            "ngo-alpha",
            Role::Reporter,
            [Some(3), Some(3), Some(3)],
        ),
        (
            "origin focal point",
            "ngo-alpha",
            Role::FocalPoint,
            [Some(3), Some(3), Some(3)],
        ),
        (
            "origin analyst",
            "ngo-alpha",
            Role::Analyst,
            [Some(2), Some(2), Some(2)],
        ),
        (
            "other focal point",
            "undss",
            Role::FocalPoint,
            [Some(2), None, None],
        ),
        (
            "other analyst, group member",
            "ngo-beta",
            Role::Analyst,
            [Some(1), Some(1), None],
        ),
        (
            "other reporter, group member",
            "ngo-beta",
            Role::Reporter,
            [Some(1), Some(1), None],
        ),
        (
            "other analyst, not a member",
            "unhcr",
            Role::Analyst,
            [Some(1), None, None],
        ),
    ];
    for (viewer, org, role, tiers) in viewers {
        let mut client = hub.client(org, &[*role]).await;
        for (advisory, expected) in issued.iter().zip(tiers) {
            for (path, received) in advisory_read_paths(&mut client, &advisory.id).await {
                match (expected, received) {
                    (Some(tier), Some(received)) => {
                        let bytes = received.encode_to_vec();
                        let text = String::from_utf8_lossy(&bytes);
                        for (marker_tier, field, marker) in ADVISORY_MARKERS {
                            if marker_tier > tier {
                                assert!(!text.contains(marker), "{viewer} via {path}: {marker}");
                                assert!(
                                    received.redacted_fields.iter().any(|f| f == field),
                                    "{viewer} via {path}: {field} not listed"
                                );
                            } else {
                                assert!(text.contains(marker), "{viewer} via {path}: {marker}");
                            }
                        }
                        assert_eq!(received.viewer_tier, i32::from(*tier) + 1, "{viewer}");
                        assert_eq!(
                            received.issuing_org.is_empty(),
                            *tier < 2,
                            "{viewer} via {path}: issuing_org is T2"
                        );
                        assert_eq!(received.issued_at.is_none(), *tier < 2, "{viewer}");
                    }
                    (None, None) => {}
                    (None, Some(_)) => panic!("{viewer} via {path}: must not see it"),
                    (Some(_), None) => panic!("{viewer} via {path}: should see it"),
                }
            }
            // The picture names only the level and the advisory id of what the viewer sees.
            let picture = client
                .threat_picture(pb::GetThreatPictureRequest {
                    countries: vec!["SSD".into()],
                    from: Some(slt_proto::google::r#type::Date {
                        year: 2024,
                        month: 1,
                        day: 1,
                    }),
                    to: Some(slt_proto::google::r#type::Date {
                        year: 2024,
                        month: 12,
                        day: 31,
                    }),
                    ..Default::default()
                })
                .await
                .expect("picture");
            let text = String::from_utf8_lossy(&picture.encode_to_vec()).to_string();
            for (_, _, marker) in ADVISORY_MARKERS {
                assert!(!text.contains(marker), "{viewer}: {marker} in the picture");
            }
            let mentioned = picture
                .security_levels
                .iter()
                .any(|level| level.advisory_id == advisory.id);
            if mentioned {
                assert!(
                    expected.is_some(),
                    "{viewer}: the picture names an invisible advisory"
                );
            }
        }
    }
}
