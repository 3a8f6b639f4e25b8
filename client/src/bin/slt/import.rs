//! Bulk imports: `slt import awsd`.

use std::path::Path;

use anyhow::bail;
use slt_client::{HubClient, awsd, import};

use crate::output::progress_bar;

/// Imports an AWSD CSV export, with a progress bar, and prints what happened.
pub(crate) async fn awsd(
    hub: &mut HubClient,
    file: &Path,
    batch_size: usize,
) -> anyhow::Result<()> {
    // Rows are about one per incident; counting them first gives the bar a length.
    let total = awsd::open_awsd(file)?.count() as u64;
    let bar = progress_bar(
        total,
        "{spinner} {pos}/{len} rows  {per_sec}  eta {eta}  {wide_bar}",
    );
    let report = import::import_awsd(hub, file, batch_size, |rows| bar.set_position(rows)).await;
    bar.finish_and_clear();
    let report = report?;
    println!(
        "imported {}: {} rows, {} created, {} unchanged, {} conflicts, {} skipped in {:.1}s",
        file.display(),
        report.rows,
        report.created,
        report.unchanged,
        report.conflicts,
        report.skipped,
        report.duration.as_secs_f64()
    );
    if !report.scrubbed.is_empty() {
        let scrubbed: Vec<String> = report
            .scrubbed
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        println!(
            "personal data removed from narratives by the hub: {}",
            scrubbed.join(", ")
        );
    }
    print!("warnings: {}", report.warnings);
    if report.conflicts > 0 {
        bail!(
            "{} incidents conflict with different records already on the hub",
            report.conflicts
        );
    }
    Ok(())
}
