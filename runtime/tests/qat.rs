//! Quantization-aware training on small slices of the jets data: the loss falls, the compiled
//! encoder computes what burn's fake-quantized forward pass computes, QAT beats quantizing a
//! float model afterwards at a narrow precision, and mistakes are refused by name.

mod common;
use common::shared_data;

use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::{FloatProgram, Simulator};
use balerc_compiler::{lower, LowerOptions};
use balerc_runtime::config::WeightFormat;
use balerc_runtime::dataset;
use balerc_runtime::model_dir::{self, ModelInfo, DECODER_ONNX, ENCODER_ONNX, FULL_ONNX, PRECISION_FILE};
use balerc_runtime::project::{self, Project};
use balerc_runtime::train::{encode_decode, Rows, Silent};
use balerc_runtime::training_run::{self, flat_rows, TrainOutcome};
use burn::prelude::Device;
use std::path::Path;

const JETS: &str = "jets_pythia_24col.npz";
const SMALL_DENSE: &[&str] = &["model.hidden=[32, 16]", "model.latent=8", "training.batch_size=128"];

/// A project whose training data is the first `rows` jets; the next `held_out` rows are kept
/// as `data/test.npz`.
fn project(rows: usize, held_out: usize, settings: &[&str]) -> Option<(tempfile::TempDir, Vec<String>)> {
    let source = dataset::read(&shared_data(JETS)?).unwrap();
    let dir = tempfile::tempdir().unwrap();
    project::create(dir.path()).unwrap();
    dataset::write(&dir.path().join("data/slice.npz"), &source.slice_samples(0, rows)).unwrap();
    dataset::write(&dir.path().join("data/test.npz"), &source.slice_samples(rows, rows + held_out)).unwrap();
    let mut overrides = vec!["data.input=['data/slice.npz']".to_string()];
    overrides.extend(SMALL_DENSE.iter().chain(settings).map(|s| s.to_string()));
    Some((dir, overrides))
}

fn train(dir: &Path, overrides: &[String]) -> Result<TrainOutcome, String> {
    let project = Project::open(dir, overrides).map_err(|e| e.to_string())?;
    training_run::run(&project, &[Device::flex()], &mut Silent)
}

fn with(overrides: &[String], more: &[&str]) -> Vec<String> {
    overrides.iter().cloned().chain(more.iter().map(|s| s.to_string())).collect()
}

/// A data file of the project, normalized as the model's training data was.
fn normalized(dir: &Path, file: &str, info: &ModelInfo) -> Rows {
    let data = dataset::read(&dir.join("data").join(file)).unwrap();
    let config = Project::open(dir, &[]).unwrap().config;
    let prepared = training_run::prepare(&data, &config).unwrap();
    flat_rows(info.normalization.apply(&prepared.modelled))
}

fn as_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

/// The latent values the compiled encoder gives, bit-exactly, and their type's LSB.
fn hardware_latent(onnx: &Path, part: Part, precision: PrecisionConfig, rows: &Rows) -> (Vec<f64>, f64) {
    let lowered = lower(onnx, &LowerOptions { part, precision, calibration: None }).unwrap();
    let simulator = Simulator::new(&lowered.model);
    let codes = simulator.run(&simulator.quantize_input(&as_f64(&rows.values)).unwrap());
    let ty = lowered.model.output().ty;
    (codes.iter().map(|&c| ty.to_f64(c)).collect(), ty.to_f64(1))
}

fn mse(a: &[f64], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| (x - f64::from(y)).powi(2)).sum::<f64>() / a.len() as f64
}

#[test]
fn qat_training_loss_falls_and_the_precision_is_saved() {
    let Some((dir, overrides)) = project(6000, 0, &["training.epochs=8", "training.qat='ap_fixed<16,6>'"]) else {
        return;
    };
    let outcome = train(dir.path(), &overrides).unwrap();
    let first = outcome.history.first().unwrap().validation_loss.unwrap();
    let best = outcome.history.iter().filter_map(|r| r.validation_loss).fold(f64::INFINITY, f64::min);
    assert!(best < first / 3.0, "validation loss {first} only fell to {best}");

    let precision = std::fs::read_to_string(outcome.model_dir.join(PRECISION_FILE)).unwrap();
    assert_eq!(precision, "default = \"ap_fixed<16,6>\"\n");
    let info = model_dir::load_info(&outcome.model_dir).unwrap();
    assert_eq!(info.spec.qat.as_ref().map(|q| q.text()), Some(precision.as_str()));
    // The fixed-point types decide the weights, so they are not rounded to half precision.
    assert_eq!(info.spec.weights, WeightFormat::F32);
    // A model trained in float has neither, and half-precision weights by default.
    let float = train(dir.path(), &with(&overrides, &["training.epochs=1", "training.qat=''"])).unwrap();
    assert!(!float.model_dir.join(PRECISION_FILE).exists());
    let float_info = model_dir::load_info(&float.model_dir).unwrap();
    assert_eq!((float_info.spec.qat, float_info.spec.weights), (None, WeightFormat::F16));
}

/// The key property: the compiled encoder's latent values are the ones burn trained with.
#[test]
fn the_compiled_encoder_computes_the_fake_quantized_forward_pass() {
    let Some((dir, overrides)) = project(3000, 0, &["training.epochs=3", "training.qat='ap_fixed<16,6>'"]) else {
        return;
    };
    let outcome = train(dir.path(), &overrides).unwrap();
    let saved = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
    let rows = normalized(dir.path(), "slice.npz", &saved.info);
    let (burn_latent, _) = encode_decode(&saved.model, &rows);

    let precision = PrecisionConfig::from_toml(&outcome.model_dir.join(PRECISION_FILE)).unwrap();
    let encoder = outcome.model_dir.join(ENCODER_ONNX);
    let (latent, lsb) = hardware_latent(&encoder, Part::Full, precision.clone(), &rows);
    // precision.toml names the whole model's layers; the encoder cut from it is the same circuit.
    let (cut, _) = hardware_latent(&outcome.model_dir.join(FULL_ONNX), Part::Encoder, precision, &rows);
    assert_eq!(latent, cut);

    let steps: Vec<f64> =
        latent.iter().zip(&burn_latent.values).map(|(&h, &b)| ((h - f64::from(b)) / lsb).abs()).collect();
    let equal = steps.iter().filter(|&&s| s == 0.0).count() as f64 / steps.len() as f64;
    let worst = steps.iter().copied().fold(0.0, f64::max);
    eprintln!("{:.4} % of {} latent values equal, worst {worst} LSB", equal * 100.0, steps.len());
    // burn sums in f32, the hardware exactly: a sum within f32 rounding of a step could round
    // the other way. Measured on this slice: every value equal.
    assert!(equal >= 0.999, "only {:.3} % of the latent values are equal", equal * 100.0);
    assert!(worst <= 1.0, "a latent value differs by {worst} LSB");
}

/// Reconstruction MSE of the compiled encoder at `precision` followed by the float decoder
/// (decoder.onnx, as `balerc decompress` runs it), on the held-out rows.
fn hardware_encoder_mse(dir: &Path, model: &Path, precision: &str) -> f64 {
    let info = model_dir::load_info(model).unwrap();
    let rows = normalized(dir, "test.npz", &info);
    let uniform = PrecisionConfig::uniform(precision.parse().unwrap());
    let (latent, _) = hardware_latent(&model.join(ENCODER_ONNX), Part::Full, uniform, &rows);
    let decoder = balerc_compiler::load_and_optimize(&model.join(DECODER_ONNX), Part::Full).unwrap();
    mse(&FloatProgram::new(&decoder).unwrap().run(&latent), &rows.values)
}

#[test]
fn at_eight_bits_qat_beats_quantizing_a_float_model() {
    let narrow = "ap_fixed<8,3>";
    let settings = ["training.epochs=30", "training.seed=3", "training.deterministic=true"];
    let Some((dir, overrides)) = project(6000, 2000, &settings) else { return };
    let float = train(dir.path(), &with(&overrides, &["output.model='models/float'"])).unwrap();
    // The decoder stays in float, as it runs when decompressing; only the encoder is hardware.
    let qat_settings = ["output.model='models/qat'", "training.qat='ap_fixed<8,3>'", "training.qat_decoder=false"];
    let qat = train(dir.path(), &with(&overrides, &qat_settings)).unwrap();
    assert!(!model_dir::load_info(&qat.model_dir).unwrap().spec.qat_decoder);
    let post_training = hardware_encoder_mse(dir.path(), &float.model_dir, narrow);
    let aware = hardware_encoder_mse(dir.path(), &qat.model_dir, narrow);
    eprintln!("{narrow}: post-training quantization MSE {post_training:.4e}, QAT {aware:.4e}");
    assert!(
        aware * 3.0 < post_training,
        "QAT {aware:.3e} is not clearly better than post-training quantization {post_training:.3e}"
    );
}

#[test]
fn bad_precisions_and_batch_norm_are_refused_by_name() {
    let Some((dir, overrides)) = project(300, 0, &["training.epochs=1"]) else { return };
    let err = |more: &[&str]| match train(dir.path(), &with(&overrides, more)) {
        Ok(_) => panic!("training should have failed with {more:?}"),
        Err(e) => e,
    };
    let message = err(&["training.qat='ap_fixd<16,6>'"]);
    assert!(message.contains("training.qat") && message.contains("ap_fixd<16,6>"), "{message}");
    let message = err(&["training.qat='ap_fixed<70,6>'"]);
    assert!(message.contains("training.qat") && message.contains("70"), "{message}");
    let message = err(&["training.qat='missing.toml'"]);
    assert!(message.contains("missing.toml"), "{message}");
    let message = err(&["training.qat='ap_fixed<16,6>'", "model.batch_norm=true"]);
    assert!(message.contains("model.batch_norm"), "{message}");

    std::fs::write(dir.path().join("p.toml"), "default = \"ap_fixed<16,6>\"\n[layers.leaky_relu_1]\n").unwrap();
    let message = err(&["training.qat='p.toml'"]);
    assert!(message.contains("'leaky_relu_1'") && message.contains("dense_0"), "{message}");
}

#[test]
fn per_layer_precisions_reach_the_named_layers() {
    let text = "default = \"ap_fixed<16,6>\"\n[layers.dense_2]\nresult = \"ap_fixed<10,4,AP_RND,AP_SAT>\"\n";
    let Some((dir, overrides)) = project(1000, 0, &["training.epochs=1", "training.qat='p.toml'"]) else { return };
    std::fs::write(dir.path().join("p.toml"), text).unwrap();
    let outcome = train(dir.path(), &overrides).unwrap();
    assert_eq!(std::fs::read_to_string(outcome.model_dir.join(PRECISION_FILE)).unwrap(), text);
    let saved = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
    let rows = normalized(dir.path(), "slice.npz", &saved.info);
    // dense_2's outputs feed the next layer; the latent (dense_4) is still burn's.
    let precision = PrecisionConfig::from_toml(&outcome.model_dir.join(PRECISION_FILE)).unwrap();
    let (latent, lsb) = hardware_latent(&outcome.model_dir.join(ENCODER_ONNX), Part::Full, precision, &rows);
    let (burn_latent, _) = encode_decode(&saved.model, &rows);
    let worst =
        latent.iter().zip(&burn_latent.values).map(|(&h, &b)| (h - f64::from(b)).abs() / lsb).fold(0.0, f64::max);
    assert!(worst <= 4.0, "a latent value differs by {worst} LSB");
}
