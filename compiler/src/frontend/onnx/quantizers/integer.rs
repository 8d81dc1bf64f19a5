//! The arithmetic of an integer quantizer, as QONNX `Quant`, a QuantizeLinear/DequantizeLinear
//! pair and Brevitas' QCDQ `Clip` all define it:
//! `y = (clip(round(x / scale + zero_point), lo, hi) - zero_point) * scale`,
//! and the `ap_fixed` type that computes the same thing in one cast, where there is one.

use crate::fixed::{FixedType, Overflow, Quantization};

/// How `x / scale` is taken to an integer (QONNX's `rounding_mode`; QDQ rounds half to even).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// `ROUND` / `HALF_EVEN`: numpy's and ONNX's round, ties to even.
    HalfEven,
    Floor,
    Ceil,
    /// `DOWN`: toward zero.
    TowardZero,
    /// `UP`: away from zero.
    AwayFromZero,
    /// `HALF_UP`: ties away from zero.
    HalfAwayFromZero,
    /// `HALF_DOWN`: ties toward zero.
    HalfTowardZero,
}

impl Rounding {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "ROUND" | "HALF_EVEN" => Rounding::HalfEven,
            "FLOOR" => Rounding::Floor,
            "CEIL" => Rounding::Ceil,
            "DOWN" => Rounding::TowardZero,
            "UP" => Rounding::AwayFromZero,
            "HALF_UP" => Rounding::HalfAwayFromZero,
            "HALF_DOWN" => Rounding::HalfTowardZero,
            _ => return None,
        })
    }

    pub fn apply(self, v: f64) -> f64 {
        match self {
            Rounding::HalfEven => v.round_ties_even(),
            Rounding::Floor => v.floor(),
            Rounding::Ceil => v.ceil(),
            Rounding::TowardZero => v.trunc(),
            Rounding::AwayFromZero => v.signum() * v.abs().ceil(),
            Rounding::HalfAwayFromZero => v.round(),
            Rounding::HalfTowardZero => v.signum() * (v.abs() - 0.5).ceil(),
        }
    }

    /// The `ap_q_mode` that rounds the same way; ceiling and away-from-zero have none.
    pub fn ap_mode(self) -> Option<Quantization> {
        match self {
            Rounding::HalfEven => Some(Quantization::RndConv),
            Rounding::Floor => Some(Quantization::Trn),
            Rounding::TowardZero => Some(Quantization::TrnZero),
            Rounding::HalfAwayFromZero => Some(Quantization::RndInf),
            Rounding::HalfTowardZero => Some(Quantization::RndZero),
            Rounding::Ceil | Rounding::AwayFromZero => None,
        }
    }
}

impl std::fmt::Display for Rounding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Rounding::HalfEven => "ROUND",
            Rounding::Floor => "FLOOR",
            Rounding::Ceil => "CEIL",
            Rounding::TowardZero => "DOWN",
            Rounding::AwayFromZero => "UP",
            Rounding::HalfAwayFromZero => "HALF_UP",
            Rounding::HalfTowardZero => "HALF_DOWN",
        };
        f.write_str(name)
    }
}

/// A parameter tensor (scale or zero point) broadcast against the data, numpy style.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

impl Param {
    pub fn scalar(v: f64) -> Self {
        Param { shape: vec![], values: vec![v] }
    }

    pub fn is_per_tensor(&self) -> bool {
        self.values.iter().all(|&v| v == self.values[0])
    }

    /// The value that applies to element `flat` of a tensor of `shape`.
    pub fn at(&self, shape: &[usize], flat: usize) -> f64 {
        if self.values.len() == 1 {
            return self.values[0];
        }
        let mut index = 0;
        let mut stride = 1;
        let mut rest = flat;
        let offset = shape.len() - self.shape.len();
        let mut coordinates = vec![0; shape.len()];
        for axis in (0..shape.len()).rev() {
            coordinates[axis] = rest % shape[axis];
            rest /= shape[axis];
        }
        for axis in (0..self.shape.len()).rev() {
            let extent = self.shape[axis];
            let c = if extent == 1 { 0 } else { coordinates[axis + offset] };
            index += c * stride;
            stride *= extent;
        }
        self.values[index]
    }
}

/// The integer range a quantizer clips to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    pub lo: i64,
    pub hi: i64,
}

impl IntRange {
    /// QONNX's `min_int`/`max_int`.
    pub fn of(bits: u32, signed: bool, narrow: bool) -> Self {
        let bits = bits.min(63);
        match (signed, narrow) {
            (true, false) => IntRange { lo: -(1 << (bits - 1)), hi: (1 << (bits - 1)) - 1 },
            (true, true) => IntRange { lo: -(1 << (bits - 1)) + 1, hi: (1 << (bits - 1)) - 1 },
            (false, false) => IntRange { lo: 0, hi: (1 << bits) - 1 },
            (false, true) => IntRange { lo: 0, hi: (1 << bits) - 2 },
        }
    }

    pub fn intersect(self, other: IntRange) -> IntRange {
        IntRange { lo: self.lo.max(other.lo), hi: self.hi.min(other.hi) }
    }

    pub fn shifted(self, by: i64) -> IntRange {
        IntRange { lo: self.lo - by, hi: self.hi - by }
    }

    /// The (bits, signed, narrow) whose range this is, if any.
    fn as_standard(self) -> Option<(u32, bool, bool)> {
        (1..=63)
            .flat_map(|bits| [(bits, true, false), (bits, true, true), (bits, false, false)])
            .find(|&(bits, signed, narrow)| (!narrow || bits >= 2) && IntRange::of(bits, signed, narrow) == self)
    }
}

impl std::fmt::Display for IntRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}]", self.lo, self.hi)
    }
}

/// `y = (clip(round(x / scale + zero_point), range) - zero_point) * scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntQuantizer {
    pub scale: Param,
    pub zero_point: Param,
    pub range: IntRange,
    pub rounding: Rounding,
}

/// Why a quantizer is not one `ap_fixed` cast.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotACast {
    #[error("its scale differs per channel ({first} and {other}); an activation needs one scale")]
    PerChannelScale { first: f64, other: f64 },
    #[error("its zero point differs per channel; an activation needs one zero point")]
    PerChannelZeroPoint,
    #[error(
        "its scale {scale} is not a power of two, and the tensor it quantizes is no integer codes: a scale \
         that is no power of two is taken on the model input and on layers computing on integer codes, \
         not on values of a power-of-two grid"
    )]
    ScaleNotPowerOfTwo { scale: f64 },
    #[error("its zero point {zero_point} shifts the range {range} to one no ap_fixed type has")]
    ZeroPoint { zero_point: f64, range: IntRange },
    #[error("rounding mode {0} has no ap_fixed quantization mode")]
    Rounding(Rounding),
    #[error("the integer range {0} is no ap_fixed/ap_ufixed range (narrow unsigned ranges have none)")]
    Range(IntRange),
    #[error("the type it needs is out of range: {0}")]
    Type(String),
}

impl IntQuantizer {
    /// Quantizes constant data of `shape` the way the reference does: `x / scale` and the final
    /// product in float32, as onnxruntime and QONNX's execution compute them.
    #[cfg(test)]
    pub fn evaluate(&self, shape: &[usize], data: &[f64]) -> Vec<f64> {
        self.dequantize(shape, &self.codes(shape, data))
    }

    /// The integers `clip(round(x / scale + zero_point))`.
    pub fn codes(&self, shape: &[usize], data: &[f64]) -> Vec<f64> {
        data.iter()
            .enumerate()
            .map(|(k, &x)| {
                let scale = self.scale.at(shape, k) as f32;
                let zero_point = self.zero_point.at(shape, k) as f32;
                let scaled = f64::from(x as f32 / scale + zero_point);
                self.rounding.apply(scaled).clamp(self.range.lo as f64, self.range.hi as f64)
            })
            .collect()
    }

    /// `(q - zero_point) * scale`, in float32.
    pub fn dequantize(&self, shape: &[usize], codes: &[f64]) -> Vec<f64> {
        codes
            .iter()
            .enumerate()
            .map(|(k, &q)| {
                let scale = self.scale.at(shape, k) as f32;
                let zero_point = self.zero_point.at(shape, k) as f32;
                f64::from((q as f32 - zero_point) * scale)
            })
            .collect()
    }

    /// The one `ap_fixed` cast that computes this quantizer on any fixed-point input: a
    /// per-tensor power-of-two scale, a zero point that only moves the range onto a standard
    /// one, and a rounding mode `ap_fixed` has.
    pub fn cast_type(&self) -> Result<FixedType, NotACast> {
        let scale = self.scale.values[0];
        if let Some(&other) = self.scale.values.iter().find(|&&s| s != scale) {
            return Err(NotACast::PerChannelScale { first: scale, other });
        }
        if !self.zero_point.is_per_tensor() {
            return Err(NotACast::PerChannelZeroPoint);
        }
        let frac = power_of_two_exponent(scale).ok_or(NotACast::ScaleNotPowerOfTwo { scale })?;
        let zero_point = self.zero_point.values[0];
        let range = self.value_range(zero_point)?;
        let (bits, signed, narrow) = range.as_standard().ok_or(NotACast::Range(range))?;
        let quantization = self.rounding.ap_mode().ok_or(NotACast::Rounding(self.rounding))?;
        let overflow = if narrow { Overflow::SatSym } else { Overflow::Sat };
        FixedType::new(bits, bits as i32 + frac, signed)
            .and_then(|t| t.with_modes(quantization, overflow, 0))
            .map_err(|e| NotACast::Type(e.to_string()))
    }

    /// The range of `q - zero_point`. Rounding commutes with adding an integer zero point,
    /// except half-to-even with an odd one.
    fn value_range(&self, zero_point: f64) -> Result<IntRange, NotACast> {
        let integral = zero_point.fract() == 0.0 && zero_point.abs() < (1u64 << 62) as f64;
        let odd = integral && (zero_point as i64) % 2 != 0;
        if !integral || (odd && self.rounding == Rounding::HalfEven) {
            return Err(NotACast::ZeroPoint { zero_point, range: self.range });
        }
        let range = self.range.shifted(zero_point as i64);
        if range.as_standard().is_none() {
            return Err(if zero_point == 0.0 {
                NotACast::Range(range)
            } else {
                NotACast::ZeroPoint { zero_point, range: self.range }
            });
        }
        Ok(range)
    }
}

/// `e` such that `value == 2^e`, if there is one.
pub fn power_of_two_exponent(value: f64) -> Option<i32> {
    if !(value.is_finite() && value > 0.0) {
        return None;
    }
    let exponent = value.log2().round() as i32;
    (2f64.powi(exponent) == value).then_some(exponent)
}

/// The narrowest `ap_fixed`/`ap_ufixed` holding every value exactly (weights of any float
/// scale: each is an integer times a power of two).
pub fn exact_type(values: &[f64]) -> Result<FixedType, String> {
    let frac = values.iter().filter(|v| **v != 0.0).map(|&v| fractional_bits(v)).max().unwrap_or(0);
    let signed = values.iter().any(|&v| v < 0.0);
    let scale = 2f64.powi(frac);
    let (lo, hi) = values.iter().fold((0f64, 0f64), |(lo, hi), &v| (lo.min(v * scale), hi.max(v * scale)));
    let magnitude_bits = |v: f64| if v <= 0.0 { 0 } else { (v.log2().floor() as i32) + 1 };
    let width = if signed { 1 + magnitude_bits(hi).max(magnitude_bits(-lo - 1.0)) } else { magnitude_bits(hi).max(1) };
    FixedType::new(width as u32, width - frac, signed).map_err(|e| e.to_string())
}

/// The fractional bits a finite float needs: its last set mantissa bit's position below 1.
fn fractional_bits(v: f64) -> i32 {
    let bits = v.abs().to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1) | if exponent == 0 { 0 } else { 1 << 52 };
    let lowest = mantissa.trailing_zeros() as i32;
    1075 - exponent.max(1) - lowest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantizer(
        scale: f64,
        zero_point: f64,
        bits: u32,
        signed: bool,
        narrow: bool,
        rounding: Rounding,
    ) -> IntQuantizer {
        IntQuantizer {
            scale: Param::scalar(scale),
            zero_point: Param::scalar(zero_point),
            range: IntRange::of(bits, signed, narrow),
            rounding,
        }
    }

    #[test]
    fn power_of_two_scales_are_ap_fixed_casts() {
        let q = quantizer(0.125, 0.0, 8, true, false, Rounding::HalfEven);
        assert_eq!(q.cast_type().unwrap().to_string(), "ap_fixed<8,5,AP_RND_CONV,AP_SAT>");
        let q = quantizer(1.0 / 256.0, 0.0, 8, false, false, Rounding::Floor);
        assert_eq!(q.cast_type().unwrap().to_string(), "ap_ufixed<8,0,AP_TRN,AP_SAT>");
        let q = quantizer(0.5, 0.0, 4, true, true, Rounding::HalfAwayFromZero);
        assert_eq!(q.cast_type().unwrap().to_string(), "ap_fixed<4,3,AP_RND_INF,AP_SAT_SYM>");
        // uint8 centred on 128 is int8.
        let q = quantizer(0.25, 128.0, 8, false, false, Rounding::HalfEven);
        assert_eq!(q.cast_type().unwrap().to_string(), "ap_fixed<8,6,AP_RND_CONV,AP_SAT>");
    }

    #[test]
    fn what_is_not_one_cast_says_why() {
        let q = quantizer(0.1, 0.0, 8, true, false, Rounding::HalfEven);
        assert_eq!(q.cast_type(), Err(NotACast::ScaleNotPowerOfTwo { scale: 0.1 }));
        let q = quantizer(0.5, 3.0, 8, false, false, Rounding::HalfEven);
        assert!(matches!(q.cast_type(), Err(NotACast::ZeroPoint { .. })));
        let q = quantizer(0.5, 0.0, 8, true, false, Rounding::Ceil);
        assert_eq!(q.cast_type(), Err(NotACast::Rounding(Rounding::Ceil)));
        let q = quantizer(0.5, 0.0, 8, false, true, Rounding::HalfEven);
        assert!(matches!(q.cast_type(), Err(NotACast::Range(_))));
    }

    /// The cast gives the code of exactly what the quantizer's formula gives, for every mode
    /// with an ap_fixed equivalent, on values around every tie.
    #[test]
    fn the_cast_computes_the_formula() {
        for rounding in [
            Rounding::HalfEven,
            Rounding::Floor,
            Rounding::TowardZero,
            Rounding::HalfAwayFromZero,
            Rounding::HalfTowardZero,
        ] {
            for (signed, narrow) in [(true, false), (true, true), (false, false)] {
                let q = quantizer(0.25, 0.0, 5, signed, narrow, rounding);
                let ty = q.cast_type().unwrap();
                let xs: Vec<f64> = (-300..=300).map(|k| k as f64 / 64.0).collect();
                let expected = q.evaluate(&[xs.len()], &xs);
                for (x, e) in xs.iter().zip(expected) {
                    assert_eq!(ty.to_f64(ty.from_f64(*x).unwrap()), e, "{rounding} {ty} at {x}");
                }
            }
        }
    }

    #[test]
    fn per_channel_parameters_broadcast() {
        let q = IntQuantizer {
            scale: Param { shape: vec![2, 1], values: vec![0.5, 0.25] },
            zero_point: Param::scalar(0.0),
            range: IntRange::of(8, true, false),
            rounding: Rounding::HalfEven,
        };
        assert_eq!(q.evaluate(&[2, 2], &[0.3, 0.8, 0.3, 0.8]), vec![0.5, 1.0, 0.25, 0.75]);
        assert!(matches!(q.cast_type(), Err(NotACast::PerChannelScale { .. })));
    }

    #[test]
    fn exact_types_hold_every_value() {
        assert_eq!(exact_type(&[0.5, -0.75, 3.0]).unwrap().to_string(), "ap_fixed<5,3>");
        assert_eq!(exact_type(&[0.5, 0.75, 3.0]).unwrap().to_string(), "ap_ufixed<4,2>");
        assert_eq!(exact_type(&[-4.0, 3.0]).unwrap().to_string(), "ap_fixed<3,3>");
        let third = (1.0f32 / 3.0) as f64;
        let ty = exact_type(&[third, -third * 5.0]).unwrap();
        for v in [third, -third * 5.0] {
            assert_eq!(ty.to_f64(ty.from_f64(v).unwrap()), v, "{ty}");
        }
    }
}
