//! Reads a `.baler` file: the header and the index when opening, then one record at a time on
//! request, each checked against its checksums before it is decompressed.
//!
//! Every length read from the file is checked against the file's size before anything is
//! allocated for it, so no damage can make the reader allocate more than the file holds.

use super::codec;
use super::layout::{
    checked_header_bytes, decode_header, index_checksum, parse_footer, parse_preamble, parse_record, parse_version, v1,
    FooterProblem, HeaderPlace, Index, Malformed, RecordTable, FOOTER_LEN, MAGIC, MAX_HEADER_BYTES, MAX_INDEX_BYTES,
    MIN_RECORD_LEN, OLDEST_VERSION, PREAMBLE_MAX_LEN, VERSION,
};
use super::{Chunk, ContainerError, Section, Sizes};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What the signature looks like after common ways of mangling a binary file.
const MANGLED_SIGNATURES: [(&[u8], &str); 3] = [
    (b"\x89BALER\n", "its line endings were converted to \\n, as a text-mode transfer does"),
    (b"\x89BALER\r\r\n", "its line endings were converted to \\r\\n, as a text-mode transfer does"),
    (b"\x09BALER\r\n", "its bytes were cut to 7 bits, as a text-mode transfer does"),
];

pub struct Reader<R = BufReader<File>> {
    source: Source<R>,
    header: serde_json::Value,
    header_len: u64,
    /// The file's format version, which decides how its records are laid out.
    version: u16,
    index: Index,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader, ContainerError> {
        let file = File::open(path).map_err(|error| ContainerError::io(path, "open it", error))?;
        Reader::from_source(path, BufReader::new(file))
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Reads a container from any seekable bytes; `name` stands for them in error messages.
    pub fn from_source(name: impl Into<PathBuf>, mut inner: R) -> Result<Reader<R>, ContainerError> {
        let path = name.into();
        let len = inner.seek(SeekFrom::End(0)).map_err(|error| ContainerError::io(&path, "read it", error))?;
        let mut source = Source { path, inner, len };
        let (header, place) = read_header(&mut source)?;
        let header_len = place.header_len();
        let index = match place.version {
            v1::VERSION => read_index_v1(&mut source, header_len)?,
            _ => read_index(&mut source, header_len)?,
        };
        Ok(Reader { source, header, header_len, version: place.version, index })
    }

    /// The caller's metadata, as given to the writer.
    pub fn header(&self) -> &serde_json::Value {
        &self.header
    }

    pub fn chunk_count(&self) -> usize {
        self.index.chunks.len()
    }

    /// Samples in all chunks together.
    pub fn samples(&self) -> u64 {
        self.index.samples
    }

    /// Any chunk, in any order, without reading the others.
    pub fn read_chunk(&mut self, index: usize) -> Result<Chunk, ContainerError> {
        let count = self.chunk_count();
        let Some(&entry) = self.index.chunks.get(index) else {
            return Err(ContainerError::NoSuchChunk { path: self.source.path.clone(), index, count });
        };
        let place = format!("chunk {index}");
        let (samples, sections) = self.read_record(&place, entry.offset, entry.len)?;
        if samples != entry.samples {
            let reason = format!("it holds {samples} samples where the index says {}", entry.samples);
            return Err(ContainerError::corrupted(&self.source.path, place, reason));
        }
        Ok(Chunk { samples, sections })
    }

    /// All chunks in order, one in memory at a time.
    pub fn chunks(&mut self) -> impl Iterator<Item = Result<Chunk, ContainerError>> + '_ {
        (0..self.chunk_count()).map(move |index| self.read_chunk(index))
    }

    pub fn attachment(&mut self, name: &str) -> Result<Option<Vec<u8>>, ContainerError> {
        let Some(entry) = self.index.attachments.iter().find(|attachment| attachment.name == name) else {
            return Ok(None);
        };
        let place = format!("attachment '{name}'");
        let (samples, mut sections) = self.read_record(&place, entry.offset, entry.len)?;
        match sections.pop() {
            Some(section) if samples == 0 && sections.is_empty() && section.name == name => Ok(Some(section.bytes)),
            _ => Err(ContainerError::corrupted(&self.source.path, place, "its record holds something else")),
        }
    }

    /// In the order they were attached.
    pub fn attachment_names(&self) -> Vec<String> {
        self.index.attachments.iter().map(|attachment| attachment.name.clone()).collect()
    }

    pub fn sizes(&self) -> Sizes {
        self.index.sizes(self.header_len, self.source.len)
    }

    /// A record's samples and sections, every section checked and decompressed.
    fn read_record(&mut self, place: &str, offset: u64, len: u64) -> Result<(u64, Vec<Section>), ContainerError> {
        if self.version == v1::VERSION {
            return self.read_record_v1(place, offset, len);
        }
        let path = self.source.path.clone();
        // The index has placed the record inside the file, so this allocates no more than it holds.
        let record = self.source.read_range(offset, len)?;
        let (table, spans) =
            parse_record(&record).map_err(|problem| ContainerError::corrupted(&path, place, problem.to_string()))?;
        let mut sections = Vec::new();
        for (entry, span) in table.sections.into_iter().zip(spans) {
            let section_place = format!("{place}, section '{}'", entry.name);
            let bytes = codec::restore(&entry, Cow::Borrowed(&record[span]))
                .map_err(|problem| ContainerError::corrupted(&path, &section_place, problem.to_string()))?;
            sections.push(Section { name: entry.name, bytes });
        }
        Ok((table.samples, sections))
    }

    /// A version 1 record: its table checked first, then each payload against its own checksum.
    fn read_record_v1(&mut self, place: &str, offset: u64, len: u64) -> Result<(u64, Vec<Section>), ContainerError> {
        let path = self.source.path.clone();
        let (table, checksums, mut position) = self.read_table_v1(place, offset, len)?;
        let mut sections = Vec::new();
        for (entry, checksum) in table.sections.into_iter().zip(checksums) {
            let section_place = format!("{place}, section '{}'", entry.name);
            let corrupted =
                |problem: codec::SectionProblem| ContainerError::corrupted(&path, &section_place, problem.to_string());
            codec::check_entry(&entry).map_err(corrupted)?;
            let payload = self.source.read_range(position, entry.stored_len)?;
            position += entry.stored_len;
            if crc32fast::hash(&payload) != checksum {
                return Err(corrupted(codec::SectionProblem::ChecksumMismatch));
            }
            let bytes = codec::restore(&entry, Cow::Owned(payload)).map_err(corrupted)?;
            sections.push(Section { name: entry.name, bytes });
        }
        Ok((table.samples, sections))
    }

    /// A version 1 record's table, checked, the payloads' checksums, and where the payloads start.
    fn read_table_v1(
        &mut self,
        place: &str,
        offset: u64,
        len: u64,
    ) -> Result<(RecordTable, Vec<u32>, u64), ContainerError> {
        let path = self.source.path.clone();
        let corrupted = |reason: String| ContainerError::corrupted(&path, place, reason);
        let prefix = self.source.read_range(offset, v1::RECORD_PREFIX_LEN)?;
        let (table_len, checksum) =
            v1::parse_record_prefix(&prefix).map_err(|problem| corrupted(problem.to_string()))?;
        let table_end = v1::RECORD_PREFIX_LEN + u64::from(table_len);
        if table_end > len {
            return Err(corrupted("its table runs past its end".into()));
        }
        let table = self.source.read_range(offset + v1::RECORD_PREFIX_LEN, table_len.into())?;
        if crc32fast::hash(&table) != checksum {
            return Err(corrupted("checksum mismatch in its table".into()));
        }
        let (table, checksums) =
            v1::parse_table(&table).map_err(|problem| corrupted(format!("its table is malformed: {problem}")))?;
        let payloads: u128 = table.sections.iter().map(|entry| u128::from(entry.stored_len)).sum();
        if payloads != u128::from(len - table_end) {
            return Err(corrupted("its sections do not fill it".into()));
        }
        Ok((table, checksums, offset + table_end))
    }

    /// The file's format version.
    #[cfg(test)]
    pub(super) fn version(&self) -> u16 {
        self.version
    }

    /// Where each section's stored bytes lie in chunk `index`, to aim damage at them in tests.
    #[cfg(test)]
    pub(super) fn payload_spans(&mut self, index: usize) -> Vec<(String, std::ops::Range<u64>)> {
        let entry = self.index.chunks[index];
        if self.version == v1::VERSION {
            let (table, _, mut position) = self.read_table_v1("test", entry.offset, entry.len).expect("a valid chunk");
            let mut spans = Vec::new();
            for section in table.sections {
                spans.push((section.name, position..position + section.stored_len));
                position += section.stored_len;
            }
            return spans;
        }
        let record = self.source.read_range(entry.offset, entry.len).expect("a readable chunk");
        let (table, spans) = parse_record(&record).expect("a valid chunk");
        let absolute = |span: std::ops::Range<usize>| entry.offset + span.start as u64..entry.offset + span.end as u64;
        table.sections.into_iter().zip(spans).map(|(section, span)| (section.name, absolute(span))).collect()
    }
}

/// The file's bytes, read by range.
struct Source<R> {
    path: PathBuf,
    inner: R,
    len: u64,
}

impl<R: Read + Seek> Source<R> {
    /// Callers check ranges against the file's structure first; the check here makes sure that
    /// a slip can never allocate beyond the file's size.
    fn read_range(&mut self, offset: u64, len: u64) -> Result<Vec<u8>, ContainerError> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            let reason = format!("a length points {len} bytes from offset {offset}, past its end");
            return Err(ContainerError::corrupted(&self.path, "the file", reason));
        }
        let mut bytes = vec![0; len as usize];
        self.inner
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.inner.read_exact(&mut bytes))
            .map_err(|error| ContainerError::io(&self.path, "read it", error))?;
        Ok(bytes)
    }
}

/// The caller's JSON and where the header lies, after checking what kind of file this is.
fn read_header<R: Read + Seek>(source: &mut Source<R>) -> Result<(serde_json::Value, HeaderPlace), ContainerError> {
    let path = source.path.clone();
    let preamble = source.read_range(0, source.len.min(PREAMBLE_MAX_LEN))?;
    check_signature(&path, &preamble)?;
    let truncated = || ContainerError::truncated(&path, "the header is incomplete");
    let version = parse_version(&preamble).map_err(|_| truncated())?;
    check_version(&path, version)?;
    let place = match version {
        v1::VERSION => v1::parse_preamble(&preamble),
        _ => parse_preamble(&preamble),
    };
    let place = place.map_err(|problem| match problem {
        Malformed::EndsEarly => truncated(),
        other => ContainerError::corrupted(&path, "the header", format!("its length is malformed: {other}")),
    })?;
    if place.stored_len > MAX_HEADER_BYTES {
        let reason = format!("it declares {} bytes, more than the {MAX_HEADER_BYTES} allowed", place.stored_len);
        return Err(ContainerError::corrupted(&path, "the header", reason));
    }
    let header_len = place.header_len();
    if header_len > source.len {
        return Err(truncated());
    }
    let header = source.read_range(0, header_len)?;
    let stored = checked_header_bytes(&header, &place)
        .ok_or_else(|| ContainerError::corrupted(&path, "the header", "checksum mismatch"))?;
    let json =
        decode_header(place.codec, stored).map_err(|reason| ContainerError::corrupted(&path, "the header", reason))?;
    let json = serde_json::from_slice(&json)
        .map_err(|error| ContainerError::corrupted(&path, "the header", format!("it is not valid JSON: {error}")))?;
    Ok((json, place))
}

fn check_signature(path: &Path, start: &[u8]) -> Result<(), ContainerError> {
    if start.starts_with(&MAGIC) {
        return Ok(());
    }
    if start.is_empty() {
        return Err(ContainerError::not_baler(path, "it is empty"));
    }
    if MAGIC.starts_with(start) {
        return Err(ContainerError::truncated(path, "the header is incomplete"));
    }
    if let Some((_, damage)) = MANGLED_SIGNATURES.iter().find(|(signature, _)| start.starts_with(signature)) {
        return Err(ContainerError::corrupted(path, "its signature", *damage));
    }
    Err(ContainerError::not_baler(path, "it does not start with the .baler signature"))
}

/// Every version from [`OLDEST_VERSION`] to [`VERSION`] reads.
fn check_version(path: &Path, version: u16) -> Result<(), ContainerError> {
    match version {
        older if older < OLDEST_VERSION => {
            Err(ContainerError::corrupted(path, "the format version", format!("{older} was never written")))
        }
        newer if newer > VERSION => {
            Err(ContainerError::NewerVersion { path: path.to_path_buf(), found: newer, supported: VERSION })
        }
        _ => Ok(()),
    }
}

/// A version 2 index, found through the footer at the very end and checked against the file.
fn read_index<R: Read + Seek>(source: &mut Source<R>, header_len: u64) -> Result<Index, ContainerError> {
    let path = source.path.clone();
    let missing = || ContainerError::truncated(&path, "the index is missing");
    let corrupted = |reason: String| ContainerError::corrupted(&path, "the index", reason);
    if source.len < header_len + FOOTER_LEN {
        return Err(missing());
    }
    let index_end = source.len - FOOTER_LEN;
    let footer = source.read_range(index_end, FOOTER_LEN)?;
    let (index_len, checksum) = parse_footer(&footer).map_err(|problem| match problem {
        FooterProblem::Missing => missing(),
        FooterProblem::ChecksumMismatch => ContainerError::corrupted(&path, "the footer", "checksum mismatch"),
    })?;
    let index_len = u64::from(index_len);
    if index_len > index_end - header_len {
        return Err(ContainerError::corrupted(&path, "the footer", "it places the index outside the file"));
    }
    if index_len > MAX_INDEX_BYTES {
        return Err(corrupted(format!("it is {index_len} bytes, more than the {MAX_INDEX_BYTES} allowed")));
    }
    let index_offset = index_end - index_len;
    let bytes = source.read_range(index_offset, index_len)?;
    if index_checksum(&bytes) != checksum {
        return Err(corrupted("checksum mismatch".into()));
    }
    let index = Index::parse(&bytes, header_len).map_err(|problem| corrupted(problem.to_string()))?;
    check_index(&index, header_len, index_offset, MIN_RECORD_LEN).map_err(|reason| corrupted(reason.into()))?;
    Ok(index)
}

/// A version 1 index, through its footer of offset, length and checksums.
fn read_index_v1<R: Read + Seek>(source: &mut Source<R>, header_len: u64) -> Result<Index, ContainerError> {
    let path = source.path.clone();
    let missing = || ContainerError::truncated(&path, "the index is missing");
    let corrupted = |reason: String| ContainerError::corrupted(&path, "the index", reason);
    if source.len < header_len + v1::FOOTER_LEN {
        return Err(missing());
    }
    let footer = source.read_range(source.len - v1::FOOTER_LEN, v1::FOOTER_LEN)?;
    let footer = v1::Footer::parse(&footer).map_err(|problem| match problem {
        FooterProblem::Missing => missing(),
        FooterProblem::ChecksumMismatch => ContainerError::corrupted(&path, "the footer", "checksum mismatch"),
    })?;
    let index_end = footer.index_offset.checked_add(footer.index_len);
    if footer.index_offset < header_len || index_end != Some(source.len - v1::FOOTER_LEN) {
        return Err(ContainerError::corrupted(&path, "the footer", "it places the index outside the file"));
    }
    if footer.index_len > MAX_INDEX_BYTES {
        return Err(corrupted(format!("it is {} bytes, more than the {MAX_INDEX_BYTES} allowed", footer.index_len)));
    }
    let bytes = source.read_range(footer.index_offset, footer.index_len)?;
    if crc32fast::hash(&bytes) != footer.index_checksum {
        return Err(corrupted("checksum mismatch".into()));
    }
    let index = v1::parse_index(&bytes).map_err(|problem| corrupted(problem.to_string()))?;
    check_index(&index, header_len, footer.index_offset, v1::RECORD_PREFIX_LEN)
        .map_err(|reason| corrupted(reason.into()))?;
    Ok(index)
}

/// The records must fill the space between header and index exactly, each at least as long as
/// the smallest record, and the totals must add up: then every offset and length in the index is
/// safe to follow. (Version 2 derives the offsets from the lengths, so there only the ends can
/// disagree.)
fn check_index(index: &Index, header_len: u64, index_offset: u64, min_record_len: u64) -> Result<(), &'static str> {
    let chunks = index.chunks.iter().map(|chunk| (chunk.offset, chunk.len));
    let attachments = index.attachments.iter().map(|attachment| (attachment.offset, attachment.len));
    let mut records: Vec<(u64, u64)> = chunks.chain(attachments).collect();
    records.sort_unstable();
    let mut end = header_len;
    for (offset, len) in records {
        if offset != end || len < min_record_len {
            return Err("its records overlap or leave gaps");
        }
        end = offset.checked_add(len).ok_or("its records overlap or leave gaps")?;
    }
    if end != index_offset {
        return Err("its records do not reach the index");
    }
    let samples: u128 = index.chunks.iter().map(|chunk| u128::from(chunk.samples)).sum();
    if samples != u128::from(index.samples) {
        return Err("its sample counts do not add up");
    }
    let sections = index.sections.values().map(|totals| u128::from(totals.stored));
    let attachments = index.attachments.iter().map(|attachment| u128::from(attachment.totals.stored));
    if sections.chain(attachments).sum::<u128>() > u128::from(index_offset - header_len) {
        return Err("its byte totals exceed its records");
    }
    Ok(())
}
