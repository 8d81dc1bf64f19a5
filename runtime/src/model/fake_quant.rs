//! Fake quantization for quantization-aware training: the forward pass rounds and saturates
//! values to the fixed-point types the compiled hardware uses, the backward pass lets gradients
//! through unchanged (the straight-through estimator).

use super::Activation;
use balerc_compiler::fixed::{FixedType, Overflow, Quantization};
use balerc_compiler::quant::{alpha_type, SIGMOID_RANGE_LOG2, TANH_RANGE_LOG2};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Rounds values onto the grid of one fixed-point type.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeQuant {
    ty: FixedType,
}

impl FakeQuant {
    pub fn new(ty: FixedType) -> FakeQuant {
        FakeQuant { ty }
    }

    /// `q(x)` going forward, the identity going backward.
    pub fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let quantized = self.round(x.clone().detach());
        straight_through(quantized, x)
    }

    /// `clamp(round(x * 2^f), min, max) * 2^-f`, rounding as the type's quantization mode does.
    /// Scaling by a power of two is exact in f32, so the values are exactly the type's.
    /// Training always saturates, even for AP_WRAP types: a wrapped value has no useful gradient.
    pub fn round<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let scale = f64::from(self.ty.frac_bits()).exp2();
        let v = x.mul_scalar(scale);
        let rounded = match self.ty.quantization {
            Quantization::Trn => v.floor(),
            Quantization::TrnZero => v.trunc(),
            Quantization::Rnd => v.add_scalar(0.5).floor(),
            Quantization::RndMinInf => v.sub_scalar(0.5).ceil(),
            Quantization::RndConv => v.round(),
            // Ties toward zero / away from zero: round the magnitude, then restore the sign.
            Quantization::RndZero => v.clone().sign() * v.abs().sub_scalar(0.5).ceil(),
            Quantization::RndInf => v.clone().sign() * v.abs().add_scalar(0.5).floor(),
        };
        let symmetric = self.ty.overflow == Overflow::SatSym && self.ty.signed && self.ty.width > 1;
        let min = self.ty.min_code() + i64::from(symmetric);
        rounded.clamp(min as f64, self.ty.max_code() as f64).div_scalar(scale)
    }
}

/// The value of `forward` with the gradient of `through`. Written as `forward + (x - x)` rather
/// than `x + (q - x)` so that the value is exactly `forward`: `q - x` would round in f32.
fn straight_through<const D: usize>(forward: Tensor<D>, through: Tensor<D>) -> Tensor<D> {
    forward + (through.clone() - through.detach())
}

/// A Sigmoid or Tanh as the compiler builds it: a table of `size` entries over `[-R, R)`,
/// indexed by the input rounded down to the table's step, each entry cast to the result type.
#[derive(Debug, Clone, PartialEq)]
pub struct TableQuant {
    pub size: usize,
    pub result: FakeQuant,
}

impl TableQuant {
    fn apply<const D: usize>(&self, x: Tensor<D>, activation: Activation) -> Tensor<D> {
        let range_log2 = match activation {
            Activation::Sigmoid => SIGMOID_RANGE_LOG2,
            _ => TANH_RANGE_LOG2,
        };
        let step = f64::from(range_log2 + 1).exp2() / self.size as f64;
        let half = (self.size / 2) as f64;
        let index = x.clone().detach().div_scalar(step).floor().clamp(-half, half - 1.0);
        let entry = self.result.round(activation.forward(index.mul_scalar(step)));
        straight_through(entry, activation.forward(x))
    }
}

/// The types of one linear (dense or convolution) layer, and of the table after it if any.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerQuant {
    pub weight: FakeQuant,
    pub bias: FakeQuant,
    pub result: FakeQuant,
    pub table: Option<TableQuant>,
}

impl LayerQuant {
    /// The layer's output from its exact sum: ReLU and LeakyReLU act on the sum before the one
    /// cast to the result type (the compiler fuses them); Sigmoid and Tanh are tables on the
    /// result.
    pub fn output<const D: usize>(&self, sum: Tensor<D>, activation: Option<Activation>) -> Tensor<D> {
        match activation {
            None => self.result.apply(sum),
            Some(Activation::Relu) => self.result.apply(relu(sum)),
            Some(Activation::LeakyRelu { negative_slope }) => {
                self.result.apply(hardware_leaky_relu(sum, negative_slope))
            }
            Some(table @ (Activation::Sigmoid | Activation::Tanh)) => {
                let rounded = self.result.apply(sum);
                match &self.table {
                    Some(t) => t.apply(rounded, table),
                    None => table.forward(rounded),
                }
            }
        }
    }
}

/// LeakyReLU with the slope the hardware holds (17 fractional bits), rounding once: positive
/// values pass exactly, negative ones are one f32 product.
fn hardware_leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    let ty = alpha_type(slope);
    let slope = ty.to_f64(ty.from_f64(slope).expect("a finite slope"));
    let positive = relu(x.clone());
    let negative = x - positive.clone();
    positive + negative.mul_scalar(slope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn quantize(ty: &str, values: &[f32]) -> Vec<f32> {
        let device = Device::flex();
        let x = Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), &device);
        let q = FakeQuant::new(ty.parse().unwrap()).round(x);
        q.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    /// Every mode agrees with the compiler's own cast (saturating types, so no wrap).
    #[test]
    fn rounding_matches_the_compiler_for_every_mode() {
        let values: Vec<f32> =
            [-2.3, -1.25, -1.0625, -0.5, -0.03125, 0.0, 0.03125, 0.09375, 1.0625, 1.75, 3.99, 9.0, -9.0]
                .iter()
                .map(|&v| v as f32)
                .collect();
        for mode in Quantization::ALL {
            for overflow in ["AP_SAT", "AP_SAT_SYM"] {
                let spelled = format!("ap_fixed<6,3,{},{overflow}>", mode.hls_name());
                let ty: FixedType = spelled.parse().unwrap();
                let want: Vec<f32> =
                    values.iter().map(|&v| ty.to_f64(ty.from_f64(f64::from(v)).unwrap()) as f32).collect();
                assert_eq!(quantize(&spelled, &values), want, "{spelled}");
            }
        }
    }

    #[test]
    fn wrapping_types_saturate_in_training() {
        assert_eq!(quantize("ap_fixed<6,3>", &[5.0, -5.0]), vec![3.875, -4.0]);
        assert_eq!(quantize("ap_ufixed<4,2>", &[-1.0, 0.3]), vec![0.0, 0.25]);
    }
}
