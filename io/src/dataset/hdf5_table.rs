//! HDF5 datasets: an array of samples along its first axis (a table's column names from a
//! `names` attribute when it has one), or a group of 1-D datasets of equal length, one per
//! column. Named as `FILE:OBJECT` (`jets.h5:/events/jets`), or by the file alone when it holds
//! one candidate. Read and written a hyperslab of samples at a time.

use super::{Layout, StoredDtype};
use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenUnicode};
use hdf5::{Dataset, File, Hyperslab, Selection, SliceOrIndex};
use hdf5_ndarray::{ArrayD, IxDyn};

/// The object balerc writes when the output names none.
pub(super) const DEFAULT_OBJECT: &str = "data";

/// Where an HDF5 object keeps the values balerc reads.
pub(super) enum Hdf5Source {
    /// One array, samples along its first axis.
    Array { dataset: Dataset, dtype: StoredDtype },
    /// One 1-D dataset per column.
    Columns { datasets: Vec<(Dataset, StoredDtype)> },
}

/// Opens `object` in the file (or its only candidate): the layout and where the values are.
/// Of a group of columns, only the `wanted` ones are opened, in that order, where named.
pub(super) fn open(
    path: &std::path::Path,
    object: Option<&str>,
    wanted: Option<&[String]>,
) -> Result<(Layout, Hdf5Source), String> {
    let file = File::open(path).map_err(|e| format!("not a readable HDF5 file: {e}"))?;
    let name = match object {
        Some(name) => name.to_string(),
        None => only_candidate(&file)?,
    };
    if let Ok(dataset) = file.dataset(&name) {
        let dtype =
            dtype_of(&dataset).map_err(|kind| format!("dataset '{name}' holds {kind}; balerc reads numbers"))?;
        let shape = dataset.shape();
        if shape.is_empty() {
            return Err(format!("dataset '{name}' is a single value, not samples along an axis"));
        }
        let names = column_names(&dataset).filter(|names| shape.len() == 2 && names.len() == shape[1]);
        let layout = Layout {
            shape,
            names: names.unwrap_or_default(),
            dtype,
            format: super::FileFormat::Hdf5,
            column_dtypes: vec![],
        };
        return Ok((layout, Hdf5Source::Array { dataset, dtype }));
    }
    let group = file.group(&name).map_err(|_| format!("has no dataset or group '{name}'"))?;
    let mut names = group.member_names().map_err(|e| e.to_string())?;
    names.sort();
    if let Some(wanted) = wanted {
        let chosen = super::select_columns(&names, names.len(), wanted)?;
        names = chosen.into_iter().map(|c| names[c].clone()).collect();
    }
    let mut datasets = vec![];
    let mut rows = None;
    for column in &names {
        let dataset = group.dataset(column).map_err(|_| format!("'{name}/{column}' is not a dataset"))?;
        let dtype = dtype_of(&dataset)
            .map_err(|kind| format!("column '{name}/{column}' holds {kind}; balerc reads numbers"))?;
        let shape = dataset.shape();
        if shape.len() != 1 || rows.is_some_and(|rows| rows != shape[0]) {
            return Err(format!(
                "the columns of group '{name}' are not 1-D datasets of one length ('{column}': {shape:?})"
            ));
        }
        rows = Some(shape[0]);
        datasets.push((dataset, dtype));
    }
    let rows = rows.ok_or_else(|| format!("group '{name}' holds no datasets"))?;
    let (dtype, column_dtypes) = StoredDtype::of_columns(datasets.iter().map(|&(_, dtype)| dtype).collect());
    let layout =
        Layout { shape: vec![rows, names.len()], names, dtype, format: super::FileFormat::Hdf5, column_dtypes };
    Ok((layout, Hdf5Source::Columns { datasets }))
}

/// The file's one numeric dataset or group of columns, found from its root.
fn only_candidate(file: &File) -> Result<String, String> {
    let mut candidates = vec![];
    let mut groups = vec![String::from("/")];
    while let Some(name) = groups.pop() {
        let group = file.group(&name).map_err(|e| e.to_string())?;
        let join = |member: &str| if name == "/" { format!("/{member}") } else { format!("{name}/{member}") };
        let mut has_columns = false;
        for member in group.member_names().map_err(|e| e.to_string())? {
            let path = join(&member);
            match group.dataset(&member) {
                Ok(dataset) if dataset.ndim() == 1 && name != "/" && dtype_of(&dataset).is_ok() => has_columns = true,
                Ok(dataset) if dtype_of(&dataset).is_ok() && dataset.ndim() >= 1 => candidates.push(path),
                Ok(_) => {}
                Err(_) => groups.push(path),
            }
        }
        if has_columns {
            candidates.push(name);
        }
    }
    candidates.sort();
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("holds no numeric dataset".into()),
        many => Err(format!("holds several datasets ({}); name one as FILE:OBJECT", many.join(", "))),
    }
}

/// The stored type of a numeric dataset, or what it holds instead.
fn dtype_of(dataset: &Dataset) -> Result<StoredDtype, String> {
    use StoredDtype::*;
    let descriptor = dataset.dtype().and_then(|t| t.to_descriptor()).map_err(|e| e.to_string())?;
    Ok(match descriptor {
        TypeDescriptor::Integer(size) => [I8, I16, I32, I64][int_index(size)],
        TypeDescriptor::Unsigned(size) => [U8, U16, U32, U64][int_index(size)],
        TypeDescriptor::Float(FloatSize::U2) => F16,
        TypeDescriptor::Float(FloatSize::U4) => F32,
        TypeDescriptor::Float(FloatSize::U8) => F64,
        TypeDescriptor::Boolean => Bool,
        TypeDescriptor::Compound(_) => return Err("records of several fields (a compound type)".into()),
        other => return Err(format!("{other}")),
    })
}

fn int_index(size: IntSize) -> usize {
    match size {
        IntSize::U1 => 0,
        IntSize::U2 => 1,
        IntSize::U4 => 2,
        IntSize::U8 => 3,
    }
}

/// A `names` attribute of strings, as h5py writes a list of str.
fn column_names(dataset: &Dataset) -> Option<Vec<String>> {
    let attribute = dataset.attr("names").ok()?;
    let names = attribute.read_raw::<VarLenUnicode>().ok()?;
    Some(names.iter().map(|name| name.as_str().to_string()).collect())
}

/// Samples [first, first + count) of a dataset of `shape`: every index of the other axes.
fn samples(shape: &[usize], first: usize, count: usize) -> Selection {
    let axis = |start: usize, end: usize| SliceOrIndex::SliceTo { start, step: 1, end, block: 1 };
    let mut slices = vec![axis(first, first + count)];
    slices.extend(shape[1..].iter().map(|&length| axis(0, length)));
    Selection::from(Hyperslab::from(slices))
}

impl Hdf5Source {
    /// Samples [first, first + count) as f64 values in C order.
    pub(super) fn read(&self, first: usize, count: usize) -> Result<Vec<f64>, String> {
        match self {
            Hdf5Source::Array { dataset, dtype } => read_values(dataset, *dtype, first, count),
            Hdf5Source::Columns { datasets } => {
                let width = datasets.len();
                let mut rows = vec![0.0; count * width];
                for (c, (dataset, dtype)) in datasets.iter().enumerate() {
                    for (r, value) in read_values(dataset, *dtype, first, count)?.into_iter().enumerate() {
                        rows[r * width + c] = value;
                    }
                }
                Ok(rows)
            }
        }
    }
}

/// HDF5 converts numbers to f64 as it reads; booleans are an enumeration it reads as bool.
fn read_values(dataset: &Dataset, dtype: StoredDtype, first: usize, count: usize) -> Result<Vec<f64>, String> {
    let selection = samples(&dataset.shape(), first, count);
    let name = dataset.name();
    let failed = |e: hdf5::Error| format!("dataset '{name}', samples {first} to {}: {e}", first + count);
    Ok(match dtype {
        StoredDtype::Bool => {
            let values: ArrayD<bool> = dataset.read_slice(selection).map_err(failed)?;
            values.iter().map(|&b| f64::from(u8::from(b))).collect()
        }
        _ => {
            let values: ArrayD<f64> = dataset.read_slice(selection).map_err(failed)?;
            values.iter().copied().collect()
        }
    })
}

/// An HDF5 file being written: one array dataset, or a group of columns where they differ in
/// type.
pub(super) struct Hdf5Sink {
    file: File,
    target: Target,
}

enum Target {
    Array { dataset: Dataset, dtype: StoredDtype, shape: Vec<usize> },
    Columns { datasets: Vec<(Dataset, StoredDtype)> },
}

impl Hdf5Sink {
    /// Creates `object` (`data` when none is named) in a new file at `path`.
    pub(super) fn start(path: &std::path::Path, object: Option<&str>, layout: &Layout) -> hdf5::Result<Hdf5Sink> {
        let file = File::create(path)?;
        let object = object.unwrap_or(DEFAULT_OBJECT);
        let target = match layout.column_dtypes.is_empty() {
            true => {
                let dataset = new_dataset(&file, object, layout.dtype, &layout.shape)?;
                if !layout.names.is_empty() {
                    let names: Vec<VarLenUnicode> =
                        layout.names.iter().map(|n| n.parse().unwrap_or_default()).collect();
                    dataset.new_attr::<VarLenUnicode>().shape(names.len()).create("names")?.write_raw(&names)?;
                }
                Target::Array { dataset, dtype: layout.dtype, shape: layout.shape.clone() }
            }
            false => {
                let group = file.create_group(object)?;
                let datasets = (0..layout.sample_len())
                    .map(|c| {
                        let name = layout.names.get(c).cloned().unwrap_or_else(|| format!("c{c}"));
                        let dtype = layout.column_dtype(c);
                        Ok((new_dataset(&group, &name, dtype, &layout.shape[..1])?, dtype))
                    })
                    .collect::<hdf5::Result<Vec<_>>>()?;
                Target::Columns { datasets }
            }
        };
        Ok(Hdf5Sink { file, target })
    }

    /// Samples [first, first + n) of the values, in C order.
    pub(super) fn write(&mut self, first: usize, values: &ndarray::ArrayD<f64>) -> hdf5::Result<()> {
        let count = values.shape().first().copied().unwrap_or(0);
        match &self.target {
            Target::Array { dataset, dtype, shape } => {
                let values = ArrayD::from_shape_vec(IxDyn(values.shape()), values.iter().copied().collect())
                    .expect("the shape the values came in");
                write_values(dataset, *dtype, shape, first, values)
            }
            Target::Columns { datasets } => {
                let length = datasets.len();
                for (c, (dataset, dtype)) in datasets.iter().enumerate() {
                    let column: Vec<f64> = values.iter().skip(c).step_by(length).copied().collect();
                    let column = ArrayD::from_shape_vec(IxDyn(&[count]), column).expect("one value per row");
                    write_values(dataset, *dtype, &dataset.shape(), first, column)?;
                }
                Ok(())
            }
        }
    }

    /// Flushes the file; it is complete.
    pub(super) fn finish(self) -> hdf5::Result<()> {
        self.file.flush()?;
        self.file.close()
    }
}

fn new_dataset(group: &hdf5::Group, name: &str, dtype: StoredDtype, shape: &[usize]) -> hdf5::Result<Dataset> {
    use StoredDtype::*;
    let builder = group.new_dataset_builder();
    match dtype {
        F16 => builder.empty::<half::f16>(),
        F32 => builder.empty::<f32>(),
        F64 => builder.empty::<f64>(),
        I8 => builder.empty::<i8>(),
        I16 => builder.empty::<i16>(),
        I32 => builder.empty::<i32>(),
        I64 => builder.empty::<i64>(),
        U8 => builder.empty::<u8>(),
        U16 => builder.empty::<u16>(),
        U32 => builder.empty::<u32>(),
        U64 => builder.empty::<u64>(),
        Bool => builder.empty::<bool>(),
    }
    .shape(shape)
    .create(name)
}

/// Writes values at samples [first, ...) in the dataset's own type, as the file stores them.
fn write_values(
    dataset: &Dataset,
    dtype: StoredDtype,
    shape: &[usize],
    first: usize,
    values: ArrayD<f64>,
) -> hdf5::Result<()> {
    use StoredDtype::*;
    let count = values.shape().first().copied().unwrap_or(0);
    let at = samples(shape, first, count);
    let stored = values.mapv(|v| dtype.stored(v));
    match dtype {
        F16 => dataset.write_slice(&stored.mapv(half::f16::from_f64), at),
        F32 => dataset.write_slice(&stored.mapv(|v| v as f32), at),
        F64 => dataset.write_slice(&stored, at),
        I8 => dataset.write_slice(&stored.mapv(|v| v as i8), at),
        I16 => dataset.write_slice(&stored.mapv(|v| v as i16), at),
        I32 => dataset.write_slice(&stored.mapv(|v| v as i32), at),
        I64 => dataset.write_slice(&stored.mapv(|v| v as i64), at),
        U8 => dataset.write_slice(&stored.mapv(|v| v as u8), at),
        U16 => dataset.write_slice(&stored.mapv(|v| v as u16), at),
        U32 => dataset.write_slice(&stored.mapv(|v| v as u32), at),
        U64 => dataset.write_slice(&stored.mapv(|v| v as u64), at),
        Bool => dataset.write_slice(&stored.mapv(|v| v != 0.0), at),
    }
}
