//! The real value of one code step at the model's edges, where a tensor travels as the integer
//! codes of a quantizer whose scale is no power of two (QDQ as onnxruntime's static quantizer
//! writes it). The hardware computes on the codes; only the conversions at the edges see the
//! scale, and they round as QuantizeLinear and DequantizeLinear do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeScales {
    /// The input port takes `x / input` (then the input type's rounding and saturation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    /// The output port's value times `output` is the model's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
}

impl CodeScales {
    pub fn is_empty(&self) -> bool {
        self.input.is_none() && self.output.is_none()
    }

    /// An input in the units the input port takes: `x / scale` in float32, as QuantizeLinear
    /// computes it before rounding.
    pub fn input_units(&self, x: f64) -> f64 {
        self.input.map_or(x, |s| f64::from(x as f32 / s as f32))
    }

    /// An output value in the model's units: `v * scale` in float32, as DequantizeLinear.
    pub fn output_value(&self, v: f64) -> f64 {
        self.output.map_or(v, |s| f64::from(v as f32 * s as f32))
    }
}
