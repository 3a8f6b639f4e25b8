//! Advisories and the threat picture through the policy engine: who may see an advisory, at
//! which tier, reduced how; who may issue one; at which tier a caller gets the picture.
//!
//! Advisory fields take the tier of the incident field they resemble, from the same policy
//! file: `issuing_org` as `origin_org`, `origin_hub` as `origin_hub`, `admin2` as `admin2`,
//! `summary` as `narrative` (free text), `issued_at` as `reported_at`; the rest is T0.

use super::{MadeByPolicy, PolicyEngine, Redaction, RedactionAction, SharingState, Tier};
use crate::domain::{AdvisoryContent, Distribution, StoredAdvisory, VictimDetail};
use crate::identity::{PeerKind, Principal, Role};

/// (advisory field, the incident field whose tier it takes).
pub const ADVISORY_FIELD_TIERS: &[(&str, &str)] = &[
    ("issuing_org", "origin_org"),
    ("origin_hub", "origin_hub"),
    ("admin2", "admin2"),
    ("summary", "narrative"),
    ("issued_at", "reported_at"),
];

/// An advisory as one principal may receive it; only the policy module constructs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactedAdvisory {
    /// Withheld values are cleared (and must not be encoded).
    pub advisory: StoredAdvisory,
    pub tier: Tier,
    pub redactions: Vec<Redaction>,
    made_by_policy: MadeByPolicy,
}

impl RedactedAdvisory {
    pub fn redacted_fields(&self) -> Vec<String> {
        self.redactions
            .iter()
            .map(|r| r.field.to_string())
            .collect()
    }

    pub fn is_removed(&self, field: &str) -> bool {
        self.redactions
            .iter()
            .any(|r| r.field == field && r.action == RedactionAction::Removed)
    }
}

impl<'a> SharingState<'a> {
    /// The sharing state of an advisory (its issuing org stands where an incident's origin does).
    pub fn of_advisory(advisory: &'a StoredAdvisory) -> Self {
        SharingState {
            origin_org: &advisory.issuing_org,
            origin_hub: &advisory.origin_hub,
            distribution: advisory.content.distribution,
            sharing_group: advisory.content.sharing_group.as_deref(),
            group_members: None,
            tlp: advisory.content.tlp,
            country: Some(&advisory.content.country),
            threat_category: Some(advisory.content.threat_category),
        }
    }
}

impl PolicyEngine {
    /// The tier a viewer gets for something it may see, by relationship to `origin_org`.
    fn tier_by_relationship(&self, principal: &Principal, origin_org: &str) -> Option<Tier> {
        if let Some(terms) = Self::peer_terms(principal) {
            return Some(self.peer_tier(terms));
        }
        let own = origin_org == principal.org;
        principal
            .roles
            .iter()
            .filter_map(|role| {
                if own {
                    self.rules.origin_tier(*role)
                } else {
                    self.rules.other_tier(*role)
                }
            })
            .max()
    }

    /// The tier `principal` gets for `advisory`, or `None` when it may not see it (the same
    /// visibility rule as incidents).
    pub fn advisory_tier_for(
        &self,
        principal: &Principal,
        advisory: &StoredAdvisory,
    ) -> Option<Tier> {
        if !self.visible_under(principal, &SharingState::of_advisory(advisory)) {
            return None;
        }
        self.tier_by_relationship(principal, &advisory.issuing_org)
    }

    /// The egress chokepoint for advisories: `None` when `principal` may not see it. To a peer
    /// hub exactly as for an incident: its agreement's filters (in `visible_under`) and tier,
    /// the origin hub always along, FEDERATION sent as COMMUNITY unless the agreement is
    /// transitive (one hop).
    pub fn redact_advisory(
        &self,
        mut advisory: StoredAdvisory,
        principal: &Principal,
    ) -> Option<RedactedAdvisory> {
        let tier = self.advisory_tier_for(principal, &advisory)?;
        let terms = Self::peer_terms(principal);
        let mut redactions = Vec::new();
        for (field, like) in ADVISORY_FIELD_TIERS {
            let field_tier = self.rules.field_tier(like);
            // Loop prevention and attribution need the origin hub; it names a hub, not an org.
            if tier >= field_tier || (terms.is_some() && *field == "origin_hub") {
                continue;
            }
            match *field {
                "issuing_org" => advisory.issuing_org.clear(),
                "origin_hub" => advisory.origin_hub.clear(),
                "admin2" => advisory.content.admin2 = None,
                "summary" => advisory.content.summary = None,
                // A timestamp has no empty value; the encoder leaves it out.
                _ => {}
            }
            redactions.push(Redaction {
                field,
                action: RedactionAction::Removed,
                detail: format!("requires {field_tier:?}; your access tier is {tier:?}"),
            });
        }
        if let Some(terms) = terms
            && !terms.transitive
            && advisory.content.distribution == Distribution::Federation
        {
            advisory.content.distribution = Distribution::Community;
            redactions.push(Redaction {
                field: "distribution",
                action: RedactionAction::Generalised,
                detail: "FEDERATION becomes COMMUNITY at this hop: the agreement does not allow re-sharing".into(),
            });
        }
        Some(RedactedAdvisory {
            advisory,
            tier,
            redactions,
            made_by_policy: MadeByPolicy,
        })
    }

    /// Whether `principal` may issue advisories (focal points of partner organisations), and
    /// supersede `existing` when given (only its issuing organisation's).
    pub fn may_issue_advisory(
        &self,
        principal: &Principal,
        existing: Option<&StoredAdvisory>,
    ) -> bool {
        principal.kind == PeerKind::Org
            && principal.has_role(Role::FocalPoint)
            && existing.is_none_or(|advisory| advisory.issuing_org == principal.org)
    }

    /// The tier the threat picture is computed at for `principal`: the lowest tier it holds over
    /// any incident it may see (its own organisation's or others'), so that no count is shown
    /// more exactly than the least-privileged record in it. `None`: no picture.
    pub fn picture_tier(&self, principal: &Principal) -> Option<Tier> {
        if !Self::is_partner_reader(principal) {
            return None;
        }
        let best = |tier_of: &dyn Fn(Role) -> Option<Tier>| {
            principal
                .roles
                .iter()
                .filter_map(|role| tier_of(*role))
                .max()
        };
        // The scope always takes in the caller's own organisation's incidents; a caller with no
        // tier over them may not see them (`tier_for` is `None`) and so gets no picture.
        let own = best(&|role| self.rules.origin_tier(role))?;
        // Without a tier over other orgs' incidents the scope leaves them out (see
        // `visibility_scope`), so the picture holds the caller's own incidents only.
        let others = best(&|role| self.rules.other_tier(role));
        Some(others.map_or(own, |others| own.min(others)))
    }

    /// Checks that `org` may give an advisory its distribution (as for incidents).
    pub fn check_advisory_distribution(
        &self,
        org: &str,
        content: &AdvisoryContent,
    ) -> Result<(), String> {
        if content.distribution != Distribution::SharingGroup {
            return Ok(());
        }
        match content.sharing_group.as_deref() {
            Some(group) if self.groups.is_member(group, org) => Ok(()),
            _ => Err("not a sharing group your organisation belongs to".to_string()),
        }
    }

    /// The members of a SHARING_GROUP advisory's group now (for the change log).
    pub fn advisory_group_members(&self, content: &AdvisoryContent) -> Option<Vec<String>> {
        if content.distribution != Distribution::SharingGroup {
            return None;
        }
        Some(
            content
                .sharing_group
                .as_deref()
                .map(|group| self.groups.members(group))
                .unwrap_or_default(),
        )
    }

    /// How finely `principal` is shown the victims of its own org's incidents and of other
    /// orgs' (the picture counts victims at that detail, so that it never splits a total that
    /// the records show merged).
    pub fn picture_victim_detail(&self, principal: &Principal) -> (VictimDetail, VictimDetail) {
        let best = |tier_of: &dyn Fn(Role) -> Option<Tier>| {
            principal
                .roles
                .iter()
                .filter_map(|role| tier_of(*role))
                .max()
                .unwrap_or(Tier::T0)
        };
        let detail = |tier: Tier| {
            if tier >= self.rules.field_tier("victims") {
                VictimDetail::Exact
            } else if tier >= self.rules.victim_totals_tier {
                VictimDetail::MergeSmall(self.rules.victim_small_cell)
            } else {
                VictimDetail::StaffUnknown
            }
        };
        (
            detail(best(&|role| self.rules.origin_tier(role))),
            detail(best(&|role| self.rules.other_tier(role))),
        )
    }

    /// Whether counts are exact at `tier` (the policy's `[aggregate] exact_tier`).
    pub fn aggregate_exact_at(&self, tier: Tier) -> bool {
        tier >= self.rules.aggregate_exact_tier
    }

    /// How counts below the exact tier are protected (the policy's `[aggregate] method`).
    pub fn aggregate_method(&self) -> super::rules::AggregateMethod {
        self.rules.aggregate_method
    }

    /// The suppression threshold below the exact tier (the policy's `[aggregate] k`).
    pub fn aggregate_k(&self) -> u64 {
        self.rules.aggregate_k
    }

    /// Whether the victim breakdown by sex may be shown at `tier` (the `victims` field's tier).
    pub fn sex_breakdown_at(&self, tier: Tier) -> bool {
        tier >= self.rules.field_tier("victims")
    }

    /// The precision of the dates a viewer sees of other organisations' incidents (the picture
    /// may not bucket finer).
    pub fn others_date_precision(
        &self,
        principal: &Principal,
    ) -> Option<crate::domain::DatePrecision> {
        self.visibility_scope(principal)
            .map(|scope| scope.others_date_precision.max(scope.own_date_precision))
    }
}
