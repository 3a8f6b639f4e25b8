//! The audit chain's canonical encoding and its verification: the one definition both the hub
//! (which hashes and signs) and auditors' tools (which verify offline) use. ARCHITECTURE.md
//! ("Audit log") specifies the same bytes in prose for other implementations.

use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, UnparsedPublicKey};

use crate::v1::{AuditRecord, Checkpoint};

/// The hash a chain starts from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Canonical bytes of a record (every field but `prev_hash` and `hash`), in field-number order:
/// `seq`, `records_returned` and `fields_redacted` as 8 bytes big-endian; each string as a 4-byte
/// big-endian length then its UTF-8 bytes; each repeated string as a 4-byte big-endian count then
/// each element as a string. Every value is self-delimiting, so no two records share bytes.
pub fn canonical_bytes(record: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + record.request_summary.len());
    let text = |out: &mut Vec<u8>, value: &str| {
        out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    };
    let list = |out: &mut Vec<u8>, values: &[String]| {
        out.extend_from_slice(
            &u32::try_from(values.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for value in values {
            text(out, value);
        }
    };
    out.extend_from_slice(&record.seq.to_be_bytes());
    text(&mut out, &record.time);
    text(&mut out, &record.hub_id);
    text(&mut out, &record.org);
    text(&mut out, &record.subject);
    list(&mut out, &record.roles);
    text(&mut out, &record.cert_sha256);
    text(&mut out, &record.peer_address);
    text(&mut out, &record.method);
    text(&mut out, &record.request_summary);
    text(&mut out, &record.outcome);
    out.extend_from_slice(&record.records_returned.to_be_bytes());
    out.extend_from_slice(&record.fields_redacted.to_be_bytes());
    text(&mut out, &record.policy_version);
    list(&mut out, &record.incident_ids);
    out
}

/// `hash` for a record after `prev_hash` (both lower-case hex): SHA-256(prev bytes || canonical).
pub fn chain_hash(prev_hash: &str, record: &AuditRecord) -> Option<String> {
    let prev = from_hex(prev_hash)?;
    if prev.len() != 32 {
        return None;
    }
    let mut input = prev;
    input.extend_from_slice(&canonical_bytes(record));
    Some(to_hex(digest(&SHA256, &input).as_ref()))
}

/// The text a checkpoint signature covers.
pub fn checkpoint_message(seq: u64, hash: &str, time: &str) -> Vec<u8> {
    format!("slt-audit-checkpoint-v2\n{seq}\n{hash}\n{time}").into_bytes()
}

/// Why a chain does not verify, naming the first bad record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("record {seq}: expected seq {expected} (a record is missing, added or out of order)")]
    Gap { seq: u64, expected: u64 },
    #[error("record {seq}: prev_hash does not match the hash of record {previous}")]
    BrokenLink { seq: u64, previous: u64 },
    #[error("record {seq}: its hash does not match its content (the record was altered)")]
    BadHash { seq: u64 },
    #[error("checkpoint at {seq}: the signature does not verify with this key")]
    BadSignature { seq: u64 },
    #[error("checkpoint at {seq}: it signs hash {signed}, the export has {found} there")]
    CheckpointMismatch {
        seq: u64,
        signed: String,
        found: String,
    },
    #[error("checkpoint at {seq}: the export ends at {last} (records were removed from the tail)")]
    Truncated { seq: u64, last: u64 },
    #[error("the export holds no checkpoint: nothing the hub signed vouches for it")]
    NoCheckpoint,
    #[error(
        "the export does not start at record 1 (it starts at {first}): earlier records are missing"
    )]
    MissingStart { first: u64 },
    #[error(
        "records {from} to {to} come after the last checkpoint: nothing signed vouches for them"
    )]
    UnsignedTail { from: u64, to: u64 },
    #[error("checkpoint at {seq}: out of order (checkpoints must rise)")]
    CheckpointOrder { seq: u64 },
    #[error("tree head at size {size}: {reason}")]
    BadHead { size: u64, reason: String },
    #[error(
        "signed tree head at size {size}: its root is not the root of the exported records 1 to \
         {size} (a record was altered, removed or added)"
    )]
    HeadMismatch { size: u64 },
    #[error(
        "TRUSTED tree head at size {size}: the log no longer extends it (records 1 to {size} are \
         not the ones it signed: the log was rewritten)"
    )]
    TrustedMismatch { size: u64 },
    #[error(
        "tree head at size {size} comes after record {last} in the export (heads must come first)"
    )]
    HeadOrder { size: u64, last: u64 },
    #[error("tree head of '{found}' where the log is '{expected}': a head of another log")]
    OtherLog { expected: String, found: String },
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub checkpoints: u64,
    /// The last record a signed checkpoint covers.
    pub signed_up_to: u64,
    /// Heads kept by the auditor earlier that the log still extends.
    pub trusted: u64,
}

/// Verifies a complete export of the legacy format (v2 checkpoints, before the Merkle tree): records from seq 1 (whose prev_hash is the genesis hash), in
/// order, and checkpoints in rising order, against an Ed25519 public key (raw 32 bytes). Every
/// record must be covered by a checkpoint: an unsigned tail is an error.
pub fn verify(
    records: &[AuditRecord],
    checkpoints: &[Checkpoint],
    public_key: &[u8],
) -> Result<Verified, ChainError> {
    if let Some(first) = records.first() {
        if first.seq != 1 {
            return Err(ChainError::MissingStart { first: first.seq });
        }
    }
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_string();
    for record in records {
        if record.seq != expected_seq {
            return Err(ChainError::Gap {
                seq: record.seq,
                expected: expected_seq,
            });
        }
        if record.prev_hash != prev_hash {
            return Err(ChainError::BrokenLink {
                seq: record.seq,
                previous: record.seq.saturating_sub(1),
            });
        }
        if chain_hash(&prev_hash, record).as_deref() != Some(record.hash.as_str()) {
            return Err(ChainError::BadHash { seq: record.seq });
        }
        prev_hash = record.hash.clone();
        expected_seq += 1;
    }
    let last = expected_seq - 1;
    let key = UnparsedPublicKey::new(&ED25519, public_key);
    let mut signed_up_to = 0;
    for checkpoint in checkpoints {
        let signature = base64_url_decode(&checkpoint.signature).unwrap_or_default();
        let message = checkpoint_message(checkpoint.seq, &checkpoint.hash, &checkpoint.time);
        if key.verify(&message, &signature).is_err() {
            return Err(ChainError::BadSignature {
                seq: checkpoint.seq,
            });
        }
        if checkpoint.seq <= signed_up_to || checkpoint.seq == 0 {
            return Err(ChainError::CheckpointOrder {
                seq: checkpoint.seq,
            });
        }
        if checkpoint.seq > last {
            return Err(ChainError::Truncated {
                seq: checkpoint.seq,
                last,
            });
        }
        let index = usize::try_from(checkpoint.seq - 1).unwrap_or(usize::MAX);
        let found = records
            .get(index)
            .map(|record| record.hash.clone())
            .unwrap_or_default();
        if found != checkpoint.hash {
            return Err(ChainError::CheckpointMismatch {
                seq: checkpoint.seq,
                signed: checkpoint.hash.clone(),
                found,
            });
        }
        signed_up_to = checkpoint.seq;
    }
    if signed_up_to == 0 {
        return Err(ChainError::NoCheckpoint);
    }
    if last > signed_up_to {
        return Err(ChainError::UnsignedTail {
            from: signed_up_to + 1,
            to: last,
        });
    }
    Ok(Verified {
        records: records.len() as u64,
        checkpoints: checkpoints.len() as u64,
        signed_up_to,
        trusted: 0,
    })
}

/// Lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// base64url without padding (signatures), decoded without another dependency.
pub fn base64_url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        buffer = (buffer << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}
