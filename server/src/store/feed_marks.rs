//! Feed marks: at fixed boundaries (unix seconds) the position the change log had reached.
//! The TAXII edge dates what it serves by them (`date_added` is the first boundary at or after
//! the change's commit), so a date says no more than the live feed's batches already say, and a
//! date maps back to an exact log position. Kept in `hub_meta` under `feed_mark:<unix>` with the
//! seq as value, both zero-padded so that text order is numeric order; both only ever grow.

use std::collections::HashMap;

use uuid::Uuid;

use super::common::parse_uuid;
use super::{Store, StoreError};

const PREFIX: &str = "feed_mark:";
/// The first key after every mark (`;` follows `:`).
const END: &str = "feed_mark;";

/// At `at` (unix seconds) the change log stood at `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedMark {
    pub at: i64,
    pub seq: i64,
}

fn key(at: i64) -> String {
    format!("{PREFIX}{:020}", at.max(0))
}

fn value(seq: i64) -> String {
    format!("{:020}", seq.max(0))
}

fn decode(row: Option<(String, String)>) -> Result<Option<FeedMark>, StoreError> {
    let Some((key, value)) = row else {
        return Ok(None);
    };
    let at = key
        .strip_prefix(PREFIX)
        .and_then(|at| at.parse::<i64>().ok());
    let seq = value.parse::<i64>().ok();
    match (at, seq) {
        (Some(at), Some(seq)) => Ok(Some(FeedMark { at, seq })),
        _ => Err(StoreError::Corrupt(format!(
            "hub_meta {key} is not a feed mark"
        ))),
    }
}

impl Store {
    /// Records that at `at` the log stood at `seq`, unless a mark at or after `at`, or at or
    /// beyond `seq`, exists already (replicas marking the same boundary, a clock gone back):
    /// marks only ever grow in both. True when it was recorded.
    pub async fn append_feed_mark(&self, at: i64, seq: i64) -> Result<bool, StoreError> {
        let sql = self
            .db
            .sql(
                "INSERT INTO hub_meta (key, value) SELECT $1, $2 WHERE NOT EXISTS \
                 (SELECT 1 FROM hub_meta WHERE key >= $3 AND key < $4 \
                 AND (key >= $1 OR value >= $2)) ON CONFLICT (key) DO NOTHING",
            )
            .arg(key(at))
            .arg(value(seq))
            .arg(PREFIX.to_string())
            .arg(END.to_string());
        Ok(self.db.run().execute(sql).await? > 0)
    }

    /// The latest mark.
    pub async fn last_feed_mark(&self) -> Result<Option<FeedMark>, StoreError> {
        let sql = self
            .db
            .sql(
                "SELECT key, value FROM hub_meta WHERE key >= $1 AND key < $2 \
                 ORDER BY key DESC LIMIT 1",
            )
            .arg(PREFIX.to_string())
            .arg(END.to_string());
        decode(self.db.run().fetch_optional(sql).await?)
    }

    /// The latest mark at or before `at`.
    pub async fn feed_mark_at_or_before(&self, at: i64) -> Result<Option<FeedMark>, StoreError> {
        let sql = self
            .db
            .sql(
                "SELECT key, value FROM hub_meta WHERE key >= $1 AND key <= $2 \
                 ORDER BY key DESC LIMIT 1",
            )
            .arg(PREFIX.to_string())
            .arg(key(at));
        decode(self.db.run().fetch_optional(sql).await?)
    }

    /// The first mark whose position is `seq` or beyond: the boundary that released `seq`.
    pub async fn feed_mark_covering(&self, seq: i64) -> Result<Option<FeedMark>, StoreError> {
        let sql = self
            .db
            .sql(
                "SELECT key, value FROM hub_meta WHERE key >= $1 AND key < $2 AND value >= $3 \
                 ORDER BY key LIMIT 1",
            )
            .arg(PREFIX.to_string())
            .arg(END.to_string())
            .arg(value(seq));
        decode(self.db.run().fetch_optional(sql).await?)
    }

    /// The latest change-log position of each of `ids` (incidents): where the feed will show
    /// its current state last.
    pub async fn latest_incident_changes(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, i64>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = self
            .db
            .sql("SELECT incident_id, max(seq) FROM change_log WHERE entity = 'INCIDENT' AND ");
        sql.column_in_ids("incident_id", ids)?;
        sql.push(" GROUP BY incident_id");
        let rows: Vec<(String, i64)> = self.db.run().fetch_all(sql).await?;
        rows.into_iter()
            .map(|(id, seq)| Ok((parse_uuid(&id)?, seq)))
            .collect()
    }
}
