//! Horizontal scale-out on PostgreSQL: several hub replicas on one database. A syncing reader
//! sees every change exactly once while writers hammer both replicas (the commit-ordered feed);
//! Subscribe on one replica hears writes made through another (LISTEN/NOTIFY); the audit chain
//! stays one verifiable line under mixed traffic on two replicas; and killing a real `slt-hub`
//! process mid-traffic loses no acknowledged write while clients retry onto the other replica.
//!
//! PostgreSQL only: these run when `SLT_TEST_POSTGRES_URL` is set (scripts/test.sh sets it for
//! its PostgreSQL pass, after starting a throwaway cluster, and fails if it cannot) and return
//! at once on the SQLite pass, where a second replica is not a supported deployment.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slt_client::{ClientError, HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, slt_binary, submit_stored};

const REPORTER: &[Role] = &[Role::Reporter];
const ANALYST: &[Role] = &[Role::Analyst];
const AUDITOR: &[Role] = &[Role::Auditor];

/// A hub on PostgreSQL, or `None` (with a note) on the SQLite pass.
async fn postgres_hub(test: &str) -> Option<TestHub> {
    if slt_tests::postgres_admin_url().is_none() {
        eprintln!("{test}: runs on the PostgreSQL pass only (SLT_TEST_POSTGRES_URL unset)");
        return None;
    }
    // Without the record rule: these follow single incidents to another org's analyst across
    // replicas, which the rule would withhold (record_rule.rs tests the rule).
    let hub = TestHub::start_with(slt_tests::without_record_rule).await;
    assert!(hub.is_postgres());
    Some(hub)
}

fn community_incident() -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.distribution = pb::Distribution::Community as i32;
    incident
}

/// Pulls from `cursor` to the present; returns the new cursor and the incident ids of every
/// change received, in order.
async fn pull_all(
    client: &mut HubClient,
    cursor: &str,
) -> Result<(String, Vec<String>), ClientError> {
    let mut stream = client.pull(cursor, pb::SyncFilter::default(), 100).await?;
    let mut cursor = cursor.to_string();
    let mut ids = Vec::new();
    while let Some(message) = stream.message().await.map_err(ClientError::from)? {
        ids.extend(message.changes.into_iter().map(|change| change.incident_id));
        cursor = message.cursor;
        if message.complete {
            break;
        }
    }
    Ok((cursor, ids))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_syncing_reader_gets_every_change_exactly_once_from_two_replicas() {
    let Some(hub) = postgres_hub("exactly_once").await else {
        return;
    };
    let replica = hub.start_replica().await;
    let endpoints = [hub.endpoint(), replica.endpoint()];

    const ROUNDS: usize = 4;
    const WRITERS_PER_REPLICA: usize = 3;
    const BATCHES: usize = 25;
    for round in 0..ROUNDS {
        // The reader pulls continuously, alternating replicas, while the writers run.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for endpoint in &endpoints {
            readers.push(hub.client_at(endpoint, "ngo-beta", ANALYST).await);
        }
        let reader_done = done.clone();
        let start_cursor = if round == 0 {
            String::new()
        } else {
            // Each round starts from the present: only this round's writes are counted.
            let mut client = hub.client("ngo-beta", ANALYST).await;
            pull_all(&mut client, "").await.expect("catch up").0
        };
        let reader = tokio::spawn(async move {
            let mut cursor = start_cursor;
            let mut seen: Vec<String> = Vec::new();
            let mut turn = 0;
            loop {
                let finished = reader_done.load(std::sync::atomic::Ordering::SeqCst);
                let client = &mut readers[turn % 2];
                turn += 1;
                let (next, ids) = pull_all(client, &cursor).await.expect("pull");
                cursor = next;
                seen.extend(ids);
                if finished {
                    // One final sync after the writers stopped.
                    let (_, ids) = pull_all(client, &cursor).await.expect("final pull");
                    seen.extend(ids);
                    return seen;
                }
            }
        });

        let mut writers = Vec::new();
        for endpoint in &endpoints {
            for _ in 0..WRITERS_PER_REPLICA {
                let mut client = hub.client_at(endpoint, "ngo-alpha", REPORTER).await;
                writers.push(tokio::spawn(async move {
                    let mut written = Vec::new();
                    for batch in 0..BATCHES {
                        let incidents: Vec<pb::Incident> =
                            (0..1 + batch % 3).map(|_| community_incident()).collect();
                        let results = client.submit(incidents).await.expect("submit");
                        // The feed names them by the hub's ids.
                        written.extend(results.iter().map(|result| result.id.clone()));
                        assert!(
                            results
                                .iter()
                                .all(|result| result.outcome == pb::SubmitOutcome::Created as i32)
                        );
                    }
                    written
                }));
            }
        }
        let mut written: HashSet<String> = HashSet::new();
        for writer in writers {
            written.extend(writer.await.expect("writer"));
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.await.expect("reader");

        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &seen {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let missing: Vec<&String> = written
            .iter()
            .filter(|id| !counts.contains_key(id.as_str()))
            .collect();
        let repeated: Vec<(&&str, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} changes never reached the reader (a skipped seq), e.g. {:?}",
            missing.len(),
            written.len(),
            missing.first()
        );
        assert!(
            repeated.is_empty(),
            "round {round}: delivered twice: {repeated:?}"
        );
        assert_eq!(seen.len(), written.len(), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_on_one_replica_hears_writes_made_through_another() {
    let Some(hub) = postgres_hub("subscribe_across_replicas").await else {
        return;
    };
    // Replica B polls the change log only once an hour: what it hears within the test's
    // patience it heard through NOTIFY.
    let slow_poll = format!("{}?change_poll_ms=3600000", hub.config.database_url);
    let replica = hub.start_replica_on(&slow_poll).await;

    let mut beta = hub
        .client_at(&replica.endpoint(), "ngo-beta", ANALYST)
        .await;
    let mut stream = beta
        .subscribe("", pb::SyncFilter::default(), 300)
        .await
        .expect("subscribe");
    // Wait until B's subscription is live (caught up with the empty log).
    loop {
        let message = stream.message().await.expect("stream").expect("open");
        if message.live {
            break;
        }
    }

    let mut alpha = hub.client("ngo-alpha", REPORTER).await; // replica A
    for _ in 0..3 {
        let mut incident = [community_incident()];
        submit_stored(&mut alpha, &mut incident).await;
        let [incident] = incident;
        let heard = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let message = stream.message().await.expect("stream").expect("open");
                if let Some(change) = message.changes.first() {
                    return change.clone();
                }
            }
        })
        .await
        .expect("replica B's subscriber never heard of replica A's write");
        assert_eq!(heard.incident_id, incident.id);
        assert_eq!(heard.r#type, pb::ChangeType::Upsert as i32);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_verifies_after_mixed_traffic_on_two_replicas() {
    let Some(mut hub) = postgres_hub("audit_chain").await else {
        return;
    };
    let mut replica = hub.start_replica().await;
    let endpoints = [hub.endpoint(), replica.endpoint()];

    let mut tasks = Vec::new();
    for (index, endpoint) in endpoints.iter().cycle().take(6).enumerate() {
        let mut reporter = hub.client_at(endpoint, "ngo-alpha", REPORTER).await;
        let mut analyst = hub.client_at(endpoint, "ngo-beta", ANALYST).await;
        tasks.push(tokio::spawn(async move {
            let mut calls = 0u64;
            for round in 0..15 {
                let mut incident = [community_incident()];
                submit_stored(&mut reporter, &mut incident).await;
                let [incident] = incident;
                analyst.get(&incident.id).await.expect("read");
                // A refused call is audited too.
                analyst
                    .submit(vec![community_incident()])
                    .await
                    .expect_err("analysts may not write");
                if (round + index) % 5 == 0 {
                    let mut amended = incident.clone();
                    amended.narrative = "Amended after review.".into();
                    reporter.amend(amended, 1).await.expect("amend");
                    calls += 1;
                }
                calls += 3;
            }
            calls
        }));
    }
    let mut calls = 0;
    for task in tasks {
        calls += task.await.expect("traffic");
    }
    replica.stop().await; // each replica signs a checkpoint at shutdown
    hub.stop().await;
    hub.restart().await;

    let mut auditor = hub.client("audit-office", AUDITOR).await;
    let records = auditor
        .query_audit(pb::QueryAuditRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("query")
        .records;
    assert!(
        records.len() as u64 >= calls,
        "{} records for {calls} calls",
        records.len()
    );
    let dir = tempfile::tempdir().expect("dir");
    let (ok, output) = tokio::task::block_in_place(|| export_and_verify(&hub, dir.path()));
    assert!(ok, "the chain does not verify: {output}");
    assert!(output.contains("OK:"), "{output}");
}

/// The write and audit locks order writes only if every statement after the lock sees what
/// committed before it was granted (READ COMMITTED). A database whose default isolation is
/// REPEATABLE READ (set by a DBA, or on the URL as here) must not change that: concurrent
/// resubmits of one batch through two replicas stay one CREATED and the rest UNCHANGED, and the
/// audit chain still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stay_ordered_when_the_database_defaults_to_repeatable_read() {
    let Some(mut hub) = postgres_hub("repeatable_read").await else {
        return;
    };
    let base = hub.config.database_url.clone();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[default_transaction_isolation]=repeatable%20read");
    let mut first = hub.start_replica_on(&url).await;
    let mut second = hub.start_replica_on(&url).await;
    let endpoints = [first.endpoint(), second.endpoint()];

    let batch: Vec<pb::Incident> = (0..20).map(|_| community_incident()).collect();
    let mut tasks = Vec::new();
    for endpoint in endpoints.iter().cycle().take(8) {
        let mut client = hub.client_at(endpoint, "ngo-alpha", REPORTER).await;
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move { client.submit(batch).await }));
    }
    let mut created = 0;
    for task in tasks {
        let results = task
            .await
            .expect("task")
            .expect("a resubmit of the same batch succeeds");
        for result in &results {
            if result.outcome == pb::SubmitOutcome::Created as i32 {
                created += 1;
            } else {
                assert_eq!(result.outcome, pb::SubmitOutcome::Unchanged as i32);
            }
        }
    }
    assert_eq!(created, batch.len(), "each incident created exactly once");

    first.stop().await;
    second.stop().await;
    hub.stop().await;
    hub.restart().await;
    let dir = tempfile::tempdir().expect("dir");
    let (ok, output) = tokio::task::block_in_place(|| export_and_verify(&hub, dir.path()));
    assert!(ok, "the chain does not verify: {output}");
}

/// `statement_timeout` on the URL reaches the pooled connections, and the write-lock wait counts
/// toward it: a write queued behind a lock that another session never releases fails after the
/// timeout instead of hanging the call, and writes go through again once the lock is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_timeout_on_the_url_bounds_a_write_lock_wait() {
    use sqlx::Connection;
    let Some(hub) = postgres_hub("statement_timeout").await else {
        return;
    };
    let base = hub.config.database_url.clone();
    let separator = if base.contains('?') { '&' } else { '?' };
    let replica = hub
        .start_replica_on(&format!("{base}{separator}statement_timeout=1s"))
        .await;
    let mut client = hub
        .client_at(&replica.endpoint(), "ngo-alpha", REPORTER)
        .await;

    // Another session holds the hub's write lock (server/src/store/postgres.rs, WRITE_LOCK).
    let mut holder = sqlx::PgConnection::connect(&base).await.expect("connect");
    sqlx::raw_sql("BEGIN")
        .execute(&mut holder)
        .await
        .expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(0x534c_5400_0000_0001_i64)
        .execute(&mut holder)
        .await
        .expect("lock");
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        client.submit(vec![community_incident()]),
    )
    .await
    .expect("the write waited past the statement timeout");
    assert!(result.is_err(), "the write went through the held lock");
    assert!(started.elapsed() < Duration::from_secs(10));

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("rollback");
    let results = client
        .submit(vec![community_incident()])
        .await
        .expect("submit after the lock is free");
    assert_eq!(results[0].outcome, pb::SubmitOutcome::Created as i32);
}

/// Exports the log with `slt audit export` and verifies it offline with `slt audit verify`.
fn export_and_verify(hub: &TestHub, dir: &Path) -> (bool, String) {
    let file = dir.join("audit.jsonl");
    let exported = Command::new(slt_binary())
        .arg("--profile")
        .arg(hub.profile_path("audit-office", AUDITOR))
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

/// A real `slt-hub serve` process on the test hub's configuration and database.
struct HubProcess {
    child: Child,
    endpoint: String,
}

impl HubProcess {
    fn start(hub: &TestHub, name: &str) -> HubProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut config = hub.config.clone();
        config.listen = format!("127.0.0.1:{port}").parse().expect("addr");
        let path = hub.dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, toml::to_string(&config).expect("config")).expect("write");
        let child = Command::new(slt_tests::slt_hub_binary())
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .env_remove("SLT_HUB_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start slt-hub");
        HubProcess {
            child,
            endpoint: format!("https://127.0.0.1:{port}"),
        }
    }

    /// SIGKILL: no shutdown, no goodbye.
    fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to the first endpoint that answers, starting at `first`; waits for processes that
/// are still starting.
async fn connect_any(hub: &TestHub, endpoints: &[String], first: usize) -> (usize, HubClient) {
    for attempt in 0..600 {
        let index = (first + attempt) % endpoints.len();
        let profile = hub.profile_at(&endpoints[index], "ngo-alpha", REPORTER);
        if let Ok(client) = HubClient::connect(&profile).await {
            return (index, client);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no replica answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_replica_mid_traffic_loses_no_acknowledged_write() {
    let Some(hub) = postgres_hub("kill_a_replica").await else {
        return;
    };
    let mut doomed = HubProcess::start(&hub, "replica-a");
    let survivor = HubProcess::start(&hub, "replica-b");
    let endpoints = vec![doomed.endpoint.clone(), survivor.endpoint.clone()];

    const WRITERS: usize = 4;
    const BATCHES: usize = 40;
    let (progress_sender, mut progress) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (mut at, mut client) = connect_any(&hub, &endpoints, writer % 2).await;
        let endpoints = endpoints.clone();
        let progress = progress_sender.clone();
        let profiles: Vec<_> = endpoints
            .iter()
            .map(|endpoint| hub.profile_at(endpoint, "ngo-alpha", REPORTER))
            .collect();
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut retries = 0;
            for _ in 0..BATCHES {
                let batch: Vec<pb::Incident> = (0..3).map(|_| community_incident()).collect();
                // The client's retry policy: on a transient failure, the same batch again
                // (submits are idempotent by id) on the other replica.
                loop {
                    match client.submit(batch.clone()).await {
                        Ok(results) => {
                            for result in results {
                                assert!(
                                    result.outcome == pb::SubmitOutcome::Created as i32
                                        || result.outcome == pb::SubmitOutcome::Unchanged as i32,
                                    "{result:?}"
                                );
                                acknowledged.push(result.id);
                            }
                            break;
                        }
                        Err(error) if error.is_transient() => {
                            retries += 1;
                            assert!(retries < 200, "retrying forever: {error}");
                            at = (at + 1) % endpoints.len();
                            match HubClient::connect(&profiles[at]).await {
                                Ok(next) => client = next,
                                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                            }
                        }
                        Err(error) => panic!("submit failed for good: {error}"),
                    }
                }
                let _ = progress.send(());
            }
            acknowledged
        }));
    }
    drop(progress_sender);

    // Let traffic flow on both replicas, then kill one mid-stream.
    for _ in 0..(WRITERS * BATCHES / 4) {
        progress.recv().await.expect("progress");
    }
    doomed.kill();

    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert_eq!(acknowledged.len(), WRITERS * BATCHES * 3);

    // Every acknowledged write is there, exactly once, read through the survivor.
    let (_, mut reader) = connect_any(&hub, std::slice::from_ref(&survivor.endpoint), 0).await;
    let stored = reader
        .list_all(pb::IncidentFilter::default())
        .await
        .expect("list");
    let stored: HashSet<String> = stored.into_iter().map(|incident| incident.id).collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(stored.len(), acknowledged.len());
}
