//! What a feed subscriber may learn from timing: whether it gets the live feed in batches.

use super::PolicyEngine;
use crate::identity::{PeerKind, Principal, Role};
use crate::policy::Tier;

impl PolicyEngine {
    /// The tier at which a viewer gets the times of changes (`reported_at`, `updated_at`).
    pub fn timestamp_tier(&self) -> Tier {
        self.rules
            .field_tier("reported_at")
            .max(self.rules.field_tier("updated_at"))
    }

    /// The batch (seconds) in which `principal`'s live feed is delivered: the policy's
    /// `live_feed.batch_seconds` when it may see any incident below the timestamps' tier, else
    /// `None` (live). Fails closed: a principal whose tier on others' incidents is unknown is
    /// batched.
    pub fn live_batch_seconds(&self, principal: &Principal) -> Option<u64> {
        let batch = self.rules.live_batch_seconds;
        if batch == 0 {
            return None;
        }
        let tier_on_others = match Self::peer_terms(principal) {
            Some(terms) => Some(self.peer_tier(terms)),
            None if principal.kind == PeerKind::Org => principal
                .roles
                .iter()
                .filter(|role| **role != Role::PeerHub)
                .filter_map(|role| self.rules.other_tier(*role))
                .max(),
            None => None,
        };
        match tier_on_others {
            Some(tier) if tier >= self.timestamp_tier() => None,
            _ => Some(batch),
        }
    }
}
