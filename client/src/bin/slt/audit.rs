//! The access log (auditors): query, export, and offline verification of an export.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, bail};
use slt_client::{ClientError, HubClient, json, proto as pb};
use slt_proto::audit_verify::LogVerifier;

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
        AuditCommand::Verify { file, key, trusted } => verify(&file, &key, trusted.as_deref()),
        AuditCommand::Watch { state, key } => super::audit_watch::watch(hub, &state, &key).await,
        AuditCommand::Prove { seq, key } => super::audit_watch::prove(hub, seq, &key).await,
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

/// Every record and signed tree head as JSON lines, the input of [`verify`]: a head of size N
/// comes right after record N, so the verifier checks it as it streams past.
async fn export(hub: &mut HubClient, out: &Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(
        slt_client::private_files::create_private(out)
            .with_context(|| format!("creating {}", out.display()))?,
    );
    let mut stream = hub.export_audit(1).await?;
    let (mut records, mut heads) = (0, 0);
    while let Some(page) = stream.message().await.map_err(ClientError::from)? {
        let mut page_heads = page.heads.iter().peekable();
        for record in &page.records {
            let value = json::to_json(record, "slt.v1.AuditRecord")?;
            writeln!(file, "{}", serde_json::json!({ "record": value }))?;
            records += 1;
            while let Some(head) = page_heads.next_if(|head| head.size <= record.seq) {
                writeln!(file, "{}", serde_json::json!({ "head": head.note }))?;
                heads += 1;
            }
        }
        // Heads past the last record (a log whose tail was removed): kept for the verifier.
        for head in page_heads {
            writeln!(file, "{}", serde_json::json!({ "head": head.note }))?;
            heads += 1;
        }
    }
    file.flush()?;
    println!(
        "exported {records} records and {heads} signed tree heads to {}",
        out.display()
    );
    Ok(())
}

/// The DER of an Ed25519 SubjectPublicKeyInfo: a fixed 12-byte header, then the 32-byte key.
const ED25519_SPKI_LEN: usize = 44;
const ED25519_SPKI_HEADER_LEN: usize = 12;

/// The raw Ed25519 key of an SPKI PEM file.
pub(crate) fn read_public_key(key: &Path) -> anyhow::Result<Vec<u8>> {
    let key_pem =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let key_der = pem::parse(&key_pem).context("the key is not PEM")?;
    let key_der = key_der.contents();
    if key_der.len() != ED25519_SPKI_LEN {
        bail!("{} is not an Ed25519 public key (SPKI PEM)", key.display());
    }
    Ok(key_der[ED25519_SPKI_HEADER_LEN..].to_vec())
}

/// One line of an export or of a file of kept heads.
pub(crate) enum Line {
    Record(Box<pb::AuditRecord>),
    Head(String),
    LegacyCheckpoint,
    Blank,
}

pub(crate) fn parse_line(line: &str, number: usize) -> anyhow::Result<Line> {
    if line.trim().is_empty() {
        return Ok(Line::Blank);
    }
    let mut value: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("line {number}: not JSON"))?;
    if let Some(record) = value.get_mut("record").map(serde_json::Value::take) {
        let record = json::message_from_json(&record.to_string(), "slt.v1.AuditRecord")
            .with_context(|| format!("line {number}"))?;
        return Ok(Line::Record(Box::new(record)));
    }
    if let Some(note) = value.get("head").and_then(serde_json::Value::as_str) {
        return Ok(Line::Head(note.to_string()));
    }
    if value.get("checkpoint").is_some() {
        return Ok(Line::LegacyCheckpoint);
    }
    bail!("line {number}: neither a record nor a head")
}

/// The heads kept in a file (JSON lines `{"head": note}`; other lines are skipped).
pub(crate) fn kept_heads(file: &Path) -> anyhow::Result<Vec<String>> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?,
    );
    let mut heads = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        if line.contains("\"head\"") {
            if let Line::Head(note) = parse_line(&line, index + 1)? {
                heads.push(note);
            }
        }
    }
    Ok(heads)
}

/// Offline verification of an export, streaming (bounded memory), against heads kept earlier.
pub(crate) fn verify(file: &Path, key: &Path, trusted: Option<&Path>) -> anyhow::Result<()> {
    let public_key = read_public_key(key)?;
    let mut verifier = LogVerifier::new(&public_key);
    if let Some(trusted) = trusted {
        for note in kept_heads(trusted)? {
            if let Err(error) = verifier.trust(&note) {
                bail!("FAILED: a trusted head in {}: {error}", trusted.display());
            }
        }
    }
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?,
    );
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let checked = match parse_line(&line, index + 1)? {
            Line::Record(record) => verifier.record(&record),
            Line::Head(note) => verifier.head(&note).map(|_| ()),
            Line::LegacyCheckpoint if trusted.is_none() => return verify_legacy(file, &public_key),
            Line::LegacyCheckpoint => bail!("a legacy export (checkpoints) cannot use --trusted"),
            Line::Blank => Ok(()),
        };
        if let Err(error) = checked {
            bail!("FAILED: {error}");
        }
    }
    match verifier.finish() {
        Ok(verified) => {
            println!(
                "OK: {} records chained, {} signed tree heads verified (signed up to record {}), \
                 {} trusted heads still extended",
                verified.records, verified.checkpoints, verified.signed_up_to, verified.trusted
            );
            Ok(())
        }
        Err(error) => bail!("FAILED: {error}"),
    }
}

/// An export of the legacy format (v2 checkpoints over the chain), verified as before.
fn verify_legacy(file: &Path, public_key: &[u8]) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let (records, checkpoints) = json::audit_export_from_json_lines(&text)?;
    match slt_proto::audit_chain::verify(&records, &checkpoints, public_key) {
        Ok(verified) => {
            println!(
                "OK (legacy export): {} records chained and {} checkpoints verified; signed up \
                 to record {}",
                verified.records, verified.checkpoints, verified.signed_up_to
            );
            Ok(())
        }
        Err(error) => bail!("FAILED: {error}"),
    }
}
