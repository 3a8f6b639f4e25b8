//! Tokens that verified, remembered until they expire, so that a client calling with the same
//! token does not pay the Ed25519 verification and JSON parsing on every call (about 30 µs,
//! 8 % of an audited GetIncident's CPU in issue 16's profile).
//!
//! What keeps it safe:
//! - only a token that passed every check of `TokenVerifier::verify_uncached` is remembered,
//!   keyed by the SHA-256 of its exact text (the token itself is not kept);
//! - a remembered token is refused from the moment a fresh verification would refuse it for
//!   expiry (`exp` plus the same leeway), and then forgotten. The other time-dependent checks
//!   (`nbf`, `iat`, the longest lifetime) can only turn from failing to passing as time goes on;
//! - the cache belongs to one `TokenVerifier`, which belongs to one `Authenticator`: a reload of
//!   the identity material (a key or issuer removed, an org's roles changed) builds a new one
//!   with an empty cache. Everything checked against the certificate and the org registry
//!   (org, issuer allowed, roles cap, binding) still runs on every call, after this;
//! - it is bounded: at capacity the expired entries go, and if that frees nothing, all of them.

use std::collections::HashMap;
use std::sync::Mutex;

use super::token::{LEEWAY_SECONDS, VerifiedToken};

/// Most tokens remembered at once (a few hundred bytes each).
pub const CAPACITY: usize = 4_096;

type Key = [u8; 32];

/// Verified tokens by the SHA-256 of their text.
#[derive(Debug)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<Key, VerifiedToken>>,
    capacity: usize,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl VerifiedTokens {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The remembered verification of `token` if it has not expired at `now` (seconds since
    /// the epoch); an expired one is forgotten.
    pub fn get(&self, token: &str, now: u64) -> Option<VerifiedToken> {
        let key = key(token);
        let mut entries = self.entries.lock().ok()?;
        let verified = entries.get(&key)?;
        if expired(verified, now) {
            entries.remove(&key);
            return None;
        }
        Some(verified.clone())
    }

    /// Remembers that `token` verified as `verified`.
    pub fn insert(&self, token: &str, verified: &VerifiedToken, now: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, kept| !expired(kept, now));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key(token), verified.clone());
    }

    /// Tokens remembered now.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .map(|entries| entries.len())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a fresh verification at `now` would refuse the token as expired (jsonwebtoken
/// refuses `exp < now - leeway`).
fn expired(verified: &VerifiedToken, now: u64) -> bool {
    verified.expires_at.saturating_add(LEEWAY_SECONDS) < now
}

fn key(token: &str) -> Key {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::identity::Role;
    use crate::identity::token::IssuerKind;

    fn verified(expires_at: u64) -> VerifiedToken {
        VerifiedToken {
            subject: "amina".into(),
            org: "ngo-alpha".into(),
            roles: BTreeSet::from([Role::Analyst]),
            expires_at,
            issuer: IssuerKind::Hub,
            cnf_x5t_s256: None,
        }
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires() {
        let cache = VerifiedTokens::default();
        cache.insert("t1", &verified(1_000), 900);
        assert_eq!(cache.get("t1", 1_000), Some(verified(1_000)));
        // Within the leeway a fresh verification still accepts it; after it, neither does this.
        assert!(cache.get("t1", 1_000 + LEEWAY_SECONDS).is_some());
        assert_eq!(cache.get("t1", 1_001 + LEEWAY_SECONDS), None);
        assert!(cache.is_empty());
        assert_eq!(cache.get("other", 900), None);
    }

    #[test]
    fn it_stays_bounded() {
        let cache = VerifiedTokens::with_capacity(3);
        for n in 0..3 {
            cache.insert(
                &format!("t{n}"),
                &verified(if n == 0 { 10 } else { 1_000 }),
                5,
            );
        }
        // Full: the expired one goes first.
        cache.insert("t3", &verified(1_000), 100);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("t0", 100), None);
        // Full of live ones: all go.
        cache.insert("t4", &verified(1_000), 100);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("t4", 100).is_some());
    }
}
