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

use prost::Message;
use slt_proto::audit_chain::to_hex;

use super::guard::{audit_context, record_page};
use super::status::{invalid_field, store_status};
use crate::audit::checkpoints::{CheckpointError, CheckpointSigner};
use crate::audit::tree::{self, TreeError};
use crate::audit::{AuditContext, summary};
use crate::domain::validate;
use crate::sealed::Sealer;
use crate::store::{AuditFilter, Store, StoredHead};

/// Default and largest QueryAudit page (in records; a page also stops at
/// [`EXPORT_MESSAGE_BYTES`]).
pub const DEFAULT_AUDIT_PAGE: u32 = 100;
pub const MAX_AUDIT_PAGE: u32 = 1_000;
/// Records read from the database at a time by an export.
const EXPORT_READ: u32 = 500;
/// A message of QueryAudit or ExportAudit stops taking records at this many bytes of them. A
/// record is at most about 45 KB (`audit::bounds`), so a message stays far below gRPC's 4 MiB.
pub const EXPORT_MESSAGE_BYTES: usize = 1 << 20;
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
        let limit = page_limit(request.page_size)?;
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
        let mut bytes = 0;
        let fits = records
            .iter()
            .position(|record| {
                bytes += record.encoded_len();
                bytes > EXPORT_MESSAGE_BYTES
            })
            .map_or(limit as usize, |at| at.max(1).min(limit as usize));
        let next_page_token = if records.len() > fits {
            records.truncate(fits);
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
        // Sign the head first, then export exactly up to it: every exported record is covered
        // by a signed head. If the log no longer extends what the hub signed, sign nothing and
        // export all of it as it is: the auditor's verification then names what is wrong.
        let signed_up_to = match self.signer.checkpoint(&self.store).await {
            Ok(size) => size,
            Err(CheckpointError::Store(error)) => return Err(store_status(error)),
            Err(error) => {
                tracing::error!(%error, "access log not signed; exporting it unsigned");
                u64::MAX
            }
        };
        let (sender, receiver) = mpsc::channel(2);
        tokio::spawn(export_pages(
            ExportStream {
                store: self.store.clone(),
                audit,
                up_to: signed_up_to,
                pages: 0,
            },
            from_seq,
            sender,
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn get_checkpoints(
        &self,
        request: Request<pb::GetCheckpointsRequest>,
    ) -> Result<Response<pb::GetCheckpointsResponse>, Status> {
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "from_size": request.from_size, "page_size": request.page_size,
            }));
        });
        let limit = page_limit(request.page_size)?;
        let mut rows = self
            .store
            .tree_heads(request.from_size, u64::MAX >> 1, limit + 1)
            .await
            .map_err(store_status)?;
        let next_from_size = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map_or(0, |row| row.tree_size() + 1)
        } else {
            0
        };
        Ok(Response::new(pb::GetCheckpointsResponse {
            checkpoints: Vec::new(),
            public_key_pem: self.signer.public_pem().to_string(),
            heads: rows.iter().map(head_to_proto).collect(),
            next_from_size,
        }))
    }

    async fn get_tree_head(
        &self,
        request: Request<pb::GetTreeHeadRequest>,
    ) -> Result<Response<pb::GetTreeHeadResponse>, Status> {
        let _audit = audit_context(&request)?;
        let head = self.newest_head().await?;
        Ok(Response::new(pb::GetTreeHeadResponse {
            head: Some(head_to_proto(&head)),
            public_key_pem: self.signer.public_pem().to_string(),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "seq": request.seq, "tree_size": request.tree_size,
            }));
        });
        if request.seq == 0 {
            return Err(invalid_field("seq", "records are numbered from 1"));
        }
        let head = self.head_of(request.tree_size, "tree_size").await?;
        if request.seq > head.tree_size() {
            return Err(invalid_field(
                "seq",
                &format!(
                    "record {} is not in the tree of size {}",
                    request.seq, head.size
                ),
            ));
        }
        let hashes = tree::inclusion_proof(&self.store, request.seq - 1, head.tree_size())
            .await
            .map_err(tree_status)?;
        let record = self
            .store
            .audit_records(&AuditFilter::default(), request.seq, 1)
            .await
            .map_err(store_status)?
            .into_iter()
            .next();
        audit.note(|entry| entry.records_returned = 1);
        Ok(Response::new(pb::GetInclusionProofResponse {
            record,
            head: Some(head_to_proto(&head)),
            hashes: hashes.iter().map(|hash| to_hex(hash)).collect(),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        let audit = audit_context(&request)?;
        let request = request.into_inner();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({
                "first_size": request.first_size, "second_size": request.second_size,
            }));
        });
        if request.first_size == 0 {
            return Err(invalid_field("first_size", "must be at least 1"));
        }
        let head = self.head_of(request.second_size, "second_size").await?;
        if request.first_size > head.tree_size() {
            return Err(invalid_field(
                "first_size",
                &format!("larger than the second tree's size {}", head.size),
            ));
        }
        let hashes = tree::consistency_proof(&self.store, request.first_size, head.tree_size())
            .await
            .map_err(tree_status)?;
        Ok(Response::new(pb::GetConsistencyProofResponse {
            head: Some(head_to_proto(&head)),
            hashes: hashes.iter().map(|hash| to_hex(hash)).collect(),
        }))
    }
}

impl AuditApi {
    /// Signs the log's head (if it grew) and returns the newest signed head.
    async fn newest_head(&self) -> Result<StoredHead, Status> {
        match self.signer.checkpoint(&self.store).await {
            Ok(_) => {}
            Err(CheckpointError::Store(error)) => return Err(store_status(error)),
            Err(error) => {
                tracing::error!(%error, "access log not signed");
                return Err(Status::data_loss(
                    "the access log no longer extends the last head this hub signed; the hub \
                     refuses to sign it (see the hub's log)",
                ));
            }
        }
        self.store
            .last_tree_head()
            .await
            .map_err(store_status)?
            .ok_or_else(|| Status::not_found("the access log is empty"))
    }

    /// The signed head of `size`, or the newest when 0.
    async fn head_of(&self, size: u64, field: &str) -> Result<StoredHead, Status> {
        if size == 0 {
            return self.newest_head().await;
        }
        self.store
            .tree_head(size)
            .await
            .map_err(store_status)?
            .ok_or_else(|| invalid_field(field, &format!("no signed tree head of size {size}")))
    }
}

fn page_limit(page_size: i32) -> Result<u32, Status> {
    match page_size {
        0 => Ok(DEFAULT_AUDIT_PAGE),
        size if size < 0 => Err(invalid_field("page_size", "must not be negative")),
        size => Ok(u32::try_from(size)
            .unwrap_or(MAX_AUDIT_PAGE)
            .min(MAX_AUDIT_PAGE)),
    }
}

fn head_to_proto(head: &StoredHead) -> pb::TreeHead {
    pb::TreeHead {
        size: head.tree_size(),
        root_hash: head.root_hash.clone(),
        time: head.time.clone(),
        note: head.note.clone(),
    }
}

fn tree_status(error: TreeError) -> Status {
    match error {
        TreeError::Store(error) => store_status(error),
        other => {
            tracing::error!(error = %other, "audit tree unreadable");
            Status::data_loss("the stored audit tree is damaged; see the hub's log")
        }
    }
}

/// Streams records `from_seq ..= up_to` in messages of at most about [`EXPORT_MESSAGE_BYTES`]
/// of records, each with the signed heads in its range.
async fn export_pages(
    mut export: ExportStream,
    from_seq: u64,
    sender: mpsc::Sender<Result<pb::ExportAuditResponse, Status>>,
) {
    let (store, up_to) = (export.store.clone(), export.up_to);
    let mut next = from_seq;
    let mut message = pb::ExportAuditResponse::default();
    let mut bytes = 0;
    loop {
        let page = match store
            .audit_records(&AuditFilter::default(), next, EXPORT_READ)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                let _ = sender.send(Err(store_status(error))).await;
                return;
            }
        };
        let read = page.len();
        for record in page.into_iter().take_while(|record| record.seq <= up_to) {
            next = record.seq + 1;
            bytes += record.encoded_len();
            message.records.push(record);
            if bytes >= EXPORT_MESSAGE_BYTES {
                let full = std::mem::take(&mut message);
                if !export.send(full, false, &sender).await {
                    return;
                }
                bytes = 0;
            }
        }
        if read < EXPORT_READ as usize || next > up_to {
            break;
        }
    }
    if !message.records.is_empty() {
        export.send(message, true, &sender).await;
    }
}

/// An export in progress: where it reads, what it ends at, and its pages so far.
struct ExportStream {
    store: Store,
    audit: AuditContext,
    up_to: u64,
    pages: u64,
}

impl ExportStream {
    /// Adds the signed heads in the message's range, records the page and sends it; false
    /// when the stream is over. The last message also carries the heads past its last record (a
    /// few at most): when records were removed from the log's tail, the auditor sees the head
    /// that still counts them.
    async fn send(
        &mut self,
        mut message: pb::ExportAuditResponse,
        last_message: bool,
        sender: &mpsc::Sender<Result<pb::ExportAuditResponse, Status>>,
    ) -> bool {
        let (Some(first), Some(last)) = (
            message.records.first().map(|record| record.seq),
            message.records.last().map(|record| record.seq),
        ) else {
            return true;
        };
        let to = if last_message {
            self.up_to.min(u64::MAX >> 1)
        } else {
            last
        };
        // At most one head per record: the heads of a message are at most its records' count.
        let limit = u32::try_from(message.records.len())
            .unwrap_or(u32::MAX)
            .saturating_add(10);
        let heads = match self.store.tree_heads(first, to, limit).await {
            Ok(heads) => heads,
            Err(error) => {
                let _ = sender.send(Err(store_status(error))).await;
                return false;
            }
        };
        message.heads = heads.iter().map(head_to_proto).collect();
        self.pages += 1;
        let detail = json!({ "from_seq": first, "to_seq": last, "heads": message.heads.len() });
        if let Err(status) = record_page(&self.audit, self.pages, Vec::new(), detail).await {
            let _ = sender.send(Err(status)).await;
            return false;
        }
        sender.send(Ok(message)).await.is_ok()
    }
}
