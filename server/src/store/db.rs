//! The one seam between the store's SQL and its two backends.
//!
//! Every statement is written once, with `$n` placeholders (PostgreSQL's form; on SQLite they
//! become plain `?` when they run in order, see `anonymous_placeholders`), built by [`Sql`] and
//! run through [`Run`] on either backend.
//! Rows are read into `#[derive(sqlx::FromRow)]` structs or tuples, which decode on both. What
//! really differs lives here and nowhere else in the entity files:
//! - how a list of values is bound (`IN ($1, $2, ...)` / a `json_each` set on SQLite, one array
//!   with `= ANY($n)` on PostgreSQL);
//! - membership in a JSON array column (`json_each` / `jsonb_array_elements_text`);
//! - how a writing transaction starts and serialises (`BEGIN IMMEDIATE` on SQLite; READ
//!   COMMITTED plus advisory locks on PostgreSQL, see `postgres.rs`);
//! - NOTIFY after a write (PostgreSQL only: replicas LISTEN);
//! - which errors are worth running the whole transaction again for.

use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};
use uuid::Uuid;

use super::StoreError;
use super::common::encode_json;
use super::{postgres, sqlite};

/// Which SQL the backend speaks, where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// One value bound to a placeholder.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
    /// A text array (PostgreSQL's `= ANY($n)`); on SQLite it binds as a JSON array.
    TextList(Vec<String>),
    /// A BLOB (SQLite) or BYTEA (PostgreSQL).
    Bytes(Option<Vec<u8>>),
}

impl From<Option<Vec<u8>>> for Arg {
    fn from(value: Option<Vec<u8>>) -> Arg {
        Arg::Bytes(value)
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Arg {
        Arg::Int(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Arg {
        Arg::Int(Some(value))
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Arg {
        Arg::Bool(value)
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Arg {
        Arg::Text(Some(value))
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Arg {
        Arg::Text(Some(value.clone()))
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Arg {
        Arg::Text(Some(value.to_string()))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Arg {
        Arg::Text(value)
    }
}

impl From<&Option<String>> for Arg {
    fn from(value: &Option<String>) -> Arg {
        Arg::Text(value.clone())
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Arg {
        Arg::Text(value.map(str::to_string))
    }
}

/// A statement under construction: text with `$n` placeholders and the values they bind.
#[derive(Debug, Clone)]
pub(super) struct Sql {
    dialect: Dialect,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(super) fn new(dialect: Dialect, text: &str) -> Sql {
        Sql {
            dialect,
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text (never a value: values go through [`Sql::bind`]).
    pub(super) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub(super) fn bind(&mut self, value: impl Into<Arg>) -> &mut Sql {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Binds `value` to the next number, for text that already names `$1`, `$2`, ... itself.
    pub(super) fn arg(mut self, value: impl Into<Arg>) -> Sql {
        self.args.push(value.into());
        self
    }

    /// Appends `, ` between the placeholders of `values`, each bound.
    pub(super) fn bind_list<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) {
        for (n, value) in values.into_iter().enumerate() {
            if n > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
    }

    /// ` AND column IN (...)` when `values` is not empty.
    pub(super) fn and_in(&mut self, column: &str, values: Vec<String>) {
        if values.is_empty() {
            return;
        }
        self.push(" AND ").push(column);
        match self.dialect {
            Dialect::Sqlite => {
                self.push(" IN (");
                self.bind_list(values);
                self.push(")");
            }
            Dialect::Postgres => {
                self.push(" = ANY(").bind(Arg::TextList(values)).push(")");
            }
        }
    }

    /// `column` is one of `ids`, bound as ONE parameter whatever their number, so the
    /// prepared-statement cache does not fill with one entry per list length.
    pub(super) fn column_in_ids(&mut self, column: &str, ids: &[Uuid]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.push(column);
        match self.dialect {
            Dialect::Sqlite => {
                let json = encode_json(&ids)?;
                self.push(" IN (SELECT value FROM json_each(")
                    .bind(json)
                    .push("))");
            }
            Dialect::Postgres => {
                self.push(" = ANY(").bind(Arg::TextList(ids)).push(")");
            }
        }
        Ok(())
    }

    /// ` AND EXISTS (...)`: the JSON array in `column` holds `value`.
    pub(super) fn and_json_array_holds(&mut self, column: &str, value: String) {
        match self.dialect {
            Dialect::Sqlite => {
                self.push(" AND EXISTS (SELECT 1 FROM json_each(")
                    .push(column)
                    .push(") WHERE value = ");
            }
            Dialect::Postgres => {
                self.push(" AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(")
                    .push(column)
                    .push("::jsonb) AS e WHERE e.value = ");
            }
        }
        self.bind(value).push(")");
    }

    /// ` VALUES (...), (...)`: one row of placeholders per item, filled by `row`.
    pub(super) fn values<T>(&mut self, items: &[T], mut row: impl FnMut(&mut Values<'_>, &T)) {
        self.push(" VALUES ");
        for (n, item) in items.iter().enumerate() {
            self.push(if n == 0 { "(" } else { ", (" });
            let mut values = Values {
                sql: self,
                first: true,
            };
            row(&mut values, item);
            self.push(")");
        }
    }

    fn sqlite_args(self) -> Result<(String, SqliteArguments), StoreError> {
        let count = self.args.len();
        let mut args = SqliteArguments::default();
        for arg in self.args {
            let added = match arg {
                Arg::Int(value) => args.add(value),
                Arg::Text(value) => args.add(value),
                Arg::Bool(value) => args.add(value),
                Arg::TextList(values) => args.add(encode_json(&values)?),
                Arg::Bytes(value) => args.add(value),
            };
            added.map_err(|error| StoreError::Database(sqlx::Error::Encode(error)))?;
        }
        let text = anonymous_placeholders(&self.text, count).unwrap_or(self.text);
        Ok((text, args))
    }

    fn pg_args(self) -> Result<(String, PgArguments), StoreError> {
        let mut args = PgArguments::default();
        for arg in self.args {
            let added = match arg {
                Arg::Int(value) => args.add(value),
                Arg::Text(value) => args.add(value),
                Arg::Bool(value) => args.add(value),
                Arg::TextList(values) => args.add(values),
                Arg::Bytes(value) => args.add(value),
            };
            added.map_err(|error| StoreError::Database(sqlx::Error::Encode(error)))?;
        }
        Ok((self.text, args))
    }
}

/// `text` with its `$1`, `$2`, ... `$count` written as plain `?`, when they appear exactly once
/// each and in that order (as [`Sql::bind`] writes them); `None` otherwise (kept numbered).
///
/// Why: SQLite finds a numbered or named parameter's name by a linear scan of the statement's
/// parameter list, and sqlx asks for every parameter's name while binding, so a statement of P
/// numbered parameters costs O(P^2) to bind (500 rows of 25 columns: about 170 ms). Anonymous
/// `?` parameters have no name to scan for.
fn anonymous_placeholders(text: &str, count: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut next = 1usize;
    let mut copied = 0;
    let mut quoted = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits = bytes[at + 1..]
                    .iter()
                    .take_while(|byte| byte.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let number: usize = text[at + 1..at + 1 + digits].parse().ok()?;
                    if number != next {
                        return None;
                    }
                    next += 1;
                    out.push_str(&text[copied..at]);
                    out.push('?');
                    at += 1 + digits;
                    copied = at;
                    continue;
                }
            }
            _ => {}
        }
        at += 1;
    }
    if next != count + 1 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The placeholders of one row of a multi-row `VALUES`.
pub(super) struct Values<'a> {
    sql: &'a mut Sql,
    first: bool,
}

impl Values<'_> {
    pub(super) fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        if !self.first {
            self.sql.push(", ");
        }
        self.first = false;
        self.sql.bind(value);
        self
    }
}

/// A row type both backends can decode (every `#[derive(sqlx::FromRow)]` struct of the store,
/// and tuples of i64 / String / Option).
pub(super) trait FromEitherRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl<T> FromEitherRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

/// The database: a pool of either backend.
/// How much of the connection pool is in use (for the metrics endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Clone)]
pub(super) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A statement in this backend's dialect.
    pub(super) fn sql(&self, text: &str) -> Sql {
        Sql::new(self.dialect(), text)
    }

    /// Runs statements outside a transaction.
    pub(super) fn run(&self) -> Run<'_> {
        match self {
            Pool::Sqlite(pool) => Run::SqlitePool(pool),
            Pool::Postgres(pool) => Run::PgPool(pool),
        }
    }

    /// Starts a transaction that writes incidents, advisories or the change log: it holds the
    /// hub's write lock until it ends, so writers queue and change-log order is commit order.
    pub(super) async fn begin_write(&self) -> Result<Tx, StoreError> {
        match self {
            Pool::Sqlite(pool) => Ok(Tx::Sqlite(sqlite::begin_immediate(pool).await?)),
            Pool::Postgres(pool) => Ok(Tx::Postgres(postgres::begin_write(pool).await?)),
        }
    }

    /// Starts a transaction that only appends to the access log ([`Tx::lock_audit`] serialises
    /// the append itself).
    pub(super) async fn begin_audit(&self) -> Result<Tx, StoreError> {
        match self {
            Pool::Sqlite(pool) => Ok(Tx::Sqlite(sqlite::begin_immediate(pool).await?)),
            Pool::Postgres(pool) => Ok(Tx::Postgres(postgres::begin_read_committed(pool).await?)),
        }
    }

    /// Connections open, of them idle, and the most the pool may open.
    pub(super) fn use_now(&self) -> PoolUse {
        match self {
            Pool::Sqlite(pool) => PoolUse {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            },
            Pool::Postgres(pool) => PoolUse {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            },
        }
    }

    pub(super) async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// A transaction of either backend.
pub(super) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(super) fn sql(&self, text: &str) -> Sql {
        match self {
            Tx::Sqlite(_) => Sql::new(Dialect::Sqlite, text),
            Tx::Postgres(_) => Sql::new(Dialect::Postgres, text),
        }
    }

    /// Runs statements inside this transaction.
    pub(super) fn run(&mut self) -> Run<'_> {
        match self {
            Tx::Sqlite(tx) => Run::SqliteConn(tx),
            Tx::Postgres(tx) => Run::PgConn(tx),
        }
    }

    /// Serialises access-log appends across replicas (PostgreSQL's audit lock, held to the end
    /// of the transaction). On SQLite the transaction's write lock already does.
    pub(super) async fn lock_audit(&mut self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(tx) => postgres::lock_audit(tx).await,
        }
    }

    /// Tells the other replicas, at commit, that the change log grew (PostgreSQL NOTIFY; a
    /// single SQLite process needs no message).
    pub(super) async fn notify_changes(&mut self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(tx) => postgres::notify_changes(tx).await,
        }
    }

    pub(super) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Where a statement runs: a pool or an open transaction, of either backend.
pub(super) enum Run<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    SqliteConn(&'a mut SqliteConnection),
    PgConn(&'a mut PgConnection),
}

/// Measures one statement for the metrics endpoint (`slt_db_statement_seconds`).
struct StatementTimer(std::time::Instant);

impl StatementTimer {
    fn start() -> StatementTimer {
        StatementTimer(std::time::Instant::now())
    }
}

impl Drop for StatementTimer {
    fn drop(&mut self) {
        crate::metrics::statement_seconds().observe(self.0.elapsed().as_secs_f64());
    }
}

impl Run<'_> {
    pub(super) async fn fetch_all<T: FromEitherRow>(self, sql: Sql) -> Result<Vec<T>, StoreError> {
        let _timer = StatementTimer::start();
        Ok(match self {
            Run::SqlitePool(pool) => sqlite_query::<T>(sql)?.fetch_all(pool).await?,
            Run::SqliteConn(conn) => sqlite_query::<T>(sql)?.fetch_all(conn).await?,
            Run::PgPool(pool) => pg_query::<T>(sql)?.fetch_all(pool).await?,
            Run::PgConn(conn) => pg_query::<T>(sql)?.fetch_all(conn).await?,
        })
    }

    pub(super) async fn fetch_optional<T: FromEitherRow>(
        self,
        sql: Sql,
    ) -> Result<Option<T>, StoreError> {
        let _timer = StatementTimer::start();
        Ok(match self {
            Run::SqlitePool(pool) => sqlite_query::<T>(sql)?.fetch_optional(pool).await?,
            Run::SqliteConn(conn) => sqlite_query::<T>(sql)?.fetch_optional(conn).await?,
            Run::PgPool(pool) => pg_query::<T>(sql)?.fetch_optional(pool).await?,
            Run::PgConn(conn) => pg_query::<T>(sql)?.fetch_optional(conn).await?,
        })
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub(super) async fn execute(self, sql: Sql) -> Result<u64, StoreError> {
        let _timer = StatementTimer::start();
        Ok(match self {
            Run::SqlitePool(pool) => sqlite_statement(sql)?.execute(pool).await?.rows_affected(),
            Run::SqliteConn(conn) => sqlite_statement(sql)?.execute(conn).await?.rows_affected(),
            Run::PgPool(pool) => pg_statement(sql)?.execute(pool).await?.rows_affected(),
            Run::PgConn(conn) => pg_statement(sql)?.execute(conn).await?.rows_affected(),
        })
    }
}

type SqliteQueryAs<T> = sqlx::query::QueryAs<'static, Sqlite, T, SqliteArguments>;
type PgQueryAs<T> = sqlx::query::QueryAs<'static, Postgres, T, PgArguments>;

fn sqlite_query<T: FromEitherRow>(sql: Sql) -> Result<SqliteQueryAs<T>, StoreError> {
    let (text, args) = sql.sqlite_args()?;
    Ok(sqlx::query_as_with(AssertSqlSafe(text), args))
}

fn pg_query<T: FromEitherRow>(sql: Sql) -> Result<PgQueryAs<T>, StoreError> {
    let (text, args) = sql.pg_args()?;
    Ok(sqlx::query_as_with(AssertSqlSafe(text), args))
}

fn sqlite_statement(
    sql: Sql,
) -> Result<sqlx::query::Query<'static, Sqlite, SqliteArguments>, StoreError> {
    let (text, args) = sql.sqlite_args()?;
    Ok(sqlx::query_with(AssertSqlSafe(text), args))
}

fn pg_statement(
    sql: Sql,
) -> Result<sqlx::query::Query<'static, Postgres, PgArguments>, StoreError> {
    let (text, args) = sql.pg_args()?;
    Ok(sqlx::query_with(AssertSqlSafe(text), args))
}

/// Whether a failed transaction is worth running again whole: PostgreSQL's serialization
/// failure and deadlock (SQLite writers queue on `BEGIN IMMEDIATE` and never report these).
pub(super) fn is_retryable(error: &StoreError) -> bool {
    match error {
        StoreError::Database(sqlx::Error::Database(database)) => matches!(
            database.code().as_deref(),
            Some(postgres::SERIALIZATION_FAILURE | postgres::DEADLOCK_DETECTED)
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::anonymous_placeholders;

    #[test]
    fn in_order_placeholders_become_anonymous() {
        assert_eq!(
            anonymous_placeholders("SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)", 3).as_deref(),
            Some("SELECT a FROM t WHERE b = ? AND c IN (?, ?)")
        );
        // Ten and more: the number is read whole.
        let text: Vec<String> = (1..=12).map(|n| format!("${n}")).collect();
        assert_eq!(
            anonymous_placeholders(&text.join(","), 12).as_deref(),
            Some(["?"; 12].join(",").as_str())
        );
        // JSON paths and quoted dollars are not placeholders.
        assert_eq!(
            anonymous_placeholders("SELECT json_extract(c, '$.a'), '$9' FROM t WHERE x = $1", 1)
                .as_deref(),
            Some("SELECT json_extract(c, '$.a'), '$9' FROM t WHERE x = ?")
        );
    }

    #[test]
    fn reused_or_reordered_placeholders_stay_numbered() {
        assert_eq!(anonymous_placeholders("a = $1 OR b = $1", 1), None);
        assert_eq!(anonymous_placeholders("a = $2 AND b = $1", 2), None);
        assert_eq!(anonymous_placeholders("a = $1", 2), None);
        assert_eq!(anonymous_placeholders("a = $1 AND b = $2", 1), None);
    }
}
