//! Peer agreements: which hubs this hub federates with, and on what terms.
//!
//! An agreement names the peer hub (`hub_id`), where to reach it (`endpoint`), how to recognise
//! it (its CA bundle and trust domain, and the public key its self-issued tokens are signed
//! with), what it gets from us (`tier`, T1 by default and never above T2; `countries` and
//! `categories` filters) and whether what crosses this link may be re-shared further
//! (`transitive`, default no). Agreements live in `hub.toml` (`[[peers]]`) and in the
//! reloadable `peer_registry` file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::{ThreatCategory, Tier};

/// The tier a peer may be given: T1 or T2 (T3 never leaves the origin hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PeerTier {
    #[default]
    T1,
    T2,
}

impl PeerTier {
    pub fn tier(self) -> Tier {
        match self {
            PeerTier::T1 => Tier::T1,
            PeerTier::T2 => Tier::T2,
        }
    }
}

/// One `[[peers]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerAgreement {
    /// The peer hub's id: its certificate is `spiffe://<trust_domain>/hub/<hub_id>`, its tokens
    /// carry `iss` = `org` = this id.
    pub hub_id: String,
    /// `https://host:port` of the peer (where our pull worker connects).
    pub endpoint: String,
    /// The peer's CA bundle (PEM), when it is in another PKI: trusted for this hub id only.
    /// Absent: the peer's certificates come from our own CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// CRLs (PEM) of the peer's CA; without one, the peer CA's revocation status is unknown
    /// and accepted (see ARCHITECTURE.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<PathBuf>,
    /// The peer's SPIFFE trust domain; ours when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_domain: Option<String>,
    /// The peer's token public key (Ed25519 PEM): tokens it issues for itself (`iss` = its hub
    /// id, `aud` = our hub id, role `peer_hub`) verify with it.
    pub token_public_key: PathBuf,
    /// The peer's federation public key (Ed25519 PEM, the public half of its
    /// `federation_signing_key`): incidents and advisories whose origin is this hub, from
    /// whichever peer they arrive, must carry its signature. Absent: records of that origin
    /// are refused (an agreement with `pull = false` can name an origin we only hear of
    /// through relays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_key: Option<PathBuf>,
    /// The tier the peer gets from us.
    #[serde(default)]
    pub tier: PeerTier,
    /// Only incidents in these countries (ISO alpha-3) go to the peer; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// Only incidents of these threat categories go to the peer; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<ThreatCategory>,
    /// Whether incidents crossing this link keep FEDERATION distribution (and so may be
    /// re-shared by the receiver). Default: no, they arrive as COMMUNITY.
    #[serde(default)]
    pub transitive: bool,
    /// Whether this hub pulls from the peer (a pull worker). Default: yes.
    #[serde(default = "default_true")]
    pub pull: bool,
    /// Pause between pulls once caught up, in milliseconds.
    #[serde(default = "default_pull_interval")]
    pub pull_interval_millis: u64,
    /// Longest pause between retries after failures, in milliseconds.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_millis: u64,
    /// Longest wait for the TCP connection and TLS handshake to the peer, in milliseconds.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_millis: u64,
    /// Longest wait for the peer's answer to a call, and then for each page of a Pull, in
    /// milliseconds: a peer that stops answering fails the round instead of stalling it.
    #[serde(default = "default_call_timeout")]
    pub call_timeout_millis: u64,
}

fn default_true() -> bool {
    true
}

fn default_pull_interval() -> u64 {
    2000
}

fn default_max_backoff() -> u64 {
    60_000
}

fn default_connect_timeout() -> u64 {
    5_000
}

fn default_call_timeout() -> u64 {
    30_000
}

/// What the policy needs to know about the peer behind a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTerms {
    pub hub_id: String,
    pub tier: Tier,
    pub countries: Vec<String>,
    pub categories: Vec<ThreatCategory>,
    pub transitive: bool,
}

impl PeerAgreement {
    /// A T1, non-transitive agreement without filters, pulling every 2 seconds.
    pub fn new(hub_id: &str, endpoint: &str, token_public_key: PathBuf) -> PeerAgreement {
        PeerAgreement {
            hub_id: hub_id.to_string(),
            endpoint: endpoint.to_string(),
            ca: None,
            crl: None,
            trust_domain: None,
            token_public_key,
            origin_key: None,
            tier: PeerTier::T1,
            countries: Vec::new(),
            categories: Vec::new(),
            transitive: false,
            pull: true,
            pull_interval_millis: default_pull_interval(),
            max_backoff_millis: default_max_backoff(),
            connect_timeout_millis: default_connect_timeout(),
            call_timeout_millis: default_call_timeout(),
        }
    }

    pub fn terms(&self) -> PeerTerms {
        PeerTerms {
            hub_id: self.hub_id.clone(),
            tier: self.tier.tier(),
            countries: self.countries.clone(),
            categories: self.categories.clone(),
            transitive: self.transitive,
        }
    }

    /// Makes relative paths absolute against `base` (the file the agreement is in).
    pub fn resolve_paths(&mut self, base: &Path) {
        for path in [
            Some(&mut self.token_public_key),
            self.origin_key.as_mut(),
            self.ca.as_mut(),
            self.crl.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

/// Checks agreements: valid unique hub ids (never our own), https endpoints, real country
/// codes. The message names the peer and the field.
pub fn check_peers(own_hub: &str, peers: &[PeerAgreement]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for peer in peers {
        if !super::peer::is_valid_id(&peer.hub_id) {
            return Err(format!("peers: '{}' is not a valid hub id", peer.hub_id));
        }
        if peer.hub_id == own_hub {
            return Err(format!(
                "peers '{}': hub_id is this hub's own id",
                peer.hub_id
            ));
        }
        if !seen.insert(peer.hub_id.as_str()) {
            return Err(format!("peers: '{}' is listed twice", peer.hub_id));
        }
        if !peer.endpoint.starts_with("https://") {
            return Err(format!(
                "peers '{}': endpoint '{}' must start with https://",
                peer.hub_id, peer.endpoint
            ));
        }
        for country in &peer.countries {
            if slt_proto::countries::normalise_country(country) != Some(country.as_str()) {
                return Err(format!(
                    "peers '{}': countries: '{country}' is not an ISO 3166-1 alpha-3 code",
                    peer.hub_id
                ));
            }
        }
        if let Some(domain) = &peer.trust_domain
            && domain.trim().is_empty()
        {
            return Err(format!(
                "peers '{}': trust_domain must not be empty",
                peer.hub_id
            ));
        }
        for (field, value) in [
            ("pull_interval_millis", peer.pull_interval_millis),
            ("max_backoff_millis", peer.max_backoff_millis),
            ("connect_timeout_millis", peer.connect_timeout_millis),
            ("call_timeout_millis", peer.call_timeout_millis),
        ] {
            if value == 0 {
                return Err(format!(
                    "peers '{}': {field} must be at least 1",
                    peer.hub_id
                ));
            }
        }
    }
    Ok(())
}

/// The reloadable peer registry file: `[[peers]]` entries as in `hub.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerFile {
    #[serde(default)]
    peers: Vec<PeerAgreement>,
}

/// Reads a peer registry file; relative paths resolve against its directory.
pub fn read_peer_file(path: &Path) -> Result<Vec<PeerAgreement>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let file: PeerFile = toml::from_str(&text).map_err(|error| error.to_string())?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut peers = file.peers;
    for peer in &mut peers {
        peer.resolve_paths(base);
    }
    Ok(peers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_above_t2_do_not_parse_and_t1_is_the_default() {
        let parsed: PeerAgreement = toml::from_str(
            "hub_id = \"hub-b\"\nendpoint = \"https://127.0.0.1:1\"\ntoken_public_key = \"b.pem\"\n",
        )
        .expect("parse");
        assert_eq!(parsed.tier, PeerTier::T1);
        assert!(!parsed.transitive);
        assert!(parsed.pull);
        let t3 = toml::from_str::<PeerAgreement>(
            "hub_id = \"hub-b\"\nendpoint = \"https://127.0.0.1:1\"\ntoken_public_key = \"b.pem\"\ntier = \"T3\"\n",
        );
        assert!(t3.is_err());
    }

    #[test]
    fn bad_agreements_are_named() {
        let good = PeerAgreement::new("hub-b", "https://127.0.0.1:1", "b.pem".into());
        assert_eq!(check_peers("hub-a", std::slice::from_ref(&good)), Ok(()));
        let own = PeerAgreement::new("hub-a", "https://127.0.0.1:1", "b.pem".into());
        assert!(check_peers("hub-a", &[own]).is_err_and(|m| m.contains("own id")));
        let twice = [good.clone(), good.clone()];
        assert!(check_peers("hub-a", &twice).is_err_and(|m| m.contains("twice")));
        let mut country = good.clone();
        country.countries = vec!["ZZZ".into()];
        assert!(check_peers("hub-a", &[country]).is_err_and(|m| m.contains("countries")));
        let mut plain = good;
        plain.endpoint = "http://x".into();
        assert!(check_peers("hub-a", &[plain]).is_err_and(|m| m.contains("https")));
    }
}
