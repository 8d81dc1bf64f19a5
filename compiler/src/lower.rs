//! The whole lowering flow: load, run the passes, choose precisions, quantize.

use crate::frontend;
use crate::ir::Graph;
use crate::passes::{run_pipeline, standard_pipeline, Part};
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
    let model = quantize(&graph, &precision)?;
    Ok(Lowered { graph, precision, model })
}
