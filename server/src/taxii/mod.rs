//! A read-only TAXII 2.1 server (docs/taxii.md): an edge like the gRPC API, on a listener of its
//! own (`[taxii] listen`), with the same mutual TLS (the gRPC acceptor, CRLs and reload
//! included), the same bearer tokens verified by the same `identity::Authenticator`, and the
//! roles of the `read incidents` capability. One API root (`/slt/`) with one collection: every
//! incident the caller may see, as STIX 2.1 (`stix`), read through the change feed (`pages`).
//!
//! Every request leaves one access-log record before its answer is sent: a refusal like the
//! gRPC guard's (unknown certificates coalesced per address), a page with the incident ids it
//! carried. A page whose record cannot be written is not sent (503).

pub mod pages;
pub mod stix;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::IncomingStream;
use futures::StreamExt;
use rustls::pki_types::CertificateDer;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;

use crate::api::capabilities::Capability;
use crate::audit::refusals::{RefusalLog, RefusalSource};
use crate::audit::writer::AuditWriter;
use crate::audit::{AuditEntry, bounds, now_text};
use crate::feed::Feed;
use crate::identity::rate::RateLimiter;
use crate::identity::tls::{AgedStream, SharedServerConfig};
use crate::identity::{AuthError, Principal, SharedAuthenticator};
use crate::limits::Limits;
use crate::limits::occupancy::{Kind, Occupancy, Slot};
use crate::sealed::Sealer;

use pages::{DEFAULT_LIMIT, MAX_LIMIT, Match, PageError, Pager, Versions};

/// The TAXII media type, on every response.
pub const MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The STIX media type the collection holds.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// The one API root's path segment.
pub const API_ROOT: &str = "slt";
/// The one collection: every incident the caller may see.
pub const COLLECTION_ID: &str = "5c0b3c5e-8a1f-4d6e-9b2a-3f4e5d6c7b8a";
/// The largest request body the API root declares; the server accepts no writes at all.
pub const MAX_CONTENT_LENGTH: u64 = 1024 * 1024;
/// The longest query string accepted, and the most values of one filter.
const MAX_QUERY_BYTES: usize = 8 * 1024;
const MAX_FILTER_VALUES: usize = 100;

/// What the TAXII server needs.
#[derive(Clone)]
pub struct TaxiiContext {
    inner: Arc<Inner>,
}

struct Inner {
    authenticator: SharedAuthenticator,
    limiter: RateLimiter,
    /// The call deadline and the per-org cap on calls in flight (`[limits]`), TAXII's own
    /// slots.
    limits: Limits,
    occupancy: Arc<Occupancy>,
    feed: Feed,
    sealer: Arc<Sealer>,
    writer: AuditWriter,
    refusals: Arc<RefusalLog>,
    hub_id: String,
    policy_version: String,
}

impl TaxiiContext {
    pub fn new(
        authenticator: SharedAuthenticator,
        feed: Feed,
        sealer: Arc<Sealer>,
        (writer, refusals): (AuditWriter, Arc<RefusalLog>),
        hub_id: String,
        policy_version: String,
        limits: Limits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                authenticator,
                limiter: RateLimiter::new(),
                limits,
                occupancy: Occupancy::new(),
                feed,
                sealer,
                writer,
                refusals,
                hub_id,
                policy_version,
            }),
        }
    }
}

/// The caller of one connection: its address and certificate chain (from the handshake).
#[derive(Clone)]
pub struct TlsPeer {
    address: Option<SocketAddr>,
    certs: Option<Arc<Vec<CertificateDer<'static>>>>,
}

/// Completed mutual-TLS connections from `identity::tls::incoming`, for axum.
struct TlsListener {
    incoming: ReceiverStream<Result<AgedStream, std::io::Error>>,
    local: SocketAddr,
}

/// Logged by axum on connection errors: the address only, never the certificates.
impl std::fmt::Debug for TlsPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPeer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = AgedStream;
    type Addr = TlsPeer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.incoming.next().await {
                Some(Ok(stream)) => {
                    use tonic::transport::server::Connected as _;
                    let info = stream.connect_info();
                    let peer = TlsPeer {
                        address: info.get_ref().remote_addr(),
                        certs: info.peer_certs(),
                    };
                    return (stream, peer);
                }
                Some(Err(_)) => continue,
                // The acceptor stopped: the server is shutting down.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(TlsPeer {
            address: Some(self.local),
            certs: None,
        })
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for TlsPeer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// Serves TAXII on `listener` (mutual TLS from `tls`, connections closed `lifetime` after their
/// handshake) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    tls: SharedServerConfig,
    lifetime: Duration,
    context: TaxiiContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let (incoming, accept_task) = crate::identity::tls::incoming_http1(listener, tls, lifetime);
    let collection = format!("/{API_ROOT}/collections/{{collection}}");
    let app = Router::new()
        .route("/taxii2/", get(discovery))
        .route(&format!("/{API_ROOT}/"), get(api_root))
        .route(&format!("/{API_ROOT}/collections/"), get(collections))
        .route(&format!("{collection}/"), get(collection_info))
        .route(
            &format!("{collection}/objects/"),
            get(objects).post(post_objects),
        )
        .route(&format!("{collection}/manifest/"), get(manifest))
        .route(&format!("{collection}/objects/{{object}}/"), get(object))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(context);
    let result = axum::serve(
        TlsListener { incoming, local },
        app.into_make_service_with_connect_info::<TlsPeer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    accept_task.abort();
    result
}

/// A TAXII response: the media type always, JSON body.
fn taxii(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// A TAXII error message.
fn error(status: StatusCode, title: &str, description: &str) -> Response {
    let mut response = taxii(
        status,
        &json!({
            "title": title,
            "description": description,
            "http_status": status.as_u16().to_string(),
        }),
    );
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The access log's outcome for a status.
fn outcome(status: StatusCode) -> String {
    match status {
        StatusCode::OK => "OK".into(),
        StatusCode::BAD_REQUEST => "INVALID_ARGUMENT".into(),
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED".into(),
        StatusCode::FORBIDDEN => "PERMISSION_DENIED".into(),
        StatusCode::NOT_FOUND => "NOT_FOUND".into(),
        StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED".into(),
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE".into(),
        other => format!("HTTP {}", other.as_u16()),
    }
}

/// One request: the access-log record it will leave.
struct Call {
    context: TaxiiContext,
    entry: AuditEntry,
    /// The org's slot for a call in flight, held until the answer is recorded.
    slot: Option<Slot>,
}

impl Call {
    fn new(context: &TaxiiContext, peer: &TlsPeer, method: &str, path: &str) -> Call {
        Call {
            context: context.clone(),
            entry: AuditEntry {
                time: now_text(),
                hub_id: context.inner.hub_id.clone(),
                peer_address: peer.address.map(|a| a.to_string()).unwrap_or_default(),
                // The route, not the caller's text: ids in the path are the caller's.
                method: format!("TAXII {method} {path}"),
                request_summary: "{}".into(),
                policy_version: context.inner.policy_version.clone(),
                ..AuditEntry::default()
            },
            slot: None,
        }
    }

    /// Records the call with `response`'s status and returns it, or 503 when the record
    /// cannot be written (fail closed). Unknown callers and orgs over their rate are coalesced.
    async fn finish(mut self, response: Response) -> Response {
        self.entry.outcome = outcome(response.status());
        bounds::bound(&mut self.entry);
        let inner = &self.context.inner;
        let recorded = if self.entry.org.is_empty() {
            let address = self
                .entry
                .peer_address
                .parse::<SocketAddr>()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            inner
                .refusals
                .record(&RefusalSource::Address(address), self.entry)
                .await
        } else if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let org = self.entry.org.clone();
            inner
                .refusals
                .record(&RefusalSource::Org(org), self.entry)
                .await
        } else {
            inner.writer.record(self.entry).await.map(|_| ())
        };
        match recorded {
            Ok(()) => response,
            Err(error) => {
                tracing::error!(%error, "TAXII access-log record not written; refused");
                error_unavailable()
            }
        }
    }

    /// Authenticates and authorises the caller like the gRPC guard (certificate, the org's
    /// rate, token, the `read incidents` roles), then checks the Accept header.
    fn admit(&mut self, peer: &TlsPeer, headers: &HeaderMap) -> Result<Principal, Box<Response>> {
        let inner = &self.context.inner;
        let authenticator = inner.authenticator.load_full();
        let unauthorised = |failure: &AuthError| {
            let status = match failure {
                AuthError::RoleNotAllowed(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            Box::new(error(status, "Not authorised", &failure.to_string()))
        };
        let identity = authenticator
            .peer(peer.certs.as_deref().map(Vec::as_slice))
            .map_err(|e| unauthorised(&e))?;
        self.entry.org = identity.id.clone();
        self.entry.cert_sha256 = identity.cert_sha256.clone();
        inner
            .limiter
            .check(&identity.id, authenticator.rate_limit(&identity.id))
            .map_err(|exhausted| {
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Rate limit",
                    "this organisation exceeded its rate limit",
                );
                let seconds = exhausted.retry_after.as_secs().max(1);
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                Box::new(response)
            })?;
        let slot = inner
            .occupancy
            .enter(
                &identity.id,
                Kind::Call,
                inner.limits.calls_in_flight_per_org,
            )
            .map_err(|refused| {
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many calls",
                    &format!(
                        "this organisation is at its limit {} = {}",
                        refused.what, refused.limit
                    ),
                );
                let seconds = refused.retry_after.as_secs().max(1);
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                Box::new(response)
            })?;
        self.slot = Some(slot);
        let authorization = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => Some(value.to_str().map_err(|_| {
                Box::new(error(
                    StatusCode::UNAUTHORIZED,
                    "Not authorised",
                    "the Authorization header is not valid ASCII",
                ))
            })?),
        };
        let principal = authenticator
            .principal(&identity, authorization)
            .map_err(|e| unauthorised(&e))?;
        self.entry.subject = principal.subject.clone();
        self.entry.roles = principal.roles.iter().map(|r| r.to_string()).collect();
        let allowed = Capability::ReadIncidents.roles();
        if !allowed.iter().any(|role| principal.has_role(*role)) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "TAXII needs the 'read incidents' capability (roles: reporter, analyst, \
                 focal_point)",
            )));
        }
        if !acceptable(headers) {
            return Err(Box::new(error(
                StatusCode::NOT_ACCEPTABLE,
                "Not acceptable",
                &format!("this server answers only {MEDIA_TYPE}"),
            )));
        }
        Ok(principal)
    }
}

fn error_unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "the access log is unavailable",
    )
}

/// Whether the Accept header admits the TAXII 2.1 media type (no header: anything goes).
fn acceptable(headers: &HeaderMap) -> bool {
    let values: Vec<&HeaderValue> = headers.get_all(header::ACCEPT).iter().collect();
    if values.is_empty() {
        return true;
    }
    values.iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
                let mut version_ok = true;
                for parameter in parts {
                    if let Some((name, value)) = parameter.split_once('=') {
                        if name.trim().eq_ignore_ascii_case("version") {
                            version_ok = value.trim().trim_matches('"') == "2.1";
                        }
                    }
                }
                match kind.as_str() {
                    "application/taxii+json" => version_ok,
                    "*/*" | "application/*" => true,
                    _ => false,
                }
            })
        })
    })
}

/// The URL of the API root, from the Host the client used (when it is a plain host name).
fn api_root_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    match host {
        Some(host) => format!("https://{host}/{API_ROOT}/"),
        None => format!("/{API_ROOT}/"),
    }
}

async fn discovery(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(&context, &peer, "GET", "/taxii2/");
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) => {
            let root = api_root_url(&headers);
            taxii(
                StatusCode::OK,
                &json!({
                    "title": format!("SLT Hub {}", context.inner.hub_id),
                    "description": "Read-only TAXII 2.1 view of the incidents you may see",
                    "default": root,
                    "api_roots": [root],
                }),
            )
        }
    };
    call.finish(response).await
}

async fn api_root(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(&context, &peer, "GET", "/{api-root}/");
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) => taxii(
            StatusCode::OK,
            &json!({
                "title": "SLT Hub incidents",
                "versions": [MEDIA_TYPE],
                "max_content_length": MAX_CONTENT_LENGTH,
            }),
        ),
    };
    call.finish(response).await
}

fn collection_json() -> Value {
    json!({
        "id": COLLECTION_ID,
        "title": "Incidents",
        "description": "Every incident you may see, as your tier shows it (STIX 2.1)",
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

async fn collections(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(&context, &peer, "GET", "/{api-root}/collections/");
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) => taxii(
            StatusCode::OK,
            &json!({ "collections": [collection_json()] }),
        ),
    };
    call.finish(response).await
}

async fn collection_info(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    Path(collection): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(&context, &peer, "GET", "/{api-root}/collections/{id}/");
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) if collection != COLLECTION_ID => collection_not_found(),
        Ok(_) => taxii(StatusCode::OK, &collection_json()),
    };
    call.finish(response).await
}

fn collection_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Not found",
        "no such collection on this API root",
    )
}

async fn not_found(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(&context, &peer, "GET", "(no such resource)");
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) => error(StatusCode::NOT_FOUND, "Not found", "no such TAXII resource"),
    };
    call.finish(response).await
}

async fn method_not_allowed(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(&context, &peer, "OTHER", "(method not allowed)");
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "this TAXII server is read-only",
        ),
    };
    call.finish(response).await
}

/// POST objects: refused, after the checks the spec orders before permission (415, 413).
async fn post_objects(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    Path(_collection): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut call = Call::new(
        &context,
        &peer,
        "POST",
        "/{api-root}/collections/{id}/objects/",
    );
    let response = match call.admit(&peer, &headers) {
        Err(response) => *response,
        Ok(_) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let length = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok());
            if !content_type.starts_with("application/taxii+json") {
                error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Unsupported media type",
                    &format!("objects are posted as {MEDIA_TYPE}"),
                )
            } else if length.is_none_or(|length| length > MAX_CONTENT_LENGTH) {
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Payload too large",
                    &format!("at most {MAX_CONTENT_LENGTH} bytes (and a Content-Length)"),
                )
            } else {
                error(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "this collection is read-only (can_write: false)",
                )
            }
        }
    };
    call.finish(response).await
}

/// What an objects or manifest request asked for.
struct PageRequest {
    limit: usize,
    added_after: Option<i64>,
    next: Option<String>,
    filters: Match,
}

/// Percent-decodes one query component (`+` is a space).
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = text.get(index + 1..index + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A TAXII timestamp (RFC 3339, UTC) as unix seconds, rounded down.
fn parse_time(text: &str) -> Option<i64> {
    let time =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(time.unix_timestamp())
}

fn page_request(query: Option<&str>, object: Option<&str>) -> Result<PageRequest, String> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!("the query is longer than {MAX_QUERY_BYTES} bytes"));
    }
    let mut request = PageRequest {
        limit: DEFAULT_LIMIT,
        added_after: None,
        next: None,
        filters: Match {
            ids: object.map(|id| vec![id.to_string()]).unwrap_or_default(),
            types: Vec::new(),
            versions: Versions::Current,
            spec_version_ok: true,
        },
    };
    let mut versions: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).ok_or("a query parameter is not valid percent-encoding")?;
        let value = decode(value).ok_or("a query value is not valid percent-encoding")?;
        let list = || -> Vec<String> {
            value
                .split(',')
                .map(|item| item.trim().to_string())
                .filter(|item| !item.is_empty())
                .collect()
        };
        match name.as_str() {
            "limit" => {
                // 0 is the default (taxii2-client's `as_pages` can ask for it).
                let limit = value
                    .parse::<usize>()
                    .map_err(|_| "limit must be a non-negative integer")?;
                request.limit = match limit {
                    0 => DEFAULT_LIMIT,
                    limit => limit.min(MAX_LIMIT),
                };
            }
            "added_after" => {
                request.added_after =
                    Some(parse_time(&value).ok_or("added_after must be an RFC 3339 timestamp")?);
            }
            "next" => request.next = Some(value.clone()),
            "match[id]" => request.filters.ids.extend(list()),
            "match[type]" => request.filters.types.extend(list()),
            "match[version]" => versions.extend(list()),
            "match[spec_version]" => {
                request.filters.spec_version_ok = list().iter().any(|version| version == "2.1");
            }
            other if other.starts_with("match[") => {
                return Err(format!("the filter {other} is not supported"));
            }
            // Anything else is not ours to interpret; ignored.
            _ => {}
        }
    }
    if request.filters.ids.len() > MAX_FILTER_VALUES
        || request.filters.types.len() > MAX_FILTER_VALUES
        || versions.len() > MAX_FILTER_VALUES
    {
        return Err(format!("at most {MAX_FILTER_VALUES} values per filter"));
    }
    if !versions.is_empty()
        && !versions
            .iter()
            .any(|v| v == "last" || v == "first" || v == "all")
    {
        for version in &versions {
            if parse_time(version).is_none() {
                return Err("match[version] takes last, first, all or timestamps".into());
            }
        }
        request.filters.versions = Versions::Exact(versions);
    }
    Ok(request)
}

/// Which listing: STIX objects or their manifest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Objects,
    Manifest,
}

async fn objects(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    Path(collection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let route = "/{api-root}/collections/{id}/objects/";
    listing(
        context,
        peer,
        (collection, None),
        query,
        headers,
        Listing::Objects,
        route,
    )
    .await
}

async fn object(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    Path((collection, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let route = "/{api-root}/collections/{id}/objects/{object-id}/";
    listing(
        context,
        peer,
        (collection, Some(object)),
        query,
        headers,
        Listing::Objects,
        route,
    )
    .await
}

async fn manifest(
    State(context): State<TaxiiContext>,
    ConnectInfo(peer): ConnectInfo<TlsPeer>,
    Path(collection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let route = "/{api-root}/collections/{id}/manifest/";
    listing(
        context,
        peer,
        (collection, None),
        query,
        headers,
        Listing::Manifest,
        route,
    )
    .await
}

async fn listing(
    context: TaxiiContext,
    peer: TlsPeer,
    (collection, object): (String, Option<String>),
    query: Option<String>,
    headers: HeaderMap,
    kind: Listing,
    route: &str,
) -> Response {
    let mut call = Call::new(&context, &peer, "GET", route);
    let principal = match call.admit(&peer, &headers) {
        Ok(principal) => principal,
        Err(response) => return call.finish(*response).await,
    };
    if collection != COLLECTION_ID {
        return call.finish(collection_not_found()).await;
    }
    let request = match page_request(query.as_deref(), object.as_deref()) {
        Ok(request) => request,
        Err(message) => {
            return call
                .finish(error(StatusCode::BAD_REQUEST, "Bad request", &message))
                .await;
        }
    };
    call.entry.request_summary = crate::audit::summary(&json!({
        "listing": if kind == Listing::Objects { "objects" } else { "manifest" },
        "limit": request.limit,
        "added_after": request.added_after,
        "continued": request.next.is_some(),
        "match_ids": request.filters.ids.len(),
        "match_types": request.filters.types,
    }));
    let inner = &context.inner;
    let pager = Pager {
        feed: &inner.feed,
        sealer: &inner.sealer,
        principal: &principal,
    };
    let deadline = inner.limits.call_timeout();
    let read = tokio::time::timeout(
        deadline,
        pager.page(
            request.next.as_deref(),
            request.added_after,
            &request.filters,
            request.limit,
        ),
    )
    .await;
    let Ok(read) = read else {
        return call
            .finish(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Deadline exceeded",
                &format!(
                    "the page took longer than this hub's limit of {} ms \
                     (limits.call_timeout_millis); ask for a smaller limit",
                    deadline.as_millis()
                ),
            ))
            .await;
    };
    let page = match read {
        Ok(page) => page,
        Err(PageError::BadNext) => {
            return call
                .finish(error(
                    StatusCode::BAD_REQUEST,
                    "Bad request",
                    "next is not a value this server gave for this query",
                ))
                .await;
        }
        Err(failure) => {
            tracing::error!(error = %failure, "TAXII page not read");
            return call
                .finish(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "the page could not be read",
                ))
                .await;
        }
    };
    if object.is_some() && page.objects.is_empty() && !page.more {
        return call
            .finish(error(StatusCode::NOT_FOUND, "Not found", "no such object"))
            .await;
    }
    let mut ids: Vec<String> = Vec::new();
    for (object, _) in &page.objects {
        if !ids.contains(&object.incident_id) {
            ids.push(object.incident_id.clone());
        }
    }
    call.entry.records_returned = page.objects.len() as u64;
    call.entry.incident_ids = ids;
    let first = page.objects.first().map(|(_, added)| *added);
    let last = page.objects.last().map(|(_, added)| *added);
    let items: Vec<Value> = page
        .objects
        .into_iter()
        .map(|(object, added)| match kind {
            Listing::Objects => object.json,
            Listing::Manifest => json!({
                "id": object.id,
                "date_added": stix::unix_time(added),
                "version": object.modified,
                "media_type": STIX_MEDIA_TYPE,
            }),
        })
        .collect();
    let mut envelope = serde_json::Map::new();
    envelope.insert("more".into(), json!(page.more));
    if let Some(next) = page.next {
        envelope.insert("next".into(), json!(next));
    }
    if !items.is_empty() {
        envelope.insert("objects".into(), Value::Array(items));
    }
    let mut response = taxii(StatusCode::OK, &Value::Object(envelope));
    for (name, value) in [
        ("x-taxii-date-added-first", first),
        ("x-taxii-date-added-last", last),
    ] {
        if let Some(Ok(value)) = value.map(|at| HeaderValue::from_str(&stix::unix_time(at))) {
            response.headers_mut().insert(name, value);
        }
    }
    // Recorded before it is sent: no page leaves without its trail.
    call.finish(response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn accept_header_rules() {
        assert!(acceptable(&HeaderMap::new()));
        assert!(acceptable(&accept("application/taxii+json;version=2.1")));
        assert!(acceptable(&accept("application/taxii+json")));
        assert!(acceptable(&accept("text/html, */*")));
        assert!(!acceptable(&accept("application/json")));
        assert!(!acceptable(&accept("application/taxii+json;version=2.0")));
    }

    #[test]
    fn queries_parse() {
        let request = page_request(
            Some("limit=5&match%5Btype%5D=incident,location&match[version]=all&added_after=2024-01-01T00:00:00.123Z"),
            None,
        )
        .expect("parses");
        assert_eq!(request.limit, 5);
        assert_eq!(request.filters.types, vec!["incident", "location"]);
        assert_eq!(request.filters.versions, Versions::Current);
        assert_eq!(request.added_after, Some(1_704_067_200));
        assert_eq!(
            page_request(Some("limit=0"), None).map(|r| r.limit),
            Ok(DEFAULT_LIMIT)
        );
        assert!(page_request(Some("limit=-1"), None).is_err());
        assert!(page_request(Some("match[foo]=x"), None).is_err());
        assert_eq!(
            page_request(Some("limit=999999"), None).map(|r| r.limit),
            Ok(MAX_LIMIT)
        );
    }
}
