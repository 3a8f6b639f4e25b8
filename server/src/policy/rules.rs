//! The policy file: every rule the redaction engine applies, as data. Loaded and checked once;
//! a file that leaves a field without a tier, or names an unknown value, is refused (the hub does
//! not start with a policy it cannot apply completely).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::Tier;
use crate::domain::{DatePrecision, LocationType, PerpetratorType};
use crate::identity::Role;

/// The built-in policy (used when the hub config names no policy file).
/// The live feed's batch when a policy file does not say, and the longest allowed (a day).
pub const DEFAULT_LIVE_BATCH_SECONDS: u64 = 900;
pub const MAX_LIVE_BATCH_SECONDS: u64 = 86_400;

pub const DEFAULT_POLICY_TOML: &str = include_str!("../../policy/default.toml");

/// Every field path of `slt.v1.Incident` that redaction decides on.
pub const INCIDENT_FIELDS: &[&str] = &[
    "id",
    "version",
    "origin_org",
    "origin_hub",
    "origin_org_type",
    "occurred_on",
    "date_precision",
    "reported_at",
    "country",
    "admin1",
    "admin2",
    "locality",
    "location",
    "threat_category",
    "incident_types",
    "means_of_attack",
    "attack_context",
    "location_type",
    "motive",
    "perpetrator_type",
    "perpetrator_name",
    "affected_org_types",
    "victims",
    "ops_impact",
    "source_type",
    "verification",
    "narrative",
    "private",
    "external_refs",
    "distribution",
    "sharing_group",
    "tlp",
    "retraction_reason",
    "updated_at",
];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("could not read policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy {origin} is invalid: {message}")]
    Invalid { origin: String, message: String },
}

/// The checked rules.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRules {
    pub version: String,
    field_tiers: BTreeMap<String, Tier>,
    pub sensitive_perpetrators: BTreeSet<PerpetratorType>,
    pub sensitive_perpetrator_tier: Tier,
    origin_roles: BTreeMap<Role, Tier>,
    other_roles: BTreeMap<Role, Tier>,
    pub peer_hub_default: Tier,
    pub peer_hub_max: Tier,
    /// Degrees of rounding per tier (exact at T3; removed where absent).
    pub round_degrees: BTreeMap<Tier, f64>,
    pub sensitive_location_types: BTreeSet<LocationType>,
    /// Date generalisation per tier below the occurred_on tier.
    pub date_generalisation: BTreeMap<Tier, DatePrecision>,
    pub victim_totals_tier: Tier,
    pub victim_small_cell: u32,
    pub aggregate_k: u64,
    pub aggregate_exact_tier: Tier,
    /// How counts below `aggregate_exact_tier` are protected.
    pub aggregate_method: AggregateMethod,
    /// Seconds of the live feed's batches for viewers below the timestamps' tier (0: no
    /// batching); see `policy::timing`.
    pub live_batch_seconds: u64,
    /// k-anonymity of the records viewers receive below T2 (`policy::record_rule`).
    pub record_rule: super::record_rule::RecordRule,
}

impl PolicyRules {
    /// The built-in policy.
    pub fn builtin() -> Result<PolicyRules, PolicyError> {
        PolicyRules::parse(DEFAULT_POLICY_TOML, "built-in policy")
    }

    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<PolicyRules, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        PolicyRules::parse(&text, &path.display().to_string())
    }

    // Long by design: one check per policy-file section, in file order, so a reader can match
    // errors to the file.
    /// Parses and checks policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<PolicyRules, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
        if file.version.trim().is_empty() {
            return Err(invalid("version must not be empty".into()));
        }
        let mut field_tiers = BTreeMap::new();
        for (field, tier) in &file.field_tiers {
            if !INCIDENT_FIELDS.contains(&field.as_str()) {
                return Err(invalid(format!("field_tiers: unknown field '{field}'")));
            }
            field_tiers.insert(field.clone(), *tier);
        }
        if let Some(missing) = INCIDENT_FIELDS
            .iter()
            .find(|field| !field_tiers.contains_key(**field))
        {
            return Err(invalid(format!("field_tiers: no tier for '{missing}'")));
        }
        if field_tiers.get("private") != Some(&Tier::T3) {
            return Err(invalid("field_tiers: 'private' must be T3".into()));
        }
        let parse_all = |names: &[String], what: &str, parse: &dyn Fn(&str) -> bool| {
            names
                .iter()
                .find(|name| !parse(name))
                .map(|name| invalid(format!("{what}: unknown value '{name}'")))
        };
        if let Some(error) = parse_all(
            &file.perpetrator_types.sensitive,
            "perpetrator_types.sensitive",
            &|name| PerpetratorType::parse(name).is_some(),
        ) {
            return Err(error);
        }
        if let Some(error) = parse_all(
            &file.location.sensitive_location_types,
            "location.sensitive_location_types",
            &|name| LocationType::parse(name).is_some(),
        ) {
            return Err(error);
        }
        let roles = |table: &BTreeMap<String, Tier>, what: &str| {
            table
                .iter()
                .map(|(name, tier)| {
                    Role::parse(name)
                        .map(|role| (role, *tier))
                        .ok_or_else(|| invalid(format!("{what}: unknown role '{name}'")))
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
        };
        let origin_roles = roles(&file.role_tiers.origin, "role_tiers.origin")?;
        let other_roles = roles(&file.role_tiers.other, "role_tiers.other")?;
        if other_roles.values().any(|tier| *tier == Tier::T3) {
            return Err(invalid(
                "role_tiers.other: T3 never leaves the origin org".into(),
            ));
        }
        if file.role_tiers.peer_hub_max > Tier::T2
            || file.role_tiers.peer_hub_default > file.role_tiers.peer_hub_max
        {
            return Err(invalid(
                "role_tiers: peer hubs get at most T2, and the default may not exceed the cap"
                    .into(),
            ));
        }
        for (tier, degrees) in &file.location.round_degrees {
            if !(degrees.is_finite() && *degrees > 0.0 && *degrees <= 10.0) || *tier == Tier::T3 {
                return Err(invalid(format!(
                    "location.round_degrees: {tier:?} = {degrees} (T0..T2, 0 < degrees <= 10)"
                )));
            }
        }
        let mut date_generalisation = BTreeMap::new();
        for (tier, precision) in &file.dates.generalise {
            let precision = DatePrecision::parse(precision).ok_or_else(|| {
                invalid(format!("dates.generalise: unknown precision '{precision}'"))
            })?;
            date_generalisation.insert(*tier, precision);
        }
        let live_batch_seconds = file.live_feed.batch_seconds;
        if live_batch_seconds > MAX_LIVE_BATCH_SECONDS {
            return Err(invalid(format!(
                "live_feed.batch_seconds: {live_batch_seconds} (0 to {MAX_LIVE_BATCH_SECONDS})"
            )));
        }
        if file.victims.small_cell == 0 || file.aggregate.k == 0 {
            return Err(invalid(
                "victims.small_cell and aggregate.k must be at least 1".into(),
            ));
        }
        let record_rule = file.records.check().map_err(invalid)?;
        Ok(PolicyRules {
            version: file.version.trim().to_string(),
            field_tiers,
            sensitive_perpetrators: file
                .perpetrator_types
                .sensitive
                .iter()
                .filter_map(|name| PerpetratorType::parse(name))
                .collect(),
            sensitive_perpetrator_tier: file.perpetrator_types.sensitive_tier,
            origin_roles,
            other_roles,
            peer_hub_default: file.role_tiers.peer_hub_default,
            peer_hub_max: file.role_tiers.peer_hub_max,
            round_degrees: file.location.round_degrees,
            sensitive_location_types: file
                .location
                .sensitive_location_types
                .iter()
                .filter_map(|name| LocationType::parse(name))
                .collect(),
            date_generalisation,
            victim_totals_tier: file.victims.totals_tier,
            victim_small_cell: file.victims.small_cell,
            aggregate_k: file.aggregate.k,
            aggregate_exact_tier: file.aggregate.exact_tier,
            aggregate_method: file.aggregate.method,
            live_batch_seconds,
            record_rule,
        })
    }

    /// The tier of a field (every field has one; unknown paths count as T3, failing closed).
    pub fn field_tier(&self, field: &str) -> Tier {
        self.field_tiers.get(field).copied().unwrap_or(Tier::T3)
    }

    /// The tier a role gets on its own org's incidents.
    pub fn origin_tier(&self, role: Role) -> Option<Tier> {
        self.origin_roles.get(&role).copied()
    }

    /// The tier a role gets on other orgs' visible incidents.
    pub fn other_tier(&self, role: Role) -> Option<Tier> {
        self.other_roles.get(&role).copied()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: String,
    field_tiers: BTreeMap<String, Tier>,
    perpetrator_types: PerpetratorTypes,
    role_tiers: RoleTiers,
    location: LocationRules,
    dates: DateRules,
    victims: VictimRules,
    aggregate: AggregateRules,
    /// Absent: the built-in default (a policy written before the setting existed keeps the
    /// protection rather than silently losing it).
    #[serde(default)]
    live_feed: LiveFeedRules,
    /// Absent: the built-in default (k = 3), for the same reason.
    #[serde(default)]
    records: super::record_rule::RecordRules,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveFeedRules {
    batch_seconds: u64,
}

impl Default for LiveFeedRules {
    fn default() -> Self {
        Self {
            batch_seconds: DEFAULT_LIVE_BATCH_SECONDS,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PerpetratorTypes {
    sensitive: Vec<String>,
    sensitive_tier: Tier,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleTiers {
    origin: BTreeMap<String, Tier>,
    other: BTreeMap<String, Tier>,
    peer_hub_default: Tier,
    peer_hub_max: Tier,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationRules {
    round_degrees: BTreeMap<Tier, f64>,
    sensitive_location_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DateRules {
    generalise: BTreeMap<Tier, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VictimRules {
    totals_tier: Tier,
    small_cell: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateRules {
    k: u64,
    exact_tier: Tier,
    #[serde(default)]
    method: AggregateMethod,
}

/// How the threat picture protects counts below the exact tier (`[aggregate] method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateMethod {
    /// k-suppression with secondary suppression (`policy::aggregate`): exact numbers or none,
    /// not coordinated across requests.
    #[default]
    Suppress,
    /// Cell-key perturbation (`policy::cell_key`): every count and total perturbed by a fixed
    /// function of the incidents behind it; no 1 or 2 published; consistent across requests.
    CellKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_policy_is_complete() {
        let rules = PolicyRules::builtin().expect("built-in policy");
        assert_eq!(rules.field_tier("private"), Tier::T3);
        assert_eq!(rules.field_tier("narrative"), Tier::T2);
        assert_eq!(rules.field_tier("country"), Tier::T0);
        assert_eq!(rules.origin_tier(Role::Reporter), Some(Tier::T3));
        assert_eq!(rules.other_tier(Role::Analyst), Some(Tier::T1));
        assert_eq!(rules.other_tier(Role::Auditor), None);
        assert_eq!(rules.aggregate_k, 5);
    }

    #[test]
    fn a_policy_missing_a_field_is_refused() {
        let text = DEFAULT_POLICY_TOML.replace("narrative = \"T2\"\n", "");
        let error = PolicyRules::parse(&text, "test").expect_err("incomplete");
        assert!(
            error.to_string().contains("no tier for 'narrative'"),
            "{error}"
        );
    }

    #[test]
    fn t3_cannot_be_granted_outside_the_origin_org() {
        let text = DEFAULT_POLICY_TOML.replace(
            "other = { focal_point = \"T2\"",
            "other = { focal_point = \"T3\"",
        );
        assert!(PolicyRules::parse(&text, "test").is_err());
        let text = DEFAULT_POLICY_TOML.replace("private = \"T3\"", "private = \"T2\"");
        assert!(PolicyRules::parse(&text, "test").is_err());
    }

    #[test]
    fn unknown_names_are_refused() {
        let text = DEFAULT_POLICY_TOML.replace("\"CUSTODY\"", "\"DUNGEON\"");
        assert!(PolicyRules::parse(&text, "test").is_err());
        let text = DEFAULT_POLICY_TOML.replace("tlp = \"T0\"", "tlp = \"T0\"\ncolour = \"T0\"");
        assert!(PolicyRules::parse(&text, "test").is_err());
    }
}
