//! balerc's HLS backend: a Vivado/Vitis HLS C++ project for a quantized model.
//!
//! The project prints what the quantized IR says, nothing more: every tensor's
//! `ap_fixed` type as [`FixedType`](balerc_compiler::fixed::FixedType) spells it, every
//! weight, bias, alpha and table entry as its exact integer code (turned into the fixed
//! type by bit reinterpretation), and one compact kernel call per layer. The generated
//! test bench compares the C++ against codes from the bit-exact simulator.
//!
//! Layout of a build directory:
//! ```text
//! firmware/defines.h         input_t, result_t, one typedef per tensor/weight/bias/accumulator
//! firmware/parameters.h      weights, biases, tables, conv tap tables as integer arrays
//! firmware/balerc_layers.h   the kernels (dense, conv, affine, activations, table, copy)
//! firmware/<top>.h / .cpp    void <top>(input_t x[N_IN], result_t y[N_OUT])
//! <top>_test.cpp             reads tb_data/inputs.txt, compares with tb_data/expected.txt
//! tb_data/                   input codes and the simulator's output codes, one vector a line
//! build_prj.tcl              vitis_hls / vivado_hls: csim, csynth, cosim, export
//! report.json, quantized.json, README.md
//! ```
//! Every generated file is an askama template in `templates/` that prints a view
//! (`src/view.rs`, `src/layer_view.rs`): the names, types, codes, dimensions and pragmas
//! are computed in Rust, the templates hold the layout only. The kernel header is a
//! static file.

mod join_view;
mod latency;
mod layer_view;
mod project;
mod reuse;
mod stream_view;
mod templates;
mod view;

pub use latency::{latency_cycles, layer_cycles};
pub use project::{default_vectors, write_project, write_test_data, Port, Report, Resources};
pub use reuse::legal_reuse_factors;

use balerc_compiler::quant::QuantizedModel;

#[derive(Debug, Clone)]
pub struct Options {
    /// The top function's name (a C identifier).
    pub top: String,
    /// The FPGA part for `set_part`.
    pub part: String,
    /// Target clock period for `create_clock`.
    pub clock_ns: f64,
    /// Cycles each multiplier is shared over (1: fully parallel, a new sample every
    /// clock; R: a new sample every R clocks with 1/R of the multipliers).
    pub reuse_factor: u32,
    /// Whole samples per call, or frames streamed a beat at a time through `hls::stream`.
    pub io: balerc_compiler::stream::Io,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            top: "balerc_top".into(),
            part: "xcvu9p-flga2104-2L-e".into(),
            clock_ns: 5.0,
            reuse_factor: 1,
            io: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the HLS backend cannot build this model: {0}")]
    Unsupported(String),
    #[error("cannot write {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
}

/// The generated C++ project, in memory: (path relative to the build directory, text).
pub struct Project {
    pub files: Vec<(String, String)>,
}

/// Generates the firmware, the test bench and the Tcl script of a quantized model
/// (everything but the test data and the reports).
pub fn generate(model: &QuantizedModel, options: &Options) -> Result<Project, Error> {
    use templates::{
        render, BuildTcl, DefinesH, ParametersH, StreamTestBench, StreamTopCpp, TestBench, TopCpp, TopH, LAYERS_H,
    };
    let p = &view::project_view(model, options)?;
    let top = &options.top;
    let (top_cpp, test_bench) = match &p.stream {
        Some(s) => (render(&StreamTopCpp { p, s }), render(&StreamTestBench { top })),
        None => (render(&TopCpp { p }), render(&TestBench { top })),
    };
    let files = vec![
        ("firmware/defines.h".to_string(), render(&DefinesH { p })),
        ("firmware/parameters.h".to_string(), render(&ParametersH { p })),
        ("firmware/balerc_layers.h".to_string(), LAYERS_H.to_string()),
        (format!("firmware/{top}.h"), render(&TopH { p })),
        (format!("firmware/{top}.cpp"), top_cpp),
        (format!("{top}_test.cpp"), test_bench),
        ("build_prj.tcl".to_string(), render(&BuildTcl { top, part: &options.part, clock_ns: options.clock_ns })),
    ];
    Ok(Project { files })
}

#[cfg(test)]
mod tests;
