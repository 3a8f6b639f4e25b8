//! The record-level disclosure rule: every incident a viewer receives below T2 belongs to a
//! class of at least `k` incidents that show the same quasi-identifiers (sharing-and-sync.md).
//!
//! This file holds the rule as data (`[records]` in the policy file), how one rung of the
//! generalisation ladder changes a rendered incident, the class key of a rendering, and the
//! assignment of a level to every incident of a population. The store-facing part (which
//! incidents form a population, caching, telling mirrors) is `record_classes`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use serde::Deserialize;

use super::{RedactedIncident, Redaction, RedactionAction};
use crate::domain::{AffectedOrgTypes, DatePrecision, IncidentContent, StaffCategory};

/// What an equivalence class is formed on (`[records] quasi_identifiers`). Country and threat
/// category are always part of the key: peer agreements and filters select on them, and a
/// selection must never split a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuasiIdentifier {
    Admin1,
    Location,
    OccurredOn,
    IncidentTypes,
    Victims,
    AffectedOrgTypes,
    OriginOrgType,
    LocationType,
    MeansOfAttack,
}

/// One rung of the generalisation ladder (`[records] ladder`), applied in order to the
/// incidents of classes still smaller than `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Coordinates withheld (the administrative areas remain).
    Location,
    /// The date shown as its month.
    Month,
    /// The date shown as its year.
    Year,
    /// Victims as one total per outcome (staff categories merged).
    VictimTotals,
    /// Victims withheld.
    Victims,
    /// Admin1 withheld (the country remains).
    Admin1,
    /// Incident types withheld (the threat category remains).
    IncidentTypes,
    /// Which organisation types were affected, without how many of each.
    OrgTypePresence,
    /// Affected organisation types withheld.
    AffectedOrgTypes,
}

/// The rule in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRule {
    /// 0 or 1: the rule is off.
    pub k: usize,
    pub quasi_identifiers: Vec<QuasiIdentifier>,
    pub ladder: Vec<Step>,
}

impl RecordRule {
    pub fn is_on(&self) -> bool {
        self.k > 1
    }
}

impl Step {
    /// The field a step changes, as `Redaction::field` names it.
    fn field(self) -> &'static str {
        match self {
            Step::Location => "location",
            Step::Month | Step::Year => "occurred_on",
            Step::VictimTotals | Step::Victims => "victims",
            Step::Admin1 => "admin1",
            Step::IncidentTypes => "incident_types",
            Step::OrgTypePresence | Step::AffectedOrgTypes => "affected_org_types",
        }
    }

    /// Applies this step to a rendering; returns whether anything shown changed.
    fn apply(self, content: &mut IncidentContent) -> bool {
        match self {
            Step::Location => content.location.take().is_some(),
            Step::Month | Step::Year => {
                let target = if self == Step::Month {
                    DatePrecision::Month
                } else {
                    DatePrecision::Year
                };
                if content.date_precision >= target {
                    return false;
                }
                content.occurred_on = content.date_at(target);
                content.date_precision = target;
                true
            }
            Step::VictimTotals => {
                let merged = super::redact::merge(&content.victims, |_| StaffCategory::Unknown);
                let changed = merged != content.victims;
                content.victims = merged;
                changed
            }
            Step::Victims => !std::mem::take(&mut content.victims).is_empty(),
            Step::Admin1 => content.admin1.take().is_some(),
            Step::IncidentTypes => !std::mem::take(&mut content.incident_types).is_empty(),
            Step::OrgTypePresence => {
                let orgs = &mut content.affected_org_types;
                let before = *orgs;
                for count in [
                    &mut orgs.un,
                    &mut orgs.ingo,
                    &mut orgs.nngo,
                    &mut orgs.icrc,
                    &mut orgs.ifrc_nrcs,
                    &mut orgs.other,
                ] {
                    *count = (*count).min(1);
                }
                *orgs != before
            }
            Step::AffectedOrgTypes => {
                let changed = content.affected_org_types != AffectedOrgTypes::default();
                content.affected_org_types = AffectedOrgTypes::default();
                changed
            }
        }
    }

    /// Whether the field is gone after this step (rather than shown coarser).
    fn removes(self) -> bool {
        matches!(
            self,
            Step::Location
                | Step::Victims
                | Step::Admin1
                | Step::IncidentTypes
                | Step::AffectedOrgTypes
        )
    }

    fn explain(self, k: usize) -> String {
        let what = match self {
            Step::Location => "coordinates withheld",
            Step::Month => "date given as its month",
            Step::Year => "date given as its year",
            Step::VictimTotals => "victims given as totals per outcome",
            Step::Victims => "victims withheld",
            Step::Admin1 => "admin1 withheld",
            Step::IncidentTypes => "incident types withheld (the threat category is given)",
            Step::OrgTypePresence => "affected organisation types given without their numbers",
            Step::AffectedOrgTypes => "affected organisation types withheld",
        };
        format!("{what} so that at least {k} incidents you receive look alike (k-anonymity)")
    }
}

/// Renders `redacted` at `level`: the first `level` steps of the ladder, each listed among
/// the incident's redactions (replacing what tier redaction said of the same field).
pub fn generalise(rule: &RecordRule, redacted: &mut RedactedIncident, level: usize) {
    redacted.record_level = level;
    for step in rule.ladder.iter().take(level) {
        if !step.apply(&mut redacted.incident.content) {
            continue;
        }
        let field = step.field();
        redacted
            .redactions
            .retain(|redaction| redaction.field != field);
        redacted.redactions.push(Redaction {
            field,
            action: if step.removes() {
                RedactionAction::Removed
            } else {
                RedactionAction::Generalised
            },
            detail: step.explain(rule.k),
        });
    }
}

/// A class key: 128 bits of two independently keyed hashes of the shown quasi-identifiers
/// (equal renderings, equal keys; a false match between different ones is negligible).
pub type ClassKey = (u64, u64);

/// Hashes class keys for one computation (keys are compared within it only).
pub struct KeyHasher {
    first: std::collections::hash_map::RandomState,
    second: std::collections::hash_map::RandomState,
}

impl Default for KeyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyHasher {
    pub fn new() -> Self {
        Self {
            first: std::collections::hash_map::RandomState::new(),
            second: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The class key of a rendering: country, threat category and the policy's
    /// quasi-identifiers, as shown.
    pub fn key(&self, rule: &RecordRule, content: &IncidentContent, org_type: &str) -> ClassKey {
        let mut first = self.first.build_hasher();
        let mut second = self.second.build_hasher();
        let mut feed = |value: &dyn Fn(&mut dyn Hasher)| {
            value(&mut first);
            value(&mut second);
        };
        feed(&|h| h.write(content.country.as_bytes()));
        feed(&|h| h.write(content.threat_category.as_str().as_bytes()));
        for qi in &rule.quasi_identifiers {
            feed(&|h| h.write_u8(*qi as u8 + 1));
            match qi {
                QuasiIdentifier::Admin1 => feed(&|h| {
                    let area = content.admin1.as_ref();
                    area.map(|a| a.name.to_lowercase()).hash(&mut HashTo(h));
                }),
                QuasiIdentifier::Location => feed(&|h| {
                    content
                        .location
                        .map(|l| (l.latitude.to_bits(), l.longitude.to_bits(), l.precision))
                        .hash(&mut HashTo(h))
                }),
                QuasiIdentifier::OccurredOn => {
                    feed(&|h| (content.occurred_on, content.date_precision).hash(&mut HashTo(h)))
                }
                QuasiIdentifier::IncidentTypes => feed(&|h| {
                    let mut kinds: Vec<&str> =
                        content.incident_types.iter().map(|k| k.as_str()).collect();
                    kinds.sort_unstable();
                    kinds.dedup();
                    kinds.hash(&mut HashTo(h))
                }),
                QuasiIdentifier::Victims => feed(&|h| {
                    let mut cells: Vec<(&str, &str, &str, u32)> = content
                        .victims
                        .iter()
                        .filter(|cell| cell.count > 0)
                        .map(|c| {
                            (
                                c.outcome.as_str(),
                                c.staff.as_str(),
                                c.sex.as_str(),
                                c.count,
                            )
                        })
                        .collect();
                    cells.sort_unstable();
                    cells.hash(&mut HashTo(h))
                }),
                QuasiIdentifier::AffectedOrgTypes => feed(&|h| {
                    let o = &content.affected_org_types;
                    (o.un, o.ingo, o.nngo, o.icrc, o.ifrc_nrcs, o.other).hash(&mut HashTo(h))
                }),
                QuasiIdentifier::OriginOrgType => feed(&|h| h.write(org_type.as_bytes())),
                QuasiIdentifier::LocationType => feed(&|h| {
                    content
                        .location_type
                        .map(|kind| kind.as_str())
                        .hash(&mut HashTo(h))
                }),
                QuasiIdentifier::MeansOfAttack => feed(&|h| {
                    content
                        .means_of_attack
                        .map(|kind| kind.as_str())
                        .hash(&mut HashTo(h))
                }),
            }
        }
        (first.finish(), second.finish())
    }
}

/// The class keys of one rendering at every level of the ladder (index 0: as given; index i:
/// after the first i steps).
pub fn level_keys(
    rule: &RecordRule,
    hasher: &KeyHasher,
    mut content: IncidentContent,
    org_type: &str,
) -> Vec<ClassKey> {
    let mut keys = Vec::with_capacity(rule.ladder.len() + 1);
    keys.push(hasher.key(rule, &content, org_type));
    for step in &rule.ladder {
        step.apply(&mut content);
        keys.push(hasher.key(rule, &content, org_type));
    }
    keys
}

/// Adapts a `&mut dyn Hasher` to `Hash::hash`'s generic parameter.
struct HashTo<'a>(&'a mut dyn Hasher);

impl Hasher for HashTo<'_> {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes)
    }
}

/// One incident of a population: its class key at every level (index 0: the tier's
/// rendering; index i: after the first i steps) and who may not count it (its owner: a viewer
/// never counts its own organisation's incidents, which it knows).
#[derive(Debug, Clone)]
pub struct Member {
    pub keys: Vec<ClassKey>,
    pub owner: u32,
}

/// A class at its final level: its size and how many of it each owner holds.
#[derive(Debug, Clone, Default)]
struct Class {
    size: u32,
    by_owner: Vec<(u32, u32)>,
}

/// The level of every member of a population, and its classes.
#[derive(Debug, Default)]
pub struct Assignment {
    /// Per member: its level, or `None` when no level hides it (withheld).
    levels: Vec<Option<u8>>,
    classes: HashMap<ClassKey, Class>,
    keys: Vec<ClassKey>,
    k: u32,
}

impl Assignment {
    /// Local recoding then local suppression: every member of a class smaller than `k` takes
    /// the next step; classes are counted again after each step (a class that reached `k`
    /// only grows); what is still in a class under `k` after the last step is withheld.
    pub fn compute(members: &[Member], k: usize, steps: usize) -> Assignment {
        let mut levels: Vec<usize> = vec![0; members.len()];
        let key_at = |index: usize, level: usize| members[index].keys[level.min(steps)];
        for step in 1..=steps {
            let mut sizes: HashMap<ClassKey, usize> = HashMap::new();
            for (index, level) in levels.iter().enumerate() {
                *sizes.entry(key_at(index, *level)).or_default() += 1;
            }
            for (index, level) in levels.iter_mut().enumerate() {
                if sizes.get(&key_at(index, *level)).copied().unwrap_or(0) < k {
                    *level = step;
                }
            }
        }
        let mut classes: HashMap<ClassKey, Class> = HashMap::new();
        let keys: Vec<ClassKey> = (0..members.len())
            .map(|index| key_at(index, levels[index]))
            .collect();
        for (index, key) in keys.iter().enumerate() {
            let class = classes.entry(*key).or_default();
            class.size += 1;
            let owner = members[index].owner;
            match class.by_owner.iter_mut().find(|(who, _)| *who == owner) {
                Some((_, count)) => *count += 1,
                None => class.by_owner.push((owner, 1)),
            }
        }
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        let levels = levels
            .iter()
            .zip(&keys)
            .map(|(level, key)| {
                let size = classes.get(key).map_or(0, |class| class.size);
                (size >= k).then(|| u8::try_from(*level).unwrap_or(u8::MAX))
            })
            .collect();
        Assignment {
            levels,
            classes,
            keys,
            k,
        }
    }

    /// The level member `index` is shown at to a viewer that owns the incidents of `viewer`
    /// (`None`: owns none here), or `None` when it is withheld from that viewer: its class
    /// without the viewer's own incidents is smaller than `k`.
    pub fn level_for(&self, index: usize, viewer: Option<u32>) -> Option<u8> {
        let level = (*self.levels.get(index)?)?;
        let class = self.classes.get(self.keys.get(index)?)?;
        let own = viewer
            .and_then(|viewer| class.by_owner.iter().find(|(who, _)| *who == viewer))
            .map_or(0, |(_, count)| *count);
        (class.size - own >= self.k).then_some(level)
    }

    /// What a mirror must be told about when it changes: the level, and the owners the member
    /// is withheld from although its class reaches `k` ("-" when withheld from everyone).
    pub fn rendering_state(&self, index: usize) -> String {
        let Some(Some(level)) = self.levels.get(index) else {
            return "-".to_string();
        };
        let Some(class) = self.keys.get(index).and_then(|key| self.classes.get(key)) else {
            return "-".to_string();
        };
        let mut excluded: Vec<u32> = class
            .by_owner
            .iter()
            .filter(|(_, own)| class.size - own < self.k)
            .map(|(owner, _)| *owner)
            .collect();
        excluded.sort_unstable();
        if excluded.is_empty() {
            level.to_string()
        } else {
            let owners: Vec<String> = excluded.iter().map(u32::to_string).collect();
            format!("{level}!{}", owners.join(","))
        }
    }
}

/// `[records]` as written in the policy file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordRules {
    k: usize,
    quasi_identifiers: Vec<QuasiIdentifier>,
    ladder: Vec<Step>,
}

impl RecordRules {
    pub(super) fn check(self) -> Result<RecordRule, String> {
        if self.k > 100 {
            return Err(format!("records.k: {} (0 to 100)", self.k));
        }
        if self.ladder.len() > 32 {
            return Err("records.ladder: at most 32 steps".into());
        }
        Ok(RecordRule {
            k: self.k,
            quasi_identifiers: self.quasi_identifiers,
            ladder: self.ladder,
        })
    }
}

impl Default for RecordRules {
    /// A policy without `[records]` keeps the protection (k = 3) rather than losing it.
    fn default() -> Self {
        Self {
            k: 3,
            quasi_identifiers: vec![
                QuasiIdentifier::Admin1,
                QuasiIdentifier::Location,
                QuasiIdentifier::OccurredOn,
                QuasiIdentifier::IncidentTypes,
                QuasiIdentifier::Victims,
                QuasiIdentifier::AffectedOrgTypes,
            ],
            ladder: vec![
                Step::Location,
                Step::Month,
                Step::VictimTotals,
                Step::OrgTypePresence,
                Step::Year,
                Step::Admin1,
                Step::IncidentTypes,
                Step::Victims,
                Step::AffectedOrgTypes,
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(keys: &[u64], owner: u32) -> Member {
        Member {
            keys: keys.iter().map(|key| (*key, 0)).collect(),
            owner,
        }
    }

    #[test]
    fn small_classes_climb_the_ladder_then_are_withheld() {
        // Three alike at level 0; two meet only at level 1; one alone at every level.
        let members = vec![
            member(&[1, 10], 0),
            member(&[1, 10], 1),
            member(&[1, 10], 2),
            member(&[2, 20], 0),
            member(&[3, 20], 1),
            member(&[4, 40], 2),
        ];
        let assignment = Assignment::compute(&members, 3, 1);
        assert_eq!(assignment.level_for(0, None), Some(0));
        // Class {3, 4} at level 1 has two members: withheld.
        assert_eq!(assignment.level_for(3, None), None);
        assert_eq!(assignment.level_for(5, None), None);
        let members = vec![
            member(&[1, 10], 0),
            member(&[2, 10], 1),
            member(&[3, 10], 2),
            member(&[4, 40], 3),
        ];
        let assignment = Assignment::compute(&members, 3, 1);
        assert_eq!(assignment.level_for(0, None), Some(1));
        assert_eq!(assignment.level_for(2, None), Some(1));
        assert_eq!(assignment.level_for(3, None), None);
        assert_eq!(assignment.rendering_state(3), "-");
    }

    #[test]
    fn a_viewer_never_counts_its_own_incidents() {
        let members = vec![
            member(&[1], 7),
            member(&[1], 7),
            member(&[1], 8),
            member(&[1], 9),
        ];
        let assignment = Assignment::compute(&members, 3, 0);
        // Org 7 would see two others' incidents: withheld from it; released to 8, 9 and
        // viewers that own none of them.
        assert_eq!(assignment.level_for(2, Some(7)), None);
        assert_eq!(assignment.level_for(2, Some(8)), Some(0));
        assert_eq!(assignment.level_for(2, None), Some(0));
        assert_eq!(assignment.rendering_state(2), "0!7");
    }

    #[test]
    fn the_assignment_does_not_depend_on_input_order() {
        let members: Vec<Member> = (0..60u64)
            .map(|i| member(&[i % 7, i % 3, 0], (i % 4) as u32))
            .collect();
        let forward = Assignment::compute(&members, 3, 2);
        let mut reversed = members.clone();
        reversed.reverse();
        let backward = Assignment::compute(&reversed, 3, 2);
        for index in 0..members.len() {
            assert_eq!(
                forward.level_for(index, None),
                backward.level_for(members.len() - 1 - index, None)
            );
        }
    }
}
