//! Identity material that changes while the hub runs: the CA bundle, CRLs, the hub's own
//! certificate and key, the token key, organisations' JWKS files and the org registry.
//!
//! [`load`] builds all of it from the files, completely, or fails naming the file and what is
//! wrong. [`Reloader`] swaps a freshly built set in atomically (new TLS handshakes and new calls
//! use it; established connections keep theirs until `max_connection_age`), on SIGHUP and when
//! any watched file changes (polled: a content hash every `reload_poll_millis`). A failed
//! reload keeps the material in force, logs why, counts the failure and marks the
//! `slt.hub.identity` health service NOT_SERVING until a reload succeeds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::server::ServerConfig;
use serde::Deserialize;
use tokio::sync::Notify;

use super::agreement::{self, PeerAgreement};
use super::rate::RateLimit;
use super::tls::{self, SharedServerConfig, TlsPaths};
use super::token::TokenVerifier;
use super::{
    Authenticator, OrgEntry, OrgRegistry, SharedAuthenticator, SharedOrgRegistry, jwks, keys,
};

/// The health service name whose status reports the last reload (SERVING: the material in
/// force is what the files say; NOT_SERVING: the last reload failed and older material is in
/// force).
pub const IDENTITY_HEALTH_SERVICE: &str = "slt.hub.identity";

/// Why identity material could not be (re)loaded. Messages name files and fields, never key
/// material.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Jwks(#[from] jwks::JwksError),
    #[error("org registry {path}: {message}")]
    Registry { path: String, message: String },
    #[error("peer agreements {path}: {message}")]
    Peers { path: String, message: String },
}

/// The files and settings identity material is built from: the identity part of the hub
/// config (`HubConfig::identity_sources`), so that this layer does not depend on the config
/// file's shape.
#[derive(Debug, Clone)]
pub struct IdentitySources {
    pub hub_id: String,
    pub trust_domain: String,
    /// The CA bundle, CRLs and the hub's own certificate and key (`peer_cas` empty: peer CAs
    /// come from the agreements).
    pub tls: TlsPaths,
    /// The public key of the hub's own token signing key.
    pub token_public_key: PathBuf,
    pub max_token_ttl_seconds: u64,
    pub rate_limit: RateLimit,
    pub orgs: Vec<OrgEntry>,
    pub org_registry: Option<PathBuf>,
    pub peers: Vec<PeerAgreement>,
    pub peer_registry: Option<PathBuf>,
}

/// Everything identity needs, built together.
pub struct IdentityMaterial {
    pub tls: Arc<ServerConfig>,
    pub authenticator: Arc<Authenticator>,
    pub orgs: Arc<OrgRegistry>,
    /// The peer agreements in force (hub.toml's and the peer registry file's).
    pub peers: Arc<Vec<PeerAgreement>>,
    /// The files this material was built from (watched for changes).
    pub files: Vec<PathBuf>,
}

/// The reloadable org registry file: `[[orgs]]` entries as in `hub.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    orgs: Vec<OrgEntry>,
}

/// Reads an org registry file; relative JWKS paths resolve against its directory.
pub fn read_registry(path: &Path) -> Result<Vec<OrgEntry>, ReloadError> {
    let registry_error = |message: String| ReloadError::Registry {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|error| registry_error(error.to_string()))?;
    let file: RegistryFile =
        toml::from_str(&text).map_err(|error| registry_error(error.to_string()))?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut orgs = file.orgs;
    for org in &mut orgs {
        for issuer in &mut org.issuers {
            if issuer.jwks.is_relative() {
                issuer.jwks = base.join(&issuer.jwks);
            }
        }
    }
    Ok(orgs)
}

/// Checks registry entries: valid unique ids, a role cap, real country codes, usable rate
/// limits and issuers. The message names the org and the field.
pub fn check_orgs(orgs: &[OrgEntry]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for org in orgs {
        if !super::peer::is_valid_id(&org.id) {
            return Err(format!("orgs: '{}' is not a valid org id", org.id));
        }
        if !seen.insert(org.id.as_str()) {
            return Err(format!("orgs: '{}' is registered twice", org.id));
        }
        if org.roles.is_empty() {
            return Err(format!(
                "orgs '{}': roles must list at least one role",
                org.id
            ));
        }
        for country in &org.countries {
            if slt_proto::countries::normalise_country(country).is_none() {
                return Err(format!(
                    "orgs '{}': countries: '{country}' is not an ISO 3166-1 alpha-3 code",
                    org.id
                ));
            }
        }
        if let Some(problem) = org.rate_limit.as_ref().and_then(RateLimit::problem) {
            return Err(format!("orgs '{}': {problem}", org.id));
        }
        for issuer in &org.issuers {
            if issuer.iss.trim().is_empty() {
                return Err(format!("orgs '{}': issuers.iss must not be empty", org.id));
            }
        }
    }
    Ok(())
}

/// The files identity material is built from, as far as they can be known without building
/// it (a registry file that does not parse contributes only itself). Watched for changes, also
/// after a failed reload, so that creating a missing file is noticed.
pub fn watched_files(config: &IdentitySources) -> Vec<PathBuf> {
    let mut files = vec![
        config.tls.ca.clone(),
        config.tls.cert.clone(),
        config.tls.key.clone(),
        config.token_public_key.clone(),
    ];
    files.extend(config.tls.crl.clone());
    let mut orgs = config.orgs.clone();
    if let Some(path) = &config.org_registry {
        files.push(path.clone());
        if let Ok(more) = read_registry(path) {
            orgs.extend(more);
        }
    }
    files.extend(
        orgs.iter()
            .flat_map(|org| org.issuers.iter().map(|issuer| issuer.jwks.clone())),
    );
    let mut peers = config.peers.clone();
    if let Some(path) = &config.peer_registry {
        files.push(path.clone());
        if let Ok(more) = agreement::read_peer_file(path) {
            peers.extend(more);
        }
    }
    for peer in &peers {
        files.push(peer.token_public_key.clone());
        files.extend(peer.ca.clone());
        files.extend(peer.crl.clone());
    }
    files
}

/// A peer agreement problem, named by the file the agreements come from.
fn peers_error_in(config: &IdentitySources) -> impl Fn(String) -> ReloadError + '_ {
    |message: String| ReloadError::Peers {
        path: config
            .peer_registry
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| "(hub config)".into()),
        message,
    }
}

/// The peer agreements in force: hub.toml's and the peer registry file's, checked.
fn load_peers(config: &IdentitySources) -> Result<Vec<PeerAgreement>, ReloadError> {
    let peers_error = peers_error_in(config);
    let mut peers = config.peers.clone();
    if let Some(path) = &config.peer_registry {
        peers.extend(agreement::read_peer_file(path).map_err(&peers_error)?);
    }
    agreement::check_peers(&config.hub_id, &peers).map_err(peers_error)?;
    Ok(peers)
}

// Long by design: builds all identity material in one pass so that it is complete or fails as a
// whole.
/// Builds the identity material from the files `config` names.
pub fn load(config: &IdentitySources) -> Result<IdentityMaterial, ReloadError> {
    let files = watched_files(config);
    let peers = load_peers(config)?;
    let mut tls_paths = config.tls.clone();
    for peer in &peers {
        if let Some(ca) = &peer.ca {
            tls_paths.peer_cas.push((ca.clone(), peer.crl.clone()));
        }
    }
    let tls = tls::server_config(&tls_paths)?;

    let mut entries = config.orgs.clone();
    if let Some(path) = &config.org_registry {
        entries.extend(read_registry(path)?);
    }
    let registry_name = config
        .org_registry
        .as_ref()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| "(hub config)".into());
    check_orgs(&entries).map_err(|message| ReloadError::Registry {
        path: registry_name.clone(),
        message,
    })?;

    let token_key = keys::read_key_file(&config.token_public_key)?;
    let mut verifier =
        TokenVerifier::new(&config.hub_id, &token_key)?.with_max_ttl(config.max_token_ttl_seconds);
    for org in &entries {
        for issuer in &org.issuers {
            let keys = jwks::read(&issuer.jwks)?;
            verifier
                .add_org_issuer(&org.id, &issuer.iss, &keys)
                .map_err(|message| ReloadError::Registry {
                    path: registry_name.clone(),
                    message,
                })?;
        }
    }
    let federation = peer_federation(config, &peers, &mut verifier)?;
    let orgs = Arc::new(OrgRegistry::new(entries));
    let authenticator = Arc::new(
        Authenticator::new(
            &config.trust_domain,
            verifier,
            orgs.clone(),
            config.rate_limit,
        )
        .with_federation(federation),
    );
    Ok(IdentityMaterial {
        tls,
        authenticator,
        orgs,
        peers: Arc::new(peers),
        files,
    })
}

/// Peer hubs: their token keys (added to `verifier`), trust domains and trust anchors.
fn peer_federation(
    config: &IdentitySources,
    peers: &[PeerAgreement],
    verifier: &mut TokenVerifier,
) -> Result<super::Federation, ReloadError> {
    let peers_error = peers_error_in(config);
    let own_anchor = tls::anchor_verifier(&config.tls.ca, config.tls.crl.as_deref())?;
    let mut federation = super::Federation {
        own_anchor: peers
            .iter()
            .any(|peer| peer.ca.is_some())
            .then(|| own_anchor.clone()),
        peers: Default::default(),
    };
    for peer in peers {
        let key = keys::read_key_file(&peer.token_public_key)?;
        verifier
            .add_peer_issuer(&peer.hub_id, &key)
            .map_err(&peers_error)?;
        let anchor = match &peer.ca {
            Some(ca) => tls::anchor_verifier(ca, peer.crl.as_deref())?,
            None => own_anchor.clone(),
        };
        federation.peers.insert(
            peer.hub_id.clone(),
            super::PeerEntry {
                terms: Arc::new(peer.terms()),
                trust_domain: peer
                    .trust_domain
                    .clone()
                    .unwrap_or_else(|| config.trust_domain.clone()),
                anchor,
            },
        );
    }
    Ok(federation)
}

/// A content fingerprint of `files` (a missing file hashes as missing, so its return counts as
/// a change too).
fn fingerprint(files: &[PathBuf]) -> Vec<u8> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for file in files {
        context.update(file.as_os_str().as_encoded_bytes());
        match std::fs::read(file) {
            Ok(bytes) => {
                context.update(&(bytes.len() as u64).to_be_bytes());
                context.update(&bytes);
            }
            Err(_) => context.update(b"\0missing"),
        }
    }
    context.finish().as_ref().to_vec()
}

fn validity_of(config: &IdentitySources) -> super::validity::Validity {
    super::validity::read(&config.tls.cert, config.tls.crl.as_deref())
}

/// Reload counters and the last failure, for logs and health.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    succeeded: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The certificate's and CRL's times of the material in force.
    validity: Mutex<super::validity::Validity>,
}

impl ReloadStatus {
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Why the last reload failed, when it did (None after a success).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// When the hub certificate and the CRL in force run out.
    pub fn validity(&self) -> super::validity::Validity {
        *self
            .validity
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_validity(&self, validity: super::validity::Validity) {
        *self
            .validity
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = validity;
    }

    fn set_last_error(&self, error: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = error;
    }
}

/// Swaps new identity material in, on request or when the files change.
#[derive(Clone)]
pub struct Reloader {
    config: Arc<IdentitySources>,
    pub tls: SharedServerConfig,
    pub authenticator: SharedAuthenticator,
    pub orgs: SharedOrgRegistry,
    /// The peer agreements in force (pull workers read them on every round).
    pub peers: Arc<arc_swap::ArcSwap<Vec<PeerAgreement>>>,
    pub status: Arc<ReloadStatus>,
    files: Arc<Mutex<(Vec<PathBuf>, Vec<u8>)>>,
    health: tonic_health::server::HealthReporter,
}

impl Reloader {
    /// Loads the material once (an error here stops the hub from starting).
    pub fn start(
        config: IdentitySources,
        health: tonic_health::server::HealthReporter,
    ) -> Result<Reloader, ReloadError> {
        // Fingerprinted before reading, as in `reload`.
        let print = fingerprint(&watched_files(&config));
        let material = load(&config)?;
        let status = ReloadStatus::default();
        status.set_validity(validity_of(&config));
        Ok(Reloader {
            config: Arc::new(config),
            tls: Arc::new(arc_swap::ArcSwap::new(material.tls)),
            authenticator: Arc::new(arc_swap::ArcSwap::new(material.authenticator)),
            orgs: Arc::new(arc_swap::ArcSwap::new(material.orgs)),
            peers: Arc::new(arc_swap::ArcSwap::new(material.peers)),
            status: Arc::new(status),
            files: Arc::new(Mutex::new((material.files, print))),
            health,
        })
    }

    // Long by design: the fingerprint/build/swap sequence and its failure branch must stay in
    // this order (see the comments inside).
    /// Rebuilds everything from the files and swaps it in; on error keeps what is in force.
    pub async fn reload(&self, reason: &str) -> Result<(), String> {
        let config = self.config.clone();
        // File reads and key parsing off the async workers. The files are fingerprinted
        // *before* they are read: a file that changes while the material is built (a CRL
        // published mid-reload) then differs from the recorded print and is reloaded at the
        // next poll, instead of being recorded as seen while the older content is in force.
        let built = tokio::task::spawn_blocking(move || {
            let watched = watched_files(&config);
            let print = fingerprint(&watched);
            let built = load(&config).map(|material| (material, validity_of(&config)));
            (watched, print, built)
        })
        .await
        .map_err(|error| format!("reload task failed: {error}"));
        let (watched, print, built) = match built {
            Ok((watched, print, result)) => {
                (watched, print, result.map_err(|error| error.to_string()))
            }
            Err(error) => {
                let watched = watched_files(&self.config);
                let print = fingerprint(&watched);
                (watched, print, Err(error))
            }
        };
        match built {
            Ok((material, validity)) => {
                self.status.set_validity(validity);
                // Built from a different list of files than fingerprinted (the registry changed
                // in between): record an empty print so that the next poll reloads again.
                let print = if material.files == watched {
                    print
                } else {
                    Vec::new()
                };
                self.tls.store(material.tls);
                self.authenticator.store(material.authenticator);
                self.orgs.store(material.orgs.clone());
                self.peers.store(material.peers.clone());
                *self
                    .files
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = (material.files, print);
                let total = self.status.succeeded.fetch_add(1, Ordering::Relaxed) + 1;
                self.status.set_last_error(None);
                self.health
                    .set_service_status(
                        IDENTITY_HEALTH_SERVICE,
                        tonic_health::ServingStatus::Serving,
                    )
                    .await;
                tracing::info!(
                    reason,
                    orgs = material.orgs.len(),
                    reloads_total = total,
                    "identity material reloaded; new connections use it"
                );
                Ok(())
            }
            Err(error) => {
                // Do not retry the same broken files on every poll: remember what we saw, and
                // watch what the new files name (e.g. a JWKS file yet to be created).
                {
                    *self
                        .files
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = (watched, print);
                }
                let total = self.status.failed.fetch_add(1, Ordering::Relaxed) + 1;
                self.status.set_last_error(Some(error.clone()));
                self.health
                    .set_service_status(
                        IDENTITY_HEALTH_SERVICE,
                        tonic_health::ServingStatus::NotServing,
                    )
                    .await;
                tracing::warn!(
                    reason,
                    %error,
                    failed_reloads_total = total,
                    "identity reload failed; the previous material stays in force"
                );
                Err(error)
            }
        }
    }

    /// Whether any watched file changed since the material in force was built.
    fn changed(&self) -> bool {
        let files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        fingerprint(&files.0) != files.1
    }

    /// Reloads whenever `signal` is notified (SIGHUP) or a watched file changes.
    pub async fn run(self, poll: Duration, signal: Arc<Notify>) {
        let mut ticks = tokio::time::interval(poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = signal.notified() => {
                    let _ = self.reload("SIGHUP").await;
                }
                _ = ticks.tick() => {
                    let this = self.clone();
                    let changed = tokio::task::spawn_blocking(move || this.changed())
                        .await
                        .unwrap_or(false);
                    if changed {
                        let _ = self.reload("file change").await;
                    }
                }
            }
        }
    }
}

/// Notifies `signal` on every SIGHUP (unix), for the life of the process.
pub fn forward_sighup(signal: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal as unix_signal};
            match unix_signal(SignalKind::hangup()) {
                Ok(mut hangups) => {
                    while hangups.recv().await.is_some() {
                        signal.notify_one();
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGHUP; reload on file change only")
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = signal;
            std::future::pending::<()>().await;
        }
    })
}
