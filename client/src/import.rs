//! Bulk import of the AWSD CSV into a hub: batched SubmitIncidents (each batch all-or-nothing),
//! idempotent by the records' deterministic ids, so an interrupted import is simply run again.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use slt_proto::v1 as pb;

use crate::awsd::{self, AwsdError, WarningSummary};
use crate::{ClientError, HubClient};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] AwsdError),
    #[error("the hub refused batch starting at CSV line {line}: {source}")]
    Hub { line: u64, source: ClientError },
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows: u64,
    pub created: u64,
    pub unchanged: u64,
    pub conflicts: u64,
    /// Rows left out because the hub would refuse them as mapped (see the warnings).
    pub skipped: u64,
    /// Personal data the hub's anonymiser removed, by kind.
    pub scrubbed: BTreeMap<String, u64>,
    pub warnings: WarningSummary,
    pub duration: Duration,
}

/// Imports an AWSD CSV file in batches of `batch_size` (1..=1000). `progress` gets the rows
/// read so far after each batch.
pub async fn import_awsd(
    client: &mut HubClient,
    path: impl AsRef<Path>,
    batch_size: usize,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let batch_size = batch_size.clamp(1, 1_000);
    let mut report = ImportReport::default();
    let mut batch: Vec<pb::Incident> = Vec::with_capacity(batch_size);
    let mut batch_line = 0;
    for record in awsd::open_awsd(path)? {
        let record = record?;
        report.rows += 1;
        report.warnings.add(&record);
        if !record.is_submittable() {
            report.skipped += 1;
            continue;
        }
        if batch.is_empty() {
            batch_line = record.line;
        }
        batch.push(record.incident);
        if batch.len() == batch_size {
            submit(client, &mut batch, batch_line, &mut report).await?;
            progress(report.rows);
        }
    }
    if !batch.is_empty() {
        submit(client, &mut batch, batch_line, &mut report).await?;
    }
    progress(report.rows);
    report.duration = started.elapsed();
    Ok(report)
}

async fn submit(
    client: &mut HubClient,
    batch: &mut Vec<pb::Incident>,
    line: u64,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let results = client
        .submit(std::mem::take(batch))
        .await
        .map_err(|source| ImportError::Hub { line, source })?;
    for result in results {
        match pb::SubmitOutcome::try_from(result.outcome) {
            Ok(pb::SubmitOutcome::Created) => report.created += 1,
            Ok(pb::SubmitOutcome::Unchanged) => report.unchanged += 1,
            _ => report.conflicts += 1,
        }
        for count in result.scrubbed {
            *report.scrubbed.entry(count.kind).or_default() += u64::from(count.count);
        }
    }
    Ok(())
}
