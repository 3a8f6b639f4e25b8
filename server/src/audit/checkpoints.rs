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
    /// The last (seq, hash) this process signed: checked again before each signature, so a
    /// chain rewritten under the hub (with its checkpoint rows deleted) is not signed over.
    last_signed: tokio::sync::Mutex<Option<(u64, String)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the access log changed under the hub: {0}; refusing to sign over it")]
    Tampered(String),
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
            last_signed: tokio::sync::Mutex::new(None),
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

    /// Signs the chain's head if it moved since the last checkpoint; returns the last seq a
    /// checkpoint covers. Before signing, re-checks the chain from the last checkpoint (stored,
    /// or remembered by this process) to the head: it signs only an extension of what it signed.
    pub async fn checkpoint(&self, store: &Store) -> Result<u64, CheckpointError> {
        let mut last_signed = self.last_signed.lock().await;
        let Some((head_seq, head_hash)) = store.audit_head().await? else {
            return Ok(0);
        };
        let stored = store.checkpoints().await?.pop().map(|cp| (cp.seq, cp.hash));
        let anchor = match (stored, last_signed.clone()) {
            (Some(stored), Some(remembered)) if remembered.0 > stored.0 => Some(remembered),
            (Some(stored), _) => Some(stored),
            (None, remembered) => remembered,
        };
        let (from_seq, mut prev_hash) = match &anchor {
            Some((seq, _)) if *seq >= head_seq => return Ok(*seq),
            Some((seq, hash)) => (*seq, hash.clone()),
            None => (0, audit_chain::GENESIS_HASH.to_string()),
        };
        // Walk from the anchor to the head, page by page.
        let mut next = from_seq.max(1);
        loop {
            let page = store
                .audit_records(&Default::default(), next, 1_000)
                .await?;
            let Some(last) = page.last().map(|record| record.seq) else {
                break;
            };
            for record in &page {
                if record.seq == from_seq {
                    if record.hash != prev_hash {
                        return Err(CheckpointError::Tampered(format!(
                            "record {} no longer has the hash its checkpoint signed",
                            record.seq
                        )));
                    }
                    continue;
                }
                if record.prev_hash != prev_hash
                    || audit_chain::chain_hash(&prev_hash, record).as_deref()
                        != Some(record.hash.as_str())
                {
                    return Err(CheckpointError::Tampered(format!(
                        "record {} does not chain from its predecessor",
                        record.seq
                    )));
                }
                prev_hash = record.hash.clone();
            }
            if last >= head_seq {
                break;
            }
            next = last + 1;
        }
        if prev_hash != head_hash {
            return Err(CheckpointError::Tampered(
                "the head moved during the check".into(),
            ));
        }
        let time = super::now_text();
        let signature = self.sign(head_seq, &head_hash, &time);
        store
            .add_checkpoint(head_seq, &head_hash, &time, &signature)
            .await?;
        *last_signed = Some((head_seq, head_hash));
        Ok(head_seq)
    }
}
