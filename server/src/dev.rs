//! Dev mode: a complete, self-contained environment in one directory (interfaces.md, "Dev mode
//! layout"): a CA for trust domain `slt.dev`, the hub's certificate and keys, a certificate per
//! dev org, a token and a client profile per org and role, `hub.toml`, and an example incident.
//! Created on first start, reused after. Scripts and other-language clients rely on the layout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::config::{HubConfig, TlsFiles, TokenFiles};
use crate::domain::OrgType;
use crate::identity::keys::{self, KeyError};
use crate::identity::token::TokenIssuer;
use crate::identity::{OrgEntry, Role};
use crate::pki::{self, CertificateAuthority, LeafSpec, PkiError};
use crate::policy::SharingGroup;

pub const DEV_TRUST_DOMAIN: &str = "slt.dev";
pub const DEV_HUB_ID: &str = "dev-hub";
/// Dev tokens live 30 days.
pub const DEV_TOKEN_TTL_SECONDS: i64 = 30 * 24 * 3600;
pub const DEFAULT_DEV_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50051);

/// The dev organisations and the roles each may hold.
pub fn dev_orgs() -> Vec<OrgEntry> {
    let org =
        |id: &str, name: &str, org_type, roles: &[Role]| OrgEntry::new(id, name, org_type, roles);
    vec![
        org(
            "undss",
            "UN Department of Safety and Security",
            OrgType::Un,
            &[Role::FocalPoint, Role::Analyst],
        ),
        org(
            "unhcr",
            "UN Refugee Agency",
            OrgType::Un,
            &[Role::Reporter, Role::Analyst],
        ),
        org(
            "ngo-alpha",
            "NGO Alpha (international)",
            OrgType::Ingo,
            &[Role::Reporter, Role::Analyst, Role::FocalPoint],
        ),
        org(
            "ngo-beta",
            "NGO Beta (national)",
            OrgType::Nngo,
            &[Role::Reporter, Role::Analyst],
        ),
        org(
            "audit-office",
            "Audit Office",
            OrgType::Un,
            &[Role::Auditor],
        ),
        org(
            "hub-admin",
            "Hub Administration",
            OrgType::Un,
            &[Role::Admin],
        ),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("could not issue a dev token: {0}")]
    Token(#[from] jsonwebtoken::errors::Error),
    #[error("could not write the dev config: {0}")]
    Config(String),
}

/// The dev environment on disk.
#[derive(Debug, Clone)]
pub struct DevEnvironment {
    pub dir: PathBuf,
    pub config_path: PathBuf,
    /// True when this call created it.
    pub created: bool,
}

/// Creates the dev environment in `dir` unless `dir/hub.toml` exists already. `hub.toml` is
/// written last, so an interrupted creation is simply redone on the next start.
pub fn ensure(dir: &Path, listen: SocketAddr) -> Result<DevEnvironment, DevError> {
    let config_path = dir.join("hub.toml");
    if config_path.exists() {
        // The hub refuses every client once the CRL passes its nextUpdate: re-sign it.
        refresh_crl(&dir.join("pki"))?;
        return Ok(DevEnvironment {
            dir: dir.to_path_buf(),
            config_path,
            created: false,
        });
    }
    create_hub(dir, DEV_HUB_ID, DEV_TRUST_DOMAIN, listen, false)?;
    Ok(DevEnvironment {
        dir: dir.to_path_buf(),
        config_path,
        created: true,
    })
}

/// Re-signs the dev CRL (same revoked serials, next number) when it expires within a day.
pub fn refresh_crl(pki_dir: &Path) -> Result<(), DevError> {
    let crl_path = pki_dir.join("crl.pem");
    let (Ok(crl_pem), Ok(ca_pem), Ok(key_pem)) = (
        std::fs::read_to_string(&crl_path),
        std::fs::read_to_string(pki_dir.join("ca.pem")),
        std::fs::read_to_string(pki_dir.join("ca.key")),
    ) else {
        // Not a layout we made; the hub reports what is missing when it loads.
        return Ok(());
    };
    let Ok(parsed) = pem::parse(&crl_pem) else {
        return Ok(());
    };
    let Ok((_, crl)) = x509_parser::parse_x509_crl(parsed.contents()) else {
        return Ok(());
    };
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let fresh = crl
        .next_update()
        .is_some_and(|next| next.to_datetime() > soon);
    if fresh {
        return Ok(());
    }
    let revoked: Vec<(Vec<u8>, time::OffsetDateTime)> = crl
        .iter_revoked_certificates()
        .map(|entry| {
            (
                entry.raw_serial().to_vec(),
                entry.revocation_date.to_datetime(),
            )
        })
        .collect();
    let number = crl
        .crl_number()
        .and_then(|number| u64::try_from(number).ok())
        .unwrap_or(1)
        .saturating_add(1);
    let ca = CertificateAuthority::from_pem(&ca_pem, &key_pem)?;
    pki::write_public(
        &crl_path,
        &ca.crl(&revoked, number, time::Duration::days(30))?,
    )?;
    Ok(())
}

// Long by design: a linear script writing one dev environment file after another; split, it would
// only pass the same paths around.
/// Creates a complete dev environment for hub `hub_id` of `trust_domain` in `dir` (its own CA,
/// keys, orgs, tokens and profiles). With `peer_registry`, the config names a reloadable
/// `peers.toml` (written empty) for federation agreements.
pub fn create_hub(
    dir: &Path,
    hub_id: &str,
    trust_domain: &str,
    listen: SocketAddr,
    peer_registry: bool,
) -> Result<(), DevError> {
    let pki_dir = dir.join("pki");
    let ca = CertificateAuthority::create(trust_domain)?;
    pki::write_public(&pki_dir.join("ca.pem"), &ca.cert_pem)?;
    pki::write_secret(&pki_dir.join("ca.key"), &ca.key_pem)?;
    pki::write_public(&pki_dir.join("crl.pem"), &ca.empty_crl()?)?;

    let hub = ca.issue(&LeafSpec::hub(
        trust_domain,
        hub_id,
        &["localhost"],
        &[
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ],
    ))?;
    pki::write_public(&pki_dir.join("hub.pem"), &hub.cert_pem)?;
    pki::write_secret(&pki_dir.join("hub.key"), &hub.key_pem)?;

    let token_keys = keys::generate_ed25519()?;
    pki::write_secret(&pki_dir.join("token-signing.key"), &token_keys.private_pem)?;
    pki::write_public(
        &pki_dir.join("token-signing.pub.pem"),
        &token_keys.public_pem,
    )?;
    // The audit log (a later issue) signs its checkpoints with this key; auditors get the
    // public half.
    let audit_keys = keys::generate_ed25519()?;
    pki::write_secret(&pki_dir.join("audit-signing.key"), &audit_keys.private_pem)?;
    pki::write_public(
        &pki_dir.join("audit-signing.pub.pem"),
        &audit_keys.public_pem,
    )?;

    // Signs this hub's incidents and advisories for peers; peers hold the public half as
    // `origin_key` (docs/federation.md#origin-signatures).
    let federation_keys = keys::generate_ed25519()?;
    pki::write_secret(
        &pki_dir.join("federation-signing.key"),
        &federation_keys.private_pem,
    )?;
    pki::write_public(
        &pki_dir.join("federation-signing.pub.pem"),
        &federation_keys.public_pem,
    )?;

    pki::write_secret(
        &pki_dir.join("pseudonym.key"),
        &keys::generate_secret_hex()?,
    )?;

    let issuer = TokenIssuer::new(hub_id, &token_keys.private_pem, &token_keys.public_pem)?;
    let orgs = dev_orgs();
    let endpoint_host = if listen.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        listen.ip()
    };
    let endpoint = format!("https://{}", SocketAddr::new(endpoint_host, listen.port()));
    write_org_credentials(dir, &ca, &issuer, trust_domain, &orgs, &endpoint)?;
    pki::write_public(
        &dir.join("examples").join("incident.json"),
        &example_incident(),
    )?;

    if peer_registry {
        pki::write_public(
            &dir.join("peers.toml"),
            "# Federation agreements ([[peers]]), reloaded when this file changes.\n",
        )?;
    }
    let config = dev_config(hub_id, trust_domain, listen, orgs, peer_registry);
    pki::write_public(
        &dir.join("policy.toml"),
        crate::policy::rules::DEFAULT_POLICY_TOML,
    )?;
    let text =
        toml::to_string_pretty(&config).map_err(|error| DevError::Config(error.to_string()))?;
    pki::write_public(
        &dir.join("hub.toml"),
        &format!("# SLT Hub dev configuration, generated on first start.\n{text}"),
    )?;
    Ok(())
}

/// Each dev org's certificate and key, and a token and client profile per role.
fn write_org_credentials(
    dir: &Path,
    ca: &CertificateAuthority,
    issuer: &TokenIssuer,
    trust_domain: &str,
    orgs: &[OrgEntry],
    endpoint: &str,
) -> Result<(), DevError> {
    for org in orgs {
        let cert = ca.issue(&LeafSpec::org(trust_domain, &org.id))?;
        let org_dir = dir.join("orgs").join(&org.id);
        pki::write_public(&org_dir.join("cert.pem"), &cert.cert_pem)?;
        pki::write_secret(&org_dir.join("key.pem"), &cert.key_pem)?;
        for role in &org.roles {
            let name = format!("{}.{}", org.id, role.as_str());
            let subject = format!("{}@{}", role.as_str(), org.id);
            let token = issuer.issue(&org.id, &subject, &[*role], DEV_TOKEN_TTL_SECONDS)?;
            pki::write_secret(&dir.join("tokens").join(format!("{name}.jwt")), &token)?;
            let profile = format!(
                "# SLT Hub client profile: {} as {} (dev mode). Paths are relative to this file.\n\
                 endpoint = \"{endpoint}\"\n\
                 ca = \"../pki/ca.pem\"\n\
                 cert = \"../orgs/{}/cert.pem\"\n\
                 key = \"../orgs/{}/key.pem\"\n\
                 token = \"../tokens/{name}.jwt\"\n",
                org.id, role, org.id, org.id
            );
            pki::write_public(&dir.join("profiles").join(format!("{name}.toml")), &profile)?;
        }
    }
    Ok(())
}

/// The dev hub's config; paths relative to the data directory.
fn dev_config(
    hub_id: &str,
    trust_domain: &str,
    listen: SocketAddr,
    orgs: Vec<OrgEntry>,
    peer_registry: bool,
) -> HubConfig {
    HubConfig {
        hub_id: hub_id.to_string(),
        trust_domain: trust_domain.to_string(),
        listen,
        database_url: "sqlite://hub.db".to_string(),
        max_connection_age_seconds: 3600,
        max_connection_age_grace_seconds: 60,
        tls: TlsFiles {
            ca: "pki/ca.pem".into(),
            crl: Some("pki/crl.pem".into()),
            cert: "pki/hub.pem".into(),
            key: "pki/hub.key".into(),
        },
        tokens: TokenFiles {
            signing_key: "pki/token-signing.key".into(),
            public_key: "pki/token-signing.pub.pem".into(),
        },
        pseudonym_key: "pki/pseudonym.key".into(),
        audit_signing_key: "pki/audit-signing.key".into(),
        audit_public_key: "pki/audit-signing.pub.pem".into(),
        federation_signing_key: Some("pki/federation-signing.key".into()),
        audit_checkpoint_seconds: 60,
        audit_coalesce_seconds: 60,
        limits: Default::default(),
        policy: Some("policy.toml".into()),
        orgs,
        org_registry: None,
        // Local use and benchmarks: high enough never to throttle one developer.
        rate_limit: crate::identity::rate::RateLimit {
            per_second: 10_000.0,
            burst: 20_000,
        },
        max_token_ttl_seconds: crate::identity::token::DEFAULT_MAX_TOKEN_TTL_SECONDS,
        reload_poll_millis: if peer_registry { 500 } else { 2000 },
        sharing_groups: vec![SharingGroup {
            id: "ssd-ngo-forum".into(),
            name: "South Sudan NGO security forum".into(),
            owner: "ngo-alpha".into(),
            members: vec!["ngo-alpha".into(), "ngo-beta".into()],
        }],
        peers: Vec::new(),
        peer_registry: peer_registry.then(|| "peers.toml".into()),
        // Off in dev too: three demo hubs would contend for one port (`[metrics] listen`).
        metrics: Default::default(),
        taxii: Default::default(),
    }
}

/// An incident to try `slt submit` with (canonical proto3 JSON).
fn example_incident() -> String {
    let today = OffsetDateTime::now_utc().date();
    let id = uuid::Uuid::now_v7();
    let stamp = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    format!(
        r#"{{
  "id": "{id}",
  "occurredOn": {{ "year": {year}, "month": {month}, "day": {day} }},
  "datePrecision": "DATE_PRECISION_DAY",
  "country": "SSD",
  "admin1": {{ "name": "Jonglei" }},
  "admin2": {{ "name": "Bor South" }},
  "location": {{ "latitude": 6.2092, "longitude": 31.5589, "precision": "GEO_PRECISION_KM_1" }},
  "threatCategory": "THREAT_CATEGORY_CRIME",
  "incidentTypes": ["INCIDENT_TYPE_ROBBERY", "INCIDENT_TYPE_ATTACK_ON_CONVOY"],
  "meansOfAttack": "MEANS_OF_ATTACK_SHOOTING",
  "attackContext": "ATTACK_CONTEXT_AMBUSH",
  "locationType": "LOCATION_TYPE_ROAD",
  "motive": "MOTIVE_ECONOMIC",
  "perpetratorType": "PERPETRATOR_TYPE_CRIMINAL",
  "affectedOrgTypes": {{ "ingo": 1 }},
  "victims": [
    {{ "outcome": "VICTIM_OUTCOME_INJURED", "staff": "STAFF_CATEGORY_NATIONAL", "sex": "SEX_MALE", "count": 2 }}
  ],
  "opsImpact": "OPS_IMPACT_DELAYED",
  "sourceType": "SOURCE_TYPE_FOCAL_POINT",
  "verification": "VERIFICATION_PENDING",
  "narrative": "Example (generated {stamp}): a two-vehicle convoy was stopped by armed men on the Bor road; two national staff were injured and a vehicle was taken.",
  "private": {{ "reporterContact": "field security officer, Bor sub-office" }},
  "distribution": "DISTRIBUTION_COMMUNITY",
  "tlp": "TLP_AMBER"
}}
"#,
        year = today.year(),
        month = u8::from(today.month()),
        day = today.day(),
    )
}

/// The agreement under which a hub made by [`create_hub`] in `peer_dir` is a peer: its CA, CRL
/// and token key from its directory, T1, not transitive, pulling every second.
pub fn peer_agreement(
    peer_dir: &Path,
    peer_hub: &str,
    peer_trust_domain: &str,
    peer_listen: SocketAddr,
) -> crate::identity::agreement::PeerAgreement {
    let pki_dir = peer_dir.join("pki");
    let mut agreement = crate::identity::agreement::PeerAgreement::new(
        peer_hub,
        &format!("https://{peer_listen}"),
        pki_dir.join("token-signing.pub.pem"),
    );
    agreement.origin_key = Some(pki_dir.join("federation-signing.pub.pem"));
    agreement.ca = Some(pki_dir.join("ca.pem"));
    agreement.crl = Some(pki_dir.join("crl.pem"));
    agreement.trust_domain = Some(peer_trust_domain.to_string());
    agreement.pull_interval_millis = 1000;
    agreement
}

/// Writes `dir/peers.toml` (the peer registry of a hub made with `peer_registry`); the hub
/// reloads it by itself.
pub fn write_peers(
    dir: &Path,
    peers: &[crate::identity::agreement::PeerAgreement],
) -> Result<(), DevError> {
    #[derive(serde::Serialize)]
    struct PeerFile<'a> {
        peers: &'a [crate::identity::agreement::PeerAgreement],
    }
    let text = toml::to_string_pretty(&PeerFile { peers })
        .map_err(|error| DevError::Config(error.to_string()))?;
    // Written whole under another name and renamed, so a reload never reads half a file.
    let temporary = dir.join("peers.toml.new");
    pki::write_public(
        &temporary,
        &format!("# Federation agreements ([[peers]]), reloaded when this file changes.\n{text}"),
    )?;
    std::fs::rename(&temporary, dir.join("peers.toml"))
        .map_err(|error| DevError::Config(format!("peers.toml: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiring_dev_crl_is_re_signed_with_its_revocations() {
        let dir = tempfile::tempdir().expect("dir");
        let listen = DEFAULT_DEV_LISTEN;
        assert!(ensure(dir.path(), listen).expect("create").created);
        let pki_dir = dir.path().join("pki");
        let ca = CertificateAuthority::from_pem(
            &std::fs::read_to_string(pki_dir.join("ca.pem")).expect("ca"),
            &std::fs::read_to_string(pki_dir.join("ca.key")).expect("key"),
        )
        .expect("ca");
        let revoked_at = OffsetDateTime::now_utc() - time::Duration::days(2);
        let expiring = ca
            .crl(
                &[(vec![0x12, 0x34], revoked_at)],
                5,
                time::Duration::hours(1),
            )
            .expect("crl");
        pki::write_public(&pki_dir.join("crl.pem"), &expiring).expect("write");

        assert!(!ensure(dir.path(), listen).expect("reuse").created);
        let text = std::fs::read_to_string(pki_dir.join("crl.pem")).expect("crl");
        let parsed = pem::parse(&text).expect("pem");
        let (_, crl) = x509_parser::parse_x509_crl(parsed.contents()).expect("parse");
        let next = crl.next_update().expect("next update").to_datetime();
        assert!(next > OffsetDateTime::now_utc() + time::Duration::days(7));
        assert_eq!(
            crl.crl_number().and_then(|n| u64::try_from(n).ok()),
            Some(6)
        );
        let serials: Vec<Vec<u8>> = crl
            .iter_revoked_certificates()
            .map(|entry| entry.raw_serial().to_vec())
            .collect();
        assert_eq!(serials, vec![vec![0x12, 0x34]]);
    }
}
