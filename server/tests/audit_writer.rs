//! Group commit on a real SQLite file: concurrent calls' records share transactions, each call
//! gets its own seq once its record is durable, and the chain they form verifies link by link.

use slt_hub::audit::AuditEntry;
use slt_hub::audit::writer::AuditWriter;
use slt_hub::store::Store;

fn entry(n: usize) -> AuditEntry {
    AuditEntry {
        time: slt_hub::audit::now_text(),
        hub_id: "hub-test".into(),
        org: format!("ngo-{}", n % 7),
        method: "/slt.v1.IncidentService/GetIncident".into(),
        request_summary: format!("{{\"call\":{n}}}"),
        outcome: "OK".into(),
        incident_ids: vec![format!("id-{n}")],
        ..AuditEntry::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_commit_together_and_form_one_chain() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let store = Store::open(&url).await.expect("store");
    let writer = AuditWriter::start(store.clone());

    const CALLS: usize = 400;
    let mut calls = Vec::new();
    for n in 0..CALLS {
        let writer = writer.clone();
        calls.push(tokio::spawn(async move {
            (n, writer.record(entry(n)).await.expect("recorded"))
        }));
    }
    let mut seqs = Vec::new();
    for call in calls {
        let (n, seq) = call.await.expect("call");
        // When `record` returns, the record is in the database under the seq it returned.
        let stored = store
            .audit_records(&Default::default(), seq, 1)
            .await
            .expect("read back");
        assert_eq!(stored[0].seq, seq);
        assert_eq!(stored[0].incident_ids, vec![format!("id-{n}")]);
        seqs.push(seq);
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=CALLS as u64).collect::<Vec<_>>(),
        "one seq each, no gaps"
    );

    let stats = writer.stats();
    assert_eq!(stats.records(), CALLS as u64);
    assert!(
        stats.commits() < CALLS as u64 / 4,
        "{} records in {} commits: concurrent records share transactions",
        stats.records(),
        stats.commits()
    );

    let records = store
        .audit_records(&Default::default(), 1, CALLS as u32 + 1)
        .await
        .expect("records");
    let mut prev = slt_proto::audit_chain::GENESIS_HASH.to_string();
    for record in &records {
        assert_eq!(record.prev_hash, prev, "record {} chains", record.seq);
        assert_eq!(
            slt_proto::audit_chain::chain_hash(&prev, record).as_deref(),
            Some(record.hash.as_str())
        );
        prev.clone_from(&record.hash);
    }
}
