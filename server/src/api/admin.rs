//! `slt.v1.AdminService`: hub administration (the capability table admits the admin role
//! only). Admins see no incident content: the peer status is counts, times and errors.

use std::sync::Arc;

use serde_json::json;
use slt_proto::v1 as pb;
use slt_proto::v1::admin_service_server::AdminService;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use super::guard::audit_context;
use super::status::store_status;
use crate::audit::summary;
use crate::identity::agreement::PeerAgreement;
use crate::store::{PeerState, Store};

pub struct AdminApi {
    store: Store,
    hub_id: String,
    peers: Arc<arc_swap::ArcSwap<Vec<PeerAgreement>>>,
}

impl AdminApi {
    pub fn new(
        store: Store,
        hub_id: String,
        peers: Arc<arc_swap::ArcSwap<Vec<PeerAgreement>>>,
    ) -> Self {
        Self {
            store,
            hub_id,
            peers,
        }
    }
}

/// The status of every peer: the agreements in force, then peers with recorded state only.
pub fn peer_statuses(
    agreements: &[PeerAgreement],
    states: Vec<PeerState>,
    now: OffsetDateTime,
) -> Vec<pb::PeerStatus> {
    let timestamp = |at: Option<OffsetDateTime>| {
        at.map(|at| prost_types::Timestamp {
            seconds: at.unix_timestamp(),
            nanos: 0,
        })
    };
    let mut states: std::collections::HashMap<String, PeerState> = states
        .into_iter()
        .map(|state| (state.peer_hub.clone(), state))
        .collect();
    let status = |state: PeerState, agreement: Option<&PeerAgreement>| pb::PeerStatus {
        hub_id: state.peer_hub.clone(),
        endpoint: agreement.map(|a| a.endpoint.clone()).unwrap_or_default(),
        tier: agreement
            .map(|a| a.tier.tier().as_str().to_string())
            .unwrap_or_default(),
        transitive: agreement.is_some_and(|a| a.transitive),
        pulling: agreement.is_some_and(|a| a.pull),
        last_attempt: timestamp(state.last_attempt),
        last_success: timestamp(state.last_success),
        lag_changes: state.lag_changes,
        lag_seconds: state
            .last_caught_up
            .map(|at| u64::try_from((now - at).whole_seconds()).unwrap_or(0))
            .unwrap_or(0),
        consecutive_errors: state.consecutive_errors,
        errors_total: state.errors_total,
        last_error: state.last_error.unwrap_or_default(),
        applied_total: state.applied_total,
        duplicates_total: state.duplicates_total,
        withheld_total: state.withheld_total,
        revoked_total: state.revoked_total,
        withheld_egress_total: state.withheld_egress_total,
        configured: agreement.is_some(),
    };
    let mut out = Vec::new();
    for agreement in agreements {
        let state = states.remove(&agreement.hub_id).unwrap_or(PeerState {
            peer_hub: agreement.hub_id.clone(),
            ..PeerState::default()
        });
        out.push(status(state, Some(agreement)));
    }
    let mut rest: Vec<PeerState> = states.into_values().collect();
    rest.sort_by(|a, b| a.peer_hub.cmp(&b.peer_hub));
    out.extend(rest.into_iter().map(|state| status(state, None)));
    out
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn list_peers(
        &self,
        request: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let audit = audit_context(&request)?;
        let agreements = self.peers.load_full();
        audit.note(|entry| {
            entry.request_summary = summary(&json!({ "peers": agreements.len() }));
        });
        let states = self.store.peer_states().await.map_err(store_status)?;
        Ok(Response::new(pb::ListPeersResponse {
            peers: peer_statuses(&agreements, states, OffsetDateTime::now_utc()),
            hub_id: self.hub_id.clone(),
        }))
    }
}
