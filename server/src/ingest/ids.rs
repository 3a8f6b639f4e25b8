//! The hub's id of a submitted incident, derived from the id the submitter chose.
//!
//! Every organisation gets its own id space: the stored id is a keyed hash of the submitted id
//! under a secret of the submitting organisation (derived from the hub's master secret), so
//! - one organisation can neither block another's ids (two partners importing the same public
//!   AWSD record, whose submitted id is predictable, both get a record of their own), nor learn
//!   from the answer whether an id it cannot see exists: whatever it submits lands in its own
//!   space, and the answer depends only on its own records;
//! - a peer hub or another partner cannot compute an organisation's future ids in advance
//!   (the key is secret), so it cannot occupy them first;
//! - a retried submission derives the same id, so submitting stays idempotent.
//!
//! The submitter may keep addressing its own incidents by the id it submitted (see
//! `api::incidents`); everyone else, and every feed, sees the derived id. Advisories get the
//! same treatment (`api::threat`), for the same reasons.

use ring::hmac;
use uuid::Uuid;

use crate::anonymise::OrgSecrets;

/// The id spaces of this hub's organisations.
#[derive(Clone, Debug)]
pub struct IdSpace {
    secrets: OrgSecrets,
    hub_id: String,
}

impl IdSpace {
    pub fn new(secrets: OrgSecrets, hub_id: String) -> Self {
        Self { secrets, hub_id }
    }

    /// A public fingerprint of this id space (the master secret and the hub id it derives
    /// under): the id a reserved, unregistrable org name would get for the nil UUID. Pinned in
    /// the database at start, so a replica with another key file, or a renamed hub, refuses to
    /// start instead of deriving other ids for the same submissions.
    pub fn fingerprint(&self) -> String {
        self.own("\0id-space-fingerprint", Kind::Incident, Uuid::nil())
            .to_string()
    }

    /// The stored id of what `org` submitted as `submitted`.
    pub fn own(&self, org: &str, kind: Kind, submitted: Uuid) -> Uuid {
        derive(&self.secrets.for_org(org), &self.hub_id, kind, submitted)
    }
}

/// What an id is derived for: incidents and advisories have separate spaces, so an incident
/// and an advisory submitted under one UUID are not linked by their stored ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Incident,
    Advisory,
}

impl Kind {
    /// What the derivation is bound to, so the key serves no other purpose.
    fn context(self) -> &'static [u8] {
        match self {
            Kind::Incident => b"slt-hub incident-id v1\0",
            Kind::Advisory => b"slt-hub advisory-id v1\0",
        }
    }
}

/// The stored id of what `org_secret`'s organisation submitted as `submitted` at `hub_id`.
/// A UUID of version 8 (custom), variant RFC 9562.
pub fn derive(org_secret: &[u8], hub_id: &str, kind: Kind, submitted: Uuid) -> Uuid {
    let key = hmac::Key::new(hmac::HMAC_SHA256, org_secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(kind.context());
    context.update(hub_id.as_bytes());
    context.update(b"\0");
    context.update(submitted.as_bytes());
    let tag = context.sign();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&tag.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_organisation_gets_its_own_stable_id_space() {
        let submitted = Uuid::parse_str("0190f5c2-7b1e-7c3a-9d4e-1a2b3c4d5e6f").expect("uuid");
        let alpha = derive(b"secret of alpha", "hub-a", Kind::Incident, submitted);
        assert_eq!(
            alpha,
            derive(b"secret of alpha", "hub-a", Kind::Incident, submitted)
        );
        assert_ne!(
            alpha,
            derive(b"secret of beta", "hub-a", Kind::Incident, submitted)
        );
        assert_ne!(
            alpha,
            derive(b"secret of alpha", "hub-b", Kind::Incident, submitted)
        );
        assert_ne!(
            alpha,
            derive(b"secret of alpha", "hub-a", Kind::Advisory, submitted)
        );
        assert_ne!(alpha, submitted);
        assert_eq!(alpha.get_version_num(), 8);
        assert_eq!(alpha.get_variant(), uuid::Variant::RFC4122);
    }
}
