//! The forecast a caller may see: its threat picture over the history (counted within its
//! scope and published through `policy::aggregate` by `picture::compute`), then the model over
//! those published numbers only (`published::forecast_published`).

use std::collections::BTreeMap;

use time::Date;

use super::model::ModelParams;
use super::published::{SeriesForecast, forecast_published};
use crate::domain::{AreaLevel, Granularity, PictureGroup, Sex, StaffCategory, VictimOutcome};
use crate::identity::Principal;
use crate::limits::cpu::CpuPool;
use crate::picture::{PictureError, PictureRequest, Row, compute, periods};
use crate::policy::PolicyEngine;
use crate::policy::aggregate::Published;
use crate::store::Store;

/// Most periods ahead.
pub const MAX_HORIZON: usize = 12;

/// What a caller asks for (validated by the caller of `forecast`, bounds checked here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastRequest {
    pub countries: Vec<String>,
    pub admin1: Vec<String>,
    pub granularity: Granularity,
    pub area_level: AreaLevel,
    pub group_by: PictureGroup,
    pub horizons: usize,
    /// Complete periods of history the model reads, ending with the last complete one.
    pub history: usize,
}

/// One row of the picture, forecast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastRow {
    pub country: String,
    pub admin1: String,
    pub group: String,
    pub incidents: SeriesForecast,
    pub by_outcome: Vec<(VictimOutcome, SeriesForecast)>,
    pub by_staff: Vec<(StaffCategory, SeriesForecast)>,
    /// Empty where the caller's picture has no sex breakdown (below T2): only what the picture
    /// shows is forecast.
    pub by_sex: Vec<(Sex, SeriesForecast)>,
}

/// The forecast as one caller may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forecast {
    /// Labels of the periods forecast (h = 1 first).
    pub periods: Vec<String>,
    pub rows: Vec<ForecastRow>,
}

/// Computes the forecast `principal` may see, from the periods before `today`'s.
pub async fn forecast(
    store: &Store,
    cpu: &CpuPool,
    policy: &PolicyEngine,
    principal: &Principal,
    request: &ForecastRequest,
    today: Date,
    params: ModelParams,
) -> Result<Forecast, PictureError> {
    if !(1..=MAX_HORIZON).contains(&request.horizons) {
        return Err(PictureError::Invalid(
            "horizon",
            format!("from 1 to {MAX_HORIZON}"),
        ));
    }
    let granularity = request.granularity;
    let last = periods::period_of(granularity, today) - 1;
    let first = last - i64::try_from(request.history.max(1)).unwrap_or(i64::MAX / 2) + 1;
    let outside = || PictureError::Invalid("history", "outside the calendar".into());
    let picture_request = PictureRequest {
        countries: request.countries.clone(),
        admin1: request.admin1.clone(),
        from: periods::period_start(granularity, first).ok_or_else(outside)?,
        to: periods::period_end(granularity, last).ok_or_else(outside)?,
        granularity,
        area_level: request.area_level,
        group_by: request.group_by,
    };
    let picture = compute(store, cpu, policy, principal, &picture_request, today).await?;
    let incidents: Vec<Vec<Published>> = picture
        .rows
        .iter()
        .map(|row| row.cells.iter().map(|c| c.incidents).collect())
        .collect();
    let mut incidents = forecast_published(&incidents, request.horizons, params).into_iter();
    let by_outcome = by_key(&picture.rows, request.horizons, params, |c| &c.by_outcome);
    let by_staff = by_key(&picture.rows, request.horizons, params, |c| &c.by_staff);
    let by_sex = by_key(&picture.rows, request.horizons, params, |c| &c.by_sex);
    let rows = picture
        .rows
        .iter()
        .zip(by_outcome)
        .zip(by_staff)
        .zip(by_sex)
        .map(|(((row, by_outcome), by_staff), by_sex)| ForecastRow {
            country: row.country.clone(),
            admin1: row.admin1.clone(),
            group: row.group.clone(),
            incidents: incidents.next().unwrap_or(SeriesForecast::Withheld),
            by_outcome,
            by_staff,
            by_sex,
        })
        .collect();
    let periods = (1..=request.horizons)
        .map(|h| periods::label(granularity, last + h as i64))
        .collect();
    Ok(Forecast { periods, rows })
}

/// Per row, the forecast of each key's series (victims by outcome, staff category or sex); a key
/// missing from a period counts as suppressed there, so it is withheld rather than guessed.
fn by_key<K: Copy + Ord>(
    rows: &[Row],
    horizons: usize,
    params: ModelParams,
    cells: impl Fn(&crate::picture::Cell) -> &Vec<(K, Published)>,
) -> Vec<Vec<(K, SeriesForecast)>> {
    let mut series: Vec<(usize, K, Vec<Published>)> = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let mut per_key: BTreeMap<K, Vec<Published>> = BTreeMap::new();
        for (column, cell) in row.cells.iter().enumerate() {
            for (key, value) in cells(cell) {
                per_key
                    .entry(*key)
                    .or_insert_with(|| vec![Published::Suppressed; row.cells.len()])[column] =
                    *value;
            }
        }
        series.extend(per_key.into_iter().map(|(key, s)| (index, key, s)));
    }
    let published: Vec<Vec<Published>> = series.iter().map(|(_, _, s)| s.clone()).collect();
    let forecasts = forecast_published(&published, horizons, params);
    let mut out: Vec<Vec<(K, SeriesForecast)>> = vec![Vec::new(); rows.len()];
    for ((index, key, _), forecast) in series.into_iter().zip(forecasts) {
        out[index].push((key, forecast));
    }
    out
}
