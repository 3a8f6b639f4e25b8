//! Dev mode and interoperability: the dev environment's layout, a generic client that is not
//! ours (Python grpcio with stubs generated from proto/), health, and server reflection (v1 and
//! v1alpha) for tools such as grpcurl and buf curl.

use std::path::Path;
use std::process::Command;

use slt_client::{HubClient, Profile};
use slt_hub::config::HubConfig;
use slt_hub::store::Store;
use slt_tests::{new_id, sample_incident, workspace_root};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Starts a dev-mode hub in `dir` on a free port, as `slt-hub serve --dev` would.
async fn start_dev_hub(dir: &Path) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    slt_hub::identity::tls::install_crypto_provider();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let environment = slt_hub::dev::ensure(dir, addr).expect("dev environment");
    assert!(environment.created);
    let config = HubConfig::load(&environment.config_path).expect("config");
    let store = Store::open(&config.database_url).await.expect("store");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        slt_hub::serve(listener, config, store, async {
            let _ = stopped.await;
        })
        .await
        .expect("dev hub");
    });
    (addr, stop)
}

#[tokio::test]
async fn dev_environment_has_the_documented_layout_and_is_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let addr: std::net::SocketAddr = "127.0.0.1:50999".parse().expect("addr");
    let created = slt_hub::dev::ensure(dir.path(), addr).expect("create");
    assert!(created.created);
    let root = dir.path();
    for file in [
        "hub.toml",
        "pki/ca.pem",
        "pki/crl.pem",
        "pki/hub.pem",
        "pki/hub.key",
        "pki/audit-signing.pub.pem",
        "examples/incident.json",
    ] {
        assert!(root.join(file).is_file(), "{file} is missing");
    }
    let orgs_and_roles = [
        ("undss", &["focal_point", "analyst"][..]),
        ("unhcr", &["reporter", "analyst"]),
        ("ngo-alpha", &["reporter", "analyst", "focal_point"]),
        ("ngo-beta", &["reporter", "analyst"]),
        ("audit-office", &["auditor"]),
        ("hub-admin", &["admin"]),
    ];
    for (org, roles) in orgs_and_roles {
        assert!(root.join(format!("orgs/{org}/cert.pem")).is_file());
        assert!(root.join(format!("orgs/{org}/key.pem")).is_file());
        for role in roles {
            assert!(root.join(format!("tokens/{org}.{role}.jwt")).is_file());
            let profile =
                Profile::load(root.join(format!("profiles/{org}.{role}.toml"))).expect("profile");
            assert_eq!(profile.endpoint, "https://127.0.0.1:50999");
            assert!(profile.cert.is_file() && profile.token.is_file());
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in [
            "pki/hub.key",
            "pki/ca.key",
            "orgs/ngo-alpha/key.pem",
            "tokens/undss.analyst.jwt",
        ] {
            let mode = std::fs::metadata(root.join(secret))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{secret} is readable by others");
        }
    }
    // A second start reuses everything.
    let ca_before = std::fs::read(root.join("pki/ca.pem")).expect("ca");
    let again = slt_hub::dev::ensure(dir.path(), addr).expect("reuse");
    assert!(!again.created);
    assert_eq!(
        std::fs::read(root.join("pki/ca.pem")).expect("ca"),
        ca_before
    );
    // The example incident is valid input for `slt submit`.
    let example = std::fs::read_to_string(root.join("examples/incident.json")).expect("example");
    assert_eq!(
        slt_client::json::incidents_from_json(&example)
            .expect("json")
            .len(),
        1
    );
}

#[tokio::test]
async fn health_and_reflection_v1_and_v1alpha_answer_over_mutual_tls() {
    let dir = tempfile::tempdir().expect("dir");
    let (addr, _stop) = start_dev_hub(dir.path()).await;
    let root = dir.path();
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect("read");
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("pki/ca.pem")))
        .identity(Identity::from_pem(
            read("orgs/unhcr/cert.pem"),
            read("orgs/unhcr/key.pem"),
        ));
    let channel = Channel::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect");

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "slt.v1.IncidentService".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1 as reflection_v1;
    use tonic_reflection::pb::v1alpha as reflection_v1alpha;
    let request = reflection_v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            reflection_v1::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut client =
        reflection_v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    let Some(reflection_v1::server_reflection_response::MessageResponse::ListServicesResponse(
        list,
    )) = answer.message_response
    else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"slt.v1.IncidentService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );

    let request = reflection_v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            reflection_v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "slt.v1.Incident".into(),
            ),
        ),
    };
    let mut client =
        reflection_v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1alpha")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    assert!(
        matches!(
            answer.message_response,
            Some(reflection_v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref files))
                if !files.file_descriptor_proto.is_empty()
        ),
        "{:?}",
        answer.message_response
    );
}

/// The interpreter with grpcio installed (scripts/test.sh makes a venv and sets this).
fn interop_python() -> String {
    std::env::var("SLT_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[tokio::test]
async fn a_python_grpcio_client_lists_incidents_with_the_dev_credentials() {
    let python = interop_python();
    let has_grpc = Command::new(&python)
        .args([
            "-c",
            "import grpc, grpc_tools, grpc_health, grpc_reflection",
        ])
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    assert!(
        has_grpc,
        "{python} lacks grpcio: run scripts/test.sh (it makes a venv from \
         tests/interop/requirements.txt) or set SLT_INTEROP_PYTHON to an interpreter that has it"
    );

    let dir = tempfile::tempdir().expect("dir");
    let (addr, _stop) = start_dev_hub(dir.path()).await;
    // ngo-alpha reports one COMMUNITY and one ORG_ONLY incident through our own SDK.
    let reporter =
        Profile::load(dir.path().join("profiles/ngo-alpha.reporter.toml")).expect("profile");
    let mut alpha = HubClient::connect(&reporter).await.expect("connect");
    let mut hidden = sample_incident(new_id());
    hidden.distribution = slt_client::proto::Distribution::OrgOnly as i32;
    // The shared one with two twins: the record rule releases a class of three to ngo-beta.
    let mut batch = vec![sample_incident(new_id()), hidden];
    batch.extend(slt_tests::sample_class(2));
    slt_tests::submit_stored(&mut alpha, &mut batch).await;
    let mut shared_ids: Vec<String> = [&batch[0], &batch[2], &batch[3]]
        .iter()
        .map(|incident| incident.id.clone())
        .collect();
    shared_ids.sort();

    let script = workspace_root().join("tests/interop/python_client.py");
    let dir_path = dir.path().to_path_buf();
    let endpoint = addr.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(["--profile-dir".as_ref(), dir_path.as_os_str()])
            .args([
                "--org",
                "ngo-beta",
                "--role",
                "analyst",
                "--endpoint",
                &endpoint,
            ])
            .output()
    })
    .await
    .expect("join")
    .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(seen["health"], "SERVING");
    let services = seen["reflection_services"].as_array().expect("services");
    assert!(
        services.iter().any(|s| s == "slt.v1.IncidentService"),
        "{services:?}"
    );
    // ngo-beta's analyst sees the COMMUNITY incidents only, redacted to T1.
    let mut listed: Vec<String> = seen["incident_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("id").to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, shared_ids);
    let redacted = seen["redacted_fields"][0].as_array().expect("fields");
    assert!(redacted.iter().any(|f| f == "private"), "{redacted:?}");
    assert!(redacted.iter().any(|f| f == "narrative"), "{redacted:?}");
    assert!(
        !seen["policy_version"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(seen["without_token"], "UNAUTHENTICATED");
}
