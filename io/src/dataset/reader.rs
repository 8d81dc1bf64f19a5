//! Reads a data file a chunk of samples at a time, so that files larger than memory can be
//! compressed. The shape, dtype and names are known as soon as the file is open; the values
//! follow on request, each chunk an ordinary [`Dataset`].

use super::formats::{self, SampleSource};
use super::{invalid, select_columns, shape_text, Dataset, DatasetError, FileFormat, Layout, StoredDtype};
use ndarray::{ArrayD, IxDyn};
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct SampleReader {
    path: PathBuf,
    /// What is handed out: the file's layout, or the selected columns of its table.
    layout: Layout,
    /// What the file holds.
    source_layout: Layout,
    /// The columns of the file's table handed out, where a selection was asked for.
    columns: Option<Vec<usize>>,
    source: Box<dyn SampleSource>,
    /// The index of the next sample to be read.
    next: usize,
    check_finite: bool,
}

impl SampleReader {
    /// Opens a data file, choosing the format by its extension, and reads what it holds.
    pub fn open(path: &Path) -> Result<SampleReader, DatasetError> {
        SampleReader::open_with(path, None)
    }

    /// Opens a data file keeping only the named columns of its table (names, or indices as
    /// strings), in the order given; none named keeps them all. Parquet columns, ROOT branches
    /// and HDF5 column datasets left out are never read, so they may hold what balerc cannot
    /// (strings, jagged branches).
    pub fn open_columns(path: &Path, wanted: &[String]) -> Result<SampleReader, DatasetError> {
        SampleReader::open_with(path, Some(wanted).filter(|w| !w.is_empty()))
    }

    fn open_with(path: &Path, wanted: Option<&[String]>) -> Result<SampleReader, DatasetError> {
        let format = FileFormat::from_path(path)?;
        let (path, object) = super::split_object(path);
        let path = path.as_path();
        // A file that cannot be opened is a read error whatever its format.
        File::open(path).map_err(|source| DatasetError::Read { path: path.into(), source })?;
        let opened =
            formats::open(format, path, object.as_deref(), wanted).map_err(|message| invalid(path, message))?;
        opened.layout.check().map_err(|message| invalid(path, message))?;
        let mut reader = SampleReader {
            path: path.into(),
            layout: opened.layout.clone(),
            source_layout: opened.layout,
            columns: None,
            source: opened.source,
            next: 0,
            check_finite: false,
        };
        if let Some(wanted) = wanted.filter(|_| !opened.selects_columns) {
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
        let values = self.source.read(first, count).map_err(|e| e.at(&self.path))?;
        match values.len() == count * self.source_layout.sample_len() {
            true => Ok(values),
            false => Err(invalid(&self.path, format!("ends before the {} samples it had", first + count))),
        }
    }

    /// Reads what follows the last value (an `.npz` entry's checksum is checked then).
    fn finish_source(&mut self) -> Result<(), DatasetError> {
        self.source.finish().map_err(|e| e.at(&self.path))
    }
}
