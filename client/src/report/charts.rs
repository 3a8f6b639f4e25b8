//! The report's inline SVG charts: the trend lines per group and the stacked victim bars. Sums
//! use published numbers only; a suppressed part leaves a gap or is said to be missing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use slt_proto::v1 as pb;

use super::forecast::Band;
use super::{escape, known, short};

const PALETTE: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Sums a series of optional numbers per period; `None` where a part is suppressed.
fn add_series(into: &mut [Option<u64>], from: impl Iterator<Item = Option<u64>>) {
    for (slot, value) in into.iter_mut().zip(from) {
        *slot = match (*slot, value) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
}

/// Incidents per period and group, summed over the areas (`None` where a part is suppressed),
/// and whether the group's cell was elevated in any area.
type Series<'a> = BTreeMap<&'a str, Vec<Option<u64>>>;
type Elevated<'a> = BTreeMap<&'a str, Vec<bool>>;

fn trend_series(picture: &pb::GetThreatPictureResponse) -> (Series<'_>, Elevated<'_>) {
    let periods = picture.periods.len();
    let mut series: Series<'_> = BTreeMap::new();
    let mut elevated: Elevated<'_> = BTreeMap::new();
    for row in &picture.rows {
        let line = series
            .entry(row.group.as_str())
            .or_insert_with(|| vec![Some(0); periods]);
        add_series(line, row.cells.iter().map(|cell| known(&cell.incidents)));
        let flags = elevated
            .entry(row.group.as_str())
            .or_insert_with(|| vec![false; periods]);
        for (flag, cell) in flags.iter_mut().zip(&row.cells) {
            *flag |= cell.alert == pb::Alert::Elevated as i32;
        }
    }
    (series, elevated)
}

/// The trend chart's plot area (inside the margins) and its value scale.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    max: f64,
    periods: usize,
}

impl Plot {
    fn x(&self, i: usize) -> f64 {
        self.left
            + if self.periods > 1 {
                self.width * i as f64 / (self.periods - 1) as f64
            } else {
                self.width / 2.0
            }
    }

    fn y(&self, v: u64) -> f64 {
        self.top + self.height - self.height * v as f64 / self.max
    }
}

/// A line chart of one series per group over the periods; elevated points ringed in red. With
/// `bands`, each group's forecast follows as a shaded 80% band and a dashed median, over the
/// forecast periods (appended to the axis where the picture ends before them).
pub(super) fn trend_chart(
    picture: &pb::GetThreatPictureResponse,
    bands: &BTreeMap<String, Band>,
) -> String {
    let mut labels = picture.periods.clone();
    for band in bands.values() {
        for period in &band.periods {
            if !labels.contains(period) {
                labels.push(period.clone());
            }
        }
    }
    let periods = labels.len();
    let (series, elevated) = trend_series(picture);
    let (width, height, left, bottom, top, right) = (1100.0, 320.0, 50.0, 40.0, 15.0, 170.0);
    let band_max = bands.values().flat_map(|b| b.upper.iter()).copied();
    let max = series
        .values()
        .flat_map(|line| line.iter().flatten())
        .copied()
        .chain(band_max)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot = Plot {
        left,
        top,
        width: width - left - right,
        height: height - top - bottom,
        max,
        periods,
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" \
         aria-label=\"Incidents per period by group\">"
    );
    trend_axes(&mut svg, &plot, &labels, height - bottom + 18.0);
    for (index, group) in series.keys().enumerate() {
        if let Some(band) = bands.get(*group) {
            forecast_band(&mut svg, &plot, index, group, band, &labels);
        }
    }
    for (index, (group, line)) in series.iter().enumerate() {
        let flags = elevated.get(group).map(Vec::as_slice);
        trend_line(&mut svg, &plot, index, group, line, flags, &labels);
    }
    svg.push_str("</svg>");
    svg
}

/// A group's forecast: the 80% band shaded in the group's colour, the median dashed.
fn forecast_band(
    svg: &mut String,
    plot: &Plot,
    index: usize,
    group: &str,
    band: &Band,
    labels: &[String],
) {
    let colour = PALETTE[index % PALETTE.len()];
    let points: Vec<(f64, usize)> = band
        .periods
        .iter()
        .enumerate()
        .filter_map(|(i, period)| Some((plot.x(labels.iter().position(|l| l == period)?), i)))
        .collect();
    let at = |values: &[u64], (x, i): (f64, usize)| format!("{x:.1},{:.1}", plot.y(values[i]));
    let upper: Vec<String> = points.iter().map(|p| at(&band.upper, *p)).collect();
    let lower: Vec<String> = points.iter().rev().map(|p| at(&band.lower, *p)).collect();
    let median: Vec<String> = points.iter().map(|p| at(&band.median, *p)).collect();
    let title = format!("{} forecast, 80% band", short(group, ""));
    let _ = write!(
        svg,
        "<polygon fill=\"{colour}\" fill-opacity=\"0.18\" stroke=\"none\" points=\"{} {}\">\
         <title>{}</title></polygon>\
         <polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" \
         stroke-dasharray=\"5,4\" points=\"{}\"/>",
        upper.join(" "),
        lower.join(" "),
        escape(&title),
        median.join(" ")
    );
    for (x, i) in &points {
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{colour}\">\
             <title>{} {}: median {}, 80% band {}-{}</title></circle>",
            plot.y(band.median[*i]),
            escape(&short(group, "")),
            escape(&band.periods[*i]),
            band.median[*i],
            band.lower[*i],
            band.upper[*i]
        );
    }
}

/// The horizontal grid with its values, and the period labels (at most about 12) at `label_y`.
fn trend_axes(svg: &mut String, plot: &Plot, labels: &[String], label_y: f64) {
    let left = plot.left;
    for step in 0..=4 {
        let value = (plot.max * f64::from(step) / 4.0).round() as u64;
        let yy = plot.y(value);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{value}</text>",
            left + plot.width,
            left - 6.0,
            yy + 4.0
        );
    }
    let periods = plot.periods;
    let label_every = periods.div_ceil(12).max(1);
    for (i, label) in labels.iter().enumerate() {
        if i % label_every == 0 || i + 1 == periods {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                plot.x(i),
                label_y,
                escape(label)
            );
        }
    }
}

/// One group's line: a polyline per run of published points, its points (elevated ones ringed
/// in red), and its legend entry.
fn trend_line(
    svg: &mut String,
    plot: &Plot,
    index: usize,
    group: &str,
    line: &[Option<u64>],
    elevated: Option<&[bool]>,
    labels: &[String],
) {
    let colour = PALETTE[index % PALETTE.len()];
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, svg: &mut String| {
        if run.len() > 1 {
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, value) in line.iter().enumerate() {
        match value {
            Some(v) => run.push(format!("{:.1},{:.1}", plot.x(i), plot.y(*v))),
            None => flush(&mut run, svg),
        }
    }
    flush(&mut run, svg);
    for (i, value) in line.iter().enumerate() {
        let Some(v) = value else { continue };
        let hot = elevated.is_some_and(|flags| flags[i]);
        if hot {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"6\" fill=\"none\" stroke=\"#d00\" \
                 stroke-width=\"2.5\"><title>{} {}: {v} (elevated)</title></circle>",
                plot.x(i),
                plot.y(*v),
                escape(group),
                escape(&labels[i])
            );
        } else if plot.periods <= 60 {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\"/>",
                plot.x(i),
                plot.y(*v)
            );
        }
    }
    let ly = plot.top + 16.0 * index as f64 + 8.0;
    let _ = write!(
        svg,
        "<rect x=\"{}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{colour}\"/>\
         <text x=\"{}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
        plot.left + plot.width + 15.0,
        ly - 4.0,
        plot.left + plot.width + 32.0,
        ly + 1.0,
        escape(&short(group, ""))
    );
}

/// One bar: its label and its parts (a part is `None` when suppressed).
pub(super) type Bar = (String, Vec<(String, Option<u64>)>);

/// Horizontal stacked bars: one bar per label, segments per part, from published numbers.
pub(super) fn stacked_bars(title: &str, bars: &[Bar]) -> String {
    let max = bars
        .iter()
        .map(|(_, parts)| parts.iter().filter_map(|(_, v)| *v).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (left, bar_w, row_h) = (180.0, 600.0, 26.0);
    let height = row_h * bars.len() as f64 + 40.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 900 {height}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        escape(title)
    );
    let mut legend: Vec<String> = Vec::new();
    for (row, (label, parts)) in bars.iter().enumerate() {
        let yy = 10.0 + row_h * row as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            yy + 14.0,
            escape(label)
        );
        let mut offset = left;
        let mut hidden = false;
        for (index, (part, value)) in parts.iter().enumerate() {
            if !legend.contains(part) {
                legend.push(part.clone());
            }
            let Some(value) = value else {
                hidden = true;
                continue;
            };
            let w = bar_w * *value as f64 / max;
            let _ = write!(
                svg,
                "<rect x=\"{offset:.1}\" y=\"{yy:.1}\" width=\"{w:.1}\" height=\"18\" \
                 fill=\"{}\"><title>{}: {value}</title></rect>",
                PALETTE[index % PALETTE.len()],
                escape(part)
            );
            offset += w;
        }
        let total: u64 = parts.iter().filter_map(|(_, v)| *v).sum();
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{total}{}</text>",
            offset + 6.0,
            yy + 14.0,
            if hidden { " (+ x suppressed)" } else { "" }
        );
    }
    let ly = 10.0 + row_h * bars.len() as f64 + 10.0;
    let mut lx = left;
    for (index, part) in legend.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"{ly:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            PALETTE[index % PALETTE.len()],
            lx + 16.0,
            ly + 10.0,
            escape(part)
        );
        lx += 30.0 + 8.0 * part.len() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// Victims over the window per outcome, split by `part` of each cell (staff category or sex).
pub(super) fn victim_bars(
    picture: &pb::GetThreatPictureResponse,
    parts_of: impl Fn(&pb::PictureCell) -> Vec<(String, Option<u64>)>,
) -> Vec<Bar> {
    let mut totals: BTreeMap<String, Option<u64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for row in &picture.rows {
        for cell in &row.cells {
            for (part, value) in parts_of(cell) {
                if !order.contains(&part) {
                    order.push(part.clone());
                }
                let slot = totals.entry(part).or_insert(Some(0));
                *slot = match (*slot, value) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
            }
        }
    }
    vec![(
        "all victims".to_string(),
        order
            .into_iter()
            .map(|part| {
                let value = totals.get(&part).copied().flatten();
                (part, value)
            })
            .collect(),
    )]
}
