//! Compress and decompress with a trained model: shapes, names and dtypes come back, the
//! error bound holds for every value, and damaged files or the wrong model are refused.

mod common;
use common::shared_data;

use balerc_runtime::compress::{
    self, CodecError, CompressOptions, DecompressOptions, Embedding, EncoderChoice, ErrorBound, LatentBits,
    OutlierChoice,
};
use balerc_runtime::dataset::{self, Dataset};
use balerc_runtime::model_dir;
use balerc_runtime::project::{self, Project};
use balerc_runtime::train::Silent;
use balerc_runtime::training_run;
use burn::prelude::Device;
use std::path::{Path, PathBuf};

/// A small model trained on the first rows of a shared data set, and the rows after them.
fn trained(
    name: &str,
    train_rows: usize,
    test_rows: usize,
    settings: &[&str],
) -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    let source = shared_data(name)?;
    let data = dataset::read(&source).unwrap();
    let dir = tempfile::tempdir().unwrap();
    project::create(dir.path()).unwrap();
    dataset::write(&dir.path().join("data/train.npz"), &data.slice_samples(0, train_rows)).unwrap();
    let unseen = dir.path().join("data/unseen.npz");
    dataset::write(&unseen, &data.slice_samples(train_rows, train_rows + test_rows)).unwrap();
    let mut overrides = vec!["data.input=['data/train.npz']".to_string(), "training.epochs=3".into()];
    overrides.extend(settings.iter().map(|s| s.to_string()));
    let project = Project::open(dir.path(), &overrides).unwrap();
    let outcome = training_run::run(&project, &[Device::flex()], &mut Silent).unwrap();
    Some((dir, outcome.model_dir, unseen))
}

fn options_for(model: &Path, input: &Path, output: &Path, bound: Option<ErrorBound>) -> CompressOptions {
    CompressOptions {
        model: model.into(),
        input: input.into(),
        output: output.into(),
        latent_bits: LatentBits::Fixed(12),
        bound,
        embed_model: Embedding::Never,
        encoder: EncoderChoice::Float,
        chunk_samples: None,
        relations: vec![],
        columns: vec![],
        outliers: OutlierChoice::None,
    }
}

fn round_trip(model: &Path, input: &Path, bound: Option<ErrorBound>, embed: bool) -> (Dataset, Dataset) {
    let dir = input.parent().unwrap();
    let packed = dir.join("data.baler");
    let out = dir.join("restored.npz");
    let embed_model = if embed { Embedding::Always } else { Embedding::Never };
    compress::compress(&CompressOptions { embed_model, ..options_for(model, input, &packed, bound) }).unwrap();
    let model = (!embed).then(|| model.to_path_buf());
    compress::decompress(&DecompressOptions { input: packed, output: out.clone(), model, decoder_precision: None })
        .unwrap();
    (dataset::read(input).unwrap(), dataset::read(&out).unwrap())
}

const SMALL: &[&str] = &["model.hidden=[32, 16]", "model.latent=8", "data.integer_columns=['n_const']"];

fn assert_within_relative_bound(original: &Dataset, restored: &Dataset, bound: f64) {
    for column in 0..original.values.shape()[1] {
        let values = original.values.index_axis(ndarray::Axis(1), column);
        let range = values.fold(f64::NEG_INFINITY, |m, &v| m.max(v)) - values.fold(f64::INFINITY, |m, &v| m.min(v));
        let worst = (0..original.samples())
            .map(|r| (restored.values[[r, column]] - original.values[[r, column]]).abs())
            .fold(0.0, f64::max);
        assert!(worst <= bound * range, "column {column}: error {worst} beyond {}", bound * range);
    }
}

#[test]
fn a_relative_bound_holds_for_every_value_of_unseen_jets() {
    let Some((_dir, model, unseen)) = trained("jets_pythia_24col.npz", 4000, 3000, SMALL) else { return };
    let bound = Some(ErrorBound::RelativeToRange(1e-3));
    let (original, restored) = round_trip(&model, &unseen, bound, false);
    assert_eq!(
        (restored.names.clone(), restored.dtype, restored.values.shape()),
        (original.names.clone(), original.dtype, original.values.shape())
    );
    assert_within_relative_bound(&original, &restored, 1e-3);
    // Integer columns come back as integers.
    assert!((0..3000).all(|r| restored.values[[r, 8]].fract() == 0.0));

    // Automatic latent bits keep the smallest of their trials, and the bound holds as ever.
    let (packed, out) = (unseen.with_file_name("auto.baler"), unseen.with_file_name("auto.npz"));
    let auto =
        |bound| CompressOptions { latent_bits: LatentBits::Auto, ..options_for(&model, &unseen, &packed, bound) };
    let report = compress::compress(&auto(bound)).unwrap();
    let trials = &report.latent_bits_trials;
    assert!((3..=6).contains(&trials.len()), "{trials:?}");
    assert_eq!(report.latent_bits, trials[0].0);
    assert!(trials.windows(2).all(|w| w[0].1 <= w[1].1), "{trials:?}");
    // The search stops at a width whose neighbours were both tried (and were no smaller).
    let widths = [4, 5, 6, 8, 10, 12];
    let chosen = widths.iter().position(|&w| w == report.latent_bits).unwrap();
    let neighbours = [chosen.checked_sub(1), Some(chosen + 1)].into_iter().flatten().filter_map(|at| widths.get(at));
    assert!(neighbours.into_iter().all(|w| trials.iter().any(|t| t.0 == *w)), "{trials:?}");
    let model_dir = Some(model.clone());
    compress::decompress(&DecompressOptions {
        input: packed.clone(),
        output: out.clone(),
        model: model_dir,
        decoder_precision: None,
    })
    .unwrap();
    assert_within_relative_bound(&original, &dataset::read(&out).unwrap(), 1e-3);
    // Without a bound there is nothing to choose against.
    let message = compress::compress(&auto(None)).unwrap_err().to_string();
    assert!(message.contains("error bound"), "{message}");
}

const KINEMATICS: [&str; 4] =
    ["px = pt * cos(phi)", "py = pt * sin(phi)", "pz = pt * sinh(eta)", "E = sqrt((pt * cosh(eta))^2 + m^2)"];

#[test]
fn relations_between_columns_shrink_a_bounded_file_and_the_bound_still_holds() {
    let Some((_dir, model, unseen)) = trained("jets_pythia_24col.npz", 4000, 3000, SMALL) else { return };
    let bound = Some(ErrorBound::RelativeToRange(1e-3));
    let (plain, related) = (unseen.with_file_name("plain.baler"), unseen.with_file_name("related.baler"));
    let plain_bytes = compress::compress(&options_for(&model, &unseen, &plain, bound)).unwrap().compressed_bytes;
    let with_relations = |relations: &[&str], bound| CompressOptions {
        relations: relations.iter().map(|r| r.to_string()).collect(),
        ..options_for(&model, &unseen, &related, bound)
    };
    let related_bytes = compress::compress(&with_relations(&KINEMATICS, bound)).unwrap().compressed_bytes;
    assert!(related_bytes < plain_bytes, "{related_bytes} bytes with the relations, {plain_bytes} without");

    let out = unseen.with_file_name("related.npz");
    let decompress = DecompressOptions {
        input: related.clone(),
        output: out.clone(),
        model: Some(model.clone()),
        decoder_precision: None,
    };
    compress::decompress(&decompress).unwrap();
    assert_within_relative_bound(&dataset::read(&unseen).unwrap(), &dataset::read(&out).unwrap(), 1e-3);

    let error =
        |relations: &[&str], bound| compress::compress(&with_relations(relations, bound)).unwrap_err().to_string();
    assert!(error(&KINEMATICS, None).contains("error bound"));
    let message = error(&["eta = pt * cos(phi)"], bound);
    assert!(message.contains("relation 'eta = pt * cos(phi)'") && message.contains("'phi' is not before"), "{message}");
}

#[test]
fn an_absolute_bound_holds_and_the_decoder_can_travel_inside_the_file() {
    let Some((_dir, model, unseen)) = trained("jets_pythia_24col.npz", 3000, 2000, SMALL) else { return };
    let (original, restored) = round_trip(&model, &unseen, Some(ErrorBound::Absolute(0.05)), true);
    let worst = original.values.iter().zip(&restored.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 0.05, "error {worst}");
}

#[test]
fn rounded_weights_travel_in_fewer_bytes() {
    let with = |weights: &'static str| -> Vec<&str> { SMALL.iter().copied().chain([weights]).collect() };
    let Some((_half_dir, half, unseen)) = trained("jets_pythia_24col.npz", 3000, 500, SMALL) else { return };
    let Some((_full_dir, full, _)) = trained("jets_pythia_24col.npz", 3000, 500, &with("model.weights=f32")) else {
        return;
    };
    let Some((_int8_dir, int8, _)) = trained("jets_pythia_24col.npz", 3000, 500, &with("model.weights=int8")) else {
        return;
    };
    let model_bytes =
        |model: &Path| compress::model_bytes(&std::fs::read(model.join(model_dir::DECODER_ONNX)).unwrap());
    let (full_bytes, half_bytes, int8_bytes) = (model_bytes(&full), model_bytes(&half), model_bytes(&int8));
    assert!(2 * half_bytes < full_bytes + full_bytes / 5, "{half_bytes} bytes against {full_bytes}");
    // One byte a weight where half precision takes two; the rest of the ONNX file stays.
    assert!(3 * int8_bytes < 2 * half_bytes, "{int8_bytes} bytes against {half_bytes}");
    for model in [&half, &int8] {
        let (original, restored) = round_trip(model, &unseen, Some(ErrorBound::Absolute(0.05)), true);
        let worst = original.values.iter().zip(&restored.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 0.05, "error {worst}");
        let file = balerc_runtime::container::Reader::open(&unseen.with_file_name("data.baler")).unwrap();
        assert_eq!(file.attachment_names(), ["decoder.coded"]);
    }
}

#[test]
fn without_a_bound_the_reconstruction_is_the_autoencoders() {
    let Some((_dir, model, unseen)) = trained("jets_pythia_24col.npz", 3000, 1000, SMALL) else { return };
    let (original, restored) = round_trip(&model, &unseen, None, false);
    assert_eq!(restored.values.shape(), original.values.shape());
    let differs = original.values.iter().zip(&restored.values).filter(|(a, b)| a != b).count();
    assert!(differs > 1000, "a lossy reconstruction differs from the data");
}

#[test]
fn fields_compress_with_a_conv_model() {
    let settings =
        ["model.kind=conv2d", "model.hidden=[16]", "model.latent=6", "model.channels=[4]", "training.batch_size=4"];
    let Some((_dir, model, unseen)) = trained("cfd_animation_60x50x50.npz", 8, 4, &settings) else { return };
    // The decoder travels inside the file: convolution weights packed as well as dense ones.
    let (original, restored) = round_trip(&model, &unseen, Some(ErrorBound::RelativeToRange(1e-2)), true);
    assert_eq!(restored.values.shape(), &[4, 50, 50]);
    let range = original.values.fold(f64::NEG_INFINITY, |m, &v| m.max(v))
        - original.values.fold(f64::INFINITY, |m, &v| m.min(v));
    let worst = original.values.iter().zip(&restored.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-2 * range, "error {worst} of range {range}");
}

/// A conv3d model trained on grouped frames compresses stacks of frames, and single frames
/// grouped as it was trained; a count of frames that does not group is refused.
#[test]
fn stacks_of_frames_compress_with_a_conv3d_model() {
    let settings = ["model.kind=conv3d", "data.frames_per_sample=4", "model.hidden=[16]", "model.latent=6"];
    let settings = [&settings[..], &["model.channels=[4]", "training.batch_size=4"]].concat();
    let Some((_dir, model, unseen)) = trained("cfd_animation_60x50x50.npz", 48, 12, &settings) else { return };
    let bound = Some(ErrorBound::RelativeToRange(1e-2));
    let frames = dataset::read(&unseen).unwrap();
    let within_bound = |original: &Dataset, restored: &Dataset| {
        let range = original.values.fold(f64::NEG_INFINITY, |m, &v| m.max(v))
            - original.values.fold(f64::INFINITY, |m, &v| m.min(v));
        let worst = original.values.iter().zip(&restored.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-2 * range, "error {worst} of range {range}");
    };

    let (original, restored) = round_trip(&model, &unseen, bound, false);
    assert_eq!(restored.values.shape(), &[12, 50, 50]);
    within_bound(&original, &restored);

    let values = frames.values.clone().into_shape_with_order(ndarray::IxDyn(&[3, 4, 50, 50])).unwrap();
    let stacks = unseen.with_file_name("stacks.npy");
    dataset::write(&stacks, &Dataset { values, format: dataset::FileFormat::Npy, ..frames.clone() }).unwrap();
    let (original, restored) = round_trip(&model, &stacks, bound, false);
    assert_eq!(restored.values.shape(), &[3, 4, 50, 50]);
    within_bound(&original, &restored);

    let values = frames.values.slice(ndarray::s![..10, .., ..]).to_owned().into_dyn();
    let ten = unseen.with_file_name("ten.npy");
    dataset::write(&ten, &Dataset { values, format: dataset::FileFormat::Npy, ..frames }).unwrap();
    let err =
        compress::compress(&options_for(&model, &ten, &ten.with_extension("baler"), None)).unwrap_err().to_string();
    assert!(err.contains("stacks of 4 frames") && err.contains("2 left over"), "{err}");
}

#[test]
fn damage_the_wrong_model_and_the_wrong_data_are_named() {
    let Some((dir, model, unseen)) = trained("jets_pythia_24col.npz", 1000, 500, SMALL) else { return };
    let packed = dir.path().join("x.baler");
    compress::compress(&options_for(&model, &unseen, &packed, None)).unwrap();
    let out = dir.path().join("out.npz");
    let decompress = |input: &Path, model: Option<&Path>| {
        compress::decompress(&DecompressOptions {
            input: input.into(),
            output: out.clone(),
            model: model.map(Into::into),
            decoder_precision: None,
        })
    };

    // The file records its model directory, where decompression finds the decoder; moved
    // away, the model is asked for.
    let found = decompress(&packed, None).unwrap();
    assert_eq!(found.recorded_model, Some(std::fs::canonicalize(&model).unwrap()));
    std::fs::remove_file(&out).unwrap();
    let moved = dir.path().join("moved-model");
    std::fs::rename(&model, &moved).unwrap();
    let missing_model = decompress(&packed, None).unwrap_err();
    std::fs::rename(&moved, &model).unwrap();
    assert!(matches!(missing_model, CodecError::ModelNotEmbedded { recorded: Some(_), .. }), "{missing_model:?}");
    assert!(missing_model.to_string().contains("--model"), "{missing_model}");

    let other = trained("jets_pythia_24col.npz", 500, 10, &["model.hidden=[8]", "model.latent=4"]).unwrap();
    let wrong = decompress(&packed, Some(&other.1)).unwrap_err();
    assert!(matches!(wrong, CodecError::OtherModel { .. }), "{wrong:?}");
    assert!(wrong.to_string().contains("not compressed with the model"), "{wrong}");

    let bytes = std::fs::read(&packed).unwrap();
    let truncated = dir.path().join("truncated.baler");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let message = decompress(&truncated, Some(&model)).unwrap_err().to_string();
    assert!(message.contains("truncated.baler"), "{message}");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    let corrupt = dir.path().join("corrupt.baler");
    std::fs::write(&corrupt, &flipped).unwrap();
    let message = decompress(&corrupt, Some(&model)).unwrap_err().to_string();
    assert!(message.contains("corrupt"), "{message}");
    assert!(!out.exists(), "no output after a failure");

    let narrow = Dataset {
        values: dataset::read(&unseen).unwrap().values.slice_move(ndarray::s![.., ..20]).into_dyn(),
        names: vec![],
        ..dataset::read(&unseen).unwrap()
    };
    let narrow_path = dir.path().join("narrow.npy");
    dataset::write(&narrow_path, &Dataset { format: dataset::FileFormat::Npy, ..narrow }).unwrap();
    let message = compress::compress(&options_for(&model, &narrow_path, &packed, None)).unwrap_err().to_string();
    assert!(message.contains("24 columns") && message.contains("narrow.npy"), "{message}");
    let message = compress::compress(&options_for(&model, &unseen, &packed, Some(ErrorBound::Absolute(0.0))))
        .unwrap_err()
        .to_string();
    assert!(message.contains("positive"), "{message}");
}

/// The latent a hardware encoder stores is exactly what the quantized encoder computes, and
/// the error bound still holds on top of it.
#[test]
fn a_hardware_encoder_stores_the_codes_the_fpga_would_emit() {
    use balerc_compiler::quant::PrecisionConfig;
    use balerc_compiler::sim::Simulator;
    use balerc_compiler::{lower, LowerOptions};

    let Some((dir, model, unseen)) = trained("jets_pythia_24col.npz", 3000, 1500, SMALL) else { return };
    let precision = PrecisionConfig::uniform("ap_fixed<16,6>".parse().unwrap());
    let options = LowerOptions { part: Default::default(), precision: precision.clone(), calibration: None };
    let lowered = lower(&model.join(balerc_runtime::model_dir::ENCODER_ONNX), &options).unwrap();
    let build = dir.path().join("build");
    std::fs::create_dir(&build).unwrap();
    std::fs::write(build.join("quantized.json"), serde_json::to_string(&lowered.model).unwrap()).unwrap();

    let packed = dir.path().join("hardware.baler");
    let bound = Some(ErrorBound::RelativeToRange(1e-3));
    let hardware = CompressOptions {
        encoder: EncoderChoice::HardwareBuild(build.clone()),
        ..options_for(&model, &unseen, &packed, bound)
    };
    compress::compress(&hardware).unwrap();
    let stored = compress::hardware_latent_codes(&packed).unwrap();

    let info = balerc_runtime::model_dir::load_info(&model).unwrap();
    let data = dataset::read(&unseen).unwrap();
    let n = &info.normalization;
    let normalized: Vec<f64> =
        data.values.indexed_iter().map(|(index, &v)| (v - n.offset[index[1]]) / n.scale[index[1]]).collect();
    let simulator = Simulator::new(&lowered.model);
    let expected = simulator.run(&simulator.quantize_input(&normalized).unwrap());
    assert_eq!(stored.len(), 1500 * 8);
    assert_eq!(stored, expected, "stored latent codes equal the simulator's");

    // The same precision given directly lowers the same encoder.
    let direct = dir.path().join("direct.baler");
    compress::compress(&CompressOptions {
        encoder: EncoderChoice::Precision(precision.clone()),
        ..options_for(&model, &unseen, &direct, bound)
    })
    .unwrap();
    assert_eq!(compress::hardware_latent_codes(&direct).unwrap(), expected);

    let out = dir.path().join("restored.npz");
    compress::decompress(&DecompressOptions {
        input: packed.clone(),
        output: out.clone(),
        model: Some(model.clone()),
        decoder_precision: None,
    })
    .unwrap();
    let restored = dataset::read(&out).unwrap();
    for column in 0..24 {
        let values = data.values.index_axis(ndarray::Axis(1), column);
        let range = values.fold(f64::NEG_INFINITY, |m, &v| m.max(v)) - values.fold(f64::INFINITY, |m, &v| m.min(v));
        let worst =
            (0..1500).map(|r| (restored.values[[r, column]] - data.values[[r, column]]).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-3 * range, "column {column}: error {worst}");
    }

    // The decoder's quantized twin decodes a lossy file to exactly what the simulator computes
    // from the stored codes; a bounded file refuses it, since its bound is the float decoder's.
    let lossy = dir.path().join("lossy.baler");
    compress::compress(&CompressOptions {
        encoder: EncoderChoice::HardwareBuild(build.clone()),
        ..options_for(&model, &unseen, &lossy, None)
    })
    .unwrap();
    let twin = |input: PathBuf| DecompressOptions {
        input,
        output: out.clone(),
        model: Some(model.clone()),
        decoder_precision: Some(precision.clone()),
    };
    compress::decompress(&twin(lossy.clone())).unwrap();
    let restored = dataset::read(&out).unwrap();
    let decoder = lower(&model.join(balerc_runtime::model_dir::DECODER_ONNX), &options).unwrap().model;
    let latent_ty = lowered.model.output().ty;
    let latent: Vec<f64> =
        compress::hardware_latent_codes(&lossy).unwrap().iter().map(|&c| latent_ty.to_f64(c)).collect();
    let simulator = Simulator::new(&decoder);
    let decoded = simulator.run(&simulator.quantize_input(&latent).unwrap());
    for (i, (&code, &got)) in decoded.iter().zip(restored.values.iter()).enumerate() {
        let value = decoder.output().ty.to_f64(code) * n.scale[i % 24] + n.offset[i % 24];
        let value = if i % 24 == 8 { value.round() } else { value };
        assert_eq!(got, value as f32 as f64, "value {i}");
    }
    let message = compress::decompress(&twin(packed.clone())).unwrap_err().to_string();
    assert!(message.contains("without a decoder precision"), "{message}");

    // A build of another model is refused by name.
    let other = trained("jets_pythia_24col.npz", 500, 10, &["model.hidden=[8]", "model.latent=8"]).unwrap();
    let lowered = lower(&other.1.join(balerc_runtime::model_dir::ENCODER_ONNX), &options).unwrap();
    std::fs::write(build.join("quantized.json"), serde_json::to_string(&lowered.model).unwrap()).unwrap();
    let message = compress::compress(&hardware).unwrap_err().to_string();
    assert!(message.contains("not the encoder of the model"), "{message}");
}

/// The data with rows inserted at the given positions: every value a thousand column
/// ranges beyond the column's largest.
fn with_absurd_rows(data: &Dataset, positions: &[usize]) -> Dataset {
    let values = &data.values;
    let (low, high) = (
        values.fold_axis(ndarray::Axis(0), f64::INFINITY, |m, &v| m.min(v)),
        values.fold_axis(ndarray::Axis(0), f64::NEG_INFINITY, |m, &v| m.max(v)),
    );
    let absurd = (&high + (&high - &low) * 1000.0).mapv(|v| f64::from(v.round() as f32));
    let mut rows: Vec<ndarray::ArrayViewD<f64>> = values.outer_iter().collect();
    for &p in positions {
        rows.insert(p, absurd.view());
    }
    let stacked = ndarray::stack(ndarray::Axis(0), &rows).unwrap();
    Dataset { values: stacked, ..data.clone() }
}

#[test]
fn samples_far_from_the_training_density_are_stored_in_full() {
    let settings: Vec<&str> = SMALL.iter().copied().chain(["training.outlier_rounds=1"]).collect();
    let Some((dir, model, unseen)) = trained("jets_pythia_24col.npz", 3000, 2000, &settings) else { return };
    assert!(model.join(model_dir::OUTLIERS_FILE).is_file());
    let rounds = model_dir::load_info(&model).unwrap().training.outlier_rounds;
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert_eq!(rounds[1].trained_on, 3000 - rounds[0].flagged);

    let positions = [5, 800, 2002];
    let injected = dir.path().join("data/injected.npz");
    dataset::write(&injected, &with_absurd_rows(&dataset::read(&unseen).unwrap(), &positions)).unwrap();
    for bound in [None, Some(ErrorBound::Absolute(0.05))] {
        let compressed = |input: &Path, name: &str| {
            let packed = dir.path().join(format!("{name}.baler"));
            let options =
                CompressOptions { outliers: OutlierChoice::Auto, ..options_for(&model, input, &packed, bound) };
            let report = compress::compress(&options).unwrap();
            let out = dir.path().join(format!("{name}.npz"));
            let model = Some(model.clone());
            compress::decompress(&DecompressOptions {
                input: packed,
                output: out.clone(),
                model,
                decoder_precision: None,
            })
            .unwrap();
            (report.outlier_samples.unwrap(), dataset::read(&out).unwrap())
        };
        let (clean_flagged, clean) = compressed(&unseen, "clean");
        let (flagged, restored) = compressed(&injected, "injected");
        assert_eq!(flagged, clean_flagged + positions.len(), "{bound:?}");
        let original = dataset::read(&injected).unwrap();
        let mut clean_rows = clean.values.outer_iter();
        for (row, restored_row) in restored.values.outer_iter().enumerate() {
            match positions.contains(&row) {
                true => assert_eq!(restored_row, original.values.index_axis(ndarray::Axis(0), row), "row {row}"),
                false => {
                    assert_eq!(restored_row, clean_rows.next().unwrap(), "row {row} decodes as without the absurd rows")
                }
            }
        }
    }

    std::fs::remove_file(model.join(model_dir::OUTLIERS_FILE)).unwrap();
    let packed = dir.path().join("refused.baler");
    let options = CompressOptions { outliers: OutlierChoice::Auto, ..options_for(&model, &unseen, &packed, None) };
    let error = compress::compress(&options).unwrap_err().to_string();
    assert!(error.contains(&model.display().to_string()) && error.contains("--outliers auto"), "{error}");
}
