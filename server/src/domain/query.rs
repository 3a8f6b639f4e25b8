//! What a read asks for, as plain data: the filter a caller chose and the visibility scope the
//! policy engine granted. The store turns both into SQL; neither knows the other's rules.

use time::Date;

use super::{Distribution, IncidentType, ThreatCategory, Verification};

/// Which incidents a principal may see (produced by `policy::visibility_scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityScope {
    /// Incidents of this org are visible whatever their distribution.
    pub own_org: String,
    /// Other orgs' incidents are visible when their distribution is one of these.
    pub shared_distributions: Vec<Distribution>,
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
