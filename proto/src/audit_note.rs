//! Signed tree heads as C2SP checkpoints (<https://c2sp.org/tlog-checkpoint>) in the C2SP
//! signed-note format (<https://c2sp.org/signed-note>), signed with the hub's Ed25519 audit key.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, base64>\n
//! \n
//! — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\n
//! ```
//!
//! The signature covers the body (the first three lines, newlines included); the key name is the
//! origin; the key id is the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{Context, SHA256};
use ring::signature::{ED25519, UnparsedPublicKey};

use crate::audit_tree::Hash;

/// The origin line of a hub's access log: `<hub id>/audit-log`.
pub fn origin(hub_id: &str) -> String {
    format!("{hub_id}/audit-log")
}

/// A tree head: the log's size and root under an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl TreeHead {
    /// The note body the signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// The signed note, given a signer of the body and the 32-byte public key.
    pub fn sign(&self, public_key: &[u8], sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
        let body = self.body();
        let mut signature = key_id(&self.origin, public_key).to_vec();
        signature.extend_from_slice(&sign(body.as_bytes()));
        format!(
            "{body}\n\u{2014} {} {}\n",
            self.origin,
            STANDARD.encode(signature)
        )
    }
}

/// Why a note is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("not a signed note: {0}")]
    Malformed(&'static str),
    #[error("no signature by '{0}' with this key")]
    NoSignature(String),
    #[error("the signature by '{0}' does not verify")]
    BadSignature(String),
}

/// The 4-byte key id of an Ed25519 key in signed notes.
pub fn key_id(name: &str, public_key: &[u8]) -> [u8; 4] {
    let mut context = Context::new(&SHA256);
    context.update(name.as_bytes());
    context.update(b"\n\x01");
    context.update(public_key);
    let digest = context.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest.as_ref()[..4]);
    id
}

/// Parses a signed note and verifies the signature by its origin's key (other signatures, e.g.
/// witnesses' cosignatures, are ignored).
pub fn open(note: &str, public_key: &[u8]) -> Result<TreeHead, NoteError> {
    let (body, signatures) = note
        .split_once("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let body = format!("{body}\n");
    let mut lines = body.lines();
    let origin = lines
        .next()
        .filter(|line| !line.is_empty())
        .ok_or(NoteError::Malformed("no origin line"))?;
    let size = lines
        .next()
        .and_then(|line| line.parse::<u64>().ok())
        .ok_or(NoteError::Malformed("the second line is not a tree size"))?;
    let root: Hash = lines
        .next()
        .and_then(|line| STANDARD.decode(line).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(NoteError::Malformed(
            "the third line is not a base64 SHA-256 hash",
        ))?;
    if lines.next().is_some() {
        return Err(NoteError::Malformed(
            "extension lines are not used by this log",
        ));
    }
    let head = TreeHead {
        origin: origin.to_string(),
        size,
        root,
    };
    let id = key_id(origin, public_key);
    let key = UnparsedPublicKey::new(&ED25519, public_key);
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(NoteError::Malformed(
                "a signature line does not start with '— '",
            ));
        };
        let Some((name, signature)) = rest.split_once(' ') else {
            return Err(NoteError::Malformed("a signature line has no signature"));
        };
        let Ok(signature) = STANDARD.decode(signature) else {
            return Err(NoteError::Malformed("a signature is not base64"));
        };
        if name != origin || signature.len() != 68 || signature[..4] != id {
            continue;
        }
        return key
            .verify(body.as_bytes(), &signature[4..])
            .map(|()| head)
            .map_err(|_| NoteError::BadSignature(origin.to_string()));
    }
    Err(NoteError::NoSignature(origin.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn new_key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
    }

    #[test]
    fn a_signed_note_opens_and_any_change_is_refused() {
        let key = new_key();
        let public = key.public_key().as_ref().to_vec();
        let head = TreeHead {
            origin: origin("hub.example"),
            size: 42,
            root: [7; 32],
        };
        let note = head.sign(&public, |body| key.sign(body).as_ref().to_vec());
        assert!(note.starts_with("hub.example/audit-log\n42\nBwcH"));
        assert_eq!(open(&note, &public), Ok(head));
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert!(matches!(
            open(&forged, &public),
            Err(NoteError::BadSignature(_))
        ));
        let other = new_key();
        assert!(matches!(
            open(&note, other.public_key().as_ref()),
            Err(NoteError::NoSignature(_))
        ));
        assert!(open("hub\n1\n", &public).is_err());
    }
}
