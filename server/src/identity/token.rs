//! Bearer tokens: EdDSA JWTs carrying the person (`sub`), the organisation (`org`) and roles.
//!
//! Issuers: the hub itself (`iss` = hub id, keys from the hub's token key pair) and any
//! organisation's own identity provider registered in the org registry (`iss` of the
//! provider, keys from its JWKS file). Verification reads the header and the `iss` claim
//! first, only to pick the key: the algorithm is pinned to EdDSA, the `kid` must be one of
//! that issuer's keys, and only then is the signature checked, with `aud` = this hub, `exp`
//! (with a small leeway and a maximum lifetime), `nbf`, `iat` and `sub` checked after it.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use super::jwks::Jwk;
use super::keys::{self, KeyError};
use super::token_cache::VerifiedTokens;
use super::{AuthError, Role};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;
/// The longest token lifetime accepted unless the config says otherwise (30 days: the dev
/// environment's tokens; production hubs should set hours).
pub const DEFAULT_MAX_TOKEN_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// The claims of an SLT Hub token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub org: String,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// RFC 8705 certificate binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim: the SHA-256 thumbprint of the client certificate the token is bound to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// Who issued a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerKind {
    /// This hub (`slt-hub token issue`).
    Hub,
    /// An organisation's own identity provider, which may only speak for that org.
    Org { org: String, iss: String },
    /// A peer hub under an agreement, which may only speak for itself (`iss` = its hub id).
    Peer { hub: String },
}

impl IssuerKind {
    pub fn name(&self) -> &str {
        match self {
            IssuerKind::Hub => "this hub",
            IssuerKind::Org { iss, .. } => iss,
            IssuerKind::Peer { hub } => hub,
        }
    }
}

/// A token that verified, before it is matched to a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub subject: String,
    pub org: String,
    pub roles: BTreeSet<Role>,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
    pub issuer: IssuerKind,
    /// `cnf.x5t#S256` when the token is bound to a certificate.
    pub cnf_x5t_s256: Option<String>,
}

/// Signs tokens with an Ed25519 key: the hub's ([`TokenIssuer::new`]) or, in tests and for
/// tooling, an organisation identity provider's ([`TokenIssuer::external`]).
pub struct TokenIssuer {
    iss: String,
    aud: String,
    key: EncodingKey,
    kid: String,
}

impl TokenIssuer {
    /// The hub's issuer. `private_pem`: PKCS#8 Ed25519; `public_pem`: its SPKI (for the kid).
    pub fn new(hub_id: &str, private_pem: &str, public_pem: &str) -> Result<Self, KeyError> {
        let public = keys::public_key_bytes(public_pem, "token signing public key")?;
        Self::external(hub_id, hub_id, private_pem, &keys::key_id(&public))
    }

    /// An issuer named `iss` signing for audience `aud` with key id `kid`.
    pub fn external(iss: &str, aud: &str, private_pem: &str, kid: &str) -> Result<Self, KeyError> {
        let key = EncodingKey::from_ed_pem(private_pem.as_bytes())
            .map_err(|_| KeyError::NotEd25519Private("token signing key".into()))?;
        Ok(Self {
            iss: iss.to_string(),
            aud: aud.to_string(),
            key,
            kid: kid.to_string(),
        })
    }

    /// The key id this issuer puts in its tokens.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Issues a token for `subject` of `org` with `roles`, valid for `ttl_seconds` from now
    /// (a negative ttl issues an already-expired token, which tests use).
    pub fn issue(
        &self,
        org: &str,
        subject: &str,
        roles: &[Role],
        ttl_seconds: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_bound(org, subject, roles, ttl_seconds, None)
    }

    /// Like [`TokenIssuer::issue`], bound to the certificate whose `x5t#S256` thumbprint
    /// (base64url SHA-256 of its DER) is given.
    pub fn issue_bound(
        &self,
        org: &str,
        subject: &str,
        roles: &[Role],
        ttl_seconds: i64,
        x5t_s256: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = Claims {
            iss: self.iss.clone(),
            aud: self.aud.clone(),
            sub: subject.to_string(),
            org: org.to_string(),
            roles: roles.iter().map(|role| role.as_str().to_string()).collect(),
            iat: Some(now),
            exp: now.saturating_add_signed(ttl_seconds),
            nbf: None,
            cnf: x5t_s256.map(|thumbprint| Confirmation {
                x5t_s256: Some(thumbprint.to_string()),
            }),
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it to build tokens with one thing wrong).
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

/// The `x5t#S256` thumbprint of a certificate (PEM): what `cnf` carries for it.
pub fn certificate_thumbprint(cert_pem: &str) -> Result<String, KeyError> {
    let parsed = pem::parse(cert_pem)
        .ok()
        .filter(|parsed| parsed.tag() == "CERTIFICATE")
        .ok_or_else(|| KeyError::NotCertificate("certificate".into()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, parsed.contents());
    Ok(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

struct IssuerKeys {
    kind: IssuerKind,
    keys: HashMap<String, DecodingKey>,
}

/// Verifies tokens from the hub and from the registered organisation issuers.
pub struct TokenVerifier {
    hub_id: String,
    issuers: HashMap<String, IssuerKeys>,
    max_ttl_seconds: u64,
    /// Tokens that passed [`TokenVerifier::verify`], until they expire (`token_cache`); new and
    /// empty with every verifier, so a reload forgets them all.
    verified: VerifiedTokens,
}

/// The parts of a token read before its signature is checked, only to choose the key.
#[derive(Deserialize)]
struct UnverifiedHeader {
    alg: Option<String>,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<serde_json::Value>,
}

impl TokenVerifier {
    /// A verifier that trusts the hub's own key.
    pub fn new(hub_id: &str, public_pem: &str) -> Result<Self, KeyError> {
        let public = keys::public_key_bytes(public_pem, "token signing public key")?;
        let key = DecodingKey::from_ed_pem(public_pem.as_bytes())
            .map_err(|_| KeyError::NotEd25519Public("token signing public key".into()))?;
        let issuers = HashMap::from([(
            hub_id.to_string(),
            IssuerKeys {
                kind: IssuerKind::Hub,
                keys: HashMap::from([(keys::key_id(&public), key)]),
            },
        )]);
        Ok(Self {
            hub_id: hub_id.to_string(),
            issuers,
            max_ttl_seconds: DEFAULT_MAX_TOKEN_TTL_SECONDS,
            verified: VerifiedTokens::default(),
        })
    }

    /// Tokens may be valid for at most this long from now.
    pub fn with_max_ttl(mut self, seconds: u64) -> Self {
        self.max_ttl_seconds = seconds;
        // A shorter limit may refuse what passed under the old one.
        self.verified = VerifiedTokens::default();
        self
    }

    /// Trusts `iss` (an organisation's identity provider) with `keys` for `org` only.
    pub fn add_org_issuer(&mut self, org: &str, iss: &str, keys: &[Jwk]) -> Result<(), String> {
        if iss.trim().is_empty() {
            return Err(format!("orgs '{org}': issuers.iss must not be empty"));
        }
        if let Some(existing) = self.issuers.get(iss) {
            return Err(match &existing.kind {
                IssuerKind::Hub => {
                    format!("orgs '{org}': issuer '{iss}' is this hub's own id")
                }
                IssuerKind::Org { org: other, .. } => {
                    format!("orgs '{org}': issuer '{iss}' is already registered for '{other}'")
                }
                IssuerKind::Peer { hub } => {
                    format!("orgs '{org}': issuer '{iss}' is peer hub '{hub}'")
                }
            });
        }
        let keys = keys
            .iter()
            .map(|jwk| (jwk.kid.clone(), DecodingKey::from_ed_der(&jwk.public_key)))
            .collect();
        self.issuers.insert(
            iss.to_string(),
            IssuerKeys {
                kind: IssuerKind::Org {
                    org: org.to_string(),
                    iss: iss.to_string(),
                },
                keys,
            },
        );
        Ok(())
    }

    /// Trusts peer hub `hub`'s own tokens (`iss` = its hub id), signed by `public_pem`.
    pub fn add_peer_issuer(&mut self, hub: &str, public_pem: &str) -> Result<(), String> {
        let public = keys::public_key_bytes(public_pem, "peer token public key")
            .map_err(|error| format!("peers '{hub}': token_public_key: {error}"))?;
        let key = DecodingKey::from_ed_pem(public_pem.as_bytes())
            .map_err(|_| format!("peers '{hub}': token_public_key is not an Ed25519 key"))?;
        if let Some(existing) = self.issuers.get(hub) {
            return Err(match &existing.kind {
                IssuerKind::Hub => format!("peers '{hub}': this hub's own id"),
                IssuerKind::Org { org, .. } => {
                    format!("peers '{hub}': issuer '{hub}' is already registered for org '{org}'")
                }
                IssuerKind::Peer { .. } => format!("peers '{hub}': listed twice"),
            });
        }
        self.issuers.insert(
            hub.to_string(),
            IssuerKeys {
                kind: IssuerKind::Peer {
                    hub: hub.to_string(),
                },
                keys: HashMap::from([(keys::key_id(&public), key)]),
            },
        );
        Ok(())
    }

    /// Checks algorithm, issuer, key id, signature, audience, expiry and lifetime; parses the
    /// roles (an unknown role refuses the token). A token that verified before is answered
    /// from memory until it expires (`token_cache` says why that is the same answer).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let now = unix_now();
        if let Some(verified) = self.verified.get(token, now) {
            return Ok(verified);
        }
        let verified = self.verify_uncached(token)?;
        self.verified.insert(token, &verified, now);
        Ok(verified)
    }

    // Long by design: every token check in one place and in the order they must run (security
    // review reads it top to bottom).
    /// Every check, on the token's text.
    fn verify_uncached(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let invalid = |reason: &str| AuthError::InvalidToken(reason.to_string());
        let parts: Vec<&str> = token.split('.').collect();
        let [header_part, claims_part, _signature] = parts.as_slice() else {
            return Err(invalid("not a well-formed JWT"));
        };
        let header: UnverifiedHeader =
            decode_part(header_part).ok_or_else(|| invalid("not a well-formed JWT"))?;
        match header.alg.as_deref() {
            Some("EdDSA") => {}
            Some(other) => {
                let shown: String = other.chars().take(16).collect();
                return Err(AuthError::InvalidToken(format!(
                    "algorithm '{shown}' is not accepted (EdDSA only)"
                )));
            }
            None => return Err(invalid("the header names no algorithm (alg)")),
        }
        let kid = header
            .kid
            .ok_or_else(|| invalid("the header names no signing key id (kid)"))?;
        let claims: UnverifiedIssuer =
            decode_part(claims_part).ok_or_else(|| invalid("not a well-formed JWT"))?;
        let iss = match claims.iss {
            Some(serde_json::Value::String(iss)) => iss,
            Some(_) => return Err(invalid("claims are malformed (iss)")),
            None => return Err(invalid("missing claim 'iss'")),
        };
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or_else(|| invalid("issued by someone else (iss)"))?;
        let key = issuer
            .keys
            .get(&kid)
            .ok_or_else(|| invalid("unknown signing key id (kid)"))?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[iss.as_str()]);
        validation.set_audience(&[self.hub_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|error| match error
                .kind()
            {
                ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                ErrorKind::ImmatureSignature => invalid("not valid yet (nbf)"),
                ErrorKind::InvalidSignature => invalid("bad signature"),
                ErrorKind::InvalidIssuer => invalid("issued by someone else (iss)"),
                ErrorKind::InvalidAudience => invalid("not meant for this hub (aud)"),
                ErrorKind::MissingRequiredClaim(claim) => {
                    AuthError::InvalidToken(format!("missing claim '{claim}'"))
                }
                ErrorKind::Json(detail) => match missing_field(&detail.to_string()) {
                    Some(field) => AuthError::InvalidToken(format!("missing claim '{field}'")),
                    None => invalid("claims are malformed"),
                },
                _ => invalid("could not be verified"),
            })?;
        let claims = data.claims;
        let now = unix_now();
        if claims.sub.trim().is_empty() {
            return Err(invalid("the subject (sub) is empty"));
        }
        if claims.org.trim().is_empty() {
            return Err(invalid("the organisation (org) is empty"));
        }
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECONDS))
        {
            return Err(invalid("issued in the future (iat)"));
        }
        if claims.exp
            > now
                .saturating_add(self.max_ttl_seconds)
                .saturating_add(LEEWAY_SECONDS)
        {
            return Err(AuthError::InvalidToken(format!(
                "lives too long: this hub accepts tokens valid for at most {} seconds (exp)",
                self.max_ttl_seconds
            )));
        }
        if claims.roles.is_empty() {
            return Err(invalid("carries no roles"));
        }
        let mut roles = BTreeSet::new();
        for name in &claims.roles {
            let role = Role::parse(name).ok_or_else(|| {
                let shown: String = name.chars().take(32).collect();
                AuthError::InvalidToken(format!("unknown role '{shown}'"))
            })?;
            roles.insert(role);
        }
        let cnf_x5t_s256 = match claims.cnf {
            None => None,
            Some(Confirmation {
                x5t_s256: Some(x5t),
            }) => Some(x5t),
            Some(Confirmation { x5t_s256: None }) => {
                return Err(invalid(
                    "the cnf claim carries no x5t#S256 (the only binding this hub checks)",
                ));
            }
        };
        Ok(VerifiedToken {
            subject: claims.sub,
            org: claims.org,
            roles,
            expires_at: claims.exp,
            issuer: issuer.kind.clone(),
            cnf_x5t_s256,
        })
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `missing field `org`` → `org`.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Seconds since the epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TokenIssuer, TokenVerifier) {
        let keys = keys::generate_ed25519().expect("keys");
        (
            TokenIssuer::new("hub-1", &keys.private_pem, &keys.public_pem).expect("issuer"),
            TokenVerifier::new("hub-1", &keys.public_pem).expect("verifier"),
        )
    }

    #[test]
    fn a_fresh_token_verifies() {
        let (issuer, verifier) = pair();
        let token = issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter, Role::Analyst], 600)
            .expect("issue");
        let verified = verifier.verify(&token).expect("verify");
        assert_eq!(verified.org, "ngo-alpha");
        assert_eq!(verified.subject, "amina");
        assert_eq!(verified.issuer, IssuerKind::Hub);
        assert_eq!(
            verified.roles,
            BTreeSet::from([Role::Reporter, Role::Analyst])
        );
    }

    #[test]
    fn expired_long_lived_and_foreign_tokens_are_refused() {
        let (issuer, verifier) = pair();
        let expired = issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter], -120)
            .expect("issue");
        assert_eq!(verifier.verify(&expired), Err(AuthError::ExpiredToken));

        let verifier = verifier.with_max_ttl(3600);
        let long = issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter], 7200)
            .expect("issue");
        assert!(
            matches!(verifier.verify(&long), Err(AuthError::InvalidToken(m)) if m.contains("lives too long"))
        );

        let (other_issuer, _) = pair();
        let foreign = other_issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter], 600)
            .expect("issue");
        assert!(matches!(
            verifier.verify(&foreign),
            Err(AuthError::InvalidToken(m)) if m.contains("kid")
        ));
        assert!(matches!(
            verifier.verify("garbage"),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn a_remembered_token_answers_alike_until_the_rules_change() {
        let (issuer, verifier) = pair();
        let token = issuer
            .issue("ngo-alpha", "amina", &[Role::Analyst], 7200)
            .expect("issue");
        let first = verifier.verify(&token).expect("verify");
        assert_eq!(verifier.verify(&token), Ok(first));
        // A shorter lifetime limit forgets it: the fresh check refuses it.
        let verifier = verifier.with_max_ttl(3600);
        assert!(
            matches!(verifier.verify(&token), Err(AuthError::InvalidToken(m)) if m.contains("lives too long"))
        );
    }

    /// A very large configured maximum lifetime must not overflow (a panic in debug, a wrap
    /// to a tiny limit that refuses every token in release).
    #[test]
    fn a_huge_max_ttl_does_not_overflow() {
        let (issuer, verifier) = pair();
        let verifier = verifier.with_max_ttl(u64::MAX);
        let token = issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter], 600)
            .expect("issue");
        assert!(verifier.verify(&token).is_ok());
    }

    #[test]
    fn org_issuers_are_looked_up_by_iss_and_kid() {
        let (_, mut verifier) = pair();
        let idp = keys::generate_ed25519().expect("keys");
        let jwks = super::super::jwks::parse(
            &super::super::jwks::document(&[("idp-1", &idp.public_pem)]).expect("doc"),
            "t",
        )
        .expect("jwks");
        verifier
            .add_org_issuer("ngo-alpha", "https://idp.alpha.example", &jwks)
            .expect("add");
        assert!(
            verifier
                .add_org_issuer("ngo-beta", "https://idp.alpha.example", &jwks)
                .is_err()
        );
        assert!(verifier.add_org_issuer("ngo-beta", "hub-1", &jwks).is_err());
        let idp_issuer = TokenIssuer::external(
            "https://idp.alpha.example",
            "hub-1",
            &idp.private_pem,
            "idp-1",
        )
        .expect("issuer");
        let token = idp_issuer
            .issue("ngo-alpha", "amina", &[Role::Analyst], 600)
            .expect("token");
        let verified = verifier.verify(&token).expect("verify");
        assert_eq!(
            verified.issuer,
            IssuerKind::Org {
                org: "ngo-alpha".into(),
                iss: "https://idp.alpha.example".into()
            }
        );
    }
}
