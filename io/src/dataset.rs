//! Users' data files in and out: Baler-style `.npz` archives (key `data` plus optional column
//! `names`), bare `.npy` arrays, `.csv` tables with a header line, Parquet tables, HDF5
//! datasets and ROOT TTrees.
//!
//! Values are held as f64 whatever the file stored; the stored dtype is remembered so that
//! decompressed outputs come back in the user's own dtype.

mod csv_table;
mod formats;
mod hdf5_table;
mod npy_file;
mod npz_entry;
mod parquet_table;
mod reader;
mod root_table;
#[cfg(test)]
mod stream_tests;
mod writer;

pub use reader::SampleReader;
pub use writer::SampleWriter;

use half::f16;
use ndarray::{ArrayD, Axis, IxDyn, ShapeBuilder, Slice};
use std::io::{self, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// How values were stored in the user's file, so that outputs can restore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredDtype {
    F16,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    /// Booleans, as 0 and 1.
    Bool,
}

/// The kind of file a dataset was read from, and is written back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Npz,
    Npy,
    Csv,
    Parquet,
    Hdf5,
    Root,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    /// Samples along axis 0: a table is [rows, columns], a stack of 2-D fields is [frames, height, width], etc.
    pub values: ArrayD<f64>,
    /// Column names of a table (empty when the file has none, e.g. fields or a bare .npy).
    pub names: Vec<String>,
    pub dtype: StoredDtype,
    pub format: FileFormat,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The file's content or layout is not a dataset balerc can use.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// A NaN or infinite value; `location` reads like "row 17, column 'pt'".
    #[error("{}: {location} is {value}", path.display())]
    NotFinite { path: PathBuf, location: String, value: f64 },
}

fn invalid(path: &Path, message: impl Into<String>) -> DatasetError {
    DatasetError::Invalid { path: path.into(), message: message.into() }
}

/// The columns `wanted` names among a table's `names` (or `width` unnamed ones), by name or
/// by index as a string; an unknown one is an error listing what there is.
fn select_columns(names: &[String], width: usize, wanted: &[String]) -> Result<Vec<usize>, String> {
    wanted
        .iter()
        .map(|w| {
            let by_index = || w.parse::<usize>().ok().filter(|&c| c < width);
            names.iter().position(|n| n == w).or_else(by_index).ok_or_else(|| match names.is_empty() {
                true => format!("has no column '{w}': its {width} columns have no names, select them by index"),
                false => format!("has no column '{w}'; its columns are {}", names.join(", ")),
            })
        })
        .collect()
}

/// A file and the object inside it that holds the data, as `FILE:OBJECT` names them
/// (`jets.h5:/events/jets`, `nano.root:Events`). A path that exists as it is names a file
/// alone, and so does one whose part before the last ':' is not an HDF5 or ROOT file's name.
pub fn split_object(path: &Path) -> (PathBuf, Option<String>) {
    let text = path.to_string_lossy();
    let Some((file, object)) = text.rsplit_once(':') else { return (path.into(), None) };
    let holds_objects = FileFormat::of_extension(Path::new(file)).is_some_and(FileFormat::holds_objects);
    match path.exists() || !holds_objects || object.is_empty() {
        true => (path.into(), None),
        false => (PathBuf::from(file), Some(object.to_string())),
    }
}

/// Reads a user's data file whole, choosing the format by its extension. Large files are
/// better read a chunk at a time with [`SampleReader`].
pub fn read(path: &Path) -> Result<Dataset, DatasetError> {
    SampleReader::open(path)?.read_all()
}

/// Writes in the given format (format decides, independent of extension check), casting back to `dtype`
/// (integer dtypes: round to nearest, then saturate to the type's range). Atomic (temp file + rename).
/// A bare `.npy` keeps no column names.
pub fn write(path: &Path, dataset: &Dataset) -> Result<(), DatasetError> {
    let mut writer = SampleWriter::create(path, &dataset.layout())?;
    writer.write(&dataset.values)?;
    writer.finish()
}

/// What a data file holds, known before its values are read: enough to plan how to process it
/// a chunk at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The whole array's shape, samples along axis 0.
    pub shape: Vec<usize>,
    pub names: Vec<String>,
    pub dtype: StoredDtype,
    pub format: FileFormat,
    /// A table's columns' own types, where they differ (a Parquet file's); empty where every
    /// value is stored as `dtype`.
    pub column_dtypes: Vec<StoredDtype>,
}

impl Layout {
    /// How the values of a table's column `c` are stored.
    pub fn column_dtype(&self, c: usize) -> StoredDtype {
        self.column_dtypes.get(c).copied().unwrap_or(self.dtype)
    }

    pub fn samples(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    pub fn sample_shape(&self) -> &[usize] {
        self.shape.get(1..).unwrap_or(&[])
    }

    /// Values in one sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape().iter().product()
    }

    /// Samples along axis 0, and column names only where they can label a table's columns.
    fn check(&self) -> Result<(), String> {
        let shape = self.shape.as_slice();
        if shape.is_empty() {
            return Err("holds a single number, not samples along a first axis".to_string());
        }
        if self.names.is_empty() {
            return Ok(());
        }
        let names = self.names.len();
        match shape {
            [_, columns] if *columns == names => Ok(()),
            [_, columns] => Err(format!("has {names} column names but the data has {columns} columns")),
            _ => Err(format!("has {names} column names but the data of shape {} is not a table", shape_text(shape))),
        }
    }
}

impl Dataset {
    pub fn samples(&self) -> usize {
        self.values.shape().first().copied().unwrap_or(0)
    }

    pub fn sample_shape(&self) -> &[usize] {
        self.values.shape().get(1..).unwrap_or(&[])
    }

    /// Checks every value is finite; the error names the file, the first offending sample index and
    /// (for tables) the column name or index, e.g. "data.npz: row 17, column 'pt' is NaN".
    /// Indices count from 0, as in numpy.
    pub fn check_finite(&self, path: &Path) -> Result<(), DatasetError> {
        self.check_finite_from(path, 0)
    }

    /// As [`Dataset::check_finite`] for a chunk whose first sample is `first_sample` of the file,
    /// so that the error names the row as the file counts it.
    pub fn check_finite_from(&self, path: &Path, first_sample: usize) -> Result<(), DatasetError> {
        let Some(flat) = self.values.iter().position(|v| !v.is_finite()) else {
            return Ok(());
        };
        let mut index = unravel(flat, self.values.shape());
        let value = self.values[IxDyn(&index)];
        if let Some(sample) = index.first_mut() {
            *sample += first_sample;
        }
        Err(DatasetError::NotFinite { path: path.into(), location: self.location(&index), value })
    }

    /// The shape, names, dtype and format, without the values.
    pub fn layout(&self) -> Layout {
        Layout {
            shape: self.values.shape().to_vec(),
            names: self.names.clone(),
            dtype: self.dtype,
            format: self.format,
            column_dtypes: vec![],
        }
    }

    /// Rows [start, end) as a new Dataset (same names/dtype/format).
    /// Panics if `start > end` or `end > samples()`, as slicing does.
    pub fn slice_samples(&self, start: usize, end: usize) -> Dataset {
        let values = self.values.slice_axis(Axis(0), Slice::from(start..end)).to_owned();
        Dataset { values, names: self.names.clone(), dtype: self.dtype, format: self.format }
    }

    /// How a person finds the value at `index` in their file.
    fn location(&self, index: &[usize]) -> String {
        match index {
            [] => "the single value".to_string(),
            [row] => format!("row {row}"),
            [row, column] => match self.names.get(*column) {
                Some(name) => format!("row {row}, column '{name}'"),
                None => format!("row {row}, column {column}"),
            },
            [sample, within @ ..] => format!("sample {sample}, value {within:?}"),
        }
    }
}

/// The multi-index of the `flat`-th element in C (row-major) order.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (position, &length) in index.iter_mut().zip(shape).rev() {
        *position = flat % length;
        flat /= length;
    }
    index
}

/// A shape as numpy prints it: `(60, 50, 50)`, `(5,)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [length] => format!("({length},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

impl StoredDtype {
    /// A table's dtype and its columns' own (empty where they share the one) from the types
    /// of its columns: where they differ, its values as a whole are f64.
    pub fn of_columns(dtypes: Vec<StoredDtype>) -> (StoredDtype, Vec<StoredDtype>) {
        match dtypes.first() {
            Some(&first) if dtypes.iter().all(|&d| d == first) => (first, vec![]),
            Some(_) => (StoredDtype::F64, dtypes),
            None => (StoredDtype::F64, vec![]),
        }
    }

    /// Bits per stored value, the size of the user's data that compression is measured against.
    pub fn bits(self) -> u32 {
        8 * self.size() as u32
    }

    const ALL: [StoredDtype; 12] = {
        use StoredDtype::*;
        [F16, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, Bool]
    };

    /// The numpy type string, little-endian as numpy writes it on every common machine.
    fn descr(self) -> &'static str {
        use StoredDtype::*;
        match self {
            F16 => "<f2",
            F32 => "<f4",
            F64 => "<f8",
            I8 => "|i1",
            I16 => "<i2",
            I32 => "<i4",
            I64 => "<i8",
            U8 => "|u1",
            U16 => "<u2",
            U32 => "<u4",
            U64 => "<u8",
            Bool => "|b1",
        }
    }

    /// Bytes per element.
    fn size(self) -> usize {
        use StoredDtype::*;
        match self {
            I8 | U8 | Bool => 1,
            F16 | I16 | U16 => 2,
            F32 | I32 | U32 => 4,
            F64 | I64 | U64 => 8,
        }
    }

    /// The dtype of a numpy type code without its byte-order mark, such as `f4` or `u1`.
    fn from_code(code: &str) -> Option<StoredDtype> {
        StoredDtype::ALL.into_iter().find(|dtype| &dtype.descr()[1..] == code)
    }

    fn decode(self, bytes: &[u8], big_endian: bool) -> Vec<f64> {
        use StoredDtype::*;
        match self {
            F16 => decode_as(bytes, big_endian, |b| f16::from_le_bytes(b).to_f64()),
            F32 => decode_as(bytes, big_endian, |b| f32::from_le_bytes(b).into()),
            F64 => decode_as(bytes, big_endian, f64::from_le_bytes),
            I8 => decode_as(bytes, big_endian, |b| i8::from_le_bytes(b).into()),
            I16 => decode_as(bytes, big_endian, |b| i16::from_le_bytes(b).into()),
            I32 => decode_as(bytes, big_endian, |b| i32::from_le_bytes(b).into()),
            I64 => decode_as(bytes, big_endian, |b| i64::from_le_bytes(b) as f64),
            U8 => decode_as(bytes, big_endian, |b| u8::from_le_bytes(b).into()),
            U16 => decode_as(bytes, big_endian, |b| u16::from_le_bytes(b).into()),
            U32 => decode_as(bytes, big_endian, |b| u32::from_le_bytes(b).into()),
            U64 => decode_as(bytes, big_endian, |b| u64::from_le_bytes(b) as f64),
            Bool => decode_as(bytes, big_endian, |[b]: [u8; 1]| f64::from(u8::from(b != 0))),
        }
    }

    /// The value a file of this dtype holds after `value` is written to it: what a
    /// reconstruction is once saved, and so what an error bound has to hold for.
    #[inline]
    pub fn stored(self, value: f64) -> f64 {
        use StoredDtype::*;
        match self {
            F16 => f16::from_f64(value).to_f64(),
            F32 => f64::from(value as f32),
            F64 => value,
            I8 => f64::from(value.round() as i8),
            I16 => f64::from(value.round() as i16),
            I32 => f64::from(value.round() as i32),
            I64 => value.round() as i64 as f64,
            U8 => f64::from(value.round() as u8),
            U16 => f64::from(value.round() as u16),
            U32 => f64::from(value.round() as u32),
            U64 => value.round() as u64 as f64,
            Bool => f64::from(u8::from(value.round() != 0.0)),
        }
    }

    /// Little-endian bytes in C order. Integers are rounded to nearest; `as` then saturates
    /// out-of-range values to the type's limits (and NaN to 0).
    fn encode(self, values: &ArrayD<f64>) -> Vec<u8> {
        use StoredDtype::*;
        match self {
            F16 => encode_as(values, |v| f16::from_f64(v).to_le_bytes()),
            F32 => encode_as(values, |v| (v as f32).to_le_bytes()),
            F64 => encode_as(values, f64::to_le_bytes),
            I8 => encode_as(values, |v| (v.round() as i8).to_le_bytes()),
            I16 => encode_as(values, |v| (v.round() as i16).to_le_bytes()),
            I32 => encode_as(values, |v| (v.round() as i32).to_le_bytes()),
            I64 => encode_as(values, |v| (v.round() as i64).to_le_bytes()),
            U8 => encode_as(values, |v| (v.round() as u8).to_le_bytes()),
            U16 => encode_as(values, |v| (v.round() as u16).to_le_bytes()),
            U32 => encode_as(values, |v| (v.round() as u32).to_le_bytes()),
            U64 => encode_as(values, |v| (v.round() as u64).to_le_bytes()),
            Bool => encode_as(values, |v| [u8::from(v.round() != 0.0)]),
        }
    }

    /// A value as CSV text: integers without a decimal point, floats in the shortest form
    /// that reads back to the same stored value.
    fn text(self, value: f64) -> String {
        use StoredDtype::*;
        match self {
            F16 => float_text(f16::from_f64(value).to_f32()),
            F32 => float_text(value as f32),
            F64 => float_text(value),
            I8 => (value.round() as i8).to_string(),
            I16 => (value.round() as i16).to_string(),
            I32 => (value.round() as i32).to_string(),
            I64 => (value.round() as i64).to_string(),
            U8 => (value.round() as u8).to_string(),
            U16 => (value.round() as u16).to_string(),
            U32 => (value.round() as u32).to_string(),
            U64 => (value.round() as u64).to_string(),
            Bool => u8::from(value.round() != 0.0).to_string(),
        }
    }
}

fn decode_as<const N: usize>(bytes: &[u8], big_endian: bool, convert: impl Fn([u8; N]) -> f64) -> Vec<f64> {
    let (elements, _) = bytes.as_chunks::<N>();
    if big_endian {
        elements.iter().map(|&element| convert(reversed(element))).collect()
    } else {
        elements.iter().map(|&element| convert(element)).collect()
    }
}

fn reversed<const N: usize>(mut bytes: [u8; N]) -> [u8; N] {
    bytes.reverse();
    bytes
}

fn encode_as<const N: usize>(values: &ArrayD<f64>, convert: impl Fn(f64) -> [u8; N]) -> Vec<u8> {
    // Values in C order are one slice, whose loop the compiler vectorizes; ndarray's iterator
    // over any number of axes takes an index step per value.
    match values.as_slice() {
        Some(values) => values.iter().flat_map(|&value| convert(value)).collect(),
        None => values.iter().flat_map(|&value| convert(value)).collect(),
    }
}

/// Shortest round-trip text; exponent notation for very large or small magnitudes,
/// where plain notation would spell out hundreds of zeros.
fn float_text<F: std::fmt::Display + std::fmt::LowerExp + Into<f64> + Copy>(value: F) -> String {
    let magnitude = value.into().abs();
    if magnitude == 0.0 || !magnitude.is_finite() || (1e-4..1e16).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

// ------------------------------------------------------------------------------------------------
// .npy: numpy's file for one array. A magic string, a version, a header dict such as
// `{'descr': '<f4', 'fortran_order': False, 'shape': (119521, 24), }`, then the raw elements.

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// What one element of a `.npy` array is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Element {
    Number(StoredDtype),
    /// numpy `U{n}`: n UTF-32 code units, NUL-padded.
    Unicode(usize),
    /// numpy `S{n}`: n bytes, NUL-padded.
    Bytes(usize),
}

#[derive(Debug)]
struct NpyHeader {
    element: Element,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Bytes from the magic string to the first element.
    len: u64,
}

/// Column names from a 1-D string array; an empty array of any dtype means no names.
fn read_names(bytes: &[u8]) -> Result<Vec<String>, String> {
    let (header, payload) = parse_npy(bytes)?;
    if header.shape.contains(&0) {
        return Ok(Vec::new());
    }
    if header.shape.len() != 1 {
        return Err(format!("has shape {}, expected a list of column names", shape_text(&header.shape)));
    }
    match header.element {
        Element::Unicode(characters) => {
            let cells = string_cells(payload, &header.shape, characters.saturating_mul(4))?;
            cells.map(|cell| utf32_text(cell, header.big_endian)).collect()
        }
        Element::Bytes(width) => Ok(string_cells(payload, &header.shape, width)?.map(byte_text).collect()),
        Element::Number(_) => Err("holds numbers, expected column names as strings".to_string()),
    }
}

/// The fixed-width cells of a string array, `width` bytes each.
fn string_cells<'a>(
    payload: &'a [u8],
    shape: &[usize],
    width: usize,
) -> Result<std::slice::ChunksExact<'a, u8>, String> {
    if width == 0 {
        return Err("holds zero-width strings, expected column names".to_string());
    }
    Ok(exact_payload(payload, shape, width)?.chunks_exact(width))
}

fn utf32_text(cell: &[u8], big_endian: bool) -> Result<String, String> {
    let (units, _) = cell.as_chunks::<4>();
    let code = |&unit: &[u8; 4]| if big_endian { u32::from_be_bytes(unit) } else { u32::from_le_bytes(unit) };
    let text: Option<String> = units.iter().map(code).map(char::from_u32).collect();
    let text = text.ok_or("holds a name that is not valid unicode")?;
    Ok(text.trim_end_matches('\0').to_string())
}

fn byte_text(cell: &[u8]) -> String {
    let length = cell.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
    String::from_utf8_lossy(&cell[..length]).into_owned()
}

/// The header and the element bytes that follow it.
fn parse_npy(bytes: &[u8]) -> Result<(NpyHeader, &[u8]), String> {
    let mut cursor = Cursor::new(bytes);
    let header = read_npy_header(&mut cursor)?;
    Ok((header, &bytes[cursor.position() as usize..]))
}

/// Reads a `.npy` header from the start of a stream, leaving the stream at the first element.
fn read_npy_header(bytes: &mut impl Read) -> Result<NpyHeader, String> {
    let truncated = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => "is truncated inside the .npy header".to_string(),
        _ => format!("cannot be read: {e}"),
    };
    let mut magic = [0; NPY_MAGIC.len() + 2];
    bytes.read_exact(&mut magic).map_err(truncated)?;
    if &magic[..NPY_MAGIC.len()] != NPY_MAGIC {
        return Err("is not a .npy array (the numpy magic bytes are missing)".into());
    }
    // Version 1 gives the header length in 2 bytes; versions 2 and 3 in 4.
    let length = match magic[NPY_MAGIC.len()] {
        1 => {
            let mut n = [0; 2];
            bytes.read_exact(&mut n).map_err(truncated)?;
            u16::from_le_bytes(n) as usize
        }
        2 | 3 => {
            let mut n = [0; 4];
            bytes.read_exact(&mut n).map_err(truncated)?;
            u32::from_le_bytes(n) as usize
        }
        major => return Err(format!("uses .npy format version {major}, which is not supported")),
    };
    let mut header = Vec::new();
    bytes.take(length as u64).read_to_end(&mut header).map_err(truncated)?;
    if header.len() < length {
        return Err(truncated(io::ErrorKind::UnexpectedEof.into()));
    }
    let header = std::str::from_utf8(&header).map_err(|_| "has a .npy header that is not text")?;
    let mut parsed = parse_header(header)?;
    parsed.len = (magic.len() + if magic[NPY_MAGIC.len()] == 1 { 2 } else { 4 } + length) as u64;
    Ok(parsed)
}

fn parse_header(header: &str) -> Result<NpyHeader, String> {
    let descr = header_value(header, "descr")?;
    let descr =
        quoted(descr).ok_or_else(|| format!("has the compound dtype {}; expected plain numbers", descr.trim()))?;
    let (big_endian, element) = parse_descr(descr)?;
    let fortran_order = match header_value(header, "fortran_order")? {
        value if value.starts_with("True") => true,
        value if value.starts_with("False") => false,
        _ => return Err(format!("has an unreadable .npy header: {}", header.trim())),
    };
    let shape = parse_shape(header_value(header, "shape")?)
        .ok_or_else(|| format!("has an unreadable shape in its .npy header: {}", header.trim()))?;
    Ok(NpyHeader { element, big_endian, fortran_order, shape, len: 0 })
}

/// The text after `'key':` in the header dict, up to the end of the header.
fn header_value<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let after_key = ['\'', '"'].iter().find_map(|q| header.find(&format!("{q}{key}{q}")).map(|at| at + key.len() + 2));
    let after_key = after_key.ok_or_else(|| format!("has no '{key}' in its .npy header: {}", header.trim()))?;
    Ok(header[after_key..].trim_start().trim_start_matches(':').trim_start())
}

/// The contents of a leading Python string literal.
fn quoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &text[1..];
    rest.find(quote).map(|end| &rest[..end])
}

/// A Python tuple of integers such as `(119521, 24)`, `(5,)` or `()`.
fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('(')?.split(')').next()?;
    let dims = inner.split(',').map(str::trim).filter(|dim| !dim.is_empty());
    dims.map(|dim| dim.trim_end_matches('L').parse().ok()).collect()
}

/// Byte order and element type of a numpy type string such as `<f4`, `|u1` or `<U9`.
fn parse_descr(descr: &str) -> Result<(bool, Element), String> {
    let (big_endian, code) = match descr.as_bytes().first() {
        Some(b'>') => (true, &descr[1..]),
        // '=' is the writer's native order; every machine numpy commonly runs on is little-endian.
        Some(b'<' | b'|' | b'=') => (false, &descr[1..]),
        _ => (false, descr),
    };
    if code.starts_with('O') {
        return Err("holds Python objects, which cannot be read without unpickling; \
                    save a numpy array of numbers or strings instead"
            .to_string());
    }
    if let Some(dtype) = StoredDtype::from_code(code) {
        return Ok((big_endian, Element::Number(dtype)));
    }
    let width = |prefix| code.strip_prefix(prefix).and_then(|n: &str| n.parse::<usize>().ok());
    match (width('U'), width('S')) {
        (Some(characters), _) => Ok((big_endian, Element::Unicode(characters))),
        (_, Some(bytes)) => Ok((big_endian, Element::Bytes(bytes))),
        _ => Err(format!("has the unsupported dtype '{descr}'; expected float or integer numbers")),
    }
}

/// The element bytes the shape calls for; fewer means the file was cut short.
fn exact_payload<'a>(payload: &'a [u8], shape: &[usize], element_size: usize) -> Result<&'a [u8], String> {
    let needed = shape.iter().try_fold(element_size, |size, &length| size.checked_mul(length));
    let needed = needed.ok_or_else(|| format!("has an impossibly large shape {}", shape_text(shape)))?;
    payload.get(..needed).ok_or_else(|| {
        let (shape, found) = (shape_text(shape), payload.len());
        format!("is truncated: shape {shape} needs {needed} bytes of values, the file has {found}")
    })
}

fn into_array(flat: Vec<f64>, shape: &[usize], fortran_order: bool) -> Result<ArrayD<f64>, String> {
    let too_large = |_| format!("has a shape {} too large to hold in memory", shape_text(shape));
    if fortran_order {
        let array = ArrayD::from_shape_vec(IxDyn(shape).f(), flat).map_err(too_large)?;
        Ok(array.as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(IxDyn(shape), flat).map_err(too_large)
    }
}

/// Writes 64-bit integers as an `int64` `.npy` array, every value exact (through f64, as
/// datasets hold values, integers past 2^53 would be rounded). Atomic, as every output.
pub fn write_i64_npy(path: &Path, shape: &[usize], values: &[i64]) -> Result<(), DatasetError> {
    if shape.iter().product::<usize>() != values.len() {
        let message = format!("{} values do not fill shape {}", values.len(), shape_text(shape));
        return Err(invalid(path, message));
    }
    crate::atomic::write_atomically(path, |file| {
        let mut out = io::BufWriter::new(file);
        out.write_all(&npy_header("<i8", shape)?)?;
        values.iter().try_for_each(|value| out.write_all(&value.to_le_bytes()))?;
        out.flush()
    })
    .map_err(|source| DatasetError::Write { path: path.into(), source })
}

/// Magic, version 1.0 and the header dict, padded with spaces to a 64-byte boundary as numpy does.
fn npy_header(descr: &str, shape: &[usize]) -> io::Result<Vec<u8>> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}", shape_text(shape));
    let prefix = NPY_MAGIC.len() + 4;
    let length = (prefix + dict.len() + 1).next_multiple_of(64) - prefix;
    let length_bytes = u16::try_from(length).map_err(|_| io::Error::other("too many axes for a .npy header"))?;
    let mut header = Vec::with_capacity(prefix + length);
    header.extend_from_slice(NPY_MAGIC);
    header.extend_from_slice(&[1, 0]);
    header.extend_from_slice(&length_bytes.to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(prefix + length - 1, b' ');
    header.push(b'\n');
    Ok(header)
}

/// Names as numpy `<U{longest}` strings, or an empty `<U1` array when there are none,
/// so that `numpy.load(file)["names"]` gives strings back.
fn names_npy(names: &[String]) -> io::Result<Vec<u8>> {
    let width = names.iter().map(|name| name.chars().count()).max().unwrap_or(0).max(1);
    let mut bytes = npy_header(&format!("<U{width}"), &[names.len()])?;
    for name in names {
        let characters = name.chars().map(u32::from).chain(std::iter::repeat(0));
        for unit in characters.take(width) {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
    }
    Ok(bytes)
}

// ------------------------------------------------------------------------------------------------
// .npz: a zip archive of .npy files, one per key, as numpy.savez writes it.

/// The `.npy` bytes saved under `key`, if the archive has that key.
fn npz_entry<R: Read + Seek>(archive: &mut zip::ZipArchive<R>, key: &str) -> Result<Option<Vec<u8>>, String> {
    let mut entry = match archive.by_name(&format!("{key}.npy")) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(format!("cannot open array '{key}': {e}")),
    };
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| format!("array '{key}' is corrupt: {e}"))?;
    Ok(Some(bytes))
}

fn npz_keys<R: Read + Seek>(archive: &zip::ZipArchive<R>) -> String {
    let mut keys: Vec<String> =
        archive.file_names().map(|name| format!("'{}'", name.strip_suffix(".npy").unwrap_or(name))).collect();
    keys.sort();
    if keys.is_empty() {
        "no arrays".to_string()
    } else {
        keys.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, ArrayD};
    use std::fs::File;
    use std::io::Write;

    const JETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/jets_pythia_24col.npz");
    const CFD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/cfd_animation_60x50x50.npz");

    fn table(values: ArrayD<f64>, names: &[&str], dtype: StoredDtype, format: FileFormat) -> Dataset {
        Dataset { values, names: names.iter().map(|n| n.to_string()).collect(), dtype, format }
    }

    fn round_trip(dataset: &Dataset, file_name: &str) -> Dataset {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name);
        write(&path, dataset).unwrap();
        read(&path).unwrap()
    }

    fn error_of(path: &Path) -> String {
        read(path).unwrap_err().to_string()
    }

    /// A `.npy` file made by hand, for layouts balerc never writes itself.
    fn handmade_npy(descr: &str, fortran_order: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let dict = format!("{{'descr': '{descr}', 'fortran_order': {fortran_order}, 'shape': {shape}, }}\n");
        let mut bytes = NPY_MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        bytes.extend_from_slice(dict.as_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    fn handmade_npz(path: &Path, entries: &[(&str, Vec<u8>)]) {
        let mut archive = zip::ZipWriter::new(File::create(path).unwrap());
        for (key, bytes) in entries {
            archive.start_file(format!("{key}.npy"), zip::write::SimpleFileOptions::default()).unwrap();
            archive.write_all(bytes).unwrap();
        }
        archive.finish().unwrap();
    }

    #[test]
    fn npz_round_trip_keeps_values_names_and_dtype() {
        let values = array![[1.5, -2.25, 3.0], [4.0, 5.5, 1e-30]].into_dyn();
        let original = table(values, &["pt", "η", "longer_name"], StoredDtype::F32, FileFormat::Npz);
        let back = round_trip(&original, "jets.npz");
        assert_eq!(back.names, original.names);
        assert_eq!(back.dtype, StoredDtype::F32);
        assert_eq!(back.format, FileFormat::Npz);
        assert_eq!(back.values, original.values.mapv(|v| v as f32 as f64));
    }

    #[test]
    fn npz_round_trip_of_fields_without_names() {
        let values = ArrayD::from_shape_fn(IxDyn(&[3, 4, 5]), |i| (i[0] * 100 + i[1] * 10 + i[2]) as f64);
        let original = table(values, &[], StoredDtype::U16, FileFormat::Npz);
        let back = round_trip(&original, "fields.npz");
        assert_eq!((back.values, back.names, back.dtype), (original.values, vec![], StoredDtype::U16));
    }

    #[test]
    fn npy_round_trip_restores_every_dtype_exactly() {
        let values = array![[0.0, 1.0, 2.0], [3.0, 4.0, 100.0]].into_dyn();
        let booleans = array![[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]].into_dyn();
        for dtype in StoredDtype::ALL {
            let values = if dtype == StoredDtype::Bool { &booleans } else { &values };
            let back = round_trip(&table(values.clone(), &[], dtype, FileFormat::Npy), "a.npy");
            assert_eq!((&back.values, back.dtype), (values, dtype), "{dtype:?}");
        }
    }

    #[test]
    fn integer_dtypes_round_to_nearest_and_saturate() {
        let values = array![2.4, 2.6, -3.5, 300.0, -300.0, f64::NAN].into_dyn();
        let back = round_trip(&table(values.clone(), &[], StoredDtype::I8, FileFormat::Npy), "i8.npy");
        assert_eq!(back.values, array![2.0, 3.0, -4.0, 127.0, -128.0, 0.0].into_dyn());
        let back = round_trip(&table(values, &[], StoredDtype::U8, FileFormat::Csv), "u8.csv");
        assert_eq!(back.values, array![[2.0], [3.0], [0.0], [255.0], [0.0], [0.0]].into_dyn());
    }

    #[test]
    fn written_npy_is_readable_by_ndarray_npy() {
        use ndarray_npy::ReadNpyExt;
        let values = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        write(&path, &table(values.clone(), &[], StoredDtype::F32, FileFormat::Npy)).unwrap();
        let read_back = ArrayD::<f32>::read_npy(File::open(&path).unwrap()).unwrap();
        assert_eq!(read_back.mapv(f64::from), values);
    }

    #[test]
    fn reads_fortran_order_and_big_endian_npy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        let payload: Vec<u8> = [1i32, 4, 2, 5, 3, 6].iter().flat_map(|v| v.to_be_bytes()).collect();
        std::fs::write(&path, handmade_npy(">i4", "True", "(2, 3)", &payload)).unwrap();
        let dataset = read(&path).unwrap();
        assert_eq!(dataset.values, array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn());
        assert_eq!(dataset.dtype, StoredDtype::I32);
    }

    #[test]
    fn csv_round_trip_keeps_integers_and_floats() {
        let integers =
            table(array![[1.0, -2.0], [30.0, 4.0]].into_dyn(), &["n", "q"], StoredDtype::I64, FileFormat::Csv);
        let back = round_trip(&integers, "counts.csv");
        assert_eq!((&back.values, &back.names, back.dtype), (&integers.values, &integers.names, StoredDtype::I64));

        let floats = array![[0.1, -2.0], [1e-300, 6.02e23], [1.0 / 3.0, 12345.678]].into_dyn();
        let floats = table(floats, &["x", "name, with comma"], StoredDtype::F64, FileFormat::Csv);
        let back = round_trip(&floats, "floats.csv");
        assert_eq!((&back.values, &back.names, back.dtype), (&floats.values, &floats.names, StoredDtype::F64));
    }

    #[test]
    fn csv_with_f32_dtype_prints_the_f32_value() {
        assert_eq!(StoredDtype::F32.text(0.1f32 as f64), "0.1");
        assert_eq!(StoredDtype::F64.text(1e-300), "1e-300");
        assert_eq!(StoredDtype::I64.text(7.0), "7");
    }

    #[test]
    fn csv_reading_trims_and_detects_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, " a , b\n1, 2\n 3 ,4.5\n").unwrap();
        let dataset = read(&path).unwrap();
        assert_eq!(dataset.names, ["a", "b"]);
        assert_eq!(dataset.values, array![[1.0, 2.0], [3.0, 4.5]].into_dyn());
        assert_eq!(dataset.dtype, StoredDtype::F64);
    }

    #[test]
    fn reads_the_real_jets_file() {
        let path = Path::new(JETS);
        if !path.exists() {
            println!("skipped: {JETS} is absent");
            return;
        }
        let started = std::time::Instant::now();
        let jets = read(path).unwrap();
        println!("read {} in {:?}", path.display(), started.elapsed());
        assert_eq!(jets.values.shape(), [119521, 24]);
        assert_eq!((jets.names[0].as_str(), jets.names.len()), ("pt", 24));
        assert_eq!((jets.dtype, jets.format), (StoredDtype::F32, FileFormat::Npz));
        assert_eq!((jets.samples(), jets.sample_shape()), (119521, &[24][..]));
        jets.check_finite(path).unwrap();
    }

    #[test]
    fn reads_the_cfd_fields() {
        let path = Path::new(CFD);
        if !path.exists() {
            println!("skipped: {CFD} is absent");
            return;
        }
        let cfd = read(path).unwrap();
        assert_eq!(cfd.values.shape(), [60, 50, 50]);
        assert!(cfd.names.is_empty());
        assert_eq!(cfd.dtype, StoredDtype::F64);
        assert_eq!(cfd.sample_shape(), [50, 50]);
        assert_eq!(cfd.slice_samples(10, 20).values.shape(), [10, 50, 50]);
    }

    #[test]
    fn non_finite_values_are_located_by_row_and_column() {
        let mut jets =
            table(array![[1.0, 2.0], [3.0, 4.0]].into_dyn(), &["pt", "eta"], StoredDtype::F32, FileFormat::Npz);
        jets.check_finite(Path::new("data.npz")).unwrap();
        jets.values[[1, 1]] = f64::NAN;
        let error = jets.check_finite(Path::new("data.npz")).unwrap_err().to_string();
        assert_eq!(error, "data.npz: row 1, column 'eta' is NaN");

        jets.names.clear();
        assert!(jets.check_finite(Path::new("d.npy")).unwrap_err().to_string().ends_with("row 1, column 1 is NaN"));

        let mut fields = ArrayD::zeros(IxDyn(&[3, 4, 5]));
        fields[[2, 1, 3]] = f64::NEG_INFINITY;
        let fields = table(fields, &[], StoredDtype::F64, FileFormat::Npy);
        let error = fields.check_finite(Path::new("f.npy")).unwrap_err().to_string();
        assert_eq!(error, "f.npy: sample 2, value [1, 3] is -inf");
    }

    #[test]
    fn slicing_keeps_names_and_dtype() {
        let jets = table(
            array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]].into_dyn(),
            &["a", "b"],
            StoredDtype::I16,
            FileFormat::Csv,
        );
        let part = jets.slice_samples(1, 3);
        assert_eq!(part.values, array![[3.0, 4.0], [5.0, 6.0]].into_dyn());
        assert_eq!((part.names, part.dtype, part.format), (jets.names, StoredDtype::I16, FileFormat::Csv));
    }

    #[test]
    fn truncated_or_corrupt_npz_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.npz");
        let values = ArrayD::from_elem(IxDyn(&[100, 3]), 1.5);
        write(&path, &table(values, &["a", "b", "c"], StoredDtype::F64, FileFormat::Npz)).unwrap();
        let bytes = std::fs::read(&path).unwrap();

        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(error_of(&path).contains("broken.npz"), "{}", error_of(&path));

        let mut corrupt = bytes.clone();
        corrupt[500] ^= 0xff;
        std::fs::write(&path, &corrupt).unwrap();
        assert!(error_of(&path).contains("broken.npz: array 'data' is corrupt"), "{}", error_of(&path));

        std::fs::write(&path, b"not a zip archive").unwrap();
        assert!(error_of(&path).contains("broken.npz"), "{}", error_of(&path));
    }

    #[test]
    fn truncated_npy_payload_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.npy");
        std::fs::write(&path, handmade_npy("<f8", "False", "(1000000000000, 3)", &[0; 16])).unwrap();
        let error = error_of(&path);
        assert!(error.starts_with(&path.display().to_string()) && error.contains("truncated"), "{error}");
    }

    #[test]
    fn npz_without_data_lists_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.npz");
        handmade_npz(&path, &[("x", handmade_npy("<f8", "False", "(1,)", &[0; 8])), ("y", Vec::new())]);
        let error = error_of(&path);
        assert!(error.ends_with("keys.npz: has no 'data' array; the file holds 'x', 'y'"), "{error}");
    }

    #[test]
    fn npz_names_must_match_the_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names.npz");
        let data = handmade_npy("<f8", "False", "(1, 2)", &[0; 16]);
        let names: Vec<u8> = "abc".chars().flat_map(|c| u32::from(c).to_le_bytes()).collect();
        handmade_npz(&path, &[("data", data.clone()), ("names", handmade_npy("<U1", "False", "(3,)", &names))]);
        let error = error_of(&path);
        assert!(error.ends_with("names.npz: has 3 column names but the data has 2 columns"), "{error}");

        handmade_npz(&path, &[("data", data.clone()), ("names", handmade_npy("|S2", "False", "(2,)", b"ab\0\0"))]);
        assert_eq!(read(&path).unwrap().names, ["ab", ""]);

        handmade_npz(&path, &[("data", data), ("names", handmade_npy("|O", "False", "(2,)", &[0; 16]))]);
        let error = error_of(&path);
        assert!(error.contains("names.npz: array 'names' holds Python objects"), "{error}");
    }

    #[test]
    fn bad_csv_cells_and_shapes_are_reported_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jets.csv");
        let check = |content: &str, expected: &str| {
            std::fs::write(&path, content).unwrap();
            let error = error_of(&path);
            assert!(error.contains("jets.csv") && error.contains(expected), "{error}");
        };
        check("pt,eta\n1,2\n3,abc\n", "line 3, column 'eta': cannot read 'abc' as a number");
        check("pt,eta\n1,2\n3\n", "line 3 has 1 cells, the header names 2 columns");
        check("", "is empty");
        check("1,2\n3,4\n", "header line is required");
    }

    #[test]
    fn unknown_extension_is_refused() {
        let error = read(Path::new("data.txt")).unwrap_err().to_string();
        assert!(error.contains("data.txt") && error.contains(".npz, .npy, .csv, .parquet, .h5 or .root"), "{error}");
    }

    #[test]
    fn fields_cannot_be_written_as_a_format_of_tables() {
        let dir = tempfile::tempdir().unwrap();
        for format in [FileFormat::Csv, FileFormat::Parquet, FileFormat::Root] {
            let fields = table(ArrayD::zeros(IxDyn(&[2, 3, 4])), &[], StoredDtype::F64, format);
            let file = format!("f.{}", format.extension());
            let error = write(&dir.path().join(&file), &fields).unwrap_err().to_string();
            let expected =
                format!("{file}: a .{} file holds a table, but the data has shape (2, 3, 4)", format.extension());
            assert!(error.contains(&expected), "{error}");
            assert!(!dir.path().join(&file).exists());
        }
    }
}
