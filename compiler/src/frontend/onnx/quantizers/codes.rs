//! Tensors that travel as integer codes: where a quantizer on a run-time tensor has a scale
//! that is no power of two (QDQ as onnxruntime's `quantize_static` writes it), its values
//! `(q - z) * s` lie on no `ap_fixed` grid. The tensor is then kept as its codes `q - z`, and
//! every tensor computed from it is tracked with the real value of one unit:
//!
//! - the model input quantized by scale `s` becomes codes of unit `s` (the input port takes
//!   `x / s`, rounded and saturated by the quantizer's type);
//! - a Gemm, MatMul or Conv on codes of unit `s_x`, with integer weights of scale `s_w[c]`
//!   and integer biases of scale `s_x * s_w[c]`, computes on the codes: its exact sum has
//!   unit `s_x * s_w[c]` per output channel;
//! - Relu, LeakyRelu and reshapes keep the units (they commute with a positive factor);
//! - a quantizer of scale `s_y` on a sum of unit `u[c]` becomes a requantization: multiply
//!   by the fixed-point approximation of `u[c] / s_y`, round as the quantizer does and
//!   saturate to its range;
//! - the model output of unit `s` is `code * s`, outside the hardware.

use super::integer::{IntQuantizer, NotACast, Param};
use super::{Named, Rewriter, Rewritten};
use crate::ir::Requantize;
use crate::Result;

/// How far (relative) a bias scale may lie from input scale times weight scale: the two
/// float32 scales multiplied in float32, as quantizers compute it, are within 2^-24.
const BIAS_SCALE_TOLERANCE: f64 = 1.0 / (1u64 << 20) as f64;

/// An integer constant that a DequantizeLinear (or a QONNX Quant) turned into values.
#[derive(Debug, Clone)]
pub struct IntegerConstant {
    pub shape: Vec<usize>,
    /// `q - zero_point` per element.
    pub codes: Vec<f64>,
    /// The scale, shaped to broadcast against `shape`.
    pub scale: Param,
}

impl IntegerConstant {
    /// The scale of each index along `axis`, or one scale for the whole tensor. None where
    /// the scale varies along another axis.
    fn scales_along(&self, axis: usize) -> Option<Vec<f64>> {
        if self.scale.is_per_tensor() {
            return Some(vec![self.scale.values[0]]);
        }
        let offset = self.shape.len().checked_sub(self.scale.shape.len())?;
        let varying: Vec<usize> =
            (0..self.scale.shape.len()).filter(|&a| self.scale.shape[a] > 1).map(|a| a + offset).collect();
        (varying == [axis]).then(|| self.scale.values.clone())
    }
}

/// The axis of a linear node's weight that runs along its output channels.
fn output_axis(named: &Named) -> usize {
    let node = named.node;
    match node.op_type.as_str() {
        "Gemm" => Rewriter::int_attribute(node, "transB", 0) as usize ^ 1,
        "MatMul" | "ConvTranspose" => 1,
        _ => 0,
    }
}

impl Rewriter {
    /// A node reading a tensor of codes: rewritten for codes where it computes on them, an
    /// error naming it where it does not. None where no input is codes.
    pub(super) fn on_codes(&mut self, named: &Named) -> Result<Option<Rewritten>> {
        let node = named.node;
        let Some((input, units)) = node.input.iter().find_map(|i| self.units.get(i).map(|u| (i.clone(), u.clone())))
        else {
            return Ok(None);
        };
        let reads_data = node.input.first() == Some(&input);
        let keeps_units = |op: &str| match op {
            "Relu" | "LeakyRelu" | "PRelu" | "Identity" | "Dropout" => true,
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => units.len() == 1,
            _ => false,
        };
        match node.op_type.as_str() {
            "QuantizeLinear" | "Quant" if reads_data => Ok(None),
            op if reads_data && keeps_units(op) => {
                self.units.insert(node.output[0].clone(), units);
                Ok(Some(Rewritten::Kept))
            }
            "Gemm" | "MatMul" | "Conv" | "ConvTranspose" if reads_data => self.linear_on_codes(named, &units).map(Some),
            _ => Err(named.error(format!(
                "it reads '{input}', integer codes of a quantizer whose scale is no power of two (unit {}); \
                 only Gemm, MatMul, Conv, ConvTranspose, Relu, LeakyRelu, reshapes and quantizers may read such a tensor",
                show_units(&units)
            ))),
        }
    }

    /// A linear layer on codes: its weights and biases become their integer codes.
    fn linear_on_codes(&mut self, named: &Named, units: &[f64]) -> Result<Rewritten> {
        let node = named.node;
        let [input_scale] = units[..] else {
            return Err(named.error(format!(
                "its input is a sum whose unit differs per channel ({}); quantize it before another layer",
                show_units(units)
            )));
        };
        for (attribute, expected) in [("transA", 0.0), ("alpha", 1.0), ("beta", 1.0)] {
            let value = node.attribute.iter().find(|a| a.name == attribute).map(|a| {
                if a.f != 0.0 {
                    a.f as f64
                } else {
                    a.i as f64
                }
            });
            if value.is_some_and(|v| v != expected) {
                return Err(named.error(format!("its {attribute} is not {expected}; on integer codes it must be")));
            }
        }
        let weight_name = node.input.get(1).cloned().unwrap_or_default();
        let weight = self.integer_constants.get(&weight_name).cloned().ok_or_else(|| {
            named.error(format!(
                "its weight '{weight_name}' is not a dequantized integer constant; a layer on integer codes needs integer weights"
            ))
        })?;
        let axis = output_axis(named);
        let weight_scales = weight.scales_along(axis).ok_or_else(|| {
            named.error(format!("the scales of its weight '{weight_name}' vary along another axis than the output channels (axis {axis})"))
        })?;
        let sum_units: Vec<f64> = weight_scales.iter().map(|s| input_scale * s).collect();
        if let Some(bias_name) = node.input.get(2).filter(|n| !n.is_empty()).cloned() {
            let bias = self.integer_constants.get(&bias_name).cloned().ok_or_else(|| {
                named.error(format!(
                    "its bias '{bias_name}' is not a dequantized integer constant; on integer codes the bias must be integers at input scale x weight scale"
                ))
            })?;
            for (c, _) in bias.codes.iter().enumerate() {
                let expected = sum_units[c.min(sum_units.len() - 1)];
                let scale = bias.scale.at(&bias.shape, c);
                if ((scale - expected) / expected).abs() > BIAS_SCALE_TOLERANCE {
                    return Err(named.error(format!(
                        "its bias '{bias_name}' has scale {scale} at channel {c}, not input scale x weight scale = {expected}"
                    )));
                }
            }
            self.replace_by_codes(&bias_name, &bias);
        }
        self.replace_by_codes(&weight_name, &weight);
        self.units.insert(node.output[0].clone(), sum_units);
        Ok(Rewritten::Kept)
    }

    /// A constant's values replaced by its integer codes (exact in a narrow integer type).
    fn replace_by_codes(&mut self, name: &str, constant: &IntegerConstant) {
        let ty = super::integer::exact_type(&constant.codes).expect("integer codes have a small exact type");
        self.found.constants.insert(name.to_string(), ty);
        let tensor = self.values.get_mut(name).expect("a dequantized constant is a value");
        tensor.values.clone_from(&constant.codes);
    }

    /// A quantizer on a tensor of codes or on the model input whose scale is no power of two:
    /// a requantization, or the input port's own type. None where neither applies.
    pub(super) fn quantize_codes(
        &mut self,
        named: &Named,
        source: &str,
        output: String,
        quantizer: &IntQuantizer,
    ) -> Result<Option<Rewritten>> {
        let units = self.units.get(source).cloned();
        let on_input = self.graph_inputs.contains(source);
        let not_power_of_two = matches!(quantizer.cast_type(), Err(NotACast::ScaleNotPowerOfTwo { .. }));
        if units.is_none() && !(on_input && not_power_of_two) {
            return Ok(None);
        }
        if !quantizer.scale.is_per_tensor() {
            return Err(named.error(format!(
                "its scale differs per channel ({:?}); an activation needs one scale",
                quantizer.scale.values
            )));
        }
        let scale = quantizer.scale.values[0];
        // The codes q - z, typed by the quantizer's range and rounding at unit scale.
        let code_type = IntQuantizer { scale: Param::scalar(1.0), ..quantizer.clone() }
            .cast_type()
            .map_err(|why| named.error(why.to_string()))?;
        self.units.insert(output.clone(), vec![scale]);
        let cast = self.cast(named, source, output, code_type);
        match units {
            None => self.found.scales.input = Some(scale),
            Some(units) => {
                let factors: Vec<f64> = units.iter().map(|u| u / scale).collect();
                let requantize = Requantize::approximating(&factors).map_err(|why| named.error(why))?;
                self.found.activations.remove(&named.name);
                self.found.requantizers.insert(named.name.clone(), (requantize, code_type));
            }
        }
        Ok(Some(cast))
    }

    /// The unit of a graph output that is codes: its code scale, or an error for a sum whose
    /// unit differs per channel.
    pub(super) fn output_scale(&self, output: &str) -> Result<Option<f64>> {
        match self.units.get(output).map(|u| &u[..]) {
            None => Ok(None),
            Some(&[scale]) => Ok(Some(scale)),
            Some(units) => Err(crate::Error::unsupported(
                "graph output",
                output,
                format!("it is a sum whose unit differs per channel ({}); quantize it", show_units(units)),
            )),
        }
    }
}

fn show_units(units: &[f64]) -> String {
    match units {
        [one] => format!("{one}"),
        [first, .., last] => format!("{first} .. {last} over {} channels", units.len()),
        [] => "none".into(),
    }
}
