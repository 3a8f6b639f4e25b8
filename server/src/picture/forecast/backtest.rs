//! Rolling-origin evaluation: for each origin, fit on the past only, forecast 1..h ahead, and
//! score the model and every baseline against what happened.

use std::ops::Range;

use super::baselines::Baseline;
use super::distribution::Predictive;
use super::model::{Fit, ModelParams};
use super::scores::{SERVED_LEVELS, covers, crps, pinball};

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct BacktestSpec {
    /// Origins as period indices of the panel: the first period forecast (fit on `..origin`).
    pub origins: Range<usize>,
    /// Horizons scored (1 = the origin period itself).
    pub horizons: Vec<usize>,
    /// Series scored (indices into the panel); every series enters the fit.
    pub targets: Vec<usize>,
    /// Periods in a seasonal cycle.
    pub season: usize,
    pub params: ModelParams,
}

/// The mean scores of one method at one horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub method: String,
    pub horizon: usize,
    pub forecasts: usize,
    pub crps: f64,
    /// Mean pinball loss over the served quantiles.
    pub pinball: f64,
    pub mae_median: f64,
    /// Share of outcomes inside the central 80% interval.
    pub coverage80: f64,
}

/// Name of the model's rows.
pub const MODEL: &str = "model (NB, local level)";

/// Every method's row at every horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestTable {
    pub rows: Vec<ScoreRow>,
}

impl BacktestTable {
    /// The model's row at `horizon`.
    pub fn model(&self, horizon: usize) -> Option<&ScoreRow> {
        self.rows
            .iter()
            .find(|row| row.horizon == horizon && row.method == MODEL)
    }

    /// The row with the lowest CRPS at `horizon` among issue 21's three baselines
    /// (persistence, mean of the last 12, seasonal naive): the acceptance's reference.
    pub fn best_baseline(&self, horizon: usize) -> Option<&ScoreRow> {
        let issue: Vec<&str> = Baseline::ISSUE.iter().map(|b| b.name()).collect();
        self.best_among(horizon, |method| issue.contains(&method))
    }

    /// The row with the lowest CRPS at `horizon` among every baseline scored, the ensemble
    /// (a stronger reference than the issue asks for) included.
    pub fn best_of_all_baselines(&self, horizon: usize) -> Option<&ScoreRow> {
        self.best_among(horizon, |method| method != MODEL)
    }

    fn best_among(&self, horizon: usize, keep: impl Fn(&str) -> bool) -> Option<&ScoreRow> {
        self.rows
            .iter()
            .filter(|row| row.horizon == horizon && keep(&row.method))
            .min_by(|a, b| a.crps.total_cmp(&b.crps))
    }

    /// 1 - model CRPS / best CRPS of the issue's three baselines at `horizon` (0.1 = 10%
    /// better).
    pub fn skill(&self, horizon: usize) -> Option<f64> {
        Some(1.0 - self.model(horizon)?.crps / self.best_baseline(horizon)?.crps)
    }

    /// 1 - model pinball loss / the lowest pinball loss of the issue's three baselines at
    /// `horizon`: the skill of the quantiles the hub serves (median, 50/80/95% bounds).
    pub fn pinball_skill(&self, horizon: usize) -> Option<f64> {
        let issue: Vec<&str> = Baseline::ISSUE.iter().map(|b| b.name()).collect();
        let best = self
            .rows
            .iter()
            .filter(|row| row.horizon == horizon && issue.contains(&row.method.as_str()))
            .map(|row| row.pinball)
            .min_by(f64::total_cmp)?;
        Some(1.0 - self.model(horizon)?.pinball / best)
    }

    /// 1 - model CRPS / best CRPS of every baseline (ensemble included) at `horizon`.
    pub fn skill_against_all(&self, horizon: usize) -> Option<f64> {
        Some(1.0 - self.model(horizon)?.crps / self.best_of_all_baselines(horizon)?.crps)
    }
}

#[derive(Default)]
struct Sums {
    n: usize,
    crps: f64,
    pinball: f64,
    mae: f64,
    covered: usize,
}

impl Sums {
    fn add(&mut self, predictive: &Predictive, outcome: u32) {
        let y = u64::from(outcome);
        self.n += 1;
        self.crps += crps(predictive, y);
        self.pinball += pinball(predictive, y, &SERVED_LEVELS);
        self.mae += (predictive.quantile(0.5) as f64 - y as f64).abs();
        self.covered += usize::from(covers(predictive, y, 0.8));
    }

    fn row(&self, method: &str, horizon: usize) -> ScoreRow {
        let n = self.n.max(1) as f64;
        ScoreRow {
            method: method.to_string(),
            horizon,
            forecasts: self.n,
            crps: self.crps / n,
            pinball: self.pinball / n,
            mae_median: self.mae / n,
            coverage80: self.covered as f64 / n,
        }
    }
}

/// Runs the evaluation over `panel` (one count per period per series, all the same length).
pub fn run(panel: &[Vec<u32>], spec: &BacktestSpec) -> BacktestTable {
    let max_horizon = spec.horizons.iter().copied().max().unwrap_or(1);
    let methods = Baseline::ALL.len() + 1;
    let mut sums: Vec<Vec<Sums>> = spec
        .horizons
        .iter()
        .map(|_| (0..methods).map(|_| Sums::default()).collect())
        .collect();
    for origin in spec.origins.clone() {
        let histories: Vec<&[u32]> = panel
            .iter()
            .map(|series| &series[..origin.min(series.len())])
            .collect();
        let fit = Fit::new(&histories, max_horizon, spec.params);
        for (slot, horizon) in spec.horizons.iter().enumerate() {
            for target in &spec.targets {
                let Some(outcome) = panel[*target].get(origin + horizon - 1) else {
                    continue;
                };
                let history = histories[*target];
                let forecasts = std::iter::once(fit.predictive(*target, *horizon)).chain(
                    Baseline::ALL
                        .iter()
                        .map(|b| b.predictive(history, *horizon, spec.season)),
                );
                let all: Option<Vec<Predictive>> = forecasts.collect();
                // Score only where every method could forecast, so all rows share outcomes.
                let Some(all) = all else { continue };
                for (method, predictive) in all.iter().enumerate() {
                    sums[slot][method].add(predictive, *outcome);
                }
            }
        }
    }
    let names = std::iter::once(MODEL).chain(Baseline::ALL.iter().map(|b| b.name()));
    let names: Vec<&str> = names.collect();
    let rows = spec
        .horizons
        .iter()
        .zip(&sums)
        .flat_map(|(horizon, per_method)| {
            per_method
                .iter()
                .zip(&names)
                .map(|(sums, name)| sums.row(name, *horizon))
        })
        .collect();
    BacktestTable { rows }
}
