//! When the identity material in force stops being good: the hub certificate's expiry and the
//! CRL's issue and next-update times. The metrics endpoint and `slt-hub doctor` report them, so
//! an operator hears of an expiring certificate or a CRL nobody re-signed before clients do.

use std::path::Path;

use time::OffsetDateTime;

/// Unix times (seconds); `None` when the file is absent or unreadable (the loader reports why).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub cert_not_after: Option<i64>,
    pub crl_this_update: Option<i64>,
    pub crl_next_update: Option<i64>,
}

/// Why a file's validity could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ValidityError {
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
}

fn unreadable(path: &Path, message: impl ToString) -> ValidityError {
    ValidityError::Unreadable {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The first certificate's notAfter in a PEM file.
pub fn cert_not_after(path: &Path) -> Result<OffsetDateTime, ValidityError> {
    let text = std::fs::read(path).map_err(|error| unreadable(path, error))?;
    let block = pem::parse_many(&text)
        .map_err(|error| unreadable(path, error))?
        .into_iter()
        .find(|block| block.tag() == "CERTIFICATE")
        .ok_or_else(|| unreadable(path, "no CERTIFICATE block"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(block.contents())
        .map_err(|error| unreadable(path, error))?;
    Ok(cert.validity().not_after.to_datetime())
}

/// A CRL file's earliest thisUpdate and nextUpdate over its CRLs (the one to re-sign first).
pub fn crl_times(path: &Path) -> Result<(OffsetDateTime, Option<OffsetDateTime>), ValidityError> {
    let text = std::fs::read(path).map_err(|error| unreadable(path, error))?;
    let mut this_update: Option<OffsetDateTime> = None;
    let mut next_update: Option<OffsetDateTime> = None;
    for block in pem::parse_many(&text).map_err(|error| unreadable(path, error))? {
        if block.tag() != "X509 CRL" {
            continue;
        }
        let (_, crl) = x509_parser::parse_x509_crl(block.contents())
            .map_err(|error| unreadable(path, error))?;
        let this = crl.last_update().to_datetime();
        this_update = Some(this_update.map_or(this, |known| known.min(this)));
        if let Some(next) = crl.next_update().map(|next| next.to_datetime()) {
            next_update = Some(next_update.map_or(next, |known| known.min(next)));
        }
    }
    let this_update = this_update.ok_or_else(|| unreadable(path, "no X509 CRL block"))?;
    Ok((this_update, next_update))
}

/// The validity of the hub certificate and CRL at `cert` and `crl`.
pub fn read(cert: &Path, crl: Option<&Path>) -> Validity {
    let crl = crl.and_then(|path| crl_times(path).ok());
    Validity {
        cert_not_after: cert_not_after(cert)
            .ok()
            .map(OffsetDateTime::unix_timestamp),
        crl_this_update: crl.map(|(this, _)| this.unix_timestamp()),
        crl_next_update: crl
            .and_then(|(_, next)| next)
            .map(OffsetDateTime::unix_timestamp),
    }
}
