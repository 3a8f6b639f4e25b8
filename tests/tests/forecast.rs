//! ThreatService.GetForecast end to end: a T1 viewer's forecast is withheld wherever its own
//! picture suppresses a count of the history, and is given where the picture is whole; a T2
//! viewer gets the same row forecast. The hubs protect T1 counts by k-suppression (`method =
//! "suppress"`, not the built-in cell-key method), which is what the forecast follows here.

use slt_client::proto as pb;
use slt_hub::identity::Role;
use slt_proto::google::r#type::Date;
use slt_tests::{TestHub, new_id, sample_incident};
use time::OffsetDateTime;

/// (year, month) of the first month of the quarter `back` quarters before the current one.
fn quarter_back(back: i32) -> (i32, i32) {
    let today = OffsetDateTime::now_utc().date();
    let index = today.year() * 4 + (i32::from(u8::from(today.month())) - 1) / 3 - back;
    (index.div_euclid(4), index.rem_euclid(4) * 3 + 1)
}

fn incident(country: &str, (year, month): (i32, i32)) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.country = country.into();
    incident.occurred_on = Some(Date {
        year,
        month,
        day: 15,
    });
    incident.distribution = pb::Distribution::Community as i32;
    incident.victims = Vec::new();
    incident
}

fn request(countries: &[&str]) -> pb::GetForecastRequest {
    pb::GetForecastRequest {
        countries: countries.iter().map(|c| c.to_string()).collect(),
        granularity: pb::Granularity::Quarter as i32,
        area_level: pb::AreaLevel::Country as i32,
        group_by: pb::PictureGroup::None as i32,
        horizon: 4,
        ..Default::default()
    }
}

fn withheld(response: &pb::GetForecastResponse, country: &str) -> bool {
    let row = response.rows.iter().find(|r| r.country == country);
    let incidents = row
        .and_then(|r| r.incidents.as_ref())
        .expect("row forecast");
    assert_eq!(incidents.withheld, incidents.quantiles.is_empty());
    incidents.withheld
}

#[tokio::test]
async fn a_t1_forecast_is_withheld_where_its_picture_suppresses_and_given_where_it_is_whole() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    // 12 complete quarters: MLI 8 and BFA 9 a quarter, NER 6 except 2 in one quarter.
    let mut batch = Vec::new();
    for back in 1..=12 {
        let quarter = quarter_back(back);
        let ner = if back == 5 { 2 } else { 6 };
        for (country, count) in [("NER", ner), ("MLI", 8), ("BFA", 9)] {
            batch.extend((0..count).map(|_| incident(country, quarter)));
        }
    }
    reporter.submit(batch).await.expect("submit");
    let countries = ["NER", "MLI", "BFA"];

    let mut focal_point = hub.client("undss", &[Role::FocalPoint]).await;
    let t2 = focal_point.forecast(request(&countries)).await.expect("T2");
    assert_eq!(t2.periods.len(), 4);
    assert!(countries.iter().all(|c| !withheld(&t2, c)), "{t2:?}");
    let ner = t2.rows.iter().find(|r| r.country == "NER").expect("NER");
    let first = &ner.incidents.as_ref().expect("forecast").quantiles[0];
    assert!(first.lower_95 <= first.median && first.median <= first.upper_95);
    assert!((2..=10).contains(&first.median), "{first:?}");

    // The T1 picture of the same 40 quarters, and the T1 forecast: a row is withheld exactly
    // when its picture row has a suppressed quarter.
    let mut analyst = hub.client("ngo-beta", &[Role::Analyst]).await;
    let t1 = analyst.forecast(request(&countries)).await.expect("T1");
    let (first_year, first_month) = quarter_back(40);
    let (last_year, last_month) = quarter_back(1);
    let picture = analyst
        .threat_picture(pb::GetThreatPictureRequest {
            countries: countries.iter().map(|c| c.to_string()).collect(),
            from: Some(Date {
                year: first_year,
                month: first_month,
                day: 1,
            }),
            to: Some(Date {
                year: last_year,
                month: last_month,
                day: 1,
            }),
            granularity: pb::Granularity::Quarter as i32,
            area_level: pb::AreaLevel::Country as i32,
            group_by: pb::PictureGroup::None as i32,
            ..Default::default()
        })
        .await
        .expect("T1 picture");
    assert_eq!(picture.periods.len(), 40);
    let mut given = 0;
    for row in &picture.rows {
        let suppressed = row
            .cells
            .iter()
            .any(|c| c.incidents.as_ref().is_none_or(|n| n.suppressed));
        assert_eq!(withheld(&t1, &row.country), suppressed, "{}", row.country);
        given += usize::from(!suppressed);
    }
    assert!(withheld(&t1, "NER"), "NER's 2 is suppressed at T1");
    assert!(given > 0, "some T1 row is whole and forecast");
}

/// The forecast's victims by sex exist only where the caller's picture shows sex (T2 and
/// above): a T2 focal point gets them, a T1 analyst gets none, though both get the victims by
/// outcome and staff of the same rows.
#[tokio::test]
async fn victims_by_sex_are_forecast_at_t2_and_never_given_to_a_t1_viewer() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    // 12 complete quarters of MLI, 8 incidents each, every one with 2 men and 1 woman injured
    // (the harness's sample victims): every count is well above k.
    let mut batch = Vec::new();
    for back in 1..=12 {
        let quarter = quarter_back(back);
        batch.extend((0..8).map(|_| {
            let mut incident = incident("MLI", quarter);
            incident.victims = sample_incident(new_id()).victims;
            incident
        }));
    }
    reporter.submit(batch).await.expect("submit");

    let mut focal_point = hub.client("undss", &[Role::FocalPoint]).await;
    let t2 = focal_point.forecast(request(&["MLI"])).await.expect("T2");
    let row = t2.rows.iter().find(|r| r.country == "MLI").expect("MLI");
    let female = row
        .victims_by_sex
        .iter()
        .find(|s| s.sex == pb::Sex::Female as i32)
        .and_then(|s| s.forecast.as_ref())
        .expect("a T2 forecast of female victims");
    assert!(!female.withheld, "{row:?}");
    // 8 women a quarter (the quarters before the 12 are empty, the level has moved up to 8
    // from 0 over 12 quarters): the median is between the two.
    let first = &female.quantiles[0];
    assert!((1..=8).contains(&first.median), "{first:?}");
    let male = row
        .victims_by_sex
        .iter()
        .find(|s| s.sex == pb::Sex::Male as i32);
    let male = male.and_then(|s| s.forecast.as_ref()).expect("male");
    assert!(male.quantiles[0].median > first.median, "{male:?}");

    let mut analyst = hub.client("ngo-beta", &[Role::Analyst]).await;
    let t1 = analyst.forecast(request(&["MLI"])).await.expect("T1");
    let row = t1.rows.iter().find(|r| r.country == "MLI").expect("MLI");
    assert!(!row.victims_by_outcome.is_empty(), "{row:?}");
    assert!(!row.victims_by_staff.is_empty(), "{row:?}");
    assert!(
        row.victims_by_sex.is_empty(),
        "a T1 viewer is given victims by sex: {:?}",
        row.victims_by_sex
    );
}

/// `slt forecast` prints the forecast per area and period, and `slt picture --html` over a
/// picture that runs to today draws the forecast band and the expected vs observed view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_forecast_prints_the_intervals_and_the_report_shows_the_band() {
    let hub = TestHub::start_with(slt_tests::with_suppression).await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut batch = Vec::new();
    for back in 0..=12 {
        batch.extend((0..6).map(|_| {
            let mut incident = incident("MLI", quarter_back(back));
            // The current quarter's incidents on its first day, never in the future.
            if let Some(date) = incident.occurred_on.as_mut().filter(|_| back == 0) {
                date.day = 1;
            }
            incident
        }));
    }
    reporter.submit(batch).await.expect("submit");
    let profile = hub.profile_path("undss", &[Role::FocalPoint]);
    let run = |args: &[&str]| {
        let output = tokio::task::block_in_place(|| {
            std::process::Command::new(slt_tests::slt_binary())
                .arg("--profile")
                .arg(&profile)
                .args(args)
                .output()
                .expect("run slt")
        });
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let stdout = run(&[
        "forecast",
        "--country",
        "MLI",
        "--horizon",
        "2",
        "--victims",
    ]);
    assert!(
        stdout.contains("median") && stdout.contains("80%"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MLI") && stdout.contains("incidents"),
        "{stdout}"
    );
    assert!(stdout.contains("victims female"), "T2 gets sex: {stdout}");
    assert!(stdout.contains("model: negative binomial"), "{stdout}");

    let dir = tempfile::tempdir().expect("dir");
    let html = dir.path().join("report.html");
    let (year, month) = quarter_back(12);
    let today = OffsetDateTime::now_utc().date();
    let html_arg = html.to_string_lossy().to_string();
    run(&[
        "picture",
        "--country",
        "MLI",
        "--from",
        &format!("{year}-{month:02}-01"),
        "--to",
        &today.to_string(),
        "--by",
        "country,quarter",
        "--group",
        "none",
        "--html",
        &html_arg,
    ]);
    let report = std::fs::read_to_string(&html).expect("report");
    assert!(report.contains("forecast, 80% band"), "the band is drawn");
    assert!(report.contains("<h2>Expected vs observed</h2>"));
    assert!(report.contains("MLI"), "the area is compared");
}
