//! What the record rule decided for each incident of a population, and the change-log entries
//! that tell mirrors and peers when a decision changes (`record_classes`).

use uuid::Uuid;

use super::changes::CHANGE_COLUMNS;
use super::common::{now_text, parse_uuid};
use super::db::{Sql, Tx};
use super::incidents::{IncidentRow, SELECT_INCIDENT};
use super::{Store, StoreError};
use crate::domain::{Distribution, StoredIncident};

/// The hub_meta key that says when the record rule first ran on this database.
const RULE_STARTED_KEY: &str = "record-rule-started";

/// How many decisions one statement writes.
const RENDERINGS_PER_STATEMENT: usize = 500;

impl Store {
    /// A page of the incidents shared under one of `distributions` (and, when given, with
    /// `sharing_group`), in row order after `after`.
    #[tracing::instrument(name = "store.shared_page", skip_all)]
    pub async fn shared_page(
        &self,
        distributions: &[Distribution],
        sharing_group: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, StoredIncident)>, StoreError> {
        let mut sql = self.db.sql(SELECT_INCIDENT);
        sql.push(" WHERE i.row_id > ").bind(after);
        sql.and_in(
            "i.distribution",
            distributions
                .iter()
                .map(|distribution| distribution.as_str().to_string())
                .collect(),
        );
        if let Some(group) = sharing_group {
            sql.push(" AND i.sharing_group = ").bind(group.to_string());
        }
        sql.push(" ORDER BY i.row_id LIMIT ").bind(i64::from(limit));
        let rows: Vec<IncidentRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(IncidentRow::decode).collect()
    }

    /// The decisions recorded for a population, by incident.
    pub async fn renderings(&self, population: &str) -> Result<Vec<(Uuid, String)>, StoreError> {
        let sql = self
            .db
            .sql("SELECT incident_id, rendering FROM record_renderings WHERE population = $1")
            .arg(population.to_string());
        let rows: Vec<(String, String)> = self.db.run().fetch_all(sql).await?;
        rows.into_iter()
            .map(|(id, rendering)| Ok((parse_uuid(&id)?, rendering)))
            .collect()
    }

    /// Records changed decisions and, in the same transaction, an ACCESS change for each
    /// incident whose decision changed from one recorded before (a first decision needs none:
    /// the incident's own change is in the log). Returns the ACCESS changes appended.
    pub async fn record_renderings(
        &self,
        population: &str,
        changed: &[(Uuid, String, bool)],
    ) -> Result<u64, StoreError> {
        self.retrying(|| self.record_renderings_once(population, changed))
            .await
    }

    async fn record_renderings_once(
        &self,
        population: &str,
        changed: &[(Uuid, String, bool)],
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        for chunk in changed.chunks(RENDERINGS_PER_STATEMENT) {
            let mut sql =
                tx.sql("INSERT INTO record_renderings (population, incident_id, rendering)");
            sql.values(chunk, |row, (id, rendering, _)| {
                row.bind(population.to_string())
                    .bind(id.to_string())
                    .bind(rendering.clone());
            });
            sql.push(" ON CONFLICT (population, incident_id) DO UPDATE SET rendering = excluded.rendering");
            tx.run().execute(sql).await?;
        }
        let touched: Vec<Uuid> = changed
            .iter()
            .filter(|(_, _, was_recorded)| *was_recorded)
            .map(|(id, _, _)| *id)
            .collect();
        let mut appended = 0;
        let now = now_text()?;
        for chunk in touched.chunks(RENDERINGS_PER_STATEMENT) {
            let mut sql = access_changes_where(&tx, now.clone());
            sql.column_in_ids("id", chunk)?;
            sql.push(" ORDER BY row_id");
            appended += tx.run().execute(sql).await?;
        }
        if appended > 0 {
            tx.notify_changes().await?;
        }
        tx.commit().await?;
        if appended > 0 {
            self.notify_change();
        }
        Ok(appended)
    }

    /// Once per database: records every incident shared beyond its org under `legacy` and
    /// appends an ACCESS change for each, in one transaction; nothing when done before.
    /// Returns the ACCESS changes appended.
    pub async fn begin_record_rule(&self, legacy: &str) -> Result<u64, StoreError> {
        self.retrying(|| self.begin_record_rule_once(legacy)).await
    }

    async fn begin_record_rule_once(&self, legacy: &str) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let claim = tx
            .sql("INSERT INTO hub_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .arg(RULE_STARTED_KEY.to_string())
            .arg(now_text()?);
        if tx.run().execute(claim).await? == 0 {
            tx.commit().await?;
            return Ok(0);
        }
        let record = tx
            .sql(&format!(
                "INSERT INTO record_renderings (population, incident_id, rendering) \
                 SELECT $1, id, 'r' FROM incidents WHERE {SHARED} ON CONFLICT (population, incident_id) DO NOTHING"
            ))
            .arg(legacy.to_string());
        tx.run().execute(record).await?;
        let mut touch = access_changes_where(&tx, now_text()?);
        touch.push(&format!("{SHARED} ORDER BY row_id"));
        let appended = tx.run().execute(touch).await?;
        if appended > 0 {
            tx.notify_changes().await?;
        }
        tx.commit().await?;
        if appended > 0 {
            self.notify_change();
        }
        Ok(appended)
    }
}

/// The incidents shared beyond their organisation (a WHERE condition on `incidents`).
const SHARED: &str = "distribution <> 'ORG_ONLY'";

/// An INSERT of an ACCESS change for each incident a condition appended to it selects (the
/// incident as it stands, its sharing state now): the statement up to `FROM incidents WHERE `.
fn access_changes_where(tx: &Tx, now: String) -> Sql {
    let mut sql = tx.sql(&format!(
        "INSERT INTO change_log ({CHANGE_COLUMNS}) \
         SELECT id, version, 'ACCESS', origin_org, origin_hub, distribution, sharing_group, \
         NULL, tlp, FALSE, "
    ));
    sql.bind(now)
        .push(", 'INCIDENT', country, threat_category FROM incidents WHERE ");
    sql
}
