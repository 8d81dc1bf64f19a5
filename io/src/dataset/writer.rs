//! Writes a data file a chunk of samples at a time. The whole shape is declared up front (a
//! `.npy` header starts with it), chunks follow in order, and the file appears at its path
//! only once the last sample is in: until then it is a temporary file beside the target,
//! which a failure deletes.

use super::formats::{self, SampleSink};
use super::{invalid, shape_text, DatasetError, Layout};
use crate::atomic::AtomicFile;
use ndarray::ArrayD;
use std::path::{Path, PathBuf};

pub struct SampleWriter {
    path: PathBuf,
    layout: Layout,
    written: usize,
    sink: Box<dyn SampleSink>,
    target: AtomicFile,
}

impl SampleWriter {
    /// Starts a file of the layout's format, shape, dtype and names (a bare `.npy` keeps no names).
    pub fn create(path: &Path, layout: &Layout) -> Result<SampleWriter, DatasetError> {
        let (path, object) = super::split_object(path);
        let path = path.as_path();
        layout.check().map_err(|message| invalid(path, message))?;
        if layout.format.tables_only() && layout.shape.len() > 2 {
            let shape = shape_text(&layout.shape);
            let extension = layout.format.extension();
            return Err(invalid(path, format!("a .{extension} file holds a table, but the data has shape {shape}")));
        }
        let write_error = |source| DatasetError::Write { path: path.into(), source };
        let target = AtomicFile::create(path).map_err(write_error)?;
        let sink = formats::create(&target, object.as_deref(), layout).map_err(write_error)?;
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
        let written = self.sink.write(self.written, values);
        written.map_err(|source| DatasetError::Write { path: self.path.clone(), source })?;
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
        self.sink.finish().map_err(write_error)?;
        self.target.commit().map_err(write_error)
    }
}
