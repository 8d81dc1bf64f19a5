//! How well a reconstruction matches its original: the numbers (per column, overall, and the
//! compression achieved) and Baler's comparison plots, gathered in a report directory with one
//! page that shows them all.
//!
//! A table [rows, columns] is judged column by column, since its variables have their own units
//! and scales. A stack of fields [frames, height, width] is judged as one quantity named "field"
//! and pictured as images rather than per-variable histograms.

mod bins;
mod data;
mod figures;
mod html;
pub mod side_by_side;
mod statistics;
#[cfg(test)]
mod tests;
mod text;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomically;
use crate::dataset::Dataset;
use data::Compared;
use statistics::Sums;

/// What is compared, and what is known about how it was stored.
pub struct EvaluationInput<'a> {
    pub original: &'a Dataset,
    pub reconstructed: &'a Dataset,
    /// Bytes of the compressed file, and of the model needed to decode it (None when unknown).
    pub compressed_bytes: Option<u64>,
    pub model_bytes: Option<u64>,
    /// Bytes of the original as stored (the file size of the original data is a fair reference).
    pub original_bytes: u64,
    /// Optional loss history (epoch, train, validation) to include as a plot.
    pub loss_history: Option<Vec<(usize, f64, Option<f64>)>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The shape of the data compared, e.g. [119521, 24].
    pub shape: Vec<usize>,
    pub columns: Vec<ColumnMetrics>,
    pub overall: OverallMetrics,
    /// Present when the size of the compressed file is known.
    pub compression: Option<CompressionMetrics>,
}

/// One variable of a table, or the whole of a stack of fields. Residual = reconstructed - original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMetrics {
    pub name: String,
    pub residual_mean: f64,
    pub residual_rms: f64,
    /// Mean and RMS of the response, residual / original, over the values whose original is not
    /// zero (None when every original value is zero).
    pub response_mean: Option<f64>,
    pub response_rms: Option<f64>,
    /// How many values the response left out because their original is zero.
    pub response_skipped: u64,
    pub max_abs_error: f64,
    /// Largest minus smallest original value.
    pub range: f64,
    /// residual_rms / range; None for a constant column, which has no range.
    pub nrmse: Option<f64>,
    /// 20 log10(range / residual_rms); None for a constant column or a perfect reconstruction.
    pub psnr_db: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallMetrics {
    pub max_abs_error: f64,
    /// RMS residual over all values, divided by the range of all original values.
    pub nrmse: Option<f64>,
    pub psnr_db: Option<f64>,
    /// The worst column's max_abs_error / range; constant columns have no range and are left out.
    pub max_rel_error_of_range: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompressionMetrics {
    pub compressed_bytes: u64,
    pub model_bytes: Option<u64>,
    pub original_bytes: u64,
    /// original_bytes / compressed_bytes.
    pub ratio: f64,
    /// original_bytes / (compressed_bytes + model_bytes), the ratio when the model travels along.
    pub ratio_with_model: Option<f64>,
}

/// The numbers comparing the reconstruction with its original.
pub fn compute(input: &EvaluationInput) -> Result<Metrics, String> {
    let data = Compared::new(input.original, input.reconstructed)?;
    Ok(metrics_of(&data, input))
}

/// Writes metrics.json, metrics.txt (the table the terminal shows), the plots as PNG and SVG, and
/// index.html into `out`, which is created if need be; returns the files written.
pub fn write_report(input: &EvaluationInput, metrics: &Metrics, out: &Path) -> Result<Vec<PathBuf>, String> {
    let data = Compared::new(input.original, input.reconstructed)?;
    std::fs::create_dir_all(out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let mut written = vec![write_json(metrics, out)?, write_text(&out.join("metrics.txt"), &table(metrics))?];
    let plots = figures::write(&data, input.loss_history.as_deref(), out)?;
    written.extend(plots.iter().flat_map(|plot| plot.files.iter().cloned()));
    written.push(write_text(&out.join("index.html"), &html::page(metrics, &plots))?);
    Ok(written)
}

/// The metrics as a fixed-width text table, one line per column, then the overall numbers and
/// the compression achieved.
pub fn table(metrics: &Metrics) -> String {
    text::table(metrics)
}

fn metrics_of(data: &Compared, input: &EvaluationInput) -> Metrics {
    let sums: Vec<Sums> = (0..data.columns())
        .into_par_iter()
        .map(|column| Sums::of_column(data.original_column(column), data.reconstructed_column(column)))
        .collect();
    let columns: Vec<ColumnMetrics> =
        data.names.iter().zip(&sums).map(|(name, sums)| sums.column_metrics(name)).collect();
    let all = sums.iter().fold(Sums::NOTHING, |total, sums| total.add(*sums));
    Metrics {
        shape: data.shape.clone(),
        overall: all.overall_metrics(&columns),
        columns,
        compression: compression_metrics(input),
    }
}

fn compression_metrics(input: &EvaluationInput) -> Option<CompressionMetrics> {
    let compressed_bytes = input.compressed_bytes?;
    let ratio_to = |bytes: u64| input.original_bytes as f64 / bytes as f64;
    Some(CompressionMetrics {
        compressed_bytes,
        model_bytes: input.model_bytes,
        original_bytes: input.original_bytes,
        ratio: ratio_to(compressed_bytes),
        ratio_with_model: input.model_bytes.map(|model_bytes| ratio_to(compressed_bytes + model_bytes)),
    })
}

fn write_json(metrics: &Metrics, out: &Path) -> Result<PathBuf, String> {
    let json = serde_json::to_string_pretty(metrics).map_err(|error| format!("cannot encode the metrics: {error}"))?;
    write_text(&out.join("metrics.json"), &(json + "\n"))
}

fn write_text(path: &Path, text: &str) -> Result<PathBuf, String> {
    write_atomically(path, |file| std::io::Write::write_all(file, text.as_bytes()))
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(path.to_path_buf())
}
