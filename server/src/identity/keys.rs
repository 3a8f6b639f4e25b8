//! Ed25519 key material for hub-issued tokens (and, later, audit checkpoints).
//!
//! Private keys are written as PKCS#8 v1 (seed only): some JOSE tooling rejects the v2 form that
//! ring produces. Public keys are SubjectPublicKeyInfo PEM.

use std::path::Path;

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// DER prefix of a PKCS#8 v1 Ed25519 private key; the 32-byte seed follows.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32-byte public key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("could not read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {0} is not an Ed25519 PKCS#8 PEM private key")]
    NotEd25519Private(String),
    #[error("key file {0} is not an Ed25519 public key PEM")]
    NotEd25519Public(String),
    #[error("key file {0} must hold at least 32 bytes as hex")]
    NotSecret(String),
    #[error("{0} is not a PEM certificate")]
    NotCertificate(String),
    #[error("the system random generator failed")]
    Random,
}

/// A freshly generated Ed25519 key pair in PEM form.
pub struct Ed25519Pem {
    pub private_pem: String,
    pub public_pem: String,
}

/// Generates an Ed25519 key pair.
pub fn generate_ed25519() -> Result<Ed25519Pem, KeyError> {
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| KeyError::Random)?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyError::Random)?;
    let mut private_der = PKCS8_V1_PREFIX.to_vec();
    private_der.extend_from_slice(&seed);
    let mut public_der = SPKI_PREFIX.to_vec();
    public_der.extend_from_slice(pair.public_key().as_ref());
    Ok(Ed25519Pem {
        private_pem: pem::encode(&pem::Pem::new("PRIVATE KEY", private_der)),
        public_pem: pem::encode(&pem::Pem::new("PUBLIC KEY", public_der)),
    })
}

/// A fresh 32-byte secret as lower-case hex (the pseudonym master key file).
pub fn generate_secret_hex() -> Result<String, KeyError> {
    let mut secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| KeyError::Random)?;
    Ok(hex(&secret))
}

/// Reads a hex secret file of at least 32 bytes.
pub fn read_secret_hex(path: &Path) -> Result<Vec<u8>, KeyError> {
    let text = read_key_file(path)?;
    let text = text.trim();
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    match bytes {
        Some(bytes) if bytes.len() >= 32 && text.len() % 2 == 0 => Ok(bytes),
        _ => Err(KeyError::NotSecret(path.display().to_string())),
    }
}

/// The raw 32-byte public key inside an Ed25519 SPKI PEM.
pub fn public_key_bytes(public_pem: &str, origin: &str) -> Result<[u8; 32], KeyError> {
    let parsed =
        pem::parse(public_pem).map_err(|_| KeyError::NotEd25519Public(origin.to_string()))?;
    let der = parsed.contents();
    if parsed.tag() != "PUBLIC KEY" || der.len() != 44 || der[..12] != SPKI_PREFIX {
        return Err(KeyError::NotEd25519Public(origin.to_string()));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&der[12..]);
    Ok(key)
}

/// Reads a whole key file.
pub fn read_key_file(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A short, stable key id: the first 16 hex digits of SHA-256 over the public key.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
    hex(&digest.as_ref()[..8])
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip() {
        let pair = generate_ed25519().expect("keygen");
        let public = public_key_bytes(&pair.public_pem, "test").expect("public");
        assert_eq!(key_id(&public).len(), 16);
        let private = pem::parse(&pair.private_pem).expect("pem");
        assert_eq!(private.contents().len(), 48);
    }
}
