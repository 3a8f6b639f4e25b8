//! The pull worker's connection to a peer: our own TCP + rustls connector (tonic's stock TLS
//! cannot pin the peer's SPIFFE id), the agreement's connect timeout around TCP and the TLS
//! handshake, and a SyncService client that sends this round's bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use slt_proto::v1::sync_service_client::SyncServiceClient;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::agreement::PeerAgreement;
use crate::identity::peer_tls::{ExpectedPeer, PeerTlsFiles, peer_client_config};

/// Largest Pull page we decode: twice what any hub sends (`MAX_MESSAGE_BYTES` of the server),
/// so a peer cannot make us hold more.
const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Why connecting to a peer failed (no credentials or content in the message).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("peers '{peer}': endpoint '{endpoint}' is not https://host:port")]
    Endpoint { peer: String, endpoint: String },
    #[error("peer TLS configuration: {0}")]
    Tls(#[from] crate::identity::tls::TlsError),
    #[error("connecting to the peer: {0}")]
    Transport(String),
}

/// Where our own TLS material is, and which trust domain an agreement without one means.
#[derive(Debug, Clone)]
pub struct OwnTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub trust_domain: String,
}

/// Sends the current bearer token with every call.
#[derive(Clone)]
pub struct Bearer(pub Arc<std::sync::RwLock<AsciiMetadataValue>>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// The bearer header value for `token`.
pub fn bearer_value(token: &str) -> Option<AsciiMetadataValue> {
    AsciiMetadataValue::try_from(format!("Bearer {}", token.trim())).ok()
}

pub type PeerSync = SyncServiceClient<InterceptedService<Channel, Bearer>>;

/// Host (brackets of an IPv6 host removed), port and authority of an `https://host:port`
/// endpoint.
fn host_and_port(agreement: &PeerAgreement) -> Result<(String, u16, String), ConnectError> {
    let bad = || ConnectError::Endpoint {
        peer: agreement.hub_id.clone(),
        endpoint: agreement.endpoint.clone(),
    };
    let uri: http::Uri = agreement.endpoint.parse().map_err(|_| bad())?;
    if uri.scheme_str() != Some("https") {
        return Err(bad());
    }
    let authority = uri.authority().ok_or_else(bad)?.to_string();
    let host = uri.host().ok_or_else(bad)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((host, uri.port_u16().unwrap_or(443), authority))
}

/// Connects to the agreement's peer, refusing any server that is not that peer (see
/// `identity::peer_tls`); the TCP connection and the handshake together are bounded by the
/// agreement's `connect_timeout_millis`.
pub async fn connect(
    own: &OwnTls,
    agreement: &PeerAgreement,
    bearer: Bearer,
) -> Result<PeerSync, ConnectError> {
    let (host, port, authority) = host_and_port(agreement)?;
    let ca: &Path = agreement.ca.as_deref().unwrap_or(&own.ca);
    let expected = ExpectedPeer {
        hub_id: agreement.hub_id.clone(),
        trust_domain: agreement
            .trust_domain
            .clone()
            .unwrap_or_else(|| own.trust_domain.clone()),
    };
    let files = PeerTlsFiles {
        ca,
        crl: agreement.crl.as_deref(),
        cert: &own.cert,
        key: &own.key,
    };
    let tls = TlsConnector::from(peer_client_config(files, expected)?);
    let server_name = ServerName::try_from(host.clone())
        .map_err(|_| ConnectError::Transport(format!("'{host}' is not a host name")))?;
    let connector = tower::service_fn(move |_: http::Uri| {
        let (tls, server_name, host) = (tls.clone(), server_name.clone(), host.clone());
        async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let stream = tls.connect(server_name, tcp).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    let connect_timeout = Duration::from_millis(agreement.connect_timeout_millis);
    // "http": the connector does TLS itself; with "https" tonic would wrap it in its own TLS.
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|error| ConnectError::Transport(error.to_string()))?
        .connect_timeout(connect_timeout)
        .timeout(Duration::from_millis(agreement.call_timeout_millis));
    let channel = endpoint.connect_with_connector(connector);
    let channel = tokio::time::timeout(connect_timeout, channel)
        .await
        .map_err(|_| ConnectError::Transport("connect timed out".into()))?
        .map_err(|error| ConnectError::Transport(error_chain(&error)))?;
    Ok(SyncServiceClient::with_interceptor(channel, bearer)
        .max_decoding_message_size(MAX_MESSAGE_BYTES))
}

/// An error and its sources, for the peer status (the TLS reason is in a source).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
