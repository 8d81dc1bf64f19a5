//! Conversions between codes and `f64`, the only place floats appear.

use super::{FixedType, FixedTypeError};

impl FixedType {
    /// The code `ap_fixed<...> v = x;` gives for a `double`: the double's exact binary value is
    /// quantized and overflowed like any [`FixedType::cast`]. NaN and infinities are errors.
    pub fn from_f64(&self, x: f64) -> Result<i64, FixedTypeError> {
        if !x.is_finite() {
            return Err(FixedTypeError::NotFinite { value: x });
        }
        let bits = x.to_bits();
        if bits << 1 == 0 {
            return Ok(0);
        }
        // Like the header, set the implicit leading one even on subnormals, reading them as
        // (2^52 + m) * 2^-1075 instead of m * 2^-1074: either is far below any LSB allowed here.
        let mantissa = i128::from(bits & ((1 << 52) - 1) | 1 << 52);
        let exponent = ((bits >> 52) & 0x7ff) as i32;
        let raw = if x < 0.0 { -mantissa } else { mantissa };
        Ok(self.cast(raw, 1075 - exponent))
    }

    /// The value of `code`, rounded to the nearest `f64` (ties to even, as the header's `to_double()`).
    pub fn to_f64(&self, code: i64) -> f64 {
        // The power of two is exact for |frac_bits| <= MAX_FRAC_BITS; only `code as f64` rounds.
        code as f64 * f64::from_bits(((1023 - self.frac_bits()) as u64) << 52)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_f64_by_hand() {
        let t: FixedType = "ap_fixed<8,4,AP_RND_CONV,AP_SAT>".parse().unwrap();
        assert_eq!(t.from_f64(1.03125), Ok(16)); // 16.5 / 16: tie to even
        assert_eq!(t.from_f64(-1.09375), Ok(-18)); // -17.5 / 16
        assert_eq!(t.from_f64(1e300), Ok(127));
        assert_eq!(t.from_f64(-1e300), Ok(-128));
        assert_eq!(t.from_f64(-0.0), Ok(0));
        assert_eq!(t.from_f64(-5e-324), Ok(0));
        let trn: FixedType = "ap_fixed<8,4>".parse().unwrap();
        assert_eq!(trn.from_f64(-5e-324), Ok(-1));
        assert_eq!(trn.from_f64(-0.0), Ok(0));
        assert_eq!(trn.from_f64(8.0), Ok(-128)); // wraps
    }

    #[test]
    fn from_f64_matches_header_runs() {
        // Printed by the ap_fixed headers for `ap_fixed<...> v = x;`.
        let code = |s: &str, x: f64| s.parse::<FixedType>().unwrap().from_f64(x).unwrap();
        assert_eq!(code("ap_fixed<8,-2>", 0.01), 10);
        assert_eq!(code("ap_fixed<8,12>", 100.0), 6);
        assert_eq!(code("ap_fixed<8,-100>", 1e-32), 3);
        assert_eq!(code("ap_fixed<1,1>", -1.0), -1);
        assert_eq!(code("ap_fixed<1,1,AP_RND,AP_SAT>", 0.7), 0);
        assert_eq!(code("ap_ufixed<8,4,AP_TRN,AP_WRAP,2>", -3.0), 208);
        assert_eq!(code("ap_ufixed<8,4,AP_TRN,AP_WRAP,2>", 17.0), 208);
    }

    #[test]
    fn non_finite_is_an_error_naming_the_value() {
        let t = FixedType::new(8, 4, true).unwrap();
        let err = t.from_f64(f64::NAN).unwrap_err();
        assert!(err.to_string().starts_with("NaN has no fixed-point value"), "{err}");
        assert!(t.from_f64(f64::NEG_INFINITY).unwrap_err().to_string().contains("-inf"));
    }

    #[test]
    fn to_f64_scales_and_rounds() {
        let t = FixedType::new(64, 130, true).unwrap();
        assert_eq!(t.to_f64(-3), -3.0 * 2f64.powi(66));
        let t = FixedType::new(64, 0, true).unwrap();
        assert_eq!(t.to_f64(i64::MAX), 0.5);
        assert_eq!(t.to_f64(-1), -(2f64.powi(-64)));
    }
}
