//! The federation suites' harness: real `slt-hub` processes, each with its own dev environment
//! (CA, trust domain, keys, orgs) and database, federated through `peers.toml`. Shared by
//! `federation.rs` and `federation_attacks.rs`; each uses only part of it, hence the allow.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slt_client::{ClientError, HubClient, Profile, proto as pb};
use slt_hub::dev;
use slt_hub::federation::agreement::{PeerAgreement, PeerTier};
use slt_hub::store::Store;
use slt_tests::{TestDatabase, new_id, postgres_admin_url, sample_incident};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One hub: a dev environment of its own (CA, trust domain `<id>.slt.test`, keys, orgs), a
/// database of its own (its SQLite file, or a fresh PostgreSQL database when the suite runs on
/// PostgreSQL) and, while started, its own process.
pub struct Hub {
    pub id: String,
    pub domain: String,
    pub dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: String,
    /// Dropped (and the database with it) after the process is stopped.
    database: Option<TestDatabase>,
    child: Option<Child>,
}

impl Hub {
    pub async fn create(root: &Path, id: &str) -> Hub {
        let dir = root.join(id);
        let domain = format!("{id}.slt.test");
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        dev::create_hub(&dir, id, &domain, listen, true).expect("create hub");
        // These suites follow single incidents from hub to hub; the record rule, which would
        // keep a lone incident from a T1 peer, is tested on its own (record_rule.rs).
        std::fs::write(
            dir.join("policy.toml"),
            slt_tests::policy_without_record_rule(),
        )
        .expect("write policy");
        let database = match postgres_admin_url() {
            Some(admin_url) => Some(TestDatabase::create(&admin_url).await),
            None => None,
        };
        let database_url = match &database {
            Some(database) => database.url.clone(),
            None => format!("sqlite://{}", dir.join("hub.db").display()),
        };
        Hub {
            id: id.to_string(),
            domain,
            dir,
            listen,
            database_url,
            database,
            child: None,
        }
    }

    pub fn start(&mut self) {
        self.start_with_env(&[]);
    }

    /// Starts the process with further environment variables (e.g. an OTLP endpoint).
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("hub.log"))
            .expect("log file");
        let child = Command::new(slt_tests::slt_hub_binary())
            .arg("serve")
            .arg("--config")
            .arg(self.dir.join("hub.toml"))
            .env("RUST_LOG", "warn,slt_hub::federation=info")
            .env("SLT_HUB_DATABASE_URL", &self.database_url)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start slt-hub");
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The agreement under which this hub is someone's peer.
    pub fn as_peer(&self, pull: bool, tier: PeerTier, transitive: bool) -> PeerAgreement {
        let mut agreement = dev::peer_agreement(&self.dir, &self.id, &self.domain, self.listen);
        agreement.pull = pull;
        agreement.tier = tier;
        agreement.transitive = transitive;
        agreement.pull_interval_millis = 200;
        agreement.max_backoff_millis = 1_000;
        agreement
    }

    pub fn set_peers(&self, peers: &[PeerAgreement]) {
        dev::write_peers(&self.dir, peers).expect("write peers");
    }

    /// A client for a dev org and role of this hub, once the hub serves.
    pub async fn client(&self, profile: &str) -> HubClient {
        let path = self.dir.join("profiles").join(format!("{profile}.toml"));
        let profile = Profile::load(&path).expect("profile");
        for _ in 0..300 {
            if let Ok(client) = HubClient::connect(&profile).await {
                return client;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{} did not start; see {}",
            self.id,
            self.dir.join("hub.log").display()
        );
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.database_url)
            .await
            .expect("open hub database")
    }

    /// How many change-log entries this hub wrote for `id` (0: never applied here).
    pub async fn writes_of(&self, id: uuid::Uuid) -> u64 {
        let store = self.store().await;
        let counts = store.change_counts().await.expect("counts");
        store.close().await;
        counts
            .into_iter()
            .find(|(incident, _)| *incident == id)
            .map_or(0, |(_, count)| count)
    }

    /// Every change-log entry count, for "the federation went quiet".
    pub async fn all_writes(&self) -> Vec<(uuid::Uuid, u64)> {
        let store = self.store().await;
        let counts = store.change_counts().await.expect("counts");
        store.close().await;
        counts
    }

    /// Everything the hub stored. SQLite: the database file and its WAL, raw (what an attacker
    /// with the disk would have, deleted pages included). PostgreSQL: every row of every table
    /// of the hub's database as text.
    pub async fn database_bytes(&self) -> Vec<u8> {
        if self.database.is_none() {
            let mut bytes = Vec::new();
            for name in ["hub.db", "hub.db-wal"] {
                if let Ok(mut more) = std::fs::read(self.dir.join(name)) {
                    bytes.append(&mut more);
                }
            }
            return bytes;
        }
        use sqlx::{Connection, Row};
        let mut connection = sqlx::PgConnection::connect(&self.database_url)
            .await
            .expect("connect");
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                .fetch_all(&mut connection)
                .await
                .expect("tables");
        let mut bytes = Vec::new();
        for table in tables {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT t::text AS row FROM \"{table}\" t"
            )))
            .fetch_all(&mut connection)
            .await
            .expect("rows");
            for row in rows {
                let text: String = row.try_get("row").expect("row");
                bytes.extend_from_slice(text.as_bytes());
            }
        }
        let _ = connection.close().await;
        bytes
    }

    /// Runs SQL statements directly on the hub's database (tests that tamper with it).
    pub async fn execute_sql(&self, statements: &[&str]) {
        if self.database.is_some() {
            let db = sqlx::PgPool::connect(&self.database_url).await.expect("db");
            for statement in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&db)
                    .await
                    .expect("statement");
            }
            db.close().await;
        } else {
            let db = sqlx::SqlitePool::connect(&self.database_url)
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

    /// This hub's pull status for `peer` (default when it never tried).
    pub async fn peer_state(&self, peer: &str) -> slt_hub::store::PeerState {
        let store = self.store().await;
        let states = store.peer_states().await.expect("peer states");
        store.close().await;
        states
            .into_iter()
            .find(|state| state.peer_hub == peer)
            .unwrap_or_default()
    }

    pub async fn database_contains(&self, marker: &str) -> bool {
        let bytes = self.database_bytes().await;
        bytes
            .windows(marker.len())
            .any(|window| window == marker.as_bytes())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits (generously) until `check` holds; fails the test with `what` otherwise. A liveness
/// bound, not a speed assertion: speed is in the bench.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

/// An incident with a given distribution, TLP and narrative.
pub fn incident(distribution: pb::Distribution, tlp: pb::Tlp, narrative: &str) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.distribution = distribution as i32;
    incident.tlp = tlp as i32;
    incident.narrative = narrative.to_string();
    if distribution == pb::Distribution::SharingGroup {
        incident.sharing_group = "ssd-ngo-forum".into();
    }
    incident
}

pub async fn submit(client: &mut HubClient, incident: &pb::Incident) -> uuid::Uuid {
    let results = client.submit(vec![incident.clone()]).await.expect("submit");
    assert_eq!(
        results[0].outcome,
        pb::SubmitOutcome::Created as i32,
        "{results:?}"
    );
    // The hub's id (the submitter's own id space), as every reader and peer names it.
    uuid::Uuid::parse_str(&results[0].id).expect("id")
}

/// Submits `incidents` in one batch, each CREATED, and renames each to the hub's id.
pub async fn submit_batch(client: &mut HubClient, incidents: &mut [pb::Incident]) {
    for result in slt_tests::submit_stored(client, incidents).await {
        assert_eq!(result.outcome, pb::SubmitOutcome::Created as i32);
    }
}

/// The incident as a reader of `hub` sees it, if it is there.
pub async fn seen(client: &mut HubClient, id: uuid::Uuid) -> Option<pb::Incident> {
    match client.get(&id.to_string()).await {
        Ok(incident) => Some(incident),
        Err(ClientError::NotFound(_)) => None,
        Err(error) => panic!("get failed: {error}"),
    }
}

/// Waits until the change logs of all `hubs` stop growing for a while (several pull
/// intervals), then returns them.
pub async fn quiet(hubs: &[&Hub]) -> Vec<Vec<(uuid::Uuid, u64)>> {
    let mut last = Vec::new();
    for hub in hubs {
        last.push(hub.all_writes().await);
    }
    let mut stable_rounds = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut now = Vec::new();
        for hub in hubs {
            now.push(hub.all_writes().await);
        }
        if now == last {
            stable_rounds += 1;
            if stable_rounds >= 4 {
                return now;
            }
        } else {
            stable_rounds = 0;
            last = now;
        }
    }
    panic!("the federation never went quiet");
}

/// Everything `serving`'s feed gives `peer` (pulling as that peer hub itself: its hub certificate
/// and a token it issued for hub-b), from the start.
pub async fn pull_as_peer(serving: &Hub, peer: &Hub) -> Vec<pb::Change> {
    use slt_hub::identity::{Role, keys, token::TokenIssuer};
    let private = read(peer.dir.join("pki/token-signing.key"));
    let public = read(peer.dir.join("pki/token-signing.pub.pem"));
    let kid = keys::key_id(&keys::public_key_bytes(&public, "key").expect("key"));
    let token = TokenIssuer::external(&peer.id, &serving.id, &private, &kid)
        .expect("issuer")
        .issue(&peer.id, &format!("hub:{}", peer.id), &[Role::PeerHub], 300)
        .expect("token");
    let mut client = slt_client::HubClient::connect_with(slt_client::Credentials {
        endpoint: format!("https://{}", serving.listen),
        ca_pem: read(serving.dir.join("pki/ca.pem")),
        cert_pem: read(peer.dir.join("pki/hub.pem")),
        key_pem: read(peer.dir.join("pki/hub.key")),
        token,
    })
    .await
    .expect("connect as the peer");
    let mut stream = client
        .pull("", pb::SyncFilter::default(), 500)
        .await
        .expect("pull");
    let mut changes = Vec::new();
    while let Some(page) = tokio_stream::StreamExt::next(&mut stream).await {
        changes.extend(page.expect("page").changes);
    }
    changes
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

impl Hub {
    /// Turns on this hub's metrics endpoint (before `start`): `peer_labels` as given.
    pub fn enable_metrics(&self, peer_labels: bool) -> SocketAddr {
        let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let path = self.dir.join("hub.toml");
        let mut text = read(path.clone());
        text.push_str(&format!(
            "\n[metrics]\nlisten = \"{address}\"\npeer_labels = {peer_labels}\n"
        ));
        std::fs::write(&path, text).expect("write hub.toml");
        address
    }
}
