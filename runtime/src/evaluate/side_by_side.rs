//! Several reconstructions of the same original, judged next to each other: for instance the
//! float encoder against the FPGA's quantized encoder, or two latent sizes.

use super::{html, text, write_text, Metrics};
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

/// comparison.json, comparison.txt and an index.html that links each reconstruction's own
/// report, found in the subdirectory named after its label.
pub fn write(runs: &[Labelled], out: &Path) -> Result<Vec<PathBuf>, String> {
    let json = serde_json::to_string_pretty(runs).map_err(|error| format!("cannot encode the metrics: {error}"))?;
    Ok(vec![
        write_text(&out.join("comparison.json"), &(json + "\n"))?,
        write_text(&out.join("comparison.txt"), &table(runs))?,
        write_text(&out.join("index.html"), &html::comparison_page(runs, &table(runs)))?,
    ])
}
