//! train: a model directory from data files, with the default settings or a project's.

use crate::errors::{said, OrRaise};
use balerc_runtime::device::DeviceList;
use balerc_runtime::project::{self, Project};
use balerc_runtime::train::Silent;
use balerc_runtime::training_run;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

/// Trains on `inputs` (data files, or one project folder or its balerc.toml) and saves the
/// model directory; returns a JSON summary. `overrides` are `section.key=value`, as `--set`.
#[pyfunction]
#[pyo3(signature = (inputs, out=None, overrides=vec![], device="cpu", outliers=None))]
pub fn train(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    out: Option<PathBuf>,
    overrides: Vec<String>,
    device: &str,
    outliers: Option<bool>,
) -> PyResult<String> {
    let devices: DeviceList = device.parse().map_err(said)?;
    let mut project = open_project(&inputs, out.as_deref(), &overrides)?;
    training_run::choose_outlier_rounds(&mut project.config.training.outlier_rounds, outliers);
    let outcome = py
        .detach(|| {
            let devices = devices.open()?;
            training_run::run(&project, &devices, &mut Silent)
        })
        .map_err(said)?;
    let best = outcome.history.iter().filter_map(|r| r.validation_loss).min_by(f64::total_cmp);
    let summary = serde_json::json!({
        "model_dir": outcome.model_dir,
        "epochs": outcome.history.len(),
        "stopped_early": outcome.stopped_early,
        "samples": outcome.samples.0,
        "held_out": outcome.samples.1,
        "seconds": outcome.seconds,
        "train_loss": outcome.history.last().map(|r| r.train_loss),
        "best_validation_loss": best,
    });
    Ok(summary.to_string())
}

/// A project folder or its balerc.toml, else the data files with the default settings.
fn open_project(inputs: &[PathBuf], out: Option<&Path>, overrides: &[String]) -> PyResult<Project> {
    let is_project = |p: &Path| p.is_dir() || p.file_name().is_some_and(|n| n == project::CONFIG_FILE);
    match inputs {
        [path] if is_project(path) => {
            let mut all = overrides.to_vec();
            if let Some(out) = out {
                let out = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
                all.push(format!("output.model='{}'", out.display()));
            }
            Project::open(path, &all).or_raise()
        }
        _ => Project::for_data(inputs, out, overrides).or_raise(),
    }
}
