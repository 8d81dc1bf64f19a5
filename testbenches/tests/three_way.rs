//! One model, one set of vectors, three executions: the Rust simulator, the HLS C++
//! under g++, and the Verilog under Verilator must give the same codes.

use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::{lower, LowerOptions};
use balerc_testbench::cosim::{cosim, CosimOptions, Tool};
use balerc_testbench::rtl::verilator_available;
use balerc_testbench::{ap_types, gxx, require};
use std::path::Path;

#[test]
fn simulator_hls_and_rtl_agree_on_the_same_vectors() {
    let Some(()) = require(verilator_available()) else { return };
    let Some(_) = require(gxx::available().and_then(|()| ap_types::include_dir())) else { return };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/fixtures");
    let options = LowerOptions {
        part: Part::Full,
        precision: PrecisionConfig::uniform("ap_fixed<14,5,AP_RND_CONV,AP_SAT>".parse().unwrap()),
        calibration: None,
    };
    let lowered = lower(&fixtures.join("sigmoid_tanh_ts17.onnx"), &options).unwrap();
    let (rtl, hls) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let verilog = balerc_verilog::Options {
        top: "dut".into(),
        multipliers: balerc_verilog::Multipliers::ShiftAdd,
        dsp: Default::default(),
        clock_ns: 5.0,
        adder_levels_per_stage: Some(3),
        sharing_pairs: balerc_verilog::DEFAULT_SHARING_PAIRS,
        reuse: balerc_verilog::ReuseFactors::default(),
        io: Default::default(),
    };
    balerc_verilog::write_project(&lowered.model, &verilog, rtl.path()).unwrap();
    balerc_hls::write_project(
        &lowered.model,
        &balerc_hls::Options { top: "dut".into(), ..Default::default() },
        hls.path(),
    )
    .unwrap();
    for (dir, tool) in [(rtl.path(), Tool::Verilator), (hls.path(), Tool::Gxx)] {
        let outcome = cosim(dir, &CosimOptions { vectors: 400, tool, data: None, seed: 11 }).unwrap();
        assert_eq!(outcome.vectors, 400, "{tool:?}");
        assert_eq!(outcome.differing_codes, 0, "{tool:?}: {:?}", outcome.mismatches);
    }
}
