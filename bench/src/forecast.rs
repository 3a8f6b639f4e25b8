//! The forecast scenario: issue 21's backtest on the AWSD file (the table of BENCHMARKS.md),
//! then the model's cost for one country x quarter forecast when the hub holds N incidents.

use std::path::Path;
use std::time::{Duration, Instant};

use slt_hub::domain::Granularity;
use slt_hub::picture::forecast::scores::SERVED_LEVELS;
use slt_hub::picture::forecast::study::{Study, markdown};
use slt_hub::picture::forecast::{Fit, Panel, QUARTERLY, panel::awsd_events};

/// Horizons a served forecast fits (the API's maximum).
const MAX_HORIZON: usize = 12;

pub fn forecast_scenario(
    csv: &Path,
    incidents: u64,
    calls: usize,
    country: &str,
) -> anyhow::Result<()> {
    let (events, skipped) = awsd_events(std::fs::File::open(csv)?)?;
    let panel = Panel::from_events(&events, Granularity::Quarter);
    println!(
        "backtest: {} incidents ({skipped} rows left out), origins 2012-2021",
        events.len()
    );
    let started = Instant::now();
    let table = Study::acceptance(QUARTERLY).run(&panel);
    println!("{}", markdown(&table));
    println!("backtest took {:.2} s\n", started.elapsed().as_secs_f64());

    let scaled = scale(&panel, incidents, events.len() as u64);
    let total: u64 = scaled.series.iter().flatten().map(|v| u64::from(*v)).sum();
    let target = scaled
        .areas
        .iter()
        .position(|a| a == country)
        .ok_or_else(|| anyhow::anyhow!("no area {country}"))?;
    let mut times = Vec::with_capacity(calls);
    let mut last = String::new();
    for _ in 0..calls {
        let started = Instant::now();
        let histories: Vec<&[u32]> = scaled.series.iter().map(Vec::as_slice).collect();
        let fit = Fit::new(&histories, MAX_HORIZON, QUARTERLY);
        let mut quantiles = Vec::new();
        for horizon in 1..=MAX_HORIZON {
            let predictive = fit
                .predictive(target, horizon)
                .ok_or_else(|| anyhow::anyhow!("no forecast"))?;
            quantiles.push(SERVED_LEVELS.map(|level| predictive.quantile(level)));
        }
        times.push(started.elapsed());
        last = format!("{:?}", quantiles[0]);
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "forecast {country} x quarter, h = 1..{MAX_HORIZON}, fit over {} areas holding {total} \
         incidents: p50 {:.1} ms, p95 {:.1} ms over {calls} calls (h = 1 quantiles {last})",
        scaled.areas.len(),
        ms(at(0.5)),
        ms(at(0.95)),
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// The panel with every count multiplied so that it holds about `incidents` incidents (the
/// AWSD replicated, as the picture bench does, keeping each area's shape).
fn scale(panel: &Panel, incidents: u64, held: u64) -> Panel {
    let factor = u32::try_from(incidents.div_ceil(held.max(1))).unwrap_or(u32::MAX);
    let mut scaled = panel.clone();
    for value in scaled.series.iter_mut().flatten() {
        *value = value.saturating_mul(factor);
    }
    scaled
}
