//! Who may see what. This module decides; it never touches SQL or gRPC. All its rules come from
//! the policy file (`rules`), and the sharing groups from the hub config (`groups`).
//!
//! - [`PolicyEngine::visibility_scope`] turns a principal into data (`VisibilityScope`) that
//!   the store turns into a SQL condition, so queries never load invisible rows;
//! - [`PolicyEngine::redact`] is the one function through which an incident leaves the hub: it
//!   returns `None` for an incident the principal may not see, and otherwise a copy reduced to
//!   the principal's tier, with every removed or generalised field listed and explained;
//! - [`PolicyEngine::may_modify`], [`PolicyEngine::check_distribution`] and
//!   [`egress_allowed`] decide writes, sharing-group use and TLP-bound egress.

pub mod advisory;
pub mod aggregate;
pub mod cell_key;
pub mod groups;
pub mod record_rule;
mod redact;
pub mod rules;
mod timing;

use crate::domain::{
    DatePrecision, Distribution, IncidentContent, StoredIncident, ThreatCategory, Tlp,
    VisibilityScope,
};
use crate::identity::{PeerKind, Principal, Role};
pub use advisory::RedactedAdvisory;
pub use groups::{SharingGroup, SharingGroups};
pub use rules::{PolicyError, PolicyRules};

/// Sensitivity tiers live with the domain types (a foreign incident records the tier it was
/// received at); the policy decides with them.
pub use crate::domain::Tier;

/// What happened to a field the viewer did not get in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedactionAction {
    Removed,
    Generalised,
}

/// One field withheld or generalised, with a human explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    pub field: &'static str,
    pub action: RedactionAction,
    pub detail: String,
}

/// An incident as one principal may receive it. Only [`PolicyEngine::redact`] (and
/// [`PolicyEngine::redact_to_tier`]) construct it; the API's encoder accepts nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactedIncident {
    /// The incident with withheld values cleared and generalised values replaced. Fields
    /// marked `Removed` in `redactions` must not be encoded at all.
    pub incident: StoredIncident,
    pub tier: Tier,
    pub redactions: Vec<Redaction>,
    /// How many steps of the record rule's ladder were applied (0: as the tier gives it).
    pub record_level: usize,
    /// Private: no code outside this module can build one, so nothing reaches the encoder
    /// without having been through the policy engine.
    made_by_policy: MadeByPolicy,
}

/// Proof that a `RedactedIncident` came from this module (a private type in a private field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MadeByPolicy;

impl RedactedIncident {
    /// Paths of every field removed or generalised.
    pub fn redacted_fields(&self) -> Vec<String> {
        self.redactions
            .iter()
            .map(|r| r.field.to_string())
            .collect()
    }

    /// Whether `field` was removed for this viewer.
    pub fn is_removed(&self, field: &str) -> bool {
        self.redactions
            .iter()
            .any(|r| r.field == field && r.action == RedactionAction::Removed)
    }
}

/// Who could see an incident: the parts of it that visibility depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharingState<'a> {
    pub origin_org: &'a str,
    pub origin_hub: &'a str,
    pub distribution: Distribution,
    pub sharing_group: Option<&'a str>,
    /// The group's members as recorded at the time (history); `None`: the members now.
    pub group_members: Option<&'a [String]>,
    pub tlp: Tlp,
    /// Where it is filed (country, threat category), which peer agreements filter on; a part
    /// that is `None` is unknown (an old change-log entry) and passes every filter.
    pub country: Option<&'a str>,
    pub threat_category: Option<ThreatCategory>,
}

impl<'a> SharingState<'a> {
    pub fn of(incident: &'a StoredIncident) -> Self {
        SharingState {
            origin_org: &incident.origin_org,
            origin_hub: &incident.origin_hub,
            distribution: incident.content.distribution,
            sharing_group: incident.content.sharing_group.as_deref(),
            group_members: None,
            tlp: incident.content.tlp,
            country: Some(&incident.content.country),
            threat_category: Some(incident.content.threat_category),
        }
    }
}

/// Whether something filed under `country` and `category` is inside a peer agreement's
/// filters (an empty filter admits all; an unknown value is not excluded by it).
fn in_peer_filters(
    terms: &crate::identity::agreement::PeerTerms,
    country: Option<&str>,
    category: Option<ThreatCategory>,
) -> bool {
    let country_ok = terms.countries.is_empty()
        || country.is_none_or(|country| terms.countries.iter().any(|c| c == country));
    let category_ok = terms.categories.is_empty()
        || category.is_none_or(|category| terms.categories.contains(&category));
    country_ok && category_ok
}

/// Which incidents are shared alike, for the record rule: a viewer below T2 receives the
/// union of whole populations, each minus its own organisation's incidents, so each
/// population's classes are computed once for every viewer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Population {
    pub shared: Shared,
    /// Incidents received from a peer below T2 (see `PolicyEngine::record_population`).
    pub capped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Shared {
    /// COMMUNITY and FEDERATION incidents, as local partners see them; owned by their origin
    /// org (a foreign one by its origin hub, which no local org is).
    Community,
    /// One sharing group's incidents; owned by their origin org.
    Group(String),
    /// What peer hubs may receive (FEDERATION, TLP allowed to leave); owned by origin hub.
    Federation,
}

impl Population {
    /// A stable name (the store keys what mirrors were told by it).
    pub fn name(&self) -> String {
        let shared = match &self.shared {
            Shared::Community => "community".to_string(),
            Shared::Group(group) => format!("group:{group}"),
            Shared::Federation => "federation".to_string(),
        };
        if self.capped {
            format!("{shared}/capped")
        } else {
            shared
        }
    }

    /// Whether `incident` belongs to this population.
    pub fn contains(&self, incident: &StoredIncident) -> bool {
        let capped = incident
            .received
            .as_ref()
            .is_some_and(|received| received.tier < Tier::T2);
        if capped != self.capped {
            return false;
        }
        let content = &incident.content;
        match &self.shared {
            Shared::Community => matches!(
                content.distribution,
                Distribution::Community | Distribution::Federation
            ),
            Shared::Group(group) => {
                content.distribution == Distribution::SharingGroup
                    && content.sharing_group.as_deref() == Some(group.as_str())
            }
            // Only this hub's own incidents: a foreign copy goes to peers as its origin signed
            // it, which the rule cannot generalise, so below T2 it is not forwarded at all.
            Shared::Federation => {
                !incident.is_foreign()
                    && egress_allowed(content.tlp, content.distribution, Egress::Federation)
            }
        }
    }

    /// What every viewer of this population is shown of an incident's origin, which its
    /// class key includes: the origin org type, and for peers the origin hub.
    pub fn context_of(&self, incident: &StoredIncident) -> String {
        match self.shared {
            Shared::Federation => format!(
                "{}|{}",
                incident.origin_org_type.as_str(),
                incident.origin_hub
            ),
            _ => incident.origin_org_type.as_str().to_string(),
        }
    }

    /// Who owns `incident` here: a viewer with this name never counts it.
    pub fn owner_of<'a>(&self, incident: &'a StoredIncident) -> std::borrow::Cow<'a, str> {
        match self.shared {
            Shared::Federation => std::borrow::Cow::Borrowed(incident.origin_hub.as_str()),
            _ if incident.is_foreign() => {
                std::borrow::Cow::Owned(format!("@{}", incident.origin_hub))
            }
            _ => std::borrow::Cow::Borrowed(incident.origin_org.as_str()),
        }
    }
}

/// Where data is going when it leaves the hub as a whole record set rather than to a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// To a peer hub under an agreement.
    Federation,
    /// A public, record-level export (T0).
    PublicExport,
}

/// TLP 2.0 as enforced (sharing-and-sync.md): RED and AMBER+STRICT never leave the hub;
/// AMBER and GREEN are federated when the distribution allows, never published; CLEAR may be
/// published at T0.
pub fn egress_allowed(tlp: Tlp, distribution: Distribution, egress: Egress) -> bool {
    match egress {
        Egress::Federation => {
            distribution == Distribution::Federation
                && matches!(tlp, Tlp::Amber | Tlp::Green | Tlp::Clear)
        }
        Egress::PublicExport => {
            tlp == Tlp::Clear
                && matches!(
                    distribution,
                    Distribution::Community | Distribution::Federation
                )
        }
    }
}

/// The roles that read incident content as partners.
const READER_ROLES: [Role; 3] = [Role::Reporter, Role::Analyst, Role::FocalPoint];

/// The policy in force: rules from the policy file plus the hub's sharing groups.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    rules: PolicyRules,
    groups: SharingGroups,
}

impl PolicyEngine {
    pub fn new(rules: PolicyRules, groups: SharingGroups) -> Self {
        Self { rules, groups }
    }

    /// The running policy's version, reported in responses.
    pub fn version(&self) -> &str {
        &self.rules.version
    }

    pub fn rules(&self) -> &PolicyRules {
        &self.rules
    }

    fn is_partner_reader(principal: &Principal) -> bool {
        principal.kind == PeerKind::Org && READER_ROLES.iter().any(|role| principal.has_role(*role))
    }

    /// The agreement of a peer-hub principal (a hub certificate, role peer_hub, and the terms
    /// identity attached); `None` for anyone else (fail closed: no terms, no federation).
    fn peer_terms(principal: &Principal) -> Option<&crate::identity::agreement::PeerTerms> {
        if principal.kind == PeerKind::Hub && principal.has_role(Role::PeerHub) {
            principal.federation.as_deref()
        } else {
            None
        }
    }

    /// The tier a peer hub gets: its agreement's, never above the policy's cap (T2 at most).
    fn peer_tier(&self, terms: &crate::identity::agreement::PeerTerms) -> Tier {
        terms.tier.min(self.rules.peer_hub_max).min(Tier::T2)
    }

    /// The date precision a viewer at `tier` gets (what date filters may compare for it).
    fn date_precision_at(&self, tier: Tier) -> DatePrecision {
        if tier >= self.rules.field_tier("occurred_on") {
            DatePrecision::Day
        } else {
            self.rules
                .date_generalisation
                .get(&tier)
                .copied()
                .unwrap_or(DatePrecision::Year)
        }
    }

    /// The incidents `principal` may see, as data for the store; `None` when it may see none.
    pub fn visibility_scope(&self, principal: &Principal) -> Option<VisibilityScope> {
        if Self::is_partner_reader(principal) {
            let best = |tier_of: &dyn Fn(Role) -> Option<Tier>| {
                principal
                    .roles
                    .iter()
                    .filter_map(|role| tier_of(*role))
                    .max()
            };
            let own_tier = best(&|role| self.rules.origin_tier(role));
            let others = best(&|role| self.rules.other_tier(role));
            // A viewer none of whose roles has a tier over other orgs' incidents sees none of
            // them (`tier_for` is `None`), so the scope must not take them in either: the
            // threat picture counts whatever the scope admits.
            let (shared_distributions, sharing_groups) = if others.is_some() {
                (
                    vec![Distribution::Community, Distribution::Federation],
                    self.groups.groups_of(&principal.org),
                )
            } else {
                (Vec::new(), Vec::new())
            };
            let own_tier = own_tier.unwrap_or(Tier::T0);
            let others_tier = others.unwrap_or(Tier::T0);
            return Some(VisibilityScope {
                own_org: Some(principal.org.clone()),
                shared_distributions,
                sharing_groups,
                allowed_tlps: None,
                excluded_origin_hub: None,
                own_date_precision: self.date_precision_at(own_tier),
                others_date_precision: self.date_precision_at(others_tier),
                others_origin_visible: others_tier >= self.rules.field_tier("origin_org"),
            });
        }
        if let Some(terms) = Self::peer_terms(principal) {
            let tier = self.peer_tier(terms);
            return Some(VisibilityScope {
                own_date_precision: self.date_precision_at(tier),
                others_date_precision: self.date_precision_at(tier),
                others_origin_visible: tier >= self.rules.field_tier("origin_org"),
                own_org: None,
                shared_distributions: vec![Distribution::Federation],
                sharing_groups: Vec::new(),
                allowed_tlps: Some(
                    [Tlp::Amber, Tlp::Green, Tlp::Clear]
                        .into_iter()
                        .filter(|tlp| {
                            egress_allowed(*tlp, Distribution::Federation, Egress::Federation)
                        })
                        .collect(),
                ),
                // Never serve an incident back to the hub it came from.
                excluded_origin_hub: Some(principal.org.clone()),
            });
        }
        None
    }

    /// Whether `principal` may see an incident in this sharing state. The one visibility rule:
    /// [`Self::tier_for`] applies it to an incident's current state, the change feed to the
    /// states an incident had (to tell whether a caller may hold a copy it must now delete).
    pub fn visible_under(&self, principal: &Principal, sharing: &SharingState<'_>) -> bool {
        if let Some(terms) = Self::peer_terms(principal) {
            return egress_allowed(sharing.tlp, sharing.distribution, Egress::Federation)
                && sharing.origin_hub != principal.org
                && in_peer_filters(terms, sharing.country, sharing.threat_category);
        }
        if !Self::is_partner_reader(principal) {
            return false;
        }
        sharing.origin_org == principal.org
            || match sharing.distribution {
                Distribution::OrgOnly => false,
                Distribution::SharingGroup => match sharing.group_members {
                    Some(members) => members.iter().any(|member| member == &principal.org),
                    None => sharing
                        .sharing_group
                        .is_some_and(|group| self.groups.is_member(group, &principal.org)),
                },
                Distribution::Community | Distribution::Federation => true,
            }
    }

    /// The tier `principal` gets for `incident`, or `None` when it may not see it. This is the
    /// authoritative visibility rule; `visibility_scope` is its SQL-side twin.
    pub fn tier_for(&self, principal: &Principal, incident: &StoredIncident) -> Option<Tier> {
        if !self.visible_under(principal, &SharingState::of(incident)) {
            return None;
        }
        if let Some(terms) = Self::peer_terms(principal) {
            // (The agreement's filters are part of `visible_under`.) A foreign incident goes on
            // at most at the tier we received it at.
            let tier = self.peer_tier(terms);
            return Some(
                incident
                    .received
                    .as_ref()
                    .map_or(tier, |received| tier.min(received.tier)),
            );
        }
        // Org ids are per hub: a foreign incident is never "own", whatever its org is called.
        let own = incident.origin_org == principal.org && !incident.is_foreign();
        let tier = principal
            .roles
            .iter()
            .filter_map(|role| {
                if own {
                    self.rules.origin_tier(*role)
                } else {
                    self.rules.other_tier(*role)
                }
            })
            .max()?;
        // A local viewer never sees more of a foreign incident than its peer hub gave us.
        Some(match &incident.received {
            Some(received) => tier.min(received.tier),
            None => tier,
        })
    }

    /// The egress chokepoint: `None` when `principal` may not see `incident`, otherwise the
    /// incident reduced to the principal's tier.
    pub fn redact(
        &self,
        incident: StoredIncident,
        principal: &Principal,
    ) -> Option<RedactedIncident> {
        let tier = self.tier_for(principal, &incident)?;
        let Some(terms) = Self::peer_terms(principal) else {
            return Some(self.redact_to_tier(incident, tier));
        };
        // To a peer hub: the origin hub always goes along (loop prevention and attribution
        // need it; it names a hub, not an organisation), and FEDERATION becomes COMMUNITY
        // unless the agreement allows re-sharing (one hop).
        let origin_hub = incident.origin_hub.clone();
        let mut redacted = self.redact_to_tier(incident, tier);
        redacted.incident.origin_hub = origin_hub;
        redacted
            .redactions
            .retain(|redaction| redaction.field != "origin_hub");
        if !terms.transitive && redacted.incident.content.distribution == Distribution::Federation {
            redacted.incident.content.distribution = Distribution::Community;
            redacted.redactions.push(Redaction {
                field: "distribution",
                action: RedactionAction::Generalised,
                detail: "FEDERATION becomes COMMUNITY at this hop: the agreement does not allow re-sharing".into(),
            });
        }
        Some(redacted)
    }

    /// The population whose classes decide whether and how `principal` receives `incident`
    /// at `tier` under the record rule, or `None` when the rule does not apply (off, T2 and
    /// above, the viewer's own organisation's incident, or not visible at all).
    pub fn record_population(
        &self,
        principal: &Principal,
        incident: &StoredIncident,
        tier: Tier,
    ) -> Option<Population> {
        if !self.rules.record_rule.is_on() || tier >= Tier::T2 {
            return None;
        }
        // Incidents received from a peer at a tier below T2 reach even T2 viewers at that tier;
        // they form populations of their own, so a T2 viewer's T1 records are whole classes.
        let capped = incident
            .received
            .as_ref()
            .is_some_and(|received| received.tier < Tier::T2);
        let content = &incident.content;
        if Self::peer_terms(principal).is_some() {
            return Some(Population {
                shared: Shared::Federation,
                capped,
            });
        }
        if incident.origin_org == principal.org && !incident.is_foreign() {
            return None;
        }
        let shared = match content.distribution {
            Distribution::Community | Distribution::Federation => Shared::Community,
            // No group named: a population no incident is in, so it is withheld (fail closed).
            Distribution::SharingGroup => {
                Shared::Group(content.sharing_group.clone().unwrap_or_default())
            }
            Distribution::OrgOnly => return None,
        };
        Some(Population { shared, capped })
    }

    /// Every population `principal` may receive incidents from under the record rule (none
    /// when the rule is off or it receives nothing below T2).
    pub fn record_populations(&self, principal: &Principal) -> Vec<Population> {
        if !self.rules.record_rule.is_on() {
            return Vec::new();
        }
        if let Some(terms) = Self::peer_terms(principal) {
            // Peers get only this hub's own incidents under the rule (never capped ones).
            return if self.peer_tier(terms) < Tier::T2 {
                vec![Population {
                    shared: Shared::Federation,
                    capped: false,
                }]
            } else {
                Vec::new()
            };
        }
        let Some(scope) = self.visibility_scope(principal) else {
            return Vec::new();
        };
        let mut shared = Vec::new();
        if !scope.shared_distributions.is_empty() {
            shared.push(Shared::Community);
        }
        shared.extend(scope.sharing_groups.into_iter().map(Shared::Group));
        // A viewer at T2 over other orgs' incidents meets the rule only in foreign copies
        // received below T2.
        let others_below_t2 = principal
            .roles
            .iter()
            .filter_map(|role| self.rules.other_tier(*role))
            .max()
            .is_some_and(|tier| tier < Tier::T2);
        let capped: &[bool] = if others_below_t2 {
            &[false, true]
        } else {
            &[true]
        };
        shared
            .into_iter()
            .flat_map(|shared| {
                capped.iter().map(move |capped| Population {
                    shared: shared.clone(),
                    capped: *capped,
                })
            })
            .collect()
    }

    /// Reduces an incident to `tier` (for paths whose recipient is a tier, not a principal:
    /// public exports, peer agreements). Visibility must have been decided already.
    pub fn redact_to_tier(&self, incident: StoredIncident, tier: Tier) -> RedactedIncident {
        redact::to_tier(&self.rules, incident, tier)
    }

    /// Whether `principal` may amend or retract `incident`: its own org's incidents, as a
    /// reporter or focal point.
    pub fn may_modify(&self, principal: &Principal, incident: &StoredIncident) -> bool {
        principal.kind == PeerKind::Org
            && !incident.is_foreign()
            && incident.origin_org == principal.org
            && (principal.has_role(Role::Reporter) || principal.has_role(Role::FocalPoint))
    }

    /// The members of the group a SHARING_GROUP incident is shared with, now (for the change
    /// log's record of who could see each version); `None` for other distributions.
    pub fn group_members_of(&self, content: &IncidentContent) -> Option<Vec<String>> {
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

    /// Every group with its current members (owner included), for the store's record.
    pub fn all_group_members(&self) -> Vec<(String, Vec<String>)> {
        self.groups.all_members()
    }

    /// Checks that `org` may give `content` its distribution: a SHARING_GROUP incident must
    /// name a group the org belongs to. The message never reveals whether the group exists.
    pub fn check_distribution(&self, org: &str, content: &IncidentContent) -> Result<(), String> {
        if content.distribution != Distribution::SharingGroup {
            return Ok(());
        }
        match content.sharing_group.as_deref() {
            Some(group) if self.groups.is_member(group, org) => Ok(()),
            _ => Err("not a sharing group your organisation belongs to".to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
