//! The cost of the access log (issue 16), each measurement beside its floor in the same run:
//!
//! - `audit`: audited GetIncident end to end over mTLS against a real hub process, beside a bare
//!   tonic server (its own process too) over the same TLS stack and certificates, at 1, 16 and
//!   64 calls in flight; then the in-process read path (store read + redaction) with and without
//!   the append through the group-commit writer, at 1 and 64 concurrent tasks.
//! - `audit-export`: a log of N records exported (`slt audit export`) and verified (`slt audit
//!   verify`), with the peak memory of the hub and of each `slt` process; beside a raw SELECT of
//!   the same rows and a SHA-256 of the export file.

use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use prost::Message;
use slt_client::{HubClient, Profile, proto as pb};
use slt_hub::audit::AuditEntry;
use slt_hub::audit::writer::AuditWriter;
use slt_hub::config::HubConfig;
use slt_hub::store::Store;
use slt_proto::v1::incident_service_server::{IncidentService, IncidentServiceServer};
use tonic::{Request, Response, Status};

use crate::{HubProcess, connect, free_port, peak_mib_of, percentile};

/// Calls in flight for the end-to-end comparison (the issue's 1, 16 and 64).
const IN_FLIGHT: [usize; 3] = [1, 16, 64];
/// Concurrent tasks for the in-process read path: one caller, and a busy hub.
const TASKS: [usize; 2] = [1, 64];
/// Linux reports process CPU times in these units (USER_HZ, fixed at 100 for user space).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// One call of a measurement (each worker owns its client clone or store handle).
type CallFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type Worker = Box<dyn FnMut() -> CallFuture + Send>;

/// What one measurement gives.
#[derive(Clone, Copy)]
struct Measured {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of the server process per call (end to end only).
    server_cpu_us: Option<f64>,
    /// CPU time of this process (the client side) per call.
    client_cpu_us: f64,
}

/// Runs `total` calls spread over the workers (one task each, one call in flight per task).
async fn drive(workers: Vec<Worker>, total: usize) -> anyhow::Result<(f64, Vec<Duration>)> {
    let issued = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers.len());
    for mut worker in workers {
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while issued.fetch_add(1, Ordering::Relaxed) < total {
                let call = Instant::now();
                worker().await?;
                times.push(call.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::with_capacity(total);
    for task in tasks {
        times.extend(task.await??);
    }
    let rate = times.len() as f64 / started.elapsed().as_secs_f64();
    times.sort();
    Ok((rate, times))
}

/// `drive`, with the latency percentiles and the server's CPU per call when `server` is given.
async fn measure(
    workers: Vec<Worker>,
    total: usize,
    server: Option<u32>,
) -> anyhow::Result<Measured> {
    let cpu_before = server.map(cpu_seconds).transpose()?;
    let client_before = cpu_seconds(std::process::id())?;
    let (rate, times) = drive(workers, total).await?;
    let client_cpu_us =
        (cpu_seconds(std::process::id())? - client_before) / times.len() as f64 * 1e6;
    let server_cpu_us = match (server, cpu_before) {
        (Some(pid), Some(before)) => Some((cpu_seconds(pid)? - before) / times.len() as f64 * 1e6),
        _ => None,
    };
    Ok(Measured {
        rate,
        p50: percentile(&times, 0.50),
        p99: percentile(&times, 0.99),
        server_cpu_us,
        client_cpu_us,
    })
}

/// The run with the median rate (rounds alternate between the sides, so a burst of load from
/// elsewhere on the shared machine hits both alike).
fn median(mut runs: Vec<Measured>) -> anyhow::Result<Measured> {
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    runs.get(runs.len() / 2).copied().context("no runs")
}

/// User + system CPU seconds a process has used so far (/proc/PID/stat fields 14 and 15).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    let rest = stat.rsplit_once(')').context("unexpected /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("short /proc stat")?
            .parse::<f64>()?)
    };
    // After ')' field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    Ok((ticks(11)? + ticks(12)?) / CLOCK_TICKS_PER_SECOND)
}

/// Resets a process's peak RSS (VmHWM) to its current RSS, so that the next reading is the
/// peak of what came after.
fn reset_peak(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting the peak RSS of process {pid}"))
}

/// A child process of this binary (the bare server), killed when dropped.
struct ChildProcess(Child);

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A binary built beside this one (`slt-hub`, `slt`).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?
        .parent()
        .context("bench binary has no directory")?
        .join(name);
    if !path.is_file() {
        bail!(
            "{} not found: cargo build --release -p slt-bench -p slt-hub -p slt-client",
            path.display()
        );
    }
    Ok(path)
}

/// `n` separate HTTP/2 connections for `profile` (a `HubClient`'s clones share one).
async fn connections(profile: &Profile, n: usize) -> anyhow::Result<Vec<HubClient>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(HubClient::connect(profile).await?);
    }
    Ok(clients)
}

/// GetIncident workers: `in_flight` tasks over the connections, round robin.
fn get_workers(clients: &[HubClient], in_flight: usize, id: &str) -> Vec<Worker> {
    (0..in_flight)
        .map(|index| {
            let client = clients[index % clients.len()].clone();
            let id = id.to_string();
            Box::new(move || -> CallFuture {
                let mut client = client.clone();
                let id = id.clone();
                Box::pin(async move {
                    client.get(&id).await?;
                    Ok(())
                })
            }) as Worker
        })
        .collect()
}

pub async fn audit_scenario(
    calls: usize,
    connections_max: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("slt-data");
    let port = free_port()?;
    let hub = HubProcess::start(&data, port)?;
    let mut reporter = connect(&data.join("profiles/ngo-alpha.reporter.toml")).await?;
    let mut incident = {
        let example = std::fs::read_to_string(data.join("examples/incident.json"))?;
        slt_client::json::incidents_from_json(&example)?.remove(0)
    };
    let results = reporter.submit(vec![incident.clone()]).await?;
    // Other orgs (and the store) name it by the hub's id.
    incident.id = results.first().context("no submit result")?.id.clone();
    let analyst_path = data.join("profiles/ngo-beta.analyst.toml");
    let mut analyst = connect(&analyst_path).await?;
    // The bare server answers exactly what the hub sends this analyst (redacted to T1).
    let answer = analyst.get(&incident.id).await?;
    let config = HubConfig::load(&data.join("hub.toml"))?;
    let policy = slt_hub::load_policy(&config)?;
    let answer_file = dir.path().join("incident.pb");
    std::fs::write(&answer_file, answer.encode_to_vec())?;

    let bare_port = free_port()?;
    let _bare = ChildProcess(
        Command::new(std::env::current_exe()?)
            .arg("bare-server")
            .arg("--data")
            .arg(&data)
            .args(["--port", &bare_port.to_string()])
            .arg("--incident")
            .arg(&answer_file)
            .args(["--policy-version", policy.version()])
            .stdout(Stdio::null())
            .spawn()
            .context("starting the bare server")?,
    );
    let bare_pid = _bare.0.id();
    // The same SDK, certificate and token against the bare server (it ignores the token).
    let mut bare_profile = Profile::load(&analyst_path)?;
    bare_profile.endpoint = format!("https://127.0.0.1:{bare_port}");
    let mut bare_check = None;
    for _ in 0..100 {
        if let Ok(client) = HubClient::connect(&bare_profile).await {
            bare_check = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut bare_check = bare_check.context("the bare server did not start")?;
    if bare_check.get(&incident.id).await?.encoded_len() != answer.encoded_len() {
        bail!("the bare server's answer differs in size from the hub's");
    }
    let hub_profile = Profile::load(&analyst_path)?;

    println!(
        "GetIncident end to end over mTLS: {calls} calls per measurement, the median of {rounds} \
         rounds, bare and audited alternating; incident of {} bytes",
        answer.encoded_len()
    );
    let mut end_to_end = Vec::new();
    for in_flight in IN_FLIGHT {
        let conns = in_flight.min(connections_max).max(1);
        let bare_clients = connections(&bare_profile, conns).await?;
        let hub_clients = connections(&hub_profile, conns).await?;
        // Warm both (connections, caches, the allocator) before timing.
        measure(
            get_workers(&bare_clients, in_flight, &incident.id),
            calls / 10,
            None,
        )
        .await?;
        measure(
            get_workers(&hub_clients, in_flight, &incident.id),
            calls / 10,
            None,
        )
        .await?;
        let (mut bare_runs, mut hub_runs) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            bare_runs.push(
                measure(
                    get_workers(&bare_clients, in_flight, &incident.id),
                    calls,
                    Some(bare_pid),
                )
                .await?,
            );
            hub_runs.push(
                measure(
                    get_workers(&hub_clients, in_flight, &incident.id),
                    calls,
                    Some(hub.pid()),
                )
                .await?,
            );
        }
        let (bare, audited) = (median(bare_runs)?, median(hub_runs)?);
        print_pair(in_flight, conns, &bare, &audited);
        end_to_end.push((in_flight, conns, bare, audited));
    }
    println!(
        "peak RSS: hub {:.1} MiB, bare server {:.1} MiB",
        hub.peak_mib()?,
        peak_mib_of(bare_pid)?
    );
    drop(_bare);
    hub.stop();

    in_process(&config, &policy, &incident.id, calls, rounds).await?;

    println!();
    println!(
        "| in flight | connections | bare tonic | audited hub | ratio | p50 bare / audited | p99 bare / audited | server CPU per call bare / audited | client CPU per call bare / audited |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (in_flight, conns, bare, audited) in &end_to_end {
        println!(
            "| {in_flight} | {conns} | {:.0} /s | {:.0} /s | {:.2}x | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.0} / {:.0} µs | {:.0} / {:.0} µs |",
            bare.rate,
            audited.rate,
            audited.rate / bare.rate,
            bare.p50.as_secs_f64() * 1e3,
            audited.p50.as_secs_f64() * 1e3,
            bare.p99.as_secs_f64() * 1e3,
            audited.p99.as_secs_f64() * 1e3,
            bare.server_cpu_us.unwrap_or_default(),
            audited.server_cpu_us.unwrap_or_default(),
            bare.client_cpu_us,
            audited.client_cpu_us,
        );
    }
    Ok(())
}

fn print_pair(in_flight: usize, conns: usize, bare: &Measured, audited: &Measured) {
    println!(
        "{in_flight:>3} in flight over {conns} connection(s): bare {:.0}/s (p50 {:.2} ms, p99 {:.2} ms, \
         server CPU {:.0} us/call), audited {:.0}/s (p50 {:.2} ms, p99 {:.2} ms, server CPU {:.0} \
         us/call): {:.2}x",
        bare.rate,
        bare.p50.as_secs_f64() * 1e3,
        bare.p99.as_secs_f64() * 1e3,
        bare.server_cpu_us.unwrap_or_default(),
        audited.rate,
        audited.p50.as_secs_f64() * 1e3,
        audited.p99.as_secs_f64() * 1e3,
        audited.server_cpu_us.unwrap_or_default(),
        audited.rate / bare.rate
    );
}

/// The read path in-process on the hub's database (the hub stopped): store read + redaction,
/// without and with the append through the group-commit writer, and (for reference) with one
/// transaction per record as before group commit.
async fn in_process(
    config: &HubConfig,
    policy: &slt_hub::policy::PolicyEngine,
    incident_id: &str,
    calls: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    let id = uuid::Uuid::parse_str(incident_id)?;
    let principal = slt_hub::identity::Principal {
        org: "ngo-beta".into(),
        kind: slt_hub::identity::PeerKind::Org,
        subject: "bench".into(),
        roles: [slt_hub::identity::Role::Analyst].into_iter().collect(),
        cert_sha256: String::new(),
        expires_at: u64::MAX,
        federation: None,
    };
    let entry = AuditEntry {
        hub_id: config.hub_id.clone(),
        org: "ngo-beta".into(),
        subject: "bench".into(),
        roles: vec!["analyst".into()],
        method: "/slt.v1.IncidentService/GetIncident".into(),
        request_summary: "{}".into(),
        outcome: "OK".into(),
        records_returned: 1,
        policy_version: policy.version().to_string(),
        incident_ids: vec![incident_id.to_string()],
        ..AuditEntry::default()
    };
    let policy = Arc::new(policy.clone());
    let writer = AuditWriter::start(store.clone());

    #[derive(Clone, Copy, PartialEq)]
    enum Append {
        None,
        GroupCommit,
        Direct,
    }
    let workers = |tasks: usize, append: Append| -> Vec<Worker> {
        (0..tasks)
            .map(|_| {
                let (store, policy, principal, entry, writer) = (
                    store.clone(),
                    policy.clone(),
                    principal.clone(),
                    entry.clone(),
                    writer.clone(),
                );
                Box::new(move || -> CallFuture {
                    let (store, policy, principal, mut entry, writer) = (
                        store.clone(),
                        policy.clone(),
                        principal.clone(),
                        entry.clone(),
                        writer.clone(),
                    );
                    Box::pin(async move {
                        let stored = store.get(id).await?.context("incident")?;
                        let redacted = policy.redact(stored, &principal).context("visible")?;
                        entry.time = slt_hub::audit::now_text();
                        entry.fields_redacted = redacted.redactions.len() as u64;
                        match append {
                            Append::None => {}
                            Append::GroupCommit => {
                                writer.record(entry).await?;
                            }
                            Append::Direct => {
                                store.record_audit(&entry).await?;
                            }
                        }
                        Ok(())
                    })
                }) as Worker
            })
            .collect()
    };

    println!();
    println!(
        "read path in-process (store read + redaction), {calls} reads per measurement, median of {rounds}:"
    );
    let mut rows = Vec::new();
    for tasks in TASKS {
        measure(workers(tasks, Append::None), calls / 10, None).await?;
        measure(workers(tasks, Append::GroupCommit), calls / 10, None).await?;
        let (mut without, mut with) = (Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            without.push(measure(workers(tasks, Append::None), calls, None).await?);
            with.push(measure(workers(tasks, Append::GroupCommit), calls, None).await?);
        }
        let (without, with) = (median(without)?, median(with)?);
        // One round is enough to show what one transaction per record costs.
        let direct = measure(workers(tasks, Append::Direct), calls, None).await?;
        println!(
            "{tasks:>3} tasks: without {:.0}/s, with group commit {:.0}/s ({:.2}x, p50 {:.2} ms), \
             one transaction per record {:.0}/s ({:.2}x)",
            without.rate,
            with.rate,
            with.rate / without.rate,
            with.p50.as_secs_f64() * 1e3,
            direct.rate,
            direct.rate / without.rate
        );
        rows.push((tasks, without, with, direct));
    }
    drop(writer);
    store.close().await;
    println!();
    println!(
        "| tasks | without the append | with (group commit) | ratio | p50 without / with | one transaction per record (before) | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (tasks, without, with, direct) in rows {
        println!(
            "| {tasks} | {:.0} /s | {:.0} /s | {:.2}x | {:.3} / {:.3} ms | {:.0} /s | {:.2}x |",
            without.rate,
            with.rate,
            with.rate / without.rate,
            without.p50.as_secs_f64() * 1e3,
            with.p50.as_secs_f64() * 1e3,
            direct.rate,
            direct.rate / without.rate
        );
    }
    Ok(())
}

/// GetIncident answering one fixed incident; every other method unimplemented. No guard,
/// store, policy or audit: what tonic and the TLS stack cost alone.
struct Bare {
    response: pb::GetIncidentResponse,
}

#[tonic::async_trait]
impl IncidentService for Bare {
    async fn submit_incidents(
        &self,
        _: Request<pb::SubmitIncidentsRequest>,
    ) -> Result<Response<pb::SubmitIncidentsResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }

    async fn get_incident(
        &self,
        _: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::GetIncidentResponse>, Status> {
        Ok(Response::new(self.response.clone()))
    }

    async fn list_incidents(
        &self,
        _: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }

    async fn amend_incident(
        &self,
        _: Request<pb::AmendIncidentRequest>,
    ) -> Result<Response<pb::AmendIncidentResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }

    async fn retract_incident(
        &self,
        _: Request<pb::RetractIncidentRequest>,
    ) -> Result<Response<pb::RetractIncidentResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
}

/// The bare server's process: the hub's rustls config (same certificates, client certificates
/// required), its accept loop and connection age, and tonic, with nothing behind them.
pub async fn bare_server(
    data: &Path,
    port: u16,
    incident: &Path,
    policy_version: String,
) -> anyhow::Result<()> {
    use slt_hub::identity::tls;
    let config = HubConfig::load(&data.join("hub.toml"))?;
    let tls_config = tls::server_config(&config.tls_paths())?;
    let incident = pb::Incident::decode(std::fs::read(incident)?.as_slice())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let (incoming, _accept) = tls::incoming(
        listener,
        Arc::new(arc_swap::ArcSwap::new(tls_config)),
        config.max_connection_age() + config.max_connection_age_grace(),
    );
    // The SDK's connect checks the IncidentService's health, as against the hub.
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<IncidentServiceServer<Bare>>().await;
    tonic::transport::Server::builder()
        .max_connection_age(config.max_connection_age())
        .add_service(health_service)
        .add_service(IncidentServiceServer::new(Bare {
            response: pb::GetIncidentResponse {
                incident: Some(incident),
                policy_version,
            },
        }))
        .serve_with_incoming(incoming)
        .await?;
    Ok(())
}

/// An access-log record as the hub writes them for ordinary traffic: mostly GetIncident (one
/// id), one in ten a ListIncidents page naming a few dozen incidents, one in twenty a refused
/// write. `ids` is the pool incident ids are drawn from.
fn synthetic_entry(index: u64, hub_id: &str, policy_version: &str, ids: &[String]) -> AuditEntry {
    const ORGS: [(&str, &str); 4] = [
        ("ngo-alpha", "analyst"),
        ("ngo-beta", "analyst"),
        ("unhcr", "analyst"),
        ("undss", "focal_point"),
    ];
    let (org, role) = ORGS[(index % 4) as usize];
    let id = |k: u64| ids[((index * 7919 + k * 104_729) % ids.len() as u64) as usize].clone();
    let mut entry = AuditEntry {
        time: slt_hub::audit::now_text(),
        hub_id: hub_id.to_string(),
        org: org.to_string(),
        subject: format!("{org}-{role}-{}", index % 7),
        roles: vec![role.to_string()],
        // A client certificate's digest per org (the value's shape is what matters).
        cert_sha256: format!("{:0>64}", format!("{:x}", 0xc0ffee_u64 + index % 4)),
        peer_address: format!(
            "10.0.{}.{}:{}",
            index % 4,
            10 + index % 200,
            40_000 + index % 20_000
        ),
        policy_version: policy_version.to_string(),
        ..AuditEntry::default()
    };
    match index % 20 {
        0 | 10 => {
            let count = 24 + index % 25;
            entry.method = "/slt.v1.IncidentService/ListIncidents".into();
            entry.request_summary = format!(
                r#"{{"continued":true,"filter":{{"countries":["SSD","SOM"],"from":"2024-01-01","types":["ARMED_ATTACK","KIDNAPPING"]}},"page_size":{count}}}"#
            );
            entry.outcome = "OK".into();
            entry.records_returned = count;
            entry.fields_redacted = count * 3;
            entry.incident_ids = (0..count).map(id).collect();
        }
        5 => {
            entry.method = "/slt.v1.IncidentService/SubmitIncidents".into();
            entry.request_summary = "{}".into();
            entry.outcome = "PERMISSION_DENIED".into();
        }
        _ => {
            entry.method = "/slt.v1.IncidentService/GetIncident".into();
            entry.request_summary = "{}".into();
            entry.outcome = "OK".into();
            entry.records_returned = 1;
            entry.fields_redacted = 3;
            entry.incident_ids = vec![id(0)];
        }
    }
    slt_hub::audit::bounds::bound(&mut entry);
    entry
}

/// A finished child process: wall time, peak RSS and CPU from `/usr/bin/time`.
struct Ran {
    wall: Duration,
    peak_mib: f64,
    cpu_seconds: f64,
    stdout: String,
}

/// Runs `program args` under `/usr/bin/time` (its peak RSS is exact, read as the process
/// exits); fails unless it exits 0.
fn run_timed(program: &Path, args: &[&std::ffi::OsStr], scratch: &Path) -> anyhow::Result<Ran> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        bail!("/usr/bin/time is needed to read the peak memory of the slt processes");
    }
    let report = scratch.join("time.out");
    let started = Instant::now();
    let output = Command::new(time)
        .args(["-f", "%M %U %S", "-o"])
        .arg(&report)
        .arg(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() {
        bail!("{} failed ({}): {stdout}", program.display(), output.status);
    }
    let report = std::fs::read_to_string(&report)?;
    let numbers: Vec<f64> = report
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("/usr/bin/time wrote {report:?}"))?;
    let [kib, user, system] = numbers[..] else {
        bail!("/usr/bin/time wrote {report:?}");
    };
    Ok(Ran {
        wall,
        peak_mib: kib / 1024.0,
        cpu_seconds: user + system,
        stdout,
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The size of the database with its WAL.
fn database_bytes(db: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db.to_path_buf(), wal]
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum()
}

pub async fn export_scenario(records: u64, batch: usize, dir: Option<&Path>) -> anyhow::Result<()> {
    let dir = match dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let data = dir.path().join("slt-data");
    let slt = sibling("slt")?;
    let port = free_port()?;
    // A fresh dev hub makes the environment and the database, then stops.
    let hub = HubProcess::start(&data, port)?;
    let auditor = data.join("profiles/audit-office.auditor.toml");
    connect(&auditor).await?;
    hub.stop();

    let config = HubConfig::load(&data.join("hub.toml"))?;
    let policy_version = slt_hub::load_policy(&config)?.version().to_string();
    let db = PathBuf::from(
        config
            .database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap_or_default(),
    );
    let store = Store::open(&config.database_url).await?;
    let ids: Vec<String> = (0..50_000u32)
        .map(|n| {
            uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_URL,
                format!("audit-bench:{n}").as_bytes(),
            )
            .to_string()
        })
        .collect();
    let started = Instant::now();
    let mut made = 0u64;
    let mut next_report = 1_000_000;
    while made < records {
        let count = (records - made).min(batch.max(1) as u64);
        let entries: Vec<AuditEntry> = (made..made + count)
            .map(|index| synthetic_entry(index, &config.hub_id, &policy_version, &ids))
            .collect();
        store.record_audit_batch(&entries).await?;
        made += count;
        if made >= next_report {
            eprintln!(
                "filled {made} records in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            next_report += 1_000_000;
        }
    }
    let fill = started.elapsed();
    let log_size = store.audit_head().await?.map_or(0, |(seq, _)| seq);
    store.close().await;
    let db_after_fill = database_bytes(&db);
    eprintln!(
        "filled {records} records in {:.1} s; the log holds {log_size}",
        fill.as_secs_f64()
    );

    // A fresh hub process signs a head over the whole log on start (the checkpoint task's first
    // tick): it checks the chain from its last head and stores the tree's new nodes.
    let state_file = slt_hub::audit::checkpoints::state_path(&config.audit_signing_key);
    let started = Instant::now();
    let hub = HubProcess::start(&data, port)?;
    let signed_size = |file: &Path| -> Option<u64> {
        let note = std::fs::read_to_string(file).ok()?;
        note.lines().nth(1)?.parse().ok()
    };
    while signed_size(&state_file).unwrap_or(0) < log_size {
        if started.elapsed() > Duration::from_secs(4 * 3600) {
            bail!("the hub did not sign a head over {log_size} records");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sign = started.elapsed();
    let sign_peak = hub.peak_mib()?;
    let sign_cpu = cpu_seconds(hub.pid())?;
    eprintln!(
        "signed on start in {:.1} s, hub peak RSS {sign_peak:.1} MiB",
        sign.as_secs_f64()
    );
    connect(&auditor).await?;
    // From here the hub's peak is the export's.
    reset_peak(hub.pid())?;
    let hub_before = hub.peak_mib()?;
    let hub_cpu_before = cpu_seconds(hub.pid())?;

    let file = dir.path().join("audit.jsonl");
    let export = run_timed(
        &slt,
        &[
            "--profile".as_ref(),
            auditor.as_os_str(),
            "audit".as_ref(),
            "export".as_ref(),
            "--out".as_ref(),
            file.as_os_str(),
        ],
        dir.path(),
    )?;
    let hub_export_peak = hub.peak_mib()?;
    let hub_export_cpu = cpu_seconds(hub.pid())? - hub_cpu_before;
    let file_bytes = std::fs::metadata(&file)?.len();
    eprintln!("{} in {:.1} s", export.stdout, export.wall.as_secs_f64());
    hub.stop();
    let exported: u64 = export
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|count| count.parse().ok())
        .context("slt audit export did not say how many records it wrote")?;

    let key = config.audit_public_key.clone();
    let verify = run_timed(
        &slt,
        &[
            "audit".as_ref(),
            "verify".as_ref(),
            file.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
        ],
        dir.path(),
    )?;
    eprintln!("{} in {:.1} s", verify.stdout, verify.wall.as_secs_f64());

    // Floors, in the same run: reading the same rows straight from SQLite, and hashing the file.
    let (select, select_rows, select_bytes) = raw_select(&db).await?;
    let (hash, hashed) = sha256_file(&file)?;
    let db_bytes = database_bytes(&db);

    let rate = |count: u64, took: Duration| count as f64 / took.as_secs_f64();
    println!("audit log of {log_size} records ({records} appended in batches of {batch})");
    println!(
        "fill: {:.1} s, {:.0} records/s; database {:.0} MiB after the fill, {:.0} MiB with the tree",
        fill.as_secs_f64(),
        rate(records, fill),
        mib(db_after_fill),
        mib(db_bytes)
    );
    println!(
        "hub start and first signed head over the log: {:.1} s ({:.0} records/s, {:.1} s CPU), hub peak RSS {:.1} MiB",
        sign.as_secs_f64(),
        rate(log_size, sign),
        sign_cpu,
        sign_peak
    );
    println!();
    println!("| step | wall | records/s | peak RSS | CPU | size |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| `slt audit export` ({exported} records) | {:.1} s | {:.0} | slt {:.1} MiB; hub {:.1} MiB (at export start {:.1}) | slt {:.1} s, hub {:.1} s | {:.0} MiB ({:.0} B/record) |",
        export.wall.as_secs_f64(),
        rate(exported, export.wall),
        export.peak_mib,
        hub_export_peak,
        hub_before,
        export.cpu_seconds,
        hub_export_cpu,
        mib(file_bytes),
        file_bytes as f64 / exported.max(1) as f64
    );
    println!(
        "| `slt audit verify` | {:.1} s | {:.0} | slt {:.1} MiB | {:.1} s | |",
        verify.wall.as_secs_f64(),
        rate(exported, verify.wall),
        verify.peak_mib,
        verify.cpu_seconds
    );
    println!(
        "| floor: SELECT of every audit_log row ({select_rows} rows, {:.0} MiB of values) | {:.1} s | {:.0} | | | |",
        mib(select_bytes),
        select.as_secs_f64(),
        rate(select_rows, select)
    );
    println!(
        "| floor: SHA-256 of the export file ({:.0} MiB) | {:.1} s | {:.0} | | | |",
        mib(hashed),
        hash.as_secs_f64(),
        rate(exported, hash)
    );
    println!("verify: {}", verify.stdout);
    Ok(())
}

/// Every row of `audit_log` in seq order, every column read, straight from SQLite (read-only,
/// one connection): the least any export of the rows could cost. Returns the time, the rows and
/// the bytes of their text values.
async fn raw_select(db: &Path) -> anyhow::Result<(Duration, u64, u64)> {
    use sqlx::{Connection, Row, ValueRef};
    use tokio_stream::StreamExt;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await?;
    let started = Instant::now();
    let (mut rows, mut bytes) = (0u64, 0u64);
    {
        let mut stream = sqlx::query(
            "SELECT seq, time, hub_id, org, subject, roles, cert_sha256, peer_address, method, \
             request_summary, outcome, records_returned, fields_redacted, policy_version, \
             incident_ids, prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch(&mut connection);
        while let Some(row) = stream.next().await {
            let row = row?;
            for column in 0..17 {
                if row.try_get_raw(column)?.is_null() {
                    continue;
                }
                bytes += match row.try_get::<&str, _>(column) {
                    Ok(text) => text.len() as u64,
                    Err(_) => {
                        let _: i64 = row.try_get(column)?;
                        8
                    }
                };
            }
            rows += 1;
        }
    }
    let took = started.elapsed();
    connection.close().await?;
    Ok((took, rows, bytes))
}

/// SHA-256 of a file in 1 MiB reads; returns the time and the bytes hashed.
fn sha256_file(file: &Path) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut reader = std::fs::File::open(file)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        context.update(&buffer[..read]);
        total += read as u64;
    }
    // The digest itself is not needed; computing it is the floor.
    let _ = context.finish();
    Ok((started.elapsed(), total))
}
