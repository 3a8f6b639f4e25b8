//! Whether a database is reachable and carries every migration this build knows, read without
//! changing it (for `slt-hub doctor`; `Store::open` applies what is missing instead).

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::StoreError;

/// What the database holds against what this build knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations this build knows that the database does not carry (version, description).
    pub pending: Vec<(i64, String)>,
    /// Migrations the database carries that this build does not know (a newer hub ran on it).
    pub unknown: Vec<i64>,
}

/// Connects to `url` (SQLite read-only; a missing file is an error, not a new database) and
/// compares its applied migrations with this build's.
pub async fn migration_status(url: &str) -> Result<MigrationStatus, StoreError> {
    let (applied, migrator) = if let Some(path) = url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            return Err(StoreError::BadUrl(format!(
                "the database file {path} does not exist"
            )));
        }
        let mut connection = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .read_only(true)
            .create_if_missing(false)
            .connect()
            .await?;
        let applied = applied_versions(&mut connection, "sqlite_master", "name").await;
        let _ = connection.close().await;
        (applied?, super::sqlite::migrator())
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (driver_url, _) = super::postgres::parse_url(url)?;
        let mut connection = PgConnectOptions::from_str(&driver_url)?
            .application_name("slt-hub doctor")
            .connect()
            .await?;
        let applied = applied_versions(&mut connection, "pg_tables", "tablename").await;
        let _ = connection.close().await;
        (applied?, super::postgres::migrator())
    } else {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        return Err(StoreError::UnsupportedUrl(format!("{scheme}://...")));
    };
    Ok(compare(&applied, migrator))
}

/// The versions recorded as applied (none when the migrations table does not exist yet).
async fn applied_versions<C>(
    connection: &mut C,
    catalogue: &str,
    name_column: &str,
) -> Result<Vec<i64>, StoreError>
where
    C: Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
    for<'q> i64: sqlx::Decode<'q, C::Database> + sqlx::Type<C::Database>,
    for<'q> <C::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<C::Database>,
    usize: sqlx::ColumnIndex<<C::Database as sqlx::Database>::Row>,
{
    let exists: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(1 AS BIGINT) FROM {catalogue} WHERE {name_column} = '_sqlx_migrations'"
    )))
    .fetch_optional(&mut *connection)
    .await?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version".to_string(),
    ))
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows.into_iter().map(|(version,)| version).collect())
}

fn compare(applied: &[i64], migrator: &Migrator) -> MigrationStatus {
    let known: Vec<(i64, String)> = migrator
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .map(|migration| (migration.version, migration.description.to_string()))
        .collect();
    MigrationStatus {
        pending: known
            .iter()
            .filter(|(version, _)| !applied.contains(version))
            .cloned()
            .collect(),
        unknown: applied
            .iter()
            .filter(|version| !known.iter().any(|(known, _)| known == *version))
            .copied()
            .collect(),
    }
}
