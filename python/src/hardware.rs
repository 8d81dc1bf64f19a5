//! lower and simulate: a model (an ONNX file or a model directory) to the quantized IR, a
//! Verilog or HLS build directory, or its bit-exact outputs.

use crate::arrays;
use crate::errors::{in_context, said, OrRaise};
use balerc_compiler::quant::precision_report;
use balerc_compiler::sim::{FloatProgram, Simulator};
use balerc_compiler::Lowered;
use balerc_io::atomic::AtomicDir;
use balerc_runtime::lowering::{batch_size, LowerRequest};
use numpy::PyReadonlyArrayDyn;
use pyo3::prelude::*;
use serde::Deserialize;
use std::path::PathBuf;

/// Which model, which part and which precision, as `balerc lower` takes them.
fn request(model: PathBuf, part: &str, precision: Option<&str>, config: Option<PathBuf>) -> PyResult<LowerRequest> {
    Ok(LowerRequest {
        model,
        part: part.parse().map_err(|e: String| said(e))?,
        precision: precision
            .map(|text| text.parse().map_err(|e| said(format!("precision '{text}': {e}"))))
            .transpose()?,
        config,
    })
}

/// What a build directory is written with: `balerc lower`'s hardware options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Hardware {
    top: String,
    multipliers: String,
    dsp_cost: u32,
    dsp_budget: Option<u64>,
    clock_ns: f64,
    reuse_factor: u32,
    sharing_pairs: usize,
    io: String,
    fpga_part: String,
    adder_levels_per_stage: Option<u32>,
}

impl Default for Hardware {
    fn default() -> Hardware {
        Hardware {
            top: "balerc_top".into(),
            multipliers: "auto".into(),
            dsp_cost: balerc_verilog::DEFAULT_DSP_COST,
            dsp_budget: None,
            clock_ns: 5.0,
            reuse_factor: 1,
            sharing_pairs: balerc_verilog::DEFAULT_SHARING_PAIRS,
            io: "parallel".into(),
            fpga_part: "xcvu9p-flga2104-2L-e".into(),
            adder_levels_per_stage: None,
        }
    }
}

/// Lowers a model; with a target, writes the build directory `out`, whole or not at all.
/// Returns the per-layer precision table.
#[pyfunction]
#[pyo3(signature = (model, part="full", precision=None, config=None, calibration=None, target=None, out=None, hardware="{}"))]
#[allow(clippy::too_many_arguments)]
pub fn lower(
    py: Python<'_>,
    model: PathBuf,
    part: &str,
    precision: Option<&str>,
    config: Option<PathBuf>,
    calibration: Option<PyReadonlyArrayDyn<'_, f64>>,
    target: Option<&str>,
    out: Option<PathBuf>,
    hardware: &str,
) -> PyResult<String> {
    let request = request(model, part, precision, config)?;
    let calibration = calibration.map(|a| arrays::shape_and_values(&a)).transpose()?.map(|(_, values)| values);
    let hardware: Hardware = serde_json::from_str(hardware).map_err(|e| said(format!("hardware settings: {e}")))?;
    let target = match (target, &out) {
        (None, _) => None,
        (Some(_), None) => return Err(said("a target needs out, the build directory to write")),
        (Some(t @ ("verilog" | "hls")), Some(_)) => Some(t.to_string()),
        (Some(other), Some(_)) => return Err(said(format!("unknown target '{other}' (expected verilog or hls)"))),
    };
    py.detach(|| {
        // Checked before the work: a directory that is not a build is never replaced.
        let build = out.as_deref().filter(|_| target.is_some()).map(|dir| AtomicDir::create(dir, "report.json"));
        let build = build.transpose().or_raise()?;
        let lowered = request.lower(calibration.clone()).or_raise()?;
        let table = precision_report(&lowered.graph, &lowered.model, &lowered.precision, calibration.as_deref())
            .or_raise()?
            .to_string();
        if let (Some(target), Some(build)) = (target.as_deref(), build) {
            write_build(&lowered, target, &hardware, build)?;
        }
        Ok(table)
    })
}

fn write_build(lowered: &Lowered, target: &str, hardware: &Hardware, build: AtomicDir) -> PyResult<()> {
    let io: balerc_verilog::Io = hardware.io.parse().map_err(said)?;
    let layer_reuse = lowered.precision.reuse_factors();
    match target {
        "hls" => {
            if let Some(layer) = layer_reuse.keys().next() {
                return Err(said(format!("the precision file sets a reuse factor for layer '{layer}'; per-layer reuse factors apply to --target verilog (HLS takes one --reuse-factor)")));
            }
            let options = balerc_hls::Options {
                top: hardware.top.clone(),
                part: hardware.fpga_part.clone(),
                clock_ns: hardware.clock_ns,
                reuse_factor: hardware.reuse_factor,
                io,
            };
            balerc_hls::write_project(&lowered.model, &options, build.path()).or_raise()?;
        }
        _ => {
            let options = balerc_verilog::Options {
                top: hardware.top.clone(),
                multipliers: hardware.multipliers.parse().map_err(said)?,
                dsp: balerc_verilog::DspPolicy { lut_cost: hardware.dsp_cost, budget: hardware.dsp_budget },
                clock_ns: hardware.clock_ns,
                sharing_pairs: hardware.sharing_pairs,
                reuse: balerc_verilog::ReuseFactors { default: hardware.reuse_factor, layers: layer_reuse },
                io,
                adder_levels_per_stage: Some(
                    hardware
                        .adder_levels_per_stage
                        .unwrap_or_else(|| balerc_verilog::adder_levels_for_clock(hardware.clock_ns)),
                ),
            };
            balerc_verilog::write_project(&lowered.model, &options, build.path()).or_raise()?;
        }
    }
    build.commit().or_raise()
}

/// What a simulation gives: values, or the raw integer codes.
enum Outputs {
    Values(Vec<f64>),
    Codes(Vec<i64>),
}

/// Runs a model on a batch bit-exactly (the output values, or with `raw` their int64 codes),
/// or with `float` in floating point. Returns an array of the model's output shape with the
/// batch first.
#[pyfunction]
#[pyo3(signature = (model, values, part="full", precision=None, config=None, raw=false, float=false))]
#[allow(clippy::too_many_arguments)]
pub fn simulate<'py>(
    py: Python<'py>,
    model: PathBuf,
    values: PyReadonlyArrayDyn<'py, f64>,
    part: &str,
    precision: Option<&str>,
    config: Option<PathBuf>,
    raw: bool,
    float: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if raw && float {
        return Err(said("raw codes come from the fixed-point simulation: give raw or float, not both"));
    }
    let request = request(model, part, precision, config)?;
    let (shape, x) = arrays::shape_and_values(&values)?;
    let (out_shape, outputs) = py.detach(|| -> PyResult<_> {
        let lowered = request.lower(None).or_raise()?;
        let batch = batch_size(&shape, lowered.model.input().len()).map_err(|e| in_context("input array", &e))?;
        let mut out_shape = vec![batch];
        out_shape.extend(&lowered.model.output().shape);
        if float {
            let program = FloatProgram::new(&lowered.graph).or_raise()?;
            return Ok((out_shape, Outputs::Values(program.run(&x))));
        }
        let simulator = Simulator::new(&lowered.model);
        let codes = simulator.quantize_input(&x).map_err(|e| in_context("input array", &e))?;
        let y = simulator.run(&codes);
        Ok((out_shape, if raw { Outputs::Codes(y) } else { Outputs::Values(lowered.model.output_values(&y)) }))
    })?;
    Ok(match outputs {
        Outputs::Values(y) => arrays::to_numpy(py, &out_shape, y)?.into_any(),
        Outputs::Codes(y) => arrays::to_numpy(py, &out_shape, y)?.into_any(),
    })
}
