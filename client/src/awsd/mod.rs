//! Reads the Aid Worker Security Database (AWSD) public CSV export into [`pb::Incident`]s, ready
//! to submit (design: data-model.md, "Importing the AWSD CSV").
//!
//! The AWSD is real partner data and messy: category values carry trailing spaces, come in two
//! spellings or abbreviated, days and whole dates are missing. A messy value never fails a row:
//! the reader keeps what it can, falls back to the field's UNKNOWN value and attaches an
//! [`AwsdWarning`] to the [`AwsdRecord`]. Only an unreadable file or a header without the AWSD
//! columns is an [`AwsdError`]. The reader streams: one row in memory at a time.
//!
//! ```no_run
//! # fn demo() -> Result<(), slt_client::awsd::AwsdError> {
//! let mut summary = slt_client::awsd::WarningSummary::default();
//! for record in slt_client::awsd::open_awsd("security_incidents_1997_2021.csv")? {
//!     let record = record?;
//!     summary.add(&record);
//!     if record.is_submittable() {
//!         // submit record.incident
//!     }
//! }
//! print!("{summary}");
//! # Ok(()) }
//! ```
//!
//! # Mapping
//!
//! Category values are compared after trimming, case-folding, reading `-`/`_` as spaces and
//! dropping spaces around `/` and `:` (so `Host State`, `Landmine `, `Vehicle-born IED` and
//! `Non-state armed group : National` all match).
//!
//! - **id**: UUID v5 in [`ID_NAMESPACE`] (`Uuid::NAMESPACE_URL`) of `"awsd:<Incident ID>"`, so a
//!   re-import resubmits the same ids and the hub answers UNCHANGED; `external_refs.awsd` keeps
//!   the AWSD id.
//! - **date**: Year/Month/Day; an empty Day gives precision MONTH (day 1), an empty Month YEAR
//!   (1 January). A Day or Month that is not a calendar date lowers the precision, with a warning.
//! - **country**: alpha-2 normalised to alpha-3 (Kosovo `XK` is `XKX`, as the hub has it). Rows
//!   without a code but with Country `Chechnya` are RUS; `Kashmir` is IND or PAK by whichever
//!   administering capital (Srinagar, Muzaffarabad) the reported point is nearer, IND without a
//!   point; the territory is disputed, so both come with a warning. A row with no country at all
//!   keeps an empty country and a blocking warning: the hub requires one and there is no honest
//!   code to invent.
//! - **places**: Region -> admin1, District -> admin2, City -> locality, Latitude/Longitude ->
//!   location with precision KM_25 (the AWSD offsets its points). Names are cut at 200
//!   characters, Details (the narrative) at 16 KiB, on a character boundary, with a warning.
//! - **organisations**: UN, INGO, ICRC, NRCS and IFRC, NNGO, Other -> `affected_org_types`. In
//!   the AWSD these count affected *staff* per organisation type (they add up to Total affected),
//!   not organisations; they are copied as the design says.
//! - **victims**: one cell per outcome (Killed/Wounded/Kidnapped -> KILLED/INJURED/KIDNAPPED) and
//!   staff category (NATIONAL/INTERNATIONAL) with a non-zero count. The hub adds cells up per
//!   outcome and staff category, so the Gender totals are never added as extra cells (that would
//!   count the same people twice). They are distributed over the cells only when that is
//!   unambiguous: all victims have one sex, or there is a single cell to split. Otherwise the
//!   cells keep sex UNKNOWN and a warning carries the gender totals.
//! - **totals**: Total nationals/internationals/killed/wounded/kidnapped/affected, the Gender sum
//!   and the organisation-type sum are checked against the breakdown; the cells come from the
//!   breakdown and a disagreement is a warning, never silently fixed.
//! - **categories**: Means of attack, Attack context, Location, Motive, Actor type, Verified
//!   (Yes and Archived -> VERIFIED, Pending -> PENDING, `Pen` -> PENDING with a warning) and
//!   Source (Archived -> PARTNER_DATABASE: the original source was not kept) -> their enums;
//!   anything unmapped -> the UNKNOWN value (UNVERIFIED, UNSPECIFIED for the source) plus a
//!   warning. `State: unknown` has no PerpetratorType and is UNKNOWN with a warning, but still
//!   counts as a state actor for the threat category.
//! - **Actor name** -> `perpetrator_name`, except `Unknown` and `Not applicable`.
//! - **incident_types** and **threat_category** are derived: the rules are on the private
//!   functions `incident_types` and `threat_category` in `classification.rs` (and in the tests).
//! - **distribution** COMMUNITY and **tlp** CLEAR: the AWSD is public.

// One file per concern: the reader streams rows, the mapping is split by field family, and
// `record` assembles an incident from them.
mod categories;
mod classification;
mod columns;
mod dates;
mod numbers;
mod organisations;
mod places;
mod reader;
mod record;
mod texts;
mod victims;
mod warnings;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use slt_proto::v1 as pb;
use uuid::Uuid;

pub use reader::{AwsdReader, open_awsd, read_awsd};
pub use warnings::{AwsdWarning, WarningKind, WarningSummary};

/// Namespace of the deterministic incident ids: `Uuid::new_v5(&ID_NAMESPACE, b"awsd:<id>")`.
pub const ID_NAMESPACE: Uuid = Uuid::NAMESPACE_URL;
/// The hub's limit for names (admin areas, locality, perpetrator), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The hub's limit for the narrative, in bytes of UTF-8.
pub const MAX_NARRATIVE_BYTES: usize = 16 * 1024;
/// The hub's largest count.
pub const MAX_COUNT: u32 = 100_000;
/// The hub refuses incidents before this year.
pub const EARLIEST_YEAR: i32 = 1990;

/// The deterministic incident id of an AWSD incident: a re-import gives the same id.
pub fn incident_id(awsd_id: &str) -> Uuid {
    Uuid::new_v5(&ID_NAMESPACE, format!("awsd:{}", awsd_id.trim()).as_bytes())
}

/// Why the file could not be read as an AWSD export. Messy values are never errors.
#[derive(Debug, thiserror::Error)]
pub enum AwsdError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the AWSD CSV near line {line}: {source}")]
    Read { line: u64, source: csv::Error },
    #[error("the AWSD CSV is empty: no header line")]
    Empty,
    #[error("not an AWSD CSV export: the header lacks {}", missing.join(", "))]
    MissingColumns { missing: Vec<String> },
}

/// One mapped row.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsdRecord {
    /// Line of the file where the row starts (the header is line 1; Details may span lines;
    /// blank lines are skipped without being counted).
    pub line: u64,
    pub incident: pb::Incident,
    pub warnings: Vec<AwsdWarning>,
}

impl AwsdRecord {
    /// False when a warning says the hub will refuse the incident as mapped (no
    /// usable year). A batch submit is all or nothing, so such rows must be left out of it.
    pub fn is_submittable(&self) -> bool {
        !self
            .warnings
            .iter()
            .any(|warning| warning.kind.blocks_submit())
    }
}

/// ISO 3166-1 alpha-3 for an alpha-2 or alpha-3 code, from the API's own table (so the importer
/// accepts exactly what the hub accepts); `None` for an unknown code.
pub fn alpha3(code: &str) -> Option<&'static str> {
    slt_proto::countries::normalise_country(code)
}
