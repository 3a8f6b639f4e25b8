//! The change feed: `slt sync` (the local mirror) and `slt subscribe` (printing changes).

use std::path::Path;

use anyhow::bail;
use slt_client::{ClientError, HubClient, Mirror, MirrorError, SyncOptions, json, proto as pb};

use crate::args::Format;
use crate::incidents::incident_row;
use crate::output::{progress_bar, short};

/// Brings the mirror up to date, then with `--follow` keeps applying live changes.
pub(crate) async fn sync(
    hub: &mut HubClient,
    path: &Path,
    filter: pb::SyncFilter,
    page_size: i32,
    follow: bool,
    resync: bool,
) -> anyhow::Result<()> {
    let mirror = Mirror::open(path).await?;
    if resync {
        mirror.reset().await?;
    }
    // No total and no eta: the hub does not say how much remains (that would count changes
    // this caller cannot see), so the bar counts what was applied.
    let bar = progress_bar(0, "{spinner} {pos} changes applied  {per_sec}  {msg}");
    let options = SyncOptions {
        filter: filter.clone(),
        page_size,
        ..SyncOptions::default()
    };
    let result = mirror
        .sync(hub, &options, |progress| {
            bar.set_position(progress.applied);
            bar.set_message(format!("{} pages", progress.pages));
        })
        .await;
    bar.finish_and_clear();
    let stats = match result {
        Ok(stats) => stats,
        Err(MirrorError::Hub(ClientError::ResyncRequired(reason))) => {
            bail!("{reason}\nthe hub cannot continue this mirror: run again with --resync");
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "synced {}: {} upserts, {} retracts, {} revokes in {:.1}s ({} pages{}{}); the mirror holds {} incidents",
        path.display(),
        stats.upserts,
        stats.retracts,
        stats.revokes,
        stats.duration.as_secs_f64(),
        stats.pages,
        if stats.resumed {
            ", resumed from the mirror's checkpoint"
        } else {
            ", from the beginning"
        },
        if stats.retries > 0 {
            format!(", {} retries", stats.retries)
        } else {
            String::new()
        },
        mirror.len().await?
    );
    if follow {
        eprintln!("following live changes (Ctrl-C to stop)");
        mirror
            .follow(hub, &filter, 15, |changes, _| {
                for change in changes {
                    println!("{}", change_line(change));
                }
                true
            })
            .await?;
    }
    Ok(())
}
/// Prints changes as they come, catching up from `cursor` first.
pub(crate) async fn subscribe(
    hub: &mut HubClient,
    format: Format,
    cursor: &str,
    filter: pb::SyncFilter,
    heartbeat: i32,
) -> anyhow::Result<()> {
    let mut stream = hub.subscribe(cursor, filter, heartbeat).await?;
    let mut announced_live = false;
    while let Some(message) = stream.message().await.map_err(ClientError::from)? {
        for change in &message.changes {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::to_string(&json::to_json(change, "slt.v1.Change")?)?
                );
            } else {
                println!("{}", change_line(change));
            }
        }
        if message.live && !announced_live {
            announced_live = true;
            eprintln!("caught up; live (cursor {})", message.cursor);
        }
    }
    Ok(())
}
/// One change as one line of text.
fn change_line(change: &pb::Change) -> String {
    let kind = pb::ChangeType::try_from(change.r#type)
        .map(|t| short(t.as_str_name(), "CHANGE_TYPE_"))
        .unwrap_or_else(|_| "?".into());
    if !change.advisory_id.is_empty() {
        return match &change.advisory {
            Some(advisory) => format!(
                "{kind:<8} advisory {}  v{}  {}  level {}",
                advisory.id, advisory.version, advisory.country, advisory.security_level
            ),
            None => format!("{kind:<8} advisory {}", change.advisory_id),
        };
    }
    match &change.incident {
        Some(incident) => {
            let row = incident_row(incident);
            format!(
                "{kind:<8} {}  v{}  {}  {}  {}  {}",
                row[0], row[1], row[2], row[3], row[5], row[6]
            )
        }
        None => format!("{kind:<8} {}", change.incident_id),
    }
}
