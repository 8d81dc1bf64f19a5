//! The operators of the dataflow IR. Shapes never include the batch dimension: every
//! tensor is one sample, laid out row-major (channels first for images, as in ONNX).

use super::{Taps, Tensor};
use crate::fixed::FixedType;

/// An elementwise activation. Relu and LeakyRelu may be fused into a linear layer;
/// Sigmoid and Tanh become lookup tables in hardware, Elu, Selu and Softplus tables with a
/// linear side where they grow without bound; Clip (HardTanh, ReLU6) is a layer of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu {
        alpha: f64,
    },
    Sigmoid,
    Tanh,
    /// Values below `min` become `min`, above `max` become `max` (either may be infinite).
    Clip {
        min: f64,
        max: f64,
    },
    /// x where x > 0, alpha * (e^x - 1) elsewhere.
    Elu {
        alpha: f64,
    },
    /// gamma * elu_alpha(x).
    Selu {
        alpha: f64,
        gamma: f64,
    },
    /// ln(1 + e^x).
    Softplus,
}

impl Activation {
    /// Piecewise-linear activations commute with a final rounding step, so they can be
    /// applied to a linear layer's exact accumulator.
    pub fn is_fusable(self) -> bool {
        matches!(self, Activation::Relu | Activation::LeakyRelu { .. })
    }

    pub fn eval(self, x: f64) -> f64 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    x * alpha
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::Clip { min, max } => x.clamp(min, max),
            Activation::Elu { alpha } => elu(x, alpha),
            Activation::Selu { alpha, gamma } => gamma * elu(x, alpha),
            // Written so that neither side overflows: max(x, 0) + ln(1 + e^-|x|).
            Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        }
    }
}

impl Activation {
    /// [`Activation::eval`] on every value, in place: the kind matched once, so that the
    /// piecewise-linear kinds become loops the compiler vectorizes.
    #[inline(always)]
    pub fn apply(self, values: &mut [f64]) {
        match self {
            Activation::Relu => values.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::LeakyRelu { alpha } => {
                values.iter_mut().for_each(|x| *x = if *x >= 0.0 { *x } else { *x * alpha })
            }
            Activation::Clip { min, max } => values.iter_mut().for_each(|x| *x = x.clamp(min, max)),
            _ => values.iter_mut().for_each(|x| *x = self.eval(*x)),
        }
    }
}

fn elu(x: f64, alpha: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        alpha * x.exp_m1()
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu { alpha } => write!(f, "leaky_relu(alpha={alpha})"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Clip { min, max } => write!(f, "clip(min={min}, max={max})"),
            Activation::Elu { alpha } => write!(f, "elu(alpha={alpha})"),
            Activation::Selu { alpha, gamma } => write!(f, "selu(alpha={alpha}, gamma={gamma})"),
            Activation::Softplus => write!(f, "softplus"),
        }
    }
}

/// y = act(W x + b) on a flat vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Shape [out, in].
    pub weight: Tensor,
    /// One value per output.
    pub bias: Vec<f64>,
    pub activation: Option<Activation>,
}

impl Dense {
    pub fn inputs(&self) -> usize {
        self.weight.shape[1]
    }

    pub fn outputs(&self) -> usize {
        self.weight.shape[0]
    }
}

/// Geometry of a convolution over 1, 2 or 3 spatial dimensions (groups = 1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConvGeometry {
    pub kernel: Vec<usize>,
    pub stride: Vec<usize>,
    pub dilation: Vec<usize>,
    /// Padding at the start and at the end of each spatial dimension.
    pub padding: Vec<(usize, usize)>,
    /// Extra rows/columns at the end of a transposed convolution's output.
    pub output_padding: Vec<usize>,
}

impl ConvGeometry {
    /// The convolution of this geometry over `channels` channels that pairs each channel with
    /// itself, every tap 1: the windows of a pool.
    pub fn window_conv(&self, channels: usize) -> Conv {
        Channelwise { tap: 1.0, geometry: self.clone(), transposed: false }.as_conv(channels)
    }

    /// Each output's inputs, for an input of per-sample shape [channels, spatial...]: the taps
    /// of [`ConvGeometry::window_conv`] without the zero ones (a max pool's windows).
    pub fn windows(&self, input: &[usize]) -> Taps {
        let conv = self.window_conv(input[0]);
        let all = conv.taps(input);
        let (mut starts, mut entries) = (vec![0], Vec::with_capacity(all.entries.len() / input[0].max(1)));
        for o in 0..all.outputs() {
            entries.extend(all.of(o).iter().filter(|&&(_, w)| conv.weight.data[w as usize] != 0.0));
            starts.push(entries.len());
        }
        Taps { starts, entries, per_channel: all.per_channel }
    }
}

/// Convolution (cross-correlation, as ONNX Conv) or transposed convolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    pub transposed: bool,
    /// Conv: [c_out, c_in, k...]; ConvTranspose: [c_in, c_out, k...] as in ONNX.
    pub weight: Tensor,
    /// One value per output channel.
    pub bias: Vec<f64>,
    pub geometry: ConvGeometry,
    pub activation: Option<Activation>,
}

impl Conv {
    pub fn in_channels(&self) -> usize {
        if self.transposed {
            self.weight.shape[0]
        } else {
            self.weight.shape[1]
        }
    }

    pub fn out_channels(&self) -> usize {
        if self.transposed {
            self.weight.shape[1]
        } else {
            self.weight.shape[0]
        }
    }

    pub fn spatial_dims(&self) -> usize {
        self.geometry.kernel.len()
    }

    /// The output extent of each spatial dimension for the given input extents.
    pub fn output_extent(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let g = &self.geometry;
        input
            .iter()
            .enumerate()
            .map(|(d, &n)| {
                let span = g.dilation[d] * (g.kernel[d] - 1) + 1;
                let (pad_begin, pad_end) = g.padding[d];
                if self.transposed {
                    let full = (n - 1) * g.stride[d] + span + g.output_padding[d];
                    full.checked_sub(pad_begin + pad_end).filter(|&e| e > 0).ok_or_else(|| {
                        format!("padding {pad_begin}+{pad_end} removes the whole output of extent {full}")
                    })
                } else {
                    let padded = n + pad_begin + pad_end;
                    if padded < span {
                        Err(format!("kernel span {span} exceeds the padded input extent {padded}"))
                    } else {
                        Ok((padded - span) / g.stride[d] + 1)
                    }
                }
            })
            .collect()
    }
}

/// The same window over each channel alone: an average pool (every tap `1 / window size`) or
/// a nearest-neighbour upsampling by whole factors (a transposed window of ones, its kernel
/// and stride the factors). Shape inference turns it into a [`Conv`] that pairs each channel
/// with itself once it knows the channel count, so every later stage sees a convolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Channelwise {
    pub tap: f64,
    pub geometry: ConvGeometry,
    pub transposed: bool,
}

impl Channelwise {
    /// An average pool over `geometry`'s window.
    pub fn average_pool(geometry: ConvGeometry) -> Channelwise {
        let tap = 1.0 / geometry.kernel.iter().product::<usize>() as f64;
        Channelwise { tap, geometry, transposed: false }
    }

    /// Nearest-neighbour upsampling by `factors`, one per spatial dimension.
    pub fn upsample(factors: &[usize]) -> Channelwise {
        let geometry = ConvGeometry {
            kernel: factors.to_vec(),
            stride: factors.to_vec(),
            dilation: vec![1; factors.len()],
            padding: vec![(0, 0); factors.len()],
            output_padding: vec![0; factors.len()],
        };
        Channelwise { tap: 1.0, geometry, transposed: true }
    }

    /// The convolution over `channels` channels: weight `tap` from a channel to itself, 0
    /// between channels, no bias.
    pub fn as_conv(&self, channels: usize) -> Conv {
        let window: usize = self.geometry.kernel.iter().product();
        let mut weight = vec![0.0; channels * channels * window];
        for c in 0..channels {
            let start = (c * channels + c) * window;
            weight[start..start + window].iter_mut().for_each(|w| *w = self.tap);
        }
        let shape = [vec![channels, channels], self.geometry.kernel.clone()].concat();
        Conv {
            transposed: self.transposed,
            weight: Tensor::new(shape, weight),
            bias: vec![0.0; channels],
            geometry: self.geometry.clone(),
            activation: None,
        }
    }
}

/// What a [`Pool`] takes of each window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    /// The mean; with `count_include_pad` the window's positions in the explicit padding count
    /// towards its size (never those past it, which only ceil_mode adds).
    Average {
        count_include_pad: bool,
    },
}

/// An ONNX pool whose border windows can hold fewer values than the kernel: ceil_mode=1, or an
/// average over padding that does not count. Shape inference makes it a max pool or an average
/// pool of equal windows where it can; an average whose windows differ stays, and is quantized
/// as a convolution whose taps at the border are 1 over their own window's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub kind: PoolKind,
    pub geometry: ConvGeometry,
    /// Output extents rounded up: a last window may start in the input and run past it.
    pub ceil_mode: bool,
}

impl Pool {
    /// The output extent of each spatial dimension. As ONNX and PyTorch do, a window that
    /// ceil_mode would start past the input and its begin padding is dropped.
    pub fn output_extent(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let g = &self.geometry;
        input
            .iter()
            .enumerate()
            .map(|(d, &n)| {
                let span = g.dilation[d] * (g.kernel[d] - 1) + 1;
                let (begin, end) = g.padding[d];
                let padded = n + begin + end;
                if padded < span {
                    return Err(format!("kernel span {span} exceeds the padded input extent {padded}"));
                }
                let steps = padded - span;
                let mut extent = if self.ceil_mode { steps.div_ceil(g.stride[d]) } else { steps / g.stride[d] } + 1;
                if self.ceil_mode && (extent - 1) * g.stride[d] >= n + begin {
                    extent -= 1;
                }
                Ok(extent)
            })
            .collect()
    }

    /// The same windows without ceil_mode: the end padding grown until the last window fits.
    pub fn floor_geometry(&self, input: &[usize]) -> Result<ConvGeometry, String> {
        let extent = self.output_extent(input)?;
        let mut g = self.geometry.clone();
        for (d, &n) in input.iter().enumerate() {
            let span = g.dilation[d] * (g.kernel[d] - 1) + 1;
            let needed = (extent[d] - 1) * g.stride[d] + span;
            let padded = n + g.padding[d].0 + g.padding[d].1;
            g.padding[d].1 += needed.saturating_sub(padded);
        }
        Ok(g)
    }

    /// How many positions of each output's window count towards its mean, for an input of
    /// spatial extents `input`, outputs in row-major order.
    pub fn window_sizes(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let g = &self.geometry;
        let include_pad = matches!(self.kind, PoolKind::Average { count_include_pad: true });
        let per_dim: Vec<Vec<usize>> = self
            .output_extent(input)?
            .iter()
            .enumerate()
            .map(|(d, &extent)| {
                let (n, (begin, end)) = (input[d] as isize, g.padding[d]);
                (0..extent as isize)
                    .map(|o| {
                        let start = o * g.stride[d] as isize - begin as isize;
                        let stop = start + g.kernel[d] as isize;
                        let counted =
                            if include_pad { stop.min(n + end as isize) - start } else { stop.min(n) - start.max(0) };
                        counted.max(0) as usize
                    })
                    .collect()
            })
            .collect();
        Ok(per_dim
            .iter()
            .fold(vec![1], |sizes, dim| sizes.iter().flat_map(|&s| dim.iter().map(move |&c| s * c)).collect()))
    }

    /// An average pool as taps over `input` ([channels, spatial...]) and the weights they
    /// index: one over each distinct window size. None when the windows differ in no size
    /// from the kernel's, where it is a plain average pool.
    pub fn border_average(&self, input: &[usize]) -> Result<Option<(Taps, Vec<f64>)>, String> {
        let sizes = self.window_sizes(&input[1..])?;
        let full: usize = self.geometry.kernel.iter().product();
        if sizes.iter().all(|&s| s == full) {
            return Ok(None);
        }
        if let Some(empty) = sizes.iter().position(|&s| s == 0) {
            return Err(format!("window {empty} of the pool covers no value"));
        }
        let mut distinct: Vec<usize> = sizes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let windows = self.floor_geometry(&input[1..])?.windows(input);
        let per_channel = sizes.len();
        let entries = (0..windows.outputs())
            .flat_map(|o| {
                let weight = distinct.binary_search(&sizes[o % per_channel]).expect("listed") as u32;
                windows.of(o).iter().map(move |&(i, _)| (i, weight))
            })
            .collect();
        let taps = Taps { starts: windows.starts.clone(), entries, per_channel: windows.per_channel };
        Ok(Some((taps, distinct.iter().map(|&s| 1.0 / s as f64).collect())))
    }
}

/// Inference-time batch normalization, kept as y = x * scale + shift per channel
/// (channel = first per-sample axis).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    pub scale: Vec<f64>,
    pub shift: Vec<f64>,
}

impl BatchNorm {
    /// The map over `channels` channels: itself, or one value (a tensor times, over, plus or
    /// minus a single constant) repeated; None for another channel count.
    pub fn for_channels(&self, channels: usize) -> Option<BatchNorm> {
        match self.scale.len() {
            n if n == channels => Some(self.clone()),
            1 => Some(BatchNorm { scale: vec![self.scale[0]; channels], shift: vec![self.shift[0]; channels] }),
            _ => None,
        }
    }

    /// This map, then `next`: one map, `next.scale * (scale * x + shift) + next.shift`.
    pub fn then(&self, next: &BatchNorm) -> Option<BatchNorm> {
        let channels = self.scale.len().max(next.scale.len());
        let (first, second) = (self.for_channels(channels)?, next.for_channels(channels)?);
        let scale = first.scale.iter().zip(&second.scale).map(|(a, b)| a * b).collect();
        let shift = first.shift.iter().zip(&second.scale).zip(&second.shift).map(|((t, s), u)| t * s + u).collect();
        Some(BatchNorm { scale, shift })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A graph input with its per-sample shape.
    Input {
        shape: Vec<usize>,
    },
    /// A graph output; its one operand is the tensor it names.
    Output,
    Constant(Tensor),
    Dense(Dense),
    Conv(Conv),
    /// Becomes a `Conv` in shape inference.
    Channelwise(Channelwise),
    /// The largest value of a window over each channel alone (padding never wins).
    MaxPool(ConvGeometry),
    /// A pool with border windows of their own sizes (ceil_mode, or padding that an average
    /// does not count).
    Pool(Pool),
    BatchNorm(BatchNorm),
    Activation(Activation),
    /// Reshape to an ONNX shape that includes the batch dimension first
    /// (0 copies an input extent, -1 is inferred).
    Reshape {
        shape: Vec<i64>,
    },
    /// ONNX Flatten at `axis` (axis 1 keeps the batch and flattens each sample).
    Flatten {
        axis: usize,
    },
    /// ONNX Transpose (the batch axis first in `perm`); shape inference makes one that only
    /// moves axes of extent 1 the reshape it is, and refuses any other.
    Transpose {
        perm: Vec<usize>,
    },
    /// Zeros before and after each spatial axis; `fold-pad` makes it the padding of the
    /// convolution or average pool that follows, and refuses any other.
    Pad {
        pads: Vec<(usize, usize)>,
    },
    /// MatMul with a constant right operand, before constant folding makes it Dense.
    MatMul,
    /// Elementwise addition: a constant one folds into the bias of the linear layer before
    /// it; one of two run-time tensors of the same shape (a skip connection) stays.
    Add,
    /// Run-time tensors joined along `axis` (the batch axis is 0); shape inference accepts the
    /// channel axis (1) only, along which the parts' codes lie one after another.
    Concat {
        axis: usize,
    },
    Identity,
    Dropout,
    /// A cast to a fixed-point type that the model itself declares (a quantization node on a
    /// run-time tensor). `fold-quantize` moves it into the type of the tensor's producer.
    Quantize(FixedType),
    /// A multiply by a fixed-point factor per channel, rounded to the node's declared result
    /// type: a quantizer whose scale is no power of two, on a tensor of integer codes.
    Requantize(super::Requantize),
    /// PReLU with a slope per channel (one slope for all is a LeakyReLU activation):
    /// y = x where x >= 0, x * slopes[c] elsewhere, c the channel (axis 0 of a sample).
    PRelu {
        slopes: Vec<f64>,
    },
}

impl Op {
    /// A short lowercase name for dumps and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Output => "output",
            Op::Constant(_) => "constant",
            Op::Dense(_) => "dense",
            Op::Conv(c) if c.transposed => "conv_transpose",
            Op::Conv(_) => "conv",
            Op::Channelwise(c) if c.transposed => "upsample",
            Op::Channelwise(_) => "average_pool",
            Op::MaxPool(_) => "max_pool",
            Op::Pool(Pool { kind: PoolKind::Max, .. }) => "max_pool",
            Op::Pool(_) => "average_pool",
            Op::BatchNorm(_) => "batch_norm",
            Op::Activation(_) => "activation",
            Op::Reshape { .. } => "reshape",
            Op::Flatten { .. } => "flatten",
            Op::Transpose { .. } => "transpose",
            Op::Pad { .. } => "pad",
            Op::MatMul => "matmul",
            Op::Add => "add",
            Op::Concat { .. } => "concat",
            Op::Identity => "identity",
            Op::Dropout => "dropout",
            Op::Quantize(_) => "quantize",
            Op::Requantize(_) => "requantize",
            Op::PRelu { .. } => "prelu",
        }
    }

    /// A layer with weights, whose outputs are a weighted sum of its inputs.
    pub fn is_linear(&self) -> bool {
        matches!(self, Op::Dense(_) | Op::Conv(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(kind: PoolKind, kernel: usize, stride: usize, pad: usize, ceil_mode: bool) -> Pool {
        let geometry = ConvGeometry {
            kernel: vec![kernel],
            stride: vec![stride],
            dilation: vec![1],
            padding: vec![(pad, pad)],
            output_padding: vec![0],
        };
        Pool { kind, geometry, ceil_mode }
    }

    #[test]
    fn ceil_mode_rounds_up_but_drops_a_window_starting_past_the_input() {
        let max = |k, s, p, n| pool(PoolKind::Max, k, s, p, true).output_extent(&[n]).unwrap()[0];
        assert_eq!(max(3, 2, 0, 8), 4, "the last window starts at 6 and runs past 8");
        assert_eq!(max(2, 2, 0, 8), 4, "windows that fit: as without ceil_mode");
        assert_eq!(max(1, 2, 0, 4), 2, "a third window would start at 4, past the input");
        assert_eq!(pool(PoolKind::Max, 3, 2, 0, false).output_extent(&[8]).unwrap(), [3]);
    }

    #[test]
    fn border_windows_count_what_onnx_counts() {
        let average = |include_pad| PoolKind::Average { count_include_pad: include_pad };
        // 4 -> 3 with pads 1: windows [-1, 2), [1, 4), [3, 6); 5 is past the padding.
        assert_eq!(pool(average(true), 3, 2, 1, true).window_sizes(&[4]).unwrap(), [3, 3, 2]);
        assert_eq!(pool(average(false), 3, 2, 1, true).window_sizes(&[4]).unwrap(), [2, 3, 1]);
        // Without ceil_mode, counting the padding: every window is whole, a plain average pool.
        let plain = pool(average(true), 3, 1, 1, false);
        assert_eq!(plain.border_average(&[1, 4]).unwrap(), None);
        let (taps, weights) = pool(average(false), 3, 1, 1, false).border_average(&[1, 4]).unwrap().unwrap();
        // Sizes 2, 3, 3, 2: one weight for each size, 1/2 and 1/3.
        assert_eq!(weights, [0.5, 1.0 / 3.0]);
        assert_eq!(taps.of(0), &[(0, 0), (1, 0)]);
        assert_eq!(taps.of(1), &[(0, 1), (1, 1), (2, 1)]);
    }
}
