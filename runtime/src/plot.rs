//! Figures for people to look at: training loss curves now, and Baler-style evaluation plots
//! (original against reconstructed histograms, residuals, fields as images) as they are needed.
//!
//! A figure is plain data ([`Figure`]); [`save`] and [`save_grid`] draw it with `plotters` and
//! write it twice, as a PNG to look at and an SVG to put in a paper. Text is set in a font
//! compiled into the binary, so a figure looks the same on every machine and needs no system
//! font or font library.

mod axis;
mod curves;
mod font;
mod heatmap;
mod histogram;
mod line;
mod output;
mod style;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

/// One named line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Line chart: x/y axis labels, title, one line per series, optional log-scale y.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_y: bool,
}

/// Step histogram(s) over shared bins, e.g. original vs reconstructed of one column; optional log-y.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub title: String,
    pub x_label: String,
    pub series: Vec<(String, Vec<f64>)>,
    pub bins: usize,
    pub log_y: bool,
}

/// A 2-D field as a colour image with a colour bar (row-major values, width x height).
/// Row 0 is drawn at the top, as an image or a printed array reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub title: String,
    pub width: usize,
    pub height: usize,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Line(LineChart),
    Histogram(Histogram),
    Heatmap(Heatmap),
}

impl Figure {
    pub fn title(&self) -> &str {
        match self {
            Figure::Line(chart) => &chart.title,
            Figure::Histogram(histogram) => &histogram.title,
            Figure::Heatmap(heatmap) => &heatmap.title,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("figure \"{title}\" has nothing to draw: {reason}")]
    NothingToDraw { title: String, reason: String },
    #[error("figure \"{title}\" is malformed: {reason}")]
    Malformed { title: String, reason: String },
    #[error("a grid of figures needs at least one figure and one column")]
    EmptyGrid,
    #[error("the embedded font could not be loaded")]
    Font,
    #[error("drawing failed: {0}")]
    Drawing(String),
    #[error("encoding the PNG failed: {0}")]
    Encoding(String),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes `<stem>.png` and `<stem>.svg` atomically and returns both paths, PNG first.
pub fn save(figure: &Figure, stem: &Path) -> Result<Vec<PathBuf>, PlotError> {
    save_grid(std::slice::from_ref(figure), 1, stem)
}

/// Several figures side by side, `columns` to a row, as one PNG and one SVG
/// (for example one panel per variable of a data set). Returns both paths, PNG first.
pub fn save_grid(figures: &[Figure], columns: usize, stem: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let page = Page::new(figures, columns)?;
    output::write(&page, stem)
}

/// The training history as a figure: one point per epoch, train and (where there is one)
/// validation loss, on a log scale since losses fall by orders of magnitude.
pub fn loss_curve(history: &[(usize /*epoch*/, f64 /*train*/, Option<f64> /*validation*/)]) -> Figure {
    let train = history.iter().map(|&(epoch, train, _)| (epoch as f64, train)).collect();
    let validation: Vec<_> =
        history.iter().filter_map(|&(epoch, _, validation)| Some((epoch as f64, validation?))).collect();
    let mut series = vec![Series { label: "train".into(), points: train }];
    if !validation.is_empty() {
        series.push(Series { label: "validation".into(), points: validation });
    }
    Figure::Line(LineChart {
        title: "Training loss".into(),
        x_label: "epoch".into(),
        y_label: "loss (MSE, normalized)".into(),
        series,
        log_y: true,
    })
}

/// Figures checked and turned into what is drawn, laid out `columns` to a row. Preparing once
/// means the data is binned and scanned once, however many formats are written.
struct Page<'a> {
    panels: Vec<Panel<'a>>,
    columns: usize,
}

enum Panel<'a> {
    Curves(curves::Curves),
    Field(heatmap::Field<'a>),
}

impl<'a> Page<'a> {
    fn new(figures: &'a [Figure], columns: usize) -> Result<Self, PlotError> {
        if figures.is_empty() || columns == 0 {
            return Err(PlotError::EmptyGrid);
        }
        let panels = figures.iter().map(Panel::prepare).collect::<Result<_, _>>()?;
        Ok(Page { panels, columns: columns.min(figures.len()) })
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns)
    }

    fn size_in_pixels(&self) -> (u32, u32) {
        let (width, height) = style::PANEL_SIZE;
        (width * self.columns as u32, height * self.rows() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&WHITE).map_err(drawing_error)?;
        let cells = root.split_evenly((self.rows(), self.columns));
        for (panel, cell) in self.panels.iter().zip(&cells) {
            panel.draw(cell)?;
        }
        Ok(())
    }
}

impl<'a> Panel<'a> {
    fn prepare(figure: &'a Figure) -> Result<Self, PlotError> {
        Ok(match figure {
            Figure::Line(chart) => Panel::Curves(line::prepare(chart)?),
            Figure::Histogram(histogram) => Panel::Curves(histogram::prepare(histogram)?),
            Figure::Heatmap(heatmap) => Panel::Field(heatmap::prepare(heatmap)?),
        })
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        match self {
            Panel::Curves(curves) => curves.draw(area),
            Panel::Field(field) => field.draw(area),
        }
    }
}

/// plotters' errors are generic over the backend; a message is all a caller can use.
fn drawing_error<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Drawing(error.to_string())
}
