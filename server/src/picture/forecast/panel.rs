//! Count series per area and period, built from dated events; and the AWSD CSV export read
//! into such events (the backtest's data when it does not come from a hub).

use std::collections::BTreeMap;
use std::io::Read;

use time::{Date, Month};

use crate::domain::Granularity;
use crate::picture::periods::period_of;

/// One incident reduced to what a count series needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub area: String,
    pub year: i32,
    pub month: u8,
}

/// Why the events could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PanelError {
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV header lacks the column {0:?}")]
    MissingColumn(&'static str),
}

/// Equal-length count series, one per area, over consecutive periods.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub granularity: Granularity,
    /// The period (as `periods::period_of` numbers it) of index 0.
    pub first_period: i64,
    pub areas: Vec<String>,
    pub series: Vec<Vec<u32>>,
}

impl Panel {
    /// Counts `events` per area and period, from the first event's period to the last's.
    pub fn from_events(events: &[Event], granularity: Granularity) -> Self {
        let dated: Vec<(&str, i64)> = events
            .iter()
            .filter_map(|e| {
                let month = Month::try_from(e.month).ok()?;
                let date = Date::from_calendar_date(e.year, month, 1).ok()?;
                Some((e.area.as_str(), period_of(granularity, date)))
            })
            .collect();
        let first = dated.iter().map(|(_, p)| *p).min().unwrap_or(0);
        let last = dated.iter().map(|(_, p)| *p).max().unwrap_or(-1);
        let len = usize::try_from(last - first + 1).unwrap_or(0);
        let mut by_area: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (area, period) in &dated {
            let series = by_area.entry(area).or_insert_with(|| vec![0; len]);
            if let Ok(index) = usize::try_from(period - first) {
                series[index] = series[index].saturating_add(1);
            }
        }
        Self {
            granularity,
            first_period: first,
            areas: by_area.keys().map(|a| a.to_string()).collect(),
            series: by_area.into_values().collect(),
        }
    }

    /// Index of `period` in the series, if inside the panel.
    pub fn index_of(&self, period: i64) -> Option<usize> {
        usize::try_from(period - self.first_period)
            .ok()
            .filter(|i| *i < self.len())
    }

    /// Periods in each series.
    pub fn len(&self) -> usize {
        self.series.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `n` series with the most events (ties by area name), as indices.
    pub fn largest(&self, n: usize) -> Vec<usize> {
        let mut order: Vec<(u64, usize)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.iter().map(|v| u64::from(*v)).sum(), i))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        order.into_iter().take(n).map(|(_, i)| i).collect()
    }
}

/// The events of an AWSD CSV export by country code and month, and how many rows were left
/// out for lacking a country or a month (they cannot be placed in a series).
pub fn awsd_events(reader: impl Read) -> Result<(Vec<Event>, usize), PanelError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header = csv.headers()?.clone();
    let column = |name: &'static str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
            .ok_or(PanelError::MissingColumn(name))
    };
    let (year, month, country) = (column("Year")?, column("Month")?, column("Country Code")?);
    let mut events = Vec::new();
    let mut skipped = 0;
    for record in csv.records() {
        let record = record?;
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let parsed = (field(year).parse::<i32>(), field(month).parse::<u8>());
        match (parsed, field(country)) {
            ((Ok(year), Ok(month)), area) if !area.is_empty() => events.push(Event {
                area: area.to_uppercase(),
                year,
                month,
            }),
            _ => skipped += 1,
        }
    }
    Ok((events, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_quarter() {
        let csv = "Year,Month,Country Code,Other\n2000,1,AF,x\n2000,3,AF,x\n2000,4,SO,x\n\
                   2000,,AF,x\n2001,2,,x\n2000,12,AF,x\n";
        let (events, skipped) = awsd_events(csv.as_bytes()).expect("the CSV reads");
        assert_eq!(skipped, 2);
        let panel = Panel::from_events(&events, Granularity::Quarter);
        assert_eq!(panel.areas, vec!["AF", "SO"]);
        assert_eq!(panel.series[0], vec![2, 0, 0, 1]);
        assert_eq!(panel.series[1], vec![0, 1, 0, 0]);
        assert_eq!(panel.largest(1), vec![0]);
        assert_eq!(panel.index_of(2000 * 4 + 3), Some(3));
    }
}
