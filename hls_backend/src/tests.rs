//! Generation checks that need no compiler; tests/hls_csim.rs in the testbenches crate
//! compiles the output with g++ and compares it with the simulator.

use super::*;
use balerc_compiler::fixed::FixedType;
use balerc_compiler::ir::Taps;
use balerc_compiler::quant::model::{Codes, FusedActivation, Layer, LayerOp, Linear, TableFunction, Value};

fn ty(s: &str) -> FixedType {
    s.parse().unwrap()
}

/// x[2] -> dense+leaky relu -> conv (2 taps per output) -> sigmoid table.
fn model() -> QuantizedModel {
    let value = |name: &str, n: usize, t: &str| Value { name: name.into(), shape: vec![n], ty: ty(t) };
    QuantizedModel {
        name: "tiny".into(),
        values: vec![
            value("x", 2, "ap_fixed<8,3,AP_RND_CONV,AP_SAT>"),
            value("d", 3, "ap_fixed<10,4>"),
            value("c", 2, "ap_fixed<10,4>"),
            value("y", 2, "ap_ufixed<8,0,AP_RND,AP_SAT>"),
        ],
        layers: vec![
            Layer {
                name: "/enc/Gemm".into(),
                op: LayerOp::Dense {
                    linear: Linear {
                        weight: Codes { ty: ty("ap_fixed<6,1>"), codes: vec![1, -2, 3, -4, 5, i64::from(-32)] },
                        bias: Codes { ty: ty("ap_fixed<6,2>"), codes: vec![7, -8, 0] },
                        accumulator: ty("ap_fixed<16,5>"),
                        exact: true,
                        activation: FusedActivation::LeakyRelu { alpha: 1311, ty: ty("ap_fixed<18,1>") },
                    },
                    inputs: 2,
                },
                inputs: vec![0],
                output: 1,
            },
            Layer {
                name: "/enc/Conv".into(),
                op: LayerOp::Conv {
                    linear: Linear {
                        weight: Codes { ty: ty("ap_fixed<6,1>"), codes: vec![3, -3] },
                        bias: Codes { ty: ty("ap_fixed<6,2>"), codes: vec![1] },
                        accumulator: ty("ap_fixed<20,7>"),
                        exact: true,
                        activation: FusedActivation::None,
                    },
                    taps: Taps { starts: vec![0, 2, 3], entries: vec![(0, 0), (1, 1), (2, 0)], per_channel: 2 },
                    transposed: false,
                    geometry: None,
                },
                inputs: vec![1],
                output: 2,
            },
            Layer {
                name: "/dec/Sigmoid".into(),
                op: LayerOp::Table {
                    function: TableFunction::Sigmoid,
                    entries: vec![0, 10, 128, 250],
                    range_log2: 3,
                    index_shift: -7,
                    linear: None,
                },
                inputs: vec![2],
                output: 3,
            },
        ],
        input: 0,
        output: 3,
        source: None,
        scales: Default::default(),
    }
}

fn file<'p>(project: &'p Project, path: &str) -> &'p str {
    &project.files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("no {path}")).1
}

#[test]
fn types_are_spelled_as_fixed_type_prints_them() {
    let project = generate(&model(), &Options { top: "tiny".into(), ..Options::default() }).unwrap();
    let defines = file(&project, "firmware/defines.h");
    for line in [
        "typedef ap_fixed<8,3,AP_RND_CONV,AP_SAT> input_t;",
        "typedef ap_ufixed<8,0,AP_RND,AP_SAT> result_t;",
        "typedef ap_fixed<10,4> layer0_t;",
        "typedef ap_fixed<6,1> layer0_weight_t;",
        "typedef ap_fixed<16,5> layer0_accum_t;",
        "typedef ap_fixed<18,1> layer0_alpha_t;",
        "#define N_IN 2",
        "#define N_OUT 2",
    ] {
        assert!(defines.contains(line), "{line} missing from\n{defines}");
    }
}

#[test]
fn constants_are_integer_codes_and_taps_are_padded_tables() {
    let project = generate(&model(), &Options { top: "tiny".into(), ..Options::default() }).unwrap();
    let parameters = file(&project, "firmware/parameters.h");
    let decimal = parameters.as_bytes().windows(2).any(|w| w[0] == b'.' && w[1].is_ascii_digit());
    assert!(!decimal, "a decimal literal in\n{parameters}");
    assert!(
        parameters.contains("static const long long layer0_w[6] = {\n    1, -2, 3, -4, 5, -32,\n};"),
        "{parameters}"
    );
    assert!(parameters.contains("static const int layer1_n_taps[2] = {\n    2, 1,\n};"), "{parameters}");
    assert!(parameters.contains("static const int layer1_tap_in[2][2] = {\n    0, 1, 2, 0,\n};"), "{parameters}");
    assert!(
        parameters.contains("static const long long layer2_table[4] = {\n    0, 10, 128, 250,\n};"),
        "{parameters}"
    );
    let top = file(&project, "firmware/tiny.cpp");
    assert!(top.contains("void tiny(input_t x[N_IN], result_t y[N_OUT]) {\n#pragma HLS PIPELINE II=1"), "{top}");
    assert!(top.contains("#pragma HLS ARRAY_PARTITION variable=layer0_out complete"), "{top}");
    assert!(top.contains("balerc::act_leaky_relu<layer0_alpha_t, 1311LL>"), "{top}");
    assert!(top.contains("balerc::table<layer1_t, result_t, 2, 4, -7>(layer1_out, y, layer2_table);"), "{top}");
    assert!(file(&project, "firmware/tiny.h").contains("void tiny(input_t x[N_IN], result_t y[N_OUT]);"));
}

#[test]
fn the_tcl_script_targets_the_part_and_clock() {
    let options = Options {
        top: "tiny".into(),
        part: "xc7z020clg400-1".into(),
        clock_ns: 3.3,
        reuse_factor: 1,
        io: Default::default(),
    };
    let tcl = generate(&model(), &options).unwrap().files.into_iter().find(|(p, _)| p == "build_prj.tcl").unwrap().1;
    for line in [
        "set_top tiny",
        "set_part {xc7z020clg400-1}",
        "create_clock -period 3.3",
        "add_files -tb tiny_test.cpp",
        "csim_design",
        "cosim_design",
        "export_design -format ip_catalog",
    ] {
        assert!(tcl.contains(line), "{line} missing from\n{tcl}");
    }
}

#[test]
fn the_build_directory_holds_reports_and_test_data() {
    let dir = tempfile::tempdir().unwrap();
    let model = model();
    let report = write_project(&model, &Options { top: "tiny".into(), ..Options::default() }, dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["top"], "tiny");
    assert_eq!(json["target"], "hls");
    assert_eq!(json["input"]["count"], 2);
    assert_eq!(json["input"]["type"], "ap_fixed<8,3,AP_RND_CONV,AP_SAT>");
    assert_eq!(json["output"]["type"], "ap_ufixed<8,0,AP_RND,AP_SAT>");
    assert_eq!(json["ii"], 1);
    assert_eq!(json["latency_cycles"], 6);
    assert_eq!(report.resources.multiplications, 9);
    let back: QuantizedModel =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("quantized.json")).unwrap()).unwrap();
    assert_eq!(back, model);
    let inputs = std::fs::read_to_string(dir.path().join("tb_data/inputs.txt")).unwrap();
    let expected = std::fs::read_to_string(dir.path().join("tb_data/expected.txt")).unwrap();
    assert_eq!(inputs.lines().count(), 64);
    assert_eq!(expected.lines().count(), 64);
    assert_eq!(inputs.lines().next().unwrap(), "-128 -128");
    for f in [
        "firmware/tiny.cpp",
        "firmware/tiny.h",
        "firmware/balerc_layers.h",
        "tiny_test.cpp",
        "build_prj.tcl",
        "README.md",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    write_test_data(&model, &[vec![1, 2]], dir.path()).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("tb_data/inputs.txt")).unwrap(), "1 2\n");
    assert!(write_test_data(&model, &[vec![1]], dir.path()).is_err());
}

#[test]
fn a_top_name_must_be_a_c_identifier() {
    let err = generate(&model(), &Options { top: "my-top".into(), ..Options::default() }).err().unwrap();
    assert!(err.to_string().contains("'my-top' is not a C identifier"), "{err}");
}

#[test]
fn reuse_factors_divide_every_layer_and_illegal_ones_are_listed() {
    let model = fpga_encoder();
    // 320, 200 and 80 multiplications: the common divisors of 40.
    assert_eq!(crate::legal_reuse_factors(&model), vec![1, 2, 4, 5, 8, 10, 20, 40]);
    let project = crate::generate(&model, &crate::Options { reuse_factor: 4, ..Default::default() }).unwrap();
    let top = &project.files.iter().find(|(name, _)| name == "firmware/balerc_top.cpp").unwrap().1;
    assert!(
        top.contains("#pragma HLS PIPELINE II=4\n#pragma HLS ALLOCATION operation instances=mul limit=150"),
        "{top}"
    );
    let err =
        crate::generate(&model, &crate::Options { reuse_factor: 3, ..Default::default() }).err().unwrap().to_string();
    assert!(err.contains("reuse factor 3") && err.contains("legal values: 1, 2, 4, 5, 8, 10, 20, 40"), "{err}");
}

/// Every generated text file of the small model, as reviewed snapshots: a change to a
/// template or a view shows up here as a diff to accept or reject.
#[test]
fn the_templates_render_the_expected_files() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { top: "tiny".into(), ..Options::default() };
    write_project(&model(), &options, dir.path()).unwrap();
    for path in [
        "firmware/defines.h",
        "firmware/parameters.h",
        "firmware/tiny.h",
        "firmware/tiny.cpp",
        "tiny_test.cpp",
        "build_prj.tcl",
        "README.md",
        "report.json",
    ] {
        let text = std::fs::read_to_string(dir.path().join(path)).unwrap();
        insta::assert_snapshot!(path.replace(['/', '.'], "_"), text);
    }
}

#[test]
fn a_model_without_layers_copies_its_input() {
    let mut model = model();
    model.layers.clear();
    model.output = model.input;
    let project = generate(&model, &Options { top: "tiny".into(), ..Options::default() }).unwrap();
    insta::assert_snapshot!(file(&project, "firmware/tiny.cpp"));
    assert!(file(&project, "firmware/defines.h").contains("typedef input_t result_t;"));
}

#[test]
fn a_shared_design_says_its_interval_in_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { top: "tiny".into(), reuse_factor: 3, ..Options::default() };
    let report = write_project(&model(), &options, dir.path()).unwrap();
    assert_eq!(report.ii, 3);
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("one sample every 3 clocks (II=3)"), "{readme}");
}

/// The tiny model at 5 ns (5 adder levels a clock): dense over 2 inputs and a bias (2
/// levels, one stage) after its product stage, plus the leaky ReLU's product: 3; conv with
/// at most 2 taps and a bias: 2; the table: 1.
#[test]
fn the_latency_estimate_adds_product_adder_and_activation_stages() {
    let options = Options::default();
    assert_eq!(crate::latency::adder_levels_per_clock(5.0), 5);
    assert_eq!(layer_cycles(&model(), &options).unwrap(), vec![3, 2, 1]);
    // Reuse 3 shares 3 multipliers: the dense's 6 products take 2 stages, the conv's 3 one.
    let shared = Options { reuse_factor: 3, ..Options::default() };
    assert_eq!(layer_cycles(&model(), &shared).unwrap(), vec![4, 2, 1]);
}

fn fpga_encoder() -> QuantizedModel {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/fixtures/fpga_encoder_ts13.onnx");
    let options = balerc_compiler::LowerOptions {
        part: balerc_compiler::passes::Part::Full,
        precision: balerc_compiler::quant::PrecisionConfig::uniform("ap_fixed<16,6>".parse().unwrap()),
        calibration: None,
    };
    balerc_compiler::lower(&path, &options).unwrap().model
}

/// The FPGA encoder, dense 16 -> 20 -> 10 -> 8 (320, 200 and 80 products). Its widest dot
/// products have 17, 21 and 11 terms with the bias: 5, 5 and 4 adder levels.
#[test]
fn the_latency_estimate_of_the_fpga_encoder() {
    let model = fpga_encoder();
    // 5 ns: every tree fits one clock, after one product stage.
    assert_eq!(layer_cycles(&model, &Options::default()).unwrap(), vec![2, 2, 2]);
    // 2.5 ns: one adder level a clock.
    let fast = Options { clock_ns: 2.5, ..Options::default() };
    assert_eq!(layer_cycles(&model, &fast).unwrap(), vec![6, 6, 5]);
    // Reuse 4: 150 shared multipliers, so 3, 2 and 1 product stages.
    let shared = Options { reuse_factor: 4, ..Options::default() };
    assert_eq!(layer_cycles(&model, &shared).unwrap(), vec![4, 3, 2]);
    let dir = tempfile::tempdir().unwrap();
    let report = write_project(&model, &shared, dir.path()).unwrap();
    assert_eq!((report.latency_cycles, report.ii), (9, 4));
}
