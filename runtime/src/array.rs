//! Plain numeric arrays in and out (a simulator's inputs and outputs, calibration data),
//! through the dataset layer's readers and writers: any format it reads, `.npy` out.

use crate::dataset::{self, Dataset, DatasetError, FileFormat, StoredDtype};
use ndarray::{ArrayD, IxDyn};
use std::path::Path;

/// An array as flat f64 values with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Reads an array of any float or integer dtype from a `.npy` file (or any data file the
/// dataset layer reads, a table as [rows, columns]).
pub fn read_npy(path: &Path) -> Result<Array, DatasetError> {
    let values = dataset::read(path)?.values;
    Ok(Array { shape: values.shape().to_vec(), data: values.into_iter().collect() })
}

pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f64]) -> Result<(), DatasetError> {
    let values = ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).map_err(|e| DatasetError::Invalid {
        path: path.into(),
        message: format!("{} values do not fill shape {shape:?}: {e}", data.len()),
    })?;
    dataset::write(path, &Dataset { values, names: vec![], dtype: StoredDtype::F32, format: FileFormat::Npy })
}

/// Integer codes, exactly.
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), DatasetError> {
    dataset::write_i64_npy(path, shape, data)
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

    #[test]
    fn codes_past_two_to_the_53_are_written_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codes.npy");
        let codes = [i64::MAX, (1 << 53) + 1, -(1 << 60) - 3];
        write_npy_i64(&path, &[3], &codes).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let payload = &bytes[bytes.len() - 24..];
        let back: Vec<i64> = payload.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!(back, codes);
        assert!(String::from_utf8_lossy(&bytes[..64]).contains("'descr': '<i8'"));
        assert!(write_npy_i64(&path, &[2], &codes).is_err(), "three values do not fill two");
    }
}
