//! The Merkle tree over the stored access log: roots and proofs folded from the perfect subtrees
//! the signer stored, and the extension of the tree by records read back and checked. The tree's
//! arithmetic is `slt_proto::audit_tree`'s, shared with the auditors' verifier.

use slt_proto::audit_chain::{from_hex, to_hex};
use slt_proto::audit_tree::{
    Frontier, Hash, consistency_ranges, fold_pieces, inclusion_ranges, perfect_pieces, record_leaf,
};

use crate::store::{AuditFilter, Store, StoreError};

/// Records read per page while the tree is extended.
const EXTEND_PAGE: u32 = 1_000;

/// Why the stored tree cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored tree lacks the subtree ({level}, {index}) or it is damaged")]
    MissingNode { level: u32, index: u64 },
    #[error("record {seq} does not chain from its predecessor")]
    BrokenChain { seq: u64 },
    #[error("the log has no record {seq}")]
    MissingRecord { seq: u64 },
}

async fn node(store: &Store, level: u32, index: u64) -> Result<Hash, TreeError> {
    store
        .audit_node(level, index)
        .await?
        .and_then(|text| from_hex(&text))
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(TreeError::MissingNode { level, index })
}

/// MTH of the leaves `[lo, hi)` from the stored perfect subtrees.
pub async fn range_hash(store: &Store, lo: u64, hi: u64) -> Result<Hash, TreeError> {
    let mut hashes = Vec::new();
    for (level, index) in perfect_pieces(lo, hi) {
        hashes.push(node(store, level, index).await?);
    }
    fold_pieces(&hashes).ok_or(TreeError::MissingNode {
        level: 0,
        index: lo,
    })
}

/// The frontier of the tree of `size` from the stored subtrees.
pub async fn frontier_at(store: &Store, size: u64) -> Result<Frontier, TreeError> {
    let mut hashes = Vec::new();
    for (level, index) in perfect_pieces(0, size) {
        hashes.push(node(store, level, index).await?);
    }
    Frontier::from_pieces(size, &hashes).ok_or(TreeError::MissingNode { level: 0, index: 0 })
}

/// RFC 9162 PATH(index, D[size]).
pub async fn inclusion_proof(store: &Store, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
    let mut proof = Vec::new();
    for (lo, hi) in inclusion_ranges(index, size) {
        proof.push(range_hash(store, lo, hi).await?);
    }
    Ok(proof)
}

/// RFC 9162 PROOF(first, D[second]).
pub async fn consistency_proof(
    store: &Store,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, TreeError> {
    let mut proof = Vec::new();
    for (lo, hi) in consistency_ranges(first, second) {
        proof.push(range_hash(store, lo, hi).await?);
    }
    Ok(proof)
}

/// Extends `frontier` with records `frontier.size() + 1 ..= to`, read back from the log, each
/// checked to chain from the one before (the first from `prev_hash`, the hash of the record at
/// the frontier's size), and stores every subtree they complete. Returns the hash of record `to`.
pub async fn extend(
    store: &Store,
    frontier: &mut Frontier,
    mut prev_hash: String,
    to: u64,
) -> Result<String, TreeError> {
    while frontier.size() < to {
        let next = frontier.size() + 1;
        let page = store
            .audit_records(&AuditFilter::default(), next, EXTEND_PAGE)
            .await?;
        if page.first().map(|record| record.seq) != Some(next) {
            return Err(TreeError::MissingRecord { seq: next });
        }
        let mut nodes = Vec::new();
        for record in page.iter().take_while(|record| record.seq <= to) {
            if record.seq != frontier.size() + 1 {
                return Err(TreeError::MissingRecord {
                    seq: frontier.size() + 1,
                });
            }
            let chained = slt_proto::audit_chain::chain_hash(&prev_hash, record);
            if record.prev_hash != prev_hash || chained.as_deref() != Some(record.hash.as_str()) {
                return Err(TreeError::BrokenChain { seq: record.seq });
            }
            prev_hash.clone_from(&record.hash);
            frontier.push(record_leaf(record), |level, index, hash| {
                nodes.push((level, index, to_hex(hash)));
            });
        }
        store.add_audit_nodes(&nodes).await?;
    }
    Ok(prev_hash)
}
