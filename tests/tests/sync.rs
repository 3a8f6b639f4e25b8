//! The change feed and partner mirrors end to end: pull, resume, retract, revoke, filters,
//! refused cursors, mirror binding, live subscribe across a hub restart, a randomized
//! convergence test, and a real `slt sync` killed with SIGKILL and restarted. The hubs run
//! without the record rule: these tests follow single incidents through the feed, which the
//! rule would withhold from another org's analyst (its own convergence: `record_rule.rs`).

use std::time::Duration;

use slt_client::{ClientError, HubClient, Mirror, MirrorError, SyncOptions, proto as pb};
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, slt_binary, submit_stored, without_record_rule};

const REPORTER: &[Role] = &[Role::Reporter];
const ANALYST: &[Role] = &[Role::Analyst];

/// What ListIncidents returns to a client, every verification status included, by id.
async fn listed(client: &mut HubClient) -> Vec<pb::Incident> {
    let mut all = client
        .list_all(pb::IncidentFilter {
            verifications: (1..=5).collect(),
            ..Default::default()
        })
        .await
        .expect("list");
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

async fn sync(mirror: &Mirror, client: &mut HubClient) -> slt_client::SyncStats {
    mirror
        .sync(client, &SyncOptions::default(), |_| {})
        .await
        .expect("sync")
}

fn incident(distribution: pb::Distribution) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.distribution = distribution as i32;
    if distribution == pb::Distribution::SharingGroup {
        incident.sharing_group = "ssd-ngo-forum".into();
    }
    incident
}

#[tokio::test]
async fn a_mirror_follows_creates_amends_retracts_and_revokes() {
    let hub = TestHub::start_with(without_record_rule).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let mirror = Mirror::open(dir.path().join("beta.db"))
        .await
        .expect("mirror");

    let mut batch: Vec<pb::Incident> = (0..3)
        .map(|_| incident(pb::Distribution::Community))
        .collect();
    batch.push(incident(pb::Distribution::OrgOnly));
    submit_stored(&mut alpha, &mut batch).await;
    let shared = batch[..3].to_vec();

    let first = sync(&mirror, &mut beta).await;
    assert_eq!((first.upserts, first.retracts, first.revokes), (3, 0, 0));
    assert!(!first.resumed);
    assert_eq!(
        mirror.incidents().await.expect("read"),
        listed(&mut beta).await
    );

    // Nothing new: a resumed sync applies nothing.
    let idle = sync(&mirror, &mut beta).await;
    assert!(idle.resumed);
    assert_eq!((idle.upserts, idle.retracts, idle.revokes), (0, 0, 0));

    // Amend one, retract one, narrow one to ORG_ONLY.
    let mut amended = shared[0].clone();
    amended.verification = pb::Verification::Verified as i32;
    alpha.amend(amended, 1).await.expect("amend");
    alpha
        .retract(&shared[1].id, "duplicate", 1)
        .await
        .expect("retract");
    let mut narrowed = shared[2].clone();
    narrowed.distribution = pb::Distribution::OrgOnly as i32;
    alpha.amend(narrowed, 1).await.expect("narrow");

    let second = sync(&mirror, &mut beta).await;
    assert_eq!((second.upserts, second.retracts, second.revokes), (1, 1, 1));
    let held = mirror.incidents().await.expect("read");
    assert_eq!(held, listed(&mut beta).await);
    assert_eq!(held.len(), 2);
    assert!(
        held.iter().all(|i| i.id != shared[2].id),
        "the narrowed incident was revoked"
    );
    let retracted = held
        .iter()
        .find(|i| i.id == shared[1].id)
        .expect("retracted kept");
    assert_eq!(retracted.verification, pb::Verification::Retracted as i32);
    assert_eq!(retracted.retraction_reason, "duplicate");
}

#[tokio::test]
async fn the_feed_never_mentions_what_the_caller_could_never_see() {
    let hub = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut both = [
        incident(pb::Distribution::OrgOnly),
        incident(pb::Distribution::SharingGroup),
    ];
    submit_stored(&mut alpha, &mut both).await;
    let [secret, group] = both;
    let mut edited = secret.clone();
    edited.narrative = "edited".into();
    alpha.amend(edited, 1).await.expect("amend");
    alpha
        .retract(&secret.id, "wrong", 2)
        .await
        .expect("retract");

    // unhcr is not in the sharing group: neither incident may appear in any form, REVOKE included.
    let mut unhcr = hub.client("unhcr", ANALYST).await;
    let mut stream = unhcr.pull("", Default::default(), 1).await.expect("pull");
    let mut pages = 0;
    while let Some(page) = stream.message().await.expect("page") {
        pages += 1;
        assert!(page.changes.is_empty(), "{:?}", page.changes);
        if page.complete {
            assert_eq!(page.remaining, 0);
            break;
        }
    }
    assert_eq!(
        pages, 1,
        "invisible entries make no message of their own: one final page, cursor past them all"
    );

    // ngo-beta is a member: it gets the group incident, and never the ORG_ONLY one.
    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("m.db")).await.expect("mirror");
    let stats = sync(&mirror, &mut beta).await;
    assert_eq!((stats.upserts, stats.revokes), (1, 0));
    assert_eq!(mirror.incidents().await.expect("read")[0].id, group.id);
}

#[tokio::test]
async fn filters_apply_on_the_server_and_revoke_what_stops_matching() {
    let hub = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut afg = incident(pb::Distribution::Community);
    afg.country = "AFG".into();
    let mut both = [afg, incident(pb::Distribution::Community)];
    submit_stored(&mut alpha, &mut both).await;
    let [_afg, ssd] = both;

    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("m.db")).await.expect("mirror");
    let options = SyncOptions {
        filter: pb::SyncFilter {
            countries: vec!["SS".into()],
            incident_types: vec![],
        },
        ..SyncOptions::default()
    };
    mirror
        .sync(&mut beta, &options, |_| {})
        .await
        .expect("sync");
    let held = mirror.incidents().await.expect("read");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].id, ssd.id);

    // The SSD incident moves to AFG: it stops matching the filter and is revoked.
    let mut moved = ssd.clone();
    moved.country = "AFG".into();
    alpha.amend(moved, 1).await.expect("amend");
    let stats = mirror
        .sync(&mut beta, &options, |_| {})
        .await
        .expect("sync");
    assert_eq!(stats.revokes, 1);
    assert!(mirror.incidents().await.expect("read").is_empty());
}

#[tokio::test]
async fn cursors_the_hub_cannot_serve_require_a_resync() {
    let hub = TestHub::start_with(without_record_rule).await;
    let other = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    alpha
        .submit(vec![incident(pb::Distribution::Community)])
        .await
        .expect("submit");
    let mut stream = alpha.pull("", Default::default(), 10).await.expect("pull");
    let mut cursor = String::new();
    while let Some(page) = stream.message().await.expect("page") {
        cursor = page.cursor;
    }

    let mut elsewhere = other.client("ngo-alpha", REPORTER).await;
    for bad in [cursor.as_str(), "garbage"] {
        let error = elsewhere
            .pull(bad, Default::default(), 10)
            .await
            .expect_err("refused");
        assert!(matches!(error, ClientError::ResyncRequired(_)), "{error}");
    }
    // The same cursor on its own hub is fine.
    assert!(alpha.pull(&cursor, Default::default(), 10).await.is_ok());
}

#[tokio::test]
async fn a_mirror_refuses_another_principal() {
    let hub = TestHub::start_with(without_record_rule).await;
    hub.client("ngo-alpha", REPORTER)
        .await
        .submit(vec![incident(pb::Distribution::Community)])
        .await
        .expect("submit");
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("m.db")).await.expect("mirror");
    sync(&mirror, &mut hub.client("ngo-beta", ANALYST).await).await;
    let error = mirror
        .sync(
            &mut hub.client("unhcr", ANALYST).await,
            &SyncOptions::default(),
            |_| {},
        )
        .await
        .expect_err("another principal");
    assert!(matches!(error, MirrorError::WrongFeed { .. }), "{error}");
    assert_eq!(mirror.len().await.expect("len"), 1);
}

/// A tiny deterministic generator (no extra dependency; reproducible by seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap_or(0) % n
    }
}

#[tokio::test]
async fn mirrors_converge_to_what_each_principal_may_see() {
    let hub = TestHub::start_with(without_record_rule).await;
    let writers = ["ngo-alpha", "ngo-beta", "unhcr"];
    let readers: [(&str, &[Role]); 5] = [
        ("ngo-alpha", ANALYST),
        ("ngo-beta", REPORTER),
        ("unhcr", ANALYST),
        ("undss", &[Role::FocalPoint]),
        ("ngo-alpha", &[Role::FocalPoint]),
    ];
    let distributions = [
        pb::Distribution::OrgOnly,
        pb::Distribution::SharingGroup,
        pb::Distribution::Community,
        pb::Distribution::Federation,
    ];
    for seed in [7_u64, 1_234, 98_765] {
        let mut random = Lcg(seed);
        let dir = tempfile::tempdir().expect("dir");
        let mut writer_clients = Vec::new();
        for org in writers {
            writer_clients.push(hub.client(org, REPORTER).await);
        }
        let mut reader_clients = Vec::new();
        for (index, (org, roles)) in readers.iter().enumerate() {
            let mirror = Mirror::open(dir.path().join(format!("{seed}-{index}.db")))
                .await
                .expect("mirror");
            reader_clients.push((hub.client(org, roles).await, mirror));
        }
        // (writer index, current incident, version, retracted)
        let mut written: Vec<(usize, pb::Incident, u64, bool)> = Vec::new();
        for _ in 0..80 {
            match random.below(10) {
                0..=3 => {
                    let writer = random.below(writers.len());
                    let mut created = incident(distributions[random.below(4)]);
                    if created.distribution == pb::Distribution::SharingGroup as i32 && writer == 2
                    {
                        // unhcr is not in the group: it shares with the community instead.
                        created.distribution = pb::Distribution::Community as i32;
                        created.sharing_group.clear();
                    }
                    writer_clients[writer]
                        .submit(vec![created.clone()])
                        .await
                        .expect("submit");
                    written.push((writer, created, 1, false));
                }
                4..=6 if !written.is_empty() => {
                    let pick = random.below(written.len());
                    let (writer, current, version, retracted) = &mut written[pick];
                    if *retracted {
                        continue;
                    }
                    let mut changed = current.clone();
                    changed.distribution = distributions[random.below(4)] as i32;
                    changed.sharing_group = if changed.distribution
                        == pb::Distribution::SharingGroup as i32
                        && *writer != 2
                    {
                        "ssd-ngo-forum".into()
                    } else {
                        if changed.distribution == pb::Distribution::SharingGroup as i32 {
                            changed.distribution = pb::Distribution::OrgOnly as i32;
                        }
                        String::new()
                    };
                    changed.narrative = format!("amended at version {version}");
                    writer_clients[*writer]
                        .amend(changed.clone(), *version)
                        .await
                        .expect("amend");
                    *current = changed;
                    *version += 1;
                }
                7 if !written.is_empty() => {
                    let pick = random.below(written.len());
                    let (writer, current, version, retracted) = &mut written[pick];
                    if *retracted {
                        continue;
                    }
                    writer_clients[*writer]
                        .retract(&current.id, "random retraction", *version)
                        .await
                        .expect("retract");
                    *version += 1;
                    *retracted = true;
                }
                _ => {
                    let (client, mirror) = &mut reader_clients[random.below(readers.len())];
                    sync(mirror, client).await;
                }
            }
        }
        for (index, (client, mirror)) in reader_clients.iter_mut().enumerate() {
            sync(mirror, client).await;
            let expected = listed(client).await;
            let held = mirror.incidents().await.expect("read");
            assert_eq!(
                held.len(),
                expected.len(),
                "seed {seed}, reader {index}: count"
            );
            assert_eq!(held, expected, "seed {seed}, reader {index}: content");
        }
    }
}

/// Waits until the subscriber reports `id`.
async fn wait_for(seen: &mut tokio::sync::mpsc::UnboundedReceiver<String>, id: String) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(got) = seen.recv().await {
            if got == id {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{id} not seen in time"));
}

#[tokio::test]
async fn a_live_subscription_survives_a_hub_restart_and_misses_nothing() {
    let mut hub = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut before = [incident(pb::Distribution::Community)];
    submit_stored(&mut alpha, &mut before).await;
    let [before] = before;

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("live.db");
    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let (seen_sender, mut seen) = tokio::sync::mpsc::unbounded_channel::<String>();
    let follower = tokio::spawn(async move {
        let mirror = Mirror::open(&path).await.expect("mirror");
        mirror
            .follow(&mut beta, &Default::default(), 1, |changes, _| {
                for change in changes {
                    let _ = seen_sender.send(change.incident_id.clone());
                }
                true
            })
            .await
    });
    wait_for(&mut seen, before.id.clone()).await;

    let mut live = [incident(pb::Distribution::Community)];
    submit_stored(&mut alpha, &mut live).await;
    let [live] = live;
    wait_for(&mut seen, live.id.clone()).await;

    // Restart the hub; write while the subscriber is cut off and after it is back.
    hub.stop().await;
    hub.restart().await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let mut after = [incident(pb::Distribution::Community)];
    submit_stored(&mut alpha, &mut after).await;
    let [after] = after;
    wait_for(&mut seen, after.id.clone()).await;
    follower.abort();

    let mirror = Mirror::open(dir.path().join("live.db"))
        .await
        .expect("mirror");
    let held: Vec<String> = mirror
        .incidents()
        .await
        .expect("read")
        .into_iter()
        .map(|i| i.id)
        .collect();
    for id in [&before.id, &live.id, &after.id] {
        assert!(held.contains(id), "{id} missing from the live mirror");
    }
    assert_eq!(held.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_sync_killed_mid_stream_resumes_from_its_checkpoint() {
    let hub = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    const TOTAL: usize = 3_000;
    for _ in 0..(TOTAL / 500) {
        let batch: Vec<pb::Incident> = (0..500)
            .map(|_| incident(pb::Distribution::Community))
            .collect();
        alpha.submit(batch).await.expect("submit");
    }
    let profile = hub.profile_path("ngo-beta", ANALYST);
    let dir = tempfile::tempdir().expect("dir");
    let mirror_path = dir.path().join("mirror.db");
    let slt = slt_binary();
    let run = |page_size: &str| {
        std::process::Command::new(&slt)
            .arg("--profile")
            .arg(&profile)
            .args(["sync", "--page-size", page_size, "--mirror"])
            .arg(&mirror_path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn slt")
    };

    let mut child = run("10");
    let observer = Mirror::open(&mirror_path).await.expect("observe");
    let mut held_at_kill = 0;
    for _ in 0..2_000 {
        held_at_kill = observer.len().await.unwrap_or(0);
        if held_at_kill > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    let _ = child.wait();
    let held_at_kill = observer.len().await.expect("len").max(held_at_kill);
    assert!(
        held_at_kill > 0 && (held_at_kill as usize) < TOTAL,
        "killed mid-stream (held {held_at_kill} of {TOTAL})"
    );
    let cursor_at_kill = observer.cursor().await.expect("cursor");
    assert!(!cursor_at_kill.is_empty());

    // Wait off the runtime: the hub under test runs on it.
    let second = run("500");
    let output = tokio::task::spawn_blocking(move || second.wait_with_output())
        .await
        .expect("join")
        .expect("second run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("resumed from the mirror's checkpoint"),
        "{stdout}"
    );
    let upserts: u64 = stdout
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("upserts in the summary");
    assert!(
        upserts < TOTAL as u64,
        "the second run re-fetched everything ({upserts}): {stdout}"
    );

    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let held = observer.incidents().await.expect("read");
    assert_eq!(held.len(), TOTAL, "no duplicates, nothing missing");
    assert_eq!(held, listed(&mut beta).await);
}

#[tokio::test]
async fn a_subscription_ends_when_its_token_expires() {
    let hub = TestHub::start_with(without_record_rule).await;
    let short = hub
        .issuer
        .issue("ngo-beta", "short-lived", &[Role::Analyst], 2)
        .expect("token");
    let profile = hub.profile_with("short", &hub.org_cert("ngo-beta"), &short);
    let mut client = HubClient::connect(&profile).await.expect("connect");
    let mut stream = client
        .subscribe("", Default::default(), 1)
        .await
        .expect("subscribe");
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await
    .expect("the stream must end soon after the token expires");
    let status = ended.expect("ended with an error, not silently");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
}

#[tokio::test]
async fn pages_of_large_incidents_stay_under_the_message_limit() {
    let hub = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    // 300 incidents with 16 KiB narratives: ~4.9 MB for a T2 viewer in one 500-entry page.
    for _ in 0..3 {
        let batch: Vec<pb::Incident> = (0..100)
            .map(|_| {
                let mut incident = incident(pb::Distribution::Community);
                incident.narrative = "convoy halted at the checkpoint ".repeat(512);
                incident
            })
            .collect();
        alpha.submit(batch).await.expect("submit");
    }
    let mut undss = hub.client("undss", &[Role::FocalPoint]).await;
    let dir = tempfile::tempdir().expect("dir");
    let mirror = Mirror::open(dir.path().join("big.db"))
        .await
        .expect("mirror");
    let stats = sync(&mirror, &mut undss).await;
    assert_eq!(stats.upserts, 300);
    assert!(
        stats.pages >= 2,
        "the page was cut by size ({} messages)",
        stats.pages
    );
    assert_eq!(
        mirror.incidents().await.expect("read"),
        listed(&mut undss).await
    );

    // The live path cuts the same way.
    let mut stream = undss
        .subscribe("", Default::default(), 1)
        .await
        .expect("subscribe");
    let mut received = 0;
    while let Some(message) = stream.message().await.expect("message under the limit") {
        received += message.changes.len();
        if message.live {
            break;
        }
    }
    assert_eq!(received, 300);
}

#[tokio::test]
async fn an_org_removed_from_a_sharing_group_is_told_to_delete_its_copies() {
    let mut hub = TestHub::start_with(without_record_rule).await;
    let mut alpha = hub.client("ngo-alpha", REPORTER).await;
    let shared = incident(pb::Distribution::SharingGroup);
    alpha.submit(vec![shared.clone()]).await.expect("submit");

    let dir = tempfile::tempdir().expect("dir");
    let beta_mirror = Mirror::open(dir.path().join("beta.db"))
        .await
        .expect("mirror");
    let unhcr_mirror = Mirror::open(dir.path().join("unhcr.db"))
        .await
        .expect("mirror");
    sync(&beta_mirror, &mut hub.client("ngo-beta", ANALYST).await).await;
    sync(&unhcr_mirror, &mut hub.client("unhcr", ANALYST).await).await;
    assert_eq!(beta_mirror.len().await.expect("len"), 1);

    // The operator removes ngo-beta from the group and restarts the hub.
    hub.config.sharing_groups[0].members = vec!["ngo-alpha".into()];
    hub.restart().await;

    let mut beta = hub.client("ngo-beta", ANALYST).await;
    let stats = sync(&beta_mirror, &mut beta).await;
    assert_eq!(stats.revokes, 1);
    assert!(beta_mirror.is_empty().await.expect("empty"));
    assert!(listed(&mut beta).await.is_empty());
    // An org that never was a member learns nothing, not even a REVOKE.
    let stats = sync(&unhcr_mirror, &mut hub.client("unhcr", ANALYST).await).await;
    assert_eq!((stats.upserts, stats.revokes), (0, 0));
    // The origin org keeps it.
    let mut alpha = hub.client("ngo-alpha", ANALYST).await;
    assert_eq!(listed(&mut alpha).await.len(), 1);
}
