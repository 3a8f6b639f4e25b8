//! Issue 17, point 4: a T1 subscriber timing other organisations' reports through the live feed.
//!
//! The attack: ngo-beta's analyst (T1 on ngo-alpha's incidents, so without `reported_at` /
//! `updated_at`) holds a live Subscribe open and notes when each of alpha's incidents arrives.
//! With the policy's `live_feed.batch_seconds` = 3, every arrival must come at a fixed boundary
//! (a multiple of 3 s since the epoch) after the commit, never earlier, so it tells the time of
//! the report only to the batch. A focal point (T2: it gets the timestamps) stays live.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slt_client::{HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, write_policy};
use tokio::sync::mpsc;

const BATCH_MS: u128 = 3_000;
/// How late after its boundary a batch may arrive (a page read and TLS on a busy test machine).
const DELIVERY_SLACK_MS: u128 = 1_500;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis()
}

/// Subscribes and forwards (incident id, arrival ms) of every change once live.
async fn watch(mut client: HubClient) -> mpsc::UnboundedReceiver<(String, u128)> {
    let mut stream = client
        .subscribe("", Default::default(), 300)
        .await
        .expect("subscribe");
    loop {
        let message = stream.message().await.expect("stream").expect("open");
        if message.live {
            break;
        }
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _client = client;
        while let Ok(Some(message)) = stream.message().await {
            let at = now_ms();
            for change in message.changes {
                let _ = sender.send((change.incident_id, at));
            }
        }
    });
    receiver
}

async fn arrival(receiver: &mut mpsc::UnboundedReceiver<(String, u128)>, id: &str) -> u128 {
    tokio::time::timeout(Duration::from_secs(15), async {
        while let Some((got, at)) = receiver.recv().await {
            if got == id {
                return at;
            }
        }
        panic!("the stream ended");
    })
    .await
    .expect("the change arrives within a few batches")
}

#[tokio::test]
async fn a_t1_subscriber_gets_changes_only_on_batch_boundaries() {
    // Without the record rule: this follows single incidents to another org's analyst, whom
    // the rule would never give a lone incident (record_rule.rs tests the rule).
    let hub = TestHub::start_with(|config, dir| {
        config.policy = Some(write_policy(dir, 3));
        slt_tests::without_record_rule(config, dir);
    })
    .await;
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut beta = watch(hub.client("ngo-beta", &[Role::Analyst]).await).await;
    let mut undss = watch(hub.client("undss", &[Role::FocalPoint]).await).await;

    // Commits at several points of a batch: just after a boundary, mid-way, just before one.
    for offset_ms in [200u128, 1_400, 2_500] {
        let wait = (BATCH_MS - now_ms() % BATCH_MS + offset_ms) % BATCH_MS;
        tokio::time::sleep(Duration::from_millis(u64::try_from(wait).expect("ms"))).await;
        let mut incident = sample_incident(new_id());
        incident.distribution = pb::Distribution::Community as i32;
        let started = now_ms();
        let results = alpha.submit(vec![incident.clone()]).await.expect("submit");
        let committed = now_ms();
        incident.id = results[0].id.clone();

        let at = arrival(&mut beta, &incident.id).await;
        let boundary = (started / BATCH_MS + 1) * BATCH_MS;
        assert!(
            at >= boundary,
            "offset {offset_ms}: arrived {} ms before the boundary after its commit",
            boundary - at
        );
        assert!(
            at % BATCH_MS < DELIVERY_SLACK_MS,
            "offset {offset_ms}: arrived {} ms after a boundary, not with its batch",
            at % BATCH_MS
        );
        // The focal point gets the timestamps anyway, so it stays live.
        let live = arrival(&mut undss, &incident.id).await;
        assert!(
            live < committed + DELIVERY_SLACK_MS,
            "offset {offset_ms}: the T2 subscriber waited {} ms",
            live - committed
        );
    }
}

#[test]
fn the_policy_refuses_a_batch_longer_than_a_day() {
    let text = slt_hub::policy::rules::DEFAULT_POLICY_TOML
        .replace("batch_seconds = 900", "batch_seconds = 90000");
    let error = slt_hub::policy::PolicyRules::parse(&text, "test").expect_err("refused");
    assert!(
        error.to_string().contains("live_feed.batch_seconds"),
        "{error}"
    );
}
