//! The decoder as a file embeds it: its ONNX bytes rebuilt exactly from the model without its
//! float weights, and the weights apart, byte plane by byte plane (all sign-and-exponent bytes,
//! then the next bytes, ...), where zstd finds what is alike in them. Weights that float16 holds
//! exactly, as a model trained with `model.weights = "f16"` has, take two bytes instead of four;
//! weights on 8-bit grids (`model.weights = "int8"`) one, and a step per tensor.
//! The rebuilt bytes hash to the file's model hash, so the decoder is the one it was made with.
//!
//! Files are written with the coded layout (`decoder.coded`): the model without its weights
//! compressed against a dictionary of balerc's own decoders (what every decoder says about its
//! layers, names and shapes is mostly what they all say), and 8-bit weight codes entropy
//! coded. Files holding the earlier `decoder.packed` layout still read.

use super::corrupt::CorruptSection;
use super::weight_codes;
use crate::weight_grid;
use crate::wire::{push_uvarint, ByteReader, WireError};
use onnx_ir::{Message, ModelProto};

/// Weightless ONNX models of balerc 0.1's decoders (a dense one for 24 columns, the default
/// conv2d one and a small conv2d one for 50 x 50 frames), one after another. Files depend on
/// these bytes: they never change.
const SKELETON_DICTIONARY: &[u8] = include_bytes!("decoder_skeletons.dict");
/// A weightless model larger than this is taken for damage (a decoder's layers, names and
/// shapes take a few kilobytes), before anything is allocated for it.
const LARGEST_SKELETON: usize = 1 << 24;

/// How a file lays out its embedded decoder, by the attachment holding it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// The model without its weights as it is, 8-bit codes one byte each.
    Packed,
    /// The model without its weights compressed against the dictionary, 8-bit codes entropy
    /// coded.
    Coded,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Coded, Layout::Packed];

    pub fn attachment(self) -> &'static str {
        match self {
            Layout::Packed => "decoder.packed",
            Layout::Coded => "decoder.coded",
        }
    }
}

/// ONNX's element type of float32 tensors.
const FLOAT: i32 = 1;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Width {
    F32 = 4,
    F16 = 2,
    /// Codes of a power-of-two step per tensor.
    Int8 = 1,
}

/// The decoder in the coded layout, or None when packing would not give the same bytes back
/// (a model whose protobuf encoding is not the canonical one).
pub fn pack(onnx: &[u8]) -> Option<Vec<u8>> {
    pack_as(onnx, Layout::Coded)
}

/// The decoder in the given layout, or None as for [`pack`].
pub fn pack_as(onnx: &[u8], layout: Layout) -> Option<Vec<u8>> {
    let mut model = ModelProto::parse_from_bytes(onnx).ok()?;
    let mut weights = vec![];
    let mut counts = vec![];
    for tensor in float_initializers(&mut model) {
        let raw = std::mem::take(&mut tensor.raw_data);
        counts.push(raw.len() / 4);
        weights.extend(raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))));
    }
    let stripped = model.write_to_bytes().ok()?;
    let on_grids: Option<Vec<(i8, Vec<i8>)>> =
        split(&weights, &counts).into_iter().map(weight_grid::int8_codes).collect();
    let width = match on_grids {
        Some(_) => Width::Int8,
        None if weights.iter().all(|&w| weight_grid::half_precision(w).to_bits() == w.to_bits()) => Width::F16,
        None => Width::F32,
    };
    let mut out = vec![];
    push_uvarint(&mut out, stripped.len() as u64);
    match layout {
        Layout::Packed => out.extend(&stripped),
        Layout::Coded => {
            let squeezed =
                zstd::bulk::Compressor::with_dictionary(19, SKELETON_DICTIONARY).ok()?.compress(&stripped).ok()?;
            push_uvarint(&mut out, squeezed.len() as u64);
            out.extend(squeezed);
        }
    }
    out.push(width as u8);
    push_uvarint(&mut out, counts.len() as u64);
    counts.iter().for_each(|&count| push_uvarint(&mut out, count as u64));
    match on_grids {
        Some(grids) => {
            out.extend(grids.iter().map(|&(exponent, _)| exponent as u8));
            match layout {
                Layout::Packed => out.extend(grids.iter().flat_map(|(_, codes)| codes.iter().map(|&q| q as u8))),
                Layout::Coded => {
                    let codes: Vec<&[i8]> = grids.iter().map(|(_, codes)| codes.as_slice()).collect();
                    let coded = weight_codes::encode(&codes);
                    push_uvarint(&mut out, coded.len() as u64);
                    out.extend(coded);
                }
            }
        }
        None => out.extend(planes(&weights, width)),
    }
    (unpack(&out, layout).ok()? == onnx).then_some(out)
}

/// The weights of each tensor, `counts[t]` of them in turn.
fn split<'w>(weights: &'w [f32], counts: &[usize]) -> Vec<&'w [f32]> {
    let mut rest = weights;
    counts
        .iter()
        .map(|&count| {
            let (these, after) = rest.split_at(count);
            rest = after;
            these
        })
        .collect()
}

/// Why an embedded decoder's bytes cannot be rebuilt into the model it was made from.
#[derive(Debug, thiserror::Error)]
#[error("the embedded decoder is damaged: {0}")]
pub struct DamagedDecoder(#[from] pub DecoderDamage);

#[derive(Debug, thiserror::Error)]
pub enum DecoderDamage {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("a model of {0} bytes without its weights")]
    SkeletonTooLarge(usize),
    /// zstd could not expand the weightless model against the dictionary.
    #[error("{0}")]
    Skeleton(std::io::Error),
    #[error("{found} bytes of model for {expected}")]
    SkeletonLength { found: usize, expected: usize },
    /// The ONNX model would not parse or serialize (protobuf's own words).
    #[error("{0}")]
    Onnx(String),
    #[error("unknown weight width {0}")]
    UnknownWidth(u8),
    #[error("too many weights")]
    TooManyWeights,
    #[error("{0} bytes after the weights")]
    TrailingWeights(usize),
    #[error(transparent)]
    WeightCodes(#[from] CorruptSection),
    #[error("{codes} codes for {weights} weights")]
    CodeCount { codes: usize, weights: usize },
    #[error("{bytes} bytes of weights for {count} weights of {width} bytes")]
    PlaneBytes { bytes: usize, count: usize, width: usize },
    #[error("{tensors} weight tensors for {initializers} float initializers")]
    TensorCount { tensors: usize, initializers: usize },
}

/// The decoder's ONNX bytes again.
pub fn unpack(packed: &[u8], layout: Layout) -> Result<Vec<u8>, DamagedDecoder> {
    Ok(rebuild(packed, layout)?)
}

fn rebuild(packed: &[u8], layout: Layout) -> Result<Vec<u8>, DecoderDamage> {
    let mut reader = ByteReader::new(packed);
    let stripped_len = reader.length()?;
    let stripped = match layout {
        Layout::Packed => reader.take(stripped_len)?.to_vec(),
        Layout::Coded => {
            let squeezed_len = reader.length()?;
            let squeezed = reader.take(squeezed_len)?;
            if stripped_len > LARGEST_SKELETON {
                return Err(DecoderDamage::SkeletonTooLarge(stripped_len));
            }
            let stripped = zstd::bulk::Decompressor::with_dictionary(SKELETON_DICTIONARY)
                .and_then(|mut d| d.decompress(squeezed, stripped_len))
                .map_err(DecoderDamage::Skeleton)?;
            if stripped.len() != stripped_len {
                return Err(DecoderDamage::SkeletonLength { found: stripped.len(), expected: stripped_len });
            }
            stripped
        }
    };
    let mut model = ModelProto::parse_from_bytes(&stripped).map_err(|e| DecoderDamage::Onnx(e.to_string()))?;
    let width = match reader.take(1)?[0] {
        1 => Width::Int8,
        2 => Width::F16,
        4 => Width::F32,
        other => return Err(DecoderDamage::UnknownWidth(other)),
    };
    let tensors = reader.length()?;
    let counts: Vec<usize> = (0..tensors).map(|_| reader.length()).collect::<Result<_, _>>()?;
    let total = counts.iter().try_fold(0usize, |sum, &c| sum.checked_add(c)).ok_or(DecoderDamage::TooManyWeights)?;
    let weights = match width {
        Width::Int8 => {
            let exponents = reader.take(counts.len())?;
            let codes = match layout {
                Layout::Packed => reader.rest().iter().map(|&q| q as i8).collect(),
                Layout::Coded => {
                    // Sized, so that a cut is seen: a range decoder reads on past the end.
                    let coded_len = reader.length()?;
                    let coded = reader.take(coded_len)?;
                    if !reader.rest().is_empty() {
                        return Err(DecoderDamage::TrailingWeights(reader.rest().len()));
                    }
                    weight_codes::decode(coded, &counts)?.concat()
                }
            };
            from_codes(exponents, &counts, &codes, total)?
        }
        _ => from_planes(reader.rest(), width, total)?,
    };
    let initializers = float_initializers(&mut model);
    if initializers.len() != counts.len() {
        return Err(DecoderDamage::TensorCount { tensors: counts.len(), initializers: initializers.len() });
    }
    let mut rest = weights.as_slice();
    for (tensor, &count) in initializers.into_iter().zip(&counts) {
        let (these, after) = rest.split_at(count);
        tensor.raw_data = these.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>().into();
        rest = after;
    }
    model.write_to_bytes().map_err(|e| DecoderDamage::Onnx(e.to_string()))
}

/// The float32 initializers, in the graph's order (those holding their values in `float_data`
/// instead of `raw_data` have no weights to take apart).
fn float_initializers(model: &mut ModelProto) -> Vec<&mut onnx_ir::TensorProto> {
    model.graph.mut_or_insert_default().initializer.iter_mut().filter(|t| t.data_type == FLOAT).collect()
}

/// The highest bytes of every weight first: signs and exponents repeat, low mantissa bytes do
/// not. (Float widths only: 8-bit codes are one plane.)
fn planes(weights: &[f32], width: Width) -> Vec<u8> {
    let bytes: Vec<Vec<u8>> = weights
        .iter()
        .map(|&w| match width {
            Width::F16 => half::f16::from_f32(w).to_le_bytes().to_vec(),
            _ => w.to_le_bytes().to_vec(),
        })
        .collect();
    (0..width as usize).rev().flat_map(|plane| bytes.iter().map(move |b| b[plane])).collect()
}

/// Each tensor's codes times its step 2^exponent.
fn from_codes(exponents: &[u8], counts: &[usize], codes: &[i8], total: usize) -> Result<Vec<f32>, DecoderDamage> {
    if codes.len() != total {
        return Err(DecoderDamage::CodeCount { codes: codes.len(), weights: total });
    }
    let tensor_of = counts.iter().enumerate().flat_map(|(t, &count)| std::iter::repeat_n(t, count));
    Ok(tensor_of.zip(codes).map(|(t, &q)| weight_grid::from_int8(exponents[t] as i8, q)).collect())
}

fn from_planes(stored: &[u8], width: Width, count: usize) -> Result<Vec<f32>, DecoderDamage> {
    let width_bytes = width as usize;
    if count.checked_mul(width_bytes) != Some(stored.len()) {
        return Err(DecoderDamage::PlaneBytes { bytes: stored.len(), count, width: width_bytes });
    }
    let byte = |i: usize, plane: usize| stored[(width_bytes - 1 - plane) * count + i];
    Ok((0..count)
        .map(|i| match width {
            Width::F16 => half::f16::from_le_bytes([byte(i, 0), byte(i, 1)]).to_f32(),
            _ => f32::from_le_bytes([byte(i, 0), byte(i, 1), byte(i, 2), byte(i, 3)]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use onnx_ir::{GraphProto, TensorProto};

    fn model_with(weights: &[&[f32]]) -> Vec<u8> {
        let mut graph = GraphProto::new();
        graph.name = "decoder".into();
        for (i, values) in weights.iter().enumerate() {
            let mut tensor = TensorProto::new();
            tensor.name = format!("w{i}");
            tensor.data_type = FLOAT;
            tensor.dims = vec![values.len() as i64];
            tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into();
            graph.initializer.push(tensor);
        }
        let mut shape = TensorProto::new();
        shape.name = "shape".into();
        shape.data_type = 7;
        shape.raw_data = 5i64.to_le_bytes().to_vec().into();
        graph.initializer.push(shape);
        let mut model = ModelProto::new();
        model.ir_version = 8;
        model.graph = Some(graph).into();
        model.write_to_bytes().unwrap()
    }

    #[test]
    fn a_decoder_comes_back_byte_for_byte() {
        let onnx = model_with(&[&[0.1, -2.5e-7, 3.0e30], &[], &[1.0; 7]]);
        let packed = pack(&onnx).unwrap();
        assert_eq!(unpack(&packed, Layout::Coded).unwrap(), onnx);
    }

    #[test]
    fn half_precision_weights_take_half_the_bytes() {
        let full: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.731).sin()).collect();
        let half: Vec<f32> = full.iter().map(|&w| half::f16::from_f32(w).to_f32()).collect();
        let (packed_full, packed_half) = (pack(&model_with(&[&full])).unwrap(), pack(&model_with(&[&half])).unwrap());
        assert_eq!(unpack(&packed_half, Layout::Coded).unwrap(), model_with(&[&half]));
        assert_eq!(packed_full.len() - packed_half.len(), 2 * 1000);
    }

    #[test]
    fn weights_on_8_bit_grids_take_one_byte_each() {
        let grid = |scale: f32| -> Vec<f32> {
            let weights: Vec<f32> = (0..1000).map(|i| scale * (i as f32 * 0.731).sin()).collect();
            weight_grid::to_int8_grid(&weights)
        };
        let (small, large) = (grid(0.05), grid(3.0));
        let onnx = model_with(&[&small, &large]);
        let packed = pack(&onnx).unwrap();
        assert_eq!(unpack(&packed, Layout::Coded).unwrap(), onnx);
        let half: Vec<f32> = small.iter().map(|&w| half::f16::from_f32(w * 1.001).to_f32()).collect();
        let packed_half = pack(&model_with(&[&half, &large])).unwrap();
        // One tensor off its grid: all 2,000 weights in two bytes, not a byte or less each.
        assert!(packed_half.len() > packed.len() + 2 * 1000, "{} against {}", packed_half.len(), packed.len());
        let byte_each = pack_as(&onnx, Layout::Packed).unwrap();
        assert_eq!(unpack(&byte_each, Layout::Packed).unwrap(), onnx);
        let half_byte_planes = pack_as(&model_with(&[&half, &large]), Layout::Packed).unwrap();
        assert_eq!(half_byte_planes.len() - byte_each.len(), 2 * 1000 - 2);
    }

    #[test]
    fn damaged_packings_are_errors() {
        let packed = pack(&model_with(&[&[1.0, 2.0, 3.0]])).unwrap();
        for cut in 0..packed.len() {
            assert!(unpack(&packed[..cut], Layout::Coded).is_err(), "cut at {cut}");
        }
        let mut widened = packed.clone();
        widened.push(0);
        assert!(unpack(&widened, Layout::Coded).is_err());
    }

    proptest::proptest! {
        #[test]
        fn damaged_or_random_packings_are_errors_not_panics(
            at in 0usize..64,
            byte in proptest::prelude::any::<u8>(),
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let mut packed = pack(&model_with(&[&[1.0, -2.0, 0.5], &[4.0; 9]])).unwrap();
            let at = at % packed.len();
            packed[at] = byte;
            let _ = unpack(&packed, Layout::Coded);
            for layout in Layout::ALL {
                let _ = unpack(&garbage, layout);
            }
        }
    }

    #[test]
    fn bytes_that_are_no_model_do_not_pack() {
        assert_eq!(pack(b"\xff\xff\xff not protobuf"), None);
    }
}
