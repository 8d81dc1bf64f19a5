//! Several reconstructions of the same original, judged next to each other: for instance the
//! float encoder against the FPGA's quantized encoder, or two latent sizes.

use super::data::Compared;
use super::{figures, html, text, write_text, Metrics};
use crate::dataset::Dataset;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One reconstruction's metrics under the name the user gave it.
#[derive(Debug, Clone, Serialize)]
pub struct Labelled {
    pub label: String,
    pub metrics: Metrics,
}

/// Per column, each reconstruction's NRMSE and largest error; then each one's overall numbers.
pub fn table(runs: &[Labelled]) -> String {
    let Some(first) = runs.first() else { return String::new() };
    let mut headers = vec!["column".to_string()];
    for run in runs {
        headers.push(format!("{} NRMSE", run.label));
        headers.push(format!("{} max |error|", run.label));
    }
    let rows: Vec<Vec<String>> = (0..first.metrics.columns.len())
        .map(|c| {
            let mut row = vec![first.metrics.columns[c].name.clone()];
            for run in runs {
                let column = &run.metrics.columns[c];
                row.push(text::optional(column.nrmse, text::number));
                row.push(text::number(column.max_abs_error));
            }
            row
        })
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut lines = vec![text::introduction(&first.metrics), String::new()];
    lines.extend(text::aligned(&headers, &rows));
    lines.push(String::new());
    for run in runs {
        lines.push(format!("{}: {}", run.label, text::overall_text(&run.metrics.overall)));
        if let Some(compression) = &run.metrics.compression {
            lines.push(format!("{}: {}", run.label, text::compression_text(compression)));
        }
    }
    lines.join("\n") + "\n"
}

/// comparison.json, comparison.txt, the overlaid plots (PNG and SVG) and an index.html that
/// shows them with the table and links each reconstruction's own report, found in the
/// subdirectory named after its label. `reconstructed` holds each run's data, in order.
pub fn write(
    runs: &[Labelled],
    original: &Dataset,
    reconstructed: &[&Dataset],
    out: &Path,
) -> Result<Vec<PathBuf>, String> {
    if runs.len() != reconstructed.len() {
        return Err(format!("{} reconstructions for {} labels", reconstructed.len(), runs.len()));
    }
    let compared = runs
        .iter()
        .zip(reconstructed)
        .map(|(run, data)| Ok((run.label.as_str(), Compared::new(original, data)?)))
        .collect::<Result<Vec<_>, String>>()?;
    std::fs::create_dir_all(out).map_err(|error| format!("cannot create {}: {error}", out.display()))?;
    let plots = figures::write_overlaid(&compared, out)?;
    let json = serde_json::to_string_pretty(runs).map_err(|error| format!("cannot encode the metrics: {error}"))?;
    let mut written = vec![
        write_text(&out.join("comparison.json"), &(json + "\n"))?,
        write_text(&out.join("comparison.txt"), &table(runs))?,
    ];
    written.extend(plots.iter().flat_map(|plot| plot.files.iter().cloned()));
    written.push(write_text(&out.join("index.html"), &html::comparison_page(runs, &table(runs), &plots))?);
    Ok(written)
}
