//! Per-org rate limits: a burst from one org is refused with RESOURCE_EXHAUSTED and
//! `google.rpc.RetryInfo`, while another org's calls keep succeeding.

use slt_client::HubClient;
use slt_hub::identity::Role;
use slt_proto::v1::incident_service_client::IncidentServiceClient;
use slt_tests::{TestHub, limit_org, list_request};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

async fn raw_incidents(hub: &TestHub, org: &str) -> IncidentServiceClient<Channel> {
    IncidentServiceClient::new(hub.raw_channel(org).await)
}

#[tokio::test]
async fn a_burst_from_one_org_is_limited_while_another_org_is_served() {
    // ngo-beta: 3 calls, then one every 100 s; everyone else: the harness's generous default.
    let hub = TestHub::start_with(|config, _| limit_org(config, "ngo-beta", 0.01, 3)).await;
    let beta_token = hub.token("ngo-beta", &[Role::Analyst]);
    let mut beta = raw_incidents(&hub, "ngo-beta").await;
    let mut alpha = hub.client("ngo-alpha", &[Role::Analyst]).await;

    let mut allowed = 0;
    let mut refused = Vec::new();
    for _ in 0..10 {
        match beta.list_incidents(list_request(&beta_token)).await {
            Ok(_) => allowed += 1,
            Err(status) => refused.push(status),
        }
        // Interleaved: the other org is never held back by ngo-beta's burst.
        alpha
            .list(Default::default(), 1, String::new())
            .await
            .expect("another org's calls succeed during the burst");
    }
    assert_eq!(allowed, 3, "exactly the burst is allowed");
    assert_eq!(refused.len(), 7);
    for status in &refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            status.message().contains(
                "organisation 'ngo-beta' exceeded its rate limit of 0.01 calls per second (burst 3)"
            ),
            "{}",
            status.message()
        );
        let retry = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay)
            .expect("RetryInfo with a delay");
        assert!(
            retry.as_secs() >= 1,
            "retry after a token refills: {retry:?}"
        );
    }
    // The refused calls were recorded like any other refusal, and the hub serves others.
    let mut fresh = HubClient::connect(&hub.profile("ngo-alpha", &[Role::Reporter]))
        .await
        .expect("connect");
    fresh
        .list(Default::default(), 1, String::new())
        .await
        .expect("still serving");
}
