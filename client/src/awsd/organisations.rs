//! The organisation-type columns (UN, INGO, ICRC, NRCS and IFRC, NNGO, Other). In the AWSD they
//! count affected *staff* per organisation type, so their sum is checked against the victims.

use slt_proto::v1 as pb;

use super::columns::{Col, Row};
use super::numbers::count;
use super::victims::Victims;
use super::warnings::{Notes, WarningKind};

/// Reads the organisation types and warns when they do not add up to the victims.
pub(super) fn affected_org_types(
    row: &Row<'_>,
    victims: &Victims,
    notes: &mut Notes,
) -> pb::AffectedOrgTypes {
    let types = pb::AffectedOrgTypes {
        un: count(row, Col::Un, notes),
        ingo: count(row, Col::Ingo, notes),
        icrc: count(row, Col::Icrc, notes),
        ifrc_nrcs: count(row, Col::IfrcNrcs, notes),
        nngo: count(row, Col::Nngo, notes),
        other: count(row, Col::OtherOrg, notes),
    };
    let org_sum = [
        types.un,
        types.ingo,
        types.icrc,
        types.ifrc_nrcs,
        types.nngo,
        types.other,
    ]
    .iter()
    .map(|n| u64::from(*n))
    .sum::<u64>();
    if org_sum != victims.total() {
        notes.add(
            WarningKind::TotalsDisagree {
                column: "UN+INGO+ICRC+NRCS and IFRC+NNGO+Other",
            },
            format!(
                "the organisation types add up to {org_sum}, the victims to {}",
                victims.total()
            ),
        );
    }
    types
}
