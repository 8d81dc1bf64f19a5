use std::path::Path;
use std::time::Instant;

use ndarray::{ArrayD, IxDyn};

use super::*;
use crate::dataset::{FileFormat, StoredDtype};

fn dataset(shape: &[usize], values: Vec<f64>, names: &[&str]) -> Dataset {
    Dataset {
        values: ArrayD::from_shape_vec(IxDyn(shape), values).unwrap(),
        names: names.iter().map(|name| name.to_string()).collect(),
        dtype: StoredDtype::F64,
        format: FileFormat::Npz,
    }
}

fn input<'a>(original: &'a Dataset, reconstructed: &'a Dataset) -> EvaluationInput<'a> {
    EvaluationInput {
        original,
        reconstructed,
        compressed_bytes: Some(100),
        model_bytes: Some(400),
        original_bytes: 1000,
        loss_history: None,
    }
}

/// Column "a<b": residuals +1, -1, +1, -1 over originals 2, 4, 0, 10; column "c" constant and
/// reconstructed exactly. Rows are written out as they would appear in a file.
fn small_table() -> (Dataset, Dataset) {
    let original = dataset(&[4, 2], vec![2.0, 1.0, 4.0, 1.0, 0.0, 1.0, 10.0, 1.0], &["a<b", "c"]);
    let reconstructed = dataset(&[4, 2], vec![3.0, 1.0, 3.0, 1.0, 1.0, 1.0, 9.0, 1.0], &["a<b", "c"]);
    (original, reconstructed)
}

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() <= 1e-12 * expected.abs().max(1.0), "{actual} is not {expected}");
}

#[test]
fn column_metrics_match_hand_computed_values() {
    let (original, reconstructed) = small_table();
    let metrics = compute(&input(&original, &reconstructed)).unwrap();
    let a = &metrics.columns[0];
    assert_eq!(a.name, "a<b");
    assert_close(a.residual_mean, 0.0);
    assert_close(a.residual_rms, 1.0);
    // Responses 1/2, -1/4 and -1/10; the original 0 is skipped.
    assert_close(a.response_mean.unwrap(), 0.05);
    assert_close(a.response_rms.unwrap(), (0.3225f64 / 3.0).sqrt());
    assert_eq!(a.response_skipped, 1);
    assert_close(a.max_abs_error, 1.0);
    assert_close(a.range, 10.0);
    assert_close(a.nrmse.unwrap(), 0.1);
    assert_close(a.psnr_db.unwrap(), 20.0);
}

#[test]
fn a_constant_exactly_reconstructed_column_has_no_nrmse_or_psnr() {
    let (original, reconstructed) = small_table();
    let c = &compute(&input(&original, &reconstructed)).unwrap().columns[1];
    assert_eq!((c.residual_rms, c.range, c.max_abs_error), (0.0, 0.0, 0.0));
    assert_eq!((c.response_mean, c.response_rms, c.response_skipped), (Some(0.0), Some(0.0), 0));
    assert_eq!((c.nrmse, c.psnr_db), (None, None));
}

#[test]
fn overall_metrics_span_all_values() {
    let (original, reconstructed) = small_table();
    let overall = compute(&input(&original, &reconstructed)).unwrap().overall;
    // Squared residuals sum to 4 over 8 values; the originals run from 0 to 10.
    assert_close(overall.max_abs_error, 1.0);
    assert_close(overall.nrmse.unwrap(), 0.5f64.sqrt() / 10.0);
    assert_close(overall.psnr_db.unwrap(), 20.0 * (10.0 / 0.5f64.sqrt()).log10());
    // The constant column has no range, so only "a<b" counts.
    assert_close(overall.max_rel_error_of_range.unwrap(), 0.1);
}

#[test]
fn compression_ratios_with_and_without_the_model() {
    let (original, reconstructed) = small_table();
    let compression = compute(&input(&original, &reconstructed)).unwrap().compression.unwrap();
    assert_eq!(
        (compression.compressed_bytes, compression.model_bytes, compression.original_bytes),
        (100, Some(400), 1000)
    );
    assert_close(compression.ratio, 10.0);
    assert_close(compression.ratio_with_model.unwrap(), 2.0);

    let unknown = EvaluationInput { compressed_bytes: None, ..input(&original, &reconstructed) };
    assert_eq!(compute(&unknown).unwrap().compression, None);
}

#[test]
fn shapes_that_differ_are_an_error() {
    let original = dataset(&[4, 2], vec![0.0; 8], &[]);
    let reconstructed = dataset(&[2, 4], vec![0.0; 8], &[]);
    let error = compute(&input(&original, &reconstructed)).unwrap_err();
    assert_eq!(error, "original has shape [4, 2], reconstructed [2, 4]");
}

#[test]
fn a_value_that_is_not_finite_is_an_error_naming_where_it_is() {
    let (original, mut reconstructed) = small_table();
    reconstructed.values[[2, 1]] = f64::NAN;
    let error = compute(&input(&original, &reconstructed)).unwrap_err();
    assert!(error.contains("reconstructed") && error.contains("row 2, column 'c'"), "{error}");
}

#[test]
fn columns_without_names_are_named_by_position() {
    let original = dataset(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[]);
    let metrics = compute(&input(&original, &original)).unwrap();
    let names: Vec<&str> = metrics.columns.iter().map(|column| column.name.as_str()).collect();
    assert_eq!(names, ["column 0", "column 1", "column 2"]);
}

#[test]
fn the_table_text_lists_every_column_and_the_ratios() {
    let (original, reconstructed) = small_table();
    let text = table(&compute(&input(&original, &reconstructed)).unwrap());
    print!("{text}");
    let row_of = |name: &str| text.lines().find(|line| line.starts_with(name)).unwrap().to_string();
    assert!(row_of("a<b").contains(" 0.1000 ") && row_of("a<b").ends_with("20.0"), "{}", row_of("a<b"));
    assert!(row_of("c ").ends_with('-'));
    assert!(text.contains("ratio 10.00") && text.contains("ratio 2.00"));
}

#[test]
fn counts_get_one_bin_per_possible_value() {
    let original: Vec<f64> = (0..200).map(|i| (i % 4) as f64).collect();
    let reconstructed: Vec<f64> = original.iter().enumerate().map(|(i, v)| v + 0.02 * ((i % 5) as f64 - 2.0)).collect();
    assert_eq!(bins::for_histogram(&original, &[&original, &reconstructed]), 4);
    assert_eq!(bins::for_histogram(&original, &[&original]), 4);
    let counts: Vec<f64> = (0..=72).map(f64::from).collect();
    assert_eq!(bins::for_histogram(&counts, &[&counts]), 73);
}

#[test]
fn continuous_values_get_the_usual_bins() {
    let values: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.1).sin()).collect();
    assert_eq!(bins::for_histogram(&values, &[&values]), bins::CONTINUOUS);
}

/// Three 4 x 5 frames; frame 1 is reconstructed worst.
fn small_fields() -> (Dataset, Dataset) {
    let values: Vec<f64> = (0..60).map(|i| (i as f64 * 0.37).sin()).collect();
    let error = |i: usize| if i / 20 == 1 { 0.1 } else { 0.01 } * if i.is_multiple_of(2) { 1.0 } else { -1.0 };
    let reconstructed = values.iter().enumerate().map(|(i, value)| value + error(i)).collect();
    (dataset(&[3, 4, 5], values, &[]), dataset(&[3, 4, 5], reconstructed, &[]))
}

#[test]
fn fields_are_one_column_pictured_frame_by_frame() {
    let (original, reconstructed) = small_fields();
    let input = input(&original, &reconstructed);
    let metrics = compute(&input).unwrap();
    assert_eq!(metrics.columns.len(), 1);
    assert_eq!(metrics.columns[0].name, "field");
    assert_close(metrics.columns[0].max_abs_error, 0.1);

    let out = tempfile::tempdir().unwrap();
    let files = write_report(&input, &metrics, out.path()).unwrap();
    for stem in ["frames_first", "frames_worst", "residuals"] {
        assert!(files.contains(&out.path().join(format!("{stem}.png"))), "{stem}.png missing from {files:?}");
    }
    assert!(!out.path().join("comparison.png").exists(), "fields have no per-variable histograms");
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("Frame 1, the one with the largest RMS error"), "{page}");
}

#[test]
fn write_report_writes_metrics_page_and_plots() {
    let (original, reconstructed) = small_table();
    let history = vec![(1, 1.0, Some(1.2)), (2, 0.5, Some(0.7)), (3, 0.3, Some(0.5))];
    let input = EvaluationInput { loss_history: Some(history), ..input(&original, &reconstructed) };
    let metrics = compute(&input).unwrap();
    let out = tempfile::tempdir().unwrap();
    let files = write_report(&input, &metrics, out.path()).unwrap();
    for file in &files {
        assert!(file.is_file(), "{} was not written", file.display());
    }
    let names: Vec<String> = files.iter().map(|file| file.file_name().unwrap().to_string_lossy().into()).collect();
    for expected in
        ["metrics.json", "metrics.txt", "index.html", "comparison.png", "residuals.svg", "responses.png", "loss.png"]
    {
        assert!(names.iter().any(|name| name == expected), "{expected} missing from {names:?}");
    }

    let json = std::fs::read_to_string(out.path().join("metrics.json")).unwrap();
    // serde_json reads decimals back to within an ulp, so compare as the table shows them.
    let parsed: Metrics = serde_json::from_str(&json).unwrap();
    assert_eq!(table(&parsed), table(&metrics));
    assert_eq!(std::fs::read_to_string(out.path().join("metrics.txt")).unwrap(), table(&metrics));

    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("<td>a&lt;b</td>") && page.contains("<td>c</td>"), "{page}");
    assert!(!page.contains("a<b"), "a column name went into the page unescaped");
    assert!(page.contains("src=\"comparison.png\"") && page.contains("src=\"loss.png\""));
}

#[test]
fn jets_against_themselves_with_noise_of_a_thousandth_of_the_range() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/jets_pythia_24col.npz"));
    if !path.exists() {
        eprintln!("skipped: {} is absent", path.display());
        return;
    }
    let original = crate::dataset::read(path).unwrap();
    let (reconstructed, ranges) = with_gaussian_noise(&original, 1e-3, 12341);
    let original_bytes = std::fs::metadata(path).unwrap().len();
    let input = EvaluationInput { compressed_bytes: None, original_bytes, ..input(&original, &reconstructed) };

    let start = Instant::now();
    let metrics = compute(&input).unwrap();
    println!("metrics of {:?} values in {:?}", original.values.shape(), start.elapsed());
    print!("{}", table(&metrics));

    for column in &metrics.columns {
        let nrmse = column.nrmse.unwrap();
        assert!((nrmse / 1e-3 - 1.0).abs() < 0.03, "{}: NRMSE {nrmse}, expected about 1e-3", column.name);
    }
    // Overall, each column's noise counts in proportion to its range, against the range of all values.
    let mean_square_noise = ranges.iter().map(|range| (1e-3 * range).powi(2)).sum::<f64>() / ranges.len() as f64;
    let expected = mean_square_noise.sqrt() / global_range(&original);
    let overall = metrics.overall.nrmse.unwrap();
    assert!((overall / expected - 1.0).abs() < 0.03, "overall NRMSE {overall}, expected about {expected}");

    let out = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let files = write_report(&input, &metrics, out.path()).unwrap();
    println!("report of {} files in {:?}", files.len(), start.elapsed());
}

/// The data plus normal noise of `share` times each column's range; also returns the ranges.
fn with_gaussian_noise(original: &Dataset, share: f64, seed: u64) -> (Dataset, Vec<f64>) {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut random = StdRng::seed_from_u64(seed);
    let mut normal = move || {
        let (u, v): (f64, f64) = (1.0 - random.random::<f64>(), random.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let ranges: Vec<f64> = original.values.columns().into_iter().map(|column| range(column.iter())).collect();
    let mut reconstructed = original.clone();
    for mut row in reconstructed.values.rows_mut() {
        for (value, range) in row.iter_mut().zip(&ranges) {
            *value += share * range * normal();
        }
    }
    (reconstructed, ranges)
}

fn global_range(dataset: &Dataset) -> f64 {
    range(dataset.values.iter())
}

fn range<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &v| (low.min(v), high.max(v)));
    high - low
}

/// The reconstruction of `original` with every residual scaled by `factor`.
fn scaled_residuals(original: &Dataset, reconstructed: &Dataset, factor: f64) -> Dataset {
    let values = original.values.clone() + (&reconstructed.values - &original.values) * factor;
    Dataset { values, ..reconstructed.clone() }
}

fn labelled(original: &Dataset, runs: &[(&str, &Dataset)]) -> Vec<side_by_side::Labelled> {
    runs.iter()
        .map(|(label, data)| side_by_side::Labelled {
            label: label.to_string(),
            metrics: compute(&input(original, data)).unwrap(),
        })
        .collect()
}

#[test]
fn the_comparison_page_overlays_every_reconstruction_on_the_original() {
    let (original, float) = small_table();
    let coarse = scaled_residuals(&original, &float, 3.0);
    let runs = labelled(&original, &[("float", &float), ("fpga", &coarse)]);
    let out = tempfile::tempdir().unwrap();
    let files = side_by_side::write(&runs, &original, &[&float, &coarse], out.path()).unwrap();
    for stem in ["comparison", "residuals"] {
        assert!(files.contains(&out.path().join(format!("{stem}.png"))), "{stem}.png missing from {files:?}");
        // One legend entry per series: the original (on the distributions) and each label.
        let svg = std::fs::read_to_string(out.path().join(format!("{stem}.svg"))).unwrap();
        let legend = |label: &str| svg.contains(&format!(">\n{label}\n</text>"));
        assert!(legend("float") && legend("fpga"), "{stem}.svg lacks a label");
        assert_eq!(legend("original"), stem == "comparison", "{stem}.svg");
    }
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("<img src=\"comparison.png\"") && page.contains("<img src=\"residuals.png\""), "{page}");
    assert!(page.contains("float/index.html") && page.contains("fpga NRMSE"), "{page}");

    let mismatched = side_by_side::write(&runs, &original, &[&float], out.path()).unwrap_err();
    assert!(mismatched.contains("1 reconstructions for 2 labels"), "{mismatched}");
}

#[test]
fn the_comparison_of_fields_shows_each_reconstruction_of_the_first_frame() {
    let (original, float) = small_fields();
    let coarse = scaled_residuals(&original, &float, 3.0);
    let runs = labelled(&original, &[("float", &float), ("fpga", &coarse)]);
    let out = tempfile::tempdir().unwrap();
    side_by_side::write(&runs, &original, &[&float, &coarse], out.path()).unwrap();
    let svg = std::fs::read_to_string(out.path().join("frames_first.svg")).unwrap();
    for title in ["frame 0: original", "frame 0: float", "frame 0: fpga", "frame 0: fpga - original", "every frame"] {
        assert!(svg.contains(title), "{title} missing");
    }
}
