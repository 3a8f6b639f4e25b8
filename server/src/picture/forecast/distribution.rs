//! Discrete predictive distributions over counts (negative binomial, Poisson, empirical), held
//! as a probability mass function truncated where the tail mass is negligible.

/// Mass left beyond the truncated support.
const TAIL: f64 = 1e-10;
/// Smallest mean: a mean of zero would put all mass on 0 and make every nonzero outcome
/// "impossible", which no model of conflict counts can claim.
pub const MIN_MEAN: f64 = 0.05;

/// A distribution over 0, 1, 2, ...: `pmf[k]` = P(Y = k) for k below the truncation point.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictive {
    pmf: Vec<f64>,
}

impl Predictive {
    /// Negative binomial with mean `mean` and size `size` (variance `mean + mean^2 / size`).
    pub fn negative_binomial(mean: f64, size: f64) -> Self {
        let mean = mean.max(MIN_MEAN);
        let p = size / (size + mean);
        let first = (size * p.ln()).exp();
        Self::by_recurrence(first, mean, |k, prev| {
            prev * (k - 1.0 + size) / k * (1.0 - p)
        })
    }

    /// Poisson with mean `mean`.
    pub fn poisson(mean: f64) -> Self {
        let mean = mean.max(MIN_MEAN);
        Self::by_recurrence((-mean).exp(), mean, |k, prev| prev * mean / k)
    }

    /// Equal mass on each of `values` (an ensemble).
    pub fn empirical(values: &[u32]) -> Self {
        let top = values.iter().copied().max().unwrap_or(0) as usize;
        let mut pmf = vec![0.0; top + 1];
        let weight = 1.0 / values.len().max(1) as f64;
        for value in values {
            pmf[*value as usize] += weight;
        }
        if values.is_empty() {
            pmf[0] = 1.0;
        }
        Self { pmf }
    }

    /// Walks the pmf from P(0) with `next(k, P(k-1))` until the remaining mass is below `TAIL`.
    /// Far tails of a huge mean start in underflow, so the walk goes past the mean before it
    /// may stop.
    fn by_recurrence(first: f64, mean: f64, next: impl Fn(f64, f64) -> f64) -> Self {
        if first == 0.0 {
            // exp underflowed: a mean so large the normal shape is exact enough.
            return Self::normal_shape(mean, mean.sqrt().max(1.0));
        }
        let mut pmf = vec![first];
        let mut total = first;
        let mut k = 1.0;
        while (1.0 - total > TAIL || k <= mean) && pmf.len() < 10_000_000 {
            let prev = pmf[pmf.len() - 1];
            let value = next(k, prev);
            pmf.push(value);
            total += value;
            k += 1.0;
        }
        Self { pmf }
    }

    /// A discretised normal, for means whose P(0) underflows.
    fn normal_shape(mean: f64, sd: f64) -> Self {
        let top = (mean + 12.0 * sd).ceil() as usize;
        let mut pmf: Vec<f64> = (0..=top)
            .map(|k| (-0.5 * ((k as f64 - mean) / sd).powi(2)).exp())
            .collect();
        let total: f64 = pmf.iter().sum();
        pmf.iter_mut().for_each(|p| *p /= total);
        Self { pmf }
    }

    /// P(Y <= k) for each k of the support, in order.
    pub fn cdf(&self) -> impl Iterator<Item = f64> + '_ {
        self.pmf.iter().scan(0.0, |acc, p| {
            *acc += p;
            Some(*acc)
        })
    }

    /// The smallest k with P(Y <= k) >= `level`.
    pub fn quantile(&self, level: f64) -> u64 {
        self.cdf()
            .position(|f| f >= level - 1e-12)
            .unwrap_or(self.pmf.len().saturating_sub(1)) as u64
    }

    /// The mean of the (truncated) distribution.
    pub fn mean(&self) -> f64 {
        self.pmf.iter().enumerate().map(|(k, p)| k as f64 * p).sum()
    }

    /// Length of the stored support.
    pub fn support_len(&self) -> usize {
        self.pmf.len()
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const COEFFS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series = COEFFS[1..]
        .iter()
        .enumerate()
        .fold(COEFFS[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// ln P(Y = y) under a negative binomial with mean `mean` and size `size`.
pub fn nb_log_pmf(y: u32, mean: f64, size: f64) -> f64 {
    let mean = mean.max(MIN_MEAN);
    let y = f64::from(y);
    ln_gamma(y + size) - ln_gamma(size) - ln_gamma(y + 1.0)
        + size * (size / (size + mean)).ln()
        + y * (mean / (size + mean)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut factorial = 1.0_f64;
        for n in 1..20 {
            assert!(
                (ln_gamma(f64::from(n)) - factorial.ln()).abs() < 1e-10,
                "n = {n}"
            );
            factorial *= f64::from(n);
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
    }

    #[test]
    fn pmfs_sum_to_one_and_keep_their_mean() {
        for (mean, size) in [(0.3, 1.0), (4.0, 2.5), (60.0, 8.0), (2_000.0, 30.0)] {
            let nb = Predictive::negative_binomial(mean, size);
            let total: f64 = nb.pmf.iter().sum();
            assert!((total - 1.0).abs() < 1e-8, "{mean} {size}: {total}");
            assert!((nb.mean() - mean).abs() / mean < 1e-6, "{mean} {size}");
            let recomputed = nb_log_pmf(3, mean, size).exp();
            assert!((nb.pmf.get(3).copied().unwrap_or(0.0) - recomputed).abs() < 1e-9);
        }
        let poisson = Predictive::poisson(1e6);
        assert!((poisson.mean() - 1e6).abs() < 1.0);
    }

    #[test]
    fn quantiles_of_an_ensemble() {
        let ensemble = Predictive::empirical(&[0, 1, 1, 2, 5]);
        assert_eq!(ensemble.quantile(0.2), 0);
        assert_eq!(ensemble.quantile(0.5), 1);
        assert_eq!(ensemble.quantile(0.9), 5);
    }
}
