//! Outlier removal by anomaly detection: a density over the latent codes of the training data,
//! and a fence far below its bulk. Samples whose latent density falls under the fence are ones
//! the autoencoder has seen too rarely to reconstruct well; training leaves them out and
//! compression stores them in full.

pub mod fence;
pub mod gmm;

use gmm::{FitOptions, GaussianMixture, MixtureError};
use serde::{Deserialize, Serialize};

const FORMAT: &str = "balerc-outliers";
const VERSION: u32 = 1;

/// An `outliers.json` of another format or version than this balerc reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("it says {format} version {version}, expected {FORMAT} version {VERSION}")]
pub struct UnknownFormat {
    pub format: String,
    pub version: u32,
}

/// The density model of a model directory's latent space, as `outliers.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierModel {
    pub format: String,
    pub version: u32,
    /// How many interquartile ranges below the first quartile of the training samples' log
    /// densities the threshold lies.
    pub fence: f64,
    /// Samples whose latent log density is below this are outliers.
    pub threshold: f64,
    pub mixture: GaussianMixture,
}

impl OutlierModel {
    /// Fits a mixture of `components` Gaussians to latent rows of `width` values and puts the
    /// threshold `fence` interquartile ranges below their first quartile of log density.
    pub fn fit(
        latent: &[f64],
        width: usize,
        components: usize,
        fence: f64,
        seed: u64,
    ) -> Result<OutlierModel, MixtureError> {
        let mixture = GaussianMixture::fit(latent, width, &FitOptions::new(components, seed))?;
        let threshold = fence::lower_fence(&mixture.log_densities(latent), fence);
        Ok(OutlierModel { format: FORMAT.into(), version: VERSION, fence, threshold, mixture })
    }

    /// Whether each latent row (of the mixture's width) is an outlier.
    pub fn flags(&self, latent: &[f64]) -> Vec<bool> {
        self.mixture.log_densities(latent).into_iter().map(|d| d < self.threshold).collect()
    }

    pub fn check(&self) -> Result<(), UnknownFormat> {
        match self.format == FORMAT && self.version == VERSION {
            true => Ok(()),
            false => Err(UnknownFormat { format: self.format.clone(), version: self.version }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_far_point_is_flagged_and_the_bulk_is_not() {
        let mut latent: Vec<f64> = (0..2000).flat_map(|i| [(i % 50) as f64 / 50.0, (i % 37) as f64 / 37.0]).collect();
        let model = OutlierModel::fit(&latent, 2, 2, 3.0, 1).unwrap();
        assert_eq!(model.flags(&latent).iter().filter(|&&f| f).count(), 0);
        latent.extend([40.0, -30.0]);
        assert_eq!(model.flags(&latent).last(), Some(&true));
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<OutlierModel>(&json).unwrap(), model);
    }
}
