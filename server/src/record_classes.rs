//! The record rule at work: which incidents a viewer below T2 receives, and how generalised,
//! so that each belongs to a class of at least k that it receives (`policy::record_rule`).
//!
//! Classes are computed per population (what a kind of viewer may see: the community, one
//! sharing group, the peers), not per viewer: a viewer receives whole populations minus its own
//! organisation's incidents, and the assignment says per viewer whether what is left of a class
//! still reaches k. A population is computed when first needed after the change log moved (one
//! pass over its incidents, not one per call) and kept until the log moves again. What it
//! decides is recorded; when a decision changes because other incidents arrived, changed or
//! went, an ACCESS change is appended for the incident, so mirrors and peers receive its new
//! rendering (UPSERT) or lose it (REVOKE) through the feed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use uuid::Uuid;

use crate::domain::{Distribution, StoredIncident};
use crate::identity::Principal;
use crate::policy::record_rule::{self, Assignment, KeyHasher, Member};
use crate::policy::{PolicyEngine, Population, RedactedIncident, Shared, Tier};
use crate::store::{Store, StoreError};

/// What one incident is to one viewer.
#[derive(Debug)]
pub enum Outcome {
    /// It may receive it, as given.
    Released(Box<RedactedIncident>),
    /// The policy does not let it see the incident at all.
    Hidden,
    /// The record rule withholds it; `maybe_held`: it may have received it before (its class
    /// reached k once), so a mirror must be told to drop it.
    Withheld { maybe_held: bool },
}

impl Outcome {
    pub fn released(self) -> Option<RedactedIncident> {
        match self {
            Outcome::Released(redacted) => Some(*redacted),
            _ => None,
        }
    }
}

/// Incidents read per page while computing a population.
const PAGE: u32 = 2_000;

/// The record rule over one hub's store.
pub struct RecordClasses {
    store: Store,
    policy: Arc<PolicyEngine>,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The change-log head the computed populations belong to.
    head: Option<i64>,
    computed: HashMap<Population, Arc<Computed>>,
    /// What the store holds as decided, per population name (loaded once, then kept in step).
    recorded: HashMap<String, HashMap<Uuid, String>>,
}

/// One population's classes.
struct Computed {
    /// Member index and the version it was computed from, by incident id.
    index: HashMap<Uuid, (usize, u64)>,
    owners: HashMap<String, u32>,
    assignment: Assignment,
    /// Withheld incidents that were released before (to some viewer, or to all but some).
    maybe_held: HashSet<Uuid>,
}

impl RecordClasses {
    pub fn new(store: Store, policy: Arc<PolicyEngine>) -> Self {
        Self {
            store,
            policy,
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// Each incident as `principal` may receive it, in order: `None` where the policy hides it
    /// or the record rule withholds it; otherwise redacted to the principal's tier and, below
    /// T2, generalised to its level.
    pub async fn redact(
        &self,
        principal: &Principal,
        incidents: Vec<StoredIncident>,
    ) -> Result<Vec<Option<RedactedIncident>>, StoreError> {
        Ok(self
            .decide(principal, incidents)
            .await?
            .into_iter()
            .map(Outcome::released)
            .collect())
    }

    /// Computes (if the change log moved) every population `principal` may receive from, so
    /// that the ACCESS changes of decisions that changed are in the log before the caller
    /// reads it.
    pub async fn refresh_for(&self, principal: &Principal) -> Result<(), StoreError> {
        let populations: HashSet<Population> = self
            .policy
            .record_populations(principal)
            .into_iter()
            .collect();
        if !populations.is_empty() {
            self.current(populations).await?;
        }
        Ok(())
    }

    /// What each incident is to `principal`, in order (see [`Outcome`]).
    pub async fn decide(
        &self,
        principal: &Principal,
        incidents: Vec<StoredIncident>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut out = Vec::with_capacity(incidents.len());
        let mut ruled: Vec<(usize, Population, u64)> = Vec::new();
        for incident in incidents {
            let Some(tier) = self.policy.tier_for(principal, &incident) else {
                out.push(Outcome::Hidden);
                continue;
            };
            if let Some(population) = self.policy.record_population(principal, &incident, tier) {
                ruled.push((out.len(), population, incident.version));
            }
            out.push(match self.policy.redact(incident, principal) {
                Some(redacted) => Outcome::Released(Box::new(redacted)),
                None => Outcome::Hidden,
            });
        }
        if ruled.is_empty() {
            return Ok(out);
        }
        let wanted: HashSet<Population> = ruled.iter().map(|(_, p, _)| p.clone()).collect();
        let computed = self.current(wanted).await?;
        let rule = &self.policy.rules().record_rule;
        for (position, population, version) in ruled {
            let Some(slot) = out.get_mut(position) else {
                continue;
            };
            let Outcome::Released(redacted) = slot else {
                continue;
            };
            let id = redacted.incident.id;
            // Computed from another version (written meanwhile), or unknown to the computation:
            // withheld now (fail closed); the write's own change-log entry comes later.
            let classes = computed.get(&population).filter(|classes| {
                classes
                    .index
                    .get(&id)
                    .is_some_and(|(_, computed_version)| *computed_version == version)
            });
            let level = classes.and_then(|classes| {
                let viewer = classes.owners.get(&principal.org).copied();
                let (index, _) = classes.index.get(&id)?;
                classes.assignment.level_for(*index, viewer)
            });
            match level {
                Some(level) => record_rule::generalise(rule, redacted, usize::from(level)),
                None => {
                    *slot = Outcome::Withheld {
                        maybe_held: classes.is_some_and(|classes| classes.maybe_held.contains(&id)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The populations asked for, computed at the change log's current head.
    async fn current(
        &self,
        wanted: HashSet<Population>,
    ) -> Result<HashMap<Population, Arc<Computed>>, StoreError> {
        let mut state = self.state.lock().await;
        let head = self.store.max_seq().await?;
        if state.head != Some(head) {
            state.computed.clear();
            state.head = Some(head);
        }
        let mut out = HashMap::with_capacity(wanted.len());
        let mut appended = 0;
        for population in wanted {
            if let Some(computed) = state.computed.get(&population) {
                out.insert(population, computed.clone());
                continue;
            }
            let mut computed = self.compute(&population).await?;
            appended += self.record(&mut state, &population, &mut computed).await?;
            let computed = Arc::new(computed);
            state.computed.insert(population.clone(), computed.clone());
            out.insert(population, computed);
        }
        if appended > 0 {
            // Our own ACCESS changes moved the log, not the incidents: when nothing else was
            // written meanwhile, what was computed still holds at the new head.
            let now = self.store.max_seq().await?;
            if u64::try_from(now - head).ok() == Some(appended) {
                state.head = Some(now);
            }
        }
        Ok(out)
    }

    /// One pass over a population's incidents: their class keys at every level, then levels.
    async fn compute(&self, population: &Population) -> Result<Computed, StoreError> {
        let rule = &self.policy.rules().record_rule;
        let (distributions, group): (&[Distribution], Option<&str>) = match &population.shared {
            Shared::Community => (&[Distribution::Community, Distribution::Federation], None),
            Shared::Group(group) => (&[Distribution::SharingGroup], Some(group.as_str())),
            Shared::Federation => (&[Distribution::Federation], None),
        };
        let hasher = KeyHasher::new();
        let mut members = Vec::new();
        let mut index = HashMap::new();
        let mut owners: HashMap<String, u32> = HashMap::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .shared_page(distributions, group, after, PAGE)
                .await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = *last;
            for (_, incident) in page {
                if !population.contains(&incident) {
                    continue;
                }
                let next_owner = u32::try_from(owners.len()).unwrap_or(u32::MAX);
                let owner = *owners
                    .entry(population.owner_of(&incident).into_owned())
                    .or_insert(next_owner);
                index.insert(incident.id, (members.len(), incident.version));
                let org_type = incident.origin_org_type.as_str();
                let rendered = self.policy.redact_to_tier(incident, Tier::T1);
                let keys =
                    record_rule::level_keys(rule, &hasher, rendered.incident.content, org_type);
                members.push(Member { keys, owner });
            }
        }
        let assignment = Assignment::compute(&members, rule.k, rule.ladder.len());
        Ok(Computed {
            index,
            owners,
            assignment,
            maybe_held: HashSet::new(),
        })
    }

    /// Records what changed since the population was last decided (ACCESS changes follow),
    /// and notes which withheld incidents may be held by someone.
    async fn record(
        &self,
        state: &mut State,
        population: &Population,
        computed: &mut Computed,
    ) -> Result<u64, StoreError> {
        let name = population.name();
        if !state.recorded.contains_key(&name) {
            let recorded = self.store.renderings(&name).await?.into_iter().collect();
            state.recorded.insert(name.clone(), recorded);
        }
        let Some(recorded) = state.recorded.get_mut(&name) else {
            return Ok(0);
        };
        let mut changed: Vec<(Uuid, String, bool)> = Vec::new();
        for (id, (index, _)) in &computed.index {
            let before = recorded.get(id);
            let mut now = computed.assignment.rendering_state(*index);
            if now == WITHHELD && before.is_some_and(|before| before != WITHHELD) {
                now = WITHHELD_AFTER_RELEASE.to_string();
            }
            if now == WITHHELD_AFTER_RELEASE || now.contains('!') {
                computed.maybe_held.insert(*id);
            }
            match before {
                Some(before) if *before == now => {}
                before => changed.push((*id, now, before.is_some())),
            }
        }
        if changed.is_empty() {
            return Ok(0);
        }
        changed.sort();
        let appended = self.store.record_renderings(&name, &changed).await?;
        for (id, now, _) in changed {
            recorded.insert(id, now);
        }
        Ok(appended)
    }
}

/// A decision: withheld from everyone, never released.
const WITHHELD: &str = "-";
/// Withheld from everyone now, released before.
const WITHHELD_AFTER_RELEASE: &str = "-r";
