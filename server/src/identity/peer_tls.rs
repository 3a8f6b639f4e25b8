//! The client side of federation TLS: the rustls configuration a pull worker connects to a
//! peer hub with. The peer's server certificate must chain to the agreement's CA (with its CRL
//! when one is configured) and name the endpoint, like any TLS server, AND carry exactly the
//! SPIFFE id `spiffe://<agreement trust domain>/hub/<agreement hub id>`: where one CA issues
//! certificates to several hubs, another hub that can redirect the connection is refused in the
//! handshake, before it can send us anything.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::PeerKind;
use super::peer::spiffe_identity;
use super::tls::{TlsError, crypto_provider, read_certs, read_crls};

/// Who the peer must be: its hub id and trust domain, from the agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPeer {
    pub hub_id: String,
    pub trust_domain: String,
}

/// The files a connection to a peer needs.
#[derive(Debug, Clone, Copy)]
pub struct PeerTlsFiles<'a> {
    /// The CA bundle the peer's server certificate must chain to.
    pub ca: &'a Path,
    /// CRLs of that CA, when the agreement names one.
    pub crl: Option<&'a Path>,
    /// This hub's certificate chain and key (the client certificate).
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// Why a peer's server certificate was refused after it chained (named in the TLS error the
/// worker records; no certificate content).
#[derive(Debug, thiserror::Error)]
enum PinError {
    #[error("the peer's certificate has no usable SPIFFE id: {0}")]
    NoIdentity(String),
    #[error("the peer's certificate is {found}, not the agreement's {expected}")]
    WrongPeer { found: String, expected: String },
}

/// A server certificate verifier that runs the stock WebPKI checks and then pins the SPIFFE id.
#[derive(Debug)]
struct PinnedPeerVerifier {
    chain: Arc<WebPkiServerVerifier>,
    expected: ExpectedPeer,
}

impl PinnedPeerVerifier {
    /// Err unless the end-entity certificate is exactly the expected peer hub.
    fn check_identity(&self, end_entity: &CertificateDer<'_>) -> Result<(), PinError> {
        let leaf = [end_entity.clone().into_owned()];
        let (domain, identity) = spiffe_identity(Some(&leaf), &self.expected.trust_domain)
            .map_err(|error| PinError::NoIdentity(error.to_string()))?;
        let kind = match identity.kind {
            PeerKind::Hub => "hub",
            PeerKind::Org => "org",
        };
        if identity.kind != PeerKind::Hub
            || identity.id != self.expected.hub_id
            || domain != self.expected.trust_domain
        {
            return Err(PinError::WrongPeer {
                found: format!("spiffe://{domain}/{kind}/{}", identity.id),
                expected: format!(
                    "spiffe://{}/hub/{}",
                    self.expected.trust_domain, self.expected.hub_id
                ),
            });
        }
        Ok(())
    }
}

impl ServerCertVerifier for PinnedPeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain first: an identity read from an unverified certificate means nothing.
        self.chain.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        self.check_identity(end_entity).map_err(|error| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                Arc::new(error),
            )))
        })?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// The client configuration for connecting to `expected` (TLS 1.3, ALPN h2, this hub's
/// certificate as the client certificate, the peer pinned as above).
pub fn peer_client_config(
    files: PeerTlsFiles<'_>,
    expected: ExpectedPeer,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = crypto_provider();
    let mut roots = RootCertStore::empty();
    for cert in read_certs(files.ca, "peer CA certificates")? {
        roots
            .add(cert)
            .map_err(|error| TlsError::Config(format!("peer CA certificate: {error}")))?;
    }
    let mut builder =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    // A configured CRL that cannot be read is an error, never "no revocation" (fail closed).
    if let Some(crl) = files.crl {
        builder = builder
            .with_crls(read_crls(crl)?)
            .enforce_revocation_expiration();
    }
    let chain = builder
        .build()
        .map_err(|error| TlsError::Config(format!("peer server verifier: {error}")))?;
    let verifier = Arc::new(PinnedPeerVerifier { chain, expected });
    let own_chain = read_certs(files.cert, "hub certificate")?;
    let key = PrivateKeyDer::from_pem_file(files.key).map_err(|error| TlsError::Read {
        what: "hub private key",
        path: files.key.display().to_string(),
        detail: error.to_string(),
    })?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| TlsError::Config(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(own_chain, key)
        .map_err(|error| TlsError::Config(format!("hub certificate and key: {error}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}
