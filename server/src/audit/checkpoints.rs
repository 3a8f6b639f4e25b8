//! Signed tree heads: the hub's Ed25519 signature over (size, Merkle root) of the access log, as
//! a C2SP checkpoint note, made at an interval, on shutdown and before an export.
//!
//! The signer signs only a consistent extension of the last head it signed. It remembers that
//! head outside the database (the state file beside the audit key, written after every
//! signature), so an administrator of the database alone cannot roll it back: on every signature
//! it checks the newest head row's signature, that the database still holds a head at least as
//! new as the remembered one, that the stored tree reproduces both roots and that a consistency
//! proof links them, and re-verifies the chain from there to the log's head.

use std::path::{Path, PathBuf};

use ring::signature::{Ed25519KeyPair, KeyPair};
use slt_proto::audit_chain::{self, to_hex};
use slt_proto::audit_note::{self, TreeHead};
use slt_proto::audit_tree::{Frontier, record_leaf, verify_consistency};

use super::tree::{self, TreeError};
use crate::identity::keys::{self, KeyError};
use crate::store::{AuditFilter, Store, StoreError, StoredHead};

/// Signs tree heads with the hub's audit key.
pub struct CheckpointSigner {
    key: Ed25519KeyPair,
    public_pem: String,
    origin: String,
    state_file: PathBuf,
    /// The last head this process signed or accepted (serialises signing in this process).
    last_signed: tokio::sync::Mutex<Option<TreeHead>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the access log changed under the hub: {0}; refusing to sign over it")]
    Tampered(String),
    #[error("the last signed head could not be kept in {path}: {error}")]
    State { path: String, error: String },
}

impl From<TreeError> for CheckpointError {
    fn from(error: TreeError) -> Self {
        match error {
            TreeError::Store(error) => CheckpointError::Store(error),
            other => CheckpointError::Tampered(other.to_string()),
        }
    }
}

/// Where the hub keeps the last head it signed: beside its audit signing key.
pub fn state_path(signing_key: &Path) -> PathBuf {
    signing_key.with_extension("last-head")
}

impl CheckpointSigner {
    /// Loads the key pair (PKCS#8 PEM private key, SPKI PEM public key); heads are signed for
    /// `hub_id`'s log and the last one is kept in `state_file`.
    pub fn load(
        private_pem: &str,
        public_pem: &str,
        hub_id: &str,
        state_file: PathBuf,
    ) -> Result<Self, KeyError> {
        let der = pem::parse(private_pem)
            .map_err(|_| KeyError::NotEd25519Private("audit signing key".into()))?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.contents())
            .map_err(|_| KeyError::NotEd25519Private("audit signing key".into()))?;
        let public = keys::public_key_bytes(public_pem, "audit public key")?;
        if key.public_key().as_ref() != public {
            return Err(KeyError::NotEd25519Public(
                "audit public key (it does not match the signing key)".into(),
            ));
        }
        Ok(Self {
            key,
            public_pem: public_pem.to_string(),
            origin: audit_note::origin(hub_id),
            state_file,
            last_signed: tokio::sync::Mutex::new(None),
        })
    }

    /// The public key auditors verify with (SPKI PEM).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    fn public_raw(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    fn open(&self, note: &str) -> Option<TreeHead> {
        audit_note::open(note, self.public_raw()).ok()
    }

    /// The head remembered in the state file (none before the first signature).
    fn remembered(&self) -> Result<Option<TreeHead>, CheckpointError> {
        match std::fs::read_to_string(&self.state_file) {
            Ok(note) => self.open(&note).map(Some).ok_or_else(|| {
                CheckpointError::Tampered(format!(
                    "{} does not hold a head signed by this hub",
                    self.state_file.display()
                ))
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(self.state_error(&error)),
        }
    }

    fn state_error(&self, error: &dyn std::fmt::Display) -> CheckpointError {
        CheckpointError::State {
            path: self.state_file.display().to_string(),
            error: error.to_string(),
        }
    }

    fn keep(&self, note: &str) -> Result<(), CheckpointError> {
        let temporary = self.state_file.with_extension("last-head.tmp");
        std::fs::write(&temporary, note).map_err(|error| self.state_error(&error))?;
        std::fs::rename(&temporary, &self.state_file).map_err(|error| self.state_error(&error))
    }

    /// Signs the log's current head if it grew past the last signed head; returns the size of
    /// the newest signed head (0 when the log is empty).
    pub async fn checkpoint(&self, store: &Store) -> Result<u64, CheckpointError> {
        let mut last_signed = self.last_signed.lock().await;
        let anchor = self.anchor(store, last_signed.clone()).await?;
        let anchor_size = anchor.as_ref().map_or(0, |head| head.size);
        let head_seq = store.audit_head().await?.map_or(0, |(seq, _)| seq);
        if head_seq < anchor_size {
            return Err(CheckpointError::Tampered(format!(
                "the log holds {head_seq} records but the last signed head counts {anchor_size}: \
                 records were removed"
            )));
        }
        // Checked on every call, the first one on start included: the stored tree must still
        // reproduce the signed root before anything is added to it.
        let mut frontier = match &anchor {
            Some(head) => {
                let frontier = match tree::frontier_at(store, head.size).await {
                    Ok(frontier) => frontier,
                    // The stored subtrees are derived data: when some were lost, they are
                    // rebuilt from the records, which must still chain and give the signed root.
                    Err(TreeError::MissingNode { .. }) => {
                        let mut rebuilt = Frontier::default();
                        let genesis = audit_chain::GENESIS_HASH.to_string();
                        tree::extend(store, &mut rebuilt, genesis, head.size).await?;
                        rebuilt
                    }
                    Err(error) => return Err(error.into()),
                };
                if frontier.root() != head.root {
                    return Err(CheckpointError::Tampered(format!(
                        "the stored tree no longer has the root of the head of size {}",
                        head.size
                    )));
                }
                frontier
            }
            None => Frontier::default(),
        };
        if head_seq == anchor_size {
            *last_signed = anchor;
            return Ok(anchor_size);
        }
        let prev_hash = match &anchor {
            Some(head) => anchor_record_hash(store, head.size).await?,
            None => {
                self.check_legacy(store, head_seq).await?;
                audit_chain::GENESIS_HASH.to_string()
            }
        };
        tree::extend(store, &mut frontier, prev_hash, head_seq).await?;
        let head = TreeHead {
            origin: self.origin.clone(),
            size: head_seq,
            root: frontier.root(),
        };
        let note = head.sign(self.public_raw(), |body| {
            self.key.sign(body).as_ref().to_vec()
        });
        store
            .add_tree_head(&StoredHead {
                size: i64::try_from(head.size).unwrap_or(i64::MAX),
                root_hash: to_hex(&head.root),
                time: super::now_text(),
                note: note.clone(),
            })
            .await?;
        // Kept after the row commits, so the database never lags what the file remembers.
        self.keep(&note)?;
        *last_signed = Some(head);
        Ok(head_seq)
    }

    /// The head to extend: the newest of what this hub remembers and what the database holds,
    /// after checking the database has not lost the remembered one and that the two agree.
    async fn anchor(
        &self,
        store: &Store,
        in_memory: Option<TreeHead>,
    ) -> Result<Option<TreeHead>, CheckpointError> {
        let remembered = match (in_memory, self.remembered()?) {
            (Some(a), Some(b)) => Some(if a.size >= b.size { a } else { b }),
            (a, b) => a.or(b),
        };
        let stored = match store.last_tree_head().await? {
            Some(row) => Some(
                self.open(&row.note)
                    .filter(|head| {
                        head.size == row.tree_size() && to_hex(&head.root) == row.root_hash
                    })
                    .ok_or_else(|| {
                        CheckpointError::Tampered(format!(
                            "the newest tree head row (size {}) is not signed by this hub",
                            row.size
                        ))
                    })?,
            ),
            None => None,
        };
        match (remembered, stored) {
            (None, stored) => Ok(stored),
            (Some(kept), None) => Err(CheckpointError::Tampered(format!(
                "this hub signed a head of size {} but the database holds none: heads were deleted",
                kept.size
            ))),
            (Some(kept), Some(stored)) if stored.size < kept.size => {
                Err(CheckpointError::Tampered(format!(
                    "this hub signed a head of size {} but the newest in the database is of size \
                     {}: heads were deleted",
                    kept.size, stored.size
                )))
            }
            (Some(kept), Some(stored)) => {
                let proof = tree::consistency_proof(store, kept.size, stored.size).await?;
                verify_consistency(kept.size, stored.size, &kept.root, &stored.root, &proof)
                    .map_err(|error| {
                        CheckpointError::Tampered(format!(
                            "the head of size {} does not extend the head of size {} this hub \
                             signed ({error})",
                            stored.size, kept.size
                        ))
                    })?;
                Ok(Some(stored))
            }
        }
    }

    /// Before the first tree head: the legacy checkpoints (signed over the chain) must still
    /// match the records they signed.
    async fn check_legacy(&self, store: &Store, head_seq: u64) -> Result<(), CheckpointError> {
        let key =
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, self.public_raw());
        for checkpoint in store.checkpoints().await? {
            let message =
                audit_chain::checkpoint_message(checkpoint.seq, &checkpoint.hash, &checkpoint.time);
            let signature =
                audit_chain::base64_url_decode(&checkpoint.signature).unwrap_or_default();
            let found = if checkpoint.seq <= head_seq {
                record_hash(store, checkpoint.seq).await.ok()
            } else {
                None
            };
            if key.verify(&message, &signature).is_err() || found != Some(checkpoint.hash) {
                return Err(CheckpointError::Tampered(format!(
                    "the legacy checkpoint at record {} no longer matches the log",
                    checkpoint.seq
                )));
            }
        }
        Ok(())
    }
}

/// The chain hash of record `seq`, the last of a signed tree, after checking that the record is
/// still the tree's leaf there (the new records chain from it).
async fn anchor_record_hash(store: &Store, seq: u64) -> Result<String, CheckpointError> {
    let record = store
        .audit_records(&AuditFilter::default(), seq, 1)
        .await?
        .into_iter()
        .find(|record| record.seq == seq)
        .ok_or_else(|| CheckpointError::Tampered(format!("the log has no record {seq}")))?;
    let leaf = store.audit_node(0, seq - 1).await?;
    if leaf.as_deref() != Some(to_hex(&record_leaf(&record)).as_str()) {
        return Err(CheckpointError::Tampered(format!(
            "record {seq} is not the leaf the signed tree has there"
        )));
    }
    Ok(record.hash)
}

/// The chain hash of record `seq`.
async fn record_hash(store: &Store, seq: u64) -> Result<String, CheckpointError> {
    store
        .audit_records(&AuditFilter::default(), seq, 1)
        .await?
        .into_iter()
        .find(|record| record.seq == seq)
        .map(|record| record.hash)
        .ok_or_else(|| CheckpointError::Tampered(format!("the log has no record {seq}")))
}
