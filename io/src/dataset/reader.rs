//! Reads a data file a chunk of samples at a time, so that files larger than memory can be
//! compressed. The shape, dtype and names are known as soon as the file is open; the values
//! follow on request, each chunk an ordinary [`Dataset`].

use super::csv_table::{self, CsvRows};
use super::hdf5_table::{self, Hdf5Source};
use super::npz_entry;
use super::parquet_table::{self, ParquetRows};
use super::{
    into_array, invalid, read_npy_header, select_columns, shape_text, Dataset, DatasetError, Element, FileFormat,
};
use super::{Layout, NpyHeader, StoredDtype};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub struct SampleReader {
    path: PathBuf,
    /// What is handed out: the file's layout, or the selected columns of its table.
    layout: Layout,
    /// What the file holds.
    source_layout: Layout,
    /// The columns of the file's table handed out, where a selection was asked for.
    columns: Option<Vec<usize>>,
    source: Source,
    /// The index of the next sample to be read.
    next: usize,
    check_finite: bool,
}

enum Source {
    /// Elements in C order, sample after sample: a `.npy` payload or an `.npz` entry.
    Sequential {
        bytes: Box<dyn Read + Send>,
        big_endian: bool,
        buffer: Vec<u8>,
    },
    /// A Fortran-order payload at `start` in a seekable file: each value of a sample is a
    /// contiguous run over all samples, so a chunk is gathered with one read per value.
    Fortran {
        file: File,
        start: u64,
        big_endian: bool,
        buffer: Vec<u8>,
    },
    /// A Fortran-order array inside a deflated `.npz`, which cannot be seeked: read whole.
    Loaded(ArrayD<f64>),
    Csv(CsvRows),
    Parquet(Box<ParquetRows>),
    Hdf5(Hdf5Source),
}

impl SampleReader {
    /// Opens a data file, choosing the format by its extension, and reads what it holds.
    pub fn open(path: &Path) -> Result<SampleReader, DatasetError> {
        SampleReader::open_with(path, None)
    }

    /// Opens a data file keeping only the named columns of its table (names, or indices as
    /// strings), in the order given; none named keeps them all. Parquet columns and HDF5
    /// column datasets left out are never read, so they may hold what balerc cannot (strings).
    pub fn open_columns(path: &Path, wanted: &[String]) -> Result<SampleReader, DatasetError> {
        SampleReader::open_with(path, Some(wanted).filter(|w| !w.is_empty()))
    }

    fn open_with(path: &Path, wanted: Option<&[String]>) -> Result<SampleReader, DatasetError> {
        let format = FileFormat::from_path(path)?;
        let (path, object) = super::split_object(path);
        let path = path.as_path();
        let read_error = |source| DatasetError::Read { path: path.into(), source };
        let file = File::open(path).map_err(read_error)?;
        let (layout, source) = match format {
            FileFormat::Hdf5 => {
                drop(file);
                let (layout, source) =
                    hdf5_table::open(path, object.as_deref(), wanted).map_err(|message| invalid(path, message))?;
                (layout, Source::Hdf5(source))
            }
            FileFormat::Npy => {
                let len = file.metadata().map_err(read_error)?.len();
                let mut bytes = BufReader::with_capacity(1 << 20, file);
                let header = read_npy_header(&mut bytes).map_err(|message| invalid(path, message))?;
                let (available, start) = (len.saturating_sub(header.len), header.len);
                open_npy(header, available, Box::new(bytes), Some((path, start))).map_err(|m| invalid(path, m))?
            }
            FileFormat::Npz => {
                drop(file);
                open_npz(path).map_err(|message| invalid(path, message))?
            }
            FileFormat::Csv => {
                let layout = csv_table::scan(file).map_err(|message| invalid(path, message))?;
                let rows = CsvRows::open(File::open(path).map_err(read_error)?).map_err(|m| invalid(path, m))?;
                (layout, Source::Csv(rows))
            }
            FileFormat::Parquet => {
                let (layout, rows) = parquet_table::open(file, wanted).map_err(|message| invalid(path, message))?;
                (layout, Source::Parquet(Box::new(rows)))
            }
        };
        layout.check().map_err(|message| invalid(path, message))?;
        let mut reader = SampleReader {
            path: path.into(),
            layout: layout.clone(),
            source_layout: layout,
            columns: None,
            source,
            next: 0,
            check_finite: false,
        };
        // Parquet and HDF5 columns are selected as they are opened; the others here.
        let selected = matches!(&reader.source, Source::Parquet(_) | Source::Hdf5(Hdf5Source::Columns { .. }));
        if let Some(wanted) = wanted.filter(|_| !selected) {
            reader.select(wanted)?;
        }
        Ok(reader)
    }

    /// Hands out only the `wanted` columns of the file's table.
    fn select(&mut self, wanted: &[String]) -> Result<(), DatasetError> {
        let layout = &self.source_layout;
        if layout.shape.len() != 2 {
            let message =
                format!("columns are selected from a table, but the data has shape {}", shape_text(&layout.shape));
            return Err(invalid(&self.path, message));
        }
        let columns = select_columns(&layout.names, layout.shape[1], wanted).map_err(|m| invalid(&self.path, m))?;
        let names = match layout.names.is_empty() {
            true => vec![],
            false => columns.iter().map(|&c| layout.names[c].clone()).collect(),
        };
        let dtypes: Vec<StoredDtype> = columns.iter().map(|&c| layout.column_dtype(c)).collect();
        let (dtype, column_dtypes) = StoredDtype::of_columns(dtypes);
        self.layout =
            Layout { shape: vec![layout.shape[0], columns.len()], names, dtype, column_dtypes, ..layout.clone() };
        self.columns = Some(columns);
        Ok(())
    }

    /// Makes every chunk fail on a NaN or infinite value, named by its row in the whole file.
    pub fn require_finite(mut self) -> SampleReader {
        self.check_finite = true;
        self
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next (up to) `max_samples` samples, or `None` once all have been read.
    pub fn next_chunk(&mut self, max_samples: usize) -> Result<Option<Dataset>, DatasetError> {
        let total = self.layout.samples();
        if self.next >= total || max_samples == 0 {
            return Ok(None);
        }
        let (first, count) = (self.next, max_samples.min(total - self.next));
        let values = self.read_values(first, count)?;
        self.next += count;
        if self.next == total {
            self.finish_source()?;
        }
        let mut shape = self.layout.shape.clone();
        shape[0] = count;
        let values = ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| invalid(&self.path, e.to_string()))?;
        let chunk =
            Dataset { values, names: self.layout.names.clone(), dtype: self.layout.dtype, format: self.layout.format };
        if self.check_finite {
            chunk.check_finite_from(&self.path, first)?;
        }
        Ok(Some(chunk))
    }

    /// Consecutive chunks of `samples` samples (the last may be shorter).
    pub fn chunks(mut self, samples: usize) -> impl Iterator<Item = Result<Dataset, DatasetError>> + Send {
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let chunk = self.next_chunk(samples).transpose();
            failed = matches!(chunk, Some(Err(_)));
            chunk
        })
    }

    /// Everything that is left, as one dataset.
    pub fn read_all(mut self) -> Result<Dataset, DatasetError> {
        let (first, count) = (self.next, self.layout.samples() - self.next);
        let values = match count {
            0 => Vec::new(),
            _ => self.read_values(first, count)?,
        };
        self.finish_source()?;
        let mut shape = self.layout.shape.clone();
        shape[0] = count;
        let values = ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| invalid(&self.path, e.to_string()))?;
        let data = Dataset { values, names: self.layout.names, dtype: self.layout.dtype, format: self.layout.format };
        if self.check_finite {
            data.check_finite_from(&self.path, first)?;
        }
        Ok(data)
    }

    /// Samples [first, first + count) as f64 values in C order.
    fn read_values(&mut self, first: usize, count: usize) -> Result<Vec<f64>, DatasetError> {
        let values = self.read_source(first, count)?;
        Ok(match &self.columns {
            None => values,
            Some(columns) => {
                let width = self.source_layout.sample_len();
                values.chunks_exact(width.max(1)).flat_map(|row| columns.iter().map(|&c| row[c])).collect()
            }
        })
    }

    /// Samples [first, first + count) of what the file holds, as f64 values in C order.
    fn read_source(&mut self, first: usize, count: usize) -> Result<Vec<f64>, DatasetError> {
        let path = self.path.as_path();
        let sample_len = self.source_layout.sample_len();
        let dtype = self.source_layout.dtype;
        let values = count.checked_mul(sample_len).ok_or_else(|| invalid(path, "has too many values for memory"))?;
        match &mut self.source {
            Source::Sequential { bytes, big_endian, buffer } => {
                buffer.resize(values * dtype.size(), 0);
                bytes.read_exact(buffer).map_err(|e| payload_error(path, self.source_layout.format, e))?;
                Ok(dtype.decode(buffer, *big_endian))
            }
            Source::Fortran { file, start, big_endian, buffer } => {
                let positions = fortran_positions(self.source_layout.sample_shape());
                let mut out = vec![0.0; values];
                let samples = self.source_layout.samples() as u64;
                buffer.resize(count * dtype.size(), 0);
                for (c_index, &f_index) in positions.iter().enumerate() {
                    let offset = *start + (f_index as u64 * samples + first as u64) * dtype.size() as u64;
                    file.seek(SeekFrom::Start(offset))
                        .and_then(|_| file.read_exact(buffer))
                        .map_err(|e| payload_error(path, self.source_layout.format, e))?;
                    for (row, value) in dtype.decode(buffer, *big_endian).into_iter().enumerate() {
                        out[row * sample_len + c_index] = value;
                    }
                }
                Ok(out)
            }
            Source::Loaded(all) => {
                let part = all.slice_axis(Axis(0), Slice::from(first..first + count));
                Ok(part.iter().copied().collect())
            }
            Source::Csv(rows) => {
                let mut out = Vec::with_capacity(values);
                for row in first..first + count {
                    if rows.next_row(&mut out).map_err(|message| invalid(path, message))?.is_none() {
                        return Err(invalid(
                            path,
                            format!("ends at row {row}, before the {} rows it had", first + count),
                        ));
                    }
                }
                Ok(out)
            }
            Source::Hdf5(source) => source.read(first, count).map_err(|message| invalid(path, message)),
            Source::Parquet(rows) => {
                let out = rows.read(count).map_err(|message| invalid(path, message))?;
                match out.len() == values {
                    true => Ok(out),
                    false => Err(invalid(path, format!("ends before the {} rows it had", first + count))),
                }
            }
        }
    }

    /// Reads what is left after the last value, so that an `.npz` entry's checksum is checked.
    fn finish_source(&mut self) -> Result<(), DatasetError> {
        if let Source::Sequential { bytes, .. } = &mut self.source {
            io::copy(bytes, &mut io::sink()).map_err(|e| payload_error(&self.path, self.layout.format, e))?;
        }
        Ok(())
    }
}

/// A failure inside the values: in an `.npz` the archive's checks say the bytes are damaged.
fn payload_error(path: &Path, format: FileFormat, error: io::Error) -> DatasetError {
    match (format, error.kind()) {
        (FileFormat::Npz, _) => invalid(path, format!("array 'data' is corrupt: {error}")),
        (_, io::ErrorKind::UnexpectedEof) => invalid(path, "is truncated: the values end early"),
        _ => DatasetError::Read { path: path.into(), source: error },
    }
}

/// A `.npy` payload of `available` bytes: checked against the shape before any is read.
fn open_npy(
    header: NpyHeader,
    available: u64,
    bytes: Box<dyn Read + Send>,
    seekable: Option<(&Path, u64)>,
) -> Result<(Layout, Source), String> {
    let Element::Number(dtype) = header.element else {
        return Err("holds strings, expected numbers".to_string());
    };
    let shape = header.shape;
    let needed = shape.iter().try_fold(dtype.size() as u64, |size, &length| size.checked_mul(length as u64));
    let needed = needed.ok_or_else(|| format!("has an impossibly large shape {}", shape_text(&shape)))?;
    if available < needed {
        let shape = shape_text(&shape);
        return Err(format!("is truncated: shape {shape} needs {needed} bytes of values, the file has {available}"));
    }
    let layout = Layout { shape, names: Vec::new(), dtype, format: FileFormat::Npy, column_dtypes: vec![] };
    let big_endian = header.big_endian;
    // One value per sample, or one sample, is the same in either order.
    let fortran = header.fortran_order && layout.shape.len() > 1 && layout.sample_len() > 1 && layout.samples() > 1;
    let source = match (fortran, seekable) {
        (false, _) => Source::Sequential { bytes, big_endian, buffer: Vec::new() },
        (true, Some((path, start))) => {
            let file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
            Source::Fortran { file, start, big_endian, buffer: Vec::new() }
        }
        (true, None) => {
            let mut payload = Vec::new();
            bytes.take(needed).read_to_end(&mut payload).map_err(|e| format!("is corrupt: {e}"))?;
            let flat = dtype.decode(&payload, big_endian);
            Source::Loaded(into_array(flat, &layout.shape, true)?)
        }
    };
    Ok((layout, source))
}

fn open_npz(path: &Path) -> Result<(Layout, Source), String> {
    let mut entry = npz_entry::open(path)?;
    let header = read_npy_header(&mut entry.bytes).map_err(|message| format!("array 'data' {message}"))?;
    let available = entry.size.saturating_sub(header.len);
    let seekable = entry.plain_start.map(|start| (path, start + header.len));
    let (mut layout, source) = open_npy(header, available, Box::new(entry.bytes), seekable)
        .map_err(|message| format!("array 'data' {message}"))?;
    layout.names = entry.names;
    layout.format = FileFormat::Npz;
    Ok((layout, source))
}

/// For each value of a sample in C order, its index in Fortran order (first axis fastest).
fn fortran_positions(sample_shape: &[usize]) -> Vec<usize> {
    let len: usize = sample_shape.iter().product();
    (0..len)
        .map(|c_index| {
            let index = super::unravel(c_index, sample_shape);
            let (mut f_index, mut stride) = (0, 1);
            for (&i, &n) in index.iter().zip(sample_shape) {
                f_index += i * stride;
                stride *= n;
            }
            f_index
        })
        .collect()
}
