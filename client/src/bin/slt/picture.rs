//! The shared threat picture: the request from the flags, the table/CSV/JSON output and the
//! optional HTML report.

use std::path::Path;

use anyhow::{Context, bail};
use slt_client::report::{count_text, report_html};
use slt_client::{HubClient, json, proto as pb};

use crate::args::{Format, PictureArgs};
use crate::input::date;
use crate::output::{print_rows, short};

/// Fetches the picture and prints it (writing the HTML report first when asked).
pub(crate) async fn show(
    hub: &mut HubClient,
    format: Format,
    args: &PictureArgs,
) -> anyhow::Result<()> {
    let request = picture_request(args)?;
    let picture = hub.threat_picture(request.clone()).await?;
    if let Some(path) = &args.html {
        let forecast = report_forecast(hub, &request, args.forecast_horizon).await;
        write_html(&picture, forecast.as_ref(), args, path)?;
    }
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json::to_json(
                &picture,
                "slt.v1.GetThreatPictureResponse"
            )?)?
        );
        return Ok(());
    }
    print_grid(format, &picture)?;
    if format == Format::Table {
        print_notes(&picture);
    }
    Ok(())
}

/// The forecast of the picture's areas and shape for the report; none (and a note on stderr)
/// when it is not asked for or the hub refuses it, so the report is still written.
async fn report_forecast(
    hub: &mut HubClient,
    picture: &pb::GetThreatPictureRequest,
    horizon: u32,
) -> Option<pb::GetForecastResponse> {
    if horizon == 0 {
        return None;
    }
    let request = pb::GetForecastRequest {
        countries: picture.countries.clone(),
        admin1: picture.admin1.clone(),
        granularity: picture.granularity,
        area_level: picture.area_level,
        group_by: picture.group_by,
        horizon,
    };
    match hub.forecast(request).await {
        Ok(forecast) => Some(forecast),
        Err(error) => {
            eprintln!("no forecast in the report: {error}");
            None
        }
    }
}

/// The area level and granularity of a `--by` value such as `admin1,month`; `granularity` is
/// the default period.
pub(crate) fn shape(
    by: &str,
    granularity: pb::Granularity,
) -> anyhow::Result<(pb::AreaLevel, pb::Granularity)> {
    let mut area_level = pb::AreaLevel::Country;
    let mut granularity = granularity;
    for part in by.split(',').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "country" => area_level = pb::AreaLevel::Country,
            "admin1" => area_level = pb::AreaLevel::Admin1,
            "week" => granularity = pb::Granularity::Week,
            "month" => granularity = pb::Granularity::Month,
            "quarter" => granularity = pb::Granularity::Quarter,
            "year" => granularity = pb::Granularity::Year,
            "" => {}
            other => bail!(
                "--by '{other}': expected country or admin1, and week, month, quarter or year"
            ),
        }
    }
    Ok((area_level, granularity))
}

/// The `--group` value as a picture grouping.
pub(crate) fn group(value: &str) -> anyhow::Result<pb::PictureGroup> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "category" | "threat_category" => pb::PictureGroup::ThreatCategory,
        "type" | "incident_type" => pb::PictureGroup::IncidentType,
        "none" | "all" => pb::PictureGroup::None,
        other => bail!("--group '{other}': expected category, type or none"),
    })
}

fn picture_request(args: &PictureArgs) -> anyhow::Result<pb::GetThreatPictureRequest> {
    let (area_level, granularity) = shape(&args.by, pb::Granularity::Month)?;
    let group_by = group(&args.group)?;
    Ok(pb::GetThreatPictureRequest {
        countries: args.countries.clone(),
        admin1: args.admin1.clone(),
        from: Some(date("from", &args.from)?),
        to: Some(date("to", &args.to)?),
        granularity: granularity as i32,
        area_level: area_level as i32,
        group_by: group_by as i32,
    })
}

fn write_html(
    picture: &pb::GetThreatPictureResponse,
    forecast: Option<&pb::GetForecastResponse>,
    args: &PictureArgs,
    path: &Path,
) -> anyhow::Result<()> {
    let title = format!(
        "Threat picture: {} ({} to {})",
        args.countries.join(", "),
        args.from,
        args.to
    );
    let generated = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    slt_client::private_files::write_private(
        path,
        report_html(picture, forecast, &title, &generated),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The counts per area and group over the periods, with a totals row; `!` marks elevated cells.
fn print_grid(format: Format, picture: &pb::GetThreatPictureResponse) -> anyhow::Result<()> {
    let mut header: Vec<String> = vec!["area".into(), "group".into()];
    header.extend(picture.periods.iter().cloned());
    header.push("total".into());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for row in &picture.rows {
        let mut line = vec![
            if row.admin1.is_empty() {
                row.country.clone()
            } else {
                format!("{}/{}", row.country, row.admin1)
            },
            row.group.clone(),
        ];
        for cell in &row.cells {
            let mut text = count_text(&cell.incidents);
            if cell.alert == pb::Alert::Elevated as i32 {
                text.push('!');
            }
            line.push(text);
        }
        line.push(count_text(&row.incidents_total));
        rows.push(line);
    }
    let mut totals = vec!["all".to_string(), String::new()];
    totals.extend(picture.period_totals.iter().map(|t| count_text(&Some(*t))));
    totals.push(count_text(&picture.total));
    rows.push(totals);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_rows(format, &header, &rows)
}

/// The table's legend, then the security levels and hotspots, one line each.
fn print_notes(picture: &pb::GetThreatPictureResponse) {
    let tier = pb::AccessTier::try_from(picture.tier)
        .map(|t| short(t.as_str_name(), "ACCESS_TIER_"))
        .unwrap_or_else(|_| "?".into());
    println!(
        "tier {tier}{}; ! = elevated (above the 95% Poisson bound of the 12 periods before)",
        if picture.k > 0 {
            format!("; x = suppressed (k = {})", picture.k)
        } else {
            String::new()
        }
    );
    for level in &picture.security_levels {
        let name = pb::SecurityLevel::try_from(level.security_level)
            .map(|l| short(l.as_str_name(), "SECURITY_LEVEL_"))
            .unwrap_or_else(|_| "?".into());
        println!(
            "security level {}{}: {} ({}) advisory {} v{}",
            level.country,
            if level.admin1.is_empty() {
                String::new()
            } else {
                format!("/{}", level.admin1)
            },
            level.security_level,
            name,
            level.advisory_id,
            level.advisory_version
        );
    }
    for hotspot in &picture.hotspots {
        println!(
            "hotspot {}{}: severity {:.0}{}",
            hotspot.country,
            if hotspot.admin1.is_empty() {
                String::new()
            } else {
                format!("/{}", hotspot.admin1)
            },
            hotspot.score,
            if hotspot.partial { "+" } else { "" }
        );
    }
}
