//! A partner's local mirror: a SQLite file holding every incident the profile may see (as the
//! hub redacted it) and the feed cursor. Each page of changes and its cursor are applied in one
//! local transaction, so an interrupted sync resumes exactly where it stopped and never applies
//! a page twice or half. A mirror is bound to the hub and the principal of its first sync and
//! refuses any other (their tiers and visibility differ).

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;
use slt_proto::v1 as pb;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, Sqlite, Transaction};

use crate::{ClientError, HubClient};

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("mirror database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "this mirror belongs to {bound}; the feed is {offered}. A mirror is bound to one hub \
         and one principal: use another file"
    )]
    WrongFeed { bound: String, offered: String },
    #[error("the mirror holds a damaged record: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Hub(#[from] ClientError),
    #[error("the hub sent a page without feed identity")]
    NoIdentity,
    #[error("mirror file: {0}")]
    File(#[from] std::io::Error),
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub upserts: u64,
    pub retracts: u64,
    pub revokes: u64,
    pub pages: u64,
    /// Whether this sync continued from a stored cursor (not from the beginning).
    pub resumed: bool,
    pub retries: u32,
    pub duration: Duration,
}

/// Progress during a sync: changes applied and pages received so far. The hub gives no count of
/// what remains (it would count changes this caller cannot see), so there is no total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgress {
    pub applied: u64,
    pub pages: u64,
}

/// Options for [`Mirror::sync`].
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub filter: pb::SyncFilter,
    pub page_size: i32,
    /// Attempts per sync on transient failures (the link or the hub down), with exponential
    /// backoff and jitter between them.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            filter: pb::SyncFilter::default(),
            page_size: 500,
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The local mirror file.
pub struct Mirror {
    pool: SqlitePool,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS mirror_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS incidents (
        id TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL,
        retracted INTEGER NOT NULL,
        country TEXT NOT NULL,
        body BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS advisories (
        id TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL,
        country TEXT NOT NULL,
        body BLOB NOT NULL)",
];

fn describe(identity: &pb::FeedIdentity) -> String {
    format!(
        "hub '{}' as {}/{} ({})",
        identity.hub_id,
        identity.org,
        identity.subject,
        identity.roles.join(",")
    )
}

impl Mirror {
    /// Opens (creating if needed) a mirror file.
    pub async fn open(path: impl AsRef<Path>) -> Result<Mirror, MirrorError> {
        // It holds incident data (a reporter's, its private annex too): owner only, and SQLite
        // gives the WAL and shared-memory files the same mode.
        crate::private_files::ensure_private(path.as_ref())?;
        let options =
            SqliteConnectOptions::from_str(&format!("sqlite://{}", path.as_ref().display()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await?;
        }
        Ok(Mirror { pool })
    }

    async fn meta(&self, key: &'static str) -> Result<Option<String>, MirrorError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM mirror_meta WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The stored cursor ("" before the first sync).
    pub async fn cursor(&self) -> Result<String, MirrorError> {
        Ok(self.meta("cursor").await?.unwrap_or_default())
    }

    /// Who this mirror is bound to, once it has synced.
    pub async fn bound_to(&self) -> Result<Option<String>, MirrorError> {
        self.meta("feed").await
    }

    /// Every incident in the mirror, ordered by id.
    pub async fn incidents(&self) -> Result<Vec<pb::Incident>, MirrorError> {
        let rows = sqlx::query("SELECT body FROM incidents ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let body: Vec<u8> = row.try_get("body")?;
                pb::Incident::decode(body.as_slice())
                    .map_err(|error| MirrorError::Corrupt(error.to_string()))
            })
            .collect()
    }

    /// Every advisory in the mirror (its current version as the hub redacted it), by id.
    pub async fn advisories(&self) -> Result<Vec<pb::Advisory>, MirrorError> {
        let rows = sqlx::query("SELECT body FROM advisories ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let body: Vec<u8> = row.try_get("body")?;
                pb::Advisory::decode(body.as_slice())
                    .map_err(|error| MirrorError::Corrupt(error.to_string()))
            })
            .collect()
    }

    /// Whether the mirror holds no incident.
    pub async fn is_empty(&self) -> Result<bool, MirrorError> {
        Ok(self.len().await? == 0)
    }

    /// How many incidents the mirror holds.
    pub async fn len(&self) -> Result<u64, MirrorError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM incidents")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Empties the mirror and forgets its cursor and binding (after RESYNC_REQUIRED).
    pub async fn reset(&self) -> Result<(), MirrorError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM incidents")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM advisories")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mirror_meta")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies one page of changes and its cursor in one transaction; returns the counts.
    pub async fn apply(
        &self,
        feed: Option<&pb::FeedIdentity>,
        changes: &[pb::Change],
        cursor: &str,
    ) -> Result<SyncStats, MirrorError> {
        let feed = feed.ok_or(MirrorError::NoIdentity)?;
        let offered = describe(feed);
        let mut tx = self.pool.begin().await?;
        let bound: Option<String> =
            sqlx::query_scalar("SELECT value FROM mirror_meta WHERE key = 'feed'")
                .fetch_optional(&mut *tx)
                .await?;
        match bound {
            Some(bound) if bound != offered => {
                return Err(MirrorError::WrongFeed { bound, offered });
            }
            Some(_) => {}
            None => set_meta(&mut tx, "feed", &offered).await?,
        }
        let mut stats = SyncStats::default();
        for change in changes {
            if !change.advisory_id.is_empty() {
                apply_advisory(&mut tx, change, &mut stats).await?;
                continue;
            }
            match pb::ChangeType::try_from(change.r#type) {
                Ok(kind @ (pb::ChangeType::Upsert | pb::ChangeType::Retract)) => {
                    let Some(incident) = &change.incident else {
                        return Err(MirrorError::Corrupt(format!(
                            "{} without an incident",
                            change.incident_id
                        )));
                    };
                    sqlx::query(
                        "INSERT INTO incidents (id, version, retracted, country, body) \
                         VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET \
                         version = excluded.version, retracted = excluded.retracted, \
                         country = excluded.country, body = excluded.body",
                    )
                    .bind(&incident.id)
                    .bind(i64::try_from(incident.version).unwrap_or(i64::MAX))
                    .bind(kind == pb::ChangeType::Retract)
                    .bind(&incident.country)
                    .bind(incident.encode_to_vec())
                    .execute(&mut *tx)
                    .await?;
                    if kind == pb::ChangeType::Retract {
                        stats.retracts += 1;
                    } else {
                        stats.upserts += 1;
                    }
                }
                Ok(pb::ChangeType::Revoke) => {
                    sqlx::query("DELETE FROM incidents WHERE id = ?")
                        .bind(&change.incident_id)
                        .execute(&mut *tx)
                        .await?;
                    stats.revokes += 1;
                }
                _ => {
                    return Err(MirrorError::Corrupt(format!(
                        "unknown change type {} for {}",
                        change.r#type, change.incident_id
                    )));
                }
            }
        }
        set_meta(&mut tx, "cursor", cursor).await?;
        tx.commit().await?;
        Ok(stats)
    }

    /// Brings the mirror up to date with the hub (Pull), retrying transient failures with
    /// exponential backoff and jitter; each retry resumes from the last applied page.
    pub async fn sync(
        &self,
        client: &mut HubClient,
        options: &SyncOptions,
        mut progress: impl FnMut(SyncProgress),
    ) -> Result<SyncStats, MirrorError> {
        let started = Instant::now();
        let mut total = SyncStats {
            resumed: !self.cursor().await?.is_empty(),
            ..SyncStats::default()
        };
        let mut backoff = options.initial_backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .pull_once(client, options, &mut total, &mut progress)
                .await
            {
                Ok(()) => {
                    total.duration = started.elapsed();
                    return Ok(total);
                }
                Err(MirrorError::Hub(error))
                    if error.is_transient() && attempt < options.max_attempts =>
                {
                    total.retries += 1;
                    tokio::time::sleep(with_jitter(backoff)).await;
                    backoff = (backoff * 2).min(options.max_backoff);
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn pull_once(
        &self,
        client: &mut HubClient,
        options: &SyncOptions,
        total: &mut SyncStats,
        progress: &mut impl FnMut(SyncProgress),
    ) -> Result<(), MirrorError> {
        let cursor = self.cursor().await?;
        let mut stream = client
            .pull(&cursor, options.filter.clone(), options.page_size)
            .await?;
        loop {
            let page = stream.message().await.map_err(ClientError::from)?;
            let Some(page) = page else {
                // The stream ended without its final page: the link dropped.
                return Err(ClientError::Rpc {
                    code: tonic::Code::Unavailable,
                    message: "the feed ended before it was complete".into(),
                }
                .into());
            };
            let stats = self
                .apply(page.feed.as_ref(), &page.changes, &page.cursor)
                .await?;
            total.upserts += stats.upserts;
            total.retracts += stats.retracts;
            total.revokes += stats.revokes;
            total.pages += 1;
            progress(SyncProgress {
                applied: total.upserts + total.retracts + total.revokes,
                pages: total.pages,
            });
            if page.complete {
                return Ok(());
            }
        }
    }

    /// Follows the hub live (Subscribe), applying every change as it comes; reconnects by
    /// itself with backoff when the hub or the link goes away, from the last applied cursor.
    /// Returns only on a non-transient error, or when `on_change` returns false.
    pub async fn follow(
        &self,
        client: &mut HubClient,
        filter: &pb::SyncFilter,
        heartbeat_seconds: i32,
        mut on_change: impl FnMut(&[pb::Change], bool) -> bool,
    ) -> Result<(), MirrorError> {
        let initial = Duration::from_millis(200);
        let mut backoff = initial;
        loop {
            let result: Result<bool, MirrorError> = async {
                let cursor = self.cursor().await?;
                let mut stream = client
                    .subscribe(&cursor, filter.clone(), heartbeat_seconds)
                    .await?;
                while let Some(message) = stream.message().await.map_err(ClientError::from)? {
                    self.apply(message.feed.as_ref(), &message.changes, &message.cursor)
                        .await?;
                    backoff = initial;
                    if !on_change(&message.changes, message.live) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            .await;
            match result {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(MirrorError::Hub(error)) if error.is_transient() => {}
                Err(error) => return Err(error),
            }
            tokio::time::sleep(with_jitter(backoff)).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

/// Applies one advisory change (advisories are superseded, never retracted).
async fn apply_advisory(
    tx: &mut Transaction<'static, Sqlite>,
    change: &pb::Change,
    stats: &mut SyncStats,
) -> Result<(), MirrorError> {
    match pb::ChangeType::try_from(change.r#type) {
        Ok(pb::ChangeType::Upsert) => {
            let Some(advisory) = &change.advisory else {
                return Err(MirrorError::Corrupt(format!(
                    "advisory {} without its body",
                    change.advisory_id
                )));
            };
            sqlx::query(
                "INSERT INTO advisories (id, version, country, body) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                 country = excluded.country, body = excluded.body",
            )
            .bind(&advisory.id)
            .bind(i64::try_from(advisory.version).unwrap_or(i64::MAX))
            .bind(&advisory.country)
            .bind(advisory.encode_to_vec())
            .execute(&mut **tx)
            .await?;
            stats.upserts += 1;
        }
        Ok(pb::ChangeType::Revoke) => {
            sqlx::query("DELETE FROM advisories WHERE id = ?")
                .bind(&change.advisory_id)
                .execute(&mut **tx)
                .await?;
            stats.revokes += 1;
        }
        _ => {
            return Err(MirrorError::Corrupt(format!(
                "unexpected change type {} for advisory {}",
                change.r#type, change.advisory_id
            )));
        }
    }
    Ok(())
}

async fn set_meta(
    tx: &mut Transaction<'static, Sqlite>,
    key: &'static str,
    value: &str,
) -> Result<(), MirrorError> {
    sqlx::query(
        "INSERT INTO mirror_meta (key, value) VALUES (?, ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Between half and the whole of `delay`, so that many clients do not retry in step.
fn with_jitter(delay: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|now| now.subsec_nanos())
        .unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1_000) / 2_000.0;
    delay.mul_f64(fraction)
}
