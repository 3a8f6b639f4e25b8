//! The PostgreSQL backend: the same tables and queries as `sqlite.rs` (keep the two in step),
//! for several stateless hub replicas on one database.
//!
//! Ordering and serialisation (ARCHITECTURE.md, "PostgreSQL and replicas"):
//! - Every writing transaction (submit, update, group membership) takes the hub's **write lock**
//!   (`pg_advisory_xact_lock(WRITE_LOCK)`) as its first statement and holds it until it
//!   commits. A change-log `seq` is drawn from its sequence only under that lock, and PostgreSQL
//!   makes a commit visible before it releases the transaction's locks, so `seq` order is commit
//!   order: a reader can never see seq 11 while seq 10 is still to commit. (A plain BIGSERIAL is
//!   not: two writers draw 10 and 11, 11 commits first, a reader reads up to 11 and skips 10
//!   forever.) Aborted transactions leave gaps, which the feed does not mind.
//! - Every audit append takes the **audit lock** (`AUDIT_LOCK`) first, then reads the chain's
//!   head and appends to it, so the chain stays one line across replicas. Writes take the write
//!   lock before the audit lock, never the other way round, so the two cannot deadlock.
//! - Every writing transaction sends `NOTIFY slt_changes` (delivered at commit); each replica
//!   LISTENs and bumps the same watch its live subscribers wait on. The change log stays the
//!   source of truth: a periodic poll of `max(seq)` covers a lost notification.
//!
//! Tuning rides on the database URL, so `SLT_HUB_DATABASE_URL` sets everything:
//! `postgres://user@host:port/db?pool_max_connections=16&statement_timeout=30s&serialization_retries=5&change_poll_ms=5000`
//! (these four parameters are the hub's; everything else is handed to the driver).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use slt_proto::v1 as pb;

use super::common::{admin1_key, encode_json, parse_uuid, victim_joins};
use super::{
    AdvisoryFilter, ApplyStats, AuditFilter, ChangeKind, ChangeRow, Entity, FederatedChange,
    FederatedPage, ListPage, ListQuery, MAX_ADVISORIES, NewIncident, PeerState, PictureCountRow,
    PictureVictimRow, SharingSnapshot, StoreError, SubmitOutcome, parse_timestamp, timestamp_text,
    version_from_sql, version_to_sql,
};
use crate::audit::AuditEntry;
use crate::domain::{
    AdvisoryContent, AreaLevel, DatePrecision, Distribution, Granularity, IncidentContent, OrgType,
    PictureGroup, PictureQuery, PrivateAnnex, Received, Sex, StaffCategory, StoredAdvisory,
    StoredIncident, Tier, Tlp, Verification, VictimDetail, VictimOutcome, VisibilityScope,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per multi-row INSERT: well under PostgreSQL's 65,535 bind parameters at 21 columns.
const INSERT_CHUNK: usize = 500;

/// Advisory-lock keys (one 64-bit space per database; "SLT" + a number).
const WRITE_LOCK: i64 = 0x534c_5400_0000_0001;
const AUDIT_LOCK: i64 = 0x534c_5400_0000_0002;

/// The LISTEN/NOTIFY channel for "the change log grew".
const CHANGES_CHANNEL: &str = "slt_changes";

/// SQLSTATEs worth retrying the whole transaction for.
const SERIALIZATION_FAILURE: &str = "40001";
const DEADLOCK_DETECTED: &str = "40P01";

const SELECT_INCIDENT: &str = "SELECT i.row_id, i.id, i.version, i.origin_org, i.origin_hub, \
     i.origin_org_type, i.reported_at, i.updated_at, i.retraction_reason, i.content, \
     i.received_from, i.received_tier, p.content AS private_content \
     FROM incidents i LEFT JOIN incident_private p ON p.incident_id = i.id";

/// The hub's own URL parameters (the rest of the URL is the driver's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTuning {
    /// Pooled connections per replica (the LISTEN connection is one of them).
    pub pool_max_connections: u32,
    /// PostgreSQL's `statement_timeout` for every connection (e.g. `30s`, `500ms`).
    pub statement_timeout: String,
    /// How many times a transaction that failed with a serialization failure or a deadlock is
    /// run again before the call fails.
    pub serialization_retries: u32,
    /// How often the change log is polled in case a notification was lost.
    pub change_poll: Duration,
}

impl Default for PgTuning {
    fn default() -> Self {
        PgTuning {
            pool_max_connections: 16,
            statement_timeout: "30s".to_string(),
            serialization_retries: 5,
            change_poll: Duration::from_secs(5),
        }
    }
}

/// Splits the hub's parameters off a `postgres://` URL; returns the driver's URL and them.
pub fn parse_url(url: &str) -> Result<(String, PgTuning), StoreError> {
    let mut tuning = PgTuning::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), tuning));
    };
    let bad = |name: &str, value: &str, expected: &str| {
        StoreError::BadUrl(format!(
            "database URL parameter '{name}={value}': expected {expected}"
        ))
    };
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "pool_max_connections" => {
                tuning.pool_max_connections = value
                    .parse()
                    .ok()
                    .filter(|size| (2..=1000).contains(size))
                    .ok_or_else(|| bad(name, value, "a number from 2 to 1000"))?;
            }
            "statement_timeout" => {
                let valid = !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_alphanumeric())
                    && value.starts_with(|c: char| c.is_ascii_digit());
                if !valid {
                    return Err(bad(
                        name,
                        value,
                        "a PostgreSQL duration such as 30s or 500ms",
                    ));
                }
                tuning.statement_timeout = value.to_string();
            }
            "serialization_retries" => {
                tuning.serialization_retries = value
                    .parse()
                    .ok()
                    .filter(|retries| *retries <= 100)
                    .ok_or_else(|| bad(name, value, "a number from 0 to 100"))?;
            }
            "change_poll_ms" => {
                tuning.change_poll = value
                    .parse()
                    .ok()
                    .filter(|ms| (10..=3_600_000).contains(ms))
                    .map(Duration::from_millis)
                    .ok_or_else(|| bad(name, value, "milliseconds from 10 to 3600000"))?;
            }
            _ => rest.push(pair),
        }
    }
    let driver_url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((driver_url, tuning))
}

/// Aborts the LISTEN task when the last handle to the store goes away.
struct ListenerTask(JoinHandle<()>);

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    log_epoch: String,
    retries: u32,
    /// Bumped after every committed write (ours directly, other replicas' via NOTIFY).
    changes: Arc<watch::Sender<u64>>,
    listener: Arc<ListenerTask>,
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (driver_url, tuning) = parse_url(url)?;
        let options = PgConnectOptions::from_str(&driver_url)?
            .application_name("slt-hub")
            .options([("statement_timeout", tuning.statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(tuning.pool_max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        // sqlx's migrator takes an advisory lock itself: replicas starting together queue.
        MIGRATOR.run(&pool).await?;
        let log_epoch: String =
            sqlx::query_scalar("SELECT value FROM hub_meta WHERE key = 'log_epoch'")
                .fetch_one(&pool)
                .await?;
        let changes = Arc::new(watch::channel(0).0);
        let task = tokio::spawn(listen_for_changes(
            pool.clone(),
            changes.clone(),
            tuning.change_poll,
        ));
        Ok(Self {
            pool,
            log_epoch,
            retries: tuning.serialization_retries,
            changes,
            listener: Arc::new(ListenerTask(task)),
        })
    }

    pub fn log_epoch(&self) -> &str {
        &self.log_epoch
    }

    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn notify_change(&self) {
        bump(&self.changes);
    }

    /// Whether a failed attempt should be run again (serialization failure or deadlock).
    fn should_retry(&self, error: &StoreError, attempt: u32) -> bool {
        attempt < self.retries && is_retryable(error)
    }

    pub async fn max_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM change_log")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, incident_id, kind, entity FROM change_log WHERE seq > $1 ORDER BY seq \
             LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let entity: String = row.try_get("entity")?;
                Ok(ChangeRow {
                    entity: Entity::parse(&entity)
                        .ok_or_else(|| StoreError::Corrupt(format!("change entity '{entity}'")))?,
                    seq: row.try_get("seq")?,
                    incident_id: parse_uuid(row.try_get("incident_id")?)?,
                    kind: ChangeKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("change kind '{kind}'")))?,
                })
            })
            .collect()
    }

    pub async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<StoredIncident>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT_INCIDENT} WHERE i.id = ANY($1)"));
        let rows = sqlx::query(sql)
            .bind(id_list(ids))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_incident).collect()
    }

    pub async fn sharing_history(
        &self,
        entity: Entity,
        ids: &[Uuid],
        up_to: i64,
    ) -> Result<Vec<SharingSnapshot>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT incident_id, origin_org, origin_hub, distribution, sharing_group, \
             group_members, tlp FROM change_log WHERE seq <= $1 AND incident_id = ANY($2) \
             AND entity = $3",
        )
        .bind(up_to)
        .bind(id_list(ids))
        .bind(entity.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut snapshots = Vec::with_capacity(rows.len());
        for row in rows {
            let distribution: String = row.try_get("distribution")?;
            let tlp: String = row.try_get("tlp")?;
            snapshots.push(SharingSnapshot {
                incident_id: parse_uuid(row.try_get("incident_id")?)?,
                origin_org: row.try_get("origin_org")?,
                origin_hub: row.try_get("origin_hub")?,
                distribution: Distribution::parse(&distribution)
                    .ok_or_else(|| StoreError::Corrupt("distribution".into()))?,
                sharing_group: row.try_get("sharing_group")?,
                group_members: row
                    .try_get::<Option<String>, _>("group_members")?
                    .map(|json| serde_json::from_str(&json))
                    .transpose()
                    .map_err(|error| StoreError::Corrupt(format!("group members: {error}")))?,
                tlp: Tlp::parse(&tlp).ok_or_else(|| StoreError::Corrupt("tlp".into()))?,
            });
        }
        Ok(snapshots)
    }

    pub async fn close(&self) {
        // The LISTEN connection is pooled: stop it first, or `close` waits for it forever.
        self.listener.0.abort();
        self.pool.close().await;
    }

    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let mut attempt = 0;
        loop {
            let result = async {
                let mut tx = self.pool.begin_with(BEGIN_LOCKED).await?;
                let seq = append_audit(&mut tx, entry).await?;
                tx.commit().await?;
                Ok(seq)
            }
            .await;
            match result {
                Err(error) if self.should_retry(&error, attempt) => attempt += 1,
                // Whatever went wrong, the record is not written: the call fails closed.
                Err(StoreError::Database(error)) => return Err(audit_error(error)),
                other => return other,
            }
        }
    }

    pub async fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(seq, hash)| (version_from_sql(seq), hash)))
    }

    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<pb::AuditRecord>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT seq, time, hub_id, org, subject, roles, cert_sha256, peer_address, method, \
             request_summary, outcome, records_returned, fields_redacted, policy_version, \
             incident_ids, prev_hash, hash FROM audit_log WHERE seq >= ",
        );
        sql.push_bind(version_to_sql(from_seq));
        let exact = [
            ("org", &filter.org),
            ("subject", &filter.subject),
            ("method", &filter.method),
            ("outcome", &filter.outcome),
        ];
        for (column, value) in exact {
            if let Some(value) = value {
                sql.push(format!(" AND {column} = "));
                sql.push_bind(value.clone());
            }
        }
        if let Some(from) = &filter.from_time {
            sql.push(" AND time >= ");
            sql.push_bind(from.clone());
        }
        if let Some(to) = &filter.to_time {
            sql.push(" AND time <= ");
            sql.push_bind(to.clone());
        }
        if let Some(id) = &filter.incident_id {
            sql.push(
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(incident_ids::jsonb) AS e \
                 WHERE e.value = ",
            );
            sql.push_bind(id.clone());
            sql.push(")");
        }
        sql.push(" ORDER BY seq LIMIT ");
        sql.push_bind(i64::from(limit));
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(decode_audit).collect()
    }

    pub async fn checkpoints(&self) -> Result<Vec<pb::Checkpoint>, StoreError> {
        let rows: Vec<(i64, String, String, String)> =
            sqlx::query_as("SELECT seq, hash, time, signature FROM audit_checkpoints ORDER BY seq")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, hash, time, signature)| pb::Checkpoint {
                seq: version_from_sql(seq),
                hash,
                time,
                signature,
            })
            .collect())
    }

    pub async fn last_checkpoint_seq(&self) -> Result<u64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM audit_checkpoints")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.map(version_from_sql).unwrap_or(0))
    }

    pub async fn add_checkpoint(
        &self,
        seq: u64,
        hash: &str,
        time: &str,
        signature: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(version_to_sql(seq))
        .bind(hash)
        .bind(time)
        .bind(signature)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn record_group_membership(
        &self,
        groups: &[(String, Vec<String>)],
    ) -> Result<u64, StoreError> {
        let mut attempt = 0;
        loop {
            match self.record_group_membership_once(groups).await {
                Err(error) if self.should_retry(&error, attempt) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn record_group_membership_once(
        &self,
        groups: &[(String, Vec<String>)],
    ) -> Result<u64, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let recorded: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM hub_meta WHERE key LIKE 'group-members:%'")
                .fetch_all(&mut *tx)
                .await?;
        let mut current: Vec<(String, String)> = Vec::with_capacity(groups.len());
        for (group, members) in groups {
            let mut members = members.clone();
            members.sort();
            members.dedup();
            current.push((format!("group-members:{group}"), encode_json(&members)?));
        }
        // Groups that are gone have no members any more.
        for (key, _) in &recorded {
            if !current.iter().any(|(known, _)| known == key) {
                current.push((key.clone(), "[]".to_string()));
            }
        }
        let now = timestamp_text(time::OffsetDateTime::now_utc())?;
        let mut appended = 0;
        for (key, members) in &current {
            let before = recorded
                .iter()
                .find(|(known, _)| known == key)
                .map(|(_, v)| v);
            if before == Some(members) {
                continue;
            }
            let group = key.trim_start_matches("group-members:");
            if before.is_some() {
                let result = sqlx::query(
                    "INSERT INTO change_log (incident_id, version, kind, origin_org, origin_hub, \
                     distribution, sharing_group, group_members, tlp, distribution_changed, \
                     recorded_at) \
                     SELECT id, version, 'ACCESS', origin_org, origin_hub, distribution, \
                     sharing_group, $1, tlp, FALSE, $2 FROM incidents \
                     WHERE distribution = 'SHARING_GROUP' AND sharing_group = $3 ORDER BY row_id",
                )
                .bind(members)
                .bind(&now)
                .bind(group)
                .execute(&mut *tx)
                .await?;
                appended += result.rows_affected();
                let result = sqlx::query(
                    "INSERT INTO change_log (incident_id, version, kind, origin_org, origin_hub, \
                     distribution, sharing_group, group_members, tlp, distribution_changed, \
                     recorded_at, entity) \
                     SELECT id, version, 'ACCESS', origin_org, origin_hub, distribution, \
                     sharing_group, $1, tlp, FALSE, $2, 'ADVISORY' FROM advisories \
                     WHERE distribution = 'SHARING_GROUP' AND sharing_group = $3 ORDER BY row_id",
                )
                .bind(members)
                .bind(&now)
                .bind(group)
                .execute(&mut *tx)
                .await?;
                appended += result.rows_affected();
            }
            sqlx::query(
                "INSERT INTO hub_meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(members)
            .execute(&mut *tx)
            .await?;
        }
        if appended > 0 {
            notify_in(&mut tx).await?;
        }
        tx.commit().await?;
        if appended > 0 {
            self.notify_change();
        }
        Ok(appended)
    }

    pub async fn submit(
        &self,
        batch: &[NewIncident],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<SubmitOutcome>, StoreError> {
        let mut attempt = 0;
        loop {
            match self.submit_once(batch, audit).await {
                Err(error) if self.should_retry(&error, attempt) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn submit_once(
        &self,
        batch: &[NewIncident],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<SubmitOutcome>, StoreError> {
        let mut tx = begin_write(&self.pool).await?;

        // What already exists, by id.
        let mut existing: HashMap<Uuid, (String, u64, String)> = HashMap::new();
        {
            let ids: Vec<Uuid> = batch.iter().map(|item| item.incident.id).collect();
            let rows = sqlx::query(
                "SELECT id, submit_hash, version, origin_org FROM incidents WHERE id = ANY($1)",
            )
            .bind(id_list(&ids))
            .fetch_all(&mut *tx)
            .await?;
            for row in rows {
                let id = parse_uuid(row.try_get("id")?)?;
                existing.insert(
                    id,
                    (
                        row.try_get("submit_hash")?,
                        version_from_sql(row.try_get("version")?),
                        row.try_get("origin_org")?,
                    ),
                );
            }
        }

        let mut outcomes = Vec::with_capacity(batch.len());
        let mut to_create: Vec<&NewIncident> = Vec::new();
        for item in batch {
            let incident = &item.incident;
            let outcome = match existing.get(&incident.id) {
                Some((hash, version, org))
                    if *hash == item.submit_hash && *org == incident.origin_org =>
                {
                    SubmitOutcome::Unchanged { version: *version }
                }
                Some((_, version, org)) => SubmitOutcome::Conflict {
                    existing_version: *version,
                    existing_org: org.clone(),
                },
                None => {
                    // Later duplicates of this id within the same batch compare against it.
                    existing.insert(
                        incident.id,
                        (item.submit_hash.clone(), 1, incident.origin_org.clone()),
                    );
                    to_create.push(item);
                    SubmitOutcome::Created
                }
            };
            outcomes.push(outcome);
        }

        for chunk in to_create.chunks(INSERT_CHUNK) {
            insert_incidents(&mut tx, chunk).await?;
        }
        if !to_create.is_empty() {
            notify_in(&mut tx).await?;
        }
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await.map_err(audit_failure)?;
        }
        tx.commit().await?;
        if !to_create.is_empty() {
            self.notify_change();
        }
        Ok(outcomes)
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<StoredIncident>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT_INCIDENT} WHERE i.id = $1"));
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode_incident(&row)).transpose()
    }

    pub async fn list(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(SELECT_INCIDENT);
        sql.push(" WHERE i.row_id > ");
        sql.push_bind(query.after.unwrap_or(0));

        push_scope(&mut sql, query.scope);

        let filter = query.filter;
        push_in(&mut sql, "i.country", filter.countries.iter().cloned());
        push_in(&mut sql, "i.admin1_key", filter.admin1.iter().cloned());
        // Dates compare at the precision the viewer is shown, never finer.
        let scope = query.scope;
        for (bound, operator) in [(filter.occurred_from, " >= "), (filter.occurred_to, " <= ")] {
            let Some(bound) = bound else { continue };
            sql.push(" AND (CASE WHEN i.received_from IS NULL AND i.origin_org = ");
            sql.push_bind(scope.own_org.clone().unwrap_or_default());
            sql.push(format!(
                " THEN {} ELSE {} END){operator}",
                date_column(scope.own_date_precision),
                date_column(scope.others_date_precision)
            ));
            sql.push_bind(bound.to_string());
        }
        push_in(
            &mut sql,
            "i.threat_category",
            filter
                .threat_categories
                .iter()
                .map(|c| c.as_str().to_string()),
        );
        if filter.verifications.is_empty() {
            sql.push(" AND i.verification <> ");
            sql.push_bind(Verification::Retracted.as_str());
        } else {
            push_in(
                &mut sql,
                "i.verification",
                filter.verifications.iter().map(|v| v.as_str().to_string()),
            );
        }
        push_in(&mut sql, "i.origin_org", filter.origin_orgs.iter().cloned());
        if !filter.origin_orgs.is_empty() && !scope.others_origin_visible {
            // The origin of other orgs' incidents is above this viewer's tier: filtering on it
            // may only ever match the viewer's own incidents.
            sql.push(" AND i.received_from IS NULL AND i.origin_org = ");
            sql.push_bind(scope.own_org.clone().unwrap_or_default());
        }
        if !filter.incident_types.is_empty() {
            sql.push(
                " AND i.row_id IN (SELECT incident_row FROM incident_types WHERE incident_type IN (",
            );
            let mut list = sql.separated(", ");
            for kind in &filter.incident_types {
                list.push_bind(kind.as_str());
            }
            sql.push("))");
        }
        sql.push(" ORDER BY i.row_id LIMIT ");
        // One extra row tells whether another page follows.
        sql.push_bind(i64::from(query.limit) + 1);

        let rows = sql.build().fetch_all(&self.pool).await?;
        let more = rows.len() > query.limit as usize;
        let rows = rows
            .iter()
            .take(query.limit as usize)
            .map(|row| Ok((row.try_get::<i64, _>("row_id")?, decode_incident(row)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ListPage { rows, more })
    }

    pub async fn update(
        &self,
        incident: &StoredIncident,
        expected_version: u64,
        kind: ChangeKind,
        group_members: Option<Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .update_once(
                    incident,
                    expected_version,
                    kind,
                    group_members.as_ref(),
                    audit,
                )
                .await;
            match result {
                Err(error) if self.should_retry(&error, attempt) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn update_once(
        &self,
        incident: &StoredIncident,
        expected_version: u64,
        kind: ChangeKind,
        group_members: Option<&Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let current = sqlx::query(
            "SELECT row_id, version, distribution, sharing_group FROM incidents WHERE id = $1",
        )
        .bind(incident.id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let row_id: i64 = current.try_get("row_id")?;
        let current_version = version_from_sql(current.try_get("version")?);
        if current_version != expected_version {
            return Err(StoreError::VersionMismatch {
                current: current_version,
            });
        }
        let old_distribution: String = current.try_get("distribution")?;
        let old_group: Option<String> = current.try_get("sharing_group")?;
        let content = &incident.content;
        let distribution_changed =
            old_distribution != content.distribution.as_str() || old_group != content.sharing_group;

        sqlx::query(
            "UPDATE incidents SET version = $1, updated_at = $2, country = $3, admin1_key = $4, \
             occurred_on = $5, occurred_week = $6, occurred_month = $7, occurred_year = $8, \
             threat_category = $9, verification = $10, distribution = $11, sharing_group = $12, \
             tlp = $13, retraction_reason = $14, content = $15 WHERE row_id = $16",
        )
        .bind(version_to_sql(incident.version))
        .bind(timestamp_text(incident.updated_at)?)
        .bind(&content.country)
        .bind(admin1_key(content))
        .bind(content.occurred_on.to_string())
        .bind(content.date_at(DatePrecision::Week).to_string())
        .bind(content.date_at(DatePrecision::Month).to_string())
        .bind(content.date_at(DatePrecision::Year).to_string())
        .bind(content.threat_category.as_str())
        .bind(content.verification.as_str())
        .bind(content.distribution.as_str())
        .bind(&content.sharing_group)
        .bind(content.tlp.as_str())
        .bind(&incident.retraction_reason)
        .bind(encode_json(content)?)
        .bind(row_id)
        .execute(&mut *tx)
        .await?;

        sqlx::query("DELETE FROM incident_types WHERE incident_row = $1")
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        insert_types(&mut tx, &[(row_id, incident)]).await?;
        sqlx::query("DELETE FROM incident_victims WHERE incident_row = $1")
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        insert_victims(&mut tx, &[(row_id, incident)]).await?;

        sqlx::query("DELETE FROM incident_private WHERE incident_id = $1")
            .bind(incident.id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_private(&mut tx, &[incident]).await?;

        insert_changes(
            &mut tx,
            &[(incident, group_members)],
            kind,
            distribution_changed,
        )
        .await?;
        notify_in(&mut tx).await?;
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await.map_err(audit_failure)?;
        }
        tx.commit().await?;
        self.notify_change();
        Ok(())
    }
}

/// Federation: applying what peers send, and their pull state (as in `sqlite.rs`).
impl PostgresStore {
    pub async fn apply_federated(
        &self,
        page: &FederatedPage<'_>,
    ) -> Result<ApplyStats, StoreError> {
        let mut attempt = 0;
        loop {
            match self.apply_federated_once(page).await {
                Err(error) if self.should_retry(&error, attempt) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn apply_federated_once(
        &self,
        page: &FederatedPage<'_>,
    ) -> Result<ApplyStats, StoreError> {
        let mut stats = ApplyStats {
            withheld: page.withheld,
            ..ApplyStats::default()
        };
        let mut wrote = false;
        let mut tx = begin_write(&self.pool).await?;
        for change in &page.changes {
            match change {
                FederatedChange::Upsert(incident) => {
                    match apply_foreign(&mut tx, page.local_hub, page.peer, incident).await? {
                        Applied::Written => {
                            stats.applied += 1;
                            wrote = true;
                        }
                        Applied::Duplicate => stats.duplicates += 1,
                        Applied::Withheld => stats.withheld += 1,
                    }
                }
                FederatedChange::Revoke(id) => {
                    if revoke_foreign(&mut tx, page.peer, *id).await? {
                        stats.revoked += 1;
                        wrote = true;
                    }
                }
            }
        }
        let now = timestamp_text(time::OffsetDateTime::now_utc())?;
        sqlx::query(
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
        .bind(page.peer)
        .bind(page.cursor)
        .bind(&now)
        .bind(&now)
        .bind((page.remaining == 0).then_some(now.clone()))
        .bind(count_to_sql(stats.applied))
        .bind(count_to_sql(stats.duplicates))
        .bind(count_to_sql(stats.withheld))
        .bind(count_to_sql(stats.revoked))
        .bind(count_to_sql(page.remaining))
        .execute(&mut *tx)
        .await?;
        if wrote {
            notify_in(&mut tx).await?;
        }
        tx.commit().await?;
        if wrote {
            self.notify_change();
        }
        Ok(stats)
    }

    pub async fn peer_cursor(&self, peer: &str) -> Result<String, StoreError> {
        let cursor: Option<String> =
            sqlx::query_scalar("SELECT cursor FROM peer_state WHERE peer_hub = $1")
                .bind(peer)
                .fetch_optional(&self.pool)
                .await?;
        Ok(cursor.unwrap_or_default())
    }

    pub async fn record_peer_failure(&self, peer: &str, error: &str) -> Result<(), StoreError> {
        let now = timestamp_text(time::OffsetDateTime::now_utc())?;
        sqlx::query(
            "INSERT INTO peer_state (peer_hub, last_attempt, last_error, consecutive_errors, \
             errors_total) VALUES ($1, $2, $3, 1, 1) ON CONFLICT (peer_hub) DO UPDATE SET \
             last_attempt = excluded.last_attempt, last_error = excluded.last_error, \
             consecutive_errors = peer_state.consecutive_errors + 1, \
             errors_total = peer_state.errors_total + 1",
        )
        .bind(peer)
        .bind(now)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn record_peer_withheld(&self, peer: &str, count: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO peer_state (peer_hub, withheld_egress_total) VALUES ($1, $2) \
             ON CONFLICT (peer_hub) DO UPDATE SET \
             withheld_egress_total = peer_state.withheld_egress_total + excluded.withheld_egress_total",
        )
        .bind(peer)
        .bind(count_to_sql(count))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn reset_peer_cursor(&self, peer: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE peer_state SET cursor = '' WHERE peer_hub = $1")
            .bind(peer)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn peer_states(&self) -> Result<Vec<PeerState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM peer_state ORDER BY peer_hub")
            .fetch_all(&self.pool)
            .await?;
        let time =
            |row: &PgRow, column: &str| -> Result<Option<time::OffsetDateTime>, StoreError> {
                row.try_get::<Option<String>, _>(column)?
                    .map(|text| parse_timestamp(&text))
                    .transpose()
            };
        let count = |row: &PgRow, column: &str| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
        };
        rows.iter()
            .map(|row| {
                Ok(PeerState {
                    peer_hub: row.try_get("peer_hub")?,
                    cursor: row.try_get("cursor")?,
                    last_attempt: time(row, "last_attempt")?,
                    last_success: time(row, "last_success")?,
                    last_caught_up: time(row, "last_caught_up")?,
                    last_error: row.try_get("last_error")?,
                    consecutive_errors: count(row, "consecutive_errors")?,
                    errors_total: count(row, "errors_total")?,
                    applied_total: count(row, "applied_total")?,
                    duplicates_total: count(row, "duplicates_total")?,
                    withheld_total: count(row, "withheld_total")?,
                    revoked_total: count(row, "revoked_total")?,
                    lag_changes: count(row, "lag_changes")?,
                    withheld_egress_total: count(row, "withheld_egress_total")?,
                })
            })
            .collect()
    }

    pub async fn change_counts(&self) -> Result<Vec<(Uuid, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT incident_id, count(*) AS n FROM change_log GROUP BY incident_id ORDER BY incident_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_uuid(row.try_get("incident_id")?)?,
                    u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                ))
            })
            .collect()
    }
}

enum Applied {
    Written,
    Duplicate,
    Withheld,
}

fn count_to_sql(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Applies one foreign incident version (the rules of `sqlite.rs`'s twin).
async fn apply_foreign(
    tx: &mut Transaction<'static, Postgres>,
    local_hub: &str,
    peer: &str,
    incident: &StoredIncident,
) -> Result<Applied, StoreError> {
    if incident.origin_hub == local_hub || incident.origin_hub.is_empty() {
        return Ok(Applied::Withheld);
    }
    let id = incident.id.to_string();
    let existing =
        sqlx::query("SELECT row_id, origin_hub, received_from FROM incidents WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await?;
    let existing_row = match &existing {
        Some(row) => {
            let origin_hub: String = row.try_get("origin_hub")?;
            let received_from: Option<String> = row.try_get("received_from")?;
            let Some(received_from) = received_from else {
                return Ok(Applied::Withheld);
            };
            if origin_hub != incident.origin_hub {
                return Ok(Applied::Withheld);
            }
            if received_from != peer && incident.origin_hub != peer {
                return Ok(Applied::Duplicate);
            }
            Some(row.try_get::<i64, _>("row_id")?)
        }
        None => None,
    };
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM federation_applied WHERE origin_hub = $1 AND incident_id = $2",
    )
    .bind(&incident.origin_hub)
    .bind(&id)
    .fetch_optional(&mut **tx)
    .await?;
    if applied.is_some_and(|version| version_from_sql(version) >= incident.version) {
        return Ok(Applied::Duplicate);
    }
    let kind = if incident.is_retracted() {
        ChangeKind::Retract
    } else if existing_row.is_some() {
        ChangeKind::Amend
    } else {
        ChangeKind::Create
    };
    match existing_row {
        Some(row_id) => {
            let content = &incident.content;
            let received = incident
                .received
                .as_ref()
                .ok_or_else(|| StoreError::Corrupt("foreign incident without origin".into()))?;
            sqlx::query(
                "UPDATE incidents SET version = $1, origin_org = $2, origin_org_type = $3, \
                 reported_at = $4, updated_at = $5, country = $6, admin1_key = $7, \
                 occurred_on = $8, occurred_week = $9, occurred_month = $10, occurred_year = $11, \
                 threat_category = $12, verification = $13, distribution = $14, \
                 sharing_group = $15, tlp = $16, retraction_reason = $17, content = $18, \
                 received_from = $19, received_tier = $20 WHERE row_id = $21",
            )
            .bind(version_to_sql(incident.version))
            .bind(&incident.origin_org)
            .bind(incident.origin_org_type.as_str())
            .bind(timestamp_text(incident.reported_at)?)
            .bind(timestamp_text(incident.updated_at)?)
            .bind(&content.country)
            .bind(admin1_key(content))
            .bind(content.occurred_on.to_string())
            .bind(content.date_at(DatePrecision::Week).to_string())
            .bind(content.date_at(DatePrecision::Month).to_string())
            .bind(content.date_at(DatePrecision::Year).to_string())
            .bind(content.threat_category.as_str())
            .bind(content.verification.as_str())
            .bind(content.distribution.as_str())
            .bind(&content.sharing_group)
            .bind(content.tlp.as_str())
            .bind(&incident.retraction_reason)
            .bind(encode_json(content)?)
            .bind(&received.from_hub)
            .bind(received.tier.as_str())
            .bind(row_id)
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM incident_types WHERE incident_row = $1")
                .bind(row_id)
                .execute(&mut **tx)
                .await?;
            insert_types(tx, &[(row_id, incident)]).await?;
            sqlx::query("DELETE FROM incident_victims WHERE incident_row = $1")
                .bind(row_id)
                .execute(&mut **tx)
                .await?;
            insert_victims(tx, &[(row_id, incident)]).await?;
            insert_changes(tx, &[(incident, None)], kind, false).await?;
        }
        None => {
            let item = NewIncident {
                incident: incident.clone(),
                submit_hash: format!("federated:{}", incident.origin_hub),
                group_members: None,
            };
            insert_incidents(tx, &[&item]).await?;
            if kind == ChangeKind::Retract {
                sqlx::query(
                    "UPDATE change_log SET kind = $1 WHERE seq = (SELECT max(seq) FROM change_log)",
                )
                .bind(kind.as_str())
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    sqlx::query(
        "INSERT INTO federation_applied (origin_hub, incident_id, version, revoked) \
         VALUES ($1, $2, $3, 0) ON CONFLICT (origin_hub, incident_id) DO UPDATE SET \
         version = excluded.version, revoked = 0",
    )
    .bind(&incident.origin_hub)
    .bind(&id)
    .bind(version_to_sql(incident.version))
    .execute(&mut **tx)
    .await?;
    Ok(Applied::Written)
}

/// Removes a foreign copy the peer no longer shares with us (the rules of `sqlite.rs`'s twin).
async fn revoke_foreign(
    tx: &mut Transaction<'static, Postgres>,
    peer: &str,
    id: Uuid,
) -> Result<bool, StoreError> {
    let text = id.to_string();
    let Some(row) = sqlx::query(
        "SELECT row_id, version, origin_hub, received_from FROM incidents WHERE id = $1",
    )
    .bind(&text)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(false);
    };
    let origin_hub: String = row.try_get("origin_hub")?;
    let received_from: Option<String> = row.try_get("received_from")?;
    let Some(received_from) = received_from else {
        return Ok(false);
    };
    if received_from != peer && origin_hub != peer {
        return Ok(false);
    }
    let row_id: i64 = row.try_get("row_id")?;
    let version: i64 = row.try_get("version")?;
    sqlx::query("DELETE FROM incident_types WHERE incident_row = $1")
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incident_victims WHERE incident_row = $1")
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incident_private WHERE incident_id = $1")
        .bind(&text)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incidents WHERE row_id = $1")
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO change_log (incident_id, version, kind, origin_org, origin_hub, \
         distribution, sharing_group, group_members, tlp, distribution_changed, recorded_at) \
         VALUES ($1, $2, $3, '', $4, $5, NULL, NULL, $6, TRUE, $7)",
    )
    .bind(&text)
    .bind(version)
    .bind(ChangeKind::Access.as_str())
    .bind(&origin_hub)
    .bind(Distribution::OrgOnly.as_str())
    .bind(Tlp::Red.as_str())
    .bind(timestamp_text(time::OffsetDateTime::now_utc())?)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO federation_applied (origin_hub, incident_id, version, revoked) \
         VALUES ($1, $2, $3, 1) ON CONFLICT (origin_hub, incident_id) DO UPDATE SET revoked = 1",
    )
    .bind(&origin_hub)
    .bind(&text)
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

fn bump(changes: &watch::Sender<u64>) {
    changes.send_modify(|count| *count = count.wrapping_add(1));
}

/// Wakes this replica's live subscribers whenever any replica commits a change: on each
/// NOTIFY, after a reconnect of the LISTEN connection (notifications may have been lost while
/// it was down), and when a periodic look at the change log finds it grew (the fallback for a
/// lost notification). Runs until the store is closed or dropped.
async fn listen_for_changes(pool: PgPool, changes: Arc<watch::Sender<u64>>, poll: Duration) {
    let mut last_seen: i64 = 0;
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'connect: loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(%error, "LISTEN connection failed; polling the change log");
                ticks.tick().await;
                poll_change_log(&pool, &changes, &mut last_seen).await;
                continue 'connect;
            }
        };
        if let Err(error) = listener.listen(CHANGES_CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; polling the change log");
            ticks.tick().await;
            poll_change_log(&pool, &changes, &mut last_seen).await;
            continue 'connect;
        }
        // Anything committed while we were not listening.
        bump(&changes);
        loop {
            tokio::select! {
                notification = listener.try_recv() => match notification {
                    Ok(Some(_)) => bump(&changes),
                    // The connection dropped and was re-established: we may have missed some.
                    Ok(None) => bump(&changes),
                    Err(error) => {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                        bump(&changes);
                        continue 'connect;
                    }
                },
                _ = ticks.tick() => poll_change_log(&pool, &changes, &mut last_seen).await,
            }
        }
    }
}

async fn poll_change_log(pool: &PgPool, changes: &watch::Sender<u64>, last_seen: &mut i64) {
    let seq: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT max(seq) FROM change_log")
            .fetch_one(pool)
            .await;
    match seq {
        Ok(seq) => {
            let seq = seq.unwrap_or(0);
            if seq > *last_seen {
                *last_seen = seq;
                bump(changes);
            }
        }
        Err(error) => tracing::warn!(%error, "polling the change log failed"),
    }
}

/// `BEGIN` for every transaction that takes an advisory lock. The schemes above need READ
/// COMMITTED whatever the database's or the URL's default isolation: each statement after the
/// lock must see what committed before the lock was granted. Under REPEATABLE READ or
/// SERIALIZABLE the snapshot is taken by the lock statement itself, before the wait, so the
/// idempotency check, the version check and the audit head would read a stale state (duplicate
/// ids and audit seqs fail the call instead of being UNCHANGED / appended).
const BEGIN_LOCKED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Starts a writing transaction holding the hub's write lock until it ends (see the module
/// comment: this is what makes change-log `seq` order commit order).
async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = pool.begin_with(BEGIN_LOCKED).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// `NOTIFY slt_changes`, delivered to every replica when (and only if) the transaction commits.
async fn notify_in(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANGES_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn is_retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Database(sqlx::Error::Database(database)) => matches!(
            database.code().as_deref(),
            Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
        ),
        _ => false,
    }
}

/// ` AND (...)`: the visibility scope as SQL. Kept in step with `PolicyEngine::tier_for`, which
/// still decides every row the API returns (and with `sqlite.rs`).
fn push_scope(sql: &mut QueryBuilder<Postgres>, scope: &VisibilityScope) {
    push_scope_on(sql, scope, true);
}

/// [`push_scope`] for a table with (`foreign_copies`: incidents) or without (advisories,
/// which do not federate) a `received_from` column.
fn push_scope_on(sql: &mut QueryBuilder<Postgres>, scope: &VisibilityScope, foreign_copies: bool) {
    // `0 = 1` keeps the disjunction well-formed when a part is absent.
    sql.push(" AND (0 = 1");
    if let Some(org) = &scope.own_org {
        // A foreign copy is never "own", whatever its origin org is called.
        sql.push(if foreign_copies {
            " OR (i.received_from IS NULL AND i.origin_org = "
        } else {
            " OR (i.origin_org = "
        });
        sql.push_bind(org.clone());
        sql.push(")");
    }
    if !scope.shared_distributions.is_empty() {
        sql.push(" OR i.distribution IN (");
        let mut list = sql.separated(", ");
        for distribution in &scope.shared_distributions {
            list.push_bind(distribution.as_str());
        }
        sql.push(")");
    }
    if !scope.sharing_groups.is_empty() {
        sql.push(" OR (i.distribution = ");
        sql.push_bind(Distribution::SharingGroup.as_str());
        sql.push(" AND i.sharing_group IN (");
        let mut list = sql.separated(", ");
        for group in &scope.sharing_groups {
            list.push_bind(group.clone());
        }
        sql.push("))");
    }
    sql.push(")");
    if let Some(tlps) = &scope.allowed_tlps {
        push_in(
            sql,
            "i.tlp",
            tlps.iter().map(|tlp| tlp.as_str().to_string()),
        );
        if tlps.is_empty() {
            sql.push(" AND 0 = 1");
        }
    }
    if let Some(hub) = &scope.excluded_origin_hub {
        sql.push(" AND i.origin_hub <> ");
        sql.push_bind(hub.clone());
    }
}

/// The incidents column holding the occurrence date at `precision`.
fn date_column(precision: DatePrecision) -> &'static str {
    match precision {
        DatePrecision::Day => "i.occurred_on",
        DatePrecision::Week => "i.occurred_week",
        DatePrecision::Month => "i.occurred_month",
        DatePrecision::Year => "i.occurred_year",
    }
}

/// ` AND column = ANY($n)` when `values` is not empty (one statement shape per list).
fn push_in(sql: &mut QueryBuilder<Postgres>, column: &str, values: impl Iterator<Item = String>) {
    let values: Vec<String> = values.collect();
    if values.is_empty() {
        return;
    }
    sql.push(format!(" AND {column} = ANY("));
    sql.push_bind(values);
    sql.push(")");
}

async fn insert_incidents(
    tx: &mut Transaction<'static, Postgres>,
    batch: &[&NewIncident],
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(batch.len());
    for item in batch {
        let incident = &item.incident;
        rows.push((
            item,
            timestamp_text(incident.reported_at)?,
            timestamp_text(incident.updated_at)?,
            encode_json(&incident.content)?,
        ));
    }
    let mut sql = QueryBuilder::<Postgres>::new(
        "INSERT INTO incidents (id, version, origin_org, origin_hub, origin_org_type, \
         reported_at, updated_at, country, admin1_key, occurred_on, occurred_week, \
         occurred_month, occurred_year, threat_category, verification, distribution, \
         sharing_group, tlp, retraction_reason, submit_hash, content, received_from, \
         received_tier) ",
    );
    sql.push_values(
        &rows,
        |mut values, (item, reported_at, updated_at, content_json)| {
            let incident = &item.incident;
            let content = &incident.content;
            values
                .push_bind(incident.id.to_string())
                .push_bind(version_to_sql(incident.version))
                .push_bind(incident.origin_org.clone())
                .push_bind(incident.origin_hub.clone())
                .push_bind(incident.origin_org_type.as_str())
                .push_bind(reported_at.clone())
                .push_bind(updated_at.clone())
                .push_bind(content.country.clone())
                .push_bind(admin1_key(content))
                .push_bind(content.occurred_on.to_string())
                .push_bind(content.date_at(DatePrecision::Week).to_string())
                .push_bind(content.date_at(DatePrecision::Month).to_string())
                .push_bind(content.date_at(DatePrecision::Year).to_string())
                .push_bind(content.threat_category.as_str())
                .push_bind(content.verification.as_str())
                .push_bind(content.distribution.as_str())
                .push_bind(content.sharing_group.clone())
                .push_bind(content.tlp.as_str())
                .push_bind(incident.retraction_reason.clone())
                .push_bind(item.submit_hash.clone())
                .push_bind(content_json.clone())
                .push_bind(incident.received.as_ref().map(|r| r.from_hub.clone()))
                .push_bind(incident.received.as_ref().map(|r| r.tier.as_str()));
        },
    );
    sql.push(" RETURNING row_id, id");
    let mut row_ids: HashMap<Uuid, i64> = HashMap::with_capacity(batch.len());
    for row in sql.build().fetch_all(&mut **tx).await? {
        row_ids.insert(parse_uuid(row.try_get("id")?)?, row.try_get("row_id")?);
    }
    let mut typed = Vec::with_capacity(batch.len());
    for item in batch {
        let row_id = *row_ids
            .get(&item.incident.id)
            .ok_or_else(|| StoreError::Corrupt("insert returned no row id".into()))?;
        typed.push((row_id, &item.incident));
    }
    insert_types(tx, &typed).await?;
    insert_victims(tx, &typed).await?;
    let incidents: Vec<&StoredIncident> = batch.iter().map(|item| &item.incident).collect();
    insert_private(tx, &incidents).await?;
    let changes: Vec<_> = batch
        .iter()
        .map(|item| (&item.incident, item.group_members.as_ref()))
        .collect();
    insert_changes(tx, &changes, ChangeKind::Create, false).await?;
    Ok(())
}

async fn insert_types(
    tx: &mut Transaction<'static, Postgres>,
    incidents: &[(i64, &StoredIncident)],
) -> Result<(), StoreError> {
    let pairs: Vec<(i64, &'static str)> = incidents
        .iter()
        .flat_map(|(row_id, incident)| {
            incident
                .content
                .incident_types
                .iter()
                .map(move |kind| (*row_id, kind.as_str()))
        })
        .collect();
    for chunk in pairs.chunks(INSERT_CHUNK * 4) {
        let mut sql = QueryBuilder::<Postgres>::new(
            "INSERT INTO incident_types (incident_row, incident_type) ",
        );
        sql.push_values(chunk, |mut values, (row_id, kind)| {
            values.push_bind(*row_id).push_bind(*kind);
        });
        sql.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_private(
    tx: &mut Transaction<'static, Postgres>,
    incidents: &[&StoredIncident],
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for incident in incidents {
        if let Some(private) = incident.private.as_ref().filter(|p| !p.is_empty()) {
            rows.push((incident.id.to_string(), encode_json(private)?));
        }
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql =
            QueryBuilder::<Postgres>::new("INSERT INTO incident_private (incident_id, content) ");
        sql.push_values(chunk, |mut values, (id, content)| {
            values.push_bind(id.clone()).push_bind(content.clone());
        });
        sql.build().execute(&mut **tx).await?;
    }
    Ok(())
}

fn audit_error(error: sqlx::Error) -> StoreError {
    StoreError::Audit(error.to_string())
}

/// A failed append inside a write: retryable database errors stay retryable, anything else
/// fails the call as an audit failure (closed).
fn audit_failure(error: StoreError) -> StoreError {
    if is_retryable(&error) {
        return error;
    }
    match error {
        StoreError::Database(error) => audit_error(error),
        other => other,
    }
}

/// Appends one record to the chain inside the caller's transaction, under the audit lock (held
/// to the end of the transaction), so appends from every replica are serialised and the chain
/// cannot fork.
async fn append_audit(
    tx: &mut Transaction<'static, Postgres>,
    entry: &AuditEntry,
) -> Result<u64, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut **tx)
        .await?;
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (version_from_sql(seq) + 1, hash),
        None => (1, slt_proto::audit_chain::GENESIS_HASH.to_string()),
    };
    let record = entry
        .chained(seq, &prev_hash)
        .ok_or_else(|| StoreError::Audit("the chain's head hash is damaged".into()))?;
    sqlx::query(
        "INSERT INTO audit_log (seq, time, hub_id, org, subject, roles, cert_sha256, \
         peer_address, method, request_summary, outcome, records_returned, fields_redacted, \
         policy_version, incident_ids, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(version_to_sql(record.seq))
    .bind(&record.time)
    .bind(&record.hub_id)
    .bind(&record.org)
    .bind(&record.subject)
    .bind(encode_json(&record.roles)?)
    .bind(&record.cert_sha256)
    .bind(&record.peer_address)
    .bind(&record.method)
    .bind(&record.request_summary)
    .bind(&record.outcome)
    .bind(version_to_sql(record.records_returned))
    .bind(version_to_sql(record.fields_redacted))
    .bind(&record.policy_version)
    .bind(encode_json(&record.incident_ids)?)
    .bind(&record.prev_hash)
    .bind(&record.hash)
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

fn decode_audit(row: &PgRow) -> Result<pb::AuditRecord, StoreError> {
    let list = |column: &str| -> Result<Vec<String>, StoreError> {
        let json: String = row.try_get(column)?;
        serde_json::from_str(&json)
            .map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
    };
    Ok(pb::AuditRecord {
        seq: version_from_sql(row.try_get("seq")?),
        time: row.try_get("time")?,
        hub_id: row.try_get("hub_id")?,
        org: row.try_get("org")?,
        subject: row.try_get("subject")?,
        roles: list("roles")?,
        cert_sha256: row.try_get("cert_sha256")?,
        peer_address: row.try_get("peer_address")?,
        method: row.try_get("method")?,
        request_summary: row.try_get("request_summary")?,
        outcome: row.try_get("outcome")?,
        records_returned: version_from_sql(row.try_get("records_returned")?),
        fields_redacted: version_from_sql(row.try_get("fields_redacted")?),
        policy_version: row.try_get("policy_version")?,
        incident_ids: list("incident_ids")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Appends change-log rows (the caller holds the write lock); each with the group's members
/// when it is a SHARING_GROUP incident.
async fn insert_changes(
    tx: &mut Transaction<'static, Postgres>,
    changes: &[(&StoredIncident, Option<&Vec<String>>)],
    kind: ChangeKind,
    distribution_changed: bool,
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(changes.len());
    for (incident, members) in changes {
        let members = members.map(encode_json).transpose()?;
        rows.push((incident, members, timestamp_text(incident.updated_at)?));
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = QueryBuilder::<Postgres>::new(
            "INSERT INTO change_log (incident_id, version, kind, origin_org, origin_hub, \
             distribution, sharing_group, group_members, tlp, distribution_changed, recorded_at) ",
        );
        sql.push_values(chunk, |mut values, (incident, members, recorded_at)| {
            values
                .push_bind(incident.id.to_string())
                .push_bind(version_to_sql(incident.version))
                .push_bind(kind.as_str())
                .push_bind(incident.origin_org.clone())
                .push_bind(incident.origin_hub.clone())
                .push_bind(incident.content.distribution.as_str())
                .push_bind(incident.content.sharing_group.clone())
                .push_bind(members.clone())
                .push_bind(incident.content.tlp.as_str())
                .push_bind(distribution_changed)
                .push_bind(recorded_at.clone());
        });
        sql.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Ids as a text array, bound as one parameter (`= ANY($n)`): one statement shape whatever the
/// number of ids.
fn id_list(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

fn decode_incident(row: &PgRow) -> Result<StoredIncident, StoreError> {
    let content: String = row.try_get("content")?;
    let content: IncidentContent = serde_json::from_str(&content)
        .map_err(|error| StoreError::Corrupt(format!("incident content: {error}")))?;
    let private: Option<String> = row.try_get("private_content")?;
    let private = private
        .map(|json| serde_json::from_str::<PrivateAnnex>(&json))
        .transpose()
        .map_err(|error| StoreError::Corrupt(format!("private annex: {error}")))?;
    let org_type: String = row.try_get("origin_org_type")?;
    let received_from: Option<String> = row.try_get("received_from")?;
    let received_tier: Option<String> = row.try_get("received_tier")?;
    let received = match (received_from, received_tier) {
        (Some(from_hub), Some(tier)) => Some(Received {
            from_hub,
            tier: Tier::parse(&tier).ok_or_else(|| StoreError::Corrupt("received tier".into()))?,
        }),
        (None, None) => None,
        _ => return Err(StoreError::Corrupt("half-recorded foreign origin".into())),
    };
    Ok(StoredIncident {
        id: parse_uuid(row.try_get("id")?)?,
        version: version_from_sql(row.try_get("version")?),
        origin_org: row.try_get("origin_org")?,
        origin_hub: row.try_get("origin_hub")?,
        origin_org_type: OrgType::parse(&org_type)
            .ok_or_else(|| StoreError::Corrupt("origin org type".into()))?,
        reported_at: parse_timestamp(&row.try_get::<String, _>("reported_at")?)?,
        updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
        retraction_reason: row.try_get("retraction_reason")?,
        content,
        private,
        received,
    })
}

async fn insert_victims(
    tx: &mut Transaction<'static, Postgres>,
    incidents: &[(i64, &StoredIncident)],
) -> Result<(), StoreError> {
    let rows: Vec<(i64, &crate::domain::VictimCount)> = incidents
        .iter()
        .flat_map(|(row_id, incident)| {
            incident
                .content
                .victims
                .iter()
                .map(move |victim| (*row_id, victim))
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = QueryBuilder::<Postgres>::new(
            "INSERT INTO incident_victims (incident_row, outcome, staff, sex, count) ",
        );
        sql.push_values(chunk, |mut values, (row_id, victim)| {
            values
                .push_bind(*row_id)
                .push_bind(victim.outcome.as_str())
                .push_bind(victim.staff.as_str())
                .push_bind(victim.sex.as_str())
                .push_bind(i64::from(victim.count));
        });
        sql.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// The date of an incident as the viewer of `scope` is shown it (as in `sqlite.rs`).
fn push_shown_date(sql: &mut QueryBuilder<Postgres>, scope: &VisibilityScope) {
    sql.push("(CASE WHEN i.received_from IS NULL AND i.origin_org = ");
    sql.push_bind(scope.own_org.clone().unwrap_or_default());
    sql.push(format!(
        " THEN {} ELSE {} END)",
        date_column(scope.own_date_precision),
        date_column(scope.others_date_precision)
    ));
}

/// The staff category of a victims row as the viewer is shown it (`VictimDetail`): for an
/// outcome merged by the small-cell rule (`sm` of `victim_joins` matched), UNKNOWN.
fn push_victim_staff(sql: &mut QueryBuilder<Postgres>, query: &PictureQuery<'_>) {
    let detail = |detail: VictimDetail| match detail {
        VictimDetail::Exact => "v.staff",
        VictimDetail::MergeSmall(_) => {
            "(CASE WHEN sm.outcome IS NULL THEN v.staff ELSE 'UNKNOWN' END)"
        }
        VictimDetail::StaffUnknown => "'UNKNOWN'",
    };
    if query.own_victims == query.others_victims {
        sql.push(detail(query.own_victims));
        return;
    }
    sql.push("(CASE WHEN i.received_from IS NULL AND i.origin_org = ");
    sql.push_bind(query.scope.own_org.clone().unwrap_or_default());
    sql.push(format!(
        " THEN {} ELSE {} END)",
        detail(query.own_victims),
        detail(query.others_victims)
    ));
}

/// The picture query's SELECT of area, group and bucket, then `measures`, FROM incidents with
/// `joins`, and its WHERE (as in `sqlite.rs`).
fn picture_select(
    query: &PictureQuery<'_>,
    measures: impl FnOnce(&mut QueryBuilder<Postgres>),
    joins: &str,
) -> QueryBuilder<Postgres> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT i.country AS country, ");
    match query.area_level {
        AreaLevel::Country => sql.push("''::TEXT AS admin1, "),
        AreaLevel::Admin1 => sql.push("COALESCE(i.admin1_key, '') AS admin1, "),
    };
    match query.group_by {
        PictureGroup::ThreatCategory => sql.push("i.threat_category AS grp, "),
        PictureGroup::IncidentType => sql.push("t.incident_type AS grp, "),
        PictureGroup::None => sql.push("'ALL'::TEXT AS grp, "),
    };
    match query.bucket {
        Granularity::Week => {
            push_shown_date(&mut sql, query.scope);
        }
        Granularity::Month | Granularity::Quarter => {
            sql.push("substr(");
            push_shown_date(&mut sql, query.scope);
            sql.push(", 1, 7)");
        }
        Granularity::Year => {
            sql.push("substr(");
            push_shown_date(&mut sql, query.scope);
            sql.push(", 1, 4)");
        }
    }
    sql.push(" AS bucket, ");
    measures(&mut sql);
    sql.push(" FROM incidents i");
    if query.group_by == PictureGroup::IncidentType {
        sql.push(" JOIN incident_types t ON t.incident_row = i.row_id");
    }
    sql.push(joins);
    sql.push(" WHERE i.verification <> ");
    sql.push_bind(Verification::Retracted.as_str());
    push_scope(&mut sql, query.scope);
    push_in(&mut sql, "i.country", query.countries.iter().cloned());
    push_in(&mut sql, "i.admin1_key", query.admin1.iter().cloned());
    sql.push(" AND ");
    push_shown_date(&mut sql, query.scope);
    sql.push(" >= ");
    sql.push_bind(query.from.to_string());
    sql.push(" AND ");
    push_shown_date(&mut sql, query.scope);
    sql.push(" <= ");
    sql.push_bind(query.to.to_string());
    sql
}

impl PostgresStore {
    pub async fn picture_counts(
        &self,
        query: &PictureQuery<'_>,
    ) -> Result<Vec<PictureCountRow>, StoreError> {
        let mut sql = picture_select(
            query,
            |sql| {
                sql.push("count(*) AS incidents");
            },
            "",
        );
        sql.push(" GROUP BY 1, 2, 3, 4");
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(PictureCountRow {
                    country: row.try_get("country")?,
                    admin1: row.try_get("admin1")?,
                    group: row.try_get("grp")?,
                    bucket: row.try_get("bucket")?,
                    incidents: u64::try_from(row.try_get::<i64, _>("incidents")?).unwrap_or(0),
                })
            })
            .collect()
    }

    pub async fn picture_victims(
        &self,
        query: &PictureQuery<'_>,
    ) -> Result<Vec<PictureVictimRow>, StoreError> {
        let mut sql = picture_select(
            query,
            |sql| {
                sql.push("v.outcome AS outcome, ");
                push_victim_staff(sql, query);
                sql.push(" AS staff, v.sex AS sex, CAST(sum(v.count) AS BIGINT) AS victims");
            },
            &victim_joins(query),
        );
        sql.push(" GROUP BY 1, 2, 3, 4, 5, 6, 7");
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let outcome: String = row.try_get("outcome")?;
                let staff: String = row.try_get("staff")?;
                let sex: String = row.try_get("sex")?;
                Ok(PictureVictimRow {
                    country: row.try_get("country")?,
                    admin1: row.try_get("admin1")?,
                    group: row.try_get("grp")?,
                    bucket: row.try_get("bucket")?,
                    outcome: VictimOutcome::parse(&outcome)
                        .ok_or_else(|| StoreError::Corrupt("victim outcome".into()))?,
                    staff: StaffCategory::parse(&staff)
                        .ok_or_else(|| StoreError::Corrupt("staff category".into()))?,
                    sex: Sex::parse(&sex).ok_or_else(|| StoreError::Corrupt("sex".into()))?,
                    victims: u64::try_from(row.try_get::<i64, _>("victims")?).unwrap_or(0),
                })
            })
            .collect()
    }

    pub async fn put_advisory(
        &self,
        advisory: &StoredAdvisory,
        expected_version: u64,
        group_members: Option<Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self
                .put_advisory_once(advisory, expected_version, group_members.as_ref(), audit)
                .await
            {
                Err(error) if self.should_retry(&error, attempt) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn put_advisory_once(
        &self,
        advisory: &StoredAdvisory,
        expected_version: u64,
        group_members: Option<&Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM advisories WHERE id = $1")
                .bind(advisory.id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let content = &advisory.content;
        let kind = match (current.map(version_from_sql), expected_version) {
            (None, 0) => ChangeKind::Create,
            (None, _) => return Err(StoreError::NotFound),
            (Some(current), expected) if current != expected => {
                return Err(StoreError::VersionMismatch { current });
            }
            (Some(_), _) => ChangeKind::Amend,
        };
        let issued_at = timestamp_text(advisory.issued_at)?;
        let admin1 = content
            .admin1
            .as_ref()
            .map(|area| area.name.trim().to_lowercase());
        let sql = if kind == ChangeKind::Create {
            "INSERT INTO advisories (version, origin_org, origin_hub, issued_at, country, \
             admin1_key, security_level, valid_from, valid_until, distribution, sharing_group, \
             tlp, content, id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        } else {
            "UPDATE advisories SET version = $1, origin_org = $2, origin_hub = $3, issued_at = $4, \
             country = $5, admin1_key = $6, security_level = $7, valid_from = $8, \
             valid_until = $9, distribution = $10, sharing_group = $11, tlp = $12, content = $13 \
             WHERE id = $14"
        };
        sqlx::query(sql)
            .bind(version_to_sql(advisory.version))
            .bind(&advisory.issuing_org)
            .bind(&advisory.origin_hub)
            .bind(&issued_at)
            .bind(&content.country)
            .bind(admin1)
            .bind(content.security_level.as_str())
            .bind(content.valid_from.to_string())
            .bind(content.valid_until.to_string())
            .bind(content.distribution.as_str())
            .bind(&content.sharing_group)
            .bind(content.tlp.as_str())
            .bind(encode_json(content)?)
            .bind(advisory.id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO change_log (incident_id, version, kind, origin_org, origin_hub, \
             distribution, sharing_group, group_members, tlp, distribution_changed, recorded_at, \
             entity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, $10, $11)",
        )
        .bind(advisory.id.to_string())
        .bind(version_to_sql(advisory.version))
        .bind(kind.as_str())
        .bind(&advisory.issuing_org)
        .bind(&advisory.origin_hub)
        .bind(content.distribution.as_str())
        .bind(&content.sharing_group)
        .bind(group_members.map(encode_json).transpose()?)
        .bind(content.tlp.as_str())
        .bind(&issued_at)
        .bind(Entity::Advisory.as_str())
        .execute(&mut *tx)
        .await?;
        notify_in(&mut tx).await?;
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await.map_err(audit_failure)?;
        }
        tx.commit().await?;
        self.notify_change();
        Ok(())
    }

    pub async fn get_advisories(&self, ids: &[Uuid]) -> Result<Vec<StoredAdvisory>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, version, origin_org, origin_hub, issued_at, content FROM advisories \
             WHERE id = ANY($1)",
        )
        .bind(id_list(ids))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_advisory).collect()
    }

    pub async fn list_advisories(
        &self,
        scope: &VisibilityScope,
        filter: &AdvisoryFilter,
    ) -> Result<Vec<StoredAdvisory>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT i.id, i.version, i.origin_org, i.origin_hub, i.issued_at, i.content \
             FROM advisories i WHERE 1 = 1",
        );
        push_scope_on(&mut sql, scope, false);
        push_in(&mut sql, "i.country", filter.countries.iter().cloned());
        if let Some(day) = filter.valid_on {
            sql.push(" AND i.valid_from <= ");
            sql.push_bind(day.to_string());
            sql.push(" AND i.valid_until >= ");
            sql.push_bind(day.to_string());
        }
        sql.push(" ORDER BY i.row_id DESC LIMIT ");
        sql.push_bind(i64::from(MAX_ADVISORIES));
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter().map(decode_advisory).collect()
    }
}

fn decode_advisory(row: &PgRow) -> Result<StoredAdvisory, StoreError> {
    let content: String = row.try_get("content")?;
    let content: AdvisoryContent = serde_json::from_str(&content)
        .map_err(|error| StoreError::Corrupt(format!("advisory content: {error}")))?;
    Ok(StoredAdvisory {
        id: parse_uuid(row.try_get("id")?)?,
        version: version_from_sql(row.try_get("version")?),
        issuing_org: row.try_get("origin_org")?,
        origin_hub: row.try_get("origin_hub")?,
        issued_at: parse_timestamp(&row.try_get::<String, _>("issued_at")?)?,
        content,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_parameters_are_split_off_the_url() {
        let (url, tuning) = parse_url(
            "postgres://hub@db:5432/slt?sslmode=disable&pool_max_connections=4\
             &statement_timeout=5s&serialization_retries=2&change_poll_ms=250",
        )
        .expect("valid");
        assert_eq!(url, "postgres://hub@db:5432/slt?sslmode=disable");
        assert_eq!(tuning.pool_max_connections, 4);
        assert_eq!(tuning.statement_timeout, "5s");
        assert_eq!(tuning.serialization_retries, 2);
        assert_eq!(tuning.change_poll, Duration::from_millis(250));
        let (url, tuning) = parse_url("postgres://db/slt").expect("valid");
        assert_eq!(url, "postgres://db/slt");
        assert_eq!(tuning, PgTuning::default());
    }

    #[test]
    fn bad_hub_parameters_are_refused_by_name() {
        for (url, name) in [
            (
                "postgres://db/slt?pool_max_connections=0",
                "pool_max_connections",
            ),
            (
                "postgres://db/slt?statement_timeout=5s;DROP",
                "statement_timeout",
            ),
            (
                "postgres://db/slt?serialization_retries=x",
                "serialization_retries",
            ),
            ("postgres://db/slt?change_poll_ms=1", "change_poll_ms"),
        ] {
            let error = parse_url(url).expect_err("refused").to_string();
            assert!(error.contains(name), "{error}");
        }
    }
}
