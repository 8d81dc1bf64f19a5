//! One batch's gradients with the batch split across devices, as burn-train's multi-device
//! strategy computes them when the optimizer runs on the main device: every device computes the
//! loss and gradients of its share on its own fork of the model, in parallel, and burn's
//! gradients accumulator sums them on the first device for a single optimizer step.

use super::{rows_tensor, Rows};
use crate::model::Autoencoder;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use rayon::prelude::*;

pub struct BatchGradients {
    /// On the first device, for the model there.
    pub gradients: GradientsParams,
    /// The batch's mean squared error (without the sparsity term).
    pub mse: f64,
}

/// The gradients of the whole batch's mean loss. Each share's loss is scaled by its fraction of
/// the batch, so the sum of the shares' gradients equals the gradient of the full batch (up to
/// the order of floating-point sums). A batch smaller than the device count uses fewer devices.
pub fn batch_gradients(
    model: &Autoencoder,
    rows: &Rows,
    batch: &[usize],
    devices: &[Device],
    l1_sparsity: f64,
) -> BatchGradients {
    let main = &devices[0];
    let shares: Vec<&[usize]> = batch.chunks(batch.len().div_ceil(devices.len())).collect();
    // One task per device on the training thread pool, which keeps the configured thread count
    // and gives burn's per-thread BatchNorm statistics stable threads to average over.
    let outputs: Vec<(GradientsParams, Tensor<1>)> = shares
        .par_iter()
        .zip(devices)
        .map(|(share, device)| {
            let weight = share.len() as f64 / batch.len() as f64;
            share_gradients(model.clone().fork(device), rows_tensor(rows, share, device), weight, l1_sparsity)
        })
        .collect();
    let mut accumulator = GradientsAccumulator::new();
    let mut mse = 0.0;
    for (gradients, share_mse) in outputs {
        accumulator.accumulate(model, gradients.to_device(main, model));
        // Read only now, so that no GPU waits for another one's loss before its own work starts.
        mse += f64::from(share_mse.into_scalar::<f32>());
    }
    BatchGradients { gradients: accumulator.grads(), mse }
}

/// The gradients of `weight` times the share's loss, and `weight` times its mean squared error.
fn share_gradients(model: Autoencoder, x: Tensor<2>, weight: f64, l1_sparsity: f64) -> (GradientsParams, Tensor<1>) {
    let latent = model.encode(x.clone());
    let mse = (model.decode(latent.clone()) - x).square().mean();
    let loss = match l1_sparsity {
        0.0 => mse.clone(),
        sparsity => mse.clone() + latent.abs().mean().mul_scalar(sparsity),
    };
    let gradients = GradientsParams::from_grads(loss.mul_scalar(weight).backward(), &model);
    (gradients, mse.detach().mul_scalar(weight))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::model::{values, ModelSpec};
    use burn::module::{ModuleVisitor, Param};
    use burn::optim::AdamConfig;
    use rand::{Rng, SeedableRng};

    fn model(device: &Device) -> Autoencoder {
        let config = ModelConfig { hidden: Some(vec![16, 8]), latent: 4, ..ModelConfig::default() };
        Autoencoder::new(&ModelSpec::resolve(&config, &[12], 32).unwrap(), device)
    }

    fn rows(count: usize) -> Rows {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        Rows { values: (0..count * 12).map(|_| rng.random_range(-1.0..1.0)).collect(), width: 12 }
    }

    /// Every parameter of a model, or its gradient, flat.
    struct Flat<'a>(Option<&'a GradientsParams>, Vec<f32>);
    impl ModuleVisitor for Flat<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = match self.0 {
                Some(gradients) => gradients.get::<D>(param.id).expect("every parameter has a gradient"),
                None => param.val(),
            };
            self.1.extend(values(value));
        }
    }

    fn flat(model: &Autoencoder, gradients: Option<&GradientsParams>) -> Vec<f32> {
        let mut visitor = Flat(gradients, vec![]);
        model.visit(&mut visitor);
        visitor.1
    }

    struct Step {
        gradients: Vec<f32>,
        parameters: Vec<f32>,
        mse: f64,
    }

    /// One Adam step on `batch`.
    fn one_step(model: &Autoencoder, devices: &[Device], batch: &[usize], l1_sparsity: f64) -> Step {
        let step = batch_gradients(model, &rows(64), batch, devices, l1_sparsity);
        let gradients = flat(model, Some(&step.gradients));
        let stepped = AdamConfig::new().init().step(1e-3, model.clone(), step.gradients);
        Step { gradients, parameters: flat(&stepped, None), mse: step.mse }
    }

    /// The largest difference, relative to the largest value of `a`.
    fn relative_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / scale
    }

    fn assert_same_step(one: &Step, many: &Step) {
        let gradients = relative_difference(&one.gradients, &many.gradients);
        assert!(gradients < 1e-5, "gradients differ by {gradients}");
        let parameters = relative_difference(&one.parameters, &many.parameters);
        assert!(parameters < 1e-6, "parameters differ by {parameters}");
        assert!((one.mse - many.mse).abs() < 1e-6 * one.mse);
    }

    // Not bit for bit: each device averages its share before the weighted shares are summed, so
    // the floating-point sums run in another order than over the whole batch at once.
    #[test]
    fn two_devices_step_as_one_does_on_the_same_batch() {
        let cpus = vec![Device::flex().autodiff(); 2];
        let model = model(&cpus[0]);
        let batch: Vec<usize> = (0..64).collect();
        for l1_sparsity in [0.0, 0.1] {
            let one = one_step(&model, &cpus[..1], &batch, l1_sparsity);
            assert_same_step(&one, &one_step(&model, &cpus, &batch, l1_sparsity));
        }
    }

    #[test]
    fn uneven_shares_are_weighted_by_their_size() {
        let cpus = vec![Device::flex().autodiff(); 3];
        let model = model(&cpus[0]);
        // 7 rows on 3 devices: shares of 3, 3 and 1 rows.
        let batch = [5, 1, 60, 33, 2, 8, 40];
        let one = one_step(&model, &cpus[..1], &batch, 0.0);
        assert_same_step(&one, &one_step(&model, &cpus, &batch, 0.0));
    }
}
