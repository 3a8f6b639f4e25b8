//! The access log: what one record holds, how it is chained, and the per-call context the guard
//! and the handlers fill. Records never hold incident content: ids, filters and counts only.
//! The canonical encoding and the chain hash are `slt_proto::audit_chain`'s, shared with the
//! auditors' offline verifier.

pub mod bounds;
pub mod checkpoints;
pub mod refusals;
pub mod tree;
pub mod writer;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use time::OffsetDateTime;

/// The record type lives with the domain types (the store appends it; see `domain::audit`).
pub use crate::domain::AuditEntry;

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
    writer: writer::AuditWriter,
}

impl AuditContext {
    pub fn new(entry: AuditEntry, writer: writer::AuditWriter) -> Self {
        Self {
            state: Arc::new(Mutex::new((entry, false))),
            writer,
        }
    }

    /// The log's writer, for the records of this call (its stream pages, its end).
    pub fn writer(&self) -> &writer::AuditWriter {
        &self.writer
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
                bounds::bound(&mut entry);
                entry
            })
            .unwrap_or_default()
    }

    /// The record of one delivered page of a stream (Pull, Subscribe, ExportAudit): the call's
    /// who and what, with the page's number, what it carried (`ids`, bounded like any record)
    /// and `detail`. Recorded before the page is sent.
    pub fn page_entry(&self, page: u64, ids: Vec<String>, detail: serde_json::Value) -> AuditEntry {
        let mut entry = self.entry("OK");
        let mut summary = serde_json::json!({ "stream_page": page, "page": detail });
        if let (Some(map), Ok(serde_json::Value::Object(call))) = (
            summary.as_object_mut(),
            serde_json::from_str::<serde_json::Value>(&entry.request_summary),
        ) {
            map.insert("call".into(), serde_json::Value::Object(call));
        }
        entry.time = now_text();
        entry.request_summary = summary.to_string();
        entry.records_returned = ids.len() as u64;
        entry.fields_redacted = 0;
        entry.incident_ids = ids;
        bounds::bound(&mut entry);
        entry
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
