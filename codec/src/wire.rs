//! The codec's bytes on the wire: one reader and one varint for the container and for every
//! section the codec writes.
//!
//! Numbers are unsigned LEB128 varints (seven bits a byte, lowest first, the high bit set on all
//! but the last) in their shortest form, signed ones zigzagged first; fixed-width numbers are
//! little-endian. A reader takes fields off the front of a byte string, and running out, an
//! overlong varint or one beyond 64 bits is an error, never a panic. No writer has ever written
//! an overlong varint, so refusing them costs no file that exists.

/// A varint holds a u64 in at most ten bytes (7 bits each, 64 = 9 × 7 + 1).
pub const MAX_VARINT_BYTES: usize = 10;

/// What reading a field can find wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{wanted} bytes expected, {left} left")]
    EndsEarly { wanted: usize, left: usize },
    #[error("the bytes end inside a varint")]
    EndsInVarint,
    #[error("a varint is longer than 64 bits")]
    VarintOverflow,
    #[error("a varint is written with more bytes than it needs")]
    VarintOverlong,
    #[error("a length of {0} is too large")]
    LengthTooLarge(u64),
    #[error("{0} bytes follow the last field")]
    Trailing(usize),
}

/// Reads fields off the front of a byte string.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    rest: &'a [u8],
}

impl<'a> ByteReader<'a> {
    pub fn new(bytes: &'a [u8]) -> ByteReader<'a> {
        ByteReader { rest: bytes }
    }

    pub fn take(&mut self, count: usize) -> Result<&'a [u8], WireError> {
        if count > self.rest.len() {
            return Err(WireError::EndsEarly { wanted: count, left: self.rest.len() });
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    /// `count` bytes where the count was read from the data itself, as a u64.
    pub fn take_u64(&mut self, count: u64) -> Result<&'a [u8], WireError> {
        match usize::try_from(count) {
            Ok(count) => self.take(count),
            Err(_) => Err(WireError::LengthTooLarge(count)),
        }
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// An unsigned varint in its shortest form: at most ten bytes, no value bits beyond the
    /// 64th, and no final zero byte after the first (which would write the same number longer).
    pub fn uvarint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().enumerate().take(MAX_VARINT_BYTES) {
            // The tenth byte holds bit 63 alone, and cannot go on.
            if i == MAX_VARINT_BYTES - 1 && byte > 1 {
                return Err(WireError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    return Err(WireError::VarintOverlong);
                }
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err(WireError::EndsInVarint)
    }

    /// A zigzagged varint.
    pub fn ivarint(&mut self) -> Result<i64, WireError> {
        self.uvarint().map(unzigzag)
    }

    /// A varint that counts things which must fit in memory.
    pub fn length(&mut self) -> Result<usize, WireError> {
        let value = self.uvarint()?;
        usize::try_from(value).map_err(|_| WireError::LengthTooLarge(value))
    }

    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Every byte must have been read.
    pub fn finish(self) -> Result<(), WireError> {
        match self.rest.len() {
            0 => Ok(()),
            left => Err(WireError::Trailing(left)),
        }
    }
}

/// An unsigned varint, appended.
pub fn push_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A signed varint (zigzagged), appended.
pub fn push_ivarint(out: &mut Vec<u8>, value: i64) {
    push_uvarint(out, zigzag(value));
}

/// The bytes [`push_uvarint`] writes for a value.
pub fn uvarint_len(value: u64) -> u64 {
    u64::from((64 - value.leading_zeros()).max(1).div_ceil(7))
}

/// Signed to unsigned with small magnitudes small: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip_in_the_length_they_claim(values in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut out = vec![];
            values.iter().for_each(|&v| push_uvarint(&mut out, v));
            prop_assert_eq!(out.len() as u64, values.iter().map(|&v| uvarint_len(v)).sum::<u64>());
            let mut reader = ByteReader::new(&out);
            for &v in &values {
                prop_assert_eq!(reader.uvarint(), Ok(v));
            }
            prop_assert_eq!(reader.finish(), Ok(()));
        }

        #[test]
        fn signed_varints_round_trip(values in proptest::collection::vec(any::<i64>(), 0..50)) {
            let mut out = vec![];
            values.iter().for_each(|&v| push_ivarint(&mut out, v));
            let mut reader = ByteReader::new(&out);
            for &v in &values {
                prop_assert_eq!(reader.ivarint(), Ok(v));
            }
        }

        #[test]
        fn any_bytes_read_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut reader = ByteReader::new(&bytes);
            while !reader.is_empty() {
                if reader.uvarint().is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn overlong_and_oversized_varints_are_refused() {
        assert_eq!(ByteReader::new(&[0x80, 0x00]).uvarint(), Err(WireError::VarintOverlong));
        assert_eq!(ByteReader::new(&[0x81, 0x80, 0x00]).uvarint(), Err(WireError::VarintOverlong));
        assert_eq!(ByteReader::new(&[0x00]).uvarint(), Ok(0));
        let mut largest = vec![0xff; 9];
        largest.push(0x01);
        assert_eq!(ByteReader::new(&largest).uvarint(), Ok(u64::MAX));
        largest[9] = 0x02;
        assert_eq!(ByteReader::new(&largest).uvarint(), Err(WireError::VarintOverflow));
        assert_eq!(ByteReader::new(&[0xff; 11]).uvarint(), Err(WireError::VarintOverflow));
        assert_eq!(ByteReader::new(&[0x80, 0x80]).uvarint(), Err(WireError::EndsInVarint));
        assert_eq!(ByteReader::new(&[]).uvarint(), Err(WireError::EndsInVarint));
    }

    #[test]
    fn running_out_says_how_much_was_missing() {
        let mut reader = ByteReader::new(&[1, 2, 3]);
        assert_eq!(reader.u16(), Ok(0x0201));
        assert_eq!(reader.u32(), Err(WireError::EndsEarly { wanted: 4, left: 1 }));
        assert_eq!(reader.clone().finish(), Err(WireError::Trailing(1)));
        assert_eq!(reader.u8(), Ok(3));
        assert_eq!(reader.finish(), Ok(()));
    }
}
