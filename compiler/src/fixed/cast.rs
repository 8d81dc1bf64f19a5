//! Conversion into a fixed-point type, as `ap_fixed_base::operator=(const ap_fixed_base<W2,I2,S2,..>&)`
//! (ap_fixed_base.h) does it; the converting constructor and the one from `double` follow the same code.
//!
//! The header shifts the source right into the `W`-bit register (floor), adds a rounding increment,
//! then finds overflow from a tangle of carry and deleted-bit tests (`carry`, `Range1`, `Range2`,
//! `lD`). All of that amounts to comparing the exactly rounded value `q` with the target range, so we
//! compute `q` with plain integers; the result depends only on the source value, not its type.
//! The bit twiddling survives only where the header makes it the result: `AP_WRAP` with `N > 0` and
//! `AP_WRAP_SM` (see [`FixedType::fit`]).
//!
//! Header behaviour worth knowing (all checked by tests/fixed_vs_ap_fixed.rs):
//! - C simulation aborts (assert in `ap_private::get_bit`) when a rounding mode other than `AP_TRN`
//!   drops more bits than the source has (`F2 - F > W2`); with `NDEBUG` the value is the one here.
//! - `ap_ufixed` with `AP_WRAP` and `N > 0` sets its top `N` bits to ones on underflow too, so a
//!   negative value becomes a large one.
//! - `AP_SAT_SYM` on a 1-bit `ap_fixed` acts as `AP_SAT`: its "symmetric minimum" `10..01` is `-1`.
//! - `AP_WRAP_SM` with `N = 0` decides from bit `W` of the value *before* rounding (`lD`), so a
//!   rounding carry into that bit is ignored. With `N = 1` it inverts the code when the code's sign
//!   bit differs from the value's sign, with `N > 1` when bit `W-N` equals it: opposite tests,
//!   copied as they are.

use super::{FixedType, Overflow, Quantization};

impl FixedType {
    /// Converts the value `raw * 2^-frac_bits` as ap_fixed's converting constructor and
    /// assignment do: round the dropped bits by `quantization`, then apply `overflow`
    /// (a coarser source is shifted left exactly). Returns this type's code, sign-extended
    /// (non-negative for `ap_ufixed`).
    pub fn cast(&self, raw: i128, frac_bits: i32) -> i64 {
        let shift = i64::from(self.frac_bits()) - i64::from(frac_bits);
        if shift >= 0 {
            let q = shl(raw, shift);
            self.fit(q, q)
        } else {
            let (floor, q) = round_shr(raw, -shift, self.quantization);
            self.fit(floor, q)
        }
    }

    /// A precomputed [`FixedType::cast`] for `i64` raws that all have `from_frac_bits` fractional bits.
    pub fn caster(&self, from_frac_bits: i32) -> Caster {
        let shift = i64::from(self.frac_bits()) - i64::from(from_frac_bits);
        // An i64 raw dropped by 65 bits or more is all sign: same rounding as at 65.
        let right = (-shift).clamp(0, 65) as u32;
        let (bias, neg_bias, conv) = if right == 0 {
            (0, 0, 0)
        } else {
            let half = 1i128 << (right - 1);
            match self.quantization {
                Quantization::Trn => (0, 0, 0),
                Quantization::TrnZero => (0, (half << 1) - 1, 0),
                Quantization::Rnd => (half, 0, 0),
                Quantization::RndZero => (half - 1, 1, 0),
                Quantization::RndMinInf => (half - 1, 0, 0),
                Quantization::RndInf => (half, -1, 0),
                Quantization::RndConv => (half - 1, 0, 1),
            }
        };
        Caster {
            target: *self,
            from_frac_bits,
            left: shift.clamp(0, 64) as u32,
            huge_left: shift > 64,
            right,
            bias,
            neg_bias,
            conv,
        }
    }

    /// Applies the overflow mode to the rounded value `q`. `floor` is the value before rounding;
    /// its bit `W` is the header's `lD`, which `AP_WRAP_SM` with `N = 0` looks at. Both are in
    /// units of this type's LSB.
    #[inline]
    fn fit(&self, floor: i128, q: i128) -> i64 {
        let (w, n) = (self.width, self.saturation_bits);
        let (min, max) = (i128::from(self.min_code()), i128::from(self.max_code()));
        let sym = self.overflow == Overflow::SatSym && self.signed;
        let over = q > max;
        let under = q < min || (sym && q == min);
        let mask = ones(0, w);
        let mut bits = q as u64 & mask;
        if over || under {
            let sign = 1u64 << (w - 1);
            bits = match (self.overflow, self.signed) {
                (Overflow::Wrap, _) if n == 0 => bits,
                // Top N bits saturate (sign bit included), the rest wrap.
                (Overflow::Wrap, true) => {
                    let fill = if under { sign } else { ones(w - n, w - 1) };
                    bits & !ones(w - n, w) | fill
                }
                (Overflow::Wrap, false) => bits | ones(w - n, w),
                (Overflow::WrapSm, true) if n == 0 => {
                    let ld = (floor >> w) & 1 == 1;
                    if ld == (bits & sign != 0) {
                        bits
                    } else {
                        !bits & mask & !sign | if ld { sign } else { 0 }
                    }
                }
                (Overflow::WrapSm, true) => {
                    let flip = if n == 1 { under != (bits & sign != 0) } else { under == ((bits >> (w - n)) & 1 == 1) };
                    let bits = if flip { !bits & mask } else { bits };
                    let fill = if under { sign } else { ones(w - n, w - 1) };
                    bits & !ones(w - n, w) | fill
                }
                (Overflow::SatZero, _) => 0,
                // AP_SAT, AP_SAT_SYM, and unsigned AP_WRAP_SM (which `validate` rejects;
                // the header's fallback branch saturates it).
                _ if over => max as u64 & mask,
                _ if sym => (min as u64 | 1) & mask,
                _ => min as u64 & mask,
            };
        }
        if self.signed {
            ((bits << (64 - w)) as i64) >> (64 - w)
        } else {
            bits as i64
        }
    }
}

/// Bits `lo..hi` set.
fn ones(lo: u32, hi: u32) -> u64 {
    (((1u128 << (hi - lo)) - 1) << lo) as u64
}

/// `raw * 2^s`, exact when it fits in i128. Otherwise a stand-in with the same sign and the same
/// low 66 bits, beyond every type's range (codes are below 2^64): all that `fit` looks at.
fn shl(raw: i128, s: i64) -> i128 {
    if s < 127 {
        if let Some(v) = raw.checked_mul(1 << s) {
            return v;
        }
    } else if raw == 0 {
        return 0;
    }
    const LOW: i128 = (1 << 66) - 1;
    let low = if s < 66 { (raw << s) & LOW } else { 0 };
    if raw < 0 {
        low - (1 << 67)
    } else {
        low + (1 << 66)
    }
}

/// `raw * 2^-d` for `d >= 1`, as (floor, rounded by `mode`). The header's rounding increment
/// works from the first dropped bit (`qb`), whether any lower one is set (`r`) and the sign.
fn round_shr(raw: i128, d: i64, mode: Quantization) -> (i128, i128) {
    let d = d.min(129) as u32; // past 129 every dropped bit is the sign
    let floor = raw >> d.min(127);
    let half = (raw >> (d - 1).min(127)) & 1 == 1;
    let below = d - 1;
    let sticky = if below >= 128 { raw != 0 } else { raw as u128 & ((1u128 << below) - 1) != 0 };
    let neg = raw < 0;
    let up = match mode {
        Quantization::Trn => false,
        Quantization::TrnZero => neg && (half || sticky),
        Quantization::Rnd => half,
        Quantization::RndZero => half && (neg || sticky),
        Quantization::RndMinInf => half && sticky,
        Quantization::RndInf => half && (!neg || sticky),
        Quantization::RndConv => half && (floor & 1 == 1 || sticky),
    };
    (floor, floor + i128::from(up))
}

/// [`FixedType::cast`] for `i64` raws with one source `frac_bits`, set up once by
/// [`FixedType::caster`]: rounding becomes a bias added before one arithmetic shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caster {
    target: FixedType,
    from_frac_bits: i32,
    /// Left shift when the source is coarser, at most 64 (fits i128 for any i64).
    left: u32,
    /// Left shift above 64: every non-zero raw is out of range with its low bits zero.
    huge_left: bool,
    /// Dropped bits, at most 65.
    right: u32,
    /// Rounding bias: `bias`, plus `neg_bias` for negative raws, plus the floor's LSB if `conv` is 1.
    bias: i128,
    neg_bias: i128,
    conv: i128,
}

impl Caster {
    /// [`FixedType::cast`] for raws beyond `i64` (e.g. a product of two codes).
    pub fn apply_wide(&self, raw: i128) -> i64 {
        self.target.cast(raw, self.from_frac_bits)
    }

    /// The code `raw * 2^-from_frac_bits` converts to; equal to `cast(raw.into(), from_frac_bits)`.
    #[inline]
    pub fn apply(&self, raw: i64) -> i64 {
        let x = if self.huge_left { i128::from(raw.signum()) << 65 } else { i128::from(raw) << self.left };
        let floor = x >> self.right;
        let bias = self.bias + (self.neg_bias & i128::from(raw >> 63)) + (self.conv & floor);
        self.target.fit(floor, (x + bias) >> self.right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ty(s: &str) -> FixedType {
        s.parse().unwrap()
    }

    /// Codes for -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 and -2.25, 2.75 (given in quarters) into an integer type.
    fn rounded(spelling: &str) -> Vec<i64> {
        let t = ty(spelling);
        [-10, -6, -2, 2, 6, 10, -9, 11].iter().map(|&quarters| t.cast(quarters, 2)).collect()
    }

    #[test]
    fn quantization_modes_by_hand() {
        assert_eq!(rounded("ap_fixed<8,8,AP_TRN>"), [-3, -2, -1, 0, 1, 2, -3, 2]);
        assert_eq!(rounded("ap_fixed<8,8,AP_TRN_ZERO>"), [-2, -1, 0, 0, 1, 2, -2, 2]);
        assert_eq!(rounded("ap_fixed<8,8,AP_RND>"), [-2, -1, 0, 1, 2, 3, -2, 3]);
        assert_eq!(rounded("ap_fixed<8,8,AP_RND_ZERO>"), [-2, -1, 0, 0, 1, 2, -2, 3]);
        assert_eq!(rounded("ap_fixed<8,8,AP_RND_MIN_INF>"), [-3, -2, -1, 0, 1, 2, -2, 3]);
        assert_eq!(rounded("ap_fixed<8,8,AP_RND_INF>"), [-3, -2, -1, 1, 2, 3, -2, 3]);
        assert_eq!(rounded("ap_fixed<8,8,AP_RND_CONV>"), [-2, -2, 0, 0, 2, 2, -2, 3]);
    }

    #[test]
    fn overflow_modes_by_hand() {
        // 200 and -200 into 8 bits.
        let both = |s: &str| [ty(s).cast(200, 0), ty(s).cast(-200, 0)];
        assert_eq!(both("ap_fixed<8,8>"), [-56, 56]);
        assert_eq!(both("ap_fixed<8,8,AP_TRN,AP_SAT>"), [127, -128]);
        assert_eq!(both("ap_fixed<8,8,AP_TRN,AP_SAT_SYM>"), [127, -127]);
        assert_eq!(both("ap_fixed<8,8,AP_TRN,AP_SAT_ZERO>"), [0, 0]);
        assert_eq!(both("ap_ufixed<8,8,AP_TRN,AP_SAT>"), [200, 0]);
        // 200 = 0b1100_1000 wraps to 0b1100_1000; N = 2 forces the top bits to 01 / 10.
        assert_eq!(both("ap_fixed<8,8,AP_TRN,AP_WRAP,2>"), [0b0100_1000, 0b1011_1000u8 as i8 as i64]);
        // Unsigned N = 2 sets the top bits to ones even for underflow (header quirk): 300 -> 0b1110_1100.
        assert_eq!(ty("ap_ufixed<8,8,AP_TRN,AP_WRAP,2>").cast(300, 0), 0b1110_1100);
        assert_eq!(ty("ap_ufixed<8,8,AP_TRN,AP_WRAP,2>").cast(-1, 0), 255);
        // The minimum itself is an underflow under AP_SAT_SYM; a 1-bit type keeps it.
        assert_eq!(ty("ap_fixed<8,8,AP_TRN,AP_SAT_SYM>").cast(-128, 0), -127);
        assert_eq!(ty("ap_fixed<1,1,AP_TRN,AP_SAT_SYM>").cast(-5, 0), -1);
        // Rounding that carries past the maximum saturates (or wraps).
        assert_eq!(ty("ap_fixed<4,2,AP_RND,AP_SAT>").cast(31, 4), 7); // 31/16 is 7.75 quarters
        assert_eq!(ty("ap_fixed<4,2,AP_RND>").cast(31, 4), -8);
    }

    #[test]
    fn shifts_beyond_i128() {
        let t = ty("ap_fixed<8,-120,AP_RND_CONV,AP_SAT>");
        assert_eq!(t.cast(1, -10), 127);
        assert_eq!(t.cast(-1, -10), -128);
        assert_eq!(t.cast(0, -10), 0);
        assert_eq!(t.cast(i128::MIN, 1000), 0);
        assert_eq!(ty("ap_fixed<8,8>").cast(i128::MIN, 127), -1);
        assert_eq!(ty("ap_fixed<8,8,AP_RND>").cast(i128::MIN, 128), 0);
        assert_eq!(ty("ap_fixed<8,8,AP_RND_MIN_INF>").cast(i128::MIN, 128), -1);
    }

    fn any_type() -> impl Strategy<Value = FixedType> {
        (1u32..=64, -70i32..=70, any::<bool>(), 0..7usize, 0..5usize, 0u32..=64).prop_filter_map(
            "invalid type",
            |(w, f, s, q, o, n)| {
                let t = FixedType::new(w, w as i32 - f, s).ok()?;
                t.with_modes(Quantization::ALL[q], Overflow::ALL[o], n % (w + 1)).ok()
            },
        )
    }

    proptest! {
        #[test]
        fn caster_matches_cast(t in any_type(), from in -140i32..=140, raws in prop::collection::vec(any::<i64>(), 16)) {
            let c = t.caster(from);
            for raw in raws.into_iter().chain([0, 1, -1, i64::MIN, i64::MAX]) {
                prop_assert_eq!(c.apply(raw), t.cast(raw.into(), from), "{} raw {} frac {}", t, raw, from);
            }
        }

        #[test]
        fn codes_stay_in_range(t in any_type(), raw in any::<i128>(), from in -300i32..=300) {
            let c = t.cast(raw, from);
            prop_assert!(t.min_code() <= c && c <= t.max_code());
        }
    }
}
