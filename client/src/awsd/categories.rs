//! The category columns (means, context, location, motive, actor, verified, source) into the
//! proto enums, with the value folding that makes messy spellings match.

use slt_proto::v1 as pb;

use super::columns::{Col, Row};
use super::warnings::{Notes, WarningKind, shorten};

/// The category columns, read into the proto enums.
pub(super) struct Categories {
    pub(super) means: pb::MeansOfAttack,
    pub(super) context: pb::AttackContext,
    pub(super) location: pb::LocationType,
    pub(super) motive: pb::Motive,
    pub(super) actor: pb::PerpetratorType,
    /// Host state, foreign forces, police, or the AWSD's `State: unknown`.
    pub(super) state_actor: bool,
    pub(super) verification: pb::Verification,
    pub(super) source: pb::SourceType,
}

impl Categories {
    /// Reads every category column; the order is the order of the warnings.
    pub(super) fn read(row: &Row<'_>, notes: &mut Notes) -> Self {
        let means = means_of_attack(row, notes);
        let context = attack_context(row, notes);
        let location = location_type(row, notes);
        let motive = motive(row, notes);
        let (actor, state_actor) = actor(row, notes);
        Self {
            means,
            context,
            location,
            motive,
            actor,
            state_actor,
            verification: verification(row, notes),
            source: source(row, notes),
        }
    }
}

fn means_of_attack(row: &Row<'_>, notes: &mut Notes) -> pb::MeansOfAttack {
    use pb::MeansOfAttack as M;
    category(row, Col::Means, M::Unknown, "UNKNOWN", notes, |key| {
        Some(match key {
            "aerial bombardment" | "airstrike" | "air strike" => M::AerialBombardment,
            "bodily assault" => M::BodilyAssault,
            "shelling" => M::Shelling,
            "body borne ied" | "body born ied" | "suicide bomb" => M::BodyBorneIed,
            "roadside ied" => M::RoadsideIed,
            "vehicle borne ied" | "vehicle born ied" => M::VehicleBorneIed,
            "other explosives" | "other explosive" => M::OtherExplosives,
            "complex attack" => M::ComplexAttack,
            "kidnapping" => M::Kidnapping,
            "kidnap killing" => M::KidnapKilling,
            "rape/sexual assault" | "sexual assault" | "rape" => M::RapeSexualAssault,
            "landmine" | "landmines" => M::Landmine,
            "shooting" => M::Shooting,
            "detention" => M::Detention,
            "unknown" => M::Unknown,
            _ => return None,
        })
    })
}

fn attack_context(row: &Row<'_>, notes: &mut Notes) -> pb::AttackContext {
    use pb::AttackContext as C;
    category(row, Col::Context, C::Unknown, "UNKNOWN", notes, |key| {
        Some(match key {
            "ambush" => C::Ambush,
            "combat/crossfire" | "crossfire" | "combat" => C::CombatCrossfire,
            "individual attack" => C::IndividualAttack,
            "mob violence" => C::MobViolence,
            "raid" => C::Raid,
            "detention" => C::Detention,
            "unknown" => C::Unknown,
            _ => return None,
        })
    })
}

fn location_type(row: &Row<'_>, notes: &mut Notes) -> pb::LocationType {
    use pb::LocationType as L;
    category(row, Col::Location, L::Unknown, "UNKNOWN", notes, |key| {
        Some(match key {
            "home" | "residence" => L::Home,
            "office/compound" | "office" | "compound" => L::OfficeCompound,
            "project site" => L::ProjectSite,
            "health facility" => L::HealthFacility,
            "camp" => L::Camp,
            "checkpoint" => L::Checkpoint,
            "road" => L::Road,
            "public location" => L::PublicLocation,
            "custody" => L::Custody,
            "warehouse" => L::Warehouse,
            "airstrip" => L::Airstrip,
            "waterway" => L::Waterway,
            "other" => L::Other,
            "unknown" => L::Unknown,
            _ => return None,
        })
    })
}

fn motive(row: &Row<'_>, notes: &mut Notes) -> pb::Motive {
    use pb::Motive as Mo;
    category(row, Col::Motive, Mo::Unknown, "UNKNOWN", notes, |key| {
        Some(match key {
            "political" => Mo::Political,
            "economic" => Mo::Economic,
            "incidental" => Mo::Incidental,
            "disputed" => Mo::Disputed,
            "other" => Mo::Other,
            "unknown" => Mo::Unknown,
            _ => return None,
        })
    })
}

/// Actor type, and whether the actor is a state one (`State: unknown` has no PerpetratorType
/// but still counts as a state actor for the threat category).
fn actor(row: &Row<'_>, notes: &mut Notes) -> (pb::PerpetratorType, bool) {
    let actor_key = fold(row.get(Col::ActorType));
    let state_unknown = actor_key == "state:unknown";
    let actor = category(
        row,
        Col::ActorType,
        pb::PerpetratorType::Unknown,
        "UNKNOWN",
        notes,
        actor_type,
    );
    let state_actor = state_unknown
        || matches!(
            actor,
            pb::PerpetratorType::HostState
                | pb::PerpetratorType::ForeignOrCoalitionForces
                | pb::PerpetratorType::PoliceParamilitary
        );
    (actor, state_actor)
}

/// Actor type values; the `Non-state armed group: <scope>` family is split by its scope.
fn actor_type(key: &str) -> Option<pb::PerpetratorType> {
    use pb::PerpetratorType as P;
    let nsag = key
        .strip_prefix("non state armed group")
        .or_else(|| key.strip_prefix("nsag"));
    if let Some(scope) = nsag {
        return match scope.trim_start_matches([':', ' ']) {
            "global" => Some(P::NsagGlobal),
            "regional" => Some(P::NsagRegional),
            "national" => Some(P::NsagNational),
            "subnational" | "sub national" => Some(P::NsagSubnational),
            "unknown" | "" => Some(P::NsagUnknown),
            _ => None,
        };
    }
    Some(match key {
        "host state" | "host government" => P::HostState,
        "foreign or coalition forces" | "foreign forces" | "coalition forces" => {
            P::ForeignOrCoalitionForces
        }
        "police or paramilitary" | "police" | "paramilitary" => P::PoliceParamilitary,
        "criminal" | "criminals" => P::Criminal,
        "unaffiliated" => P::Unaffiliated,
        "aid recipient" | "aid recipients" => P::AidRecipient,
        "staff member" | "staff" => P::StaffMember,
        "multiple" => P::Multiple,
        "unknown" => P::Unknown,
        _ => return None,
    })
}

/// Verified: Yes and Archived (checked before archiving) are VERIFIED.
fn verification(row: &Row<'_>, notes: &mut Notes) -> pb::Verification {
    use pb::Verification as V;
    let text = row.get(Col::Verified);
    match fold(text).as_str() {
        "yes" | "verified" | "archived" => V::Verified,
        "pending" => V::Pending,
        "no" | "unverified" => V::Unverified,
        "pen" | "pend" => {
            notes.add(
                WarningKind::Assumed {
                    column: "Verified",
                    value: shorten(text),
                    read_as: "PENDING",
                },
                String::new(),
            );
            V::Pending
        }
        "" => {
            notes.add(
                WarningKind::Empty {
                    column: "Verified",
                    read_as: "UNVERIFIED",
                },
                String::new(),
            );
            V::Unverified
        }
        _ => {
            notes.add(
                WarningKind::Unmapped {
                    column: "Verified",
                    value: shorten(text),
                    read_as: "UNVERIFIED",
                },
                String::new(),
            );
            V::Unverified
        }
    }
}

/// Source: the AWSD's `Archived` rows kept no source but the database itself.
fn source(row: &Row<'_>, notes: &mut Notes) -> pb::SourceType {
    use pb::SourceType as S;
    category(
        row,
        Col::Source,
        S::Unspecified,
        "UNSPECIFIED",
        notes,
        |key| {
            Some(match key {
                "official report" => S::OfficialReport,
                "focal point" => S::FocalPoint,
                "media" => S::Media,
                "acled" => S::Acled,
                "archived" | "partner database" => S::PartnerDatabase,
                _ => return None,
            })
        },
    )
}

/// Reads one category column with `map`, falling back to `unknown` with a warning.
fn category<T: Copy>(
    row: &Row<'_>,
    col: Col,
    unknown: T,
    unknown_name: &'static str,
    notes: &mut Notes,
    map: impl Fn(&str) -> Option<T>,
) -> T {
    let text = row.get(col);
    if text.is_empty() {
        notes.add(
            WarningKind::Empty {
                column: col.name(),
                read_as: unknown_name,
            },
            String::new(),
        );
        return unknown;
    }
    map(&fold(text)).unwrap_or_else(|| {
        notes.add(
            WarningKind::Unmapped {
                column: col.name(),
                value: shorten(text),
                read_as: unknown_name,
            },
            String::new(),
        );
        unknown
    })
}

/// The comparison key of a category value: trimmed, case-folded, `-`/`_` as spaces, single
/// spaces, none around `/` and `:`.
pub(super) fn fold(text: &str) -> String {
    let spaced: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    let single = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    single
        .replace(" /", "/")
        .replace("/ ", "/")
        .replace(" :", ":")
        .replace(": ", ":")
}
