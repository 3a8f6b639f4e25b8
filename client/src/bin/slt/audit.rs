//! The access log (auditors): query, export, and offline verification of an export.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use slt_client::{ClientError, HubClient, json, proto as pb};

use crate::args::{AuditCommand, Format};
use crate::output::print_rows;

pub(crate) async fn run(
    hub: &mut HubClient,
    format: Format,
    command: AuditCommand,
) -> anyhow::Result<()> {
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
            let request = pb::QueryAuditRequest {
                from_time: from.unwrap_or_default(),
                to_time: to.unwrap_or_default(),
                org: org.unwrap_or_default(),
                subject: subject.unwrap_or_default(),
                method: method.unwrap_or_default(),
                incident_id: incident.unwrap_or_default(),
                outcome: outcome.unwrap_or_default(),
                page_size,
                page_token: String::new(),
            };
            query(hub, format, request).await
        }
        AuditCommand::Export { out } => export(hub, &out).await,
        AuditCommand::Verify { file, key } => verify(&file, &key),
    }
}

/// Records matching a query: JSON lines, or a table/CSV of their main fields.
async fn query(
    hub: &mut HubClient,
    format: Format,
    request: pb::QueryAuditRequest,
) -> anyhow::Result<()> {
    let response = hub.query_audit(request).await?;
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

/// Every record and checkpoint as JSON lines, the input of [`verify`].
async fn export(hub: &mut HubClient, out: &Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(
        slt_client::private_files::create_private(out)
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

/// The DER of an Ed25519 SubjectPublicKeyInfo: a fixed 12-byte header, then the 32-byte key.
const ED25519_SPKI_LEN: usize = 44;
const ED25519_SPKI_HEADER_LEN: usize = 12;

/// Offline verification of an export.
pub(crate) fn verify(file: &Path, key: &Path) -> anyhow::Result<()> {
    let key_pem =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let key_der = pem::parse(&key_pem).context("the key is not PEM")?;
    let key_der = key_der.contents();
    if key_der.len() != ED25519_SPKI_LEN {
        bail!("{} is not an Ed25519 public key (SPKI PEM)", key.display());
    }
    let public_key = &key_der[ED25519_SPKI_HEADER_LEN..];
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
