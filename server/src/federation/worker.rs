//! Pull workers: one task per peer agreement with `pull = true`.
//!
//! Each round the worker issues itself a short-lived token for the peer (`iss` = `org` = this
//! hub's id, `aud` = the peer's hub id, `sub` = `hub:<our id>`, role `peer_hub`, signed with
//! this hub's token key; the peer verifies it with the public key in its agreement for us),
//! connects with this hub's own certificate (the peer's CA from the agreement verifies the
//! peer's server certificate), and pulls the change feed from the cursor stored for the peer.
//! Every record's origin signature is verified against its origin hub's key from the
//! agreements (no key or no valid signature: refused, counted as withheld); every page is
//! decoded, checked and applied together with the cursor after it in one store transaction. Failures back off exponentially with jitter up to the agreement's maximum;
//! after an outage the worker resumes from its cursor. A cursor the peer refuses (it lost its
//! database) is forgotten: the worker starts over, and idempotent applying keeps that from
//! duplicating anything.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use slt_proto::v1 as pb;
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tracing::Instrument;

use super::agreement::PeerAgreement;
use super::channel::{self, Bearer, ConnectError, OwnTls, PeerSync, bearer_value};
use crate::anonymise;
use crate::federation::copies::FederationRules;
use crate::federation::origin_keys::OriginKeys;
use crate::identity::Role;
use crate::identity::keys::{self, read_key_file};
use crate::identity::token::TokenIssuer;
use crate::metrics::{FederationMetrics, KindLabel, unix_now};
use crate::store::{FederatedChange, FederatedPage, Store};
use crate::wire::origin_seal::{self, SealError};
use crate::wire::{ForeignRefusal, foreign_from_proto};

/// Lifetime of the tokens a hub issues itself for a peer.
pub const PEER_TOKEN_TTL_SECONDS: i64 = 300;
/// Feed entries per page pulled.
pub const PULL_PAGE_SIZE: i32 = 500;
/// First retry delay after a failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// What the workers need from the hub.
#[derive(Clone)]
pub struct FederationContext {
    pub hub_id: String,
    pub store: Store,
    /// The agreements in force (swapped on reload).
    pub peers: Arc<ArcSwap<Vec<PeerAgreement>>>,
    /// This hub's CA bundle (for peers whose agreement names no CA of their own), its
    /// certificate and key (presented to peers as the client certificate) and its trust domain
    /// (for peers whose agreement names none).
    pub own_tls: OwnTls,
    /// This hub's token key pair.
    pub token_signing_key: PathBuf,
    pub token_public_key: PathBuf,
    /// Pull results, records applied and withheld, per peer when the operator opted in.
    pub metrics: FederationMetrics,
}

/// Why one pull round failed. Messages carry no incident content.
#[derive(Debug, thiserror::Error)]
enum PullError {
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("the peer answered {code:?}: {message}")]
    Rpc { code: tonic::Code, message: String },
    #[error("the peer did not answer within call_timeout_millis ({0} ms)")]
    Timeout(u64),
    #[error("reading this hub's credentials: {0}")]
    Credentials(String),
    #[error("the peer identifies itself as hub '{0}', not the agreement's")]
    WrongPeer(String),
    #[error("storing the page failed: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl From<tonic::Status> for PullError {
    fn from(status: tonic::Status) -> Self {
        PullError::Rpc {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

impl PullError {
    /// The peer refused our cursor: start over.
    fn resync_required(&self) -> bool {
        matches!(self, PullError::Rpc { code, message }
            if *code == tonic::Code::FailedPrecondition && message.contains("resync"))
    }
}

/// A connection to a peer, the token slot its calls carry, and the agreement it was made for.
struct Connection {
    sync: PeerSync,
    bearer: Bearer,
    agreement: PeerAgreement,
}

/// Starts a supervisor that keeps one worker running per pulling agreement (agreements added
/// by a reload get a worker; workers of removed agreements stop by themselves).
pub fn start(context: FederationContext) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut workers = Workers(HashMap::new());
        let mut ticks = tokio::time::interval(Duration::from_millis(500));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            workers.0.retain(|_, handle| !handle.is_finished());
            for agreement in context.peers.load().iter().filter(|peer| peer.pull) {
                if !workers.0.contains_key(&agreement.hub_id) {
                    let handle =
                        tokio::spawn(run_worker(context.clone(), agreement.hub_id.clone()));
                    workers.0.insert(agreement.hub_id.clone(), handle);
                }
            }
        }
    })
}

/// The running workers; aborted with the supervisor (its task dropping this map).
struct Workers(HashMap<String, JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for handle in self.0.values() {
            handle.abort();
        }
    }
}

/// The agreement for `peer` in force now, if it still asks us to pull.
fn current(context: &FederationContext, peer: &str) -> Option<PeerAgreement> {
    context
        .peers
        .load()
        .iter()
        .find(|agreement| agreement.hub_id == peer && agreement.pull)
        .cloned()
}

async fn run_worker(context: FederationContext, peer: String) {
    tracing::info!(peer = %peer, "federation pull worker started");
    let mut client: Option<Connection> = None;
    let mut failures: u32 = 0;
    loop {
        let Some(agreement) = current(&context, &peer) else {
            tracing::info!(peer = %peer, "agreement gone or not pulling; worker stops");
            if failures > 0 {
                // A peer no longer pulled from is no longer failing.
                context.metrics.peers_failing.dec();
                context
                    .metrics
                    .consecutive_failures
                    .get_or_create(&context.metrics.label(&peer))
                    .dec_by(i64::from(failures));
            }
            return;
        };
        // A changed agreement (endpoint, CA) needs a new connection.
        if client
            .as_ref()
            .is_some_and(|used| used.agreement != agreement)
        {
            client = None;
        }
        let metrics = &context.metrics;
        let label = metrics.label(&peer);
        let round = tracing::info_span!(
            "federation.pull",
            otel.kind = "client",
            peer = %peer,
        );
        match pull_round(&context, &agreement, &mut client)
            .instrument(round)
            .await
        {
            Ok(()) => {
                metrics.pulls.get_or_create(&KindLabel { kind: "ok" }).inc();
                metrics.last_success.get_or_create(&label).set(unix_now());
                if failures > 0 {
                    tracing::info!(peer = %peer, failures, "pulling from peer again");
                    metrics.peers_failing.dec();
                    metrics
                        .consecutive_failures
                        .get_or_create(&label)
                        .dec_by(i64::from(failures));
                }
                failures = 0;
                tokio::time::sleep(Duration::from_millis(agreement.pull_interval_millis)).await;
            }
            Err(error) => {
                client = None;
                metrics
                    .pulls
                    .get_or_create(&KindLabel { kind: "failed" })
                    .inc();
                if failures == 0 {
                    metrics.peers_failing.inc();
                }
                metrics.consecutive_failures.get_or_create(&label).inc();
                failures = failures.saturating_add(1);
                let message = error.to_string();
                tracing::warn!(peer = %peer, failures, error = %message, "federation pull failed");
                if let Err(store_error) = context.store.record_peer_failure(&peer, &message).await {
                    tracing::error!(peer = %peer, error = %store_error, "peer status not recorded");
                }
                if error.resync_required() {
                    tracing::warn!(peer = %peer, "peer refused our cursor; pulling from the start");
                    if let Err(store_error) = context.store.reset_peer_cursor(&peer).await {
                        tracing::error!(peer = %peer, error = %store_error, "cursor not reset");
                    }
                }
                tokio::time::sleep(backoff(failures, agreement.max_backoff_millis)).await;
            }
        }
    }
}

/// Exponential backoff with full jitter: a random delay up to min(max, first * 2^failures).
fn backoff(failures: u32, max_millis: u64) -> Duration {
    let first = u64::try_from(FIRST_BACKOFF.as_millis()).unwrap_or(250);
    let ceiling = first
        .saturating_mul(1u64 << failures.min(20))
        .min(max_millis.max(1));
    let random = u64::try_from(uuid::Uuid::new_v4().as_u128() & u128::from(u64::MAX)).unwrap_or(0);
    Duration::from_millis(ceiling / 2 + random % (ceiling / 2 + 1))
}

/// A fresh token for the peer: iss = org = our hub id, aud = the peer.
fn peer_token(context: &FederationContext, peer: &str) -> Result<String, PullError> {
    let private = read_key_file(&context.token_signing_key)
        .map_err(|error| PullError::Credentials(error.to_string()))?;
    let public = read_key_file(&context.token_public_key)
        .map_err(|error| PullError::Credentials(error.to_string()))?;
    let public_bytes = keys::public_key_bytes(&public, "token signing public key")
        .map_err(|error| PullError::Credentials(error.to_string()))?;
    let issuer = TokenIssuer::external(
        &context.hub_id,
        peer,
        &private,
        &keys::key_id(&public_bytes),
    )
    .map_err(|error| PullError::Credentials(error.to_string()))?;
    issuer
        .issue(
            &context.hub_id,
            &format!("hub:{}", context.hub_id),
            &[Role::PeerHub],
            PEER_TOKEN_TTL_SECONDS,
        )
        .map_err(|error| PullError::Credentials(format!("signing the peer token: {error}")))
}

/// Pulls everything the peer has for us now, page by page. Every wait on the peer is bounded:
/// the connection by `connect_timeout_millis`, the call's answer and each page after it by
/// `call_timeout_millis`.
async fn pull_round(
    context: &FederationContext,
    agreement: &PeerAgreement,
    client: &mut Option<Connection>,
) -> Result<(), PullError> {
    let token = peer_token(context, &agreement.hub_id)?;
    let value = bearer_value(&token)
        .ok_or_else(|| PullError::Credentials("the peer token is not a header value".into()))?;
    let connection = match client {
        Some(connection) => {
            *connection
                .bearer
                .0
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = value;
            connection
        }
        None => {
            let bearer = Bearer(Arc::new(std::sync::RwLock::new(value)));
            let sync = channel::connect(&context.own_tls, agreement, bearer.clone()).await?;
            client.insert(Connection {
                sync,
                bearer,
                agreement: agreement.clone(),
            })
        }
    };
    let call_timeout = Duration::from_millis(agreement.call_timeout_millis);
    let cursor = context.store.peer_cursor(&agreement.hub_id).await?;
    let mut request = tonic::Request::new(pb::PullRequest {
        cursor,
        filter: Some(pb::SyncFilter::default()),
        page_size: PULL_PAGE_SIZE,
    });
    request.set_timeout(call_timeout);
    // The peer's span of this Pull joins the round's trace.
    crate::telemetry::inject(&tracing::Span::current(), request.metadata_mut());
    let timed_out = |_| PullError::Timeout(agreement.call_timeout_millis);
    let mut stream = tokio::time::timeout(call_timeout, connection.sync.pull(request))
        .await
        .map_err(timed_out)??
        .into_inner();
    while let Some(message) = tokio::time::timeout(call_timeout, stream.next())
        .await
        .map_err(timed_out)?
    {
        let message = message?;
        if let Some(feed) = &message.feed
            && feed.hub_id != agreement.hub_id
        {
            return Err(PullError::WrongPeer(feed.hub_id.clone()));
        }
        apply_page(context, agreement, &message).await?;
    }
    Ok(())
}

/// Verifies a peer's advisory against its origin's key. Advisories are not stored by a pulling
/// hub yet (each counts as withheld), so this only tells a forged one apart in the log.
fn check_advisory(agreement: &PeerAgreement, keys: &mut OriginKeys<'_>, advisory: &pb::Advisory) {
    if !crate::identity::peer::is_valid_id(&advisory.origin_hub) {
        tracing::warn!(peer = %agreement.hub_id, "advisory from peer refused: its origin hub is not a hub id");
        return;
    }
    let verified = match keys.key(&advisory.origin_hub) {
        Some(key) => origin_seal::verify_advisory(advisory, &key),
        None => Err(SealError::UnknownOrigin(advisory.origin_hub.clone())),
    };
    match verified {
        Ok(()) => {
            tracing::debug!(peer = %agreement.hub_id, "advisory verified; not stored (advisories do not federate yet)");
        }
        Err(error) => {
            tracing::warn!(peer = %agreement.hub_id, origin = %advisory.origin_hub, reason = %error, "advisory from peer refused: origin signature");
        }
    }
}

/// Decodes one page and applies it with its cursor.
async fn apply_page(
    context: &FederationContext,
    agreement: &PeerAgreement,
    message: &pb::PullResponse,
) -> Result<(), PullError> {
    let now = OffsetDateTime::now_utc();
    let mut changes = Vec::with_capacity(message.changes.len());
    let mut withheld = 0u64;
    let agreements = context.peers.load();
    let mut keys = OriginKeys::new(&agreements);
    for change in &message.changes {
        match pb::ChangeType::try_from(change.r#type) {
            Ok(pb::ChangeType::Upsert | pb::ChangeType::Retract) => {
                let Some(incident) = &change.incident else {
                    if let Some(advisory) = &change.advisory {
                        check_advisory(agreement, &mut keys, advisory);
                    }
                    withheld += 1;
                    continue;
                };
                // A peer's string is never logged before it is checked.
                if !crate::identity::peer::is_valid_id(&incident.origin_hub) {
                    withheld += 1;
                    tracing::warn!(peer = %agreement.hub_id, "record from peer withheld: its origin hub is not a hub id");
                    continue;
                }
                // Before anything else: only what its origin signed is applied.
                let seal = match keys.key(&incident.origin_hub) {
                    Some(key) => origin_seal::verify_incident(incident, &key),
                    None => Err(SealError::UnknownOrigin(incident.origin_hub.clone())),
                };
                let seal = match seal {
                    Ok(seal) => seal,
                    Err(error) => {
                        withheld += 1;
                        tracing::warn!(peer = %agreement.hub_id, origin = %incident.origin_hub, reason = %error, "record from peer withheld: origin signature");
                        continue;
                    }
                };
                match foreign_from_proto(incident, &agreement.hub_id, agreement.transitive, now) {
                    Ok(mut foreign) => {
                        let scrubbed = anonymise::scrub_foreign(&mut foreign).total();
                        if scrubbed > 0 {
                            // A count only: never the text. What we scrubbed is kept scrubbed
                            // and not relayed: the signed rendering still holds it, and we
                            // neither store nor pass on what our own standard removes.
                            tracing::warn!(peer = %agreement.hub_id, scrubbed, "personal data scrubbed from a peer's incident; this copy is not relayed");
                        } else if let Some(received) = foreign.received.as_mut() {
                            received.seal = Some(seal);
                        }
                        changes.push(FederatedChange::Upsert(Box::new(foreign)));
                    }
                    Err(refusal) => {
                        withheld += 1;
                        let reason = match &refusal {
                            ForeignRefusal::Invalid(fields) => fields.join("; "),
                            ForeignRefusal::NotFederable(what) => format!("not federable: {what}"),
                        };
                        tracing::warn!(peer = %agreement.hub_id, %reason, "record from peer withheld");
                    }
                }
            }
            Ok(pb::ChangeType::Revoke) => match uuid::Uuid::parse_str(&change.incident_id) {
                Ok(id) => changes.push(FederatedChange::Revoke(id)),
                Err(_) => withheld += 1,
            },
            _ => withheld += 1,
        }
    }
    let stats = context
        .store
        .apply_federated(&FederatedPage {
            local_hub: &context.hub_id,
            peer: &agreement.hub_id,
            changes,
            cursor: &message.cursor,
            // Peers no longer count what remains (a count would reveal invisible changes):
            // 0 once the peer says the pull is complete, 1 before.
            remaining: u64::from(!message.complete),
            withheld,
            rules: &FederationRules,
        })
        .await?;
    let label = context.metrics.label(&agreement.hub_id);
    context
        .metrics
        .records_applied
        .get_or_create(&label)
        .inc_by(stats.applied + stats.revoked);
    context
        .metrics
        .records_withheld
        .get_or_create(&label)
        .inc_by(stats.withheld);
    if stats.applied + stats.revoked + stats.withheld > 0 {
        tracing::debug!(
            peer = %agreement.hub_id,
            applied = stats.applied,
            duplicates = stats.duplicates,
            withheld = stats.withheld,
            revoked = stats.revoked,
            "federation page applied"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        for failures in 1..40 {
            let delay = backoff(failures, 5_000);
            assert!(delay <= Duration::from_millis(5_000));
        }
        assert!(backoff(1, 60_000) <= Duration::from_millis(500));
        assert!(backoff(10, 60_000) >= Duration::from_millis(30_000));
    }
}
