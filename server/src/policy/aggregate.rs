//! Statistical disclosure control for aggregate counts (the shared threat picture).
//!
//! [`aggregate`] turns a two-dimensional table of counts (rows e.g. areas, columns e.g. periods
//! or categories) into what one viewer may see: every cell, row total, column total and the
//! grand total is either an exact number or [`Published::Suppressed`]. The caller has already
//! restricted the counts to what the viewer may see; this module only decides which numbers are
//! safe to show at the viewer's [`Tier`].
//!
//! # Rules
//!
//! - T2 and above see every count exactly (they see the records themselves anyway).
//! - Below T2, every quantity (cell or total) with `0 < count < k` is suppressed (*primary*).
//! - Zeros are published as 0. A zero counts no person, so it cannot single one out, and the
//!   threat picture needs to say "nothing reported here". The price is attribute disclosure at
//!   line level (a row of zeros next to one suppressed cell says where that row's incidents
//!   are); see *Limitations*.
//! - Then *secondary* suppression hides further non-zero quantities until the guarantee below
//!   holds.
//!
//! # Guarantee (below T2)
//!
//! Model the viewer as knowing every published number, which quantities are suppressed, that
//! all counts are non-negative integers, that row/column/grand totals add up, and that every
//! suppressed quantity is at least 1 (zeros are never suppressed, so the flag itself says
//! "non-zero"). Then for **every suppressed quantity** (cell or total), among all tables
//! consistent with that knowledge:
//!
//! 1. it takes at least two different values, so it is never uniquely determined — neither by
//!    the linear equations of the totals (the classic subtraction attack, including linear
//!    combinations of several rows and columns) nor by those equations combined with
//!    non-negativity (e.g. a total equal to the sum of its published cells); and
//! 2. it can take a value of at least `k`, so the viewer can never prove that a suppressed
//!    quantity is a small count.
//!
//! Published numbers are always the true counts, and no published number lies in `(0, k)`.
//!
//! # Why this is exact, not a heuristic
//!
//! A table with its margins is a circulation on a small directed graph: one node per row, one
//! per column, and two total nodes `S` and `Z`; cell `(i, j)` is an edge `row i -> column j`,
//! row total `i` an edge `S -> row i`, column total `j` an edge `column j -> Z`, and the grand
//! total an edge `Z -> S`. "Totals add up" is exactly flow conservation at every node, so the
//! constraint matrix is the graph's incidence matrix, which is totally unimodular. Hence the
//! feasible region of the suppressed quantities (bounds `>= 1`, everything published fixed) is
//! an integral polytope, and the largest value a suppressed edge `u -> v` can take is its true
//! value plus the maximum flow from `v` back to `u` through the other suppressed edges in the
//! residual network (increasing an edge is free, decreasing it is limited to `value - 1`).
//! [`aggregate`] computes that flow (capped at what it needs to know) with exact integer
//! arithmetic. The purely linear test the design mentions ("is `e_i` in the row space of the
//! constraints restricted to the unknowns?") is the special case without bounds: `e_i` is in the
//! row space iff the edge lies on no cycle of suppressed edges, and such an edge has no flow
//! back at all, so it is caught too.
//!
//! # Secondary suppression
//!
//! For each suppressed quantity in a fixed order, if it is not yet protected, the cheapest path
//! that closes a cycle through it with enough slack is found (Dijkstra; cost = the sum of the
//! counts newly hidden, then the number of edges; already suppressed edges are free) and every
//! published quantity on it is suppressed. This subsumes the classic rule "a line with one
//! suppressed cell gets a second one" (such a cell lies on no cycle, so it gets repaired) but
//! picks a whole cycle by cost, which usually hides less than walking line by line (a 2x2
//! rectangle where the line rule can wander into a 6-cycle), and it also catches what the line
//! rule misses: cells isolated by combinations of several lines, and cells pinned by bounds.
//! Protection is monotone (hiding one more quantity only enlarges the feasible set), so a
//! quantity once verified stays protected, and the loop ends because every repair hides at least
//! one more quantity. As a last resort (never reached in practice, kept so the function cannot
//! fail) every non-zero quantity is suppressed, which is always protected: every edge then lies
//! on a cycle of suppressed edges that only increase.
//!
//! # Limitations
//!
//! - The guarantee is per quantity: a viewer may learn the sum of several suppressed cells
//!   (e.g. two small cells in one row with a published total), just not any one of them.
//! - The suppression *pattern* depends on the counts (the cheapest cells are chosen), and a
//!   viewer who replays the algorithm may narrow the intervals further; the guarantee is about
//!   the published numbers and flags, not about reasoning over the algorithm's choices.
//! - [`AggregateTable::suppression`] says which suppressions are primary. That is for audit and
//!   tests only: shown to a viewer it says "this count is between 1 and k-1", which the
//!   guarantee above does not model. For the same reason a suppressed quantity must be rendered
//!   neutrally (e.g. "x"), not as "<5": secondary suppressions are counts `>= k`.
//! - Attribute disclosure through published zeros (see *Rules*) is not prevented.
//! - The cost of the search grows with the number of suppressed quantities times the table
//!   size; it is meant for threat-picture tables (hundreds to a few thousand cells).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};

use thiserror::Error;

use super::Tier;

/// The threshold the design uses for counts shown below T2 (sharing-and-sync.md, Aggregates).
pub const DEFAULT_K: u64 = 5;

/// The lowest tier that sees exact counts.
const EXACT_FROM: Tier = Tier::T2;

/// A validated table of non-negative counts with row and column labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountGrid {
    rows: Vec<String>,
    columns: Vec<String>,
    counts: Vec<Vec<u64>>,
}

/// Why a [`CountGrid`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GridError {
    #[error("{labels} row labels but {rows} rows of counts")]
    RowCount { labels: usize, rows: usize },
    #[error("row {row} has {found} counts but there are {expected} columns")]
    RowLength {
        row: usize,
        expected: usize,
        found: usize,
    },
    #[error("row label {0:?} appears more than once")]
    DuplicateRow(String),
    #[error("column label {0:?} appears more than once")]
    DuplicateColumn(String),
    #[error("the grand total does not fit in 64 bits")]
    Overflow,
}

impl CountGrid {
    /// Builds a grid; `counts[r][c]` is the count for `rows[r]` x `columns[c]`.
    ///
    /// Labels must be unique (a published table with two rows of one name is ambiguous) and the
    /// grand total must fit in a `u64`, so every total computed later does too.
    pub fn new(
        rows: Vec<String>,
        columns: Vec<String>,
        counts: Vec<Vec<u64>>,
    ) -> Result<Self, GridError> {
        if counts.len() != rows.len() {
            return Err(GridError::RowCount {
                labels: rows.len(),
                rows: counts.len(),
            });
        }
        if let Some((row, line)) = counts
            .iter()
            .enumerate()
            .find(|(_, line)| line.len() != columns.len())
        {
            return Err(GridError::RowLength {
                row,
                expected: columns.len(),
                found: line.len(),
            });
        }
        if let Some(label) = first_duplicate(&rows) {
            return Err(GridError::DuplicateRow(label));
        }
        if let Some(label) = first_duplicate(&columns) {
            return Err(GridError::DuplicateColumn(label));
        }
        counts
            .iter()
            .flatten()
            .try_fold(0u64, |sum, &count| sum.checked_add(count))
            .ok_or(GridError::Overflow)?;
        Ok(Self {
            rows,
            columns,
            counts,
        })
    }

    pub fn rows(&self) -> &[String] {
        &self.rows
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The counts, row by row.
    pub fn counts(&self) -> &[Vec<u64>] {
        &self.counts
    }

    /// The count at (`row`, `column`), or `None` outside the grid.
    pub fn count(&self, row: usize, column: usize) -> Option<u64> {
        self.counts.get(row)?.get(column).copied()
    }
}

fn first_duplicate(labels: &[String]) -> Option<String> {
    let mut seen = HashSet::new();
    labels
        .iter()
        .find(|label| !seen.insert(label.as_str()))
        .cloned()
}

/// One number of an aggregate table as a viewer receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Published {
    Exact(u64),
    /// Withheld. Carries no number and no reason, on purpose (see the module docs).
    Suppressed,
}

impl Published {
    /// The number, when there is one.
    pub fn value(self) -> Option<u64> {
        match self {
            Published::Exact(value) => Some(value),
            Published::Suppressed => None,
        }
    }

    pub fn is_suppressed(self) -> bool {
        self == Published::Suppressed
    }
}

/// Why a quantity was suppressed. For audit and tests, not for viewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuppressionReason {
    /// The count itself is in `1..k`.
    Primary,
    /// Hidden so that a primary (or another secondary) suppression cannot be recovered.
    Secondary,
}

/// Names one number of a table: a cell, a row total, a column total or the grand total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quantity {
    Cell { row: usize, column: usize },
    RowTotal(usize),
    ColumnTotal(usize),
    GrandTotal,
}

/// A table as one viewer may see it. Only [`aggregate`] builds one, so holding an
/// `AggregateTable` means the disclosure rules have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateTable {
    rows: Vec<String>,
    columns: Vec<String>,
    tier: Tier,
    k: u64,
    cells: Vec<Vec<Published>>,
    row_totals: Vec<Published>,
    column_totals: Vec<Published>,
    grand_total: Published,
    /// Per quantity, in [`Layout`] order.
    reasons: Vec<Option<SuppressionReason>>,
}

impl AggregateTable {
    pub fn rows(&self) -> &[String] {
        &self.rows
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The tier the table was computed for.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The threshold the table was computed with.
    pub fn k(&self) -> u64 {
        self.k
    }

    /// The cells, row by row.
    pub fn cells(&self) -> &[Vec<Published>] {
        &self.cells
    }

    pub fn row_totals(&self) -> &[Published] {
        &self.row_totals
    }

    pub fn column_totals(&self) -> &[Published] {
        &self.column_totals
    }

    pub fn grand_total(&self) -> Published {
        self.grand_total
    }

    /// One number of the table, or `None` when `quantity` is outside it.
    pub fn get(&self, quantity: Quantity) -> Option<Published> {
        match quantity {
            Quantity::Cell { row, column } => self.cells.get(row)?.get(column).copied(),
            Quantity::RowTotal(row) => self.row_totals.get(row).copied(),
            Quantity::ColumnTotal(column) => self.column_totals.get(column).copied(),
            Quantity::GrandTotal => Some(self.grand_total),
        }
    }

    /// Why `quantity` is suppressed, or `None` when it is published (or outside the table).
    /// For audit only: never show this below T2 (a primary reason reveals a count in `1..k`).
    pub fn suppression(&self, quantity: Quantity) -> Option<SuppressionReason> {
        let layout = Layout::new(self.rows.len(), self.columns.len());
        let index = layout.index_of(quantity)?;
        self.reasons.get(index).copied().flatten()
    }

    /// Every suppressed quantity with its reason, cells first (row-major), then row totals,
    /// column totals and the grand total. For audit only, like [`Self::suppression`].
    pub fn suppressions(&self) -> Vec<(Quantity, SuppressionReason)> {
        let layout = Layout::new(self.rows.len(), self.columns.len());
        self.reasons
            .iter()
            .enumerate()
            .filter_map(|(index, reason)| reason.map(|reason| (layout.quantity(index), reason)))
            .collect()
    }
}

/// Computes the table `grid` may be shown as to a viewer at `tier`, with threshold `k`
/// (normally [`DEFAULT_K`]). `grid` must already hold only what the viewer may see.
///
/// T2 and above get every number exactly. Below T2, see the module docs for the rules and the
/// guarantee. `k <= 1` suppresses nothing. Deterministic: the same input gives the same table.
pub fn aggregate(grid: &CountGrid, tier: Tier, k: u64) -> AggregateTable {
    let network = Network::from_grid(grid);
    let reasons = if tier >= EXACT_FROM {
        vec![None; network.values.len()]
    } else {
        network.suppress(k)
    };
    let layout = network.layout;
    let publish = |index: usize| match reasons[index] {
        Some(_) => Published::Suppressed,
        None => Published::Exact(network.values[index]),
    };
    AggregateTable {
        rows: grid.rows.clone(),
        columns: grid.columns.clone(),
        tier,
        k,
        cells: (0..layout.rows)
            .map(|row| {
                (0..layout.columns)
                    .map(|column| publish(layout.cell(row, column)))
                    .collect()
            })
            .collect(),
        row_totals: (0..layout.rows)
            .map(|row| publish(layout.row_total(row)))
            .collect(),
        column_totals: (0..layout.columns)
            .map(|column| publish(layout.column_total(column)))
            .collect(),
        grand_total: publish(layout.grand_total()),
        reasons,
    }
}

/// Computes the table `grid` may be shown as to a viewer at `tier` by the cell-key method:
/// below T2 every cell and total is perturbed from its count and its cell key (`keys[r][c]` the
/// cell key of cell (r, c); totals' keys are the sums of their cells'), see
/// [`super::cell_key`]; nothing is suppressed. T2 and above get every number exactly, as with
/// [`aggregate`].
pub fn perturbed(
    grid: &CountGrid,
    keys: &[Vec<super::cell_key::CellKey>],
    tier: Tier,
    k: u64,
) -> Result<AggregateTable, super::cell_key::KeyShapeError> {
    if tier >= EXACT_FROM {
        return Ok(aggregate(grid, tier, k));
    }
    let perturbed = super::cell_key::perturb_grid(grid, keys)?;
    let exact = |values: Vec<u64>| values.into_iter().map(Published::Exact).collect::<Vec<_>>();
    Ok(AggregateTable {
        rows: grid.rows.clone(),
        columns: grid.columns.clone(),
        tier,
        k,
        cells: perturbed.cells.into_iter().map(exact).collect(),
        row_totals: exact(perturbed.row_totals),
        column_totals: exact(perturbed.column_totals),
        grand_total: Published::Exact(perturbed.grand_total),
        reasons: vec![None; Layout::new(grid.rows.len(), grid.columns.len()).quantities()],
    })
}

/// Where each quantity sits in the flat vectors, and which graph nodes it joins.
///
/// Quantities: cells row-major, then row totals, column totals, the grand total.
/// Nodes: rows, then columns, then `Z` (column totals flow into it) and `S` (row totals flow
/// out of it).
#[derive(Debug, Clone, Copy)]
struct Layout {
    rows: usize,
    columns: usize,
}

impl Layout {
    fn new(rows: usize, columns: usize) -> Self {
        Self { rows, columns }
    }

    fn quantities(self) -> usize {
        self.rows * self.columns + self.rows + self.columns + 1
    }

    fn nodes(self) -> usize {
        self.rows + self.columns + 2
    }

    fn cell(self, row: usize, column: usize) -> usize {
        row * self.columns + column
    }

    fn row_total(self, row: usize) -> usize {
        self.rows * self.columns + row
    }

    fn column_total(self, column: usize) -> usize {
        self.rows * self.columns + self.rows + column
    }

    fn grand_total(self) -> usize {
        self.rows * self.columns + self.rows + self.columns
    }

    fn column_node(self, column: usize) -> usize {
        self.rows + column
    }

    fn sink_node(self) -> usize {
        self.rows + self.columns
    }

    fn source_node(self) -> usize {
        self.rows + self.columns + 1
    }

    fn index_of(self, quantity: Quantity) -> Option<usize> {
        match quantity {
            Quantity::Cell { row, column } if row < self.rows && column < self.columns => {
                Some(self.cell(row, column))
            }
            Quantity::RowTotal(row) if row < self.rows => Some(self.row_total(row)),
            Quantity::ColumnTotal(column) if column < self.columns => {
                Some(self.column_total(column))
            }
            Quantity::GrandTotal => Some(self.grand_total()),
            _ => None,
        }
    }

    fn quantity(self, index: usize) -> Quantity {
        let cells = self.rows * self.columns;
        if index < cells {
            Quantity::Cell {
                row: index / self.columns,
                column: index % self.columns,
            }
        } else if index < cells + self.rows {
            Quantity::RowTotal(index - cells)
        } else if index < cells + self.rows + self.columns {
            Quantity::ColumnTotal(index - cells - self.rows)
        } else {
            Quantity::GrandTotal
        }
    }

    /// The edge of quantity `index`, as (from node, to node).
    fn ends(self, index: usize) -> (usize, usize) {
        match self.quantity(index) {
            Quantity::Cell { row, column } => (row, self.column_node(column)),
            Quantity::RowTotal(row) => (self.source_node(), row),
            Quantity::ColumnTotal(column) => (self.column_node(column), self.sink_node()),
            Quantity::GrandTotal => (self.sink_node(), self.source_node()),
        }
    }
}

/// The table as a circulation: one edge per quantity, carrying its true count.
struct Network {
    layout: Layout,
    values: Vec<u64>,
    ends: Vec<(usize, usize)>,
}

impl Network {
    fn from_grid(grid: &CountGrid) -> Self {
        let layout = Layout::new(grid.rows.len(), grid.columns.len());
        let mut values = vec![0u64; layout.quantities()];
        // Sums cannot overflow: `CountGrid::new` checked the grand total.
        for (row, line) in grid.counts.iter().enumerate() {
            for (column, &count) in line.iter().enumerate() {
                values[layout.cell(row, column)] = count;
                values[layout.row_total(row)] += count;
                values[layout.column_total(column)] += count;
                values[layout.grand_total()] += count;
            }
        }
        let ends = (0..layout.quantities()).map(|q| layout.ends(q)).collect();
        Self {
            layout,
            values,
            ends,
        }
    }

    /// Primary then secondary suppression; returns the reason per quantity.
    fn suppress(&self, k: u64) -> Vec<Option<SuppressionReason>> {
        let mut reasons: Vec<Option<SuppressionReason>> = self
            .values
            .iter()
            .map(|&value| (value > 0 && value < k).then_some(SuppressionReason::Primary))
            .collect();
        let mut verified = vec![false; reasons.len()];
        loop {
            let pending = (0..reasons.len()).find(|&q| reasons[q].is_some() && !verified[q]);
            let Some(q) = pending else { break };
            let hidden: Vec<bool> = reasons.iter().map(Option::is_some).collect();
            if self.is_protected(q, &hidden, k) {
                verified[q] = true;
                continue;
            }
            let repair = self.cheapest_repair(q, &hidden, k);
            if repair.is_empty() {
                // Unreachable by the module's argument; fail safe rather than fail open.
                for (index, reason) in reasons.iter_mut().enumerate() {
                    if reason.is_none() && self.values[index] > 0 {
                        *reason = Some(SuppressionReason::Secondary);
                    }
                }
                break;
            }
            for index in repair {
                reasons[index] = Some(SuppressionReason::Secondary);
            }
        }
        reasons
    }

    /// The shift `q` needs upwards: enough to reach `k`, and at least 1 so it is not pinned.
    fn upward_target(&self, q: usize, k: u64) -> u64 {
        k.saturating_sub(self.values[q]).max(1)
    }

    /// Whether suppressed quantity `q` can take a second value and a value `>= k`, given that
    /// exactly the quantities marked in `hidden` are suppressed.
    fn is_protected(&self, q: usize, hidden: &[bool], k: u64) -> bool {
        let value = self.values[q];
        let target = self.upward_target(q, k);
        let (from, to) = self.ends[q];
        // Raising q by t sends t back from its head to its tail through the other hidden edges.
        if self.max_flow(q, hidden, to, from, target) >= target {
            return true;
        }
        if value < k {
            // It cannot reach k: the viewer could prove it small.
            return false;
        }
        // Already >= k; it only needs to move at all, so try lowering it by 1.
        value > 1 && self.max_flow(q, hidden, from, to, 1) >= 1
    }

    /// Maximum flow from `source` to `sink` through the hidden edges other than `skip`, capped
    /// at `cap` (we only ever need to know whether `cap` is reachable). A hidden edge `a -> b`
    /// can rise without bound (arc `a -> b`) and fall to 1 (arc `b -> a`, capacity value - 1).
    fn max_flow(&self, skip: usize, hidden: &[bool], source: usize, sink: usize, cap: u64) -> u64 {
        let mut flow = FlowGraph::new(self.layout.nodes());
        for (index, &(a, b)) in self.ends.iter().enumerate() {
            if index == skip || !hidden[index] {
                continue;
            }
            flow.add_arc(a, b, cap);
            flow.add_arc(b, a, self.values[index].saturating_sub(1).min(cap));
        }
        flow.max_flow(source, sink, cap)
    }

    /// The published quantities to hide so that `q` lies on a cycle of hidden edges along which
    /// it can rise by its target: the cheapest path back from its head to its tail, where hidden
    /// edges cost nothing and published ones cost their count (zeros are never used).
    fn cheapest_repair(&self, q: usize, hidden: &[bool], k: u64) -> Vec<usize> {
        let target = self.upward_target(q, k);
        let nodes = self.layout.nodes();
        // adjacency[node] = (next node, quantity)
        let mut adjacency: Vec<Vec<(usize, usize)>> = vec![Vec::new(); nodes];
        for (index, &(a, b)) in self.ends.iter().enumerate() {
            if index == q || self.values[index] == 0 {
                continue;
            }
            adjacency[a].push((b, index));
            if self.values[index] > target {
                adjacency[b].push((a, index));
            }
        }
        let (start, goal) = (self.ends[q].1, self.ends[q].0);
        let mut best: Vec<Option<(u128, usize)>> = vec![None; nodes];
        let mut previous: Vec<Option<(usize, usize)>> = vec![None; nodes];
        let mut heap = BinaryHeap::new();
        best[start] = Some((0, 0));
        heap.push(Reverse((0u128, 0usize, start)));
        while let Some(Reverse((cost, hops, node))) = heap.pop() {
            if best[node] != Some((cost, hops)) {
                continue;
            }
            if node == goal {
                break;
            }
            for &(next, index) in &adjacency[node] {
                let step = if hidden[index] {
                    0
                } else {
                    u128::from(self.values[index])
                };
                let candidate = (cost + step, hops + 1);
                if best[next].is_none_or(|known| candidate < known) {
                    best[next] = Some(candidate);
                    previous[next] = Some((node, index));
                    heap.push(Reverse((candidate.0, candidate.1, next)));
                }
            }
        }
        let mut repair = Vec::new();
        if best[goal].is_none() {
            return repair;
        }
        let mut node = goal;
        while node != start {
            let Some((before, index)) = previous[node] else {
                return Vec::new();
            };
            if !hidden[index] {
                repair.push(index);
            }
            node = before;
        }
        repair.sort_unstable();
        repair
    }
}

/// A small residual graph for Edmonds–Karp (shortest augmenting paths).
struct FlowGraph {
    /// Per node, indices into `arcs`.
    outgoing: Vec<Vec<usize>>,
    /// (to, residual capacity); arc `i ^ 1` is the reverse of arc `i`.
    arcs: Vec<(usize, u64)>,
}

impl FlowGraph {
    fn new(nodes: usize) -> Self {
        Self {
            outgoing: vec![Vec::new(); nodes],
            arcs: Vec::new(),
        }
    }

    fn add_arc(&mut self, from: usize, to: usize, capacity: u64) {
        if capacity == 0 {
            return;
        }
        self.outgoing[from].push(self.arcs.len());
        self.arcs.push((to, capacity));
        self.outgoing[to].push(self.arcs.len());
        self.arcs.push((from, 0));
    }

    fn max_flow(&mut self, source: usize, sink: usize, cap: u64) -> u64 {
        if source == sink {
            // Never happens (every edge joins two nodes); answer "no slack" to fail closed.
            return 0;
        }
        let mut total = 0u64;
        while total < cap {
            let mut via: Vec<Option<usize>> = vec![None; self.outgoing.len()];
            let mut queue = VecDeque::from([source]);
            let mut reached = false;
            while let Some(node) = queue.pop_front() {
                if node == sink {
                    reached = true;
                    break;
                }
                for &arc in &self.outgoing[node] {
                    let (to, capacity) = self.arcs[arc];
                    if capacity > 0 && to != source && via[to].is_none() {
                        via[to] = Some(arc);
                        queue.push_back(to);
                    }
                }
            }
            if !reached {
                break;
            }
            let mut push = cap - total;
            let mut node = sink;
            while let Some(arc) = via[node] {
                push = push.min(self.arcs[arc].1);
                node = self.arcs[arc ^ 1].0;
            }
            let mut node = sink;
            while let Some(arc) = via[node] {
                self.arcs[arc].1 -= push;
                self.arcs[arc ^ 1].1 += push;
                node = self.arcs[arc ^ 1].0;
            }
            total += push;
        }
        total
    }
}

// The tests carry their own oracle (a rational elimination and an integer search), several
// hundred lines that share no code with the search above.
#[cfg(test)]
mod tests;
