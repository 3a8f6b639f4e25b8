//! Security advisories (data-model.md): the threat picture's forward-looking half. Shared,
//! redacted, synced and audited like incidents; superseded by issuing the next version.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{AdminArea, Distribution, SecurityLevel, ThreatCategory, Tlp};

/// What the issuing organisation writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdvisoryContent {
    /// ISO alpha-3.
    pub country: String,
    pub admin1: Option<AdminArea>,
    pub admin2: Option<AdminArea>,
    pub security_level: SecurityLevel,
    pub threat_category: ThreatCategory,
    pub valid_from: Date,
    pub valid_until: Date,
    /// Scrubbed of personal data at ingest.
    pub summary: Option<String>,
    pub distribution: Distribution,
    pub sharing_group: Option<String>,
    pub tlp: Tlp,
}

impl AdvisoryContent {
    /// Whether the advisory is in force on `day`.
    pub fn valid_on(&self, day: Date) -> bool {
        self.valid_from <= day && day <= self.valid_until
    }
}

/// An advisory as the hub holds it (its current version).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAdvisory {
    pub id: Uuid,
    pub version: u64,
    pub issuing_org: String,
    pub origin_hub: String,
    pub issued_at: OffsetDateTime,
    pub content: AdvisoryContent,
}
