//! The threat picture under the cell-key method (`[aggregate] method = "cell_key"`), end to
//! end: an analyst of another organisation (T1) gets perturbed counts, never a 1 or a 2, the
//! same number for the same cell in every request, and no differencing of requests (country
//! against admin1, a filtered admin1 request, overlapping windows, repeated asks) pins down a
//! small count; a focal point (T2) still gets exact counts. Record keys are filled at start for
//! rows written before the hub had them.

use std::collections::BTreeMap;

use slt_client::{HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_hub::policy::cell_key::possible_counts;
use slt_proto::google::r#type::Date;
use slt_tests::{TestHub, new_id, sample_incident};

/// True incidents per admin1 of South Sudan in May 2023 (and one in June, in Jonglei).
const MAY: [(&str, u32); 4] = [
    ("Jonglei", 1),
    ("Unity", 2),
    ("Upper Nile", 6),
    ("Lakes", 4),
];

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn incident(admin1: &str, month: i32) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.admin1 = Some(pb::AdminArea {
        name: admin1.into(),
        pcode: String::new(),
    });
    incident.occurred_on = date(2023, month, 15);
    incident.victims = vec![pb::VictimCount {
        outcome: pb::VictimOutcome::Killed as i32,
        staff: pb::StaffCategory::National as i32,
        sex: pb::Sex::Female as i32,
        count: 1,
        estimated: false,
    }];
    incident
}

fn request(
    area_level: pb::AreaLevel,
    admin1: &[&str],
    from: (i32, i32),
    to: (i32, i32),
) -> pb::GetThreatPictureRequest {
    pb::GetThreatPictureRequest {
        countries: vec!["SSD".into()],
        admin1: admin1.iter().map(|a| a.to_string()).collect(),
        from: date(2023, from.0, from.1),
        to: date(2023, to.0, to.1),
        granularity: pb::Granularity::Month as i32,
        area_level: area_level as i32,
        group_by: pb::PictureGroup::None as i32,
    }
}

fn value(count: &Option<pb::PublishedCount>) -> u64 {
    let count = count.as_ref().expect("a count");
    assert!(
        !count.suppressed,
        "nothing is suppressed under the cell-key method"
    );
    count.value
}

/// Every number of a picture, for the "never 1 or 2" check.
fn all_numbers(picture: &pb::GetThreatPictureResponse) -> Vec<u64> {
    let mut numbers = vec![value(&picture.total)];
    numbers.extend(picture.period_totals.iter().map(|c| c.value));
    for row in &picture.rows {
        numbers.push(value(&row.incidents_total));
        for cell in &row.cells {
            numbers.push(value(&cell.incidents));
            numbers.push(value(&cell.victims));
            numbers.extend(cell.victims_by_outcome.iter().map(|o| value(&o.count)));
        }
    }
    numbers
}

/// Published incidents per (admin1, period index) of a picture.
fn cells(picture: &pb::GetThreatPictureResponse) -> BTreeMap<(String, usize), u64> {
    let mut cells = BTreeMap::new();
    for row in &picture.rows {
        for (period, cell) in row.cells.iter().enumerate() {
            cells.insert((row.admin1.to_lowercase(), period), value(&cell.incidents));
        }
    }
    cells
}

/// The values of `target` consistent with published parts and one published sum of them.
fn feasible(target: usize, parts: &[u64], sum: u64) -> Vec<u64> {
    let sets: Vec<Vec<u64>> = parts.iter().map(|&p| possible_counts(p)).collect();
    let mut values = Vec::new();
    let mut choice = vec![0usize; sets.len()];
    'outer: loop {
        let counts: Vec<u64> = choice.iter().zip(&sets).map(|(&i, s)| s[i]).collect();
        if possible_counts(sum).contains(&counts.iter().sum()) && !values.contains(&counts[target])
        {
            values.push(counts[target]);
        }
        for position in 0..choice.len() {
            choice[position] += 1;
            if choice[position] < sets[position].len() {
                continue 'outer;
            }
            choice[position] = 0;
        }
        values.sort_unstable();
        return values;
    }
}

async fn picture(
    client: &mut HubClient,
    request: pb::GetThreatPictureRequest,
) -> pb::GetThreatPictureResponse {
    client.threat_picture(request).await.expect("picture")
}

#[tokio::test]
async fn cell_key_pictures_survive_differencing() {
    // The built-in policy: cell-key perturbation is the default below T2.
    assert!(slt_hub::policy::rules::DEFAULT_POLICY_TOML.contains("method = \"cell_key\""));
    let mut hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut batch = Vec::new();
    for (admin1, count) in MAY {
        for _ in 0..count {
            batch.push(incident(admin1, 5));
        }
    }
    batch.push(incident("Jonglei", 6));
    reporter.submit(batch).await.expect("submit");
    // Rows written without a key (as by a tool that has no pseudonym key) get one at start.
    hub.execute_sql(&["UPDATE incidents SET record_key = NULL"])
        .await;
    hub.restart().await;
    // The restarted hub filled every row: filling again finds none left.
    let master = slt_hub::identity::keys::read_secret_hex(&hub.config.pseudonym_key)
        .expect("the pseudonym key");
    let store = slt_hub::store::Store::open(&hub.config.database_url)
        .await
        .expect("the hub's database")
        .with_record_keys(slt_hub::policy::cell_key::RecordKeys::new(&master));
    assert_eq!(store.fill_record_keys().await.expect("fill"), 0);

    let mut analyst = hub.client("unhcr", &[Role::Analyst]).await;
    let country = picture(
        &mut analyst,
        request(pb::AreaLevel::Country, &[], (5, 1), (5, 31)),
    )
    .await;
    assert!(country.perturbed);
    assert_eq!(country.tier, pb::AccessTier::T1 as i32);
    assert_eq!(country.k, 0);
    let admin1 = picture(
        &mut analyst,
        request(pb::AreaLevel::Admin1, &[], (5, 1), (5, 31)),
    )
    .await;
    let filtered = picture(
        &mut analyst,
        request(
            pb::AreaLevel::Admin1,
            &["Upper Nile", "Lakes"],
            (5, 1),
            (5, 31),
        ),
    )
    .await;
    let april_june = picture(
        &mut analyst,
        request(pb::AreaLevel::Admin1, &[], (4, 1), (6, 30)),
    )
    .await;
    let may_july = picture(
        &mut analyst,
        request(pb::AreaLevel::Admin1, &[], (5, 1), (7, 31)),
    )
    .await;

    for shown in [&country, &admin1, &filtered, &april_june, &may_july] {
        for number in all_numbers(shown) {
            assert!(number != 1 && number != 2, "published {number}");
        }
    }
    // The same cell, asked five ways, is the same number.
    let may = cells(&admin1);
    for (area, _) in MAY {
        let key = (area.to_lowercase(), 0);
        if let Some(&n) = cells(&filtered).get(&key) {
            assert_eq!(n, may[&key], "{area} filtered");
        }
        assert_eq!(
            cells(&april_june)[&(area.to_lowercase(), 1)],
            may[&key],
            "{area} Apr-Jun"
        );
        assert_eq!(cells(&may_july)[&key], may[&key], "{area} May-Jul");
    }
    for _ in 0..3 {
        let again = picture(
            &mut analyst,
            request(pb::AreaLevel::Country, &[], (5, 1), (5, 31)),
        )
        .await;
        assert_eq!(again, country, "asking again gives the same picture");
    }

    // Differencing: the country cell against the admin1 cells leaves the small ones open.
    let country_may = value(&country.rows[0].cells[0].incidents);
    let parts: Vec<u64> = MAY
        .iter()
        .map(|(a, _)| may[&(a.to_lowercase(), 0)])
        .collect();
    for (target, (area, truth)) in MAY.iter().enumerate() {
        let values = feasible(target, &parts, country_may);
        assert!(values.contains(&u64::from(*truth)), "{area}: {values:?}");
        if *truth < 3 {
            assert!(values.len() >= 2, "{area} pinned to {values:?}");
        }
    }

    // A focal point of the reporting organisation still gets exact counts.
    let mut focal = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
    let exact = picture(
        &mut focal,
        request(pb::AreaLevel::Admin1, &[], (5, 1), (5, 31)),
    )
    .await;
    assert!(!exact.perturbed);
    let exact_cells = cells(&exact);
    for (area, truth) in MAY {
        assert_eq!(
            exact_cells[&(area.to_lowercase(), 0)],
            u64::from(truth),
            "{area}"
        );
    }
}
