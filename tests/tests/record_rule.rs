//! The record rule (k-anonymous records below T2) on a real hub, played by the curious analyst
//! of another organisation: whatever it lists, gets or mirrors falls in classes of at least 3
//! on the quasi-identifiers as it received them (counted here, by this test's own code); a
//! withheld incident is NOT_FOUND like one that does not exist; filters never select on a value
//! it was not given; and mirrors converge when a class crosses k in either direction.

use std::collections::{BTreeMap, BTreeSet};

use slt_client::import::import_awsd;
use slt_client::{HubClient, Mirror, SyncOptions, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, submit_stored, workspace_root};

const REPORTER: &[Role] = &[Role::Reporter];
const ANALYST: &[Role] = &[Role::Analyst];
const FOCAL_POINT: &[Role] = &[Role::FocalPoint];
const K: usize = 3;

/// The quasi-identifiers of an incident as received: country, threat category, admin1,
/// coordinates, date and its precision, incident types, victims, affected organisation types.
fn class_of(incident: &pb::Incident) -> String {
    let mut types = incident.incident_types.clone();
    types.sort_unstable();
    types.dedup();
    let mut victims: Vec<(i32, i32, i32, u32)> = incident
        .victims
        .iter()
        .filter(|cell| cell.count > 0)
        .map(|cell| (cell.outcome, cell.staff, cell.sex, cell.count))
        .collect();
    victims.sort_unstable();
    let orgs = incident.affected_org_types.unwrap_or_default();
    format!(
        "{}|{}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}",
        incident.country,
        incident.threat_category,
        incident.admin1.as_ref().map(|a| a.name.to_lowercase()),
        incident.location.as_ref().map(|l| (
            l.latitude.to_bits(),
            l.longitude.to_bits(),
            l.precision
        )),
        incident
            .occurred_on
            .as_ref()
            .map(|d| (d.year, d.month, d.day)),
        incident.date_precision,
        types,
        victims,
        (
            orgs.un,
            orgs.ingo,
            orgs.nngo,
            orgs.icrc,
            orgs.ifrc_nrcs,
            orgs.other
        ),
    )
}

/// Class sizes of a set of received incidents.
fn classes(incidents: &[pb::Incident]) -> BTreeMap<String, usize> {
    let mut sizes = BTreeMap::new();
    for incident in incidents {
        *sizes.entry(class_of(incident)).or_default() += 1;
    }
    sizes
}

fn smallest_class(incidents: &[pb::Incident]) -> usize {
    classes(incidents)
        .values()
        .copied()
        .min()
        .unwrap_or(usize::MAX)
}

async fn listed(client: &mut HubClient, filter: pb::IncidentFilter) -> Vec<pb::Incident> {
    client
        .list_all(pb::IncidentFilter {
            verifications: (1..=5).collect(),
            ..filter
        })
        .await
        .expect("list")
}

async fn mirrored(mirror: &Mirror, client: &mut HubClient) -> Vec<pb::Incident> {
    mirror
        .sync(client, &SyncOptions::default(), |_| {})
        .await
        .expect("sync");
    mirror.incidents().await.expect("read mirror")
}

fn ids(incidents: &[pb::Incident]) -> BTreeSet<String> {
    incidents.iter().map(|i| i.id.clone()).collect()
}

fn is_not_found(result: Result<pb::Incident, slt_client::ClientError>) -> bool {
    matches!(result, Err(slt_client::ClientError::NotFound(_)))
}

#[tokio::test]
async fn an_analyst_of_another_org_receives_the_awsd_only_in_classes_of_three() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", REPORTER).await;
    let csv = workspace_root().join("../shared/data/awsd/security_incidents_1997_2021.csv");
    let imported = import_awsd(&mut reporter, csv, 500, |_| {})
        .await
        .expect("import");
    assert_eq!(imported.created, 3_409);
    let own = listed(&mut reporter, Default::default()).await;
    assert_eq!(own.len(), 3_409);

    let mut analyst = hub.client("ngo-beta", ANALYST).await;
    let list = listed(&mut analyst, Default::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("beta.db"))
        .await
        .expect("mirror");
    let copy = mirrored(&mirror, &mut analyst).await;

    let sizes = classes(&list);
    let released = list.len();
    println!(
        "AWSD as ngo-beta's analyst receives it: {released} of 3,409 released in {} classes, \
         smallest {}; {} withheld",
        sizes.len(),
        smallest_class(&list),
        3_409 - released
    );
    assert!(smallest_class(&list) >= K, "a class under {K} in the list");
    assert!(
        smallest_class(&copy) >= K,
        "a class under {K} in the mirror"
    );
    assert_eq!(ids(&list), ids(&copy), "list and mirror disagree");
    // The rule generalises before it withholds: most of the data still reaches the analyst.
    assert!(released >= 3_409 / 2, "only {released} released");
    assert!(
        list.iter()
            .any(|i| i.date_precision == pb::DatePrecision::Month as i32),
        "no incident was generalised to its month"
    );

    // Withheld incidents are NOT_FOUND, exactly like an id nobody holds.
    let received = ids(&list);
    let withheld: Vec<&pb::Incident> = own.iter().filter(|i| !received.contains(&i.id)).collect();
    assert_eq!(withheld.len(), 3_409 - released);
    for incident in withheld.iter().take(5) {
        assert!(is_not_found(analyst.get(&incident.id).await));
    }
    assert!(is_not_found(analyst.get(&new_id().to_string()).await));
    // What Get returns is what List returned.
    let sample = &list[released / 2];
    assert_eq!(&analyst.get(&sample.id).await.expect("get"), sample);

    // A focal point (T2) is not under the rule: everything, at T2.
    let mut focal_point = hub.client("undss", FOCAL_POINT).await;
    assert_eq!(
        listed(&mut focal_point, Default::default()).await.len(),
        3_409
    );
}

/// Three incidents alike except admin1 and week: the rule releases them only with admin1
/// withheld, so a filter on admin1 must match none of them (matching one would say where it
/// happened).
#[tokio::test]
async fn a_filter_never_selects_on_a_value_the_viewer_was_not_given() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", REPORTER).await;
    let mut batch: Vec<pb::Incident> = ["Jonglei", "Unity", "Lakes"]
        .iter()
        .enumerate()
        .map(|(n, admin1)| {
            let mut incident = sample_incident(new_id());
            incident.admin1 = Some(pb::AdminArea {
                name: (*admin1).into(),
                pcode: String::new(),
            });
            incident.occurred_on = Some(slt_proto::google::r#type::Date {
                year: 2024,
                month: 5 + n as i32,
                day: 16,
            });
            incident
        })
        .collect();
    submit_stored(&mut reporter, &mut batch).await;

    let mut analyst = hub.client("ngo-beta", ANALYST).await;
    let all = listed(&mut analyst, Default::default()).await;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|i| i.admin1.is_none()));
    assert!(
        all.iter()
            .all(|i| i.date_precision == pb::DatePrecision::Year as i32)
    );
    assert!(smallest_class(&all) >= K);
    for admin1 in ["jonglei", "unity", "lakes"] {
        let filtered = listed(
            &mut analyst,
            pb::IncidentFilter {
                admin1: vec![admin1.into()],
                ..Default::default()
            },
        )
        .await;
        assert!(
            filtered.is_empty(),
            "admin1 {admin1} selected {}",
            filtered.len()
        );
    }
    // A date range inside one incident's month selects on the year shown, never on the month.
    let june = pb::IncidentFilter {
        occurred_from: Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 6,
            day: 1,
        }),
        occurred_to: Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 6,
            day: 30,
        }),
        ..Default::default()
    };
    assert!(listed(&mut analyst, june).await.is_empty());
    // The origin org's own reporter still filters on everything.
    let own = listed(
        &mut reporter,
        pb::IncidentFilter {
            admin1: vec!["unity".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(own.len(), 1);
}

/// A class grows past k, then shrinks under it: the analyst's mirror receives the incidents
/// when their class reaches 3, generalised as the list gives them, and loses them (REVOKE)
/// when an amendment leaves their class at 2.
#[tokio::test]
async fn mirrors_converge_when_a_class_crosses_k_in_either_direction() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", REPORTER).await;
    let mut analyst = hub.client("ngo-beta", ANALYST).await;
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("beta.db"))
        .await
        .expect("mirror");

    // Two alike, in different weeks of one month (weeks starting in May: a month step works on
    // the week shown, never on the day withheld): a class of two at every level.
    let alike = |day: u32| {
        let mut incident = sample_incident(new_id());
        incident.occurred_on = Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 5,
            day: day as i32,
        });
        incident
    };
    let mut first = vec![alike(6), alike(13)];
    submit_stored(&mut reporter, &mut first).await;
    // The feed says nothing of them: no UPSERT, and no REVOKE (which would name them).
    let mut stream = analyst
        .pull("", Default::default(), 100)
        .await
        .expect("pull");
    while let Some(page) = stream.message().await.expect("page") {
        assert!(page.changes.is_empty(), "{:?}", page.changes);
    }
    assert!(mirrored(&mirror, &mut analyst).await.is_empty());
    assert!(listed(&mut analyst, Default::default()).await.is_empty());

    // A third in the same month: the class reaches 3 at the month, coordinates withheld.
    let mut third = vec![alike(20)];
    submit_stored(&mut reporter, &mut third).await;
    let copy = mirrored(&mirror, &mut analyst).await;
    let list = listed(&mut analyst, Default::default()).await;
    assert_eq!(copy.len(), 3, "the mirror did not receive the class");
    let by_id = |set: &[pb::Incident]| -> BTreeMap<String, pb::Incident> {
        set.iter().map(|i| (i.id.clone(), i.clone())).collect()
    };
    assert_eq!(by_id(&copy), by_id(&list));
    assert!(
        copy.iter()
            .all(|i| i.date_precision == pb::DatePrecision::Month as i32)
    );
    assert!(copy.iter().all(|i| i.location.is_none()));
    assert!(smallest_class(&copy) >= K);

    // The origin moves one to another country: the two left behind fall under k and go; the
    // moved one is alone in its country and never arrives.
    let mut moved = first[0].clone();
    moved.country = "SOM".into();
    moved.admin1 = Some(pb::AdminArea {
        name: "Banadir".into(),
        pcode: String::new(),
    });
    reporter.amend(moved, 1).await.expect("amend");
    assert!(mirrored(&mirror, &mut analyst).await.is_empty());
    assert!(listed(&mut analyst, Default::default()).await.is_empty());

    // And back over k: three more in Somalia, alike the moved one.
    let mut somalia: Vec<pb::Incident> = [10, 17, 24]
        .iter()
        .map(|day| {
            let mut incident = alike(*day);
            incident.country = "SOM".into();
            incident.admin1 = Some(pb::AdminArea {
                name: "Banadir".into(),
                pcode: String::new(),
            });
            incident
        })
        .collect();
    submit_stored(&mut reporter, &mut somalia).await;
    let copy = mirrored(&mirror, &mut analyst).await;
    assert_eq!(copy.len(), 4);
    assert!(copy.iter().all(|i| i.country == "SOM"));
    assert_eq!(
        by_id(&copy),
        by_id(&listed(&mut analyst, Default::default()).await)
    );
    assert!(smallest_class(&copy) >= K);
}

/// The prober pages one record at a time: rows it does not receive are skipped inside the
/// call, so no page comes back empty with a token to say "one withheld here".
#[tokio::test]
async fn paging_one_by_one_says_nothing_of_what_is_withheld() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", REPORTER).await;
    // Lone incidents (each withheld) around a class of three (released).
    let lone = |country: &str| {
        let mut incident = sample_incident(new_id());
        incident.country = country.into();
        incident.admin1 = None;
        incident
    };
    let mut batch = vec![lone("SOM"), lone("AFG")];
    batch.extend(slt_tests::sample_class(3));
    batch.push(lone("MLI"));
    batch.push(lone("NER"));
    submit_stored(&mut reporter, &mut batch).await;

    let mut analyst = hub.client("ngo-beta", ANALYST).await;
    let mut token = String::new();
    let mut received = 0;
    loop {
        let page = analyst
            .list(pb::IncidentFilter::default(), 1, token)
            .await
            .expect("list");
        assert!(
            !page.incidents.is_empty() || page.next_page_token.is_empty(),
            "an empty page with a token counts a withheld incident"
        );
        received += page.incidents.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(received, 3);
}

/// Retracted incidents count in no class (a retraction's reason, "duplicate of ...", would
/// turn a class of duplicates into one event) and leave a T1 viewer's mirror.
#[tokio::test]
async fn a_retraction_shrinks_the_class_and_mirrors_follow() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", REPORTER).await;
    let mut analyst = hub.client("ngo-beta", ANALYST).await;
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("beta.db"))
        .await
        .expect("mirror");
    let mut class = slt_tests::sample_class(3);
    submit_stored(&mut reporter, &mut class).await;
    let copy = mirrored(&mirror, &mut analyst).await;
    assert_eq!(copy.len(), 3);
    // Under the rule, T1 records carry no external references (public event ids).
    assert!(
        copy.iter()
            .all(|i| i.external_refs.as_ref().is_none_or(|r| r.awsd.is_empty()))
    );

    reporter
        .retract(&class[0].id, "duplicate of another report", 1)
        .await
        .expect("retract");
    assert!(mirrored(&mirror, &mut analyst).await.is_empty());
    assert!(listed(&mut analyst, Default::default()).await.is_empty());
}
