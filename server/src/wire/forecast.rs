//! The forecast: a GetForecast request decoded (validated as a picture request is), a computed
//! forecast encoded.

use slt_proto::v1 as pb;
use time::Date;

use super::WireEnum;
use super::picture::picture_request;
use crate::domain::FieldViolation;
use crate::picture::forecast::published::{Quantiles, SeriesForecast};
use crate::picture::forecast::serve::{Forecast, ForecastRequest, ForecastRow, MAX_HORIZON};

/// Complete periods of history a served forecast reads.
pub const HISTORY_PERIODS: usize = 40;

/// Decodes and validates a GetForecast request; every bad field is in the error.
pub fn forecast_request(
    request: &pb::GetForecastRequest,
    today: Date,
) -> Result<ForecastRequest, Vec<FieldViolation>> {
    let day = slt_proto::google::r#type::Date {
        year: today.year(),
        month: i32::from(u8::from(today.month())),
        day: i32::from(today.day()),
    };
    // The same areas and shape rules as the picture (the field names are the same).
    let shape = pb::GetThreatPictureRequest {
        countries: request.countries.clone(),
        admin1: request.admin1.clone(),
        from: Some(day),
        to: Some(day),
        granularity: request.granularity,
        area_level: request.area_level,
        group_by: request.group_by,
    };
    let horizon = usize::try_from(request.horizon.max(1)).unwrap_or(usize::MAX);
    let picture = picture_request(&shape);
    let mut violations = picture.as_ref().err().cloned().unwrap_or_default();
    if horizon > MAX_HORIZON {
        violations.push(FieldViolation {
            field: "horizon".into(),
            description: format!("from 1 to {MAX_HORIZON}"),
        });
    }
    match picture {
        Ok(picture) if violations.is_empty() => Ok(ForecastRequest {
            countries: picture.countries,
            admin1: picture.admin1,
            granularity: picture.granularity,
            area_level: picture.area_level,
            group_by: picture.group_by,
            horizons: horizon,
            history: HISTORY_PERIODS,
        }),
        _ => Err(violations),
    }
}

/// Encodes a computed forecast.
pub fn forecast_to_proto(
    forecast: Forecast,
    model: String,
    policy_version: String,
) -> pb::GetForecastResponse {
    let periods = forecast.periods;
    pb::GetForecastResponse {
        rows: forecast
            .rows
            .into_iter()
            .map(|row| row_to_proto(row, &periods))
            .collect(),
        periods,
        model,
        policy_version,
    }
}

fn row_to_proto(row: ForecastRow, periods: &[String]) -> pb::ForecastRow {
    pb::ForecastRow {
        incidents: Some(series_to_proto(&row.incidents, periods)),
        victims_by_outcome: row
            .by_outcome
            .iter()
            .map(|(outcome, forecast)| pb::OutcomeForecast {
                outcome: outcome.to_wire(),
                forecast: Some(series_to_proto(forecast, periods)),
            })
            .collect(),
        victims_by_staff: row
            .by_staff
            .iter()
            .map(|(staff, forecast)| pb::StaffForecast {
                staff: staff.to_wire(),
                forecast: Some(series_to_proto(forecast, periods)),
            })
            .collect(),
        victims_by_sex: row
            .by_sex
            .iter()
            .map(|(sex, forecast)| pb::SexForecast {
                sex: sex.to_wire(),
                forecast: Some(series_to_proto(forecast, periods)),
            })
            .collect(),
        country: row.country,
        admin1: row.admin1,
        group: row.group,
    }
}

fn series_to_proto(forecast: &SeriesForecast, periods: &[String]) -> pb::SeriesForecast {
    match forecast {
        SeriesForecast::Withheld => pb::SeriesForecast {
            withheld: true,
            quantiles: Vec::new(),
        },
        SeriesForecast::Forecast(quantiles) => pb::SeriesForecast {
            withheld: false,
            quantiles: quantiles
                .iter()
                .map(|q| quantiles_to_proto(q, periods))
                .collect(),
        },
    }
}

/// `values` are at 2.5, 10, 25, 50, 75, 90, 97.5% (`scores::SERVED_LEVELS`).
fn quantiles_to_proto(quantiles: &Quantiles, periods: &[String]) -> pb::ForecastQuantiles {
    let [
        lower_95,
        lower_80,
        lower_50,
        median,
        upper_50,
        upper_80,
        upper_95,
    ] = quantiles.values;
    pb::ForecastQuantiles {
        horizon: u32::try_from(quantiles.horizon).unwrap_or(u32::MAX),
        period: periods
            .get(quantiles.horizon.saturating_sub(1))
            .cloned()
            .unwrap_or_default(),
        median,
        lower_50,
        upper_50,
        lower_80,
        upper_80,
        lower_95,
        upper_95,
    }
}
