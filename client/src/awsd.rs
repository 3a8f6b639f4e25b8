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
//!   functions `incident_types` and `threat_category` below (and in the module's tests).
//! - **distribution** COMMUNITY and **tlp** CLEAR: the AWSD is public.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use slt_proto::google::r#type::Date as ProtoDate;
use slt_proto::v1 as pb;
use time::{Date, Month, OffsetDateTime};
use uuid::Uuid;

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
/// The longest category value quoted in a warning, so that garbage cannot make huge keys.
const MAX_QUOTED_CHARS: usize = 60;

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

/// The AWSD columns, in export order; the reader finds them by name, so order may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    IncidentId,
    Year,
    Month,
    Day,
    CountryCode,
    Country,
    Region,
    District,
    City,
    Un,
    Ingo,
    Icrc,
    IfrcNrcs,
    Nngo,
    OtherOrg,
    NationalsKilled,
    NationalsWounded,
    NationalsKidnapped,
    TotalNationals,
    InternationalsKilled,
    InternationalsWounded,
    InternationalsKidnapped,
    TotalInternationals,
    TotalKilled,
    TotalWounded,
    TotalKidnapped,
    TotalAffected,
    GenderMale,
    GenderFemale,
    GenderUnknown,
    Means,
    Context,
    Location,
    Latitude,
    Longitude,
    Motive,
    ActorType,
    ActorName,
    Details,
    Verified,
    Source,
}

const COLUMN_NAMES: [&str; 41] = [
    "Incident ID",
    "Year",
    "Month",
    "Day",
    "Country Code",
    "Country",
    "Region",
    "District",
    "City",
    "UN",
    "INGO",
    "ICRC",
    "NRCS and IFRC",
    "NNGO",
    "Other",
    "Nationals killed",
    "Nationals wounded",
    "Nationals kidnapped",
    "Total nationals",
    "Internationals killed",
    "Internationals wounded",
    "Internationals kidnapped",
    "Total internationals",
    "Total killed",
    "Total wounded",
    "Total kidnapped",
    "Total affected",
    "Gender Male",
    "Gender Female",
    "Gender Unknown",
    "Means of attack",
    "Attack context",
    "Location",
    "Latitude",
    "Longitude",
    "Motive",
    "Actor type",
    "Actor name",
    "Details",
    "Verified",
    "Source",
];

impl Col {
    fn name(self) -> &'static str {
        COLUMN_NAMES[self as usize]
    }
}

/// Streams [`AwsdRecord`]s out of an AWSD CSV export.
pub struct AwsdReader<R> {
    csv: csv::Reader<CrlfToLf<R>>,
    /// Field index of each column, by `Col as usize`.
    positions: [usize; COLUMN_NAMES.len()],
    header_len: usize,
    record: csv::ByteRecord,
    today: Date,
    done: bool,
}

impl<R> fmt::Debug for AwsdReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsdReader")
            .field("positions", &self.positions)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Opens an AWSD CSV file and checks its header.
pub fn open_awsd(path: impl AsRef<Path>) -> Result<AwsdReader<File>, AwsdError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| AwsdError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    read_awsd(file)
}

/// Reads the header of an AWSD CSV export and returns a reader of its rows.
pub fn read_awsd<R: Read>(reader: R) -> Result<AwsdReader<R>, AwsdError> {
    let today = OffsetDateTime::now_utc().date();
    AwsdReader::new(reader, today)
}

impl<R: Read> AwsdReader<R> {
    /// `today` bounds the dates the hub accepts; tests pass a fixed one.
    fn new(reader: R, today: Date) -> Result<Self, AwsdError> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(CrlfToLf::new(reader));
        let header = csv
            .byte_headers()
            .map_err(|source| AwsdError::Read { line: 1, source })?
            .clone();
        if header.is_empty() || header.iter().all(|field| field.is_empty()) {
            return Err(AwsdError::Empty);
        }
        let names: Vec<String> = header
            .iter()
            .map(|field| {
                String::from_utf8_lossy(field)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_lowercase()
            })
            .collect();
        let mut positions = [0; COLUMN_NAMES.len()];
        let mut missing = Vec::new();
        for (slot, wanted) in positions.iter_mut().zip(COLUMN_NAMES) {
            match names.iter().position(|name| *name == wanted.to_lowercase()) {
                Some(index) => *slot = index,
                None => missing.push(wanted.to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(AwsdError::MissingColumns { missing });
        }
        Ok(Self {
            csv,
            positions,
            header_len: header.len(),
            record: csv::ByteRecord::new(),
            today,
            done: false,
        })
    }
}

impl<R: Read> Iterator for AwsdReader<R> {
    type Item = Result<AwsdRecord, AwsdError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {
                    // A row of empty fields (a spreadsheet's trailing ",,,") is no incident.
                    if self.record.iter().all(|field| field.is_empty()) {
                        continue;
                    }
                    let line = self.record.position().map_or(0, |p| p.line());
                    return Some(Ok(self.map_current(line)));
                }
                Err(source) => {
                    self.done = true;
                    let line = source
                        .position()
                        .or_else(|| self.record.position())
                        .map_or(0, |p| p.line());
                    return Some(Err(AwsdError::Read { line, source }));
                }
            }
        }
    }
}

impl<R> AwsdReader<R> {
    fn map_current(&self, line: u64) -> AwsdRecord {
        let mut notes = Notes::default();
        if self.record.len() != self.header_len {
            notes.add(
                WarningKind::RaggedRow,
                format!(
                    "{} fields, the header has {}",
                    self.record.len(),
                    self.header_len
                ),
            );
        }
        let mut fields = Vec::with_capacity(COLUMN_NAMES.len());
        for (index, position) in self.positions.iter().enumerate() {
            let bytes = self.record.get(*position).unwrap_or_default();
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    notes.add(
                        WarningKind::InvalidUtf8 {
                            column: COLUMN_NAMES[index],
                        },
                        String::new(),
                    );
                    String::from_utf8_lossy(bytes).into_owned()
                }
            };
            fields.push(text);
        }
        let row = Row { fields: &fields };
        map_row(&row, line, self.today, notes)
    }
}

/// Turns CRLF into LF on the way to the csv parser, which reports a row after a CRLF one line
/// too early (the AWSD export is CRLF): without this every `line` would be off by one.
struct CrlfToLf<R> {
    inner: BufReader<R>,
}

impl<R: Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        Self {
            inner: BufReader::new(inner),
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut written = 0;
        while written < out.len() {
            // Wait for input only while nothing was written yet.
            let chunk = if written == 0 {
                self.inner.fill_buf()?
            } else {
                self.inner.buffer()
            };
            let Some(&first) = chunk.first() else {
                break;
            };
            if first == b'\r' {
                let next = chunk.get(1).copied();
                self.inner.consume(1);
                let next = match next {
                    Some(next) => Some(next),
                    // The CR ended the buffer: look at what follows it.
                    None => self.inner.fill_buf()?.first().copied(),
                };
                if next != Some(b'\n') {
                    out[written] = b'\r';
                    written += 1;
                }
                continue;
            }
            let run = chunk
                .iter()
                .position(|byte| *byte == b'\r')
                .unwrap_or(chunk.len())
                .min(out.len() - written);
            out[written..written + run].copy_from_slice(&chunk[..run]);
            self.inner.consume(run);
            written += run;
        }
        Ok(written)
    }
}

/// One row's fields in `Col` order.
struct Row<'a> {
    fields: &'a [String],
}

impl Row<'_> {
    fn get(&self, col: Col) -> &str {
        self.fields.get(col as usize).map_or("", |text| text.trim())
    }
}

/// The warnings of the row being mapped.
#[derive(Default)]
struct Notes(Vec<AwsdWarning>);

impl Notes {
    fn add(&mut self, kind: WarningKind, detail: impl Into<String>) {
        self.0.push(AwsdWarning {
            kind,
            detail: detail.into(),
        });
    }
}

fn map_row(row: &Row<'_>, line: u64, today: Date, mut notes: Notes) -> AwsdRecord {
    let awsd_id = row.get(Col::IncidentId).to_string();
    let id = if awsd_id.is_empty() {
        notes.add(WarningKind::NoIncidentId, format!("line {line}"));
        Uuid::new_v5(&ID_NAMESPACE, format!("awsd-line:{line}").as_bytes())
    } else {
        incident_id(&awsd_id)
    };

    let (occurred_on, date_precision) = map_date(row, today, &mut notes);
    let location = map_location(row, &mut notes);
    let country = map_country(row, location.as_ref(), &mut notes);

    let categories = Categories::read(row, &mut notes);
    let victims = Victims::read(row, &mut notes);
    let affected_org_types = pb::AffectedOrgTypes {
        un: count(row, Col::Un, &mut notes),
        ingo: count(row, Col::Ingo, &mut notes),
        icrc: count(row, Col::Icrc, &mut notes),
        ifrc_nrcs: count(row, Col::IfrcNrcs, &mut notes),
        nngo: count(row, Col::Nngo, &mut notes),
        other: count(row, Col::OtherOrg, &mut notes),
    };
    let org_sum = [
        affected_org_types.un,
        affected_org_types.ingo,
        affected_org_types.icrc,
        affected_org_types.ifrc_nrcs,
        affected_org_types.nngo,
        affected_org_types.other,
    ]
    .iter()
    .map(|n| u64::from(*n))
    .sum::<u64>();
    if org_sum != victims.total() {
        notes.add(
            WarningKind::TotalsDisagree {
                column: "UN+INGO+ICRC+NRCS and IFRC+NNGO+Other",
            },
            format!(
                "the organisation types add up to {org_sum}, the victims to {}",
                victims.total()
            ),
        );
    }

    let incident_types = incident_types(&categories, &victims)
        .into_iter()
        .map(|kind| kind as i32)
        .collect();
    let threat = threat_category(&categories).unwrap_or_else(|| {
        notes.add(WarningKind::ThreatCategoryDefaulted, String::new());
        pb::ThreatCategory::ArmedConflict
    });

    let cells = victims.cells(row, &mut notes);
    let area = |col: Col, notes: &mut Notes| {
        name(row, col, notes).map(|name| pb::AdminArea {
            name,
            pcode: String::new(),
        })
    };
    let admin1 = area(Col::Region, &mut notes);
    let admin2 = area(Col::District, &mut notes);
    let locality = name(row, Col::City, &mut notes).unwrap_or_default();
    let perpetrator_name = perpetrator_name(row, &mut notes);
    let narrative = narrative(row, &mut notes);

    let incident = pb::Incident {
        id: id.to_string(),
        occurred_on,
        date_precision: date_precision as i32,
        country,
        admin1,
        admin2,
        locality,
        location,
        threat_category: threat as i32,
        incident_types,
        means_of_attack: categories.means as i32,
        attack_context: categories.context as i32,
        location_type: categories.location as i32,
        motive: categories.motive as i32,
        perpetrator_type: categories.actor as i32,
        perpetrator_name,
        affected_org_types: Some(affected_org_types),
        victims: cells,
        source_type: categories.source as i32,
        verification: categories.verification as i32,
        narrative,
        external_refs: Some(pb::ExternalRefs {
            awsd: awsd_id,
            ..Default::default()
        }),
        distribution: pb::Distribution::Community as i32,
        tlp: pb::Tlp::Clear as i32,
        ..Default::default()
    };
    AwsdRecord {
        line,
        incident,
        warnings: notes.0,
    }
}

/// Year/Month/Day -> a date and its precision. `None` when there is no usable year.
fn map_date(
    row: &Row<'_>,
    today: Date,
    notes: &mut Notes,
) -> (Option<ProtoDate>, pb::DatePrecision) {
    let year_text = row.get(Col::Year);
    let Some(year) = parse_whole(year_text).and_then(|y| i32::try_from(y).ok()) else {
        notes.add(WarningKind::NoYear, quoted(year_text));
        return (None, pb::DatePrecision::Year);
    };
    let month_text = row.get(Col::Month);
    let month = if month_text.is_empty() {
        None
    } else {
        let month = parse_whole(month_text)
            .and_then(|m| u8::try_from(m).ok())
            .and_then(|m| Month::try_from(m).ok());
        if month.is_none() {
            notes.add(WarningKind::BadDate { column: "Month" }, quoted(month_text));
        }
        month
    };
    let day_text = row.get(Col::Day);
    let (date, precision) = match month {
        None => (
            Date::from_calendar_date(year, Month::January, 1),
            pb::DatePrecision::Year,
        ),
        Some(month) if day_text.is_empty() => (
            Date::from_calendar_date(year, month, 1),
            pb::DatePrecision::Month,
        ),
        Some(month) => {
            match parse_whole(day_text)
                .and_then(|d| u8::try_from(d).ok())
                .map(|day| Date::from_calendar_date(year, month, day))
            {
                Some(Ok(date)) => (Ok(date), pb::DatePrecision::Day),
                _ => {
                    notes.add(
                        WarningKind::BadDate { column: "Day" },
                        format!("{year}-{}-{day_text}", u8::from(month)),
                    );
                    (
                        Date::from_calendar_date(year, month, 1),
                        pb::DatePrecision::Month,
                    )
                }
            }
        }
    };
    let Ok(date) = date else {
        // Only a year outside time's range gets here.
        notes.add(WarningKind::DateOutOfRange, quoted(year_text));
        return (None, precision);
    };
    if date.year() < EARLIEST_YEAR || date > today {
        notes.add(WarningKind::DateOutOfRange, date.to_string());
    }
    let proto = ProtoDate {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    };
    (Some(proto), precision)
}

/// Latitude/Longitude -> a KM_25 point, or nothing when either is unusable.
fn map_location(row: &Row<'_>, notes: &mut Notes) -> Option<pb::Location> {
    let (lat_text, lon_text) = (row.get(Col::Latitude), row.get(Col::Longitude));
    if lat_text.is_empty() && lon_text.is_empty() {
        return None;
    }
    let latitude = lat_text.parse::<f64>().ok();
    let longitude = lon_text.parse::<f64>().ok();
    match (latitude, longitude) {
        (Some(latitude), Some(longitude))
            if latitude.is_finite()
                && longitude.is_finite()
                && (-90.0..=90.0).contains(&latitude)
                && (-180.0..=180.0).contains(&longitude)
                && !(latitude == 0.0 && longitude == 0.0) =>
        {
            Some(pb::Location {
                latitude,
                longitude,
                precision: pb::GeoPrecision::Km25 as i32,
            })
        }
        _ => {
            notes.add(
                WarningKind::BadCoordinates,
                format!("'{}', '{}'", shorten(lat_text), shorten(lon_text)),
            );
            None
        }
    }
}

/// Country Code (alpha-2) -> alpha-3; the few AWSD places without a code by their name.
fn map_country(row: &Row<'_>, location: Option<&pb::Location>, notes: &mut Notes) -> String {
    let code = row.get(Col::CountryCode).to_ascii_uppercase();
    if !code.is_empty() {
        if let Some(alpha3) = alpha3(&code) {
            return alpha3.to_string();
        }
        notes.add(
            WarningKind::UnknownCountryCode {
                code: shorten(&code),
            },
            quoted(row.get(Col::Country)),
        );
        return slt_proto::countries::UNKNOWN_COUNTRY.into();
    }
    let name = row.get(Col::Country);
    match fold(name).as_str() {
        "chechnya" => {
            notes.add(
                WarningKind::Assumed {
                    column: "Country",
                    value: "Chechnya".into(),
                    read_as: "RUS",
                },
                String::new(),
            );
            "RUS".into()
        }
        "kashmir" => {
            let code = kashmir(location);
            notes.add(
                WarningKind::Assumed {
                    column: "Country",
                    value: "Kashmir".into(),
                    read_as: code,
                },
                "disputed territory: the administering state nearest to the point",
            );
            code.into()
        }
        _ => {
            notes.add(WarningKind::NoCountry, quoted(name));
            slt_proto::countries::UNKNOWN_COUNTRY.into()
        }
    }
}

/// Kashmir is split by the Line of Control: IND or PAK by the nearer administrative capital
/// (Srinagar or Muzaffarabad). Without a point, IND. A heuristic; the warning says so.
fn kashmir(location: Option<&pb::Location>) -> &'static str {
    const SRINAGAR: (f64, f64) = (34.08, 74.80);
    const MUZAFFARABAD: (f64, f64) = (34.37, 73.47);
    let Some(point) = location else {
        return "IND";
    };
    let distance =
        |(lat, lon): (f64, f64)| (point.latitude - lat).powi(2) + (point.longitude - lon).powi(2);
    if distance(MUZAFFARABAD) < distance(SRINAGAR) {
        "PAK"
    } else {
        "IND"
    }
}

/// The category columns, read into the proto enums.
struct Categories {
    means: pb::MeansOfAttack,
    context: pb::AttackContext,
    location: pb::LocationType,
    motive: pb::Motive,
    actor: pb::PerpetratorType,
    /// Host state, foreign forces, police, or the AWSD's `State: unknown`.
    state_actor: bool,
    verification: pb::Verification,
    source: pb::SourceType,
}

impl Categories {
    fn read(row: &Row<'_>, notes: &mut Notes) -> Self {
        use pb::{AttackContext as C, LocationType as L, MeansOfAttack as M, Motive as Mo};
        let means = category(row, Col::Means, M::Unknown, "UNKNOWN", notes, |key| {
            Some(match key {
                "aerial bombardment" | "airstrike" | "air strike" => M::AerialBombardment,
                "bodily assault" => M::BodilyAssault,
                "shelling" => M::Shelling,
                "body borne ied" | "body born ied" | "suicide bomb" => M::BodyBorneIed,
                "roadside ied" => M::RoadsideIed,
                "vehicle borne ied" | "vehicle born ied" => M::VehicleBorneIed,
                "other explosives" | "other explosive" => M::OtherExplosives,
                "complex attack" => M::ComplexAttack,
                "kidnapping" => M::Kidnapping,
                "kidnap killing" => M::KidnapKilling,
                "rape/sexual assault" | "sexual assault" | "rape" => M::RapeSexualAssault,
                "landmine" | "landmines" => M::Landmine,
                "shooting" => M::Shooting,
                "detention" => M::Detention,
                "unknown" => M::Unknown,
                _ => return None,
            })
        });
        let context = category(row, Col::Context, C::Unknown, "UNKNOWN", notes, |key| {
            Some(match key {
                "ambush" => C::Ambush,
                "combat/crossfire" | "crossfire" | "combat" => C::CombatCrossfire,
                "individual attack" => C::IndividualAttack,
                "mob violence" => C::MobViolence,
                "raid" => C::Raid,
                "detention" => C::Detention,
                "unknown" => C::Unknown,
                _ => return None,
            })
        });
        let location = category(row, Col::Location, L::Unknown, "UNKNOWN", notes, |key| {
            Some(match key {
                "home" | "residence" => L::Home,
                "office/compound" | "office" | "compound" => L::OfficeCompound,
                "project site" => L::ProjectSite,
                "health facility" => L::HealthFacility,
                "camp" => L::Camp,
                "checkpoint" => L::Checkpoint,
                "road" => L::Road,
                "public location" => L::PublicLocation,
                "custody" => L::Custody,
                "warehouse" => L::Warehouse,
                "airstrip" => L::Airstrip,
                "waterway" => L::Waterway,
                "other" => L::Other,
                "unknown" => L::Unknown,
                _ => return None,
            })
        });
        let motive = category(row, Col::Motive, Mo::Unknown, "UNKNOWN", notes, |key| {
            Some(match key {
                "political" => Mo::Political,
                "economic" => Mo::Economic,
                "incidental" => Mo::Incidental,
                "disputed" => Mo::Disputed,
                "other" => Mo::Other,
                "unknown" => Mo::Unknown,
                _ => return None,
            })
        });
        let actor_key = fold(row.get(Col::ActorType));
        let state_unknown = actor_key == "state:unknown";
        let actor = category(
            row,
            Col::ActorType,
            pb::PerpetratorType::Unknown,
            "UNKNOWN",
            notes,
            actor_type,
        );
        let state_actor = state_unknown
            || matches!(
                actor,
                pb::PerpetratorType::HostState
                    | pb::PerpetratorType::ForeignOrCoalitionForces
                    | pb::PerpetratorType::PoliceParamilitary
            );
        Self {
            means,
            context,
            location,
            motive,
            actor,
            state_actor,
            verification: verification(row, notes),
            source: source(row, notes),
        }
    }
}

/// Actor type values; the `Non-state armed group: <scope>` family is split by its scope.
fn actor_type(key: &str) -> Option<pb::PerpetratorType> {
    use pb::PerpetratorType as P;
    let nsag = key
        .strip_prefix("non state armed group")
        .or_else(|| key.strip_prefix("nsag"));
    if let Some(scope) = nsag {
        return match scope.trim_start_matches([':', ' ']) {
            "global" => Some(P::NsagGlobal),
            "regional" => Some(P::NsagRegional),
            "national" => Some(P::NsagNational),
            "subnational" | "sub national" => Some(P::NsagSubnational),
            "unknown" | "" => Some(P::NsagUnknown),
            _ => None,
        };
    }
    Some(match key {
        "host state" | "host government" => P::HostState,
        "foreign or coalition forces" | "foreign forces" | "coalition forces" => {
            P::ForeignOrCoalitionForces
        }
        "police or paramilitary" | "police" | "paramilitary" => P::PoliceParamilitary,
        "criminal" | "criminals" => P::Criminal,
        "unaffiliated" => P::Unaffiliated,
        "aid recipient" | "aid recipients" => P::AidRecipient,
        "staff member" | "staff" => P::StaffMember,
        "multiple" => P::Multiple,
        "unknown" => P::Unknown,
        _ => return None,
    })
}

/// Verified: Yes and Archived (checked before archiving) are VERIFIED.
fn verification(row: &Row<'_>, notes: &mut Notes) -> pb::Verification {
    use pb::Verification as V;
    let text = row.get(Col::Verified);
    match fold(text).as_str() {
        "yes" | "verified" | "archived" => V::Verified,
        "pending" => V::Pending,
        "no" | "unverified" => V::Unverified,
        "pen" | "pend" => {
            notes.add(
                WarningKind::Assumed {
                    column: "Verified",
                    value: shorten(text),
                    read_as: "PENDING",
                },
                String::new(),
            );
            V::Pending
        }
        "" => {
            notes.add(
                WarningKind::Empty {
                    column: "Verified",
                    read_as: "UNVERIFIED",
                },
                String::new(),
            );
            V::Unverified
        }
        _ => {
            notes.add(
                WarningKind::Unmapped {
                    column: "Verified",
                    value: shorten(text),
                    read_as: "UNVERIFIED",
                },
                String::new(),
            );
            V::Unverified
        }
    }
}

/// Source: the AWSD's `Archived` rows kept no source but the database itself.
fn source(row: &Row<'_>, notes: &mut Notes) -> pb::SourceType {
    use pb::SourceType as S;
    category(
        row,
        Col::Source,
        S::Unspecified,
        "UNSPECIFIED",
        notes,
        |key| {
            Some(match key {
                "official report" => S::OfficialReport,
                "focal point" => S::FocalPoint,
                "media" => S::Media,
                "acled" => S::Acled,
                "archived" | "partner database" => S::PartnerDatabase,
                _ => return None,
            })
        },
    )
}

/// Reads one category column with `map`, falling back to `unknown` with a warning.
fn category<T: Copy>(
    row: &Row<'_>,
    col: Col,
    unknown: T,
    unknown_name: &'static str,
    notes: &mut Notes,
    map: impl Fn(&str) -> Option<T>,
) -> T {
    let text = row.get(col);
    if text.is_empty() {
        notes.add(
            WarningKind::Empty {
                column: col.name(),
                read_as: unknown_name,
            },
            String::new(),
        );
        return unknown;
    }
    map(&fold(text)).unwrap_or_else(|| {
        notes.add(
            WarningKind::Unmapped {
                column: col.name(),
                value: shorten(text),
                read_as: unknown_name,
            },
            String::new(),
        );
        unknown
    })
}

/// The comparison key of a category value: trimmed, case-folded, `-`/`_` as spaces, single
/// spaces, none around `/` and `:`.
fn fold(text: &str) -> String {
    let spaced: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    let single = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    single
        .replace(" /", "/")
        .replace("/ ", "/")
        .replace(" :", ":")
        .replace(": ", ":")
}

/// The victim breakdown of a row.
struct Victims {
    /// [killed, wounded, kidnapped] for nationals, then internationals.
    national: [u32; 3],
    international: [u32; 3],
}

const OUTCOMES: [pb::VictimOutcome; 3] = [
    pb::VictimOutcome::Killed,
    pb::VictimOutcome::Injured,
    pb::VictimOutcome::Kidnapped,
];

impl Victims {
    /// Reads the breakdown and checks every totals column against it.
    fn read(row: &Row<'_>, notes: &mut Notes) -> Self {
        let national = [
            count(row, Col::NationalsKilled, notes),
            count(row, Col::NationalsWounded, notes),
            count(row, Col::NationalsKidnapped, notes),
        ];
        let international = [
            count(row, Col::InternationalsKilled, notes),
            count(row, Col::InternationalsWounded, notes),
            count(row, Col::InternationalsKidnapped, notes),
        ];
        let victims = Self {
            national,
            international,
        };
        let sum = |parts: &[u32]| parts.iter().map(|n| u64::from(*n)).sum::<u64>();
        let checks = [
            (Col::TotalNationals, sum(&national)),
            (Col::TotalInternationals, sum(&international)),
            (Col::TotalKilled, sum(&[national[0], international[0]])),
            (Col::TotalWounded, sum(&[national[1], international[1]])),
            (Col::TotalKidnapped, sum(&[national[2], international[2]])),
            (Col::TotalAffected, victims.total()),
        ];
        for (col, parts) in checks {
            let total = count(row, col, notes);
            if u64::from(total) != parts {
                notes.add(
                    WarningKind::TotalsDisagree { column: col.name() },
                    format!("{} is {total}, its parts add up to {parts}", col.name()),
                );
            }
        }
        victims
    }

    fn total(&self) -> u64 {
        self.national
            .iter()
            .chain(&self.international)
            .map(|n| u64::from(*n))
            .sum()
    }

    fn killed(&self) -> bool {
        self.national[0] + self.international[0] > 0
    }

    fn wounded(&self) -> bool {
        self.national[1] + self.international[1] > 0
    }

    fn kidnapped(&self) -> bool {
        self.national[2] + self.international[2] > 0
    }

    /// The non-zero cells, with the Gender totals distributed when that is unambiguous.
    fn cells(&self, row: &Row<'_>, notes: &mut Notes) -> Vec<pb::VictimCount> {
        let mut cells: Vec<(pb::VictimOutcome, pb::StaffCategory, u32)> = Vec::new();
        for (staff, counts) in [
            (pb::StaffCategory::National, self.national),
            (pb::StaffCategory::International, self.international),
        ] {
            for (outcome, n) in OUTCOMES.iter().zip(counts) {
                if n > 0 {
                    cells.push((*outcome, staff, n));
                }
            }
        }
        let sexes = [
            (pb::Sex::Male, count(row, Col::GenderMale, notes)),
            (pb::Sex::Female, count(row, Col::GenderFemale, notes)),
            (pb::Sex::Unknown, count(row, Col::GenderUnknown, notes)),
        ];
        let gender_total: u64 = sexes.iter().map(|(_, n)| u64::from(*n)).sum();
        let detail = || {
            format!(
                "male {}, female {}, unknown {}",
                sexes[0].1, sexes[1].1, sexes[2].1
            )
        };
        let cell = |(outcome, staff, count): (pb::VictimOutcome, pb::StaffCategory, u32),
                    sex: pb::Sex| pb::VictimCount {
            outcome: outcome as i32,
            staff: staff as i32,
            sex: sex as i32,
            count,
            estimated: false,
        };
        let unknown_sex = |cells: &[(pb::VictimOutcome, pb::StaffCategory, u32)]| {
            cells.iter().map(|c| cell(*c, pb::Sex::Unknown)).collect()
        };

        if gender_total != self.total() {
            notes.add(
                WarningKind::TotalsDisagree {
                    column: "Gender Male+Female+Unknown",
                },
                format!("{}; the victims add up to {}", detail(), self.total()),
            );
            return unknown_sex(&cells);
        }
        let present: Vec<_> = sexes.iter().filter(|(_, n)| *n > 0).collect();
        match (present.as_slice(), cells.as_slice()) {
            // Everyone has the same sex: each cell is that sex.
            ([(sex, _)], _) => cells.iter().map(|c| cell(*c, *sex)).collect(),
            // One cell: split it by sex (the counts add up, checked above).
            (_, [(outcome, staff, _)]) => present
                .iter()
                .map(|(sex, n)| cell((*outcome, *staff, *n), *sex))
                .collect(),
            ([], _) => Vec::new(),
            _ => {
                notes.add(WarningKind::SexNotDistributed, detail());
                unknown_sex(&cells)
            }
        }
    }
}

/// The incident types a row shows; OTHER when none does. The rules, each adding one type:
///
/// | type | when |
/// |---|---|
/// | KILLING | anyone killed, or means Kidnap-killing |
/// | INJURY | anyone wounded |
/// | ABDUCTION | anyone kidnapped, or means Kidnapping / Kidnap-killing |
/// | SEXUAL_VIOLENCE | means Rape/sexual assault |
/// | ARREST_DETENTION | context Detention or means Detention |
/// | ATTACK_ON_PREMISES | location Office/compound and a Raid, bombardment, shelling or explosives |
/// | BURGLARY_RESIDENCE_BREAKIN | context Raid at location Home |
/// | ATTACK_ON_CONVOY | context Ambush at location Road (a vehicle movement was attacked) |
/// | ROBBERY | motive Economic, unless the means were a kidnapping (that is ABDUCTION) |
fn incident_types(c: &Categories, victims: &Victims) -> Vec<pb::IncidentType> {
    use pb::{AttackContext as C, IncidentType as T, LocationType as L, MeansOfAttack as M};
    let kidnap = matches!(c.means, M::Kidnapping | M::KidnapKilling);
    let heavy = matches!(
        c.means,
        M::AerialBombardment
            | M::Shelling
            | M::BodyBorneIed
            | M::RoadsideIed
            | M::VehicleBorneIed
            | M::OtherExplosives
            | M::ComplexAttack
    );
    let rules = [
        (T::Killing, victims.killed() || c.means == M::KidnapKilling),
        (T::Injury, victims.wounded()),
        (T::Abduction, victims.kidnapped() || kidnap),
        (T::SexualViolence, c.means == M::RapeSexualAssault),
        (
            T::ArrestDetention,
            c.context == C::Detention || c.means == M::Detention,
        ),
        (
            T::AttackOnPremises,
            c.location == L::OfficeCompound && (c.context == C::Raid || heavy),
        ),
        (
            T::BurglaryResidenceBreakin,
            c.context == C::Raid && c.location == L::Home,
        ),
        (
            T::AttackOnConvoy,
            c.context == C::Ambush && c.location == L::Road,
        ),
        (T::Robbery, c.motive == pb::Motive::Economic && !kidnap),
    ];
    let types: Vec<T> = rules
        .iter()
        .filter(|(_, applies)| *applies)
        .map(|(kind, _)| *kind)
        .collect();
    if types.is_empty() {
        vec![T::Other]
    } else {
        types
    }
}

/// The UN Security Level System threat category, by the first rule that applies; `None` when
/// none does (the caller assumes ARMED_CONFLICT and warns):
///
/// 1. context Mob violence -> CIVIL_UNREST;
/// 2. means Aerial bombardment, Shelling or Landmine, or context Combat/Crossfire ->
///    ARMED_CONFLICT (the weapons and settings of war);
/// 3. means Body-borne, Vehicle-borne or Roadside IED, Other explosives or Complex attack ->
///    TERRORISM, unless a state actor did it (ARMED_CONFLICT): the UNSLS counts IED, suicide and
///    complex attacks by non-state or unknown actors as terrorism;
/// 4. actor Criminal or motive Economic -> CRIME (kidnap for ransom included);
/// 5. actor Non-state armed group: Global -> TERRORISM; any other non-state armed group ->
///    ARMED_CONFLICT;
/// 6. a state actor (host state, foreign or coalition forces, police or paramilitary,
///    `State: unknown`) -> ARMED_CONFLICT (the UNSLS has no category of its own for them);
/// 7. actor Unaffiliated, Aid recipient or Staff member, or means Bodily assault or
///    Rape/sexual assault -> CRIME (violence by individuals);
/// 8. motive Political -> ARMED_CONFLICT.
fn threat_category(c: &Categories) -> Option<pb::ThreatCategory> {
    use pb::{AttackContext as C, MeansOfAttack as M, PerpetratorType as P, ThreatCategory as Th};
    if c.context == C::MobViolence {
        return Some(Th::CivilUnrest);
    }
    if matches!(c.means, M::AerialBombardment | M::Shelling | M::Landmine)
        || c.context == C::CombatCrossfire
    {
        return Some(Th::ArmedConflict);
    }
    if matches!(
        c.means,
        M::BodyBorneIed
            | M::VehicleBorneIed
            | M::RoadsideIed
            | M::OtherExplosives
            | M::ComplexAttack
    ) {
        return Some(if c.state_actor {
            Th::ArmedConflict
        } else {
            Th::Terrorism
        });
    }
    if c.actor == P::Criminal || c.motive == pb::Motive::Economic {
        return Some(Th::Crime);
    }
    match c.actor {
        P::NsagGlobal => return Some(Th::Terrorism),
        P::NsagRegional | P::NsagNational | P::NsagSubnational | P::NsagUnknown => {
            return Some(Th::ArmedConflict);
        }
        _ => {}
    }
    if c.state_actor {
        return Some(Th::ArmedConflict);
    }
    if matches!(c.actor, P::Unaffiliated | P::AidRecipient | P::StaffMember)
        || matches!(c.means, M::BodilyAssault | M::RapeSexualAssault)
    {
        return Some(Th::Crime);
    }
    if c.motive == pb::Motive::Political {
        return Some(Th::ArmedConflict);
    }
    None
}

/// A count column: empty is 0; anything but a whole number in 0..=100000 is 0 with a warning.
fn count(row: &Row<'_>, col: Col, notes: &mut Notes) -> u32 {
    let text = row.get(col);
    if text.is_empty() {
        return 0;
    }
    match parse_whole(text).and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n <= MAX_COUNT => n,
        _ => {
            notes.add(WarningKind::BadCount { column: col.name() }, quoted(text));
            0
        }
    }
}

/// A non-negative whole number, also written as a float (`3.0`, as spreadsheets export).
fn parse_whole(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let float = text.parse::<f64>().ok()?;
    let whole = float.is_finite() && float >= 0.0 && float.fract() == 0.0 && float < 1e15;
    // The range check above keeps the cast exact.
    whole.then_some(float as u64)
}

/// A name column, cut to the hub's limit; `None` when empty.
fn name(row: &Row<'_>, col: Col, notes: &mut Notes) -> Option<String> {
    let text = row.get(col);
    if text.is_empty() {
        return None;
    }
    Some(cut_chars(text, col, notes))
}

/// Actor name, unless it says nobody is known.
fn perpetrator_name(row: &Row<'_>, notes: &mut Notes) -> String {
    let text = row.get(Col::ActorName);
    match fold(text).as_str() {
        "" | "unknown" | "not applicable" | "n/a" | "none" => String::new(),
        _ => cut_chars(text, Col::ActorName, notes),
    }
}

fn cut_chars(text: &str, col: Col, notes: &mut Notes) -> String {
    match text.char_indices().nth(MAX_NAME_CHARS) {
        None => text.to_string(),
        Some((end, _)) => {
            notes.add(
                WarningKind::Truncated { column: col.name() },
                format!(
                    "{} characters cut to {MAX_NAME_CHARS}",
                    text.chars().count()
                ),
            );
            text[..end].trim_end().to_string()
        }
    }
}

/// Details, cut to 16 KiB on a character boundary.
fn narrative(row: &Row<'_>, notes: &mut Notes) -> String {
    let text = row.get(Col::Details);
    if text.len() <= MAX_NARRATIVE_BYTES {
        return text.to_string();
    }
    let mut end = MAX_NARRATIVE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    notes.add(
        WarningKind::Truncated { column: "Details" },
        format!("{} bytes cut to {MAX_NARRATIVE_BYTES}", text.len()),
    );
    text[..end].to_string()
}

/// A value for a warning's detail, quoted and bounded.
fn quoted(text: &str) -> String {
    format!("'{}'", shorten(text))
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}...", &text[..end]),
    }
}

/// ISO 3166-1 alpha-3 for an alpha-2 or alpha-3 code, from the API's own table (so the importer
/// accepts exactly what the hub accepts); `None` for an unknown code.
pub fn alpha3(code: &str) -> Option<&'static str> {
    slt_proto::countries::normalise_country(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::{
        AttackContext as C, IncidentType as T, MeansOfAttack as M, PerpetratorType as P, Sex as S,
        StaffCategory as St, ThreatCategory as Th, VictimOutcome as O,
    };
    use time::macros::date;

    /// A clean AWSD row; tests override the columns they are about.
    const BASE: [(&str, &str); 41] = [
        ("Incident ID", "1234"),
        ("Year", "2021"),
        ("Month", "3"),
        ("Day", "4"),
        ("Country Code", "AF"),
        ("Country", "Afghanistan"),
        ("Region", "Kabul"),
        ("District", "Kabul"),
        ("City", "Kabul"),
        ("UN", "0"),
        ("INGO", "1"),
        ("ICRC", "0"),
        ("NRCS and IFRC", "0"),
        ("NNGO", "0"),
        ("Other", "0"),
        ("Nationals killed", "1"),
        ("Nationals wounded", "0"),
        ("Nationals kidnapped", "0"),
        ("Total nationals", "1"),
        ("Internationals killed", "0"),
        ("Internationals wounded", "0"),
        ("Internationals kidnapped", "0"),
        ("Total internationals", "0"),
        ("Total killed", "1"),
        ("Total wounded", "0"),
        ("Total kidnapped", "0"),
        ("Total affected", "1"),
        ("Gender Male", "1"),
        ("Gender Female", "0"),
        ("Gender Unknown", "0"),
        ("Means of attack", "Shooting"),
        ("Attack context", "Ambush"),
        ("Location", "Road"),
        ("Latitude", "34.5"),
        ("Longitude", "69.2"),
        ("Motive", "Political"),
        ("Actor type", "Non-state armed group: National"),
        ("Actor name", "Taliban"),
        ("Details", "1 INGO national staff killed in an ambush.\n"),
        ("Verified", "Yes"),
        ("Source", "Media"),
    ];

    /// The CSV text of a header and one row per override list.
    fn csv_text(rows: &[&[(&str, &str)]]) -> Vec<u8> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(BASE.iter().map(|(name, _)| *name))
            .expect("header");
        for overrides in rows {
            let row = BASE.iter().map(|(name, value)| {
                overrides
                    .iter()
                    .rev()
                    .find(|(column, _)| column == name)
                    .map_or(*value, |(_, value)| *value)
            });
            writer.write_record(row).expect("row");
        }
        writer.into_inner().expect("flush")
    }

    fn read(bytes: &[u8]) -> Vec<AwsdRecord> {
        AwsdReader::new(bytes, date!(2026 - 01 - 15))
            .expect("header")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows")
    }

    fn one(overrides: &[(&str, &str)]) -> AwsdRecord {
        let mut records = read(&csv_text(&[overrides]));
        assert_eq!(records.len(), 1);
        records.remove(0)
    }

    fn kinds(record: &AwsdRecord) -> Vec<WarningKind> {
        record.warnings.iter().map(|w| w.kind.clone()).collect()
    }

    fn victims(record: &AwsdRecord) -> Vec<(O, St, S, u32)> {
        record
            .incident
            .victims
            .iter()
            .map(|v| {
                (
                    O::try_from(v.outcome).expect("outcome"),
                    St::try_from(v.staff).expect("staff"),
                    S::try_from(v.sex).expect("sex"),
                    v.count,
                )
            })
            .collect()
    }

    #[test]
    fn the_column_enum_matches_the_names() {
        assert_eq!(Col::Source as usize, COLUMN_NAMES.len() - 1);
        assert_eq!(Col::Un.name(), "UN");
        assert_eq!(Col::IfrcNrcs.name(), "NRCS and IFRC");
        assert_eq!(Col::GenderUnknown.name(), "Gender Unknown");
        assert_eq!(Col::ActorType.name(), "Actor type");
    }

    #[test]
    fn a_clean_row_maps_every_field_without_warnings() {
        let record = one(&[]);
        assert!(record.warnings.is_empty(), "{:?}", record.warnings);
        assert!(record.is_submittable());
        assert_eq!(record.line, 2);
        let incident = &record.incident;
        assert_eq!(incident.id, incident_id("1234").to_string());
        assert_eq!(
            incident.occurred_on,
            Some(ProtoDate {
                year: 2021,
                month: 3,
                day: 4
            })
        );
        assert_eq!(incident.date_precision, pb::DatePrecision::Day as i32);
        assert_eq!(incident.country, "AFG");
        assert_eq!(
            incident.admin1.as_ref().map(|a| a.name.as_str()),
            Some("Kabul")
        );
        assert_eq!(
            incident.admin2.as_ref().map(|a| a.name.as_str()),
            Some("Kabul")
        );
        assert_eq!(incident.locality, "Kabul");
        assert_eq!(
            incident.location,
            Some(pb::Location {
                latitude: 34.5,
                longitude: 69.2,
                precision: pb::GeoPrecision::Km25 as i32
            })
        );
        assert_eq!(incident.means_of_attack, M::Shooting as i32);
        assert_eq!(incident.attack_context, C::Ambush as i32);
        assert_eq!(incident.location_type, pb::LocationType::Road as i32);
        assert_eq!(incident.motive, pb::Motive::Political as i32);
        assert_eq!(incident.perpetrator_type, P::NsagNational as i32);
        assert_eq!(incident.perpetrator_name, "Taliban");
        assert_eq!(incident.threat_category, Th::ArmedConflict as i32);
        assert_eq!(
            incident.incident_types,
            [T::Killing as i32, T::AttackOnConvoy as i32]
        );
        assert_eq!(
            incident.affected_org_types,
            Some(pb::AffectedOrgTypes {
                ingo: 1,
                ..Default::default()
            })
        );
        assert_eq!(victims(&record), [(O::Killed, St::National, S::Male, 1)]);
        assert_eq!(incident.source_type, pb::SourceType::Media as i32);
        assert_eq!(incident.verification, pb::Verification::Verified as i32);
        assert_eq!(
            incident.narrative,
            "1 INGO national staff killed in an ambush."
        );
        assert_eq!(
            incident.external_refs.as_ref().map(|r| r.awsd.as_str()),
            Some("1234")
        );
        assert_eq!(incident.distribution, pb::Distribution::Community as i32);
        assert_eq!(incident.tlp, pb::Tlp::Clear as i32);
        assert!(incident.origin_org.is_empty() && incident.private.is_none());
    }

    #[test]
    fn ids_are_deterministic_v5_of_the_awsd_id() {
        let id = incident_id("61");
        assert_eq!(id, incident_id(" 61 "));
        assert_eq!(id, Uuid::new_v5(&Uuid::NAMESPACE_URL, b"awsd:61"));
        assert_eq!(id.get_version_num(), 5);
        assert_ne!(id, incident_id("62"));
        let no_id = one(&[("Incident ID", "")]);
        assert_eq!(kinds(&no_id), [WarningKind::NoIncidentId]);
        assert_eq!(
            no_id,
            one(&[("Incident ID", "")]),
            "stable for the same file"
        );
    }

    #[test]
    fn trailing_spaces_and_case_are_not_warnings() {
        let record = one(&[
            ("Means of attack", "Rape/sexual assault "),
            ("Location", " Office / Compound"),
            ("Source", "Official Report "),
            ("Verified", "yes "),
            ("Region", " Kabul  "),
        ]);
        assert!(record.warnings.is_empty(), "{:?}", record.warnings);
        assert_eq!(record.incident.means_of_attack, M::RapeSexualAssault as i32);
        assert_eq!(
            record.incident.location_type,
            pb::LocationType::OfficeCompound as i32
        );
        assert_eq!(
            record.incident.source_type,
            pb::SourceType::OfficialReport as i32
        );
        assert_eq!(
            record.incident.admin1.as_ref().map(|a| a.name.as_str()),
            Some("Kabul")
        );
        assert_eq!(
            one(&[("Means of attack", "Landmine ")])
                .incident
                .means_of_attack,
            M::Landmine as i32
        );
        assert_eq!(
            one(&[("Source", "media")]).incident.source_type,
            pb::SourceType::Media as i32
        );
    }

    #[test]
    fn two_spellings_of_a_value_map_the_same() {
        for spelling in ["Host state", "Host State", "HOST STATE"] {
            let record = one(&[("Actor type", spelling)]);
            assert!(record.warnings.is_empty(), "{spelling}");
            assert_eq!(record.incident.perpetrator_type, P::HostState as i32);
        }
        for spelling in ["Focal Point", "Focal point"] {
            let record = one(&[("Source", spelling)]);
            assert!(record.warnings.is_empty(), "{spelling}");
            assert_eq!(
                record.incident.source_type,
                pb::SourceType::FocalPoint as i32
            );
        }
        for spelling in ["Vehicle-born IED", "Vehicle-borne IED", "vehicle borne ied"] {
            let record = one(&[("Means of attack", spelling)]);
            assert!(record.warnings.is_empty(), "{spelling}");
            assert_eq!(record.incident.means_of_attack, M::VehicleBorneIed as i32);
        }
    }

    #[test]
    fn the_non_state_armed_group_family_is_split_by_scope() {
        for (value, expected) in [
            ("Non-state armed group: National", P::NsagNational),
            ("Non-state armed group: Global ", P::NsagGlobal),
            ("Non-state armed group: Regional", P::NsagRegional),
            ("Non-state armed group: Subnational", P::NsagSubnational),
            ("Non-state armed group: Unknown", P::NsagUnknown),
            ("non-state armed group : national", P::NsagNational),
            ("Non-state armed group", P::NsagUnknown),
        ] {
            let record = one(&[("Actor type", value)]);
            assert!(record.warnings.is_empty(), "{value}: {:?}", record.warnings);
            assert_eq!(record.incident.perpetrator_type, expected as i32, "{value}");
        }
        let odd = one(&[("Actor type", "Non-state armed group: Martian")]);
        assert_eq!(odd.incident.perpetrator_type, P::Unknown as i32);
        assert_eq!(
            kinds(&odd),
            [WarningKind::Unmapped {
                column: "Actor type",
                value: "Non-state armed group: Martian".into(),
                read_as: "UNKNOWN"
            }]
        );
    }

    #[test]
    fn state_unknown_is_unknown_with_a_warning_but_a_state_actor() {
        let record = one(&[
            ("Actor type", "State: unknown"),
            ("Means of attack", "Vehicle-born IED"),
        ]);
        assert_eq!(record.incident.perpetrator_type, P::Unknown as i32);
        assert!(matches!(
            kinds(&record)[..],
            [WarningKind::Unmapped {
                column: "Actor type",
                ..
            }]
        ));
        assert_eq!(record.incident.threat_category, Th::ArmedConflict as i32);
    }

    #[test]
    fn missing_day_or_month_lowers_the_precision() {
        let month = one(&[("Day", "")]);
        assert!(month.warnings.is_empty());
        assert_eq!(
            month.incident.occurred_on,
            Some(ProtoDate {
                year: 2021,
                month: 3,
                day: 1
            })
        );
        assert_eq!(
            month.incident.date_precision,
            pb::DatePrecision::Month as i32
        );

        let year = one(&[("Month", ""), ("Day", "")]);
        assert!(year.warnings.is_empty());
        assert_eq!(
            year.incident.occurred_on,
            Some(ProtoDate {
                year: 2021,
                month: 1,
                day: 1
            })
        );
        assert_eq!(year.incident.date_precision, pb::DatePrecision::Year as i32);

        let impossible = one(&[("Month", "2"), ("Day", "30")]);
        assert_eq!(kinds(&impossible), [WarningKind::BadDate { column: "Day" }]);
        assert_eq!(
            impossible.incident.date_precision,
            pb::DatePrecision::Month as i32
        );
        let bad_month = one(&[("Month", "13")]);
        assert_eq!(
            kinds(&bad_month),
            [WarningKind::BadDate { column: "Month" }]
        );
        assert_eq!(
            bad_month.incident.date_precision,
            pb::DatePrecision::Year as i32
        );
        assert_eq!(
            one(&[("Year", "2021.0"), ("Day", "04")])
                .incident
                .occurred_on,
            Some(ProtoDate {
                year: 2021,
                month: 3,
                day: 4
            })
        );
    }

    #[test]
    fn dates_the_hub_refuses_block_the_row() {
        for (year, expected) in [
            ("", WarningKind::NoYear),
            ("n/a", WarningKind::NoYear),
            ("1989", WarningKind::DateOutOfRange),
            ("2027", WarningKind::DateOutOfRange),
        ] {
            let record = one(&[("Year", year)]);
            assert_eq!(kinds(&record), [expected], "{year}");
            assert!(!record.is_submittable(), "{year}");
        }
        // The fixed "today" is 2026-01-15: this month is fine, a later day is not.
        assert!(one(&[("Year", "2026"), ("Month", "1"), ("Day", "")]).is_submittable());
        assert!(!one(&[("Year", "2026"), ("Month", "1"), ("Day", "16")]).is_submittable());
    }

    #[test]
    fn verified_values() {
        for (value, expected) in [
            ("Yes", pb::Verification::Verified),
            ("Archived", pb::Verification::Verified),
            ("Pending", pb::Verification::Pending),
        ] {
            let record = one(&[("Verified", value)]);
            assert!(record.warnings.is_empty());
            assert_eq!(record.incident.verification, expected as i32);
        }
        let pen = one(&[("Verified", "Pen")]);
        assert_eq!(pen.incident.verification, pb::Verification::Pending as i32);
        assert_eq!(
            kinds(&pen),
            [WarningKind::Assumed {
                column: "Verified",
                value: "Pen".into(),
                read_as: "PENDING"
            }]
        );
        let empty = one(&[("Verified", "")]);
        assert_eq!(
            empty.incident.verification,
            pb::Verification::Unverified as i32
        );
        assert_eq!(
            kinds(&empty),
            [WarningKind::Empty {
                column: "Verified",
                read_as: "UNVERIFIED"
            }]
        );
    }

    #[test]
    fn archived_source_is_the_partner_database() {
        let record = one(&[("Source", "Archived")]);
        assert!(record.warnings.is_empty());
        assert_eq!(
            record.incident.source_type,
            pb::SourceType::PartnerDatabase as i32
        );
        let odd = one(&[("Source", "Rumour")]);
        assert_eq!(odd.incident.source_type, pb::SourceType::Unspecified as i32);
        assert_eq!(odd.warnings.len(), 1);
    }

    #[test]
    fn unmapped_and_empty_values_fall_back_with_a_warning() {
        let record = one(&[
            ("Means of attack", "Arson"),
            ("Attack context", "Siege"),
            ("Location", "Boat"),
            ("Motive", ""),
        ]);
        assert!(record.is_submittable());
        assert_eq!(record.incident.means_of_attack, M::Unknown as i32);
        assert_eq!(record.incident.attack_context, C::Unknown as i32);
        assert_eq!(
            record.incident.location_type,
            pb::LocationType::Unknown as i32
        );
        assert_eq!(record.incident.motive, pb::Motive::Unknown as i32);
        let texts: Vec<String> = record.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            texts,
            [
                "unmapped Means of attack 'Arson' (read as UNKNOWN)",
                "unmapped Attack context 'Siege' (read as UNKNOWN)",
                "unmapped Location 'Boat' (read as UNKNOWN)",
                "empty Motive (read as UNKNOWN)",
            ]
        );
    }

    #[test]
    fn totals_that_disagree_are_imported_with_a_warning() {
        let record = one(&[("Total killed", "3"), ("Total affected", "2")]);
        assert!(record.is_submittable());
        assert_eq!(
            kinds(&record),
            [
                WarningKind::TotalsDisagree {
                    column: "Total killed"
                },
                WarningKind::TotalsDisagree {
                    column: "Total affected"
                },
            ]
        );
        assert_eq!(
            record.warnings[0].detail,
            "Total killed is 3, its parts add up to 1"
        );
        // The cells come from the breakdown, as given.
        assert_eq!(victims(&record), [(O::Killed, St::National, S::Male, 1)]);

        let orgs = one(&[("UN", "2")]);
        assert_eq!(
            kinds(&orgs),
            [WarningKind::TotalsDisagree {
                column: "UN+INGO+ICRC+NRCS and IFRC+NNGO+Other"
            }]
        );
        assert_eq!(orgs.incident.affected_org_types.map(|o| o.un), Some(2));
    }

    #[test]
    fn numbers_that_are_not_counts_read_as_zero() {
        let record = one(&[
            ("NNGO", "two"),
            ("ICRC", ""),
            ("UN", "-1"),
            ("Other", "1e9"),
        ]);
        assert_eq!(
            kinds(&record),
            [
                WarningKind::BadCount { column: "UN" },
                WarningKind::BadCount { column: "NNGO" },
                WarningKind::BadCount { column: "Other" },
            ]
        );
        assert_eq!(record.warnings[1].detail, "'two'");
        assert_eq!(
            record.incident.affected_org_types,
            Some(pb::AffectedOrgTypes {
                ingo: 1,
                ..Default::default()
            })
        );
    }

    /// Two national victims killed, one international wounded.
    const MIXED: [(&str, &str); 8] = [
        ("Nationals killed", "2"),
        ("Total nationals", "2"),
        ("Internationals wounded", "1"),
        ("Total internationals", "1"),
        ("Total killed", "2"),
        ("Total wounded", "1"),
        ("Total affected", "3"),
        ("INGO", "3"),
    ];

    #[test]
    fn one_sex_for_everyone_goes_to_every_cell() {
        let mut row = MIXED.to_vec();
        row.extend([("Gender Male", "0"), ("Gender Female", "3")]);
        let record = one(&row);
        assert!(record.warnings.is_empty(), "{:?}", record.warnings);
        assert_eq!(
            victims(&record),
            [
                (O::Killed, St::National, S::Female, 2),
                (O::Injured, St::International, S::Female, 1),
            ]
        );
        assert_eq!(
            record.incident.incident_types,
            [
                T::Killing as i32,
                T::Injury as i32,
                T::AttackOnConvoy as i32
            ]
        );
    }

    #[test]
    fn a_single_cell_is_split_by_sex() {
        let record = one(&[
            ("Nationals kidnapped", "3"),
            ("Nationals killed", "0"),
            ("Total nationals", "3"),
            ("Total killed", "0"),
            ("Total kidnapped", "3"),
            ("Total affected", "3"),
            ("INGO", "3"),
            ("Gender Male", "2"),
            ("Gender Unknown", "1"),
            ("Means of attack", "Kidnapping"),
        ]);
        assert!(record.warnings.is_empty(), "{:?}", record.warnings);
        assert_eq!(
            victims(&record),
            [
                (O::Kidnapped, St::National, S::Male, 2),
                (O::Kidnapped, St::National, S::Unknown, 1),
            ]
        );
    }

    #[test]
    fn mixed_sexes_over_several_cells_stay_unknown_with_a_warning() {
        let mut row = MIXED.to_vec();
        row.extend([("Gender Male", "2"), ("Gender Female", "1")]);
        let record = one(&row);
        assert_eq!(kinds(&record), [WarningKind::SexNotDistributed]);
        assert_eq!(record.warnings[0].detail, "male 2, female 1, unknown 0");
        assert_eq!(
            victims(&record),
            [
                (O::Killed, St::National, S::Unknown, 2),
                (O::Injured, St::International, S::Unknown, 1),
            ]
        );

        let mismatch = one(&[("Gender Male", "2")]);
        assert_eq!(
            kinds(&mismatch),
            [WarningKind::TotalsDisagree {
                column: "Gender Male+Female+Unknown"
            }]
        );
        assert_eq!(
            victims(&mismatch),
            [(O::Killed, St::National, S::Unknown, 1)]
        );
    }

    #[test]
    fn places_without_a_country_code() {
        let chechnya = one(&[("Country Code", ""), ("Country", "Chechnya")]);
        assert_eq!(chechnya.incident.country, "RUS");
        assert!(chechnya.is_submittable());
        assert_eq!(
            kinds(&chechnya),
            [WarningKind::Assumed {
                column: "Country",
                value: "Chechnya".into(),
                read_as: "RUS"
            }]
        );
        let kashmir = |lat: &'static str, lon: &'static str| {
            one(&[
                ("Country Code", ""),
                ("Country", "Kashmir"),
                ("Latitude", lat),
                ("Longitude", lon),
            ])
            .incident
            .country
        };
        assert_eq!(kashmir("34.3752779", "73.4730602"), "PAK", "Muzaffarabad");
        assert_eq!(kashmir("34.08", "74.79"), "IND", "Srinagar");
        assert_eq!(kashmir("", ""), "IND");

        let nowhere = one(&[("Country Code", ""), ("Country", "")]);
        assert_eq!(nowhere.incident.country, "XXX");
        assert_eq!(kinds(&nowhere), [WarningKind::NoCountry]);
        assert!(nowhere.is_submittable());
        let bad = one(&[("Country Code", "QQ")]);
        assert_eq!(
            kinds(&bad),
            [WarningKind::UnknownCountryCode { code: "QQ".into() }]
        );
        assert_eq!(bad.incident.country, "XXX");
        assert!(bad.is_submittable());
        assert_eq!(one(&[("Country Code", "xk")]).incident.country, "XKX");
        assert_eq!(one(&[("Country Code", "SSD")]).incident.country, "SSD");
    }

    #[test]
    fn long_texts_are_cut_on_a_character_boundary() {
        let city = "é".repeat(250);
        let details = "ü".repeat(10_000);
        let record = one(&[("City", &city), ("Details", &details)]);
        assert_eq!(record.incident.locality.chars().count(), MAX_NAME_CHARS);
        assert!(record.incident.narrative.len() <= MAX_NARRATIVE_BYTES);
        assert_eq!(record.incident.narrative.len(), MAX_NARRATIVE_BYTES);
        assert_eq!(
            kinds(&record),
            [
                WarningKind::Truncated { column: "City" },
                WarningKind::Truncated { column: "Details" },
            ]
        );
        assert_eq!(
            one(&[("Actor name", "Not applicable")])
                .incident
                .perpetrator_name,
            ""
        );
        assert_eq!(
            one(&[("Actor name", "Unknown")]).incident.perpetrator_name,
            ""
        );
    }

    #[test]
    fn unusable_coordinates_leave_no_location() {
        for (lat, lon) in [("95", "10"), ("10", ""), ("north", "10"), ("0", "0")] {
            let record = one(&[("Latitude", lat), ("Longitude", lon)]);
            assert_eq!(record.incident.location, None, "{lat}, {lon}");
            assert_eq!(kinds(&record), [WarningKind::BadCoordinates]);
        }
        let none = one(&[("Latitude", ""), ("Longitude", "")]);
        assert_eq!(none.incident.location, None);
        assert!(none.warnings.is_empty());
    }

    #[test]
    fn threat_categories() {
        let threat = |overrides: &[(&str, &str)]| {
            let record = one(overrides);
            (
                Th::try_from(record.incident.threat_category).expect("threat"),
                record
                    .warnings
                    .iter()
                    .any(|w| w.kind == WarningKind::ThreatCategoryDefaulted),
            )
        };
        let unknown = [
            ("Means of attack", "Unknown"),
            ("Attack context", "Unknown"),
            ("Actor type", "Unknown"),
            ("Motive", "Unknown"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut row = unknown.to_vec();
            row.extend_from_slice(extra);
            threat(&row)
        };
        assert_eq!(with(&[]), (Th::ArmedConflict, true));
        assert_eq!(
            with(&[("Attack context", "Mob violence"), ("Motive", "Economic")]),
            (Th::CivilUnrest, false)
        );
        assert_eq!(
            with(&[("Means of attack", "Aerial bombardment")]),
            (Th::ArmedConflict, false)
        );
        assert_eq!(
            with(&[("Attack context", "Combat/Crossfire")]),
            (Th::ArmedConflict, false)
        );
        assert_eq!(
            with(&[("Means of attack", "Roadside IED")]),
            (Th::Terrorism, false)
        );
        assert_eq!(
            with(&[
                ("Means of attack", "Roadside IED"),
                ("Actor type", "Host state")
            ]),
            (Th::ArmedConflict, false)
        );
        assert_eq!(
            with(&[
                ("Means of attack", "Kidnapping"),
                ("Actor type", "Non-state armed group: Regional"),
                ("Motive", "Economic"),
            ]),
            (Th::Crime, false)
        );
        assert_eq!(with(&[("Actor type", "Criminal")]), (Th::Crime, false));
        assert_eq!(
            with(&[("Actor type", "Non-state armed group: Global")]),
            (Th::Terrorism, false)
        );
        assert_eq!(
            with(&[("Actor type", "Non-state armed group: Subnational")]),
            (Th::ArmedConflict, false)
        );
        assert_eq!(
            with(&[("Actor type", "Police or paramilitary")]),
            (Th::ArmedConflict, false)
        );
        assert_eq!(with(&[("Actor type", "Aid recipient")]), (Th::Crime, false));
        assert_eq!(
            with(&[("Means of attack", "Bodily assault")]),
            (Th::Crime, false)
        );
        assert_eq!(with(&[("Motive", "Political")]), (Th::ArmedConflict, false));
    }

    #[test]
    fn incident_types_from_outcomes_and_circumstances() {
        let types = |overrides: &[(&str, &str)]| {
            one(overrides)
                .incident
                .incident_types
                .iter()
                .map(|t| T::try_from(*t).expect("type"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            types(&[
                ("Means of attack", "Kidnap-killing"),
                ("Attack context", "Raid"),
                ("Location", "Home"),
            ]),
            [T::Killing, T::Abduction, T::BurglaryResidenceBreakin]
        );
        assert_eq!(
            types(&[
                ("Means of attack", "Rape/sexual assault"),
                ("Attack context", "Detention"),
                ("Location", "Custody"),
            ]),
            [T::Killing, T::SexualViolence, T::ArrestDetention]
        );
        assert_eq!(
            types(&[
                ("Means of attack", "Shelling"),
                ("Attack context", "Unknown"),
                ("Location", "Office/compound"),
                ("Motive", "Economic"),
            ]),
            [T::Killing, T::AttackOnPremises, T::Robbery]
        );
        let nobody = [
            ("Nationals killed", "0"),
            ("Total nationals", "0"),
            ("Total killed", "0"),
            ("Total affected", "0"),
            ("INGO", "0"),
            ("Gender Male", "0"),
            ("Attack context", "Unknown"),
        ];
        assert_eq!(types(&nobody), [T::Other]);
        assert!(one(&nobody).incident.victims.is_empty());
    }

    #[test]
    fn header_problems_are_errors_and_only_they() {
        let missing = "Incident ID,Year,Month\n1,2021,3\n";
        match AwsdReader::new(missing.as_bytes(), date!(2026 - 01 - 15)) {
            Err(AwsdError::MissingColumns { missing }) => {
                assert_eq!(missing.len(), 38);
                assert!(missing.contains(&"Country Code".to_string()));
            }
            other => panic!("expected MissingColumns, got {other:?}"),
        }
        assert!(matches!(
            AwsdReader::new(&b""[..], date!(2026 - 01 - 15)),
            Err(AwsdError::Empty)
        ));

        // Columns in another order, another case, a BOM and an extra column are fine.
        let mut names: Vec<String> = BASE.iter().map(|(n, _)| n.to_lowercase()).collect();
        names.reverse();
        names.push("Comment".into());
        let values: Vec<&str> = BASE
            .iter()
            .rev()
            .map(|(_, v)| *v)
            .chain(["extra"])
            .collect();
        let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        writer.write_record(&names).expect("header");
        writer.write_record(&values).expect("row");
        let text = writer.into_inner().expect("flush");
        let shuffled = read(&text);
        assert_eq!(shuffled.len(), 1);
        assert_eq!(shuffled[0].incident, one(&[]).incident);
    }

    #[test]
    fn ragged_rows_and_bad_bytes_are_warnings() {
        let mut text = csv_text(&[]);
        text.extend_from_slice(b"77,2020,5\n");
        text.extend_from_slice(b"\n");
        let mut bad = csv_text(&[&[("City", "Kab\u{1}ul")]]);
        let at = bad.iter().position(|b| *b == 1).expect("marker byte");
        bad[at] = 0xFF;
        let header_end = bad.iter().position(|b| *b == b'\n').expect("header line") + 1;
        text.extend_from_slice(&bad[header_end..]);

        let records = read(&text);
        assert_eq!(records.len(), 2);
        let short = &records[0];
        assert_eq!(short.line, 2);
        assert!(kinds(short).contains(&WarningKind::RaggedRow));
        assert!(kinds(short).contains(&WarningKind::NoCountry));
        assert_eq!(
            short
                .incident
                .external_refs
                .as_ref()
                .map(|r| r.awsd.as_str()),
            Some("77")
        );
        let garbled = &records[1];
        // The csv crate skips the blank line without counting it.
        assert_eq!(garbled.line, 3);
        assert_eq!(
            kinds(garbled),
            [WarningKind::InvalidUtf8 { column: "City" }]
        );
        assert_eq!(garbled.incident.locality, "Kab\u{FFFD}ul");
    }

    #[test]
    fn summary_counts_rows_per_kind() {
        let text = csv_text(&[
            &[("Means of attack", "Arson")],
            &[("Means of attack", "Arson"), ("Verified", "Pen")],
            &[("Means of attack", "arson ")],
            &[("Country Code", "")],
            &[],
        ]);
        let mut summary = WarningSummary::default();
        for record in read(&text) {
            summary.add(&record);
        }
        assert_eq!(summary.rows, 5);
        assert_eq!(summary.rows_with_warnings, 4);
        assert_eq!(summary.blocked_rows, 0);
        assert_eq!(
            summary.to_string(),
            "5 rows, 4 with warnings, 0 the hub will refuse\n\
             \x20 unmapped Means of attack 'Arson' (read as UNKNOWN): 2 rows\n\
             \x20 unmapped Means of attack 'arson' (read as UNKNOWN): 1 row\n\
             \x20 Verified 'Pen' read as PENDING: 1 row\n\
             \x20 no country (imported as XXX, unknown): 1 row\n"
        );
    }

    /// A reader that hands out one byte per call, to cross every chunk boundary.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((byte, rest)), Some(slot)) => {
                    *slot = *byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn crlf_becomes_lf_across_chunk_boundaries() {
        let input = b"a\r\nb\rc\r\r\n\"x\r\ny\"\r";
        let expected = b"a\nb\rc\r\n\"x\ny\"\r";
        for chunk in [1, 2, 3, 64] {
            let mut out = Vec::new();
            let mut filter = CrlfToLf {
                inner: BufReader::with_capacity(chunk, Trickle(input)),
            };
            let mut buf = vec![0; chunk];
            loop {
                let n = filter.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, expected, "chunk {chunk}");
        }
    }

    #[test]
    fn lines_count_from_the_header_with_crlf_and_multi_line_details() {
        let text = csv_text(&[&[("Details", "two\r\nlines")], &[]]);
        let crlf: Vec<u8> = String::from_utf8(text)
            .expect("utf-8")
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .into_bytes();
        let records = read(&crlf);
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(records[0].incident.narrative, "two\nlines");
    }

    #[test]
    fn country_codes_come_from_the_api_table() {
        assert_eq!(alpha3("af"), Some("AFG"));
        assert_eq!(alpha3("COD"), Some("COD"));
        assert_eq!(alpha3("ZZ"), None);
    }
}
