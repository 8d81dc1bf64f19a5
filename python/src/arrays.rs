//! Arrays across the boundary: numpy hands over contiguous float64 values and the name of the
//! dtype they are stored as; values come back the same way.

use crate::errors::said;
use balerc_io::dataset::{Dataset, FileFormat, StoredDtype};
use ndarray::{ArrayD, IxDyn};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// The shape and values of a C-contiguous array.
pub fn shape_and_values(array: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<(Vec<usize>, Vec<f64>)> {
    let values = array.as_slice().map_err(|_| said("the array is not C-contiguous"))?;
    Ok((array.shape().to_vec(), values.to_vec()))
}

/// A dtype's name as balerc stores it: "f32", "i64", "bool", ...
pub fn stored_dtype(name: &str) -> PyResult<StoredDtype> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| said(format!("balerc stores no values of dtype '{name}'")))
}

pub fn dtype_name(dtype: StoredDtype) -> String {
    serde_json::to_value(dtype).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// An array as the dataset a `.npy` file of its dtype would read as.
pub fn dataset(shape: Vec<usize>, values: Vec<f64>, dtype: StoredDtype) -> PyResult<Dataset> {
    let values = ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| said(e.to_string()))?;
    Ok(Dataset { values, names: vec![], dtype, format: FileFormat::Npy })
}

pub fn to_numpy<'py, T: numpy::Element>(
    py: Python<'py>,
    shape: &[usize],
    values: Vec<T>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    PyArray1::from_vec(py, values).reshape(shape.to_vec())
}
