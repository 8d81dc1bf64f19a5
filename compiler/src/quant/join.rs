//! The types where two branches of the graph meet: the exact type of a sum (a residual
//! connection) and the common type of concatenated parts (a U-Net skip).

use super::lower::{exact_type, precision_error};
use super::range::Interval;
use crate::fixed::FixedType;
use crate::Result;

/// The narrowest signed type holding every `a + b` exactly: both operands aligned to the
/// finer of their fractions, integer bits from the sum of their ranges.
pub fn sum_type(a: FixedType, b: FixedType, name: &str) -> Result<FixedType> {
    let frac = a.frac_bits().max(b.frac_bits());
    let range = aligned(a, frac).plus(aligned(b, frac));
    exact_type(range, frac, name)
}

/// The type every part converts to without loss: the parts' own type when they share one,
/// otherwise the narrowest signed type with the finest fraction that holds every range.
pub fn common_type(parts: &[FixedType], name: &str) -> Result<FixedType> {
    let first = parts[0];
    if parts.iter().all(|&t| t == first) {
        return Ok(first);
    }
    let frac = parts.iter().map(|t| t.frac_bits()).max().expect("two or more parts");
    let range = parts.iter().map(|&t| aligned(t, frac)).reduce(Interval::hull).expect("two or more parts");
    exact_type(range, frac, name).map_err(|_| {
        precision_error(
            name,
            "the concatenated parts need a common type wider than 64 bits; give the layer a result type",
        )
    })
}

/// Every code of `ty`, as codes with `frac >= ty.frac_bits()` fractional bits.
fn aligned(ty: FixedType, frac: i32) -> Interval {
    Interval::of_type(ty).shift_frac(ty.frac_bits(), frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> FixedType {
        s.parse().unwrap()
    }

    #[test]
    fn a_sum_is_aligned_to_the_finer_fraction_and_grows_one_bit() {
        assert_eq!(sum_type(ty("ap_fixed<16,6>"), ty("ap_fixed<16,6>"), "a").unwrap(), ty("ap_fixed<17,7>"));
        // 10 and 12 fractional bits: [-32, 32) + [-8, 8) needs 7 integer bits and 12 fractional.
        assert_eq!(sum_type(ty("ap_fixed<16,6>"), ty("ap_fixed<16,4>"), "a").unwrap(), ty("ap_fixed<19,7>"));
        // Two unsigned values in [0, 4) sum into [0, 8): a sign bit above 3 integer bits.
        assert_eq!(sum_type(ty("ap_ufixed<8,2>"), ty("ap_ufixed<8,2>"), "a").unwrap(), ty("ap_fixed<10,4>"));
    }

    #[test]
    fn parts_of_one_type_keep_it_and_others_meet_in_a_type_holding_each() {
        assert_eq!(common_type(&[ty("ap_ufixed<8,2>"), ty("ap_ufixed<8,2>")], "c").unwrap(), ty("ap_ufixed<8,2>"));
        let common = common_type(&[ty("ap_fixed<16,6>"), ty("ap_ufixed<8,2>")], "c").unwrap();
        assert_eq!(common, ty("ap_fixed<16,6>"));
        let common = common_type(&[ty("ap_fixed<8,6>"), ty("ap_fixed<8,2>")], "c").unwrap();
        assert_eq!(common, ty("ap_fixed<12,6>"));
    }
}
