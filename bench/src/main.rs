//! `slt-bench`: measured scenarios for BENCHMARKS.md. Each runs a real `slt-hub` process (so its
//! memory can be read from /proc) in dev mode in a temp dir, and drives it with the real SDK.
//!
//! Build both binaries in release first, then run:
//!
//! ```sh
//! cargo build --release -p slt-hub -p slt-bench
//! target/release/slt-bench sync --incidents 100000
//! # The access log (issue 16; `slt-bench audit*` need `cargo build --release -p slt-client` too):
//! target/release/slt-bench audit --calls 4000
//! target/release/slt-bench audit-export --records 10000000
//! # PostgreSQL, 1 and 2 replicas in one run (a durable throwaway cluster):
//! eval "$(PG_DURABLE=1 scripts/pg-test-cluster.sh start)"
//! target/release/slt-bench pg-scale --incidents 50000 --admin-url "$SLT_TEST_POSTGRES_URL"
//! scripts/pg-test-cluster.sh stop "$SLT_PG_CLUSTER_DIR"
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
mod audit;
mod forecast;
mod records;

use clap::{Parser, Subcommand};
use slt_client::awsd;
use slt_client::{HubClient, Mirror, Profile, SyncOptions, proto as pb};

#[derive(Parser)]
#[command(name = "slt-bench", about = "SLT Hub benchmark scenarios")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Import the AWSD file replicated to N incidents, then full-sync a fresh mirror; reports
    /// throughput and the hub's peak memory during the sync (a fresh hub process).
    Sync {
        /// How many incidents (the 3,409 AWSD rows, replicated with fresh ids).
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
        /// The AWSD CSV.
        #[arg(
            long,
            default_value = "../shared/data/awsd/security_incidents_1997_2021.csv"
        )]
        csv: PathBuf,
        /// Incidents per SubmitIncidents call.
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        /// Change-log entries per Pull page.
        #[arg(long, default_value_t = 500)]
        page: i32,
    },
    /// PostgreSQL scale-out: for 1 and then 2 `slt-hub` replicas on a fresh database each,
    /// import N incidents with concurrent writers spread over the replicas, then run concurrent
    /// full syncs into empty mirrors spread the same way; reports both throughputs.
    PgScale {
        /// How many incidents (the 3,409 AWSD rows, replicated with fresh ids).
        #[arg(long, default_value_t = 50_000)]
        incidents: usize,
        /// The AWSD CSV.
        #[arg(
            long,
            default_value = "../shared/data/awsd/security_incidents_1997_2021.csv"
        )]
        csv: PathBuf,
        /// Incidents per SubmitIncidents call.
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        /// Concurrent writers (and concurrent syncing mirrors), spread over the replicas.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// A PostgreSQL URL allowed to CREATE DATABASE (e.g. from scripts/pg-test-cluster.sh).
        #[arg(long, env = "SLT_BENCH_POSTGRES_URL")]
        admin_url: String,
    },
    /// GetThreatPicture latency over N synthetic incidents (AWSD rows spread over 10 years and
    /// four organisations, 10% ORG_ONLY), bulk-inserted through the store API; one country x
    /// 10 years x month, at T2 and at T1; reports p50/p99 and the hub's peak memory.
    Picture {
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
        #[arg(
            long,
            default_value = "../shared/data/awsd/security_incidents_1997_2021.csv"
        )]
        csv: PathBuf,
        /// Calls per viewer.
        #[arg(long, default_value_t = 50)]
        calls: usize,
        /// The country of the picture.
        #[arg(long, default_value = "AFG")]
        country: String,
    },
    /// The record rule's cost (issue 18): list, pull and picture for a T1 analyst over N
    /// synthetic incidents (as `picture` makes them), with the rule off and on, in one run.
    Records {
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
        #[arg(
            long,
            default_value = "../shared/data/awsd/security_incidents_1997_2021.csv"
        )]
        csv: PathBuf,
        /// Calls per measure.
        #[arg(long, default_value_t = 20)]
        calls: usize,
    },
    /// Federation over a chain A -> B -> C of three hub processes (own PKI and database
    /// each, transitive T1 agreements): lag from submit at A to visible at C, then the
    /// throughput of catching up a backlog built at A while B and C were down.
    Federation {
        /// Incidents submitted one by one for the lag measurement.
        #[arg(long, default_value_t = 200)]
        lag_samples: usize,
        /// The backlog (AWSD rows replicated with fresh ids).
        #[arg(long, default_value_t = 100_000)]
        backlog: usize,
        /// The agreements' pause between pulls once caught up.
        #[arg(long, default_value_t = 200)]
        pull_interval_millis: u64,
        #[arg(
            long,
            default_value = "../shared/data/awsd/security_incidents_1997_2021.csv"
        )]
        csv: PathBuf,
    },
    /// Issue 21: the forecast backtest on the AWSD file, then the model's cost for one
    /// country x quarter forecast (h = 1..12) over the AWSD scaled to N incidents.
    Forecast {
        #[arg(long, default_value_t = 1_000_000)]
        incidents: u64,
        #[arg(
            long,
            default_value = "../shared/data/awsd/security_incidents_1997_2021.csv"
        )]
        csv: PathBuf,
        #[arg(long, default_value_t = 50)]
        calls: usize,
        #[arg(long, default_value = "AF")]
        country: String,
    },
    /// The cost of auditing: audited GetIncident end to end against a bare tonic server over
    /// the same mTLS stack, at 1, 16 and 64 calls in flight; then the in-process read path with
    /// and without the audit append (group commit), at 1 and 64 concurrent tasks.
    Audit {
        /// Calls per measurement.
        #[arg(long, default_value_t = 5_000)]
        calls: usize,
        /// HTTP/2 connections the calls are spread over (the SDK multiplexes a client's clones
        /// on one), the same for both servers.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Each measurement is repeated this many times, bare and audited alternating; the
        /// median is reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// A long access log exported and verified: N records appended through the store, signed
    /// by a fresh hub process on start, exported with `slt audit export` and checked with
    /// `slt audit verify`; beside a raw SELECT of the rows and a SHA-256 of the file.
    AuditExport {
        /// Records to append.
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Records per `record_audit_batch` transaction while filling.
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
        /// Where the temporary hub lives (it needs ~1.5 KB per record); default: the system's
        /// temp dir.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The bare server of `audit` (its own process, like the hub): the IncidentService over
    /// the hub's TLS stack, GetIncident answering a fixed incident, nothing else.
    #[command(hide = true)]
    BareServer {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        port: u16,
        /// The incident to answer (protobuf bytes) and the policy version to send with it.
        #[arg(long)]
        incident: PathBuf,
        #[arg(long)]
        policy_version: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    slt_hub::identity::tls::install_crypto_provider();
    match Cli::parse().scenario {
        Scenario::Sync {
            incidents,
            csv,
            batch,
            page,
        } => sync_scenario(incidents, &csv, batch, page).await,
        Scenario::Audit {
            calls,
            connections,
            rounds,
        } => audit::audit_scenario(calls, connections, rounds).await,
        Scenario::AuditExport {
            records,
            batch,
            dir,
        } => audit::export_scenario(records, batch, dir.as_deref()).await,
        Scenario::BareServer {
            data,
            port,
            incident,
            policy_version,
        } => audit::bare_server(&data, port, &incident, policy_version).await,
        Scenario::Forecast {
            incidents,
            csv,
            calls,
            country,
        } => forecast::forecast_scenario(&csv, incidents, calls, &country),
        Scenario::Picture {
            incidents,
            csv,
            calls,
            country,
        } => picture_scenario(incidents, &csv, calls, &country).await,
        Scenario::Records {
            incidents,
            csv,
            calls,
        } => records::records_scenario(incidents, &csv, calls).await,
        Scenario::PgScale {
            incidents,
            csv,
            batch,
            clients,
            admin_url,
        } => pg_scale_scenario(incidents, &csv, batch, clients, &admin_url).await,
        Scenario::Federation {
            lag_samples,
            backlog,
            pull_interval_millis,
            csv,
        } => federation_scenario(lag_samples, backlog, pull_interval_millis, &csv).await,
    }
}

/// A dev-mode hub in its own process.
pub(crate) struct HubProcess {
    child: Child,
}

impl HubProcess {
    pub(crate) fn start(data_dir: &Path, port: u16) -> anyhow::Result<HubProcess> {
        HubProcess::start_on(data_dir, port, None)
    }

    /// A dev-mode hub whose database is `database_url` (SLT_HUB_DATABASE_URL) when given.
    fn start_on(
        data_dir: &Path,
        port: u16,
        database_url: Option<&str>,
    ) -> anyhow::Result<HubProcess> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "serve".into(),
            "--dev".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}").into(),
            "--data-dir".into(),
        ];
        args.push(data_dir.into());
        Self::run(&args, database_url)
    }

    /// `slt-hub serve --config FILE` (its database as the config says).
    fn serve_config(config: &Path) -> anyhow::Result<HubProcess> {
        Self::run(&["serve".into(), "--config".into(), config.into()], None)
    }

    fn run(args: &[std::ffi::OsString], database_url: Option<&str>) -> anyhow::Result<HubProcess> {
        let binary = std::env::current_exe()?
            .parent()
            .context("bench binary has no directory")?
            .join("slt-hub");
        if !binary.is_file() {
            bail!(
                "{} not found: cargo build --release -p slt-hub -p slt-bench",
                binary.display()
            );
        }
        let mut command = Command::new(binary);
        match database_url {
            Some(url) => command.env("SLT_HUB_DATABASE_URL", url),
            None => command.env_remove("SLT_HUB_DATABASE_URL"),
        };
        let child = command
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting slt-hub")?;
        Ok(HubProcess { child })
    }

    /// Peak resident memory so far (VmHWM), in MiB.
    pub(crate) fn peak_mib(&self) -> anyhow::Result<f64> {
        peak_mib_of(self.child.id())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stop(self) {}
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident memory so far (VmHWM) of process `pid`, in MiB.
pub(crate) fn peak_mib_of(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM")?;
    Ok(kib / 1024.0)
}

/// Connects once the hub has written its dev environment and is serving.
pub(crate) async fn connect(path: &Path) -> anyhow::Result<HubClient> {
    for _ in 0..200 {
        if let Ok(profile) = Profile::load(path) {
            if let Ok(client) = HubClient::connect(&profile).await {
                return Ok(client);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(HubClient::connect(&Profile::load(path)?).await?)
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn sync_scenario(total: usize, csv: &Path, batch: usize, page: i32) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("slt-data");
    let port = free_port()?;

    // Phase 1: import the AWSD rows, replicated with fresh deterministic ids.
    let rows: Vec<pb::Incident> = awsd::open_awsd(csv)?
        .filter_map(|record| record.ok())
        .filter(|record| record.is_submittable())
        .map(|record| record.incident)
        .collect();
    let hub = HubProcess::start(&data, port)?;
    let reporter = data.join("profiles/ngo-alpha.reporter.toml");
    let mut client = connect(&reporter).await?;
    let started = Instant::now();
    let mut sent = 0;
    let mut pending = Vec::with_capacity(batch);
    'import: for copy in 0.. {
        for row in &rows {
            if sent == total {
                break 'import;
            }
            let mut incident = row.clone();
            incident.id = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_URL,
                format!("awsd-bench:{}:{copy}", row.id).as_bytes(),
            )
            .to_string();
            pending.push(incident);
            sent += 1;
            if pending.len() == batch {
                client.submit(std::mem::take(&mut pending)).await?;
            }
        }
    }
    if !pending.is_empty() {
        client.submit(pending).await?;
    }
    let import = started.elapsed();
    let import_peak = hub.peak_mib()?;
    hub.stop();

    // Phase 2: a fresh hub process on the same data, and a full sync into an empty mirror.
    let hub = HubProcess::start(&data, port)?;
    let analyst = data.join("profiles/ngo-beta.analyst.toml");
    let mut client = connect(&analyst).await?;
    let baseline = hub.peak_mib()?;
    let mirror = Mirror::open(dir.path().join("mirror.db")).await?;
    let options = SyncOptions {
        page_size: page,
        ..SyncOptions::default()
    };
    let started = Instant::now();
    let stats = mirror.sync(&mut client, &options, |_| {}).await?;
    let sync = started.elapsed();
    let sync_peak = hub.peak_mib()?;
    hub.stop();

    println!("incidents: {total}");
    println!(
        "import:  {:.1} s, {:.0} incidents/s (batches of {batch}), hub peak RSS {:.1} MiB",
        import.as_secs_f64(),
        total as f64 / import.as_secs_f64(),
        import_peak
    );
    println!(
        "sync:    {:.1} s, {:.0} incidents/s ({} upserts, pages of {page}), hub peak RSS {:.1} MiB (after start {:.1} MiB)",
        sync.as_secs_f64(),
        stats.upserts as f64 / sync.as_secs_f64(),
        stats.upserts,
        sync_peak,
        baseline
    );
    Ok(())
}

/// The AWSD rows replicated with fresh deterministic ids up to `total`, in batches.
fn replicated_batches(
    csv: &Path,
    total: usize,
    batch: usize,
) -> anyhow::Result<Vec<Vec<pb::Incident>>> {
    let rows: Vec<pb::Incident> = awsd::open_awsd(csv)?
        .filter_map(|record| record.ok())
        .filter(|record| record.is_submittable())
        .map(|record| record.incident)
        .collect();
    if rows.is_empty() {
        bail!("{}: no submittable rows", csv.display());
    }
    let mut batches = Vec::new();
    let mut pending = Vec::with_capacity(batch);
    for (index, row) in rows.iter().cycle().take(total).enumerate() {
        let mut incident = row.clone();
        incident.id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("awsd-bench:{}:{}", row.id, index / rows.len()).as_bytes(),
        )
        .to_string();
        pending.push(incident);
        if pending.len() == batch {
            batches.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        batches.push(pending);
    }
    Ok(batches)
}

/// Connects with `profile`, waiting for a hub process that is still starting.
async fn connect_profile(profile: &Profile) -> anyhow::Result<HubClient> {
    for _ in 0..200 {
        if let Ok(client) = HubClient::connect(profile).await {
            return Ok(client);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(HubClient::connect(profile).await?)
}

/// A fresh database on the admin URL's server; returns its URL.
async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .context("connecting with --admin-url")?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let (server, _) = base
        .rsplit_once('/')
        .filter(|(server, _)| server.contains("://") && !server.ends_with('/'))
        .context("--admin-url must name a database: postgres://user@host:port/postgres")?;
    Ok(format!("{server}/{name}"))
}

async fn pg_scale_scenario(
    total: usize,
    csv: &Path,
    batch: usize,
    clients: usize,
    admin_url: &str,
) -> anyhow::Result<()> {
    let clients = clients.max(1);
    let batches = replicated_batches(csv, total, batch)?;
    let mut results = Vec::new();
    for replicas in [1usize, 2] {
        let database_url = create_database(admin_url, &format!("slt_bench_{replicas}")).await?;
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("slt-data");
        let mut hubs = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..replicas {
            let port = free_port()?;
            hubs.push(HubProcess::start_on(&data, port, Some(&database_url))?);
            ports.push(port);
            // The first process writes the dev environment; wait for it before the next.
            connect(&data.join("profiles/ngo-alpha.reporter.toml")).await?;
        }
        // Profiles per replica: the dev profiles with the replica's endpoint.
        let profiles = |role_file: &str| -> anyhow::Result<Vec<Profile>> {
            ports
                .iter()
                .map(|port| {
                    let mut profile = Profile::load(data.join("profiles").join(role_file))?;
                    profile.endpoint = format!("https://127.0.0.1:{port}");
                    Ok(profile)
                })
                .collect()
        };

        // Import: `clients` writers, writer i on replica i % replicas, batches dealt round-robin.
        let reporters = profiles("ngo-alpha.reporter.toml")?;
        let mut writers = Vec::new();
        for writer in 0..clients {
            let mut client = connect_profile(&reporters[writer % replicas]).await?;
            let mine: Vec<Vec<pb::Incident>> = batches
                .iter()
                .skip(writer)
                .step_by(clients)
                .cloned()
                .collect();
            writers.push(async move {
                for batch in mine {
                    client.submit(batch).await?;
                }
                anyhow::Ok(())
            });
        }
        let started = Instant::now();
        futures_join(writers).await?;
        let import = started.elapsed();

        // Sync: `clients` empty mirrors, mirror i on replica i % replicas, all at once.
        let analysts = profiles("ngo-beta.analyst.toml")?;
        let mut syncs = Vec::new();
        for reader in 0..clients {
            let mut client = HubClient::connect(&analysts[reader % replicas]).await?;
            let mirror = Mirror::open(dir.path().join(format!("mirror-{reader}.db"))).await?;
            syncs.push(async move {
                let stats = mirror
                    .sync(&mut client, &SyncOptions::default(), |_| {})
                    .await?;
                anyhow::Ok(stats.upserts)
            });
        }
        let started = Instant::now();
        let upserts: u64 = futures_join(syncs).await?.into_iter().sum();
        let sync = started.elapsed();
        for hub in hubs {
            hub.stop();
        }
        results.push((replicas, import, sync, upserts));
    }

    println!("incidents: {total}, {clients} concurrent writers / mirrors, PostgreSQL");
    for (replicas, import, sync, upserts) in results {
        println!(
            "{replicas} replica(s): import {:.1} s, {:.0} incidents/s; sync of {clients} mirrors {:.1} s, {:.0} incidents/s in total ({upserts} upserts)",
            import.as_secs_f64(),
            total as f64 / import.as_secs_f64(),
            sync.as_secs_f64(),
            upserts as f64 / sync.as_secs_f64()
        );
    }
    Ok(())
}

/// Runs the futures concurrently (each on its own task) and collects their results in order.
async fn futures_join<T, F>(futures: Vec<F>) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await??);
    }
    Ok(results)
}

/// Bulk-inserts `total` incidents made from the AWSD rows straight through the store (the hub
/// is stopped): dates moved into 2012-2021, origin spread over four organisations, one in ten
/// ORG_ONLY. The store API, not gRPC, because 1M incidents through SubmitIncidents would take
/// most of the run; the picture never depends on how incidents arrived.
pub(crate) async fn bulk_insert(data: &Path, csv: &Path, total: usize) -> anyhow::Result<()> {
    use slt_hub::domain::{Distribution, OrgType, StoredIncident, Violations};
    use slt_hub::store::{NewIncident, Store};
    let config = slt_hub::config::HubConfig::load(&data.join("hub.toml"))?;
    let store = Store::open(&config.database_url).await?;
    let rows: Vec<pb::Incident> = awsd::open_awsd(csv)?
        .filter_map(|record| record.ok())
        .filter(|record| record.is_submittable())
        .map(|record| record.incident)
        .collect();
    let orgs = [
        ("ngo-alpha", OrgType::Ingo),
        ("ngo-beta", OrgType::Nngo),
        ("unhcr", OrgType::Un),
        ("undss", OrgType::Un),
    ];
    let now = time::OffsetDateTime::now_utc();
    let mut batch = Vec::with_capacity(1_000);
    let mut made = 0usize;
    'fill: for copy in 0usize.. {
        for row in &rows {
            if made == total {
                break 'fill;
            }
            let mut incident = row.clone();
            incident.id = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_URL,
                format!("awsd-picture-bench:{}:{copy}", row.id).as_bytes(),
            )
            .to_string();
            if let Some(date) = incident.occurred_on.as_mut() {
                date.year = 2012 + (date.year + copy as i32).rem_euclid(10);
                date.day = date.day.min(28);
            }
            if made % 10 == 0 {
                incident.distribution = pb::Distribution::OrgOnly as i32;
            }
            let mut violations = Violations::new();
            let Some(draft) =
                slt_hub::wire::draft_from_proto(&mut violations, "incident", &incident, now)
            else {
                continue;
            };
            let (org, org_type) = orgs[made % orgs.len()];
            let submit_hash = draft.submission_hash();
            debug_assert!(
                draft.content.distribution != Distribution::SharingGroup,
                "no groups in the bench"
            );
            batch.push(NewIncident {
                incident: StoredIncident {
                    id: draft.id,
                    version: 1,
                    origin_org: org.to_string(),
                    origin_hub: config.hub_id.clone(),
                    origin_org_type: org_type,
                    reported_at: now,
                    updated_at: now,
                    retraction_reason: None,
                    content: draft.content,
                    private: draft.private,
                    received: None,
                },
                submit_hash,
                group_members: None,
            });
            made += 1;
            if batch.len() == 1_000 {
                store.submit(&std::mem::take(&mut batch), None).await?;
            }
        }
    }
    if !batch.is_empty() {
        store.submit(&batch, None).await?;
    }
    store.close().await;
    Ok(())
}

/// Percentile of sorted samples.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

async fn picture_scenario(
    total: usize,
    csv: &Path,
    calls: usize,
    country: &str,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("slt-data");
    let port = free_port()?;
    // Start once so that the dev environment and the database exist, then stop.
    let hub = HubProcess::start(&data, port)?;
    connect(&data.join("profiles/ngo-alpha.reporter.toml")).await?;
    hub.stop();
    let started = Instant::now();
    bulk_insert(&data, csv, total).await?;
    let insert = started.elapsed();

    let hub = HubProcess::start(&data, port)?;
    let mut viewers = Vec::new();
    for profile in ["undss.focal_point", "ngo-beta.analyst"] {
        viewers.push((
            profile,
            connect(&data.join(format!("profiles/{profile}.toml"))).await?,
        ));
    }
    let after_start = hub.peak_mib()?;
    let request = pb::GetThreatPictureRequest {
        countries: vec![country.to_string()],
        from: Some(slt_proto::google::r#type::Date {
            year: 2012,
            month: 1,
            day: 1,
        }),
        to: Some(slt_proto::google::r#type::Date {
            year: 2021,
            month: 12,
            day: 31,
        }),
        granularity: pb::Granularity::Month as i32,
        area_level: pb::AreaLevel::Country as i32,
        group_by: pb::PictureGroup::ThreatCategory as i32,
        ..Default::default()
    };
    println!(
        "incidents: {total} (bulk insert {:.1} s)",
        insert.as_secs_f64()
    );
    for (profile, client) in &mut viewers {
        let mut times = Vec::with_capacity(calls);
        let mut counted = 0;
        let mut suppressed = 0;
        for _ in 0..calls {
            let started = Instant::now();
            let picture = client.threat_picture(request.clone()).await?;
            times.push(started.elapsed());
            counted = picture.total.map_or(0, |t| t.value);
            suppressed = picture
                .rows
                .iter()
                .flat_map(|row| row.cells.iter())
                .filter(|cell| cell.incidents.is_some_and(|c| c.suppressed))
                .count();
            if picture.periods.len() != 120 {
                bail!("expected 120 months, got {}", picture.periods.len());
            }
        }
        times.sort();
        println!(
            "{profile}: {country} x 120 months x category, {calls} calls: p50 {:.1} ms, p99 {:.1} ms \
             ({counted} incidents in the picture, {suppressed} cells suppressed)",
            percentile(&times, 0.50).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
        );
    }
    println!(
        "hub peak RSS {:.1} MiB (after start {:.1} MiB)",
        hub.peak_mib()?,
        after_start
    );
    hub.stop();
    Ok(())
}

/// Applied-so-far from `peer` as recorded in a hub's database.
async fn applied_from(db: &Path, peer: &str) -> anyhow::Result<u64> {
    let store = slt_hub::store::Store::open(&format!("sqlite://{}", db.display())).await?;
    let applied = store
        .peer_states()
        .await?
        .into_iter()
        .find(|state| state.peer_hub == peer)
        .map_or(0, |state| state.applied_total);
    store.close().await;
    Ok(applied)
}

async fn federation_scenario(
    lag_samples: usize,
    backlog: usize,
    pull_interval_millis: u64,
    csv: &Path,
) -> anyhow::Result<()> {
    use slt_hub::dev;
    use slt_hub::identity::agreement::PeerAgreement;
    let dir = tempfile::tempdir()?;
    let hubs = ["hub-a", "hub-b", "hub-c"];
    let mut listen = Vec::new();
    for hub in hubs {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()?));
        dev::create_hub(
            &dir.path().join(hub),
            hub,
            &format!("{hub}.bench"),
            address,
            true,
        )?;
        listen.push(address);
    }
    let agreement = |index: usize, pull: bool| -> PeerAgreement {
        let hub = hubs[index];
        let mut agreement = dev::peer_agreement(
            &dir.path().join(hub),
            hub,
            &format!("{hub}.bench"),
            listen[index],
        );
        agreement.pull = pull;
        agreement.transitive = true;
        agreement.pull_interval_millis = pull_interval_millis;
        agreement.max_backoff_millis = 2_000;
        agreement
    };
    // B pulls from A, C from B.
    dev::write_peers(&dir.path().join("hub-a"), &[agreement(1, false)])?;
    dev::write_peers(
        &dir.path().join("hub-b"),
        &[agreement(0, true), agreement(2, false)],
    )?;
    dev::write_peers(&dir.path().join("hub-c"), &[agreement(1, true)])?;
    let config = |hub: &str| dir.path().join(hub).join("hub.toml");
    let profile = |hub: &str, name: &str| {
        dir.path()
            .join(hub)
            .join("profiles")
            .join(format!("{name}.toml"))
    };

    let rows: Vec<pb::Incident> = awsd::open_awsd(csv)?
        .filter_map(|record| record.ok())
        .filter(|record| record.is_submittable())
        .map(|mut record| {
            record.incident.distribution = pb::Distribution::Federation as i32;
            record.incident.tlp = pb::Tlp::Amber as i32;
            record.incident
        })
        .collect();
    let fresh = |row: &pb::Incident| {
        let mut incident = row.clone();
        incident.id = uuid::Uuid::now_v7().to_string();
        incident
    };

    // Phase 1: lag, all three hubs up. C's analyst subscribes; A's reporter submits one at a
    // time, at a steady pace.
    let hub_a = HubProcess::serve_config(&config("hub-a"))?;
    let hub_b = HubProcess::serve_config(&config("hub-b"))?;
    let hub_c = HubProcess::serve_config(&config("hub-c"))?;
    let mut reporter = connect(&profile("hub-a", "ngo-alpha.reporter")).await?;
    let mut watcher = connect(&profile("hub-c", "ngo-beta.analyst")).await?;
    let mut stream = watcher.subscribe("", pb::SyncFilter::default(), 5).await?;
    let (seen_sender, mut seen) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch = tokio::spawn(async move {
        use tokio_stream::StreamExt;
        while let Some(Ok(message)) = stream.next().await {
            let now = Instant::now();
            for change in message.changes {
                let _ = seen_sender.send((change.incident_id, now));
            }
        }
    });
    let mut submitted = std::collections::HashMap::new();
    for index in 0..lag_samples {
        let incident = fresh(&rows[index % rows.len()]);
        let started = Instant::now();
        let results = reporter.submit(vec![incident]).await?;
        // The feed names it by the hub's id.
        let id = results.first().context("no submit result")?.id.clone();
        submitted.insert(id, started);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lags = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while lags.len() < lag_samples && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), seen.recv()).await {
            Ok(Some((id, at))) => {
                if let Some(sent) = submitted.remove(&id) {
                    lags.push(at.duration_since(sent));
                }
            }
            _ => continue,
        }
    }
    watch.abort();
    lags.sort();
    println!(
        "lag submit@A -> visible@C (2 hops, pull interval {pull_interval_millis} ms): {} samples, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lags.len(),
        percentile(&lags, 0.50).as_secs_f64() * 1000.0,
        percentile(&lags, 0.99).as_secs_f64() * 1000.0,
        lags.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    drop(hub_b);
    drop(hub_c);

    // Phase 2: B and C down; A builds a backlog; then B and C start and catch up.
    let started = Instant::now();
    let mut pending = Vec::with_capacity(1_000);
    for index in 0..backlog {
        pending.push(fresh(&rows[index % rows.len()]));
        if pending.len() == 1_000 {
            reporter.submit(std::mem::take(&mut pending)).await?;
        }
    }
    if !pending.is_empty() {
        reporter.submit(pending).await?;
    }
    println!(
        "backlog: {backlog} FEDERATION incidents submitted at A in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let expected = (lag_samples + backlog) as u64;
    let b_db = dir.path().join("hub-b").join("hub.db");
    let c_db = dir.path().join("hub-c").join("hub.db");
    let started = Instant::now();
    let hub_b = HubProcess::serve_config(&config("hub-b"))?;
    let hub_c = HubProcess::serve_config(&config("hub-c"))?;
    let mut b_done = None;
    let mut c_done = None;
    let deadline = Instant::now() + Duration::from_secs(3_600);
    while c_done.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if b_done.is_none() && applied_from(&b_db, "hub-a").await? >= expected {
            b_done = Some(started.elapsed());
        }
        if applied_from(&c_db, "hub-b").await? >= expected {
            c_done = Some(started.elapsed());
        }
    }
    let b_done = b_done.context("B never caught up")?;
    let c_done = c_done.context("C never caught up")?;
    println!(
        "catch-up of {backlog}: A->B {:.1} s ({:.0} incidents/s), A->B->C {:.1} s ({:.0} incidents/s end to end); peak RSS A {:.1} MiB, B {:.1} MiB, C {:.1} MiB",
        b_done.as_secs_f64(),
        backlog as f64 / b_done.as_secs_f64(),
        c_done.as_secs_f64(),
        backlog as f64 / c_done.as_secs_f64(),
        hub_a.peak_mib()?,
        hub_b.peak_mib()?,
        hub_c.peak_mib()?
    );
    Ok(())
}
