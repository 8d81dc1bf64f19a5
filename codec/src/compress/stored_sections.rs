//! Chunks written by earlier balerc (latent codes in byte planes, residuals as varints) and by
//! this one (both entropy coded) read back to the same codes.

use super::latent::{self, QuantizedLatent};
use super::{bytes, entropy, stored_latent, stored_residuals, ChunkError, Header, SectionName};
use crate::container::{Chunk, Section};

const SAMPLES: usize = 300;

fn header(latent_bits: u32) -> Header {
    let json = serde_json::json!({
        "kind": "balerc-compressed", "shape": [SAMPLES, 3], "dtype": "f32", "format": "npz",
        "names": ["a", "b", "c"], "model_hash": "0", "modelled_columns": [0, 1, 2],
        "normalization": {"kind": "min-max", "offset": [0.0, 0.0, 0.0], "scale": [1.0, 1.0, 1.0]},
        "lossless_columns": [], "integer_columns": [], "modelled_per_sample": 3, "latent_width": 2,
        "latent_bits": latent_bits, "error_bound": {"max_abs_error": [0.1, 0.2, 0.3]}, "chunk_samples": SAMPLES,
    });
    Header::from_json(&json).unwrap()
}

fn latent_codes(bits: u32) -> QuantizedLatent {
    let codes = (0..2 * SAMPLES as u64).map(|i| ((i * 2_654_435_761) % (1 << bits)) as u32).collect();
    QuantizedLatent { ranges: vec![-1.0, 1.0, 0.0, 3.0], codes }
}

fn residuals() -> Vec<i64> {
    (0..3 * SAMPLES as i64).map(|i| (i * 7919) % 23 - 11 + if i % 97 == 0 { 1 << 33 } else { 0 }).collect()
}

fn chunk(sections: Vec<(&str, Vec<u8>)>) -> Chunk {
    Chunk {
        samples: SAMPLES as u64,
        sections: sections.into_iter().map(|(name, bytes)| Section { name: name.into(), bytes }).collect(),
    }
}

#[test]
fn old_and_new_sections_hold_the_same_codes() {
    for bits in [1, 6, 10, 16, 24] {
        let (header, q, r) = (header(bits), latent_codes(bits), residuals());
        let ranges = bytes::encode_f64s(&q.ranges);
        let old = chunk(vec![
            ("latent_range", ranges.clone()),
            ("latent", bytes::encode_planes(&q.codes, latent::code_bytes(bits))),
            ("residual", bytes::encode_varints(r.iter().copied())),
        ]);
        let symbols: Vec<u64> = r.iter().map(|&v| bytes::zigzag(v)).collect();
        let new = chunk(vec![
            ("latent_range", ranges),
            ("latent_ans", latent::encode_entropy(&q, 2, bits)),
            ("residual_ans", entropy::encode(&symbols, header.feature_count())),
        ]);
        for stored in [&old, &new] {
            assert_eq!(stored_latent(&header, stored, SAMPLES).unwrap().codes, q.codes, "{bits} bits");
            assert_eq!(stored_residuals(&header, stored, r.len()).unwrap(), r);
        }
    }
}

#[test]
fn damaged_entropy_coded_sections_are_errors() {
    let (header, q) = (header(8), latent_codes(8));
    let mut codes = latent::encode_entropy(&q, 2, 8);
    let last = codes.len() - 1;
    codes[last] ^= 0x5a;
    codes.push(0);
    let damaged = chunk(vec![("latent_range", bytes::encode_f64s(&q.ranges)), ("latent_ans", codes)]);
    assert!(stored_latent(&header, &damaged, SAMPLES).is_err());
    let missing = chunk(vec![("latent_range", bytes::encode_f64s(&q.ranges))]);
    let error = stored_latent(&header, &missing, SAMPLES).err().unwrap();
    assert!(matches!(error, ChunkError::MissingSection(SectionName::LatentPlanes)), "{error:?}");
    assert!(error.to_string().contains("'latent'"), "{error}");
}
