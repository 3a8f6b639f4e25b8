//! Client profiles: where the hub is and which credentials to present. Paths inside a profile
//! are relative to the profile file, so a profile directory can be copied as a whole.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ClientError;

/// A loaded profile with absolute paths.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `https://host:port`.
    pub endpoint: String,
    /// The hub's CA certificate (PEM).
    pub ca: PathBuf,
    /// This organisation's client certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// A file holding the bearer token (JWT).
    pub token: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    endpoint: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    token: PathBuf,
}

impl Profile {
    /// Reads a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Profile, ClientError> {
        let path = path.as_ref();
        let problem = |message: String| ClientError::Profile {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|error| problem(error.to_string()))?;
        let file: ProfileFile =
            toml::from_str(&text).map_err(|error| problem(error.to_string()))?;
        if !file.endpoint.starts_with("https://") {
            return Err(problem(format!(
                "endpoint '{}' must start with https:// (the hub speaks mutual TLS only)",
                file.endpoint
            )));
        }
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let resolve = |file: PathBuf| {
            if file.is_relative() {
                base.join(file)
            } else {
                file
            }
        };
        Ok(Profile {
            endpoint: file.endpoint,
            ca: resolve(file.ca),
            cert: resolve(file.cert),
            key: resolve(file.key),
            token: resolve(file.token),
        })
    }
}

/// Reads one file a profile names, with an error that says which.
pub(crate) fn read_profile_file(what: &str, path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|error| ClientError::Profile {
        path: path.display().to_string(),
        message: format!("cannot read the {what}: {error}"),
    })
}
