//! k-anonymity over tuples of quasi-identifiers (strings), by local recoding along a fixed
//! ladder of generalisation steps, then local suppression (sdcMicro's global recoding and
//! local suppression, applied record by record).
//!
//! Every record whose equivalence class (the records with the same tuple) is smaller than `k`
//! takes the next step of the ladder; classes are counted again after each step. Records still
//! in a class smaller than `k` after the last step are withheld. Classes of size `k` or more are
//! never touched: a step only moves records out of small classes, so a class that reached `k`
//! can only grow. Pure: no I/O, deterministic for a given input order.

use std::collections::HashMap;

/// One rung of the ladder: `generalise` rewrites the value of each of `columns` in the records
/// it applies to (it must map an already generalised value to itself or coarser).
#[derive(Debug, Clone)]
pub struct Step {
    /// Stable name, as `disclosure.json` reports it.
    pub name: &'static str,
    pub columns: Vec<usize>,
    pub generalise: fn(&str) -> String,
}

/// What the engine did.
#[derive(Debug, Clone, PartialEq)]
pub struct Anonymised {
    /// Every record's tuple after generalisation, in input order (withheld ones included).
    pub records: Vec<Vec<String>>,
    /// Whether the record at that index is withheld (local suppression).
    pub withheld: Vec<bool>,
    /// Per step, in ladder order: how many records it changed.
    pub generalised: Vec<(&'static str, usize)>,
}

impl Anonymised {
    /// The released tuples, sorted (so the row order says nothing about input order).
    pub fn released(&self) -> Vec<Vec<String>> {
        let mut released: Vec<Vec<String>> = self
            .records
            .iter()
            .zip(&self.withheld)
            .filter(|(_, withheld)| !**withheld)
            .map(|(record, _)| record.clone())
            .collect();
        released.sort();
        released
    }

    /// How many records are withheld.
    pub fn withheld_count(&self) -> usize {
        self.withheld.iter().filter(|withheld| **withheld).count()
    }
}

/// Makes `records` k-anonymous: generalises small classes along `ladder`, then withholds what
/// is left in classes smaller than `k`. `k` of 0 or 1 changes nothing.
pub fn anonymise(records: Vec<Vec<String>>, k: usize, ladder: &[Step]) -> Anonymised {
    let mut records = records;
    let mut generalised = Vec::with_capacity(ladder.len());
    for step in ladder {
        let sizes = class_sizes(records.iter());
        let small: Vec<usize> = (0..records.len())
            .filter(|&index| sizes.get(records[index].as_slice()).copied().unwrap_or(0) < k)
            .collect();
        let mut changed = 0;
        for index in small {
            let mut record_changed = false;
            for &column in &step.columns {
                if let Some(value) = records[index].get_mut(column) {
                    let coarser = (step.generalise)(value);
                    if coarser != *value {
                        *value = coarser;
                        record_changed = true;
                    }
                }
            }
            if record_changed {
                changed += 1;
            }
        }
        generalised.push((step.name, changed));
    }
    let sizes = class_sizes(records.iter());
    let withheld = records
        .iter()
        .map(|record| sizes.get(record.as_slice()).copied().unwrap_or(0) < k)
        .collect();
    Anonymised {
        records,
        withheld,
        generalised,
    }
}

/// The disclosure risk of a set of released tuples (sdcMicro's measures for k-anonymity).
#[derive(Debug, Clone, PartialEq)]
pub struct Risk {
    pub records: usize,
    pub classes: usize,
    /// The smallest class (0 when nothing is released): the k achieved.
    pub min_class: usize,
    /// Records in classes smaller than `k`.
    pub records_below_k: usize,
    /// The expected share of records re-identified by an intruder who knows a record's
    /// quasi-identifiers and picks at random within its class: mean of 1 / class size.
    pub global_risk: f64,
}

/// Measures `released` against `k`.
pub fn measure(released: &[Vec<String>], k: usize) -> Risk {
    let sizes = class_sizes(released.iter());
    let records_below_k = released
        .iter()
        .filter(|record| sizes.get(record.as_slice()).copied().unwrap_or(0) < k)
        .count();
    let global_risk = if released.is_empty() {
        0.0
    } else {
        let total: f64 = released
            .iter()
            .map(|record| 1.0 / sizes.get(record.as_slice()).copied().unwrap_or(1).max(1) as f64)
            .sum();
        total / released.len() as f64
    };
    Risk {
        records: released.len(),
        classes: sizes.len(),
        min_class: sizes.values().copied().min().unwrap_or(0),
        records_below_k,
        global_risk,
    }
}

fn class_sizes<'a>(records: impl Iterator<Item = &'a Vec<String>>) -> HashMap<&'a [String], usize> {
    let mut sizes: HashMap<&[String], usize> = HashMap::new();
    for record in records {
        *sizes.entry(record.as_slice()).or_default() += 1;
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| value.to_string()).collect()
    }

    /// "2020-05" -> "2020-Q2"; a quarter stays.
    fn quarter(value: &str) -> String {
        match value.split_once('-') {
            Some((year, month)) if !month.starts_with('Q') => {
                let month: u32 = month.parse().unwrap_or(1);
                format!("{year}-Q{}", month.div_ceil(3))
            }
            _ => value.to_string(),
        }
    }

    fn year(value: &str) -> String {
        value.split('-').next().unwrap_or(value).to_string()
    }

    fn blank(_: &str) -> String {
        String::new()
    }

    /// Columns: country, admin1, period.
    fn ladder() -> Vec<Step> {
        vec![
            Step {
                name: "period_quarter",
                columns: vec![2],
                generalise: quarter,
            },
            Step {
                name: "period_year",
                columns: vec![2],
                generalise: year,
            },
            Step {
                name: "admin1_country",
                columns: vec![1],
                generalise: blank,
            },
        ]
    }

    fn sample() -> Vec<Vec<String>> {
        let mut records = Vec::new();
        for _ in 0..4 {
            records.push(row(&["SSD", "Jonglei", "2020-05"]));
        }
        // Two in the same quarter, one more in the same year: together a class of 3 at year.
        records.push(row(&["SSD", "Unity", "2020-01"]));
        records.push(row(&["SSD", "Unity", "2020-02"]));
        records.push(row(&["SSD", "Unity", "2020-11"]));
        // Alone in its country: withheld whatever the ladder does.
        records.push(row(&["AFG", "Kabul", "2019-03"]));
        records
    }

    #[test]
    fn every_released_class_has_at_least_k_records() {
        let result = anonymise(sample(), 3, &ladder());
        let released = result.released();
        let risk = measure(&released, 3);
        assert_eq!(risk.records_below_k, 0);
        assert!(risk.min_class >= 3, "{risk:?}");
        assert_eq!(released.len() + result.withheld_count(), sample().len());
    }

    #[test]
    fn a_unique_record_is_generalised_before_it_is_withheld() {
        let result = anonymise(sample(), 3, &ladder());
        // The Unity records were each unique by month; generalised to the year they form a class.
        for index in 4..7 {
            assert!(!result.withheld[index]);
            assert_eq!(result.records[index], row(&["SSD", "Unity", "2020"]));
        }
        // The class that was large enough is untouched.
        assert_eq!(result.records[0], row(&["SSD", "Jonglei", "2020-05"]));
        assert_eq!(
            result.generalised,
            vec![
                ("period_quarter", 4),
                ("period_year", 4),
                ("admin1_country", 1)
            ]
        );
    }

    #[test]
    fn what_no_step_can_hide_is_withheld_and_counted() {
        let result = anonymise(sample(), 3, &ladder());
        assert!(result.withheld[7]);
        assert_eq!(result.withheld_count(), 1);
        assert_eq!(result.records[7], row(&["AFG", "", "2019"]));
        assert!(!result.released().contains(&result.records[7]));
    }

    #[test]
    fn a_larger_k_generalises_more_and_never_releases_a_small_class() {
        let result = anonymise(sample(), 5, &ladder());
        let released = result.released();
        assert!(measure(&released, 5).min_class >= 5);
        // The Jonglei class of 4 has to go to the country with the Unity records.
        assert!(released.iter().all(|record| record[1].is_empty()));
        assert_eq!(released.len(), 7);
    }

    #[test]
    fn the_output_is_deterministic_and_independent_of_input_order() {
        let first = anonymise(sample(), 3, &ladder());
        assert_eq!(first, anonymise(sample(), 3, &ladder()));
        let mut reversed = sample();
        reversed.reverse();
        assert_eq!(
            first.released(),
            anonymise(reversed, 3, &ladder()).released()
        );
    }

    #[test]
    fn the_global_risk_is_the_mean_inverse_class_size() {
        let released = vec![
            row(&["a"]),
            row(&["a"]),
            row(&["a"]),
            row(&["b"]),
            row(&["b"]),
            row(&["b"]),
            row(&["b"]),
            row(&["b"]),
            row(&["b"]),
        ];
        let risk = measure(&released, 3);
        // 3 * 1/3 + 6 * 1/6 = 2 over 9 records.
        assert!((risk.global_risk - 2.0 / 9.0).abs() < 1e-12);
        assert_eq!((risk.classes, risk.min_class), (2, 3));
        let risk = measure(&released, 4);
        assert_eq!(risk.records_below_k, 3);
        assert_eq!(measure(&[], 3).global_risk, 0.0);
    }
}
