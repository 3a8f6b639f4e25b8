//! Traces across federated hubs (issue 23): two real `slt-hub` processes export spans over
//! OTLP to a collector in this test. hub-b's federation pull carries its trace context to
//! hub-a in `traceparent`, so hub-a's span of the Pull call (and the store calls under it)
//! share hub-b's trace id and hang under hub-b's pull span. No span carries the incident's
//! text or a token.

mod federation_hubs;

use std::sync::{Arc, Mutex};

use federation_hubs::{Hub, eventually, incident, seen, submit};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use slt_client::proto as pb;
use slt_hub::federation::agreement::PeerTier;
use tempfile::TempDir;

/// An OTLP trace collector that keeps every span with its `service.name`.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, Span)>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().expect("lock");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    Value::StringValue(name) => name.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    fn spans(&self) -> Vec<(String, Span)> {
        self.0.lock().expect("lock").clone()
    }
}

/// hub-b's pull span and hub-a's span of that Pull call, once both are exported and joined.
fn joined(spans: &[(String, Span)]) -> Option<(Span, Span)> {
    spans
        .iter()
        .filter(|(service, span)| service == "hub-b" && span.name == "federation.pull")
        .find_map(|(_, pull)| {
            spans
                .iter()
                .find(|(service, span)| {
                    service == "hub-a"
                        && span.name == "/slt.v1.SyncService/Pull"
                        && span.trace_id == pull.trace_id
                        && span.parent_span_id == pull.span_id
                })
                .map(|(_, served)| (pull.clone(), served.clone()))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_crosses_two_federated_hubs() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let serving = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(serving))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });

    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    a.set_peers(&[b.as_peer(false, PeerTier::T1, true)]);
    b.set_peers(&[a.as_peer(true, PeerTier::T1, true)]);
    for (hub, name) in [(&mut a, "hub-a"), (&mut b, "hub-b")] {
        hub.start_with_env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", name),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("SLT_HUB_LOG_FORMAT", "json"),
            (
                "RUST_LOG",
                "debug,h2=info,hyper=info,tower=info,rustls=info,tonic=info",
            ),
        ]);
    }
    let mut a_reporter = a.client("ngo-alpha.reporter").await;
    let b_reader = b.client("undss.focal_point").await;
    let narrative = "Tracecanary narrative that no span may carry.";
    let id = submit(
        &mut a_reporter,
        &incident(pb::Distribution::Federation, pb::Tlp::Green, narrative),
    )
    .await;
    eventually("the incident reaches hub-b", || {
        let mut reader = b_reader.clone();
        async move { seen(&mut reader, id).await.is_some() }
    })
    .await;

    eventually("hub-a's Pull span joins hub-b's pull trace", || {
        let spans = collector.spans();
        async move { joined(&spans).is_some() }
    })
    .await;
    let spans = collector.spans();
    let (pull, served) = joined(&spans).expect("joined");
    assert_eq!(pull.trace_id.len(), 16);
    assert_ne!(pull.trace_id, vec![0; 16]);
    // Under hub-a's Pull span: its store calls, in the same trace.
    let in_trace = |service: &str, name: &str| {
        spans.iter().any(|(from, span)| {
            from == service && span.name == name && span.trace_id == pull.trace_id
        })
    };
    assert!(
        in_trace("hub-a", "store.changes_after"),
        "hub-a's store call in the trace"
    );
    assert!(
        in_trace("hub-b", "store.peer_cursor"),
        "hub-b's store call in the trace"
    );
    assert!(
        spans.iter().any(|(from, span)| from == "hub-a"
            && span.parent_span_id == served.span_id
            && span.trace_id == pull.trace_id),
        "hub-a's Pull span has children"
    );

    // Nothing in any span: not the incident's text, its id, a token or a key.
    let exported = format!("{spans:?}");
    for secret in [
        narrative,
        "Tracecanary",
        &id.to_string(),
        "Bearer",
        "eyJ",
        "PRIVATE KEY",
    ] {
        assert!(!exported.contains(secret), "a span carries '{secret}'");
    }

    // The hubs' logs (JSON, down to DEBUG): one object per line with a level and a message,
    // never the partner's text or a token, and no SQL text at WARN.
    a.stop();
    b.stop();
    for hub in [&a, &b] {
        let log = std::fs::read_to_string(hub.dir.join("hub.log")).expect("hub.log");
        let mut lines = 0;
        for line in log.lines().filter(|line| !line.trim().is_empty()) {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{}: not a JSON line ({error}): {line}", hub.id));
            let level = event["level"].as_str().expect("a level");
            assert!(event["message"].is_string(), "{line}");
            if level == "WARN" || level == "ERROR" {
                assert!(
                    !line.contains("SELECT") && !line.contains("INSERT"),
                    "{line}"
                );
            }
            lines += 1;
        }
        assert!(lines >= 3, "{}: {lines} log lines", hub.id);
        for secret in [narrative, "Tracecanary", "Bearer ", "eyJ"] {
            assert!(!log.contains(secret), "{} logs '{secret}'", hub.id);
        }
    }
}
