//! What can go wrong with the networks themselves: compiling an ONNX export, simulating the
//! quantized encoder or decoder, or finding the hardware encoder a build directory holds.

use balerc_compiler::fixed::FixedType;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The compiler could not load, optimize or lower the model (its message names the file).
    #[error("{source}")]
    Compile { onnx: PathBuf, source: balerc_compiler::Error },
    /// The bit-exact simulator refused its input.
    #[error(transparent)]
    Simulate(balerc_compiler::Error),
    #[error("cannot read {path} ({error}); is {build} a build directory of balerc lower?")]
    ReadBuild { path: PathBuf, build: PathBuf, error: std::io::Error },
    #[error("{path}: not a quantized model ({error})")]
    NotQuantizedModel { path: PathBuf, error: serde_json::Error },
    #[error(
        "{build} does not record which model it was lowered from; lower it again with balerc lower {model_dir} \
         --part encoder"
    )]
    UnknownSource { build: PathBuf, model_dir: PathBuf },
    #[error("{build} implements {file} (part {part}), not the encoder of the model in {model_dir}")]
    OtherModel { build: PathBuf, file: String, part: String, model_dir: PathBuf },
    #[error(
        "the hardware encoder ({origin}) maps {inputs} values to {outputs}, but the model's encoder maps \
         {modelled} to {latent}"
    )]
    EncoderShape { origin: String, inputs: usize, outputs: usize, modelled: usize, latent: usize },
    #[error("the hardware encoder's latent type {0} is wider than 32 bits")]
    LatentTypeTooWide(FixedType),
}
