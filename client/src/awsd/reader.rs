//! The streaming CSV reader: finds the AWSD columns in the header, then maps one row at a time.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use time::{Date, OffsetDateTime};

use super::columns::{COLUMN_NAMES, Row};
use super::record::map_row;
use super::warnings::{Notes, WarningKind};
use super::{AwsdError, AwsdRecord};

/// Streams [`AwsdRecord`]s out of an AWSD CSV export.
pub struct AwsdReader<R> {
    csv: csv::Reader<CrlfToLf<R>>,
    /// Field index of each column, by `Col as usize`.
    positions: [usize; COLUMN_NAMES.len()],
    header_len: usize,
    record: csv::ByteRecord,
    today: Date,
    done: bool,
}

impl<R> fmt::Debug for AwsdReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsdReader")
            .field("positions", &self.positions)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Opens an AWSD CSV file and checks its header.
pub fn open_awsd(path: impl AsRef<Path>) -> Result<AwsdReader<File>, AwsdError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| AwsdError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    read_awsd(file)
}

/// Reads the header of an AWSD CSV export and returns a reader of its rows.
pub fn read_awsd<R: Read>(reader: R) -> Result<AwsdReader<R>, AwsdError> {
    let today = OffsetDateTime::now_utc().date();
    AwsdReader::new(reader, today)
}

impl<R: Read> AwsdReader<R> {
    /// `today` bounds the dates the hub accepts; tests pass a fixed one.
    pub(super) fn new(reader: R, today: Date) -> Result<Self, AwsdError> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(CrlfToLf::new(reader));
        let header = csv
            .byte_headers()
            .map_err(|source| AwsdError::Read { line: 1, source })?
            .clone();
        if header.is_empty() || header.iter().all(|field| field.is_empty()) {
            return Err(AwsdError::Empty);
        }
        let names: Vec<String> = header
            .iter()
            .map(|field| {
                String::from_utf8_lossy(field)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_lowercase()
            })
            .collect();
        let mut positions = [0; COLUMN_NAMES.len()];
        let mut missing = Vec::new();
        for (slot, wanted) in positions.iter_mut().zip(COLUMN_NAMES) {
            match names.iter().position(|name| *name == wanted.to_lowercase()) {
                Some(index) => *slot = index,
                None => missing.push(wanted.to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(AwsdError::MissingColumns { missing });
        }
        Ok(Self {
            csv,
            positions,
            header_len: header.len(),
            record: csv::ByteRecord::new(),
            today,
            done: false,
        })
    }
}

impl<R: Read> Iterator for AwsdReader<R> {
    type Item = Result<AwsdRecord, AwsdError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {
                    // A row of empty fields (a spreadsheet's trailing ",,,") is no incident.
                    if self.record.iter().all(|field| field.is_empty()) {
                        continue;
                    }
                    let line = self.record.position().map_or(0, |p| p.line());
                    return Some(Ok(self.map_current(line)));
                }
                Err(source) => {
                    self.done = true;
                    let line = source
                        .position()
                        .or_else(|| self.record.position())
                        .map_or(0, |p| p.line());
                    return Some(Err(AwsdError::Read { line, source }));
                }
            }
        }
    }
}

impl<R> AwsdReader<R> {
    fn map_current(&self, line: u64) -> AwsdRecord {
        let mut notes = Notes::default();
        if self.record.len() != self.header_len {
            notes.add(
                WarningKind::RaggedRow,
                format!(
                    "{} fields, the header has {}",
                    self.record.len(),
                    self.header_len
                ),
            );
        }
        let mut fields = Vec::with_capacity(COLUMN_NAMES.len());
        for (index, position) in self.positions.iter().enumerate() {
            let bytes = self.record.get(*position).unwrap_or_default();
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    notes.add(
                        WarningKind::InvalidUtf8 {
                            column: COLUMN_NAMES[index],
                        },
                        String::new(),
                    );
                    String::from_utf8_lossy(bytes).into_owned()
                }
            };
            fields.push(text);
        }
        let row = Row { fields: &fields };
        map_row(&row, line, self.today, notes)
    }
}

/// Turns CRLF into LF on the way to the csv parser, which reports a row after a CRLF one line
/// too early (the AWSD export is CRLF): without this every `line` would be off by one.
pub(super) struct CrlfToLf<R> {
    pub(super) inner: BufReader<R>,
}

impl<R: Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        Self {
            inner: BufReader::new(inner),
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut written = 0;
        while written < out.len() {
            // Wait for input only while nothing was written yet.
            let chunk = if written == 0 {
                self.inner.fill_buf()?
            } else {
                self.inner.buffer()
            };
            let Some(&first) = chunk.first() else {
                break;
            };
            if first == b'\r' {
                let next = chunk.get(1).copied();
                self.inner.consume(1);
                let next = match next {
                    Some(next) => Some(next),
                    // The CR ended the buffer: look at what follows it.
                    None => self.inner.fill_buf()?.first().copied(),
                };
                if next != Some(b'\n') {
                    out[written] = b'\r';
                    written += 1;
                }
                continue;
            }
            let run = chunk
                .iter()
                .position(|byte| *byte == b'\r')
                .unwrap_or(chunk.len())
                .min(out.len() - written);
            out[written..written + run].copy_from_slice(&chunk[..run]);
            self.inner.consume(run);
            written += run;
        }
        Ok(written)
    }
}
