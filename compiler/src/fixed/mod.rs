//! Fixed-point types with the exact semantics of Xilinx `ap_fixed<W,I,Q,O,N>` and
//! `ap_ufixed`: a value is an integer code scaled by 2^-(W-I); conversions quantize by
//! the dropped bits, then handle overflow. Arithmetic is on i64/i128, never floats.

mod cast;
mod parse;

pub use cast::Caster;

use serde::{Deserialize, Serialize};

/// How the bits below the target's least significant bit are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Quantization {
    /// Floor (toward minus infinity), the default.
    #[default]
    Trn,
    /// Toward zero.
    TrnZero,
    /// Round half up (toward plus infinity).
    Rnd,
    /// Round half toward zero.
    RndZero,
    /// Round half toward minus infinity.
    RndMinInf,
    /// Round half away from zero.
    RndInf,
    /// Round half to even.
    RndConv,
}

/// What happens when the quantized value does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Overflow {
    /// Keep the low W bits (two's complement wrap), the default; with N > 0 the N
    /// most significant bits saturate.
    #[default]
    Wrap,
    /// Clamp to the largest or smallest value.
    Sat,
    /// Out-of-range values become zero.
    SatZero,
    /// Clamp symmetrically: the smallest signed value is -max.
    SatSym,
    /// Sign-magnitude wrap.
    WrapSm,
}

/// `ap_fixed<width, int_bits, quantization, overflow, saturation_bits>` (signed) or
/// `ap_ufixed<...>` (unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FixedType {
    pub width: u32,
    pub int_bits: i32,
    pub signed: bool,
    pub quantization: Quantization,
    pub overflow: Overflow,
    pub saturation_bits: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FixedTypeError {
    #[error("invalid fixed-point type '{text}': {reason}")]
    Parse { text: String, reason: String },
    #[error("invalid fixed-point type: {0}")]
    Invalid(String),
    #[error("cannot convert {0} to fixed point")]
    NotFinite(f64),
}

/// Widths beyond this do not fit the i64 codes the simulator computes with.
pub const MAX_WIDTH: u32 = 64;

impl FixedType {
    pub fn new(width: u32, int_bits: i32, signed: bool) -> Result<Self, FixedTypeError> {
        FixedType {
            width,
            int_bits,
            signed,
            quantization: Quantization::Trn,
            overflow: Overflow::Wrap,
            saturation_bits: 0,
        }
        .validated()
    }

    /// Checks the parameters that the ap_fixed headers would also reject.
    pub fn validated(self) -> Result<Self, FixedTypeError> {
        if self.width == 0 || self.width > MAX_WIDTH {
            return Err(FixedTypeError::Invalid(format!(
                "width {} is outside 1..={MAX_WIDTH}",
                self.width
            )));
        }
        if !self.signed && self.width == MAX_WIDTH {
            return Err(FixedTypeError::Invalid(format!(
                "unsigned width {MAX_WIDTH} does not fit signed 64-bit codes; use at most 63 bits"
            )));
        }
        if self.frac_bits().abs() > 512 {
            return Err(FixedTypeError::Invalid(format!(
                "{} integer bits for width {} puts the binary point too far away",
                self.int_bits, self.width
            )));
        }
        if self.saturation_bits > self.width {
            return Err(FixedTypeError::Invalid(format!(
                "{} saturation bits exceed the width {}",
                self.saturation_bits, self.width
            )));
        }
        Ok(self)
    }

    pub fn with_modes(self, quantization: Quantization, overflow: Overflow) -> Self {
        FixedType {
            quantization,
            overflow,
            ..self
        }
    }

    pub fn frac_bits(&self) -> i32 {
        self.width as i32 - self.int_bits
    }

    pub fn min_code(&self) -> i64 {
        if self.signed {
            i64::MIN >> (64 - self.width)
        } else {
            0
        }
    }

    pub fn max_code(&self) -> i64 {
        if self.signed {
            i64::MAX >> (64 - self.width)
        } else {
            ((1u64 << self.width) - 1) as i64
        }
    }

    pub fn is_default_modes(&self) -> bool {
        self.quantization == Quantization::Trn && self.overflow == Overflow::Wrap && self.saturation_bits == 0
    }

    /// The real value of a code.
    pub fn to_f64(&self, code: i64) -> f64 {
        code as f64 * (-self.frac_bits() as f64).exp2()
    }

    /// `ap_fixed<...> v = x;` for a double: exact, since a double is a binary fraction.
    pub fn from_f64(&self, x: f64) -> Result<i64, FixedTypeError> {
        if !x.is_finite() {
            return Err(FixedTypeError::NotFinite(x));
        }
        if x == 0.0 {
            return Ok(0);
        }
        let bits = x.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as i32;
        let fraction = (bits & ((1 << 52) - 1)) as i128;
        let (mantissa, exponent) = if exponent == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), exponent - 1075)
        };
        let raw = if x < 0.0 { -mantissa } else { mantissa };
        Ok(self.cast(raw, -exponent))
    }
}

impl From<FixedType> for String {
    fn from(t: FixedType) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for FixedType {
    type Error = FixedTypeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
