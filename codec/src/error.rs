//! What `compress`, `decompress` and `describe` can fail with: each module's own error, and
//! the failures that belong to a whole file (its name, its model, its chunks).

use crate::compress::{ChunkError, DamagedDecoder, HeaderError, NetworkError};
use crate::container::ContainerError;
use crate::model_files::{ModelDirError, OUTLIERS_FILE};
use balerc_io::dataset::DatasetError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    ModelDir(#[from] ModelDirError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The data, the model and the settings do not make a header.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A file's header does not read.
    #[error("{path}: {source}")]
    StoredHeader { path: PathBuf, source: HeaderError },
    /// A chunk being compressed, or read for its codes.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// A chunk of a file being decompressed (boxed: the path and index would make every
    /// result carrying a `CodecError` larger).
    #[error("{path}: chunk {index}: {source}")]
    ChunkOfFile { path: PathBuf, index: usize, source: Box<ChunkError> },
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
    /// Frames that would not stack into samples (balerc_io's own words).
    #[error("{0}")]
    Stacking(String),
    #[error("cannot read {path}: {source}")]
    ReadModelFile { path: PathBuf, source: std::io::Error },
    #[error(
        "--outliers auto: the model directory {model} holds no {file}; train the model with --outliers auto",
        file = OUTLIERS_FILE
    )]
    NoOutlierDensity { model: PathBuf },
    #[error("{path}: the chunks hold {chunks} samples, the header says {header}")]
    SampleCount { path: PathBuf, chunks: u64, header: usize },
    #[error("{path} was not compressed with the model in {model_dir}")]
    OtherModel { path: PathBuf, model_dir: PathBuf },
    #[error("{path}: {source}")]
    ReadEmbeddedDecoder { path: PathBuf, source: ContainerError },
    #[error("{path}: {source}")]
    EmbeddedDecoder { path: PathBuf, source: DamagedDecoder },
    #[error(
        "{path} does not contain its model: pass the model directory with --model (its decoder's sha256 is {hash}{})",
        recorded.as_ref().map_or(String::new(), |dir| format!("; it was compressed with {}, which no longer holds that decoder", dir.display()))
    )]
    ModelNotEmbedded { path: PathBuf, hash: String, recorded: Option<PathBuf> },
    #[error("{path}: the embedded decoder does not match the file's model hash")]
    EmbeddedDecoderMismatch { path: PathBuf },
    /// The decoder could not be staged as a file for the compiler.
    #[error(transparent)]
    StageDecoder(std::io::Error),
    #[error(
        "{path} holds residuals against the float decoder, so its error bound holds only with that decoder: \
         decompress it without a decoder precision"
    )]
    BoundNeedsFloatDecoder { path: PathBuf },
    #[error("{path} was compressed with the float encoder; it holds no hardware codes")]
    NoHardwareCodes { path: PathBuf },
}

/// A stop asked for from outside, in balerc_io's words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// Stops with [`Interrupted`] when a stop was asked for (see `balerc_io::interrupt`).
pub(crate) fn check_interrupt() -> Result<(), Interrupted> {
    balerc_io::interrupt::check().map_err(Interrupted)
}
