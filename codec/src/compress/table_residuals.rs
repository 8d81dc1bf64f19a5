//! A table chunk's residuals, coded and reconstructed column by column.
//!
//! In a table, a column's prediction reads only the columns before it, so all rows of one
//! column can be predicted, coded and decoded together: each step is a loop over a column's
//! contiguous values, which the compiler vectorizes, instead of a walk over the interleaved
//! values. Every row sees the same f64 operations in the same order as the value-by-value
//! reading of [`super::residual_plan`] describes, so a file's values come back bit for bit,
//! whichever reading wrote it.

use super::header::{Header, ResidualCoding};
use super::linear_fit::Gram;
use super::relation::Relation;
use super::residual_plan::{
    entropy_bits, is_integer, relation_value, round, FeaturePlan, Grid, Prediction, ResidualPlan, LARGEST_CODE,
    ZERO_SHARE_TO_TRY,
};
use balerc_compiler::sim::with_wide_registers;
use balerc_io::dataset::StoredDtype;

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
        let w = match &plan.prediction {
            Prediction::Columns(w) => w.as_slice(),
            Prediction::Decoder | Prediction::Neighbours(_) => {
                out.copy_from_slice(&self.column(&self.predicted, f)[..end]);
                return;
            }
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
    let mut out = vec![0.0; values.len()];
    transpose(values, features, &mut out);
    out
}

/// A row-major matrix of `columns` columns (`from`) into `to` column by column; or, the other
/// way round, `to` holds `from`'s columns as rows. It goes a square tile at a time, so that
/// the lines a tile reads and writes stay in cache while it is done: a plain walk would
/// stride through all of `to` once per column.
fn transpose<T: Copy>(from: &[T], columns: usize, to: &mut [T]) {
    const TILE: usize = 16;
    let rows = from.len() / columns.max(1);
    assert!(to.len() >= rows * columns, "the transpose fits its destination");
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..columns).step_by(TILE) {
            let c1 = (c0 + TILE).min(columns);
            for r in r0..r1 {
                for (c, &value) in (c0..c1).zip(&from[r * columns + c0..r * columns + c1]) {
                    // SAFETY: c < columns and r < rows, so c * rows + r < rows * columns <= to.len().
                    unsafe { *to.get_unchecked_mut(c * rows + r) = value };
                }
            }
        }
    }
}

/// How a column's reconstructed values are stored: rounded when the column holds integers,
/// then cast to the column's dtype.
#[derive(Clone, Copy)]
struct Storage {
    dtype: StoredDtype,
    integer: bool,
}

impl Storage {
    fn of(header: &Header, f: usize) -> Storage {
        let column = header.modelled_columns[f];
        Storage { dtype: header.column_dtype(column), integer: header.integer_columns.contains(&column) }
    }

    #[inline(always)]
    fn store(self, value: f64) -> f64 {
        self.dtype.stored(if self.integer { round(value) } else { value })
    }
}

/// A column's storage as a type, so that the coding loop is compiled once per kind with the
/// dtype's match and the rounding out of it: float columns, the common case, then vectorize.
trait Store: Copy {
    fn store(self, value: f64) -> f64;
}

#[derive(Clone, Copy)]
struct AsF64;

#[derive(Clone, Copy)]
struct AsF32;

impl Store for AsF64 {
    #[inline(always)]
    fn store(self, value: f64) -> f64 {
        value
    }
}

impl Store for AsF32 {
    #[inline(always)]
    fn store(self, value: f64) -> f64 {
        f64::from(value as f32)
    }
}

impl Store for Storage {
    #[inline(always)]
    fn store(self, value: f64) -> f64 {
        Storage::store(self, value)
    }
}

/// An integer-valued f64 below 2^51 in magnitude as an i64, by its bits: AVX2 has no packed
/// conversion to 64-bit integers, and this is two instructions that vectorize.
#[inline(always)]
fn exact_integer(code: f64) -> i64 {
    const SHIFTER: f64 = 6755399441055744.0; // 1.5 * 2^52: the sum's low bits are the integer
    ((code + SHIFTER).to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64)
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
        let rows = original.len().min(prediction.len());
        self.codes.resize(rows, 0);
        self.values.resize(rows, 0.0);
        self.outliers.clear();
        let missed = match (storage.integer, storage.dtype) {
            (false, StoredDtype::F64) => self.code_as(grid, bound, AsF64, original, prediction),
            (false, StoredDtype::F32) => self.code_as(grid, bound, AsF32, original, prediction),
            _ => self.code_as(grid, bound, storage, original, prediction),
        };
        if missed > 0 {
            let rows = original.iter().zip(prediction).enumerate();
            let missing = rows.filter(|&(_, (&x, &p))| coded_within(grid, bound, storage, p, x).is_none());
            self.outliers.extend(missing.map(|(r, _)| r));
        }
    }

    fn code_as<S: Store>(&mut self, grid: Grid, bound: f64, store: S, original: &[f64], prediction: &[f64]) -> usize {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has just been found to support AVX2.
            return unsafe { self.code_rows_avx2(grid, bound, store, original, prediction) };
        }
        self.code_rows(grid, bound, store, original, prediction)
    }

    /// [`CodedColumn::code_rows`] with four f64 to a register and rounding in one instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn code_rows_avx2<S: Store>(
        &mut self,
        grid: Grid,
        bound: f64,
        store: S,
        original: &[f64],
        prediction: &[f64],
    ) -> usize {
        self.code_rows(grid, bound, store, original, prediction)
    }

    /// Codes and values of every row, a value the coding cannot bring within the bound kept
    /// as it is with code 0; returns how many were.
    #[inline(always)]
    fn code_rows<S: Store>(&mut self, grid: Grid, bound: f64, store: S, original: &[f64], prediction: &[f64]) -> usize {
        // The grid's kind as constants: a loop without branches in it vectorizes.
        match (grid.integer(), grid.zeros()) {
            (false, false) => self.code_rows_of::<S, false, false>(grid, bound, store, original, prediction),
            (false, true) => self.code_rows_of::<S, false, true>(grid, bound, store, original, prediction),
            (true, false) => self.code_rows_of::<S, true, false>(grid, bound, store, original, prediction),
            (true, true) => self.code_rows_of::<S, true, true>(grid, bound, store, original, prediction),
        }
    }

    #[inline(always)]
    fn code_rows_of<S: Store, const INTEGER: bool, const ZEROS: bool>(
        &mut self,
        grid: Grid,
        bound: f64,
        store: S,
        original: &[f64],
        prediction: &[f64],
    ) -> usize {
        let grid = grid.with_kind(INTEGER, ZEROS);
        let mut missed = 0;
        let rows = self.codes.iter_mut().zip(self.values.iter_mut()).zip(original.iter().zip(prediction));
        for ((code, value), (&x, &p)) in rows {
            let (c, stored, within) = coded(grid, bound, store, p, x);
            *code = if within { exact_integer(c) } else { 0 };
            *value = if within { stored } else { x };
            missed += usize::from(!within);
        }
        missed
    }
}

/// A value's code (an integer-valued f64), its reconstruction as stored, and whether that is
/// within the bound with a code small enough to store.
#[inline(always)]
fn coded(grid: Grid, bound: f64, store: impl Store, p: f64, x: f64) -> (f64, f64, bool) {
    let code = grid.code(p, x);
    let storable = code.abs() < LARGEST_CODE;
    let stored = store.store(grid.value_of_code(p, if storable { code } else { 0.0 }));
    (code, stored, storable & ((stored - x).abs() <= bound))
}

/// [`coded`], None where the value misses.
fn coded_within(grid: Grid, bound: f64, store: impl Store, p: f64, x: f64) -> Option<(f64, f64)> {
    let (code, stored, within) = coded(grid, bound, store, p, x);
    within.then_some((code, stored))
}

/// What a column's plan may be, from all of its values in the chunk: whether they are all
/// integers, and whether zeros are common enough to try coding them apart.
#[derive(Debug, Clone, Copy)]
pub struct ColumnKind {
    integer: bool,
    zeros_apart: bool,
}

impl ColumnKind {
    /// Each column's kind, of a table chunk's modelled values (row-major).
    pub fn of_columns(header: &Header, original: &[f64]) -> Vec<ColumnKind> {
        let features = header.modelled_per_sample;
        let rows = original.len() / features.max(1);
        let mut kinds = vec![ColumnKind { integer: true, zeros_apart: false }; features];
        let mut zeros = vec![0; features];
        for row in original.chunks_exact(features.max(1)) {
            for ((kind, count), &v) in kinds.iter_mut().zip(&mut zeros).zip(row) {
                kind.integer &= is_integer(v);
                *count += usize::from(v == 0.0);
            }
        }
        for (kind, count) in kinds.iter_mut().zip(zeros) {
            kind.zeros_apart = count * ZERO_SHARE_TO_TRY >= rows;
        }
        kinds
    }

    fn zeros_to_try(self) -> &'static [bool] {
        match self.zeros_apart {
            true => &[false, true],
            false => &[false],
        }
    }
}

/// The plan for a table chunk, chosen on its first rows, and their codes (row-major): each
/// feature's candidate predictions are tried on these rows and the one whose codes cost the
/// fewest bits is kept; values the coding cannot bring within the bound become outliers
/// (index, exact value) with code 0. `kinds` describes the whole chunk's columns.
pub fn choose_plan(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    kinds: &[ColumnKind],
    original: &[f64],
    prediction: &[f64],
) -> (ResidualPlan, Vec<i64>, Vec<(i64, f64)>) {
    let mut columns = Columns::new(header, relations, prediction);
    let (features, rows) = (columns.features, columns.rows);
    let original = transposed(original, features);
    let gram = (2..=MAX_LINEAR_FEATURES).contains(&features).then(|| gram(&columns, &original, relations, rows));
    let mut codes_by_column = vec![0; features * rows];
    let mut outliers = vec![];
    let mut plans = Vec::with_capacity(features);
    let mut predicted = vec![0.0; rows];
    let (mut trial, mut best) = (CodedColumn::default(), CodedColumn::default());
    for (f, kind) in kinds.iter().enumerate().take(features) {
        let bound = coding.max_abs_error[f];
        let x = columns.column(&original, f);
        let storage = Storage::of(header, f);
        let own: Vec<usize> = (0..relations.len()).filter(|&r| relations[r].target == f).collect();
        let fitted = gram.as_ref().and_then(|gram| gram.fit(f, &own));
        let fitted = fitted.map(|w| Prediction::Columns(w.iter().map(|&w| w as f32).collect()));
        let candidates: Vec<Prediction> = [Prediction::Decoder].into_iter().chain(fitted).collect();
        let mut chosen: Option<FeaturePlan> = None;
        for &zeros in kind.zeros_to_try() {
            for prediction in &candidates {
                let plan = FeaturePlan { integer: kind.integer, zeros, prediction: prediction.clone() };
                let grid = Grid::of(&plan, bound);
                columns.predict(f, &plan, &mut predicted);
                trial.code(grid, bound, storage, x, &predicted);
                trial.bits = entropy_bits(&trial.codes)
                    + 64.0 * trial.outliers.len() as f64
                    + 32.0 * plan.prediction.weights().len() as f64;
                if chosen.is_none() || trial.bits < best.bits {
                    std::mem::swap(&mut trial, &mut best);
                    chosen = Some(plan);
                }
            }
        }
        let plan = chosen.expect("the decoder's prediction is always tried");
        codes_by_column[f * rows..(f + 1) * rows].copy_from_slice(&best.codes);
        outliers.extend(best.outliers.iter().map(|&r| ((r * features + f) as i64, x[r])));
        columns.set_decoded(f, &best.values);
        plans.push(plan);
    }
    outliers.sort_unstable_by_key(|&(i, _)| i);
    let mut codes = vec![0; features * rows];
    transpose(&codes_by_column, rows, &mut codes);
    (ResidualPlan { features: plans }, codes, outliers)
}

/// The codes (row-major) and outliers of table rows under a chosen plan, as
/// [`choose_plan`] codes the rows it chooses on.
pub fn code_with_plan(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    plan: &ResidualPlan,
    original: &[f64],
    prediction: &[f64],
) -> (Vec<i64>, Vec<(i64, f64)>) {
    let mut columns = Columns::new(header, relations, prediction);
    let (features, rows) = (columns.features, columns.rows);
    let original = transposed(original, features);
    let mut codes_by_column = vec![0; features * rows];
    let mut outliers = vec![];
    let mut predicted = vec![0.0; rows];
    let mut coded = CodedColumn::default();
    for (f, feature) in plan.features.iter().enumerate() {
        let bound = coding.max_abs_error[f];
        let x = columns.column(&original, f);
        columns.predict(f, feature, &mut predicted);
        coded.code(Grid::of(feature, bound), bound, Storage::of(header, f), x, &predicted);
        codes_by_column[f * rows..(f + 1) * rows].copy_from_slice(&coded.codes);
        outliers.extend(coded.outliers.iter().map(|&r| ((r * features + f) as i64, x[r])));
        columns.set_decoded(f, &coded.values);
    }
    outliers.sort_unstable_by_key(|&(i, _)| i);
    let mut codes = vec![0; features * rows];
    transpose(&codes_by_column, rows, &mut codes);
    (codes, outliers)
}

/// The Gram matrix of the chunk's first `fit_rows` normalized values, the decoder's normalized
/// outputs, a constant and the relations' values (normalized as their targets), for the linear
/// fits. The rows the trials code are enough to fit a few dozen weights; summing the whole chunk
/// cost a tenth of a compression.
fn gram(columns: &Columns, original: &[f64], relations: &[Relation], fit_rows: usize) -> Gram {
    let (header, features, rows) = (columns.header, columns.features, columns.rows);
    let mut regressors = Vec::with_capacity((2 * features + 1 + relations.len()) * fit_rows);
    for f in 0..features {
        let start = regressors.len();
        regressors.resize(start + fit_rows, 0.0);
        normalize_column(header, f, &columns.column(original, f)[..fit_rows], &mut regressors[start..]);
    }
    for f in 0..features {
        regressors.extend_from_slice(&columns.column(&columns.predicted_normalized, f)[..fit_rows]);
    }
    regressors.extend(std::iter::repeat_n(1.0, fit_rows));
    let mut row = vec![0.0; features];
    for relation in relations {
        for r in 0..fit_rows {
            for (k, value) in row.iter_mut().enumerate() {
                *value = original[k * rows + r];
            }
            regressors.push(normalize(header, relation.target, relation_value(relation, &row)));
        }
    }
    Gram::of_columns(&regressors, fit_rows, features, relations.len())
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
    let codes = transposed_codes(codes, features);
    let mut column = vec![0.0; rows];
    for (f, feature) in plan.features.iter().enumerate() {
        let grid = Grid::of(feature, coding.max_abs_error[f]);
        let storage = Storage::of(header, f);
        columns.predict(f, feature, &mut column);
        decode_column(grid, storage, &codes[f * rows..(f + 1) * rows], &mut column);
        for &(r, exact) in &exact_by_feature[f] {
            column[r] = exact;
        }
        columns.set_decoded(f, &column);
    }
    // The decoded columns, back to rows.
    let mut values = vec![0.0; prediction.len()];
    transpose(&columns.decoded, rows, &mut values);
    values
}

fn transposed_codes(codes: &[i64], features: usize) -> Vec<i64> {
    let mut out = vec![0; codes.len()];
    transpose(codes, features, &mut out);
    out
}

/// A column's values from its predictions (in `column`, replaced) and its codes.
fn decode_column(grid: Grid, storage: Storage, codes: &[i64], column: &mut [f64]) {
    // As f64, the codes leave a loop that vectorizes. Codes that large come only from a
    // damaged file; they keep their integer arithmetic.
    let steps: Vec<f64> = codes.iter().take(column.len()).map(|&code| code as f64).collect();
    if !steps.iter().all(|step| step.abs() < LARGEST_CODE) {
        for (value, &code) in column.iter_mut().zip(codes) {
            *value = storage.store(grid.value(*value, code));
        }
        return;
    }
    match (storage.integer, storage.dtype) {
        (false, StoredDtype::F64) => decode_column_as(grid, AsF64, &steps, column),
        (false, StoredDtype::F32) => decode_column_as(grid, AsF32, &steps, column),
        _ => decode_column_as(grid, storage, &steps, column),
    }
}

fn decode_column_as<S: Store>(grid: Grid, store: S, codes: &[f64], column: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has just been found to support AVX2.
        return unsafe { decode_column_avx2(grid, store, codes, column) };
    }
    decode_column_rows(grid, store, codes, column);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn decode_column_avx2<S: Store>(grid: Grid, store: S, codes: &[f64], column: &mut [f64]) {
    decode_column_rows(grid, store, codes, column);
}

/// Values from predictions and codes (integer-valued f64 below `LARGEST_CODE`), as
/// [`Grid::value`] gives them.
#[inline(always)]
fn decode_column_rows<S: Store>(grid: Grid, store: S, codes: &[f64], column: &mut [f64]) {
    // The grid's kind as constants: a loop without branches in it vectorizes.
    match (grid.integer(), grid.zeros()) {
        (false, false) => decode_rows_of::<S, false, false>(grid, store, codes, column),
        (false, true) => decode_rows_of::<S, false, true>(grid, store, codes, column),
        (true, false) => decode_rows_of::<S, true, false>(grid, store, codes, column),
        (true, true) => decode_rows_of::<S, true, true>(grid, store, codes, column),
    }
}

#[inline(always)]
fn decode_rows_of<S: Store, const INTEGER: bool, const ZEROS: bool>(
    grid: Grid,
    store: S,
    codes: &[f64],
    column: &mut [f64],
) {
    let grid = grid.with_kind(INTEGER, ZEROS);
    for (value, &code) in column.iter_mut().zip(codes) {
        *value = store.store(grid.value_of_code(*value, code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of grid and storage the loops are compiled for, and one they are not.
    fn kinds() -> Vec<(Grid, Storage)> {
        let storages = [
            (StoredDtype::F64, false),
            (StoredDtype::F32, false),
            (StoredDtype::F32, true),
            (StoredDtype::I16, true),
            (StoredDtype::F16, false),
        ];
        let mut kinds = vec![];
        for (dtype, integer) in storages {
            for (grid_integer, zeros) in [(false, false), (false, true), (true, false), (true, true)] {
                let plan = FeaturePlan { integer: grid_integer, zeros, prediction: Prediction::Decoder };
                kinds.push((Grid::of(&plan, 0.75), Storage { dtype, integer }));
            }
        }
        kinds
    }

    fn random(n: usize, seed: u64) -> impl Iterator<Item = f64> {
        let mut state = seed;
        (0..n).map(move |_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        })
    }

    #[test]
    fn a_transpose_and_its_transpose_give_back_the_matrix() {
        for (rows, columns) in [(0, 3), (1, 1), (63, 5), (64, 24), (130, 7), (5, 200)] {
            let matrix: Vec<u32> = (0..rows * columns).map(|i| i as u32).collect();
            let mut by_column = vec![0; matrix.len()];
            transpose(&matrix, columns, &mut by_column);
            for r in 0..rows {
                for c in 0..columns {
                    assert_eq!(by_column[c * rows + r], matrix[r * columns + c]);
                }
            }
            let mut back = vec![0; matrix.len()];
            transpose(&by_column, rows.max(1), &mut back);
            assert_eq!(back, matrix, "{rows} x {columns}");
        }
    }

    #[test]
    fn a_column_is_coded_as_value_by_value_coding_codes_it() {
        // Values near the predictions, exact zeros, integers, and some far beyond any code.
        let prediction: Vec<f64> = random(4000, 1).map(|u| 200.0 * u - 100.0).collect();
        let original: Vec<f64> = prediction
            .iter()
            .zip(random(4000, 2))
            .enumerate()
            .map(|(r, (&p, u))| match r % 9 {
                0 => 0.0,
                1 => p.round(),
                2 => 1e200 * (u - 0.5),
                _ => p + 10.0 * (u - 0.5),
            })
            .collect();
        for (grid, storage) in kinds() {
            let mut column = CodedColumn::default();
            column.code(grid, 0.75, storage, &original, &prediction);
            let (mut codes, mut values, mut outliers) = (vec![], vec![], vec![]);
            for (r, (&x, &p)) in original.iter().zip(&prediction).enumerate() {
                let code = grid.code(p, x);
                let stored = match code.abs() < LARGEST_CODE {
                    true => storage.store(grid.value(p, code as i64)),
                    false => f64::NAN,
                };
                match (stored - x).abs() <= 0.75 {
                    true => (codes.push(code as i64), values.push(stored.to_bits())),
                    false => (codes.push(0), values.push(x.to_bits())),
                };
                if (stored - x).abs() > 0.75 || stored.is_nan() {
                    outliers.push(r);
                }
            }
            assert_eq!(column.codes, codes);
            assert_eq!(column.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), values);
            assert_eq!(column.outliers, outliers);
            assert!(!outliers.is_empty(), "values beyond any code are outliers");
        }
    }

    #[test]
    fn a_column_is_decoded_as_value_by_value_decoding_decodes_it() {
        let (features, f) = (3, 1);
        let codes: Vec<i64> = random(3 * 2000, 3)
            .enumerate()
            .map(|(i, u)| match i % 7 {
                0 => ((u - 0.5) * 2f64.powi(38)) as i64,
                1 => 0,
                _ => ((u - 0.5) * 40.0) as i64,
            })
            .collect();
        let prediction: Vec<f64> = random(2000, 4).map(|u| 50.0 * u - 25.0).collect();
        for (grid, storage) in kinds() {
            let mut column = prediction.clone();
            let column_codes: Vec<i64> = codes[f..].iter().step_by(features).copied().collect();
            decode_column(grid, storage, &column_codes, &mut column);
            let expected = prediction.iter().zip(codes[f..].iter().step_by(features));
            let expected: Vec<u64> = expected.map(|(&p, &code)| storage.store(grid.value(p, code)).to_bits()).collect();
            assert_eq!(column.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected);
        }
        // A damaged file's codes, beyond any the coder writes, decode as they always did.
        let huge: Vec<i64> = codes.iter().map(|&c| if c % 5 == 0 { c.wrapping_mul(1 << 40) } else { c }).collect();
        for (grid, storage) in kinds() {
            let mut column = prediction.clone();
            let column_codes: Vec<i64> = huge[f..].iter().step_by(features).copied().collect();
            decode_column(grid, storage, &column_codes, &mut column);
            let expected = prediction.iter().zip(huge[f..].iter().step_by(features));
            let expected: Vec<u64> = expected.map(|(&p, &code)| storage.store(grid.value(p, code)).to_bits()).collect();
            assert_eq!(column.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected);
        }
    }
}
