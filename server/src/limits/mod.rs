//! Limits a partner cannot exceed, whatever it sends: a deadline on every unary call, per-org
//! caps on calls in flight and on open streams, and CPU-heavy work (the anonymiser, the
//! picture's suppression) on a bounded pool of threads where each org gets a fair share. Every
//! limit is answered with RESOURCE_EXHAUSTED (or DEADLINE_EXCEEDED) and how long to wait; all of
//! them are set in `hub.toml` under `[limits]` (docs/operations.md).

pub mod cpu;
pub mod occupancy;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[limits]` section of `hub.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest a unary call may run before it is answered DEADLINE_EXCEEDED (a client's own
    /// shorter `grpc-timeout` still applies). Streams are bounded by the connection age instead.
    pub call_timeout_millis: u64,
    /// Calls one org may have in flight at once, open streams included.
    pub calls_in_flight_per_org: u32,
    /// Streams (Pull, Subscribe, ExportAudit, health Watch) one org may hold open at once.
    pub streams_per_org: u32,
    /// Threads for CPU-heavy work; 0 means one per core.
    pub cpu_workers: u32,
    /// Of those, how many one org may use at once; 0 means half of them (at least one).
    pub cpu_jobs_per_org: u32,
    /// Jobs one org may have waiting for a thread; beyond that its calls are refused.
    pub cpu_queue_per_org: u32,
}

impl Default for Limits {
    /// Far above what a partner's staff and mirrors need; low enough that one runaway client
    /// cannot hold the hub.
    fn default() -> Self {
        Limits {
            call_timeout_millis: 60_000,
            calls_in_flight_per_org: 64,
            streams_per_org: 16,
            cpu_workers: 0,
            cpu_jobs_per_org: 0,
            cpu_queue_per_org: 32,
        }
    }
}

impl Limits {
    /// Why these limits are unusable, naming the field.
    pub fn problem(&self) -> Option<String> {
        if self.call_timeout_millis == 0 {
            return Some("limits.call_timeout_millis must be at least 1".into());
        }
        if self.calls_in_flight_per_org == 0 {
            return Some("limits.calls_in_flight_per_org must be at least 1".into());
        }
        if self.streams_per_org == 0 {
            return Some("limits.streams_per_org must be at least 1".into());
        }
        None
    }

    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_millis.max(1))
    }
}

/// A call refused by a limit: which one, its value, and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (limit {limit}); retry in {} ms", retry_after.as_millis())]
pub struct Refused {
    /// The limit, named as in `hub.toml`, e.g. "limits.streams_per_org".
    pub what: &'static str,
    pub limit: u32,
    pub retry_after: Duration,
}
