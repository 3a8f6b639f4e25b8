//! The derived fields: incident types and the UN Security Level System threat category, from the
//! categories and the victims.

use slt_proto::v1 as pb;

use super::categories::Categories;
use super::victims::Victims;

/// The incident types a row shows; OTHER when none does. The rules, each adding one type:
///
/// | type | when |
/// |---|---|
/// | KILLING | anyone killed, or means Kidnap-killing |
/// | INJURY | anyone wounded |
/// | ABDUCTION | anyone kidnapped, or means Kidnapping / Kidnap-killing |
/// | SEXUAL_VIOLENCE | means Rape/sexual assault |
/// | ARREST_DETENTION | context Detention or means Detention |
/// | ATTACK_ON_PREMISES | location Office/compound and a Raid, bombardment, shelling or explosives |
/// | BURGLARY_RESIDENCE_BREAKIN | context Raid at location Home |
/// | ATTACK_ON_CONVOY | context Ambush at location Road (a vehicle movement was attacked) |
/// | ROBBERY | motive Economic, unless the means were a kidnapping (that is ABDUCTION) |
pub(super) fn incident_types(c: &Categories, victims: &Victims) -> Vec<pb::IncidentType> {
    use pb::{AttackContext as C, IncidentType as T, LocationType as L, MeansOfAttack as M};
    let kidnap = matches!(c.means, M::Kidnapping | M::KidnapKilling);
    let heavy = matches!(
        c.means,
        M::AerialBombardment
            | M::Shelling
            | M::BodyBorneIed
            | M::RoadsideIed
            | M::VehicleBorneIed
            | M::OtherExplosives
            | M::ComplexAttack
    );
    let rules = [
        (T::Killing, victims.killed() || c.means == M::KidnapKilling),
        (T::Injury, victims.wounded()),
        (T::Abduction, victims.kidnapped() || kidnap),
        (T::SexualViolence, c.means == M::RapeSexualAssault),
        (
            T::ArrestDetention,
            c.context == C::Detention || c.means == M::Detention,
        ),
        (
            T::AttackOnPremises,
            c.location == L::OfficeCompound && (c.context == C::Raid || heavy),
        ),
        (
            T::BurglaryResidenceBreakin,
            c.context == C::Raid && c.location == L::Home,
        ),
        (
            T::AttackOnConvoy,
            c.context == C::Ambush && c.location == L::Road,
        ),
        (T::Robbery, c.motive == pb::Motive::Economic && !kidnap),
    ];
    let types: Vec<T> = rules
        .iter()
        .filter(|(_, applies)| *applies)
        .map(|(kind, _)| *kind)
        .collect();
    if types.is_empty() {
        vec![T::Other]
    } else {
        types
    }
}

/// The UN Security Level System threat category, by the first rule that applies; `None` when
/// none does (the caller assumes ARMED_CONFLICT and warns):
///
/// 1. context Mob violence -> CIVIL_UNREST;
/// 2. means Aerial bombardment, Shelling or Landmine, or context Combat/Crossfire ->
///    ARMED_CONFLICT (the weapons and settings of war);
/// 3. means Body-borne, Vehicle-borne or Roadside IED, Other explosives or Complex attack ->
///    TERRORISM, unless a state actor did it (ARMED_CONFLICT): the UNSLS counts IED, suicide and
///    complex attacks by non-state or unknown actors as terrorism;
/// 4. actor Criminal or motive Economic -> CRIME (kidnap for ransom included);
/// 5. actor Non-state armed group: Global -> TERRORISM; any other non-state armed group ->
///    ARMED_CONFLICT;
/// 6. a state actor (host state, foreign or coalition forces, police or paramilitary,
///    `State: unknown`) -> ARMED_CONFLICT (the UNSLS has no category of its own for them);
/// 7. actor Unaffiliated, Aid recipient or Staff member, or means Bodily assault or
///    Rape/sexual assault -> CRIME (violence by individuals);
/// 8. motive Political -> ARMED_CONFLICT.
pub(super) fn threat_category(c: &Categories) -> Option<pb::ThreatCategory> {
    use pb::{AttackContext as C, MeansOfAttack as M, PerpetratorType as P, ThreatCategory as Th};
    if c.context == C::MobViolence {
        return Some(Th::CivilUnrest);
    }
    if matches!(c.means, M::AerialBombardment | M::Shelling | M::Landmine)
        || c.context == C::CombatCrossfire
    {
        return Some(Th::ArmedConflict);
    }
    if matches!(
        c.means,
        M::BodyBorneIed
            | M::VehicleBorneIed
            | M::RoadsideIed
            | M::OtherExplosives
            | M::ComplexAttack
    ) {
        return Some(if c.state_actor {
            Th::ArmedConflict
        } else {
            Th::Terrorism
        });
    }
    if c.actor == P::Criminal || c.motive == pb::Motive::Economic {
        return Some(Th::Crime);
    }
    match c.actor {
        P::NsagGlobal => return Some(Th::Terrorism),
        P::NsagRegional | P::NsagNational | P::NsagSubnational | P::NsagUnknown => {
            return Some(Th::ArmedConflict);
        }
        _ => {}
    }
    if c.state_actor {
        return Some(Th::ArmedConflict);
    }
    if matches!(c.actor, P::Unaffiliated | P::AidRecipient | P::StaffMember)
        || matches!(c.means, M::BodilyAssault | M::RapeSexualAssault)
    {
        return Some(Th::Crime);
    }
    if c.motive == pb::Motive::Political {
        return Some(Th::ArmedConflict);
    }
    None
}
