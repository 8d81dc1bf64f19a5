//! Which products of the linear layers go to DSP slices.
//!
//! A unit is what one multiplier would compute: a product when the layer is not folded, a
//! slot (the products an output shares over its R phases) when it is. Under
//! `--multipliers auto` each unit's shift-add terms are priced in LUTs (one LUT per adder
//! bit) against one DSP slice, counted as `DspPolicy::lut_cost` LUTs, plus the adder its
//! single product term still needs in the tree. Units go to DSPs densest canonical-signed-
//! digit weights first while a DSP is cheaper and the budget lasts.

use crate::csd;
use crate::layer::linear_rows;
use crate::Multipliers;
use balerc_compiler::quant::model::Layer;
use balerc_compiler::quant::range::Interval;
use balerc_compiler::quant::QuantizedModel;
use std::collections::BTreeMap;

/// The LUTs one DSP slice is worth: its share of the default part, the xcvu9p, which has
/// 1,182,240 LUTs and 6,840 DSP slices (1,182,240 / 6,840 = 172.8). A design priced this
/// way fills both resources at the same rate.
pub const DEFAULT_DSP_COST: u32 = 173;

/// How `--multipliers auto` weighs DSP slices against LUTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DspPolicy {
    /// The LUTs a DSP slice is counted as.
    pub lut_cost: u32,
    /// At most this many products (units) on DSP slices.
    pub budget: Option<u64>,
}

impl Default for DspPolicy {
    fn default() -> Self {
        DspPolicy { lut_cost: DEFAULT_DSP_COST, budget: None }
    }
}

/// For each layer, for each output, for each unit: whether it goes to a DSP slice. Layers
/// without products have no rows.
#[derive(Debug, Clone, Default)]
pub struct DspPlan {
    pub layers: Vec<Vec<Vec<bool>>>,
}

/// One unit's place and price.
struct Candidate {
    layer: usize,
    output: usize,
    unit: usize,
    /// Digit positions its weights use: the terms it costs in shift-add form.
    density: usize,
    /// LUTs a DSP saves, before the DSP's own price.
    saving: i64,
}

/// The plan for `multipliers`; `reuse` holds each layer's reuse factor.
pub fn plan(model: &QuantizedModel, reuse: &[u32], multipliers: Multipliers, policy: DspPolicy) -> DspPlan {
    let mut layers: Vec<Vec<Vec<bool>>> = Vec::with_capacity(model.layers.len());
    let mut candidates = Vec::new();
    for (k, layer) in model.layers.iter().enumerate() {
        let Some(units) = layer_units(model, layer, reuse[k] as usize) else {
            layers.push(Vec::new());
            continue;
        };
        let mut rows = Vec::with_capacity(units.len());
        for (o, row) in units.iter().enumerate() {
            rows.push(vec![false; row.len()]);
            for (c, unit) in row.iter().enumerate() {
                if unit.weights.iter().all(|&w| w == 0) {
                    continue;
                }
                match multipliers {
                    Multipliers::Dsp => rows[o][c] = true,
                    Multipliers::ShiftAdd => {}
                    Multipliers::Auto => candidates.push(unit.candidate(k, o, c)),
                }
            }
        }
        layers.push(rows);
    }
    let worth = |c: &Candidate| c.saving > policy.lut_cost as i64;
    candidates.retain(worth);
    // Densest first; among equals the larger saving, then model order, so plans repeat.
    candidates.sort_by(|a, b| {
        (b.density, b.saving)
            .cmp(&(a.density, a.saving))
            .then((a.layer, a.output, a.unit).cmp(&(b.layer, b.output, b.unit)))
    });
    let budget = policy.budget.map_or(usize::MAX, |b| usize::try_from(b).unwrap_or(usize::MAX));
    for c in candidates.into_iter().take(budget) {
        layers[c.layer][c.output][c.unit] = true;
    }
    DspPlan { layers }
}

/// A unit's weights (one per phase) over one input type.
struct Unit {
    weights: Vec<i64>,
    input: Interval,
    input_width: u32,
}

impl Unit {
    fn candidate(&self, layer: usize, output: usize, unit: usize) -> Candidate {
        // digits[k][t]: the digit of phase t's weight at 2^k, as the folded layer builds it.
        let phases = self.weights.len();
        let mut digits: BTreeMap<u32, Vec<i8>> = BTreeMap::new();
        for (t, &w) in self.weights.iter().enumerate() {
            for (k, negative) in csd::digits(w) {
                digits.entry(k).or_insert_with(|| vec![0; phases])[t] = if negative { -1 } else { 1 };
            }
        }
        let product = self.weights.iter().map(|&w| self.input.scale(w)).reduce(Interval::hull).expect("a phase");
        // Unfolded, a term costs about an adder of the input's width (terms share
        // subexpressions and meet in narrow adders first). Folded, every phase's terms meet
        // in one tree without sharing, each adder as wide as the products it sums.
        let width = if phases > 1 { product.signed_bits() as i64 } else { self.input_width as i64 };
        // A term every phase takes alike is one adder; one that changes with the phase is
        // also gated (a LUT per bit) before its adder.
        let shift_add: i64 = digits
            .values()
            .map(|by_phase| if by_phase.iter().all(|&d| d == by_phase[0]) { width } else { 2 * width })
            .sum();
        // The DSP's product still takes one adder of its own width in the tree.
        let saving = shift_add - product.signed_bits() as i64;
        Candidate { layer, output, unit, density: digits.len(), saving }
    }
}

/// The units of a dense or conv layer folded by `reuse`, by output; None for other layers.
fn layer_units(model: &QuantizedModel, layer: &Layer, reuse: usize) -> Option<Vec<Vec<Unit>>> {
    let (_, rows) = linear_rows(&layer.op)?;
    let ty = model.values[layer.inputs[0]].ty;
    let units = rows
        .products
        .iter()
        .map(|row| {
            row.chunks(reuse)
                .map(|slot| Unit {
                    weights: (0..reuse).map(|t| slot.get(t).map_or(0, |&(_, w)| w)).collect(),
                    input: Interval::of_type(ty),
                    input_width: ty.width,
                })
                .collect()
        })
        .collect();
    Some(units)
}
