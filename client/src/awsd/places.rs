//! Where: the reported point and the country (alpha-3), including the places the AWSD names
//! without a code.

use slt_proto::v1 as pb;

use super::alpha3;
use super::categories::fold;
use super::columns::{Col, Row};
use super::warnings::{Notes, WarningKind, quoted, shorten};

/// Latitude/Longitude -> a KM_25 point, or nothing when either is unusable.
pub(super) fn map_location(row: &Row<'_>, notes: &mut Notes) -> Option<pb::Location> {
    let (lat_text, lon_text) = (row.get(Col::Latitude), row.get(Col::Longitude));
    if lat_text.is_empty() && lon_text.is_empty() {
        return None;
    }
    let latitude = lat_text.parse::<f64>().ok();
    let longitude = lon_text.parse::<f64>().ok();
    match (latitude, longitude) {
        (Some(latitude), Some(longitude))
            if latitude.is_finite()
                && longitude.is_finite()
                && (-90.0..=90.0).contains(&latitude)
                && (-180.0..=180.0).contains(&longitude)
                && !(latitude == 0.0 && longitude == 0.0) =>
        {
            Some(pb::Location {
                latitude,
                longitude,
                precision: pb::GeoPrecision::Km25 as i32,
            })
        }
        _ => {
            notes.add(
                WarningKind::BadCoordinates,
                format!("'{}', '{}'", shorten(lat_text), shorten(lon_text)),
            );
            None
        }
    }
}

/// Country Code (alpha-2) -> alpha-3; the few AWSD places without a code by their name.
pub(super) fn map_country(
    row: &Row<'_>,
    location: Option<&pb::Location>,
    notes: &mut Notes,
) -> String {
    let code = row.get(Col::CountryCode).to_ascii_uppercase();
    if !code.is_empty() {
        if let Some(alpha3) = alpha3(&code) {
            return alpha3.to_string();
        }
        notes.add(
            WarningKind::UnknownCountryCode {
                code: shorten(&code),
            },
            quoted(row.get(Col::Country)),
        );
        return slt_proto::countries::UNKNOWN_COUNTRY.into();
    }
    let name = row.get(Col::Country);
    match fold(name).as_str() {
        "chechnya" => {
            notes.add(
                WarningKind::Assumed {
                    column: "Country",
                    value: "Chechnya".into(),
                    read_as: "RUS",
                },
                String::new(),
            );
            "RUS".into()
        }
        "kashmir" => {
            let code = kashmir(location);
            notes.add(
                WarningKind::Assumed {
                    column: "Country",
                    value: "Kashmir".into(),
                    read_as: code,
                },
                "disputed territory: the administering state nearest to the point",
            );
            code.into()
        }
        _ => {
            notes.add(WarningKind::NoCountry, quoted(name));
            slt_proto::countries::UNKNOWN_COUNTRY.into()
        }
    }
}

/// Kashmir is split by the Line of Control: IND or PAK by the nearer administrative capital
/// (Srinagar or Muzaffarabad). Without a point, IND. A heuristic; the warning says so.
fn kashmir(location: Option<&pb::Location>) -> &'static str {
    const SRINAGAR: (f64, f64) = (34.08, 74.80);
    const MUZAFFARABAD: (f64, f64) = (34.37, 73.47);
    let Some(point) = location else {
        return "IND";
    };
    let distance =
        |(lat, lon): (f64, f64)| (point.latitude - lat).powi(2) + (point.longitude - lon).powi(2);
    if distance(MUZAFFARABAD) < distance(SRINAGAR) {
        "PAK"
    } else {
        "IND"
    }
}
