//! Canonical signed digits: a constant as a sum of ±2^k with no two adjacent nonzero
//! digits, the fewest additions a multiplier-free product needs.

/// The nonzero digits of `value` as (shift, negative), lowest first.
pub fn digits(value: i64) -> Vec<(u32, bool)> {
    let mut digits = Vec::new();
    let mut v = value as i128;
    let mut shift = 0;
    while v != 0 {
        if v & 1 == 1 {
            // Pick the digit that leaves a multiple of 4, so the next digit is zero.
            let digit = 2 - (v & 3);
            digits.push((shift, digit < 0));
            v -= digit;
        }
        v >>= 1;
        shift += 1;
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_sum_back_and_are_not_adjacent() {
        for value in -5000i64..5000 {
            let d = digits(value);
            let sum: i64 = d.iter().map(|&(k, neg)| if neg { -(1i64 << k) } else { 1i64 << k }).sum();
            assert_eq!(sum, value);
            assert!(d.windows(2).all(|w| w[1].0 > w[0].0 + 1), "{value}: {d:?}");
        }
        assert_eq!(digits(7), vec![(0, true), (3, false)]);
        assert_eq!(digits(i64::MIN).len(), 1);
    }
}
