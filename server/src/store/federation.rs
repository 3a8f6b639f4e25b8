//! Foreign copies: applying pages pulled from peer hubs (each with its cursor, in one
//! transaction) and the per-peer pull state. Which copy wins is not decided here: the rules are
//! the federation layer's ([`CopyRules`]), handed in with each page; this file reads the facts
//! they need and carries out what they decide.

use time::OffsetDateTime;
use uuid::Uuid;

use super::changes::{CHANGE_COLUMNS, ChangeKind};
use super::common::{from_sql, now_text, parse_timestamp, to_sql};
use super::db::Tx;
use super::incidents::{NewIncident, RowUpdate, delete_details, insert_incidents, update_row};
use super::{Store, StoreError};
use crate::domain::{Distribution, StoredIncident, Tlp};

/// One change pulled from a peer hub, ready to apply.
#[derive(Debug, Clone)]
pub enum FederatedChange {
    /// A new or newer version (retractions included) of a foreign incident, as we may keep it.
    Upsert(Box<StoredIncident>),
    /// The peer no longer shares this incident with us.
    Revoke(Uuid),
}

/// One page from a peer, applied in one transaction with the cursor after it.
#[derive(Clone)]
pub struct FederatedPage<'a> {
    /// This hub's id: its own incidents coming back are never applied.
    pub local_hub: &'a str,
    pub peer: &'a str,
    pub changes: Vec<FederatedChange>,
    /// The peer's cursor after this page.
    pub cursor: &'a str,
    /// What the peer says remains after this page: 0 when it said the pull is complete (the
    /// feed gives no count of remaining entries, so the worker passes 0 or 1).
    pub remaining: u64,
    /// Records the caller refused before the store saw them (undecodable, not federable).
    pub withheld: u64,
    /// Which copy wins (the federation layer's rules).
    pub rules: &'a dyn CopyRules,
}

/// The row an incoming foreign version would replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExistingCopy<'a> {
    pub origin_hub: &'a str,
    /// The peer we got it from; `None` for a local incident.
    pub received_from: Option<&'a str>,
}

/// Everything the rules look at to decide on one incoming foreign version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyFacts<'a> {
    pub local_hub: &'a str,
    pub peer: &'a str,
    pub incoming_origin_hub: &'a str,
    pub incoming_version: u64,
    /// The row stored under the incoming id, if any.
    pub existing: Option<ExistingCopy<'a>>,
    /// The newest version of (origin hub, id) applied before, if any.
    pub applied_version: Option<u64>,
}

/// What to do with one incoming foreign version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDecision {
    /// Store it (create the copy or replace ours).
    Write,
    /// Already applied, older than what we hold, or another relay's copy: a no-op.
    Duplicate,
    /// Refused by policy (our own incident coming back, an id of another origin).
    Withhold,
}

/// The federation layer's rules for foreign copies (pure: no I/O).
pub trait CopyRules: Sync {
    /// Whether an incoming version is written.
    fn upsert(&self, facts: &CopyFacts<'_>) -> CopyDecision;
    /// Whether `peer` may revoke the stored copy `copy`.
    fn revoke(&self, peer: &str, copy: &ExistingCopy<'_>) -> bool;
}

/// What applying one page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    pub applied: u64,
    /// Versions already applied (or older than what we hold): no-ops.
    pub duplicates: u64,
    /// Refused by policy: our own incidents coming back, ids that belong to another origin.
    pub withheld: u64,
    pub revoked: u64,
}

/// Pull state and status of one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerState {
    pub peer_hub: String,
    pub cursor: String,
    pub last_attempt: Option<OffsetDateTime>,
    pub last_success: Option<OffsetDateTime>,
    pub last_caught_up: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub consecutive_errors: u64,
    pub errors_total: u64,
    pub applied_total: u64,
    pub duplicates_total: u64,
    pub withheld_total: u64,
    pub revoked_total: u64,
    pub lag_changes: u64,
    /// Serving side: incidents the peer pulled past without receiving them (policy).
    pub withheld_egress_total: u64,
}

#[derive(sqlx::FromRow)]
struct PeerStateRow {
    peer_hub: String,
    cursor: String,
    last_attempt: Option<String>,
    last_success: Option<String>,
    last_caught_up: Option<String>,
    last_error: Option<String>,
    consecutive_errors: i64,
    errors_total: i64,
    applied_total: i64,
    duplicates_total: i64,
    withheld_total: i64,
    revoked_total: i64,
    lag_changes: i64,
    withheld_egress_total: i64,
}

impl PeerStateRow {
    fn decode(self) -> Result<PeerState, StoreError> {
        let time = |text: Option<String>| text.as_deref().map(parse_timestamp).transpose();
        Ok(PeerState {
            last_attempt: time(self.last_attempt)?,
            last_success: time(self.last_success)?,
            last_caught_up: time(self.last_caught_up)?,
            peer_hub: self.peer_hub,
            cursor: self.cursor,
            last_error: self.last_error,
            consecutive_errors: from_sql(self.consecutive_errors),
            errors_total: from_sql(self.errors_total),
            applied_total: from_sql(self.applied_total),
            duplicates_total: from_sql(self.duplicates_total),
            withheld_total: from_sql(self.withheld_total),
            revoked_total: from_sql(self.revoked_total),
            lag_changes: from_sql(self.lag_changes),
            withheld_egress_total: from_sql(self.withheld_egress_total),
        })
    }
}

/// The stored row under an incident id, as the rules and the writes need it.
#[derive(sqlx::FromRow)]
struct StoredCopyRow {
    row_id: i64,
    version: i64,
    origin_hub: String,
    received_from: Option<String>,
}

impl StoredCopyRow {
    fn copy(&self) -> ExistingCopy<'_> {
        ExistingCopy {
            origin_hub: &self.origin_hub,
            received_from: self.received_from.as_deref(),
        }
    }
}

impl Store {
    /// Applies one page pulled from a peer hub and stores the cursor after it, in one
    /// transaction: a crash never loses a change nor applies one twice.
    #[tracing::instrument(name = "store.apply_federated", skip_all)]
    pub async fn apply_federated(
        &self,
        page: &FederatedPage<'_>,
    ) -> Result<ApplyStats, StoreError> {
        self.retrying(|| self.apply_federated_once(page)).await
    }

    async fn apply_federated_once(
        &self,
        page: &FederatedPage<'_>,
    ) -> Result<ApplyStats, StoreError> {
        let mut stats = ApplyStats {
            withheld: page.withheld,
            ..ApplyStats::default()
        };
        let mut tx = self.db.begin_write().await?;
        for change in &page.changes {
            match change {
                FederatedChange::Upsert(incident) => {
                    match apply_foreign(&mut tx, page, incident, self.record_keys.as_deref())
                        .await?
                    {
                        CopyDecision::Write => stats.applied += 1,
                        CopyDecision::Duplicate => stats.duplicates += 1,
                        CopyDecision::Withhold => stats.withheld += 1,
                    }
                }
                FederatedChange::Revoke(id) => {
                    if revoke_foreign(&mut tx, page, *id).await? {
                        stats.revoked += 1;
                    }
                }
            }
        }
        record_pull(&mut tx, page, &stats).await?;
        let wrote = stats.applied + stats.revoked > 0;
        if wrote {
            tx.notify_changes().await?;
        }
        tx.commit().await?;
        if wrote {
            self.notify_change();
        }
        Ok(stats)
    }

    /// The cursor to pull `peer` from ("" for the beginning).
    #[tracing::instrument(name = "store.peer_cursor", skip_all)]
    pub async fn peer_cursor(&self, peer: &str) -> Result<String, StoreError> {
        let sql = self
            .db
            .sql("SELECT cursor FROM peer_state WHERE peer_hub = $1")
            .arg(peer);
        let cursor: Option<(String,)> = self.db.run().fetch_optional(sql).await?;
        Ok(cursor.map(|(cursor,)| cursor).unwrap_or_default())
    }

    /// Records a failed pull from `peer` (the message names no incident content).
    pub async fn record_peer_failure(&self, peer: &str, error: &str) -> Result<(), StoreError> {
        let sql = self
            .db
            .sql(
                "INSERT INTO peer_state (peer_hub, last_attempt, last_error, consecutive_errors, \
                 errors_total) VALUES ($1, $2, $3, 1, 1) ON CONFLICT (peer_hub) DO UPDATE SET \
                 last_attempt = excluded.last_attempt, last_error = excluded.last_error, \
                 consecutive_errors = peer_state.consecutive_errors + 1, \
                 errors_total = peer_state.errors_total + 1",
            )
            .arg(peer)
            .arg(now_text()?)
            .arg(error);
        self.db.run().execute(sql).await?;
        Ok(())
    }

    /// Adds to the count of incidents `peer` pulled past without receiving (serving side).
    pub async fn record_peer_withheld(&self, peer: &str, count: u64) -> Result<(), StoreError> {
        let sql = self
            .db
            .sql(
                "INSERT INTO peer_state (peer_hub, withheld_egress_total) VALUES ($1, $2) \
                 ON CONFLICT (peer_hub) DO UPDATE SET withheld_egress_total = \
                 peer_state.withheld_egress_total + excluded.withheld_egress_total",
            )
            .arg(peer)
            .arg(to_sql(count));
        self.db.run().execute(sql).await?;
        Ok(())
    }

    /// Forgets the cursor of `peer` (it refused it: resync from the start; applying is
    /// idempotent, so this re-applies nothing).
    pub async fn reset_peer_cursor(&self, peer: &str) -> Result<(), StoreError> {
        let sql = self
            .db
            .sql("UPDATE peer_state SET cursor = '' WHERE peer_hub = $1")
            .arg(peer);
        self.db.run().execute(sql).await?;
        Ok(())
    }

    /// The pull state of every peer this hub has pulled from.
    pub async fn peer_states(&self) -> Result<Vec<PeerState>, StoreError> {
        let sql = self.db.sql("SELECT * FROM peer_state ORDER BY peer_hub");
        let rows: Vec<PeerStateRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(PeerStateRow::decode).collect()
    }
}

async fn stored_copy(tx: &mut Tx, id: &str) -> Result<Option<StoredCopyRow>, StoreError> {
    let sql = tx
        .sql("SELECT row_id, version, origin_hub, received_from FROM incidents WHERE id = $1")
        .arg(id);
    tx.run().fetch_optional(sql).await
}

/// Applies one foreign incident version as the rules decide.
async fn apply_foreign(
    tx: &mut Tx,
    page: &FederatedPage<'_>,
    incident: &StoredIncident,
    record_keys: Option<&crate::policy::cell_key::RecordKeys>,
) -> Result<CopyDecision, StoreError> {
    let id = incident.id.to_string();
    let existing = stored_copy(tx, &id).await?;
    let sql = tx
        .sql("SELECT version FROM federation_applied WHERE origin_hub = $1 AND incident_id = $2")
        .arg(&incident.origin_hub)
        .arg(&id);
    let applied: Option<(i64,)> = tx.run().fetch_optional(sql).await?;
    let decision = page.rules.upsert(&CopyFacts {
        local_hub: page.local_hub,
        peer: page.peer,
        incoming_origin_hub: &incident.origin_hub,
        incoming_version: incident.version,
        existing: existing.as_ref().map(StoredCopyRow::copy),
        applied_version: applied.map(|(version,)| from_sql(version)),
    });
    if decision != CopyDecision::Write {
        return Ok(decision);
    }
    let kind = if incident.is_retracted() {
        ChangeKind::Retract
    } else if existing.is_some() {
        ChangeKind::Amend
    } else {
        ChangeKind::Create
    };
    match existing {
        Some(row) => {
            update_row(tx, row.row_id, incident, RowUpdate::Foreign).await?;
            super::changes::insert_changes(tx, &[(incident, None)], kind, false).await?;
        }
        None => {
            let item = NewIncident {
                incident: incident.clone(),
                submit_hash: format!("federated:{}", incident.origin_hub),
                group_members: None,
            };
            insert_incidents(tx, &[&item], record_keys).await?;
            if kind == ChangeKind::Retract {
                // A copy first seen retracted: its one change-log row says so.
                let sql = tx
                    .sql("UPDATE change_log SET kind = $1 WHERE seq = (SELECT max(seq) FROM change_log)")
                    .arg(kind.as_str());
                tx.run().execute(sql).await?;
            }
        }
    }
    mark_applied(
        tx,
        &incident.origin_hub,
        &id,
        to_sql(incident.version),
        false,
    )
    .await?;
    Ok(CopyDecision::Write)
}

/// Removes a foreign copy the peer no longer shares with us, when the rules allow. The deletion
/// is a change-log entry of its own (nobody can see the incident after it), so local mirrors
/// and our own peers get a REVOKE in turn.
async fn revoke_foreign(
    tx: &mut Tx,
    page: &FederatedPage<'_>,
    id: Uuid,
) -> Result<bool, StoreError> {
    let text = id.to_string();
    let Some(row) = stored_copy(tx, &text).await? else {
        return Ok(false);
    };
    if !page.rules.revoke(page.peer, &row.copy()) {
        return Ok(false);
    }
    delete_details(tx, row.row_id).await?;
    let sql = tx
        .sql("DELETE FROM incident_private WHERE incident_id = $1")
        .arg(&text);
    tx.run().execute(sql).await?;
    let sql = tx
        .sql("DELETE FROM incidents WHERE row_id = $1")
        .arg(row.row_id);
    tx.run().execute(sql).await?;
    let sql = tx
        .sql(&format!(
            "INSERT INTO change_log ({CHANGE_COLUMNS}) \
             VALUES ($1, $2, $3, '', $4, $5, NULL, NULL, $6, TRUE, $7, 'INCIDENT', NULL, NULL)"
        ))
        .arg(&text)
        .arg(row.version)
        .arg(ChangeKind::Access.as_str())
        .arg(&row.origin_hub)
        .arg(Distribution::OrgOnly.as_str())
        .arg(Tlp::Red.as_str())
        .arg(now_text()?);
    tx.run().execute(sql).await?;
    mark_applied(tx, &row.origin_hub, &text, row.version, true).await?;
    Ok(true)
}

/// Remembers the newest version applied (or that it was revoked) per (origin hub, id).
async fn mark_applied(
    tx: &mut Tx,
    origin_hub: &str,
    id: &str,
    version: i64,
    revoked: bool,
) -> Result<(), StoreError> {
    let on_conflict = if revoked {
        "revoked = 1"
    } else {
        "version = excluded.version, revoked = 0"
    };
    let sql = tx
        .sql(&format!(
            "INSERT INTO federation_applied (origin_hub, incident_id, version, revoked) \
             VALUES ($1, $2, $3, {}) ON CONFLICT (origin_hub, incident_id) DO UPDATE SET \
             {on_conflict}",
            i32::from(revoked)
        ))
        .arg(origin_hub)
        .arg(id)
        .arg(version);
    tx.run().execute(sql).await?;
    Ok(())
}

/// The peer's state after a page: its cursor, totals, and whether it is caught up.
async fn record_pull(
    tx: &mut Tx,
    page: &FederatedPage<'_>,
    stats: &ApplyStats,
) -> Result<(), StoreError> {
    let now = now_text()?;
    let sql = tx
        .sql(
            "INSERT INTO peer_state (peer_hub, cursor, last_attempt, last_success, last_caught_up, \
             last_error, consecutive_errors, applied_total, duplicates_total, withheld_total, \
             revoked_total, lag_changes) VALUES ($1, $2, $3, $4, $5, NULL, 0, $6, $7, $8, $9, $10) \
             ON CONFLICT (peer_hub) DO UPDATE SET cursor = excluded.cursor, \
             last_attempt = excluded.last_attempt, last_success = excluded.last_success, \
             last_caught_up = coalesce(excluded.last_caught_up, peer_state.last_caught_up), \
             last_error = NULL, consecutive_errors = 0, \
             applied_total = peer_state.applied_total + excluded.applied_total, \
             duplicates_total = peer_state.duplicates_total + excluded.duplicates_total, \
             withheld_total = peer_state.withheld_total + excluded.withheld_total, \
             revoked_total = peer_state.revoked_total + excluded.revoked_total, \
             lag_changes = excluded.lag_changes",
        )
        .arg(page.peer)
        .arg(page.cursor)
        .arg(now.clone())
        .arg(now.clone())
        .arg((page.remaining == 0).then_some(now))
        .arg(to_sql(stats.applied))
        .arg(to_sql(stats.duplicates))
        .arg(to_sql(stats.withheld))
        .arg(to_sql(stats.revoked))
        .arg(to_sql(page.remaining));
    tx.run().execute(sql).await?;
    Ok(())
}
