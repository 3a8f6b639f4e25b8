//! Free-text columns (names, the perpetrator's name, the narrative), cut to the hub's limits on a
//! character boundary.

use slt_proto::v1 as pb;

use super::categories::fold;
use super::columns::{Col, Row};
use super::warnings::{Notes, WarningKind};
use super::{MAX_NAME_CHARS, MAX_NARRATIVE_BYTES};

/// The named places and free texts of a row.
pub(super) struct Texts {
    pub(super) admin1: Option<pb::AdminArea>,
    pub(super) admin2: Option<pb::AdminArea>,
    pub(super) locality: String,
    pub(super) perpetrator_name: String,
    pub(super) narrative: String,
}

impl Texts {
    /// Reads them in this order, which is the order of their warnings.
    pub(super) fn read(row: &Row<'_>, notes: &mut Notes) -> Self {
        let area = |col: Col, notes: &mut Notes| {
            name(row, col, notes).map(|name| pb::AdminArea {
                name,
                pcode: String::new(),
            })
        };
        let admin1 = area(Col::Region, notes);
        let admin2 = area(Col::District, notes);
        let locality = name(row, Col::City, notes).unwrap_or_default();
        let perpetrator_name = perpetrator_name(row, notes);
        let narrative = narrative(row, notes);
        Self {
            admin1,
            admin2,
            locality,
            perpetrator_name,
            narrative,
        }
    }
}

/// A name column, cut to the hub's limit; `None` when empty.
fn name(row: &Row<'_>, col: Col, notes: &mut Notes) -> Option<String> {
    let text = row.get(col);
    if text.is_empty() {
        return None;
    }
    Some(cut_chars(text, col, notes))
}

/// Actor name, unless it says nobody is known.
fn perpetrator_name(row: &Row<'_>, notes: &mut Notes) -> String {
    let text = row.get(Col::ActorName);
    match fold(text).as_str() {
        "" | "unknown" | "not applicable" | "n/a" | "none" => String::new(),
        _ => cut_chars(text, Col::ActorName, notes),
    }
}

fn cut_chars(text: &str, col: Col, notes: &mut Notes) -> String {
    match text.char_indices().nth(MAX_NAME_CHARS) {
        None => text.to_string(),
        Some((end, _)) => {
            notes.add(
                WarningKind::Truncated { column: col.name() },
                format!(
                    "{} characters cut to {MAX_NAME_CHARS}",
                    text.chars().count()
                ),
            );
            text[..end].trim_end().to_string()
        }
    }
}

/// Details, cut to 16 KiB on a character boundary.
fn narrative(row: &Row<'_>, notes: &mut Notes) -> String {
    let text = row.get(Col::Details);
    if text.len() <= MAX_NARRATIVE_BYTES {
        return text.to_string();
    }
    let mut end = MAX_NARRATIVE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    notes.add(
        WarningKind::Truncated { column: "Details" },
        format!("{} bytes cut to {MAX_NARRATIVE_BYTES}", text.len()),
    );
    text[..end].to_string()
}
