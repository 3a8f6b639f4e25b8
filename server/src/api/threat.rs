//! `slt.v1.ThreatService`: the threat picture (`picture::compute`, which counts in SQL within
//! the caller's scope and publishes through `policy::aggregate`) and advisories (every advisory
//! in a response passed `PolicyEngine::redact_advisory`). Every call is audited by the guard;
//! IssueAdvisory commits its audit record with the write.

use std::sync::Arc;

use serde_json::json;
use slt_proto::v1 as pb;
use slt_proto::v1::threat_service_server::ThreatService;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::guard::{audit_context, busy, principal};
use super::page_token;
use super::status::{invalid_argument, invalid_field, store_status};
use crate::anonymise;
use crate::audit::summary;
use crate::domain::{StoredAdvisory, Violations, validate};
use crate::identity::Principal;
use crate::ingest::ids::{IdSpace, Kind};
use crate::limits::cpu::{CpuError, CpuPool};
use crate::picture::forecast::QUARTERLY;
use crate::picture::forecast::published::SeriesForecast;
use crate::picture::forecast::serve;
use crate::picture::{self, PictureError};
use crate::policy::PolicyEngine;
use crate::release::{self, ReleaseError, ReleaseOptions};
use crate::sealed::Sealer;
use crate::store::{AdvisoryFilter, MAX_ADVISORY_PAGE, Store, StoreError};
use crate::wire::forecast::{forecast_request, forecast_to_proto};
use crate::wire::picture::{MAX_PICTURE_COUNTRIES, picture_request, picture_to_proto};
use crate::wire::{self, advisory_to_proto, date_text};

pub struct ThreatApi {
    store: Store,
    cpu: Arc<CpuPool>,
    sealer: Arc<Sealer>,
    hub_id: String,
    policy: Arc<PolicyEngine>,
    ids: IdSpace,
}

/// What advisory page tokens are sealed for.
const ADVISORY_PAGES: &str = "advisory-page-token";
const DEFAULT_ADVISORY_PAGE: u32 = 500;

impl ThreatApi {
    pub fn new(
        (store, cpu, sealer): (Store, Arc<CpuPool>, Arc<Sealer>),
        hub_id: String,
        policy: Arc<PolicyEngine>,
        ids: IdSpace,
    ) -> Self {
        Self {
            store,
            cpu,
            sealer,
            hub_id,
            policy,
            ids,
        }
    }

    /// The stored advisory `submitted` names for `principal`: a new advisory's id in the
    /// issuing org's own id space (`ingest::ids`), so the answer never says whether an id the
    /// caller cannot see is taken; for a superseding issue, the visible advisory of that id
    /// (the org's own submitted id, or the hub's id), if any.
    async fn resolve_advisory(
        &self,
        principal: &Principal,
        submitted: uuid::Uuid,
        expected_version: u64,
    ) -> Result<(uuid::Uuid, Option<StoredAdvisory>), Status> {
        let own = self.ids.own(&principal.org, Kind::Advisory, submitted);
        // The caller's own space first: nobody else's advisory can shadow its own.
        let candidates = if expected_version == 0 {
            vec![own]
        } else {
            vec![own, submitted]
        };
        for candidate in &candidates {
            let found = self
                .store
                .get_advisories(&[*candidate])
                .await
                .map_err(store_status)?
                .into_iter()
                .next();
            if let Some(found) = found {
                if expected_version == 0
                    || self.policy.advisory_tier_for(principal, &found).is_some()
                {
                    return Ok((*candidate, Some(found)));
                }
            }
        }
        Ok((own, None))
    }

    fn policy_version(&self) -> String {
        self.policy.version().to_string()
    }

    /// Whether `principal` may issue advisory `id` now: a new one without `expected_version`,
    /// a superseding one (its own organisation's, which it can see) with it. An advisory the
    /// principal cannot see is NOT_FOUND, as if it did not exist.
    fn check_issuable(
        &self,
        principal: &Principal,
        id: uuid::Uuid,
        existing: Option<&StoredAdvisory>,
        expected_version: u64,
    ) -> Result<(), Status> {
        let not_found = || Status::not_found(format!("advisory {id} not found"));
        match (existing, expected_version) {
            (Some(_), 0) => {
                return Err(Status::already_exists(format!(
                    "advisory {id} exists: to supersede it, send expected_version"
                )));
            }
            (None, version) if version > 0 => return Err(not_found()),
            (Some(existing), _) if self.policy.advisory_tier_for(principal, existing).is_none() => {
                return Err(not_found());
            }
            _ => {}
        }
        if !self.policy.may_issue_advisory(principal, existing) {
            return Err(Status::permission_denied(
                "only focal points may issue advisories, and only the issuing organisation's may \
                 supersede one",
            ));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl ThreatService for ThreatApi {
    async fn get_threat_picture(
        &self,
        request: Request<pb::GetThreatPictureRequest>,
    ) -> Result<Response<pb::GetThreatPictureResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "countries": request.countries,
                "admin1": request.admin1,
                "from": date_text(&request.from),
                "to": date_text(&request.to),
                "granularity": request.granularity,
                "area_level": request.area_level,
                "group_by": request.group_by,
            }));
        });
        let query = picture_request(&request).map_err(invalid_argument)?;
        let today = OffsetDateTime::now_utc().date();
        let picture = picture::compute(
            &self.store,
            &self.cpu,
            &self.policy,
            &principal,
            &query,
            today,
        )
        .await
        .map_err(|error| picture_status(&principal.org, error))?;
        let suppressed = picture
            .rows
            .iter()
            .flat_map(|row| row.cells.iter())
            .filter(|cell| cell.incidents.is_suppressed())
            .count() as u64;
        audit.note(|entry| {
            entry.records_returned = picture.rows.len() as u64;
            entry.fields_redacted = suppressed;
        });
        Ok(Response::new(picture_to_proto(
            picture,
            &request,
            self.policy_version(),
        )))
    }

    async fn get_forecast(
        &self,
        request: Request<pb::GetForecastRequest>,
    ) -> Result<Response<pb::GetForecastResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "countries": request.countries,
                "admin1": request.admin1,
                "granularity": request.granularity,
                "area_level": request.area_level,
                "group_by": request.group_by,
                "horizon": request.horizon,
            }));
        });
        let today = OffsetDateTime::now_utc().date();
        let query = forecast_request(&request, today).map_err(invalid_argument)?;
        let params = QUARTERLY;
        let forecast = serve::forecast(
            &self.store,
            &self.cpu,
            &self.policy,
            &principal,
            &query,
            today,
            params,
        )
        .await
        .map_err(|error| picture_status(&principal.org, error))?;
        let withheld = forecast
            .rows
            .iter()
            .filter(|row| row.incidents == SeriesForecast::Withheld)
            .count() as u64;
        audit.note(|entry| {
            entry.records_returned = forecast.rows.len() as u64;
            entry.fields_redacted = withheld;
        });
        let model = format!("negative binomial, local level: {params:?}");
        Ok(Response::new(forecast_to_proto(
            forecast,
            model,
            self.policy_version(),
        )))
    }

    async fn get_public_release(
        &self,
        request: Request<pb::GetPublicReleaseRequest>,
    ) -> Result<Response<pb::GetPublicReleaseResponse>, Status> {
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "k": request.k,
                "occurred_from": date_text(&request.occurred_from),
                "occurred_to": date_text(&request.occurred_to),
            }));
        });
        let options = public_release_options(&request)?;
        let made = release::make(
            &self.store,
            &self.hub_id,
            &options,
            release::MAX_RPC_RECORDS,
        )
        .await
        .map_err(release_status)?;
        let rendered = release::files::render(&made).map_err(release_status)?;
        if rendered.len() > super::MAX_MESSAGE_BYTES - RELEASE_MESSAGE_MARGIN {
            return Err(Status::resource_exhausted(
                "the release does not fit one message: narrow occurred_from/occurred_to, or \
                 use slt-hub release",
            ));
        }
        let disclosure = &made.disclosure;
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "k": disclosure.parameters.k,
                "occurred_from": disclosure.parameters.from,
                "occurred_to": disclosure.parameters.to,
                "eligible": disclosure.records_eligible,
                "released": disclosure.records_released,
                "withheld": disclosure.records_withheld,
                "k_achieved": disclosure.k_achieved,
                "global_risk": disclosure.global_risk,
            }));
            entry.records_returned = disclosure.records_released as u64;
        });
        Ok(Response::new(pb::GetPublicReleaseResponse {
            incidents_csv: rendered.incidents_csv,
            counts_csv: rendered.counts_csv,
            disclosure_json: rendered.disclosure_json,
            readme: rendered.readme,
        }))
    }

    async fn issue_advisory(
        &self,
        request: Request<pb::IssueAdvisoryRequest>,
    ) -> Result<Response<pb::IssueAdvisoryResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        let advisory = request.advisory.unwrap_or_default();
        let id = uuid::Uuid::parse_str(advisory.id.trim()).ok();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "expected_version": request.expected_version,
                "country": advisory.country,
            }));
            entry.incident_ids = id.iter().map(|id| id.to_string()).collect();
        });
        let mut violations = Violations::new();
        let decoded = wire::advisory_from_proto(&mut violations, &advisory);
        // The next version must fit the store's (signed 64-bit) version column.
        if request.expected_version >= i64::MAX as u64 {
            violations.add("expected_version", "out of range");
        }
        if let Some((_, content)) = &decoded
            && let Err(reason) = self
                .policy
                .check_advisory_distribution(&principal.org, content)
        {
            violations.add("advisory.sharing_group", reason);
        }
        let Some((submitted, mut content)) = decoded.filter(|_| violations.is_empty()) else {
            return Err(invalid_argument(violations.into_vec()));
        };
        let (id, existing) = self
            .resolve_advisory(&principal, submitted, request.expected_version)
            .await?;
        let not_found = || Status::not_found(format!("advisory {submitted} not found"));
        // A refused call's record keeps the id as asked; an issued one names the stored id.
        self.check_issuable(
            &principal,
            submitted,
            existing.as_ref(),
            request.expected_version,
        )?;
        audit.note(|entry| entry.incident_ids = vec![id.to_string()]);
        if let Some(summary) = &content.summary {
            let (scrubbed, _) = anonymise::scrub(summary, &[]);
            content.summary = Some(scrubbed);
        }
        let stored = StoredAdvisory {
            id,
            version: request.expected_version + 1,
            issuing_org: principal.org.clone(),
            origin_hub: self.hub_id.clone(),
            issued_at: OffsetDateTime::now_utc(),
            content,
        };
        self.store
            .put_advisory(
                &stored,
                request.expected_version,
                self.policy.advisory_group_members(&stored.content),
                Some(&audit.entry("OK")),
            )
            .await
            .map_err(|error| match error {
                StoreError::NotFound => not_found(),
                other => store_status(other),
            })?;
        audit.mark_recorded();
        let redacted = self
            .policy
            .redact_advisory(stored, &principal)
            .ok_or_else(|| Status::internal("the issuing organisation cannot see its advisory"))?;
        Ok(Response::new(pb::IssueAdvisoryResponse {
            advisory: Some(advisory_to_proto(redacted)),
            policy_version: self.policy_version(),
        }))
    }

    async fn list_advisories(
        &self,
        request: Request<pb::ListAdvisoriesRequest>,
    ) -> Result<Response<pb::ListAdvisoriesResponse>, Status> {
        let principal = principal(&request)?;
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "countries": request.countries,
                "valid_on": date_text(&request.valid_on),
            }));
        });
        let mut violations = Violations::new();
        if request.countries.len() > MAX_PICTURE_COUNTRIES {
            violations.add(
                "countries",
                format!("at most {MAX_PICTURE_COUNTRIES} country codes"),
            );
        }
        let mut countries = Vec::new();
        for (index, code) in request
            .countries
            .iter()
            .enumerate()
            .take(MAX_PICTURE_COUNTRIES)
        {
            if let Some(code) =
                validate::country(&mut violations, &format!("countries[{index}]"), code)
                && !countries.contains(&code)
            {
                countries.push(code);
            }
        }
        let valid_on = request.valid_on.as_ref().and_then(|date| {
            validate::calendar_date(&mut violations, "valid_on", date.year, date.month, date.day)
        });
        if !violations.is_empty() {
            return Err(invalid_argument(violations.into_vec()));
        }
        let page_size = match request.page_size {
            0 => DEFAULT_ADVISORY_PAGE,
            size => size.min(MAX_ADVISORY_PAGE),
        };
        let fingerprint = page_token::fingerprint(&pb::ListAdvisoriesRequest {
            page_size: 0,
            page_token: String::new(),
            ..request.clone()
        });
        let before = page_token::decode(
            &self.sealer,
            ADVISORY_PAGES,
            &request.page_token,
            &fingerprint,
        )?;
        let Some(scope) = self.policy.visibility_scope(&principal) else {
            return Ok(Response::new(pb::ListAdvisoriesResponse {
                advisories: Vec::new(),
                policy_version: self.policy_version(),
                next_page_token: String::new(),
            }));
        };
        let page = self
            .store
            .advisories_page(
                &scope,
                &AdvisoryFilter {
                    countries,
                    valid_on,
                },
                before,
                page_size,
            )
            .await
            .map_err(store_status)?;
        let next_page_token = match (page.more, page.last_row) {
            (true, Some(row)) => {
                page_token::encode(&self.sealer, ADVISORY_PAGES, row, &fingerprint)?
            }
            _ => String::new(),
        };
        let stored = page.advisories;
        let mut fields_redacted = 0;
        let advisories: Vec<pb::Advisory> = stored
            .into_iter()
            .filter_map(|advisory| self.policy.redact_advisory(advisory, &principal))
            .map(|redacted| {
                fields_redacted += redacted.redactions.len() as u64;
                advisory_to_proto(redacted)
            })
            .collect();
        audit.note(|entry| {
            entry.records_returned = advisories.len() as u64;
            entry.fields_redacted = fields_redacted;
            entry.incident_ids = advisories.iter().map(|a| a.id.clone()).collect();
        });
        Ok(Response::new(pb::ListAdvisoriesResponse {
            advisories,
            policy_version: self.policy_version(),
            next_page_token,
        }))
    }
}

/// A picture or forecast error as a status.
fn picture_status(org: &str, error: PictureError) -> Status {
    match error {
        PictureError::Invalid("principal", reason) => Status::permission_denied(reason),
        PictureError::Invalid(field, reason) => invalid_field(field, &reason),
        PictureError::Store(error) => store_status(error),
        PictureError::Cpu(CpuError::Busy(refused)) => busy(org, &refused),
        PictureError::Cpu(CpuError::Failed(error)) => {
            tracing::error!(%error, "picture computation failed");
            Status::internal("internal error")
        }
    }
}

/// Room in a message for everything but the release's files.
const RELEASE_MESSAGE_MARGIN: usize = 64 * 1024;

/// The release a GetPublicRelease request asks for (k 0 means 3).
fn public_release_options(request: &pb::GetPublicReleaseRequest) -> Result<ReleaseOptions, Status> {
    let mut violations = Violations::new();
    let k = match request.k {
        0 => 3,
        k => k as usize,
    };
    if !(2..=release::MAX_K).contains(&k) {
        violations.add("k", format!("must be between 2 and {}", release::MAX_K));
    }
    let from = request
        .occurred_from
        .as_ref()
        .and_then(|date| wire::date_from_proto(&mut violations, "occurred_from", date));
    let to = request
        .occurred_to
        .as_ref()
        .and_then(|date| wire::date_from_proto(&mut violations, "occurred_to", date));
    if !violations.is_empty() {
        return Err(invalid_argument(violations.into_vec()));
    }
    Ok(ReleaseOptions { k, from, to })
}

fn release_status(error: ReleaseError) -> Status {
    match error {
        ReleaseError::InvalidK => Status::invalid_argument(error.to_string()),
        ReleaseError::TooMany(_) => Status::resource_exhausted(error.to_string()),
        ReleaseError::Store(error) => store_status(error),
        ReleaseError::Write { .. } => {
            tracing::error!(%error, "public release not rendered");
            Status::internal("the release could not be rendered")
        }
    }
}
