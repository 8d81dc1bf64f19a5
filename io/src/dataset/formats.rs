//! The file formats, each in a module of its own behind two traits: a [`SampleSource`]
//! hands out a file's samples in order, a chunk at a time, and a [`SampleSink`] takes them
//! in order. [`SampleReader`](super::SampleReader) and [`SampleWriter`](super::SampleWriter)
//! do the rest (column selection, checks, atomic outputs) for every format alike.
//!
//! A new format is a module that opens a source and creates a sink, a variant of
//! [`FileFormat`], and its line in each of the tables below.

use super::{csv_table, hdf5_table, invalid, npy_file, parquet_table, root_table};
use super::{DatasetError, FileFormat, Layout};
use crate::atomic::AtomicFile;
use ndarray::ArrayD;
use std::io;
use std::path::Path;

/// A file's samples, handed out in order.
pub(super) trait SampleSource: Send {
    /// Samples [first, first + count) as f64 values in C order; `first` is where the last
    /// read ended.
    fn read(&mut self, first: usize, count: usize) -> Result<Vec<f64>, SourceError>;

    /// Called once the last sample is read, to read what follows it (an `.npz` entry's
    /// checksum is checked then).
    fn finish(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

/// A file being written, samples in order.
pub(super) trait SampleSink: Send {
    /// Samples [first, first + n), in the layout's sample shape, cast to its types as written.
    fn write(&mut self, first: usize, values: &ArrayD<f64>) -> io::Result<()>;

    /// Completes the file at the temporary path; the writer then moves it into place.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Why a source could not hand out samples.
pub(super) enum SourceError {
    /// The file's content is not what its layout promised.
    Invalid(String),
    Io(io::Error),
}

impl From<String> for SourceError {
    fn from(message: String) -> SourceError {
        SourceError::Invalid(message)
    }
}

impl SourceError {
    pub(super) fn at(self, path: &Path) -> DatasetError {
        match self {
            SourceError::Invalid(message) => invalid(path, message),
            SourceError::Io(source) => DatasetError::Read { path: path.into(), source },
        }
    }
}

/// What opening a file gives.
pub(super) struct Opened {
    pub layout: Layout,
    pub source: Box<dyn SampleSource>,
    /// Whether the source hands out the wanted columns alone already (formats that store
    /// columns apart never read the others).
    pub selects_columns: bool,
}

impl Opened {
    pub(super) fn new(layout: Layout, source: impl SampleSource + 'static, selects_columns: bool) -> Opened {
        Opened { layout, source: Box::new(source), selects_columns }
    }
}

/// Opens `path` as `format`: `object` names what inside the file holds the data, `wanted`
/// the columns to hand out (formats that cannot select them hand out all).
pub(super) fn open(
    format: FileFormat,
    path: &Path,
    object: Option<&str>,
    wanted: Option<&[String]>,
) -> Result<Opened, String> {
    match format {
        FileFormat::Npy => npy_file::open_npy(path),
        FileFormat::Npz => npy_file::open_npz(path),
        FileFormat::Csv => csv_table::open(path),
        FileFormat::Parquet => parquet_table::open(path, wanted),
        FileFormat::Hdf5 => hdf5_table::open(path, object, wanted),
        FileFormat::Root => root_table::open(path, object, wanted),
    }
}

/// Starts a file of `layout` at `target`'s temporary path, `object` naming what inside it
/// holds the data where the format has such names.
pub(super) fn create(target: &AtomicFile, object: Option<&str>, layout: &Layout) -> io::Result<Box<dyn SampleSink>> {
    Ok(match layout.format {
        FileFormat::Npy => Box::new(npy_file::NpySink::start(target.handle()?, layout)?),
        FileFormat::Npz => Box::new(npy_file::NpzSink::start(target.handle()?, layout)?),
        FileFormat::Csv => Box::new(csv_table::CsvSink::start(target.handle()?, layout)?),
        FileFormat::Parquet => Box::new(parquet_table::ParquetSink::start(target.handle()?, layout)?),
        FileFormat::Hdf5 => Box::new(hdf5_table::Hdf5Sink::start(target.temporary_path(), object, layout)?),
        FileFormat::Root => Box::new(root_table::RootSink::start(target.temporary_path(), object, layout)),
    })
}

impl FileFormat {
    /// The format named by the file's extension (case does not matter), with or without an
    /// object after the file's name.
    pub fn from_path(path: &Path) -> Result<FileFormat, DatasetError> {
        let (path, _) = super::split_object(path);
        FileFormat::of_extension(&path).ok_or_else(|| {
            invalid(&path, "unknown kind of file; expected a .npz, .npy, .csv, .parquet, .h5 or .root file")
        })
    }

    /// The format a file's extension names, if any.
    pub(super) fn of_extension(file: &Path) -> Option<FileFormat> {
        let extension = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match extension.as_deref()? {
            "npz" => Some(FileFormat::Npz),
            "npy" => Some(FileFormat::Npy),
            "csv" => Some(FileFormat::Csv),
            "parquet" => Some(FileFormat::Parquet),
            "h5" | "hdf5" => Some(FileFormat::Hdf5),
            "root" => Some(FileFormat::Root),
            _ => None,
        }
    }

    /// The extension files of this format have.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Npz => "npz",
            FileFormat::Npy => "npy",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
            FileFormat::Hdf5 => "h5",
            FileFormat::Root => "root",
        }
    }

    /// Whether a file of this format holds named objects, as `FILE:OBJECT` names them.
    pub(super) fn holds_objects(self) -> bool {
        matches!(self, FileFormat::Hdf5 | FileFormat::Root)
    }

    /// Whether the format holds tables alone (rows of columns), not arrays of more axes.
    pub(super) fn tables_only(self) -> bool {
        matches!(self, FileFormat::Csv | FileFormat::Parquet | FileFormat::Root)
    }
}
