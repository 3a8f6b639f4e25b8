//! The mapping's unit tests: every rule, every warning, the reader's line numbers.

use std::io::{BufReader, Read};

use slt_proto::google::r#type::Date as ProtoDate;
use uuid::Uuid;

use super::columns::{COLUMN_NAMES, Col};
use super::reader::CrlfToLf;
use super::*;
use pb::{
    AttackContext as C, IncidentType as T, MeansOfAttack as M, PerpetratorType as P, Sex as S,
    StaffCategory as St, ThreatCategory as Th, VictimOutcome as O,
};
use time::macros::date;

/// A clean AWSD row; tests override the columns they are about.
const BASE: [(&str, &str); 41] = [
    ("Incident ID", "1234"),
    ("Year", "2021"),
    ("Month", "3"),
    ("Day", "4"),
    ("Country Code", "AF"),
    ("Country", "Afghanistan"),
    ("Region", "Kabul"),
    ("District", "Kabul"),
    ("City", "Kabul"),
    ("UN", "0"),
    ("INGO", "1"),
    ("ICRC", "0"),
    ("NRCS and IFRC", "0"),
    ("NNGO", "0"),
    ("Other", "0"),
    ("Nationals killed", "1"),
    ("Nationals wounded", "0"),
    ("Nationals kidnapped", "0"),
    ("Total nationals", "1"),
    ("Internationals killed", "0"),
    ("Internationals wounded", "0"),
    ("Internationals kidnapped", "0"),
    ("Total internationals", "0"),
    ("Total killed", "1"),
    ("Total wounded", "0"),
    ("Total kidnapped", "0"),
    ("Total affected", "1"),
    ("Gender Male", "1"),
    ("Gender Female", "0"),
    ("Gender Unknown", "0"),
    ("Means of attack", "Shooting"),
    ("Attack context", "Ambush"),
    ("Location", "Road"),
    ("Latitude", "34.5"),
    ("Longitude", "69.2"),
    ("Motive", "Political"),
    ("Actor type", "Non-state armed group: National"),
    ("Actor name", "Taliban"),
    ("Details", "1 INGO national staff killed in an ambush.\n"),
    ("Verified", "Yes"),
    ("Source", "Media"),
];

/// The CSV text of a header and one row per override list.
fn csv_text(rows: &[&[(&str, &str)]]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(BASE.iter().map(|(name, _)| *name))
        .expect("header");
    for overrides in rows {
        let row = BASE.iter().map(|(name, value)| {
            overrides
                .iter()
                .rev()
                .find(|(column, _)| column == name)
                .map_or(*value, |(_, value)| *value)
        });
        writer.write_record(row).expect("row");
    }
    writer.into_inner().expect("flush")
}

fn read(bytes: &[u8]) -> Vec<AwsdRecord> {
    AwsdReader::new(bytes, date!(2026 - 01 - 15))
        .expect("header")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows")
}

fn one(overrides: &[(&str, &str)]) -> AwsdRecord {
    let mut records = read(&csv_text(&[overrides]));
    assert_eq!(records.len(), 1);
    records.remove(0)
}

fn kinds(record: &AwsdRecord) -> Vec<WarningKind> {
    record.warnings.iter().map(|w| w.kind.clone()).collect()
}

fn victims(record: &AwsdRecord) -> Vec<(O, St, S, u32)> {
    record
        .incident
        .victims
        .iter()
        .map(|v| {
            (
                O::try_from(v.outcome).expect("outcome"),
                St::try_from(v.staff).expect("staff"),
                S::try_from(v.sex).expect("sex"),
                v.count,
            )
        })
        .collect()
}

#[test]
fn the_column_enum_matches_the_names() {
    assert_eq!(Col::Source as usize, COLUMN_NAMES.len() - 1);
    assert_eq!(Col::Un.name(), "UN");
    assert_eq!(Col::IfrcNrcs.name(), "NRCS and IFRC");
    assert_eq!(Col::GenderUnknown.name(), "Gender Unknown");
    assert_eq!(Col::ActorType.name(), "Actor type");
}

#[test]
fn a_clean_row_maps_every_field_without_warnings() {
    let record = one(&[]);
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    assert!(record.is_submittable());
    assert_eq!(record.line, 2);
    let incident = &record.incident;
    assert_eq!(incident.id, incident_id("1234").to_string());
    assert_eq!(
        incident.occurred_on,
        Some(ProtoDate {
            year: 2021,
            month: 3,
            day: 4
        })
    );
    assert_eq!(incident.date_precision, pb::DatePrecision::Day as i32);
    assert_eq!(incident.country, "AFG");
    assert_eq!(
        incident.admin1.as_ref().map(|a| a.name.as_str()),
        Some("Kabul")
    );
    assert_eq!(
        incident.admin2.as_ref().map(|a| a.name.as_str()),
        Some("Kabul")
    );
    assert_eq!(incident.locality, "Kabul");
    assert_eq!(
        incident.location,
        Some(pb::Location {
            latitude: 34.5,
            longitude: 69.2,
            precision: pb::GeoPrecision::Km25 as i32
        })
    );
    assert_eq!(incident.means_of_attack, M::Shooting as i32);
    assert_eq!(incident.attack_context, C::Ambush as i32);
    assert_eq!(incident.location_type, pb::LocationType::Road as i32);
    assert_eq!(incident.motive, pb::Motive::Political as i32);
    assert_eq!(incident.perpetrator_type, P::NsagNational as i32);
    assert_eq!(incident.perpetrator_name, "Taliban");
    assert_eq!(incident.threat_category, Th::ArmedConflict as i32);
    assert_eq!(
        incident.incident_types,
        [T::Killing as i32, T::AttackOnConvoy as i32]
    );
    assert_eq!(
        incident.affected_org_types,
        Some(pb::AffectedOrgTypes {
            ingo: 1,
            ..Default::default()
        })
    );
    assert_eq!(victims(&record), [(O::Killed, St::National, S::Male, 1)]);
    assert_eq!(incident.source_type, pb::SourceType::Media as i32);
    assert_eq!(incident.verification, pb::Verification::Verified as i32);
    assert_eq!(
        incident.narrative,
        "1 INGO national staff killed in an ambush."
    );
    assert_eq!(
        incident.external_refs.as_ref().map(|r| r.awsd.as_str()),
        Some("1234")
    );
    assert_eq!(incident.distribution, pb::Distribution::Community as i32);
    assert_eq!(incident.tlp, pb::Tlp::Clear as i32);
    assert!(incident.origin_org.is_empty() && incident.private.is_none());
}

#[test]
fn ids_are_deterministic_v5_of_the_awsd_id() {
    let id = incident_id("61");
    assert_eq!(id, incident_id(" 61 "));
    assert_eq!(id, Uuid::new_v5(&Uuid::NAMESPACE_URL, b"awsd:61"));
    assert_eq!(id.get_version_num(), 5);
    assert_ne!(id, incident_id("62"));
    let no_id = one(&[("Incident ID", "")]);
    assert_eq!(kinds(&no_id), [WarningKind::NoIncidentId]);
    assert_eq!(
        no_id,
        one(&[("Incident ID", "")]),
        "stable for the same file"
    );
}

#[test]
fn trailing_spaces_and_case_are_not_warnings() {
    let record = one(&[
        ("Means of attack", "Rape/sexual assault "),
        ("Location", " Office / Compound"),
        ("Source", "Official Report "),
        ("Verified", "yes "),
        ("Region", " Kabul  "),
    ]);
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    assert_eq!(record.incident.means_of_attack, M::RapeSexualAssault as i32);
    assert_eq!(
        record.incident.location_type,
        pb::LocationType::OfficeCompound as i32
    );
    assert_eq!(
        record.incident.source_type,
        pb::SourceType::OfficialReport as i32
    );
    assert_eq!(
        record.incident.admin1.as_ref().map(|a| a.name.as_str()),
        Some("Kabul")
    );
    assert_eq!(
        one(&[("Means of attack", "Landmine ")])
            .incident
            .means_of_attack,
        M::Landmine as i32
    );
    assert_eq!(
        one(&[("Source", "media")]).incident.source_type,
        pb::SourceType::Media as i32
    );
}

#[test]
fn two_spellings_of_a_value_map_the_same() {
    for spelling in ["Host state", "Host State", "HOST STATE"] {
        let record = one(&[("Actor type", spelling)]);
        assert!(record.warnings.is_empty(), "{spelling}");
        assert_eq!(record.incident.perpetrator_type, P::HostState as i32);
    }
    for spelling in ["Focal Point", "Focal point"] {
        let record = one(&[("Source", spelling)]);
        assert!(record.warnings.is_empty(), "{spelling}");
        assert_eq!(
            record.incident.source_type,
            pb::SourceType::FocalPoint as i32
        );
    }
    for spelling in ["Vehicle-born IED", "Vehicle-borne IED", "vehicle borne ied"] {
        let record = one(&[("Means of attack", spelling)]);
        assert!(record.warnings.is_empty(), "{spelling}");
        assert_eq!(record.incident.means_of_attack, M::VehicleBorneIed as i32);
    }
}

#[test]
fn the_non_state_armed_group_family_is_split_by_scope() {
    for (value, expected) in [
        ("Non-state armed group: National", P::NsagNational),
        ("Non-state armed group: Global ", P::NsagGlobal),
        ("Non-state armed group: Regional", P::NsagRegional),
        ("Non-state armed group: Subnational", P::NsagSubnational),
        ("Non-state armed group: Unknown", P::NsagUnknown),
        ("non-state armed group : national", P::NsagNational),
        ("Non-state armed group", P::NsagUnknown),
    ] {
        let record = one(&[("Actor type", value)]);
        assert!(record.warnings.is_empty(), "{value}: {:?}", record.warnings);
        assert_eq!(record.incident.perpetrator_type, expected as i32, "{value}");
    }
    let odd = one(&[("Actor type", "Non-state armed group: Martian")]);
    assert_eq!(odd.incident.perpetrator_type, P::Unknown as i32);
    assert_eq!(
        kinds(&odd),
        [WarningKind::Unmapped {
            column: "Actor type",
            value: "Non-state armed group: Martian".into(),
            read_as: "UNKNOWN"
        }]
    );
}

#[test]
fn state_unknown_is_unknown_with_a_warning_but_a_state_actor() {
    let record = one(&[
        ("Actor type", "State: unknown"),
        ("Means of attack", "Vehicle-born IED"),
    ]);
    assert_eq!(record.incident.perpetrator_type, P::Unknown as i32);
    assert!(matches!(
        kinds(&record)[..],
        [WarningKind::Unmapped {
            column: "Actor type",
            ..
        }]
    ));
    assert_eq!(record.incident.threat_category, Th::ArmedConflict as i32);
}

#[test]
fn missing_day_or_month_lowers_the_precision() {
    let month = one(&[("Day", "")]);
    assert!(month.warnings.is_empty());
    assert_eq!(
        month.incident.occurred_on,
        Some(ProtoDate {
            year: 2021,
            month: 3,
            day: 1
        })
    );
    assert_eq!(
        month.incident.date_precision,
        pb::DatePrecision::Month as i32
    );

    let year = one(&[("Month", ""), ("Day", "")]);
    assert!(year.warnings.is_empty());
    assert_eq!(
        year.incident.occurred_on,
        Some(ProtoDate {
            year: 2021,
            month: 1,
            day: 1
        })
    );
    assert_eq!(year.incident.date_precision, pb::DatePrecision::Year as i32);

    let impossible = one(&[("Month", "2"), ("Day", "30")]);
    assert_eq!(kinds(&impossible), [WarningKind::BadDate { column: "Day" }]);
    assert_eq!(
        impossible.incident.date_precision,
        pb::DatePrecision::Month as i32
    );
    let bad_month = one(&[("Month", "13")]);
    assert_eq!(
        kinds(&bad_month),
        [WarningKind::BadDate { column: "Month" }]
    );
    assert_eq!(
        bad_month.incident.date_precision,
        pb::DatePrecision::Year as i32
    );
    assert_eq!(
        one(&[("Year", "2021.0"), ("Day", "04")])
            .incident
            .occurred_on,
        Some(ProtoDate {
            year: 2021,
            month: 3,
            day: 4
        })
    );
}

#[test]
fn dates_the_hub_refuses_block_the_row() {
    for (year, expected) in [
        ("", WarningKind::NoYear),
        ("n/a", WarningKind::NoYear),
        ("1989", WarningKind::DateOutOfRange),
        ("2027", WarningKind::DateOutOfRange),
    ] {
        let record = one(&[("Year", year)]);
        assert_eq!(kinds(&record), [expected], "{year}");
        assert!(!record.is_submittable(), "{year}");
    }
    // The fixed "today" is 2026-01-15: this month is fine, a later day is not.
    assert!(one(&[("Year", "2026"), ("Month", "1"), ("Day", "")]).is_submittable());
    assert!(!one(&[("Year", "2026"), ("Month", "1"), ("Day", "16")]).is_submittable());
}

#[test]
fn verified_values() {
    for (value, expected) in [
        ("Yes", pb::Verification::Verified),
        ("Archived", pb::Verification::Verified),
        ("Pending", pb::Verification::Pending),
    ] {
        let record = one(&[("Verified", value)]);
        assert!(record.warnings.is_empty());
        assert_eq!(record.incident.verification, expected as i32);
    }
    let pen = one(&[("Verified", "Pen")]);
    assert_eq!(pen.incident.verification, pb::Verification::Pending as i32);
    assert_eq!(
        kinds(&pen),
        [WarningKind::Assumed {
            column: "Verified",
            value: "Pen".into(),
            read_as: "PENDING"
        }]
    );
    let empty = one(&[("Verified", "")]);
    assert_eq!(
        empty.incident.verification,
        pb::Verification::Unverified as i32
    );
    assert_eq!(
        kinds(&empty),
        [WarningKind::Empty {
            column: "Verified",
            read_as: "UNVERIFIED"
        }]
    );
}

#[test]
fn archived_source_is_the_partner_database() {
    let record = one(&[("Source", "Archived")]);
    assert!(record.warnings.is_empty());
    assert_eq!(
        record.incident.source_type,
        pb::SourceType::PartnerDatabase as i32
    );
    let odd = one(&[("Source", "Rumour")]);
    assert_eq!(odd.incident.source_type, pb::SourceType::Unspecified as i32);
    assert_eq!(odd.warnings.len(), 1);
}

#[test]
fn unmapped_and_empty_values_fall_back_with_a_warning() {
    let record = one(&[
        ("Means of attack", "Arson"),
        ("Attack context", "Siege"),
        ("Location", "Boat"),
        ("Motive", ""),
    ]);
    assert!(record.is_submittable());
    assert_eq!(record.incident.means_of_attack, M::Unknown as i32);
    assert_eq!(record.incident.attack_context, C::Unknown as i32);
    assert_eq!(
        record.incident.location_type,
        pb::LocationType::Unknown as i32
    );
    assert_eq!(record.incident.motive, pb::Motive::Unknown as i32);
    let texts: Vec<String> = record.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        texts,
        [
            "unmapped Means of attack 'Arson' (read as UNKNOWN)",
            "unmapped Attack context 'Siege' (read as UNKNOWN)",
            "unmapped Location 'Boat' (read as UNKNOWN)",
            "empty Motive (read as UNKNOWN)",
        ]
    );
}

#[test]
fn totals_that_disagree_are_imported_with_a_warning() {
    let record = one(&[("Total killed", "3"), ("Total affected", "2")]);
    assert!(record.is_submittable());
    assert_eq!(
        kinds(&record),
        [
            WarningKind::TotalsDisagree {
                column: "Total killed"
            },
            WarningKind::TotalsDisagree {
                column: "Total affected"
            },
        ]
    );
    assert_eq!(
        record.warnings[0].detail,
        "Total killed is 3, its parts add up to 1"
    );
    // The cells come from the breakdown, as given.
    assert_eq!(victims(&record), [(O::Killed, St::National, S::Male, 1)]);

    let orgs = one(&[("UN", "2")]);
    assert_eq!(
        kinds(&orgs),
        [WarningKind::TotalsDisagree {
            column: "UN+INGO+ICRC+NRCS and IFRC+NNGO+Other"
        }]
    );
    assert_eq!(orgs.incident.affected_org_types.map(|o| o.un), Some(2));
}

#[test]
fn numbers_that_are_not_counts_read_as_zero() {
    let record = one(&[
        ("NNGO", "two"),
        ("ICRC", ""),
        ("UN", "-1"),
        ("Other", "1e9"),
    ]);
    assert_eq!(
        kinds(&record),
        [
            WarningKind::BadCount { column: "UN" },
            WarningKind::BadCount { column: "NNGO" },
            WarningKind::BadCount { column: "Other" },
        ]
    );
    assert_eq!(record.warnings[1].detail, "'two'");
    assert_eq!(
        record.incident.affected_org_types,
        Some(pb::AffectedOrgTypes {
            ingo: 1,
            ..Default::default()
        })
    );
}

/// Two national victims killed, one international wounded.
const MIXED: [(&str, &str); 8] = [
    ("Nationals killed", "2"),
    ("Total nationals", "2"),
    ("Internationals wounded", "1"),
    ("Total internationals", "1"),
    ("Total killed", "2"),
    ("Total wounded", "1"),
    ("Total affected", "3"),
    ("INGO", "3"),
];

#[test]
fn one_sex_for_everyone_goes_to_every_cell() {
    let mut row = MIXED.to_vec();
    row.extend([("Gender Male", "0"), ("Gender Female", "3")]);
    let record = one(&row);
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    assert_eq!(
        victims(&record),
        [
            (O::Killed, St::National, S::Female, 2),
            (O::Injured, St::International, S::Female, 1),
        ]
    );
    assert_eq!(
        record.incident.incident_types,
        [
            T::Killing as i32,
            T::Injury as i32,
            T::AttackOnConvoy as i32
        ]
    );
}

#[test]
fn a_single_cell_is_split_by_sex() {
    let record = one(&[
        ("Nationals kidnapped", "3"),
        ("Nationals killed", "0"),
        ("Total nationals", "3"),
        ("Total killed", "0"),
        ("Total kidnapped", "3"),
        ("Total affected", "3"),
        ("INGO", "3"),
        ("Gender Male", "2"),
        ("Gender Unknown", "1"),
        ("Means of attack", "Kidnapping"),
    ]);
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
    assert_eq!(
        victims(&record),
        [
            (O::Kidnapped, St::National, S::Male, 2),
            (O::Kidnapped, St::National, S::Unknown, 1),
        ]
    );
}

#[test]
fn mixed_sexes_over_several_cells_stay_unknown_with_a_warning() {
    let mut row = MIXED.to_vec();
    row.extend([("Gender Male", "2"), ("Gender Female", "1")]);
    let record = one(&row);
    assert_eq!(kinds(&record), [WarningKind::SexNotDistributed]);
    assert_eq!(record.warnings[0].detail, "male 2, female 1, unknown 0");
    assert_eq!(
        victims(&record),
        [
            (O::Killed, St::National, S::Unknown, 2),
            (O::Injured, St::International, S::Unknown, 1),
        ]
    );

    let mismatch = one(&[("Gender Male", "2")]);
    assert_eq!(
        kinds(&mismatch),
        [WarningKind::TotalsDisagree {
            column: "Gender Male+Female+Unknown"
        }]
    );
    assert_eq!(
        victims(&mismatch),
        [(O::Killed, St::National, S::Unknown, 1)]
    );
}

#[test]
fn places_without_a_country_code() {
    let chechnya = one(&[("Country Code", ""), ("Country", "Chechnya")]);
    assert_eq!(chechnya.incident.country, "RUS");
    assert!(chechnya.is_submittable());
    assert_eq!(
        kinds(&chechnya),
        [WarningKind::Assumed {
            column: "Country",
            value: "Chechnya".into(),
            read_as: "RUS"
        }]
    );
    let kashmir = |lat: &'static str, lon: &'static str| {
        one(&[
            ("Country Code", ""),
            ("Country", "Kashmir"),
            ("Latitude", lat),
            ("Longitude", lon),
        ])
        .incident
        .country
    };
    assert_eq!(kashmir("34.3752779", "73.4730602"), "PAK", "Muzaffarabad");
    assert_eq!(kashmir("34.08", "74.79"), "IND", "Srinagar");
    assert_eq!(kashmir("", ""), "IND");

    let nowhere = one(&[("Country Code", ""), ("Country", "")]);
    assert_eq!(nowhere.incident.country, "XXX");
    assert_eq!(kinds(&nowhere), [WarningKind::NoCountry]);
    assert!(nowhere.is_submittable());
    let bad = one(&[("Country Code", "QQ")]);
    assert_eq!(
        kinds(&bad),
        [WarningKind::UnknownCountryCode { code: "QQ".into() }]
    );
    assert_eq!(bad.incident.country, "XXX");
    assert!(bad.is_submittable());
    assert_eq!(one(&[("Country Code", "xk")]).incident.country, "XKX");
    assert_eq!(one(&[("Country Code", "SSD")]).incident.country, "SSD");
}

#[test]
fn long_texts_are_cut_on_a_character_boundary() {
    let city = "é".repeat(250);
    let details = "ü".repeat(10_000);
    let record = one(&[("City", &city), ("Details", &details)]);
    assert_eq!(record.incident.locality.chars().count(), MAX_NAME_CHARS);
    assert!(record.incident.narrative.len() <= MAX_NARRATIVE_BYTES);
    assert_eq!(record.incident.narrative.len(), MAX_NARRATIVE_BYTES);
    assert_eq!(
        kinds(&record),
        [
            WarningKind::Truncated { column: "City" },
            WarningKind::Truncated { column: "Details" },
        ]
    );
    assert_eq!(
        one(&[("Actor name", "Not applicable")])
            .incident
            .perpetrator_name,
        ""
    );
    assert_eq!(
        one(&[("Actor name", "Unknown")]).incident.perpetrator_name,
        ""
    );
}

#[test]
fn unusable_coordinates_leave_no_location() {
    for (lat, lon) in [("95", "10"), ("10", ""), ("north", "10"), ("0", "0")] {
        let record = one(&[("Latitude", lat), ("Longitude", lon)]);
        assert_eq!(record.incident.location, None, "{lat}, {lon}");
        assert_eq!(kinds(&record), [WarningKind::BadCoordinates]);
    }
    let none = one(&[("Latitude", ""), ("Longitude", "")]);
    assert_eq!(none.incident.location, None);
    assert!(none.warnings.is_empty());
}

#[test]
fn threat_categories() {
    let threat = |overrides: &[(&str, &str)]| {
        let record = one(overrides);
        (
            Th::try_from(record.incident.threat_category).expect("threat"),
            record
                .warnings
                .iter()
                .any(|w| w.kind == WarningKind::ThreatCategoryDefaulted),
        )
    };
    let unknown = [
        ("Means of attack", "Unknown"),
        ("Attack context", "Unknown"),
        ("Actor type", "Unknown"),
        ("Motive", "Unknown"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut row = unknown.to_vec();
        row.extend_from_slice(extra);
        threat(&row)
    };
    assert_eq!(with(&[]), (Th::ArmedConflict, true));
    assert_eq!(
        with(&[("Attack context", "Mob violence"), ("Motive", "Economic")]),
        (Th::CivilUnrest, false)
    );
    assert_eq!(
        with(&[("Means of attack", "Aerial bombardment")]),
        (Th::ArmedConflict, false)
    );
    assert_eq!(
        with(&[("Attack context", "Combat/Crossfire")]),
        (Th::ArmedConflict, false)
    );
    assert_eq!(
        with(&[("Means of attack", "Roadside IED")]),
        (Th::Terrorism, false)
    );
    assert_eq!(
        with(&[
            ("Means of attack", "Roadside IED"),
            ("Actor type", "Host state")
        ]),
        (Th::ArmedConflict, false)
    );
    assert_eq!(
        with(&[
            ("Means of attack", "Kidnapping"),
            ("Actor type", "Non-state armed group: Regional"),
            ("Motive", "Economic"),
        ]),
        (Th::Crime, false)
    );
    assert_eq!(with(&[("Actor type", "Criminal")]), (Th::Crime, false));
    assert_eq!(
        with(&[("Actor type", "Non-state armed group: Global")]),
        (Th::Terrorism, false)
    );
    assert_eq!(
        with(&[("Actor type", "Non-state armed group: Subnational")]),
        (Th::ArmedConflict, false)
    );
    assert_eq!(
        with(&[("Actor type", "Police or paramilitary")]),
        (Th::ArmedConflict, false)
    );
    assert_eq!(with(&[("Actor type", "Aid recipient")]), (Th::Crime, false));
    assert_eq!(
        with(&[("Means of attack", "Bodily assault")]),
        (Th::Crime, false)
    );
    assert_eq!(with(&[("Motive", "Political")]), (Th::ArmedConflict, false));
}

#[test]
fn incident_types_from_outcomes_and_circumstances() {
    let types = |overrides: &[(&str, &str)]| {
        one(overrides)
            .incident
            .incident_types
            .iter()
            .map(|t| T::try_from(*t).expect("type"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        types(&[
            ("Means of attack", "Kidnap-killing"),
            ("Attack context", "Raid"),
            ("Location", "Home"),
        ]),
        [T::Killing, T::Abduction, T::BurglaryResidenceBreakin]
    );
    assert_eq!(
        types(&[
            ("Means of attack", "Rape/sexual assault"),
            ("Attack context", "Detention"),
            ("Location", "Custody"),
        ]),
        [T::Killing, T::SexualViolence, T::ArrestDetention]
    );
    assert_eq!(
        types(&[
            ("Means of attack", "Shelling"),
            ("Attack context", "Unknown"),
            ("Location", "Office/compound"),
            ("Motive", "Economic"),
        ]),
        [T::Killing, T::AttackOnPremises, T::Robbery]
    );
    let nobody = [
        ("Nationals killed", "0"),
        ("Total nationals", "0"),
        ("Total killed", "0"),
        ("Total affected", "0"),
        ("INGO", "0"),
        ("Gender Male", "0"),
        ("Attack context", "Unknown"),
    ];
    assert_eq!(types(&nobody), [T::Other]);
    assert!(one(&nobody).incident.victims.is_empty());
}

#[test]
fn header_problems_are_errors_and_only_they() {
    let missing = "Incident ID,Year,Month\n1,2021,3\n";
    match AwsdReader::new(missing.as_bytes(), date!(2026 - 01 - 15)) {
        Err(AwsdError::MissingColumns { missing }) => {
            assert_eq!(missing.len(), 38);
            assert!(missing.contains(&"Country Code".to_string()));
        }
        other => panic!("expected MissingColumns, got {other:?}"),
    }
    assert!(matches!(
        AwsdReader::new(&b""[..], date!(2026 - 01 - 15)),
        Err(AwsdError::Empty)
    ));

    // Columns in another order, another case, a BOM and an extra column are fine.
    let mut names: Vec<String> = BASE.iter().map(|(n, _)| n.to_lowercase()).collect();
    names.reverse();
    names.push("Comment".into());
    let values: Vec<&str> = BASE
        .iter()
        .rev()
        .map(|(_, v)| *v)
        .chain(["extra"])
        .collect();
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(&names).expect("header");
    writer.write_record(&values).expect("row");
    let text = writer.into_inner().expect("flush");
    let shuffled = read(&text);
    assert_eq!(shuffled.len(), 1);
    assert_eq!(shuffled[0].incident, one(&[]).incident);
}

#[test]
fn ragged_rows_and_bad_bytes_are_warnings() {
    let mut text = csv_text(&[]);
    text.extend_from_slice(b"77,2020,5\n");
    text.extend_from_slice(b"\n");
    let mut bad = csv_text(&[&[("City", "Kab\u{1}ul")]]);
    let at = bad.iter().position(|b| *b == 1).expect("marker byte");
    bad[at] = 0xFF;
    let header_end = bad.iter().position(|b| *b == b'\n').expect("header line") + 1;
    text.extend_from_slice(&bad[header_end..]);

    let records = read(&text);
    assert_eq!(records.len(), 2);
    let short = &records[0];
    assert_eq!(short.line, 2);
    assert!(kinds(short).contains(&WarningKind::RaggedRow));
    assert!(kinds(short).contains(&WarningKind::NoCountry));
    assert_eq!(
        short
            .incident
            .external_refs
            .as_ref()
            .map(|r| r.awsd.as_str()),
        Some("77")
    );
    let garbled = &records[1];
    // The csv crate skips the blank line without counting it.
    assert_eq!(garbled.line, 3);
    assert_eq!(
        kinds(garbled),
        [WarningKind::InvalidUtf8 { column: "City" }]
    );
    assert_eq!(garbled.incident.locality, "Kab\u{FFFD}ul");
}

#[test]
fn summary_counts_rows_per_kind() {
    let text = csv_text(&[
        &[("Means of attack", "Arson")],
        &[("Means of attack", "Arson"), ("Verified", "Pen")],
        &[("Means of attack", "arson ")],
        &[("Country Code", "")],
        &[],
    ]);
    let mut summary = WarningSummary::default();
    for record in read(&text) {
        summary.add(&record);
    }
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.rows_with_warnings, 4);
    assert_eq!(summary.blocked_rows, 0);
    assert_eq!(
        summary.to_string(),
        "5 rows, 4 with warnings, 0 the hub will refuse\n\
         \x20 unmapped Means of attack 'Arson' (read as UNKNOWN): 2 rows\n\
         \x20 unmapped Means of attack 'arson' (read as UNKNOWN): 1 row\n\
         \x20 Verified 'Pen' read as PENDING: 1 row\n\
         \x20 no country (imported as XXX, unknown): 1 row\n"
    );
}

/// A reader that hands out one byte per call, to cross every chunk boundary.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((byte, rest)), Some(slot)) => {
                *slot = *byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn crlf_becomes_lf_across_chunk_boundaries() {
    let input = b"a\r\nb\rc\r\r\n\"x\r\ny\"\r";
    let expected = b"a\nb\rc\r\n\"x\ny\"\r";
    for chunk in [1, 2, 3, 64] {
        let mut out = Vec::new();
        let mut filter = CrlfToLf {
            inner: BufReader::with_capacity(chunk, Trickle(input)),
        };
        let mut buf = vec![0; chunk];
        loop {
            let n = filter.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, expected, "chunk {chunk}");
    }
}

#[test]
fn lines_count_from_the_header_with_crlf_and_multi_line_details() {
    let text = csv_text(&[&[("Details", "two\r\nlines")], &[]]);
    let crlf: Vec<u8> = String::from_utf8(text)
        .expect("utf-8")
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes();
    let records = read(&crlf);
    assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(records[0].incident.narrative, "two\nlines");
}

#[test]
fn country_codes_come_from_the_api_table() {
    assert_eq!(alpha3("af"), Some("AFG"));
    assert_eq!(alpha3("COD"), Some("COD"));
    assert_eq!(alpha3("ZZ"), None);
}
