//! `slt forecast`: the hub's forecast of the picture's areas and shape, one line per area,
//! group, series and period (median and 50/80/95% intervals), or "withheld".

use slt_client::{HubClient, json, proto as pb};

use crate::args::{ForecastArgs, Format};
use crate::output::{print_rows, short};
use crate::picture::{group, shape};

/// Fetches the forecast and prints it.
pub(crate) async fn show(
    hub: &mut HubClient,
    format: Format,
    args: &ForecastArgs,
) -> anyhow::Result<()> {
    let (area_level, granularity) = shape(&args.by, pb::Granularity::Quarter)?;
    let request = pb::GetForecastRequest {
        countries: args.countries.clone(),
        admin1: args.admin1.clone(),
        granularity: granularity as i32,
        area_level: area_level as i32,
        group_by: group(&args.group)? as i32,
        horizon: args.horizon,
    };
    let forecast = hub.forecast(request).await?;
    if format == Format::Json {
        let value = json::to_json(&forecast, "slt.v1.GetForecastResponse")?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let header = [
        "area", "group", "series", "period", "median", "50%", "80%", "95%",
    ];
    let rows = lines(&forecast, args.victims);
    print_rows(format, &header, &rows)?;
    if format == Format::Table {
        println!("model: {}", forecast.model);
    }
    Ok(())
}

/// The table's lines: incidents first, then (with `victims`) every victim series of the row.
fn lines(forecast: &pb::GetForecastResponse, victims: bool) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for row in &forecast.rows {
        let area = if row.admin1.is_empty() {
            row.country.clone()
        } else {
            format!("{}/{}", row.country, row.admin1)
        };
        let mut series: Vec<(String, Option<&pb::SeriesForecast>)> =
            vec![("incidents".into(), row.incidents.as_ref())];
        if victims {
            series.extend(row.victims_by_outcome.iter().map(|v| {
                let name = pb::VictimOutcome::try_from(v.outcome)
                    .map(|o| short(o.as_str_name(), "VICTIM_OUTCOME_"))
                    .unwrap_or_else(|_| "?".into());
                (
                    format!("victims {}", name.to_lowercase()),
                    v.forecast.as_ref(),
                )
            }));
            series.extend(row.victims_by_staff.iter().map(|v| {
                let name = pb::StaffCategory::try_from(v.staff)
                    .map(|s| short(s.as_str_name(), "STAFF_CATEGORY_"))
                    .unwrap_or_else(|_| "?".into());
                (
                    format!("victims {} staff", name.to_lowercase()),
                    v.forecast.as_ref(),
                )
            }));
            series.extend(row.victims_by_sex.iter().map(|v| {
                let name = pb::Sex::try_from(v.sex)
                    .map(|s| short(s.as_str_name(), "SEX_"))
                    .unwrap_or_else(|_| "?".into());
                (
                    format!("victims {}", name.to_lowercase()),
                    v.forecast.as_ref(),
                )
            }));
        }
        for (name, forecast) in series {
            let prefix = [area.clone(), row.group.clone(), name];
            match forecast {
                Some(f) if !f.withheld => {
                    for q in &f.quantiles {
                        let mut line = prefix.to_vec();
                        line.extend([
                            q.period.clone(),
                            q.median.to_string(),
                            format!("{}-{}", q.lower_50, q.upper_50),
                            format!("{}-{}", q.lower_80, q.upper_80),
                            format!("{}-{}", q.lower_95, q.upper_95),
                        ]);
                        out.push(line);
                    }
                }
                _ => {
                    let mut line = prefix.to_vec();
                    line.extend(["withheld".to_string(), String::new(), String::new()]);
                    line.extend([String::new(), String::new()]);
                    out.push(line);
                }
            }
        }
    }
    out
}
