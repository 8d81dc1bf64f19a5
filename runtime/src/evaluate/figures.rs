//! Baler's comparison plots: for a table, each variable's distribution before and after, its
//! residuals and its responses; for fields, frames as images side by side with their difference;
//! and the training loss when its history is known.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::bins;
use super::data::{Compared, Kind};
use crate::plot::{self, Figure, Heatmap, Histogram};

/// Panels to a row in a grid of per-variable histograms.
const GRID_COLUMNS: usize = 4;
/// Responses shown: the central 99 %, so that a few values near an original of zero, whose
/// response is huge, do not squeeze everything else into one bin.
const RESPONSE_SHARE_SHOWN: f64 = 0.99;

/// A plot written to disk, with what the report page says about it.
pub(super) struct WrittenPlot {
    pub stem: &'static str,
    pub caption: String,
    /// PNG first, then SVG.
    pub files: Vec<PathBuf>,
}

/// Training losses by epoch: (epoch, train, validation).
type History = [(usize, f64, Option<f64>)];

#[derive(Debug, Clone, Copy)]
enum Plot {
    Comparison,
    Residuals,
    Responses,
    FirstFrame,
    /// The frame with the largest RMS error.
    WorstFrame(usize),
    Loss,
}

/// Draws every plot that suits the data (several at once) and returns those written, in the
/// order the report shows them.
pub(super) fn write(data: &Compared, history: Option<&History>, out: &Path) -> Result<Vec<WrittenPlot>, String> {
    let history = history.filter(|history| !history.is_empty());
    let mut plots = match data.kind {
        Kind::Table => vec![Plot::Comparison, Plot::Residuals, Plot::Responses],
        Kind::Fields { .. } => vec![Plot::FirstFrame, Plot::WorstFrame(worst_frame(data)), Plot::Residuals],
    };
    if history.is_some() {
        plots.push(Plot::Loss);
    }
    let written: Vec<Option<WrittenPlot>> = plots
        .into_par_iter()
        .map(|plot| plot.write(data, history.unwrap_or_default(), out))
        .collect::<Result<_, _>>()?;
    Ok(written.into_iter().flatten().collect())
}

impl Plot {
    /// None when there is nothing to draw, as for responses when every original value is zero.
    fn write(self, data: &Compared, history: &History, out: &Path) -> Result<Option<WrittenPlot>, String> {
        let (figures, columns) = self.figures(data, history);
        if figures.is_empty() {
            return Ok(None);
        }
        let stem = self.stem();
        let files = plot::save_grid(&figures, columns, &out.join(stem))
            .map_err(|error| format!("cannot draw {} in {}: {error}", stem, out.display()))?;
        Ok(Some(WrittenPlot { stem, caption: self.caption(), files }))
    }

    fn stem(self) -> &'static str {
        match self {
            Plot::Comparison => "comparison",
            Plot::Residuals => "residuals",
            Plot::Responses => "responses",
            Plot::FirstFrame => "frames_first",
            Plot::WorstFrame(_) => "frames_worst",
            Plot::Loss => "loss",
        }
    }

    fn caption(self) -> String {
        match self {
            Plot::Comparison => "Original and reconstructed distribution of each variable (log scale)".into(),
            Plot::Residuals => "Residuals, reconstructed - original".into(),
            Plot::Responses => "Responses, (reconstructed - original) / original, clipped to their central 99 % \
                 (values whose original is 0 are left out)"
                .into(),
            Plot::FirstFrame => "The first frame: original, reconstructed and their difference".into(),
            Plot::WorstFrame(frame) => {
                format!(
                    "Frame {frame}, the one with the largest RMS error: original, reconstructed and their difference"
                )
            }
            Plot::Loss => "Training loss".into(),
        }
    }

    /// The panels and how many go to a row.
    fn figures(self, data: &Compared, history: &History) -> (Vec<Figure>, usize) {
        match self {
            Plot::Comparison => (per_column(data, comparison), GRID_COLUMNS),
            Plot::Residuals => (per_column(data, residuals), GRID_COLUMNS),
            Plot::Responses => (per_column(data, responses), GRID_COLUMNS),
            Plot::FirstFrame => (frame_images(data, 0, "frame 0"), 3),
            Plot::WorstFrame(frame) => (frame_images(data, frame, &format!("frame {frame} (worst)")), 3),
            Plot::Loss => (vec![plot::loss_curve(history)], 1),
        }
    }
}

/// The comparison page's plots: for a table, each variable's original with every labelled
/// reconstruction overlaid, and their residuals overlaid; for fields, the first frame's original
/// beside each reconstruction, and under them the residuals overlaid beside each difference.
pub(super) fn write_overlaid(runs: &[(&str, Compared)], out: &Path) -> Result<Vec<WrittenPlot>, String> {
    let Some((_, first)) = runs.first() else { return Ok(vec![]) };
    let plots = match first.kind {
        Kind::Table => vec![
            ("comparison", Plot::Comparison.caption(), (overlaid_columns(runs, comparison_overlaid), GRID_COLUMNS)),
            ("residuals", Plot::Residuals.caption(), (overlaid_columns(runs, residuals_overlaid), GRID_COLUMNS)),
        ],
        Kind::Fields { .. } => vec![(
            "frames_first",
            "The first frame: the original and each reconstruction; under them the residuals and each difference"
                .into(),
            (first_frames(runs), runs.len() + 1),
        )],
    };
    plots
        .into_iter()
        .map(|(stem, caption, (figures, columns))| {
            let files = plot::save_grid(&figures, columns, &out.join(stem))
                .map_err(|error| format!("cannot draw {stem} in {}: {error}", out.display()))?;
            Ok(WrittenPlot { stem, caption, files })
        })
        .collect()
}

/// One panel per column from every run's values of it.
fn overlaid_columns(runs: &[(&str, Compared)], panel: fn(&str, &[(&str, Compared)], usize) -> Figure) -> Vec<Figure> {
    let first = &runs[0].1;
    (0..first.columns()).into_par_iter().map(|column| panel(&first.names[column], runs, column)).collect()
}

fn comparison_overlaid(name: &str, runs: &[(&str, Compared)], column: usize) -> Figure {
    let original = runs[0].1.original_column(column).to_vec();
    let mut series = vec![("original".to_string(), original)];
    series.extend(runs.iter().map(|(label, data)| (label.to_string(), data.reconstructed_column(column).to_vec())));
    let all: Vec<&[f64]> = series.iter().map(|(_, values)| values.as_slice()).collect();
    let bins = bins::for_histogram(&series[0].1, &all);
    Figure::Histogram(Histogram { title: name.to_string(), x_label: name.to_string(), series, bins, log_y: true })
}

fn residuals_overlaid(name: &str, runs: &[(&str, Compared)], column: usize) -> Figure {
    let series: Vec<(String, Vec<f64>)> = runs
        .iter()
        .map(|(label, data)| {
            let pairs = data.reconstructed_column(column).into_iter().zip(data.original_column(column));
            (label.to_string(), pairs.map(|(reconstructed, original)| reconstructed - original).collect())
        })
        .collect();
    let all: Vec<&[f64]> = series.iter().map(|(_, values)| values.as_slice()).collect();
    let bins = bins::for_histogram(all[0], &all);
    Figure::Histogram(Histogram {
        title: name.to_string(),
        x_label: "reconstructed - original".into(),
        series,
        bins,
        log_y: false,
    })
}

/// Two rows: the original and each reconstruction of frame 0; the residuals of every run
/// overlaid, and each run's difference from the original.
fn first_frames(runs: &[(&str, Compared)]) -> Vec<Figure> {
    let Kind::Fields { height, width, .. } = runs[0].1.kind else { return vec![] };
    let cells = 0..height * width;
    let original = &runs[0].1.original_values()[cells.clone()];
    let image = |title: String, values: Vec<f64>| Figure::Heatmap(Heatmap { title, width, height, values });
    let mut figures = vec![image("frame 0: original".into(), original.to_vec())];
    for (label, data) in runs {
        figures.push(image(format!("frame 0: {label}"), data.reconstructed_values()[cells.clone()].to_vec()));
    }
    figures.push(residuals_overlaid("every frame", runs, 0));
    for (label, data) in runs {
        let reconstructed = &data.reconstructed_values()[cells.clone()];
        let difference = reconstructed.iter().zip(original).map(|(r, o)| r - o).collect();
        figures.push(image(format!("frame 0: {label} - original"), difference));
    }
    figures
}

/// One panel per column, leaving out columns that have nothing to show.
fn per_column(data: &Compared, panel: fn(&str, Vec<f64>, Vec<f64>) -> Option<Figure>) -> Vec<Figure> {
    let panels: Vec<Option<Figure>> = (0..data.columns())
        .into_par_iter()
        .map(|column| {
            let original = data.original_column(column).to_vec();
            let reconstructed = data.reconstructed_column(column).to_vec();
            panel(&data.names[column], original, reconstructed)
        })
        .collect();
    panels.into_iter().flatten().collect()
}

fn comparison(name: &str, original: Vec<f64>, reconstructed: Vec<f64>) -> Option<Figure> {
    let bins = bins::for_histogram(&original, &[&original, &reconstructed]);
    Some(Figure::Histogram(Histogram {
        title: name.to_string(),
        x_label: name.to_string(),
        series: vec![("original".into(), original), ("reconstructed".into(), reconstructed)],
        bins,
        log_y: true,
    }))
}

fn residuals(name: &str, original: Vec<f64>, reconstructed: Vec<f64>) -> Option<Figure> {
    let residuals: Vec<f64> =
        reconstructed.iter().zip(&original).map(|(reconstructed, original)| reconstructed - original).collect();
    // Whole when both are, as when counts are decompressed into an integer dtype.
    let bins = bins::for_histogram(&residuals, &[&residuals]);
    Some(Figure::Histogram(Histogram {
        title: name.to_string(),
        x_label: "reconstructed - original".into(),
        series: vec![("residual".into(), residuals)],
        bins,
        log_y: false,
    }))
}

/// None when every original value is zero, since no response is defined then.
fn responses(name: &str, original: Vec<f64>, reconstructed: Vec<f64>) -> Option<Figure> {
    let pairs = original.iter().zip(&reconstructed).filter(|(original, _)| **original != 0.0);
    let mut responses: Vec<f64> =
        pairs.map(|(original, reconstructed)| (reconstructed - original) / original).collect();
    if responses.is_empty() {
        return None;
    }
    let (low, high) = central_range(&mut responses.clone(), RESPONSE_SHARE_SHOWN);
    responses.iter_mut().for_each(|response| *response = response.clamp(low, high));
    Some(Figure::Histogram(Histogram {
        title: format!("{name} (clipped to central 99 %)"),
        x_label: "(reconstructed - original) / original".into(),
        series: vec![("response".into(), responses)],
        bins: bins::CONTINUOUS,
        log_y: false,
    }))
}

/// The range holding the central `share` of the values (reorders them, which is why they are a copy).
fn central_range(values: &mut [f64], share: f64) -> (f64, f64) {
    let last = values.len() - 1;
    let tail = ((1.0 - share) / 2.0 * last as f64).round() as usize;
    let low = *values.select_nth_unstable_by(tail, f64::total_cmp).1;
    let high = *values.select_nth_unstable_by(last - tail, f64::total_cmp).1;
    (low, high)
}

/// Original, reconstructed and their difference, side by side.
fn frame_images(data: &Compared, frame: usize, label: &str) -> Vec<Figure> {
    let Kind::Fields { height, width, .. } = data.kind else {
        return Vec::new();
    };
    let cells = frame * height * width..(frame + 1) * height * width;
    let original = &data.original_values()[cells.clone()];
    let reconstructed = &data.reconstructed_values()[cells];
    let difference = reconstructed.iter().zip(original).map(|(reconstructed, original)| reconstructed - original);
    let image = |what: &str, values: Vec<f64>| {
        Figure::Heatmap(Heatmap { title: format!("{label}: {what}"), width, height, values })
    };
    vec![
        image("original", original.to_vec()),
        image("reconstructed", reconstructed.to_vec()),
        image("reconstructed - original", difference.collect()),
    ]
}

/// The frame whose reconstruction has the largest RMS error (the first of equals).
fn worst_frame(data: &Compared) -> usize {
    let Kind::Fields { height, width, .. } = data.kind else {
        return 0;
    };
    let cells = height * width;
    let squared_errors: Vec<f64> = data
        .original_values()
        .par_chunks(cells)
        .zip(data.reconstructed_values().par_chunks(cells))
        .map(|(original, reconstructed)| original.iter().zip(reconstructed).map(|(o, r)| (r - o) * (r - o)).sum())
        .collect();
    let worst = squared_errors.iter().enumerate().reduce(|worst, frame| if frame.1 > worst.1 { frame } else { worst });
    worst.map_or(0, |(frame, _)| frame)
}
