use super::codec::{self, StoredSection};
use super::layout::{
    encode_footer, encode_header, encode_header_as, v1, AttachmentEntry, ByteCursor, ChunkEntry, Codec, Encoder,
    HeaderCodec, Index, Malformed, RecordTable, SectionEntry, HEADER_DICTIONARY,
};
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
    assert_eq!(error_text(&bytes), "x.baler: format version 7 is newer than this balerc reads (2)");
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

/// One checksum guards a whole version 2 record, so damage names the chunk; version 1 has one
/// for each payload and names the section too.
#[test]
fn a_damaged_payload_names_the_chunk() {
    let mut bytes = sample_bytes().to_vec();
    let spans = open_bytes(&bytes).unwrap().payload_spans(3);
    let (name, span) = &spans[1];
    assert_eq!(name, "latent");
    bytes[span.start as usize + 3] ^= 1;
    assert_eq!(error_text(&bytes), "x.baler: chunk 3 is corrupted (checksum mismatch)");

    let mut bytes = V1_SAMPLE.to_vec();
    let spans = open_bytes(&bytes).unwrap().payload_spans(3);
    let (name, span) = &spans[1];
    bytes[span.start as usize + 3] ^= 1;
    assert_eq!(error_text(&bytes), format!("x.baler: chunk 3, section '{name}' is corrupted (checksum mismatch)"));
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
    forge_record(RecordTable { samples: 1, sections: vec![entry] }.encode(), payload, 1)
}

/// A file of one chunk of `samples` whose record is `table` (with its length) and `payloads`,
/// followed by the record's checksum, the index and the footer.
fn forge_record(table: Vec<u8>, payloads: &[u8], samples: u64) -> Vec<u8> {
    let file = encode_header(b"{}");
    let offset = file.len() as u64;
    let mut record = table;
    record.extend_from_slice(payloads);
    record.extend(crc32fast::hash(&record).to_le_bytes());
    let mut index = Index { samples, ..Index::default() };
    index.chunks.push(ChunkEntry { offset, len: record.len() as u64, samples });
    finish_forged([file, record].concat(), &index.encode())
}

/// `file` with `index` and a correct footer after it.
fn finish_forged(mut file: Vec<u8>, index: &[u8]) -> Vec<u8> {
    file.extend_from_slice(index);
    file.extend(encode_footer(index));
    file
}

/// [`forge`] in version 1.
fn forge_v1(entry: SectionEntry, payload: &[u8]) -> Vec<u8> {
    let mut file = v1::encode_header(b"{}");
    let offset = file.len() as u64;
    let table = RecordTable { samples: 1, sections: vec![entry] };
    file.extend(v1::encode_table(&table, &[crc32fast::hash(payload)]));
    file.extend_from_slice(payload);
    let mut index = Index { samples: 1, ..Index::default() };
    index.chunks.push(ChunkEntry { offset, len: file.len() as u64 - offset, samples: 1 });
    with_v1_index(file, &index)
}

fn entry_for(codec: Codec, raw_len: u64, payload: &[u8]) -> SectionEntry {
    SectionEntry { name: "latent".into(), codec, raw_len, stored_len: payload.len() as u64 }
}

/// The same forgery in both versions.
fn forged(codec: Codec, raw_len: u64, payload: &[u8]) -> [Vec<u8>; 2] {
    [forge(entry_for(codec, raw_len, payload), payload), forge_v1(entry_for(codec, raw_len, payload), payload)]
}

#[test]
fn a_forged_huge_size_is_refused_before_decompressing() {
    let payload = zstd::bulk::compress(&[0; 1000], 3).unwrap();
    for file in forged(Codec::Zstd, 1 << 40, &payload) {
        let error = error_text(&file);
        assert!(
            error.starts_with("x.baler: chunk 0, section 'latent' is corrupted (it declares 1099511627776 bytes"),
            "{error}"
        );
    }
}

#[test]
fn a_forged_small_size_stops_decompression_early() {
    let payload = zstd::bulk::compress(&[0; 1 << 20], 3).unwrap();
    for file in forged(Codec::Zstd, 10, &payload) {
        let error = error_text(&file);
        assert!(error.ends_with("(it decompresses to 11 bytes instead of the 10 declared)"), "{error}");
    }
}

#[test]
fn the_forging_helpers_make_valid_files() {
    let payload = zstd::bulk::compress(b"latent bytes", 3).unwrap();
    for (file, version) in forged(Codec::Zstd, 12, &payload).into_iter().zip([2, 1]) {
        let mut reader = open_bytes(&file).unwrap();
        assert_eq!(reader.version(), version);
        assert_eq!(reader.read_chunk(0).unwrap().section("latent"), Some(b"latent bytes".as_slice()));
    }
}

// Version 1.

/// What the version 1 writer wrote for `write_sample`, kept as it came out.
const V1_SAMPLE: &[u8] = include_bytes!("v1_sample.baler");

/// A chunk or an attachment, in the order a file has them.
#[derive(Clone)]
enum Record {
    Chunk(Chunk),
    Attachment(String, Vec<u8>),
}

fn sample_records() -> Vec<Record> {
    let chunks = sample_chunks();
    let attachment = |(name, bytes): (&str, Vec<u8>)| Record::Attachment(name.into(), bytes);
    let mut attachments = sample_attachments().into_iter().map(attachment);
    let mut records = vec![Record::Chunk(chunks[0].clone()), attachments.next().unwrap()];
    records.extend(chunks[1..].iter().cloned().map(Record::Chunk));
    records.extend(attachments);
    records
}

/// A version 1 file as the version 1 writer wrote it: the sections stored the same way, laid
/// out by the version 1 encoders.
fn write_v1(header: &serde_json::Value, records: &[Record]) -> Vec<u8> {
    let mut file = v1::encode_header(&serde_json::to_vec(header).unwrap());
    let mut index = Index::default();
    for record in records {
        let (samples, sections) = match record {
            Record::Chunk(chunk) => (chunk.samples, chunk.sections.clone()),
            Record::Attachment(name, bytes) => (0, vec![Section::new(name.clone(), bytes.clone())]),
        };
        let stored: Vec<StoredSection> = sections
            .iter()
            .map(|section| codec::store(&section.name, &section.bytes, DEFAULT_COMPRESSION_LEVEL).unwrap())
            .collect();
        let checksums: Vec<u32> = stored.iter().map(|section| crc32fast::hash(&section.payload)).collect();
        let table = RecordTable { samples, sections: stored.iter().map(|section| section.entry.clone()).collect() };
        let offset = file.len() as u64;
        file.extend(v1::encode_table(&table, &checksums));
        for section in &stored {
            file.extend_from_slice(&section.payload);
        }
        let len = file.len() as u64 - offset;
        let totals =
            |section: &StoredSection| ByteTotals { stored: section.entry.stored_len, raw: section.entry.raw_len };
        match record {
            Record::Chunk(_) => {
                index.chunks.push(ChunkEntry { offset, len, samples });
                index.samples += samples;
                for section in &stored {
                    index.sections.entry(section.entry.name.clone()).or_default().add(totals(section));
                }
            }
            Record::Attachment(name, _) => {
                index.attachments.push(AttachmentEntry { name: name.clone(), offset, len, totals: totals(&stored[0]) })
            }
        }
    }
    with_v1_index(file, &index)
}

#[test]
fn the_version_1_encoders_write_what_the_version_1_writer_wrote() {
    assert_eq!(write_v1(&header(), &sample_records()), V1_SAMPLE);
}

#[test]
fn version_1_files_still_read() {
    let mut reader = open_bytes(V1_SAMPLE).unwrap();
    assert_eq!(reader.version(), 1);
    assert_eq!(reader.header(), &header());
    assert_eq!((reader.chunk_count(), reader.samples()), (4, 107));
    let chunks: Vec<Chunk> = reader.chunks().collect::<Result<_, _>>().unwrap();
    assert_eq!(chunks, sample_chunks());
    assert_eq!(reader.attachment_names(), ["decoder.onnx", "notes.txt"]);
    for (name, bytes) in sample_attachments() {
        assert_eq!(reader.attachment(name).unwrap(), Some(bytes));
    }

    let sizes = reader.sizes();
    let json_len = serde_json::to_vec(&header()).unwrap().len() as u64;
    assert_eq!(sizes.header, 14 + json_len + 4);
    assert_eq!(sizes.file, V1_SAMPLE.len() as u64);
    assert_eq!(sizes.header + sizes.sections_stored() + sizes.attachments_stored() + sizes.framing, sizes.file);
    assert_eq!(sizes.sections["latent"].raw, 4050);
    assert_eq!(sizes.sections["residual"], ByteTotals { stored: 300, raw: 300 });
    assert_eq!(sizes.attachments["decoder.onnx"], ByteTotals { stored: 500, raw: 500 });
    // Version 1 frames the same content in far more bytes.
    let v2 = open_bytes(sample_bytes()).unwrap().sizes();
    assert_eq!((v2.sections, v2.attachments), (sizes.sections, sizes.attachments));
    assert!(v2.header + v2.framing < sizes.header + sizes.framing);
}

#[test]
fn every_truncation_and_byte_flip_of_a_version_1_file_is_an_error() {
    for len in 1..V1_SAMPLE.len() {
        let error = read_everything(&V1_SAMPLE[..len]).expect_err("a prefix must not read");
        assert!(matches!(error, ContainerError::Truncated { .. }), "prefix of {len} bytes: {error}");
    }
    for position in 0..V1_SAMPLE.len() {
        for flip in [0x01, 0x80] {
            let mut damaged = V1_SAMPLE.to_vec();
            damaged[position] ^= flip;
            assert!(read_everything(&damaged).is_err(), "flipping byte {position} by {flip:#x} went unnoticed");
        }
    }
}

// Version 2.

/// The header of a compressed 20-frame CFD file (frames of 50 x 50, an error bound), as the
/// pipeline writes it.
fn cfd_header() -> serde_json::Value {
    serde_json::from_str(concat!(
        r#"{"chunk_samples":419,"dtype":"f64","error_bound":{"max_abs_error":[0.001555],"residual_plans":true},"#,
        r#""format":"npz","integer_columns":[],"kind":"balerc-compressed","latent_bits":4,"latent_width":20,"#,
        r#""lossless_columns":[],"model_hash":"9af7a058b4365eed8957ce8396dd146c4e2b619e3a9d52faacaf14d18e2bc862","#,
        r#""modelled_columns":[],"modelled_per_sample":2500,"names":[],"#,
        r#""normalization":{"kind":"min-max","offset":[-0.01114225760102272],"scale":[0.05876113474369049]},"#,
        r#""shape":[20,50,50]}"#
    ))
    .unwrap()
}

/// That file's one chunk: its sections' names and stored sizes, with stand-in contents.
fn cfd_chunk() -> Chunk {
    Chunk {
        samples: 20,
        sections: vec![
            Section::new("latent_range32", noise(160, 4)),
            Section::new("latent_ans", noise(225, 5)),
            Section::new("residual_plan", noise(33, 6)),
            Section::new("residual_ans", noise(2206, 7)),
        ],
    }
}

fn write_bytes(header: &serde_json::Value, records: &[Record]) -> Vec<u8> {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.baler");
    let mut writer = Writer::create(&path, header).unwrap();
    for record in records {
        match record {
            Record::Chunk(chunk) => writer.write_chunk(chunk).unwrap(),
            Record::Attachment(name, bytes) => writer.attach(name, bytes).unwrap(),
        }
    }
    writer.finish().unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn the_sample_is_version_2() {
    assert_eq!(sample_bytes()[8..10], 2u16.to_le_bytes());
    assert_eq!(&sample_bytes()[sample_bytes().len() - 4..], b"BLR2");
    assert_eq!(open_bytes(sample_bytes()).unwrap().version(), VERSION);
    // What the records hold does not change with the version.
    assert_eq!(write_bytes(&header(), &sample_records()), sample_bytes());
}

/// The layout fixes every byte of framing: per record a table length (1 byte here), samples
/// (1), a section count (1), per section a name length (1), the name, a codec (1) and two
/// lengths (2 + 2 at most here), then a checksum (4); an index of the chunk count (1), the
/// record's length (2) and samples (1), the attachment and name counts (1 + 1), per name its
/// length (1), the name and two totals (2 + 2); a footer of 12.
fn framing_bound(chunk: &Chunk) -> u64 {
    let per_section: u64 =
        chunk.sections.iter().map(|section| (1 + 1 + 2 + 2) + (1 + 2 + 2) + 2 * section.name.len() as u64).sum();
    (1 + 1 + 1 + 4) + (1 + 2 + 1 + 1 + 1) + 12 + per_section
}

#[test]
fn a_small_files_framing_is_what_the_layout_allows() {
    let short = Chunk {
        samples: 20,
        sections: ["a", "b", "c", "d"]
            .iter()
            .zip(cfd_chunk().sections)
            .map(|(name, s)| Section::new(*name, s.bytes))
            .collect(),
    };
    for chunk in [cfd_chunk(), short] {
        let sizes = open_bytes(&write_bytes(&cfd_header(), &[Record::Chunk(chunk.clone())])).unwrap().sizes();
        let names: Vec<&str> = chunk.sections.iter().map(|section| section.name.as_str()).collect();
        println!("{names:?}: {} bytes of framing, at most {} by the layout", sizes.framing, framing_bound(&chunk));
        assert!(sizes.framing <= framing_bound(&chunk), "{names:?}: {sizes:?}");
    }
    let short_bound = framing_bound(&Chunk {
        samples: 20,
        sections: ["a", "b", "c", "d"].map(|name| Section::new(name, [])).to_vec(),
    });
    assert!(short_bound < 80, "{short_bound}");
}

#[test]
fn a_small_files_header_and_framing_take_less_than_half_the_bytes_of_version_1() {
    let records = [Record::Chunk(cfd_chunk())];
    let v1 = open_bytes(&write_v1(&cfd_header(), &records)).unwrap().sizes();
    let v2 = open_bytes(&write_bytes(&cfd_header(), &records)).unwrap().sizes();
    println!(
        "header + framing of a 20-frame CFD file: version 1 {} + {} = {}, version 2 {} + {} = {} bytes",
        v1.header,
        v1.framing,
        v1.header + v1.framing,
        v2.header,
        v2.framing,
        v2.header + v2.framing
    );
    // The file that balerc wrote in version 1 had these.
    assert_eq!((v1.header, v1.framing), (493, 362));
    assert_eq!(v2.sections, v1.sections);
    assert!(2 * (v2.header + v2.framing) <= v1.header + v1.framing, "{v1:?} {v2:?}");
}

fn small_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let chunk = Chunk {
            samples: 20,
            sections: vec![
                Section::new("latent_range32", noise(40, 8)),
                Section::new("latent_ans", compressible(300)),
                Section::new("residual_plan", []),
                Section::new("residual_ans", noise(30, 9)),
            ],
        };
        let records = [Record::Attachment("model".into(), noise(20, 10)), Record::Chunk(chunk)];
        write_bytes(&cfd_header(), &records)
    })
}

#[test]
fn every_change_to_any_byte_of_a_small_file_is_an_error() {
    let bytes = small_bytes();
    read_everything(bytes).unwrap();
    for position in 0..bytes.len() {
        for flip in 1..=255u8 {
            let mut damaged = bytes.to_vec();
            damaged[position] ^= flip;
            assert!(read_everything(&damaged).is_err(), "changing byte {position} by {flip:#x} went unnoticed");
        }
    }
    for len in 0..bytes.len() {
        assert!(read_everything(&bytes[..len]).is_err(), "a prefix of {len} bytes read");
    }
}

#[test]
fn many_chunks_and_attachments_anywhere_round_trip_in_both_versions() {
    let chunk = |i: u64| Chunk {
        samples: [0, 1, 127, 128, 1 << 40][i as usize % 5],
        sections: match i % 4 {
            0 => vec![],
            1 => vec![Section::new("latent", compressible(i as usize * 7)), Section::new("empty", [])],
            2 => vec![Section::new("residual", noise(i as usize, i)), Section::new("latent", noise(3, i))],
            _ => vec![Section::new(format!("section {}", i % 9), compressible(100))],
        },
    };
    let mut records = vec![Record::Attachment("first".into(), b"before any chunk".to_vec())];
    for i in 0..300 {
        records.push(Record::Chunk(chunk(i)));
        if i == 150 {
            records.push(Record::Attachment("middle".into(), noise(200, 9)));
            records.push(Record::Attachment("middle, empty".into(), vec![]));
        }
    }
    records.push(Record::Chunk(Chunk { samples: 3, sections: vec![Section::new("large", noise(20_000, 1))] }));
    records.push(Record::Attachment("last".into(), compressible(100_000)));

    for bytes in [write_bytes(&header(), &records), write_v1(&header(), &records)] {
        let mut reader = open_bytes(&bytes).unwrap();
        let mut chunks = 0;
        for record in &records {
            match record {
                Record::Chunk(chunk) => {
                    assert_eq!(&reader.read_chunk(chunks).unwrap(), chunk);
                    chunks += 1;
                }
                Record::Attachment(name, attached) => assert_eq!(&reader.attachment(name).unwrap().unwrap(), attached),
            }
        }
        assert_eq!(reader.chunk_count(), chunks);
        assert_eq!(reader.attachment_names(), ["first", "middle", "middle, empty", "last"]);
        let samples: u64 = (0..300).map(|i| chunk(i).samples).sum::<u64>() + 3;
        assert_eq!(reader.samples(), samples);
        let sizes = reader.sizes();
        assert_eq!(sizes.header + sizes.sections_stored() + sizes.attachments_stored() + sizes.framing, sizes.file);
        assert_eq!(sizes.sections["large"], ByteTotals { stored: 20_000, raw: 20_000 });
        assert_eq!(sizes.attachments["last"].raw, 100_000);
    }
}

#[test]
fn headers_read_in_every_codec_and_the_smallest_is_written() {
    let json = serde_json::to_vec(&cfd_header()).unwrap();
    let with_dictionary =
        zstd::bulk::Compressor::with_dictionary(3, HEADER_DICTIONARY.as_bytes()).unwrap().compress(&json).unwrap();
    let stored = [
        (HeaderCodec::Stored, json.clone()),
        (HeaderCodec::Zstd, zstd::bulk::compress(&json, 3).unwrap()),
        (HeaderCodec::ZstdDictionary, with_dictionary),
    ];
    for (codec, bytes) in stored {
        let file = finish_forged(encode_header_as(codec, &bytes), &Index::default().encode());
        assert_eq!(open_bytes(&file).unwrap().header(), &cfd_header(), "{codec:?}");
    }
    let written = encode_header(&json);
    assert_eq!(written[10], HeaderCodec::ZstdDictionary as u8);
    println!("a header of {} bytes of JSON takes {} bytes", json.len(), written.len());
    assert!(written.len() < json.len() / 2, "{} bytes", written.len());
    assert_eq!(encode_header(b"null")[10], HeaderCodec::Stored as u8, "too small to compress");
}

#[test]
fn the_format_document_gives_the_header_dictionary() {
    let document = include_str!("../../../docs/baler-format.md");
    let section = &document[document.find("### Header dictionary").unwrap()..];
    let block = &section[section.find("```text\n").unwrap() + 8..];
    let block = &block[..block.find("\n```").unwrap()];
    assert_eq!(block.lines().collect::<String>(), HEADER_DICTIONARY);
    assert_eq!(HEADER_DICTIONARY.len(), 1261);
}

/// `bytes` with the header checksum made right again after an edit.
fn fix_header_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let end = bytes.len() - 4;
    let checksum = crc32fast::hash(&bytes[8..end]);
    bytes[end..].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

#[test]
fn malformed_headers_are_named() {
    let empty_index = Index::default().encode();
    let mut unknown = encode_header_as(HeaderCodec::Stored, b"{}");
    unknown[10] = 3;
    let unknown = fix_header_checksum(unknown);
    assert_eq!(error_text(&finish_forged(unknown, &empty_index)), "x.baler: the header is corrupted (unknown codec 3)");

    let bomb = zstd::bulk::compress(&vec![b' '; MAX_HEADER_BYTES as usize + 1], 1).unwrap();
    let file = finish_forged(encode_header_as(HeaderCodec::Zstd, &bomb), &empty_index);
    let error = error_text(&file);
    assert!(
        error.ends_with("the header is corrupted (it decompresses to more than the 67108864 bytes allowed)"),
        "{error}"
    );

    let too_long = [&MAGIC[..], &2u16.to_le_bytes(), &[0], &[0x81, 0x80, 0x80, 0x20], &[0; 20]].concat();
    let error = error_text(&too_long);
    assert_eq!(error, "x.baler: the header is corrupted (it declares 67108865 bytes, more than the 67108864 allowed)");
}

#[test]
fn bad_varints_in_a_file_are_named() {
    // In the header's length.
    let overflow = [&MAGIC[..], &2u16.to_le_bytes(), &[0], &[0xff; 9], &[0x02], &[0; 20]].concat();
    let error = error_text(&overflow);
    assert_eq!(error, "x.baler: the header is corrupted (its length is malformed: a number does not fit in 64 bits)");
    let overlong = [&MAGIC[..], &2u16.to_le_bytes(), &[0], &[0x82, 0x00], &[0; 20]].concat();
    let error = error_text(&overlong);
    assert!(error.ends_with("(its length is malformed: a number is written with more bytes than it needs)"), "{error}");

    // In a record's table, under a correct checksum: zero samples written in two bytes.
    let file = forge_record(vec![3, 0x80, 0x00, 0], &[], 0);
    let error = error_text(&file);
    let expected = "chunk 0 is corrupted (its table is malformed: a number is written with more bytes than it needs)";
    assert_eq!(error, format!("x.baler: {expected}"));

    // In the index: a chunk count beyond 64 bits.
    let file = finish_forged(encode_header(b"{}"), &[&[0xff; 9][..], &[0x02]].concat());
    assert_eq!(error_text(&file), "x.baler: the index is corrupted (a number does not fit in 64 bits)");
}

fn varint_bytes(value: u64) -> Vec<u8> {
    let mut encoder = Encoder::default();
    encoder.varint(value);
    encoder.0
}

fn read_varint(bytes: &[u8]) -> Result<u64, Malformed> {
    let mut cursor = ByteCursor::new(bytes);
    let value = cursor.varint()?;
    cursor.finish()?;
    Ok(value)
}

#[test]
fn varints_round_trip_at_their_edges() {
    for value in [0, 1, 127, 128, 16383, 16384, u64::from(u32::MAX), 1 << 63, u64::MAX - 1, u64::MAX] {
        let bytes = varint_bytes(value);
        assert_eq!(bytes.len(), (64 - value.leading_zeros() as usize).div_ceil(7).max(1), "{value}");
        assert_eq!(read_varint(&bytes), Ok(value));
    }
    assert_eq!(varint_bytes(300), [0xac, 0x02]);
    assert_eq!(varint_bytes(u64::MAX).len(), 10);
}

#[test]
fn overlong_and_overflowing_varints_are_refused() {
    assert_eq!(read_varint(&[0x80, 0x00]), Err(Malformed::VarintOverlong));
    assert_eq!(read_varint(&[0xff, 0x80, 0x00]), Err(Malformed::VarintOverlong));
    let max = [&[0xff; 9][..], &[0x01]].concat();
    assert_eq!(read_varint(&max), Ok(u64::MAX));
    // The tenth byte holds bit 63 alone.
    let over = [&[0xff; 9][..], &[0x02]].concat();
    assert_eq!(read_varint(&over), Err(Malformed::VarintOverflow));
    let eleven = [&[0x80; 10][..], &[0x01]].concat();
    assert_eq!(read_varint(&eleven), Err(Malformed::VarintOverflow));
    assert_eq!(read_varint(&[0xff; 11]), Err(Malformed::VarintOverflow));
    assert_eq!(read_varint(&[0x80]), Err(Malformed::EndsEarly));
    assert_eq!(read_varint(&[]), Err(Malformed::EndsEarly));
    assert_eq!(Malformed::VarintOverflow.to_string(), "a number does not fit in 64 bits");
}

#[test]
fn an_index_out_of_order_is_refused() {
    let mut index = Encoder::default();
    index.varint(1);
    index.varint(7);
    index.varint(0);
    index.varint(2);
    for (name, chunks_before) in [("a", 1), ("b", 0)] {
        index.varint(1);
        index.bytes(name.as_bytes());
        index.varint(chunks_before);
        index.varint(7);
        index.varint(0);
        index.varint(0);
    }
    index.varint(0);
    let error = error_text(&finish_forged(encode_header(b"{}"), &index.0));
    assert!(error.ends_with("(an attachment is placed before an earlier one or after the last chunk)"), "{error}");

    let mut index = Encoder::default();
    index.varint(0);
    index.varint(0);
    index.varint(2);
    for name in ["b", "a"] {
        index.varint(1);
        index.bytes(name.as_bytes());
        index.varint(0);
        index.varint(0);
    }
    let error = error_text(&finish_forged(encode_header(b"{}"), &index.0));
    assert_eq!(error, "x.baler: the index is corrupted (its section names are not in byte order)");
}

#[test]
fn records_that_do_not_reach_the_index_are_refused() {
    let mut record = RecordTable { samples: 1, sections: vec![] }.encode();
    record.extend(crc32fast::hash(&record).to_le_bytes());
    let offset = encode_header(b"{}").len() as u64;
    let index = Index { samples: 1, chunks: vec![ChunkEntry { offset, len: 7, samples: 1 }], ..Index::default() };
    assert_eq!(
        open_bytes(&finish_forged([encode_header(b"{}"), record.clone()].concat(), &index.encode()))
            .unwrap()
            .chunk_count(),
        1
    );
    // One stray byte between the record and the index.
    let file = [encode_header(b"{}"), record, vec![0]].concat();
    let error = error_text(&finish_forged(file, &index.encode()));
    assert_eq!(error, "x.baler: the index is corrupted (its records do not reach the index)");
}

fn chunk_strategy() -> impl Strategy<Value = Chunk> {
    let sections = proptest::collection::btree_map("[a-z_]{1,12}", proptest::collection::vec(0..4u8, 0..300), 0..5);
    (0..1u64 << 40, sections).prop_map(|(samples, sections)| Chunk {
        samples,
        sections: sections.into_iter().map(|(name, bytes)| Section::new(name, bytes)).collect(),
    })
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(read_everything(&bytes).is_err());
    }

    /// Random bytes after a valid preamble reach the deeper checks.
    #[test]
    fn random_bytes_after_the_signature_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
        for start in [&sample_bytes()[..10], &sample_bytes()[..12], &V1_SAMPLE[..10]] {
            let bytes = [start, tail.as_slice()].concat();
            prop_assert!(read_everything(&bytes).is_err());
        }
    }

    /// Every byte of a file is covered by a checksum or a check, so any flip is an error.
    #[test]
    fn any_single_byte_flip_is_an_error(position in any::<prop::sample::Index>(), flip in 1..=255u8) {
        for sample in [sample_bytes(), V1_SAMPLE] {
            let mut bytes = sample.to_vec();
            let position = position.index(bytes.len());
            bytes[position] ^= flip;
            prop_assert!(read_everything(&bytes).is_err(), "flipping byte {} went unnoticed", position);
        }
    }

    #[test]
    fn random_overwrites_never_panic(
        position in any::<prop::sample::Index>(),
        patch in proptest::collection::vec(any::<u8>(), 1..40),
    ) {
        for sample in [sample_bytes(), V1_SAMPLE] {
            let mut bytes = sample.to_vec();
            let start = position.index(bytes.len());
            let end = (start + patch.len()).min(bytes.len());
            bytes[start..end].copy_from_slice(&patch[..end - start]);
            let _ = read_everything(&bytes);
        }
    }

    #[test]
    fn flips_in_payloads_name_the_chunk(
        chunk in prop::sample::select(vec![0usize, 3]),
        section in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        for (sample, by_section) in [(sample_bytes(), false), (V1_SAMPLE, true)] {
            let mut bytes = sample.to_vec();
            let spans: Vec<_> = open_bytes(&bytes).unwrap().payload_spans(chunk).into_iter()
                .filter(|(_, span)| !span.is_empty())
                .collect();
            let (name, span) = &spans[section.index(spans.len())];
            let offset = span.start as usize + position.index((span.end - span.start) as usize);
            bytes[offset] ^= flip;
            let error = open_bytes(&bytes).unwrap().read_chunk(chunk).unwrap_err().to_string();
            let place = match by_section {
                true => format!("chunk {chunk}, section '{name}'"),
                false => format!("chunk {chunk}"),
            };
            prop_assert_eq!(error, format!("x.baler: {place} is corrupted (checksum mismatch)"));
        }
    }

    #[test]
    fn random_chunks_round_trip(chunks in proptest::collection::vec(chunk_strategy(), 0..6)) {
        let records: Vec<Record> = chunks.iter().cloned().map(Record::Chunk).collect();
        let mut reader = open_bytes(&write_bytes(&json!({"n": chunks.len()}), &records)).unwrap();
        let read: Vec<Chunk> = reader.chunks().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(read, chunks);
    }
}

/// A version 1 file's records followed by its index and footer.
fn with_v1_index(mut file: Vec<u8>, index: &Index) -> Vec<u8> {
    let index = v1::encode_index(index);
    let footer = v1::Footer {
        index_offset: file.len() as u64,
        index_len: index.len() as u64,
        index_checksum: crc32fast::hash(&index),
    };
    file.extend(index);
    file.extend(footer.encode());
    file
}
