//! Periods of the threat picture as integers (consecutive periods are consecutive numbers), with
//! their first and last days and labels.

use time::{Date, Duration, Month};

use crate::domain::Granularity;

/// A Monday: weeks are counted from it.
const MONDAY_JULIAN_DAY: i32 = 2_451_547; // 2000-01-03

/// The period `date` falls in.
pub fn period_of(granularity: Granularity, date: Date) -> i64 {
    let year = i64::from(date.year());
    let month = i64::from(u8::from(date.month())) - 1;
    match granularity {
        Granularity::Week => i64::from(date.to_julian_day() - MONDAY_JULIAN_DAY).div_euclid(7),
        Granularity::Month => year * 12 + month,
        Granularity::Quarter => year * 4 + month / 3,
        Granularity::Year => year,
    }
}

fn month_start(year: i64, month0: i64) -> Option<Date> {
    let month = Month::try_from(u8::try_from(month0 + 1).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, 1).ok()
}

/// The first day of `period`; `None` outside the calendar's range.
pub fn period_start(granularity: Granularity, period: i64) -> Option<Date> {
    match granularity {
        Granularity::Week => {
            let day = i64::from(MONDAY_JULIAN_DAY).checked_add(period.checked_mul(7)?)?;
            Date::from_julian_day(i32::try_from(day).ok()?).ok()
        }
        Granularity::Month => month_start(period.div_euclid(12), period.rem_euclid(12)),
        Granularity::Quarter => month_start(period.div_euclid(4), period.rem_euclid(4) * 3),
        Granularity::Year => month_start(period, 0),
    }
}

/// The last day of `period`.
pub fn period_end(granularity: Granularity, period: i64) -> Option<Date> {
    period_start(granularity, period.checked_add(1)?)?.checked_sub(Duration::days(1))
}

/// The label of `period`: "2024-W05", "2024-03", "2024-Q1", "2024".
pub fn label(granularity: Granularity, period: i64) -> String {
    match granularity {
        Granularity::Week => match period_start(granularity, period) {
            Some(start) => {
                let (year, week, _) = start.to_iso_week_date();
                format!("{year}-W{week:02}")
            }
            None => format!("week {period}"),
        },
        Granularity::Month => format!(
            "{:04}-{:02}",
            period.div_euclid(12),
            period.rem_euclid(12) + 1
        ),
        Granularity::Quarter => {
            format!("{:04}-Q{}", period.div_euclid(4), period.rem_euclid(4) + 1)
        }
        Granularity::Year => format!("{period:04}"),
    }
}

/// The period of a store bucket (`YYYY-MM-DD` for weeks, `YYYY-MM` for months and quarters,
/// `YYYY` for years).
pub fn bucket_period(granularity: Granularity, bucket: &str) -> Option<i64> {
    let part = |range: std::ops::Range<usize>| bucket.get(range)?.parse::<i64>().ok();
    match granularity {
        Granularity::Week => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            Date::parse(bucket, &format)
                .ok()
                .map(|date| period_of(granularity, date))
        }
        Granularity::Month => Some(part(0..4)? * 12 + part(5..7)? - 1),
        Granularity::Quarter => Some(part(0..4)? * 4 + (part(5..7)? - 1) / 3),
        Granularity::Year => part(0..4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_round_trip_and_are_labelled() {
        for granularity in [
            Granularity::Week,
            Granularity::Month,
            Granularity::Quarter,
            Granularity::Year,
        ] {
            for day in [
                date!(2024 - 01 - 01),
                date!(2023 - 12 - 31),
                date!(1997 - 07 - 15),
            ] {
                let period = period_of(granularity, day);
                let start = period_start(granularity, period).expect("start");
                let end = period_end(granularity, period).expect("end");
                assert!(start <= day && day <= end, "{granularity:?} {day}");
                assert_eq!(period_of(granularity, start), period);
                assert_eq!(period_of(granularity, end), period);
                assert_eq!(period_start(granularity, period + 1), end.next_day());
            }
        }
        assert_eq!(
            label(
                Granularity::Week,
                period_of(Granularity::Week, date!(2024 - 01 - 31))
            ),
            "2024-W05"
        );
        assert_eq!(
            label(
                Granularity::Week,
                period_of(Granularity::Week, date!(2021 - 01 - 01))
            ),
            "2020-W53"
        );
        assert_eq!(
            label(
                Granularity::Month,
                period_of(Granularity::Month, date!(2024 - 03 - 09))
            ),
            "2024-03"
        );
        assert_eq!(
            label(
                Granularity::Quarter,
                period_of(Granularity::Quarter, date!(2024 - 08 - 09))
            ),
            "2024-Q3"
        );
        assert_eq!(label(Granularity::Year, 2024), "2024");
        assert_eq!(
            bucket_period(Granularity::Quarter, "2024-08"),
            Some(period_of(Granularity::Quarter, date!(2024 - 08 - 01)))
        );
        assert_eq!(
            bucket_period(Granularity::Week, "2024-01-31"),
            Some(period_of(Granularity::Week, date!(2024 - 01 - 29)))
        );
        assert_eq!(bucket_period(Granularity::Year, "2021"), Some(2021));
    }
}
