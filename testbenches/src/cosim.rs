//! Co-simulation of a build directory: the generated RTL and the Rust simulator run on
//! the same vectors, and every output code must agree.

use crate::rtl::{
    run_iverilog, run_stream_iverilog, Pressure, RtlDesign, StreamDesign, StreamVerilatorBench, VerilatorBench,
};
use crate::vectors::input_vectors;
use balerc_compiler::quant::QuantizedModel;
use balerc_compiler::sim::Simulator;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    #[default]
    Verilator,
    Iverilog,
    /// g++ C simulation of an HLS build.
    Gxx,
}

impl std::str::FromStr for Tool {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "verilator" => Ok(Tool::Verilator),
            "iverilog" => Ok(Tool::Iverilog),
            "gxx" | "g++" => Ok(Tool::Gxx),
            _ => Err(format!("unknown simulator '{s}' (expected verilator, iverilog or gxx)")),
        }
    }
}

pub struct CosimOptions {
    pub vectors: usize,
    pub tool: Tool,
    /// Real samples (floats, one after another) to include, quantized like the input.
    pub data: Option<Vec<f64>>,
    pub seed: u64,
}

#[derive(Debug)]
pub struct Mismatch {
    pub vector: usize,
    pub element: usize,
    pub hardware: i64,
    pub simulator: i64,
}

#[derive(Debug)]
pub struct CosimOutcome {
    pub vectors: usize,
    /// The mismatches found (for C simulation, the first ones its test bench printed).
    pub mismatches: Vec<Mismatch>,
    /// All output codes that differ.
    pub differing_codes: usize,
    pub build_seconds: f64,
    pub run_seconds: f64,
}

/// The parts of `report.json` co-simulation needs.
#[derive(Deserialize)]
struct Report {
    top: String,
    latency_cycles: usize,
    /// Absent from builds written before designs could fold.
    #[serde(default = "one")]
    ii: usize,
    /// "stream" for designs that take pixels one per beat; absent before they could.
    #[serde(default)]
    io: Option<String>,
    stream: Option<StreamLayout>,
}

/// The beat layouts of a streamed build.
#[derive(Deserialize)]
struct StreamLayout {
    input_beat: BeatLayout,
    output_beat: BeatLayout,
}

/// How a streamed build's port carries a frame.
#[derive(Debug, Clone, Deserialize)]
pub struct BeatLayout {
    /// Elements per beat.
    pub elements: usize,
    /// Beats per frame.
    pub beats: usize,
}

impl BeatLayout {
    /// A frame's codes (channel first) as beats: beat p holds element c * beats + p.
    pub fn beats(&self, frame: &[i64]) -> Vec<Vec<i64>> {
        (0..self.beats).map(|p| (0..self.elements).map(|c| frame[c * self.beats + p]).collect()).collect()
    }

    /// A frame's codes (channel first) from its beats: the inverse of `beats`.
    pub fn frame(&self, beats: &[Vec<i64>]) -> Vec<i64> {
        let mut frame = vec![0; self.elements * self.beats];
        for (p, beat) in beats.iter().enumerate() {
            for (c, &code) in beat.iter().enumerate() {
                frame[c * self.beats + p] = code;
            }
        }
        frame
    }
}

fn read_report(dir: &Path) -> Result<Report, String> {
    serde_json::from_str(&read(&dir.join("report.json"))?)
        .map_err(|e| format!("{}: {e}", dir.join("report.json").display()))
}

fn one() -> usize {
    1
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Loads the design and the quantized model a build directory holds.
pub fn load_build(dir: &Path) -> Result<(RtlDesign, QuantizedModel), String> {
    let report = read_report(dir)?;
    let model = read_model(dir)?;
    let sources = sources(dir)?;
    let (input, output) = (model.input(), model.output());
    let design = RtlDesign {
        sources,
        top: report.top,
        inputs: input.len(),
        input_width: input.ty.width,
        input_signed: input.ty.signed,
        outputs: output.len(),
        output_width: output.ty.width,
        output_signed: output.ty.signed,
        latency: report.latency_cycles,
        ii: report.ii,
    };
    Ok((design, model))
}

/// The input and output beat layouts of a streamed build.
pub fn stream_layouts(dir: &Path) -> Result<(BeatLayout, BeatLayout), String> {
    let report = read_report(dir)?;
    let layout = report.stream.ok_or_else(|| format!("{} does not describe a streamed design", dir.display()))?;
    Ok((layout.input_beat, layout.output_beat))
}

/// Whether a build directory holds a streamed design.
pub fn is_stream_build(dir: &Path) -> Result<bool, String> {
    Ok(read_report(dir)?.io.as_deref() == Some("stream"))
}

/// The streamed design of a build directory and the model it computes.
pub fn load_stream_build(dir: &Path) -> Result<(StreamDesign, QuantizedModel), String> {
    let report = read_report(dir)?;
    let Some(layout) = &report.stream else {
        return Err(format!("{} does not describe a streamed design", dir.join("report.json").display()));
    };
    let model = read_model(dir)?;
    let (input, output) = (model.input().ty, model.output().ty);
    let design = StreamDesign {
        sources: sources(dir)?,
        top: report.top.clone(),
        in_elements: layout.input_beat.elements,
        input_width: input.width,
        input_signed: input.signed,
        out_elements: layout.output_beat.elements,
        output_width: output.width,
        output_signed: output.signed,
    };
    Ok((design, model))
}

fn sources(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rtl = dir.join("rtl");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&rtl)
        .map_err(|e| format!("cannot list {}: {e}", rtl.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "v"))
        .collect();
    sources.sort();
    Ok(sources)
}

fn read_model(dir: &Path) -> Result<QuantizedModel, String> {
    serde_json::from_str(&read(&dir.join("quantized.json"))?)
        .map_err(|e| format!("{}: {e}", dir.join("quantized.json").display()))
}

/// The vectors of a run: corners, the given data as codes, random codes.
fn vectors(model: &QuantizedModel, options: &CosimOptions) -> Result<Vec<Vec<i64>>, String> {
    let simulator = Simulator::new(model);
    let data: Vec<Vec<i64>> = match &options.data {
        Some(samples) => {
            let codes = simulator.quantize_input(samples).map_err(|e| e.to_string())?;
            codes.chunks(simulator.input_len()).map(<[i64]>::to_vec).collect()
        }
        None => Vec::new(),
    };
    Ok(input_vectors(model.input().ty, model.input().len(), options.vectors, &data, options.seed))
}

/// C simulation of an HLS build with g++: the test data is rewritten from the vectors
/// and the generated test bench compares the codes.
fn cosim_hls(dir: &Path, options: &CosimOptions) -> Result<CosimOutcome, String> {
    let model = read_model(dir)?;
    let vectors = vectors(&model, options)?;
    balerc_hls::write_test_data(&model, &vectors, dir).map_err(|e| e.to_string())?;
    let include = crate::ap_types::include_dir().map_err(|e| e.to_string())?;
    let outcome = crate::hls::csim(dir, &include)?;
    Ok(CosimOutcome {
        vectors: outcome.vectors,
        mismatches: outcome.mismatches,
        differing_codes: outcome.mismatch_count,
        build_seconds: outcome.compile_seconds,
        run_seconds: outcome.run_seconds,
    })
}

pub fn cosim(dir: &Path, options: &CosimOptions) -> Result<CosimOutcome, String> {
    if options.tool == Tool::Gxx {
        return cosim_hls(dir, options);
    }
    if is_stream_build(dir)? {
        return cosim_stream(dir, options);
    }
    let (design, model) = load_build(dir)?;
    let simulator = Simulator::new(&model);
    let vectors = vectors(&model, options)?;
    let expected = simulator.run(&vectors.concat());
    let work = dir.join("cosim");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let started = Instant::now();
    let (hardware, build_seconds) = match options.tool {
        Tool::Verilator => {
            let bench = VerilatorBench::build(&design, &work)?;
            let built = started.elapsed().as_secs_f64();
            (bench.run(&vectors)?, built)
        }
        Tool::Iverilog => (run_iverilog(&design, &work, &vectors)?, 0.0),
        Tool::Gxx => unreachable!("handled above"),
    };
    let run_seconds = started.elapsed().as_secs_f64() - build_seconds;
    Ok(outcome(&hardware, &expected, simulator.output_len(), build_seconds, run_seconds))
}

/// Every output code of the hardware (one vector a frame) against the simulator's.
fn outcome(
    hardware: &[Vec<i64>],
    expected: &[i64],
    n_out: usize,
    build_seconds: f64,
    run_seconds: f64,
) -> CosimOutcome {
    let mut mismatches = Vec::new();
    for (v, got) in hardware.iter().enumerate() {
        for (element, (&h, &s)) in got.iter().zip(&expected[v * n_out..(v + 1) * n_out]).enumerate() {
            if h != s {
                mismatches.push(Mismatch { vector: v, element, hardware: h, simulator: s });
            }
        }
    }
    CosimOutcome { vectors: hardware.len(), differing_codes: mismatches.len(), mismatches, build_seconds, run_seconds }
}

/// The beats back-pressure shapes in a streamed co-simulation: input offered in 3 clocks of
/// 4, output taken in 2 of 3, a pattern drawn from the run's seed.
fn stream_pressure(seed: u64) -> Pressure {
    Pressure { offer_percent: 75, take_percent: 66, seed }
}

/// Co-simulation of a streamed build: every vector a frame of beats, under random
/// back-pressure at both ends; every output beat must equal the simulator's codes.
fn cosim_stream(dir: &Path, options: &CosimOptions) -> Result<CosimOutcome, String> {
    let report = read_report(dir)?;
    let layout = report.stream.as_ref().ok_or_else(|| format!("{} has no stream layout", dir.display()))?;
    let (design, model) = load_stream_build(dir)?;
    let simulator = Simulator::new(&model);
    let vectors = vectors(&model, options)?;
    let expected = simulator.run(&vectors.concat());
    let beats: Vec<Vec<i64>> = vectors.iter().flat_map(|v| layout.input_beat.beats(v)).collect();
    let due = vectors.len() * layout.output_beat.beats;
    let work = dir.join("cosim");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let started = Instant::now();
    let pressure = stream_pressure(options.seed);
    let (run, build_seconds) = match options.tool {
        Tool::Verilator => {
            let bench = StreamVerilatorBench::build(&design, &work)?;
            let built = started.elapsed().as_secs_f64();
            (bench.run(&beats, due, pressure)?, built)
        }
        Tool::Iverilog => (run_stream_iverilog(&design, &work, &beats, due, pressure)?, 0.0),
        Tool::Gxx => unreachable!("handled by the caller"),
    };
    let run_seconds = started.elapsed().as_secs_f64() - build_seconds;
    if run.beats.len() != due {
        return Err(format!("design {}: {} output beats for {due} due", design.top, run.beats.len()));
    }
    let frames: Vec<Vec<i64>> =
        run.beats.chunks(layout.output_beat.beats).map(|b| layout.output_beat.frame(b)).collect();
    Ok(outcome(&frames, &expected, simulator.output_len(), build_seconds, run_seconds))
}
