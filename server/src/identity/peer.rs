//! The caller's organisation is its certificate: exactly one URI SAN
//! `spiffe://<trust-domain>/org/<org-id>` (or `/hub/<hub-id>` for peer hubs).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::keys::hex;
use super::{AuthError, PeerKind};

/// The organisation a client certificate speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    pub id: String,
    pub kind: PeerKind,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub cert_sha256: String,
    /// The same digest as base64url without padding: the RFC 8705 `x5t#S256` thumbprint a
    /// bound token's `cnf` must carry.
    pub cert_x5t_s256: String,
}

/// Reads the SPIFFE identity from the leaf certificate the TLS layer verified; it must be of
/// `trust_domain`.
pub fn peer_identity(
    certs: Option<&[CertificateDer<'static>]>,
    trust_domain: &str,
) -> Result<PeerIdentity, AuthError> {
    let (domain, identity) = spiffe_identity(certs, trust_domain)?;
    if domain != trust_domain {
        return Err(AuthError::WrongTrustDomain(domain));
    }
    Ok(identity)
}

/// Reads the SPIFFE identity and its trust domain (any domain: a peer hub may live in
/// another). `trust_domain` only names the expected form in errors.
pub fn spiffe_identity(
    certs: Option<&[CertificateDer<'static>]>,
    trust_domain: &str,
) -> Result<(String, PeerIdentity), AuthError> {
    let leaf = certs
        .and_then(|certs| certs.first())
        .ok_or(AuthError::NoCertificate)?;
    let (_, cert) =
        X509Certificate::from_der(leaf.as_ref()).map_err(|_| AuthError::BadCertificate)?;
    let spiffe_uris: Vec<&str> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::URI(uri) if uri.to_ascii_lowercase().starts_with("spiffe://") => {
                    Some(*uri)
                }
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(_) => return Err(AuthError::BadCertificate),
    };
    let [uri] = spiffe_uris.as_slice() else {
        return Err(AuthError::SpiffeUriCount(spiffe_uris.len()));
    };
    let (domain, kind, id) = split_spiffe_id(uri, trust_domain)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, leaf.as_ref());
    // (x5t#S256 is over the same DER the TLS layer verified.)
    Ok((
        domain,
        PeerIdentity {
            id,
            kind,
            cert_sha256: hex(digest.as_ref()),
            cert_x5t_s256: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        },
    ))
}

/// Splits `spiffe://domain/org/id` into its kind and id, checking the trust domain.
#[cfg(test)]
fn parse_spiffe_id(uri: &str, trust_domain: &str) -> Result<(PeerKind, String), AuthError> {
    let (domain, kind, id) = split_spiffe_id(uri, trust_domain)?;
    if domain != trust_domain {
        return Err(AuthError::WrongTrustDomain(domain));
    }
    Ok((kind, id))
}

/// Splits `spiffe://domain/org/id` into its domain, kind and id.
fn split_spiffe_id(uri: &str, trust_domain: &str) -> Result<(String, PeerKind, String), AuthError> {
    let form_error = || AuthError::SpiffeUriForm {
        trust_domain: trust_domain.to_string(),
    };
    let rest = &uri["spiffe://".len()..];
    let (domain, path) = rest.split_once('/').ok_or_else(form_error)?;
    if domain.is_empty() {
        return Err(form_error());
    }
    let (kind, id) = match path.split_once('/') {
        Some(("org", id)) => (PeerKind::Org, id),
        Some(("hub", id)) => (PeerKind::Hub, id),
        _ => return Err(form_error()),
    };
    if !is_valid_id(id) {
        return Err(form_error());
    }
    Ok((domain.to_string(), kind, id.to_string()))
}

/// Org and hub ids: 1-64 of lower-case letters, digits and '-', starting with a letter or digit.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_parse_strictly() {
        assert_eq!(
            parse_spiffe_id("spiffe://slt.dev/org/ngo-alpha", "slt.dev"),
            Ok((PeerKind::Org, "ngo-alpha".into()))
        );
        assert_eq!(
            parse_spiffe_id("spiffe://slt.dev/hub/hub-a", "slt.dev"),
            Ok((PeerKind::Hub, "hub-a".into()))
        );
        assert_eq!(
            parse_spiffe_id("spiffe://evil.dev/org/ngo-alpha", "slt.dev"),
            Err(AuthError::WrongTrustDomain("evil.dev".into()))
        );
        for bad in [
            "spiffe://slt.dev/org/",
            "spiffe://slt.dev/org/a/b",
            "spiffe://slt.dev/user/x",
            "spiffe://slt.dev",
            "spiffe://slt.dev/org/UPPER",
        ] {
            assert!(parse_spiffe_id(bad, "slt.dev").is_err(), "{bad}");
        }
    }
}
