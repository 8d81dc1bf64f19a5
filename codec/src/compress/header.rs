//! What a `.baler` file says about its contents: the original's shape, dtype and columns, the
//! model (by hash) and its normalization, how latents and residuals are coded.

use super::latent::{self, QuantizedLatent};
use super::relation::{Relation, RelationError};
use super::{CompressOptions, LatentBits};
use crate::model_files::ModelLayout;
use crate::normalize::Normalization;
use balerc_compiler::fixed::{FixedType, FixedTypeError};
use balerc_io::dataset::{Dataset, FileFormat, Layout, StoredDtype};
use balerc_io::frame_stacks::stacked_shape;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const KIND: &str = "balerc-compressed";

/// A header that cannot be made for the data and settings given, or read back from a file.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    // Making one: the data, the model and the settings must agree.
    #[error(
        "{file}: the model takes stacks of {frames} frames {model:?} and the {samples} frames of the data do not \
         group into them ({left} left over): compress a multiple of {frames} frames"
    )]
    FramesDoNotGroup { file: PathBuf, frames: usize, model: Vec<usize>, samples: usize, left: usize },
    /// The frames would not stack (balerc_io's own words).
    #[error("{0}")]
    Stacking(String),
    #[error("{file}: the model was trained on tables of {width} columns, the data has shape {shape:?}")]
    TableWidth { file: PathBuf, width: usize, shape: Vec<usize> },
    #[error("{file}: column {index} is '{found}', the model was trained with '{trained}' there")]
    ColumnName { file: PathBuf, index: usize, found: String, trained: String },
    #[error("{file}: the model was trained on samples of shape {model:?}, the data's are {found:?}")]
    SampleShape { file: PathBuf, model: Vec<usize>, found: Vec<usize> },
    #[error("--latent-bits {0} is not between 1 and 32")]
    LatentBits(u32),
    #[error(
        "--latent-bits auto chooses against the residuals of an error bound: give --max-abs-error or \
         --max-rel-error, or a number of bits"
    )]
    AutoLatentBitsWithoutBound,
    #[error("a chunk must hold at least one sample")]
    EmptyChunks,
    #[error("an error bound must be positive (keep a column exactly with data.lossless_columns)")]
    BoundNotPositive,
    #[error("a relation refines the residuals of an error bound: give --max-abs-error or --max-rel-error with it")]
    RelationWithoutBound,

    // Reading one back.
    #[error("the header is not a balerc header ({0})")]
    NotBalerHeader(serde_json::Error),
    #[error("the header describes '{0}', not compressed data")]
    NotCompressedData(String),
    #[error("the header's shapes and columns do not agree with each other")]
    Inconsistent,
    #[error("the hardware latent type '{spelled}': {source}")]
    HardwareLatentType { spelled: String, source: FixedTypeError },

    // What it says about columns and values.
    #[error("relations name table columns, and this data has no column names")]
    RelationsWithoutNames,
    #[error("a modelled column has no name")]
    UnnamedColumn,
    #[error(transparent)]
    Relation(#[from] RelationError),
    #[error("{values} lossless values do not fill {samples} rows of {width}")]
    LosslessValues { values: usize, samples: usize, width: usize },
    #[error(transparent)]
    Shape(#[from] ndarray::ShapeError),
}

/// How large an error the user allows, before it is resolved against the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorBound {
    /// In the data's units, for every value.
    Absolute(f64),
    /// A fraction of each column's value range (max - min), the convention of SZ3.
    RelativeToRange(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub kind: String,
    pub shape: Vec<usize>,
    pub dtype: StoredDtype,
    pub format: FileFormat,
    pub names: Vec<String>,
    /// SHA-256 of the decoder's ONNX file.
    pub model_hash: String,
    pub normalization: Normalization,
    pub modelled_columns: Vec<usize>,
    pub lossless_columns: Vec<usize>,
    pub integer_columns: Vec<usize>,
    pub modelled_per_sample: usize,
    pub latent_width: usize,
    pub latent_bits: u32,
    pub error_bound: Option<ResidualCoding>,
    pub chunk_samples: usize,
    /// Present when the latent codes are a hardware encoder's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareEncoding>,
    /// Present when samples the model's latent density flags are stored in full; earlier balerc
    /// refuses such files (an unknown field) rather than decode those samples wrongly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_samples: Option<OutlierSamples>,
    /// Present when the data's single frames [N, height, width] were grouped into stacks of
    /// this many frames for a conv3d model: `shape` is then the stacks' [N / T, T, height,
    /// width], and decompression writes the frames back as they came. Earlier balerc refuses
    /// such files (an unknown field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_per_sample: Option<usize>,
    /// A table's columns' own stored types where they differ (a Parquet file's integers,
    /// booleans and floats side by side); absent where every value is `dtype`. Each value
    /// is held to its bound as its column stores it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_dtypes: Vec<StoredDtype>,
}

/// Samples whose latent log density (under the model's outliers.json) is below the threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierSamples {
    pub log_density_threshold: f64,
}

/// The latent codes are exactly what the quantized encoder emits for each sample's normalized
/// values cast to its input type; `latent_bits` is then the latent type's width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareEncoding {
    /// The encoder's input and output types, as HLS spells them.
    pub input_type: String,
    pub latent_type: String,
    /// SHA-256 of the quantized encoder (the quantized.json of its build), which pins every code.
    pub encoder_hash: String,
    /// A build directory or a precision, for people reading the header.
    pub origin: String,
}

impl HardwareEncoding {
    pub fn latent_type(&self) -> Result<FixedType, HeaderError> {
        self.latent_type
            .parse()
            .map_err(|source| HeaderError::HardwareLatentType { spelled: self.latent_type.clone(), source })
    }
}

/// Residuals quantized to steps that keep each value within the bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualCoding {
    /// The absolute bound of each normalization feature (each modelled column, or the field).
    pub max_abs_error: Vec<f64>,
    /// Each chunk has a `residual_plan` section (integer steps, predictions from the columns
    /// before); files without one take the decoder's prediction in steps of twice the bound.
    #[serde(default)]
    pub residual_plans: bool,
    /// Formulas such as `px = pt * cos(phi)` that help predict a column from the ones before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<String>,
}

pub fn model_hash(decoder_onnx: &[u8]) -> String {
    balerc_compiler::lower::sha256_hex(decoder_onnx)
}

impl Header {
    /// `ranges` gives each normalization feature's (min, max) over the whole data; it is
    /// called (a pass over the data) only for a bound relative to the range, and its error is
    /// passed on as it is.
    pub fn new<E: From<HeaderError>>(
        info: &ModelLayout,
        data: &Layout,
        decoder: &[u8],
        hardware: Option<&HardwareEncoding>,
        options: &CompressOptions,
        ranges: impl FnOnce(&Header) -> Result<Vec<(f64, f64)>, E>,
    ) -> Result<Header, E> {
        let file = options.input.as_path();
        let frames_per_sample = frames_to_group(info, data, file)?;
        let grouped = match frames_per_sample {
            Some(frames) => {
                let shape = stacked_shape(&data.shape, frames).map_err(HeaderError::Stacking)?;
                Layout { shape, ..data.clone() }
            }
            None => data.clone(),
        };
        let data = &grouped;
        check_fits_model(info, data, file)?;
        let latent_bits = match (hardware, options.latent_bits) {
            (Some(h), _) => h.latent_type()?.width,
            (None, LatentBits::Fixed(bits)) if (1..=32).contains(&bits) => bits,
            (None, LatentBits::Fixed(bits)) => return Err(HeaderError::LatentBits(bits).into()),
            // Replaced by the width the trials choose, before anything is written.
            (None, LatentBits::Auto) if options.bound.is_some() => 16,
            (None, LatentBits::Auto) => return Err(HeaderError::AutoLatentBitsWithoutBound.into()),
        };
        let modelled_per_sample = info.features();
        let mut header = Header {
            kind: KIND.into(),
            shape: data.shape.clone(),
            dtype: data.dtype,
            format: data.format,
            names: data.names.clone(),
            model_hash: model_hash(decoder),
            normalization: info.normalization.clone(),
            modelled_columns: info.modelled_columns.clone(),
            lossless_columns: info.lossless_columns.clone(),
            integer_columns: info.integer_columns.clone(),
            modelled_per_sample,
            latent_width: info.latent,
            latent_bits,
            error_bound: None,
            chunk_samples: options.chunk_samples.unwrap_or_else(|| {
                let samples = data.shape.first().copied().unwrap_or(0) / frames_per_sample.unwrap_or(1).max(1);
                super::chunk_samples_for(modelled_per_sample, samples)
            }),
            hardware: hardware.cloned(),
            outlier_samples: None,
            frames_per_sample,
            column_dtypes: data.column_dtypes.clone(),
        };
        if header.chunk_samples == 0 {
            return Err(HeaderError::EmptyChunks.into());
        }
        match options.bound {
            Some(bound) => {
                let coding = header.resolve(bound, ranges)?;
                header.error_bound = Some(ResidualCoding { relations: options.relations.clone(), ..coding });
                header.relations()?;
            }
            None if !options.relations.is_empty() => return Err(HeaderError::RelationWithoutBound.into()),
            None => {}
        }
        Ok(header)
    }

    fn resolve<E: From<HeaderError>>(
        &self,
        bound: ErrorBound,
        ranges: impl FnOnce(&Header) -> Result<Vec<(f64, f64)>, E>,
    ) -> Result<ResidualCoding, E> {
        let features = self.normalization.features();
        let max_abs_error = match bound {
            ErrorBound::Absolute(e) if e > 0.0 => vec![e; features],
            ErrorBound::RelativeToRange(r) if r > 0.0 => {
                ranges(self)?.iter().map(|&(lo, hi)| if hi > lo { r * (hi - lo) } else { r }).collect()
            }
            _ => return Err(HeaderError::BoundNotPositive.into()),
        };
        Ok(ResidualCoding { max_abs_error, residual_plans: true, relations: vec![] })
    }

    /// Each normalization feature's (min, max), starting from nothing.
    pub fn empty_ranges(&self) -> Vec<(f64, f64)> {
        vec![(f64::INFINITY, f64::NEG_INFINITY); self.normalization.features()]
    }

    /// Widens each feature's (min, max) to cover the modelled values of a chunk.
    pub fn widen_ranges(&self, data: &Dataset, ranges: &mut [(f64, f64)]) {
        let features: Vec<usize> = (0..self.modelled_per_sample).map(|j| self.feature_of(j)).collect();
        for row in super::modelled_values(self, data).chunks(features.len().max(1)) {
            for (&v, &f) in row.iter().zip(&features) {
                let range = &mut ranges[f];
                *range = (range.0.min(v), range.1.max(v));
            }
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a header serializes")
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Header, HeaderError> {
        let header: Header = serde_json::from_value(value.clone()).map_err(HeaderError::NotBalerHeader)?;
        if header.kind != KIND {
            return Err(HeaderError::NotCompressedData(header.kind));
        }
        header.check_consistent()?;
        Ok(header)
    }

    /// A header from a damaged or hostile file must not lead to out-of-range indexing.
    fn check_consistent(&self) -> Result<(), HeaderError> {
        let features = self.normalization.features();
        // The data's values must be countable, and so those of a sample and of every stack of frames.
        let product = |axes: &[usize]| axes.iter().try_fold(1usize, |product, &axis| product.checked_mul(axis));
        let sample = self.shape.get(1..).and_then(product);
        let countable = sample.zip(self.shape.first()).is_some_and(|(sample, &n)| sample.checked_mul(n).is_some());
        let sample = sample.unwrap_or(0);
        let lossless = self.lossless_columns.len() * usize::from(self.is_table());
        let columns = self.modelled_columns.iter().chain(&self.lossless_columns).chain(&self.integer_columns);
        let ok = self.shape.len() >= 2
            && countable
            && self.normalization.offset.len() == features
            && self.normalization.scale.len() == features
            && (features == 1 || features == self.modelled_per_sample)
            && (1..=32).contains(&self.latent_bits)
            && self.latent_width > 0
            && self.chunk_samples > 0
            && self.modelled_per_sample > 0
            && self.modelled_per_sample.checked_add(lossless) == Some(sample)
            && (!self.is_table() || self.modelled_columns.len() == self.modelled_per_sample)
            && columns.clone().all(|&c| c < sample)
            && self.error_bound.as_ref().is_none_or(|b| b.max_abs_error.len() == features)
            && self.hardware.as_ref().is_none_or(|h| h.latent_type().is_ok_and(|t| t.width == self.latent_bits))
            && self.frames_per_sample.is_none_or(|t| self.shape.len() == 4 && self.shape[1] == t);
        if ok {
            Ok(())
        } else {
            Err(HeaderError::Inconsistent)
        }
    }

    /// The latent values the decoder sees; None for codes out of their range.
    pub fn latent_values(&self, q: &QuantizedLatent) -> Option<Vec<f64>> {
        match &self.hardware {
            None => Some(latent::dequantize(q, self.latent_width, self.latent_bits)),
            Some(h) => {
                let ty = h.latent_type().ok()?;
                let codes = latent::hardware_codes(q, self.latent_width)?;
                Some(codes.into_iter().map(|c| ty.to_f64(c)).collect())
            }
        }
    }

    /// The relations of a bounded table, parsed against its modelled columns' names.
    pub fn relations(&self) -> Result<Vec<Relation>, HeaderError> {
        let Some(coding) = self.error_bound.as_ref().filter(|c| !c.relations.is_empty()) else { return Ok(vec![]) };
        if !self.is_table() || self.names.is_empty() {
            return Err(HeaderError::RelationsWithoutNames);
        }
        // A damaged header may list fewer names than columns.
        let names = self.modelled_columns.iter().map(|&c| self.names.get(c).cloned());
        let names: Vec<String> = names.collect::<Option<_>>().ok_or(HeaderError::UnnamedColumn)?;
        Ok(coding.relations.iter().map(|r| Relation::parse(r, &names)).collect::<Result<_, _>>()?)
    }

    pub fn is_table(&self) -> bool {
        self.shape.len() == 2
    }

    /// The shape decompression writes: the data's own, frames ungrouped.
    pub fn output_shape(&self) -> Vec<usize> {
        match (self.frames_per_sample, self.shape.as_slice()) {
            (Some(_), &[stacks, frames, height, width]) => vec![stacks * frames, height, width],
            _ => self.shape.clone(),
        }
    }

    /// The height and width of a field's frames (its last two axes); None for a table.
    pub fn frame_shape(&self) -> Option<(usize, usize)> {
        match self.shape.as_slice() {
            [_, .., height, width] if !self.is_table() => Some((*height, *width)),
            _ => None,
        }
    }

    /// How many normalization features the modelled values of a chunk cycle through.
    pub fn feature_count(&self) -> usize {
        match self.normalization.features() {
            1 => 1,
            _ => self.modelled_per_sample,
        }
    }

    /// The (offset, scale) of each modelled value of a sample, in order: the normalization of
    /// a chunk's values row by row, without a division per value to find its feature.
    pub fn sample_normalization(&self) -> Vec<(f64, f64)> {
        let n = &self.normalization;
        (0..self.modelled_per_sample).map(|j| (n.offset[self.feature_of(j)], n.scale[self.feature_of(j)])).collect()
    }

    /// The normalization feature of the i-th modelled value of a chunk.
    pub fn feature_of(&self, i: usize) -> usize {
        match self.normalization.features() {
            1 => 0,
            _ => i % self.modelled_per_sample,
        }
    }

    /// The file column of the i-th modelled value of a chunk (tables only).
    pub fn modelled_column(&self, i: usize) -> Option<usize> {
        self.is_table().then(|| self.modelled_columns[i % self.modelled_per_sample])
    }

    /// A reconstructed value as the output file will hold it.
    pub fn store(&self, column: Option<usize>, value: f64) -> f64 {
        let integer = column.is_some_and(|c| self.integer_columns.contains(&c));
        let dtype = column.map_or(self.dtype, |c| self.column_dtype(c));
        dtype.stored(if integer { value.round() } else { value })
    }

    /// The bytes of the values alone, as the user's file stored them.
    pub fn raw_bytes(&self) -> u64 {
        let bytes = |dtype: StoredDtype| u64::from(dtype.bits() / 8);
        match self.column_dtypes.is_empty() {
            true => self.shape.iter().product::<usize>() as u64 * bytes(self.dtype),
            false => self.shape[0] as u64 * self.column_dtypes.iter().map(|&d| bytes(d)).sum::<u64>(),
        }
    }

    /// How the file stores a table's column `c`.
    pub fn column_dtype(&self, c: usize) -> StoredDtype {
        self.column_dtypes.get(c).copied().unwrap_or(self.dtype)
    }

    /// Modelled and lossless values back into the original layout.
    pub fn assemble(&self, samples: usize, modelled: Vec<f64>, lossless: &[f64]) -> Result<ArrayD<f64>, HeaderError> {
        let mut shape = self.shape.clone();
        shape[0] = samples;
        if !self.is_table() {
            return Ok(ArrayD::from_shape_vec(IxDyn(&shape), modelled)?);
        }
        let width = self.lossless_columns.len();
        if lossless.len() != samples * width {
            return Err(HeaderError::LosslessValues { values: lossless.len(), samples, width });
        }
        let columns = shape[1];
        // Every column modelled, in order: the rows are already the table's.
        if width == 0 && self.modelled_columns.iter().copied().eq(0..columns) {
            return Ok(ArrayD::from_shape_vec(IxDyn(&shape), modelled)?);
        }
        let mut out = vec![0.0; samples * columns];
        let modelled_rows = modelled.chunks_exact(self.modelled_per_sample.max(1));
        let lossless_rows = lossless.chunks_exact(width.max(1)).map(Some).chain(std::iter::repeat(None));
        for ((row, values), kept) in out.chunks_exact_mut(columns.max(1)).zip(modelled_rows).zip(lossless_rows) {
            for (&c, &v) in self.modelled_columns.iter().zip(values) {
                row[c] = v;
            }
            for (&c, &v) in self.lossless_columns.iter().zip(kept.unwrap_or_default()) {
                row[c] = v;
            }
        }
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), out)?)
    }
}

/// For a conv3d model trained on stacks of T frames, given single frames [N, height, width]
/// of its size: T, the frames to group into each sample (N must be a multiple).
fn frames_to_group(info: &ModelLayout, data: &Layout, file: &Path) -> Result<Option<usize>, HeaderError> {
    let model = &info.sample_shape;
    let Some((&frames, frame)) = model.split_first().filter(|_| model.len() == 3) else { return Ok(None) };
    if data.sample_shape() != frame {
        return Ok(None);
    }
    match data.samples() % frames {
        0 => Ok(Some(frames)),
        left => Err(HeaderError::FramesDoNotGroup {
            file: file.to_path_buf(),
            frames,
            model: model.clone(),
            samples: data.samples(),
            left,
        }),
    }
}

/// New data must have the layout the model was trained on; the normalization comes from the
/// model, never from the new data.
fn check_fits_model(info: &ModelLayout, data: &Layout, file: &Path) -> Result<(), HeaderError> {
    let is_table = info.sample_shape.len() == 1;
    if is_table {
        let width = info.modelled_columns.len() + info.lossless_columns.len();
        if data.shape.len() != 2 || data.shape[1] != width {
            return Err(HeaderError::TableWidth { file: file.to_path_buf(), width, shape: data.shape.clone() });
        }
        if !info.columns.is_empty() && !data.names.is_empty() && info.columns != data.names {
            let (i, (want, got)) =
                info.columns.iter().zip(&data.names).enumerate().find(|(_, (a, b))| a != b).expect("names differ");
            return Err(HeaderError::ColumnName {
                file: file.to_path_buf(),
                index: i,
                found: got.clone(),
                trained: want.clone(),
            });
        }
    } else if data.sample_shape() != info.sample_shape.as_slice() {
        let (model, found) = (&info.sample_shape, data.sample_shape());
        return Err(HeaderError::SampleShape { file: file.to_path_buf(), model: model.clone(), found: found.to_vec() });
    }
    Ok(())
}
