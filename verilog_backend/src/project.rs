//! The build directory a user takes into Vivado: RTL, report, constraints, IP packaging.

use crate::{generate, Cost, Error, Multipliers, Options};
use balerc_compiler::quant::QuantizedModel;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Port {
    pub count: usize,
    #[serde(rename = "type")]
    pub ty: String,
}

/// `report.json`: the contract fields plus what the hardware costs.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub top: String,
    pub target: &'static str,
    pub input: Port,
    pub output: Port,
    pub latency_cycles: usize,
    pub ii: usize,
    pub clock_ns: f64,
    pub multipliers: Multipliers,
    pub resources: Resources,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    pub adders: u64,
    pub adder_bits: u64,
    pub register_bits: u64,
}

fn write(path: PathBuf, text: &str) -> Result<(), Error> {
    std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
}

/// Writes `rtl/<module>.v` for every module, `report.json`, `constraints.xdc` and `quantized.json` (the
/// model the simulator checks the RTL against) into `dir`.
pub fn write_project(model: &QuantizedModel, options: &Options, dir: &Path) -> Result<Report, Error> {
    let design = generate(model, options)?;
    let rtl = dir.join("rtl");
    std::fs::create_dir_all(&rtl).map_err(|source| Error::Io { path: rtl.clone(), source })?;
    for (name, text) in &design.modules {
        write(rtl.join(format!("{name}.v")), text)?;
    }
    let report = Report {
        top: options.top.clone(),
        target: "verilog",
        input: Port { count: model.input().len(), ty: model.input().ty.to_string() },
        output: Port { count: model.output().len(), ty: model.output().ty.to_string() },
        latency_cycles: design.latency,
        ii: 1,
        clock_ns: options.clock_ns,
        multipliers: options.multipliers,
        resources: resources(design.cost, design.register_bits),
    };
    write(dir.join("report.json"), &serde_json::to_string_pretty(&report).expect("serializable"))?;
    write(dir.join("quantized.json"), &serde_json::to_string(model).expect("serializable"))?;
    write(
        dir.join("constraints.xdc"),
        &format!("create_clock -name clk -period {:.3} [get_ports clk]\n", options.clock_ns),
    )?;
    Ok(report)
}

fn resources(cost: Cost, register_bits: u64) -> Resources {
    Resources { adders: cost.adders, adder_bits: cost.adder_bits, register_bits }
}
