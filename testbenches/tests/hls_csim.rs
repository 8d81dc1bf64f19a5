//! The HLS backend against the bit-exact simulator: PyTorch-exported fixtures written as
//! HLS projects, compiled once each with g++ against the real ap_types headers, and run on
//! a few hundred vectors (real samples, corners, random codes). Every output code must
//! equal the simulator's.

mod common;

use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::model::{Codes, FusedActivation, Layer, LayerOp, Value};
use balerc_compiler::quant::{Accumulator, PrecisionConfig, QuantizedModel};
use balerc_compiler::sim::Simulator;
use balerc_compiler::stream::Io;
use balerc_hls::{write_project, write_test_data, Options};
use balerc_testbench::hls::{compile, csim};
use balerc_testbench::vectors::input_vectors;
use balerc_testbench::{ap_types, gxx, require};
use std::path::{Path, PathBuf};

const VECTORS: usize = 300;

/// The ap_types include directory and g++, or None to skip (a failure under CI).
fn tools() -> Option<PathBuf> {
    require(gxx::available())?;
    require(ap_types::include_dir())
}

/// The layer kinds of a model, fused activations after a '+'.
fn kinds(model: &QuantizedModel) -> Vec<String> {
    model
        .layers
        .iter()
        .map(|l| match l.op.linear().map(|lin| lin.activation) {
            Some(FusedActivation::Relu) => format!("{}+relu", l.op.kind()),
            Some(FusedActivation::LeakyRelu { .. }) => format!("{}+leaky_relu", l.op.kind()),
            _ => l.op.kind().to_string(),
        })
        .collect()
}

/// Real samples first (as codes), then corners and random codes.
fn vectors(model: &QuantizedModel, data: &[f64], seed: u64) -> Vec<Vec<i64>> {
    let simulator = Simulator::new(model);
    let n = model.input().len();
    let real: Vec<Vec<i64>> = simulator.quantize_input(data).unwrap().chunks(n).take(64).map(<[i64]>::to_vec).collect();
    input_vectors(model.input().ty, n, VECTORS, &real, seed)
}

/// Writes the project, replaces its test data by real + corner + random vectors, and
/// checks the C simulation bit for bit. Returns the build directory.
fn check(name: &str, precision: &str, include: &Path) -> Vec<String> {
    let (model, data) = common::calibrated_uniform(name, precision);
    check_model(name, precision, &model, &data, include);
    kinds(&model)
}

fn check_model(name: &str, precision: &str, model: &QuantizedModel, data: &[f64], include: &Path) {
    check_model_as(name, precision, model, data, include, Io::Parallel);
}

fn check_model_as(name: &str, precision: &str, model: &QuantizedModel, data: &[f64], include: &Path, io: Io) {
    let model = model.clone();
    let dir = tempfile::tempdir().unwrap();
    let options = Options { top: "dut".into(), io, ..Options::default() };
    let report = write_project(&model, &options, dir.path()).unwrap();
    assert_eq!(report.input.count, model.input().len());
    let vectors = vectors(&model, data, 11);
    write_test_data(&model, &vectors, dir.path()).unwrap();
    let outcome = csim(dir.path(), include).unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!(
        "{name} ({precision}): {} vectors, g++ {:.1} s, run {:.2} s, layers {:?}",
        outcome.vectors,
        outcome.compile_seconds,
        outcome.run_seconds,
        kinds(&model)
    );
    assert!(
        outcome.mismatches.is_empty() && outcome.mismatch_count == 0,
        "{name}: {} mismatching codes, first {:?}",
        outcome.mismatch_count,
        &outcome.mismatches[..outcome.mismatches.len().min(3)]
    );
    assert_eq!(outcome.vectors, vectors.len(), "{name}");
}

/// Streamed projects (`--io stream`): frames go in and out of hls::stream a beat at a time,
/// through line-buffered windows, pixel-wise dense layers and serializers.
#[test]
fn streamed_projects_match() {
    let Some(include) = tools() else { return };
    let cases = [
        ("conv1d_ts13", "ap_fixed<16,6>"),
        ("convtranspose1d_ts13", "ap_fixed<12,4,AP_RND,AP_SAT>"),
        ("conv2d_ae_ts17", "ap_fixed<16,6>"),
        ("conv3d_ae_ts17", "ap_fixed<14,5,AP_RND_CONV,AP_SAT>"),
        ("cfd_encoder_ts17", "ap_fixed<16,6>"),
        ("max_pool_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>"),
        ("pool_upsample_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>"),
        ("pad_transpose_dynamo18", "ap_fixed<12,4,AP_RND,AP_SAT>"),
        ("prelu_channels_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>"),
        ("fpga_encoder_ts13", "ap_fixed<16,6>"),
    ];
    for (name, precision) in cases {
        let (model, data) = common::calibrated_uniform(name, precision);
        check_model_as(&format!("{name} streamed"), precision, &model, &data, &include, Io::Stream);
    }
}

#[test]
fn dense_relu_encoder_matches() {
    let Some(include) = tools() else { return };
    let kinds = check("fpga_encoder_ts13", "ap_fixed<16,6>", &include);
    assert!(kinds.iter().any(|k| k == "dense+relu"), "{kinds:?}");
}

/// An explicit accumulator (hls4ml style): every product rounded into it, sums wrapping.
#[test]
fn an_explicit_rounding_accumulator_matches() {
    let Some(include) = tools() else { return };
    let precision = "ap_fixed<14,5,AP_RND,AP_SAT>";
    let mut config = PrecisionConfig::uniform(precision.parse().unwrap());
    config.accumulator = Accumulator::Type("ap_fixed<18,7,AP_RND_CONV>".parse().unwrap());
    let (model, data) = common::calibrated("fpga_ae_ts17", config);
    assert!(model.layers.iter().filter_map(|l| l.op.linear()).all(|l| !l.exact));
    check_model("fpga_ae_ts17 (accumulator ap_fixed<18,7,AP_RND_CONV>)", precision, &model, &data, &include);
}

#[test]
fn sigmoid_and_tanh_tables_match() {
    let Some(include) = tools() else { return };
    let kinds = check("sigmoid_tanh_ts17", "ap_fixed<12,4,AP_RND_CONV,AP_SAT>", &include);
    assert!(kinds.iter().any(|k| k == "sigmoid") && kinds.iter().any(|k| k == "tanh"), "{kinds:?}");
}

#[test]
fn batchnorm_dropout_leaky_relu_matches() {
    let Some(include) = tools() else { return };
    let kinds = check("bn_dropout_ts13", "ap_fixed<16,6>", &include);
    assert!(kinds.iter().any(|k| k.contains("leaky_relu")), "{kinds:?}");
}

#[test]
fn constant_arithmetic_after_a_convolution_matches() {
    let Some(include) = tools() else { return };
    let kinds = check("const_arith_conv_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    assert!(kinds.iter().any(|k| k == "affine"), "{kinds:?}");
}

#[test]
fn pools_pads_and_upsampling_match() {
    let Some(include) = tools() else { return };
    let kinds = check("pool_upsample_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    check("pad_transpose_dynamo18", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    let kinds = check("max_pool_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    assert_eq!(kinds.iter().filter(|k| *k == "max_pool").count(), 2, "{kinds:?}");
}

#[test]
fn skip_connections_and_ceil_pools_match() {
    let Some(include) = tools() else { return };
    for name in ["residual_dense_ts17", "residual_conv_ts17"] {
        let kinds = check(name, "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
        assert!(kinds.iter().any(|k| k == "add"), "{name}: {kinds:?}");
    }
    let kinds = check("concat_skip_ts17", "ap_fixed<16,6,AP_RND_CONV,AP_WRAP>", &include);
    assert!(kinds.iter().any(|k| k == "concat"), "{kinds:?}");
    check("ceil_pools_ts19", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
}

#[test]
fn clip_and_prelu_layers_match() {
    let Some(include) = tools() else { return };
    let kinds = check("clip_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    assert_eq!(kinds.iter().filter(|k| *k == "clip").count(), 3, "{kinds:?}");
    let kinds = check("prelu_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    assert_eq!(kinds, ["dense+leaky_relu", "dense+leaky_relu"]);
    // A slope per channel stays a layer of its own.
    let kinds = check("prelu_channels_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", &include);
    assert_eq!(kinds, ["conv", "prelu", "reshape", "dense", "prelu"]);
}

/// ELU, SELU and Softplus, each a table with a line above it; uncalibrated, so that the
/// Softplus input reaches its line too.
#[test]
fn tables_with_a_line_match() {
    let Some(include) = tools() else { return };
    let precision = "ap_fixed<16,6>";
    let name = "elu_selu_softplus_ts17";
    let model = common::uncalibrated(name, precision);
    assert_eq!(kinds(&model), ["dense", "elu", "dense", "selu", "dense", "softplus"]);
    check_model(&format!("{name} (uncalibrated)"), precision, &model, &common::samples(name), &include);
}

#[test]
fn conv2d_autoencoder_matches() {
    let Some(include) = tools() else { return };
    let kinds = check("conv2d_ae_ts17", "ap_fixed<16,6,AP_RND,AP_SAT>", &include);
    assert!(kinds.iter().any(|k| k.starts_with("conv")), "{kinds:?}");
}

#[test]
fn conv1d_and_transposed_conv1d_match() {
    let Some(include) = tools() else { return };
    let kinds = check("conv1d_ts13", "ap_fixed<16,6>", &include);
    assert!(kinds.iter().any(|k| k.starts_with("conv")), "{kinds:?}");
    let kinds = check("convtranspose1d_ts13", "ap_fixed<10,3,AP_RND,AP_SAT_SYM>", &include);
    assert!(kinds.iter().any(|k| k.starts_with("conv_transpose")), "{kinds:?}");
}

#[test]
fn conv3d_and_transposed_conv3d_match() {
    let Some(include) = tools() else { return };
    let kinds = check("conv3d_encoder_ts17", "ap_fixed<16,6>", &include);
    assert!(kinds.iter().any(|k| k.starts_with("conv")), "{kinds:?}");
    let kinds = check("conv3d_ae_ts17", "ap_fixed<14,5,AP_RND,AP_SAT>", &include);
    assert!(kinds.iter().any(|k| k.starts_with("conv_transpose")), "{kinds:?}");
}

/// The test bench itself must catch a wrong code: one altered expected code gives a
/// failing run that names it.
#[test]
fn the_test_bench_reports_a_mismatch_and_fails() {
    let Some(include) = tools() else { return };
    let (model, data) = common::calibrated_uniform("fpga_encoder_ts13", "ap_fixed<12,4,AP_RND,AP_SAT>");
    let dir = tempfile::tempdir().unwrap();
    write_project(&model, &Options { top: "enc".into(), ..Options::default() }, dir.path()).unwrap();
    let program = compile(dir.path(), &include).unwrap();
    let vectors = vectors(&model, &data, 3);
    write_test_data(&model, &vectors, dir.path()).unwrap();
    assert!(program.run().unwrap().mismatches.is_empty());
    let path = dir.path().join("tb_data/expected.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut codes: Vec<i64> = lines[2].split_whitespace().map(|c| c.parse().unwrap()).collect();
    codes[1] += 1;
    lines[2] = codes.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let outcome = program.run().unwrap();
    assert_eq!(outcome.mismatch_count, 1);
    assert_eq!((outcome.mismatches[0].vector, outcome.mismatches[0].element), (2, 1));
    assert_eq!(outcome.mismatches[0].simulator, outcome.mismatches[0].hardware + 1);
}

/// The element-wise kernels no fixture reaches unfused: a BatchNorm that stays an affine
/// layer, standalone LeakyReLU and ReLU (into an unsigned type), a reshape; every type
/// with other rounding and overflow modes.
#[test]
fn standalone_affine_leaky_relu_relu_and_reshape_match() {
    let Some(include) = tools() else { return };
    let ty = |s: &str| -> FixedType { s.parse().unwrap() };
    let value = |name: &str, shape: Vec<usize>, t: &str| Value { name: name.into(), shape, ty: ty(t) };
    let layer =
        |name: &str, op: LayerOp, input: usize| Layer { name: name.into(), op, inputs: vec![input], output: input + 1 };
    let model = QuantizedModel {
        name: "elementwise".into(),
        values: vec![
            value("x", vec![4, 2], "ap_fixed<10,3>"),
            value("bn", vec![4, 2], "ap_fixed<12,4,AP_RND_CONV,AP_SAT>"),
            value("leaky", vec![4, 2], "ap_fixed<9,3,AP_RND,AP_SAT_SYM>"),
            value("relu", vec![4, 2], "ap_ufixed<8,3,AP_RND_INF,AP_SAT>"),
            value("flat", vec![8], "ap_ufixed<8,3,AP_RND_INF,AP_SAT>"),
        ],
        layers: vec![
            layer(
                "bn",
                LayerOp::Affine {
                    scale: Codes { ty: ty("ap_fixed<8,2>"), codes: vec![37, -90, 127, -128] },
                    shift: Codes { ty: ty("ap_fixed<8,3>"), codes: vec![-5, 77, -128, 127] },
                    accumulator: ty("ap_fixed<20,7>"),
                    per_channel: 2,
                },
                0,
            ),
            layer("leaky", LayerOp::LeakyRelu { alpha: 13107, alpha_ty: ty("ap_fixed<18,1>") }, 1),
            layer("relu", LayerOp::Relu, 2),
            layer("flatten", LayerOp::Reshape, 3),
        ],
        input: 0,
        output: 4,
        source: None,
        scales: Default::default(),
    };
    let data: Vec<f64> = (0..64).map(|k| (k as f64 * 0.37).sin() * 3.9).collect();
    check_model("elementwise", "hand-built", &model, &data, &include);
}
