//! The aggregate table of a release: incidents per country x period x threat category, over
//! every eligible record (withheld ones included), with small cells suppressed.

use std::collections::BTreeMap;

/// Cells with fewer incidents than this are suppressed (written empty, flagged).
pub const MIN_CELL: usize = 5;

/// One cell of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub country: String,
    /// "YYYY-MM", or "YYYY" for incidents known only to the year.
    pub period: String,
    pub threat_category: String,
    /// `None` when suppressed.
    pub incidents: Option<usize>,
}

/// The table over `keys` (country, period, threat category), sorted by key.
pub fn count_table(keys: impl IntoIterator<Item = (String, String, String)>) -> Vec<Cell> {
    let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((country, period, threat_category), count)| Cell {
            country,
            period,
            threat_category,
            incidents: (count >= MIN_CELL).then_some(count),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(country: &str, period: &str) -> (String, String, String) {
        (country.into(), period.into(), "CRIME".into())
    }

    #[test]
    fn cells_under_five_are_suppressed_and_the_rest_counted() {
        let keys = std::iter::repeat_n(key("SSD", "2020-05"), 7)
            .chain(std::iter::repeat_n(key("AFG", "2020-05"), 4));
        let table = count_table(keys);
        assert_eq!(table.len(), 2);
        assert_eq!(table[0].country, "AFG");
        assert_eq!(table[0].incidents, None);
        assert_eq!(table[1].incidents, Some(7));
    }
}
