//! A section's bytes on their way to and from the disk: compressed when that makes them
//! smaller, and checked against their declared size when restored. Checksums are the record's
//! business (one per record in version 2, one per payload in version 1).

use super::layout::{Codec, SectionEntry, MAX_SECTION_BYTES};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use zstd::zstd_safe::DCtx;

/// What a restore allocates before seeing any output, so that a forged size costs nothing.
const PREALLOCATION_LIMIT: u64 = 64 << 20;

/// A section ready to be written: its table entry and the payload it describes.
pub(super) struct StoredSection<'a> {
    pub entry: SectionEntry,
    pub payload: Cow<'a, [u8]>,
}

pub(super) fn store<'a>(name: &str, bytes: &'a [u8], level: i32) -> io::Result<StoredSection<'a>> {
    let compressed = compress(bytes, level)?;
    // Noise-like data (many latents) does not compress; storing it plain saves zstd's framing.
    let (codec, payload) = if compressed.len() < bytes.len() {
        (Codec::Zstd, Cow::Owned(compressed))
    } else {
        (Codec::Plain, Cow::Borrowed(bytes))
    };
    let entry =
        SectionEntry { name: name.to_string(), codec, raw_len: bytes.len() as u64, stored_len: payload.len() as u64 };
    Ok(StoredSection { entry, payload })
}

/// Why a stored section cannot be given back.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SectionProblem {
    ChecksumMismatch,
    TooLarge(u64),
    PlainSizesDiffer,
    Undecodable(String),
    SizeMismatch { declared: u64, actual: u64 },
}

impl fmt::Display for SectionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionProblem::ChecksumMismatch => write!(f, "checksum mismatch"),
            SectionProblem::TooLarge(raw_len) => {
                write!(f, "it declares {raw_len} bytes, more than the {MAX_SECTION_BYTES}-byte limit")
            }
            SectionProblem::PlainSizesDiffer => write!(f, "it is stored uncompressed but its two sizes differ"),
            SectionProblem::Undecodable(reason) => write!(f, "it does not decompress: {reason}"),
            SectionProblem::SizeMismatch { declared, actual } => {
                write!(f, "it decompresses to {actual} bytes instead of the {declared} declared")
            }
        }
    }
}

/// Checks what can be checked before reading the payload at all.
pub(super) fn check_entry(entry: &SectionEntry) -> Result<(), SectionProblem> {
    if entry.raw_len > MAX_SECTION_BYTES {
        return Err(SectionProblem::TooLarge(entry.raw_len));
    }
    if entry.codec == Codec::Plain && entry.raw_len != entry.stored_len {
        return Err(SectionProblem::PlainSizesDiffer);
    }
    Ok(())
}

/// The section's bytes from its payload, which the caller has checked against its checksum.
pub(super) fn restore(entry: &SectionEntry, payload: Cow<[u8]>) -> Result<Vec<u8>, SectionProblem> {
    check_entry(entry)?;
    let bytes = match entry.codec {
        Codec::Plain => payload.into_owned(),
        Codec::Zstd => decompress(&payload, entry.raw_len)?,
    };
    if bytes.len() as u64 != entry.raw_len {
        return Err(SectionProblem::SizeMismatch { declared: entry.raw_len, actual: bytes.len() as u64 });
    }
    Ok(bytes)
}

// One zstd context of each kind per thread, kept from section to section: a fresh context
// allocates megabytes of tables and windows, which the kernel zeroes page by page every time
// (a third of a small file's compression). Reusing one changes no byte of its output.
thread_local! {
    static COMPRESSOR: RefCell<zstd::bulk::Compressor<'static>> = RefCell::new(zstd::bulk::Compressor::default());
    static DECOMPRESSION: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

/// `bytes` as one zstd frame at `level`, as `zstd::bulk::compress` makes it.
pub(crate) fn compress(bytes: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|compressor| {
        let mut compressor = compressor.borrow_mut();
        compressor.set_compression_level(level)?;
        compressor.compress(bytes)
    })
}

/// Decompresses at most one byte more than declared: enough to notice a lie, never unbounded.
fn decompress(payload: &[u8], raw_len: u64) -> Result<Vec<u8>, SectionProblem> {
    let undecodable = |error: io::Error| SectionProblem::Undecodable(error.to_string());
    DECOMPRESSION.with(|context| {
        let mut context = context.borrow_mut();
        let context = match &mut *context {
            Some(context) => context,
            None => context.insert(
                DCtx::try_create().ok_or_else(|| undecodable(io::Error::other("zstd cannot allocate a context")))?,
            ),
        };
        let decoder = zstd::stream::read::Decoder::with_context(payload, context);
        let mut bytes = Vec::with_capacity(raw_len.min(PREALLOCATION_LIMIT) as usize);
        decoder.take(raw_len + 1).read_to_end(&mut bytes).map_err(undecodable)?;
        Ok(bytes)
    })
}

impl StoredSection<'_> {
    /// The same section owning its payload, to outlive the bytes it was stored from.
    pub(super) fn into_owned(self) -> StoredSection<'static> {
        StoredSection { entry: self.entry, payload: Cow::Owned(self.payload.into_owned()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize, seed: u64) -> Vec<u8> {
        (0..len as u64).map(|i| ((i * seed) % 251 % (1 + seed % 17)) as u8).collect()
    }

    #[test]
    fn a_kept_context_writes_the_bytes_of_a_fresh_one() {
        // Large then small then large again, at several levels: tables resized both ways.
        for (len, level) in [(300_000, 9), (100, 9), (70_000, 3), (1 << 20, 19), (5_000, 9), (300_000, 1)] {
            let bytes = sample(len, len as u64 + level as u64);
            assert_eq!(
                compress(&bytes, level).unwrap(),
                zstd::bulk::compress(&bytes, level).unwrap(),
                "{len} bytes at {level}"
            );
        }
    }

    #[test]
    fn a_damaged_payload_leaves_the_context_fit_for_the_next() {
        let bytes = sample(200_000, 7);
        let compressed = compress(&bytes, 9).unwrap();
        let raw_len = bytes.len() as u64;
        assert_eq!(decompress(&compressed, raw_len).unwrap(), bytes);
        // Cut mid-frame, then flipped bytes: both refused, each leaving a frame half read.
        assert!(decompress(&compressed[..compressed.len() / 2], raw_len).is_err());
        let mut flipped = compressed.clone();
        for byte in flipped.iter_mut().skip(20).step_by(97) {
            *byte ^= 0x5a;
        }
        assert!(decompress(&flipped, raw_len).map_or(true, |restored| restored != bytes));
        assert_eq!(decompress(&compressed, raw_len).unwrap(), bytes);
    }
}
