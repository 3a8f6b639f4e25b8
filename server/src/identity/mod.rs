//! Who is calling. Only this module reads peer certificates and tokens: the TLS acceptor
//! (`tls`), the certificate -> organisation mapping (`peer`), hub-issued JWTs (`token`) and the
//! key material they use (`keys`). Everything downstream receives a [`Principal`].
//!
//! Peer hubs' agreements (`agreement`) live here too: an agreement is what makes a peer hub a
//! known caller (its CA, trust domain and token key) and the terms its principal carries, and
//! the reloader loads them with the rest of the identity material.

pub mod agreement;
pub mod jwks;
pub mod keys;
pub mod peer;
pub mod peer_tls;
pub mod rate;
pub mod reload;
pub mod tls;
pub mod token;
pub mod token_cache;
pub mod validity;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::domain::OrgType;

/// A role a person may hold (security.md, "Roles and what they may call").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reporter,
    Analyst,
    FocalPoint,
    Auditor,
    Admin,
    PeerHub,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Reporter,
        Role::Analyst,
        Role::FocalPoint,
        Role::Auditor,
        Role::Admin,
        Role::PeerHub,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::Analyst => "analyst",
            Role::FocalPoint => "focal_point",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::PeerHub => "peer_hub",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|role| role.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the certificate names an organisation or another hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    Org,
    Hub,
}

/// The authenticated caller of one RPC: the organisation from its certificate, the person and
/// roles from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Organisation (or hub) id from the certificate's SPIFFE URI.
    pub org: String,
    pub kind: PeerKind,
    /// The token's `sub`: who, within the org.
    pub subject: String,
    pub roles: BTreeSet<Role>,
    /// SHA-256 of the client certificate (DER), lower-case hex; for the audit log.
    pub cert_sha256: String,
    /// When the token expires (seconds since the epoch): long-lived streams end then.
    pub expires_at: u64,
    /// For a peer hub: the terms of its agreement (tier, filters, transitivity). Always
    /// `Some` for `PeerKind::Hub` principals, `None` for organisations.
    pub federation: Option<std::sync::Arc<agreement::PeerTerms>>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What the hub knows about one organisation (the org registry: the hub config's `[[orgs]]` and
/// the reloadable `org_registry` file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgEntry {
    pub id: String,
    pub name: String,
    pub org_type: OrgType,
    /// The roles tokens for this org may carry: a cap on any token. A token carrying any other
    /// role is refused, never trimmed.
    pub roles: Vec<Role>,
    /// Where the org works (ISO 3166-1 alpha-3 codes); informational for now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// Whether tokens issued by this hub (`slt-hub token issue`) are accepted for this org.
    #[serde(default = "default_true")]
    pub hub_tokens: bool,
    /// The org's own identity providers: tokens with this `iss`, verified with the keys of this
    /// JWKS file, may speak for this org (and only for it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuers: Vec<OrgIssuer>,
    /// Tokens must be bound to the calling certificate (`cnf.x5t#S256`, RFC 8705).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_token_binding: bool,
    /// This org's rate limit; the hub's `rate_limit` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<rate::RateLimit>,
}

fn default_true() -> bool {
    true
}

impl OrgEntry {
    /// An entry with the defaults: hub tokens only, no binding, the hub's rate limit.
    pub fn new(id: &str, name: &str, org_type: OrgType, roles: &[Role]) -> OrgEntry {
        OrgEntry {
            id: id.to_string(),
            name: name.to_string(),
            org_type,
            roles: roles.to_vec(),
            countries: Vec::new(),
            hub_tokens: true,
            issuers: Vec::new(),
            require_token_binding: false,
            rate_limit: None,
        }
    }
}

/// An org's own token issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgIssuer {
    /// The `iss` its tokens carry.
    pub iss: String,
    /// Its public keys: an RFC 7517 JWKS file of Ed25519 (`OKP`) keys, each with a `kid`.
    pub jwks: PathBuf,
}

/// The organisations registered on this hub, by id.
#[derive(Debug, Clone, Default)]
pub struct OrgRegistry {
    orgs: HashMap<String, OrgEntry>,
}

impl OrgRegistry {
    pub fn new(entries: impl IntoIterator<Item = OrgEntry>) -> Self {
        Self {
            orgs: entries
                .into_iter()
                .map(|entry| (entry.id.clone(), entry))
                .collect(),
        }
    }

    pub fn get(&self, org: &str) -> Option<&OrgEntry> {
        self.orgs.get(org)
    }

    pub fn entries(&self) -> impl Iterator<Item = &OrgEntry> {
        self.orgs.values()
    }

    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }
}

/// The live org registry, swapped whole on reload.
pub type SharedOrgRegistry = std::sync::Arc<arc_swap::ArcSwap<OrgRegistry>>;

/// The live authenticator, swapped whole on reload.
pub type SharedAuthenticator = std::sync::Arc<arc_swap::ArcSwap<Authenticator>>;

/// Why a caller could not be authenticated. Messages name what is missing or wrong with the
/// caller's own credentials, never what exists on the hub.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no client certificate was presented")]
    NoCertificate,
    #[error("the client certificate could not be parsed")]
    BadCertificate,
    #[error("the client certificate must carry exactly one spiffe:// URI SAN, found {0}")]
    SpiffeUriCount(usize),
    #[error(
        "the client certificate's SPIFFE id is not of the form spiffe://{trust_domain}/org/<id> or /hub/<id>"
    )]
    SpiffeUriForm { trust_domain: String },
    #[error("the client certificate belongs to trust domain '{0}', not this hub's")]
    WrongTrustDomain(String),
    #[error("organisation '{0}' is not registered on this hub")]
    UnknownOrg(String),
    #[error("no bearer token: send 'authorization: Bearer <jwt>'")]
    MissingToken,
    #[error("the authorization metadata is not of the form 'Bearer <jwt>'")]
    MalformedAuthorization,
    #[error("the token is invalid: {0}")]
    InvalidToken(String),
    #[error("the token has expired")]
    ExpiredToken,
    #[error("the token is for organisation '{token_org}' but the certificate is for '{cert_org}'")]
    OrgMismatch { token_org: String, cert_org: String },
    #[error("the token carries role '{0}', which this organisation may not hold")]
    RoleNotAllowed(String),
    #[error(
        "hub certificates are accepted only from federation peers; '{0}' is not a peer of this hub"
    )]
    HubNotPeer(String),
    #[error(
        "the token was issued by '{issuer}', which may not issue tokens for organisation '{org}'"
    )]
    IssuerNotAllowed { issuer: String, org: String },
    #[error(
        "organisation '{0}' requires tokens bound to the client certificate (cnf x5t#S256, RFC 8705); this token is not bound"
    )]
    BindingRequired(String),
    #[error("the token is bound to another certificate (cnf x5t#S256 does not match)")]
    BindingMismatch,
    #[error(
        "the client certificate for hub '{0}' is not issued by that peer's certificate authority"
    )]
    PeerWrongAnchor(String),
    #[error("the client certificate is not issued by this hub's certificate authority")]
    NotOwnAnchor,
    #[error(
        "a peer hub must present a token it issued itself (iss and org = its hub id) carrying only the role peer_hub"
    )]
    PeerTokenRequired,
}

/// Turns a verified TLS peer and a bearer token into a [`Principal`]. Built whole from the
/// current files and swapped on reload ([`reload`]).
pub struct Authenticator {
    trust_domain: String,
    tokens: token::TokenVerifier,
    orgs: std::sync::Arc<OrgRegistry>,
    default_rate: rate::RateLimit,
    federation: Federation,
}

/// What the authenticator knows about peer hubs.
#[derive(Default)]
pub struct Federation {
    /// This hub's own CA, checked explicitly once peers bring CAs of their own into the TLS
    /// trust store (an org certificate must come from our CA, not a peer's).
    pub own_anchor: Option<std::sync::Arc<dyn rustls::server::danger::ClientCertVerifier>>,
    pub peers: HashMap<String, PeerEntry>,
}

/// One peer hub as the authenticator sees it.
pub struct PeerEntry {
    pub terms: std::sync::Arc<agreement::PeerTerms>,
    /// The peer's trust domain.
    pub trust_domain: String,
    /// The CA its certificates must chain to (its own, or ours).
    pub anchor: std::sync::Arc<dyn rustls::server::danger::ClientCertVerifier>,
}

impl Authenticator {
    pub fn new(
        trust_domain: &str,
        tokens: token::TokenVerifier,
        orgs: std::sync::Arc<OrgRegistry>,
        default_rate: rate::RateLimit,
    ) -> Self {
        Self {
            trust_domain: trust_domain.to_string(),
            tokens,
            orgs,
            default_rate,
            federation: Federation::default(),
        }
    }

    /// With peer hubs (federation).
    pub fn with_federation(mut self, federation: Federation) -> Self {
        self.federation = federation;
        self
    }

    /// The registered organisation (or peer hub) behind a client certificate. Org ids and hub
    /// ids are separate namespaces: a hub certificate never speaks for the org of the same
    /// name. A hub certificate is accepted only for a hub with an agreement, from that
    /// agreement's trust domain and chaining to that agreement's CA; an org certificate only
    /// from our trust domain and our CA.
    pub fn peer(
        &self,
        certs: Option<&[rustls::pki_types::CertificateDer<'static>]>,
    ) -> Result<peer::PeerIdentity, AuthError> {
        let (domain, peer) = peer::spiffe_identity(certs, &self.trust_domain)?;
        let chain = certs.unwrap_or_default();
        match peer.kind {
            PeerKind::Hub => {
                let Some(entry) = self.federation.peers.get(&peer.id) else {
                    if domain != self.trust_domain {
                        return Err(AuthError::WrongTrustDomain(domain));
                    }
                    return Err(AuthError::HubNotPeer(peer.id));
                };
                if domain != entry.trust_domain {
                    return Err(AuthError::WrongTrustDomain(domain));
                }
                if !tls::chains_to(entry.anchor.as_ref(), chain) {
                    return Err(AuthError::PeerWrongAnchor(peer.id));
                }
                Ok(peer)
            }
            PeerKind::Org => {
                if domain != self.trust_domain {
                    return Err(AuthError::WrongTrustDomain(domain));
                }
                if let Some(own) = &self.federation.own_anchor
                    && !tls::chains_to(own.as_ref(), chain)
                {
                    return Err(AuthError::NotOwnAnchor);
                }
                if self.orgs.get(&peer.id).is_none() {
                    return Err(AuthError::UnknownOrg(peer.id));
                }
                Ok(peer)
            }
        }
    }

    /// A peer hub's principal: its own token (iss = org = its hub id, role peer_hub only).
    fn peer_hub_principal(
        &self,
        peer: &peer::PeerIdentity,
        verified: token::VerifiedToken,
    ) -> Result<Principal, AuthError> {
        let entry = self
            .federation
            .peers
            .get(&peer.id)
            .ok_or_else(|| AuthError::HubNotPeer(peer.id.clone()))?;
        let own_issuer =
            matches!(&verified.issuer, token::IssuerKind::Peer { hub } if hub == &peer.id);
        if !own_issuer
            || verified.org != peer.id
            || verified.roles != BTreeSet::from([Role::PeerHub])
        {
            return Err(AuthError::PeerTokenRequired);
        }
        if let Some(bound) = &verified.cnf_x5t_s256
            && bound != &peer.cert_x5t_s256
        {
            return Err(AuthError::BindingMismatch);
        }
        Ok(Principal {
            org: peer.id.clone(),
            kind: PeerKind::Hub,
            subject: verified.subject,
            roles: verified.roles,
            cert_sha256: peer.cert_sha256.clone(),
            expires_at: verified.expires_at,
            federation: Some(entry.terms.clone()),
        })
    }

    /// The full principal: the certificate's org, the token's person and roles. The token's
    /// issuer must be one the org accepts, its org the certificate's, its roles within the
    /// org's registered cap (any other role refuses the token), and its `cnf` binding, when
    /// present or required, the calling certificate.
    pub fn principal(
        &self,
        peer: &peer::PeerIdentity,
        authorization: Option<&str>,
    ) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::MissingToken)?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::MalformedAuthorization)?;
        let verified = self.tokens.verify(token)?;
        if peer.kind == PeerKind::Hub {
            return self.peer_hub_principal(peer, verified);
        }
        if matches!(verified.issuer, token::IssuerKind::Peer { .. }) {
            return Err(AuthError::IssuerNotAllowed {
                issuer: verified.issuer.name().to_string(),
                org: peer.id.clone(),
            });
        }
        if verified.org != peer.id {
            return Err(AuthError::OrgMismatch {
                token_org: verified.org,
                cert_org: peer.id.clone(),
            });
        }
        let entry = self
            .orgs
            .get(&peer.id)
            .ok_or_else(|| AuthError::UnknownOrg(peer.id.clone()))?;
        let issuer_allowed = match &verified.issuer {
            token::IssuerKind::Hub => entry.hub_tokens,
            token::IssuerKind::Org { org, iss } => {
                org == &entry.id && entry.issuers.iter().any(|issuer| &issuer.iss == iss)
            }
            token::IssuerKind::Peer { .. } => false,
        };
        if !issuer_allowed {
            return Err(AuthError::IssuerNotAllowed {
                issuer: verified.issuer.name().to_string(),
                org: entry.id.clone(),
            });
        }
        if let Some(role) = verified
            .roles
            .iter()
            .find(|role| !entry.roles.contains(role))
        {
            return Err(AuthError::RoleNotAllowed(role.to_string()));
        }
        match &verified.cnf_x5t_s256 {
            Some(bound) if bound != &peer.cert_x5t_s256 => return Err(AuthError::BindingMismatch),
            None if entry.require_token_binding => {
                return Err(AuthError::BindingRequired(entry.id.clone()));
            }
            _ => {}
        }
        Ok(Principal {
            org: peer.id.clone(),
            kind: peer.kind,
            subject: verified.subject,
            roles: verified.roles,
            cert_sha256: peer.cert_sha256.clone(),
            expires_at: verified.expires_at,
            federation: None,
        })
    }

    /// The org registry this authenticator checks against.
    pub fn orgs(&self) -> &OrgRegistry {
        &self.orgs
    }

    /// The rate limit that applies to `org`.
    pub fn rate_limit(&self, org: &str) -> rate::RateLimit {
        self.orgs
            .get(org)
            .and_then(|entry| entry.rate_limit)
            .unwrap_or(self.default_rate)
    }
}
