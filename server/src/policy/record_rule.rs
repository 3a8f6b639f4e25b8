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

/// Puts a rendering in the rule's normal form, so that incidents of one class look alike in
/// every byte the key covers: incident types sorted without repeats, empty victim cells
/// dropped and the rest sorted. Also withholds the external references: public event ids
/// (ACLED, AWSD, SIND) would give back every value the ladder generalises.
pub fn normalise(redacted: &mut RedactedIncident) {
    let content = &mut redacted.incident.content;
    content
        .incident_types
        .sort_unstable_by_key(|kind| kind.as_str());
    content.incident_types.dedup();
    content.victims.retain(|cell| cell.count > 0);
    content
        .victims
        .sort_by_key(|c| (c.outcome.as_str(), c.staff.as_str(), c.sex.as_str()));
    content.external_refs = Default::default();
    redacted
        .redactions
        .retain(|redaction| redaction.field != "external_refs");
    redacted.redactions.push(Redaction {
        field: "external_refs",
        action: RedactionAction::Removed,
        detail: "withheld below T2 under the record rule: public event ids would give back the \
                 exact date, place and victims"
            .to_string(),
    });
}

/// Renders `redacted` at `level`: normalised, then the first `level` steps of the ladder,
/// each listed among the incident's redactions whether or not it changed this incident's
/// value (so the list does not tell class members apart), replacing what tier redaction said
/// of the same field.
pub fn generalise(rule: &RecordRule, redacted: &mut RedactedIncident, level: usize) {
    normalise(redacted);
    redacted.record_level = level;
    for step in rule.ladder.iter().take(level) {
        step.apply(&mut redacted.incident.content);
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

    /// The class key of a normalised rendering: country, threat category, `context` (what
    /// else every viewer of the population is shown about the incident's origin) and the
    /// policy's quasi-identifiers, as shown.
    pub fn key(&self, rule: &RecordRule, content: &IncidentContent, context: &str) -> ClassKey {
        let mut first = self.first.build_hasher();
        let mut second = self.second.build_hasher();
        let mut feed = |value: &dyn Fn(&mut dyn Hasher)| {
            value(&mut first);
            value(&mut second);
        };
        feed(&|h| h.write(content.country.as_bytes()));
        feed(&|h| h.write(content.threat_category.as_str().as_bytes()));
        feed(&|h| h.write(context.as_bytes()));
        for qi in &rule.quasi_identifiers {
            feed(&|h| h.write_u8(*qi as u8 + 1));
            match qi {
                QuasiIdentifier::Admin1 => feed(&|h| {
                    let area = content.admin1.as_ref();
                    area.map(|a| (a.name.as_str(), a.pcode.as_deref()))
                        .hash(&mut HashTo(h));
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
                    let kinds: Vec<&str> =
                        content.incident_types.iter().map(|k| k.as_str()).collect();
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

/// The class keys of one rendering (normalised here) at every level of the ladder (index 0:
/// as the tier gives it; index i: after the first i steps).
pub fn level_keys(
    rule: &RecordRule,
    hasher: &KeyHasher,
    mut redacted: RedactedIncident,
    context: &str,
) -> Vec<ClassKey> {
    normalise(&mut redacted);
    let mut content = redacted.incident.content;
    let mut keys = Vec::with_capacity(rule.ladder.len() + 1);
    keys.push(hasher.key(rule, &content, context));
    for step in &rule.ladder {
        step.apply(&mut content);
        keys.push(hasher.key(rule, &content, context));
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
/// rendering; index i: after the first i steps; empty: no longer in the population) and its
/// owner (a viewer never counts its own organisation's incidents, which it knows).
#[derive(Debug, Clone)]
pub struct Member {
    pub keys: Vec<ClassKey>,
    pub owner: u32,
}

/// The level of every member of a population as one viewer receives it.
#[derive(Debug, Default)]
pub struct Assignment {
    /// Per member: its level, or `None` when withheld (or absent, or the viewer's own).
    levels: Vec<Option<u8>>,
}

impl Assignment {
    /// Local recoding then local suppression, for a viewer that owns the members of
    /// `viewer` (left out before anything is counted, so that its own incidents can neither
    /// fill another incident's class nor steer its level): every member of a class smaller
    /// than `k` takes the next step; classes are counted again after each step (a class that
    /// reached `k` only grows); what is still in a class under `k` after the last step is
    /// withheld.
    pub fn compute(members: &[Member], k: usize, steps: usize, viewer: Option<u32>) -> Assignment {
        let counted: Vec<usize> = (0..members.len())
            .filter(|index| {
                let member = &members[*index];
                member.keys.len() > steps && Some(member.owner) != viewer
            })
            .collect();
        let mut levels: Vec<usize> = vec![0; members.len()];
        let key_at = |index: usize, level: usize| members[index].keys[level.min(steps)];
        let mut sizes: HashMap<ClassKey, usize> = HashMap::with_capacity(counted.len());
        for step in 1..=steps {
            sizes.clear();
            for index in &counted {
                *sizes.entry(key_at(*index, levels[*index])).or_default() += 1;
            }
            for index in &counted {
                if sizes
                    .get(&key_at(*index, levels[*index]))
                    .copied()
                    .unwrap_or(0)
                    < k
                {
                    levels[*index] = step;
                }
            }
        }
        sizes.clear();
        for index in &counted {
            *sizes.entry(key_at(*index, levels[*index])).or_default() += 1;
        }
        let mut out = vec![None; members.len()];
        for index in counted {
            let size = sizes
                .get(&key_at(index, levels[index]))
                .copied()
                .unwrap_or(0);
            if size >= k {
                out[index] = Some(u8::try_from(levels[index]).unwrap_or(u8::MAX));
            }
        }
        Assignment { levels: out }
    }

    /// The level member `index` is shown at, or `None` when it is withheld.
    pub fn level(&self, index: usize) -> Option<u8> {
        self.levels.get(index).copied().flatten()
    }

    /// What a mirror must be told about when it changes: the level, or "-" when withheld.
    pub fn rendering_state(&self, index: usize) -> String {
        self.level(index)
            .map_or_else(|| "-".to_string(), |level| level.to_string())
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
        let assignment = Assignment::compute(&members, 3, 1, None);
        assert_eq!(assignment.level(0), Some(0));
        // Class {3, 4} at level 1 has two members: withheld.
        assert_eq!(assignment.level(3), None);
        assert_eq!(assignment.level(5), None);
        let members = vec![
            member(&[1, 10], 0),
            member(&[2, 10], 1),
            member(&[3, 10], 2),
            member(&[4, 40], 3),
        ];
        let assignment = Assignment::compute(&members, 3, 1, None);
        assert_eq!(assignment.level(0), Some(1));
        assert_eq!(assignment.level(2), Some(1));
        assert_eq!(assignment.level(3), None);
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
        // Org 7 would see two others' incidents: withheld from it; released to 8 (which sees
        // 7, 7 and 9) and to viewers that own none of them.
        let for_7 = Assignment::compute(&members, 3, 0, Some(7));
        assert_eq!(for_7.level(2), None);
        assert_eq!(for_7.level(0), None, "its own are not its to receive here");
        let for_8 = Assignment::compute(&members, 3, 0, Some(8));
        assert_eq!((for_8.level(0), for_8.level(3)), (Some(0), Some(0)));
        assert_eq!(Assignment::compute(&members, 3, 0, None).level(2), Some(0));
    }

    #[test]
    fn a_viewers_own_incidents_cannot_steer_another_incidents_level() {
        // X (owner 1) alone at level 0 with a location only the viewer (owner 9) can guess:
        // the viewer's copies of X at level 0 must not change what it is shown of X.
        let x = member(&[1, 100], 1);
        let others = [member(&[2, 100], 2), member(&[3, 100], 3)];
        let guess_right = [member(&[1, 100], 9), member(&[1, 100], 9)];
        let guess_wrong = [member(&[5, 100], 9), member(&[5, 100], 9)];
        let level_of_x = |guesses: &[Member]| {
            let mut members = vec![x.clone()];
            members.extend(others.iter().cloned());
            members.extend(guesses.iter().cloned());
            Assignment::compute(&members, 3, 1, Some(9)).level(0)
        };
        assert_eq!(level_of_x(&guess_right), level_of_x(&guess_wrong));
        assert_eq!(level_of_x(&guess_right), Some(1));
    }

    #[test]
    fn absent_members_count_for_nothing() {
        let mut members = vec![member(&[1], 0), member(&[1], 1), member(&[1], 2)];
        members[2].keys.clear();
        let assignment = Assignment::compute(&members, 3, 0, None);
        assert_eq!(assignment.level(0), None);
        assert_eq!(assignment.level(2), None);
    }

    #[test]
    fn the_assignment_does_not_depend_on_input_order() {
        let members: Vec<Member> = (0..60u64)
            .map(|i| member(&[i % 7, i % 3, 0], (i % 4) as u32))
            .collect();
        let forward = Assignment::compute(&members, 3, 2, Some(1));
        let mut reversed = members.clone();
        reversed.reverse();
        let backward = Assignment::compute(&reversed, 3, 2, Some(1));
        for index in 0..members.len() {
            assert_eq!(
                forward.level(index),
                backward.level(members.len() - 1 - index)
            );
        }
    }
}
