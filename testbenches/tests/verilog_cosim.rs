//! The Verilog backend against the bit-exact simulator: PyTorch-exported models and
//! random networks, at several precisions, rounding and overflow modes, multiplier
//! styles and pipeline depths. Every output code must match.

mod common;

use balerc_compiler::fixed::{FixedType, Overflow, Quantization};
use balerc_compiler::ir::{Activation, Dense, Graph, Op, Tensor};
use balerc_compiler::passes::{run_pipeline, standard_pipeline, Part};
use balerc_compiler::quant::{quantize, PrecisionConfig, QuantizedModel};
use balerc_testbench::cosim::{cosim, load_build, CosimOptions, Tool};
use balerc_testbench::require;
use balerc_testbench::rtl::{iverilog_available, lint, synthesize, verilator_available, yosys_available};
use balerc_verilog::{legal_reuse_factors, write_project, Multipliers, Options, ReuseFactors};
use proptest::prelude::*;
use std::path::Path;

fn options(multipliers: Multipliers, levels: u32) -> Options {
    folded(multipliers, levels, ReuseFactors::default())
}

fn folded(multipliers: Multipliers, levels: u32, reuse: ReuseFactors) -> Options {
    Options {
        top: "dut".into(),
        multipliers,
        dsp: Default::default(),
        clock_ns: 5.0,
        adder_levels_per_stage: Some(levels),
        sharing_pairs: balerc_verilog::DEFAULT_SHARING_PAIRS,
        reuse,
        io: Default::default(),
    }
}

/// Lowers a fixture with calibrated integer bits and writes its Verilog build.
fn build(name: &str, precision: &str, multipliers: Multipliers, levels: u32, dir: &Path) -> Vec<f64> {
    build_folded(name, precision, &options(multipliers, levels), dir)
}

fn build_folded(name: &str, precision: &str, options: &Options, dir: &Path) -> Vec<f64> {
    let (model, data) = common::calibrated_uniform(name, precision);
    write_project(&model, options, dir).unwrap();
    data
}

fn assert_bit_exact(dir: &Path, tool: Tool, vectors: usize, data: Option<Vec<f64>>, what: &str) {
    let outcome = cosim(dir, &CosimOptions { vectors, tool, data, seed: 7 }).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        outcome.mismatches.is_empty(),
        "{what}: {} mismatches, first {:?}",
        outcome.mismatches.len(),
        &outcome.mismatches[..1]
    );
    assert!(outcome.vectors >= vectors, "{what}");
}

#[test]
fn exported_dense_models_match_in_verilator_and_lint_clean() {
    let Some(()) = require(verilator_available()) else { return };
    let cases = [
        ("fpga_encoder_ts13", "ap_fixed<16,6>", Multipliers::ShiftAdd, 5),
        ("sigmoid_tanh_ts17", "ap_fixed<12,4,AP_RND_CONV,AP_SAT>", Multipliers::Dsp, 3),
        ("bn_dropout_dynamo21", "ap_fixed<10,3,AP_RND,AP_SAT_SYM>", Multipliers::ShiftAdd, 2),
        ("fpga_ae_ts17", "ap_fixed<14,5,AP_TRN_ZERO,AP_SAT_ZERO>", Multipliers::ShiftAdd, 100),
        // Products, quotients and differences by constants folded into both dense layers.
        ("const_arith_dense_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3),
        // HardTanh, ReLU6 and a clamp from above, each a layer of its own.
        ("clip_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3),
        // PReLU with one slope, fused into each dense layer as a leaky ReLU.
        ("prelu_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3),
        // PReLU with a slope per channel after a conv and per output after a dense layer.
        ("prelu_channels_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3),
    ];
    for (name, precision, multipliers, levels) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = build(name, precision, multipliers, levels, dir.path());
        let (design, _) = load_build(dir.path()).unwrap();
        lint(&design).unwrap_or_else(|warnings| panic!("{name}: lint warnings\n{warnings}"));
        assert_bit_exact(dir.path(), Tool::Verilator, 300, Some(data), name);
    }
}

/// The report of a build directory.
fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn folded_dense_models_match_in_verilator_and_lint_clean() {
    let Some(()) = require(verilator_available()) else { return };
    // The 16-20-10-8 encoder: 16, 20 and 10 products per output.
    let per_layer = |r: &[(&str, u32)]| r.iter().map(|&(n, r)| (n.to_string(), r)).collect();
    let cases = [
        ("shift-add, R = 2", Multipliers::ShiftAdd, 5, ReuseFactors::uniform(2)),
        ("shift-add, R = 7 (ragged slots)", Multipliers::ShiftAdd, 2, ReuseFactors::uniform(7)),
        ("dsp, R = 4", Multipliers::Dsp, 5, ReuseFactors::uniform(4)),
        (
            "per layer: 1, 10, default 3",
            Multipliers::ShiftAdd,
            3,
            ReuseFactors { default: 3, layers: per_layer(&[("/0/Gemm", 1), ("/4/Gemm", 10)]) },
        ),
    ];
    for (what, multipliers, levels, reuse) in cases {
        let dir = tempfile::tempdir().unwrap();
        let expected_ii = reuse.layers.values().chain([&reuse.default]).copied().max().unwrap() as u64;
        let data = build_folded("fpga_encoder_ts13", "ap_fixed<16,6>", &folded(multipliers, levels, reuse), dir.path());
        let (design, _) = load_build(dir.path()).unwrap();
        assert_eq!(design.ii as u64, expected_ii, "{what}");
        assert_eq!(report(dir.path())["ii"], expected_ii, "{what}");
        lint(&design).unwrap_or_else(|warnings| panic!("{what}: lint warnings\n{warnings}"));
        assert_bit_exact(dir.path(), Tool::Verilator, 200, Some(data), what);
    }
}

#[test]
fn folded_designs_match_in_icarus() {
    let Some(()) = require(iverilog_available()) else { return };
    for (name, precision, multipliers, reuse) in [
        ("fpga_encoder_ts13", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 5),
        ("conv1d_ts13", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 2),
        ("convtranspose1d_ts13", "ap_fixed<16,6,AP_RND_INF,AP_WRAP>", Multipliers::Dsp, 2),
        ("bn_dropout_dynamo21", "ap_fixed<10,3,AP_RND,AP_SAT_SYM>", Multipliers::ShiftAdd, 3),
        ("clip_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 4),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let options = folded(multipliers, 3, ReuseFactors::uniform(reuse));
        let data = build_folded(name, precision, &options, dir.path());
        assert_bit_exact(dir.path(), Tool::Iverilog, 100, Some(data), &format!("{name} at R = {reuse}"));
    }
}

/// ELU, SELU and Softplus: a table below, a line above. Without calibration the Softplus
/// input reaches 8, where its line starts; the vectors cover both sides of every table.
#[test]
fn tables_with_a_line_match_in_icarus() {
    let Some(()) = require(iverilog_available()) else { return };
    for (precision, levels) in [("ap_fixed<16,6>", 3), ("ap_fixed<12,5,AP_RND_CONV,AP_SAT>", 100)] {
        let model = common::uncalibrated("elu_selu_softplus_ts17", precision);
        let lines = model
            .layers
            .iter()
            .filter(|l| matches!(l.op, balerc_compiler::quant::model::LayerOp::Table { linear: Some(_), .. }))
            .count();
        assert_eq!(lines, 3, "{precision}: elu, selu and softplus each have a line");
        let dir = tempfile::tempdir().unwrap();
        write_project(&model, &options(Multipliers::ShiftAdd, levels), dir.path()).unwrap();
        assert_bit_exact(dir.path(), Tool::Iverilog, 400, Some(common::samples("elu_selu_softplus_ts17")), precision);
    }
}

#[test]
fn convolutions_match_in_icarus() {
    let Some(()) = require(iverilog_available()) else { return };
    for (name, precision, multipliers, vectors) in [
        ("conv1d_ts13", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 200),
        ("convtranspose1d_ts13", "ap_fixed<16,6,AP_RND_INF,AP_WRAP>", Multipliers::Dsp, 200),
        ("identity_flatten_ts13", "ap_fixed<8,3,AP_RND_MIN_INF,AP_SAT>", Multipliers::ShiftAdd, 200),
        // Conv, BatchNorm folded, dense, Unflatten, two transposed convs and a sigmoid
        // table: large, so fewer vectors (plus the 64 real frames).
        ("conv2d_ae_ts17", "ap_fixed<10,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 10),
        // Conv3d, dense layers, Unflatten, a transposed Conv3d and a sigmoid table.
        ("conv3d_ae_ts17", "ap_fixed<14,5,AP_RND_CONV,AP_SAT>", Multipliers::Dsp, 10),
        // A per-channel factor and term after Conv and ReLU: an affine layer over channels.
        ("const_arith_conv_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 100),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = build(name, precision, multipliers, 3, dir.path());
        assert_bit_exact(dir.path(), Tool::Iverilog, vectors, Some(data), name);
    }
}

/// Pools and upsampling, lint-clean and code for code: average pools (one counting its zero
/// padding) and a nearest upsampling, all convolutions that pair each channel with itself;
/// max pools, one with padding that never wins; zero pads folded into the windows after them
/// and a transpose that is a reshape.
#[test]
fn pools_pads_and_upsampling_match_in_verilator() {
    let Some(()) = require(verilator_available()) else { return };
    for name in ["pool_upsample_ts17", "max_pool_ts17", "pad_transpose_dynamo18"] {
        let dir = tempfile::tempdir().unwrap();
        let data = build(name, "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3, dir.path());
        let (design, _) = load_build(dir.path()).unwrap();
        lint(&design).unwrap_or_else(|warnings| panic!("{name}: lint warnings\n{warnings}"));
        assert_bit_exact(dir.path(), Tool::Verilator, 100, Some(data), name);
    }
}

/// Skip connections and ceil-mode pools, lint-clean and code for code: the residual blocks'
/// sums (their branches of different depths, the shorter one delayed), a U-Net concatenation,
/// and border windows of their own sizes. One residual block is also pipelined after every
/// adder level, which lengthens its longer branch further.
#[test]
fn skip_connections_and_ceil_pools_match_in_verilator() {
    let Some(()) = require(verilator_available()) else { return };
    let cases = [
        ("residual_dense_ts17", 3),
        ("residual_conv_ts17", 3),
        ("residual_conv_ts17", 1),
        ("concat_skip_ts17", 3),
        ("ceil_pools_ts19", 3),
    ];
    for (name, levels) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = build(name, "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, levels, dir.path());
        let (design, _) = load_build(dir.path()).unwrap();
        lint(&design).unwrap_or_else(|warnings| panic!("{name}: lint warnings\n{warnings}"));
        assert_bit_exact(dir.path(), Tool::Verilator, 100, Some(data), &format!("{name}, {levels} levels a stage"));
    }
}

/// Skip connections folded (a new sample every few clocks), in Icarus: the delayed branch must
/// still meet the folded one's result of the same sample, whether every layer is folded or
/// only one layer of the longer branch.
#[test]
fn folded_skip_connections_match_in_icarus() {
    let Some(()) = require(iverilog_available()) else { return };
    let only = |layer: &str, reuse: u32| ReuseFactors { default: 1, layers: [(layer.to_string(), reuse)].into() };
    for (name, reuse, ii) in [
        ("residual_dense_ts17", ReuseFactors::uniform(4), 4),
        ("residual_conv_ts17", only("/outer/Conv", 3), 3),
        ("concat_skip_ts17", only("/middle/Conv", 2), 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let options = folded(Multipliers::Dsp, 3, reuse);
        let data = build_folded(name, "ap_fixed<16,6>", &options, dir.path());
        assert_eq!(report(dir.path())["ii"], ii, "{name}");
        assert_bit_exact(dir.path(), Tool::Iverilog, 100, Some(data), &format!("{name} at II = {ii}"));
    }
}

/// Conv3d over stacks of frames (the whole autoencoder, with its transposed Conv3d, runs in
/// Icarus above).
#[test]
fn a_conv3d_encoder_matches_in_verilator() {
    let Some(()) = require(verilator_available()) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = build("conv3d_encoder_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3, dir.path());
    assert_bit_exact(dir.path(), Tool::Verilator, 200, Some(data), "conv3d_encoder_ts17");
}

#[test]
fn shift_add_uses_no_dsp_and_dsp_mode_does() {
    let Some(()) = require(yosys_available()) else { return };
    let mut dsps = Vec::new();
    for multipliers in [Multipliers::ShiftAdd, Multipliers::Dsp] {
        let dir = tempfile::tempdir().unwrap();
        build("fpga_encoder_ts13", "ap_fixed<16,6>", multipliers, 5, dir.path());
        let (design, _) = load_build(dir.path()).unwrap();
        let resources = synthesize(&design, dir.path()).unwrap();
        assert!(resources.lut > 0 && resources.ff > 0);
        dsps.push(resources.dsp);
    }
    assert_eq!(dsps[0], 0);
    assert!(dsps[1] > 0);
}

/// A residual block synthesizes (yosys, UltraScale+) on shift-add terms alone; the skip's
/// delay registers are flip-flops beside the layers' own.
#[test]
fn a_residual_block_synthesizes_without_dsp() {
    let Some(()) = require(yosys_available()) else { return };
    let dir = tempfile::tempdir().unwrap();
    build("residual_dense_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 3, dir.path());
    let (design, _) = load_build(dir.path()).unwrap();
    let resources = synthesize(&design, dir.path()).unwrap();
    eprintln!("residual_dense_ts17 at ap_fixed<12,4,AP_RND,AP_SAT>, shift-add: {resources:?}");
    assert!(resources.lut > 0 && resources.ff > 0, "{resources:?}");
    assert_eq!(resources.dsp, 0, "{resources:?}");
}

fn fixed_type() -> impl Strategy<Value = FixedType> {
    (5u32..=18, -1i32..=7, 0usize..7, 0usize..4).prop_map(|(w, i, q, o)| {
        let q = [
            Quantization::Trn,
            Quantization::TrnZero,
            Quantization::Rnd,
            Quantization::RndZero,
            Quantization::RndMinInf,
            Quantization::RndInf,
            Quantization::RndConv,
        ][q];
        let o = [Overflow::Wrap, Overflow::Sat, Overflow::SatZero, Overflow::SatSym][o];
        FixedType { width: w, int_bits: i, signed: true, quantization: q, overflow: o, saturation_bits: 0 }
    })
}

/// A random dense chain with a random activation after each layer.
fn network() -> impl Strategy<Value = (Vec<usize>, Vec<Option<Activation>>, Vec<f64>)> {
    let activation = prop_oneof![
        Just(None),
        Just(Some(Activation::Relu)),
        (0.01f64..0.3).prop_map(|alpha| Some(Activation::LeakyRelu { alpha })),
        Just(Some(Activation::Sigmoid)),
        Just(Some(Activation::Tanh)),
    ];
    (
        prop::collection::vec(1usize..6, 2..4),
        prop::collection::vec(activation, 3),
        prop::collection::vec(-3.0f64..3.0, 200),
    )
}

fn model(sizes: &[usize], activations: &[Option<Activation>], weights: &[f64], ty: FixedType) -> QuantizedModel {
    let mut g = Graph::new("random");
    let mut last = g.add("x", Op::Input { shape: vec![sizes[0]] });
    let mut w = weights.iter().copied().cycle();
    for (k, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        let weight = Tensor::new(vec![n_out, n_in], (&mut w).take(n_in * n_out).collect());
        let bias = (&mut w).take(n_out).collect();
        let id = g.add(format!("dense{k}"), Op::Dense(Dense { weight, bias, activation: None }));
        g.connect(last, id, 0);
        last = id;
        if let Some(a) = activations[k] {
            let id = g.add(format!("act{k}"), Op::Activation(a));
            g.connect(last, id, 0);
            last = id;
        }
    }
    let out = g.add("y", Op::Output);
    g.connect(last, out, 0);
    run_pipeline(&mut g, &standard_pipeline(Part::Full)).unwrap();
    let mut config = PrecisionConfig::uniform(ty);
    config.table_size = 64;
    quantize(&g, &config).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn random_networks_match_in_icarus(
        (sizes, activations, weights) in network(),
        ty in fixed_type(),
        dsp in any::<bool>(),
        levels in 1u32..4,
    ) {
        let Some(()) = require(iverilog_available()) else { return Ok(()) };
        let quantized = model(&sizes, &activations, &weights, ty);
        let dir = tempfile::tempdir().unwrap();
        let multipliers = if dsp { Multipliers::Dsp } else { Multipliers::ShiftAdd };
        write_project(&quantized, &options(multipliers, levels), dir.path()).unwrap();
        assert_bit_exact(dir.path(), Tool::Iverilog, 100, None, &format!("{sizes:?} {activations:?} {ty}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Random dense chains, each linear layer folded by its own random legal factor.
    #[test]
    fn random_folded_networks_match_in_icarus(
        (sizes, activations, weights) in network(),
        ty in fixed_type(),
        dsp in any::<bool>(),
        levels in 1u32..4,
        picks in prop::collection::vec(0usize..100, 3),
    ) {
        let Some(()) = require(iverilog_available()) else { return Ok(()) };
        let quantized = model(&sizes, &activations, &weights, ty);
        let mut reuse = ReuseFactors::uniform(1);
        for (layer, pick) in quantized.layers.iter().zip(picks.iter().cycle()) {
            if let balerc_compiler::quant::model::LayerOp::Dense { inputs, .. } = layer.op {
                reuse.layers.insert(layer.name.clone(), 1 + (pick % inputs) as u32);
            }
        }
        prop_assert!(legal_reuse_factors(&quantized).contains(&1));
        let dir = tempfile::tempdir().unwrap();
        let multipliers = if dsp { Multipliers::Dsp } else { Multipliers::ShiftAdd };
        write_project(&quantized, &folded(multipliers, levels, reuse.clone()), dir.path()).unwrap();
        let ii = reuse.layers.values().copied().max().unwrap_or(1);
        prop_assert_eq!(&report(dir.path())["ii"], ii);
        assert_bit_exact(dir.path(), Tool::Iverilog, 60, None, &format!("{sizes:?} {activations:?} {ty} {reuse:?}"));
    }
}

#[test]
fn an_illegal_reuse_factor_is_refused_with_the_legal_ones() {
    let dir = tempfile::tempdir().unwrap();
    let model = encoder_model();
    // 16, 20 and 10 products per output: every layer can share over at most 10 clocks.
    assert_eq!(legal_reuse_factors(model), (1..=10).collect::<Vec<_>>());
    let error = write_project(model, &folded(Multipliers::ShiftAdd, 5, ReuseFactors::uniform(11)), dir.path())
        .unwrap_err()
        .to_string();
    assert!(error.contains("reuse factor 11") && error.contains("'/4/Gemm'"), "{error}");
    assert!(error.ends_with("legal values: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"), "{error}");
    // A layer of its own may go as far as its own products.
    let mut reuse = ReuseFactors::uniform(2);
    reuse.layers.insert("/2/Gemm".into(), 21);
    let error =
        write_project(model, &folded(Multipliers::ShiftAdd, 5, reuse.clone()), dir.path()).unwrap_err().to_string();
    assert!(error.contains("reuse factor 21") && error.contains("layer '/2/Gemm'"), "{error}");
    assert!(
        error.ends_with(&format!("legal values: {}", (1..=20).map(|r| r.to_string()).collect::<Vec<_>>().join(", ")))
    );
    reuse.layers.insert("/2/Gemm".into(), 20);
    let report = write_project(model, &folded(Multipliers::ShiftAdd, 5, reuse.clone()), dir.path()).unwrap();
    assert_eq!(report.ii, 20);
    let layers: Vec<u32> = report.layers.iter().map(|l| l.reuse_factor).collect();
    assert_eq!(layers, vec![2, 20, 2]);
    reuse.layers.insert("/9/Gemm".into(), 2);
    let error = write_project(model, &folded(Multipliers::ShiftAdd, 5, reuse), dir.path()).unwrap_err().to_string();
    assert!(error.contains("'/9/Gemm'") && error.contains("/0/Gemm, /2/Gemm, /4/Gemm"), "{error}");
}

#[test]
fn shift_add_designs_contain_no_multiplier_even_for_leaky_relu() {
    let dir = tempfile::tempdir().unwrap();
    build("bn_dropout_dynamo21", "ap_fixed<12,5,AP_RND,AP_SAT>", Multipliers::ShiftAdd, 5, dir.path());
    for entry in std::fs::read_dir(dir.path().join("rtl")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(" * "), "a multiplication in a shift-add design");
    }
}

/// Options for `--multipliers auto` with a DSP priced at `lut_cost` LUTs.
fn auto(lut_cost: u32, budget: Option<u64>, reuse: u32) -> Options {
    Options {
        dsp: balerc_verilog::DspPolicy { lut_cost, budget },
        ..folded(Multipliers::Auto, 3, ReuseFactors::uniform(reuse))
    }
}

/// The 16-20-10-8 encoder's nonzero weights: what `--multipliers dsp` puts on DSP slices
/// at R = 1.
fn encoder_products(dir: &Path) -> u64 {
    build_folded("fpga_encoder_ts13", "ap_fixed<16,6>", &folded(Multipliers::Dsp, 3, ReuseFactors::default()), dir);
    report(dir)["resources"]["dsp_products"].as_u64().unwrap()
}

#[test]
fn auto_designs_mixing_dsp_and_shift_add_match_in_verilator_and_icarus() {
    let Some(()) = require(verilator_available()) else { return };
    let Some(()) = require(iverilog_available()) else { return };
    let all = encoder_products(tempfile::tempdir().unwrap().path());
    let cases = [
        ("a budget of 100 of the densest products", auto(0, Some(100), 1), Some(100)),
        ("a DSP priced at 20 LUTs", auto(20, None, 1), None),
        ("folded by 4 at the default price", auto(balerc_verilog::DEFAULT_DSP_COST, None, 4), None),
        ("folded by 3 within a budget of 17", auto(0, Some(17), 3), Some(17)),
    ];
    for (what, options, budget) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = build_folded("fpga_encoder_ts13", "ap_fixed<16,6>", &options, dir.path());
        let dsp = report(dir.path())["resources"]["dsp_products"].as_u64().unwrap();
        // A mix: some products on DSP slices, not all of them.
        assert!(dsp > 0 && dsp < all, "{what}: {dsp} of {all} products on DSP slices");
        if let Some(budget) = budget {
            assert_eq!(dsp, budget, "{what}: a zero price fills the budget");
        }
        let (design, _) = load_build(dir.path()).unwrap();
        lint(&design).unwrap_or_else(|warnings| panic!("{what}: lint warnings\n{warnings}"));
        assert_bit_exact(dir.path(), Tool::Verilator, 200, Some(data.clone()), what);
        assert_bit_exact(dir.path(), Tool::Iverilog, 60, Some(data), what);
    }
}

#[test]
fn auto_at_the_default_price_keeps_unfolded_encoders_on_shift_add_terms() {
    // On the 16-20-10-8 encoder no 16-bit weight has enough digits to outweigh a DSP slice's
    // share of the device: the design is the shift-add one.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    build_folded("fpga_encoder_ts13", "ap_fixed<16,6>", &auto(balerc_verilog::DEFAULT_DSP_COST, None, 1), a.path());
    build_folded("fpga_encoder_ts13", "ap_fixed<16,6>", &options(Multipliers::ShiftAdd, 3), b.path());
    assert_eq!(report(a.path())["resources"]["dsp_products"], 0);
    assert_eq!(report(a.path())["multipliers"], "auto");
    let rtl = |d: &Path| std::fs::read_to_string(d.join("rtl/dut.v")).unwrap();
    assert_eq!(rtl(a.path()), rtl(b.path()));
}

#[test]
fn a_dsp_budget_needs_auto() {
    let model = encoder_model();
    for multipliers in [Multipliers::Dsp, Multipliers::ShiftAdd] {
        let options =
            Options { dsp: balerc_verilog::DspPolicy { lut_cost: 0, budget: Some(5) }, ..options(multipliers, 3) };
        let error = balerc_verilog::generate(model, &options).err().expect("refused");
        assert!(error.to_string().contains("applies to --multipliers auto"), "{error}");
    }
}

/// The lines of a design's core that multiply.
fn multiplications(verilog: &str) -> impl Iterator<Item = &str> {
    verilog.lines().filter_map(|line| line.split(" * $signed(").nth(1))
}

/// The constant weight codes of an unfolded design's `*` products.
fn multiplied_weights(verilog: &str) -> Vec<i64> {
    multiplications(verilog)
        .map(|rest| {
            let literal = rest.trim_end_matches(");");
            let (width, hex) = literal.split_once("'h").expect("a constant weight");
            let (width, bits) = (width.parse::<u32>().unwrap(), u128::from_str_radix(hex, 16).unwrap());
            // Two's complement of `width` bits.
            ((bits << (128 - width)) as i128 >> (128 - width)) as i64
        })
        .collect()
}

/// Nonzero canonical signed digits of `w`, counted digit by digit.
fn digits(w: i64) -> u32 {
    let (mut v, mut count) = (w as i128, 0);
    while v != 0 {
        if v & 1 == 1 {
            // The digit (±1) that leaves a multiple of 4.
            v -= 2 - (v & 3);
            count += 1;
        }
        v >>= 1;
    }
    count
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the price, the budget and the reuse factor, the products written as `*`
    /// never outnumber the budget, the report counts exactly those, a zero price fills the
    /// budget, and unfolded, the densest weights go first.
    #[test]
    fn the_dsp_budget_is_never_exceeded(budget in 0u64..700, lut_cost in 0u32..120, reuse in 1u32..=10) {
        let model = encoder_model();
        let design = balerc_verilog::generate(model, &auto(lut_cost, Some(budget), reuse)).unwrap();
        let core = &design.modules[0].1;
        prop_assert_eq!(multiplications(core).count() as u64, design.cost.dsp_products);
        prop_assert!(design.cost.dsp_products <= budget);
        let unbounded = balerc_verilog::generate(model, &auto(lut_cost, None, reuse)).unwrap().cost.dsp_products;
        prop_assert_eq!(design.cost.dsp_products, unbounded.min(budget));
        if reuse == 1 && lut_cost == 0 {
            let on_dsp = multiplied_weights(core);
            let weights = encoder_weights(model);
            let mut left = weights.clone();
            for w in &on_dsp {
                let at = left.iter().position(|x| x == w).expect("a product is a weight of the model");
                left.swap_remove(at);
            }
            // Every weight on a DSP has at least the digits of every weight left to shift-add
            // terms that would have been worth a DSP (two digits or more).
            let least_on_dsp = on_dsp.iter().map(|&w| digits(w)).min().unwrap_or(u32::MAX);
            let most_left = left.iter().map(|&w| digits(w)).filter(|&d| d >= 2).max().unwrap_or(0);
            prop_assert!(on_dsp.is_empty() || least_on_dsp >= most_left, "{} < {}", least_on_dsp, most_left);
        }
    }
}

/// The 16-20-10-8 encoder at `ap_fixed<16,6>`, lowered once.
fn encoder_model() -> &'static QuantizedModel {
    static MODEL: std::sync::OnceLock<QuantizedModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| common::uncalibrated("fpga_encoder_ts13", "ap_fixed<16,6>"))
}

/// Every nonzero weight code of the model's dense layers.
fn encoder_weights(model: &QuantizedModel) -> Vec<i64> {
    model
        .layers
        .iter()
        .filter_map(|layer| match &layer.op {
            balerc_compiler::quant::model::LayerOp::Dense { linear, .. } => Some(linear.weight.codes.clone()),
            _ => None,
        })
        .flatten()
        .filter(|&w| w != 0)
        .collect()
}
