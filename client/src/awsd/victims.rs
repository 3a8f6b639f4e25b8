//! The victim breakdown: counts per outcome and staff category, the totals checked against it,
//! and the Gender totals distributed over the cells only when that is unambiguous.

use slt_proto::v1 as pb;

use super::columns::{Col, Row};
use super::numbers::count;
use super::warnings::{Notes, WarningKind};

/// The victim breakdown of a row.
pub(super) struct Victims {
    /// [killed, wounded, kidnapped] for nationals, then internationals.
    national: [u32; 3],
    international: [u32; 3],
}

const OUTCOMES: [pb::VictimOutcome; 3] = [
    pb::VictimOutcome::Killed,
    pb::VictimOutcome::Injured,
    pb::VictimOutcome::Kidnapped,
];

impl Victims {
    /// Reads the breakdown and checks every totals column against it.
    pub(super) fn read(row: &Row<'_>, notes: &mut Notes) -> Self {
        let national = [
            count(row, Col::NationalsKilled, notes),
            count(row, Col::NationalsWounded, notes),
            count(row, Col::NationalsKidnapped, notes),
        ];
        let international = [
            count(row, Col::InternationalsKilled, notes),
            count(row, Col::InternationalsWounded, notes),
            count(row, Col::InternationalsKidnapped, notes),
        ];
        let victims = Self {
            national,
            international,
        };
        let sum = |parts: &[u32]| parts.iter().map(|n| u64::from(*n)).sum::<u64>();
        let checks = [
            (Col::TotalNationals, sum(&national)),
            (Col::TotalInternationals, sum(&international)),
            (Col::TotalKilled, sum(&[national[0], international[0]])),
            (Col::TotalWounded, sum(&[national[1], international[1]])),
            (Col::TotalKidnapped, sum(&[national[2], international[2]])),
            (Col::TotalAffected, victims.total()),
        ];
        for (col, parts) in checks {
            let total = count(row, col, notes);
            if u64::from(total) != parts {
                notes.add(
                    WarningKind::TotalsDisagree { column: col.name() },
                    format!("{} is {total}, its parts add up to {parts}", col.name()),
                );
            }
        }
        victims
    }

    pub(super) fn total(&self) -> u64 {
        self.national
            .iter()
            .chain(&self.international)
            .map(|n| u64::from(*n))
            .sum()
    }

    pub(super) fn killed(&self) -> bool {
        self.national[0] + self.international[0] > 0
    }

    pub(super) fn wounded(&self) -> bool {
        self.national[1] + self.international[1] > 0
    }

    pub(super) fn kidnapped(&self) -> bool {
        self.national[2] + self.international[2] > 0
    }

    /// The non-zero cells, with the Gender totals distributed when that is unambiguous.
    pub(super) fn cells(&self, row: &Row<'_>, notes: &mut Notes) -> Vec<pb::VictimCount> {
        let mut cells: Vec<(pb::VictimOutcome, pb::StaffCategory, u32)> = Vec::new();
        for (staff, counts) in [
            (pb::StaffCategory::National, self.national),
            (pb::StaffCategory::International, self.international),
        ] {
            for (outcome, n) in OUTCOMES.iter().zip(counts) {
                if n > 0 {
                    cells.push((*outcome, staff, n));
                }
            }
        }
        let sexes = [
            (pb::Sex::Male, count(row, Col::GenderMale, notes)),
            (pb::Sex::Female, count(row, Col::GenderFemale, notes)),
            (pb::Sex::Unknown, count(row, Col::GenderUnknown, notes)),
        ];
        let gender_total: u64 = sexes.iter().map(|(_, n)| u64::from(*n)).sum();
        let detail = || {
            format!(
                "male {}, female {}, unknown {}",
                sexes[0].1, sexes[1].1, sexes[2].1
            )
        };
        let cell = |(outcome, staff, count): (pb::VictimOutcome, pb::StaffCategory, u32),
                    sex: pb::Sex| pb::VictimCount {
            outcome: outcome as i32,
            staff: staff as i32,
            sex: sex as i32,
            count,
            estimated: false,
        };
        let unknown_sex = |cells: &[(pb::VictimOutcome, pb::StaffCategory, u32)]| {
            cells.iter().map(|c| cell(*c, pb::Sex::Unknown)).collect()
        };

        if gender_total != self.total() {
            notes.add(
                WarningKind::TotalsDisagree {
                    column: "Gender Male+Female+Unknown",
                },
                format!("{}; the victims add up to {}", detail(), self.total()),
            );
            return unknown_sex(&cells);
        }
        let present: Vec<_> = sexes.iter().filter(|(_, n)| *n > 0).collect();
        match (present.as_slice(), cells.as_slice()) {
            // Everyone has the same sex: each cell is that sex.
            ([(sex, _)], _) => cells.iter().map(|c| cell(*c, *sex)).collect(),
            // One cell: split it by sex (the counts add up, checked above).
            (_, [(outcome, staff, _)]) => present
                .iter()
                .map(|(sex, n)| cell((*outcome, *staff, *n), *sex))
                .collect(),
            ([], _) => Vec::new(),
            _ => {
                notes.add(WarningKind::SexNotDistributed, detail());
                unknown_sex(&cells)
            }
        }
    }
}
