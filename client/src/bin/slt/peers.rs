//! Federation status of the hub's peers (admins).

use slt_client::{HubClient, json};

use crate::args::Format;

/// The federation status of the hub's peers.
pub(crate) async fn list(hub: &mut HubClient, format: Format) -> anyhow::Result<()> {
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
