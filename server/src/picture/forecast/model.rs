//! The forecast model: a local-level negative binomial. The mean is an exponentially weighted
//! level of the area's own counts (flat over the horizon); the dispersion is a function of
//! that level, size = c * level^k, with (c, k) fitted per horizon by maximum likelihood on the
//! model's own past h-step forecasts, pooled over every series with enough history. Pure: no
//! I/O, and it only ever sees the history it is given (the caller cuts it at the origin).

use super::distribution::{MIN_MEAN, Predictive, nb_log_pmf};

/// The model's hyper-parameters. The level weight was chosen on rolling origins before 2012
/// (docs/forecast.md); the dispersion is not a hyper-parameter, it is fitted at every origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelParams {
    /// Smoothing weight of the level (the newest period's share).
    pub level_weight: f64,
    /// Most recent periods whose past forecasts fit the dispersion.
    pub dispersion_window: usize,
    /// Periods a series runs before its level counts as warmed up.
    pub burn_in: usize,
    /// Incidents a series must have before the origin to enter the dispersion pool.
    pub min_history: u64,
}

/// The quarterly defaults (docs/forecast.md says how they were chosen).
pub const QUARTERLY: ModelParams = ModelParams {
    level_weight: 0.3,
    dispersion_window: 40,
    burn_in: 13,
    min_history: 20,
};

/// How the negative-binomial size grows with the level: size = `scale` * level^`power`
/// (variance = mean + mean^2 / size). A power of 0 is one size for every level; a power of 1
/// makes the variance proportional to the mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dispersion {
    pub scale: f64,
    pub power: f64,
}

impl Dispersion {
    /// Used when no series has enough history to fit one: the typical fit on the AWSD before
    /// 2012 (about what every origin 2004-2011 chose at horizons 1-4).
    pub const DEFAULT: Dispersion = Dispersion {
        scale: 1.0,
        power: 0.75,
    };

    /// The size at a mean of `mean`.
    pub fn size(&self, mean: f64) -> f64 {
        self.scale * mean.max(MIN_MEAN).powf(self.power)
    }
}

/// The scales searched: 0.25 * 1.5^i, from 0.25 to about 22 (nearly Poisson at any level).
const SCALES: usize = 12;
/// The powers searched: 0, 0.25, .., 1.
const POWERS: usize = 5;

fn scale_at(i: usize) -> f64 {
    0.25 * 1.5_f64.powi(i32::try_from(i).unwrap_or(0))
}

fn power_at(j: usize) -> f64 {
    j as f64 * 0.25
}

/// `levels[t]` = the level after observing `history[..t]`, for t in 1..=len; `levels[0]` is
/// the empty history's (zero). The level starts at the first count.
pub fn smooth(history: &[u32], params: &ModelParams) -> Vec<f64> {
    let mut out = Vec::with_capacity(history.len() + 1);
    out.push(0.0);
    let mut current: Option<f64> = None;
    for value in history {
        let y = f64::from(*value);
        let next = current.map_or(y, |l| l + params.level_weight * (y - l));
        current = Some(next);
        out.push(next);
    }
    out
}

/// The model fitted to a panel of histories that all end at the same origin.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Level at the origin, per series.
    levels: Vec<f64>,
    /// The fitted dispersion per horizon (index horizon - 1).
    dispersion: Vec<Dispersion>,
}

impl Fit {
    /// Fits horizons 1..=`max_horizon` to `histories` (each cut at the origin).
    pub fn new(histories: &[&[u32]], max_horizon: usize, params: ModelParams) -> Self {
        let paths: Vec<Vec<f64>> = histories.iter().map(|h| smooth(h, &params)).collect();
        let dispersion = (1..=max_horizon)
            .map(|horizon| {
                let pool: Vec<(u32, f64)> = histories
                    .iter()
                    .zip(&paths)
                    .flat_map(|(history, path)| past_forecasts(history, path, horizon, &params))
                    .collect();
                fit_dispersion(&pool)
            })
            .collect();
        let levels = paths
            .iter()
            .map(|path| path.last().copied().unwrap_or(0.0))
            .collect();
        Self { levels, dispersion }
    }

    /// The predictive distribution of series `series`, `horizon` periods past the origin.
    pub fn predictive(&self, series: usize, horizon: usize) -> Option<Predictive> {
        let mean = self.levels.get(series)?.max(MIN_MEAN);
        let dispersion = self.dispersion(horizon)?;
        Some(Predictive::negative_binomial(mean, dispersion.size(mean)))
    }

    /// The dispersion fitted at `horizon`.
    pub fn dispersion(&self, horizon: usize) -> Option<Dispersion> {
        self.dispersion.get(horizon.checked_sub(1)?).copied()
    }
}

/// (outcome, forecast mean) of the model's own `horizon`-step forecasts inside the history,
/// over the last `dispersion_window` periods; none for a series with too little history.
fn past_forecasts(
    history: &[u32],
    path: &[f64],
    horizon: usize,
    params: &ModelParams,
) -> Vec<(u32, f64)> {
    let total: u64 = history.iter().map(|v| u64::from(*v)).sum();
    if total < params.min_history || history.len() < horizon {
        return Vec::new();
    }
    let origin = history.len();
    let first = params
        .burn_in
        .max(origin.saturating_sub(params.dispersion_window));
    (first..=origin - horizon)
        .map(|t| (history[t + horizon - 1], path[t].max(MIN_MEAN)))
        .collect()
}

/// The (scale, power) of the grid with the highest pooled log-likelihood: a coarse pass over
/// every other scale and the powers 0, 0.5, 1, then the neighbours of the best cell (the
/// likelihood is smooth in both, and a full grid would cost twice as many evaluations).
fn fit_dispersion(pairs: &[(u32, f64)]) -> Dispersion {
    if pairs.is_empty() {
        return Dispersion::DEFAULT;
    }
    let score = |i: usize, j: usize| {
        let dispersion = Dispersion {
            scale: scale_at(i),
            power: power_at(j),
        };
        pairs
            .iter()
            .map(|(y, mean)| nb_log_pmf(*y, *mean, dispersion.size(*mean)))
            .sum::<f64>()
    };
    let argmax = |cells: &mut dyn Iterator<Item = (usize, usize)>| {
        cells
            .map(|(i, j)| (score(i, j), i, j))
            .fold((f64::NEG_INFINITY, 0, 0), |best, next| {
                if next.0 > best.0 { next } else { best }
            })
    };
    let coarse = argmax(
        &mut (0..SCALES)
            .step_by(2)
            .flat_map(|i| (0..POWERS).step_by(2).map(move |j| (i, j))),
    );
    let (_, ci, cj) = coarse;
    let near = |c: usize, n: usize| c.saturating_sub(1)..(c + 2).min(n);
    let fine = argmax(
        &mut near(ci, SCALES)
            .flat_map(|i| near(cj, POWERS).map(move |j| (i, j)))
            .filter(|cell| *cell != (ci, cj)),
    );
    let (_, i, j) = if fine.0 > coarse.0 { fine } else { coarse };
    Dispersion {
        scale: scale_at(i),
        power: power_at(j),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_follows_a_step() {
        let history: Vec<u32> = [0_u32; 20]
            .iter()
            .chain([10_u32; 5].iter())
            .copied()
            .collect();
        let path = smooth(&history, &QUARTERLY);
        let last = path[history.len()];
        // Five periods after the step: 10 * (1 - 0.7^5) = 8.3.
        assert!((last - 8.319).abs() < 1e-3, "{last}");
        let fit = Fit::new(&[&history], 4, QUARTERLY);
        let mean = fit.predictive(0, 4).map(|p| p.mean());
        assert!(mean.is_some_and(|m| (m - last).abs() < 1e-3), "{mean:?}");
    }

    #[test]
    fn a_bursty_panel_gets_a_wider_dispersion() {
        let steady: Vec<u32> = (0..60).map(|i| 5 + (i % 2)).collect();
        let bursty: Vec<u32> = (0..60).map(|i| if i % 5 == 0 { 25 } else { 0 }).collect();
        let steady_fit = Fit::new(&[&steady], 1, QUARTERLY);
        let bursty_fit = Fit::new(&[&bursty], 1, QUARTERLY);
        let size = |fit: &Fit| fit.dispersion(1).map(|d| d.size(5.0)).unwrap_or(0.0);
        assert!(size(&bursty_fit) < size(&steady_fit));
        // Nearly Poisson counts reach the top of the grid.
        assert!(size(&steady_fit) > 10.0, "{}", size(&steady_fit));
    }

    #[test]
    fn the_grid_search_finds_the_size_that_generated_the_counts() {
        // Counts drawn (deterministically, by inverting the cdf on a lattice) from NB(mean 8,
        // size 2): the fit's size at the mean lands near 2.
        let truth = Predictive::negative_binomial(8.0, 2.0);
        let pairs: Vec<(u32, f64)> = (0..400)
            .map(|i| {
                let level = (f64::from(i) + 0.5) / 400.0;
                (u32::try_from(truth.quantile(level)).unwrap_or(0), 8.0)
            })
            .collect();
        let fitted = fit_dispersion(&pairs).size(8.0);
        assert!((1.2..3.2).contains(&fitted), "{fitted}");
    }

    #[test]
    fn no_pool_falls_back_to_the_default_dispersion() {
        let quiet = [0_u32, 1, 0, 0, 2, 0];
        let fit = Fit::new(&[&quiet], 2, QUARTERLY);
        assert_eq!(fit.dispersion(2), Some(Dispersion::DEFAULT));
        assert_eq!(fit.dispersion(3), None);
    }
}
