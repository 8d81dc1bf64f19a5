//! Conversion of an exact value (an integer scaled by a power of two) to a fixed-point
//! type, following `ap_fixed_base`'s converting constructor: quantize by the dropped
//! bits (`quantization_adjust`), then resolve overflow (`overflow_adjust`).

use super::{FixedType, Overflow, Quantization};

/// The value `raw * 2^-frac` aligned to the target's scale: the floor of the aligned
/// value, the first dropped bit and whether any lower dropped bit is set.
struct Aligned {
    floor: i128,
    /// The aligned value does not fit i128: certainly out of range; sign of `floor`.
    huge: bool,
    half: bool,
    sticky: bool,
}

fn align(raw: i128, shift: i64) -> Aligned {
    if shift > 0 {
        // Dropping `shift` bits: floor by arithmetic shift.
        let (floor, half, sticky) = if shift >= 128 {
            (raw >> 127, raw < 0, raw != 0)
        } else {
            let floor = raw >> shift;
            let half = (raw >> (shift - 1)) & 1 == 1;
            let sticky = shift > 1 && raw & ((1i128 << (shift - 1)) - 1) != 0;
            (floor, half, sticky)
        };
        Aligned { floor, huge: false, half, sticky }
    } else {
        let up = (-shift) as u32;
        let fits = raw == 0 || (up < 127 && (raw << up) >> up == raw);
        let floor = if up >= 128 { 0 } else { raw.wrapping_shl(up) };
        Aligned {
            floor: if fits { floor } else if raw < 0 { -1 } else { 1 },
            huge: !fits,
            half: false,
            sticky: false,
        }
    }
}

impl FixedType {
    /// Converts the exact value `raw * 2^-frac_bits` to this type and returns the code.
    pub fn cast(&self, raw: i128, frac_bits: i32) -> i64 {
        let aligned = align(raw, frac_bits as i64 - self.frac_bits() as i64);
        // Low W bits of the wrapped value, computed even when the exact value is huge.
        let low_source = if aligned.huge {
            let up = (self.frac_bits() - frac_bits) as u32;
            if up >= 128 { 0 } else { raw.wrapping_shl(up) }
        } else {
            aligned.floor
        };
        let negative = raw < 0;
        let round_up = round_up(self.quantization, aligned.half, aligned.sticky, negative, low_source & 1 == 1);
        let quantized = aligned.floor + round_up as i128;
        let low = low_source.wrapping_add(round_up as i128);
        let (min, max) = (self.min_code() as i128, self.max_code() as i128);
        let overflow = !negative && (aligned.huge || quantized > max);
        // AP_SAT_SYM never yields the asymmetric minimum of a signed type.
        let symmetric = self.overflow == Overflow::SatSym && self.signed && self.saturation_bits == 0;
        let underflow = negative && (aligned.huge || quantized < min || symmetric && quantized == min);
        let wrapped = self.wrap(low as u64);
        if !overflow && !underflow {
            return wrapped;
        }
        // The first bit above the kept ones, before rounding (`lD` in the headers).
        let first_dropped = ((low_source >> self.width.min(127)) & 1) == 1;
        self.resolve_overflow(wrapped, overflow, negative && quantized < 0 || aligned.huge && negative, first_dropped)
    }

    /// The low W bits of a pattern as a code (sign-extended when signed).
    fn wrap(&self, bits: u64) -> i64 {
        let unused = 64 - self.width;
        if self.signed {
            ((bits << unused) as i64) >> unused
        } else {
            ((bits << unused) >> unused) as i64
        }
    }

    fn resolve_overflow(&self, wrapped: i64, overflow: bool, sign: bool, first_dropped: bool) -> i64 {
        let w = self.width;
        let n = self.saturation_bits;
        let bits = wrapped as u64;
        let set_range = |bits: u64, low: u32, high: u32, ones: bool| {
            let mask = if high >= low { (u64::MAX >> (63 - (high - low))) << low } else { 0 };
            if ones { bits | mask } else { bits & !mask }
        };
        let set_bit = |bits: u64, at: u32, one: bool| set_range(bits, at, at, one);
        match self.overflow {
            Overflow::Wrap if n == 0 => wrapped,
            Overflow::Wrap if self.signed => {
                let mut bits = set_bit(bits, w - 1, sign);
                if n > 1 {
                    bits = set_range(bits, w - n, w - 2, !sign);
                }
                self.wrap(bits)
            }
            Overflow::Wrap => self.wrap(set_range(bits, w - n, w - 1, true)),
            Overflow::SatZero => 0,
            Overflow::WrapSm if self.signed => {
                let top = (bits >> (w - 1)) & 1 == 1;
                let mut bits = bits;
                if n == 0 {
                    if first_dropped != top {
                        bits = set_bit(!bits, w - 1, first_dropped);
                    }
                } else {
                    if n == 1 && sign != top {
                        bits = !bits;
                    } else if n > 1 {
                        if ((bits >> (w - n)) & 1 == 1) == sign {
                            bits = !bits;
                        }
                        bits = set_range(bits, w - n, w - 2, !sign);
                    }
                    bits = set_bit(bits, w - 1, sign);
                }
                self.wrap(bits)
            }
            Overflow::Sat | Overflow::SatSym | Overflow::WrapSm => {
                if overflow {
                    self.max_code()
                } else if self.signed && self.overflow == Overflow::SatSym {
                    -self.max_code()
                } else {
                    self.min_code()
                }
            }
        }
    }

    /// A precomputed conversion from codes with `from_frac_bits` fractional bits.
    pub fn caster(&self, from_frac_bits: i32) -> Caster {
        Caster {
            target: *self,
            from_frac_bits,
            shift: from_frac_bits - self.frac_bits(),
            simple: self.saturation_bits == 0
                && matches!(self.overflow, Overflow::Wrap | Overflow::Sat | Overflow::SatSym | Overflow::SatZero),
            min: self.min_code(),
            max: self.max_code(),
        }
    }
}

/// Whether rounding adds one to the floor (`quantization_adjust`).
fn round_up(mode: Quantization, half: bool, sticky: bool, negative: bool, odd: bool) -> bool {
    match mode {
        Quantization::Trn => false,
        Quantization::TrnZero => negative && (half || sticky),
        Quantization::Rnd => half,
        Quantization::RndZero => half && (negative || sticky),
        Quantization::RndMinInf => half && sticky,
        Quantization::RndInf => half && (!negative || sticky),
        Quantization::RndConv => half && (odd || sticky),
    }
}

/// A conversion prepared for many codes of one source type: the hot path of the
/// simulator. Falls back to the general cast for the rare overflow modes.
#[derive(Debug, Clone, Copy)]
pub struct Caster {
    target: FixedType,
    from_frac_bits: i32,
    shift: i32,
    simple: bool,
    min: i64,
    max: i64,
}

impl Caster {
    /// The general conversion, for values that need more than 64 bits.
    pub fn apply_wide(&self, raw: i128) -> i64 {
        self.target.cast(raw, self.from_frac_bits)
    }

    #[inline]
    pub fn apply(&self, raw: i64) -> i64 {
        if !self.simple || !(0..63).contains(&self.shift) {
            return self.target.cast(raw as i128, self.from_frac_bits);
        }
        let shift = self.shift as u32;
        let mut value = raw >> shift;
        if shift > 0 && self.target.quantization != Quantization::Trn {
            let half = (raw >> (shift - 1)) & 1 == 1;
            let sticky = raw & ((1i64 << (shift - 1)) - 1) != 0;
            value += round_up(self.target.quantization, half, sticky, raw < 0, value & 1 == 1) as i64;
        }
        if value > self.max || value < self.min {
            return match self.target.overflow {
                Overflow::Wrap => self.target.wrap(value as u64),
                Overflow::SatZero => 0,
                Overflow::SatSym if self.target.signed && value < self.min => -self.max,
                _ => value.clamp(self.min, self.max),
            };
        }
        if self.target.overflow == Overflow::SatSym && self.target.signed && value == self.min {
            return -self.max;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> FixedType {
        s.parse().unwrap()
    }

    /// Codes of ap_fixed<8,4> for 1.03125 * k (5 fractional bits) under each mode.
    #[test]
    fn quantization_modes_on_halves() {
        // Values in units of 1/32, cast to 4 fractional bits (units of 1/16):
        // 3/32 = 1.5 units, -3/32 = -1.5 units, 5/32 = 2.5 units.
        let cases = [
            ("AP_TRN", [1, -2, 2]),
            ("AP_TRN_ZERO", [1, -1, 2]),
            ("AP_RND", [2, -1, 3]),
            ("AP_RND_ZERO", [1, -1, 2]),
            ("AP_RND_MIN_INF", [1, -2, 2]),
            ("AP_RND_INF", [2, -2, 3]),
            ("AP_RND_CONV", [2, -2, 2]),
        ];
        for (mode, expected) in cases {
            let ty = t(&format!("ap_fixed<8,4,{mode}>"));
            let got = [ty.cast(3, 5), ty.cast(-3, 5), ty.cast(5, 5)];
            assert_eq!(got, expected, "{mode}");
            let caster = ty.caster(5);
            assert_eq!([caster.apply(3), caster.apply(-3), caster.apply(5)], expected, "{mode} caster");
        }
    }

    #[test]
    fn overflow_modes() {
        // 9.0 into ap_fixed<5,4> (range -8 .. 7.5, codes -16..15): code 18.
        assert_eq!(t("ap_fixed<5,4>").cast(9, 0), -14);
        assert_eq!(t("ap_fixed<5,4,AP_TRN,AP_SAT>").cast(9, 0), 15);
        assert_eq!(t("ap_fixed<5,4,AP_TRN,AP_SAT>").cast(-9, 0), -16);
        assert_eq!(t("ap_fixed<5,4,AP_TRN,AP_SAT_SYM>").cast(-9, 0), -15);
        assert_eq!(t("ap_fixed<5,4,AP_TRN,AP_SAT_ZERO>").cast(9, 0), 0);
        assert_eq!(t("ap_ufixed<4,4,AP_TRN,AP_SAT>").cast(-3, 0), 0);
        assert_eq!(t("ap_ufixed<4,4>").cast(-3, 0), 13);
    }

    #[test]
    fn huge_and_tiny_values() {
        let ty = t("ap_fixed<16,6,AP_RND,AP_SAT>");
        assert_eq!(ty.cast(1, -200), ty.max_code());
        assert_eq!(ty.cast(-1, -200), ty.min_code());
        assert_eq!(ty.cast(1, 300), 0);
        assert_eq!(ty.from_f64(1e300).unwrap(), ty.max_code());
        assert_eq!(ty.from_f64(0.5).unwrap(), 512);
        assert_eq!(ty.from_f64(-0.5).unwrap(), -512);
        assert!(ty.from_f64(f64::NAN).is_err());
    }
}
