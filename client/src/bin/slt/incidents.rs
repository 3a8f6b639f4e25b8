//! Incident commands: submit, get, list, amend, retract, and how incidents print.

use std::path::Path;

use anyhow::bail;
use slt_client::{HubClient, json, proto as pb};

use crate::args::{Format, ListArgs};
use crate::input::{date, enum_value, read_input};
use crate::output::{print_rows, short};

/// Submits one incident or a JSON array of them.
pub(crate) async fn submit(hub: &mut HubClient, format: Format, file: &Path) -> anyhow::Result<()> {
    let incidents = json::incidents_from_json(&read_input(file)?)?;
    if incidents.is_empty() {
        bail!("{} holds no incident", file.display());
    }
    let mut results = Vec::new();
    // Each batch is all-or-nothing on its own; 1,000 is the hub's batch limit.
    for batch in incidents.chunks(1_000) {
        results.extend(hub.submit(batch.to_vec()).await?);
    }
    print_submit_results(format, &results)
}

pub(crate) async fn get(hub: &mut HubClient, format: Format, id: &str) -> anyhow::Result<()> {
    let incident = hub.get(id).await?;
    print_incidents(format, std::slice::from_ref(&incident), true)
}

/// One page (the next page's token goes to stderr), or every page with `--all`.
pub(crate) async fn list(
    hub: &mut HubClient,
    format: Format,
    args: ListArgs,
) -> anyhow::Result<()> {
    let filter = list_filter(&args)?;
    if args.all {
        let incidents = hub.list_all(filter).await?;
        return print_incidents(format, &incidents, false);
    }
    let page = hub.list(filter, args.page_size, args.page_token).await?;
    print_incidents(format, &page.incidents, false)?;
    if !page.next_page_token.is_empty() && format == Format::Table {
        eprintln!("more: --page-token {}", page.next_page_token);
    }
    Ok(())
}

pub(crate) async fn amend(
    hub: &mut HubClient,
    format: Format,
    file: &Path,
    expected_version: u64,
) -> anyhow::Result<()> {
    let mut incidents = json::incidents_from_json(&read_input(file)?)?;
    if incidents.len() != 1 {
        bail!("{} must hold exactly one incident", file.display());
    }
    let incident = hub.amend(incidents.remove(0), expected_version).await?;
    print_incidents(format, std::slice::from_ref(&incident), true)
}

pub(crate) async fn retract(
    hub: &mut HubClient,
    format: Format,
    id: &str,
    reason: &str,
    expected_version: u64,
) -> anyhow::Result<()> {
    let incident = hub.retract(id, reason, expected_version).await?;
    print_incidents(format, std::slice::from_ref(&incident), true)
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
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.submitted_id.clone(),
                        outcome(r),
                        r.version.to_string(),
                    ]
                })
                .collect();
            print_rows(format, &["id", "submitted_id", "outcome", "version"], &rows)?;
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
pub(crate) fn incident_row(incident: &pb::Incident) -> Vec<String> {
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
