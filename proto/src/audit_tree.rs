//! The access log as an RFC 9162 Merkle tree (section 2.1): leaf and node hashes, the compact
//! frontier that computes roots while records stream past, which subtrees a proof is made of,
//! and the verification of inclusion and consistency proofs. Shared by the hub (which builds the
//! tree and serves proofs) and the auditors' offline verifier.

use ring::digest::{Context, SHA256};

use crate::audit_chain::canonical_bytes;
use crate::v1::AuditRecord;

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// MTH({}): the root of the empty tree, SHA-256 of nothing.
pub fn empty_root() -> Hash {
    sha256(&[&[]])
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// MTH({d}) = SHA-256(0x00 || d).
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0x00], data])
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// The leaf of a record: its canonical bytes (`audit_chain::canonical_bytes`), hashed as a leaf.
pub fn record_leaf(record: &AuditRecord) -> Hash {
    leaf_hash(&canonical_bytes(record))
}

/// The perfect subtrees `[lo, hi)` splits into, left to right, as (level, index) with the
/// subtree covering leaves `index << level .. (index + 1) << level`. In RFC 9162's recursion
/// every range starts at a multiple of a power of two larger than its length, so these are its
/// binary decomposition and MTH of the range is their right fold with [`node_hash`].
pub fn perfect_pieces(lo: u64, hi: u64) -> Vec<(u32, u64)> {
    let mut pieces = Vec::new();
    let mut at = lo;
    while at < hi {
        let mut level = 63 - (hi - at).leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        pieces.push((level, at >> level));
        at += 1 << level;
    }
    pieces
}

/// Folds the hashes of [`perfect_pieces`] into MTH of their range.
pub fn fold_pieces(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    )
}

/// The largest power of two smaller than `n` (n >= 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The ranges whose MTH form PATH(index, D[0:size]) (RFC 9162 2.1.3.1), in proof order.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi, mut m) = (0, size, index);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if m < k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            m -= k;
        }
    }
    out.reverse();
    out
}

/// The ranges whose MTH form PROOF(first, D[0:second]) (RFC 9162 2.1.4.1), in proof order.
pub fn consistency_ranges(first: u64, second: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if first == 0 || first >= second {
        return out;
    }
    let (mut lo, mut hi, mut m, mut whole) = (0, second, first, true);
    while m != hi - lo {
        let k = split(hi - lo);
        if m <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    if !whole {
        out.push((lo, hi));
    }
    out.reverse();
    out
}

/// The right edge of a tree being built leaf by leaf: the roots of its perfect subtrees, left to
/// right (at most 64), so that any prefix's root is known without keeping the leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    /// The frontier of a tree of `size` from its perfect subtrees' roots, left to right (as
    /// [`perfect_pieces`]`(0, size)` names them).
    pub fn from_pieces(size: u64, hashes: &[Hash]) -> Option<Frontier> {
        let pieces = perfect_pieces(0, size);
        if pieces.len() != hashes.len() {
            return None;
        }
        let nodes = pieces
            .iter()
            .zip(hashes)
            .map(|((level, _), hash)| (*level, *hash))
            .collect();
        Some(Frontier { size, nodes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; `completed` sees every perfect subtree it completes, as (level,
    /// index, hash), the leaf itself first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let mut level = 0;
        let mut hash = leaf;
        let mut index = self.size;
        completed(level, index, &hash);
        while let Some((top, left)) = self.nodes.last().copied() {
            if top != level {
                break;
            }
            self.nodes.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed(level, index, &hash);
        }
        self.nodes.push((level, hash));
        self.size += 1;
    }

    /// MTH of the leaves so far.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.nodes.iter().map(|(_, hash)| *hash).collect();
        fold_pieces(&hashes).unwrap_or_else(empty_root)
    }
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not in a tree of size {size}")]
    OutOfRange { index: u64, size: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the signed root")]
    RootMismatch,
}

/// Checks that `leaf` is at `index` in the tree of `size` with `root` (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange { index, size });
    }
    let (mut fn_, mut sn, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `second` leaves with `second_root` extends the tree of `first`
/// leaves with `first_root` (RFC 9162 2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::OutOfRange {
            index: first,
            size: second,
        });
    }
    if first == second || first == 0 {
        let same = first == 0 || first_root == second_root;
        return match (proof.is_empty(), same) {
            (false, _) => Err(ProofError::WrongLength),
            (true, false) => Err(ProofError::RootMismatch),
            (true, true) => Ok(()),
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let Some((start, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
#[path = "audit_tree_tests.rs"]
mod tests;
