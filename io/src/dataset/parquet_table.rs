//! Parquet tables: one column per variable, flat and numeric (booleans, integers of 8 to 64
//! bits, half, single and double floats, as their logical types say). Read a row group at a
//! time, so memory holds one row group's values; written one row group per chunk of rows,
//! each column in its own type, so that integers and booleans come back as they were.

use super::formats::{Opened, SampleSink, SampleSource, SourceError};
use super::{Layout, StoredDtype};
use half::f16;
use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as PhysicalType, ZstdLevel};
use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::FixedLenByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescriptor, ColumnPath, Type};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::Arc;

/// A Parquet file's rows, handed out in order a chunk at a time.
pub(super) struct ParquetRows {
    reader: SerializedFileReader<File>,
    /// The file's columns read, in the order handed out, and their names.
    leaves: Vec<usize>,
    names: Vec<String>,
    dtypes: Vec<StoredDtype>,
    next_group: usize,
    /// Rows in the row groups before `next_group`.
    rows_before: usize,
    /// The rows of the row group read last, row after row, and how many were handed out.
    rows: Vec<f64>,
    taken: usize,
}

/// Opens a Parquet file: its table's layout (the `wanted` columns alone, in that order, where
/// named), and its rows to read.
pub(super) fn open(path: &Path, wanted: Option<&[String]>) -> Result<Opened, String> {
    let file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let reader = SerializedFileReader::new(file).map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let metadata = reader.metadata().file_metadata();
    let schema = metadata.schema_descr();
    let all: Vec<String> = schema.columns().iter().map(|column| column.path().string()).collect();
    if all.is_empty() {
        return Err("the Parquet file has no columns".into());
    }
    let leaves = match wanted {
        Some(wanted) => super::select_columns(&all, all.len(), wanted)?,
        None => (0..all.len()).collect(),
    };
    let names: Vec<String> = leaves.iter().map(|&c| all[c].clone()).collect();
    let dtypes = leaves.iter().map(|&c| dtype_of(&schema.column(c))).collect::<Result<Vec<_>, _>>()?;
    let rows = usize::try_from(metadata.num_rows()).map_err(|_| "the Parquet file counts its rows as negative")?;
    let (dtype, column_dtypes) = StoredDtype::of_columns(dtypes.clone());
    let layout = Layout {
        shape: vec![rows, names.len()],
        names: names.clone(),
        dtype,
        format: super::FileFormat::Parquet,
        column_dtypes,
    };
    let rows = ParquetRows { reader, leaves, names, dtypes, next_group: 0, rows_before: 0, rows: vec![], taken: 0 };
    Ok(Opened::new(layout, rows, true))
}

/// The stored type of a flat numeric column; any other column is an error naming it.
fn dtype_of(column: &ColumnDescriptor) -> Result<StoredDtype, String> {
    let name = column.path().string();
    if column.max_rep_level() > 0 {
        return Err(format!("column '{name}' holds lists; balerc reads flat numeric columns"));
    }
    let integer = match (column.logical_type_ref(), column.converted_type()) {
        (Some(LogicalType::Integer(int)), _) => Some((int.bit_width, int.is_signed)),
        (_, ConvertedType::INT_8) => Some((8, true)),
        (_, ConvertedType::INT_16) => Some((16, true)),
        (_, ConvertedType::INT_32) => Some((32, true)),
        (_, ConvertedType::INT_64) => Some((64, true)),
        (_, ConvertedType::UINT_8) => Some((8, false)),
        (_, ConvertedType::UINT_16) => Some((16, false)),
        (_, ConvertedType::UINT_32) => Some((32, false)),
        (_, ConvertedType::UINT_64) => Some((64, false)),
        _ => None,
    };
    use StoredDtype::*;
    let dtype = match (column.physical_type(), integer) {
        (PhysicalType::BOOLEAN, _) => Some(Bool),
        (PhysicalType::INT32 | PhysicalType::INT64, Some((bits, signed))) => match (bits, signed) {
            (8, true) => Some(I8),
            (16, true) => Some(I16),
            (32, true) => Some(I32),
            (64, true) => Some(I64),
            (8, false) => Some(U8),
            (16, false) => Some(U16),
            (32, false) => Some(U32),
            (64, false) => Some(U64),
            _ => None,
        },
        (PhysicalType::INT32, None) if column.logical_type_ref().is_none() => Some(I32),
        (PhysicalType::INT64, None) if column.logical_type_ref().is_none() => Some(I64),
        (PhysicalType::FLOAT, _) => Some(F32),
        (PhysicalType::DOUBLE, _) => Some(F64),
        (PhysicalType::FIXED_LEN_BYTE_ARRAY, _)
            if matches!(column.logical_type_ref(), Some(LogicalType::Float16)) && column.type_length() == 2 =>
        {
            Some(F16)
        }
        _ => None,
    };
    dtype.ok_or_else(|| {
        let logical = column.logical_type_ref().map_or(String::new(), |l| format!(" ({l:?})"));
        format!("column '{name}' holds {}{logical}; balerc reads numeric columns", column.physical_type())
    })
}

impl SampleSource for ParquetRows {
    fn read(&mut self, first: usize, count: usize) -> Result<Vec<f64>, SourceError> {
        let rows = self.next_rows(count)?;
        match rows.len() == count * self.names.len() {
            true => Ok(rows),
            false => Err(format!("ends before the {} rows it had", first + count).into()),
        }
    }
}

impl ParquetRows {
    /// The next `count` rows, row after row (fewer where the file ends).
    fn next_rows(&mut self, count: usize) -> Result<Vec<f64>, String> {
        let width = self.names.len();
        let mut values = Vec::with_capacity(count * width);
        while values.len() < count * width {
            if self.taken * width == self.rows.len() {
                if self.next_group == self.reader.num_row_groups() {
                    break;
                }
                self.rows_before += self.rows.len() / width;
                self.rows = self.row_group(self.next_group)?;
                self.next_group += 1;
                self.taken = 0;
                continue;
            }
            let wanted = count - values.len() / width;
            let available = self.rows.len() / width - self.taken;
            let take = wanted.min(available);
            values.extend_from_slice(&self.rows[self.taken * width..(self.taken + take) * width]);
            self.taken += take;
        }
        Ok(values)
    }

    /// Row group `g`, every column read and laid out row after row.
    fn row_group(&self, g: usize) -> Result<Vec<f64>, String> {
        let group = self.reader.get_row_group(g).map_err(|e| format!("row group {g}: {e}"))?;
        let rows = usize::try_from(group.metadata().num_rows()).map_err(|_| format!("row group {g}: negative rows"))?;
        let width = self.names.len();
        let schema = self.reader.metadata().file_metadata().schema_descr();
        let mut table = vec![0.0; rows * width];
        for (c, (&leaf, name)) in self.leaves.iter().zip(&self.names).enumerate() {
            let reader = group.get_column_reader(leaf).map_err(|e| format!("column '{name}': {e}"))?;
            let column = read_column(reader, rows, schema.column(leaf).max_def_level(), self.dtypes[c]).map_err(
                |e| match e {
                    ColumnError::Null(row) => format!("column '{name}': row {} is null", self.rows_before + row),
                    ColumnError::Other(e) => format!("column '{name}', row group {g}: {e}"),
                },
            )?;
            for (row, value) in column.into_iter().enumerate() {
                table[row * width + c] = value;
            }
        }
        Ok(table)
    }
}

enum ColumnError {
    /// The row of the row group that holds a null.
    Null(usize),
    Other(String),
}

/// A column's `rows` values of one row group, as f64; a null (a definition level below
/// `defined`) is an error.
fn read_column(reader: ColumnReader, rows: usize, defined: i16, dtype: StoredDtype) -> Result<Vec<f64>, ColumnError> {
    // Unsigned 32- and 64-bit integers are stored as their bits in INT32 and INT64.
    let (u32, u64) = (dtype == StoredDtype::U32, dtype == StoredDtype::U64);

    match reader {
        ColumnReader::BoolColumnReader(mut r) => {
            read_values(rows, defined, |n, d, v| r.read_records(n, d, None, v), |b| f64::from(u8::from(b)))
        }
        ColumnReader::Int32ColumnReader(mut r) => read_values(
            rows,
            defined,
            |n, d, v| r.read_records(n, d, None, v),
            |x| match u32 {
                true => f64::from(x as u32),
                false => f64::from(x),
            },
        ),
        ColumnReader::Int64ColumnReader(mut r) => read_values(
            rows,
            defined,
            |n, d, v| r.read_records(n, d, None, v),
            |x| match u64 {
                true => x as u64 as f64,
                false => x as f64,
            },
        ),
        ColumnReader::FloatColumnReader(mut r) => {
            read_values(rows, defined, |n, d, v| r.read_records(n, d, None, v), f64::from)
        }
        ColumnReader::DoubleColumnReader(mut r) => {
            read_values(rows, defined, |n, d, v| r.read_records(n, d, None, v), |x| x)
        }
        ColumnReader::FixedLenByteArrayColumnReader(mut r) => read_values(
            rows,
            defined,
            |n, d, v| r.read_records(n, d, None, v),
            |x: FixedLenByteArray| {
                let bytes = x.data();
                f16::from_le_bytes([bytes[0], bytes[1]]).to_f64()
            },
        ),
        _ => Err(ColumnError::Other("not a numeric column".into())),
    }
}

type Read3 = parquet::errors::Result<(usize, usize, usize)>;

/// Reads `rows` records with `read` (records wanted, definition levels, values), converting
/// each value.
fn read_values<T>(
    rows: usize,
    defined: i16,
    mut read: impl FnMut(usize, Option<&mut Vec<i16>>, &mut Vec<T>) -> Read3,
    convert: impl Fn(T) -> f64,
) -> Result<Vec<f64>, ColumnError> {
    let (mut values, mut levels) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut records = 0;
    while records < rows {
        let (read_now, _, _) =
            read(rows - records, Some(&mut levels), &mut values).map_err(|e| ColumnError::Other(e.to_string()))?;
        if read_now == 0 {
            return Err(ColumnError::Other(format!("ends after {records} of its {rows} rows")));
        }
        records += read_now;
    }
    // Levels are only decoded for optional columns; a required one has none below its own.
    if let Some(row) = levels.iter().position(|&level| level < defined) {
        return Err(ColumnError::Null(row));
    }
    Ok(values.into_iter().map(convert).collect())
}

/// Writes a table's rows as Parquet, one row group per chunk of rows written.
pub(super) struct ParquetSink {
    writer: SerializedFileWriter<BufWriter<File>>,
    dtypes: Vec<StoredDtype>,
}

impl SampleSink for ParquetSink {
    fn write(&mut self, _first: usize, values: &ndarray::ArrayD<f64>) -> io::Result<()> {
        match values.as_slice() {
            Some(rows) => self.write_rows(rows),
            None => self.write_rows(&values.iter().copied().collect::<Vec<_>>()),
        }
        .map_err(io::Error::other)
    }

    /// Writes the footer; the output is complete.
    fn finish(self: Box<Self>) -> io::Result<()> {
        let out = self.writer.into_inner().map_err(io::Error::other)?;
        out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

impl ParquetSink {
    /// Starts a file whose columns have the layout's names (`c0`, `c1`... where it has none) and types.
    pub(super) fn start(file: File, layout: &Layout) -> io::Result<ParquetSink> {
        ParquetSink::start_writer(BufWriter::with_capacity(1 << 20, file), layout).map_err(io::Error::other)
    }

    fn start_writer(out: BufWriter<File>, layout: &Layout) -> parquet::errors::Result<ParquetSink> {
        let width = layout.sample_len();
        let dtypes: Vec<StoredDtype> = (0..width).map(|c| layout.column_dtype(c)).collect();
        let fields = (0..width)
            .map(|c| {
                let name = layout.names.get(c).cloned().unwrap_or_else(|| format!("c{c}"));
                column_type(&name, dtypes[c]).map(Arc::new)
            })
            .collect::<parquet::errors::Result<Vec<_>>>()?;
        let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build()?);
        // Dictionaries pay for integer and boolean columns, not for floats of as many values as
        // rows: their dictionaries grow until the writer gives up on them.
        let floats =
            (0..width).filter(|&c| matches!(dtypes[c], StoredDtype::F16 | StoredDtype::F32 | StoredDtype::F64));
        let properties = floats
            .fold(WriterProperties::builder(), |properties, c| {
                let name = layout.names.get(c).cloned().unwrap_or_else(|| format!("c{c}"));
                properties.set_column_dictionary_enabled(ColumnPath::from(name), false)
            })
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .build();
        Ok(ParquetSink { writer: SerializedFileWriter::new(out, schema, Arc::new(properties))?, dtypes })
    }

    /// Rows of the table, row after row, as one row group.
    fn write_rows(&mut self, values: &[f64]) -> parquet::errors::Result<()> {
        let width = self.dtypes.len();
        let mut group = self.writer.next_row_group()?;
        let mut c = 0;
        while let Some(mut column) = group.next_column()? {
            let dtype = self.dtypes[c];
            let cells = values.iter().skip(c).step_by(width).map(|&v| dtype.stored(v));
            match column.untyped() {
                ColumnWriter::BoolColumnWriter(w) => {
                    w.write_batch(&cells.map(|v| v != 0.0).collect::<Vec<_>>(), None, None)
                }
                ColumnWriter::Int32ColumnWriter(w) => {
                    // Unsigned 32-bit values keep their bits, as Parquet stores them.
                    w.write_batch(&cells.map(|v| v as i64 as i32).collect::<Vec<_>>(), None, None)
                }
                ColumnWriter::Int64ColumnWriter(w) => {
                    let bits = |v: f64| if dtype == StoredDtype::U64 { v as u64 as i64 } else { v as i64 };
                    w.write_batch(&cells.map(bits).collect::<Vec<_>>(), None, None)
                }
                ColumnWriter::FloatColumnWriter(w) => {
                    w.write_batch(&cells.map(|v| v as f32).collect::<Vec<_>>(), None, None)
                }
                ColumnWriter::DoubleColumnWriter(w) => w.write_batch(&cells.collect::<Vec<_>>(), None, None),
                ColumnWriter::FixedLenByteArrayColumnWriter(w) => {
                    let halves: Vec<FixedLenByteArray> =
                        cells.map(|v| FixedLenByteArray::from(f16::from_f64(v).to_le_bytes().to_vec())).collect();
                    w.write_batch(&halves, None, None)
                }
                _ => unreachable!("the schema has only the column types above"),
            }?;
            column.close()?;
            c += 1;
        }
        group.close()?;
        Ok(())
    }
}

/// A required column of one stored type.
fn column_type(name: &str, dtype: StoredDtype) -> parquet::errors::Result<Type> {
    use StoredDtype::*;
    let integer = |bit_width: i8, is_signed: bool| Some(LogicalType::integer(bit_width, is_signed));
    let (physical, logical, length) = match dtype {
        Bool => (PhysicalType::BOOLEAN, None, -1),
        I8 => (PhysicalType::INT32, integer(8, true), -1),
        I16 => (PhysicalType::INT32, integer(16, true), -1),
        I32 => (PhysicalType::INT32, None, -1),
        I64 => (PhysicalType::INT64, None, -1),
        U8 => (PhysicalType::INT32, integer(8, false), -1),
        U16 => (PhysicalType::INT32, integer(16, false), -1),
        U32 => (PhysicalType::INT32, integer(32, false), -1),
        U64 => (PhysicalType::INT64, integer(64, false), -1),
        F16 => (PhysicalType::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Float16), 2),
        F32 => (PhysicalType::FLOAT, None, -1),
        F64 => (PhysicalType::DOUBLE, None, -1),
    };
    Type::primitive_type_builder(name, physical)
        .with_repetition(Repetition::REQUIRED)
        .with_logical_type(logical)
        .with_length(length)
        .build()
}
