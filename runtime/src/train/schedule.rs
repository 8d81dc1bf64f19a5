//! Decisions taken after each epoch from the validation loss: lower the learning rate when it
//! stalls (as PyTorch's ReduceLROnPlateau), stop when it has stalled for long enough.

use crate::config::TrainingConfig;

#[derive(Debug, Clone)]
pub struct Schedule {
    pub learning_rate: f64,
    best: f64,
    epochs_since_best: usize,
    epochs_since_lr_change: usize,
    lr_patience: usize,
    lr_factor: f64,
    min_lr: f64,
    stop_patience: usize,
    min_delta: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    Stop,
}

impl Schedule {
    pub fn new(config: &TrainingConfig) -> Schedule {
        Schedule {
            learning_rate: config.learning_rate,
            best: f64::INFINITY,
            epochs_since_best: 0,
            epochs_since_lr_change: 0,
            lr_patience: config.lr_patience,
            lr_factor: config.lr_factor,
            min_lr: config.min_lr,
            stop_patience: config.early_stopping_patience,
            min_delta: config.early_stopping_min_delta,
        }
    }

    /// Whether `loss` is the best so far (by more than the minimum improvement).
    pub fn is_best(&self, loss: f64) -> bool {
        loss < self.best - self.min_delta
    }

    pub fn observe(&mut self, loss: f64) -> Verdict {
        if self.is_best(loss) {
            self.best = loss;
            self.epochs_since_best = 0;
            self.epochs_since_lr_change = 0;
            return Verdict::Continue;
        }
        self.epochs_since_best += 1;
        self.epochs_since_lr_change += 1;
        if self.lr_patience > 0 && self.epochs_since_lr_change > self.lr_patience {
            self.learning_rate = (self.learning_rate * self.lr_factor).max(self.min_lr);
            self.epochs_since_lr_change = 0;
        }
        match self.stop_patience > 0 && self.epochs_since_best >= self.stop_patience {
            true => Verdict::Stop,
            false => Verdict::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lr_patience: usize, stop_patience: usize) -> TrainingConfig {
        TrainingConfig {
            learning_rate: 1.0,
            lr_patience,
            lr_factor: 0.5,
            min_lr: 0.2,
            early_stopping_patience: stop_patience,
            early_stopping_min_delta: 0.01,
            ..TrainingConfig::default()
        }
    }

    #[test]
    fn learning_rate_halves_after_patience_and_stops_at_the_floor() {
        let mut s = Schedule::new(&config(2, 0));
        s.observe(1.0);
        for _ in 0..2 {
            s.observe(1.0);
        }
        assert_eq!(s.learning_rate, 1.0, "patience not yet exhausted");
        s.observe(1.0);
        assert_eq!(s.learning_rate, 0.5);
        for _ in 0..9 {
            s.observe(1.0);
        }
        assert_eq!(s.learning_rate, 0.2, "never below min_lr");
    }

    #[test]
    fn stops_when_no_improvement_beats_min_delta() {
        let mut s = Schedule::new(&config(0, 3));
        assert_eq!(s.observe(1.0), Verdict::Continue);
        assert_eq!(s.observe(0.995), Verdict::Continue, "too small to count");
        assert_eq!(s.observe(0.5), Verdict::Continue, "a real improvement resets the count");
        assert_eq!(s.observe(0.5), Verdict::Continue);
        assert_eq!(s.observe(0.5), Verdict::Continue);
        assert_eq!(s.observe(0.5), Verdict::Stop);
    }
}
