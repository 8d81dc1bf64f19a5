//! Latent values stored as uniform integer codes: per chunk and latent dimension, the range
//! [lo, hi] is split into 2^bits - 1 steps.

use super::bytes;

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
    for d in 0..width {
        let column = (0..samples).map(|s| latent[s * width + d]);
        let (lo, hi) = column.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
        let step = if hi > lo { (hi - lo) / levels(bits) } else { 1.0 };
        codes.extend(column.map(|v| ((v - lo) / step).round().clamp(0.0, levels(bits)) as u32));
        ranges.extend([lo, hi]);
    }
    QuantizedLatent { ranges, codes }
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

pub fn to_sections(q: &QuantizedLatent, bits: u32) -> (Vec<u8>, Vec<u8>) {
    (bytes::encode_f64s(&q.ranges), bytes::encode_planes(&q.codes, code_bytes(bits)))
}

pub fn from_sections(
    ranges: &[u8],
    codes: &[u8],
    width: usize,
    samples: usize,
    bits: u32,
) -> Result<QuantizedLatent, String> {
    let ranges = bytes::decode_f64s(ranges)?;
    if ranges.len() != 2 * width {
        return Err(format!("the latent ranges hold {} values, expected {}", ranges.len(), 2 * width));
    }
    let codes = bytes::decode_planes(codes, code_bytes(bits), width * samples)?;
    Ok(QuantizedLatent { ranges, codes })
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
    fn hardware_codes_come_back_exactly() {
        let latent = vec![-32768, 5, 32767, -1, 0, 7, 12, -3];
        let q = from_hardware_codes(&latent, 2);
        assert_eq!(hardware_codes(&q, 2), Some(latent));
    }

    #[test]
    fn constant_dimensions_come_back_exactly() {
        let q = quantize(&[2.5, 1.0, 2.5, 2.0], 2, 8);
        assert_eq!(dequantize(&q, 2, 8), vec![2.5, 1.0, 2.5, 2.0]);
    }
}
