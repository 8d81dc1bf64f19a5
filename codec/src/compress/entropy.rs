//! Unsigned integers of `F` interleaved features (value i belongs to feature i % F), entropy
//! coded with one static model per feature. The residuals of two dozen columns follow two dozen
//! different distributions; a model per column codes each near its entropy, where zstd over the
//! interleaved bytes cannot tell them apart.
//!
//! More generally, each value belongs to one of several *streams*, decided from the values
//! before it ([`encode_streams`]): a field's residuals, for instance, are larger next to large
//! ones, and a model per neighbourhood codes each kind near its own entropy.
//!
//! Per stream (feature), values below a window K are symbols 0..K of a categorical model, and a larger
//! value is the escape symbol K followed by value - K as a varint. K is a power of two, chosen
//! per feature to make that feature's bytes smallest. The symbol counts are stored (scaled
//! down), and coder and decoder derive the same fixed-point probabilities from them, in which
//! every symbol, seen or not, has a nonzero probability. The coder is rANS with the layout of
//! constriction's `DefaultAnsCoder` (which wrote the files of earlier versions): the same words
//! for the same symbols, coded here with tables of cumulative probabilities.
//!
//! Layout:
//! - the number of values (varint), so that a mismatch is an error, not a misreading;
//! - per stream: K (varint), then K + 1 scaled counts (varints), the escape's last;
//! - the number of 32-bit ANS words (varint), then the words, little-endian;
//! - per escaped value, in order: the value minus its stream's K (varint).

use super::corrupt::CorruptSection;
use crate::wire::{push_uvarint, uvarint_len, ByteReader};

/// The widest window: 4096 symbols keep a model's stored counts small beside the data.
const MAX_WINDOW: u64 = 1 << 12;
/// Counts are stored scaled to about this total; finer counts cost more to store than they save.
const COUNT_TOTAL: u64 = 1 << 14;
/// Probabilities are in units of 2^-24, as constriction's default models have them.
pub(super) const PRECISION: u32 = 24;

/// The values of one feature, summarized for choosing its window.
pub(super) struct FeatureStats {
    /// How often each value below `MAX_WINDOW` occurs.
    histogram: Vec<u64>,
    /// The values at or above `MAX_WINDOW`, which always escape.
    large: Vec<u64>,
}

impl FeatureStats {
    fn new() -> FeatureStats {
        FeatureStats { histogram: vec![0; MAX_WINDOW as usize], large: vec![] }
    }

    pub(super) fn of<'a>(values: impl Iterator<Item = &'a u64>) -> FeatureStats {
        FeatureStats::of_values(values.copied())
    }

    fn of_values(values: impl Iterator<Item = u64>) -> FeatureStats {
        let mut stats = FeatureStats::new();
        values.for_each(|v| stats.add(v));
        stats
    }

    #[inline]
    fn add(&mut self, v: u64) {
        match self.histogram.get_mut(v as usize) {
            Some(count) => *count += 1,
            None => self.large.push(v),
        }
    }

    /// Counts of symbols 0..window and, last, of the escape.
    fn counts(&self, window: u64) -> Vec<u64> {
        let (inside, outside) = self.histogram.split_at(window as usize);
        let escapes = outside.iter().sum::<u64>() + self.large.len() as u64;
        inside.iter().copied().chain([escapes]).collect()
    }

    /// Bits this feature costs with a window: coded symbols, stored counts and escaped varints.
    /// Symbol by symbol: the reference for [`WindowCosts::bits`], which gives the same number
    /// faster.
    fn cost_bits(&self, window: u64) -> f64 {
        let counts = self.counts(window);
        let scaled = scaled_counts(&counts);
        let probabilities = probabilities(&scaled).expect("scaled counts of real data form a model");
        let coded: f64 = counts
            .iter()
            .zip(&probabilities)
            .filter(|(&c, _)| c > 0)
            .map(|(&c, &p)| c as f64 * (f64::from(PRECISION) - f64::from(p).log2()))
            .sum();
        let escaped_inside = self.histogram[window as usize..].iter().enumerate();
        let escaped: u64 = escaped_inside.map(|(offset, &count)| count * uvarint_len(offset as u64)).sum::<u64>()
            + self.large.iter().map(|&v| uvarint_len(v - window)).sum::<u64>();
        let table: u64 = uvarint_len(window) + scaled.iter().map(|&c| uvarint_len(c)).sum::<u64>();
        coded + 8.0 * (escaped + table) as f64
    }

    fn best_window(&self) -> u64 {
        // Without escapes beyond the histogram, a window past the largest value only adds
        // symbols that never occur, each costing a stored count: it is never the smallest.
        let largest = self.histogram.iter().rposition(|&c| c > 0).unwrap_or(0) as u64;
        let widest = match self.large.is_empty() {
            true => (largest + 1).next_power_of_two().min(MAX_WINDOW),
            false => MAX_WINDOW,
        };
        let candidates = (0..=widest.trailing_zeros()).map(|k| 1u64 << k);
        let costs = WindowCosts::of(self);
        let costs = candidates.map(|w| (costs.bits(w), w));
        costs.min_by(|a, b| a.0.total_cmp(&b.0)).map_or(1, |(_, w)| w)
    }
}

/// A feature's costs per window, from its occurring values alone: the values that never occur
/// cost one stored count each and nothing else, so a window's cost is a sum over the few
/// values that do, not over every symbol of the window.
struct WindowCosts<'s> {
    stats: &'s FeatureStats,
    /// The values below `MAX_WINDOW` that occur, ascending, with their counts.
    occurring: Vec<(u64, u64)>,
}

impl<'s> WindowCosts<'s> {
    fn of(stats: &'s FeatureStats) -> WindowCosts<'s> {
        let occurring = stats.histogram.iter().enumerate().filter(|(_, &c)| c > 0);
        WindowCosts { stats, occurring: occurring.map(|(v, &c)| (v as u64, c)).collect() }
    }

    /// The bits of [`FeatureStats::cost_bits`] with this window, to the last bit: the same
    /// scaled counts and probabilities, summed in the same order.
    fn bits(&self, window: u64) -> f64 {
        let inside = self.occurring.partition_point(|&(v, _)| v < window);
        let (coded_symbols, escaping) = self.occurring.split_at(inside);
        let escapes = escaping.iter().map(|&(_, c)| c).sum::<u64>() + self.stats.large.len() as u64;
        // The counts of the model: those of the values inside, then the escape's.
        let counts: Vec<u64> = coded_symbols.iter().map(|&(_, c)| c).chain([escapes]).collect();
        let total: u64 = counts.iter().sum();
        let scaled = scaled_counts(&counts);
        let symbols = window + 1;
        let free = (1u64 << PRECISION) - symbols;
        let Some(mut probabilities) = occurring_probabilities(&scaled, total, free) else {
            return self.stats.cost_bits(window);
        };
        // Every symbol that never occurs has probability 1; the largest takes what is left.
        let never = symbols - coded_symbols.len() as u64 - 1;
        let largest = (0..probabilities.len()).max_by_key(|&i| (probabilities[i], std::cmp::Reverse(i))).unwrap_or(0);
        probabilities[largest] += (1u64 << PRECISION) - probabilities.iter().sum::<u64>() - never;
        let coded: f64 = counts
            .iter()
            .zip(&probabilities)
            .filter(|(&c, _)| c > 0)
            .map(|(&c, &p)| c as f64 * (f64::from(PRECISION) - (p as u32 as f64).log2()))
            .sum();
        let escaped: u64 = escaping.iter().map(|&(v, c)| c * uvarint_len(v - window)).sum::<u64>()
            + self.stats.large.iter().map(|&v| uvarint_len(v - window)).sum::<u64>();
        let table: u64 = uvarint_len(window) + never + scaled.iter().map(|&c| uvarint_len(c)).sum::<u64>();
        coded + 8.0 * (escaped + table) as f64
    }
}

/// The probabilities [`probabilities`] gives the occurring symbols and the escape, or None
/// where a symbol that never occurs could be the largest (all probabilities 1), which the
/// full computation settles.
fn occurring_probabilities(scaled: &[u64], total: u64, free: u64) -> Option<Vec<u64>> {
    let scaled_total: u64 = scaled.iter().sum();
    if total == 0 || scaled_total == 0 || scaled_total >= 1 << 40 {
        return None;
    }
    let probabilities: Vec<u64> = scaled.iter().map(|&c| 1 + c * free / scaled_total).collect();
    probabilities.iter().any(|&p| p > 1).then_some(probabilities)
}

/// Counts scaled to about `COUNT_TOTAL`, a symbol that occurs keeping a count of at least 1.
fn scaled_counts(counts: &[u64]) -> Vec<u64> {
    let total: u64 = counts.iter().sum();
    if total <= COUNT_TOTAL {
        return counts.to_vec();
    }
    let scale = |c: u64| (u128::from(c) * u128::from(COUNT_TOTAL) + u128::from(total / 2)) / u128::from(total);
    counts.iter().map(|&c| if c == 0 { 0 } else { (scale(c) as u64).max(1) }).collect()
}

/// Fixed-point probabilities summing to 2^PRECISION, each at least 1 so that any symbol can be
/// coded, the rest shared in proportion to the counts. Damaged counts give an error or a
/// useless model, never a panic.
fn probabilities(counts: &[u64]) -> Result<Vec<u32>, CorruptSection> {
    let symbols = counts.len() as u64;
    let one = 1u64 << PRECISION;
    if symbols == 0 || symbols > one {
        return Err(CorruptSection::ModelSize(symbols));
    }
    let free = one - symbols;
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    let mut probabilities: Vec<u64> = match u64::try_from(total) {
        Ok(0) => vec![1 + free / symbols; counts.len()],
        // c * free fits: c <= total < 2^40 and free < 2^24. The same quotients as in u128.
        Ok(total) if total < 1 << 40 => counts.iter().map(|&c| 1 + c * free / total).collect(),
        _ => counts.iter().map(|&c| 1 + (u128::from(c) * u128::from(free) / total) as u64).collect(),
    };
    let largest = (0..probabilities.len()).max_by_key(|&i| (probabilities[i], std::cmp::Reverse(i))).unwrap_or(0);
    probabilities[largest] += one - probabilities.iter().sum::<u64>();
    Ok(probabilities.into_iter().map(|p| p as u32).collect())
}

/// cdf[s], the sum of the probabilities of the symbols before s, for every s and one past the
/// last (2^PRECISION).
fn cumulative(probabilities: &[u32]) -> Vec<u32> {
    let mut cdf = Vec::with_capacity(probabilities.len() + 1);
    let mut sum = 0u32;
    cdf.push(0);
    for &p in probabilities {
        sum += p;
        cdf.push(sum);
    }
    cdf
}

/// The bits one feature's values cost in [`encode`] at their best window (symbols, model and
/// escapes; the coder's last word or two aside): for choosing between codings without coding.
pub fn feature_bits(values: impl Iterator<Item = u64>) -> f64 {
    let stats = FeatureStats::of_values(values);
    stats.cost_bits(stats.best_window())
}

pub fn encode(values: &[u64], features: usize) -> Vec<u8> {
    let features = features.max(1);
    let stats = (0..features).map(|f| FeatureStats::of(values.iter().skip(f).step_by(features))).collect();
    encode_with_stats(values, stats, FeatureCycle::new(values.len(), features))
}

pub fn decode(bytes: &[u8], count: usize, features: usize) -> Result<Vec<u64>, CorruptSection> {
    let features = features.max(1);
    let mut next = 0;
    // A counter, not `i % features`: a division for every value would cost more than its decoding.
    let stream = move |_: usize, _: &[u64]| {
        let feature = next;
        next = if next + 1 == features { 0 } else { next + 1 };
        feature
    };
    decode_streams(bytes, count, features, stream)
}

/// The feature of each of `len` interleaved values, from either end, counted rather than
/// divided out.
#[derive(Clone)]
struct FeatureCycle {
    features: usize,
    front: usize,
    back: usize,
    len: usize,
}

impl FeatureCycle {
    fn new(len: usize, features: usize) -> FeatureCycle {
        FeatureCycle { features, front: 0, back: len.saturating_sub(1) % features, len }
    }
}

impl Iterator for FeatureCycle {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let feature = self.front;
        self.front = if feature + 1 == self.features { 0 } else { feature + 1 };
        self.len -= 1;
        Some(feature)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl DoubleEndedIterator for FeatureCycle {
    fn next_back(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let feature = self.back;
        self.back = if feature == 0 { self.features - 1 } else { feature - 1 };
        self.len -= 1;
        Some(feature)
    }
}

impl ExactSizeIterator for FeatureCycle {}

/// Codes `values` with one model per stream; `stream_of(i, before)` names value i's stream
/// (below `streams`) from the values before it, as the decoder will have them.
#[cfg(test)]
pub fn encode_streams(values: &[u64], streams: usize, stream_of: impl Fn(usize, &[u64]) -> usize) -> Vec<u8> {
    let of: Vec<usize> = (0..values.len()).map(|i| stream_of(i, &values[..i])).collect();
    let mut stats: Vec<FeatureStats> = (0..streams).map(|_| FeatureStats::new()).collect();
    for (&v, &s) in values.iter().zip(&of) {
        stats[s].add(v);
    }
    encode_with_stats(values, stats, of.iter().copied())
}

/// Codes `values` with the model of each stream's statistics; value i is in `stream(i)`.
fn encode_with_stats(
    values: &[u64],
    stats: Vec<FeatureStats>,
    streams: impl DoubleEndedIterator<Item = usize> + ExactSizeIterator + Clone,
) -> Vec<u8> {
    let mut out = vec![];
    push_uvarint(&mut out, values.len() as u64);
    let (windows, cdfs) = write_models(&mut out, &stats);
    let mut coder = AnsEncoder::default();
    // A stack: the last value coded is the first decoded.
    for (&v, s) in values.iter().zip(streams.clone()).rev() {
        let (symbol, cdf) = (v.min(windows[s]) as usize, &cdfs[s]);
        coder.encode(cdf[symbol], cdf[symbol + 1] - cdf[symbol]);
    }
    write_words_and_escapes(&mut out, &coder.into_words(), values, streams, &windows);
    out
}

/// Each stream's window and scaled counts, appended; returns the windows and the cumulative
/// probabilities the coder codes with.
pub(super) fn write_models(out: &mut Vec<u8>, stats: &[FeatureStats]) -> (Vec<u64>, Vec<Vec<u32>>) {
    let mut windows = Vec::with_capacity(stats.len());
    let mut cdfs = Vec::with_capacity(stats.len());
    for stats in stats {
        let window = stats.best_window();
        let counts = scaled_counts(&stats.counts(window));
        push_uvarint(out, window);
        counts.iter().for_each(|&c| push_uvarint(out, c));
        cdfs.push(cumulative(&probabilities(&counts).expect("scaled counts of real data form a model")));
        windows.push(window);
    }
    (windows, cdfs)
}

/// The coder's words (a count, then little-endian), then each escaped value in value order.
pub(super) fn write_words_and_escapes(
    out: &mut Vec<u8>,
    words: &[u32],
    values: &[u64],
    streams: impl Iterator<Item = usize>,
    windows: &[u64],
) {
    push_uvarint(out, words.len() as u64);
    out.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    for (&v, s) in values.iter().zip(streams) {
        let window = windows[s];
        if v >= window {
            push_uvarint(out, v - window);
        }
    }
}

/// The values [`encode_streams`] coded, with the same streams.
pub fn decode_streams(
    bytes: &[u8],
    count: usize,
    streams: usize,
    mut stream_of: impl FnMut(usize, &[u64]) -> usize,
) -> Result<Vec<u64>, CorruptSection> {
    let mut reader = ByteReader::new(bytes);
    let stored = reader.uvarint()?;
    if stored != count as u64 {
        return Err(CorruptSection::CodedCount { stored, count });
    }
    let (windows, models) = read_models(&mut reader, streams)?;
    let words = read_words(&mut reader)?;
    let mut coder = AnsDecoder::new(words).ok_or(CorruptSection::EndsInZeroWord)?;
    // The escapes follow the words in value order, so each value is whole before the next one's
    // stream is decided from it.
    let mut values = Vec::with_capacity(count.min(1 << 24));
    for i in 0..count {
        let stream = stream_of(i, &values);
        let (model, window) = models.get(stream).zip(windows.get(stream)).ok_or(CorruptSection::StreamWithoutModel)?;
        let mut v = coder.decode(model) as u64;
        if v == *window {
            v = window.checked_add(reader.uvarint()?).ok_or(CorruptSection::EscapeOverflow)?;
        }
        values.push(v);
    }
    if !coder.is_empty() {
        return Err(CorruptSection::SymbolCount(count));
    }
    if !reader.rest().is_empty() {
        return Err(CorruptSection::TrailingValues(reader.rest().len()));
    }
    Ok(values)
}

/// What [`write_models`] wrote for `streams` streams: their windows and decoding tables.
pub(super) fn read_models(
    reader: &mut ByteReader,
    streams: usize,
) -> Result<(Vec<u64>, Vec<DecodingTable>), CorruptSection> {
    let mut windows = Vec::with_capacity(streams.min(reader.rest().len()));
    let mut models = Vec::with_capacity(streams.min(reader.rest().len()));
    for _ in 0..streams {
        let window = reader.uvarint()?;
        if !(1..=MAX_WINDOW).contains(&window) {
            return Err(CorruptSection::WindowOutOfRange { window, max: MAX_WINDOW });
        }
        let counts = (0..=window).map(|_| reader.uvarint()).collect::<Result<Vec<_>, _>>()?;
        models.push(DecodingTable::new(&probabilities(&counts)?));
        windows.push(window);
    }
    Ok((windows, models))
}

/// The coder's words, as [`write_words_and_escapes`] wrote them.
pub(super) fn read_words(reader: &mut ByteReader) -> Result<Vec<u32>, CorruptSection> {
    let word_count = reader.length()?;
    let word_bytes = reader.take(word_count.checked_mul(4).ok_or(CorruptSection::TooManyWords)?)?;
    Ok(word_bytes.chunks_exact(4).map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes"))).collect())
}

/// Quantiles are looked up in buckets of 2^(PRECISION - BUCKET_BITS): 2 KB a model, so that
/// the models of two dozen interleaved features stay in a core's L1 cache.
const BUCKET_BITS: u32 = 10;

/// A model's cumulative probabilities, with the first symbol of each bucket of quantiles, so
/// that decoding a symbol searches a bucket's few symbols instead of the whole model.
pub(super) struct DecodingTable {
    /// cdf[s] is the sum of the probabilities of the symbols before s; the last is 2^PRECISION.
    cdf: Vec<u32>,
    /// The symbol whose interval holds each bucket's first quantile (a model has at most
    /// MAX_WINDOW + 1 symbols).
    first_in_bucket: Vec<u16>,
}

impl DecodingTable {
    /// `probabilities` are nonzero and sum to 2^PRECISION, as [`probabilities`] makes them.
    fn new(probabilities: &[u32]) -> DecodingTable {
        let cdf = cumulative(probabilities);
        let shift = PRECISION - BUCKET_BITS;
        let mut first_in_bucket = Vec::with_capacity(1 << BUCKET_BITS);
        let mut symbol = 0usize;
        for bucket in 0..1u32 << BUCKET_BITS {
            while cdf[symbol + 1] <= bucket << shift {
                symbol += 1;
            }
            first_in_bucket.push(symbol as u16);
        }
        DecodingTable { cdf, first_in_bucket }
    }

    /// The symbol whose interval holds `quantile`, its interval's start and its probability.
    #[inline]
    pub(super) fn find(&self, quantile: u32) -> (usize, u32, u32) {
        let bucket = (quantile >> (PRECISION - BUCKET_BITS)) as usize;
        let first = self.first_in_bucket[bucket] as usize;
        let last = self.first_in_bucket.get(bucket + 1).map_or(self.cdf.len() - 2, |&s| s as usize);
        // Most buckets lie inside one symbol's interval and most others hold a few boundaries,
        // walked in turn; a bucket of many rare symbols is searched.
        let symbol = match last - first {
            0..=8 => {
                let mut symbol = first;
                while self.cdf[symbol + 1] <= quantile {
                    symbol += 1;
                }
                symbol
            }
            _ => first + self.cdf[first + 1..=last].partition_point(|&c| c <= quantile),
        };
        (symbol, self.cdf[symbol], self.cdf[symbol + 1] - self.cdf[symbol])
    }
}

/// Encodes as constriction's `DefaultAnsCoder` does: a 64-bit state, 32-bit words pushed when
/// the next symbol would overflow it, and the state's nonzero words last, low word first.
#[derive(Default)]
struct AnsEncoder {
    words: Vec<u32>,
    state: u64,
}

impl AnsEncoder {
    /// Codes a symbol of the interval [start, start + probability) of 2^PRECISION.
    #[inline]
    fn encode(&mut self, start: u32, probability: u32) {
        let probability = u64::from(probability);
        if self.state >> (64 - PRECISION) >= probability {
            self.words.push(self.state as u32);
            self.state >>= 32;
        }
        let (prefix, remainder) = (self.state / probability, self.state % probability);
        self.state = (prefix << PRECISION) | (u64::from(start) + remainder);
    }

    fn into_words(mut self) -> Vec<u32> {
        if self.state != 0 {
            self.words.push(self.state as u32);
            if self.state >> 32 != 0 {
                self.words.push((self.state >> 32) as u32);
            }
        }
        self.words
    }
}

/// Decodes what constriction's `DefaultAnsCoder` encodes (a stack of 32-bit words, a 64-bit
/// state, probabilities of PRECISION bits), symbol for symbol the same, with the bucket
/// lookup of [`DecodingTable`] in place of a search of the whole model.
struct AnsDecoder {
    words: Vec<u32>,
    state: u64,
}

impl AnsDecoder {
    /// None when the last word is zero, which no encoder writes.
    fn new(mut words: Vec<u32>) -> Option<AnsDecoder> {
        let Some(first) = words.pop() else { return Some(AnsDecoder { words, state: 0 }) };
        if first == 0 {
            return None;
        }
        let mut state = u64::from(first);
        while state < 1 << 32 {
            let Some(word) = words.pop() else { break };
            state = (state << 32) | u64::from(word);
        }
        Some(AnsDecoder { words, state })
    }

    #[inline]
    fn decode(&mut self, model: &DecodingTable) -> usize {
        let quantile = (self.state & ((1 << PRECISION) - 1)) as u32;
        let (symbol, start, probability) = model.find(quantile);
        self.state = (self.state >> PRECISION) * u64::from(probability) + u64::from(quantile - start);
        if self.state < 1 << 32 {
            if let Some(word) = self.words.pop() {
                self.state = (self.state << 32) | u64::from(word);
            }
        }
        symbol
    }

    /// Whether every coded symbol has been read.
    fn is_empty(&self) -> bool {
        self.state == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn window_costs_are_those_of_every_symbol(
            values in proptest::collection::vec(prop_oneof![0u64..40, 0u64..5000, Just(1u64 << 20)], 0..400),
        ) {
            let stats = FeatureStats::of(values.iter());
            let costs = WindowCosts::of(&stats);
            for k in 0..=MAX_WINDOW.trailing_zeros() {
                prop_assert_eq!(costs.bits(1 << k).to_bits(), stats.cost_bits(1 << k).to_bits(), "window {}", 1 << k);
            }
        }
    }

    #[test]
    fn window_costs_of_many_values_are_those_of_every_symbol() {
        // Past COUNT_TOTAL values, counts are scaled down.
        let mut state = 7u64;
        let values: Vec<u64> = (0..200_000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) % 97 + if state.is_multiple_of(1000) { 9000 } else { 0 }
            })
            .collect();
        let stats = FeatureStats::of(values.iter());
        let costs = WindowCosts::of(&stats);
        for k in 0..=MAX_WINDOW.trailing_zeros() {
            assert_eq!(costs.bits(1 << k).to_bits(), stats.cost_bits(1 << k).to_bits(), "window {}", 1 << k);
        }
    }

    fn round_trip(values: &[u64], features: usize) -> Vec<u64> {
        decode(&encode(values, features), values.len(), features).unwrap()
    }

    /// Mostly small values with occasional large ones, as residuals are.
    fn residual_like() -> impl Strategy<Value = u64> {
        prop_oneof![8 => 0u64..40, 1 => any::<u64>(), 1 => 0u64..10_000]
    }

    proptest! {
        #[test]
        fn values_round_trip(values in proptest::collection::vec(residual_like(), 0..400), features in 1usize..30) {
            prop_assert_eq!(round_trip(&values, features), values);
        }

        #[test]
        fn all_escapes_round_trip(values in proptest::collection::vec(MAX_WINDOW.., 0..100), features in 1usize..5) {
            prop_assert_eq!(round_trip(&values, features), values);
        }

        #[test]
        fn damage_is_an_error_not_a_panic(
            values in proptest::collection::vec(residual_like(), 1..200),
            position in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut bytes = encode(&values, 3);
            let at = position.index(bytes.len());
            bytes[at] ^= flip;
            if let Ok(back) = decode(&bytes, values.len(), 3) {
                prop_assert_eq!(back.len(), values.len());
            }
            prop_assert!(decode(&bytes[..at], values.len(), 3).is_err());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), count in 0usize..100) {
            let _ = decode(&bytes, count, 2);
        }
    }

    #[test]
    fn the_bucket_lookup_finds_every_quantile_s_symbol() {
        for counts in [vec![1000, 1, 0, 5, 70_000, 0, 0, 3], vec![1; 4097], vec![0, 0, 1], vec![5]] {
            let probabilities = probabilities(&counts).unwrap();
            let table = DecodingTable::new(&probabilities);
            let mut start = 0u32;
            for (symbol, &p) in probabilities.iter().enumerate() {
                for quantile in [start, start + p / 2, start + p - 1] {
                    assert_eq!(table.find(quantile), (symbol, start, p), "{counts:?} at {quantile}");
                }
                start += p;
            }
        }
    }

    proptest! {
        #[test]
        fn the_words_are_constrictions(
            counts in proptest::collection::vec(0u64..1000, 1..300),
            picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..2000),
        ) {
            use constriction::stream::model::DefaultContiguousCategoricalEntropyModel as Model;
            use constriction::stream::stack::DefaultAnsCoder;
            use constriction::UnwrapInfallible;
            let probabilities = probabilities(&counts).unwrap();
            let cdf = cumulative(&probabilities);
            let model = Model::from_nonzero_fixed_point_probabilities(&probabilities, false).unwrap();
            let symbols: Vec<usize> = picks.iter().map(|i| i.index(counts.len())).collect();
            let mut theirs = DefaultAnsCoder::new();
            theirs.encode_iid_symbols_reverse(&symbols, &model).unwrap();
            let mut ours = AnsEncoder::default();
            for &s in symbols.iter().rev() {
                ours.encode(cdf[s], probabilities[s]);
            }
            prop_assert_eq!(ours.into_words(), theirs.into_compressed().unwrap_infallible());
        }
    }

    #[test]
    fn features_cycle_from_either_end() {
        for (len, features) in [(0, 3), (1, 3), (7, 3), (9, 3), (5, 1)] {
            let forward: Vec<usize> = FeatureCycle::new(len, features).collect();
            assert_eq!(forward, (0..len).map(|i| i % features).collect::<Vec<_>>());
            let backward: Vec<usize> = FeatureCycle::new(len, features).rev().collect();
            assert_eq!(backward, forward.iter().rev().copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn empty_input_round_trips() {
        assert_eq!(round_trip(&[], 4), Vec::<u64>::new());
        assert_eq!(round_trip(&[], 1), Vec::<u64>::new());
    }

    #[test]
    fn the_wrong_count_is_refused() {
        let values: Vec<u64> = (0..1000).map(|i| (i * 7) % 13).collect();
        let bytes = encode(&values, 2);
        assert!(decode(&bytes, 999, 2).is_err());
        assert!(decode(&bytes, 1001, 2).is_err());
    }

    #[test]
    fn skewed_features_cost_near_their_entropy() {
        // Feature 0 is always 0, feature 1 uniform over 16 values: about 4 bits per pair.
        let values: Vec<u64> = (0..20_000u64).flat_map(|i| [0, (i * 2_654_435_761) % 16]).collect();
        let bytes = encode(&values, 2);
        assert!(bytes.len() < 10_000 + 200, "{} bytes", bytes.len());
    }

    #[test]
    fn probabilities_are_nonzero_and_sum_to_one() {
        for counts in [vec![0, 0], vec![5, 0, 0, 1], vec![u64::MAX, u64::MAX, 0], vec![1; 4097]] {
            let p = probabilities(&counts).unwrap();
            assert!(p.iter().all(|&p| p > 0));
            assert_eq!(p.iter().map(|&p| u64::from(p)).sum::<u64>(), 1 << PRECISION);
        }
    }
}
