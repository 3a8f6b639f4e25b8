//! The forecast model: a negative-binomial count model whose mean is a damped blend of a fast
//! and a slow exponentially weighted level, and whose dispersion is fitted by maximum likelihood
//! on the model's own past h-step forecasts, pooled over every series with enough history and
//! shrunk from the pool toward each series' own fit (partial pooling). Pure: no I/O, and it
//! only ever sees the history it is given (the caller cuts it at the forecast origin).

use super::distribution::{MIN_MEAN, Predictive, nb_log_pmf};

/// The model's hyper-parameters. Fixed on rolling origins before 2012 (docs/forecast.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelParams {
    /// Smoothing weight of the fast level (recent periods).
    pub fast: f64,
    /// Smoothing weight of the slow level (the long-run mean the forecast reverts to).
    pub slow: f64,
    /// Per-period damping of the fast level's departure from the slow one.
    pub damping: f64,
    /// Most recent periods whose past forecasts fit the dispersion.
    pub dispersion_window: usize,
    /// Periods a series runs before its levels count as warmed up.
    pub burn_in: usize,
    /// Incidents a series must have before the origin to enter the dispersion pool.
    pub min_history: u64,
    /// Weight of the pull of a series' dispersion toward the pool (log-scale ridge penalty).
    pub shrinkage: f64,
}

/// The quarterly defaults (docs/forecast.md says how they were chosen).
pub const QUARTERLY: ModelParams = ModelParams {
    fast: 0.35,
    slow: 0.1,
    damping: 0.95,
    dispersion_window: 40,
    burn_in: 13,
    min_history: 20,
    shrinkage: 2.0,
};

/// The negative-binomial sizes searched (variance = mean + mean^2 / size).
const SIZES: [f64; 13] = [
    0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 25.0, 40.0, 80.0,
];

/// The two levels after some prefix of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    fast: f64,
    slow: f64,
}

impl Levels {
    /// The mean `horizon` periods past the last one observed.
    pub fn mean_ahead(&self, horizon: usize, params: &ModelParams) -> f64 {
        let pull = params
            .damping
            .powi(i32::try_from(horizon).unwrap_or(i32::MAX));
        (self.slow + pull * (self.fast - self.slow)).max(MIN_MEAN)
    }
}

/// `levels[t]` = the levels after observing `history[..t]`, for t in 1..=len; `levels[0]` is
/// the empty history's (zero).
pub fn smooth(history: &[u32], params: &ModelParams) -> Vec<Levels> {
    let mut out = Vec::with_capacity(history.len() + 1);
    out.push(Levels {
        fast: 0.0,
        slow: 0.0,
    });
    let mut current: Option<Levels> = None;
    for value in history {
        let y = f64::from(*value);
        let next = match current {
            None => Levels { fast: y, slow: y },
            Some(l) => Levels {
                fast: l.fast + params.fast * (y - l.fast),
                slow: l.slow + params.slow * (y - l.slow),
            },
        };
        current = Some(next);
        out.push(next);
    }
    out
}

/// The model fitted to a panel of histories that all end at the same origin.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Levels at the origin, per series.
    levels: Vec<Levels>,
    /// Dispersion size per series and horizon (index horizon - 1).
    sizes: Vec<Vec<f64>>,
    /// The pooled size per horizon.
    pooled: Vec<f64>,
    params: ModelParams,
}

impl Fit {
    /// Fits horizons 1..=`max_horizon` to `histories` (each cut at the origin).
    pub fn new(histories: &[&[u32]], max_horizon: usize, params: ModelParams) -> Self {
        let paths: Vec<Vec<Levels>> = histories.iter().map(|h| smooth(h, &params)).collect();
        let mut sizes = vec![Vec::with_capacity(max_horizon); histories.len()];
        let mut pooled = Vec::with_capacity(max_horizon);
        for horizon in 1..=max_horizon {
            let pairs: Vec<Vec<(u32, f64)>> = histories
                .iter()
                .zip(&paths)
                .map(|(history, path)| past_forecasts(history, path, horizon, &params))
                .collect();
            let pool: Vec<(u32, f64)> = pairs.iter().flatten().copied().collect();
            let pool_size = best_size(&pool, None);
            pooled.push(pool_size);
            for (series, own) in pairs.iter().enumerate() {
                let size = if own.is_empty() {
                    pool_size
                } else {
                    best_size(own, Some((pool_size, params.shrinkage)))
                };
                sizes[series].push(size);
            }
        }
        let levels = paths
            .iter()
            .map(|path| path.last().copied().unwrap_or(path[0]))
            .collect();
        Self {
            levels,
            sizes,
            pooled,
            params,
        }
    }

    /// The predictive distribution of series `series`, `horizon` periods past the origin.
    pub fn predictive(&self, series: usize, horizon: usize) -> Option<Predictive> {
        let levels = self.levels.get(series)?;
        let size = *self.sizes.get(series)?.get(horizon.checked_sub(1)?)?;
        Some(Predictive::negative_binomial(
            levels.mean_ahead(horizon, &self.params),
            size,
        ))
    }

    /// The pooled dispersion size at `horizon`.
    pub fn pooled_size(&self, horizon: usize) -> Option<f64> {
        self.pooled.get(horizon.checked_sub(1)?).copied()
    }
}

/// (outcome, forecast mean) of the model's own `horizon`-step forecasts inside the history,
/// over the last `dispersion_window` periods; none for a series with too little history.
fn past_forecasts(
    history: &[u32],
    path: &[Levels],
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
        .map(|t| {
            (
                history[t + horizon - 1],
                path[t].mean_ahead(horizon, params),
            )
        })
        .collect()
}

/// The size of `SIZES` with the highest log-likelihood, less a ridge on the log distance to a
/// prior size when one is given.
fn best_size(pairs: &[(u32, f64)], prior: Option<(f64, f64)>) -> f64 {
    let score = |size: f64| {
        let likelihood: f64 = pairs.iter().map(|(y, m)| nb_log_pmf(*y, *m, size)).sum();
        let penalty = prior.map_or(0.0, |(p, weight)| weight * (size.ln() - p.ln()).powi(2));
        likelihood - penalty
    };
    SIZES
        .iter()
        .copied()
        .map(|size| (score(size), size))
        .fold((f64::NEG_INFINITY, SIZES[0]), |best, next| {
            if next.0 > best.0 { next } else { best }
        })
        .1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_a_step_and_the_forecast_reverts() {
        let history = [0_u32; 20]
            .iter()
            .chain([10_u32; 5].iter())
            .copied()
            .collect::<Vec<_>>();
        let path = smooth(&history, &QUARTERLY);
        let last = path[history.len()];
        assert!(last.fast > last.slow);
        let near = last.mean_ahead(1, &QUARTERLY);
        let far = last.mean_ahead(12, &QUARTERLY);
        assert!(near > far && far > last.slow - 1e-9);
    }

    #[test]
    fn dispersion_is_wider_for_a_bursty_series() {
        let steady: Vec<u32> = (0..60).map(|i| 5 + (i % 2)).collect();
        let bursty: Vec<u32> = (0..60).map(|i| if i % 5 == 0 { 25 } else { 0 }).collect();
        let fit = Fit::new(&[&steady, &bursty], 1, QUARTERLY);
        let steady_size = fit.sizes[0][0];
        let bursty_size = fit.sizes[1][0];
        assert!(bursty_size < steady_size, "{bursty_size} vs {steady_size}");
    }
}
