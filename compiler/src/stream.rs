//! From a quantized model to a chain of streaming stages, which both backends print
//! (`--io stream`). A stream carries beats: either pixels (all channels of one grid
//! position, positions in raster order) or whole vectors (one beat per frame). Each layer
//! becomes the stage its operand's beats call for; reshapes only relabel the stream, or
//! turn a vector into pixels.

use crate::fixed::FixedType;
use crate::ir::{ConvGeometry, Taps};
use crate::quant::model::{Codes, Layer, LayerOp, QuantizedModel, Value};
use serde::Serialize;

/// How a design takes its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Io {
    /// The whole input vector at once, every clock (or every II clocks when folded; the HLS
    /// project: one sample per call).
    #[default]
    Parallel,
    /// Pixels one per beat with valid/ready, convolutions over line buffers.
    Stream,
}

impl std::str::FromStr for Io {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "parallel" => Ok(Io::Parallel),
            "stream" => Ok(Io::Stream),
            _ => Err(format!("unknown io '{s}' (expected parallel or stream)")),
        }
    }
}

/// What one beat holds, and how beats make a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Beat {
    /// Elements per beat: a pixel's channels, or a vector's elements.
    pub channels: usize,
    /// The grid of pixels, in raster order (the last dimension fastest); empty when a frame
    /// is one beat.
    pub grid: Vec<usize>,
}

impl Beat {
    pub fn vector(elements: usize) -> Self {
        Beat { channels: elements, grid: Vec::new() }
    }

    /// Beats per frame.
    pub fn per_frame(&self) -> usize {
        self.grid.iter().product()
    }
}

/// The stream between two stages: its beats and their element type. `flattened` says the
/// model sees these pixels as one vector, channel-first (element c * pixels + p).
#[derive(Debug, Clone)]
pub struct Stream {
    pub beat: Beat,
    pub ty: FixedType,
    pub flattened: bool,
}

/// One spatial dimension of a window stage's virtual grid: the input's pixels placed
/// `step` apart from `first` (a transposed convolution's zeros between them), padding
/// around them, and an output wherever a whole window has arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// Positions of the virtual grid.
    pub length: usize,
    /// Where the first input pixel goes, and the distance between input pixels.
    pub first: usize,
    pub step: usize,
    pub inputs: usize,
    /// The window's extent, (kernel - 1) * dilation + 1.
    pub extent: usize,
    /// Distance between outputs, and how many.
    pub out_step: usize,
    pub outputs: usize,
    /// Kernel taps and their dilation; `flipped` reads the kernel backwards (transposed).
    pub kernel: usize,
    pub dilation: usize,
    pub flipped: bool,
}

impl Axis {
    /// Whether virtual position `u` holds an input pixel (otherwise it holds padding).
    pub fn is_input(&self, u: usize) -> bool {
        u >= self.first && (u - self.first).is_multiple_of(self.step) && (u - self.first) / self.step < self.inputs
    }

    /// Whether the window ending at virtual position `u` is an output.
    pub fn fires(&self, u: usize) -> bool {
        let e = self.extent - 1;
        u >= e && (u - e).is_multiple_of(self.out_step) && (u - e) / self.out_step < self.outputs
    }

    /// How far behind the window's last position kernel tap `k` reads.
    pub fn lag(&self, k: usize) -> usize {
        let position = if self.flipped { (self.kernel - 1 - k) * self.dilation } else { k * self.dilation };
        self.extent - 1 - position
    }
}

/// What a window stage computes over each complete window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// A convolution (plain or transposed); padding positions hold zero.
    Conv,
    /// The largest value of each channel; padding positions hold the smallest code, which
    /// no window of real pixels can lose to.
    Max,
}

#[derive(Debug, Clone)]
pub enum StageKind {
    /// Each beat through the layer's arithmetic, element by element or as a whole vector.
    Map,
    /// Pixels through a line buffer; an output pixel whenever a window is complete.
    Window { axes: Vec<Axis>, kind: WindowKind },
    /// A dense layer over a flattened stream of pixels: each pixel's products are added as
    /// it arrives, the vector leaves after the frame's last pixel.
    PixelDense,
    /// A vector (one beat) sent out as pixels, one per beat.
    Serialize,
    /// A dense layer whose output is an image: it holds its input vector and computes the
    /// image a pixel per beat, each pixel's weights from a table.
    DenseToPixels,
}

#[derive(Debug, Clone)]
pub struct Stage {
    /// The model layer it computes; None for a serializer.
    pub layer: Option<usize>,
    pub kind: StageKind,
    pub input: Stream,
    pub output: Stream,
}

impl Stage {
    /// The clocks the stage needs per frame at least, one position or beat a clock: its
    /// virtual grid's positions, or its beats.
    pub fn clocks_per_frame(&self) -> usize {
        match &self.kind {
            StageKind::Window { axes, .. } => axes.iter().map(|a| a.length).product(),
            _ => self.input.beat.per_frame().max(self.output.beat.per_frame()),
        }
    }
}

/// The stages of a model in stream order, and the streams at the design's ports.
pub struct Plan {
    pub stages: Vec<Stage>,
    pub input: Stream,
    pub output: Stream,
}

/// Why a model cannot stream, in one sentence naming the layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StreamError(pub String);

fn refuse(layer: &Layer, why: impl std::fmt::Display) -> StreamError {
    StreamError(format!("layer '{}' ({}) cannot stream: {why}", layer.name, layer.op.kind()))
}

/// A tensor of per-sample shape [channels, grid...] as pixels; a 1-D one as a vector.
fn stream_of(shape: &[usize], ty: FixedType) -> Stream {
    let beat = match shape {
        [] => Beat::vector(1),
        [n] => Beat::vector(*n),
        [c, grid @ ..] => Beat { channels: *c, grid: grid.to_vec() },
    };
    Stream { beat, ty, flattened: false }
}

pub fn plan(model: &QuantizedModel) -> Result<Plan, StreamError> {
    let input = stream_of(&model.input().shape, model.input().ty);
    let mut current = input.clone();
    let mut value = model.input;
    let mut stages = Vec::new();
    for (k, layer) in model.layers.iter().enumerate() {
        if matches!(layer.op, LayerOp::Add { .. } | LayerOp::Concat) {
            return Err(refuse(
                layer,
                "it joins two branches (a skip connection), and a streamed design is a chain of layers; use --io parallel",
            ));
        }
        if layer.inputs.len() != 1 || layer.inputs[0] != value {
            return Err(refuse(layer, "a streamed design is a chain, each layer reading the one before"));
        }
        value = layer.output;
        let out = &model.values[layer.output];
        let in_shape = &model.values[layer.inputs[0]].shape;
        let pixels = current.beat.per_frame();
        let (kind, output) = match &layer.op {
            LayerOp::Reshape => {
                let (c, grid) = (current.beat.channels, &current.beat.grid);
                let target = stream_of(&out.shape, out.ty);
                // A frame of one beat is a vector, whatever its shape says.
                if grid.is_empty() || pixels == 1 {
                    // One beat either way: only the name changes.
                    if target.beat.per_frame() == 1 && target.beat.channels == c {
                        current = target;
                        continue;
                    }
                    if let Some(at) = dense_before(&stages, model) {
                        current = pixels_from_dense(&mut stages, at, &target.beat);
                        continue;
                    }
                    (StageKind::Serialize, target)
                } else if out.shape.len() == 1 {
                    current =
                        if pixels == 1 { stream_of(&out.shape, out.ty) } else { Stream { flattened: true, ..current } };
                    continue;
                } else if target.beat.channels == c && target.beat.per_frame() == pixels {
                    current = Stream { flattened: false, ..target };
                    continue;
                } else {
                    return Err(refuse(layer, format!("it moves pixels of {c} channels into shape {:?}", out.shape)));
                }
            }
            LayerOp::Dense { .. } => {
                let kind = if current.beat.grid.is_empty() {
                    StageKind::Map
                } else if current.flattened {
                    StageKind::PixelDense
                } else {
                    return Err(refuse(layer, "a dense layer reads a vector or a flattened image"));
                };
                (kind, Stream { beat: Beat::vector(out.len()), ty: out.ty, flattened: false })
            }
            LayerOp::Conv { geometry, .. } | LayerOp::MaxPool { geometry, .. }
                if !current.beat.grid.is_empty() && !current.flattened =>
            {
                let transposed = matches!(layer.op, LayerOp::Conv { transposed: true, .. });
                let Some(g) = geometry else {
                    return Err(refuse(
                        layer,
                        "its windows are no one kernel slid over the input (a pool whose border windows divide by \
                         their own sizes), or its model was quantized without the geometry",
                    ));
                };
                let window =
                    if matches!(layer.op, LayerOp::MaxPool { .. }) { WindowKind::Max } else { WindowKind::Conv };
                let axes = axes(g, transposed && window == WindowKind::Conv, &in_shape[1..], &out.shape[1..])
                    .map_err(|why| refuse(layer, why))?;
                (StageKind::Window { axes, kind: window }, stream_of(&out.shape, out.ty))
            }
            LayerOp::Conv { .. } | LayerOp::MaxPool { .. } => {
                return Err(refuse(layer, "its operand does not arrive as pixels"));
            }
            LayerOp::Affine { scale: codes, per_channel, .. } | LayerOp::PRelu { alphas: codes, per_channel }
                if !current.beat.grid.is_empty() =>
            {
                // Each beat element must keep one scale (or slope) across the frame's pixels.
                let same = (0..current.beat.channels)
                    .all(|c| (0..pixels).all(|p| (c * pixels + p) / per_channel == c * pixels / per_channel));
                if !same || codes.codes.len() * per_channel != current.beat.channels * pixels {
                    return Err(refuse(layer, "its constants change from pixel to pixel"));
                }
                (StageKind::Map, Stream { ty: out.ty, ..current.clone() })
            }
            LayerOp::Affine { .. }
            | LayerOp::PRelu { .. }
            | LayerOp::Relu
            | LayerOp::LeakyRelu { .. }
            | LayerOp::Clip { .. }
            | LayerOp::Table { .. } => (StageKind::Map, Stream { ty: out.ty, ..current.clone() }),
            LayerOp::Add { .. } | LayerOp::Concat => unreachable!("refused above"),
        };
        let layer = if matches!(kind, StageKind::Serialize) { None } else { Some(k) };
        stages.push(Stage { layer, kind, input: current, output: output.clone() });
        current = output;
    }
    if stages.is_empty() {
        return Err(StreamError("the model computes nothing (only reshapes)".into()));
    }
    Ok(Plan { stages, input, output: current })
}

/// The stage of a dense layer followed only by element-wise maps, at the end of `stages`.
fn dense_before(stages: &[Stage], model: &QuantizedModel) -> Option<usize> {
    for (at, stage) in stages.iter().enumerate().rev() {
        let op = &model.layers[stage.layer?].op;
        match (&stage.kind, op) {
            (StageKind::Map, LayerOp::Dense { .. }) => return Some(at),
            (
                StageKind::Map,
                LayerOp::Relu | LayerOp::LeakyRelu { .. } | LayerOp::Clip { .. } | LayerOp::Table { .. },
            ) => {}
            _ => return None,
        }
    }
    None
}

/// Turns the dense stage at `at` into one that computes pixels of `beat`, and the element-wise
/// maps after it into maps over those pixels; returns the stream they end with.
fn pixels_from_dense(stages: &mut [Stage], at: usize, beat: &Beat) -> Stream {
    let pixels = |s: &Stream| Stream { beat: beat.clone(), ty: s.ty, flattened: false };
    for (k, stage) in stages.iter_mut().enumerate().skip(at) {
        if k == at {
            stage.kind = StageKind::DenseToPixels;
        } else {
            stage.input = pixels(&stage.input);
        }
        stage.output = pixels(&stage.output);
    }
    stages.last().expect("the dense stage").output.clone()
}

/// The virtual grid of each spatial dimension. A plain convolution pads the input; a
/// transposed one also spreads it `stride` apart, and then reads the kernel backwards
/// with stride 1: output o of a transposed convolution sums input i with tap k where
/// o = i * stride - pad + k * dilation, which puts input i at position
/// (kernel - 1) * dilation - pad + i * stride of a grid where o reads o .. o + extent - 1.
fn axes(g: &ConvGeometry, transposed: bool, inputs: &[usize], outputs: &[usize]) -> Result<Vec<Axis>, String> {
    let mut axes = Vec::with_capacity(inputs.len());
    for d in 0..inputs.len() {
        let (kernel, dilation, stride) = (g.kernel[d], g.dilation[d], g.stride[d]);
        let extent = (kernel - 1) * dilation + 1;
        let (first, step, out_step) = if transposed {
            let before = extent - 1;
            let Some(first) = before.checked_sub(g.padding[d].0) else {
                return Err(format!("padding {} is wider than the kernel's reach {before}", g.padding[d].0));
            };
            (first, stride, 1)
        } else {
            (g.padding[d].0, 1, stride)
        };
        let last_input = first + (inputs[d] - 1) * step;
        let last_output = (outputs[d] - 1) * out_step + extent - 1;
        axes.push(Axis {
            length: last_input.max(last_output) + 1,
            first,
            step,
            inputs: inputs[d],
            extent,
            out_step,
            outputs: outputs[d],
            kernel,
            dilation,
            flipped: transposed,
        });
    }
    Ok(axes)
}

/// How far behind the newest pixel each kernel tap reads, taps in row-major order.
pub fn lags(axes: &[Axis]) -> Vec<usize> {
    let mut strides = vec![1usize; axes.len()];
    for d in (0..axes.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * axes[d + 1].length;
    }
    let taps: usize = axes.iter().map(|a| a.kernel).product();
    (0..taps)
        .map(|t| {
            let mut rest = t;
            let mut lag = 0;
            for d in (0..axes.len()).rev() {
                let kd = rest % axes[d].kernel;
                rest /= axes[d].kernel;
                lag += axes[d].lag(kd) * strides[d];
            }
            lag
        })
        .collect()
}

/// A layer applied to one beat: the layer itself where a beat is the whole vector, else
/// the layer over the channels of one pixel (a per-channel map keeps each channel's codes).
pub fn beat_model(model: &QuantizedModel, layer: &Layer, stage: &Stage) -> (QuantizedModel, Layer) {
    let channels = stage.input.beat.channels;
    let op = match &layer.op {
        LayerOp::Affine { scale, shift, accumulator, per_channel } if !stage.input.beat.grid.is_empty() => {
            let pixels = stage.input.beat.per_frame();
            let pick = |codes: &Codes| Codes {
                ty: codes.ty,
                codes: (0..channels).map(|c| codes.codes[c * pixels / per_channel]).collect(),
            };
            LayerOp::Affine { scale: pick(scale), shift: pick(shift), accumulator: *accumulator, per_channel: 1 }
        }
        LayerOp::PRelu { alphas, per_channel } if !stage.input.beat.grid.is_empty() => {
            let pixels = stage.input.beat.per_frame();
            let codes = (0..channels).map(|c| alphas.codes[c * pixels / per_channel]).collect();
            LayerOp::PRelu { alphas: Codes { ty: alphas.ty, codes }, per_channel: 1 }
        }
        op => op.clone(),
    };
    let values = [(stage.input.ty, channels), (stage.output.ty, stage.output.beat.channels)];
    layer_alone(model, layer, op, values)
}

/// The layer over one window: input element c * taps + t is channel c of tap t, output o
/// is channel o of the output pixel.
pub fn window_model(
    model: &QuantizedModel,
    layer: &Layer,
    stage: &Stage,
    taps: usize,
    kind: WindowKind,
) -> (QuantizedModel, Layer) {
    let (c_in, c_out) = (stage.input.beat.channels, stage.output.beat.channels);
    let mut starts = vec![0];
    let mut entries = Vec::new();
    for o in 0..c_out {
        match (&layer.op, kind) {
            (LayerOp::Conv { transposed, .. }, WindowKind::Conv) => {
                for c in 0..c_in {
                    for t in 0..taps {
                        // ONNX weights: [c_out, c_in, k...], transposed [c_in, c_out, k...].
                        let w = if *transposed { (c * c_out + o) * taps + t } else { (o * c_in + c) * taps + t };
                        entries.push(((c * taps + t) as u32, w as u32));
                    }
                }
            }
            _ => entries.extend((0..taps).map(|t| ((o * taps + t) as u32, 0))),
        }
        starts.push(entries.len());
    }
    let window = Taps { starts, entries, per_channel: 1 };
    let op = match &layer.op {
        LayerOp::Conv { linear, .. } => {
            LayerOp::Conv { linear: linear.clone(), taps: window, transposed: false, geometry: None }
        }
        _ => LayerOp::MaxPool { windows: window, geometry: None },
    };
    let values = [(stage.input.ty, c_in * taps), (stage.output.ty, c_out)];
    layer_alone(model, layer, op, values)
}

/// A model of one layer from an input of `values[0]` to an output of `values[1]`
/// (type, elements).
pub fn layer_alone(
    model: &QuantizedModel,
    layer: &Layer,
    op: LayerOp,
    values: [(FixedType, usize); 2],
) -> (QuantizedModel, Layer) {
    let value = |(ty, n): (FixedType, usize), name: &str| Value { name: name.to_string(), shape: vec![n], ty };
    let single = Layer { name: layer.name.clone(), op, inputs: vec![0], output: 1 };
    let model = QuantizedModel {
        name: model.name.clone(),
        values: vec![value(values[0], "beat_in"), value(values[1], "beat_out")],
        layers: vec![single.clone()],
        input: 0,
        output: 1,
        source: None,
        scales: Default::default(),
    };
    (model, single)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(kernel: usize, stride: usize, pad: usize) -> ConvGeometry {
        ConvGeometry {
            kernel: vec![kernel],
            stride: vec![stride],
            dilation: vec![1],
            padding: vec![(pad, pad)],
            output_padding: vec![0],
        }
    }

    /// Every output's inputs, read off the virtual grid as the hardware reads them.
    fn reads(axis: &Axis) -> Vec<Vec<(usize, usize)>> {
        (0..axis.length)
            .filter(|&u| axis.fires(u))
            .map(|u| {
                (0..axis.kernel)
                    .filter_map(|k| {
                        let v = u - axis.lag(k);
                        axis.is_input(v).then(|| ((v - axis.first) / axis.step, k))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_strided_padded_conv_reads_what_the_taps_say() {
        // Length 7, kernel 3, stride 2, pad 1: outputs 0..4 read inputs 2o - 1 + k.
        let axis = &axes(&geometry(3, 2, 1), false, &[7], &[4]).unwrap()[0];
        let expected: Vec<Vec<(usize, usize)>> = (0..4)
            .map(|o: i64| {
                (0..3)
                    .filter_map(|k| {
                        let i = 2 * o - 1 + k;
                        (0..7).contains(&i).then_some((i as usize, k as usize))
                    })
                    .collect()
            })
            .collect();
        assert_eq!(reads(axis), expected);
    }

    #[test]
    fn a_transposed_conv_reads_what_the_taps_say() {
        // Length 3, kernel 3, stride 2, pad 1, output padding 1: 6 outputs; o = 2i - 1 + k.
        let axis = &axes(&geometry(3, 2, 1), true, &[3], &[6]).unwrap()[0];
        let expected: Vec<Vec<(usize, usize)>> = (0..6i64)
            .map(|o| {
                let mut r: Vec<(usize, usize)> = (0..3i64)
                    .flat_map(|i| (0..3i64).filter(move |&k| 2 * i - 1 + k == o).map(move |k| (i as usize, k as usize)))
                    .collect();
                r.sort_by_key(|&(_, k)| k);
                r
            })
            .collect();
        let mut got = reads(axis);
        for r in &mut got {
            r.sort_by_key(|&(_, k)| k);
        }
        assert_eq!(got, expected);
    }
}
