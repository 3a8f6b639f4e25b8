//! Incidents: creating a batch, reading one or a page, amending. The rows of an incident are
//! its `incidents` row (the shared record as JSON plus the columns queries filter on), its
//! types and victims (for the picture), its private annex, and a change-log row per write.

use std::collections::HashMap;

use uuid::Uuid;

use super::audit::{append_audit, audit_failure};
use super::changes::{ChangeKind, insert_changes};
use super::common::{
    admin1_key, decode_json, encode_json, from_sql, parse_enum, parse_timestamp, parse_uuid,
    timestamp_text, to_sql,
};
use super::db::{Sql, Tx};
use super::scope::{and_scope, shown_date};
use super::{Store, StoreError};
use crate::domain::{
    AuditEntry, DatePrecision, IncidentFilter, OrgType, OriginSeal, Received, StoredIncident, Tier,
    Verification, VisibilityScope,
};
use crate::policy::cell_key::RecordKeys;

/// Rows per multi-row INSERT: well under either backend's bind-parameter limit (SQLite 32,766,
/// PostgreSQL 65,535) at 25 columns.
pub(super) const INSERT_CHUNK: usize = 500;

/// The columns an incident is read back from (`i` the incident, `p` its private annex).
pub(super) const SELECT_INCIDENT: &str = "SELECT i.row_id, i.id, i.version, i.origin_org, \
     i.origin_hub, i.origin_org_type, i.reported_at, i.updated_at, i.retraction_reason, \
     i.content, i.received_from, i.received_tier, i.origin_rendering, i.origin_signature, \
     p.content AS private_content \
     FROM incidents i LEFT JOIN incident_private p ON p.incident_id = i.id";

/// What a submit did with one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    Created,
    /// Already stored with the same content by the same org.
    Unchanged {
        version: u64,
    },
    /// The id exists with other content (or belongs to another org).
    Conflict {
        existing_version: u64,
        existing_org: String,
    },
}

/// One incident to create, with the hash of its submission (the idempotency check).
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub incident: StoredIncident,
    pub submit_hash: String,
    /// For SHARING_GROUP incidents, the group's members now (recorded in the change log).
    pub group_members: Option<Vec<String>>,
}

/// A page request over the incidents visible within a scope.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    pub scope: &'a VisibilityScope,
    pub filter: &'a IncidentFilter,
    /// Continue after this row key (from a previous page).
    pub after: Option<i64>,
    pub limit: u32,
}

/// One page of incidents with their row keys, and whether more follow.
#[derive(Debug)]
pub struct ListPage {
    pub rows: Vec<(i64, StoredIncident)>,
    pub more: bool,
}

/// An incident as `SELECT_INCIDENT` reads it.
#[derive(sqlx::FromRow)]
pub(super) struct IncidentRow {
    row_id: i64,
    id: String,
    version: i64,
    origin_org: String,
    origin_hub: String,
    origin_org_type: String,
    reported_at: String,
    updated_at: String,
    retraction_reason: Option<String>,
    content: String,
    received_from: Option<String>,
    received_tier: Option<String>,
    origin_rendering: Option<Vec<u8>>,
    origin_signature: Option<Vec<u8>>,
    private_content: Option<String>,
}

impl IncidentRow {
    pub(super) fn decode(self) -> Result<(i64, StoredIncident), StoreError> {
        let received = match (self.received_from, self.received_tier) {
            (Some(from_hub), Some(tier)) => Some(Received {
                from_hub,
                tier: parse_enum(&tier, Tier::parse, "received tier")?,
                seal: match (self.origin_rendering, self.origin_signature) {
                    (Some(rendering), Some(signature)) => Some(OriginSeal {
                        rendering,
                        signature,
                    }),
                    // Applied before origin signatures: kept, never forwarded.
                    _ => None,
                },
            }),
            (None, None) => None,
            _ => return Err(StoreError::Corrupt("half-recorded foreign origin".into())),
        };
        let incident = StoredIncident {
            id: parse_uuid(&self.id)?,
            version: from_sql(self.version),
            origin_org: self.origin_org,
            origin_hub: self.origin_hub,
            origin_org_type: parse_enum(&self.origin_org_type, OrgType::parse, "origin org type")?,
            reported_at: parse_timestamp(&self.reported_at)?,
            updated_at: parse_timestamp(&self.updated_at)?,
            retraction_reason: self.retraction_reason,
            content: decode_json(&self.content, "incident content")?,
            private: self
                .private_content
                .map(|json| decode_json(&json, "private annex"))
                .transpose()?,
            received,
        };
        Ok((self.row_id, incident))
    }
}

/// The stored state an amendment is checked against.
#[derive(sqlx::FromRow)]
struct CurrentRow {
    row_id: i64,
    version: i64,
    distribution: String,
    sharing_group: Option<String>,
}

impl Store {
    /// Creates a batch atomically: either every CREATED incident and its change-log row is
    /// written, or nothing is. Incidents whose id exists already are reported, not written.
    #[tracing::instrument(name = "store.submit", skip_all)]
    pub async fn submit(
        &self,
        batch: &[NewIncident],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<SubmitOutcome>, StoreError> {
        self.retrying(|| self.submit_once(batch, audit)).await
    }

    async fn submit_once(
        &self,
        batch: &[NewIncident],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<SubmitOutcome>, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let ids: Vec<Uuid> = batch.iter().map(|item| item.incident.id).collect();
        let mut existing = existing_submissions(&mut tx, &ids).await?;
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
            insert_incidents(&mut tx, chunk, self.record_keys.as_deref()).await?;
        }
        if !to_create.is_empty() {
            tx.notify_changes().await?;
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

    /// One incident with its private annex.
    #[tracing::instrument(name = "store.get", skip_all)]
    pub async fn get(&self, id: Uuid) -> Result<Option<StoredIncident>, StoreError> {
        let sql = self
            .db
            .sql(&format!("{SELECT_INCIDENT} WHERE i.id = $1"))
            .arg(id.to_string());
        let row: Option<IncidentRow> = self.db.run().fetch_optional(sql).await?;
        Ok(row.map(IncidentRow::decode).transpose()?.map(|(_, i)| i))
    }

    /// The current state of several incidents (missing ids are left out).
    #[tracing::instrument(name = "store.get_many", skip_all)]
    pub async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<StoredIncident>, StoreError> {
        let mut sql = self.db.sql(SELECT_INCIDENT);
        sql.push(" WHERE ");
        sql.column_in_ids("i.id", ids)?;
        let rows: Vec<IncidentRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(|row| Ok(row.decode()?.1)).collect()
    }

    /// A page of incidents within the scope matching the filter, in row order.
    #[tracing::instrument(name = "store.list", skip_all)]
    pub async fn list(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        let mut sql = self.db.sql(SELECT_INCIDENT);
        sql.push(" WHERE i.row_id > ")
            .bind(query.after.unwrap_or(0));
        and_scope(&mut sql, query.scope);
        and_filter(&mut sql, query.scope, query.filter);
        sql.push(" ORDER BY i.row_id LIMIT ");
        // One extra row tells whether another page follows.
        sql.bind(i64::from(query.limit) + 1);
        let rows: Vec<IncidentRow> = self.db.run().fetch_all(sql).await?;
        let more = rows.len() > query.limit as usize;
        let rows = rows
            .into_iter()
            .take(query.limit as usize)
            .map(IncidentRow::decode)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ListPage { rows, more })
    }

    /// Replaces an incident if its stored version is `expected_version`; `incident.version`
    /// must already be the new version. Appends a change-log entry of `kind`.
    #[tracing::instrument(name = "store.update", skip_all)]
    pub async fn update(
        &self,
        incident: &StoredIncident,
        expected_version: u64,
        kind: ChangeKind,
        group_members: Option<Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let members = group_members.as_ref();
        self.retrying(|| self.update_once(incident, expected_version, kind, members, audit))
            .await
    }

    async fn update_once(
        &self,
        incident: &StoredIncident,
        expected_version: u64,
        kind: ChangeKind,
        group_members: Option<&Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        let sql = tx
            .sql("SELECT row_id, version, distribution, sharing_group FROM incidents WHERE id = $1")
            .arg(incident.id.to_string());
        let current: CurrentRow = tx
            .run()
            .fetch_optional(sql)
            .await?
            .ok_or(StoreError::NotFound)?;
        let current_version = from_sql(current.version);
        if current_version != expected_version {
            return Err(StoreError::VersionMismatch {
                current: current_version,
            });
        }
        let content = &incident.content;
        let distribution_changed = current.distribution != content.distribution.as_str()
            || current.sharing_group != content.sharing_group;
        update_row(&mut tx, current.row_id, incident, RowUpdate::Local).await?;
        let sql = tx
            .sql("DELETE FROM incident_private WHERE incident_id = $1")
            .arg(incident.id.to_string());
        tx.run().execute(sql).await?;
        insert_private(&mut tx, &[incident]).await?;
        insert_changes(
            &mut tx,
            &[(incident, group_members)],
            kind,
            distribution_changed,
        )
        .await?;
        tx.notify_changes().await?;
        if let Some(entry) = audit {
            append_audit(&mut tx, entry).await.map_err(audit_failure)?;
        }
        tx.commit().await?;
        self.notify_change();
        Ok(())
    }
}

/// What is stored under each id of `ids` already: (submit hash, version, origin org).
impl Store {
    /// Those of `ids` that name incidents `org` itself submitted here (not foreign copies).
    /// Only the caller's own records answer, so this tells it nothing about anyone else's.
    pub async fn own_local_ids(&self, org: &str, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = self.db.sql("SELECT id FROM incidents WHERE ");
        sql.column_in_ids("id", ids)?;
        sql.push(" AND received_from IS NULL AND origin_org = ")
            .bind(org.to_string());
        let rows: Vec<(String,)> = self.db.run().fetch_all(sql).await?;
        rows.iter().map(|(id,)| parse_uuid(id)).collect()
    }
}

async fn existing_submissions(
    tx: &mut Tx,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (String, u64, String)>, StoreError> {
    let mut sql = tx.sql("SELECT id, submit_hash, version, origin_org FROM incidents WHERE ");
    sql.column_in_ids("id", ids)?;
    let rows: Vec<(String, String, i64, String)> = tx.run().fetch_all(sql).await?;
    rows.into_iter()
        .map(|(id, hash, version, org)| Ok((parse_uuid(&id)?, (hash, from_sql(version), org))))
        .collect()
}

/// ` AND ...`: the list filter. Dates compare at the precision the viewer is shown, never finer.
fn and_filter(sql: &mut Sql, scope: &VisibilityScope, filter: &IncidentFilter) {
    sql.and_in("i.country", filter.countries.clone());
    sql.and_in("i.admin1_key", filter.admin1.clone());
    for (bound, operator) in [(filter.occurred_from, " >= "), (filter.occurred_to, " <= ")] {
        let Some(bound) = bound else { continue };
        sql.push(" AND ");
        shown_date(sql, scope);
        sql.push(operator).bind(bound.to_string());
    }
    let categories = filter.threat_categories.iter();
    sql.and_in(
        "i.threat_category",
        categories.map(|c| c.as_str().to_string()).collect(),
    );
    if filter.verifications.is_empty() {
        sql.push(" AND i.verification <> ")
            .bind(Verification::Retracted.as_str());
    } else {
        let verifications = filter.verifications.iter();
        sql.and_in(
            "i.verification",
            verifications.map(|v| v.as_str().to_string()).collect(),
        );
    }
    sql.and_in("i.origin_org", filter.origin_orgs.clone());
    if !filter.origin_orgs.is_empty() && !scope.others_origin_visible {
        // The origin of other orgs' incidents is above this viewer's tier: filtering on it
        // may only ever match the viewer's own incidents.
        sql.push(" AND i.received_from IS NULL AND i.origin_org = ")
            .bind(scope.own_org.clone().unwrap_or_default());
    }
    if !filter.incident_types.is_empty() {
        sql.push(
            " AND i.row_id IN (SELECT incident_row FROM incident_types WHERE incident_type IN (",
        );
        sql.bind_list(filter.incident_types.iter().map(|kind| kind.as_str()));
        sql.push("))");
    }
}

/// Which columns an update rewrites: a local amendment keeps the origin; a foreign copy takes
/// the whole incoming version, origin and provenance included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowUpdate {
    Local,
    Foreign,
}

/// Rewrites the incident row `row_id` and its types and victims to `incident`.
pub(super) async fn update_row(
    tx: &mut Tx,
    row_id: i64,
    incident: &StoredIncident,
    update: RowUpdate,
) -> Result<(), StoreError> {
    let content = &incident.content;
    let mut sql = tx.sql("UPDATE incidents SET version = ");
    sql.bind(to_sql(incident.version));
    if update == RowUpdate::Foreign {
        let received = incident
            .received
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("foreign incident without origin".into()))?;
        sql.push(", origin_org = ").bind(&incident.origin_org);
        sql.push(", origin_org_type = ")
            .bind(incident.origin_org_type.as_str());
        sql.push(", reported_at = ")
            .bind(timestamp_text(incident.reported_at)?);
        sql.push(", received_from = ").bind(&received.from_hub);
        sql.push(", received_tier = ").bind(received.tier.as_str());
        let seal = received.seal.as_ref();
        sql.push(", origin_rendering = ")
            .bind(seal.map(|seal| seal.rendering.clone()));
        sql.push(", origin_signature = ")
            .bind(seal.map(|seal| seal.signature.clone()));
    }
    sql.push(", updated_at = ")
        .bind(timestamp_text(incident.updated_at)?);
    sql.push(", country = ").bind(&content.country);
    sql.push(", admin1_key = ").bind(admin1_key(content));
    sql.push(", occurred_on = ")
        .bind(content.occurred_on.to_string());
    for (column, precision) in DATE_COLUMNS {
        sql.push(", ").push(column).push(" = ");
        sql.bind(content.date_at(precision).to_string());
    }
    sql.push(", threat_category = ")
        .bind(content.threat_category.as_str());
    sql.push(", verification = ")
        .bind(content.verification.as_str());
    sql.push(", distribution = ")
        .bind(content.distribution.as_str());
    sql.push(", sharing_group = ").bind(&content.sharing_group);
    sql.push(", tlp = ").bind(content.tlp.as_str());
    sql.push(", retraction_reason = ")
        .bind(&incident.retraction_reason);
    sql.push(", content = ").bind(encode_json(content)?);
    sql.push(" WHERE row_id = ").bind(row_id);
    tx.run().execute(sql).await?;
    delete_details(tx, row_id).await?;
    insert_types(tx, &[(row_id, incident)]).await?;
    insert_victims(tx, &[(row_id, incident)]).await
}

/// The coarsened occurrence dates kept beside the exact one (what viewers below its tier see).
const DATE_COLUMNS: [(&str, DatePrecision); 3] = [
    ("occurred_week", DatePrecision::Week),
    ("occurred_month", DatePrecision::Month),
    ("occurred_year", DatePrecision::Year),
];

/// Deletes an incident row's types and victims.
pub(super) async fn delete_details(tx: &mut Tx, row_id: i64) -> Result<(), StoreError> {
    for table in ["incident_types", "incident_victims"] {
        let sql = tx
            .sql(&format!("DELETE FROM {table} WHERE incident_row = $1"))
            .arg(row_id);
        tx.run().execute(sql).await?;
    }
    Ok(())
}

/// Inserts a batch of new incidents with their types, victims, private annexes and CREATE
/// change-log rows.
pub(super) async fn insert_incidents(
    tx: &mut Tx,
    batch: &[&NewIncident],
    record_keys: Option<&RecordKeys>,
) -> Result<(), StoreError> {
    let mut sql = tx.sql(
        "INSERT INTO incidents (id, version, origin_org, origin_hub, origin_org_type, \
         reported_at, updated_at, country, admin1_key, occurred_on, occurred_week, \
         occurred_month, occurred_year, threat_category, verification, distribution, \
         sharing_group, tlp, retraction_reason, submit_hash, content, received_from, \
         received_tier, origin_rendering, origin_signature, record_key)",
    );
    let mut encoded = Vec::with_capacity(batch.len());
    for item in batch {
        let incident = &item.incident;
        encoded.push((
            *item,
            timestamp_text(incident.reported_at)?,
            timestamp_text(incident.updated_at)?,
            encode_json(&incident.content)?,
        ));
    }
    sql.values(
        &encoded,
        |row, (item, reported_at, updated_at, content_json)| {
            let incident = &item.incident;
            let content = &incident.content;
            let received = incident.received.as_ref();
            row.bind(incident.id.to_string())
                .bind(to_sql(incident.version))
                .bind(&incident.origin_org)
                .bind(&incident.origin_hub)
                .bind(incident.origin_org_type.as_str())
                .bind(reported_at)
                .bind(updated_at)
                .bind(&content.country)
                .bind(admin1_key(content))
                .bind(content.occurred_on.to_string());
            for (_, precision) in DATE_COLUMNS {
                row.bind(content.date_at(precision).to_string());
            }
            row.bind(content.threat_category.as_str())
                .bind(content.verification.as_str())
                .bind(content.distribution.as_str())
                .bind(&content.sharing_group)
                .bind(content.tlp.as_str())
                .bind(&incident.retraction_reason)
                .bind(&item.submit_hash)
                .bind(content_json)
                .bind(received.map(|r| r.from_hub.clone()))
                .bind(received.map(|r| r.tier.as_str()))
                .bind(received.and_then(|r| r.seal.as_ref().map(|seal| seal.rendering.clone())))
                .bind(received.and_then(|r| r.seal.as_ref().map(|seal| seal.signature.clone())))
                .bind(record_keys.map(|keys| i64::from(keys.key(&incident.id.to_string()).0)));
        },
    );
    sql.push(" RETURNING row_id, id");
    let returned: Vec<(i64, String)> = tx.run().fetch_all(sql).await?;
    let mut row_ids: HashMap<Uuid, i64> = HashMap::with_capacity(batch.len());
    for (row_id, id) in returned {
        row_ids.insert(parse_uuid(&id)?, row_id);
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
    insert_changes(tx, &changes, ChangeKind::Create, false).await
}

async fn insert_types(tx: &mut Tx, incidents: &[(i64, &StoredIncident)]) -> Result<(), StoreError> {
    let pairs: Vec<(i64, &'static str)> = incidents
        .iter()
        .flat_map(|(row_id, incident)| {
            let types = incident.content.incident_types.iter();
            types.map(move |kind| (*row_id, kind.as_str()))
        })
        .collect();
    for chunk in pairs.chunks(INSERT_CHUNK * 4) {
        let mut sql = tx.sql("INSERT INTO incident_types (incident_row, incident_type)");
        sql.values(chunk, |row, (row_id, kind)| {
            row.bind(*row_id).bind(*kind);
        });
        tx.run().execute(sql).await?;
    }
    Ok(())
}

async fn insert_victims(
    tx: &mut Tx,
    incidents: &[(i64, &StoredIncident)],
) -> Result<(), StoreError> {
    let rows: Vec<(i64, &crate::domain::VictimCount)> = incidents
        .iter()
        .flat_map(|(row_id, incident)| {
            let victims = incident.content.victims.iter();
            victims.map(move |victim| (*row_id, victim))
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql =
            tx.sql("INSERT INTO incident_victims (incident_row, outcome, staff, sex, count)");
        sql.values(chunk, |row, (row_id, victim)| {
            row.bind(*row_id)
                .bind(victim.outcome.as_str())
                .bind(victim.staff.as_str())
                .bind(victim.sex.as_str())
                .bind(i64::from(victim.count));
        });
        tx.run().execute(sql).await?;
    }
    Ok(())
}

async fn insert_private(tx: &mut Tx, incidents: &[&StoredIncident]) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for incident in incidents {
        if let Some(private) = incident.private.as_ref().filter(|p| !p.is_empty()) {
            rows.push((incident.id.to_string(), encode_json(private)?));
        }
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut sql = tx.sql("INSERT INTO incident_private (incident_id, content)");
        sql.values(chunk, |row, (id, content)| {
            row.bind(id).bind(content);
        });
        tx.run().execute(sql).await?;
    }
    Ok(())
}
