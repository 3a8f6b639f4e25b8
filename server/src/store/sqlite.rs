//! The SQLite backend: one file in WAL mode (synchronous FULL: a committed audit record, and so
//! the data it allowed out, survives a power loss), writes in `BEGIN IMMEDIATE` transactions (so two
//! writers queue instead of failing to upgrade a read lock), and multi-row INSERTs per batch
//! because sqlx pays a fixed cost per statement.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use time::OffsetDateTime;
use tokio::sync::watch;
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Rows per multi-row INSERT: well under SQLite's 32,766 bind parameters at 19 columns.
const INSERT_CHUNK: usize = 500;

const SELECT_INCIDENT: &str = "SELECT i.row_id, i.id, i.version, i.origin_org, i.origin_hub, \
     i.origin_org_type, i.reported_at, i.updated_at, i.retraction_reason, i.content, \
     i.received_from, i.received_tier, p.content AS private_content \
     FROM incidents i LEFT JOIN incident_private p ON p.incident_id = i.id";

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    log_epoch: String,
    /// Bumped after every committed write, to wake live subscribers.
    changes: Arc<watch::Sender<u64>>,
}

impl SqliteStore {
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let log_epoch: String =
            sqlx::query_scalar("SELECT value FROM hub_meta WHERE key = 'log_epoch'")
                .fetch_one(&pool)
                .await?;
        Ok(Self {
            pool,
            log_epoch,
            changes: Arc::new(watch::channel(0).0),
        })
    }

    pub fn log_epoch(&self) -> &str {
        &self.log_epoch
    }

    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn notify_change(&self) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
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
            "SELECT seq, incident_id, kind, entity FROM change_log WHERE seq > ? ORDER BY seq \
             LIMIT ?",
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
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT_INCIDENT} WHERE i.id IN (SELECT value FROM json_each(?))"
        ));
        let rows = sqlx::query(sql)
            .bind(id_list(ids)?)
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
        let mut snapshots = Vec::new();
        {
            let rows = sqlx::query(
                "SELECT DISTINCT incident_id, origin_org, origin_hub, distribution, sharing_group, \
                 group_members, tlp FROM change_log WHERE seq <= ? AND entity = ? \
                 AND incident_id IN (SELECT value FROM json_each(?))",
            )
            .bind(up_to)
            .bind(entity.as_str())
            .bind(id_list(ids)?)
            .fetch_all(&self.pool)
            .await?;
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
        }
        Ok(snapshots)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(audit_error)?;
        let seq = append_audit(&mut tx, entry).await?;
        tx.commit().await.map_err(audit_error)?;
        Ok(seq)
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
        let mut sql = QueryBuilder::<Sqlite>::new(
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
            sql.push(" AND EXISTS (SELECT 1 FROM json_each(incident_ids) WHERE value = ");
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
            "INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?) \
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
                     sharing_group, ?, tlp, 0, ? FROM incidents \
                     WHERE distribution = 'SHARING_GROUP' AND sharing_group = ? ORDER BY row_id",
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
                     sharing_group, ?, tlp, 0, ?, 'ADVISORY' FROM advisories \
                     WHERE distribution = 'SHARING_GROUP' AND sharing_group = ? ORDER BY row_id",
                )
                .bind(members)
                .bind(&now)
                .bind(group)
                .execute(&mut *tx)
                .await?;
                appended += result.rows_affected();
            }
            sqlx::query(
                "INSERT INTO hub_meta (key, value) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(members)
            .execute(&mut *tx)
            .await?;
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;

        // What already exists, by id.
        let mut existing: HashMap<Uuid, (String, u64, String)> = HashMap::new();
        {
            let ids: Vec<Uuid> = batch.iter().map(|item| item.incident.id).collect();
            let rows = sqlx::query(
                "SELECT id, submit_hash, version, origin_org FROM incidents \
                 WHERE id IN (SELECT value FROM json_each(?))",
            )
            .bind(id_list(&ids)?)
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
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        if !to_create.is_empty() {
            self.notify_change();
        }
        Ok(outcomes)
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<StoredIncident>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT_INCIDENT} WHERE i.id = ?"));
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode_incident(&row)).transpose()
    }

    pub async fn list(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(SELECT_INCIDENT);
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let current = sqlx::query(
            "SELECT row_id, version, distribution, sharing_group FROM incidents WHERE id = ?",
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
            "UPDATE incidents SET version = ?, updated_at = ?, country = ?, admin1_key = ?, \
             occurred_on = ?, occurred_week = ?, occurred_month = ?, occurred_year = ?, \
             threat_category = ?, verification = ?, distribution = ?, sharing_group = ?, \
             tlp = ?, retraction_reason = ?, content = ? WHERE row_id = ?",
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

        sqlx::query("DELETE FROM incident_types WHERE incident_row = ?")
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        insert_types(&mut tx, &[(row_id, incident)]).await?;
        sqlx::query("DELETE FROM incident_victims WHERE incident_row = ?")
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        insert_victims(&mut tx, &[(row_id, incident)]).await?;

        sqlx::query("DELETE FROM incident_private WHERE incident_id = ?")
            .bind(incident.id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_private(&mut tx, &[incident]).await?;

        insert_changes(
            &mut tx,
            &[(incident, group_members.as_ref())],
            kind,
            distribution_changed,
        )
        .await?;
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        self.notify_change();
        Ok(())
    }
}

/// Federation: applying what peers send, and their pull state.
impl SqliteStore {
    pub async fn apply_federated(
        &self,
        page: &FederatedPage<'_>,
    ) -> Result<ApplyStats, StoreError> {
        let mut stats = ApplyStats {
            withheld: page.withheld,
            ..ApplyStats::default()
        };
        let mut wrote = false;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
        let now = timestamp_text(OffsetDateTime::now_utc())?;
        sqlx::query(
            "INSERT INTO peer_state (peer_hub, cursor, last_attempt, last_success, last_caught_up, \
             last_error, consecutive_errors, applied_total, duplicates_total, withheld_total, \
             revoked_total, lag_changes) VALUES (?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?, ?) \
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
        tx.commit().await?;
        if wrote {
            self.notify_change();
        }
        Ok(stats)
    }

    pub async fn peer_cursor(&self, peer: &str) -> Result<String, StoreError> {
        let cursor: Option<String> =
            sqlx::query_scalar("SELECT cursor FROM peer_state WHERE peer_hub = ?")
                .bind(peer)
                .fetch_optional(&self.pool)
                .await?;
        Ok(cursor.unwrap_or_default())
    }

    pub async fn record_peer_failure(&self, peer: &str, error: &str) -> Result<(), StoreError> {
        let now = timestamp_text(OffsetDateTime::now_utc())?;
        sqlx::query(
            "INSERT INTO peer_state (peer_hub, last_attempt, last_error, consecutive_errors, \
             errors_total) VALUES (?, ?, ?, 1, 1) ON CONFLICT (peer_hub) DO UPDATE SET \
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
            "INSERT INTO peer_state (peer_hub, withheld_egress_total) VALUES (?, ?) \
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
        sqlx::query("UPDATE peer_state SET cursor = '' WHERE peer_hub = ?")
            .bind(peer)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn peer_states(&self) -> Result<Vec<PeerState>, StoreError> {
        let rows = sqlx::query("SELECT * FROM peer_state ORDER BY peer_hub")
            .fetch_all(&self.pool)
            .await?;
        let time = |row: &SqliteRow, column: &str| -> Result<Option<OffsetDateTime>, StoreError> {
            row.try_get::<Option<String>, _>(column)?
                .map(|text| parse_timestamp(&text))
                .transpose()
        };
        let count = |row: &SqliteRow, column: &str| -> Result<u64, StoreError> {
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

/// Applies one foreign incident version: at most once per (origin hub, id, version), never
/// over a newer version, never over a local incident or one of another origin. A copy we hold
/// is updated only by the peer we got it from or by its origin hub, so a third peer cannot
/// overwrite it with a forged "newer" version.
async fn apply_foreign(
    tx: &mut Transaction<'static, Sqlite>,
    local_hub: &str,
    peer: &str,
    incident: &StoredIncident,
) -> Result<Applied, StoreError> {
    if incident.origin_hub == local_hub || incident.origin_hub.is_empty() {
        return Ok(Applied::Withheld);
    }
    let id = incident.id.to_string();
    let existing =
        sqlx::query("SELECT row_id, origin_hub, received_from FROM incidents WHERE id = ?")
            .bind(&id)
            .fetch_optional(&mut **tx)
            .await?;
    let existing_row = match &existing {
        Some(row) => {
            let origin_hub: String = row.try_get("origin_hub")?;
            let received_from: Option<String> = row.try_get("received_from")?;
            let Some(received_from) = received_from else {
                // The id belongs to a local incident: never overwrite.
                return Ok(Applied::Withheld);
            };
            if origin_hub != incident.origin_hub {
                // ...or to another origin.
                return Ok(Applied::Withheld);
            }
            if received_from != peer && incident.origin_hub != peer {
                // Another relay's copy: ours comes from elsewhere and is updated from there.
                return Ok(Applied::Duplicate);
            }
            Some(row.try_get::<i64, _>("row_id")?)
        }
        None => None,
    };
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM federation_applied WHERE origin_hub = ? AND incident_id = ?",
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
                "UPDATE incidents SET version = ?, origin_org = ?, origin_org_type = ?, \
                 reported_at = ?, updated_at = ?, country = ?, admin1_key = ?, occurred_on = ?, \
                 occurred_week = ?, occurred_month = ?, occurred_year = ?, threat_category = ?, \
                 verification = ?, distribution = ?, sharing_group = ?, tlp = ?, \
                 retraction_reason = ?, content = ?, received_from = ?, received_tier = ? \
                 WHERE row_id = ?",
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
            sqlx::query("DELETE FROM incident_types WHERE incident_row = ?")
                .bind(row_id)
                .execute(&mut **tx)
                .await?;
            insert_types(tx, &[(row_id, incident)]).await?;
            sqlx::query("DELETE FROM incident_victims WHERE incident_row = ?")
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
                // A copy first seen retracted: its one change-log row says so.
                sqlx::query(
                    "UPDATE change_log SET kind = ? WHERE seq = (SELECT max(seq) FROM change_log)",
                )
                .bind(kind.as_str())
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    sqlx::query(
        "INSERT INTO federation_applied (origin_hub, incident_id, version, revoked) \
         VALUES (?, ?, ?, 0) ON CONFLICT (origin_hub, incident_id) DO UPDATE SET \
         version = excluded.version, revoked = 0",
    )
    .bind(&incident.origin_hub)
    .bind(&id)
    .bind(version_to_sql(incident.version))
    .execute(&mut **tx)
    .await?;
    Ok(Applied::Written)
}

/// Removes a foreign copy the peer no longer shares with us: when we got it from that peer,
/// or the peer is its origin (the origin's word is final). The deletion is a change-log entry
/// of its own (nobody can see the incident after it), so local mirrors and our own peers get a
/// REVOKE in turn.
async fn revoke_foreign(
    tx: &mut Transaction<'static, Sqlite>,
    peer: &str,
    id: Uuid,
) -> Result<bool, StoreError> {
    let text = id.to_string();
    let Some(row) = sqlx::query(
        "SELECT row_id, version, origin_hub, received_from FROM incidents WHERE id = ?",
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
    sqlx::query("DELETE FROM incident_types WHERE incident_row = ?")
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incident_victims WHERE incident_row = ?")
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incident_private WHERE incident_id = ?")
        .bind(&text)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM incidents WHERE row_id = ?")
        .bind(row_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO change_log (incident_id, version, kind, origin_org, origin_hub, \
         distribution, sharing_group, group_members, tlp, distribution_changed, recorded_at) \
         VALUES (?, ?, ?, '', ?, ?, NULL, NULL, ?, 1, ?)",
    )
    .bind(&text)
    .bind(version)
    .bind(ChangeKind::Access.as_str())
    .bind(&origin_hub)
    .bind(Distribution::OrgOnly.as_str())
    .bind(Tlp::Red.as_str())
    .bind(timestamp_text(OffsetDateTime::now_utc())?)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO federation_applied (origin_hub, incident_id, version, revoked) \
         VALUES (?, ?, ?, 1) ON CONFLICT (origin_hub, incident_id) DO UPDATE SET revoked = 1",
    )
    .bind(&origin_hub)
    .bind(&text)
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// ` AND (...)`: the visibility scope as SQL. Kept in step with `PolicyEngine::tier_for`, which
/// still decides every row the API returns.
fn push_scope(sql: &mut QueryBuilder<Sqlite>, scope: &VisibilityScope) {
    push_scope_on(sql, scope, true);
}

/// [`push_scope`] for a table with (`foreign_copies`: incidents) or without (advisories,
/// which do not federate) a `received_from` column.
fn push_scope_on(sql: &mut QueryBuilder<Sqlite>, scope: &VisibilityScope, foreign_copies: bool) {
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

/// ` AND column IN (?, ...)` when `values` is not empty.
fn push_in(sql: &mut QueryBuilder<Sqlite>, column: &str, values: impl Iterator<Item = String>) {
    let values: Vec<String> = values.collect();
    if values.is_empty() {
        return;
    }
    sql.push(format!(" AND {column} IN ("));
    let mut list = sql.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    sql.push(")");
}

async fn insert_incidents(
    tx: &mut Transaction<'static, Sqlite>,
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
    let mut sql = QueryBuilder::<Sqlite>::new(
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
    tx: &mut Transaction<'static, Sqlite>,
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
        let mut sql = QueryBuilder::<Sqlite>::new(
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
    tx: &mut Transaction<'static, Sqlite>,
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
            QueryBuilder::<Sqlite>::new("INSERT INTO incident_private (incident_id, content) ");
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

/// Appends one record to the chain inside the caller's transaction (which holds the write lock,
/// so appends are serialised and the chain cannot fork).
async fn append_audit(
    tx: &mut Transaction<'static, Sqlite>,
    entry: &AuditEntry,
) -> Result<u64, StoreError> {
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(audit_error)?;
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
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .await
    .map_err(audit_error)?;
    Ok(seq)
}

fn decode_audit(row: &SqliteRow) -> Result<pb::AuditRecord, StoreError> {
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

/// Appends change-log rows; each with the group's members when it is a SHARING_GROUP incident.
async fn insert_changes(
    tx: &mut Transaction<'static, Sqlite>,
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
        let mut sql = QueryBuilder::<Sqlite>::new(
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

/// A JSON array of ids, bound as one parameter (`json_each`): one statement shape whatever the
/// number of ids, so the prepared-statement cache does not fill with one entry per list length.
fn id_list(ids: &[Uuid]) -> Result<String, StoreError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    encode_json(&ids)
}

fn decode_incident(row: &SqliteRow) -> Result<StoredIncident, StoreError> {
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
    tx: &mut Transaction<'static, Sqlite>,
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
        let mut sql = QueryBuilder::<Sqlite>::new(
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

/// The date of an incident as the viewer of `scope` is shown it (its own org's at one
/// precision, other orgs' at another), as SQL, with the own org bound.
fn push_shown_date(sql: &mut QueryBuilder<Sqlite>, scope: &VisibilityScope) {
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
fn push_victim_staff(sql: &mut QueryBuilder<Sqlite>, query: &PictureQuery<'_>) {
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

/// `SELECT area, group, bucket` and the FROM/JOIN/WHERE of a picture query; the caller adds
/// its measures before (`measures`) and `joins` after `incidents i`.
fn picture_select(
    query: &PictureQuery<'_>,
    measures: impl FnOnce(&mut QueryBuilder<Sqlite>),
    joins: &str,
) -> QueryBuilder<Sqlite> {
    let mut sql = QueryBuilder::<Sqlite>::new("SELECT i.country AS country, ");
    match query.area_level {
        AreaLevel::Country => sql.push("'' AS admin1, "),
        AreaLevel::Admin1 => sql.push("COALESCE(i.admin1_key, '') AS admin1, "),
    };
    match query.group_by {
        PictureGroup::ThreatCategory => sql.push("i.threat_category AS grp, "),
        PictureGroup::IncidentType => sql.push("t.incident_type AS grp, "),
        PictureGroup::None => sql.push("'ALL' AS grp, "),
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

impl SqliteStore {
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
                sql.push(" AS staff, v.sex AS sex, sum(v.count) AS victims");
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT version FROM advisories WHERE id = ?")
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
             tlp, content, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        } else {
            "UPDATE advisories SET version = ?, origin_org = ?, origin_hub = ?, issued_at = ?, \
             country = ?, admin1_key = ?, security_level = ?, valid_from = ?, valid_until = ?, \
             distribution = ?, sharing_group = ?, tlp = ?, content = ? WHERE id = ?"
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
             entity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(advisory.id.to_string())
        .bind(version_to_sql(advisory.version))
        .bind(kind.as_str())
        .bind(&advisory.issuing_org)
        .bind(&advisory.origin_hub)
        .bind(content.distribution.as_str())
        .bind(&content.sharing_group)
        .bind(group_members.as_ref().map(encode_json).transpose()?)
        .bind(content.tlp.as_str())
        .bind(&issued_at)
        .bind(Entity::Advisory.as_str())
        .execute(&mut *tx)
        .await?;
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        self.notify_change();
        Ok(())
    }

    pub async fn get_advisories(&self, ids: &[Uuid]) -> Result<Vec<StoredAdvisory>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, version, origin_org, origin_hub, issued_at, content FROM advisories \
             WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(id_list(ids)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_advisory).collect()
    }

    pub async fn list_advisories(
        &self,
        scope: &VisibilityScope,
        filter: &AdvisoryFilter,
    ) -> Result<Vec<StoredAdvisory>, StoreError> {
        let mut sql = QueryBuilder::<Sqlite>::new(
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

fn decode_advisory(row: &SqliteRow) -> Result<StoredAdvisory, StoreError> {
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
