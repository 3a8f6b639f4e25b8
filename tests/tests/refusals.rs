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

/// Signs arbitrary JSON claims with the hub's own token key, with `kid` in the header.
fn sign_with_hub_key(hub: &TestHub, kid: &str, claims: &serde_json::Value) -> String {
    let private = std::fs::read_to_string(&hub.config.tokens.signing_key).expect("key");
    let key = jsonwebtoken::EncodingKey::from_ed_pem(private.as_bytes()).expect("ed key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

fn good_claims(org: &str) -> serde_json::Value {
    let now = slt_hub::identity::token::unix_now();
    serde_json::json!({
        "iss": slt_tests::DEV_HUB_ID,
        "aud": slt_tests::DEV_HUB_ID,
        "sub": "mallory",
        "org": org,
        "roles": ["analyst"],
        "iat": now,
        "exp": now + 600,
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Lists with `token` over a fresh SDK connection with `org`'s certificate; the refusal.
async fn refused_with(hub: &TestHub, name: &str, org: &str, token: &str) -> ClientError {
    let mut client = HubClient::connect(&hub.profile_with(name, &hub.org_cert(org), token))
        .await
        .expect("the certificate alone is fine");
    client
        .list(Default::default(), 1, String::new())
        .await
        .expect_err("the token must be refused")
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused_with_its_reason() {
    let hub = TestHub::start().await;
    let kid = hub.issuer.kid().to_string();
    let hub_private = std::fs::read_to_string(&hub.config.tokens.signing_key).expect("key");
    let hub_public = std::fs::read_to_string(&hub.config.tokens.public_key).expect("key");

    // The control: the same construction with nothing wrong is accepted.
    let fine = sign_with_hub_key(&hub, &kid, &good_claims("ngo-alpha"));
    let mut client =
        HubClient::connect(&hub.profile_with("fine", &hub.org_cert("ngo-alpha"), &fine))
            .await
            .expect("connect");
    client
        .list(Default::default(), 1, String::new())
        .await
        .expect("a well-formed hub token works");

    // Bad signature: the hub's kid, someone else's key.
    let other = slt_hub::identity::keys::generate_ed25519().expect("keys");
    let forger = slt_hub::identity::token::TokenIssuer::external(
        slt_tests::DEV_HUB_ID,
        slt_tests::DEV_HUB_ID,
        &other.private_pem,
        &kid,
    )
    .expect("issuer");
    let forged = forger
        .issue("ngo-alpha", "mallory", &[Role::Analyst], 600)
        .expect("token");
    let error = refused_with(&hub, "bad-signature", "ngo-alpha", &forged).await;
    expect_unauthenticated(error, "the token is invalid: bad signature");

    // alg: none, no signature.
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64(good_claims("ngo-alpha").to_string().as_bytes());
    let none = format!("{header}.{claims}.");
    let error = refused_with(&hub, "alg-none", "ngo-alpha", &none).await;
    expect_unauthenticated(error, "algorithm 'none' is not accepted (EdDSA only)");

    // HS256 "signed" with the hub's public key as the HMAC secret (key confusion).
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(
        &hs_header,
        &good_claims("ngo-alpha"),
        &jsonwebtoken::EncodingKey::from_secret(hub_public.as_bytes()),
    )
    .expect("hs256");
    let error = refused_with(&hub, "hs256", "ngo-alpha", &confused).await;
    expect_unauthenticated(error, "algorithm 'HS256' is not accepted (EdDSA only)");

    // Wrong audience, wrong issuer, unknown kid: all signed with the hub's real key.
    let wrong_aud = slt_hub::identity::token::TokenIssuer::external(
        slt_tests::DEV_HUB_ID,
        "another-hub",
        &hub_private,
        &kid,
    )
    .expect("issuer")
    .issue("ngo-alpha", "mallory", &[Role::Analyst], 600)
    .expect("token");
    let error = refused_with(&hub, "wrong-aud", "ngo-alpha", &wrong_aud).await;
    expect_unauthenticated(error, "not meant for this hub (aud)");

    let wrong_iss = slt_hub::identity::token::TokenIssuer::external(
        "another-hub",
        slt_tests::DEV_HUB_ID,
        &hub_private,
        &kid,
    )
    .expect("issuer")
    .issue("ngo-alpha", "mallory", &[Role::Analyst], 600)
    .expect("token");
    let error = refused_with(&hub, "wrong-iss", "ngo-alpha", &wrong_iss).await;
    expect_unauthenticated(error, "issued by someone else (iss)");

    let unknown_kid = sign_with_hub_key(&hub, "no-such-key", &good_claims("ngo-alpha"));
    let error = refused_with(&hub, "unknown-kid", "ngo-alpha", &unknown_kid).await;
    expect_unauthenticated(error, "unknown signing key id (kid)");

    // Required claims: each one left out is named.
    for claim in ["sub", "org", "roles", "exp", "aud"] {
        let mut claims = good_claims("ngo-alpha");
        claims.as_object_mut().expect("object").remove(claim);
        let token = sign_with_hub_key(&hub, &kid, &claims);
        let error = refused_with(&hub, &format!("no-{claim}"), "ngo-alpha", &token).await;
        expect_unauthenticated(error, &format!("missing claim '{claim}'"));
    }

    // A cnf binding to another certificate is honoured even where binding is not required.
    let mut bound_elsewhere = good_claims("ngo-alpha");
    bound_elsewhere["cnf"] = serde_json::json!({ "x5t#S256": b64(&[7u8; 32]) });
    let token = sign_with_hub_key(&hub, &kid, &bound_elsewhere);
    let error = refused_with(&hub, "bound-elsewhere", "ngo-alpha", &token).await;
    expect_unauthenticated(error, "bound to another certificate");

    // An unknown role refuses the whole token (nothing is silently dropped).
    let mut odd_role = good_claims("ngo-alpha");
    odd_role["roles"] = serde_json::json!(["analyst", "superuser"]);
    let token = sign_with_hub_key(&hub, &kid, &odd_role);
    let error = refused_with(&hub, "odd-role", "ngo-alpha", &token).await;
    expect_unauthenticated(error, "unknown role 'superuser'");

    // A role the org may not hold refuses the whole token even next to allowed roles.
    let mut beyond = good_claims("ngo-beta");
    beyond["roles"] = serde_json::json!(["analyst", "auditor"]);
    let token = sign_with_hub_key(&hub, &kid, &beyond);
    match refused_with(&hub, "beyond-cap", "ngo-beta", &token).await {
        ClientError::PermissionDenied(message) => assert!(
            message
                .contains("the token carries role 'auditor', which this organisation may not hold"),
            "{message}"
        ),
        other => panic!("expected PERMISSION_DENIED, got {other}"),
    }
    still_serving(&hub).await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused_at_the_handshake() {
    let hub = TestHub::start().await;
    let token = hub.token("ngo-alpha", &[Role::Analyst]);
    let now = time::OffsetDateTime::now_utc();
    let mut expired = LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-alpha");
    expired.not_before = now - time::Duration::days(30);
    expired.not_after = now - time::Duration::days(1);
    let mut future = LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-alpha");
    future.not_before = now + time::Duration::days(1);
    future.not_after = now + time::Duration::days(30);
    for (name, spec) in [("expired-cert", expired), ("future-cert", future)] {
        let cert = hub.ca.issue(&spec).expect("cert");
        let error = HubClient::connect(&hub.profile_with(name, &cert, &token))
            .await
            .err()
            .expect("refused");
        match error {
            ClientError::Connect { detail, .. } => {
                assert!(
                    detail.contains("refused the connection"),
                    "{name}: {detail}"
                )
            }
            other => panic!("{name}: expected a connect error, got {other}"),
        }
    }
    still_serving(&hub).await;
}

#[tokio::test]
async fn a_hub_certificate_does_not_speak_for_an_org_of_the_same_name() {
    let hub = TestHub::start().await;
    let token = hub.token("ngo-alpha", &[Role::Analyst]);
    let hub_named_like_org = hub
        .ca
        .issue(&LeafSpec::hub(
            DEV_TRUST_DOMAIN,
            "ngo-alpha",
            &["localhost"],
            &[],
        ))
        .expect("cert");
    let error = HubClient::connect(&hub.profile_with("hub-as-org", &hub_named_like_org, &token))
        .await
        .err()
        .expect("refused");
    expect_unauthenticated(
        error,
        "hub certificates are accepted only from federation peers",
    );
    still_serving(&hub).await;
}

#[tokio::test]
async fn bound_tokens_are_required_where_the_registry_says_so() {
    let hub = TestHub::start_with(|config, _| {
        let beta = config
            .orgs
            .iter_mut()
            .find(|org| org.id == "ngo-beta")
            .expect("ngo-beta");
        beta.require_token_binding = true;
        config.max_token_ttl_seconds = 3600;
    })
    .await;
    let cert = hub.org_cert("ngo-beta");
    let thumbprint =
        slt_hub::identity::token::certificate_thumbprint(&cert.cert_pem).expect("thumbprint");

    // Unbound: refused.
    let unbound = hub.token("ngo-beta", &[Role::Analyst]);
    let error = refused_with(&hub, "unbound", "ngo-beta", &unbound).await;
    expect_unauthenticated(error, "requires tokens bound to the client certificate");

    // Bound to another certificate (ngo-beta's second certificate): refused.
    let other_cert = hub
        .ca
        .issue(&LeafSpec::org(DEV_TRUST_DOMAIN, "ngo-beta"))
        .expect("cert");
    let other_thumbprint =
        slt_hub::identity::token::certificate_thumbprint(&other_cert.cert_pem).expect("tp");
    let mismatched = hub
        .issuer
        .issue_bound(
            "ngo-beta",
            "b",
            &[Role::Analyst],
            600,
            Some(&other_thumbprint),
        )
        .expect("token");
    let error = refused_with(&hub, "mismatched", "ngo-beta", &mismatched).await;
    expect_unauthenticated(error, "bound to another certificate");

    // Bound to the calling certificate: accepted.
    let bound = hub
        .issuer
        .issue_bound("ngo-beta", "b", &[Role::Analyst], 600, Some(&thumbprint))
        .expect("token");
    let mut client = HubClient::connect(&hub.profile_with("bound", &cert, &bound))
        .await
        .expect("connect");
    client
        .list(Default::default(), 1, String::new())
        .await
        .expect("a token bound to the calling certificate works");

    // The hub's maximum lifetime applies to every token.
    let long = hub
        .issuer
        .issue_bound("ngo-beta", "b", &[Role::Analyst], 7200, Some(&thumbprint))
        .expect("token");
    let error = refused_with(&hub, "long", "ngo-beta", &long).await;
    expect_unauthenticated(error, "lives too long");
    still_serving(&hub).await;
}
