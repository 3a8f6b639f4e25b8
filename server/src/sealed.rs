//! Sealed tokens: the opaque strings the hub hands out and takes back (page tokens, feed
//! cursors). Sealed with ChaCha20-Poly1305 under a key derived from the hub's master secret, so
//! clients can neither read them (they hold row keys and log positions, which would reveal how
//! much the hub holds that they cannot see) nor forge them. The purpose is bound in as
//! associated data, so a page token is never accepted as a cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Seals and opens tokens for one hub.
pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

/// The crypto library refused (a failed random generator, in practice).
#[derive(Debug, thiserror::Error)]
#[error("sealing failed (system random generator or key setup)")]
pub struct SealError;

impl Sealer {
    /// Derives the sealing key from the hub's master secret.
    pub fn new(master: &[u8]) -> Result<Sealer, SealError> {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, master),
            b"slt-hub sealed-token v1",
        );
        let key = UnboundKey::new(&CHACHA20_POLY1305, derived.as_ref()).map_err(|_| SealError)?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        })
    }

    /// Seals `plaintext` for `purpose`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SealError)?;
        let mut buffer = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| SealError)?;
        let mut token = nonce.to_vec();
        token.extend_from_slice(&buffer);
        Ok(URL_SAFE_NO_PAD.encode(token))
    }

    /// Opens a token sealed for `purpose`; `None` for anything else (tampered, another
    /// purpose, another hub's key, garbage).
    pub fn open(&self, purpose: &str, token: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = sealed.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buffer)
            .ok()?;
        Some(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_for_their_purpose_and_key() {
        let sealer = Sealer::new(b"a master secret of thirty-two bytes!").expect("sealer");
        let token = sealer.seal("cursor", b"c1:hub:epoch:42").expect("seal");
        assert_eq!(
            sealer.open("cursor", &token).as_deref(),
            Some(&b"c1:hub:epoch:42"[..])
        );
        assert_eq!(sealer.open("page", &token), None);
        assert_eq!(
            Sealer::new(b"another secret")
                .expect("sealer")
                .open("cursor", &token),
            None
        );
        let mut tampered = URL_SAFE_NO_PAD.decode(&token).expect("b64");
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            sealer.open("cursor", &URL_SAFE_NO_PAD.encode(tampered)),
            None
        );
        assert_eq!(sealer.open("cursor", "garbage"), None);
        assert!(
            !String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(&token).expect("b64")).contains("42")
        );
    }
}
