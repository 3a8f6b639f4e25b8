//! A loop of refused calls that no per-org rate limit slows down cannot flood the access log or
//! starve the writes behind it: the hostile caller holds a certificate from the hub's CA for an
//! org the registry does not know (as after its removal), and an org over its rate limit keeps
//! calling. Each source's first refusal of a window is recorded at once, the repeats are counted
//! into one record when the window closes, and every refusal is still sent.

use std::time::Duration;

use slt_client::{HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_proto::v1::incident_service_client::IncidentServiceClient;
use slt_tests::{TestHub, limit_org, list_request, new_id, sample_incident};
use tonic::Code;
use tonic::transport::Channel;

const COALESCE_SECONDS: u64 = 2;
const AUDITOR: &[Role] = &[Role::Auditor];

async fn records(auditor: &mut HubClient, org: &str) -> Vec<pb::AuditRecord> {
    let mut stream = auditor.export_audit(1).await.expect("export");
    let mut records = Vec::new();
    while let Some(page) = stream.message().await.expect("page") {
        records.extend(page.records);
    }
    records.retain(|record| record.org == org);
    records
}

/// ListIncidents with `token` over a raw channel; the status it got.
async fn list(client: &mut IncidentServiceClient<Channel>, token: &str) -> tonic::Status {
    match client.list_incidents(list_request(token)).await {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

/// The refusals a record stands for: the repeats a summary counted, or the one call it is.
fn refusals_in(record: &pb::AuditRecord) -> u64 {
    serde_json::from_str::<serde_json::Value>(&record.request_summary)
        .ok()
        .and_then(|summary| summary["coalesced_refusals"].as_u64())
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_of_refusals_from_an_unknown_certificate_is_coalesced_while_writes_go_on() {
    let hub =
        TestHub::start_with(|config, _| config.audit_coalesce_seconds = COALESCE_SECONDS).await;
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let before = records(&mut auditor, "").await.len();

    // ngo-ghost: a certificate from the hub's own CA, for an org the registry does not know.
    let token = hub.token("ngo-ghost", &[Role::Analyst]);
    let mut ghost = IncidentServiceClient::new(hub.raw_channel("ngo-ghost").await);
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let flood = tokio::spawn(async move {
        let mut refused = 0;
        for _ in 0..400 {
            let status = list(&mut ghost, &token).await;
            assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
            assert!(status.message().contains("not registered"), "{status:?}");
            refused += 1;
        }
        refused
    });
    // A partner's writes during the flood still commit, each with its own record.
    for _ in 0..10 {
        alpha
            .submit(vec![sample_incident(new_id())])
            .await
            .expect("writes go on during the flood");
    }
    let refused = flood.await.expect("flood");
    assert_eq!(refused, 400, "every call of the loop is refused");

    let during = records(&mut auditor, "").await;
    let ghost_records = during.len() - before;
    assert!(
        ghost_records <= 3,
        "400 refusals from one source left {ghost_records} records; at most one per window"
    );
    assert!(during.iter().skip(before).all(|record| {
        record.outcome == "UNAUTHENTICATED" && record.peer_address.starts_with("127.0.0.1")
    }));

    // Once the window closes, one record counts the repeats: nothing is lost from the count.
    tokio::time::sleep(Duration::from_secs(COALESCE_SECONDS * 2 + 1)).await;
    let after = records(&mut auditor, "").await;
    let counted: u64 = after.iter().skip(before).map(refusals_in).sum();
    assert_eq!(
        counted, 400,
        "the first refusals and the coalesced counts add up to every refusal"
    );
    let written = records(&mut auditor, "ngo-alpha").await;
    assert_eq!(
        written
            .iter()
            .filter(|record| record.method.ends_with("SubmitIncidents"))
            .count(),
        10,
        "each write has its record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_over_its_rate_limit_is_recorded_once_per_window_with_the_count() {
    let hub = TestHub::start_with(|config, _| {
        config.audit_coalesce_seconds = COALESCE_SECONDS;
        limit_org(config, "ngo-beta", 0.01, 2);
    })
    .await;
    let token = hub.token("ngo-beta", &[Role::Analyst]);
    let mut beta = IncidentServiceClient::new(hub.raw_channel("ngo-beta").await);
    let mut codes = Vec::new();
    for _ in 0..50 {
        codes.push(list(&mut beta, &token).await.code());
    }
    assert_eq!(codes.iter().filter(|code| **code == Code::Ok).count(), 2);
    assert_eq!(
        codes
            .iter()
            .filter(|code| **code == Code::ResourceExhausted)
            .count(),
        48
    );
    tokio::time::sleep(Duration::from_secs(COALESCE_SECONDS * 2 + 1)).await;
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let beta_records = records(&mut auditor, "ngo-beta").await;
    let exhausted: Vec<&pb::AuditRecord> = beta_records
        .iter()
        .filter(|record| record.outcome == "RESOURCE_EXHAUSTED")
        .collect();
    assert!(exhausted.len() <= 3, "{} records", exhausted.len());
    assert_eq!(
        exhausted
            .iter()
            .map(|record| refusals_in(record))
            .sum::<u64>(),
        48,
        "every refusal is counted"
    );
    assert_eq!(
        beta_records
            .iter()
            .filter(|record| record.outcome == "OK")
            .count(),
        2,
        "the allowed calls are recorded one by one"
    );
}
