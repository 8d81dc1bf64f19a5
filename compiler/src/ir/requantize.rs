//! Requantization by an arbitrary real factor, as integer-only inference engines do it: the
//! factor becomes an integer mantissa and a power-of-two shift, so that hardware multiplies by
//! an integer and rounds at a fixed bit position.

/// Significant bits of the largest mantissa: 31, as gemmlowp and TFLite use, so that the
/// mantissa is a non-negative int32.
pub const MANTISSA_BITS: u32 = 31;

/// `y = x * mantissa[c] * 2^-shift` per channel (channel = first per-sample axis), then
/// rounded and saturated by the node's declared result type. One shift serves every channel,
/// because the hardware holds all multipliers in one fixed-point type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requantize {
    pub mantissas: Vec<i64>,
    pub shift: i32,
}

impl Requantize {
    /// The fixed-point multipliers nearest (ties to even) to the positive real `factors`, the
    /// largest with [`MANTISSA_BITS`] significant bits.
    pub fn approximating(factors: &[f64]) -> Result<Self, String> {
        if let Some(bad) = factors.iter().find(|f| !(f.is_finite() && **f > 0.0)) {
            return Err(format!("the requantization factor {bad} is not a positive finite number"));
        }
        let largest = factors.iter().copied().fold(0.0f64, f64::max);
        let shift = MANTISSA_BITS as i32 - 1 - largest.log2().floor() as i32;
        let mantissas = factors.iter().map(|f| (f * 2f64.powi(shift)).round_ties_even() as i64).collect();
        Ok(Requantize { mantissas, shift })
    }

    /// The multiplier of each channel as a real number (exact: an integer times 2^-shift).
    pub fn multipliers(&self) -> Vec<f64> {
        self.mantissas.iter().map(|&m| m as f64 * 2f64.powi(-self.shift)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_mantissa_has_31_bits_and_every_multiplier_is_nearest() {
        let factors = [0.000_123_4, 0.5, 3.75e-4];
        let r = Requantize::approximating(&factors).unwrap();
        let top = *r.mantissas.iter().max().unwrap();
        assert!((1 << 30..1 << 31).contains(&top), "{top}");
        for (m, f) in r.mantissas.iter().zip(factors) {
            let exact = f * 2f64.powi(r.shift);
            assert!((*m as f64 - exact).abs() <= 0.5, "{m} for {exact}");
        }
        // A power of two is represented exactly.
        assert_eq!(Requantize::approximating(&[0.25]).unwrap().multipliers(), vec![0.25]);
        assert!(Requantize::approximating(&[0.0]).is_err());
    }
}
