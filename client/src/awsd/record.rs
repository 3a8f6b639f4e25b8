//! One row into one incident: each field family is mapped by its own module, here they are put
//! together in the order their warnings should read.

use time::Date;
use uuid::Uuid;

use slt_proto::v1 as pb;

use super::categories::Categories;
use super::classification::{incident_types, threat_category};
use super::columns::{Col, Row};
use super::dates::map_date;
use super::organisations::affected_org_types;
use super::places::{map_country, map_location};
use super::texts::Texts;
use super::victims::Victims;
use super::warnings::{Notes, WarningKind};
use super::{AwsdRecord, ID_NAMESPACE, incident_id};

pub(super) fn map_row(row: &Row<'_>, line: u64, today: Date, mut notes: Notes) -> AwsdRecord {
    let awsd_id = row.get(Col::IncidentId).to_string();
    let id = if awsd_id.is_empty() {
        notes.add(WarningKind::NoIncidentId, format!("line {line}"));
        Uuid::new_v5(&ID_NAMESPACE, format!("awsd-line:{line}").as_bytes())
    } else {
        incident_id(&awsd_id)
    };

    let (occurred_on, date_precision) = map_date(row, today, &mut notes);
    let location = map_location(row, &mut notes);
    let country = map_country(row, location.as_ref(), &mut notes);

    let categories = Categories::read(row, &mut notes);
    let victims = Victims::read(row, &mut notes);
    let affected_org_types = affected_org_types(row, &victims, &mut notes);

    let incident_types = incident_types(&categories, &victims)
        .into_iter()
        .map(|kind| kind as i32)
        .collect();
    let threat = threat_category(&categories).unwrap_or_else(|| {
        notes.add(WarningKind::ThreatCategoryDefaulted, String::new());
        pb::ThreatCategory::ArmedConflict
    });

    let cells = victims.cells(row, &mut notes);
    let texts = Texts::read(row, &mut notes);

    let incident = pb::Incident {
        id: id.to_string(),
        occurred_on,
        date_precision: date_precision as i32,
        country,
        admin1: texts.admin1,
        admin2: texts.admin2,
        locality: texts.locality,
        location,
        threat_category: threat as i32,
        incident_types,
        means_of_attack: categories.means as i32,
        attack_context: categories.context as i32,
        location_type: categories.location as i32,
        motive: categories.motive as i32,
        perpetrator_type: categories.actor as i32,
        perpetrator_name: texts.perpetrator_name,
        affected_org_types: Some(affected_org_types),
        victims: cells,
        source_type: categories.source as i32,
        verification: categories.verification as i32,
        narrative: texts.narrative,
        external_refs: Some(pb::ExternalRefs {
            awsd: awsd_id,
            ..Default::default()
        }),
        distribution: pb::Distribution::Community as i32,
        tlp: pb::Tlp::Clear as i32,
        ..Default::default()
    };
    AwsdRecord {
        line,
        incident,
        warnings: notes.0,
    }
}
