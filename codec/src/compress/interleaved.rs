//! Per-feature entropy coding as [`super::entropy`] does it, with four rANS states in turn
//! instead of one: value i goes through state i % 4. A single state is one long chain of
//! dependent multiplications (and, coding, divisions); four chains run side by side in a core,
//! so decoding and coding take a fraction of the time for the same models and nearly the same
//! bytes (three more states to flush).
//!
//! Layout: as [`super::entropy::encode`]'s (count, models, words, escapes), but the words are
//! those of the four states, which share one stack: the coder codes the values last to first,
//! pushing each state's low word when it renormalizes, then the four final states (each as two
//! words); the decoder pops the states, then decodes the values first to last, each state
//! refilling from the stack exactly where the coder pushed.
//!
//! States start at 2^32, not 0: a state then never falls below 2^32 but where its coder pushed
//! a word, so that no state takes a word that belongs to another.

use super::corrupt::CorruptSection;
use super::entropy::{read_models, read_words, write_models, write_words_and_escapes, FeatureStats, PRECISION};
use crate::wire::{push_uvarint, ByteReader};

const LANES: usize = 4;
/// Every state starts here and, decoded back to its start, ends here.
const STATE_FLOOR: u64 = 1 << 32;

pub fn encode(values: &[u64], features: usize) -> Vec<u8> {
    let features = features.max(1);
    let stats: Vec<FeatureStats> =
        (0..features).map(|f| FeatureStats::of(values.iter().skip(f).step_by(features))).collect();
    let mut out = vec![];
    push_uvarint(&mut out, values.len() as u64);
    let (windows, cdfs) = write_models(&mut out, &stats);
    let mut coder = LaneEncoder::new(values.len());
    // A stack: the last value coded is the first decoded.
    let mut feature = values.len().saturating_sub(1) % features;
    for (i, &v) in values.iter().enumerate().rev() {
        let (symbol, cdf) = (v.min(windows[feature]) as usize, &cdfs[feature]);
        coder.encode(i % LANES, cdf[symbol], cdf[symbol + 1] - cdf[symbol]);
        feature = if feature == 0 { features - 1 } else { feature - 1 };
    }
    let streams = (0..features).cycle();
    write_words_and_escapes(&mut out, &coder.into_words(), values, streams, &windows);
    out
}

pub fn decode(bytes: &[u8], count: usize, features: usize) -> Result<Vec<u64>, CorruptSection> {
    let features = features.max(1);
    let mut reader = ByteReader::new(bytes);
    let stored = reader.uvarint()?;
    if stored != count as u64 {
        return Err(CorruptSection::CodedCount { stored, count });
    }
    let (windows, models) = read_models(&mut reader, features)?;
    let mut coder = LaneDecoder::new(read_words(&mut reader)?).ok_or(CorruptSection::MissingFinalStates)?;
    let mut values = super::recycled::SYMBOLS.take(count.min(1 << 24));
    let mut feature = 0;
    for i in 0..count {
        let window = windows[feature];
        let mut v = coder.decode(i % LANES, &models[feature]) as u64;
        // The escapes follow the words in value order.
        if v == window {
            v = window.checked_add(reader.uvarint()?).ok_or(CorruptSection::EscapeOverflow)?;
        }
        values.push(v);
        feature = if feature + 1 == features { 0 } else { feature + 1 };
    }
    if !coder.is_back_at_start() {
        return Err(CorruptSection::SymbolCount(count));
    }
    if !reader.rest().is_empty() {
        return Err(CorruptSection::TrailingValues(reader.rest().len()));
    }
    Ok(values)
}

struct LaneEncoder {
    words: Vec<u32>,
    states: [u64; LANES],
}

impl LaneEncoder {
    fn new(values: usize) -> LaneEncoder {
        LaneEncoder { words: Vec::with_capacity(values / 2), states: [STATE_FLOOR; LANES] }
    }

    /// Codes a symbol of the interval [start, start + probability) of 2^PRECISION in a lane.
    #[inline]
    fn encode(&mut self, lane: usize, start: u32, probability: u32) {
        let probability = u64::from(probability);
        let state = &mut self.states[lane];
        if *state >> (64 - PRECISION) >= probability {
            self.words.push(*state as u32);
            *state >>= 32;
        }
        let (prefix, remainder) = (*state / probability, *state % probability);
        *state = (prefix << PRECISION) | (u64::from(start) + remainder);
    }

    /// The words, then each lane's state, high word last so that it is popped first.
    fn into_words(mut self) -> Vec<u32> {
        for state in self.states {
            self.words.push(state as u32);
            self.words.push((state >> 32) as u32);
        }
        self.words
    }
}

struct LaneDecoder {
    words: Vec<u32>,
    states: [u64; LANES],
}

impl LaneDecoder {
    /// None when the words are too few to hold the final states.
    fn new(mut words: Vec<u32>) -> Option<LaneDecoder> {
        let mut states = [0; LANES];
        for state in states.iter_mut().rev() {
            let high = words.pop()?;
            let low = words.pop()?;
            *state = (u64::from(high) << 32) | u64::from(low);
        }
        Some(LaneDecoder { words, states })
    }

    #[inline]
    fn decode(&mut self, lane: usize, model: &super::entropy::DecodingTable) -> usize {
        let state = &mut self.states[lane];
        let quantile = (*state & ((1 << PRECISION) - 1)) as u32;
        let (symbol, start, probability) = model.find(quantile);
        *state = (*state >> PRECISION) * u64::from(probability) + u64::from(quantile.wrapping_sub(start));
        if *state < STATE_FLOOR {
            if let Some(word) = self.words.pop() {
                *state = (*state << 32) | u64::from(word);
            }
        }
        symbol
    }

    /// Whether every lane is back at its start with every word read, as after decoding all
    /// that was coded.
    fn is_back_at_start(&self) -> bool {
        self.words.is_empty() && self.states.iter().all(|&s| s == STATE_FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn values_round_trip(
            values in proptest::collection::vec(prop_oneof![0u64..3, 0u64..300, Just(u64::MAX), 0u64..9000], 0..700),
            features in 1usize..30,
        ) {
            prop_assert_eq!(decode(&encode(&values, features), values.len(), features).unwrap(), values);
        }

        #[test]
        fn damaged_bytes_are_refused_or_decoded_without_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            count in 0usize..100,
            features in 1usize..5,
        ) {
            let _ = decode(&bytes, count, features);
        }
    }

    #[test]
    fn the_same_models_cost_about_the_same_bytes_as_one_state() {
        let mut state = 3u64;
        let values: Vec<u64> = (0..50_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 40) % (3 + (i % 24) as u64 * 5)
            })
            .collect();
        let (lanes, single) = (encode(&values, 24).len(), super::super::entropy::encode(&values, 24).len());
        assert!(lanes <= single + 8 * LANES && lanes + 8 * LANES >= single, "{lanes} against {single}");
        assert_eq!(decode(&encode(&values, 24), values.len(), 24).unwrap(), values);
    }

    #[test]
    fn a_flipped_word_is_noticed() {
        let values: Vec<u64> = (0..5000).map(|i| (i * 7919 % 13) as u64).collect();
        let mut coded = encode(&values, 3);
        let at = coded.len() / 2;
        coded[at] ^= 0x10;
        assert!(decode(&coded, values.len(), 3).map_or(true, |back| back != values));
    }
}
