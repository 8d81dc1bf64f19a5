//! A table chunk coded and decoded a block of rows at a time.
//!
//! In a table every row is predicted, coded and reconstructed from its own values alone, so a
//! chunk may go through the decoder and the residual coding in blocks of rows with the same
//! results bit for bit. A block's arrays fit in the processor's cache and are reused from
//! block to block, where a whole chunk's arrays would be fresh memory that the kernel has to
//! zero first: that zeroing was half of the time a table took to decompress.

use super::chunk_error::ChunkError;
use super::header::{Header, ResidualCoding};
use super::relation::Relation;
use super::residual_plan::{self, ResidualPlan};
use super::table_residuals::{choose_plan, code_with_plan, ColumnKind};
use super::{predict, recycled, Decoder};
use std::ops::Range;

/// Rows per block: about 100,000 values of 24 columns, under a megabyte per array.
pub const BLOCK_ROWS: usize = 4096;

/// The modelled values (row-major) of a bounded table chunk from its latents, residual codes
/// and outliers (indices into the chunk's values, increasing), as
/// [`residual_plan::reconstruct`] gives them for the whole chunk at once.
#[allow(clippy::too_many_arguments)]
pub fn reconstruct_table(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    plan: &ResidualPlan,
    decoder: &Decoder,
    latent_values: &[f64],
    codes: &[i64],
    outliers: &[(usize, f64)],
) -> Result<Vec<f64>, ChunkError> {
    let (per_sample, latent_width) = (header.modelled_per_sample, header.latent_width);
    let rows = codes.len() / per_sample.max(1);
    if latent_values.len() != rows * latent_width {
        return Err(ChunkError::DecoderOutput);
    }
    let mut predict_rows = decoder_prediction(header, decoder, latent_values);
    let mut values = recycled::VALUES.take(codes.len());
    for first in (0..rows).step_by(BLOCK_ROWS) {
        let end = (first + BLOCK_ROWS).min(rows);
        let prediction = predict_rows(first..end)?;
        if prediction.len() != (end - first) * per_sample {
            return Err(ChunkError::DecoderOutput);
        }
        let span = first * per_sample..end * per_sample;
        let block_outliers = outliers_within(outliers, span.clone());
        let block =
            residual_plan::reconstruct(header, coding, relations, plan, &prediction, &codes[span], &block_outliers)?;
        values.extend_from_slice(&block);
    }
    Ok(values)
}

/// A table chunk's plan, codes (row-major) and outliers (index, exact value; increasing).
pub type CodedTable = (ResidualPlan, Vec<i64>, Vec<(i64, f64)>);

/// The plan, codes (row-major) and outliers (index, exact value; increasing) of a bounded table
/// chunk: the plan chosen on the rows of its first `trial_end` values (rounded up to whole
/// rows), then every later block of rows coded with it. `predict_rows` gives the decoder's
/// prediction of a range of rows, in the data's units.
pub fn code_table<E>(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    original: &[f64],
    trial_end: usize,
    mut predict_rows: impl FnMut(Range<usize>) -> Result<Vec<f64>, E>,
) -> Result<CodedTable, E> {
    let per_sample = header.modelled_per_sample.max(1);
    let rows = original.len() / per_sample;
    let kinds = ColumnKind::of_columns(header, original);
    let trial_rows = trial_end.div_ceil(per_sample).min(rows);
    let trial = 0..trial_rows * per_sample;
    let prediction = predict_rows(0..trial_rows)?;
    let (plan, mut codes, mut outliers) =
        choose_plan(header, coding, relations, &kinds, &original[trial.clone()], &prediction);
    codes.reserve(original.len() - codes.len());
    for first in (trial_rows..rows).step_by(BLOCK_ROWS) {
        let end = (first + BLOCK_ROWS).min(rows);
        let prediction = predict_rows(first..end)?;
        let span = first * per_sample..end * per_sample;
        let (block_codes, block_outliers) =
            code_with_plan(header, coding, relations, &plan, &original[span.clone()], &prediction);
        codes.extend_from_slice(&block_codes);
        outliers.extend(block_outliers.into_iter().map(|(i, v)| (i + span.start as i64, v)));
    }
    Ok((plan, codes, outliers))
}

/// The decoder's prediction of rows of latents, in the data's units.
pub fn decoder_prediction<'a>(
    header: &'a Header,
    decoder: &'a Decoder,
    latent_values: &'a [f64],
) -> impl FnMut(Range<usize>) -> Result<Vec<f64>, ChunkError> + 'a {
    let width = header.latent_width;
    move |rows| Ok(predict(header, decoder, &latent_values[rows.start * width..rows.end * width])?)
}

/// The outliers whose indices lie in `span`, indexed from its start.
fn outliers_within(outliers: &[(usize, f64)], span: Range<usize>) -> Vec<(usize, f64)> {
    let from = outliers.partition_point(|&(i, _)| i < span.start);
    let to = outliers.partition_point(|&(i, _)| i < span.end);
    outliers[from..to].iter().map(|&(i, v)| (i - span.start, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_keeps_its_own_outliers_counted_from_its_start() {
        let outliers = [(0, 1.0), (5, 2.0), (5, 3.0), (9, 4.0), (10, 5.0)];
        assert_eq!(outliers_within(&outliers, 0..5), vec![(0, 1.0)]);
        assert_eq!(outliers_within(&outliers, 5..10), vec![(0, 2.0), (0, 3.0), (4, 4.0)]);
        assert_eq!(outliers_within(&outliers, 10..15), vec![(0, 5.0)]);
        assert_eq!(outliers_within(&outliers, 15..20), vec![]);
    }
}
