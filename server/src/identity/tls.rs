//! The TLS side of identity: a rustls `ServerConfig` that requires client certificates from the
//! trust domain's CA (TLS 1.3 only, ALPN h2, CRLs checked on the whole chain), and an accept loop
//! that hands finished TLS streams to tonic's `serve_with_incoming`.
//!
//! The config sits behind an `ArcSwap` that `identity::reload` replaces, so reloaded
//! certificates or CRLs affect new connections without a restart; handshakes run off the accept loop with a timeout, and refused
//! handshakes are logged here because tonic would drop them silently.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes refused or timed out since the process started (they have no principal, so
/// they are counted and logged here rather than in the access log).
pub static HANDSHAKES_REFUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Most TLS handshakes in progress at once.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 512;

/// Where the hub's TLS material lives.
#[derive(Debug, Clone)]
pub struct TlsPaths {
    /// The trust domain's CA bundle (PEM): client certificates must chain to it.
    pub ca: PathBuf,
    /// CRLs (PEM) issued by that CA; optional.
    pub crl: Option<PathBuf>,
    /// The hub's own certificate chain (PEM).
    pub cert: PathBuf,
    /// The hub's private key (PEM).
    pub key: PathBuf,
    /// Peer hubs' CA bundles and their optional CRLs (federation). The handshake accepts them;
    /// `identity::Authenticator::peer` then accepts a certificate anchored in one of them only
    /// as that peer hub.
    pub peer_cas: Vec<(PathBuf, Option<PathBuf>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {what} from {path}: {detail}")]
    Read {
        what: &'static str,
        path: String,
        detail: String,
    },
    #[error("{what} in {path} holds no usable entry")]
    Empty { what: &'static str, path: String },
    #[error("TLS configuration rejected: {0}")]
    Config(String),
}

/// The process-wide crypto provider: ring, the only one linked into the workspace.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process default provider (idempotent). Call at the start of `main` and
/// of test harnesses so that any library asking for the default finds one.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the server's TLS configuration from files.
pub fn server_config(paths: &TlsPaths) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();

    let mut roots = RootCertStore::empty();
    for cert in read_certs(&paths.ca, "CA certificates")? {
        roots
            .add(cert)
            .map_err(|error| TlsError::Config(format!("CA certificate: {error}")))?;
    }
    // A configured CRL that cannot be read is an error, never "no revocation" (fail closed).
    let mut crls = match &paths.crl {
        Some(path) => read_crls(path)?,
        None => Vec::new(),
    };
    // A peer CA without a CRL: its certificates' revocation status is unknown. Accepting that
    // is a property of the whole verifier, so it is switched on only when such a peer exists
    // (every certificate of a CA with a CRL still has a known status).
    let mut peer_without_crl = false;
    for (ca, crl) in &paths.peer_cas {
        for cert in read_certs(ca, "peer CA certificates")? {
            roots
                .add(cert)
                .map_err(|error| TlsError::Config(format!("peer CA certificate: {error}")))?;
        }
        match crl {
            Some(crl) => crls.extend(read_crls(crl)?),
            None => peer_without_crl = true,
        }
    }
    let unknown_status_allowed = peer_without_crl && !crls.is_empty();
    // CRLs apply to the whole chain (rustls' default), and an expired CRL (past its
    // nextUpdate) fails closed rather than silently vouching for revoked certificates.
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crls)
            .enforce_revocation_expiration();
    if unknown_status_allowed {
        builder = builder.allow_unknown_revocation_status();
    }
    let verifier = builder
        .build()
        .map_err(|error| TlsError::Config(format!("client verifier: {error}")))?;

    let chain = read_certs(&paths.cert, "hub certificate")?;
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(|error| TlsError::Read {
        what: "hub private key",
        path: paths.key.display().to_string(),
        detail: error.to_string(),
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Config(format!("hub certificate and key: {error}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A verifier for client certificates anchored in one CA bundle (with its CRLs): used after
/// the handshake to tell which trust anchor a certificate chains to.
pub fn anchor_verifier(
    ca: &Path,
    crl: Option<&Path>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca, "CA certificates")? {
        roots
            .add(cert)
            .map_err(|error| TlsError::Config(format!("CA certificate: {error}")))?;
    }
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider());
    if let Some(crl) = crl {
        builder = builder
            .with_crls(read_crls(crl)?)
            .enforce_revocation_expiration();
    }
    builder
        .build()
        .map_err(|error| TlsError::Config(format!("client verifier: {error}")))
}

/// Whether `chain` (leaf first) verifies against `verifier` now.
pub fn chains_to(
    verifier: &dyn rustls::server::danger::ClientCertVerifier,
    chain: &[CertificateDer<'static>],
) -> bool {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return false;
    };
    verifier
        .verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now())
        .is_ok()
}

pub(crate) fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Read {
            what,
            path: path.display().to_string(),
            detail: error.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

pub(crate) fn read_crls(
    path: &Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Read {
            what: "certificate revocation list",
            path: path.display().to_string(),
            detail: error.to_string(),
        })?;
    // A configured CRL file without a CRL would silently turn revocation off: refuse it.
    if crls.is_empty() {
        return Err(TlsError::Empty {
            what: "certificate revocation list",
            path: path.display().to_string(),
        });
    }
    Ok(crls)
}

/// The live TLS configuration; `store` a new one to reload (new connections use it).
pub type SharedServerConfig = Arc<ArcSwap<ServerConfig>>;

/// A TLS connection with a hard end of life. tonic's `max_connection_age` sends GOAWAY at the
/// age and then waits for open streams (a live Subscribe could keep a revoked client connected
/// for ever); its `max_connection_age_grace`, when set, replaces that GOAWAY with a forced close
/// at age + grace instead of adding to it (tonic 0.14). So the hub asks tonic for the graceful
/// part only and enforces the hard bound here: once `deadline` passes, every read and write
/// fails and the connection is dropped.
pub struct AgedStream {
    inner: TlsStream<TcpStream>,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl AgedStream {
    pub fn new(inner: TlsStream<TcpStream>, lifetime: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(lifetime)),
        }
    }

    /// Err once the connection is past its end of life (and arranges a wake-up for then).
    fn check(&mut self, cx: &mut std::task::Context<'_>) -> io::Result<()> {
        match self.deadline.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection closed: older than max_connection_age plus its grace",
            )),
            std::task::Poll::Pending => Ok(()),
        }
    }
}

use std::future::Future as _;

impl tokio::io::AsyncRead for AgedStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(error) = this.check(cx) {
            return std::task::Poll::Ready(Err(error));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for AgedStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(error) = this.check(cx) {
            return std::task::Poll::Ready(Err(error));
        }
        std::pin::Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(error) = this.check(cx) {
            return std::task::Poll::Ready(Err(error));
        }
        std::pin::Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for AgedStream {
    type ConnectInfo = <TlsStream<TcpStream> as tonic::transport::server::Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Accepts TCP connections on `listener` and yields completed mutual-TLS streams, each closed
/// for good `lifetime` after its handshake (see [`AgedStream`]).
///
/// Returns the stream for `serve_with_incoming` and the accept task's handle (abort it when the
/// server stops). Refused handshakes are logged with the peer address and the reason; nothing
/// from the client's credentials beyond that reason is logged.
pub fn incoming(
    listener: TcpListener,
    config: SharedServerConfig,
    lifetime: Duration,
) -> (
    ReceiverStream<Result<AgedStream, io::Error>>,
    JoinHandle<()>,
) {
    incoming_with(listener, config, lifetime, None)
}

/// [`incoming`] for an HTTP/1.1 listener (the TAXII server): the same certificates, CRLs and
/// client verification in force, with `http/1.1` as the only application protocol.
pub fn incoming_http1(
    listener: TcpListener,
    config: SharedServerConfig,
    lifetime: Duration,
) -> (
    ReceiverStream<Result<AgedStream, io::Error>>,
    JoinHandle<()>,
) {
    incoming_with(listener, config, lifetime, Some(b"http/1.1"))
}

fn incoming_with(
    listener: TcpListener,
    config: SharedServerConfig,
    lifetime: Duration,
    protocol: Option<&'static [u8]>,
) -> (
    ReceiverStream<Result<AgedStream, io::Error>>,
    JoinHandle<()>,
) {
    // A small buffer: finished handshakes wait here until tonic picks them up.
    let (sender, receiver) = mpsc::channel(64);
    // Bounds handshakes in progress, so a flood of slow clients cannot exhaust memory.
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Our own acceptor bypasses tonic's TCP_NODELAY; without it every unary call waits
            // on Nagle + delayed ACK (~40 ms).
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, %peer, "could not set TCP_NODELAY");
            }
            let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "too many TLS handshakes in progress; connection dropped");
                continue;
            };
            let acceptor = match protocol {
                None => TlsAcceptor::from(config.load_full()),
                Some(protocol) => {
                    let mut own = ServerConfig::clone(&config.load_full());
                    own.alpn_protocols = vec![protocol.to_vec()];
                    TlsAcceptor::from(Arc::new(own))
                }
            };
            let sender = sender.clone();
            tokio::spawn(async move {
                let stream = handshake(acceptor, tcp, peer).await;
                drop(permit);
                if let Some(stream) = stream {
                    // The receiver is gone only when the server is shutting down.
                    let _ = sender.send(Ok(AgedStream::new(stream, lifetime))).await;
                }
            });
        }
    });
    (ReceiverStream::new(receiver), task)
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            let total = HANDSHAKES_REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tracing::info!(%peer, reason = %error, refused_total = total, "TLS handshake refused");
            None
        }
        Err(_) => {
            let total = HANDSHAKES_REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tracing::info!(%peer, refused_total = total, "TLS handshake timed out");
            None
        }
    }
}
