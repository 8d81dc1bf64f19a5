//! A field's residual codes, entropy coded in contexts of their neighbours. Residuals are
//! larger where the ones to their left, above and in the frame before are large (an edge the
//! prediction missed, a burst of motion) and nearly always zero in calm regions; a model per
//! neighbourhood codes each kind near its own entropy, where one model for all mixes them.
//!
//! Files are written with adaptive models (`residual_adaptive`): each code is split into yes-or-no
//! decisions (is it zero, its sign, is its magnitude above 1, above 2, ...), each coded in a
//! context of its neighbours' magnitudes with odds learnt on the way. Earlier files hold
//! static models of six neighbourhoods (`residual_ctx`), still read.

use super::adaptive_bits::{BitContext, BitReader, BitWriter};
use super::corrupt::CorruptSection;
use super::entropy;
use super::taps::{Place, CONTEXT};

/// Neighbourhoods by the sum of the neighbours' codes (zigzag): 0, 1, 2, 3, 4, 5 or more.
const CONTEXTS: usize = 6;

/// Value `i`'s neighbours coded before it (see [`CONTEXT`]) in frames of (height, width), those
/// inside the chunk.
fn neighbours(i: usize, frame: (usize, usize), before: &[u64]) -> impl Iterator<Item = u64> + '_ {
    let place = Place::of(i, frame);
    CONTEXT.into_iter().filter_map(move |offset| place.exactly(offset)).map(move |j| before[j])
}

/// The static neighbourhood of value `i`: the sum of its neighbours' codes, capped.
fn context(i: usize, frame: (usize, usize), before: &[u64]) -> usize {
    let sum = neighbours(i, frame, before).fold(0u64, u64::saturating_add);
    sum.min(CONTEXTS as u64 - 1) as usize
}

/// Codes one feature's codes of a field, value after value in frame order, with static models.
#[cfg(test)]
pub fn encode(symbols: &[u64], frame: (usize, usize)) -> Vec<u8> {
    entropy::encode_streams(symbols, CONTEXTS, |i, before| context(i, frame, before))
}

pub fn decode(stored: &[u8], count: usize, frame: (usize, usize)) -> Result<Vec<u64>, CorruptSection> {
    check_frame(frame)?;
    entropy::decode_streams(stored, count, CONTEXTS, |i, before| context(i, frame, before))
}

fn check_frame(frame: (usize, usize)) -> Result<(), CorruptSection> {
    match frame.0 == 0 || frame.1 == 0 {
        true => Err(CorruptSection::EmptyFrame),
        false => Ok(()),
    }
}

/// Magnitudes above this many unit steps are sent as an Elias-gamma number at even odds.
const UNARY_STEPS: u64 = 14;
/// Magnitude decisions are told apart by step up to this one; later steps share its context.
const STEP_CONTEXTS: usize = 6;

/// The adaptive contexts of one field's codes.
#[derive(Default)]
struct AdaptiveContexts {
    /// By how many neighbours are nonzero (0 to 4 or more) and the largest magnitude among
    /// them (0, 1, 2 or more).
    zero: [[BitContext; 3]; 5],
    sign: BitContext,
    /// By the sum of the neighbours' magnitudes (0 to 3 or more) and the step.
    above: [[BitContext; STEP_CONTEXTS]; 4],
}

/// What a code's neighbours say: (nonzero count, largest magnitude, magnitude sum), capped.
fn neighbourhood(i: usize, frame: (usize, usize), before: &[u64]) -> (usize, usize, usize) {
    let (mut nonzero, mut largest, mut sum) = (0u64, 0u64, 0u64);
    for magnitude in neighbours(i, frame, before).map(|code| code.div_ceil(2)) {
        nonzero += u64::from(magnitude > 0);
        largest = largest.max(magnitude);
        sum = sum.saturating_add(magnitude);
    }
    (nonzero.min(4) as usize, largest.min(2) as usize, sum.min(3) as usize)
}

/// Codes one feature's codes (zigzag) of a field, value after value in frame order, with
/// adaptive models.
pub fn encode_adaptive(symbols: &[u64], frame: (usize, usize)) -> Vec<u8> {
    let mut contexts = AdaptiveContexts::default();
    let mut writer = BitWriter::default();
    for (i, &code) in symbols.iter().enumerate() {
        let (nonzero, largest, sum) = neighbourhood(i, frame, &symbols[..i]);
        writer.bit(&mut contexts.zero[nonzero][largest], code != 0);
        if code == 0 {
            continue;
        }
        writer.bit(&mut contexts.sign, code % 2 == 1);
        let magnitude = code.div_ceil(2);
        for step in 1..=UNARY_STEPS {
            let above = &mut contexts.above[sum][(step as usize).min(STEP_CONTEXTS) - 1];
            writer.bit(above, magnitude > step);
            if magnitude == step {
                break;
            }
        }
        if magnitude > UNARY_STEPS {
            let beyond = magnitude - UNARY_STEPS;
            let length = beyond.ilog2();
            writer.even_bits(u64::from(length), 6);
            writer.even_bits(beyond, length);
        }
    }
    writer.finish()
}

pub fn decode_adaptive(stored: &[u8], count: usize, frame: (usize, usize)) -> Result<Vec<u64>, CorruptSection> {
    check_frame(frame)?;
    let mut contexts = AdaptiveContexts::default();
    let mut reader = BitReader::new(stored)?;
    let mut symbols = Vec::with_capacity(count.min(1 << 24));
    for i in 0..count {
        let (nonzero, largest, sum) = neighbourhood(i, frame, &symbols);
        if !reader.bit(&mut contexts.zero[nonzero][largest])? {
            symbols.push(0);
            continue;
        }
        let negative = reader.bit(&mut contexts.sign)?;
        let mut magnitude = 1;
        while magnitude <= UNARY_STEPS {
            let above = &mut contexts.above[sum][(magnitude as usize).min(STEP_CONTEXTS) - 1];
            if !reader.bit(above)? {
                break;
            }
            magnitude += 1;
        }
        if magnitude > UNARY_STEPS {
            let length = reader.even_bits(6)? as u32;
            let beyond = (1u64 << length.min(63)) | reader.even_bits(length)?;
            magnitude =
                UNARY_STEPS.checked_add(beyond).filter(|_| length < 63).ok_or(CorruptSection::ResidualTooLarge)?;
        }
        // Zigzag: -m is 2m - 1, +m is 2m.
        let code = match negative {
            true => (magnitude - 1).checked_mul(2).map(|twice| twice + 1),
            false => magnitude.checked_mul(2),
        };
        symbols.push(code.ok_or(CorruptSection::ResidualTooLarge)?);
    }
    Ok(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten frames of 20 x 20 whose right half has residuals of -3..3 and left half zeros.
    fn calm_and_busy() -> ((usize, usize), Vec<u64>) {
        let symbols = (0..10 * 400u64).map(|i| if i % 20 < 10 { 0 } else { (i * 2_654_435_761) % 7 }).collect();
        ((20, 20), symbols)
    }

    #[test]
    fn calm_and_busy_regions_cost_less_apart_than_mixed() {
        let (frame, symbols) = calm_and_busy();
        let apart = encode(&symbols, frame);
        let mixed = entropy::encode(&symbols, 1);
        assert!((apart.len() as f64) < 0.8 * mixed.len() as f64, "{} bytes against {}", apart.len(), mixed.len());
        assert_eq!(decode(&apart, symbols.len(), frame).unwrap(), symbols);
    }

    #[test]
    fn adaptive_models_code_calm_and_busy_regions_in_fewer_bytes_than_static_ones() {
        let (frame, symbols) = calm_and_busy();
        let adaptive = encode_adaptive(&symbols, frame);
        assert!(adaptive.len() < encode(&symbols, frame).len(), "{} bytes", adaptive.len());
        assert_eq!(decode_adaptive(&adaptive, symbols.len(), frame).unwrap(), symbols);
    }

    #[test]
    fn the_largest_codes_come_back() {
        let symbols = vec![u64::MAX, u64::MAX - 1, 0, 29, 30, 31, 1 << 40, 3];
        let stored = encode_adaptive(&symbols, (2, 4));
        assert_eq!(decode_adaptive(&stored, symbols.len(), (2, 4)).unwrap(), symbols);
    }

    proptest::proptest! {
        #[test]
        fn codes_round_trip_both_ways_and_garbage_is_an_error_not_a_panic(
            symbols in proptest::collection::vec(proptest::prop_oneof![8 => 0u64..5, 1 => proptest::prelude::any::<u64>()], 0..300),
            height in 1usize..6,
            width in 1usize..6,
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
        ) {
            let frame = (height, width);
            let adaptive = encode_adaptive(&symbols, frame);
            proptest::prop_assert_eq!(decode_adaptive(&adaptive, symbols.len(), frame).unwrap(), symbols.clone());
            let fixed = encode(&symbols, frame);
            proptest::prop_assert_eq!(decode(&fixed, symbols.len(), frame).unwrap(), symbols.clone());
            let _ = decode_adaptive(&garbage, symbols.len(), frame);
            let _ = decode(&garbage, symbols.len(), frame);
        }
    }
}
