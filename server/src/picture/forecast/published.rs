//! Forecasts from published numbers only: the disclosure rule of a served forecast. A series
//! with any suppressed period is withheld (NOT_ASSESSED), and only fully published series enter
//! the fit, so neither a forecast nor the pooled dispersion behind the others can carry a
//! number the caller's picture withholds.

use super::model::{Fit, ModelParams};
use super::scores::SERVED_LEVELS;
use crate::policy::aggregate::Published;

/// The served quantiles of one horizon, at `SERVED_LEVELS` (2.5 .. 97.5%).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantiles {
    pub horizon: usize,
    pub values: [u64; SERVED_LEVELS.len()],
}

impl Quantiles {
    pub fn median(&self) -> u64 {
        self.values[3]
    }
}

/// One series' forecast, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesForecast {
    Forecast(Vec<Quantiles>),
    /// Some period of the history is suppressed for this caller.
    Withheld,
}

/// Forecasts 1..=`horizons` for each of `rows` (published counts by period, oldest first).
pub fn forecast_published(
    rows: &[Vec<Published>],
    horizons: usize,
    params: ModelParams,
) -> Vec<SeriesForecast> {
    let exact: Vec<Option<Vec<u32>>> = rows.iter().map(|row| exact_series(row)).collect();
    let usable: Vec<(usize, &[u32])> = exact
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_deref().map(|s| (i, s)))
        .collect();
    let histories: Vec<&[u32]> = usable.iter().map(|(_, s)| *s).collect();
    let fit = Fit::new(&histories, horizons, params);
    let mut out = vec![SeriesForecast::Withheld; rows.len()];
    for (fitted, (row, _)) in usable.iter().enumerate() {
        let quantiles: Option<Vec<Quantiles>> = (1..=horizons)
            .map(|horizon| {
                let predictive = fit.predictive(fitted, horizon)?;
                Some(Quantiles {
                    horizon,
                    values: SERVED_LEVELS.map(|level| predictive.quantile(level)),
                })
            })
            .collect();
        if let Some(quantiles) = quantiles {
            out[*row] = SeriesForecast::Forecast(quantiles);
        }
    }
    out
}

/// The counts of a row when every period is published (and fits a u32).
fn exact_series(row: &[Published]) -> Option<Vec<u32>> {
    row.iter()
        .map(|cell| cell.value().and_then(|v| u32::try_from(v).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::forecast::QUARTERLY;
    use crate::policy::Tier;
    use crate::policy::aggregate::{CountGrid, DEFAULT_K, aggregate};

    fn published(counts: &[u64]) -> Vec<Published> {
        counts.iter().map(|c| Published::Exact(*c)).collect()
    }

    #[test]
    fn a_suppressed_period_withholds_the_forecast_and_leaves_the_others_unchanged() {
        let steady = published(&[6, 5, 7, 6, 5, 8, 6, 7, 5, 6, 7, 6, 5, 6, 7, 8, 6, 5, 6, 7]);
        let mut hidden = published(&[9; 20]);
        hidden[7] = Published::Suppressed;
        let with = forecast_published(&[steady.clone(), hidden], 4, QUARTERLY);
        assert_eq!(with[1], SeriesForecast::Withheld);
        // The suppressed row's other numbers do not reach the steady row's forecast either.
        let without = forecast_published(&[steady], 4, QUARTERLY);
        assert_eq!(with[0], without[0]);
        let SeriesForecast::Forecast(quantiles) = &with[0] else {
            panic!("the steady row is forecast");
        };
        assert_eq!(quantiles.len(), 4);
        assert!(quantiles[0].values.windows(2).all(|w| w[0] <= w[1]));
        assert!((4..=8).contains(&quantiles[0].median()));
    }

    /// Three areas over 16 quarters; area b has one small count (`hidden`) in quarter 9.
    fn t1_forecast(hidden: u64, tier: Tier) -> Vec<SeriesForecast> {
        let a: Vec<u64> = (0..16).map(|q| 20 + q % 3).collect();
        let mut b: Vec<u64> = (0..16).map(|q| 12 + q % 4).collect();
        b[9] = hidden;
        let c: Vec<u64> = (0..16).map(|q| 30 + q % 5).collect();
        let grid = CountGrid::new(
            vec!["a".into(), "b".into(), "c".into()],
            (0..16).map(|q| format!("q{q}")).collect(),
            vec![a, b, c],
        )
        .expect("valid grid");
        let table = aggregate(&grid, tier, DEFAULT_K);
        forecast_published(table.cells(), 4, QUARTERLY)
    }

    #[test]
    fn a_t1_forecast_is_the_same_whatever_its_picture_suppresses() {
        let reference = t1_forecast(1, Tier::T1);
        assert_eq!(reference[1], SeriesForecast::Withheld);
        // Secondary suppression withholds one more area; the third is still forecast, so the
        // equality below compares real forecasts, not only withheld ones.
        let forecast = |f: &SeriesForecast| matches!(f, SeriesForecast::Forecast(_));
        assert!(reference.iter().any(forecast), "{reference:?}");
        for hidden in 2..DEFAULT_K {
            assert_eq!(
                t1_forecast(hidden, Tier::T1),
                reference,
                "hidden = {hidden}"
            );
        }
        // At T2 the same counts are exact, and the forecast uses them.
        assert!(matches!(
            t1_forecast(1, Tier::T2)[1],
            SeriesForecast::Forecast(_)
        ));
    }
}
