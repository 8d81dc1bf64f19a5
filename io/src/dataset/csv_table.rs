//! `.csv`: a header line of column names, then one row of numbers per line.
//!
//! Read in two passes: the first checks every cell and counts the rows (the dtype depends on
//! all of them), the second hands out the values a number of rows at a time.

use super::formats::{Opened, SampleSink, SampleSource, SourceError};
use super::{Layout, StoredDtype};
use ndarray::ArrayD;
use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::Path;

/// Scans the file, then opens it again for its values.
pub(super) fn open(path: &Path) -> Result<Opened, String> {
    let opened = || File::open(path).map_err(|e| format!("cannot be opened: {e}"));
    let layout = scan(opened()?)?;
    Ok(Opened::new(layout, CsvRows::open(opened()?)?, false))
}

pub(super) struct CsvRows {
    reader: csv::Reader<BufReader<File>>,
    names: Vec<String>,
    record: csv::StringRecord,
}

fn unreadable(e: csv::Error) -> String {
    format!("is not readable as CSV: {e}")
}

impl CsvRows {
    /// Reads the header line, leaving the reader at the first row.
    pub(super) fn open(file: File) -> Result<CsvRows, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        let mut record = csv::StringRecord::new();
        if !reader.read_record(&mut record).map_err(unreadable)? {
            return Err("is empty; expected a header line naming the columns".to_string());
        }
        let names: Vec<String> = record.iter().map(str::to_string).collect();
        if names.iter().all(|name| name.parse::<f64>().is_ok()) {
            return Err("line 1 holds numbers, but must name the columns (a header line is required)".to_string());
        }
        Ok(CsvRows { reader, names, record })
    }

    /// Appends the next row's values; `None` at the end of the file, else whether every cell
    /// of the row was written as an integer.
    pub(super) fn next_row(&mut self, values: &mut Vec<f64>) -> Result<Option<bool>, String> {
        if !self.reader.read_record(&mut self.record).map_err(unreadable)? {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |position| position.line());
        if self.record.len() != self.names.len() {
            let (cells, columns) = (self.record.len(), self.names.len());
            return Err(format!("line {line} has {cells} cells, the header names {columns} columns"));
        }
        let mut all_integers = true;
        for (cell, name) in self.record.iter().zip(&self.names) {
            let value = cell.parse::<f64>();
            let value = value.map_err(|_| format!("line {line}, column '{name}': cannot read '{cell}' as a number"))?;
            values.push(value);
            all_integers &= looks_like_integer(cell);
        }
        Ok(Some(all_integers))
    }
}

impl SampleSource for CsvRows {
    fn read(&mut self, first: usize, count: usize) -> Result<Vec<f64>, SourceError> {
        let mut out = Vec::with_capacity(count * self.names.len());
        for row in first..first + count {
            if self.next_row(&mut out)?.is_none() {
                return Err(format!("ends at row {row}, before the {} rows it had", first + count).into());
            }
        }
        Ok(out)
    }
}

/// The first pass: names, row count and dtype, every cell checked on the way.
fn scan(file: File) -> Result<Layout, String> {
    let mut rows = CsvRows::open(file)?;
    let (mut count, mut all_integers, mut scratch) = (0, true, Vec::new());
    while let Some(integers) = rows.next_row(&mut scratch)? {
        all_integers &= integers;
        count += 1;
        scratch.clear();
    }
    let dtype = if all_integers && count > 0 { StoredDtype::I64 } else { StoredDtype::F64 };
    Ok(Layout {
        shape: vec![count, rows.names.len()],
        names: rows.names,
        dtype,
        format: super::FileFormat::Csv,
        column_dtypes: vec![],
    })
}

/// True for cells like `42` or `-7`; anything with a point, exponent, nan or inf is a float.
fn looks_like_integer(cell: &str) -> bool {
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A table written a row per line after a header line.
pub(super) struct CsvSink {
    out: csv::Writer<BufWriter<File>>,
    dtype: StoredDtype,
}

impl CsvSink {
    pub(super) fn start(file: File, layout: &Layout) -> io::Result<CsvSink> {
        let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
        out.write_record(header(layout))?;
        Ok(CsvSink { out, dtype: layout.dtype })
    }
}

impl SampleSink for CsvSink {
    /// A sample is one row: a table row, or the single value of a 1-D array.
    fn write(&mut self, _first: usize, values: &ArrayD<f64>) -> io::Result<()> {
        let dtype = self.dtype;
        values
            .outer_iter()
            .try_for_each(|sample| self.out.write_record(sample.iter().map(|&value| dtype.text(value))))
            .map_err(io::Error::from)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.into_inner().map_err(|e| e.into_error())?.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

/// The column names, or `column_0, column_1, ...` when the data has none, since the header is required.
fn header(layout: &Layout) -> Vec<String> {
    if !layout.names.is_empty() {
        return layout.names.clone();
    }
    let columns = layout.sample_shape().first().copied().unwrap_or(1);
    (0..columns).map(|column| format!("column_{column}")).collect()
}
