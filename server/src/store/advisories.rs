//! Advisories: security levels and guidance a focal point issues for an area, versioned (a new
//! version supersedes the old), carried by the same change log as incidents.

use uuid::Uuid;

use super::audit::{append_audit, audit_failure};
use super::changes::{CHANGE_COLUMNS, ChangeKind, Entity};
use super::common::{decode_json, encode_json, from_sql, parse_timestamp, parse_uuid};
use super::common::{timestamp_text, to_sql};
use super::db::Tx;
use super::scope::and_scope_on;
use super::{Store, StoreError};
use crate::domain::{AuditEntry, StoredAdvisory, VisibilityScope};

/// Which advisories a caller lists (within its scope).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisoryFilter {
    /// ISO alpha-3 codes; empty: all.
    pub countries: Vec<String>,
    /// Only those in force on this day.
    pub valid_on: Option<time::Date>,
}

/// Most advisories one page holds.
pub const MAX_ADVISORY_PAGE: u32 = 1_000;

/// One page of advisories, newest first.
#[derive(Debug, Clone)]
pub struct AdvisoryPage {
    pub advisories: Vec<StoredAdvisory>,
    /// The row key of the last one (to continue after it).
    pub last_row: Option<i64>,
    /// Whether more match after this page.
    pub more: bool,
}

const SELECT_ADVISORY: &str = "SELECT i.row_id, i.id, i.version, i.origin_org, i.origin_hub, \
     i.issued_at, i.content FROM advisories i";

#[derive(sqlx::FromRow)]
struct AdvisoryRow {
    row_id: i64,
    id: String,
    version: i64,
    origin_org: String,
    origin_hub: String,
    issued_at: String,
    content: String,
}

impl AdvisoryRow {
    fn decode(self) -> Result<StoredAdvisory, StoreError> {
        Ok(StoredAdvisory {
            id: parse_uuid(&self.id)?,
            version: from_sql(self.version),
            issuing_org: self.origin_org,
            origin_hub: self.origin_hub,
            issued_at: parse_timestamp(&self.issued_at)?,
            content: decode_json(&self.content, "advisory content")?,
        })
    }
}

impl Store {
    /// Writes an advisory: a new one (`expected_version` 0; `advisory.version` 1) or the next
    /// version of an existing one (its stored version must be `expected_version`). Appends the
    /// change-log row (and the audit record) in the same transaction. A new advisory whose id
    /// exists already is `VersionMismatch` with the stored version.
    #[tracing::instrument(name = "store.put_advisory", skip_all)]
    pub async fn put_advisory(
        &self,
        advisory: &StoredAdvisory,
        expected_version: u64,
        group_members: Option<Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let members = group_members.as_ref();
        self.retrying(|| self.put_advisory_once(advisory, expected_version, members, audit))
            .await
    }

    async fn put_advisory_once(
        &self,
        advisory: &StoredAdvisory,
        expected_version: u64,
        group_members: Option<&Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        let sql = tx
            .sql("SELECT version FROM advisories WHERE id = $1")
            .arg(advisory.id.to_string());
        let current: Option<(i64,)> = tx.run().fetch_optional(sql).await?;
        let kind = match (
            current.map(|(version,)| from_sql(version)),
            expected_version,
        ) {
            (None, 0) => ChangeKind::Create,
            (None, _) => return Err(StoreError::NotFound),
            (Some(current), expected) if current != expected => {
                return Err(StoreError::VersionMismatch { current });
            }
            (Some(_), _) => ChangeKind::Amend,
        };
        write_advisory(&mut tx, advisory, kind).await?;
        let content = &advisory.content;
        let sql = tx
            .sql(&format!(
                "INSERT INTO change_log ({CHANGE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, $10, $11, $12, $13)"
            ))
            .arg(advisory.id.to_string())
            .arg(to_sql(advisory.version))
            .arg(kind.as_str())
            .arg(&advisory.issuing_org)
            .arg(&advisory.origin_hub)
            .arg(content.distribution.as_str())
            .arg(&content.sharing_group)
            .arg(group_members.map(encode_json).transpose()?)
            .arg(content.tlp.as_str())
            .arg(timestamp_text(advisory.issued_at)?)
            .arg(Entity::Advisory.as_str())
            .arg(&content.country)
            .arg(content.threat_category.as_str());
        tx.run().execute(sql).await?;
        tx.notify_changes().await?;
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await.map_err(audit_failure)?;
        }
        tx.commit().await?;
        self.notify_change();
        Ok(())
    }

    /// The current version of several advisories (missing ids are left out).
    pub async fn get_advisories(&self, ids: &[Uuid]) -> Result<Vec<StoredAdvisory>, StoreError> {
        let mut sql = self.db.sql(SELECT_ADVISORY);
        sql.push(" WHERE ");
        sql.column_in_ids("i.id", ids)?;
        let rows: Vec<AdvisoryRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(AdvisoryRow::decode).collect()
    }

    /// A page of the advisories within the scope matching the filter, newest first: those
    /// created before row `before` (from the newest when `None`), at most `limit` (itself at
    /// most [`MAX_ADVISORY_PAGE`]).
    #[tracing::instrument(name = "store.advisories_page", skip_all)]
    pub async fn advisories_page(
        &self,
        scope: &VisibilityScope,
        filter: &AdvisoryFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<AdvisoryPage, StoreError> {
        let limit = limit.clamp(1, MAX_ADVISORY_PAGE);
        let mut sql = self.db.sql(SELECT_ADVISORY);
        sql.push(" WHERE 1 = 1");
        and_scope_on(&mut sql, scope, false);
        sql.and_in("i.country", filter.countries.clone());
        if let Some(day) = filter.valid_on {
            sql.push(" AND i.valid_from <= ").bind(day.to_string());
            sql.push(" AND i.valid_until >= ").bind(day.to_string());
        }
        if let Some(before) = before {
            sql.push(" AND i.row_id < ").bind(before);
        }
        // One more than asked, to know whether another page follows.
        sql.push(" ORDER BY i.row_id DESC LIMIT ")
            .bind(i64::from(limit) + 1);
        let mut rows: Vec<AdvisoryRow> = self.db.run().fetch_all(sql).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let last_row = rows.last().map(|row| row.row_id);
        Ok(AdvisoryPage {
            advisories: rows
                .into_iter()
                .map(AdvisoryRow::decode)
                .collect::<Result<_, _>>()?,
            last_row,
            more,
        })
    }
}

/// Inserts (CREATE) or rewrites (AMEND) the advisory's row.
async fn write_advisory(
    tx: &mut Tx,
    advisory: &StoredAdvisory,
    kind: ChangeKind,
) -> Result<(), StoreError> {
    let content = &advisory.content;
    let text = if kind == ChangeKind::Create {
        "INSERT INTO advisories (version, origin_org, origin_hub, issued_at, country, \
         admin1_key, security_level, valid_from, valid_until, distribution, sharing_group, \
         tlp, content, id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    } else {
        "UPDATE advisories SET version = $1, origin_org = $2, origin_hub = $3, issued_at = $4, \
         country = $5, admin1_key = $6, security_level = $7, valid_from = $8, valid_until = $9, \
         distribution = $10, sharing_group = $11, tlp = $12, content = $13 WHERE id = $14"
    };
    let admin1 = content
        .admin1
        .as_ref()
        .map(|area| area.name.trim().to_lowercase());
    let sql = tx
        .sql(text)
        .arg(to_sql(advisory.version))
        .arg(&advisory.issuing_org)
        .arg(&advisory.origin_hub)
        .arg(timestamp_text(advisory.issued_at)?)
        .arg(&content.country)
        .arg(admin1)
        .arg(content.security_level.as_str())
        .arg(content.valid_from.to_string())
        .arg(content.valid_until.to_string())
        .arg(content.distribution.as_str())
        .arg(&content.sharing_group)
        .arg(content.tlp.as_str())
        .arg(encode_json(content)?)
        .arg(advisory.id.to_string());
    tx.run().execute(sql).await?;
    Ok(())
}
