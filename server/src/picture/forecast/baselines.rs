//! The naive references a forecast must beat, each with a predictive distribution so that
//! they are scored by the same rules as the model.

use super::distribution::Predictive;

/// Periods the mean baseline averages.
pub const MEAN_PERIODS: usize = 12;

/// A naive forecaster and the distribution put around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Poisson around the last period's count.
    PersistencePoisson,
    /// Poisson around the mean of the last 12 periods.
    MeanPoisson,
    /// The last 12 periods' counts as an equally weighted ensemble (a climatology).
    MeanEnsemble,
    /// Poisson around the count of the same season one cycle earlier.
    SeasonalNaivePoisson,
}

impl Baseline {
    pub const ALL: [Baseline; 4] = [
        Baseline::PersistencePoisson,
        Baseline::MeanPoisson,
        Baseline::MeanEnsemble,
        Baseline::SeasonalNaivePoisson,
    ];

    /// The three baselines issue 21's acceptance names (the ensemble is extra).
    pub const ISSUE: [Baseline; 3] = [
        Baseline::PersistencePoisson,
        Baseline::MeanPoisson,
        Baseline::SeasonalNaivePoisson,
    ];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::PersistencePoisson => "persistence (Poisson)",
            Baseline::MeanPoisson => "mean of last 12 (Poisson)",
            Baseline::MeanEnsemble => "last 12 as ensemble",
            Baseline::SeasonalNaivePoisson => "seasonal naive (Poisson)",
        }
    }

    /// The forecast `horizon` periods past the end of `history`, with `season` periods a
    /// cycle; `None` when the history is too short for it.
    pub fn predictive(self, history: &[u32], horizon: usize, season: usize) -> Option<Predictive> {
        let len = history.len();
        let recent = history.get(len.checked_sub(MEAN_PERIODS)?..)?;
        match self {
            Baseline::PersistencePoisson => Some(Predictive::poisson(f64::from(*history.last()?))),
            Baseline::MeanPoisson => {
                let sum: u64 = recent.iter().map(|v| u64::from(*v)).sum();
                Some(Predictive::poisson(sum as f64 / MEAN_PERIODS as f64))
            }
            Baseline::MeanEnsemble => Some(Predictive::empirical(recent)),
            Baseline::SeasonalNaivePoisson => {
                // The last observed period of the target's season.
                let back = season.checked_sub((horizon.checked_sub(1)?) % season.max(1))?;
                let value = history.get(len.checked_sub(back)?)?;
                Some(Predictive::poisson(f64::from(*value)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_naive_reads_the_same_season_last_cycle() {
        // Quarters Q1..Q4 of one year = 1, 2, 3, 4; then Q1 = 9.
        let history = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 9];
        let mean_of = |h| {
            Baseline::SeasonalNaivePoisson
                .predictive(&history, h, 4)
                .map(|p| p.mean().round())
        };
        // Next period is Q2: last Q2 was 2; four ahead is Q1: 9.
        assert_eq!(mean_of(1), Some(2.0));
        assert_eq!(mean_of(4), Some(9.0));
        let persistence = Baseline::PersistencePoisson.predictive(&history, 3, 4);
        assert_eq!(persistence.map(|p| p.mean().round()), Some(9.0));
    }
}
