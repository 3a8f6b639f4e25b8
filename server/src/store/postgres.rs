//! What is PostgreSQL's own: the hub's URL parameters, opening and migrating, LISTEN, the
//! advisory locks and NOTIFY. Every statement is shared with SQLite through `db.rs`.
//!
//! Ordering and serialisation (docs/change-feed.md):
//! - Every writing transaction (submit, update, group membership, advisories, federation) takes
//!   the hub's **write lock** (`pg_advisory_xact_lock(WRITE_LOCK)`) as its first statement and
//!   holds it until it commits. A change-log `seq` is drawn from its sequence only under that
//!   lock, and PostgreSQL makes a commit visible before it releases the transaction's locks, so
//!   `seq` order is commit order: a reader can never see seq 11 while seq 10 is still to commit.
//!   (A plain BIGSERIAL is not: two writers draw 10 and 11, 11 commits first, a reader reads up
//!   to 11 and skips 10 forever.) Aborted transactions leave gaps, which the feed does not mind.
//! - Every audit append takes the **audit lock** (`AUDIT_LOCK`) first, then reads the chain's
//!   head and appends to it, so the chain stays one line across replicas. Writes take the write
//!   lock before the audit lock, never the other way round, so the two cannot deadlock.
//! - Every writing transaction sends `NOTIFY slt_changes` (delivered at commit); each replica
//!   LISTENs and bumps the same watch its live subscribers wait on. The change log stays the
//!   source of truth: a periodic poll of `max(seq)` covers a lost notification.
//!
//! Tuning rides on the database URL, so `SLT_HUB_DATABASE_URL` sets everything:
//! `postgres://user@host:port/db?pool_max_connections=16&statement_timeout=30s&serialization_retries=5&change_poll_ms=5000`
//! (these four parameters are the hub's; everything else is handed to the driver).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The migrations this build applies to PostgreSQL.
pub(super) fn migrator() -> &'static sqlx::migrate::Migrator {
    &MIGRATOR
}

/// Advisory-lock keys (one 64-bit space per database; "SLT" + a number).
const WRITE_LOCK: i64 = 0x534c_5400_0000_0001;
const AUDIT_LOCK: i64 = 0x534c_5400_0000_0002;

/// The LISTEN/NOTIFY channel for "the change log grew".
const CHANGES_CHANNEL: &str = "slt_changes";

/// SQLSTATEs worth retrying the whole transaction for.
pub(super) const SERIALIZATION_FAILURE: &str = "40001";
pub(super) const DEADLOCK_DETECTED: &str = "40P01";

/// The hub's own URL parameters (the rest of the URL is the driver's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTuning {
    /// Pooled connections per replica (the LISTEN connection is one of them).
    pub pool_max_connections: u32,
    /// PostgreSQL's `statement_timeout` for every connection (e.g. `30s`, `500ms`).
    pub statement_timeout: String,
    /// How many times a transaction that failed with a serialization failure or a deadlock is
    /// run again before the call fails.
    pub serialization_retries: u32,
    /// How often the change log is polled in case a notification was lost.
    pub change_poll: Duration,
}

impl Default for PgTuning {
    fn default() -> Self {
        PgTuning {
            pool_max_connections: 16,
            statement_timeout: "30s".to_string(),
            serialization_retries: 5,
            change_poll: Duration::from_secs(5),
        }
    }
}

/// Splits the hub's parameters off a `postgres://` URL; returns the driver's URL and them.
pub fn parse_url(url: &str) -> Result<(String, PgTuning), StoreError> {
    let mut tuning = PgTuning::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), tuning));
    };
    let bad = |name: &str, value: &str, expected: &str| {
        StoreError::BadUrl(format!(
            "database URL parameter '{name}={value}': expected {expected}"
        ))
    };
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "pool_max_connections" => {
                tuning.pool_max_connections = value
                    .parse()
                    .ok()
                    .filter(|size| (2..=1000).contains(size))
                    .ok_or_else(|| bad(name, value, "a number from 2 to 1000"))?;
            }
            "statement_timeout" => {
                let valid = !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_alphanumeric())
                    && value.starts_with(|c: char| c.is_ascii_digit());
                if !valid {
                    return Err(bad(
                        name,
                        value,
                        "a PostgreSQL duration such as 30s or 500ms",
                    ));
                }
                tuning.statement_timeout = value.to_string();
            }
            "serialization_retries" => {
                tuning.serialization_retries = value
                    .parse()
                    .ok()
                    .filter(|retries| *retries <= 100)
                    .ok_or_else(|| bad(name, value, "a number from 0 to 100"))?;
            }
            "change_poll_ms" => {
                tuning.change_poll = value
                    .parse()
                    .ok()
                    .filter(|ms| (10..=3_600_000).contains(ms))
                    .map(Duration::from_millis)
                    .ok_or_else(|| bad(name, value, "milliseconds from 10 to 3600000"))?;
            }
            _ => rest.push(pair),
        }
    }
    let driver_url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((driver_url, tuning))
}

/// Aborts the LISTEN task when the last handle to the store goes away.
pub(super) struct ListenerTask(JoinHandle<()>);

impl ListenerTask {
    pub(super) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An open PostgreSQL database: its pool, the LISTEN task, and the tuning it was opened with.
pub(super) struct Opened {
    pub pool: PgPool,
    pub tuning: PgTuning,
}

/// Opens the pool at `url` (the hub's parameters split off) and applies pending migrations.
pub(super) async fn open(url: &str) -> Result<Opened, StoreError> {
    let (driver_url, tuning) = parse_url(url)?;
    let options = PgConnectOptions::from_str(&driver_url)?
        .application_name("slt-hub")
        .options([("statement_timeout", tuning.statement_timeout.as_str())]);
    let options = super::quiet_statements(options);
    let pool = PgPoolOptions::new()
        .max_connections(tuning.pool_max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?;
    // sqlx's migrator takes an advisory lock itself: replicas starting together queue.
    MIGRATOR.run(&pool).await?;
    Ok(Opened { pool, tuning })
}

/// Starts the task that wakes this replica's subscribers on other replicas' commits.
pub(super) fn spawn_listener(
    pool: &PgPool,
    changes: Arc<watch::Sender<u64>>,
    poll: Duration,
) -> ListenerTask {
    ListenerTask(tokio::spawn(listen_for_changes(
        pool.clone(),
        changes,
        poll,
    )))
}

fn bump(changes: &watch::Sender<u64>) {
    changes.send_modify(|count| *count = count.wrapping_add(1));
}

/// Wakes this replica's live subscribers whenever any replica commits a change: on each
/// NOTIFY, after a reconnect of the LISTEN connection (notifications may have been lost while
/// it was down), and when a periodic look at the change log finds it grew (the fallback for a
/// lost notification). Runs until the store is closed or dropped.
async fn listen_for_changes(pool: PgPool, changes: Arc<watch::Sender<u64>>, poll: Duration) {
    let mut last_seen: i64 = 0;
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'connect: loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(%error, "LISTEN connection failed; polling the change log");
                ticks.tick().await;
                poll_change_log(&pool, &changes, &mut last_seen).await;
                continue 'connect;
            }
        };
        if let Err(error) = listener.listen(CHANGES_CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; polling the change log");
            ticks.tick().await;
            poll_change_log(&pool, &changes, &mut last_seen).await;
            continue 'connect;
        }
        // Anything committed while we were not listening.
        bump(&changes);
        loop {
            tokio::select! {
                notification = listener.try_recv() => match notification {
                    Ok(Some(_)) => bump(&changes),
                    // The connection dropped and was re-established: we may have missed some.
                    Ok(None) => bump(&changes),
                    Err(error) => {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                        bump(&changes);
                        continue 'connect;
                    }
                },
                _ = ticks.tick() => poll_change_log(&pool, &changes, &mut last_seen).await,
            }
        }
    }
}

async fn poll_change_log(pool: &PgPool, changes: &watch::Sender<u64>, last_seen: &mut i64) {
    let seq: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT max(seq) FROM change_log")
            .fetch_one(pool)
            .await;
    match seq {
        Ok(seq) => {
            let seq = seq.unwrap_or(0);
            if seq > *last_seen {
                *last_seen = seq;
                bump(changes);
            }
        }
        Err(error) => tracing::warn!(%error, "polling the change log failed"),
    }
}

/// `BEGIN` for every transaction that takes an advisory lock. The schemes above need READ
/// COMMITTED whatever the database's or the URL's default isolation: each statement after the
/// lock must see what committed before the lock was granted. Under REPEATABLE READ or
/// SERIALIZABLE the snapshot is taken by the lock statement itself, before the wait, so the
/// idempotency check, the version check and the audit head would read a stale state (duplicate
/// ids and audit seqs fail the call instead of being UNCHANGED / appended).
const BEGIN_LOCKED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

pub(super) async fn begin_read_committed(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    Ok(pool.begin_with(BEGIN_LOCKED).await?)
}

/// Starts a writing transaction holding the hub's write lock until it ends (see the module
/// comment: this is what makes change-log `seq` order commit order).
pub(super) async fn begin_write(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = begin_read_committed(pool).await?;
    advisory_lock(&mut tx, WRITE_LOCK).await?;
    Ok(tx)
}

/// The audit lock, held to the end of the transaction: appends from every replica queue.
pub(super) async fn lock_audit(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
    advisory_lock(tx, AUDIT_LOCK).await
}

async fn advisory_lock(
    tx: &mut Transaction<'static, Postgres>,
    key: i64,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `NOTIFY slt_changes`, delivered to every replica when (and only if) the transaction commits.
pub(super) async fn notify_changes(
    tx: &mut Transaction<'static, Postgres>,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANGES_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_parameters_are_split_off_the_url() {
        let (url, tuning) = parse_url(
            "postgres://hub@db:5432/slt?sslmode=disable&pool_max_connections=4\
             &statement_timeout=5s&serialization_retries=2&change_poll_ms=250",
        )
        .expect("valid");
        assert_eq!(url, "postgres://hub@db:5432/slt?sslmode=disable");
        assert_eq!(tuning.pool_max_connections, 4);
        assert_eq!(tuning.statement_timeout, "5s");
        assert_eq!(tuning.serialization_retries, 2);
        assert_eq!(tuning.change_poll, Duration::from_millis(250));
        let (url, tuning) = parse_url("postgres://db/slt").expect("valid");
        assert_eq!(url, "postgres://db/slt");
        assert_eq!(tuning, PgTuning::default());
    }

    #[test]
    fn bad_hub_parameters_are_refused_by_name() {
        for (url, name) in [
            (
                "postgres://db/slt?pool_max_connections=0",
                "pool_max_connections",
            ),
            (
                "postgres://db/slt?statement_timeout=5s;DROP",
                "statement_timeout",
            ),
            (
                "postgres://db/slt?serialization_retries=x",
                "serialization_retries",
            ),
            ("postgres://db/slt?change_poll_ms=1", "change_poll_ms"),
        ] {
            let error = parse_url(url).expect_err("refused").to_string();
            assert!(error.contains(name), "{error}");
        }
    }
}
