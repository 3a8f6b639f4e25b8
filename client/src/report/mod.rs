//! The threat picture as a self-contained HTML report: inline CSS and SVG only, no scripts, no
//! fonts, no links to fetch, so it opens offline and survives being attached to an e-mail.
//!
//! Suppressed numbers are shown as "x" (never "<5": a suppressed number may be large), and sums
//! in the charts use published numbers only; a point with a suppressed part is left out of its
//! line and said so.

mod charts;
mod forecast;

use std::fmt::Write as _;

use slt_proto::v1 as pb;

use charts::{stacked_bars, trend_chart, victim_bars};

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

fn area_name(country: &str, admin1: &str) -> String {
    if admin1.is_empty() {
        country.to_string()
    } else {
        format!("{country} / {admin1}")
    }
}

/// The report. `title` and `generated` (a timestamp) are shown in the header.
pub fn picture_html(
    picture: &pb::GetThreatPictureResponse,
    title: &str,
    generated: &str,
) -> String {
    report_html(picture, None, title, generated)
}

/// The report with the forecast of the same areas and shape (GetForecast): its band on the
/// trend chart and the "expected vs observed" section.
pub fn report_html(
    picture: &pb::GetThreatPictureResponse,
    forecast: Option<&pb::GetForecastResponse>,
    title: &str,
    generated: &str,
) -> String {
    let mut html = String::new();
    head(&mut html, picture, title, generated);
    security_levels_section(&mut html, picture);
    trend_section(&mut html, picture, forecast);
    if let Some(forecast) = forecast {
        forecast::expected_vs_observed_section(&mut html, picture, forecast);
    }
    victims_sections(&mut html, picture);
    hotspots_section(&mut html, picture);
    grid_section(&mut html, picture);
    html
}

/// The document head and the title block: tier, suppression policy, policy version.
fn head(html: &mut String, picture: &pb::GetThreatPictureResponse, title: &str, generated: &str) {
    let tier = pb::AccessTier::try_from(picture.tier)
        .map(|t| short(t.as_str_name(), "ACCESS_TIER_"))
        .unwrap_or_else(|_| "?".into());
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
}

/// Security levels: the advisories in force, one badge per area.
fn security_levels_section(html: &mut String, picture: &pb::GetThreatPictureResponse) {
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
}

/// Incidents per period: the line chart and how to read it.
fn trend_section(
    html: &mut String,
    picture: &pb::GetThreatPictureResponse,
    forecast: Option<&pb::GetForecastResponse>,
) {
    html.push_str("<h2>Incidents per period</h2>");
    // The hub forecasts from today: a band is drawn only when the picture runs to the first
    // forecast period, so the axis stays continuous.
    let joined = forecast.filter(|f| {
        f.periods
            .first()
            .is_some_and(|first| picture.periods.contains(first))
    });
    let bands = joined.map(forecast::group_bands).unwrap_or_default();
    html.push_str(&trend_chart(picture, &bands));
    html.push_str(
        "<p class=\"note\">Lines: incidents per group, summed over the areas. Red rings: \
         <b>elevated</b> &mdash; in some area, the group's count exceeds the upper 95% bound of \
         a Poisson baseline from its 12 preceding periods (see the table). Gaps: a suppressed \
         count.</p>",
    );
    if forecast.is_some() && joined.is_none() {
        html.push_str(
            "<p class=\"note\">No forecast band: the picture ends before the current period, \
             where the hub's forecast starts.</p>",
        );
    }
    if let Some(forecast) = joined {
        let _ = write!(
            html,
            "<p class=\"note\">Shaded: the hub's forecast ({}), the sum of the areas' 80% \
             bands (wider than the 80% band of the sum); dashed: the sum of their medians. A \
             group with a forecast withheld in some area (a suppressed count in its history) has \
             no band.</p>",
            escape(&forecast.model)
        );
    }
}

/// Victims by outcome, staff category and sex (sex from T2 only).
fn victims_sections(html: &mut String, picture: &pb::GetThreatPictureResponse) {
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
}

/// Hotspots with their severity and the victim counts it is made of.
fn hotspots_section(html: &mut String, picture: &pb::GetThreatPictureResponse) {
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
}

/// The full grid of counts by area, group and period, with the totals row.
fn grid_section(html: &mut String, picture: &pb::GetThreatPictureResponse) {
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
