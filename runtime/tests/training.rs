//! `balerc train` on small slices of the real data sets: the loss falls, a seed fixes the
//! result, a saved model reloads to the same function, its ONNX exports compute what burn
//! computes, and bad configurations or data are refused by name.

mod common;
use common::shared_data;

use balerc_compiler::passes::Part;
use balerc_compiler::quant::PrecisionConfig;
use balerc_compiler::sim::{FloatProgram, Simulator};
use balerc_compiler::{lower, LowerOptions};
use balerc_runtime::dataset::{self, Dataset};
use balerc_runtime::model_dir::{self, ENCODER_ONNX, FULL_ONNX};
use balerc_runtime::project::{self, Project};
use balerc_runtime::train::{encode_decode, mean_squared_error, Rows, Silent};
use balerc_runtime::training_run::{self, flat_rows, TrainOutcome};
use burn::prelude::Device;
use std::path::Path;

/// A project whose data is the first `rows` samples of a shared data set.
fn project_with(name: &str, rows: usize, settings: &[&str]) -> Option<(tempfile::TempDir, Vec<String>)> {
    let source = dataset::read(&shared_data(name)?).unwrap();
    let dir = tempfile::tempdir().unwrap();
    project::create(dir.path()).unwrap();
    dataset::write(&dir.path().join("data/slice.npz"), &source.slice_samples(0, rows)).unwrap();
    let mut overrides = vec!["data.input=['data/slice.npz']".to_string()];
    overrides.extend(settings.iter().map(|s| s.to_string()));
    Some((dir, overrides))
}

fn train(dir: &Path, overrides: &[String]) -> Result<TrainOutcome, String> {
    train_on(dir, overrides, &[Device::flex()])
}

fn train_on(dir: &Path, overrides: &[String], devices: &[Device]) -> Result<TrainOutcome, String> {
    let project = Project::open(dir, overrides).map_err(|e| e.to_string())?;
    training_run::run(&project, devices, &mut Silent)
}

const SMALL_DENSE: &[&str] = &["model.hidden=[32, 16]", "model.latent=8", "training.batch_size=128"];

fn with(base: &[&str], more: &[&str]) -> Vec<String> {
    base.iter().chain(more).map(|s| s.to_string()).collect()
}

#[test]
fn the_loss_falls_on_jets() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 6000, &[]) else { return };
    overrides.extend(with(SMALL_DENSE, &["training.epochs=8", "training.checkpoint_every=4"]));
    let outcome = train(dir.path(), &overrides).unwrap();
    for epoch in [4, 8] {
        let checkpoint = dir.path().join(format!("outputs/training/checkpoints/epoch_{epoch}"));
        model_dir::load(&checkpoint, &Device::flex()).unwrap();
    }
    assert!(!dir.path().join("outputs/training/checkpoints/epoch_2").exists());
    let first = outcome.history.first().unwrap().validation_loss.unwrap();
    let best = outcome.history.iter().filter_map(|r| r.validation_loss).fold(f64::INFINITY, f64::min);
    assert!(best < first / 3.0, "validation loss {first} only fell to {best}");
    assert_eq!(outcome.samples, (5100, 900));
}

/// `--device cpu,cpu`: every batch split across two devices, as across two GPUs.
#[test]
fn the_loss_falls_with_two_devices_and_with_batch_norm_sparsity_and_qat() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 3000, &[]) else { return };
    overrides.extend(with(SMALL_DENSE, &["training.epochs=6"]));
    let two_cpus = [Device::flex(), Device::flex()];
    let variants: [&[&str]; 3] = [
        &[],
        &["model.batch_norm=true", "model.dropout=0.1", "training.l1_sparsity=0.01"],
        &["training.qat='ap_fixed<16,6>'"],
    ];
    for more in variants {
        let outcome = train_on(dir.path(), &[overrides.clone(), with(more, &[])].concat(), &two_cpus).unwrap();
        let first = outcome.history.first().unwrap().validation_loss.unwrap();
        let best = outcome.history.iter().filter_map(|r| r.validation_loss).fold(f64::INFINITY, f64::min);
        assert!(best < first / 2.0, "{more:?}: validation loss {first} only fell to {best}");
    }
}

#[test]
fn a_seed_fixes_the_model_bit_for_bit() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 3000, &[]) else { return };
    overrides.extend(with(SMALL_DENSE, &["training.epochs=3", "training.deterministic=true", "training.seed=5"]));
    let first = train(dir.path(), &overrides).unwrap();
    let first_weights = std::fs::read(first.model_dir.join(FULL_ONNX)).unwrap();
    let second = train(dir.path(), &overrides).unwrap();
    assert_eq!(
        first.history.iter().map(|r| r.train_loss).collect::<Vec<_>>(),
        second.history.iter().map(|r| r.train_loss).collect::<Vec<_>>()
    );
    assert_eq!(first_weights, std::fs::read(second.model_dir.join(FULL_ONNX)).unwrap(), "same seed, same weights");

    overrides.push("training.seed=6".into());
    let other = train(dir.path(), &overrides).unwrap();
    assert_ne!(first_weights, std::fs::read(other.model_dir.join(FULL_ONNX)).unwrap(), "the seed matters");
}

#[test]
fn restarts_keep_the_model_of_the_lowest_loss() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 2000, &[]) else { return };
    // Unshuffled, every seed holds out the same samples: their losses compare. Weights kept as
    // trained, so that the loss a restart is judged by is its best validation loss.
    let settings = ["training.epochs=2", "training.deterministic=true", "data.shuffle=false", "model.weights=f32"];
    overrides.extend(with(SMALL_DENSE, &settings));
    let best_loss =
        |outcome: &TrainOutcome| outcome.history.iter().filter_map(|r| r.validation_loss).fold(f64::INFINITY, f64::min);
    let mut alone = vec![];
    for seed in 7..10 {
        let outcome = train(dir.path(), &[overrides.clone(), vec![format!("training.seed={seed}")]].concat()).unwrap();
        alone.push((best_loss(&outcome), seed, std::fs::read(outcome.model_dir.join(FULL_ONNX)).unwrap()));
    }
    let (lowest, seed, weights) = alone.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap().clone();
    assert!(alone.iter().any(|(loss, ..)| *loss != lowest), "the seeds give different models");

    overrides.extend(["training.seed=7".to_string(), "training.restarts=3".to_string()]);
    let restarted = train(dir.path(), &overrides).unwrap();
    assert_eq!(best_loss(&restarted), lowest);
    assert_eq!(std::fs::read(restarted.model_dir.join(FULL_ONNX)).unwrap(), weights);
    let info = model_dir::load_info(&restarted.model_dir).unwrap();
    assert_eq!(info.training.kept_seed, Some(seed));
}

#[test]
fn epochs_on_the_8_bit_grid_win_back_what_rounding_loses() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 2000, &[]) else { return };
    let settings =
        ["training.epochs=10", "training.deterministic=true", "model.weights=int8", "data.validation_fraction=0"];
    overrides.extend(with(SMALL_DENSE, &settings));
    let saved_loss = |grid_epochs: usize| {
        let overrides = [overrides.clone(), vec![format!("training.grid_epochs={grid_epochs}")]].concat();
        let outcome = train(dir.path(), &overrides).unwrap();
        assert_eq!(outcome.history.len(), 10 + grid_epochs);
        let saved = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
        mean_squared_error(&saved.model, &normalized_rows(dir.path(), &overrides, &saved.info))
    };
    let (rounded_once, after_grid_epochs) = (saved_loss(0), saved_loss(10));
    assert!(after_grid_epochs < rounded_once, "{after_grid_epochs} against {rounded_once}");
}

/// The normalized rows a saved model sees for its own training file.
fn normalized_rows(dir: &Path, overrides: &[String], info: &model_dir::ModelInfo) -> Rows {
    let config = Project::open(dir, overrides).unwrap().config;
    let data = training_run::read_samples(&[dir.join("data/slice.npz")], &config).unwrap();
    let prepared = training_run::prepare(&data, &config).unwrap();
    flat_rows(info.normalization.apply(&prepared.modelled))
}

fn assert_close(got: &[f64], want: &[f32], tolerance: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got.iter().zip(want).map(|(&g, &w)| (g - f64::from(w)).abs()).fold(0.0, f64::max);
    assert!(worst <= tolerance, "{what}: differs by up to {worst}");
}

/// The model directory reloads to the same function, and its ONNX files compute it too.
fn check_saved_model(dir: &Path, overrides: &[String], outcome: &TrainOutcome, tolerance: f64) {
    let saved = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
    let rows = normalized_rows(dir, overrides, &saved.info);
    let count = (rows.values.len() / rows.width).min(64);
    let sample = Rows { values: rows.values[..count * rows.width].to_vec(), width: rows.width };
    let (latent, reconstruction) = encode_decode(&saved.model, &sample);
    let again = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
    assert_eq!(encode_decode(&again.model, &sample).1.values, reconstruction.values, "reload is exact");

    let input: Vec<f64> = sample.values.iter().map(|&v| f64::from(v)).collect();
    for (file, want) in [(FULL_ONNX, &reconstruction), (ENCODER_ONNX, &latent)] {
        let graph = balerc_compiler::load_and_optimize(&outcome.model_dir.join(file), Part::Full).unwrap();
        let got = FloatProgram::new(&graph).unwrap().run(&input);
        assert_close(&got, &want.values, tolerance, file);
    }
}

#[test]
fn a_saved_dense_model_reloads_and_its_onnx_agrees_with_burn() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 2000, &[]) else { return };
    overrides.extend(with(SMALL_DENSE, &["training.epochs=2", "model.batch_norm=true", "model.dropout=0.1"]));
    let outcome = train(dir.path(), &overrides).unwrap();
    check_saved_model(dir.path(), &overrides, &outcome, 1e-4);
}

#[test]
fn a_conv_model_trains_on_cfd_frames_and_its_onnx_agrees_with_burn() {
    let Some((dir, mut overrides)) = project_with("cfd_animation_60x50x50.npz", 12, &[]) else { return };
    let settings =
        ["model.kind=conv2d", "model.hidden=[32]", "model.latent=10", "training.epochs=3", "training.batch_size=4"];
    overrides.extend(with(&settings, &["model.channels=[4, 8]", "model.activation=relu"]));
    let outcome = train(dir.path(), &overrides).unwrap();
    assert_eq!(outcome.spec.sample_shape, vec![50, 50]);
    let saved = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
    let rows = normalized_rows(dir.path(), &overrides, &saved.info);
    let (_, reconstruction) = encode_decode(&saved.model, &rows);
    assert_eq!(reconstruction.width, 2500);
    let graph = balerc_compiler::load_and_optimize(&outcome.model_dir.join(FULL_ONNX), Part::Full).unwrap();
    assert_eq!(graph.node(graph.outputs()[0]).shape, vec![1, 50, 50]);
    let input: Vec<f64> = rows.values.iter().map(|&v| f64::from(v)).collect();
    assert_close(&FloatProgram::new(&graph).unwrap().run(&input), &reconstruction.values, 1e-4, "conv autoencoder");
}

#[test]
fn a_conv3d_model_trains_on_stacks_of_cfd_frames_and_its_onnx_agrees_with_burn() {
    let Some((dir, mut overrides)) = project_with("cfd_animation_60x50x50.npz", 60, &[]) else { return };
    let settings = ["model.kind=conv3d", "data.frames_per_sample=4", "model.hidden=[32]", "model.latent=10"];
    overrides.extend(with(&settings, &["model.channels=[4, 8]", "training.epochs=20", "training.batch_size=4"]));
    let outcome = train(dir.path(), &overrides).unwrap();
    assert_eq!(outcome.spec.sample_shape, vec![4, 50, 50]);
    assert_eq!(outcome.samples.0 + outcome.samples.1, 15, "60 frames make 15 stacks");
    let (first, last) = (outcome.history[0].train_loss, outcome.history.last().unwrap().train_loss);
    assert!(last < first / 3.0, "training loss {first} only fell to {last}");
    check_saved_model(dir.path(), &overrides, &outcome, 1e-4);

    let graph = balerc_compiler::load_and_optimize(&outcome.model_dir.join(FULL_ONNX), Part::Full).unwrap();
    assert_eq!(graph.node(graph.outputs()[0]).shape, vec![1, 4, 50, 50]);
}

/// The encoder of a trained conv3d model in fixed point, as `balerc lower` builds it, tracks
/// the float encoder.
#[test]
fn a_trained_conv3d_encoder_lowers_and_simulates() {
    let Some((dir, mut overrides)) = project_with("cfd_animation_60x50x50.npz", 24, &[]) else { return };
    let settings = ["model.kind=conv3d", "data.frames_per_sample=3", "model.channels=[2, 4]", "model.latent=6"];
    overrides.extend(with(&settings, &["model.hidden=[]", "training.epochs=2", "training.batch_size=2"]));
    let outcome = train(dir.path(), &overrides).unwrap();
    let saved = model_dir::load(&outcome.model_dir, &Device::flex()).unwrap();
    let rows = normalized_rows(dir.path(), &overrides, &saved.info);
    let input: Vec<f64> = rows.values.iter().map(|&v| f64::from(v)).collect();
    let options = LowerOptions {
        part: Part::Encoder,
        precision: PrecisionConfig::uniform("ap_fixed<18,8,AP_RND_CONV,AP_SAT>".parse().unwrap()),
        calibration: Some(input.clone()),
    };
    let lowered = lower(&outcome.model_dir.join(FULL_ONNX), &options).unwrap();
    assert_eq!(lowered.model.input().shape, vec![1, 3, 50, 50]);
    let simulator = Simulator::new(&lowered.model);
    let codes = simulator.run(&simulator.quantize_input(&input).unwrap());
    let (latent, _) = encode_decode(&saved.model, &rows);
    let ty = lowered.model.output().ty;
    let range = latent.values.iter().fold(1e-3f64, |m, &v| m.max(f64::from(v).abs()));
    let fixed: Vec<f64> = codes.iter().map(|&c| ty.to_f64(c)).collect();
    assert_close(&fixed, &latent.values, 0.02 * range, "fixed-point encoder");
}

#[test]
fn conv3d_needs_stacks_of_frames() {
    let Some((dir, overrides)) = project_with("cfd_animation_60x50x50.npz", 60, &["training.epochs=1"]) else { return };
    let err = |more: &[&str]| training_error(dir.path(), &[overrides.clone(), with(more, &[])].concat());

    let message = err(&["model.kind=conv3d"]);
    assert!(message.contains("conv3d") && message.contains("frames_per_sample"), "{message}");
    let message = err(&["model.kind=conv3d", "data.frames_per_sample=7"]);
    assert!(message.contains("60 frames") && message.contains("frames_per_sample = 7"), "{message}");
    let message = err(&["model.kind=conv2d", "data.frames_per_sample=4"]);
    assert!(message.contains("try \"conv3d\""), "{message}");
}

#[test]
fn lossless_columns_stay_out_of_the_model() {
    let Some((dir, mut overrides)) = project_with("jets_pythia_24col.npz", 1000, &[]) else { return };
    overrides.extend(with(SMALL_DENSE, &["training.epochs=1", "data.lossless_columns=['n_const', '3']"]));
    overrides.push("data.integer_columns=['n_const']".into());
    let outcome = train(dir.path(), &overrides).unwrap();
    let info = model_dir::load_info(&outcome.model_dir).unwrap();
    assert_eq!(info.lossless_columns, vec![8, 3]);
    assert_eq!(info.integer_columns, vec![8]);
    assert_eq!(outcome.spec.sample_shape, vec![22]);
    assert!(!info.modelled_columns.contains(&8) && info.modelled_columns.len() == 22);
}

fn training_error(dir: &Path, overrides: &[String]) -> String {
    match train(dir, overrides) {
        Ok(_) => panic!("training should have failed with {overrides:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_configurations_and_data_are_named() {
    let Some((dir, overrides)) = project_with("jets_pythia_24col.npz", 200, &["training.epochs=1"]) else { return };
    let err = |more: &[&str]| training_error(dir.path(), &[overrides.clone(), with(more, &[])].concat());

    assert!(err(&["data.input=['data/missing.npz']"]).contains("missing.npz"));
    assert!(err(&["model.kind=conv2d"]).contains("conv2d"));
    assert!(err(&["model.kind=conv3d"]).contains("conv3d"));
    assert!(err(&["data.frames_per_sample=4"]).contains("stacks 2-D frames"));
    assert!(err(&["model.latent=30"]).contains("does not compress"));
    assert!(err(&["data.lossless_columns=['nope']"]).contains("nope"));
    let unknown = Project::open(dir.path(), &["training.epoch=3".into()]).err().unwrap().to_string();
    assert!(unknown.contains("epoch"), "{unknown}");

    let mut data = dataset::read(&dir.path().join("data/slice.npz")).unwrap();
    data.values[[17, 1]] = f64::NAN;
    dataset::write(&dir.path().join("data/nan.npz"), &data).unwrap();
    let message = err(&["data.input=['data/nan.npz']"]);
    assert!(message.contains("nan.npz") && message.contains("17"), "{message}");

    let fields = Dataset { values: ndarray::ArrayD::zeros(ndarray::IxDyn(&[4, 6, 6])), ..data.clone() };
    dataset::write(
        &dir.path().join("data/fields.npy"),
        &Dataset { names: vec![], format: dataset::FileFormat::Npy, ..fields },
    )
    .unwrap();
    let mixed = err(&["data.input=['data/slice.npz', 'data/fields.npy']"]);
    assert!(mixed.contains("fields.npy"), "{mixed}");
}
