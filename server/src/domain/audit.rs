//! One access to the hub as the access log records it. Records never hold incident content: ids,
//! filters and counts only. The canonical encoding and the chain hash are
//! `slt_proto::audit_chain`'s, shared with the auditors' offline verifier.

use slt_proto::audit_chain;
use slt_proto::v1 as pb;

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
