//! The access log: appending a record to the hash chain (alone, or inside the transaction of the
//! write it describes), reading records back, and the signed checkpoints.

use slt_proto::v1 as pb;

use super::common::{decode_json, encode_json, from_sql, to_sql};
use super::db::{Tx, is_retryable};
use super::{Store, StoreError};
use crate::domain::AuditEntry;

/// Which audit records an auditor asks for; empty fields do not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from_time: Option<String>,
    pub to_time: Option<String>,
    pub org: Option<String>,
    pub subject: Option<String>,
    pub method: Option<String>,
    pub incident_id: Option<String>,
    pub outcome: Option<String>,
}

const AUDIT_COLUMNS: &str = "seq, time, hub_id, org, subject, roles, cert_sha256, peer_address, \
     method, request_summary, outcome, records_returned, fields_redacted, policy_version, \
     incident_ids, prev_hash, hash";

/// A record as stored (lists as JSON).
#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    time: String,
    hub_id: String,
    org: String,
    subject: String,
    roles: String,
    cert_sha256: String,
    peer_address: String,
    method: String,
    request_summary: String,
    outcome: String,
    records_returned: i64,
    fields_redacted: i64,
    policy_version: String,
    incident_ids: String,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    fn decode(self) -> Result<pb::AuditRecord, StoreError> {
        Ok(pb::AuditRecord {
            seq: from_sql(self.seq),
            time: self.time,
            hub_id: self.hub_id,
            org: self.org,
            subject: self.subject,
            roles: decode_json(&self.roles, "roles")?,
            cert_sha256: self.cert_sha256,
            peer_address: self.peer_address,
            method: self.method,
            request_summary: self.request_summary,
            outcome: self.outcome,
            records_returned: from_sql(self.records_returned),
            fields_redacted: from_sql(self.fields_redacted),
            policy_version: self.policy_version,
            incident_ids: decode_json(&self.incident_ids, "incident_ids")?,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

impl Store {
    /// Appends one record to the access log in its own transaction.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let seqs = self.record_audit_batch(std::slice::from_ref(entry)).await?;
        seqs.first()
            .copied()
            .ok_or_else(|| StoreError::Audit("no record appended".into()))
    }

    /// Appends records to the access log, in order, in one transaction (group commit): all of
    /// them are durable when it returns, or none is written. Returns their seqs.
    #[tracing::instrument(name = "store.record_audit_batch", skip_all)]
    pub async fn record_audit_batch(&self, entries: &[AuditEntry]) -> Result<Vec<u64>, StoreError> {
        let appended = self
            .retrying(|| async {
                let mut tx = self.db.begin_audit().await?;
                let seqs = append_audit_batch(&mut tx, entries).await?;
                tx.commit().await?;
                Ok(seqs)
            })
            .await;
        match appended {
            // Whatever went wrong, the record is not written: the call fails closed.
            Err(StoreError::Database(error)) => Err(audit_error(error)),
            other => other,
        }
    }

    /// The chain's head: (seq, hash) of the last record.
    pub async fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        let sql = self
            .db
            .sql("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
        let head: Option<(i64, String)> = self.db.run().fetch_optional(sql).await?;
        Ok(head.map(|(seq, hash)| (from_sql(seq), hash)))
    }

    /// Records in seq order from `from_seq`, at most `limit`, matching `filter`.
    #[tracing::instrument(name = "store.audit_records", skip_all)]
    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<pb::AuditRecord>, StoreError> {
        let mut sql = self.db.sql(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq >= "
        ));
        sql.bind(to_sql(from_seq));
        let exact = [
            ("org", &filter.org),
            ("subject", &filter.subject),
            ("method", &filter.method),
            ("outcome", &filter.outcome),
        ];
        for (column, value) in exact {
            if let Some(value) = value {
                sql.push(" AND ").push(column).push(" = ").bind(value);
            }
        }
        if let Some(from) = &filter.from_time {
            sql.push(" AND time >= ").bind(from);
        }
        if let Some(to) = &filter.to_time {
            sql.push(" AND time <= ").bind(to);
        }
        if let Some(id) = &filter.incident_id {
            sql.and_json_array_holds("incident_ids", id.clone());
        }
        sql.push(" ORDER BY seq LIMIT ").bind(i64::from(limit));
        let rows: Vec<AuditRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(AuditRow::decode).collect()
    }

    /// Every signed checkpoint, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<pb::Checkpoint>, StoreError> {
        let sql = self
            .db
            .sql("SELECT seq, hash, time, signature FROM audit_checkpoints ORDER BY seq");
        let rows: Vec<(i64, String, String, String)> = self.db.run().fetch_all(sql).await?;
        Ok(rows
            .into_iter()
            .map(|(seq, hash, time, signature)| pb::Checkpoint {
                seq: from_sql(seq),
                hash,
                time,
                signature,
            })
            .collect())
    }

    /// The seq of the newest checkpoint (0 when none).
    pub async fn last_checkpoint_seq(&self) -> Result<u64, StoreError> {
        let sql = self.db.sql("SELECT max(seq) FROM audit_checkpoints");
        let (seq,): (Option<i64>,) = self.db.run().fetch_optional(sql).await?.unwrap_or((None,));
        Ok(seq.map(from_sql).unwrap_or(0))
    }

    /// Stores a signed checkpoint (a second one at the same seq is ignored).
    pub async fn add_checkpoint(
        &self,
        seq: u64,
        hash: &str,
        time: &str,
        signature: &str,
    ) -> Result<(), StoreError> {
        let sql = self
            .db
            .sql(
                "INSERT INTO audit_checkpoints (seq, hash, time, signature) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING",
            )
            .arg(to_sql(seq))
            .arg(hash)
            .arg(time)
            .arg(signature);
        self.db.run().execute(sql).await?;
        Ok(())
    }
}

pub(super) fn audit_error(error: sqlx::Error) -> StoreError {
    StoreError::Audit(error.to_string())
}

/// A failed append inside a write: retryable database errors stay retryable, anything else
/// fails the call as an audit failure (closed).
pub(super) fn audit_failure(error: StoreError) -> StoreError {
    if is_retryable(&error) {
        return error;
    }
    match error {
        StoreError::Database(error) => audit_error(error),
        other => other,
    }
}

/// Appends one record to the chain inside the caller's transaction.
pub(super) async fn append_audit(tx: &mut Tx, entry: &AuditEntry) -> Result<u64, StoreError> {
    let seqs = append_audit_batch(tx, std::slice::from_ref(entry)).await?;
    seqs.first()
        .copied()
        .ok_or_else(|| StoreError::Audit("no record appended".into()))
}

/// Records per INSERT: 17 columns each. It was kept small because sqlx binds every parameter by
/// looking up its name (`sqlite3_bind_parameter_name`, a linear scan), so one statement of P
/// parameters costs O(P^2): 500 records (8,500 parameters) took ~170 ms to bind, capping group
/// commit near 3,000 records/s. With anonymous placeholders (`db::anonymous_placeholders`) that
/// cost is gone, and 256 records (4,352 parameters) stay far below SQLite's 32,766.
const RECORDS_PER_INSERT: usize = 256;

/// Appends records to the chain, in order, inside the caller's transaction; returns their seqs.
/// The audit lock (and on SQLite the transaction's write lock) serialises appends, so the chain
/// cannot fork.
pub(super) async fn append_audit_batch(
    tx: &mut Tx,
    entries: &[AuditEntry],
) -> Result<Vec<u64>, StoreError> {
    tx.lock_audit().await?;
    let sql = tx.sql("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    let head: Option<(i64, String)> = tx.run().fetch_optional(sql).await?;
    let (mut seq, mut prev_hash) = match head {
        Some((seq, hash)) => (from_sql(seq) + 1, hash),
        None => (1, slt_proto::audit_chain::GENESIS_HASH.to_string()),
    };
    let mut seqs = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(RECORDS_PER_INSERT) {
        let mut rows = Vec::with_capacity(chunk.len());
        for entry in chunk {
            let record = entry
                .chained(seq, &prev_hash)
                .ok_or_else(|| StoreError::Audit("the chain's head hash is damaged".into()))?;
            let lists = (
                encode_json(&record.roles)?,
                encode_json(&record.incident_ids)?,
            );
            seqs.push(seq);
            seq += 1;
            prev_hash.clone_from(&record.hash);
            rows.push((record, lists));
        }
        let mut sql = tx.sql(&format!("INSERT INTO audit_log ({AUDIT_COLUMNS})"));
        sql.values(&rows, |row, (record, (roles, incident_ids))| {
            row.bind(to_sql(record.seq))
                .bind(&record.time)
                .bind(&record.hub_id)
                .bind(&record.org)
                .bind(&record.subject)
                .bind(roles)
                .bind(&record.cert_sha256)
                .bind(&record.peer_address)
                .bind(&record.method)
                .bind(&record.request_summary)
                .bind(&record.outcome)
                .bind(to_sql(record.records_returned))
                .bind(to_sql(record.fields_redacted))
                .bind(&record.policy_version)
                .bind(incident_ids)
                .bind(&record.prev_hash)
                .bind(&record.hash);
        });
        tx.run().execute(sql).await?;
    }
    Ok(seqs)
}
