//! Issue 17, point 1: a partner timing other organisations' private writes through the feed.
//!
//! The attack: ngo-beta's analyst pulls to the end with `page_size` 1, ngo-alpha then writes one
//! COMMUNITY incident and seven ORG_ONLY ones, and beta pulls again. Whatever beta observes of
//! that second pull (messages, `remaining`, `complete`, the length of each sealed cursor) must be
//! exactly what it observes when alpha wrote the COMMUNITY incident alone.

use slt_client::{HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident};

const REPORTER: &[Role] = &[Role::Reporter];
const ANALYST: &[Role] = &[Role::Analyst];

fn incident(distribution: pb::Distribution) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.distribution = distribution as i32;
    incident
}

/// What a caller can observe of one Pull message, beyond the changes it is shown.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    changes: usize,
    remaining: u64,
    complete: bool,
    cursor_len: usize,
}

/// Pulls from `cursor` to the end with page size 1; what was observed and the last cursor.
async fn pull(client: &mut HubClient, cursor: &str) -> (Vec<Observed>, String) {
    let mut stream = client
        .pull(cursor, Default::default(), 1)
        .await
        .expect("pull");
    let mut observed = Vec::new();
    let mut last = cursor.to_string();
    while let Some(page) = stream.message().await.expect("page") {
        observed.push(Observed {
            changes: page.changes.len(),
            remaining: page.remaining,
            complete: page.complete,
            cursor_len: page.cursor.len(),
        });
        last = page.cursor.clone();
        if page.complete {
            break;
        }
    }
    (observed, last)
}

/// One round of the attack: beta pulls to the end, alpha writes one COMMUNITY incident and
/// `private` ORG_ONLY ones (each its own write), beta pulls again. What beta saw the second time.
async fn round(private: usize) -> Vec<Observed> {
    // Without the record rule, which would withhold the lone COMMUNITY incident this follows.
    let hub = TestHub::start_with(slt_tests::without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut beta = hub.client("ngo-beta", ANALYST).await;
    // Some history, so that the cursor is not at the very start.
    alpha
        .submit(vec![incident(pb::Distribution::Community)])
        .await
        .expect("submit");
    let (_, cursor) = pull(&mut beta, "").await;

    alpha
        .submit(vec![incident(pb::Distribution::Community)])
        .await
        .expect("submit");
    for _ in 0..private {
        alpha
            .submit(vec![incident(pb::Distribution::OrgOnly)])
            .await
            .expect("submit");
    }
    let (observed, _) = pull(&mut beta, &cursor).await;
    observed
}

#[tokio::test]
async fn pull_progress_says_nothing_of_changes_the_caller_cannot_see() {
    let with_private = round(7).await;
    let without = round(0).await;
    assert_eq!(
        with_private.iter().map(|o| o.changes).sum::<usize>(),
        1,
        "beta sees the COMMUNITY incident only"
    );
    assert!(
        with_private.iter().all(|o| o.remaining == 0),
        "remaining counts log entries: {with_private:?}"
    );
    assert_eq!(
        with_private, without,
        "seven private writes of another org changed what beta observes"
    );
}

#[tokio::test]
async fn a_sealed_cursor_has_the_same_length_whatever_the_log_length() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let (_, empty) = pull(&mut beta, "").await;
    // 9 → 10 and 99 → 100 log entries change the number of digits of the position.
    let mut lengths = vec![empty.len()];
    for writes in [9, 1, 89, 1] {
        let batch: Vec<_> = (0..writes)
            .map(|_| incident(pb::Distribution::OrgOnly))
            .collect();
        alpha.submit(batch).await.expect("submit");
        let (_, cursor) = pull(&mut beta, "").await;
        lengths.push(cursor.len());
    }
    assert!(
        lengths.iter().all(|len| *len == lengths[0]),
        "cursor lengths follow the log: {lengths:?}"
    );
}
