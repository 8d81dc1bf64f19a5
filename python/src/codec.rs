//! compress and decompress, in memory (numpy array to bytes and back) and between files.

use crate::arrays;
use crate::errors::{said, OrRaise};
use balerc_codec::compress::{
    self as pipeline, CompressOptions, DecompressOptions, Embedding, EncoderChoice, ErrorBound, LatentBits,
    OutlierChoice,
};
use balerc_codec::in_memory;
use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::Deserialize;
use std::path::PathBuf;

/// What `compress` takes besides the data, as the Python functions pass it (JSON): the
/// command line's options under their Python names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    model: PathBuf,
    #[serde(default)]
    max_abs_error: Option<f64>,
    #[serde(default)]
    max_rel_error: Option<f64>,
    /// A number of bits or "auto".
    #[serde(default)]
    latent_bits: Option<serde_json::Value>,
    #[serde(default)]
    embed_model: Option<bool>,
    #[serde(default)]
    chunk_samples: Option<usize>,
    #[serde(default)]
    relations: Vec<String>,
    /// "auto" or "none".
    #[serde(default)]
    outliers: Option<String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    encoder_precision: Option<String>,
    #[serde(default)]
    encoder_hardware: Option<PathBuf>,
}

impl Settings {
    fn parse(json: &str) -> PyResult<Settings> {
        serde_json::from_str(json).map_err(|e| said(format!("compression settings: {e}")))
    }

    /// The options `balerc compress` would run with, the defaults included.
    fn options(self, input: PathBuf, output: PathBuf) -> PyResult<CompressOptions> {
        let bound = match (self.max_abs_error, self.max_rel_error) {
            (Some(_), Some(_)) => return Err(said("give max_abs_error or max_rel_error, not both")),
            (Some(e), None) => Some(ErrorBound::Absolute(e)),
            (None, Some(r)) => Some(ErrorBound::RelativeToRange(r)),
            (None, None) => None,
        };
        let latent_bits = match self.latent_bits {
            None => match bound {
                Some(_) => LatentBits::Auto,
                None => LatentBits::Fixed(16),
            },
            Some(given) => latent_bits(&given)?,
        };
        let encoder = match (self.encoder_hardware, self.encoder_precision) {
            (Some(_), Some(_)) => return Err(said("give encoder_hardware or encoder_precision, not both")),
            (Some(build), None) => EncoderChoice::HardwareBuild(build),
            (None, Some(precision)) => {
                EncoderChoice::Precision(balerc_runtime::lowering::parse_precision(&precision).or_raise()?)
            }
            (None, None) => EncoderChoice::Float,
        };
        let outliers = match self.outliers.as_deref() {
            None => OutlierChoice::default(),
            Some("auto") => OutlierChoice::Auto,
            Some("none") => OutlierChoice::None,
            Some(other) => return Err(said(format!("'{other}' is neither 'auto' nor 'none'"))),
        };
        Ok(CompressOptions {
            model: self.model,
            input,
            output,
            latent_bits,
            bound,
            embed_model: match self.embed_model {
                Some(true) => Embedding::Always,
                Some(false) => Embedding::Never,
                None => pipeline::EMBED_WHEN_UNDER,
            },
            encoder,
            chunk_samples: self.chunk_samples,
            relations: self.relations,
            outliers,
            columns: self.columns,
        })
    }
}

fn latent_bits(given: &serde_json::Value) -> PyResult<LatentBits> {
    match given {
        serde_json::Value::String(text) if text == "auto" => Ok(LatentBits::Auto),
        serde_json::Value::Number(n) if n.as_u64().is_some_and(|b| b <= u32::MAX as u64) => {
            Ok(LatentBits::Fixed(n.as_u64().unwrap_or_default() as u32))
        }
        other => Err(said(format!("'{}' is neither a number of bits nor 'auto'", other.to_string().trim_matches('"')))),
    }
}

/// A report as JSON, which the Python side turns into a dict.
fn json(report: &impl serde::Serialize) -> String {
    serde_json::to_string(report).unwrap_or_default()
}

/// Compresses an array into the bytes of a `.baler` file; returns them and the report.
#[pyfunction]
pub fn compress<'py>(
    py: Python<'py>,
    values: PyReadonlyArrayDyn<'py, f64>,
    dtype: &str,
    settings: &str,
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    let (shape, values) = arrays::shape_and_values(&values)?;
    let data = arrays::dataset(shape, values, arrays::stored_dtype(dtype)?)?;
    let options = Settings::parse(settings)?.options(PathBuf::new(), PathBuf::new())?;
    let (bytes, report) = py.detach(|| in_memory::compress_dataset(&data, &options)).or_raise()?;
    Ok((PyBytes::new(py, &bytes), json(&report)))
}

/// The array that the bytes of a `.baler` file hold: its values, shape and dtype's name, and
/// the report.
#[pyfunction]
#[pyo3(signature = (blob, model=None))]
pub fn decompress<'py>(
    py: Python<'py>,
    blob: &[u8],
    model: Option<PathBuf>,
) -> PyResult<(Bound<'py, numpy::PyArrayDyn<f64>>, String, String)> {
    let (data, report) = py.detach(|| in_memory::decompress_bytes(blob, model.as_deref())).or_raise()?;
    let shape = data.values.shape().to_vec();
    let values = data.values.into_raw_vec_and_offset().0;
    Ok((arrays::to_numpy(py, &shape, values)?, arrays::dtype_name(data.dtype), json(&report)))
}

/// `balerc compress --input INPUT --output OUTPUT`.
#[pyfunction]
pub fn compress_file(py: Python<'_>, input: PathBuf, output: PathBuf, settings: &str) -> PyResult<String> {
    let options = Settings::parse(settings)?.options(input, output)?;
    let report = py.detach(|| pipeline::compress(&options)).or_raise()?;
    Ok(json(&report))
}

/// `balerc decompress --input INPUT --output OUTPUT`.
#[pyfunction]
#[pyo3(signature = (input, output, model=None, decoder_precision=None))]
pub fn decompress_file(
    py: Python<'_>,
    input: PathBuf,
    output: PathBuf,
    model: Option<PathBuf>,
    decoder_precision: Option<String>,
) -> PyResult<String> {
    let decoder_precision =
        decoder_precision.as_deref().map(balerc_runtime::lowering::parse_precision).transpose().or_raise()?;
    let options = DecompressOptions { input, output, model, decoder_precision };
    let report = py.detach(|| pipeline::decompress(&options)).or_raise()?;
    Ok(json(&report))
}
