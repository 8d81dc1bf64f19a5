//! Compress and decompress with a trained model: shapes, names and dtypes come back, the
//! error bound holds for every value, and damaged files or the wrong model are refused.

use balerc_runtime::compress::{self, CompressOptions, DecompressOptions, ErrorBound};
use balerc_runtime::dataset::{self, Dataset};
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
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data").join(name);
    if !source.exists() {
        eprintln!("skipping: {} is not here", source.display());
        return None;
    }
    let data = dataset::read(&source).unwrap();
    let dir = tempfile::tempdir().unwrap();
    project::create(dir.path()).unwrap();
    dataset::write(&dir.path().join("data/train.npz"), &data.slice_samples(0, train_rows)).unwrap();
    let unseen = dir.path().join("data/unseen.npz");
    dataset::write(&unseen, &data.slice_samples(train_rows, train_rows + test_rows)).unwrap();
    let mut overrides = vec!["data.input=['data/train.npz']".to_string(), "training.epochs=3".into()];
    overrides.extend(settings.iter().map(|s| s.to_string()));
    let project = Project::open(dir.path(), &overrides).unwrap();
    let outcome = training_run::run(&project, &Device::flex(), &mut Silent).unwrap();
    Some((dir, outcome.model_dir, unseen))
}

fn options(model: &Path, input: &Path, output: &Path, bound: Option<ErrorBound>) -> CompressOptions {
    CompressOptions {
        model: model.into(),
        input: input.into(),
        output: output.into(),
        latent_bits: 12,
        bound,
        embed_model: false,
        chunk_samples: None,
    }
}

fn round_trip(model: &Path, input: &Path, bound: Option<ErrorBound>, embed: bool) -> (Dataset, Dataset) {
    let dir = input.parent().unwrap();
    let packed = dir.join("data.baler");
    let out = dir.join("restored.npz");
    compress::compress(&CompressOptions { embed_model: embed, ..options(model, input, &packed, bound) }).unwrap();
    let model = (!embed).then(|| model.to_path_buf());
    compress::decompress(&DecompressOptions { input: packed, output: out.clone(), model }).unwrap();
    (dataset::read(input).unwrap(), dataset::read(&out).unwrap())
}

const SMALL: &[&str] = &["model.hidden=[32, 16]", "model.latent=8", "data.integer_columns=['n_const']"];

#[test]
fn a_relative_bound_holds_for_every_value_of_unseen_jets() {
    let Some((_dir, model, unseen)) = trained("jets_pythia_24col.npz", 4000, 3000, SMALL) else { return };
    let (original, restored) = round_trip(&model, &unseen, Some(ErrorBound::RelativeToRange(1e-3)), false);
    assert_eq!(
        (restored.names.clone(), restored.dtype, restored.values.shape()),
        (original.names.clone(), original.dtype, original.values.shape())
    );
    for column in 0..24 {
        let values = original.values.index_axis(ndarray::Axis(1), column);
        let range = values.fold(f64::NEG_INFINITY, |m, &v| m.max(v)) - values.fold(f64::INFINITY, |m, &v| m.min(v));
        let worst =
            (0..3000).map(|r| (restored.values[[r, column]] - original.values[[r, column]]).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-3 * range, "column {column}: error {worst} beyond {}", 1e-3 * range);
    }
    // Integer columns come back as integers.
    assert!((0..3000).all(|r| restored.values[[r, 8]].fract() == 0.0));
}

#[test]
fn an_absolute_bound_holds_and_the_decoder_can_travel_inside_the_file() {
    let Some((_dir, model, unseen)) = trained("jets_pythia_24col.npz", 3000, 2000, SMALL) else { return };
    let (original, restored) = round_trip(&model, &unseen, Some(ErrorBound::Absolute(0.05)), true);
    let worst = original.values.iter().zip(&restored.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 0.05, "error {worst}");
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
    let (original, restored) = round_trip(&model, &unseen, Some(ErrorBound::RelativeToRange(1e-2)), false);
    assert_eq!(restored.values.shape(), &[4, 50, 50]);
    let range = original.values.fold(f64::NEG_INFINITY, |m, &v| m.max(v))
        - original.values.fold(f64::INFINITY, |m, &v| m.min(v));
    let worst = original.values.iter().zip(&restored.values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-2 * range, "error {worst} of range {range}");
}

#[test]
fn damage_the_wrong_model_and_the_wrong_data_are_named() {
    let Some((dir, model, unseen)) = trained("jets_pythia_24col.npz", 1000, 500, SMALL) else { return };
    let packed = dir.path().join("x.baler");
    compress::compress(&options(&model, &unseen, &packed, None)).unwrap();
    let out = dir.path().join("out.npz");
    let decompress = |input: &Path, model: Option<&Path>| {
        compress::decompress(&DecompressOptions {
            input: input.into(),
            output: out.clone(),
            model: model.map(Into::into),
        })
    };

    let missing_model = decompress(&packed, None).unwrap_err();
    assert!(missing_model.contains("--model"), "{missing_model}");

    let other = trained("jets_pythia_24col.npz", 500, 10, &["model.hidden=[8]", "model.latent=4"]).unwrap();
    let wrong = decompress(&packed, Some(&other.1)).unwrap_err();
    assert!(wrong.contains("not compressed with the model"), "{wrong}");

    let bytes = std::fs::read(&packed).unwrap();
    let truncated = dir.path().join("truncated.baler");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let message = decompress(&truncated, Some(&model)).unwrap_err();
    assert!(message.contains("truncated.baler"), "{message}");
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    let corrupt = dir.path().join("corrupt.baler");
    std::fs::write(&corrupt, &flipped).unwrap();
    let message = decompress(&corrupt, Some(&model)).unwrap_err();
    assert!(message.contains("corrupt"), "{message}");
    assert!(!out.exists(), "no output after a failure");

    let narrow = Dataset {
        values: dataset::read(&unseen).unwrap().values.slice_move(ndarray::s![.., ..20]).into_dyn(),
        names: vec![],
        ..dataset::read(&unseen).unwrap()
    };
    let narrow_path = dir.path().join("narrow.npy");
    dataset::write(&narrow_path, &Dataset { format: dataset::FileFormat::Npy, ..narrow }).unwrap();
    let message = compress::compress(&options(&model, &narrow_path, &packed, None)).unwrap_err();
    assert!(message.contains("24 columns") && message.contains("narrow.npy"), "{message}");
    let message = compress::compress(&options(&model, &unseen, &packed, Some(ErrorBound::Absolute(0.0)))).unwrap_err();
    assert!(message.contains("positive"), "{message}");
}
