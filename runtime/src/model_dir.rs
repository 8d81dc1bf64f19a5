//! A trained model on disk: one directory with the weights, everything needed to rebuild and
//! apply them (configuration, normalization, columns), and ONNX exports of both halves.
//!
//! ```text
//! model.json         ModelInfo: spec, normalization, columns, training summary
//! weights.bpk        burn's record of the parameters
//! autoencoder.onnx   encoder and decoder in one graph
//! encoder.onnx       what runs in the detector's readout (see `balerc lower`)
//! decoder.onnx
//! precision.toml     after quantization-aware training: the precision it trained for
//! outliers.json      after outlier removal: the latent density and its threshold
//! ```

use crate::config::TrainingConfig;
use crate::dataset::StoredDtype;
use crate::density::OutlierModel;
use crate::model::{join, Autoencoder, ModelSpec};
use crate::normalize::Normalization;
use crate::onnx_export;
use burn::prelude::*;
use burn::store::ModuleRecord;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

// The names and the part of model.json that compression reads are the codec's.
pub use balerc_codec::model_files::{
    load_outliers, ModelDirError, DECODER_ONNX, ENCODER_ONNX, FORMAT, FULL_ONNX, INFO_FILE, OUTLIERS_FILE, VERSION,
};
const WEIGHTS_FILE: &str = "weights.bpk";
/// The precision of quantization-aware training, as `balerc lower --config` reads it.
pub const PRECISION_FILE: &str = "precision.toml";

/// How the model relates to the user's data, kept so that new data is prepared identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format: String,
    pub version: u32,
    pub spec: ModelSpec,
    /// Fitted on the training data of the modelled columns.
    pub normalization: Normalization,
    /// Every column of the training files (empty for fields).
    pub columns: Vec<String>,
    /// Indices of the columns the autoencoder sees, the ones stored losslessly, and the integer ones.
    pub modelled_columns: Vec<usize>,
    pub lossless_columns: Vec<usize>,
    pub integer_columns: Vec<usize>,
    pub input_dtype: StoredDtype,
    pub training: TrainingSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub config: TrainingConfig,
    pub epochs_run: usize,
    pub train_loss: Option<f64>,
    pub validation_loss: Option<f64>,
    pub seconds: f64,
    /// With restarts, the seed of the model kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_seed: Option<u64>,
    /// With outlier removal, one entry per model trained, the saved model's last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outlier_rounds: Vec<OutlierRound>,
}

/// One model of outlier removal and the samples its latent density flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierRound {
    /// Samples it was trained on (with its validation share), after earlier rounds' removals.
    pub trained_on: usize,
    pub validation_loss: Option<f64>,
    /// The log-density threshold fitted to its latent codes.
    pub threshold: f64,
    /// Samples of the whole training data below the threshold.
    pub flagged: usize,
}

impl ModelInfo {
    pub fn new(spec: ModelSpec, normalization: Normalization, training: TrainingSummary) -> ModelInfo {
        ModelInfo {
            format: FORMAT.into(),
            version: VERSION,
            spec,
            normalization,
            columns: vec![],
            modelled_columns: vec![],
            lossless_columns: vec![],
            integer_columns: vec![],
            input_dtype: StoredDtype::F32,
            training,
        }
    }
}

pub struct SavedModel {
    pub info: ModelInfo,
    pub model: Autoencoder,
    pub outliers: Option<OutlierModel>,
}

/// Whether `path` is a model directory (rather than, say, an ONNX file).
pub fn is_model_dir(path: &Path) -> bool {
    path.is_dir() && path.join(INFO_FILE).is_file()
}

/// Writes the directory next to its final place and renames it in, so an interrupted save
/// leaves the previous model intact.
pub fn save(dir: &Path, saved: &SavedModel) -> Result<(), ModelDirError> {
    let io = |path: &Path, e: &dyn std::fmt::Display| ModelDirError::Io { path: path.into(), message: e.to_string() };
    if dir.exists() && !is_model_dir(dir) && !is_empty_dir(dir) {
        let message = "exists and is not a balerc model directory; refusing to replace it".to_string();
        return Err(ModelDirError::Io { path: dir.into(), message });
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, &e))?;
    let staging = tempfile::Builder::new().prefix(".balerc-model-").tempdir_in(parent).map_err(|e| io(parent, &e))?;
    write_contents(staging.path(), saved)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io(dir, &e))?;
    }
    let staged = staging.keep();
    make_listable(&staged).map_err(|e| io(&staged, &e))?;
    std::fs::rename(&staged, dir).map_err(|e| io(dir, &e))
}

fn write_contents(dir: &Path, saved: &SavedModel) -> Result<(), ModelDirError> {
    let io = |path: &Path, e: &dyn std::fmt::Display| ModelDirError::Io { path: path.into(), message: e.to_string() };
    let info_path = dir.join(INFO_FILE);
    let json = serde_json::to_string_pretty(&saved.info).expect("model info serializes");
    std::fs::write(&info_path, json).map_err(|e| io(&info_path, &e))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    saved.model.clone().into_record().save(&weights_path).map_err(|e| io(&weights_path, &e))?;
    write_onnx(dir, saved)?;
    if let Some(precision) = &saved.info.spec.qat {
        let path = dir.join(PRECISION_FILE);
        std::fs::write(&path, precision.text()).map_err(|e| io(&path, &e))?;
    }
    if let Some(outliers) = &saved.outliers {
        let path = dir.join(OUTLIERS_FILE);
        let json = serde_json::to_string_pretty(outliers).expect("an outlier model serializes");
        std::fs::write(&path, json).map_err(|e| io(&path, &e))?;
    }
    Ok(())
}

/// The ONNX exports: the whole autoencoder, the encoder and the decoder.
pub fn write_onnx(dir: &Path, saved: &SavedModel) -> Result<Vec<PathBuf>, ModelDirError> {
    let (encoder, decoder) = saved.model.export(&saved.info.spec);
    let networks =
        [(join(encoder.clone(), decoder.clone()), FULL_ONNX), (encoder, ENCODER_ONNX), (decoder, DECODER_ONNX)];
    let mut written = vec![];
    for (network, file) in networks {
        let path = dir.join(file);
        onnx_export::write(&network, &path)
            .map_err(|e| ModelDirError::Io { path: path.clone(), message: e.to_string() })?;
        written.push(path);
    }
    Ok(written)
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// A temporary directory is private (0700); a model directory is an ordinary one (0755).
#[cfg(unix)]
fn make_listable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_listable(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

pub fn load_info(dir: &Path) -> Result<ModelInfo, ModelDirError> {
    let info_path = dir.join(INFO_FILE);
    let not_a_model = |message: String| ModelDirError::NotAModel { path: dir.into(), message };
    let text = std::fs::read_to_string(&info_path).map_err(|e| not_a_model(format!("cannot read {INFO_FILE}: {e}")))?;
    let info: ModelInfo = serde_json::from_str(&text).map_err(|e| not_a_model(format!("{INFO_FILE}: {e}")))?;
    balerc_codec::model_files::check_format(&info.format, info.version).map_err(|e| not_a_model(e.to_string()))?;
    Ok(info)
}

pub fn load(dir: &Path, device: &Device) -> Result<SavedModel, ModelDirError> {
    let info = load_info(dir)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let bad_weights = |message: String| ModelDirError::NotAModel { path: dir.into(), message };
    let record = ModuleRecord::load(&weights_path).map_err(|e| bad_weights(format!("{WEIGHTS_FILE}: {e}")))?;
    let model = Autoencoder::try_new(&info.spec, device)
        .map_err(|e| bad_weights(format!("{INFO_FILE}: {e}")))?
        .try_load_record(record)
        .map_err(|e| bad_weights(format!("{WEIGHTS_FILE} does not fit the model in {INFO_FILE}: {e}")))?
        .valid();
    Ok(SavedModel { info, model, outliers: load_outliers(dir)? })
}
