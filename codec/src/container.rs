//! The `.baler` container: one versioned, self-describing, chunked and checksummed file that
//! holds a compressed dataset and everything needed to decode it.
//!
//! The container is generic over its content. A file carries the caller's header (JSON), a
//! sequence of chunks, each a number of samples and named byte sections ("latent", "residual",
//! ...), and named attachments stored whole (such as the decoder model). The compression
//! pipeline decides what goes in; this module decides how the bytes are laid out, and makes sure
//! that reading any file, however damaged, ends in a clear error rather than a crash.
//!
//! ```text
//! preamble + header JSON + checksum     (what the file is, and the caller's metadata)
//! record, record, ...                   (chunks and attachments, in the order written)
//! index + footer                        (where every record is, written last)
//! ```
//!
//! Writers write format version 2, whose framing is varints and one checksum per header, record
//! and index; readers read version 2 and version 1.
//!
//! Writing streams chunks to a temporary file and keeps only the small index in memory; the
//! file appears at its path, complete, when [`Writer::finish`] returns. Reading seeks through
//! the index and holds one chunk at a time. `docs/baler-format.md` draws the byte layout.

mod codec;
mod error;
pub(crate) mod layout;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub(crate) use codec::compress as compress_section;
pub use error::ContainerError;
pub use layout::{MAGIC, MAX_HEADER_BYTES, MAX_NAME_BYTES, MAX_SECTION_BYTES, VERSION};
pub use reader::Reader;
pub use writer::{PackedChunk, Packer, Writer, DEFAULT_COMPRESSION_LEVEL};

/// A run of samples and the named byte sections that encode them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chunk {
    pub samples: u64,
    pub sections: Vec<Section>,
}

/// Named bytes inside a chunk; the names are the caller's ("latent", "outliers", ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Chunk {
    /// The bytes of the section with this name, if the chunk has one.
    pub fn section(&self, name: &str) -> Option<&[u8]> {
        self.sections.iter().find(|section| section.name == name).map(|section| section.bytes.as_slice())
    }
}

impl Section {
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Section {
        Section { name: name.into(), bytes: bytes.into() }
    }
}

/// Bytes on disk (`stored`, after compression) and before compression (`raw`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteTotals {
    pub stored: u64,
    pub raw: u64,
}

impl ByteTotals {
    fn add(&mut self, other: ByteTotals) {
        self.stored = self.stored.saturating_add(other.stored);
        self.raw = self.raw.saturating_add(other.raw);
    }
}

/// Where the bytes of a file go, for `balerc info` and compression ratios.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sizes {
    /// The whole file.
    pub file: u64,
    /// Preamble, header JSON (as stored: zstd-compressed when that is smaller) and its checksum.
    pub header: u64,
    /// Per section name, summed over all chunks.
    pub sections: BTreeMap<String, ByteTotals>,
    pub attachments: BTreeMap<String, ByteTotals>,
    /// Everything else: record tables and checksums, the index and the footer.
    pub framing: u64,
}

impl Sizes {
    /// Stored bytes of all sections together: the compressed data proper.
    pub fn sections_stored(&self) -> u64 {
        self.sections.values().fold(0, |sum, totals| sum.saturating_add(totals.stored))
    }

    pub fn attachments_stored(&self) -> u64 {
        self.attachments.values().fold(0, |sum, totals| sum.saturating_add(totals.stored))
    }
}

/// What [`Writer::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub chunks: usize,
    pub samples: u64,
    pub sizes: Sizes,
}
