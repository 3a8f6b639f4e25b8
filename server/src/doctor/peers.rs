//! Peers: each agreement's endpoint is reachable, and answers with the certificate the
//! agreement pins (its CA, and `spiffe://<domain>/hub/<id>`), exactly as the pull worker
//! connects.

use std::sync::{Arc, RwLock};

use tonic::metadata::AsciiMetadataValue;

use super::Finding;
use crate::config::HubConfig;
use crate::federation::channel::{self, Bearer, OwnTls};

pub(super) async fn check(config: &HubConfig) -> Vec<Finding> {
    let agreements = match crate::identity::reload::load(&config.identity_sources()) {
        Ok(material) => material.peers,
        // Reported by the identity check.
        Err(_) => return Vec::new(),
    };
    let own = OwnTls {
        ca: config.tls.ca.clone(),
        cert: config.tls.cert.clone(),
        key: config.tls.key.clone(),
        trust_domain: config.trust_domain.clone(),
    };
    let mut findings = Vec::new();
    for agreement in agreements.iter().filter(|agreement| agreement.pull) {
        let subject = format!("peers.{}", agreement.hub_id);
        let expected = format!(
            "spiffe://{}/hub/{}",
            agreement
                .trust_domain
                .as_deref()
                .unwrap_or(&config.trust_domain),
            agreement.hub_id
        );
        // Connecting makes no call, so the token is never sent.
        let bearer = Bearer(Arc::new(RwLock::new(AsciiMetadataValue::from_static(
            "Bearer none",
        ))));
        let finding = match channel::connect(&own, agreement, bearer).await {
            Ok(_) => Finding::ok(
                subject,
                format!("{} answers as {expected}", agreement.endpoint),
            ),
            Err(error) => {
                let text = error.to_string();
                // rustls renders the pinning verifier's error with Debug: read the id back.
                if let Some(found) = wrong_peer(&text) {
                    findings.push(Finding::problem(
                        subject,
                        format!(
                            "{} answers as {found}, not the agreement's {expected}",
                            agreement.endpoint
                        ),
                        format!(
                            "correct hub_id / trust_domain in the agreement, or ask the peer \
                             for a certificate for {expected}"
                        ),
                    ));
                    continue;
                }
                let fix = if text.contains("SPIFFE") {
                    format!(
                        "the peer's certificate is not {expected}: correct hub_id / trust_domain \
                         in the agreement, or ask the peer for the right certificate"
                    )
                } else if text.contains("certificate") || text.contains("Certificate") {
                    "the peer's certificate does not verify against the agreement's ca: ask the \
                     peer for its CA bundle"
                        .to_string()
                } else {
                    format!(
                        "check that {} runs and that the endpoint's host and port are right",
                        agreement.endpoint
                    )
                };
                Finding::problem(subject, format!("{}: {text}", agreement.endpoint), fix)
            }
        };
        findings.push(finding);
    }
    findings
}

/// The SPIFFE id a peer presented instead of the pinned one, from the connection error.
fn wrong_peer(error: &str) -> Option<&str> {
    let rest = &error[error.find("WrongPeer")?..];
    let found = rest.split("found: \"").nth(1)?;
    found.split('"').next()
}
