//! A project's `balerc.toml`: every option of the workflow, with defaults a user can start from,
//! and `section.key=value` overrides from the command line.

use crate::normalize::NormalizationKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("override '{0}': {1}")]
    Override(String, String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data: DataConfig,
    pub model: ModelConfig,
    pub training: TrainingConfig,
    pub output: OutputConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Training files (`.npz` with `data`/`names`, `.npy`, `.csv`, `.parquet`, or
    /// `FILE.h5:OBJECT`), relative to the project.
    pub input: Vec<PathBuf>,
    /// The columns of a table to train on (names, or indices as strings), in this order; all
    /// when empty.
    pub columns: Vec<String>,
    pub normalization: NormalizationKind,
    /// Share of the samples held out to measure the validation loss each epoch.
    pub validation_fraction: f64,
    /// Shuffle the samples before the split and the batches every epoch.
    pub shuffle: bool,
    /// Columns (names, or indices as strings) kept out of the autoencoder and stored losslessly.
    pub lossless_columns: Vec<String>,
    /// Columns whose values are integers: reconstructions are rounded.
    pub integer_columns: Vec<String>,
    /// Groups this many consecutive 2-D frames into one sample, for conv3d (0: off).
    pub frames_per_sample: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            input: vec![],
            columns: vec![],
            normalization: NormalizationKind::MinMax,
            validation_fraction: 0.15,
            shuffle: true,
            lossless_columns: vec![],
            integer_columns: vec![],
            frames_per_sample: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Fully connected, for tables: hidden widths mirrored around the latent layer.
    Dense,
    /// 2-D convolutions for fields [height, width]; transposed convolutions decode.
    Conv2d,
    /// 3-D convolutions for stacks of frames [frames, height, width], as conv2d does for one.
    Conv3d,
}

/// How a trained model's weights are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightFormat {
    /// As trained: what models saved before the choice existed have.
    #[default]
    F32,
    /// Rounded to half precision once training ends: a file that embeds the decoder carries
    /// half the bytes, at a relative change of each weight below 2^-11.
    F16,
    /// Rounded per tensor to 255 multiples of a power of two once training ends (steps under
    /// 1/63 of the tensor's largest weight): about a fifth of the bytes of float32, at a cost
    /// in the model's accuracy.
    Int8,
}

/// A named model size, trading ratio for speed: it sets `hidden`, `channels`, `stride` and
/// `latent` by the model's kind. Measured on the jets and the CFD frames in docs/compression.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The smallest network: compresses and decompresses fastest, at some ratio.
    Fast,
    /// A middle size.
    Balanced,
    /// Baler's dense autoencoder (or balerc's default convolutions): the best ratio.
    Best,
}

/// The model keys a preset sets.
const PRESET_KEYS: [&str; 4] = ["hidden", "channels", "stride", "latent"];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationKind {
    Relu,
    LeakyRelu,
    Tanh,
    Sigmoid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    pub kind: ModelKind,
    /// Encoder widths between the input and the latent layer; the decoder mirrors them.
    /// For conv2d and conv3d: the widths of the dense layers after the convolutions. Unset,
    /// see [`ModelConfig::hidden_widths`].
    pub hidden: Option<Vec<usize>>,
    /// Number of latent values per sample. 0 derives it from `compression_ratio`.
    pub latent: usize,
    /// Input bytes over stored latent bytes, used when `latent` is 0.
    pub compression_ratio: f64,
    /// Bits each stored latent value takes (32 for float32, fewer when quantized).
    pub latent_bits: u32,
    pub activation: ActivationKind,
    pub negative_slope: f64,
    /// Batch normalization after every hidden dense layer.
    pub batch_norm: bool,
    /// Dropout probability after every hidden layer of the encoder (0 turns it off).
    pub dropout: f64,
    /// conv2d and conv3d: output channels of each encoder convolution. Unset, see
    /// [`ModelConfig::conv_channels`].
    pub channels: Option<Vec<usize>>,
    pub kernel: usize,
    pub stride: usize,
    /// "f16" rounds the trained weights to half precision, "f32" keeps them as trained.
    /// Quantization-aware training keeps f32: its fixed-point types decide the weights.
    pub weights: WeightFormat,
    /// Sets the keys of [`PRESET_KEYS`] by kind; any of them given on the command line wins.
    pub preset: Option<Preset>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            kind: ModelKind::Dense,
            hidden: None,
            latent: 15,
            compression_ratio: 1.6,
            latent_bits: 32,
            activation: ActivationKind::LeakyRelu,
            negative_slope: 0.01,
            batch_norm: false,
            dropout: 0.0,
            channels: None,
            kernel: 3,
            stride: 2,
            weights: WeightFormat::F16,
            preset: None,
        }
    }
}

impl ModelConfig {
    /// The hidden widths: as set, or by kind: Baler's [200, 100, 50] for dense models, none for
    /// convolutional ones, whose convolutions go straight to the latent layer (dense layers
    /// after a feature map of a field take most of the weights and, measured on CFD frames,
    /// predict worse).
    pub fn hidden_widths(&self) -> Vec<usize> {
        self.hidden.clone().unwrap_or_else(|| match self.kind {
            ModelKind::Dense => vec![200, 100, 50],
            ModelKind::Conv2d | ModelKind::Conv3d => vec![],
        })
    }

    /// The preset's sizes in place of the file's, except the keys named in `kept`.
    fn apply_preset(&mut self, kept: &[&str]) {
        let Some(preset) = self.preset else { return };
        let dense = self.kind == ModelKind::Dense;
        let (hidden, channels, stride, latent): (Vec<usize>, Vec<usize>, usize, usize) = match (preset, dense) {
            (Preset::Fast, true) => (vec![32, 16], vec![], self.stride, 8),
            (Preset::Balanced, true) => (vec![64, 32], vec![], self.stride, 8),
            (Preset::Best, true) => (vec![200, 100, 50], vec![], self.stride, 8),
            (Preset::Fast, false) => (vec![], vec![8, 8], 3, 6),
            (Preset::Balanced, false) => (vec![], vec![8, 16, 16], 2, 12),
            (Preset::Best, false) => (vec![], vec![16, 32, 32], 2, 20),
        };
        let free = |key: &str| !kept.contains(&key);
        if free("hidden") {
            self.hidden = Some(hidden);
        }
        if free("channels") && !dense {
            self.channels = Some(channels);
        }
        if free("stride") {
            self.stride = stride;
        }
        if free("latent") {
            self.latent = latent;
        }
    }

    /// The convolutions' output channels: as set, or [16, 32, 32].
    pub fn conv_channels(&self) -> Vec<usize> {
        self.channels.clone().unwrap_or_else(|| vec![16, 32, 32])
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    /// Samples per step; 0 chooses (see [`TrainingConfig::batch_size_for`]).
    pub batch_size: usize,
    /// Weight of the mean absolute latent activation added to the loss (0 turns it off).
    pub l1_sparsity: f64,
    pub seed: u64,
    /// Models trained from seeds `seed`, `seed + 1`, ...; the one of the lowest loss with its
    /// weights rounded as saved (on the validation samples, or the training samples when none
    /// are held out) is kept.
    pub restarts: usize,
    /// Single-threaded arithmetic, so that the same seed gives the same model bit for bit.
    pub deterministic: bool,
    /// With `model.weights = "int8"`, epochs after training whose steps are taken at the
    /// rounded weights, at a twentieth of the learning rate; the model kept is the best
    /// rounded one.
    pub grid_epochs: usize,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Stop after this many epochs without a validation improvement larger than `min_delta` (0: never).
    pub early_stopping_patience: usize,
    pub early_stopping_min_delta: f64,
    /// Multiply the learning rate by `lr_factor` after `lr_patience` epochs without improvement.
    pub lr_patience: usize,
    pub lr_factor: f64,
    pub min_lr: f64,
    /// Save the model every this many epochs (0: only at the end).
    pub checkpoint_every: usize,
    /// Quantization-aware training for this precision: a type such as `ap_fixed<16,6>` or a
    /// precision TOML file (empty: train in floating point).
    pub qat: String,
    /// Under QAT, round the decoder too (for compiling the whole autoencoder); by default only
    /// the encoder trains quantized, for a decoder that runs in float as decompression runs it.
    pub qat_decoder: bool,
    /// Rounds of outlier removal: flag the samples whose latent density lies far below the
    /// bulk and train again without them (0: off).
    pub outlier_rounds: usize,
    /// Gaussians in the mixture fitted to the latent codes.
    pub outlier_components: usize,
    /// Flag below Q1 - outlier_fence × IQR of the training samples' latent log densities.
    pub outlier_fence: f64,
}

impl TrainingConfig {
    /// The configured batch size, or when it is 0: Baler's 512, but at most a sixteenth of the
    /// training samples, so that small sets (60 frames of a field) still take enough steps per
    /// epoch to learn.
    pub fn batch_size_for(&self, training_samples: usize) -> usize {
        match self.batch_size {
            0 => (training_samples / 16).clamp(1, 512),
            chosen => chosen,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            epochs: 100,
            learning_rate: 1e-3,
            batch_size: 0,
            l1_sparsity: 0.0,
            seed: 1,
            restarts: 1,
            deterministic: false,
            grid_epochs: 100,
            threads: 0,
            early_stopping_patience: 20,
            early_stopping_min_delta: 0.0,
            lr_patience: 8,
            lr_factor: 0.5,
            min_lr: 1e-6,
            checkpoint_every: 0,
            qat: String::new(),
            qat_decoder: false,
            outlier_rounds: 0,
            outlier_components: 4,
            outlier_fence: 3.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Where the trained model directory goes, relative to the project.
    pub model: PathBuf,
    /// Loss history, plots and checkpoints.
    pub training: PathBuf,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig { model: "models/model".into(), training: "outputs/training".into() }
    }
}

impl Config {
    /// Reads a `balerc.toml`, applies `section.key=value` overrides, and checks the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.into(), message: e.to_string() })?;
        Config::parse(&text, path, overrides)
    }

    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.into(), message };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        let mut config: Config = table.try_into().map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        config.model.apply_preset(&model_keys_overridden(overrides));
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let (m, t, d) = (&self.model, &self.training, &self.data);
        let checks = [
            (
                m.latent == 0 && !is_positive(m.compression_ratio),
                "model.compression_ratio must be positive when model.latent is 0",
            ),
            (m.latent_bits == 0 || m.latent_bits > 64, "model.latent_bits must be between 1 and 64"),
            (!(0.0..1.0).contains(&m.dropout), "model.dropout must be in [0, 1)"),
            (m.hidden_widths().contains(&0), "model.hidden widths must be positive"),
            (
                m.kind != ModelKind::Dense && m.conv_channels().is_empty(),
                "model.channels needs at least one convolution",
            ),
            (m.kernel == 0 || m.stride == 0, "model.kernel and model.stride must be positive"),
            (!is_positive(t.learning_rate), "training.learning_rate must be positive"),
            (!(0.0..1.0).contains(&d.validation_fraction), "data.validation_fraction must be in [0, 1)"),
            (!(t.lr_factor > 0.0 && t.lr_factor <= 1.0), "training.lr_factor must be in (0, 1]"),
            (t.l1_sparsity < 0.0, "training.l1_sparsity must not be negative"),
            (t.outlier_components == 0, "training.outlier_components must be at least 1"),
            (
                !(t.outlier_fence >= 0.0 && t.outlier_fence.is_finite()),
                "training.outlier_fence must be a finite number >= 0",
            ),
        ];
        match checks.iter().find(|(failed, _)| *failed) {
            Some((_, message)) => Err(message.to_string()),
            None => Ok(()),
        }
    }

    /// The documented default file that `balerc new` writes.
    pub fn template() -> &'static str {
        include_str!("config_template.toml")
    }
}

/// False for zero, negatives and NaN.
fn is_positive(x: f64) -> bool {
    x > 0.0
}

/// The keys of `model.KEY=value` overrides that a preset also sets.
fn model_keys_overridden(overrides: &[String]) -> Vec<&str> {
    let keys = overrides.iter().filter_map(|o| o.split_once('=')?.0.trim().strip_prefix("model."));
    keys.filter(|key| PRESET_KEYS.contains(key)).collect()
}

/// `training.epochs=5` sets one key; the value is read as TOML, or taken as a string.
fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let error = |message: &str| ConfigError::Override(assignment.to_string(), message.to_string());
    let (key, raw) = assignment.split_once('=').ok_or_else(|| error("expected section.key=value"))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    let (last, sections) = path.split_last().expect("split yields at least one part");
    let value = parse_value(raw.trim());
    let mut current = table;
    for section in sections {
        current = current
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .ok_or_else(|| error(&format!("'{section}' is not a section")))?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::parse(text, Path::new("balerc.toml"), &overrides)
    }

    #[test]
    fn template_parses_to_the_defaults() {
        assert_eq!(parse(Config::template(), &[]).unwrap(), Config::default());
    }

    #[test]
    fn overrides_reach_every_section() {
        let c = parse("", &["training.epochs=7", "model.hidden=[20, 10]", "data.normalization=standard"]).unwrap();
        assert_eq!(c.training.epochs, 7);
        assert_eq!(c.model.hidden_widths(), vec![20, 10]);
        assert_eq!(c.data.normalization, NormalizationKind::Standard);
        let c = parse("", &["data.input=jets.npz"]);
        assert!(c.is_err(), "input is a list");
        let c = parse("", &["data.input=['jets.npz']"]).unwrap();
        assert_eq!(c.data.input, vec![PathBuf::from("jets.npz")]);
    }

    #[test]
    fn presets_size_the_model_by_kind_and_the_command_line_wins() {
        let fast = parse(Config::template(), &["model.preset=fast"]).unwrap().model;
        assert_eq!((fast.hidden_widths(), fast.latent), (vec![32, 16], 8));
        let conv = parse(Config::template(), &["model.kind=conv2d", "model.preset=fast"]).unwrap().model;
        assert_eq!((conv.conv_channels(), conv.stride, conv.latent), (vec![8, 8], 3, 6));
        let best = parse(Config::template(), &["model.preset=best", "model.latent=12"]).unwrap().model;
        assert_eq!((best.hidden_widths(), best.latent), (vec![200, 100, 50], 12));
        let err = parse("", &["model.preset=fastest"]).unwrap_err().to_string();
        assert!(err.contains("fastest"), "{err}");
    }

    #[test]
    fn mistakes_are_named() {
        let err = parse("[training]\nepoch = 3\n", &[]).unwrap_err().to_string();
        assert!(err.contains("epoch") && err.contains("balerc.toml"), "{err}");
        let err = parse("", &["training.learning_rate=0"]).unwrap_err().to_string();
        assert!(err.contains("learning_rate"), "{err}");
        let err = parse("", &["epochs"]).unwrap_err().to_string();
        assert!(err.contains("section.key=value"), "{err}");
        let err = parse("", &["model.kind=lstm"]).unwrap_err().to_string();
        assert!(err.contains("lstm"), "{err}");
    }
}
