//! The latency `report.json` states before synthesis: an estimate from the structure the
//! kernels give HLS. Vivado HLS schedules the design itself, so its csynth report is the
//! authoritative latency; this number is for comparing designs and sizing FIFOs up front.
//!
//! Per layer, in clock cycles:
//! - dense / conv: the product stages, then the adder tree of the widest dot product
//!   (its products and the bias), `ceil(log2(terms))` adder levels, of which as many
//!   share a clock as fit its period; a fused leaky ReLU adds one stage for its product.
//!   The product stages are 1 when fully parallel; with a reuse factor the layer's
//!   products queue on the shared multipliers, `ceil(products / multipliers)` stages.
//! - affine: one product stage and one adder stage.
//! - leaky ReLU: one product stage and one select stage; ReLU, tables: one stage.
//! - reshape: none (the same registers).

use crate::{Error, Options};
use balerc_compiler::quant::model::{FusedActivation, Layer, LayerOp};
use balerc_compiler::quant::QuantizedModel;

/// Adder levels that fit one clock period. The Verilog backend's UltraScale+ delay model:
/// about 0.6 ns per carry-chain adder level, 1.5 ns for the rounding, the register and routing.
pub fn adder_levels_per_clock(clock_ns: f64) -> u32 {
    (((clock_ns - 1.5) / 0.6).floor() as i64).max(1) as u32
}

/// Adder levels of a balanced tree over `terms` terms.
fn tree_depth(terms: usize) -> u32 {
    terms.max(1).next_power_of_two().trailing_zeros()
}

/// How the estimate sees the hardware: adder levels per clock, and the multipliers all
/// linear layers share (None: every product has its own).
struct Schedule {
    levels_per_clock: u32,
    shared_multipliers: Option<usize>,
}

impl Schedule {
    fn linear(&self, products: usize, widest: usize, activation: &FusedActivation) -> usize {
        let product_stages = match self.shared_multipliers {
            Some(multipliers) => products.div_ceil(multipliers.max(1)).max(1),
            None => 1,
        };
        let adder_stages = tree_depth(widest + 1).div_ceil(self.levels_per_clock) as usize;
        let activation_stages = usize::from(matches!(activation, FusedActivation::LeakyRelu { .. }));
        product_stages + adder_stages.max(1) + activation_stages
    }

    fn layer(&self, model: &QuantizedModel, layer: &Layer) -> usize {
        match &layer.op {
            LayerOp::Dense { linear, inputs } => self.linear(linear.weight.codes.len(), *inputs, &linear.activation),
            LayerOp::Conv { linear, taps, .. } => {
                let outputs = model.values[layer.output].len();
                let widest = (0..outputs).map(|o| taps.of(o).len()).max().unwrap_or(0);
                self.linear(taps.entries.len(), widest, &linear.activation)
            }
            LayerOp::Affine { .. } | LayerOp::LeakyRelu { .. } | LayerOp::PRelu { .. } => 2,
            LayerOp::Relu | LayerOp::Clip { .. } | LayerOp::MaxPool { .. } | LayerOp::Table { .. } => 1,
            LayerOp::Reshape | LayerOp::Concat => 0,
            LayerOp::Add { .. } => 1,
        }
    }
}

/// The estimated cycles of each layer, in the model's order.
pub fn layer_cycles(model: &QuantizedModel, options: &Options) -> Result<Vec<usize>, Error> {
    let shared_multipliers =
        if options.reuse_factor > 1 { Some(crate::reuse::multipliers_for(model, options.reuse_factor)?) } else { None };
    let schedule = Schedule { levels_per_clock: adder_levels_per_clock(options.clock_ns), shared_multipliers };
    Ok(model.layers.iter().map(|layer| schedule.layer(model, layer)).collect())
}

/// The estimated latency of the top function: from reading `x` to writing `y`, along the
/// longest path where branches run side by side.
pub fn latency_cycles(model: &QuantizedModel, options: &Options) -> Result<usize, Error> {
    let mut ready = vec![0; model.values.len()];
    for (layer, cycles) in model.layers.iter().zip(layer_cycles(model, options)?) {
        let start = layer.inputs.iter().map(|&v| ready[v]).max().unwrap_or(0);
        ready[layer.output] = start + cycles;
    }
    Ok(ready[model.output])
}
