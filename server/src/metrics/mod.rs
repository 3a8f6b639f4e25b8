//! What an operator's scraper reads: counters, gauges and histograms of the hub's own work,
//! served as OpenMetrics text on a listener of its own (`[metrics]` in `hub.toml`).
//!
//! The endpoint is a way data leaves the hub, so it carries operational numbers only. No
//! label names an org, a country, an incident, a subject or a token: the label values are
//! fixed sets (gRPC service, method and code from the hub's own method table, the limit's
//! setting name, a result), so a scrape cannot tell who called, about what or where. Peer hub
//! ids appear only when the operator sets `metrics.peer_labels` (docs/observability.md).

pub mod grpc;
pub mod sampled;

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use serde::{Deserialize, Serialize};

pub use grpc::GrpcMetrics;
pub use sampled::{Sample, SampleKind, Sampler};

/// `[metrics]` of `hub.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Where `GET /metrics` is served; no listener when absent. Keep it on loopback (or a
    /// management network) unless a scraper elsewhere needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Label federation metrics with the peer hub's id. Off by default: who federates with
    /// whom is itself something the agreements, not every scraper, should tell.
    #[serde(default)]
    pub peer_labels: bool,
}

/// The label of a per-peer metric: the peer's hub id when the operator opted in, `all`
/// otherwise (then the values are summed over peers).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    pub peer: String,
}

/// A fixed-set label value (a limit's setting name, a result).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

/// The limits a call can be refused by, named as in `hub.toml` (`rate_limit` is the org's
/// token bucket, `rate_limit` or `orgs.rate_limit`).
pub const LIMIT_SETTINGS: [&str; 5] = [
    "rate_limit",
    "limits.calls_in_flight_per_org",
    "limits.streams_per_org",
    "limits.call_timeout_millis",
    "limits.cpu_queue_per_org",
];

/// Every metric a hub keeps. Clones of the counters share their values, so parts of the hub
/// hold what they update (the audit writer its own, the guard the gRPC ones).
#[derive(Debug)]
pub struct HubMetrics {
    registry: Registry,
    pub grpc: GrpcMetrics,
    pub audit: AuditMetrics,
    pub federation: FederationMetrics,
    /// Calls refused by a limit, by the setting that refused them.
    pub limit_refusals: Family<KindLabel, Counter>,
}

/// The access log's group commit.
#[derive(Debug, Clone)]
pub struct AuditMetrics {
    pub records: Counter,
    pub commits: Counter,
    pub failed_commits: Counter,
    pub batch_records: Histogram,
    pub commit_seconds: Histogram,
    /// Unix time of the last checkpoint run that succeeded (signed, or nothing new to sign).
    pub checkpoint_success: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub checkpoint_failures: Counter,
}

/// The pull workers.
#[derive(Debug, Clone)]
pub struct FederationMetrics {
    pub peer_labels: bool,
    pub pulls: Family<KindLabel, Counter>,
    pub records_applied: Family<PeerLabel, Counter>,
    pub records_withheld: Family<PeerLabel, Counter>,
    /// Consecutive failed pulls (summed over peers without `peer_labels`).
    pub consecutive_failures: Family<PeerLabel, Gauge>,
    /// Peers whose last pull failed.
    pub peers_failing: Gauge,
    /// Unix time of the last successful pull (the latest over peers without `peer_labels`).
    pub last_success: Family<PeerLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl FederationMetrics {
    /// The label for `peer`: its id only when the operator opted in.
    pub fn label(&self, peer: &str) -> PeerLabel {
        PeerLabel {
            peer: if self.peer_labels {
                peer.to_string()
            } else {
                "all".to_string()
            },
        }
    }
}

/// Statement latency, process-wide: the store's statements run below any one hub's handle, and a
/// hub is one process (tests that run several hubs in one process see their sum).
pub fn statement_seconds() -> &'static Histogram {
    static STATEMENTS: std::sync::OnceLock<Histogram> = std::sync::OnceLock::new();
    // 0.1 ms .. ~3.3 s.
    STATEMENTS.get_or_init(|| Histogram::new(exponential_buckets(0.0001, 2.0, 16)))
}

/// Seconds since the Unix epoch, for timestamp gauges.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs_f64())
        .unwrap_or(0.0)
}

impl HubMetrics {
    /// The metrics of one hub; `sampler` adds the values read at scrape time (pool use,
    /// certificate and CRL times, open streams) that other parts of the hub own.
    pub fn new(settings: &MetricsSettings, sampler: Option<Sampler>) -> Arc<HubMetrics> {
        let mut registry = Registry::default();
        let grpc = GrpcMetrics::register(&mut registry);
        let audit = AuditMetrics {
            records: Counter::default(),
            commits: Counter::default(),
            failed_commits: Counter::default(),
            batch_records: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            commit_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            checkpoint_success: Gauge::default(),
            checkpoint_failures: Counter::default(),
        };
        let slt = registry.sub_registry_with_prefix("slt");
        slt.register(
            "audit_records",
            "Access-log records committed",
            audit.records.clone(),
        );
        slt.register(
            "audit_commits",
            "Access-log group commits (transactions)",
            audit.commits.clone(),
        );
        slt.register(
            "audit_failed_commits",
            "Access-log group commits that failed (their calls were refused)",
            audit.failed_commits.clone(),
        );
        slt.register(
            "audit_batch_records",
            "Records per access-log group commit",
            audit.batch_records.clone(),
        );
        slt.register_with_unit(
            "audit_commit",
            "Time one access-log group commit took",
            Unit::Seconds,
            audit.commit_seconds.clone(),
        );
        slt.register(
            "audit_checkpoint_last_success_timestamp_seconds",
            "Unix time of the last checkpoint run that succeeded",
            audit.checkpoint_success.clone(),
        );
        slt.register(
            "audit_checkpoint_failures",
            "Checkpoint runs that failed",
            audit.checkpoint_failures.clone(),
        );
        let federation = FederationMetrics {
            peer_labels: settings.peer_labels,
            pulls: Family::default(),
            records_applied: Family::default(),
            records_withheld: Family::default(),
            consecutive_failures: Family::default(),
            peers_failing: Gauge::default(),
            last_success: Family::default(),
        };
        slt.register(
            "federation_pulls",
            "Federation pull rounds by result (ok, failed)",
            federation.pulls.clone(),
        );
        slt.register(
            "federation_records_applied",
            "Records from peers applied",
            federation.records_applied.clone(),
        );
        slt.register(
            "federation_records_withheld",
            "Records from peers withheld (bad signature, invalid, not federable)",
            federation.records_withheld.clone(),
        );
        slt.register(
            "federation_consecutive_failures",
            "Failed pull rounds since the last success",
            federation.consecutive_failures.clone(),
        );
        slt.register(
            "federation_peers_failing",
            "Peers whose last pull round failed",
            federation.peers_failing.clone(),
        );
        slt.register(
            "federation_last_success_timestamp_seconds",
            "Unix time of the last successful pull round",
            federation.last_success.clone(),
        );
        slt.register_with_unit(
            "db_statement",
            "Time one database statement took (every statement the store runs)",
            Unit::Seconds,
            statement_seconds().clone(),
        );
        let limit_refusals = Family::<KindLabel, Counter>::default();
        slt.register(
            "limit_refusals",
            "Calls refused by a limit, by its hub.toml setting",
            limit_refusals.clone(),
        );
        // Series that exist from the start (at 0), so rates and alerts see a zero rather than
        // nothing: every limit, both pull results, and the summed peer series.
        for setting in LIMIT_SETTINGS {
            let _ = limit_refusals.get_or_create(&KindLabel { kind: setting });
        }
        for result in ["ok", "failed"] {
            let _ = federation.pulls.get_or_create(&KindLabel { kind: result });
        }
        if !federation.peer_labels {
            let all = federation.label("");
            let _ = federation.records_applied.get_or_create(&all);
            let _ = federation.records_withheld.get_or_create(&all);
            let _ = federation.consecutive_failures.get_or_create(&all);
        }
        if let Some(sampler) = sampler {
            registry.register_collector(Box::new(sampler));
        }
        Arc::new(HubMetrics {
            registry,
            grpc,
            audit,
            federation,
            limit_refusals,
        })
    }

    /// The OpenMetrics text of every metric now.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Counts a refusal by the limit named `setting` (a `hub.toml` setting name).
    pub fn limit_refused(&self, setting: &'static str) {
        self.limit_refusals
            .get_or_create(&KindLabel { kind: setting })
            .inc();
    }
}
