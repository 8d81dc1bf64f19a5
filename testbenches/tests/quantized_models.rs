//! Models that carry their own quantization (QONNX and QCDQ from Brevitas, a hand-built
//! QONNX model, QDQ from onnxruntime's static quantizer), lowered with no precision given, through both backends: Verilator and g++
//! must equal the bit-exact simulator on every output code (which the compiler's tests hold
//! equal to the models' own references).

mod common;

use balerc_compiler::passes::Part;
use balerc_compiler::quant::{PrecisionConfig, QuantizedModel};
use balerc_compiler::sim::Simulator;
use balerc_compiler::{lower, LowerOptions};
use balerc_testbench::cosim::{cosim, CosimOptions, Tool};
use balerc_testbench::hls::csim;
use balerc_testbench::rtl::verilator_available;
use balerc_testbench::vectors::input_vectors;
use balerc_testbench::{ap_types, gxx, require};

/// `qdq_static_dense` (onnxruntime's static quantizer, float scales) computes on integer codes
/// and requantizes with fixed-point multipliers.
const MODELS: [&str; 5] = ["qonnx_dense_ae", "qcdq_dense_ae", "qonnx_conv1d", "qonnx_handmade", "qdq_static_dense"];

/// The model's own types; the built-in default only for what it leaves float.
fn lowered(name: &str) -> QuantizedModel {
    let options = LowerOptions {
        part: Part::Full,
        precision: PrecisionConfig::built_in("ap_fixed<16,6>".parse().unwrap()),
        calibration: None,
    };
    lower(&common::fixture(&format!("{name}.onnx")), &options).unwrap_or_else(|e| panic!("{name}: {e}")).model
}

#[test]
fn quantized_models_match_in_verilator() {
    let Some(()) = require(verilator_available()) else { return };
    for name in MODELS {
        let dir = tempfile::tempdir().unwrap();
        let options = balerc_verilog::Options {
            top: "dut".into(),
            multipliers: balerc_verilog::Multipliers::ShiftAdd,
            dsp: Default::default(),
            clock_ns: 5.0,
            adder_levels_per_stage: Some(3),
            sharing_pairs: balerc_verilog::DEFAULT_SHARING_PAIRS,
            reuse: balerc_verilog::ReuseFactors::default(),
            io: Default::default(),
        };
        balerc_verilog::write_project(&lowered(name), &options, dir.path()).unwrap();
        let outcome = cosim(
            dir.path(),
            &CosimOptions { vectors: 300, tool: Tool::Verilator, data: Some(common::samples(name)), seed: 7 },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            outcome.mismatches.is_empty(),
            "{name}: {} mismatches, first {:?}",
            outcome.mismatches.len(),
            &outcome.mismatches[..1]
        );
        assert!(outcome.vectors >= 300, "{name}");
    }
}

#[test]
fn quantized_models_match_in_gxx() {
    let Some(()) = require(gxx::available()) else { return };
    let Some(include) = require(ap_types::include_dir()) else { return };
    for name in MODELS {
        let model = lowered(name);
        let dir = tempfile::tempdir().unwrap();
        let options = balerc_hls::Options { top: "dut".into(), ..balerc_hls::Options::default() };
        balerc_hls::write_project(&model, &options, dir.path()).unwrap();
        let simulator = Simulator::new(&model);
        let n = model.input().len();
        let real: Vec<Vec<i64>> =
            simulator.quantize_input(&common::samples(name)).unwrap().chunks(n).map(<[i64]>::to_vec).collect();
        let vectors = input_vectors(model.input().ty, n, 300, &real, 11);
        balerc_hls::write_test_data(&model, &vectors, dir.path()).unwrap();
        let outcome = csim(dir.path(), &include).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(outcome.mismatch_count == 0, "{name}: {} mismatching codes", outcome.mismatch_count);
        assert_eq!(outcome.vectors, vectors.len(), "{name}");
    }
}
