//! The threat picture: a GetThreatPicture request decoded, a computed picture encoded.

use slt_proto::v1 as pb;

use super::{WireEnum, tier_to_proto};
use crate::domain::{AreaLevel, FieldViolation, Granularity, PictureGroup, Violations, validate};
use crate::picture::{Alert, AreaSecurity, Cell, Picture, PictureRequest, Row};
use crate::policy::aggregate::Published;

/// Most countries in one picture request.
pub const MAX_PICTURE_COUNTRIES: usize = 50;
/// Most admin1 names in one picture request.
pub const MAX_PICTURE_ADMIN1: usize = 200;

/// Decodes and validates a GetThreatPicture request; every bad field is in the error.
pub fn picture_request(
    request: &pb::GetThreatPictureRequest,
) -> Result<PictureRequest, Vec<FieldViolation>> {
    let mut violations = Violations::new();
    let countries = picture_countries(&mut violations, &request.countries);
    let admin1 = picture_admin1(&mut violations, &request.admin1);
    let mut date = |field: &str, date: &Option<slt_proto::google::r#type::Date>| match date {
        Some(date) => {
            validate::calendar_date(&mut violations, field, date.year, date.month, date.day)
        }
        None => {
            violations.add(field, "required");
            None
        }
    };
    let from = date("from", &request.from);
    let to = date("to", &request.to);
    let (granularity, area_level, group_by) = picture_shape(&mut violations, request);
    match (from, to, granularity, area_level, group_by) {
        (Some(from), Some(to), Some(granularity), Some(area_level), Some(group_by))
            if violations.is_empty() =>
        {
            Ok(PictureRequest {
                countries,
                admin1,
                from,
                to,
                granularity,
                area_level,
                group_by,
            })
        }
        _ => Err(violations.into_vec()),
    }
}

/// The requested countries: between 1 and [`MAX_PICTURE_COUNTRIES`], valid, duplicates dropped.
fn picture_countries(violations: &mut Violations, requested: &[String]) -> Vec<String> {
    if requested.is_empty() || requested.len() > MAX_PICTURE_COUNTRIES {
        violations.add(
            "countries",
            format!("required: between 1 and {MAX_PICTURE_COUNTRIES} country codes"),
        );
    }
    let mut countries = Vec::new();
    for (index, code) in requested.iter().enumerate() {
        if let Some(code) = validate::country(violations, &format!("countries[{index}]"), code)
            && !countries.contains(&code)
        {
            countries.push(code);
        }
    }
    countries
}

/// The requested admin1 names, trimmed and lower-cased; at most [`MAX_PICTURE_ADMIN1`].
fn picture_admin1(violations: &mut Violations, requested: &[String]) -> Vec<String> {
    let mut admin1: Vec<String> = Vec::new();
    if requested.len() > MAX_PICTURE_ADMIN1 {
        violations.add(
            "admin1",
            format!("at most {MAX_PICTURE_ADMIN1} admin1 names"),
        );
    }
    for (index, name) in requested.iter().enumerate().take(MAX_PICTURE_ADMIN1) {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            violations.add(format!("admin1[{index}]"), "must not be empty");
        } else {
            violations.check_text(format!("admin1[{index}]"), &name, 200);
            admin1.push(name);
        }
    }
    admin1
}

/// Granularity, area level and grouping; UNSPECIFIED takes the default.
fn picture_shape(
    violations: &mut Violations,
    request: &pb::GetThreatPictureRequest,
) -> (Option<Granularity>, Option<AreaLevel>, Option<PictureGroup>) {
    let granularity = match pb::Granularity::try_from(request.granularity) {
        Ok(pb::Granularity::Unspecified | pb::Granularity::Month) => Some(Granularity::Month),
        Ok(pb::Granularity::Week) => Some(Granularity::Week),
        Ok(pb::Granularity::Quarter) => Some(Granularity::Quarter),
        Ok(pb::Granularity::Year) => Some(Granularity::Year),
        Err(_) => {
            violations.add("granularity", "not a defined value");
            None
        }
    };
    let area_level = match pb::AreaLevel::try_from(request.area_level) {
        Ok(pb::AreaLevel::Unspecified | pb::AreaLevel::Country) => Some(AreaLevel::Country),
        Ok(pb::AreaLevel::Admin1) => Some(AreaLevel::Admin1),
        Err(_) => {
            violations.add("area_level", "not a defined value");
            None
        }
    };
    let group_by = match pb::PictureGroup::try_from(request.group_by) {
        Ok(pb::PictureGroup::Unspecified | pb::PictureGroup::ThreatCategory) => {
            Some(PictureGroup::ThreatCategory)
        }
        Ok(pb::PictureGroup::IncidentType) => Some(PictureGroup::IncidentType),
        Ok(pb::PictureGroup::None) => Some(PictureGroup::None),
        Err(_) => {
            violations.add("group_by", "not a defined value");
            None
        }
    };
    (granularity, area_level, group_by)
}

fn count(value: Published) -> Option<pb::PublishedCount> {
    Some(match value {
        Published::Exact(value) => pb::PublishedCount {
            suppressed: false,
            value,
        },
        Published::Suppressed => pb::PublishedCount {
            suppressed: true,
            value: 0,
        },
    })
}

fn outcomes(values: &[(crate::domain::VictimOutcome, Published)]) -> Vec<pb::OutcomeCount> {
    values
        .iter()
        .map(|(outcome, value)| pb::OutcomeCount {
            outcome: outcome.to_wire(),
            count: count(*value),
        })
        .collect()
}

/// Encodes a computed picture; the shape fields echo the request with defaults filled in.
pub fn picture_to_proto(
    picture: Picture,
    request: &pb::GetThreatPictureRequest,
    policy_version: String,
) -> pb::GetThreatPictureResponse {
    pb::GetThreatPictureResponse {
        granularity: match pb::Granularity::try_from(request.granularity) {
            Ok(pb::Granularity::Unspecified) | Err(_) => pb::Granularity::Month as i32,
            Ok(other) => other as i32,
        },
        area_level: match pb::AreaLevel::try_from(request.area_level) {
            Ok(pb::AreaLevel::Unspecified) | Err(_) => pb::AreaLevel::Country as i32,
            Ok(other) => other as i32,
        },
        group_by: match pb::PictureGroup::try_from(request.group_by) {
            Ok(pb::PictureGroup::Unspecified) | Err(_) => pb::PictureGroup::ThreatCategory as i32,
            Ok(other) => other as i32,
        },
        periods: picture.periods,
        rows: picture.rows.into_iter().map(row_to_proto).collect(),
        period_totals: picture
            .period_totals
            .into_iter()
            .filter_map(count)
            .collect(),
        total: count(picture.total),
        hotspots: picture
            .hotspots
            .into_iter()
            .map(|hotspot| pb::Hotspot {
                country: hotspot.country,
                admin1: hotspot.admin1,
                score: hotspot.score,
                incidents: count(hotspot.incidents),
                victims_by_outcome: outcomes(&hotspot.by_outcome),
                partial: hotspot.partial,
            })
            .collect(),
        security_levels: picture
            .security_levels
            .into_iter()
            .map(security_to_proto)
            .collect(),
        tier: tier_to_proto(picture.tier),
        k: u32::try_from(picture.k).unwrap_or(u32::MAX),
        policy_version,
        perturbed: picture.perturbed,
    }
}

fn row_to_proto(row: Row) -> pb::PictureRow {
    pb::PictureRow {
        country: row.country,
        admin1: row.admin1,
        group: row.group,
        incidents_total: count(row.incidents_total),
        cells: row.cells.into_iter().map(cell_to_proto).collect(),
    }
}

fn cell_to_proto(cell: Cell) -> pb::PictureCell {
    let alert = match cell.alert {
        Alert::Normal => pb::Alert::Normal,
        Alert::Elevated => pb::Alert::Elevated,
        Alert::NotAssessed => pb::Alert::NotAssessed,
    } as i32;
    pb::PictureCell {
        incidents: count(cell.incidents),
        victims: count(cell.victims),
        victims_by_outcome: outcomes(&cell.by_outcome),
        victims_by_staff: cell
            .by_staff
            .iter()
            .map(|(staff, value)| pb::StaffCount {
                staff: staff.to_wire(),
                count: count(*value),
            })
            .collect(),
        victims_by_sex: cell
            .by_sex
            .iter()
            .map(|(sex, value)| pb::SexCount {
                sex: sex.to_wire(),
                count: count(*value),
            })
            .collect(),
        previous_incidents: count(cell.previous),
        change: cell.change,
        alert,
        baseline_mean: cell.baseline_mean,
        upper_bound: cell.upper_bound,
    }
}

fn security_to_proto(level: AreaSecurity) -> pb::AreaSecurityLevel {
    pb::AreaSecurityLevel {
        country: level.country,
        admin1: level.admin1,
        security_level: level.level.to_wire(),
        advisory_id: level.advisory_id.to_string(),
        advisory_version: level.advisory_version,
        valid_until: Some(super::date_to_proto(level.valid_until)),
    }
}
