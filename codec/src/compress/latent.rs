//! Latent values stored as uniform integer codes: per chunk and latent dimension, the range
//! [lo, hi] is split into 2^bits - 1 steps.

use super::corrupt::CorruptSection;
use super::{bytes, entropy, SectionName};
use half::f16;

pub struct QuantizedLatent {
    /// lo then hi of each dimension.
    pub ranges: Vec<f64>,
    pub codes: Vec<u32>,
}

fn levels(bits: u32) -> f64 {
    ((1u64 << bits) - 1) as f64
}

/// `latent` holds `samples` rows of `width` values; codes are stored dimension by dimension.
pub fn quantize(latent: &[f64], width: usize, bits: u32) -> QuantizedLatent {
    let samples = latent.len() / width;
    let mut ranges = Vec::with_capacity(2 * width);
    let mut codes = Vec::with_capacity(latent.len());
    let column = |d: usize| (0..samples).map(move |s| latent[s * width + d]);
    let exact: Vec<(f64, f64)> = (0..width)
        .map(|d| column(d).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v))))
        .collect();
    for (d, (lo, hi)) in stored_ranges(&exact).into_iter().enumerate() {
        let step = if hi > lo { (hi - lo) / levels(bits) } else { 1.0 };
        codes.extend(column(d).map(|v| ((v - lo) / step).round().clamp(0.0, levels(bits)) as u32));
        ranges.extend([lo, hi]);
    }
    QuantizedLatent { ranges, codes }
}

/// The ranges widened outward to values that take few bytes: f16 when that widens no range by
/// more than 1/256 of itself (a constant dimension not at all), else f32, which costs a
/// negligible fraction of a step.
fn stored_ranges(exact: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let empty = |&(lo, _): &(f64, f64)| !f64::is_finite(lo);
    let as_f16 = |&(lo, hi): &(f64, f64)| Some((f16_at_most(lo)?, f16_at_least(hi)?));
    let close = |(lo, hi): (f64, f64), (a, b): (f64, f64)| (b - a) - (hi - lo) <= (hi - lo) / 256.0;
    let f16 = exact.iter().map(|r| if empty(r) { Some((0.0, 0.0)) } else { as_f16(r).filter(|&w| close(*r, w)) });
    match f16.collect::<Option<Vec<_>>>() {
        Some(ranges) => ranges,
        None => {
            exact.iter().map(|r| if empty(r) { (0.0, 0.0) } else { (f32_at_most(r.0), f32_at_least(r.1)) }).collect()
        }
    }
}

/// The largest f32 at or below `v` (as f64).
fn f32_at_most(v: f64) -> f64 {
    let f = v as f32;
    f64::from(if f64::from(f) > v { f.next_down() } else { f })
}

fn f32_at_least(v: f64) -> f64 {
    let f = v as f32;
    f64::from(if f64::from(f) < v { f.next_up() } else { f })
}

/// The largest finite f16 at or below `v` (as f64), if there is one.
fn f16_at_most(v: f64) -> Option<f64> {
    let f = f16::from_f64(v);
    let below = match f64::from(f) > v {
        true if f.is_sign_negative() || f == f16::ZERO => f16::from_bits(f.to_bits().max(0x8000) + 1),
        true => f16::from_bits(f.to_bits() - 1),
        false => f,
    };
    Some(f64::from(below)).filter(|w| w.is_finite())
}

fn f16_at_least(v: f64) -> Option<f64> {
    f16_at_most(-v).map(|w| -w)
}

/// The section holding a chunk's latent ranges: the narrowest float that holds every bound
/// exactly (f16 or f32 for the float encoder's, f32 for hardware codes below 2^24, else f64).
pub fn range_section(q: &QuantizedLatent) -> (SectionName, Vec<u8>) {
    if q.ranges.iter().all(|&v| f64::from(f16::from_f64(v)) == v) {
        (SectionName::LatentRange16, bytes::encode_f16s(&q.ranges))
    } else if q.ranges.iter().all(|&v| f64::from(v as f32) == v) {
        (SectionName::LatentRange32, bytes::encode_f32s(&q.ranges))
    } else {
        (SectionName::LatentRange, bytes::encode_f64s(&q.ranges))
    }
}

/// The values the decoder sees, rows of `width`.
pub fn dequantize(q: &QuantizedLatent, width: usize, bits: u32) -> Vec<f64> {
    let samples = q.codes.len() / width.max(1);
    let mut latent = vec![0.0; q.codes.len()];
    for d in 0..width {
        let (lo, hi) = (q.ranges[2 * d], q.ranges[2 * d + 1]);
        let step = if hi > lo { (hi - lo) / levels(bits) } else { 0.0 };
        for s in 0..samples {
            latent[s * width + d] = lo + f64::from(q.codes[d * samples + s]) * step;
        }
    }
    latent
}

/// A hardware encoder's output codes, stored exactly: per dimension, the smallest and largest
/// code of the chunk, and each code as its offset from the smallest.
pub fn from_hardware_codes(latent: &[i64], width: usize) -> QuantizedLatent {
    let samples = latent.len() / width;
    let mut ranges = Vec::with_capacity(2 * width);
    let mut codes = Vec::with_capacity(latent.len());
    for d in 0..width {
        let column = (0..samples).map(|s| latent[s * width + d]);
        let lo = column.clone().min().unwrap_or(0);
        let hi = column.clone().max().unwrap_or(0);
        codes.extend(column.map(|c| (c - lo) as u32));
        ranges.extend([lo as f64, hi as f64]);
    }
    QuantizedLatent { ranges, codes }
}

/// The hardware codes back, rows of `width`; None when a stored code lies outside its
/// dimension's range (a damaged file).
pub fn hardware_codes(q: &QuantizedLatent, width: usize) -> Option<Vec<i64>> {
    let samples = q.codes.len() / width.max(1);
    let mut latent = vec![0; q.codes.len()];
    for d in 0..width {
        let (lo, hi) = (q.ranges[2 * d], q.ranges[2 * d + 1]);
        if !(lo.fract() == 0.0 && hi.fract() == 0.0 && lo <= hi && hi - lo < 2f64.powi(32)) {
            return None;
        }
        for s in 0..samples {
            let code = lo + f64::from(q.codes[d * samples + s]);
            if code > hi {
                return None;
            }
            latent[s * width + d] = code as i64;
        }
    }
    Some(latent)
}

pub fn code_bytes(bits: u32) -> usize {
    bits.div_ceil(8) as usize
}

/// How a chunk stores its latent codes: entropy coded, or in byte planes as earlier balerc did.
pub enum StoredCodes<'a> {
    Entropy(&'a [u8]),
    Planes(&'a [u8]),
}

pub fn from_sections(
    ranges: Vec<f64>,
    codes: StoredCodes,
    width: usize,
    samples: usize,
    bits: u32,
) -> Result<QuantizedLatent, CorruptSection> {
    if ranges.len() != 2 * width {
        return Err(CorruptSection::LatentRanges { found: ranges.len(), expected: 2 * width });
    }
    let codes = match codes {
        StoredCodes::Entropy(stored) => decode_entropy(stored, width, samples, bits)?,
        StoredCodes::Planes(stored) => bytes::decode_planes(stored, code_bytes(bits), width * samples)?,
    };
    Ok(QuantizedLatent { ranges, codes })
}

/// The most high bits the entropy model takes: more symbols would cost more to describe.
const MAX_MODELLED_BITS: u32 = 12;
/// How many low bits may be stored raw: beyond this, the model is always the better deal.
const MAX_RAW_BITS: u32 = 8;

/// The codes entropy coded, per latent dimension: the high bits with a model, the low bits,
/// nearly uniform at fine steps, packed raw. Every split the limits allow is costed from the
/// codes' statistics and the cheapest coded. Layout: the raw low bits per code (u8), the packed
/// low bits (least significant first), the entropy-coded high bits, samples one after another.
pub fn encode_entropy(q: &QuantizedLatent, width: usize, bits: u32) -> Vec<u8> {
    let fewest_raw = bits.saturating_sub(MAX_MODELLED_BITS);
    let most_raw = bits.min(fewest_raw + MAX_RAW_BITS);
    let samples = q.codes.len() / width.max(1);
    let split_bits = |raw: u32| {
        let high = |d: usize| q.codes[d * samples..(d + 1) * samples].iter().map(move |&c| u64::from(c) >> raw);
        (q.codes.len() as f64 * f64::from(raw)).ceil() + (0..width).map(|d| entropy::feature_bits(high(d))).sum::<f64>()
    };
    let cheapest = (fewest_raw..=most_raw).min_by(|&a, &b| split_bits(a).total_cmp(&split_bits(b)));
    split_codes(q, width, cheapest.unwrap_or(fewest_raw))
}

fn split_codes(q: &QuantizedLatent, width: usize, raw: u32) -> Vec<u8> {
    let samples = q.codes.len() / width.max(1);
    let sample_major = (0..q.codes.len()).map(|i| q.codes[(i % width) * samples + i / width]);
    let mut out = vec![raw as u8];
    out.extend(pack_low_bits(sample_major.clone(), raw));
    let high: Vec<u64> = sample_major.map(|c| u64::from(c) >> raw).collect();
    out.extend(entropy::encode(&high, width));
    out
}

pub fn decode_entropy(stored: &[u8], width: usize, samples: usize, bits: u32) -> Result<Vec<u32>, CorruptSection> {
    let count = width.checked_mul(samples).ok_or(CorruptSection::TooManyLatentCodes)?;
    let mut reader = crate::wire::ByteReader::new(stored);
    let raw = u32::from(reader.take(1)?[0]);
    if raw > bits {
        return Err(CorruptSection::RawBits { raw, bits });
    }
    let low_bytes = count.checked_mul(raw as usize).ok_or(CorruptSection::TooManyLatentCodes)?.div_ceil(8);
    let low = unpack_low_bits(reader.take(low_bytes)?, raw, count);
    let high = entropy::decode(reader.rest(), count, width)?;
    let mut codes = vec![0u32; count];
    for (i, (h, l)) in high.into_iter().zip(low).enumerate() {
        if h >> (bits - raw) != 0 {
            return Err(CorruptSection::LatentCodeTooWide(bits));
        }
        codes[(i % width) * samples + i / width] = ((h << raw) | l) as u32;
    }
    Ok(codes)
}

/// The lowest `raw` bits of each code, back to back.
fn pack_low_bits(codes: impl Iterator<Item = u32>, raw: u32) -> Vec<u8> {
    let (mut out, mut buffer, mut filled) = (vec![], 0u64, 0u32);
    for code in codes {
        buffer |= (u64::from(code) & ((1u64 << raw) - 1)) << filled;
        filled += raw;
        while filled >= 8 {
            out.push(buffer as u8);
            (buffer, filled) = (buffer >> 8, filled - 8);
        }
    }
    if filled > 0 {
        out.push(buffer as u8);
    }
    out
}

fn unpack_low_bits(packed: &[u8], raw: u32, count: usize) -> Vec<u64> {
    let (mut bytes, mut buffer, mut filled) = (packed.iter(), 0u64, 0u32);
    let mut low = Vec::with_capacity(count);
    for _ in 0..count {
        while filled < raw {
            buffer |= u64::from(*bytes.next().unwrap_or(&0)) << filled;
            filled += 8;
        }
        low.push(buffer & ((1u64 << raw) - 1));
        (buffer, filled) = (buffer >> raw, filled - raw);
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_at_most_half_a_step() {
        let latent: Vec<f64> = (0..300).map(|i| ((i * 37) % 101) as f64 * 0.173 - 4.0).collect();
        for bits in [4, 8, 16] {
            let q = quantize(&latent, 3, bits);
            let back = dequantize(&q, 3, bits);
            for d in 0..3 {
                let step = (q.ranges[2 * d + 1] - q.ranges[2 * d]) / levels(bits);
                for s in 0..100 {
                    assert!((back[s * 3 + d] - latent[s * 3 + d]).abs() <= step / 2.0 + 1e-12);
                }
            }
        }
    }

    #[test]
    fn ranges_widen_to_f16_where_that_costs_little_and_to_f32_elsewhere() {
        let latent = [0.1, -1.0 / 3.0, 2.0 / 3.0, 1e-9];
        let q = quantize(&latent, 2, 8);
        for d in 0..2 {
            let (lo, hi) = (q.ranges[2 * d], q.ranges[2 * d + 1]);
            let (a, b) = (latent[d].min(latent[2 + d]), latent[d].max(latent[2 + d]));
            assert!(lo <= a && hi >= b && (hi - lo) - (b - a) <= (b - a) / 256.0, "{lo} {hi} around {a} {b}");
        }
        let (name, stored) = range_section(&q);
        assert_eq!((name, stored.len()), (SectionName::LatentRange16, 8));
        assert_eq!(bytes::decode_f16s(&stored).unwrap(), q.ranges);

        // A narrow range far from zero would grow by whole f16 steps, and a constant must stay exact.
        for latent in [[100.0, 100.01], [0.1, 0.1]] {
            let q = quantize(&latent, 1, 8);
            let (name, stored) = range_section(&q);
            assert_eq!((name, stored.len()), (SectionName::LatentRange32, 8), "{latent:?}");
            assert!(q.ranges[0] <= latent[0] && q.ranges[1] >= latent[1]);
            assert_eq!(bytes::decode_f32s(&stored).unwrap(), q.ranges);
        }
        let huge = quantize(&[-1e6, 1e6], 1, 8);
        assert_eq!(range_section(&huge).0, SectionName::LatentRange32, "beyond f16's largest value");
        let wide = from_hardware_codes(&[0, (1 << 30) + 1], 1);
        assert_eq!(range_section(&wide).0, SectionName::LatentRange, "a code beyond f32's integers keeps f64");
    }

    #[test]
    fn hardware_codes_come_back_exactly() {
        let latent = vec![-32768, 5, 32767, -1, 0, 7, 12, -3];
        let q = from_hardware_codes(&latent, 2);
        assert_eq!(hardware_codes(&q, 2), Some(latent));
    }

    proptest::proptest! {
        #[test]
        fn entropy_coded_codes_round_trip(
            codes in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..120),
            width in 1usize..4,
            bits in 1u32..=32,
        ) {
            let samples = codes.len() / width;
            let mask = if bits == 32 { u32::MAX } else { (1 << bits) - 1 };
            let q = QuantizedLatent { ranges: vec![], codes: codes[..samples * width].iter().map(|c| c & mask).collect() };
            let stored = encode_entropy(&q, width, bits);
            proptest::prop_assert_eq!(decode_entropy(&stored, width, samples, bits).unwrap(), q.codes);
        }

        #[test]
        fn damaged_codes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = decode_entropy(&bytes, 2, 10, 16);
        }
    }

    #[test]
    fn constant_dimensions_come_back_exactly() {
        let q = quantize(&[2.5, 1.0, 2.5, 2.0], 2, 8);
        assert_eq!(dequantize(&q, 2, 8), vec![2.5, 1.0, 2.5, 2.0]);
    }
}
