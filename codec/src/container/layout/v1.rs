//! Version 1 of the layout, which readers still read and writers no longer write: fixed-width
//! little-endian integers, names with a `u16` length, a CRC32 for every record's table and for
//! every payload, an index of offsets, and a 32-byte footer. The encoders are kept for tests,
//! which build version 1 files with them.

use super::{AttachmentEntry, ByteCursor, ChunkEntry, Codec, HeaderPlace, Index, Malformed, RecordTable, SectionEntry};
#[cfg(test)]
use super::{Encoder, MAGIC};
use crate::container::ByteTotals;

pub const VERSION: u16 = 1;
/// Magic, version, header length.
pub const PREAMBLE_LEN: u64 = 8 + 2 + 4;
/// Table length and table checksum, at the start of every record.
pub const RECORD_PREFIX_LEN: u64 = 4 + 4;
/// Index offset, index length, index checksum, footer checksum, end magic.
pub const FOOTER_LEN: u64 = 8 + 8 + 4 + 4 + 8;
/// The footer checksum covers the index offset, length and checksum.
const FOOTER_CHECKED_LEN: usize = 8 + 8 + 4;
pub const END_MAGIC: [u8; 8] = *b"BALEREND";

/// Where the JSON lies, from the preamble (magic, version, `u32` length).
pub fn parse_preamble(preamble: &[u8]) -> Result<HeaderPlace, Malformed> {
    let mut cursor = ByteCursor::new(preamble);
    cursor.take(super::MAGIC.len())?;
    let version = cursor.u16()?;
    let stored_len = cursor.u32()?.into();
    Ok(HeaderPlace { version, codec: super::HeaderCodec::Stored as u8, start: PREAMBLE_LEN, stored_len })
}

/// Table length and table checksum, the fixed start of a record.
pub fn parse_record_prefix(prefix: &[u8]) -> Result<(u32, u32), Malformed> {
    let mut cursor = ByteCursor::new(prefix);
    Ok((cursor.u32()?, cursor.u32()?))
}

/// A record's table, and the CRC32 of each section's payload.
pub fn parse_table(table: &[u8]) -> Result<(RecordTable, Vec<u32>), Malformed> {
    let mut cursor = ByteCursor::new(table);
    let samples = cursor.u64()?;
    let count = cursor.u32()?;
    // No allocation from `count`: a forged count runs out of bytes long before memory.
    let (mut sections, mut checksums) = (Vec::new(), Vec::new());
    for _ in 0..count {
        sections.push(SectionEntry {
            name: name(&mut cursor)?,
            codec: Codec::from_byte(cursor.u8()?)?,
            raw_len: cursor.u64()?,
            stored_len: cursor.u64()?,
        });
        checksums.push(cursor.u32()?);
    }
    cursor.finish()?;
    Ok((RecordTable { samples, sections }, checksums))
}

pub fn parse_index(bytes: &[u8]) -> Result<Index, Malformed> {
    let mut cursor = ByteCursor::new(bytes);
    let mut index = Index::default();
    for _ in 0..cursor.u64()? {
        let (offset, len, samples) = (cursor.u64()?, cursor.u64()?, cursor.u64()?);
        index.chunks.push(ChunkEntry { offset, len, samples });
    }
    for _ in 0..cursor.u32()? {
        let name = name(&mut cursor)?;
        let (offset, len, totals) = (cursor.u64()?, cursor.u64()?, totals(&mut cursor)?);
        if index.attachments.iter().any(|attachment| attachment.name == name) {
            return Err(Malformed::DuplicateName(name));
        }
        index.attachments.push(AttachmentEntry { name, offset, len, totals });
    }
    for _ in 0..cursor.u32()? {
        let name = name(&mut cursor)?;
        let totals = totals(&mut cursor)?;
        if index.sections.insert(name.clone(), totals).is_some() {
            return Err(Malformed::DuplicateName(name));
        }
    }
    index.samples = cursor.u64()?;
    cursor.finish()?;
    Ok(index)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Footer {
    pub index_offset: u64,
    pub index_len: u64,
    pub index_checksum: u32,
}

impl Footer {
    pub fn parse(bytes: &[u8]) -> Result<Footer, super::FooterProblem> {
        use super::FooterProblem;
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

    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::default();
        out.u64(self.index_offset);
        out.u64(self.index_len);
        out.u32(self.index_checksum);
        out.u32(crc32fast::hash(&out.0));
        out.bytes(&END_MAGIC);
        out.0
    }
}

/// A `u16` byte length and UTF-8.
fn name(cursor: &mut ByteCursor) -> Result<String, Malformed> {
    let len = cursor.u16()? as usize;
    let bytes = cursor.take(len)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Malformed::NameNotUtf8)
}

fn totals(cursor: &mut ByteCursor) -> Result<ByteTotals, Malformed> {
    Ok(ByteTotals { stored: cursor.u64()?, raw: cursor.u64()? })
}

/// Preamble, JSON and the checksum over everything after the magic.
#[cfg(test)]
pub fn encode_header(json: &[u8]) -> Vec<u8> {
    let mut out = Encoder::default();
    out.bytes(&MAGIC);
    out.u16(VERSION);
    out.u32(json.len() as u32);
    out.bytes(json);
    let checksum = crc32fast::hash(&out.0[MAGIC.len()..]);
    out.u32(checksum);
    out.0
}

/// The record prefix (table length, table checksum) and the table, with each payload's CRC32.
#[cfg(test)]
pub fn encode_table(table: &RecordTable, checksums: &[u32]) -> Vec<u8> {
    let mut bytes = Encoder::default();
    bytes.u64(table.samples);
    bytes.u32(table.sections.len() as u32);
    for (section, checksum) in table.sections.iter().zip(checksums) {
        encode_name(&mut bytes, &section.name);
        bytes.u8(section.codec as u8);
        bytes.u64(section.raw_len);
        bytes.u64(section.stored_len);
        bytes.u32(*checksum);
    }
    let mut out = Encoder::default();
    out.u32(bytes.0.len() as u32);
    out.u32(crc32fast::hash(&bytes.0));
    out.bytes(&bytes.0);
    out.0
}

#[cfg(test)]
pub fn encode_index(index: &Index) -> Vec<u8> {
    let mut out = Encoder::default();
    out.u64(index.chunks.len() as u64);
    for chunk in &index.chunks {
        out.u64(chunk.offset);
        out.u64(chunk.len);
        out.u64(chunk.samples);
    }
    out.u32(index.attachments.len() as u32);
    for attachment in &index.attachments {
        encode_name(&mut out, &attachment.name);
        out.u64(attachment.offset);
        out.u64(attachment.len);
        out.u64(attachment.totals.stored);
        out.u64(attachment.totals.raw);
    }
    out.u32(index.sections.len() as u32);
    for (name, totals) in &index.sections {
        encode_name(&mut out, name);
        out.u64(totals.stored);
        out.u64(totals.raw);
    }
    out.u64(index.samples);
    out.0
}

#[cfg(test)]
fn encode_name(out: &mut Encoder, name: &str) {
    out.u16(name.len() as u16);
    out.bytes(name.as_bytes());
}
