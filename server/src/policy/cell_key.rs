//! Cell-key perturbation of counts (issue 18, point 2), for the counts published to viewers
//! below the exact tier when the policy says `[aggregate] method = "cell_key"` (the picture
//! publishes through `aggregate::perturbed`; the store keeps each incident's record key).
//!
//! Per-request suppression does not survive differencing: a country total minus the admin1
//! cells of another request, or two overlapping periods, give a suppressed cell back
//! (docs/threat-picture.md). The cell-key method of the Australian Bureau of Statistics'
//! TableBuilder and of the ONS's Cantabular answers that by publishing every count with a small
//! noise that is a fixed function of the records behind it:
//!
//! - every incident has a **record key**, a uniform 32-bit number derived from its id under a
//!   hub secret ([`RecordKeys`]: HMAC-SHA256, so no viewer can compute it);
//! - a **cell key** is the sum of the record keys of the incidents a count counts, modulo 2^32
//!   ([`CellKey`]): it depends only on which incidents are in the cell, so the same cell has the
//!   same key whatever query it comes from, and SQL can compute it (`SUM(record_key)`);
//! - the published count is looked up in the **perturbation table** ([`perturb`], [`PTABLE`])
//!   from the true count and the cell key.
//!
//! The perturbation table (probabilities in sixtieths; each row's expected value is its count,
//! so sums of many cells are unbiased):
//!
//! | true count | published (probability) |
//! |---|---|
//! | 0 | 0 (1) |
//! | 1 | 0 (2/3), 3 (1/3) |
//! | 2 | 0 (1/3), 3 (2/3) |
//! | 3 | 0 (6/60), 3 (39/60), 4 (12/60), 5 (3/60) |
//! | 4 | 3 (15/60), 4 (33/60), 5 (9/60), 6 (3/60) |
//! | n >= 5 | n-2 (3/60), n-1 (12/60), n (30/60), n+1 (12/60), n+2 (3/60) |
//!
//! So no 1 or 2 is ever published, a published 0 may stand for 0 to 3 incidents and a 3 for 1
//! to 5, and no published number tells its true count exactly. Totals are published by the same
//! rule from their own count and cell key (the key of a total is the sum of its cells' keys),
//! never as sums of published cells: subtracting published numbers gives a true count plus the
//! difference of independent noises. Asking again gives the same number (the key is fixed), so
//! averaging repeated answers learns nothing: the averaging attacks published against Cantabular
//! work on noise drawn afresh per query, which this is not.
//!
//! What remains: noise of at most 3, so many overlapping tables can still narrow a count; a
//! viewer who knows every record key of a cell (none can, without the hub secret) could undo it.

use ring::hmac;

use super::aggregate::CountGrid;

/// Sixtieths: the unit of the perturbation table's probabilities.
const BUCKETS: u64 = 60;

/// The perturbation table: for true counts 0 to 4 (index), the published values and their
/// weights in sixtieths. Counts of 5 and more use [`LARGE_ROW`] around the count.
pub const PTABLE: [&[(u64, u64)]; 5] = [
    &[(0, 60)],
    &[(0, 40), (3, 20)],
    &[(0, 20), (3, 40)],
    &[(0, 6), (3, 39), (4, 12), (5, 3)],
    &[(3, 15), (4, 33), (5, 9), (6, 3)],
];

/// Offsets from the count and weights in sixtieths, for counts of 5 and more.
pub const LARGE_ROW: [(i64, u64); 5] = [(-2, 3), (-1, 12), (0, 30), (1, 12), (2, 3)];

/// A record's key: uniform on 32 bits, secret (derived under the hub's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RecordKey(pub u32);

/// The key of a cell: the sum of its records' keys modulo 2^32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CellKey(pub u32);

impl CellKey {
    /// The key of the cell that counts `records`.
    pub fn of(records: impl IntoIterator<Item = RecordKey>) -> CellKey {
        CellKey(
            records
                .into_iter()
                .fold(0u32, |sum, key| sum.wrapping_add(key.0)),
        )
    }

    /// The key from a SQL sum of record keys (a non-negative 64-bit sum of 32-bit keys).
    pub fn from_sum(sum: u64) -> CellKey {
        // Truncation is the modulo 2^32 the method asks for.
        CellKey((sum & u64::from(u32::MAX)) as u32)
    }

    /// The key of the union of two disjoint cells.
    pub fn combine(self, other: CellKey) -> CellKey {
        CellKey(self.0.wrapping_add(other.0))
    }

    /// Which sixtieth of the table's probability mass the key falls in (0..60).
    fn bucket(self) -> u64 {
        (u64::from(self.0) * BUCKETS) >> 32
    }
}

/// Derives record keys from incident ids under a secret derived from the hub's master key:
/// HMAC-SHA256(HMAC-SHA256(master, "slt-hub record-key v1"), id), first four bytes.
#[derive(Clone)]
pub struct RecordKeys {
    key: hmac::Key,
}

impl RecordKeys {
    /// `master`: the hub's pseudonym key (at least 32 random bytes).
    pub fn new(master: &[u8]) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, master),
            b"slt-hub record-key v1",
        );
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// The record key of the incident `id`.
    pub fn key(&self, id: &str) -> RecordKey {
        let tag = hmac::sign(&self.key, id.as_bytes());
        let mut first = [0u8; 4];
        first.copy_from_slice(&tag.as_ref()[..4]);
        RecordKey(u32::from_be_bytes(first))
    }
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKeys(..)")
    }
}

/// The published value of a true `count` whose cell key is `key`, by the perturbation table.
pub fn perturb(count: u64, key: CellKey) -> u64 {
    let bucket = key.bucket();
    let pick = |row: &mut dyn Iterator<Item = (u64, u64)>| {
        let mut seen = 0;
        for (value, weight) in row {
            seen += weight;
            if bucket < seen {
                return value;
            }
        }
        count
    };
    match usize::try_from(count)
        .ok()
        .and_then(|index| PTABLE.get(index))
    {
        Some(row) => pick(&mut row.iter().copied()),
        None => pick(
            &mut LARGE_ROW
                .iter()
                .map(|&(offset, weight)| (count.saturating_add_signed(offset), weight)),
        ),
    }
}

/// The true counts that may be published as `published` (the support of the table's column).
pub fn possible_counts(published: u64) -> Vec<u64> {
    let mut counts: Vec<u64> = PTABLE
        .iter()
        .enumerate()
        .filter(|(_, row)| row.iter().any(|&(value, _)| value == published))
        .map(|(count, _)| count as u64)
        .collect();
    counts.extend(
        LARGE_ROW
            .iter()
            .filter_map(|&(offset, _)| published.checked_add_signed(-offset))
            .filter(|&count| count >= PTABLE.len() as u64),
    );
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// A table of counts published by the cell-key method: every cell and total perturbed from its
/// own count and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerturbedTable {
    pub cells: Vec<Vec<u64>>,
    pub row_totals: Vec<u64>,
    pub column_totals: Vec<u64>,
    pub grand_total: u64,
}

/// Why a table could not be perturbed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rows} rows of cell keys for {expected} rows of counts, or a row of another length")]
pub struct KeyShapeError {
    rows: usize,
    expected: usize,
}

/// Publishes `grid` with `keys[r][c]` the cell key of `grid`'s cell (r, c). The keys of the
/// totals are the sums of their cells' keys, which is the key of the same set of incidents
/// counted at a coarser level: a country total here and the country cell of another query
/// agree.
pub fn perturb_grid(
    grid: &CountGrid,
    keys: &[Vec<CellKey>],
) -> Result<PerturbedTable, KeyShapeError> {
    let counts = grid.counts();
    let shape_error = KeyShapeError {
        rows: keys.len(),
        expected: counts.len(),
    };
    if keys.len() != counts.len()
        || keys
            .iter()
            .zip(counts)
            .any(|(key_row, count_row)| key_row.len() != count_row.len())
    {
        return Err(shape_error);
    }
    let columns = grid.columns().len();
    let mut column_counts = vec![0u64; columns];
    let mut column_keys = vec![CellKey::default(); columns];
    let (mut grand_count, mut grand_key) = (0u64, CellKey::default());
    let mut cells = Vec::with_capacity(counts.len());
    let mut row_totals = Vec::with_capacity(counts.len());
    for (count_row, key_row) in counts.iter().zip(keys) {
        let (mut row_count, mut row_key) = (0u64, CellKey::default());
        let mut published = Vec::with_capacity(columns);
        for (column, (&count, &key)) in count_row.iter().zip(key_row).enumerate() {
            published.push(perturb(count, key));
            // CountGrid guarantees the grand total fits in a u64, so no sum overflows.
            row_count += count;
            row_key = row_key.combine(key);
            column_counts[column] += count;
            column_keys[column] = column_keys[column].combine(key);
        }
        grand_count += row_count;
        grand_key = grand_key.combine(row_key);
        cells.push(published);
        row_totals.push(perturb(row_count, row_key));
    }
    Ok(PerturbedTable {
        cells,
        row_totals,
        column_totals: column_counts
            .iter()
            .zip(&column_keys)
            .map(|(&count, &key)| perturb(count, key))
            .collect(),
        grand_total: perturb(grand_count, grand_key),
    })
}

#[cfg(test)]
mod tests;
