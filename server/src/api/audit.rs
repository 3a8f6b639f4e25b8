//! `slt.v1.AuditService`: the access log for auditors (the capability table admits the auditor
//! role only). Its own calls are audited like any other.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use serde_json::json;
use slt_proto::v1 as pb;
use slt_proto::v1::audit_service_server::AuditService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::guard::audit_context;
use super::status::{invalid_field, store_status};
use crate::audit::checkpoints::{CheckpointError, CheckpointSigner};
use crate::audit::summary;
use crate::domain::validate;
use crate::sealed::Sealer;
use crate::store::{AuditFilter, Store};

/// Default and largest QueryAudit page; ExportAudit's page.
pub const DEFAULT_AUDIT_PAGE: u32 = 100;
pub const MAX_AUDIT_PAGE: u32 = 1_000;
const EXPORT_PAGE: u32 = 1_000;
const PAGE_TOKEN_PURPOSE: &str = "audit-page-token";

pub struct AuditApi {
    store: Store,
    signer: Arc<CheckpointSigner>,
    sealer: Arc<Sealer>,
}

impl AuditApi {
    pub fn new(store: Store, signer: Arc<CheckpointSigner>, sealer: Arc<Sealer>) -> Self {
        Self {
            store,
            signer,
            sealer,
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    type ExportAuditStream =
        Pin<Box<dyn Stream<Item = Result<pb::ExportAuditResponse, Status>> + Send>>;

    async fn query_audit(
        &self,
        request: Request<pb::QueryAuditRequest>,
    ) -> Result<Response<pb::QueryAuditResponse>, Status> {
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        let filter = AuditFilter {
            from_time: non_empty(&request.from_time),
            to_time: non_empty(&request.to_time),
            org: non_empty(&request.org),
            subject: non_empty(&request.subject),
            method: non_empty(&request.method),
            incident_id: non_empty(&request.incident_id),
            outcome: non_empty(&request.outcome),
        };
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "from_time": filter.from_time, "to_time": filter.to_time, "org": filter.org,
                "subject": filter.subject, "method": filter.method,
                "incident_id": filter.incident_id, "outcome": filter.outcome,
                "page_size": request.page_size,
            }));
        });
        for (field, value) in [
            ("from_time", &filter.from_time),
            ("to_time", &filter.to_time),
            ("org", &filter.org),
            ("subject", &filter.subject),
            ("method", &filter.method),
            ("incident_id", &filter.incident_id),
            ("outcome", &filter.outcome),
        ] {
            if value.as_deref().is_some_and(|text| text.contains('\0')) {
                return Err(invalid_field(field, validate::NUL_CHARACTER));
            }
        }
        let limit = match request.page_size {
            0 => DEFAULT_AUDIT_PAGE,
            size if size < 0 => return Err(invalid_field("page_size", "must not be negative")),
            size => u32::try_from(size)
                .unwrap_or(MAX_AUDIT_PAGE)
                .min(MAX_AUDIT_PAGE),
        };
        let from_seq = if request.page_token.is_empty() {
            1
        } else {
            self.sealer
                .open(PAGE_TOKEN_PURPOSE, &request.page_token)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| invalid_field("page_token", "not a page token issued by this hub"))?
        };
        let mut records = self
            .store
            .audit_records(&filter, from_seq, limit + 1)
            .await
            .map_err(store_status)?;
        let next_page_token = if records.len() > limit as usize {
            records.truncate(limit as usize);
            let next = records.last().map_or(from_seq, |record| record.seq + 1);
            self.sealer
                .seal(PAGE_TOKEN_PURPOSE, next.to_string().as_bytes())
                .map_err(|_| Status::internal("internal error"))?
        } else {
            String::new()
        };
        audit.note(|entry| entry.records_returned = records.len() as u64);
        Ok(Response::new(pb::QueryAuditResponse {
            records,
            next_page_token,
        }))
    }

    async fn export_audit(
        &self,
        request: Request<pb::ExportAuditRequest>,
    ) -> Result<Response<Self::ExportAuditStream>, Status> {
        let audit = audit_context(&request)?;
        let from_seq = request.get_ref().from_seq.max(1);
        audit.note(|entry| entry.request_summary = summary(&json!({ "from_seq": from_seq })));
        // Sign the head first, then export exactly up to the last checkpoint: every exported
        // record is covered by a signature, and no checkpoint points past the export. If the
        // log no longer extends what the hub signed, sign nothing and export all of it as it
        // is: the auditor's verification then names the first bad record.
        let signed_up_to = match self.signer.checkpoint(&self.store).await {
            Ok(seq) => seq,
            Err(CheckpointError::Tampered(reason)) => {
                tracing::error!(%reason, "access log tampered with; exporting it unsigned");
                u64::MAX
            }
            Err(CheckpointError::Store(error)) => return Err(store_status(error)),
        };
        let store = self.store.clone();
        let (sender, receiver) = mpsc::channel(2);
        tokio::spawn(async move {
            let mut next = from_seq;
            loop {
                let mut records = match store
                    .audit_records(&AuditFilter::default(), next, EXPORT_PAGE)
                    .await
                {
                    Ok(records) => records,
                    Err(error) => {
                        let _ = sender.send(Err(store_status(error))).await;
                        return;
                    }
                };
                records.retain(|record| record.seq <= signed_up_to);
                let done = records
                    .last()
                    .is_none_or(|record| record.seq >= signed_up_to);
                next = records.last().map_or(next, |record| record.seq + 1);
                let checkpoints = if done {
                    match store.checkpoints().await {
                        Ok(mut checkpoints) => {
                            checkpoints.retain(|checkpoint| checkpoint.seq <= signed_up_to);
                            checkpoints
                        }
                        Err(error) => {
                            let _ = sender.send(Err(store_status(error))).await;
                            return;
                        }
                    }
                } else {
                    Vec::new()
                };
                let message = pb::ExportAuditResponse {
                    records,
                    checkpoints,
                };
                if sender.send(Ok(message)).await.is_err() || done {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn get_checkpoints(
        &self,
        _request: Request<pb::GetCheckpointsRequest>,
    ) -> Result<Response<pb::GetCheckpointsResponse>, Status> {
        let checkpoints = self.store.checkpoints().await.map_err(store_status)?;
        Ok(Response::new(pb::GetCheckpointsResponse {
            checkpoints,
            public_key_pem: self.signer.public_pem().to_string(),
        }))
    }
}
