//! Numeric arrays in and out of `.npy` files, whatever their stored dtype.

use crate::atomic::write_atomically;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ArrayError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// An array as flat f64 values with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Reads a `.npy` file of any float or integer dtype.
pub fn read_npy(path: &Path) -> Result<Array, ArrayError> {
    let bytes = std::fs::read(path).map_err(|e| ArrayError::Read { path: path.into(), message: e.to_string() })?;
    macro_rules! try_dtype {
        ($($t:ty),*) => {$(
            if let Ok(a) = ArrayD::<$t>::read_npy(&bytes[..]) {
                return Ok(Array { shape: a.shape().to_vec(), data: a.iter().map(|&v| v as f64).collect() });
            }
        )*};
    }
    try_dtype!(f32, f64, i64, i32, i16, i8, u8, u16, u32, u64);
    let message = match ArrayD::<f64>::read_npy(&bytes[..]) {
        Err(e) => format!("not a numeric .npy array ({e})"),
        Ok(_) => unreachable!("tried above"),
    };
    Err(ArrayError::Read { path: path.into(), message })
}

fn write<T: ndarray_npy::WritableElement>(path: &Path, shape: &[usize], data: Vec<T>) -> Result<(), ArrayError> {
    let array = ArrayD::from_shape_vec(IxDyn(shape), data).expect("data fills the shape");
    write_atomically(path, |file| array.write_npy(file).map_err(std::io::Error::other))
        .map_err(|source| ArrayError::Write { path: path.into(), source })
}

pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f64]) -> Result<(), ArrayError> {
    write(path, shape, data.iter().map(|&v| v as f32).collect())
}

pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), ArrayError> {
    write(path, shape, data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        write_npy_f32(&path, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        let a = read_npy(&path).unwrap();
        assert_eq!((a.shape, a.data), (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]));
        write_npy_i64(&path, &[2], &[-7, 9]).unwrap();
        assert_eq!(read_npy(&path).unwrap().data, vec![-7.0, 9.0]);
        std::fs::write(&path, b"not numpy").unwrap();
        let err = read_npy(&path).unwrap_err().to_string();
        assert!(err.contains("a.npy"), "{err}");
    }
}
