//! The record rule at work: which incidents a viewer below T2 receives, and how generalised,
//! so that each belongs to a class of at least k that it receives (`policy::record_rule`).
//!
//! Classes are kept per population (what a kind of viewer may see: the community, one sharing
//! group, the peers) and decided per viewer: a viewer receives whole populations minus its own
//! organisation's incidents, which are left out before anything is counted (so its own writes
//! can neither fill nor steer another incident's class). A population's class keys are kept in
//! memory and brought up to date from the change log (only the incidents written since are
//! read again); a viewer's levels are computed from them when the log has moved, not per
//! call. What each viewer's computation decides is recorded; when a decision changes because
//! incidents arrived, changed or went, an ACCESS change is appended for the incident, so
//! mirrors and peers receive its new rendering (UPSERT) or lose it (REVOKE) through the feed.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::domain::{Distribution, StoredIncident};
use crate::identity::Principal;
use crate::policy::record_rule::{self, Assignment, KeyHasher, Member};
use crate::policy::{PolicyEngine, Population, RedactedIncident, Shared, Tier};
use crate::store::{ChangeKind, Entity, Store, StoreError};

/// Incidents read per page while loading a population, and change-log entries per page while
/// bringing one up to date.
const PAGE: u32 = 2_000;

/// Above this share of a population written since it was loaded, load it again whole.
const RELOAD_SHARE: usize = 2;

/// What one incident is to one viewer.
#[derive(Debug)]
pub enum Outcome {
    /// It may receive it, as given.
    Released(Box<RedactedIncident>),
    /// The policy does not let it see the incident at all.
    Hidden,
    /// The record rule withholds it; `maybe_held`: it may have been released before, so a
    /// mirror must be told to drop it.
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

/// The record rule over one hub's store.
pub struct RecordClasses {
    store: Store,
    policy: std::sync::Arc<PolicyEngine>,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Whether the first use of the rule on this database was dealt with.
    started: bool,
    /// The change-log head the views belong to.
    head: Option<i64>,
    populations: HashMap<Population, Members>,
    /// Levels per (population, viewer's owner number), computed at `head`.
    views: HashMap<(Population, Option<u32>), Assignment>,
    /// What the store holds as decided, per view name (loaded once, then kept in step).
    recorded: HashMap<String, HashMap<Uuid, String>>,
    /// Incidents some viewer was given at some point (a REVOKE may be owed for them).
    ever_released: HashSet<Uuid>,
}

/// One population's incidents as class keys, kept up to date from the change log.
struct Members {
    /// The change-log position everything here reflects (at least).
    as_of: i64,
    members: Vec<Member>,
    /// Member index and the version its keys come from, by incident id.
    index: HashMap<Uuid, (usize, u64)>,
    owners: HashMap<String, u32>,
    /// One hasher for the population's life, so keys stay comparable.
    hasher: KeyHasher,
}

impl RecordClasses {
    pub fn new(store: Store, policy: std::sync::Arc<PolicyEngine>) -> Self {
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

    /// Brings every population `principal` may receive from up to date (if the change log
    /// moved), so that the ACCESS changes of decisions that changed are in the log before the
    /// caller reads it.
    pub async fn refresh_for(&self, principal: &Principal) -> Result<(), StoreError> {
        let populations: HashSet<Population> = self
            .policy
            .record_populations(principal)
            .into_iter()
            .collect();
        if !populations.is_empty() {
            drop(self.current(principal, populations).await?);
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
        let mut ruled: Vec<(usize, Population, u64, Tier, bool)> = Vec::new();
        for incident in incidents {
            let Some(tier) = self.policy.tier_for(principal, &incident) else {
                out.push(Outcome::Hidden);
                continue;
            };
            if let Some(population) = self.policy.record_population(principal, &incident, tier) {
                // Retracted incidents count in no class and go to no viewer under the rule
                // ("duplicate of ..." would undo a class made of duplicates).
                let excluded = incident.is_retracted() || !population.contains(&incident);
                ruled.push((out.len(), population, incident.version, tier, excluded));
            }
            out.push(match self.policy.redact(incident, principal) {
                Some(redacted) => Outcome::Released(Box::new(redacted)),
                None => Outcome::Hidden,
            });
        }
        if ruled.is_empty() {
            return Ok(out);
        }
        let wanted: HashSet<Population> = ruled.iter().map(|(_, p, ..)| p.clone()).collect();
        let state = self.current(principal, wanted).await?;
        let rule = &self.policy.rules().record_rule;
        for (position, population, version, tier, excluded) in ruled {
            let Some(slot) = out.get_mut(position) else {
                continue;
            };
            let Outcome::Released(redacted) = slot else {
                continue;
            };
            let id = redacted.incident.id;
            // Classes are formed on the T1 rendering: a T0 viewer, which gets another
            // rendering, receives nothing under the rule (fail closed).
            let level = if excluded || tier < Tier::T1 {
                None
            } else {
                state.level(&population, principal, id, version)
            };
            match level {
                Some(level) => record_rule::generalise(rule, redacted, usize::from(level)),
                None => {
                    *slot = Outcome::Withheld {
                        maybe_held: state.ever_released.contains(&id),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The state with `wanted` populations and `principal`'s views of them current at the
    /// change log's head.
    async fn current(
        &self,
        principal: &Principal,
        wanted: HashSet<Population>,
    ) -> Result<tokio::sync::MutexGuard<'_, State>, StoreError> {
        let mut state = self.state.lock().await;
        if !state.started {
            // Incidents shared before the rule first ran on this database (the hub's start
            // recorded them, `Store::begin_record_rule`) may be held in full anywhere.
            for (id, _) in self.store.renderings(LEGACY).await? {
                state.ever_released.insert(id);
            }
            state.started = true;
        }
        let head = self.store.max_seq().await?;
        if state.head != Some(head) {
            state.views.clear();
            state.head = Some(head);
        }
        let mut appended = 0;
        for population in wanted {
            self.bring_up_to_date(&mut state, &population).await?;
            let Some(members) = state.populations.get(&population) else {
                continue;
            };
            let viewer = members.owners.get(&principal.org).copied();
            if state.views.contains_key(&(population.clone(), viewer)) {
                continue;
            }
            let rule = &self.policy.rules().record_rule;
            let assignment =
                Assignment::compute(&members.members, rule.k, rule.ladder.len(), viewer);
            let name = view_name(&population, members, viewer);
            appended += self
                .record(&mut state, &name, &population, &assignment)
                .await?;
            state.views.insert((population, viewer), assignment);
        }
        if appended > 0 {
            // Our own ACCESS changes moved the log, not the incidents: when nothing else was
            // written meanwhile, what was computed still holds at the new head.
            let now = self.store.max_seq().await?;
            if u64::try_from(now - head).ok() == Some(appended) {
                state.head = Some(now);
            }
        }
        Ok(state)
    }

    /// Loads a population, or reads again the incidents written since it was brought up to
    /// date (or all of it, when they are many).
    async fn bring_up_to_date(
        &self,
        state: &mut State,
        population: &Population,
    ) -> Result<(), StoreError> {
        if !state.populations.contains_key(population) {
            let loaded = self.load(population).await?;
            state.populations.insert(population.clone(), loaded);
        }
        let head = state.head;
        let Some(members) = state.populations.get_mut(population) else {
            return Ok(());
        };
        // Up to date already: no read of the log at all (the common case on reads).
        if head.is_some_and(|head| members.as_of >= head) {
            return Ok(());
        }
        loop {
            let rows = self.store.changes_after(members.as_of, PAGE).await?;
            let Some(last) = rows.last().map(|row| row.seq) else {
                break;
            };
            let written: Vec<Uuid> = rows
                .iter()
                .filter(|row| row.entity == Entity::Incident && row.kind != ChangeKind::Access)
                .map(|row| row.incident_id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if written.len() * RELOAD_SHARE
                > members.index.len() + usize::try_from(PAGE).unwrap_or(0)
            {
                *members = self.load(population).await?;
                continue;
            }
            for chunk in written.chunks(1_000) {
                let current = self.store.get_many(chunk).await?;
                let found: HashSet<Uuid> = current.iter().map(|incident| incident.id).collect();
                for incident in current {
                    self.place(members, population, incident);
                }
                for id in chunk.iter().filter(|id| !found.contains(id)) {
                    remove(members, *id);
                }
            }
            members.as_of = last;
            if rows.len() < PAGE as usize {
                break;
            }
        }
        Ok(())
    }

    /// Reads a population whole, then whatever was written while it was read.
    async fn load(&self, population: &Population) -> Result<Members, StoreError> {
        let (distributions, group): (&[Distribution], Option<&str>) = match &population.shared {
            Shared::Community => (&[Distribution::Community, Distribution::Federation], None),
            Shared::Group(group) => (&[Distribution::SharingGroup], Some(group.as_str())),
            Shared::Federation => (&[Distribution::Federation], None),
        };
        let mut members = Members {
            // Read first: the pages below reflect at least this position.
            as_of: self.store.max_seq().await?,
            members: Vec::new(),
            index: HashMap::new(),
            owners: HashMap::new(),
            hasher: KeyHasher::new(),
        };
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
                self.place(&mut members, population, incident);
            }
        }
        Ok(members)
    }

    /// Puts an incident's current state into the population (or takes it out).
    fn place(&self, members: &mut Members, population: &Population, incident: StoredIncident) {
        if incident.is_retracted() || !population.contains(&incident) {
            remove(members, incident.id);
            return;
        }
        let next_owner = u32::try_from(members.owners.len()).unwrap_or(u32::MAX);
        let owner = *members
            .owners
            .entry(population.owner_of(&incident).into_owned())
            .or_insert(next_owner);
        let context = population.context_of(&incident);
        let (id, version) = (incident.id, incident.version);
        let rule = &self.policy.rules().record_rule;
        let rendered = self.policy.redact_to_tier(incident, Tier::T1);
        let keys = record_rule::level_keys(rule, &members.hasher, rendered, &context);
        let member = Member { keys, owner };
        match members.index.get(&id).map(|(index, _)| *index) {
            Some(index) => {
                members.members[index] = member;
                members.index.insert(id, (index, version));
            }
            None => {
                members.index.insert(id, (members.members.len(), version));
                members.members.push(member);
            }
        }
    }

    /// Records what changed in one viewer's decisions since they were last recorded; returns
    /// the ACCESS changes appended.
    async fn record(
        &self,
        state: &mut State,
        name: &str,
        population: &Population,
        assignment: &Assignment,
    ) -> Result<u64, StoreError> {
        if !state.recorded.contains_key(name) {
            let recorded: HashMap<Uuid, String> =
                self.store.renderings(name).await?.into_iter().collect();
            for (id, rendering) in &recorded {
                if rendering != WITHHELD {
                    state.ever_released.insert(*id);
                }
            }
            state.recorded.insert(name.to_string(), recorded);
        }
        let Some(members) = state.populations.get(population) else {
            return Ok(0);
        };
        let Some(recorded) = state.recorded.get(name) else {
            return Ok(0);
        };
        let mut changed: Vec<(Uuid, String, bool)> = Vec::new();
        for (id, (index, _)) in &members.index {
            let now = assignment.rendering_state(*index);
            match recorded.get(id) {
                Some(before) if *before == now => {}
                before => changed.push((*id, now, before.is_some())),
            }
        }
        if changed.is_empty() {
            return Ok(0);
        }
        changed.sort();
        let appended = self.store.record_renderings(name, &changed).await?;
        let recorded = state.recorded.entry(name.to_string()).or_default();
        for (id, now, _) in changed {
            if now != WITHHELD {
                state.ever_released.insert(id);
            }
            recorded.insert(id, now);
        }
        Ok(appended)
    }
}

impl State {
    /// The level `principal` receives incident `id` (at `version`) at in `population`, or
    /// `None` when withheld. An incident the population does not hold at that version
    /// (written meanwhile) is withheld now (fail closed); its own change-log entry follows.
    fn level(
        &self,
        population: &Population,
        principal: &Principal,
        id: Uuid,
        version: u64,
    ) -> Option<u8> {
        let members = self.populations.get(population)?;
        let (index, computed_version) = members.index.get(&id)?;
        if *computed_version != version {
            return None;
        }
        let viewer = members.owners.get(&principal.org).copied();
        self.views.get(&(population.clone(), viewer))?.level(*index)
    }
}

/// Takes an incident out of a population (its slot stays, empty, and counts for nothing).
fn remove(members: &mut Members, id: Uuid) {
    if let Some((index, _)) = members.index.remove(&id) {
        if let Some(member) = members.members.get_mut(index) {
            member.keys.clear();
        }
    }
}

/// The name a viewer's decisions are recorded under: the population and the owner whose
/// incidents it leaves out ("*": none).
fn view_name(population: &Population, members: &Members, viewer: Option<u32>) -> String {
    let owner = viewer
        .and_then(|number| {
            members
                .owners
                .iter()
                .find(|(_, n)| **n == number)
                .map(|(name, _)| name.as_str())
        })
        .unwrap_or("*");
    format!("{}#{owner}", population.name())
}

/// A decision: withheld.
const WITHHELD: &str = "-";

/// The name under which the incidents shared before the rule first ran are recorded.
pub const LEGACY: &str = "before-the-rule";
