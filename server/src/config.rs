//! The hub's configuration file (`hub.toml`). Relative paths in it resolve against the file's
//! own directory, so a data directory can be moved as a whole.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::identity::OrgEntry;
use crate::identity::agreement::PeerAgreement;
use crate::identity::rate::RateLimit;
use crate::identity::reload::IdentitySources;
use crate::identity::tls::TlsPaths;
use crate::metrics::MetricsSettings;
use crate::policy::SharingGroup;

/// Environment variable that overrides `database_url` in every mode.
pub const DATABASE_URL_ENV: &str = "SLT_HUB_DATABASE_URL";

/// `hub.toml` as written on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// This hub's id: the `iss` and `aud` of its tokens, `origin_hub` of its incidents.
    pub hub_id: String,
    /// The SPIFFE trust domain whose certificates this hub accepts.
    pub trust_domain: String,
    /// Where to listen (the dev default is loopback only).
    pub listen: SocketAddr,
    /// `sqlite://PATH`, or `postgres://...` for one or several replicas on PostgreSQL (pool
    /// size, statement timeout and retries ride on the URL: `store::PgTuning`).
    pub database_url: String,
    /// Connections older than this are closed (gracefully) so that revoked clients cannot keep
    /// an old connection forever.
    #[serde(default = "default_max_connection_age")]
    pub max_connection_age_seconds: u64,
    /// How long calls may continue on a connection past its age (after GOAWAY) before the
    /// connection is closed for good.
    #[serde(default = "default_max_connection_age_grace")]
    pub max_connection_age_grace_seconds: u64,
    pub tls: TlsFiles,
    pub tokens: TokenFiles,
    /// The hub's pseudonym master key (hex, 32+ random bytes): per-org victim-key secrets
    /// derive from it. Losing it breaks the linking of repeat victims, nothing else.
    pub pseudonym_key: PathBuf,
    /// The Ed25519 key pair (PEM) that signs the access log's checkpoints; auditors get the
    /// public half.
    pub audit_signing_key: PathBuf,
    pub audit_public_key: PathBuf,
    /// The Ed25519 private key (PKCS#8 PEM) that signs this hub's incidents and advisories
    /// for peer hubs (origin signatures, docs/federation.md); peers hold the public half as
    /// `origin_key`. Required once `peers` or `peer_registry` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation_signing_key: Option<PathBuf>,
    /// Seconds between signed checkpoints (one is also signed at shutdown).
    #[serde(default = "default_checkpoint_seconds")]
    pub audit_checkpoint_seconds: u64,
    /// Seconds over which repeated refusals from one source that no org rate limit slows
    /// (unknown certificates, an org over its limit) are coalesced into one record.
    #[serde(default = "default_coalesce_seconds")]
    pub audit_coalesce_seconds: u64,
    /// The redaction policy file; the built-in policy when absent.
    #[serde(default)]
    pub policy: Option<PathBuf>,
    /// The organisations registered on this hub (fixed until a restart; put them in
    /// `org_registry` to change them while the hub runs).
    #[serde(default)]
    pub orgs: Vec<OrgEntry>,
    /// A TOML file of further `[[orgs]]` entries, reloaded on SIGHUP and when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_registry: Option<PathBuf>,
    /// The rate limit of every org without its own (`orgs.rate_limit`).
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Deadlines, per-org concurrency caps and the CPU pool (`limits::Limits`).
    #[serde(default)]
    pub limits: crate::limits::Limits,
    /// Tokens valid for longer than this (from now) are refused.
    #[serde(default = "default_max_token_ttl")]
    pub max_token_ttl_seconds: u64,
    /// How often identity files (CA, CRL, hub certificate, JWKS, org registry) are checked
    /// for changes; SIGHUP reloads at once.
    #[serde(default = "default_reload_poll_millis")]
    pub reload_poll_millis: u64,
    /// Hub-managed sharing groups.
    #[serde(default)]
    pub sharing_groups: Vec<SharingGroup>,
    /// Federation: the peer hubs this hub exchanges incidents with (fixed until a restart;
    /// put them in `peer_registry` to change them while the hub runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerAgreement>,
    /// A TOML file of further `[[peers]]` entries, reloaded on SIGHUP and when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_registry: Option<PathBuf>,
    /// The metrics endpoint (off unless `listen` is set) and whether peers are labelled.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metrics: MetricsSettings,
    /// The read-only TAXII 2.1 endpoint (off unless `listen` is set; docs/taxii.md).
    #[serde(default, skip_serializing_if = "is_default")]
    pub taxii: TaxiiSettings,
}

/// `[taxii]`: the TAXII 2.1 listener, with the gRPC port's mutual TLS and bearer tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxiiSettings {
    /// Where the TAXII server listens; none: no TAXII server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn default_checkpoint_seconds() -> u64 {
    60
}

fn default_coalesce_seconds() -> u64 {
    60
}

fn default_max_connection_age() -> u64 {
    3600
}

fn default_max_connection_age_grace() -> u64 {
    60
}

fn default_max_token_ttl() -> u64 {
    crate::identity::token::DEFAULT_MAX_TOKEN_TTL_SECONDS
}

fn default_reload_poll_millis() -> u64 {
    2000
}

/// TLS material (PEM files).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub ca: PathBuf,
    #[serde(default)]
    pub crl: Option<PathBuf>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The hub's token signing key pair (Ed25519 PEM).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFiles {
    pub signing_key: PathBuf,
    pub public_key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

impl HubConfig {
    /// Reads `path`, resolves relative paths against its directory and applies the
    /// `SLT_HUB_DATABASE_URL` override.
    pub fn load(path: &Path) -> Result<HubConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config: HubConfig =
            toml::from_str(&text).map_err(|error| ConfigError::Invalid {
                path: path.display().to_string(),
                message: error.to_string(),
            })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        if let Ok(url) = std::env::var(DATABASE_URL_ENV) {
            config.database_url = url;
        }
        config.check().map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })?;
        Ok(config)
    }

    /// Makes every relative path absolute against `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut self.tls.ca);
        if let Some(crl) = self.tls.crl.as_mut() {
            resolve(crl);
        }
        resolve(&mut self.tls.cert);
        resolve(&mut self.tls.key);
        resolve(&mut self.tokens.signing_key);
        resolve(&mut self.tokens.public_key);
        resolve(&mut self.pseudonym_key);
        resolve(&mut self.audit_signing_key);
        resolve(&mut self.audit_public_key);
        if let Some(key) = self.federation_signing_key.as_mut() {
            resolve(key);
        }
        if let Some(policy) = self.policy.as_mut() {
            resolve(policy);
        }
        if let Some(registry) = self.org_registry.as_mut() {
            resolve(registry);
        }
        for org in &mut self.orgs {
            for issuer in &mut org.issuers {
                resolve(&mut issuer.jwks);
            }
        }
        if let Some(registry) = self.peer_registry.as_mut() {
            resolve(registry);
        }
        for peer in &mut self.peers {
            peer.resolve_paths(base);
        }
        if let Some(file) = self.database_url.strip_prefix("sqlite://") {
            let file = Path::new(file);
            if file.is_relative() {
                self.database_url = format!("sqlite://{}", base.join(file).display());
            }
        }
    }

    fn check(&self) -> Result<(), String> {
        if !crate::identity::peer::is_valid_id(&self.hub_id) {
            return Err(format!("hub_id '{}' is not a valid id", self.hub_id));
        }
        crate::identity::reload::check_orgs(&self.orgs)?;
        crate::identity::agreement::check_peers(&self.hub_id, &self.peers)?;
        if let Some(problem) = self.rate_limit.problem() {
            return Err(problem);
        }
        if let Some(problem) = self.limits.problem() {
            return Err(problem);
        }
        if self.max_token_ttl_seconds == 0 {
            return Err("max_token_ttl_seconds must be at least 1".into());
        }
        for group in &self.sharing_groups {
            if !crate::identity::peer::is_valid_id(&group.id) {
                return Err(format!("sharing_groups: '{}' is not a valid id", group.id));
            }
            // Members may also live in the org registry file, checked when it is loaded.
            for org in std::iter::once(&group.owner).chain(&group.members) {
                if self.org_registry.is_none() && !self.orgs.iter().any(|entry| &entry.id == org) {
                    return Err(format!(
                        "sharing_groups: '{}' names '{org}', which is not in orgs",
                        group.id
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn tls_paths(&self) -> TlsPaths {
        TlsPaths {
            ca: self.tls.ca.clone(),
            crl: self.tls.crl.clone(),
            cert: self.tls.cert.clone(),
            key: self.tls.key.clone(),
            peer_cas: Vec::new(),
        }
    }

    /// How often identity files are checked for changes.
    /// What the identity reloader builds its material from.
    pub fn identity_sources(&self) -> IdentitySources {
        IdentitySources {
            hub_id: self.hub_id.clone(),
            trust_domain: self.trust_domain.clone(),
            tls: self.tls_paths(),
            token_public_key: self.tokens.public_key.clone(),
            max_token_ttl_seconds: self.max_token_ttl_seconds,
            rate_limit: self.rate_limit,
            orgs: self.orgs.clone(),
            org_registry: self.org_registry.clone(),
            peers: self.peers.clone(),
            peer_registry: self.peer_registry.clone(),
        }
    }

    pub fn reload_poll(&self) -> Duration {
        Duration::from_millis(self.reload_poll_millis.max(50))
    }

    pub fn max_connection_age_grace(&self) -> Duration {
        Duration::from_secs(self.max_connection_age_grace_seconds)
    }

    pub fn max_connection_age(&self) -> Duration {
        Duration::from_secs(self.max_connection_age_seconds.max(1))
    }
}
