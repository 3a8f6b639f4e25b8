//! The evaluation as one function, so that the CLI, the skill test and the bench run
//! the same thing: country x quarter, the 20 areas with most incidents, rolling origins over a
//! span of years, horizons 1 and 4; and the table it prints.

use std::fmt::Write;

use super::backtest::{BacktestSpec, BacktestTable, run};
use super::model::ModelParams;
use super::panel::Panel;
use crate::domain::Granularity;
use crate::picture::periods::period_of;

/// One rolling-origin study over a panel.
#[derive(Debug, Clone)]
pub struct Study {
    /// First and last year whose periods are forecast origins.
    pub years: (i32, i32),
    pub horizons: Vec<usize>,
    /// How many of the largest series are scored.
    pub areas: usize,
    pub params: ModelParams,
}

impl Study {
    /// The acceptance study of issue 21: origins 2012-2021, horizons 1 and 4, top 20 areas.
    pub fn acceptance(params: ModelParams) -> Self {
        Self {
            years: (2012, 2021),
            horizons: vec![1, 4],
            areas: 20,
            params,
        }
    }

    /// The study the hyper-parameters were chosen on: origins 2004-2011, before any test origin.
    pub fn tuning(params: ModelParams) -> Self {
        Self {
            years: (2004, 2011),
            ..Self::acceptance(params)
        }
    }

    /// Runs it on `panel`; origins past the panel's end are dropped, outcomes past it unscored.
    pub fn run(&self, panel: &Panel) -> BacktestTable {
        let bound = |year: i32| {
            let date = time::Date::from_calendar_date(year, time::Month::January, 1).ok();
            date.map_or(0, |d| period_of(panel.granularity, d) - panel.first_period)
        };
        let clamp = |p: i64| usize::try_from(p.max(0)).unwrap_or(0).min(panel.len());
        let origins = clamp(bound(self.years.0))..clamp(bound(self.years.1 + 1));
        let spec = BacktestSpec {
            origins,
            horizons: self.horizons.clone(),
            targets: panel.largest(self.areas),
            season: season(panel.granularity),
            params: self.params,
        };
        run(&panel.series, &spec)
    }
}

/// Periods in a year.
pub fn season(granularity: Granularity) -> usize {
    match granularity {
        Granularity::Week => 52,
        Granularity::Month => 12,
        Granularity::Quarter => 4,
        Granularity::Year => 1,
    }
}

/// The table as Markdown, with the model's skill against the best baseline per horizon.
pub fn markdown(table: &BacktestTable) -> String {
    let mut out = String::from(
        "| h | method | forecasts | CRPS | pinball (7 quantiles) | MAE of median | 80% coverage |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in &table.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.1}% |",
            row.horizon,
            row.method,
            row.forecasts,
            row.crps,
            row.pinball,
            row.mae_median,
            row.coverage80 * 100.0
        );
    }
    let mut horizons: Vec<usize> = table.rows.iter().map(|r| r.horizon).collect();
    horizons.dedup();
    for horizon in horizons {
        if let (Some(skill), Some(best)) = (table.skill(horizon), table.best_baseline(horizon)) {
            let _ = writeln!(
                out,
                "\nh = {horizon}: CRPS skill against the best of the issue's three baselines ({}): \
                 {:+.1}%",
                best.method,
                skill * 100.0
            );
        }
        if let (Some(skill), Some(best)) = (
            table.skill_against_all(horizon),
            table.best_of_all_baselines(horizon),
        ) {
            let _ = writeln!(
                out,
                "h = {horizon}: CRPS skill against the best of every baseline ({}): {:+.1}%",
                best.method,
                skill * 100.0
            );
        }
    }
    out
}
