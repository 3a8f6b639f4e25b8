//! `slt`: the partner CLI. A thin shell over the slt-client SDK.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use slt_client::{
    ClientError, HubClient, Mirror, Profile, SyncOptions, awsd, import, json, proto as pb,
};

#[derive(Parser)]
#[command(name = "slt", version, about = "SLT Hub partner CLI")]
struct Cli {
    /// Client profile (endpoint, CA, certificate, key, token).
    #[arg(long, env = "SLT_PROFILE", global = true)]
    profile: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Submit one incident or a JSON array of them (canonical proto3 JSON); '-' reads stdin.
    Submit { file: PathBuf },
    /// Show one incident.
    Get { id: String },
    /// List incidents you may see.
    List(ListArgs),
    /// Replace an incident's content (the file holds the complete incident, with its id).
    Amend {
        file: PathBuf,
        /// The version you last saw.
        #[arg(long)]
        expected_version: u64,
    },
    /// Keep a local SQLite mirror of everything this profile may see (resumable).
    Sync {
        /// The mirror file (created on first use; bound to this hub and principal).
        #[arg(long)]
        mirror: PathBuf,
        #[command(flatten)]
        filter: SyncFilterArgs,
        /// Change-log entries per page.
        #[arg(long, default_value_t = 500)]
        page_size: i32,
        /// After catching up, stay connected and apply changes as they happen.
        #[arg(long)]
        follow: bool,
        /// Empty the mirror and start from the beginning (after "resync required").
        #[arg(long)]
        resync: bool,
    },
    /// Federation status of the hub's peers (admins): last success, lag, errors, withheld.
    Peers,
    /// The access log (auditors): query, export, verify offline.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Bulk imports.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Print changes as they happen (catching up from --cursor first).
    Subscribe {
        /// Start after this cursor (default: the beginning of the feed).
        #[arg(long, default_value = "")]
        cursor: String,
        #[command(flatten)]
        filter: SyncFilterArgs,
        /// Seconds between heartbeats while idle.
        #[arg(long, default_value_t = 15)]
        heartbeat: i32,
    },
    /// The shared threat picture: counts per area, group and period, trends, alerts,
    /// hotspots and security levels (suppressed counts show as "x").
    Picture(PictureArgs),
    /// Security advisories: issue (focal points), supersede, list.
    Advisory {
        #[command(subcommand)]
        command: AdvisoryCommand,
    },
    /// Retract an incident.
    Retract {
        id: String,
        #[arg(long)]
        reason: String,
        /// The version you last saw.
        #[arg(long)]
        expected_version: u64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Records matching a query.
    Query {
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// e.g. /slt.v1.IncidentService/GetIncident
        #[arg(long)]
        method: Option<String>,
        /// Records that named or returned this incident.
        #[arg(long)]
        incident: Option<String>,
        /// A gRPC code name, e.g. PERMISSION_DENIED.
        #[arg(long)]
        outcome: Option<String>,
        /// RFC 3339 bounds, inclusive.
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 100)]
        page_size: i32,
    },
    /// Export every record and checkpoint as JSON lines (for `slt audit verify`).
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an export offline: the hash chain and every checkpoint signature. Exit code 0
    /// only when everything holds; otherwise names the first broken record.
    Verify {
        file: PathBuf,
        /// The hub's audit public key (PEM), e.g. slt-data/pki/audit-signing.pub.pem.
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(clap::Args)]
struct PictureArgs {
    /// ISO country code (alpha-3 or alpha-2); repeatable, at least one.
    #[arg(long = "country", required = true)]
    countries: Vec<String>,
    /// Only these admin1 areas; repeatable.
    #[arg(long)]
    admin1: Vec<String>,
    /// First day (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// Last day (YYYY-MM-DD).
    #[arg(long)]
    to: String,
    /// Area level and period, e.g. `admin1,month` or `country,year` (week, month, quarter,
    /// year).
    #[arg(long, default_value = "country,month")]
    by: String,
    /// Rows within an area: category (threat category), type (incident type) or none.
    #[arg(long, default_value = "category")]
    group: String,
    /// Also write a self-contained HTML report (inline SVG charts, no scripts) to FILE.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdvisoryCommand {
    /// Issue an advisory from a JSON file (canonical proto3 JSON of slt.v1.Advisory); with
    /// --expected-version, supersede that version of the advisory with the same id.
    Issue {
        file: PathBuf,
        #[arg(long, default_value_t = 0)]
        expected_version: u64,
    },
    /// The advisories you may see.
    List {
        #[arg(long = "country")]
        countries: Vec<String>,
        /// Only those in force on this day (YYYY-MM-DD).
        #[arg(long)]
        valid_on: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// The Aid Worker Security Database public CSV export (idempotent: safe to run again).
    Awsd {
        file: PathBuf,
        /// Incidents per SubmitIncidents call (each batch is all-or-nothing).
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
    },
}

#[derive(clap::Args)]
struct SyncFilterArgs {
    /// Only these countries (ISO alpha-3 or alpha-2); repeatable.
    #[arg(long = "country")]
    countries: Vec<String>,
    /// Only incidents with one of these types (e.g. KILLING); repeatable.
    #[arg(long = "type")]
    types: Vec<String>,
}

impl SyncFilterArgs {
    fn to_proto(&self) -> anyhow::Result<pb::SyncFilter> {
        Ok(pb::SyncFilter {
            countries: self.countries.clone(),
            incident_types: self
                .types
                .iter()
                .map(|value| {
                    enum_value("type", value, "INCIDENT_TYPE_", |name| {
                        pb::IncidentType::from_str_name(name).map(|v| v as i32)
                    })
                })
                .collect::<anyhow::Result<Vec<i32>>>()?,
        })
    }
}

#[derive(clap::Args)]
struct ListArgs {
    /// ISO country code (alpha-3 or alpha-2); repeatable.
    #[arg(long = "country")]
    countries: Vec<String>,
    /// admin1 name; repeatable.
    #[arg(long)]
    admin1: Vec<String>,
    /// Occurred on or after (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Occurred on or before (YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// Incident type (e.g. KILLING); repeatable.
    #[arg(long = "type")]
    types: Vec<String>,
    /// Threat category (e.g. CRIME); repeatable.
    #[arg(long = "category")]
    categories: Vec<String>,
    /// Verification status (e.g. VERIFIED, RETRACTED); repeatable.
    #[arg(long = "verification")]
    verifications: Vec<String>,
    /// Origin organisation (matches only incidents you see at T2); repeatable.
    #[arg(long = "origin-org")]
    origin_orgs: Vec<String>,
    /// Page size (default 100, at most 1000).
    #[arg(long, default_value_t = 100)]
    page_size: i32,
    /// Continue from a previous page's token.
    #[arg(long, default_value = "")]
    page_token: String,
    /// Follow page tokens to the end.
    #[arg(long)]
    all: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(ClientError::InvalidArgument { violations, .. }) =
                error.downcast_ref::<ClientError>()
            {
                for violation in violations {
                    eprintln!("  {}: {}", violation.field, violation.description);
                }
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Verification is offline on purpose: it must not depend on the hub being honest or up.
    if let Command::Audit {
        command: AuditCommand::Verify { file, key },
    } = &cli.command
    {
        return audit_verify(file, key);
    }
    let Some(profile_path) = cli.profile else {
        bail!("no profile: pass --profile FILE or set SLT_PROFILE");
    };
    let profile = Profile::load(&profile_path)?;
    let mut hub = HubClient::connect(&profile).await?;
    match cli.command {
        Command::Submit { file } => {
            let incidents = json::incidents_from_json(&read_input(&file)?)?;
            if incidents.is_empty() {
                bail!("{} holds no incident", file.display());
            }
            let mut results = Vec::new();
            // Each batch is all-or-nothing on its own; 1,000 is the hub's batch limit.
            for batch in incidents.chunks(1_000) {
                results.extend(hub.submit(batch.to_vec()).await?);
            }
            print_submit_results(cli.format, &results)
        }
        Command::Get { id } => {
            let incident = hub.get(&id).await?;
            print_incidents(cli.format, std::slice::from_ref(&incident), true)
        }
        Command::List(args) => {
            let filter = list_filter(&args)?;
            if args.all {
                let incidents = hub.list_all(filter).await?;
                print_incidents(cli.format, &incidents, false)
            } else {
                let page = hub.list(filter, args.page_size, args.page_token).await?;
                print_incidents(cli.format, &page.incidents, false)?;
                if !page.next_page_token.is_empty() && cli.format == Format::Table {
                    eprintln!("more: --page-token {}", page.next_page_token);
                }
                Ok(())
            }
        }
        Command::Amend {
            file,
            expected_version,
        } => {
            let mut incidents = json::incidents_from_json(&read_input(&file)?)?;
            if incidents.len() != 1 {
                bail!("{} must hold exactly one incident", file.display());
            }
            let incident = hub.amend(incidents.remove(0), expected_version).await?;
            print_incidents(cli.format, std::slice::from_ref(&incident), true)
        }
        Command::Sync {
            mirror,
            filter,
            page_size,
            follow,
            resync,
        } => {
            sync(
                &mut hub,
                &mirror,
                filter.to_proto()?,
                page_size,
                follow,
                resync,
            )
            .await
        }
        Command::Import {
            source: ImportSource::Awsd { file, batch_size },
        } => import_awsd(&mut hub, &file, batch_size).await,
        Command::Audit { command } => audit(&mut hub, cli.format, command).await,
        Command::Peers => peers(&mut hub, cli.format).await,
        Command::Subscribe {
            cursor,
            filter,
            heartbeat,
        } => subscribe(&mut hub, cli.format, &cursor, filter.to_proto()?, heartbeat).await,
        Command::Picture(args) => picture(&mut hub, cli.format, &args).await,
        Command::Advisory { command } => advisory(&mut hub, cli.format, command).await,
        Command::Retract {
            id,
            reason,
            expected_version,
        } => {
            let incident = hub.retract(&id, &reason, expected_version).await?;
            print_incidents(cli.format, std::slice::from_ref(&incident), true)
        }
    }
}

async fn sync(
    hub: &mut HubClient,
    path: &PathBuf,
    filter: pb::SyncFilter,
    page_size: i32,
    follow: bool,
    resync: bool,
) -> anyhow::Result<()> {
    let mirror = Mirror::open(path).await?;
    if resync {
        mirror.reset().await?;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} changes  {per_sec}  eta {eta}  {wide_bar}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let options = SyncOptions {
        filter: filter.clone(),
        page_size,
        ..SyncOptions::default()
    };
    let result = mirror
        .sync(hub, &options, |progress| {
            bar.set_length(progress.applied + progress.remaining);
            bar.set_position(progress.applied);
        })
        .await;
    bar.finish_and_clear();
    let stats = match result {
        Ok(stats) => stats,
        Err(slt_client::MirrorError::Hub(ClientError::ResyncRequired(reason))) => {
            bail!("{reason}\nthe hub cannot continue this mirror: run again with --resync");
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "synced {}: {} upserts, {} retracts, {} revokes in {:.1}s ({} pages{}{}); the mirror holds {} incidents",
        path.display(),
        stats.upserts,
        stats.retracts,
        stats.revokes,
        stats.duration.as_secs_f64(),
        stats.pages,
        if stats.resumed {
            ", resumed from the mirror's checkpoint"
        } else {
            ", from the beginning"
        },
        if stats.retries > 0 {
            format!(", {} retries", stats.retries)
        } else {
            String::new()
        },
        mirror.len().await?
    );
    if follow {
        eprintln!("following live changes (Ctrl-C to stop)");
        mirror
            .follow(hub, &filter, 15, |changes, _| {
                for change in changes {
                    println!("{}", change_line(change));
                }
                true
            })
            .await?;
    }
    Ok(())
}

async fn audit(hub: &mut HubClient, format: Format, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Query {
            org,
            subject,
            method,
            incident,
            outcome,
            from,
            to,
            page_size,
        } => {
            let response = hub
                .query_audit(pb::QueryAuditRequest {
                    from_time: from.unwrap_or_default(),
                    to_time: to.unwrap_or_default(),
                    org: org.unwrap_or_default(),
                    subject: subject.unwrap_or_default(),
                    method: method.unwrap_or_default(),
                    incident_id: incident.unwrap_or_default(),
                    outcome: outcome.unwrap_or_default(),
                    page_size,
                    page_token: String::new(),
                })
                .await?;
            if format == Format::Json {
                for record in &response.records {
                    println!(
                        "{}",
                        serde_json::to_string(&json::to_json(record, "slt.v1.AuditRecord")?)?
                    );
                }
                return Ok(());
            }
            let rows: Vec<Vec<String>> = response
                .records
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        r.time.clone(),
                        r.org.clone(),
                        r.subject.clone(),
                        r.method.clone(),
                        r.outcome.clone(),
                        r.records_returned.to_string(),
                        r.incident_ids.len().to_string(),
                    ]
                })
                .collect();
            print_rows(
                format,
                &[
                    "seq",
                    "time",
                    "org",
                    "subject",
                    "method",
                    "outcome",
                    "returned",
                    "incidents",
                ],
                &rows,
            )
        }
        AuditCommand::Export { out } => {
            use std::io::Write;
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(&out)
                    .with_context(|| format!("creating {}", out.display()))?,
            );
            let mut stream = hub.export_audit(1).await?;
            let (mut records, mut checkpoints) = (0, 0);
            while let Some(page) = stream.message().await.map_err(ClientError::from)? {
                for record in &page.records {
                    let value = json::to_json(record, "slt.v1.AuditRecord")?;
                    writeln!(file, "{}", serde_json::json!({ "record": value }))?;
                    records += 1;
                }
                for checkpoint in &page.checkpoints {
                    let value = json::to_json(checkpoint, "slt.v1.Checkpoint")?;
                    writeln!(file, "{}", serde_json::json!({ "checkpoint": value }))?;
                    checkpoints += 1;
                }
            }
            file.flush()?;
            println!(
                "exported {records} records and {checkpoints} checkpoints to {}",
                out.display()
            );
            Ok(())
        }
        AuditCommand::Verify { file, key } => audit_verify(&file, &key),
    }
}

/// Offline verification of an export.
fn audit_verify(file: &PathBuf, key: &PathBuf) -> anyhow::Result<()> {
    let key_pem =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let key_der = key_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<String>();
    let key_der = base64_decode(&key_der).context("the key is not PEM")?;
    if key_der.len() != 44 {
        bail!("{} is not an Ed25519 public key (SPKI PEM)", key.display());
    }
    let public_key = &key_der[12..];
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let (records, checkpoints) = json::audit_export_from_json_lines(&text)?;
    match slt_proto::audit_chain::verify(&records, &checkpoints, public_key) {
        Ok(verified) => {
            println!(
                "OK: {} records chained and {} checkpoints verified; signed up to record {}",
                verified.records, verified.checkpoints, verified.signed_up_to
            );
            Ok(())
        }
        Err(error) => bail!("FAILED: {error}"),
    }
}

/// Standard base64 (PEM bodies).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let url_safe: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    slt_proto::audit_chain::base64_url_decode(&url_safe)
}

async fn import_awsd(hub: &mut HubClient, file: &PathBuf, batch_size: usize) -> anyhow::Result<()> {
    // Rows are about one per incident; counting them first gives the bar a length.
    let total = awsd::open_awsd(file)?.count() as u64;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} rows  {per_sec}  eta {eta}  {wide_bar}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = import::import_awsd(hub, file, batch_size, |rows| bar.set_position(rows)).await;
    bar.finish_and_clear();
    let report = report?;
    println!(
        "imported {}: {} rows, {} created, {} unchanged, {} conflicts, {} skipped in {:.1}s",
        file.display(),
        report.rows,
        report.created,
        report.unchanged,
        report.conflicts,
        report.skipped,
        report.duration.as_secs_f64()
    );
    if !report.scrubbed.is_empty() {
        let scrubbed: Vec<String> = report
            .scrubbed
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        println!(
            "personal data removed from narratives by the hub: {}",
            scrubbed.join(", ")
        );
    }
    print!("warnings: {}", report.warnings);
    if report.conflicts > 0 {
        bail!(
            "{} incidents conflict with different records already on the hub",
            report.conflicts
        );
    }
    Ok(())
}

async fn subscribe(
    hub: &mut HubClient,
    format: Format,
    cursor: &str,
    filter: pb::SyncFilter,
    heartbeat: i32,
) -> anyhow::Result<()> {
    let mut stream = hub.subscribe(cursor, filter, heartbeat).await?;
    let mut announced_live = false;
    while let Some(message) = stream.message().await.map_err(ClientError::from)? {
        for change in &message.changes {
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::to_string(&json::to_json(change, "slt.v1.Change")?)?
                );
            } else {
                println!("{}", change_line(change));
            }
        }
        if message.live && !announced_live {
            announced_live = true;
            eprintln!("caught up; live (cursor {})", message.cursor);
        }
    }
    Ok(())
}

fn change_line(change: &pb::Change) -> String {
    let kind = pb::ChangeType::try_from(change.r#type)
        .map(|t| short(t.as_str_name(), "CHANGE_TYPE_"))
        .unwrap_or_else(|_| "?".into());
    if !change.advisory_id.is_empty() {
        return match &change.advisory {
            Some(advisory) => format!(
                "{kind:<8} advisory {}  v{}  {}  level {}",
                advisory.id, advisory.version, advisory.country, advisory.security_level
            ),
            None => format!("{kind:<8} advisory {}", change.advisory_id),
        };
    }
    match &change.incident {
        Some(incident) => {
            let row = incident_row(incident);
            format!(
                "{kind:<8} {}  v{}  {}  {}  {}  {}",
                row[0], row[1], row[2], row[3], row[5], row[6]
            )
        }
        None => format!("{kind:<8} {}", change.incident_id),
    }
}

fn picture_request(args: &PictureArgs) -> anyhow::Result<pb::GetThreatPictureRequest> {
    let mut area_level = pb::AreaLevel::Country;
    let mut granularity = pb::Granularity::Month;
    for part in args.by.split(',').map(|p| p.trim().to_ascii_lowercase()) {
        match part.as_str() {
            "country" => area_level = pb::AreaLevel::Country,
            "admin1" => area_level = pb::AreaLevel::Admin1,
            "week" => granularity = pb::Granularity::Week,
            "month" => granularity = pb::Granularity::Month,
            "quarter" => granularity = pb::Granularity::Quarter,
            "year" => granularity = pb::Granularity::Year,
            "" => {}
            other => bail!(
                "--by '{other}': expected country or admin1, and week, month, quarter or year"
            ),
        }
    }
    let group_by = match args.group.trim().to_ascii_lowercase().as_str() {
        "category" | "threat_category" => pb::PictureGroup::ThreatCategory,
        "type" | "incident_type" => pb::PictureGroup::IncidentType,
        "none" | "all" => pb::PictureGroup::None,
        other => bail!("--group '{other}': expected category, type or none"),
    };
    Ok(pb::GetThreatPictureRequest {
        countries: args.countries.clone(),
        admin1: args.admin1.clone(),
        from: Some(date("from", &args.from)?),
        to: Some(date("to", &args.to)?),
        granularity: granularity as i32,
        area_level: area_level as i32,
        group_by: group_by as i32,
    })
}

async fn picture(hub: &mut HubClient, format: Format, args: &PictureArgs) -> anyhow::Result<()> {
    let picture = hub.threat_picture(picture_request(args)?).await?;
    if let Some(path) = &args.html {
        let title = format!(
            "Threat picture: {} ({} to {})",
            args.countries.join(", "),
            args.from,
            args.to
        );
        let generated = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        std::fs::write(
            path,
            slt_client::report::picture_html(&picture, &title, &generated),
        )
        .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json::to_json(
                &picture,
                "slt.v1.GetThreatPictureResponse"
            )?)?
        );
        return Ok(());
    }
    use slt_client::report::count_text;
    let mut header: Vec<String> = vec!["area".into(), "group".into()];
    header.extend(picture.periods.iter().cloned());
    header.push("total".into());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for row in &picture.rows {
        let mut line = vec![
            if row.admin1.is_empty() {
                row.country.clone()
            } else {
                format!("{}/{}", row.country, row.admin1)
            },
            row.group.clone(),
        ];
        for cell in &row.cells {
            let mut text = count_text(&cell.incidents);
            if cell.alert == pb::Alert::Elevated as i32 {
                text.push('!');
            }
            line.push(text);
        }
        line.push(count_text(&row.incidents_total));
        rows.push(line);
    }
    let mut totals = vec!["all".to_string(), String::new()];
    totals.extend(picture.period_totals.iter().map(|t| count_text(&Some(*t))));
    totals.push(count_text(&picture.total));
    rows.push(totals);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_rows(format, &header, &rows)?;
    if format == Format::Table {
        let tier = pb::AccessTier::try_from(picture.tier)
            .map(|t| short(t.as_str_name(), "ACCESS_TIER_"))
            .unwrap_or_else(|_| "?".into());
        println!(
            "tier {tier}{}; ! = elevated (above the 95% Poisson bound of the 12 periods before)",
            if picture.k > 0 {
                format!("; x = suppressed (k = {})", picture.k)
            } else {
                String::new()
            }
        );
        for level in &picture.security_levels {
            let name = pb::SecurityLevel::try_from(level.security_level)
                .map(|l| short(l.as_str_name(), "SECURITY_LEVEL_"))
                .unwrap_or_else(|_| "?".into());
            println!(
                "security level {}{}: {} ({}) advisory {} v{}",
                level.country,
                if level.admin1.is_empty() {
                    String::new()
                } else {
                    format!("/{}", level.admin1)
                },
                level.security_level,
                name,
                level.advisory_id,
                level.advisory_version
            );
        }
        for hotspot in &picture.hotspots {
            println!(
                "hotspot {}{}: severity {:.0}{}",
                hotspot.country,
                if hotspot.admin1.is_empty() {
                    String::new()
                } else {
                    format!("/{}", hotspot.admin1)
                },
                hotspot.score,
                if hotspot.partial { "+" } else { "" }
            );
        }
    }
    Ok(())
}

async fn advisory(
    hub: &mut HubClient,
    format: Format,
    command: AdvisoryCommand,
) -> anyhow::Result<()> {
    let advisories = match command {
        AdvisoryCommand::Issue {
            file,
            expected_version,
        } => {
            let advisory: pb::Advisory =
                json::message_from_json(&read_input(&file)?, "slt.v1.Advisory")?;
            vec![hub.issue_advisory(advisory, expected_version).await?]
        }
        AdvisoryCommand::List {
            countries,
            valid_on,
        } => {
            hub.list_advisories(pb::ListAdvisoriesRequest {
                countries,
                valid_on: valid_on
                    .as_deref()
                    .map(|d| date("valid-on", d))
                    .transpose()?,
            })
            .await?
        }
    };
    if format == Format::Json {
        let values = advisories
            .iter()
            .map(|a| json::to_json(a, "slt.v1.Advisory"))
            .collect::<Result<Vec<_>, _>>()?;
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    let day = |d: &Option<slt_proto::google::r#type::Date>| {
        d.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    let rows: Vec<Vec<String>> = advisories
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.version.to_string(),
                format!(
                    "{}{}",
                    a.country,
                    a.admin1
                        .as_ref()
                        .map(|area| format!("/{}", area.name))
                        .unwrap_or_default()
                ),
                pb::SecurityLevel::try_from(a.security_level)
                    .map(|l| short(l.as_str_name(), "SECURITY_LEVEL_"))
                    .unwrap_or_default(),
                day(&a.valid_from),
                day(&a.valid_until),
                a.issuing_org.clone(),
                a.summary.clone(),
            ]
        })
        .collect();
    print_rows(
        format,
        &[
            "id", "version", "area", "level", "from", "until", "issuer", "summary",
        ],
        &rows,
    )
}

fn read_input(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// Accepts `KILLING`, `killing` or `INCIDENT_TYPE_KILLING`.
fn enum_value(
    flag: &str,
    value: &str,
    prefix: &str,
    parse: fn(&str) -> Option<i32>,
) -> anyhow::Result<i32> {
    let upper = value.trim().to_ascii_uppercase().replace('-', "_");
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    parse(&full).with_context(|| format!("--{flag} '{value}' is not a known value"))
}

fn date(flag: &str, text: &str) -> anyhow::Result<slt_proto::google::r#type::Date> {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        bail!("--{flag} '{text}': expected YYYY-MM-DD");
    };
    let number = |part: &str| {
        part.parse::<i32>()
            .with_context(|| format!("--{flag} '{text}': expected YYYY-MM-DD"))
    };
    Ok(slt_proto::google::r#type::Date {
        year: number(year)?,
        month: number(month)?,
        day: number(day)?,
    })
}

fn list_filter(args: &ListArgs) -> anyhow::Result<pb::IncidentFilter> {
    let map = |flag: &str, values: &[String], prefix: &str, parse: fn(&str) -> Option<i32>| {
        values
            .iter()
            .map(|value| enum_value(flag, value, prefix, parse))
            .collect::<anyhow::Result<Vec<i32>>>()
    };
    Ok(pb::IncidentFilter {
        countries: args.countries.clone(),
        admin1: args.admin1.clone(),
        occurred_from: args.from.as_deref().map(|d| date("from", d)).transpose()?,
        occurred_to: args.to.as_deref().map(|d| date("to", d)).transpose()?,
        incident_types: map("type", &args.types, "INCIDENT_TYPE_", |name| {
            pb::IncidentType::from_str_name(name).map(|v| v as i32)
        })?,
        threat_categories: map("category", &args.categories, "THREAT_CATEGORY_", |name| {
            pb::ThreatCategory::from_str_name(name).map(|v| v as i32)
        })?,
        verifications: map(
            "verification",
            &args.verifications,
            "VERIFICATION_",
            |name| pb::Verification::from_str_name(name).map(|v| v as i32),
        )?,
        origin_orgs: args.origin_orgs.clone(),
    })
}

fn print_submit_results(format: Format, results: &[pb::SubmitResult]) -> anyhow::Result<()> {
    let outcome = |result: &pb::SubmitResult| {
        pb::SubmitOutcome::try_from(result.outcome)
            .map(|o| short(o.as_str_name(), "SUBMIT_OUTCOME_"))
            .unwrap_or_else(|_| "?".into())
    };
    match format {
        Format::Json => {
            let values = results
                .iter()
                .map(|result| json::to_json(result, "slt.v1.SubmitResult"))
                .collect::<Result<Vec<_>, _>>()?;
            println!("{}", serde_json::to_string_pretty(&values)?);
        }
        Format::Table | Format::Csv => {
            let rows: Vec<Vec<String>> = results
                .iter()
                .map(|r| vec![r.id.clone(), outcome(r), r.version.to_string()])
                .collect();
            print_rows(format, &["id", "outcome", "version"], &rows)?;
        }
    }
    Ok(())
}

fn print_incidents(format: Format, incidents: &[pb::Incident], single: bool) -> anyhow::Result<()> {
    if format == Format::Json {
        let values = incidents
            .iter()
            .map(|incident| json::to_json(incident, "slt.v1.Incident"))
            .collect::<Result<Vec<_>, _>>()?;
        let out = if single && values.len() == 1 {
            serde_json::to_string_pretty(&values[0])?
        } else {
            serde_json::to_string_pretty(&values)?
        };
        println!("{out}");
        return Ok(());
    }
    let header = [
        "id",
        "version",
        "occurred_on",
        "country",
        "admin1",
        "category",
        "types",
        "victims",
        "verification",
        "distribution",
        "redacted",
    ];
    let rows: Vec<Vec<String>> = incidents.iter().map(incident_row).collect();
    print_rows(format, &header, &rows)?;
    if single && format == Format::Table {
        if let Some(incident) = incidents.first() {
            if !incident.narrative.is_empty() {
                println!("\nnarrative: {}", incident.narrative);
            }
            if !incident.retraction_reason.is_empty() {
                println!("retracted: {}", incident.retraction_reason);
            }
            print_redactions(incident);
        }
    }
    Ok(())
}

/// Tells the user what they did not get, and why, so absence is never mistaken for zero.
fn print_redactions(incident: &pb::Incident) {
    if incident.redactions.is_empty() {
        return;
    }
    let tier = pb::AccessTier::try_from(incident.viewer_tier)
        .map(|t| short(t.as_str_name(), "ACCESS_TIER_"))
        .unwrap_or_else(|_| "?".into());
    println!("\nYour access tier for this incident is {tier}. Withheld or generalised:");
    for redaction in &incident.redactions {
        let action = if redaction.action == pb::RedactionAction::Generalised as i32 {
            "generalised"
        } else {
            "withheld"
        };
        println!("  {:<20} {action}: {}", redaction.field, redaction.detail);
    }
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

fn incident_row(incident: &pb::Incident) -> Vec<String> {
    let date = incident
        .occurred_on
        .as_ref()
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
        .unwrap_or_default();
    let name = |value: i32, prefix: &str, lookup: fn(i32) -> Option<&'static str>| {
        lookup(value).map(|n| short(n, prefix)).unwrap_or_default()
    };
    let types = incident
        .incident_types
        .iter()
        .map(|t| {
            name(*t, "INCIDENT_TYPE_", |v| {
                pb::IncidentType::try_from(v).ok().map(|e| e.as_str_name())
            })
        })
        .collect::<Vec<_>>()
        .join(",");
    let victims: u64 = incident.victims.iter().map(|v| u64::from(v.count)).sum();
    vec![
        incident.id.clone(),
        incident.version.to_string(),
        date,
        incident.country.clone(),
        incident
            .admin1
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        name(incident.threat_category, "THREAT_CATEGORY_", |v| {
            pb::ThreatCategory::try_from(v)
                .ok()
                .map(|e| e.as_str_name())
        }),
        types,
        victims.to_string(),
        name(incident.verification, "VERIFICATION_", |v| {
            pb::Verification::try_from(v).ok().map(|e| e.as_str_name())
        }),
        name(incident.distribution, "DISTRIBUTION_", |v| {
            pb::Distribution::try_from(v).ok().map(|e| e.as_str_name())
        }),
        incident.redacted_fields.join(","),
    ]
}

fn print_rows(format: Format, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if format == Format::Csv {
        let mut writer = csv::Writer::from_writer(std::io::stdout());
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(row)?;
        }
        writer.flush()?;
        return Ok(());
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(header.to_vec()));
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        println!("(none)");
    }
    Ok(())
}

async fn peers(hub: &mut HubClient, format: Format) -> anyhow::Result<()> {
    let response = hub.list_peers().await?;
    if format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json::to_json(&response, "slt.v1.ListPeersResponse")?)?
        );
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
    for peer in response.peers {
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
