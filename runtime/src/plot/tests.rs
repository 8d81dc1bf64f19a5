use std::path::Path;
use std::time::Instant;

use super::*;

fn line_chart(log_y: bool) -> Figure {
    let falling = |scale: f64| (1..=50).map(|epoch| (epoch as f64, scale / epoch as f64)).collect();
    Figure::Line(LineChart {
        title: "Falling lines".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        series: vec![
            Series { label: "first".into(), points: falling(1.0) },
            Series { label: "second".into(), points: falling(2.0) },
        ],
        log_y,
    })
}

/// Normally distributed samples (Box-Muller), the same on every run.
fn bell(count: usize, shift: f64) -> Vec<f64> {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut random = StdRng::seed_from_u64(count as u64 ^ shift.to_bits());
    let mut normal = move || {
        let (u, v): (f64, f64) = (1.0 - random.random::<f64>(), random.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    (0..count).map(|_| normal() + shift).collect()
}

fn histogram(log_y: bool, count: usize) -> Figure {
    Figure::Histogram(Histogram {
        title: "Column 3".into(),
        x_label: "value".into(),
        series: vec![("original".into(), bell(count, 0.0)), ("reconstructed".into(), bell(count, 0.05))],
        bins: 50,
        log_y,
    })
}

fn heatmap(width: usize, height: usize) -> Figure {
    let value = |i: usize| {
        let (x, y) = ((i % width) as f64 / width as f64, (i / width) as f64 / height as f64);
        (6.0 * x).sin() * (4.0 * y).cos() + y
    };
    Figure::Heatmap(Heatmap {
        title: "Velocity field".into(),
        width,
        height,
        values: (0..width * height).map(value).collect(),
    })
}

/// Width and height from a PNG's header, after checking it decodes.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(!bytes.is_empty(), "{} is empty", path.display());
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
    (image.width(), image.height())
}

fn assert_saved(figure: &Figure, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let paths = save(figure, &dir.path().join(name)).unwrap();
    assert_eq!(paths, [dir.path().join(format!("{name}.png")), dir.path().join(format!("{name}.svg"))]);
    assert_eq!(png_size(&paths[0]), style::PANEL_SIZE);
    let svg = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(svg.contains(figure.title()), "the SVG lacks the title {:?}", figure.title());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "temporary files were left behind");
}

#[test]
fn line_chart_is_saved_as_png_and_svg() {
    assert_saved(&line_chart(false), "line");
}

#[test]
fn log_scale_line_chart_is_saved_as_png_and_svg() {
    assert_saved(&line_chart(true), "log_line");
}

#[test]
fn histogram_is_saved_as_png_and_svg() {
    assert_saved(&histogram(false, 10_000), "histogram");
    assert_saved(&histogram(true, 10_000), "log_histogram");
}

#[test]
fn heatmap_is_saved_as_png_and_svg_with_its_image_embedded() {
    let figure = heatmap(40, 25);
    assert_saved(&figure, "field");
    let dir = tempfile::tempdir().unwrap();
    let paths = save(&figure, &dir.path().join("field")).unwrap();
    let svg = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(svg.contains("\"data:image/png;base64,"));
}

#[test]
fn loss_curve_is_a_log_scale_chart_of_train_and_validation() {
    let history = [(1, 0.5, Some(0.6)), (2, 0.25, None), (3, 0.125, Some(0.2))];
    let Figure::Line(chart) = loss_curve(&history) else { panic!("a loss curve is a line chart") };
    assert!(chart.log_y);
    assert_eq!((chart.x_label.as_str(), chart.y_label.as_str()), ("epoch", "loss (MSE, normalized)"));
    assert_eq!(chart.series[0], Series { label: "train".into(), points: vec![(1.0, 0.5), (2.0, 0.25), (3.0, 0.125)] });
    assert_eq!(chart.series[1], Series { label: "validation".into(), points: vec![(1.0, 0.6), (3.0, 0.2)] });
    assert_saved(&loss_curve(&history), "loss");
}

#[test]
fn loss_curve_without_validation_has_only_train() {
    let Figure::Line(chart) = loss_curve(&[(1, 0.5, None), (2, 0.4, None)]) else { panic!() };
    assert_eq!(chart.series.len(), 1);
    assert_eq!(chart.series[0].label, "train");
}

#[test]
fn grid_is_columns_by_rows_panels() {
    let figures = [line_chart(true), histogram(false, 1000), heatmap(8, 8), histogram(true, 1000), line_chart(false)];
    let dir = tempfile::tempdir().unwrap();
    let paths = save_grid(&figures, 2, &dir.path().join("grid")).unwrap();
    let (width, height) = style::PANEL_SIZE;
    assert_eq!(png_size(&paths[0]), (2 * width, 3 * height));
    let svg = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(figures.iter().all(|figure| svg.contains(figure.title())));
}

#[test]
fn non_finite_values_are_skipped() {
    let Figure::Line(mut chart) =
        loss_curve(&[(1, 0.5, Some(f64::NAN)), (2, f64::INFINITY, Some(0.3)), (3, 0.2, None)])
    else {
        panic!()
    };
    chart.series[0].points.push((f64::NAN, 0.1));
    assert_saved(&Figure::Line(chart), "loss");
    let Figure::Histogram(mut histogram) = histogram(true, 1000) else { panic!() };
    histogram.series[0].1.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY]);
    assert_saved(&Figure::Histogram(histogram), "histogram");
    let Figure::Heatmap(mut field) = heatmap(10, 10) else { panic!() };
    field.values[0] = f64::NAN;
    field.values[99] = f64::NEG_INFINITY;
    assert_saved(&Figure::Heatmap(field), "field");
}

#[test]
fn log_scale_skips_values_that_are_not_positive() {
    let Figure::Line(mut chart) = line_chart(true) else { panic!() };
    chart.series[0].points.extend([(51.0, 0.0), (52.0, -1.0)]);
    assert_saved(&Figure::Line(chart), "line");
}

/// Figures with almost nothing in them: one point, one repeated value, one cell, missing cells.
fn edge_cases() -> Vec<Figure> {
    let lone = Figure::Line(LineChart {
        title: "One epoch".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        series: vec![Series { label: "train".into(), points: vec![(1.0, 0.3)] }],
        log_y: true,
    });
    let constant = Figure::Histogram(Histogram {
        title: "Constant column".into(),
        x_label: "value".into(),
        series: vec![("original".into(), vec![2.0; 100])],
        bins: 10,
        log_y: false,
    });
    let flat = Figure::Heatmap(Heatmap { title: "One cell".into(), width: 1, height: 1, values: vec![1.0] });
    let Figure::Heatmap(mut holes) = heatmap(12, 6) else { unreachable!() };
    holes.title = "Missing cells".into();
    holes.values[13] = f64::NAN;
    holes.values[40] = f64::INFINITY;
    vec![lone, constant, flat, Figure::Heatmap(holes)]
}

#[test]
fn nearly_empty_figures_still_draw() {
    for (index, figure) in edge_cases().iter().enumerate() {
        assert_saved(figure, &format!("edge_case_{index}"));
    }
}

#[test]
fn empty_series_is_an_error_naming_the_figure() {
    let figures = [
        loss_curve(&[]),
        loss_curve(&[(1, f64::NAN, None)]),
        Figure::Histogram(Histogram {
            title: "Empty column".into(),
            x_label: "value".into(),
            series: vec![("original".into(), vec![1.0]), ("reconstructed".into(), vec![])],
            bins: 10,
            log_y: false,
        }),
        Figure::Histogram(Histogram {
            title: "No series".into(),
            x_label: "x".into(),
            series: vec![],
            bins: 10,
            log_y: false,
        }),
        Figure::Heatmap(Heatmap { title: "All NaN".into(), width: 2, height: 1, values: vec![f64::NAN; 2] }),
    ];
    let dir = tempfile::tempdir().unwrap();
    for figure in &figures {
        let error = save(figure, &dir.path().join("empty")).unwrap_err();
        assert!(matches!(error, PlotError::NothingToDraw { .. }), "{error:?}");
        assert!(error.to_string().contains(&format!("\"{}\"", figure.title())), "{error}");
    }
    let error = save(&figures[2], &dir.path().join("empty")).unwrap_err();
    assert!(error.to_string().contains("\"reconstructed\""), "{error}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "a failed figure left files behind");
}

#[test]
fn malformed_figures_are_rejected() {
    let wrong_size = Figure::Heatmap(Heatmap { title: "Torn".into(), width: 3, height: 2, values: vec![0.0; 5] });
    let no_bins = Figure::Histogram(Histogram {
        title: "Binless".into(),
        x_label: "x".into(),
        series: vec![("a".into(), vec![1.0])],
        bins: 0,
        log_y: false,
    });
    let dir = tempfile::tempdir().unwrap();
    for figure in [wrong_size, no_bins] {
        let error = save(&figure, &dir.path().join("bad")).unwrap_err();
        assert!(matches!(&error, PlotError::Malformed { title, .. } if title == figure.title()), "{error:?}");
    }
    assert!(matches!(save_grid(&[], 2, &dir.path().join("none")), Err(PlotError::EmptyGrid)));
    assert!(matches!(save_grid(&[line_chart(false)], 0, &dir.path().join("none")), Err(PlotError::EmptyGrid)));
}

#[test]
fn writing_into_a_missing_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("no_such_directory").join("loss");
    let error = save(&line_chart(false), &stem).unwrap_err();
    assert!(matches!(error, PlotError::Write { .. }), "{error:?}");
    assert!(error.to_string().contains(&dir.path().join("no_such_directory").join("loss.png").display().to_string()));
}

#[test]
fn a_dot_in_the_stem_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let paths = save(&line_chart(false), &dir.path().join("loss.v2")).unwrap();
    assert_eq!(paths[0].file_name().unwrap(), "loss.v2.png");
    assert_eq!(paths[1].file_name().unwrap(), "loss.v2.svg");
}

/// Saves every kind of figure to `$BALERC_PLOT_GALLERY` (or the temporary directory) to look at:
/// `cargo test --release -p balerc-runtime --lib -- plot::tests::gallery --ignored --nocapture`.
#[test]
#[ignore = "writes figures for a person to look at"]
fn gallery() {
    let dir = std::env::var_os("BALERC_PLOT_GALLERY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("balerc-plot-gallery"));
    std::fs::create_dir_all(&dir).unwrap();
    let history: Vec<_> = (1..=200).map(realistic_losses).collect();
    save(&loss_curve(&history), &dir.join("loss_curve")).unwrap();
    save(&loss_curve(&history[60..]), &dir.join("loss_curve_late")).unwrap();
    save(&line_chart(false), &dir.join("line")).unwrap();
    save(&histogram(false, 100_000), &dir.join("histogram")).unwrap();
    save(&histogram(true, 100_000), &dir.join("histogram_log")).unwrap();
    save(&heatmap(120, 60), &dir.join("heatmap")).unwrap();
    let panels = [loss_curve(&history), histogram(true, 10_000), heatmap(30, 30), histogram(false, 10_000)];
    save_grid(&panels, 2, &dir.join("grid")).unwrap();
    save_grid(&edge_cases(), 2, &dir.join("edge_cases")).unwrap();
    println!("gallery written to {}", dir.display());
}

/// Training and validation losses shaped like a real run: fast early fall, slow tail, noise.
fn realistic_losses(epoch: usize) -> (usize, f64, Option<f64>) {
    let e = epoch as f64;
    let noise = 1.0 + 0.04 * (e * 1.7).sin();
    let train = (0.002 + 0.3 * (-e / 12.0).exp() + 0.02 / e) * noise;
    (epoch, train, Some(train * 1.15 + 0.0004))
}

/// Times the two figures a training run and an evaluation write most:
/// `cargo test --release -p balerc-runtime --lib -- plot::tests::timing --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn timing() {
    let dir = tempfile::tempdir().unwrap();
    let history: Vec<_> = (1..=200).map(realistic_losses).collect();
    let start = Instant::now();
    save(&loss_curve(&history), &dir.path().join("loss")).unwrap();
    println!("loss curve of 200 epochs: {:?}", start.elapsed());

    let panels: Vec<Figure> = (0..24)
        .map(|column| {
            Figure::Histogram(Histogram {
                title: format!("Column {column}"),
                x_label: "value".into(),
                series: vec![
                    ("original".into(), bell(100_000, 0.0)),
                    ("reconstructed".into(), bell(100_000, 0.01 * column as f64)),
                ],
                bins: 100,
                log_y: false,
            })
        })
        .collect();
    let start = Instant::now();
    let paths = save_grid(&panels, 4, &dir.path().join("grid")).unwrap();
    println!("24-panel histogram grid, 2 x 100k values each: {:?}", start.elapsed());
    for path in paths {
        println!("  {} {} kB", path.display(), std::fs::metadata(&path).unwrap().len() / 1024);
    }
}

#[test]
fn a_tick_at_zero_reads_0_whatever_the_steps_added_up_to() {
    // The residual axes of a report: symmetric ranges whose steps do not add up to 0 exactly.
    for half in [0.0275, 1.155, 0.01876, 0.5, 7.3e-3] {
        let axis = axis::Axis::new(axis::Scale::Linear, -half, half, 0.03);
        let labels: Vec<&str> = axis.tick_labels().collect();
        assert!(labels.iter().any(|label| label.parse::<f64>() == Ok(0.0)), "{half}: {labels:?}");
        assert!(labels.iter().all(|label| !label.contains('e')), "{half}: {labels:?}");
    }
}
