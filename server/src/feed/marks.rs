//! Feed marks (`store::FeedMark`): at every boundary of `batch_seconds` (multiples of it since
//! the Unix epoch) the position the change log has reached is recorded, when it moved. The
//! TAXII edge dates each change by the first mark at or after it and serves nothing past the
//! last mark, so a date says only which batch a change committed in (what the batched live
//! feed says already), and any date maps back to one exact log position.

use std::time::{SystemTime, UNIX_EPOCH};

use super::horizon::until_next_boundary;
use crate::store::Store;

/// Marks the log at every boundary of `batch_seconds` (at least 1). Runs until aborted.
pub async fn run_marks(store: Store, batch_seconds: u64) {
    let batch = batch_seconds.max(1);
    let mut marked: Option<i64> = None;
    loop {
        tokio::time::sleep(until_next_boundary(SystemTime::now(), batch)).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0);
        // The boundary just passed (the sleep may overshoot by a little, never by a batch).
        let at = i64::try_from(now - now % batch).unwrap_or(i64::MAX);
        let seq = match store.max_seq().await {
            Ok(seq) => seq,
            Err(error) => {
                // Late is safe: the next boundary marks everything up to then.
                tracing::warn!(%error, "feed mark not sampled");
                continue;
            }
        };
        if seq == 0 || marked.is_some_and(|last| last >= seq) {
            continue;
        }
        match store.append_feed_mark(at, seq).await {
            Ok(_) => marked = Some(seq),
            Err(error) => tracing::warn!(%error, "feed mark not recorded"),
        }
    }
}
