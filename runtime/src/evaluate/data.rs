//! The original and its reconstruction, checked to be comparable and laid out as columns.
//!
//! Both arrays are viewed as [values, columns]: a table keeps its columns, a single series is one
//! column, and a stack of fields becomes one column holding every value, since all its cells
//! measure the same quantity.

use ndarray::{ArrayView1, CowArray, Ix2};

use crate::dataset::Dataset;

/// How the data is shaped, which decides how it is summed up and pictured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Rows of variables, each judged on its own.
    Table,
    /// Frames of 2-D fields (axes between the first and the last are stacked into the height).
    Fields { frames: usize, height: usize, width: usize },
}

pub(super) struct Compared<'a> {
    pub kind: Kind,
    pub shape: Vec<usize>,
    pub names: Vec<String>,
    original: CowArray<'a, f64, Ix2>,
    reconstructed: CowArray<'a, f64, Ix2>,
}

impl<'a> Compared<'a> {
    pub fn new(original: &'a Dataset, reconstructed: &'a Dataset) -> Result<Self, String> {
        let shape = original.values.shape().to_vec();
        if reconstructed.values.shape() != shape.as_slice() {
            let other = reconstructed.values.shape();
            return Err(format!("original has shape {shape:?}, reconstructed {other:?}"));
        }
        if original.values.is_empty() {
            return Err(format!("the original data of shape {shape:?} holds no values to compare"));
        }
        let kind = kind_of(&shape);
        let names = column_names(kind, &shape, original, reconstructed);
        let compared = Compared {
            kind,
            original: as_columns(original, kind)?,
            reconstructed: as_columns(reconstructed, kind)?,
            shape,
            names,
        };
        compared.check_finite(&compared.original, "original")?;
        compared.check_finite(&compared.reconstructed, "reconstructed")?;
        Ok(compared)
    }

    pub fn columns(&self) -> usize {
        self.names.len()
    }

    pub fn original_column(&self, column: usize) -> ArrayView1<'_, f64> {
        self.original.column(column)
    }

    pub fn reconstructed_column(&self, column: usize) -> ArrayView1<'_, f64> {
        self.reconstructed.column(column)
    }

    /// Every value in row-major order; the arrays are held in standard layout, so this never fails
    /// for data made by [`Compared::new`].
    pub fn original_values(&self) -> &[f64] {
        self.original.as_slice().unwrap_or(&[])
    }

    pub fn reconstructed_values(&self) -> &[f64] {
        self.reconstructed.as_slice().unwrap_or(&[])
    }

    /// A NaN or infinity would make every number it touches meaningless, so it is reported with
    /// where to find it, e.g. "the reconstructed data holds NaN at row 17, column 'pt'".
    fn check_finite(&self, values: &CowArray<'_, f64, Ix2>, which: &str) -> Result<(), String> {
        let Some((flat, value)) = values.iter().copied().enumerate().find(|(_, value)| !value.is_finite()) else {
            return Ok(());
        };
        let location = self.location(flat);
        Err(format!("the {which} data holds {value} at {location}; every value must be finite"))
    }

    /// Where the `flat`-th value (row-major) sits, as a person looking at their file would say it.
    fn location(&self, flat: usize) -> String {
        match (self.kind, self.shape.as_slice()) {
            (Kind::Table, [_, columns]) => {
                let (row, column) = (flat / columns, flat % columns);
                format!("row {row}, column '{}'", self.names[column])
            }
            (Kind::Table, _) => format!("row {flat}"),
            (Kind::Fields { height, width, .. }, _) => {
                let cells = height * width;
                let (frame, cell) = (flat / cells, flat % cells);
                format!("frame {frame}, cell {}", self.cell_text(cell))
            }
        }
    }

    /// A cell's index within a frame, over the frame's own axes, as numpy would print it.
    fn cell_text(&self, mut cell: usize) -> String {
        let mut index: Vec<usize> = Vec::new();
        for &length in self.shape[1..].iter().rev() {
            index.push(cell % length);
            cell /= length;
        }
        index.reverse();
        format!("{index:?}")
    }
}

fn kind_of(shape: &[usize]) -> Kind {
    match shape {
        [frames, middle @ .., width] if !middle.is_empty() => {
            Kind::Fields { frames: *frames, height: middle.iter().product(), width: *width }
        }
        _ => Kind::Table,
    }
}

/// The table's own names (from either file), or names by position when the file has none.
fn column_names(kind: Kind, shape: &[usize], original: &Dataset, reconstructed: &Dataset) -> Vec<String> {
    match (kind, shape) {
        (Kind::Fields { .. }, _) => vec!["field".to_string()],
        (Kind::Table, [_, columns]) => {
            let named = [&original.names, &reconstructed.names].into_iter().find(|names| names.len() == *columns);
            match named {
                Some(names) => names.clone(),
                None => (0..*columns).map(|column| format!("column {column}")).collect(),
            }
        }
        (Kind::Table, _) => vec!["value".to_string()],
    }
}

/// The values as [values, columns], in standard layout so that frames are contiguous slices.
fn as_columns(dataset: &Dataset, kind: Kind) -> Result<CowArray<'_, f64, Ix2>, String> {
    let values = dataset.values.as_standard_layout();
    let shape = match (kind, values.shape()) {
        (Kind::Table, [rows, columns]) => (*rows, *columns),
        _ => (values.len(), 1),
    };
    values.into_shape_with_order(shape).map_err(|error| format!("cannot view the data as columns: {error}"))
}
