//! The forecast's measured skill on the real AWSD 1997-2021 data (issue 21's acceptance
//! study): country x quarter, the 20 countries with most incidents, rolling origins 2012-2021,
//! horizons 1 and 4. Fails when the model stops beating every naive baseline (the issue's
//! three and the last-12 ensemble) or its 80% intervals stop covering 70-90% of what happened.

use std::fs::File;
use std::path::PathBuf;

use slt_hub::domain::Granularity;
use slt_hub::picture::forecast::study::{Study, markdown};
use slt_hub::picture::forecast::{BacktestTable, Panel, QUARTERLY, panel::awsd_events};

fn awsd_panel() -> Panel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/awsd/security_incidents_1997_2021.csv");
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (events, skipped) = awsd_events(file).expect("the AWSD CSV reads");
    // 3,409 rows; 48 lack a month and 32 a country (some both).
    assert!(
        events.len() > 3_300 && skipped < 100,
        "{} {skipped}",
        events.len()
    );
    Panel::from_events(&events, Granularity::Quarter)
}

fn acceptance() -> BacktestTable {
    let table = Study::acceptance(QUARTERLY).run(&awsd_panel());
    println!("{}", markdown(&table));
    table
}

#[test]
fn the_model_beats_every_baseline_and_its_80_percent_intervals_are_calibrated() {
    let table = acceptance();
    for horizon in [1, 4] {
        let model = table.model(horizon).expect("model row");
        // 40 quarterly origins x 20 countries at h = 1, 37 at h = 4.
        let expected = if horizon == 1 { 800 } else { 740 };
        assert_eq!(model.forecasts, expected, "h = {horizon}");
        let skill = table.skill_against_all(horizon).expect("skill");
        assert!(skill > 0.0, "h = {horizon}: CRPS skill {skill:.3} <= 0");
        let coverage = model.coverage80;
        assert!(
            (0.70..=0.90).contains(&coverage),
            "h = {horizon}: 80% interval covers {coverage:.3}"
        );
    }
}

#[test]
fn the_served_quantiles_beat_every_baseline_on_pinball_loss() {
    let table = acceptance();
    for horizon in [1, 4] {
        let model = table.model(horizon).expect("model row").pinball;
        for row in table.rows.iter().filter(|r| r.horizon == horizon) {
            assert!(
                model <= row.pinball,
                "h = {horizon}: model pinball {model:.3} > {} {:.3}",
                row.method,
                row.pinball
            );
        }
    }
}

/// The margin the local-level model measured on these origins (+9.6% at h = 1, +7.5% at h = 4
/// against the issue's three baselines), less a little: a guard against a change that loses
/// the skill, not the acceptance (below).
#[test]
fn the_model_keeps_a_five_percent_margin_over_the_issues_baselines() {
    let table = acceptance();
    for horizon in [1, 4] {
        let skill = table.skill(horizon).expect("skill");
        assert!(skill >= 0.05, "h = {horizon}: CRPS skill {skill:.3} < 0.05");
    }
}

/// Issue 21's acceptance: "CRPS (or pinball loss) at least 10% better than the best of the
/// three baselines". Met on the pinball loss over the quantiles the hub serves (measured
/// +12.4% at h = 1 and h = 4); the CRPS margin is +9.6% / +7.5% (docs/forecast.md).
#[test]
fn the_served_quantiles_are_at_least_ten_percent_better_than_the_best_baseline() {
    let table = acceptance();
    for horizon in [1, 4] {
        let skill = table.pinball_skill(horizon).expect("skill");
        assert!(
            skill >= 0.10,
            "h = {horizon}: pinball skill {skill:.3} < 0.10"
        );
    }
}

/// The same margin on CRPS, which the model does not reach yet: run with `--ignored` to see
/// where it stands.
#[test]
#[ignore = "the 10% margin on CRPS is not met (measured +9.6% at h = 1, +7.5% at h = 4); the acceptance holds on pinball loss"]
fn the_model_is_at_least_ten_percent_better_than_the_best_baseline_on_crps() {
    let table = acceptance();
    for horizon in [1, 4] {
        let skill = table.skill(horizon).expect("skill");
        assert!(skill >= 0.10, "h = {horizon}: CRPS skill {skill:.3} < 0.10");
    }
}
