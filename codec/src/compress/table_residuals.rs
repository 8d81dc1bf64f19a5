//! A table chunk's residuals, coded and reconstructed column by column.
//!
//! In a table, a column's prediction reads only the columns before it, so all rows of one
//! column can be predicted, coded and decoded together: each step is a loop over a column's
//! contiguous values, which the compiler vectorizes, instead of a walk over the interleaved
//! values. Every row sees the same f64 operations in the same order as the value-by-value
//! reading of [`super::residual_plan`] describes, so a file's values come back bit for bit,
//! whichever reading wrote it.

use super::field_neighbours::Neighbourhood;
use super::header::{Header, ResidualCoding};
use super::linear_fit::Gram;
use super::relation::Relation;
use super::residual_plan::{
    entropy_bits, is_integer, relation_value, round, FeaturePlan, Grid, ResidualPlan, LARGEST_CODE, ZERO_SHARE_TO_TRY,
};
use balerc_compiler::sim::with_wide_registers;

/// Wider tables keep the decoder's prediction: the weights grow with the square of the width.
const MAX_LINEAR_FEATURES: usize = 64;

/// Whether the chunk's modelled values are a table whose every column is its own feature:
/// the layout this module reads.
pub fn applies(header: &Header) -> bool {
    header.is_table() && header.feature_count() == header.modelled_per_sample && header.modelled_per_sample > 0
}

/// A chunk's values column by column: column f's `rows` values at `[f * rows, (f + 1) * rows)`.
struct Columns<'h> {
    header: &'h Header,
    relations: &'h [Relation],
    features: usize,
    rows: usize,
    predicted: Vec<f64>,
    predicted_normalized: Vec<f64>,
    decoded: Vec<f64>,
    decoded_normalized: Vec<f64>,
}

impl<'h> Columns<'h> {
    fn new(header: &'h Header, relations: &'h [Relation], prediction: &[f64]) -> Columns<'h> {
        let features = header.modelled_per_sample;
        let rows = prediction.len() / features;
        let predicted = transposed(prediction, features);
        let mut predicted_normalized = vec![0.0; predicted.len()];
        for f in 0..features {
            let range = f * rows..(f + 1) * rows;
            normalize_column(header, f, &predicted[range.clone()], &mut predicted_normalized[range]);
        }
        let zeros = vec![0.0; predicted.len()];
        Columns {
            header,
            relations,
            features,
            rows,
            predicted,
            predicted_normalized,
            decoded: zeros.clone(),
            decoded_normalized: zeros,
        }
    }

    fn column<'a>(&self, values: &'a [f64], f: usize) -> &'a [f64] {
        &values[f * self.rows..(f + 1) * self.rows]
    }

    /// Feature `f`'s prediction of its first `out.len()` rows: the decoder's, or the linear one
    /// of the columns decoded before it. Per row: the sum starts at 0 and adds the weighted
    /// decoded and predicted value of each column before `f` in turn, then `f`'s own
    /// prediction, the constant and the relations; then it leaves normalized units.
    fn predict(&self, f: usize, plan: &FeaturePlan, out: &mut [f64]) {
        let end = out.len();
        let Some(w) = plan.weights.as_deref() else {
            out.copy_from_slice(&self.column(&self.predicted, f)[..end]);
            return;
        };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            unsafe { self.sum_columns_before_avx2(f, w, out) };
        } else {
            self.sum_columns_before(f, w, out);
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.sum_columns_before(f, w, out);
        let own_relations = self.relations.iter().filter(|r| r.target == f);
        let mut row = vec![0.0; f];
        for (j, relation) in own_relations.enumerate() {
            let weight = f64::from(w[2 * f + 2 + j]);
            for (r, sum) in out.iter_mut().enumerate() {
                for (k, value) in row.iter_mut().enumerate() {
                    *value = self.decoded[k * self.rows + r];
                }
                *sum += weight * normalize(self.header, f, relation_value(relation, &row));
            }
        }
        let (scale, offset) = (self.header.normalization.scale[f], self.header.normalization.offset[f]);
        with_wide_registers(|| affine(out, scale, offset));
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sum_columns_before_avx2(&self, f: usize, w: &[f32], out: &mut [f64]) {
        self.sum_columns_before(f, w, out);
    }

    /// In normalized units, the weighted decoded and predicted values of the columns before
    /// `f`, then `f`'s own prediction and the constant, added in that order.
    #[inline(always)]
    fn sum_columns_before(&self, f: usize, w: &[f32], out: &mut [f64]) {
        let end = out.len();
        out.fill(0.0);
        for k in 0..f {
            let (a, b) = (f64::from(w[k]), f64::from(w[f + k]));
            let decoded = &self.column(&self.decoded_normalized, k)[..end];
            let predicted = &self.column(&self.predicted_normalized, k)[..end];
            for ((sum, &d), &p) in out.iter_mut().zip(decoded).zip(predicted) {
                *sum += a * d;
                *sum += b * p;
            }
        }
        let (own, constant) = (f64::from(w[2 * f]), f64::from(w[2 * f + 1]));
        for (sum, &p) in out.iter_mut().zip(&self.column(&self.predicted_normalized, f)[..end]) {
            *sum += own * p;
            *sum += constant;
        }
    }

    /// Feature `f`'s decoded values, which the columns after it read.
    fn set_decoded(&mut self, f: usize, values: &[f64]) {
        let range = f * self.rows..(f + 1) * self.rows;
        self.decoded[range.clone()].copy_from_slice(values);
        normalize_column(self.header, f, values, &mut self.decoded_normalized[range]);
    }
}

fn normalize(header: &Header, f: usize, value: f64) -> f64 {
    (value - header.normalization.offset[f]) / header.normalization.scale[f]
}

fn normalize_column(header: &Header, f: usize, values: &[f64], out: &mut [f64]) {
    let (offset, scale) = (header.normalization.offset[f], header.normalization.scale[f]);
    with_wide_registers(|| normalize_values(values, offset, scale, out));
}

#[inline(always)]
fn normalize_values(values: &[f64], offset: f64, scale: f64, out: &mut [f64]) {
    for (n, &v) in out.iter_mut().zip(values) {
        *n = (v - offset) / scale;
    }
}

/// Normalized values back to the data's units, in place.
#[inline(always)]
fn affine(values: &mut [f64], scale: f64, offset: f64) {
    values.iter_mut().for_each(|v| *v = *v * scale + offset);
}

/// Row-major values of `features` columns, column by column.
fn transposed(values: &[f64], features: usize) -> Vec<f64> {
    let rows = values.len() / features;
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(features).enumerate() {
        for (f, &v) in row.iter().enumerate() {
            out[f * rows + r] = v;
        }
    }
    out
}

/// How a column's reconstructed values are stored: rounded when the column holds integers,
/// then cast to the file's dtype.
#[derive(Clone, Copy)]
struct Storage<'h> {
    header: &'h Header,
    integer: bool,
}

impl<'h> Storage<'h> {
    fn of(header: &'h Header, f: usize) -> Storage<'h> {
        let column = header.modelled_columns[f];
        Storage { header, integer: header.integer_columns.contains(&column) }
    }

    #[inline(always)]
    fn store(self, value: f64) -> f64 {
        self.header.dtype.stored(if self.integer { round(value) } else { value })
    }
}

/// One way of coding a column's first rows: codes, the values the decompressor will output,
/// and the rows whose originals it stores exactly.
#[derive(Default)]
struct CodedColumn {
    codes: Vec<i64>,
    values: Vec<f64>,
    outliers: Vec<usize>,
    bits: f64,
}

impl CodedColumn {
    fn code(&mut self, grid: Grid, bound: f64, storage: Storage, original: &[f64], prediction: &[f64]) {
        self.codes.clear();
        self.values.clear();
        self.outliers.clear();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            return unsafe { self.code_rows_avx2(grid, bound, storage, original, prediction) };
        }
        self.code_rows(grid, bound, storage, original, prediction);
    }

    /// [`CodedColumn::code_rows`] with four f64 to a register and rounding in one instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn code_rows_avx2(&mut self, grid: Grid, bound: f64, storage: Storage, original: &[f64], prediction: &[f64]) {
        self.code_rows(grid, bound, storage, original, prediction);
    }

    #[inline(always)]
    fn code_rows(&mut self, grid: Grid, bound: f64, storage: Storage, original: &[f64], prediction: &[f64]) {
        for (r, (&x, &p)) in original.iter().zip(prediction).enumerate() {
            let code = grid.code(p, x);
            let stored = match code.abs() < LARGEST_CODE {
                true => storage.store(grid.value(p, code as i64)),
                false => f64::NAN,
            };
            if (stored - x).abs() <= bound {
                self.codes.push(code as i64);
                self.values.push(stored);
            } else {
                self.codes.push(0);
                self.values.push(x);
                self.outliers.push(r);
            }
        }
    }
}

/// The plan for a table chunk and one code per modelled value (row-major); values the coding
/// cannot bring within the bound become outliers (index, exact value) with code 0.
pub fn code(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    original: &[f64],
    prediction: &[f64],
    trial_end: usize,
) -> (ResidualPlan, Vec<i64>, Vec<(i64, f64)>) {
    let mut columns = Columns::new(header, relations, prediction);
    let (features, rows) = (columns.features, columns.rows);
    let original = transposed(original, features);
    let gram = (2..=MAX_LINEAR_FEATURES).contains(&features).then(|| gram(&columns, &original, relations));
    let trial_rows = trial_end.div_ceil(features).min(rows);
    let mut codes = vec![0; features * rows];
    let mut outliers = vec![];
    let mut plans = Vec::with_capacity(features);
    let mut predicted = vec![0.0; rows];
    let (mut trial, mut best) = (CodedColumn::default(), CodedColumn::default());
    for f in 0..features {
        let bound = coding.max_abs_error[f];
        let x = columns.column(&original, f);
        let storage = Storage::of(header, f);
        let integer = x.iter().all(|&v| is_integer(v));
        let zeros = x.iter().filter(|&&v| v == 0.0).count();
        let zeros_apart: &[bool] = match zeros * ZERO_SHARE_TO_TRY >= rows {
            true => &[false, true],
            false => &[false],
        };
        let own: Vec<usize> = (0..relations.len()).filter(|&r| relations[r].target == f).collect();
        let fitted = gram.as_ref().and_then(|gram| gram.fit(f, &own));
        let fitted = fitted.map(|w| w.iter().map(|&w| w as f32).collect::<Vec<f32>>());
        let candidates: Vec<Option<Vec<f32>>> = [None].into_iter().chain(fitted.map(Some)).collect();
        let mut chosen: Option<FeaturePlan> = None;
        for &zeros in zeros_apart {
            for weights in &candidates {
                let plan =
                    FeaturePlan { integer, zeros, neighbourhood: Neighbourhood::InFrame, weights: weights.clone() };
                let grid = Grid::of(&plan, bound);
                columns.predict(f, &plan, &mut predicted[..trial_rows]);
                trial.code(grid, bound, storage, &x[..trial_rows], &predicted[..trial_rows]);
                trial.bits = entropy_bits(&trial.codes)
                    + 64.0 * trial.outliers.len() as f64
                    + 32.0 * plan.weights.as_ref().map_or(0, Vec::len) as f64;
                if chosen.is_none() || trial.bits < best.bits {
                    std::mem::swap(&mut trial, &mut best);
                    chosen = Some(plan);
                }
            }
        }
        let plan = chosen.expect("the decoder's prediction is always tried");
        if trial_rows < rows {
            columns.predict(f, &plan, &mut predicted);
            best.code(Grid::of(&plan, bound), bound, storage, x, &predicted);
        }
        for (r, &code) in best.codes.iter().enumerate() {
            codes[r * features + f] = code;
        }
        outliers.extend(best.outliers.iter().map(|&r| ((r * features + f) as i64, x[r])));
        columns.set_decoded(f, &best.values);
        plans.push(plan);
    }
    outliers.sort_unstable_by_key(|&(i, _)| i);
    (ResidualPlan { features: plans }, codes, outliers)
}

/// The Gram matrix of the chunk's normalized values, the decoder's normalized outputs, a
/// constant and the relations' values (normalized as their targets), for the linear fits.
fn gram(columns: &Columns, original: &[f64], relations: &[Relation]) -> Gram {
    let (header, features, rows) = (columns.header, columns.features, columns.rows);
    let mut regressors = Vec::with_capacity((2 * features + 1 + relations.len()) * rows);
    for f in 0..features {
        let start = regressors.len();
        regressors.resize(start + rows, 0.0);
        normalize_column(header, f, columns.column(original, f), &mut regressors[start..]);
    }
    regressors.extend_from_slice(&columns.predicted_normalized);
    regressors.extend(std::iter::repeat_n(1.0, rows));
    let mut row = vec![0.0; features];
    for relation in relations {
        for r in 0..rows {
            for (k, value) in row.iter_mut().enumerate() {
                *value = original[k * rows + r];
            }
            regressors.push(normalize(header, relation.target, relation_value(relation, &row)));
        }
    }
    Gram::of_columns(&regressors, rows, features, relations.len())
}

/// The decoded values of a table chunk (row-major): the plan's predictions, the residual codes
/// on their grids, and the outliers' exact values (`outliers` sorted by index; of a repeated
/// index the last counts).
pub fn reconstruct(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    plan: &ResidualPlan,
    prediction: &[f64],
    codes: &[i64],
    outliers: &[(usize, f64)],
) -> Vec<f64> {
    let mut columns = Columns::new(header, relations, prediction);
    let (features, rows) = (columns.features, columns.rows);
    let mut exact_by_feature = vec![vec![]; features];
    for &(i, exact) in outliers {
        exact_by_feature[i % features].push((i / features, exact));
    }
    let mut values = vec![0.0; prediction.len()];
    let mut column = vec![0.0; rows];
    for (f, feature) in plan.features.iter().enumerate() {
        let grid = Grid::of(feature, coding.max_abs_error[f]);
        let storage = Storage::of(header, f);
        columns.predict(f, feature, &mut column);
        decode_column(grid, storage, codes, features, f, &mut column);
        for &(r, exact) in &exact_by_feature[f] {
            column[r] = exact;
        }
        for (r, &value) in column.iter().enumerate() {
            values[r * features + f] = value;
        }
        columns.set_decoded(f, &column);
    }
    values
}

/// A column's values from its predictions (in `column`, replaced) and its codes, which lie
/// `features` apart from the `f`-th on.
fn decode_column(grid: Grid, storage: Storage, codes: &[i64], features: usize, f: usize, column: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        return unsafe { decode_column_avx2(grid, storage, codes, features, f, column) };
    }
    decode_column_rows(grid, storage, codes, features, f, column);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn decode_column_avx2(grid: Grid, storage: Storage, codes: &[i64], features: usize, f: usize, column: &mut [f64]) {
    decode_column_rows(grid, storage, codes, features, f, column);
}

#[inline(always)]
fn decode_column_rows(grid: Grid, storage: Storage, codes: &[i64], features: usize, f: usize, column: &mut [f64]) {
    for (value, &code) in column.iter_mut().zip(codes[f..].iter().step_by(features)) {
        *value = storage.store(grid.value(*value, code));
    }
}
