//! The build directory: sources, test data, reports.

use crate::templates::{render, Readme};
use crate::{generate, Error, Options};
use balerc_compiler::quant::model::LayerOp;
use balerc_compiler::quant::QuantizedModel;
use balerc_compiler::sim::Simulator;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Port {
    pub count: usize,
    #[serde(rename = "type")]
    pub ty: String,
}

/// `report.json`: the contract fields. The latency is balerc's estimate (see
/// [`latency_cycles`](crate::latency_cycles)); `csynth_design` reports the scheduled one.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub top: String,
    pub target: &'static str,
    pub input: Port,
    pub output: Port,
    pub latency_cycles: usize,
    /// Clocks between samples: the reuse factor.
    pub ii: usize,
    pub clock_ns: f64,
    pub part: String,
    /// parallel: a sample per call; stream: a frame per call, a beat at a time.
    pub io: balerc_compiler::stream::Io,
    /// The beats of a streamed project, as its test bench sends and reads them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamLayout>,
    pub resources: Resources,
}

/// A streamed project's beats.
#[derive(Debug, Clone, Serialize)]
pub struct StreamLayout {
    pub input_beat: BeatCount,
    pub output_beat: BeatCount,
}

/// Elements per beat and beats per frame; element c of beat p is tensor element c * beats + p.
#[derive(Debug, Clone, Serialize)]
pub struct BeatCount {
    pub elements: usize,
    pub beats: usize,
}

/// What the design holds before synthesis decides how to build it.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// Products by non-zero constant weights (the multiplications synthesis must build).
    pub multiplications: u64,
    /// Constant codes: weights, biases, scales, shifts, table entries.
    pub constants: u64,
}

fn write(path: PathBuf, text: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io { path: parent.to_path_buf(), source })?;
    }
    std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
}

/// Vectors of input codes for the project's default test data: all-minimum, all-maximum,
/// all-zero, alternating extremes, then `count - 5` pseudo-random codes (deterministic).
pub fn default_vectors(model: &QuantizedModel, count: usize) -> Vec<Vec<i64>> {
    let ty = model.input().ty;
    let n = model.input().len();
    let (min, max) = (ty.min_code(), ty.max_code());
    let mut vectors = vec![
        vec![min; n],
        vec![max; n],
        vec![0; n],
        (0..n).map(|i| if i % 2 == 0 { min } else { max }).collect(),
        (0..n).map(|i| if i % 2 == 0 { max } else { min }).collect(),
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let span = (max as i128 - min as i128 + 1) as u128;
    while vectors.len() < count {
        vectors.push(
            (0..n)
                .map(|_| {
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                    (min as i128 + (r as u128 % span) as i128) as i64
                })
                .collect(),
        );
    }
    vectors.truncate(count);
    vectors
}

/// Writes `tb_data/inputs.txt` (the given input codes) and `tb_data/expected.txt` (the
/// bit-exact simulator's output codes for them), one vector per line.
pub fn write_test_data(model: &QuantizedModel, vectors: &[Vec<i64>], dir: &Path) -> Result<(), Error> {
    let n_in = model.input().len();
    let n_out = model.output().len();
    if let Some((k, v)) = vectors.iter().enumerate().find(|(_, v)| v.len() != n_in) {
        return Err(Error::Unsupported(format!("test vector {k} has {} codes, the input has {n_in}", v.len())));
    }
    let flat: Vec<i64> = vectors.iter().flatten().copied().collect();
    let output = Simulator::new(model).run(&flat);
    let lines = |codes: &[i64], width: usize| {
        let mut text = String::with_capacity(codes.len() * 6);
        for row in codes.chunks(width.max(1)) {
            let strs: Vec<String> = row.iter().map(i64::to_string).collect();
            text.push_str(&strs.join(" "));
            text.push('\n');
        }
        text
    };
    write(dir.join("tb_data/inputs.txt"), &lines(&flat, n_in))?;
    write(dir.join("tb_data/expected.txt"), &lines(&output, n_out))
}

/// A streamed project's beats, its slowest stage's clocks per frame and its stage count.
fn stream_layout(model: &QuantizedModel, options: &Options) -> Result<Option<(StreamLayout, usize, usize)>, Error> {
    if options.io != balerc_compiler::stream::Io::Stream {
        return Ok(None);
    }
    let plan = balerc_compiler::stream::plan(model).map_err(|e| Error::Unsupported(e.to_string()))?;
    let count =
        |s: &balerc_compiler::stream::Stream| BeatCount { elements: s.beat.channels, beats: s.beat.per_frame() };
    let clocks = plan.stages.iter().map(balerc_compiler::stream::Stage::clocks_per_frame).max().unwrap_or(1);
    let layout = StreamLayout { input_beat: count(&plan.input), output_beat: count(&plan.output) };
    Ok(Some((layout, clocks, plan.stages.len())))
}

fn resources(model: &QuantizedModel) -> Resources {
    let (mut multiplications, mut constants) = (0u64, 0u64);
    for layer in &model.layers {
        match &layer.op {
            LayerOp::Dense { linear, .. } => {
                multiplications += linear.weight.codes.iter().filter(|&&w| w != 0).count() as u64;
                constants += (linear.weight.codes.len() + linear.bias.codes.len()) as u64;
            }
            LayerOp::Conv { linear, taps, .. } => {
                multiplications +=
                    taps.entries.iter().filter(|&&(_, w)| linear.weight.codes[w as usize] != 0).count() as u64;
                constants += (linear.weight.codes.len() + linear.bias.codes.len()) as u64;
            }
            LayerOp::Affine { scale, shift, .. } => {
                multiplications += model.values[layer.output].len() as u64;
                constants += (scale.codes.len() + shift.codes.len()) as u64;
            }
            LayerOp::Table { entries, .. } => constants += entries.len() as u64,
            LayerOp::PRelu { alphas, .. } => {
                multiplications += model.values[layer.output].len() as u64;
                constants += alphas.codes.len() as u64;
            }
            LayerOp::Relu
            | LayerOp::LeakyRelu { .. }
            | LayerOp::Clip { .. }
            | LayerOp::MaxPool { .. }
            | LayerOp::Add { .. }
            | LayerOp::Concat
            | LayerOp::Reshape => {}
        }
    }
    Resources { multiplications, constants }
}

/// Writes the HLS project into `dir`: `firmware/`, `<top>_test.cpp`, `tb_data/` (64
/// default vectors; replace them with [`write_test_data`]), `build_prj.tcl`,
/// `report.json`, `quantized.json` (the model the test data comes from) and `README.md`.
pub fn write_project(model: &QuantizedModel, options: &Options, dir: &Path) -> Result<Report, Error> {
    let project = generate(model, options)?;
    for (path, text) in &project.files {
        write(dir.join(path), text)?;
    }
    write_test_data(model, &default_vectors(model, 64), dir)?;
    let stream = stream_layout(model, options)?;
    // A streamed project's pace is its slowest stage's clocks per frame; the frame then
    // passes the other stages' pipelines once (an estimate, as for parallel projects).
    let (latency_cycles, ii) = match &stream {
        Some((_, clocks, stages)) => (clocks + stages, *clocks),
        None => (crate::latency_cycles(model, options)?, options.reuse_factor as usize),
    };
    let report = Report {
        top: options.top.clone(),
        target: "hls",
        input: Port { count: model.input().len(), ty: model.input().ty.to_string() },
        output: Port { count: model.output().len(), ty: model.output().ty.to_string() },
        latency_cycles,
        ii,
        clock_ns: options.clock_ns,
        part: options.part.clone(),
        io: options.io,
        stream: stream.map(|(layout, _, _)| layout),
        resources: resources(model),
    };
    write(dir.join("report.json"), &serde_json::to_string_pretty(&report).expect("serializable"))?;
    write(dir.join("quantized.json"), &serde_json::to_string(model).expect("serializable"))?;
    let readme = Readme { top: &report.top, model_name: &model.name, report: &report };
    write(dir.join("README.md"), &render(&readme))?;
    Ok(report)
}
