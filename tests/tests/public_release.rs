//! The public (T0) release (`slt_hub::release::run`, what `slt-hub release` calls) on a real hub
//! holding the first 300 real AWSD incidents plus incidents that must never be published: the
//! test counts the classes of `incidents.csv` itself, checks `disclosure.json` against its own
//! counts, and finds the release's audit record.

use std::collections::HashMap;

use slt_client::import::import_awsd;
use slt_client::proto as pb;
use slt_hub::identity::Role;
use slt_hub::release::{ReleaseOptions, files, record};
use slt_hub::store::{AuditFilter, Store};
use slt_tests::{TestHub, new_id, sample_incident, submit_stored, workspace_root};

const AWSD_ROWS: usize = 300;

/// The first `AWSD_ROWS` rows of the AWSD sample, as a CSV file in `dir`.
fn awsd_head(dir: &std::path::Path) -> std::path::PathBuf {
    let source = workspace_root().join("../shared/data/awsd/security_incidents_1997_2021.csv");
    assert!(
        source.is_file(),
        "the AWSD sample is expected at {}",
        source.display()
    );
    let mut reader = csv::Reader::from_path(&source).expect("csv");
    let path = dir.join("awsd-head.csv");
    let mut writer = csv::Writer::from_path(&path).expect("csv out");
    writer
        .write_record(reader.headers().expect("headers"))
        .expect("header");
    for row in reader.records().take(AWSD_ROWS) {
        writer.write_record(&row.expect("row")).expect("row out");
    }
    writer.flush().expect("flush");
    path
}

/// Three identical incidents in `country`, shared as `distribution` with `tlp`: if they were
/// eligible they would form a class of three and be released.
fn triple(country: &str, distribution: pb::Distribution, tlp: pb::Tlp) -> Vec<pb::Incident> {
    (0..3)
        .map(|_| pb::Incident {
            country: country.into(),
            admin1: None,
            admin2: None,
            locality: String::new(),
            location: None,
            distribution: distribution as i32,
            tlp: tlp as i32,
            ..sample_incident(new_id())
        })
        .collect()
}

#[tokio::test]
async fn the_public_release_is_k_anonymous_measured_and_audited() {
    let hub = TestHub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let imported = import_awsd(&mut reporter, awsd_head(dir.path()), 500, |_| {})
        .await
        .expect("import");
    assert_eq!(imported.rows, AWSD_ROWS as u64);
    assert!(imported.created > 250, "{imported:?}");

    // Published: a CLEAR COMMUNITY triple. Never published: an AMBER triple and an ORG_ONLY one.
    let mut incidents = triple("NOR", pb::Distribution::Community, pb::Tlp::Clear);
    incidents.extend(triple("NZL", pb::Distribution::Community, pb::Tlp::Amber));
    incidents.extend(triple("ISL", pb::Distribution::OrgOnly, pb::Tlp::Clear));
    let results = submit_stored(&mut reporter, &mut incidents).await;
    assert!(
        results
            .iter()
            .all(|r| r.outcome == pb::SubmitOutcome::Created as i32),
        "{results:?}"
    );
    let eligible = imported.created as usize + 3;

    let store = Store::open(&hub.config.database_url).await.expect("store");
    let policy = slt_hub::load_policy(&hub.config).expect("policy");
    let out = dir.path().join("release");
    let options = ReleaseOptions {
        k: 3,
        from: None,
        to: None,
    };
    let disclosure =
        slt_hub::release::run(&store, &hub.config.hub_id, policy.version(), &options, &out)
            .await
            .expect("release");

    // incidents.csv: the quasi-identifier columns, every class of at least three.
    let mut reader = csv::Reader::from_path(out.join(files::INCIDENTS)).expect("incidents.csv");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, record::COLUMNS);
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|row| row.expect("row").iter().map(str::to_string).collect())
        .collect();
    let mut classes: HashMap<&[String], usize> = HashMap::new();
    for row in &rows {
        assert_eq!(row.len(), header.len());
        *classes.entry(row.as_slice()).or_default() += 1;
    }
    let smallest = classes.values().copied().min().expect("something released");
    assert!(smallest >= 3, "a class of {smallest}");
    let country = |code: &str| rows.iter().filter(|row| row[0] == code).count();
    assert_eq!(country("NOR"), 3, "the eligible triple is released");
    assert_eq!(country("NZL"), 0, "TLP:AMBER released");
    assert_eq!(country("ISL"), 0, "ORG_ONLY released");

    // Nothing of the content beyond the quasi-identifiers, in any file.
    for name in [
        files::INCIDENTS,
        files::COUNTS,
        files::DISCLOSURE,
        files::README,
    ] {
        let text = std::fs::read_to_string(out.join(name)).expect("read");
        for forbidden in [
            "ngo-alpha",
            "Convoy stopped",
            "CANARY",
            "Bor South",
            "NZL",
            "ISL",
        ] {
            assert!(!text.contains(forbidden), "{name} holds '{forbidden}'");
        }
        for incident in &incidents {
            assert!(!text.contains(&incident.id), "{name} holds an incident id");
        }
    }

    // disclosure.json says what the test counted.
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(files::DISCLOSURE)).expect("disclosure.json"),
    )
    .expect("json");
    let number = |key: &str| json[key].as_u64().expect(key) as usize;
    assert_eq!(number("records_eligible"), eligible);
    assert_eq!(number("records_released"), rows.len());
    assert_eq!(number("records_withheld"), eligible - rows.len());
    assert_eq!(number("equivalence_classes"), classes.len());
    assert_eq!(number("k_achieved"), smallest);
    assert_eq!(number("records_in_classes_below_k"), 0);
    let risk = classes.len() as f64 / rows.len() as f64;
    let reported = json["global_risk"].as_f64().expect("risk");
    assert!((reported - risk).abs() < 1e-9, "{reported} vs {risk}");
    assert_eq!(
        json["global_risk_under_threshold"].as_bool(),
        Some(risk < 0.03)
    );
    assert_eq!(json["parameters"]["k"].as_u64(), Some(3));
    assert_eq!(disclosure.records_released, rows.len());

    // counts.csv: every eligible incident counted once, small cells suppressed.
    let mut reader = csv::Reader::from_path(out.join(files::COUNTS)).expect("counts.csv");
    let (mut counted, mut cells, mut suppressed) = (0, 0, 0);
    for row in reader.records() {
        let row = row.expect("row");
        cells += 1;
        if &row[4] == "true" {
            assert_eq!(&row[3], "");
            suppressed += 1;
        } else {
            let count: usize = row[3].parse().expect("count");
            assert!(count >= 5, "an unsuppressed cell of {count}");
            counted += count;
        }
    }
    assert_eq!(number("counts_cells"), cells);
    assert_eq!(number("counts_cells_suppressed"), suppressed);
    assert!(counted + suppressed <= eligible && counted + 4 * suppressed >= eligible);

    // The release left its record in the access log: counts, no ids.
    let records = store
        .audit_records(
            &AuditFilter {
                method: Some(slt_hub::release::AUDIT_METHOD.into()),
                ..AuditFilter::default()
            },
            0,
            10,
        )
        .await
        .expect("audit");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].records_returned, rows.len() as u64);
    assert!(records[0].incident_ids.is_empty());
    let summary: serde_json::Value =
        serde_json::from_str(&records[0].request_summary).expect("summary");
    assert_eq!(summary["eligible"].as_u64(), Some(eligible as u64));
    assert_eq!(summary["released"].as_u64(), Some(rows.len() as u64));
    store.close().await;

    eprintln!(
        "public release of {AWSD_ROWS} AWSD rows + 3: eligible {eligible}, released {}, withheld \
         {}, classes {}, k achieved {smallest}, global risk {:.4}, generalised {}, counts cells \
         {cells} ({suppressed} suppressed)",
        rows.len(),
        eligible - rows.len(),
        classes.len(),
        risk,
        json["generalised"]
    );
}

#[tokio::test]
async fn the_release_command_applies_the_k_it_is_given() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    // Five alike and one alone (another threat category): at k = 5 the five are released, the
    // one is withheld whatever the ladder does.
    let mut incidents: Vec<pb::Incident> = (0..5)
        .map(|_| pb::Incident {
            tlp: pb::Tlp::Clear as i32,
            ..sample_incident(new_id())
        })
        .collect();
    incidents.push(pb::Incident {
        tlp: pb::Tlp::Clear as i32,
        threat_category: pb::ThreatCategory::Hazard as i32,
        ..sample_incident(new_id())
    });
    submit_stored(&mut reporter, &mut incidents).await;
    let config = hub.dir.path().join("hub-release.toml");
    std::fs::write(&config, toml::to_string(&hub.config).expect("toml")).expect("write");
    let out = hub.dir.path().join("public");

    let run = |extra: &[&str]| {
        std::process::Command::new(slt_tests::slt_hub_binary())
            .arg("release")
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .expect("run slt-hub release")
    };
    let refused = run(&["--k", "1"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("k must be between 2"));
    assert!(
        !out.join(files::INCIDENTS).exists(),
        "a refused release wrote files"
    );
    let refused = run(&["--from", "May 2024"]);
    assert!(!refused.status.success());

    let done = run(&["--k", "5", "--from", "2024-01-01", "--to", "2024-12-31"]);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        stdout.contains("released 5 of 6 eligible incidents (1 withheld)"),
        "{stdout}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(files::DISCLOSURE)).expect("disclosure.json"),
    )
    .expect("json");
    assert_eq!(json["parameters"]["k"].as_u64(), Some(5));
    assert_eq!(json["parameters"]["from"].as_str(), Some("2024-01-01"));
    assert_eq!(json["k_achieved"].as_u64(), Some(5));
    assert_eq!(json["records_withheld"].as_u64(), Some(1));
    // One class of five: risk 1/5, not under 3%.
    assert!((json["global_risk"].as_f64().expect("risk") - 0.2).abs() < 1e-9);
    assert_eq!(json["global_risk_under_threshold"].as_bool(), Some(false));
    let rows = std::fs::read_to_string(out.join(files::INCIDENTS)).expect("incidents.csv");
    assert_eq!(rows.lines().count(), 6, "{rows}");
    assert!(
        rows.lines()
            .skip(1)
            .all(|line| line.starts_with("SSD,Jonglei,2024-05,CRIME,"))
    );
    assert!(
        std::fs::read_to_string(out.join(files::README))
            .expect("README.txt")
            .contains("k = 5")
    );
}

#[tokio::test]
async fn focal_points_get_the_release_over_the_api_and_others_are_refused() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut incidents: Vec<pb::Incident> = (0..4)
        .map(|_| pb::Incident {
            tlp: pb::Tlp::Clear as i32,
            ..sample_incident(new_id())
        })
        .collect();
    incidents.extend(triple("NZL", pb::Distribution::Community, pb::Tlp::Amber));
    submit_stored(&mut reporter, &mut incidents).await;

    let refused = reporter
        .public_release(pb::GetPublicReleaseRequest::default())
        .await
        .expect_err("a reporter got the release");
    assert!(
        format!("{refused:?}").contains("PermissionDenied"),
        "{refused:?}"
    );

    let mut focal = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let bad = focal
        .public_release(pb::GetPublicReleaseRequest {
            k: 1,
            ..Default::default()
        })
        .await
        .expect_err("k = 1 accepted");
    assert!(format!("{bad:?}").contains("InvalidArgument"), "{bad:?}");

    let release = focal
        .public_release(pb::GetPublicReleaseRequest::default())
        .await
        .expect("release");
    let lines: Vec<&str> = release.incidents_csv.lines().collect();
    assert_eq!(lines[0], record::COLUMNS.join(","));
    assert_eq!(lines.len(), 5, "the four CLEAR incidents, one class");
    assert!(!release.incidents_csv.contains("NZL"));
    assert!(!release.counts_csv.contains("NZL"));
    let json: serde_json::Value = serde_json::from_str(&release.disclosure_json).expect("json");
    assert_eq!(json["parameters"]["k"].as_u64(), Some(3));
    assert_eq!(json["records_released"].as_u64(), Some(4));
    assert_eq!(json["k_achieved"].as_u64(), Some(4));
    assert!(release.readme.contains("k = 3"));

    // The call is on record, with the counts.
    let store = Store::open(&hub.config.database_url).await.expect("store");
    let records = store
        .audit_records(
            &AuditFilter {
                method: Some("/slt.v1.ThreatService/GetPublicRelease".into()),
                outcome: Some("OK".into()),
                ..AuditFilter::default()
            },
            0,
            10,
        )
        .await
        .expect("audit");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].org, "ngo-alpha");
    assert_eq!(records[0].records_returned, 4);
    assert!(records[0].request_summary.contains("\"released\":4"));
    store.close().await;
}
