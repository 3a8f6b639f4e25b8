//! The public (T0) release (`slt-hub release`, docs/disclosure.md): every incident of this hub
//! that may be published (COMMUNITY or FEDERATION, TLP:CLEAR, not retracted, not a copy from
//! another hub) as a k-anonymous record-level file, an aggregate table with small cells
//! suppressed, and the disclosure risk measured beside them. The release leaves an audit record.
//!
//! `record` builds the T0 record and its ladder, `kanon` makes the records k-anonymous,
//! `counts` builds the aggregate table, `files` writes the directory.

pub mod counts;
pub mod files;
pub mod kanon;
pub mod record;

use std::path::Path;

use serde::Serialize;
use time::Date;

use crate::domain::{
    AuditEntry, DatePrecision, Distribution, IncidentContent, IncidentFilter, Tlp, VisibilityScope,
};
use crate::store::{ListQuery, Store, StoreError};

/// The audit method of a release.
pub const AUDIT_METHOD: &str = "slt-hub release";

/// The largest k accepted (beyond it nearly everything is generalised to the country and year).
pub const MAX_K: usize = 100;

/// At most this many incidents are read by `slt-hub release` (it holds them in memory).
pub const MAX_RECORDS: usize = 2_000_000;

/// At most this many incidents are read for the RPC (its answer must fit one message).
pub const MAX_RPC_RECORDS: usize = 100_000;

/// The global re-identification risk a release should stay under (OCHA Centre for
/// Humanitarian Data: 3%).
pub const RISK_THRESHOLD: f64 = 0.03;

/// Rows per page read from the store.
const PAGE: u32 = 1_000;

/// Why a release was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("k must be between 2 and {MAX_K}")]
    InvalidK,
    #[error("more than {0} incidents are eligible: narrow the period")]
    TooMany(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
}

/// What a release covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOptions {
    pub k: usize,
    /// Incidents that occurred on or after (month precision: the month it falls in).
    pub from: Option<Date>,
    /// Incidents that occurred on or before.
    pub to: Option<Date>,
}

/// `disclosure.json`: what was released and the risk measured on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disclosure {
    pub hub_id: String,
    pub generated_at: String,
    pub parameters: Parameters,
    pub records_eligible: usize,
    pub records_released: usize,
    pub records_withheld: usize,
    /// Per ladder step, in order: records it generalised.
    pub generalised: Vec<StepCount>,
    pub equivalence_classes: usize,
    /// The smallest class of the released records (0 when none is released).
    pub k_achieved: usize,
    pub records_in_classes_below_k: usize,
    pub share_in_classes_below_k: f64,
    /// Mean of 1 / class size over the released records.
    pub global_risk: f64,
    pub global_risk_threshold: f64,
    pub global_risk_under_threshold: bool,
    pub counts_cells: usize,
    pub counts_cells_suppressed: usize,
}

/// The parameters of a release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameters {
    pub k: usize,
    pub from: Option<String>,
    pub to: Option<String>,
    pub quasi_identifiers: Vec<String>,
    pub ladder: Vec<String>,
    pub counts_min_cell: usize,
    pub eligibility: String,
}

/// Records generalised by one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepCount {
    pub step: String,
    pub records: usize,
}

/// A release, computed and not yet written.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// The k-anonymous records, sorted, columns as `record::COLUMNS`.
    pub records: Vec<Vec<String>>,
    pub counts: Vec<counts::Cell>,
    pub disclosure: Disclosure,
}

/// Makes the release of `contents` (the eligible incidents): pure.
pub fn build(
    contents: &[IncidentContent],
    options: &ReleaseOptions,
    hub_id: &str,
    generated_at: String,
) -> Result<Release, ReleaseError> {
    if !(2..=MAX_K).contains(&options.k) {
        return Err(ReleaseError::InvalidK);
    }
    let base: Vec<Vec<String>> = contents.iter().map(record::t0_record).collect();
    let table = counts::count_table(base.iter().map(|record| {
        let field = |index: usize| record.get(index).cloned().unwrap_or_default();
        (field(0), field(2), field(3))
    }));
    let ladder = record::ladder();
    let anonymised = kanon::anonymise(base, options.k, &ladder);
    let released = anonymised.released();
    let risk = kanon::measure(&released, options.k);
    let disclosure = Disclosure {
        hub_id: hub_id.to_string(),
        generated_at,
        parameters: Parameters {
            k: options.k,
            from: options.from.map(|date| date.to_string()),
            to: options.to.map(|date| date.to_string()),
            quasi_identifiers: record::COLUMNS.iter().map(|c| c.to_string()).collect(),
            ladder: ladder.iter().map(|step| step.name.to_string()).collect(),
            counts_min_cell: counts::MIN_CELL,
            eligibility: "this hub's own incidents, distribution COMMUNITY or FEDERATION, \
                          TLP:CLEAR, not retracted"
                .into(),
        },
        records_eligible: contents.len(),
        records_released: released.len(),
        records_withheld: anonymised.withheld_count(),
        generalised: anonymised
            .generalised
            .iter()
            .map(|(step, records)| StepCount {
                step: step.to_string(),
                records: *records,
            })
            .collect(),
        equivalence_classes: risk.classes,
        k_achieved: risk.min_class,
        records_in_classes_below_k: risk.records_below_k,
        share_in_classes_below_k: if released.is_empty() {
            0.0
        } else {
            risk.records_below_k as f64 / released.len() as f64
        },
        global_risk: risk.global_risk,
        global_risk_threshold: RISK_THRESHOLD,
        global_risk_under_threshold: risk.global_risk < RISK_THRESHOLD,
        counts_cells: table.len(),
        counts_cells_suppressed: table.iter().filter(|c| c.incidents.is_none()).count(),
    };
    Ok(Release {
        records: released,
        counts: table,
        disclosure,
    })
}

/// True when an incident may appear in a public release at all.
pub fn eligible(content: &IncidentContent) -> bool {
    matches!(
        content.distribution,
        Distribution::Community | Distribution::Federation
    ) && content.tlp == Tlp::Clear
        && content.verification != crate::domain::Verification::Retracted
}

/// Reads every eligible incident of this hub (copies from other hubs are not this hub's to
/// publish), at most `max`.
pub async fn read_eligible(
    store: &Store,
    options: &ReleaseOptions,
    max: usize,
) -> Result<Vec<IncidentContent>, ReleaseError> {
    let scope = VisibilityScope {
        own_org: None,
        shared_distributions: vec![Distribution::Community, Distribution::Federation],
        sharing_groups: Vec::new(),
        allowed_tlps: Some(vec![Tlp::Clear]),
        excluded_origin_hub: None,
        own_date_precision: DatePrecision::Month,
        others_date_precision: DatePrecision::Month,
        others_origin_visible: false,
    };
    // No verification filter: every status but RETRACTED.
    let filter = IncidentFilter {
        occurred_from: options.from,
        occurred_to: options.to,
        ..IncidentFilter::default()
    };
    let mut contents = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(&ListQuery {
                scope: &scope,
                filter: &filter,
                after,
                limit: PAGE,
            })
            .await?;
        after = page.rows.last().map(|(row, _)| *row);
        for (_, incident) in page.rows {
            // The store's scope already says so; checked again on the domain record.
            if !incident.is_foreign() && eligible(&incident.content) {
                contents.push(incident.content);
            }
        }
        if contents.len() > max {
            return Err(ReleaseError::TooMany(max));
        }
        if !page.more {
            return Ok(contents);
        }
    }
}

/// The audit record of a release: who (the operator's CLI), what (counts only, no content).
pub fn audit_entry(disclosure: &Disclosure, policy_version: &str) -> AuditEntry {
    let summary = serde_json::json!({
        "k": disclosure.parameters.k,
        "from": disclosure.parameters.from,
        "to": disclosure.parameters.to,
        "eligible": disclosure.records_eligible,
        "released": disclosure.records_released,
        "withheld": disclosure.records_withheld,
        "k_achieved": disclosure.k_achieved,
        "global_risk": disclosure.global_risk,
        "counts_cells": disclosure.counts_cells,
        "counts_cells_suppressed": disclosure.counts_cells_suppressed,
    });
    let mut entry = AuditEntry {
        time: crate::audit::now_text(),
        hub_id: disclosure.hub_id.clone(),
        org: disclosure.hub_id.clone(),
        subject: "operator".into(),
        roles: Vec::new(),
        cert_sha256: String::new(),
        peer_address: "local".into(),
        method: AUDIT_METHOD.into(),
        request_summary: summary.to_string(),
        outcome: "OK".into(),
        records_returned: disclosure.records_released as u64,
        fields_redacted: 0,
        policy_version: policy_version.into(),
        incident_ids: Vec::new(),
    };
    crate::audit::bounds::bound(&mut entry);
    entry
}

/// Reads (at most `max` incidents) and anonymises: the release, not yet recorded or written.
pub async fn make(
    store: &Store,
    hub_id: &str,
    options: &ReleaseOptions,
    max: usize,
) -> Result<Release, ReleaseError> {
    if !(2..=MAX_K).contains(&options.k) {
        return Err(ReleaseError::InvalidK);
    }
    let contents = read_eligible(store, options, max).await?;
    build(&contents, options, hub_id, crate::audit::now_text())
}

/// `slt-hub release`: reads, anonymises, records the release in the access log, then writes
/// `out` (created when missing). The record comes first: a release that could not be recorded
/// is not written.
pub async fn run(
    store: &Store,
    hub_id: &str,
    policy_version: &str,
    options: &ReleaseOptions,
    out: &Path,
) -> Result<Disclosure, ReleaseError> {
    let release = make(store, hub_id, options, MAX_RECORDS).await?;
    store
        .record_audit(&audit_entry(&release.disclosure, policy_version))
        .await?;
    files::write(out, &release)?;
    Ok(release.disclosure)
}
