//! The origin hubs' federation keys, from the agreements: every agreement that names a hub
//! may give its public key (`origin_key`), and a record is accepted only with a signature
//! that key verifies, whichever peer relayed it. A hub without a key (no agreement, no
//! `origin_key`, an unreadable file) has none: its records are refused.

use std::collections::HashMap;

use super::agreement::PeerAgreement;
use crate::identity::keys::{public_key_bytes, read_key_file};

/// The keys looked up while applying one page (files are read once per page, so a reloaded
/// agreement's key is in force from the next page).
pub struct OriginKeys<'a> {
    agreements: &'a [PeerAgreement],
    known: HashMap<String, Option<[u8; 32]>>,
}

impl<'a> OriginKeys<'a> {
    pub fn new(agreements: &'a [PeerAgreement]) -> Self {
        Self {
            agreements,
            known: HashMap::new(),
        }
    }

    /// `origin`'s key, if an agreement gives a readable one.
    pub fn key(&mut self, origin: &str) -> Option<[u8; 32]> {
        if let Some(known) = self.known.get(origin) {
            return *known;
        }
        let key = self
            .agreements
            .iter()
            .find(|agreement| agreement.hub_id == origin)
            .and_then(|agreement| agreement.origin_key.as_ref())
            .and_then(|path| {
                let read = read_key_file(path)
                    .and_then(|pem| public_key_bytes(&pem, &path.display().to_string()));
                match read {
                    Ok(key) => Some(key),
                    Err(error) => {
                        tracing::warn!(origin, %error, "origin_key unreadable: its records are refused");
                        None
                    }
                }
            });
        self.known.insert(origin.to_string(), key);
        key
    }
}
