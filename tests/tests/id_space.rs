//! The id space (issue 17, point 2): a partner learns nothing from the ids it submits, and no
//! partner's ids block another's. Each test plays the curious or squatting partner.

use std::io::Write;

use slt_client::import::import_awsd;
use slt_client::{ClientError, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, workspace_root};

const REPORTER: &[Role] = &[Role::Reporter];

fn outcome(result: &pb::SubmitResult) -> pb::SubmitOutcome {
    pb::SubmitOutcome::try_from(result.outcome).expect("outcome")
}

fn org_only(id: uuid::Uuid) -> pb::Incident {
    let mut incident = sample_incident(id);
    incident.distribution = pb::Distribution::OrgOnly as i32;
    incident
}

/// What a submission answer tells its caller, with the ids taken out (they differ by design).
fn answer_shape(result: &pb::SubmitResult) -> (pb::SubmitOutcome, u64, Vec<pb::ScrubCount>) {
    (outcome(result), result.version, result.scrubbed.clone())
}

#[tokio::test]
async fn submitting_another_orgs_id_answers_exactly_as_a_fresh_id_does() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut beta = hub.client("ngo-beta", REPORTER).await;

    // ngo-alpha's private incident: beta may not even know it exists.
    let alpha_submitted = new_id();
    let alpha_result = alpha
        .submit(vec![org_only(alpha_submitted)])
        .await
        .expect("alpha submits");
    assert_eq!(outcome(&alpha_result[0]), pb::SubmitOutcome::Created);
    let alpha_hub_id = alpha_result[0].id.clone();
    assert_eq!(alpha_result[0].submitted_id, alpha_submitted.to_string());
    assert_ne!(
        alpha_hub_id,
        alpha_submitted.to_string(),
        "the hub's id is derived, not the submitted one"
    );

    // Two other partners try both ids alpha's record could be known by, and a fresh one, one
    // with alpha's content and one with content of its own: every answer has the same shape.
    let mut answers = Vec::new();
    let mut unhcr = hub.client("unhcr", REPORTER).await;
    for (prober, same_content) in [(&mut beta, true), (&mut unhcr, false)] {
        for probe in [
            alpha_submitted,
            uuid::Uuid::parse_str(&alpha_hub_id).expect("uuid"),
            new_id(),
        ] {
            let mut content = org_only(probe);
            if !same_content {
                content.narrative = "Another narrative.".into();
            }
            let result = prober.submit(vec![content]).await.expect("probe");
            assert_eq!(result[0].submitted_id, probe.to_string());
            assert_ne!(
                result[0].id, alpha_hub_id,
                "a probe never lands on alpha's record"
            );
            answers.push(answer_shape(&result[0]));
        }
    }
    assert!(
        answers
            .iter()
            .all(|answer| answer.0 == pb::SubmitOutcome::Created && answer.1 == 1),
        "every probe is simply created in the prober's own id space: {answers:?}"
    );

    // Alpha's record is untouched and still alpha's alone.
    let stored = alpha
        .get(&alpha_hub_id)
        .await
        .expect("alpha reads by hub id");
    assert_eq!(stored.origin_org, "ngo-alpha");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.narrative, sample_incident(alpha_submitted).narrative);
    // ... and alpha may still address it by the id it submitted.
    let by_submitted = alpha
        .get(&alpha_submitted.to_string())
        .await
        .expect("alpha reads by submitted id");
    assert_eq!(by_submitted.id, alpha_hub_id);

    // Reading, amending or retracting alpha's invisible record answers another org (one that
    // did not probe with these ids, so that nothing of its own answers to them) exactly as an
    // id that exists nowhere.
    let mut beta = hub.client("undss", &[Role::FocalPoint]).await;
    let absent = new_id();
    let hidden = alpha_hub_id.clone();
    let normalise = |message: String, id: &str| message.replace(id, "<id>");
    let get_hidden = beta.get(&hidden).await.expect_err("hidden");
    let get_absent = beta.get(&absent.to_string()).await.expect_err("absent");
    assert_eq!(
        normalise(get_hidden.to_string(), &hidden),
        normalise(get_absent.to_string(), &absent.to_string())
    );
    assert!(
        matches!(get_hidden, ClientError::NotFound(_)),
        "{get_hidden}"
    );
    let mut amend_hidden = org_only(uuid::Uuid::parse_str(&hidden).expect("uuid"));
    amend_hidden.narrative = "overwritten".into();
    let amend_hidden = beta.amend(amend_hidden, 1).await.expect_err("amend hidden");
    let amend_absent = beta
        .amend(org_only(absent), 1)
        .await
        .expect_err("amend absent");
    assert_eq!(
        normalise(amend_hidden.to_string(), &hidden),
        normalise(amend_absent.to_string(), &absent.to_string())
    );
    let retract_hidden = beta
        .retract(&hidden, "mine now", 1)
        .await
        .expect_err("retract");
    let retract_absent = beta
        .retract(&absent.to_string(), "mine now", 1)
        .await
        .expect_err("retract absent");
    assert_eq!(
        normalise(retract_hidden.to_string(), &hidden),
        normalise(retract_absent.to_string(), &absent.to_string())
    );
    assert_eq!(alpha.get(&hidden).await.expect("get").version, 1);
}

#[tokio::test]
async fn resubmitting_stays_idempotent_in_the_submitters_own_space() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let submitted = new_id();
    let first = alpha
        .submit(vec![sample_incident(submitted)])
        .await
        .expect("submit");
    let again = alpha
        .submit(vec![sample_incident(submitted)])
        .await
        .expect("resubmit");
    assert_eq!(outcome(&again[0]), pb::SubmitOutcome::Unchanged);
    assert_eq!(
        again[0].id, first[0].id,
        "the same submitted id derives the same id"
    );
    let mut changed = sample_incident(submitted);
    changed.narrative = "Other content under the same id.".into();
    let conflict = alpha.submit(vec![changed]).await.expect("conflict");
    assert_eq!(outcome(&conflict[0]), pb::SubmitOutcome::Conflict);
    assert_eq!(conflict[0].version, 1, "the submitter's own version");
    assert_eq!(
        alpha
            .list_all(Default::default())
            .await
            .expect("list")
            .len(),
        1
    );
}

/// The first `rows` data rows of the AWSD file, as a CSV of their own.
fn awsd_head(rows: usize) -> tempfile::NamedTempFile {
    let source = std::fs::read_to_string(
        workspace_root().join("../shared/data/awsd/security_incidents_1997_2021.csv"),
    )
    .expect("the AWSD sample");
    let mut reader = csv::Reader::from_reader(source.as_bytes());
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    {
        let mut writer = csv::Writer::from_writer(&mut file);
        writer
            .write_record(reader.headers().expect("headers"))
            .expect("write headers");
        for row in reader.records().take(rows) {
            writer.write_record(&row.expect("row")).expect("write row");
        }
        writer.flush().expect("flush");
    }
    file.flush().expect("flush");
    file
}

#[tokio::test]
async fn two_organisations_import_the_same_public_records_and_both_succeed() {
    let hub = TestHub::start().await;
    let csv = awsd_head(40);
    let mut beta = hub.client("ngo-beta", REPORTER).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;

    // Beta imports first (the squatter under the old, global id space).
    let squat = import_awsd(&mut beta, csv.path(), 500, |_| {})
        .await
        .expect("beta imports");
    assert_eq!((squat.created, squat.conflicts), (40, 0));
    let imported = import_awsd(&mut alpha, csv.path(), 500, |_| {})
        .await
        .expect("alpha imports");
    assert_eq!(
        (imported.created, imported.unchanged, imported.conflicts),
        (40, 0, 0),
        "alpha's import is not blocked by beta's"
    );
    let again = import_awsd(&mut alpha, csv.path(), 500, |_| {})
        .await
        .expect("alpha re-imports");
    assert_eq!(
        (again.created, again.unchanged),
        (0, 40),
        "still idempotent"
    );

    // A third organisation's focal point sees both records of each event, under distinct ids,
    // linked by the same AWSD reference (a focal point: its analyst would get only those the
    // record rule releases).
    let mut unhcr = hub.client("undss", &[Role::FocalPoint]).await;
    let seen = unhcr.list_all(Default::default()).await.expect("list");
    assert_eq!(seen.len(), 80);
    let mut by_ref: std::collections::BTreeMap<String, Vec<&pb::Incident>> = Default::default();
    for incident in &seen {
        let awsd = incident
            .external_refs
            .as_ref()
            .map(|refs| refs.awsd.clone())
            .unwrap_or_default();
        assert!(!awsd.is_empty(), "the AWSD reference is shown at T1");
        by_ref.entry(awsd).or_default().push(incident);
    }
    assert_eq!(by_ref.len(), 40);
    for (reference, records) in &by_ref {
        assert_eq!(records.len(), 2, "AWSD {reference}");
        assert_ne!(records[0].id, records[1].id);
    }
}

fn advisory(id: uuid::Uuid, distribution: pb::Distribution) -> pb::Advisory {
    pb::Advisory {
        id: id.to_string(),
        ..slt_tests::sample_advisory("SSD", distribution)
    }
}

/// Advisories: before, issuing an advisory under the id of one the caller cannot see answered
/// ALREADY_EXISTS ("that id is taken"). Now the issuer's ids are its own too.
#[tokio::test]
async fn issuing_an_advisory_under_another_orgs_id_answers_as_a_fresh_id() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let mut undss = hub.client("undss", &[Role::FocalPoint]).await;
    let submitted = new_id();
    let private = alpha
        .issue_advisory(advisory(submitted, pb::Distribution::OrgOnly), 0)
        .await
        .expect("alpha issues");
    assert_ne!(private.id, submitted.to_string());

    // Superseding a hidden advisory answers as superseding one that exists nowhere (asked
    // first: after the probes below, undss has advisories of its own under these ids).
    let hidden = undss
        .issue_advisory(
            advisory(
                uuid::Uuid::parse_str(&private.id).expect("uuid"),
                pb::Distribution::Community,
            ),
            1,
        )
        .await
        .expect_err("hidden");
    let absent_id = new_id();
    let absent = undss
        .issue_advisory(advisory(absent_id, pb::Distribution::Community), 1)
        .await
        .expect_err("absent");
    assert_eq!(
        hidden.to_string().replace(&private.id, "<id>"),
        absent.to_string().replace(&absent_id.to_string(), "<id>")
    );

    for probe in [
        submitted,
        uuid::Uuid::parse_str(&private.id).expect("uuid"),
        new_id(),
    ] {
        let issued = undss
            .issue_advisory(advisory(probe, pb::Distribution::Community), 0)
            .await
            .expect("issued in undss's own id space");
        assert_eq!(issued.version, 1);
        assert_ne!(issued.id, private.id);
    }
    // Alpha supersedes its own by the id it chose, and its advisory keeps the hub's id.
    let superseded = alpha
        .issue_advisory(advisory(submitted, pb::Distribution::OrgOnly), 1)
        .await
        .expect("alpha supersedes");
    assert_eq!(
        (superseded.id.as_str(), superseded.version),
        (private.id.as_str(), 2)
    );
}

/// Renames a stored incident, as a record stored before ids were derived (or a foreign copy
/// under a chosen id) would sit in the database.
async fn rename_incident(hub: &TestHub, from: &str, to: &str) {
    // One batch on one connection, with the annex's foreign key set aside while both move.
    let (off, on) = if hub.is_postgres() {
        (
            "SET session_replication_role = replica",
            "SET session_replication_role = DEFAULT",
        )
    } else {
        ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON")
    };
    hub.execute_sql(&[&format!(
        "{off}; \
         UPDATE incidents SET id = '{to}' WHERE id = '{from}'; \
         UPDATE incident_private SET incident_id = '{to}' WHERE incident_id = '{from}'; \
         UPDATE change_log SET incident_id = '{to}' WHERE incident_id = '{from}'; \
         {on}"
    )])
    .await;
}

/// The review's case: another record sits at the id an org submitted with (a foreign copy, or
/// one stored before ids were derived). The org's own record still answers to its submitted id;
/// an incident of its own stored before derivation keeps answering, and resubmitting it stays
/// UNCHANGED; the access log names the ids the hub stored.
#[tokio::test]
async fn an_org_keeps_its_own_records_and_the_log_names_the_stored_ids() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut beta = hub.client("ngo-beta", REPORTER).await;

    let alpha_submitted = new_id();
    let mine = alpha
        .submit(vec![sample_incident(alpha_submitted)])
        .await
        .expect("alpha");
    // Beta's COMMUNITY record, moved to sit at alpha's submitted id.
    let mut other = sample_incident(new_id());
    other.narrative = "Beta's record.".into();
    let theirs = beta.submit(vec![other]).await.expect("beta");
    rename_incident(&hub, &theirs[0].id, &alpha_submitted.to_string()).await;
    let read = alpha
        .get(&alpha_submitted.to_string())
        .await
        .expect("alpha reads its own");
    assert_eq!(
        read.id, mine[0].id,
        "its own record, not the one sitting at that id"
    );
    assert_eq!(read.origin_org, "ngo-alpha");

    // A record of alpha's own under its submitted id (stored before ids were derived).
    let legacy_submitted = new_id();
    let legacy = alpha
        .submit(vec![sample_incident(legacy_submitted)])
        .await
        .expect("alpha");
    rename_incident(&hub, &legacy[0].id, &legacy_submitted.to_string()).await;
    let again = alpha
        .submit(vec![sample_incident(legacy_submitted)])
        .await
        .expect("resubmit");
    assert_eq!(outcome(&again[0]), pb::SubmitOutcome::Unchanged);
    assert_eq!(again[0].id, legacy_submitted.to_string());
    let mut amended = sample_incident(legacy_submitted);
    amended.narrative = "Amended after the upgrade.".into();
    assert_eq!(alpha.amend(amended, 1).await.expect("amend").version, 2);

    // The access log names the stored ids of the submit and of the amend.
    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let mut stream = auditor.export_audit(1).await.expect("export");
    let mut records = Vec::new();
    while let Some(page) = stream.message().await.expect("page") {
        records.extend(page.records);
    }
    let named = |method: &str, id: &str| {
        records.iter().any(|record| {
            record.method.ends_with(method) && record.incident_ids.iter().any(|i| i == id)
        })
    };
    assert!(
        named("SubmitIncidents", &mine[0].id),
        "the submit names the stored id"
    );
    assert!(
        !named("SubmitIncidents", &alpha_submitted.to_string()),
        "and not the submitted one"
    );
    assert!(named("AmendIncident", &legacy_submitted.to_string()));
}

/// A replica (or a restart) with another master secret would derive other ids for the same
/// submissions: the hub refuses to start on that database, naming the settings.
#[tokio::test]
async fn a_hub_with_another_key_file_refuses_the_database() {
    let mut hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    alpha
        .submit(vec![sample_incident(new_id())])
        .await
        .expect("submit");
    hub.stop().await;

    let mut config = hub.config.clone();
    config.pseudonym_key = hub.dir.path().join("other-pseudonym.key");
    slt_hub::pki::write_secret(
        &config.pseudonym_key,
        &slt_hub::identity::keys::generate_secret_hex().expect("secret"),
    )
    .expect("write");
    let store = slt_hub::store::Store::open(&config.database_url)
        .await
        .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let error = slt_hub::serve(listener, config, store.clone(), async {})
        .await
        .expect_err("refused");
    store.close().await;
    let message = error.to_string();
    assert!(
        message.contains("pseudonym_key") && message.contains("hub_id"),
        "{message}"
    );
    // The right key still starts.
    hub.restart().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    assert_eq!(
        alpha
            .list_all(Default::default())
            .await
            .expect("list")
            .len(),
        1
    );
}
