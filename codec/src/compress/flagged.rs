//! Samples stored in full: those whose latent density lies below the threshold that outlier
//! removal saved with the model. The autoencoder reconstructs them poorly, their latent values
//! would stretch the chunk's latent ranges for every other sample, and their residuals would
//! cost more than the values; so they take neither latent codes nor residuals, and each chunk
//! lists their positions and their modelled values exactly.

use super::chunk_error::ChunkError;
use super::{bytes, deltas, optional_section_bytes, section, undeltas, Header, SectionName};
use crate::container::{Chunk, Section};
use crate::density::OutlierModel;
use crate::model_files;
use crate::CodecError;
use std::path::Path;

/// Whether samples the model's latent density flags are stored in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutlierChoice {
    /// When the model directory holds a density, that is when it was trained with outlier removal.
    #[default]
    IfTrained,
    /// The model directory must hold a density.
    Auto,
    None,
}

/// The density that flags samples, as the user chose.
pub fn density(choice: OutlierChoice, model: &Path) -> Result<Option<OutlierModel>, CodecError> {
    if choice == OutlierChoice::None {
        return Ok(None);
    }
    let density = model_files::load_outliers(model)?;
    if density.is_none() && choice == OutlierChoice::Auto {
        return Err(CodecError::NoOutlierDensity { model: model.to_path_buf() });
    }
    Ok(density)
}

/// The samples whose latent rows lie below the density's threshold, in order.
pub fn flag(density: &OutlierModel, latent: &[f64]) -> Vec<usize> {
    density.flags(latent).iter().enumerate().filter(|(_, &flagged)| flagged).map(|(i, _)| i).collect()
}

/// The samples of 0..samples that are not in `flagged` (increasing).
pub fn others(flagged: &[usize], samples: usize) -> Vec<usize> {
    let mut flagged = flagged.iter().peekable();
    (0..samples).filter(|&i| flagged.next_if_eq(&&i).is_none()).collect()
}

/// The given rows of `width` values each, in the order given.
pub fn rows<T: Copy>(values: &[T], width: usize, rows: &[usize]) -> Vec<T> {
    rows.iter().flat_map(|&r| &values[r * width..(r + 1) * width]).copied().collect()
}

pub fn sections(flagged: &[usize], values: &[f64]) -> [Section; 2] {
    let indices: Vec<i64> = flagged.iter().map(|&i| i as i64).collect();
    [
        section(SectionName::FlaggedIndex, bytes::encode_varints(deltas(&indices))),
        section(SectionName::FlaggedValue, bytes::encode_f64s(values)),
    ]
}

/// The flagged samples of a chunk of `samples` and their modelled values; none when the file
/// was written without outlier removal.
pub fn read(header: &Header, chunk: &Chunk, samples: usize) -> Result<(Vec<usize>, Vec<f64>), ChunkError> {
    if header.outlier_samples.is_none() {
        return Ok((vec![], vec![]));
    }
    let values = bytes::decode_f64s(optional_section_bytes(chunk, SectionName::FlaggedValue))?;
    let per_sample = header.modelled_per_sample;
    if !values.len().is_multiple_of(per_sample) {
        return Err(ChunkError::FlaggedValues { values: values.len(), per_sample });
    }
    let indices = undeltas(bytes::decode_varints(
        optional_section_bytes(chunk, SectionName::FlaggedIndex),
        values.len() / per_sample,
    )?);
    let mut flagged = Vec::with_capacity(indices.len());
    for index in indices {
        match usize::try_from(index) {
            Ok(i) if i < samples && flagged.last().is_none_or(|&last| last < i) => flagged.push(i),
            _ => return Err(ChunkError::FlaggedSample(index)),
        }
    }
    Ok((flagged, values))
}

/// How many samples a file's chunks stored in full, from the raw size of their values.
pub fn count(header: &Header, sizes: &crate::container::Sizes) -> Option<u64> {
    header.outlier_samples.as_ref()?;
    let raw = sizes.sections.get(SectionName::FlaggedValue.as_str()).map_or(0, |totals| totals.raw);
    Some(raw / (8 * header.modelled_per_sample as u64))
}

/// A chunk's modelled values: the other samples' reconstructions with the flagged samples put
/// back in their places.
pub fn restore(others: Vec<f64>, per_sample: usize, flagged: &[usize], flagged_values: &[f64]) -> Vec<f64> {
    if flagged.is_empty() {
        return others;
    }
    let samples = (others.len() + flagged_values.len()) / per_sample;
    let mut values = Vec::with_capacity(samples * per_sample);
    let (mut others, mut flagged_values) = (others.chunks(per_sample), flagged_values.chunks(per_sample));
    let mut flagged = flagged.iter().peekable();
    for i in 0..samples {
        let sample = match flagged.next_if_eq(&&i) {
            Some(_) => flagged_values.next(),
            None => others.next(),
        };
        values.extend_from_slice(sample.expect("the counts add up"));
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flagged_samples_go_back_into_their_places() {
        let values: Vec<f64> = (0..12).map(f64::from).collect();
        let flagged = [0, 3, 4];
        let kept = others(&flagged, 6);
        assert_eq!(kept, vec![1, 2, 5]);
        let (kept_values, flagged_values) = (rows(&values, 2, &kept), rows(&values, 2, &flagged));
        assert_eq!(kept_values, vec![2.0, 3.0, 4.0, 5.0, 10.0, 11.0]);
        assert_eq!(restore(kept_values, 2, &flagged, &flagged_values), values);
        assert_eq!(restore(values.clone(), 2, &[], &[]), values);
        assert_eq!(restore(vec![], 2, &[0, 1, 2, 3, 4, 5], &values), values);
    }
}
