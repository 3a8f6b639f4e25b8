//! Signed checkpoints: the hub's Ed25519 signature over (seq, hash, time) of the chain's head,
//! made at an interval and on shutdown. An auditor holding a checkpoint can prove that no record
//! up to it was changed, removed or reordered since.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::Ed25519KeyPair;
use slt_proto::audit_chain;

use crate::identity::keys::{self, KeyError};
use crate::store::{Store, StoreError};

/// Signs checkpoints with the hub's audit key.
pub struct CheckpointSigner {
    key: Ed25519KeyPair,
    public_pem: String,
}

impl CheckpointSigner {
    /// Loads the key pair (PKCS#8 PEM private key, SPKI PEM public key).
    pub fn load(private_pem: &str, public_pem: &str) -> Result<Self, KeyError> {
        let der = pem::parse(private_pem)
            .map_err(|_| KeyError::NotEd25519Private("audit signing key".into()))?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.contents())
            .map_err(|_| KeyError::NotEd25519Private("audit signing key".into()))?;
        let public = keys::public_key_bytes(public_pem, "audit public key")?;
        if ring::signature::KeyPair::public_key(&key).as_ref() != public {
            return Err(KeyError::NotEd25519Public(
                "audit public key (it does not match the signing key)".into(),
            ));
        }
        Ok(Self {
            key,
            public_pem: public_pem.to_string(),
        })
    }

    /// The public key auditors verify with (SPKI PEM).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    fn sign(&self, seq: u64, hash: &str, time: &str) -> String {
        let message = audit_chain::checkpoint_message(seq, hash, time);
        URL_SAFE_NO_PAD.encode(self.key.sign(&message).as_ref())
    }

    /// Signs the chain's head if it moved since the last checkpoint; returns the seq signed.
    pub async fn checkpoint(&self, store: &Store) -> Result<Option<u64>, StoreError> {
        let Some((seq, hash)) = store.audit_head().await? else {
            return Ok(None);
        };
        if store.last_checkpoint_seq().await? >= seq {
            return Ok(None);
        }
        let time = super::now_text();
        let signature = self.sign(seq, &hash, &time);
        store.add_checkpoint(seq, &hash, &time, &signature).await?;
        Ok(Some(seq))
    }
}
