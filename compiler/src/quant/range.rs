//! Exact interval arithmetic on integer codes, for accumulators that provably never
//! overflow.

use crate::fixed::FixedType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub lo: i128,
    pub hi: i128,
}

impl Interval {
    pub fn point(v: i64) -> Self {
        Interval { lo: v as i128, hi: v as i128 }
    }

    /// Every code a type can hold.
    pub fn of_type(ty: FixedType) -> Self {
        Interval { lo: ty.min_code() as i128, hi: ty.max_code() as i128 }
    }

    /// The interval times an integer.
    pub fn scale(self, w: i64) -> Self {
        let (a, b) = (self.lo * w as i128, self.hi * w as i128);
        Interval { lo: a.min(b), hi: a.max(b) }
    }

    pub fn plus(self, other: Self) -> Self {
        Interval { lo: self.lo + other.lo, hi: self.hi + other.hi }
    }

    pub fn minus(self, other: Self) -> Self {
        Interval { lo: self.lo - other.hi, hi: self.hi - other.lo }
    }

    /// The interval times 2^shift.
    pub fn shifted(self, shift: u32) -> Self {
        Interval { lo: self.lo << shift, hi: self.hi << shift }
    }

    pub fn hull(self, other: Self) -> Self {
        Interval { lo: self.lo.min(other.lo), hi: self.hi.max(other.hi) }
    }

    /// Re-expresses codes with `from` fractional bits as codes with `to >= from` bits.
    pub fn shift_frac(self, from: i32, to: i32) -> Self {
        let up = (to - from) as u32;
        Interval { lo: self.lo << up, hi: self.hi << up }
    }

    /// The width of the narrowest two's-complement integer holding the interval.
    pub fn signed_bits(self) -> u32 {
        let bits = |v: i128| if v < 0 { 129 - (!v).leading_zeros() } else { 129 - v.leading_zeros() };
        bits(self.lo).max(bits(self.hi)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bits_are_tight() {
        let bits = |lo, hi| Interval { lo, hi }.signed_bits();
        assert_eq!(bits(0, 0), 1);
        assert_eq!(bits(-1, 0), 1);
        assert_eq!(bits(-128, 127), 8);
        assert_eq!(bits(-129, 127), 9);
        assert_eq!(bits(0, 128), 9);
    }

    #[test]
    fn a_weighted_sum_of_a_type_range() {
        let x = Interval::of_type("ap_fixed<4,4>".parse().unwrap());
        let sum = x.scale(3).plus(x.scale(-2));
        assert_eq!(sum, Interval { lo: -8 * 3 - 7 * 2, hi: 7 * 3 + 8 * 2 });
    }
}
