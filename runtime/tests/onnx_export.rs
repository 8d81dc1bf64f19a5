//! Exported networks through balerc's own compiler: its float path must compute what a
//! plain reference forward pass computes, and its quantized lowering must accept them.

use balerc_compiler::passes::Part;
use balerc_compiler::quant::{LayerPrecision, PrecisionConfig};
use balerc_compiler::sim::FloatProgram;
use balerc_compiler::{load_and_optimize, lower, LowerOptions};
use balerc_runtime::onnx_export::{self, ExportLayer, ExportNetwork};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------

/// Deterministic values in [-1, 1), so that a failure reproduces.
struct Values(u64);

impl Values {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn take(&mut self, count: usize) -> Vec<f32> {
        (0..count).map(|_| self.next()).collect()
    }
}

fn dense(values: &mut Values, inputs: usize, outputs: usize) -> ExportLayer {
    ExportLayer::Dense { inputs, outputs, weight: values.take(inputs * outputs), bias: values.take(outputs) }
}

fn conv(values: &mut Values, weight_shape: &[usize], stride: &[usize], padding: &[usize]) -> ExportLayer {
    ExportLayer::Conv {
        weight: values.take(weight_shape.iter().product()),
        weight_shape: weight_shape.to_vec(),
        bias: values.take(weight_shape[0]),
        stride: stride.to_vec(),
        padding: padding.to_vec(),
    }
}

fn conv_transpose(
    values: &mut Values,
    weight_shape: &[usize],
    stride: &[usize],
    padding: &[usize],
    output_padding: &[usize],
) -> ExportLayer {
    ExportLayer::ConvTranspose {
        weight: values.take(weight_shape.iter().product()),
        weight_shape: weight_shape.to_vec(),
        bias: values.take(weight_shape[1]),
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        output_padding: output_padding.to_vec(),
    }
}

fn batch_norm(values: &mut Values, channels: usize) -> ExportLayer {
    ExportLayer::BatchNorm {
        gamma: values.take(channels),
        beta: values.take(channels),
        mean: values.take(channels),
        variance: values.take(channels).iter().map(|v| v.abs() + 0.5).collect(),
        epsilon: 1e-5,
    }
}

/// 6 → 5 → 3 → 5 → 6, the bottleneck of 3 after a batch norm.
fn dense_autoencoder() -> ExportNetwork {
    let v = &mut Values(1);
    ExportNetwork {
        name: "dense_ae".into(),
        input_shape: vec![6],
        layers: vec![
            dense(v, 6, 5),
            ExportLayer::LeakyRelu { alpha: 0.01 },
            dense(v, 5, 3),
            batch_norm(v, 3),
            ExportLayer::Relu,
            dense(v, 3, 5),
            ExportLayer::Tanh,
            dense(v, 5, 6),
            ExportLayer::Sigmoid,
        ],
    }
}

/// 1×8×8 → 2×4×4 → 4 → 2×4×4 → 1×8×8.
fn conv2d_autoencoder() -> ExportNetwork {
    let v = &mut Values(2);
    ExportNetwork {
        name: "conv2d_ae".into(),
        input_shape: vec![1, 8, 8],
        layers: vec![
            conv(v, &[2, 1, 3, 3], &[2, 2], &[1, 1]),
            batch_norm(v, 2),
            ExportLayer::Relu,
            ExportLayer::Flatten,
            dense(v, 32, 4),
            ExportLayer::LeakyRelu { alpha: 0.1 },
            dense(v, 4, 32),
            ExportLayer::Unflatten { shape: vec![2, 4, 4] },
            conv_transpose(v, &[2, 1, 3, 3], &[2, 2], &[1, 1], &[1, 1]),
            ExportLayer::Sigmoid,
        ],
    }
}

/// 1×4×6×6 → 2×4×3×3 → 5 → 2×4×3×3 → 1×4×6×6: stacks of frames, strided in height and width.
fn conv3d_autoencoder() -> ExportNetwork {
    let v = &mut Values(5);
    ExportNetwork {
        name: "conv3d_ae".into(),
        input_shape: vec![1, 4, 6, 6],
        layers: vec![
            conv(v, &[2, 1, 3, 3, 3], &[1, 2, 2], &[1, 1, 1]),
            ExportLayer::Relu,
            ExportLayer::Flatten,
            dense(v, 72, 5),
            dense(v, 5, 72),
            ExportLayer::Tanh,
            ExportLayer::Unflatten { shape: vec![2, 4, 3, 3] },
            conv_transpose(v, &[2, 1, 3, 3, 3], &[1, 2, 2], &[1, 1, 1], &[0, 1, 1]),
        ],
    }
}

/// 2×10 → 3×10 → 2×4 → 1×9 → 2.
fn conv1d_network() -> ExportNetwork {
    let v = &mut Values(3);
    ExportNetwork {
        name: "conv1d".into(),
        input_shape: vec![2, 10],
        layers: vec![
            conv(v, &[3, 2, 3], &[1], &[1]),
            ExportLayer::Tanh,
            conv(v, &[2, 3, 4], &[2], &[0]),
            batch_norm(v, 2),
            conv_transpose(v, &[2, 1, 3], &[2], &[0], &[0]),
            ExportLayer::Flatten,
            dense(v, 9, 2),
        ],
    }
}

fn sigmoid_tanh_network() -> ExportNetwork {
    let v = &mut Values(4);
    ExportNetwork {
        name: "sigmoid_tanh".into(),
        input_shape: vec![4],
        layers: vec![ExportLayer::Tanh, dense(v, 4, 4), ExportLayer::Sigmoid, dense(v, 4, 3), ExportLayer::Tanh],
    }
}

// ---------------------------------------------------------------------------------------
// The reference forward pass: the definitions of the operators, in f64
// ---------------------------------------------------------------------------------------

/// One sample's values and shape (without batch) between two layers.
struct Activations {
    shape: Vec<usize>,
    values: Vec<f64>,
}

fn reference(network: &ExportNetwork, sample: &[f64]) -> Vec<f64> {
    let input = Activations { shape: network.input_shape.clone(), values: sample.to_vec() };
    network.layers.iter().fold(input, apply).values
}

fn apply(x: Activations, layer: &ExportLayer) -> Activations {
    let elementwise = |f: &dyn Fn(f64) -> f64| Activations {
        shape: x.shape.clone(),
        values: x.values.iter().map(|&v| f(v)).collect(),
    };
    match layer {
        ExportLayer::Dense { inputs, outputs, weight, bias } => {
            let row = |o: usize| (0..*inputs).map(|i| weight[o * inputs + i] as f64 * x.values[i]).sum::<f64>();
            Activations { shape: vec![*outputs], values: (0..*outputs).map(|o| bias[o] as f64 + row(o)).collect() }
        }
        ExportLayer::Conv { weight, weight_shape, bias, stride, padding } => {
            convolve(&x, weight, weight_shape, bias, stride, padding)
        }
        ExportLayer::ConvTranspose { weight, weight_shape, bias, stride, padding, output_padding } => {
            convolve_transposed(&x, weight, weight_shape, bias, stride, padding, output_padding)
        }
        ExportLayer::BatchNorm { gamma, beta, mean, variance, epsilon } => {
            let per_channel = x.values.len() / x.shape[0];
            let normalize = |k: usize, v: f64| {
                let c = k / per_channel;
                let scale = gamma[c] as f64 / (variance[c] as f64 + *epsilon as f64).sqrt();
                (v - mean[c] as f64) * scale + beta[c] as f64
            };
            Activations {
                shape: x.shape.clone(),
                values: x.values.iter().enumerate().map(|(k, &v)| normalize(k, v)).collect(),
            }
        }
        ExportLayer::Relu => elementwise(&|v| v.max(0.0)),
        ExportLayer::LeakyRelu { alpha } => elementwise(&|v| if v < 0.0 { *alpha as f64 * v } else { v }),
        ExportLayer::Sigmoid => elementwise(&|v| 1.0 / (1.0 + (-v).exp())),
        ExportLayer::Tanh => elementwise(&f64::tanh),
        ExportLayer::Flatten => Activations { shape: vec![x.values.len()], values: x.values },
        ExportLayer::Unflatten { shape } => Activations { shape: shape.clone(), values: x.values },
    }
}

/// Every multi-index inside `extents`, in row-major order.
fn positions(extents: &[usize]) -> Vec<Vec<usize>> {
    extents.iter().fold(vec![vec![]], |prefixes, &extent| {
        prefixes.iter().flat_map(|prefix| (0..extent).map(move |i| [prefix.clone(), vec![i]].concat())).collect()
    })
}

/// The row-major offset of a multi-index.
fn offset(index: &[usize], extents: &[usize]) -> usize {
    index.iter().zip(extents).fold(0, |acc, (i, e)| acc * e + i)
}

/// Gathers: out[o, p] = b[o] + Σ w[o, i, k] · x[i, p·s + k − pad].
fn convolve(
    x: &Activations,
    weight: &[f32],
    weight_shape: &[usize],
    bias: &[f32],
    stride: &[usize],
    padding: &[usize],
) -> Activations {
    let (out_channels, in_channels, kernel) = (weight_shape[0], weight_shape[1], &weight_shape[2..]);
    let input = &x.shape[1..];
    let output: Vec<usize> =
        (0..kernel.len()).map(|a| (input[a] + 2 * padding[a] - kernel[a]) / stride[a] + 1).collect();
    let (input_size, output_size) = (input.iter().product::<usize>(), output.iter().product::<usize>());
    let mut values = vec![0.0; out_channels * output_size];
    for o in 0..out_channels {
        for at in positions(&output) {
            let mut sum = bias[o] as f64;
            for i in 0..in_channels {
                for k in positions(kernel) {
                    let source: Option<Vec<usize>> = (0..k.len())
                        .map(|a| (at[a] * stride[a] + k[a]).checked_sub(padding[a]).filter(|&s| s < input[a]))
                        .collect();
                    if let Some(source) = source {
                        let w = weight[offset(&[&[o, i][..], &k].concat(), weight_shape)] as f64;
                        sum += w * x.values[i * input_size + offset(&source, input)];
                    }
                }
            }
            values[o * output_size + offset(&at, &output)] = sum;
        }
    }
    Activations { shape: [vec![out_channels], output].concat(), values }
}

/// Scatters: every x[i, p] adds w[i, o, k] · x[i, p] to out[o, p·s + k − pad].
fn convolve_transposed(
    x: &Activations,
    weight: &[f32],
    weight_shape: &[usize],
    bias: &[f32],
    stride: &[usize],
    padding: &[usize],
    output_padding: &[usize],
) -> Activations {
    let (in_channels, out_channels, kernel) = (weight_shape[0], weight_shape[1], &weight_shape[2..]);
    let input = &x.shape[1..];
    let output: Vec<usize> = (0..kernel.len())
        .map(|a| (input[a] - 1) * stride[a] + kernel[a] + output_padding[a] - 2 * padding[a])
        .collect();
    let (input_size, output_size) = (input.iter().product::<usize>(), output.iter().product::<usize>());
    let mut values: Vec<f64> = (0..out_channels * output_size).map(|j| bias[j / output_size] as f64).collect();
    for i in 0..in_channels {
        for at in positions(input) {
            let x_value = x.values[i * input_size + offset(&at, input)];
            for o in 0..out_channels {
                for k in positions(kernel) {
                    let target: Option<Vec<usize>> = (0..k.len())
                        .map(|a| (at[a] * stride[a] + k[a]).checked_sub(padding[a]).filter(|&t| t < output[a]))
                        .collect();
                    if let Some(target) = target {
                        let w = weight[offset(&[&[i, o][..], &k].concat(), weight_shape)] as f64;
                        values[o * output_size + offset(&target, &output)] += w * x_value;
                    }
                }
            }
        }
    }
    Activations { shape: [vec![out_channels], output].concat(), values }
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

fn export(network: &ExportNetwork, dir: &Path) -> PathBuf {
    let path = dir.join(format!("{}.onnx", network.name));
    onnx_export::write(network, &path).unwrap();
    path
}

/// `count` samples one after another, inputs in [-2, 2).
fn samples(network: &ExportNetwork, count: usize) -> Vec<f64> {
    let per_sample: usize = network.input_shape.iter().product();
    Values(99).take(count * per_sample).iter().map(|&v| 2.0 * v as f64).collect()
}

fn reference_batch(network: &ExportNetwork, batch: &[f64]) -> Vec<f64> {
    let per_sample: usize = network.input_shape.iter().product();
    batch.chunks(per_sample).flat_map(|sample| reference(network, sample)).collect()
}

fn assert_close(got: &[f64], expected: &[f64], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: output length");
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!((g - e).abs() <= 1e-5, "{what}[{k}]: compiler {g} vs reference {e}");
    }
}

fn assert_float_path_matches_reference(network: &ExportNetwork) {
    let dir = tempfile::tempdir().unwrap();
    let graph = load_and_optimize(&export(network, dir.path()), Part::Full).unwrap();
    let output_shape = onnx_export::output_shape(network).unwrap();
    assert_eq!(graph.node(graph.outputs()[0]).shape, output_shape, "{}: output shape", network.name);
    let batch = samples(network, 3);
    let got = FloatProgram::new(&graph).unwrap().run(&batch);
    assert_close(&got, &reference_batch(network, &batch), &network.name);
}

fn uniform_precision() -> PrecisionConfig {
    PrecisionConfig::uniform("ap_fixed<16,6>".parse().unwrap())
}

fn lower_options(part: Part, precision: PrecisionConfig) -> LowerOptions {
    LowerOptions { part, precision, calibration: None }
}

#[test]
fn onnx_dense_autoencoder_matches_the_reference_in_the_compiler() {
    assert_float_path_matches_reference(&dense_autoencoder());
}

#[test]
fn onnx_conv2d_autoencoder_matches_the_reference_in_the_compiler() {
    assert_float_path_matches_reference(&conv2d_autoencoder());
}

#[test]
fn onnx_conv3d_autoencoder_matches_the_reference_in_the_compiler() {
    assert_float_path_matches_reference(&conv3d_autoencoder());
}

#[test]
fn onnx_conv1d_network_matches_the_reference_in_the_compiler() {
    assert_float_path_matches_reference(&conv1d_network());
}

#[test]
fn onnx_sigmoid_and_tanh_match_the_reference_in_the_compiler() {
    assert_float_path_matches_reference(&sigmoid_tanh_network());
}

#[test]
fn every_onnx_export_lowers_to_fixed_point() {
    let dir = tempfile::tempdir().unwrap();
    let networks =
        [dense_autoencoder(), conv2d_autoencoder(), conv3d_autoencoder(), conv1d_network(), sigmoid_tanh_network()];
    for network in networks {
        let lowered = lower(&export(&network, dir.path()), &lower_options(Part::Full, uniform_precision()));
        let lowered = lowered.unwrap_or_else(|e| panic!("{}: {e}", network.name));
        assert_eq!(lowered.model.output().shape, onnx_export::output_shape(&network).unwrap(), "{}", network.name);
    }
}

#[test]
fn the_onnx_dense_autoencoder_splits_at_its_bottleneck() {
    let network = dense_autoencoder();
    let dir = tempfile::tempdir().unwrap();
    let path = export(&network, dir.path());
    let encoder = lower(&path, &lower_options(Part::Encoder, uniform_precision())).unwrap();
    assert_eq!(encoder.model.output().shape, vec![3]);
    let decoder = lower(&path, &lower_options(Part::Decoder, uniform_precision())).unwrap();
    assert_eq!(decoder.model.input().shape, vec![3]);

    // The encoder ends after the batch norm and Relu that follow the 3-wide dense layer.
    let encoder_half = ExportNetwork { layers: network.layers[..5].to_vec(), ..network.clone() };
    let batch = samples(&network, 3);
    let latent = FloatProgram::new(&encoder.graph).unwrap().run(&batch);
    assert_close(&latent, &reference_batch(&encoder_half, &batch), "encoder");
}

#[test]
fn precision_files_can_name_the_onnx_layers() {
    let dir = tempfile::tempdir().unwrap();
    let path = export(&dense_autoencoder(), dir.path());
    let mut precision = uniform_precision();
    let narrow = LayerPrecision { result: Some("ap_fixed<12,4>".parse().unwrap()), ..Default::default() };
    precision.layers.insert("dense_2".into(), narrow);
    let lowered = lower(&path, &lower_options(Part::Full, precision.clone())).unwrap();
    let names: Vec<&str> = lowered.model.layers.iter().map(|l| l.name.as_str()).collect();
    for name in ["dense_0", "dense_2", "dense_5", "dense_7"] {
        assert!(names.contains(&name), "{name} is missing from the lowered layers {names:?}");
    }

    precision.layers.insert("dense_9".into(), LayerPrecision::default());
    let err = lower(&path, &lower_options(Part::Full, precision)).err().expect("an unknown layer is refused");
    assert!(err.to_string().contains("dense_9"), "{err}");
}
