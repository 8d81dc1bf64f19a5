//! The training loop: Adam on shuffled batches (on one device, or split across several), the
//! validation loss after every epoch, a learning rate that drops on plateaus, early stopping,
//! optional L1 sparsity on the latent values, checkpoints, and for 8-bit weights a last phase
//! of epochs on their grid.

mod batches;
mod data_parallel;
mod schedule;

pub use batches::Rows;
pub use schedule::{Schedule, Verdict};

use crate::config::{TrainingConfig, WeightFormat};
use crate::model::{Autoencoder, ModelSpec};
use crate::model_dir::OutlierRound;
use batches::Batches;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The learning rate of the epochs on the weight grid, as a share of the configured one: steps
/// much larger than the grid's make the rounded model jump about.
const GRID_LEARNING_RATE_SHARE: f64 = 1.0 / 20.0;

/// What happened in one epoch. Losses are mean squared errors on normalized values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub validation_loss: Option<f64>,
    pub learning_rate: f64,
    pub seconds: f64,
}

pub struct Trained {
    /// The model of the best validation loss (of the last epoch when nothing is held out).
    pub model: Autoencoder,
    pub history: Vec<EpochRecord>,
    pub stopped_early: bool,
}

/// Reports progress and saves checkpoints while training runs.
pub trait Observer {
    fn epoch_finished(&mut self, _record: &EpochRecord) {}
    fn batch_finished(&mut self, _epoch: usize, _batch: usize, _batches: usize) {}
    fn checkpoint(&mut self, _epoch: usize, _model: &Autoencoder) {}
    /// Outlier removal flagged samples with the `round`-th model (counted from 1).
    fn outlier_round_finished(&mut self, _round: usize, _record: &OutlierRound) {}
}

pub struct Silent;
impl Observer for Silent {}

/// The thread count training runs with: one when determinism is asked for.
pub fn threads(config: &TrainingConfig) -> usize {
    match (config.deterministic, config.threads) {
        (true, _) => 1,
        (false, 0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        (false, n) => n,
    }
}

/// Trains a fresh model on normalized rows. Runs on its own thread pool so that the thread
/// count (and with it the order of floating-point sums) is the configured one. With several
/// devices every batch is split across them (data parallel); the model lives, steps and
/// validates on the first.
pub fn train(
    spec: &ModelSpec,
    config: &TrainingConfig,
    train_rows: &Rows,
    validation_rows: &Rows,
    devices: &[Device],
    observer: &mut (dyn Observer + Send),
) -> Trained {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads(config)).build().expect("a thread pool");
    pool.install(|| {
        let devices: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
        let device = devices.first().expect("at least one device to train on");
        device.seed(config.seed);
        let mut model = Autoencoder::new(spec, device);
        let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
        let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed.wrapping_add(1));
        let mut schedule = Schedule::new(config);
        let mut history = vec![];
        let mut best: Option<Autoencoder> = None;
        let mut stopped_early = false;

        for epoch in 1..=config.epochs {
            let started = Instant::now();
            let learning_rate = schedule.learning_rate;
            let batches = Batches::new(train_rows.len(), config.batch_size_for(train_rows.len()), Some(&mut rng));
            let mut weighted_loss = 0.0;
            for (i, batch) in batches.iter().enumerate() {
                let step = data_parallel::batch_gradients(&model, train_rows, batch, &devices, config.l1_sparsity);
                weighted_loss += step.mse * batch.len() as f64;
                model = optimizer.step(learning_rate, model, step.gradients);
                observer.batch_finished(epoch, i + 1, batches.count());
            }
            let train_loss = weighted_loss / train_rows.len() as f64;
            let validation_loss =
                (!validation_rows.is_empty()).then(|| mean_squared_error(&model.valid(), validation_rows));
            let watched = validation_loss.unwrap_or(train_loss);
            if schedule.is_best(watched) || best.is_none() {
                best = Some(model.valid());
            }
            let verdict = schedule.observe(watched);
            let record = EpochRecord {
                epoch,
                train_loss,
                validation_loss,
                learning_rate,
                seconds: started.elapsed().as_secs_f64(),
            };
            observer.epoch_finished(&record);
            history.push(record);
            if config.checkpoint_every > 0 && epoch % config.checkpoint_every == 0 {
                observer.checkpoint(epoch, &model.valid());
            }
            if verdict == Verdict::Stop {
                stopped_early = true;
                break;
            }
        }
        let mut kept = best.unwrap_or_else(|| model.valid());
        if spec.weights == WeightFormat::Int8 && config.grid_epochs > 0 {
            // Rounded to 8 bits after training, the weights lose accuracy that a few epochs of
            // steps taken at the rounded weights (straight through to the float ones they came
            // from) win back. The model kept is the best once rounded, on the held-out samples.
            let rounded_loss = |model: &Autoencoder| saved_loss(model, spec.weights, train_rows, validation_rows);
            let mut kept_loss = rounded_loss(&kept);
            let learning_rate = config.learning_rate * GRID_LEARNING_RATE_SHARE;
            for epoch in history.len() + 1..=history.len() + config.grid_epochs {
                let started = Instant::now();
                let batches = Batches::new(train_rows.len(), config.batch_size_for(train_rows.len()), Some(&mut rng));
                let mut weighted_loss = 0.0;
                for (i, batch) in batches.iter().enumerate() {
                    let rounded = model.clone().with_weights_rounded(spec.weights);
                    let step =
                        data_parallel::batch_gradients(&rounded, train_rows, batch, &devices, config.l1_sparsity);
                    weighted_loss += step.mse * batch.len() as f64;
                    model = optimizer.step(learning_rate, model, step.gradients);
                    observer.batch_finished(epoch, i + 1, batches.count());
                }
                let loss = rounded_loss(&model.valid());
                if loss < kept_loss {
                    (kept, kept_loss) = (model.valid(), loss);
                }
                let validation_loss = (!validation_rows.is_empty()).then_some(loss);
                let train_loss = weighted_loss / train_rows.len() as f64;
                let seconds = started.elapsed().as_secs_f64();
                let record = EpochRecord { epoch, train_loss, validation_loss, learning_rate, seconds };
                observer.epoch_finished(&record);
                history.push(record);
            }
        }
        Trained { model: kept, history, stopped_early }
    })
}

/// The loss of a model as it is saved, its weights rounded to `format`: on the validation
/// samples, or the training samples when none are held out.
pub fn saved_loss(model: &Autoencoder, format: WeightFormat, train_rows: &Rows, validation_rows: &Rows) -> f64 {
    let judged = if validation_rows.is_empty() { train_rows } else { validation_rows };
    mean_squared_error(&model.clone().with_weights_rounded(format), judged)
}

fn rows_tensor(rows: &Rows, indices: &[usize], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(rows.gather(indices), [indices.len(), rows.width]), device)
}

/// Mean squared reconstruction error of a model in inference mode, in chunks.
pub fn mean_squared_error(model: &Autoencoder, rows: &Rows) -> f64 {
    let device = model.devices().into_iter().next().expect("a model lives on a device");
    let indices: Vec<usize> = (0..rows.len()).collect();
    let mut sum = 0.0;
    for chunk in indices.chunks(8192) {
        let x = rows_tensor(rows, chunk, &device);
        let error = (model.decode(model.encode(x.clone())) - x).square().sum();
        sum += f64::from(error.into_scalar::<f32>());
    }
    sum / (rows.len() * rows.width) as f64
}

/// Runs the model on rows in chunks: (latent values, reconstructions), both flat.
pub fn encode_decode(model: &Autoencoder, rows: &Rows) -> (Rows, Rows) {
    let device = model.devices().into_iter().next().expect("a model lives on a device");
    let indices: Vec<usize> = (0..rows.len()).collect();
    let (mut latent, mut reconstruction) = (vec![], vec![]);
    let mut latent_width = 0;
    for chunk in indices.chunks(8192) {
        let z = model.encode(rows_tensor(rows, chunk, &device));
        latent_width = z.dims()[1];
        reconstruction.extend(crate::model::values(model.decode(z.clone())));
        latent.extend(crate::model::values(z));
    }
    (Rows { values: latent, width: latent_width }, Rows { values: reconstruction, width: rows.width })
}
