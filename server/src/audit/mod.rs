//! The access log: what one record holds, how it is chained, and the per-call context the guard
//! and the handlers fill. Records never hold incident content: ids, filters and counts only.
//! The canonical encoding and the chain hash are `slt_proto::audit_chain`'s, shared with the
//! auditors' offline verifier.

pub mod checkpoints;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use slt_proto::audit_chain;
use slt_proto::v1 as pb;
use time::OffsetDateTime;

/// One access to the hub, before it takes its place in the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub time: String,
    pub hub_id: String,
    pub org: String,
    pub subject: String,
    pub roles: Vec<String>,
    pub cert_sha256: String,
    pub peer_address: String,
    pub method: String,
    pub request_summary: String,
    pub outcome: String,
    pub records_returned: u64,
    pub fields_redacted: u64,
    pub policy_version: String,
    pub incident_ids: Vec<String>,
}

impl AuditEntry {
    /// The chain record for this entry at `seq` after `prev_hash` (hash filled in).
    pub fn chained(&self, seq: u64, prev_hash: &str) -> Option<pb::AuditRecord> {
        let mut record = pb::AuditRecord {
            seq,
            time: self.time.clone(),
            hub_id: self.hub_id.clone(),
            org: self.org.clone(),
            subject: self.subject.clone(),
            roles: self.roles.clone(),
            cert_sha256: self.cert_sha256.clone(),
            peer_address: self.peer_address.clone(),
            method: self.method.clone(),
            request_summary: self.request_summary.clone(),
            outcome: self.outcome.clone(),
            records_returned: self.records_returned,
            fields_redacted: self.fields_redacted,
            policy_version: self.policy_version.clone(),
            incident_ids: self.incident_ids.clone(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        record.hash = audit_chain::chain_hash(prev_hash, &record)?;
        Some(record)
    }
}

/// Now, as the log writes it: RFC 3339, UTC, microseconds.
pub fn now_text() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    )
}

/// A request summary as JSON (filters, ids, counts).
pub fn summary(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

/// The audit record of one call in progress: the guard starts it, the handler adds what it did
/// (summary, ids, counts) and, for writes, hands it to the store to commit with the write; the
/// guard records it after the handler unless the write already did.
#[derive(Clone, Debug)]
pub struct AuditContext {
    state: Arc<Mutex<(AuditEntry, bool)>>,
}

impl AuditContext {
    pub fn new(entry: AuditEntry) -> Self {
        Self {
            state: Arc::new(Mutex::new((entry, false))),
        }
    }

    /// Adds to the entry.
    pub fn note(&self, update: impl FnOnce(&mut AuditEntry)) {
        if let Ok(mut state) = self.state.lock() {
            update(&mut state.0);
        }
    }

    /// The entry as it stands, with `outcome`.
    pub fn entry(&self, outcome: &str) -> AuditEntry {
        self.state
            .lock()
            .map(|state| {
                let mut entry = state.0.clone();
                entry.outcome = outcome.to_string();
                entry
            })
            .unwrap_or_default()
    }

    /// The write carrying this entry committed: the guard must not record it again.
    pub fn mark_recorded(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.1 = true;
        }
    }

    pub fn is_recorded(&self) -> bool {
        self.state.lock().map(|state| state.1).unwrap_or(false)
    }
}
