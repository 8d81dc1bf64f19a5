//! Writes a `.baler` file front to back: the header, then each chunk and attachment as it
//! comes, then the index. Only the index stays in memory.
//!
//! Everything goes to a temporary file beside the target, which `finish` flushes, syncs and
//! renames into place: until then nothing exists at the target path, and dropping the writer
//! (after an error, say) deletes the temporary file.

use super::codec::{self, StoredSection};
use super::layout::{
    encode_footer, encode_header, AttachmentEntry, ChunkEntry, Index, RecordTable, MAX_HEADER_BYTES, MAX_INDEX_BYTES,
    MAX_NAME_BYTES, MAX_SECTION_BYTES,
};
use super::{ByteTotals, Chunk, ContainerError, Section, Summary};
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// zstd's level 9: markedly smaller than its default 3 on float data, still fast to decode.
pub const DEFAULT_COMPRESSION_LEVEL: i32 = 9;

pub struct Writer {
    path: PathBuf,
    out: BufWriter<NamedTempFile>,
    position: u64,
    header_len: u64,
    level: i32,
    index: Index,
    /// Set when a write failed part-way, so that `finish` cannot seal a file around a torn record.
    broken: bool,
}

impl Writer {
    /// Starts a file that will appear at `path` on `finish`, with `header` stored as JSON.
    pub fn create(path: &Path, header: &serde_json::Value) -> Result<Writer, ContainerError> {
        let json = serde_json::to_vec(header)
            .map_err(|error| ContainerError::invalid(path, format!("the header cannot be written as JSON: {error}")))?;
        if json.len() as u64 > MAX_HEADER_BYTES {
            let message =
                format!("the header is {} bytes of JSON, more than the {MAX_HEADER_BYTES} allowed", json.len());
            return Err(ContainerError::invalid(path, message));
        }
        let temporary = balerc_io::atomic::partial_file(path)
            .map_err(|error| ContainerError::io(path, "create a temporary file next to it", error))?;
        let mut writer = Writer {
            path: path.to_path_buf(),
            out: BufWriter::new(temporary),
            position: 0,
            header_len: 0,
            level: DEFAULT_COMPRESSION_LEVEL,
            index: Index::default(),
            broken: false,
        };
        writer.write(&encode_header(&json))?;
        writer.header_len = writer.position;
        Ok(writer)
    }

    /// Sets the zstd level (1 to 22; higher is smaller and slower) for what is written next.
    pub fn with_compression_level(mut self, level: i32) -> Result<Writer, ContainerError> {
        let levels = zstd::compression_level_range();
        if !levels.contains(&level) {
            let message =
                format!("compression level {level} is outside zstd's range {} to {}", levels.start(), levels.end());
            return Err(ContainerError::invalid(&self.path, message));
        }
        self.level = level;
        Ok(self)
    }

    pub fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), ContainerError> {
        let packed = self.packer().pack(self.index.chunks.len(), chunk)?;
        self.write_packed(packed)
    }

    /// Bytes written so far: the header and every record.
    pub fn bytes_written(&self) -> u64 {
        self.position
    }

    /// What compresses chunks for this writer, on any thread, ahead of [`Writer::write_packed`].
    pub fn packer(&self) -> Packer {
        Packer { path: self.path.clone(), level: self.level }
    }

    /// Writes a chunk packed by this writer's [`Packer`]; chunks go in the order written.
    pub fn write_packed(&mut self, packed: PackedChunk) -> Result<(), ContainerError> {
        let place = format!("chunk {}", self.index.chunks.len());
        let samples = self.index.samples.checked_add(packed.samples).ok_or_else(|| {
            ContainerError::invalid(&self.path, format!("{place} takes the sample count beyond 2^64"))
        })?;
        let (offset, len) = self.write_record(packed.samples, &packed.sections)?;
        self.index.chunks.push(ChunkEntry { offset, len, samples: packed.samples });
        self.index.samples = samples;
        for section in &packed.sections {
            self.index.sections.entry(section.entry.name.clone()).or_default().add(totals_of(section));
        }
        Ok(())
    }

    /// Stores a named file whole, such as the decoder model, so the container needs nothing else.
    pub fn attach(&mut self, name: &str, bytes: &[u8]) -> Result<(), ContainerError> {
        let place = format!("attachment '{name}'");
        check_name(&self.path, &place, name)?;
        check_size(&self.path, &place, bytes)?;
        if self.index.attachments.iter().any(|attachment| attachment.name == name) {
            return Err(ContainerError::invalid(&self.path, format!("{place} is attached twice")));
        }
        let stored = codec::store(name, bytes, self.level)
            .map_err(|error| ContainerError::io(&self.path, format!("compress {place}"), error))?;
        let totals = totals_of(&stored);
        let (offset, len) = self.write_record(0, &[stored])?;
        self.index.attachments.push(AttachmentEntry { name: name.to_string(), offset, len, totals });
        Ok(())
    }

    /// Writes the index, syncs the file to disk and renames it into place.
    pub fn finish(mut self) -> Result<Summary, ContainerError> {
        if self.broken {
            let message = "an earlier write failed, so the file cannot be completed";
            return Err(ContainerError::invalid(&self.path, message));
        }
        let index = self.index.encode();
        if index.len() as u64 > MAX_INDEX_BYTES {
            let message =
                format!("its index is {} bytes, more than the {MAX_INDEX_BYTES} a reader accepts", index.len());
            return Err(ContainerError::invalid(&self.path, message));
        }
        self.write(&index)?;
        self.write(&encode_footer(&index))?;
        let summary = Summary {
            chunks: self.index.chunks.len(),
            samples: self.index.samples,
            sizes: self.index.sizes(self.header_len, self.position),
        };
        self.seal()?;
        Ok(summary)
    }

    /// Flushes, syncs and renames: after this the file is complete at its path, or absent.
    fn seal(self) -> Result<(), ContainerError> {
        let path = self.path.as_path();
        let io_error = |action: &'static str| move |error| ContainerError::io(path, action, error);
        let temporary = self.out.into_inner().map_err(|error| io_error("write")(error.into_error()))?;
        temporary.as_file().sync_all().map_err(io_error("sync it to disk"))?;
        balerc_io::atomic::make_readable(temporary.as_file()).map_err(io_error("make it readable"))?;
        temporary.persist(path).map_err(|error| io_error("move it into place")(error.error))?;
        sync_directory_of(path);
        Ok(())
    }

    /// Writes a record (table, payloads, and the checksum of both) and returns where it starts
    /// and how long it is.
    fn write_record(&mut self, samples: u64, stored: &[StoredSection]) -> Result<(u64, u64), ContainerError> {
        let table = RecordTable { samples, sections: stored.iter().map(|section| section.entry.clone()).collect() };
        let table = table.encode();
        let offset = self.position;
        let mut checksum = crc32fast::Hasher::new();
        checksum.update(&table);
        self.write(&table)?;
        for section in stored {
            checksum.update(&section.payload);
            self.write(&section.payload)?;
        }
        self.write(&checksum.finalize().to_le_bytes())?;
        Ok((offset, self.position - offset))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ContainerError> {
        if let Err(error) = self.out.write_all(bytes) {
            self.broken = true;
            return Err(ContainerError::io(&self.path, "write", error));
        }
        self.position += bytes.len() as u64;
        Ok(())
    }
}

/// Checks and compresses chunks for a [`Writer`]; cheap to clone, and usable on many threads
/// at once, since compression is the slow part of writing.
#[derive(Clone)]
pub struct Packer {
    path: PathBuf,
    level: i32,
}

/// A chunk whose sections are compressed, ready to be written.
pub struct PackedChunk {
    samples: u64,
    sections: Vec<StoredSection<'static>>,
}

impl Packer {
    /// Chunk `index` (the order it will be written in, for error messages) checked and compressed.
    pub fn pack(&self, index: usize, chunk: &Chunk) -> Result<PackedChunk, ContainerError> {
        let place = format!("chunk {index}");
        self.check_sections(&place, &chunk.sections)?;
        // Sections compress in parallel too: one chunk may be all there is.
        let sections = chunk
            .sections
            .par_iter()
            .map(|section| codec::store(&section.name, &section.bytes, self.level).map(StoredSection::into_owned))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|error| ContainerError::io(&self.path, format!("compress {place}"), error))?;
        Ok(PackedChunk { samples: chunk.samples, sections })
    }

    fn check_sections(&self, place: &str, sections: &[Section]) -> Result<(), ContainerError> {
        let mut names = HashSet::new();
        for section in sections {
            let section_place = format!("{place}, section '{}'", section.name);
            check_name(&self.path, &section_place, &section.name)?;
            check_size(&self.path, &section_place, &section.bytes)?;
            if !names.insert(section.name.as_str()) {
                return Err(ContainerError::invalid(
                    &self.path,
                    format!("{place} has two sections named '{}'", section.name),
                ));
            }
        }
        Ok(())
    }
}

fn check_name(path: &Path, place: &str, name: &str) -> Result<(), ContainerError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        let message = format!("{place} needs a name of 1 to {MAX_NAME_BYTES} bytes");
        return Err(ContainerError::invalid(path, message));
    }
    Ok(())
}

fn check_size(path: &Path, place: &str, bytes: &[u8]) -> Result<(), ContainerError> {
    if bytes.len() as u64 > MAX_SECTION_BYTES {
        let message = format!("{place} is {} bytes, more than the {MAX_SECTION_BYTES} allowed", bytes.len());
        return Err(ContainerError::invalid(path, message));
    }
    Ok(())
}

fn totals_of(section: &StoredSection) -> ByteTotals {
    ByteTotals { stored: section.entry.stored_len, raw: section.entry.raw_len }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Makes the rename itself durable. The file is complete and in place whatever happens here,
/// so a failure (some file systems refuse to sync directories) is not worth failing for.
fn sync_directory_of(path: &Path) {
    #[cfg(unix)]
    if let Ok(directory) = std::fs::File::open(parent_dir(path)) {
        let _ = directory.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}
