//! The forecast in the report: the 80% band per group for the trend chart, and the "expected
//! vs observed" section that names the areas already above their forecast's 80% band.
//!
//! The hub forecasts from the last complete period, so the one period both observed and
//! forecast is the current, incomplete one (horizon 1). Its count can only grow until the
//! period ends, so a count already above the upper bound of the 80% band is above it for good.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use slt_proto::v1 as pb;

use super::{area_name, escape, known, short};

/// One group's forecast summed over its areas, per forecast period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Band {
    pub(super) periods: Vec<String>,
    pub(super) lower: Vec<u64>,
    pub(super) median: Vec<u64>,
    pub(super) upper: Vec<u64>,
}

/// The band per group, for groups whose every area is forecast (a group with a withheld area
/// has no band: its sum would hide what the picture suppresses). The bounds are sums of the
/// areas' 80% bounds, wider than the 80% band of the sum; the median line is the sum of the
/// medians.
pub(super) fn group_bands(forecast: &pb::GetForecastResponse) -> BTreeMap<String, Band> {
    let mut sums: BTreeMap<String, Option<Band>> = BTreeMap::new();
    for row in &forecast.rows {
        let series = row.incidents.as_ref().filter(|s| !s.withheld);
        let entry = sums.entry(row.group.clone()).or_insert_with(|| {
            Some(Band {
                periods: forecast.periods.clone(),
                lower: vec![0; forecast.periods.len()],
                median: vec![0; forecast.periods.len()],
                upper: vec![0; forecast.periods.len()],
            })
        });
        let (Some(band), Some(series)) = (entry.as_mut(), series) else {
            *entry = None;
            continue;
        };
        for q in &series.quantiles {
            let Some(i) = (q.horizon as usize).checked_sub(1) else {
                continue;
            };
            if i < band.periods.len() {
                band.lower[i] += q.lower_80;
                band.median[i] += q.median;
                band.upper[i] += q.upper_80;
            }
        }
    }
    sums.into_iter()
        .filter_map(|(group, band)| band.map(|b| (group, b)))
        .collect()
}

/// How an observed count stands against its forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Above,
    Within,
    /// Below the lower bound so far; the period is not over, so not a finding.
    BelowSoFar,
}

/// One (area, group) whose picture covers a forecast period.
struct Comparison<'a> {
    area: String,
    group: &'a str,
    period: &'a str,
    observed: u64,
    quantiles: &'a pb::ForecastQuantiles,
    standing: Standing,
}

fn comparisons<'a>(
    picture: &'a pb::GetThreatPictureResponse,
    forecast: &'a pb::GetForecastResponse,
) -> Vec<Comparison<'a>> {
    let mut out = Vec::new();
    for row in &forecast.rows {
        let Some(series) = row.incidents.as_ref().filter(|s| !s.withheld) else {
            continue;
        };
        let observed_row = picture
            .rows
            .iter()
            .find(|r| r.country == row.country && r.admin1 == row.admin1 && r.group == row.group);
        let Some(observed_row) = observed_row else {
            continue;
        };
        for q in &series.quantiles {
            let Some(column) = picture.periods.iter().position(|p| *p == q.period) else {
                continue;
            };
            // A suppressed count is not compared: "above" would disclose a bound on it.
            let Some(observed) = observed_row
                .cells
                .get(column)
                .and_then(|c| known(&c.incidents))
            else {
                continue;
            };
            let standing = if observed > q.upper_80 {
                Standing::Above
            } else if observed < q.lower_80 {
                Standing::BelowSoFar
            } else {
                Standing::Within
            };
            out.push(Comparison {
                area: area_name(&row.country, &row.admin1),
                group: &row.group,
                period: &q.period,
                observed,
                quantiles: q,
                standing,
            });
        }
    }
    out
}

/// The names of the areas (with their group) running above their forecast's 80% band.
pub(super) fn areas_above(
    picture: &pb::GetThreatPictureResponse,
    forecast: &pb::GetForecastResponse,
) -> Vec<String> {
    comparisons(picture, forecast)
        .into_iter()
        .filter(|c| c.standing == Standing::Above)
        .map(|c| format!("{} ({})", c.area, short(c.group, "")))
        .collect()
}

/// The "expected vs observed" section.
pub(super) fn expected_vs_observed_section(
    html: &mut String,
    picture: &pb::GetThreatPictureResponse,
    forecast: &pb::GetForecastResponse,
) {
    html.push_str("<h2>Expected vs observed</h2>");
    let rows = comparisons(picture, forecast);
    if rows.is_empty() {
        html.push_str(
            "<p class=\"note\">No forecast period is inside this picture's dates: the hub \
             forecasts from the last complete period, so the picture must run to today to be \
             compared with the current period's forecast.</p>",
        );
        return;
    }
    let above = areas_above(picture, forecast);
    if above.is_empty() {
        html.push_str("<p>No area is running above its forecast's 80% band.</p>");
    } else {
        let names: Vec<String> = above.iter().map(|a| escape(a)).collect();
        let _ = write!(
            html,
            "<p><strong>Running above their forecast's 80% band:</strong> {}.</p>",
            names.join(", ")
        );
    }
    html.push_str(
        "<p class=\"note\">The current period is not over: its count so far is compared with \
         the forecast of the whole period, so \"above\" is final and \"below\" is not.</p>\
         <table><tr><th class=\"l\">area</th><th class=\"l\">group</th><th>period</th>\
         <th>observed so far</th><th>expected (median)</th><th>80% band</th>\
         <th class=\"l\">standing</th></tr>",
    );
    for c in &rows {
        let (class, standing) = match c.standing {
            Standing::Above => (" class=\"hot\"", "above the band"),
            Standing::Within => ("", "within"),
            Standing::BelowSoFar => ("", "below so far"),
        };
        let _ = write!(
            html,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td{class}>{}</td>\
             <td>{}</td><td>{}&ndash;{}</td><td class=\"l\">{standing}</td></tr>",
            escape(&c.area),
            escape(&short(c.group, "")),
            escape(c.period),
            c.observed,
            c.quantiles.median,
            c.quantiles.lower_80,
            c.quantiles.upper_80,
        );
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantiles(
        horizon: u32,
        period: &str,
        lower: u64,
        median: u64,
        upper: u64,
    ) -> pb::ForecastQuantiles {
        pb::ForecastQuantiles {
            horizon,
            period: period.into(),
            median,
            lower_80: lower,
            upper_80: upper,
            ..Default::default()
        }
    }

    fn forecast_row(country: &str, series: Option<Vec<pb::ForecastQuantiles>>) -> pb::ForecastRow {
        pb::ForecastRow {
            country: country.into(),
            group: "ALL".into(),
            incidents: Some(pb::SeriesForecast {
                withheld: series.is_none(),
                quantiles: series.unwrap_or_default(),
            }),
            ..Default::default()
        }
    }

    fn picture_row(country: &str, counts: &[Option<u64>]) -> pb::PictureRow {
        pb::PictureRow {
            country: country.into(),
            group: "ALL".into(),
            cells: counts
                .iter()
                .map(|c| pb::PictureCell {
                    incidents: Some(pb::PublishedCount {
                        value: c.unwrap_or(0),
                        suppressed: c.is_none(),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn fixture() -> (pb::GetThreatPictureResponse, pb::GetForecastResponse) {
        let periods = ["2024-Q3", "2024-Q4"].map(String::from).to_vec();
        let picture = pb::GetThreatPictureResponse {
            periods: periods.clone(),
            rows: vec![
                picture_row("MLI", &[Some(5), Some(12)]),
                picture_row("NER", &[Some(5), Some(4)]),
                picture_row("BFA", &[Some(5), None]),
                picture_row("TCD", &[Some(5), Some(30)]),
            ],
            ..Default::default()
        };
        let q4 = |lower, median, upper| Some(vec![quantiles(1, "2024-Q4", lower, median, upper)]);
        let forecast = pb::GetForecastResponse {
            periods: vec!["2024-Q4".into()],
            rows: vec![
                forecast_row("MLI", q4(2, 5, 9)),
                forecast_row("NER", q4(2, 5, 9)),
                forecast_row("BFA", q4(2, 5, 9)),
                forecast_row("TCD", None),
            ],
            ..Default::default()
        };
        (picture, forecast)
    }

    #[test]
    fn names_exactly_the_areas_above_their_band() {
        let (picture, forecast) = fixture();
        // MLI 12 > 9; NER within; BFA's count is suppressed, TCD's forecast withheld: neither
        // is judged.
        assert_eq!(
            areas_above(&picture, &forecast),
            vec!["MLI (ALL)".to_string()]
        );
        let mut html = String::new();
        expected_vs_observed_section(&mut html, &picture, &forecast);
        assert!(html.contains("Running above their forecast's 80% band:</strong> MLI (ALL)."));
        assert!(!html.contains("BFA") && !html.contains("TCD"), "{html}");
    }

    #[test]
    fn the_report_draws_the_band_past_the_picture_and_the_expected_vs_observed_view() {
        let (picture, mut forecast) = fixture();
        forecast.rows.pop();
        for row in &mut forecast.rows {
            if let Some(series) = row.incidents.as_mut() {
                series.quantiles.push(quantiles(2, "2025-Q1", 1, 5, 10));
            }
        }
        forecast.periods.push("2025-Q1".into());
        let html = super::super::report_html(&picture, Some(&forecast), "t", "now");
        assert!(html.contains("ALL forecast, 80% band"), "the band is drawn");
        assert!(html.contains("2025-Q1: median 15, 80% band 3-30"), "{html}");
        assert!(
            html.contains(">2025-Q1</text>"),
            "the axis runs past the picture"
        );
        assert!(html.contains("<h2>Expected vs observed</h2>"));
        let without = super::super::report_html(&picture, None, "t", "now");
        assert!(!without.contains("80% band") && !without.contains("Expected vs observed"));
    }

    #[test]
    fn a_group_with_a_withheld_area_has_no_band() {
        let (_, mut forecast) = fixture();
        assert!(group_bands(&forecast).is_empty(), "TCD is withheld");
        forecast.rows.pop();
        let bands = group_bands(&forecast);
        let band = bands.get("ALL").expect("band");
        assert_eq!((band.lower[0], band.median[0], band.upper[0]), (6, 15, 27));
    }
}
