//! Persistence. `Store` is the one handle the layers above use; behind it sits a database of
//! either backend (SQLite for one process, PostgreSQL for one or several hub replicas), chosen
//! by the database URL. All SQL lives below this module, grouped by entity, each statement
//! written once for both backends (`db.rs` is the seam where they differ). The store never
//! decides access: it is handed a `VisibilityScope` by the caller, and the rules it applies to
//! foreign copies are handed in by the federation layer.
//!
//! Every write appends its change-log row in the same transaction, so the change feed can never
//! disagree with the incidents table.

mod advisories;
mod audit;
mod audit_tree;
mod changes;
mod common;
mod db;
mod federation;
mod feed_marks;
mod incidents;
mod migrations;
mod picture;
mod postgres;
mod renderings;
mod scope;
mod sqlite;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::policy::cell_key::RecordKeys;

pub use advisories::{AdvisoryFilter, AdvisoryPage, MAX_ADVISORY_PAGE};
pub use audit::AuditFilter;
pub use audit_tree::StoredHead;
pub use changes::{ChangeKind, ChangeRow, Entity, SharingSnapshot};
pub use db::PoolUse;
pub use federation::{
    ApplyStats, CopyDecision, CopyFacts, CopyRules, ExistingCopy, FederatedChange, FederatedPage,
    PeerState,
};
pub use feed_marks::FeedMark;
pub use incidents::{ListPage, ListQuery, NewIncident, SubmitOutcome};
pub use migrations::{MigrationStatus, migration_status};
pub use picture::{PictureCountRow, PictureVictimRow};
pub use postgres::PgTuning;

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

/// Statements longer than this are logged (at DEBUG, target `sqlx::query`).
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);

/// sqlx logs every statement at DEBUG and a slow one at WARN with its whole SQL text, so one
/// slow query on a big database fills an operator's WARN log on every call. Statements go to
/// TRACE and slow ones to DEBUG: latency shows on the metrics endpoint, and the text is there
/// for whoever turns `sqlx=debug` on.
fn quiet_statements<O: sqlx::ConnectOptions>(options: O) -> O {
    options
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Debug, SLOW_STATEMENT)
}

/// The hub's database.
#[derive(Clone)]
pub struct Store {
    db: db::Pool,
    log_epoch: String,
    /// How often a transaction that failed with a serialization failure or a deadlock is run
    /// again (PostgreSQL; 0 on SQLite, whose writers queue instead).
    retries: u32,
    /// Bumped after every committed write (ours directly, other replicas' via NOTIFY).
    changes: Arc<watch::Sender<u64>>,
    /// PostgreSQL's LISTEN task, stopped when the last handle goes away.
    listener: Option<Arc<postgres::ListenerTask>>,
    /// Derives the record keys of the cell-key method; without it (tools that open the store
    /// without the hub's pseudonym key) new rows get none until the hub fills them at start.
    record_keys: Option<Arc<RecordKeys>>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    /// `sqlite://PATH` (relative paths resolve against the working directory), or
    /// `postgres://...` / `postgresql://...` (the hub's tuning parameters in `PgTuning`).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let changes = Arc::new(watch::channel(0).0);
        let (db, retries, listener) = if let Some(path) = url.strip_prefix("sqlite://") {
            (db::Pool::Sqlite(sqlite::open(path).await?), 0, None)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opened = postgres::open(url).await?;
            let listener =
                postgres::spawn_listener(&opened.pool, changes.clone(), opened.tuning.change_poll);
            (
                db::Pool::Postgres(opened.pool),
                opened.tuning.serialization_retries,
                Some(Arc::new(listener)),
            )
        } else {
            // Never echo a URL that might carry a password.
            let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
            return Err(StoreError::UnsupportedUrl(format!("{scheme}://...")));
        };
        let (log_epoch,): (String,) = db
            .run()
            .fetch_optional(db.sql("SELECT value FROM hub_meta WHERE key = 'log_epoch'"))
            .await?
            .ok_or_else(|| StoreError::Corrupt("the change log has no epoch".into()))?;
        Ok(Store {
            db,
            log_epoch,
            retries,
            changes,
            listener,
            record_keys: None,
        })
    }

    /// This store, writing record keys derived by `keys` into every incident row it inserts.
    pub fn with_record_keys(mut self, keys: RecordKeys) -> Store {
        self.record_keys = Some(Arc::new(keys));
        self
    }

    /// Gives every incident row without a record key its key; returns how many rows it filled.
    /// The hub runs it at start, for rows written before the column existed or by a tool that
    /// had no key. Does nothing without keys.
    pub async fn fill_record_keys(&self) -> Result<u64, StoreError> {
        let Some(keys) = self.record_keys.as_deref() else {
            return Ok(0);
        };
        let mut filled = 0u64;
        loop {
            let mut tx = self.db.begin_write().await?;
            let sql = tx.sql(
                "SELECT row_id, id FROM incidents WHERE record_key IS NULL ORDER BY row_id LIMIT 1000",
            );
            let rows: Vec<(i64, String)> = tx.run().fetch_all(sql).await?;
            if rows.is_empty() {
                tx.commit().await?;
                return Ok(filled);
            }
            for (row_id, id) in &rows {
                let sql = tx
                    .sql("UPDATE incidents SET record_key = $1 WHERE row_id = $2")
                    .arg(i64::from(keys.key(id).0))
                    .arg(*row_id);
                tx.run().execute(sql).await?;
            }
            tx.commit().await?;
            filled += rows.len() as u64;
        }
    }

    /// Which backend this store runs on ("sqlite" or "postgres").
    pub fn backend_name(&self) -> &'static str {
        match self.db.dialect() {
            db::Dialect::Sqlite => "sqlite",
            db::Dialect::Postgres => "postgres",
        }
    }

    /// The change log's epoch: a random id fixed when the database was created. Cursors carry
    /// it, so a cursor from another database is recognised and refused.
    pub fn log_epoch(&self) -> &str {
        &self.log_epoch
    }

    /// A receiver that changes after every committed write (for live subscribers).
    pub fn watch_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The connection pool's use now.
    pub fn pool_use(&self) -> db::PoolUse {
        self.db.use_now()
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        // The LISTEN connection is pooled: stop it first, or `close` waits for it forever.
        if let Some(listener) = &self.listener {
            listener.stop();
        }
        self.db.close().await;
    }

    /// Wakes this process's live subscribers after a commit.
    fn notify_change(&self) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Runs a whole transaction again when it failed with a serialization failure or a
    /// deadlock, up to the configured number of times.
    async fn retrying<T, F, Fut>(&self, mut attempt_once: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 0;
        loop {
            match attempt_once().await {
                Err(error) if attempt < self.retries && db::is_retryable(&error) => attempt += 1,
                other => return other,
            }
        }
    }
}
