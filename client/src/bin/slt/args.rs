//! The command line: clap types for every command and flag.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use slt_client::proto as pb;

use crate::input::enum_value;

#[derive(Parser)]
#[command(name = "slt", version, about = "SLT Hub partner CLI")]
pub(crate) struct Cli {
    /// Client profile (endpoint, CA, certificate, key, token).
    #[arg(long, env = "SLT_PROFILE", global = true)]
    pub(crate) profile: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub(crate) format: Format,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Forecast incidents per area and group for the next periods (median and 50/80/95%
    /// intervals; "withheld" where a count of the history is suppressed for you).
    Forecast(ForecastArgs),
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
pub(crate) enum AuditCommand {
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
    /// Export every record and the signed tree heads as JSON lines (for `slt audit verify`).
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify an export offline, in bounded memory: the hash chain, the Merkle root of every
    /// signed tree head, and with --trusted that the log still extends the heads kept earlier.
    /// Exit code 0 only when everything holds; otherwise names what is broken.
    Verify {
        file: PathBuf,
        /// The hub's audit public key (PEM), e.g. slt-data/pki/audit-signing.pub.pem.
        #[arg(long)]
        key: PathBuf,
        /// Heads kept earlier (the state file of `slt audit watch`, or an earlier export).
        #[arg(long)]
        trusted: Option<PathBuf>,
    },
    /// Fetch the hub's newest signed tree head and check, with a consistency proof, that it
    /// extends the head kept in --state; then keep it. Fails loudly when it does not.
    Watch {
        /// Where the heads are kept (JSON lines; created on the first run).
        #[arg(long)]
        state: PathBuf,
        /// The hub's audit public key (PEM): heads are checked against it, not the hub's word.
        #[arg(long)]
        key: PathBuf,
    },
    /// Fetch record SEQ with a proof that it is in the newest signed tree head, and check it.
    Prove {
        seq: u64,
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(clap::Args)]
pub(crate) struct PictureArgs {
    /// ISO country code (alpha-3 or alpha-2); repeatable, at least one.
    #[arg(long = "country", required = true)]
    pub(crate) countries: Vec<String>,
    /// Only these admin1 areas; repeatable.
    #[arg(long)]
    pub(crate) admin1: Vec<String>,
    /// First day (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) from: String,
    /// Last day (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) to: String,
    /// Area level and period, e.g. `admin1,month` or `country,year` (week, month, quarter,
    /// year).
    #[arg(long, default_value = "country,month")]
    pub(crate) by: String,
    /// Rows within an area: category (threat category), type (incident type) or none.
    #[arg(long, default_value = "category")]
    pub(crate) group: String,
    /// Also write a self-contained HTML report (inline SVG charts, no scripts) to FILE.
    #[arg(long)]
    pub(crate) html: Option<PathBuf>,
    /// Periods of forecast in the HTML report (its band on the trend chart and the expected vs
    /// observed section); 0 for none.
    #[arg(long, default_value_t = 4)]
    pub(crate) forecast_horizon: u32,
}

#[derive(clap::Args)]
pub(crate) struct ForecastArgs {
    /// ISO country code (alpha-3 or alpha-2); repeatable, at least one.
    #[arg(long = "country", required = true)]
    pub(crate) countries: Vec<String>,
    /// Only these admin1 areas; repeatable.
    #[arg(long)]
    pub(crate) admin1: Vec<String>,
    /// Area level and period, as for `picture` (e.g. `country,quarter`).
    #[arg(long, default_value = "country,quarter")]
    pub(crate) by: String,
    /// Rows within an area: category, type or none.
    #[arg(long, default_value = "none")]
    pub(crate) group: String,
    /// Periods ahead, 1 to 12; the first is the current, incomplete period.
    #[arg(long, default_value_t = 4)]
    pub(crate) horizon: u32,
    /// Also print the victims' forecasts (by outcome, staff category and, at T2, sex).
    #[arg(long)]
    pub(crate) victims: bool,
}

#[derive(Subcommand)]
pub(crate) enum AdvisoryCommand {
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
pub(crate) enum ImportSource {
    /// The Aid Worker Security Database public CSV export (idempotent: safe to run again).
    Awsd {
        file: PathBuf,
        /// Incidents per SubmitIncidents call (each batch is all-or-nothing).
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
    },
}

#[derive(clap::Args)]
pub(crate) struct SyncFilterArgs {
    /// Only these countries (ISO alpha-3 or alpha-2); repeatable.
    #[arg(long = "country")]
    pub(crate) countries: Vec<String>,
    /// Only incidents with one of these types (e.g. KILLING); repeatable.
    #[arg(long = "type")]
    pub(crate) types: Vec<String>,
}

impl SyncFilterArgs {
    pub(crate) fn to_proto(&self) -> anyhow::Result<pb::SyncFilter> {
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
pub(crate) struct ListArgs {
    /// ISO country code (alpha-3 or alpha-2); repeatable.
    #[arg(long = "country")]
    pub(crate) countries: Vec<String>,
    /// admin1 name; repeatable.
    #[arg(long)]
    pub(crate) admin1: Vec<String>,
    /// Occurred on or after (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Occurred on or before (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Incident type (e.g. KILLING); repeatable.
    #[arg(long = "type")]
    pub(crate) types: Vec<String>,
    /// Threat category (e.g. CRIME); repeatable.
    #[arg(long = "category")]
    pub(crate) categories: Vec<String>,
    /// Verification status (e.g. VERIFIED, RETRACTED); repeatable.
    #[arg(long = "verification")]
    pub(crate) verifications: Vec<String>,
    /// Origin organisation (matches only incidents you see at T2); repeatable.
    #[arg(long = "origin-org")]
    pub(crate) origin_orgs: Vec<String>,
    /// Page size (default 100, at most 1000).
    #[arg(long, default_value_t = 100)]
    pub(crate) page_size: i32,
    /// Continue from a previous page's token.
    #[arg(long, default_value = "")]
    pub(crate) page_token: String,
    /// Follow page tokens to the end.
    #[arg(long)]
    pub(crate) all: bool,
}
