//! Models that carry their own quantization (QONNX from Brevitas, QCDQ, a hand-built QONNX
//! model): lowered with no precision given, the bit-exact simulator must equal the reference
//! outputs stored beside them exactly (see tests/fixtures/README.md, "Quantized models").

use balerc_compiler::fixed::FixedType;
use balerc_compiler::passes::Part;
use balerc_compiler::quant::model::LayerOp;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::Simulator;
use balerc_compiler::{lower, LowerOptions, Lowered};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};

const MODELS: [&str; 4] = ["qonnx_dense_ae", "qcdq_dense_ae", "qonnx_conv1d", "qonnx_handmade"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn npy(path: PathBuf) -> Vec<f64> {
    let bytes = std::fs::read(&path).unwrap();
    ArrayD::<f32>::read_npy(&bytes[..]).unwrap().iter().map(|&v| v as f64).collect()
}

fn ty(s: &str) -> FixedType {
    s.parse().unwrap()
}

fn lower_with(path: &Path, precision: PrecisionConfig) -> Lowered {
    lower(path, &LowerOptions { part: Part::Full, precision, calibration: None }).unwrap()
}

/// The simulator's outputs as values, for the fixture's stored input.
fn simulate(lowered: &Lowered, name: &str) -> Vec<f64> {
    let input = npy(fixture(&format!("{name}.input.npy")));
    let simulator = Simulator::new(&lowered.model);
    let codes = simulator.run(&simulator.quantize_input(&input).unwrap());
    lowered.model.output_values(&codes)
}

fn built_in() -> PrecisionConfig {
    PrecisionConfig::built_in(ty("ap_fixed<16,6>"))
}

#[test]
fn quantized_models_equal_their_references_exactly() {
    for name in MODELS {
        let lowered = lower_with(&fixture(&format!("{name}.onnx")), built_in());
        let got = simulate(&lowered, name);
        let expected = npy(fixture(&format!("{name}.ref.npy")));
        assert_eq!(got.len(), expected.len(), "{name}");
        let differing: Vec<usize> = (0..got.len()).filter(|&k| got[k] != expected[k]).collect();
        assert!(
            differing.is_empty(),
            "{name}: {} of {} outputs differ, first at {}: {} vs reference {}",
            differing.len(),
            got.len(),
            differing[0],
            got[differing[0]],
            expected[differing[0]]
        );
    }
}

#[test]
fn types_come_from_the_quantizers() {
    let lowered = lower_with(&fixture("qonnx_handmade.onnx"), built_in());
    let model = &lowered.model;
    // HALF_UP, narrow, 6 bits at 2^-4.
    assert_eq!(model.input().ty, ty("ap_fixed<6,2,AP_RND_INF,AP_SAT_SYM>"));
    let linear = |k: usize| model.layers[k].op.linear().unwrap().clone();
    // Per-channel scales 3 * 2^-7 and 5 * 2^-8 with 5-bit codes: exact, 8 fractional bits.
    let w1 = linear(0).weight.ty;
    assert_eq!((w1.frac_bits(), w1.signed), (8, true), "{w1}");
    assert_eq!(linear(0).bias.ty, ty("ap_fixed<16,6,AP_RND_CONV,AP_SAT>"));
    assert_eq!(model.values[model.layers[0].output].ty, ty("ap_ufixed<8,5,AP_RND_ZERO,AP_SAT>"));
    // Bipolar weights of +-2^-2.
    assert_eq!(linear(1).weight.ty, ty("ap_fixed<2,0>"));
    assert!(linear(1).weight.codes.iter().all(|&c| c == 1 || c == -1));
    // Trunc: 6 signed bits at 2^-2, rounded down.
    assert_eq!(model.output().ty, ty("ap_fixed<6,4,AP_TRN,AP_SAT>"));
}

#[test]
fn a_float_output_keeps_its_exact_sum_unless_a_precision_is_given() {
    let path = fixture("qonnx_dense_ae.onnx");
    let lowered = lower_with(&path, built_in());
    let last = lowered.model.layers.last().unwrap();
    let LayerOp::Dense { linear, .. } = &last.op else { panic!("{:?}", last.op) };
    assert_eq!(lowered.model.output().ty, linear.accumulator);

    // --precision applies only to what the model leaves float: here the last layer's result.
    let given = lower_with(&path, PrecisionConfig::uniform(ty("ap_fixed<12,4>")));
    assert_eq!(given.model.output().ty, ty("ap_fixed<12,4>"));
    assert_eq!(given.model.input().ty, lowered.model.input().ty);
    for (a, b) in lowered.model.layers.iter().zip(&given.model.layers) {
        let (a, b) = (a.op.linear().unwrap(), b.op.linear().unwrap());
        assert_eq!((a.weight.ty, a.bias.ty), (b.weight.ty, b.bias.ty));
        assert_eq!(a.weight.codes, b.weight.codes);
    }
}

/// A copy of the hand-built model with one initializer's scalar value replaced.
fn with_scalar(name: &str, initializer: &str, value: f32) -> tempfile::TempPath {
    use onnx_ir::{Message, ModelProto};
    let bytes = std::fs::read(fixture(name)).unwrap();
    let mut model = ModelProto::parse_from_bytes(&bytes).unwrap();
    let tensor = model.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == initializer).unwrap();
    tensor.raw_data = value.to_le_bytes().to_vec().into();
    tensor.float_data.clear();
    let file = tempfile::Builder::new().suffix(".onnx").tempfile().unwrap();
    std::fs::write(file.path(), model.write_to_bytes().unwrap()).unwrap();
    file.into_temp_path()
}

#[test]
fn an_activation_scale_that_is_no_power_of_two_is_refused_with_node_and_scale() {
    let path = with_scalar("qonnx_handmade.onnx", "a1_scale", 0.1);
    let options = LowerOptions { part: Part::Full, precision: built_in(), calibration: None };
    let err = lower(&path, &options).err().expect("refused").to_string();
    assert!(
        err.contains("Quant (domain qonnx.custom_op.general) at node 'quant_act1'")
            && err.contains("scale 0.10000000149011612 is not a power of two"),
        "{err}"
    );
}

/// A copy of a fixture with every value of one float initializer changed by `f`.
fn with_values(name: &str, initializer: &str, f: impl Fn(f32) -> f32) -> tempfile::TempPath {
    use onnx_ir::{Message, ModelProto};
    let bytes = std::fs::read(fixture(name)).unwrap();
    let mut model = ModelProto::parse_from_bytes(&bytes).unwrap();
    let tensor = model.graph.as_mut().unwrap().initializer.iter_mut().find(|t| t.name == initializer).unwrap();
    let values: Vec<f32> = if tensor.raw_data.is_empty() {
        tensor.float_data.clone()
    } else {
        tensor.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    tensor.raw_data = values.iter().flat_map(|&v| f(v).to_le_bytes()).collect::<Vec<u8>>().into();
    tensor.float_data.clear();
    let file = tempfile::Builder::new().suffix(".onnx").tempfile().unwrap();
    std::fs::write(file.path(), model.write_to_bytes().unwrap()).unwrap();
    file.into_temp_path()
}

/// On integer codes a bias must be integers at input scale x weight scale; one that is not is
/// refused with the layer, the bias, its scale and the expected one named.
#[test]
fn a_qdq_bias_at_another_scale_is_refused_with_layer_and_scale() {
    let path = with_values("qdq_static_dense.onnx", "2.bias_quantized_scale", |s| s * 3.0);
    let options = LowerOptions { part: Part::Full, precision: built_in(), calibration: None };
    let err = lower(&path, &options).err().expect("refused").to_string();
    assert!(
        err.contains("Gemm at node '/2/Gemm'")
            && err.contains("its bias '2.bias' has scale")
            && err.contains("not input scale x weight scale"),
        "{err}"
    );
}

/// A float32 scalar initializer of a fixture.
fn scalar_initializer(name: &str, initializer: &str) -> f64 {
    use onnx_ir::{Message, ModelProto};
    let model = ModelProto::parse_from_bytes(&std::fs::read(fixture(name)).unwrap()).unwrap();
    let tensor = model.graph.as_ref().unwrap().initializer.iter().find(|t| t.name == initializer).unwrap();
    match tensor.float_data[..] {
        [v] => v as f64,
        _ => f32::from_le_bytes(tensor.raw_data[..4].try_into().unwrap()) as f64,
    }
}

/// How many codes equal the reference's and the largest distance in steps. Each reference
/// value is (q - z) * step in float32, so its code is recovered exactly (checked).
fn agreement(got: &[i64], reference: &[f64], step: f64) -> (usize, i64) {
    assert_eq!(got.len(), reference.len());
    let expected: Vec<i64> = reference.iter().map(|&v| (v / step).round() as i64).collect();
    for (&v, &q) in reference.iter().zip(&expected) {
        assert_eq!(f64::from(q as f32 * step as f32), v, "{v} is no code times the scale {step}");
    }
    let equal = got.iter().zip(&expected).filter(|(a, b)| a == b).count();
    let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).max().unwrap_or(0);
    (equal, worst)
}

/// onnxruntime's static quantizer writes scales that are no powers of two; the layers compute
/// on integer codes and requantize with 31-bit fixed-point multipliers. The reference
/// (onnxruntime node by node, graph optimizations disabled) computes in float32, so a value
/// next to a rounding tie may round the other way: at least 99 % of the codes are equal and
/// none is more than one step away, for the hidden activation and for the output, on 4096
/// held-out jets.
#[test]
fn qdq_with_float_scales_agrees_with_onnxruntime_within_one_step() {
    let name = "qdq_static_dense";
    let onnx = format!("{name}.onnx");
    let lowered = lower_with(&fixture(&onnx), built_in());
    let model = &lowered.model;
    let simulator = Simulator::new(model);
    let values = simulator.run_chunk(&simulator.quantize_input(&npy(fixture(&format!("{name}.input.npy")))).unwrap());
    let hidden = model.layers.iter().find(|l| l.name == "/1/Relu_output_0_QuantizeLinear").expect("the requantizer");
    let checks = [
        ("hidden", &values[hidden.output], "hidden.npy", scalar_initializer(&onnx, "/1/Relu_output_0_scale")),
        ("output", &values[model.output], "ref.npy", model.scales.output.expect("the output travels as codes")),
    ];
    for (what, got, file, step) in checks {
        let reference = npy(fixture(&format!("{name}.{file}")));
        let (equal, worst) = agreement(got, &reference, step);
        let percent = 100.0 * equal as f64 / got.len() as f64;
        eprintln!(
            "{name} {what}: {equal} of {} codes ({percent:.2} %) equal onnxruntime's, at most {worst} step apart",
            got.len()
        );
        assert!(worst <= 1, "{name} {what}: a code is {worst} steps from onnxruntime's");
        assert!(percent >= 99.0, "{name} {what}: only {percent:.2} % equal");
    }
    // The floats the simulator reports are the reference's wherever the codes agree.
    let reference = npy(fixture(&format!("{name}.ref.npy")));
    let output = model.output_values(&values[model.output]);
    let (agreeing, _) = agreement(&values[model.output], &reference, model.scales.output.unwrap());
    assert_eq!(output.iter().zip(&reference).filter(|(a, b)| a == b).count(), agreeing);
}
