//! The AWSD mapping over the real export (../shared/data/awsd/, read-only): every row maps,
//! ids are stable, every record the reader calls submittable passes the hub's own decoding
//! and validation, and per-country and per-year counts match the CSV read independently.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use slt_client::awsd::{self, AwsdRecord, WarningKind, WarningSummary};
use slt_client::proto as pb;
use time::OffsetDateTime;

const ROWS: usize = 3_409;
/// The rows of the export with neither a Country Code nor a Country (ICRC yearly tallies).
const WITHOUT_COUNTRY: [&str; 5] = ["61", "94", "136", "165", "275"];

fn csv_path() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the client crate sits in the workspace")
        .to_path_buf();
    let path = workspace.join("../shared/data/awsd/security_incidents_1997_2021.csv");
    assert!(
        path.is_file(),
        "the AWSD export is expected at {} (see README.md)",
        path.display()
    );
    path
}

fn read_all() -> Vec<AwsdRecord> {
    awsd::open_awsd(csv_path())
        .expect("the AWSD header")
        .collect::<Result<Vec<_>, _>>()
        .expect("no AwsdError over the real file")
}

/// The raw CSV, read with the csv crate alone: (header, rows).
fn raw() -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(csv_path()).expect("open");
    let header = reader.headers().expect("header").clone();
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    (header, rows)
}

fn column(header: &csv::StringRecord, name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn awsd_id(record: &AwsdRecord) -> &str {
    record
        .incident
        .external_refs
        .as_ref()
        .map_or("", |refs| refs.awsd.as_str())
}

/// The rules the hub checks, written out (data-model.md, validate.rs).
fn hub_rule_violations(incident: &pb::Incident) -> Vec<String> {
    let mut bad = Vec::new();
    let country = &incident.country;
    if !(country.len() == 3 && country.chars().all(|c| c.is_ascii_uppercase())) {
        bad.push(format!("country {country:?}"));
    }
    match &incident.occurred_on {
        Some(date) => {
            let today = OffsetDateTime::now_utc().date();
            let key = (date.year, date.month, date.day);
            if key < (1990, 1, 1)
                || key
                    > (
                        today.year(),
                        i32::from(u8::from(today.month())),
                        i32::from(today.day()),
                    )
            {
                bad.push(format!("occurred_on {key:?}"));
            }
        }
        None => bad.push("occurred_on missing".into()),
    }
    if incident.date_precision == pb::DatePrecision::Unspecified as i32 {
        bad.push("date_precision".into());
    }
    if incident.incident_types.is_empty()
        || incident
            .incident_types
            .contains(&(pb::IncidentType::Unspecified as i32))
    {
        bad.push("incident_types".into());
    }
    let unique: HashSet<_> = incident.incident_types.iter().collect();
    if unique.len() != incident.incident_types.len() {
        bad.push("incident_types listed twice".into());
    }
    if incident.threat_category == pb::ThreatCategory::Unspecified as i32 {
        bad.push("threat_category".into());
    }
    if let Some(location) = &incident.location {
        if !(-90.0..=90.0).contains(&location.latitude)
            || !(-180.0..=180.0).contains(&location.longitude)
            || location.precision != pb::GeoPrecision::Km25 as i32
        {
            bad.push(format!("location {location:?}"));
        }
    }
    let orgs = incident.affected_org_types.unwrap_or_default();
    let counts = [
        orgs.un,
        orgs.ingo,
        orgs.nngo,
        orgs.icrc,
        orgs.ifrc_nrcs,
        orgs.other,
    ]
    .into_iter()
    .chain(incident.victims.iter().map(|v| v.count));
    if counts.into_iter().any(|n| n > 100_000) {
        bad.push("a count above 100000".into());
    }
    if incident
        .victims
        .iter()
        .any(|v| v.outcome == pb::VictimOutcome::Unspecified as i32 || v.count == 0)
    {
        bad.push("a victim cell without outcome or count".into());
    }
    if incident.narrative.len() > 16_384 {
        bad.push("narrative".into());
    }
    let names = [
        incident.admin1.as_ref().map_or("", |a| a.name.as_str()),
        incident.admin2.as_ref().map_or("", |a| a.name.as_str()),
        incident.locality.as_str(),
        incident.perpetrator_name.as_str(),
    ];
    if names.iter().any(|name| name.chars().count() > 200) {
        bad.push("a name above 200 characters".into());
    }
    if uuid::Uuid::parse_str(&incident.id).map_or(true, |id| id.get_version_num() != 5) {
        bad.push("id".into());
    }
    bad
}

#[test]
fn every_row_maps_and_passes_the_hub_rules() {
    let records = read_all();
    assert_eq!(records.len(), ROWS);

    let ids: HashSet<&str> = records.iter().map(|r| r.incident.id.as_str()).collect();
    assert_eq!(ids.len(), ROWS, "incident ids are unique");
    let awsd_ids: HashSet<&str> = records.iter().map(awsd_id).collect();
    assert_eq!(awsd_ids.len(), ROWS, "every row keeps its AWSD id");

    assert_eq!(records[0].line, 2);
    assert!(records.windows(2).all(|pair| pair[0].line < pair[1].line));
    // Details span lines: the last row starts on line 4273 of 4274.
    assert_eq!(records[ROWS - 1].line, 4273);

    assert!(
        records.iter().all(|r| r.is_submittable()),
        "every row imports"
    );
    for record in &records {
        let violations = hub_rule_violations(&record.incident);
        assert!(
            violations.is_empty(),
            "AWSD {} (line {}): {violations:?}",
            awsd_id(record),
            record.line
        );
        if WITHOUT_COUNTRY.contains(&awsd_id(record)) {
            // The rows without any country (ICRC yearly tallies) import as XXX, with a warning.
            assert_eq!(record.incident.country, "XXX", "AWSD {}", awsd_id(record));
            assert!(
                record
                    .warnings
                    .iter()
                    .any(|w| w.kind == WarningKind::NoCountry)
            );
        }
    }
}

#[test]
fn the_hub_itself_accepts_every_submittable_record() {
    let now = OffsetDateTime::now_utc();
    for record in read_all() {
        let mut violations = slt_hub::domain::Violations::new();
        let draft = slt_hub::api::convert::draft_from_proto(
            &mut violations,
            "incident",
            &record.incident,
            now,
        );
        let violations: Vec<String> = violations
            .into_vec()
            .into_iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        if record.is_submittable() {
            assert!(
                draft.is_some() && violations.is_empty(),
                "AWSD {}: {violations:?}",
                awsd_id(&record)
            );
        } else {
            assert_eq!(
                violations,
                ["incident.country: required: an ISO 3166-1 alpha-3 (or alpha-2) country code"]
            );
        }
    }
}

#[test]
fn a_second_read_gives_the_same_records() {
    let first = read_all();
    let second = read_all();
    assert_eq!(first, second);
    let row_61 = first.iter().find(|r| awsd_id(r) == "61").expect("AWSD 61");
    assert_eq!(
        row_61.incident.id,
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"awsd:61").to_string()
    );
}

#[test]
fn counts_per_country_and_year_match_the_csv() {
    let (header, rows) = raw();
    let (code, country, year) = (
        column(&header, "Country Code"),
        column(&header, "Country"),
        column(&header, "Year"),
    );
    let mut expected_countries: BTreeMap<String, usize> = BTreeMap::new();
    let mut expected_years: BTreeMap<i32, usize> = BTreeMap::new();
    for row in &rows {
        // The hub's own ISO table, not the importer's, turns alpha-2 into alpha-3.
        let alpha3 = match (&row[code], &row[country]) {
            ("", "Chechnya") => "RUS",
            ("", "Kashmir") => "PAK",
            ("", _) => "XXX",
            (alpha2, _) => slt_hub::domain::countries::normalise_country(alpha2)
                .unwrap_or_else(|| panic!("{alpha2} is not ISO 3166-1")),
        };
        *expected_countries.entry(alpha3.to_string()).or_default() += 1;
        *expected_years
            .entry(row[year].trim().parse().expect("year"))
            .or_default() += 1;
    }

    let records = read_all();
    let mut countries: BTreeMap<String, usize> = BTreeMap::new();
    let mut years: BTreeMap<i32, usize> = BTreeMap::new();
    for record in &records {
        *countries
            .entry(record.incident.country.clone())
            .or_default() += 1;
        let date = record.incident.occurred_on.expect("every row has a date");
        *years.entry(date.year).or_default() += 1;
    }
    assert_eq!(countries, expected_countries);
    assert_eq!(years, expected_years);
    assert_eq!(countries.get("AFG"), Some(&595));
    assert_eq!(countries.get("RUS"), Some(&26));
    assert_eq!(years.len(), 25);
}

#[test]
fn victim_totals_match_the_csv() {
    let (header, rows) = raw();
    let total = |name: &str| -> u64 {
        let index = column(&header, name);
        rows.iter()
            .map(|row| row[index].trim().parse::<u64>().unwrap_or(0))
            .sum()
    };
    let records = read_all();
    let sum = |outcome: pb::VictimOutcome, staff: Option<pb::StaffCategory>| -> u64 {
        records
            .iter()
            .flat_map(|r| &r.incident.victims)
            .filter(|v| v.outcome == outcome as i32)
            .filter(|v| staff.is_none_or(|s| v.staff == s as i32))
            .map(|v| u64::from(v.count))
            .sum()
    };
    use pb::StaffCategory::{International, National};
    use pb::VictimOutcome::{Injured, Kidnapped, Killed};
    assert_eq!(sum(Killed, None), total("Total killed"));
    assert_eq!(sum(Injured, None), total("Total wounded"));
    assert_eq!(sum(Kidnapped, None), total("Total kidnapped"));
    assert_eq!(sum(Killed, Some(National)), total("Nationals killed"));
    assert_eq!(
        sum(Kidnapped, Some(International)),
        total("Internationals kidnapped")
    );
    let sex = |sex: pb::Sex| -> u64 {
        records
            .iter()
            .flat_map(|r| &r.incident.victims)
            .filter(|v| v.sex == sex as i32)
            .map(|v| u64::from(v.count))
            .sum()
    };
    // Sex is only ever distributed, never invented: at most the Gender totals.
    assert!(sex(pb::Sex::Male) <= total("Gender Male"));
    assert!(sex(pb::Sex::Female) <= total("Gender Female"));
    assert_eq!(
        sex(pb::Sex::Male) + sex(pb::Sex::Female) + sex(pb::Sex::Unknown),
        total("Total affected")
    );
}

#[test]
fn warning_summary_over_the_real_file() {
    let mut summary = WarningSummary::default();
    for record in read_all() {
        summary.add(&record);
    }
    println!("AWSD import warnings:\n{summary}");
    assert_eq!(summary.rows, ROWS as u64);
    assert_eq!(summary.blocked_rows, 0);
    assert_eq!(
        summary.count(&WarningKind::NoCountry),
        WITHOUT_COUNTRY.len() as u64
    );
    let pen = WarningKind::Assumed {
        column: "Verified",
        value: "Pen".into(),
        read_as: "PENDING",
    };
    assert_eq!(summary.count(&pen), 1);
    // The file's totals agree with their parts everywhere.
    assert!(
        !summary
            .entries()
            .iter()
            .any(|(kind, _)| matches!(kind, WarningKind::TotalsDisagree { .. }))
    );
}

#[test]
fn the_country_table_agrees_with_the_hub() {
    for (alpha3, alpha2) in slt_hub::domain::countries::COUNTRIES {
        assert_eq!(awsd::alpha3(alpha2), Some(*alpha3), "{alpha2}");
        assert_eq!(awsd::alpha3(alpha3), Some(*alpha3), "{alpha3}");
    }
}
