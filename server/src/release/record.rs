//! The T0 record of an incident: its quasi-identifiers only, coarse from the start (month,
//! admin1, banded victim counts, the types of the affected organisations), and the ladder that
//! generalises them further. Never the narrative, names, places below admin1, ids or the
//! reporting organisation.

use super::kanon::Step;
use crate::domain::{DatePrecision, IncidentContent, VictimOutcome};

/// The columns of a T0 record, in order (`incidents.csv`'s header).
pub const COLUMNS: [&str; 9] = [
    "country",
    "admin1",
    "period",
    "threat_category",
    "incident_types",
    "killed",
    "injured",
    "kidnapped",
    "affected_org_types",
];

const ADMIN1: usize = 1;
const PERIOD: usize = 2;
const TYPES: usize = 4;
const VICTIMS: [usize; 3] = [5, 6, 7];
const ORG_TYPES: usize = 8;

/// What a generalised-away value reads as.
pub const ANY: &str = "*";

/// The T0 record of `content`.
pub fn t0_record(content: &IncidentContent) -> Vec<String> {
    let date = content.occurred_on;
    // A date known only to the year starts at the year.
    let period = if content.date_precision >= DatePrecision::Year {
        format!("{:04}", date.year())
    } else {
        format!("{:04}-{:02}", date.year(), u8::from(date.month()))
    };
    let mut types: Vec<&str> = content
        .incident_types
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    types.sort_unstable();
    types.dedup();
    let victims = |outcome: VictimOutcome| {
        let total: u64 = content
            .victims
            .iter()
            .filter(|cell| cell.outcome == outcome)
            .map(|cell| u64::from(cell.count))
            .sum();
        band(total).to_string()
    };
    let orgs = &content.affected_org_types;
    let org_types: Vec<&str> = [
        ("ICRC", orgs.icrc),
        ("IFRC_NRCS", orgs.ifrc_nrcs),
        ("INGO", orgs.ingo),
        ("NNGO", orgs.nngo),
        ("OTHER", orgs.other),
        ("UN", orgs.un),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(name, _)| name)
    .collect();
    vec![
        content.country.clone(),
        content
            .admin1
            .as_ref()
            .map(|area| area.name.trim().to_string())
            .unwrap_or_default(),
        period,
        content.threat_category.as_str().to_string(),
        types.join("|"),
        victims(VictimOutcome::Killed),
        victims(VictimOutcome::Injured),
        victims(VictimOutcome::Kidnapped),
        org_types.join("|"),
    ]
}

/// Victim counts as bands.
pub fn band(count: u64) -> &'static str {
    match count {
        0 => "0",
        1..=2 => "1-2",
        3..=5 => "3-5",
        6..=10 => "6-10",
        _ => "11+",
    }
}

/// The ladder, in the order it is climbed: period month -> quarter -> year; admin1 -> country;
/// incident types -> the threat category alone; victim bands -> any / none; affected
/// organisation types -> any.
pub fn ladder() -> Vec<Step> {
    vec![
        Step {
            name: "period_month_to_quarter",
            columns: vec![PERIOD],
            generalise: quarter,
        },
        Step {
            name: "period_quarter_to_year",
            columns: vec![PERIOD],
            generalise: year,
        },
        Step {
            name: "admin1_to_country",
            columns: vec![ADMIN1],
            generalise: blank,
        },
        Step {
            name: "incident_types_to_threat_category",
            columns: vec![TYPES],
            generalise: any,
        },
        Step {
            name: "victim_bands_to_any_or_none",
            columns: VICTIMS.to_vec(),
            generalise: any_or_none,
        },
        Step {
            name: "affected_org_types_to_any",
            columns: vec![ORG_TYPES],
            generalise: any,
        },
    ]
}

/// "2020-05" -> "2020-Q2"; a quarter or a year stays.
fn quarter(value: &str) -> String {
    match value.split_once('-') {
        Some((year, month)) => match month.parse::<u32>() {
            Ok(month @ 1..=12) => format!("{year}-Q{}", month.div_ceil(3)),
            _ => value.to_string(),
        },
        None => value.to_string(),
    }
}

/// "2020-05" or "2020-Q2" -> "2020".
fn year(value: &str) -> String {
    value.split('-').next().unwrap_or(value).to_string()
}

fn blank(_: &str) -> String {
    String::new()
}

fn any(_: &str) -> String {
    ANY.to_string()
}

/// "0" stays "0" (none); any other band becomes "1+".
fn any_or_none(value: &str) -> String {
    if value == "0" {
        value.to_string()
    } else {
        "1+".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_ladder_climbs_month_quarter_year() {
        assert_eq!(quarter("2020-01"), "2020-Q1");
        assert_eq!(quarter("2020-03"), "2020-Q1");
        assert_eq!(quarter("2020-04"), "2020-Q2");
        assert_eq!(quarter("2020-12"), "2020-Q4");
        assert_eq!(quarter("2020-Q4"), "2020-Q4");
        assert_eq!(quarter("2020"), "2020");
        assert_eq!(year("2020-Q4"), "2020");
        assert_eq!(year("2020-07"), "2020");
    }

    #[test]
    fn victim_counts_are_banded_then_reduced_to_any_or_none() {
        let bands: Vec<&str> = [0, 1, 2, 3, 5, 6, 10, 11, 500]
            .into_iter()
            .map(band)
            .collect();
        assert_eq!(
            bands,
            [
                "0", "1-2", "1-2", "3-5", "3-5", "6-10", "6-10", "11+", "11+"
            ]
        );
        assert_eq!(any_or_none("0"), "0");
        assert_eq!(any_or_none("6-10"), "1+");
        assert_eq!(ladder().len(), 6);
        assert!(
            ladder()
                .iter()
                .all(|step| step.columns.iter().all(|c| *c < COLUMNS.len()))
        );
    }
}
