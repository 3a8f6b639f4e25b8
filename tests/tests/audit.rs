//! The access log end to end: one record per RPC (driven from the capability table), one linear
//! chain under concurrency, tamper detection by the offline verifier on a real database file,
//! no incident content in records, denied auditors audited, and fail-closed when the log cannot
//! be written.

use std::path::Path;
use std::process::Command;

use futures::future::join_all;
use slt_client::{ClientError, HubClient, proto as pb};
use slt_hub::api::capabilities::METHOD_CAPABILITIES;
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, slt_binary};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const AUDITOR: &[Role] = &[Role::Auditor];

async fn export(client: &mut HubClient) -> (Vec<pb::AuditRecord>, Vec<pb::TreeHead>) {
    let mut stream = client.export_audit(1).await.expect("export");
    let (mut records, mut heads) = (Vec::new(), Vec::new());
    while let Some(page) = stream.message().await.expect("page") {
        records.extend(page.records);
        heads.extend(page.heads);
    }
    (records, heads)
}

/// The offline verifier over an export in memory: each head right after the record it covers.
fn verify_export(
    records: &[pb::AuditRecord],
    heads: &[pb::TreeHead],
    key: &[u8],
) -> Result<slt_proto::audit_chain::Verified, slt_proto::audit_chain::ChainError> {
    let mut verifier = slt_proto::audit_verify::LogVerifier::new(key);
    let mut heads = heads.iter().peekable();
    for record in records {
        verifier.record(record)?;
        while let Some(head) = heads.next_if(|head| head.size <= record.seq) {
            verifier.head(&head.note)?;
        }
    }
    for head in heads {
        verifier.head(&head.note)?;
    }
    verifier.finish()
}

async fn public_key(client: &mut HubClient) -> Vec<u8> {
    let pem = client
        .checkpoints()
        .await
        .expect("checkpoints")
        .public_key_pem;
    let parsed = pem::parse(pem).expect("pem");
    parsed.contents()[12..].to_vec()
}

/// Some ordinary traffic: writes and reads by two orgs.
async fn traffic(hub: &TestHub) {
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    // Three alike, so that the record rule lets another org's analyst read them.
    let incidents = slt_tests::sample_class(3);
    let submitted = alpha.submit(incidents.clone()).await.expect("submit");
    alpha.get(&incidents[0].id).await.expect("get");
    let mut beta = hub.client("ngo-beta", &[Role::Analyst]).await;
    beta.list(Default::default(), 10, String::new())
        .await
        .expect("list");
    beta.get(&submitted[0].id).await.expect("get");
}

/// A raw channel with a certificate, for calls the SDK would not make.
async fn channel(hub: &TestHub, org: &str) -> Channel {
    let cert = hub.org_cert(org);
    let ca = std::fs::read_to_string(hub.ca_path()).expect("ca");
    Channel::from_shared(hub.endpoint())
        .expect("endpoint")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .identity(Identity::from_pem(cert.cert_pem, cert.key_pem)),
        )
        .expect("tls")
        .connect()
        .await
        .expect("connect")
}

fn with_token<T>(mut request: tonic::Request<T>, token: Option<&str>) -> tonic::Request<T> {
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    request
}

/// Calls `path` with an empty message, as unary, server-streaming or bidi as the method is;
/// returns the status code the call started with.
async fn call_any(channel: Channel, path: &str, token: Option<&str>) -> Code {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path: http::uri::PathAndQuery = path.parse().expect("path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let streaming = path.path().ends_with("/Pull")
        || path.path().ends_with("/Subscribe")
        || path.path().ends_with("/ExportAudit")
        || path.path().ends_with("/Watch");
    let bidi = path.path().ends_with("/ServerReflectionInfo");
    let result = if bidi {
        grpc.streaming(
            with_token(tonic::Request::new(futures::stream::empty::<()>()), token),
            path,
            codec,
        )
        .await
        .map(|_| ())
    } else if streaming {
        grpc.server_streaming(with_token(tonic::Request::new(()), token), path, codec)
            .await
            .map(|_| ())
    } else {
        grpc.unary(with_token(tonic::Request::new(()), token), path, codec)
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn every_rpc_produces_exactly_one_audit_record_allowed_or_denied() {
    let hub = TestHub::start().await;
    let analyst = hub.token("ngo-beta", &[Role::Analyst]);
    let mut seen = Vec::new();
    for (method, _) in METHOD_CAPABILITIES {
        let with_token = call_any(channel(&hub, "ngo-beta").await, method, Some(&analyst)).await;
        let without = call_any(channel(&hub, "ngo-beta").await, method, None).await;
        seen.push((*method, with_token, without));
    }
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let (records, _) = export(&mut auditor).await;
    for (method, with_token, without) in &seen {
        let mut outcomes: Vec<&str> = records
            .iter()
            .filter(|record| record.method == *method)
            .map(|record| record.outcome.as_str())
            .collect();
        if *method == "/grpc.health.v1.Health/Check" {
            // The auditor's own connect-time health check is recorded too.
            assert_eq!(outcomes.pop(), Some("OK"), "{method}");
        }
        if method.ends_with("/ExportAudit") && outcomes.len() == 3 {
            // The auditor's own export, when its record landed before the export's first page.
            assert_eq!(outcomes.pop(), Some("OK"), "{method}");
        }
        let expected = [
            slt_hub::api::guard::code_name(*with_token),
            slt_hub::api::guard::code_name(*without),
        ];
        assert_eq!(
            outcomes, expected,
            "{method}: one record per call, with its outcome"
        );
    }
    // The analyst was refused the audit API, and that refusal is on record.
    assert!(
        records
            .iter()
            .any(|r| r.method == "/slt.v1.AuditService/QueryAudit"
                && r.outcome == "PERMISSION_DENIED"
                && r.org == "ngo-beta")
    );
}

#[tokio::test]
async fn a_non_auditor_is_denied_and_the_denial_is_audited() {
    let hub = TestHub::start().await;
    let mut focal = hub.client("undss", &[Role::FocalPoint]).await;
    let error = focal
        .query_audit(Default::default())
        .await
        .expect_err("denied");
    assert!(matches!(error, ClientError::PermissionDenied(_)), "{error}");
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let found = auditor
        .query_audit(pb::QueryAuditRequest {
            method: "/slt.v1.AuditService/QueryAudit".into(),
            outcome: "PERMISSION_DENIED".into(),
            ..Default::default()
        })
        .await
        .expect("query");
    assert_eq!(found.records.len(), 1);
    assert_eq!(found.records[0].org, "undss");
    assert_eq!(found.records[0].subject, "tester@undss");
}

#[tokio::test]
async fn concurrent_calls_make_one_linear_chain() {
    let mut hub = TestHub::start().await;
    let mut clients = Vec::new();
    for org in ["ngo-alpha", "ngo-beta", "unhcr"] {
        clients.push(hub.client(org, &[Role::Reporter]).await);
    }
    let calls = clients.iter().flat_map(|client| {
        (0..20).map(move |index| {
            let mut client = client.clone();
            async move {
                if index % 4 == 0 {
                    client
                        .submit(vec![sample_incident(new_id())])
                        .await
                        .map(|_| ())
                } else {
                    client
                        .list(Default::default(), 5, String::new())
                        .await
                        .map(|_| ())
                }
            }
        })
    });
    let results = join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    hub.restart().await; // the shutdown signs a checkpoint over everything
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let (records, heads) = export(&mut auditor).await;
    let seqs: Vec<u64> = records.iter().map(|record| record.seq).collect();
    assert_eq!(
        seqs,
        (1..=records.len() as u64).collect::<Vec<_>>(),
        "no gaps"
    );
    assert!(
        records.len() >= 63,
        "60 calls + the connect-time health checks"
    );
    let key = public_key(&mut auditor).await;
    let verified = verify_export(&records, &heads, &key).expect("one chain");
    assert!(verified.signed_up_to >= 60);
}

#[tokio::test]
async fn no_incident_content_reaches_the_audit_log() {
    let hub = TestHub::start().await;
    traffic(&hub).await;
    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let (records, _) = export(&mut auditor).await;
    let text = format!("{records:?}");
    let sample = sample_incident(new_id());
    for marker in [
        sample.narrative.as_str(),
        "CANARY",
        "Unidentified armed group",
        "Bor South",
        "Jonglei",
    ] {
        assert!(!text.contains(marker), "{marker} leaked into the audit log");
    }
    // What it does hold: who, what, which ids, how many.
    let get = records
        .iter()
        .find(|r| r.method.ends_with("/GetIncident") && r.org == "ngo-beta")
        .expect("a get by ngo-beta");
    assert_eq!(get.records_returned, 1);
    assert!(get.fields_redacted > 0);
    assert_eq!(get.incident_ids.len(), 1);
}

#[tokio::test]
async fn when_the_log_cannot_be_written_calls_fail_closed() {
    let hub = TestHub::start().await;
    let mut alpha = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let existing = sample_incident(new_id());
    alpha.submit(vec![existing.clone()]).await.expect("submit");

    if hub.is_postgres() {
        hub.execute_sql(&[
            "CREATE FUNCTION audit_read_only() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the access log is read-only'; END $$",
            "CREATE TRIGGER audit_read_only BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION audit_read_only()",
        ])
        .await;
    } else {
        hub.execute_sql(
            &["CREATE TRIGGER audit_read_only BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'the access log is read-only'); END"],
        )
        .await;
    }

    let read = alpha.get(&existing.id).await.expect_err("read must fail");
    assert!(
        matches!(
            read,
            ClientError::Rpc {
                code: Code::Unavailable,
                ..
            }
        ),
        "{read}"
    );
    let fresh = sample_incident(new_id());
    let write = alpha
        .submit(vec![fresh.clone()])
        .await
        .expect_err("write must fail");
    assert!(
        matches!(
            write,
            ClientError::Rpc {
                code: Code::Unavailable,
                ..
            }
        ),
        "{write}"
    );

    if hub.is_postgres() {
        hub.execute_sql(&["DROP TRIGGER audit_read_only ON audit_log"])
            .await;
    } else {
        hub.execute_sql(&["DROP TRIGGER audit_read_only"]).await;
    }
    let missing = alpha
        .get(&fresh.id)
        .await
        .expect_err("the failed write left nothing");
    assert!(matches!(missing, ClientError::NotFound(_)), "{missing}");
}

/// Runs `slt` with the auditor's profile to export, then verifies offline; returns the verify
/// run's success and its output.
fn export_and_verify(hub: &TestHub, dir: &Path) -> (bool, String) {
    let file = dir.join("audit.jsonl");
    let profile = hub.profile_path("audit-office", AUDITOR);
    let exported = Command::new(slt_binary())
        .arg("--profile")
        .arg(&profile)
        .args(["audit", "export", "--out"])
        .arg(&file)
        .output()
        .expect("export");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let verified = Command::new(slt_binary())
        .args(["audit", "verify"])
        .arg(&file)
        .arg("--key")
        .arg(&hub.config.audit_public_key)
        .output()
        .expect("verify");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    (verified.status.success(), output)
}

async fn tamper(hub: &TestHub, statements: &[&str]) {
    hub.execute_sql(statements).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_verifier_names_the_first_tampered_record() {
    let cases: [(&str, &[&str], &str); 7] = [
        ("untouched", &[], "OK:"),
        (
            "one byte changed",
            &["UPDATE audit_log SET outcome = 'OK ' WHERE seq = 3"],
            "record 3: its hash does not match",
        ),
        (
            "a record deleted",
            &["DELETE FROM audit_log WHERE seq = 4"],
            "record 5: expected seq 4",
        ),
        (
            "two records swapped",
            &[
                "UPDATE audit_log SET seq = -3 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = -3",
            ],
            "record 3: prev_hash does not match",
        ),
        (
            "a forged record inserted",
            &[
                "UPDATE audit_log SET seq = seq + 100000 WHERE seq > 3",
                "UPDATE audit_log SET seq = seq - 99999 WHERE seq > 100000",
                "INSERT INTO audit_log SELECT 4, time, hub_id, 'ngo-forged', subject, roles, \
                 cert_sha256, peer_address, method, request_summary, outcome, records_returned, \
                 fields_redacted, policy_version, incident_ids, hash, hash FROM audit_log WHERE seq = 3",
            ],
            "record 4: its hash does not match",
        ),
        (
            "the oldest records deleted",
            &["DELETE FROM audit_log WHERE seq < 3"],
            "does not start at record 1",
        ),
        (
            // The restarted hub appends records of its own (the export's) where the tail was:
            // depending on how many it wrote before the export read the log, the verifier sees
            // the export end before the head, or other records under it. Either names the head.
            "the tail after a checkpoint truncated",
            &["DELETE FROM audit_log WHERE seq > (SELECT max(size) FROM audit_heads) - 3"],
            "checkpoint at|signed tree head at size",
        ),
    ];
    for (case, statements, expected) in cases {
        let mut hub = TestHub::start().await;
        traffic(&hub).await;
        hub.stop().await; // signs a checkpoint over the traffic
        tamper(&hub, statements).await;
        hub.restart().await;
        let dir = tempfile::tempdir().expect("dir");
        let (ok, output) = tokio::task::block_in_place(|| export_and_verify(&hub, dir.path()));
        assert_eq!(ok, statements.is_empty(), "{case}: {output}");
        assert!(
            expected.split('|').any(|one| output.contains(one)),
            "{case}: expected '{expected}' in: {output}"
        );
    }
}
