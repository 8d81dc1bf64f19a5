//! `.csv`: a header line of column names, then one row of numbers per line.
//!
//! Read in two passes: the first checks every cell and counts the rows (the dtype depends on
//! all of them), the second hands out the values a number of rows at a time.

use super::{Layout, StoredDtype};
use std::fs::File;
use std::io::BufReader;

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

/// The first pass: names, row count and dtype, every cell checked on the way.
pub(super) fn scan(file: File) -> Result<Layout, String> {
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

/// The column names, or `column_0, column_1, ...` when the data has none, since the header is required.
pub(super) fn header(layout: &Layout) -> Vec<String> {
    if !layout.names.is_empty() {
        return layout.names.clone();
    }
    let columns = layout.sample_shape().first().copied().unwrap_or(1);
    (0..columns).map(|column| format!("column_{column}")).collect()
}
