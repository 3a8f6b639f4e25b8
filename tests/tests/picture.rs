//! The threat picture end to end (ThreatService through the SDK against a real hub): counts
//! against the AWSD sample computed by the test from the CSV, k-suppression for T1 viewers,
//! the Poisson alert on a synthetic spike, visibility of ORG_ONLY incidents, advisories in the
//! picture and in the change feed. The hubs protect T1 counts by k-suppression (`method =
//! "suppress"`); the built-in cell-key perturbation is tested in `picture_perturbation.rs`.

use std::collections::{BTreeMap, HashMap};

use slt_client::import::import_awsd;
use slt_client::mirror::{Mirror, SyncOptions};
use slt_client::{ClientError, HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_proto::google::r#type::Date;
use slt_tests::{TestHub, new_id, sample_incident, workspace_root};

const K: u64 = 5;

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A COMMUNITY incident (unless told otherwise) in `country` on the 15th of the month.
fn incident(
    country: &str,
    year: i32,
    month: i32,
    distribution: pb::Distribution,
    killed: u32,
) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.country = country.into();
    incident.occurred_on = date(year, month, 15);
    incident.distribution = distribution as i32;
    incident.victims = vec![pb::VictimCount {
        outcome: pb::VictimOutcome::Killed as i32,
        staff: pb::StaffCategory::National as i32,
        sex: pb::Sex::Female as i32,
        count: killed,
        estimated: false,
    }];
    incident
}

fn value(count: &Option<pb::PublishedCount>) -> Option<u64> {
    let count = count.as_ref().expect("a count");
    (!count.suppressed).then_some(count.value)
}

fn picture_request(
    countries: &[&str],
    from: Option<Date>,
    to: Option<Date>,
    granularity: pb::Granularity,
    group_by: pb::PictureGroup,
) -> pb::GetThreatPictureRequest {
    pb::GetThreatPictureRequest {
        countries: countries.iter().map(|c| c.to_string()).collect(),
        from,
        to,
        granularity: granularity as i32,
        area_level: pb::AreaLevel::Country as i32,
        group_by: group_by as i32,
        ..Default::default()
    }
}

/// Per (country, year): incidents, from a yearly, ungrouped country picture.
async fn yearly_counts(
    client: &mut HubClient,
    countries: &[String],
) -> (
    pb::AccessTier,
    BTreeMap<(String, String), Option<u64>>,
    Vec<pb::GetThreatPictureResponse>,
) {
    let mut counts = BTreeMap::new();
    let mut responses = Vec::new();
    let mut tier = pb::AccessTier::Unspecified;
    for chunk in countries.chunks(50) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let picture = client
            .threat_picture(picture_request(
                &chunk,
                date(1997, 1, 1),
                date(2021, 12, 31),
                pb::Granularity::Year,
                pb::PictureGroup::None,
            ))
            .await
            .expect("picture");
        tier = pb::AccessTier::try_from(picture.tier).expect("tier");
        for row in &picture.rows {
            assert_eq!(row.group, "ALL");
            for (period, cell) in picture.periods.iter().zip(&row.cells) {
                counts.insert(
                    (row.country.clone(), period.clone()),
                    value(&cell.incidents),
                );
            }
        }
        responses.push(picture);
    }
    (tier, counts, responses)
}

#[tokio::test]
async fn awsd_picture_matches_the_csv_exactly_at_t2_and_is_suppressed_safely_at_t1() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let csv_path = workspace_root().join("../shared/data/awsd/security_incidents_1997_2021.csv");
    let report = import_awsd(&mut reporter, &csv_path, 500, |_| {})
        .await
        .expect("import");
    assert_eq!(report.created, 3_409);

    // The expected counts, from the CSV itself.
    let mut reader = csv::Reader::from_path(&csv_path).expect("csv");
    let headers = reader.headers().expect("headers").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect("column");
    let (year_column, month_column, day_column, code_column) = (
        column("Year"),
        column("Month"),
        column("Day"),
        column("Country Code"),
    );
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut without_code: BTreeMap<String, u64> = BTreeMap::new();
    // A T1 viewer is shown the start of the ISO week of a day-precise date: an incident in the
    // first days of January may belong to the previous year's last week. (country, year) ->
    // incidents in minus out.
    let mut t1_shift: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in reader.records() {
        let row = row.expect("row");
        let year = row[year_column].trim().to_string();
        let shown_year = match (
            year.parse::<i32>(),
            row[month_column].trim().parse::<u8>(),
            row[day_column].trim().parse::<u8>(),
        ) {
            (Ok(y), Ok(m), Ok(d)) => time::Month::try_from(m)
                .ok()
                .and_then(|m| time::Date::from_calendar_date(y, m, d).ok())
                .map(|day| {
                    let monday = day
                        - time::Duration::days(i64::from(day.weekday().number_days_from_monday()));
                    monday.year().to_string()
                })
                .unwrap_or_else(|| year.clone()),
            _ => year.clone(),
        };
        match slt_proto::countries::normalise_country(&row[code_column]) {
            Some(alpha3) => {
                *expected
                    .entry((alpha3.to_string(), year.clone()))
                    .or_default() += 1;
                if shown_year != year {
                    *t1_shift.entry((alpha3.to_string(), year)).or_default() -= 1;
                    *t1_shift
                        .entry((alpha3.to_string(), shown_year))
                        .or_default() += 1;
                }
            }
            None => *without_code.entry(year).or_default() += 1,
        }
    }
    assert!(
        !t1_shift.is_empty(),
        "the sample has early-January incidents"
    );
    let mut countries: Vec<String> = expected.keys().map(|(c, _)| c.clone()).collect();
    countries.dedup();
    // Rows without a code are placed by name or as XXX: ask for those areas too.
    for extra in ["XXX", "RUS", "IND", "PAK"] {
        if !countries.iter().any(|c| c == extra) {
            countries.push(extra.to_string());
        }
    }

    // T2: a focal point of another organisation sees every count exactly.
    let mut focal_point = hub.client("undss", &[Role::FocalPoint]).await;
    let (tier, exact, _) = yearly_counts(&mut focal_point, &countries).await;
    assert_eq!(tier, pb::AccessTier::T2);
    let mut excess: BTreeMap<String, u64> = BTreeMap::new();
    for ((country, year), count) in &exact {
        let count = count.expect("nothing is suppressed at T2");
        let from_csv = expected
            .get(&(country.clone(), year.clone()))
            .copied()
            .unwrap_or(0);
        assert!(
            count >= from_csv,
            "{country} {year}: hub {count}, csv {from_csv}"
        );
        *excess.entry(year.clone()).or_default() += count - from_csv;
    }
    for ((country, year), from_csv) in &expected {
        assert!(
            exact.contains_key(&(country.clone(), year.clone())),
            "{country} {year} missing ({from_csv} in the csv)"
        );
    }
    // Every (country, year) of the CSV is exact; the only differences are the rows without a
    // country code, each counted exactly once in its year.
    excess.retain(|_, extra| *extra > 0);
    assert_eq!(excess, without_code);
    assert_eq!(
        exact
            .get(&("AFG".to_string(), "2013".to_string()))
            .copied()
            .flatten(),
        expected
            .get(&("AFG".to_string(), "2013".to_string()))
            .copied()
    );

    // T1: an analyst of another organisation gets the same grid with small counts suppressed.
    let mut analyst = hub.client("ngo-beta", &[Role::Analyst]).await;
    let (tier, published, responses) = yearly_counts(&mut analyst, &countries).await;
    assert_eq!(tier, pb::AccessTier::T1);
    assert_eq!(published.len(), exact.len(), "the same grid");
    let mut suppressed = 0;
    for (key, shown) in &published {
        let shift = t1_shift.get(key).copied().unwrap_or(0);
        let truth = u64::try_from(exact[key].expect("exact") as i64 + shift).expect("count");
        match shown {
            Some(shown) => {
                assert_eq!(
                    *shown, truth,
                    "{key:?}: a published count is the true count"
                );
                assert!(
                    *shown == 0 || *shown >= K,
                    "{key:?}: {shown} published below k"
                );
            }
            None => {
                suppressed += 1;
                assert!(truth > 0, "{key:?}: zeros are published");
            }
        }
        if truth > 0 && truth < K {
            assert!(shown.is_none(), "{key:?}: {truth} must be suppressed");
        }
    }
    assert!(suppressed > 0, "the AWSD grid has small cells");
    // No suppressed count can be derived from the totals: a published period total with
    // suppressed cells leaves at least two of them, with room for one to be >= k.
    for picture in &responses {
        assert_eq!(picture.k, 5);
        for (column, total) in picture.period_totals.iter().enumerate() {
            let hidden: Vec<u64> = picture
                .rows
                .iter()
                .filter(|row| {
                    row.cells[column]
                        .incidents
                        .as_ref()
                        .expect("count")
                        .suppressed
                })
                .map(|_| 1)
                .collect();
            let Some(total) = value(&Some(*total)) else {
                continue;
            };
            if hidden.is_empty() {
                continue;
            }
            let shown: u64 = picture
                .rows
                .iter()
                .filter_map(|row| value(&row.cells[column].incidents))
                .sum();
            assert!(
                hidden.len() >= 2,
                "column {column}: one suppressed cell is derivable"
            );
            let residual = total - shown;
            assert!(
                residual >= K + hidden.len() as u64 - 1,
                "column {column}: the residual {residual} proves the suppressed cells small"
            );
        }
        for row in &picture.rows {
            let cells_hidden = row
                .cells
                .iter()
                .any(|cell| cell.incidents.as_ref().expect("count").suppressed);
            assert_eq!(
                row.incidents_total.as_ref().expect("total").suppressed,
                cells_hidden,
                "a row total is published only when it reveals no suppressed cell"
            );
        }
        if picture.period_totals.iter().any(|t| t.suppressed) {
            assert!(picture.total.expect("total").suppressed);
        }
    }
}

#[tokio::test]
async fn a_jump_is_elevated_at_the_jump_and_not_before_and_a_flat_series_never() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut batch = Vec::new();
    // NER: 3 a month for 24 months (2021-01 .. 2022-12), then 12 in 2023-01.
    // MLI: 6 a month for 25 months.
    for index in 0..25 {
        let (year, month) = (2021 + index / 12, 1 + index % 12);
        let jump = if index == 24 { 12 } else { 3 };
        for _ in 0..jump {
            batch.push(incident("NER", year, month, pb::Distribution::Community, 0));
        }
        for _ in 0..6 {
            batch.push(incident("MLI", year, month, pb::Distribution::Community, 0));
        }
    }
    reporter.submit(batch).await.expect("submit");

    let mut focal_point = hub.client("undss", &[Role::FocalPoint]).await;
    let picture = focal_point
        .threat_picture(picture_request(
            &["NER", "MLI"],
            date(2021, 1, 1),
            date(2023, 1, 31),
            pb::Granularity::Month,
            pb::PictureGroup::None,
        ))
        .await
        .expect("picture");
    assert_eq!(picture.periods.len(), 25);
    assert_eq!(picture.periods[24], "2023-01");
    let row = |country: &str| {
        picture
            .rows
            .iter()
            .find(|row| row.country == country)
            .expect("row")
    };
    let alerts = |country: &str| -> Vec<pb::Alert> {
        row(country)
            .cells
            .iter()
            .map(|cell| pb::Alert::try_from(cell.alert).expect("alert"))
            .collect()
    };
    let ner = alerts("NER");
    // No baseline for the first twelve months of the series.
    assert!(
        ner[..12].iter().all(|a| *a == pb::Alert::NotAssessed),
        "{ner:?}"
    );
    assert!(
        ner[12..24].iter().all(|a| *a == pb::Alert::Normal),
        "{ner:?}"
    );
    assert_eq!(ner[24], pb::Alert::Elevated);
    let jump = &row("NER").cells[24];
    assert_eq!(value(&jump.incidents), Some(12));
    assert_eq!((jump.baseline_mean, jump.upper_bound), (3.0, 6));
    assert_eq!(jump.change, Some(9));
    assert_eq!(value(&jump.previous_incidents), Some(3));
    let mli = alerts("MLI");
    assert!(!mli.contains(&pb::Alert::Elevated), "{mli:?}");
    assert!(mli[12..].iter().all(|a| *a == pb::Alert::Normal), "{mli:?}");
    // The hotspots rank MLI (150 incidents) above NER (84).
    let ranked: Vec<&str> = picture
        .hotspots
        .iter()
        .map(|h| h.country.as_str())
        .collect();
    assert_eq!(ranked, ["MLI", "NER"]);

    // For a T1 viewer the counts of 3 are suppressed, and so no alert is computed over them.
    let mut analyst = hub.client("ngo-beta", &[Role::Analyst]).await;
    let picture = analyst
        .threat_picture(picture_request(
            &["NER", "MLI"],
            date(2021, 1, 1),
            date(2023, 1, 31),
            pb::Granularity::Month,
            pb::PictureGroup::None,
        ))
        .await
        .expect("picture");
    let ner = picture
        .rows
        .iter()
        .find(|r| r.country == "NER")
        .expect("row");
    for cell in &ner.cells {
        let alert = pb::Alert::try_from(cell.alert).expect("alert");
        if cell.incidents.expect("count").suppressed
            || ner
                .cells
                .iter()
                .any(|c| c.incidents.expect("count").suppressed)
        {
            assert_ne!(alert, pb::Alert::Elevated);
        }
    }
}

#[tokio::test]
async fn an_org_only_incident_of_another_org_never_counts_for_a_viewer() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut batch = Vec::new();
    for _ in 0..6 {
        batch.push(incident("SSD", 2023, 5, pb::Distribution::Community, 1));
    }
    for _ in 0..7 {
        batch.push(incident("SSD", 2023, 5, pb::Distribution::OrgOnly, 10));
    }
    for _ in 0..5 {
        let mut shared = incident("SSD", 2023, 5, pb::Distribution::SharingGroup, 100);
        shared.sharing_group = "ssd-ngo-forum".into();
        batch.push(shared);
    }
    reporter.submit(batch).await.expect("submit");
    let request = || {
        picture_request(
            &["SSD"],
            date(2023, 5, 1),
            date(2023, 5, 31),
            pb::Granularity::Month,
            pb::PictureGroup::None,
        )
    };
    // (org, role, incidents, killed) each viewer must see.
    let viewers: &[(&str, Role, u64, u64)] = &[
        ("ngo-alpha", Role::FocalPoint, 18, 6 + 70 + 500),
        ("undss", Role::FocalPoint, 6, 6),
        ("ngo-beta", Role::Reporter, 11, 506),
        ("unhcr", Role::Analyst, 6, 6),
    ];
    for (org, role, incidents, killed) in viewers {
        let mut client = hub.client(org, &[*role]).await;
        let picture = client.threat_picture(request()).await.expect("picture");
        assert_eq!(picture.rows.len(), 1, "{org}");
        let cell = &picture.rows[0].cells[0];
        assert_eq!(value(&cell.incidents), Some(*incidents), "{org} {role:?}");
        assert_eq!(value(&picture.total), Some(*incidents), "{org}");
        let killed_cell = cell
            .victims_by_outcome
            .iter()
            .find(|o| o.outcome == pb::VictimOutcome::Killed as i32)
            .expect("killed");
        assert_eq!(value(&killed_cell.count), Some(*killed), "{org} {role:?}");
        // The sex breakdown only at T2 and above.
        let t2 = picture.tier >= pb::AccessTier::T2 as i32;
        assert_eq!(!cell.victims_by_sex.is_empty(), t2, "{org}");
        if t2 {
            let female = cell
                .victims_by_sex
                .iter()
                .find(|s| s.sex == pb::Sex::Female as i32)
                .expect("female");
            assert_eq!(value(&female.count), Some(*killed));
        }
    }
    // Bad input names the field.
    let mut client = hub.client("undss", &[Role::FocalPoint]).await;
    let mut bad = request();
    bad.countries = vec!["ZZZ".into()];
    bad.to = None;
    bad.admin1 = vec!["Upper Nile".into(); 40_000];
    match client.threat_picture(bad).await {
        Err(ClientError::InvalidArgument { violations, .. }) => {
            let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
            assert!(
                fields.contains(&"countries[0]")
                    && fields.contains(&"to")
                    && fields.contains(&"admin1"),
                "{fields:?}"
            );
        }
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

/// A T1 viewer's record of an incident merges an outcome's staff categories into one total
/// (staff UNKNOWN) when one of them is small (the policy's `victims.small_cell`): the picture
/// must count victims at that detail, or a published staff count next to the record's total
/// gives away the small one (here: 6 killed in the record, 5 NATIONAL in the picture, so 1
/// INTERNATIONAL, which the picture suppresses and the record withholds).
#[tokio::test]
async fn a_t1_picture_never_splits_victims_the_t1_record_shows_merged() {
    // One incident read as a record: without the record rule, which would withhold a lone
    // incident (the picture's own protection is what this test is about).
    let hub = TestHub::start_with(|config, dir| {
        slt_tests::without_record_rule(config, dir);
        slt_tests::with_suppression(config, dir);
    })
    .await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut incident = incident("SSD", 2023, 5, pb::Distribution::Community, 5);
    incident.victims.push(pb::VictimCount {
        outcome: pb::VictimOutcome::Killed as i32,
        staff: pb::StaffCategory::International as i32,
        sex: pb::Sex::Male as i32,
        count: 1,
        estimated: false,
    });
    let results = reporter.submit(vec![incident]).await.expect("submit");
    let id = results[0].id.clone();

    let mut analyst = hub.client("unhcr", &[Role::Analyst]).await;
    let record = analyst.get(&id).await.expect("get");
    assert_eq!(record.viewer_tier, pb::AccessTier::T1 as i32);
    let record_staff: Vec<i32> = record.victims.iter().map(|v| v.staff).collect();
    assert_eq!(record_staff, vec![pb::StaffCategory::Unknown as i32]);

    let picture = analyst
        .threat_picture(picture_request(
            &["SSD"],
            date(2023, 5, 1),
            date(2023, 5, 31),
            pb::Granularity::Month,
            pb::PictureGroup::None,
        ))
        .await
        .expect("picture");
    assert_eq!(picture.tier, pb::AccessTier::T1 as i32);
    let cell = &picture.rows[0].cells[0];
    let staff = |wanted: pb::StaffCategory| {
        cell.victims_by_staff
            .iter()
            .find(|s| s.staff == wanted as i32)
            .map(|s| value(&s.count))
            .expect("staff category")
    };
    assert_eq!(staff(pb::StaffCategory::National), Some(0), "{cell:?}");
    assert_eq!(staff(pb::StaffCategory::International), Some(0), "{cell:?}");
    assert_eq!(staff(pb::StaffCategory::Unknown), Some(6), "{cell:?}");

    // The origin org's focal point (T2 and above) still gets the staff categories.
    let mut focal = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let picture = focal
        .threat_picture(picture_request(
            &["SSD"],
            date(2023, 5, 1),
            date(2023, 5, 31),
            pb::Granularity::Month,
            pb::PictureGroup::None,
        ))
        .await
        .expect("picture");
    let cell = &picture.rows[0].cells[0];
    let national = cell
        .victims_by_staff
        .iter()
        .find(|s| s.staff == pb::StaffCategory::National as i32)
        .expect("national");
    assert_eq!(value(&national.count), Some(5));
}

/// A picture's grid (rows x periods) is bounded: weekly over 19 years by admin1 area is refused
/// as bad input naming the field, instead of tying up the hub's memory and CPU.
#[tokio::test]
async fn an_oversized_picture_is_refused_naming_the_field() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let batch: Vec<pb::Incident> = (0..60)
        .map(|area| {
            let mut incident = incident("SSD", 2020, 5, pb::Distribution::Community, 1);
            incident.admin1 = Some(pb::AdminArea {
                name: format!("Area {area}"),
                pcode: String::new(),
            });
            incident
        })
        .collect();
    reporter.submit(batch).await.expect("submit");
    let mut analyst = hub.client("unhcr", &[Role::Analyst]).await;
    let mut request = picture_request(
        &["SSD"],
        date(2005, 1, 3),
        date(2023, 12, 31),
        pb::Granularity::Week,
        pb::PictureGroup::None,
    );
    request.area_level = pb::AreaLevel::Admin1 as i32;
    match analyst.threat_picture(request.clone()).await {
        Err(ClientError::InvalidArgument { violations, .. }) => {
            assert_eq!(violations[0].field, "granularity", "{violations:?}");
        }
        other => panic!(
            "expected INVALID_ARGUMENT, got {:?}",
            other.map(|p| p.rows.len())
        ),
    }
    // The same by country is small enough.
    request.area_level = pb::AreaLevel::Country as i32;
    let picture = analyst.threat_picture(request).await.expect("picture");
    assert_eq!(picture.rows.len(), 1);
}

fn advisory(level: pb::SecurityLevel, distribution: pb::Distribution) -> pb::Advisory {
    pb::Advisory {
        id: new_id().to_string(),
        country: "SSD".into(),
        admin1: Some(pb::AdminArea {
            name: "Upper Nile".into(),
            pcode: "SS02".into(),
        }),
        security_level: level as i32,
        threat_category: pb::ThreatCategory::ArmedConflict as i32,
        valid_from: date(2020, 1, 1),
        valid_until: date(2099, 12, 31),
        summary: "Road movements Malakal-Renk suspended after two ambushes.".into(),
        distribution: distribution as i32,
        tlp: pb::Tlp::Amber as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn advisories_are_issued_superseded_synced_and_set_the_security_level() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut issuer = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let first = issuer
        .issue_advisory(
            advisory(pb::SecurityLevel::High, pb::Distribution::Community),
            0,
        )
        .await
        .expect("issue");
    assert_eq!(
        (first.version, first.issuing_org.as_str()),
        (1, "ngo-alpha")
    );
    // An incident so the picture has an admin1 row for Upper Nile.
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut located = incident("SSD", 2024, 3, pb::Distribution::Community, 0);
    located.admin1 = Some(pb::AdminArea {
        name: "Upper Nile".into(),
        pcode: "SS02".into(),
    });
    reporter.submit(vec![located]).await.expect("submit");

    // An expected_version out of range is bad input naming the field, not a crash.
    match issuer
        .issue_advisory(
            pb::Advisory {
                id: first.id.clone(),
                ..advisory(pb::SecurityLevel::High, pb::Distribution::Community)
            },
            u64::MAX,
        )
        .await
    {
        Err(ClientError::InvalidArgument { violations, .. }) => {
            assert_eq!(violations[0].field, "expected_version", "{violations:?}");
        }
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }

    // A list filter is bounded (one SQL parameter per country) and names the field.
    match issuer
        .list_advisories(pb::ListAdvisoriesRequest {
            countries: vec!["SSD".to_string(); 40_000],
            ..Default::default()
        })
        .await
    {
        Err(ClientError::InvalidArgument { violations, .. }) => {
            assert_eq!(violations[0].field, "countries", "{violations:?}");
        }
        other => panic!(
            "expected INVALID_ARGUMENT, got {:?}",
            other.map(|a| a.len())
        ),
    }

    // Only focal points issue; only the issuing org's supersede.
    let mut analyst = hub.client("ngo-beta", &[Role::Analyst]).await;
    assert!(matches!(
        analyst
            .issue_advisory(
                advisory(pb::SecurityLevel::Low, pb::Distribution::Community),
                0
            )
            .await,
        Err(ClientError::PermissionDenied(_))
    ));
    let mut other_focal_point = hub.client("undss", &[Role::FocalPoint]).await;
    let mut takeover = advisory(pb::SecurityLevel::Low, pb::Distribution::Community);
    takeover.id = first.id.clone();
    assert!(matches!(
        other_focal_point.issue_advisory(takeover, 1).await,
        Err(ClientError::PermissionDenied(_))
    ));

    // A partner analyst's mirror receives it, redacted to T1.
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("beta.db"))
        .await
        .expect("mirror");
    mirror
        .sync(&mut analyst, &SyncOptions::default(), |_| {})
        .await
        .expect("sync");
    let held = mirror.advisories().await.expect("advisories");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].security_level, pb::SecurityLevel::High as i32);
    assert!(held[0].summary.is_empty() && held[0].issuing_org.is_empty());
    assert!(held[0].redacted_fields.iter().any(|f| f == "summary"));

    // The picture carries the level for the area (and the country has none of its own).
    let mut admin1 = picture_request(
        &["SSD"],
        date(2024, 1, 1),
        date(2024, 12, 31),
        pb::Granularity::Quarter,
        pb::PictureGroup::ThreatCategory,
    );
    admin1.area_level = pb::AreaLevel::Admin1 as i32;
    let picture = analyst
        .threat_picture(admin1.clone())
        .await
        .expect("picture");
    assert_eq!(
        picture.periods,
        ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
    );
    let levels: Vec<(&str, i32, &str)> = picture
        .security_levels
        .iter()
        .map(|l| (l.admin1.as_str(), l.security_level, l.advisory_id.as_str()))
        .collect();
    assert_eq!(
        levels,
        [(
            "upper nile",
            pb::SecurityLevel::High as i32,
            first.id.as_str()
        )]
    );

    // A live subscriber gets a new advisory as it is issued.
    let mut live = analyst
        .subscribe(
            &mirror.cursor().await.expect("cursor"),
            Default::default(),
            1,
        )
        .await
        .expect("subscribe");
    let mut country_wide = advisory(pb::SecurityLevel::Moderate, pb::Distribution::Community);
    country_wide.admin1 = None;
    let third = issuer.issue_advisory(country_wide, 0).await.expect("issue");
    let received = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let message = live.message().await.expect("stream").expect("open");
            if let Some(change) = message.changes.iter().find(|c| c.advisory_id == third.id) {
                return change.clone();
            }
        }
    })
    .await
    .expect("the advisory arrives live");
    assert_eq!(received.r#type, pb::ChangeType::Upsert as i32);
    let pushed = received.advisory.expect("advisory");
    assert_eq!(pushed.security_level, pb::SecurityLevel::Moderate as i32);
    assert!(
        pushed.summary.is_empty(),
        "redacted to T1 on the live path too"
    );
    drop(live);

    // Superseded by a version the analyst may no longer see: its mirror is told to delete it,
    // and the picture no longer shows the level.
    let mut narrower = advisory(pb::SecurityLevel::Extreme, pb::Distribution::OrgOnly);
    narrower.id = first.id.clone();
    let second = issuer
        .issue_advisory(narrower.clone(), 1)
        .await
        .expect("supersede");
    assert_eq!(second.version, 2);
    assert!(matches!(
        issuer.issue_advisory(narrower, 1).await,
        Err(ClientError::VersionConflict { .. })
    ));
    let stats = mirror
        .sync(&mut analyst, &SyncOptions::default(), |_| {})
        .await
        .expect("sync");
    assert_eq!(stats.revokes, 1);
    let held: Vec<String> = mirror
        .advisories()
        .await
        .expect("advisories")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        held,
        std::slice::from_ref(&third.id),
        "the superseded advisory is gone"
    );
    let picture = analyst
        .threat_picture(admin1.clone())
        .await
        .expect("picture");
    let levels: Vec<(&str, i32)> = picture
        .security_levels
        .iter()
        .map(|l| (l.admin1.as_str(), l.security_level))
        .collect();
    assert_eq!(
        levels,
        [
            ("", pb::SecurityLevel::Moderate as i32),
            ("upper nile", pb::SecurityLevel::Moderate as i32)
        ],
        "only the country-wide advisory is left for the analyst"
    );
    let listed: Vec<String> = analyst
        .list_advisories(Default::default())
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, std::slice::from_ref(&third.id));
    // The issuer sees the new version everywhere.
    let picture = issuer.threat_picture(admin1).await.expect("picture");
    let upper_nile = picture
        .security_levels
        .iter()
        .find(|l| l.admin1 == "upper nile")
        .expect("level");
    assert_eq!(upper_nile.security_level, pb::SecurityLevel::Extreme as i32);
    assert_eq!(
        (upper_nile.advisory_id.as_str(), upper_nile.advisory_version),
        (first.id.as_str(), 2)
    );
    let listed = issuer
        .list_advisories(pb::ListAdvisoriesRequest {
            countries: vec!["SSD".into()],
            valid_on: date(2025, 6, 1),
            ..Default::default()
        })
        .await
        .expect("list");
    let superseded = listed.iter().find(|a| a.id == first.id).expect("listed");
    assert_eq!(superseded.version, 2);
    assert!(!superseded.summary.is_empty());

    // Every call is in the access log.
    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let records = auditor
        .query_audit(pb::QueryAuditRequest {
            method: "/slt.v1.ThreatService/IssueAdvisory".into(),
            ..Default::default()
        })
        .await
        .expect("audit");
    let outcomes: HashMap<String, usize> =
        records
            .records
            .iter()
            .fold(HashMap::new(), |mut map, record| {
                *map.entry(record.outcome.clone()).or_default() += 1;
                map
            });
    assert_eq!(outcomes.get("OK"), Some(&3), "{outcomes:?}");
    assert!(
        outcomes.get("PERMISSION_DENIED").is_some_and(|n| *n >= 2),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_picture_prints_a_table_and_writes_a_self_contained_html_report() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut batch = Vec::new();
    for index in 0..18 {
        let (year, month) = (2022 + index / 12, 1 + index % 12);
        let count = if index == 17 { 15 } else { 6 };
        for _ in 0..count {
            batch.push(incident("SSD", year, month, pb::Distribution::Community, 1));
        }
    }
    reporter.submit(batch).await.expect("submit");
    let mut issuer = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let mut country_wide = advisory(pb::SecurityLevel::Substantial, pb::Distribution::Community);
    country_wide.admin1 = None;
    issuer.issue_advisory(country_wide, 0).await.expect("issue");

    let dir = tempfile::tempdir().expect("dir");
    let html = dir.path().join("picture.html");
    let profile = hub.profile_path("undss", &[Role::FocalPoint]);
    let output = tokio::task::block_in_place(|| {
        std::process::Command::new(slt_tests::slt_binary())
            .arg("--profile")
            .arg(&profile)
            .args([
                "picture",
                "--country",
                "SSD",
                "--from",
                "2022-01-01",
                "--to",
                "2023-06-30",
                "--by",
                "country,month",
                "--html",
            ])
            .arg(&html)
            .output()
            .expect("run slt")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("2023-06"), "{stdout}");
    assert!(
        stdout.contains("15!"),
        "the elevated cell is marked: {stdout}"
    );
    assert!(stdout.contains("security level SSD"), "{stdout}");

    let report = std::fs::read_to_string(&html).expect("report");
    assert!(report.starts_with("<!DOCTYPE html>"));
    assert!(report.matches("<svg").count() >= 3, "charts are inline SVG");
    assert!(
        report.contains("class=\"hot\">15<"),
        "the elevated cell is highlighted"
    );
    assert!(report.contains("SUBSTANTIAL"), "advisory levels per area");
    assert!(report.contains("Victims by sex") && report.contains("female"));
    // Self-contained: nothing to fetch, nothing to run.
    for forbidden in [
        "<script", "src=", "href=", "url(", "@import", "http://", "https://",
    ] {
        assert!(!report.contains(forbidden), "{forbidden} in the report");
    }
}
