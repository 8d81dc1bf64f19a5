//! The `data` array of an `.npz` archive as a stream of its own, so that it can be read a
//! chunk at a time. The zip directory says where the entry's bytes are and how they are
//! stored; they are then read straight from the file, inflated if numpy deflated them
//! (`savez_compressed`), and checked against the entry's size and CRC-32 when they run out.

use super::{npz_entry, npz_keys, read_names};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Large reads: the bytes go straight to decoding, and a large buffer keeps system calls few.
const BUFFER_BYTES: usize = 1 << 20;

pub(super) struct DataEntry {
    /// The archive's column names, read whole (they are small).
    pub names: Vec<String>,
    /// The entry's bytes as stored uncompressed, from the start of its `.npy` header.
    pub bytes: Checked<Box<dyn Read + Send>>,
    /// Where those bytes start in the file when they are stored plain, so they can be seeked.
    pub plain_start: Option<u64>,
    /// The uncompressed size of the entry.
    pub size: u64,
}

pub(super) fn open(path: &Path) -> Result<DataEntry, String> {
    let file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("is not a readable .npz file (a zip archive of arrays): {e}"))?;
    let names = match npz_entry(&mut archive, "names")? {
        Some(names) => read_names(&names).map_err(|message| format!("array 'names' {message}"))?,
        None => Vec::new(),
    };
    if archive.index_for_name("data.npy").is_none() {
        return Err(format!("has no 'data' array; the file holds {}", npz_keys(&archive)));
    }
    let entry = archive.by_name("data.npy").map_err(|e| format!("cannot open array 'data': {e}"))?;
    if entry.encrypted() {
        return Err("array 'data' is encrypted".into());
    }
    let (method, start, stored_len, size, crc) =
        (entry.compression(), entry.data_start(), entry.compressed_size(), entry.size(), entry.crc32());
    drop(entry);

    let mut file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    file.seek(SeekFrom::Start(start)).map_err(|e| format!("cannot be read: {e}"))?;
    let raw = BufReader::with_capacity(BUFFER_BYTES, file).take(stored_len);
    let (bytes, plain_start): (Box<dyn Read + Send>, _) = match method {
        zip::CompressionMethod::Stored => (Box::new(raw), Some(start)),
        zip::CompressionMethod::Deflated => {
            (Box::new(BufReader::with_capacity(BUFFER_BYTES, flate2::read::DeflateDecoder::new(raw))), None)
        }
        other => {
            return Err(format!("array 'data' is compressed with {other}; numpy writes stored or deflated arrays"))
        }
    };
    Ok(DataEntry { names, bytes: Checked::new(bytes, size, crc), plain_start, size })
}

/// An entry's bytes, checked once they run out: exactly the declared size, and the CRC-32
/// the archive recorded, so that a damaged file is an error rather than wrong numbers.
pub(super) struct Checked<R> {
    inner: R,
    remaining: u64,
    expected_crc: u32,
    crc: crc32fast::Hasher,
}

impl<R: Read> Checked<R> {
    fn new(inner: R, size: u64, expected_crc: u32) -> Checked<R> {
        Checked { inner, remaining: size, expected_crc, crc: crc32fast::Hasher::new() }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if self.remaining > 0 {
                let message = format!("it ends {} bytes before its declared size", self.remaining);
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, message));
            }
            if self.crc.clone().finalize() != self.expected_crc {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "its CRC-32 checksum does not match"));
            }
            return Ok(0);
        }
        self.remaining = self
            .remaining
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "it holds more bytes than its declared size"))?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}
