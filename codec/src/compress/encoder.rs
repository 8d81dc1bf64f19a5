//! Where the latent values of a `.baler` file come from: the trained encoder in floating
//! point, or the quantized encoder executed by the compiler's bit-exact simulator, which
//! yields the very codes an FPGA running the generated design would emit.

use super::chunk_error::ChunkError;
use super::header::{HardwareEncoding, Header};
use super::latent::{self, QuantizedLatent};
use super::network_error::NetworkError;
use crate::model_files::{ENCODER_ONNX, FULL_ONNX};
use balerc_compiler::fixed::FixedType;
use balerc_compiler::lower::sha256_hex;
use balerc_compiler::passes::Part;
use balerc_compiler::quant::{PrecisionConfig, QuantizedModel};
use balerc_compiler::sim::{FloatProgram, Simulator};
use balerc_compiler::{lower, LowerOptions};
use std::path::{Path, PathBuf};

/// The user's choice of encoder.
#[derive(Debug, Clone, Default)]
pub enum EncoderChoice {
    #[default]
    Float,
    /// A build directory written by `balerc lower` from the model's encoder.
    HardwareBuild(PathBuf),
    /// The model's encoder lowered here at this precision.
    Precision(PrecisionConfig),
}

/// The latent rows of some samples as an encoder emits them.
pub enum RawLatent {
    Float(Vec<f64>),
    /// The hardware encoder's raw output codes, of its latent type.
    Hardware {
        codes: Vec<i64>,
        ty: FixedType,
    },
}

impl RawLatent {
    /// The latent values: the float encoder's, or those the hardware codes stand for.
    pub fn values(&self) -> Vec<f64> {
        match self {
            RawLatent::Float(values) => values.clone(),
            RawLatent::Hardware { codes, ty } => codes.iter().map(|&c| ty.to_f64(c)).collect(),
        }
    }

    /// Only the given rows of `width` values, in their order.
    pub fn rows(&self, width: usize, rows: &[usize]) -> RawLatent {
        match self {
            RawLatent::Float(values) => RawLatent::Float(super::flagged::rows(values, width, rows)),
            RawLatent::Hardware { codes, ty } => {
                RawLatent::Hardware { codes: super::flagged::rows(codes, width, rows), ty: *ty }
            }
        }
    }
}

pub enum LatentEncoder {
    Float(FloatProgram),
    Hardware { model: Box<QuantizedModel>, encoding: HardwareEncoding },
}

impl LatentEncoder {
    /// The f64 program, when the encoder runs in floating point.
    pub fn float_program(&self) -> Option<&FloatProgram> {
        match self {
            LatentEncoder::Float(program) => Some(program),
            LatentEncoder::Hardware { .. } => None,
        }
    }

    pub fn open(choice: &EncoderChoice, model_dir: &Path) -> Result<LatentEncoder, NetworkError> {
        match choice {
            EncoderChoice::Float => super::program(&model_dir.join(ENCODER_ONNX)).map(LatentEncoder::Float),
            EncoderChoice::HardwareBuild(build) => {
                let model = read_build(build)?;
                check_lowered_from(&model, build, model_dir)?;
                Ok(hardware(model, format!("build directory {}", build.display())))
            }
            EncoderChoice::Precision(precision) => {
                let options = LowerOptions { part: Part::Full, precision: precision.clone(), calibration: None };
                let onnx = model_dir.join(ENCODER_ONNX);
                let lowered = lower(&onnx, &options).map_err(|source| NetworkError::Compile { onnx, source })?;
                Ok(hardware(lowered.model, format!("precision default {}", precision.default)))
            }
        }
    }

    /// What the file should record about a hardware encoder.
    pub fn hardware(&self) -> Option<&HardwareEncoding> {
        match self {
            LatentEncoder::Float(_) => None,
            LatentEncoder::Hardware { encoding, .. } => Some(encoding),
        }
    }

    /// The encoder's output for normalized samples, before it is stored.
    pub fn run(&self, normalized: &[f64]) -> Result<RawLatent, NetworkError> {
        Ok(match self {
            LatentEncoder::Float(program) => RawLatent::Float(program.run(normalized)),
            LatentEncoder::Hardware { model, .. } => {
                let simulator = Simulator::new(model);
                let inputs = simulator.quantize_input(normalized).map_err(NetworkError::Simulate)?;
                RawLatent::Hardware { codes: simulator.run(&inputs), ty: model.output().ty }
            }
        })
    }

    /// The stored latent of an output, and the values the decoder will see.
    pub fn store(&self, header: &Header, raw: &RawLatent) -> Result<(QuantizedLatent, Vec<f64>), ChunkError> {
        let width = header.latent_width;
        let quantized = match raw {
            RawLatent::Float(values) => latent::quantize(values, width, header.latent_bits),
            RawLatent::Hardware { codes, .. } => latent::from_hardware_codes(codes, width),
        };
        let values = header.latent_values(&quantized).ok_or(ChunkError::LatentOutOfRange)?;
        Ok((quantized, values))
    }

    /// The encoder must take a sample of the model and produce its latent.
    pub fn check_fits(&self, modelled_per_sample: usize, latent_width: usize) -> Result<(), NetworkError> {
        let LatentEncoder::Hardware { model, encoding } = self else { return Ok(()) };
        let (inputs, outputs) = (model.input().len(), model.output().len());
        if inputs != modelled_per_sample || outputs != latent_width {
            return Err(NetworkError::EncoderShape {
                origin: encoding.origin.clone(),
                inputs,
                outputs,
                modelled: modelled_per_sample,
                latent: latent_width,
            });
        }
        if model.output().ty.width > 32 {
            return Err(NetworkError::LatentTypeTooWide(model.output().ty));
        }
        Ok(())
    }
}

fn hardware(model: QuantizedModel, origin: String) -> LatentEncoder {
    let encoding = HardwareEncoding {
        input_type: model.input().ty.to_string(),
        latent_type: model.output().ty.to_string(),
        encoder_hash: sha256_hex(serde_json::to_string(&model).expect("a model serializes").as_bytes()),
        origin,
    };
    LatentEncoder::Hardware { model: Box::new(model), encoding }
}

/// Every build directory `balerc lower` writes holds the quantized model it implements.
fn read_build(build: &Path) -> Result<QuantizedModel, NetworkError> {
    let path = build.join("quantized.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => return Err(NetworkError::ReadBuild { path, build: build.to_path_buf(), error }),
    };
    serde_json::from_str(&text).map_err(|error| NetworkError::NotQuantizedModel { path, error })
}

/// A build lowered from another model would silently produce a meaningless latent.
fn check_lowered_from(model: &QuantizedModel, build: &Path, model_dir: &Path) -> Result<(), NetworkError> {
    let Some(source) = &model.source else {
        return Err(NetworkError::UnknownSource { build: build.to_path_buf(), model_dir: model_dir.to_path_buf() });
    };
    let hash_of = |file: &str| std::fs::read(model_dir.join(file)).map(|b| sha256_hex(&b)).unwrap_or_default();
    let matches = (source.part == Part::Full.as_str() && source.sha256 == hash_of(ENCODER_ONNX))
        || (source.part == Part::Encoder.as_str() && source.sha256 == hash_of(FULL_ONNX));
    if matches {
        Ok(())
    } else {
        Err(NetworkError::OtherModel {
            build: build.to_path_buf(),
            file: source.file.clone(),
            part: source.part.clone(),
            model_dir: model_dir.to_path_buf(),
        })
    }
}
