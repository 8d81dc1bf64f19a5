//! A decoder's 8-bit weight codes, entropy coded. Trained weights crowd around zero with a
//! spread of their own per tensor, so each code is told as yes-or-no decisions whose odds every
//! tensor learns afresh: is it zero, its sign, the power of two below its magnitude (step by
//! step), then the bits under the leading one, each in a context of its place.

use super::adaptive_bits::{BitContext, BitReader, BitWriter};
use super::corrupt::CorruptSection;

/// Magnitudes run up to 127 (255 multiples of a tensor's step): leading bits 0 to 6.
const TOP_BIT: u32 = 6;

/// The odds one tensor's codes have taught.
#[derive(Default)]
struct TensorContexts {
    zero: BitContext,
    sign: BitContext,
    /// Whether the magnitude's leading bit is above bit k, for k = 0 to 5.
    above: [BitContext; TOP_BIT as usize],
    /// The bits under the leading one, by the leading bit and how far below it.
    lower: [[BitContext; TOP_BIT as usize]; TOP_BIT as usize + 1],
}

pub fn encode(tensors: &[&[i8]]) -> Vec<u8> {
    let mut writer = BitWriter::default();
    for codes in tensors {
        let mut contexts = TensorContexts::default();
        for &q in codes.iter() {
            writer.bit(&mut contexts.zero, q == 0);
            if q == 0 {
                continue;
            }
            writer.bit(&mut contexts.sign, q < 0);
            let magnitude = u32::from(q.unsigned_abs());
            let top = magnitude.ilog2();
            for k in 0..TOP_BIT {
                writer.bit(&mut contexts.above[k as usize], top > k);
                if top == k {
                    break;
                }
            }
            for below in 1..=top {
                writer.bit(&mut contexts.lower[top as usize][below as usize - 1], magnitude >> (top - below) & 1 == 1);
            }
        }
    }
    writer.finish()
}

/// The codes of tensors of `counts[t]` weights each.
pub fn decode(stored: &[u8], counts: &[usize]) -> Result<Vec<Vec<i8>>, CorruptSection> {
    let mut reader = BitReader::new(stored)?;
    let mut tensors = Vec::with_capacity(counts.len());
    for &count in counts {
        let mut contexts = TensorContexts::default();
        let mut codes = Vec::with_capacity(count.min(stored.len() * 8));
        for _ in 0..count {
            if reader.bit(&mut contexts.zero)? {
                codes.push(0);
                continue;
            }
            let negative = reader.bit(&mut contexts.sign)?;
            let mut top = 0;
            while top < TOP_BIT && reader.bit(&mut contexts.above[top as usize])? {
                top += 1;
            }
            let mut magnitude = 1u32 << top;
            for below in 1..=top {
                if reader.bit(&mut contexts.lower[top as usize][below as usize - 1])? {
                    magnitude |= 1 << (top - below);
                }
            }
            if magnitude > 127 {
                return Err(CorruptSection::WeightCodeTooLarge(magnitude));
            }
            let magnitude = magnitude as i8;
            codes.push(if negative { -magnitude } else { magnitude });
        }
        tensors.push(codes);
    }
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_comes_back() {
        let all: Vec<i8> = (-127..=127).collect();
        let zeros = vec![0i8; 100];
        let stored = encode(&[&all, &[], &zeros]);
        assert_eq!(decode(&stored, &[all.len(), 0, 100]).unwrap(), vec![all, vec![], zeros]);
    }

    #[test]
    fn weights_crowding_around_zero_cost_about_their_entropy() {
        // A bell of spread 12 steps (the sum of four uniform numbers): about 5.6 bits each.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let codes: Vec<i8> =
            (0..4000).map(|_| (20.8 * (uniform() + uniform() + uniform() + uniform() - 2.0)).round() as i8).collect();
        let mut counts = std::collections::HashMap::<i8, f64>::new();
        codes.iter().for_each(|&q| *counts.entry(q).or_default() += 1.0);
        let n = codes.len() as f64;
        let entropy_bytes: f64 = counts.values().map(|c| c * (n / c).log2()).sum::<f64>() / 8.0;
        let stored = encode(&[&codes]);
        assert!((stored.len() as f64) < 1.05 * entropy_bytes, "{} bytes against {entropy_bytes:.0}", stored.len());
        assert_eq!(decode(&stored, &[codes.len()]).unwrap()[0], codes);
    }

    proptest::proptest! {
        #[test]
        fn codes_round_trip_and_garbage_is_no_panic(
            codes in proptest::collection::vec(-127i8..=127, 0..300),
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let stored = encode(&[&codes]);
            proptest::prop_assert_eq!(&decode(&stored, &[codes.len()]).unwrap()[0], &codes);
            let _ = decode(&garbage, &[100]);
        }
    }
}
