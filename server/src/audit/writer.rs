//! Group commit for the access log. Calls hand their record to one writer task and wait for it
//! to be durable; the writer appends everything queued while its previous commit ran in one
//! transaction. A read's data is still held until its own record has committed (the caller
//! awaits the reply), but concurrent calls share one commit instead of queueing for the chain's
//! lock one transaction at a time. Under no load a record commits alone, with no added delay.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::AuditEntry;
use crate::metrics::AuditMetrics;
use crate::store::Store;

/// Records one commit may carry.
const MAX_BATCH_RECORDS: usize = 512;

/// Records queued for the writer; a full queue makes callers wait (bounded memory: a record is
/// bounded by `audit::bounds`).
const QUEUE_RECORDS: usize = 1_024;

/// Why a record was not written. The call it describes must then fail closed.
#[derive(Debug, thiserror::Error)]
pub enum AuditWriteError {
    #[error("the access log writer has stopped")]
    Stopped,
    #[error("{0}")]
    Store(String),
}

struct Pending {
    entry: AuditEntry,
    done: oneshot::Sender<Result<u64, String>>,
}

/// A handle on the writer task; clones share it. The task ends when the last handle is dropped,
/// after writing what was queued.
#[derive(Clone, Debug)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
    stats: Arc<WriterStats>,
}

/// What the writer has committed since it started (for operators and benchmarks).
#[derive(Debug, Default)]
pub struct WriterStats {
    commits: AtomicU64,
    records: AtomicU64,
}

impl WriterStats {
    /// Transactions committed.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Records committed.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
}

impl AuditWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> Self {
        Self::start_observed(store, None)
    }

    /// Starts the writer task, which also counts its commits, batch sizes and commit times in
    /// `metrics`.
    pub fn start_observed(store: Store, metrics: Option<AuditMetrics>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_RECORDS);
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(write_loop(store, receiver, stats.clone(), metrics));
        Self { queue, stats }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Appends `entry` and returns its seq once it is durable. The append runs in the writer
    /// task: a caller that goes away after the record was queued does not stop it being written.
    pub async fn record(&self, entry: AuditEntry) -> Result<u64, AuditWriteError> {
        let (done, reply) = oneshot::channel();
        self.queue
            .send(Pending { entry, done })
            .await
            .map_err(|_| AuditWriteError::Stopped)?;
        Queued(reply).durable().await
    }

    /// Queues `entry` now if the queue has room, without waiting: once this returns `Ok` the
    /// record will be written whatever becomes of the caller.
    pub fn try_queue(&self, entry: AuditEntry) -> Result<Queued, NotQueued> {
        let (done, reply) = oneshot::channel();
        match self.queue.try_send(Pending { entry, done }) {
            Ok(()) => Ok(Queued(reply)),
            Err(mpsc::error::TrySendError::Full(pending)) => {
                Err(NotQueued::Full(Box::new(pending.entry)))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(NotQueued::Stopped),
        }
    }
}

/// A record in the writer's queue.
#[derive(Debug)]
pub struct Queued(oneshot::Receiver<Result<u64, String>>);

impl Queued {
    /// Its seq, once it is durable.
    pub async fn durable(self) -> Result<u64, AuditWriteError> {
        match self.0.await {
            Ok(Ok(seq)) => Ok(seq),
            Ok(Err(error)) => Err(AuditWriteError::Store(error)),
            Err(_) => Err(AuditWriteError::Stopped),
        }
    }
}

/// Why [`AuditWriter::try_queue`] did not queue a record.
#[derive(Debug)]
pub enum NotQueued {
    /// The queue is full: the record, to send when there is room.
    Full(Box<AuditEntry>),
    Stopped,
}

async fn write_loop(
    store: Store,
    mut receiver: mpsc::Receiver<Pending>,
    stats: Arc<WriterStats>,
    metrics: Option<AuditMetrics>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH_RECORDS);
    while receiver.recv_many(&mut batch, MAX_BATCH_RECORDS).await > 0 {
        let (entries, replies): (Vec<AuditEntry>, Vec<_>) = batch
            .drain(..)
            .map(|pending| (pending.entry, pending.done))
            .unzip();
        let started = std::time::Instant::now();
        let result = store.record_audit_batch(&entries).await;
        if let Some(metrics) = &metrics {
            metrics
                .commit_seconds
                .observe(started.elapsed().as_secs_f64());
            // Batches are at most MAX_BATCH_RECORDS long: exact in f64.
            metrics.batch_records.observe(entries.len() as f64);
            match &result {
                Ok(seqs) => {
                    metrics.commits.inc();
                    metrics.records.inc_by(seqs.len() as u64);
                }
                Err(_) => {
                    metrics.failed_commits.inc();
                }
            }
        }
        match result {
            Ok(seqs) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .records
                    .fetch_add(seqs.len() as u64, Ordering::Relaxed);
                for (reply, seq) in replies.into_iter().zip(seqs) {
                    // A caller that went away no longer waits; its record is written anyway.
                    let _ = reply.send(Ok(seq));
                }
            }
            Err(error) => {
                // None of the batch is written (one transaction): every call in it fails closed.
                let error = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
