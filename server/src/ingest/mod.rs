//! Ingest: incidents a local organisation submits, from validated drafts to stored records.
//!
//! Proto-free (domain types in, outcomes out), so the gRPC handler (`api::incidents`) only
//! decodes, calls [`Ingest::submit`] and encodes, and a caller without gRPC (the bench, tests)
//! can submit exactly as the hub does: sharing-group checks, anonymising, the idempotency hash
//! and one all-or-nothing store transaction.

pub mod ids;

use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::anonymise::{self, OrgSecrets, ScrubReport};
use crate::audit::AuditEntry;
use crate::domain::{FieldViolation, IncidentDraft, OrgType, StoredIncident, Violations};
use crate::limits::cpu::{CpuError, CpuPool};
use crate::policy::PolicyEngine;
use crate::store::{NewIncident, Store, StoreError, SubmitOutcome};

/// Why a batch was not submitted. Nothing was written in either case.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A draft asks for sharing the submitter may not use (every problem, by field path).
    #[error("{} invalid field(s)", .0.len())]
    Invalid(Vec<FieldViolation>),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The submitter's org is at its share of the CPU pool, or the anonymiser's job failed.
    #[error(transparent)]
    Cpu(#[from] CpuError),
}

/// The organisation a batch is submitted for.
#[derive(Debug, Clone)]
pub struct Submitter {
    pub org: String,
    pub org_type: OrgType,
}

/// What became of one submitted incident, as the submitter may learn it.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Stored as version 1; what the anonymiser replaced, by kind.
    Created { scrubbed: ScrubReport },
    /// Already stored with the same content by the same org.
    Unchanged { version: u64 },
    /// The id exists with other content; its version only when it is the submitter's own
    /// (another org's version number is none of the submitter's business), else 0.
    Conflict { version: u64 },
}

/// Submits incidents for local organisations.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    cpu: Arc<CpuPool>,
    hub_id: String,
    policy: Arc<PolicyEngine>,
    secrets: OrgSecrets,
}

impl Ingest {
    pub fn new(
        (store, cpu): (Store, Arc<CpuPool>),
        hub_id: String,
        policy: Arc<PolicyEngine>,
        secrets: OrgSecrets,
    ) -> Self {
        Self {
            store,
            cpu,
            hub_id,
            policy,
            secrets,
        }
    }

    /// The stored id of the incident `org` submitted as `submitted` (see [`ids`]).
    pub fn own_id(&self, org: &str, submitted: Uuid) -> Uuid {
        ids::derive(
            &self.secrets.for_org(org),
            &self.hub_id,
            ids::Kind::Incident,
            submitted,
        )
    }

    /// Adds a violation at `{prefix}.sharing_group` when `org` may not share `draft` the way
    /// it asks. Callers that decode drafts themselves call it per draft, so that decoding and
    /// sharing problems are reported together.
    pub fn check_draft(
        &self,
        org: &str,
        prefix: &str,
        draft: &IncidentDraft,
        violations: &mut Violations,
    ) {
        if let Err(reason) = self.policy.check_distribution(org, &draft.content) {
            violations.add(format!("{prefix}.sharing_group"), reason);
        }
    }

    /// Anonymises and stores `drafts` as the submitter's incidents, all or nothing, with
    /// `audit` committed in the same transaction. Outcomes are in draft order.
    pub async fn submit(
        &self,
        submitter: &Submitter,
        drafts: Vec<IncidentDraft>,
        now: OffsetDateTime,
        mut audit: Option<AuditEntry>,
    ) -> Result<Vec<(Uuid, Submitted)>, IngestError> {
        let mut violations = Violations::new();
        for (index, draft) in drafts.iter().enumerate() {
            self.check_draft(
                &submitter.org,
                &format!("incidents[{index}]"),
                draft,
                &mut violations,
            );
        }
        if !violations.is_empty() {
            return Err(IngestError::Invalid(violations.into_vec()));
        }
        let org_secret = self.secrets.for_org(&submitter.org);
        let stored_ids = self.stored_ids(submitter, &org_secret, &drafts).await?;
        if let Some(entry) = audit.as_mut() {
            // The record names what was written, under the ids every reader will use.
            entry.incident_ids = stored_ids.iter().map(Uuid::to_string).collect();
            crate::audit::bounds::bound(entry);
        }
        // The anonymiser is the CPU-heavy part: it runs on the pool, within the org's share.
        let anonymised: Vec<(IncidentDraft, String, ScrubReport)> = self
            .cpu
            .run(&submitter.org, move || {
                drafts
                    .into_iter()
                    .map(|mut draft| {
                        // The idempotency hash is over what the client sent, before
                        // anonymising, so a retried batch hashes the same whatever the
                        // anonymiser's version.
                        let submit_hash = draft.submission_hash();
                        let report = anonymise::anonymise_draft(&mut draft, &org_secret);
                        (draft, submit_hash, report)
                    })
                    .collect()
            })
            .await?;
        let mut reports: Vec<ScrubReport> = Vec::with_capacity(anonymised.len());
        let batch: Vec<NewIncident> = anonymised
            .into_iter()
            .zip(stored_ids)
            .map(|((draft, submit_hash, report), id)| {
                reports.push(report);
                self.new_incident(submitter, id, draft, submit_hash, now)
            })
            .collect();
        let outcomes = self.store.submit(&batch, audit.as_ref()).await?;
        Ok(batch
            .iter()
            .zip(outcomes)
            .zip(reports)
            .map(|((item, outcome), scrubbed)| {
                let submitted = match outcome {
                    SubmitOutcome::Created => Submitted::Created { scrubbed },
                    SubmitOutcome::Unchanged { version } => Submitted::Unchanged { version },
                    SubmitOutcome::Conflict {
                        existing_version,
                        existing_org,
                    } => Submitted::Conflict {
                        version: if existing_org == submitter.org {
                            existing_version
                        } else {
                            0
                        },
                    },
                };
                (item.incident.id, submitted)
            })
            .collect())
    }

    /// The stored ids of `drafts`: in the submitter's own id space (`ids`), except where a
    /// submitted id already names one of the submitter's own incidents here (one stored before
    /// ids were derived, or one it names by the hub's id), which it then stays.
    async fn stored_ids(
        &self,
        submitter: &Submitter,
        org_secret: &[u8],
        drafts: &[IncidentDraft],
    ) -> Result<Vec<Uuid>, StoreError> {
        let submitted: Vec<Uuid> = drafts.iter().map(|draft| draft.id).collect();
        let own = self.store.own_local_ids(&submitter.org, &submitted).await?;
        Ok(submitted
            .iter()
            .map(|id| {
                if own.contains(id) {
                    *id
                } else {
                    ids::derive(org_secret, &self.hub_id, ids::Kind::Incident, *id)
                }
            })
            .collect())
    }

    /// Version 1 of an anonymised draft, originating here.
    fn new_incident(
        &self,
        submitter: &Submitter,
        id: Uuid,
        draft: IncidentDraft,
        submit_hash: String,
        now: OffsetDateTime,
    ) -> NewIncident {
        NewIncident {
            submit_hash,
            group_members: self.policy.group_members_of(&draft.content),
            incident: StoredIncident {
                id,
                version: 1,
                origin_org: submitter.org.clone(),
                origin_hub: self.hub_id.clone(),
                origin_org_type: submitter.org_type,
                reported_at: now,
                updated_at: now,
                retraction_reason: None,
                content: draft.content,
                private: draft.private,
                received: None,
            },
        }
    }
}
