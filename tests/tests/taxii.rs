//! The TAXII 2.1 server (docs/taxii.md) on a real hub over real mutual TLS, read by the
//! reference Python `taxii2-client` and by hand (`requests`), every object checked by the OASIS
//! `stix2-validator` (tests/interop/taxii_check.py). Needs SLT_INTEROP_PYTHON pointing at a venv
//! with tests/interop/requirements.txt (scripts/test.sh makes one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use slt_client::proto as pb;
use slt_hub::identity::Role;
use slt_tests::{TestHub, new_id, sample_incident, submit_stored, workspace_root};

const COLLECTION: &str = slt_hub::taxii::COLLECTION_ID;
/// In the narrative: T2 and above only.
const NARRATIVE_CANARY: &str = "kestrel marker for the second tier";
/// In the private annex: never over TAXII.
const ANNEX_CANARY: &str = "CANARY-T3-TAXII-ANNEX";

fn python() -> String {
    std::env::var("SLT_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Credentials of one org and role, as files the Python side reads.
struct Caller {
    base: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    token: String,
}

impl Caller {
    fn new(hub: &TestHub, base: &str, dir: &Path, org: &str, roles: &[Role]) -> Caller {
        let issued = hub.org_cert(org);
        let name = format!("{org}-{}", roles.len());
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &issued.cert_pem).expect("cert");
        std::fs::write(&key, &issued.key_pem).expect("key");
        Caller {
            base: base.to_string(),
            ca: hub.ca_path().to_path_buf(),
            cert,
            key,
            token: hub.token(org, roles),
        }
    }

    /// Runs one helper operation; its JSON answer.
    fn run(&self, mut request: Value) -> Value {
        let object = request.as_object_mut().expect("object");
        object.insert("base".into(), json!(self.base));
        object.insert("ca".into(), json!(self.ca));
        object.insert("cert".into(), json!(self.cert));
        object.insert("key".into(), json!(self.key));
        if !object.contains_key("token") {
            object.insert("token".into(), json!(self.token));
        }
        object.insert(
            "collection_path".into(),
            json!(format!("/slt/collections/{COLLECTION}/")),
        );
        let script = workspace_root().join("tests/interop/taxii_check.py");
        let output = Command::new(python())
            .arg(&script)
            .arg(request.to_string())
            .output()
            .expect("run the TAXII helper");
        assert!(
            output.status.success(),
            "taxii_check.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("helper JSON")
    }

    fn walk(&self, limit: usize, params: Value) -> Walk {
        self.walk_listing("objects", limit, params)
    }

    fn walk_listing(&self, listing: &str, limit: usize, params: Value) -> Walk {
        let answer =
            self.run(json!({"op": "walk", "listing": listing, "limit": limit, "params": params}));
        assert!(answer.get("error").is_none(), "walk failed: {answer}");
        let invalid = answer["invalid"].as_array().expect("invalid").clone();
        assert!(
            invalid.is_empty(),
            "objects the STIX validator refuses: {invalid:?}"
        );
        let pages = answer["pages"].as_array().expect("pages").clone();
        Walk { pages }
    }

    fn raw(&self, request: Value) -> Value {
        let mut request = request;
        request["op"] = json!("raw");
        if request.get("token").is_none() {
            request["token"] = json!(self.token);
        }
        self.run(request)
    }
}

struct Walk {
    pages: Vec<Value>,
}

impl Walk {
    fn ids(&self) -> Vec<String> {
        self.pages
            .iter()
            .flat_map(|page| page["ids"].as_array().cloned().unwrap_or_default())
            .map(|id| id.as_str().expect("id").to_string())
            .collect()
    }

    fn objects(&self) -> Vec<Value> {
        self.pages
            .iter()
            .flat_map(|page| page["objects"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn last_added(&self) -> Option<String> {
        self.pages
            .iter()
            .rev()
            .find_map(|page| page["last"].as_str().map(str::to_string))
    }
}

/// The tests of this file run one at a time (each runs many Python processes).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A hub with its TAXII listener (bound by the harness on any port), once it accepts.
async fn start() -> (TestHub, std::net::SocketAddr) {
    let any = "127.0.0.1:0".parse().expect("address");
    // Without the record rule: these tests follow single incidents (one per country) to
    // another org's analyst, which the rule would withhold; TAXII pages are `Feed::page`'s,
    // where the rule applies (record_rule.rs).
    let hub = TestHub::start_with(|config, dir| {
        config.taxii.listen = Some(any);
        slt_tests::without_record_rule(config, dir);
    })
    .await;
    let taxii = hub.taxii_addr.expect("the TAXII address");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(taxii).await.is_ok() {
            return (hub, taxii);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the TAXII listener never accepted");
}

/// Waits past the next feed mark (the test policy's batches are 1 s).
async fn until_marked() {
    tokio::time::sleep(Duration::from_millis(2_300)).await;
}

fn incident(country: &str, distribution: pb::Distribution) -> pb::Incident {
    let mut incident = sample_incident(new_id());
    incident.country = country.into();
    incident.admin1 = None;
    incident.admin2 = None;
    incident.narrative = NARRATIVE_CANARY.into();
    if let Some(annex) = incident.private.as_mut() {
        annex.internal_narrative = ANNEX_CANARY.into();
    }
    incident.distribution = distribution as i32;
    incident
}

fn taxii_python_available() -> bool {
    let ok = Command::new(python())
        .args(["-c", "import taxii2client, stix2validator, requests"])
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{} lacks taxii2-client / stix2-validator: run scripts/test.sh (it makes a venv from \
         tests/interop/requirements.txt) or set SLT_INTEROP_PYTHON",
        python()
    );
    ok
}

/// Count of STIX objects per incident type, from a list of objects.
fn by_type(objects: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for object in objects {
        *counts
            .entry(object["type"].as_str().expect("type").to_string())
            .or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taxii_pages_follow_the_feed_exactly_and_show_only_what_the_viewer_may_see() {
    assert!(taxii_python_available());
    let _serial = SERIAL.lock().await;
    let (hub, taxii) = start().await;
    let base = format!("https://127.0.0.1:{}", taxii.port());
    let files = tempfile::tempdir().expect("dir");

    // ngo-alpha reports six COMMUNITY incidents (one of them retracted) and one ORG_ONLY.
    let mut reporter = hub.client("ngo-alpha", &[Role::Reporter]).await;
    let mut shared: Vec<pb::Incident> = ["AFG", "SSD", "SOM", "SYR", "YEM", "COD"]
        .iter()
        .map(|country| incident(country, pb::Distribution::Community))
        .collect();
    submit_stored(&mut reporter, &mut shared).await;
    let mut hidden = vec![incident("MLI", pb::Distribution::OrgOnly)];
    submit_stored(&mut reporter, &mut hidden).await;
    reporter
        .retract(&shared[5].id, "duplicate report", 1)
        .await
        .expect("retract");
    until_marked().await;

    let beta = Caller::new(&hub, &base, files.path(), "ngo-beta", &[Role::Analyst]);
    let alpha = Caller::new(&hub, &base, files.path(), "ngo-alpha", &[Role::Reporter]);

    // The reference client: discovery, API root, the collection, as_pages at 2 and 100.
    let mut grpc_beta = hub.client("ngo-beta", &[Role::Analyst]).await;
    let visible = grpc_beta
        .list_all(pb::IncidentFilter {
            verifications: vec![],
            ..Default::default()
        })
        .await
        .expect("list");
    for limit in [2, 100] {
        let answer = beta.run(json!({"op": "client", "limit": limit}));
        assert_eq!(answer["collections"], json!([COLLECTION]));
        assert_eq!(answer["can_write"], json!(false));
        let invalid = answer["invalid"].as_array().expect("invalid");
        assert!(invalid.is_empty(), "invalid STIX: {invalid:?}");
        let objects = answer["objects"].as_array().expect("objects").clone();
        let counts = by_type(&objects);
        // Six visible incidents (the retracted one as a revoked object), none of the ORG_ONLY.
        assert_eq!(
            counts.get("incident"),
            Some(&6),
            "limit {limit}: {counts:?}"
        );
        assert_eq!(counts.get("location"), Some(&6));
        assert_eq!(counts.get("identity"), Some(&6));
        // The gRPC count (List leaves retracted incidents out unless asked).
        assert_eq!(visible.len(), 5);
        let revoked: Vec<&Value> = objects
            .iter()
            .filter(|o| o["type"] == "incident" && o["revoked"] == json!(true))
            .collect();
        assert_eq!(revoked.len(), 1, "the retraction is a revoked incident");
    }

    // Small pages by hand: no duplicates, no gaps, the same set at every limit, media type on
    // every page, and no loop (the helper fails on a repeated next).
    let everything = beta.walk(1_000, json!({}));
    let all: BTreeSet<String> = everything.ids().into_iter().collect();
    assert_eq!(
        all.len(),
        18,
        "6 incidents x (incident, location, identity)"
    );
    for limit in [1, 2, 3, 5, 7] {
        let walk = beta.walk(limit, json!({}));
        let ids = walk.ids();
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), unique.len(), "limit {limit}: duplicates");
        assert_eq!(unique, all, "limit {limit}: gaps");
        for page in &walk.pages {
            assert!(page["ids"].as_array().expect("ids").len() <= limit);
            assert_eq!(
                page["content_type"],
                json!(slt_hub::taxii::MEDIA_TYPE),
                "media type"
            );
        }
    }

    // A T1 viewer never receives the narrative (T2) or the annex (never over TAXII); the
    // origin's reporter (T3) gets the narrative, still never the annex.
    let beta_text = serde_json::to_string(&everything.objects()).expect("json");
    assert!(!beta_text.contains(NARRATIVE_CANARY));
    assert!(!beta_text.contains(ANNEX_CANARY));
    let alpha_walk = alpha.walk(1_000, json!({}));
    let alpha_text = serde_json::to_string(&alpha_walk.objects()).expect("json");
    assert!(
        alpha_text.contains(NARRATIVE_CANARY),
        "the canary is in place"
    );
    assert!(!alpha_text.contains(ANNEX_CANARY));
    assert_eq!(by_type(&alpha_walk.objects()).get("incident"), Some(&7));
    // Coordinates at the viewer's precision: T1 gets 0.1 degrees at most.
    for location in everything
        .objects()
        .iter()
        .filter(|o| o["type"] == "location")
    {
        if let Some(latitude) = location["latitude"].as_f64() {
            assert!(
                ((latitude * 10.0).round() - latitude * 10.0).abs() < 1e-6,
                "{latitude}"
            );
        }
    }

    // added_after: the last page's X-TAXII-Date-Added-Last as the next added_after returns
    // nothing until something changes, then exactly what changed.
    let last = everything.last_added().expect("Date-Added-Last");
    assert!(beta.walk(2, json!({"added_after": last})).ids().is_empty());
    let mut later = vec![incident("IRQ", pb::Distribution::Community)];
    submit_stored(&mut reporter, &mut later).await;
    let mut amended = shared[0].clone();
    amended.verification = pb::Verification::Pending as i32;
    amended.private = None;
    amended.narrative = "amended".into();
    reporter.amend(amended, 1).await.expect("amend");
    until_marked().await;
    let changed = beta.walk(2, json!({"added_after": last}));
    let changed_incidents: BTreeSet<String> = changed
        .objects()
        .iter()
        .filter(|o| o["type"] == "incident")
        .map(|o| {
            o["extensions"][slt_hub::taxii::stix::EXTENSION_ID]["hub_incident_id"]
                .as_str()
                .expect("hub id")
                .to_string()
        })
        .collect();
    assert_eq!(
        changed_incidents,
        [later[0].id.clone(), shared[0].id.clone()]
            .into_iter()
            .collect(),
        "exactly the new and the amended incident"
    );
    // The manifest dates them after `last`, and the boundary is exclusive: from one second
    // earlier, the objects dated `last` come back too.
    let manifest = beta.walk_listing("manifest", 3, json!({"added_after": last}));
    for entry in manifest.objects() {
        assert!(entry["date_added"].as_str().expect("date") > last.as_str());
        assert_eq!(
            entry["media_type"],
            json!("application/stix+json;version=2.1")
        );
    }
    let full_manifest = beta.walk_listing("manifest", 1_000, json!({}));
    let at_last: BTreeSet<String> = full_manifest
        .objects()
        .iter()
        .filter(|e| e["date_added"].as_str() == Some(last.as_str()))
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert!(!at_last.is_empty());
    let seconds =
        time::OffsetDateTime::parse(&last, &time::format_description::well_known::Rfc3339)
            .expect("timestamp")
            - time::Duration::seconds(1);
    let earlier = slt_hub::taxii::stix::stix_time(seconds);
    let from_earlier: BTreeSet<String> = beta
        .walk(1_000, json!({"added_after": earlier}))
        .ids()
        .into_iter()
        .collect();
    assert!(at_last.is_subset(&from_earlier));
    // Headers: first <= last on every page, equal to the manifest's dates.
    for page in &manifest.pages {
        if let (Some(first), Some(last)) = (page["first"].as_str(), page["last"].as_str()) {
            assert!(first <= last);
        }
    }

    // match[id], match[type], match[version].
    // After an amend and a new report: still every object once, at every page size (the
    // amended incident is shown in the batch of its latest change only).
    let now_all = beta.walk(1_000, json!({}));
    let objects = now_all.objects();
    assert_eq!(objects.len(), 21, "7 incidents x 3 objects");
    for limit in [1, 2, 4] {
        let ids = beta.walk(limit, json!({})).ids();
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), unique.len(), "limit {limit}: duplicates");
        assert_eq!(
            unique,
            now_all.ids().into_iter().collect(),
            "limit {limit}: gaps"
        );
    }
    let one = objects
        .iter()
        .find(|o| o["type"] == "incident")
        .expect("an incident");
    let one_id = one["id"].as_str().expect("id");
    let one_version = one["modified"].as_str().expect("modified");
    assert_eq!(
        beta.walk(2, json!({"match[id]": one_id})).ids(),
        vec![one_id.to_string()]
    );
    let locations = beta.walk(2, json!({"match[type]": "location"}));
    assert!(locations.objects().iter().all(|o| o["type"] == "location"));
    assert_eq!(locations.ids().len(), by_type(&objects)["location"]);
    let two_types = beta.walk(3, json!({"match[type]": "location,identity"}));
    assert_eq!(
        two_types.ids().len(),
        by_type(&objects)["location"] + by_type(&objects)["identity"]
    );
    for version in ["last", "first", "all"] {
        assert_eq!(
            beta.walk(4, json!({"match[version]": version})).ids().len(),
            objects.len(),
            "match[version]={version}"
        );
    }
    assert_eq!(
        beta.walk(
            2,
            json!({"match[id]": one_id, "match[version]": one_version})
        )
        .ids()
        .len(),
        1
    );
    assert!(
        beta.walk(
            2,
            json!({"match[id]": one_id, "match[version]": "1999-01-01T00:00:00.000Z"})
        )
        .ids()
        .is_empty()
    );
    // Get one object by id.
    let single = beta.raw(json!({
        "path": format!("/slt/collections/{COLLECTION}/objects/{one_id}/"),
    }));
    assert_eq!(single["status"], 200);
    assert_eq!(single["body"]["objects"][0]["id"], json!(one_id));

    // Every page served left an access-log record naming the incidents it carried.
    let mut auditor = hub.client("audit-office", &[Role::Auditor]).await;
    let records = auditor
        .query_audit(pb::QueryAuditRequest {
            method: "TAXII GET /{api-root}/collections/{id}/objects/".into(),
            page_size: 1_000,
            ..Default::default()
        })
        .await
        .expect("query audit");
    let beta_pages: Vec<&pb::AuditRecord> = records
        .records
        .iter()
        .filter(|r| r.org == "ngo-beta" && r.outcome == "OK")
        .collect();
    assert!(beta_pages.len() >= 20, "{} records", beta_pages.len());
    assert!(
        beta_pages
            .iter()
            .any(|r| r.incident_ids.contains(&shared[0].id) && r.records_returned > 0)
    );
    for record in &beta_pages {
        assert_eq!(record.records_returned == 0, record.incident_ids.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn taxii_refuses_like_the_spec_says() {
    assert!(taxii_python_available());
    let _serial = SERIAL.lock().await;
    let (hub, taxii) = start().await;
    let base = format!("https://127.0.0.1:{}", taxii.port());
    let files = tempfile::tempdir().expect("dir");
    let analyst = Caller::new(&hub, &base, files.path(), "ngo-beta", &[Role::Analyst]);
    let auditor = Caller::new(&hub, &base, files.path(), "audit-office", &[Role::Auditor]);
    let objects = format!("/slt/collections/{COLLECTION}/objects/");
    let media = slt_hub::taxii::MEDIA_TYPE;

    let ok = analyst.raw(json!({"path": "/taxii2/"}));
    assert_eq!(ok["status"], 200, "{ok}");
    assert_eq!(ok["content_type"], json!(media));
    assert_eq!(ok["body"]["api_roots"][0], json!(format!("{base}/slt/")));

    // Wrong Accept: 406, still in the TAXII media type.
    let wrong = analyst.raw(json!({"path": objects, "headers": {"Accept": "application/json"}}));
    assert_eq!(wrong["status"], 406);
    assert_eq!(wrong["content_type"], json!(media));
    // No token: 401; a bad token: 401; a role without the read capability: 403.
    let anonymous = analyst.raw(json!({"path": objects, "token": false}));
    assert_eq!(anonymous["status"], 401);
    assert_eq!(anonymous["content_type"], json!(media));
    let forged = analyst.raw(json!({"path": objects, "token": "not-a-jwt"}));
    assert_eq!(forged["status"], 401);
    let forbidden = auditor.raw(json!({"path": objects}));
    assert_eq!(forbidden["status"], 403);
    // No client certificate: no TLS session at all.
    let no_cert = analyst.run(json!({"op": "no_cert"}));
    assert_eq!(no_cert["refused"], json!(true));
    // Unknown collection and resource: 404.
    let missing = analyst.raw(json!({"path": "/slt/collections/nope/objects/"}));
    assert_eq!(missing["status"], 404);
    assert_eq!(
        analyst.raw(json!({"path": "/nothing/here/"}))["status"],
        404
    );
    // Read-only: a POST of another media type is 415, too large 413, otherwise 403.
    let post = |content_type: &str, size: usize| {
        analyst.raw(json!({
            "method": "POST",
            "path": objects,
            "headers": {"Accept": media, "Content-Type": content_type},
            "data_size": size,
        }))
    };
    assert_eq!(post("application/json", 2)["status"], 415);
    assert_eq!(post(media, 1_100_000)["status"], 413);
    assert_eq!(post(media, 20)["status"], 403);
    // Bad parameters: 400; a next token from another query: 400.
    assert_eq!(
        analyst.raw(json!({"path": objects, "params": {"limit": "-1"}}))["status"],
        400
    );
    assert_eq!(
        analyst.raw(json!({"path": objects, "params": {"added_after": "yesterday"}}))["status"],
        400
    );
    assert_eq!(
        analyst.raw(json!({"path": objects, "params": {"next": "forged"}}))["status"],
        400
    );

    // Each refusal and answer is in the access log.
    let mut audit = hub.client("audit-office", &[Role::Auditor]).await;
    let records = audit
        .query_audit(pb::QueryAuditRequest {
            page_size: 1_000,
            ..Default::default()
        })
        .await
        .expect("query audit");
    let taxii: Vec<&pb::AuditRecord> = records
        .records
        .iter()
        .filter(|r| r.method.starts_with("TAXII "))
        .collect();
    for outcome in [
        "OK",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "HTTP 406",
        "NOT_FOUND",
    ] {
        assert!(
            taxii.iter().any(|r| r.outcome == outcome),
            "no {outcome} record among {:?}",
            taxii.iter().map(|r| &r.outcome).collect::<Vec<_>>()
        );
    }
}
