//! Origin signatures (docs/federation.md#origin-signatures): the origin hub signs each
//! rendering it serves a peer (the message at the peer's tier, with the fields that change per
//! hop left out), every relay carries that rendering and signature unchanged, and every
//! receiver verifies them against the origin's key before applying anything. The version is
//! under the signature, so a relay can neither invent records "from" another hub nor shadow
//! genuine versions with a larger one.
//!
//! Signing a tier's rendering, rather than per-field hashes, keeps verification one check and
//! reveals nothing about withheld fields (hashes of low-entropy values could be brute-forced).

use prost::Message;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use slt_proto::v1 as pb;

use super::{advisory_to_proto, incident_to_proto, tier_to_proto};
use crate::domain::OriginSeal;
use crate::policy::{RedactedAdvisory, RedactedIncident};

/// Domain separation: these bytes start every signed message and nothing else this hub signs.
const CONTEXT: &[u8] = b"slt-hub origin signature v1\0";
/// What a signature is over: an incident or an advisory.
const KIND_INCIDENT: u8 = b'I';
const KIND_ADVISORY: u8 = b'A';

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("federation_signing_key is not an Ed25519 PKCS#8 PEM private key")]
    BadKey,
    #[error("no origin signature")]
    Unsigned,
    #[error("no agreement gives an origin_key for hub '{0}'")]
    UnknownOrigin(String),
    #[error("the origin signature does not verify with the key of hub '{0}'")]
    BadSignature(String),
    #[error("the id is not a UUID")]
    BadId,
    #[error("the origin hub id is too long")]
    BadOrigin,
    #[error("viewer_tier is not T0, T1 or T2")]
    BadTier,
}

/// This hub's federation key: signs the renderings of its own incidents and advisories.
pub struct OriginSigner {
    hub_id: String,
    key: Ed25519KeyPair,
}

impl OriginSigner {
    /// The key from its PKCS#8 PEM (`federation_signing_key`), signing for `hub_id`.
    pub fn from_pem(hub_id: &str, private_pem: &str) -> Result<Self, SealError> {
        let der = pem::parse(private_pem).map_err(|_| SealError::BadKey)?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.contents())
            .map_err(|_| SealError::BadKey)?;
        Ok(Self {
            hub_id: hub_id.to_string(),
            key,
        })
    }

    pub fn hub_id(&self) -> &str {
        &self.hub_id
    }

    /// The public half, as peers hold it (`origin_key` in their agreements).
    pub fn public_key(&self) -> [u8; 32] {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.key.public_key().as_ref());
        public
    }

    /// Signs `incident` as it stands, for the tier in its `viewer_tier`.
    pub fn sign_incident(&self, incident: &mut pb::Incident) -> Result<(), SealError> {
        let rendering = incident_rendering(incident);
        let message = incident_message(incident, &rendering)?;
        incident.origin_signature = self.key.sign(&message).as_ref().to_vec();
        Ok(())
    }

    /// Signs `advisory` as it stands, for the tier in its `viewer_tier`.
    pub fn sign_advisory(&self, advisory: &mut pb::Advisory) -> Result<(), SealError> {
        let rendering = advisory_rendering(advisory);
        let message = advisory_message(advisory, &rendering)?;
        advisory.origin_signature = self.key.sign(&message).as_ref().to_vec();
        Ok(())
    }
}

/// An incident's canonical rendering: its proto3 encoding (prost: fields in number order,
/// defaults omitted, packed repeated scalars, no unknown fields) with the per-hop fields
/// cleared: `redacted_fields` and `redactions` (the relay's own account), `viewer_tier` (signed
/// separately) and `origin_signature`. `distribution` stays signed: it is what the origin
/// allowed (COMMUNITY: one hop, to the peer it served), so a relay cannot widen it; a receiver
/// narrows it under its own agreement.
pub fn incident_rendering(incident: &pb::Incident) -> Vec<u8> {
    let mut shared = incident.clone();
    shared.redacted_fields.clear();
    shared.redactions.clear();
    shared.viewer_tier = 0;
    shared.origin_signature.clear();
    shared.encode_to_vec()
}

/// An advisory's canonical rendering, as for incidents (`redacted_fields`, `viewer_tier`,
/// `origin_signature` cleared; `distribution` signed).
pub fn advisory_rendering(advisory: &pb::Advisory) -> Vec<u8> {
    let mut shared = advisory.clone();
    shared.redacted_fields.clear();
    shared.viewer_tier = 0;
    shared.origin_signature.clear();
    shared.encode_to_vec()
}

/// The signed message: `CONTEXT`, the kind byte, the origin hub (u16 big-endian length, then
/// its UTF-8), the id (16 bytes of the UUID), the version (u64 big-endian), the tier (one
/// byte: the `AccessTier` number, 1..=3), the rendering (u32 big-endian length, then bytes).
fn signed_message(
    kind: u8,
    origin_hub: &str,
    id: &str,
    version: u64,
    tier: i32,
    rendering: &[u8],
) -> Result<Vec<u8>, SealError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| SealError::BadId)?;
    let tier = match pb::AccessTier::try_from(tier) {
        Ok(tier @ (pb::AccessTier::T0 | pb::AccessTier::T1 | pb::AccessTier::T2)) => tier as u8,
        _ => return Err(SealError::BadTier),
    };
    let hub_length = u16::try_from(origin_hub.len()).map_err(|_| SealError::BadOrigin)?;
    let rendering_length = u32::try_from(rendering.len()).map_err(|_| SealError::BadOrigin)?;
    let mut message = Vec::with_capacity(CONTEXT.len() + origin_hub.len() + rendering.len() + 40);
    message.extend_from_slice(CONTEXT);
    message.push(kind);
    message.extend_from_slice(&hub_length.to_be_bytes());
    message.extend_from_slice(origin_hub.as_bytes());
    message.extend_from_slice(id.as_bytes());
    message.extend_from_slice(&version.to_be_bytes());
    message.push(tier);
    message.extend_from_slice(&rendering_length.to_be_bytes());
    message.extend_from_slice(rendering);
    Ok(message)
}

fn incident_message(incident: &pb::Incident, rendering: &[u8]) -> Result<Vec<u8>, SealError> {
    signed_message(
        KIND_INCIDENT,
        &incident.origin_hub,
        &incident.id,
        incident.version,
        incident.viewer_tier,
        rendering,
    )
}

fn advisory_message(advisory: &pb::Advisory, rendering: &[u8]) -> Result<Vec<u8>, SealError> {
    signed_message(
        KIND_ADVISORY,
        &advisory.origin_hub,
        &advisory.id,
        advisory.version,
        advisory.viewer_tier,
        rendering,
    )
}

/// An incident for a peer hub, as its origin signed it. Our own incidents are signed now; a
/// foreign copy goes on only as its origin's signed rendering, and only at the tier it was
/// signed for (a relay cannot re-render without breaking the signature). `None`: it does not
/// go to this peer (a copy without a seal, at another tier, or a local row naming another
/// origin).
pub fn incident_for_peer(
    redacted: RedactedIncident,
    signer: &OriginSigner,
) -> Option<pb::Incident> {
    let received = redacted.incident.received.clone();
    let record_level = redacted.record_level;
    let mut message = incident_to_proto(redacted);
    let Some(received) = received else {
        if message.origin_hub != signer.hub_id {
            return None;
        }
        signer.sign_incident(&mut message).ok()?;
        return Some(message);
    };
    let seal = received.seal?;
    // The origin signed a finer rendering than the record rule lets this peer have.
    if record_level > 0 || message.viewer_tier != tier_to_proto(received.tier) {
        return None;
    }
    let mut forwarded = pb::Incident::decode(seal.rendering.as_slice()).ok()?;
    if (&forwarded.origin_hub, &forwarded.id, forwarded.version)
        != (&message.origin_hub, &message.id, message.version)
    {
        return None;
    }
    // The distribution stays as the origin signed it (the next hub narrows it under its own
    // agreement); only a FEDERATION copy is ever forwarded, as our policy shows peers nothing
    // else.
    forwarded.redacted_fields = message.redacted_fields;
    forwarded.redactions = message.redactions;
    forwarded.viewer_tier = message.viewer_tier;
    forwarded.origin_signature = seal.signature;
    Some(forwarded)
}

/// An advisory for a peer hub, signed by this hub. Only our own advisories go to peers (a
/// pulling hub does not keep foreign advisories), so a row naming another origin does not.
pub fn advisory_for_peer(
    redacted: RedactedAdvisory,
    signer: &OriginSigner,
) -> Option<pb::Advisory> {
    let mut message = advisory_to_proto(redacted);
    if message.origin_hub != signer.hub_id {
        return None;
    }
    signer.sign_advisory(&mut message).ok()?;
    Some(message)
}

fn verify(
    message: &[u8],
    signature: &[u8],
    origin_hub: &str,
    origin_key: &[u8; 32],
) -> Result<(), SealError> {
    if signature.is_empty() {
        return Err(SealError::Unsigned);
    }
    UnparsedPublicKey::new(&ED25519, origin_key)
        .verify(message, signature)
        .map_err(|_| SealError::BadSignature(origin_hub.to_string()))
}

/// Checks a peer's incident against its origin hub's key; the seal to keep (and forward) when
/// it verifies.
pub fn verify_incident(
    incident: &pb::Incident,
    origin_key: &[u8; 32],
) -> Result<OriginSeal, SealError> {
    let rendering = incident_rendering(incident);
    let message = incident_message(incident, &rendering)?;
    verify(
        &message,
        &incident.origin_signature,
        &incident.origin_hub,
        origin_key,
    )?;
    Ok(OriginSeal {
        rendering,
        signature: incident.origin_signature.clone(),
    })
}

/// Checks a peer's advisory against its origin hub's key.
pub fn verify_advisory(advisory: &pb::Advisory, origin_key: &[u8; 32]) -> Result<(), SealError> {
    let rendering = advisory_rendering(advisory);
    let message = advisory_message(advisory, &rendering)?;
    verify(
        &message,
        &advisory.origin_signature,
        &advisory.origin_hub,
        origin_key,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(hub: &str) -> OriginSigner {
        let pair = crate::identity::keys::generate_ed25519().expect("key");
        OriginSigner::from_pem(hub, &pair.private_pem).expect("signer")
    }

    fn signed(signer: &OriginSigner) -> pb::Incident {
        signed_with(signer, pb::Distribution::Federation)
    }

    fn signed_with(signer: &OriginSigner, distribution: pb::Distribution) -> pb::Incident {
        let mut incident = pb::Incident {
            id: uuid::Uuid::new_v4().to_string(),
            version: 3,
            origin_hub: signer.hub_id().into(),
            narrative: "road blocked".into(),
            viewer_tier: pb::AccessTier::T1 as i32,
            distribution: distribution as i32,
            ..Default::default()
        };
        signer.sign_incident(&mut incident).expect("signs");
        incident
    }

    #[test]
    fn a_genuine_rendering_verifies_whatever_the_hop_changed() {
        let origin = signer("hub-a");
        let mut incident = signed(&origin);
        incident.redacted_fields = vec!["narrative".into()];
        let seal = verify_incident(&incident, &origin.public_key()).expect("verifies");
        let decoded = pb::Incident::decode(seal.rendering.as_slice()).expect("decodes");
        assert_eq!(decoded.narrative, "road blocked");
    }

    #[test]
    fn version_content_origin_and_tier_are_under_the_signature() {
        let origin = signer("hub-a");
        let key = origin.public_key();
        let genuine = signed(&origin);
        let mut shadow = genuine.clone();
        shadow.version = 1 << 62;
        let mut edited = genuine.clone();
        edited.narrative = "nothing happened".into();
        let mut moved = genuine.clone();
        moved.origin_hub = "hub-x".into();
        let mut raised = genuine.clone();
        raised.viewer_tier = pb::AccessTier::T2 as i32;
        // A relay cannot widen a one-hop record: the distribution is signed.
        let mut widened = signed_with(&origin, pb::Distribution::Community);
        widened.distribution = pb::Distribution::Federation as i32;
        for forged in [shadow, edited, moved, raised, widened] {
            assert!(verify_incident(&forged, &key).is_err(), "{forged:?}");
        }
        let mut unsigned = genuine;
        unsigned.origin_signature.clear();
        assert_eq!(verify_incident(&unsigned, &key), Err(SealError::Unsigned));
    }

    #[test]
    fn another_hubs_key_does_not_verify() {
        let relay = signer("hub-b");
        let mut forged = signed(&relay);
        forged.origin_hub = "hub-a".into();
        relay.sign_incident(&mut forged).expect("signs");
        let genuine_origin = signer("hub-a");
        assert_eq!(
            verify_incident(&forged, &genuine_origin.public_key()),
            Err(SealError::BadSignature("hub-a".into()))
        );
    }

    #[test]
    fn an_incident_signature_is_not_an_advisory_signature() {
        let origin = signer("hub-a");
        let incident = signed(&origin);
        let advisory = pb::Advisory {
            id: incident.id.clone(),
            version: incident.version,
            origin_hub: incident.origin_hub.clone(),
            viewer_tier: incident.viewer_tier,
            origin_signature: incident.origin_signature.clone(),
            ..Default::default()
        };
        assert!(verify_advisory(&advisory, &origin.public_key()).is_err());
    }
}
