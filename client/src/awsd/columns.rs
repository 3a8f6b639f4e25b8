//! The AWSD export's columns and one row's fields, addressed by column.

/// The AWSD columns, in export order; the reader finds them by name, so order may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Col {
    IncidentId,
    Year,
    Month,
    Day,
    CountryCode,
    Country,
    Region,
    District,
    City,
    Un,
    Ingo,
    Icrc,
    IfrcNrcs,
    Nngo,
    OtherOrg,
    NationalsKilled,
    NationalsWounded,
    NationalsKidnapped,
    TotalNationals,
    InternationalsKilled,
    InternationalsWounded,
    InternationalsKidnapped,
    TotalInternationals,
    TotalKilled,
    TotalWounded,
    TotalKidnapped,
    TotalAffected,
    GenderMale,
    GenderFemale,
    GenderUnknown,
    Means,
    Context,
    Location,
    Latitude,
    Longitude,
    Motive,
    ActorType,
    ActorName,
    Details,
    Verified,
    Source,
}

pub(super) const COLUMN_NAMES: [&str; 41] = [
    "Incident ID",
    "Year",
    "Month",
    "Day",
    "Country Code",
    "Country",
    "Region",
    "District",
    "City",
    "UN",
    "INGO",
    "ICRC",
    "NRCS and IFRC",
    "NNGO",
    "Other",
    "Nationals killed",
    "Nationals wounded",
    "Nationals kidnapped",
    "Total nationals",
    "Internationals killed",
    "Internationals wounded",
    "Internationals kidnapped",
    "Total internationals",
    "Total killed",
    "Total wounded",
    "Total kidnapped",
    "Total affected",
    "Gender Male",
    "Gender Female",
    "Gender Unknown",
    "Means of attack",
    "Attack context",
    "Location",
    "Latitude",
    "Longitude",
    "Motive",
    "Actor type",
    "Actor name",
    "Details",
    "Verified",
    "Source",
];

impl Col {
    pub(super) fn name(self) -> &'static str {
        COLUMN_NAMES[self as usize]
    }
}

/// One row's fields in `Col` order.
pub(super) struct Row<'a> {
    pub(super) fields: &'a [String],
}

impl Row<'_> {
    pub(super) fn get(&self, col: Col) -> &str {
        self.fields.get(col as usize).map_or("", |text| text.trim())
    }
}
