//! The streamed project (`--io stream`): the compiler's stream plan as `hls::stream` stages
//! in a DATAFLOW region, one frame per call. Each stage's arithmetic is the layer view of a
//! one-layer model over a beat or a window, so it prints the same kernels as a parallel
//! project; the loops around them walk the plan's virtual grids.

use crate::layer_view::layer_view;
use crate::view::{comment, CodeArray, KernelCall, LayerView, Names};
use crate::Error;
use balerc_compiler::quant::model::{Layer, LayerOp};
use balerc_compiler::quant::QuantizedModel;
use balerc_compiler::stream::{beat_model, lags, layer_alone, window_model, Plan, Stage, StageKind, WindowKind};

/// A beat type: `struct <name> { <elem> data[<channels>]; }`.
#[derive(Debug)]
pub struct BeatView {
    pub name: String,
    pub elem: String,
    /// The element type's spelling, for a typedef; None for input_t and result_t.
    pub elem_ty: Option<String>,
    pub channels: usize,
}

/// One axis of a window stage's virtual grid.
#[derive(Debug)]
pub struct AxisView {
    pub length: usize,
    /// Which positions hold an input pixel, and which end a window.
    pub pixels: CodeArray,
    pub ends: CodeArray,
}

#[derive(Debug)]
pub struct StageView {
    pub index: usize,
    /// map, window, pixel_dense, dense_to_pixels or serialize.
    pub kind: &'static str,
    pub name: String,
    pub in_beat: String,
    pub out_beat: String,
    pub in_elem: String,
    pub in_channels: usize,
    /// Beats per frame at the input (a map stage's loop).
    pub beats: usize,
    /// Window stages: the virtual grid, the line buffer depth, the taps' lags, the value
    /// padding positions hold and the window's length.
    pub axes: Vec<AxisView>,
    pub depth: usize,
    pub taps: usize,
    pub lags: CodeArray,
    pub fill: String,
    pub window_len: usize,
    /// The kernel call, on `x.data`/`y.data` (map), `window`/`o.data` (window) or the streams.
    pub call: KernelCall,
}

#[derive(Debug)]
pub struct StreamView {
    pub beats: Vec<BeatView>,
    pub stages: Vec<StageView>,
    pub in_beats: usize,
    pub in_elements: usize,
    pub out_beats: usize,
    pub out_elements: usize,
}

fn beat_names(b: usize, last: usize) -> (String, String) {
    match b {
        0 => ("input_beat_t".into(), "input_t".into()),
        b if b == last => ("result_beat_t".into(), "result_t".into()),
        b => (format!("beat{b}_t"), format!("beat{b}_elem_t")),
    }
}

/// The stream view and the layer views (typedefs and constants) of every stage.
pub fn stream_view(model: &QuantizedModel, plan: &Plan) -> Result<(StreamView, Vec<LayerView>), Error> {
    let last = plan.stages.len();
    let beats = (0..=last)
        .map(|b| {
            let stream = if b == 0 { &plan.input } else { &plan.stages[b - 1].output };
            let (name, elem) = beat_names(b, last);
            let elem_ty = (b != 0 && b != last).then(|| stream.ty.to_string());
            BeatView { name, elem, elem_ty, channels: stream.beat.channels }
        })
        .collect::<Vec<_>>();
    let mut stages = Vec::with_capacity(last);
    let mut layers = Vec::new();
    for (k, stage) in plan.stages.iter().enumerate() {
        let (stage_view, layer) = stage_view(model, k, stage, &beats)?;
        stages.push(stage_view);
        layers.extend(layer);
    }
    let view = StreamView {
        in_beats: plan.input.beat.per_frame(),
        in_elements: plan.input.beat.channels,
        out_beats: plan.output.beat.per_frame(),
        out_elements: plan.output.beat.channels,
        beats,
        stages,
    };
    Ok((view, layers))
}

/// The layer view of a one-layer model whose input and output arrays are named as given.
fn alone_view(
    (model, _): (QuantizedModel, Layer),
    k: usize,
    elems: [&str; 2],
    arrays: [&str; 2],
) -> Result<LayerView, Error> {
    let names = Names { types: elems.map(String::from).to_vec(), arrays: arrays.map(String::from).to_vec() };
    layer_view(&model, &names, 0).map(|mut view| {
        // Names stay unique per stage: layer0_w of stage k becomes stage<k>_w.
        rename(&mut view, k);
        view
    })
}

/// Renames a one-layer view's `layer0_*` typedefs and arrays to `stage<k>_*`.
fn rename(view: &mut LayerView, k: usize) {
    let to = format!("stage{k}_");
    let fix = |s: &mut String| *s = s.replace("layer0_", &to);
    view.index = k;
    view.typedefs.iter_mut().for_each(|t| fix(&mut t.name));
    view.arrays.iter_mut().for_each(|a| fix(&mut a.name));
    view.call.template_args.iter_mut().for_each(fix);
    view.call.args.iter_mut().for_each(fix);
}

fn stage_view(
    model: &QuantizedModel,
    k: usize,
    stage: &Stage,
    beats: &[BeatView],
) -> Result<(StageView, Option<LayerView>), Error> {
    let (input, output) = (&beats[k], &beats[k + 1]);
    let layer = stage.layer.map(|l| &model.layers[l]);
    let mut view = StageView {
        index: k,
        kind: "map",
        name: comment(layer.map_or("(vector to pixels)", |l| &l.name)),
        in_beat: input.name.clone(),
        out_beat: output.name.clone(),
        in_elem: input.elem.clone(),
        in_channels: input.channels,
        beats: stage.input.beat.per_frame(),
        axes: Vec::new(),
        depth: 0,
        taps: 0,
        lags: CodeArray::new("int", format!("stage{k}_lags"), vec![1], [0]),
        fill: "0LL".into(),
        window_len: 0,
        call: KernelCall { kernel: "", template_args: Vec::new(), args: Vec::new() },
    };
    let elems = [input.elem.as_str(), output.elem.as_str()];
    let streams = || vec!["in".to_string(), "out".to_string()];
    let layer_view = match &stage.kind {
        StageKind::Map => {
            let layer = layer.expect("a map stage computes a layer");
            let lv = alone_view(beat_model(model, layer, stage), k, elems, ["x.data", "y.data"])?;
            view.call = clone_call(&lv.call);
            Some(lv)
        }
        StageKind::Window { axes, kind } => {
            let layer = layer.expect("a window stage computes a layer");
            let lag = lags(axes);
            let taps = lag.len();
            view.kind = "window";
            view.depth = lag.iter().copied().max().unwrap_or(0);
            view.taps = taps;
            view.window_len = taps * input.channels;
            view.lags = CodeArray::new("int", format!("stage{k}_lags"), vec![taps], lag.iter().map(|&l| l as i64));
            view.fill = match kind {
                WindowKind::Conv => "0LL".into(),
                WindowKind::Max => format!("{}LL", stage.input.ty.min_code()),
            };
            view.axes = axes
                .iter()
                .enumerate()
                .map(|(d, a)| AxisView {
                    length: a.length,
                    pixels: CodeArray::new(
                        "bool",
                        format!("stage{k}_pixels{d}"),
                        vec![a.length],
                        (0..a.length).map(|u| a.is_input(u) as i64),
                    ),
                    ends: CodeArray::new(
                        "bool",
                        format!("stage{k}_ends{d}"),
                        vec![a.length],
                        (0..a.length).map(|u| a.fires(u) as i64),
                    ),
                })
                .collect();
            let lv = alone_view(window_model(model, layer, stage, taps, *kind), k, elems, ["window", "o.data"])?;
            view.call = clone_call(&lv.call);
            Some(lv)
        }
        StageKind::PixelDense | StageKind::DenseToPixels => {
            let layer = layer.expect("a dense layer");
            let LayerOp::Dense { inputs, .. } = layer.op else { unreachable!("planned for dense layers") };
            let outputs = model.values[layer.output].len();
            let alone =
                layer_alone(model, layer, layer.op.clone(), [(stage.input.ty, inputs), (stage.output.ty, outputs)]);
            let lv = alone_view(alone, k, elems, ["x", "y"])?;
            // The dense call's template arguments: data, result, weight, bias, accumulator, activation.
            let t = &lv.call.template_args;
            let (c_in, c_out) = (stage.input.beat.channels, stage.output.beat.channels);
            let (kernel, sizes) = if matches!(stage.kind, StageKind::PixelDense) {
                view.kind = "pixel_dense";
                ("stream_pixel_dense", [c_in, stage.input.beat.per_frame(), outputs])
            } else {
                view.kind = "dense_to_pixels";
                ("stream_dense_to_pixels", [inputs, c_out, stage.output.beat.per_frame()])
            };
            let mut template_args = vec![input.name.clone(), output.name.clone(), output.elem.clone()];
            template_args.extend(t[2..6].iter().cloned());
            template_args.extend(sizes.iter().map(usize::to_string));
            view.call = KernelCall { kernel, template_args, args: [streams(), lv.call.args[2..4].to_vec()].concat() };
            Some(lv)
        }
        StageKind::Serialize => {
            view.kind = "serialize";
            let (c, p) = (stage.output.beat.channels, stage.output.beat.per_frame());
            view.call = KernelCall {
                kernel: "stream_serialize",
                template_args: vec![input.name.clone(), output.name.clone(), c.to_string(), p.to_string()],
                args: streams(),
            };
            None
        }
    };
    Ok((view, layer_view))
}

fn clone_call(call: &KernelCall) -> KernelCall {
    KernelCall { kernel: call.kernel, template_args: call.template_args.clone(), args: call.args.clone() }
}
