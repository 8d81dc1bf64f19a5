//! Streamed designs (`--io stream`) against the bit-exact simulator: exported convolutional
//! models and random convolution chains, under random and extreme back-pressure at both
//! ends. Every output beat must hold the simulator's codes, no beat may be lost or added,
//! and with nothing waiting the beats must leave exactly when the backend's timing model
//! says (the cycles report.json gives).

mod common;

use balerc_compiler::fixed::FixedType;
use balerc_compiler::ir::{Activation, Conv, ConvGeometry, Dense, Graph, Op, Tensor};
use balerc_compiler::passes::{run_pipeline, standard_pipeline, Part};
use balerc_compiler::quant::{quantize, PrecisionConfig, QuantizedModel};
use balerc_compiler::sim::Simulator;
use balerc_testbench::cosim::{load_stream_build, stream_layouts, BeatLayout};
use balerc_testbench::require;
use balerc_testbench::rtl::{
    iverilog_available, lint, run_stream_iverilog, verilator_available, Pressure, RtlDesign, StreamDesign,
    StreamVerilatorBench,
};
use balerc_testbench::vectors::input_vectors;
use balerc_verilog::{stream_output_cycles, write_project, Io, Multipliers, Options, ReuseFactors};
use proptest::prelude::*;
use std::path::Path;

/// A streamed design's options; `levels`: a register stage after every so many adder levels
/// inside a stage's arithmetic (None: none inside).
fn stream_options(multipliers: Multipliers, levels: Option<u32>) -> Options {
    Options {
        top: "dut".into(),
        multipliers,
        dsp: Default::default(),
        clock_ns: 5.0,
        adder_levels_per_stage: levels,
        sharing_pairs: balerc_verilog::DEFAULT_SHARING_PAIRS,
        reuse: ReuseFactors::default(),
        io: Io::Stream,
    }
}

/// Lowers a fixture (integer bits calibrated on its samples), writes the streamed build,
/// and returns the model with frames of codes: the fixture's samples, then random ones.
fn build_fixture(
    name: &str,
    precision: &str,
    options: &Options,
    dir: &Path,
    frames: usize,
) -> (QuantizedModel, Vec<Vec<i64>>) {
    let (model, data) = common::calibrated_uniform(name, precision);
    write_project(&model, options, dir).unwrap();
    let simulator = Simulator::new(&model);
    let codes = simulator.quantize_input(&data).unwrap();
    let real: Vec<Vec<i64>> = codes.chunks(simulator.input_len()).map(<[i64]>::to_vec).collect();
    let input = model.input();
    let frames = input_vectors(input.ty, input.len(), frames, &real, 11);
    (model, frames)
}

/// Input beats of the frames and the output beats the simulator expects.
fn beats(model: &QuantizedModel, dir: &Path, frames: &[Vec<i64>]) -> (Vec<Vec<i64>>, Vec<Vec<i64>>) {
    let (input, output): (BeatLayout, BeatLayout) = stream_layouts(dir).unwrap();
    let simulator = Simulator::new(model);
    let expected = simulator.run(&frames.concat());
    let n_out = simulator.output_len();
    let in_beats = frames.iter().flat_map(|f| input.beats(f)).collect();
    let out_beats = expected.chunks(n_out).flat_map(|f| output.beats(f)).collect();
    (in_beats, out_beats)
}

fn assert_beats_equal(what: &str, got: &[Vec<i64>], expected: &[Vec<i64>]) {
    assert_eq!(got.len(), expected.len(), "{what}: output beats");
    if let Some(b) = (0..got.len()).find(|&b| got[b] != expected[b]) {
        panic!("{what}: beat {b} is {:?}, the simulator says {:?}", got[b], expected[b]);
    }
}

/// `verilator --lint-only -Wall` on the core and on its AXI4-Stream wrapper.
fn lint_stream(design: &StreamDesign) {
    for top in [design.top.clone(), format!("{}_axis", design.top)] {
        lint_top(design, top);
    }
}

fn lint_top(design: &StreamDesign, top: String) {
    // The linter reads only the sources and the top's name.
    let rtl = RtlDesign {
        sources: design.sources.clone(),
        top,
        inputs: design.in_elements,
        input_width: design.input_width,
        input_signed: design.input_signed,
        outputs: design.out_elements,
        output_width: design.output_width,
        output_signed: design.output_signed,
        latency: 1,
        ii: 1,
    };
    lint(&rtl).unwrap_or_else(|warnings| panic!("{}: lint warnings\n{warnings}", rtl.top));
}

/// Patterns of willingness at the input and output: random, a slow consumer, a slow
/// producer, both slow.
const PRESSURES: [Pressure; 4] = [
    Pressure { offer_percent: 75, take_percent: 66, seed: 3 },
    Pressure { offer_percent: 100, take_percent: 7, seed: 5 },
    Pressure { offer_percent: 9, take_percent: 100, seed: 7 },
    Pressure { offer_percent: 40, take_percent: 35, seed: 9 },
];

#[test]
fn exported_conv_models_stream_bit_exact_in_verilator_on_time_and_lint_clean() {
    let Some(()) = require(verilator_available()) else { return };
    // Some with register stages inside the stages' adder trees, some without.
    let cases = [
        ("conv1d_ts13", "ap_fixed<16,6>", Some(2)),
        ("convtranspose1d_ts13", "ap_fixed<12,4,AP_RND,AP_SAT>", None),
        // An autoencoder: convolutions, a dense bottleneck, transposed convolutions.
        ("conv2d_ae_ts17", "ap_fixed<16,6>", Some(3)),
        ("conv3d_ae_ts17", "ap_fixed<14,5,AP_RND_CONV,AP_SAT>", Some(5)),
        ("cfd_encoder_ts17", "ap_fixed<16,6>", Some(5)),
        ("max_pool_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Some(1)),
        ("pool_upsample_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", None),
        ("const_arith_conv_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Some(2)),
        ("pad_transpose_dynamo18", "ap_fixed<12,4,AP_RND,AP_SAT>", Some(4)),
        ("prelu_channels_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>", Some(3)),
        // Upsampling to a size (Resize with sizes), as a transposed convolution of ones.
        ("resize_sizes_dynamo18", "ap_fixed<12,4,AP_RND,AP_SAT>", Some(3)),
        // No image at all: one beat per sample, each layer a stage.
        ("fpga_encoder_ts13", "ap_fixed<16,6>", Some(3)),
    ];
    for (name, precision, levels) in cases {
        let dir = tempfile::tempdir().unwrap();
        let options = stream_options(Multipliers::Auto, levels);
        let (model, frames) = build_fixture(name, precision, &options, dir.path(), 12);
        let (design, _) = load_stream_build(dir.path()).unwrap();
        lint_stream(&design);
        let bench = StreamVerilatorBench::build(&design, &dir.path().join("verilator")).unwrap();
        let (in_beats, expected) = beats(&model, dir.path(), &frames);
        for pressure in PRESSURES {
            let run = bench.run(&in_beats, expected.len(), pressure).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_beats_equal(&format!("{name} under {pressure:?}"), &run.beats, &expected);
        }
        // With nothing waiting, beats leave exactly when the timing model says.
        let three = &in_beats[..in_beats.len() / frames.len() * 3];
        let run = bench.run(three, expected.len() / frames.len() * 3, Pressure::NONE).unwrap();
        let expected_cycles = stream_output_cycles(&model, &options, 3).unwrap();
        assert_eq!(run.cycles, expected_cycles, "{name}: output cycles at full rate");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        let per_frame = report["stream"]["cycles_per_frame"].as_u64().unwrap() as usize;
        let beats_out = expected.len() / frames.len();
        assert_eq!(
            run.cycles[3 * beats_out - 1] - run.cycles[2 * beats_out - 1],
            per_frame,
            "{name}: cycles per frame"
        );
    }
}

#[test]
fn streams_match_in_icarus_under_back_pressure() {
    let Some(()) = require(iverilog_available()) else { return };
    for (name, precision) in [("conv2d_ae_ts17", "ap_fixed<16,6>"), ("max_pool_ts17", "ap_fixed<12,4,AP_RND,AP_SAT>")] {
        let dir = tempfile::tempdir().unwrap();
        let (model, frames) =
            build_fixture(name, precision, &stream_options(Multipliers::Auto, Some(2)), dir.path(), 4);
        let (design, _) = load_stream_build(dir.path()).unwrap();
        let (in_beats, expected) = beats(&model, dir.path(), &frames);
        for pressure in [PRESSURES[0], PRESSURES[3]] {
            let run = run_stream_iverilog(&design, &dir.path().join("icarus"), &in_beats, expected.len(), pressure)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_beats_equal(&format!("{name} under {pressure:?}"), &run.beats, &expected);
        }
    }
}

#[test]
fn a_parallel_only_request_is_refused_clearly() {
    let model = common::uncalibrated("conv1d_ts13", "ap_fixed<16,6>");
    let dir = tempfile::tempdir().unwrap();
    let options = Options { reuse: ReuseFactors::uniform(4), ..stream_options(Multipliers::Auto, None) };
    let error = write_project(&model, &options, dir.path()).unwrap_err().to_string();
    assert!(error.contains("streamed design") && error.contains("reuse factor"), "{error}");
}

#[test]
fn a_skip_connection_is_refused_for_streaming_naming_its_node() {
    let model = common::uncalibrated("residual_conv_ts17", "ap_fixed<16,6>");
    let dir = tempfile::tempdir().unwrap();
    let error = write_project(&model, &stream_options(Multipliers::Auto, None), dir.path()).unwrap_err().to_string();
    let add = model.layers.iter().find(|l| l.op.kind() == "add").unwrap();
    assert!(error.contains(&format!("'{}'", add.name)) && error.contains("--io parallel"), "{error}");
}

/// A random chain: a convolution (plain or transposed, 1-D or 2-D, random kernel, stride,
/// padding and dilation), an activation, perhaps a max pool, then a flatten and a dense
/// layer, or the image itself as the output.
#[derive(Debug, Clone)]
struct Chain {
    spatial: Vec<usize>,
    channels: (usize, usize),
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    transposed: bool,
    activation: Option<Activation>,
    pool: bool,
    dense: Option<usize>,
    weights: Vec<f64>,
}

fn chain() -> impl Strategy<Value = Chain> {
    let activation = prop_oneof![
        Just(None),
        Just(Some(Activation::Relu)),
        (0.05f64..0.3).prop_map(|alpha| Some(Activation::LeakyRelu { alpha })),
        Just(Some(Activation::Tanh)),
    ];
    (
        prop_oneof![(3usize..9).prop_map(|l| vec![l]), (3usize..7, 3usize..7).prop_map(|(h, w)| vec![h, w])],
        (1usize..4, 1usize..4),
        (1usize..4, 1usize..4, 0usize..3, 1usize..3),
        any::<bool>(),
        activation,
        any::<bool>(),
        prop::option::of(1usize..5),
        prop::collection::vec(-2.0f64..2.0, 64),
    )
        .prop_map(
            |(spatial, channels, (kernel, stride, pad, dilation), transposed, activation, pool, dense, weights)| {
                let reach = (kernel - 1) * dilation;
                Chain {
                    spatial,
                    channels,
                    kernel,
                    stride,
                    pad: pad.min(reach),
                    dilation,
                    transposed,
                    activation,
                    pool,
                    dense,
                    weights,
                }
            },
        )
}

fn chain_model(c: &Chain, ty: FixedType) -> Option<QuantizedModel> {
    let dims = c.spatial.len();
    let extent = (c.kernel - 1) * c.dilation + 1;
    // A plain convolution's window must fit the padded input.
    if !c.transposed && c.spatial.iter().any(|&n| n + 2 * c.pad < extent) {
        return None;
    }
    let mut g = Graph::new("chain");
    let mut shape = vec![c.channels.0];
    shape.extend(&c.spatial);
    let mut last = g.add("x", Op::Input { shape });
    let mut w = c.weights.iter().copied().cycle();
    let kernel_taps = c.kernel.pow(dims as u32);
    let weight_shape = |a: usize, b: usize| {
        let mut s = vec![a, b];
        s.extend(std::iter::repeat_n(c.kernel, dims));
        s
    };
    let (c_in, c_out) = c.channels;
    let weight = if c.transposed { weight_shape(c_in, c_out) } else { weight_shape(c_out, c_in) };
    let conv = Conv {
        transposed: c.transposed,
        weight: Tensor::new(weight, (&mut w).take(c_in * c_out * kernel_taps).collect()),
        bias: (&mut w).take(c_out).collect(),
        geometry: ConvGeometry {
            kernel: vec![c.kernel; dims],
            stride: vec![c.stride; dims],
            dilation: vec![c.dilation; dims],
            padding: vec![(c.pad, c.pad); dims],
            output_padding: vec![0; dims],
        },
        activation: None,
    };
    let id = g.add("conv", Op::Conv(conv));
    g.connect(last, id, 0);
    last = id;
    if let Some(a) = c.activation {
        let id = g.add("act", Op::Activation(a));
        g.connect(last, id, 0);
        last = id;
    }
    if c.pool {
        let pool = ConvGeometry {
            kernel: vec![2; dims],
            stride: vec![1; dims],
            dilation: vec![1; dims],
            padding: vec![(0, 1); dims],
            output_padding: vec![0; dims],
        };
        let id = g.add("pool", Op::MaxPool(pool));
        g.connect(last, id, 0);
        last = id;
    }
    if let Some(n) = c.dense {
        let flat = g.add("flatten", Op::Flatten { axis: 1 });
        g.connect(last, flat, 0);
        // The pool keeps the size: kernel 2, stride 1, one padding at the end.
        let sizes = c.spatial.iter().map(|&n| {
            if c.transposed {
                (n - 1) * c.stride + extent - 2 * c.pad
            } else {
                (n + 2 * c.pad - extent) / c.stride + 1
            }
        });
        let inputs = c_out * sizes.product::<usize>();
        let dense = Dense {
            weight: Tensor::new(vec![n, inputs], (&mut w).take(n * inputs).collect()),
            bias: (&mut w).take(n).collect(),
            activation: None,
        };
        let id = g.add("dense", Op::Dense(dense));
        g.connect(flat, id, 0);
        last = id;
    }
    let out = g.add("y", Op::Output);
    g.connect(last, out, 0);
    run_pipeline(&mut g, &standard_pipeline(Part::Full)).ok()?;
    let mut config = PrecisionConfig::uniform(ty);
    config.table_size = 64;
    quantize(&g, &config).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_conv_chains_stream_bit_exact_in_icarus(
        c in chain(),
        width in 8u32..14,
        levels in prop::option::of(1u32..4),
        pressure in (20u32..101, 20u32..101, 0u64..1000),
    ) {
        let Some(()) = require(iverilog_available()) else { return Ok(()) };
        let ty = FixedType::new(width, 4, true).unwrap();
        let Some(model) = chain_model(&c, ty) else { return Ok(()) };
        let dir = tempfile::tempdir().unwrap();
        write_project(&model, &stream_options(Multipliers::ShiftAdd, levels), dir.path()).unwrap();
        let input = model.input();
        let frames = input_vectors(input.ty, input.len(), 5, &[], pressure.2);
        let (design, _) = load_stream_build(dir.path()).unwrap();
        let (in_beats, expected) = beats(&model, dir.path(), &frames);
        let pressure = Pressure { offer_percent: pressure.0, take_percent: pressure.1, seed: pressure.2 };
        let run = run_stream_iverilog(&design, &dir.path().join("icarus"), &in_beats, expected.len(), pressure)
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        assert_beats_equal(&format!("{c:?} {ty} {levels:?} {pressure:?}"), &run.beats, &expected);
    }
}
