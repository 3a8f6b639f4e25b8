//! `slt.v1.SyncService`: streams the change feed. Each stream runs in its own task and hands
//! messages to tonic through a small channel, so a slow client holds back the reader (bounded
//! memory) and a vanished client stops it.
//!
//! What a caller can observe is limited to what it may see: stretches of changes invisible to it
//! produce no message (the next message's cursor covers them), live subscriptions speak only when
//! there is something visible or on the fixed heartbeat, and cursors are sealed. Messages are cut
//! by encoded size so that no page of large incidents can exceed the message limit. Streams end
//! when the caller's token expires and when the hub shuts down.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::Stream;
use serde_json::json;
use slt_proto::v1 as pb;
use slt_proto::v1::sync_service_server::SyncService;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::egress::Egress;
use super::feed_messages::Pending;
use super::guard::{principal, record_page};
use super::status::{invalid_argument, invalid_field, store_status};
use crate::audit::AuditContext;
use crate::domain::Violations;
use crate::feed::{Feed, FeedError, FeedFilter, Horizon};
use crate::identity::token::unix_now;
use crate::identity::{PeerKind, Principal};
use crate::wire::{self, origin_seal::OriginSigner};

/// Default and largest number of change-log entries per page.
pub const DEFAULT_SYNC_PAGE: u32 = 500;
pub const MAX_SYNC_PAGE: u32 = 5_000;
/// Default heartbeat of a live subscription.
pub const DEFAULT_HEARTBEAT_SECONDS: u64 = 15;
pub use super::feed_messages::MAX_MESSAGE_CHANGE_BYTES;

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub struct SyncApi {
    feed: Feed,
    /// Batch boundaries for subscribers who may not learn the time of a change.
    horizon: Arc<Horizon>,
    /// Turns true when the hub shuts down: live subscriptions end so that shutdown does not
    /// wait on them (subscribers reconnect to the next hub process from their cursor).
    stopping: watch::Receiver<bool>,
    /// Signs this hub's records for peer hubs (none: peers get nothing signable).
    origin_signer: Option<Arc<OriginSigner>>,
}

impl SyncApi {
    pub fn new(
        feed: Feed,
        horizon: Arc<Horizon>,
        stopping: watch::Receiver<bool>,
        origin_signer: Option<Arc<OriginSigner>>,
    ) -> Self {
        Self {
            feed,
            horizon,
            stopping,
            origin_signer,
        }
    }
}

fn feed_status(error: FeedError) -> Status {
    match error {
        FeedError::ResyncRequired(reason) => {
            use tonic_types::{ErrorDetails, StatusExt};
            Status::with_error_details(
                tonic::Code::FailedPrecondition,
                format!("resync required: {reason}"),
                ErrorDetails::with_error_info(
                    "RESYNC_REQUIRED",
                    super::status::ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                ),
            )
        }
        FeedError::Store(error) => store_status(error),
        FeedError::Seal(error) => {
            tracing::error!(%error, "could not seal a cursor");
            Status::internal("internal error")
        }
    }
}

fn feed_filter(filter: Option<pb::SyncFilter>) -> Result<FeedFilter, Status> {
    let filter = filter.unwrap_or_default();
    let mut violations = Violations::new();
    let decoded = wire::sync_filter_from_proto(&mut violations, &filter);
    if violations.is_empty() {
        Ok(decoded)
    } else {
        Err(invalid_argument(violations.into_vec()))
    }
}

fn identity(feed: &Feed, principal: &Principal) -> pb::FeedIdentity {
    pb::FeedIdentity {
        hub_id: feed.hub_id().to_string(),
        org: principal.org.clone(),
        subject: principal.subject.clone(),
        roles: principal
            .roles
            .iter()
            .map(|role| role.to_string())
            .collect(),
    }
}

/// The incident (or advisory) ids a message of changes carries, for its audit record.
fn change_ids(changes: &[pb::Change]) -> Vec<String> {
    changes
        .iter()
        .map(|change| {
            if change.incident_id.is_empty() {
                change.advisory_id.clone()
            } else {
                change.incident_id.clone()
            }
        })
        .collect()
}

/// What a feed request asked for, for the audit record.
fn sync_summary(filter: &Option<pb::SyncFilter>, cursor: &str) -> String {
    crate::audit::summary(&serde_json::json!({
        "countries": filter.as_ref().map(|f| f.countries.clone()).unwrap_or_default(),
        "incident_types": filter.as_ref().map(|f| f.incident_types.clone()).unwrap_or_default(),
        "from_start": cursor.is_empty(),
    }))
}

fn token_expired() -> Status {
    Status::unauthenticated("the token has expired; reconnect with a fresh token")
}

#[tonic::async_trait]
impl SyncService for SyncApi {
    type PullStream = ResponseStream<pb::PullResponse>;
    type SubscribeStream = ResponseStream<pb::SubscribeResponse>;

    async fn pull(
        &self,
        request: Request<pb::PullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let principal = principal(&request)?;
        let audit = super::guard::audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| entry.request_summary = sync_summary(&request.filter, &request.cursor));
        let filter = feed_filter(request.filter)?;
        let limit = match request.page_size {
            0 => DEFAULT_SYNC_PAGE,
            size if size < 0 => return Err(invalid_field("page_size", "must not be negative")),
            size => u32::try_from(size)
                .unwrap_or(MAX_SYNC_PAGE)
                .min(MAX_SYNC_PAGE),
        };
        let start = self
            .feed
            .resolve(&request.cursor)
            .await
            .map_err(feed_status)?;
        // "To the present": the log as it stands now; later writes are the next pull's.
        // The record rule's changed decisions go into the log before its head is read.
        self.feed
            .classes()
            .refresh_for(&principal)
            .await
            .map_err(store_status)?;
        let up_to = self.feed.store().max_seq().await.map_err(store_status)?;

        let (sender, receiver) = mpsc::channel(2);
        let pull = PullStream {
            egress: Egress::for_principal(&principal, &self.origin_signer),
            feed: self.feed.clone(),
            audit,
            principal,
            filter,
            limit,
            up_to,
        };
        // The stream's pages are read in their own task, still within the call's span.
        tokio::spawn(pull.run(start, sender).in_current_span());
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let principal = principal(&request)?;
        let audit = super::guard::audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| entry.request_summary = sync_summary(&request.filter, &request.cursor));
        let filter = feed_filter(request.filter)?;
        let heartbeat = heartbeat_seconds(request.heartbeat_seconds)?;
        let start = self
            .feed
            .resolve(&request.cursor)
            .await
            .map_err(feed_status)?;
        // Watch before reading, so that a write between the catch-up and the live phase still
        // wakes us. A subscriber below the timestamps' tier wakes on batch boundaries instead,
        // and reads only up to them (policy `live_feed`).
        let wake = match self.feed.policy().live_batch_seconds(&principal) {
            Some(_) => Wake::Boundary(self.horizon.watch()),
            None => Wake::Commit(self.feed.store().watch_changes()),
        };

        let (sender, receiver) = mpsc::channel(2);
        let subscription = Subscription {
            egress: Egress::for_principal(&principal, &self.origin_signer),
            identity: identity(&self.feed, &principal),
            feed: self.feed.clone(),
            audit,
            pages: AtomicU64::new(0),
            principal,
            filter,
            sender,
        };
        tokio::spawn(
            subscription
                .run(start, heartbeat, wake, self.stopping.clone())
                .in_current_span(),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// A subscription's heartbeat: 1 to 300 seconds, the default for 0.
fn heartbeat_seconds(requested: i32) -> Result<u64, Status> {
    match requested {
        0 => Ok(DEFAULT_HEARTBEAT_SECONDS),
        seconds @ 1..=300 => Ok(u64::try_from(seconds).unwrap_or(DEFAULT_HEARTBEAT_SECONDS)),
        _ => Err(invalid_field(
            "heartbeat_seconds",
            "must be between 1 and 300",
        )),
    }
}

/// One Pull stream: pages up to `up_to` (the log as it stood when the call came).
struct PullStream {
    feed: Feed,
    egress: Egress,
    audit: AuditContext,
    principal: Principal,
    filter: FeedFilter,
    limit: u32,
    up_to: i64,
}

impl PullStream {
    /// Sends the pages after `start`, then records what a peer hub's agreement withheld.
    async fn run(self, start: i64, sender: mpsc::Sender<Result<pb::PullResponse, Status>>) {
        let mut withheld = 0u64;
        let result = self.send_pages(start, &sender, &mut withheld).await;
        let principal = &self.principal;
        // A peer hub's status records what its agreement kept from it.
        if principal.kind == PeerKind::Hub
            && withheld > 0
            && let Err(error) = self
                .feed
                .store()
                .record_peer_withheld(&principal.org, withheld)
                .await
        {
            tracing::warn!(peer = %principal.org, %error, "egress withheld count not recorded");
        }
        if let Err(status) = result {
            let _ = sender.send(Err(status)).await;
        }
    }

    async fn send_pages(
        &self,
        start: i64,
        sender: &mpsc::Sender<Result<pb::PullResponse, Status>>,
        withheld: &mut u64,
    ) -> Result<(), Status> {
        let (feed, principal, up_to) = (&self.feed, &self.principal, self.up_to);
        let identity = identity(feed, principal);
        let group = usize::try_from(self.limit).unwrap_or(1);
        let message = |changes, cursor, complete| pb::PullResponse {
            changes,
            cursor,
            complete,
            // Always 0: any count of log entries would count what the caller cannot see
            // (docs/disclosure.md); progress is `complete` and what was applied.
            remaining: 0,
            feed: Some(identity.clone()),
            policy_version: feed.policy().version().to_string(),
        };
        let mut pending = Pending::default();
        let mut after = start;
        let mut pages = 0;
        loop {
            if unix_now() > principal.expires_at {
                return Err(token_expired());
            }
            let before = after;
            let page = feed
                .page(principal, &self.filter, after, self.limit, Some(up_to))
                .await
                .map_err(feed_status)?;
            *withheld += u64::try_from(page.withheld).unwrap_or(0);
            after = page.cursor_seq;
            let complete = page.scanned == 0 || after >= up_to;
            let (changes, unsigned) = self.egress.changes(page);
            *withheld += unsigned;
            pending.push_page(changes, before, after);
            while let Some(out) = pending.next(group, complete) {
                if !out.changes.is_empty() {
                    // Recorded before it is sent: no page leaves without its trail.
                    pages += 1;
                    let ids = change_ids(&out.changes);
                    record_page(&self.audit, pages, ids, json!({})).await?;
                }
                let cursor = feed.cursor(out.cursor_seq).map_err(feed_status)?;
                if sender
                    .send(Ok(message(out.changes, cursor, false)))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            if complete {
                // Its own message, whatever the last page held (see `feed_messages`).
                let cursor = feed.cursor(after).map_err(feed_status)?;
                let _ = sender.send(Ok(message(Vec::new(), cursor, true))).await;
                return Ok(());
            }
        }
    }
}

/// What wakes a live subscription, and how far it may read.
enum Wake {
    /// Every commit; the log's end.
    Commit(watch::Receiver<u64>),
    /// Every batch boundary; the position the last boundary released.
    Boundary(watch::Receiver<i64>),
}

impl Wake {
    /// Marks the current state seen; the position to read up to (`None`: the log's end).
    fn seen(&mut self) -> Option<i64> {
        match self {
            Wake::Commit(changes) => {
                changes.mark_unchanged();
                None
            }
            Wake::Boundary(horizon) => Some(*horizon.borrow_and_update()),
        }
    }

    /// Waits for the next wake-up; false when its source has gone.
    async fn changed(&mut self) -> bool {
        match self {
            Wake::Commit(changes) => changes.changed().await.is_ok(),
            Wake::Boundary(horizon) => horizon.changed().await.is_ok(),
        }
    }
}

/// One live Subscribe stream.
struct Subscription {
    feed: Feed,
    egress: Egress,
    audit: AuditContext,
    /// Pages delivered so far (each recorded in the access log before it is sent).
    pages: AtomicU64,
    principal: Principal,
    filter: FeedFilter,
    identity: pb::FeedIdentity,
    sender: mpsc::Sender<Result<pb::SubscribeResponse, Status>>,
}

impl Subscription {
    fn message(
        &self,
        changes: Vec<pb::Change>,
        cursor: String,
        heartbeat: bool,
        live: bool,
    ) -> pb::SubscribeResponse {
        pb::SubscribeResponse {
            changes,
            cursor,
            heartbeat,
            live,
            feed: Some(self.identity.clone()),
            policy_version: self.feed.policy().version().to_string(),
        }
    }

    /// Catches up from `start`, then stays live until the token expires, the subscriber goes
    /// or the hub stops; an error ends the stream with its status.
    async fn run(
        self,
        start: i64,
        heartbeat: u64,
        mut wake: Wake,
        mut stopping: watch::Receiver<bool>,
    ) {
        let expires_in = Duration::from_secs(self.principal.expires_at.saturating_sub(unix_now()));
        let expiry = tokio::time::sleep(expires_in);
        tokio::pin!(expiry);
        let mut ticks = tokio::time::interval(Duration::from_secs(heartbeat));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate
        let result: Result<(), Status> = async {
            let mut after = start;
            let mut live = false;
            loop {
                let Some(drained) = self.drain(after, &mut wake, live).await? else {
                    return Ok(());
                };
                after = drained;
                if !live {
                    live = true;
                    let cursor = self.feed.cursor(after).map_err(feed_status)?;
                    if self
                        .send(self.message(Vec::new(), cursor, false, true))
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                }
                if *stopping.borrow() {
                    return Ok(());
                }
                tokio::select! {
                    changed = wake.changed() => {
                        if !changed {
                            return Ok(());
                        }
                    }
                    _ = ticks.tick() => {
                        let cursor = self.feed.cursor(after).map_err(feed_status)?;
                        if self.send(self.message(Vec::new(), cursor, true, true)).await.is_err() {
                            return Ok(());
                        }
                    }
                    _ = &mut expiry => return Err(token_expired()),
                    _ = self.sender.closed() => return Ok(()),
                    _ = stopping.changed() => return Ok(()),
                }
            }
        }
        .await;
        if let Err(status) = result {
            let _ = self.sender.send(Err(status)).await;
        }
    }

    async fn send(&self, message: pb::SubscribeResponse) -> Result<(), ()> {
        self.sender.send(Ok(message)).await.map_err(|_| ())
    }

    /// Sends everything there is after `after` (up to the last boundary when batched); only
    /// visible changes make a message. The seq reached, or `None` when the subscriber has gone.
    async fn drain(
        &self,
        mut after: i64,
        wake: &mut Wake,
        live: bool,
    ) -> Result<Option<i64>, Status> {
        let group = usize::try_from(DEFAULT_SYNC_PAGE).unwrap_or(1);
        let mut pending = Pending::default();
        loop {
            let up_to = wake.seen();
            let before = after;
            let page = self
                .feed
                .page(
                    &self.principal,
                    &self.filter,
                    after,
                    DEFAULT_SYNC_PAGE,
                    up_to,
                )
                .await
                .map_err(feed_status)?;
            let done = page.scanned == 0;
            after = page.cursor_seq;
            let (changes, _unsigned) = self.egress.changes(page);
            pending.push_page(changes, before, after);
            while let Some(out) = pending.next(group, done) {
                if !out.changes.is_empty() {
                    let page = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
                    let ids = change_ids(&out.changes);
                    record_page(&self.audit, page, ids, json!({})).await?;
                }
                let cursor = self.feed.cursor(out.cursor_seq).map_err(feed_status)?;
                if self
                    .send(self.message(out.changes, cursor, false, live))
                    .await
                    .is_err()
                {
                    return Ok(None);
                }
            }
            if done {
                return Ok(Some(after));
            }
        }
    }
}
