//! Persistence. `Store` is the one handle the API layer uses; behind it sits a backend (SQLite
//! for one process, PostgreSQL for one or several hub replicas), chosen by the database URL. All SQL lives below this
//! module. The store never decides access: it is handed a `VisibilityScope` by the caller.
//!
//! Every write appends its change-log row in the same transaction, so the change feed can never
//! disagree with the incidents table.

mod common;
mod postgres;
mod sqlite;

pub use postgres::PgTuning;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEntry;
use crate::domain::{
    Distribution, IncidentFilter, PictureQuery, Sex, StaffCategory, StoredAdvisory, StoredIncident,
    Tlp, VictimOutcome, VisibilityScope,
};
use slt_proto::v1 as pb;

/// Errors from the store. Messages never include incident content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL '{0}' (expected sqlite://PATH or postgres://...)")]
    UnsupportedUrl(String),
    /// A database URL the hub understands but whose parameters are wrong (names the parameter).
    #[error("{0}")]
    BadUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read back ({0}); the database may be damaged")]
    Corrupt(String),
    #[error("incident not found")]
    NotFound,
    #[error("version mismatch: the incident is at version {current}")]
    VersionMismatch { current: u64 },
    /// The access log could not be appended to: the call must fail (fail closed).
    #[error("the access log cannot be written: {0}")]
    Audit(String),
}

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

/// Incidents of one area x group x date bucket (threat picture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureCountRow {
    pub country: String,
    /// Lower-cased admin1 name ("" when none, or when grouping by country).
    pub admin1: String,
    /// The group's stable name, or "ALL".
    pub group: String,
    /// The bucket of the date as the viewer is shown it (see `PictureQuery::bucket`).
    pub bucket: String,
    pub incidents: u64,
}

/// Victims of one area x group x date bucket x outcome x staff category x sex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureVictimRow {
    pub country: String,
    pub admin1: String,
    pub group: String,
    pub bucket: String,
    pub outcome: VictimOutcome,
    pub staff: StaffCategory,
    pub sex: Sex,
    pub victims: u64,
}

/// Which advisories a caller lists (within its scope).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisoryFilter {
    /// ISO alpha-3 codes; empty: all.
    pub countries: Vec<String>,
    /// Only those in force on this day.
    pub valid_on: Option<time::Date>,
}

/// Most advisories one list returns (they are few; the newest first).
pub const MAX_ADVISORIES: u32 = 5_000;

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

/// One change pulled from a peer hub, ready to apply.
#[derive(Debug, Clone)]
pub enum FederatedChange {
    /// A new or newer version (retractions included) of a foreign incident, as we may keep it.
    Upsert(Box<StoredIncident>),
    /// The peer no longer shares this incident with us.
    Revoke(Uuid),
}

/// One page from a peer, applied in one transaction with the cursor after it.
#[derive(Debug, Clone)]
pub struct FederatedPage<'a> {
    /// This hub's id: its own incidents coming back are never applied.
    pub local_hub: &'a str,
    pub peer: &'a str,
    pub changes: Vec<FederatedChange>,
    /// The peer's cursor after this page.
    pub cursor: &'a str,
    /// Log entries the peer says remain after this page.
    pub remaining: u64,
    /// Records the caller refused before the store saw them (undecodable, not federable).
    pub withheld: u64,
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

/// The hub's database.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    /// `sqlite://PATH` (relative paths resolve against the working directory), or
    /// `postgres://...` / `postgresql://...` (the hub's tuning parameters in `PgTuning`).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let backend = sqlite::SqliteStore::open(path).await?;
            return Ok(Store {
                backend: Backend::Sqlite(backend),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let backend = postgres::PostgresStore::open(url).await?;
            return Ok(Store {
                backend: Backend::Postgres(backend),
            });
        }
        // Never echo a URL that might carry a password.
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        Err(StoreError::UnsupportedUrl(format!("{scheme}://...")))
    }

    /// Which backend this store runs on ("sqlite" or "postgres").
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Creates a batch atomically: either every CREATED incident and its change-log row is
    /// written, or nothing is. Incidents whose id exists already are reported, not written.
    pub async fn submit(
        &self,
        batch: &[NewIncident],
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<SubmitOutcome>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.submit(batch, audit).await,
            Backend::Postgres(store) => store.submit(batch, audit).await,
        }
    }

    /// One incident with its private annex.
    pub async fn get(&self, id: Uuid) -> Result<Option<StoredIncident>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.get(id).await,
            Backend::Postgres(store) => store.get(id).await,
        }
    }

    /// A page of incidents within the scope matching the filter, in row order.
    pub async fn list(&self, query: &ListQuery<'_>) -> Result<ListPage, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.list(query).await,
            Backend::Postgres(store) => store.list(query).await,
        }
    }

    /// Replaces an incident if its stored version is `expected_version`; `incident.version`
    /// must already be the new version. Appends a change-log entry of `kind`.
    pub async fn update(
        &self,
        incident: &StoredIncident,
        expected_version: u64,
        kind: ChangeKind,
        group_members: Option<Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => {
                store
                    .update(incident, expected_version, kind, group_members, audit)
                    .await
            }
            Backend::Postgres(store) => {
                store
                    .update(incident, expected_version, kind, group_members, audit)
                    .await
            }
        }
    }

    /// Appends one record to the access log in its own transaction.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.record_audit(entry).await,
            Backend::Postgres(store) => store.record_audit(entry).await,
        }
    }

    /// The chain's head: (seq, hash) of the last record.
    pub async fn audit_head(&self) -> Result<Option<(u64, String)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.audit_head().await,
            Backend::Postgres(store) => store.audit_head().await,
        }
    }

    /// Records in seq order from `from_seq`, at most `limit`, matching `filter`.
    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<pb::AuditRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.audit_records(filter, from_seq, limit).await,
            Backend::Postgres(store) => store.audit_records(filter, from_seq, limit).await,
        }
    }

    pub async fn checkpoints(&self) -> Result<Vec<pb::Checkpoint>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.checkpoints().await,
            Backend::Postgres(store) => store.checkpoints().await,
        }
    }

    pub async fn last_checkpoint_seq(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.last_checkpoint_seq().await,
            Backend::Postgres(store) => store.last_checkpoint_seq().await,
        }
    }

    pub async fn add_checkpoint(
        &self,
        seq: u64,
        hash: &str,
        time: &str,
        signature: &str,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.add_checkpoint(seq, hash, time, signature).await,
            Backend::Postgres(store) => store.add_checkpoint(seq, hash, time, signature).await,
        }
    }

    /// Records the sharing groups' current membership. For every group whose members changed
    /// since the last call (or that is gone), appends an ACCESS change for each of its
    /// incidents, so the feed re-decides who may see them (and REVOKEs from former members).
    pub async fn record_group_membership(
        &self,
        groups: &[(String, Vec<String>)],
    ) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.record_group_membership(groups).await,
            Backend::Postgres(store) => store.record_group_membership(groups).await,
        }
    }

    /// The change log's epoch: a random id fixed when the database was created. Cursors carry
    /// it, so a cursor from another database is recognised and refused.
    pub fn log_epoch(&self) -> &str {
        match &self.backend {
            Backend::Sqlite(store) => store.log_epoch(),
            Backend::Postgres(store) => store.log_epoch(),
        }
    }

    /// The newest change-log sequence number (0 when empty).
    pub async fn max_seq(&self) -> Result<i64, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.max_seq().await,
            Backend::Postgres(store) => store.max_seq().await,
        }
    }

    /// Up to `limit` change-log entries after `after`, in commit order.
    pub async fn changes_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.changes_after(after, limit).await,
            Backend::Postgres(store) => store.changes_after(after, limit).await,
        }
    }

    /// The current state of several incidents (missing ids are left out).
    pub async fn get_many(&self, ids: &[Uuid]) -> Result<Vec<StoredIncident>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.get_many(ids).await,
            Backend::Postgres(store) => store.get_many(ids).await,
        }
    }

    /// The distinct sharing states each incident (or advisory, by `entity`) had in the log,
    /// up to `up_to`.
    pub async fn sharing_history(
        &self,
        entity: Entity,
        ids: &[Uuid],
        up_to: i64,
    ) -> Result<Vec<SharingSnapshot>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.sharing_history(entity, ids, up_to).await,
            Backend::Postgres(store) => store.sharing_history(entity, ids, up_to).await,
        }
    }

    /// Incident counts for the threat picture, grouped in SQL within the query's scope.
    pub async fn picture_counts(
        &self,
        query: &PictureQuery<'_>,
    ) -> Result<Vec<PictureCountRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.picture_counts(query).await,
            Backend::Postgres(store) => store.picture_counts(query).await,
        }
    }

    /// Victim sums for the threat picture, grouped in SQL within the query's scope.
    pub async fn picture_victims(
        &self,
        query: &PictureQuery<'_>,
    ) -> Result<Vec<PictureVictimRow>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.picture_victims(query).await,
            Backend::Postgres(store) => store.picture_victims(query).await,
        }
    }

    /// Writes an advisory: a new one (`expected_version` 0; `advisory.version` 1) or the next
    /// version of an existing one (its stored version must be `expected_version`). Appends the
    /// change-log row (and the audit record) in the same transaction. A new advisory whose id
    /// exists already is `VersionMismatch` with the stored version.
    pub async fn put_advisory(
        &self,
        advisory: &StoredAdvisory,
        expected_version: u64,
        group_members: Option<Vec<String>>,
        audit: Option<&AuditEntry>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => {
                store
                    .put_advisory(advisory, expected_version, group_members, audit)
                    .await
            }
            Backend::Postgres(store) => {
                store
                    .put_advisory(advisory, expected_version, group_members, audit)
                    .await
            }
        }
    }

    /// The current version of several advisories (missing ids are left out).
    pub async fn get_advisories(&self, ids: &[Uuid]) -> Result<Vec<StoredAdvisory>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.get_advisories(ids).await,
            Backend::Postgres(store) => store.get_advisories(ids).await,
        }
    }

    /// Advisories within the scope matching the filter, newest first, at most `MAX_ADVISORIES`.
    pub async fn list_advisories(
        &self,
        scope: &VisibilityScope,
        filter: &AdvisoryFilter,
    ) -> Result<Vec<StoredAdvisory>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.list_advisories(scope, filter).await,
            Backend::Postgres(store) => store.list_advisories(scope, filter).await,
        }
    }

    /// A receiver that changes after every committed write (for live subscribers).
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        match &self.backend {
            Backend::Sqlite(store) => store.watch_changes(),
            Backend::Postgres(store) => store.watch_changes(),
        }
    }

    /// Closes the pool, waiting for connections to finish.
    /// Applies one page pulled from a peer hub and stores the cursor after it, in one
    /// transaction: a crash never loses a change nor applies one twice.
    pub async fn apply_federated(
        &self,
        page: &FederatedPage<'_>,
    ) -> Result<ApplyStats, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.apply_federated(page).await,
            Backend::Postgres(store) => store.apply_federated(page).await,
        }
    }

    /// The cursor to pull `peer` from ("" for the beginning).
    pub async fn peer_cursor(&self, peer: &str) -> Result<String, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.peer_cursor(peer).await,
            Backend::Postgres(store) => store.peer_cursor(peer).await,
        }
    }

    /// Records a failed pull from `peer` (the message names no incident content).
    pub async fn record_peer_failure(&self, peer: &str, error: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.record_peer_failure(peer, error).await,
            Backend::Postgres(store) => store.record_peer_failure(peer, error).await,
        }
    }

    /// Adds to the count of incidents `peer` pulled past without receiving (serving side).
    pub async fn record_peer_withheld(&self, peer: &str, count: u64) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.record_peer_withheld(peer, count).await,
            Backend::Postgres(store) => store.record_peer_withheld(peer, count).await,
        }
    }

    /// Forgets the cursor of `peer` (it refused it: resync from the start; applying is
    /// idempotent, so this re-applies nothing).
    pub async fn reset_peer_cursor(&self, peer: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.reset_peer_cursor(peer).await,
            Backend::Postgres(store) => store.reset_peer_cursor(peer).await,
        }
    }

    /// The pull state of every peer this hub has pulled from.
    pub async fn peer_states(&self) -> Result<Vec<PeerState>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.peer_states().await,
            Backend::Postgres(store) => store.peer_states().await,
        }
    }

    /// Change-log entries per incident id (for tests and the bench: how often each was
    /// written here).
    pub async fn change_counts(&self) -> Result<Vec<(Uuid, u64)>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.change_counts().await,
            Backend::Postgres(store) => store.change_counts().await,
        }
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
        }
    }
}

/// RFC 3339 text for a timestamp (storage form).
fn timestamp_text(at: OffsetDateTime) -> Result<String, StoreError> {
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(|error| StoreError::Corrupt(format!("timestamp: {error}")))
}

fn parse_timestamp(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|error| StoreError::Corrupt(format!("timestamp: {error}")))
}

/// Versions are u64 on the wire and i64 in SQL; they never come near the limit.
fn version_to_sql(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

fn version_from_sql(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}
