//! Origin signatures on real hubs (each its own `slt-hub` process, real TLS, SQLite or
//! PostgreSQL): hub-a's records reach hub-c through hub-b, and hub-c applies only what hub-a
//! signed. hub-b turns hostile by having its database edited, so that it serves what a
//! malicious relay would: an incident it invented under hub-a's name, hub-a's incident with a
//! shadowing version. Each test says what the attack got before origin signatures and what it
//! gets now.

mod federation_hubs;

use federation_hubs::{Hub, eventually, incident, pull_as_peer, seen, submit};
use prost::Message;
use slt_client::proto as pb;
use slt_hub::federation::agreement::PeerTier;
use slt_hub::identity::keys;
use slt_hub::wire::origin_seal::{self, OriginSigner};
use tempfile::TempDir;

/// hub-a -> hub-b -> hub-c at T2, every link transitive; hub-c has a key-only agreement
/// (`pull = false`) for hub-a, which it hears of only through hub-b.
async fn chain(root: &std::path::Path) -> (Hub, Hub, Hub) {
    let a = Hub::create(root, "hub-a").await;
    let b = Hub::create(root, "hub-b").await;
    let c = Hub::create(root, "hub-c").await;
    a.set_peers(&[b.as_peer(false, PeerTier::T2, true)]);
    b.set_peers(&[
        a.as_peer(true, PeerTier::T2, true),
        c.as_peer(false, PeerTier::T2, true),
    ]);
    c.set_peers(&[
        b.as_peer(true, PeerTier::T2, true),
        a.as_peer(false, PeerTier::T2, true),
    ]);
    (a, b, c)
}

fn federated(narrative: &str) -> pb::Incident {
    incident(pb::Distribution::Federation, pb::Tlp::Green, narrative)
}

/// A bytes literal for `hub`'s backend.
fn blob(hub: &Hub, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    if hub.database_url.starts_with("sqlite") {
        format!("X'{hex}'")
    } else {
        format!("'\\x{hex}'::bytea")
    }
}

/// `hub`'s stored copy of `id`: the origin's signed rendering (decoded) and signature.
async fn stored_seal(hub: &Hub, id: uuid::Uuid) -> (pb::Incident, Vec<u8>) {
    let store = hub.store().await;
    let copy = store.get(id).await.expect("get").expect("stored");
    store.close().await;
    let seal = copy
        .received
        .and_then(|received| received.seal)
        .expect("a verified copy keeps its seal");
    let rendering = pb::Incident::decode(seal.rendering.as_slice()).expect("rendering");
    (rendering, seal.signature)
}

async fn withheld_from(hub: &Hub, peer: &str) -> u64 {
    hub.peer_state(peer).await.withheld_total
}

/// hub-b's own incident, submitted after an attack: once hub-c holds it, hub-c has pulled past
/// everything hub-b served before it.
async fn control(b: &Hub, c: &Hub) {
    let mut reporter = b.client("ngo-alpha.reporter").await;
    let id = submit(&mut reporter, &federated("Control from hub b.")).await;
    let reader = c.client("undss.focal_point").await;
    eventually("hub-b's control incident reaches hub-c", || {
        let mut reader = reader.clone();
        async move { seen(&mut reader, id).await.is_some() }
    })
    .await;
}

/// (a) hub-b relays hub-a's incidents to hub-c: hub-c verifies hub-a's signature and applies
/// them, each new version too; its copy is the one hub-b forwarded, with hub-a's seal kept for
/// relaying further.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_incident_verifies_and_applies_at_every_version() {
    let root = TempDir::new().expect("tempdir");
    let (mut a, mut b, mut c) = chain(root.path()).await;
    a.start();
    b.start();
    c.start();
    let mut reporter = a.client("ngo-alpha.reporter").await;
    let record = federated("Relayedmarker: convoy turned back at a checkpoint.");
    let id = submit(&mut reporter, &record).await;
    let mut reader = c.client("undss.focal_point").await;
    eventually("hub-a's incident reaches hub-c through hub-b", || {
        let mut reader = reader.clone();
        async move { seen(&mut reader, id).await.is_some() }
    })
    .await;
    let at_c = seen(&mut reader, id).await.expect("at c");
    assert_eq!((at_c.origin_hub.as_str(), at_c.version), ("hub-a", 1));
    assert!(at_c.narrative.contains("Relayedmarker"), "{at_c:?}");
    let (rendering, _) = stored_seal(&c, id).await;
    assert_eq!(rendering.id, id.to_string());
    let store = c.store().await;
    let copy = store.get(id).await.expect("get").expect("stored");
    store.close().await;
    assert_eq!(
        copy.received.map(|received| received.from_hub).as_deref(),
        Some("hub-b"),
        "hub-c got it from the relay, not from the origin"
    );

    let mut amended = record.clone();
    amended.narrative = "Relayedmarker: the convoy passed the next day.".into();
    reporter.amend(amended, 1).await.expect("amend");
    eventually("version 2 reaches hub-c", || {
        let mut reader = reader.clone();
        async move {
            seen(&mut reader, id)
                .await
                .is_some_and(|got| got.version == 2)
        }
    })
    .await;
    assert_eq!(withheld_from(&c, "hub-b").await, 0);
}

/// (b) hub-b invents an incident and serves it as hub-a's: a row of its own renamed to origin
/// hub-a and dressed as a copy received from hub-a, signed with hub-b's own federation key
/// (all a hostile relay can sign with). Before: hub-c applied it under origin hub-a (nothing
/// tied an incident to its origin). Now: hub-c checks it against hub-a's key, refuses it and
/// counts it as withheld; nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_invented_by_the_relay_is_refused() {
    let root = TempDir::new().expect("tempdir");
    let (mut a, mut b, mut c) = chain(root.path()).await;
    a.start();
    b.start();
    let mut reporter = b.client("ngo-alpha.reporter").await;
    let id = submit(
        &mut reporter,
        &federated("Forgedmarker: invented by hub b."),
    )
    .await;

    // What hub-b would serve hub-c for it, renamed to hub-a and signed by hub-b.
    let served = pull_as_peer(&b, &c).await;
    let mut forged = served
        .iter()
        .filter_map(|change| change.incident.clone())
        .find(|incident| incident.id == id.to_string())
        .expect("hub-b serves its incident");
    assert!(!forged.origin_signature.is_empty(), "hub-b signs its own");
    forged.origin_hub = "hub-a".into();
    let b_key = std::fs::read_to_string(b.dir.join("pki/federation-signing.key")).expect("key");
    OriginSigner::from_pem("hub-b", &b_key)
        .expect("signer")
        .sign_incident(&mut forged)
        .expect("sign");
    let rendering = origin_seal::incident_rendering(&forged);
    b.execute_sql(&[&format!(
        "UPDATE incidents SET origin_hub = 'hub-a', received_from = 'hub-a', \
         received_tier = 'T2', origin_rendering = {}, origin_signature = {} WHERE id = '{id}'",
        blob(&b, &rendering),
        blob(&b, &forged.origin_signature)
    )])
    .await;
    assert!(
        pull_as_peer(&b, &c)
            .await
            .iter()
            .filter_map(|change| change.incident.as_ref())
            .any(|incident| incident.id == id.to_string() && incident.origin_hub == "hub-a"),
        "the tampering took: hub-b serves it as hub-a's"
    );

    c.start();
    control(&b, &c).await;
    assert_eq!(
        c.writes_of(id).await,
        0,
        "the invented incident was applied"
    );
    let mut reader = c.client("undss.focal_point").await;
    assert!(seen(&mut reader, id).await.is_none());
    assert!(!c.database_contains("Forgedmarker").await);
    drop(reader);
    assert!(withheld_from(&c, "hub-b").await >= 1);
}

/// (c) hub-b raises hub-a's incident to version 2^62 in what it serves (hub-a's signature kept:
/// it cannot make another). Before: hub-c applied 2^62, and every genuine version after it
/// (2, 3, ...) counted as an older duplicate: hub-c kept the relay's version for good. Now: the
/// version is under hub-a's signature, so 2^62 is refused and counted, and hub-a's genuine
/// version 2 still arrives and applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadowing_version_is_refused_and_genuine_versions_still_arrive() {
    let root = TempDir::new().expect("tempdir");
    let (mut a, mut b, mut c) = chain(root.path()).await;
    a.start();
    b.start();
    let mut reporter = a.client("ngo-alpha.reporter").await;
    let record = federated("Genuinemarker: first account.");
    let id = submit(&mut reporter, &record).await;
    eventually("hub-b holds hub-a's incident", || async {
        b.writes_of(id).await > 0
    })
    .await;

    let shadow: u64 = 1 << 62;
    let (mut rendering, signature) = stored_seal(&b, id).await;
    rendering.version = shadow;
    b.execute_sql(&[&format!(
        "UPDATE incidents SET version = {shadow}, origin_rendering = {}, \
         origin_signature = {} WHERE id = '{id}'",
        blob(&b, &rendering.encode_to_vec()),
        blob(&b, &signature)
    )])
    .await;
    assert!(
        pull_as_peer(&b, &c)
            .await
            .iter()
            .filter_map(|change| change.incident.as_ref())
            .any(|incident| incident.id == id.to_string() && incident.version == shadow),
        "the tampering took: hub-b serves version 2^62"
    );

    c.start();
    control(&b, &c).await;
    assert_eq!(
        c.writes_of(id).await,
        0,
        "the shadowing version was applied"
    );
    assert!(withheld_from(&c, "hub-b").await >= 1);

    let mut amended = record.clone();
    amended.narrative = "Genuinemarker: second account.".into();
    reporter.amend(amended, 1).await.expect("amend");
    let reader = c.client("undss.focal_point").await;
    eventually("hub-a's version 2 reaches hub-c", || {
        let mut reader = reader.clone();
        async move {
            seen(&mut reader, id)
                .await
                .is_some_and(|got| got.version == 2 && got.narrative.contains("second"))
        }
    })
    .await;
}

/// (d) hub-c has an agreement naming hub-a but no `origin_key` for it. Before: hub-c applied
/// whatever hub-b relayed under hub-a's name. Now: a record whose origin has no known key is
/// refused (fail closed) and counted as withheld; once the agreement gives the key, hub-a's
/// next version applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_without_a_known_key_is_refused() {
    let root = TempDir::new().expect("tempdir");
    let (mut a, mut b, mut c) = chain(root.path()).await;
    let mut keyless = a.as_peer(false, PeerTier::T2, true);
    keyless.origin_key = None;
    c.set_peers(&[b.as_peer(true, PeerTier::T2, true), keyless]);
    a.start();
    b.start();
    c.start();
    let mut reporter = a.client("ngo-alpha.reporter").await;
    let record = federated("Keylessmarker: from hub a.");
    let id = submit(&mut reporter, &record).await;
    eventually("hub-b holds hub-a's incident", || async {
        b.writes_of(id).await > 0
    })
    .await;
    control(&b, &c).await;
    assert_eq!(c.writes_of(id).await, 0);
    assert!(withheld_from(&c, "hub-b").await >= 1);

    c.set_peers(&[
        b.as_peer(true, PeerTier::T2, true),
        a.as_peer(false, PeerTier::T2, true),
    ]);
    // The key is in force once hub-c has reloaded its agreements (a poll away): hub-a amends
    // until a version arrives after that.
    let mut reader = c.client("undss.focal_point").await;
    let mut amended = record.clone();
    let mut applied = None;
    for version in 2..30u64 {
        amended.narrative = format!("Keylessmarker: version {version}.");
        reporter
            .amend(amended.clone(), version - 1)
            .await
            .expect("amend");
        for _ in 0..20 {
            if let Some(got) = seen(&mut reader, id).await {
                applied = Some(got.version);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if applied.is_some() {
            break;
        }
    }
    assert!(
        applied.is_some_and(|version| version >= 2),
        "with hub-a's key, a later version applies at hub-c: {applied:?}"
    );
}

fn advisory(summary: &str) -> pb::Advisory {
    pb::Advisory {
        summary: summary.into(),
        tlp: pb::Tlp::Green as i32,
        ..slt_tests::sample_advisory("SSD", pb::Distribution::Federation)
    }
}

fn public_key(hub: &Hub) -> [u8; 32] {
    let pem = std::fs::read_to_string(hub.dir.join("pki/federation-signing.pub.pem")).expect("key");
    keys::public_key_bytes(&pem, "federation key").expect("key")
}

/// (e) Advisories: hub-a signs every advisory it serves a peer; the signature verifies with
/// hub-a's key and with no other, and covers the version, the origin and the content, so a
/// relay's forgery or shadowing version fails the check a receiver runs. Before: advisories
/// went to peers unsigned, and nothing could tell hub-a's from one a relay made up. (A pulling
/// hub does not store advisories yet: each still counts as withheld there, as before.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisories_carry_their_origins_signature() {
    let root = TempDir::new().expect("tempdir");
    let (mut a, mut b, c) = chain(root.path()).await;
    a.start();
    b.start();
    let mut focal = a.client("ngo-alpha.focal_point").await;
    let issued = focal
        .issue_advisory(advisory("Advisorymarker: road closed."), 0)
        .await
        .expect("advisory");
    let served = pull_as_peer(&a, &b).await;
    let genuine = served
        .iter()
        .filter_map(|change| change.advisory.clone())
        .find(|got| got.id == issued.id)
        .expect("hub-a serves hub-b its advisory");
    let (a_key, b_key) = (public_key(&a), public_key(&b));
    assert_eq!(origin_seal::verify_advisory(&genuine, &a_key), Ok(()));
    assert!(origin_seal::verify_advisory(&genuine, &b_key).is_err());

    let mut shadow = genuine.clone();
    shadow.version = 1 << 62;
    let mut edited = genuine.clone();
    edited.summary = "All clear.".into();
    let mut renamed = genuine.clone();
    renamed.origin_hub = "hub-c".into();
    let mut by_relay = genuine.clone();
    let b_private = std::fs::read_to_string(b.dir.join("pki/federation-signing.key")).expect("key");
    OriginSigner::from_pem("hub-b", &b_private)
        .expect("signer")
        .sign_advisory(&mut by_relay)
        .expect("sign");
    for forged in [shadow, edited, renamed, by_relay] {
        assert!(
            origin_seal::verify_advisory(&forged, &a_key).is_err(),
            "{forged:?}"
        );
    }
    // Partners get no signature: it is for hubs.
    let listed = focal
        .list_advisories(pb::ListAdvisoriesRequest::default())
        .await
        .expect("list");
    assert!(
        listed
            .iter()
            .all(|advisory| advisory.origin_signature.is_empty())
    );
    eventually(
        "hub-b pulled the advisory (counted as withheld)",
        || async { withheld_from(&b, "hub-a").await >= 1 },
    )
    .await;
    drop(c);
}

/// A hub with agreements but no `federation_signing_key` would serve records no peer can
/// verify: it refuses to start, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federating_hub_without_a_federation_key_does_not_start() {
    let root = TempDir::new().expect("tempdir");
    let (a, b, _c) = chain(root.path()).await;
    let config = a.dir.join("hub.toml");
    let text = std::fs::read_to_string(&config).expect("hub.toml");
    let without: String = text
        .lines()
        .filter(|line| !line.starts_with("federation_signing_key"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(text, without, "dev hubs have a federation key");
    std::fs::write(&config, without).expect("write");
    let config = config.clone();
    let (binary, database_url) = (slt_tests::slt_hub_binary(), a.database_url.clone());
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("SLT_HUB_DATABASE_URL", database_url)
            .output()
    });
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the hub exits instead of serving")
        .expect("join")
        .expect("run slt-hub");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("federation_signing_key"), "{stderr}");
    drop(b);
}

/// hub-b holds hub-a's incident at T2 and serves hub-c at T1: it cannot re-render hub-a's T2
/// rendering to T1 without breaking hub-a's signature, so the copy does not go on (counted as
/// withheld at egress), while hub-b's own incidents reach hub-c signed at T1. Before: hub-b
/// re-rendered it to T1 and hub-c took it on hub-b's word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forwards_only_at_the_tier_it_was_signed_for() {
    let root = TempDir::new().expect("tempdir");
    let (mut a, mut b, mut c) = chain(root.path()).await;
    b.set_peers(&[
        a.as_peer(true, PeerTier::T2, true),
        c.as_peer(false, PeerTier::T1, true),
    ]);
    a.start();
    b.start();
    c.start();
    let mut reporter = a.client("ngo-alpha.reporter").await;
    let id = submit(&mut reporter, &federated("Tiermarker: from hub a at T2.")).await;
    eventually("hub-b holds hub-a's incident", || async {
        b.writes_of(id).await > 0
    })
    .await;
    control(&b, &c).await;
    assert_eq!(c.writes_of(id).await, 0, "a T2 rendering went out at T1");
    assert!(b.peer_state("hub-c").await.withheld_egress_total >= 1);
    assert_eq!(
        withheld_from(&c, "hub-b").await,
        0,
        "nothing forged arrived"
    );
}

/// A hostile relay's other moves, refused as the record arrives (before anything is stored):
/// widening a one-hop record (COMMUNITY, which only its origin may hand over) and fields only a
/// peer sets, made large enough to stall every feed that would later serve the copy.
#[test]
fn a_relay_cannot_widen_a_one_hop_record_or_send_unbounded_fields() {
    use slt_hub::wire::federation::{ForeignRefusal, foreign_from_proto};
    let now = time::OffsetDateTime::now_utc();
    let mut record = slt_tests::sample_incident(slt_tests::new_id());
    record.private = None;
    record.origin_hub = "hub-a".into();
    record.origin_org = "ngo-alpha".into();
    record.origin_org_type = pb::OrgType::Ingo as i32;
    record.version = 1;
    record.viewer_tier = pb::AccessTier::T2 as i32;
    record.distribution = pb::Distribution::Community as i32;
    assert!(
        foreign_from_proto(&record, "hub-a", true, now).is_ok(),
        "from its origin"
    );
    assert!(matches!(
        foreign_from_proto(&record, "hub-b", true, now),
        Err(ForeignRefusal::NotFederable(reason)) if reason.contains("one-hop")
    ));
    // Widening it to FEDERATION breaks the origin's signature (distribution is signed).
    let origin =
        OriginSigner::from_pem("hub-a", &keys::generate_ed25519().expect("key").private_pem)
            .expect("signer");
    origin.sign_incident(&mut record).expect("signs");
    record.distribution = pb::Distribution::Federation as i32;
    assert!(origin_seal::verify_incident(&record, &origin.public_key()).is_err());

    let mut huge = record.clone();
    huge.origin_org = "x".repeat(10 << 20);
    let mut reason = record;
    reason.retraction_reason = "y".repeat(10 << 20);
    for oversized in [huge, reason] {
        match foreign_from_proto(&oversized, "hub-a", true, now) {
            Err(ForeignRefusal::Invalid(problems)) => assert!(
                problems.iter().all(|problem| problem.len() < 200),
                "field paths and reasons, never the value"
            ),
            _ => panic!("an oversized peer field must be refused"),
        }
    }
}
