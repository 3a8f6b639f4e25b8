//! Forecasts of incident counts: a negative-binomial model over period counts, the naive
//! baselines it must beat, proper scores and the rolling-origin backtest
//! ([docs/forecast.md](../../../../docs/forecast.md)). Pure computation over count series; the
//! only reader is `panel::awsd_events`, over any `Read` its caller opens.

pub mod backtest;
pub mod baselines;
pub mod distribution;
pub mod model;
pub mod panel;
pub mod published;
pub mod scores;
pub mod serve;
pub mod study;

pub use backtest::{BacktestSpec, BacktestTable, ScoreRow};
pub use distribution::Predictive;
pub use model::{Dispersion, Fit, ModelParams, QUARTERLY};
pub use panel::{Event, Panel, PanelError};
