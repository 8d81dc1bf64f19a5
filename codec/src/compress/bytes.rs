//! Numbers to bytes and back, laid out so that zstd finds the redundancy: integers as
//! zigzag varints (small residuals take one byte), fixed-width codes split into byte planes
//! (the high bytes of nearby codes are alike).

use super::corrupt::CorruptSection;
use crate::wire::{push_ivarint, ByteReader};
pub use crate::wire::{unzigzag, zigzag};

/// Signed integers as zigzag varints.
pub fn encode_varints(values: impl IntoIterator<Item = i64>) -> Vec<u8> {
    let mut out = vec![];
    values.into_iter().for_each(|v| push_ivarint(&mut out, v));
    out
}

pub fn decode_varints(bytes: &[u8], count: usize) -> Result<Vec<i64>, CorruptSection> {
    let mut values = Vec::with_capacity(count.min(bytes.len()));
    let mut reader = ByteReader::new(bytes);
    while !reader.is_empty() {
        values.push(reader.ivarint()?);
    }
    if values.len() != count {
        return Err(CorruptSection::VarintCount { expected: count, found: values.len() });
    }
    Ok(values)
}

/// Unsigned codes of `width` bytes each, stored plane by plane (all lowest bytes first), as
/// balerc wrote latent codes before it entropy coded them; kept to test reading those files.
#[cfg(test)]
pub fn encode_planes(codes: &[u32], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(codes.len() * width);
    for plane in 0..width {
        out.extend(codes.iter().map(|&c| (c >> (8 * plane)) as u8));
    }
    out
}

pub fn decode_planes(bytes: &[u8], width: usize, count: usize) -> Result<Vec<u32>, CorruptSection> {
    if bytes.len() != width * count {
        return Err(CorruptSection::PlaneBytes { expected: width * count, found: bytes.len() });
    }
    let mut codes = vec![0u32; count];
    for (plane, chunk) in bytes.chunks(count.max(1)).enumerate().take(width) {
        for (code, &b) in codes.iter_mut().zip(chunk) {
            *code |= u32::from(b) << (8 * plane);
        }
    }
    Ok(codes)
}

pub fn encode_f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Values that f32 holds exactly, in half the bytes.
pub fn encode_f32s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect()
}

pub fn decode_f32s(bytes: &[u8]) -> Result<Vec<f64>, CorruptSection> {
    if !bytes.len().is_multiple_of(4) {
        return Err(CorruptSection::PartialFloats { len: bytes.len(), bits: 32 });
    }
    Ok(bytes.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes")))).collect())
}

pub fn encode_f16s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|&v| half::f16::from_f64(v).to_le_bytes()).collect()
}

pub fn decode_f16s(bytes: &[u8]) -> Result<Vec<f64>, CorruptSection> {
    if !bytes.len().is_multiple_of(2) {
        return Err(CorruptSection::PartialFloats { len: bytes.len(), bits: 16 });
    }
    Ok(bytes.chunks_exact(2).map(|b| f64::from(half::f16::from_le_bytes(b.try_into().expect("2 bytes")))).collect())
}

pub fn decode_f64s(bytes: &[u8]) -> Result<Vec<f64>, CorruptSection> {
    if !bytes.len().is_multiple_of(8) {
        return Err(CorruptSection::PartialFloats { len: bytes.len(), bits: 64 });
    }
    Ok(bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(values in proptest::collection::vec(any::<i64>(), 0..50)) {
            let bytes = encode_varints(values.iter().copied());
            prop_assert_eq!(decode_varints(&bytes, values.len()).unwrap(), values);
        }

        #[test]
        fn planes_round_trip(codes in proptest::collection::vec(any::<u32>(), 0..50)) {
            let bytes = encode_planes(&codes, 4);
            prop_assert_eq!(decode_planes(&bytes, 4, codes.len()).unwrap(), codes);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), count in 0usize..20) {
            let _ = decode_varints(&bytes, count);
            let _ = decode_planes(&bytes, 2, count);
            let _ = decode_f64s(&bytes);
        }
    }

    proptest! {
        #[test]
        fn a_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), count in 0usize..50) {
            let mut reader = ByteReader::new(&bytes);
            let _ = reader.uvarint();
            let _ = reader.take(count);
        }
    }

    #[test]
    fn small_residuals_take_one_byte() {
        assert_eq!(encode_varints([0, -1, 1, 63, -64]).len(), 5);
        assert_eq!(encode_varints([64]).len(), 2);
    }
}
