//! The whole lowering flow: load, run the passes, choose precisions, quantize.

use crate::frontend;
use crate::ir::Graph;
use crate::passes::{run_pipeline, standard_pipeline, Part};
use crate::quant::model::Source;
use crate::quant::{auto, quantize, PrecisionConfig, QuantizedModel};
use crate::{Error, Result};
use std::path::Path;

pub struct LowerOptions {
    pub part: Part,
    pub precision: PrecisionConfig,
    /// Samples (one after another) to derive integer bits from.
    pub calibration: Option<Vec<f64>>,
}

pub struct Lowered {
    /// The graph after all passes, in floating point.
    pub graph: Graph,
    /// The precision actually used (with calibrated choices filled in).
    pub precision: PrecisionConfig,
    pub model: QuantizedModel,
}

/// Loads and optimizes a model without quantizing it.
pub fn load_and_optimize(path: &Path, part: Part) -> Result<Graph> {
    let mut graph = frontend::load(path)?;
    run_pipeline(&mut graph, &standard_pipeline(part))?;
    Ok(graph)
}

pub fn lower(path: &Path, options: &LowerOptions) -> Result<Lowered> {
    let graph = load_and_optimize(path, options.part)?;
    let precision = match &options.calibration {
        Some(samples) => {
            let per_sample: usize = graph.node(graph.inputs()[0]).shape.iter().product();
            if samples.is_empty() || samples.len() % per_sample != 0 {
                return Err(Error::Data(format!(
                    "calibration data holds {} values, not a whole number of samples of {per_sample}",
                    samples.len()
                )));
            }
            auto::calibrate(&graph, &options.precision, samples)?
        }
        None => options.precision.clone(),
    };
    let mut model = quantize(&graph, &precision)?;
    model.source = Some(source_of(path, options.part)?);
    Ok(Lowered { graph, precision, model })
}

/// The model's provenance: a build directory can then be matched to the model it implements.
fn source_of(path: &Path, part: Part) -> Result<Source> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(Source { file: path.display().to_string(), sha256: sha256_hex(&bytes), part: part.as_str().into() })
}

/// SHA-256 in lowercase hex, the spelling model hashes use everywhere in balerc.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
