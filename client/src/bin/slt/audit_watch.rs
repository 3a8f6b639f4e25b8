//! Auditors who remember: `slt audit watch` keeps the hub's signed tree heads and checks with a
//! consistency proof that each new one extends the last one kept; `slt audit prove` checks an
//! inclusion proof. Both check signatures against the key the auditor holds, not the hub's word.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use slt_client::HubClient;
use slt_proto::audit_chain::from_hex;
use slt_proto::audit_note::{self, TreeHead};
use slt_proto::audit_tree::{Hash, record_leaf, verify_consistency, verify_inclusion};

use super::audit::{kept_heads, read_public_key};

fn hashes(texts: &[String]) -> anyhow::Result<Vec<Hash>> {
    texts
        .iter()
        .map(|text| {
            from_hex(text)
                .and_then(|bytes| bytes.try_into().ok())
                .context("the hub sent a proof hash that is not 32 bytes of hex")
        })
        .collect()
}

fn open(note: &str, key: &[u8]) -> anyhow::Result<TreeHead> {
    audit_note::open(note, key).map_err(|error| {
        anyhow::anyhow!("ALERT: the hub sent a tree head that does not verify: {error}")
    })
}

/// Checks the hub's newest head against the last one kept in `state`, then keeps it.
pub(crate) async fn watch(hub: &mut HubClient, state: &Path, key: &Path) -> anyhow::Result<()> {
    let key = read_public_key(key)?;
    let response = hub.tree_head().await?;
    let note = response.head.map(|head| head.note).unwrap_or_default();
    let new = open(&note, &key)?;
    let kept = if state.exists() {
        kept_heads(state)?
            .last()
            .map(|note| open(note, &key))
            .transpose()?
    } else {
        None
    };
    if let Some(kept) = &kept {
        if kept.origin != new.origin {
            bail!(
                "ALERT: the hub signs for '{}', the kept head is of '{}'",
                new.origin,
                kept.origin
            );
        }
        if new.size < kept.size {
            bail!(
                "ALERT: the hub's newest head has size {} but you kept one of size {}: the log \
                 was rolled back",
                new.size,
                kept.size
            );
        }
        let proof = hub.consistency_proof(kept.size, new.size).await?;
        let proof = hashes(&proof.hashes)?;
        if let Err(error) = verify_consistency(kept.size, new.size, &kept.root, &new.root, &proof) {
            bail!(
                "ALERT: the hub's head of size {} is NOT a consistent extension of the head of \
                 size {} you kept ({error}): the log was rewritten",
                new.size,
                kept.size
            );
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state)
        .with_context(|| format!("opening {}", state.display()))?;
    writeln!(file, "{}", serde_json::json!({ "head": note }))?;
    match kept {
        Some(kept) => println!(
            "OK: the head of size {} extends the head of size {} kept in {}",
            new.size,
            kept.size,
            state.display()
        ),
        None => println!(
            "OK: kept the head of size {} in {}",
            new.size,
            state.display()
        ),
    }
    Ok(())
}

/// Fetches record `seq` with its inclusion proof in the newest head and checks both.
pub(crate) async fn prove(hub: &mut HubClient, seq: u64, key: &Path) -> anyhow::Result<()> {
    if seq == 0 {
        bail!("records are numbered from 1");
    }
    let key = read_public_key(key)?;
    let response = hub.inclusion_proof(seq, 0).await?;
    let head = open(
        &response.head.map(|head| head.note).unwrap_or_default(),
        &key,
    )?;
    let Some(record) = response.record.filter(|record| record.seq == seq) else {
        bail!("FAILED: the hub did not send record {seq}");
    };
    let proof = hashes(&response.hashes)?;
    if let Err(error) = verify_inclusion(
        seq - 1,
        head.size,
        &record_leaf(&record),
        &proof,
        &head.root,
    ) {
        bail!(
            "FAILED: record {seq} is not proven to be in the head of size {}: {error}",
            head.size
        );
    }
    println!(
        "OK: record {seq} ({} by {}) is in the signed tree of size {}",
        record.method, record.org, head.size
    );
    Ok(())
}
