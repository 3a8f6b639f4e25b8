//! A small certificate authority for one trust domain, built on rcgen: the CA itself, org and
//! hub certificates carrying their SPIFFE ids, and the CRL. Used by dev mode and tests (and by
//! `slt-hub pki` when the identity work lands). Private keys are written with mode 0600.

use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("could not write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("'{0}' is not a valid SAN value")]
    BadSan(String),
    #[error("the system random generator failed")]
    Random,
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What to put in a leaf certificate. Tests use the knobs to make bad certificates on purpose.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    pub common_name: String,
    /// URI SANs (normally exactly one `spiffe://` id).
    pub uris: Vec<String>,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub server: bool,
    pub client: bool,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl LeafSpec {
    /// A client certificate for `spiffe://<domain>/org/<org>`, valid for a year.
    pub fn org(trust_domain: &str, org: &str) -> LeafSpec {
        let now = OffsetDateTime::now_utc();
        LeafSpec {
            common_name: org.to_string(),
            uris: vec![format!("spiffe://{trust_domain}/org/{org}")],
            dns_names: Vec::new(),
            ips: Vec::new(),
            server: false,
            client: true,
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(365),
        }
    }

    /// A hub certificate (server and client) for `spiffe://<domain>/hub/<hub>`, with the DNS
    /// names and addresses clients dial.
    pub fn hub(trust_domain: &str, hub: &str, dns_names: &[&str], ips: &[IpAddr]) -> LeafSpec {
        let mut spec = LeafSpec::org(trust_domain, hub);
        spec.uris = vec![format!("spiffe://{trust_domain}/hub/{hub}")];
        spec.dns_names = dns_names.iter().map(|name| name.to_string()).collect();
        spec.ips = ips.to_vec();
        spec.server = true;
        spec
    }
}

/// A CA that can issue certificates and CRLs.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl CertificateAuthority {
    /// A new self-signed CA for `trust_domain`, valid for ten years.
    pub fn create(trust_domain: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("SLT Hub CA ({trust_domain})"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem,
            key_pem,
        })
    }

    /// Loads a CA from its certificate and key PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        })
    }

    /// Issues a leaf certificate with a fresh key.
    pub fn issue(&self, spec: &LeafSpec) -> Result<IssuedCert, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, spec.common_name.clone());
        let mut sans = Vec::new();
        for uri in &spec.uris {
            sans.push(SanType::URI(
                uri.as_str()
                    .try_into()
                    .map_err(|_| PkiError::BadSan(uri.clone()))?,
            ));
        }
        for name in &spec.dns_names {
            sans.push(SanType::DnsName(
                name.as_str()
                    .try_into()
                    .map_err(|_| PkiError::BadSan(name.clone()))?,
            ));
        }
        sans.extend(spec.ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if spec.server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if spec.client {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        params.serial_number = Some(random_serial()?);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A CRL revoking nothing, valid for 30 days.
    pub fn empty_crl(&self) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    // Positive and non-zero leading byte: a canonical DER INTEGER of 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Writes a public file (certificates, CRLs, profiles).
pub fn write_public(path: &Path, contents: &str) -> Result<(), PkiError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| write_error(parent, source))?;
    }
    std::fs::write(path, contents).map_err(|source| write_error(path, source))
}

/// Writes a secret (private keys, tokens) readable by its owner only.
pub fn write_secret(path: &Path, contents: &str) -> Result<(), PkiError> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| write_error(parent, source))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|source| write_error(path, source))?;
    file.write_all(contents.as_bytes())
        .map_err(|source| write_error(path, source))
}

fn write_error(path: &Path, source: std::io::Error) -> PkiError {
    PkiError::Write {
        path: path.display().to_string(),
        source,
    }
}
