//! balerc's Verilog backend: plain, synthesizable Verilog-2001 for a quantized model,
//! pipelined at one sample per clock, or with linear layers folded over R clocks (a new
//! sample every R clocks), following the RTL port contract (clk, rst, in_valid, in_data,
//! out_valid, out_data, and in_ready when folded); or streaming pixels through line
//! buffers with valid/ready on both ends (`Io::Stream`).

mod axis;
mod cast;
mod csd;
mod cse;
mod dsp_plan;
mod fold;
mod join;
mod layer;
mod project;
mod reuse;
mod stream;
mod text;
mod top;
mod tree;

pub use balerc_compiler::stream::Io;
pub use dsp_plan::{DspPolicy, DEFAULT_DSP_COST};
pub use project::{report, write_project, LayerReuse, Report, Resources};
pub use reuse::{legal_reuse_factors, ReuseFactors};
pub use stream::{output_cycles as stream_output_cycles, BeatLayout, StageReport, StreamReport};
pub use tree::Cost;

use balerc_compiler::quant::QuantizedModel;

/// How constant multiplications are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Multipliers {
    /// Canonical-signed-digit shift-add terms summed in one adder tree per output:
    /// no DSP slices.
    ShiftAdd,
    /// `*` by a constant, which synthesis maps to DSP slices.
    Dsp,
    /// Product by product, whichever of the two is cheaper when a DSP slice counts as
    /// `DspPolicy::lut_cost` LUTs, within `DspPolicy::budget`.
    #[default]
    Auto,
}

impl std::str::FromStr for Multipliers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "shift-add" => Ok(Multipliers::ShiftAdd),
            "dsp" => Ok(Multipliers::Dsp),
            "auto" => Ok(Multipliers::Auto),
            _ => Err(format!("unknown multiplier style '{s}' (expected auto, shift-add or dsp)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// The top module's name.
    pub top: String,
    pub multipliers: Multipliers,
    /// What a DSP slice costs and how many may be used, for `Multipliers::Auto`.
    pub dsp: DspPolicy,
    /// Target clock period, for the constraint file.
    pub clock_ns: f64,
    /// A register stage after every this many adder levels inside a layer; None puts one
    /// register at each layer's output only.
    pub adder_levels_per_stage: Option<u32>,
    /// Layers with more pairs of shift-add terms than this skip the search for shared
    /// subexpressions: the search's time and memory grow with the pairs.
    pub sharing_pairs: usize,
    /// Clocks each linear layer shares its products over.
    pub reuse: ReuseFactors,
    pub io: Io,
}

/// The default limit on term pairs per layer for sharing subexpressions: seconds of
/// lowering for the models at hand.
pub const DEFAULT_SHARING_PAIRS: usize = 64_000_000;

/// Adder levels that fit one clock period, from a rough UltraScale+ delay model: about
/// 0.6 ns per carry-chain adder level, 1.5 ns for the rounding, the register and routing.
pub fn adder_levels_for_clock(clock_ns: f64) -> u32 {
    (((clock_ns - 1.5) / 0.6).floor() as i64).max(1) as u32
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Verilog backend cannot build this model: {0}")]
    Unsupported(String),
    #[error("reuse factor {reuse} is not legal for {reason}; legal values: {legal}")]
    IllegalReuseFactor { reuse: u32, reason: String, legal: String },
    #[error(
        "a reuse factor names layer '{layer}', which is not a dense or conv layer of the model (those are: {linear})"
    )]
    UnknownReuseLayer { layer: String, linear: String },
    #[error("a DSP budget applies to --multipliers auto, not {0}")]
    BudgetWithoutAuto(&'static str),
    #[error("cannot write {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
}

/// The generated design, in memory.
pub struct Design {
    /// (module name, Verilog source), the top first; each goes to `<name>.v`.
    pub modules: Vec<(String, String)>,
    pub latency: usize,
    /// Clocks between samples: the largest reuse factor.
    pub ii: usize,
    /// The reuse factor and latency of each dense or conv layer.
    pub layers: Vec<LayerReuse>,
    pub cost: Cost,
    pub register_bits: u64,
    /// Beat layouts, frame timing and buffers of a streamed design.
    pub stream: Option<StreamReport>,
}

/// Generates the Verilog of a quantized model.
pub fn generate(model: &QuantizedModel, options: &Options) -> Result<Design, Error> {
    match options.io {
        Io::Parallel => top::generate(model, options),
        Io::Stream => {
            if options.reuse.default != 1 || !options.reuse.layers.is_empty() {
                return Err(Error::Unsupported(
                    "a streamed design shares its multipliers over the pixels already; leave out the reuse factor"
                        .into(),
                ));
            }
            let (mut design, report) = stream::generate(model, options)?;
            design.stream = Some(report);
            Ok(design)
        }
    }
}
