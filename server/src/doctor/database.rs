//! The database: reachable, and carrying every migration this build knows (read-only).

use super::Finding;
use crate::config::HubConfig;
use crate::store;

pub(super) async fn check(config: &HubConfig) -> Vec<Finding> {
    let subject = "database_url";
    let status = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store::migration_status(&config.database_url),
    )
    .await;
    let finding = match status {
        Err(_) => Finding::problem(
            subject,
            "the database did not answer within 10 s",
            "check that the database server runs and that the URL's host and port are right",
        ),
        Ok(Err(error)) => Finding::problem(
            subject,
            format!("unreachable: {error}"),
            "check the URL (or SLT_HUB_DATABASE_URL), that the server runs and the hub's \
             user may connect; `slt-hub migrate` creates a SQLite file",
        ),
        Ok(Ok(status)) if !status.pending.is_empty() => Finding::problem(
            subject,
            format!(
                "not migrated: {} migration(s) pending, the first {} ({})",
                status.pending.len(),
                status.pending[0].0,
                status.pending[0].1
            ),
            "run `slt-hub migrate --config <hub.toml>` (slt-hub serve also migrates on start)",
        ),
        Ok(Ok(status)) if !status.unknown.is_empty() => Finding::warning(
            subject,
            format!(
                "carries migrations this build does not know ({:?}): a newer hub ran on it",
                status.unknown
            ),
            "run the newer slt-hub, or restore a backup from before the upgrade",
        ),
        Ok(Ok(_)) => Finding::ok(subject, "reachable and migrated"),
    };
    vec![finding]
}
