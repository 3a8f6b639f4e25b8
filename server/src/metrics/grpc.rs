//! The standard gRPC server metrics (the names go-grpc-prometheus and grpc-java use, so
//! existing dashboards and alerts work): started, handled by code, handling time, per service
//! and method. Label values come from the hub's own method table; a path no service serves is
//! counted as `unknown`, so a caller cannot grow the label sets with made-up method names.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Service, method and kind of call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub grpc_type: &'static str,
    pub grpc_service: &'static str,
    pub grpc_method: &'static str,
}

/// [`MethodLabels`] and the status code the call ended with.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub grpc_type: &'static str,
    pub grpc_service: &'static str,
    pub grpc_method: &'static str,
    pub grpc_code: &'static str,
}

type HistogramFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// The gRPC server families.
#[derive(Debug, Clone)]
pub struct GrpcMetrics {
    pub started: Family<MethodLabels, Counter>,
    pub handled: Family<CodeLabels, Counter>,
    pub handling_seconds: HistogramFamily,
    /// Server streams open now (change-feed subscriptions and pulls).
    pub open_streams: Family<MethodLabels, Gauge>,
}

fn handling_histogram() -> Histogram {
    // 1 ms .. ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl GrpcMetrics {
    pub(super) fn register(registry: &mut Registry) -> GrpcMetrics {
        let metrics = GrpcMetrics {
            started: Family::default(),
            handled: Family::default(),
            handling_seconds: Family::new_with_constructor(handling_histogram),
            open_streams: Family::default(),
        };
        registry.register(
            "grpc_server_started",
            "RPCs started on the server",
            metrics.started.clone(),
        );
        registry.register(
            "grpc_server_handled",
            "RPCs completed on the server, whatever their status",
            metrics.handled.clone(),
        );
        registry.register_with_unit(
            "grpc_server_handling",
            "Time from an RPC's arrival to its completion (a stream's whole life)",
            Unit::Seconds,
            metrics.handling_seconds.clone(),
        );
        registry.register(
            "slt_grpc_open_streams",
            "Server streams open now",
            metrics.open_streams.clone(),
        );
        metrics
    }

    /// Counts a call as started; the returned record counts it handled when it is finished or
    /// dropped.
    pub fn start(&self, labels: MethodLabels) -> CallRecord {
        self.started.get_or_create(&labels).inc();
        let streaming = labels.grpc_type == SERVER_STREAM;
        if streaming {
            self.open_streams.get_or_create(&labels).inc();
        }
        CallRecord {
            metrics: self.clone(),
            labels,
            started: Instant::now(),
            code: "OK",
            streaming,
        }
    }
}

/// `grpc_type` of a unary call.
pub const UNARY: &str = "unary";
/// `grpc_type` of a call answered with a stream.
pub const SERVER_STREAM: &str = "server_stream";

/// Splits `/package.Service/Method` (a path from the hub's method table) into its labels.
pub fn method_labels(known_path: Option<&'static str>, streaming: bool) -> MethodLabels {
    let (grpc_service, grpc_method) = known_path
        .and_then(|path| path.strip_prefix('/'))
        .and_then(|path| path.split_once('/'))
        .unwrap_or(("unknown", "unknown"));
    MethodLabels {
        grpc_type: if streaming { SERVER_STREAM } else { UNARY },
        grpc_service,
        grpc_method,
    }
}

/// One call in progress: counted as handled, with its time, when dropped (a stream when its
/// body is dropped, so its whole life is measured).
#[derive(Debug)]
pub struct CallRecord {
    metrics: GrpcMetrics,
    labels: MethodLabels,
    started: Instant,
    code: &'static str,
    streaming: bool,
}

impl CallRecord {
    /// The status code the call ended with (canonical name, e.g. `OK`, `NOT_FOUND`).
    pub fn set_code(&mut self, code: &'static str) {
        self.code = code;
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        let labels = &self.labels;
        self.metrics
            .handled
            .get_or_create(&CodeLabels {
                grpc_type: labels.grpc_type,
                grpc_service: labels.grpc_service,
                grpc_method: labels.grpc_method,
                grpc_code: self.code,
            })
            .inc();
        self.metrics
            .handling_seconds
            .get_or_create(labels)
            .observe(self.started.elapsed().as_secs_f64());
        if self.streaming {
            self.metrics.open_streams.get_or_create(labels).dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_share_one_label_set() {
        let labels = method_labels(None, false);
        assert_eq!(
            (labels.grpc_service, labels.grpc_method),
            ("unknown", "unknown")
        );
        let labels = method_labels(Some("/slt.v1.SyncService/Subscribe"), true);
        assert_eq!(labels.grpc_service, "slt.v1.SyncService");
        assert_eq!(labels.grpc_method, "Subscribe");
        assert_eq!(labels.grpc_type, SERVER_STREAM);
    }
}
