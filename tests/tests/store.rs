//! The store's conformance suite: the behaviour of `slt_hub::store::Store` written once and run
//! against every backend this machine offers — a SQLite file always, and a fresh PostgreSQL
//! database when `SLT_TEST_POSTGRES_URL` is set (as `scripts/test.sh` does). Both backends run
//! the same SQL, so this is where a dialect difference would show.

use slt_hub::domain::AdvisoryContent;
use slt_hub::domain::{
    AdminArea, AffectedOrgTypes, AreaLevel, AuditEntry, DatePrecision, Distribution, ExternalRefs,
    Granularity, IncidentContent, IncidentFilter, IncidentType, OrgType, PictureGroup,
    PictureQuery, PrivateAnnex, Received, SecurityLevel, Sex, StaffCategory, StoredAdvisory,
    StoredIncident, ThreatCategory, Tier, Tlp, Verification, VictimCount, VictimDetail,
    VictimOutcome, VisibilityScope,
};
use slt_hub::federation::copies::FederationRules;
use slt_hub::store::{
    AdvisoryFilter, AuditFilter, ChangeKind, Entity, FederatedChange, FederatedPage, ListQuery,
    NewIncident, Store, StoreError, SubmitOutcome,
};
use slt_tests::{TestDatabase, new_id, postgres_admin_url};
use tempfile::TempDir;
use time::macros::date;
use uuid::Uuid;

/// One store per backend, each on an empty database (kept alive with it).
struct Backend {
    store: Store,
    _dir: TempDir,
    _database: Option<TestDatabase>,
}

async fn backends() -> Vec<Backend> {
    let dir = TempDir::new().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let mut backends = vec![Backend {
        store: Store::open(&url).await.expect("sqlite store"),
        _dir: dir,
        _database: None,
    }];
    if let Some(admin_url) = postgres_admin_url() {
        let database = TestDatabase::create(&admin_url).await;
        backends.push(Backend {
            store: Store::open(&database.url).await.expect("postgres store"),
            _dir: TempDir::new().expect("tempdir"),
            _database: Some(database),
        });
    }
    backends
}

fn content(country: &str, admin1: &str, day: time::Date) -> IncidentContent {
    IncidentContent {
        occurred_on: day,
        date_precision: DatePrecision::Day,
        country: country.into(),
        admin1: Some(AdminArea {
            name: admin1.into(),
            pcode: None,
        }),
        admin2: None,
        locality: None,
        location: None,
        threat_category: ThreatCategory::ArmedConflict,
        incident_types: vec![IncidentType::Killing, IncidentType::Abduction],
        means_of_attack: None,
        attack_context: None,
        location_type: None,
        motive: None,
        perpetrator_type: None,
        perpetrator_name: None,
        affected_org_types: AffectedOrgTypes::default(),
        victims: vec![
            VictimCount {
                outcome: VictimOutcome::Killed,
                staff: StaffCategory::National,
                sex: Sex::Male,
                count: 2,
                estimated: false,
            },
            VictimCount {
                outcome: VictimOutcome::Kidnapped,
                staff: StaffCategory::International,
                sex: Sex::Female,
                count: 1,
                estimated: false,
            },
        ],
        ops_impact: None,
        source_type: None,
        verification: Verification::Verified,
        narrative: Some("A convoy was attacked.".into()),
        external_refs: ExternalRefs::default(),
        distribution: Distribution::Community,
        sharing_group: None,
        tlp: Tlp::Green,
    }
}

fn incident(org: &str, content: IncidentContent) -> StoredIncident {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("ns");
    StoredIncident {
        id: new_id(),
        version: 1,
        origin_org: org.into(),
        origin_hub: "hub-local".into(),
        origin_org_type: OrgType::Ingo,
        reported_at: now,
        updated_at: now,
        retraction_reason: None,
        content,
        private: Some(PrivateAnnex {
            reporter_contact: "desk@example.org".into(),
            ..PrivateAnnex::default()
        }),
        received: None,
    }
}

fn new(incident: &StoredIncident, hash: &str) -> NewIncident {
    NewIncident {
        incident: incident.clone(),
        submit_hash: hash.into(),
        group_members: None,
    }
}

/// A partner's analyst of `org`: own incidents, and others' COMMUNITY / FEDERATION ones.
fn scope(org: &str) -> VisibilityScope {
    VisibilityScope {
        own_org: Some(org.into()),
        shared_distributions: vec![Distribution::Community, Distribution::Federation],
        sharing_groups: vec![],
        allowed_tlps: None,
        excluded_origin_hub: None,
        own_date_precision: DatePrecision::Day,
        others_date_precision: DatePrecision::Week,
        others_origin_visible: false,
    }
}

fn audit_entry(method: &str, ids: &[Uuid]) -> AuditEntry {
    AuditEntry {
        time: "2026-12-07T10:00:00.000000Z".into(),
        hub_id: "hub-local".into(),
        org: "ngo-alpha".into(),
        subject: "reporter".into(),
        roles: vec!["reporter".into()],
        method: method.into(),
        outcome: "OK".into(),
        incident_ids: ids.iter().map(Uuid::to_string).collect(),
        ..AuditEntry::default()
    }
}

async fn list_ids(store: &Store, scope: &VisibilityScope, filter: &IncidentFilter) -> Vec<Uuid> {
    let page = store
        .list(&ListQuery {
            scope,
            filter,
            after: None,
            limit: 1_000,
        })
        .await
        .expect("list");
    page.rows.into_iter().map(|(_, i)| i.id).collect()
}

#[tokio::test]
async fn ids_versions_and_amendments_behave_alike_on_every_backend() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend_name();
        let first = incident("ngo-alpha", content("AFG", "Kabul", date!(2024 - 03 - 05)));
        let batch = [new(&first, "h1"), new(&first, "h1")];
        let outcomes = store.submit(&batch, None).await.expect("submit");
        assert_eq!(
            outcomes,
            [
                SubmitOutcome::Created,
                SubmitOutcome::Unchanged { version: 1 }
            ],
            "{name}: a repeat within the batch is unchanged"
        );
        let again = store
            .submit(&[new(&first, "h1")], None)
            .await
            .expect("again");
        assert_eq!(again, [SubmitOutcome::Unchanged { version: 1 }], "{name}");
        let other = store
            .submit(&[new(&first, "h2")], None)
            .await
            .expect("other");
        assert_eq!(
            other,
            [SubmitOutcome::Conflict {
                existing_version: 1,
                existing_org: "ngo-alpha".into()
            }],
            "{name}: other content under the same id"
        );

        let stored = store.get(first.id).await.expect("get").expect("stored");
        assert_eq!(
            stored, first,
            "{name}: read back whole, private annex included"
        );
        assert!(store.get(new_id()).await.expect("get").is_none(), "{name}");

        let mut amended = first.clone();
        amended.version = 2;
        amended.content.country = "SOM".into();
        amended.content.incident_types = vec![IncidentType::Robbery];
        amended.private = None;
        let stale = store
            .update(&amended, 5, ChangeKind::Amend, None, None)
            .await;
        assert!(
            matches!(stale, Err(StoreError::VersionMismatch { current: 1 })),
            "{name}: {stale:?}"
        );
        let mut missing = amended.clone();
        missing.id = new_id();
        let absent = store
            .update(&missing, 1, ChangeKind::Amend, None, None)
            .await;
        assert!(matches!(absent, Err(StoreError::NotFound)), "{name}");
        let entry = audit_entry("Amend", &[first.id]);
        store
            .update(&amended, 1, ChangeKind::Amend, None, Some(&entry))
            .await
            .expect("amend");
        let stored = store.get(first.id).await.expect("get").expect("stored");
        assert_eq!(
            stored, amended,
            "{name}: the amendment replaced the record and annex"
        );
        let by_type = IncidentFilter {
            incident_types: vec![IncidentType::Robbery],
            ..IncidentFilter::default()
        };
        assert_eq!(
            list_ids(store, &scope("ngo-alpha"), &by_type).await,
            [first.id]
        );
        let old_type = IncidentFilter {
            incident_types: vec![IncidentType::Killing],
            ..IncidentFilter::default()
        };
        assert!(
            list_ids(store, &scope("ngo-alpha"), &old_type)
                .await
                .is_empty(),
            "{name}"
        );

        let many = store.get_many(&[first.id, new_id()]).await.expect("many");
        assert_eq!(many.len(), 1, "{name}: missing ids are left out");
        let (seq, _) = store.audit_head().await.expect("head").expect("one record");
        assert_eq!(
            seq, 1,
            "{name}: the amendment's audit record is the chain's first"
        );
    }
}

#[tokio::test]
async fn scopes_filters_and_paging_agree_on_every_backend() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend_name();
        let mut private = incident("ngo-beta", content("AFG", "Herat", date!(2024 - 01 - 10)));
        private.content.distribution = Distribution::OrgOnly;
        let shared = incident("ngo-beta", content("AFG", "Herat", date!(2024 - 01 - 10)));
        let mut red = incident("ngo-beta", content("SOM", "Banadir", date!(2024 - 02 - 01)));
        red.content.tlp = Tlp::Red;
        let own = incident("ngo-alpha", content("AFG", "Kabul", date!(2024 - 01 - 11)));
        let mut retracted = incident("ngo-alpha", content("AFG", "Kabul", date!(2024 - 01 - 12)));
        retracted.content.verification = Verification::Retracted;
        let batch: Vec<_> = [&private, &shared, &red, &own, &retracted]
            .iter()
            .map(|i| new(i, "h"))
            .collect();
        store.submit(&batch, None).await.expect("submit");

        let alpha = scope("ngo-alpha");
        let all = IncidentFilter::default();
        assert_eq!(
            list_ids(store, &alpha, &all).await,
            [shared.id, red.id, own.id],
            "{name}: another org's ORG_ONLY and retracted incidents are out of the list"
        );
        let mut no_red = alpha.clone();
        no_red.allowed_tlps = Some(vec![Tlp::Green, Tlp::Clear]);
        assert_eq!(
            list_ids(store, &no_red, &all).await,
            [shared.id, own.id],
            "{name}"
        );
        let mut none = alpha.clone();
        none.allowed_tlps = Some(vec![]);
        assert!(
            list_ids(store, &none, &all).await.is_empty(),
            "{name}: no TLP, nothing"
        );

        let retractions = IncidentFilter {
            verifications: vec![Verification::Retracted],
            ..IncidentFilter::default()
        };
        assert_eq!(
            list_ids(store, &alpha, &retractions).await,
            [retracted.id],
            "{name}"
        );
        // Others' dates compare at week precision: 2024-01-10 is shown as Monday 01-08.
        let from_monday = IncidentFilter {
            occurred_from: Some(date!(2024 - 01 - 09)),
            occurred_to: Some(date!(2024 - 01 - 31)),
            ..IncidentFilter::default()
        };
        assert_eq!(
            list_ids(store, &alpha, &from_monday).await,
            [red.id, own.id],
            "{name}: a partner's incident is filtered on the date it is shown"
        );
        // Filtering on another org's origin matches nothing when the viewer cannot see it.
        let by_origin = IncidentFilter {
            origin_orgs: vec!["ngo-beta".into()],
            ..IncidentFilter::default()
        };
        assert!(
            list_ids(store, &alpha, &by_origin).await.is_empty(),
            "{name}"
        );
        let places = IncidentFilter {
            countries: vec!["AFG".into()],
            admin1: vec!["herat".into()],
            ..IncidentFilter::default()
        };
        assert_eq!(
            list_ids(store, &alpha, &places).await,
            [shared.id],
            "{name}"
        );

        // Pages of one, in row order, with `more` until the end.
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let page = store
                .list(&ListQuery {
                    scope: &alpha,
                    filter: &all,
                    after,
                    limit: 1,
                })
                .await
                .expect("page");
            seen.extend(page.rows.iter().map(|(_, i)| i.id));
            after = page.rows.last().map(|(row, _)| *row);
            if !page.more {
                break;
            }
        }
        assert_eq!(seen, [shared.id, red.id, own.id], "{name}");
    }
}

#[tokio::test]
async fn the_change_log_is_in_commit_order_with_sharing_history_on_every_backend() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend_name();
        assert_eq!(store.max_seq().await.expect("max"), 0, "{name}");
        let mut grouped = incident("ngo-alpha", content("AFG", "Kabul", date!(2024 - 03 - 05)));
        grouped.content.distribution = Distribution::SharingGroup;
        grouped.content.sharing_group = Some("convoys".into());
        let mut item = new(&grouped, "h");
        item.group_members = Some(vec!["ngo-alpha".into(), "ngo-beta".into()]);
        store.submit(&[item], None).await.expect("submit");
        let plain = incident("ngo-alpha", content("AFG", "Kabul", date!(2024 - 03 - 06)));
        store
            .submit(&[new(&plain, "h")], None)
            .await
            .expect("submit");
        let mut retracted = plain.clone();
        retracted.version = 2;
        retracted.content.verification = Verification::Retracted;
        retracted.retraction_reason = Some("duplicate".into());
        store
            .update(&retracted, 1, ChangeKind::Retract, None, None)
            .await
            .expect("retract");

        let watch = store.watch_changes();
        let groups = [("convoys".to_string(), vec!["ngo-alpha".to_string()])];
        assert_eq!(
            store.record_group_membership(&groups).await.expect("first"),
            0,
            "{name}: the first record of a group appends nothing"
        );
        let groups = [("convoys".to_string(), vec!["ngo-gamma".to_string()])];
        assert_eq!(
            store
                .record_group_membership(&groups)
                .await
                .expect("changed"),
            1,
            "{name}: a membership change appends ACCESS for the group's incident"
        );
        assert!(
            watch.has_changed().expect("watch"),
            "{name}: subscribers are woken"
        );

        let changes = store.changes_after(0, 100).await.expect("changes");
        let kinds: Vec<_> = changes.iter().map(|c| (c.incident_id, c.kind)).collect();
        assert_eq!(
            kinds,
            [
                (grouped.id, ChangeKind::Create),
                (plain.id, ChangeKind::Create),
                (plain.id, ChangeKind::Retract),
                (grouped.id, ChangeKind::Access),
            ],
            "{name}"
        );
        assert!(
            changes.windows(2).all(|w| w[0].seq < w[1].seq),
            "{name}: seq grows"
        );
        assert_eq!(
            store.max_seq().await.expect("max"),
            changes[3].seq,
            "{name}"
        );
        assert_eq!(
            store
                .changes_after(changes[1].seq, 1)
                .await
                .expect("page")
                .len(),
            1
        );

        let history = store
            .sharing_history(Entity::Incident, &[grouped.id], changes[3].seq)
            .await
            .expect("history");
        let mut members: Vec<_> = history.iter().map(|s| s.group_members.clone()).collect();
        members.sort();
        assert_eq!(
            members,
            [
                Some(vec!["ngo-alpha".to_string(), "ngo-beta".to_string()]),
                Some(vec!["ngo-gamma".to_string()]),
            ],
            "{name}: both memberships the incident was shared under"
        );
        let counts = store.change_counts().await.expect("counts");
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 4, "{name}");
    }
}

#[tokio::test]
async fn foreign_copies_follow_the_rules_and_revocations_on_every_backend() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend_name();
        let mut foreign = incident("org-far", content("SSD", "Jonglei", date!(2024 - 05 - 01)));
        foreign.origin_hub = "hub-a".into();
        foreign.private = None;
        // The origin's seal round-trips as bytes (NUL and high bytes included).
        foreign.received = Some(Received {
            from_hub: "hub-b".into(),
            tier: Tier::T1,
            seal: Some(slt_hub::domain::OriginSeal {
                rendering: vec![0x0a, 0x00, 0xff, 0x80, 0x01],
                signature: vec![0x5a; 64],
            }),
        });
        let page = |changes: Vec<FederatedChange>, peer: &'static str| FederatedPage {
            local_hub: "hub-local",
            peer,
            changes,
            cursor: "c1",
            remaining: 0,
            withheld: 0,
            rules: &FederationRules,
        };
        let upsert = |i: &StoredIncident| FederatedChange::Upsert(Box::new(i.clone()));
        let stats = store
            .apply_federated(&page(vec![upsert(&foreign), upsert(&foreign)], "hub-b"))
            .await
            .expect("apply");
        assert_eq!(
            (stats.applied, stats.duplicates),
            (1, 1),
            "{name}: at most once"
        );
        assert_eq!(
            store.get(foreign.id).await.expect("get").as_ref(),
            Some(&foreign)
        );

        let mut newer = foreign.clone();
        newer.version = 2;
        newer.content.country = "SOM".into();
        let mut from_c = newer.clone();
        from_c.received = Some(Received {
            from_hub: "hub-c".into(),
            tier: Tier::T1,
            seal: None,
        });
        let stats = store
            .apply_federated(&page(vec![upsert(&from_c)], "hub-c"))
            .await
            .expect("third relay");
        assert_eq!(
            stats.duplicates, 1,
            "{name}: a third relay does not overwrite"
        );
        let stats = store
            .apply_federated(&page(vec![upsert(&newer)], "hub-b"))
            .await
            .expect("newer");
        assert_eq!(stats.applied, 1, "{name}");
        let stored = store.get(foreign.id).await.expect("get").expect("copy");
        assert_eq!(stored.content.country, "SOM", "{name}");

        // Our own incident coming back is withheld, and a local id is never overwritten.
        let local = incident("ngo-alpha", content("AFG", "Kabul", date!(2024 - 05 - 02)));
        store
            .submit(&[new(&local, "h")], None)
            .await
            .expect("local");
        let mut echo = local.clone();
        echo.version = 9;
        echo.received = foreign.received.clone();
        let mut squat = echo.clone();
        squat.origin_hub = "hub-a".into();
        let stats = store
            .apply_federated(&page(vec![upsert(&echo), upsert(&squat)], "hub-b"))
            .await
            .expect("echo");
        assert_eq!(stats.withheld, 2, "{name}");
        assert_eq!(
            store.get(local.id).await.expect("get").as_ref(),
            Some(&local)
        );

        // A foreign copy is never in a local org's own scope, even under the same org name.
        let mut named_local = scope("org-far");
        named_local.shared_distributions = vec![];
        assert!(
            list_ids(store, &named_local, &IncidentFilter::default())
                .await
                .is_empty(),
            "{name}"
        );

        let revoke = FederatedChange::Revoke(foreign.id);
        let stats = store
            .apply_federated(&page(vec![revoke.clone()], "hub-c"))
            .await
            .expect("revoke by a stranger");
        assert_eq!(
            stats.revoked, 0,
            "{name}: only the source or the origin revokes"
        );
        let stats = store
            .apply_federated(&page(vec![revoke], "hub-b"))
            .await
            .expect("revoke");
        assert_eq!(stats.revoked, 1, "{name}");
        assert!(
            store.get(foreign.id).await.expect("get").is_none(),
            "{name}"
        );
        let stats = store
            .apply_federated(&page(vec![upsert(&newer)], "hub-b"))
            .await
            .expect("replay");
        assert_eq!(
            stats.duplicates, 1,
            "{name}: a replayed version stays revoked"
        );

        assert_eq!(store.peer_cursor("hub-b").await.expect("cursor"), "c1");
        store
            .record_peer_failure("hub-b", "timeout")
            .await
            .expect("failure");
        store
            .record_peer_withheld("hub-b", 3)
            .await
            .expect("withheld");
        store.reset_peer_cursor("hub-b").await.expect("reset");
        let states = store.peer_states().await.expect("states");
        let b = states
            .iter()
            .find(|s| s.peer_hub == "hub-b")
            .expect("hub-b");
        assert_eq!(b.cursor, "", "{name}");
        assert_eq!(b.applied_total, 2, "{name}");
        assert_eq!(b.revoked_total, 1, "{name}");
        assert_eq!(b.errors_total, 1, "{name}");
        assert_eq!(b.withheld_egress_total, 3, "{name}");
        assert_eq!(b.last_error.as_deref(), Some("timeout"), "{name}");
    }
}

#[tokio::test]
async fn advisories_audit_and_picture_counts_agree_on_every_backend() {
    for backend in backends().await {
        let store = &backend.store;
        let name = store.backend_name();
        let issued = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("ns");
        let mut advisory = StoredAdvisory {
            id: new_id(),
            version: 1,
            issuing_org: "un-dss".into(),
            origin_hub: "hub-local".into(),
            issued_at: issued,
            content: AdvisoryContent {
                country: "AFG".into(),
                admin1: None,
                admin2: None,
                security_level: SecurityLevel::High,
                threat_category: ThreatCategory::ArmedConflict,
                valid_from: date!(2024 - 01 - 01),
                valid_until: date!(2024 - 06 - 30),
                summary: Some("Avoid road travel.".into()),
                distribution: Distribution::Community,
                sharing_group: None,
                tlp: Tlp::Green,
            },
        };
        store
            .put_advisory(&advisory, 0, None, None)
            .await
            .expect("issue");
        let again = store.put_advisory(&advisory, 0, None, None).await;
        assert!(
            matches!(again, Err(StoreError::VersionMismatch { current: 1 })),
            "{name}"
        );
        advisory.version = 2;
        advisory.content.security_level = SecurityLevel::Extreme;
        let entry = audit_entry("IssueAdvisory", &[advisory.id]);
        store
            .put_advisory(&advisory, 1, None, Some(&entry))
            .await
            .expect("supersede");
        let listed = store
            .advisories_page(
                &scope("ngo-beta"),
                &AdvisoryFilter {
                    countries: vec!["AFG".into()],
                    valid_on: Some(date!(2024 - 03 - 01)),
                },
                None,
                100,
            )
            .await
            .expect("list")
            .advisories;
        assert_eq!(listed, [advisory.clone()], "{name}");
        let expired = AdvisoryFilter {
            countries: vec![],
            valid_on: Some(date!(2024 - 07 - 01)),
        };
        assert!(
            store
                .advisories_page(&scope("ngo-beta"), &expired, None, 100)
                .await
                .expect("l")
                .advisories
                .is_empty()
        );
        assert_eq!(
            store.get_advisories(&[advisory.id]).await.expect("get"),
            [advisory.clone()]
        );

        // Audit: records chain and filter by incident id.
        let other = audit_entry("GetIncident", &[new_id()]);
        store.record_audit(&other).await.expect("record");
        let by_id = AuditFilter {
            incident_id: Some(advisory.id.to_string()),
            ..AuditFilter::default()
        };
        let records = store.audit_records(&by_id, 1, 10).await.expect("records");
        assert_eq!(records.len(), 1, "{name}");
        assert_eq!(records[0].method, "IssueAdvisory", "{name}");
        let all = store
            .audit_records(&AuditFilter::default(), 1, 10)
            .await
            .expect("all");
        assert_eq!(all[1].prev_hash, all[0].hash, "{name}: one chain");
        store
            .add_checkpoint(2, &all[1].hash, "t", "sig")
            .await
            .expect("checkpoint");
        store
            .add_checkpoint(2, &all[1].hash, "t", "sig")
            .await
            .expect("idempotent");
        assert_eq!(
            store.last_checkpoint_seq().await.expect("last"),
            2,
            "{name}"
        );
        assert_eq!(
            store.checkpoints().await.expect("checkpoints").len(),
            1,
            "{name}"
        );

        // Picture: counts and victims in SQL, within scope, at the shown date.
        let mut batch = Vec::new();
        for (org, day, distribution) in [
            ("ngo-alpha", date!(2024 - 01 - 03), Distribution::OrgOnly),
            ("ngo-beta", date!(2024 - 01 - 20), Distribution::Community),
            ("ngo-beta", date!(2024 - 02 - 07), Distribution::Community),
            ("ngo-beta", date!(2024 - 02 - 08), Distribution::OrgOnly),
        ] {
            let mut item = incident(org, content("AFG", "Kabul", day));
            item.content.distribution = distribution;
            batch.push(new(&item, "h"));
        }
        store.submit(&batch, None).await.expect("submit");
        let alpha = scope("ngo-alpha");
        let countries = ["AFG".to_string()];
        let query = PictureQuery {
            scope: &alpha,
            countries: &countries,
            admin1: &[],
            from: date!(2024 - 01 - 01),
            to: date!(2024 - 12 - 31),
            area_level: AreaLevel::Admin1,
            group_by: PictureGroup::IncidentType,
            bucket: Granularity::Month,
            own_victims: VictimDetail::Exact,
            others_victims: VictimDetail::StaffUnknown,
        };
        let mut counts: Vec<_> = store
            .picture_counts(&query)
            .await
            .expect("counts")
            .into_iter()
            .map(|row| (row.admin1, row.group, row.bucket, row.incidents))
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            [
                ("kabul".into(), "ABDUCTION".into(), "2024-01".into(), 2),
                ("kabul".into(), "ABDUCTION".into(), "2024-02".into(), 1),
                ("kabul".into(), "KILLING".into(), "2024-01".into(), 2),
                ("kabul".into(), "KILLING".into(), "2024-02".into(), 1),
            ],
            "{name}: beta's ORG_ONLY incident is not counted"
        );
        let victims = store.picture_victims(&query).await.expect("victims");
        let killed: u64 = victims
            .iter()
            .filter(|row| row.outcome == VictimOutcome::Killed && row.group == "KILLING")
            .map(|row| row.victims)
            .sum();
        assert_eq!(
            killed, 6,
            "{name}: 2 killed in each of the 3 visible incidents"
        );
        assert!(
            victims
                .iter()
                .filter(|row| row.bucket == "2024-02")
                .all(|row| row.staff == StaffCategory::Unknown),
            "{name}: others' victims at the detail the viewer is shown"
        );
    }
}

/// Feed marks (the TAXII server's dates, `store::FeedMark`) only ever grow, in time and in
/// position, and map a date or a position back to exactly one mark.
#[tokio::test]
async fn feed_marks_only_grow_on_every_backend() {
    use slt_hub::store::FeedMark;
    for backend in backends().await {
        let store = &backend.store;
        assert_eq!(store.last_feed_mark().await.expect("last"), None);
        assert!(store.append_feed_mark(100, 5).await.expect("append"));
        // The same boundary again (another replica), an earlier one, no progress: ignored.
        assert!(!store.append_feed_mark(100, 6).await.expect("append"));
        assert!(!store.append_feed_mark(99, 7).await.expect("append"));
        assert!(!store.append_feed_mark(101, 5).await.expect("append"));
        assert!(store.append_feed_mark(105, 9).await.expect("append"));
        let mark = |at, seq| Some(FeedMark { at, seq });
        assert_eq!(store.last_feed_mark().await.expect("last"), mark(105, 9));
        assert_eq!(
            store.feed_mark_at_or_before(104).await.expect("at"),
            mark(100, 5)
        );
        assert_eq!(
            store.feed_mark_at_or_before(105).await.expect("at"),
            mark(105, 9)
        );
        assert_eq!(store.feed_mark_at_or_before(99).await.expect("at"), None);
        assert_eq!(
            store.feed_mark_covering(5).await.expect("covering"),
            mark(100, 5)
        );
        assert_eq!(
            store.feed_mark_covering(6).await.expect("covering"),
            mark(105, 9)
        );
        assert_eq!(store.feed_mark_covering(10).await.expect("covering"), None);
        assert!(
            store
                .latest_incident_changes(&[new_id()])
                .await
                .expect("latest")
                .is_empty()
        );
    }
}
