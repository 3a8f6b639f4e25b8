//! What the mapping had to assume, drop or leave as given: the warnings attached to a record,
//! their kinds and the end-of-import summary.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{AwsdRecord, EARLIEST_YEAR, MAX_COUNT};

/// The longest category value quoted in a warning, so that garbage cannot make huge keys.
const MAX_QUOTED_CHARS: usize = 60;

/// One thing the mapping had to assume, drop or leave as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsdWarning {
    /// What happened, without row-specific numbers: the key [`WarningSummary`] counts by.
    pub kind: WarningKind,
    /// The row's particulars (the numbers that disagree, the original value), possibly empty.
    pub detail: String,
}

impl fmt::Display for AwsdWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.detail)
        }
    }
}

/// The kinds of warning. `Display` gives the summary line's text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// A category value the mapping does not know.
    Unmapped {
        column: &'static str,
        value: String,
        read_as: &'static str,
    },
    /// An empty category value.
    Empty {
        column: &'static str,
        read_as: &'static str,
    },
    /// A value read with an assumption (an abbreviation, a country name without a code).
    Assumed {
        column: &'static str,
        value: String,
        read_as: &'static str,
    },
    /// A count that is not a whole number in 0..=100000; read as 0.
    BadCount { column: &'static str },
    /// A totals column that disagrees with the sum of its parts; the parts are imported.
    TotalsDisagree { column: &'static str },
    /// Gender totals that cannot be distributed over the victim cells without guessing.
    SexNotDistributed,
    /// A text cut to the hub's limit.
    Truncated { column: &'static str },
    /// Coordinates with one half missing, not numbers, out of range or (0, 0): no location.
    BadCoordinates,
    /// A Month or Day that does not make a calendar date; the precision is lowered.
    BadDate { column: &'static str },
    /// The row has another number of fields than the header; missing fields read as empty.
    RaggedRow,
    /// Bytes that are not UTF-8, replaced by U+FFFD.
    InvalidUtf8 { column: &'static str },
    /// No Incident ID: the id is derived from the line, so a re-import is idempotent only for
    /// the same file.
    NoIncidentId,
    /// Nothing in the row points to a threat category; ARMED_CONFLICT was assumed.
    ThreatCategoryDefaulted,
    /// Blocking: neither a Country Code nor a Country the mapping can place.
    NoCountry,
    /// Blocking: a Country Code that is not ISO 3166-1.
    UnknownCountryCode { code: String },
    /// Blocking: Year missing or not a number.
    NoYear,
    /// Blocking: the date is before 1990 or in the future.
    DateOutOfRange,
}

impl WarningKind {
    /// True when the hub will refuse the incident because of this.
    pub fn blocks_submit(&self) -> bool {
        matches!(self, Self::NoYear | Self::DateOutOfRange)
    }
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REFUSED: &str = "(the hub will refuse this row)";
        match self {
            Self::Unmapped {
                column,
                value,
                read_as,
            } => write!(f, "unmapped {column} '{value}' (read as {read_as})"),
            Self::Empty { column, read_as } => write!(f, "empty {column} (read as {read_as})"),
            Self::Assumed {
                column,
                value,
                read_as,
            } => write!(f, "{column} '{value}' read as {read_as}"),
            Self::BadCount { column } => {
                write!(
                    f,
                    "{column} is not a whole number in 0..={MAX_COUNT} (read as 0)"
                )
            }
            Self::TotalsDisagree { column } => {
                write!(
                    f,
                    "{column} disagrees with its parts (the parts are imported)"
                )
            }
            Self::SexNotDistributed => write!(
                f,
                "Gender totals span several victim cells (sex left UNKNOWN)"
            ),
            Self::Truncated { column } => write!(f, "{column} cut to the hub's limit"),
            Self::BadCoordinates => write!(f, "unusable Latitude/Longitude (no location)"),
            Self::BadDate { column } => {
                write!(f, "{column} is not a calendar date (precision lowered)")
            }
            Self::RaggedRow => write!(f, "row has another number of fields than the header"),
            Self::InvalidUtf8 { column } => write!(f, "{column} is not valid UTF-8 (replaced)"),
            Self::NoIncidentId => write!(f, "no Incident ID (id derived from the line number)"),
            Self::ThreatCategoryDefaulted => write!(
                f,
                "no means, context, actor or motive points to a threat category \
                 (read as ARMED_CONFLICT)"
            ),
            Self::NoCountry => write!(f, "no country (imported as XXX, unknown)"),
            Self::UnknownCountryCode { code } => {
                write!(
                    f,
                    "unknown Country Code '{code}' (imported as XXX, unknown)"
                )
            }
            Self::NoYear => write!(f, "Year missing or not a number {REFUSED}"),
            Self::DateOutOfRange => {
                write!(f, "date before {EARLIEST_YEAR} or in the future {REFUSED}")
            }
        }
    }
}

/// Counts rows per warning kind, for the end-of-import summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarningSummary {
    /// Rows seen.
    pub rows: u64,
    /// Rows with at least one warning.
    pub rows_with_warnings: u64,
    /// Rows the hub will refuse as mapped ([`AwsdRecord::is_submittable`] is false).
    pub blocked_rows: u64,
    counts: BTreeMap<WarningKind, u64>,
}

impl WarningSummary {
    /// Counts one record; a kind that appears twice in a row counts once.
    pub fn add(&mut self, record: &AwsdRecord) {
        self.rows += 1;
        if !record.warnings.is_empty() {
            self.rows_with_warnings += 1;
        }
        if !record.is_submittable() {
            self.blocked_rows += 1;
        }
        let kinds: BTreeSet<&WarningKind> = record.warnings.iter().map(|w| &w.kind).collect();
        for kind in kinds {
            *self.counts.entry(kind.clone()).or_default() += 1;
        }
    }

    /// How many rows had this kind of warning.
    pub fn count(&self, kind: &WarningKind) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// Every kind with its row count, most frequent first.
    pub fn entries(&self) -> Vec<(&WarningKind, u64)> {
        let mut entries: Vec<_> = self.counts.iter().map(|(k, n)| (k, *n)).collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        entries
    }
}

impl fmt::Display for WarningSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} rows, {} with warnings, {} the hub will refuse",
            self.rows, self.rows_with_warnings, self.blocked_rows
        )?;
        for (kind, rows) in self.entries() {
            let plural = if rows == 1 { "row" } else { "rows" };
            writeln!(f, "  {kind}: {rows} {plural}")?;
        }
        Ok(())
    }
}

/// The warnings of the row being mapped.
#[derive(Default)]
pub(super) struct Notes(pub(super) Vec<AwsdWarning>);

impl Notes {
    pub(super) fn add(&mut self, kind: WarningKind, detail: impl Into<String>) {
        self.0.push(AwsdWarning {
            kind,
            detail: detail.into(),
        });
    }
}

/// A value for a warning's detail, quoted and bounded.
pub(super) fn quoted(text: &str) -> String {
    format!("'{}'", shorten(text))
}

pub(super) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}...", &text[..end]),
    }
}
