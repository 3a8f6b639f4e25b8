//! `slt.v1.IncidentService`: composes the store (what exists) and the policy engine (who may
//! see or change it). Every incident in a response was produced by `policy::redact`.

use std::sync::Arc;

use prost::Message;
use slt_proto::v1 as pb;
use slt_proto::v1::incident_service_server::IncidentService;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::guard::{audit_context, busy, principal};
use super::page_token;
use super::status::{invalid_argument, invalid_field, store_status};
use crate::anonymise::{self, OrgSecrets};
use crate::audit::{AuditContext, summary};
use crate::domain::{IncidentFilter, StoredIncident, Verification, Violations, validate};
use crate::identity::{Principal, SharedOrgRegistry};
use crate::ingest::{Ingest, IngestError, Submitter};
use crate::limits::cpu::{CpuError, CpuPool};
use crate::policy::{PolicyEngine, Tier};
use crate::record_classes::RecordClasses;
use crate::sealed::Sealer;
use crate::store::{ChangeKind, ListPage, ListQuery, Store};
use crate::wire::{self, incident_to_proto};
use serde_json::json;

/// Most incidents in one SubmitIncidents call.
pub const MAX_BATCH: usize = 1_000;
/// Default and largest ListIncidents page.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1_000;
/// Most bytes of incidents in one ListIncidents response, under the 4 MiB message limit.
pub const MAX_RESPONSE_BYTES: usize = 3 * 1024 * 1024;

pub struct IncidentApi {
    store: Store,
    orgs: SharedOrgRegistry,
    policy: Arc<PolicyEngine>,
    secrets: OrgSecrets,
    sealer: Arc<Sealer>,
    ingest: Ingest,
    /// The record rule (`record_classes`), shared with the feed.
    classes: Arc<RecordClasses>,
}

impl IncidentApi {
    pub fn new(
        (store, cpu): (Store, Arc<CpuPool>),
        hub_id: String,
        orgs: SharedOrgRegistry,
        policy: Arc<PolicyEngine>,
        secrets: OrgSecrets,
        (sealer, classes): (Arc<Sealer>, Arc<RecordClasses>),
    ) -> Self {
        Self {
            ingest: Ingest::new(
                (store.clone(), cpu),
                hub_id,
                policy.clone(),
                secrets.clone(),
            ),
            store,
            orgs,
            policy,
            secrets,
            sealer,
            classes,
        }
    }

    fn policy_version(&self) -> String {
        self.policy.version().to_string()
    }

    /// Redacts (record rule included) and encodes a store page into `filled`, until it holds
    /// `wanted` incidents or the message budget is spent; what is not taken starts the next
    /// page. The store applied the filter's parts the rule cannot generalise; the rest is
    /// matched here on what the caller receives. Returns whether `filled` is complete.
    async fn fill_page(
        &self,
        principal: &Principal,
        filter: &IncidentFilter,
        page: ListPage,
        (filled, size, wanted): (&mut Filled, &mut usize, usize),
    ) -> Result<bool, Status> {
        let (rows, stored): (Vec<i64>, Vec<_>) = page.rows.into_iter().unzip();
        let redacted = self
            .classes
            .redact(principal, stored)
            .await
            .map_err(store_status)?;
        for (row, redacted) in rows.into_iter().zip(redacted) {
            if filled.incidents.len() >= wanted {
                filled.more = true;
                return Ok(true);
            }
            let Some(redacted) = redacted else {
                filled.last_row = Some(row);
                continue;
            };
            // The origin org is a T2 field: filtering on it must not reveal it below T2 (the
            // store already restricts the filter; this keeps the rule where it is decided).
            if (!filter.origin_orgs.is_empty() && redacted.tier < Tier::T2)
                || !filter.matches_shown(&redacted.incident.content)
            {
                filled.last_row = Some(row);
                continue;
            }
            let withheld = redacted.redactions.len() as u64;
            let incident = incident_to_proto(redacted);
            let length = incident.encoded_len();
            if *size + length > MAX_RESPONSE_BYTES && !filled.incidents.is_empty() {
                filled.more = true;
                return Ok(true);
            }
            *size += length;
            filled.fields_redacted += withheld;
            filled.incidents.push(incident);
            filled.last_row = Some(row);
        }
        Ok(filled.incidents.len() >= wanted)
    }

    /// The incident if it exists and the caller may see it; NOT_FOUND alike otherwise, so that
    /// existence does not leak. `id` is the hub's id or, for the caller's own organisation's
    /// incidents, the id it submitted them with (`ingest::ids`). The caller's own space is
    /// tried first: only its own org can hold an id there, so nobody else's record (a foreign
    /// copy, an incident another org submitted under that id) can shadow its own. Both lookups
    /// run on a miss, whether or not an invisible incident holds the id.
    async fn visible(
        &self,
        principal: &Principal,
        id: uuid::Uuid,
    ) -> Result<StoredIncident, Status> {
        let own = self.ingest.own_id(&principal.org, id);
        // Both candidates in one statement: each statement is several hops to the database's
        // thread, the largest cost of a GetIncident (issue 16).
        let mut found = self
            .store
            .get_many(&[own, id])
            .await
            .map_err(store_status)?;
        for candidate in [own, id] {
            let Some(at) = found.iter().position(|stored| stored.id == candidate) else {
                continue;
            };
            let stored = found.swap_remove(at);
            if self.policy.tier_for(principal, &stored).is_some() {
                return Ok(stored);
            }
        }
        Err(Status::not_found(format!("incident {id} not found")))
    }

    /// Checks the caller may modify a visible incident at `expected_version`.
    fn check_modifiable(
        &self,
        principal: &Principal,
        stored: &StoredIncident,
        expected_version: u64,
    ) -> Result<(), Status> {
        if !self.policy.may_modify(principal, stored) {
            return Err(Status::permission_denied(
                "only reporters and focal points of the incident's origin organisation may change it",
            ));
        }
        if stored.is_retracted() {
            return Err(Status::failed_precondition(
                "the incident is retracted and can no longer be changed",
            ));
        }
        if stored.version != expected_version {
            return Err(store_status(crate::store::StoreError::VersionMismatch {
                current: stored.version,
            }));
        }
        Ok(())
    }

    /// Writes a new version and returns it as the caller sees it.
    async fn write_version(
        &self,
        principal: &Principal,
        updated: StoredIncident,
        expected_version: u64,
        kind: ChangeKind,
        audit: &AuditContext,
    ) -> Result<pb::Incident, Status> {
        // The audit record commits with the write, or neither does.
        self.store
            .update(
                &updated,
                expected_version,
                kind,
                self.policy.group_members_of(&updated.content),
                Some(&audit.entry("OK")),
            )
            .await
            .map_err(store_status)?;
        audit.mark_recorded();
        let redacted = self.policy.redact(updated, principal).ok_or_else(|| {
            Status::internal("the origin organisation can no longer see its incident")
        })?;
        Ok(incident_to_proto(redacted))
    }
}

/// What list page tokens are sealed for.
const LIST_PAGES: &str = "list-page-token";

const EXPECTED_VERSION_REQUIRED: &str = "required: the version you last saw (1 or more)";

/// The ids of a request that are UUIDs, normalised: the audit log never stores what a client
/// typed into an id field (it could be anything, incident text included).
fn valid_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    ids.filter_map(|id| uuid::Uuid::parse_str(id.trim()).ok())
        .map(|id| id.to_string())
        .collect()
}

/// What a list filter asked for, for the audit record (filter values, never incident content).
fn filter_summary(filter: &pb::IncidentFilter) -> serde_json::Value {
    let date = |date: &Option<slt_proto::google::r#type::Date>| {
        date.as_ref()
            .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
    };
    json!({
        "countries": filter.countries,
        "admin1": filter.admin1,
        "occurred_from": date(&filter.occurred_from),
        "occurred_to": date(&filter.occurred_to),
        "incident_types": filter.incident_types,
        "threat_categories": filter.threat_categories,
        "verifications": filter.verifications,
        "origin_orgs": filter.origin_orgs,
    })
}

/// Store pages one ListIncidents call reads at most, and rows per store page at least.
const LIST_SCAN_PAGES: usize = 8;
const LIST_SCAN_ROWS: u32 = 256;

/// A ListIncidents page as it will be sent.
struct Filled {
    incidents: Vec<pb::Incident>,
    fields_redacted: u64,
    /// The last store row the page covers (sent or withheld): the next page starts after it.
    last_row: Option<i64>,
    more: bool,
}

/// The requested page size: the default for 0, at most [`MAX_PAGE_SIZE`].
fn page_size(requested: i32) -> Result<u32, Status> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(invalid_field("page_size", "must not be negative")),
        size => Ok(u32::try_from(size)
            .unwrap_or(MAX_PAGE_SIZE)
            .min(MAX_PAGE_SIZE)),
    }
}

#[tonic::async_trait]
impl IncidentService for IncidentApi {
    async fn submit_incidents(
        &self,
        request: Request<pb::SubmitIncidentsRequest>,
    ) -> Result<Response<pb::SubmitIncidentsResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({ "incidents": request.incidents.len() }));
            entry.incident_ids = valid_ids(request.incidents.iter().map(|i| i.id.as_str()));
        });
        if request.incidents.is_empty() || request.incidents.len() > MAX_BATCH {
            return Err(invalid_field(
                "incidents",
                &format!("send between 1 and {MAX_BATCH} incidents per call"),
            ));
        }
        let org_type = self
            .orgs
            .load()
            .get(&principal.org)
            .map(|entry| entry.org_type)
            .ok_or_else(|| Status::unauthenticated("organisation is not registered"))?;

        let submitter = Submitter {
            org: principal.org.clone(),
            org_type,
        };
        let now = OffsetDateTime::now_utc();
        let mut violations = Violations::new();
        let drafts: Vec<_> = request
            .incidents
            .iter()
            .enumerate()
            .map(|(index, incident)| {
                let prefix = format!("incidents[{index}]");
                let draft = wire::draft_from_proto(&mut violations, &prefix, incident, now);
                if let Some(draft) = &draft {
                    self.ingest
                        .check_draft(&submitter.org, &prefix, draft, &mut violations);
                }
                draft
            })
            .collect();
        if !violations.is_empty() {
            // All-or-nothing: one bad incident and nothing is written.
            return Err(invalid_argument(violations.into_vec()));
        }
        let drafts: Vec<_> = drafts.into_iter().flatten().collect();
        let submitted_ids: Vec<String> = drafts.iter().map(|draft| draft.id.to_string()).collect();
        let submitted = self
            .ingest
            .submit(&submitter, drafts, now, Some(audit.entry("OK")))
            .await
            .map_err(|error| match error {
                IngestError::Invalid(violations) => invalid_argument(violations),
                IngestError::Store(error) => store_status(error),
                IngestError::Cpu(CpuError::Busy(refused)) => busy(&submitter.org, &refused),
                IngestError::Cpu(CpuError::Failed(error)) => {
                    tracing::error!(%error, "anonymiser job failed");
                    Status::internal("internal error")
                }
            })?;
        audit.mark_recorded();
        let results = submitted
            .into_iter()
            .zip(&submitted_ids)
            .map(|((id, submitted), submitted_id)| wire::submit_result(id, submitted_id, submitted))
            .collect();
        Ok(Response::new(pb::SubmitIncidentsResponse {
            results,
            policy_version: self.policy_version(),
        }))
    }

    async fn get_incident(
        &self,
        request: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::GetIncidentResponse>, Status> {
        let principal = principal(&request)?;
        let mut violations = Violations::new();
        let id = wire::incident_id(&mut violations, "id", &request.get_ref().id);
        let Some(id) = id else {
            return Err(invalid_argument(violations.into_vec()));
        };
        let audit = audit_context(&request)?;
        audit.note(|entry| entry.incident_ids = vec![id.to_string()]);
        let stored = self.visible(&principal, id).await?;
        audit.note(|entry| entry.incident_ids = vec![stored.id.to_string()]);
        let redacted = self
            .classes
            .redact(&principal, vec![stored])
            .await
            .map_err(store_status)?
            .pop()
            .flatten()
            .ok_or_else(|| Status::not_found(format!("incident {id} not found")))?;
        audit.note(|entry| {
            entry.records_returned = 1;
            entry.fields_redacted = redacted.redactions.len() as u64;
        });
        Ok(Response::new(pb::GetIncidentResponse {
            incident: Some(incident_to_proto(redacted)),
            policy_version: self.policy_version(),
        }))
    }

    // Long: page-token handling and the response size budget kept together; splitting it is left
    // for a later change.
    async fn list_incidents(
        &self,
        request: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "filter": request.filter.as_ref().map(filter_summary),
                "page_size": request.page_size,
                "continued": !request.page_token.is_empty(),
            }));
        });
        let page_size = page_size(request.page_size)?;
        let mut violations = Violations::new();
        let filter =
            wire::filter_from_proto(&mut violations, &request.filter.clone().unwrap_or_default());
        let fingerprint = page_token::fingerprint(&request.filter.clone().unwrap_or_default());
        let after = page_token::decode(&self.sealer, LIST_PAGES, &request.page_token, &fingerprint);
        if let Err(status) = &after {
            violations.add("page_token", status.message().to_string());
        }
        if !violations.is_empty() {
            return Err(invalid_argument(violations.into_vec()));
        }
        let after = after?;

        let Some(scope) = self.policy.visibility_scope(&principal) else {
            return Ok(Response::new(pb::ListIncidentsResponse {
                incidents: Vec::new(),
                next_page_token: String::new(),
                policy_version: self.policy_version(),
            }));
        };
        let store_filter = filter.without_generalisable();
        // Rows the caller does not receive (withheld, or not matching as shown) are skipped
        // within the call, store page after store page, so that neither a short page nor the
        // token's position tells it how many there were (up to the scan budget).
        let mut filled = Filled {
            incidents: Vec::new(),
            fields_redacted: 0,
            last_row: None,
            more: false,
        };
        let mut size = 0;
        let mut position = after;
        for _ in 0..LIST_SCAN_PAGES {
            let page = self
                .store
                .list(&ListQuery {
                    scope: &scope,
                    filter: &store_filter,
                    after: position,
                    limit: page_size.max(LIST_SCAN_ROWS),
                })
                .await
                .map_err(store_status)?;
            let store_more = page.more;
            filled.more = false;
            let complete = self
                .fill_page(
                    &principal,
                    &filter,
                    page,
                    (&mut filled, &mut size, page_size as usize),
                )
                .await?;
            if complete {
                // Rows left in this store page already set `more`; else the store says.
                filled.more |= store_more;
                break;
            }
            filled.more = store_more;
            if !store_more {
                break;
            }
            position = filled.last_row.or(position);
        }
        let Filled {
            incidents,
            fields_redacted,
            last_row,
            more,
        } = filled;
        let next_page_token = match (more, last_row) {
            (true, Some(row)) => page_token::encode(&self.sealer, LIST_PAGES, row, &fingerprint)?,
            _ => String::new(),
        };
        audit.note(|entry| {
            entry.records_returned = incidents.len() as u64;
            entry.fields_redacted = fields_redacted;
            entry.incident_ids = incidents.iter().map(|i| i.id.clone()).collect();
        });
        Ok(Response::new(pb::ListIncidentsResponse {
            incidents,
            next_page_token,
            policy_version: self.policy_version(),
        }))
    }

    async fn amend_incident(
        &self,
        request: Request<pb::AmendIncidentRequest>,
    ) -> Result<Response<pb::AmendIncidentResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.incident_ids = valid_ids(request.incident.iter().map(|i| i.id.as_str()));
            entry.request_summary =
                summary(&json!({ "expected_version": request.expected_version }));
        });
        let now = OffsetDateTime::now_utc();
        let mut violations = Violations::new();
        if request.expected_version == 0 {
            violations.add("expected_version", EXPECTED_VERSION_REQUIRED);
        }
        let draft = match &request.incident {
            Some(incident) => wire::draft_from_proto(&mut violations, "incident", incident, now),
            None => {
                violations.add("incident", "required");
                None
            }
        };
        if let Some(draft) = &draft {
            if let Err(reason) = self
                .policy
                .check_distribution(&principal.org, &draft.content)
            {
                violations.add("incident.sharing_group", reason);
            }
        }
        let (Some(draft), true) = (draft, violations.is_empty()) else {
            return Err(invalid_argument(violations.into_vec()));
        };
        let stored = self.visible(&principal, draft.id).await?;
        audit.note(|entry| entry.incident_ids = vec![stored.id.to_string()]);
        self.check_modifiable(&principal, &stored, request.expected_version)?;

        let mut draft = draft;
        let report = anonymise::anonymise_draft(&mut draft, &self.secrets.for_org(&principal.org));
        let updated = StoredIncident {
            version: stored.version + 1,
            updated_at: now,
            content: draft.content,
            private: draft.private,
            ..stored
        };
        let incident = self
            .write_version(
                &principal,
                updated,
                request.expected_version,
                ChangeKind::Amend,
                &audit,
            )
            .await?;
        Ok(Response::new(pb::AmendIncidentResponse {
            incident: Some(incident),
            policy_version: self.policy_version(),
            scrubbed: wire::scrub_counts(&report),
        }))
    }

    async fn retract_incident(
        &self,
        request: Request<pb::RetractIncidentRequest>,
    ) -> Result<Response<pb::RetractIncidentResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.incident_ids = valid_ids(std::iter::once(request.id.as_str()));
            entry.request_summary =
                summary(&json!({ "expected_version": request.expected_version }));
        });
        let mut violations = Violations::new();
        let id = wire::incident_id(&mut violations, "id", &request.id);
        let reason = request.reason.trim().to_string();
        if reason.is_empty() {
            violations.add("reason", "required: say why the incident is retracted");
        }
        violations.check_bytes("reason".into(), &reason, validate::MAX_REASON_BYTES);
        if request.expected_version == 0 {
            violations.add("expected_version", EXPECTED_VERSION_REQUIRED);
        }
        let (Some(id), true) = (id, violations.is_empty()) else {
            return Err(invalid_argument(violations.into_vec()));
        };
        let stored = self.visible(&principal, id).await?;
        audit.note(|entry| entry.incident_ids = vec![stored.id.to_string()]);
        self.check_modifiable(&principal, &stored, request.expected_version)?;

        // The reason is shown to every viewer: scrub it like a narrative.
        let names: Vec<&str> = stored
            .private
            .as_ref()
            .map(anonymise::annex_names)
            .unwrap_or_default();
        let (reason, _) = anonymise::scrub(&reason, &names);
        let mut updated = stored.clone();
        updated.version += 1;
        updated.updated_at = OffsetDateTime::now_utc();
        updated.content.verification = Verification::Retracted;
        updated.retraction_reason = Some(reason);
        let incident = self
            .write_version(
                &principal,
                updated,
                request.expected_version,
                ChangeKind::Retract,
                &audit,
            )
            .await?;
        Ok(Response::new(pb::RetractIncidentResponse {
            incident: Some(incident),
            policy_version: self.policy_version(),
        }))
    }
}
