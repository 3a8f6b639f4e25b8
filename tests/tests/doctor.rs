//! `slt-hub doctor` (issue 23): on a good dev setup it finds nothing wrong and exits 0; on each
//! broken setup (an expired certificate, a stale CRL, a key others can read, a database not
//! migrated or unreachable, a peer with the wrong SPIFFE id or not answering) it names the
//! setting, says what is wrong and how to fix it, and exits 1. The real binary, real files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use slt_hub::dev;
use slt_hub::federation::agreement::PeerAgreement;
use slt_hub::pki::{self, CertificateAuthority, LeafSpec};
use slt_tests::{DEV_TRUST_DOMAIN, TestHub, slt_hub_binary};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

const HUB: &str = "hub-doc";
const DOMAIN: &str = "hub-doc.slt.test";

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

/// A dev hub's directory (CA, keys, hub.toml, peers.toml) with its database migrated.
fn good_setup() -> (TempDir, PathBuf) {
    let root = TempDir::new().expect("tempdir");
    let dir = root.path().join(HUB);
    dev::create_hub(&dir, HUB, DOMAIN, free_address(), true).expect("dev hub");
    let migrated = Command::new(slt_hub_binary())
        .args(["migrate", "--config"])
        .arg(dir.join("hub.toml"))
        .env_remove("SLT_HUB_DATABASE_URL")
        .output()
        .expect("slt-hub migrate");
    assert!(migrated.status.success(), "{migrated:?}");
    (root, dir)
}

/// Runs `slt-hub doctor` on `dir`'s hub.toml: (succeeded, stdout).
fn doctor(dir: &Path, database_url: Option<&str>) -> (bool, String) {
    let mut command = Command::new(slt_hub_binary());
    command
        .args(["doctor", "--config"])
        .arg(dir.join("hub.toml"))
        .env_remove("SLT_HUB_DATABASE_URL");
    if let Some(url) = database_url {
        command.env("SLT_HUB_DATABASE_URL", url);
    }
    let output = command.output().expect("slt-hub doctor");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    (output.status.success(), stdout)
}

/// Doctor fails, and one PROBLEM line names `subject` and says `what`, followed by a fix.
fn assert_problem(report: &(bool, String), subject: &str, what: &str) {
    let (succeeded, text) = report;
    assert!(!succeeded, "doctor exited 0 despite a problem:\n{text}");
    let found = text.split("\nPROBLEM ").skip(1).any(|finding| {
        finding.starts_with(&format!("{subject}: "))
            && finding.contains(what)
            && finding.contains("\n        fix: ")
    });
    assert!(found, "no PROBLEM for {subject} saying '{what}':\n{text}");
}

fn ca(dir: &Path) -> CertificateAuthority {
    let read = |name: &str| std::fs::read_to_string(dir.join("pki").join(name)).expect("read");
    CertificateAuthority::from_pem(&read("ca.pem"), &read("ca.key")).expect("CA")
}

#[test]
fn a_good_dev_setup_passes() {
    let (_root, dir) = good_setup();
    let (succeeded, text) = doctor(&dir, None);
    assert!(succeeded, "{text}");
    assert!(text.contains("0 problem(s)"), "{text}");
    assert!(!text.contains("PROBLEM"), "{text}");
    for subject in ["tls.cert", "tls.crl", "tls.key", "database_url", "identity"] {
        assert!(
            text.contains(&format!("ok      {subject}: ")),
            "{subject}:\n{text}"
        );
    }
}

#[test]
fn an_expired_hub_certificate_is_named() {
    let (_root, dir) = good_setup();
    let mut spec = LeafSpec::hub(
        DOMAIN,
        HUB,
        &["localhost"],
        &["127.0.0.1".parse().expect("ip")],
    );
    spec.not_before = OffsetDateTime::now_utc() - Duration::days(30);
    spec.not_after = OffsetDateTime::now_utc() - Duration::days(1);
    let expired = ca(&dir).issue(&spec).expect("issue");
    pki::write_public(&dir.join("pki/hub.pem"), &expired.cert_pem).expect("write");
    pki::write_secret(&dir.join("pki/hub.key"), &expired.key_pem).expect("write");
    assert_problem(&doctor(&dir, None), "tls.cert", "expired on");
}

#[test]
fn a_certificate_for_another_hub_is_named() {
    let (_root, dir) = good_setup();
    let other = ca(&dir)
        .issue(&LeafSpec::hub(DOMAIN, "hub-other", &["localhost"], &[]))
        .expect("issue");
    pki::write_public(&dir.join("pki/hub.pem"), &other.cert_pem).expect("write");
    pki::write_secret(&dir.join("pki/hub.key"), &other.key_pem).expect("write");
    assert_problem(
        &doctor(&dir, None),
        "tls.cert",
        &format!("not this hub's id spiffe://{DOMAIN}/hub/{HUB}"),
    );
}

#[test]
fn a_stale_crl_is_named() {
    let (_root, dir) = good_setup();
    let stale = ca(&dir).crl(&[], 2, Duration::minutes(-1)).expect("crl");
    pki::write_public(&dir.join("pki/crl.pem"), &stale).expect("write");
    assert_problem(&doctor(&dir, None), "tls.crl", "is stale");
}

#[cfg(unix)]
#[test]
fn a_key_others_can_read_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let (_root, dir) = good_setup();
    let key = dir.join("pki/hub.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let report = doctor(&dir, None);
    assert_problem(&report, "tls.key", "mode 0644");
    assert!(
        report.1.contains(&format!("chmod 600 {}", key.display())),
        "{}",
        report.1
    );
}

#[test]
fn a_database_not_migrated_or_unreachable_is_named() {
    let (root, dir) = good_setup();
    // An empty SQLite file: reachable, no migrations.
    let empty = root.path().join("empty.db");
    std::fs::write(&empty, b"").expect("create");
    let url = format!("sqlite://{}", empty.display());
    assert_problem(&doctor(&dir, Some(&url)), "database_url", "not migrated");
    // The file is left as it was: the doctor changes nothing.
    assert_eq!(std::fs::metadata(&empty).expect("file").len(), 0);
    // A file that is not there, and a server that is not there.
    let missing = format!("sqlite://{}", root.path().join("missing.db").display());
    assert_problem(
        &doctor(&dir, Some(&missing)),
        "database_url",
        "does not exist",
    );
    assert!(!root.path().join("missing.db").exists());
    let nowhere = format!("postgres://slt@{}/slt", free_address());
    assert_problem(&doctor(&dir, Some(&nowhere)), "database_url", "unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_the_wrong_spiffe_id_or_not_answering_is_named() {
    let (_root, dir) = good_setup();
    // A real hub whose certificate is spiffe://<dev domain>/hub/<dev hub>, filed under another id.
    let peer = TestHub::start().await;
    let token_key = peer.dir.path().join("pki/token.pub.pem");
    let mut impostor = PeerAgreement::new("hub-impostor", &peer.endpoint(), token_key.clone());
    impostor.ca = Some(peer.ca_path().to_path_buf());
    impostor.trust_domain = Some(DEV_TRUST_DOMAIN.to_string());
    // And a peer nobody listens for.
    let silent = PeerAgreement::new(
        "hub-silent",
        &format!("https://{}", free_address()),
        token_key,
    );
    dev::write_peers(&dir, &[impostor, silent]).expect("peers");
    let report = tokio::task::spawn_blocking(move || doctor(&dir, None))
        .await
        .expect("doctor");
    assert_problem(
        &report,
        "peers.hub-impostor",
        &format!("not the agreement's spiffe://{DEV_TRUST_DOMAIN}/hub/hub-impostor"),
    );
    assert_problem(&report, "peers.hub-silent", "connecting to the peer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_database_is_checked_for_migrations() {
    // Runs where the suite runs on PostgreSQL (SLT_TEST_POSTGRES_URL); elsewhere SQLite above.
    let Some(admin_url) = slt_tests::postgres_admin_url() else {
        return;
    };
    let (_root, dir) = good_setup();
    let database = slt_tests::TestDatabase::create(&admin_url).await;
    let url = database.url.clone();
    let dir_for = dir.clone();
    let report = tokio::task::spawn_blocking(move || doctor(&dir_for, Some(&url)))
        .await
        .expect("doctor");
    assert_problem(&report, "database_url", "not migrated");
    slt_hub::store::Store::open(&database.url)
        .await
        .expect("migrate")
        .close()
        .await;
    let url = database.url.clone();
    let (succeeded, text) = tokio::task::spawn_blocking(move || doctor(&dir, Some(&url)))
        .await
        .expect("doctor");
    assert!(succeeded, "{text}");
    assert!(
        text.contains("ok      database_url: reachable and migrated"),
        "{text}"
    );
}
