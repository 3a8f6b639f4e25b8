//! The threat picture as a self-contained HTML report: inline CSS and SVG only, no scripts, no
//! fonts, no links to fetch, so it opens offline and survives being attached to an e-mail.
//!
//! Suppressed numbers are shown as "x" (never "<5": a suppressed number may be large), and sums
//! in the charts use published numbers only; a point with a suppressed part is left out of its
//! line and said so.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use slt_proto::v1 as pb;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A published count as text: the number, or "x" when suppressed.
pub fn count_text(count: &Option<pb::PublishedCount>) -> String {
    match count {
        Some(count) if count.suppressed => "x".to_string(),
        Some(count) => count.value.to_string(),
        None => "0".to_string(),
    }
}

fn known(count: &Option<pb::PublishedCount>) -> Option<u64> {
    match count {
        Some(count) if count.suppressed => None,
        Some(count) => Some(count.value),
        None => Some(0),
    }
}

/// The short name of a proto enum value (`SECURITY_LEVEL_HIGH` -> `HIGH`).
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).replace('_', " ")
}

fn level_name(level: i32) -> String {
    pb::SecurityLevel::try_from(level)
        .map(|l| short(l.as_str_name(), "SECURITY_LEVEL_"))
        .unwrap_or_else(|_| "?".into())
}

fn level_colour(level: i32) -> &'static str {
    match level {
        1 => "#4c9a2a",
        2 => "#8fbf3f",
        3 => "#e0c000",
        4 => "#f08c00",
        5 => "#d9480f",
        6 => "#8b0000",
        _ => "#888888",
    }
}

const PALETTE: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn area_name(country: &str, admin1: &str) -> String {
    if admin1.is_empty() {
        country.to_string()
    } else {
        format!("{country} / {admin1}")
    }
}

/// Sums a series of optional numbers per period; `None` where a part is suppressed.
fn add_series(into: &mut [Option<u64>], from: impl Iterator<Item = Option<u64>>) {
    for (slot, value) in into.iter_mut().zip(from) {
        *slot = match (*slot, value) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
}

/// A line chart of one series per group over the periods; elevated points ringed in red.
fn trend_chart(picture: &pb::GetThreatPictureResponse) -> String {
    let periods = picture.periods.len();
    let mut series: BTreeMap<&str, Vec<Option<u64>>> = BTreeMap::new();
    let mut elevated: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
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
    let (width, height, left, bottom, top, right) = (1100.0, 320.0, 50.0, 40.0, 15.0, 170.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = series
        .values()
        .flat_map(|line| line.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |i: usize| {
        left + if periods > 1 {
            plot_w * i as f64 / (periods - 1) as f64
        } else {
            plot_w / 2.0
        }
    };
    let y = |v: u64| top + plot_h - plot_h * v as f64 / max;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" \
         aria-label=\"Incidents per period by group\">"
    );
    // Axes and grid.
    for step in 0..=4 {
        let value = (max * f64::from(step) / 4.0).round() as u64;
        let yy = y(value);
        let _ = write!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{value}</text>",
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
    }
    let label_every = periods.div_ceil(12).max(1);
    for (i, label) in picture.periods.iter().enumerate() {
        if i % label_every == 0 || i + 1 == periods {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                x(i),
                height - bottom + 18.0,
                escape(label)
            );
        }
    }
    for (index, (group, line)) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        // One polyline per run of published points.
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
                Some(v) => run.push(format!("{:.1},{:.1}", x(i), y(*v))),
                None => flush(&mut run, &mut svg),
            }
        }
        flush(&mut run, &mut svg);
        for (i, value) in line.iter().enumerate() {
            let Some(v) = value else { continue };
            let hot = elevated.get(group).is_some_and(|flags| flags[i]);
            if hot {
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"6\" fill=\"none\" stroke=\"#d00\" \
                     stroke-width=\"2.5\"><title>{} {}: {v} (elevated)</title></circle>",
                    x(i),
                    y(*v),
                    escape(group),
                    escape(&picture.periods[i])
                );
            } else if periods <= 60 {
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\"/>",
                    x(i),
                    y(*v)
                );
            }
        }
        let ly = top + 16.0 * index as f64 + 8.0;
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            left + plot_w + 15.0,
            ly - 4.0,
            left + plot_w + 32.0,
            ly + 1.0,
            escape(&short(group, ""))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One bar: its label and its parts (a part is `None` when suppressed).
type Bar = (String, Vec<(String, Option<u64>)>);

/// Horizontal stacked bars: one bar per label, segments per part, from published numbers.
fn stacked_bars(title: &str, bars: &[Bar]) -> String {
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
fn victim_bars(
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

/// The report. `title` and `generated` (a timestamp) are shown in the header.
pub fn picture_html(
    picture: &pb::GetThreatPictureResponse,
    title: &str,
    generated: &str,
) -> String {
    let tier = pb::AccessTier::try_from(picture.tier)
        .map(|t| short(t.as_str_name(), "ACCESS_TIER_"))
        .unwrap_or_else(|_| "?".into());
    let mut html = String::new();
    html.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    );
    let _ = write!(html, "<title>{}</title>", escape(title));
    html.push_str(
        "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;\
         margin:24px;color:#222;max-width:1200px}h1{font-size:22px;margin:0 0 4px}\
         h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}\
         .meta{color:#555;font-size:13px}table{border-collapse:collapse;font-size:12px}\
         td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f3f3f3}\
         td.l,th.l{text-align:left}td.hot{background:#ffd6d6;font-weight:bold;color:#a00}\
         td.x{color:#888}.badge{display:inline-block;color:#fff;padding:2px 8px;border-radius:3px;\
         font-weight:bold;font-size:12px}.note{font-size:12px;color:#555}\
         .grid{overflow-x:auto}</style></head><body>",
    );
    let _ = write!(
        html,
        "<h1>{}</h1><div class=\"meta\">Generated {} &middot; computed at access tier {} \
         &middot; {} &middot; policy {}</div>",
        escape(title),
        escape(generated),
        escape(&tier),
        if picture.k > 0 {
            format!(
                "counts from 1 to {} and the counts that would reveal them are suppressed, \
                 shown as <b>x</b>",
                picture.k - 1
            )
        } else {
            "all counts exact".to_string()
        },
        escape(&picture.policy_version)
    );

    // Security levels.
    html.push_str("<h2>Security levels (advisories in force)</h2>");
    if picture.security_levels.is_empty() {
        html.push_str("<p class=\"note\">No advisory you may see is in force for these areas.</p>");
    } else {
        html.push_str(
            "<table><tr><th class=\"l\">area</th><th class=\"l\">level</th>\
             <th class=\"l\">valid until</th><th class=\"l\">advisory</th></tr>",
        );
        for level in &picture.security_levels {
            let until = level
                .valid_until
                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                .unwrap_or_default();
            let _ = write!(
                html,
                "<tr><td class=\"l\">{}</td><td class=\"l\"><span class=\"badge\" \
                 style=\"background:{}\">{} {}</span></td><td class=\"l\">{}</td>\
                 <td class=\"l\">{} v{}</td></tr>",
                escape(&area_name(&level.country, &level.admin1)),
                level_colour(level.security_level),
                level.security_level,
                escape(&level_name(level.security_level)),
                escape(&until),
                escape(&level.advisory_id),
                level.advisory_version
            );
        }
        html.push_str("</table>");
    }

    // Trend.
    html.push_str("<h2>Incidents per period</h2>");
    html.push_str(&trend_chart(picture));
    html.push_str(
        "<p class=\"note\">Lines: incidents per group, summed over the areas. Red rings: \
         <b>elevated</b> &mdash; in some area, the group's count exceeds the upper 95% bound of \
         a Poisson baseline from its 12 preceding periods (see the table). Gaps: a suppressed \
         count.</p>",
    );

    // Breakdowns.
    let outcome_name = |o: i32| {
        pb::VictimOutcome::try_from(o)
            .map(|o| short(o.as_str_name(), "VICTIM_OUTCOME_").to_lowercase())
            .unwrap_or_default()
    };
    html.push_str("<h2>Victims by outcome</h2>");
    html.push_str(&stacked_bars(
        "Victims by outcome",
        &victim_bars(picture, |cell| {
            cell.victims_by_outcome
                .iter()
                .map(|o| (outcome_name(o.outcome), known(&o.count)))
                .collect()
        }),
    ));
    html.push_str("<h2>Victims by staff category</h2>");
    html.push_str(&stacked_bars(
        "Victims by staff category",
        &victim_bars(picture, |cell| {
            cell.victims_by_staff
                .iter()
                .map(|s| {
                    let name = pb::StaffCategory::try_from(s.staff)
                        .map(|s| short(s.as_str_name(), "STAFF_CATEGORY_").to_lowercase())
                        .unwrap_or_default();
                    (name, known(&s.count))
                })
                .collect()
        }),
    ));
    let has_sex = picture
        .rows
        .iter()
        .any(|row| row.cells.iter().any(|cell| !cell.victims_by_sex.is_empty()));
    html.push_str("<h2>Victims by sex</h2>");
    if has_sex {
        html.push_str(&stacked_bars(
            "Victims by sex",
            &victim_bars(picture, |cell| {
                cell.victims_by_sex
                    .iter()
                    .map(|s| {
                        let name = pb::Sex::try_from(s.sex)
                            .map(|s| short(s.as_str_name(), "SEX_").to_lowercase())
                            .unwrap_or_default();
                        (name, known(&s.count))
                    })
                    .collect()
            }),
        ));
    } else {
        html.push_str(
            "<p class=\"note\">The breakdown by sex is shown from access tier T2 only.</p>",
        );
    }

    // Hotspots.
    html.push_str("<h2>Hotspots</h2>");
    if picture.hotspots.is_empty() {
        html.push_str("<p class=\"note\">None.</p>");
    } else {
        html.push_str(
            "<table><tr><th class=\"l\">area</th><th>severity</th><th>incidents</th>\
             <th>killed</th><th>kidnapped</th><th>injured</th></tr>",
        );
        for hotspot in &picture.hotspots {
            let outcome = |wanted: pb::VictimOutcome| {
                hotspot
                    .victims_by_outcome
                    .iter()
                    .find(|o| o.outcome == wanted as i32)
                    .map(|o| count_text(&o.count))
                    .unwrap_or_else(|| "0".into())
            };
            let _ = write!(
                html,
                "<tr><td class=\"l\">{}</td><td>{:.0}{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td></tr>",
                escape(&area_name(&hotspot.country, &hotspot.admin1)),
                hotspot.score,
                if hotspot.partial { "+" } else { "" },
                count_text(&hotspot.incidents),
                outcome(pb::VictimOutcome::Killed),
                outcome(pb::VictimOutcome::Kidnapped),
                outcome(pb::VictimOutcome::Injured)
            );
        }
        html.push_str(
            "</table><p class=\"note\">Severity = incidents + 10 &times; killed + 5 &times; \
             kidnapped + 5 &times; sexually assaulted + 3 &times; injured + 2 &times; detained \
             (published numbers only; + marks a lower bound).</p>",
        );
    }

    // The grid.
    html.push_str("<h2>Incidents by area, group and period</h2><div class=\"grid\"><table><tr>");
    html.push_str("<th class=\"l\">area</th><th class=\"l\">group</th>");
    for period in &picture.periods {
        let _ = write!(html, "<th>{}</th>", escape(period));
    }
    html.push_str("<th>total</th></tr>");
    for row in &picture.rows {
        let _ = write!(
            html,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td>",
            escape(&area_name(&row.country, &row.admin1)),
            escape(&short(&row.group, ""))
        );
        for cell in &row.cells {
            let text = count_text(&cell.incidents);
            let class = if cell.alert == pb::Alert::Elevated as i32 {
                " class=\"hot\""
            } else if text == "x" {
                " class=\"x\""
            } else {
                ""
            };
            let _ = write!(html, "<td{class}>{text}</td>");
        }
        let _ = write!(html, "<td>{}</td></tr>", count_text(&row.incidents_total));
    }
    html.push_str("<tr><th class=\"l\" colspan=\"2\">all</th>");
    for total in &picture.period_totals {
        let _ = write!(html, "<th>{}</th>", count_text(&Some(*total)));
    }
    let _ = write!(
        html,
        "<th>{}</th></tr></table></div>",
        count_text(&picture.total)
    );
    html.push_str(
        "<p class=\"note\">Highlighted: elevated cells. x: suppressed (the number is withheld \
         for privacy; it may be of any size). Counts cover only incidents your organisation \
         may see.</p></body></html>",
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<b>\"a\" & 'b'</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;"
        );
    }
}
