//! Validation with field paths. Every rule adds a `FieldViolation` naming the proto field path
//! (e.g. `incidents[2].location.latitude`) instead of stopping at the first problem, so that a
//! partner fixing a batch sees everything that is wrong at once.

use time::{Date, Duration, Month, OffsetDateTime};

use super::{Distribution, IncidentContent, PrivateAnnex, Verification, countries};

/// Largest count accepted anywhere (victims, affected organisations).
pub const MAX_COUNT: u32 = 100_000;
/// Largest narrative, in bytes of UTF-8.
pub const MAX_NARRATIVE_BYTES: usize = 16 * 1024;
/// Largest short text (names, p-codes, references), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Largest contact or reason text, in bytes.
pub const MAX_CONTACT_BYTES: usize = 1024;
/// Largest retraction reason, in bytes.
pub const MAX_REASON_BYTES: usize = 2048;
/// Earliest accepted incident date.
pub const EARLIEST_YEAR: i32 = 1990;
/// How far in the future an occurrence date may be (time zones, clock skew).
pub const FUTURE_SKEW: Duration = Duration::days(1);

/// Why a text with a NUL character is refused.
pub const NUL_CHARACTER: &str = "must not contain NUL (U+0000) characters";

/// One bad field: its path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Collects violations under a path prefix.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<FieldViolation>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is bad.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.items.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.items
    }

    /// Checks an optional text's size (and that it holds no NUL character).
    pub fn check_text(&mut self, field: String, value: &str, max_chars: usize) {
        if value.chars().count() > max_chars {
            self.add(field.clone(), format!("at most {max_chars} characters"));
        }
        self.check_no_nul(field, value);
    }

    /// Checks a text's size in bytes (and that it holds no NUL character).
    pub fn check_bytes(&mut self, field: String, value: &str, max_bytes: usize) {
        if value.len() > max_bytes {
            self.add(field.clone(), format!("at most {max_bytes} bytes"));
        }
        self.check_no_nul(field, value);
    }

    /// Refuses U+0000: PostgreSQL text cannot hold it, so it is refused on every backend (the
    /// same input gets the same answer on SQLite and PostgreSQL).
    pub fn check_no_nul(&mut self, field: String, value: &str) {
        if value.contains('\0') {
            self.add(field, NUL_CHARACTER);
        }
    }

    /// Checks a count's range.
    pub fn check_count(&mut self, field: String, value: u32) {
        if value > MAX_COUNT {
            self.add(field, format!("must be between 0 and {MAX_COUNT}"));
        }
    }
}

/// Builds a date from proto parts, naming the field when it is not a real calendar date.
pub fn calendar_date(
    violations: &mut Violations,
    field: &str,
    year: i32,
    month: i32,
    day: i32,
) -> Option<Date> {
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok());
    let day = u8::try_from(day).ok();
    match (month, day) {
        (Some(month), Some(day)) => match Date::from_calendar_date(year, month, day) {
            Ok(date) => Some(date),
            Err(_) => {
                violations.add(
                    field,
                    "not a calendar date (year, month and day must all be set)",
                );
                None
            }
        },
        _ => {
            violations.add(
                field,
                "not a calendar date (year, month and day must all be set)",
            );
            None
        }
    }
}

/// Normalises and checks a country code; returns the alpha-3 form.
pub fn country(violations: &mut Violations, field: &str, code: &str) -> Option<String> {
    if code.trim().is_empty() {
        violations.add(
            field,
            "required: an ISO 3166-1 alpha-3 (or alpha-2) country code",
        );
        return None;
    }
    match countries::normalise_country(code) {
        Some(alpha3) => Some(alpha3.to_string()),
        None => {
            violations.add(field, "not an ISO 3166-1 country code");
            None
        }
    }
}

// Long by design: one rule per incident field, in the order of the proto; each is a few lines.
/// The rules that concern a whole incident, after its fields were decoded. `prefix` is the
/// path of the incident in the request (e.g. `incidents[3]`), `now` the hub's clock.
pub fn check_content(
    violations: &mut Violations,
    prefix: &str,
    content: &IncidentContent,
    private: Option<&PrivateAnnex>,
    now: OffsetDateTime,
) {
    let path = |field: &str| format!("{prefix}.{field}");

    if content.occurred_on.year() < EARLIEST_YEAR {
        violations.add(
            path("occurred_on"),
            format!("must not be before {EARLIEST_YEAR}"),
        );
    }
    if content.occurred_on > (now + FUTURE_SKEW).date() {
        violations.add(path("occurred_on"), "must not be in the future");
    }
    if content.incident_types.is_empty() {
        violations.add(
            path("incident_types"),
            "at least one incident type is required",
        );
    }
    for (index, kind) in content.incident_types.iter().enumerate() {
        if content.incident_types[..index].contains(kind) {
            violations.add(path(&format!("incident_types[{index}]")), "listed twice");
        }
    }
    for (field, area) in [("admin1", &content.admin1), ("admin2", &content.admin2)] {
        if let Some(area) = area {
            if area.name.trim().is_empty() {
                violations.add(
                    path(&format!("{field}.name")),
                    "required when the area is given",
                );
            }
            violations.check_text(path(&format!("{field}.name")), &area.name, MAX_NAME_CHARS);
            if let Some(pcode) = &area.pcode {
                violations.check_text(path(&format!("{field}.pcode")), pcode, 32);
            }
        }
    }
    if let Some(locality) = &content.locality {
        violations.check_text(path("locality"), locality, MAX_NAME_CHARS);
    }
    if let Some(location) = &content.location {
        if !(location.latitude.is_finite() && (-90.0..=90.0).contains(&location.latitude)) {
            violations.add(path("location.latitude"), "must be between -90 and 90");
        }
        if !(location.longitude.is_finite() && (-180.0..=180.0).contains(&location.longitude)) {
            violations.add(path("location.longitude"), "must be between -180 and 180");
        }
    }
    if let Some(name) = &content.perpetrator_name {
        violations.check_text(path("perpetrator_name"), name, MAX_NAME_CHARS);
    }
    let orgs = &content.affected_org_types;
    for (field, value) in [
        ("un", orgs.un),
        ("ingo", orgs.ingo),
        ("nngo", orgs.nngo),
        ("icrc", orgs.icrc),
        ("ifrc_nrcs", orgs.ifrc_nrcs),
        ("other", orgs.other),
    ] {
        violations.check_count(path(&format!("affected_org_types.{field}")), value);
    }
    if content.victims.len() > 1_000 {
        violations.add(path("victims"), "at most 1000 cells");
    }
    for (index, victim) in content.victims.iter().enumerate() {
        violations.check_count(path(&format!("victims[{index}].count")), victim.count);
    }
    if content.verification == Verification::Retracted {
        violations.add(
            path("verification"),
            "RETRACTED is set by RetractIncident only",
        );
    }
    if let Some(narrative) = &content.narrative {
        violations.check_bytes(path("narrative"), narrative, MAX_NARRATIVE_BYTES);
    }
    for (field, value) in [
        ("awsd", &content.external_refs.awsd),
        ("sind", &content.external_refs.sind),
        ("acled", &content.external_refs.acled),
    ] {
        if let Some(value) = value {
            violations.check_text(
                path(&format!("external_refs.{field}")),
                value,
                MAX_NAME_CHARS,
            );
        }
    }
    match (&content.distribution, &content.sharing_group) {
        (Distribution::SharingGroup, None) => violations.add(
            path("sharing_group"),
            "required when distribution is SHARING_GROUP",
        ),
        (Distribution::SharingGroup, Some(group)) => {
            violations.check_text(path("sharing_group"), group, MAX_NAME_CHARS)
        }
        (_, Some(_)) => violations.add(
            path("sharing_group"),
            "only allowed when distribution is SHARING_GROUP",
        ),
        (_, None) => {}
    }
    if let Some(private) = private {
        check_private(violations, &path("private"), private);
    }
}

fn check_private(violations: &mut Violations, prefix: &str, private: &PrivateAnnex) {
    if private.victim_identities.len() > 1_000 {
        violations.add(
            format!("{prefix}.victim_identities"),
            "at most 1000 entries",
        );
    }
    for (index, victim) in private.victim_identities.iter().enumerate() {
        let at = format!("{prefix}.victim_identities[{index}]");
        violations.check_text(format!("{at}.name"), &victim.name, MAX_NAME_CHARS);
        violations.check_text(format!("{at}.role"), &victim.role, MAX_NAME_CHARS);
        violations.check_bytes(format!("{at}.contact"), &victim.contact, MAX_CONTACT_BYTES);
    }
    violations.check_bytes(
        format!("{prefix}.reporter_contact"),
        &private.reporter_contact,
        MAX_CONTACT_BYTES,
    );
    violations.check_bytes(
        format!("{prefix}.internal_narrative"),
        &private.internal_narrative,
        MAX_NARRATIVE_BYTES,
    );
    if private.external_case_refs.len() > 100 {
        violations.add(
            format!("{prefix}.external_case_refs"),
            "at most 100 entries",
        );
    }
    for (index, reference) in private.external_case_refs.iter().enumerate() {
        violations.check_text(
            format!("{prefix}.external_case_refs[{index}]"),
            reference,
            MAX_NAME_CHARS,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;
    use time::macros::{date, datetime};

    fn sample() -> IncidentContent {
        IncidentContent {
            occurred_on: date!(2021 - 03 - 04),
            date_precision: DatePrecision::Day,
            country: "AFG".into(),
            admin1: None,
            admin2: None,
            locality: None,
            location: None,
            threat_category: ThreatCategory::ArmedConflict,
            incident_types: vec![IncidentType::Killing],
            means_of_attack: None,
            attack_context: None,
            location_type: None,
            motive: None,
            perpetrator_type: None,
            perpetrator_name: None,
            affected_org_types: AffectedOrgTypes::default(),
            victims: vec![],
            ops_impact: None,
            source_type: None,
            verification: Verification::Unverified,
            narrative: None,
            external_refs: ExternalRefs::default(),
            distribution: Distribution::Community,
            sharing_group: None,
            tlp: Tlp::Amber,
        }
    }

    fn fields(content: &IncidentContent) -> Vec<String> {
        let mut violations = Violations::new();
        check_content(
            &mut violations,
            "incidents[0]",
            content,
            None,
            datetime!(2026-11-28 12:00 UTC),
        );
        violations.into_vec().into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_good_incident_passes() {
        assert!(fields(&sample()).is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut bad = sample();
        bad.occurred_on = date!(1989 - 12 - 31);
        bad.incident_types.clear();
        bad.location = Some(Location {
            latitude: 91.0,
            longitude: f64::NAN,
            precision: GeoPrecision::Exact,
        });
        bad.victims.push(VictimCount {
            outcome: VictimOutcome::Killed,
            staff: StaffCategory::National,
            sex: Sex::Unknown,
            count: 100_001,
            estimated: false,
        });
        bad.narrative = Some("x".repeat(MAX_NARRATIVE_BYTES + 1));
        bad.distribution = Distribution::SharingGroup;
        assert_eq!(
            fields(&bad),
            [
                "incidents[0].occurred_on",
                "incidents[0].incident_types",
                "incidents[0].location.latitude",
                "incidents[0].location.longitude",
                "incidents[0].victims[0].count",
                "incidents[0].narrative",
                "incidents[0].sharing_group",
            ]
        );
    }

    #[test]
    fn future_dates_are_refused_beyond_the_skew() {
        let mut content = sample();
        content.occurred_on = date!(2026 - 11 - 29);
        assert!(fields(&content).is_empty(), "one day of skew is allowed");
        content.occurred_on = date!(2026 - 12 - 01);
        assert_eq!(fields(&content), ["incidents[0].occurred_on"]);
    }

    #[test]
    fn calendar_dates_must_exist() {
        let mut violations = Violations::new();
        assert!(calendar_date(&mut violations, "d", 2021, 2, 30).is_none());
        assert!(calendar_date(&mut violations, "d", 2021, 0, 1).is_none());
        assert_eq!(
            calendar_date(&mut violations, "d", 2024, 2, 29),
            Some(date!(2024 - 02 - 29))
        );
        assert_eq!(violations.into_vec().len(), 2);
    }
}
