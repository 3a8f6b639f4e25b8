//! `slt-hub`: runs the hub (`serve`), applies migrations (`migrate`), runs the trust domain's
//! CA (`pki init | issue-org | issue-hub | revoke | crl`), issues tokens (`token issue`) and
//! makes the public T0 release (`release`).
//! Thin: everything real lives in the library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use opentelemetry_sdk::trace::SdkTracerProvider;
use slt_hub::config::HubConfig;
use slt_hub::identity::Role;
use slt_hub::identity::keys::read_key_file;
use slt_hub::identity::token::TokenIssuer;
use slt_hub::store::Store;
use slt_hub::{dev, identity, telemetry};
use tokio::net::TcpListener;
use tracing_subscriber::Layer;

#[derive(Parser)]
#[command(
    name = "slt-hub",
    version,
    about = "SLT Hub: shared security-incident data for aid agencies"
)]
struct Cli {
    /// Log format: text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, env = "SLT_HUB_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub.
    Serve {
        /// Create (first start) or reuse a complete dev environment in --data-dir and serve it.
        #[arg(long)]
        dev: bool,
        #[command(flatten)]
        source: ConfigSource,
        /// Listen address (default: the config's; in dev mode 127.0.0.1:50051).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        source: ConfigSource,
    },
    /// Bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Federation status of every peer (read from the hub's database and agreements; admins
    /// can ask a running hub with `slt peers` instead).
    Peers {
        #[command(flatten)]
        source: ConfigSource,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check a hub's configuration and what it names (certificates and their expiry, CRL
    /// freshness, key permissions, the database, the peers) and say how to fix what is wrong.
    /// Exits with status 1 when there is a problem.
    Doctor {
        #[command(flatten)]
        source: ConfigSource,
    },
    /// Demos for newcomers and tests.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Rolling-origin evaluation of the forecast model against naive baselines on an AWSD CSV
    /// export (docs/forecast.md): country x quarter, the largest areas, horizons 1 and 4.
    Backtest {
        /// The AWSD CSV export.
        #[arg(long)]
        data: PathBuf,
        /// First and last year of the forecast origins.
        #[arg(long, default_value_t = 2012)]
        from: i32,
        #[arg(long, default_value_t = 2021)]
        to: i32,
        /// How many of the areas with most incidents are scored.
        #[arg(long, default_value_t = 20)]
        areas: usize,
        /// Horizons scored, in quarters.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        horizons: Vec<usize>,
    },
    /// The public (T0) release: this hub's COMMUNITY/FEDERATION TLP:CLEAR incidents as a
    /// k-anonymous file, an aggregate table and the disclosure risk (docs/disclosure.md).
    Release {
        #[command(flatten)]
        source: ConfigSource,
        /// The directory written (incidents.csv, counts.csv, disclosure.json, README.txt).
        #[arg(long)]
        out: PathBuf,
        /// Every combination of quasi-identifiers occurs at least k times.
        #[arg(long, default_value_t = 3)]
        k: usize,
        /// Incidents that occurred from this date (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Incidents that occurred until this date (YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
    },
    /// The trust domain's certificate authority (a directory: ca.pem, ca.key, crl.pem, pki.toml).
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Start three dev hubs (hub-a, hub-b, hub-c; each its own process, SQLite file and PKI)
    /// federated with each other on localhost, until Ctrl-C. Reuses --dir when it exists.
    Federation {
        #[arg(long, default_value = "slt-federation")]
        dir: PathBuf,
        /// hub-a listens here, hub-b and hub-c on the next ports.
        #[arg(long, default_value_t = 50061)]
        base_port: u16,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create a new CA and an empty CRL in --dir.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// The SPIFFE trust domain, e.g. slt.example.org.
        #[arg(long)]
        trust_domain: String,
        /// How long each CRL is valid (its nextUpdate); re-sign before then with `pki crl`.
        #[arg(long, default_value_t = 7)]
        crl_days: u32,
    },
    /// Issue an organisation's client certificate into DIR/orgs/<ORG>/ (cert.pem, key.pem).
    IssueOrg {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        org: String,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Issue a hub's certificate into DIR/hubs/<HUB>/ (cert.pem, key.pem), and its federation
    /// key pair (federation-signing.key, federation-signing.pub.pem) unless it has one.
    IssueHub {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        hub: String,
        /// DNS names clients dial (repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        dns: Vec<String>,
        /// IP addresses clients dial (repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        ip: Vec<std::net::IpAddr>,
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Revoke a certificate (by serial or by its file) and regenerate the CRL; hubs pick the
    /// new CRL up on their own (file change) or on SIGHUP.
    Revoke {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, conflicts_with = "cert", required_unless_present = "cert")]
        serial: Option<String>,
        #[arg(long)]
        cert: Option<PathBuf>,
    },
    /// Re-sign the CRL (a new nextUpdate); run it regularly, well within --crl-days.
    Crl {
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct ConfigSource {
    /// The hub configuration file.
    #[arg(long, env = "SLT_HUB_CONFIG", conflicts_with = "data_dir")]
    config: Option<PathBuf>,
    /// A dev data directory (its hub.toml is the config).
    #[arg(long, default_value = "slt-data")]
    data_dir: PathBuf,
}

impl ConfigSource {
    fn path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| self.data_dir.join("hub.toml"))
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token signed by this hub and print it.
    Issue {
        #[command(flatten)]
        source: ConfigSource,
        /// The organisation the token is for (must match the caller's certificate).
        #[arg(long)]
        org: String,
        /// Who the token identifies within the org.
        #[arg(long)]
        sub: String,
        /// Comma-separated roles (within the org's registered roles).
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Lifetime: e.g. 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        ttl: String,
        /// Bind the token to this client certificate (PEM): `cnf.x5t#S256`, RFC 8705.
        #[arg(long)]
        bind_cert: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    identity::tls::install_crypto_provider();
    let cli = Cli::parse();
    let tracer = init_logging(cli.log_format)?;
    let result = run(cli.command).await;
    if let Err(error) = tracer.shutdown() {
        eprintln!("traces not all exported: {error}");
    }
    result
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            dev,
            source,
            listen,
        } => serve(dev, &source, listen).await,
        Command::Migrate { source } => {
            let config = HubConfig::load(&source.path())?;
            Store::open(&config.database_url)
                .await
                .context("opening the database")?
                .close()
                .await;
            println!("migrations applied");
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Issue {
                    source,
                    org,
                    sub,
                    roles,
                    ttl,
                    bind_cert,
                },
        } => issue_token(
            &source.path(),
            &TokenRequest {
                org: &org,
                subject: &sub,
                roles: &roles,
                ttl: &ttl,
                bind_cert: bind_cert.as_deref(),
            },
        ),
        Command::Pki { command } => run_pki(command),
        Command::Release {
            source,
            out,
            k,
            from,
            to,
        } => release(&source.path(), &out, k, (from, to)).await,
        Command::Backtest {
            data,
            from,
            to,
            areas,
            horizons,
        } => backtest(&data, (from, to), areas, horizons),
        Command::Peers { source, json } => peers(&source.path(), json).await,
        Command::Doctor { source } => doctor(&source.path()).await,
        Command::Demo {
            command: DemoCommand::Federation { dir, base_port },
        } => federation_demo(&dir, base_port).await,
    }
}

fn backtest(
    data: &Path,
    years: (i32, i32),
    areas: usize,
    horizons: Vec<usize>,
) -> anyhow::Result<()> {
    use slt_hub::picture::forecast::{Panel, QUARTERLY, panel::awsd_events, study};
    if horizons.iter().any(|h| !(1..=12).contains(h)) {
        bail!("horizons run from 1 to 12");
    }
    let file = std::fs::File::open(data).with_context(|| format!("opening {}", data.display()))?;
    let (events, skipped) = awsd_events(file)?;
    let panel = Panel::from_events(&events, slt_hub::domain::Granularity::Quarter);
    let spec = study::Study {
        years,
        horizons,
        areas,
        params: QUARTERLY,
    };
    println!(
        "{} incidents ({skipped} rows without a country or month left out), {} areas, \
         origins {}-{}, the {areas} areas with most incidents\n",
        events.len(),
        panel.areas.len(),
        years.0,
        years.1
    );
    print!("{}", study::markdown(&spec.run(&panel)));
    Ok(())
}

async fn doctor(config_path: &Path) -> anyhow::Result<()> {
    let report = slt_hub::doctor::examine(config_path).await;
    for finding in &report.findings {
        println!("{finding}");
    }
    println!(
        "\n{} problem(s), {} warning(s)",
        report.problems(),
        report.warnings()
    );
    if report.problems() > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn release(
    config_path: &Path,
    out: &Path,
    k: usize,
    (from, to): (Option<String>, Option<String>),
) -> anyhow::Result<()> {
    let date = |text: Option<String>, flag: &str| -> anyhow::Result<Option<time::Date>> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        text.map(|text| {
            time::Date::parse(&text, format)
                .with_context(|| format!("{flag} '{text}': expected YYYY-MM-DD"))
        })
        .transpose()
    };
    let options = slt_hub::release::ReleaseOptions {
        k,
        from: date(from, "--from")?,
        to: date(to, "--to")?,
    };
    let config = HubConfig::load(config_path)?;
    let policy = slt_hub::load_policy(&config)?;
    let store = Store::open(&config.database_url)
        .await
        .context("opening the database")?;
    let result =
        slt_hub::release::run(&store, &config.hub_id, policy.version(), &options, out).await;
    store.close().await;
    let disclosure = result?;
    println!(
        "released {} of {} eligible incidents ({} withheld) into {}; k achieved {}, global \
         re-identification risk {:.2}% ({} the {:.0}% threshold)",
        disclosure.records_released,
        disclosure.records_eligible,
        disclosure.records_withheld,
        out.display(),
        disclosure.k_achieved,
        disclosure.global_risk * 100.0,
        if disclosure.global_risk_under_threshold {
            "under"
        } else {
            "NOT under"
        },
        disclosure.global_risk_threshold * 100.0,
    );
    Ok(())
}

async fn peers(config_path: &Path, json: bool) -> anyhow::Result<()> {
    let config = HubConfig::load(config_path)?;
    let mut agreements = config.peers.clone();
    if let Some(path) = &config.peer_registry {
        agreements.extend(
            slt_hub::identity::agreement::read_peer_file(path)
                .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?,
        );
    }
    let store = Store::open(&config.database_url)
        .await
        .context("opening the database")?;
    let states = store.peer_states().await?;
    store.close().await;
    let statuses =
        slt_hub::api::admin::peer_statuses(&agreements, states, time::OffsetDateTime::now_utc());
    if json {
        let rows: Vec<serde_json::Value> = statuses
            .iter()
            .map(|peer| {
                serde_json::json!({
                    "hub_id": peer.hub_id, "endpoint": peer.endpoint, "tier": peer.tier,
                    "transitive": peer.transitive, "pulling": peer.pulling,
                    "configured": peer.configured,
                    "last_success": peer.last_success.as_ref().map(|t| t.seconds),
                    "lag_changes": peer.lag_changes, "lag_seconds": peer.lag_seconds,
                    "consecutive_errors": peer.consecutive_errors,
                    "errors_total": peer.errors_total, "last_error": peer.last_error,
                    "applied_total": peer.applied_total,
                    "duplicates_total": peer.duplicates_total,
                    "withheld_total": peer.withheld_total, "revoked_total": peer.revoked_total,
                    "withheld_egress_total": peer.withheld_egress_total,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<16} {:<4} {:<5} {:>9} {:>8} {:>9} {:>8} {:>9} {:>8} {:>7} {:>9}  LAST ERROR",
        "PEER",
        "TIER",
        "TRANS",
        "APPLIED",
        "DUPES",
        "WITHHELD",
        "REVOKED",
        "LAG(CHG)",
        "LAG(S)",
        "ERRORS",
        "NOT SENT"
    );
    for peer in statuses {
        println!(
            "{:<16} {:<4} {:<5} {:>9} {:>8} {:>9} {:>8} {:>9} {:>8} {:>7} {:>9}  {}",
            peer.hub_id,
            peer.tier,
            if peer.transitive { "yes" } else { "no" },
            peer.applied_total,
            peer.duplicates_total,
            peer.withheld_total,
            peer.revoked_total,
            peer.lag_changes,
            peer.lag_seconds,
            peer.consecutive_errors,
            peer.withheld_egress_total,
            peer.last_error
        );
    }
    Ok(())
}

/// The three demo hubs: id, trust domain, port offset.
const DEMO_HUBS: [(&str, &str, u16); 3] = [
    ("hub-a", "a.slt.dev", 0),
    ("hub-b", "b.slt.dev", 1),
    ("hub-c", "c.slt.dev", 2),
];

async fn federation_demo(dir: &Path, base_port: u16) -> anyhow::Result<()> {
    // A reused demo keeps the addresses it was made with (its profiles name them).
    let mut addresses = Vec::new();
    for (hub, domain, offset) in DEMO_HUBS {
        let hub_dir = dir.join(hub);
        let config_path = hub_dir.join("hub.toml");
        if config_path.exists() {
            // Its CRL must not have run out.
            dev::refresh_crl(&hub_dir.join("pki"))?;
            addresses.push(HubConfig::load(&config_path)?.listen);
        } else {
            let address = SocketAddr::from(([127, 0, 0, 1], base_port.saturating_add(offset)));
            dev::create_hub(&hub_dir, hub, domain, address, true)
                .with_context(|| format!("creating {}", hub_dir.display()))?;
            addresses.push(address);
        }
    }
    let listen = |offset: u16| addresses[usize::from(offset)];
    // Every hub federates with the other two (T1, not transitive: one hop).
    for (hub, _, _) in DEMO_HUBS {
        let peers: Vec<_> = DEMO_HUBS
            .iter()
            .filter(|(other, _, _)| *other != hub)
            .map(|(other, domain, offset)| {
                dev::peer_agreement(&dir.join(other), other, domain, listen(*offset))
            })
            .collect();
        dev::write_peers(&dir.join(hub), &peers)?;
    }
    let binary = std::env::current_exe().context("locating slt-hub")?;
    let mut children = Vec::new();
    for (hub, _, offset) in DEMO_HUBS {
        let child = std::process::Command::new(&binary)
            .arg("serve")
            .arg("--config")
            .arg(dir.join(hub).join("hub.toml"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {hub}"))?;
        println!("{hub} on https://{} (pid {})", listen(offset), child.id());
        children.push(child);
    }
    println!(
        "\nThree hubs, each with its own CA, database and dev orgs, pull from each other.
Submit at hub-a and read at hub-b (T1: one hop, FEDERATION arrives as COMMUNITY):
  slt --profile {a}/profiles/ngo-alpha.reporter.toml submit {a}/examples/incident.json
    (first set \"distribution\": \"DISTRIBUTION_FEDERATION\", and make it three alike
    under new ids: below T2 records travel only in classes of 3, docs/disclosure.md)
  slt --profile {b}/profiles/ngo-beta.analyst.toml list
Peer status:  slt-hub peers --config {a}/hub.toml
Agreements:   {a}/peers.toml (edit: reloaded while running)
Ctrl-C stops all three.",
        a = dir.join("hub-a").display(),
        b = dir.join("hub-b").display(),
    );
    shutdown_signal().await;
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(())
}

fn run_pki(command: PkiCommand) -> anyhow::Result<()> {
    use slt_hub::pki::PkiDir;
    match command {
        PkiCommand::Init {
            dir,
            trust_domain,
            crl_days,
        } => {
            PkiDir::init(&dir, &trust_domain, crl_days)?;
            println!(
                "CA for trust domain '{trust_domain}' created in {}
  CA certificate (give it to hubs and clients): {}
  CRL (hub.toml tls.crl): {}
  CA key (keep offline, 0600): {}",
                dir.display(),
                PkiDir::ca_path(&dir).display(),
                PkiDir::crl_path(&dir).display(),
                dir.join("ca.key").display()
            );
        }
        PkiCommand::IssueOrg { dir, org, days } => {
            let mut pki = PkiDir::open(&dir)?;
            let out = pki.issue_org(&org, days)?;
            print_issued(&out)?;
        }
        PkiCommand::IssueHub {
            dir,
            hub,
            dns,
            ip,
            days,
        } => {
            let mut pki = PkiDir::open(&dir)?;
            let out = pki.issue_hub(&hub, &dns, &ip, days)?;
            print_issued(&out)?;
            println!(
                "  federation key (0600, hub.toml federation_signing_key): {}\n  its public half (peers' origin_key): {}",
                out.join("federation-signing.key").display(),
                out.join("federation-signing.pub.pem").display()
            );
        }
        PkiCommand::Revoke { dir, serial, cert } => {
            let mut pki = PkiDir::open(&dir)?;
            let serial = match (serial, cert) {
                (Some(serial), _) => serial,
                (None, Some(cert)) => {
                    let text = std::fs::read_to_string(&cert)
                        .with_context(|| format!("reading {}", cert.display()))?;
                    slt_hub::pki::certificate_serial(&text)
                        .with_context(|| format!("--cert {}", cert.display()))?
                }
                (None, None) => bail!("give --serial or --cert"),
            };
            pki.revoke(&serial)?;
            println!(
                "revoked {serial}; CRL #{} written to {}",
                pki.state.crl_number,
                PkiDir::crl_path(&dir).display()
            );
        }
        PkiCommand::Crl { dir } => {
            let mut pki = PkiDir::open(&dir)?;
            pki.write_crl()?;
            println!(
                "CRL #{} written to {}",
                pki.state.crl_number,
                PkiDir::crl_path(&dir).display()
            );
        }
    }
    Ok(())
}

fn print_issued(out: &Path) -> anyhow::Result<()> {
    let cert = std::fs::read_to_string(out.join("cert.pem"))?;
    println!(
        "issued {}
  certificate: {}
  key (0600): {}
  serial: {}
  x5t#S256: {}",
        out.display(),
        out.join("cert.pem").display(),
        out.join("key.pem").display(),
        slt_hub::pki::certificate_serial(&cert)?,
        identity::token::certificate_thumbprint(&cert)?
    );
    Ok(())
}

async fn serve(dev: bool, source: &ConfigSource, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let config_path = if dev {
        let environment = dev::ensure(&source.data_dir, listen.unwrap_or(dev::DEFAULT_DEV_LISTEN))
            .context("creating the dev environment")?;
        if environment.created {
            tracing::info!(dir = %source.data_dir.display(), "created a new dev environment");
        }
        environment.config_path
    } else {
        source.path()
    };
    let config = HubConfig::load(&config_path)?;
    let address = listen.unwrap_or(config.listen);
    let store = Store::open(&config.database_url)
        .await
        .context("opening the database")?;
    tracing::info!(backend = store.backend_name(), "database open");
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(%bound, hub = %config.hub_id, "SLT Hub serving (mutual TLS)");
    // Auditors verify checkpoints with this key: print it where an operator will find it.
    let audit_key = std::fs::read_to_string(&config.audit_public_key)
        .with_context(|| format!("reading {}", config.audit_public_key.display()))?;
    println!(
        "audit checkpoints are signed with this key ({}):\n{}",
        config.audit_public_key.display(),
        audit_key.trim()
    );
    if dev {
        print_dev_banner(&source.data_dir, bound);
    }
    let result = slt_hub::serve(listener, config, store.clone(), shutdown_signal()).await;
    store.close().await;
    result.context("serving")
}

fn print_dev_banner(dir: &Path, bound: SocketAddr) {
    let dir = dir.display();
    println!(
        "\nSLT Hub dev mode is serving on https://{bound} (data in {dir}).\n\
         Try, in another terminal (from the repository root):\n\n\
         \x20 cargo run -q -p slt-client -- --profile {dir}/profiles/ngo-alpha.reporter.toml submit {dir}/examples/incident.json\n\
         \x20 cargo run -q -p slt-client -- --profile {dir}/profiles/ngo-alpha.reporter.toml list\n\
         \x20 cargo run -q -p slt-client -- --profile {dir}/profiles/ngo-alpha.reporter.toml get <ID>\n\
         \x20 cargo run -q -p slt-client -- --profile {dir}/profiles/undss.focal_point.toml get <ID>   # another org: redacted\n\n\
         Profiles for every dev org and role are in {dir}/profiles/. Stop with Ctrl-C.\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "could not listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "could not listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

struct TokenRequest<'a> {
    org: &'a str,
    subject: &'a str,
    roles: &'a [String],
    ttl: &'a str,
    bind_cert: Option<&'a Path>,
}

fn issue_token(config_path: &Path, request: &TokenRequest<'_>) -> anyhow::Result<()> {
    let TokenRequest {
        org,
        subject,
        roles,
        ttl,
        bind_cert,
    } = *request;
    let config = HubConfig::load(config_path)?;
    let mut orgs = config.orgs.clone();
    if let Some(registry) = &config.org_registry {
        orgs.extend(slt_hub::identity::reload::read_registry(registry)?);
    }
    let Some(entry) = orgs.iter().find(|entry| entry.id == org) else {
        bail!(
            "organisation '{org}' is not registered in {}",
            config_path.display()
        );
    };
    if !entry.hub_tokens {
        bail!(
            "organisation '{org}' does not accept tokens issued by this hub (hub_tokens = false)"
        );
    }
    if entry.require_token_binding && bind_cert.is_none() {
        bail!("organisation '{org}' requires bound tokens: give --bind-cert with its certificate");
    }
    let mut parsed = Vec::new();
    for name in roles {
        let role = Role::parse(name.trim()).with_context(|| format!("unknown role '{name}'"))?;
        if !entry.roles.contains(&role) {
            bail!("organisation '{org}' may not hold role '{role}'");
        }
        parsed.push(role);
    }
    let ttl_seconds = parse_ttl(ttl)?;
    if ttl_seconds.unsigned_abs() > config.max_token_ttl_seconds {
        bail!(
            "--ttl {ttl}: this hub accepts tokens valid for at most {} seconds (max_token_ttl_seconds)",
            config.max_token_ttl_seconds
        );
    }
    let thumbprint = match bind_cert {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                identity::token::certificate_thumbprint(&text)
                    .with_context(|| format!("--bind-cert {}", path.display()))?,
            )
        }
        None => None,
    };
    let private = read_key_file(&config.tokens.signing_key)?;
    let public = read_key_file(&config.tokens.public_key)?;
    let issuer = TokenIssuer::new(&config.hub_id, &private, &public)?;
    println!(
        "{}",
        issuer.issue_bound(org, subject, &parsed, ttl_seconds, thumbprint.as_deref())?
    );
    Ok(())
}

/// `30s`, `30m`, `8h`, `7d`.
fn parse_ttl(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: i64 = number
        .parse()
        .with_context(|| format!("--ttl '{text}': expected a number and a unit (s, m, h, d)"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => bail!("--ttl '{text}': the unit must be s, m, h or d"),
    };
    if seconds <= 0 {
        bail!("--ttl must be positive");
    }
    Ok(seconds)
}

/// Logs to stderr, one line per event (JSON objects with `--log-format json`), and spans to
/// the OpenTelemetry layer (exported when `OTEL_EXPORTER_OTLP_ENDPOINT` is set). The returned
/// provider is shut down at exit, sending the last spans.
fn init_logging(format: LogFormat) -> anyhow::Result<SdkTracerProvider> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let endpoint = std::env::var(telemetry::OTLP_ENDPOINT_ENV)
        .ok()
        .filter(|endpoint| !endpoint.trim().is_empty());
    let provider = telemetry::provider(endpoint.as_deref())?;
    // Colours only on a terminal: a log file or journal gets plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        // One object per line: the event's fields at the top level, its span's fields under
        // "span".
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    // RUST_LOG chooses what is logged, not what is traced: the hub's own spans (RPCs, store
    // calls, federation pulls) reach the tracer whatever the log level.
    let spans =
        tracing_subscriber::filter::Targets::new().with_target("slt_hub", tracing::Level::INFO);
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(telemetry::layer(&provider).with_filter(spans))
        .init();
    Ok(provider)
}
