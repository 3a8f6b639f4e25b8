//! Every record is bounded before it is recorded, whatever the caller sent: the request summary
//! is JSON whose long lists and long strings are kept as a count and a SHA-256 digest, and which
//! is itself at most [`MAX_SUMMARY_BYTES`]; at most [`MAX_RECORD_IDS`] incident ids are kept (the
//! rest as a count and a digest in the summary); caller-derived texts are cut. So a record is at
//! most about 45 KB, and an export message of about 1 MiB is never near the 4 MiB limit.

use ring::digest::{SHA256, digest};
use serde_json::{Map, Value, json};
use slt_proto::audit_chain::to_hex;

use crate::domain::AuditEntry;

/// The longest request summary kept, in bytes.
pub const MAX_SUMMARY_BYTES: usize = 4_096;
/// Lists in a summary longer than this become `{"count", "sha256"}`.
pub const MAX_LIST_ITEMS: usize = 32;
/// Strings in a summary longer than this (in bytes) become `{"bytes", "sha256"}`.
pub const MAX_SUMMARY_TEXT: usize = 256;
/// Incident ids kept per record (the largest page any call returns).
pub const MAX_RECORD_IDS: usize = 1_000;
/// The longest org, subject, peer address, certificate digest or policy version kept.
const MAX_FIELD: usize = 256;

fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(digest(&SHA256, bytes).as_ref())
}

/// Bounds `entry` in place.
pub fn bound(entry: &mut AuditEntry) {
    let mut summary = bound_summary(&entry.request_summary);
    if entry.incident_ids.len() > MAX_RECORD_IDS {
        let all = entry.incident_ids.join(",");
        let total = entry.incident_ids.len();
        entry.incident_ids.truncate(MAX_RECORD_IDS);
        if let Value::Object(map) = &mut summary {
            map.insert(
                "incident_ids_total".into(),
                json!({ "count": total, "sha256": sha256_hex(all.as_bytes()) }),
            );
        }
    }
    entry.request_summary = summary.to_string();
    for field in [
        &mut entry.org,
        &mut entry.subject,
        &mut entry.peer_address,
        &mut entry.cert_sha256,
        &mut entry.policy_version,
    ] {
        cut(field, MAX_FIELD);
    }
}

fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// The summary as bounded JSON (an object; what is not JSON is kept as its size and digest).
fn bound_summary(text: &str) -> Value {
    let value = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            return json!({ "unparsed": { "bytes": text.len(), "sha256": sha256_hex(text.as_bytes()) } });
        }
    };
    let bounded = bound_value(value);
    let encoded = bounded.to_string();
    if encoded.len() <= MAX_SUMMARY_BYTES {
        return bounded;
    }
    json!({ "too_large": { "bytes": encoded.len(), "sha256": sha256_hex(encoded.as_bytes()) } })
}

fn bound_value(value: Value) -> Value {
    match value {
        Value::Array(items) if items.len() > MAX_LIST_ITEMS => {
            let encoded = Value::Array(items.clone()).to_string();
            json!({ "count": items.len(), "sha256": sha256_hex(encoded.as_bytes()) })
        }
        Value::Array(items) => Value::Array(items.into_iter().map(bound_value).collect()),
        Value::String(text) if text.len() > MAX_SUMMARY_TEXT => {
            json!({ "bytes": text.len(), "sha256": sha256_hex(text.as_bytes()) })
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let mut key = key;
                    cut(&mut key, MAX_SUMMARY_TEXT);
                    (key, bound_value(value))
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_and_texts_become_a_count_and_a_digest() {
        let admin1: Vec<String> = (0..10_000).map(|n| format!("area-{n}")).collect();
        let mut entry = AuditEntry {
            request_summary: json!({ "admin1": admin1, "country": "SSD", "note": "x".repeat(300) })
                .to_string(),
            incident_ids: (0..1_500).map(|n| n.to_string()).collect(),
            subject: "s".repeat(10_000),
            ..AuditEntry::default()
        };
        bound(&mut entry);
        let summary: Value = serde_json::from_str(&entry.request_summary).expect("json");
        assert_eq!(summary["admin1"]["count"], 10_000);
        assert_eq!(summary["admin1"]["sha256"].as_str().map(str::len), Some(64));
        assert_eq!(summary["country"], "SSD");
        assert_eq!(summary["note"]["bytes"], 300);
        assert_eq!(summary["incident_ids_total"]["count"], 1_500);
        assert_eq!(entry.incident_ids.len(), MAX_RECORD_IDS);
        assert_eq!(entry.subject.len(), MAX_FIELD);
        assert!(entry.request_summary.len() <= MAX_SUMMARY_BYTES);
    }

    #[test]
    fn a_summary_too_large_after_bounding_is_kept_as_its_size() {
        let wide: Map<String, Value> = (0..2_000)
            .map(|n| (format!("key-{n}"), Value::from(n)))
            .collect();
        let mut entry = AuditEntry {
            request_summary: Value::Object(wide).to_string(),
            ..AuditEntry::default()
        };
        bound(&mut entry);
        assert!(entry.request_summary.starts_with("{\"too_large\""));
        let mut raw = AuditEntry {
            request_summary: "not json".into(),
            ..AuditEntry::default()
        };
        bound(&mut raw);
        assert!(raw.request_summary.contains("unparsed"));
    }
}
