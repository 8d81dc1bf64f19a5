//! `--latent-bits auto`: with an error bound, coarse latent codes cost few bytes but leave the
//! residuals larger, and fine ones the other way round. Where the sum is smallest depends on the
//! model and the data, so a few widths are tried on the data's first samples and the smallest
//! file wins.

use super::{compress_chunk, Decoder, Header, LatentEncoder};
use crate::container::DEFAULT_COMPRESSION_LEVEL;
use crate::dataset::Dataset;
use crate::density::OutlierModel;
use rayon::prelude::*;

/// Bits per stored latent value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentBits {
    Fixed(u32),
    /// With an error bound: the width of `CANDIDATES` that makes the first samples smallest.
    Auto,
}

/// Below 4 bits the residuals grow faster than the codes shrink; above 12 they barely shrink.
const CANDIDATES: [u32; 6] = [4, 5, 6, 8, 10, 12];
/// Enough samples that the models' tables weigh little against the data, few enough to be quick.
pub const TRIAL_SAMPLES: usize = 8192;

/// One width tried: its bits and the bytes the trial samples took.
pub type Trial = (u32, u64);

/// Every candidate width's size on the first samples, smallest first.
pub fn trials(
    header: &Header,
    encoder: &LatentEncoder,
    decoder: &Decoder,
    density: Option<&OutlierModel>,
    data: &Dataset,
) -> Result<Vec<Trial>, String> {
    let sample = data.slice_samples(0, data.samples().min(TRIAL_SAMPLES).min(header.chunk_samples));
    // The trials are independent: one per core.
    let mut trials = CANDIDATES
        .par_iter()
        .map(|&bits| {
            let trial_header = Header { latent_bits: bits, ..header.clone() };
            let (chunk, _) = compress_chunk(&trial_header, encoder, decoder, density, &sample)?;
            let bytes = chunk.sections.iter().map(|s| stored_bytes(&s.bytes)).sum::<Result<u64, String>>()?;
            Ok((bits, bytes))
        })
        .collect::<Result<Vec<Trial>, String>>()?;
    trials.sort_by_key(|&(bits, bytes)| (bytes, bits));
    Ok(trials)
}

/// What the container will store for a section: zstd's output, or the bytes as they are.
fn stored_bytes(bytes: &[u8]) -> Result<u64, String> {
    let compressed = zstd::bulk::compress(bytes, DEFAULT_COMPRESSION_LEVEL).map_err(|e| e.to_string())?;
    Ok(compressed.len().min(bytes.len()) as u64)
}
