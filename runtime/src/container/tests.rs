use super::layout::{encode_header, ChunkEntry, Codec, Footer, Index, RecordTable, SectionEntry};
use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

fn header() -> serde_json::Value {
    json!({"shape": [107, 4], "dtype": "f32", "names": ["pt", "eta", "phi", "m"], "extra": {"none": null}})
}

/// Repetitive bytes that zstd shrinks.
fn compressible(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 7) as u8).collect()
}

/// Bytes that do not compress, so they are stored plain.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    (0..len).map(|_| next()).collect()
}

fn sample_chunks() -> Vec<Chunk> {
    vec![
        Chunk {
            samples: 100,
            sections: vec![
                Section::new("latent", compressible(4000)),
                Section::new("residual", noise(300, 1)),
                Section::new("outliers", []),
            ],
        },
        Chunk { samples: 0, sections: vec![] },
        Chunk { samples: 0, sections: vec![Section::new("latent", [])] },
        Chunk {
            samples: 7,
            sections: vec![Section::new("lossless", noise(64, 2)), Section::new("latent", compressible(50))],
        },
    ]
}

fn sample_attachments() -> Vec<(&'static str, Vec<u8>)> {
    vec![("decoder.onnx", noise(500, 3)), ("notes.txt", b"made for the tests".to_vec())]
}

/// Chunks and attachments interleaved, as a pipeline may write them.
fn write_sample(path: &Path) -> Summary {
    let mut writer = Writer::create(path, &header()).unwrap();
    let chunks = sample_chunks();
    let attachments = sample_attachments();
    writer.write_chunk(&chunks[0]).unwrap();
    writer.attach(attachments[0].0, &attachments[0].1).unwrap();
    for chunk in &chunks[1..] {
        writer.write_chunk(chunk).unwrap();
    }
    writer.attach(attachments[1].0, &attachments[1].1).unwrap();
    writer.finish().unwrap()
}

fn sample_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("sample.baler");
        write_sample(&path);
        std::fs::read(path).unwrap()
    })
}

fn open_bytes(bytes: &[u8]) -> Result<Reader<Cursor<Vec<u8>>>, ContainerError> {
    Reader::from_source("x.baler", Cursor::new(bytes.to_vec()))
}

/// Opens and reads every chunk and attachment, stopping at the first error.
fn read_everything(bytes: &[u8]) -> Result<(), ContainerError> {
    let mut reader = open_bytes(bytes)?;
    for chunk in reader.chunks() {
        chunk?;
    }
    for name in reader.attachment_names() {
        reader.attachment(&name)?;
    }
    reader.sizes();
    Ok(())
}

fn error_text(bytes: &[u8]) -> String {
    read_everything(bytes).expect_err("damaged bytes must not read").to_string()
}

#[test]
fn round_trip_gives_back_header_chunks_and_attachments() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.baler");
    let summary = write_sample(&path);
    let mut reader = Reader::open(&path).unwrap();

    assert_eq!(reader.header(), &header());
    assert_eq!(reader.chunk_count(), 4);
    assert_eq!(reader.samples(), 107);
    assert_eq!((summary.chunks, summary.samples), (4, 107));
    let chunks: Vec<Chunk> = reader.chunks().collect::<Result<_, _>>().unwrap();
    assert_eq!(chunks, sample_chunks());
    assert_eq!(chunks[3].section("latent"), Some(compressible(50).as_slice()));
    assert_eq!(reader.attachment_names(), ["decoder.onnx", "notes.txt"]);
    for (name, bytes) in sample_attachments() {
        assert_eq!(reader.attachment(name).unwrap(), Some(bytes));
    }
    assert_eq!(reader.attachment("encoder.onnx").unwrap(), None);
}

#[test]
fn chunks_can_be_read_in_any_order() {
    let mut reader = open_bytes(sample_bytes()).unwrap();
    let expected = sample_chunks();
    for index in [3, 0, 2, 0, 1, 3] {
        assert_eq!(reader.read_chunk(index).unwrap(), expected[index]);
    }
    let error = reader.read_chunk(4).unwrap_err().to_string();
    assert_eq!(error, "x.baler: there is no chunk 4, the file has 4");
}

#[test]
fn sizes_add_up_to_the_file_length() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.baler");
    let summary = write_sample(&path);
    let sizes = Reader::open(&path).unwrap().sizes();

    assert_eq!(sizes, summary.sizes);
    assert_eq!(sizes.file, std::fs::metadata(&path).unwrap().len());
    assert_eq!(sizes.header + sizes.sections_stored() + sizes.attachments_stored() + sizes.framing, sizes.file);
    let latent = sizes.sections["latent"];
    assert_eq!(latent.raw, 4050);
    assert!(latent.stored < latent.raw / 10, "repetitive bytes compress: {latent:?}");
    assert_eq!(sizes.sections["residual"], ByteTotals { stored: 300, raw: 300 }, "noise is stored plain");
    assert_eq!(sizes.sections["outliers"], ByteTotals::default());
    assert_eq!(sizes.attachments["decoder.onnx"], ByteTotals { stored: 500, raw: 500 });
    assert_eq!(sizes.attachments.len(), 2);
}

#[test]
fn an_empty_container_round_trips() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("empty.baler");
    let summary = Writer::create(&path, &json!(null)).unwrap().finish().unwrap();
    let mut reader = Reader::open(&path).unwrap();
    assert_eq!((reader.chunk_count(), reader.samples(), reader.header()), (0, 0, &json!(null)));
    assert_eq!(reader.chunks().count(), 0);
    assert_eq!(summary.sizes, reader.sizes());
}

#[test]
fn every_truncation_is_reported_as_such() {
    let bytes = sample_bytes();
    assert_eq!(error_text(&[]), "x.baler is not a .baler file (it is empty)");
    for len in 1..bytes.len() {
        let error = read_everything(&bytes[..len]).expect_err("a prefix must not read");
        assert!(matches!(error, ContainerError::Truncated { .. }), "prefix of {len} bytes: {error}");
    }
    let missing_index = error_text(&bytes[..bytes.len() - 1]);
    assert_eq!(missing_index, "x.baler is truncated (the index is missing): it was not completely written");
}

#[test]
fn every_byte_is_guarded_by_a_check() {
    let bytes = sample_bytes();
    for position in 0..bytes.len() {
        for flip in [0x01, 0x80] {
            let mut damaged = bytes.to_vec();
            damaged[position] ^= flip;
            assert!(read_everything(&damaged).is_err(), "flipping byte {position} by {flip:#x} went unnoticed");
        }
    }
}

#[test]
fn a_newer_version_is_named() {
    let mut bytes = sample_bytes().to_vec();
    bytes[8..10].copy_from_slice(&7u16.to_le_bytes());
    assert_eq!(error_text(&bytes), "x.baler: format version 7 is newer than this balerc reads (1)");
}

#[test]
fn a_foreign_file_is_not_a_baler_file() {
    let error = error_text(b"PK\x03\x04 a zip archive, say");
    assert_eq!(error, "x.baler is not a .baler file (it does not start with the .baler signature)");
}

#[test]
fn text_mode_damage_is_recognized() {
    let crlf_to_lf = [b"\x89BALER\n".as_slice(), &sample_bytes()[8..]].concat();
    assert!(error_text(&crlf_to_lf).starts_with("x.baler: its signature is corrupted (its line endings were converted"));
    let seven_bit = [b"\x09BALER\r\n".as_slice(), &sample_bytes()[8..]].concat();
    assert!(error_text(&seven_bit).contains("cut to 7 bits"));
}

#[test]
fn a_damaged_header_is_reported() {
    let mut bytes = sample_bytes().to_vec();
    bytes[20] ^= 0x20;
    assert_eq!(error_text(&bytes), "x.baler: the header is corrupted (checksum mismatch)");
}

#[test]
fn a_damaged_payload_names_chunk_and_section() {
    let mut bytes = sample_bytes().to_vec();
    let spans = open_bytes(&bytes).unwrap().payload_spans(3);
    let (name, span) = &spans[1];
    bytes[span.start as usize + 3] ^= 1;
    assert_eq!(error_text(&bytes), format!("x.baler: chunk 3, section '{name}' is corrupted (checksum mismatch)"));
    assert_eq!(name, "latent");
}

#[test]
fn nothing_appears_when_the_writer_is_dropped() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.baler");
    let mut writer = Writer::create(&path, &header()).unwrap();
    writer.write_chunk(&sample_chunks()[0]).unwrap();
    drop(writer);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 0, "the temporary file is gone too");
}

#[test]
fn nothing_appears_when_writing_fails() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.baler");
    let mut writer = Writer::create(&path, &header()).unwrap();
    let twice = Chunk { samples: 1, sections: vec![Section::new("latent", [1]), Section::new("latent", [2])] };
    let error = writer.write_chunk(&twice).unwrap_err().to_string();
    assert!(error.ends_with("data.baler: chunk 0 has two sections named 'latent'"), "{error}");
    let written: Result<Summary, ContainerError> = (|| {
        writer.attach("", b"nameless")?;
        writer.finish()
    })();
    assert!(written.unwrap_err().to_string().contains("attachment '' needs a name of 1 to 65535 bytes"));
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 0);
}

#[test]
fn a_refused_chunk_leaves_the_file_writable() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.baler");
    let mut writer = Writer::create(&path, &header()).unwrap().with_compression_level(3).unwrap();
    writer.attach("model", b"weights").unwrap();
    assert!(writer.attach("model", b"again").unwrap_err().to_string().contains("attachment 'model' is attached twice"));
    writer.write_chunk(&sample_chunks()[3]).unwrap();
    writer.finish().unwrap();
    let mut reader = Reader::open(&path).unwrap();
    assert_eq!(reader.read_chunk(0).unwrap(), sample_chunks()[3]);
    assert_eq!(reader.attachment("model").unwrap().unwrap(), b"weights");
}

#[test]
fn compression_levels_outside_zstds_range_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let writer = Writer::create(&directory.path().join("data.baler"), &header()).unwrap();
    let error = writer.with_compression_level(99).err().unwrap().to_string();
    assert!(error.contains("compression level 99 is outside zstd's range"), "{error}");
}

#[test]
fn opening_a_missing_file_names_it() {
    let error = Reader::open(Path::new("/nonexistent/data.baler")).err().unwrap().to_string();
    assert!(error.starts_with("/nonexistent/data.baler: could not open it: "), "{error}");
}

/// A file of one chunk whose table says whatever the test wants, every checksum correct: what
/// a forger (or a writer bug) could produce.
fn forge(entry: SectionEntry, payload: &[u8]) -> Vec<u8> {
    let mut file = encode_header(b"{}");
    let offset = file.len() as u64;
    file.extend(RecordTable { samples: 1, sections: vec![entry] }.encode().unwrap());
    file.extend_from_slice(payload);
    let len = file.len() as u64 - offset;
    let mut index = Index { samples: 1, ..Index::default() };
    index.chunks.push(ChunkEntry { offset, len, samples: 1 });
    let index = index.encode();
    let footer = Footer {
        index_offset: file.len() as u64,
        index_len: index.len() as u64,
        index_checksum: crc32fast::hash(&index),
    };
    file.extend(index);
    file.extend(footer.encode());
    file
}

fn entry_for(codec: Codec, raw_len: u64, payload: &[u8]) -> SectionEntry {
    let checksum = crc32fast::hash(payload);
    SectionEntry { name: "latent".into(), codec, raw_len, stored_len: payload.len() as u64, checksum }
}

#[test]
fn a_forged_huge_size_is_refused_before_decompressing() {
    let payload = zstd::bulk::compress(&[0; 1000], 3).unwrap();
    let file = forge(entry_for(Codec::Zstd, 1 << 40, &payload), &payload);
    let error = error_text(&file);
    assert!(
        error.starts_with("x.baler: chunk 0, section 'latent' is corrupted (it declares 1099511627776 bytes"),
        "{error}"
    );
}

#[test]
fn a_forged_small_size_stops_decompression_early() {
    let payload = zstd::bulk::compress(&[0; 1 << 20], 3).unwrap();
    let file = forge(entry_for(Codec::Zstd, 10, &payload), &payload);
    let error = error_text(&file);
    assert!(error.ends_with("(it decompresses to 11 bytes instead of the 10 declared)"), "{error}");
}

#[test]
fn the_forging_helper_makes_valid_files() {
    let payload = zstd::bulk::compress(b"latent bytes", 3).unwrap();
    let file = forge(entry_for(Codec::Zstd, 12, &payload), &payload);
    let chunk = open_bytes(&file).unwrap().read_chunk(0).unwrap();
    assert_eq!(chunk.section("latent"), Some(b"latent bytes".as_slice()));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(read_everything(&bytes).is_err());
    }

    /// Random bytes after a valid preamble reach the deeper checks.
    #[test]
    fn random_bytes_after_the_signature_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        let bytes = [&sample_bytes()[..10], tail.as_slice()].concat();
        prop_assert!(read_everything(&bytes).is_err());
    }

    /// Every byte of a file is covered by a checksum or a check, so any flip is an error.
    #[test]
    fn any_single_byte_flip_is_an_error(position in any::<prop::sample::Index>(), flip in 1..=255u8) {
        let mut bytes = sample_bytes().to_vec();
        let position = position.index(bytes.len());
        bytes[position] ^= flip;
        prop_assert!(read_everything(&bytes).is_err(), "flipping byte {} went unnoticed", position);
    }

    #[test]
    fn random_overwrites_never_panic(
        position in any::<prop::sample::Index>(),
        patch in proptest::collection::vec(any::<u8>(), 1..40),
    ) {
        let mut bytes = sample_bytes().to_vec();
        let start = position.index(bytes.len());
        let end = (start + patch.len()).min(bytes.len());
        bytes[start..end].copy_from_slice(&patch[..end - start]);
        let _ = read_everything(&bytes);
    }

    #[test]
    fn flips_in_payloads_name_the_chunk_and_section(
        chunk in prop::sample::select(vec![0usize, 3]),
        section in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let mut bytes = sample_bytes().to_vec();
        let spans: Vec<_> = open_bytes(&bytes).unwrap().payload_spans(chunk).into_iter()
            .filter(|(_, span)| !span.is_empty())
            .collect();
        let (name, span) = &spans[section.index(spans.len())];
        let offset = span.start as usize + position.index((span.end - span.start) as usize);
        bytes[offset] ^= flip;
        let error = open_bytes(&bytes).unwrap().read_chunk(chunk).unwrap_err().to_string();
        prop_assert_eq!(error, format!("x.baler: chunk {chunk}, section '{name}' is corrupted (checksum mismatch)"));
    }
}
