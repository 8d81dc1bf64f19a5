//! What turns stored latents back into modelled values: the decoder in f64, the reference that
//! error bounds are checked against, or its quantized twin, which shows what a decoder lowered
//! to an FPGA would reconstruct.

use super::network_error::NetworkError;
use balerc_compiler::quant::QuantizedModel;
use balerc_compiler::sim::{FloatProgram, Simulator};

pub enum Decoder {
    Float(FloatProgram),
    Quantized(Box<QuantizedModel>),
}

impl Decoder {
    /// The f64 program, when the decoder runs in floating point.
    pub fn float_program(&self) -> Option<&FloatProgram> {
        match self {
            Decoder::Float(program) => Some(program),
            Decoder::Quantized(_) => None,
        }
    }

    /// Normalized values for latents given one sample after another.
    pub fn run(&self, latent: &[f64]) -> Result<Vec<f64>, NetworkError> {
        match self {
            Decoder::Float(program) => Ok(program.run(latent)),
            Decoder::Quantized(model) => {
                let simulator = Simulator::new(model);
                let codes = simulator.run(&simulator.quantize_input(latent).map_err(NetworkError::Simulate)?);
                let ty = model.output().ty;
                Ok(codes.into_iter().map(|c| ty.to_f64(c)).collect())
            }
        }
    }
}
