//! The files a hub reads at start: certificates (expiry, SPIFFE id, issued by the CA), the CRL
//! (freshness: the hub enforces its nextUpdate, so a stale CRL refuses every client), and the
//! secret keys (readable by the hub's user only).

use std::path::Path;

use time::{Duration, OffsetDateTime};

use super::Finding;
use crate::config::HubConfig;
use crate::identity::{self, validity};

/// A certificate expiring sooner than this is a warning.
const CERT_WARNING: Duration = Duration::days(14);
/// A CRL whose nextUpdate is sooner than this is a warning (the alert rule's threshold).
const CRL_WARNING: Duration = Duration::days(2);

pub(super) fn check(config: &HubConfig) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.push(certificate(config));
    findings.push(crl(config));
    findings.extend(key_modes(config));
    findings.push(identity_material(config));
    findings
}

fn certificate(config: &HubConfig) -> Finding {
    let path = &config.tls.cert;
    let subject = "tls.cert";
    let reissue = format!(
        "issue a new hub certificate (slt-hub pki issue-hub --hub {}) and point tls.cert and \
         tls.key at it",
        config.hub_id
    );
    let not_after = match validity::cert_not_after(path) {
        Ok(not_after) => not_after,
        Err(error) => return Finding::problem(subject, error.to_string(), reissue),
    };
    let now = OffsetDateTime::now_utc();
    if not_after <= now {
        return Finding::problem(
            subject,
            format!("{} expired on {}", path.display(), day(not_after)),
            reissue,
        );
    }
    let expected = format!("spiffe://{}/hub/{}", config.trust_domain, config.hub_id);
    match spiffe_ids(path) {
        Ok(ids) if ids.contains(&expected) => {}
        Ok(ids) => {
            return Finding::problem(
                subject,
                format!(
                    "{} names {ids:?}, not this hub's id {expected}",
                    path.display()
                ),
                reissue,
            );
        }
        Err(error) => return Finding::problem(subject, error, reissue),
    }
    match issued_by_ca(config) {
        Ok(()) => {}
        Err(error) => return Finding::problem(subject, error, reissue),
    }
    if not_after - now < CERT_WARNING {
        return Finding::warning(
            subject,
            format!("{} expires on {}", path.display(), day(not_after)),
            reissue,
        );
    }
    Finding::ok(
        subject,
        format!("{expected}, valid until {}", day(not_after)),
    )
}

fn spiffe_ids(path: &Path) -> Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;
    let text = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let block = pem::parse(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(block.contents())
        .map_err(|error| format!("{}: {error}", path.display()))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::URI(uri) if uri.starts_with("spiffe://") => Some(uri.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(names)
}

/// The hub certificate verifies against tls.ca (and is not revoked by tls.crl).
fn issued_by_ca(config: &HubConfig) -> Result<(), String> {
    let verifier = identity::tls::anchor_verifier(&config.tls.ca, None)
        .map_err(|error| format!("tls.ca {}: {error}", config.tls.ca.display()))?;
    let chain = identity::tls::read_certs(&config.tls.cert, "hub certificate")
        .map_err(|error| error.to_string())?;
    if identity::tls::chains_to(verifier.as_ref(), &chain) {
        Ok(())
    } else {
        Err(format!(
            "{} was not issued by the CA in tls.ca ({})",
            config.tls.cert.display(),
            config.tls.ca.display()
        ))
    }
}

fn crl(config: &HubConfig) -> Finding {
    let subject = "tls.crl";
    let resign = "re-sign the CRL (slt-hub pki crl --dir <CA dir>) and copy it to tls.crl; the \
                  hub reloads it by itself";
    let Some(path) = &config.tls.crl else {
        return Finding::warning(
            subject,
            "no CRL configured: a revoked certificate is accepted until it expires",
            "set tls.crl to the CA's CRL (slt-hub pki init writes crl.pem)",
        );
    };
    let (_, next_update) = match validity::crl_times(path) {
        Ok(times) => times,
        Err(error) => return Finding::problem(subject, error.to_string(), resign),
    };
    let Some(next_update) = next_update else {
        return Finding::warning(
            subject,
            format!("{} has no nextUpdate", path.display()),
            resign,
        );
    };
    let now = OffsetDateTime::now_utc();
    if next_update <= now {
        return Finding::problem(
            subject,
            format!(
                "{} is stale: its nextUpdate was {}, and the hub refuses every client \
                 certificate checked against a stale CRL",
                path.display(),
                day(next_update)
            ),
            resign,
        );
    }
    if next_update - now < CRL_WARNING {
        return Finding::warning(
            subject,
            format!(
                "{} must be replaced by {}",
                path.display(),
                day(next_update)
            ),
            resign,
        );
    }
    Finding::ok(subject, format!("fresh until {}", day(next_update)))
}

/// Secret keys: present, and neither group nor others may read them.
fn key_modes(config: &HubConfig) -> Vec<Finding> {
    let mut keys = vec![
        ("tls.key", config.tls.key.as_path()),
        ("tokens.signing_key", config.tokens.signing_key.as_path()),
        ("pseudonym_key", config.pseudonym_key.as_path()),
        ("audit_signing_key", config.audit_signing_key.as_path()),
    ];
    if let Some(key) = &config.federation_signing_key {
        keys.push(("federation_signing_key", key.as_path()));
    }
    keys.into_iter()
        .map(|(subject, path)| key_mode(subject, path))
        .collect()
}

#[cfg(unix)]
fn key_mode(subject: &str, path: &Path) -> Finding {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(error) => Finding::problem(
            subject,
            format!("{}: {error}", path.display()),
            "point the setting at the key file (slt-hub pki and slt-hub serve --dev write them)",
        ),
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                Finding::problem(
                    subject,
                    format!(
                        "{} is readable by others than its owner (mode {mode:04o})",
                        path.display()
                    ),
                    format!("chmod 600 {}", path.display()),
                )
            } else {
                Finding::ok(subject, format!("mode {mode:04o}"))
            }
        }
    }
}

#[cfg(not(unix))]
fn key_mode(subject: &str, path: &Path) -> Finding {
    match std::fs::metadata(path) {
        Err(error) => Finding::problem(
            subject,
            format!("{}: {error}", path.display()),
            "point the setting at the key file",
        ),
        Ok(_) => Finding::ok(subject, "present (permissions not checked on this system)"),
    }
}

/// Everything the identity reloader reads at start (CA, CRL, certificate, token keys, JWKS,
/// org and peer registries) loads together.
fn identity_material(config: &HubConfig) -> Finding {
    match identity::reload::load(&config.identity_sources()) {
        Ok(material) => Finding::ok(
            "identity",
            format!(
                "certificates, token keys, {} orgs and {} peer agreements load",
                material.orgs.len(),
                material.peers.len()
            ),
        ),
        Err(error) => Finding::problem(
            "identity",
            error.to_string(),
            "the hub would not start with these files; correct the file named",
        ),
    }
}

fn day(at: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}
