//! JSON Web Key Sets (RFC 7517) of Ed25519 keys: how an organisation's own identity provider
//! publishes the keys its tokens are signed with. Only `"kty": "OKP", "crv": "Ed25519"` keys
//! with a `kid` are accepted; anything else in the file is an error naming the key and field,
//! so a half-understood key set never loads.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::keys;

/// One verified-usable key: its id and the raw 32-byte Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub public_key: [u8; 32],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("could not read JWKS file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("JWKS {origin} is not valid JSON of the form {{\"keys\": [...]}}: {detail}")]
    Json { origin: String, detail: String },
    #[error("JWKS {origin}: keys[{index}].{field}: {problem}")]
    Key {
        origin: String,
        index: usize,
        field: &'static str,
        problem: String,
    },
    #[error("JWKS {origin} holds no keys")]
    Empty { origin: String },
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    /// A private part must never be published: refuse the whole set.
    d: Option<String>,
}

/// Reads and checks a JWKS file.
pub fn read(path: &Path) -> Result<Vec<Jwk>, JwksError> {
    let text = std::fs::read_to_string(path).map_err(|error| JwksError::Read {
        path: path.display().to_string(),
        detail: error.to_string(),
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses a JWKS document; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Jwk>, JwksError> {
    let document: Document = serde_json::from_str(text).map_err(|error| JwksError::Json {
        origin: origin.to_string(),
        detail: error.to_string(),
    })?;
    let mut seen = HashMap::new();
    let mut keys = Vec::new();
    for (index, raw) in document.keys.into_iter().enumerate() {
        let problem = |field: &'static str, problem: String| JwksError::Key {
            origin: origin.to_string(),
            index,
            field,
            problem,
        };
        if raw.kty.as_deref() != Some("OKP") {
            return Err(problem("kty", "must be \"OKP\"".into()));
        }
        if raw.crv.as_deref() != Some("Ed25519") {
            return Err(problem("crv", "must be \"Ed25519\"".into()));
        }
        if raw.d.is_some() {
            return Err(problem(
                "d",
                "a private key must not be in a published key set".into(),
            ));
        }
        if let Some(alg) = &raw.alg
            && alg != "EdDSA"
        {
            return Err(problem("alg", "must be \"EdDSA\" when present".into()));
        }
        if let Some(usage) = &raw.usage
            && usage != "sig"
        {
            return Err(problem("use", "must be \"sig\" when present".into()));
        }
        let kid = raw
            .kid
            .filter(|kid| !kid.trim().is_empty() && kid.len() <= 256)
            .ok_or_else(|| problem("kid", "is required (1-256 characters)".into()))?;
        let x = raw
            .x
            .ok_or_else(|| problem("x", "is required".into()))
            .and_then(|x| {
                URL_SAFE_NO_PAD
                    .decode(x.trim_end_matches('='))
                    .map_err(|_| problem("x", "is not base64url".into()))
            })?;
        let public_key: [u8; 32] = x
            .try_into()
            .map_err(|_| problem("x", "must be 32 bytes".into()))?;
        if seen.insert(kid.clone(), index).is_some() {
            return Err(problem("kid", format!("'{kid}' appears twice")));
        }
        keys.push(Jwk { kid, public_key });
    }
    if keys.is_empty() {
        return Err(JwksError::Empty {
            origin: origin.to_string(),
        });
    }
    Ok(keys)
}

/// A JWKS document (JSON text) for Ed25519 public keys given as SPKI PEM, with their key ids.
/// What an organisation's identity provider publishes; tests and the docs use it.
pub fn document(keys: &[(&str, &str)]) -> Result<String, keys::KeyError> {
    let mut entries = Vec::new();
    for (kid, public_pem) in keys {
        let public = keys::public_key_bytes(public_pem, "JWKS public key")?;
        entries.push(serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(public),
        }));
    }
    Ok(serde_json::json!({ "keys": entries }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_document_parses_back() {
        let pair = keys::generate_ed25519().expect("keys");
        let text = document(&[("k1", &pair.public_pem)]).expect("doc");
        let parsed = parse(&text, "test").expect("parse");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].kid, "k1");
        assert_eq!(
            parsed[0].public_key,
            keys::public_key_bytes(&pair.public_pem, "t").expect("pk")
        );
    }

    #[test]
    fn bad_keys_are_named() {
        let cases = [
            (
                r#"{"keys":[{"kty":"RSA","kid":"a","n":"x","e":"AQAB"}]}"#,
                "keys[0].kty",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"X25519","kid":"a","x":"AA"}]}"#,
                "keys[0].crv",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#,
                "keys[0].kid",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}"#,
                "keys[0].x",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA","d":"AAAA"}]}"#,
                "keys[0].d",
            ),
            (r#"{"keys":[]}"#, "holds no keys"),
            (r#"{"kid":"a"}"#, "not valid JSON"),
        ];
        for (text, needle) in cases {
            let error = parse(text, "f.json").expect_err(text).to_string();
            assert!(error.contains(needle), "{error} lacks {needle}");
        }
    }
}
