//! Proper scores of a predictive distribution against the outcome.

use super::distribution::Predictive;

/// The levels served: the median and the 50/80/95% central intervals.
pub const SERVED_LEVELS: [f64; 7] = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975];

/// CRPS of a discrete distribution: sum over k >= 0 of (F(k) - 1{y <= k})^2, exact (the sum
/// past the stored support adds (1 - F)^2, which the truncation makes negligible).
pub fn crps(predictive: &Predictive, outcome: u64) -> f64 {
    let mut total = 0.0;
    let mut last = 0.0;
    let mut len = 0_u64;
    for (k, f) in predictive.cdf().enumerate() {
        let k = k as u64;
        let step = if outcome <= k { 1.0 } else { 0.0 };
        total += (f - step).powi(2);
        last = f;
        len = k + 1;
    }
    // Beyond the support F = last ~ 1; below the outcome each k adds last^2.
    if outcome >= len {
        total += (outcome - len) as f64 * last * last;
    }
    total
}

/// Mean pinball loss over `levels` of the distribution's quantiles.
pub fn pinball(predictive: &Predictive, outcome: u64, levels: &[f64]) -> f64 {
    let y = outcome as f64;
    let total: f64 = levels
        .iter()
        .map(|level| {
            let q = predictive.quantile(*level) as f64;
            if y >= q {
                level * (y - q)
            } else {
                (1.0 - level) * (q - y)
            }
        })
        .sum();
    total / levels.len().max(1) as f64
}

/// Whether the central interval of `coverage` (e.g. 0.8: from the 10% to the 90% quantile)
/// holds the outcome.
pub fn covers(predictive: &Predictive, outcome: u64, coverage: f64) -> bool {
    let tail = (1.0 - coverage) / 2.0;
    predictive.quantile(tail) <= outcome && outcome <= predictive.quantile(1.0 - tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crps_of_a_point_mass_is_the_absolute_error() {
        let point = Predictive::empirical(&[3]);
        assert!((crps(&point, 3)).abs() < 1e-12);
        assert!((crps(&point, 7) - 4.0).abs() < 1e-12);
        assert!((crps(&point, 0) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn crps_prefers_the_truth() {
        let near = Predictive::poisson(5.0);
        let far = Predictive::poisson(15.0);
        assert!(crps(&near, 5) < crps(&far, 5));
    }

    #[test]
    fn pinball_and_coverage_of_an_ensemble() {
        let ensemble = Predictive::empirical(&[0, 10]);
        // median 0 (F(0) = 0.5): outcome 10 is 10 above it at level 0.5.
        assert!((pinball(&ensemble, 10, &[0.5]) - 5.0).abs() < 1e-12);
        assert!(covers(&ensemble, 10, 0.8));
        assert!(!covers(&ensemble, 11, 0.8));
    }
}
