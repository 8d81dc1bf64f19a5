//! balerc's own decoders, as training exports them, travel in a file in about a byte a weight.

use balerc_runtime::compress::packed_decoder::{pack, pack_as, unpack, Layout};
use balerc_runtime::config::{ModelConfig, ModelKind, WeightFormat};
use balerc_runtime::model::{Autoencoder, ModelSpec};
use balerc_runtime::onnx_export::to_model_proto;
use onnx_ir::Message;

/// ONNX's code for 32-bit floats.
const FLOAT: i32 = 1;

/// The ONNX decoder of a fresh default model of `kind` for samples of `shape`, its weights on
/// 8-bit grids, and its weight count.
fn default_decoder(kind: ModelKind, shape: &[usize]) -> (Vec<u8>, usize) {
    let config = ModelConfig { kind, ..ModelConfig::default() };
    let spec = ModelSpec::resolve(&config, shape, 32).unwrap();
    let model = Autoencoder::new(&spec, &Default::default()).with_weights_rounded(WeightFormat::Int8);
    let (_, decoder) = model.export(&spec);
    let proto = to_model_proto(&decoder).unwrap();
    let onnx = proto.write_to_bytes().unwrap();
    let tensors = &proto.graph.initializer;
    let weights = tensors.iter().filter(|t| t.data_type == FLOAT).map(|t| t.raw_data.len() / 4).sum();
    (onnx, weights)
}

#[test]
fn balercs_own_decoders_take_a_few_hundred_bytes_beside_their_weights() {
    for (kind, shape) in [(ModelKind::Dense, vec![24]), (ModelKind::Conv2d, vec![50, 50])] {
        let (onnx, weights) = default_decoder(kind, &shape);
        let coded = pack(&onnx).unwrap();
        let packed = pack_as(&onnx, Layout::Packed).unwrap();
        assert_eq!(unpack(&coded, Layout::Coded).unwrap(), onnx);
        // Fresh weights spread evenly over their grid: about 8 bits each, no less.
        assert!(coded.len() < weights + 300, "{kind:?}: {} bytes for {weights} weights", coded.len());
        assert!(packed.len() > coded.len() + 500, "{kind:?}: {} bytes packed", packed.len());
    }
}
