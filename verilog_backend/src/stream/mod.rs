//! Designs that stream (`--io stream`): pixels enter one per beat (all channels of one grid
//! position, in raster order), convolutions keep line buffers instead of unrolling over the
//! image, a dense layer after a Flatten adds each pixel's products as it arrives, and a
//! vector that becomes an image leaves one pixel per beat. Both ends have valid/ready
//! handshakes; see `stages.rs` for why no back-pressure can deadlock the chain.

mod stages;
mod timing;

use crate::cast::Conversions;
use crate::project::LayerReuse;
use crate::text::range;
use crate::{Design, Error, Options};
use balerc_compiler::fixed::FixedType;
use balerc_compiler::quant::QuantizedModel;
use balerc_compiler::stream::{self as plan, Beat};
use serde::Serialize;
use std::fmt::Write;

/// How the ports carry a frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BeatLayout {
    /// Elements per beat, element i at bits [i*W+W-1 : i*W].
    pub elements: usize,
    #[serde(rename = "type")]
    pub ty: String,
    /// Beats per frame.
    pub beats: usize,
    /// The grid the beats walk in raster order (empty: one beat holds the whole tensor).
    pub grid: Vec<usize>,
    /// Where the model's tensor (flattened, channel first) puts element i of beat p.
    pub order: &'static str,
}

impl BeatLayout {
    fn of(beat: &Beat, ty: FixedType) -> Self {
        let order = if beat.grid.is_empty() {
            "beat element i is tensor element i"
        } else {
            "beat p element c is tensor element c * beats + p (channel c of pixel p)"
        };
        BeatLayout {
            elements: beat.channels,
            ty: ty.to_string(),
            beats: beat.per_frame(),
            grid: beat.grid.clone(),
            order,
        }
    }
}

/// What report.json says of a streamed design.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    pub input_beat: BeatLayout,
    pub output_beat: BeatLayout,
    /// Clocks between frames when input is offered every clock and output always taken.
    pub cycles_per_frame: usize,
    /// Bits of line buffers and of vectors held while they leave as pixels.
    pub buffer_bits: u64,
    /// Each stage's output register holds one beat; no FIFO is needed in a chain.
    pub fifo_bits: u64,
    pub stages: Vec<StageReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: String,
    pub kind: &'static str,
    /// For a line buffer: pixels held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_buffer_pixels: Option<usize>,
}

/// The cycles of every output beat of `frames` frames with nothing waiting, counted from the
/// first clock input is offered; for checking simulators against the model of `timing.rs`.
pub fn output_cycles(model: &QuantizedModel, options: &Options, frames: usize) -> Result<Vec<usize>, Error> {
    let built = build(model, options)?;
    let plan = &built.plan;
    let (in_beats, out_beats) = (plan.input.beat.per_frame(), plan.output.beat.per_frame());
    Ok(timing::simulate(&plan.stages, &built.depths, in_beats, out_beats, frames).output_cycles)
}

pub fn generate(model: &QuantizedModel, options: &Options) -> Result<(Design, StreamReport), Error> {
    let built = build(model, options)?;
    Ok((built.design, built.report))
}

/// A generated design with its plan and the register stages inside each stage.
struct Built {
    design: Design,
    report: StreamReport,
    plan: plan::Plan,
    depths: Vec<u32>,
}

fn build(model: &QuantizedModel, options: &Options) -> Result<Built, Error> {
    let plan = plan::plan(model).map_err(|e| Error::Unsupported(e.to_string()))?;
    let top = &options.top;
    let mut writer =
        stages::Writer { body: String::new(), conversions: Conversions::new(top), totals: Default::default(), options };
    let bits = |s: &plan::Stream| s.beat.channels as u32 * s.ty.width;
    let n = plan.stages.len();
    for b in 0..=n {
        let stream = if b == 0 { &plan.input } else { &plan.stages[b - 1].output };
        writeln!(
            writer.body,
            "    wire b{b}_valid;\n    wire {} b{b}_data;\n    wire b{b}_ready;",
            range(bits(stream))
        )
        .unwrap();
    }
    writeln!(
        writer.body,
        "    assign b0_valid = in_valid;\n    assign b0_data = in_data;\n    assign in_ready = b0_ready;\n    \
         assign out_valid = b{n}_valid;\n    assign out_data = b{n}_data;\n    assign b{n}_ready = out_ready;\n"
    )
    .unwrap();
    let mut stage_reports = Vec::with_capacity(n);
    let mut depths = Vec::with_capacity(n);
    for (k, stage) in plan.stages.iter().enumerate() {
        depths.push(writer.stage(model, k, stage)?);
        let (name, kind) = match stage.layer {
            Some(l) => (model.layers[l].name.clone(), model.layers[l].op.kind()),
            None => ("(vector to pixels)".to_string(), "serialize"),
        };
        let kind = if matches!(stage.kind, plan::StageKind::DenseToPixels) { "dense_to_pixels" } else { kind };
        let line_buffer_pixels = match &stage.kind {
            plan::StageKind::Window { axes, .. } => Some(plan::lags(axes).into_iter().max().unwrap_or(0)),
            _ => None,
        };
        stage_reports.push(StageReport { name, kind, line_buffer_pixels });
    }
    let (in_bits, out_bits) = (bits(&plan.input), bits(&plan.output));
    let (in_beats, out_beats) = (plan.input.beat.per_frame(), plan.output.beat.per_frame());
    let timing = timing::simulate(&plan.stages, &depths, in_beats, out_beats, 3);
    let mut v = String::new();
    writeln!(
        v,
        "// Generated by balerc from '{}'. Streams frames: {in_beats} input beats of {} x {} and {out_beats} output beats of {} x {} each;\n\
         // a beat moves when valid and ready are both high. {} clocks per frame at full rate, {} from a frame's first input beat to its last output beat.",
        model.name,
        plan.input.beat.channels,
        plan.input.ty,
        plan.output.beat.channels,
        plan.output.ty,
        timing.cycles_per_frame,
        timing.latency
    )
    .unwrap();
    writeln!(
        v,
        "module {top} (\n    input  wire clk,\n    input  wire rst,\n    input  wire in_valid,\n    output wire in_ready,\n    \
         input  wire {} in_data,\n    output wire out_valid,\n    input  wire out_ready,\n    output wire {} out_data\n);\n    \
         /* verilator lint_off UNUSED */",
        range(in_bits),
        range(out_bits)
    )
    .unwrap();
    v += &writer.body;
    writeln!(v, "    /* verilator lint_on UNUSED */\nendmodule").unwrap();
    let mut modules = vec![(top.clone(), v), (format!("{top}_axis"), axis_wrapper(top, in_bits, out_bits, out_beats))];
    modules.extend(writer.conversions.modules());
    let layers = plan
        .stages
        .iter()
        .filter_map(|s| s.layer)
        .filter(|&l| model.layers[l].op.linear().is_some())
        .map(|l| LayerReuse { name: model.layers[l].name.clone(), reuse_factor: 1, latency_cycles: 1 })
        .collect();
    let totals = writer.totals;
    let report = StreamReport {
        input_beat: BeatLayout::of(&plan.input.beat, plan.input.ty),
        output_beat: BeatLayout::of(&plan.output.beat, plan.output.ty),
        cycles_per_frame: timing.cycles_per_frame,
        buffer_bits: totals.buffer_bits,
        fifo_bits: 0,
        stages: stage_reports,
    };
    let design = Design {
        modules,
        latency: timing.latency,
        ii: timing.cycles_per_frame,
        layers,
        cost: totals.cost,
        register_bits: totals.register_bits,
        stream: None,
    };
    Ok(Built { design, report, plan, depths })
}

/// AXI4-Stream ports around the streamed core: the handshakes map one to one; TLAST marks
/// each frame's last output beat (input TLAST is not needed: frames have a fixed length).
fn axis_wrapper(top: &str, in_bits: u32, out_bits: u32, out_beats: usize) -> String {
    let bytes = |bits: u32| bits.div_ceil(8) * 8;
    let (in_tdata, out_tdata) = (bytes(in_bits), bytes(out_bits));
    let count_bits = (usize::BITS - (out_beats.max(2) - 1).leading_zeros()).max(1);
    let last = crate::text::literal(out_beats as i128 - 1, count_bits);
    let data = if out_tdata > out_bits {
        format!("{{{}'d0, core_out}}", out_tdata - out_bits)
    } else {
        "core_out".to_string()
    };
    format!(
        "// AXI4-Stream ports of the streamed core {top}: one beat per transfer, TLAST on each frame's last output beat.\n\
         // s_axis_tlast and TDATA's padding bits are not read: frames have a fixed length.\n\
         /* verilator lint_off UNUSED */\n\
         module {top}_axis (\n    input  wire aclk,\n    input  wire aresetn,\n    input  wire {} s_axis_tdata,\n    \
         input  wire s_axis_tvalid,\n    output wire s_axis_tready,\n    input  wire s_axis_tlast,\n    output wire {} m_axis_tdata,\n    \
         output wire m_axis_tvalid,\n    input  wire m_axis_tready,\n    output wire m_axis_tlast\n);\n    \
         wire {} core_out;\n    reg {} sent;\n    \
         {top} core (.clk(aclk), .rst(~aresetn), .in_valid(s_axis_tvalid), .in_ready(s_axis_tready), .in_data(s_axis_tdata[{}:0]),\n        \
         .out_valid(m_axis_tvalid), .out_ready(m_axis_tready), .out_data(core_out));\n    \
         assign m_axis_tdata = {data};\n    assign m_axis_tlast = sent == {last};\n    \
         always @(posedge aclk) if (!aresetn) sent <= {}; else if (m_axis_tvalid & m_axis_tready) sent <= m_axis_tlast ? {} : sent + {};\n    \
         endmodule\n/* verilator lint_on UNUSED */\n",
        range(in_tdata),
        range(out_tdata),
        range(out_bits),
        range(count_bits),
        in_bits - 1,
        crate::text::literal(0, count_bits),
        crate::text::literal(0, count_bits),
        crate::text::literal(1, count_bits),
    )
}
