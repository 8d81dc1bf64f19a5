//! `--latent-bits auto`: with an error bound, coarse latent codes cost few bytes but leave the
//! residuals larger, and fine ones the other way round. Where the sum is smallest depends on the
//! model and the data, so a few widths are tried on the data's first samples and the smallest
//! file wins.

use super::chunk_error::ChunkError;
use super::{compress_encoded, encode_chunk, stored_len, Decoder, Header, LatentEncoder};
use crate::density::OutlierModel;
use balerc_io::dataset::Dataset;
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
/// The widths tried first (indices into `CANDIDATES`): the middle and its neighbours.
const FIRST: [usize; 3] = [1, 2, 3];
/// Enough values that the models' tables weigh little against the data, few enough to be
/// quick: 8192 rows of 24 columns, 78 frames of 50 x 50.
const TRIAL_VALUES: usize = 3 << 16;
/// Samples tried at least: a field's predictions from frames before need a few frames.
const FEWEST_TRIAL_SAMPLES: usize = 8;

/// How many of the data's first samples the widths are tried on.
pub fn trial_samples(header: &Header) -> usize {
    let per_sample = header.modelled_per_sample.max(1);
    (TRIAL_VALUES / per_sample).max(FEWEST_TRIAL_SAMPLES).min(header.chunk_samples)
}

/// One width tried: its bits and the bytes the trial samples took.
pub type Trial = (u32, u64);

/// The sizes of the candidate widths tried on the first samples, smallest first. The size
/// falls and then rises again with the width (latent bytes grow, residual bytes shrink), so
/// the search starts in the middle and walks downhill until both neighbours of the smallest
/// have been tried: usually three or four trials instead of six.
pub fn trials(
    header: &Header,
    encoder: &LatentEncoder,
    decoder: &Decoder,
    density: Option<&OutlierModel>,
    data: &Dataset,
) -> Result<Vec<Trial>, ChunkError> {
    let sample = data.slice_samples(0, data.samples().min(trial_samples(header)));
    // The encoder's output does not depend on the width it is stored in.
    let encoded = encode_chunk(header, encoder, density, &sample)?;
    let trial = |bits: u32| -> Result<Trial, ChunkError> {
        let trial_header = Header { latent_bits: bits, ..header.clone() };
        let (chunk, _) = compress_encoded(&trial_header, encoder, decoder, &sample, &encoded)?;
        let bytes = chunk.sections.iter().map(|s| stored_len(&s.bytes)).sum();
        Ok((bits, bytes))
    };
    let mut sizes: Vec<Option<u64>> = vec![None; CANDIDATES.len()];
    let mut next = FIRST.to_vec();
    while !next.is_empty() {
        // The trials of a step are independent: one per core.
        let tried = next.par_iter().map(|&at| trial(CANDIDATES[at])).collect::<Result<Vec<Trial>, ChunkError>>()?;
        for (&at, (_, bytes)) in next.iter().zip(tried) {
            sizes[at] = Some(bytes);
        }
        let smallest = (0..sizes.len()).filter(|&at| sizes[at].is_some()).min_by_key(|&at| sizes[at]).expect("tried");
        next = [smallest.checked_sub(1), Some(smallest + 1)]
            .into_iter()
            .flatten()
            .filter(|&at| at < sizes.len() && sizes[at].is_none())
            .collect();
    }
    let mut trials: Vec<Trial> =
        CANDIDATES.iter().zip(sizes).filter_map(|(&bits, bytes)| bytes.map(|b| (bits, b))).collect();
    trials.sort_by_key(|&(bits, bytes)| (bytes, bits));
    Ok(trials)
}
