//! The metrics endpoint (an edge, like the gRPC services: it serves what `metrics` counts and
//! records each scrape in the access log): plain HTTP, `GET /metrics` only, on an address of its own so the
//! gRPC port's mutual TLS is not loosened for scrapers. It serves numbers only (see the
//! module above), and should stay on loopback or a management network. Like every way data
//! leaves the hub, a scrape leaves an access-log record: per scraper address, the first scrape
//! of a window is recorded and the repeats are counted into one summary record
//! (`audit::refusals`), so a scraper every 15 s adds a few records an hour, not 240.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::audit::refusals::{RefusalLog, RefusalSource};
use crate::audit::{AuditEntry, bounds, now_text};
use crate::metrics::HubMetrics;

/// The method an access-log record of a scrape names.
pub const SCRAPE_METHOD: &str = "GET /metrics";

/// What a scrape needs: the numbers, the log of scrapes, and the hub's id for the records.
#[derive(Clone)]
pub struct ScrapeContext {
    pub metrics: Arc<HubMetrics>,
    pub scrapes: Arc<RefusalLog>,
    pub hub_id: String,
}

/// The OpenMetrics text content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `metrics` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    context: ScrapeContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(context);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn scrape(
    State(context): State<ScrapeContext>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let Ok(text) = context.metrics.encode() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics could not be encoded",
        )
            .into_response();
    };
    let mut entry = AuditEntry {
        time: now_text(),
        hub_id: context.hub_id.clone(),
        peer_address: peer.to_string(),
        method: SCRAPE_METHOD.to_string(),
        request_summary: serde_json::json!({ "bytes": text.len() }).to_string(),
        outcome: "OK".to_string(),
        ..AuditEntry::default()
    };
    bounds::bound(&mut entry);
    // Fails closed: no record, no numbers.
    let source = RefusalSource::Address(peer.ip().to_string());
    if let Err(error) = context.scrapes.record(&source, entry).await {
        tracing::error!(%error, "metrics scrape not recorded in the access log: refused");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the access log is unavailable",
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}
