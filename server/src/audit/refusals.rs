//! Coalescing of refused calls that no per-org rate limit can slow down: calls whose
//! certificate the registry no longer knows (no org to charge them to), and calls refused
//! because their org is over its rate limit. Every such call is still refused at once, but a loop
//! of them must not flood the log or starve the writes queued behind it. So, per source (the
//! peer's address, or the org), the first refusal of a window is recorded as usual and the
//! repeats are counted; when the window closes, one record says how many there were. The same
//! coalescing records the scrapes of the metrics endpoint (`api::metrics_endpoint`), which a
//! scraper repeats every few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::writer::{AuditWriteError, AuditWriter};
use super::{AuditEntry, bounds, now_text};

/// Sources tracked at once; beyond it, new sources share one window, so the log still gets at
/// most one record per window from all of them together.
const MAX_SOURCES: usize = 4_096;
const SHARED_SOURCE: &str = "(many sources)";

/// What a refusal is charged to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefusalSource {
    /// A caller with no org the hub knows: its network address (without the port).
    Address(String),
    /// A known org over its rate limit.
    Org(String),
}

/// What a window's summary record counts, by the log it belongs to.
const REFUSALS_KEY: &str = "coalesced_refusals";

impl RefusalSource {
    fn key(&self) -> String {
        match self {
            RefusalSource::Address(address) => format!("address {address}"),
            RefusalSource::Org(org) => format!("org {org}"),
        }
    }
}

struct Window {
    opened: Instant,
    first: AuditEntry,
    last_time: String,
    repeats: u64,
}

impl Window {
    /// The record of the repeats a closed window counted.
    fn summary(self, window: Duration, counted: &str) -> Option<AuditEntry> {
        if self.repeats == 0 {
            return None;
        }
        let mut entry = self.first;
        entry.request_summary = json!({
            counted: self.repeats,
            "first_repeat_until": self.last_time,
            "window_seconds": window.as_secs(),
        })
        .to_string();
        entry.time = now_text();
        entry.records_returned = 0;
        entry.incident_ids.clear();
        bounds::bound(&mut entry);
        Some(entry)
    }
}

/// The open windows, shared by every call the guard refuses.
pub struct RefusalLog {
    writer: AuditWriter,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
    /// The summary's key for the repeats it counts.
    counted: &'static str,
}

impl RefusalLog {
    pub fn new(writer: AuditWriter, window: Duration) -> Arc<Self> {
        Self::counting(writer, window, REFUSALS_KEY)
    }

    /// A log of other repeated calls, whose window summaries count them under `counted`.
    pub fn counting(writer: AuditWriter, window: Duration, counted: &'static str) -> Arc<Self> {
        Arc::new(Self {
            writer,
            window: window.max(Duration::from_millis(1)),
            windows: Mutex::new(HashMap::new()),
            counted,
        })
    }

    /// Records a refused call from `source`, or counts it into its source's open window. When a
    /// record is written, it is durable before this returns (the refusal is sent after it).
    pub async fn record(
        &self,
        source: &RefusalSource,
        entry: AuditEntry,
    ) -> Result<(), AuditWriteError> {
        let closed = {
            let Ok(mut windows) = self.windows.lock() else {
                // A poisoned lock loses coalescing, never the record.
                return self.writer.record(entry).await.map(|_| ());
            };
            let mut key = source.key();
            if !windows.contains_key(&key) && windows.len() >= MAX_SOURCES {
                key = SHARED_SOURCE.to_string();
            }
            if let Some(open) = windows.get_mut(&key)
                && open.opened.elapsed() < self.window
            {
                open.repeats += 1;
                open.last_time.clone_from(&entry.time);
                return Ok(());
            }
            let window = Window {
                opened: Instant::now(),
                last_time: entry.time.clone(),
                first: entry.clone(),
                repeats: 0,
            };
            windows
                .insert(key, window)
                .and_then(|closed| closed.summary(self.window, self.counted))
        };
        if let Some(summary) = closed {
            self.writer.record(summary).await?;
        }
        self.writer.record(entry).await.map(|_| ())
    }

    /// Writes the summaries of the windows that have closed (all of them when `all`, at
    /// shutdown) and forgets them.
    pub async fn flush(&self, all: bool) -> Result<(), AuditWriteError> {
        let closed: Vec<Window> = match self.windows.lock() {
            Ok(mut windows) => {
                let keys: Vec<String> = windows
                    .iter()
                    .filter(|(_, open)| all || open.opened.elapsed() >= self.window)
                    .map(|(key, _)| key.clone())
                    .collect();
                keys.iter().filter_map(|key| windows.remove(key)).collect()
            }
            Err(_) => Vec::new(),
        };
        for window in closed {
            if let Some(summary) = window.summary(self.window, self.counted) {
                self.writer.record(summary).await?;
            }
        }
        Ok(())
    }

    /// Flushes closed windows at every window's length, for as long as the hub runs.
    pub async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.window);
        loop {
            ticks.tick().await;
            if let Err(error) = self.flush(false).await {
                tracing::error!(%error, "summary of coalesced refusals not written");
            }
        }
    }
}
