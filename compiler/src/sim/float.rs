//! The same IR evaluated in floating point (f64): the reference the quantization error
//! is measured against, and what `simulate --float` prints.

use crate::fixed::FixedType;
use crate::ir::{Activation, CodeScales, Graph, NodeId, Op, Taps};
use crate::{Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

enum Step {
    Input,
    Copy(usize),
    Constant(Vec<f64>),
    Dense {
        from: usize,
        weight: Vec<f64>,
        /// The same weights as [inputs][outputs], for the batched kernel.
        weight_by_input: Vec<f64>,
        bias: Vec<f64>,
        inputs: usize,
        activation: Option<Activation>,
    },
    Conv {
        from: usize,
        taps: Taps,
        weight: Vec<f64>,
        bias: Vec<f64>,
        activation: Option<Activation>,
    },
    Affine {
        from: usize,
        scale: Vec<f64>,
        shift: Vec<f64>,
        per_channel: usize,
    },
    /// Each output the largest of its window's inputs.
    MaxPool {
        from: usize,
        windows: Taps,
    },
    Activation {
        from: usize,
        activation: Activation,
    },
    /// A leaky ReLU with a slope per channel.
    PRelu {
        from: usize,
        slopes: Vec<f64>,
        per_channel: usize,
    },
    Add(usize, usize),
    /// Each sample's parts one after another (a concatenation along the channel axis).
    Concat(Vec<usize>),
    /// A cast the model declares, applied to the float value as the quantizer does.
    Quantize {
        from: usize,
        ty: FixedType,
    },
    /// A multiply per channel by the fixed-point multiplier, then the declared cast.
    Requantize {
        from: usize,
        multiplier: Vec<f64>,
        per_channel: usize,
        ty: Option<FixedType>,
    },
}

/// A graph prepared for repeated evaluation: steps in topological order, each reading
/// earlier steps' results by position.
pub struct FloatProgram {
    steps: Vec<Step>,
    /// The node name behind each step.
    names: Vec<String>,
    /// Values each step produces per sample.
    lens: Vec<usize>,
    input_len: usize,
    output: usize,
    output_len: usize,
    scales: CodeScales,
    usage: Usage,
}

/// What a program has run: samples, and nanoseconds summed over the calls (on any thread).
#[derive(Debug, Default)]
struct Usage {
    samples: AtomicU64,
    nanos: AtomicU64,
}

/// The taps and weights of an average pool whose border windows have sizes of their own.
fn border_average(pool: &crate::ir::Pool, graph: &Graph, n: NodeId) -> Result<(crate::ir::Taps, Vec<f64>)> {
    let node = graph.node(n);
    let input = &graph.node(graph.operand(n)).shape;
    match pool.border_average(input) {
        Ok(Some(average)) => Ok(average),
        Ok(None) => Err(Error::unsupported(node.op.kind(), &node.name, "shape inference left a plain pool unresolved")),
        Err(e) => Err(Error::shape(&node.name, e)),
    }
}

/// Samples evaluated together, so that a dense layer is one matrix product per block.
const BLOCK: usize = 64;

impl FloatProgram {
    pub fn new(graph: &Graph) -> Result<Self> {
        let (inputs, outputs) = (graph.inputs(), graph.outputs());
        if inputs.len() != 1 || outputs.len() != 1 {
            return Err(Error::Other(format!(
                "simulation needs one input and one output; the model has {} and {}",
                inputs.len(),
                outputs.len()
            )));
        }
        let order = graph.topological_order();
        let position: HashMap<NodeId, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
        let from = |n: NodeId| position[&graph.operand(n)];
        let steps = order
            .iter()
            .map(|&n| {
                let node = graph.node(n);
                Ok(match &node.op {
                    Op::Input { .. } => Step::Input,
                    Op::Output | Op::Reshape { .. } | Op::Flatten { .. } | Op::Identity | Op::Dropout => {
                        Step::Copy(from(n))
                    }
                    Op::Constant(t) => Step::Constant(t.data.clone()),
                    Op::Dense(d) => Step::Dense {
                        from: from(n),
                        weight: d.weight.data.clone(),
                        weight_by_input: transpose(&d.weight.data, d.inputs()),
                        bias: d.bias.clone(),
                        inputs: d.inputs(),
                        activation: d.activation,
                    },
                    Op::Conv(c) => Step::Conv {
                        from: from(n),
                        taps: c.taps(&graph.node(graph.operand(n)).shape),
                        weight: c.weight.data.clone(),
                        bias: c.bias.clone(),
                        activation: c.activation,
                    },
                    Op::Pool(p) => {
                        let (taps, weight) = border_average(p, graph, n)?;
                        let channels = graph.node(n).shape[0];
                        Step::Conv { from: from(n), taps, weight, bias: vec![0.0; channels], activation: None }
                    }
                    Op::MaxPool(g) => {
                        Step::MaxPool { from: from(n), windows: g.windows(&graph.node(graph.operand(n)).shape) }
                    }
                    Op::BatchNorm(b) => Step::Affine {
                        from: from(n),
                        scale: b.scale.clone(),
                        shift: b.shift.clone(),
                        per_channel: node.shape[1..].iter().product(),
                    },
                    Op::Activation(a) => Step::Activation { from: from(n), activation: *a },
                    Op::PRelu { slopes } => Step::PRelu {
                        from: from(n),
                        slopes: slopes.clone(),
                        per_channel: node.shape[1..].iter().product(),
                    },
                    Op::Quantize(ty) => Step::Quantize { from: from(n), ty: *ty },
                    Op::Requantize(r) => Step::Requantize {
                        from: from(n),
                        multiplier: r.multipliers(),
                        per_channel: node.shape[1..].iter().product(),
                        ty: node.declared.result,
                    },
                    Op::Add => {
                        let ops = graph.operands(n);
                        Step::Add(position[&ops[0]], position[&ops[1]])
                    }
                    Op::Concat { .. } => Step::Concat(graph.operands(n).iter().map(|o| position[o]).collect()),
                    Op::MatMul => {
                        return Err(Error::unsupported("MatMul", &node.name, "a product of two run-time tensors"))
                    }
                    // Shape inference and fold-pad leave none of these.
                    Op::Channelwise(_) | Op::Transpose { .. } | Op::Pad { .. } => {
                        return Err(Error::unsupported(node.op.kind(), &node.name, "the passes left it in the graph"))
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FloatProgram {
            steps,
            names: order.iter().map(|&n| graph.node(n).name.clone()).collect(),
            lens: order.iter().map(|&n| graph.node(n).shape.iter().product()).collect(),
            input_len: graph.node(inputs[0]).shape.iter().product(),
            output: position[&outputs[0]],
            output_len: graph.node(outputs[0]).shape.iter().product(),
            scales: graph.scales,
            usage: Usage::default(),
        })
    }

    /// Multiplications (each with its addition) one sample takes through the dense and
    /// convolutional layers: twice this is the program's floating-point operations per sample.
    pub fn multiply_adds_per_sample(&self) -> usize {
        let of = |step: &Step| match step {
            Step::Dense { weight, .. } => weight.len(),
            Step::Conv { taps, .. } => taps.entries.len(),
            _ => 0,
        };
        self.steps.iter().map(of).sum()
    }

    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// The position of the output among the results `trace` returns.
    pub fn output_step(&self) -> usize {
        self.output
    }

    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// The step that computes the node of this name.
    pub fn step_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Evaluates one sample and returns every step's result (for range analysis).
    pub fn trace(&self, input: &[f64]) -> Vec<Vec<f64>> {
        let input = &self.in_input_units(input);
        let mut values: Vec<Vec<f64>> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let value = self.eval(step, input, |from| &values[from]);
            values.push(value);
        }
        values
    }

    /// One step of one sample, reading earlier results through `operand`.
    fn eval<'a>(&self, step: &Step, input: &[f64], operand: impl Fn(usize) -> &'a [f64]) -> Vec<f64> {
        let values = |from: &usize| operand(*from);
        match step {
            Step::Input => input.to_vec(),
            Step::Copy(from) => values(from).to_vec(),
            Step::Constant(c) => c.clone(),
            Step::Dense { from, weight, bias, inputs, activation, .. } => {
                let x = values(from);
                bias.iter()
                    .enumerate()
                    .map(|(j, b)| {
                        let sum =
                            b + weight[j * inputs..(j + 1) * inputs].iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
                        activation.map_or(sum, |a| a.eval(sum))
                    })
                    .collect()
            }
            Step::Conv { from, taps, weight, bias, activation } => {
                let x = values(from);
                (0..taps.outputs())
                    .map(|o| {
                        let sum = bias[taps.channel(o)]
                            + taps.of(o).iter().map(|&(i, w)| x[i as usize] * weight[w as usize]).sum::<f64>();
                        activation.map_or(sum, |a| a.eval(sum))
                    })
                    .collect()
            }
            Step::MaxPool { from, windows } => window_maxima(values(from), windows),
            Step::Affine { from, scale, shift, per_channel } => values(from)
                .iter()
                .enumerate()
                .map(|(i, x)| x * scale[i / per_channel] + shift[i / per_channel])
                .collect(),
            Step::Activation { from, activation } => values(from).iter().map(|&x| activation.eval(x)).collect(),
            Step::PRelu { from, slopes, per_channel } => values(from)
                .iter()
                .enumerate()
                .map(|(i, &x)| Activation::LeakyRelu { alpha: slopes[i / per_channel] }.eval(x))
                .collect(),
            Step::Add(a, b) => values(a).iter().zip(values(b)).map(|(x, y)| x + y).collect(),
            Step::Concat(parts) => parts.iter().flat_map(|&p| values(&p).iter().copied()).collect(),
            Step::Quantize { from, ty } => {
                values(from).iter().map(|&x| ty.from_f64(x).map_or(f64::NAN, |code| ty.to_f64(code))).collect()
            }
            Step::Requantize { from, multiplier, per_channel, ty } => {
                requantize(values(from), values(from).len(), multiplier, *per_channel, *ty)
            }
        }
    }

    /// Evaluates a batch of samples laid out one after another, using all cores. Each value
    /// is computed in the same order of operations as `trace` does, so both agree exactly.
    pub fn run(&self, input: &[f64]) -> Vec<f64> {
        let started = Instant::now();
        let input = &self.in_input_units(input);
        let samples = input.len() / self.input_len;
        let mut output = vec![0.0; samples * self.output_len];
        output
            .par_chunks_mut(self.output_len * BLOCK)
            .zip(input.par_chunks(self.input_len * BLOCK))
            .for_each(|(y, x)| y.copy_from_slice(&self.run_block(x)));
        self.usage.samples.fetch_add(samples as u64, Ordering::Relaxed);
        self.usage.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if self.scales.output.is_some() {
            output.iter_mut().for_each(|v| *v = self.scales.output_value(*v));
        }
        output
    }

    /// The input in the units of the input port (codes, where the model quantizes its input
    /// with a scale that is no power of two).
    fn in_input_units<'a>(&self, input: &'a [f64]) -> std::borrow::Cow<'a, [f64]> {
        match self.scales.input {
            None => std::borrow::Cow::Borrowed(input),
            Some(_) => input.iter().map(|&x| self.scales.input_units(x)).collect(),
        }
    }

    /// Floating-point operations done by [`FloatProgram::run`] so far, and the seconds its
    /// calls took, added up over the threads that made them.
    pub fn work_done(&self) -> (f64, f64) {
        let samples = self.usage.samples.load(Ordering::Relaxed) as f64;
        let seconds = self.usage.nanos.load(Ordering::Relaxed) as f64 * 1e-9;
        (2.0 * self.multiply_adds_per_sample() as f64 * samples, seconds)
    }

    /// Up to `BLOCK` samples: dense steps as one product, convolutions output by output over
    /// all samples, the others value by value over the whole block (each value sees the
    /// operations `eval` does).
    fn run_block(&self, input: &[f64]) -> Vec<f64> {
        let samples = input.len() / self.input_len;
        let mut values: Vec<Vec<f64>> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let value = match step {
                Step::Dense { from, weight_by_input, bias, inputs, activation, .. } => with_wide_registers(
                    #[inline(always)]
                    || dense_block(&values[*from], samples, weight_by_input, bias, *inputs, *activation),
                ),
                Step::Conv { from, taps, weight, bias, activation } => with_wide_registers(
                    #[inline(always)]
                    || conv_block(&values[*from], samples, taps, weight, bias, *activation),
                ),
                Step::Input => input.to_vec(),
                Step::Copy(from) => values[*from].clone(),
                Step::Constant(c) => c.repeat(samples),
                Step::Activation { from, activation } => {
                    let mut out = values[*from].clone();
                    with_wide_registers(|| activation.apply(&mut out));
                    out
                }
                Step::Add(a, b) => values[*a].iter().zip(&values[*b]).map(|(x, y)| x + y).collect(),
                Step::Concat(parts) => {
                    let values = &values;
                    let lens = &self.lens;
                    (0..samples)
                        .flat_map(|s| parts.iter().flat_map(move |&p| &values[p][s * lens[p]..(s + 1) * lens[p]]))
                        .copied()
                        .collect()
                }
                Step::Quantize { from, ty } => {
                    values[*from].iter().map(|&x| ty.from_f64(x).map_or(f64::NAN, |code| ty.to_f64(code))).collect()
                }
                Step::Affine { from, scale, shift, per_channel } => {
                    let x = &values[*from];
                    let mut out = Vec::with_capacity(x.len());
                    for sample in x.chunks_exact(self.lens[*from].max(1)) {
                        let channel = |i: usize| i / per_channel;
                        out.extend(sample.iter().enumerate().map(|(i, x)| x * scale[channel(i)] + shift[channel(i)]));
                    }
                    out
                }
                Step::Requantize { from, multiplier, per_channel, ty } => {
                    requantize(&values[*from], self.lens[*from], multiplier, *per_channel, *ty)
                }
                Step::MaxPool { from, windows } => values[*from]
                    .chunks_exact(self.lens[*from].max(1))
                    .flat_map(|x| window_maxima(x, windows))
                    .collect(),
                Step::PRelu { from, slopes, per_channel } => values[*from]
                    .chunks_exact(self.lens[*from].max(1))
                    .flat_map(|x| {
                        x.iter()
                            .enumerate()
                            .map(|(i, &v)| Activation::LeakyRelu { alpha: slopes[i / per_channel] }.eval(v))
                    })
                    .collect(),
            };
            values.push(value);
        }
        values.swap_remove(self.output)
    }
}

/// One sample's window maxima.
fn window_maxima(x: &[f64], windows: &Taps) -> Vec<f64> {
    (0..windows.outputs())
        .map(|o| windows.of(o).iter().map(|&(i, _)| x[i as usize]).fold(f64::NEG_INFINITY, f64::max))
        .collect()
}

/// Samples of `len` values each, multiplied per channel and cast to `ty` where one is declared.
fn requantize(x: &[f64], len: usize, multiplier: &[f64], per_channel: usize, ty: Option<FixedType>) -> Vec<f64> {
    let cast = |v: f64| ty.map_or(v, |t| t.from_f64(v).map_or(f64::NAN, |code| t.to_f64(code)));
    let factor = |i: usize| multiplier[(i / per_channel.max(1)).min(multiplier.len() - 1)];
    x.chunks_exact(len.max(1))
        .flat_map(|sample| sample.iter().enumerate().map(move |(i, &v)| cast(v * factor(i))))
        .collect()
}

/// A row-major matrix of `columns` columns, column by column.
fn transpose(matrix: &[f64], columns: usize) -> Vec<f64> {
    let rows = matrix.len() / columns.max(1);
    (0..columns).flat_map(|c| (0..rows).map(move |r| matrix[r * columns + c])).collect()
}

/// Runs a kernel compiled for AVX2 where the processor has it. The kernels only multiply and
/// add (never fused), lane by lane, so wider registers give the same results bit for bit.
pub fn with_wide_registers<T>(kernel: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        #[inline]
        fn with_avx2<T>(kernel: impl FnOnce() -> T) -> T {
            kernel()
        }
        // SAFETY: the processor has just been found to support AVX2.
        return unsafe { with_avx2(kernel) };
    }
    kernel()
}

/// Rows and outputs one step of the dense kernel keeps in registers: each weight loaded serves
/// `ROWS` rows, each row's input serves `LANES` outputs.
const ROWS: usize = 4;
const LANES: usize = 8;

/// `samples` rows through a dense layer. Each output sums its products in input order from
/// -0.0, as `Iterator::sum` does in `trace`; tiles of `ROWS` x `LANES` sums stay in registers
/// while the inputs go by.
#[inline(always)]
fn dense_block(
    x: &[f64],
    samples: usize,
    weight_by_input: &[f64],
    bias: &[f64],
    inputs: usize,
    activation: Option<Activation>,
) -> Vec<f64> {
    let outputs = bias.len();
    let mut out = vec![-0.0; samples * outputs];
    let tiled_rows = samples / ROWS * ROWS;
    let tiled_outputs = outputs / LANES * LANES;
    for first in (0..tiled_rows).step_by(ROWS) {
        let rows: [&[f64]; ROWS] = std::array::from_fn(|r| &x[(first + r) * inputs..(first + r + 1) * inputs]);
        for lane in (0..tiled_outputs).step_by(LANES) {
            let mut sums = [[-0.0f64; LANES]; ROWS];
            for i in 0..inputs {
                let w = &weight_by_input[i * outputs + lane..i * outputs + lane + LANES];
                for (row_sums, row) in sums.iter_mut().zip(&rows) {
                    for (sum, &wij) in row_sums.iter_mut().zip(w) {
                        *sum += wij * row[i];
                    }
                }
            }
            for (r, row_sums) in sums.iter().enumerate() {
                out[(first + r) * outputs + lane..][..LANES].copy_from_slice(row_sums);
            }
        }
    }
    // What the tiles leave: the outputs past the last whole tile, and the rows after the tiled ones.
    for (index, (row, y)) in x.chunks_exact(inputs).zip(out.chunks_exact_mut(outputs)).enumerate() {
        let from = if index < tiled_rows { tiled_outputs } else { 0 };
        for (&xi, w) in row.iter().zip(weight_by_input.chunks_exact(outputs)) {
            for (acc, &wij) in y[from..].iter_mut().zip(&w[from..]) {
                *acc += wij * xi;
            }
        }
    }
    for y in out.chunks_exact_mut(outputs) {
        for (acc, &b) in y.iter_mut().zip(bias) {
            // Bias first, as `eval` adds them.
            #[allow(clippy::assign_op_pattern)]
            {
                *acc = b + *acc;
            }
        }
    }
    if let Some(activation) = activation {
        activation.apply(&mut out);
    }
    out
}

/// `samples` inputs through a convolution. The block is turned to [input][sample] so that a
/// tap multiplies one contiguous run of samples: the samples' sums proceed side by side, which
/// vectorizes, where one output's sum is a chain of dependent additions. Each output still sums
/// its taps in their order from -0.0, as `Iterator::sum` does in `eval` and `trace`.
#[inline(always)]
fn conv_block(
    x: &[f64],
    samples: usize,
    taps: &Taps,
    weight: &[f64],
    bias: &[f64],
    activation: Option<Activation>,
) -> Vec<f64> {
    let outputs = taps.outputs();
    let by_input = transpose(x, x.len() / samples.max(1));
    let mut out = vec![0.0; samples * outputs];
    let mut sums = vec![-0.0; samples];
    for o in 0..outputs {
        sums.fill(-0.0);
        for &(i, w) in taps.of(o) {
            let (column, w) = (&by_input[i as usize * samples..(i as usize + 1) * samples], weight[w as usize]);
            for (sum, &xi) in sums.iter_mut().zip(column) {
                *sum += xi * w;
            }
        }
        let b = bias[taps.channel(o)];
        #[allow(clippy::assign_op_pattern)]
        sums.iter_mut().for_each(|sum| *sum = b + *sum);
        if let Some(activation) = activation {
            activation.apply(&mut sums);
        }
        for (s, &value) in sums.iter().enumerate() {
            out[s * outputs + o] = value;
        }
    }
    out
}

/// Evaluates `batch` samples of the graph in floating point.
pub fn run_float(graph: &Graph, input: &[f64], batch: usize) -> Result<Vec<f64>> {
    let program = FloatProgram::new(graph)?;
    if input.len() != batch * program.input_len {
        return Err(Error::Data(format!(
            "{} values do not make {batch} samples of {} values",
            input.len(),
            program.input_len
        )));
    }
    Ok(program.run(input))
}
