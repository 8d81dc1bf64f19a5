//! Entry points that take arbitrary bytes, for the fuzz targets under fuzz/ and the corpus
//! replay test.
//!
//! Each one reads what its decoder needs besides the bytes (counts, feature counts, frame
//! shapes, layouts) from the first bytes of its input, within small bounds, and ignores the
//! decoder's result: a decoder may refuse any input, but must never panic, overflow, index out
//! of bounds or allocate far beyond its input.

use crate::compress::packed_decoder::{self, Layout};
use crate::compress::residual_plan::{self, ResidualPlan};
use crate::compress::{bytes, entropy, interleaved, latent, residual_context, weight_codes, Header};
use crate::container::layout::{self, Index, CHECKSUM_LEN, FOOTER_LEN, PREAMBLE_MAX_LEN};
use crate::container::{Reader, MAGIC, MAX_HEADER_BYTES, VERSION};
use std::io::Cursor;

/// A fuzz target: it takes any bytes and must return.
pub type Target = fn(&[u8]);

/// Every target by name: the fuzz binaries are named after them, and so are the folders of
/// their corpora.
pub const TARGETS: [(&str, Target); 9] = [
    ("container", container),
    ("entropy", entropy),
    ("residual_context", residual_context),
    ("latent", latent),
    ("packed_decoder", packed_decoder),
    ("weight_codes", weight_codes),
    ("residual_plan", residual_plan),
    ("header", header),
    ("varints", varints),
];

/// Counts are below this, so that no run allocates much whatever the counts say.
const MAX_COUNT: u16 = u16::MAX;

/// The parameters at the front of an input. An input too short for them reads zeros, so that
/// every input reaches its decoder.
struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Input<'a> {
        Input { rest: data }
    }

    fn byte(&mut self) -> u8 {
        let Some((&first, rest)) = self.rest.split_first() else { return 0 };
        self.rest = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// A number from 0 to `most`.
    fn up_to(&mut self, most: u8) -> usize {
        usize::from(self.byte() % (most + 1))
    }

    fn count(&mut self) -> usize {
        usize::from(self.u16() % MAX_COUNT)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(taken)
    }
}

/// A `.baler` file after one mode byte; with the mode's lowest bit set, the checksums of a
/// version 2 file are set right first, so that mutations reach the parsing behind them. Opens
/// it, then reads every chunk and attachment it lists and everything `balerc info` shows.
pub fn container(data: &[u8]) {
    let mut input = Input::new(data);
    let repair = input.byte() & 1 == 1;
    let mut file = input.rest.to_vec();
    if repair {
        repair_checksums(&mut file);
    }
    let Ok(mut reader) = Reader::from_source("fuzz.baler", Cursor::new(file)) else { return };
    let sizes = reader.sizes();
    let _ = (reader.header(), reader.samples(), sizes.sections_stored(), sizes.attachments_stored());
    // One past the last chunk asks for one that is not there.
    for index in 0..=reader.chunk_count() {
        let _ = reader.read_chunk(index);
    }
    for name in reader.attachment_names() {
        let _ = reader.attachment(&name);
    }
    let _ = reader.attachment("not attached");
}

/// Sets the header's, the index's and every record's checksum of a version 2 file to what its
/// bytes hash to, as far as the framing can be followed.
fn repair_checksums(file: &mut [u8]) {
    let preamble = &file[..file.len().min(PREAMBLE_MAX_LEN as usize)];
    if !preamble.starts_with(&MAGIC) || layout::parse_version(preamble) != Ok(VERSION) {
        return;
    }
    // The reader refuses a longer header before adding up its length.
    let Some(place) = layout::parse_preamble(preamble).ok().filter(|place| place.stored_len <= MAX_HEADER_BYTES) else {
        return;
    };
    let Some(header_len) = usize::try_from(place.header_len()).ok().filter(|&len| len <= file.len()) else { return };
    set_checksum(&mut file[..header_len], MAGIC.len());
    let Some(index_end) = file.len().checked_sub(FOOTER_LEN as usize).filter(|&end| end >= header_len) else {
        return;
    };
    let index_len = u32::from_le_bytes(file[index_end..index_end + 4].try_into().expect("4 bytes")) as usize;
    let Some(index_start) = index_end.checked_sub(index_len).filter(|&start| start >= header_len) else { return };
    let checksum = layout::index_checksum(&file[index_start..index_end]);
    file[index_end + 4..index_end + 8].copy_from_slice(&checksum.to_le_bytes());
    let Ok(index) = Index::parse(&file[index_start..index_end], header_len as u64) else { return };
    let chunks = index.chunks.iter().map(|chunk| (chunk.offset, chunk.len));
    let records = chunks.chain(index.attachments.iter().map(|attachment| (attachment.offset, attachment.len)));
    for (offset, len) in records {
        let end = offset.saturating_add(len);
        if end <= index_start as u64 && len >= CHECKSUM_LEN {
            set_checksum(&mut file[offset as usize..end as usize], 0);
        }
    }
}

/// Writes the CRC32 of `bytes[from..]`, less its last four bytes, into those four bytes.
fn set_checksum(bytes: &mut [u8], from: usize) {
    let Some(body) = bytes.len().checked_sub(CHECKSUM_LEN as usize).filter(|&body| body >= from) else { return };
    let checksum = crc32fast::hash(&bytes[from..body]);
    bytes[body..].copy_from_slice(&checksum.to_le_bytes());
}

/// Count (u16), features (byte), then values entropy coded with one model per feature (in one
/// state, and in four).
pub fn entropy(data: &[u8]) {
    let mut input = Input::new(data);
    let (count, features) = (input.count(), input.up_to(63));
    let _ = entropy::decode(input.rest, count, features);
    let _ = interleaved::decode(input.rest, count, features);
}

/// Mode (byte: odd for adaptive models, even for static ones), count (u16), frame height and
/// width (bytes, 0 to 32), then a field's residual codes.
pub fn residual_context(data: &[u8]) {
    let mut input = Input::new(data);
    let adaptive = input.byte() & 1 == 1;
    let count = input.count();
    let frame = (input.up_to(32), input.up_to(32));
    let _ = match adaptive {
        true => residual_context::decode_adaptive(input.rest, count, frame),
        false => residual_context::decode(input.rest, count, frame),
    };
}

/// Mode (byte: odd for byte planes, even for entropy coded codes), latent width (byte, 1 to
/// 32), samples (u16, below 4096), bits (byte, 1 to 32), the ranges as float16 (four bytes per
/// dimension), then the codes. Decoded codes are also turned into latent values both ways.
pub fn latent(data: &[u8]) {
    let mut input = Input::new(data);
    let planes = input.byte() & 1 == 1;
    let width = 1 + input.up_to(31);
    let samples = usize::from(input.u16() % 4096);
    let bits = 1 + input.up_to(31) as u32;
    let Some(ranges) = input.take(4 * width).and_then(|stored| bytes::decode_f16s(stored).ok()) else { return };
    let codes = match planes {
        true => latent::StoredCodes::Planes(input.rest),
        false => latent::StoredCodes::Entropy(input.rest),
    };
    let Ok(quantized) = latent::from_sections(ranges, codes, width, samples, bits) else { return };
    let _ = latent::dequantize(&quantized, width, bits);
    let _ = latent::hardware_codes(&quantized, width);
}

/// An embedded decoder, unpacked in every layout.
pub fn packed_decoder(data: &[u8]) {
    for layout in Layout::ALL {
        let _ = packed_decoder::unpack(data, layout);
    }
}

/// Tensors (byte, 0 to 7), each one's weight count (u16), then their entropy coded 8-bit codes.
pub fn weight_codes(data: &[u8]) {
    let mut input = Input::new(data);
    let tensors = input.up_to(7);
    let counts: Vec<usize> = (0..tensors).map(|_| input.count()).collect();
    let _ = weight_codes::decode(input.rest, &counts);
}

/// Features (byte, 0 to 32), each one's count of linear weights (byte, 0 to 63), then a chunk's
/// residual plan.
pub fn residual_plan(data: &[u8]) {
    let mut input = Input::new(data);
    let features = input.up_to(32);
    let weights: Vec<usize> = (0..features).map(|_| input.up_to(63)).collect();
    if let Ok(plan) = ResidualPlan::from_bytes(input.rest, &weights) {
        let _ = (plan.to_bytes(), plan.is_decoder_only());
    }
}

/// A file's header JSON, and what decompression derives from it before reading any chunk.
pub fn header(data: &[u8]) {
    let Ok(json) = serde_json::from_slice(data) else { return };
    let Ok(header) = Header::from_json(&json) else { return };
    let _ = (header.output_shape(), header.frame_shape(), header.feature_count(), header.empty_ranges());
    if let Ok(relations) = header.relations() {
        let _ = residual_plan::weight_counts(&header, &relations);
    }
}

/// Count (u16), code width (byte, 0 to 4), then bytes read as zigzag varints, byte planes,
/// floats and length-prefixed strings.
pub fn varints(data: &[u8]) {
    let mut input = Input::new(data);
    let (count, width) = (input.count(), input.up_to(4));
    let rest = input.rest;
    let _ = bytes::decode_varints(rest, count);
    let _ = bytes::decode_planes(rest, width, count);
    let _ = (bytes::decode_f16s(rest), bytes::decode_f32s(rest), bytes::decode_f64s(rest));
    let mut reader = crate::wire::ByteReader::new(rest);
    while let Ok(len) = reader.length() {
        if reader.take(len).is_err() {
            break;
        }
    }
}

/// Writes the seed corpora of every target but `container` (whose seeds are whole files from
/// `balerc compress`, see fuzz/README.md): a few valid inputs each, made by the codec's own
/// encoders. `cargo test -p balerc-codec --lib write_seed_corpora -- --ignored` runs it.
#[cfg(test)]
mod seeds {
    use super::*;
    use crate::compress::field_neighbours::Neighbourhood;
    use crate::compress::residual_plan::FeaturePlan;
    use std::path::{Path, PathBuf};

    fn corpus(target: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target)
    }

    /// Replaces a target's seeds with these inputs.
    fn write(target: &str, inputs: &[Vec<u8>]) {
        let dir = corpus(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), input).unwrap();
        }
    }

    /// Parameters as the targets read them, then the encoded bytes.
    fn with(params: &[u8], encoded: &[u8]) -> Vec<u8> {
        [params, encoded].concat()
    }

    fn u16(value: usize) -> [u8; 2] {
        u16::try_from(value).unwrap().to_le_bytes()
    }

    /// Mostly small values with a few large ones, as residual codes are.
    fn residual_like(count: u64) -> Vec<u64> {
        (0..count).map(|i| if i % 37 == 5 { 5000 + i * 7919 } else { (i * 2_654_435_761) % 7 }).collect()
    }

    #[test]
    #[ignore = "writes fuzz/corpus; run by hand"]
    fn write_seed_corpora() {
        write_entropy();
        write_residual_context();
        write_latent();
        write_packed_decoder();
        write_weight_codes();
        write_residual_plan();
        write_headers();
        write_varints();
    }

    fn write_entropy() {
        let inputs: Vec<Vec<u8>> =
            [(residual_like(300), 3), (vec![], 1), (vec![1 << 40, 70_000, 4096], 2), (residual_like(96), 24)]
                .iter()
                .flat_map(|(values, features)| {
                    let one_state = entropy::encode(values, *features);
                    assert_eq!(entropy::decode(&one_state, values.len(), *features).as_ref(), Ok(values));
                    let four_states = interleaved::encode(values, *features);
                    assert_eq!(interleaved::decode(&four_states, values.len(), *features).as_ref(), Ok(values));
                    let prefix = [&u16(values.len())[..], &[*features as u8]].concat();
                    [with(&prefix, &one_state), with(&prefix, &four_states)]
                })
                .collect();
        write("entropy", &inputs);
    }

    fn write_residual_context() {
        let symbols = residual_like(3 * 6 * 5);
        let mut inputs = vec![];
        for (adaptive, frame) in [(1u8, (6usize, 5usize)), (0, (6, 5)), (1, (1, 1))] {
            let encoded = match adaptive {
                1 => residual_context::encode_adaptive(&symbols, frame),
                _ => residual_context::encode(&symbols, frame),
            };
            inputs.push(with(
                &[&[adaptive][..], &u16(symbols.len()), &[frame.0 as u8, frame.1 as u8]].concat(),
                &encoded,
            ));
        }
        write("residual_context", &inputs);
    }

    fn write_latent() {
        let (width, samples) = (3, 40);
        let values: Vec<f64> = (0..width * samples).map(|i| ((i * 37) % 101) as f64 * 0.17 - 4.0).collect();
        let mut inputs = vec![];
        for (planes, bits) in [(0u8, 8u32), (0, 16), (1, 12), (0, 32)] {
            let q = latent::quantize(&values, width, bits);
            let ranges = bytes::encode_f16s(&q.ranges);
            let codes = match planes {
                1 => bytes::encode_planes(&q.codes, latent::code_bytes(bits)),
                _ => latent::encode_entropy(&q, width, bits),
            };
            let params = [&[planes, width as u8 - 1][..], &u16(samples), &[bits as u8 - 1], &ranges].concat();
            inputs.push(with(&params, &codes));
        }
        write("latent", &inputs);
    }

    /// A small ONNX model whose float initializers hold these weights.
    fn model_with(weights: &[&[f32]]) -> Vec<u8> {
        use onnx_ir::{GraphProto, Message, ModelProto, TensorProto};
        let mut graph = GraphProto::new();
        graph.name = "decoder".into();
        for (i, values) in weights.iter().enumerate() {
            let mut tensor = TensorProto::new();
            tensor.name = format!("w{i}");
            tensor.data_type = 1;
            tensor.dims = vec![values.len() as i64];
            tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into();
            graph.initializer.push(tensor);
        }
        let mut model = ModelProto::new();
        model.ir_version = 8;
        model.graph = Some(graph).into();
        model.write_to_bytes().unwrap()
    }

    fn write_packed_decoder() {
        let full: Vec<f32> = (0..24).map(|i| (i as f32 * 0.731).sin()).collect();
        let half: Vec<f32> = full.iter().map(|&w| crate::weight_grid::half_precision(w)).collect();
        let grid = crate::weight_grid::to_int8_grid(&full);
        let mut inputs = vec![];
        for weights in [&full, &half, &grid] {
            for layout in Layout::ALL {
                inputs.push(packed_decoder::pack_as(&model_with(&[weights, &[0.5; 3]]), layout).unwrap());
            }
        }
        let fixture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jets_model/decoder.onnx"));
        inputs.push(packed_decoder::pack(&fixture.unwrap()).unwrap());
        write("packed_decoder", &inputs);
    }

    fn write_weight_codes() {
        let bell: Vec<i8> = (0..200).map(|i: i32| ((i * 2_654_435) % 61 - 30) as i8).collect();
        let all: Vec<i8> = (-127..=127).collect();
        let inputs: Vec<Vec<u8>> = [vec![&bell[..]], vec![&all[..], &[], &[0; 40]]]
            .iter()
            .map(|tensors| {
                let counts: Vec<u8> = tensors.iter().flat_map(|codes| u16(codes.len())).collect();
                with(&[&[tensors.len() as u8][..], &counts].concat(), &weight_codes::encode(tensors))
            })
            .collect();
        write("weight_codes", &inputs);
    }

    fn write_residual_plan() {
        let plan = |integer, zeros, neighbourhood, weights: Option<Vec<f32>>| FeaturePlan {
            integer,
            zeros,
            neighbourhood,
            weights,
        };
        let table = ResidualPlan {
            features: vec![
                plan(false, false, Neighbourhood::InFrame, None),
                plan(true, false, Neighbourhood::InFrame, Some(vec![0.5, -1.0, 0.25, 2.0])),
                plan(false, true, Neighbourhood::InFrame, Some(vec![1.0; 7])),
            ],
        };
        let field = ResidualPlan {
            features: vec![plan(
                false,
                false,
                Neighbourhood::WithPrevious,
                Some(vec![0.1; Neighbourhood::WithPrevious.weights()]),
            )],
        };
        let wide = ResidualPlan {
            features: vec![plan(true, true, Neighbourhood::Wide, Some(vec![-0.2; Neighbourhood::Wide.weights()]))],
        };
        let inputs = [
            with(&[3, 2, 4, 7], &table.to_bytes()),
            with(&[1, 5], &field.to_bytes()),
            with(&[1, 5], &wide.to_bytes()),
            with(&[24; 25], &ResidualPlan::decoder_only(24).to_bytes()),
        ];
        write("residual_plan", &inputs);
    }

    /// The headers of the container seeds, as JSON.
    fn write_headers() {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(corpus("container")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut inputs = vec![];
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let reader = Reader::from_source(&file, Cursor::new(&bytes[1..])).unwrap();
            if Header::from_json(reader.header()).is_ok() {
                inputs.push(serde_json::to_vec(reader.header()).unwrap());
            }
        }
        assert!(!inputs.is_empty(), "the container seeds hold balerc headers");
        write("header", &inputs);
    }

    fn write_varints() {
        let values: Vec<i64> = vec![0, -1, 1, 63, -64, 64, i64::MIN, i64::MAX, 300, -7];
        let codes: Vec<u32> = (0..10).map(|i| i * 40_503).collect();
        let mut strings = vec![];
        for text in ["latent", "", "residual_ctx"] {
            crate::wire::push_uvarint(&mut strings, text.len() as u64);
            strings.extend(text.as_bytes());
        }
        let inputs = [
            with(&[&u16(values.len())[..], &[1]].concat(), &bytes::encode_varints(values.iter().copied())),
            with(&[&u16(codes.len())[..], &[3]].concat(), &bytes::encode_planes(&codes, 3)),
            with(&[0, 0, 0], &strings),
        ];
        write("varints", &inputs);
    }
}
