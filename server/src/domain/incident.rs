//! Incident types. `IncidentContent` is what a reporting organisation writes; `StoredIncident`
//! adds what the hub assigns (version, origin, timestamps) and the T3 private annex, which is
//! stored apart from the shared record.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Declares a closed enum whose variants have stable SCREAMING_SNAKE_CASE names. The names are
/// what storage and JSON hold, and what the API layer maps to `<TYPE>_<NAME>` proto values.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name of this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value with this stable name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// How precise a reported date is.
    DatePrecision { Day => "DAY", Week => "WEEK", Month => "MONTH", Year => "YEAR" }
);
named_enum!(
    /// How precise a reported point is.
    GeoPrecision {
        Exact => "EXACT", Km1 => "KM_1", Km25 => "KM_25", Admin2 => "ADMIN2",
        Admin1 => "ADMIN1", Country => "COUNTRY",
    }
);
named_enum!(
    /// UN Security Level System threat categories.
    ThreatCategory {
        ArmedConflict => "ARMED_CONFLICT", Terrorism => "TERRORISM", Crime => "CRIME",
        CivilUnrest => "CIVIL_UNREST", Hazard => "HAZARD", Safety => "SAFETY",
    }
);
named_enum!(
    /// Incident types.
    IncidentType {
        Killing => "KILLING", Injury => "INJURY", Abduction => "ABDUCTION",
        SexualViolence => "SEXUAL_VIOLENCE", ArrestDetention => "ARREST_DETENTION",
        IntimidationHarassment => "INTIMIDATION_HARASSMENT", Robbery => "ROBBERY",
        BurglaryResidenceBreakin => "BURGLARY_RESIDENCE_BREAKIN",
        AggravatedAssault => "AGGRAVATED_ASSAULT", Theft => "THEFT", Carjacking => "CARJACKING",
        AttackOnPremises => "ATTACK_ON_PREMISES", AttackOnConvoy => "ATTACK_ON_CONVOY",
        AttackOnMedical => "ATTACK_ON_MEDICAL", AccessDenial => "ACCESS_DENIAL",
        RoadTraffic => "ROAD_TRAFFIC", Aviation => "AVIATION",
        CyberDataBreach => "CYBER_DATA_BREACH", Disinformation => "DISINFORMATION",
        Other => "OTHER",
    }
);
named_enum!(
    /// AWSD means of attack.
    MeansOfAttack {
        AerialBombardment => "AERIAL_BOMBARDMENT", BodilyAssault => "BODILY_ASSAULT",
        Shelling => "SHELLING", BodyBorneIed => "BODY_BORNE_IED", RoadsideIed => "ROADSIDE_IED",
        VehicleBorneIed => "VEHICLE_BORNE_IED", OtherExplosives => "OTHER_EXPLOSIVES",
        ComplexAttack => "COMPLEX_ATTACK", Kidnapping => "KIDNAPPING",
        KidnapKilling => "KIDNAP_KILLING", RapeSexualAssault => "RAPE_SEXUAL_ASSAULT",
        Landmine => "LANDMINE", Shooting => "SHOOTING", Detention => "DETENTION",
        Unknown => "UNKNOWN",
    }
);
named_enum!(
    /// The circumstances of the attack.
    AttackContext {
        Ambush => "AMBUSH", CombatCrossfire => "COMBAT_CROSSFIRE",
        IndividualAttack => "INDIVIDUAL_ATTACK", MobViolence => "MOB_VIOLENCE", Raid => "RAID",
        Detention => "DETENTION", Unknown => "UNKNOWN",
    }
);
named_enum!(
    /// Where it happened.
    LocationType {
        Home => "HOME", OfficeCompound => "OFFICE_COMPOUND", ProjectSite => "PROJECT_SITE",
        HealthFacility => "HEALTH_FACILITY", Camp => "CAMP", Checkpoint => "CHECKPOINT",
        Road => "ROAD", PublicLocation => "PUBLIC_LOCATION", Custody => "CUSTODY",
        Warehouse => "WAREHOUSE", Airstrip => "AIRSTRIP", Waterway => "WATERWAY",
        Other => "OTHER", Unknown => "UNKNOWN",
    }
);
named_enum!(
    /// The apparent motive.
    Motive {
        Political => "POLITICAL", Economic => "ECONOMIC", Incidental => "INCIDENTAL",
        Disputed => "DISPUTED", Other => "OTHER", Unknown => "UNKNOWN",
    }
);
named_enum!(
    /// Who did it.
    PerpetratorType {
        HostState => "HOST_STATE", ForeignOrCoalitionForces => "FOREIGN_OR_COALITION_FORCES",
        PoliceParamilitary => "POLICE_PARAMILITARY", NsagGlobal => "NSAG_GLOBAL",
        NsagRegional => "NSAG_REGIONAL", NsagNational => "NSAG_NATIONAL",
        NsagSubnational => "NSAG_SUBNATIONAL", NsagUnknown => "NSAG_UNKNOWN",
        Criminal => "CRIMINAL", Unaffiliated => "UNAFFILIATED", AidRecipient => "AID_RECIPIENT",
        StaffMember => "STAFF_MEMBER", Multiple => "MULTIPLE", Unknown => "UNKNOWN",
    }
);
named_enum!(
    /// Organisation types.
    OrgType {
        Un => "UN", Ingo => "INGO", Nngo => "NNGO", Icrc => "ICRC", IfrcNrcs => "IFRC_NRCS",
        Other => "OTHER",
    }
);
named_enum!(
    /// What happened to a victim.
    VictimOutcome {
        Killed => "KILLED", Injured => "INJURED", Kidnapped => "KIDNAPPED",
        Detained => "DETAINED", SexuallyAssaulted => "SEXUALLY_ASSAULTED",
        Threatened => "THREATENED",
    }
);
named_enum!(
    /// National or international staff.
    StaffCategory { National => "NATIONAL", International => "INTERNATIONAL", Unknown => "UNKNOWN" }
);
named_enum!(
    /// Sex of the victims in a cell.
    Sex { Female => "FEMALE", Male => "MALE", Unknown => "UNKNOWN" }
);
named_enum!(
    /// Effect on operations.
    OpsImpact {
        None => "NONE", Delayed => "DELAYED", Suspended => "SUSPENDED",
        Relocated => "RELOCATED", Evacuated => "EVACUATED",
    }
);
named_enum!(
    /// Where the report came from.
    SourceType {
        FocalPoint => "FOCAL_POINT", OfficialReport => "OFFICIAL_REPORT", Media => "MEDIA",
        PartnerDatabase => "PARTNER_DATABASE", Acled => "ACLED",
    }
);
named_enum!(
    /// Verification status.
    Verification {
        Unverified => "UNVERIFIED", Pending => "PENDING", Verified => "VERIFIED",
        Disputed => "DISPUTED", Retracted => "RETRACTED",
    }
);
named_enum!(
    /// Who may see an incident.
    Distribution {
        OrgOnly => "ORG_ONLY", SharingGroup => "SHARING_GROUP", Community => "COMMUNITY",
        Federation => "FEDERATION",
    }
);
named_enum!(
    /// Traffic Light Protocol 2.0.
    Tlp {
        Red => "RED", AmberStrict => "AMBER_STRICT", Amber => "AMBER", Green => "GREEN",
        Clear => "CLEAR",
    }
);

named_enum!(
    /// UN Security Level System levels, lowest first (advisories).
    SecurityLevel {
        Minimal => "MINIMAL", Low => "LOW", Moderate => "MODERATE",
        Substantial => "SUBSTANTIAL", High => "HIGH", Extreme => "EXTREME",
    }
);

/// An administrative area by name and optional p-code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminArea {
    pub name: String,
    pub pcode: Option<String>,
}

/// A point and how precise it is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub precision: GeoPrecision,
}

/// How many organisations of each type were affected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedOrgTypes {
    pub un: u32,
    pub ingo: u32,
    pub nngo: u32,
    pub icrc: u32,
    pub ifrc_nrcs: u32,
    pub other: u32,
}

/// One cell of the victim breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimCount {
    pub outcome: VictimOutcome,
    pub staff: StaffCategory,
    pub sex: Sex,
    pub count: u32,
    pub estimated: bool,
}

/// Identifiers of the same incident in other databases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRefs {
    pub awsd: Option<String>,
    pub sind: Option<String>,
    pub acled: Option<String>,
}

/// One victim's identity (T3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimIdentity {
    pub name: String,
    pub role: String,
    pub contact: String,
    /// Set by the hub (the anonymiser), never taken from input.
    #[serde(default)]
    pub victim_key: Option<String>,
}

/// T3: what only the reporting organisation may ever see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateAnnex {
    pub victim_identities: Vec<VictimIdentity>,
    pub reporter_contact: String,
    pub internal_narrative: String,
    pub external_case_refs: Vec<String>,
}

impl PrivateAnnex {
    /// True when the annex carries nothing (then it is not stored at all).
    pub fn is_empty(&self) -> bool {
        self.victim_identities.is_empty()
            && self.reporter_contact.is_empty()
            && self.internal_narrative.is_empty()
            && self.external_case_refs.is_empty()
    }
}

/// The shared record as the reporting organisation writes it (everything but hub-assigned
/// fields and the private annex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentContent {
    pub occurred_on: Date,
    pub date_precision: DatePrecision,
    pub country: String,
    pub admin1: Option<AdminArea>,
    pub admin2: Option<AdminArea>,
    pub locality: Option<String>,
    pub location: Option<Location>,
    pub threat_category: ThreatCategory,
    pub incident_types: Vec<IncidentType>,
    pub means_of_attack: Option<MeansOfAttack>,
    pub attack_context: Option<AttackContext>,
    pub location_type: Option<LocationType>,
    pub motive: Option<Motive>,
    pub perpetrator_type: Option<PerpetratorType>,
    pub perpetrator_name: Option<String>,
    pub affected_org_types: AffectedOrgTypes,
    pub victims: Vec<VictimCount>,
    pub ops_impact: Option<OpsImpact>,
    pub source_type: Option<SourceType>,
    pub verification: Verification,
    pub narrative: Option<String>,
    pub external_refs: ExternalRefs,
    pub distribution: Distribution,
    pub sharing_group: Option<String>,
    pub tlp: Tlp,
}

impl IncidentContent {
    /// The occurrence date as given at `precision`: the start of its week, month or year when
    /// that is coarser than reported, the reported date otherwise. Redaction and the store's
    /// filter columns both use this, so a viewer is filtered on exactly the date it is shown.
    pub fn date_at(&self, precision: DatePrecision) -> Date {
        if precision > self.date_precision {
            start_of(self.occurred_on, precision)
        } else {
            self.occurred_on
        }
    }
}

/// The first day of the week (Monday), month or year `date` falls in.
pub fn start_of(date: Date, precision: DatePrecision) -> Date {
    match precision {
        DatePrecision::Day => date,
        DatePrecision::Week => {
            date - time::Duration::days(i64::from(date.weekday().number_days_from_monday()))
        }
        DatePrecision::Month => date.replace_day(1).unwrap_or(date),
        DatePrecision::Year => {
            Date::from_calendar_date(date.year(), time::Month::January, 1).unwrap_or(date)
        }
    }
}

/// A validated incident as submitted or amended: id, shared content, private annex.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentDraft {
    pub id: Uuid,
    pub content: IncidentContent,
    pub private: Option<PrivateAnnex>,
}

/// Sensitivity tiers, lowest first (data-model.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    T0,
    T1,
    T2,
    T3,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::T0 => "T0",
            Tier::T1 => "T1",
            Tier::T2 => "T2",
            Tier::T3 => "T3",
        }
    }

    pub fn parse(text: &str) -> Option<Tier> {
        [Tier::T0, Tier::T1, Tier::T2, Tier::T3]
            .into_iter()
            .find(|tier| tier.as_str() == text)
    }
}

/// Where a foreign incident (one another hub federated to this one) came from. Local
/// incidents have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The peer hub this copy was pulled from (not necessarily its origin hub).
    pub from_hub: String,
    /// The tier the peer gave us: no local viewer ever gets more.
    pub tier: Tier,
    /// The origin hub's signed rendering at `tier`, as it arrived (verified): what we forward.
    /// `None` for copies applied before origin signatures, which are never forwarded.
    pub seal: Option<OriginSeal>,
}

/// What an origin hub signed for one tier of one version: the canonical rendering and its
/// Ed25519 signature (docs/federation.md#origin-signatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginSeal {
    pub rendering: Vec<u8>,
    pub signature: Vec<u8>,
}

/// An incident as the hub holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIncident {
    pub id: Uuid,
    pub version: u64,
    pub origin_org: String,
    pub origin_hub: String,
    pub origin_org_type: OrgType,
    pub reported_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub retraction_reason: Option<String>,
    pub content: IncidentContent,
    /// T3, stored apart; `None` when the origin org gave none.
    pub private: Option<PrivateAnnex>,
    /// For a foreign incident: which peer it came from and at which tier.
    pub received: Option<Received>,
}

impl StoredIncident {
    /// True once the origin org has retracted it.
    pub fn is_retracted(&self) -> bool {
        self.content.verification == Verification::Retracted
    }

    /// True for a copy federated from another hub: read-only here.
    pub fn is_foreign(&self) -> bool {
        self.received.is_some()
    }
}

impl IncidentDraft {
    /// SHA-256 (hex) of what the client submitted: the idempotency check compares it, so a
    /// retried batch is recognised and a reused id with other content is a conflict.
    pub fn submission_hash(&self) -> String {
        let encoded =
            serde_json::to_vec(&(&self.id, &self.content, &self.private)).unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA256, &encoded);
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}
