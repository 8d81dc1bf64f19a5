//! Numbers to bytes and back, laid out so that zstd finds the redundancy: integers as
//! zigzag varints (small residuals take one byte), fixed-width codes split into byte planes
//! (the high bytes of nearby codes are alike).

/// Signed to unsigned with small magnitudes small: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Signed integers as zigzag LEB128 varints.
pub fn encode_varints(values: impl IntoIterator<Item = i64>) -> Vec<u8> {
    let mut out = vec![];
    for v in values {
        let mut z = zigzag(v);
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    out
}

/// An unsigned LEB128 varint, appended.
pub fn push_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a byte string front to back; every read says what is missing instead of panicking.
pub struct ByteReader<'a> {
    rest: &'a [u8],
}

impl<'a> ByteReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteReader { rest: bytes }
    }

    pub fn uvarint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for (i, &b) in self.rest.iter().enumerate().take(10) {
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err("a varint is longer than 64 bits".into());
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err(match self.rest.len() < 10 {
            true => "the bytes end inside a varint".into(),
            false => "a varint is longer than 64 bits".into(),
        })
    }

    /// A varint that counts things which must fit in memory.
    pub fn length(&mut self) -> Result<usize, String> {
        let value = self.uvarint()?;
        usize::try_from(value).map_err(|_| format!("a length of {value} is too large"))
    }

    pub fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        if count > self.rest.len() {
            return Err(format!("{count} bytes expected, {} left", self.rest.len()));
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

pub fn decode_varints(bytes: &[u8], count: usize) -> Result<Vec<i64>, String> {
    let mut values = Vec::with_capacity(count.min(bytes.len()));
    let (mut z, mut shift) = (0u64, 0u32);
    for &b in bytes {
        if shift > 63 {
            return Err("a varint is longer than 64 bits".into());
        }
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            values.push(unzigzag(z));
            (z, shift) = (0, 0);
        } else {
            shift += 7;
        }
    }
    if shift != 0 || values.len() != count {
        return Err(format!("expected {count} varints, found {}", values.len()));
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

pub fn decode_planes(bytes: &[u8], width: usize, count: usize) -> Result<Vec<u32>, String> {
    if bytes.len() != width * count {
        return Err(format!("expected {} bytes of codes, found {}", width * count, bytes.len()));
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

pub fn decode_f32s(bytes: &[u8]) -> Result<Vec<f64>, String> {
    if !bytes.len().is_multiple_of(4) {
        return Err(format!("{} bytes are not a whole number of float32 values", bytes.len()));
    }
    Ok(bytes.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes")))).collect())
}

pub fn encode_f16s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|&v| half::f16::from_f64(v).to_le_bytes()).collect()
}

pub fn decode_f16s(bytes: &[u8]) -> Result<Vec<f64>, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("{} bytes are not a whole number of float16 values", bytes.len()));
    }
    Ok(bytes.chunks_exact(2).map(|b| f64::from(half::f16::from_le_bytes(b.try_into().expect("2 bytes")))).collect())
}

pub fn decode_f64s(bytes: &[u8]) -> Result<Vec<f64>, String> {
    if !bytes.len().is_multiple_of(8) {
        return Err(format!("{} bytes are not a whole number of float64 values", bytes.len()));
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
        fn uvarints_round_trip(values in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut bytes = vec![];
            values.iter().for_each(|&v| push_uvarint(&mut bytes, v));
            let mut reader = ByteReader::new(&bytes);
            let back: Vec<u64> = values.iter().map(|_| reader.uvarint().unwrap()).collect();
            prop_assert_eq!(back, values);
            prop_assert!(reader.rest().is_empty());
        }

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
