//! Page tokens of list calls: the last row key and a fingerprint of the filter they were issued
//! for, sealed, so clients can neither read the row key (it would reveal how many rows they
//! cannot see) nor forge one, nor reuse a token with another filter.

use tonic::Status;

use super::status::invalid_field;
use crate::sealed::Sealer;

/// A short digest of a request's filter, so a token only continues the listing it came from.
pub fn fingerprint(filter: &impl prost::Message) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, &filter.encode_to_vec());
    crate::identity::keys::hex(&digest.as_ref()[..8])
}

/// Seals `after` for `purpose` (what the token pages through) and the filter's `fingerprint`.
pub fn encode(
    sealer: &Sealer,
    purpose: &str,
    after: i64,
    fingerprint: &str,
) -> Result<String, Status> {
    sealer
        .seal(purpose, format!("v1:{after}:{fingerprint}").as_bytes())
        .map_err(|error| {
            tracing::error!(%error, "could not seal a page token");
            Status::internal("internal error")
        })
}

/// The row key in `token` (`None` for the empty token of a first page); INVALID_ARGUMENT on
/// `page_token` when it was not issued by this hub for `purpose` and this filter.
pub fn decode(
    sealer: &Sealer,
    purpose: &str,
    token: &str,
    fingerprint: &str,
) -> Result<Option<i64>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || invalid_field("page_token", "not a page token issued for this filter");
    let bytes = sealer.open(purpose, token).ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(after), Some(issued_for)) if issued_for == fingerprint => {
            after.parse::<i64>().map(Some).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn page_tokens_are_sealed_and_bound_to_their_purpose_and_filter() {
        let sealer = Sealer::new(b"test master secret, thirty-two bytes").expect("sealer");
        let token = encode(&sealer, "list", 42, "abcd").expect("token");
        assert!(!token.contains("42"));
        assert_eq!(decode(&sealer, "list", &token, "abcd").ok(), Some(Some(42)));
        assert_eq!(
            decode(&sealer, "list", &token, "ffff").map_err(|s| s.code()),
            Err(Code::InvalidArgument)
        );
        assert!(decode(&sealer, "advisories", &token, "abcd").is_err());
        assert!(decode(&sealer, "list", "not-base64!", "abcd").is_err());
        assert_eq!(decode(&sealer, "list", "", "abcd").ok(), Some(None));
    }
}
