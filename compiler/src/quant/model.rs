//! The quantized model: every tensor has a fixed-point type and every constant is an
//! integer code. Backends print it; the simulator executes it. Nothing downstream
//! re-derives arithmetic.

use crate::fixed::FixedType;
use crate::ir::{CodeScales, ConvGeometry, Taps};
use serde::{Deserialize, Serialize};

/// A tensor between layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
    pub ty: FixedType,
}

impl Value {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Integer codes of one constant tensor and their type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Codes {
    pub ty: FixedType,
    pub codes: Vec<i64>,
}

/// The activation applied to a linear layer's accumulator before the final cast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FusedActivation {
    None,
    Relu,
    /// Negative accumulators are multiplied by the code `alpha` of type `ty`.
    LeakyRelu {
        alpha: i64,
        ty: FixedType,
    },
}

/// Weights and sums shared by dense, conv and transposed-conv layers:
/// `y = cast_result(act(cast_acc(b) + sum cast_acc(x * w)))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub weight: Codes,
    pub bias: Codes,
    pub accumulator: FixedType,
    /// Whether the accumulator was derived to be exact (products and bias never rounded
    /// or wrapped), which lets backends add in any order and trim widths.
    pub exact: bool,
    pub activation: FusedActivation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerOp {
    /// Weights are [out][in].
    Dense {
        linear: Linear,
        inputs: usize,
    },
    /// Conv or transposed conv, as a table of taps per output element.
    Conv {
        linear: Linear,
        taps: Taps,
        transposed: bool,
        /// Kernel, stride, padding and dilation, for designs that stream pixels; absent
        /// from models quantized before they were kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        geometry: Option<ConvGeometry>,
    },
    /// y = cast_result(x * scale[c] + shift[c]) per channel (a BatchNorm that could not
    /// be folded); `accumulator` holds the exact sum.
    Affine {
        scale: Codes,
        shift: Codes,
        accumulator: FixedType,
        per_channel: usize,
    },
    Relu,
    LeakyRelu {
        alpha: i64,
        alpha_ty: FixedType,
    },
    /// y = cast_result(x) where x >= 0, cast_result(x * alphas[c]) elsewhere (full-precision
    /// product), c = element / per_channel: a leaky ReLU with a slope per channel.
    PRelu {
        alphas: Codes,
        per_channel: usize,
    },
    /// y[o] = cast_result(max of x over the window of o), windows listing each output's inputs.
    MaxPool {
        windows: Taps,
        /// As for `Conv`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        geometry: Option<ConvGeometry>,
    },
    /// y = cast_result(min(max(x, low), high)), the bounds codes of the input's type.
    Clip {
        low: i64,
        high: i64,
    },
    /// A lookup table over the input range [-2^range_log2, 2^range_log2): entry k
    /// holds f(-R + k * 2R / N) (sigmoid, tanh) or f(-R + (k + 1/2) * 2R / N) (elu, selu,
    /// softplus, whose `linear` side takes over above); the index is the input code shifted by
    /// `index_shift` (left if positive) plus N/2, clamped to the table.
    Table {
        function: TableFunction,
        entries: Vec<i64>,
        range_log2: u32,
        index_shift: i32,
        /// Elu, Selu, Softplus: where the function leaves the table for a line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        linear: Option<LinearSide>,
    },
    /// Same codes under another shape.
    Reshape,
    /// y = cast_result(a + b) elementwise, two values of one shape (a skip connection): both
    /// operands aligned to the finer fraction, their sum exact in `sum` (integer bits from
    /// the operands' ranges), then one cast.
    Add {
        sum: FixedType,
    },
    /// The operands' codes one after another (a concatenation along the channel axis), each
    /// cast from its own type to the result's.
    Concat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableFunction {
    Sigmoid,
    Tanh,
    Elu,
    Selu,
    Softplus,
}

/// The side of a table's function that grows without bound, computed instead of looked up:
/// from the input code `from` on, y = cast_result(x * slope), the product at full precision
/// (`slope` a code of `slope_ty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearSide {
    pub from: i64,
    pub slope: i64,
    pub slope_ty: FixedType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// The original node name.
    pub name: String,
    pub op: LayerOp,
    /// Value indices read, in operand order.
    pub inputs: Vec<usize>,
    pub output: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedModel {
    pub name: String,
    pub values: Vec<Value>,
    pub layers: Vec<Layer>,
    pub input: usize,
    pub output: usize,
    /// The file the model was lowered from, so a build can be matched to its model later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The real value of one code step at the input and output, where they travel as the
    /// integer codes of a quantizer whose scale is no power of two.
    #[serde(default, skip_serializing_if = "CodeScales::is_empty")]
    pub scales: CodeScales,
}

/// Where a quantized model comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The ONNX file as given to the compiler.
    pub file: String,
    /// SHA-256 of its bytes, in hex.
    pub sha256: String,
    /// The part taken: full, encoder or decoder.
    pub part: String,
}

impl QuantizedModel {
    pub fn input(&self) -> &Value {
        &self.values[self.input]
    }

    pub fn output(&self) -> &Value {
        &self.values[self.output]
    }

    /// Output codes as the model's output values (the output type's value, times the output
    /// code scale where there is one).
    pub fn output_values(&self, codes: &[i64]) -> Vec<f64> {
        let ty = self.output().ty;
        codes.iter().map(|&c| self.scales.output_value(ty.to_f64(c))).collect()
    }
}

impl LayerOp {
    pub fn kind(&self) -> &'static str {
        match self {
            LayerOp::Dense { .. } => "dense",
            LayerOp::Conv { transposed: true, .. } => "conv_transpose",
            LayerOp::Conv { .. } => "conv",
            LayerOp::Affine { .. } => "affine",
            LayerOp::Relu => "relu",
            LayerOp::Clip { .. } => "clip",
            LayerOp::MaxPool { .. } => "max_pool",
            LayerOp::PRelu { .. } => "prelu",
            LayerOp::LeakyRelu { .. } => "leaky_relu",
            LayerOp::Table { function: TableFunction::Sigmoid, .. } => "sigmoid",
            LayerOp::Table { function: TableFunction::Tanh, .. } => "tanh",
            LayerOp::Table { function: TableFunction::Elu, .. } => "elu",
            LayerOp::Table { function: TableFunction::Selu, .. } => "selu",
            LayerOp::Table { function: TableFunction::Softplus, .. } => "softplus",
            LayerOp::Reshape => "reshape",
            LayerOp::Add { .. } => "add",
            LayerOp::Concat => "concat",
        }
    }

    pub fn linear(&self) -> Option<&Linear> {
        match self {
            LayerOp::Dense { linear, .. } | LayerOp::Conv { linear, .. } => Some(linear),
            _ => None,
        }
    }
}
