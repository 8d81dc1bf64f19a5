//! Every PyTorch-exported fixture (see tests/fixtures/README.md) through the frontend,
//! the passes, quantization and both simulators.

use balerc_compiler::fixed::FixedType;
use balerc_compiler::ir::Op;
use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::{FloatProgram, Simulator};
use balerc_compiler::{load_and_optimize, lower, LowerOptions};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use std::path::PathBuf;

const MODELS: [&str; 31] = [
    "fpga_encoder_ts13",
    "fpga_ae_ts17",
    "burn_style_matmul_add",
    "fixed_batch_dynamo18",
    "baler_ae_dynamo18",
    "baler_ae_ts13",
    "bn_dropout_ts13",
    "bn_dropout_dynamo21",
    "sigmoid_tanh_ts17",
    "conv1d_ts13",
    "conv2d_ae_ts17",
    "conv2d_ae_dynamo18",
    "convtranspose1d_ts13",
    "cfd_encoder_ts17",
    "identity_flatten_ts13",
    "conv3d_encoder_ts17",
    "conv3d_ae_ts17",
    "const_arith_dense_ts17",
    "const_arith_conv_ts17",
    "clip_ts17",
    "pool_upsample_ts17",
    "pad_transpose_dynamo18",
    "prelu_ts17",
    "prelu_channels_ts17",
    "elu_selu_softplus_ts17",
    "resize_sizes_dynamo18",
    "max_pool_ts17",
    "residual_dense_ts17",
    "residual_conv_ts17",
    "concat_skip_ts17",
    "ceil_pools_ts19",
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn npy(path: PathBuf) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(&path).unwrap();
    let a = ArrayD::<f32>::read_npy(&bytes[..]).unwrap();
    (a.shape().to_vec(), a.iter().map(|&v| v as f64).collect())
}

#[test]
fn float_path_matches_onnxruntime_on_every_model() {
    for name in MODELS {
        let graph = load_and_optimize(&fixture(&format!("{name}.onnx")), Part::Full).unwrap();
        let (_, input) = npy(fixture(&format!("{name}.input.npy")));
        let (out_shape, expected) = npy(fixture(&format!("{name}.ort.npy")));
        let program = FloatProgram::new(&graph).unwrap();
        assert_eq!(graph.node(graph.outputs()[0]).shape, out_shape[1..], "{name}: output shape");
        let got = program.run(&input);
        assert_eq!(got.len(), expected.len(), "{name}");
        let scale = expected.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!((g - e).abs() <= 1e-5 * scale, "{name}[{k}]: {g} vs onnxruntime {e}");
        }
    }
}

/// Compression relies on this: the batched evaluation is bit for bit the one-sample one.
#[test]
fn batched_float_evaluation_equals_sample_by_sample() {
    for name in MODELS {
        let graph = load_and_optimize(&fixture(&format!("{name}.onnx")), Part::Full).unwrap();
        let program = FloatProgram::new(&graph).unwrap();
        let (_, input) = npy(fixture(&format!("{name}.input.npy")));
        // More samples than one block, and a partial block at the end.
        let input: Vec<f64> =
            input.iter().cycle().take(input.len() * 40).enumerate().map(|(i, v)| v * (1.0 + i as f64 * 1e-3)).collect();
        let batched = program.run(&input);
        let one_by_one: Vec<f64> = input
            .chunks(program.input_len())
            .flat_map(|x| program.trace(x).swap_remove(program.output_step()))
            .collect();
        assert_eq!(
            batched.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            one_by_one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn fixed_path_tracks_the_float_model_with_calibrated_types() {
    for name in MODELS {
        let (_, input) = npy(fixture(&format!("{name}.input.npy")));
        let options = LowerOptions {
            part: Part::Full,
            precision: PrecisionConfig::uniform("ap_fixed<18,8,AP_RND_CONV,AP_SAT>".parse().unwrap()),
            calibration: Some(input.clone()),
        };
        let lowered = lower(&fixture(&format!("{name}.onnx")), &options).unwrap();
        let simulator = Simulator::new(&lowered.model);
        let codes = simulator.run(&simulator.quantize_input(&input).unwrap());
        let float = FloatProgram::new(&lowered.graph).unwrap().run(&input);
        let ty = lowered.model.output().ty;
        let range = float.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
        let worst = codes.iter().zip(&float).map(|(&c, f)| (ty.to_f64(c) - f).abs()).fold(0.0, f64::max);
        assert!(worst < 0.02 * range, "{name}: worst error {worst} against a range of {range}");
    }
}

#[test]
fn a_fixed_batch_in_the_file_is_free() {
    let graph = load_and_optimize(&fixture("fixed_batch_dynamo18.onnx"), Part::Full).unwrap();
    let (_, input) = npy(fixture("fixed_batch_dynamo18.input.npy"));
    assert_eq!(FloatProgram::new(&graph).unwrap().run(&input).len(), 64 * 8);
}

#[test]
fn the_same_model_from_both_exporters_gives_the_same_function() {
    for (a, b) in [
        ("baler_ae_ts13", "baler_ae_dynamo18"),
        ("conv2d_ae_ts17", "conv2d_ae_dynamo18"),
        ("bn_dropout_ts13", "bn_dropout_dynamo21"),
    ] {
        let (_, input) = npy(fixture(&format!("{a}.input.npy")));
        let run = |name: &str| {
            let g = load_and_optimize(&fixture(&format!("{name}.onnx")), Part::Full).unwrap();
            FloatProgram::new(&g).unwrap().run(&input)
        };
        for (x, y) in run(a).iter().zip(run(b)) {
            assert!((x - y).abs() < 1e-4, "{a} vs {b}: {x} != {y}");
        }
    }
}

#[test]
fn encoder_then_decoder_is_the_full_model() {
    let path = fixture("fpga_ae_ts17.onnx");
    let (_, input) = npy(fixture("fpga_ae_ts17.input.npy"));
    let full = load_and_optimize(&path, Part::Full).unwrap();
    let encoder = load_and_optimize(&path, Part::Encoder).unwrap();
    let decoder = load_and_optimize(&path, Part::Decoder).unwrap();
    assert_eq!(encoder.node(encoder.outputs()[0]).shape, vec![8]);
    assert_eq!(decoder.node(decoder.inputs()[0]).shape, vec![8]);
    let latent = FloatProgram::new(&encoder).unwrap().run(&input);
    let twice = FloatProgram::new(&decoder).unwrap().run(&latent);
    for (x, y) in twice.iter().zip(FloatProgram::new(&full).unwrap().run(&input)) {
        assert!((x - y).abs() < 1e-12);
    }
}

#[test]
fn the_encoder_split_matches_the_exported_encoder_bit_for_bit() {
    let options = |part| LowerOptions {
        part,
        precision: PrecisionConfig::uniform(FixedType::new(16, 6, true).unwrap()),
        calibration: None,
    };
    let (_, input) = npy(fixture("fpga_ae_ts17.input.npy"));
    let run = |name: &str, part| {
        let lowered = lower(&fixture(name), &options(part)).unwrap();
        let simulator = Simulator::new(&lowered.model);
        simulator.run(&simulator.quantize_input(&input).unwrap())
    };
    assert_eq!(run("fpga_ae_ts17.onnx", Part::Encoder), run("fpga_encoder_ts13.onnx", Part::Full));
    assert_eq!(run("burn_style_matmul_add.onnx", Part::Full), run("fpga_encoder_ts13.onnx", Part::Full));
}

#[test]
fn conv3d_shapes_follow_the_stack_of_frames() {
    let graph = load_and_optimize(&fixture("conv3d_ae_ts17.onnx"), Part::Full).unwrap();
    let shape_of = |name: &str| {
        let node = graph.nodes.node_weights().find(|n| n.name == name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(matches!(node.op, Op::Conv(_)), "{name}: {:?}", node.op);
        node.shape.clone()
    };
    // Stride (1, 2, 2): the frames stay, height and width halve, and the transposed
    // convolution restores them.
    assert_eq!(shape_of("/encoder/conv/Conv"), vec![2, 4, 3, 3]);
    assert_eq!(shape_of("/decoder/decoder.3/ConvTranspose"), vec![1, 4, 6, 6]);
    let encoder = load_and_optimize(&fixture("conv3d_ae_ts17.onnx"), Part::Encoder).unwrap();
    assert_eq!(encoder.node(encoder.outputs()[0]).shape, vec![4]);
}

#[test]
fn unsupported_operators_are_named_with_their_node() {
    let err = load_and_optimize(&fixture("unsupported_softmax.onnx"), Part::Full).unwrap_err().to_string();
    assert!(err.contains("Softmax") && err.contains("'/1/Softmax'") && err.contains("not supported"), "{err}");
    let err = load_and_optimize(&fixture("unsupported_square.onnx"), Part::Full).unwrap_err().to_string();
    assert!(
        err.contains("Mul") && err.contains("'/Mul'") && err.contains("one run-time operand and one constant"),
        "{err}"
    );
}

/// A tensor times, over, plus or minus a constant folds into the linear layers beside it
/// (across a Flatten), or (after a ReLU, before a padded convolution) becomes one affine layer.
#[test]
fn constant_arithmetic_folds_into_layers_or_becomes_an_affine_map() {
    let kinds = |name: &str| {
        let graph = load_and_optimize(&fixture(&format!("{name}.onnx")), Part::Full).unwrap();
        graph.topological_order().iter().map(|&n| graph.node(n).op.kind()).collect::<Vec<_>>()
    };
    assert_eq!(kinds("const_arith_dense_ts17"), ["input", "dense", "dense", "output"]);
    assert_eq!(kinds("const_arith_conv_ts17"), ["input", "conv", "batch_norm", "conv", "flatten", "dense", "output"]);
}

fn kinds_of(name: &str) -> Vec<&'static str> {
    let graph = load_and_optimize(&fixture(&format!("{name}.onnx")), Part::Full).unwrap();
    graph.topological_order().iter().map(|&n| graph.node(n).op.kind()).collect()
}

/// A skip connection joins two branches: the sum of two run-time tensors stays an add (the
/// ReLU after it cannot fuse into a linear layer), a torch.cat a concatenation.
#[test]
fn skip_connections_stay_joins_of_two_branches() {
    for name in ["residual_dense_ts17", "residual_conv_ts17"] {
        let kinds = kinds_of(name);
        assert_eq!(kinds.iter().filter(|&&k| k == "add").count(), 1, "{name}: {kinds:?}");
        let add = kinds.iter().position(|&k| k == "add").unwrap();
        assert_eq!(kinds[add + 1], "activation", "{name}: {kinds:?}");
    }
    let kinds = kinds_of("concat_skip_ts17");
    assert!(kinds.contains(&"concat") && kinds.contains(&"max_pool"), "{kinds:?}");
}

/// ceil_mode: the max pool is a plain one whose end padding reaches the last window, the
/// average pool keeps windows of their own sizes.
#[test]
fn ceil_mode_pools_get_their_border_windows() {
    let graph = load_and_optimize(&fixture("ceil_pools_ts19.onnx"), Part::Full).unwrap();
    let nodes: Vec<_> = graph.topological_order().into_iter().map(|n| graph.node(n)).collect();
    let kinds: Vec<_> = nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["input", "conv", "max_pool", "average_pool", "flatten", "dense", "output"]);
    let Op::MaxPool(max) = &nodes[2].op else { unreachable!() };
    assert_eq!((nodes[2].shape.as_slice(), max.padding.as_slice()), (&[2, 4, 4][..], &[(0, 1), (0, 1)][..]));
    let Op::Pool(average) = &nodes[3].op else { unreachable!() };
    assert_eq!(nodes[3].shape, [2, 3, 3]);
    let sizes = average.window_sizes(&[4, 4]).unwrap();
    // Per axis the windows hold 3, 3 and 2 values (the last one's third position lies past
    // the padding).
    assert_eq!(sizes, [9, 9, 6, 9, 9, 6, 6, 6, 4]);
}

/// Average pools and nearest upsampling are convolutions that pair each channel with itself.
#[test]
fn pools_and_upsampling_become_convolutions() {
    let graph = load_and_optimize(&fixture("pool_upsample_ts17.onnx"), Part::Full).unwrap();
    let layers: Vec<_> = graph.topological_order().into_iter().map(|n| graph.node(n)).collect();
    let kinds: Vec<_> = layers.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["input", "conv", "conv", "conv", "conv", "conv_transpose", "conv", "output"]);
    let Op::Conv(pool) = &layers[2].op else { unreachable!() };
    assert_eq!((&pool.weight.shape[..], pool.geometry.stride.as_slice()), (&[2, 2, 2, 2][..], &[2, 2][..]));
    // Weights [out][in][2][2]: channel 1 to itself the window of quarters, to channel 0 nothing.
    assert_eq!(&pool.weight.data[(2 + 1) * 4..(2 + 2) * 4], &[0.25; 4]);
    assert_eq!(&pool.weight.data[2 * 4..(2 + 1) * 4], &[0.0; 4]);
}

#[test]
fn original_node_names_survive_import() {
    let graph = load_and_optimize(&fixture("conv2d_ae_ts17.onnx"), Part::Full).unwrap();
    let names: Vec<&str> = graph.nodes.node_weights().map(|n| n.name.as_str()).collect();
    for expected in ["/encoder/encoder.0/Conv", "/encoder/encoder.6/Gemm", "/decoder/decoder.3/ConvTranspose"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
}

#[test]
fn ir_dumps_are_stable() {
    for name in ["fpga_ae_ts17", "bn_dropout_ts13", "conv2d_ae_ts17", "identity_flatten_ts13", "burn_style_matmul_add"]
    {
        let graph = load_and_optimize(&fixture(&format!("{name}.onnx")), Part::Full).unwrap();
        insta::assert_snapshot!(name, graph.to_string());
    }
}

/// A copy of a fixture with one attribute of its first node of `op_type` changed.
fn with_attribute(name: &str, op_type: &str, attribute: &str, value: i64) -> tempfile::TempPath {
    use onnx_ir::{Message, ModelProto};
    let bytes = std::fs::read(fixture(name)).unwrap();
    let mut model = ModelProto::parse_from_bytes(&bytes).unwrap();
    let node = model.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == op_type).unwrap();
    match node.attribute.iter_mut().find(|a| a.name == attribute) {
        Some(a) => a.i = value,
        None => {
            let mut a = onnx_ir::AttributeProto::new();
            a.name = attribute.to_string();
            a.i = value;
            a.type_ = onnx_ir::AttributeType::INT.into();
            node.attribute.push(a);
        }
    }
    let file = tempfile::Builder::new().suffix(".onnx").tempfile().unwrap();
    std::fs::write(file.path(), model.write_to_bytes().unwrap()).unwrap();
    file.into_temp_path()
}

#[test]
fn a_concat_off_the_channel_axis_is_refused_naming_its_node() {
    let path = with_attribute("concat_skip_ts17.onnx", "Concat", "axis", 2);
    let err = load_and_optimize(&path, Part::Full).unwrap_err().to_string();
    assert!(err.contains("'/Concat'") && err.contains("along axis 2"), "{err}");
}

#[test]
fn unsupported_attributes_are_named_with_their_node() {
    let path = with_attribute("fpga_encoder_ts13.onnx", "Gemm", "transA", 1);
    let err = load_and_optimize(&path, Part::Full).unwrap_err().to_string();
    assert!(err.contains("Gemm") && err.contains("'/0/Gemm'") && err.contains("transA"), "{err}");

    for (name, op_type) in
        [("conv1d_ts13.onnx", "Conv"), ("conv3d_encoder_ts17.onnx", "Conv"), ("conv3d_ae_ts17.onnx", "ConvTranspose")]
    {
        let path = with_attribute(name, op_type, "group", 2);
        let err = load_and_optimize(&path, Part::Full).unwrap_err().to_string();
        assert!(err.contains(op_type) && err.contains("group=2"), "{name}: {err}");
    }
}

#[test]
fn an_operator_from_another_domain_is_named_with_its_domain_and_node() {
    use onnx_ir::{Message, ModelProto};
    let bytes = std::fs::read(fixture("fpga_encoder_ts13.onnx")).unwrap();
    let mut model = ModelProto::parse_from_bytes(&bytes).unwrap();
    let node = model.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
    node.op_type = "FancyAct".into();
    node.domain = "com.example.ops".into();
    let name = node.name.clone();
    let mut opset = model.opset_import[0].clone();
    opset.domain = "com.example.ops".into();
    opset.version = 1;
    model.opset_import.push(opset);
    let file = tempfile::Builder::new().suffix(".onnx").tempfile().unwrap();
    std::fs::write(file.path(), model.write_to_bytes().unwrap()).unwrap();
    let err = load_and_optimize(file.path(), Part::Full).unwrap_err().to_string();
    assert!(err.contains(&format!("unsupported FancyAct (domain com.example.ops) at node '{name}'")), "{err}");
}
