//! The operator's tools, run as the real `slt-hub` binary: `pki init`, `pki issue-org`,
//! `pki issue-hub`, `token issue` (plain and `--bind-cert`), `serve`, then `pki revoke` while
//! the hub runs and SIGHUP: the revoked org's next connection is refused, the process is the
//! same one (no restart), and everyone else is served.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use slt_client::{ClientError, HubClient, Profile};
use slt_hub::identity::keys;
use slt_hub::pki;
use slt_tests::slt_hub_binary;

fn run(args: &[&str]) -> String {
    let output = Command::new(slt_hub_binary())
        .args(args)
        .output()
        .expect("run slt-hub");
    assert!(
        output.status.success(),
        "slt-hub {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The hub process we started. `stop` ends it gracefully (SIGTERM) while this test's runtime
/// keeps running, so our client connections close and the hub can drain; if the test fails
/// first, the drop kills it (by its own pid).
struct HubProcess(Child);

impl HubProcess {
    async fn stop(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        for _ in 0..600 {
            if let Some(status) = self.0.try_wait().expect("status") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the hub did not stop after SIGTERM");
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn profile(dir: &Path, name: &str, port: u16, org: &str, token: &str) -> Profile {
    let base = dir.join("clients").join(name);
    std::fs::create_dir_all(&base).expect("dir");
    std::fs::write(base.join("token.jwt"), token).expect("token");
    let pki_dir = dir.join("pki");
    let text = format!(
        "endpoint = \"https://127.0.0.1:{port}\"\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\ntoken = \"token.jwt\"\n",
        pki_dir.join("ca.pem").display(),
        pki_dir.join("orgs").join(org).join("cert.pem").display(),
        pki_dir.join("orgs").join(org).join("key.pem").display(),
    );
    let path = base.join("profile.toml");
    std::fs::write(&path, text).expect("profile");
    Profile::load(&path).expect("load profile")
}

async fn lists(profile: &Profile) -> Result<(), ClientError> {
    let mut client = HubClient::connect(profile).await?;
    client.list(Default::default(), 1, String::new()).await?;
    Ok(())
}

#[tokio::test]
async fn operators_run_the_pki_and_revoke_with_sighup_without_a_restart() {
    slt_hub::identity::tls::install_crypto_provider();
    let temp = tempfile::tempdir().expect("dir");
    let dir = temp.path();
    let pki_dir = dir.join("pki");
    let pki_arg = pki_dir.to_str().expect("utf-8 path");

    let out = run(&[
        "pki",
        "init",
        "--dir",
        pki_arg,
        "--trust-domain",
        "slt.test",
    ]);
    assert!(out.contains("trust domain 'slt.test'"), "{out}");
    for org in ["ngo-alpha", "ngo-beta"] {
        let out = run(&["pki", "issue-org", "--dir", pki_arg, "--org", org]);
        assert!(out.contains("x5t#S256"), "{out}");
    }
    run(&[
        "pki",
        "issue-hub",
        "--dir",
        pki_arg,
        "--hub",
        "hub-one",
        "--dns",
        "localhost",
        "--ip",
        "127.0.0.1",
    ]);
    for key in [
        pki_dir.join("ca.key"),
        pki_dir.join("orgs/ngo-alpha/key.pem"),
        pki_dir.join("hubs/hub-one/key.pem"),
    ] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
    // Issuing again into an existing CA directory is refused, not overwritten.
    let again = Command::new(slt_hub_binary())
        .args([
            "pki",
            "init",
            "--dir",
            pki_arg,
            "--trust-domain",
            "slt.test",
        ])
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    // The hub's other keys, and its config. Reloads only on SIGHUP here (a long poll).
    let token_keys = keys::generate_ed25519().expect("keys");
    let audit_keys = keys::generate_ed25519().expect("keys");
    pki::write_secret(&dir.join("token.key"), &token_keys.private_pem).expect("w");
    pki::write_public(&dir.join("token.pub.pem"), &token_keys.public_pem).expect("w");
    pki::write_secret(&dir.join("audit.key"), &audit_keys.private_pem).expect("w");
    pki::write_public(&dir.join("audit.pub.pem"), &audit_keys.public_pem).expect("w");
    pki::write_secret(
        &dir.join("pseudonym.key"),
        &keys::generate_secret_hex().expect("secret"),
    )
    .expect("w");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = format!(
        r#"hub_id = "hub-one"
trust_domain = "slt.test"
listen = "127.0.0.1:{port}"
database_url = "sqlite://hub.db"
pseudonym_key = "pseudonym.key"
audit_signing_key = "audit.key"
audit_public_key = "audit.pub.pem"
max_token_ttl_seconds = 86400
reload_poll_millis = 3600000

[tls]
ca = "pki/ca.pem"
crl = "pki/crl.pem"
cert = "pki/hubs/hub-one/cert.pem"
key = "pki/hubs/hub-one/key.pem"

[tokens]
signing_key = "token.key"
public_key = "token.pub.pem"

[[orgs]]
id = "ngo-alpha"
name = "NGO Alpha"
org_type = "INGO"
roles = ["reporter", "analyst"]
require_token_binding = true

[[orgs]]
id = "ngo-beta"
name = "NGO Beta"
org_type = "NNGO"
roles = ["analyst"]
"#
    );
    let config_path = dir.join("hub.toml");
    std::fs::write(&config_path, config).expect("config");
    let config_arg = config_path.to_str().expect("utf-8");

    let alpha_cert = pki_dir.join("orgs/ngo-alpha/cert.pem");
    let alpha_token = run(&[
        "token",
        "issue",
        "--config",
        config_arg,
        "--org",
        "ngo-alpha",
        "--sub",
        "amina",
        "--roles",
        "analyst",
        "--ttl",
        "1h",
        "--bind-cert",
        alpha_cert.to_str().expect("utf-8"),
    ]);
    let beta_token = run(&[
        "token", "issue", "--config", config_arg, "--org", "ngo-beta", "--sub", "bo", "--roles",
        "analyst", "--ttl", "1h",
    ]);
    // The CLI refuses what the hub would refuse.
    for args in [
        vec!["--org", "ngo-alpha", "--sub", "a", "--roles", "analyst"],
        vec!["--org", "ngo-beta", "--sub", "b", "--roles", "auditor"],
        vec![
            "--org", "ngo-beta", "--sub", "b", "--roles", "analyst", "--ttl", "30d",
        ],
    ] {
        let mut full = vec!["token", "issue", "--config", config_arg];
        full.extend(args.iter().copied());
        let output = Command::new(slt_hub_binary())
            .args(&full)
            .output()
            .expect("run");
        assert!(!output.status.success(), "{full:?} must fail");
    }

    let log_path = dir.join("hub.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let child = Command::new(slt_hub_binary())
        .args(["serve", "--config", config_arg])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start slt-hub");
    let mut hub = HubProcess(child);
    let pid = hub.0.id();

    let alpha = profile(dir, "alpha", port, "ngo-alpha", alpha_token.trim());
    let beta = profile(dir, "beta", port, "ngo-beta", beta_token.trim());
    let mut started = false;
    for _ in 0..300 {
        if lists(&alpha).await.is_ok() {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started,
        "the hub did not start: {}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    lists(&beta).await.expect("ngo-beta before revocation");

    let out = run(&[
        "pki",
        "revoke",
        "--dir",
        pki_arg,
        "--cert",
        pki_dir
            .join("orgs/ngo-beta/cert.pem")
            .to_str()
            .expect("utf-8"),
    ]);
    assert!(out.contains("CRL #2"), "{out}");
    // Not picked up without a signal (the poll is an hour)...
    lists(&beta).await.expect("no reload yet");
    // ...and at once with one.
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    let mut refused = false;
    for _ in 0..300 {
        if matches!(lists(&beta).await, Err(ClientError::Connect { detail, .. }) if detail.contains("refused the connection"))
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "the revoked certificate was still accepted after SIGHUP"
    );
    assert!(
        hub.0.try_wait().expect("status").is_none(),
        "the same hub process is still running"
    );
    lists(&alpha).await.expect("other orgs are served");
    let log_text = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        log_text.contains("identity material reloaded"),
        "{log_text}"
    );
    assert!(log_text.contains("SIGHUP"), "{log_text}");
    assert!(hub.stop().await.success(), "the hub shuts down cleanly");
}
