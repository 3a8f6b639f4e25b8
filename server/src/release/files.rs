//! Writes a release into its directory: `incidents.csv`, `counts.csv`, `disclosure.json`,
//! `README.txt`.

use std::path::Path;

use super::{Release, ReleaseError, record};

/// The files a release writes.
pub const INCIDENTS: &str = "incidents.csv";
pub const COUNTS: &str = "counts.csv";
pub const DISCLOSURE: &str = "disclosure.json";
pub const README: &str = "README.txt";

/// A release as the text of its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub incidents_csv: String,
    pub counts_csv: String,
    pub disclosure_json: String,
    pub readme: String,
}

impl Rendered {
    /// The bytes of all four files.
    pub fn len(&self) -> usize {
        self.incidents_csv.len()
            + self.counts_csv.len()
            + self.disclosure_json.len()
            + self.readme.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The four files of `release`.
pub fn render(release: &Release) -> Result<Rendered, ReleaseError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(record::COLUMNS)
        .map_err(|error| write_error(INCIDENTS, error))?;
    for row in &release.records {
        writer
            .write_record(row)
            .map_err(|error| write_error(INCIDENTS, error))?;
    }
    let incidents_csv = csv_text(writer, INCIDENTS)?;

    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "country",
            "period",
            "threat_category",
            "incidents",
            "suppressed",
        ])
        .map_err(|error| write_error(COUNTS, error))?;
    for cell in &release.counts {
        let count = cell.incidents.map(|n| n.to_string()).unwrap_or_default();
        let suppressed = if cell.incidents.is_none() {
            "true"
        } else {
            "false"
        };
        writer
            .write_record([
                cell.country.as_str(),
                cell.period.as_str(),
                cell.threat_category.as_str(),
                count.as_str(),
                suppressed,
            ])
            .map_err(|error| write_error(COUNTS, error))?;
    }
    let counts_csv = csv_text(writer, COUNTS)?;

    let disclosure_json = serde_json::to_string_pretty(&release.disclosure)
        .map_err(|error| write_error(DISCLOSURE, error))?
        + "\n";
    Ok(Rendered {
        incidents_csv,
        counts_csv,
        disclosure_json,
        readme: readme(release),
    })
}

/// Writes `release` into `out` (created when missing; files of the same name are replaced).
pub fn write(out: &Path, release: &Release) -> Result<(), ReleaseError> {
    let rendered = render(release)?;
    std::fs::create_dir_all(out).map_err(|error| write_error(out.display(), error))?;
    for (name, text) in [
        (INCIDENTS, &rendered.incidents_csv),
        (COUNTS, &rendered.counts_csv),
        (DISCLOSURE, &rendered.disclosure_json),
        (README, &rendered.readme),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|error| write_error(path.display(), error))?;
    }
    Ok(())
}

fn csv_text(writer: csv::Writer<Vec<u8>>, name: &str) -> Result<String, ReleaseError> {
    let bytes = writer
        .into_inner()
        .map_err(|error| write_error(name, error.error()))?;
    String::from_utf8(bytes).map_err(|error| write_error(name, error))
}

fn readme(release: &Release) -> String {
    let d = &release.disclosure;
    format!(
        "Public (T0) release of the security incidents held by hub {hub}, made {at}.

What it is
- incidents.csv: one row per released incident, quasi-identifiers only: country, admin1
  (blank: generalised to the country or not reported), period (YYYY-MM, YYYY-Qn or YYYY),
  threat category, incident types ('*': generalised to the threat category), victims killed,
  injured and kidnapped as bands (0, 1-2, 3-5, 6-10, 11+; '1+' when generalised), affected
  organisation types ('*': generalised). Every combination of these columns occurs at least
  k = {k} times. Rows are sorted; their order means nothing.
- counts.csv: incidents per country x period x threat category over every eligible incident,
  withheld ones included; cells under {min_cell} are empty and flagged suppressed.
- disclosure.json: the parameters and the risk measured on incidents.csv.

Eligible: {eligibility}. Of {eligible} eligible incidents {released} are released and
{withheld} withheld (no generalisation left them in a group of {k}). Global
re-identification risk (mean of 1 / group size): {risk:.4}.

What it is not
- Not the complete record: no narratives, no places below admin1, no dates below the month,
  no names, no organisations, no ids; withheld incidents are only in the counts.
- Not a guarantee: k-anonymity protects against singling out on these columns; someone who
  knows other details of an incident, or holds another release, may still learn about the
  group it is in (all members of a group may share an outcome).
",
        hub = d.hub_id,
        at = d.generated_at,
        k = d.parameters.k,
        min_cell = d.parameters.counts_min_cell,
        eligibility = d.parameters.eligibility,
        eligible = d.records_eligible,
        released = d.records_released,
        withheld = d.records_withheld,
        risk = d.global_risk,
    )
}

fn write_error(path: impl std::fmt::Display, error: impl std::fmt::Display) -> ReleaseError {
    ReleaseError::Write {
        path: path.to_string(),
        message: error.to_string(),
    }
}
