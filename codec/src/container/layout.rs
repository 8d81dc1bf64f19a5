//! The byte layout of a `.baler` file, encoded and parsed in memory without any I/O.
//! `docs/baler-format.md` draws the same layout as tables; keep the two in step.
//!
//! Version 2, which writers write: numbers are unsigned LEB128 varints, except the version
//! (`u16`), codec bytes, checksums and the fixed-size footer (little-endian). A name is a varint
//! byte length and UTF-8 bytes. One CRC32 guards each of header, record and index. Version 1,
//! which readers still read, is in [`v1`].

pub(super) mod v1;

use super::{ByteTotals, Sizes};
use crate::wire::{push_uvarint, ByteReader, WireError, MAX_VARINT_BYTES};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};

/// PNG-style: the high byte catches 7-bit transfers, `\r\n` catches line-ending conversion.
pub const MAGIC: [u8; 8] = *b"\x89BALER\r\n";
/// The version writers write; readers read it and every earlier one down to [`OLDEST_VERSION`].
pub const VERSION: u16 = 2;
pub(super) const OLDEST_VERSION: u16 = 1;
/// The last bytes of a complete version 2 file.
pub(super) const END_MAGIC: [u8; 4] = *b"BLR2";

/// Limits that keep a damaged length from allocating absurd amounts of memory.
pub const MAX_HEADER_BYTES: u64 = 64 << 20;
pub const MAX_SECTION_BYTES: u64 = 4 << 30;
pub const MAX_NAME_BYTES: usize = u16::MAX as usize;
pub(super) const MAX_INDEX_BYTES: u64 = 1 << 30;

/// Magic and version: the start every version shares.
pub(super) const SIGNATURE_LEN: u64 = 8 + 2;
/// Signature, header codec and the longest header length.
pub(crate) const PREAMBLE_MAX_LEN: u64 = SIGNATURE_LEN + 1 + MAX_VARINT_BYTES as u64;
pub(crate) const CHECKSUM_LEN: u64 = 4;
/// The smallest record: a one-byte table length, samples and section count, and the checksum.
pub(super) const MIN_RECORD_LEN: u64 = 1 + 2 + CHECKSUM_LEN;
/// Index length, index checksum, end magic.
pub(crate) const FOOTER_LEN: u64 = 4 + 4 + 4;

/// How the header JSON is stored. Writers take whichever is smallest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeaderCodec {
    Stored = 0,
    /// One zstd frame.
    Zstd = 1,
    /// One zstd frame compressed with [`HEADER_DICTIONARY`] as its raw-content dictionary.
    ZstdDictionary = 2,
}

/// Text that headers resemble, so that zstd codes their field names and usual values as short
/// references: a small header shrinks to about a third instead of two thirds. Part of the
/// format: changing a byte of it needs a new codec.
pub(super) const HEADER_DICTIONARY: &str = concat!(
    r#"{"chunk_samples":,"dtype":"i64","error_bound":{"max_abs_error":[],"relations":["px = pt * cos(phi)"],"#,
    r#""residual_plans":true},"format":"csv","hardware":{"encoder_hash":"","input_type":"ap_fixed<16,6>","#,
    r#""latent_type":"ap_fixed<16,6>","origin":""},"integer_columns":[],"kind":"balerc-compressed","#,
    r#""latent_bits":16,"latent_width":,"lossless_columns":[],"model_hash":"","modelled_columns":[],"#,
    r#""modelled_per_sample":,"names":[],"normalization":{"kind":"standard","offset":[0.0,0.0],"#,
    r#""scale":[1.0,1.0]},"outlier_samples":{"log_density_threshold":-},"shape":[]}"#,
    r#"{"chunk_samples":,"dtype":"f32","error_bound":null,"format":"npy","integer_columns":[],"#,
    r#""kind":"balerc-compressed","latent_bits":8,"latent_width":,"lossless_columns":[],"model_hash":"","#,
    r#""modelled_columns":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23],"#,
    r#""modelled_per_sample":,"names":[],"normalization":{"kind":"none","offset":[],"scale":[]},"shape":[]}"#,
    r#"{"chunk_samples":,"dtype":"f64","error_bound":{"max_abs_error":[],"residual_plans":true},"#,
    r#""format":"npz","integer_columns":[],"kind":"balerc-compressed","latent_bits":,"latent_width":,"#,
    r#""lossless_columns":[],"model_hash":"","modelled_columns":[],"modelled_per_sample":,"names":[],"#,
    r#""normalization":{"kind":"min-max","offset":[],"scale":[]},"shape":[]}"#,
);

/// zstd's strongest level: headers are small, so it costs nothing noticeable; an unusually
/// large one takes zstd's default instead.
const HEADER_LEVEL: i32 = 19;
const LARGE_HEADER_LEVEL: i32 = 3;
const LARGE_HEADER_BYTES: usize = 1 << 20;

impl HeaderCodec {
    fn from_byte(byte: u8) -> Result<HeaderCodec, Malformed> {
        match byte {
            0 => Ok(HeaderCodec::Stored),
            1 => Ok(HeaderCodec::Zstd),
            2 => Ok(HeaderCodec::ZstdDictionary),
            other => Err(Malformed::UnknownCodec(other)),
        }
    }
}

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
}

/// The table at the start of a record (a chunk, or an attachment as a record of one section).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RecordTable {
    pub samples: u64,
    pub sections: Vec<SectionEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ChunkEntry {
    pub offset: u64,
    pub len: u64,
    pub samples: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttachmentEntry {
    pub name: String,
    pub offset: u64,
    pub len: u64,
    pub totals: ByteTotals,
}

/// Where every record is, and the totals that `sizes()` reports without reading them. Both
/// versions parse into this; version 2 stores lengths only and the offsets follow from them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Index {
    /// In file order.
    pub chunks: Vec<ChunkEntry>,
    /// In the order attached, which is also file order.
    pub attachments: Vec<AttachmentEntry>,
    pub sections: BTreeMap<String, ByteTotals>,
    pub samples: u64,
}

/// Why bytes that passed their checksum still do not parse; only a writer bug or a forged file
/// gets here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Malformed {
    EndsEarly,
    TrailingBytes,
    NameNotUtf8,
    NameLength(u64),
    DuplicateName(String),
    NamesOutOfOrder,
    AttachmentsOutOfOrder,
    UnknownCodec(u8),
    VarintOverflow,
    VarintOverlong,
    SumOverflow,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::EndsEarly => write!(f, "it ends in the middle of an entry"),
            Malformed::TrailingBytes => write!(f, "it has bytes after its last entry"),
            Malformed::NameNotUtf8 => write!(f, "a name is not UTF-8"),
            Malformed::NameLength(len) => write!(f, "a name of {len} bytes, not 1 to {MAX_NAME_BYTES}"),
            Malformed::DuplicateName(name) => write!(f, "the name '{name}' appears twice"),
            Malformed::NamesOutOfOrder => write!(f, "its section names are not in byte order"),
            Malformed::AttachmentsOutOfOrder => {
                write!(f, "an attachment is placed before an earlier one or after the last chunk")
            }
            Malformed::UnknownCodec(byte) => write!(f, "unknown codec {byte}"),
            Malformed::VarintOverflow => write!(f, "a number does not fit in 64 bits"),
            Malformed::VarintOverlong => write!(f, "a number is written with more bytes than it needs"),
            Malformed::SumOverflow => write!(f, "its lengths or sample counts add up beyond 2^64"),
        }
    }
}

/// Where a header's stored bytes are, from its preamble.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HeaderPlace {
    pub version: u16,
    /// The codec byte as stored, interpreted only once the checksum has passed.
    pub codec: u8,
    /// Offset of the stored bytes, which run for `stored_len`; the checksum follows them.
    pub start: u64,
    pub stored_len: u64,
}

impl HeaderPlace {
    /// Everything up to and including the checksum.
    pub fn header_len(&self) -> u64 {
        self.start + self.stored_len + CHECKSUM_LEN
    }
}

/// Magic, version, codec, length, the stored header and its checksum: the JSON stored the
/// smallest way.
pub(super) fn encode_header(json: &[u8]) -> Vec<u8> {
    let level = if json.len() < LARGE_HEADER_BYTES { HEADER_LEVEL } else { LARGE_HEADER_LEVEL };
    let zstd = zstd::bulk::compress(json, level).ok();
    let dictionary = zstd::bulk::Compressor::with_dictionary(level, HEADER_DICTIONARY.as_bytes())
        .and_then(|mut compressor| compressor.compress(json))
        .ok();
    let mut candidates = vec![(HeaderCodec::Stored, json.to_vec())];
    candidates.extend(zstd.map(|bytes| (HeaderCodec::Zstd, bytes)));
    candidates.extend(dictionary.map(|bytes| (HeaderCodec::ZstdDictionary, bytes)));
    // The first of equals: plain JSON when compression gains nothing.
    let (codec, stored) = candidates.into_iter().min_by_key(|(_, bytes)| bytes.len()).expect("a candidate");
    encode_header_as(codec, &stored)
}

pub(super) fn encode_header_as(codec: HeaderCodec, stored: &[u8]) -> Vec<u8> {
    let mut out = Encoder::default();
    out.bytes(&MAGIC);
    out.u16(VERSION);
    out.u8(codec as u8);
    out.varint(stored.len() as u64);
    out.bytes(stored);
    let checksum = crc32fast::hash(&out.0[MAGIC.len()..]);
    out.u32(checksum);
    out.0
}

/// The version from the start of a file whose magic the caller has checked.
pub(crate) fn parse_version(start: &[u8]) -> Result<u16, Malformed> {
    let mut cursor = ByteCursor::new(start);
    cursor.take(MAGIC.len())?;
    cursor.u16()
}

/// Where the header lies, from the preamble of a version 2 file.
pub(crate) fn parse_preamble(preamble: &[u8]) -> Result<HeaderPlace, Malformed> {
    let mut cursor = ByteCursor::new(preamble);
    cursor.take(MAGIC.len())?;
    let version = cursor.u16()?;
    let codec = cursor.u8()?;
    let stored_len = cursor.varint()?;
    let start = (preamble.len() - cursor.reader.rest().len()) as u64;
    Ok(HeaderPlace { version, codec, start, stored_len })
}

/// The stored bytes out of a whole header (preamble, stored bytes, checksum), if its checksum,
/// which covers everything after the magic in every version, matches.
pub(super) fn checked_header_bytes<'a>(header: &'a [u8], place: &HeaderPlace) -> Option<&'a [u8]> {
    let (checked, checksum) = header.split_at_checked(header.len().checked_sub(CHECKSUM_LEN as usize)?)?;
    if crc32fast::hash(checked.get(MAGIC.len()..)?).to_le_bytes() != checksum {
        return None;
    }
    checked.get(place.start as usize..)
}

/// The JSON from a header's checked bytes.
pub(super) fn decode_header(codec: u8, stored: &[u8]) -> Result<Vec<u8>, String> {
    let dictionary: &[u8] = match HeaderCodec::from_byte(codec).map_err(|problem| problem.to_string())? {
        HeaderCodec::Stored => return Ok(stored.to_vec()),
        HeaderCodec::Zstd => &[],
        HeaderCodec::ZstdDictionary => HEADER_DICTIONARY.as_bytes(),
    };
    let undecodable = |error: io::Error| format!("it does not decompress: {error}");
    let decoder = zstd::stream::read::Decoder::with_dictionary(stored, dictionary).map_err(undecodable)?;
    let mut json = Vec::new();
    decoder.take(MAX_HEADER_BYTES + 1).read_to_end(&mut json).map_err(undecodable)?;
    if json.len() as u64 > MAX_HEADER_BYTES {
        return Err(format!("it decompresses to more than the {MAX_HEADER_BYTES} bytes allowed"));
    }
    Ok(json)
}

impl RecordTable {
    /// The table length and the table: the start of a record, which its payloads and then the
    /// record's checksum follow.
    pub fn encode(&self) -> Vec<u8> {
        let mut table = Encoder::default();
        table.varint(self.samples);
        table.varint(self.sections.len() as u64);
        for section in &self.sections {
            table.name(&section.name);
            table.u8(section.codec as u8);
            table.varint(section.raw_len);
            table.varint(section.stored_len);
        }
        let mut out = Encoder::default();
        out.varint(table.0.len() as u64);
        out.bytes(&table.0);
        out.0
    }

    pub fn parse(table: &[u8]) -> Result<RecordTable, Malformed> {
        let mut cursor = ByteCursor::new(table);
        let samples = cursor.varint()?;
        let count = cursor.varint()?;
        // No allocation from `count`: a forged count runs out of bytes long before memory.
        let mut sections = Vec::new();
        for _ in 0..count {
            sections.push(SectionEntry {
                name: cursor.name()?,
                codec: Codec::from_byte(cursor.u8()?)?,
                raw_len: cursor.varint()?,
                stored_len: cursor.varint()?,
            });
        }
        cursor.finish()?;
        Ok(RecordTable { samples, sections })
    }
}

/// Why a whole version 2 record does not parse.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RecordProblem {
    ChecksumMismatch,
    TableOverruns,
    Table(Malformed),
    NotFilled,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordProblem::ChecksumMismatch => write!(f, "checksum mismatch"),
            RecordProblem::TableOverruns => write!(f, "its table runs past its end"),
            RecordProblem::Table(problem) => write!(f, "its table is malformed: {problem}"),
            RecordProblem::NotFilled => write!(f, "its sections do not fill it"),
        }
    }
}

/// A whole version 2 record checked against its checksum, its table, and where each section's
/// payload lies in `record`.
pub(super) fn parse_record(record: &[u8]) -> Result<(RecordTable, Vec<std::ops::Range<usize>>), RecordProblem> {
    let body_len = record.len().checked_sub(CHECKSUM_LEN as usize).ok_or(RecordProblem::TableOverruns)?;
    let (body, checksum) = record.split_at(body_len);
    if crc32fast::hash(body).to_le_bytes() != checksum {
        return Err(RecordProblem::ChecksumMismatch);
    }
    let mut cursor = ByteCursor::new(body);
    let table_len = cursor.varint().map_err(|_| RecordProblem::TableOverruns)?;
    let table = cursor.take_u64(table_len).map_err(|_| RecordProblem::TableOverruns)?;
    let table = RecordTable::parse(table).map_err(RecordProblem::Table)?;
    let mut position = body.len() - cursor.reader.rest().len();
    let payloads: u128 = table.sections.iter().map(|entry| u128::from(entry.stored_len)).sum();
    if payloads != cursor.reader.rest().len() as u128 {
        return Err(RecordProblem::NotFilled);
    }
    let spans = table
        .sections
        .iter()
        .map(|entry| {
            // Each fits: together they are exactly the rest of the record.
            let span = position..position + entry.stored_len as usize;
            position = span.end;
            span
        })
        .collect();
    Ok((table, spans))
}

impl Index {
    /// Version 2: per chunk its record length and samples; per attachment its name, how many
    /// chunks precede it, its record length and byte totals; per section name its totals.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Encoder::default();
        out.varint(self.chunks.len() as u64);
        for chunk in &self.chunks {
            out.varint(chunk.len);
            out.varint(chunk.samples);
        }
        out.varint(self.attachments.len() as u64);
        for attachment in &self.attachments {
            let chunks_before = self.chunks.partition_point(|chunk| chunk.offset < attachment.offset);
            out.name(&attachment.name);
            out.varint(chunks_before as u64);
            out.varint(attachment.len);
            out.totals(attachment.totals);
        }
        out.varint(self.sections.len() as u64);
        for (name, totals) in &self.sections {
            out.name(name);
            out.totals(*totals);
        }
        out.0
    }

    /// A version 2 index whose records start at `records_start` (the header's length).
    pub fn parse(bytes: &[u8], records_start: u64) -> Result<Index, Malformed> {
        let mut cursor = ByteCursor::new(bytes);
        let mut index = Index::default();
        for _ in 0..cursor.varint()? {
            let (len, samples) = (cursor.varint()?, cursor.varint()?);
            index.chunks.push(ChunkEntry { offset: 0, len, samples });
            index.samples = index.samples.checked_add(samples).ok_or(Malformed::SumOverflow)?;
        }
        let mut positions = Vec::new();
        for _ in 0..cursor.varint()? {
            let name = cursor.name()?;
            let chunks_before = cursor.varint()?;
            let (len, totals) = (cursor.varint()?, cursor.totals()?);
            if chunks_before > index.chunks.len() as u64 || positions.last().is_some_and(|&last| chunks_before < last) {
                return Err(Malformed::AttachmentsOutOfOrder);
            }
            if index.attachments.iter().any(|attachment| attachment.name == name) {
                return Err(Malformed::DuplicateName(name));
            }
            positions.push(chunks_before);
            index.attachments.push(AttachmentEntry { name, offset: 0, len, totals });
        }
        for _ in 0..cursor.varint()? {
            let name = cursor.name()?;
            let totals = cursor.totals()?;
            match index.sections.last_key_value() {
                Some((last, _)) if *last == name => return Err(Malformed::DuplicateName(name)),
                Some((last, _)) if *last > name => return Err(Malformed::NamesOutOfOrder),
                _ => {}
            }
            index.sections.insert(name, totals);
        }
        cursor.finish()?;
        // The records tile the file in order: the attachments placed before chunk k, then chunk k.
        let mut offset = records_start;
        let mut attachments = index.attachments.iter_mut().zip(positions).peekable();
        for k in 0..=index.chunks.len() {
            while let Some((attachment, _)) = attachments.next_if(|(_, chunks_before)| *chunks_before == k as u64) {
                attachment.offset = offset;
                offset = offset.checked_add(attachment.len).ok_or(Malformed::SumOverflow)?;
            }
            if let Some(chunk) = index.chunks.get_mut(k) {
                chunk.offset = offset;
                offset = offset.checked_add(chunk.len).ok_or(Malformed::SumOverflow)?;
            }
        }
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

/// The checksum in a version 2 footer: CRC32 of the index and the index length after it, the
/// bytes from the index's start up to the checksum.
pub(crate) fn index_checksum(index: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(index);
    hasher.update(&(index.len() as u32).to_le_bytes());
    hasher.finalize()
}

/// The footer after an index; the writer has checked that the index fits in a u32 length.
pub(super) fn encode_footer(index: &[u8]) -> Vec<u8> {
    let mut out = Encoder::default();
    out.u32(index.len() as u32);
    out.u32(index_checksum(index));
    out.bytes(&END_MAGIC);
    out.0
}

/// Why the last bytes of a file are not a footer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum FooterProblem {
    /// No end magic: the writer never got to the end.
    Missing,
    ChecksumMismatch,
}

/// A version 2 footer: the index length and the index checksum, once the end magic is there.
pub(super) fn parse_footer(bytes: &[u8]) -> Result<(u32, u32), FooterProblem> {
    if bytes.len() as u64 != FOOTER_LEN || !bytes.ends_with(&END_MAGIC) {
        return Err(FooterProblem::Missing);
    }
    let mut cursor = ByteCursor::new(bytes);
    match (cursor.u32(), cursor.u32()) {
        (Ok(index_len), Ok(checksum)) => Ok((index_len, checksum)),
        _ => Err(FooterProblem::Missing),
    }
}

#[derive(Default)]
pub(super) struct Encoder(pub Vec<u8>);

impl Encoder {
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    pub fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    pub fn u16(&mut self, value: u16) {
        self.bytes(&value.to_le_bytes());
    }

    pub fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    pub fn varint(&mut self, value: u64) {
        push_uvarint(&mut self.0, value);
    }

    /// The writer has checked that names are 1 to [`MAX_NAME_BYTES`] long.
    fn name(&mut self, name: &str) {
        self.varint(name.len() as u64);
        self.bytes(name.as_bytes());
    }

    fn totals(&mut self, totals: ByteTotals) {
        self.varint(totals.stored);
        self.varint(totals.raw);
    }
}

/// Reads the container's fields off the front of a byte slice with the codec's one reader;
/// running out is an error, never a panic.
pub(super) struct ByteCursor<'a> {
    reader: ByteReader<'a>,
}

impl From<WireError> for Malformed {
    fn from(error: WireError) -> Malformed {
        match error {
            WireError::VarintOverflow => Malformed::VarintOverflow,
            WireError::VarintOverlong => Malformed::VarintOverlong,
            WireError::Trailing(_) => Malformed::TrailingBytes,
            WireError::EndsEarly { .. } | WireError::EndsInVarint | WireError::LengthTooLarge(_) => {
                Malformed::EndsEarly
            }
        }
    }
}

impl<'a> ByteCursor<'a> {
    pub fn new(bytes: &'a [u8]) -> ByteCursor<'a> {
        ByteCursor { reader: ByteReader::new(bytes) }
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        Ok(self.reader.take(len)?)
    }

    fn take_u64(&mut self, len: u64) -> Result<&'a [u8], Malformed> {
        Ok(self.reader.take_u64(len)?)
    }

    pub fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.reader.u8()?)
    }

    pub fn u16(&mut self) -> Result<u16, Malformed> {
        Ok(self.reader.u16()?)
    }

    pub fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(self.reader.u32()?)
    }

    pub fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(self.reader.u64()?)
    }

    pub fn varint(&mut self) -> Result<u64, Malformed> {
        Ok(self.reader.uvarint()?)
    }

    /// Version 2: a varint length, 1 to [`MAX_NAME_BYTES`], and UTF-8.
    fn name(&mut self) -> Result<String, Malformed> {
        let len = self.varint()?;
        if len == 0 || len > MAX_NAME_BYTES as u64 {
            return Err(Malformed::NameLength(len));
        }
        let bytes = self.take_u64(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Malformed::NameNotUtf8)
    }

    fn totals(&mut self) -> Result<ByteTotals, Malformed> {
        Ok(ByteTotals { stored: self.varint()?, raw: self.varint()? })
    }

    pub fn finish(self) -> Result<(), Malformed> {
        Ok(self.reader.finish()?)
    }
}
