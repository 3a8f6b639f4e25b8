//! Who is calling. Only this module reads peer certificates and tokens: the TLS acceptor
//! (`tls`), the certificate -> organisation mapping (`peer`), hub-issued JWTs (`token`) and the
//! key material they use (`keys`). Everything downstream receives a [`Principal`].

pub mod keys;
pub mod peer;
pub mod tls;
pub mod token;

use std::collections::{BTreeSet, HashMap};
use std::fmt;

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
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What the hub knows about one organisation (the org registry, from the hub config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgEntry {
    pub id: String,
    pub name: String,
    pub org_type: OrgType,
    /// The roles tokens for this org may carry: a cap on any token.
    pub roles: Vec<Role>,
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
}

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
}

/// Turns a verified TLS peer and a bearer token into a [`Principal`].
pub struct Authenticator {
    trust_domain: String,
    tokens: token::TokenVerifier,
    orgs: OrgRegistry,
}

impl Authenticator {
    pub fn new(trust_domain: &str, tokens: token::TokenVerifier, orgs: OrgRegistry) -> Self {
        Self {
            trust_domain: trust_domain.to_string(),
            tokens,
            orgs,
        }
    }

    /// The registered organisation behind a client certificate.
    pub fn peer(
        &self,
        certs: Option<&[rustls::pki_types::CertificateDer<'static>]>,
    ) -> Result<peer::PeerIdentity, AuthError> {
        let peer = peer::peer_identity(certs, &self.trust_domain)?;
        if self.orgs.get(&peer.id).is_none() {
            return Err(AuthError::UnknownOrg(peer.id));
        }
        Ok(peer)
    }

    /// The full principal: the certificate's org, the token's person and roles. The token's
    /// org must be the certificate's and its roles within the org's registered cap.
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
        if let Some(role) = verified
            .roles
            .iter()
            .find(|role| !entry.roles.contains(role))
        {
            return Err(AuthError::RoleNotAllowed(role.to_string()));
        }
        Ok(Principal {
            org: peer.id.clone(),
            kind: peer.kind,
            subject: verified.subject,
            roles: verified.roles,
            cert_sha256: peer.cert_sha256.clone(),
            expires_at: verified.expires_at,
        })
    }

    /// The org registry this authenticator checks against.
    pub fn orgs(&self) -> &OrgRegistry {
        &self.orgs
    }
}
