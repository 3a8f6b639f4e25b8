//! Year/Month/Day into a date and its precision.

use slt_proto::google::r#type::Date as ProtoDate;
use slt_proto::v1 as pb;
use time::{Date, Month};

use super::EARLIEST_YEAR;
use super::columns::{Col, Row};
use super::numbers::parse_whole;
use super::warnings::{Notes, WarningKind, quoted};

/// Year/Month/Day -> a date and its precision. `None` when there is no usable year.
pub(super) fn map_date(
    row: &Row<'_>,
    today: Date,
    notes: &mut Notes,
) -> (Option<ProtoDate>, pb::DatePrecision) {
    let year_text = row.get(Col::Year);
    let Some(year) = parse_whole(year_text).and_then(|y| i32::try_from(y).ok()) else {
        notes.add(WarningKind::NoYear, quoted(year_text));
        return (None, pb::DatePrecision::Year);
    };
    let month_text = row.get(Col::Month);
    let month = if month_text.is_empty() {
        None
    } else {
        let month = parse_whole(month_text)
            .and_then(|m| u8::try_from(m).ok())
            .and_then(|m| Month::try_from(m).ok());
        if month.is_none() {
            notes.add(WarningKind::BadDate { column: "Month" }, quoted(month_text));
        }
        month
    };
    let day_text = row.get(Col::Day);
    let (date, precision) = match month {
        None => (
            Date::from_calendar_date(year, Month::January, 1),
            pb::DatePrecision::Year,
        ),
        Some(month) if day_text.is_empty() => (
            Date::from_calendar_date(year, month, 1),
            pb::DatePrecision::Month,
        ),
        Some(month) => {
            match parse_whole(day_text)
                .and_then(|d| u8::try_from(d).ok())
                .map(|day| Date::from_calendar_date(year, month, day))
            {
                Some(Ok(date)) => (Ok(date), pb::DatePrecision::Day),
                _ => {
                    notes.add(
                        WarningKind::BadDate { column: "Day" },
                        format!("{year}-{}-{day_text}", u8::from(month)),
                    );
                    (
                        Date::from_calendar_date(year, month, 1),
                        pb::DatePrecision::Month,
                    )
                }
            }
        }
    };
    let Ok(date) = date else {
        // Only a year outside time's range gets here.
        notes.add(WarningKind::DateOutOfRange, quoted(year_text));
        return (None, precision);
    };
    if date.year() < EARLIEST_YEAR || date > today {
        notes.add(WarningKind::DateOutOfRange, date.to_string());
    }
    let proto = ProtoDate {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    };
    (Some(proto), precision)
}
