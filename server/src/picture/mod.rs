//! The shared threat picture: composes the store (counts grouped in SQL within the caller's
//! visibility scope) and the policy engine (the caller's tier, k-suppression through
//! `policy::aggregate`, advisory visibility). Knows nothing of gRPC; `api::threat` encodes it.
//!
//! Nothing here reads an incident: the store returns counts per area x group x date bucket for
//! exactly the incidents the scope admits (dates as the caller is shown them), so memory is
//! bounded by the size of the picture, not the number of incidents.
//!
//! Every number a caller receives is either a published number of an `AggregateTable` or a
//! function of published numbers only (sums whose every part is published, changes between
//! two published numbers, alert flags over published numbers, hotspot scores over published
//! parts), so nothing derived can reveal a suppressed count.

pub mod forecast;
pub mod periods;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use time::Date;
use uuid::Uuid;

use crate::domain::{
    AreaLevel, DatePrecision, Granularity, PictureGroup, PictureQuery, SecurityLevel, Sex,
    StaffCategory, StoredAdvisory, VictimOutcome, VisibilityScope,
};
use crate::identity::Principal;
use crate::limits::cpu::{CpuError, CpuPool};
use crate::policy::aggregate::{AggregateTable, CountGrid, Published, aggregate, perturbed};
use crate::policy::cell_key::CellKey;
use crate::policy::rules::AggregateMethod;
use crate::policy::{PolicyEngine, Tier};
use crate::store::{AdvisoryFilter, PictureCountRow, PictureVictimRow, Store, StoreError};

/// Periods before the first requested one that the baseline reads.
pub const BASELINE_PERIODS: usize = 12;
/// Most periods in one picture.
pub const MAX_PERIODS: i64 = 1_000;
/// Most years one picture spans.
pub const MAX_YEARS: i32 = 50;
/// Most cells (rows x periods, baseline included) in one picture: each victim table and the
/// suppression search are as large as the grid, so an unbounded one (weeks x admin1 areas x
/// incident types over 50 countries) would let any reader tie up the hub's memory and CPU.
pub const MAX_CELLS: usize = 50_000;
/// Hotspots returned.
pub const HOTSPOTS: usize = 10;

/// Severity weights of the hotspot ranking: incidents count 1, victims by outcome as listed;
/// THREATENED counts 0 (it is already an incident).
pub const SEVERITY_WEIGHTS: &[(VictimOutcome, f64)] = &[
    (VictimOutcome::Killed, 10.0),
    (VictimOutcome::Kidnapped, 5.0),
    (VictimOutcome::SexuallyAssaulted, 5.0),
    (VictimOutcome::Injured, 3.0),
    (VictimOutcome::Detained, 2.0),
];

/// What a caller asks for (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureRequest {
    pub countries: Vec<String>,
    /// Lower-cased admin1 names; empty: all.
    pub admin1: Vec<String>,
    pub from: Date,
    pub to: Date,
    pub granularity: Granularity,
    pub area_level: AreaLevel,
    pub group_by: PictureGroup,
}

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The request cannot be served as asked: (field, reason).
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's org is at its share of the CPU pool, or the job failed.
    #[error(transparent)]
    Cpu(#[from] CpuError),
}

/// Whether a cell's incident count is unusually high (see `Alert` in threat_service.proto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    Normal,
    Elevated,
    NotAssessed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub incidents: Published,
    pub victims: Published,
    pub by_outcome: Vec<(VictimOutcome, Published)>,
    pub by_staff: Vec<(StaffCategory, Published)>,
    /// Empty below the `victims` field's tier.
    pub by_sex: Vec<(Sex, Published)>,
    pub previous: Published,
    pub change: Option<i64>,
    pub alert: Alert,
    pub baseline_mean: f64,
    pub upper_bound: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub country: String,
    pub admin1: String,
    pub group: String,
    pub cells: Vec<Cell>,
    pub incidents_total: Published,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hotspot {
    pub country: String,
    pub admin1: String,
    pub score: f64,
    pub incidents: Published,
    pub by_outcome: Vec<(VictimOutcome, Published)>,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaSecurity {
    pub country: String,
    pub admin1: String,
    pub level: SecurityLevel,
    pub advisory_id: Uuid,
    pub advisory_version: u64,
    pub valid_until: Date,
}

/// The picture as one caller may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub tier: Tier,
    /// The threshold applied; 0 when the picture is exact.
    pub k: u64,
    pub periods: Vec<String>,
    pub rows: Vec<Row>,
    pub period_totals: Vec<Published>,
    pub total: Published,
    pub hotspots: Vec<Hotspot>,
    pub security_levels: Vec<AreaSecurity>,
    /// The counts are perturbed by the cell-key method (below the exact tier, by policy).
    pub perturbed: bool,
}

/// The smallest `c` with `P(X <= c) >= 0.95` for `X ~ Poisson(mean)` (0 for a mean of 0).
/// Summed in log space, so large means do not underflow.
pub fn poisson_upper_95(mean: f64) -> u64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    let target = 0.95f64.ln();
    let mut log_pmf = -mean; // log P(X = 0)
    let mut log_cdf = log_pmf;
    let mut c: u64 = 0;
    while log_cdf < target {
        c += 1;
        log_pmf += mean.ln() - (c as f64).ln();
        let (high, low) = if log_cdf > log_pmf {
            (log_cdf, log_pmf)
        } else {
            (log_pmf, log_cdf)
        };
        log_cdf = high + (low - high).exp().ln_1p();
        if c > 10_000_000 {
            break;
        }
    }
    c
}

/// The alert of column `column` of a row of published counts (see the proto for the method).
pub fn assess(row: &[Published], column: usize) -> (Alert, f64, u64) {
    let not_assessed = (Alert::NotAssessed, 0.0, 0);
    if column < BASELINE_PERIODS {
        return not_assessed;
    }
    let first_non_zero = row
        .iter()
        .position(|count| count.value().is_some_and(|value| value > 0));
    match first_non_zero {
        Some(first) if first + BASELINE_PERIODS <= column => {}
        _ => return not_assessed,
    }
    let Some(count) = row.get(column).and_then(|count| count.value()) else {
        return not_assessed;
    };
    let mut sum = 0u64;
    for previous in &row[column - BASELINE_PERIODS..column] {
        match previous.value() {
            Some(value) => sum = sum.saturating_add(value),
            None => return not_assessed,
        }
    }
    let mean = sum as f64 / BASELINE_PERIODS as f64;
    let bound = poisson_upper_95(mean);
    let alert = if count > bound {
        Alert::Elevated
    } else {
        Alert::Normal
    };
    (alert, mean, bound)
}

/// The sum of published numbers; suppressed when any part is.
fn sum_published(parts: impl IntoIterator<Item = Published>) -> Published {
    let mut total = 0u64;
    for part in parts {
        match part.value() {
            Some(value) => total = total.saturating_add(value),
            None => return Published::Suppressed,
        }
    }
    Published::Exact(total)
}

/// The granularity's date precision: a picture may not bucket finer than the caller is shown.
fn granularity_precision(granularity: Granularity) -> DatePrecision {
    match granularity {
        Granularity::Week => DatePrecision::Week,
        Granularity::Month | Granularity::Quarter => DatePrecision::Month,
        Granularity::Year => DatePrecision::Year,
    }
}

/// One victim table's key: outcome, staff category and (only where the sex breakdown may be
/// shown) sex.
type VictimKey = (VictimOutcome, StaffCategory, Option<Sex>);

/// Computes the picture `principal` may see.
pub async fn compute(
    store: &Store,
    cpu: &CpuPool,
    policy: &PolicyEngine,
    principal: &Principal,
    request: &PictureRequest,
    today: Date,
) -> Result<Picture, PictureError> {
    let granularity = request.granularity;
    let (Some(scope), Some(tier)) = (
        policy.visibility_scope(principal),
        policy.picture_tier(principal),
    ) else {
        return Err(PictureError::Invalid(
            "principal",
            "this identity may not read the threat picture".into(),
        ));
    };
    let span = Span::checked(request, &scope)?;
    let (own_victims, others_victims) = policy.picture_victim_detail(principal);
    let out_of_range = || PictureError::Invalid("from", "outside the calendar".into());
    let query = PictureQuery {
        scope: &scope,
        countries: &request.countries,
        admin1: &request.admin1,
        from: periods::period_start(granularity, span.first).ok_or_else(out_of_range)?,
        to: periods::period_end(granularity, span.last).ok_or_else(out_of_range)?,
        area_level: request.area_level,
        group_by: request.group_by,
        bucket: granularity,
        own_victims,
        others_victims,
    };
    let counts = store.picture_counts(&query).await?;
    let victims = store.picture_victims(&query).await?;

    let exact = policy.aggregate_exact_at(tier);
    // `aggregate` publishes exactly from T2; the policy file says from which tier counts are
    // exact, so hand it a tier on the matching side of that line.
    let publishing = Publishing {
        tier: if exact {
            tier.max(Tier::T2)
        } else {
            tier.min(Tier::T1)
        },
        k: policy.aggregate_k(),
        sex_shown: policy.sex_breakdown_at(tier),
        perturb: !exact && policy.aggregate_method() == AggregateMethod::CellKey,
    };
    // Suppression and the tables' arithmetic run on the CPU pool, within the org's share.
    let (tables, rows, period_totals, hotspots) = cpu
        .run(&principal.org, move || {
            let tables = Tables::publish(&counts, &victims, granularity, span, publishing)?;
            let rows = tables.rows(publishing.sex_shown);
            let period_totals: Vec<Published> = if tables.keys.is_empty() {
                vec![Published::Exact(0); tables.columns - BASELINE_PERIODS]
            } else {
                tables.incidents.column_totals()[BASELINE_PERIODS..].to_vec()
            };
            let hotspots = hotspots(&rows);
            Ok::<_, PictureError>((tables, rows, period_totals, hotspots))
        })
        .await??;
    let total = sum_published(period_totals.iter().copied());
    let security_levels = security_levels(store, policy, principal, request, &rows, today).await?;
    Ok(Picture {
        tier,
        k: if exact || publishing.perturb {
            0
        } else {
            publishing.k
        },
        periods: tables.labels[BASELINE_PERIODS..].to_vec(),
        rows,
        period_totals,
        total,
        hotspots,
        security_levels,
        perturbed: publishing.perturb,
    })
}

/// The periods a picture reads, `first..=last`; the first [`BASELINE_PERIODS`] only feed the
/// baseline.
#[derive(Debug, Clone, Copy)]
struct Span {
    first: i64,
    last: i64,
}

impl Span {
    /// The request's span, once it is within what the viewer is shown and the size limits.
    fn checked(request: &PictureRequest, scope: &VisibilityScope) -> Result<Span, PictureError> {
        let granularity = request.granularity;
        let shown = scope.others_date_precision.max(scope.own_date_precision);
        if shown > granularity_precision(granularity) {
            return Err(PictureError::Invalid(
                "granularity",
                format!("finer than the dates you are shown ({shown})"),
            ));
        }
        if request.from > request.to {
            return Err(PictureError::Invalid(
                "from",
                "must not be after `to`".into(),
            ));
        }
        if request.to.year() - request.from.year() > MAX_YEARS {
            return Err(PictureError::Invalid(
                "to",
                format!("the picture spans at most {MAX_YEARS} years"),
            ));
        }
        let first_shown = periods::period_of(granularity, request.from);
        let last = periods::period_of(granularity, request.to);
        if last - first_shown + 1 > MAX_PERIODS {
            return Err(PictureError::Invalid(
                "granularity",
                format!("the picture has at most {MAX_PERIODS} periods; choose a coarser one"),
            ));
        }
        Ok(Span {
            first: first_shown - BASELINE_PERIODS as i64,
            last,
        })
    }
}

/// How counts are published for this viewer.
#[derive(Debug, Clone, Copy)]
struct Publishing {
    /// The tier handed to `aggregate` (exact from T2).
    tier: Tier,
    k: u64,
    sex_shown: bool,
    /// Publish by the cell-key method instead of k-suppression (below the exact tier).
    perturb: bool,
}

/// A table's counts and their cell keys, row by period.
type KeyedCounts = (Vec<Vec<u64>>, Vec<Vec<CellKey>>);

/// A picture row: country, admin1 (empty at country level) and group.
type RowKey = (String, String, String);

/// The picture's counts, row by period, published through `aggregate`: incidents, and victims
/// per (outcome, staff, sex).
struct Tables {
    keys: Vec<RowKey>,
    /// Period labels, baseline included.
    labels: Vec<String>,
    columns: usize,
    incidents: AggregateTable,
    victims: Vec<(VictimKey, AggregateTable)>,
}

impl Tables {
    // Long by design: row keys, the two count grids and their publication share the row and
    // column index.
    fn publish(
        counts: &[PictureCountRow],
        victims: &[PictureVictimRow],
        granularity: Granularity,
        span: Span,
        publishing: Publishing,
    ) -> Result<Tables, PictureError> {
        let mut keys: BTreeSet<RowKey> = BTreeSet::new();
        for row in counts {
            keys.insert((row.country.clone(), row.admin1.clone(), row.group.clone()));
        }
        for row in victims {
            keys.insert((row.country.clone(), row.admin1.clone(), row.group.clone()));
        }
        let keys: Vec<RowKey> = keys.into_iter().collect();
        let index: HashMap<&RowKey, usize> =
            keys.iter().enumerate().map(|(i, key)| (key, i)).collect();
        let columns = usize::try_from(span.last - span.first + 1).unwrap_or(0);
        if keys.len().saturating_mul(columns) > MAX_CELLS {
            return Err(PictureError::Invalid(
                "granularity",
                format!(
                    "the picture would have {} rows x {columns} periods (baseline included), \
                     more than {MAX_CELLS} cells: choose a coarser granularity or area level, \
                     fewer countries or a shorter period",
                    keys.len()
                ),
            ));
        }
        let column_of = |bucket: &str| -> Option<usize> {
            let period = periods::bucket_period(granularity, bucket)?;
            usize::try_from(period - span.first)
                .ok()
                .filter(|column| *column < columns)
        };
        let labels: Vec<String> = (span.first..=span.last)
            .map(|period| periods::label(granularity, period))
            .collect();
        let row_labels: Vec<String> = keys
            .iter()
            .map(|(country, admin1, group)| format!("{country}/{admin1}/{group}"))
            .collect();

        let mut incident_counts = vec![vec![0u64; columns]; keys.len()];
        let mut incident_keys = vec![vec![CellKey::default(); columns]; keys.len()];
        for row in counts {
            let key = (row.country.clone(), row.admin1.clone(), row.group.clone());
            if let (Some(r), Some(c)) = (index.get(&key), column_of(&row.bucket)) {
                incident_counts[*r][c] += row.incidents;
                incident_keys[*r][c] = incident_keys[*r][c].combine(CellKey::from_sum(row.key_sum));
            }
        }
        let mut victim_counts: BTreeMap<VictimKey, KeyedCounts> = BTreeMap::new();
        for row in victims {
            let key = (row.country.clone(), row.admin1.clone(), row.group.clone());
            if let (Some(r), Some(c)) = (index.get(&key), column_of(&row.bucket)) {
                let table_key = (
                    row.outcome,
                    row.staff,
                    publishing.sex_shown.then_some(row.sex),
                );
                let (table, table_keys) = victim_counts.entry(table_key).or_insert_with(|| {
                    (
                        vec![vec![0u64; columns]; keys.len()],
                        vec![vec![CellKey::default(); columns]; keys.len()],
                    )
                });
                table[*r][c] += row.victims;
                table_keys[*r][c] = table_keys[*r][c].combine(CellKey::from_sum(row.key_sum));
            }
        }
        let publish = |counts: Vec<Vec<u64>>,
                       cell_keys: &[Vec<CellKey>]|
         -> Result<AggregateTable, PictureError> {
            let corrupt = |error: String| {
                PictureError::Store(StoreError::Corrupt(format!("picture table: {error}")))
            };
            let grid = CountGrid::new(row_labels.clone(), labels.clone(), counts)
                .map_err(|error| corrupt(error.to_string()))?;
            if publishing.perturb {
                perturbed(&grid, cell_keys, publishing.tier, publishing.k)
                    .map_err(|error| corrupt(error.to_string()))
            } else {
                Ok(aggregate(&grid, publishing.tier, publishing.k))
            }
        };
        let incidents = publish(incident_counts, &incident_keys)?;
        let mut victim_tables: Vec<(VictimKey, AggregateTable)> = Vec::new();
        for (key, (counts, cell_keys)) in victim_counts {
            victim_tables.push((key, publish(counts, &cell_keys)?));
        }
        Ok(Tables {
            keys,
            labels,
            columns,
            incidents,
            victims: victim_tables,
        })
    }

    fn cell_of(table: &AggregateTable, r: usize, c: usize) -> Published {
        table
            .cells()
            .get(r)
            .and_then(|row| row.get(c))
            .copied()
            .unwrap_or(Published::Exact(0))
    }

    /// The victims of row `r`, period `c`, in the tables whose key `keep` accepts.
    fn victims_where(&self, r: usize, c: usize, keep: &dyn Fn(&VictimKey) -> bool) -> Published {
        sum_published(
            self.victims
                .iter()
                .filter(|(key, _)| keep(key))
                .map(|(_, table)| Self::cell_of(table, r, c)),
        )
    }

    /// The requested periods of every row (the baseline periods left out).
    fn rows(&self, sex_shown: bool) -> Vec<Row> {
        let mut rows = Vec::with_capacity(self.keys.len());
        for (r, (country, admin1, group)) in self.keys.iter().enumerate() {
            let series: Vec<Published> = (0..self.columns)
                .map(|c| Self::cell_of(&self.incidents, r, c))
                .collect();
            let cells: Vec<Cell> = (BASELINE_PERIODS..self.columns)
                .map(|c| self.cell(r, c, &series, sex_shown))
                .collect();
            let incidents_total = sum_published(cells.iter().map(|cell| cell.incidents));
            rows.push(Row {
                country: country.clone(),
                admin1: admin1.clone(),
                group: group.clone(),
                cells,
                incidents_total,
            });
        }
        rows
    }

    /// Row `r`, period `c`; `series` is the row's incidents in every period.
    fn cell(&self, r: usize, c: usize, series: &[Published], sex_shown: bool) -> Cell {
        let count = series[c];
        let previous = series[c - 1];
        let change = match (count.value(), previous.value()) {
            (Some(now), Some(before)) => Some(
                i64::try_from(now).unwrap_or(i64::MAX) - i64::try_from(before).unwrap_or(i64::MAX),
            ),
            _ => None,
        };
        let (alert, baseline_mean, upper_bound) = assess(series, c);
        Cell {
            incidents: count,
            victims: self.victims_where(r, c, &|_| true),
            by_outcome: VictimOutcome::ALL
                .iter()
                .map(|outcome| (*outcome, self.victims_where(r, c, &|key| key.0 == *outcome)))
                .collect(),
            by_staff: StaffCategory::ALL
                .iter()
                .map(|staff| (*staff, self.victims_where(r, c, &|key| key.1 == *staff)))
                .collect(),
            by_sex: if sex_shown {
                Sex::ALL
                    .iter()
                    .map(|sex| (*sex, self.victims_where(r, c, &|key| key.2 == Some(*sex))))
                    .collect()
            } else {
                Vec::new()
            },
            previous,
            change,
            alert,
            baseline_mean,
            upper_bound,
        }
    }
}

/// The most severe areas over the window, from published numbers only.
fn hotspots(rows: &[Row]) -> Vec<Hotspot> {
    let mut areas: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
    for row in rows {
        areas
            .entry((row.country.clone(), row.admin1.clone()))
            .or_default()
            .push(row);
    }
    let mut hotspots: Vec<Hotspot> = areas
        .into_iter()
        .map(|((country, admin1), rows)| {
            let mut partial = false;
            let mut known = |value: Published| match value.value() {
                Some(value) => value,
                None => {
                    partial = true;
                    0
                }
            };
            let incidents_parts: Vec<Published> = rows
                .iter()
                .flat_map(|row| row.cells.iter().map(|cell| cell.incidents))
                .collect();
            let incidents_known: u64 = incidents_parts.iter().map(|part| known(*part)).sum();
            let mut score = incidents_known as f64;
            let mut by_outcome = Vec::new();
            for outcome in VictimOutcome::ALL {
                let parts: Vec<Published> = rows
                    .iter()
                    .flat_map(|row| row.cells.iter())
                    .filter_map(|cell| {
                        cell.by_outcome
                            .iter()
                            .find(|(o, _)| o == outcome)
                            .map(|(_, count)| *count)
                    })
                    .collect();
                let known_sum: u64 = parts.iter().map(|part| known(*part)).sum();
                let weight = SEVERITY_WEIGHTS
                    .iter()
                    .find(|(o, _)| o == outcome)
                    .map_or(0.0, |(_, weight)| *weight);
                score += weight * known_sum as f64;
                by_outcome.push((*outcome, sum_published(parts)));
            }
            Hotspot {
                country,
                admin1,
                score,
                incidents: sum_published(incidents_parts),
                by_outcome,
                partial,
            }
        })
        .filter(|hotspot| hotspot.score > 0.0)
        .collect();
    hotspots.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| (&a.country, &a.admin1).cmp(&(&b.country, &b.admin1)))
    });
    hotspots.truncate(HOTSPOTS);
    hotspots
}

/// The current security level per area of the picture (and per requested country), from the
/// advisories the caller may see: every advisory in force today, read page by page (however
/// many one focal point issued, nobody's are left out), keeping only the best per area.
async fn security_levels(
    store: &Store,
    policy: &PolicyEngine,
    principal: &Principal,
    request: &PictureRequest,
    rows: &[Row],
    today: Date,
) -> Result<Vec<AreaSecurity>, PictureError> {
    let Some(scope) = policy.visibility_scope(principal) else {
        return Ok(Vec::new());
    };
    let mut areas: BTreeSet<(String, String)> = request
        .countries
        .iter()
        .map(|country| (country.clone(), String::new()))
        .collect();
    for row in rows {
        areas.insert((row.country.clone(), row.admin1.clone()));
    }
    let filter = AdvisoryFilter {
        countries: request.countries.clone(),
        valid_on: Some(today),
    };
    let mut best: BTreeMap<(String, String), StoredAdvisory> = BTreeMap::new();
    let mut before = None;
    loop {
        let page = store
            .advisories_page(&scope, &filter, before, ADVISORY_PAGE)
            .await?;
        // Through the policy engine like every other egress: only what the caller may see.
        for redacted in page
            .advisories
            .into_iter()
            .filter_map(|advisory| policy.redact_advisory(advisory, principal))
            .filter(|redacted| redacted.advisory.content.valid_on(today))
        {
            let advisory = redacted.advisory;
            for area in areas.iter().filter(|area| applies_to(&advisory, area)) {
                let better = best.get(area).is_none_or(|held| {
                    (advisory.content.security_level, advisory.issued_at)
                        > (held.content.security_level, held.issued_at)
                });
                if better {
                    best.insert(area.clone(), advisory.clone());
                }
            }
        }
        match page.last_row {
            Some(row) if page.more => before = Some(row),
            _ => break,
        }
    }
    Ok(best
        .into_iter()
        .map(|((country, admin1), advisory)| AreaSecurity {
            country,
            admin1,
            level: advisory.content.security_level,
            advisory_id: advisory.id,
            advisory_version: advisory.version,
            valid_until: advisory.content.valid_until,
        })
        .collect())
}

/// Advisories read per page for the security levels.
const ADVISORY_PAGE: u32 = 1_000;

/// Whether `advisory` speaks for the area (country, admin1 key; empty admin1: the country).
fn applies_to(advisory: &StoredAdvisory, (country, admin1): &(String, String)) -> bool {
    advisory.content.country == *country
        && match &advisory.content.admin1 {
            None => true,
            Some(area) => !admin1.is_empty() && area.name.trim().to_lowercase() == *admin1,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_bound_matches_the_tables() {
        // P(X <= 5) = 0.983 and P(X <= 4) = 0.947 for a mean of 2.
        assert_eq!(poisson_upper_95(2.0), 5);
        assert_eq!(poisson_upper_95(0.0), 0);
        // Mean 10: P(X <= 15) = 0.951, P(X <= 14) = 0.917.
        assert_eq!(poisson_upper_95(10.0), 15);
        // Large means do not underflow: about mean + 1.645 sqrt(mean).
        let bound = poisson_upper_95(2_000.0);
        assert!((2_070..=2_080).contains(&bound), "{bound}");
    }

    fn exact(values: &[u64]) -> Vec<Published> {
        values.iter().map(|v| Published::Exact(*v)).collect()
    }

    #[test]
    fn a_jump_is_elevated_and_a_flat_series_is_not() {
        let mut series = vec![3u64; 24];
        series.push(12);
        let series = exact(&series);
        for column in 0..12 {
            assert_eq!(assess(&series, column).0, Alert::NotAssessed);
        }
        for column in 12..24 {
            assert_eq!(assess(&series, column).0, Alert::Normal, "{column}");
        }
        assert_eq!(assess(&series, 24).0, Alert::Elevated);
    }

    #[test]
    fn suppressed_numbers_leave_the_alert_unassessed() {
        let mut series = exact(&[6; 30]);
        series[10] = Published::Suppressed;
        assert_eq!(assess(&series, 23).0, Alert::Normal);
        assert_eq!(assess(&series, 15).0, Alert::NotAssessed);
        series[23] = Published::Suppressed;
        assert_eq!(assess(&series, 23).0, Alert::NotAssessed);
    }

    #[test]
    fn a_series_needs_twelve_periods_of_history() {
        let mut values = vec![0u64; 20];
        values[5] = 1;
        values[15] = 3;
        let series = exact(&values);
        assert_eq!(assess(&series, 15).0, Alert::NotAssessed);
        assert_eq!(assess(&series, 17).0, Alert::Normal);
    }
}
