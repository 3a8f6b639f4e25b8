//! The curious local user: on a shared field laptop, another account reads what `slt` left on
//! disk. Every file the CLI writes that holds incident data (a reporter's mirror holds its
//! private annex) is 0600 — the mirror and its WAL, audit exports, HTML reports — even under a
//! permissive umask and over a file that already existed with wider permissions.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use slt_client::proto as pb;
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, slt_binary};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Runs `slt` under umask 000 (everything it creates would be world-readable by default).
fn slt(profile: &Path, args: &[&str], out: &Path) -> Output {
    let output = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$@\"")
        .arg("sh")
        .arg(slt_binary())
        .arg("--profile")
        .arg(profile)
        .args(args)
        .arg(out)
        .output()
        .expect("run slt");
    assert!(
        output.status.success(),
        "slt {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_holding_incident_data_are_readable_by_their_owner_only() {
    let hub = TestHub::start().await;
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut incident = sample_incident(new_id());
    incident.distribution = pb::Distribution::Community as i32;
    assert!(
        incident.private.is_some(),
        "the sample carries a private annex"
    );
    reporter.submit(vec![incident]).await.expect("submit");
    let dir = tempfile::tempdir().expect("dir");

    let mirror = dir.path().join("mirror.db");
    let profile = hub.profile_path("ngo-alpha", &[Role::Reporter]);
    tokio::task::block_in_place(|| slt(&profile, &["sync", "--mirror"], &mirror));
    assert_eq!(mode(&mirror), 0o600, "the mirror");
    for suffix in ["-wal", "-shm"] {
        let side = dir.path().join(format!("mirror.db{suffix}"));
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "the mirror's {suffix} file");
        }
    }

    // A mirror file someone created earlier with wide permissions is narrowed on open.
    let old_mirror = dir.path().join("old-mirror.db");
    std::fs::write(&old_mirror, "").expect("create");
    std::fs::set_permissions(&old_mirror, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    tokio::task::block_in_place(|| slt(&profile, &["sync", "--mirror"], &old_mirror));
    assert_eq!(mode(&old_mirror), 0o600, "an existing wide mirror");

    let export = dir.path().join("audit.jsonl");
    std::fs::write(&export, "stale").expect("create");
    std::fs::set_permissions(&export, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let auditor = hub.profile_path("audit-office", &[Role::Auditor]);
    tokio::task::block_in_place(|| slt(&auditor, &["audit", "export", "--out"], &export));
    assert_eq!(mode(&export), 0o600, "the audit export");
    let exported = std::fs::read_to_string(&export).expect("read");
    assert!(!exported.contains("stale"), "the old contents are gone");

    let report = dir.path().join("picture.html");
    let focal = hub.profile_path("undss", &[Role::FocalPoint]);
    let args = [
        "picture",
        "--country",
        "SSD",
        "--from",
        "2022-01-01",
        "--to",
        "2023-06-30",
        "--html",
    ];
    tokio::task::block_in_place(|| slt(&focal, &args, &report));
    assert_eq!(mode(&report), 0o600, "the HTML report");
}
