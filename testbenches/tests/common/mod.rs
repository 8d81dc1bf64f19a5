//! What the co-simulation tests share: the compiler's fixtures, their samples, and a fixture
//! lowered with integer bits calibrated on them.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use balerc_compiler::passes::Part;
use balerc_compiler::quant::{PrecisionConfig, QuantizedModel};
use balerc_compiler::{lower, LowerOptions};
use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use std::path::{Path, PathBuf};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/fixtures").join(name)
}

/// The samples stored beside fixture `name`, as f64.
pub fn samples(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixture(&format!("{name}.input.npy"))).unwrap();
    ArrayD::<f32>::read_npy(&bytes[..]).unwrap().iter().map(|&v| v as f64).collect()
}

/// Fixture `name` lowered at `precision` with its integer bits calibrated on its samples, and
/// the samples.
pub fn calibrated(name: &str, precision: PrecisionConfig) -> (QuantizedModel, Vec<f64>) {
    let data = samples(name);
    let options = LowerOptions { part: Part::Full, precision, calibration: Some(data.clone()) };
    let lowered = lower(&fixture(&format!("{name}.onnx")), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
    (lowered.model, data)
}

/// [`calibrated`] at one type for every tensor.
pub fn calibrated_uniform(name: &str, precision: &str) -> (QuantizedModel, Vec<f64>) {
    calibrated(name, PrecisionConfig::uniform(precision.parse().unwrap()))
}

/// Fixture `name` lowered at one type for every tensor, without calibration.
pub fn uncalibrated(name: &str, precision: &str) -> QuantizedModel {
    let precision = PrecisionConfig::uniform(precision.parse().unwrap());
    let options = LowerOptions { part: Part::Full, precision, calibration: None };
    lower(&fixture(&format!("{name}.onnx")), &options).unwrap_or_else(|e| panic!("{name}: {e}")).model
}
