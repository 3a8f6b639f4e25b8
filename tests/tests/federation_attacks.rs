//! Federation attacked by a hostile or broken peer, on real hubs (each its own `slt-hub`
//! process, real TLS, SQLite or PostgreSQL): each test mounts the attack and shows it gets
//! nothing.

mod federation_hubs;

use federation_hubs::{Hub, eventually, incident, pull_as_peer, submit};
use slt_client::proto as pb;
use slt_hub::federation::agreement::PeerTier;
use slt_hub::pki::{self, CertificateAuthority, LeafSpec};
use tempfile::TempDir;

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Replaces `hub`'s server certificate with one `ca_dir`'s CA issues for `spiffe_hub` of
/// `trust_domain` (a CA that issues certificates to several hubs).
fn reissue_hub_cert(hub: &Hub, ca_dir: &std::path::Path, trust_domain: &str, spiffe_hub: &str) {
    let ca = CertificateAuthority::from_pem(
        &read(ca_dir.join("pki/ca.pem")),
        &read(ca_dir.join("pki/ca.key")),
    )
    .expect("ca");
    let localhost = [std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)];
    let cert = ca
        .issue(&LeafSpec::hub(
            trust_domain,
            spiffe_hub,
            &["localhost"],
            &localhost,
        ))
        .expect("issue");
    pki::write_public(&hub.dir.join("pki/hub.pem"), &cert.cert_pem).expect("cert");
    pki::write_secret(&hub.dir.join("pki/hub.key"), &cert.key_pem).expect("key");
    // Its own clients (profiles name pki/ca.pem) must still accept it as their hub.
    let bundle = read(hub.dir.join("pki/ca.pem")) + &read(ca_dir.join("pki/ca.pem"));
    pki::write_public(&hub.dir.join("pki/ca.pem"), &bundle).expect("ca bundle");
}

/// hub-a pulls from "hub-b", but the connection lands on an impostor: a hub that calls itself
/// hub-b (so its feed names hub-b and its incidents claim origin hub-b) and holds a certificate
/// from hub-b's CA, issued to another hub of that CA (`spiffe://hub-b.slt.test/hub/hub-x`).
/// Before: the certificate chained and named the address, so hub-a applied what it served.
/// Now: hub-a's worker refuses the server certificate in the handshake; nothing is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_sharing_the_peers_ca_cannot_pose_as_the_peer() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let b = Hub::create(root.path(), "hub-b").await;
    let mut impostor = Hub::create(&root.path().join("impostor"), "hub-b").await;
    reissue_hub_cert(&impostor, &b.dir, &b.domain, "hub-x");

    impostor.set_peers(&[a.as_peer(false, PeerTier::T2, true)]);
    impostor.start();
    let mut reporter = impostor.client("ngo-alpha.reporter").await;
    let marker = "IMPOSTOR-MARKER-7d1f";
    let forged = submit(
        &mut reporter,
        &incident(pb::Distribution::Federation, pb::Tlp::Green, marker),
    )
    .await;

    let mut agreement = b.as_peer(true, PeerTier::T2, true);
    agreement.endpoint = format!("https://{}", impostor.listen);
    a.set_peers(&[agreement]);
    a.start();
    a.client("undss.focal_point").await;

    eventually("hub-a's worker records refused handshakes", || async {
        let state = a.peer_state("hub-b").await;
        state.errors_total >= 2
            && state
                .last_error
                .as_deref()
                .is_some_and(|error| error.contains("spiffe://hub-b.slt.test/hub/hub-x"))
    })
    .await;
    let state = a.peer_state("hub-b").await;
    assert_eq!(state.applied_total, 0, "{state:?}");
    assert!(state.last_success.is_none(), "{state:?}");
    assert_eq!(a.writes_of(forged).await, 0);
    assert!(!a.database_contains(marker).await);
}

/// Two peers that accept the connection and never answer: one stays silent from the TCP
/// accept (the TLS handshake never completes), one completes TLS as the genuine peer (its real
/// certificate) and then never answers the call. Before: the worker waited for ever on the
/// first, recording nothing. Now: every round fails within the agreement's timeouts and the
/// worker keeps trying (errors counted, the reason named).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_does_not_stall_the_worker() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let b = Hub::create(root.path(), "hub-b").await;
    let c = Hub::create(root.path(), "hub-c").await;

    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let mut held = Vec::new();
    let silent_task = tokio::spawn(async move {
        loop {
            if let Ok((stream, _)) = silent.accept().await {
                held.push(stream);
            }
        }
    });
    let (mute_addr, mute_task) = mute_tls_server(&c).await;

    let mut to_b = b.as_peer(true, PeerTier::T1, false);
    to_b.endpoint = format!("https://{silent_addr}");
    to_b.connect_timeout_millis = 300;
    to_b.call_timeout_millis = 500;
    let mut to_c = c.as_peer(true, PeerTier::T1, false);
    to_c.endpoint = format!("https://{mute_addr}");
    to_c.connect_timeout_millis = 300;
    to_c.call_timeout_millis = 500;
    a.set_peers(&[to_b, to_c]);
    a.start();
    a.client("undss.focal_point").await;

    for (peer, reason) in [
        ("hub-b", "connect timed out"),
        ("hub-c", "within call_timeout"),
    ] {
        eventually(&format!("{peer}'s rounds time out"), || async {
            let state = a.peer_state(peer).await;
            state.errors_total >= 3
                && state
                    .last_error
                    .as_deref()
                    .is_some_and(|error| error.contains(reason))
        })
        .await;
    }
    silent_task.abort();
    mute_task.abort();
}

/// A TLS server with `hub`'s genuine certificate that completes the handshake and then reads
/// and ignores everything.
async fn mute_tls_server(hub: &Hub) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(hub.dir.join("pki/hub.pem"))
        .expect("cert")
        .collect::<Result<Vec<_>, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(hub.dir.join("pki/hub.key")).expect("key");
    let mut config =
        rustls::ServerConfig::builder_with_provider(slt_hub::identity::tls::crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                if let Ok(mut stream) = acceptor.accept(tcp).await {
                    let mut sink = [0u8; 4096];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    (addr, task)
}

/// hub-b's copy of an incident holds an e-mail address in its narrative (its scrubber missed
/// it, or was never run: here its database is edited directly). Before: hub-a stored and
/// served the narrative as received. Now: hub-a scrubs foreign narratives on arrival; the
/// address never reaches its database, the placeholder does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_narrative_is_scrubbed_again_on_arrival() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    b.set_peers(&[a.as_peer(false, PeerTier::T2, true)]);
    b.start();
    let mut reporter = b.client("ngo-alpha.reporter").await;
    let id = submit(
        &mut reporter,
        &incident(
            pb::Distribution::Federation,
            pb::Tlp::Green,
            "Convoy stopped; contact LEAKSLOT for details.",
        ),
    )
    .await;
    let address = "jane.leak@example.org";
    b.execute_sql(&[&format!(
        "UPDATE incidents SET content = replace(content, 'LEAKSLOT', '{address}')"
    )])
    .await;
    assert!(b.database_contains(address).await, "the tampering took");

    a.set_peers(&[b.as_peer(true, PeerTier::T2, true)]);
    a.start();
    let mut reader = a.client("undss.focal_point").await;
    eventually("hub-a applied hub-b's incident", || async {
        a.writes_of(id).await > 0
    })
    .await;
    let copy = federation_hubs::seen(&mut reader, id)
        .await
        .expect("visible at hub-a");
    assert!(!copy.narrative.contains(address), "{}", copy.narrative);
    assert!(
        copy.narrative.contains("contact [EMAIL]"),
        "{}",
        copy.narrative
    );
    assert!(!a.database_contains(address).await);
}

fn advisory(country: &str, summary: &str) -> pb::Advisory {
    pb::Advisory {
        summary: summary.into(),
        tlp: pb::Tlp::Green as i32,
        ..slt_tests::sample_advisory(country, pb::Distribution::Federation)
    }
}

/// hub-b's agreement with hub-a admits South Sudan (SSD) only, T1, not transitive. Before:
/// an advisory for Somalia went to hub-a anyway, at hub-a's tier but still FEDERATION (hub-a
/// could pass it on), and an incident filed under Somalia and then narrowed sent hub-a a
/// REVOKE for an id it never held (telling it the incident existed). Now: the Somalia
/// advisory is never in hub-a's feed, the SSD one arrives as COMMUNITY at T1 with its origin
/// hub, and only the incident hub-a could have held is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisories_and_revokes_keep_to_the_agreement() {
    let root = TempDir::new().expect("tempdir");
    let a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    let mut terms = a.as_peer(false, PeerTier::T1, false);
    terms.countries = vec!["SSD".into()];
    b.set_peers(&[terms]);
    b.start();
    let mut focal = b.client("ngo-alpha.focal_point").await;
    let outside = focal
        .issue_advisory(advisory("SOM", "OUTSIDE-ADVISORY"), 0)
        .await
        .expect("advisory");
    let inside = focal
        .issue_advisory(advisory("SSD", "inside"), 0)
        .await
        .expect("advisory");

    let mut reporter = b.client("ngo-alpha.reporter").await;
    let mut narrowed = Vec::new();
    for country in ["SOM", "SSD"] {
        let mut record = incident(pb::Distribution::Federation, pb::Tlp::Green, "narrowed");
        record.country = country.into();
        record.id = submit(&mut reporter, &record).await.to_string();
        record.distribution = pb::Distribution::OrgOnly as i32;
        reporter.amend(record.clone(), 1).await.expect("narrow");
        narrowed.push(record.id);
    }

    let changes = pull_as_peer(&b, &a).await;
    let advisories: Vec<&pb::Advisory> = changes
        .iter()
        .filter_map(|change| change.advisory.as_ref())
        .collect();
    assert!(
        advisories.iter().all(|got| got.id != outside.id),
        "{advisories:?}"
    );
    let got = advisories
        .iter()
        .find(|got| got.id == inside.id)
        .expect("the SSD advisory reaches hub-a");
    assert_eq!(got.distribution, pb::Distribution::Community as i32);
    assert_eq!(got.origin_hub, "hub-b");
    assert!(got.summary.is_empty(), "T1: no summary");
    let revoked: Vec<&str> = changes
        .iter()
        .filter(|change| {
            change.r#type == pb::ChangeType::Revoke as i32 && !change.incident_id.is_empty()
        })
        .map(|change| change.incident_id.as_str())
        .collect();
    assert_eq!(revoked, vec![narrowed[1].as_str()], "only the SSD incident");
}
