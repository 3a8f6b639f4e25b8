//! What a read asks for, as plain data: the filter a caller chose and the visibility scope the
//! policy engine granted. The store turns both into SQL; neither knows the other's rules.

use time::Date;

use super::{DatePrecision, Distribution, IncidentType, ThreatCategory, Tlp, Verification};

/// Which incidents a principal may see (produced by the policy engine). An incident is in scope
/// when (it is `own_org`'s, or its distribution is shared, or it is shared with one of
/// `sharing_groups`) and its TLP is allowed and it did not come from `excluded_origin_hub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityScope {
    /// Incidents of this org are visible whatever their distribution.
    pub own_org: Option<String>,
    /// Other orgs' incidents are visible when their distribution is one of these.
    pub shared_distributions: Vec<Distribution>,
    /// SHARING_GROUP incidents of these groups are visible.
    pub sharing_groups: Vec<String>,
    /// When set, only incidents with one of these markings.
    pub allowed_tlps: Option<Vec<Tlp>>,
    /// Incidents that came from this hub are not visible (never serve back to the origin).
    pub excluded_origin_hub: Option<String>,
    /// How precisely the viewer sees the dates of its own org's and of other orgs' incidents:
    /// date filters compare the date at that precision, never a finer one.
    pub own_date_precision: DatePrecision,
    pub others_date_precision: DatePrecision,
    /// Whether the viewer may see (and so filter on) the origin org of other orgs' incidents.
    pub others_origin_visible: bool,
}

/// A caller's filter over incidents. Fields combine with AND, values within a field with OR;
/// an empty field does not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// ISO alpha-3 codes.
    pub countries: Vec<String>,
    /// admin1 names, lower-cased.
    pub admin1: Vec<String>,
    pub occurred_from: Option<Date>,
    pub occurred_to: Option<Date>,
    pub incident_types: Vec<IncidentType>,
    pub threat_categories: Vec<ThreatCategory>,
    /// When empty: every status but RETRACTED.
    pub verifications: Vec<Verification>,
    pub origin_orgs: Vec<String>,
}

impl IncidentFilter {
    /// The filter without its parts on values the record rule may generalise (admin1, date,
    /// incident types): the store applies this part, [`Self::matches_shown`] the rest on what
    /// the viewer receives, so a filter never selects on a value the viewer was not given.
    pub fn without_generalisable(&self) -> IncidentFilter {
        IncidentFilter {
            admin1: Vec::new(),
            occurred_from: None,
            occurred_to: None,
            incident_types: Vec::new(),
            ..self.clone()
        }
    }

    /// Whether an incident as shown matches the admin1, date and incident-type parts (a
    /// withheld value matches no filter on it; a generalised date is compared as shown).
    pub fn matches_shown(&self, content: &super::IncidentContent) -> bool {
        let admin1_ok = self.admin1.is_empty()
            || content.admin1.as_ref().is_some_and(|area| {
                let key = area.name.trim().to_lowercase();
                self.admin1.contains(&key)
            });
        let from_ok = self
            .occurred_from
            .is_none_or(|from| content.occurred_on >= from);
        let to_ok = self.occurred_to.is_none_or(|to| content.occurred_on <= to);
        let types_ok = self.incident_types.is_empty()
            || content
                .incident_types
                .iter()
                .any(|kind| self.incident_types.contains(kind));
        admin1_ok && from_ok && to_ok && types_ok
    }
}

/// The width of one period of the threat picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    Week,
    Month,
    Quarter,
    Year,
}

/// Which area a row of the threat picture stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AreaLevel {
    Country,
    Admin1,
}

/// What the rows of an area are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PictureGroup {
    ThreatCategory,
    IncidentType,
    None,
}

/// What the store counts for the threat picture: incidents within the scope, not retracted, in
/// `countries` (and `admin1`, when given), whose date *as the viewer is shown it* lies in
/// `from..=to`, grouped by area, group and that shown date's bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureQuery<'a> {
    pub scope: &'a VisibilityScope,
    pub countries: &'a [String],
    /// Lower-cased admin1 names; empty: all.
    pub admin1: &'a [String],
    pub from: Date,
    pub to: Date,
    pub area_level: AreaLevel,
    pub group_by: PictureGroup,
    /// Bucket of the shown date: `Week` groups by day (the caller folds days into weeks),
    /// `Month` and `Quarter` by `YYYY-MM`, `Year` by `YYYY`.
    pub bucket: Granularity,
    /// The victims of the caller's own org's incidents and of other orgs' as the caller is
    /// shown them (`policy::redact`): victims are counted at that detail, never finer.
    pub own_victims: VictimDetail,
    pub others_victims: VictimDetail,
}

/// How finely a viewer is shown an incident's victims (by outcome x staff category).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VictimDetail {
    /// Every staff category as recorded.
    Exact,
    /// An outcome with a staff category counting from 1 to `n - 1` victims is shown as one
    /// total with staff UNKNOWN (the victims field's `small_cell` rule).
    MergeSmall(u32),
    /// Staff UNKNOWN for every outcome.
    StaffUnknown,
}
