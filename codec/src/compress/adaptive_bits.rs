//! Yes-or-no decisions coded with probabilities that adapt as the values go by. Each context
//! counts the zeros and ones it has seen and halves both counts now and then, so that it
//! follows a source that drifts; constriction's range coder spends -log2 p bits on each
//! decision. Nothing about the statistics is stored: the decoder counts the same way, which on
//! small inputs saves the tables a static model must store, and on large ones lets a context
//! split as finely as the data supports.

use super::corrupt::CorruptSection;
use constriction::backends::ReadWords;
use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use constriction::Queue;
use std::borrow::Borrow;
use std::fmt;
use std::num::NonZeroU32;

/// Probabilities are in units of 2^-16.
const PRECISION: usize = 16;
const ONE: u32 = 1 << PRECISION;
/// A context halves its counts when their sum passes this, so that old values weigh less.
const HALVING_SUM: u32 = 256;

/// What one context has seen: counts of zeros and ones, each starting at one half (in units
/// of one half, a step of 2 per decision).
#[derive(Debug, Clone, Copy)]
pub struct BitContext {
    zeros: u32,
    ones: u32,
}

impl Default for BitContext {
    fn default() -> Self {
        BitContext { zeros: 1, ones: 1 }
    }
}

impl BitContext {
    fn model(self) -> Bernoulli {
        let zero = u64::from(self.zeros) * u64::from(ONE) / u64::from(self.zeros + self.ones);
        Bernoulli { zero: (zero as u32).clamp(1, ONE - 1) }
    }

    fn update(&mut self, bit: bool) {
        match bit {
            true => self.ones += 2,
            false => self.zeros += 2,
        }
        if self.zeros + self.ones > HALVING_SUM {
            self.zeros = self.zeros.div_ceil(2);
            self.ones = self.ones.div_ceil(2);
        }
    }
}

/// A decision whose "no" (false) has probability `zero` / 2^16, strictly between 0 and 1.
struct Bernoulli {
    zero: u32,
}

const EVEN: Bernoulli = Bernoulli { zero: ONE / 2 };

impl Bernoulli {
    fn interval(&self, bit: bool) -> (u32, NonZeroU32) {
        let (left, width) = if bit { (self.zero, ONE - self.zero) } else { (0, self.zero) };
        (left, NonZeroU32::new(width).expect("probabilities stay strictly between 0 and 1"))
    }
}

impl EntropyModel<PRECISION> for Bernoulli {
    type Symbol = bool;
    type Probability = u32;
}

impl EncoderModel<PRECISION> for Bernoulli {
    fn left_cumulative_and_probability(&self, bit: impl Borrow<bool>) -> Option<(u32, NonZeroU32)> {
        Some(self.interval(*bit.borrow()))
    }
}

impl DecoderModel<PRECISION> for Bernoulli {
    fn quantile_function(&self, quantile: u32) -> (bool, u32, NonZeroU32) {
        let bit = quantile >= self.zero;
        let (left, width) = self.interval(bit);
        (bit, left, width)
    }
}

#[derive(Default)]
pub struct BitWriter {
    coder: DefaultRangeEncoder,
}

impl BitWriter {
    pub fn bit(&mut self, context: &mut BitContext, bit: bool) {
        self.coder.encode_symbol(bit, context.model()).expect("every decision has a nonzero probability");
        context.update(bit);
    }

    /// The low `count` bits of `value`, most significant first, each at even odds.
    pub fn even_bits(&mut self, value: u64, count: u32) {
        for shift in (0..count).rev() {
            self.coder.encode_symbol(value >> shift & 1 == 1, EVEN).expect("even odds are nonzero");
        }
    }

    pub fn finish(self) -> Vec<u8> {
        let words = self.coder.into_compressed().expect("a range coder in memory does not fail");
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

pub struct BitReader {
    coder: DefaultRangeDecoder<Words>,
}

/// Words a decoder may ask for past the last one: the decoder holds two words and the encoder
/// seals with one or two, so a stream read no further than it was written asks for at most one.
const READS_PAST_END: u32 = 2;

/// The coded words, front to back. Past the end a range decoder would go on making decisions
/// up from nothing, as many as it is asked for; asking for more words than a stream of that
/// many decisions could need is an error instead.
struct Words {
    words: std::vec::IntoIter<u32>,
    past_end: u32,
}

#[derive(Debug)]
struct PastTheEnd;

impl fmt::Display for PastTheEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more decisions are read than were coded")
    }
}

impl ReadWords<u32, Queue> for Words {
    type ReadError = PastTheEnd;

    #[inline]
    fn read(&mut self) -> Result<Option<u32>, PastTheEnd> {
        if let Some(word) = self.words.next() {
            return Ok(Some(word));
        }
        self.past_end += 1;
        match self.past_end <= READS_PAST_END {
            true => Ok(None),
            false => Err(PastTheEnd),
        }
    }
}

impl BitReader {
    pub fn new(stored: &[u8]) -> Result<BitReader, CorruptSection> {
        if !stored.len().is_multiple_of(4) {
            return Err(CorruptSection::PartialWords(stored.len()));
        }
        let words: Vec<u32> =
            stored.chunks_exact(4).map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes"))).collect();
        let words = Words { words: words.into_iter(), past_end: 0 };
        let coder = DefaultRangeDecoder::with_backend(words).map_err(|_| CorruptSection::NoRangeCoderStart)?;
        Ok(BitReader { coder })
    }

    pub fn bit(&mut self, context: &mut BitContext) -> Result<bool, CorruptSection> {
        let bit = self.decode(context.model())?;
        context.update(bit);
        Ok(bit)
    }

    pub fn even_bits(&mut self, count: u32) -> Result<u64, CorruptSection> {
        (0..count).try_fold(0u64, |value, _| Ok(value << 1 | u64::from(self.decode(EVEN)?)))
    }

    fn decode(&mut self, model: Bernoulli) -> Result<bool, CorruptSection> {
        self.coder.decode_symbol(model).map_err(|e| CorruptSection::DamagedBits(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skewed_decisions_cost_what_their_odds_say_and_come_back() {
        // One in 20 is a one: about 0.29 bits per decision.
        let bits: Vec<bool> = (0..20_000u64).map(|i| (i * 2_654_435_761) % 20 == 0).collect();
        let mut writer = BitWriter::default();
        let mut context = BitContext::default();
        bits.iter().for_each(|&b| writer.bit(&mut context, b));
        writer.even_bits(0b1011, 4);
        let stored = writer.finish();
        assert!(stored.len() < 20_000 * 31 / 100 / 8, "{} bytes", stored.len());
        let mut reader = BitReader::new(&stored).unwrap();
        let mut context = BitContext::default();
        let decoded: Vec<bool> = bits.iter().map(|_| reader.bit(&mut context).unwrap()).collect();
        assert_eq!(decoded, bits);
        assert_eq!(reader.even_bits(4).unwrap(), 0b1011);
    }

    /// Decisions of many lengths and odds, each coded and read back exactly: never one word
    /// too many for a stream read no further than it was written.
    #[test]
    fn every_stream_reads_back_within_its_words_and_no_further() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for length in (0..300).chain([1000, 5000, 20_000]) {
            for one_in in [1, 2, 7, 100, 100_000] {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let bits: Vec<bool> = (0..length as u64).map(|i| (i.wrapping_mul(state) >> 32) % one_in == 0).collect();
                let mut writer = BitWriter::default();
                let mut context = BitContext::default();
                bits.iter().for_each(|&b| writer.bit(&mut context, b));
                let stored = writer.finish();
                let mut reader = BitReader::new(&stored).unwrap();
                let mut context = BitContext::default();
                let decoded: Vec<bool> = bits.iter().map(|_| reader.bit(&mut context).unwrap()).collect();
                assert_eq!(decoded, bits, "{length} decisions, one in {one_in} a one");
            }
        }
    }

    #[test]
    fn reading_on_past_the_coded_decisions_soon_fails() {
        let mut writer = BitWriter::default();
        let mut context = BitContext::default();
        (0..10).for_each(|_| writer.bit(&mut context, false));
        let stored = writer.finish();
        let mut reader = BitReader::new(&stored).unwrap();
        let mut context = BitContext::default();
        let read = (0..1_000_000).take_while(|_| reader.bit(&mut context).is_ok()).count();
        // Each decision costs at least -log2(255/256) bits: a word past the end holds a few thousand.
        assert!(read < 20_000, "{read} decisions read from 10");
    }

    #[test]
    fn bytes_that_are_not_whole_words_are_refused() {
        assert!(BitReader::new(&[1, 2, 3]).is_err());
    }
}
