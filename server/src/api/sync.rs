//! `slt.v1.SyncService`: streams the change feed. Each stream runs in its own task and hands
//! pages to tonic through a small channel, so a slow client holds back the reader (bounded
//! memory) and a vanished client stops it.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use slt_proto::v1 as pb;
use slt_proto::v1::sync_service_server::SyncService;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::{self, incident_to_proto};
use super::guard::principal;
use super::status::{invalid_argument, invalid_field, store_status};
use crate::domain::Violations;
use crate::feed::{Feed, FeedChange, FeedError, FeedFilter, FeedPage};
use crate::identity::Principal;

/// Default and largest number of change-log entries per page.
pub const DEFAULT_SYNC_PAGE: u32 = 500;
pub const MAX_SYNC_PAGE: u32 = 5_000;
/// Default heartbeat while a subscription is idle.
pub const DEFAULT_HEARTBEAT_SECONDS: u64 = 15;

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub struct SyncApi {
    feed: Feed,
    /// Turns true when the hub shuts down: live subscriptions end so that shutdown does not
    /// wait on them (subscribers reconnect to the next hub process from their cursor).
    stopping: watch::Receiver<bool>,
}

impl SyncApi {
    pub fn new(feed: Feed, stopping: watch::Receiver<bool>) -> Self {
        Self { feed, stopping }
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
    }
}

fn feed_filter(filter: Option<pb::SyncFilter>) -> Result<FeedFilter, Status> {
    let filter = filter.unwrap_or_default();
    let mut violations = Violations::new();
    let decoded = convert::sync_filter_from_proto(&mut violations, &filter);
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

fn changes_to_proto(page: FeedPage) -> Vec<pb::Change> {
    page.changes
        .into_iter()
        .map(|change| match change {
            FeedChange::Upsert(redacted) => pb::Change {
                r#type: pb::ChangeType::Upsert as i32,
                incident_id: redacted.incident.id.to_string(),
                incident: Some(incident_to_proto(redacted)),
            },
            FeedChange::Retract(redacted) => pb::Change {
                r#type: pb::ChangeType::Retract as i32,
                incident_id: redacted.incident.id.to_string(),
                incident: Some(incident_to_proto(redacted)),
            },
            FeedChange::Revoke(id) => pb::Change {
                r#type: pb::ChangeType::Revoke as i32,
                incident_id: id.to_string(),
                incident: None,
            },
        })
        .collect()
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
        let request = request.into_inner();
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
        let up_to = self.feed.store().max_seq().await.map_err(store_status)?;

        let feed = self.feed.clone();
        let (sender, receiver) = mpsc::channel(2);
        tokio::spawn(async move {
            let identity = identity(&feed, &principal);
            let mut after = start;
            loop {
                let page = match feed
                    .page(&principal, &filter, after, limit, Some(up_to))
                    .await
                {
                    Ok(page) => page,
                    Err(error) => {
                        let _ = sender.send(Err(feed_status(error))).await;
                        return;
                    }
                };
                after = page.cursor_seq;
                let complete = page.scanned == 0 || after >= up_to;
                let message = pb::PullResponse {
                    changes: changes_to_proto(page),
                    cursor: feed.cursor(after),
                    complete,
                    remaining: u64::try_from(up_to - after).unwrap_or(0),
                    feed: Some(identity.clone()),
                    policy_version: feed.policy().version().to_string(),
                };
                if sender.send(Ok(message)).await.is_err() || complete {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let principal = principal(&request)?;
        let request = request.into_inner();
        let filter = feed_filter(request.filter)?;
        let heartbeat = match request.heartbeat_seconds {
            0 => DEFAULT_HEARTBEAT_SECONDS,
            seconds @ 1..=300 => u64::try_from(seconds).unwrap_or(DEFAULT_HEARTBEAT_SECONDS),
            _ => {
                return Err(invalid_field(
                    "heartbeat_seconds",
                    "must be between 1 and 300",
                ));
            }
        };
        let start = self
            .feed
            .resolve(&request.cursor)
            .await
            .map_err(feed_status)?;
        // Watch before reading, so that a write between the catch-up and the live phase still
        // wakes us.
        let mut changes = self.feed.store().watch_changes();

        let feed = self.feed.clone();
        let mut stopping = self.stopping.clone();
        let (sender, receiver) = mpsc::channel(2);
        tokio::spawn(async move {
            let identity = identity(&feed, &principal);
            let message = |page: Option<FeedPage>, after: i64, live: bool| pb::SubscribeResponse {
                heartbeat: page.is_none(),
                changes: page.map(changes_to_proto).unwrap_or_default(),
                cursor: feed.cursor(after),
                live,
                feed: Some(identity.clone()),
                policy_version: feed.policy().version().to_string(),
            };
            let mut after = start;
            let mut live = false;
            loop {
                // Drain everything there is, page by page.
                loop {
                    changes.mark_unchanged();
                    let page = match feed
                        .page(&principal, &filter, after, DEFAULT_SYNC_PAGE, None)
                        .await
                    {
                        Ok(page) => page,
                        Err(error) => {
                            let _ = sender.send(Err(feed_status(error))).await;
                            return;
                        }
                    };
                    if page.scanned == 0 {
                        break;
                    }
                    after = page.cursor_seq;
                    if sender
                        .send(Ok(message(Some(page), after, live)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                if !live {
                    live = true;
                    let caught_up = message(
                        Some(FeedPage {
                            changes: Vec::new(),
                            cursor_seq: after,
                            scanned: 0,
                        }),
                        after,
                        true,
                    );
                    if sender.send(Ok(caught_up)).await.is_err() {
                        return;
                    }
                }
                if *stopping.borrow() {
                    return;
                }
                tokio::select! {
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_secs(heartbeat)) => {
                        if sender.send(Ok(message(None, after, true))).await.is_err() {
                            return;
                        }
                    }
                    _ = sender.closed() => return,
                    _ = stopping.changed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
