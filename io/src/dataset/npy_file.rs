//! `.npy` arrays and the `data` array of `.npz` archives (Baler's convention, with the
//! column names in `names`): read sample after sample as they are stored, and written with
//! the whole shape in the header up front and the samples streamed after it.

use super::formats::{Opened, SampleSink, SampleSource, SourceError};
use super::{into_array, names_npy, npy_header, npz_entry, read_npy_header, shape_text};
use super::{Element, FileFormat, Layout, NpyHeader};
use ndarray::{ArrayD, Axis, Slice};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Where an array's values come from.
enum NpySource {
    /// Elements in C order, sample after sample: a `.npy` payload or an `.npz` entry.
    Sequential { bytes: Box<dyn Read + Send>, big_endian: bool, buffer: Vec<u8> },
    /// A Fortran-order payload at `start` in a seekable file: each value of a sample is a
    /// contiguous run over all samples, so a chunk is gathered with one read per value.
    Fortran { file: File, start: u64, big_endian: bool, buffer: Vec<u8> },
    /// A Fortran-order array inside a deflated `.npz`, which cannot be seeked: read whole.
    Loaded(ArrayD<f64>),
}

/// An array's values with what reading them needs to know of its layout.
struct NpyValues {
    source: NpySource,
    layout: Layout,
}

pub(super) fn open_npy(path: &Path) -> Result<Opened, String> {
    let file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let len = file.metadata().map_err(|e| format!("cannot be opened: {e}"))?.len();
    let mut bytes = BufReader::with_capacity(1 << 20, file);
    let header = read_npy_header(&mut bytes)?;
    let (available, start) = (len.saturating_sub(header.len), header.len);
    let (layout, source) = open_payload(header, available, Box::new(bytes), Some((path, start)))?;
    Ok(Opened::new(layout.clone(), NpyValues { source, layout }, false))
}

pub(super) fn open_npz(path: &Path) -> Result<Opened, String> {
    let mut entry = npz_entry::open(path)?;
    let header = read_npy_header(&mut entry.bytes).map_err(|message| format!("array 'data' {message}"))?;
    let available = entry.size.saturating_sub(header.len);
    let seekable = entry.plain_start.map(|start| (path, start + header.len));
    let (mut layout, source) = open_payload(header, available, Box::new(entry.bytes), seekable)
        .map_err(|message| format!("array 'data' {message}"))?;
    layout.names = entry.names;
    layout.format = FileFormat::Npz;
    Ok(Opened::new(layout.clone(), NpyValues { source, layout }, false))
}

/// A `.npy` payload of `available` bytes: checked against the shape before any is read.
fn open_payload(
    header: NpyHeader,
    available: u64,
    bytes: Box<dyn Read + Send>,
    seekable: Option<(&Path, u64)>,
) -> Result<(Layout, NpySource), String> {
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
        (false, _) => NpySource::Sequential { bytes, big_endian, buffer: Vec::new() },
        (true, Some((path, start))) => {
            let file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
            NpySource::Fortran { file, start, big_endian, buffer: Vec::new() }
        }
        (true, None) => {
            let mut payload = Vec::new();
            bytes.take(needed).read_to_end(&mut payload).map_err(|e| format!("is corrupt: {e}"))?;
            let flat = dtype.decode(&payload, big_endian);
            NpySource::Loaded(into_array(flat, &layout.shape, true)?)
        }
    };
    Ok((layout, source))
}

impl SampleSource for NpyValues {
    fn read(&mut self, first: usize, count: usize) -> Result<Vec<f64>, SourceError> {
        let layout = &self.layout;
        let (sample_len, dtype) = (layout.sample_len(), layout.dtype);
        let values = count.checked_mul(sample_len).ok_or_else(|| "has too many values for memory".to_string())?;
        match &mut self.source {
            NpySource::Sequential { bytes, big_endian, buffer } => {
                buffer.resize(values * dtype.size(), 0);
                bytes.read_exact(buffer).map_err(|e| payload_error(layout.format, e))?;
                Ok(dtype.decode(buffer, *big_endian))
            }
            NpySource::Fortran { file, start, big_endian, buffer } => {
                let positions = fortran_positions(layout.sample_shape());
                let mut out = vec![0.0; values];
                let samples = layout.samples() as u64;
                buffer.resize(count * dtype.size(), 0);
                for (c_index, &f_index) in positions.iter().enumerate() {
                    let offset = *start + (f_index as u64 * samples + first as u64) * dtype.size() as u64;
                    file.seek(SeekFrom::Start(offset))
                        .and_then(|_| file.read_exact(buffer))
                        .map_err(|e| payload_error(layout.format, e))?;
                    for (row, value) in dtype.decode(buffer, *big_endian).into_iter().enumerate() {
                        out[row * sample_len + c_index] = value;
                    }
                }
                Ok(out)
            }
            NpySource::Loaded(all) => {
                let part = all.slice_axis(Axis(0), Slice::from(first..first + count));
                Ok(part.iter().copied().collect())
            }
        }
    }

    /// Reads what is left after the last value, so that an `.npz` entry's checksum is checked.
    fn finish(&mut self) -> Result<(), SourceError> {
        if let NpySource::Sequential { bytes, .. } = &mut self.source {
            io::copy(bytes, &mut io::sink()).map_err(|e| payload_error(self.layout.format, e))?;
        }
        Ok(())
    }
}

/// A failure inside the values: in an `.npz` the archive's checks say the bytes are damaged.
fn payload_error(format: FileFormat, error: io::Error) -> SourceError {
    match (format, error.kind()) {
        (FileFormat::Npz, _) => SourceError::Invalid(format!("array 'data' is corrupt: {error}")),
        (_, io::ErrorKind::UnexpectedEof) => SourceError::Invalid("is truncated: the values end early".into()),
        _ => SourceError::Io(error),
    }
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

/// A `.npy` file: the header, then the values as they come.
pub(super) struct NpySink {
    out: BufWriter<File>,
    layout: Layout,
}

impl NpySink {
    pub(super) fn start(file: File, layout: &Layout) -> io::Result<NpySink> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&npy_header(layout.dtype.descr(), &layout.shape)?)?;
        Ok(NpySink { out, layout: layout.clone() })
    }
}

impl SampleSink for NpySink {
    fn write(&mut self, _first: usize, values: &ArrayD<f64>) -> io::Result<()> {
        self.out.write_all(&self.layout.dtype.encode(values))
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

/// An `.npz` archive: the `data` entry open while the values come, `names` added at the end.
pub(super) struct NpzSink {
    archive: zip::ZipWriter<BufWriter<File>>,
    layout: Layout,
}

impl NpzSink {
    pub(super) fn start(file: File, layout: &Layout) -> io::Result<NpzSink> {
        let header = npy_header(layout.dtype.descr(), &layout.shape)?;
        let values = layout.shape.iter().map(|&n| n as u64).product::<u64>();
        let size = header.len() as u64 + values * layout.dtype.size() as u64;
        let mut archive = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
        archive.start_file("data.npy", entry_options(size))?;
        archive.write_all(&header)?;
        Ok(NpzSink { archive, layout: layout.clone() })
    }
}

impl SampleSink for NpzSink {
    fn write(&mut self, _first: usize, values: &ArrayD<f64>) -> io::Result<()> {
        self.archive.write_all(&self.layout.dtype.encode(values))
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let names = names_npy(&self.layout.names)?;
        self.archive.start_file("names.npy", entry_options(names.len() as u64))?;
        self.archive.write_all(&names)?;
        self.archive.finish()?.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

/// Arrays are stored uncompressed, as numpy.savez does; sizes past 4 GiB need zip64.
fn entry_options(size: u64) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(size >= u64::from(u32::MAX) - 1024)
}
