//! The change feed: reads the change log in commit order and turns each entry into what one
//! principal may learn from it — UPSERT or RETRACT with the incident redacted by the policy
//! engine, REVOKE when the principal may hold a copy it can no longer see, or nothing. Knows
//! nothing of gRPC; `api::sync` streams its pages.
//!
//! Memory is bounded by the page size whatever the backlog: a page reads `limit` log entries,
//! the current state of the incidents they name, and (only for incidents now invisible) their
//! sharing history.

mod horizon;
mod marks;

pub use horizon::{Horizon, until_next_boundary};
pub use marks::run_marks;

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::domain::{IncidentType, StoredAdvisory, StoredIncident};
use crate::identity::Principal;
use crate::policy::{PolicyEngine, RedactedAdvisory, RedactedIncident, SharingState};
use crate::record_classes::{Outcome, RecordClasses};
use crate::sealed::{SealError, Sealer};
use crate::store::{ChangeRow, Entity, Store, StoreError};

/// A position in one hub's change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub hub_id: String,
    pub epoch: String,
    pub seq: i64,
}

/// The associated data cursors are sealed under.
const CURSOR_PURPOSE: &str = "feed-cursor";

impl Cursor {
    /// The cursor's plaintext (clients only ever see it sealed). The seq is zero-padded to a
    /// fixed width so that the sealed cursor's length says nothing of the log's length.
    pub fn encode(&self) -> String {
        format!("c1:{}:{}:{:020}", self.hub_id, self.epoch, self.seq)
    }

    /// Parses a cursor's plaintext; `None` when it is malformed.
    pub fn decode(text: &str) -> Option<Cursor> {
        let mut parts = text.split(':');
        let (Some("c1"), Some(hub_id), Some(epoch), Some(seq), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let seq = seq.parse::<i64>().ok().filter(|seq| *seq >= 0)?;
        Some(Cursor {
            hub_id: hub_id.to_string(),
            epoch: epoch.to_string(),
            seq,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The cursor cannot be served; the client must start over with an empty mirror.
    #[error("resync required: {0}")]
    ResyncRequired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Server-side filters of a feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    /// ISO alpha-3 codes.
    pub countries: Vec<String>,
    pub incident_types: Vec<IncidentType>,
}

impl FeedFilter {
    fn matches(&self, incident: &StoredIncident) -> bool {
        let content = &incident.content;
        (self.countries.is_empty() || self.countries.contains(&content.country))
            && (self.incident_types.is_empty()
                || content
                    .incident_types
                    .iter()
                    .any(|kind| self.incident_types.contains(kind)))
    }

    /// Advisories match on countries; the incident-type filter does not apply to them.
    fn matches_advisory(&self, advisory: &StoredAdvisory) -> bool {
        self.countries.is_empty() || self.countries.contains(&advisory.content.country)
    }
}

/// What one principal learns from the feed about one incident.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedChange {
    Upsert(RedactedIncident),
    Retract(RedactedIncident),
    Revoke(Uuid),
    /// An advisory created or superseded, visible to the principal (redacted for it).
    UpsertAdvisory(RedactedAdvisory),
    /// An advisory the principal may hold a copy of and can no longer see.
    RevokeAdvisory(Uuid),
}

/// One page of the feed.
#[derive(Debug)]
pub struct FeedPage {
    pub changes: Vec<FeedChange>,
    /// The log position after this page.
    pub cursor_seq: i64,
    /// Log entries read (0: nothing new).
    pub scanned: usize,
    /// Incidents changed in this page that the principal was told nothing about (not visible
    /// now and never visible before): withheld by policy.
    pub withheld: usize,
}

/// The feed of one hub.
#[derive(Clone)]
pub struct Feed {
    store: Store,
    policy: Arc<PolicyEngine>,
    classes: Arc<RecordClasses>,
    hub_id: String,
    sealer: Arc<Sealer>,
}

impl Feed {
    pub fn new(
        store: Store,
        policy: Arc<PolicyEngine>,
        hub_id: String,
        sealer: Arc<Sealer>,
    ) -> Self {
        Self {
            classes: Arc::new(RecordClasses::new(store.clone(), policy.clone())),
            store,
            policy,
            hub_id,
            sealer,
        }
    }

    /// The record rule over this hub's store (shared with the other read paths, so a
    /// population is computed once per change of the log).
    pub fn classes(&self) -> Arc<RecordClasses> {
        self.classes.clone()
    }

    pub fn hub_id(&self) -> &str {
        &self.hub_id
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn policy(&self) -> &PolicyEngine {
        &self.policy
    }

    /// The opaque (sealed) cursor for a log position of this hub.
    pub fn cursor(&self, seq: i64) -> Result<String, FeedError> {
        let plain = Cursor {
            hub_id: self.hub_id.clone(),
            epoch: self.store.log_epoch().to_string(),
            seq,
        }
        .encode();
        Ok(self.sealer.seal(CURSOR_PURPOSE, plain.as_bytes())?)
    }

    /// The log position a client cursor stands for; empty means the beginning.
    pub async fn resolve(&self, cursor: &str) -> Result<i64, FeedError> {
        if cursor.trim().is_empty() {
            return Ok(0);
        }
        let cursor = self
            .sealer
            .open(CURSOR_PURPOSE, cursor)
            .and_then(|plain| String::from_utf8(plain).ok())
            .and_then(|plain| Cursor::decode(&plain))
            .ok_or_else(|| {
                FeedError::ResyncRequired(
                    "the cursor is not one this hub issued (another hub's, or altered)".into(),
                )
            })?;
        if cursor.hub_id != self.hub_id {
            return Err(FeedError::ResyncRequired(format!(
                "the cursor belongs to hub '{}', not this one",
                cursor.hub_id
            )));
        }
        if cursor.epoch != self.store.log_epoch() {
            return Err(FeedError::ResyncRequired(
                "the cursor belongs to another change log (the hub's database was replaced)".into(),
            ));
        }
        if cursor.seq > self.store.max_seq().await? {
            return Err(FeedError::ResyncRequired(
                "the cursor is ahead of this hub's change log (restored from a backup?)".into(),
            ));
        }
        Ok(cursor.seq)
    }

    /// The next page after `after`: at most `limit` log entries, none beyond `up_to` if given.
    pub async fn page(
        &self,
        principal: &Principal,
        filter: &FeedFilter,
        after: i64,
        limit: u32,
        up_to: Option<i64>,
    ) -> Result<FeedPage, FeedError> {
        // Decisions of the record rule that changed since the log last moved are appended to
        // it first, so this page (or the next) carries them.
        self.classes.refresh_for(principal).await?;
        let mut rows = self.store.changes_after(after, limit).await?;
        if let Some(up_to) = up_to {
            rows.retain(|row| row.seq <= up_to);
        }
        let Some(last_seq) = rows.last().map(|row| row.seq) else {
            return Ok(FeedPage {
                changes: Vec::new(),
                cursor_seq: after,
                scanned: 0,
                withheld: 0,
            });
        };
        let order = latest_entries(&rows);
        let (mut current, mut advisories) = self.current_state(&order).await?;

        let mut changes: Vec<(i64, FeedChange)> = Vec::new();
        let mut not_visible: Vec<(i64, Entity, Uuid)> = Vec::new();
        // Incidents go through the record rule together (one look at its classes per page);
        // the filter then sees what the principal would receive, never a withheld value.
        let incident_order: Vec<Uuid> = order
            .iter()
            .filter(|(_, entity, _)| *entity == Entity::Incident)
            .filter_map(|(_, _, id)| current.contains_key(id).then_some(*id))
            .collect();
        let stored: Vec<StoredIncident> = incident_order
            .iter()
            .filter_map(|id| current.remove(id))
            .collect();
        let mut rendered: HashMap<Uuid, Outcome> = incident_order
            .into_iter()
            .zip(self.classes.decide(principal, stored).await?)
            .collect();
        let mut withheld = 0;
        for (seq, entity, id) in order {
            match entity {
                Entity::Incident => {
                    let redacted = match rendered.remove(&id) {
                        Some(Outcome::Released(redacted)) => Some(*redacted),
                        // Never released to anyone: nothing to drop, nothing to say.
                        Some(Outcome::Withheld { maybe_held: false }) => {
                            withheld += 1;
                            continue;
                        }
                        _ => None,
                    }
                    .filter(|redacted| filter.matches(&redacted.incident));
                    match redacted {
                        Some(redacted) if redacted.incident.is_retracted() => {
                            changes.push((seq, FeedChange::Retract(redacted)))
                        }
                        Some(redacted) => changes.push((seq, FeedChange::Upsert(redacted))),
                        None => not_visible.push((seq, entity, id)),
                    }
                }
                Entity::Advisory => {
                    let redacted = advisories
                        .remove(&id)
                        .filter(|advisory| filter.matches_advisory(advisory))
                        .and_then(|advisory| self.policy.redact_advisory(advisory, principal));
                    match redacted {
                        Some(redacted) => changes.push((seq, FeedChange::UpsertAdvisory(redacted))),
                        None => not_visible.push((seq, entity, id)),
                    }
                }
            }
        }
        if !not_visible.is_empty() {
            withheld += self
                .revocations(principal, &not_visible, last_seq, &mut changes)
                .await?;
            changes.sort_by_key(|(seq, _)| *seq);
        }
        Ok(FeedPage {
            changes: changes.into_iter().map(|(_, change)| change).collect(),
            cursor_seq: last_seq,
            scanned: rows.len(),
            withheld,
        })
    }

    /// The current state of the incidents and advisories in `order`, by id.
    async fn current_state(
        &self,
        order: &[(i64, Entity, Uuid)],
    ) -> Result<(HashMap<Uuid, StoredIncident>, HashMap<Uuid, StoredAdvisory>), FeedError> {
        let ids_of = |wanted: Entity| -> Vec<Uuid> {
            order
                .iter()
                .filter(|(_, entity, _)| *entity == wanted)
                .map(|(_, _, id)| *id)
                .collect()
        };
        let incident_ids = ids_of(Entity::Incident);
        let advisory_ids = ids_of(Entity::Advisory);
        let current: HashMap<Uuid, StoredIncident> = if incident_ids.is_empty() {
            HashMap::new()
        } else {
            self.store
                .get_many(&incident_ids)
                .await?
                .into_iter()
                .map(|incident| (incident.id, incident))
                .collect()
        };
        let advisories: HashMap<Uuid, StoredAdvisory> = if advisory_ids.is_empty() {
            HashMap::new()
        } else {
            self.store
                .get_advisories(&advisory_ids)
                .await?
                .into_iter()
                .map(|advisory| (advisory.id, advisory))
                .collect()
        };
        Ok((current, advisories))
    }

    /// Adds a REVOKE to `changes` for each of `not_visible` this principal could have received
    /// at some point (up to `last_seq`); returns how many others were withheld. Telling it about
    /// anything else would leak that the incident (or advisory) exists.
    async fn revocations(
        &self,
        principal: &Principal,
        not_visible: &[(i64, Entity, Uuid)],
        last_seq: i64,
        changes: &mut Vec<(i64, FeedChange)>,
    ) -> Result<usize, FeedError> {
        let mut withheld = 0;
        for entity in [Entity::Incident, Entity::Advisory] {
            let ids: Vec<Uuid> = not_visible
                .iter()
                .filter(|(_, of, _)| *of == entity)
                .map(|(_, _, id)| *id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let history = self.store.sharing_history(entity, &ids, last_seq).await?;
            for (seq, of, id) in not_visible {
                if *of != entity {
                    continue;
                }
                let could_have_seen = history.iter().any(|snapshot| {
                    snapshot.incident_id == *id
                        && self.policy.visible_under(
                            principal,
                            &SharingState {
                                origin_org: &snapshot.origin_org,
                                origin_hub: &snapshot.origin_hub,
                                distribution: snapshot.distribution,
                                sharing_group: snapshot.sharing_group.as_deref(),
                                group_members: snapshot.group_members.as_deref(),
                                tlp: snapshot.tlp,
                                country: snapshot.country.as_deref(),
                                threat_category: snapshot.threat_category,
                            },
                        )
                });
                if could_have_seen {
                    changes.push((
                        *seq,
                        match entity {
                            Entity::Incident => FeedChange::Revoke(*id),
                            Entity::Advisory => FeedChange::RevokeAdvisory(*id),
                        },
                    ));
                } else {
                    withheld += 1;
                }
            }
        }
        Ok(withheld)
    }
}

/// Each incident (and advisory) once per page, at its last entry (its current state covers
/// them all), in sequence order.
fn latest_entries(rows: &[ChangeRow]) -> Vec<(i64, Entity, Uuid)> {
    let mut last_entry: HashMap<(Entity, Uuid), i64> = HashMap::new();
    for row in rows {
        last_entry.insert((row.entity, row.incident_id), row.seq);
    }
    let mut order: Vec<(i64, Entity, Uuid)> = last_entry
        .iter()
        .map(|((entity, id), seq)| (*seq, *entity, *id))
        .collect();
    order.sort_unstable_by_key(|(seq, _, _)| *seq);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(hub in "[a-z0-9-]{1,20}", epoch in "[0-9a-f]{32}", seq in 0i64..i64::MAX) {
            let cursor = Cursor { hub_id: hub, epoch, seq };
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }

    #[test]
    fn malformed_cursors_are_refused() {
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode("c1:hub:epoch:-4"), None);
        assert_eq!(Cursor::decode("c1:hub:epoch:4:extra"), None);
        assert_eq!(Cursor::decode("c0:hub:epoch:4"), None);
    }
}
