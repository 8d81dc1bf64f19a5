//! Turns onnx-ir's typed nodes into IR operators, reading weights out of the constants.

use super::names::OriginalNode;
use crate::ir::{Activation, BatchNorm, Channelwise, Conv, ConvGeometry, Dense, Op, Pool, PoolKind, Tensor};
use crate::{Error, Result};
use onnx_ir::node::padding::{AutoPad, PaddingConfig1d, PaddingConfig2d, PaddingConfig3d};
use onnx_ir::{Argument, Node, TensorDataExt};

pub const SUPPORTED: &str = "Gemm, MatMul, Add (of a constant, or of two tensors of one shape), \
Concat (of run-time tensors along the channel axis), Mul, Sub and Div by a constant, Relu, LeakyRelu, \
PRelu (one slope or one per channel), Sigmoid, Tanh, Elu, Selu, Softplus, Clip, BatchNormalization, Conv and ConvTranspose (1-D, 2-D, 3-D), \
AveragePool and MaxPool (1-D, 2-D, 3-D; ceil_mode and count_include_pad too), Resize and Upsample (nearest, whole factors, by scales or sizes), \
Pad (zeros, before a convolution or pool), Transpose (of axes of extent 1), Flatten, Reshape, Identity, Dropout, \
Constant";

/// The IR operator for one onnx-ir node, and which of its inputs carry run-time data.
pub struct Converted {
    pub op: Op,
    pub dynamic_inputs: Vec<usize>,
}

impl Converted {
    fn unary(op: Op) -> Self {
        Converted { op, dynamic_inputs: vec![0] }
    }
}

/// A transposed convolution's geometry from ONNX's per-axis lists (both ends of an axis are
/// padded alike).
fn transposed_geometry(
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
    padding: &[usize],
    output_padding: &[usize],
) -> ConvGeometry {
    ConvGeometry {
        kernel: kernel.to_vec(),
        stride: stride.to_vec(),
        dilation: dilation.to_vec(),
        padding: padding.iter().map(|&p| (p, p)).collect(),
        output_padding: output_padding.to_vec(),
    }
}

pub fn convert(node: &Node, original: &OriginalNode) -> Result<Converted> {
    let ctx = Context { original };
    let inputs = node.inputs();
    let converted = match node {
        Node::Constant(c) => {
            let arg = c.outputs.first().filter(|a| a.value().is_some()).or(c.inputs.first());
            Converted {
                op: Op::Constant(ctx.constant(arg.expect("a constant has a value"), "value")?),
                dynamic_inputs: vec![],
            }
        }
        Node::Linear(n) => {
            let weight = ctx.constant(&n.inputs[1], "weight")?;
            ctx.rank(&weight, 2, "weight")?;
            // Gemm-sourced weights are [out, in] already; MatMul-sourced ones are [in, out].
            let weight = if n.config.transpose_weight { weight } else { weight.transposed() };
            let bias = ctx.bias(inputs.get(2), weight.shape[0])?;
            Converted::unary(Op::Dense(Dense { weight, bias, activation: None }))
        }
        Node::Gemm(n) => {
            let c = &n.config;
            if c.trans_a != 0 {
                return Err(ctx.unsupported("transA=1 (a transposed run-time operand)"));
            }
            let b = ctx.constant(&n.inputs[1], "B")?;
            ctx.rank(&b, 2, "B")?;
            let mut weight = if c.trans_b != 0 { b } else { b.transposed() };
            weight.data.iter_mut().for_each(|w| *w *= c.alpha as f64);
            let mut bias = ctx.bias(inputs.get(2), weight.shape[0])?;
            bias.iter_mut().for_each(|b| *b *= c.beta as f64);
            Converted::unary(Op::Dense(Dense { weight, bias, activation: None }))
        }
        Node::MatMul(n) => {
            let weight = ctx
                .constant(&n.inputs[1], "B")
                .map_err(|_| ctx.unsupported("its second operand is not a constant weight matrix"))?;
            ctx.rank(&weight, 2, "B")?;
            let bias = vec![0.0; weight.shape[1]];
            Converted::unary(Op::Dense(Dense { weight: weight.transposed(), bias, activation: None }))
        }
        Node::Add(_) => Converted { op: Op::Add, dynamic_inputs: vec![0, 1] },
        Node::Concat(n) => ctx.concat(&n.inputs, n.config.axis)?,
        Node::Mul(n) => ctx.with_constant(&n.inputs, Arithmetic::Times)?,
        Node::Div(n) => ctx.with_constant(&n.inputs, Arithmetic::Over)?,
        Node::Sub(n) => ctx.with_constant(&n.inputs, Arithmetic::Minus)?,
        Node::Relu(_) => Converted::unary(Op::Activation(Activation::Relu)),
        Node::LeakyRelu(n) => Converted::unary(Op::Activation(Activation::LeakyRelu { alpha: n.config.alpha })),
        Node::PRelu(n) => Converted::unary(ctx.prelu(&n.inputs)?),
        Node::Elu(n) => Converted::unary(Op::Activation(Activation::Elu { alpha: n.config.alpha })),
        Node::Selu(n) => {
            Converted::unary(Op::Activation(Activation::Selu { alpha: n.config.alpha, gamma: n.config.gamma }))
        }
        Node::Softplus(_) => Converted::unary(Op::Activation(Activation::Softplus)),
        Node::Sigmoid(_) => Converted::unary(Op::Activation(Activation::Sigmoid)),
        Node::Tanh(_) => Converted::unary(Op::Activation(Activation::Tanh)),
        Node::Clip(n) => Converted::unary(Op::Activation(ctx.clip(&n.config)?)),
        Node::BatchNormalization(n) => Converted::unary(Op::BatchNorm(ctx.batch_norm(&n.inputs, &n.config)?)),
        Node::Conv1d(n) => {
            let c = &n.config;
            ctx.plain_conv(c.groups, &c.auto_pad)?;
            let geometry = window_geometry(&[c.kernel_size], &[c.stride], &[c.dilation], pads_1d(&c.padding));
            Converted::unary(Op::Conv(ctx.conv(&n.inputs, geometry, false)?))
        }
        Node::Conv2d(n) => {
            let c = &n.config;
            ctx.plain_conv(c.groups, &c.auto_pad)?;
            let geometry = window_geometry(&c.kernel_size, &c.stride, &c.dilation, pads_2d(&c.padding));
            Converted::unary(Op::Conv(ctx.conv(&n.inputs, geometry, false)?))
        }
        Node::Conv3d(n) => {
            let c = &n.config;
            ctx.plain_conv(c.groups, &c.auto_pad)?;
            let geometry = window_geometry(&c.kernel_size, &c.stride, &c.dilation, pads_3d(&c.padding));
            Converted::unary(Op::Conv(ctx.conv(&n.inputs, geometry, false)?))
        }
        Node::ConvTranspose1d(n) => {
            let c = &n.config;
            ctx.plain_conv(c.groups, &c.auto_pad)?;
            ctx.no_output_shape(c.output_shape.is_some())?;
            let geometry = ConvGeometry {
                kernel: vec![c.kernel_size],
                stride: vec![c.stride],
                dilation: vec![c.dilation],
                padding: vec![(c.padding, c.padding)],
                output_padding: vec![c.padding_out],
            };
            Converted::unary(Op::Conv(ctx.conv(&n.inputs, geometry, true)?))
        }
        Node::ConvTranspose2d(n) => {
            let c = &n.config;
            ctx.plain_conv(c.groups, &c.auto_pad)?;
            ctx.no_output_shape(c.output_shape.is_some())?;
            let geometry = transposed_geometry(&c.kernel_size, &c.stride, &c.dilation, &c.padding, &c.padding_out);
            Converted::unary(Op::Conv(ctx.conv(&n.inputs, geometry, true)?))
        }
        Node::ConvTranspose3d(n) => {
            let c = &n.config;
            ctx.plain_conv(c.groups, &c.auto_pad)?;
            ctx.no_output_shape(c.output_shape.is_some())?;
            let geometry = transposed_geometry(&c.kernel_size, &c.stride, &c.dilation, &c.padding, &c.padding_out);
            Converted::unary(Op::Conv(ctx.conv(&n.inputs, geometry, true)?))
        }
        Node::AveragePool1d(n) => {
            let c = &n.config;
            let geometry = window_geometry(&[c.kernel_size], &[c.stride], &[c.dilation], pads_1d(&c.padding));
            Converted::unary(ctx.average_pool(geometry, c.count_include_pad, c.ceil_mode, &c.auto_pad)?)
        }
        Node::AveragePool2d(n) => {
            let c = &n.config;
            let geometry = window_geometry(&c.kernel_size, &c.strides, &c.dilation, pads_2d(&c.padding));
            Converted::unary(ctx.average_pool(geometry, c.count_include_pad, c.ceil_mode, &c.auto_pad)?)
        }
        Node::AveragePool3d(n) => {
            let c = &n.config;
            let geometry = window_geometry(&c.kernel_size, &c.strides, &c.dilation, pads_3d(&c.padding));
            Converted::unary(ctx.average_pool(geometry, c.count_include_pad, c.ceil_mode, &c.auto_pad)?)
        }
        Node::MaxPool1d(n) => {
            let c = &n.config;
            let geometry = window_geometry(&[c.kernel_size], &[c.stride], &[c.dilation], pads_1d(&c.padding));
            Converted::unary(ctx.max_pool(geometry, c.ceil_mode, &c.auto_pad)?)
        }
        Node::MaxPool2d(n) => {
            let c = &n.config;
            let geometry = window_geometry(&c.kernel_size, &c.strides, &c.dilation, pads_2d(&c.padding));
            Converted::unary(ctx.max_pool(geometry, c.ceil_mode, &c.auto_pad)?)
        }
        Node::MaxPool3d(n) => {
            let c = &n.config;
            let geometry = window_geometry(&c.kernel_size, &c.strides, &c.dilation, pads_3d(&c.padding));
            Converted::unary(ctx.max_pool(geometry, c.ceil_mode, &c.auto_pad)?)
        }
        Node::Resize(n) | Node::Upsample(n) => Converted::unary(ctx.upsample(&n.inputs, &n.config)?),
        Node::Flatten(n) => Converted::unary(Op::Flatten { axis: n.config.axis }),
        Node::Transpose(n) => {
            let rank = n.inputs[0].ty.rank() as i64;
            let perm: Option<Vec<usize>> =
                n.config.perm.iter().map(|&a| usize::try_from(if a < 0 { a + rank } else { a }).ok()).collect();
            Converted::unary(Op::Transpose { perm: perm.ok_or_else(|| ctx.unsupported("its perm is out of range"))? })
        }
        Node::Pad(n) => Converted::unary(ctx.pad(&n.config)?),
        Node::Reshape(n) => match &n.config.shape {
            onnx_ir::node::reshape::ReshapeInput::Static(shape) => {
                Converted::unary(Op::Reshape { shape: shape.clone() })
            }
            onnx_ir::node::reshape::ReshapeInput::Runtime(_) => {
                return Err(ctx.unsupported("its target shape is only known at run time"))
            }
        },
        Node::Identity(_) => Converted::unary(Op::Identity),
        Node::Dropout(_) => Converted::unary(Op::Dropout),
        _ => {
            return Err(Error::unsupported(
                original.qualified_op_type(),
                &original.name,
                format!("the operator is not supported (supported: {SUPPORTED})"),
            ))
        }
    };
    Ok(converted)
}

/// Each spatial axis's (begin, end) padding.
fn pads_1d(padding: &PaddingConfig1d) -> Vec<(usize, usize)> {
    match *padding {
        PaddingConfig1d::Valid => vec![(0, 0)],
        PaddingConfig1d::Explicit(begin, end) => vec![(begin, end)],
    }
}

fn pads_2d(padding: &PaddingConfig2d) -> Vec<(usize, usize)> {
    match *padding {
        PaddingConfig2d::Valid => vec![(0, 0); 2],
        PaddingConfig2d::Explicit(top, left, bottom, right) => vec![(top, bottom), (left, right)],
    }
}

fn pads_3d(padding: &PaddingConfig3d) -> Vec<(usize, usize)> {
    match *padding {
        PaddingConfig3d::Valid => vec![(0, 0); 3],
        PaddingConfig3d::Explicit(front, top, left, back, bottom, right) => {
            vec![(front, back), (top, bottom), (left, right)]
        }
    }
}

/// A convolution's or pooling window's geometry (no output padding).
fn window_geometry(
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
    padding: Vec<(usize, usize)>,
) -> ConvGeometry {
    ConvGeometry {
        kernel: kernel.to_vec(),
        stride: stride.to_vec(),
        dilation: dilation.to_vec(),
        output_padding: vec![0; kernel.len()],
        padding,
    }
}

/// A run-time tensor and a constant combined elementwise.
#[derive(Clone, Copy)]
enum Arithmetic {
    Times,
    Over,
    Minus,
}

struct Context<'a> {
    original: &'a OriginalNode,
}

impl Context<'_> {
    fn unsupported(&self, what: impl Into<String>) -> Error {
        Error::unsupported(self.original.qualified_op_type(), &self.original.name, what)
    }

    fn constant(&self, arg: &Argument, role: &str) -> Result<Tensor> {
        let data = arg.value().ok_or_else(|| self.unsupported(format!("its {role} is not a constant")))?;
        let shape: Vec<usize> = data.shape().iter().copied().collect();
        let values =
            data.to_f64_vec().map_err(|e| self.unsupported(format!("its {role} has unreadable data ({e:?})")))?;
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(self.unsupported(format!("its {role} holds {} at index {bad}", values[bad])));
        }
        Ok(Tensor::new(shape, values))
    }

    fn rank(&self, tensor: &Tensor, rank: usize, role: &str) -> Result<()> {
        if tensor.shape.len() == rank {
            Ok(())
        } else {
            Err(self.unsupported(format!("its {role} has shape {:?}, expected rank {rank}", tensor.shape)))
        }
    }

    /// A per-output bias, broadcast from a scalar if need be; zeros when absent.
    fn bias(&self, arg: Option<&Argument>, outputs: usize) -> Result<Vec<f64>> {
        let Some(arg) = arg.filter(|a| !a.is_optional()) else {
            return Ok(vec![0.0; outputs]);
        };
        let bias = self.constant(arg, "bias")?;
        match bias.len() {
            n if n == outputs => Ok(bias.data),
            1 => Ok(vec![bias.data[0]; outputs]),
            n => Err(self.unsupported(format!("its bias has {n} values for {outputs} outputs"))),
        }
    }

    fn batch_norm(
        &self,
        inputs: &[Argument],
        config: &onnx_ir::node::batch_norm::BatchNormConfig,
    ) -> Result<BatchNorm> {
        use onnx_ir::node::batch_norm::BatchNormConfig;
        let epsilon = match config {
            BatchNormConfig::Static(c) => c.epsilon,
            BatchNormConfig::Runtime(c) => c.epsilon,
        };
        let gamma = self.constant(&inputs[1], "scale")?.data;
        let beta = self.constant(&inputs[2], "bias")?.data;
        let mean = self.constant(&inputs[3], "mean")?.data;
        let var = self.constant(&inputs[4], "variance")?.data;
        let scale: Vec<f64> = gamma.iter().zip(&var).map(|(g, v)| g / (v + epsilon).sqrt()).collect();
        let shift = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        Ok(BatchNorm { scale, shift })
    }

    /// `x * c`, `x / c`, `x - c` or `c - x` (and `c * x`) with a constant `c` of one value
    /// or one per channel: a per-channel affine map, which folds into a neighbouring linear
    /// layer or becomes an affine layer of its own.
    fn with_constant(&self, inputs: &[Argument], arithmetic: Arithmetic) -> Result<Converted> {
        let (x, constant_first) = match (inputs[0].value().is_some(), inputs[1].value().is_some()) {
            (false, true) => (0, false),
            (true, false) => (1, true),
            _ => return Err(self.unsupported("it needs one run-time operand and one constant")),
        };
        let c = self.constant(&inputs[1 - x], "constant operand")?;
        let values = self.per_channel(&c, inputs[x].ty.rank())?;
        let (ones, zeros) = (vec![1.0; values.len()], vec![0.0; values.len()]);
        let (scale, shift) = match (arithmetic, constant_first) {
            (Arithmetic::Times, _) => (values, zeros),
            (Arithmetic::Over, false) => {
                if let Some(zero) = values.iter().position(|&v| v == 0.0) {
                    return Err(self.unsupported(format!("it divides by zero (value {zero} of its divisor)")));
                }
                (values.iter().map(|v| 1.0 / v).collect(), zeros)
            }
            (Arithmetic::Over, true) => return Err(self.unsupported("it divides a constant by a run-time tensor")),
            (Arithmetic::Minus, false) => (ones, values.iter().map(|v| -v).collect()),
            (Arithmetic::Minus, true) => (values.iter().map(|_| -1.0).collect(), values),
        };
        Ok(Converted { op: Op::BatchNorm(BatchNorm { scale, shift }), dynamic_inputs: vec![x] })
    }

    /// A constant's values as one per channel (axis 1 of a tensor of `rank` axes, the batch
    /// first) or a single one, its shape aligned to the tensor's from the right as ONNX
    /// broadcasting does.
    fn per_channel(&self, c: &Tensor, rank: usize) -> Result<Vec<f64>> {
        if c.len() == 1 {
            return Ok(c.data.clone());
        }
        let leading = rank.checked_sub(c.shape.len());
        let varies = |axis: usize| leading.is_some_and(|l| axis >= l && c.shape[axis - l] != 1);
        match (0..rank).filter(|&axis| varies(axis)).collect::<Vec<_>>()[..] {
            [1] => Ok(c.data.clone()),
            _ => Err(self.unsupported(format!(
                "its constant of shape {:?} holds neither one value nor one per channel of a rank-{rank} tensor",
                c.shape
            ))),
        }
    }

    /// A concatenation of run-time tensors (a skip connection joining two branches); onnx-ir
    /// gives the axis counted from the front, the batch axis 0.
    fn concat(&self, inputs: &[Argument], axis: usize) -> Result<Converted> {
        if inputs.len() < 2 {
            return Err(self.unsupported(format!("it joins {} tensor (two or more are needed)", inputs.len())));
        }
        if let Some(k) = inputs.iter().position(|a| a.value().is_some()) {
            return Err(self.unsupported(format!("its input {k} is a constant (only run-time tensors are joined)")));
        }
        Ok(Converted { op: Op::Concat { axis }, dynamic_inputs: (0..inputs.len()).collect() })
    }

    /// A PReLU whose learned slope is one value for every channel (PyTorch's default) is a
    /// LeakyReLU with that slope; one slope per channel (`nn.PReLU(C)`) stays a PReLU.
    fn prelu(&self, inputs: &[Argument]) -> Result<Op> {
        let slope = self.constant(&inputs[1], "slope")?;
        let slopes = self.per_channel(&slope, inputs[0].ty.rank())?;
        match slopes.split_first() {
            Some((&alpha, rest)) if rest.iter().all(|&a| a == alpha) => {
                Ok(Op::Activation(Activation::LeakyRelu { alpha }))
            }
            _ => Ok(Op::PRelu { slopes }),
        }
    }

    /// Clip's bounds, which must be constants; a missing one is no bound.
    fn clip(&self, config: &onnx_ir::node::clip::ClipConfig) -> Result<Activation> {
        use onnx_ir::node::clip::ClipInput;
        let bound = |input: &Option<ClipInput>, role: &str, none: f64| match input {
            None => Ok(none),
            Some(ClipInput::Static(value)) => Ok(*value),
            Some(ClipInput::Runtime(_)) => Err(self.unsupported(format!("its {role} is only known at run time"))),
        };
        let (min, max) = (bound(&config.min, "min", f64::NEG_INFINITY)?, bound(&config.max, "max", f64::INFINITY)?);
        if min.is_nan() || max.is_nan() || min > max {
            return Err(self.unsupported(format!("its bounds min={min}, max={max} hold no value")));
        }
        Ok(Activation::Clip { min, max })
    }

    /// An average pool as a window of equal taps over each channel; with ceil_mode, or padding
    /// that count_include_pad=0 leaves out, a pool whose border windows divide by their own
    /// sizes.
    fn average_pool(
        &self,
        geometry: ConvGeometry,
        include_pad: bool,
        ceil_mode: bool,
        auto_pad: &AutoPad,
    ) -> Result<Op> {
        self.plain_conv(1, auto_pad)?;
        let padded = geometry.padding.iter().any(|&(begin, end)| begin + end > 0);
        if !ceil_mode && (include_pad || !padded) {
            return Ok(Op::Channelwise(Channelwise::average_pool(geometry)));
        }
        // Border windows of their own sizes: each divides by the values it counts.
        if geometry.dilation.iter().any(|&d| d != 1) {
            return Err(self.unsupported("dilations with ceil_mode=1 or count_include_pad=0 (border windows)"));
        }
        Ok(Op::Pool(Pool { kind: PoolKind::Average { count_include_pad: include_pad }, geometry, ceil_mode }))
    }

    /// A max pool: padding never wins, so windows at the border take the largest of the
    /// inputs they cover.
    fn max_pool(&self, geometry: ConvGeometry, ceil_mode: bool, auto_pad: &AutoPad) -> Result<Op> {
        self.plain_conv(1, auto_pad)?;
        if ceil_mode {
            return Ok(Op::Pool(Pool { kind: PoolKind::Max, geometry, ceil_mode }));
        }
        Ok(Op::MaxPool(geometry))
    }

    /// A nearest-neighbour Resize (or Upsample) by whole factors of the spatial axes only, with
    /// a coordinate mapping under which output index i reads input index floor(i / factor).
    fn upsample(&self, inputs: &[Argument], config: &onnx_ir::node::resize::ResizeConfig) -> Result<Op> {
        use onnx_ir::node::resize::{
            CoordinateTransformMode as Mode, NearestMode, ResizeMode, ResizeScales, ResizeSizes,
        };
        if config.mode != ResizeMode::Nearest {
            return Err(self.unsupported(format!("mode {:?} (only nearest)", config.mode)));
        }
        // Half-pixel mappings land strictly inside the source cell, whatever the rounding;
        // the asymmetric one only with floor.
        match (&config.coordinate_transformation_mode, &config.nearest_mode) {
            (Mode::HalfPixel | Mode::PytorchHalfPixel, _) | (Mode::Asymmetric, NearestMode::Floor) => {}
            (mode, nearest) => {
                return Err(self.unsupported(format!(
                    "coordinate_transformation_mode {mode:?} with nearest_mode {nearest:?} (whole factors need \
                     half_pixel, pytorch_half_pixel, or asymmetric with floor)"
                )))
            }
        }
        let rank = inputs[0].ty.rank();
        let factors = match (&config.scales, &config.sizes) {
            (Some(ResizeScales::Static(scales)), _) => {
                // onnx-ir keeps the spatial scales only; the batch's and the channels' are in
                // the constant input, and must be 1.
                let full = inputs[1..].iter().filter_map(|a| a.value()?.to_f64_vec().ok()).find(|v| v.len() == rank);
                if let Some(kept) = full.as_ref().map(|v| &v[..2]).filter(|kept| kept != &[1.0, 1.0]) {
                    return Err(self.unsupported(format!("it scales the batch or the channels by {kept:?}")));
                }
                let whole = |s: f32| (s >= 1.0 && s.fract() == 0.0).then_some(s as usize);
                scales.iter().map(|&s| whole(s)).collect::<Option<Vec<usize>>>().ok_or_else(|| {
                    self.unsupported(format!("spatial scales {scales:?} (only whole factors of 1 to 3 axes)"))
                })?
            }
            (_, Some(ResizeSizes::Static(sizes))) => self.size_factors(&inputs[0], sizes)?,
            _ => return Err(self.unsupported("its scales or sizes are only known at run time")),
        };
        if !(1..=3).contains(&factors.len()) {
            return Err(self.unsupported(format!("{} spatial axes (1 to 3 are supported)", factors.len())));
        }
        Ok(Op::Channelwise(Channelwise::upsample(&factors)))
    }

    /// The whole factors by which a Resize to `sizes` (its spatial extents) grows its input,
    /// whose spatial extents the graph must state.
    fn size_factors(&self, input: &Argument, sizes: &[usize]) -> Result<Vec<usize>> {
        let shape = input.ty.static_shape().cloned().unwrap_or_default();
        let spatial = shape.get(shape.len().saturating_sub(sizes.len())..).unwrap_or_default();
        let extents: Option<Vec<usize>> =
            if spatial.len() == sizes.len() { spatial.iter().copied().collect() } else { None };
        let Some(extents) = extents else {
            return Err(self.unsupported(format!(
                "sizes {sizes:?} of an input whose spatial extents the graph does not state (use scale factors)"
            )));
        };
        sizes
            .iter()
            .zip(&extents)
            .map(|(&size, &extent)| (extent > 0 && size % extent == 0 && size >= extent).then(|| size / extent))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                self.unsupported(format!("sizes {sizes:?} from {extents:?} (only whole multiples of the input)"))
            })
    }

    /// A Pad with zeros on the spatial axes only (the batch and the channels unpadded).
    fn pad(&self, config: &onnx_ir::node::pad::PadConfig) -> Result<Op> {
        use onnx_ir::node::pad::{ConstantValueInput, PadInput, PadMode};
        if config.mode != PadMode::Constant {
            return Err(self.unsupported(format!("mode {:?} (only constant zeros)", config.mode)));
        }
        if !matches!(config.constant_value, ConstantValueInput::Static(v) if v == 0.0) {
            return Err(self.unsupported("a fill value other than a constant 0"));
        }
        let PadInput::Static(pads) = &config.pads else {
            return Err(self.unsupported("its pads are only known at run time"));
        };
        match pads.split_at_checked(2) {
            Some(([(0, 0), (0, 0)], spatial)) if !spatial.is_empty() => Ok(Op::Pad { pads: spatial.to_vec() }),
            _ => Err(self.unsupported(format!("pads {pads:?} (only on the spatial axes, after batch and channels)"))),
        }
    }

    fn plain_conv(&self, groups: usize, auto_pad: &AutoPad) -> Result<()> {
        if groups != 1 {
            return Err(self.unsupported(format!("group={groups} (only group=1 is supported)")));
        }
        if !matches!(auto_pad, AutoPad::NotSet | AutoPad::Valid) {
            return Err(self.unsupported(format!("auto_pad={auto_pad} (give explicit pads)")));
        }
        Ok(())
    }

    fn no_output_shape(&self, given: bool) -> Result<()> {
        if given {
            Err(self.unsupported("the output_shape attribute (give pads and output_padding instead)"))
        } else {
            Ok(())
        }
    }

    fn conv(&self, inputs: &[Argument], geometry: ConvGeometry, transposed: bool) -> Result<Conv> {
        let weight = self.constant(&inputs[1], "weight")?;
        self.rank(&weight, geometry.kernel.len() + 2, "weight")?;
        let out_channels = weight.shape[if transposed { 1 } else { 0 }];
        let bias = self.bias(inputs.get(2), out_channels)?;
        Ok(Conv { transposed, weight, bias, geometry, activation: None })
    }
}
