use serde::{Deserialize, Serialize};

use super::{FixedTypeError, Overflow, Quantization};

/// Widest supported type; codes live in `i64`, so `ap_ufixed` stops at 63 bits.
pub const MAX_WIDTH: u32 = 64;
/// Bound on `|width - int_bits|`. The headers accept any `int_bits`; this keeps shifts sane.
pub const MAX_FRAC_BITS: i32 = 128;

/// `ap_fixed<W, I, Q, O, N>` (or `ap_ufixed` when unsigned): a `width`-bit code `c`
/// standing for `c * 2^-frac_bits()`. Serialized as its HLS spelling.
///
/// Build one with [`FixedType::new`], [`FixedType::with_modes`] or by parsing; a type
/// assembled from the public fields should be checked with [`FixedType::validate`]
/// (the other methods assume a valid type and may panic on a width of 0 or above 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct FixedType {
    /// Total bits `W`, 1 to 64 (63 for unsigned).
    pub width: u32,
    /// Integer bits `I`, sign included; may be negative or exceed `width`.
    pub int_bits: i32,
    /// `ap_fixed` (true) or `ap_ufixed` (false).
    pub signed: bool,
    /// Rounding of dropped low bits.
    pub quantization: Quantization,
    /// Handling of values outside the range.
    pub overflow: Overflow,
    /// `N`: how many top bits saturate under `AP_WRAP` / `AP_WRAP_SM`.
    pub saturation_bits: u32,
}

impl FixedType {
    /// `ap_fixed<width, int_bits>` or `ap_ufixed<...>` with the default modes (AP_TRN, AP_WRAP, 0).
    pub fn new(width: u32, int_bits: i32, signed: bool) -> Result<Self, FixedTypeError> {
        let t = FixedType {
            width,
            int_bits,
            signed,
            quantization: Quantization::Trn,
            overflow: Overflow::Wrap,
            saturation_bits: 0,
        };
        t.validate()?;
        Ok(t)
    }

    /// The same type with other modes, validated.
    pub fn with_modes(
        self,
        quantization: Quantization,
        overflow: Overflow,
        saturation_bits: u32,
    ) -> Result<Self, FixedTypeError> {
        let t = FixedType { quantization, overflow, saturation_bits, ..self };
        t.validate()?;
        Ok(t)
    }

    /// Checks the limits: width, fractional bits, `N <= width`, no unsigned `AP_WRAP_SM`.
    pub fn validate(&self) -> Result<(), FixedTypeError> {
        let max_width = if self.signed { MAX_WIDTH } else { MAX_WIDTH - 1 };
        if self.width == 0 || self.width > max_width {
            return Err(FixedTypeError::Width { width: self.width, signed: self.signed });
        }
        if (i64::from(self.width) - i64::from(self.int_bits)).abs() > i64::from(MAX_FRAC_BITS) {
            return Err(FixedTypeError::FracBits { width: self.width, int_bits: self.int_bits });
        }
        if self.saturation_bits > self.width {
            return Err(FixedTypeError::SaturationBits { n: self.saturation_bits, width: self.width });
        }
        if !self.signed && self.overflow == Overflow::WrapSm {
            return Err(FixedTypeError::UnsignedWrapSm);
        }
        Ok(())
    }

    /// Fractional bits `W - I`: the code's LSB weighs `2^-frac_bits`. May be negative or exceed `W`.
    pub fn frac_bits(&self) -> i32 {
        self.width as i32 - self.int_bits
    }

    /// Smallest code the storage holds: `-2^(W-1)`, or 0 when unsigned.
    /// (Casts under `AP_SAT_SYM` stop at `min_code() + 1` when `W > 1`.)
    pub fn min_code(&self) -> i64 {
        if self.signed {
            i64::MIN >> (64 - self.width)
        } else {
            0
        }
    }

    /// Largest code: `2^(W-1) - 1`, or `2^W - 1` when unsigned.
    pub fn max_code(&self) -> i64 {
        ((1i128 << (self.width - u32::from(self.signed))) - 1) as i64
    }

    /// True for AP_TRN, AP_WRAP and N = 0, the modes `ap_fixed<W, I>` gets when none are written.
    pub fn is_default_modes(&self) -> bool {
        self.quantization == Quantization::Trn && self.overflow == Overflow::Wrap && self.saturation_bits == 0
    }
}
