//! The metrics in words and aligned columns, for the terminal, metrics.txt and the report page.

use super::{CompressionMetrics, Metrics, OverallMetrics};

const HEADERS: [&str; 10] = [
    "column",
    "residual mean",
    "residual RMS",
    "response mean",
    "response RMS",
    "skipped",
    "max |error|",
    "range",
    "NRMSE",
    "PSNR dB",
];

/// Two spaces between columns: enough to tell them apart, little enough to fit a terminal.
const GAP: &str = "  ";

pub(super) fn table(metrics: &Metrics) -> String {
    let mut lines = vec![introduction(metrics), String::new()];
    lines.extend(aligned(&HEADERS, &column_rows(metrics)));
    lines.push(String::new());
    lines.push(format!("overall: {}", overall_text(&metrics.overall)));
    if let Some(compression) = &metrics.compression {
        lines.push(format!("compression: {}", compression_text(compression)));
    }
    lines.join("\n") + "\n"
}

pub(super) fn headers() -> &'static [&'static str] {
    &HEADERS
}

/// One row of cells per column of the data, in the order of [`headers`].
pub(super) fn column_rows(metrics: &Metrics) -> Vec<Vec<String>> {
    let row = |column: &super::ColumnMetrics| {
        vec![
            column.name.clone(),
            number(column.residual_mean),
            number(column.residual_rms),
            optional(column.response_mean, number),
            optional(column.response_rms, number),
            column.response_skipped.to_string(),
            number(column.max_abs_error),
            number(column.range),
            optional(column.nrmse, number),
            optional(column.psnr_db, decibels),
        ]
    };
    metrics.columns.iter().map(row).collect()
}

pub(super) fn introduction(metrics: &Metrics) -> String {
    let shape: Vec<String> = metrics.shape.iter().map(usize::to_string).collect();
    format!(
        "Compared {} values (residual = reconstructed - original; response = residual / original, \
         skipping values whose original is 0)",
        shape.join(" x ")
    )
}

pub(super) fn overall_text(overall: &OverallMetrics) -> String {
    format!(
        "max |error| {}, NRMSE {}, PSNR {} dB, worst column's max |error| / range {}",
        number(overall.max_abs_error),
        optional(overall.nrmse, number),
        optional(overall.psnr_db, decibels),
        optional(overall.max_rel_error_of_range, number),
    )
}

pub(super) fn compression_text(compression: &CompressionMetrics) -> String {
    let plain = format!(
        "{} bytes to {} bytes, ratio {:.2}",
        compression.original_bytes, compression.compressed_bytes, compression.ratio
    );
    match (compression.model_bytes, compression.ratio_with_model) {
        (Some(model_bytes), Some(ratio)) => format!("{plain}; counting the {model_bytes}-byte model, ratio {ratio:.2}"),
        _ => plain,
    }
}

/// The first column (names) aligned left, numbers aligned right, each as wide as its widest cell.
pub(super) fn aligned(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let widths: Vec<usize> = (0..headers.len())
        .map(|index| rows.iter().map(|row| row[index].chars().count()).fold(headers[index].len(), usize::max))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded = cells.iter().zip(&widths).enumerate().map(|(index, (cell, &width))| match index {
            0 => format!("{cell:<width$}"),
            _ => format!("{cell:>width$}"),
        });
        padded.collect::<Vec<_>>().join(GAP).trim_end().to_string()
    };
    let mut lines = vec![line(headers.to_vec())];
    lines.extend(rows.iter().map(|row| line(row.iter().map(String::as_str).collect())));
    lines
}

/// Four significant digits, in scientific notation beyond everyday magnitudes: errors span
/// many orders of magnitude.
pub(super) fn number(value: f64) -> String {
    crate::numbers::four_significant(value)
}

fn decibels(value: f64) -> String {
    format!("{value:.1}")
}

/// A number that is undefined (see the field's documentation) shows as a dash.
pub(super) fn optional(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_string(), format)
}
