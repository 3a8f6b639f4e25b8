//! The change log: one row per write, in commit order, with who could see the record after it.
//! The feed reads it; sharing-group changes append ACCESS rows to it.

use uuid::Uuid;

use super::common::{decode_json, encode_json, from_sql, now_text, parse_enum, parse_uuid};
use super::common::{timestamp_text, to_sql};
use super::db::Tx;
use super::{Store, StoreError};
use crate::domain::{Distribution, StoredIncident, ThreatCategory, Tlp};

/// The kind of a change-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Amend,
    Retract,
    /// Who may see it changed without the incident changing (sharing-group membership).
    Access,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "CREATE",
            ChangeKind::Amend => "AMEND",
            ChangeKind::Retract => "RETRACT",
            ChangeKind::Access => "ACCESS",
        }
    }

    pub fn parse(text: &str) -> Option<ChangeKind> {
        [
            ChangeKind::Create,
            ChangeKind::Amend,
            ChangeKind::Retract,
            ChangeKind::Access,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// What a change-log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Incident,
    Advisory,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Incident => "INCIDENT",
            Entity::Advisory => "ADVISORY",
        }
    }

    pub fn parse(text: &str) -> Option<Entity> {
        [Entity::Incident, Entity::Advisory]
            .into_iter()
            .find(|entity| entity.as_str() == text)
    }
}

/// One change-log entry: which incident (or advisory) changed, in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub seq: i64,
    /// The incident's id, or the advisory's when `entity` is `Advisory`.
    pub incident_id: Uuid,
    pub kind: ChangeKind,
    pub entity: Entity,
}

/// Who could see an incident after one of its writes (from the change log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingSnapshot {
    pub incident_id: Uuid,
    pub origin_org: String,
    pub origin_hub: String,
    pub distribution: Distribution,
    pub sharing_group: Option<String>,
    /// The group's members at that time (SHARING_GROUP only).
    pub group_members: Option<Vec<String>>,
    pub tlp: Tlp,
    /// Where it was filed at that version; `None` when the entry does not say (older entries).
    pub country: Option<String>,
    pub threat_category: Option<ThreatCategory>,
}

#[derive(sqlx::FromRow)]
struct SharingRow {
    incident_id: String,
    origin_org: String,
    origin_hub: String,
    distribution: String,
    sharing_group: Option<String>,
    group_members: Option<String>,
    tlp: String,
    country: Option<String>,
    threat_category: Option<String>,
}

impl SharingRow {
    fn decode(self) -> Result<SharingSnapshot, StoreError> {
        Ok(SharingSnapshot {
            incident_id: parse_uuid(&self.incident_id)?,
            origin_org: self.origin_org,
            origin_hub: self.origin_hub,
            distribution: parse_enum(&self.distribution, Distribution::parse, "distribution")?,
            sharing_group: self.sharing_group,
            group_members: self
                .group_members
                .map(|json| decode_json(&json, "group members"))
                .transpose()?,
            tlp: parse_enum(&self.tlp, Tlp::parse, "tlp")?,
            country: self.country,
            threat_category: self
                .threat_category
                .map(|text| parse_enum(&text, ThreatCategory::parse, "threat_category"))
                .transpose()?,
        })
    }
}

/// The change-log columns every insert names, in this order.
pub(super) const CHANGE_COLUMNS: &str = "incident_id, version, kind, origin_org, origin_hub, \
     distribution, sharing_group, group_members, tlp, distribution_changed, recorded_at, entity, \
     country, threat_category";

/// The hub_meta key prefix under which each sharing group's last recorded membership is kept.
const GROUP_MEMBERS_KEY: &str = "group-members:";

impl Store {
    /// The newest change-log sequence number (0 when empty).
    #[tracing::instrument(name = "store.max_seq", skip_all)]
    pub async fn max_seq(&self) -> Result<i64, StoreError> {
        let sql = self.db.sql("SELECT max(seq) FROM change_log");
        let row: Option<(Option<i64>,)> = self.db.run().fetch_optional(sql).await?;
        Ok(row.and_then(|(seq,)| seq).unwrap_or(0))
    }

    /// Up to `limit` change-log entries after `after`, in commit order.
    #[tracing::instrument(name = "store.changes_after", skip_all)]
    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let sql = self
            .db
            .sql(
                "SELECT seq, incident_id, kind, entity FROM change_log WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
            )
            .arg(after)
            .arg(i64::from(limit));
        let rows: Vec<(i64, String, String, String)> = self.db.run().fetch_all(sql).await?;
        rows.into_iter()
            .map(|(seq, id, kind, entity)| {
                Ok(ChangeRow {
                    seq,
                    incident_id: parse_uuid(&id)?,
                    kind: parse_enum(&kind, ChangeKind::parse, "change kind")?,
                    entity: parse_enum(&entity, Entity::parse, "change entity")?,
                })
            })
            .collect()
    }

    /// The distinct sharing states each incident (or advisory, by `entity`) had in the log,
    /// up to `up_to`.
    pub async fn sharing_history(
        &self,
        entity: Entity,
        ids: &[Uuid],
        up_to: i64,
    ) -> Result<Vec<SharingSnapshot>, StoreError> {
        let mut sql = self.db.sql(
            "SELECT DISTINCT incident_id, origin_org, origin_hub, distribution, sharing_group, \
             group_members, tlp, country, threat_category FROM change_log WHERE seq <= ",
        );
        sql.bind(up_to).push(" AND entity = ").bind(entity.as_str());
        sql.push(" AND ");
        sql.column_in_ids("incident_id", ids)?;
        let rows: Vec<SharingRow> = self.db.run().fetch_all(sql).await?;
        rows.into_iter().map(SharingRow::decode).collect()
    }

    /// Records the sharing groups' current membership. For every group whose members changed
    /// since the last call (or that is gone), appends an ACCESS change for each of its
    /// incidents and advisories, so the feed re-decides who may see them (and REVOKEs from
    /// former members).
    pub async fn record_group_membership(
        &self,
        groups: &[(String, Vec<String>)],
    ) -> Result<u64, StoreError> {
        self.retrying(|| self.record_group_membership_once(groups))
            .await
    }

    /// Records `value` under `key` in the hub's metadata unless a value is there already;
    /// returns the value in force (for settings that must never change under a database).
    pub async fn pin_meta(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let insert = tx
            .sql("INSERT INTO hub_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .arg(key.to_string())
            .arg(value.to_string());
        tx.run().execute(insert).await?;
        let select = tx
            .sql("SELECT value FROM hub_meta WHERE key = $1")
            .arg(key.to_string());
        let pinned: Option<(String,)> = tx.run().fetch_optional(select).await?;
        tx.commit().await?;
        pinned
            .map(|(value,)| value)
            .ok_or_else(|| StoreError::Corrupt(format!("hub_meta {key} vanished")))
    }

    async fn record_group_membership_once(
        &self,
        groups: &[(String, Vec<String>)],
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let sql = tx
            .sql("SELECT key, value FROM hub_meta WHERE key LIKE $1")
            .arg(format!("{GROUP_MEMBERS_KEY}%"));
        let recorded: Vec<(String, String)> = tx.run().fetch_all(sql).await?;
        let now = now_text()?;
        let mut appended = 0;
        for (key, members) in membership_now(groups, &recorded)? {
            let before = recorded.iter().find(|(known, _)| *known == key);
            if before.is_some_and(|(_, value)| *value == members) {
                continue;
            }
            if before.is_some() {
                let group = key.trim_start_matches(GROUP_MEMBERS_KEY);
                appended += append_access_changes(&mut tx, group, &members, &now).await?;
            }
            let sql = tx
                .sql(
                    "INSERT INTO hub_meta (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .arg(key)
                .arg(members);
            tx.run().execute(sql).await?;
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

    /// Change-log entries per incident id (for tests and the bench: how often each was
    /// written here).
    pub async fn change_counts(&self) -> Result<Vec<(Uuid, u64)>, StoreError> {
        let sql = self.db.sql(
            "SELECT incident_id, count(*) AS n FROM change_log GROUP BY incident_id \
             ORDER BY incident_id",
        );
        let rows: Vec<(String, i64)> = self.db.run().fetch_all(sql).await?;
        rows.into_iter()
            .map(|(id, n)| Ok((parse_uuid(&id)?, from_sql(n))))
            .collect()
    }
}

/// Each group's (hub_meta key, members as sorted JSON) now; groups that are gone have no
/// members any more.
fn membership_now(
    groups: &[(String, Vec<String>)],
    recorded: &[(String, String)],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut current: Vec<(String, String)> = Vec::with_capacity(groups.len());
    for (group, members) in groups {
        let mut members = members.clone();
        members.sort();
        members.dedup();
        current.push((
            format!("{GROUP_MEMBERS_KEY}{group}"),
            encode_json(&members)?,
        ));
    }
    for (key, _) in recorded {
        if !current.iter().any(|(known, _)| known == key) {
            current.push((key.clone(), "[]".to_string()));
        }
    }
    Ok(current)
}

/// An ACCESS change for every incident and advisory shared with `group`, carrying its members.
async fn append_access_changes(
    tx: &mut Tx,
    group: &str,
    members: &str,
    now: &str,
) -> Result<u64, StoreError> {
    let mut appended = 0;
    // (The advisories table has no category column; NULL reads as "unknown".)
    for (table, entity, category) in [
        ("incidents", "INCIDENT", "threat_category"),
        ("advisories", "ADVISORY", "NULL"),
    ] {
        let sql = tx
            .sql(&format!(
                "INSERT INTO change_log ({CHANGE_COLUMNS}) \
                 SELECT id, version, 'ACCESS', origin_org, origin_hub, distribution, \
                 sharing_group, $1, tlp, FALSE, $2, '{entity}', country, {category} FROM {table} \
                 WHERE distribution = 'SHARING_GROUP' AND sharing_group = $3 ORDER BY row_id"
            ))
            .arg(members)
            .arg(now)
            .arg(group);
        appended += tx.run().execute(sql).await?;
    }
    Ok(appended)
}

/// Appends change-log rows; each with the group's members when it is a SHARING_GROUP incident.
pub(super) async fn insert_changes(
    tx: &mut Tx,
    changes: &[(&StoredIncident, Option<&Vec<String>>)],
    kind: ChangeKind,
    distribution_changed: bool,
) -> Result<(), StoreError> {
    let mut rows = Vec::with_capacity(changes.len());
    for (incident, members) in changes {
        let members = members.map(encode_json).transpose()?;
        rows.push((incident, members, timestamp_text(incident.updated_at)?));
    }
    for chunk in rows.chunks(super::incidents::INSERT_CHUNK) {
        let mut sql = tx.sql(&format!("INSERT INTO change_log ({CHANGE_COLUMNS})"));
        sql.values(chunk, |row, (incident, members, recorded_at)| {
            let content = &incident.content;
            row.bind(incident.id.to_string())
                .bind(to_sql(incident.version))
                .bind(kind.as_str())
                .bind(&incident.origin_org)
                .bind(&incident.origin_hub)
                .bind(content.distribution.as_str())
                .bind(&content.sharing_group)
                .bind(members)
                .bind(content.tlp.as_str())
                .bind(distribution_changed)
                .bind(recorded_at)
                .bind(Entity::Incident.as_str())
                .bind(&content.country)
                .bind(content.threat_category.as_str());
        });
        tx.run().execute(sql).await?;
    }
    Ok(())
}
