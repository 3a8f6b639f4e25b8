//! Observability (issue 23): the metrics endpoint of a real hub after real traffic through the
//! SDK. The standard gRPC server metrics move by exactly the calls made, limits and audit
//! commits are counted, the certificate and CRL times are there, and nothing a scraper reads
//! names an org, a country, an incident or a method a caller made up.

use std::collections::BTreeMap;
use std::time::Duration;

use slt_client::proto as pb;
use slt_hub::identity::Role;
use slt_proto::v1::incident_service_client::IncidentServiceClient;
use slt_tests::{TestHub, http_get, limit_org, list_request, new_id, sample_incident};

/// One scrape: every sample line as (name, labels) -> value.
struct Scrape {
    text: String,
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
}

impl Scrape {
    async fn of(hub: &TestHub) -> Scrape {
        let address = hub.metrics_addr.expect("the hub serves metrics");
        let reply = http_get(address, "/metrics").await;
        let (status, content_type, text) = (reply.status, reply.content_type, reply.body);
        assert!(status.contains(" 200 "), "{status}");
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        assert!(
            text.trim_end().ends_with("# EOF"),
            "OpenMetrics ends with # EOF"
        );
        let mut samples = BTreeMap::new();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            let value = value.parse::<f64>().expect("a number");
            samples.insert((name.to_string(), labels), value);
        }
        Scrape { text, samples }
    }

    /// The sample `name` whose labels include `labels`; 0 when there is none yet.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|((sample, sample_labels), _)| {
                sample == name
                    && labels.iter().all(|(key, value)| {
                        sample_labels.get(*key).map(String::as_str) == Some(value)
                    })
            })
            .map(|(_, value)| *value)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
        found.first().copied().unwrap_or(0.0)
    }

    fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|(sample, _)| sample == name)
    }

    /// Label sets of `name`.
    fn series(&self, name: &str) -> usize {
        self.samples
            .keys()
            .filter(|(sample, _)| sample == name)
            .count()
    }
}

fn method(name: &'static str, code: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut labels = vec![
        ("grpc_type", "unary"),
        ("grpc_service", "slt.v1.IncidentService"),
        ("grpc_method", name),
    ];
    if let Some(code) = code {
        labels.push(("grpc_code", code));
    }
    labels
}

/// Calls a method no service serves, on a raw channel.
async fn call_unknown(
    channel: tonic::transport::Channel,
    path: &str,
    token: &str,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let codec =
        tonic_prost::ProstCodec::<pb::ListIncidentsRequest, pb::ListIncidentsResponse>::default();
    let path = http::uri::PathAndQuery::try_from(path).expect("path");
    grpc.unary(list_request(token), path, codec)
        .await
        .expect_err("no such method")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_real_calls_and_name_no_org_country_or_incident() {
    let hub = TestHub::start_with(|config, _| {
        config.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
        // ngo-beta gets one call, then is over its rate limit for a while.
        limit_org(config, "ngo-beta", 0.01, 1);
    })
    .await;
    let mut alpha = hub
        .client("ngo-alpha", &[Role::Reporter, Role::Analyst])
        .await;
    let before = Scrape::of(&hub).await;

    // Traffic: one submit, two lists and one get from ngo-alpha; three lists from ngo-beta
    // (the second and third over its limit); two calls to methods no service serves.
    let id = new_id();
    let incident = sample_incident(id);
    let submitted = alpha.submit(vec![incident]).await.expect("submit");
    assert_eq!(submitted.len(), 1);
    for _ in 0..2 {
        alpha
            .list(Default::default(), 10, String::new())
            .await
            .expect("list");
    }
    let fetched = alpha.get(&id.to_string()).await.expect("get");
    assert_eq!(fetched.country, "SSD");
    let beta_token = hub.token("ngo-beta", &[Role::Analyst]);
    let mut beta = IncidentServiceClient::new(hub.raw_channel("ngo-beta").await);
    let mut refused = 0;
    for _ in 0..3 {
        if let Err(status) = beta.list_incidents(list_request(&beta_token)).await {
            assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
            refused += 1;
        }
    }
    assert_eq!(refused, 2, "ngo-beta's burst is one call");
    let alpha_token = hub.token("ngo-alpha", &[Role::Analyst]);
    let made_up = ["/slt.v1.ngo-alpha/SSD-secret", &format!("/x.Y/{id}")];
    for path in made_up {
        let status = call_unknown(hub.raw_channel("ngo-alpha").await, path, &alpha_token).await;
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    }

    // Stream and unary bodies are measured when they are dropped: give the hub a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = Scrape::of(&hub).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };

    // The standard gRPC server metrics, moved by exactly the calls made.
    for (name, calls) in [("SubmitIncidents", 1.0), ("GetIncident", 1.0)] {
        assert_eq!(
            moved("grpc_server_started_total", &method(name, None)),
            calls,
            "{name}"
        );
        assert_eq!(
            moved("grpc_server_handled_total", &method(name, Some("OK"))),
            calls,
            "{name}"
        );
        assert_eq!(
            moved("grpc_server_handling_seconds_count", &method(name, None)),
            calls,
            "{name}"
        );
    }
    // ListIncidents: two from ngo-alpha and three from ngo-beta, two of them refused.
    assert_eq!(
        moved("grpc_server_started_total", &method("ListIncidents", None)),
        5.0
    );
    assert_eq!(
        moved(
            "grpc_server_handled_total",
            &method("ListIncidents", Some("OK"))
        ),
        3.0
    );
    assert_eq!(
        moved(
            "grpc_server_handled_total",
            &method("ListIncidents", Some("RESOURCE_EXHAUSTED"))
        ),
        2.0
    );
    assert_eq!(
        moved(
            "grpc_server_handling_seconds_count",
            &method("ListIncidents", None)
        ),
        5.0
    );
    assert!(
        after.value(
            "grpc_server_handling_seconds_sum",
            &method("ListIncidents", None)
        ) > 0.0
    );
    assert_eq!(
        moved("slt_limit_refusals_total", &[("kind", "rate_limit")]),
        2.0
    );
    // Made-up methods: counted under one `unknown` label set, their text nowhere.
    let unknown = [("grpc_service", "unknown"), ("grpc_method", "unknown")];
    assert_eq!(moved("grpc_server_started_total", &unknown), 2.0);
    assert_eq!(
        moved(
            "grpc_server_handled_total",
            &[unknown[0], unknown[1], ("grpc_code", "UNIMPLEMENTED")]
        ),
        2.0
    );
    assert_eq!(
        after.series("grpc_server_started_total"),
        before.series("grpc_server_started_total") + 4
    );

    // Every call was recorded in the access log, in group commits.
    // One record per call, written before the answer; the two refusals of an org over its
    // rate limit are coalesced into one summary at the end of the window (60 s), not yet. The
    // first scrape's own record (written after it read the numbers) is the eighth; the second
    // scrape, within the same window, is counted into a later summary.
    assert_eq!(moved("slt_audit_records_total", &[]), 8.0);
    assert!(moved("slt_audit_commits_total", &[]) >= 1.0);
    assert!(moved("slt_audit_batch_records_count", &[]) >= 1.0);
    assert!(after.value("slt_audit_commit_seconds_sum", &[]) > 0.0);

    // Every statement the store ran is timed (several per call).
    assert!(moved("slt_db_statement_seconds_count", &[]) >= 9.0);
    // The pool, the identity material in force, the checkpoint signer.
    assert!(after.value("slt_db_pool_connections", &[]) >= 1.0);
    assert!(
        after.value("slt_db_pool_max_connections", &[])
            >= after.value("slt_db_pool_connections", &[])
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    assert!(after.value("slt_identity_certificate_expiry_timestamp_seconds", &[]) > now);
    assert!(after.value("slt_identity_crl_next_update_timestamp_seconds", &[]) > now);
    assert!(after.value("slt_identity_crl_this_update_timestamp_seconds", &[]) <= now);
    assert!(after.has("slt_identity_reload_failures_total"));
    assert!(after.value("slt_audit_checkpoint_last_success_timestamp_seconds", &[]) > now - 60.0);

    // Nothing in the scrape names who called, where, about what, or what a caller made up.
    let mut withheld: Vec<String> = slt_hub::dev::dev_orgs()
        .iter()
        .map(|org| org.id.clone())
        .collect();
    withheld.extend(
        [
            "SSD",
            "South Sudan",
            "Jonglei",
            "Bor South",
            &id.to_string(),
            &alpha_token,
            &beta_token,
            "x.Y",
        ]
        .map(String::from),
    );
    withheld.extend(made_up.iter().map(|path| path.to_string()));
    for text in &withheld {
        assert!(
            !after.text.contains(text.as_str()),
            "the scrape names '{text}'"
        );
    }

    // Anything but GET /metrics is not there.
    let reply = http_get(hub.metrics_addr.expect("addr"), "/").await;
    assert!(reply.status.contains(" 404 "), "{}", reply.status);

    // The scrapes are in the access log: the first with its address, the repeat coalesced.
    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let mut stream = auditor.export_audit(1).await.expect("export");
    let mut scrapes = Vec::new();
    while let Some(page) = stream.message().await.expect("page") {
        scrapes.extend(
            page.records
                .into_iter()
                .filter(|record| record.method == slt_hub::api::metrics_endpoint::SCRAPE_METHOD),
        );
    }
    assert_eq!(scrapes.len(), 1, "{scrapes:?}");
    assert!(
        scrapes[0].peer_address.starts_with("127.0.0.1:"),
        "{scrapes:?}"
    );
    assert_eq!(scrapes[0].outcome, "OK");
    assert!(scrapes[0].org.is_empty(), "a scraper has no identity");
}
