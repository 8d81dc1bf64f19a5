//! What to lower, given an ONNX file or a model directory: which ONNX file, which precision
//! (a precision file, one type, the precision the model was trained for, or the default), and
//! which part of the autoencoder to cut. `balerc lower`, `simulate` and `report` and the Python
//! package all choose the same way.

use crate::model_dir;
use balerc_compiler::fixed::FixedType;
use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::{lower, LowerOptions, Lowered};
use std::path::{Path, PathBuf};

/// The default type of every tensor when nothing else chooses one.
pub const DEFAULT_PRECISION: &str = "ap_fixed<16,6>";

/// A model to lower and the precision asked for it.
#[derive(Debug, Clone)]
pub struct LowerRequest {
    /// An ONNX file, or a model directory written by training.
    pub model: PathBuf,
    /// Which part of an autoencoder to take.
    pub part: Part,
    /// The default type of every tensor the model leaves float.
    pub precision: Option<FixedType>,
    /// A precision TOML file; overrides `precision`.
    pub config: Option<PathBuf>,
}

/// Where the precision of a lowering comes from, in order of preference.
#[derive(Debug, Clone, PartialEq)]
pub enum PrecisionChoice {
    /// A precision file the user named.
    File(PathBuf),
    /// One type the user named.
    Uniform(FixedType),
    /// The precision.toml that quantization-aware training left in the model directory.
    Trained(PathBuf),
    /// Nothing given: a quantized model's own types, the default for what it leaves float.
    BuiltIn,
}

impl PrecisionChoice {
    pub fn load(&self) -> balerc_compiler::Result<PrecisionConfig> {
        Ok(match self {
            PrecisionChoice::File(path) | PrecisionChoice::Trained(path) => PrecisionConfig::from_toml(path)?,
            PrecisionChoice::Uniform(ty) => PrecisionConfig::uniform(*ty),
            PrecisionChoice::BuiltIn => PrecisionConfig::built_in(DEFAULT_PRECISION.parse().expect("a valid type")),
        })
    }
}

impl LowerRequest {
    /// A whole model with the default precision choice.
    pub fn new(model: impl Into<PathBuf>) -> LowerRequest {
        LowerRequest { model: model.into(), part: Part::Full, precision: None, config: None }
    }

    /// The precision file, the type, the trained precision or the default.
    pub fn precision_choice(&self) -> PrecisionChoice {
        match (&self.config, self.precision, trained_precision(&self.model)) {
            (Some(path), _, _) => PrecisionChoice::File(path.clone()),
            (None, Some(ty), _) => PrecisionChoice::Uniform(ty),
            (None, None, Some(path)) => PrecisionChoice::Trained(path),
            (None, None, None) => PrecisionChoice::BuiltIn,
        }
    }

    /// The ONNX file to read and the part to cut from it under `precision`.
    ///
    /// A model directory holds each part as its own ONNX file, but precision.toml names layers
    /// as autoencoder.onnx does (the decoder's count on after the encoder's), so with the
    /// trained precision the part is cut from that file.
    pub fn onnx_file(&self, precision: &PrecisionChoice) -> (PathBuf, Part) {
        if !model_dir::is_model_dir(&self.model) {
            return (self.model.clone(), self.part);
        }
        if let PrecisionChoice::Trained(_) = precision {
            return (self.model.join(model_dir::FULL_ONNX), self.part);
        }
        let file = match self.part {
            Part::Full => model_dir::FULL_ONNX,
            Part::Encoder => model_dir::ENCODER_ONNX,
            Part::Decoder => model_dir::DECODER_ONNX,
        };
        (self.model.join(file), Part::Full)
    }

    /// Lowers the file chosen under `precision` with its loaded `config`, calibrated on
    /// `calibration` (samples one after another) where given.
    pub fn lower_with(
        &self,
        precision: &PrecisionChoice,
        config: PrecisionConfig,
        calibration: Option<Vec<f64>>,
    ) -> balerc_compiler::Result<Lowered> {
        let (file, part) = self.onnx_file(precision);
        lower(&file, &LowerOptions { part, precision: config, calibration })
    }

    /// Chooses the precision and the file, and lowers.
    pub fn lower(&self, calibration: Option<Vec<f64>>) -> balerc_compiler::Result<Lowered> {
        let precision = self.precision_choice();
        let config = precision.load()?;
        self.lower_with(&precision, config, calibration)
    }
}

/// A model directory's precision.toml, written when it was trained with quantization.
pub fn trained_precision(model: &Path) -> Option<PathBuf> {
    let path = model.join(model_dir::PRECISION_FILE);
    (model_dir::is_model_dir(model) && path.is_file()).then_some(path)
}

/// A precision spelled as a type or as the path of a precision TOML file that does not make one.
#[derive(Debug, thiserror::Error)]
pub enum PrecisionTextError {
    #[error("'{text}' is neither a fixed-point type ({reason}) nor a precision TOML file")]
    Neither { text: String, reason: String },
    #[error(transparent)]
    File(#[from] balerc_compiler::Error),
}

/// A type spelled as HLS spells it, or the path of a precision TOML file.
pub fn parse_precision(text: &str) -> Result<PrecisionConfig, PrecisionTextError> {
    if Path::new(text).is_file() {
        return Ok(PrecisionConfig::from_toml(Path::new(text))?);
    }
    match text.parse::<FixedType>() {
        Ok(ty) => Ok(PrecisionConfig::uniform(ty)),
        Err(e) => Err(PrecisionTextError::Neither { text: text.to_string(), reason: e.to_string() }),
    }
}

/// An array's samples do not fit the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    #[error("is a scalar; expected samples of {per_sample} values")]
    Scalar { per_sample: usize },
    #[error("has shape {shape:?}, but the model takes samples of {per_sample} values")]
    Shape { shape: Vec<usize>, per_sample: usize },
}

/// The number of samples in an array of `shape` whose trailing dimensions hold one sample
/// each, or which is a single sample.
pub fn batch_size(shape: &[usize], per_sample: usize) -> Result<usize, BatchError> {
    let trailing: usize = shape.iter().skip(1).product();
    match shape.len() {
        0 => Err(BatchError::Scalar { per_sample }),
        1 if shape[0] == per_sample => Ok(1),
        _ if trailing == per_sample => Ok(shape[0]),
        _ => Err(BatchError::Shape { shape: shape.to_vec(), per_sample }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory that reads as a model directory, with or without a trained precision.
    fn model_dir_with(precision: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(model_dir::INFO_FILE), "{}").unwrap();
        if precision {
            std::fs::write(dir.path().join(model_dir::PRECISION_FILE), "default = \"ap_fixed<12,4>\"\n").unwrap();
        }
        dir
    }

    #[test]
    fn a_model_directory_gives_each_part_its_own_file() {
        let dir = model_dir_with(false);
        let mut request = LowerRequest::new(dir.path());
        request.part = Part::Encoder;
        let choice = request.precision_choice();
        assert_eq!(choice, PrecisionChoice::BuiltIn);
        assert_eq!(request.onnx_file(&choice), (dir.path().join(model_dir::ENCODER_ONNX), Part::Full));
        request.part = Part::Decoder;
        assert_eq!(request.onnx_file(&choice), (dir.path().join(model_dir::DECODER_ONNX), Part::Full));
    }

    #[test]
    fn the_trained_precision_cuts_the_part_from_the_whole_model() {
        let dir = model_dir_with(true);
        let mut request = LowerRequest::new(dir.path());
        request.part = Part::Encoder;
        let choice = request.precision_choice();
        assert_eq!(choice, PrecisionChoice::Trained(dir.path().join(model_dir::PRECISION_FILE)));
        assert_eq!(request.onnx_file(&choice), (dir.path().join(model_dir::FULL_ONNX), Part::Encoder));
        assert_eq!(choice.load().unwrap().default, "ap_fixed<12,4>".parse().unwrap());
    }

    #[test]
    fn a_named_precision_wins_over_the_trained_one() {
        let dir = model_dir_with(true);
        let mut request = LowerRequest::new(dir.path());
        request.precision = Some("ap_fixed<8,3>".parse().unwrap());
        assert_eq!(request.precision_choice(), PrecisionChoice::Uniform("ap_fixed<8,3>".parse().unwrap()));
        request.config = Some(PathBuf::from("mine.toml"));
        assert_eq!(request.precision_choice(), PrecisionChoice::File(PathBuf::from("mine.toml")));
    }

    #[test]
    fn an_onnx_file_is_read_as_it_is_with_the_part_cut_from_it() {
        let mut request = LowerRequest::new("model.onnx");
        request.part = Part::Decoder;
        let choice = request.precision_choice();
        assert_eq!(request.onnx_file(&choice), (PathBuf::from("model.onnx"), Part::Decoder));
    }

    #[test]
    fn a_precision_is_a_type_or_a_file() {
        assert_eq!(parse_precision("ap_fixed<8,3>").unwrap().default, "ap_fixed<8,3>".parse().unwrap());
        let err = parse_precision("ap_fixed<8").unwrap_err().to_string();
        assert!(
            err.starts_with("'ap_fixed<8' is neither a fixed-point type (")
                && err.ends_with("nor a precision TOML file"),
            "{err}"
        );
    }

    #[test]
    fn batches_are_counted_or_refused_with_the_shape() {
        assert_eq!(batch_size(&[16], 16), Ok(1));
        assert_eq!(batch_size(&[5, 16], 16), Ok(5));
        assert_eq!(batch_size(&[5, 4, 4], 16), Ok(5));
        assert_eq!(batch_size(&[], 16).unwrap_err().to_string(), "is a scalar; expected samples of 16 values");
        assert_eq!(
            batch_size(&[5, 15], 16).unwrap_err().to_string(),
            "has shape [5, 15], but the model takes samples of 16 values"
        );
    }
}
