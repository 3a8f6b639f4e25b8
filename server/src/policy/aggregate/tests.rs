//! Tests of `policy::aggregate`, with their own oracle. The checkers here share no code with
//! the production search: they rebuild what a viewer knows from the public table alone, then (1) run exact rational Gaussian elimination to
//! find linearly determined quantities, and (2) run a complete branch-and-bound search over
//! integer tables (every suppressed quantity >= 1, published numbers fixed, all totals
//! adding up) to find witness tables.

use super::*;
use proptest::prelude::*;

const K: u64 = DEFAULT_K;
const TIERS: [Tier; 4] = [Tier::T0, Tier::T1, Tier::T2, Tier::T3];

fn grid(counts: &[&[u64]]) -> CountGrid {
    let columns = counts.first().map_or(0, |line| line.len());
    CountGrid::new(
        (0..counts.len()).map(|r| format!("r{r}")).collect(),
        (0..columns).map(|c| format!("c{c}")).collect(),
        counts.iter().map(|line| line.to_vec()).collect(),
    )
    .expect("valid grid")
}

fn all_quantities(rows: usize, columns: usize) -> Vec<Quantity> {
    let mut all = Vec::new();
    for row in 0..rows {
        for column in 0..columns {
            all.push(Quantity::Cell { row, column });
        }
    }
    all.extend((0..rows).map(Quantity::RowTotal));
    all.extend((0..columns).map(Quantity::ColumnTotal));
    all.push(Quantity::GrandTotal);
    all
}

fn truth(grid: &CountGrid, quantity: Quantity) -> u64 {
    let counts = grid.counts();
    match quantity {
        Quantity::Cell { row, column } => counts[row][column],
        Quantity::RowTotal(row) => counts[row].iter().sum(),
        Quantity::ColumnTotal(column) => counts.iter().map(|line| line[column]).sum(),
        Quantity::GrandTotal => counts.iter().flatten().sum(),
    }
}

/// Published numbers are the truth; at T2+ everything is exact; below, nothing in (0, k).
fn assert_truthful(grid: &CountGrid, table: &AggregateTable, tier: Tier, k: u64) {
    for quantity in all_quantities(grid.rows().len(), grid.columns().len()) {
        let shown = table.get(quantity).expect("quantity in table");
        let real = truth(grid, quantity);
        match shown {
            Published::Exact(value) => {
                assert_eq!(value, real, "{quantity:?} published wrongly");
                if tier < Tier::T2 {
                    assert!(
                        value == 0 || value >= k,
                        "{quantity:?} = {value} shown to {tier:?}"
                    );
                }
            }
            Published::Suppressed => {
                assert!(tier < Tier::T2, "{quantity:?} hidden from {tier:?}");
                assert!(real > 0, "{quantity:?} is a suppressed zero");
            }
        }
    }
}

/// What a viewer knows: unknowns (the suppressed quantities) and the equations
/// `sum(coefficient * unknown) = constant` left after substituting published numbers.
struct Puzzle {
    unknowns: Vec<Quantity>,
    truth: Vec<i64>,
    equations: Vec<(Vec<(usize, i64)>, i64)>,
    cap: i64,
}

fn puzzle(grid: &CountGrid, table: &AggregateTable, k: u64) -> Puzzle {
    let (rows, columns) = (table.rows().len(), table.columns().len());
    let mut lines: Vec<Vec<(Quantity, i64)>> = Vec::new();
    for row in 0..rows {
        let mut line: Vec<_> = (0..columns)
            .map(|column| (Quantity::Cell { row, column }, 1))
            .collect();
        line.push((Quantity::RowTotal(row), -1));
        lines.push(line);
    }
    for column in 0..columns {
        let mut line: Vec<_> = (0..rows)
            .map(|row| (Quantity::Cell { row, column }, 1))
            .collect();
        line.push((Quantity::ColumnTotal(column), -1));
        lines.push(line);
    }
    let mut line: Vec<_> = (0..rows).map(|row| (Quantity::RowTotal(row), 1)).collect();
    line.push((Quantity::GrandTotal, -1));
    lines.push(line);
    let mut line: Vec<_> = (0..columns)
        .map(|column| (Quantity::ColumnTotal(column), 1))
        .collect();
    line.push((Quantity::GrandTotal, -1));
    lines.push(line);

    let unknowns: Vec<Quantity> = all_quantities(rows, columns)
        .into_iter()
        .filter(|&q| table.get(q) == Some(Published::Suppressed))
        .collect();
    let equations = lines
        .into_iter()
        .map(|line| {
            let mut terms = Vec::new();
            let mut constant = 0i64;
            for (quantity, coefficient) in line {
                match table.get(quantity).expect("in table") {
                    Published::Exact(value) => {
                        constant -= coefficient * i64::try_from(value).expect("small")
                    }
                    Published::Suppressed => {
                        let var = unknowns.iter().position(|&u| u == quantity).expect("known");
                        terms.push((var, coefficient));
                    }
                }
            }
            (terms, constant)
        })
        .collect();
    let grand = i64::try_from(truth(grid, Quantity::GrandTotal)).expect("small");
    Puzzle {
        truth: unknowns
            .iter()
            .map(|&q| i64::try_from(truth(grid, q)).expect("small"))
            .collect(),
        unknowns,
        equations,
        // No consistent table has a quantity above the grand total, so this box is enough
        // for witnesses; it also leaves room to reach k.
        cap: grand + i64::try_from(k).expect("small") + 1,
    }
}

// ---- checker 1: exact rational Gaussian elimination -------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

impl Ratio {
    fn new(num: i128, den: i128) -> Self {
        assert!(den != 0);
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Ratio {
            num: sign * num / g,
            den: sign * den / g,
        }
    }
    fn zero(self) -> bool {
        self.num == 0
    }
    fn sub(self, o: Ratio) -> Ratio {
        Ratio::new(self.num * o.den - o.num * self.den, self.den * o.den)
    }
    fn mul(self, o: Ratio) -> Ratio {
        Ratio::new(self.num * o.num, self.den * o.den)
    }
    fn div(self, o: Ratio) -> Ratio {
        Ratio::new(self.num * o.den, self.den * o.num)
    }
}

/// Unknowns whose unit vector lies in the row space of the equations restricted to the
/// unknowns, i.e. that the published numbers determine by linear algebra alone. Computed
/// from the reduced row echelon form: `e_i` is in the row space iff some RREF row is `e_i`.
fn linearly_determined(puzzle: &Puzzle) -> Vec<Quantity> {
    let n = puzzle.unknowns.len();
    let mut m: Vec<Vec<Ratio>> = puzzle
        .equations
        .iter()
        .map(|(terms, _)| {
            let mut row = vec![Ratio::new(0, 1); n];
            for &(var, coefficient) in terms {
                row[var] = Ratio::new(i128::from(coefficient), 1);
            }
            row
        })
        .collect();
    let mut rank = 0;
    for col in 0..n {
        let Some(pivot) = (rank..m.len()).find(|&r| !m[r][col].zero()) else {
            continue;
        };
        m.swap(rank, pivot);
        let p = m[rank][col];
        let pivot_row: Vec<Ratio> = m[rank].iter().map(|&x| x.div(p)).collect();
        for (r, row) in m.iter_mut().enumerate() {
            if r != rank && !row[col].zero() {
                let factor = row[col];
                for (x, &y) in row.iter_mut().zip(&pivot_row) {
                    *x = x.sub(factor.mul(y));
                }
            }
        }
        m[rank] = pivot_row;
        rank += 1;
    }
    m[..rank]
        .iter()
        .filter_map(|row| {
            let nonzero: Vec<usize> = (0..n).filter(|&c| !row[c].zero()).collect();
            (nonzero.len() == 1).then(|| puzzle.unknowns[nonzero[0]])
        })
        .collect()
}

// ---- checker 2: complete integer search with bound propagation ---------------------

#[derive(Debug)]
enum Outcome {
    Found(Vec<i64>),
    Infeasible,
    GaveUp,
}

/// Tightens bounds from every equation until nothing changes; false when infeasible.
fn propagate(puzzle: &Puzzle, lo: &mut [i64], hi: &mut [i64]) -> bool {
    loop {
        let mut changed = false;
        for (terms, constant) in &puzzle.equations {
            if terms.is_empty() {
                if *constant != 0 {
                    return false;
                }
                continue;
            }
            // Each term's own range, as of the start of this equation.
            let ranges: Vec<(i64, i64)> = terms
                .iter()
                .map(|&(v, c)| {
                    if c > 0 {
                        (lo[v], hi[v])
                    } else {
                        (-hi[v], -lo[v])
                    }
                })
                .collect();
            let min: i64 = ranges.iter().map(|r| r.0).sum();
            let max: i64 = ranges.iter().map(|r| r.1).sum();
            for (&(v, c), &(own_min, own_max)) in terms.iter().zip(&ranges) {
                let (low, high) = (constant - (max - own_max), constant - (min - own_min));
                let (low, high) = if c > 0 { (low, high) } else { (-high, -low) };
                if low > lo[v] {
                    lo[v] = low;
                    changed = true;
                }
                if high < hi[v] {
                    hi[v] = high;
                    changed = true;
                }
                if lo[v] > hi[v] {
                    return false;
                }
            }
        }
        if !changed {
            return true;
        }
    }
}

fn branch(puzzle: &Puzzle, mut lo: Vec<i64>, mut hi: Vec<i64>, budget: &mut u32) -> Outcome {
    if *budget == 0 {
        return Outcome::GaveUp;
    }
    *budget -= 1;
    if !propagate(puzzle, &mut lo, &mut hi) {
        return Outcome::Infeasible;
    }
    let open = (0..lo.len())
        .filter(|&v| lo[v] < hi[v])
        .min_by_key(|&v| (hi[v] - lo[v], v));
    let Some(v) = open else {
        let holds = puzzle.equations.iter().all(|(terms, constant)| {
            terms.iter().map(|&(var, c)| c * lo[var]).sum::<i64>() == *constant
        });
        return if holds {
            Outcome::Found(lo)
        } else {
            Outcome::Infeasible
        };
    };
    let mid = lo[v] + (hi[v] - lo[v]) / 2;
    let mut halves = [(lo[v], mid), (mid + 1, hi[v])];
    if puzzle.truth[v] > mid {
        halves.swap(0, 1);
    }
    let mut gave_up = false;
    for (low, high) in halves {
        let (mut l, mut h) = (lo.clone(), hi.clone());
        l[v] = low;
        h[v] = high;
        match branch(puzzle, l, h, budget) {
            Outcome::Found(solution) => return Outcome::Found(solution),
            Outcome::GaveUp => gave_up = true,
            Outcome::Infeasible => {}
        }
    }
    if gave_up {
        Outcome::GaveUp
    } else {
        Outcome::Infeasible
    }
}

/// A table consistent with everything published in which unknown `var` is in `low..=high`.
fn witness(puzzle: &Puzzle, var: usize, low: i64, high: i64) -> Outcome {
    let n = puzzle.unknowns.len();
    let (mut lo, mut hi) = (vec![1; n], vec![puzzle.cap; n]);
    lo[var] = low.max(1);
    hi[var] = high.min(puzzle.cap);
    if lo[var] > hi[var] {
        return Outcome::Infeasible;
    }
    let mut budget = 500_000;
    branch(puzzle, lo, hi, &mut budget)
}

/// The acceptance check: no suppressed quantity is linearly determined, and each one takes
/// a second value and a value >= k in some table consistent with what is published.
fn assert_protected(grid: &CountGrid, table: &AggregateTable, k: u64) {
    let puzzle = puzzle(grid, table, k);
    let determined = linearly_determined(&puzzle);
    assert!(determined.is_empty(), "linearly determined: {determined:?}");
    let k = i64::try_from(k).expect("small");
    for (var, quantity) in puzzle.unknowns.iter().enumerate() {
        let real = puzzle.truth[var];
        let is_witness = |outcome: Outcome, check: &dyn Fn(i64) -> bool| match outcome {
            Outcome::Found(solution) => {
                assert!(check(solution[var]));
                true
            }
            Outcome::Infeasible => false,
            Outcome::GaveUp => panic!("checker gave up on {quantity:?}"),
        };
        let above = (real + 1).max(k);
        if is_witness(witness(&puzzle, var, above, puzzle.cap), &|v| v >= above) {
            continue;
        }
        assert!(real >= k, "{quantity:?} (= {real}) is provably below {k}");
        let other = is_witness(witness(&puzzle, var, 1, real - 1), &|v| v < real);
        assert!(other, "{quantity:?} (= {real}) is uniquely determined");
    }
}

fn check_all_tiers(grid: &CountGrid, k: u64) -> AggregateTable {
    for tier in TIERS {
        let table = aggregate(grid, tier, k);
        assert_truthful(grid, &table, tier, k);
        if tier < Tier::T2 {
            assert_protected(grid, &table, k);
        }
    }
    aggregate(grid, Tier::T1, k)
}

fn suppressed(table: &AggregateTable) -> Vec<Quantity> {
    table.suppressions().into_iter().map(|(q, _)| q).collect()
}

fn cell(row: usize, column: usize) -> Quantity {
    Quantity::Cell { row, column }
}

/// A copy of the exact table with just `hidden` suppressed, to test the checkers.
fn hand_made(grid: &CountGrid, hidden: &[Quantity]) -> AggregateTable {
    let mut table = aggregate(grid, Tier::T3, K);
    for &quantity in hidden {
        match quantity {
            Quantity::Cell { row, column } => table.cells[row][column] = Published::Suppressed,
            Quantity::RowTotal(row) => table.row_totals[row] = Published::Suppressed,
            Quantity::ColumnTotal(c) => table.column_totals[c] = Published::Suppressed,
            Quantity::GrandTotal => table.grand_total = Published::Suppressed,
        }
    }
    table
}

// ---- tests --------------------------------------------------------------------------

#[test]
fn t2_and_t3_see_every_count_exactly() {
    let g = grid(&[&[1, 2, 0], &[3, 40, 4]]);
    for tier in [Tier::T2, Tier::T3] {
        let table = aggregate(&g, tier, K);
        assert_truthful(&g, &table, tier, K);
        assert!(table.suppressions().is_empty());
        assert_eq!(table.cells()[0][0], Published::Exact(1));
        assert_eq!(table.row_totals()[0], Published::Exact(3));
        assert_eq!(table.grand_total(), Published::Exact(50));
    }
}

#[test]
fn single_small_cell_in_a_row_gets_company() {
    let g = grid(&[&[20, 3, 15], &[12, 25, 30], &[9, 11, 40]]);
    let table = check_all_tiers(&g, K);
    assert_eq!(table.get(cell(0, 1)), Some(Published::Suppressed));
    assert_eq!(
        table.suppression(cell(0, 1)),
        Some(SuppressionReason::Primary)
    );
    let hidden = suppressed(&table);
    let in_row = hidden
        .iter()
        .filter(|q| matches!(q, Quantity::Cell { row: 0, .. }));
    let in_column = hidden
        .iter()
        .filter(|q| matches!(q, Quantity::Cell { column: 1, .. }));
    assert!(in_row.count() >= 2 && in_column.count() >= 2, "{hidden:?}");
    // The cheapest cycle is a rectangle; the margins stay published.
    assert_eq!(hidden, vec![cell(0, 0), cell(0, 1), cell(2, 0), cell(2, 1)]);
    assert!(table.row_totals().iter().all(|t| !t.is_suppressed()));
    assert!(table.column_totals().iter().all(|t| !t.is_suppressed()));
}

#[test]
fn checkerboard_of_small_cells() {
    let g = grid(&[&[1, 12], &[10, 3]]);
    let table = check_all_tiers(&g, K);
    assert!(table.cells().iter().flatten().all(|c| c.is_suppressed()));
    assert_eq!(
        table.row_totals(),
        &[Published::Exact(13), Published::Exact(13)]
    );
    // The same pattern inside a larger table.
    let g = grid(&[&[30, 40, 50], &[35, 2, 20], &[25, 18, 4]]);
    let table = check_all_tiers(&g, K);
    assert!(table.get(cell(1, 1)).is_some_and(Published::is_suppressed));
    assert!(table.get(cell(2, 2)).is_some_and(Published::is_suppressed));
}

#[test]
fn row_whose_only_small_cell_has_a_small_total() {
    let g = grid(&[&[0, 3, 0], &[12, 9, 30], &[8, 11, 40]]);
    let table = check_all_tiers(&g, K);
    assert_eq!(table.get(cell(0, 1)), Some(Published::Suppressed));
    assert_eq!(
        table.suppression(Quantity::RowTotal(0)),
        Some(SuppressionReason::Primary)
    );
    // Row 0 is all zeros but for the cell, so its total equals it: a cycle through the
    // cell must leave row 0 through its total, and so another total has to go too.
    let totals_hidden = suppressed(&table)
        .into_iter()
        .filter(|q| !matches!(q, Quantity::Cell { .. }))
        .count();
    assert!(totals_hidden >= 2);
}

#[test]
fn all_small_grid() {
    let g = grid(&[&[1, 2, 1], &[2, 1, 2], &[1, 1, 3]]);
    let table = check_all_tiers(&g, K);
    assert!(table.cells().iter().flatten().all(|c| c.is_suppressed()));
    let g = grid(&[&[1, 1], &[1, 1]]);
    let table = check_all_tiers(&g, K);
    assert_eq!(table.get(Quantity::GrandTotal), Some(Published::Suppressed));
}

#[test]
fn grid_without_small_cells_is_published_whole() {
    let g = grid(&[&[5, 0, 17], &[9, 6, 0], &[0, 0, 8]]);
    for tier in TIERS {
        let table = aggregate(&g, tier, K);
        assert_truthful(&g, &table, tier, K);
        assert!(table.suppressions().is_empty());
    }
}

#[test]
fn zeros_are_published_as_zero() {
    let g = grid(&[&[0, 2, 0], &[0, 7, 9], &[0, 8, 30]]);
    let table = check_all_tiers(&g, K);
    for row in 0..3 {
        assert_eq!(table.get(cell(row, 0)), Some(Published::Exact(0)));
    }
    assert_eq!(table.column_totals()[0], Published::Exact(0));
}

#[test]
fn one_row_grid() {
    let g = grid(&[&[1, 2, 10, 0, 7]]);
    let table = check_all_tiers(&g, K);
    assert_eq!(table.get(cell(0, 3)), Some(Published::Exact(0)));
    let g = grid(&[&[3, 9, 12]]);
    check_all_tiers(&g, K);
    let g = grid(&[&[3]]);
    let table = check_all_tiers(&g, K);
    assert_eq!(table.grand_total(), Published::Suppressed);
}

#[test]
fn one_column_grid() {
    let g = grid(&[&[1], &[2], &[10], &[0], &[7]]);
    check_all_tiers(&g, K);
    let g = grid(&[&[6], &[4], &[9]]);
    let table = check_all_tiers(&g, K);
    assert_eq!(table.get(cell(1, 0)), Some(Published::Suppressed));
}

#[test]
fn empty_grid_publishes_a_zero_total() {
    let g = grid(&[]);
    let table = aggregate(&g, Tier::T0, K);
    assert_eq!(table.grand_total(), Published::Exact(0));
}

/// Every line has two hidden cells, so the one-suppression-per-line rule is satisfied, but
/// (1, 2) joins two closed rectangles and a combination of rows 0-1 and columns 0-1
/// isolates it. Both the production check and the independent checker must see that.
#[test]
fn combination_of_lines_is_caught() {
    let g = grid(&[
        &[6, 7, 20, 20],
        &[8, 9, 6, 20],
        &[20, 20, 7, 8],
        &[20, 20, 9, 6],
    ]);
    let hidden = [
        cell(0, 0),
        cell(0, 1),
        cell(1, 0),
        cell(1, 1),
        cell(1, 2),
        cell(2, 2),
        cell(2, 3),
        cell(3, 2),
        cell(3, 3),
    ];
    let table = hand_made(&g, &hidden);
    let p = puzzle(&g, &table, K);
    assert_eq!(linearly_determined(&p), vec![cell(1, 2)]);

    let network = Network::from_grid(&g);
    let layout = network.layout;
    let mut mask = vec![false; layout.quantities()];
    for q in hidden {
        mask[layout.index_of(q).expect("in grid")] = true;
    }
    let bridge = layout.index_of(cell(1, 2)).expect("in grid");
    assert!(!network.is_protected(bridge, &mask, K));
    let corner = layout.index_of(cell(0, 0)).expect("in grid");
    assert!(network.is_protected(corner, &mask, K));
}

/// The checkers must fail a table with primary suppression only.
#[test]
fn checkers_catch_recoverable_cells() {
    let g = grid(&[&[20, 3, 15], &[12, 25, 30]]);
    let table = hand_made(&g, &[cell(0, 1)]);
    let p = puzzle(&g, &table, K);
    assert_eq!(linearly_determined(&p), vec![cell(0, 1)]);
    assert!(matches!(witness(&p, 0, 4, p.cap), Outcome::Infeasible));
    assert!(matches!(witness(&p, 0, 1, 2), Outcome::Infeasible));
    assert!(std::panic::catch_unwind(|| assert_protected(&g, &table, K)).is_err());

    // Not linear, but pinned by bounds: the row total equals its published cells plus the
    // hidden ones' minimum, so both hidden cells are forced to 1.
    let g = grid(&[&[1, 1, 30], &[40, 40, 30]]);
    let table = hand_made(&g, &[cell(0, 0), cell(0, 1), cell(1, 0), cell(1, 1)]);
    let p = puzzle(&g, &table, K);
    assert!(linearly_determined(&p).is_empty());
    assert!(std::panic::catch_unwind(|| assert_protected(&g, &table, K)).is_err());
}

#[test]
fn bounds_pinned_cells_are_repaired() {
    // Two 1s in a row with a published total: a rectangle with row 1 is linearly safe,
    // but the 1s could only move down to 0, so they need slack upwards from somewhere.
    let g = grid(&[&[1, 1, 30], &[40, 40, 30], &[10, 12, 14]]);
    check_all_tiers(&g, K);
}

#[test]
fn k_at_most_one_suppresses_nothing() {
    let g = grid(&[&[1, 2], &[0, 3]]);
    for k in [0, 1] {
        assert!(aggregate(&g, Tier::T0, k).suppressions().is_empty());
    }
}

#[test]
fn same_input_same_output() {
    let g = grid(&[&[1, 9, 4, 0], &[7, 2, 8, 11], &[3, 3, 20, 6]]);
    assert_eq!(aggregate(&g, Tier::T1, K), aggregate(&g, Tier::T1, K));
}

#[test]
fn larger_grid_is_protected() {
    // A fixed pseudo-random 8x8 grid with many small cells.
    let mut state = 0x2545_f491_u64;
    let counts: Vec<Vec<u64>> = (0..8)
        .map(|_| {
            (0..8)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    (state >> 33) % 16
                })
                .collect()
        })
        .collect();
    let g = CountGrid::new(
        (0..8).map(|r| format!("area {r}")).collect(),
        (0..8).map(|c| format!("week {c}")).collect(),
        counts,
    )
    .expect("valid grid");
    check_all_tiers(&g, K);
}

#[test]
fn grid_shape_is_validated() {
    let labels = |n: usize, p: &str| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(
        CountGrid::new(labels(2, "r"), labels(1, "c"), vec![vec![1]]),
        Err(GridError::RowCount { labels: 2, rows: 1 })
    );
    assert_eq!(
        CountGrid::new(labels(1, "r"), labels(2, "c"), vec![vec![1]]),
        Err(GridError::RowLength {
            row: 0,
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        CountGrid::new(
            vec!["a".into(), "a".into()],
            labels(1, "c"),
            vec![vec![1], vec![2]]
        ),
        Err(GridError::DuplicateRow("a".into()))
    );
    assert_eq!(
        CountGrid::new(
            labels(1, "r"),
            vec!["x".into(), "x".into()],
            vec![vec![1, 2]]
        ),
        Err(GridError::DuplicateColumn("x".into()))
    );
    assert_eq!(
        CountGrid::new(labels(1, "r"), labels(2, "c"), vec![vec![u64::MAX, 1]]),
        Err(GridError::Overflow)
    );
}

fn small_grid() -> impl Strategy<Value = Vec<Vec<u64>>> {
    (1usize..=5, 1usize..=5).prop_flat_map(|(rows, columns)| {
        prop::collection::vec(prop::collection::vec(0u64..13, columns), rows)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_small_grids_are_protected(
        counts in small_grid(),
        tier in prop::sample::select(TIERS.to_vec()),
    ) {
        let lines: Vec<&[u64]> = counts.iter().map(Vec::as_slice).collect();
        let g = grid(&lines);
        let table = aggregate(&g, tier, K);
        assert_truthful(&g, &table, tier, K);
        if tier < Tier::T2 {
            assert_protected(&g, &table, K);
        }
        prop_assert_eq!(&table, &aggregate(&g, tier, K));
    }
}
