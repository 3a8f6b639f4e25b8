//! `HubClient`: one mutual-TLS channel to a hub, with the profile's token on every call.

use std::error::Error as _;

use slt_proto::v1 as pb;
use slt_proto::v1::admin_service_client::AdminServiceClient;
use slt_proto::v1::audit_service_client::AuditServiceClient;
use slt_proto::v1::incident_service_client::IncidentServiceClient;
use slt_proto::v1::sync_service_client::SyncServiceClient;
use slt_proto::v1::threat_service_client::ThreatServiceClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::ClientError;
use crate::profile::{Profile, read_profile_file};

/// Largest message sent or accepted (the hub's limit).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// The service whose health `connect` checks.
const INCIDENT_SERVICE: &str = "slt.v1.IncidentService";

/// Adds `authorization: Bearer <token>` to every call. The token can be replaced while the
/// connection lives ([`HubClient::set_token`]), e.g. by a hub renewing its short-lived peer token.
#[derive(Clone)]
pub struct BearerToken(std::sync::Arc<std::sync::RwLock<AsciiMetadataValue>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let value = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// Connection material held in memory rather than in profile files (a hub pulling from its
/// peers uses it).
#[derive(Clone)]
pub struct Credentials {
    /// `https://host:port`.
    pub endpoint: String,
    /// The CA bundle the hub's server certificate must chain to (PEM).
    pub ca_pem: String,
    /// The client certificate chain and key (PEM).
    pub cert_pem: String,
    pub key_pem: String,
    /// The bearer token (JWT).
    pub token: String,
}

fn bearer_value(token: &str) -> Option<AsciiMetadataValue> {
    AsciiMetadataValue::try_from(format!("Bearer {}", token.trim())).ok()
}

/// A connected hub.
#[derive(Clone)]
pub struct HubClient {
    incidents: IncidentServiceClient<InterceptedService<Channel, BearerToken>>,
    sync: SyncServiceClient<InterceptedService<Channel, BearerToken>>,
    audit: AuditServiceClient<InterceptedService<Channel, BearerToken>>,
    threat: ThreatServiceClient<InterceptedService<Channel, BearerToken>>,
    admin: AdminServiceClient<InterceptedService<Channel, BearerToken>>,
    bearer: BearerToken,
    endpoint: String,
}

impl HubClient {
    /// Connects with the profile's certificate and token, and makes a health call so that a
    /// certificate the hub refuses fails here, with a clear message, not on the first real call.
    pub async fn connect(profile: &Profile) -> Result<HubClient, ClientError> {
        let ca = read_profile_file("CA certificate", &profile.ca)?;
        let cert = read_profile_file("client certificate", &profile.cert)?;
        let key = read_profile_file("client key", &profile.key)?;
        let token = read_profile_file("token", &profile.token)?;
        if bearer_value(&token).is_none() {
            return Err(ClientError::Profile {
                path: profile.token.display().to_string(),
                message: "the token file does not hold a JWT".into(),
            });
        }
        Self::connect_with(Credentials {
            endpoint: profile.endpoint.clone(),
            ca_pem: ca,
            cert_pem: cert,
            key_pem: key,
            token,
        })
        .await
    }

    /// Connects with in-memory credentials; like [`HubClient::connect`].
    pub async fn connect_with(credentials: Credentials) -> Result<HubClient, ClientError> {
        let Credentials {
            endpoint,
            ca_pem: ca,
            cert_pem: cert,
            key_pem: key,
            token,
        } = credentials;
        let bearer = bearer_value(&token).ok_or_else(|| ClientError::Connect {
            endpoint: endpoint.clone(),
            detail: "the token is not a JWT".into(),
        })?;
        let connect_error = |detail: String| ClientError::Connect {
            endpoint: endpoint.clone(),
            detail,
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .identity(Identity::from_pem(cert, key));
        let channel = Endpoint::from_shared(endpoint.clone())
            .map_err(|error| connect_error(error.to_string()))?
            .tls_config(tls)
            .map_err(|error| connect_error(error_chain(&error)))?
            .connect()
            .await
            .map_err(|error| connect_error(error_chain(&error)))?;

        let mut health = HealthClient::new(channel.clone());
        match health
            .check(HealthCheckRequest {
                service: INCIDENT_SERVICE.to_string(),
            })
            .await
        {
            Ok(_) => {}
            Err(status) if status.code() == Code::Unauthenticated => {
                return Err(ClientError::Unauthenticated(status.message().to_string()));
            }
            Err(status) => {
                return Err(connect_error(format!(
                    "the hub refused the connection ({}). Check that the profile's certificate \
                     was issued by the hub's CA and is not expired or revoked, and that the \
                     profile's CA file is the hub's",
                    status_chain(&status)
                )));
            }
        }

        let bearer = BearerToken(std::sync::Arc::new(std::sync::RwLock::new(bearer)));
        let incidents = IncidentServiceClient::with_interceptor(channel.clone(), bearer.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let sync = SyncServiceClient::with_interceptor(channel.clone(), bearer.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let threat = ThreatServiceClient::with_interceptor(channel.clone(), bearer.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let audit = AuditServiceClient::with_interceptor(channel.clone(), bearer.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let admin = AdminServiceClient::with_interceptor(channel, bearer.clone());
        Ok(HubClient {
            incidents,
            sync,
            audit,
            threat,
            admin,
            bearer,
            endpoint,
        })
    }

    /// Replaces the bearer token for the calls that follow (all clones of this client).
    pub fn set_token(&self, token: &str) -> Result<(), ClientError> {
        let value = bearer_value(token).ok_or_else(|| ClientError::Connect {
            endpoint: self.endpoint.clone(),
            detail: "the token is not a JWT".into(),
        })?;
        *self
            .bearer
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = value;
        Ok(())
    }

    /// The hub's endpoint.
    /// The threat picture (ThreatService.GetThreatPicture).
    pub async fn threat_picture(
        &mut self,
        request: pb::GetThreatPictureRequest,
    ) -> Result<pb::GetThreatPictureResponse, ClientError> {
        Ok(self.threat.get_threat_picture(request).await?.into_inner())
    }

    /// Forecasts of the caller's picture rows (ThreatService.GetForecast).
    pub async fn forecast(
        &mut self,
        request: pb::GetForecastRequest,
    ) -> Result<pb::GetForecastResponse, ClientError> {
        Ok(self.threat.get_forecast(request).await?.into_inner())
    }

    /// The hub's public (T0) release as its four files (focal points).
    pub async fn public_release(
        &mut self,
        request: pb::GetPublicReleaseRequest,
    ) -> Result<pb::GetPublicReleaseResponse, ClientError> {
        Ok(self.threat.get_public_release(request).await?.into_inner())
    }

    /// Issues an advisory (`expected_version` 0) or supersedes one with its next version.
    pub async fn issue_advisory(
        &mut self,
        advisory: pb::Advisory,
        expected_version: u64,
    ) -> Result<pb::Advisory, ClientError> {
        let response = self
            .threat
            .issue_advisory(pb::IssueAdvisoryRequest {
                advisory: Some(advisory),
                expected_version,
            })
            .await?;
        response
            .into_inner()
            .advisory
            .ok_or_else(|| ClientError::Rpc {
                code: Code::Internal,
                message: "the hub sent no advisory".into(),
            })
    }

    /// Every advisory this identity may see that matches `request`, newest first, following
    /// the hub's pages.
    pub async fn list_advisories(
        &mut self,
        mut request: pb::ListAdvisoriesRequest,
    ) -> Result<Vec<pb::Advisory>, ClientError> {
        let mut advisories = Vec::new();
        loop {
            let page = self.list_advisories_page(request.clone()).await?;
            advisories.extend(page.advisories);
            if page.next_page_token.is_empty() {
                return Ok(advisories);
            }
            request.page_token = page.next_page_token;
        }
    }

    /// One page of advisories (`request.page_size`, `request.page_token`).
    pub async fn list_advisories_page(
        &mut self,
        request: pb::ListAdvisoriesRequest,
    ) -> Result<pb::ListAdvisoriesResponse, ClientError> {
        Ok(self.threat.list_advisories(request).await?.into_inner())
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Submits one batch (1..1000 incidents), all-or-nothing on validation.
    pub async fn submit(
        &mut self,
        incidents: Vec<pb::Incident>,
    ) -> Result<Vec<pb::SubmitResult>, ClientError> {
        let response = self
            .incidents
            .submit_incidents(pb::SubmitIncidentsRequest { incidents })
            .await?;
        Ok(response.into_inner().results)
    }

    /// One incident, redacted for this profile.
    pub async fn get(&mut self, id: &str) -> Result<pb::Incident, ClientError> {
        let response = self
            .incidents
            .get_incident(pb::GetIncidentRequest { id: id.to_string() })
            .await?;
        response
            .into_inner()
            .incident
            .ok_or_else(|| ClientError::Rpc {
                code: Code::Internal,
                message: "the hub sent no incident".into(),
            })
    }

    /// One page of incidents.
    pub async fn list(
        &mut self,
        filter: pb::IncidentFilter,
        page_size: i32,
        page_token: String,
    ) -> Result<pb::ListIncidentsResponse, ClientError> {
        let response = self
            .incidents
            .list_incidents(pb::ListIncidentsRequest {
                filter: Some(filter),
                page_size,
                page_token,
            })
            .await?;
        Ok(response.into_inner())
    }

    /// Every incident matching `filter`, following page tokens to the end.
    pub async fn list_all(
        &mut self,
        filter: pb::IncidentFilter,
    ) -> Result<Vec<pb::Incident>, ClientError> {
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = self.list(filter.clone(), 1_000, token).await?;
            all.extend(page.incidents);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            token = page.next_page_token;
        }
    }

    /// Replaces an incident's content; `expected_version` is the version last seen.
    pub async fn amend(
        &mut self,
        incident: pb::Incident,
        expected_version: u64,
    ) -> Result<pb::Incident, ClientError> {
        let response = self
            .incidents
            .amend_incident(pb::AmendIncidentRequest {
                incident: Some(incident),
                expected_version,
            })
            .await?;
        response.into_inner().incident.ok_or_else(no_incident)
    }

    /// Retracts an incident with a reason.
    pub async fn retract(
        &mut self,
        id: &str,
        reason: &str,
        expected_version: u64,
    ) -> Result<pb::Incident, ClientError> {
        let response = self
            .incidents
            .retract_incident(pb::RetractIncidentRequest {
                id: id.to_string(),
                reason: reason.to_string(),
                expected_version,
            })
            .await?;
        response.into_inner().incident.ok_or_else(no_incident)
    }
}

impl HubClient {
    /// The change feed from `cursor` ("" for the beginning) to the present, page by page.
    pub async fn pull(
        &mut self,
        cursor: &str,
        filter: pb::SyncFilter,
        page_size: i32,
    ) -> Result<tonic::Streaming<pb::PullResponse>, ClientError> {
        let response = self
            .sync
            .pull(pb::PullRequest {
                cursor: cursor.to_string(),
                filter: Some(filter),
                page_size,
            })
            .await?;
        Ok(response.into_inner())
    }

    /// The change feed from `cursor`, then live.
    pub async fn subscribe(
        &mut self,
        cursor: &str,
        filter: pb::SyncFilter,
        heartbeat_seconds: i32,
    ) -> Result<tonic::Streaming<pb::SubscribeResponse>, ClientError> {
        let response = self
            .sync
            .subscribe(pb::SubscribeRequest {
                cursor: cursor.to_string(),
                filter: Some(filter),
                heartbeat_seconds,
            })
            .await?;
        Ok(response.into_inner())
    }
}

impl HubClient {
    /// Access-log records matching a query (auditors).
    pub async fn query_audit(
        &mut self,
        query: pb::QueryAuditRequest,
    ) -> Result<pb::QueryAuditResponse, ClientError> {
        Ok(self.audit.query_audit(query).await?.into_inner())
    }

    /// The access log from `from_seq` in messages bounded in bytes, each with the signed tree
    /// heads in its range (auditors).
    pub async fn export_audit(
        &mut self,
        from_seq: u64,
    ) -> Result<tonic::Streaming<pb::ExportAuditResponse>, ClientError> {
        Ok(self
            .audit
            .export_audit(pb::ExportAuditRequest { from_seq })
            .await?
            .into_inner())
    }

    /// The first page of signed tree heads and the hub's audit public key (auditors).
    pub async fn checkpoints(&mut self) -> Result<pb::GetCheckpointsResponse, ClientError> {
        self.tree_heads(0, 0).await
    }

    /// A page of signed tree heads from `from_size` (auditors).
    pub async fn tree_heads(
        &mut self,
        from_size: u64,
        page_size: i32,
    ) -> Result<pb::GetCheckpointsResponse, ClientError> {
        Ok(self
            .audit
            .get_checkpoints(pb::GetCheckpointsRequest {
                from_size,
                page_size,
            })
            .await?
            .into_inner())
    }

    /// The newest signed tree head (the hub signs its current head first).
    pub async fn tree_head(&mut self) -> Result<pb::GetTreeHeadResponse, ClientError> {
        Ok(self
            .audit
            .get_tree_head(pb::GetTreeHeadRequest {})
            .await?
            .into_inner())
    }

    /// Record `seq`, with a proof that it is in the signed tree of `tree_size` (0: the newest).
    pub async fn inclusion_proof(
        &mut self,
        seq: u64,
        tree_size: u64,
    ) -> Result<pb::GetInclusionProofResponse, ClientError> {
        Ok(self
            .audit
            .get_inclusion_proof(pb::GetInclusionProofRequest { seq, tree_size })
            .await?
            .into_inner())
    }

    /// A proof that the signed tree of `second_size` (0: the newest) extends the tree of
    /// `first_size`.
    pub async fn consistency_proof(
        &mut self,
        first_size: u64,
        second_size: u64,
    ) -> Result<pb::GetConsistencyProofResponse, ClientError> {
        Ok(self
            .audit
            .get_consistency_proof(pb::GetConsistencyProofRequest {
                first_size,
                second_size,
            })
            .await?
            .into_inner())
    }
}

impl HubClient {
    /// Federation status of every peer of the hub (admins).
    pub async fn list_peers(&mut self) -> Result<pb::ListPeersResponse, ClientError> {
        Ok(self
            .admin
            .list_peers(pb::ListPeersRequest {})
            .await?
            .into_inner())
    }
}

fn no_incident() -> ClientError {
    ClientError::Rpc {
        code: Code::Internal,
        message: "the hub sent no incident".into(),
    }
}

/// An error and its sources, joined: transport errors hide the useful part (the TLS alert) in
/// the chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn status_chain(status: &Status) -> String {
    match status.source() {
        Some(source) => format!("{}: {}", status.message(), error_chain(source)),
        None => status.message().to_string(),
    }
}
