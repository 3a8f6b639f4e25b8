//! ThreatService.GetForecast end to end: a T1 viewer's forecast is withheld wherever its own
//! picture suppresses a count of the history, and is given where the picture is whole; a T2
//! viewer gets the same row forecast.

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
    let hub = TestHub::start().await;
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
