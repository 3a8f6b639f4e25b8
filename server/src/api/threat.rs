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

use super::convert::{self, WireEnum, advisory_to_proto, tier_to_proto};
use super::guard::{audit_context, principal};
use super::status::{invalid_argument, invalid_field, store_status};
use crate::anonymise;
use crate::audit::summary;
use crate::domain::{AreaLevel, Granularity, PictureGroup, StoredAdvisory, Violations, validate};
use crate::picture::{self, Alert, Picture, PictureError, PictureRequest};
use crate::policy::PolicyEngine;
use crate::policy::aggregate::Published;
use crate::store::{AdvisoryFilter, Store, StoreError};

/// Most countries in one picture request.
pub const MAX_PICTURE_COUNTRIES: usize = 50;
/// Most admin1 names in one picture request.
pub const MAX_PICTURE_ADMIN1: usize = 200;

pub struct ThreatApi {
    store: Store,
    hub_id: String,
    policy: Arc<PolicyEngine>,
}

impl ThreatApi {
    pub fn new(store: Store, hub_id: String, policy: Arc<PolicyEngine>) -> Self {
        Self {
            store,
            hub_id,
            policy,
        }
    }

    fn policy_version(&self) -> String {
        self.policy.version().to_string()
    }
}

fn date_text(date: &Option<slt_proto::google::r#type::Date>) -> Option<String> {
    date.as_ref()
        .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
}

fn picture_request(request: &pb::GetThreatPictureRequest) -> Result<PictureRequest, Status> {
    let mut violations = Violations::new();
    if request.countries.is_empty() || request.countries.len() > MAX_PICTURE_COUNTRIES {
        violations.add(
            "countries",
            format!("required: between 1 and {MAX_PICTURE_COUNTRIES} country codes"),
        );
    }
    let mut countries = Vec::new();
    for (index, code) in request.countries.iter().enumerate() {
        if let Some(code) = validate::country(&mut violations, &format!("countries[{index}]"), code)
            && !countries.contains(&code)
        {
            countries.push(code);
        }
    }
    let mut admin1: Vec<String> = Vec::new();
    if request.admin1.len() > MAX_PICTURE_ADMIN1 {
        violations.add(
            "admin1",
            format!("at most {MAX_PICTURE_ADMIN1} admin1 names"),
        );
    }
    for (index, name) in request.admin1.iter().enumerate().take(MAX_PICTURE_ADMIN1) {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            violations.add(format!("admin1[{index}]"), "must not be empty");
        } else {
            violations.check_text(format!("admin1[{index}]"), &name, 200);
            admin1.push(name);
        }
    }
    let mut date = |field: &str, date: &Option<slt_proto::google::r#type::Date>| match date {
        Some(date) => {
            validate::calendar_date(&mut violations, field, date.year, date.month, date.day)
        }
        None => {
            violations.add(field, "required");
            None
        }
    };
    let from = date("from", &request.from);
    let to = date("to", &request.to);
    let granularity = match pb::Granularity::try_from(request.granularity) {
        Ok(pb::Granularity::Unspecified | pb::Granularity::Month) => Some(Granularity::Month),
        Ok(pb::Granularity::Week) => Some(Granularity::Week),
        Ok(pb::Granularity::Quarter) => Some(Granularity::Quarter),
        Ok(pb::Granularity::Year) => Some(Granularity::Year),
        Err(_) => {
            violations.add("granularity", "not a defined value");
            None
        }
    };
    let area_level = match pb::AreaLevel::try_from(request.area_level) {
        Ok(pb::AreaLevel::Unspecified | pb::AreaLevel::Country) => Some(AreaLevel::Country),
        Ok(pb::AreaLevel::Admin1) => Some(AreaLevel::Admin1),
        Err(_) => {
            violations.add("area_level", "not a defined value");
            None
        }
    };
    let group_by = match pb::PictureGroup::try_from(request.group_by) {
        Ok(pb::PictureGroup::Unspecified | pb::PictureGroup::ThreatCategory) => {
            Some(PictureGroup::ThreatCategory)
        }
        Ok(pb::PictureGroup::IncidentType) => Some(PictureGroup::IncidentType),
        Ok(pb::PictureGroup::None) => Some(PictureGroup::None),
        Err(_) => {
            violations.add("group_by", "not a defined value");
            None
        }
    };
    match (from, to, granularity, area_level, group_by) {
        (Some(from), Some(to), Some(granularity), Some(area_level), Some(group_by))
            if violations.is_empty() =>
        {
            Ok(PictureRequest {
                countries,
                admin1,
                from,
                to,
                granularity,
                area_level,
                group_by,
            })
        }
        _ => Err(invalid_argument(violations.into_vec())),
    }
}

fn count(value: Published) -> Option<pb::PublishedCount> {
    Some(match value {
        Published::Exact(value) => pb::PublishedCount {
            suppressed: false,
            value,
        },
        Published::Suppressed => pb::PublishedCount {
            suppressed: true,
            value: 0,
        },
    })
}

fn outcomes(values: &[(crate::domain::VictimOutcome, Published)]) -> Vec<pb::OutcomeCount> {
    values
        .iter()
        .map(|(outcome, value)| pb::OutcomeCount {
            outcome: outcome.to_wire(),
            count: count(*value),
        })
        .collect()
}

fn picture_to_proto(
    picture: Picture,
    request: &pb::GetThreatPictureRequest,
    policy_version: String,
) -> pb::GetThreatPictureResponse {
    let alert = |alert: Alert| match alert {
        Alert::Normal => pb::Alert::Normal,
        Alert::Elevated => pb::Alert::Elevated,
        Alert::NotAssessed => pb::Alert::NotAssessed,
    } as i32;
    pb::GetThreatPictureResponse {
        granularity: match pb::Granularity::try_from(request.granularity) {
            Ok(pb::Granularity::Unspecified) | Err(_) => pb::Granularity::Month as i32,
            Ok(other) => other as i32,
        },
        area_level: match pb::AreaLevel::try_from(request.area_level) {
            Ok(pb::AreaLevel::Unspecified) | Err(_) => pb::AreaLevel::Country as i32,
            Ok(other) => other as i32,
        },
        group_by: match pb::PictureGroup::try_from(request.group_by) {
            Ok(pb::PictureGroup::Unspecified) | Err(_) => pb::PictureGroup::ThreatCategory as i32,
            Ok(other) => other as i32,
        },
        periods: picture.periods,
        rows: picture
            .rows
            .into_iter()
            .map(|row| pb::PictureRow {
                country: row.country,
                admin1: row.admin1,
                group: row.group,
                incidents_total: count(row.incidents_total),
                cells: row
                    .cells
                    .into_iter()
                    .map(|cell| pb::PictureCell {
                        incidents: count(cell.incidents),
                        victims: count(cell.victims),
                        victims_by_outcome: outcomes(&cell.by_outcome),
                        victims_by_staff: cell
                            .by_staff
                            .iter()
                            .map(|(staff, value)| pb::StaffCount {
                                staff: staff.to_wire(),
                                count: count(*value),
                            })
                            .collect(),
                        victims_by_sex: cell
                            .by_sex
                            .iter()
                            .map(|(sex, value)| pb::SexCount {
                                sex: sex.to_wire(),
                                count: count(*value),
                            })
                            .collect(),
                        previous_incidents: count(cell.previous),
                        change: cell.change,
                        alert: alert(cell.alert),
                        baseline_mean: cell.baseline_mean,
                        upper_bound: cell.upper_bound,
                    })
                    .collect(),
            })
            .collect(),
        period_totals: picture
            .period_totals
            .into_iter()
            .filter_map(count)
            .collect(),
        total: count(picture.total),
        hotspots: picture
            .hotspots
            .into_iter()
            .map(|hotspot| pb::Hotspot {
                country: hotspot.country,
                admin1: hotspot.admin1,
                score: hotspot.score,
                incidents: count(hotspot.incidents),
                victims_by_outcome: outcomes(&hotspot.by_outcome),
                partial: hotspot.partial,
            })
            .collect(),
        security_levels: picture
            .security_levels
            .into_iter()
            .map(|level| pb::AreaSecurityLevel {
                country: level.country,
                admin1: level.admin1,
                security_level: level.level.to_wire(),
                advisory_id: level.advisory_id.to_string(),
                advisory_version: level.advisory_version,
                valid_until: Some(slt_proto::google::r#type::Date {
                    year: level.valid_until.year(),
                    month: i32::from(u8::from(level.valid_until.month())),
                    day: i32::from(level.valid_until.day()),
                }),
            })
            .collect(),
        tier: tier_to_proto(picture.tier),
        k: u32::try_from(picture.k).unwrap_or(u32::MAX),
        policy_version,
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
        let query = picture_request(&request)?;
        let today = OffsetDateTime::now_utc().date();
        let picture = picture::compute(&self.store, &self.policy, &principal, &query, today)
            .await
            .map_err(|error| match error {
                PictureError::Invalid("principal", reason) => Status::permission_denied(reason),
                PictureError::Invalid(field, reason) => invalid_field(field, &reason),
                PictureError::Store(error) => store_status(error),
            })?;
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
        let decoded = convert::advisory_from_proto(&mut violations, &advisory);
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
        let Some((id, mut content)) = decoded.filter(|_| violations.is_empty()) else {
            return Err(invalid_argument(violations.into_vec()));
        };
        let existing = self
            .store
            .get_advisories(&[id])
            .await
            .map_err(store_status)?
            .into_iter()
            .next();
        let not_found = || Status::not_found(format!("advisory {id} not found"));
        match (&existing, request.expected_version) {
            (Some(_), 0) => {
                return Err(Status::already_exists(format!(
                    "advisory {id} exists: to supersede it, send expected_version"
                )));
            }
            (None, version) if version > 0 => return Err(not_found()),
            (Some(existing), _)
                if self
                    .policy
                    .advisory_tier_for(&principal, existing)
                    .is_none() =>
            {
                return Err(not_found());
            }
            _ => {}
        }
        if !self
            .policy
            .may_issue_advisory(&principal, existing.as_ref())
        {
            return Err(Status::permission_denied(
                "only focal points may issue advisories, and only the issuing organisation's may \
                 supersede one",
            ));
        }
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
        let Some(scope) = self.policy.visibility_scope(&principal) else {
            return Ok(Response::new(pb::ListAdvisoriesResponse {
                advisories: Vec::new(),
                policy_version: self.policy_version(),
            }));
        };
        let stored = self
            .store
            .list_advisories(
                &scope,
                &AdvisoryFilter {
                    countries,
                    valid_on,
                },
            )
            .await
            .map_err(store_status)?;
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
        }))
    }
}
