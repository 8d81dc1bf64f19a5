//! The sums behind every number of the report, gathered in one pass over a column.
//!
//! Sums rather than finished numbers, because sums of parts add up: a long column is summed in
//! pieces on several threads, and the overall numbers are the columns' sums added together.

use ndarray::{ArrayView1, Axis, Slice};
use rayon::prelude::*;

use super::{ColumnMetrics, OverallMetrics};

/// Rows summed by one task; long enough that splitting costs nothing, short enough to share out.
const ROWS_PER_TASK: usize = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sums {
    count: u64,
    residual: f64,
    residual_squared: f64,
    /// The response is only defined where the original is not zero; `responses` counts those values.
    responses: u64,
    response: f64,
    response_squared: f64,
    max_abs_error: f64,
    original_low: f64,
    original_high: f64,
}

impl Sums {
    /// The sums over no values, to start adding from.
    pub const NOTHING: Sums = Sums {
        count: 0,
        residual: 0.0,
        residual_squared: 0.0,
        responses: 0,
        response: 0.0,
        response_squared: 0.0,
        max_abs_error: 0.0,
        original_low: f64::INFINITY,
        original_high: f64::NEG_INFINITY,
    };

    /// The sums over one column, its rows shared out among threads.
    pub fn of_column(original: ArrayView1<'_, f64>, reconstructed: ArrayView1<'_, f64>) -> Sums {
        let rows = original.len();
        let piece = |start: usize| Slice::from(start..(start + ROWS_PER_TASK).min(rows));
        (0..rows.div_ceil(ROWS_PER_TASK))
            .into_par_iter()
            .map(|task| {
                let rows = piece(task * ROWS_PER_TASK);
                Sums::of_values(original.slice_axis(Axis(0), rows), reconstructed.slice_axis(Axis(0), rows))
            })
            .reduce(|| Sums::NOTHING, Sums::add)
    }

    fn of_values(original: ArrayView1<'_, f64>, reconstructed: ArrayView1<'_, f64>) -> Sums {
        let mut sums = Sums::NOTHING;
        for (&original, &reconstructed) in original.iter().zip(&reconstructed) {
            sums.include(original, reconstructed);
        }
        sums
    }

    fn include(&mut self, original: f64, reconstructed: f64) {
        let residual = reconstructed - original;
        self.count += 1;
        self.residual += residual;
        self.residual_squared += residual * residual;
        self.max_abs_error = self.max_abs_error.max(residual.abs());
        self.original_low = self.original_low.min(original);
        self.original_high = self.original_high.max(original);
        if original != 0.0 {
            let response = residual / original;
            self.responses += 1;
            self.response += response;
            self.response_squared += response * response;
        }
    }

    pub fn add(self, other: Sums) -> Sums {
        Sums {
            count: self.count + other.count,
            residual: self.residual + other.residual,
            residual_squared: self.residual_squared + other.residual_squared,
            responses: self.responses + other.responses,
            response: self.response + other.response,
            response_squared: self.response_squared + other.response_squared,
            max_abs_error: self.max_abs_error.max(other.max_abs_error),
            original_low: self.original_low.min(other.original_low),
            original_high: self.original_high.max(other.original_high),
        }
    }

    pub fn column_metrics(&self, name: &str) -> ColumnMetrics {
        let residual_rms = self.residual_rms();
        let range = self.range();
        ColumnMetrics {
            name: name.to_string(),
            residual_mean: self.residual / self.count as f64,
            residual_rms,
            response_mean: (self.responses > 0).then(|| self.response / self.responses as f64),
            response_rms: (self.responses > 0).then(|| (self.response_squared / self.responses as f64).sqrt()),
            response_skipped: self.count - self.responses,
            max_abs_error: self.max_abs_error,
            range,
            nrmse: nrmse(residual_rms, range),
            psnr_db: psnr_db(residual_rms, range),
        }
    }

    /// The whole data set's numbers, from the sums of all its columns added together.
    pub fn overall_metrics(&self, columns: &[ColumnMetrics]) -> OverallMetrics {
        let residual_rms = self.residual_rms();
        let range = self.range();
        let relative_errors = columns.iter().filter(|column| column.range > 0.0);
        OverallMetrics {
            max_abs_error: self.max_abs_error,
            nrmse: nrmse(residual_rms, range),
            psnr_db: psnr_db(residual_rms, range),
            max_rel_error_of_range: relative_errors.map(|column| column.max_abs_error / column.range).reduce(f64::max),
        }
    }

    fn residual_rms(&self) -> f64 {
        (self.residual_squared / self.count as f64).sqrt()
    }

    fn range(&self) -> f64 {
        self.original_high - self.original_low
    }
}

/// Undefined for a constant original, which has no range to measure errors against.
fn nrmse(residual_rms: f64, range: f64) -> Option<f64> {
    (range > 0.0).then(|| residual_rms / range)
}

/// Undefined for a constant original, and infinite (so left out) for a perfect reconstruction.
fn psnr_db(residual_rms: f64, range: f64) -> Option<f64> {
    (range > 0.0 && residual_rms > 0.0).then(|| 20.0 * (range / residual_rms).log10())
}
