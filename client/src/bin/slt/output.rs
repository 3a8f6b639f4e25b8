//! Output formats: the aligned table, CSV, and the progress bar of long commands. JSON output is
//! the SDK's canonical proto3 JSON, printed by each command.

use crate::args::Format;

/// Prints rows as an aligned table (`(none)` when empty) or as CSV with a header line.
pub(crate) fn print_rows(
    format: Format,
    header: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    if format == Format::Csv {
        let mut writer = csv::Writer::from_writer(std::io::stdout());
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(row)?;
        }
        writer.flush()?;
        return Ok(());
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header.to_vec()));
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        println!("(none)");
    }
    Ok(())
}

/// The short name of a proto enum value (`SUBMIT_OUTCOME_CREATED` -> `CREATED`).
pub(crate) fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

/// A progress bar with `template`; the default style if the template does not parse.
pub(crate) fn progress_bar(length: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
