//! HDF5 datasets: an array of samples along its first axis (a table's column names from a
//! `names` attribute when it has one), a 1-D dataset of records (a compound type, as h5py
//! writes a structured array) whose numeric fields are the columns, or a group of 1-D
//! datasets of equal length, one per column. Named as `FILE:OBJECT` (`jets.h5:/events/jets`), or by the file alone when it holds
//! one candidate. Read and written a hyperslab of samples at a time.

use super::formats::{Opened, SampleSink, SampleSource, SourceError};
use super::{Layout, StoredDtype};
use hdf5::types::{CompoundField, CompoundType, FloatSize, IntSize, TypeDescriptor, VarLenUnicode};
use hdf5::{Dataset, Dataspace, Datatype, File, Hyperslab, Selection, SliceOrIndex};
use hdf5_ndarray::{ArrayD, IxDyn};

/// The object balerc writes when the output names none.
pub(super) const DEFAULT_OBJECT: &str = "data";

/// Where an HDF5 object keeps the values balerc reads.
enum Hdf5Source {
    /// One array, samples along its first axis.
    Array { dataset: Dataset, dtype: StoredDtype },
    /// One 1-D dataset per column.
    Columns { datasets: Vec<(Dataset, StoredDtype)> },
    /// A 1-D dataset of records, the named fields as columns.
    Records { dataset: Dataset, fields: Vec<(String, StoredDtype)> },
}

/// Opens `object` in the file (or its only candidate): the layout and where the values are.
/// Of a group of columns, only the `wanted` ones are opened, in that order, where named.
pub(super) fn open(path: &std::path::Path, object: Option<&str>, wanted: Option<&[String]>) -> Result<Opened, String> {
    let (layout, source) = open_object(path, object, wanted)?;
    let selects_columns = matches!(source, Hdf5Source::Columns { .. } | Hdf5Source::Records { .. });
    Ok(Opened::new(layout, source, selects_columns))
}

fn open_object(
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
        if let Some(fields) = record_fields(&dataset) {
            return open_records(dataset, &name, fields, wanted);
        }
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

/// The fields of a dataset of records, in their order.
fn record_fields(dataset: &Dataset) -> Option<Vec<CompoundField>> {
    match dataset.dtype().and_then(|t| t.to_descriptor()).ok()? {
        TypeDescriptor::Compound(compound) => Some(compound.fields),
        _ => None,
    }
}

/// A 1-D dataset of records as a table: its numeric fields (the `wanted` ones alone, in that
/// order, where named) are the columns, each in its own type.
fn open_records(
    dataset: Dataset,
    name: &str,
    fields: Vec<CompoundField>,
    wanted: Option<&[String]>,
) -> Result<(Layout, Hdf5Source), String> {
    let shape = dataset.shape();
    if shape.len() != 1 {
        return Err(format!(
            "dataset '{name}' holds records in {} dimensions; balerc reads a 1-D list of them",
            shape.len()
        ));
    }
    let names: Vec<String> = fields.iter().map(|field| field.name.clone()).collect();
    let chosen = match wanted {
        Some(wanted) => super::select_columns(&names, names.len(), wanted)?,
        None => (0..names.len()).collect(),
    };
    let fields = chosen
        .into_iter()
        .map(|f| {
            let field = &fields[f];
            let dtype = dtype_of_descriptor(&field.ty).map_err(|kind| {
                let others = if wanted.is_none() { "; select the others with --columns" } else { "" };
                format!("field '{}' of dataset '{name}' holds {kind}; balerc reads numbers{others}", field.name)
            })?;
            Ok((field.name.clone(), dtype))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (dtype, column_dtypes) = StoredDtype::of_columns(fields.iter().map(|&(_, dtype)| dtype).collect());
    let layout = Layout {
        shape: vec![shape[0], fields.len()],
        names: fields.iter().map(|(name, _)| name.clone()).collect(),
        dtype,
        format: super::FileFormat::Hdf5,
        column_dtypes,
    };
    Ok((layout, Hdf5Source::Records { dataset, fields }))
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
                Ok(dataset) if record_fields(&dataset).is_some() => candidates.push(path),
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
    let descriptor = dataset.dtype().and_then(|t| t.to_descriptor()).map_err(|e| e.to_string())?;
    dtype_of_descriptor(&descriptor)
}

fn dtype_of_descriptor(descriptor: &TypeDescriptor) -> Result<StoredDtype, String> {
    use StoredDtype::*;
    Ok(match *descriptor {
        TypeDescriptor::Integer(size) => [I8, I16, I32, I64][int_index(size)],
        TypeDescriptor::Unsigned(size) => [U8, U16, U32, U64][int_index(size)],
        TypeDescriptor::Float(FloatSize::U2) => F16,
        TypeDescriptor::Float(FloatSize::U4) => F32,
        TypeDescriptor::Float(FloatSize::U8) => F64,
        TypeDescriptor::Boolean => Bool,
        TypeDescriptor::Compound(_) => return Err("records of several fields (a compound type)".into()),
        ref other => return Err(format!("{other}")),
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

impl SampleSource for Hdf5Source {
    fn read(&mut self, first: usize, count: usize) -> Result<Vec<f64>, SourceError> {
        Ok(self.samples(first, count)?)
    }
}

impl Hdf5Source {
    /// Samples [first, first + count) as f64 values in C order.
    fn samples(&self, first: usize, count: usize) -> Result<Vec<f64>, String> {
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
            Hdf5Source::Records { dataset, fields } => {
                let width = fields.len();
                let mut rows = vec![0.0; count * width];
                for (c, (field, dtype)) in fields.iter().enumerate() {
                    for (r, value) in read_field(dataset, field, *dtype, first, count)?.into_iter().enumerate() {
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

/// One field of records [first, first + count), as f64: libhdf5 picks the field out by its
/// name and converts it, as it converts whole datasets (booleans are an enumeration it
/// converts to the same enumeration, bytes 0 and 1).
fn read_field(
    dataset: &Dataset,
    field: &str,
    dtype: StoredDtype,
    first: usize,
    count: usize,
) -> Result<Vec<f64>, String> {
    let failed = |e: hdf5::Error| {
        format!("field '{field}' of dataset '{}', records {first} to {}: {e}", dataset.name(), first + count)
    };
    let boolean = dtype == StoredDtype::Bool;
    let (member, size) = match boolean {
        true => (TypeDescriptor::Boolean, 1),
        false => (TypeDescriptor::Float(FloatSize::U8), 8),
    };
    let only_field = CompoundField { name: field.to_string(), ty: member, offset: 0, index: 0 };
    let memory_type =
        Datatype::from_descriptor(&TypeDescriptor::Compound(CompoundType { fields: vec![only_field], size }))
            .map_err(failed)?;
    let file_space =
        dataset.space().and_then(|space| space.select(samples(&dataset.shape(), first, count))).map_err(failed)?;
    let memory_space = Dataspace::try_new(count).map_err(failed)?;
    // f64 cells, whose bytes also hold the booleans at the front.
    let mut cells = vec![0.0f64; count];
    let status = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5d::H5Dread(
            dataset.id(),
            memory_type.id(),
            memory_space.id(),
            file_space.id(),
            hdf5_sys::h5p::H5P_DEFAULT,
            cells.as_mut_ptr().cast(),
        )
    });
    if status < 0 {
        return Err(format!(
            "field '{field}' of dataset '{}', records {first} to {}: libhdf5 could not read it",
            dataset.name(),
            first + count
        ));
    }
    if boolean {
        let bytes: Vec<u8> = cells.iter().flat_map(|cell| cell.to_ne_bytes()).take(count).collect();
        return Ok(bytes.into_iter().map(|b| f64::from(u8::from(b != 0))).collect());
    }
    Ok(cells)
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

impl SampleSink for Hdf5Sink {
    fn write(&mut self, first: usize, values: &ndarray::ArrayD<f64>) -> std::io::Result<()> {
        self.write_samples(first, values).map_err(std::io::Error::other)
    }

    /// Flushes the file; it is complete.
    fn finish(self: Box<Self>) -> std::io::Result<()> {
        self.file.flush().and_then(|_| self.file.close()).map_err(std::io::Error::other)
    }
}

impl Hdf5Sink {
    /// Creates `object` (`data` when none is named) in a new file at `path`.
    pub(super) fn start(path: &std::path::Path, object: Option<&str>, layout: &Layout) -> std::io::Result<Hdf5Sink> {
        Hdf5Sink::create(path, object, layout).map_err(std::io::Error::other)
    }

    fn create(path: &std::path::Path, object: Option<&str>, layout: &Layout) -> hdf5::Result<Hdf5Sink> {
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
    fn write_samples(&mut self, first: usize, values: &ndarray::ArrayD<f64>) -> hdf5::Result<()> {
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
