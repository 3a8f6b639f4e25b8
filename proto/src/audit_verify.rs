//! The auditors' verifier of an export, in bounded memory: records stream past once; the
//! verifier keeps the chain's last hash and the Merkle frontier (at most 64 hashes), and checks
//! every signed tree head, from the export or kept by the auditor earlier ("trusted"), when the
//! records reach its size.

use std::collections::BTreeMap;

use crate::audit_chain::{ChainError, GENESIS_HASH, Verified, chain_hash};
use crate::audit_note::{self, TreeHead};
use crate::audit_tree::{Frontier, Hash, record_leaf};
use crate::v1::AuditRecord;

/// A head waiting for the records to reach its size.
#[derive(Debug, Clone, Copy)]
struct Pending {
    root: Hash,
    trusted: bool,
}

/// Verifies an export (records from 1 in order, and the signed heads) as it streams past.
pub struct LogVerifier {
    public_key: Vec<u8>,
    expected_seq: u64,
    prev_hash: String,
    frontier: Frontier,
    origin: Option<String>,
    pending: BTreeMap<u64, Vec<Pending>>,
    signed_up_to: u64,
    heads: u64,
    trusted: u64,
}

impl LogVerifier {
    /// A verifier for heads signed by `public_key` (raw 32-byte Ed25519).
    pub fn new(public_key: &[u8]) -> LogVerifier {
        LogVerifier {
            public_key: public_key.to_vec(),
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            frontier: Frontier::default(),
            origin: None,
            pending: BTreeMap::new(),
            signed_up_to: 0,
            heads: 0,
            trusted: 0,
        }
    }

    /// A head the auditor kept from earlier: the export must still extend it.
    pub fn trust(&mut self, note: &str) -> Result<TreeHead, ChainError> {
        self.add_head(note, true)
    }

    /// A head from the export.
    pub fn head(&mut self, note: &str) -> Result<TreeHead, ChainError> {
        self.add_head(note, false)
    }

    fn add_head(&mut self, note: &str, trusted: bool) -> Result<TreeHead, ChainError> {
        let head =
            audit_note::open(note, &self.public_key).map_err(|error| ChainError::BadHead {
                size: note_size(note),
                reason: error.to_string(),
            })?;
        match &self.origin {
            Some(expected) if *expected != head.origin => {
                return Err(ChainError::OtherLog {
                    expected: expected.clone(),
                    found: head.origin,
                });
            }
            Some(_) => {}
            None => self.origin = Some(head.origin.clone()),
        }
        if head.size < self.frontier.size() {
            return Err(ChainError::HeadOrder {
                size: head.size,
                last: self.frontier.size(),
            });
        }
        self.pending.entry(head.size).or_default().push(Pending {
            root: head.root,
            trusted,
        });
        self.check_pending()?;
        Ok(head)
    }

    /// The next record of the export.
    pub fn record(&mut self, record: &AuditRecord) -> Result<(), ChainError> {
        if record.seq != self.expected_seq {
            if self.expected_seq == 1 {
                return Err(ChainError::MissingStart { first: record.seq });
            }
            return Err(ChainError::Gap {
                seq: record.seq,
                expected: self.expected_seq,
            });
        }
        if record.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink {
                seq: record.seq,
                previous: record.seq.saturating_sub(1),
            });
        }
        if chain_hash(&self.prev_hash, record).as_deref() != Some(record.hash.as_str()) {
            return Err(ChainError::BadHash { seq: record.seq });
        }
        self.prev_hash.clone_from(&record.hash);
        self.expected_seq += 1;
        self.frontier.push(record_leaf(record), |_, _, _| {});
        self.check_pending()
    }

    /// Checks the heads whose size the records have reached.
    fn check_pending(&mut self) -> Result<(), ChainError> {
        let size = self.frontier.size();
        let Some(heads) = self.pending.remove(&size) else {
            return Ok(());
        };
        let root = self.frontier.root();
        for head in heads {
            if head.root != root {
                return Err(if head.trusted {
                    ChainError::TrustedMismatch { size }
                } else {
                    ChainError::HeadMismatch { size }
                });
            }
            if head.trusted {
                self.trusted += 1;
            } else {
                self.heads += 1;
                self.signed_up_to = self.signed_up_to.max(size);
            }
        }
        Ok(())
    }

    /// The end of the export: every head reached, every record covered by a signed head.
    pub fn finish(self) -> Result<Verified, ChainError> {
        let last = self.frontier.size();
        if let Some((&size, _)) = self.pending.iter().next() {
            return Err(ChainError::Truncated { seq: size, last });
        }
        if self.signed_up_to == 0 {
            return Err(ChainError::NoCheckpoint);
        }
        if last > self.signed_up_to {
            return Err(ChainError::UnsignedTail {
                from: self.signed_up_to + 1,
                to: last,
            });
        }
        Ok(Verified {
            records: last,
            checkpoints: self.heads,
            signed_up_to: self.signed_up_to,
            trusted: self.trusted,
        })
    }
}

/// The size line of a note, for naming a head that does not open (0 when unreadable).
fn note_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .unwrap_or(0)
}
