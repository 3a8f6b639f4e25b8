//! Which foreign copy wins: the rules the store applies to every incoming version and REVOKE.
//! Pure functions over what the store read, so they are tested here without a database.
//!
//! - Our own incidents coming back, and incidents that name no origin, are never applied.
//! - A local incident is never overwritten, nor a copy that belongs to another origin.
//! - A copy we hold is updated only by the peer we got it from or by its origin hub, so a third
//!   peer cannot overwrite it with a forged "newer" version.
//! - Each (origin hub, id, version) is applied at most once, and never over a newer version.
//! - A copy is revoked only by the peer we got it from or by its origin (the origin's word is
//!   final).

use crate::store::{CopyDecision, CopyFacts, CopyRules, ExistingCopy};

/// The federation rules, handed to the store with each page.
#[derive(Debug, Clone, Copy, Default)]
pub struct FederationRules;

impl CopyRules for FederationRules {
    fn upsert(&self, facts: &CopyFacts<'_>) -> CopyDecision {
        decide_upsert(facts)
    }

    fn revoke(&self, peer: &str, copy: &ExistingCopy<'_>) -> bool {
        may_revoke(peer, copy)
    }
}

/// What to do with one incoming foreign version.
pub fn decide_upsert(facts: &CopyFacts<'_>) -> CopyDecision {
    let origin = facts.incoming_origin_hub;
    if origin == facts.local_hub || origin.is_empty() {
        return CopyDecision::Withhold;
    }
    if let Some(existing) = &facts.existing {
        let Some(received_from) = existing.received_from else {
            // The id belongs to a local incident.
            return CopyDecision::Withhold;
        };
        if existing.origin_hub != origin {
            return CopyDecision::Withhold;
        }
        if received_from != facts.peer && origin != facts.peer {
            // Another relay's copy: ours comes from elsewhere and is updated from there.
            return CopyDecision::Duplicate;
        }
    }
    if facts
        .applied_version
        .is_some_and(|applied| applied >= facts.incoming_version)
    {
        return CopyDecision::Duplicate;
    }
    CopyDecision::Write
}

/// Whether `peer` may revoke our copy `copy`.
pub fn may_revoke(peer: &str, copy: &ExistingCopy<'_>) -> bool {
    match copy.received_from {
        // A local incident is never revoked by a peer.
        None => false,
        Some(received_from) => received_from == peer || copy.origin_hub == peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(existing: Option<ExistingCopy<'a>>, applied: Option<u64>) -> CopyFacts<'a> {
        CopyFacts {
            local_hub: "hub-local",
            peer: "hub-b",
            incoming_origin_hub: "hub-a",
            incoming_version: 3,
            existing,
            applied_version: applied,
        }
    }

    fn copy_of<'a>(origin: &'a str, from: Option<&'a str>) -> Option<ExistingCopy<'a>> {
        Some(ExistingCopy {
            origin_hub: origin,
            received_from: from,
        })
    }

    #[test]
    fn a_new_version_of_an_unknown_incident_is_written() {
        assert_eq!(decide_upsert(&facts(None, None)), CopyDecision::Write);
        assert_eq!(decide_upsert(&facts(None, Some(2))), CopyDecision::Write);
    }

    #[test]
    fn our_own_incidents_and_originless_ones_are_withheld() {
        let mut own = facts(None, None);
        own.incoming_origin_hub = "hub-local";
        assert_eq!(decide_upsert(&own), CopyDecision::Withhold);
        let mut originless = facts(None, None);
        originless.incoming_origin_hub = "";
        assert_eq!(decide_upsert(&originless), CopyDecision::Withhold);
    }

    #[test]
    fn a_local_incident_or_another_origins_copy_is_never_overwritten() {
        let local = facts(copy_of("hub-a", None), None);
        assert_eq!(decide_upsert(&local), CopyDecision::Withhold);
        let other_origin = facts(copy_of("hub-c", Some("hub-b")), None);
        assert_eq!(decide_upsert(&other_origin), CopyDecision::Withhold);
    }

    #[test]
    fn only_the_source_peer_or_the_origin_updates_a_copy() {
        let from_source = facts(copy_of("hub-a", Some("hub-b")), Some(2));
        assert_eq!(decide_upsert(&from_source), CopyDecision::Write);
        let third_relay = facts(copy_of("hub-a", Some("hub-c")), Some(2));
        assert_eq!(decide_upsert(&third_relay), CopyDecision::Duplicate);
        let mut from_origin = facts(copy_of("hub-a", Some("hub-c")), Some(2));
        from_origin.peer = "hub-a";
        assert_eq!(decide_upsert(&from_origin), CopyDecision::Write);
    }

    #[test]
    fn a_version_is_applied_at_most_once_and_never_older() {
        let same = facts(copy_of("hub-a", Some("hub-b")), Some(3));
        assert_eq!(decide_upsert(&same), CopyDecision::Duplicate);
        let older = facts(copy_of("hub-a", Some("hub-b")), Some(4));
        assert_eq!(decide_upsert(&older), CopyDecision::Duplicate);
        // A revoked copy's row is gone, but its applied version still guards against replays.
        assert_eq!(
            decide_upsert(&facts(None, Some(3))),
            CopyDecision::Duplicate
        );
    }

    #[test]
    fn only_the_source_or_the_origin_revokes_and_never_a_local_incident() {
        let copy = ExistingCopy {
            origin_hub: "hub-a",
            received_from: Some("hub-b"),
        };
        assert!(may_revoke("hub-b", &copy));
        assert!(may_revoke("hub-a", &copy));
        assert!(!may_revoke("hub-c", &copy));
        let local = ExistingCopy {
            origin_hub: "hub-local",
            received_from: None,
        };
        assert!(!may_revoke("hub-local", &local));
        assert!(!may_revoke("hub-b", &local));
    }
}
