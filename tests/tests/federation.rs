//! Federation between real hubs: every hub is its own `slt-hub` process with its own SQLite
//! file and its own PKI (CA, trust domain, token key), federated through `peers.toml`
//! agreements, and read back through the real SDK with each hub's own dev profiles.

mod federation_hubs;

use std::path::PathBuf;

use federation_hubs::{Hub, eventually, incident, quiet, seen, submit, submit_batch};

use slt_client::{ClientError, Credentials, HubClient, proto as pb};
use slt_hub::federation::agreement::PeerTier;
use slt_hub::identity::Role;
use slt_hub::identity::keys;
use slt_hub::identity::token::TokenIssuer;
use slt_hub::pki::{CertificateAuthority, LeafSpec};
use slt_hub::store::Store;
use slt_tests::{TestDatabase, new_id, postgres_admin_url, sample_incident};
use tempfile::TempDir;
use tokio_stream::StreamExt;

/// A<->B (T1) <->C (T2), every link transitive. FEDERATION incidents reach every hub exactly
/// once; nothing that may not leave ever reaches another hub (checked in the raw database
/// files); T2 fields never cross the T1 link (and do cross the T2 one: the check can fail);
/// retraction and narrowing at A propagate to B and C; the chain goes quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_converges_exactly_once_never_leaks_and_propagates_retract_and_narrowing() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    let mut c = Hub::create(root.path(), "hub-c").await;
    a.set_peers(&[b.as_peer(true, PeerTier::T1, true)]);
    b.set_peers(&[
        a.as_peer(true, PeerTier::T1, true),
        c.as_peer(true, PeerTier::T2, true),
    ]);
    // C hears of A only through B: its key-only agreement (no pull) gives A's origin key.
    c.set_peers(&[
        b.as_peer(true, PeerTier::T2, true),
        a.as_peer(false, PeerTier::T1, true),
    ]);
    a.start();
    b.start();
    c.start();
    let mut a_reporter = a.client("ngo-alpha.reporter").await;
    let mut b_reporter = b.client("ngo-alpha.reporter").await;
    let mut b_reader = b.client("undss.focal_point").await;
    let mut c_reader = c.client("undss.focal_point").await;
    let a_reader = a.client("undss.focal_point").await;

    // What may travel, and the canaries that must not.
    let shared = incident(
        pb::Distribution::Federation,
        pb::Tlp::Amber,
        "Quokkanarrative from hub a about a roadblock.",
    );
    let to_retract = incident(pb::Distribution::Federation, pb::Tlp::Green, "Retract me.");
    let to_narrow = incident(pb::Distribution::Federation, pb::Tlp::Amber, "Narrow me.");
    let mut from_b = incident(
        pb::Distribution::Federation,
        pb::Tlp::Amber,
        "Wombatnarrative from hub b about a checkpoint.",
    );
    // (B's own T3 annex would hold the same canary strings as A's.)
    from_b.private = None;
    let canaries = [
        incident(
            pb::Distribution::OrgOnly,
            pb::Tlp::Amber,
            "Canaryorgonly text.",
        ),
        incident(
            pb::Distribution::SharingGroup,
            pb::Tlp::Amber,
            "Canarygroup text.",
        ),
        incident(
            pb::Distribution::Community,
            pb::Tlp::Amber,
            "Canarycommunity text.",
        ),
        incident(
            pb::Distribution::Federation,
            pb::Tlp::Red,
            "Canaryred text.",
        ),
        incident(
            pb::Distribution::Federation,
            pb::Tlp::AmberStrict,
            "Canarystrict text.",
        ),
    ];
    let shared_id = submit(&mut a_reporter, &shared).await;
    let retract_id = submit(&mut a_reporter, &to_retract).await;
    let narrow_id = submit(&mut a_reporter, &to_narrow).await;
    let from_b_id = submit(&mut b_reporter, &from_b).await;
    let mut canary_ids = Vec::new();
    for canary in &canaries {
        canary_ids.push(submit(&mut a_reporter, canary).await);
    }

    // FEDERATION reaches every hub it may reach.
    for (hub, reader) in [("hub-b", &mut b_reader), ("hub-c", &mut c_reader)] {
        for id in [shared_id, retract_id, narrow_id] {
            eventually(&format!("{id} from hub-a is visible at {hub}"), || {
                let mut reader = reader.clone();
                async move { seen(&mut reader, id).await.is_some() }
            })
            .await;
        }
    }
    eventually("hub-b's incident reaches hub-c and hub-a", || {
        let (mut a_reader, mut c_reader) = (a_reader.clone(), c_reader.clone());
        async move {
            seen(&mut a_reader, from_b_id).await.is_some()
                && seen(&mut c_reader, from_b_id).await.is_some()
        }
    })
    .await;

    // What arrived is attributed and capped: origin hub kept, T1 over the A-B link, and never
    // more at C (which got it from B over a T2 link) than B was given.
    let at_c = seen(&mut c_reader, shared_id).await.expect("at c");
    assert_eq!(at_c.version, 1);
    assert!(at_c.viewer_tier <= pb::AccessTier::T1 as i32, "{at_c:?}");
    assert!(at_c.narrative.is_empty() && at_c.private.is_none());
    assert_eq!(
        at_c.distribution,
        pb::Distribution::Federation as i32,
        "transitive links keep FEDERATION"
    );
    // Over the T2 link, T2 fields do travel: the positive control for the leak checks below.
    let b_at_c = seen(&mut c_reader, from_b_id).await.expect("b's at c");
    assert_eq!(b_at_c.viewer_tier, pb::AccessTier::T2 as i32);
    assert!(b_at_c.narrative.contains("Wombatnarrative"), "{b_at_c:?}");
    assert!(c.database_contains("Wombatnarrative").await);
    assert!(
        !a.database_contains("Wombatnarrative").await,
        "T2 crossed the T1 link B->A"
    );

    // Canaries: T3 values, ORG_ONLY, SHARING_GROUP, COMMUNITY, TLP RED, AMBER+STRICT.
    let quiet_counts = quiet(&[&a, &b, &c]).await;
    assert!(
        a.database_contains("CANARY-REPORTER-CONTACT").await,
        "control: A holds its T3"
    );
    assert!(
        a.database_contains("Quokkanarrative").await,
        "control: A holds its T2"
    );
    for hub in [&b, &c] {
        for marker in [
            "CANARY-REPORTER-CONTACT",
            "CANARY-VICTIM-NAME",
            "CANARY-INTERNAL-NARRATIVE",
            "Quokkanarrative",
            "Canaryorgonly",
            "Canarygroup",
            "Canarycommunity",
            "Canaryred",
            "Canarystrict",
        ] {
            assert!(
                !hub.database_contains(marker).await,
                "{marker} reached {}'s database",
                hub.id
            );
        }
        for id in &canary_ids {
            assert_eq!(
                hub.writes_of(*id).await,
                0,
                "canary {id} reached {}",
                hub.id
            );
        }
    }
    for id in &canary_ids {
        assert!(seen(&mut b_reader, *id).await.is_none());
        assert!(seen(&mut c_reader, *id).await.is_none());
    }

    // Exactly once: one change-log entry per incident on every hub, and the chain is quiet.
    for hub in [&a, &b, &c] {
        for id in [shared_id, retract_id, narrow_id, from_b_id] {
            assert_eq!(hub.writes_of(id).await, 1, "{id} at {}", hub.id);
        }
    }
    assert_eq!(quiet_counts.len(), 3);

    // Retract and narrow at A.
    let retracted = a_reporter
        .retract(&retract_id.to_string(), "duplicate report", 1)
        .await
        .expect("retract");
    assert_eq!(retracted.version, 2);
    let mut narrowed = to_narrow.clone();
    narrowed.distribution = pb::Distribution::Community as i32;
    a_reporter.amend(narrowed, 1).await.expect("narrow");
    for (hub, reader) in [("hub-b", &b_reader), ("hub-c", &c_reader)] {
        eventually(&format!("the retraction reaches {hub}"), || {
            let mut reader = reader.clone();
            async move {
                seen(&mut reader, retract_id).await.is_some_and(|incident| {
                    incident.verification == pb::Verification::Retracted as i32
                        && incident.version == 2
                })
            }
        })
        .await;
        eventually(&format!("the narrowed incident leaves {hub}"), || {
            let mut reader = reader.clone();
            async move { seen(&mut reader, narrow_id).await.is_none() }
        })
        .await;
    }
    quiet(&[&a, &b, &c]).await;
    for hub in [&b, &c] {
        assert_eq!(
            hub.writes_of(retract_id).await,
            2,
            "create + retract at {}",
            hub.id
        );
    }
    // The status is for admins only (and, like every call, audited).
    assert!(matches!(
        b_reader.clone().list_peers().await,
        Err(ClientError::PermissionDenied(_))
    ));
    let mut admin = b.client("hub-admin.admin").await;
    let status = admin.list_peers().await.expect("peers");
    let from_a = status
        .peers
        .iter()
        .find(|peer| peer.hub_id == "hub-a")
        .expect("hub-a status");
    assert!(from_a.last_success.is_some() && from_a.consecutive_errors == 0);
    assert!(from_a.revoked_total >= 1, "{from_a:?}");
    assert_eq!(from_a.tier, "T1");
    // And A, serving B, counted the canaries B's agreement kept from it.
    let mut a_admin = a.client("hub-admin.admin").await;
    let serving = a_admin.list_peers().await.expect("peers");
    let to_b = serving
        .peers
        .iter()
        .find(|peer| peer.hub_id == "hub-b")
        .expect("hub-b status");
    assert!(
        to_b.withheld_egress_total >= canary_ids.len() as u64,
        "{to_b:?}"
    );
}

/// A->B->C->A, each pulling from the previous, transitive: every FEDERATION incident reaches
/// the two other hubs exactly once and the cycle goes quiet (never served back to its origin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_delivers_exactly_once_and_goes_quiet() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    let mut c = Hub::create(root.path(), "hub-c").await;
    // X pulls from its predecessor; the predecessor knows X as a peer it serves (no pull).
    a.set_peers(&[
        c.as_peer(true, PeerTier::T1, true),
        b.as_peer(false, PeerTier::T1, true),
    ]);
    b.set_peers(&[
        a.as_peer(true, PeerTier::T1, true),
        c.as_peer(false, PeerTier::T1, true),
    ]);
    c.set_peers(&[
        b.as_peer(true, PeerTier::T1, true),
        a.as_peer(false, PeerTier::T1, true),
    ]);
    a.start();
    b.start();
    c.start();
    let hubs = [&a, &b, &c];
    let mut ids = Vec::new();
    for hub in hubs {
        let mut reporter = hub.client("ngo-alpha.reporter").await;
        for n in 0..3 {
            let id = submit(
                &mut reporter,
                &incident(
                    pb::Distribution::Federation,
                    pb::Tlp::Amber,
                    &format!("cycle {n}"),
                ),
            )
            .await;
            ids.push(id);
        }
    }
    for hub in hubs {
        let reader = hub.client("undss.analyst").await;
        for id in &ids {
            let id = *id;
            eventually(&format!("{id} reaches {}", hub.id), || {
                let mut reader = reader.clone();
                async move { seen(&mut reader, id).await.is_some() }
            })
            .await;
        }
    }
    let settled = quiet(&hubs).await;
    for (hub, counts) in hubs.iter().zip(&settled) {
        for id in &ids {
            let writes = counts
                .iter()
                .find(|(incident, _)| incident == id)
                .map_or(0, |(_, n)| *n);
            assert_eq!(writes, 1, "{id} written {writes} times at {}", hub.id);
        }
        assert_eq!(counts.len(), ids.len(), "nothing else at {}", hub.id);
    }
}

/// Without transitivity FEDERATION becomes COMMUNITY at the first hop: A's incident reaches B
/// and stops there, even though B and C federate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_transitivity_an_incident_travels_one_hop() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    let mut c = Hub::create(root.path(), "hub-c").await;
    a.set_peers(&[b.as_peer(true, PeerTier::T1, false)]);
    b.set_peers(&[
        a.as_peer(true, PeerTier::T1, false),
        c.as_peer(true, PeerTier::T1, false),
    ]);
    c.set_peers(&[b.as_peer(true, PeerTier::T1, false)]);
    a.start();
    b.start();
    c.start();
    let mut a_reporter = a.client("ngo-alpha.reporter").await;
    let mut b_reporter = b.client("ngo-alpha.reporter").await;
    let b_reader = b.client("undss.analyst").await;
    let c_reader = c.client("undss.analyst").await;
    let from_a = submit(
        &mut a_reporter,
        &incident(pb::Distribution::Federation, pb::Tlp::Amber, "one hop"),
    )
    .await;
    let from_b = submit(
        &mut b_reporter,
        &incident(pb::Distribution::Federation, pb::Tlp::Amber, "one hop too"),
    )
    .await;
    eventually("A's incident reaches B as COMMUNITY", || {
        let mut reader = b_reader.clone();
        async move {
            seen(&mut reader, from_a)
                .await
                .is_some_and(|incident| incident.distribution == pb::Distribution::Community as i32)
        }
    })
    .await;
    // The control: B's own FEDERATION incident does reach C, so C is pulling from B.
    eventually("B's incident reaches C", || {
        let mut reader = c_reader.clone();
        async move { seen(&mut reader, from_b).await.is_some() }
    })
    .await;
    quiet(&[&a, &b, &c]).await;
    assert_eq!(c.writes_of(from_a).await, 0, "A's incident went two hops");
}

/// B is stopped while A keeps writing (new incidents, an amendment, a retraction), then
/// restarted: it catches up from its cursor, without a full resync and without duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_was_down_catches_up_from_its_cursor() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let mut b = Hub::create(root.path(), "hub-b").await;
    a.set_peers(&[b.as_peer(false, PeerTier::T1, false)]);
    b.set_peers(&[a.as_peer(true, PeerTier::T1, false)]);
    a.start();
    b.start();
    let mut reporter = a.client("ngo-alpha.reporter").await;
    let batch = |n: usize| -> Vec<pb::Incident> {
        (0..n)
            .map(|i| {
                incident(
                    pb::Distribution::Federation,
                    pb::Tlp::Amber,
                    &format!("n{i}"),
                )
            })
            .collect()
    };
    let mut first = batch(40);
    submit_batch(&mut reporter, &mut first).await;
    let b_reader = b.client("undss.analyst").await;
    let last_first = uuid::Uuid::parse_str(&first[39].id).expect("id");
    eventually("the first batch reaches B", || {
        let mut reader = b_reader.clone();
        async move { seen(&mut reader, last_first).await.is_some() }
    })
    .await;
    quiet(&[&a, &b]).await;

    b.stop();
    let mut second = batch(60);
    submit_batch(&mut reporter, &mut second).await;
    let amended_id = first[0].id.clone();
    let mut amended = first[0].clone();
    amended.admin1 = Some(pb::AdminArea {
        name: "Upper Nile".into(),
        pcode: String::new(),
    });
    reporter
        .amend(amended, 1)
        .await
        .expect("amend while B is down");
    let retracted_id = first[1].id.clone();
    reporter
        .retract(&retracted_id, "wrong", 1)
        .await
        .expect("retract while B is down");

    b.start();
    let b_reader = b.client("undss.analyst").await;
    let all: Vec<uuid::Uuid> = first
        .iter()
        .chain(&second)
        .map(|incident| uuid::Uuid::parse_str(&incident.id).expect("id"))
        .collect();
    eventually("B has caught up", || {
        let mut reader = b_reader.clone();
        let all = all.clone();
        let retracted_id = retracted_id.clone();
        async move {
            for id in &all {
                if seen(&mut reader, *id).await.is_none() {
                    return false;
                }
            }
            reader
                .get(&retracted_id)
                .await
                .is_ok_and(|incident| incident.version == 2)
        }
    })
    .await;
    let counts = quiet(&[&a, &b]).await;
    let b_counts = &counts[1];
    assert_eq!(b_counts.len(), 100);
    for (id, writes) in b_counts {
        let expected = if id.to_string() == amended_id || id.to_string() == retracted_id {
            2
        } else {
            1
        };
        assert_eq!(*writes, expected, "{id}");
    }
    let store = b.store().await;
    let states = store.peer_states().await.expect("states");
    store.close().await;
    let from_a = states
        .iter()
        .find(|state| state.peer_hub == "hub-a")
        .expect("state");
    // 40 + 60 created, 1 amended, 1 retracted: each applied once, nothing pulled twice.
    assert_eq!(from_a.applied_total, 102, "{from_a:?}");
    assert_eq!(
        from_a.duplicates_total, 0,
        "a full resync would re-send: {from_a:?}"
    );
    assert_eq!(from_a.lag_changes, 0);
}

/// Pulling from A with credentials of the wrong kind: only B's own hub certificate with B's
/// own peer token works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_peer_itself_can_pull_as_the_peer() {
    let root = TempDir::new().expect("tempdir");
    let mut a = Hub::create(root.path(), "hub-a").await;
    let b = Hub::create(root.path(), "hub-b").await;
    let c = Hub::create(root.path(), "hub-c").await;
    a.set_peers(&[b.as_peer(false, PeerTier::T1, false)]);
    a.start();
    let mut a_reporter = a.client("ngo-alpha.reporter").await;
    let id = submit(
        &mut a_reporter,
        &incident(pb::Distribution::Federation, pb::Tlp::Amber, "for peers"),
    )
    .await;

    let read = |path: PathBuf| std::fs::read_to_string(path).expect("read");
    let a_ca = read(a.dir.join("pki/ca.pem"));
    let peer_token = |hub: &Hub, org: &str, roles: &[Role], aud: &str| {
        let private = read(hub.dir.join("pki/token-signing.key"));
        let public = read(hub.dir.join("pki/token-signing.pub.pem"));
        let kid = keys::key_id(&keys::public_key_bytes(&public, "key").expect("key"));
        TokenIssuer::external(&hub.id, aud, &private, &kid)
            .expect("issuer")
            .issue(org, &format!("hub:{}", hub.id), roles, 300)
            .expect("token")
    };
    let b_token = peer_token(&b, "hub-b", &[Role::PeerHub], "hub-a");
    let pull = |cert_pem: String, key_pem: String, token: String| {
        let a_ca = a_ca.clone();
        let endpoint = format!("https://{}", a.listen);
        async move {
            let mut client = match HubClient::connect_with(Credentials {
                endpoint,
                ca_pem: a_ca,
                cert_pem,
                key_pem,
                token,
            })
            .await
            {
                Ok(client) => client,
                Err(error) => return Err(error.to_string()),
            };
            let mut stream = client
                .pull("", pb::SyncFilter::default(), 100)
                .await
                .map_err(|error| error.to_string())?;
            let mut ids = Vec::new();
            while let Some(message) = stream.next().await {
                let message = message.map_err(|error| error.to_string())?;
                ids.extend(message.changes.into_iter().map(|change| change.incident_id));
            }
            Ok(ids)
        }
    };
    let b_cert = read(b.dir.join("pki/hub.pem"));
    let b_key = read(b.dir.join("pki/hub.key"));

    // The control: B itself.
    let pulled = pull(b_cert.clone(), b_key.clone(), b_token.clone())
        .await
        .expect("B pulls as itself");
    assert_eq!(pulled, vec![id.to_string()]);

    // Another hub's certificate (C: not a peer of A) with its own peer token.
    let c_token = peer_token(&c, "hub-c", &[Role::PeerHub], "hub-a");
    let refused = pull(
        read(c.dir.join("pki/hub.pem")),
        read(c.dir.join("pki/hub.key")),
        c_token,
    )
    .await;
    assert!(refused.is_err(), "C pulled from A: {refused:?}");

    // A certificate that claims to be hub-b, issued by C's CA (A trusts C's CA for nothing).
    let c_ca = CertificateAuthority::from_pem(
        &read(c.dir.join("pki/ca.pem")),
        &read(c.dir.join("pki/ca.key")),
    )
    .expect("C's CA");
    let forged = c_ca
        .issue(&LeafSpec::hub(&b.domain, "hub-b", &["localhost"], &[]))
        .expect("forged cert");
    let refused = pull(forged.cert_pem, forged.key_pem, b_token.clone()).await;
    assert!(
        refused.is_err(),
        "a hub-b certificate from C's CA pulled: {refused:?}"
    );

    // A certificate claiming hub-b from B's trust domain, issued by A's own CA: not B's anchor.
    let a_ca_issuer =
        CertificateAuthority::from_pem(&a_ca, &read(a.dir.join("pki/ca.key"))).expect("A's CA");
    let forged = a_ca_issuer
        .issue(&LeafSpec::hub(&b.domain, "hub-b", &["localhost"], &[]))
        .expect("forged cert");
    let refused = pull(forged.cert_pem, forged.key_pem, b_token.clone()).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|message| message.contains("not issued by that peer")),
        "{refused:?}"
    );

    // An org certificate of A's own trust domain with B's peer token.
    let refused = pull(
        read(a.dir.join("orgs/ngo-alpha/cert.pem")),
        read(a.dir.join("orgs/ngo-alpha/key.pem")),
        b_token.clone(),
    )
    .await;
    assert!(refused.is_err(), "an org pulled as a peer: {refused:?}");

    // An org of A with a peer_hub token A issued for it: orgs cannot hold peer_hub.
    let a_token = {
        let private = read(a.dir.join("pki/token-signing.key"));
        let public = read(a.dir.join("pki/token-signing.pub.pem"));
        TokenIssuer::new("hub-a", &private, &public)
            .expect("issuer")
            .issue("ngo-alpha", "someone", &[Role::PeerHub], 300)
            .expect("token")
    };
    let refused = pull(
        read(a.dir.join("orgs/ngo-alpha/cert.pem")),
        read(a.dir.join("orgs/ngo-alpha/key.pem")),
        a_token,
    )
    .await;
    assert!(
        refused.is_err(),
        "an org pulled with a peer_hub token: {refused:?}"
    );

    // B's certificate with a token that is not B's peer token: an analyst role, or meant for
    // another hub.
    let analyst = peer_token(&b, "hub-b", &[Role::Analyst], "hub-a");
    let refused = pull(b_cert.clone(), b_key.clone(), analyst).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|message| message.contains("peer_hub")),
        "{refused:?}"
    );
    let elsewhere = peer_token(&b, "hub-b", &[Role::PeerHub], "hub-c");
    let refused = pull(b_cert, b_key, elsewhere).await;
    assert!(
        refused.is_err(),
        "a token for another hub was accepted: {refused:?}"
    );

    // Agreements reload while the hub runs: once A has an agreement with C, C may pull (so it
    // was the missing agreement that refused it above).
    a.set_peers(&[
        b.as_peer(false, PeerTier::T1, false),
        c.as_peer(false, PeerTier::T1, false),
    ]);
    let c_cert = read(c.dir.join("pki/hub.pem"));
    let c_key = read(c.dir.join("pki/hub.key"));
    eventually("A accepts C after the agreement is added", || {
        let token = peer_token(&c, "hub-c", &[Role::PeerHub], "hub-a");
        let pulled = pull(c_cert.clone(), c_key.clone(), token);
        async move { pulled.await.is_ok_and(|ids| ids == vec![id.to_string()]) }
    })
    .await;
}

/// The apply rules on a real store (a SQLite file), page by page, without processes: what makes
/// cycles quiet and keeps peers from overwriting what they do not own.
#[tokio::test]
async fn applying_is_at_most_once_never_older_and_only_from_the_source_or_origin() {
    use slt_hub::api::convert::foreign_from_proto;
    use slt_hub::store::{FederatedChange, FederatedPage};
    let dir = TempDir::new().expect("tempdir");
    let database = match postgres_admin_url() {
        Some(admin_url) => Some(TestDatabase::create(&admin_url).await),
        None => None,
    };
    let url = match &database {
        Some(database) => database.url.clone(),
        None => format!("sqlite://{}", dir.path().join("hub.db").display()),
    };
    let store = Store::open(&url).await.expect("store");
    let now = time::OffsetDateTime::now_utc();
    let wire = |id: uuid::Uuid, origin: &str, version: u64, narrative: &str| {
        let mut incident = sample_incident(id);
        incident.private = None;
        incident.origin_hub = origin.into();
        incident.origin_org_type = pb::OrgType::Ingo as i32;
        incident.version = version;
        incident.narrative = narrative.into();
        incident.distribution = pb::Distribution::Federation as i32;
        incident.viewer_tier = pb::AccessTier::T2 as i32;
        incident
    };
    let upsert = |incident: &pb::Incident, from: &str| {
        FederatedChange::Upsert(Box::new(
            foreign_from_proto(incident, from, true, now).expect("decodes"),
        ))
    };
    let apply = |peer: &'static str, changes: Vec<FederatedChange>| {
        let store = store.clone();
        async move {
            store
                .apply_federated(&FederatedPage {
                    local_hub: "hub-b",
                    peer,
                    changes,
                    cursor: "c",
                    remaining: 0,
                    withheld: 0,
                    rules: &slt_hub::federation::copies::FederationRules,
                })
                .await
                .expect("apply")
        }
    };
    let writes = |id: uuid::Uuid| {
        let store = store.clone();
        async move {
            store
                .change_counts()
                .await
                .expect("counts")
                .into_iter()
                .find(|(incident, _)| *incident == id)
                .map_or(0, |(_, n)| n)
        }
    };
    let narrative = |id: uuid::Uuid| {
        let store = store.clone();
        async move {
            store
                .get(id)
                .await
                .expect("get")
                .and_then(|incident| incident.content.narrative)
        }
    };

    // v1 from the origin, then again (from the origin and from a relay): applied once.
    let id = new_id();
    let stats = apply("hub-a", vec![upsert(&wire(id, "hub-a", 1, "one"), "hub-a")]).await;
    assert_eq!(stats.applied, 1);
    let stats = apply("hub-a", vec![upsert(&wire(id, "hub-a", 1, "one"), "hub-a")]).await;
    assert_eq!((stats.applied, stats.duplicates), (0, 1));
    let stats = apply("hub-c", vec![upsert(&wire(id, "hub-a", 1, "one"), "hub-c")]).await;
    assert_eq!((stats.applied, stats.duplicates), (0, 1));
    assert_eq!(writes(id).await, 1);

    // A newer version from the origin applies; an older one afterwards does not.
    apply(
        "hub-a",
        vec![upsert(&wire(id, "hub-a", 3, "three"), "hub-a")],
    )
    .await;
    let stats = apply("hub-a", vec![upsert(&wire(id, "hub-a", 2, "two"), "hub-a")]).await;
    assert_eq!((stats.applied, stats.duplicates), (0, 1));
    assert_eq!(narrative(id).await.as_deref(), Some("three"));

    // A third relay cannot overwrite the copy, even with a "newer" version.
    let stats = apply(
        "hub-c",
        vec![upsert(&wire(id, "hub-a", 9, "forged"), "hub-c")],
    )
    .await;
    assert_eq!(stats.applied, 0);
    assert_eq!(narrative(id).await.as_deref(), Some("three"));
    assert_eq!(writes(id).await, 2);

    // Our own incidents coming back, and an id of another origin: withheld.
    let stats = apply(
        "hub-a",
        vec![upsert(&wire(new_id(), "hub-b", 1, "mine"), "hub-a")],
    )
    .await;
    assert_eq!(stats.withheld, 1);
    let stats = apply(
        "hub-c",
        vec![upsert(&wire(id, "hub-c", 5, "clash"), "hub-c")],
    )
    .await;
    assert_eq!(stats.withheld, 1);

    // REVOKE from a peer that is neither the source nor the origin: ignored. From the origin:
    // deleted, and a stale copy relayed later does not come back.
    let stats = apply("hub-c", vec![FederatedChange::Revoke(id)]).await;
    assert_eq!(stats.revoked, 0);
    assert!(store.get(id).await.expect("get").is_some());
    let stats = apply("hub-a", vec![FederatedChange::Revoke(id)]).await;
    assert_eq!(stats.revoked, 1);
    assert!(store.get(id).await.expect("get").is_none());
    let stats = apply(
        "hub-c",
        vec![upsert(&wire(id, "hub-a", 3, "three"), "hub-c")],
    )
    .await;
    assert_eq!((stats.applied, stats.duplicates), (0, 1));
    assert!(store.get(id).await.expect("get").is_none());
    // A newer version (widened again at the origin) does.
    let stats = apply(
        "hub-a",
        vec![upsert(&wire(id, "hub-a", 4, "four"), "hub-a")],
    )
    .await;
    assert_eq!(stats.applied, 1);
    assert_eq!(narrative(id).await.as_deref(), Some("four"));

    // The status adds it all up per peer.
    let states = store.peer_states().await.expect("states");
    let from_a = states.iter().find(|s| s.peer_hub == "hub-a").expect("a");
    assert_eq!(
        (
            from_a.applied_total,
            from_a.duplicates_total,
            from_a.withheld_total,
            from_a.revoked_total
        ),
        (3, 2, 1, 1)
    );
    store.close().await;
}

/// A foreign copy is never "own" in SQL either: a peer that names a local org as the origin
/// org of an incident does not get it into that org's own-incidents scope (which the threat
/// picture counts as is, and which takes the own-org date precision).
#[tokio::test]
async fn a_foreign_copy_named_after_a_local_org_is_not_in_its_own_scope() {
    use slt_hub::api::convert::foreign_from_proto;
    use slt_hub::domain::{DatePrecision, IncidentFilter, VisibilityScope};
    use slt_hub::store::{FederatedChange, FederatedPage, ListQuery};
    let dir = TempDir::new().expect("tempdir");
    let database = match postgres_admin_url() {
        Some(admin_url) => Some(TestDatabase::create(&admin_url).await),
        None => None,
    };
    let url = match &database {
        Some(database) => database.url.clone(),
        None => format!("sqlite://{}", dir.path().join("hub.db").display()),
    };
    let store = Store::open(&url).await.expect("store");
    let id = new_id();
    let mut incident = sample_incident(id);
    incident.private = None;
    incident.origin_hub = "hub-a".into();
    incident.origin_org = "org-local".into();
    incident.origin_org_type = pb::OrgType::Ingo as i32;
    incident.version = 1;
    incident.distribution = pb::Distribution::Community as i32;
    incident.viewer_tier = pb::AccessTier::T1 as i32;
    let foreign = foreign_from_proto(&incident, "hub-a", true, time::OffsetDateTime::now_utc())
        .expect("decodes");
    let stats = store
        .apply_federated(&FederatedPage {
            local_hub: "hub-b",
            peer: "hub-a",
            changes: vec![FederatedChange::Upsert(Box::new(foreign))],
            cursor: "c",
            remaining: 0,
            withheld: 0,
            rules: &slt_hub::federation::copies::FederationRules,
        })
        .await
        .expect("apply");
    assert_eq!(stats.applied, 1);
    // A viewer of org-local that sees only its own org's incidents.
    let scope = VisibilityScope {
        own_org: Some("org-local".into()),
        shared_distributions: Vec::new(),
        sharing_groups: Vec::new(),
        allowed_tlps: None,
        excluded_origin_hub: None,
        own_date_precision: DatePrecision::Day,
        others_date_precision: DatePrecision::Year,
        others_origin_visible: false,
    };
    let filter = IncidentFilter::default();
    let page = store
        .list(&ListQuery {
            scope: &scope,
            filter: &filter,
            after: None,
            limit: 10,
        })
        .await
        .expect("list");
    assert!(
        page.rows.iter().all(|(_, row)| row.id != id),
        "a foreign copy was in a local org's own scope"
    );
    store.close().await;
}
