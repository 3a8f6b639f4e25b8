//! Every refusal of the walking skeleton, each with its status code and message, each over real
//! mutual TLS against a real hub; after each, the hub keeps serving a well-behaved client.

use slt_client::{ClientError, HubClient, proto as pb};
use slt_hub::identity::Role;
use slt_hub::pki::{CertificateAuthority, LeafSpec};
use slt_proto::v1::incident_service_client::IncidentServiceClient;
use slt_tests::{DEV_TRUST_DOMAIN, TestHub, new_id, sample_incident};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The hub still answers a legitimate caller.
async fn still_serving(hub: &TestHub) {
    let mut client = hub.client("ngo-alpha", &[Role::Analyst]).await;
    client
        .list(Default::default(), 1, String::new())
        .await
        .expect("the hub keeps serving others");
}

/// A raw channel (not the SDK) so that tests can leave out parts of the credentials.
async fn raw_channel(hub: &TestHub, identity: Option<Identity>) -> Channel {
    let ca = std::fs::read_to_string(hub.ca_path()).expect("ca");
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    Channel::from_shared(hub.endpoint())
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("TCP + TLS from the client's side")
}

fn list_request() -> pb::ListIncidentsRequest {
    pb::ListIncidentsRequest {
        filter: None,
        page_size: 10,
        page_token: String::new(),
    }
}

fn expect_unauthenticated(error: ClientError, needle: &str) {
    match error {
        ClientError::Unauthenticated(message) => {
            assert!(
                message.contains(needle),
                "message '{message}' lacks '{needle}'"
            )
        }
        other => panic!("expected UNAUTHENTICATED ({needle}), got {other}"),
    }
}

#[tokio::test]
async fn no_client_certificate_is_refused_at_the_handshake() {
    let hub = TestHub::start().await;
    let channel = raw_channel(&hub, None).await;
    let mut client = IncidentServiceClient::new(channel);
    let status = client
        .list_incidents(list_request())
        .await
        .expect_err("no certificate");
    // TLS 1.3: the client learns of the refusal on its first call, as a transport failure.
    assert!(
        matches!(status.code(), Code::Unavailable | Code::Unknown),
        "{status:?}"
    );
    still_serving(&hub).await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let hub = TestHub::start().await;
    let rogue_ca = CertificateAuthority::create(DEV_TRUST_DOMAIN).expect("rogue CA");
    let rogue = rogue_ca
        .issue(&LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-alpha"))
        .expect("cert");
    let token = hub.token("ngo-alpha", &[Role::Reporter]);
    let profile = hub.profile_with("rogue", &rogue, &token);
    let error = HubClient::connect(&profile).await.err().expect("refused");
    match error {
        ClientError::Connect { detail, .. } => {
            assert!(detail.contains("refused the connection"), "{detail}")
        }
        other => panic!("expected a connect error, got {other}"),
    }
    still_serving(&hub).await;
}

#[tokio::test]
async fn certificates_without_exactly_one_spiffe_org_uri_are_refused() {
    let hub = TestHub::start().await;
    let token = hub.token("ngo-alpha", &[Role::Reporter]);

    let mut no_uri = LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-alpha");
    no_uri.uris.clear();
    let cert = hub.ca.issue(&no_uri).expect("cert");
    let error = HubClient::connect(&hub.profile_with("no-uri", &cert, &token))
        .await
        .err()
        .expect("refused");
    expect_unauthenticated(error, "exactly one spiffe:// URI SAN, found 0");

    let mut two_uris = LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-alpha");
    two_uris
        .uris
        .push(format!("spiffe://{DEV_TRUST_DOMAIN}/org/ngo-beta"));
    let cert = hub.ca.issue(&two_uris).expect("cert");
    let error = HubClient::connect(&hub.profile_with("two-uris", &cert, &token))
        .await
        .err()
        .expect("refused");
    expect_unauthenticated(error, "found 2");

    let foreign_domain = hub
        .ca
        .issue(&LeafSpec::org("evil.example", "ngo-alpha"))
        .expect("cert");
    let error = HubClient::connect(&hub.profile_with("foreign-domain", &foreign_domain, &token))
        .await
        .err()
        .expect("refused");
    expect_unauthenticated(error, "trust domain 'evil.example'");

    let unregistered = hub
        .ca
        .issue(&LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-gamma"))
        .expect("cert");
    let error = HubClient::connect(&hub.profile_with("unregistered", &unregistered, &token))
        .await
        .err()
        .expect("refused");
    expect_unauthenticated(error, "'ngo-gamma' is not registered");
    still_serving(&hub).await;
}

#[tokio::test]
async fn missing_and_malformed_tokens_are_refused() {
    let hub = TestHub::start().await;
    let cert = hub.org_cert("ngo-alpha");

    // No authorization metadata at all (a raw client with a good certificate).
    let identity = Identity::from_pem(&cert.cert_pem, &cert.key_pem);
    let mut client = IncidentServiceClient::new(raw_channel(&hub, Some(identity)).await);
    let status = client
        .list_incidents(list_request())
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("no bearer token"),
        "{}",
        status.message()
    );

    // Garbage in the token file.
    let mut garbage = HubClient::connect(&hub.profile_with("garbage", &cert, "garbage"))
        .await
        .expect("the certificate alone is fine");
    let error = garbage
        .list(Default::default(), 1, String::new())
        .await
        .expect_err("garbage token");
    expect_unauthenticated(error, "not a well-formed JWT");

    // A token signed by someone else's key.
    let other_keys = slt_hub::identity::keys::generate_ed25519().expect("keys");
    let forger = slt_hub::identity::token::TokenIssuer::new(
        slt_tests::DEV_HUB_ID,
        &other_keys.private_pem,
        &other_keys.public_pem,
    )
    .expect("issuer");
    let forged = forger
        .issue("ngo-alpha", "mallory", &[Role::Reporter], 600)
        .expect("token");
    let mut client = HubClient::connect(&hub.profile_with("forged", &cert, &forged))
        .await
        .expect("connect");
    let error = client
        .list(Default::default(), 1, String::new())
        .await
        .expect_err("forged token");
    expect_unauthenticated(error, "the token is invalid");
    still_serving(&hub).await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let hub = TestHub::start().await;
    let expired = hub
        .issuer
        .issue("ngo-alpha", "amina", &[Role::Reporter], -600)
        .expect("token");
    let mut client =
        HubClient::connect(&hub.profile_with("expired", &hub.org_cert("ngo-alpha"), &expired))
            .await
            .expect("connect");
    let error = client
        .list(Default::default(), 1, String::new())
        .await
        .expect_err("expired");
    expect_unauthenticated(error, "expired");
    still_serving(&hub).await;
}

#[tokio::test]
async fn a_token_for_another_org_than_the_certificate_is_refused() {
    let hub = TestHub::start().await;
    let beta_token = hub.token("ngo-beta", &[Role::Reporter]);
    let mut client =
        HubClient::connect(&hub.profile_with("mixed", &hub.org_cert("ngo-alpha"), &beta_token))
            .await
            .expect("connect");
    let error = client
        .submit(vec![sample_incident(new_id())])
        .await
        .expect_err("org mismatch");
    expect_unauthenticated(
        error,
        "the token is for organisation 'ngo-beta' but the certificate is for 'ngo-alpha'",
    );
    still_serving(&hub).await;
}

#[tokio::test]
async fn roles_without_the_capability_are_refused() {
    let hub = TestHub::start().await;
    // An analyst may read but not submit.
    let mut analyst = hub.client("ngo-alpha", &[Role::Analyst]).await;
    let error = analyst
        .submit(vec![sample_incident(new_id())])
        .await
        .expect_err("analyst submitting");
    match error {
        ClientError::PermissionDenied(message) => {
            assert!(message.contains("SubmitIncidents"), "{message}");
            assert!(message.contains("write incidents"), "{message}");
        }
        other => panic!("expected PERMISSION_DENIED, got {other}"),
    }
    // Auditors and admins see no incident content.
    for (org, role) in [("audit-office", Role::Auditor), ("hub-admin", Role::Admin)] {
        let mut client = hub.client(org, &[role]).await;
        let error = client
            .list(Default::default(), 1, String::new())
            .await
            .expect_err("no incident content");
        assert!(
            matches!(error, ClientError::PermissionDenied(_)),
            "{org}: {error}"
        );
    }
    // A role the org may not hold (ngo-beta is not registered for focal_point).
    let mut beyond_cap = hub.client("ngo-beta", &[Role::FocalPoint]).await;
    let error = beyond_cap
        .list(Default::default(), 1, String::new())
        .await
        .expect_err("role beyond the org's cap");
    match error {
        ClientError::PermissionDenied(message) => {
            assert!(message.contains("focal_point"), "{message}")
        }
        other => panic!("expected PERMISSION_DENIED, got {other}"),
    }
    still_serving(&hub).await;
}
