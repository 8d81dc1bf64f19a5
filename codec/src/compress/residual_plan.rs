//! How each feature's residuals are taken in the error-bounded mode, chosen per chunk.
//!
//! - Against a better prediction. A table's columns are tied together (a jet's E, px, py and pz
//!   follow from pt, eta, phi and m; energy sums from their parts), and a column decoded to
//!   within its bound predicts the columns after it far better than the autoencoder alone can.
//!   So a feature's prediction may be a linear function, fitted by least squares on the chunk, of
//!   the decoded features before it, of the decoder's outputs and of any relation the user gave
//!   for it (`px = pt * cos(phi)`, see [`Relation`]). The compressor keeps it only where its
//!   residuals cost fewer bits than the decoder's own, its weights included.
//! - In a field, from the neighbours decoded before a value and the decoder's outputs around
//!   it, which carry what the autoencoder missed in that corner of the frame (SZ3's Lorenzo
//!   predictor, with fitted weights and the autoencoder beside it); in a series of frames also
//!   from the frames before (see [`Neighbourhood`]). Decoded neighbours are off by up to the
//!   bound, so the weights are fitted as if seen through that noise: fitted on clean values,
//!   they would amplify it.
//! - With its zeros apart. Physics tables have columns that are exactly zero in most rows (the
//!   energy of a jet's muons, of its electrons): the code 0 then stands for an exact zero, and
//!   the other values take the codes around it, so the zeros cost what their frequency says
//!   and the prediction's residuals are paid only where there is something to predict.
//! - In integer steps. A feature whose values in the chunk are all integers is coded in steps
//!   of 2 floor(bound) + 1 around the rounded prediction: the coarsest grid that meets the bound
//!   on integers, and exact when the bound is below one half.
//!
//! Decompression repeats the compressor's arithmetic value for value, so both see the same
//! predictions, and the bound checked at compression is the bound the output holds.

use super::chunk_error::ChunkError;
use super::corrupt::CorruptSection;
use super::field_neighbours::{NeighbourWeights, Neighbourhood, Place};
use super::header::{Header, ResidualCoding};
use super::linear_fit::NormalEquations;
use super::relation::Relation;
use super::{row_blocks, table_residuals};
use crate::wire::ByteReader;
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

/// Each way of coding a feature is tried on about this many values of a chunk (frames of a
/// field, rows of a table): enough that their costs rank as the whole chunk's would.
const PLAN_TRIAL_VALUES: usize = 1 << 18;
/// Codes larger than this are stored as outliers: they would cost more than the value.
pub(super) const LARGEST_CODE: f64 = (1u64 << 40) as f64;
/// Integers up to this are exact in f64 arithmetic, with room for the steps around them.
const LARGEST_INTEGER: f64 = (1u64 << 50) as f64;
/// Zeros are tried apart in a feature where at least one value in this many is exactly zero.
pub(super) const ZERO_SHARE_TO_TRY: usize = 16;
/// Noise variances tried for the fit, in units of the decoded values' own: the quantization
/// error's spread is known, but how much of it the next value shares is not.
const NOISE_SHARES: [f64; 3] = [0.125, 0.25, 0.5];

#[derive(Debug, Clone, PartialEq)]
pub struct FeaturePlan {
    /// Every value is an integer: steps of 2 floor(bound) + 1 around the rounded prediction.
    pub integer: bool,
    /// Code 0 is an exact zero; the codes of other values are moved away from it.
    pub zeros: bool,
    pub prediction: Prediction,
}

/// What a feature's values are predicted from.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// The decoder's output as it is.
    Decoder,
    /// A table's column: in normalized units, the weights of the decoded features before it in
    /// its row, of the decoder's outputs for them, of its output for this one, a constant, and
    /// the relations for this feature (as many as [`PlanLayout::Table`] says).
    Columns(Vec<f32>),
    /// A field's value: the weights of a neighbourhood's taps.
    Neighbours(NeighbourWeights),
}

impl Prediction {
    /// The weights the plan stores.
    pub fn weights(&self) -> &[f32] {
        match self {
            Prediction::Decoder => &[],
            Prediction::Columns(weights) => weights,
            Prediction::Neighbours(neighbours) => neighbours.weights(),
        }
    }

    /// The prediction's flag bits in a stored plan.
    fn flags(&self) -> u8 {
        match self {
            Prediction::Decoder => 0,
            Prediction::Columns(_) => LINEAR,
            Prediction::Neighbours(neighbours) => match neighbours.neighbourhood() {
                Neighbourhood::InFrame => LINEAR,
                Neighbourhood::WithPrevious => LINEAR | WITH_PREVIOUS,
                Neighbourhood::Wide => LINEAR | WIDE,
            },
        }
    }
}

// A stored plan's flag bits, one byte per feature.
const INTEGER: u8 = 1;
const LINEAR: u8 = 2;
const ZEROS: u8 = 4;
const WITH_PREVIOUS: u8 = 8;
const WIDE: u8 = 16;

/// What a stored plan's weights mean: a table's columns, each with its own count of weights
/// (see [`Prediction::Columns`]), or a field's features, each weighing a neighbourhood's taps.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanLayout {
    Table { weights: Vec<usize> },
    Field { features: usize },
}

impl PlanLayout {
    pub fn of(header: &Header, relations: &[Relation]) -> PlanLayout {
        let features = header.feature_count();
        match header.is_table() {
            true => PlanLayout::Table {
                weights: (0..features)
                    .map(|f| 2 * f + 2 + relations.iter().filter(|r| r.target == f).count())
                    .collect(),
            },
            false => PlanLayout::Field { features },
        }
    }

    fn features(&self) -> usize {
        match self {
            PlanLayout::Table { weights } => weights.len(),
            PlanLayout::Field { features } => *features,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResidualPlan {
    pub features: Vec<FeaturePlan>,
}

impl ResidualPlan {
    /// What files written before plans existed mean: the decoder's prediction, steps of twice
    /// the bound.
    pub fn decoder_only(features: usize) -> ResidualPlan {
        ResidualPlan {
            features: vec![FeaturePlan { integer: false, zeros: false, prediction: Prediction::Decoder }; features],
        }
    }

    pub fn is_decoder_only(&self) -> bool {
        self.features.iter().all(|p| !p.integer && !p.zeros && p.prediction == Prediction::Decoder)
    }

    /// Per feature a flag byte (1: integer, 2: linear, 4: zeros apart, 8: the frame before,
    /// 16: the wide neighbourhood), then a linear feature's weights as little-endian f32.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![];
        for plan in &self.features {
            let steps = if plan.integer { INTEGER } else { 0 } | if plan.zeros { ZEROS } else { 0 };
            out.push(steps | plan.prediction.flags());
            for w in plan.prediction.weights() {
                out.extend(w.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8], layout: &PlanLayout) -> Result<ResidualPlan, CorruptSection> {
        let mut reader = ByteReader::new(bytes);
        let features = layout.features();
        let mut plans = Vec::with_capacity(features.min(bytes.len()));
        for f in 0..features {
            let flags = reader.take(1)?[0];
            let unknown = || CorruptSection::UnknownPlanFlags { feature: f, flags };
            let neighbourhood = match flags & (LINEAR | WITH_PREVIOUS | WIDE) {
                _ if flags >= 2 * WIDE => return Err(unknown()),
                0 => None,
                LINEAR => Some(Neighbourhood::InFrame),
                x if x == LINEAR | WITH_PREVIOUS => Some(Neighbourhood::WithPrevious),
                x if x == LINEAR | WIDE => Some(Neighbourhood::Wide),
                _ => return Err(unknown()),
            };
            let mut weights = |count: usize| -> Result<Vec<f32>, CorruptSection> {
                let stored = reader.take(4 * count)?;
                let weights: Vec<f32> =
                    stored.chunks_exact(4).map(|w| f32::from_le_bytes(w.try_into().expect("4 bytes"))).collect();
                match weights.iter().all(|w| w.is_finite()) {
                    true => Ok(weights),
                    false => Err(CorruptSection::PlanWeightsNotFinite(f)),
                }
            };
            let prediction = match (neighbourhood, layout) {
                (None, _) => Prediction::Decoder,
                (Some(Neighbourhood::InFrame), PlanLayout::Table { weights: counts }) => {
                    Prediction::Columns(weights(counts[f])?)
                }
                (Some(_), PlanLayout::Table { .. }) => return Err(CorruptSection::NeighboursInATable(f)),
                (Some(neighbourhood), PlanLayout::Field { .. }) => {
                    let stored = weights(neighbourhood.weights())?;
                    Prediction::Neighbours(NeighbourWeights::new(neighbourhood, &stored).expect("one weight per tap"))
                }
            };
            plans.push(FeaturePlan { integer: flags & INTEGER != 0, zeros: flags & ZEROS != 0, prediction });
        }
        if !reader.rest().is_empty() {
            return Err(CorruptSection::TrailingPlan(reader.rest().len()));
        }
        Ok(ResidualPlan { features: plans })
    }
}

/// The grid a feature's values are coded on: a code k stands for center + k * step, or with
/// zeros apart, 0 for an exact zero and k > 0 for center + (k - 1) * step.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grid {
    integer: bool,
    zeros: bool,
    step: f64,
}

impl Grid {
    #[inline]
    fn new(integer: bool, zeros: bool, bound: f64) -> Grid {
        let step = if integer { 2.0 * bound.floor() + 1.0 } else { 2.0 * bound };
        Grid { integer, zeros, step }
    }

    pub(super) fn of(plan: &FeaturePlan, bound: f64) -> Grid {
        Grid::new(plan.integer, plan.zeros, bound)
    }

    pub(super) fn integer(self) -> bool {
        self.integer
    }

    pub(super) fn zeros(self) -> bool {
        self.zeros
    }

    /// The same grid with its kind given again, as constants where the caller has them, so
    /// that loops over its values need no branches.
    #[inline(always)]
    pub(super) fn with_kind(self, integer: bool, zeros: bool) -> Grid {
        debug_assert!(integer == self.integer && zeros == self.zeros);
        Grid { integer, zeros, step: self.step }
    }

    #[inline]
    fn center(self, prediction: f64) -> f64 {
        if self.integer {
            round(prediction)
        } else {
            prediction
        }
    }

    #[inline]
    pub(super) fn code(self, prediction: f64, x: f64) -> f64 {
        let code = round((x - self.center(prediction)) / self.step);
        match self.zeros {
            true if x == 0.0 => 0.0,
            true if code >= 0.0 => code + 1.0,
            _ => code,
        }
    }

    #[inline]
    pub(super) fn value(self, prediction: f64, code: i64) -> f64 {
        let steps = match self.zeros {
            true if code == 0 => return 0.0,
            true if code > 0 => code - 1,
            _ => code,
        };
        self.center(prediction) + self.step * steps as f64
    }

    /// [`Grid::value`] of a code held as an integer-valued f64 below 2^40 in magnitude, with
    /// the same result bit for bit: the steps are the same integers either way.
    #[inline(always)]
    pub(super) fn value_of_code(self, prediction: f64, code: f64) -> f64 {
        let steps = match self.zeros {
            true if code == 0.0 => return 0.0,
            true if code > 0.0 => code - 1.0,
            _ => code,
        };
        self.center(prediction) + self.step * steps
    }
}

/// `x.round()`: the nearest integer, halves away from zero. `f64::round` is a library call on
/// x86; this is a few instructions that the compiler inlines into the loops around it.
#[inline(always)]
pub(super) fn round(x: f64) -> f64 {
    let whole = x.trunc();
    match (x - whole).abs() >= 0.5 {
        true => whole + 1f64.copysign(x),
        false => whole,
    }
}

/// A chunk's modelled values as the plan sees them: features, where each one's values sit,
/// the decoder's outputs, and the decoded values, filled in coding order.
struct Frame<'h> {
    header: &'h Header,
    relations: &'h [Relation],
    features: usize,
    /// Distance between two values of the same feature.
    stride: usize,
    /// For a field, the height and width of its frames (the last two axes).
    field: Option<(usize, usize)>,
    predicted: Vec<f64>,
    predicted_normalized: Vec<f64>,
    decoded: Vec<f64>,
    decoded_normalized: Vec<f64>,
}

impl<'h> Frame<'h> {
    fn new(header: &'h Header, relations: &'h [Relation], prediction: &[f64]) -> Frame<'h> {
        let features = header.feature_count();
        let stride = if features == 1 { 1 } else { header.modelled_per_sample };
        let predicted_normalized = prediction.iter().enumerate().map(|(i, &p)| normalize(header, i, p)).collect();
        let field = header.frame_shape();
        Frame {
            header,
            relations,
            features,
            stride,
            field,
            predicted: prediction.to_vec(),
            predicted_normalized,
            decoded: vec![0.0; prediction.len()],
            decoded_normalized: vec![0.0; prediction.len()],
        }
    }

    fn indices(&self, f: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        self.indices_before(f, self.predicted.len())
    }

    /// Feature `f`'s values among the first `end`.
    fn indices_before(&self, f: usize, end: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        (f..end.min(self.predicted.len())).step_by(self.stride)
    }

    fn relations_of(&self, f: usize) -> impl Iterator<Item = &'h Relation> + '_ {
        self.relations.iter().filter(move |r| r.target == f)
    }

    /// Feature `f`'s prediction at value `i`: the decoder's, or the linear one of what was
    /// decoded before it (the same f64 arithmetic in compressor and decompressor).
    fn prediction(&self, f: usize, i: usize, plan: &FeaturePlan) -> f64 {
        let sum = match (&plan.prediction, self.field) {
            (Prediction::Decoder, _) => return self.predicted[i],
            (Prediction::Neighbours(neighbours), Some(frame)) => {
                neighbours.weighted_sum(&Place::of(i, frame), &self.decoded_normalized, &self.predicted_normalized)
            }
            (Prediction::Columns(w), None) => self.sum_over_columns_before(f, i, w),
            _ => unreachable!("plans are checked against the chunk's layout before use"),
        };
        let n = &self.header.normalization;
        sum * n.scale[f] + n.offset[f]
    }

    /// In normalized units: the decoded features before `f` in value `i`'s row, the decoder's
    /// outputs for them and for `f`, a constant, and `f`'s relations.
    fn sum_over_columns_before(&self, f: usize, i: usize, w: &[f32]) -> f64 {
        let row = i - f;
        let mut sum = 0.0;
        for k in 0..f {
            sum += f64::from(w[k]) * self.decoded_normalized[row + k];
            sum += f64::from(w[f + k]) * self.predicted_normalized[row + k];
        }
        sum += f64::from(w[2 * f]) * self.predicted_normalized[i];
        sum += f64::from(w[2 * f + 1]);
        for (j, relation) in self.relations_of(f).enumerate() {
            let witness = relation_value(relation, &self.decoded[row..row + f]);
            sum += f64::from(w[2 * f + 2 + j]) * normalize(self.header, i, witness);
        }
        sum
    }

    fn frame_size(&self) -> usize {
        self.field.map_or(1, |(height, width)| height * width)
    }

    fn decoded(&mut self, i: usize, value: f64) {
        self.decoded[i] = value;
        self.decoded_normalized[i] = normalize(self.header, i, value);
    }
}

/// Candidate weights predicting a field from each neighbourhood, fitted on the original values
/// among the first `end` for a few shares of the quantization noise of steps of twice `bound`
/// (in normalized units). Weights taking frames before are fitted on the frames that have one:
/// the first frame would pull them towards predicting without it.
fn fit_field(frame: &Frame, original_normalized: &[f64], bound: f64, end: usize) -> Vec<(Neighbourhood, Vec<f64>)> {
    let Some(shape) = frame.field else { return vec![] };
    let frame_size = frame.frame_size();
    let series = original_normalized.len() > frame_size;
    let neighbourhoods: &[Neighbourhood] = match series {
        true => &[Neighbourhood::InFrame, Neighbourhood::WithPrevious, Neighbourhood::Wide],
        false => &[Neighbourhood::InFrame],
    };
    let mut equations: Vec<NormalEquations> =
        neighbourhoods.iter().map(|n| NormalEquations::new(n.weights())).collect();
    for (i, &target) in original_normalized[..end].iter().enumerate() {
        let place = Place::of(i, shape);
        for (n, equations) in neighbourhoods.iter().zip(&mut equations) {
            if *n == Neighbourhood::InFrame || i >= frame_size {
                n.with_regressors(&place, original_normalized, &frame.predicted_normalized, |regressors| {
                    equations.add(regressors, target)
                });
            }
        }
    }
    // Uniform on [-bound, bound].
    let noise = bound * bound / 3.0;
    let mut fits = vec![];
    for (&n, equations) in neighbourhoods.iter().zip(equations) {
        let equations = equations.solved();
        for share in [0.0].into_iter().chain(NOISE_SHARES) {
            fits.extend(equations.solve_first(n.weights(), &n.decoded_regressors(), share * noise).map(|w| (n, w)));
        }
    }
    fits
}

/// A relation's value on a row; where the formula has none (log of a negative), 0.
pub(super) fn relation_value(relation: &Relation, row: &[f64]) -> f64 {
    Some(relation.evaluate(row)).filter(|v| v.is_finite()).unwrap_or(0.0)
}

fn normalize(header: &Header, i: usize, value: f64) -> f64 {
    let f = header.feature_of(i);
    (value - header.normalization.offset[f]) / header.normalization.scale[f]
}

/// One way of coding a feature, tried on the chunk.
#[derive(Default)]
struct Coded {
    codes: Vec<i64>,
    /// The values the decompressor will output, and the originals of the values it cannot reach.
    values: Vec<f64>,
    outliers: Vec<(usize, f64)>,
}

impl Coded {
    /// What the codes and outliers cost, the plan's weights left out.
    #[cfg(test)]
    fn bits(&self) -> f64 {
        self.bits_after(&Skipped::NOTHING)
    }

    /// What the codes and outliers from the `skipped`-th value on cost.
    fn bits_after(&self, skipped: &Skipped) -> f64 {
        let outliers = self.outliers.iter().filter(|&&(i, _)| i >= skipped.index).count();
        entropy_bits(&self.codes[skipped.values..]) + 64.0 * outliers as f64
    }
}

/// The first values of a trial, coded but left out of its cost: a field's first frames, which
/// no neighbourhood sees whole.
#[derive(Clone, Copy)]
struct Skipped {
    /// How many of the feature's values.
    values: usize,
    /// The first index counted.
    index: usize,
}

impl Skipped {
    const NOTHING: Skipped = Skipped { values: 0, index: 0 };
}

/// Codes feature `f`'s values among the first `end` one way into `coded` (its buffers reused),
/// decoding each value as it goes (a field's next values are predicted from it).
fn code_feature(
    frame: &mut Frame,
    f: usize,
    bound: f64,
    original: &[f64],
    plan: &FeaturePlan,
    end: usize,
    coded: &mut Coded,
) {
    let header = frame.header;
    let grid = Grid::of(plan, bound);
    coded.codes.clear();
    coded.values.clear();
    coded.outliers.clear();
    for i in frame.indices_before(f, end) {
        let (x, prediction) = (original[i], frame.prediction(f, i, plan));
        let code = grid.code(prediction, x);
        let stored = (code.abs() < LARGEST_CODE)
            .then(|| header.store(header.modelled_column(i), grid.value(prediction, code as i64)))
            .filter(|stored| (stored - x).abs() <= bound);
        let value = match stored {
            Some(value) => {
                coded.codes.push(code as i64);
                value
            }
            None => {
                coded.codes.push(0);
                coded.outliers.push((i, x));
                x
            }
        };
        coded.values.push(value);
        frame.decoded(i, value);
    }
}

/// Codes with each plan, `cost` telling what each coding costs: the cheapest coding, and the
/// plans from the cheapest to the dearest (of equal costs, the one tried first).
fn best_coding(
    plans: Vec<FeaturePlan>,
    mut code: impl FnMut(&FeaturePlan, &mut Coded),
    cost: impl Fn(&FeaturePlan, &Coded) -> f64,
) -> (Coded, Vec<FeaturePlan>) {
    let (mut best, mut trial) = (Coded::default(), Coded::default());
    let mut costs: Vec<(f64, usize)> = Vec::with_capacity(plans.len());
    for (k, plan) in plans.iter().enumerate() {
        code(plan, &mut trial);
        let bits = cost(plan, &trial);
        if costs.iter().all(|&(cheapest, _)| bits < cheapest) {
            // The buffers change hands, so that no trial allocates anew.
            std::mem::swap(&mut best, &mut trial);
        }
        costs.push((bits, k));
    }
    // A stable sort: of equal costs, the plan tried first stays first.
    costs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut plans: Vec<Option<FeaturePlan>> = plans.into_iter().map(Some).collect();
    (best, costs.into_iter().filter_map(|(_, k)| plans[k].take()).collect())
}

/// The bits an order-0 model of the codes spends, with a rough cost for storing the model.
pub(super) fn entropy_bits(codes: &[i64]) -> f64 {
    // Codes are mostly small: counted in a table, the rare large ones by sorting.
    const SMALL: usize = 1 << 13;
    let mut small = vec![0u32; SMALL];
    let mut large = vec![];
    for &c in codes {
        let z = super::bytes::zigzag(c) as usize;
        match small.get_mut(z) {
            Some(count) => *count += 1,
            None => large.push(z),
        }
    }
    large.sort_unstable();
    let mut counts: Vec<u32> = small.into_iter().filter(|&c| c > 0).collect();
    counts.extend(large.chunk_by(|a, b| a == b).map(|run| run.len() as u32));
    let n = codes.len() as f64;
    let table = 16.0 * counts.len().min(4096) as f64;
    table + counts.iter().map(|&c| f64::from(c) * (n / f64::from(c)).log2()).sum::<f64>()
}

pub(super) fn is_integer(x: f64) -> bool {
    x.fract() == 0.0 && x.abs() <= LARGEST_INTEGER
}

/// The first round of trials codes this share of the trial's values.
const FIRST_ROUND_SHARE: usize = 8;

/// Plans of one family differ only in their fitted weights.
fn family(plan: &FeaturePlan) -> (bool, Option<Neighbourhood>) {
    let neighbourhood = match &plan.prediction {
        Prediction::Neighbours(weights) => Some(weights.neighbourhood()),
        _ => None,
    };
    (plan.zeros, neighbourhood)
}

/// The first round of trials: where it ends, and the first samples it leaves out of the cost
/// (all but the last of `TRIAL_SAMPLES`), then a `FIRST_ROUND_SHARE` of the trial's.
fn first_round(header: &Header, f: usize, trial_end: usize, frame: &Frame) -> (usize, Skipped) {
    let per_sample = header.modelled_per_sample.max(1);
    let skipped = (TRIAL_SAMPLES - 1) * per_sample;
    let counted = (trial_end / FIRST_ROUND_SHARE).div_ceil(per_sample).max(1) * per_sample;
    let end = (skipped + counted).min(trial_end);
    (end, Skipped { values: frame.indices_before(f, skipped).len(), index: skipped })
}

/// Samples tried at least: a field's predictions from two frames back need frames that have them.
const TRIAL_SAMPLES: usize = 3;

/// The values each way of coding a feature is tried on: whole samples from the chunk's start,
/// about `PLAN_TRIAL_VALUES` of them and at least `TRIAL_SAMPLES`. The way chosen then codes
/// the whole chunk.
pub(super) fn plan_trial_end(header: &Header, values: usize) -> usize {
    let per_sample = header.modelled_per_sample.max(1);
    PLAN_TRIAL_VALUES.div_ceil(per_sample).max(TRIAL_SAMPLES).saturating_mul(per_sample).min(values)
}

/// The plan for a chunk and one code per modelled value; values the coding cannot bring within
/// the bound become outliers (index, exact value) with code 0.
pub fn code_residuals(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    original: &[f64],
    prediction: &[f64],
    outliers: &mut Vec<(i64, f64)>,
) -> (ResidualPlan, Vec<i64>) {
    let trial_end = plan_trial_end(header, original.len());
    if table_residuals::applies(header) {
        let per_sample = header.modelled_per_sample;
        let rows_of =
            |rows: std::ops::Range<usize>| prediction[rows.start * per_sample..rows.end * per_sample].to_vec();
        let (plan, codes, found) = row_blocks::code_table(header, coding, relations, original, trial_end, |rows| {
            Ok::<_, Infallible>(rows_of(rows))
        })
        .unwrap_or_else(|never| match never {});
        outliers.extend(found);
        return (plan, codes);
    }
    let mut frame = Frame::new(header, relations, prediction);
    let normalized: Vec<f64> = original.iter().enumerate().map(|(i, &x)| normalize(header, i, x)).collect();
    let mut codes = vec![0; original.len()];
    let mut found = vec![];
    let mut plans = Vec::with_capacity(frame.features);
    for f in 0..frame.features {
        let bound = coding.max_abs_error[f];
        let integer = frame.indices(f).all(|i| is_integer(original[i]));
        let zeros = frame.indices(f).filter(|&i| original[i] == 0.0).count();
        let zeros_apart: &[bool] = match zeros * ZERO_SHARE_TO_TRY >= frame.indices(f).count() {
            true => &[false, true],
            false => &[false],
        };
        let fitted = fit_field(&frame, &normalized, bound / header.normalization.scale[f], trial_end);
        let fitted: Vec<Prediction> = fitted
            .into_iter()
            .map(|(n, w)| {
                let w: Vec<f32> = w.iter().map(|&w| w as f32).collect();
                Prediction::Neighbours(NeighbourWeights::new(n, &w).expect("one weight per tap"))
            })
            .collect();
        let candidates: Vec<FeaturePlan> = zeros_apart
            .iter()
            .flat_map(|&zeros| {
                [Prediction::Decoder].into_iter().chain(fitted.clone()).map(move |prediction| FeaturePlan {
                    integer,
                    zeros,
                    prediction,
                })
            })
            .collect();
        // Each trial's cost is that of coding the whole trial: its weights once, and its codes
        // scaled up from the share it counts.
        let trial_values = frame.indices_before(f, trial_end).len() as f64;
        let trial = |frame: &mut Frame, plans: Vec<FeaturePlan>, end: usize, skipped: Skipped| {
            let counted = frame.indices_before(f, end).len() - skipped.values;
            let scale = trial_values / counted.max(1) as f64;
            best_coding(
                plans,
                |plan, into| code_feature(frame, f, bound, original, plan, end, into),
                |plan, coded| coded.bits_after(&skipped) * scale + 32.0 * plan.prediction.weights().len() as f64,
            )
        };
        // The noise shares of a neighbourhood are weighed on the first few frames; the best of
        // each neighbourhood then codes all the trial's. The first round leaves out the frames
        // that not every neighbourhood sees.
        let families = |plans: &[FeaturePlan]| plans.iter().map(family).collect::<HashSet<_>>().len();
        let (mut coded, ranked) = match candidates.len() > families(&candidates) {
            true => {
                let (end, skipped) = first_round(header, f, trial_end, &frame);
                let (_, ranked) = trial(&mut frame, candidates, end, skipped);
                let mut seen = HashSet::new();
                let finalists = ranked.into_iter().filter(|plan| seen.insert(family(plan))).collect();
                trial(&mut frame, finalists, trial_end, Skipped::NOTHING)
            }
            false => trial(&mut frame, candidates, trial_end, Skipped::NOTHING),
        };
        let plan = ranked.into_iter().next().expect("the decoder's prediction is always tried");
        if trial_end < original.len() {
            code_feature(&mut frame, f, bound, original, &plan, original.len(), &mut coded);
        }
        for ((i, &code), &value) in frame.indices(f).zip(&coded.codes).zip(&coded.values).collect::<Vec<_>>() {
            codes[i] = code;
            frame.decoded(i, value);
        }
        found.extend(coded.outliers);
        plans.push(plan);
    }
    found.sort_unstable_by_key(|&(i, _)| i);
    outliers.extend(found.into_iter().map(|(i, x)| (i as i64, x)));
    (ResidualPlan { features: plans }, codes)
}

/// The decoded values of a chunk: the plan's predictions, the residual codes on their grids,
/// and the outliers' exact values.
pub fn reconstruct(
    header: &Header,
    coding: &ResidualCoding,
    relations: &[Relation],
    plan: &ResidualPlan,
    prediction: &[f64],
    codes: &[i64],
    outliers: &[(usize, f64)],
) -> Result<Vec<f64>, ChunkError> {
    if plan.features.len() != header.feature_count() || codes.len() != prediction.len() {
        return Err(ChunkError::PlanDoesNotFit);
    }
    let layout = PlanLayout::of(header, relations);
    let fits = |f: usize, p: &FeaturePlan| match (&p.prediction, &layout) {
        (Prediction::Decoder, _) => true,
        (Prediction::Columns(w), PlanLayout::Table { weights }) => w.len() == weights[f],
        (Prediction::Neighbours(_), PlanLayout::Field { .. }) => header.frame_shape().is_some(),
        _ => false,
    };
    if !plan.features.iter().enumerate().all(|(f, p)| fits(f, p)) {
        return Err(ChunkError::PlanWeightsDoNotFit);
    }
    if table_residuals::applies(header) {
        return Ok(table_residuals::reconstruct(header, coding, relations, plan, prediction, codes, outliers));
    }
    let mut frame = Frame::new(header, relations, prediction);
    // Of a repeated index, the last counts.
    let outliers: HashMap<usize, f64> = outliers.iter().copied().collect();
    let mut values = vec![0.0; prediction.len()];
    for (f, feature) in plan.features.iter().enumerate() {
        let grid = Grid::of(feature, coding.max_abs_error[f]);
        for i in frame.indices(f) {
            let value = match outliers.get(&i) {
                Some(&exact) => exact,
                None => {
                    let prediction = frame.prediction(f, i, feature);
                    header.store(header.modelled_column(i), grid.value(prediction, codes[i]))
                }
            };
            values[i] = value;
            frame.decoded(i, value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_f64_round_bit_for_bit() {
        let tricky = [0.5, -0.5, 1.5, -2.5, 0.49999999999999994, -0.0, 4503599627370495.5, 1e300, f64::INFINITY];
        let mut state = 1u64;
        let random = std::iter::repeat_with(move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            f64::from_bits(state)
        });
        for x in tricky.into_iter().chain(tricky.map(|x| -x)).chain(random.take(100_000)) {
            match x.is_nan() {
                true => assert!(round(x).is_nan()),
                false => assert_eq!(round(x).to_bits(), x.round().to_bits(), "{x:e}"),
            }
        }
    }

    /// Feature `f` coded all through with `plan`.
    fn coded(frame: &mut Frame, f: usize, bound: f64, original: &[f64], plan: &FeaturePlan) -> Coded {
        let mut coded = Coded::default();
        code_feature(frame, f, bound, original, plan, original.len(), &mut coded);
        coded
    }

    fn table_layout(weights: &[usize]) -> PlanLayout {
        PlanLayout::Table { weights: weights.to_vec() }
    }

    /// A fit's weights, rounded to f32 as plans store them.
    fn fitted(n: Neighbourhood, w: &[f64]) -> Prediction {
        let w: Vec<f32> = w.iter().map(|&w| w as f32).collect();
        Prediction::Neighbours(NeighbourWeights::new(n, &w).unwrap())
    }

    fn neighbours(n: Neighbourhood, w: f32) -> Prediction {
        Prediction::Neighbours(NeighbourWeights::new(n, &vec![w; n.weights()]).unwrap())
    }

    #[test]
    fn plans_round_trip_through_bytes() {
        let plan = |integer, zeros, prediction| FeaturePlan { integer, zeros, prediction };
        let table = ResidualPlan {
            features: vec![
                plan(true, false, Prediction::Decoder),
                plan(false, false, Prediction::Columns(vec![0.5, -1.0, 2.0, 0.25])),
                plan(true, false, Prediction::Columns(vec![1.0; 6])),
                plan(false, true, Prediction::Decoder),
            ],
        };
        assert_eq!(ResidualPlan::from_bytes(&table.to_bytes(), &table_layout(&[2, 4, 6, 8])).unwrap(), table);
        let field = ResidualPlan {
            features: vec![
                plan(false, true, neighbours(Neighbourhood::InFrame, 0.5)),
                plan(true, false, neighbours(Neighbourhood::WithPrevious, -1.0)),
                plan(false, false, neighbours(Neighbourhood::Wide, 0.25)),
                plan(true, true, Prediction::Decoder),
            ],
        };
        assert_eq!(ResidualPlan::from_bytes(&field.to_bytes(), &PlanLayout::Field { features: 4 }).unwrap(), field);
    }

    #[test]
    fn damaged_plans_are_errors() {
        let bytes = ResidualPlan {
            features: vec![FeaturePlan {
                integer: false,
                zeros: false,
                prediction: Prediction::Columns(vec![1.0, 2.0]),
            }],
        }
        .to_bytes();
        let one = table_layout(&[2]);
        assert!(ResidualPlan::from_bytes(&bytes[..5], &one).is_err());
        assert!(ResidualPlan::from_bytes(&bytes, &table_layout(&[2, 2])).is_err());
        assert!(ResidualPlan::from_bytes(&[7], &one).is_err());
        assert!(ResidualPlan::from_bytes(&[8], &one).is_err());
        assert!(ResidualPlan::from_bytes(&[0, 0], &one).is_err());
        let nan = [&[2u8][..], &f32::NAN.to_le_bytes(), &1f32.to_le_bytes()].concat();
        assert!(ResidualPlan::from_bytes(&nan, &one).is_err());
        // A field's neighbourhood in a table: the flags say the frame before, the layout has none.
        let with_previous = [&[2u8 | 8][..], &[0; 4 * 13]].concat();
        let error = ResidualPlan::from_bytes(&with_previous, &table_layout(&[13])).unwrap_err();
        assert_eq!(error, CorruptSection::NeighboursInATable(0));
        assert!(error.to_string().contains("a field's neighbours"), "{error}");
        assert!(ResidualPlan::from_bytes(&with_previous, &PlanLayout::Field { features: 1 }).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn garbage_plans_are_errors_not_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            weights in proptest::collection::vec(0usize..9, 0..8),
        ) {
            let features = weights.len();
            let _ = ResidualPlan::from_bytes(&bytes, &PlanLayout::Table { weights });
            let _ = ResidualPlan::from_bytes(&bytes, &PlanLayout::Field { features });
        }
    }

    #[test]
    fn integer_grids_meet_the_bound_exactly_on_integers() {
        for bound in [0.01, 0.49, 0.5, 0.9, 1.0, 2.7] {
            let grid = Grid::new(true, false, bound);
            for x in -20..20 {
                for prediction in [-3.3, 0.0, 0.49, 0.51, 7.8] {
                    let code = grid.code(prediction, f64::from(x));
                    let back = grid.value(prediction, code as i64);
                    assert_eq!(back.fract(), 0.0);
                    assert!((back - f64::from(x)).abs() <= bound, "{x} {prediction} {bound}: {back}");
                    if bound < 0.5 {
                        assert_eq!(back, f64::from(x));
                    }
                }
            }
        }
    }

    const ROWS: usize = 500;

    /// A table of three columns: a float, an integer count, and their sum with the count doubled.
    fn table() -> (Header, ResidualCoding, Vec<f64>, Vec<f64>) {
        let json = serde_json::json!({
            "kind": "balerc-compressed", "shape": [ROWS, 3], "dtype": "f64", "format": "npz",
            "names": ["a", "n", "sum"], "model_hash": "0", "modelled_columns": [0, 1, 2],
            "normalization": {"kind": "min-max", "offset": [-10.0, 0.0, -10.0], "scale": [20.0, 12.0, 44.0]},
            "lossless_columns": [], "integer_columns": [], "modelled_per_sample": 3, "latent_width": 1,
            "latent_bits": 8, "error_bound": {"max_abs_error": [0.01, 0.01, 0.01], "residual_plans": true},
            "chunk_samples": ROWS,
        });
        let header = Header::from_json(&json).unwrap();
        let coding = header.error_bound.clone().unwrap();
        let original: Vec<f64> = (0..ROWS)
            .flat_map(|i| {
                let (a, n) = (10.0 * (i as f64).sin(), ((i * 7) % 13) as f64);
                [a, n, a + 2.0 * n]
            })
            .collect();
        // The decoder is off by up to half a unit, as an autoencoder is.
        let prediction = original.iter().enumerate().map(|(i, x)| x + 0.5 * ((i * i) as f64).cos()).collect();
        (header, coding, original, prediction)
    }

    #[test]
    fn integers_and_tied_columns_get_their_own_coding_and_the_bound_holds() {
        let (header, coding, original, prediction) = table();
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        assert_eq!(plan.features.iter().map(|p| p.integer).collect::<Vec<_>>(), [false, true, false]);
        assert!(
            matches!(plan.features[2].prediction, Prediction::Columns(_)),
            "the sum follows from the decoded columns"
        );
        let sum_codes: Vec<i64> = codes.iter().skip(2).step_by(3).copied().collect();
        assert!(sum_codes.iter().all(|&c| c.abs() <= 2), "{sum_codes:?}");
        assert!(outliers.is_empty());

        let plan = ResidualPlan::from_bytes(&plan.to_bytes(), &PlanLayout::of(&header, &[])).unwrap();
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        for (i, (x, y)) in original.iter().zip(&back).enumerate() {
            assert!((x - y).abs() <= 0.01, "value {i}: {x} came back as {y}");
            if i % 3 == 1 {
                assert_eq!(x, y, "counts come back exactly");
            }
        }
    }

    #[test]
    fn outliers_come_back_exactly_and_later_columns_predict_from_them() {
        let (header, coding, mut original, prediction) = table();
        original[3 * 10] = 1e300;
        original[3 * 20 + 1] = 1e100;
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        assert_eq!(outliers, [(30, 1e300), (61, 1e100)]);
        let exact: Vec<(usize, f64)> = outliers.iter().map(|&(i, x)| (i as usize, x)).collect();
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &exact).unwrap();
        assert_eq!((back[30], back[61]), (1e300, 1e100));
        assert!(original.iter().zip(&back).all(|(x, y)| (x - y).abs() <= 0.01));
    }

    /// The header of `frames` frames of height x width, normalized from `offset` over a range
    /// of 2, bounded to 0.002.
    fn field_header(frames: usize, height: usize, width: usize, offset: f64) -> Header {
        let json = serde_json::json!({
            "kind": "balerc-compressed", "shape": [frames, height, width], "dtype": "f64", "format": "npy",
            "names": [], "model_hash": "0", "modelled_columns": [],
            "normalization": {"kind": "min-max", "offset": [offset], "scale": [2.0]},
            "lossless_columns": [], "integer_columns": [], "modelled_per_sample": height * width, "latent_width": 2,
            "latent_bits": 8, "error_bound": {"max_abs_error": [0.002], "residual_plans": true},
            "chunk_samples": frames,
        });
        Header::from_json(&json).unwrap()
    }

    #[test]
    fn a_field_is_predicted_from_its_decoded_neighbours() {
        let (frames, height, width) = (6, 9, 11);
        let header = field_header(frames, height, width, 0.0);
        let coding = header.error_bound.clone().unwrap();
        // A smooth field; the decoder misses a smooth bump, which neighbours see and it cannot.
        let at = |i: usize| ((i / (height * width)) as f64, ((i / width) % height) as f64, (i % width) as f64);
        let original: Vec<f64> = (0..frames * height * width)
            .map(|i| {
                let (t, y, x) = at(i);
                (0.3 * x + 0.2 * y + t).sin()
            })
            .collect();
        let prediction: Vec<f64> = (0..original.len())
            .map(|i| {
                let (t, y, x) = at(i);
                original[i] - 0.2 * (0.05 * (x + y) + t).cos()
            })
            .collect();
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        assert!(
            matches!(&plan.features[0].prediction, Prediction::Neighbours(NeighbourWeights::InFrame(_))),
            "{plan:?}"
        );
        let plain = coded(
            &mut Frame::new(&header, &[], &prediction),
            0,
            0.002,
            &original,
            &ResidualPlan::decoder_only(1).features[0],
        )
        .bits();
        assert!(entropy_bits(&codes) < 0.6 * plain, "{} bits against {plain}", entropy_bits(&codes));

        let plan = ResidualPlan::from_bytes(&plan.to_bytes(), &PlanLayout::of(&header, &[])).unwrap();
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        assert!(original.iter().zip(&back).all(|(x, y)| (x - y).abs() <= 0.002));
    }

    #[test]
    fn a_series_of_frames_is_predicted_from_the_frame_before() {
        let (frames, height, width) = (8, 12, 12);
        let header = field_header(frames, height, width, -1.0);
        let coding = header.error_bound.clone().unwrap();
        // A fixed rough texture drifting slowly: no neighbour in a frame sees it, the frame
        // before does; the decoder sees only the smooth part.
        let texture = |p: usize| 0.3 * ((p * 2_654_435_761) % 1000) as f64 / 1000.0;
        let smooth = |i: usize| {
            let (t, p) = ((i / (height * width)) as f64, i % (height * width));
            (0.2 * (p % width) as f64 + 0.1 * (p / width) as f64 + 0.01 * t).sin()
        };
        let original: Vec<f64> =
            (0..frames * height * width).map(|i| 0.6 * smooth(i) + texture(i % (height * width))).collect();
        let prediction: Vec<f64> = (0..original.len()).map(|i| 0.6 * smooth(i) + 0.15).collect();
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        let feature = &plan.features[0];
        let Prediction::Neighbours(neighbours) = &feature.prediction else { panic!("{plan:?}") };
        assert_ne!(neighbours.neighbourhood(), Neighbourhood::InFrame, "{plan:?}");
        // Without the frame before, only the first frame's texture is this cheap.
        let frame = Frame::new(&header, &[], &prediction);
        let in_frame = fit_field(&frame, &normalized(&header, &original), 0.001, original.len())
            .into_iter()
            .find(|(n, _)| *n == Neighbourhood::InFrame)
            .map(|(n, w)| FeaturePlan { integer: false, zeros: false, prediction: fitted(n, &w) })
            .unwrap();
        let mut frame = Frame::new(&header, &[], &prediction);
        let without = coded(&mut frame, 0, 0.002, &original, &in_frame);
        let with = entropy_bits(&codes);
        assert!(with < 0.5 * without.bits(), "{with} bits against {}", without.bits());

        let plan = ResidualPlan::from_bytes(&plan.to_bytes(), &PlanLayout::of(&header, &[])).unwrap();
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        assert!(original.iter().zip(&back).all(|(x, y)| (x - y).abs() <= 0.002));
        let in_a_table = ResidualPlan { features: vec![plan.features[0].clone(); 3] };
        let (table_header, ..) = table();
        let codes = vec![0; 3 * ROWS];
        assert!(reconstruct(&table_header, &coding, &[], &in_a_table, &vec![0.0; 3 * ROWS], &codes, &[]).is_err());
    }

    #[test]
    fn a_texture_moving_against_the_coding_order_is_predicted_from_the_wide_neighbourhood() {
        let (frames, height, width) = (16, 12, 12);
        let header = field_header(frames, height, width, -1.0);
        let coding = header.error_bound.clone().unwrap();
        // A rough texture moving one column to the left every frame: the value at a place was
        // one place to the right in the frame before, which only the wide neighbourhood sees.
        let texture = |y: usize, x: usize| 0.5 * ((y * 131 + x * 71) * 2_654_435_761 % 1000) as f64 / 1000.0;
        let original: Vec<f64> = (0..frames * height * width)
            .map(|i| {
                let (t, y, x) = (i / (height * width), i / width % height, i % width);
                texture(y, x + t)
            })
            .collect();
        let prediction = vec![0.25; original.len()];
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        assert!(matches!(&plan.features[0].prediction, Prediction::Neighbours(NeighbourWeights::Wide(_))), "{plan:?}");
        let frame = Frame::new(&header, &[], &prediction);
        let narrower = fit_field(&frame, &normalized(&header, &original), 0.001, original.len())
            .into_iter()
            .filter(|(n, _)| *n == Neighbourhood::WithPrevious)
            .map(|(neighbourhood, w)| {
                let plan = FeaturePlan { integer: false, zeros: false, prediction: fitted(neighbourhood, &w) };
                let mut frame = Frame::new(&header, &[], &prediction);
                coded(&mut frame, 0, 0.002, &original, &plan).bits()
            })
            .fold(f64::INFINITY, f64::min);
        let wide = entropy_bits(&codes);
        assert!(wide < 0.7 * narrower, "{wide} bits against {narrower}");

        let plan = ResidualPlan::from_bytes(&plan.to_bytes(), &PlanLayout::of(&header, &[])).unwrap();
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        assert!(original.iter().zip(&back).all(|(x, y)| (x - y).abs() <= 0.002));
    }

    #[test]
    fn a_plan_tried_on_the_first_frames_codes_a_long_series_within_the_bound() {
        // Twice the values the plans are tried on, so the last frames are coded only once.
        let (height, width) = (32, 32);
        let frames = 2 * PLAN_TRIAL_VALUES / (height * width);
        let header = field_header(frames, height, width, -1.0);
        let coding = header.error_bound.clone().unwrap();
        assert!(plan_trial_end(&header, frames * height * width) < frames * height * width);
        // Frames as large as the trial still try three of them.
        let large = field_header(5, 512, 512, -1.0);
        assert_eq!(plan_trial_end(&large, 5 * 512 * 512), 3 * 512 * 512);
        let wave = |i: usize| {
            let (t, y, x) = (i / (height * width), i / width % height, i % width);
            (0.3 * x as f64 + 0.2 * y as f64 - 0.05 * t as f64).sin()
        };
        let original: Vec<f64> = (0..frames * height * width).map(wave).collect();
        let prediction: Vec<f64> = original.iter().map(|x| 0.9 * x).collect();
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        assert!(
            matches!(plan.features[0].prediction, Prediction::Neighbours(_)),
            "the neighbours predict a smooth wave: {plan:?}"
        );
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        assert!(original.iter().zip(&back).all(|(x, y)| (x - y).abs() <= 0.002));
        // The codes of the frames after the trial are those of the plan, not of the last one tried.
        let mut frame = Frame::new(&header, &[], &prediction);
        let whole = coded(&mut frame, 0, 0.002, &original, &plan.features[0]);
        assert_eq!(whole.codes, codes);
    }

    fn normalized(header: &Header, values: &[f64]) -> Vec<f64> {
        values.iter().enumerate().map(|(i, &x)| normalize(header, i, x)).collect()
    }

    #[test]
    fn files_without_plans_decode_as_before() {
        let (header, coding, _, prediction) = table();
        let codes: Vec<i64> = (0..prediction.len() as i64).map(|i| i % 5 - 2).collect();
        let plan = ResidualPlan::decoder_only(3);
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        for ((y, p), c) in back.iter().zip(&prediction).zip(&codes) {
            assert_eq!(*y, p + (2.0 * 0.01) * *c as f64);
        }
    }

    #[test]
    fn with_zeros_apart_code_zero_is_an_exact_zero_and_other_values_keep_their_bound() {
        for integer in [false, true] {
            let grid = Grid::new(integer, true, 0.5);
            assert_eq!(grid.code(3.7, 0.0), 0.0);
            assert_eq!(grid.value(3.7, 0), 0.0);
            for x in [-2.0, -0.25, 1e-9, 0.25, 3.0, 3.7, 9.0] {
                let code = grid.code(0.1, x);
                assert_ne!(code, 0.0, "{x} is not zero");
                assert!((grid.value(0.1, code as i64) - x).abs() <= 0.5, "{x}");
            }
        }
    }

    #[test]
    fn a_column_of_mostly_zeros_keeps_its_zeros_apart() {
        let json = serde_json::json!({
            "kind": "balerc-compressed", "shape": [ROWS, 2], "dtype": "f64", "format": "npz",
            "names": ["a", "mu_e"], "model_hash": "0", "modelled_columns": [0, 1],
            "normalization": {"kind": "min-max", "offset": [-10.0, 0.0], "scale": [20.0, 50.0]},
            "lossless_columns": [], "integer_columns": [], "modelled_per_sample": 2, "latent_width": 1,
            "latent_bits": 8, "error_bound": {"max_abs_error": [0.01, 0.01], "residual_plans": true},
            "chunk_samples": ROWS,
        });
        let header = Header::from_json(&json).unwrap();
        let coding = header.error_bound.clone().unwrap();
        // One row in ten has energy; the decoder smears a little energy over every row.
        let original: Vec<f64> = (0..ROWS)
            .flat_map(|i| [10.0 * (i as f64).sin(), if i % 10 == 3 { 20.0 + (i as f64).cos() } else { 0.0 }])
            .collect();
        let prediction: Vec<f64> = original.iter().enumerate().map(|(i, x)| x + 0.3 + 0.2 * (i as f64).cos()).collect();
        let mut outliers = vec![];
        let (plan, codes) = code_residuals(&header, &coding, &[], &original, &prediction, &mut outliers);
        assert!(plan.features[1].zeros && !plan.features[0].zeros, "{plan:?}");
        let zeros_kept = entropy_bits(&codes.iter().skip(1).step_by(2).copied().collect::<Vec<_>>());
        let mut frame = Frame::new(&header, &[], &prediction);
        let mixed = coded(&mut frame, 1, 0.01, &original, &ResidualPlan::decoder_only(1).features[0]).bits();
        assert!(zeros_kept < 0.5 * mixed, "{zeros_kept} bits against {mixed}");

        let plan = ResidualPlan::from_bytes(&plan.to_bytes(), &PlanLayout::of(&header, &[])).unwrap();
        let back = reconstruct(&header, &coding, &[], &plan, &prediction, &codes, &[]).unwrap();
        for (i, (x, y)) in original.iter().zip(&back).enumerate() {
            assert!((x - y).abs() <= 0.01, "value {i}: {x} came back as {y}");
            if *x == 0.0 {
                assert_eq!(*y, 0.0, "value {i}");
            }
        }
    }

    #[test]
    fn float_grids_are_the_earlier_residual_steps() {
        let grid = Grid::new(false, false, 0.125);
        assert_eq!(grid.value(1.0, 3), 1.0 + (2.0 * 0.125) * 3.0);
        assert_eq!(grid.code(1.0, 1.8), 3.0);
    }
}
