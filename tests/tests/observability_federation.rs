//! Observability across federated hubs (issue 23): real `slt-hub` processes. A pulling hub's
//! metrics show a peer failing while it is down and recovering when it comes up, with the
//! peer's id only where the operator opted in; and the alert rules and the dashboard name only
//! metrics such a hub exports.

mod federation_hubs;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use federation_hubs::{Hub, eventually, incident, seen, submit};
use slt_client::proto as pb;
use slt_hub::federation::agreement::PeerTier;
use slt_tests::{http_get, workspace_root};
use tempfile::TempDir;

/// The value of the sample line that starts with `series ` (0 when absent).
fn value(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

async fn scrape(address: SocketAddr) -> String {
    match tokio::net::TcpStream::connect(address).await {
        Ok(_) => http_get(address, "/metrics").await.body,
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_peer_shows_and_recovers_and_only_opted_in_hubs_name_it() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    // Both pull from each other; b labels its peers, a does not.
    a.set_peers(&[b.as_peer(true, PeerTier::T1, true)]);
    b.set_peers(&[a.as_peer(true, PeerTier::T1, true)]);
    let a_metrics = a.enable_metrics(false);
    let b_metrics = b.enable_metrics(true);

    // b alone: its pulls from a fail.
    b.start();
    let mut b_reader = b.client("undss.focal_point").await;
    eventually("b counts hub-a as failing", || async {
        let text = scrape(b_metrics).await;
        value(
            &text,
            r#"slt_federation_consecutive_failures{peer="hub-a"}"#,
        ) >= 2.0
            && value(&text, "slt_federation_peers_failing") == 1.0
            && value(&text, r#"slt_federation_pulls_total{kind="failed"}"#) >= 2.0
    })
    .await;

    // a comes up: b's pulls succeed, the failure count is cleared, a's record arrives.
    a.start();
    let mut a_reporter = a.client("ngo-alpha.reporter").await;
    let shared = incident(
        pb::Distribution::Federation,
        pb::Tlp::Green,
        "Observed text.",
    );
    let id = submit(&mut a_reporter, &shared).await;
    eventually("a's incident reaches b", || {
        let mut reader = b_reader.clone();
        async move { seen(&mut reader, id).await.is_some() }
    })
    .await;
    eventually("b sees hub-a recovered", || async {
        let text = scrape(b_metrics).await;
        value(
            &text,
            r#"slt_federation_consecutive_failures{peer="hub-a"}"#,
        ) == 0.0
            && value(&text, "slt_federation_peers_failing") == 0.0
            && value(
                &text,
                r#"slt_federation_records_applied_total{peer="hub-a"}"#,
            ) >= 1.0
    })
    .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let b_text = scrape(b_metrics).await;
    let last = value(
        &b_text,
        r#"slt_federation_last_success_timestamp_seconds{peer="hub-a"}"#,
    );
    assert!(last > now - 60.0 && last <= now + 1.0, "{last} vs {now}");

    // a pulls from b without peer labels: summed under "all", b's id nowhere in a's scrape.
    eventually("a pulls from b", || async {
        value(
            &scrape(a_metrics).await,
            r#"slt_federation_pulls_total{kind="ok"}"#,
        ) >= 1.0
    })
    .await;
    let a_text = scrape(a_metrics).await;
    assert!(
        !a_text.contains("hub-b"),
        "a's scrape names its peer:\n{a_text}"
    );
    assert!(a_text.contains(r#"slt_federation_consecutive_failures{peer="all"}"#));
    // Neither scrape names an org or a country.
    for text in [&a_text, &b_text] {
        for secret in ["ngo-alpha", "undss", "SSD", &id.to_string()] {
            assert!(!text.contains(secret), "a scrape names '{secret}'");
        }
    }

    // The alert rules and the dashboard name only metrics such a hub exports (b, after a
    // call and with a change-feed stream open, so that every family has a series).
    b_reader
        .list(Default::default(), 1, String::new())
        .await
        .expect("list");
    let _stream = b_reader
        .subscribe("", pb::SyncFilter::default(), 300)
        .await
        .expect("subscribe");
    let exported = exported_names(&scrape(b_metrics).await);
    let unknown: Vec<String> = used_names()
        .into_iter()
        .filter(|name| !exported.contains(name))
        .collect();
    assert!(unknown.is_empty(), "not exported by the hub: {unknown:?}");
}

/// The names a scrape offers, with their sample suffixes.
fn exported_names(scrape: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in scrape.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
    }
    names
}

/// Every hub metric the alert rules, their tests and the dashboard name.
fn used_names() -> BTreeSet<String> {
    let metric = regex::Regex::new(r"\b(?:slt|grpc_server)_[a-z0-9_]+").expect("regex");
    let docs = workspace_root().join("docs/observability");
    let mut used = BTreeSet::new();
    for file in ["alerts.yml", "alerts.test.yml", "dashboard.json"] {
        let text = std::fs::read_to_string(docs.join(file)).expect("read");
        used.extend(
            metric
                .find_iter(&text)
                .map(|found| found.as_str().to_string()),
        );
    }
    assert!(used.len() > 20, "{used:?}");
    used
}
