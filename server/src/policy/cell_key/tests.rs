//! The perturbation table's properties, and the differencing attacks of issue 18 run against
//! tables of a simulated incident set: country against admin1, overlapping periods, repeated
//! queries.

use super::{
    CellKey, LARGE_ROW, PTABLE, PerturbedTable, RecordKey, RecordKeys, perturb, perturb_grid,
    possible_counts,
};
use crate::policy::aggregate::CountGrid;

/// A key in each sixtieth of the key space, and `per_bucket` evenly spaced keys per sixtieth.
fn spread_keys(per_bucket: u64) -> Vec<CellKey> {
    let total = 60 * per_bucket;
    (0..total)
        .map(|i| CellKey(((i * (1u64 << 32)).div_ceil(total)) as u32))
        .collect()
}

#[test]
fn the_table_is_unbiased_and_its_rows_sum_to_one() {
    for (count, row) in PTABLE.iter().enumerate() {
        let weight: u64 = row.iter().map(|&(_, w)| w).sum();
        let mass: u64 = row.iter().map(|&(value, w)| value * w).sum();
        assert_eq!(weight, 60, "row {count}");
        assert_eq!(mass, 60 * count as u64, "row {count} is biased");
    }
    let weight: u64 = LARGE_ROW.iter().map(|&(_, w)| w).sum();
    let drift: i64 = LARGE_ROW.iter().map(|&(offset, w)| offset * w as i64).sum();
    assert_eq!((weight, drift), (60, 0));
}

#[test]
fn no_one_or_two_is_ever_published_and_noise_is_small() {
    let keys = spread_keys(3);
    for count in 0..300u64 {
        for &key in &keys {
            let published = perturb(count, key);
            assert!(
                published != 1 && published != 2,
                "{count} published as {published}"
            );
            assert!(published.abs_diff(count) <= 3, "{count} -> {published}");
            assert!(
                possible_counts(published).contains(&count),
                "{count} -> {published} but possible_counts says otherwise"
            );
        }
        assert_eq!(perturb(0, CellKey(u32::MAX)), 0);
    }
}

#[test]
fn keys_spread_evenly_give_the_table_frequencies() {
    let keys = spread_keys(100);
    for count in [1u64, 2, 3, 4, 9] {
        let mut frequencies = std::collections::BTreeMap::new();
        for &key in &keys {
            *frequencies.entry(perturb(count, key)).or_insert(0u64) += 1;
        }
        let expected: Vec<(u64, u64)> = match PTABLE.get(count as usize) {
            Some(row) => row.iter().map(|&(v, w)| (v, w * 100)).collect(),
            None => LARGE_ROW
                .iter()
                .map(|&(offset, w)| (count.saturating_add_signed(offset), w * 100))
                .collect(),
        };
        let found: Vec<(u64, u64)> = frequencies.into_iter().collect();
        assert_eq!(found, expected, "count {count}");
    }
}

#[test]
fn record_keys_are_secret_fixed_and_uniform() {
    let keys = RecordKeys::new(&[7u8; 32]);
    let other = RecordKeys::new(&[8u8; 32]);
    assert_eq!(keys.key("incident-1"), keys.key("incident-1"));
    assert_ne!(keys.key("incident-1"), keys.key("incident-2"));
    assert_ne!(keys.key("incident-1"), other.key("incident-1"));
    let mut buckets = [0u32; 16];
    for i in 0..16_000 {
        buckets[(keys.key(&format!("incident-{i}")).0 >> 28) as usize] += 1;
    }
    for count in buckets {
        assert!((750..=1250).contains(&count), "{buckets:?}");
    }
    assert_eq!(format!("{keys:?}"), "RecordKeys(..)");
}

#[test]
fn cell_keys_add_modulo_two_to_the_32() {
    let a = CellKey::of([RecordKey(u32::MAX), RecordKey(5)]);
    assert_eq!(a, CellKey(4));
    assert_eq!(CellKey::from_sum(u64::from(u32::MAX) + 5), CellKey(4));
    assert_eq!(CellKey(3).combine(CellKey(u32::MAX)), CellKey(2));
}

/// A simulated incident: where, when, and its record key.
struct Incident {
    admin1: usize,
    month: usize,
    key: RecordKey,
}

const ADMIN1: usize = 4;
const MONTHS: usize = 6;

/// 40 small countries' worth of incidents (each `country` a separate set), with counts per
/// admin1 x month of 0 to 4, many of them 1 or 2.
fn simulated(country: usize, keys: &RecordKeys) -> Vec<Incident> {
    let mut incidents = Vec::new();
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (country as u64).wrapping_mul(0xBF58_476D);
    for admin1 in 0..ADMIN1 {
        for month in 0..MONTHS {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let count = [0, 1, 1, 2, 2, 3, 4, 1][(state >> 61) as usize];
            for n in 0..count {
                let id = format!("c{country}-a{admin1}-m{month}-{n}");
                incidents.push(Incident {
                    admin1,
                    month,
                    key: keys.key(&id),
                });
            }
        }
    }
    incidents
}

/// The grid of `incidents` with rows chosen by `row_of` (None: not counted) and columns the
/// months `months`, with its cell keys, published.
fn publish(
    incidents: &[Incident],
    rows: usize,
    row_of: impl Fn(&Incident) -> Option<usize>,
    months: std::ops::Range<usize>,
) -> (Vec<Vec<u64>>, PerturbedTable) {
    let columns = months.len();
    let mut counts = vec![vec![0u64; columns]; rows];
    let mut keys = vec![vec![CellKey::default(); columns]; rows];
    for incident in incidents {
        if let Some(row) = row_of(incident) {
            if months.contains(&incident.month) {
                let column = incident.month - months.start;
                counts[row][column] += 1;
                keys[row][column] = keys[row][column].combine(CellKey(incident.key.0));
            }
        }
    }
    let grid = CountGrid::new(
        (0..rows).map(|r| format!("row {r}")).collect(),
        months.map(|m| format!("month {m}")).collect(),
        counts.clone(),
    )
    .expect("a valid grid");
    let table = perturb_grid(&grid, &keys).expect("keys of the grid's shape");
    (counts, table)
}

/// The values of base cell `target` consistent with what a viewer knows: each base cell's
/// published value (`bases`, as sets of possible counts) and published sums of base cells.
fn feasible(target: usize, bases: &[Vec<u64>], sums: &[(Vec<usize>, u64)]) -> Vec<u64> {
    let mut values = Vec::new();
    let mut choice = vec![0usize; bases.len()];
    loop {
        let counts: Vec<u64> = choice.iter().zip(bases).map(|(&i, b)| b[i]).collect();
        let consistent = sums.iter().all(|(parts, published)| {
            let sum: u64 = parts.iter().map(|&p| counts[p]).sum();
            possible_counts(*published).contains(&sum)
        });
        if consistent && !values.contains(&counts[target]) {
            values.push(counts[target]);
        }
        // Next combination (odometer).
        let mut position = 0;
        loop {
            if position == choice.len() {
                values.sort_unstable();
                return values;
            }
            choice[position] += 1;
            if choice[position] < bases[position].len() {
                break;
            }
            choice[position] = 0;
            position += 1;
        }
    }
}

fn assert_no_one_or_two(table: &PerturbedTable) {
    let all = table
        .cells
        .iter()
        .flatten()
        .chain(&table.row_totals)
        .chain(&table.column_totals)
        .chain(std::iter::once(&table.grand_total));
    for &value in all {
        assert!(value != 1 && value != 2, "published {value}");
    }
}

/// Country totals against the admin1 cells of another request: the country cell, the admin1
/// table's column total (the same incidents, so the same number) and every admin1 cell leave
/// every small admin1 count with at least two possible values.
#[test]
#[allow(clippy::needless_range_loop)] // indices name the same cell in several tables
fn country_against_admin1_recovers_no_small_count() {
    let keys = RecordKeys::new(&[42u8; 32]);
    let (mut small, mut guessed_right) = (0u32, 0u32);
    for country in 0..40 {
        let incidents = simulated(country, &keys);
        let (admin1_counts, admin1) = publish(&incidents, ADMIN1, |i| Some(i.admin1), 0..MONTHS);
        let (_, national) = publish(&incidents, 1, |_| Some(0), 0..MONTHS);
        assert_no_one_or_two(&admin1);
        assert_no_one_or_two(&national);
        // The same cell asked two ways gets the same answer.
        assert_eq!(national.cells[0], admin1.column_totals);
        assert_eq!(national.row_totals[0], admin1.grand_total);
        for month in 0..MONTHS {
            let bases: Vec<Vec<u64>> = (0..ADMIN1)
                .map(|a| possible_counts(admin1.cells[a][month]))
                .collect();
            let sums = [((0..ADMIN1).collect::<Vec<_>>(), national.cells[0][month])];
            for target in 0..ADMIN1 {
                let truth = admin1_counts[target][month];
                if !(1..=2).contains(&truth) {
                    continue;
                }
                small += 1;
                let values = feasible(target, &bases, &sums);
                assert!(values.contains(&truth), "the truth is always feasible");
                assert!(
                    values.len() >= 2,
                    "country {country} month {month}: admin1 {target} pinned to {values:?}"
                );
                // The subtraction attack: the country cell minus the other admin1 cells.
                let others: u64 = (0..ADMIN1)
                    .filter(|&a| a != target)
                    .map(|a| admin1.cells[a][month])
                    .sum();
                if national.cells[0][month].checked_sub(others) == Some(truth) {
                    guessed_right += 1;
                }
            }
        }
    }
    assert!(small > 100, "{small} small cells");
    // The subtraction lands on the truth sometimes, but the viewer cannot tell when: the
    // published numbers always leave another value possible (checked above).
    assert!(
        f64::from(guessed_right) < 0.6 * f64::from(small),
        "{guessed_right}/{small}"
    );
}

/// Two overlapping windows (months 0-2 and 1-3) and the months themselves: their difference is
/// month 0 minus month 3, and still no small month is pinned down.
#[test]
fn overlapping_periods_recover_no_small_count() {
    let keys = RecordKeys::new(&[43u8; 32]);
    let mut small = 0u32;
    for country in 0..40 {
        let incidents = simulated(country, &keys);
        for admin1 in 0..ADMIN1 {
            let row_of = |i: &Incident| (i.admin1 == admin1).then_some(0);
            let (counts, months) = publish(&incidents, 1, row_of, 0..4);
            let (_, first) = publish(&incidents, 1, row_of, 0..3);
            let (_, second) = publish(&incidents, 1, row_of, 1..4);
            // A month has the same number in every window it appears in.
            assert_eq!(first.cells[0][..], months.cells[0][..3]);
            assert_eq!(second.cells[0][..], months.cells[0][1..]);
            let bases: Vec<Vec<u64>> = months.cells[0]
                .iter()
                .map(|&p| possible_counts(p))
                .collect();
            let sums = [
                (vec![0, 1, 2], first.row_totals[0]),
                (vec![1, 2, 3], second.row_totals[0]),
                (vec![0, 1, 2, 3], months.row_totals[0]),
            ];
            for (month, &truth) in counts[0].iter().enumerate() {
                if !(1..=2).contains(&truth) {
                    continue;
                }
                small += 1;
                let values = feasible(month, &bases, &sums);
                assert!(values.contains(&truth));
                assert!(
                    values.len() >= 2,
                    "country {country} admin1 {admin1} month {month}: pinned to {values:?}"
                );
            }
        }
    }
    assert!(small > 100, "{small} small cells");
}

/// Asking again gives the same numbers, so averaging many answers is the one answer: a true 1
/// averages to 0 or 3, never 1.
#[test]
fn repeated_queries_average_to_the_same_answer() {
    let keys = RecordKeys::new(&[44u8; 32]);
    let incidents = simulated(0, &keys);
    let (counts, first) = publish(&incidents, ADMIN1, |i| Some(i.admin1), 0..MONTHS);
    let mut sums = vec![vec![0u64; MONTHS]; ADMIN1];
    for _ in 0..50 {
        let (_, again) = publish(&incidents, ADMIN1, |i| Some(i.admin1), 0..MONTHS);
        assert_eq!(again, first);
        for (sum_row, row) in sums.iter_mut().zip(&again.cells) {
            for (sum, value) in sum_row.iter_mut().zip(row) {
                *sum += value;
            }
        }
    }
    for (admin1, row) in counts.iter().enumerate() {
        for (month, &truth) in row.iter().enumerate() {
            let average = sums[admin1][month] as f64 / 50.0;
            if (1..=2).contains(&truth) {
                assert!(
                    average == 0.0 || average == 3.0,
                    "{truth} averaged {average}"
                );
            }
        }
    }
}

#[test]
fn keys_of_another_shape_are_refused() {
    let grid = CountGrid::new(vec!["a".into()], vec!["x".into()], vec![vec![1]]).expect("grid");
    assert!(perturb_grid(&grid, &[]).is_err());
    assert!(perturb_grid(&grid, &[vec![CellKey(1), CellKey(2)]]).is_err());
    assert!(perturb_grid(&grid, &[vec![CellKey(1)]]).is_ok());
}
