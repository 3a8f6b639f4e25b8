//! A small certificate authority for one trust domain, built on rcgen: the CA itself, org and
//! hub certificates carrying their SPIFFE ids, and the CRL. Used by dev mode, tests and the
//! `slt-hub pki` commands ([`PkiDir`]: a CA directory with its state file, issued certificates
//! and the CRL regenerated on every revocation). Private keys are written with mode 0600, and
//! every file is written to a temporary name and renamed, so a hub watching it never reads half
//! a file.

use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
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
    #[error("could not read {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("{0}")]
    Invalid(String),
}

/// Writes the hub's federation key pair (`federation-signing.key`, `federation-signing.pub.pem`)
/// into `out` unless it holds one: peers keep its public half in their agreements, so
/// renewing the certificate must not change it.
pub fn ensure_federation_key(out: &Path) -> Result<(), PkiError> {
    let private = out.join("federation-signing.key");
    if private.exists() {
        return Ok(());
    }
    let pair = crate::identity::keys::generate_ed25519().map_err(|_| PkiError::Random)?;
    write_public(&out.join("federation-signing.pub.pem"), &pair.public_pem)?;
    write_secret(&private, &pair.private_pem)
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
    /// The serial number, lower-case hex (what `slt-hub pki revoke --serial` takes).
    pub serial: String,
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
        let serial = random_serial()?;
        let serial_hex = crate::identity::keys::hex(serial.as_ref());
        params.serial_number = Some(serial);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: serial_hex,
        })
    }

    /// A CRL revoking nothing, valid for 30 days.
    pub fn empty_crl(&self) -> Result<String, PkiError> {
        self.crl(&[], 1, Duration::days(30))
    }

    /// A CRL numbered `number` revoking `revoked` (serial bytes, revocation time), valid from
    /// five minutes ago until `valid_for` from now (its nextUpdate; the hub refuses every
    /// client certificate once that passes, so re-sign it in time: `slt-hub pki crl`).
    pub fn crl(
        &self,
        revoked: &[(Vec<u8>, OffsetDateTime)],
        number: u64,
        valid_for: Duration,
    ) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + valid_for,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, at)| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial),
                    revocation_time: *at,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
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
    write_atomic(path, contents, false)
}

/// Writes a secret (private keys, tokens) readable by its owner only.
pub fn write_secret(path: &Path, contents: &str) -> Result<(), PkiError> {
    write_atomic(path, contents, true)
}

/// Writes `contents` to a temporary file beside `path` (mode 0600 for secrets), then renames
/// it over `path`: readers see the old file or the new one, never a mix.
fn write_atomic(path: &Path, contents: &str, secret: bool) -> Result<(), PkiError> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| write_error(parent, source))?;
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    // The mode below applies only to a file this call creates: a temporary left behind (a
    // crash, a reused pid) or planted by someone else (a world-readable file, a symlink) must
    // never receive a secret. Remove what is there, then insist on creating the file afresh.
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(write_error(&temporary, source)),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(path, source));
    }
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        write_error(path, source)
    })
}

fn write_error(path: &Path, source: std::io::Error) -> PkiError {
    PkiError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// The serial number of a certificate (PEM), lower-case hex.
pub fn certificate_serial(cert_pem: &str) -> Result<String, PkiError> {
    let parsed = pem::parse(cert_pem)
        .ok()
        .filter(|parsed| parsed.tag() == "CERTIFICATE")
        .ok_or_else(|| PkiError::Invalid("not a PEM certificate".into()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(parsed.contents())
        .map_err(|error| PkiError::Invalid(format!("certificate does not parse: {error}")))?;
    Ok(crate::identity::keys::hex(cert.raw_serial()))
}

/// The state of a CA directory (`pki.toml`): what `slt-hub pki` needs between runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiState {
    pub trust_domain: String,
    /// The number of the CRL last written (CRL numbers only rise).
    pub crl_number: u64,
    /// How long each CRL is valid (its nextUpdate), in days.
    pub crl_days: u32,
    #[serde(default)]
    pub issued: Vec<IssuedRecord>,
    #[serde(default)]
    pub revoked: Vec<RevokedRecord>,
}

/// A certificate this CA issued.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedRecord {
    pub serial: String,
    /// The SPIFFE id it carries.
    pub spiffe_id: String,
    pub not_after: String,
}

/// A revoked certificate.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedRecord {
    pub serial: String,
    /// RFC 3339.
    pub revoked_at: String,
}

/// A CA directory: `ca.pem`, `ca.key` (0600), `crl.pem`, `pki.toml`, and what it issued under
/// `orgs/<id>/` and `hubs/<id>/` (`cert.pem`, `key.pem` 0600).
pub struct PkiDir {
    pub dir: std::path::PathBuf,
    pub state: PkiState,
    pub ca: CertificateAuthority,
}

impl PkiDir {
    pub fn ca_path(dir: &Path) -> std::path::PathBuf {
        dir.join("ca.pem")
    }
    pub fn crl_path(dir: &Path) -> std::path::PathBuf {
        dir.join("crl.pem")
    }
    fn state_path(dir: &Path) -> std::path::PathBuf {
        dir.join("pki.toml")
    }

    /// Creates a new CA in `dir` (which must not hold one already) and its first CRL.
    pub fn init(dir: &Path, trust_domain: &str, crl_days: u32) -> Result<PkiDir, PkiError> {
        if Self::state_path(dir).exists() || Self::ca_path(dir).exists() {
            return Err(PkiError::Invalid(format!(
                "{} already holds a CA; refusing to overwrite it",
                dir.display()
            )));
        }
        if trust_domain.is_empty()
            || !trust_domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(PkiError::Invalid(format!(
                "--trust-domain '{trust_domain}': use lower-case letters, digits, '.' and '-'"
            )));
        }
        if crl_days == 0 {
            return Err(PkiError::Invalid("--crl-days must be at least 1".into()));
        }
        let ca = CertificateAuthority::create(trust_domain)?;
        write_secret(&dir.join("ca.key"), &ca.key_pem)?;
        write_public(&Self::ca_path(dir), &ca.cert_pem)?;
        let mut pki = PkiDir {
            dir: dir.to_path_buf(),
            state: PkiState {
                trust_domain: trust_domain.to_string(),
                crl_number: 0,
                crl_days,
                issued: Vec::new(),
                revoked: Vec::new(),
            },
            ca,
        };
        pki.write_crl()?;
        Ok(pki)
    }

    /// Opens an existing CA directory.
    pub fn open(dir: &Path) -> Result<PkiDir, PkiError> {
        let read = |path: std::path::PathBuf| {
            std::fs::read_to_string(&path).map_err(|error| PkiError::Read {
                path: path.display().to_string(),
                detail: error.to_string(),
            })
        };
        let state_path = Self::state_path(dir);
        let state: PkiState = toml::from_str(&read(state_path.clone())?).map_err(|error| {
            PkiError::Invalid(format!("{} is invalid: {error}", state_path.display()))
        })?;
        let ca =
            CertificateAuthority::from_pem(&read(Self::ca_path(dir))?, &read(dir.join("ca.key"))?)?;
        Ok(PkiDir {
            dir: dir.to_path_buf(),
            state,
            ca,
        })
    }

    /// Issues a client certificate for org `org`, valid `days`; writes `orgs/<org>/`.
    pub fn issue_org(&mut self, org: &str, days: u32) -> Result<std::path::PathBuf, PkiError> {
        if !crate::identity::peer::is_valid_id(org) {
            return Err(PkiError::Invalid(format!(
                "--org '{org}': 1-64 lower-case letters, digits and '-'"
            )));
        }
        let mut spec = LeafSpec::org(&self.state.trust_domain, org);
        spec.not_after = OffsetDateTime::now_utc() + Duration::days(i64::from(days.max(1)));
        self.issue_into(&spec, self.dir.join("orgs").join(org))
    }

    /// Issues a hub certificate (server and client) for `hub` with the names clients dial.
    pub fn issue_hub(
        &mut self,
        hub: &str,
        dns_names: &[String],
        ips: &[IpAddr],
        days: u32,
    ) -> Result<std::path::PathBuf, PkiError> {
        if !crate::identity::peer::is_valid_id(hub) {
            return Err(PkiError::Invalid(format!(
                "--hub '{hub}': 1-64 lower-case letters, digits and '-'"
            )));
        }
        if dns_names.is_empty() && ips.is_empty() {
            return Err(PkiError::Invalid(
                "give at least one --dns name or --ip address clients dial".into(),
            ));
        }
        let names: Vec<&str> = dns_names.iter().map(String::as_str).collect();
        let mut spec = LeafSpec::hub(&self.state.trust_domain, hub, &names, ips);
        spec.not_after = OffsetDateTime::now_utc() + Duration::days(i64::from(days.max(1)));
        let out = self.issue_into(&spec, self.dir.join("hubs").join(hub))?;
        ensure_federation_key(&out)?;
        Ok(out)
    }

    fn issue_into(
        &mut self,
        spec: &LeafSpec,
        out: std::path::PathBuf,
    ) -> Result<std::path::PathBuf, PkiError> {
        let issued = self.ca.issue(spec)?;
        // Key first: a hub watching these files never pairs a new certificate with an old key
        // for long (and refuses a mismatched pair anyway).
        write_secret(&out.join("key.pem"), &issued.key_pem)?;
        write_public(&out.join("cert.pem"), &issued.cert_pem)?;
        self.state.issued.push(IssuedRecord {
            serial: issued.serial.clone(),
            spiffe_id: spec.uris.first().cloned().unwrap_or_default(),
            not_after: rfc3339(spec.not_after),
        });
        self.save()?;
        Ok(out)
    }

    /// Revokes `serial` (hex, colons allowed) and writes a new CRL. Revoking twice is a no-op
    /// that still re-signs the CRL.
    pub fn revoke(&mut self, serial: &str) -> Result<(), PkiError> {
        let serial: String = serial
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if serial.is_empty()
            || serial.len() % 2 != 0
            || !serial.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(PkiError::Invalid(format!(
                "--serial '{serial}' is not a hex serial number"
            )));
        }
        if !self
            .state
            .issued
            .iter()
            .any(|issued| issued.serial == serial)
        {
            return Err(PkiError::Invalid(format!(
                "serial {serial} was not issued by this CA (see pki.toml)"
            )));
        }
        if !self
            .state
            .revoked
            .iter()
            .any(|revoked| revoked.serial == serial)
        {
            self.state.revoked.push(RevokedRecord {
                serial,
                revoked_at: rfc3339(OffsetDateTime::now_utc()),
            });
        }
        self.write_crl()
    }

    /// Signs a fresh CRL (next number, new nextUpdate) over everything revoked.
    pub fn write_crl(&mut self) -> Result<(), PkiError> {
        let mut revoked = Vec::new();
        for record in &self.state.revoked {
            let bytes = (0..record.serial.len())
                .step_by(2)
                .map(|at| u8::from_str_radix(&record.serial[at..at + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| {
                    PkiError::Invalid(format!("pki.toml: bad serial {}", record.serial))
                })?;
            let at = OffsetDateTime::parse(
                &record.revoked_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|_| PkiError::Invalid(format!("pki.toml: bad time {}", record.revoked_at)))?;
            revoked.push((bytes, at));
        }
        self.state.crl_number += 1;
        let crl = self.ca.crl(
            &revoked,
            self.state.crl_number,
            Duration::days(i64::from(self.state.crl_days)),
        )?;
        self.save()?;
        write_public(&Self::crl_path(&self.dir), &crl)
    }

    fn save(&self) -> Result<(), PkiError> {
        let text = toml::to_string_pretty(&self.state)
            .map_err(|error| PkiError::Invalid(format!("pki.toml: {error}")))?;
        write_public(&Self::state_path(&self.dir), &text)
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file already at the temporary name (left by a crash or planted, readable by
    /// everyone) must not become the secret's file with its permissions.
    #[cfg(unix)]
    #[test]
    fn a_secret_is_never_written_into_a_pre_existing_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key.pem");
        let temporary = dir
            .path()
            .join(format!(".key.pem.tmp-{}", std::process::id()));
        std::fs::write(&temporary, "stale").expect("plant");
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        write_secret(&path, "secret").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "secret");

        // A symlink at the temporary name is not followed.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "untouched").expect("write");
        std::os::unix::fs::symlink(&elsewhere, &temporary).expect("symlink");
        write_secret(&path, "secret 2").expect("write");
        assert_eq!(
            std::fs::read_to_string(&elsewhere).expect("read"),
            "untouched"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "secret 2");
    }

    #[test]
    fn a_ca_directory_issues_and_revokes_with_private_keys_0600() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path().join("pki");
        let mut pki = PkiDir::init(&root, "slt.test", 7).expect("init");
        assert!(PkiDir::init(&root, "slt.test", 7).is_err(), "no overwrite");
        let org_dir = pki.issue_org("ngo-alpha", 30).expect("org");
        let cert = std::fs::read_to_string(org_dir.join("cert.pem")).expect("cert");
        let serial = certificate_serial(&cert).expect("serial");
        assert_eq!(pki.state.issued[0].serial, serial);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for key in [root.join("ca.key"), org_dir.join("key.pem")] {
                let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", key.display());
            }
        }
        let before = std::fs::read_to_string(PkiDir::crl_path(&root)).expect("crl");
        let mut reopened = PkiDir::open(&root).expect("open");
        reopened.revoke(&serial).expect("revoke");
        assert!(reopened.revoke("abcd").is_err(), "unknown serial");
        let after = std::fs::read_to_string(PkiDir::crl_path(&root)).expect("crl");
        assert_ne!(before, after);
        assert_eq!(reopened.state.crl_number, 2);
        let parsed = pem::parse(&after).expect("pem");
        let (_, crl) = x509_parser::parse_x509_crl(parsed.contents()).expect("crl");
        let listed: Vec<String> = crl
            .iter_revoked_certificates()
            .map(|revoked| crate::identity::keys::hex(revoked.raw_serial()))
            .collect();
        assert_eq!(listed, vec![serial]);
        assert!(crl.next_update().is_some());
    }
}
