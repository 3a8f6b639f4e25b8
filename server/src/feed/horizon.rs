//! The live feed's batch boundaries: every `batch` seconds (multiples of it since the Unix
//! epoch) the position the change log has reached is sampled, and subscribers delivered in
//! batches read only up to the latest sample. So the moment such a subscriber receives a change
//! says only that it committed within the batch before that boundary, not when.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::store::Store;

/// The latest boundary's log position, shared by every batched subscriber of one hub process.
pub struct Horizon {
    batch_seconds: u64,
    seq: watch::Sender<i64>,
    /// Unix seconds of the last successful sample (0: none yet), for the metrics endpoint.
    sampled_at: AtomicI64,
}

impl Horizon {
    /// A horizon for `batch_seconds` (0: no batching, the horizon never moves). Until the first
    /// sample (taken when `run` starts) it stands at 0: nothing is released (fail closed).
    pub fn new(batch_seconds: u64) -> Arc<Horizon> {
        Arc::new(Horizon {
            batch_seconds,
            seq: watch::channel(0).0,
            sampled_at: AtomicI64::new(0),
        })
    }

    /// The batch length (0: live subscribers are not batched).
    pub fn batch_seconds(&self) -> u64 {
        self.batch_seconds
    }

    /// How long ago the last boundary was sampled (0 without batching). Growing past the
    /// batch length means batched subscribers receive nothing new: the feed lags.
    pub fn age(&self, now: SystemTime) -> Duration {
        if self.batch_seconds == 0 {
            return Duration::ZERO;
        }
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0);
        let sampled = u64::try_from(self.sampled_at.load(Ordering::Relaxed)).unwrap_or(0);
        Duration::from_secs(now.saturating_sub(sampled))
    }

    /// Wakes on each new boundary; its value is the log position that boundary released.
    pub fn watch(&self) -> watch::Receiver<i64> {
        self.seq.subscribe()
    }

    /// Samples the log now (a start counts as a boundary), then at every boundary. Runs until
    /// aborted.
    pub async fn run(self: Arc<Self>, store: Store) {
        if self.batch_seconds == 0 {
            return;
        }
        loop {
            match store.max_seq().await {
                Ok(seq) => {
                    self.seq.send_replace(seq);
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|since| since.as_secs())
                        .unwrap_or(0);
                    self.sampled_at
                        .store(i64::try_from(now).unwrap_or(i64::MAX), Ordering::Relaxed);
                }
                // Keep the last boundary's position: late is safe, early would leak.
                Err(error) => tracing::warn!(%error, "live-feed boundary not sampled"),
            }
            tokio::time::sleep(until_next_boundary(SystemTime::now(), self.batch_seconds)).await;
        }
    }
}

/// The time from `now` to the next multiple of `batch` seconds since the Unix epoch.
pub fn until_next_boundary(now: SystemTime, batch: u64) -> Duration {
    let batch_ms = u128::from(batch.max(1)) * 1000;
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or(0);
    let wait = batch_ms - now_ms % batch_ms;
    Duration::from_millis(u64::try_from(wait).unwrap_or(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_multiples_of_the_batch() {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(until_next_boundary(at(0), 5), Duration::from_secs(5));
        assert_eq!(
            until_next_boundary(at(4_250), 5),
            Duration::from_millis(750)
        );
        assert_eq!(until_next_boundary(at(5_000), 5), Duration::from_secs(5));
    }
}
