//! SLT Hub: the server library behind the `slt-hub` binary.
//!
//! A request travels, outermost first:
//!
//! 1. `identity::tls` accepts the TCP connection and completes mutual TLS 1.3 (client
//!    certificates from the trust domain's CA, CRLs checked);
//! 2. `api::guard` reads the certificate's SPIFFE org and the bearer token into a `Principal`
//!    (`identity`), looks the method up in `api::capabilities` and checks the roles;
//! 3. a service in `api` (e.g. `api::incidents`) converts the proto request to `domain` types,
//!    validating every field, and composes `store` (what exists) with `policy` (who may see or
//!    change it);
//! 4. every incident that leaves goes through `policy::redact`, and is converted back to proto.
//!
//! [`serve`] runs a hub on a listener the caller bound, so tests bind `127.0.0.1:0` themselves.

#![forbid(unsafe_code)]

pub mod anonymise;
pub mod api;
pub mod audit;
pub mod config;
pub mod dev;
pub mod doctor;
pub mod domain;
pub mod federation;
pub mod feed;
pub mod identity;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod picture;
pub mod pki;
pub mod policy;
pub mod record_classes;
pub mod release;
pub mod sealed;
pub mod store;
pub mod taxii;
pub mod telemetry;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use slt_proto::v1::admin_service_server::AdminServiceServer;
use slt_proto::v1::audit_service_server::AuditServiceServer;
use slt_proto::v1::incident_service_server::IncidentServiceServer;
use slt_proto::v1::sync_service_server::SyncServiceServer;
use slt_proto::v1::threat_service_server::ThreatServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::pb::health_server::{Health, HealthServer};

use crate::api::admin::AdminApi;
use crate::api::audit::AuditApi;
use crate::api::guard::{GuardContext, GuardLayer};
use crate::api::incidents::IncidentApi;
use crate::api::sync::SyncApi;
use crate::api::threat::ThreatApi;
use crate::config::HubConfig;
use crate::identity::OrgRegistry;
use crate::store::Store;

/// Largest gRPC message accepted or sent (security.md: 4 MiB; batches stream).
pub use api::MAX_MESSAGE_BYTES;

/// Why the hub could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Tls(#[from] identity::tls::TlsError),
    #[error(transparent)]
    Key(#[from] identity::keys::KeyError),
    #[error(transparent)]
    Identity(#[from] identity::reload::ReloadError),
    #[error("config: {0}")]
    Config(String),
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
    #[error("server reflection could not be set up: {0}")]
    Reflection(String),
    #[error(transparent)]
    Seal(#[from] sealed::SealError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("the anonymiser cannot run: {0}")]
    Anonymiser(String),
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Refuses to start when this database's ids were derived under another master secret or hub
/// id (`ingest::ids`): the same submission would get another id, so resubmitting would
/// duplicate, and the submitters' own ids would stop answering.
async fn check_id_space(
    store: &Store,
    secrets: &anonymise::OrgSecrets,
    hub_id: &str,
) -> Result<(), HubError> {
    let fingerprint = ingest::ids::IdSpace::new(secrets.clone(), hub_id.to_string()).fingerprint();
    let pinned = store.pin_meta(ID_SPACE_KEY, &fingerprint).await?;
    if pinned != fingerprint {
        return Err(HubError::Config(format!(
            "pseudonym_key / hub_id: this database's incident ids were derived under another \
             key file or hub id (hub_meta {ID_SPACE_KEY}); every replica must use the same \
             pseudonym key and hub id, and neither may change under a database"
        )));
    }
    Ok(())
}

/// The `hub_meta` key of the id-space fingerprint.
const ID_SPACE_KEY: &str = "id_space_fingerprint";

/// Serves the hub on `listener` until `shutdown` completes: [`Hub::build`], then [`Hub::run`].
/// The metrics endpoint listens on `metrics.listen` when the config sets it.
pub async fn serve(
    listener: TcpListener,
    config: HubConfig,
    store: Store,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HubError> {
    let metrics_listener = match config.metrics.listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .map_err(|error| HubError::Config(format!("metrics.listen {address}: {error}")))?,
        ),
        None => None,
    };
    serve_with_metrics(listener, metrics_listener, config, store, shutdown).await
}

/// [`serve`] with the metrics endpoint on a listener the caller bound (or none).
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    config: HubConfig,
    store: Store,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HubError> {
    serve_with_taxii(listener, metrics_listener, None, config, store, shutdown).await
}

/// [`serve_with_metrics`] with the TAXII server on a listener the caller bound (tests); none:
/// on `taxii.listen` when the config sets it.
pub async fn serve_with_taxii(
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    taxii_listener: Option<TcpListener>,
    config: HubConfig,
    store: Store,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HubError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    let mut hub = Hub::build(config, store, health).await?;
    hub.taxii_listener = taxii_listener;
    hub.run(listener, metrics_listener, health_service, shutdown)
        .await
}

/// The gRPC services a hub serves (health and reflection aside).
struct Services {
    incidents: IncidentServiceServer<IncidentApi>,
    sync: SyncServiceServer<SyncApi>,
    audit: AuditServiceServer<AuditApi>,
    threat: ThreatServiceServer<ThreatApi>,
    admin: AdminServiceServer<AdminApi>,
}

/// A hub built from its config and ready to run: identity material loaded, policy, keys and
/// the anonymiser checked, services built. Nothing is spawned and nothing listens yet.
pub struct Hub {
    config: HubConfig,
    store: Store,
    health: tonic_health::server::HealthReporter,
    reloader: identity::reload::Reloader,
    policy_version: String,
    signer: Arc<audit::checkpoints::CheckpointSigner>,
    services: Services,
    /// Tells streaming calls (SyncService) that the hub is stopping.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The live feed's batch boundaries (sampled by a task `run` spawns).
    horizon: Arc<feed::Horizon>,
    metrics: Arc<metrics::HubMetrics>,
    /// The feed and sealer the TAXII server reads with (used only when `[taxii] listen` is set).
    taxii: (feed::Feed, Arc<sealed::Sealer>),
    /// A TAXII listener the caller bound (else `taxii.listen` is bound by `run`).
    taxii_listener: Option<TcpListener>,
}

impl Hub {
    /// Loads and checks everything `config` names; an error here stops the hub from starting.
    pub async fn build(
        config: HubConfig,
        store: Store,
        health: tonic_health::server::HealthReporter,
    ) -> Result<Hub, HubError> {
        // Certificates, CRLs, token keys, JWKS files and the org registry: loaded here, reloaded
        // on SIGHUP and on file change by the reloader task.
        let reloader =
            identity::reload::Reloader::start(config.identity_sources(), health.clone())?;
        check_group_members(&config, &reloader.orgs.load())?;
        health
            .set_service_status(
                identity::reload::IDENTITY_HEALTH_SERVICE,
                tonic_health::ServingStatus::Serving,
            )
            .await;

        let policy = Arc::new(load_policy(&config)?);
        tracing::info!(policy_version = policy.version(), "policy loaded");
        // Membership changes since the last start become ACCESS changes in the feed, so former
        // members' mirrors are told to delete what they may no longer see.
        let access_changes = store
            .record_group_membership(&policy.all_group_members())
            .await?;
        if access_changes > 0 {
            tracing::info!(
                access_changes,
                "sharing-group membership changed since the last start"
            );
        }

        anonymise::self_check().map_err(HubError::Anonymiser)?;
        let master = identity::keys::read_secret_hex(&config.pseudonym_key)?;
        // Record keys of the cell-key method, under the same master key; rows without one
        // (written before the column existed, or by a tool) get theirs now.
        let store = store.with_record_keys(policy::cell_key::RecordKeys::new(&master));
        let filled = store.fill_record_keys().await?;
        if filled > 0 {
            tracing::info!(filled, "record keys filled");
        }
        if policy.rules().record_rule.is_on() {
            // The first start under the record rule: mirrors and peers may hold every shared
            // incident in full; each is sent again under the rule (or revoked).
            let touched = store.begin_record_rule(record_classes::LEGACY).await?;
            if touched > 0 {
                tracing::info!(touched, "record rule applied to incidents shared before it");
            }
        }
        let secrets = anonymise::OrgSecrets::new(&master);
        let sealer = Arc::new(sealed::Sealer::new(&master)?);
        check_id_space(&store, &secrets, &config.hub_id).await?;
        let signer = Arc::new(audit::checkpoints::CheckpointSigner::load(
            &identity::keys::read_key_file(&config.audit_signing_key)?,
            &identity::keys::read_key_file(&config.audit_public_key)?,
            &config.hub_id,
            audit::checkpoints::state_path(&config.audit_signing_key),
        )?);
        let origin_signer = load_origin_signer(&config)?;
        let (stopping, stopping_receiver) = tokio::sync::watch::channel(false);
        let horizon = feed::Horizon::new(policy.rules().live_batch_seconds);
        let taxii = (
            feed::Feed::new(
                store.clone(),
                policy.clone(),
                config.hub_id.clone(),
                sealer.clone(),
            ),
            sealer.clone(),
        );
        let services = Services::new(
            &config,
            &store,
            &reloader,
            &policy,
            (secrets, sealer),
            (&signer, origin_signer),
            (stopping_receiver, horizon.clone()),
        );
        let metrics = metrics::HubMetrics::new(
            &config.metrics,
            Some(sampler(
                store.clone(),
                reloader.status.clone(),
                horizon.clone(),
                config.audit_checkpoint_seconds.max(1),
            )),
        );
        Ok(Hub {
            metrics,
            policy_version: policy.version().to_string(),
            config,
            store,
            health,
            reloader,
            signer,
            services,
            stopping,
            horizon,
            taxii,
            taxii_listener: None,
        })
    }

    /// Spawns the background tasks (identity reload, audit checkpoints, federation pulls) and
    /// serves on `listener` until `shutdown` completes; then stops them and signs a last
    /// checkpoint.
    pub async fn run(
        mut self,
        listener: TcpListener,
        metrics_listener: Option<TcpListener>,
        health_service: HealthServer<impl Health>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), HubError> {
        let config = &self.config;
        let taxii_listener = match (self.taxii_listener.take(), config.taxii.listen) {
            (Some(listener), _) => Some(listener),
            (None, Some(address)) => {
                Some(TcpListener::bind(address).await.map_err(|error| {
                    HubError::Config(format!("taxii.listen {address}: {error}"))
                })?)
            }
            (None, None) => None,
        };
        let (reflection_v1, reflection_v1alpha) = reflection()?;
        let reload_signal = Arc::new(tokio::sync::Notify::new());
        let sighup_task = identity::reload::forward_sighup(reload_signal.clone());
        let reload_task = tokio::spawn(
            self.reloader
                .clone()
                .run(config.reload_poll(), reload_signal.clone()),
        );
        let horizon_task = tokio::spawn(self.horizon.clone().run(self.store.clone()));
        let checkpoint_task = tokio::spawn(checkpoint_loop(
            self.store.clone(),
            self.signer.clone(),
            std::time::Duration::from_secs(config.audit_checkpoint_seconds.max(1)),
            self.metrics.audit.clone(),
        ));
        // One writer for the whole run: every call's record goes through its group commit.
        let writer = audit::writer::AuditWriter::start_observed(
            self.store.clone(),
            Some(self.metrics.audit.clone()),
        );
        let coalesce = std::time::Duration::from_secs(config.audit_coalesce_seconds.max(1));
        let scrapes =
            audit::refusals::RefusalLog::counting(writer.clone(), coalesce, "coalesced_scrapes");
        let scrapes_task = tokio::spawn(scrapes.clone().run());
        let metrics_task = metrics_listener.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "metrics endpoint serving (GET /metrics, plain HTTP)");
            }
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(api::metrics_endpoint::serve(
                listener,
                api::metrics_endpoint::ScrapeContext {
                    metrics: self.metrics.clone(),
                    scrapes: scrapes.clone(),
                    hub_id: config.hub_id.clone(),
                },
                async move {
                    let _ = stopped.await;
                },
            ));
            (stop, task)
        });
        let taxii_refusals = audit::refusals::RefusalLog::new(writer.clone(), coalesce);
        let taxii_tasks = taxii_listener.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "TAXII 2.1 serving (mutual TLS, read-only)");
            }
            let (feed, sealer) = self.taxii.clone();
            let marks = tokio::spawn(feed::run_marks(
                self.store.clone(),
                feed.policy().rules().live_batch_seconds,
            ));
            let refusals = tokio::spawn(taxii_refusals.clone().run());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(taxii::serve(
                listener,
                self.reloader.tls.clone(),
                config.max_connection_age() + config.max_connection_age_grace(),
                taxii::TaxiiContext::new(
                    self.reloader.authenticator.clone(),
                    feed,
                    sealer,
                    (writer.clone(), taxii_refusals.clone()),
                    config.hub_id.clone(),
                    self.policy_version.clone(),
                    config.limits.clone(),
                ),
                async move {
                    let _ = stopped.await;
                },
            ));
            (stop, server, marks, refusals)
        });
        // Federation: a pull worker per agreement; the admin API reports their status.
        let federation_task = federation::worker::start(federation::worker::FederationContext {
            hub_id: config.hub_id.clone(),
            store: self.store.clone(),
            peers: self.reloader.peers.clone(),
            own_tls: federation::channel::OwnTls {
                ca: config.tls.ca.clone(),
                cert: config.tls.cert.clone(),
                key: config.tls.key.clone(),
                trust_domain: config.trust_domain.clone(),
            },
            token_signing_key: config.tokens.signing_key.clone(),
            token_public_key: config.tokens.public_key.clone(),
            metrics: self.metrics.federation.clone(),
        });
        let stopping = self.stopping;
        let shutdown = async move {
            shutdown.await;
            let _ = stopping.send(true);
        };
        self.services.set_serving(&self.health).await;

        // At max_connection_age a connection is asked to go away (GOAWAY: clients move to a
        // new connection, which meets the current certificates and CRL); whatever still runs
        // on it gets a grace period, then the connection is closed for good, so a revoked
        // client cannot keep a stream open for ever. (tonic's own grace setting would drop the
        // GOAWAY; see `identity::tls::AgedStream`.)
        let (incoming, accept_task) = identity::tls::incoming(
            listener,
            self.reloader.tls.clone(),
            config.max_connection_age() + config.max_connection_age_grace(),
        );
        let services = self.services;
        let refusals = audit::refusals::RefusalLog::new(writer.clone(), coalesce);
        let refusals_task = tokio::spawn(refusals.clone().run());
        let result = Server::builder()
            .max_connection_age(config.max_connection_age())
            .layer(GuardLayer::new(GuardContext {
                authenticator: self.reloader.authenticator.clone(),
                limiter: Arc::new(identity::rate::RateLimiter::new()),
                limits: config.limits.clone(),
                occupancy: limits::occupancy::Occupancy::new(),
                writer,
                refusals: refusals.clone(),
                hub_id: config.hub_id.clone(),
                policy_version: self.policy_version.clone(),
                metrics: self.metrics.clone(),
            }))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(services.incidents)
            .add_service(services.sync)
            .add_service(services.audit)
            .add_service(services.threat)
            .add_service(services.admin)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await;
        accept_task.abort();
        refusals_task.abort();
        if let Err(error) = refusals.flush(true).await {
            tracing::error!(%error, "summary of coalesced refusals not written");
        }
        federation_task.abort();
        if let Some((stop, task)) = metrics_task {
            let _ = stop.send(());
            match task.await {
                Ok(Err(error)) => tracing::error!(%error, "metrics endpoint failed"),
                Err(error) => tracing::error!(%error, "metrics endpoint task failed"),
                Ok(Ok(())) => {}
            }
        }
        if let Some((stop, server, marks, refusals)) = taxii_tasks {
            let _ = stop.send(());
            match server.await {
                Ok(Err(error)) => tracing::error!(%error, "TAXII server failed"),
                Err(error) => tracing::error!(%error, "TAXII server task failed"),
                Ok(Ok(())) => {}
            }
            marks.abort();
            refusals.abort();
            if let Err(error) = taxii_refusals.flush(true).await {
                tracing::error!(%error, "summary of coalesced TAXII refusals not written");
            }
        }
        scrapes_task.abort();
        if let Err(error) = scrapes.flush(true).await {
            tracing::error!(%error, "summary of coalesced scrapes not written");
        }
        horizon_task.abort();
        checkpoint_task.abort();
        reload_task.abort();
        sighup_task.abort();
        // The last word of every run is a signed checkpoint over everything it recorded.
        if let Err(error) = self.signer.checkpoint(&self.store).await {
            tracing::error!(%error, "final audit checkpoint not written");
        }
        result.map_err(HubError::from)
    }
}

impl Services {
    fn new(
        config: &HubConfig,
        store: &Store,
        reloader: &identity::reload::Reloader,
        policy: &Arc<policy::PolicyEngine>,
        (secrets, sealer): (anonymise::OrgSecrets, Arc<sealed::Sealer>),
        (signer, origin_signer): (
            &Arc<audit::checkpoints::CheckpointSigner>,
            Option<Arc<wire::origin_seal::OriginSigner>>,
        ),
        (stopping, horizon): (tokio::sync::watch::Receiver<bool>, Arc<feed::Horizon>),
    ) -> Services {
        // One pool for the CPU-heavy work of every service, each org within its share.
        let cpu = limits::cpu::CpuPool::new(&config.limits);
        let feed = feed::Feed::new(
            store.clone(),
            policy.clone(),
            config.hub_id.clone(),
            sealer.clone(),
        );
        Services {
            audit: AuditServiceServer::new(AuditApi::new(
                store.clone(),
                signer.clone(),
                sealer.clone(),
            ))
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
            admin: AdminServiceServer::new(AdminApi::new(
                store.clone(),
                config.hub_id.clone(),
                reloader.peers.clone(),
            )),
            sync: SyncServiceServer::new(SyncApi::new(
                feed.clone(),
                horizon,
                stopping,
                origin_signer,
            ))
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
            threat: ThreatServiceServer::new(ThreatApi::new(
                (store.clone(), cpu.clone(), sealer.clone()),
                config.hub_id.clone(),
                policy.clone(),
                ingest::ids::IdSpace::new(secrets.clone(), config.hub_id.clone()),
            ))
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
            incidents: IncidentServiceServer::new(IncidentApi::new(
                (store.clone(), cpu.clone()),
                config.hub_id.clone(),
                reloader.orgs.clone(),
                policy.clone(),
                secrets,
                (sealer, feed.classes()),
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    async fn set_serving(&self, health: &tonic_health::server::HealthReporter) {
        health
            .set_serving::<IncidentServiceServer<IncidentApi>>()
            .await;
        health.set_serving::<SyncServiceServer<SyncApi>>().await;
        health.set_serving::<AuditServiceServer<AuditApi>>().await;
        health.set_serving::<ThreatServiceServer<ThreatApi>>().await;
        health.set_serving::<AdminServiceServer<AdminApi>>().await;
    }
}

/// The key that signs this hub's records for peers. Federation without one would serve
/// records no peer can verify, so a hub with agreements (or a peer registry) refuses to start.
fn load_origin_signer(
    config: &HubConfig,
) -> Result<Option<Arc<wire::origin_seal::OriginSigner>>, HubError> {
    let federates = !config.peers.is_empty() || config.peer_registry.is_some();
    let Some(path) = &config.federation_signing_key else {
        if federates {
            return Err(HubError::Config(
                "federation (peers or peer_registry) needs federation_signing_key: the Ed25519 \
                 key that signs this hub's incidents and advisories for its peers (slt-hub pki \
                 issue-hub and slt-hub dev generate one)"
                    .into(),
            ));
        }
        return Ok(None);
    };
    let pem = identity::keys::read_key_file(path)?;
    let signer =
        wire::origin_seal::OriginSigner::from_pem(&config.hub_id, &pem).map_err(|error| {
            HubError::Config(format!(
                "federation_signing_key {}: {error}",
                path.display()
            ))
        })?;
    Ok(Some(Arc::new(signer)))
}

/// Server reflection, v1 and v1alpha, over the hub's protos and the health protocol.
fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    HubError,
> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(slt_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|error| HubError::Reflection(error.to_string()))?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(slt_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|error| HubError::Reflection(error.to_string()))?;
    Ok((v1, v1alpha))
}

/// Sharing groups name registered orgs (the registry file may hold some of them).
fn check_group_members(config: &HubConfig, orgs: &OrgRegistry) -> Result<(), HubError> {
    for group in &config.sharing_groups {
        for org in std::iter::once(&group.owner).chain(&group.members) {
            if orgs.get(org).is_none() {
                return Err(HubError::Config(format!(
                    "sharing_groups: '{}' names '{org}', which is not a registered org",
                    group.id
                )));
            }
        }
    }
    Ok(())
}

/// Signs a tree head over the access log on start (which checks the last signed head and the
/// log since) and at every interval (when it grew).
async fn checkpoint_loop(
    store: Store,
    signer: Arc<audit::checkpoints::CheckpointSigner>,
    every: std::time::Duration,
    metrics: metrics::AuditMetrics,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match signer.checkpoint(&store).await {
            Ok(_) => {
                metrics.checkpoint_success.set(metrics::unix_now());
            }
            Err(error) => {
                metrics.checkpoint_failures.inc();
                tracing::error!(%error, "audit checkpoint not written");
            }
        }
    }
}

/// The values the metrics endpoint reads at scrape time: the pool's use, the identity
/// reloader's counts, the validity of the certificate and CRL in force, and the live feed's
/// lag.
fn sampler(
    store: Store,
    status: Arc<identity::reload::ReloadStatus>,
    horizon: Arc<feed::Horizon>,
    checkpoint_seconds: u64,
) -> metrics::Sampler {
    use metrics::Sample;
    metrics::Sampler::new(move || {
        let pool = store.pool_use();
        let validity = status.validity();
        let mut samples = vec![
            Sample::gauge(
                "slt_feed_batch_seconds",
                "Batch length of the live feed for viewers below the timestamps' tier (0: none)",
                horizon.batch_seconds() as f64,
            ),
            Sample::gauge(
                "slt_feed_horizon_age_seconds",
                "Time since the live feed's last batch boundary was sampled (batched \
                 subscribers get nothing newer)",
                horizon.age(std::time::SystemTime::now()).as_secs_f64(),
            ),
            Sample::gauge(
                "slt_audit_checkpoint_interval_seconds",
                "Seconds between checkpoint runs (audit_checkpoint_seconds)",
                checkpoint_seconds as f64,
            ),
            Sample::gauge(
                "slt_db_pool_connections",
                "Database connections open",
                f64::from(pool.open),
            ),
            Sample::gauge(
                "slt_db_pool_idle_connections",
                "Database connections open and idle",
                f64::from(pool.idle),
            ),
            Sample::gauge(
                "slt_db_pool_max_connections",
                "The most connections the pool may open",
                f64::from(pool.max),
            ),
            Sample::counter(
                "slt_identity_reloads",
                "Identity material reloads that succeeded",
                status.succeeded(),
            ),
            Sample::counter(
                "slt_identity_reload_failures",
                "Identity material reloads that failed (the previous material stayed)",
                status.failed(),
            ),
            Sample::gauge(
                "slt_identity_reload_failing",
                "1 when the last identity reload failed",
                if status.last_error().is_some() {
                    1.0
                } else {
                    0.0
                },
            ),
        ];
        let times = [
            (
                "slt_identity_certificate_expiry_timestamp_seconds",
                "Unix time the hub certificate in force expires",
                validity.cert_not_after,
            ),
            (
                "slt_identity_crl_this_update_timestamp_seconds",
                "Unix time the CRL in force was issued (earliest over its CRLs)",
                validity.crl_this_update,
            ),
            (
                "slt_identity_crl_next_update_timestamp_seconds",
                "Unix time the CRL in force must be replaced by (earliest over its CRLs)",
                validity.crl_next_update,
            ),
        ];
        for (name, help, value) in times {
            if let Some(value) = value {
                // Unix seconds fit f64 exactly.
                samples.push(Sample::gauge(name, help, value as f64));
            }
        }
        samples
    })
}

/// The policy engine for a config: its policy file (or the built-in policy) and its groups.
pub fn load_policy(config: &HubConfig) -> Result<policy::PolicyEngine, policy::PolicyError> {
    let rules = match &config.policy {
        Some(path) => policy::PolicyRules::load(path)?,
        None => policy::PolicyRules::builtin()?,
    };
    Ok(policy::PolicyEngine::new(
        rules,
        policy::SharingGroups::new(config.sharing_groups.clone()),
    ))
}
