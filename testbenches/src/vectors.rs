//! Test vectors: corner cases of the input type, random codes within it, and real data.

use balerc_compiler::fixed::FixedType;

/// A small deterministic generator (xorshift64*), so that a failing run can be replayed
/// from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [lo, hi].
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next_u64() as u128 % span) as i128) as i64
    }
}

/// `count` vectors of `elements` codes of `ty`: all-minimum, all-maximum, all-zero and
/// alternating extremes first, then random codes; `data` vectors (already codes) are
/// put in front.
pub fn input_vectors(ty: FixedType, elements: usize, count: usize, data: &[Vec<i64>], seed: u64) -> Vec<Vec<i64>> {
    let (min, max) = (ty.min_code(), ty.max_code());
    let mut vectors: Vec<Vec<i64>> = data.to_vec();
    let corners = [
        vec![min; elements],
        vec![max; elements],
        vec![0; elements],
        (0..elements).map(|i| if i % 2 == 0 { min } else { max }).collect(),
        (0..elements).map(|i| if i % 2 == 0 { max } else { min }).collect(),
    ];
    vectors.extend(corners);
    let mut rng = Rng::new(seed);
    while vectors.len() < count + data.len() {
        // Mostly uniform codes, sometimes small ones near zero where rounding is busiest.
        let small = rng.next_u64().is_multiple_of(4);
        vectors.push(
            (0..elements)
                .map(|_| if small { rng.between(min.max(-64), max.min(64)) } else { rng.between(min, max) })
                .collect(),
        );
    }
    vectors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_stay_in_range_and_start_with_corners() {
        let ty: FixedType = "ap_fixed<6,2>".parse().unwrap();
        let v = input_vectors(ty, 3, 50, &[vec![1, 2, 3]], 7);
        assert_eq!(v.len(), 51);
        assert_eq!(v[0], vec![1, 2, 3]);
        assert_eq!(v[1], vec![-32; 3]);
        assert_eq!(v[2], vec![31; 3]);
        assert!(v.iter().flatten().all(|&c| (-32..=31).contains(&c)));
        assert_eq!(input_vectors(ty, 3, 50, &[], 7), input_vectors(ty, 3, 50, &[], 7));
    }
}
