//! Writes a data file a chunk of samples at a time. The whole shape is declared up front (a
//! `.npy` header starts with it), chunks follow in order, and the file appears at its path
//! only once the last sample is in: until then it is a temporary file beside the target,
//! which a failure deletes.

use super::csv_table;
use super::hdf5_table::Hdf5Sink;
use super::parquet_table::ParquetSink;
use super::{invalid, names_npy, npy_header, shape_text, DatasetError, FileFormat, Layout};
use crate::atomic::AtomicFile;
use ndarray::ArrayD;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct SampleWriter {
    path: PathBuf,
    layout: Layout,
    written: usize,
    sink: Sink,
    target: AtomicFile,
}

enum Sink {
    Npy(BufWriter<File>),
    /// The `data` entry is open; `names` is added at the end.
    Npz(zip::ZipWriter<BufWriter<File>>),
    Csv(csv::Writer<BufWriter<File>>),
    Parquet(Box<ParquetSink<BufWriter<File>>>),
    Hdf5(Hdf5Sink),
}

impl SampleWriter {
    /// Starts a file of the layout's format, shape, dtype and names (a bare `.npy` keeps no names).
    pub fn create(path: &Path, layout: &Layout) -> Result<SampleWriter, DatasetError> {
        let (path, object) = super::split_object(path);
        let path = path.as_path();
        layout.check().map_err(|message| invalid(path, message))?;
        let tables_only = matches!(layout.format, FileFormat::Csv | FileFormat::Parquet);
        if tables_only && layout.shape.len() > 2 {
            let shape = shape_text(&layout.shape);
            let extension = layout.format.extension();
            return Err(invalid(path, format!("a .{extension} file holds a table, but the data has shape {shape}")));
        }
        let write_error = |source| DatasetError::Write { path: path.into(), source };
        let target = AtomicFile::create(path).map_err(write_error)?;
        let sink = match layout.format {
            FileFormat::Hdf5 => Hdf5Sink::start(target.temporary_path(), object.as_deref(), layout)
                .map(Sink::Hdf5)
                .map_err(|e| write_error(io::Error::other(e)))?,
            _ => {
                let file = BufWriter::with_capacity(1 << 20, target.handle().map_err(write_error)?);
                start(file, layout).map_err(write_error)?
            }
        };
        Ok(SampleWriter { path: path.into(), layout: layout.clone(), written: 0, sink, target })
    }

    /// The next samples, in the layout's sample shape; cast to its dtype as they are written.
    pub fn write(&mut self, values: &ArrayD<f64>) -> Result<(), DatasetError> {
        let samples = values.shape().first().copied().unwrap_or(0);
        if values.shape().get(1..) != Some(self.layout.sample_shape()) || self.written + samples > self.layout.samples()
        {
            let message = format!(
                "{} samples of shape {} do not fit after the {} written of {}",
                samples,
                shape_text(values.shape().get(1..).unwrap_or(&[])),
                self.written,
                shape_text(&self.layout.shape)
            );
            return Err(invalid(&self.path, message));
        }
        let dtype = self.layout.dtype;
        let result = match &mut self.sink {
            Sink::Npy(out) => out.write_all(&dtype.encode(values)),
            Sink::Npz(archive) => archive.write_all(&dtype.encode(values)),
            // A sample is one row: a table row, or the single value of a 1-D array.
            Sink::Csv(out) => values
                .outer_iter()
                .try_for_each(|sample| out.write_record(sample.iter().map(|&value| dtype.text(value))))
                .map_err(io::Error::from),
            Sink::Hdf5(out) => out.write(self.written, values).map_err(io::Error::other),
            Sink::Parquet(out) => match values.as_slice() {
                Some(rows) => out.write_rows(rows),
                None => out.write_rows(&values.iter().copied().collect::<Vec<_>>()),
            }
            .map_err(io::Error::other),
        };
        result.map_err(|source| DatasetError::Write { path: self.path.clone(), source })?;
        self.written += samples;
        Ok(())
    }

    /// Completes the file and moves it into place; every declared sample must have been written.
    pub fn finish(self) -> Result<(), DatasetError> {
        if self.written != self.layout.samples() {
            let message = format!("only {} of its {} samples were written", self.written, self.layout.samples());
            return Err(invalid(&self.path, message));
        }
        let write_error = |source| DatasetError::Write { path: self.path.clone(), source };
        let file = match self.sink {
            Sink::Npy(out) => out,
            Sink::Npz(mut archive) => {
                let names = names_npy(&self.layout.names).map_err(write_error)?;
                archive
                    .start_file("names.npy", entry_options(names.len() as u64))
                    .map_err(io::Error::from)
                    .map_err(write_error)?;
                archive.write_all(&names).map_err(write_error)?;
                archive.finish().map_err(io::Error::from).map_err(write_error)?
            }
            Sink::Csv(out) => out.into_inner().map_err(|e| write_error(e.into_error()))?,
            Sink::Parquet(out) => out.finish().map_err(|e| write_error(io::Error::other(e)))?,
            Sink::Hdf5(out) => {
                out.finish().map_err(|e| write_error(io::Error::other(e)))?;
                return self.target.commit().map_err(write_error);
            }
        };
        file.into_inner().map_err(|e| write_error(e.into_error()))?;
        self.target.commit().map_err(write_error)
    }
}

/// Writes what comes before the first sample.
fn start(mut file: BufWriter<File>, layout: &Layout) -> io::Result<Sink> {
    let descr = layout.dtype.descr();
    Ok(match layout.format {
        FileFormat::Npy => {
            file.write_all(&npy_header(descr, &layout.shape)?)?;
            Sink::Npy(file)
        }
        FileFormat::Npz => {
            let header = npy_header(descr, &layout.shape)?;
            let values = layout.shape.iter().map(|&n| n as u64).product::<u64>();
            let size = header.len() as u64 + values * layout.dtype.size() as u64;
            let mut archive = zip::ZipWriter::new(file);
            archive.start_file("data.npy", entry_options(size))?;
            archive.write_all(&header)?;
            Sink::Npz(archive)
        }
        FileFormat::Csv => {
            let mut out = csv::Writer::from_writer(file);
            out.write_record(csv_table::header(layout))?;
            Sink::Csv(out)
        }
        FileFormat::Parquet => Sink::Parquet(Box::new(ParquetSink::start(file, layout).map_err(io::Error::other)?)),
        FileFormat::Hdf5 => unreachable!("HDF5 files are written by name, not through a handle"),
    })
}

/// Arrays are stored uncompressed, as numpy.savez does; sizes past 4 GiB need zip64.
fn entry_options(size: u64) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(size >= u64::from(u32::MAX) - 1024)
}
