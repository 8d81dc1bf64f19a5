//! `balerc train`: read the project's data, pick the columns, normalize, train (in rounds that
//! leave outliers out, when asked), save the model directory and the loss history.

use crate::config::{Config, TrainingConfig, WeightFormat};
use crate::dataset::{self, Dataset, SampleReader};
use crate::density::OutlierModel;
use crate::frame_stacks::stack_frames;
use crate::model::{Autoencoder, ModelSpec};
use crate::model_dir::{self, ModelInfo, OutlierRound, SavedModel, TrainingSummary};
use crate::normalize::Normalization;
use crate::project::Project;
use crate::qat::QatPrecision;
use crate::train::{self, EpochRecord, Observer, Rows, Trained};
use burn::prelude::*;
use ndarray::{ArrayD, Axis};
use std::path::{Path, PathBuf};

/// Rounds of outlier removal that asking for it sets when the configuration sets none: a
/// second round catches what the first model's density hid.
pub const DEFAULT_OUTLIER_ROUNDS: usize = 2;

/// Outlier removal switched on (the configured rounds, or [`DEFAULT_OUTLIER_ROUNDS`] where it
/// sets none), off, or left as configured (`None`).
pub fn choose_outlier_rounds(rounds: &mut usize, wanted: Option<bool>) {
    match wanted {
        Some(true) if *rounds == 0 => *rounds = DEFAULT_OUTLIER_ROUNDS,
        Some(false) => *rounds = 0,
        _ => {}
    }
}

/// The training data after column selection, as the model sees it.
pub struct PreparedData {
    pub modelled: ArrayD<f64>,
    pub columns: Vec<String>,
    pub modelled_columns: Vec<usize>,
    pub lossless_columns: Vec<usize>,
    pub integer_columns: Vec<usize>,
    pub dtype: dataset::StoredDtype,
}

pub struct TrainOutcome {
    pub model_dir: PathBuf,
    pub history: Vec<EpochRecord>,
    pub stopped_early: bool,
    pub spec: ModelSpec,
    pub samples: (usize, usize),
    pub seconds: f64,
}

/// Trains on `devices`: one, or several to split every batch across (see [`train::train`]).
pub fn run(
    project: &Project,
    devices: &[Device],
    observer: &mut (dyn Observer + Send),
) -> Result<TrainOutcome, String> {
    let config = &project.config;
    if config.data.input.is_empty() {
        return Err("data.input lists no training files: set it in balerc.toml or pass --input".into());
    }
    let inputs: Vec<PathBuf> = config.data.input.iter().map(|p| project.resolve(p)).collect();
    let data = prepare(&read_samples(&inputs, config)?, config)?;
    let sample_shape = data.modelled.shape()[1..].to_vec();
    let mut spec = ModelSpec::resolve(&config.model, &sample_shape, data.dtype.bits())?;
    spec.qat = QatPrecision::from_setting(&config.training.qat, &project.resolve(Path::new("")))?;
    spec.qat_decoder = config.training.qat_decoder;
    if spec.qat.is_some() {
        spec.weights = WeightFormat::F32;
    }
    // A precision that does not fit the model fails here, before any training.
    Autoencoder::try_new(&spec, &Device::flex())?;

    let template = |normalization: &Normalization, training| {
        let mut info = ModelInfo::new(spec.clone(), normalization.clone(), training);
        info.columns = data.columns.clone();
        info.modelled_columns = data.modelled_columns.clone();
        info.lossless_columns = data.lossless_columns.clone();
        info.integer_columns = data.integer_columns.clone();
        info.input_dtype = data.dtype;
        info
    };
    let checkpoints = project.resolve(&config.output.training).join("checkpoints");
    let mut kept: Vec<usize> = (0..data.modelled.shape()[0]).collect();
    let mut rounds = vec![];
    let (fitted, outliers) = loop {
        let modelled = data.modelled.select(Axis(0), &kept);
        let normalization = Normalization::fit(config.data.normalization, &modelled);
        let mut checkpointing = Checkpointing {
            inner: &mut *observer,
            dir: checkpoints.clone(),
            info: template(&normalization, summarize(config, &[], 0.0)),
            config: config.clone(),
            history: vec![],
            error: None,
        };
        let fitted = fit(&spec, config, normalization, &modelled, devices, &mut checkpointing)?;
        if config.training.outlier_rounds == 0 {
            break (fitted, None);
        }
        let latent = latent_codes(&fitted, &data.modelled);
        let width = spec.latent;
        let kept_latent: Vec<f64> = kept.iter().flat_map(|&i| latent[i * width..(i + 1) * width].to_vec()).collect();
        let t = &config.training;
        let density = OutlierModel::fit(&kept_latent, width, t.outlier_components, t.outlier_fence, t.seed)
            .map_err(|e| e.to_string())?;
        let flags = density.flags(&latent);
        let record = OutlierRound {
            trained_on: kept.len(),
            validation_loss: best_validation_loss(&fitted.trained.history),
            threshold: density.threshold,
            flagged: flags.iter().filter(|&&f| f).count(),
        };
        observer.outlier_round_finished(rounds.len() + 1, &record);
        rounds.push(record);
        if rounds.len() > t.outlier_rounds {
            break (fitted, Some(density));
        }
        kept = (0..flags.len()).filter(|&i| !flags[i]).collect();
        if kept.is_empty() {
            return Err("outlier removal flagged every sample: raise training.outlier_fence".into());
        }
    };

    let Fitted { normalization, trained: Trained { model, history, stopped_early }, seed, samples, seconds } = fitted;
    let mut summary = summarize(config, &history, seconds);
    summary.outlier_rounds = rounds;
    summary.kept_seed = (config.training.restarts > 1).then_some(seed);
    let info = template(&normalization, summary);
    let model = model.with_weights_rounded(spec.weights);
    let model_dir = project.resolve(&config.output.model);
    model_dir::save(&model_dir, &SavedModel { info, model, outliers }).map_err(|e| e.to_string())?;
    write_history(&project.resolve(&config.output.training), &history)?;
    Ok(TrainOutcome { model_dir, history, stopped_early, spec, samples, seconds })
}

/// One training run on some of the samples, and the normalization it trained with.
struct Fitted {
    normalization: Normalization,
    trained: Trained,
    /// The seed of the model trained (the best of the restarts).
    seed: u64,
    samples: (usize, usize),
    seconds: f64,
}

fn fit(
    spec: &ModelSpec,
    config: &Config,
    normalization: Normalization,
    modelled: &ArrayD<f64>,
    devices: &[Device],
    checkpointing: &mut Checkpointing,
) -> Result<Fitted, String> {
    let rows = flat_rows(normalization.apply(modelled));
    let (train_rows, validation_rows) =
        rows.split(config.data.validation_fraction, config.data.shuffle, config.training.seed);
    if train_rows.is_empty() {
        return Err("no samples are left for training after the validation split".into());
    }
    let started = std::time::Instant::now();
    let restarts = config.training.restarts.max(1);
    let mut best: Option<(Trained, u64, f64)> = None;
    for restart in 0..restarts {
        let seed = config.training.seed.wrapping_add(restart as u64);
        let training = TrainingConfig { seed, ..config.training.clone() };
        checkpointing.history.clear();
        let trained = train::train(spec, &training, &train_rows, &validation_rows, devices, checkpointing);
        if let Some(error) = checkpointing.error.take() {
            return Err(error);
        }
        // Restarts are told apart by the model as it is saved, its weights rounded: rounding to
        // a coarse grid costs some models far more accuracy than others.
        let loss = match restarts {
            1 => 0.0,
            _ => train::saved_loss(&trained.model, spec.weights, &train_rows, &validation_rows),
        };
        if best.as_ref().is_none_or(|(.., kept)| loss < *kept) {
            best = Some((trained, seed, loss));
        }
    }
    let (trained, seed, _) = best.expect("at least one model is trained");
    let samples = (train_rows.len(), validation_rows.len());
    Ok(Fitted { normalization, trained, seed, samples, seconds: started.elapsed().as_secs_f64() })
}

/// The latent codes of every sample, rows of the latent width.
fn latent_codes(fitted: &Fitted, modelled: &ArrayD<f64>) -> Vec<f64> {
    let rows = flat_rows(fitted.normalization.apply(modelled));
    let (latent, _) = train::encode_decode(&fitted.trained.model, &rows);
    latent.values.into_iter().map(f64::from).collect()
}

fn best_validation_loss(history: &[EpochRecord]) -> Option<f64> {
    history.iter().filter_map(|r| r.validation_loss).min_by(f64::total_cmp)
}

fn summarize(config: &Config, history: &[EpochRecord], seconds: f64) -> TrainingSummary {
    TrainingSummary {
        config: config.training.clone(),
        epochs_run: history.len(),
        train_loss: history.last().map(|r| r.train_loss),
        validation_loss: best_validation_loss(history),
        seconds,
        kept_seed: None,
        outlier_rounds: vec![],
    }
}

/// Saves `checkpoints/epoch_N` model directories while passing progress on.
struct Checkpointing<'a> {
    inner: &'a mut (dyn Observer + Send),
    dir: PathBuf,
    info: ModelInfo,
    config: Config,
    /// The epochs so far, for the summary each checkpoint carries.
    history: Vec<EpochRecord>,
    error: Option<String>,
}

impl Observer for Checkpointing<'_> {
    fn epoch_finished(&mut self, record: &EpochRecord) {
        self.history.push(record.clone());
        self.inner.epoch_finished(record);
    }

    fn batch_finished(&mut self, epoch: usize, batch: usize, batches: usize) {
        self.inner.batch_finished(epoch, batch, batches);
    }

    fn checkpoint(&mut self, epoch: usize, model: &Autoencoder) {
        let seconds = self.history.iter().map(|r| r.seconds).sum();
        let info = ModelInfo { training: summarize(&self.config, &self.history, seconds), ..self.info.clone() };
        let saved = SavedModel { info, model: model.clone(), outliers: None };
        if let Err(e) = model_dir::save(&self.dir.join(format!("epoch_{epoch}")), &saved) {
            self.error.get_or_insert(e.to_string());
        }
        self.inner.checkpoint(epoch, model);
    }
}

/// Reads every input as the model sees its samples: stacked along the sample axis, and with
/// `data.frames_per_sample` frames grouped into one.
pub fn read_samples(paths: &[PathBuf], config: &Config) -> Result<Dataset, String> {
    let mut data = read_all(paths, &config.data.columns)?;
    data.values = stack_frames(data.values, config.data.frames_per_sample)?;
    Ok(data)
}

/// Reads every input (the `columns` of its table, all when none are named) and stacks them
/// along the sample axis.
pub fn read_all(paths: &[PathBuf], columns: &[String]) -> Result<Dataset, String> {
    let mut combined: Option<Dataset> = None;
    for path in paths {
        let data =
            SampleReader::open_columns(path, columns).and_then(SampleReader::read_all).map_err(|e| e.to_string())?;
        data.check_finite(path).map_err(|e| e.to_string())?;
        combined = Some(match combined {
            None => data,
            Some(mut first) => {
                if first.sample_shape() != data.sample_shape() || first.names != data.names {
                    return Err(format!(
                        "{}: samples of shape {:?} do not match the first input's {:?}",
                        path.display(),
                        data.sample_shape(),
                        first.sample_shape()
                    ));
                }
                first.values.append(Axis(0), data.values.view()).expect("same sample shape");
                first
            }
        });
    }
    combined.ok_or_else(|| "no input files".to_string())
}

/// Splits a table's columns into modelled, lossless and integer ones, by name or index.
pub fn prepare(data: &Dataset, config: &Config) -> Result<PreparedData, String> {
    let is_table = data.values.ndim() == 2;
    let width = if is_table { data.values.shape()[1] } else { 0 };
    let find = |key: &str| column_index(key, &data.names, width);
    let lossless: Vec<usize> = config.data.lossless_columns.iter().map(|k| find(k)).collect::<Result<_, _>>()?;
    let integer: Vec<usize> = config.data.integer_columns.iter().map(|k| find(k)).collect::<Result<_, _>>()?;
    let modelled: Vec<usize> = (0..width).filter(|c| !lossless.contains(c)).collect();
    if is_table && modelled.is_empty() {
        return Err("data.lossless_columns leaves no column for the autoencoder".into());
    }
    let values = if is_table { data.values.select(Axis(1), &modelled) } else { data.values.clone() };
    Ok(PreparedData {
        modelled: values,
        columns: data.names.clone(),
        modelled_columns: modelled,
        lossless_columns: lossless,
        integer_columns: integer,
        dtype: data.dtype,
    })
}

fn column_index(key: &str, names: &[String], width: usize) -> Result<usize, String> {
    if width == 0 {
        return Err(format!("column '{key}' was named, but the data is not a table"));
    }
    if let Some(i) = names.iter().position(|n| n == key) {
        return Ok(i);
    }
    match key.parse::<usize>() {
        Ok(i) if i < width => Ok(i),
        _ => Err(format!("no column '{key}' in the data (columns: {})", names.join(", "))),
    }
}

/// [samples, ...] to rows of one flattened sample each.
pub fn flat_rows(values: ArrayD<f32>) -> Rows {
    let width = values.shape()[1..].iter().product();
    let values = values.as_standard_layout().iter().copied().collect();
    Rows { values, width }
}

/// `loss.csv` and `loss.json` with one row per epoch, and the curve as `loss.png`/`loss.svg`.
fn write_history(dir: &Path, history: &[EpochRecord]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut csv = String::from("epoch,train_loss,validation_loss,learning_rate,seconds\n");
    for r in history {
        let validation = r.validation_loss.map_or(String::new(), |v| v.to_string());
        csv += &format!("{},{},{},{},{:.3}\n", r.epoch, r.train_loss, validation, r.learning_rate, r.seconds);
    }
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        crate::atomic::write_atomically(&path, |f| std::io::Write::write_all(f, text.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    write("loss.csv", &csv)?;
    write("loss.json", &serde_json::to_string_pretty(history).expect("history serializes"))?;
    let points: Vec<_> = history.iter().map(|r| (r.epoch, r.train_loss, r.validation_loss)).collect();
    crate::plot::save(&crate::plot::loss_curve(&points), &dir.join("loss")).map_err(|e| e.to_string())?;
    Ok(())
}
