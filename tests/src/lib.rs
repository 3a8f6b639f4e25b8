//! Test harness for end-to-end tests: a real hub on 127.0.0.1:0 with a real PKI (rcgen) in a
//! temp dir, real mutual TLS, a real database, and the real SDK. Nothing is mocked.
//!
//! The database is a SQLite file in the hub's temp dir, or, when `SLT_TEST_POSTGRES_URL` holds a
//! PostgreSQL admin URL (`scripts/test.sh` starts a throwaway cluster and sets it), a fresh
//! PostgreSQL database with a random name, dropped when the hub is. The same test files run on
//! both backends.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use slt_client::{HubClient, Profile, proto as pb};
use slt_hub::config::{HubConfig, TlsFiles, TokenFiles};
use slt_hub::identity::Role;
use slt_hub::identity::keys;
use slt_hub::identity::token::TokenIssuer;
use slt_hub::pki::{self, CertificateAuthority, IssuedCert, LeafSpec};
use slt_hub::store::Store;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use slt_hub::dev::{DEV_HUB_ID, DEV_TRUST_DOMAIN};

/// One token lifetime for tests: long enough for any test.
pub const TEST_TOKEN_TTL: i64 = 3600;

/// The PostgreSQL admin URL that switches the tests to PostgreSQL.
pub const POSTGRES_URL_ENV: &str = "SLT_TEST_POSTGRES_URL";

/// The PostgreSQL admin URL, when the tests run on PostgreSQL.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A fresh PostgreSQL database (random name) on the admin URL's server, dropped on drop.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TestDatabase {
    pub async fn create(admin_url: &str) -> TestDatabase {
        use sqlx::Connection;
        let name = format!("slt_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to the PostgreSQL admin URL (SLT_TEST_POSTGRES_URL)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        TestDatabase {
            admin_url: admin_url.to_string(),
            url: database_url_for(admin_url, &name),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// `postgres://user@host:port/admin_db?params` with the database name replaced.
fn database_url_for(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_end = base
        .find("://")
        .map(|at| at + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut url = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Another hub process-in-a-task on the same database and configuration as a `TestHub` (a
/// replica, as several `slt-hub` processes behind a load balancer would be).
pub struct Replica {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), slt_hub::HubError>>>,
}

impl Replica {
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops the replica and waits for it.
    pub async fn stop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("replica task")
                .expect("replica ran cleanly");
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// A running hub and the material to talk to it.
pub struct TestHub {
    pub addr: SocketAddr,
    pub dir: TempDir,
    pub ca: CertificateAuthority,
    pub issuer: TokenIssuer,
    pub config: HubConfig,
    org_certs: Mutex<HashMap<String, IssuedCert>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), slt_hub::HubError>>>,
    /// The PostgreSQL database, when running on PostgreSQL (dropped after the hub).
    database: Option<TestDatabase>,
    /// Where `GET /metrics` answers, when the config sets `metrics.listen`.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the TAXII server answers, when the config sets `taxii.listen` (port 0: any).
    pub taxii_addr: Option<SocketAddr>,
}

impl TestHub {
    /// Starts a hub with the dev organisations (undss, unhcr, ngo-alpha, ngo-beta, ...).
    pub async fn start() -> TestHub {
        TestHub::start_with(|_, _| {}).await
    }

    /// Like [`TestHub::start`], with `configure` adjusting the config (and writing files into
    /// the hub's directory, given as its second argument) before the hub starts.
    pub async fn start_with(configure: impl FnOnce(&mut HubConfig, &Path)) -> TestHub {
        slt_hub::identity::tls::install_crypto_provider();
        // Hub logs in test output when RUST_LOG is set (e.g. RUST_LOG=slt_hub=debug).
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = CertificateAuthority::create(DEV_TRUST_DOMAIN).expect("CA");
        let pki_dir = dir.path().join("pki");
        pki::write_public(&pki_dir.join("ca.pem"), &ca.cert_pem).expect("write");
        pki::write_public(&pki_dir.join("crl.pem"), &ca.empty_crl().expect("crl")).expect("write");
        let hub_cert = ca
            .issue(&LeafSpec::hub(
                DEV_TRUST_DOMAIN,
                DEV_HUB_ID,
                &["localhost"],
                &["127.0.0.1".parse().expect("ip")],
            ))
            .expect("hub cert");
        pki::write_public(&pki_dir.join("hub.pem"), &hub_cert.cert_pem).expect("write");
        pki::write_secret(&pki_dir.join("hub.key"), &hub_cert.key_pem).expect("write");
        let token_keys = keys::generate_ed25519().expect("keys");
        pki::write_secret(&pki_dir.join("token.key"), &token_keys.private_pem).expect("write");
        pki::write_public(&pki_dir.join("token.pub.pem"), &token_keys.public_pem).expect("write");
        let issuer = TokenIssuer::new(DEV_HUB_ID, &token_keys.private_pem, &token_keys.public_pem)
            .expect("issuer");
        let audit_keys = keys::generate_ed25519().expect("keys");
        pki::write_secret(&pki_dir.join("audit.key"), &audit_keys.private_pem).expect("write");
        pki::write_public(&pki_dir.join("audit.pub.pem"), &audit_keys.public_pem).expect("write");
        let federation_keys = keys::generate_ed25519().expect("keys");
        pki::write_secret(
            &pki_dir.join("federation.key"),
            &federation_keys.private_pem,
        )
        .expect("write");
        pki::write_public(
            &pki_dir.join("federation.pub.pem"),
            &federation_keys.public_pem,
        )
        .expect("write");
        pki::write_secret(
            &pki_dir.join("pseudonym.key"),
            &keys::generate_secret_hex().expect("secret"),
        )
        .expect("write");

        let database = match postgres_admin_url() {
            Some(admin_url) => Some(TestDatabase::create(&admin_url).await),
            None => None,
        };
        let database_url = match &database {
            Some(database) => database.url.clone(),
            None => format!("sqlite://{}", dir.path().join("hub.db").display()),
        };
        let config = HubConfig {
            hub_id: DEV_HUB_ID.into(),
            trust_domain: DEV_TRUST_DOMAIN.into(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url,
            max_connection_age_seconds: 3600,
            max_connection_age_grace_seconds: 60,
            tls: TlsFiles {
                ca: pki_dir.join("ca.pem"),
                crl: Some(pki_dir.join("crl.pem")),
                cert: pki_dir.join("hub.pem"),
                key: pki_dir.join("hub.key"),
            },
            tokens: TokenFiles {
                signing_key: pki_dir.join("token.key"),
                public_key: pki_dir.join("token.pub.pem"),
            },
            pseudonym_key: pki_dir.join("pseudonym.key"),
            audit_signing_key: pki_dir.join("audit.key"),
            audit_public_key: pki_dir.join("audit.pub.pem"),
            federation_signing_key: Some(pki_dir.join("federation.key")),
            audit_checkpoint_seconds: 60,
            audit_coalesce_seconds: 60,
            limits: Default::default(),
            // The built-in policy with 1-second live batches, so live tests stay quick (the
            // batching itself is measured with its own setting in tests/live_timing.rs).
            policy: Some(write_policy(dir.path(), 1)),
            orgs: slt_hub::dev::dev_orgs(),
            org_registry: None,
            // Generous: tests that exercise limits configure small ones.
            rate_limit: slt_hub::identity::rate::RateLimit {
                per_second: 1000.0,
                burst: 2000,
            },
            max_token_ttl_seconds: slt_hub::identity::token::DEFAULT_MAX_TOKEN_TTL_SECONDS,
            // Reloads are picked up quickly in tests.
            reload_poll_millis: 100,
            sharing_groups: vec![slt_hub::policy::SharingGroup {
                id: "ssd-ngo-forum".into(),
                name: "South Sudan NGO security forum".into(),
                owner: "ngo-alpha".into(),
                members: vec!["ngo-alpha".into(), "ngo-beta".into()],
            }],
            peers: Vec::new(),
            peer_registry: None,
            metrics: Default::default(),
            taxii: Default::default(),
        };
        let mut config = config;
        configure(&mut config, dir.path());
        let mut hub = TestHub {
            addr: "127.0.0.1:0".parse().expect("addr"),
            dir,
            ca,
            issuer,
            config,
            org_certs: Mutex::new(HashMap::new()),
            shutdown: None,
            task: None,
            database,
            metrics_addr: None,
            taxii_addr: None,
        };
        hub.launch().await;
        hub
    }

    async fn launch(&mut self) {
        let store = Store::open(&self.config.database_url)
            .await
            .expect("open store");
        // The same address on a restart, so that clients reconnect to it by themselves.
        let listener = TcpListener::bind(self.addr).await.expect("bind");
        self.addr = listener.local_addr().expect("addr");
        // The metrics listener too keeps its address over a restart.
        let metrics_listener = match self.metrics_addr.or(self.config.metrics.listen) {
            Some(address) => {
                let listener = TcpListener::bind(address).await.expect("bind metrics");
                self.metrics_addr = Some(listener.local_addr().expect("addr"));
                Some(listener)
            }
            None => None,
        };
        let taxii_listener = match self.taxii_addr.or(self.config.taxii.listen) {
            Some(address) => {
                let listener = TcpListener::bind(address).await.expect("bind taxii");
                self.taxii_addr = Some(listener.local_addr().expect("addr"));
                Some(listener)
            }
            None => None,
        };
        let (sender, receiver) = oneshot::channel::<()>();
        let config = self.config.clone();
        self.task = Some(tokio::spawn(async move {
            let result = slt_hub::serve_with_taxii(
                listener,
                metrics_listener,
                taxii_listener,
                config,
                store.clone(),
                async {
                    let _ = receiver.await;
                },
            )
            .await;
            store.close().await;
            result
        }));
        self.shutdown = Some(sender);
    }

    /// Stops the hub and starts it again on the same database and address.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    /// Stops the hub and waits for it.
    pub async fn stop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("hub task").expect("hub ran cleanly");
        }
    }

    /// The hub's id of the incident `org` submitted as `submitted`: each org
    /// submits into its own id space (`slt_hub::ingest::ids`). Computed here from the hub's
    /// master secret, as the hub does, so tests can name a record another org submitted.
    pub fn stored_id(&self, org: &str, submitted: &str) -> String {
        let master = slt_hub::identity::keys::read_secret_hex(&self.config.pseudonym_key)
            .expect("master secret");
        let ids = slt_hub::ingest::ids::IdSpace::new(
            slt_hub::anonymise::OrgSecrets::new(&master),
            self.config.hub_id.clone(),
        );
        ids.own(
            org,
            slt_hub::ingest::ids::Kind::Incident,
            uuid::Uuid::parse_str(submitted).expect("uuid"),
        )
        .to_string()
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Whether this hub runs on PostgreSQL (`SLT_TEST_POSTGRES_URL`).
    pub fn is_postgres(&self) -> bool {
        self.database.is_some()
    }

    /// Starts another hub on the same database and configuration, on its own address.
    pub async fn start_replica(&self) -> Replica {
        self.start_replica_on(&self.config.database_url).await
    }

    /// Starts another hub with the same configuration on `database_url` (the same database,
    /// perhaps with other tuning parameters).
    pub async fn start_replica_on(&self, database_url: &str) -> Replica {
        let store = Store::open(database_url).await.expect("open store");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (sender, receiver) = oneshot::channel::<()>();
        let config = self.config.clone();
        let task = tokio::spawn(async move {
            let result = slt_hub::serve(listener, config, store.clone(), async {
                let _ = receiver.await;
            })
            .await;
            store.close().await;
            result
        });
        Replica {
            addr,
            shutdown: Some(sender),
            task: Some(task),
        }
    }

    /// A connected SDK client for `org` with `roles` talking to `endpoint` (e.g. a replica's).
    pub async fn client_at(&self, endpoint: &str, org: &str, roles: &[Role]) -> HubClient {
        HubClient::connect(&self.profile_at(endpoint, org, roles))
            .await
            .expect("connect")
    }

    /// A profile for `org` with `roles` talking to `endpoint`.
    pub fn profile_at(&self, endpoint: &str, org: &str, roles: &[Role]) -> Profile {
        let name = format!(
            "{}@{}",
            profile_name(org, roles),
            endpoint.trim_start_matches("https://").replace(':', "_")
        );
        self.write_profile(
            &name,
            endpoint,
            &self.org_cert(org),
            &self.token(org, roles),
        )
    }

    /// Runs SQL statements directly on the hub's database (tests that tamper with it).
    pub async fn execute_sql(&self, statements: &[&str]) {
        if self.is_postgres() {
            let db = sqlx::PgPool::connect(&self.config.database_url)
                .await
                .expect("db");
            for statement in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&db)
                    .await
                    .expect("statement");
            }
            db.close().await;
        } else {
            let db = sqlx::SqlitePool::connect(&self.config.database_url)
                .await
                .expect("db");
            for statement in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&db)
                    .await
                    .expect("statement");
            }
            db.close().await;
        }
    }

    /// The org's client certificate (issued once per hub).
    pub fn org_cert(&self, org: &str) -> IssuedCert {
        let mut certs = self.org_certs.lock().expect("lock");
        certs
            .entry(org.to_string())
            .or_insert_with(|| {
                self.ca
                    .issue(&LeafSpec::org(DEV_TRUST_DOMAIN, org))
                    .expect("org cert")
            })
            .clone()
    }

    /// A valid token for `org` with `roles`.
    pub fn token(&self, org: &str, roles: &[Role]) -> String {
        self.issuer
            .issue(org, &format!("tester@{org}"), roles, TEST_TOKEN_TTL)
            .expect("token")
    }

    /// Writes a profile with the given certificate and token text; returns it loaded.
    pub fn profile_with(&self, name: &str, cert: &IssuedCert, token: &str) -> Profile {
        self.write_profile(name, &self.endpoint(), cert, token)
    }

    fn write_profile(&self, name: &str, endpoint: &str, cert: &IssuedCert, token: &str) -> Profile {
        let base = self.dir.path().join("clients").join(name);
        std::fs::create_dir_all(&base).expect("dir");
        std::fs::write(base.join("cert.pem"), &cert.cert_pem).expect("write");
        std::fs::write(base.join("key.pem"), &cert.key_pem).expect("write");
        std::fs::write(base.join("token.jwt"), token).expect("write");
        let profile = format!(
            "endpoint = \"{}\"\nca = \"{}\"\ncert = \"cert.pem\"\nkey = \"key.pem\"\ntoken = \"token.jwt\"\n",
            endpoint,
            self.config.tls.ca.display()
        );
        let path = base.join("profile.toml");
        std::fs::write(&path, profile).expect("write");
        Profile::load(&path).expect("profile")
    }

    /// A profile for `org` with `roles`.
    pub fn profile(&self, org: &str, roles: &[Role]) -> Profile {
        let name = profile_name(org, roles);
        self.profile_with(&name, &self.org_cert(org), &self.token(org, roles))
    }

    /// The path of a profile file for `org` with `roles` (for running the `slt` binary).
    pub fn profile_path(&self, org: &str, roles: &[Role]) -> PathBuf {
        let name = profile_name(org, roles);
        self.profile(org, roles);
        self.dir
            .path()
            .join("clients")
            .join(name)
            .join("profile.toml")
    }

    /// A connected SDK client for `org` with `roles`.
    pub async fn client(&self, org: &str, roles: &[Role]) -> HubClient {
        HubClient::connect(&self.profile(org, roles))
            .await
            .expect("connect")
    }

    /// A raw gRPC channel (not the SDK, which checks its credentials on connect) presenting
    /// `org`'s certificate: for calls the SDK would not make.
    pub async fn raw_channel(&self, org: &str) -> tonic::transport::Channel {
        use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
        let cert = self.org_cert(org);
        let ca = std::fs::read_to_string(self.ca_path()).expect("ca");
        Channel::from_shared(self.endpoint())
            .expect("endpoint")
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca))
                    .identity(Identity::from_pem(&cert.cert_pem, &cert.key_pem)),
            )
            .expect("tls")
            .connect()
            .await
            .expect("connect")
    }

    /// Where the hub's CA certificate is.
    pub fn ca_path(&self) -> &Path {
        &self.config.tls.ca
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// `message` as a request carrying `token` as its bearer token (for raw clients).
pub fn authorised<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("metadata"),
    );
    request
}

/// A one-incident ListIncidents request carrying `token` (for raw clients).
pub fn list_request(token: &str) -> tonic::Request<pb::ListIncidentsRequest> {
    authorised(
        pb::ListIncidentsRequest {
            filter: None,
            page_size: 1,
            page_token: String::new(),
        },
        token,
    )
}

/// Gives `org` its own rate limit in `config` (tests of limits).
pub fn limit_org(config: &mut HubConfig, org: &str, per_second: f64, burst: u32) {
    config
        .orgs
        .iter_mut()
        .find(|entry| entry.id == org)
        .expect("a dev org")
        .rate_limit = Some(slt_hub::identity::rate::RateLimit { per_second, burst });
}

/// Writes the built-in policy with `live_feed.batch_seconds` set, into `dir`; its path.
pub fn write_policy(dir: &Path, batch_seconds: u64) -> PathBuf {
    let text = slt_hub::policy::rules::DEFAULT_POLICY_TOML.replace(
        &format!(
            "batch_seconds = {}",
            slt_hub::policy::rules::DEFAULT_LIVE_BATCH_SECONDS
        ),
        &format!("batch_seconds = {batch_seconds}"),
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    path
}

/// The built-in policy with the record rule off (`[records] k = 0`).
pub fn policy_without_record_rule() -> String {
    record_rule_off(slt_hub::policy::rules::DEFAULT_POLICY_TOML)
}

/// `policy` (the built-in policy's text, perhaps edited) with the record rule off.
pub fn record_rule_off(policy: &str) -> String {
    let on = "[records]\nk = 3\n";
    assert!(
        policy.contains(on),
        "the built-in policy's [records] section moved"
    );
    policy.replace(on, "[records]\nk = 0\n")
}

/// For `TestHub::start_with`: the hub runs the built-in policy with the record rule off. For
/// suites that follow single incidents through a read path whose subject is not the rule:
/// under it, a lone incident never reaches another organisation's analyst at all. The rule has
/// its own suite (`record_rule.rs`), and the canary and most suites run with it on.
pub fn without_record_rule(config: &mut HubConfig, dir: &Path) {
    // The policy the hub would run (the harness's, with its short live batches), rule off.
    let text = match &config.policy {
        Some(path) => std::fs::read_to_string(path).expect("read policy"),
        None => slt_hub::policy::rules::DEFAULT_POLICY_TOML.to_string(),
    };
    let path = dir.join("policy-no-record-rule.toml");
    std::fs::write(&path, record_rule_off(&text)).expect("write policy");
    config.policy = Some(path);
}

/// For `TestHub::start_with`: the picture protects counts below T2 by k-suppression (the
/// policy's `method = "suppress"`) instead of the built-in cell-key perturbation; for suites
/// about what suppression shows and withholds.
pub fn with_suppression(config: &mut HubConfig, dir: &Path) {
    let text = match &config.policy {
        Some(path) => std::fs::read_to_string(path).expect("read policy"),
        None => slt_hub::policy::rules::DEFAULT_POLICY_TOML.to_string(),
    };
    let cell_key = "method = \"cell_key\"";
    assert!(
        text.contains(cell_key),
        "the built-in policy's [aggregate] method moved"
    );
    let path = dir.join("policy-suppression.toml");
    std::fs::write(&path, text.replace(cell_key, "method = \"suppress\"")).expect("write");
    config.policy = Some(path);
}

/// `n` incidents alike in everything an analyst of another org is shown (the sample incident
/// under fresh ids): a class the record rule releases whole once `n` reaches its k.
pub fn sample_class(n: usize) -> Vec<pb::Incident> {
    (0..n).map(|_| sample_incident(new_id())).collect()
}

/// A realistic incident with every section filled, including a T3 annex.
pub fn sample_incident(id: uuid::Uuid) -> pb::Incident {
    use pb::*;
    Incident {
        id: id.to_string(),
        occurred_on: Some(slt_proto::google::r#type::Date {
            year: 2024,
            month: 5,
            day: 16,
        }),
        date_precision: DatePrecision::Day as i32,
        country: "SSD".into(),
        admin1: Some(AdminArea {
            name: "Jonglei".into(),
            pcode: "SS03".into(),
        }),
        admin2: Some(AdminArea {
            name: "Bor South".into(),
            pcode: String::new(),
        }),
        locality: "Bor".into(),
        location: Some(Location {
            latitude: 6.20921,
            longitude: 31.55894,
            precision: GeoPrecision::Km1 as i32,
        }),
        threat_category: ThreatCategory::Crime as i32,
        incident_types: vec![
            IncidentType::Robbery as i32,
            IncidentType::AttackOnConvoy as i32,
        ],
        means_of_attack: MeansOfAttack::Shooting as i32,
        attack_context: AttackContext::Ambush as i32,
        location_type: LocationType::Road as i32,
        motive: Motive::Economic as i32,
        perpetrator_type: PerpetratorType::Criminal as i32,
        perpetrator_name: "Unidentified armed group".into(),
        affected_org_types: Some(AffectedOrgTypes {
            ingo: 1,
            ..Default::default()
        }),
        victims: vec![
            VictimCount {
                outcome: VictimOutcome::Injured as i32,
                staff: StaffCategory::National as i32,
                sex: Sex::Male as i32,
                count: 2,
                estimated: false,
            },
            VictimCount {
                outcome: VictimOutcome::Injured as i32,
                staff: StaffCategory::National as i32,
                sex: Sex::Female as i32,
                count: 1,
                estimated: false,
            },
        ],
        ops_impact: OpsImpact::Delayed as i32,
        source_type: SourceType::FocalPoint as i32,
        verification: Verification::Pending as i32,
        narrative: "Convoy stopped on the Bor road; two staff injured, one vehicle taken.".into(),
        private: Some(PrivateAnnex {
            victim_identities: vec![VictimIdentity {
                name: "CANARY-VICTIM-NAME".into(),
                role: "driver".into(),
                contact: "CANARY-NEXT-OF-KIN".into(),
                ..Default::default()
            }],
            reporter_contact: "CANARY-REPORTER-CONTACT".into(),
            internal_narrative: "CANARY-INTERNAL-NARRATIVE".into(),
            external_case_refs: vec!["CASE-1234".into()],
        }),
        external_refs: Some(ExternalRefs {
            awsd: "9999".into(),
            ..Default::default()
        }),
        distribution: Distribution::Community as i32,
        tlp: Tlp::Amber as i32,
        ..Default::default()
    }
}

/// Submits `incidents` in one batch and renames each to the id the hub gave it (each org
/// submits into its own id space, `slt_hub::ingest::ids`), as other readers, feeds and peers
/// will name it. Returns the results.
pub async fn submit_stored(
    client: &mut HubClient,
    incidents: &mut [pb::Incident],
) -> Vec<pb::SubmitResult> {
    let results = client.submit(incidents.to_vec()).await.expect("submit");
    for (incident, result) in incidents.iter_mut().zip(&results) {
        incident.id = result.id.clone();
    }
    results
}

/// An advisory for `country`, valid 2020 to 2099, level HIGH, shared as `distribution`; tests
/// change what they need with struct update syntax.
pub fn sample_advisory(country: &str, distribution: pb::Distribution) -> pb::Advisory {
    let date = |year, month, day| slt_proto::google::r#type::Date { year, month, day };
    pb::Advisory {
        id: new_id().to_string(),
        country: country.into(),
        security_level: pb::SecurityLevel::High as i32,
        threat_category: pb::ThreatCategory::ArmedConflict as i32,
        valid_from: Some(date(2020, 1, 1)),
        valid_until: Some(date(2099, 12, 31)),
        summary: "Movements restricted.".into(),
        distribution: distribution as i32,
        tlp: pb::Tlp::Amber as i32,
        ..Default::default()
    }
}

/// A fresh incident id.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

/// The workspace root (for proto files and scripts).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The directory name of a test profile: `org.role+role`.
fn profile_name(org: &str, roles: &[Role]) -> String {
    let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    format!("{org}.{}", roles.join("+"))
}

/// The `slt` binary, built once per test process.
pub fn slt_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_binary("slt-client", "slt"))
        .clone()
}

/// The `slt-hub` binary, built once per test process (for tests that run the real processes).
pub fn slt_hub_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_binary("slt-hub", "slt-hub"))
        .clone()
}

/// Builds `bin` of `package` (debug) and returns its path in the target directory.
fn build_binary(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", package, "--bin", bin])
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building {bin} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug").join(bin)
}

/// A plain HTTP answer: status line, content type and body.
pub struct HttpReply {
    pub status: String,
    pub content_type: String,
    pub body: String,
}

/// `GET path` over plain HTTP/1.1 (the metrics listener), read to the end.
pub async fn http_get(address: SocketAddr, path: &str) -> HttpReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the metrics listener");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the listener answers in time")
    .expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    HttpReply {
        status: head.lines().next().unwrap_or_default().to_string(),
        content_type,
        body: body.to_string(),
    }
}
