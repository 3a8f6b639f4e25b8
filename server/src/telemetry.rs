//! Traces: a span per RPC the hub serves, per store call and per federation pull, joined across
//! hubs by the W3C `traceparent` in gRPC metadata (taken from a caller's request, passed on in
//! the pull worker's requests to peers). Spans are exported over OTLP only when the operator
//! sets `OTEL_EXPORTER_OTLP_ENDPOINT`; without it they still carry ids, so a trace that enters
//! through one hub continues through the next.
//!
//! A span carries the method, the peer hub id and timings, never request content, tokens or
//! keys: span fields are written by this crate only, and none takes a request's value.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The environment variable that turns OTLP export on (the OpenTelemetry standard name).
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter ({OTLP_ENDPOINT_ENV}): {0}")]
    Exporter(String),
}

/// The tracer provider: spans with ids always, exported over OTLP (gRPC) when `endpoint` is
/// set. Shut it down at exit so the last spans are sent.
pub fn provider(endpoint: Option<&str>) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder();
    let builder = match endpoint {
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
            builder.with_batch_exporter(exporter)
        }
        None => builder,
    };
    Ok(builder.build())
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("slt-hub"))
}

/// Reads `traceparent` (and `tracestate`) from request headers.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes `traceparent` (and `tracestate`) into gRPC metadata.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::AsciiMetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The span of one RPC the hub serves, continuing the caller's trace when its `traceparent`
/// is well formed (a malformed one starts a new trace). `method` comes from the hub's method
/// table, never from the request.
pub fn rpc_span(method: &'static str, headers: &http::HeaderMap) -> tracing::Span {
    let span = tracing::info_span!(
        "rpc",
        otel.name = method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = method,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Fails only when no OpenTelemetry layer is installed (tests in one process): no trace.
    let _ = span.set_parent(parent);
    span
}

/// Puts `span`'s trace context into an outgoing request's metadata.
pub fn inject(span: &tracing::Span, metadata: &mut tonic::metadata::MetadataMap) {
    TraceContextPropagator::new().inject_context(&span.context(), &mut MetadataInjector(metadata));
}
