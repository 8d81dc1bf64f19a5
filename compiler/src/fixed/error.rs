use thiserror::Error;

/// Why a fixed-point type or value was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FixedTypeError {
    /// Width outside 1..=64 (1..=63 for unsigned types, whose codes must fit a non-negative i64).
    #[error("width {width} is out of range: ap_fixed widths are 1 to 64, ap_ufixed widths 1 to 63")]
    Width { width: u32, signed: bool },
    /// `width - int_bits` beyond the supported fractional-bit range.
    #[error(
        "{width} bits with {int_bits} integer bits leave {} fractional bits; \
         at most {max} (or down to -{max}) are supported",
        i64::from(*width) - i64::from(*int_bits),
        max = super::MAX_FRAC_BITS
    )]
    FracBits { width: u32, int_bits: i32 },
    /// More saturation bits `N` than the type has.
    #[error("{n} saturation bits exceed the width {width}: N must be 0 to {width}")]
    SaturationBits { n: u32, width: u32 },
    /// `ap_ufixed` with `AP_WRAP_SM`, which the headers refuse at run time.
    #[error("AP_WRAP_SM needs a signed type: the ap_types headers abort on ap_ufixed with AP_WRAP_SM")]
    UnsignedWrapSm,
    /// A spelling that does not parse or names an invalid type.
    #[error("invalid fixed-point type `{text}`: {reason}")]
    Parse { text: String, reason: String },
    /// NaN or an infinity given where a finite number is needed.
    #[error("{value} has no fixed-point value: only finite numbers can be converted")]
    NotFinite { value: f64 },
}
