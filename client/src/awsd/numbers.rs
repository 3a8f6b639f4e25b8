//! Count columns: whole numbers within the hub's range.

use super::MAX_COUNT;
use super::columns::{Col, Row};
use super::warnings::{Notes, WarningKind, quoted};

/// A count column: empty is 0; anything but a whole number in 0..=100000 is 0 with a warning.
pub(super) fn count(row: &Row<'_>, col: Col, notes: &mut Notes) -> u32 {
    let text = row.get(col);
    if text.is_empty() {
        return 0;
    }
    match parse_whole(text).and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n <= MAX_COUNT => n,
        _ => {
            notes.add(WarningKind::BadCount { column: col.name() }, quoted(text));
            0
        }
    }
}

/// A non-negative whole number, also written as a float (`3.0`, as spreadsheets export).
pub(super) fn parse_whole(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let float = text.parse::<f64>().ok()?;
    let whole = float.is_finite() && float >= 0.0 && float.fract() == 0.0 && float < 1e15;
    // The range check above keeps the cast exact.
    whole.then_some(float as u64)
}
