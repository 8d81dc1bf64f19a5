//! Why a chunk could not be compressed, or its sections could not be put back together: a
//! damaged section, or sections that do not fit each other or the header.

use super::corrupt::CorruptSection;
use super::header::HeaderError;
use super::network_error::NetworkError;
use super::SectionName;

#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error(transparent)]
    Corrupt(#[from] CorruptSection),
    #[error("the section '{0}' is missing")]
    MissingSection(SectionName),
    #[error("too many samples")]
    TooManySamples,
    #[error("{samples} samples, more than the {limit} a chunk holds")]
    OverfullChunk { samples: usize, limit: usize },
    #[error("a latent code lies outside its range")]
    LatentOutOfRange,
    #[error("the decoder's output does not fit the file's shape")]
    DecoderOutput,
    #[error("residuals in contexts belong to a field")]
    ContextsWithoutField,
    #[error("the residual plan does not fit the chunk")]
    PlanDoesNotFit,
    #[error("the residual plan's weights do not fit the chunk")]
    PlanWeightsDoNotFit,
    #[error("outlier index {0} is out of range")]
    OutlierIndex(i64),
    #[error("{values} values do not fill samples of {per_sample}")]
    FlaggedValues { values: usize, per_sample: usize },
    #[error("the flagged sample {0} is out of order or out of range")]
    FlaggedSample(i64),
    /// The header's relations or layout, applied to this chunk.
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error(transparent)]
    Network(#[from] NetworkError),
}
