//! The byte layout of a `.baler` file, encoded and parsed in memory without any I/O.
//! `docs/baler-format.md` draws the same layout as tables; keep the two in step.
//!
//! Every integer is little-endian and fixed-width. A name is a u16 byte length and UTF-8 bytes.

use super::{ByteTotals, Sizes};
use std::collections::BTreeMap;
use std::fmt;

/// PNG-style: the high byte catches 7-bit transfers, `\r\n` catches line-ending conversion.
pub const MAGIC: [u8; 8] = *b"\x89BALER\r\n";
pub const VERSION: u16 = 1;
pub(super) const END_MAGIC: [u8; 8] = *b"BALEREND";

/// Limits that keep a damaged length from allocating absurd amounts of memory.
pub const MAX_HEADER_BYTES: u64 = 64 << 20;
pub const MAX_SECTION_BYTES: u64 = 4 << 30;
pub const MAX_NAME_BYTES: usize = u16::MAX as usize;
pub(super) const MAX_INDEX_BYTES: u64 = 1 << 30;

/// Magic, version, header length.
pub(super) const PREAMBLE_LEN: u64 = 8 + 2 + 4;
pub(super) const CHECKSUM_LEN: u64 = 4;
/// Table length and table checksum, at the start of every record.
pub(super) const RECORD_PREFIX_LEN: u64 = 4 + 4;
/// Index offset, index length, index checksum, footer checksum, end magic.
pub(super) const FOOTER_LEN: u64 = 8 + 8 + 4 + 4 + 8;
/// The footer checksum covers the index offset, length and checksum.
const FOOTER_CHECKED_LEN: usize = 8 + 8 + 4;

/// How a section's bytes are stored. A new codec needs a new format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// As given, when compression would not make them smaller.
    Plain = 0,
    Zstd = 1,
}

impl Codec {
    fn from_byte(byte: u8) -> Result<Codec, Malformed> {
        match byte {
            0 => Ok(Codec::Plain),
            1 => Ok(Codec::Zstd),
            other => Err(Malformed::UnknownCodec(other)),
        }
    }
}

/// One section's line in a record's table; its payload follows the table.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SectionEntry {
    pub name: String,
    pub codec: Codec,
    pub raw_len: u64,
    pub stored_len: u64,
    /// CRC32 of the stored payload.
    pub checksum: u32,
}

/// The table at the start of a record (a chunk, or an attachment as a record of one section).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RecordTable {
    pub samples: u64,
    pub sections: Vec<SectionEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ChunkEntry {
    pub offset: u64,
    pub len: u64,
    pub samples: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct AttachmentEntry {
    pub name: String,
    pub offset: u64,
    pub len: u64,
    pub totals: ByteTotals,
}

/// Written last: where every record is, and the totals that `sizes()` reports without reading them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Index {
    pub chunks: Vec<ChunkEntry>,
    pub attachments: Vec<AttachmentEntry>,
    pub sections: BTreeMap<String, ByteTotals>,
    pub samples: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Footer {
    pub index_offset: u64,
    pub index_len: u64,
    pub index_checksum: u32,
}

/// Why bytes that passed their checksum still do not parse; only a writer bug or a forged file
/// gets here.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Malformed {
    EndsEarly,
    TrailingBytes,
    NameNotUtf8,
    DuplicateName(String),
    UnknownCodec(u8),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::EndsEarly => write!(f, "it ends in the middle of an entry"),
            Malformed::TrailingBytes => write!(f, "it has bytes after its last entry"),
            Malformed::NameNotUtf8 => write!(f, "a name is not UTF-8"),
            Malformed::DuplicateName(name) => write!(f, "the name '{name}' appears twice"),
            Malformed::UnknownCodec(byte) => write!(f, "unknown codec {byte}"),
        }
    }
}

/// Preamble, header JSON and the checksum over everything after the magic.
pub(super) fn encode_header(json: &[u8]) -> Vec<u8> {
    let mut out = Encoder::default();
    out.bytes(&MAGIC);
    out.u16(VERSION);
    out.u32(json.len() as u32);
    out.bytes(json);
    let checksum = crc32fast::hash(&out.0[MAGIC.len()..]);
    out.u32(checksum);
    out.0
}

/// The JSON out of a whole header (preamble, JSON, checksum), if its checksum matches.
pub(super) fn checked_header_json(header: &[u8]) -> Option<&[u8]> {
    let (checked, checksum) = header.split_at_checked(header.len().checked_sub(CHECKSUM_LEN as usize)?)?;
    if crc32fast::hash(checked.get(MAGIC.len()..)?).to_le_bytes() != checksum {
        return None;
    }
    checked.get(PREAMBLE_LEN as usize..)
}

/// Version and header length from the preamble, whose magic the caller has checked.
pub(super) fn parse_preamble(preamble: &[u8]) -> Result<(u16, u32), Malformed> {
    let mut cursor = ByteCursor::new(preamble);
    cursor.take(MAGIC.len())?;
    Ok((cursor.u16()?, cursor.u32()?))
}

impl RecordTable {
    /// The record prefix (table length, table checksum) followed by the table; `None` when the
    /// names are too many for the table's u32 length.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut table = Encoder::default();
        table.u64(self.samples);
        table.u32(self.sections.len() as u32);
        for section in &self.sections {
            table.name(&section.name);
            table.u8(section.codec as u8);
            table.u64(section.raw_len);
            table.u64(section.stored_len);
            table.u32(section.checksum);
        }
        let mut out = Encoder::default();
        out.u32(u32::try_from(table.0.len()).ok()?);
        out.u32(crc32fast::hash(&table.0));
        out.bytes(&table.0);
        Some(out.0)
    }

    pub fn parse(table: &[u8]) -> Result<RecordTable, Malformed> {
        let mut cursor = ByteCursor::new(table);
        let samples = cursor.u64()?;
        let count = cursor.u32()?;
        // No allocation from `count`: a forged count runs out of bytes long before memory.
        let mut sections = Vec::new();
        for _ in 0..count {
            sections.push(SectionEntry {
                name: cursor.name()?,
                codec: Codec::from_byte(cursor.u8()?)?,
                raw_len: cursor.u64()?,
                stored_len: cursor.u64()?,
                checksum: cursor.u32()?,
            });
        }
        cursor.finish()?;
        Ok(RecordTable { samples, sections })
    }
}

/// Table length and table checksum, the fixed start of a record.
pub(super) fn parse_record_prefix(prefix: &[u8]) -> Result<(u32, u32), Malformed> {
    let mut cursor = ByteCursor::new(prefix);
    Ok((cursor.u32()?, cursor.u32()?))
}

impl Index {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::default();
        out.u64(self.chunks.len() as u64);
        for chunk in &self.chunks {
            out.u64(chunk.offset);
            out.u64(chunk.len);
            out.u64(chunk.samples);
        }
        out.u32(self.attachments.len() as u32);
        for attachment in &self.attachments {
            out.name(&attachment.name);
            out.u64(attachment.offset);
            out.u64(attachment.len);
            out.totals(attachment.totals);
        }
        out.u32(self.sections.len() as u32);
        for (name, totals) in &self.sections {
            out.name(name);
            out.totals(*totals);
        }
        out.u64(self.samples);
        out.0
    }

    pub fn parse(bytes: &[u8]) -> Result<Index, Malformed> {
        let mut cursor = ByteCursor::new(bytes);
        let mut index = Index::default();
        for _ in 0..cursor.u64()? {
            let (offset, len, samples) = (cursor.u64()?, cursor.u64()?, cursor.u64()?);
            index.chunks.push(ChunkEntry { offset, len, samples });
        }
        for _ in 0..cursor.u32()? {
            let name = cursor.name()?;
            let (offset, len, totals) = (cursor.u64()?, cursor.u64()?, cursor.totals()?);
            if index.attachments.iter().any(|attachment| attachment.name == name) {
                return Err(Malformed::DuplicateName(name));
            }
            index.attachments.push(AttachmentEntry { name, offset, len, totals });
        }
        for _ in 0..cursor.u32()? {
            let name = cursor.name()?;
            let totals = cursor.totals()?;
            if index.sections.insert(name.clone(), totals).is_some() {
                return Err(Malformed::DuplicateName(name));
            }
        }
        index.samples = cursor.u64()?;
        cursor.finish()?;
        Ok(index)
    }

    /// Where the bytes go, from the index alone; `header_len` and `file_len` as the file has them.
    pub fn sizes(&self, header_len: u64, file_len: u64) -> Sizes {
        let attachments = self.attachments.iter().map(|attachment| (attachment.name.clone(), attachment.totals));
        let mut sizes = Sizes {
            file: file_len,
            header: header_len,
            sections: self.sections.clone(),
            attachments: attachments.collect(),
            framing: 0,
        };
        let content = header_len.saturating_add(sizes.sections_stored()).saturating_add(sizes.attachments_stored());
        sizes.framing = file_len.saturating_sub(content);
        sizes
    }
}

/// Why the last bytes of a file are not a footer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum FooterProblem {
    /// No end magic: the writer never got to the end.
    Missing,
    ChecksumMismatch,
}

impl Footer {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::default();
        out.u64(self.index_offset);
        out.u64(self.index_len);
        out.u32(self.index_checksum);
        out.u32(crc32fast::hash(&out.0));
        out.bytes(&END_MAGIC);
        out.0
    }

    pub fn parse(bytes: &[u8]) -> Result<Footer, FooterProblem> {
        if bytes.len() as u64 != FOOTER_LEN || !bytes.ends_with(&END_MAGIC) {
            return Err(FooterProblem::Missing);
        }
        let mut cursor = ByteCursor::new(bytes);
        let fields = (cursor.u64(), cursor.u64(), cursor.u32(), cursor.u32());
        let (Ok(index_offset), Ok(index_len), Ok(index_checksum), Ok(checksum)) = fields else {
            return Err(FooterProblem::Missing);
        };
        if checksum != crc32fast::hash(&bytes[..FOOTER_CHECKED_LEN]) {
            return Err(FooterProblem::ChecksumMismatch);
        }
        Ok(Footer { index_offset, index_len, index_checksum })
    }
}

#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn u16(&mut self, value: u16) {
        self.bytes(&value.to_le_bytes());
    }

    fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    /// The writer has checked that names fit in a u16 length.
    fn name(&mut self, name: &str) {
        self.u16(name.len() as u16);
        self.bytes(name.as_bytes());
    }

    fn totals(&mut self, totals: ByteTotals) {
        self.u64(totals.stored);
        self.u64(totals.raw);
    }
}

/// Reads fields off the front of a byte slice; running out is an error, never a panic.
struct ByteCursor<'a> {
    rest: &'a [u8],
}

impl<'a> ByteCursor<'a> {
    fn new(bytes: &'a [u8]) -> ByteCursor<'a> {
        ByteCursor { rest: bytes }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        if len > self.rest.len() {
            return Err(Malformed::EndsEarly);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn name(&mut self) -> Result<String, Malformed> {
        let len = self.u16()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Malformed::NameNotUtf8)
    }

    fn totals(&mut self) -> Result<ByteTotals, Malformed> {
        Ok(ByteTotals { stored: self.u64()?, raw: self.u64()? })
    }

    fn finish(self) -> Result<(), Malformed> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Malformed::TrailingBytes)
        }
    }
}
