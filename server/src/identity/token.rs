//! Hub-issued bearer tokens: EdDSA JWTs carrying the person (`sub`), the organisation (`org`)
//! and roles. The algorithm is pinned, `iss`/`aud` must name this hub, `exp` is required and
//! the `kid` must be the hub's signing key.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use super::keys::{self, KeyError};
use super::{AuthError, Role};

/// Clock skew tolerated on `exp` (and `nbf`), in seconds.
pub const LEEWAY_SECONDS: u64 = 30;

/// The claims of an SLT Hub token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub org: String,
    pub roles: Vec<String>,
    pub iat: u64,
    pub exp: u64,
}

/// A token that verified, before it is matched to a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub subject: String,
    pub org: String,
    pub roles: BTreeSet<Role>,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
}

/// Signs tokens with the hub's Ed25519 key.
pub struct TokenIssuer {
    hub_id: String,
    key: EncodingKey,
    kid: String,
}

impl TokenIssuer {
    /// `private_pem`: PKCS#8 Ed25519; `public_pem`: its SPKI (for the key id).
    pub fn new(hub_id: &str, private_pem: &str, public_pem: &str) -> Result<Self, KeyError> {
        let public = keys::public_key_bytes(public_pem, "token signing public key")?;
        let key = EncodingKey::from_ed_pem(private_pem.as_bytes())
            .map_err(|_| KeyError::NotEd25519Private("token signing key".into()))?;
        Ok(Self {
            hub_id: hub_id.to_string(),
            key,
            kid: keys::key_id(&public),
        })
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
        let now = unix_now();
        let claims = Claims {
            iss: self.hub_id.clone(),
            aud: self.hub_id.clone(),
            sub: subject.to_string(),
            org: org.to_string(),
            roles: roles.iter().map(|role| role.as_str().to_string()).collect(),
            iat: now,
            exp: now.saturating_add_signed(ttl_seconds),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// Verifies tokens issued by this hub.
pub struct TokenVerifier {
    key: DecodingKey,
    kid: String,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(hub_id: &str, public_pem: &str) -> Result<Self, KeyError> {
        let public = keys::public_key_bytes(public_pem, "token signing public key")?;
        let key = DecodingKey::from_ed_pem(public_pem.as_bytes())
            .map_err(|_| KeyError::NotEd25519Public("token signing public key".into()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[hub_id]);
        validation.set_audience(&[hub_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        Ok(Self {
            key,
            kid: keys::key_id(&public),
            validation,
        })
    }

    /// Checks signature, algorithm, key id, issuer, audience and expiry; parses the roles.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::InvalidToken("not a well-formed JWT".into()))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::InvalidToken(format!(
                "algorithm {:?} is not accepted (EdDSA only)",
                header.alg
            )));
        }
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(AuthError::InvalidToken(
                "unknown signing key id (kid)".into(),
            ));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::ExpiredToken,
                ErrorKind::InvalidSignature => AuthError::InvalidToken("bad signature".into()),
                ErrorKind::InvalidIssuer => {
                    AuthError::InvalidToken("issued by someone else (iss)".into())
                }
                ErrorKind::InvalidAudience => {
                    AuthError::InvalidToken("not meant for this hub (aud)".into())
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    AuthError::InvalidToken(format!("missing claim '{claim}'"))
                }
                ErrorKind::Json(_) => AuthError::InvalidToken("claims are malformed".into()),
                _ => AuthError::InvalidToken("could not be verified".into()),
            },
        )?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() {
            return Err(AuthError::InvalidToken("the subject (sub) is empty".into()));
        }
        if claims.iat > unix_now().saturating_add(LEEWAY_SECONDS) {
            return Err(AuthError::InvalidToken("issued in the future (iat)".into()));
        }
        if claims.roles.is_empty() {
            return Err(AuthError::InvalidToken("carries no roles".into()));
        }
        let mut roles = BTreeSet::new();
        for name in &claims.roles {
            let role = Role::parse(name)
                .ok_or_else(|| AuthError::InvalidToken(format!("unknown role '{name}'")))?;
            roles.insert(role);
        }
        Ok(VerifiedToken {
            subject: claims.sub,
            org: claims.org,
            roles,
            expires_at: claims.exp,
        })
    }
}

/// Seconds since the epoch now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
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
        assert_eq!(
            verified.roles,
            BTreeSet::from([Role::Reporter, Role::Analyst])
        );
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let (issuer, verifier) = pair();
        let expired = issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter], -120)
            .expect("issue");
        assert_eq!(verifier.verify(&expired), Err(AuthError::ExpiredToken));

        let (other_issuer, _) = pair();
        let foreign = other_issuer
            .issue("ngo-alpha", "amina", &[Role::Reporter], 600)
            .expect("issue");
        assert!(matches!(
            verifier.verify(&foreign),
            Err(AuthError::InvalidToken(_))
        ));
        assert!(matches!(
            verifier.verify("garbage"),
            Err(AuthError::InvalidToken(_))
        ));
    }
}
