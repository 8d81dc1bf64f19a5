//! Yes-or-no decisions coded with probabilities that adapt as the values go by. Each context
//! counts the zeros and ones it has seen and halves both counts now and then, so that it
//! follows a source that drifts; constriction's range coder spends -log2 p bits on each
//! decision. Nothing about the statistics is stored: the decoder counts the same way, which on
//! small inputs saves the tables a static model must store, and on large ones lets a context
//! split as finely as the data supports.

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};
use std::borrow::Borrow;
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
    coder: DefaultRangeDecoder,
}

impl BitReader {
    pub fn new(stored: &[u8]) -> Result<BitReader, String> {
        if !stored.len().is_multiple_of(4) {
            return Err(format!("{} bytes of adaptively coded bits are not whole 32-bit words", stored.len()));
        }
        let words: Vec<u32> =
            stored.chunks_exact(4).map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes"))).collect();
        let coder =
            DefaultRangeDecoder::from_compressed(words).map_err(|_| "the coded bits do not start a range coder")?;
        Ok(BitReader { coder })
    }

    pub fn bit(&mut self, context: &mut BitContext) -> Result<bool, String> {
        let bit = self.decode(context.model())?;
        context.update(bit);
        Ok(bit)
    }

    pub fn even_bits(&mut self, count: u32) -> Result<u64, String> {
        (0..count).try_fold(0u64, |value, _| Ok(value << 1 | u64::from(self.decode(EVEN)?)))
    }

    fn decode(&mut self, model: Bernoulli) -> Result<bool, String> {
        self.coder.decode_symbol(model).map_err(|e| format!("the coded bits are damaged: {e}"))
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

    #[test]
    fn bytes_that_are_not_whole_words_are_refused() {
        assert!(BitReader::new(&[1, 2, 3]).is_err());
    }
}
