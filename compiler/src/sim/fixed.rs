//! The bit-exact simulator: executes a quantized model on integer codes exactly as the
//! generated hardware does. This is the definition the backends are tested against.

use crate::fixed::{Caster, FixedType};
use crate::ir::Taps;
use crate::quant::model::{FusedActivation, LayerOp, Linear, QuantizedModel};
use crate::{Error, Result};
use rayon::prelude::*;

/// Samples per work unit: large enough to amortize buffers, small enough to spread
/// over cores and stay in cache.
const CHUNK: usize = 256;

/// A linear layer prepared for integer execution.
struct LinearKernel {
    rows: Rows,
    /// Bias per output, already in accumulator codes.
    bias: Vec<i64>,
    accumulate: Accumulate,
    activation: FusedActivation,
    acc_frac: i32,
    to_result: Caster,
    result: FixedType,
}

/// The weights feeding each output, pre-shifted to the accumulator's scale when the
/// accumulator is exact.
enum Rows {
    /// A dense layer: weights [out][in], contiguous so the dot products vectorize.
    Dense { weights: Vec<i64>, inputs: usize },
    /// A convolution: (input index, weight) pairs per output.
    Sparse(Vec<Vec<(u32, i64)>>),
}

impl Rows {
    fn len(&self) -> usize {
        match self {
            Rows::Dense { weights, inputs } => weights.len() / inputs,
            Rows::Sparse(rows) => rows.len(),
        }
    }

    fn map_weights(self, f: impl Fn(i64) -> i64) -> Rows {
        match self {
            Rows::Dense { weights, inputs } => Rows::Dense { weights: weights.into_iter().map(f).collect(), inputs },
            Rows::Sparse(rows) => {
                Rows::Sparse(rows.into_iter().map(|r| r.into_iter().map(|(i, w)| (i, f(w))).collect()).collect())
            }
        }
    }
}

enum Accumulate {
    /// Plain integer sums: no product or partial sum can leave the accumulator.
    Exact,
    /// Each product is cast to the accumulator type; sums wrap at its width.
    Cast { product: Caster, accumulator: FixedType },
}

enum Kernel {
    Linear(LinearKernel),
    Affine {
        scale: Vec<i64>,
        shift: Vec<i64>,
        per_channel: usize,
        to_result: Caster,
    },
    Relu(Caster),
    Clip {
        low: i64,
        high: i64,
        to_result: Caster,
    },
    MaxPool {
        windows: Taps,
        to_result: Caster,
    },
    LeakyRelu {
        alpha: i64,
        product_frac: i32,
        to_result: Caster,
        result: FixedType,
    },
    PRelu {
        alphas: Vec<i64>,
        per_channel: usize,
        product_frac: i32,
        to_result: Caster,
        result: FixedType,
    },
    /// `line`: from this input code on, the result of x * slope (its product's fraction
    /// bits given) instead of the table.
    Table {
        entries: Vec<i64>,
        index_shift: i32,
        line: Option<Line>,
    },
    Copy,
    /// Two operands aligned to the sum's fraction (shifted up by these bits), added, cast.
    Add {
        shifts: [u32; 2],
        to_result: Caster,
    },
    /// Each operand cast to the result, one after another.
    Concat(Vec<Caster>),
}

/// A quantized model prepared for repeated bit-exact execution.
pub struct Simulator<'m> {
    model: &'m QuantizedModel,
    kernels: Vec<Kernel>,
}

impl<'m> Simulator<'m> {
    pub fn new(model: &'m QuantizedModel) -> Self {
        let kernels = model
            .layers
            .iter()
            .map(|layer| {
                let input = &model.values[layer.inputs[0]];
                let result = model.values[layer.output].ty;
                match &layer.op {
                    LayerOp::Dense { linear, inputs } => {
                        let rows = Rows::Dense { weights: linear.weight.codes.clone(), inputs: *inputs };
                        Kernel::Linear(LinearKernel::new(linear, rows, 1, input.ty, result))
                    }
                    LayerOp::Conv { linear, taps, .. } => {
                        let rows = Rows::Sparse(
                            (0..taps.outputs())
                                .map(|o| {
                                    taps.of(o).iter().map(|&(i, w)| (i, linear.weight.codes[w as usize])).collect()
                                })
                                .collect(),
                        );
                        Kernel::Linear(LinearKernel::new(linear, rows, taps.per_channel, input.ty, result))
                    }
                    LayerOp::Affine { scale, shift, accumulator, per_channel } => {
                        let frac = accumulator.frac_bits();
                        let product_shift = frac - input.ty.frac_bits() - scale.ty.frac_bits();
                        Kernel::Affine {
                            scale: scale.codes.iter().map(|&s| s << product_shift).collect(),
                            shift: shift.codes.iter().map(|&t| t << (frac - shift.ty.frac_bits())).collect(),
                            per_channel: *per_channel,
                            to_result: result.caster(frac),
                        }
                    }
                    LayerOp::Relu => Kernel::Relu(result.caster(input.ty.frac_bits())),
                    LayerOp::MaxPool { windows, .. } => {
                        Kernel::MaxPool { windows: windows.clone(), to_result: result.caster(input.ty.frac_bits()) }
                    }
                    LayerOp::Clip { low, high } => {
                        Kernel::Clip { low: *low, high: *high, to_result: result.caster(input.ty.frac_bits()) }
                    }
                    LayerOp::LeakyRelu { alpha, alpha_ty } => Kernel::LeakyRelu {
                        alpha: *alpha,
                        product_frac: input.ty.frac_bits() + alpha_ty.frac_bits(),
                        to_result: result.caster(input.ty.frac_bits()),
                        result,
                    },
                    LayerOp::PRelu { alphas, per_channel } => Kernel::PRelu {
                        alphas: alphas.codes.clone(),
                        per_channel: *per_channel,
                        product_frac: input.ty.frac_bits() + alphas.ty.frac_bits(),
                        to_result: result.caster(input.ty.frac_bits()),
                        result,
                    },
                    LayerOp::Table { entries, index_shift, linear, .. } => Kernel::Table {
                        entries: entries.clone(),
                        index_shift: *index_shift,
                        line: linear.map(|l| Line {
                            from: l.from,
                            slope: l.slope,
                            product_frac: input.ty.frac_bits() + l.slope_ty.frac_bits(),
                            result,
                        }),
                    },
                    LayerOp::Reshape => Kernel::Copy,
                    LayerOp::Add { sum } => {
                        let up = |v: usize| (sum.frac_bits() - model.values[layer.inputs[v]].ty.frac_bits()) as u32;
                        Kernel::Add { shifts: [up(0), up(1)], to_result: result.caster(sum.frac_bits()) }
                    }
                    LayerOp::Concat => Kernel::Concat(
                        layer.inputs.iter().map(|&v| result.caster(model.values[v].ty.frac_bits())).collect(),
                    ),
                }
            })
            .collect();
        Simulator { model, kernels }
    }

    pub fn input_len(&self) -> usize {
        self.model.input().len()
    }

    pub fn output_len(&self) -> usize {
        self.model.output().len()
    }

    /// Converts floats to input codes as `ap_fixed` assignment from double does (after the
    /// division by the input's code scale, where it has one).
    pub fn quantize_input(&self, input: &[f64]) -> Result<Vec<i64>> {
        let ty = self.model.input().ty;
        let width = self.input_len();
        input
            .iter()
            .enumerate()
            .map(|(k, &x)| {
                ty.from_f64(self.model.scales.input_units(x)).map_err(|_| {
                    Error::Data(format!(
                        "sample {}, element {} is {x}; inputs must be finite numbers",
                        k / width,
                        k % width
                    ))
                })
            })
            .collect()
    }

    /// Runs a batch of input codes (samples one after another) on all cores and returns
    /// the output codes.
    pub fn run(&self, input: &[i64]) -> Vec<i64> {
        let (n_in, n_out) = (self.input_len(), self.output_len());
        let mut output = vec![0; input.len() / n_in * n_out];
        output
            .par_chunks_mut(CHUNK * n_out)
            .zip(input.par_chunks(CHUNK * n_in))
            .for_each(|(y, x)| y.copy_from_slice(&self.run_chunk(x)[self.model.output]));
        output
    }

    /// Every value of the model for a chunk of samples (for reports and tests).
    pub fn run_chunk(&self, input: &[i64]) -> Vec<Vec<i64>> {
        let samples = input.len() / self.input_len();
        let mut values: Vec<Vec<i64>> = vec![Vec::new(); self.model.values.len()];
        values[self.model.input] = input.to_vec();
        for (layer, kernel) in self.model.layers.iter().zip(&self.kernels) {
            let n_out = self.model.values[layer.output].len();
            let mut y = vec![0i64; samples * n_out];
            let operand = |v: usize, s: usize| {
                let n = self.model.values[v].len();
                &values[v][s * n..(s + 1) * n]
            };
            match kernel {
                Kernel::Add { .. } | Kernel::Concat(_) => {
                    for (s, ys) in y.chunks_exact_mut(n_out).enumerate() {
                        let xs: Vec<&[i64]> = layer.inputs.iter().map(|&v| operand(v, s)).collect();
                        kernel.join(&xs, ys);
                    }
                }
                _ => {
                    for (s, ys) in y.chunks_exact_mut(n_out).enumerate() {
                        kernel.apply(operand(layer.inputs[0], s), ys);
                    }
                }
            }
            values[layer.output] = y;
        }
        values
    }
}

impl LinearKernel {
    fn new(linear: &Linear, rows: Rows, per_channel: usize, input: FixedType, result: FixedType) -> Self {
        let acc = linear.accumulator;
        let acc_frac = acc.frac_bits();
        let product_frac = input.frac_bits() + linear.weight.ty.frac_bits();
        let bias_codes = |o: usize| linear.bias.codes[o / per_channel];
        let (rows, bias, accumulate) = if linear.exact {
            let up = acc_frac - product_frac;
            let rows = rows.map_weights(|w| w << up);
            let bias = (0..rows.len()).map(|o| bias_codes(o) << (acc_frac - linear.bias.ty.frac_bits())).collect();
            (rows, bias, Accumulate::Exact)
        } else {
            let bias = (0..rows.len()).map(|o| acc.cast(bias_codes(o) as i128, linear.bias.ty.frac_bits())).collect();
            (rows, bias, Accumulate::Cast { product: acc.caster(product_frac), accumulator: acc })
        };
        LinearKernel {
            rows,
            bias,
            accumulate,
            activation: linear.activation,
            acc_frac,
            to_result: result.caster(acc_frac),
            result,
        }
    }

    #[inline]
    fn output(&self, acc: i64) -> i64 {
        match self.activation {
            FusedActivation::None => self.to_result.apply(acc),
            FusedActivation::Relu => self.to_result.apply(acc.max(0)),
            FusedActivation::LeakyRelu { alpha, ty } => {
                if acc >= 0 {
                    self.to_result.apply(acc)
                } else {
                    self.result.cast(acc as i128 * alpha as i128, self.acc_frac + ty.frac_bits())
                }
            }
        }
    }
}

impl Kernel {
    fn apply(&self, x: &[i64], y: &mut [i64]) {
        match self {
            Kernel::Linear(k) => match (&k.accumulate, &k.rows) {
                (Accumulate::Exact, Rows::Dense { weights, inputs }) => {
                    for ((out, row), &bias) in y.iter_mut().zip(weights.chunks_exact(*inputs)).zip(&k.bias) {
                        let dot: i64 = row.iter().zip(x).map(|(w, v)| w * v).sum();
                        *out = k.output(bias + dot);
                    }
                }
                (Accumulate::Exact, Rows::Sparse(rows)) => {
                    for ((out, row), &bias) in y.iter_mut().zip(rows).zip(&k.bias) {
                        let acc = row.iter().fold(bias, |acc, &(i, w)| acc + x[i as usize] * w);
                        *out = k.output(acc);
                    }
                }
                (Accumulate::Cast { product, accumulator }, rows) => {
                    for (o, (out, &bias)) in y.iter_mut().zip(&k.bias).enumerate() {
                        let term = |(i, w): (usize, i64)| product_of(product, x[i], w);
                        let sum = match rows {
                            Rows::Dense { weights, inputs } => weights[o * inputs..(o + 1) * inputs]
                                .iter()
                                .enumerate()
                                .fold(bias, |acc, (i, &w)| acc.wrapping_add(term((i, w)))),
                            Rows::Sparse(rows) => {
                                rows[o].iter().fold(bias, |acc, &(i, w)| acc.wrapping_add(term((i as usize, w))))
                            }
                        };
                        *out = k.output(accumulator.cast(sum as i128, accumulator.frac_bits()));
                    }
                }
            },
            Kernel::Affine { scale, shift, per_channel, to_result } => {
                for (k, (out, &v)) in y.iter_mut().zip(x).enumerate() {
                    let c = k / per_channel;
                    *out = to_result.apply(v * scale[c] + shift[c]);
                }
            }
            Kernel::Relu(cast) => y.iter_mut().zip(x).for_each(|(out, &v)| *out = cast.apply(v.max(0))),
            Kernel::MaxPool { windows, to_result } => y.iter_mut().enumerate().for_each(|(o, out)| {
                let largest = windows.of(o).iter().map(|&(i, _)| x[i as usize]).max().expect("a window reads an input");
                *out = to_result.apply(largest)
            }),
            Kernel::Clip { low, high, to_result } => {
                y.iter_mut().zip(x).for_each(|(out, &v)| *out = to_result.apply(v.clamp(*low, *high)))
            }
            Kernel::LeakyRelu { alpha, product_frac, to_result, result } => {
                for (out, &v) in y.iter_mut().zip(x) {
                    *out = if v >= 0 {
                        to_result.apply(v)
                    } else {
                        result.cast(v as i128 * *alpha as i128, *product_frac)
                    };
                }
            }
            Kernel::PRelu { alphas, per_channel, product_frac, to_result, result } => {
                for (i, (out, &v)) in y.iter_mut().zip(x).enumerate() {
                    *out = if v >= 0 {
                        to_result.apply(v)
                    } else {
                        result.cast(v as i128 * alphas[i / *per_channel] as i128, *product_frac)
                    };
                }
            }
            Kernel::Table { entries, index_shift, line } => {
                let half = (entries.len() / 2) as i128;
                let last = entries.len() as i128 - 1;
                for (out, &v) in y.iter_mut().zip(x) {
                    if let Some(line) = line.as_ref().filter(|line| v >= line.from) {
                        *out = line.result.cast(v as i128 * line.slope as i128, line.product_frac);
                        continue;
                    }
                    let scaled = if *index_shift >= 0 {
                        (v as i128) << (*index_shift).min(64)
                    } else {
                        (v as i128) >> (-*index_shift).min(127)
                    };
                    *out = entries[(scaled + half).clamp(0, last) as usize];
                }
            }
            Kernel::Copy => y.copy_from_slice(x),
            Kernel::Add { .. } | Kernel::Concat(_) => unreachable!("a join reads several operands"),
        }
    }

    /// A kernel that reads several operands: one sample of each.
    fn join(&self, operands: &[&[i64]], y: &mut [i64]) {
        match self {
            Kernel::Add { shifts, to_result } => {
                let [a, b] = operands else { unreachable!("an add has two operands") };
                for ((out, &u), &v) in y.iter_mut().zip(*a).zip(*b) {
                    *out = to_result.apply((u << shifts[0]) + (v << shifts[1]));
                }
            }
            Kernel::Concat(casts) => {
                let mut outs = y.iter_mut();
                for (part, cast) in operands.iter().zip(casts) {
                    part.iter().zip(outs.by_ref()).for_each(|(&v, out)| *out = cast.apply(v));
                }
            }
            _ => unreachable!("a one-operand kernel"),
        }
    }
}

/// The linear side of a table: from the input code `from` on, x * slope cast to the result.
struct Line {
    from: i64,
    slope: i64,
    product_frac: i32,
    result: FixedType,
}

/// A product cast to the accumulator type (hls4ml's `(accum_t)(x * w)`), exact in i128.
#[inline]
fn product_of(cast: &Caster, x: i64, w: i64) -> i64 {
    match x.checked_mul(w) {
        Some(p) => cast.apply(p),
        None => cast.apply_wide(x as i128 * w as i128),
    }
}
