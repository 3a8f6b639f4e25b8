//! IncidentService end to end: submit, get, list (filters, paging), amend, retract, idempotency,
//! conflicts, all-or-nothing validation, and what other organisations may see.

use slt_client::{ClientError, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, submit_stored};

const REPORTER: &[Role] = &[Role::Reporter];
const ANALYST: &[Role] = &[Role::Analyst];
const FOCAL_POINT: &[Role] = &[Role::FocalPoint];

fn outcome(result: &pb::SubmitResult) -> pb::SubmitOutcome {
    pb::SubmitOutcome::try_from(result.outcome).expect("outcome")
}

#[tokio::test]
async fn submit_get_amend_retract_round_trip() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let id = new_id();
    let results = alpha
        .submit(vec![sample_incident(id)])
        .await
        .expect("submit");
    assert_eq!(results.len(), 1);
    assert_eq!(outcome(&results[0]), pb::SubmitOutcome::Created);
    assert_eq!(results[0].version, 1);

    // The origin org's reporter gets everything back, T3 included, and the hub's fields set.
    let stored = alpha.get(&id.to_string()).await.expect("get");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.origin_org, "ngo-alpha");
    assert_eq!(stored.origin_hub, slt_tests::DEV_HUB_ID);
    assert_eq!(stored.origin_org_type, pb::OrgType::Ingo as i32);
    assert!(stored.reported_at.is_some());
    assert!(
        stored.redacted_fields.is_empty(),
        "{:?}",
        stored.redacted_fields
    );
    assert_eq!(stored.id, results[0].id, "read back under the hub's id");
    let mut expected = sample_incident(id);
    expected.id = stored.id.clone();
    expected.version = stored.version;
    expected.origin_org = stored.origin_org.clone();
    expected.origin_hub = stored.origin_hub.clone();
    expected.origin_org_type = stored.origin_org_type;
    expected.reported_at = stored.reported_at;
    expected.updated_at = stored.updated_at;
    expected.viewer_tier = pb::AccessTier::T3 as i32;
    // The hub adds the pseudonymous victim key to the annex.
    let stored_key = stored.private.as_ref().expect("annex").victim_identities[0]
        .victim_key
        .clone();
    assert_eq!(stored_key.len(), 64);
    if let Some(annex) = expected.private.as_mut() {
        annex.victim_identities[0].victim_key = stored_key;
    }
    assert_eq!(stored, expected, "what was submitted comes back unchanged");

    // Amend with the right version.
    let mut amended = sample_incident(id);
    amended.verification = pb::Verification::Verified as i32;
    amended.narrative = "Verified by the area security officer.".into();
    let after = alpha.amend(amended, 1).await.expect("amend");
    assert_eq!(after.version, 2);
    assert_eq!(after.verification, pb::Verification::Verified as i32);
    assert_eq!(
        alpha.get(&id.to_string()).await.expect("get").narrative,
        "Verified by the area security officer."
    );

    // Retract: stays readable, marked, with the reason.
    let retracted = alpha
        .retract(&id.to_string(), "duplicate of an earlier report", 2)
        .await
        .expect("retract");
    assert_eq!(retracted.version, 3);
    assert_eq!(retracted.verification, pb::Verification::Retracted as i32);
    assert_eq!(
        retracted.retraction_reason,
        "duplicate of an earlier report"
    );
    let again = alpha.get(&id.to_string()).await.expect("get");
    assert_eq!(again.verification, pb::Verification::Retracted as i32);

    // A retracted incident cannot be amended or retracted again.
    let error = alpha
        .amend(sample_incident(id), 3)
        .await
        .expect_err("amend retracted");
    assert!(
        matches!(error, ClientError::FailedPrecondition(_)),
        "{error}"
    );
}

#[tokio::test]
async fn resubmitting_is_idempotent_and_reusing_an_id_is_a_conflict_for_its_own_org() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let batch: Vec<pb::Incident> = (0..5).map(|_| sample_incident(new_id())).collect();
    let first = alpha.submit(batch.clone()).await.expect("submit");
    assert!(
        first
            .iter()
            .all(|r| outcome(r) == pb::SubmitOutcome::Created)
    );

    let second = alpha.submit(batch.clone()).await.expect("resubmit");
    assert!(
        second
            .iter()
            .all(|r| outcome(r) == pb::SubmitOutcome::Unchanged && r.version == 1),
        "{second:?}"
    );
    let all = alpha.list_all(Default::default()).await.expect("list");
    assert_eq!(all.len(), 5, "no duplicates were written");

    // Same id, other content: a conflict, and the stored record is untouched.
    let mut changed = batch[0].clone();
    changed.narrative = "something else entirely".into();
    let fresh = sample_incident(new_id());
    let third = alpha
        .submit(vec![changed, fresh.clone()])
        .await
        .expect("submit");
    assert_eq!(outcome(&third[0]), pb::SubmitOutcome::Conflict);
    assert_eq!(third[0].version, 1);
    assert_eq!(outcome(&third[1]), pb::SubmitOutcome::Created);
    assert_eq!(
        alpha.get(&batch[0].id).await.expect("get").narrative,
        batch[0].narrative
    );

    // Another org reusing the id lands in its own id space: a record of its own, and nothing
    // learnt about alpha's (tests/id_space.rs plays this attack in full).
    let mut beta = hub.client("ngo-beta", REPORTER).await;
    let foreign = beta.submit(vec![batch[1].clone()]).await.expect("submit");
    assert_eq!(outcome(&foreign[0]), pb::SubmitOutcome::Created);
    assert_ne!(foreign[0].id, first[1].id);
}

#[tokio::test]
async fn stale_versions_are_refused() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let id = new_id();
    alpha
        .submit(vec![sample_incident(id)])
        .await
        .expect("submit");
    alpha
        .amend(sample_incident(id), 1)
        .await
        .expect("amend to v2");

    let stale = alpha
        .amend(sample_incident(id), 1)
        .await
        .expect_err("stale amend");
    match stale {
        ClientError::VersionConflict {
            current_version, ..
        } => assert_eq!(current_version, Some(2)),
        other => panic!("expected a version conflict, got {other}"),
    }
    let stale = alpha
        .retract(&id.to_string(), "wrong", 1)
        .await
        .expect_err("stale retract");
    assert!(
        matches!(stale, ClientError::VersionConflict { .. }),
        "{stale}"
    );
    assert_eq!(alpha.get(&id.to_string()).await.expect("get").version, 2);

    // expected_version is required.
    let missing = alpha
        .amend(sample_incident(id), 0)
        .await
        .expect_err("no version");
    match missing {
        ClientError::InvalidArgument { violations, .. } => {
            assert!(violations.iter().any(|v| v.field == "expected_version"))
        }
        other => panic!("expected invalid argument, got {other}"),
    }
}

#[tokio::test]
async fn a_batch_with_one_bad_incident_writes_nothing_and_names_every_bad_field() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let good = sample_incident(new_id());
    let mut bad = sample_incident(new_id());
    bad.country = "XYZ".into();
    bad.occurred_on = Some(slt_proto::google::r#type::Date {
        year: 2021,
        month: 2,
        day: 30,
    });
    bad.location = Some(pb::Location {
        latitude: 123.0,
        longitude: 31.0,
        precision: pb::GeoPrecision::Exact as i32,
    });
    bad.incident_types = vec![];
    bad.threat_category = 42;
    bad.victims[0].count = 200_000;
    bad.narrative = "x".repeat(17 * 1024);
    bad.id = "not-a-uuid".into();

    let error = alpha
        .submit(vec![good.clone(), bad])
        .await
        .expect_err("bad batch");
    let ClientError::InvalidArgument { violations, .. } = error else {
        panic!("expected INVALID_ARGUMENT, got {error}");
    };
    let mut fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "incidents[1].country",
            "incidents[1].id",
            "incidents[1].incident_types",
            "incidents[1].location.latitude",
            "incidents[1].narrative",
            "incidents[1].occurred_on",
            "incidents[1].threat_category",
            "incidents[1].victims[0].count",
        ]
    );
    // Nothing was written, not even the good incident.
    let error = alpha.get(&good.id).await.expect_err("not written");
    assert!(matches!(error, ClientError::NotFound(_)), "{error}");
    assert!(
        alpha
            .list_all(Default::default())
            .await
            .expect("list")
            .is_empty()
    );

    // An empty batch is refused too.
    let error = alpha.submit(vec![]).await.expect_err("empty");
    assert!(
        matches!(error, ClientError::InvalidArgument { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn list_filters_and_pages() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut batch = Vec::new();
    for (index, (country, day)) in [
        ("SSD", 1),
        ("SSD", 2),
        ("AFG", 3),
        ("SSD", 4),
        ("AFG", 5),
        ("SSD", 6),
        ("SSD", 7),
    ]
    .into_iter()
    .enumerate()
    {
        let mut incident = sample_incident(new_id());
        incident.country = country.into();
        incident.occurred_on = Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 6,
            day,
        });
        if index == 2 {
            incident.incident_types = vec![pb::IncidentType::Killing as i32];
            incident.threat_category = pb::ThreatCategory::ArmedConflict as i32;
            incident.admin1 = Some(pb::AdminArea {
                name: "Kandahar".into(),
                pcode: String::new(),
            });
        }
        batch.push(incident);
    }
    submit_stored(&mut alpha, &mut batch).await;

    let ids =
        |incidents: &[pb::Incident]| incidents.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    let by_country = alpha
        .list_all(pb::IncidentFilter {
            countries: vec!["ss".into()], // alpha-2, lower case: normalised to SSD
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(by_country.len(), 5);
    assert!(by_country.iter().all(|i| i.country == "SSD"));

    let killings = alpha
        .list_all(pb::IncidentFilter {
            incident_types: vec![pb::IncidentType::Killing as i32],
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&killings), [batch[2].id.clone()]);

    let by_category_and_admin1 = alpha
        .list_all(pb::IncidentFilter {
            threat_categories: vec![pb::ThreatCategory::ArmedConflict as i32],
            admin1: vec!["KANDAHAR".into()],
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&by_category_and_admin1), [batch[2].id.clone()]);

    let date = |day| {
        Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 6,
            day,
        })
    };
    let window = alpha
        .list_all(pb::IncidentFilter {
            occurred_from: date(2),
            occurred_to: date(5),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(&window), ids(&batch[1..5]));

    // Paging: pages of 3 over 7 incidents, in submission order, each exactly once.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = alpha
            .list(Default::default(), 3, token)
            .await
            .expect("page");
        assert!(page.incidents.len() <= 3);
        assert!(!page.policy_version.is_empty());
        seen.extend(ids(&page.incidents));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids(&batch));

    // A page token is bound to its filter.
    let first = alpha
        .list(Default::default(), 3, String::new())
        .await
        .expect("page");
    let error = alpha
        .list(
            pb::IncidentFilter {
                countries: vec!["AFG".into()],
                ..Default::default()
            },
            3,
            first.next_page_token,
        )
        .await
        .expect_err("token for another filter");
    assert!(
        matches!(error, ClientError::InvalidArgument { .. }),
        "{error}"
    );

    // Bad filter values are named.
    let error = alpha
        .list(
            pb::IncidentFilter {
                countries: vec!["Narnia".into()],
                incident_types: vec![999],
                ..Default::default()
            },
            10,
            String::new(),
        )
        .await
        .expect_err("bad filter");
    let ClientError::InvalidArgument { violations, .. } = error else {
        panic!("expected INVALID_ARGUMENT");
    };
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["filter.countries[0]", "filter.incident_types[0]"]);
}

#[tokio::test]
async fn retracted_incidents_leave_the_default_list_but_remain_findable() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut both = [sample_incident(new_id()), sample_incident(new_id())];
    submit_stored(&mut alpha, &mut both).await;
    let [keep, drop] = both;
    alpha
        .retract(&drop.id, "entered twice", 1)
        .await
        .expect("retract");

    let default = alpha.list_all(Default::default()).await.expect("list");
    assert_eq!(default.len(), 1);
    assert_eq!(default[0].id, keep.id);
    let retracted = alpha
        .list_all(pb::IncidentFilter {
            verifications: vec![pb::Verification::Retracted as i32],
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(retracted.len(), 1);
    assert_eq!(retracted[0].id, drop.id);
}

#[tokio::test]
async fn org_only_incidents_and_the_private_annex_stay_with_the_origin_org() {
    let hub = TestHub::start().await;
    let mut alpha_reporter = hub.client("ngo-alpha", REPORTER).await;
    let mut private = sample_incident(new_id());
    private.distribution = pb::Distribution::OrgOnly as i32;
    let mut shared = sample_incident(new_id());
    // Two twins of the shared one, so that the record rule releases it to other orgs' analysts.
    let mut batch = vec![private.clone(), shared.clone()];
    batch.extend(slt_tests::sample_class(2));
    let results = alpha_reporter.submit(batch).await.expect("submit");
    // Others can only know them by the hub's ids.
    private.id = results[0].id.clone();
    shared.id = results[1].id.clone();
    let mut community: Vec<&str> = results[1..].iter().map(|r| r.id.as_str()).collect();
    community.sort_unstable();

    // Every other org and role: the ORG_ONLY incident does not exist for them, on any read.
    for (org, roles) in [
        ("ngo-beta", REPORTER),
        ("ngo-beta", ANALYST),
        ("undss", FOCAL_POINT),
        ("unhcr", ANALYST),
    ] {
        let mut other = hub.client(org, roles).await;
        let error = other.get(&private.id).await.expect_err("invisible");
        assert!(matches!(error, ClientError::NotFound(_)), "{org}: {error}");
        let listed = other.list_all(Default::default()).await.expect("list");
        let mut listed: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
        listed.sort_unstable();
        assert_eq!(listed, community, "{org} sees only the COMMUNITY incidents");
        // Nor can they filter their way to it.
        let by_origin = other
            .list_all(pb::IncidentFilter {
                origin_orgs: vec!["ngo-alpha".into()],
                ..Default::default()
            })
            .await
            .expect("list");
        assert!(by_origin.iter().all(|i| i.id != private.id), "{org}");
        // And may not change what they can see.
        if roles == REPORTER {
            let error = other
                .amend(shared.clone(), 1)
                .await
                .expect_err("foreign amend");
            assert!(matches!(error, ClientError::PermissionDenied(_)), "{error}");
            let error = other
                .retract(&private.id, "x", 1)
                .await
                .expect_err("foreign retract");
            assert!(matches!(error, ClientError::NotFound(_)), "{error}");
        }

        // The shared incident reaches them without the T3 annex, whatever their tier.
        let seen = other.get(&shared.id).await.expect("visible");
        assert!(
            seen.private.is_none(),
            "{org} must not get the private annex"
        );
        assert!(seen.redacted_fields.contains(&"private".to_string()));
        let json = format!("{seen:?}");
        assert!(!json.contains("CANARY"), "{org} got T3 content: {json}");
    }

    // Below T2 (another org's analyst), T2 fields are gone or generalised, and listed.
    let mut beta_analyst = hub.client("ngo-beta", ANALYST).await;
    let t1 = beta_analyst.get(&shared.id).await.expect("get");
    assert!(t1.narrative.is_empty());
    assert!(t1.perpetrator_name.is_empty());
    assert!(t1.origin_org.is_empty());
    assert_eq!(
        t1.origin_org_type,
        pb::OrgType::Ingo as i32,
        "T0 keeps the org type"
    );
    assert!(t1.admin2.is_none());
    let location = t1.location.expect("rounded location");
    assert!(
        (location.latitude - 6.2).abs() < 1e-9,
        "{}",
        location.latitude
    );
    for field in [
        "narrative",
        "perpetrator_name",
        "origin_org",
        "admin2",
        "location",
        "occurred_on",
    ] {
        assert!(t1.redacted_fields.contains(&field.to_string()), "{field}");
    }
    // Another org's focal point (T2) gets the operational detail but still no T3.
    let mut undss = hub.client("undss", FOCAL_POINT).await;
    let t2 = undss.get(&shared.id).await.expect("get");
    assert_eq!(t2.narrative, shared.narrative);
    assert_eq!(t2.origin_org, "ngo-alpha");
    assert_eq!(t2.redacted_fields, ["private", "location"]);
    assert_eq!(t2.viewer_tier, pb::AccessTier::T2 as i32);
    let rounded = t2.location.expect("location at 0.01 degree");
    assert_eq!((rounded.latitude, rounded.longitude), (6.21, 31.56));

    // Within the origin org: the analyst is T2 (no annex); reporters and focal points are T3.
    let mut alpha_analyst = hub.client("ngo-alpha", ANALYST).await;
    assert!(
        alpha_analyst
            .get(&private.id)
            .await
            .expect("get")
            .private
            .is_none()
    );
    let mut alpha_focal = hub.client("ngo-alpha", FOCAL_POINT).await;
    let full = alpha_focal.get(&private.id).await.expect("get");
    assert_eq!(
        full.private.expect("annex").reporter_contact,
        "CANARY-REPORTER-CONTACT"
    );
}

#[tokio::test]
async fn data_survives_a_hub_restart() {
    let mut hub = TestHub::start().await;
    let id = new_id();
    hub.client("ngo-alpha", REPORTER)
        .await
        .submit(vec![sample_incident(id)])
        .await
        .expect("submit");
    hub.restart().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let incident = alpha.get(&id.to_string()).await.expect("after restart");
    assert_eq!(incident.version, 1);
    // Retrying the original batch after the restart is still a no-op.
    let retry = alpha
        .submit(vec![sample_incident(id)])
        .await
        .expect("retry");
    assert_eq!(outcome(&retry[0]), pb::SubmitOutcome::Unchanged);
    hub.stop().await;
}

#[tokio::test]
async fn narratives_are_scrubbed_at_ingest_and_victims_get_pseudonymous_keys() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let named = |name: &str, narrative: &str| {
        let mut incident = sample_incident(new_id());
        incident.narrative = narrative.into();
        incident.private = Some(pb::PrivateAnnex {
            victim_identities: vec![pb::VictimIdentity {
                name: name.into(),
                role: "driver".into(),
                contact: String::new(),
                victim_key: "client-sent keys are ignored".into(),
            }],
            ..Default::default()
        });
        incident
    };
    let first = named(
        "Abdirahman Farah",
        "Abdirahman Farah was stopped near Kismayo; call +252 61 555 0199 or write to \
         abdi.farah@example.org. Farah was released on 12 March 2024.",
    );
    let second = named("abdirahman  FARAH", "A second stop on the same road.");
    let results = alpha
        .submit(vec![first.clone(), second.clone()])
        .await
        .expect("submit");
    let scrubbed: Vec<(String, u32)> = results[0]
        .scrubbed
        .iter()
        .map(|count| (count.kind.clone(), count.count))
        .collect();
    assert_eq!(
        scrubbed,
        [
            ("EMAIL".to_string(), 1),
            ("PHONE".to_string(), 1),
            ("NAME".to_string(), 2)
        ]
    );
    assert!(results[1].scrubbed.is_empty());

    let stored = alpha.get(&first.id).await.expect("get");
    assert_eq!(
        stored.narrative,
        "[NAME] was stopped near Kismayo; call [PHONE] or write to [EMAIL]. [NAME] was released \
         on 12 March 2024."
    );
    let key = |incident: &pb::Incident| {
        incident.private.as_ref().expect("annex").victim_identities[0]
            .victim_key
            .clone()
    };
    let first_key = key(&stored);
    assert_eq!(first_key.len(), 64);
    assert_ne!(first_key, "client-sent keys are ignored");
    // The same person (spelled differently) links within the org...
    assert_eq!(key(&alpha.get(&second.id).await.expect("get")), first_key);
    // ...but not across orgs.
    let mut beta = hub.client("ngo-beta", REPORTER).await;
    let third = named("Abdirahman Farah", "Same name, another organisation.");
    beta.submit(vec![third.clone()]).await.expect("submit");
    assert_ne!(key(&beta.get(&third.id).await.expect("get")), first_key);

    // Retrying the original batch is still a no-op: idempotency is over what was sent.
    let retry = alpha.submit(vec![first, second]).await.expect("retry");
    assert!(
        retry
            .iter()
            .all(|r| outcome(r) == pb::SubmitOutcome::Unchanged)
    );
}

#[tokio::test]
async fn filters_cannot_reveal_more_than_the_viewer_is_shown() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    // Three alike (occurred Thursday 2024-05-16), a class the record rule releases to another
    // org's analyst as the tier shows it.
    alpha
        .submit(slt_tests::sample_class(3))
        .await
        .expect("submit");
    let day = |day| {
        Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 5,
            day,
        })
    };
    let on = |d| pb::IncidentFilter {
        occurred_from: day(d),
        occurred_to: day(d),
        ..Default::default()
    };

    // Another org's analyst is shown the ISO week (Monday 13th): filtering on the exact day
    // must not find it, filtering on the shown date must.
    let mut beta = hub.client("ngo-beta", ANALYST).await;
    assert!(beta.list_all(on(16)).await.expect("list").is_empty());
    assert_eq!(beta.list_all(on(13)).await.expect("list").len(), 3);
    // The origin org and another org's focal point (T2) filter on the exact date.
    assert_eq!(alpha.list_all(on(16)).await.expect("list").len(), 3);
    let mut undss = hub.client("undss", FOCAL_POINT).await;
    assert_eq!(undss.list_all(on(16)).await.expect("list").len(), 3);

    // Filtering on the origin org, which a T1 viewer is not shown, finds nothing and gives no
    // page token to count with.
    let by_origin = pb::IncidentFilter {
        origin_orgs: vec!["ngo-alpha".into()],
        ..Default::default()
    };
    let page = beta
        .list(by_origin.clone(), 1, String::new())
        .await
        .expect("list");
    assert!(page.incidents.is_empty());
    assert!(page.next_page_token.is_empty());
    assert_eq!(undss.list_all(by_origin).await.expect("list").len(), 3);
}

/// The violations' field paths of an INVALID_ARGUMENT, or a panic naming what came instead.
fn invalid_fields(error: ClientError) -> Vec<String> {
    let ClientError::InvalidArgument { violations, .. } = error else {
        panic!("expected INVALID_ARGUMENT, got {error}");
    };
    violations.into_iter().map(|v| v.field).collect()
}

/// A NUL character in a text that is stored or compared in SQL gets the same answer on both
/// backends: INVALID_ARGUMENT naming the field (PostgreSQL text cannot hold U+0000, so
/// before this the PostgreSQL hub answered INTERNAL where the SQLite hub stored the text).
#[tokio::test]
async fn nul_characters_are_refused_with_the_field_on_every_backend() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;

    let mut incident = sample_incident(new_id());
    if let Some(area) = incident.admin1.as_mut() {
        area.name = "Jong\0lei".into();
    }
    let error = alpha
        .submit(vec![incident])
        .await
        .expect_err("NUL in admin1");
    assert_eq!(invalid_fields(error), ["incidents[0].admin1.name"]);

    let id = new_id();
    alpha
        .submit(vec![sample_incident(id)])
        .await
        .expect("submit");
    let error = alpha
        .retract(&id.to_string(), "Dup\0licate", 1)
        .await
        .expect_err("NUL in the reason");
    assert_eq!(invalid_fields(error), ["reason"]);

    for filter in [
        pb::IncidentFilter {
            admin1: vec!["jong\0lei".into()],
            ..Default::default()
        },
        pb::IncidentFilter {
            origin_orgs: vec!["ngo-\0alpha".into()],
            ..Default::default()
        },
    ] {
        let error = alpha
            .list(filter, 10, String::new())
            .await
            .expect_err("NUL in a filter");
        let fields = invalid_fields(error);
        assert!(
            fields == ["filter.admin1[0]"] || fields == ["filter.origin_orgs[0]"],
            "{fields:?}"
        );
    }

    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let error = auditor
        .query_audit(pb::QueryAuditRequest {
            org: "ngo-\0alpha".into(),
            ..Default::default()
        })
        .await
        .expect_err("NUL in an audit filter");
    assert_eq!(invalid_fields(error), ["org"]);

    // Nothing was stored from the refused calls and the hub still serves.
    let stored = alpha.get(&id.to_string()).await.expect("get");
    assert_eq!(stored.version, 1);
}
