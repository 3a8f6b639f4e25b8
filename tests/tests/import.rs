//! `slt import awsd` through the SDK against a real hub: the 3,409 real AWSD incidents import,
//! a second import changes nothing, and per-country and per-year counts on the hub equal those
//! the test computes from the CSV itself.

use std::collections::BTreeMap;

use slt_client::import::import_awsd;
use slt_client::proto as pb;
use slt_hub::identity::Role;
use slt_tests::{TestHub, workspace_root};

fn awsd_csv() -> std::path::PathBuf {
    let path = workspace_root().join("../shared/data/awsd/security_incidents_1997_2021.csv");
    assert!(
        path.is_file(),
        "the AWSD sample is expected at {}",
        path.display()
    );
    path
}

#[tokio::test]
async fn the_awsd_file_imports_once_and_counts_match_the_csv() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;

    let first = import_awsd(&mut reporter, awsd_csv(), 500, |_| {})
        .await
        .expect("import");
    assert_eq!(first.rows, 3_409);
    assert_eq!(
        (
            first.created,
            first.unchanged,
            first.conflicts,
            first.skipped
        ),
        (3_409, 0, 0, 0)
    );

    let second = import_awsd(&mut reporter, awsd_csv(), 500, |_| {})
        .await
        .expect("re-import");
    assert_eq!(
        (second.created, second.unchanged, second.conflicts),
        (0, 3_409, 0)
    );

    // Count from the CSV directly.
    let mut reader = csv::Reader::from_path(awsd_csv()).expect("csv");
    let headers = reader.headers().expect("headers").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect("column");
    let (year_column, code_column) = (column("Year"), column("Country Code"));
    let mut csv_years: BTreeMap<i32, usize> = BTreeMap::new();
    let mut csv_countries: BTreeMap<String, usize> = BTreeMap::new();
    let mut without_code = 0;
    for row in reader.records() {
        let row = row.expect("row");
        *csv_years
            .entry(row[year_column].trim().parse().expect("year"))
            .or_default() += 1;
        match slt_proto::countries::normalise_country(&row[code_column]) {
            Some(alpha3) => *csv_countries.entry(alpha3.to_string()).or_default() += 1,
            None => without_code += 1,
        }
    }

    // Count what the hub holds, as the importing organisation sees it (exact dates).
    let held = reporter
        .list_all(pb::IncidentFilter {
            verifications: (1..=5).collect(),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(held.len(), 3_409);
    let mut hub_years: BTreeMap<i32, usize> = BTreeMap::new();
    let mut hub_countries: BTreeMap<String, usize> = BTreeMap::new();
    for incident in &held {
        *hub_years
            .entry(incident.occurred_on.expect("date").year)
            .or_default() += 1;
        *hub_countries.entry(incident.country.clone()).or_default() += 1;
    }
    assert_eq!(hub_years, csv_years);
    for (country, count) in &csv_countries {
        // Rows without a code are placed by name (Chechnya, Kashmir) or as XXX: they can only
        // add to a country's count, never take from it.
        let on_hub = hub_countries.get(country).copied().unwrap_or(0);
        assert!(on_hub >= *count, "{country}: hub {on_hub}, csv {count}");
    }
    let extra: usize = hub_countries
        .iter()
        .map(|(country, count)| count - csv_countries.get(country).copied().unwrap_or(0))
        .sum();
    assert_eq!(
        extra, without_code,
        "every row without a code is counted exactly once"
    );
    assert_eq!(hub_countries.get("AFG"), csv_countries.get("AFG"));
    assert_eq!(hub_countries.get("SSD"), csv_countries.get("SSD"));
}
