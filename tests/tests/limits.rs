//! Limits a partner cannot exceed (issue 17, point 5), each tried by the partner who would
//! exceed it, on a real hub: streams and calls in flight per org, the call deadline, and the
//! advisory flood that used to push everyone else's advisories out of the picture. Every limit
//! answers RESOURCE_EXHAUSTED with a RetryInfo naming its `hub.toml` setting (or
//! DEADLINE_EXCEEDED), and other orgs are served meanwhile.

use std::time::Duration;

use slt_client::{ClientError, proto as pb};
use slt_hub::identity::Role;
use slt_proto::google::r#type::Date;
use slt_proto::v1::incident_service_client::IncidentServiceClient;
use slt_proto::v1::sync_service_client::SyncServiceClient;
use slt_tests::{TestHub, authorised, list_request, new_id, sample_advisory, sample_incident};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

async fn subscribe(
    sync: &mut SyncServiceClient<Channel>,
    token: &str,
) -> Result<tonic::Streaming<pb::SubscribeResponse>, tonic::Status> {
    sync.subscribe(authorised(
        pb::SubscribeRequest {
            heartbeat_seconds: 300,
            ..Default::default()
        },
        token,
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// RESOURCE_EXHAUSTED naming `setting`, with a RetryInfo.
fn assert_exhausted(status: &tonic::Status, setting: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains(setting), "{status:?}");
    let retry = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("a RetryInfo");
    assert!(retry > Duration::ZERO, "{retry:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_cannot_hold_more_streams_or_calls_than_its_caps() {
    let hub = TestHub::start_with(|config, _| {
        config.limits.streams_per_org = 2;
        config.limits.calls_in_flight_per_org = 3;
    })
    .await;
    let token = hub.token("ngo-beta", &[Role::Analyst]);
    let mut sync = SyncServiceClient::new(hub.raw_channel("ngo-beta").await);
    let first = subscribe(&mut sync, &token).await.expect("first stream");
    let second = subscribe(&mut sync, &token).await.expect("second stream");
    let refused = subscribe(&mut sync, &token)
        .await
        .expect_err("a third stream is over the cap");
    assert_exhausted(&refused, "limits.streams_per_org");

    // Another org is not held back by ngo-beta's streams.
    let mut alpha = hub.client("ngo-alpha", &[Role::Analyst]).await;
    let alpha_token = hub.token("ngo-alpha", &[Role::Analyst]);
    let mut alpha_sync = SyncServiceClient::new(hub.raw_channel("ngo-alpha").await);
    let _alpha_stream = subscribe(&mut alpha_sync, &alpha_token)
        .await
        .expect("another org's stream");
    alpha
        .list(Default::default(), 1, String::new())
        .await
        .expect("another org's call");

    // The two open streams hold two of ngo-beta's three calls in flight: a unary call fits.
    let mut incidents = IncidentServiceClient::new(hub.raw_channel("ngo-beta").await);
    incidents
        .list_incidents(list_request(&token))
        .await
        .expect("a third call in flight fits");

    // Closing a stream gives its slots back.
    drop(first);
    let mut reopened = None;
    for _ in 0..100 {
        match subscribe(&mut sync, &token).await {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            Err(status) => {
                assert_exhausted(&status, "limits.streams_per_org");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(reopened.is_some(), "a closed stream's slot comes back");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_count_as_calls_in_flight() {
    let hub = TestHub::start_with(|config, _| {
        config.limits.streams_per_org = 8;
        config.limits.calls_in_flight_per_org = 2;
    })
    .await;
    let token = hub.token("ngo-beta", &[Role::Analyst]);
    let mut sync = SyncServiceClient::new(hub.raw_channel("ngo-beta").await);
    let _first = subscribe(&mut sync, &token).await.expect("first");
    let _second = subscribe(&mut sync, &token).await.expect("second");
    let mut incidents = IncidentServiceClient::new(hub.raw_channel("ngo-beta").await);
    let refused = incidents
        .list_incidents(list_request(&token))
        .await
        .expect_err("two open streams fill two calls in flight");
    assert_exhausted(&refused, "limits.calls_in_flight_per_org");
    let mut alpha = hub.client("ngo-alpha", &[Role::Analyst]).await;
    alpha
        .list(Default::default(), 1, String::new())
        .await
        .expect("another org's call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_the_deadline_is_cut_and_writes_nothing() {
    let mut hub = TestHub::start_with(|config, _| config.limits.call_timeout_millis = 1).await;
    // A raw channel: the SDK's connect makes a call of its own, which a 1 ms deadline may cut
    // on a busy machine before the call under test is made.
    let mut alpha = IncidentServiceClient::new(hub.raw_channel("ngo-alpha").await);
    let token = hub.token("ngo-alpha", &[Role::Reporter]);
    // Anonymising and writing 500 incidents takes far longer than a millisecond.
    let batch: Vec<pb::Incident> = (0..500).map(|_| sample_incident(new_id())).collect();
    let ids: Vec<String> = batch.iter().map(|incident| incident.id.clone()).collect();
    let request = pb::SubmitIncidentsRequest { incidents: batch };
    match alpha.submit_incidents(authorised(request, &token)).await {
        Err(status) if status.code() == Code::DeadlineExceeded => assert!(
            status.message().contains("limits.call_timeout_millis"),
            "{}",
            status.message()
        ),
        other => panic!("expected DEADLINE_EXCEEDED, got {other:?}"),
    }
    // Nothing half-written: none of the batch is there. The auditor reads with the deadline
    // back to its default (the same database, the hub restarted).
    tokio::time::sleep(Duration::from_millis(500)).await;
    hub.config.limits.call_timeout_millis = slt_hub::limits::Limits::default().call_timeout_millis;
    hub.restart().await;
    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let mut stream = auditor.export_audit(1).await.expect("export");
    let mut records = Vec::new();
    while let Some(page) = stream.message().await.expect("page") {
        records.extend(page.records);
    }
    let submit = records
        .iter()
        .find(|record| record.method.ends_with("SubmitIncidents"))
        .expect("the cut call is recorded");
    assert_eq!(submit.outcome, "DEADLINE_EXCEEDED");
    drop(auditor);
    let hub_db = slt_hub::store::Store::open(&hub.config.database_url)
        .await
        .expect("store");
    for id in ids.iter().take(20) {
        let id = uuid::Uuid::parse_str(id).expect("uuid");
        assert!(
            hub_db.get(id).await.expect("read").is_none(),
            "{id} must not be written"
        );
    }
}

fn advisory(country_level: bool, level: pb::SecurityLevel) -> pb::Advisory {
    pb::Advisory {
        admin1: (!country_level).then(|| pb::AdminArea {
            name: "Upper Nile".into(),
            pcode: "SS02".into(),
        }),
        security_level: level as i32,
        ..sample_advisory("SSD", pb::Distribution::Community)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_advisories_from_one_focal_point_hides_nobody_elses() {
    let hub = TestHub::start().await;
    let mut undss = hub.client("undss", &[Role::FocalPoint]).await;
    let kept = undss
        .issue_advisory(advisory(true, pb::SecurityLevel::Extreme), 0)
        .await
        .expect("undss's advisory");
    // ngo-alpha's focal point then issues more advisories than any one page holds.
    const FLOOD: usize = 1_050;
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let mut alpha = hub.client("ngo-alpha", &[Role::FocalPoint]).await;
        tasks.push(tokio::spawn(async move {
            for _ in (worker..FLOOD).step_by(4) {
                alpha
                    .issue_advisory(advisory(false, pb::SecurityLevel::Low), 0)
                    .await
                    .expect("issue");
            }
        }));
    }
    for task in tasks {
        task.await.expect("flood");
    }

    let mut analyst = hub.client("unhcr", &[Role::Analyst]).await;
    // The listing pages through all of them, undss's (the oldest) included.
    let first = analyst
        .list_advisories_page(pb::ListAdvisoriesRequest {
            countries: vec!["SSD".into()],
            ..Default::default()
        })
        .await
        .expect("first page");
    assert!(!first.next_page_token.is_empty(), "more than one page");
    assert!(
        first.advisories.len() <= 1_000,
        "{}",
        first.advisories.len()
    );
    let all = analyst
        .list_advisories(pb::ListAdvisoriesRequest {
            countries: vec!["SSD".into()],
            ..Default::default()
        })
        .await
        .expect("every page");
    assert_eq!(all.len(), FLOOD + 1);
    assert!(
        all.iter().any(|a| a.id == kept.id),
        "undss's advisory is listed"
    );
    // A token is bound to its filter.
    match analyst
        .list_advisories_page(pb::ListAdvisoriesRequest {
            countries: vec!["AFG".into()],
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
    {
        Err(ClientError::InvalidArgument { violations, .. }) => {
            assert_eq!(violations[0].field, "page_token")
        }
        other => panic!("{other:?}"),
    }

    // The picture's security level for the country is still undss's EXTREME.
    let picture = analyst
        .threat_picture(pb::GetThreatPictureRequest {
            countries: vec!["SSD".into()],
            from: Some(Date {
                year: 2024,
                month: 1,
                day: 1,
            }),
            to: Some(Date {
                year: 2024,
                month: 12,
                day: 31,
            }),
            granularity: pb::Granularity::Month as i32,
            area_level: pb::AreaLevel::Country as i32,
            ..Default::default()
        })
        .await
        .expect("picture");
    let level = picture
        .security_levels
        .iter()
        .find(|level| level.country == "SSD" && level.admin1.is_empty())
        .expect("the country's level");
    assert_eq!(level.advisory_id, kept.id);
    assert_eq!(level.security_level, pb::SecurityLevel::Extreme as i32);
}
