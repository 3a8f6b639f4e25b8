//! The access log as a Merkle log with signed tree heads, end to end on a real hub: the export
//! stays bounded and verifiable under records that used to break it (long filter lists, many
//! large list pages); inclusion and consistency proofs from the hub verify offline and tampered
//! ones do not; and the database administrator's forgery (rewrite records from K, delete the
//! heads from K, restart) is refused by the hub and detected by auditors who kept a head.

use std::path::Path;
use std::process::{Command, Output};

use prost::Message;
use slt_client::{ClientError, HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_hub::store::Store;
use slt_proto::audit_chain::{chain_hash, from_hex};
use slt_proto::audit_tree::{Hash, record_leaf, verify_consistency, verify_inclusion};
use slt_tests::{TestHub, new_id, sample_incident, slt_binary};
use tonic::Code;

const AUDITOR: &[Role] = &[Role::Auditor];

/// Runs `slt` with `args` (the auditor's profile first when `hub` is given).
fn slt(hub: Option<&TestHub>, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(slt_binary());
    if let Some(hub) = hub {
        command
            .arg("--profile")
            .arg(hub.profile_path("audit-office", AUDITOR));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.args(args).output().expect("run slt");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), output)
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `slt audit export` then `slt audit verify` (with `--trusted` when given).
fn export_and_verify(hub: &TestHub, dir: &Path, trusted: Option<&Path>) -> (bool, String) {
    let file = dir.join("export.jsonl");
    let (ok, output) = slt(Some(hub), &["audit", "export", "--out", path(&file)]);
    assert!(ok, "export: {output}");
    let key = hub.config.audit_public_key.clone();
    let mut args = vec!["audit", "verify", path(&file), "--key", path(&key)];
    if let Some(trusted) = trusted {
        args.extend(["--trusted", path(trusted)]);
    }
    slt(None, &args)
}

fn watch(hub: &TestHub, state: &Path) -> (bool, String) {
    let key = hub.config.audit_public_key.clone();
    slt(
        Some(hub),
        &[
            "audit",
            "watch",
            "--state",
            path(state),
            "--key",
            path(&key),
        ],
    )
}

async fn traffic(hub: &TestHub) {
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let incident = sample_incident(new_id());
    alpha.submit(vec![incident.clone()]).await.expect("submit");
    alpha.get(&incident.id).await.expect("get");
    let mut beta = hub.client("ngo-beta", &[Role::Analyst]).await;
    beta.list(Default::default(), 10, String::new())
        .await
        .expect("list");
}

fn hashes(texts: &[String]) -> Vec<Hash> {
    texts
        .iter()
        .map(|text| from_hex(text).expect("hex").try_into().expect("32 bytes"))
        .collect()
}

fn root(head: &pb::TreeHead) -> Hash {
    from_hex(&head.root_hash)
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_filter_lists_and_many_large_list_pages_leave_an_export_that_verifies() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let batch: Vec<pb::Incident> = (0..1_000).map(|_| sample_incident(new_id())).collect();
    alpha.submit(batch).await.expect("submit");
    // Refused picture calls whose raw admin1 lists alone are over a megabyte each.
    let mut analyst = hub.client("ngo-beta", &[Role::Analyst]).await;
    let admin1: Vec<String> = (0..120_000).map(|n| format!("area-{n:06}")).collect();
    for _ in 0..3 {
        let refused = analyst
            .threat_picture(pb::GetThreatPictureRequest {
                countries: vec!["SSD".into()],
                admin1: admin1.clone(),
                ..Default::default()
            })
            .await;
        assert!(refused.is_err(), "a picture over 120,000 areas is refused");
    }
    // Many list pages of 1,000 ids: their records alone are more than one export message.
    for _ in 0..30 {
        let page = analyst
            .list(Default::default(), 1_000, String::new())
            .await
            .expect("list");
        assert!(page.incidents.len() > 500);
    }
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let mut stream = auditor.export_audit(1).await.expect("export");
    let (mut messages, mut records) = (0, Vec::new());
    while let Some(page) = stream.message().await.expect("a message within the limit") {
        assert!(
            page.encoded_len() < 2 << 20,
            "a message is bounded in bytes"
        );
        messages += 1;
        records.extend(page.records);
    }
    assert!(
        messages >= 2,
        "the export was split by bytes ({messages} message)"
    );
    let pictures: Vec<&pb::AuditRecord> = records
        .iter()
        .filter(|record| record.method.ends_with("/GetThreatPicture"))
        .collect();
    assert_eq!(pictures.len(), 3);
    for record in pictures {
        assert!(
            record.request_summary.len() <= 4_096,
            "the summary is capped"
        );
        assert!(
            record.request_summary.contains("\"count\":120000"),
            "the long list is kept as a count: {}",
            record.request_summary
        );
    }
    let dir = tempfile::tempdir().expect("dir");
    let (ok, output) = tokio::task::block_in_place(|| export_and_verify(&hub, dir.path(), None));
    assert!(ok, "{output}");
    assert!(output.contains("OK:"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_and_consistency_proofs_verify_offline_and_tampered_ones_do_not() {
    let hub = TestHub::start().await;
    traffic(&hub).await;
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let first = auditor.tree_head().await.expect("head").head.expect("head");
    traffic(&hub).await;
    let second = auditor.tree_head().await.expect("head").head.expect("head");
    assert!(second.size > first.size);

    for seq in [1, 2, first.size, second.size] {
        let proof = auditor
            .inclusion_proof(seq, second.size)
            .await
            .expect("proof");
        let record = proof.record.expect("record");
        let path = hashes(&proof.hashes);
        let leaf = record_leaf(&record);
        verify_inclusion(seq - 1, second.size, &leaf, &path, &root(&second)).expect("included");
        let mut tampered = path.clone();
        tampered[0][5] ^= 1;
        assert!(verify_inclusion(seq - 1, second.size, &leaf, &tampered, &root(&second)).is_err());
        let mut altered = record.clone();
        altered.org = "ngo-forged".into();
        assert!(
            verify_inclusion(
                seq - 1,
                second.size,
                &record_leaf(&altered),
                &path,
                &root(&second)
            )
            .is_err()
        );
    }
    let proof = auditor
        .consistency_proof(first.size, second.size)
        .await
        .expect("proof");
    let path = hashes(&proof.hashes);
    verify_consistency(
        first.size,
        second.size,
        &root(&first),
        &root(&second),
        &path,
    )
    .expect("the second head extends the first");
    let mut tampered = path.clone();
    let last = tampered.len() - 1;
    tampered[last][0] ^= 1;
    assert!(
        verify_consistency(
            first.size,
            second.size,
            &root(&first),
            &root(&second),
            &tampered
        )
        .is_err()
    );
    // Bad requests name the field.
    let error = auditor.inclusion_proof(0, 0).await.expect_err("seq 0");
    assert!(
        matches!(
            &error,
            ClientError::InvalidArgument { .. } | ClientError::Rpc { .. }
        ) && error.to_string().contains("seq"),
        "{error}"
    );
    // The CLI checks an inclusion proof against the key the auditor holds.
    let key = hub.config.audit_public_key.clone();
    let (ok, output) = tokio::task::block_in_place(|| {
        slt(
            Some(&hub),
            &["audit", "prove", "2", "--key", path_str(&key)],
        )
    });
    assert!(ok && output.contains("OK: record 2"), "{output}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Plays the database administrator: record `from` gets another org, and every record from
/// there is re-chained so the hash chain holds; the heads from `from` and the stored tree are
/// deleted, so nothing in the database contradicts the forgery.
async fn forge_from(hub: &TestHub, from: u64) {
    let store = Store::open(&hub.config.database_url).await.expect("store");
    let records = store
        .audit_records(&Default::default(), 1, 100_000)
        .await
        .expect("records");
    store.close().await;
    let mut prev_hash = String::new();
    let mut statements = Vec::new();
    for mut record in records {
        if record.seq < from {
            prev_hash = record.hash.clone();
            continue;
        }
        if record.seq == from {
            record.org = "ngo-forged".into();
        }
        record.prev_hash = prev_hash.clone();
        record.hash = chain_hash(&prev_hash, &record).expect("hash");
        statements.push(format!(
            "UPDATE audit_log SET org = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            record.org, record.prev_hash, record.hash, record.seq
        ));
        prev_hash = record.hash;
    }
    statements.push(format!("DELETE FROM audit_heads WHERE size >= {from}"));
    statements.push("DELETE FROM audit_tree".into());
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    hub.execute_sql(&statements).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrators_forgery_is_refused_by_the_hub_and_detected_by_the_auditor() {
    let mut hub = TestHub::start().await;
    traffic(&hub).await;
    let dir = tempfile::tempdir().expect("dir");
    let kept = dir.path().join("kept-heads.jsonl");
    let (ok, output) = tokio::task::block_in_place(|| watch(&hub, &kept));
    assert!(ok && output.contains("OK: kept the head"), "{output}");
    traffic(&hub).await;
    let (ok, output) = tokio::task::block_in_place(|| watch(&hub, &kept));
    assert!(ok && output.contains("extends the head"), "{output}");
    hub.stop().await;

    forge_from(&hub, 3).await;
    hub.restart().await;

    // The hub remembers the last head it signed: it refuses to sign over the forgery.
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let refused = auditor
        .tree_head()
        .await
        .expect_err("the hub refuses to sign");
    assert!(
        matches!(
            &refused,
            ClientError::Rpc {
                code: Code::DataLoss,
                ..
            }
        ),
        "{refused}"
    );
    let heads = auditor.tree_heads(0, 1_000).await.expect("heads").heads;
    assert!(
        heads.iter().all(|head| head.size < 3),
        "no head covers the forged records: {heads:?}"
    );
    // The auditor who kept a head detects it, whatever the hub says.
    let (ok, output) =
        tokio::task::block_in_place(|| export_and_verify(&hub, dir.path(), Some(&kept)));
    assert!(!ok, "{output}");
    assert!(output.contains("TRUSTED tree head at size"), "{output}");
    let (ok, output) = tokio::task::block_in_place(|| watch(&hub, &kept));
    assert!(!ok, "{output}");

    // Without the hub's memory (its state file lost), the hub signs the forged log as new and a
    // fresh export verifies on its own, but not against the heads the auditor kept.
    hub.stop().await;
    std::fs::remove_file(slt_hub::audit::checkpoints::state_path(
        &hub.config.audit_signing_key,
    ))
    .expect("the hub kept its last head beside its key");
    hub.restart().await;
    let (ok, output) = tokio::task::block_in_place(|| export_and_verify(&hub, dir.path(), None));
    assert!(ok, "the forged log is self-consistent: {output}");
    let (ok, output) =
        tokio::task::block_in_place(|| export_and_verify(&hub, dir.path(), Some(&kept)));
    assert!(!ok, "{output}");
    assert!(output.contains("TRUSTED tree head at size"), "{output}");
    let (ok, output) = tokio::task::block_in_place(|| watch(&hub, &kept));
    assert!(!ok, "{output}");
    assert!(output.contains("NOT a consistent extension"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_head_row_is_not_taken_as_the_hubs() {
    let mut hub = TestHub::start().await;
    traffic(&hub).await;
    let mut auditor: HubClient = hub.client("audit-office", AUDITOR).await;
    let head = auditor.tree_head().await.expect("head").head.expect("head");
    hub.stop().await;
    // A row claiming a larger tree, with the last real note's signature.
    hub.execute_sql(&[&format!(
        "INSERT INTO audit_heads (size, root_hash, time, note) VALUES ({}, '{}', 't', '{}')",
        head.size + 1000,
        head.root_hash,
        head.note.replace(
            &format!("\n{}\n", head.size),
            &format!("\n{}\n", head.size + 1000)
        )
    )])
    .await;
    hub.restart().await;
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let refused = auditor.tree_head().await.expect_err("refused");
    assert!(
        matches!(
            &refused,
            ClientError::Rpc {
                code: Code::DataLoss,
                ..
            }
        ),
        "{refused}"
    );
}

/// The stored subtrees are derived from the records: a hub whose `audit_tree` table was lost
/// (or pruned) rebuilds it from the records under its last signed head and keeps signing, and
/// the auditor's proofs still verify against the head they kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_tree_table_is_rebuilt_from_the_records_under_the_signed_head() {
    let mut hub = TestHub::start().await;
    traffic(&hub).await;
    let dir = tempfile::tempdir().expect("dir");
    let kept = dir.path().join("kept-heads.jsonl");
    let (ok, output) = tokio::task::block_in_place(|| watch(&hub, &kept));
    assert!(ok && output.contains("OK: kept the head"), "{output}");
    hub.stop().await;
    hub.execute_sql(&["DELETE FROM audit_tree"]).await;
    hub.restart().await;
    traffic(&hub).await;
    let (ok, output) = tokio::task::block_in_place(|| watch(&hub, &kept));
    assert!(ok && output.contains("extends the head"), "{output}");
    let (ok, output) =
        tokio::task::block_in_place(|| export_and_verify(&hub, dir.path(), Some(&kept)));
    assert!(ok, "{output}");
    let key = hub.config.audit_public_key.clone();
    let (ok, output) = tokio::task::block_in_place(|| {
        slt(
            Some(&hub),
            &["audit", "prove", "2", "--key", path_str(&key)],
        )
    });
    assert!(ok && output.contains("OK: record 2"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivered_page_of_a_stream_is_recorded_with_the_ids_it_carried() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let batch: Vec<pb::Incident> = (0..12).map(|_| sample_incident(new_id())).collect();
    alpha.submit(batch.clone()).await.expect("submit");
    let mut beta = hub.client("ngo-beta", &[Role::Analyst]).await;
    let mut stream = beta.pull("", Default::default(), 5).await.expect("pull");
    let mut delivered = Vec::new();
    while let Some(page) = stream.message().await.expect("page") {
        if !page.changes.is_empty() {
            delivered.push(
                page.changes
                    .iter()
                    .map(|change| change.incident_id.clone())
                    .collect::<Vec<_>>(),
            );
        }
        if page.complete {
            break;
        }
    }
    assert_eq!(delivered.len(), 3, "12 changes in pages of 5");
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let records = auditor
        .query_audit(pb::QueryAuditRequest {
            method: "/slt.v1.SyncService/Pull".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("query")
        .records;
    let pages: Vec<Vec<String>> = records
        .iter()
        .filter(|record| record.request_summary.contains("stream_page"))
        .map(|record| record.incident_ids.clone())
        .collect();
    assert_eq!(
        pages, delivered,
        "one record per delivered page, with its ids"
    );
}
