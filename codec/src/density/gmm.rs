//! A Gaussian mixture with full covariances, fitted by expectation-maximization from a
//! k-means++ start. Latent vectors are short (tens of values), so each component keeps its
//! covariance whole and evaluates densities through its Cholesky factor.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Points per parallel task: enough work to outweigh scheduling, few enough to use every core.
const POINTS_PER_TASK: usize = 4096;
/// Added to every covariance's diagonal, relative to the data's mean variance, so that a
/// component on a few points or a flat latent dimension keeps a positive-definite covariance.
const COVARIANCE_FLOOR: f64 = 1e-6;
/// Keeps the floor positive for data without any variance.
const SMALLEST_FLOOR: f64 = 1e-12;

pub struct FitOptions {
    pub components: usize,
    pub seed: u64,
    pub max_iterations: usize,
    /// EM stops once the mean log-likelihood per point improves by less than this.
    pub tolerance: f64,
}

impl FitOptions {
    pub fn new(components: usize, seed: u64) -> FitOptions {
        FitOptions { components, seed, max_iterations: 200, tolerance: 1e-4 }
    }
}

/// What is saved: the weight, mean and covariance (row-major) of each component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    pub weights: Vec<f64>,
    pub means: Vec<Vec<f64>>,
    pub covariances: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Parameters", into = "Parameters")]
pub struct GaussianMixture {
    parameters: Parameters,
    /// Per component: its lower Cholesky factor (row-major), and log weight - log det / 2 - d log(2 pi) / 2.
    factors: Vec<Vec<f64>>,
    offsets: Vec<f64>,
}

/// Why a mixture cannot be fitted to the points given, or read from the parameters stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MixtureError {
    #[error("a mixture needs as many weights, means and covariances, at least one of each")]
    ComponentCounts,
    #[error("every mean must hold {width} values and every covariance {width} x {width}")]
    Widths { width: usize },
    #[error("a covariance is not positive definite")]
    NotPositiveDefinite,
    #[error("cannot fit a density to {values} values in rows of {width}")]
    Rows { values: usize, width: usize },
    #[error("cannot fit a density to values that are not finite")]
    NotFinite,
}

impl From<GaussianMixture> for Parameters {
    fn from(mixture: GaussianMixture) -> Parameters {
        mixture.parameters
    }
}

impl TryFrom<Parameters> for GaussianMixture {
    type Error = MixtureError;

    fn try_from(parameters: Parameters) -> Result<GaussianMixture, MixtureError> {
        let width = parameters.means.first().map_or(0, Vec::len);
        let k = parameters.weights.len();
        if k == 0 || width == 0 || parameters.means.len() != k || parameters.covariances.len() != k {
            return Err(MixtureError::ComponentCounts);
        }
        if parameters.means.iter().any(|m| m.len() != width)
            || parameters.covariances.iter().any(|c| c.len() != width * width)
        {
            return Err(MixtureError::Widths { width });
        }
        let mut factors = Vec::with_capacity(k);
        let mut offsets = Vec::with_capacity(k);
        for (covariance, &weight) in parameters.covariances.iter().zip(&parameters.weights) {
            let factor = cholesky(covariance, width).ok_or(MixtureError::NotPositiveDefinite)?;
            let log_det: f64 = (0..width).map(|i| factor[i * width + i].ln()).sum::<f64>() * 2.0;
            offsets.push(weight.ln() - 0.5 * (log_det + width as f64 * (2.0 * std::f64::consts::PI).ln()));
            factors.push(factor);
        }
        Ok(GaussianMixture { parameters, factors, offsets })
    }
}

impl GaussianMixture {
    /// Fits `options.components` components (fewer when there are fewer points) to the rows of
    /// `points`, `width` values each.
    pub fn fit(points: &[f64], width: usize, options: &FitOptions) -> Result<GaussianMixture, MixtureError> {
        let n = points.len() / width.max(1);
        if n == 0 || width == 0 || points.len() != n * width {
            return Err(MixtureError::Rows { values: points.len(), width });
        }
        if points.iter().any(|v| !v.is_finite()) {
            return Err(MixtureError::NotFinite);
        }
        let floor = covariance_floor(points, width);
        let centers = kmeans_plus_plus(points, width, options.components.clamp(1, n), options.seed);
        let nearest: Vec<usize> = points.par_chunks(width).map(|x| nearest_center(x, &centers, width)).collect();
        let mut mixture = m_step(points, width, centers.len(), floor, |i, k| f64::from(u8::from(nearest[i] == k)))?;
        let mut previous = f64::NEG_INFINITY;
        for _ in 0..options.max_iterations {
            let (responsibilities, mean_log_likelihood) = mixture.e_step(points);
            let k = mixture.components();
            mixture = m_step(points, width, k, floor, |i, c| responsibilities[i * k + c])?;
            if mean_log_likelihood - previous < options.tolerance {
                break;
            }
            previous = mean_log_likelihood;
        }
        Ok(mixture)
    }

    pub fn components(&self) -> usize {
        self.parameters.weights.len()
    }

    pub fn width(&self) -> usize {
        self.parameters.means[0].len()
    }

    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// The natural log of the density at one point.
    pub fn log_density(&self, x: &[f64]) -> f64 {
        log_sum_exp(&self.component_log_densities(x))
    }

    /// The log density at each row of `points`.
    pub fn log_densities(&self, points: &[f64]) -> Vec<f64> {
        points.par_chunks(self.width()).with_min_len(POINTS_PER_TASK).map(|x| self.log_density(x)).collect()
    }

    /// log weight + log N(x | mean, covariance) of every component.
    fn component_log_densities(&self, x: &[f64]) -> Vec<f64> {
        let width = self.width();
        let mut solved = vec![0.0; width];
        (0..self.components())
            .map(|k| {
                let (factor, mean) = (&self.factors[k], &self.parameters.means[k]);
                // Forward substitution: L y = x - mean, so |y|^2 is the Mahalanobis distance.
                for i in 0..width {
                    let row = &factor[i * width..i * width + i];
                    let sum: f64 = row.iter().zip(&solved).map(|(l, y)| l * y).sum();
                    solved[i] = (x[i] - mean[i] - sum) / factor[i * width + i];
                }
                self.offsets[k] - 0.5 * solved.iter().map(|y| y * y).sum::<f64>()
            })
            .collect()
    }

    /// Each point's responsibilities (rows of `components`) and the mean log-likelihood.
    fn e_step(&self, points: &[f64]) -> (Vec<f64>, f64) {
        let k = self.components();
        let per_point: Vec<(Vec<f64>, f64)> = points
            .par_chunks(self.width())
            .with_min_len(POINTS_PER_TASK)
            .map(|x| {
                let mut logs = self.component_log_densities(x);
                let total = log_sum_exp(&logs);
                logs.iter_mut().for_each(|l| *l = (*l - total).exp());
                (logs, total)
            })
            .collect();
        let n = per_point.len();
        let mut responsibilities = Vec::with_capacity(n * k);
        let mut sum = 0.0;
        for (r, total) in per_point {
            responsibilities.extend(r);
            sum += total;
        }
        (responsibilities, sum / n as f64)
    }
}

/// Weights, means and covariances from soft assignments `weight(point, component)`.
fn m_step(
    points: &[f64],
    width: usize,
    components: usize,
    floor: f64,
    weight: impl Fn(usize, usize) -> f64 + Sync,
) -> Result<GaussianMixture, MixtureError> {
    let n = points.len() / width;
    // Per component: total weight, weighted sum of points, weighted sum of outer products.
    let stride = 1 + width + width * width;
    let zero = || vec![0.0; components * stride];
    let sums = (0..n)
        .into_par_iter()
        .with_min_len(POINTS_PER_TASK)
        .fold(zero, |mut sums, i| {
            let x = &points[i * width..(i + 1) * width];
            for k in 0..components {
                let w = weight(i, k);
                if w == 0.0 {
                    continue;
                }
                let s = &mut sums[k * stride..(k + 1) * stride];
                s[0] += w;
                for a in 0..width {
                    s[1 + a] += w * x[a];
                    for b in 0..=a {
                        s[1 + width + a * width + b] += w * x[a] * x[b];
                    }
                }
            }
            sums
        })
        .reduce(zero, |mut a, b| {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
            a
        });
    let mut parameters = Parameters { weights: vec![], means: vec![], covariances: vec![] };
    for s in sums.chunks(stride) {
        // A component that lost all its points adds nothing; dropping it keeps every log finite.
        if s[0] <= f64::EPSILON * n as f64 {
            continue;
        }
        let mean: Vec<f64> = s[1..1 + width].iter().map(|v| v / s[0]).collect();
        let mut covariance = vec![0.0; width * width];
        for a in 0..width {
            for b in 0..=a {
                let c = s[1 + width + a * width + b] / s[0] - mean[a] * mean[b] + if a == b { floor } else { 0.0 };
                covariance[a * width + b] = c;
                covariance[b * width + a] = c;
            }
        }
        parameters.weights.push(s[0] / n as f64);
        parameters.means.push(mean);
        parameters.covariances.push(covariance);
    }
    let total: f64 = parameters.weights.iter().sum();
    parameters.weights.iter_mut().for_each(|w| *w /= total);
    GaussianMixture::try_from(parameters)
}

fn covariance_floor(points: &[f64], width: usize) -> f64 {
    let n = (points.len() / width) as f64;
    let mean_variance = (0..width)
        .map(|d| {
            let column = points.iter().skip(d).step_by(width);
            let mean = column.clone().sum::<f64>() / n;
            column.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
        })
        .sum::<f64>()
        / width as f64;
    (COVARIANCE_FLOOR * mean_variance).max(SMALLEST_FLOOR)
}

/// k-means++ seeding: each next center a point drawn with probability proportional to its
/// squared distance from the centers so far.
fn kmeans_plus_plus(points: &[f64], width: usize, k: usize, seed: u64) -> Vec<f64> {
    let n = points.len() / width;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut centers = points[rng.random_range(0..n) * width..][..width].to_vec();
    let mut distances: Vec<f64> = points.chunks(width).map(|x| squared_distance(x, &centers)).collect();
    while centers.len() < k * width {
        let total: f64 = distances.iter().sum();
        let chosen = match total > 0.0 {
            true => {
                let mut target = rng.random::<f64>() * total;
                distances.iter().position(|&d| {
                    target -= d;
                    target < 0.0
                })
            }
            false => None,
        };
        // All points coincide with a center (or rounding ran past the end): any point will do.
        let chosen = chosen.unwrap_or_else(|| rng.random_range(0..n));
        let center = &points[chosen * width..(chosen + 1) * width];
        for (d, x) in distances.iter_mut().zip(points.chunks(width)) {
            *d = d.min(squared_distance(x, center));
        }
        centers.extend_from_slice(center);
    }
    centers
}

fn nearest_center(x: &[f64], centers: &[f64], width: usize) -> usize {
    let distances = centers.chunks(width).map(|c| squared_distance(x, c));
    distances.enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).map_or(0, |(k, _)| k)
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The lower-triangular L with L Lᵀ = `matrix` (row-major), or None if it is not positive definite.
fn cholesky(matrix: &[f64], width: usize) -> Option<Vec<f64>> {
    let mut factor = vec![0.0; width * width];
    for i in 0..width {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| factor[i * width + k] * factor[j * width + k]).sum();
            let value = matrix[i * width + j] - dot;
            if i == j {
                if !(value > 0.0 && value.is_finite()) {
                    return None;
                }
                factor[i * width + i] = value.sqrt();
            } else {
                factor[i * width + j] = value / factor[j * width + j];
            }
        }
    }
    Some(factor)
}

/// log(sum(exp(v))) without overflow; -inf for no terms.
fn log_sum_exp(values: &[f64]) -> f64 {
    let largest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if largest == f64::NEG_INFINITY {
        return largest;
    }
    largest + values.iter().map(|v| (v - largest).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` points around each center, with standard deviation `spread` (Box-Muller).
    fn blobs(centers: &[[f64; 2]], n: usize, spread: f64, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut normal = || {
            let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
            spread * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        centers.iter().flat_map(|c| (0..n).flat_map(|_| c.map(|v| v + normal())).collect::<Vec<_>>()).collect()
    }

    #[test]
    fn recovers_the_means_of_two_separated_clusters() {
        let points = blobs(&[[-5.0, 2.0], [4.0, -3.0]], 2000, 0.5, 3);
        let mixture = GaussianMixture::fit(&points, 2, &FitOptions::new(2, 7)).unwrap();
        let mut means = mixture.parameters().means.clone();
        means.sort_by(|a, b| a[0].total_cmp(&b[0]));
        for (found, expected) in means.iter().zip([[-5.0, 2.0], [4.0, -3.0]]) {
            assert!(squared_distance(found, &expected).sqrt() < 0.05, "{found:?} against {expected:?}");
        }
        for (w, c) in mixture.parameters().weights.iter().zip(&mixture.parameters().covariances) {
            assert!((w - 0.5).abs() < 0.01 && (c[0] - 0.25).abs() < 0.03 && c[1].abs() < 0.03, "{w} {c:?}");
        }
    }

    #[test]
    fn one_component_is_the_sample_gaussian() {
        let parameters = Parameters {
            weights: vec![1.0],
            means: vec![vec![1.0, -2.0]],
            covariances: vec![vec![4.0, 1.0, 1.0, 2.0]],
        };
        let mixture = GaussianMixture::try_from(parameters).unwrap();
        // By hand: det = 7, inverse = [[2, -1], [-1, 4]] / 7; at (2, 0) the offset is (1, 2).
        let mahalanobis = (2.0 * 1.0 - 2.0 * 1.0 * 2.0 + 4.0 * 4.0) / 7.0;
        let expected = -0.5 * (mahalanobis + 7f64.ln() + 2.0 * (2.0 * std::f64::consts::PI).ln());
        assert!((mixture.log_density(&[2.0, 0.0]) - expected).abs() < 1e-12);
    }

    #[test]
    fn the_density_integrates_to_one() {
        let points = blobs(&[[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]], 500, 0.7, 11);
        let mixture = GaussianMixture::fit(&points, 2, &FitOptions::new(3, 1)).unwrap();
        let step = 0.05;
        let grid = (-400..400).map(|i| i as f64 * step);
        let integral: f64 = grid
            .clone()
            .flat_map(|x| grid.clone().map(move |y| [x, y]))
            .map(|p| mixture.log_density(&p).exp() * step * step)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
    }

    #[test]
    fn degenerate_data_still_fits() {
        let flat: Vec<f64> = (0..100).flat_map(|i| [i as f64, 3.0]).collect();
        let mixture = GaussianMixture::fit(&flat, 2, &FitOptions::new(4, 1)).unwrap();
        assert!(mixture.log_density(&[50.0, 3.0]).is_finite());
        let same = vec![1.5; 30];
        assert!(GaussianMixture::fit(&same, 3, &FitOptions::new(2, 1)).unwrap().log_density(&[1.5; 3]).is_finite());
        assert!(GaussianMixture::fit(&[], 3, &FitOptions::new(2, 1)).is_err());
    }

    #[test]
    fn saved_parameters_load_back_and_bad_ones_are_refused() {
        let points = blobs(&[[0.0, 0.0], [3.0, 1.0]], 100, 0.7, 5);
        let mixture = GaussianMixture::fit(&points, 2, &FitOptions::new(2, 1)).unwrap();
        let json = serde_json::to_string(&mixture).unwrap();
        assert_eq!(serde_json::from_str::<GaussianMixture>(&json).unwrap(), mixture);
        let bad = r#"{"weights": [1.0], "means": [[0.0, 0.0]], "covariances": [[1.0, 2.0, 2.0, 1.0]]}"#;
        assert!(serde_json::from_str::<GaussianMixture>(bad).unwrap_err().to_string().contains("positive definite"));
    }
}
