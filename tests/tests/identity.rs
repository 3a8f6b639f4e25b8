//! Identity material changing while the hub runs, with no restart: a certificate revoked by a
//! new CRL, a failed reload that keeps the old material, an organisation's own token issuer
//! (JWKS) rotating its keys, the org registry gaining an org, and the hub's own certificate
//! replaced under a live stream. Reloads here are picked up from file changes (the harness
//! polls every 100 ms); `tests/pki_cli.rs` drives the same through SIGHUP with the binary.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use slt_client::{ClientError, HubClient, Profile, proto as pb};
use slt_hub::identity::Role;
use slt_hub::identity::jwks;
use slt_hub::identity::keys;
use slt_hub::identity::token::TokenIssuer;
use slt_hub::pki::{self, IssuedCert, LeafSpec};
use slt_tests::{DEV_HUB_ID, DEV_TRUST_DOMAIN, TestHub, new_id, sample_incident};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Polls `check` until it holds; reloads are asynchronous. Bounded, so a reload that never
/// happens fails the test.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// Connects (TLS handshake + the SDK's health call) and lists once.
async fn lists(profile: &Profile) -> Result<(), ClientError> {
    let mut client = HubClient::connect(profile).await?;
    client.list(Default::default(), 1, String::new()).await?;
    Ok(())
}

fn is_handshake_refusal(result: &Result<(), ClientError>) -> bool {
    matches!(result, Err(ClientError::Connect { detail, .. }) if detail.contains("refused the connection"))
}

fn serial_bytes(cert: &IssuedCert) -> Vec<u8> {
    (0..cert.serial.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&cert.serial[at..at + 2], 16).expect("hex"))
        .collect()
}

async fn identity_health(hub: &TestHub) -> ServingStatus {
    let channel = hub.raw_channel("ngo-alpha").await;
    let response = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: slt_hub::identity::reload::IDENTITY_HEALTH_SERVICE.into(),
        })
        .await
        .expect("health");
    response.into_inner().status()
}

#[tokio::test]
async fn a_certificate_revoked_while_the_hub_runs_is_refused_on_its_next_connection() {
    let hub = TestHub::start().await;
    let beta = hub.profile("ngo-beta", &[Role::Analyst]);
    let mut established = HubClient::connect(&beta).await.expect("connect");
    established
        .list(Default::default(), 1, String::new())
        .await
        .expect("before revocation");
    let mut alpha = hub.client("ngo-alpha", &[Role::Analyst]).await;

    let revoked = hub.org_cert("ngo-beta");
    let crl = hub
        .ca
        .crl(
            &[(serial_bytes(&revoked), time::OffsetDateTime::now_utc())],
            2,
            time::Duration::days(7),
        )
        .expect("crl");
    pki::write_public(hub.config.tls.crl.as_ref().expect("crl path"), &crl).expect("write");

    eventually(
        "the revoked certificate is refused at the handshake",
        || async { is_handshake_refusal(&lists(&beta).await) },
    )
    .await;
    // Everyone else: new connections and established ones are served as before.
    lists(&hub.profile("ngo-alpha", &[Role::Reporter]))
        .await
        .expect("another org connects");
    alpha
        .list(Default::default(), 1, String::new())
        .await
        .expect("an established connection of another org");
    // The revoked org's established connection lives until max_connection_age (1 h here),
    // which is what bounds it.
    established
        .list(Default::default(), 1, String::new())
        .await
        .expect("old connections are bounded by max_connection_age, not cut");
}

#[tokio::test]
async fn a_failed_reload_keeps_the_material_in_force_and_says_so_in_health() {
    let hub = TestHub::start().await;
    assert_eq!(identity_health(&hub).await, ServingStatus::Serving);
    // A CRL that does not parse (clients never read it, so they are unaffected).
    let crl_path = hub.config.tls.crl.clone().expect("crl");
    let good_crl = std::fs::read_to_string(&crl_path).expect("crl");
    pki::write_public(&crl_path, "-----BEGIN X509 CRL-----\nbroken\n").expect("write");

    let mut probe_failures = 0;
    eventually(
        "the identity health detail reports the failed reload",
        || {
            probe_failures += 1;
            async { identity_health(&hub).await == ServingStatus::NotServing }
        },
    )
    .await;
    assert!(probe_failures >= 1);
    // The old CRL is still in force: clients still connect and call.
    lists(&hub.profile("ngo-alpha", &[Role::Analyst]))
        .await
        .expect("old material still serves");

    pki::write_public(&crl_path, &good_crl).expect("restore");
    eventually("a good reload restores SERVING", || async {
        identity_health(&hub).await == ServingStatus::Serving
    })
    .await;
    lists(&hub.profile("ngo-beta", &[Role::Analyst]))
        .await
        .expect("serving after the repair");
}

const GAMMA_ISS: &str = "https://idp.gamma.example";

fn registry_toml(with_delta: bool) -> String {
    let mut text = format!(
        r#"
[[orgs]]
id = "ngo-gamma"
name = "NGO Gamma (own identity provider)"
org_type = "INGO"
roles = ["reporter", "analyst"]
countries = ["SSD", "SDN"]
hub_tokens = false
issuers = [{{ iss = "{GAMMA_ISS}", jwks = "gamma.jwks.json" }}]
"#
    );
    if with_delta {
        text.push_str(
            r#"
[[orgs]]
id = "ngo-delta"
name = "NGO Delta"
org_type = "NNGO"
roles = ["analyst"]
"#,
        );
    }
    text
}

#[tokio::test]
async fn an_org_issuer_jwks_rotates_without_a_restart() {
    let k1 = keys::generate_ed25519().expect("keys");
    let k2 = keys::generate_ed25519().expect("keys");
    let jwks_path = Arc::new(std::sync::Mutex::new(std::path::PathBuf::new()));
    let registry_path = Arc::new(std::sync::Mutex::new(std::path::PathBuf::new()));
    let hub = TestHub::start_with(|config, dir| {
        let registry = dir.join("registry").join("orgs.toml");
        pki::write_public(&registry, &registry_toml(false)).expect("registry");
        let jwks_file = dir.join("registry").join("gamma.jwks.json");
        pki::write_public(
            &jwks_file,
            &jwks::document(&[("k1", &k1.public_pem)]).expect("jwks"),
        )
        .expect("jwks");
        config.org_registry = Some(registry.clone());
        *registry_path.lock().expect("lock") = registry;
        *jwks_path.lock().expect("lock") = jwks_file;
    })
    .await;
    let jwks_path = jwks_path.lock().expect("lock").clone();
    let registry_path = registry_path.lock().expect("lock").clone();
    let idp = |private: &str, kid: &str| {
        TokenIssuer::external(GAMMA_ISS, DEV_HUB_ID, private, kid).expect("issuer")
    };
    let gamma_cert = hub.org_cert("ngo-gamma");
    let token_k1 = idp(&k1.private_pem, "k1")
        .issue("ngo-gamma", "g1", &[Role::Analyst], 600)
        .expect("token");
    let token_k2 = idp(&k2.private_pem, "k2")
        .issue("ngo-gamma", "g2", &[Role::Analyst], 600)
        .expect("token");
    let with_k1 = hub.profile_with("gamma-k1", &gamma_cert, &token_k1);
    let with_k2 = hub.profile_with("gamma-k2", &gamma_cert, &token_k2);

    // The org's own issuer works; its key 2 is not known yet.
    lists(&with_k1)
        .await
        .expect("a token from the org's own issuer");
    match lists(&with_k2).await {
        Err(ClientError::Unauthenticated(message)) => {
            assert!(
                message.contains("unknown signing key id (kid)"),
                "{message}"
            )
        }
        other => panic!("k2 before rotation: {other:?}"),
    }
    // The registry says hub tokens are not for this org.
    let hub_token = hub.token("ngo-gamma", &[Role::Analyst]);
    match lists(&hub.profile_with("gamma-hub-token", &gamma_cert, &hub_token)).await {
        Err(ClientError::Unauthenticated(message)) => assert!(
            message.contains("may not issue tokens for organisation 'ngo-gamma'"),
            "{message}"
        ),
        other => panic!("hub token for ngo-gamma: {other:?}"),
    }
    // The org's issuer cannot speak for another org.
    let for_alpha = idp(&k1.private_pem, "k1")
        .issue("ngo-alpha", "g1", &[Role::Analyst], 600)
        .expect("token");
    match lists(&hub.profile_with("gamma-for-alpha", &hub.org_cert("ngo-alpha"), &for_alpha)).await
    {
        Err(ClientError::Unauthenticated(message)) => assert!(
            message.contains(&format!(
                "issued by '{GAMMA_ISS}', which may not issue tokens for organisation 'ngo-alpha'"
            )),
            "{message}"
        ),
        other => panic!("gamma's issuer for ngo-alpha: {other:?}"),
    }

    // Rotation, step 1: publish the new key beside the old one.
    pki::write_public(
        &jwks_path,
        &jwks::document(&[("k1", &k1.public_pem), ("k2", &k2.public_pem)]).expect("jwks"),
    )
    .expect("write");
    eventually("the new kid is accepted", || async {
        lists(&with_k2).await.is_ok()
    })
    .await;
    lists(&with_k1).await.expect("the old key still works");

    // A registry naming a JWKS file that does not exist yet fails to reload (the old registry
    // stays in force); creating the file completes the reload, with no signal.
    let late_jwks = registry_path.with_file_name("epsilon.jwks.json");
    let with_epsilon = format!(
        "{}\n[[orgs]]\nid = \"ngo-epsilon\"\nname = \"NGO Epsilon\"\norg_type = \"OTHER\"\nroles = [\"analyst\"]\nhub_tokens = false\nissuers = [{{ iss = \"https://idp.epsilon.example\", jwks = \"epsilon.jwks.json\" }}]\n",
        registry_toml(false)
    );
    pki::write_public(&registry_path, &with_epsilon).expect("write");
    eventually("the reload naming a missing JWKS fails", || async {
        identity_health(&hub).await == ServingStatus::NotServing
    })
    .await;
    lists(&with_k1).await.expect("the old material is in force");
    pki::write_public(
        &late_jwks,
        &jwks::document(&[("e1", &k2.public_pem)]).expect("jwks"),
    )
    .expect("write");
    eventually("creating the missing file completes the reload", || async {
        identity_health(&hub).await == ServingStatus::Serving
    })
    .await;

    // Step 2: remove the old key.
    pki::write_public(
        &jwks_path,
        &jwks::document(&[("k2", &k2.public_pem)]).expect("jwks"),
    )
    .expect("write");
    eventually("the removed kid is refused", || async {
        matches!(lists(&with_k1).await, Err(ClientError::Unauthenticated(m)) if m.contains("unknown signing key id (kid)"))
    })
    .await;
    lists(&with_k2).await.expect("the new key works");

    // The org registry itself reloads: a new org can connect once it is registered.
    let delta = hub.profile("ngo-delta", &[Role::Analyst]);
    match lists(&delta).await {
        Err(ClientError::Unauthenticated(message)) => {
            assert!(
                message.contains("'ngo-delta' is not registered"),
                "{message}"
            )
        }
        other => panic!("ngo-delta before registration: {other:?}"),
    }
    pki::write_public(&registry_path, &registry_toml(true)).expect("write");
    eventually("a newly registered org is served", || async {
        lists(&delta).await.is_ok()
    })
    .await;
}

/// The serial of the certificate the hub presents to a new connection.
async fn presented_serial(hub: &TestHub) -> String {
    use rustls::pki_types::pem::PemObject;
    let ca = std::fs::read_to_string(hub.ca_path()).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("root");
    }
    let client_cert = hub.org_cert("ngo-alpha");
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(client_cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("chain");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(client_cert.key_pem.as_bytes())
        .expect("key");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .expect("client auth");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(hub.addr).await.expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("tls");
    let (_, connection) = tls.get_ref();
    let leaf = connection
        .peer_certificates()
        .and_then(|certs| certs.first())
        .expect("server certificate");
    let pem_text = pem::encode(&pem::Pem::new("CERTIFICATE", leaf.as_ref().to_vec()));
    pki::certificate_serial(&pem_text).expect("serial")
}

/// Reads the stream until an UPSERT of `id` arrives.
async fn receive_upsert(stream: &mut tonic::Streaming<pb::SubscribeResponse>, id: &str) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("the stream delivers within 30 s")
            .expect("the stream is healthy")
            .expect("the stream is still open");
        if message.changes.iter().any(|change| {
            change.incident_id == id && change.r#type == pb::ChangeType::Upsert as i32
        }) {
            return;
        }
    }
}

#[tokio::test]
async fn the_hub_certificate_rotates_without_dropping_in_flight_calls() {
    let hub = TestHub::start().await;
    let old_serial = presented_serial(&hub).await;

    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut follower = hub.client("ngo-alpha", &[Role::Analyst]).await;
    let mut stream = follower
        .subscribe("", Default::default(), 1)
        .await
        .expect("subscribe");
    let first = reporter
        .submit(vec![sample_incident(new_id())])
        .await
        .expect("submit");
    receive_upsert(&mut stream, &first[0].id).await;

    // Rotate: a new certificate and key for the hub, key first.
    let rotated = hub
        .ca
        .issue(&LeafSpec::hub(
            DEV_TRUST_DOMAIN,
            DEV_HUB_ID,
            &["localhost"],
            &["127.0.0.1".parse().expect("ip")],
        ))
        .expect("hub cert");
    pki::write_secret(&hub.config.tls.key, &rotated.key_pem).expect("key");
    pki::write_public(&hub.config.tls.cert, &rotated.cert_pem).expect("cert");
    let new_serial = rotated.serial.clone();
    assert_ne!(new_serial, old_serial);
    eventually("new connections get the new certificate", || {
        let hub = &hub;
        let new_serial = new_serial.clone();
        async move { presented_serial(hub).await == new_serial }
    })
    .await;

    // The stream opened before the rotation is still live and delivers a change submitted over
    // a new connection; the reporter's old connection still works too.
    let mut fresh = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let second = fresh
        .submit(vec![sample_incident(new_id())])
        .await
        .expect("submit over a new connection");
    receive_upsert(&mut stream, &second[0].id).await;
    reporter
        .list(Default::default(), 5, String::new())
        .await
        .expect("the old connection still serves");
}

#[tokio::test]
async fn connections_made_before_a_revocation_end_at_max_connection_age() {
    let hub = TestHub::start_with(|config, _| config.max_connection_age_seconds = 2).await;
    let beta = hub.profile("ngo-beta", &[Role::Analyst]);
    let established = HubClient::connect(&beta).await.expect("connect");
    let alpha = hub.client("ngo-alpha", &[Role::Analyst]).await;
    let revoked = hub.org_cert("ngo-beta");
    let crl = hub
        .ca
        .crl(
            &[(serial_bytes(&revoked), time::OffsetDateTime::now_utc())],
            2,
            time::Duration::days(7),
        )
        .expect("crl");
    pki::write_public(hub.config.tls.crl.as_ref().expect("crl path"), &crl).expect("write");
    eventually(
        "the revoked certificate is refused at the handshake",
        || async { is_handshake_refusal(&lists(&beta).await) },
    )
    .await;
    // The old connection is closed at its age; the channel's reconnect then meets the CRL.
    eventually("the revoked org's old connection is gone", || {
        let mut client = established.clone();
        async move {
            client
                .list(Default::default(), 1, String::new())
                .await
                .is_err()
        }
    })
    .await;
    // Another org's old client simply reconnects and carries on.
    eventually("another org's client is served after its reconnect", || {
        let mut client = alpha.clone();
        async move {
            client
                .list(Default::default(), 1, String::new())
                .await
                .is_ok()
        }
    })
    .await;
}

#[tokio::test]
async fn a_stream_cannot_outlive_its_connection_age_and_grace() {
    let hub = TestHub::start_with(|config, _| {
        config.max_connection_age_seconds = 1;
        config.max_connection_age_grace_seconds = 1;
    })
    .await;
    let mut follower = hub.client("ngo-beta", &[Role::Analyst]).await;
    // Heartbeats every second keep the stream busy; it would run for the token's hour.
    let mut stream = follower
        .subscribe("", Default::default(), 1)
        .await
        .expect("subscribe");
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(_)) = stream.message().await {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the stream was cut once its connection was too old"
    );
    // The client reconnects on a fresh connection and is served.
    eventually("the client is served on a new connection", || {
        let mut client = follower.clone();
        async move {
            client
                .list(Default::default(), 1, String::new())
                .await
                .is_ok()
        }
    })
    .await;
}
