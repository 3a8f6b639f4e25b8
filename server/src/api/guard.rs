//! The guard: a tower layer in front of every service. For each request it authenticates the
//! caller (certificate, then token), looks the method up in the capability table and checks
//! the caller's roles, then hands the handler a `Principal` in the request extensions. A request
//! that fails any step never reaches a handler.
//!
//! It also keeps the access log: every request gets exactly one audit record. A refused request
//! is recorded before the refusal is sent; an admitted one carries an `AuditContext` the handler
//! fills, and is recorded when the handler returns, before any of the response body is sent
//! (writes record it themselves, inside their transaction). If the record cannot be written, the
//! caller gets UNAVAILABLE instead of the response (fail closed).

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tower::{Layer, Service};
use tracing::Instrument;

use super::capabilities::{Capability, capability_for, is_streaming, known_method};
use super::status::{audit_unavailable, auth_status};
use crate::audit::refusals::{RefusalLog, RefusalSource};
use crate::audit::writer::{AuditWriteError, AuditWriter, NotQueued};
use crate::audit::{self, AuditContext, AuditEntry};
use crate::identity::rate::RateLimiter;
use crate::identity::{Authenticator, Principal, SharedAuthenticator};
use crate::limits::occupancy::{Kind, Occupancy, Slot};
use crate::limits::{Limits, Refused};
use crate::metrics::HubMetrics;
use crate::metrics::grpc::{CallRecord, method_labels};

/// What the guard needs besides the request.
pub struct GuardContext {
    /// The live authenticator (swapped on reload; each call uses the one in force when it
    /// arrives).
    pub authenticator: SharedAuthenticator,
    /// Per-org token buckets.
    pub limiter: Arc<RateLimiter>,
    /// The call deadline and per-org caps on calls in flight and open streams.
    pub limits: Limits,
    pub occupancy: Arc<Occupancy>,
    /// The access log's group-commit writer.
    pub writer: AuditWriter,
    /// Refusals no per-org limit slows down, coalesced per source.
    pub refusals: Arc<RefusalLog>,
    pub hub_id: String,
    pub policy_version: String,
    /// The gRPC server metrics and limit refusals are counted here, for every call.
    pub metrics: Arc<HubMetrics>,
}

/// The layer; add it once with `Server::builder().layer(..)`.
#[derive(Clone)]
pub struct GuardLayer {
    context: Arc<GuardContext>,
}

impl GuardLayer {
    pub fn new(context: GuardContext) -> Self {
        Self {
            context: Arc::new(context),
        }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            context: self.context.clone(),
        }
    }
}

/// The service the layer wraps around the router.
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    context: Arc<GuardContext>,
}

impl<S> Service<http::Request<Body>> for Guard<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone is not ready; keep the instance that `poll_ready` prepared.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let context = self.context.clone();
        let mut entry = AuditEntry {
            time: audit::now_text(),
            hub_id: context.hub_id.clone(),
            // Bounded: an unknown path is the caller's text.
            method: request.uri().path().chars().take(200).collect(),
            peer_address: peer_address(&request),
            request_summary: "{}".to_string(),
            policy_version: context.policy_version.clone(),
            ..AuditEntry::default()
        };
        let authenticator = context.authenticator.load_full();
        let streaming = is_streaming(request.uri().path());
        let known = known_method(request.uri().path());
        let mut call = context.metrics.grpc.start(method_labels(known, streaming));
        let span = crate::telemetry::rpc_span(known.unwrap_or("unknown"), request.headers());
        match admit(&authenticator, &context, &request, &mut entry) {
            Ok((principal, slots)) => {
                let audit = AuditContext::new(entry, context.writer.clone());
                request.extensions_mut().insert(audit.clone());
                if let Some(principal) = principal {
                    request.extensions_mut().insert(principal);
                }
                // Until the handler answers, a dropped call counts as cancelled.
                call.set_code(code_name(Code::Cancelled));
                Box::pin(
                    async move {
                        // If the caller goes away (cancel, deadline) before the handler finishes,
                        // the call is still recorded, as CANCELLED.
                        let mut pending = RecordIfDropped {
                            audit: Some(audit.clone()),
                        };
                        let response = if streaming {
                            inner.call(request).await?
                        } else {
                            let deadline = context.limits.call_timeout();
                            match tokio::time::timeout(deadline, inner.call(request)).await {
                                Ok(response) => response?,
                                Err(_) => {
                                    context.metrics.limit_refused("limits.call_timeout_millis");
                                    deadline_exceeded(deadline).into_http()
                                }
                            }
                        };
                        pending.audit = None;
                        let code = outcome_of(&response);
                        call.set_code(code_name(code));
                        if code == Code::ResourceExhausted {
                            // The one limit handlers enforce themselves: the CPU pool's share.
                            context.metrics.limit_refused("limits.cpu_queue_per_org");
                        }
                        if audit.is_recorded() {
                            return Ok(hold_until_sent(response, slots, call));
                        }
                        let record = audit.entry(code_name(code));
                        match record_detached(&context.writer, record).await {
                            Ok(()) => Ok(hold_until_sent(response, slots, call)),
                            Err(error) => {
                                tracing::error!(%error, "audit record not written; call refused");
                                call.set_code(code_name(Code::Unavailable));
                                Ok(audit_unavailable().into_http())
                            }
                        }
                    }
                    .instrument(span),
                )
            }
            Err(status) => {
                call.set_code(code_name(status.code()));
                // The method as the hub's table names it: a path no service serves is the
                // caller's text, which is not logged.
                // DEBUG: a refusal is the caller's problem, and it is in the access log and
                // the metrics already; a flood of them must not flood the operator's log.
                tracing::debug!(
                    method = known.unwrap_or("unknown"),
                    code = code_name(status.code()),
                    reason = if known.is_some() {
                        status.message()
                    } else {
                        "no such method"
                    },
                    "request refused"
                );
                entry.outcome = code_name(status.code()).to_string();
                audit::bounds::bound(&mut entry);
                let source = refusal_source(&entry, status.code());
                Box::pin(async move {
                    let _call = call;
                    let recorded = match source {
                        Some(source) => context.refusals.record(&source, entry).await,
                        None => context.writer.record(entry).await.map(|_| ()),
                    };
                    if let Err(error) = recorded {
                        tracing::error!(%error, "audit record of a refused call not written");
                        return Ok(audit_unavailable().into_http());
                    }
                    Ok(status.into_http())
                })
            }
        }
    }
}

/// The response, holding the call's slots until its body is dropped: a stream keeps its
/// org's stream slot for as long as it is open (and is measured for as long).
fn hold_until_sent(
    response: http::Response<Body>,
    slots: Vec<Slot>,
    call: CallRecord,
) -> http::Response<Body> {
    use http_body_util::BodyExt;
    response.map(|body| {
        Body::new(body.map_frame(move |frame| {
            let _held = (&slots, &call);
            frame
        }))
    })
}

fn deadline_exceeded(deadline: std::time::Duration) -> Status {
    Status::deadline_exceeded(format!(
        "the call took longer than this hub's limit of {} ms (limits.call_timeout_millis)",
        deadline.as_millis()
    ))
}

/// Refusals that no per-org rate limit slows down are coalesced: a certificate the registry
/// does not know (no org to charge), and an org already over its limit. Every other refusal
/// comes after the org's rate limit was charged, so it is recorded one by one.
fn refusal_source(entry: &AuditEntry, code: Code) -> Option<RefusalSource> {
    if entry.org.is_empty() {
        let address = entry
            .peer_address
            .parse::<std::net::SocketAddr>()
            .map(|address| address.ip().to_string())
            .unwrap_or_else(|_| entry.peer_address.clone());
        return Some(RefusalSource::Address(address));
    }
    (code == Code::ResourceExhausted).then(|| RefusalSource::Org(entry.org.clone()))
}

/// Writes an audit record so that it is queued even if the caller's request future is dropped
/// (the client reset the stream, or its deadline passed) while it waits: queued at once when
/// the writer's queue has room (no task to spawn, the common case), else from a task of its own.
async fn record_detached(writer: &AuditWriter, entry: AuditEntry) -> Result<(), String> {
    let entry = match writer.try_queue(entry) {
        Ok(queued) => {
            return queued
                .durable()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
        }
        Err(NotQueued::Stopped) => return Err(AuditWriteError::Stopped.to_string()),
        Err(NotQueued::Full(entry)) => *entry,
    };
    let writer = writer.clone();
    match tokio::spawn(async move { writer.record(entry).await }).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// Records one delivered page of a stream before it is sent; a page whose record cannot be
/// written is not sent (the stream ends with UNAVAILABLE).
pub async fn record_page(
    audit: &AuditContext,
    page: u64,
    ids: Vec<String>,
    detail: serde_json::Value,
) -> Result<(), Status> {
    let entry = audit.page_entry(page, ids, detail);
    record_detached(audit.writer(), entry)
        .await
        .map_err(|error| {
            tracing::error!(%error, "audit record of a stream page not written; stream ended");
            audit_unavailable()
        })
}

/// Records a call whose handler never finished (the request future was dropped) as CANCELLED.
struct RecordIfDropped {
    audit: Option<AuditContext>,
}

impl Drop for RecordIfDropped {
    fn drop(&mut self) {
        let Some(audit) = self.audit.take() else {
            return;
        };
        if audit.is_recorded() {
            return;
        }
        let entry = audit.entry("CANCELLED");
        let writer = audit.writer().clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = writer.record(entry).await {
                    tracing::error!(%error, "audit record of a cancelled call not written");
                }
            });
        }
    }
}

/// The outcome a response carries: its `grpc-status` (errors come trailers-only, with the
/// status in the headers), OK when there is none yet (a successful unary body or a stream).
fn outcome_of(response: &http::Response<Body>) -> Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map(Code::from_i32)
        .unwrap_or(Code::Ok)
}

/// The canonical name of a gRPC status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn peer_address(request: &http::Request<Body>) -> String {
    request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.get_ref().remote_addr())
        .map(|address| address.to_string())
        .unwrap_or_default()
}

/// Decides whether a request may proceed; `Ok(None)` for certificate-only methods.
fn admit(
    authenticator: &Authenticator,
    context: &GuardContext,
    request: &http::Request<Body>,
    entry: &mut AuditEntry,
) -> Result<(Option<Principal>, Vec<Slot>), Status> {
    let path = request.uri().path();
    let certs = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs());
    let peer = authenticator
        .peer(certs.as_deref().map(Vec::as_slice))
        .map_err(|error| auth_status(&error))?;
    entry.org = peer.id.clone();
    entry.cert_sha256 = peer.cert_sha256.clone();

    // Every call counts against the caller's org, authenticated by its certificate, before
    // any token work is done.
    context
        .limiter
        .check(&peer.id, authenticator.rate_limit(&peer.id))
        .map_err(|exhausted| {
            context.metrics.limit_refused("rate_limit");
            rate_limited(&peer.id, exhausted)
        })?;
    // Then the org's caps on what it may hold at once: a stream is a call in flight too.
    let limits = &context.limits;
    let mut slots = vec![
        context
            .occupancy
            .enter(&peer.id, Kind::Call, limits.calls_in_flight_per_org)
            .map_err(|refused| refused_by_limit(context, &peer.id, &refused))?,
    ];
    if is_streaming(path) {
        slots.push(
            context
                .occupancy
                .enter(&peer.id, Kind::Stream, limits.streams_per_org)
                .map_err(|refused| refused_by_limit(context, &peer.id, &refused))?,
        );
    }

    let capability = capability_for(path)
        .ok_or_else(|| Status::new(Code::Unimplemented, format!("unknown method {path}")))?;
    if capability == Capability::Certificate {
        return Ok((None, slots));
    }

    let authorization = match request.headers().get(http::header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            Status::unauthenticated("the authorization metadata is not valid ASCII")
        })?),
    };
    let principal = authenticator
        .principal(&peer, authorization)
        .map_err(|error| auth_status(&error))?;
    entry.subject = principal.subject.clone();
    entry.roles = principal
        .roles
        .iter()
        .map(|role| role.to_string())
        .collect();

    let allowed = capability.roles();
    if !allowed.iter().any(|role| principal.has_role(*role)) {
        let held: Vec<&str> = principal.roles.iter().map(|role| role.as_str()).collect();
        let needed: Vec<&str> = allowed.iter().map(|role| role.as_str()).collect();
        return Err(Status::permission_denied(format!(
            "{path} needs the '{}' capability (roles: {}); the token grants {}",
            capability.as_str(),
            needed.join(", "),
            held.join(", ")
        )));
    }
    Ok((Some(principal), slots))
}

/// RESOURCE_EXHAUSTED naming the rate limit, with `google.rpc.RetryInfo`.
fn rate_limited(org: &str, exhausted: crate::identity::rate::Exhausted) -> Status {
    let wait = whole_millis(exhausted.retry_after);
    resource_exhausted(
        format!(
            "organisation '{org}' exceeded its rate limit of {} calls per second (burst {}); retry in {} ms",
            exhausted.limit.per_second,
            exhausted.limit.burst,
            wait.as_millis()
        ),
        wait,
    )
}

/// [`limit_reached`], counted by the limit's setting.
fn refused_by_limit(context: &GuardContext, org: &str, refused: &Refused) -> Status {
    context.metrics.limit_refused(refused.what);
    limit_reached(org, refused)
}

/// RESOURCE_EXHAUSTED naming the cap the org is at, with `google.rpc.RetryInfo`.
fn limit_reached(org: &str, refused: &Refused) -> Status {
    let wait = whole_millis(refused.retry_after);
    resource_exhausted(
        format!(
            "organisation '{org}' is at its limit {} = {}; retry in {} ms",
            refused.what,
            refused.limit,
            wait.as_millis()
        ),
        wait,
    )
}

/// RESOURCE_EXHAUSTED for a limit the hub keeps in its handlers (the CPU pool's share).
pub fn busy(org: &str, refused: &Refused) -> Status {
    limit_reached(org, refused)
}

/// Whole milliseconds, at least one, so clients never busy-loop on a zero delay.
fn whole_millis(wait: std::time::Duration) -> std::time::Duration {
    let wait = wait.max(std::time::Duration::from_millis(1));
    std::time::Duration::from_millis(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
}

fn resource_exhausted(message: String, wait: std::time::Duration) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(wait)),
    )
}

/// The principal the guard admitted; handlers call this first. Missing means the guard did not
/// run for this request, which must never let it through.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated principal for this call"))
}

/// The audit context the guard attached; a handler without one refuses (fail closed).
pub fn audit_context<T>(request: &tonic::Request<T>) -> Result<AuditContext, Status> {
    request
        .extensions()
        .get::<AuditContext>()
        .cloned()
        .ok_or_else(|| Status::internal("no audit context for this call"))
}
