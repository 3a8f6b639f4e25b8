//! The changes a Pull or Subscribe sends, encoded for the caller. Partners get each record as
//! the policy redacted it. Peer hubs get each incident and advisory with its origin signature
//! (`wire::origin_seal`): our own signed now, a foreign copy only as its origin signed it; a
//! record that cannot carry one does not go, and is counted as withheld like a record the
//! agreement's filters keep back.

use std::sync::Arc;

use slt_proto::v1 as pb;

use crate::feed::{FeedChange, FeedPage};
use crate::identity::{PeerKind, Principal};
use crate::wire::origin_seal::{OriginSigner, advisory_for_peer, incident_for_peer};
use crate::wire::{advisory_to_proto, incident_to_proto};

/// How one caller's changes are encoded.
#[derive(Clone)]
pub enum Egress {
    Partner,
    /// A peer hub; without this hub's federation key nothing signable goes (fail closed).
    Peer(Option<Arc<OriginSigner>>),
}

impl Egress {
    pub fn for_principal(principal: &Principal, signer: &Option<Arc<OriginSigner>>) -> Egress {
        if principal.kind == PeerKind::Hub {
            Egress::Peer(signer.clone())
        } else {
            Egress::Partner
        }
    }

    /// A page's changes as messages, and how many were held back for want of a signature.
    pub fn changes(&self, page: FeedPage) -> (Vec<pb::Change>, u64) {
        let mut withheld = 0u64;
        let mut out = Vec::with_capacity(page.changes.len());
        for change in page.changes {
            match self.change(change) {
                Some(change) => out.push(change),
                None => withheld += 1,
            }
        }
        (out, withheld)
    }

    fn incident(&self, redacted: crate::policy::RedactedIncident) -> Option<pb::Incident> {
        match self {
            Egress::Partner => Some(incident_to_proto(redacted)),
            Egress::Peer(signer) => incident_for_peer(redacted, signer.as_deref()?),
        }
    }

    fn advisory(&self, redacted: crate::policy::RedactedAdvisory) -> Option<pb::Advisory> {
        match self {
            Egress::Partner => Some(advisory_to_proto(redacted)),
            Egress::Peer(signer) => advisory_for_peer(redacted, signer.as_deref()?),
        }
    }

    fn change(&self, change: FeedChange) -> Option<pb::Change> {
        Some(match change {
            FeedChange::Upsert(redacted) => pb::Change {
                r#type: pb::ChangeType::Upsert as i32,
                incident_id: redacted.incident.id.to_string(),
                incident: Some(self.incident(redacted)?),
                ..Default::default()
            },
            FeedChange::Retract(redacted) => pb::Change {
                r#type: pb::ChangeType::Retract as i32,
                incident_id: redacted.incident.id.to_string(),
                incident: Some(self.incident(redacted)?),
                ..Default::default()
            },
            FeedChange::Revoke(id) => pb::Change {
                r#type: pb::ChangeType::Revoke as i32,
                incident_id: id.to_string(),
                ..Default::default()
            },
            FeedChange::UpsertAdvisory(redacted) => pb::Change {
                r#type: pb::ChangeType::Upsert as i32,
                advisory_id: redacted.advisory.id.to_string(),
                advisory: Some(self.advisory(redacted)?),
                ..Default::default()
            },
            FeedChange::RevokeAdvisory(id) => pb::Change {
                r#type: pb::ChangeType::Revoke as i32,
                advisory_id: id.to_string(),
                ..Default::default()
            },
        })
    }
}
