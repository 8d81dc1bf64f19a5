//! What the codec reads of a trained model's directory: the names of its files, and from
//! `model.json` the facts that tie the model to the data (shapes, columns, normalization).
//! Training writes the directory (see balerc-runtime's `model_dir`); the codec only reads it,
//! and reads no more of `model.json` than it needs, so it does not depend on how training
//! describes itself.

use crate::density::OutlierModel;
use crate::normalize::Normalization;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What `model.json` says it is.
pub const FORMAT: &str = "balerc-model";
pub const VERSION: u32 = 1;
pub const INFO_FILE: &str = "model.json";
pub const FULL_ONNX: &str = "autoencoder.onnx";
pub const ENCODER_ONNX: &str = "encoder.onnx";
pub const DECODER_ONNX: &str = "decoder.onnx";
/// The density of the training samples' latent codes, for `balerc compress --outliers`.
pub const OUTLIERS_FILE: &str = "outliers.json";

#[derive(Debug, thiserror::Error)]
pub enum ModelDirError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path} is not a balerc model ({message})")]
    NotAModel { path: PathBuf, message: String },
}

/// How a model meets the data it compresses.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelLayout {
    /// One sample's shape: [columns] for tables, [height, width] for fields, [frames, height,
    /// width] for stacks of frames.
    pub sample_shape: Vec<usize>,
    /// Latent values per sample.
    pub latent: usize,
    /// Fitted on the training data of the modelled columns.
    pub normalization: Normalization,
    /// Every column of the training files (empty for fields).
    pub columns: Vec<String>,
    /// Indices of the columns the autoencoder sees, the ones stored losslessly, and the integer ones.
    pub modelled_columns: Vec<usize>,
    pub lossless_columns: Vec<usize>,
    pub integer_columns: Vec<usize>,
}

impl ModelLayout {
    /// Values of one sample the autoencoder sees.
    pub fn features(&self) -> usize {
        self.sample_shape.iter().product()
    }
}

/// The part of `model.json` the codec reads; serde passes over the rest.
#[derive(Deserialize)]
struct StoredInfo {
    format: String,
    version: u32,
    spec: StoredSpec,
    normalization: Normalization,
    columns: Vec<String>,
    modelled_columns: Vec<usize>,
    lossless_columns: Vec<usize>,
    integer_columns: Vec<usize>,
}

#[derive(Deserialize)]
struct StoredSpec {
    sample_shape: Vec<usize>,
    latent: usize,
}

/// The layout recorded in a model directory's `model.json`.
pub fn load_layout(dir: &Path) -> Result<ModelLayout, ModelDirError> {
    let not_a_model = |message: String| ModelDirError::NotAModel { path: dir.into(), message };
    let text = std::fs::read_to_string(dir.join(INFO_FILE))
        .map_err(|e| not_a_model(format!("cannot read {INFO_FILE}: {e}")))?;
    let info: StoredInfo = serde_json::from_str(&text).map_err(|e| not_a_model(format!("{INFO_FILE}: {e}")))?;
    check_format(&info.format, info.version).map_err(|e| not_a_model(e.to_string()))?;
    Ok(ModelLayout {
        sample_shape: info.spec.sample_shape,
        latent: info.spec.latent,
        normalization: info.normalization,
        columns: info.columns,
        modelled_columns: info.modelled_columns,
        lossless_columns: info.lossless_columns,
        integer_columns: info.integer_columns,
    })
}

/// An error naming the format and version a `model.json` has when they are not this one's.
pub fn check_format(format: &str, version: u32) -> Result<(), UnknownModelFormat> {
    match format == FORMAT && version == VERSION {
        true => Ok(()),
        false => Err(UnknownModelFormat { format: format.to_string(), version }),
    }
}

/// A `model.json` of another format or version than this balerc reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{INFO_FILE} says {format} version {version}, expected {FORMAT} version {VERSION}")]
pub struct UnknownModelFormat {
    pub format: String,
    pub version: u32,
}

/// The model's outlier density, or None when it was trained without outlier removal.
pub fn load_outliers(dir: &Path) -> Result<Option<OutlierModel>, ModelDirError> {
    let path = dir.join(OUTLIERS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ModelDirError::Io { path, message: e.to_string() }),
    };
    let invalid =
        |message: String| ModelDirError::NotAModel { path: dir.into(), message: format!("{OUTLIERS_FILE}: {message}") };
    let outliers: OutlierModel = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    outliers.check().map_err(|e| invalid(e.to_string()))?;
    Ok(Some(outliers))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jets_model");

    #[test]
    fn the_layout_of_a_trained_model_is_read_and_the_rest_passed_over() {
        let layout = load_layout(Path::new(FIXTURE)).unwrap();
        assert_eq!((layout.sample_shape.as_slice(), layout.latent, layout.features()), (&[24][..], 6, 24));
        assert_eq!(layout.columns.len(), 24);
        assert_eq!(layout.integer_columns, [layout.columns.iter().position(|c| c == "n_const").unwrap()]);
        assert!(load_outliers(Path::new(FIXTURE)).unwrap().is_none());
    }

    #[test]
    fn another_format_or_a_missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(Path::new(FIXTURE).join(INFO_FILE)).unwrap();
        std::fs::write(dir.path().join(INFO_FILE), text.replace("\"version\": 1", "\"version\": 7")).unwrap();
        let err = load_layout(dir.path()).unwrap_err().to_string();
        assert!(err.contains("version 7") && err.contains("is not a balerc model"), "{err}");
        let err = load_layout(&dir.path().join("nowhere")).unwrap_err().to_string();
        assert!(err.contains("cannot read model.json"), "{err}");
    }
}
