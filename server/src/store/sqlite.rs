//! What is SQLite's own: opening the file and starting a writing transaction. Everything else
//! (every statement) is shared with PostgreSQL through `db.rs`.
//!
//! One file in WAL mode, synchronous FULL (a committed audit record, and so the data it allowed
//! out, survives a power loss), foreign keys on, and writes in `BEGIN IMMEDIATE` transactions so
//! two writers queue instead of failing to upgrade a read lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The migrations this build applies to SQLite.
pub(super) fn migrator() -> &'static sqlx::migrate::Migrator {
    &MIGRATOR
}

/// Opens (creating if needed) the database file at `path` and applies pending migrations.
pub(super) async fn open(path: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let options = super::quiet_statements(options);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // No ping before each use: a SQLite connection is a file handle in this process, not a
        // socket that can go stale, and sqlx pings it again on every release anyway. The ping
        // was one more hop to the connection's thread per statement (issue 16's profile).
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// A transaction that takes SQLite's write lock at once.
pub(super) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}
